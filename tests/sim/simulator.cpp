#include "tests/sim/simulator.h"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <tuple>
#include <unordered_map>

#include "ledger/hash.h"
#include "ledger/bft_time.h"
#include "node/consensus/state_machine.h"

namespace kontor::sim {

using consensus::Action;
using consensus::Actions;
using consensus::Proposal;
using consensus::StateMachine;
using consensus::Step;
using consensus::ValidatorSet;
using consensus::Vote;
using consensus::VoteKind;
namespace action = consensus::action;

const char* FaultName(Fault f) {
  switch (f) {
    case Fault::kNone: return "none";
    case Fault::kEquivocate: return "equivocate";
    case Fault::kInvalidBlocks: return "invalid-blocks";
    case Fault::kBadTime: return "bad-time";
    case Fault::kSilent: return "silent";
  }
  return "?";
}

bool ParseFault(const std::string& name, Fault* out) {
  for (Fault f : {Fault::kNone, Fault::kEquivocate, Fault::kInvalidBlocks, Fault::kBadTime, Fault::kSilent}) {
    if (name == FaultName(f)) {
      *out = f;
      return true;
    }
  }
  return false;
}

namespace {

constexpr uint64_t kStartMs = 1'000'000'000;         // the simulated epoch
constexpr uint64_t kGenesisTimeMs = kStartMs - 1000;  // height 1's time
constexpr uint64_t kMaxAheadMs = 5000;                // a block's time may lead the clock by this
constexpr uint64_t kCommitWaitMs = 100;               // after a decision, before the next height
constexpr uint64_t kGossipMs = 400;
constexpr int64_t kSkewMs = 200;

// splitmix64: portable, so a seed means the same run everywhere.
struct Rng {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  uint64_t Between(uint64_t lo, uint64_t hi) { return lo + Below(hi - lo + 1); }
  bool PerMille(uint64_t p) { return Below(1000) < p; }
};

struct Block {
  uint64_t height = 0;
  Hash256 prev;
  uint64_t time_ms = 0;
  uint32_t proposer = 0;
  uint32_t round = 0;
  bool bad = false;  // a block validation rejects (the Byzantine proposer's)
  std::vector<Vote> last_commit;
  Hash256 hash;
};
using BlockPtr = std::shared_ptr<const Block>;

void Put64(std::string& s, uint64_t v) {
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
}

Hash256 HashBlock(const Block& b) {
  std::string s;
  Put64(s, b.height);
  s.append(b.prev.view());
  Put64(s, b.time_ms);
  Put64(s, b.proposer);
  Put64(s, b.round);
  s.push_back(b.bad ? 1 : 0);
  for (const Vote& v : b.last_commit) {
    Put64(s, v.validator);
    Put64(s, v.timestamp_ms);
  }
  return TaggedHash("kontor-sim/block", s);
}

struct Msg {
  enum class Kind { kProposal, kVote, kStatus, kCommit, kBlockRequest, kBlock } kind;
  uint32_t from = 0;
  Proposal proposal;
  Vote vote;
  uint64_t height = 0;
  Hash256 hash;
  BlockPtr block;
  std::vector<Vote> precommits;
};

struct Event {
  enum class Type { kDeliver, kTimeout, kStartHeight, kActivate, kGossip, kPartition, kHeal, kHealed } type;
  uint64_t at = 0;
  uint64_t seq = 0;
  uint32_t node = 0;
  std::shared_ptr<const Msg> msg;
  Step step = Step::kPropose;
  uint64_t height = 0;
  uint32_t round = 0;
  std::vector<int> groups;
};
struct Later {
  bool operator()(const Event& a, const Event& b) const { return std::tie(a.at, a.seq) > std::tie(b.at, b.seq); }
};

struct SimNode {
  uint32_t id = 0;
  bool byzantine = false;
  int64_t skew = 0;
  std::unique_ptr<StateMachine> sm;
  std::vector<BlockPtr> chain;                 // chain[h - 1]
  std::vector<std::vector<Vote>> commits;      // commits[h - 1]
  std::unordered_map<Hash256, BlockPtr, Hash256Hasher> blocks;  // this and the next height's candidates
  std::set<Hash256> judged;                    // blocks of this height with a verdict given
  std::map<std::tuple<uint64_t, uint32_t, VoteKind>, std::optional<Hash256>> signed_votes;  // never sign twice
  std::set<std::tuple<uint64_t, uint32_t, VoteKind, uint32_t>> seen_votes;  // this height's, for relaying
  std::vector<action::Evidence> evidence;
  bool deciding = false;  // decided; the next height starts after kCommitWaitMs
};

class Sim {
 public:
  explicit Sim(const Options& o) : o_(o), rng_{o.seed * 0x2545f4914f6cdd1dULL + o.validators} {}

  Report Run() {
    Report report;
    report.replay = "kontor-sim --seed " + std::to_string(o_.seed) + " --validators " + std::to_string(o_.validators) +
                    " --fault " + FaultName(o_.fault) + " --target-height " + std::to_string(o_.target_height) +
                    (o_.partitions ? "" : " --no-partitions");
    std::vector<Validator> vals;
    for (size_t i = 0; i < o_.validators; ++i) {
      Validator v;
      v.key = TaggedHash("kontor-sim/validator", std::to_string(i));
      v.power = 1;
      vals.push_back(v);
    }
    Result made = ValidatorSet::Make(vals, &set_);
    if (!made.ok()) return Fail(report, made.ToString());
    genesis_ = TaggedHash("kontor-sim/genesis", std::to_string(o_.seed));
    const uint32_t faulty = o_.fault == Fault::kNone ? UINT32_MAX : static_cast<uint32_t>(rng_.Below(o_.validators));
    consensus::TimeoutParams timeouts{1000, 500, 500, 250, 500, 250};
    nodes_.resize(o_.validators);
    group_.assign(o_.validators, 0);
    for (uint32_t i = 0; i < o_.validators; ++i) {
      SimNode& n = nodes_[i];
      n.id = i;
      n.byzantine = i == faulty;
      n.skew = static_cast<int64_t>(rng_.Below(2 * kSkewMs + 1)) - kSkewMs;
      n.sm = std::make_unique<StateMachine>(set_, i, timeouts);
      Push(Event{Event::Type::kStartHeight, kStartMs + rng_.Below(200), 0, i, nullptr, Step::kPropose, 1, 0, {}});
      Push(Event{Event::Type::kGossip, kStartMs + rng_.Below(kGossipMs), 0, i, nullptr, Step::kPropose, 0, 0, {}});
    }
    if (o_.partitions) {
      SchedulePartitions();
      Push(Event{Event::Type::kHealed, kStartMs + o_.heal_ms, 0, 0, nullptr, Step::kPropose, 0, 0, {}});
    }

    while (!queue_.empty() && failure_.empty()) {
      Event e = queue_.top();
      queue_.pop();
      now_ = e.at;
      if (now_ > kStartMs + o_.limit_ms) break;
      Handle(e);
      if (AllReached()) break;
    }
    for (const SimNode& n : nodes_) {
      report.heights.push_back(n.chain.size());
      if (!n.byzantine) {
        report.evidence += n.evidence.size();
        report.max_round = std::max<uint64_t>(report.max_round, max_round_[n.id]);
      }
    }
    report.messages = delivered_;
    report.dropped = dropped_;
    report.trace = trace_;
    report.simulated_ms = now_ - kStartMs;
    if (!failure_.empty()) return Fail(report, failure_);
    if (!AllReached()) {
      std::string heights;
      for (const SimNode& n : nodes_) heights += (heights.empty() ? "" : ",") + std::to_string(n.chain.size());
      return Fail(report, "no progress: honest validators did not all reach height " +
                              std::to_string(std::max(o_.target_height, height_at_heal_ + kAfterHeal)) + " by " + std::to_string(o_.limit_ms) +
                              " ms of simulated time (heights " + heights + ")");
    }
    if (o_.fault == Fault::kEquivocate && report.evidence == 0) {
      return Fail(report, "the equivocating validator was never recorded as evidence");
    }
    report.ok = true;
    return report;
  }

 private:
  Report& Fail(Report& r, const std::string& why) {
    r.ok = false;
    r.failure = why;
    return r;
  }

  void Push(Event e) {
    e.seq = seq_++;
    queue_.push(std::move(e));
  }

  bool Honest(const SimNode& n) const { return !n.byzantine; }

  // Every honest validator is at the target height and, with partitions, has finalised
  // kAfterHeal more heights after the network healed than the highest honest height then.
  static constexpr uint64_t kAfterHeal = 3;
  bool AllReached() const {
    uint64_t need = o_.target_height;
    if (o_.partitions) {
      if (now_ < kStartMs + o_.heal_ms) return false;
      need = std::max(need, height_at_heal_ + kAfterHeal);
    }
    for (const SimNode& n : nodes_) {
      if (Honest(n) && n.chain.size() < need) return false;
    }
    return true;
  }

  uint64_t LocalNow(const SimNode& n) const { return static_cast<uint64_t>(static_cast<int64_t>(now_) + n.skew); }

  void SchedulePartitions() {
    uint64_t t = kStartMs + rng_.Between(500, 5000);
    const uint64_t parts = rng_.Below(4);
    for (uint64_t i = 0; i < parts && t + 2000 < kStartMs + o_.heal_ms; ++i) {
      const uint64_t end = std::min(t + rng_.Between(2000, 12000), kStartMs + o_.heal_ms);
      std::vector<int> groups(o_.validators);
      for (int& g : groups) g = static_cast<int>(rng_.Below(2));
      Push(Event{Event::Type::kPartition, t, 0, 0, nullptr, Step::kPropose, 0, 0, groups});
      Push(Event{Event::Type::kHeal, end, 0, 0, nullptr, Step::kPropose, 0, 0, {}});
      t = end + rng_.Between(1000, 8000);
    }
  }

  bool Lossy() const { return o_.partitions && now_ < kStartMs + o_.heal_ms; }

  void Send(uint32_t from, uint32_t to, std::shared_ptr<const Msg> m) {
    if (from == to) return;
    if (nodes_[from].byzantine && o_.fault == Fault::kSilent) return;
    const bool lossy = Lossy();
    if (group_[from] != group_[to] || rng_.PerMille(lossy ? 100 : 10)) {
      ++dropped_;
      return;
    }
    // Before the heal, one message in ten is slow (up to a few timeouts): the asynchrony that
    // locks exist for.
    const uint64_t delay = lossy && rng_.PerMille(100) ? rng_.Between(300, 4000) : rng_.Between(2, lossy ? 300 : 100);
    Push(Event{Event::Type::kDeliver, now_ + delay, 0, to, m, Step::kPropose, 0, 0, {}});
    if (rng_.PerMille(30)) Push(Event{Event::Type::kDeliver, now_ + rng_.Between(2, 400), 0, to, m, Step::kPropose, 0, 0, {}});
  }

  void Broadcast(uint32_t from, const std::shared_ptr<const Msg>& m) {
    for (uint32_t to = 0; to < nodes_.size(); ++to) Send(from, to, m);
  }

  void Handle(const Event& e) {
    SimNode* n = &nodes_[e.node];
    switch (e.type) {
      case Event::Type::kPartition: group_ = e.groups; return;
      case Event::Type::kHeal: std::fill(group_.begin(), group_.end(), 0); return;
      case Event::Type::kHealed:
        std::fill(group_.begin(), group_.end(), 0);
        for (const SimNode& v : nodes_) {
          if (Honest(v)) height_at_heal_ = std::max<uint64_t>(height_at_heal_, v.chain.size());
        }
        return;
      case Event::Type::kDeliver:
        ++delivered_;
        Deliver(*n, *e.msg);
        break;
      case Event::Type::kTimeout: Apply(*n, n->sm->OnTimeout(e.step, e.height, e.round)); break;
      case Event::Type::kStartHeight: StartHeight(*n, e.height); break;
      case Event::Type::kActivate:
        if (n->sm->height() == e.height) Apply(*n, n->sm->Activate());
        break;
      case Event::Type::kGossip:
        Gossip(*n);
        Push(Event{Event::Type::kGossip, now_ + kGossipMs, 0, n->id, nullptr, Step::kPropose, 0, 0, {}});
        break;
    }
    max_round_[n->id] = std::max<uint64_t>(max_round_[n->id], n->sm->round());
  }

  void StartHeight(SimNode& n, uint64_t height) {
    n.deciding = false;
    n.judged.clear();
    n.seen_votes.clear();
    for (auto it = n.blocks.begin(); it != n.blocks.end();) {
      it = it->second->height < height ? n.blocks.erase(it) : std::next(it);
    }
    Apply(n, n.sm->StartHeight(height, false));
    // Blocks that arrived early (buffered with their proposals) get their verdict now. Sorted by
    // hash: the map's order is not deterministic.
    std::vector<BlockPtr> early;
    for (const auto& [hash, block] : n.blocks) {
      if (block->height == height) early.push_back(block);
    }
    std::sort(early.begin(), early.end(), [](const BlockPtr& a, const BlockPtr& b) { return a->hash < b->hash; });
    for (const BlockPtr& b : early) Judge(n, b);
    Push(Event{Event::Type::kActivate, now_ + rng_.Below(300), 0, n.id, nullptr, Step::kPropose, height, 0, {}});
  }

  bool Validate(const SimNode& n, const Block& b) const {
    const uint64_t h = n.sm->height();
    if (b.height != h || b.bad) return false;
    const Hash256 prev = h == 1 ? genesis_ : n.chain[h - 2]->hash;
    if (b.prev != prev) return false;
    if (h == 1) {
      if (!b.last_commit.empty() || b.time_ms != kGenesisTimeMs) return false;
    } else {
      std::set<uint32_t> signers;
      uint64_t power = 0;
      std::vector<TimedVote> times;
      for (const Vote& v : b.last_commit) {
        if (v.kind != VoteKind::kPrecommit || v.height != h - 1 || v.block != prev || v.validator >= set_.size() ||
            !signers.insert(v.validator).second) {
          return false;
        }
        power += set_.power(v.validator);
        times.push_back({v.timestamp_ms, set_.power(v.validator), v.validator});
      }
      if (!set_.IsQuorum(power) || b.time_ms != WeightedMedianTime(times)) return false;
    }
    return b.time_ms <= LocalNow(n) + kMaxAheadMs;
  }

  // Gives the state machine its verdict on a block of its height, once.
  void Judge(SimNode& n, const BlockPtr& b) {
    if (b->height != n.sm->height() || !n.judged.insert(b->hash).second) return;
    Apply(n, n.sm->OnBlock(b->hash, Validate(n, *b)));
  }

  // Stores a block of this or the next height (bounded like a real node's); false if not kept.
  bool Keep(SimNode& n, const BlockPtr& b) {
    if (b->hash != HashBlock(*b)) return false;
    const uint64_t h = n.sm->height();
    if (b->height != h && b->height != h + 1) return false;
    if (n.blocks.count(b->hash)) return true;
    if (n.blocks.size() >= 8 * nodes_.size()) return false;
    n.blocks.emplace(b->hash, b);
    return true;
  }

  void Deliver(SimNode& n, const Msg& m) {
    switch (m.kind) {
      case Msg::Kind::kProposal:
        if (!m.block || m.block->hash != m.proposal.block) return;
        if (Keep(n, m.block) && m.block->height == n.sm->height()) Judge(n, m.block);
        Apply(n, n.sm->OnProposal(m.proposal));
        return;
      case Msg::Kind::kVote: {
        const Vote& v = m.vote;
        if (v.height == n.sm->height() && n.seen_votes.insert({v.height, v.round, v.kind, v.validator}).second) {
          // Relay a vote seen for the first time to one peer (gossip; how equivocations meet).
          auto fwd = std::make_shared<Msg>(m);
          fwd->from = n.id;
          Send(n.id, static_cast<uint32_t>(rng_.Below(nodes_.size())), fwd);
        }
        Apply(n, n.sm->OnVote(v));
        return;
      }
      case Msg::Kind::kStatus:
        // The peer is at height m.height: send the commit it lacks.
        if (m.height >= 1 && n.chain.size() >= m.height) {
          auto c = std::make_shared<Msg>();
          c->kind = Msg::Kind::kCommit;
          c->from = n.id;
          c->block = n.chain[m.height - 1];
          c->precommits = n.commits[m.height - 1];
          Send(n.id, m.from, c);
        }
        return;
      case Msg::Kind::kCommit:
        if (!m.block || m.block->height != n.sm->height() || n.sm->decided() || !Keep(n, m.block)) return;
        Judge(n, m.block);
        if (!m.precommits.empty()) Apply(n, n.sm->OnCommit(m.precommits[0].round, m.block->hash, m.precommits));
        return;
      case Msg::Kind::kBlockRequest: {
        BlockPtr found;
        auto it = n.blocks.find(m.hash);
        if (it != n.blocks.end()) found = it->second;
        if (!found && m.height >= 1 && n.chain.size() >= m.height && n.chain[m.height - 1]->hash == m.hash) {
          found = n.chain[m.height - 1];
        }
        if (found) {
          auto r = std::make_shared<Msg>();
          r->kind = Msg::Kind::kBlock;
          r->from = n.id;
          r->block = found;
          Send(n.id, m.from, r);
        }
        return;
      }
      case Msg::Kind::kBlock:
        if (!m.block || !n.sm->Wants(m.block->hash) || !Keep(n, m.block)) return;
        Judge(n, m.block);
        return;
    }
  }

  void Gossip(SimNode& n) {
    auto status = std::make_shared<Msg>();
    status->kind = Msg::Kind::kStatus;
    status->from = n.id;
    status->height = n.sm->height();
    Broadcast(n.id, status);
    // Reliable gossip: this height's messages of the current and previous round, again, to one
    // peer; own messages to all.
    const uint32_t peer = static_cast<uint32_t>(rng_.Below(nodes_.size()));
    const uint32_t from_round = n.sm->round() == 0 ? 0 : n.sm->round() - 1;
    for (const Proposal& p : n.sm->Proposals()) {
      if (p.round < from_round) continue;
      auto it = n.blocks.find(p.block);
      if (it == n.blocks.end()) continue;
      auto m = std::make_shared<Msg>();
      m->kind = Msg::Kind::kProposal;
      m->from = n.id;
      m->proposal = p;
      m->block = it->second;
      if (p.proposer == n.id) {
        Broadcast(n.id, m);
      } else {
        Send(n.id, peer, m);
      }
    }
    for (const Vote& v : n.sm->Votes()) {
      if (v.round < from_round) continue;
      auto m = std::make_shared<Msg>();
      m->kind = Msg::Kind::kVote;
      m->from = n.id;
      m->vote = v;
      if (v.validator == n.id) {
        Broadcast(n.id, m);
      } else {
        Send(n.id, peer, m);
      }
    }
  }

  void Apply(SimNode& n, Actions actions) {
    consensus::RunActions(
        std::move(actions), [&](Action& a) { return std::visit([&](auto& act) { return Do(n, act); }, a); },
        [&] { return failure_.empty(); });
  }

  BlockPtr Build(SimNode& n, uint64_t height, uint32_t round) {
    auto b = std::make_shared<Block>();
    b->height = height;
    b->prev = height == 1 ? genesis_ : n.chain[height - 2]->hash;
    b->proposer = n.id;
    b->round = round;
    if (height == 1) {
      b->time_ms = kGenesisTimeMs;
    } else {
      b->last_commit = n.commits[height - 2];
      std::vector<TimedVote> times;
      for (const Vote& v : b->last_commit) times.push_back({v.timestamp_ms, set_.power(v.validator), v.validator});
      b->time_ms = WeightedMedianTime(times);
    }
    if (n.byzantine && o_.fault == Fault::kInvalidBlocks) b->bad = true;
    if (n.byzantine && o_.fault == Fault::kBadTime) b->time_ms += 60'000;
    b->hash = HashBlock(*b);
    return b;
  }

  Actions Do(SimNode& n, const action::Propose& p) {
    BlockPtr block;
    if (p.block) {
      auto it = n.blocks.find(*p.block);
      if (it == n.blocks.end()) return {};
      block = it->second;
    } else {
      block = Build(n, p.height, p.round);
    }
    Proposal prop{p.height, p.round, p.pol_round, block->hash, block->time_ms, n.id, "sig"};
    auto m = std::make_shared<Msg>();
    m->kind = Msg::Kind::kProposal;
    m->from = n.id;
    m->proposal = prop;
    m->block = block;
    Broadcast(n.id, m);
    n.blocks.emplace(block->hash, block);
    Actions out;
    if (!n.judged.count(block->hash)) {
      n.judged.insert(block->hash);
      // The Byzantine proposer believes in its own block; honest ones check it like any other.
      out = n.sm->OnBlock(block->hash, n.byzantine || Validate(n, *block));
    }
    Actions more = n.sm->OnProposal(prop);
    out.insert(out.end(), more.begin(), more.end());
    return out;
  }

  Actions Do(SimNode& n, const action::CastVote& c) {
    const auto key = std::make_tuple(c.height, c.round, c.kind);
    auto prior = n.signed_votes.find(key);
    if (prior != n.signed_votes.end()) {
      if (prior->second != c.block && !n.byzantine) {
        failure_ = "validator " + std::to_string(n.id) + " was asked to sign a second, different " +
                   consensus::VoteKindName(c.kind) + " at height " + std::to_string(c.height) + " round " +
                   std::to_string(c.round);
      }
      return {};
    }
    n.signed_votes.emplace(key, c.block);
    uint64_t ts = LocalNow(n);
    if (c.kind == VoteKind::kPrecommit && c.block) {
      auto it = n.blocks.find(*c.block);
      if (it != n.blocks.end()) ts = PrecommitTime(ts, it->second->time_ms);
    }
    Vote v{c.kind, c.height, c.round, c.block, ts, n.id, "sig"};
    auto m = std::make_shared<Msg>();
    m->kind = Msg::Kind::kVote;
    m->from = n.id;
    m->vote = v;
    if (n.byzantine && o_.fault == Fault::kEquivocate) {
      // The other half gets the vote that helps most to split them: for the round's proposal
      // when the honest choice was nil, nil otherwise.
      Vote w = v;
      w.block = std::nullopt;
      if (!v.block) {
        for (const Proposal& p : n.sm->Proposals()) {
          if (p.round == c.round) w.block = p.block;
        }
      }
      if (w.block == v.block) w.block = TaggedHash("kontor-sim/other", std::to_string(now_));
      auto m2 = std::make_shared<Msg>(*m);
      m2->vote = w;
      for (uint32_t to = 0; to < nodes_.size(); ++to) Send(n.id, to, to % 2 == 0 ? m : m2);
    } else {
      Broadcast(n.id, m);
    }
    return n.sm->OnVote(v);
  }

  Actions Do(SimNode& n, const action::ScheduleTimeout& t) {
    Push(Event{Event::Type::kTimeout, now_ + t.delay_ms, 0, n.id, nullptr, t.step, t.height, t.round, {}});
    return {};
  }

  Actions Do(SimNode& n, const action::Decide& d) {
    auto it = n.blocks.find(d.block);
    if (it == n.blocks.end() || d.height != n.chain.size() + 1) {
      failure_ = "validator " + std::to_string(n.id) + " decided height " + std::to_string(d.height) +
                 " without the block or out of order";
      return {};
    }
    const BlockPtr& b = it->second;
    if (Honest(n)) {
      auto [known, inserted] = decided_.try_emplace(d.height, d.block);
      if (!inserted && known->second != d.block) {
        failure_ = "safety: two honest validators finalised different blocks at height " + std::to_string(d.height);
        return {};
      }
      if (!n.chain.empty() && b->time_ms <= n.chain.back()->time_ms) {
        failure_ = "BFT time went backwards at height " + std::to_string(d.height);
        return {};
      }
      trace_ = (trace_ ^ (n.id + 1) * 0x100000001b3ULL ^ d.height) * 0x9e3779b97f4a7c15ULL;
      uint64_t h8 = 0;
      for (int i = 0; i < 8; ++i) h8 = (h8 << 8) | b->hash.data[i];
      trace_ = (trace_ ^ h8 ^ b->time_ms) * 0xbf58476d1ce4e5b9ULL;
    }
    n.chain.push_back(b);
    n.commits.push_back(d.precommits);
    n.deciding = true;
    Push(Event{Event::Type::kStartHeight, now_ + kCommitWaitMs, 0, n.id, nullptr, Step::kPropose, d.height + 1, 0, {}});
    return {};
  }

  Actions Do(SimNode& n, const action::Evidence& e) {
    if (e.first.validator != e.second.validator || e.first.block == e.second.block) {
      failure_ = "malformed evidence";
    } else if (!nodes_[e.first.validator].byzantine) {
      failure_ = "evidence against honest validator " + std::to_string(e.first.validator);
    } else if (Honest(n)) {
      n.evidence.push_back(e);
    }
    return {};
  }

  Actions Do(SimNode& n, const action::RequestBlock& r) {
    auto m = std::make_shared<Msg>();
    m->kind = Msg::Kind::kBlockRequest;
    m->from = n.id;
    m->height = r.height;
    m->hash = r.block;
    Broadcast(n.id, m);
    return {};
  }

  const Options o_;
  Rng rng_;
  ValidatorSet set_;
  Hash256 genesis_;
  std::vector<SimNode> nodes_;
  std::vector<int> group_;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  uint64_t now_ = kStartMs;
  uint64_t seq_ = 0;
  uint64_t delivered_ = 0, dropped_ = 0, trace_ = 0;
  uint64_t height_at_heal_ = 0;
  std::map<uint64_t, Hash256> decided_;
  std::map<uint32_t, uint64_t> max_round_;
  std::string failure_;
};

}  // namespace

Report Run(const Options& options) { return Sim(options).Run(); }

}  // namespace kontor::sim
