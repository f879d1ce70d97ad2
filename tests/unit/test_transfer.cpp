// Scenario tests for transfers and the generic tx rules (nonce, fee, expiry, signatures),
// through the in-process TestEnv. Each asserts code, balances and that state is unchanged
// by a rejection.
#include <catch2/catch.hpp>

#include "ledger/accounts.h"
#include "ledger/bech32m.h"
#include "tests/support/test_env.h"

using namespace kontor;
using kontor::test::TestEnv;
using kontor::test::TxOptions;

namespace {
constexpr uint64_t kFunding = 1'000'000'000;
}

TEST_CASE("transfer moves funds, charges the fee to the proposer, bumps the nonce", "[transfer]") {
  TestEnv env;
  auto tx = env.Transfer("alice", "bob", "USDC", 5'000'000, {.fee = 25});
  Hash256 txid = TestEnv::Txid(tx);
  REQUIRE(env.Apply(tx).ok());
  CHECK(env.Balance("alice", "USDC") == kFunding - 5'000'000);
  CHECK(env.Balance("bob", "USDC") == kFunding + 5'000'000);
  CHECK(env.Balance("alice", "KTR") == kFunding - 25);
  CHECK(BalanceOf(LoadAccount(env.chain().state(), env.validator().public_key()), "KTR") == 25);
  CHECK(env.Nonce("alice") == 1);
  CHECK(env.Nonce("bob") == 0);
  TxLocation where;
  REQUIRE(env.chain().FindTx(txid, &where).ok());
  CHECK(where.height == 1);
  CHECK(where.index == 0);
}

TEST_CASE("a transfer to a new key creates its account", "[transfer]") {
  TestEnv env;
  REQUIRE(env.Apply(env.Transfer("alice", "nobody", "KTR", 700)).ok());
  CHECK(env.Balance("nobody", "KTR") == 700);
  // The new account can pay fees and send on.
  REQUIRE(env.Apply(env.Transfer("nobody", "bob", "KTR", 600, {.fee = 10})).ok());
  CHECK(env.Balance("nobody", "KTR") == 90);
  CHECK(env.Balance("bob", "KTR") == kFunding + 600);
}

TEST_CASE("several txs of one sender in one block apply in nonce order", "[transfer]") {
  TestEnv env;
  for (int i = 0; i < 5; ++i) env.Submit(env.Transfer("alice", "bob", "USDC", 100));
  auto closed = env.Close();
  CHECK(closed.included == 5);
  CHECK(closed.rejected.empty());
  CHECK(env.Nonce("alice") == 5);
  CHECK(env.Balance("bob", "USDC") == kFunding + 500);
}

namespace {
struct Rejection {
  Code code;
  std::string text;
  const std::string& message() const { return text; }
};
// Applies `tx` in a block and checks it was rejected with `code`, leaving the state root as it was.
Rejection RejectedWith(TestEnv& env, const std::string& tx, Code code) {
  Hash256 root_before = env.chain().state().root();
  Result r = env.Apply(tx);
  INFO(r.ToString());
  CHECK(r.code() == code);
  CHECK(env.chain().state().root() == root_before);
  return {r.code(), r.message()};
}
}  // namespace

TEST_CASE("insufficient funds names have and need with decimals", "[transfer][reject]") {
  TestEnv env({.funding = 120'000'000});
  Rejection r = RejectedWith(env, env.Transfer("alice", "bob", "USDC", 500'000'000), Code::kInsufficientFunds);
  CHECK_THAT(r.message(), Catch::Contains("balance 120.000000 USDC < 500.000000 USDC"));
  CHECK(env.Balance("alice", "USDC") == 120'000'000);
  CHECK(env.Nonce("alice") == 0);
}

TEST_CASE("nonce already used and nonce ahead are different codes", "[transfer][reject]") {
  TestEnv env;
  REQUIRE(env.Apply(env.Transfer("alice", "bob", "KTR", 1)).ok());
  Rejection used = RejectedWith(env, env.Transfer("alice", "bob", "KTR", 1, {.nonce = 0}), Code::kBadNonce);
  CHECK_THAT(used.message(), Catch::Contains("nonce 1 expected, got 0"));
  Rejection gap = RejectedWith(env, env.Transfer("alice", "bob", "KTR", 1, {.nonce = 9}), Code::kNonceGap);
  CHECK_THAT(gap.message(), Catch::Contains("nonce 1 expected, got 9"));
  CHECK(CodeCategory(gap.code) == "retry");
}

TEST_CASE("a replayed tx is rejected: a txid applies at most once", "[transfer][reject]") {
  TestEnv env;
  auto tx = env.Transfer("alice", "bob", "USDC", 10);
  REQUIRE(env.Apply(tx).ok());
  RejectedWith(env, tx, Code::kBadNonce);
  CHECK(env.Balance("bob", "USDC") == kFunding + 10);
}

TEST_CASE("expired tx is rejected", "[transfer][reject]") {
  TestEnv env;
  env.Close();  // height 1
  env.Close();  // height 2
  Rejection r = RejectedWith(env, env.Transfer("alice", "bob", "KTR", 1, {.expiry_height = 2}), Code::kExpired);
  CHECK_THAT(r.message(), Catch::Contains("expired at height 2"));
  // Expiry equal to the block height is still fine.
  CHECK(env.Apply(env.Transfer("alice", "bob", "KTR", 1, {.expiry_height = 4})).ok());
}

TEST_CASE("fee below the minimum, and a fee the payer cannot cover", "[transfer][reject]") {
  TestEnv env({.min_fee = 10});
  RejectedWith(env, env.Transfer("alice", "bob", "KTR", 1, {.fee = 9}), Code::kFeeTooLow);
  TestEnv poor({.funding = 5, .min_fee = 10});
  Rejection r = RejectedWith(poor, poor.Transfer("alice", "bob", "USDC", 1, {.fee = 10}), Code::kInsufficientFunds);
  CHECK_THAT(r.message(), Catch::Contains("cannot pay the fee"));
}

TEST_CASE("malformed transfers: zero amount, unknown asset, bad recipient, long memo", "[transfer][reject]") {
  TestEnv env;
  RejectedWith(env, env.Transfer("alice", "bob", "USDC", 0), Code::kBadAmount);
  Rejection unknown = RejectedWith(env, env.Transfer("alice", "bob", "DOGE", 1), Code::kUnknownAsset);
  CHECK_THAT(unknown.message(), Catch::Contains("DOGE"));
  std::string not_on_curve(32, '\0');
  not_on_curve[31] = 5;  // x = 5 is not on secp256k1
  if (IsValidPublicKey(Hash256::FromBytes(not_on_curve))) not_on_curve[31] = 7;
  REQUIRE_FALSE(IsValidPublicKey(Hash256::FromBytes(not_on_curve)));
  RejectedWith(env, env.Build({"alice"}, [&](v1::TxBody& b) {
    b.mutable_transfer()->set_to(not_on_curve);
    b.mutable_transfer()->set_asset("KTR");
    b.mutable_transfer()->set_amount(1);
  }), Code::kBadKey);
  RejectedWith(env, env.Build({"alice"}, [&](v1::TxBody& b) {
    b.mutable_transfer()->set_to(env.Pub("bob").bytes());
    b.mutable_transfer()->set_asset("KTR");
    b.mutable_transfer()->set_amount(1);
    b.mutable_transfer()->set_memo(std::string(257, 'x'));
  }), Code::kTooLarge);
  RejectedWith(env, env.Build({"alice", "bob"}, [&](v1::TxBody& b) {
    b.mutable_transfer()->set_to(env.Pub("carol").bytes());
    b.mutable_transfer()->set_asset("KTR");
    b.mutable_transfer()->set_amount(1);
  }), Code::kBadField);
}

TEST_CASE("envelope-level rejections: wrong chain, bad signature, missing signature", "[transfer][reject]") {
  TestEnv env;
  RejectedWith(env, env.Transfer("alice", "bob", "KTR", 1, {.chain_id = "other-chain"}), Code::kWrongChain);

  auto good = env.Transfer("alice", "bob", "KTR", 1, {.nonce = 0});
  v1::Tx tx;
  REQUIRE(tx.ParseFromString(good));
  std::string sig = tx.signatures(0).signature();
  sig[10] ^= 1;
  tx.mutable_signatures(0)->set_signature(sig);
  Rejection bad = RejectedWith(env, EncodeTx(tx), Code::kBadSignature);
  CHECK_THAT(bad.message(), Catch::Contains(EncodeAddress(env.Pub("alice"))));

  tx.clear_signatures();
  RejectedWith(env, EncodeTx(tx), Code::kMissingSignature);
  // A body whose chain_id claims 5 bytes and has none.
  RejectedWith(env, std::string("\x0a\x02\x0a\x05", 4), Code::kMalformed);
  CHECK(env.Nonce("alice") == 0);
}

TEST_CASE("a rejected tx does not stop the others in its block", "[transfer][reject]") {
  TestEnv env;
  env.Submit(env.Transfer("alice", "bob", "USDC", 1));
  auto bad = env.Transfer("carol", "bob", "USDC", kFunding + 1);
  env.Submit(bad);
  env.Submit(env.Transfer("dave", "bob", "USDC", 2));
  auto closed = env.Close();
  CHECK(closed.included == 2);
  REQUIRE(closed.rejected.size() == 1);
  CHECK(closed.ResultOf(TestEnv::Txid(bad)).code() == Code::kInsufficientFunds);
  CHECK(env.Balance("bob", "USDC") == kFunding + 3);
}
