#include "ledger/bft_time.h"

#include <algorithm>
#include <tuple>

namespace kontor {

uint64_t WeightedMedianTime(std::vector<TimedVote> votes) {
  std::sort(votes.begin(), votes.end(), [](const TimedVote& a, const TimedVote& b) {
    return std::tie(a.timestamp_ms, a.validator) < std::tie(b.timestamp_ms, b.validator);
  });
  unsigned __int128 total = 0;
  for (const TimedVote& v : votes) total += v.power;
  unsigned __int128 counted = 0;
  for (const TimedVote& v : votes) {
    counted += v.power;
    if (counted * 2 > total) return v.timestamp_ms;
  }
  return votes.empty() ? 0 : votes.back().timestamp_ms;
}

Result BftTime(const v1::Commit& last_commit, const Genesis& genesis, uint64_t height, uint64_t* time_ms) {
  if (height <= 1) {
    *time_ms = genesis.genesis_time_ms;
    return Result::Ok();
  }
  std::vector<TimedVote> votes;
  votes.reserve(last_commit.signatures_size());
  uint32_t index = 0;
  for (const auto& sig : last_commit.signatures()) {
    const Validator* v = sig.validator().size() == 32 ? genesis.FindValidator(Hash256::FromBytes(sig.validator())) : nullptr;
    if (!v) return {Code::kBadCommit, "last_commit names a key that is not a validator"};
    // Signatures are sorted by validator key, so the position orders ties like the key does.
    votes.push_back({sig.timestamp_ms(), v->power, index++});
  }
  if (votes.empty()) return {Code::kBadCommit, "last_commit has no signatures"};
  *time_ms = WeightedMedianTime(std::move(votes));
  return Result::Ok();
}

}  // namespace kontor
