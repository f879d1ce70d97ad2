// Two-stage block pipeline: the stateless stage (signatures, decoding, tx root: parallel on
// the executor's pool) of block i+1 runs on a helper thread while the caller's stateful stage
// (execution, state root, commit: serial) handles block i. This keeps both cores busy during
// sync, import and replay, where blocks arrive faster than one at a time.
#pragma once

#include <functional>
#include <future>
#include <utility>

#include "ledger/executor.h"

namespace kontor {

// fetch(i, &block, &commit) -> Result loads block i (runs on the helper thread);
// stateful(i, verified) -> Result runs stage 2. Stops at the first error of any stage.
template <typename Fetch, typename Stateful>
Result RunPipelined(Executor& executor, size_t count, Fetch&& fetch, Stateful&& stateful) {
  if (count == 0) return Result::Ok();
  auto verify = [&executor, &fetch](size_t i) {
    auto out = std::make_unique<ExecutedBlock>();
    v1::Block block;
    v1::Commit commit;
    Result r = fetch(i, &block, &commit);
    if (r.ok()) r = executor.VerifyStateless(std::move(block), commit, out.get());
    return std::make_pair(std::move(r), std::move(out));
  };
  auto next = std::async(std::launch::async, verify, size_t{0});
  for (size_t i = 0; i < count; ++i) {
    auto [result, verified] = next.get();
    if (i + 1 < count) next = std::async(std::launch::async, verify, i + 1);
    Result r = result.ok() ? stateful(i, *verified) : result;
    if (!r.ok()) {
      if (i + 1 < count) next.wait();
      return r;
    }
  }
  return Result::Ok();
}

}  // namespace kontor
