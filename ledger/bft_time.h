// BFT time: a block's time is the voting-power-weighted median of the timestamps of the
// precommits in its parent's commit certificate (docs/protocol.md "BFT time"). More than 2/3 of
// the power signed that commit, so validators with less than 1/3 cannot move the median outside
// the range of honest clocks. Height 1 has no parent commit: its time is the genesis time.
#pragma once

#include <cstdint>
#include <vector>

#include "kontor/v1/block.pb.h"
#include "ledger/genesis.h"
#include "ledger/result.h"

namespace kontor {

struct TimedVote {
  uint64_t timestamp_ms;
  uint64_t power;
  uint32_t validator;  // breaks ties, so the order is total
};

// Sorts by (timestamp, validator) and returns the first timestamp at which the power counted so
// far is more than half of the listed power. REQUIRES: votes not empty, distinct validators.
uint64_t WeightedMedianTime(std::vector<TimedVote> votes);

// The timestamp a validator puts in its precommit for a block of time `block_time_ms`: its own
// clock, but at least 1 ms after the block, so that BFT time always advances.
inline uint64_t PrecommitTime(uint64_t clock_ms, uint64_t block_time_ms) {
  return clock_ms > block_time_ms ? clock_ms : block_time_ms + 1;
}

// The time block `height` must have: the genesis time at height 1, else the weighted median of
// `last_commit`'s timestamps under the genesis validators' power. REQUIRES: last_commit passed
// VerifyCommit (its signers are distinct validators). kBadCommit if it has no signatures.
Result BftTime(const v1::Commit& last_commit, const Genesis& genesis, uint64_t height, uint64_t* time_ms);

}  // namespace kontor
