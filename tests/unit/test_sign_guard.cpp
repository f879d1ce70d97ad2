// Never sign twice (node/sign_guard.h): the last signed (height, round, step, block) is on disk
// before a signature is returned, and survives a reopen (a restart after kill -9).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "ledger/hash.h"
#include "ledger/keys.h"
#include "node/sign_guard.h"

using namespace kontor;
using namespace kontor::node;

namespace {

struct Dir {
  std::filesystem::path path;
  Dir() {
    path = std::filesystem::temp_directory_path() / ("kontor-sign-guard-" + std::to_string(::getpid()) + "-" +
                                                     std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~Dir() { std::filesystem::remove_all(path); }
};

Hash256 H(char c) { return Hash256::FromBytes(std::string(32, c)); }

SignRequest Req(uint64_t h, uint32_t r, SignStep step, std::optional<Hash256> block, uint64_t ts = 1000) {
  SignRequest q;
  q.height = h;
  q.round = r;
  q.step = step;
  q.block = block;
  q.timestamp_ms = ts;
  q.message = TaggedHash("test/message", std::to_string(h) + "/" + std::to_string(r) + "/" +
                                             std::to_string(static_cast<int>(step)) + "/" +
                                             (block ? block->hex() : "nil") + "/" + std::to_string(ts));
  return q;
}

}  // namespace

TEST_CASE("sign guard: signs forward, re-sends the same vote, refuses a conflicting or earlier one", "[sign_guard]") {
  Dir dir;
  SeededRandom random(7);
  const PrivateKey key = GeneratePrivateKey(random);
  const auto file = dir.path / "sign_state.json";
  std::unique_ptr<SignGuard> guard;
  REQUIRE(SignGuard::Open(file, &key, &guard).ok());
  CHECK_FALSE(guard->last().has_value());

  Signed s;
  SignRequest prevote = Req(5, 0, SignStep::kPrevote, H('a'), 1000);
  REQUIRE(guard->Sign(prevote, &s).ok());
  CHECK_FALSE(s.resent);
  CHECK(s.timestamp_ms == 1000);
  CHECK(VerifySignature(key.public_key(), prevote.message, s.signature));
  CHECK(std::filesystem::exists(file));

  SECTION("the same vote again (a later clock) gets the first signature and timestamp") {
    Signed again;
    REQUIRE(guard->Sign(Req(5, 0, SignStep::kPrevote, H('a'), 2000), &again).ok());
    CHECK(again.resent);
    CHECK(again.signature == s.signature);
    CHECK(again.timestamp_ms == 1000);
  }
  SECTION("another block, or nil, at the same height, round and step is refused") {
    Signed other;
    Result r = guard->Sign(Req(5, 0, SignStep::kPrevote, H('b')), &other);
    CHECK(r.code() == Code::kDoubleSign);
    CHECK_THAT(r.message(), Catch::Contains("equivocation") && Catch::Contains("height 5 round 0 prevote"));
    CHECK(guard->Sign(Req(5, 0, SignStep::kPrevote, std::nullopt), &other).code() == Code::kDoubleSign);
  }
  SECTION("an earlier step, round or height is refused") {
    Signed other;
    CHECK(guard->Sign(Req(5, 0, SignStep::kProposal, H('a')), &other).code() == Code::kDoubleSign);
    CHECK(guard->Sign(Req(4, 9, SignStep::kPrecommit, H('a')), &other).code() == Code::kDoubleSign);
    REQUIRE(guard->Sign(Req(5, 2, SignStep::kPrevote, std::nullopt), &other).ok());
    Result r = guard->Sign(Req(5, 1, SignStep::kPrecommit, H('a')), &other);
    CHECK(r.code() == Code::kDoubleSign);
    CHECK_THAT(r.message(), Catch::Contains("already signed height 5 round 2 prevote"));
  }
  SECTION("a later step, round or height is signed") {
    Signed next;
    CHECK(guard->Sign(Req(5, 0, SignStep::kPrecommit, H('a')), &next).ok());
    CHECK(guard->Sign(Req(5, 1, SignStep::kProposal, H('c')), &next).ok());
    CHECK(guard->Sign(Req(6, 0, SignStep::kPrevote, std::nullopt), &next).ok());
    CHECK_FALSE(next.resent);
  }
  SECTION("a reopened guard (after a crash) remembers the last signature") {
    guard.reset();
    std::unique_ptr<SignGuard> reopened;
    REQUIRE(SignGuard::Open(file, &key, &reopened).ok());
    REQUIRE(reopened->last().has_value());
    CHECK(reopened->last()->height == 5);
    Signed again;
    REQUIRE(reopened->Sign(Req(5, 0, SignStep::kPrevote, H('a'), 3000), &again).ok());
    CHECK(again.resent);
    CHECK(again.signature == s.signature);
    CHECK(again.timestamp_ms == 1000);
    CHECK(reopened->Sign(Req(5, 0, SignStep::kPrevote, H('b')), &again).code() == Code::kDoubleSign);
  }
}

TEST_CASE("sign guard: a damaged state file is refused, naming the file", "[sign_guard]") {
  Dir dir;
  SeededRandom random(8);
  const PrivateKey key = GeneratePrivateKey(random);
  const auto file = dir.path / "sign_state.json";
  for (const std::string& text : {std::string("{"), std::string("[]"), std::string("{\"height\": 1}"),
                                  std::string("{\"height\":1,\"round\":0,\"step\":\"vote\",\"block\":\"nil\",\"timestamp_ms\":1,"
                                              "\"message\":\"00\",\"signature\":\"00\"}")}) {
    std::ofstream(file) << text;
    std::unique_ptr<SignGuard> guard;
    Result r = SignGuard::Open(file, &key, &guard);
    INFO(text);
    CHECK(r.code() == Code::kCorruption);
    CHECK_THAT(r.message(), Catch::Contains(file.string()) && Catch::Contains("refusing to sign"));
  }
}
