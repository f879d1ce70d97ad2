// Damage and crashes: a flipped byte anywhere in a stored block or state entry is found by
// replay at its height; a writer killed at random points always reopens at a whole block
// whose state matches a replay; damaged indexes, a forged tip commit, a missing store and an
// undecodable record are each refused with a message naming them.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <random>
#include <thread>

#include "contracts/records.h"
#include "ledger/accounts.h"
#include "ledger/block.h"
#include "ledger/chain.h"
#include "ledger/check.h"
#include "ledger/codec.h"
#include "ledger/replay.h"
#include "tests/support/test_env.h"

using namespace kontor;
using kontor::test::TestEnv;
namespace fs = std::filesystem;

namespace {

fs::path FreshDir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("kontor-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(p);
  return p;
}

Result PutRaw(Store& store, const std::string& key, const std::string& value) {
  WriteBatch batch;
  batch.Put(key, value);
  return store.Write(batch);
}

// Blocks: 1 alice->bob, 2 carol->dave, 3 alice->bob.
void BuildThreeBlocks(TestEnv& env) {
  env.Submit(env.Transfer("alice", "bob", "USDC", 10));
  REQUIRE(env.Close().rejected.empty());
  env.Submit(env.Transfer("carol", "dave", "USDC", 20));
  REQUIRE(env.Close().rejected.empty());
  env.Submit(env.Transfer("alice", "bob", "USDC", 30));
  REQUIRE(env.Close().rejected.empty());
}

ReplayReport ReplayOf(TestEnv& env, Result* result) {
  ReplayReport report;
  *result = Replay(env.chain().store(), env.genesis(), env.app(), env.chain().pool(), &report);
  return report;
}

}  // namespace

TEST_CASE("replay reports the height of any flipped byte in a stored block", "[replay][tamper]") {
  fs::path dir = FreshDir("tamper-block");
  {
    TestEnv env({.data_dir = dir.string()});
    BuildThreeBlocks(env);
    Result ok;
    ReplayOf(env, &ok);
    REQUIRE(ok.ok());
    for (uint64_t height = 1; height <= 3; ++height) {
      std::string original;
      REQUIRE(env.chain().store().Get(store_keys::Block(height), &original).ok());
      for (size_t i = 0; i < original.size(); ++i) {
        std::string damaged = original;
        damaged[i] ^= 0x01;
        REQUIRE(PutRaw(env.chain().store(), store_keys::Block(height), damaged).ok());
        Result r;
        ReplayReport report = ReplayOf(env, &r);
        INFO("height " << height << " byte " << i << ": " << r.ToString());
        REQUIRE_FALSE(r.ok());
        CHECK(report.failed_height == height);
        CHECK(report.verified_height == height - 1);
      }
      REQUIRE(PutRaw(env.chain().store(), store_keys::Block(height), original).ok());
    }
    Result again;
    ReplayOf(env, &again);
    CHECK(again.ok());
  }
  fs::remove_all(dir);
}

TEST_CASE("replay reports the height of a damaged state entry, and the node refuses to open", "[replay][tamper]") {
  fs::path dir = FreshDir("tamper-state");
  Hash256 carol_key;
  {
    TestEnv env({.data_dir = dir.string()});
    BuildThreeBlocks(env);
    carol_key = AccountKey(env.Pub("carol"));  // last written at height 2
    std::string original;
    REQUIRE(env.chain().store().Get(store_keys::StateEntry(carol_key), &original).ok());
    REQUIRE(GetBigEndian64(original) == 2);
    for (size_t i = 0; i < original.size(); ++i) {
      std::string damaged = original;
      damaged[i] ^= 0x40;
      REQUIRE(PutRaw(env.chain().store(), store_keys::StateEntry(carol_key), damaged).ok());
      Result r;
      ReplayReport report = ReplayOf(env, &r);
      INFO("byte " << i << ": " << r.ToString());
      CHECK(r.code() == Code::kStateMismatch);
      CHECK(report.failed_height == 2);
    }
    // Leave it damaged (a value byte) and close the node.
    std::string damaged = original;
    damaged.back() ^= 0x01;
    REQUIRE(PutRaw(env.chain().store(), store_keys::StateEntry(carol_key), damaged).ok());
  }
  REQUIRE_THROWS_WITH(TestEnv({.data_dir = dir.string()}), Catch::Contains("corruption") && Catch::Contains("replay"));
  fs::remove_all(dir);
}

TEST_CASE("a writer killed at random points reopens at a whole block matching a replay", "[crash]") {
  fs::path dir = FreshDir("crash");
  std::mt19937_64 rng(20261128);
  uint64_t last_height = 0;
  for (int round = 0; round < 20; ++round) {
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // Writer: commit blocks of 20 transfers as fast as possible until killed.
      try {
        TestEnv env({.data_dir = dir.string(), .sync = true, .seed = 7});
        const char* names[] = {"alice", "bob", "carol", "dave"};
        for (uint64_t i = 0;; ++i) {
          for (int t = 0; t < 20; ++t) env.Submit(env.Transfer(names[t % 4], names[(t + 1) % 4], "USDC", 1 + i % 5));
          env.Close();
        }
      } catch (...) {
        _exit(3);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 170));
    REQUIRE(kill(child, SIGKILL) == 0);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));  // it was still writing, not failed

    TestEnv env({.data_dir = dir.string(), .sync = true, .seed = 7});  // Open checks the state root
    uint64_t height = env.chain().height();
    CHECK(height >= last_height);
    last_height = height;
    Result r;
    ReplayReport report = ReplayOf(env, &r);
    INFO("round " << round << " height " << height << ": " << r.ToString());
    REQUIRE(r.ok());
    CHECK(report.verified_height == height);
    CHECK(report.state_root == env.chain().state().root());
  }
  CHECK(last_height > 0);
  fs::remove_all(dir);
}

// ---- Indexes, the tip's commit and an empty store: what opening checks and replay reports.

namespace {

// A three-block store at `dir` with `damage` applied to it, then closed.
void DamageThreeBlockStore(const fs::path& dir, const std::function<void(TestEnv&)>& damage) {
  TestEnv env({.data_dir = dir.string()});
  BuildThreeBlocks(env);
  damage(env);
}

std::string OpenError(const fs::path& dir) {
  try {
    TestEnv env({.data_dir = dir.string()});
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

Result ReplayStore(const fs::path& dir, ReplayReport* report) {
  TestEnv reference;  // same seed: same genesis and app
  StoreOptions options;
  options.path = dir.string();
  options.create_if_missing = false;
  std::unique_ptr<Store> store;
  Result r = Store::Open(options, &store);
  if (!r.ok()) return r;
  return Replay(*store, reference.genesis(), reference.app(), reference.chain().pool(), report);
}

Hash256 TxidAt(TestEnv& env, uint64_t height, int index) {
  v1::StoredBlock stored;
  KONTOR_CHECK(env.chain().GetBlock(height, &stored).ok());
  v1::Tx tx;
  KONTOR_CHECK(tx.ParseFromString(stored.block().txs(index)));
  return ComputeTxid(tx.body());
}

Result DeleteRaw(Store& store, const std::string& key) {
  WriteBatch batch;
  batch.Delete(key);
  return store.Write(batch);
}

}  // namespace

TEST_CASE("a missing tx index entry of a recent block stops opening and replay names its height", "[replay][tamper]") {
  fs::path dir = FreshDir("tamper-txindex");
  DamageThreeBlockStore(dir, [](TestEnv& env) {
    REQUIRE(DeleteRaw(env.chain().store(), store_keys::Tx(TxidAt(env, 2, 0))).ok());
  });
  std::string error = OpenError(dir);
  CHECK_THAT(error, Catch::Contains("block 2 tx 0") && Catch::Contains("tx index has no entry"));
  ReplayReport report;
  Result r = ReplayStore(dir, &report);
  CHECK(r.code() == Code::kCorruption);
  CHECK_THAT(r.message(), Catch::Contains("block 2 tx 0"));
  CHECK(report.failed_height == 2);
  CHECK(report.verified_height == 1);
  fs::remove_all(dir);
}

TEST_CASE("a tx index entry naming another place stops opening and replay names its height", "[replay][tamper]") {
  fs::path dir = FreshDir("tamper-txplace");
  DamageThreeBlockStore(dir, [](TestEnv& env) {
    std::string wrong;
    PutBigEndian64(&wrong, 1);  // block 1, where the tx of block 3 is not
    wrong += std::string("\0\0\0\0", 4);
    REQUIRE(PutRaw(env.chain().store(), store_keys::Tx(TxidAt(env, 3, 0)), wrong).ok());
  });
  CHECK_THAT(OpenError(dir), Catch::Contains("block 3 tx 0") && Catch::Contains("names another place"));
  ReplayReport report;
  Result r = ReplayStore(dir, &report);
  CHECK(r.code() == Code::kCorruption);
  CHECK(report.failed_height == 3);
  fs::remove_all(dir);
}

TEST_CASE("a missing block hash index entry stops opening and replay names its height", "[replay][tamper]") {
  fs::path dir = FreshDir("tamper-hashindex");
  DamageThreeBlockStore(dir, [](TestEnv& env) {
    v1::StoredBlock stored;
    REQUIRE(env.chain().GetBlock(1, &stored).ok());
    REQUIRE(DeleteRaw(env.chain().store(), store_keys::BlockHeight(BlockHash(stored.block().header()))).ok());
  });
  CHECK_THAT(OpenError(dir), Catch::Contains("block 1: its hash index entry is missing"));
  ReplayReport report;
  Result r = ReplayStore(dir, &report);
  CHECK(r.code() == Code::kCorruption);
  CHECK(report.failed_height == 1);
  CHECK(report.verified_height == 0);
  fs::remove_all(dir);
}

TEST_CASE("replay reports index entries for txs and blocks the chain does not hold", "[replay][tamper]") {
  fs::path dir = FreshDir("tamper-extra");
  SECTION("a tx index entry above the tip") {
    DamageThreeBlockStore(dir, [](TestEnv& env) {
      std::string location;
      PutBigEndian64(&location, 9);
      location += std::string("\0\0\0\0", 4);
      REQUIRE(PutRaw(env.chain().store(), store_keys::Tx(Hash256::FromBytes(std::string(32, '\x07'))), location).ok());
    });
    ReplayReport report;
    Result r = ReplayStore(dir, &report);
    CHECK(r.code() == Code::kCorruption);
    CHECK_THAT(r.message(), Catch::Contains("entry for height 9") && Catch::Contains("above the tip 3"));
  }
  SECTION("a tx index entry for a tx in no block") {
    DamageThreeBlockStore(dir, [](TestEnv& env) {
      std::string location;
      PutBigEndian64(&location, 2);
      location += std::string("\0\0\0\x05", 4);
      REQUIRE(PutRaw(env.chain().store(), store_keys::Tx(Hash256::FromBytes(std::string(32, '\x07'))), location).ok());
    });
    ReplayReport report;
    Result r = ReplayStore(dir, &report);
    CHECK(r.code() == Code::kCorruption);
    CHECK_THAT(r.message(), Catch::Contains("the tx index holds 4 entries for 3 committed txs"));
  }
  SECTION("a hash index entry for a block the chain does not hold") {
    DamageThreeBlockStore(dir, [](TestEnv& env) {
      std::string height;
      PutBigEndian64(&height, 2);
      REQUIRE(PutRaw(env.chain().store(), store_keys::BlockHeight(Hash256::FromBytes(std::string(32, '\x07'))), height).ok());
    });
    ReplayReport report;
    Result r = ReplayStore(dir, &report);
    CHECK(r.code() == Code::kCorruption);
    CHECK_THAT(r.message(), Catch::Contains("the block hash index holds 4 entries for 3 blocks"));
  }
  fs::remove_all(dir);
}

TEST_CASE("opening re-verifies the tip's stored commit certificate", "[tamper]") {
  fs::path dir = FreshDir("tamper-commit");
  DamageThreeBlockStore(dir, [](TestEnv& env) {
    v1::StoredBlock stored;
    REQUIRE(env.chain().GetBlock(3, &stored).ok());
    REQUIRE(stored.commit().signatures_size() == 1);
    std::string* signature = stored.mutable_commit()->mutable_signatures(0)->mutable_signature();
    (*signature)[10] ^= 0x01;
    REQUIRE(PutRaw(env.chain().store(), store_keys::Block(3), CanonicalBytes(stored)).ok());
  });
  std::string error = OpenError(dir);
  CHECK_THAT(error, Catch::Contains("commit certificate of tip block 3") && Catch::Contains("genesis validators"));
  fs::remove_all(dir);
}

TEST_CASE("opening walks the newest blocks: a block that is not its child's parent stops it", "[tamper]") {
  fs::path dir = FreshDir("tamper-link");
  DamageThreeBlockStore(dir, [](TestEnv& env) {
    v1::StoredBlock one;
    REQUIRE(env.chain().GetBlock(1, &one).ok());
    REQUIRE(PutRaw(env.chain().store(), store_keys::Block(2), CanonicalBytes(one)).ok());  // block 1 again at height 2
  });
  CHECK_THAT(OpenError(dir), Catch::Contains("header of block 2 is damaged"));
  fs::remove_all(dir);
}

TEST_CASE("a store that may not be created: a missing or empty one is refused and never started afresh", "[tamper]") {
  fs::path dir = FreshDir("tamper-nostore");
  TestEnv reference;
  ChainOptions options;
  options.store.path = dir.string();
  options.store.create_if_missing = false;
  std::unique_ptr<Chain> chain;
  SECTION("no directory") {
    Result r = Chain::Open(options, reference.genesis(), &reference.app(), &chain);
    CHECK(r.code() == Code::kNotFound);
    CHECK_THAT(r.message(), Catch::Contains("no CURRENT file"));
    CHECK_FALSE(fs::exists(dir));
  }
  SECTION("an empty directory") {
    fs::create_directories(dir);
    Result r = Chain::Open(options, reference.genesis(), &reference.app(), &chain);
    CHECK(r.code() == Code::kNotFound);
    CHECK(fs::is_empty(dir));
  }
  SECTION("a LevelDB store without a genesis record") {
    StoreOptions create;
    create.path = dir.string();
    std::unique_ptr<Store> empty;
    REQUIRE(Store::Open(create, &empty).ok());
    empty.reset();
    Result r = Chain::Open(options, reference.genesis(), &reference.app(), &chain);
    CHECK(r.code() == Code::kNotFound);
    CHECK_THAT(r.message(), Catch::Contains("no genesis record"));
  }
  CHECK(chain == nullptr);
  fs::remove_all(dir);
}

TEST_CASE("a record that does not decode stops the node whatever its kind", "[tamper]") {
  struct Thrown : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  SetDamagedRecordHandler([](uint8_t, std::string_view, const std::string& message) { throw Thrown(message); });
  TestEnv env;
  State state;
  StateDelta delta(&state);
  const std::string garbage = "\xff\xff\xff";  // not a protobuf message of any kind
  SECTION("an account") {
    delta.Put(AccountKey(env.Pub("alice")), garbage);
    CHECK_THROWS_WITH(LoadAccount(delta, env.Pub("alice")),
                      Catch::Contains("kind 1") && Catch::Contains("does not decode") && Catch::Contains("backup") &&
                          Catch::Contains("kontor audit replay"));
  }
  SECTION("an asset") {
    delta.Put(AssetKey("USDC"), garbage);
    CHECK_THROWS_WITH(LoadAsset(delta, "USDC"), Catch::Contains("kind 2") && Catch::Contains(HexEncode("USDC")));
  }
  SECTION("an application record") {
    delta.Put(StateKey(static_cast<uint8_t>(contracts::Kind::kProvider), env.Pub("bob").view()), garbage);
    CHECK_THROWS_WITH(contracts::Load<v1::Provider>(delta, contracts::Kind::kProvider, env.Pub("bob").view()),
                      Catch::Contains("kind 16") && Catch::Contains("does not decode"));
  }
  SetDamagedRecordHandler(nullptr);
}
