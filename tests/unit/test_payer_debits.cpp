// KontorApp::PayerDebits: what each tx can take from its fee payer's balances besides the fee
// (the mempool's funding check counts it). Every payload that moves the payer's money is listed
// with its asset and amount; the others take nothing.
#include <catch2/catch.hpp>

#include "contracts/records.h"
#include "ledger/tx.h"
#include "tests/support/rules.h"
#include "tests/support/scenario.h"

using namespace kontor;
using namespace kontor::test;
using namespace kontor::test::scenario;
using kontor::test::rules::NoSuchId;

namespace {

std::vector<AssetAmount> DebitsOf(TestEnv& env, const StateView& state, const std::string& envelope) {
  DecodedTx tx;
  Result r = DecodeTx(envelope, env.genesis().chain_id, &tx);
  INFO(r.ToString());
  REQUIRE(r.ok());
  return env.app().PayerDebits(tx, state);
}

std::string Describe(const std::vector<AssetAmount>& debits) {
  std::string out;
  for (const auto& d : debits) out += d.asset + ":" + std::to_string(d.amount) + " ";
  return out;
}

}  // namespace

TEST_CASE("payer debits: each payload that spends the payer's balance names its asset and amount", "[mempool][funds]") {
  TestEnv env;
  StateDelta state(&env.chain().state());
  // Records the txs below refer to: an offer in USDC, a contract in KTR and its invoice.
  v1::Offer offer;
  offer.mutable_terms()->set_asset("USDC");
  contracts::Store(state, contracts::Kind::kOffer, NoSuchId('\x01'), offer);
  v1::Contract contract;
  contract.mutable_terms()->set_asset("KTR");
  contracts::Store(state, contracts::Kind::kContract, NoSuchId('\x02'), contract);
  v1::Invoice invoice;
  invoice.set_contract_id(NoSuchId('\x02'));
  contracts::Store(state, contracts::Kind::kInvoice, NoSuchId('\x03'), invoice);

  auto expect = [&](const std::string& tx, const std::string& debits) {
    CHECK(Describe(DebitsOf(env, state, tx)) == debits);
  };
  expect(env.Transfer("alice", "bob", "USDC", 700), "USDC:700 ");
  expect(rules::WithdrawTx(env, "alice", "USDC", 55), "USDC:55 ");
  expect(rules::Accept(env, "alice", NoSuchId('\x01'), 1, 900), "USDC:900 ");
  expect(Propose(env, {"alice", "dave"}, Terms(env, 1, 3'600'000, 321)), "USDC:321 ");
  expect(Topup(env, "carol", NoSuchId('\x02'), 44), "KTR:44 ");
  expect(rules::PayTx(env, {"bob"}, NoSuchId('\x03'), 66), "KTR:66 ");
  expect(rules::ExternalTx(env, {"dave"}, NoSuchId('\x03'), 77, "ethereum", "0xabc"), "KTR:77 ");
  // What refers to nothing spends nothing (it fails in the block, paying no amount).
  expect(Topup(env, "carol", NoSuchId('\x09'), 44), "");
  expect(rules::PayTx(env, {"bob"}, NoSuchId('\x09'), 66), "");
  expect(rules::Accept(env, "alice", NoSuchId('\x09'), 1, 900), "");
  // A proposal whose first signer is not the renter does not debit that signer.
  expect(Propose(env, {"dave", "alice"}, Terms(env, 1, 3'600'000, 321)), "");
  // Payloads that move none of the payer's money.
  expect(Notice(env, "dave", NoSuchId('\x02')), "");
  expect(CloseContract(env, "alice", NoSuchId('\x02')), "");
  expect(Settle(env, "alice", NoSuchId('\x02')), "");
  expect(Deposit(env, "gateway", "USDC", 5, "alice", "ethereum", "0x1"), "");
}
