// Block validation, commit certificates, restart and replay: a follower chain must accept
// exactly the blocks the proposer made and reject every tampered variant with its code.
#include <catch2/catch.hpp>

#include <filesystem>

#include "ledger/accounts.h"
#include "ledger/codec.h"
#include "ledger/hash.h"
#include "ledger/merkle.h"
#include "ledger/replay.h"
#include "tests/support/delegating_app.h"
#include "tests/support/test_env.h"

using namespace kontor;
using kontor::test::TestEnv;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("kontor-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path);
  }
  ~TempDir() { fs::remove_all(path); }
  static inline int counter = 0;
};

// A second chain on the same genesis that validates what `env` produces.
std::unique_ptr<Chain> Follower(TestEnv& env, const std::string& dir = "") {
  ChainOptions options;
  options.store.in_memory = dir.empty();
  options.store.path = dir;
  options.store.sync = false;
  options.threads = 2;
  std::unique_ptr<Chain> chain;
  REQUIRE(Chain::Open(options, env.genesis(), &env.app(), &chain).ok());
  return chain;
}

// Produces one block with a couple of transfers and returns it with its commit.
std::pair<v1::Block, v1::Commit> ProduceTransfers(TestEnv& env) {
  env.Submit(env.Transfer("alice", "bob", "USDC", 1'000));
  env.Submit(env.Transfer("carol", "dave", "KTR", 2'000));
  auto closed = env.Close();
  REQUIRE(closed.rejected.empty());
  return {closed.block.block.block, closed.block.commit};
}

v1::BlockHeader Header(const v1::Block& block) {
  v1::BlockHeader h;
  REQUIRE(h.ParseFromString(block.header()));
  return h;
}

// Re-signs a modified header so only the field under test is wrong (the commit is valid).
std::pair<v1::Block, v1::Commit> Resign(TestEnv& env, v1::Block block, const v1::BlockHeader& header) {
  block.set_header(CanonicalBytes(header));
  v1::Commit commit = MakeCommit(env.genesis().chain_id, header.height(), 0, BlockHash(block.header()),
                                 {&env.validator()}, header.time_ms() + 1, env.random());
  return {block, commit};
}

}  // namespace

TEST_CASE("a follower accepts the proposer's blocks and reaches the same state root", "[chain]") {
  TestEnv env;
  auto follower = Follower(env);
  for (int i = 0; i < 3; ++i) {
    auto [block, commit] = ProduceTransfers(env);
    REQUIRE(follower->CommitBlock(block, commit).ok());
  }
  CHECK(follower->height() == 3);
  CHECK(follower->state().root() == env.chain().state().root());
  CHECK(follower->tip().hash == env.chain().tip().hash);
}

TEST_CASE("CommitBlocks pipelines a run of blocks and stops at the first bad one", "[chain]") {
  TestEnv env;
  std::vector<std::pair<v1::Block, v1::Commit>> blocks;
  for (int i = 0; i < 4; ++i) blocks.push_back(ProduceTransfers(env));
  auto follower = Follower(env);
  size_t committed = 0;
  REQUIRE(follower->CommitBlocks(blocks, &committed).ok());
  CHECK(committed == 4);
  CHECK(follower->state().root() == env.chain().state().root());

  auto second = Follower(env);
  auto broken = blocks;
  broken[2].first.mutable_txs(0)->back() ^= 1;  // damage a signature byte of block 3
  Result r = second->CommitBlocks(broken, &committed);
  CHECK(r.code() != Code::kOk);
  CHECK(committed == 2);
  CHECK(second->height() == 2);
}

TEST_CASE("tampered blocks are rejected with their code and change nothing", "[chain][reject]") {
  TestEnv env;
  auto [block, commit] = ProduceTransfers(env);
  auto follower = Follower(env);
  Hash256 root = follower->state().root();
  v1::BlockHeader h = Header(block);

  auto rejects = [&](const std::pair<v1::Block, v1::Commit>& bad, Code code) {
    Result r = follower->CommitBlock(bad.first, bad.second);
    INFO(r.ToString());
    CHECK(r.code() == code);
    CHECK(follower->height() == 0);
    CHECK(follower->state().root() == root);
  };

  SECTION("a block that does not follow the tip") {
    auto second = ProduceTransfers(env);  // a valid block 2, offered at height 0
    rejects(second, Code::kBadHeight);
  }
  SECTION("block 2 without, or with a damaged, last commit") {
    auto [block2, commit2] = ProduceTransfers(env);
    REQUIRE(follower->CommitBlock(block, commit).ok());
    root = follower->state().root();
    auto missing = block2;
    missing.clear_last_commit();
    Result r = follower->CommitBlock(missing, commit2);
    CHECK(r.code() == Code::kBadCommit);
    CHECK_THAT(r.message(), Catch::Contains("last_commit is missing"));
    auto damaged = block2;
    damaged.mutable_last_commit()->mutable_signatures(0)->mutable_signature()->at(3) ^= 1;
    r = follower->CommitBlock(damaged, commit2);
    CHECK(r.code() == Code::kBadCommit);
    CHECK(follower->height() == 1);
    CHECK(follower->state().root() == root);
    REQUIRE(follower->CommitBlock(block2, commit2).ok());
    return;
  }
  SECTION("wrong prev hash") { auto x = h; x.set_prev_hash(std::string(32, 'x')); rejects(Resign(env, block, x), Code::kBadPrevHash); }
  SECTION("time before the parent") { auto x = h; x.set_time_ms(env.genesis().genesis_time_ms - 1); rejects(Resign(env, block, x), Code::kBadTime); }
  SECTION("wrong tx root") { auto x = h; x.set_tx_root(std::string(32, 'r')); rejects(Resign(env, block, x), Code::kBadTxRoot); }
  SECTION("wrong state root") { auto x = h; x.set_state_root(std::string(32, 's')); rejects(Resign(env, block, x), Code::kBadStateRoot); }
  SECTION("wrong validators hash") { auto x = h; x.set_validators_hash(std::string(32, 'v')); rejects(Resign(env, block, x), Code::kBadBlock); }
  SECTION("wrong last commit hash") { auto x = h; x.set_last_commit_hash(std::string(32, 'c')); rejects(Resign(env, block, x), Code::kBadCommit); }
  SECTION("proposer not a validator") { auto x = h; x.set_proposer(env.Pub("alice").bytes()); rejects(Resign(env, block, x), Code::kBadBlock); }
  SECTION("tx count differs") { auto x = h; x.set_tx_count(3); rejects(Resign(env, block, x), Code::kBadBlock); }
  SECTION("other chain") { auto x = h; x.set_chain_id("other"); rejects(Resign(env, block, x), Code::kWrongChain); }
  SECTION("header not canonical") {
    auto bad = block;
    bad.set_header(block.header() + std::string("\xa0\x06\x01", 3));  // unknown field 100
    rejects({bad, commit}, Code::kNonCanonical);
  }
  SECTION("commit signed by a non-validator") {
    v1::Commit c = MakeCommit(env.genesis().chain_id, 1, 0, BlockHash(block.header()), {&env.Key("alice")}, env.now_ms(), env.random());
    rejects({block, c}, Code::kBadCommit);
  }
  SECTION("commit with a damaged signature") {
    v1::Commit c = commit;
    c.mutable_signatures(0)->mutable_signature()->at(5) ^= 1;
    rejects({block, c}, Code::kBadCommit);
  }
  SECTION("commit without signatures") {
    v1::Commit c = commit;
    c.clear_signatures();
    rejects({block, c}, Code::kBadCommit);
  }
  SECTION("commit for another block") {
    v1::Commit c = commit;
    c.set_block_hash(std::string(32, 'z'));
    rejects({block, c}, Code::kBadCommit);
  }
  SECTION("a tx with a bad signature inside the block") {
    auto bad = block;
    bad.mutable_txs(1)->back() ^= 1;
    v1::BlockHeader x = h;
    std::vector<Hash256> leaves;
    for (const auto& tx : bad.txs()) leaves.push_back(MerkleLeafHash(tx));
    x.set_tx_root(MerkleRoot(leaves).bytes());
    rejects(Resign(env, bad, x), Code::kBadTxInBlock);
  }
  SECTION("a tx dropped from the block") {
    auto bad = block;
    bad.mutable_txs()->RemoveLast();
    rejects({bad, commit}, Code::kBadBlock);
  }
}

TEST_CASE("a block whose tx fails in execution is rejected and names the tx", "[chain][reject]") {
  TestEnv env;
  auto follower = Follower(env);
  // Alice's nonce-1 transfer without her nonce-0 one: the follower must refuse the block.
  env.Submit(env.Transfer("alice", "bob", "KTR", 5, {.nonce = 0}));
  auto closed = env.Close();
  v1::Block block = closed.block.block.block;
  auto tx = env.Transfer("alice", "bob", "KTR", 5, {.nonce = 1});
  block.clear_txs();
  *block.add_txs() = tx;
  v1::BlockHeader h = Header(block);
  h.set_tx_root(MerkleRoot({MerkleLeafHash(tx)}).bytes());
  h.set_tx_count(1);
  auto bad = Resign(env, block, h);
  Result r = follower->CommitBlock(bad.first, bad.second);
  CHECK(r.code() == Code::kBadTxInBlock);
  CHECK_THAT(r.message(), Catch::Contains("tx 0"));
  CHECK_THAT(r.message(), Catch::Contains("nonce 0 expected, got 1"));
  CHECK(follower->height() == 0);
}

TEST_CASE("a restarted chain resumes at its tip with the same state", "[chain][store]") {
  TempDir dir;
  Hash256 root, tip;
  uint64_t bob_usdc = 0;
  {
    TestEnv env({.data_dir = dir.path.string(), .sync = true});
    for (int i = 0; i < 3; ++i) ProduceTransfers(env);
    root = env.chain().state().root();
    tip = env.chain().tip().hash;
    bob_usdc = env.Balance("bob", "USDC");
  }
  TestEnv again({.data_dir = dir.path.string(), .sync = true});  // same seed: same genesis
  CHECK(again.chain().height() == 3);
  CHECK(again.chain().state().root() == root);
  CHECK(again.chain().tip().hash == tip);
  CHECK(again.Balance("bob", "USDC") == bob_usdc);
  // And it goes on from there.
  ProduceTransfers(again);
  CHECK(again.chain().height() == 4);
}

TEST_CASE("a store of another genesis is refused, and a second opener is locked out", "[chain][store]") {
  TempDir dir;
  TestEnv env({.data_dir = dir.path.string()});
  ProduceTransfers(env);
  // Same directory, still open: LevelDB's lock refuses a second opener.
  {
    auto second = std::unique_ptr<Chain>();
    ChainOptions options;
    options.store.path = dir.path.string();
    Result r = Chain::Open(options, env.genesis(), &env.app(), &second);
    CHECK(r.code() == Code::kStorage);
    CHECK_THAT(r.message(), Catch::Contains("locked"));
  }
  TempDir other_dir;
  {
    TestEnv first({.data_dir = other_dir.path.string()});
    ProduceTransfers(first);
  }
  TestEnv different_seed({.seed = 99});
  ChainOptions options;
  options.store.path = other_dir.path.string();
  std::unique_ptr<Chain> chain;
  Result r = Chain::Open(options, different_seed.genesis(), &different_seed.app(), &chain);
  CHECK(r.code() == Code::kMismatch);
  CHECK_THAT(r.message(), Catch::Contains("another chain"));
}

TEST_CASE("replay verifies a whole store and reproduces its state root", "[replay]") {
  TempDir dir;
  TestEnv env({.data_dir = dir.path.string()});
  for (int i = 0; i < 5; ++i) ProduceTransfers(env);
  env.Close();  // an empty block too
  ReplayReport report;
  REQUIRE(Replay(env.chain().store(), env.genesis(), env.app(), env.chain().pool(), &report).ok());
  CHECK(report.tip_height == 6);
  CHECK(report.verified_height == 6);
  CHECK(report.txs == 10);
  CHECK(report.state_root == env.chain().state().root());
}

TEST_CASE("state proofs verify against recent roots", "[chain][state]") {
  TestEnv env;
  ProduceTransfers(env);
  Hash256 key = AccountKey(env.Pub("bob"));
  StateProof proof;
  Hash256 root;
  REQUIRE(env.chain().state().Prove(key, 1, &proof, &root).ok());
  v1::StoredBlock stored;
  REQUIRE(env.chain().GetBlock(1, &stored).ok());
  CHECK(root == Hash256::FromBytes(Header(stored.block()).state_root()));
  auto value = env.chain().state().Get(key);
  REQUIRE(value);
  CHECK(VerifyStateProof(root, key, std::string_view(*value), proof).ok());
  Hash256 absent = AccountKey(env.Pub("nobody"));
  StateProof none;
  REQUIRE(env.chain().state().Prove(absent, 1, &none, &root).ok());
  CHECK(VerifyStateProof(root, absent, std::nullopt, none).ok());
  CHECK(env.chain().state().Prove(key, 7, &proof, &root).code() == Code::kNotFound);
}

namespace {
// The real application, except that a transfer with memo "mint" also credits 1 unit out of
// nowhere: a stand-in for an application bug the invariants must catch.
class MintingApp final : public kontor::test::DelegatingApp {
 public:
  Result Apply(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) override {
    KONTOR_RETURN_IF_ERROR(real_.Apply(tx, env, s));
    if (tx.body.has_transfer() && tx.body.transfer().memo() == "mint") {
      v1::Account a = LoadAccount(s, tx.fee_payer());
      KONTOR_RETURN_IF_ERROR(Credit(&a, "USDC", 1));
      StoreAccount(s, tx.fee_payer(), a);
    }
    return Result::Ok();
  }
};
}  // namespace

TEST_CASE("a tx that would break an invariant is dropped, the block is still built", "[chain]") {
  TestEnv env;  // for keys, genesis and signing
  MintingApp app;
  ChainOptions options;
  options.store.in_memory = true;
  options.store.sync = false;
  std::unique_ptr<Chain> chain;
  REQUIRE(Chain::Open(options, env.genesis(), &app, &chain).ok());
  std::string good1 = env.Transfer("alice", "bob", "USDC", 5);
  std::string bad = env.Build({"carol"}, [&](v1::TxBody& b) {
    b.mutable_transfer()->set_to(env.Pub("bob").bytes());
    b.mutable_transfer()->set_asset("USDC");
    b.mutable_transfer()->set_amount(5);
    b.mutable_transfer()->set_memo("mint");
  });
  std::string good2 = env.Transfer("dave", "bob", "USDC", 5);
  ExecutedBlock produced;
  std::vector<RejectedTx> rejected;
  REQUIRE(chain->ProduceBlock({good1, bad, good2}, env.now_ms() + 1000, env.validator(), env.random(), &produced, &rejected).ok());
  CHECK(chain->height() == 1);
  CHECK(produced.block.txs.size() == 2);
  REQUIRE(rejected.size() == 1);
  CHECK(rejected[0].index == 1);
  CHECK(rejected[0].result.code() == Code::kInvariantBroken);
  CHECK_THAT(rejected[0].result.message(), Catch::Contains("supply of USDC"));
  CHECK(BalanceOf(LoadAccount(chain->state(), env.Pub("bob")), "USDC") == 1'000'000'000 + 10);
  // A validator running the real rules accepts the block.
  auto follower = Follower(env);
  CHECK(follower->CommitBlock(produced.block.block, produced.commit).ok());
}
