// The node and its store (node/node.cpp, node/home.cpp): the durable tip in tip.json refuses a
// store that was rolled back, the pinned genesis refuses an edited genesis.json, a missing store
// is never replaced, and a failing disk stops admission, turns /healthz unhealthy and is retried
// until the disk works again.
#include <arpa/inet.h>
#include <leveldb/env.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "node/home.h"
#include "node/http_server.h"
#include "node/node.h"
#include "tests/support/test_env.h"

using namespace kontor;
using namespace kontor::node;
using kontor::test::TestEnv;
namespace fs = std::filesystem;

namespace {

// Appends fail with ENOSPC's message while `full` is set (what a full disk does to LevelDB).
class FullDiskEnv : public leveldb::EnvWrapper {
 public:
  FullDiskEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}
  std::atomic<bool> full{false};

  leveldb::Status NewWritableFile(const std::string& name, leveldb::WritableFile** out) override {
    leveldb::Status s = target()->NewWritableFile(name, out);
    if (s.ok()) *out = new File(*out, full);
    return s;
  }
  leveldb::Status NewAppendableFile(const std::string& name, leveldb::WritableFile** out) override {
    leveldb::Status s = target()->NewAppendableFile(name, out);
    if (s.ok()) *out = new File(*out, full);
    return s;
  }

 private:
  class File : public leveldb::WritableFile {
   public:
    File(leveldb::WritableFile* base, std::atomic<bool>& full) : base_(base), full_(full) {}
    leveldb::Status Append(const leveldb::Slice& data) override {
      if (full_) return leveldb::Status::IOError("injected", "No space left on device");
      return base_->Append(data);
    }
    leveldb::Status Close() override { return base_->Close(); }
    leveldb::Status Flush() override { return base_->Flush(); }
    leveldb::Status Sync() override { return base_->Sync(); }

   private:
    std::unique_ptr<leveldb::WritableFile> base_;
    std::atomic<bool>& full_;
  };
};

struct Home {
  TestEnv env;
  Config config;
  Home() {
    config.home = fs::temp_directory_path() /
                  ("kontor-node-store-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(config.home);
    config.block_interval_ms = 30;
    config.sync_writes = false;
    REQUIRE(CreateChainStore(config, env.genesis()).ok());
  }
  ~Home() {
    std::error_code ec;
    fs::remove_all(config.home, ec);
  }
  std::unique_ptr<Node> NewNode(leveldb::Env* store_env = nullptr) {
    auto node = std::make_unique<Node>(config, env.genesis(), env.validator());
    if (store_env) node->SetStoreEnvForTesting(store_env);
    return node;
  }
  // Starts a node, commits `blocks` blocks of one transfer each, stops it; returns the tip.
  uint64_t CommitBlocks(int blocks) {
    auto node = NewNode();
    REQUIRE(node->Start().ok());
    for (int i = 0; i < blocks; ++i) {
      uint64_t before = node->GetStatus().height;
      REQUIRE(node->Submit({env.Transfer("alice", "bob", "USDC", 1 + i)})[0].second.ok());
      REQUIRE(WaitFor([&] { return node->GetStatus().height > before && node->GetStatus().mempool_txs == 0; }));
    }
    return node->GetStatus().height;
  }
  template <typename F>
  static bool WaitFor(F done, int ms = 10000) {
    for (int i = 0; i < ms / 10; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  }
};

std::string HttpGet(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "";
  }
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  (void)!::write(fd, request.data(), request.size());
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) response.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return response;
}

}  // namespace

TEST_CASE("node store: tip.json follows every committed block", "[node][store]") {
  Home home;
  DurableTip tip;
  REQUIRE(ReadDurableTip(home.config.home, &tip).ok());
  CHECK(tip.height == 0);
  CHECK(tip.genesis == home.env.genesis().hash);
  CHECK(tip.hash == home.env.genesis().hash);
  uint64_t height = home.CommitBlocks(3);
  REQUIRE(ReadDurableTip(home.config.home, &tip).ok());
  CHECK(tip.height == height);
  auto node = home.NewNode();
  REQUIRE(node->Start().ok());
  CHECK(node->GetStatus().hash == tip.hash);
  CHECK_FALSE(fs::exists(home.config.home / "tip.json.tmp"));
}

TEST_CASE("node store: a store rolled back below tip.json is refused naming the missing blocks", "[node][store][tamper]") {
  Home home;
  home.CommitBlocks(2);
  const fs::path data = home.config.DataPath();
  const fs::path saved = home.config.home / "data-at-2";
  fs::copy(data, saved, fs::copy_options::recursive);
  uint64_t height = home.CommitBlocks(2);
  REQUIRE(height == 4);
  DurableTip tip;
  REQUIRE(ReadDurableTip(home.config.home, &tip).ok());
  fs::remove_all(data);
  fs::rename(saved, data);  // an older copy of data/, as a truncated LevelDB log leaves it

  auto node = home.NewNode();
  Result r = node->Start();
  CHECK(r.code() == Code::kCorruption);
  CHECK_THAT(r.message(), Catch::Contains("the store ends at height 2 but this node committed up to height 4") &&
                              Catch::Contains("blocks 3..4 are missing") && Catch::Contains(tip.hash.hex()) &&
                              Catch::Contains("backup"));
}

TEST_CASE("node store: another block at tip.json's height is refused", "[node][store][tamper]") {
  Home home;
  home.CommitBlocks(1);
  DurableTip tip;
  REQUIRE(ReadDurableTip(home.config.home, &tip).ok());
  tip.hash = Hash256::FromBytes(std::string(32, '\x05'));
  REQUIRE(WriteDurableTip(home.config.home, tip).ok());
  Result r = home.NewNode()->Start();
  CHECK(r.code() == Code::kCorruption);
  CHECK_THAT(r.message(), Catch::Contains("but this node committed " + tip.hash.hex()));
}

TEST_CASE("node store: a missing or emptied store in an initialised home is refused", "[node][store][tamper]") {
  Home home;
  home.CommitBlocks(1);
  const fs::path data = home.config.DataPath();
  SECTION("data/ removed") { fs::remove_all(data); }
  SECTION("data/ emptied") {
    fs::remove_all(data);
    fs::create_directories(data);
  }
  SECTION("CURRENT deleted") { fs::remove(data / "CURRENT"); }
  Result r = home.NewNode()->Start();
  CHECK(r.code() == Code::kNotFound);
  CHECK_THAT(r.message(), Catch::Contains("no chain store in this home") && Catch::Contains("will not start a new chain"));
  CHECK_FALSE(fs::exists(data / "CURRENT"));
}

TEST_CASE("node store: a genesis other than the pinned one is refused even before the first block", "[node][store]") {
  Home home;
  Genesis edited = home.env.genesis();
  edited.hash = Hash256::FromBytes(std::string(32, '\x09'));  // what an edited genesis.json hashes to
  auto node = std::make_unique<Node>(home.config, edited, home.env.validator());
  Result r = node->Start();
  CHECK(r.code() == Code::kMismatch);
  CHECK_THAT(r.message(), Catch::Contains("is not the genesis this home was initialised with") &&
                              Catch::Contains(home.env.genesis().hash.hex()) && Catch::Contains("--adopt-genesis"));
}

TEST_CASE("node store: a full disk stops admission and health and is retried with back-off until it resumes", "[node][store]") {
  Home home;
  FullDiskEnv disk;
  auto node = home.NewNode(&disk);
  REQUIRE(node->Start().ok());
  HttpServer http(*node);
  int port = 0;
  REQUIRE(http.Start("127.0.0.1:0", &port).ok());
  CHECK_THAT(HttpGet(port, "/healthz"), Catch::Contains("200 OK") && Catch::Contains("\"status\":\"ok\""));

  disk.full = true;
  std::string first = home.env.Transfer("alice", "bob", "USDC", 7);
  REQUIRE(node->Submit({first})[0].second.ok());  // admitted: nothing has failed yet
  REQUIRE(Home::WaitFor([&] { return node->GetStatus().commit_failures >= 2; }));
  Node::Status status = node->GetStatus();
  REQUIRE(status.commit_failure.has_value());
  CHECK_THAT(status.commit_failure->message(), Catch::Contains("No space left on device"));
  CHECK(status.height == 0);

  Result refused = node->Submit({home.env.Transfer("carol", "bob", "USDC", 1)})[0].second;
  CHECK(refused.code() == Code::kUnavailable);
  CHECK_THAT(refused.message(), Catch::Contains("cannot commit blocks") && Catch::Contains("No space left on device"));
  std::string health = HttpGet(port, "/healthz");
  CHECK_THAT(health, Catch::Contains("503") && Catch::Contains("\"status\":\"cannot_commit\"") &&
                         Catch::Contains("No space left on device"));

  // Back-off: with 30 ms blocks, the delays 30, 60, 120, 240... leave few attempts in 600 ms.
  uint64_t attempts_before = node->GetStatus().commit_failures;
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(node->GetStatus().commit_failures - attempts_before <= 5);

  disk.full = false;
  REQUIRE(Home::WaitFor([&] { return node->GetTx(TestEnv::Txid(first)).status == TxStatusInfo::Status::kCommitted; }));
  status = node->GetStatus();
  CHECK_FALSE(status.commit_failure.has_value());
  CHECK(status.commit_failures == 0);
  CHECK(node->Submit({home.env.Transfer("carol", "bob", "USDC", 2)})[0].second.ok());
  CHECK_THAT(HttpGet(port, "/healthz"), Catch::Contains("200 OK"));
  DurableTip tip;
  REQUIRE(ReadDurableTip(home.config.home, &tip).ok());
  CHECK(tip.height >= 1);
  http.Stop();
}
