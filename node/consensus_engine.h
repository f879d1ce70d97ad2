// The consensus engine: node/consensus/'s pure state machine wired to a chain, a key, the sign
// guard and the outside world (EngineHost: clock, timers, peers, mempool). It checks every
// message it is given (chain id, signer, signature, block against its header and the state)
// before the state machine sees it, builds and signs proposals and votes, and commits decided
// blocks with the certificate the state machine collected.
//
// Not thread-safe: one thread calls it (the node's consensus thread; tests call it directly).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kontor/v1/consensus.pb.h"
#include "ledger/chain.h"
#include "node/consensus/state_machine.h"
#include "node/sign_guard.h"

namespace kontor::node {

class EngineHost {
 public:
  virtual ~EngineHost() = default;
  virtual uint64_t NowMs() = 0;
  // Sends to every peer (the engine hands its own messages to itself).
  virtual void Broadcast(const v1::ConsensusMessage& message) = 0;
  // Calls ConsensusEngine::OnTimeout(step, height, round) after delay_ms.
  virtual void ScheduleTimeout(uint64_t delay_ms, consensus::Step step, uint64_t height, uint32_t round) = 0;
  // Tx envelopes for a new block, in the order to try them.
  virtual std::vector<std::string> Candidates() = 0;
  // A block was committed (the chain's tip now); `rejected` are candidates that failed in it
  // when this node built it.
  virtual void Committed(const ExecutedBlock& block, const std::vector<RejectedTx>& rejected) = 0;
  virtual void Evidence(const v1::DuplicateVoteEvidence& evidence) = 0;
  // The engine lacks the block `hash` of `height` that more than 1/3 or 2/3 voted for.
  virtual void WantBlock(uint64_t height, const Hash256& hash) = 0;
};

struct EngineOptions {
  consensus::TimeoutParams timeouts;
  uint64_t max_clock_ahead_ms = 10'000;  // a proposal's time may lead this node's clock by this
};

class ConsensusEngine {
 public:
  // `key` and `guard`: this node's validator key and sign guard, or null for a node that follows.
  static Result Make(const EngineOptions& options, Chain& chain, const PrivateKey* key, SignGuard* guard,
                     EngineHost& host, std::unique_ptr<ConsensusEngine>* out);

  // Enters the height after the chain's tip, idle until Activate (or a peer's message).
  void Start();
  // Work is waiting (txs, a due agenda event, the heartbeat): end the idle wait.
  void Activate();
  void OnTimeout(consensus::Step step, uint64_t height, uint32_t round);
  // A message from a peer (or this node's own, handed back). Errors mean the sender misbehaved
  // or sent something useless (for the peer's misbehaviour score); nothing is changed then.
  Result OnMessage(const v1::ConsensusMessage& message);

  // Reliable gossip: this height's proposals (with their blocks) and votes, for the host to send
  // again now and then (a peer may have missed them).
  std::vector<v1::ConsensusMessage> Resend() const;
  // For a peer still at `height` (below this node's): the block and certificate it lacks.
  Result CommitFor(uint64_t height, v1::ConsensusMessage* out) const;

  uint64_t height() const { return sm_->height(); }
  const consensus::StateMachine& state_machine() const { return *sm_; }
  const consensus::ValidatorSet& validators() const { return set_; }

 private:
  struct Candidate {
    v1::Block block;
    std::optional<ExecutedBlock> executed;  // set once checked and valid against this height
    std::vector<RejectedTx> rejected;       // when this node built it
    bool judged = false;
    uint32_t proposer = UINT32_MAX;         // who proposed it (UINT32_MAX: came with a certificate)
  };

  ConsensusEngine(const EngineOptions& options, Chain& chain, const PrivateKey* key, SignGuard* guard, EngineHost& host)
      : options_(options), chain_(chain), key_(key), guard_(guard), host_(host) {}

  void Apply(consensus::Actions actions);
  consensus::Actions Do(const consensus::action::Propose& a);
  consensus::Actions Do(const consensus::action::CastVote& a);
  consensus::Actions Do(const consensus::action::ScheduleTimeout& a);
  consensus::Actions Do(const consensus::action::Decide& a);
  consensus::Actions Do(const consensus::action::Evidence& a);
  consensus::Actions Do(const consensus::action::RequestBlock& a);

  void EnterHeight(uint64_t height);
  // Checks a block of the current height once and tells the state machine.
  consensus::Actions Judge(const Hash256& hash);
  Result OnProposal(const v1::ProposalWithBlock& m);
  Result OnVote(const v1::SignedVote& m);
  Result OnCommit(const v1::CommitWithBlock& m);
  Result ToVote(const v1::SignedVote& m, consensus::Vote* out) const;
  v1::SignedVote ToSigned(const consensus::Vote& v) const;
  v1::Proposal ToWire(const consensus::Proposal& p) const;

  const EngineOptions options_;
  Chain& chain_;
  const PrivateKey* key_;
  SignGuard* guard_;
  EngineHost& host_;
  consensus::ValidatorSet set_;
  std::unique_ptr<consensus::StateMachine> sm_;
  std::map<Hash256, Candidate> blocks_;  // this and the next height's, bounded
  v1::Commit last_commit_;               // the certificate of the chain's tip that new blocks carry
};

}  // namespace kontor::node
