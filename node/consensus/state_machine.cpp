#include "node/consensus/state_machine.h"

#include <algorithm>
#include <tuple>
#include <utility>

namespace kontor::consensus {

namespace {
// Next-height messages kept per validator until StartHeight: its proposals and votes for the
// rounds a validator may open.
constexpr size_t kNextHeightPerValidator = 2 * (StateMachine::kFutureRoundsPerValidator + 2);
}  // namespace

StateMachine::StateMachine(const ValidatorSet& validators, std::optional<uint32_t> self, TimeoutParams timeouts)
    : validators_(validators), self_(self), timeouts_(timeouts) {}

Actions StateMachine::StartHeight(uint64_t height, bool active) {
  height_ = height;
  round_ = 0;
  step_ = Step::kPropose;
  active_ = active;
  decided_ = false;
  locked_value_.reset();
  valid_value_.reset();
  locked_round_ = valid_round_ = kNoRound;
  rounds_.clear();
  verdicts_.clear();
  future_rounds_.clear();
  evidenced_.clear();
  learned_.reset();
  learned_requested_ = false;
  Actions out;
  StartRound(0, out);
  std::vector<Proposal> proposals;
  std::vector<Vote> votes;
  proposals.swap(next_proposals_);
  votes.swap(next_votes_);
  next_counts_.clear();
  for (const Proposal& p : proposals) {
    if (p.height != height) continue;
    Actions more = OnProposal(p);
    out.insert(out.end(), more.begin(), more.end());
  }
  for (const Vote& v : votes) {
    if (v.height != height) continue;
    Actions more = OnVote(v);
    out.insert(out.end(), more.begin(), more.end());
  }
  Evaluate(out);
  return out;
}

Actions StateMachine::Activate() {
  Actions out;
  if (active_ || decided_) return out;
  active_ = true;
  StartRound(round_, out);
  Evaluate(out);
  return out;
}

// Line 11. Round 0 of an idle height only records the round: Activate() proposes or starts the
// timeout later.
void StateMachine::StartRound(uint32_t round, Actions& out) {
  round_ = round;
  step_ = Step::kPropose;
  rounds_[round];
  if (round > 0) active_ = true;
  if (!active_) return;
  if (self_ && validators_.Proposer(height_, round) == *self_) {
    out.push_back(action::Propose{height_, round, valid_value_ ? valid_round_ : kNoRound, valid_value_});
  }
  // Also for the proposer: should its own proposal never come back, the round still moves on.
  out.push_back(action::ScheduleTimeout{Step::kPropose, height_, round, timeouts_.For(Step::kPropose, round)});
}

// Any message of the height ends the idle wait of round 0: others are at work.
void StateMachine::WakeOnMessage(Actions& out) {
  if (active_) return;
  active_ = true;
  if (round_ == 0 && step_ == Step::kPropose) StartRound(0, out);
}

bool StateMachine::Admit(uint32_t round, uint32_t validator) {
  if (round <= round_ + 1 || rounds_.count(round)) return true;
  auto& opened = future_rounds_[validator];
  if (opened.count(round)) return true;
  if (opened.size() >= kFutureRoundsPerValidator) return false;
  opened.insert(round);
  return true;
}

void StateMachine::Touch(Round& r, uint32_t validator) {
  if (r.senders.insert(validator).second) r.sender_power += validators_.power(validator);
}

Actions StateMachine::Buffer(const Proposal* p, const Vote* v) {
  const uint32_t who = p ? p->proposer : v->validator;
  if (who >= validators_.size()) return {};
  size_t& count = next_counts_[who];
  if (count >= kNextHeightPerValidator) return {};
  ++count;
  if (p) next_proposals_.push_back(*p);
  if (v) next_votes_.push_back(*v);
  return {};
}

Actions StateMachine::OnProposal(const Proposal& p) {
  if (p.height == height_ + 1) return Buffer(&p, nullptr);
  Actions out;
  if (p.height != height_ || decided_) return out;
  if (p.proposer >= validators_.size() || validators_.Proposer(height_, p.round) != p.proposer) return out;
  if (p.pol_round != kNoRound && (p.pol_round < 0 || static_cast<uint32_t>(p.pol_round) >= p.round)) return out;
  if (!Admit(p.round, p.proposer)) return out;
  Round& r = rounds_[p.round];
  if (r.proposal) return out;  // the first one counts; a second is the proposer's fault
  r.proposal = p;
  Touch(r, p.proposer);
  WakeOnMessage(out);
  Evaluate(out);
  return out;
}

Actions StateMachine::OnBlock(const Hash256& block, bool valid) {
  Actions out;
  verdicts_[block] = valid;
  if (!decided_) Evaluate(out);
  return out;
}

Actions StateMachine::OnVote(const Vote& v) {
  if (v.height == height_ + 1) return Buffer(nullptr, &v);
  Actions out;
  if (v.height != height_ || decided_ || v.validator >= validators_.size()) return out;
  if (v.kind != VoteKind::kPrevote && v.kind != VoteKind::kPrecommit) return out;
  if (!Admit(v.round, v.validator)) return out;
  Round& r = rounds_[v.round];
  Tally& tally = v.kind == VoteKind::kPrevote ? r.prevotes : r.precommits;
  auto [it, inserted] = tally.by_validator.try_emplace(v.validator, v);
  if (!inserted) {
    if (it->second.block == v.block) return out;  // the same vote again
    if (evidenced_.insert({v.validator, v.round, v.kind}).second) out.push_back(action::Evidence{it->second, v});
    // Counted for its block whatever arrives later (the proposal may come after it); at most
    // kExtraVotesPerValidator such votes per validator, round and kind.
    size_t mine = 0;
    for (const Vote& e : tally.extra) {
      if (e.validator != v.validator) continue;
      if (e.block == v.block) return out;
      ++mine;
    }
    if (mine >= kExtraVotesPerValidator) return out;
    tally.extra.push_back(v);
    tally.power_for[v.block] += validators_.power(v.validator);
    Evaluate(out);
    return out;
  }
  const uint64_t power = validators_.power(v.validator);
  tally.power_for[v.block] += power;
  tally.power += power;
  Touch(r, v.validator);
  WakeOnMessage(out);
  Evaluate(out);
  return out;
}

Actions StateMachine::OnTimeout(Step step, uint64_t height, uint32_t round) {
  Actions out;
  if (height != height_ || decided_ || round != round_) return out;
  switch (step) {
    case Step::kPropose:  // line 57
      if (step_ == Step::kPropose) {
        CastVote(VoteKind::kPrevote, std::nullopt, out);
        step_ = Step::kPrevote;
      }
      break;
    case Step::kPrevote:  // line 61
      if (step_ == Step::kPrevote) {
        CastVote(VoteKind::kPrecommit, std::nullopt, out);
        step_ = Step::kPrecommit;
      }
      break;
    case Step::kPrecommit:  // line 65
      StartRound(round_ + 1, out);
      break;
  }
  Evaluate(out);
  return out;
}

Actions StateMachine::OnCommit(uint32_t round, const Hash256& block, const std::vector<Vote>& precommits) {
  Actions out;
  if (decided_ || learned_) return out;
  std::set<uint32_t> signers;
  uint64_t power = 0;
  for (const Vote& v : precommits) {
    if (v.kind != VoteKind::kPrecommit || v.height != height_ || v.round != round || v.block != block ||
        v.validator >= validators_.size() || !signers.insert(v.validator).second) {
      return out;
    }
    power += validators_.power(v.validator);
  }
  if (!validators_.IsQuorum(power)) return out;
  learned_ = action::Decide{height_, round, block, precommits};
  std::sort(learned_->precommits.begin(), learned_->precommits.end(),
            [](const Vote& a, const Vote& b) { return a.validator < b.validator; });
  Evaluate(out);
  return out;
}

void StateMachine::CastVote(VoteKind kind, std::optional<Hash256> block, Actions& out) {
  if (self_) out.push_back(action::CastVote{kind, height_, round_, std::move(block)});
}

std::optional<bool> StateMachine::Validity(const Hash256& block) const {
  auto it = verdicts_.find(block);
  if (it == verdicts_.end()) return std::nullopt;
  return it->second;
}

void StateMachine::Evaluate(Actions& out) {
  while (!decided_ && EvaluateOnce(out)) {
  }
}

bool StateMachine::EvaluateOnce(Actions& out) {
  // A learned certificate: line 49 with the certificate's precommits.
  if (learned_) {
    std::optional<bool> valid = Validity(learned_->block);
    if (valid == true) {
      decided_ = true;
      out.push_back(std::move(*learned_));
      learned_.reset();
      return false;
    }
    if (!valid && !learned_requested_) {
      learned_requested_ = true;
      out.push_back(action::RequestBlock{height_, learned_->round, learned_->block});
    }
  }
  // Line 49: more than 2/3 precommit one block in some round, and the block is valid.
  for (auto& [number, r] : rounds_) {
    for (const auto& [block, power] : r.precommits.power_for) {
      if (!block || !validators_.IsQuorum(power)) continue;
      std::optional<bool> valid = Validity(*block);
      if (!valid) {
        if (!r.block_requested) {
          r.block_requested = true;
          out.push_back(action::RequestBlock{height_, number, *block});
        }
        continue;
      }
      if (!*valid) continue;  // more than 2/3 committed a block this node finds invalid: it stays
      action::Decide decide{height_, number, *block, {}};
      for (const auto& [who, vote] : r.precommits.by_validator) {
        if (vote.block == block) decide.precommits.push_back(vote);
      }
      for (const Vote& vote : r.precommits.extra) {
        if (vote.block == block) decide.precommits.push_back(vote);
      }
      std::sort(decide.precommits.begin(), decide.precommits.end(),
                [](const Vote& a, const Vote& b) { return a.validator < b.validator; });
      decided_ = true;
      out.push_back(std::move(decide));
      return false;
    }
  }

  // Line 55: more than 1/3 of the power is in a later round; go to the highest such round.
  for (auto it = rounds_.rbegin(); it != rounds_.rend() && it->first > round_; ++it) {
    if (validators_.IsOneThird(it->second.sender_power)) {
      StartRound(it->first, out);
      return true;
    }
  }

  Round& cur = rounds_[round_];
  const Proposal* p = cur.proposal ? &*cur.proposal : nullptr;
  const std::optional<bool> p_valid = p ? Validity(p->block) : std::nullopt;

  if (step_ == Step::kPropose && p && p_valid) {
    if (p->pol_round == kNoRound) {  // line 22
      const bool yes = *p_valid && (locked_round_ == kNoRound || locked_value_ == p->block);
      CastVote(VoteKind::kPrevote, yes ? std::optional<Hash256>(p->block) : std::nullopt, out);
      step_ = Step::kPrevote;
      return true;
    }
    auto pol = rounds_.find(static_cast<uint32_t>(p->pol_round));  // line 28
    if (pol != rounds_.end()) {
      auto it = pol->second.prevotes.power_for.find(p->block);
      if (it != pol->second.prevotes.power_for.end() && validators_.IsQuorum(it->second)) {
        const bool yes = *p_valid && (locked_round_ <= p->pol_round || locked_value_ == p->block);
        CastVote(VoteKind::kPrevote, yes ? std::optional<Hash256>(p->block) : std::nullopt, out);
        step_ = Step::kPrevote;
        return true;
      }
    }
  }

  // Line 34.
  if (step_ == Step::kPrevote && !cur.prevote_timeout_scheduled && validators_.IsQuorum(cur.prevotes.power)) {
    cur.prevote_timeout_scheduled = true;
    out.push_back(action::ScheduleTimeout{Step::kPrevote, height_, round_, timeouts_.For(Step::kPrevote, round_)});
    return true;
  }

  // Line 36.
  if (p && p_valid == true && step_ != Step::kPropose && !cur.polka_done) {
    auto it = cur.prevotes.power_for.find(p->block);
    if (it != cur.prevotes.power_for.end() && validators_.IsQuorum(it->second)) {
      cur.polka_done = true;
      if (step_ == Step::kPrevote) {
        locked_value_ = p->block;
        locked_round_ = static_cast<int32_t>(round_);
        CastVote(VoteKind::kPrecommit, p->block, out);
        step_ = Step::kPrecommit;
      }
      valid_value_ = p->block;
      valid_round_ = static_cast<int32_t>(round_);
      return true;
    }
  }

  // Line 44.
  if (step_ == Step::kPrevote) {
    auto it = cur.prevotes.power_for.find(std::nullopt);
    if (it != cur.prevotes.power_for.end() && validators_.IsQuorum(it->second)) {
      CastVote(VoteKind::kPrecommit, std::nullopt, out);
      step_ = Step::kPrecommit;
      return true;
    }
  }

  // Line 47.
  if (!cur.precommit_timeout_scheduled && validators_.IsQuorum(cur.precommits.power)) {
    cur.precommit_timeout_scheduled = true;
    out.push_back(
        action::ScheduleTimeout{Step::kPrecommit, height_, round_, timeouts_.For(Step::kPrecommit, round_)});
    return true;
  }
  return false;
}

std::vector<Proposal> StateMachine::Proposals() const {
  std::vector<Proposal> out;
  for (const auto& [number, r] : rounds_) {
    if (r.proposal) out.push_back(*r.proposal);
  }
  return out;
}

std::vector<Vote> StateMachine::Votes() const {
  std::vector<Vote> out;
  for (const auto& [number, r] : rounds_) {
    for (const auto& [who, v] : r.prevotes.by_validator) out.push_back(v);
    for (const auto& [who, v] : r.precommits.by_validator) out.push_back(v);
    out.insert(out.end(), r.prevotes.extra.begin(), r.prevotes.extra.end());
    out.insert(out.end(), r.precommits.extra.begin(), r.precommits.extra.end());
  }
  return out;
}

bool StateMachine::Wants(const Hash256& block) const {
  for (const auto& [number, r] : rounds_) {
    if (r.proposal && r.proposal->block == block) return true;
    if (r.precommits.power_for.count(block) || r.prevotes.power_for.count(block)) return true;
  }
  return false;
}

}  // namespace kontor::consensus
