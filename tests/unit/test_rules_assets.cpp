// Rule tests for moving assets (contracts/transfer.cpp, contracts/assets.cpp): every rejection
// path of CheckTransfer/ApplyTransfer, CheckAssetDeposit/ApplyAssetDeposit and
// CheckAssetWithdraw/ApplyAssetWithdraw with its own code; who may sign; every size limit at the
// limit, one below and one above. Complements tests/unit/test_transfer.cpp and the asset scenarios
// of tests/unit/test_contracts.cpp.
#include <catch2/catch.hpp>
#include <string>

#include "ledger/accounts.h"
#include "ledger/keys.h"
#include "tests/support/rules.h"
#include "tests/support/scenario.h"
#include "tests/support/test_env.h"

using namespace kontor;
using namespace kontor::test::scenario;
using namespace kontor::test::rules;
using kontor::test::TestEnv;

namespace {

// A 32-byte x coordinate that is not on secp256k1.
std::string NotOnCurve() {
  std::string key(32, '\0');
  for (char last = 5; last < 100; ++last) {
    key[31] = last;
    if (!IsValidPublicKey(Hash256::FromBytes(key))) return key;
  }
  FAIL("no off-curve key found");
  return key;
}

std::string TransferTx(TestEnv& env, const std::string& from, const std::string& to_key, const std::string& asset,
                       uint64_t amount, const std::string& memo = "") {
  return env.Build({from}, [&](v1::TxBody& b) {
    auto* t = b.mutable_transfer();
    t->set_to(to_key);
    t->set_asset(asset);
    t->set_amount(amount);
    t->set_memo(memo);
  });
}

}  // namespace

// ============================================================================================
// Transfer
// ============================================================================================

TEST_CASE("rules transfer: the asset symbol is 1 to 16 bytes", "[rules][transfer]") {
  TestEnv env;
  const std::string bob = env.Pub("bob").bytes();
  ExpectRejected(env, TransferTx(env, "alice", bob, "", 1), Code::kBadField);
  ExpectRejected(env, TransferTx(env, "alice", bob, std::string(17, 'A'), 1), Code::kBadField);
  // 16 bytes and 1 byte are well formed: the symbols do not exist, which is the next rule.
  ExpectRejected(env, TransferTx(env, "alice", bob, std::string(16, 'A'), 1), Code::kUnknownAsset);
  ExpectRejected(env, TransferTx(env, "alice", bob, std::string(15, 'A'), 1), Code::kUnknownAsset);
  ExpectRejected(env, TransferTx(env, "alice", bob, "A", 1), Code::kUnknownAsset);
  CHECK(env.Nonce("alice") == 0);
}

TEST_CASE("rules transfer: the memo is at most 256 bytes", "[rules][transfer]") {
  TestEnv env;
  const std::string bob = env.Pub("bob").bytes();
  ExpectOk(env, TransferTx(env, "alice", bob, "USDC", 1, std::string(255, 'm')));
  ExpectOk(env, TransferTx(env, "alice", bob, "USDC", 2, std::string(256, 'm')));
  ExpectRejected(env, TransferTx(env, "alice", bob, "USDC", 4, std::string(257, 'm')), Code::kTooLarge);
  CHECK(env.Balance("bob", "USDC") == kFunding + 3);
  CHECK(env.Balance("alice", "USDC") == kFunding - 3);
}

TEST_CASE("rules transfer: the recipient is a 32-byte key on the curve unless its account exists", "[rules][transfer]") {
  TestEnv env;
  const std::string bob = env.Pub("bob").bytes();
  ExpectRejected(env, TransferTx(env, "alice", bob.substr(0, 31), "USDC", 1), Code::kBadKey);
  ExpectRejected(env, TransferTx(env, "alice", bob + "x", "USDC", 1), Code::kBadKey);
  ExpectRejected(env, TransferTx(env, "alice", "", "USDC", 1), Code::kBadKey);
  ExpectRejected(env, TransferTx(env, "alice", NotOnCurve(), "USDC", 1), Code::kBadKey);
  CHECK(env.Balance("alice", "USDC") == kFunding);
}

TEST_CASE("rules transfer: the whole balance may go and not one unit more", "[rules][transfer]") {
  TestEnv env;
  const std::string bob = env.Pub("bob").bytes();
  ExpectRejected(env, TransferTx(env, "alice", bob, "USDC", kFunding + 1), Code::kInsufficientFunds);
  ExpectOk(env, TransferTx(env, "alice", bob, "USDC", kFunding));
  CHECK(env.Balance("alice", "USDC") == 0);
  CHECK(env.Balance("bob", "USDC") == 2 * kFunding);
  ExpectRejected(env, TransferTx(env, "alice", bob, "USDC", 1), Code::kInsufficientFunds);
}

TEST_CASE("rules transfer: the funds always leave the signer's account", "[rules][transfer]") {
  TestEnv env;
  // bob signs: bob pays, whoever else exists.
  ExpectOk(env, TransferTx(env, "bob", env.Pub("carol").bytes(), "USDC", 700));
  CHECK(env.Balance("bob", "USDC") == kFunding - 700);
  CHECK(env.Balance("carol", "USDC") == kFunding + 700);
  CHECK(env.Balance("alice", "USDC") == kFunding);
  // A transfer has one signer: a co-signer cannot make another account the sender.
  ExpectRejected(env, env.Build({"alice", "bob"}, [&](v1::TxBody& b) {
    b.mutable_transfer()->set_to(env.Pub("carol").bytes());
    b.mutable_transfer()->set_asset("USDC");
    b.mutable_transfer()->set_amount(1);
  }), Code::kBadField);
}

// ============================================================================================
// Deposits
// ============================================================================================

TEST_CASE("rules deposit: only the asset's gateway records, as fee payer", "[rules][deposit]") {
  TestEnv env;
  FundGateway(env);
  const std::string bob = env.Pub("bob").bytes();
  // Another funded account, the provider, a new key: not the gateway.
  ExpectRejected(env, DepositTx(env, {"dave"}, "USDC", 1'000, bob, "ethereum", "0x01"), Code::kNotAuthorized);
  ExpectRejected(env, DepositTx(env, {"carol"}, "USDC", 1'000, bob, "ethereum", "0x01"), Code::kNotAuthorized);
  // The gateway's co-signature does not let another fee payer record a deposit.
  ExpectRejected(env, DepositTx(env, {"alice", "gateway"}, "USDC", 1'000, bob, "ethereum", "0x01"), Code::kNotAuthorized);
  // A non-bridged asset has no gateway at all, whoever signs.
  ExpectRejected(env, DepositTx(env, {"gateway"}, "KTR", 1'000, bob, "ethereum", "0x01"), Code::kWrongState);
  ExpectRejected(env, DepositTx(env, {"alice"}, "KTR", 1'000, bob, "ethereum", "0x01"), Code::kWrongState);
  CHECK(env.Balance("bob", "USDC") == kFunding);
  CHECK(AssetOf(env, "USDC").deposited() == 0);
  // The gateway as fee payer, co-signed or not.
  ExpectOk(env, DepositTx(env, {"gateway", "alice"}, "USDC", 1'000, bob, "ethereum", "0x01"));
  CHECK(env.Balance("bob", "USDC") == kFunding + 1'000);
  CHECK(env.Balance("alice", "USDC") == kFunding);
  CHECK(AssetOf(env, "USDC").deposited() == 1'000);
}

TEST_CASE("rules deposit: beneficiary is a 32-byte key on the curve", "[rules][deposit]") {
  TestEnv env;
  FundGateway(env);
  const std::string bob = env.Pub("bob").bytes();
  ExpectRejected(env, DepositTx(env, {"gateway"}, "USDC", 1, bob.substr(0, 31), "ethereum", "0x01"), Code::kBadKey);
  ExpectRejected(env, DepositTx(env, {"gateway"}, "USDC", 1, bob + "x", "ethereum", "0x01"), Code::kBadKey);
  ExpectRejected(env, DepositTx(env, {"gateway"}, "USDC", 1, "", "ethereum", "0x01"), Code::kBadKey);
  ExpectRejected(env, DepositTx(env, {"gateway"}, "USDC", 1, NotOnCurve(), "ethereum", "0x01"), Code::kBadKey);
  CHECK(AssetOf(env, "USDC").deposited() == 0);
  // A new key on the curve gets an account.
  ExpectOk(env, DepositTx(env, {"gateway"}, "USDC", 5, env.Pub("nobody").bytes(), "ethereum", "0x01"));
  CHECK(env.Balance("nobody", "USDC") == 5);
}

TEST_CASE("rules deposit: network and external tx id are 1 to 128 bytes without control characters",
          "[rules][deposit]") {
  TestEnv env;
  FundGateway(env);
  const std::string bob = env.Pub("bob").bytes();
  ExpectRejected(env, DepositTx(env, {"gateway"}, "USDC", 1, bob, "", "0x01"), Code::kBadField);
  ExpectRejected(env, DepositTx(env, {"gateway"}, "USDC", 1, bob, std::string(129, 'n'), "0x01"), Code::kBadField);
  ExpectRejected(env, DepositTx(env, {"gateway"}, "USDC", 1, bob, "eth\x1f", "0x01"), Code::kBadField);
  ExpectRejected(env, DepositTx(env, {"gateway"}, "USDC", 1, bob, "eth\x7f", "0x01"), Code::kBadField);
  ExpectRejected(env, DepositTx(env, {"gateway"}, "USDC", 1, bob, "ethereum", ""), Code::kBadField);
  ExpectRejected(env, DepositTx(env, {"gateway"}, "USDC", 1, bob, "ethereum", std::string(129, 't')), Code::kBadField);
  ExpectRejected(env, DepositTx(env, {"gateway"}, "USDC", 1, bob, "ethereum", std::string("0x\n01")), Code::kBadField);
  CHECK(env.Balance("bob", "USDC") == kFunding);
  // 128 bytes, 127 bytes, 1 byte, and a space are fine.
  ExpectOk(env, DepositTx(env, {"gateway"}, "USDC", 1, bob, std::string(128, 'n'), std::string(128, 't')));
  ExpectOk(env, DepositTx(env, {"gateway"}, "USDC", 2, bob, std::string(127, 'n'), std::string(127, 't')));
  ExpectOk(env, DepositTx(env, {"gateway"}, "USDC", 4, bob, "e", "t"));
  ExpectOk(env, DepositTx(env, {"gateway"}, "USDC", 8, bob, "eth mainnet", "0x 01"));
  CHECK(env.Balance("bob", "USDC") == kFunding + 15);
}

TEST_CASE("rules deposit: the asset symbol is 1 to 16 bytes", "[rules][deposit]") {
  TestEnv env;
  FundGateway(env);
  const std::string bob = env.Pub("bob").bytes();
  ExpectRejected(env, DepositTx(env, {"gateway"}, "", 1, bob, "ethereum", "0x01"), Code::kBadField);
  ExpectRejected(env, DepositTx(env, {"gateway"}, std::string(17, 'U'), 1, bob, "ethereum", "0x01"), Code::kBadField);
  ExpectRejected(env, DepositTx(env, {"gateway"}, std::string(16, 'U'), 1, bob, "ethereum", "0x01"), Code::kUnknownAsset);
  ExpectRejected(env, DepositTx(env, {"gateway"}, "U", 1, bob, "ethereum", "0x01"), Code::kUnknownAsset);
  CHECK(env.Balance("bob", "USDC") == kFunding);
}

TEST_CASE("rules deposit and withdraw: the outstanding supply stops exactly at 2^64-1 and the totals go past it",
          "[rules][deposit][withdraw]") {
  using U128 = unsigned __int128;
  TestEnv env;
  FundGateway(env);
  const uint64_t genesis = AssetOf(env, "USDC").genesis_supply();
  REQUIRE(genesis == 4 * kFunding);
  const uint64_t room = kMax - genesis;  // what may be outstanding beyond genesis
  // Fill the supply, then burn it again: deposited stays high while the supply is small.
  ExpectOk(env, Deposit(env, "gateway", "USDC", room, "carol", "ethereum", "0x01"));
  ExpectOk(env, WithdrawTx(env, "carol", "USDC", room));
  CHECK(AssetOf(env, "USDC").deposited() == room);
  CHECK(AssetOf(env, "USDC").deposited_hi() == 0);
  CHECK(AssetOf(env, "USDC").withdrawn() == room);
  CHECK(env.Balance("carol", "USDC") == kFunding);

  // The outstanding supply: one above the limit, at it, then one more.
  ExpectRejected(env, Deposit(env, "gateway", "USDC", room + 1, "carol", "ethereum", "0x02"), Code::kOverflow);
  ExpectOk(env, Deposit(env, "gateway", "USDC", room, "carol", "ethereum", "0x02"));
  CHECK(env.Balance("carol", "USDC") == kFunding + room);
  ExpectRejected(env, Deposit(env, "gateway", "USDC", 1, "carol", "ethereum", "0x03"), Code::kOverflow);
  // The lifetime total, 2 x room, went past 2^64-1 into the high half.
  const U128 twice = U128(room) * 2;
  v1::Asset usdc = AssetOf(env, "USDC");
  CHECK(usdc.deposited_hi() == static_cast<uint64_t>(twice >> 64));
  CHECK(usdc.deposited_hi() == 1);
  CHECK(usdc.deposited() == static_cast<uint64_t>(twice));
  CHECK(OutstandingSupply(usdc) == std::optional<uint64_t>(kMax));

  // Withdrawals carry likewise, and make room for deposits again.
  ExpectOk(env, WithdrawTx(env, "carol", "USDC", room));
  usdc = AssetOf(env, "USDC");
  CHECK(usdc.withdrawn_hi() == 1);
  CHECK(usdc.withdrawn() == static_cast<uint64_t>(twice));
  CHECK(OutstandingSupply(usdc) == std::optional<uint64_t>(genesis));
  ExpectOk(env, Deposit(env, "gateway", "USDC", 1, "carol", "ethereum", "0x03"));
  CHECK(env.Balance("carol", "USDC") == kFunding + 1);
  CHECK(DepositedTotal(AssetOf(env, "USDC")) == twice + 1);
}

// ============================================================================================
// Withdrawals
// ============================================================================================

TEST_CASE("rules withdraw: only the signer's own balance is burned", "[rules][withdraw]") {
  TestEnv env;
  FundGateway(env);
  // The gateway holds no USDC: it cannot withdraw anyone else's.
  ExpectRejected(env, WithdrawTx(env, "gateway", "USDC", 1), Code::kInsufficientFunds);
  // A key with fees but no USDC.
  ExpectOk(env, env.Transfer("alice", "nobody", "KTR", 1'000));
  ExpectRejected(env, WithdrawTx(env, "nobody", "USDC", 1), Code::kInsufficientFunds);
  CHECK(AssetOf(env, "USDC").withdrawn() == 0);
  ExpectOk(env, WithdrawTx(env, "bob", "USDC", 300));
  CHECK(env.Balance("bob", "USDC") == kFunding - 300);
  CHECK(env.Balance("alice", "USDC") == kFunding);
  CHECK(env.Balance("gateway", "USDC") == 0);
  CHECK(AssetOf(env, "USDC").withdrawn() == 300);
  // Exactly the balance, then one unit more than what is left.
  ExpectRejected(env, WithdrawTx(env, "dave", "USDC", kFunding + 1), Code::kInsufficientFunds);
  ExpectOk(env, WithdrawTx(env, "dave", "USDC", kFunding));
  CHECK(env.Balance("dave", "USDC") == 0);
}

TEST_CASE("rules withdraw: asset 1 to 16 bytes and known, network and destination 1 to 128 bytes", "[rules][withdraw]") {
  TestEnv env;
  ExpectRejected(env, WithdrawTx(env, "bob", "", 1), Code::kBadField);
  ExpectRejected(env, WithdrawTx(env, "bob", std::string(17, 'U'), 1), Code::kBadField);
  ExpectRejected(env, WithdrawTx(env, "bob", std::string(16, 'U'), 1), Code::kUnknownAsset);
  ExpectRejected(env, WithdrawTx(env, "bob", "USDC", 1, ""), Code::kBadField);
  ExpectRejected(env, WithdrawTx(env, "bob", "USDC", 1, std::string(129, 'n')), Code::kBadField);
  ExpectRejected(env, WithdrawTx(env, "bob", "USDC", 1, "eth\x01"), Code::kBadField);
  ExpectRejected(env, WithdrawTx(env, "bob", "USDC", 1, "ethereum", ""), Code::kBadField);
  ExpectRejected(env, WithdrawTx(env, "bob", "USDC", 1, "ethereum", std::string(129, 'd')), Code::kBadField);
  ExpectRejected(env, WithdrawTx(env, "bob", "USDC", 1, "ethereum", "0x\x7f"), Code::kBadField);
  CHECK(env.Balance("bob", "USDC") == kFunding);
  ExpectOk(env, WithdrawTx(env, "bob", "USDC", 1, std::string(128, 'n'), std::string(128, 'd')));
  ExpectOk(env, WithdrawTx(env, "bob", "USDC", 2, std::string(127, 'n'), std::string(127, 'd')));
  CHECK(env.Balance("bob", "USDC") == kFunding - 3);
  CHECK(AssetOf(env, "USDC").withdrawn() == 3);
}
