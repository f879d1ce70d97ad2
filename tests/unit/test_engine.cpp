// The consensus engine (node/consensus_engine.h) with real chains, keys and sign guards: several
// validators in one process, their messages passed through an in-memory network with a manual
// clock. Every validator finalises the same blocks, txs commit everywhere, the chain goes on
// with one validator offline and halts without forking with two, and one validator alone is
// the same protocol with n = 1.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <deque>
#include <filesystem>
#include <map>

#include "contracts/app.h"
#include "ledger/accounts.h"
#include "ledger/block.h"
#include "ledger/codec.h"
#include "ledger/genesis.h"
#include "ledger/tx.h"
#include "node/consensus_engine.h"

using namespace kontor;
using namespace kontor::node;

namespace {

constexpr uint64_t kStartMs = 1'800'000'000'000;

struct Cluster;

struct Member final : EngineHost {
  Cluster* cluster = nullptr;
  size_t index = 0;
  contracts::KontorApp app;
  std::unique_ptr<Chain> chain;
  std::unique_ptr<SignGuard> guard;
  std::unique_ptr<ConsensusEngine> engine;
  std::vector<std::string> candidates;
  std::vector<Hash256> committed;  // block hashes, by height - 1
  std::vector<v1::DuplicateVoteEvidence> evidence;

  uint64_t NowMs() override;
  void Broadcast(const v1::ConsensusMessage& message) override;
  void ScheduleTimeout(uint64_t delay_ms, consensus::Step step, uint64_t height, uint32_t round) override;
  std::vector<std::string> Candidates() override { return candidates; }
  void Committed(const ExecutedBlock& block, const std::vector<RejectedTx>&) override {
    committed.push_back(block.block.hash);
    REQUIRE(block.commit.height() == block.block.header.height());
    std::vector<std::string> left;
    for (const std::string& c : candidates) {
      if (!chain->FindTx(TxidOf(c), nullptr).ok()) left.push_back(c);
    }
    candidates = left;
  }
  void Evidence(const v1::DuplicateVoteEvidence& e) override { evidence.push_back(e); }
  void WantBlock(uint64_t, const Hash256&) override {}

  static Hash256 TxidOf(const std::string& envelope) {
    v1::Tx tx;
    REQUIRE(tx.ParseFromString(envelope));
    return ComputeTxid(tx.body());
  }
};

struct Cluster {
  uint64_t now = kStartMs;
  uint64_t seq = 0;
  uint64_t quiet = 0;
  std::vector<PrivateKey> keys;
  std::optional<PrivateKey> alice, bob;
  Genesis genesis;
  std::vector<std::unique_ptr<Member>> members;
  std::vector<bool> offline;
  std::deque<std::pair<size_t, v1::ConsensusMessage>> inbox;
  std::map<std::pair<uint64_t, uint64_t>, std::tuple<size_t, consensus::Step, uint64_t, uint32_t>> timers;
  std::filesystem::path dir;

  explicit Cluster(size_t n) {
    SeededRandom random(11 + n);
    Genesis g;
    g.chain_id = "kontor-engine-test";
    g.genesis_time_ms = kStartMs - 1000;
    g.assets.push_back({"KTR", 6, std::nullopt});
    g.params.fee_asset = "KTR";
    g.params.min_fee = 0;
    for (size_t i = 0; i < n; ++i) {
      keys.push_back(GeneratePrivateKey(random));
      g.validators.push_back({keys.back().public_key(), 1, "validator-" + std::to_string(i)});
    }
    alice = GeneratePrivateKey(random);
    bob = GeneratePrivateKey(random);
    g.balances.push_back({alice->public_key(), "KTR", 1'000'000});
    Result r = ParseGenesis(WriteGenesisJson(g), &genesis);
    INFO(r.ToString());
    REQUIRE(r.ok());
    dir = std::filesystem::temp_directory_path() / ("kontor-engine-" + std::to_string(::getpid()) + "-" + std::to_string(n));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    offline.assign(n, false);
    for (size_t i = 0; i < n; ++i) {
      auto m = std::make_unique<Member>();
      m->cluster = this;
      m->index = i;
      ChainOptions options;
      options.store.in_memory = true;
      options.store.sync = false;
      options.threads = 1;
      REQUIRE(Chain::Open(options, genesis, &m->app, &m->chain).ok());
      REQUIRE(SignGuard::Open(dir / ("sign-" + std::to_string(i) + ".json"), &keys[i], &m->guard).ok());
      EngineOptions eo;
      REQUIRE(ConsensusEngine::Make(eo, *m->chain, &keys[i], m->guard.get(), *m, &m->engine).ok());
      members.push_back(std::move(m));
    }
    for (auto& m : members) m->engine->Start();
  }
  ~Cluster() { std::filesystem::remove_all(dir); }

  // Runs until `done` or the step budget: messages first (in order), then the earliest timer;
  // every online validator has work waiting (it is activated) whenever the network is quiet.
  bool Run(const std::function<bool()>& done, size_t steps = 200'000) {
    for (size_t i = 0; i < steps; ++i) {
      if (done()) return true;
      if (!inbox.empty()) {
        auto [to, message] = std::move(inbox.front());
        inbox.pop_front();
        if (!offline[to]) {
          Result r = members[to]->engine->OnMessage(message);
          INFO(r.ToString());
          CHECK(r.ok());  // honest peers send nothing to refuse
        }
        continue;
      }
      for (size_t m = 0; m < members.size(); ++m) {
        if (!offline[m]) members[m]->engine->Activate();
      }
      if (!inbox.empty()) continue;
      // What the peer layer does when the network is quiet: a validator ahead sends a peer still
      // at an earlier height the commit it lacks, and everyone sends this height's messages again.
      if (++quiet % 4 == 0) {
        for (size_t a = 0; a < members.size(); ++a) {
          if (offline[a]) continue;
          for (size_t b = 0; b < members.size(); ++b) {
            if (offline[b] || members[b]->engine->height() >= members[a]->engine->height()) continue;
            v1::ConsensusMessage m;
            if (members[a]->engine->CommitFor(members[b]->engine->height(), &m).ok()) inbox.emplace_back(b, m);
          }
          for (const auto& m : members[a]->engine->Resend()) members[a]->Broadcast(m);
        }
        if (!inbox.empty()) continue;
      }
      if (timers.empty()) return done();
      auto it = timers.begin();
      now = std::max(now, it->first.first);
      auto [who, step, height, round] = it->second;
      timers.erase(it);
      if (!offline[who]) members[who]->engine->OnTimeout(step, height, round);
    }
    return done();
  }

  bool AllAt(uint64_t height, bool online_only = true) const {
    for (size_t i = 0; i < members.size(); ++i) {
      if (online_only && offline[i]) continue;
      if (members[i]->chain->height() < height) return false;
    }
    return true;
  }

  std::string Transfer(uint64_t nonce, uint64_t amount) {
    v1::TxBody body;
    body.set_chain_id(genesis.chain_id);
    body.add_signers(alice->public_key().bytes());
    body.set_nonce(nonce);
    body.set_expiry_height(1000);
    body.mutable_transfer()->set_to(bob->public_key().bytes());
    body.mutable_transfer()->set_asset("KTR");
    body.mutable_transfer()->set_amount(amount);
    v1::Tx tx;
    tx.set_body(EncodeTxBody(body));
    SeededRandom random(nonce + 99);
    REQUIRE(SignTx(&tx, *alice, random).ok());
    return EncodeTx(tx);
  }
};

uint64_t Member::NowMs() { return cluster->now; }

void Member::Broadcast(const v1::ConsensusMessage& message) {
  if (cluster->offline[index]) return;
  for (size_t to = 0; to < cluster->members.size(); ++to) {
    if (to != index) cluster->inbox.emplace_back(to, message);
  }
}

void Member::ScheduleTimeout(uint64_t delay_ms, consensus::Step step, uint64_t height, uint32_t round) {
  cluster->timers.emplace(std::make_pair(cluster->now + delay_ms, cluster->seq++), std::make_tuple(index, step, height, round));
}

// Same block at every height that both have.
void CheckAgreement(const Cluster& c) {
  for (size_t i = 1; i < c.members.size(); ++i) {
    const auto& a = c.members[0]->committed;
    const auto& b = c.members[i]->committed;
    for (size_t h = 0; h < std::min(a.size(), b.size()); ++h) {
      INFO("validator " << i << " height " << h + 1);
      CHECK(a[h] == b[h]);
    }
  }
}

}  // namespace

TEST_CASE("engine: four validators finalise the same blocks, with certificates of at least three", "[engine]") {
  Cluster c(4);
  REQUIRE(c.Run([&] { return c.AllAt(5); }));
  CheckAgreement(c);
  for (auto& m : c.members) {
    for (uint64_t h = 1; h <= 5; ++h) {
      v1::StoredBlock stored;
      REQUIRE(m->chain->GetBlock(h, &stored).ok());
      CHECK(stored.commit().signatures_size() >= 3);
      CHECK(VerifyCommit(stored.commit(), c.genesis, h, BlockHash(stored.block().header())).ok());
    }
    // BFT time: strictly increasing block times from the genesis time on.
    uint64_t previous = 0;
    for (uint64_t h = 1; h <= 5; ++h) {
      v1::StoredBlock stored;
      REQUIRE(m->chain->GetBlock(h, &stored).ok());
      v1::BlockHeader header;
      REQUIRE(header.ParseFromString(stored.block().header()));
      if (h == 1) CHECK(header.time_ms() == c.genesis.genesis_time_ms);
      CHECK(header.time_ms() > previous);
      previous = header.time_ms();
    }
    CHECK(m->evidence.empty());
  }
  // Every validator proposed: the proposers of heights 1..4 are four different keys.
  std::set<std::string> proposers;
  for (uint64_t h = 1; h <= 4; ++h) {
    v1::StoredBlock stored;
    REQUIRE(c.members[0]->chain->GetBlock(h, &stored).ok());
    v1::BlockHeader header;
    REQUIRE(header.ParseFromString(stored.block().header()));
    proposers.insert(header.proposer());
  }
  CHECK(proposers.size() == 4);
}

TEST_CASE("engine: a tx given to every validator commits once, with the same state everywhere", "[engine]") {
  Cluster c(4);
  const std::string tx = c.Transfer(0, 250);
  for (auto& m : c.members) m->candidates = {tx};
  REQUIRE(c.Run([&] {
    for (auto& m : c.members)
      if (!m->candidates.empty()) return false;
    return c.AllAt(2);
  }));
  CheckAgreement(c);
  const Hash256 root = c.members[0]->chain->state().root();
  for (auto& m : c.members) {
    CHECK(m->chain->state().root() == root);
    CHECK(BalanceOf(LoadAccount(m->chain->state(), c.bob->public_key()), "KTR") == 250);
  }
}

TEST_CASE("engine: with one of four offline the chain goes on, with two it halts without forking", "[engine]") {
  Cluster c(4);
  REQUIRE(c.Run([&] { return c.AllAt(2); }));
  c.offline[3] = true;
  REQUIRE(c.Run([&] { return c.AllAt(6); }));
  CheckAgreement(c);
  c.offline[2] = true;
  const uint64_t stuck = c.members[0]->chain->height();
  c.Run([&] { return false; }, 20'000);
  CHECK(c.members[0]->chain->height() <= stuck + 1);
  CHECK(c.members[1]->chain->height() <= stuck + 1);
  CheckAgreement(c);
  // Back online: the halted validators resume together.
  c.offline[2] = c.offline[3] = false;
  REQUIRE(c.Run([&] { return c.AllAt(stuck + 3); }));
  CheckAgreement(c);
}

TEST_CASE("engine: one validator alone is the same protocol with n = 1", "[engine]") {
  Cluster c(1);
  c.members[0]->candidates = {c.Transfer(0, 7)};
  REQUIRE(c.Run([&] { return c.AllAt(3); }));
  CHECK(BalanceOf(LoadAccount(c.members[0]->chain->state(), c.bob->public_key()), "KTR") == 7);
  // Its sign guard holds its last precommit.
  REQUIRE(c.members[0]->guard->last().has_value());
  CHECK(c.members[0]->guard->last()->height >= 3);
}

TEST_CASE("engine: a validator restarted mid-height (state machine lost) never signs a conflicting vote", "[engine]") {
  Cluster c(4);
  REQUIRE(c.Run([&] { return c.AllAt(2); }));
  // Let validator 1 vote at the next height, then "kill -9" it: a new engine and sign guard
  // from the same chain and guard file, nothing else kept.
  REQUIRE(c.Run([&] {
    const auto& last = c.members[1]->guard->last();
    return last && last->height == 3 && last->step != SignStep::kProposal;
  }));
  Member& m = *c.members[1];
  const SignGuard::Last before = *m.guard->last();
  m.engine.reset();
  m.guard.reset();
  REQUIRE(SignGuard::Open(c.dir / "sign-1.json", &c.keys[1], &m.guard).ok());
  REQUIRE(m.guard->last()->signature == before.signature);
  REQUIRE(ConsensusEngine::Make(EngineOptions{}, *m.chain, &c.keys[1], m.guard.get(), m, &m.engine).ok());
  m.engine->Start();
  REQUIRE(c.Run([&] { return c.AllAt(6); }));
  CheckAgreement(c);
  for (auto& member : c.members) CHECK(member->evidence.empty());
}

TEST_CASE("engine: one proposer's blocks at a height are bounded, and bad proposals are refused", "[engine]") {
  Cluster c(4);
  Member& target = *c.members[0];
  // Validator 1 proposes rounds 0, 4, 8, ... of height 1 (equal powers: (height + round) mod 4).
  auto proposal = [&](uint32_t round, uint64_t amount, size_t signer = 1) {
    std::vector<std::string> txs{c.Transfer(0, amount)};
    std::vector<std::string_view> views(txs.begin(), txs.end());
    ExecutedBlock built;
    std::vector<RejectedTx> rejected;
    REQUIRE(c.members[1]->chain->BuildNext(views, v1::Commit(), c.keys[1].public_key(), &built, &rejected).ok());
    v1::ConsensusMessage m;
    v1::Proposal* p = m.mutable_proposal()->mutable_proposal()->mutable_proposal();
    p->set_chain_id(c.genesis.chain_id);
    p->set_height(1);
    p->set_round(round);
    p->set_block_hash(built.block.hash.bytes());
    p->set_timestamp_ms(built.block.header.time_ms());
    SeededRandom random(round);
    Signature64 sig = c.keys[signer].Sign(ProposalMessage(*p), random.Array<32>());
    m.mutable_proposal()->mutable_proposal()->set_proposer(c.keys[signer].public_key().bytes());
    m.mutable_proposal()->mutable_proposal()->set_signature(std::string(reinterpret_cast<const char*>(sig.data()), 64));
    *m.mutable_proposal()->mutable_block() = built.block.block;
    return m;
  };
  for (uint32_t i = 0; i < 4; ++i) {
    Result r = target.engine->OnMessage(proposal(4 * i, 100 + i));
    INFO(r.ToString());
    CHECK(r.ok());
  }
  Result flood = target.engine->OnMessage(proposal(16, 200));
  CHECK(flood.code() == Code::kTooLarge);
  CHECK_THAT(flood.message(), Catch::Contains("already has 4 candidate blocks"));
  // Not the round's proposer (validator 2 signs round 0's), a damaged signature, another chain.
  CHECK(target.engine->OnMessage(proposal(0, 300, 2)).code() == Code::kNotAuthorized);
  v1::ConsensusMessage damaged = proposal(0, 301);
  damaged.mutable_proposal()->mutable_proposal()->mutable_signature()->at(7) ^= 1;
  CHECK(target.engine->OnMessage(damaged).code() == Code::kBadSignature);
  v1::ConsensusMessage other = proposal(0, 302);
  other.mutable_proposal()->mutable_proposal()->mutable_proposal()->set_chain_id("other");
  CHECK(target.engine->OnMessage(other).code() == Code::kWrongChain);
  v1::ConsensusMessage swapped = proposal(0, 303);
  *swapped.mutable_proposal()->mutable_block() = proposal(4, 304).proposal().block();
  CHECK(target.engine->OnMessage(swapped).code() == Code::kBadField);
}
