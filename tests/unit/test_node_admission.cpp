// The node's admission path in process (node/node.cpp, node/grpc_service.cpp), without gRPC:
// duplicates pending and committed, the next-nonce hint with txs pending, the dry run of a
// payer's next tx, and every mapping from a result code to a gRPC status.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>

#include "ledger/accounts.h"
#include "ledger/check.h"
#include "node/grpc_service.h"
#include "node/home.h"
#include "node/node.h"
#include "tests/support/test_env.h"

using namespace kontor;
using namespace kontor::node;
using kontor::test::TestEnv;
using kontor::test::TxOptions;

namespace {

// A node on a temp store whose producer makes a block 50 ms after work arrives.
struct NodeFixture {
  TestEnv env;
  std::filesystem::path home;
  std::unique_ptr<Node> node;

  explicit NodeFixture(uint64_t block_interval_ms = 50) {
    home = std::filesystem::temp_directory_path() /
           ("kontor-admission-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    std::filesystem::create_directories(home);
    Config config;
    config.home = home;
    config.block_interval_ms = block_interval_ms;
    config.sync_writes = false;
    REQUIRE(CreateChainStore(config, env.genesis()).ok());  // what `kontord init` does
    node = std::make_unique<Node>(config, env.genesis(), env.validator());
    Result r = node->Start();
    INFO(r.ToString());
    REQUIRE(r.ok());
  }
  ~NodeFixture() {
    node.reset();
    std::error_code ec;
    std::filesystem::remove_all(home, ec);
  }
  Result SubmitOne(const std::string& envelope) { return node->Submit({envelope})[0].second; }
  uint64_t NextNonce(const std::string& name) {
    uint64_t height = 0, next = 0;
    bool exists = false;
    node->GetAccount(env.Pub(name), &height, &exists, &next);
    return next;
  }
  // Waits until `txid` is committed (at most ~10 s).
  bool WaitCommitted(const Hash256& txid) {
    for (int i = 0; i < 200; ++i) {
      if (node->GetTx(txid).status == TxStatusInfo::Status::kCommitted) return true;
      node->WaitForBlockAbove(node->GetStatus().height, std::chrono::milliseconds(50));
    }
    return false;
  }
};

}  // namespace

TEST_CASE("admission: a tx already pending is kDuplicate, and so is one already committed", "[node][admission]") {
  NodeFixture f(400);
  std::string tx = f.env.Transfer("alice", "bob", "USDC", 5);
  Hash256 txid = TestEnv::Txid(tx);
  REQUIRE(f.SubmitOne(tx).ok());
  Result again = f.SubmitOne(tx);
  CHECK(again.code() == Code::kDuplicate);
  CHECK_THAT(again.message(), Catch::Contains("already pending"));
  REQUIRE(f.WaitCommitted(txid));
  Result after = f.SubmitOne(tx);
  CHECK(after.code() == Code::kDuplicate);
  CHECK_THAT(after.message(), Catch::Contains("already committed"));
  CHECK(f.node->GetStatus().mempool_txs == 0);
}

TEST_CASE("admission: the next-nonce hint counts the payer's pending txs", "[node][admission]") {
  NodeFixture f(60'000);  // no block while we look
  CHECK(f.NextNonce("alice") == 0);
  REQUIRE(f.SubmitOne(f.env.Transfer("alice", "bob", "USDC", 1)).ok());
  CHECK(f.NextNonce("alice") == 1);
  REQUIRE(f.SubmitOne(f.env.Transfer("alice", "bob", "USDC", 1)).ok());
  REQUIRE(f.SubmitOne(f.env.Transfer("alice", "bob", "USDC", 1)).ok());
  CHECK(f.NextNonce("alice") == 3);
  CHECK(f.NextNonce("bob") == 0);  // another payer's hint is its own
  // A tx behind a gap does not move the hint: the next nonce to send is still 3.
  REQUIRE(f.SubmitOne(f.env.Transfer("alice", "bob", "USDC", 1, TxOptions{.nonce = 5})).ok());
  CHECK(f.NextNonce("alice") == 3);
}

TEST_CASE("admission: a payer's next tx is run against committed state at once", "[node][admission]") {
  NodeFixture f(60'000);
  // More USDC than alice has: refused at admission with the ledger's code, not dropped later.
  Result r = f.SubmitOne(f.env.Transfer("alice", "bob", "USDC", 2'000'000'000));
  CHECK(r.code() == Code::kInsufficientFunds);
  CHECK(f.node->GetStatus().mempool_txs == 0);
  // The nonce below the committed one and a bad signature have their codes too.
  std::string ok = f.env.Transfer("alice", "bob", "USDC", 1, TxOptions{.nonce = 0});
  REQUIRE(f.SubmitOne(ok).ok());
  std::string tampered = f.env.Transfer("bob", "alice", "USDC", 1);
  tampered[tampered.size() - 1] ^= 1;  // the last byte belongs to the signature
  CHECK(f.SubmitOne(tampered).code() == Code::kBadSignature);
  CHECK(f.SubmitOne(f.env.Transfer("alice", "bob", "USDC", 1, TxOptions{.chain_id = "other-chain"})).code() ==
        Code::kWrongChain);
  CHECK(f.node->GetStatus().mempool_txs == 1);
}

TEST_CASE("gRPC status: each result code maps to its status, with the detail attached", "[node][grpc]") {
  struct Row {
    Code code;
    grpc::StatusCode status;
  };
  const Row rows[] = {
      {Code::kOk, grpc::StatusCode::OK},
      {Code::kMalformed, grpc::StatusCode::INVALID_ARGUMENT},
      {Code::kNonCanonical, grpc::StatusCode::INVALID_ARGUMENT},
      {Code::kFeeTooLow, grpc::StatusCode::INVALID_ARGUMENT},
      {Code::kBadSignature, grpc::StatusCode::PERMISSION_DENIED},
      {Code::kNotAuthorized, grpc::StatusCode::PERMISSION_DENIED},
      {Code::kBadNonce, grpc::StatusCode::FAILED_PRECONDITION},
      {Code::kMismatch, grpc::StatusCode::FAILED_PRECONDITION},
      {Code::kWrongState, grpc::StatusCode::FAILED_PRECONDITION},
      {Code::kNotFound, grpc::StatusCode::NOT_FOUND},
      {Code::kDuplicate, grpc::StatusCode::ALREADY_EXISTS},
      {Code::kInsufficientFunds, grpc::StatusCode::FAILED_PRECONDITION},
      {Code::kInsufficientCapacity, grpc::StatusCode::FAILED_PRECONDITION},
      {Code::kNonceGap, grpc::StatusCode::UNAVAILABLE},
      {Code::kMempoolFull, grpc::StatusCode::RESOURCE_EXHAUSTED},
      {Code::kUnavailable, grpc::StatusCode::UNAVAILABLE},
      {Code::kBadBlock, grpc::StatusCode::INVALID_ARGUMENT},
      {Code::kStateMismatch, grpc::StatusCode::INVALID_ARGUMENT},
      {Code::kStorage, grpc::StatusCode::INTERNAL},
      {Code::kCorruption, grpc::StatusCode::INTERNAL},
  };
  for (const Row& row : rows) {
    Result r = row.code == Code::kOk ? Result::Ok() : Result(row.code, "why");
    grpc::Status status = ToStatus(r);
    INFO(CodeName(row.code));
    CHECK(status.error_code() == row.status);
    if (row.code == Code::kOk) continue;
    CHECK(status.error_message() == r.ToString());
    v1::ErrorDetail detail;
    REQUIRE(DetailOf(status, &detail));
    CHECK(detail.code() == static_cast<unsigned>(row.code));
    CHECK(detail.name() == std::string(CodeName(row.code)));
    CHECK(detail.category() == std::string(CodeCategory(row.code)));
    CHECK(detail.message() == "why");
  }
}

namespace {

// A transfer signed by a key that is not in the TestEnv (an attacker's fresh key).
std::string StrangerTransfer(TestEnv& env, const PrivateKey& key, uint64_t nonce, uint64_t fee) {
  v1::TxBody body;
  body.set_chain_id(env.genesis().chain_id);
  body.add_signers(key.public_key().bytes());
  body.set_nonce(nonce);
  body.set_fee(fee);
  auto* t = body.mutable_transfer();
  t->set_to(env.Pub("bob").bytes());
  t->set_asset("USDC");
  t->set_amount(1);
  v1::Tx tx;
  tx.set_body(EncodeTxBody(body));
  KONTOR_CHECK(SignTx(&tx, key, env.random()).ok());
  return EncodeTx(tx);
}

}  // namespace

TEST_CASE("admission: a flood from unfunded keys takes no slot and a funded minimum-fee tx still commits",
          "[node][admission][flood]") {
  // The flood of issue 8: 200 new keys, each sending nonces 1..255 (never 0), claiming fees
  // nobody could outbid, with no expiry. Every one is refused; the mempool stays empty.
  NodeFixture f(200);
  SeededRandom random(77);
  const uint64_t fees[] = {10, 1'000'000'000'000'000'000ull, UINT64_MAX};
  size_t refused = 0, sent = 0;
  std::map<Code, size_t> codes;
  for (int k = 0; k < 200; ++k) {
    PrivateKey key = GeneratePrivateKey(random);
    std::vector<std::string> batch;
    for (uint64_t nonce = 1; nonce <= 255; ++nonce) batch.push_back(StrangerTransfer(f.env, key, nonce, fees[nonce % 3]));
    if (k % 10 == 0) batch.push_back(StrangerTransfer(f.env, key, 0, fees[k % 3]));  // and sometimes nonce 0
    sent += batch.size();
    for (const auto& [txid, r] : f.node->Submit(batch)) {
      refused += !r.ok();
      ++codes[r.code()];
    }
  }
  INFO("codes: " << codes.size());
  CHECK(refused == sent);
  CHECK(sent > 51'000);
  CHECK(f.node->GetStatus().mempool_txs == 0);
  for (const auto& [code, n] : codes) CHECK((code == Code::kInsufficientFunds || code == Code::kNonceGap));
  // A funded payer's minimum-fee transfer is accepted and committed in the next block.
  std::string honest = f.env.Transfer("alice", "bob", "USDC", 5, TxOptions{.fee = f.env.genesis().params.min_fee});
  Hash256 txid = TestEnv::Txid(honest);
  const uint64_t height = f.node->GetStatus().height;
  REQUIRE(f.SubmitOne(honest).ok());
  REQUIRE(f.WaitCommitted(txid));
  CHECK(f.node->GetTx(txid).height == height + 1);
}

TEST_CASE("admission: a funded payer cannot queue more than it can pay", "[node][admission][flood]") {
  NodeFixture f(60'000);  // no block while we look
  // alice holds 1000 USDC (1e9 units): three transfers of 400 USDC, the third is not covered.
  REQUIRE(f.SubmitOne(f.env.Transfer("alice", "bob", "USDC", 400'000'000)).ok());
  REQUIRE(f.SubmitOne(f.env.Transfer("alice", "bob", "USDC", 400'000'000)).ok());
  Result third = f.SubmitOne(f.env.Transfer("alice", "bob", "USDC", 400'000'000));
  CHECK(third.code() == Code::kInsufficientFunds);
  // Fees count too: KTR (the fee asset) spent by a transfer of KTR plus its fee.
  Result ktr = f.SubmitOne(f.env.Transfer("bob", "alice", "KTR", 1'000'000'000, TxOptions{.nonce = 0}));
  CHECK(ktr.code() == Code::kInsufficientFunds);
  CHECK(f.SubmitOne(f.env.Transfer("bob", "alice", "KTR", 1'000'000'000 - 10, TxOptions{.nonce = 0})).ok());
  CHECK(f.node->GetStatus().mempool_txs == 3);
}
