#include "node/consensus/bft_time.h"

#include <algorithm>
#include <tuple>

namespace kontor::consensus {

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

}  // namespace kontor::consensus
