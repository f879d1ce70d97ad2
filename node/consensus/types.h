// Consensus messages and the actions the state machine asks its driver to carry out.
//
// The state machine (state_machine.h) is pure: no I/O, threads, clock or randomness. Validators
// are named by their index in the ValidatorSet; signatures are opaque bytes the driver produced
// or checked before handing a message in. Values are blocks, named by their hash; whether a
// block is valid is the driver's verdict (OnBlock).
#pragma once

#include <cstdint>
#include <deque>
#include <iterator>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ledger/bytes.h"

namespace kontor::consensus {

// Numbered as kontor.v1.VoteType.
enum class VoteKind : uint8_t { kPrevote = 1, kPrecommit = 2 };
enum class Step : uint8_t { kPropose = 0, kPrevote = 1, kPrecommit = 2 };
inline constexpr int32_t kNoRound = -1;

const char* StepName(Step s);
const char* VoteKindName(VoteKind k);

struct Vote {
  VoteKind kind = VoteKind::kPrevote;
  uint64_t height = 0;
  uint32_t round = 0;
  std::optional<Hash256> block;  // nullopt: nil
  uint64_t timestamp_ms = 0;     // precommits: the signer's clock, input to BFT time
  uint32_t validator = 0;        // index in the validator set
  std::string signature;

  // Same height, round, kind, validator and block: the same vote for the algorithm (a re-signed
  // copy may differ in timestamp and signature).
  bool SameChoice(const Vote& o) const {
    return kind == o.kind && height == o.height && round == o.round && validator == o.validator && block == o.block;
  }
};

struct Proposal {
  uint64_t height = 0;
  uint32_t round = 0;
  int32_t pol_round = kNoRound;  // the round of the prevotes that justify re-proposing, or -1
  Hash256 block;
  uint64_t timestamp_ms = 0;  // the block's header time
  uint32_t proposer = 0;
  std::string signature;
};

// What the driver does for the state machine.
namespace action {

// Propose in (height, round): re-propose `block` (with pol_round), or when it is nullopt build a
// new block. The driver signs, broadcasts, and hands the proposal and its block back in.
struct Propose {
  uint64_t height;
  uint32_t round;
  int32_t pol_round;
  std::optional<Hash256> block;
};
// Sign and broadcast this vote (validator, timestamp and signature are the driver's), then hand
// it back in through OnVote. The driver refuses to sign a vote that conflicts with one it signed.
struct CastVote {
  VoteKind kind;
  uint64_t height;
  uint32_t round;
  std::optional<Hash256> block;
};
// Call OnTimeout(step, height, round) after delay_ms.
struct ScheduleTimeout {
  Step step;
  uint64_t height;
  uint32_t round;
  uint64_t delay_ms;
};
// The block is final: commit it with these precommits (more than 2/3 of the power), then call
// StartHeight(height + 1).
struct Decide {
  uint64_t height;
  uint32_t round;
  Hash256 block;
  std::vector<Vote> precommits;
};
// Two votes of one validator for one height, round and kind, for different blocks.
struct Evidence {
  Vote first;
  Vote second;
};
// More than 2/3 (decision) or 1/3 (a round ahead) vote for a block this node does not have:
// fetch it and hand in its verdict with OnBlock.
struct RequestBlock {
  uint64_t height;
  uint32_t round;
  Hash256 block;
};

}  // namespace action

using Action = std::variant<action::Propose, action::CastVote, action::ScheduleTimeout, action::Decide,
                            action::Evidence, action::RequestBlock>;
using Actions = std::vector<Action>;

// Carries out `actions` in order with `step`, which returns the actions an action caused (a
// driver hands its own votes back to the state machine); those run after the ones queued
// before them. Stops early when `keep_going` (if given) turns false.
template <class Step, class KeepGoing = bool (*)()>
void RunActions(Actions actions, Step&& step, KeepGoing keep_going = [] { return true; }) {
  std::deque<Action> todo(std::make_move_iterator(actions.begin()), std::make_move_iterator(actions.end()));
  while (!todo.empty() && keep_going()) {
    Action a = std::move(todo.front());
    todo.pop_front();
    for (Action& more : step(a)) todo.push_back(std::move(more));
  }
}

// Timeouts grow linearly with the round (Algorithm 1's timeoutX(r)).
struct TimeoutParams {
  uint64_t propose_ms = 3000, propose_delta_ms = 500;
  uint64_t prevote_ms = 1000, prevote_delta_ms = 500;
  uint64_t precommit_ms = 1000, precommit_delta_ms = 500;

  uint64_t For(Step step, uint32_t round) const;
};

}  // namespace kontor::consensus
