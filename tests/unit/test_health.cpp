// /healthz (node/http_server.cpp HealthReport): 200 only while the node commits blocks on time.
#include <catch2/catch.hpp>

#include "node/http_server.h"

using namespace kontor;
using namespace kontor::node;

namespace {
// A node whose tip (at `height`) it committed at its clock's `seen_ms`. The block's own time
// (BFT time, which lags a block behind and is the genesis time at height 1) plays no part.
Node::Status At(uint64_t height, uint64_t seen_ms) {
  Node::Status s;
  s.height = height;
  s.time_ms = 1;
  s.tip_seen_ms = seen_ms;
  return s;
}
}  // namespace

TEST_CASE("healthz: ok, stalled past the block age limit, cannot commit, stopping", "[health]") {
  int http = 0;
  const uint64_t t = 1'800'000'000'000;
  // A block exactly block_age_max_ms ago is still on time; one ms more is stalled.
  auto ok = HealthReport(At(7, t), "c", false, 90'000, t + 90'000, &http);
  CHECK(http == 200);
  CHECK(ok["status"] == "ok");
  CHECK(ok["block_age_ms"] == 90'000);
  auto late = HealthReport(At(7, t), "c", false, 90'000, t + 90'001, &http);
  CHECK(http == 503);
  CHECK(late["status"] == "stalled");
  CHECK(late["reason"].get<std::string>().find("no block for 90001 ms") != std::string::npos);
  // At height 0 there is no block to be late (a fresh chain waits for its first tx).
  HealthReport(At(0, t), "c", false, 90'000, t + 10'000'000, &http);
  CHECK(http == 200);
  // A clock behind the block's time is not a negative age.
  CHECK(HealthReport(At(7, t), "c", false, 90'000, t - 5, &http)["block_age_ms"] == 0);
  // Failing commits and shutting down are reported first, with a reason.
  Node::Status failing = At(7, t);
  failing.commit_failure = Result(Code::kStorage, "No space left on device");
  failing.commit_failures = 3;
  auto bad = HealthReport(failing, "c", false, 90'000, t + 1, &http);
  CHECK(http == 503);
  CHECK(bad["status"] == "cannot_commit");
  CHECK(bad["failed_attempts"] == 3);
  CHECK(bad["reason"].get<std::string>().find("No space left") != std::string::npos);
  auto stopping = HealthReport(At(7, t), "c", true, 90'000, t + 1, &http);
  CHECK(http == 503);
  CHECK(stopping["status"] == "stopping");
}
