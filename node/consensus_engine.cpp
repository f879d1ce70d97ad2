#include "node/consensus_engine.h"

#include <algorithm>

#include "ledger/bech32m.h"
#include "ledger/bft_time.h"
#include "ledger/block.h"
#include "ledger/codec.h"

namespace kontor::node {

using consensus::Actions;
using consensus::Step;
using consensus::VoteKind;
namespace action = consensus::action;

namespace {

// Blocks kept for the current and the next height: a few per round is plenty; beyond it the
// proposals that fill the table are a flood.
constexpr size_t kBlocksMax = 64;
constexpr size_t kBlocksPerProposerMax = 4;  // this height's and the next, over the rounds kept

v1::VoteType WireType(VoteKind k) {
  return k == VoteKind::kPrevote ? v1::VOTE_TYPE_PREVOTE : v1::VOTE_TYPE_PRECOMMIT;
}

SignStep GuardStep(VoteKind k) { return k == VoteKind::kPrevote ? SignStep::kPrevote : SignStep::kPrecommit; }

Result Bad(const std::string& what) { return {Code::kBadField, what}; }

}  // namespace

Result ConsensusEngine::Make(const EngineOptions& options, Chain& chain, const PrivateKey* key, SignGuard* guard,
                             EngineHost& host, std::unique_ptr<ConsensusEngine>* out) {
  std::unique_ptr<ConsensusEngine> e(new ConsensusEngine(options, chain, key, guard, host));
  KONTOR_RETURN_IF_ERROR(consensus::ValidatorSet::Make(chain.genesis().validators, &e->set_));
  std::optional<uint32_t> self;
  if (key) {
    self = e->set_.IndexOf(key->public_key());
    if (!self) return {Code::kNotAuthorized, "key " + EncodeAddress(key->public_key()) + " is not a validator of this chain"};
    if (!guard) return {Code::kNotAuthorized, "a validator needs its sign guard"};
  }
  e->sm_ = std::make_unique<consensus::StateMachine>(e->set_, self, options.timeouts);
  *out = std::move(e);
  return Result::Ok();
}

void ConsensusEngine::Start() {
  last_commit_ = chain_.tip().commit;
  EnterHeight(chain_.height() + 1);
}

void ConsensusEngine::EnterHeight(uint64_t height) {
  // Keep only the blocks that can still matter: those of the new height.
  for (auto it = blocks_.begin(); it != blocks_.end();) {
    v1::BlockHeader h;
    const bool keep = h.ParseFromString(it->second.block.header()) && h.height() == height;
    if (keep) {
      it->second.judged = false;
      it->second.executed.reset();
      ++it;
    } else {
      it = blocks_.erase(it);
    }
  }
  Actions actions = sm_->StartHeight(height, false);
  // Blocks that came early get their verdict now that their parent is the tip.
  std::vector<Hash256> early;
  for (const auto& [hash, c] : blocks_) early.push_back(hash);
  for (const Hash256& hash : early) {
    Actions more = Judge(hash);
    actions.insert(actions.end(), more.begin(), more.end());
  }
  Apply(std::move(actions));
}

void ConsensusEngine::Activate() { Apply(sm_->Activate()); }

void ConsensusEngine::OnTimeout(Step step, uint64_t height, uint32_t round) {
  Apply(sm_->OnTimeout(step, height, round));
}

Result ConsensusEngine::OnMessage(const v1::ConsensusMessage& message) {
  switch (message.message_case()) {
    case v1::ConsensusMessage::kProposal: return OnProposal(message.proposal());
    case v1::ConsensusMessage::kVote: return OnVote(message.vote());
    case v1::ConsensusMessage::kCommit: return OnCommit(message.commit());
    case v1::ConsensusMessage::kEvidence: return Result::Ok();  // recorded by the host (not yet in blocks)
    default: return {Code::kMalformed, "an empty consensus message"};
  }
}

Result ConsensusEngine::ToVote(const v1::SignedVote& m, consensus::Vote* out) const {
  const v1::Vote& v = m.vote();
  if (v.chain_id() != chain_.genesis().chain_id) return {Code::kWrongChain, "vote for chain '" + v.chain_id() + "'"};
  if (v.type() != v1::VOTE_TYPE_PREVOTE && v.type() != v1::VOTE_TYPE_PRECOMMIT) return Bad("vote type must be prevote or precommit");
  if (!v.block_hash().empty() && v.block_hash().size() != 32) return Bad("vote block_hash must be empty or 32 bytes");
  if (m.validator().size() != 32 || m.signature().size() != 64) return Bad("vote validator or signature has the wrong size");
  const PublicKey key = Hash256::FromBytes(m.validator());
  std::optional<uint32_t> index = set_.IndexOf(key);
  if (!index) return {Code::kNotAuthorized, "vote by " + EncodeAddress(key) + ", not a validator"};
  std::optional<Hash256> block;
  if (!v.block_hash().empty()) block = Hash256::FromBytes(v.block_hash());
  const Hash256 message = VoteMessage(v.chain_id(), v.height(), v.round(), v.type(), block, v.timestamp_ms());
  if (!VerifySignature(key, message, m.signature())) return {Code::kBadSignature, "vote signature does not verify"};
  *out = consensus::Vote{v.type() == v1::VOTE_TYPE_PREVOTE ? VoteKind::kPrevote : VoteKind::kPrecommit,
                         v.height(), v.round(), block, v.timestamp_ms(), *index, m.signature()};
  return Result::Ok();
}

v1::SignedVote ConsensusEngine::ToSigned(const consensus::Vote& v) const {
  v1::SignedVote m;
  v1::Vote* w = m.mutable_vote();
  w->set_chain_id(chain_.genesis().chain_id);
  w->set_height(v.height);
  w->set_round(v.round);
  w->set_type(WireType(v.kind));
  if (v.block) w->set_block_hash(v.block->bytes());
  w->set_timestamp_ms(v.timestamp_ms);
  m.set_validator(set_.at(v.validator).key.bytes());
  m.set_signature(v.signature);
  return m;
}

v1::Proposal ConsensusEngine::ToWire(const consensus::Proposal& p) const {
  v1::Proposal w;
  w.set_chain_id(chain_.genesis().chain_id);
  w.set_height(p.height);
  w.set_round(p.round);
  if (p.pol_round != consensus::kNoRound) w.set_pol_round(static_cast<uint32_t>(p.pol_round));
  w.set_block_hash(p.block.bytes());
  w.set_timestamp_ms(p.timestamp_ms);
  return w;
}

std::vector<v1::ConsensusMessage> ConsensusEngine::Resend() const {
  std::vector<v1::ConsensusMessage> out;
  for (const consensus::Proposal& p : sm_->Proposals()) {
    auto it = blocks_.find(p.block);
    if (it == blocks_.end()) continue;
    v1::ConsensusMessage m;
    v1::ProposalWithBlock* pb = m.mutable_proposal();
    *pb->mutable_proposal()->mutable_proposal() = ToWire(p);
    pb->mutable_proposal()->set_proposer(set_.at(p.proposer).key.bytes());
    pb->mutable_proposal()->set_signature(p.signature);
    *pb->mutable_block() = it->second.block;
    out.push_back(std::move(m));
  }
  for (const consensus::Vote& v : sm_->Votes()) {
    v1::ConsensusMessage m;
    *m.mutable_vote() = ToSigned(v);
    out.push_back(std::move(m));
  }
  return out;
}

Result ConsensusEngine::CommitFor(uint64_t height, v1::ConsensusMessage* out) const {
  if (height == 0 || height > chain_.height()) return {Code::kNotFound, "no committed block at height " + std::to_string(height)};
  v1::StoredBlock stored;
  KONTOR_RETURN_IF_ERROR(chain_.GetBlock(height, &stored));
  *out->mutable_commit()->mutable_block() = stored.block();
  *out->mutable_commit()->mutable_commit() = stored.commit();
  return Result::Ok();
}

Result ConsensusEngine::OnVote(const v1::SignedVote& m) {
  consensus::Vote v;
  KONTOR_RETURN_IF_ERROR(ToVote(m, &v));
  Apply(sm_->OnVote(v));
  return Result::Ok();
}

Result ConsensusEngine::OnProposal(const v1::ProposalWithBlock& m) {
  const v1::Proposal& p = m.proposal().proposal();
  if (p.chain_id() != chain_.genesis().chain_id) return {Code::kWrongChain, "proposal for chain '" + p.chain_id() + "'"};
  if (p.block_hash().size() != 32) return Bad("proposal block_hash must be 32 bytes");
  if (m.proposal().proposer().size() != 32 || m.proposal().signature().size() != 64)
    return Bad("proposal proposer or signature has the wrong size");
  const PublicKey key = Hash256::FromBytes(m.proposal().proposer());
  std::optional<uint32_t> index = set_.IndexOf(key);
  if (!index || set_.Proposer(p.height(), p.round()) != *index)
    return {Code::kNotAuthorized, "proposal by " + EncodeAddress(key) + ", not the proposer of height " +
                                      std::to_string(p.height()) + " round " + std::to_string(p.round())};
  if (!VerifySignature(key, ProposalMessage(p), m.proposal().signature()))
    return {Code::kBadSignature, "proposal signature does not verify"};
  const Hash256 hash = Hash256::FromBytes(p.block_hash());
  if (BlockHash(m.block().header()) != hash) return Bad("the block does not hash to the proposal's block_hash");
  v1::BlockHeader h;
  if (!h.ParseFromString(m.block().header()) || h.height() != p.height() || h.time_ms() != p.timestamp_ms())
    return Bad("the block's header does not match the proposal (height, time)");
  if (p.has_pol_round() && p.pol_round() >= p.round()) return Bad("pol_round must be below the round");
  const uint64_t height = sm_->height();
  if (p.height() != height && p.height() != height + 1) return Result::Ok();  // stale or far ahead: ignored
  if (!blocks_.count(hash)) {
    // A proposer proposes in at most a few rounds per height that this node keeps (the state
    // machine keeps two rounds ahead per validator): more blocks from one proposer are a flood.
    size_t from_proposer = 0;
    for (const auto& [h, c] : blocks_) from_proposer += c.proposer == *index ? 1 : 0;
    if (from_proposer >= kBlocksPerProposerMax)
      return {Code::kTooLarge, "proposer " + EncodeAddress(key) + " already has " + std::to_string(from_proposer) +
                                   " candidate blocks at this height"};
    if (blocks_.size() >= kBlocksMax) return {Code::kTooLarge, "too many candidate blocks at this height"};
    Candidate& c = blocks_[hash];
    c.block = m.block();
    c.proposer = *index;
  }
  Actions actions;
  if (p.height() == height) actions = Judge(hash);
  consensus::Proposal proposal{p.height(), p.round(), p.has_pol_round() ? static_cast<int32_t>(p.pol_round()) : consensus::kNoRound,
                               hash, p.timestamp_ms(), *index, m.proposal().signature()};
  Actions more = sm_->OnProposal(proposal);
  actions.insert(actions.end(), more.begin(), more.end());
  Apply(std::move(actions));
  return Result::Ok();
}

Result ConsensusEngine::OnCommit(const v1::CommitWithBlock& m) {
  const uint64_t height = sm_->height();
  if (m.commit().height() != height || sm_->decided()) return Result::Ok();
  const Hash256 hash = BlockHash(m.block().header());
  KONTOR_RETURN_IF_ERROR(VerifyCommit(m.commit(), chain_.genesis(), height, hash));
  if (!blocks_.count(hash)) {
    if (blocks_.size() >= kBlocksMax) return {Code::kTooLarge, "too many candidate blocks at this height"};
    blocks_[hash].block = m.block();
  }
  Actions actions = Judge(hash);
  std::vector<consensus::Vote> precommits;
  for (const auto& sig : m.commit().signatures()) {
    const PublicKey key = Hash256::FromBytes(sig.validator());
    precommits.push_back(consensus::Vote{VoteKind::kPrecommit, height, m.commit().round(), hash, sig.timestamp_ms(),
                                         *set_.IndexOf(key), sig.signature()});
  }
  Actions more = sm_->OnCommit(m.commit().round(), hash, precommits);
  actions.insert(actions.end(), more.begin(), more.end());
  Apply(std::move(actions));
  return Result::Ok();
}

Actions ConsensusEngine::Judge(const Hash256& hash) {
  auto it = blocks_.find(hash);
  if (it == blocks_.end() || it->second.judged) return {};
  v1::BlockHeader h;
  if (!h.ParseFromString(it->second.block.header()) || h.height() != sm_->height()) return {};
  Candidate& c = it->second;
  c.judged = true;
  ExecutedBlock executed;
  // Everything but the block's own certificate: links, BFT time, every tx, the state root.
  Result r = chain_.ExecuteProposal(c.block, &executed);
  if (r.ok() && h.time_ms() > host_.NowMs() + options_.max_clock_ahead_ms) {
    r = Result(Code::kBadTime, "block time " + std::to_string(h.time_ms()) + " ms is more than " +
                                   std::to_string(options_.max_clock_ahead_ms) + " ms ahead of this node's clock");
  }
  if (r.ok()) c.executed = std::move(executed);
  return sm_->OnBlock(hash, r.ok());
}

void ConsensusEngine::Apply(Actions actions) {
  consensus::RunActions(std::move(actions), [&](consensus::Action& a) { return std::visit([&](auto& act) { return Do(act); }, a); });
}

Actions ConsensusEngine::Do(const action::Propose& a) {
  Hash256 hash;
  if (a.block) {
    if (!blocks_.count(*a.block)) return {};
    hash = *a.block;
  } else {
    std::vector<std::string> envelopes = host_.Candidates();
    std::vector<std::string_view> views(envelopes.begin(), envelopes.end());
    ExecutedBlock built;
    std::vector<RejectedTx> rejected;
    if (!chain_.BuildNext(views, last_commit_, key_->public_key(), &built, &rejected).ok()) return {};
    hash = built.block.hash;
    Candidate& c = blocks_[hash];
    c.block = built.block.block;
    c.proposer = *set_.IndexOf(key_->public_key());
    c.rejected = std::move(rejected);
    c.executed = std::move(built);
    c.judged = true;
  }
  v1::BlockHeader h;
  h.ParseFromString(blocks_[hash].block.header());
  v1::ProposalWithBlock m;
  v1::Proposal* p = m.mutable_proposal()->mutable_proposal();
  p->set_chain_id(chain_.genesis().chain_id);
  p->set_height(a.height);
  p->set_round(a.round);
  if (a.pol_round != consensus::kNoRound) p->set_pol_round(static_cast<uint32_t>(a.pol_round));
  p->set_block_hash(hash.bytes());
  p->set_timestamp_ms(h.time_ms());
  SignRequest req{a.height, a.round, SignStep::kProposal, hash, h.time_ms(), ProposalMessage(*p)};
  Signed sig;
  if (!guard_->Sign(req, &sig).ok()) return {};
  m.mutable_proposal()->set_proposer(key_->public_key().bytes());
  m.mutable_proposal()->set_signature(sig.signature);
  *m.mutable_block() = blocks_[hash].block;
  v1::ConsensusMessage out;
  *out.mutable_proposal() = m;
  host_.Broadcast(out);
  Actions actions;
  if (!a.block) actions = sm_->OnBlock(hash, true);
  consensus::Proposal own{a.height, a.round, a.pol_round, hash, h.time_ms(), *set_.IndexOf(key_->public_key()),
                          sig.signature};
  Actions more = sm_->OnProposal(own);
  actions.insert(actions.end(), more.begin(), more.end());
  return actions;
}

Actions ConsensusEngine::Do(const action::CastVote& a) {
  uint64_t timestamp = host_.NowMs();
  if (a.kind == VoteKind::kPrecommit && a.block) {
    auto it = blocks_.find(*a.block);
    v1::BlockHeader h;
    if (it != blocks_.end() && h.ParseFromString(it->second.block.header())) timestamp = PrecommitTime(timestamp, h.time_ms());
  }
  SignRequest req{a.height, a.round, GuardStep(a.kind), a.block, timestamp,
                  VoteMessage(chain_.genesis().chain_id, a.height, a.round, WireType(a.kind), a.block, timestamp)};
  Signed sig;
  if (!guard_->Sign(req, &sig).ok()) return {};
  if (sig.resent) {
    // The same vote signed before a restart: its signature covers the earlier timestamp.
    timestamp = sig.timestamp_ms;
  }
  consensus::Vote v{a.kind, a.height, a.round, a.block, timestamp, *set_.IndexOf(key_->public_key()), sig.signature};
  v1::ConsensusMessage out;
  *out.mutable_vote() = ToSigned(v);
  host_.Broadcast(out);
  return sm_->OnVote(v);
}

Actions ConsensusEngine::Do(const action::ScheduleTimeout& a) {
  host_.ScheduleTimeout(a.delay_ms, a.step, a.height, a.round);
  return {};
}

Actions ConsensusEngine::Do(const action::Decide& a) {
  auto it = blocks_.find(a.block);
  if (it == blocks_.end() || !it->second.executed) return {};  // cannot happen: decided blocks are valid
  v1::Commit commit;
  commit.set_height(a.height);
  commit.set_round(a.round);
  commit.set_block_hash(a.block.bytes());
  std::vector<consensus::Vote> precommits = a.precommits;
  std::sort(precommits.begin(), precommits.end(), [&](const consensus::Vote& x, const consensus::Vote& y) {
    return set_.at(x.validator).key < set_.at(y.validator).key;
  });
  for (const consensus::Vote& v : precommits) {
    auto* s = commit.add_signatures();
    s->set_validator(set_.at(v.validator).key.bytes());
    s->set_signature(v.signature);
    s->set_timestamp_ms(v.timestamp_ms);
  }
  ExecutedBlock executed = std::move(*it->second.executed);
  std::vector<RejectedTx> rejected = std::move(it->second.rejected);
  executed.commit = commit;
  ExecutedBlock kept;
  kept.block = executed.block;
  kept.commit = commit;
  Result r = chain_.CommitExecuted(std::move(executed));
  if (!r.ok()) return {};  // the host sees the chain not advance (commit failures are retried by restart)
  last_commit_ = commit;
  host_.Committed(kept, rejected);
  EnterHeight(a.height + 1);
  return {};
}

Actions ConsensusEngine::Do(const action::Evidence& a) {
  v1::DuplicateVoteEvidence e;
  v1::SignedVote first = ToSigned(a.first), second = ToSigned(a.second);
  if (first.vote().block_hash() > second.vote().block_hash()) std::swap(first, second);
  *e.mutable_first() = first;
  *e.mutable_second() = second;
  host_.Evidence(e);
  return {};
}

Actions ConsensusEngine::Do(const action::RequestBlock& a) {
  host_.WantBlock(a.height, a.block);
  return {};
}

}  // namespace kontor::node
