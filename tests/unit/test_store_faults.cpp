// Damage and crashes: a flipped byte anywhere in a stored block or state entry is found by
// replay at its height; a writer killed at random points always reopens at a whole block
// whose state matches a replay.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "ledger/accounts.h"
#include "ledger/chain.h"
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
