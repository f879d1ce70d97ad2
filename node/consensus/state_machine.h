// Tendermint consensus, Algorithm 1 of "The latest gossip on BFT consensus" (Buchman, Kwon,
// Milosevic, arXiv:1807.04938), as a pure state machine for one validator (or an observer that
// does not vote). The real node and the simulator drive this same code.
//
// Each call takes one event and returns the actions it caused. Rules are re-checked after every
// event until none fires, so the order in which messages arrive does not matter. Comments name
// the paper's line numbers.
//
// Differences from the paper, none of them affecting its proofs:
// - A height may start idle: the proposer waits with its proposal and no propose timeout runs
//   until Activate() (the driver: there are transactions, a contract is due, or the heartbeat
//   passed) or until any message of the height arrives. Idle chains send nothing.
// - Messages are bounded: one proposal per round, one vote per validator, round and kind (a
//   second vote for another block is evidence), rounds more than one ahead of ours
//   only for kFutureRoundsPerValidator rounds per validator, and the next height is buffered.
// - Votes are counted per block, an equivocator's other votes too, up to a bound (see Tally).
// - A whole commit certificate learned from a peer decides the height (OnCommit).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "node/consensus/types.h"
#include "node/consensus/validator_set.h"

namespace kontor::consensus {

class StateMachine {
 public:
  // `self`: this node's validator index, or nullopt for a node that only follows.
  StateMachine(const ValidatorSet& validators, std::optional<uint32_t> self, TimeoutParams timeouts);

  static constexpr size_t kFutureRoundsPerValidator = 2;
  static constexpr size_t kExtraVotesPerValidator = 2;  // an equivocator's other votes kept per round and kind

  // Enters `height` at round 0 (the driver calls it at start and after each Decide). Messages of
  // this height buffered earlier are replayed.
  Actions StartHeight(uint64_t height, bool active);
  // Ends the idle wait of round 0.
  Actions Activate();

  // A proposal whose signature the driver checked. Its block's verdict comes through OnBlock
  // (before or after).
  Actions OnProposal(const Proposal& proposal);
  // The driver's verdict on a block of the current height (decoded, checked against its header
  // and the state; time within bounds).
  Actions OnBlock(const Hash256& block, bool valid);
  // A vote whose signature the driver checked (this node's own votes come back through here).
  Actions OnVote(const Vote& vote);
  Actions OnTimeout(Step step, uint64_t height, uint32_t round);
  // A commit certificate for this height learned whole (from a peer that is ahead, or sync):
  // precommits whose signatures the driver checked. It decides the height once the block is
  // known valid, whatever this node's own tally holds (a validator that equivocated to this node
  // may have had its other vote counted here). Ignored unless the precommits are for `block` at
  // this height and round, from distinct validators, with more than 2/3 of the power.
  Actions OnCommit(uint32_t round, const Hash256& block, const std::vector<Vote>& precommits);

  uint64_t height() const { return height_; }
  uint32_t round() const { return round_; }
  Step step() const { return step_; }
  bool active() const { return active_; }
  bool decided() const { return decided_; }
  int32_t locked_round() const { return locked_round_; }
  const std::optional<Hash256>& locked_value() const { return locked_value_; }
  int32_t valid_round() const { return valid_round_; }
  const std::optional<Hash256>& valid_value() const { return valid_value_; }

  // For re-sending (reliable gossip): the messages of the current height this node holds.
  std::vector<Proposal> Proposals() const;
  std::vector<Vote> Votes() const;
  // Whether the current height has a proposal for `block` (so its block is wanted).
  bool Wants(const Hash256& block) const;

 private:
  // A round's votes of one kind. A validator counts once towards `power` (any vote), and towards
  // each block it voted for: an equivocator's other votes are evidence, and are also counted for
  // their blocks, because other validators may have counted them there (without that, a quorum
  // that includes the equivocator could never be seen here, and this node could not follow a
  // lock justified by it). Counting them cannot create two quorums for different blocks: that
  // needs more than 1/3 of the power to equivocate.
  struct Tally {
    std::map<uint32_t, Vote> by_validator;  // each validator's first vote
    std::vector<Vote> extra;                // equivocators' other votes (kExtraVotesPerValidator each)
    std::map<std::optional<Hash256>, uint64_t> power_for;
    uint64_t power = 0;
  };
  struct Round {
    std::optional<Proposal> proposal;
    Tally prevotes, precommits;
    std::set<uint32_t> senders;  // validators with any message in this round (line 55)
    uint64_t sender_power = 0;
    bool prevote_timeout_scheduled = false;    // line 34
    bool precommit_timeout_scheduled = false;  // line 47
    bool polka_done = false;                   // line 36
    bool block_requested = false;
  };
  struct Evidenced {
    uint32_t validator;
    uint32_t round;
    VoteKind kind;
    bool operator<(const Evidenced& o) const {
      return std::tie(validator, round, kind) < std::tie(o.validator, o.round, o.kind);
    }
  };

  void StartRound(uint32_t round, Actions& out);  // line 11
  void Evaluate(Actions& out);                     // re-checks the rules until none fires
  bool EvaluateOnce(Actions& out);
  void CastVote(VoteKind kind, std::optional<Hash256> block, Actions& out);
  // Accepts a message of the current height into its round; false if dropped.
  bool Admit(uint32_t round, uint32_t validator);
  std::optional<bool> Validity(const Hash256& block) const;
  Actions Buffer(const Proposal* p, const Vote* v);
  void Touch(Round& r, uint32_t validator);
  void WakeOnMessage(Actions& out);

  const ValidatorSet& validators_;
  const std::optional<uint32_t> self_;
  const TimeoutParams timeouts_;

  uint64_t height_ = 0;
  uint32_t round_ = 0;
  Step step_ = Step::kPropose;
  bool active_ = false;
  bool decided_ = false;
  std::optional<Hash256> locked_value_, valid_value_;
  int32_t locked_round_ = kNoRound, valid_round_ = kNoRound;
  std::map<uint32_t, Round> rounds_;
  std::unordered_map<Hash256, bool, Hash256Hasher> verdicts_;  // blocks of this height
  std::map<uint32_t, std::set<uint32_t>> future_rounds_;       // validator -> rounds > round_+1 it opened
  std::set<Evidenced> evidenced_;
  std::optional<action::Decide> learned_;  // a certificate from OnCommit, waiting for its block
  bool learned_requested_ = false;

  // The next height's messages, replayed by StartHeight (bounded like the current height's).
  std::vector<Proposal> next_proposals_;
  std::vector<Vote> next_votes_;
  std::map<uint32_t, size_t> next_counts_;  // validator -> buffered messages
};

}  // namespace kontor::consensus
