// Helpers shared by the scenario tests of the compute-rental application (tests/unit/test_contracts.cpp,
// tests/unit/test_invoices.cpp): applying a tx in a block of its own and checking its result,
// reading records back, and building the common payloads.
//
//   using namespace kontor::test::scenario;
//   std::string tx = Propose(env, {"alice", "dave"}, Terms(env, 1, 3'600'000, 100'000));
//   ExpectOk(env, tx);                                  // included, in a block 1 s later
//   ExpectRejected(env, Topup(env, "alice", IdOf(tx), 0), Code::kBadAmount);  // and the root unchanged
//
// Only for test sources that use Catch2 (the checks are Catch2 assertions).
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "contracts/records.h"
#include "ledger/accounts.h"
#include "tests/support/test_env.h"

namespace kontor::test::scenario {

inline constexpr uint64_t kFunding = 1'000'000'000;  // of each asset, to alice, bob, carol and dave
inline constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

// ---- Results ----

// Submits `tx` alone, closes a block `advance_ms` later, and returns the tx's result.
inline Result ApplyAfter(TestEnv& env, std::string tx, uint64_t advance_ms) {
  env.Submit(std::move(tx));
  CloseResult closed = env.Close(advance_ms);
  for (const auto& r : closed.rejected)
    if (r.index == 0) return r.result;
  return Result::Ok();
}

inline void ExpectOk(TestEnv& env, std::string tx, uint64_t advance_ms = 1000) {
  Result r = ApplyAfter(env, std::move(tx), advance_ms);
  INFO(r.ToString());
  REQUIRE(r.ok());
}

// Applies `tx` in a block of its own: it must be rejected with `code` and leave the state root
// as it was (the scenarios make sure no contract is due in that block).
inline void ExpectRejected(TestEnv& env, std::string tx, Code code) {
  Hash256 root_before = env.chain().state().root();
  uint64_t height_before = env.chain().height();
  Result r = env.Apply(std::move(tx));
  INFO(r.ToString());
  CHECK(std::string(CodeName(r.code())) == std::string(CodeName(code)));
  CHECK(env.chain().height() == height_before + 1);  // the block was made, without the tx
  CHECK(env.chain().state().root().hex() == root_before.hex());
}

// ---- Records ----

inline std::string IdOf(const std::string& envelope) { return TestEnv::Txid(envelope).bytes(); }

inline v1::Contract ContractOf(TestEnv& env, const std::string& id) {
  auto c = contracts::Load<v1::Contract>(env.chain().state(), contracts::Kind::kContract, id);
  REQUIRE(c.has_value());
  return *c;
}
// The escrow of a contract, added up here (not with the code under test).
inline uint64_t EscrowSum(const v1::Contract& c) {
  uint64_t sum = 0;
  for (const auto& d : c.escrow()) sum += d.amount();
  return sum;
}
inline bool OnAgenda(TestEnv& env, const std::string& contract_id) {
  auto agenda = contracts::Load<v1::Agenda>(env.chain().state(), contracts::Kind::kAgenda, contracts::kAgendaId);
  if (!agenda) return false;
  for (const auto& e : agenda->entries())
    if (e.contract_id() == contract_id) return true;
  return false;
}

// ---- Payloads ----

inline std::string Deposit(TestEnv& env, const std::string& signer, const std::string& asset, uint64_t amount,
                           const std::string& beneficiary, const std::string& network, const std::string& external_txid) {
  return env.Build({signer}, [&](v1::TxBody& b) {
    auto* d = b.mutable_asset_deposit();
    d->set_asset(asset);
    d->set_amount(amount);
    d->set_beneficiary(env.Pub(beneficiary).bytes());
    d->set_network(network);
    d->set_external_txid(external_txid);
  });
}

// Negotiated terms: alice rents from dave, optionally through bob as broker.
inline v1::ContractTerms Terms(TestEnv& env, uint64_t units, uint64_t price, uint64_t deposit, uint32_t broker_bps = 0,
                               bool with_broker = false) {
  v1::ContractTerms t;
  t.set_renter(env.Pub("alice").bytes());
  t.set_provider(env.Pub("dave").bytes());
  if (with_broker) {
    t.set_broker(env.Pub("bob").bytes());
    t.set_broker_fee_bps(broker_bps);
  }
  t.set_units(units);
  t.set_price_per_unit_hour(price);
  t.set_asset("USDC");
  t.set_billing_period_ms(60'000);
  t.set_notice_period_ms(5'000);
  t.set_deposit(deposit);
  return t;
}
inline std::string Propose(TestEnv& env, const std::vector<std::string>& signers, const v1::ContractTerms& terms,
                           TxOptions options = {}) {
  return env.Build(signers, [&](v1::TxBody& b) { *b.mutable_contract_propose()->mutable_terms() = terms; }, options);
}
inline std::string Topup(TestEnv& env, const std::string& who, const std::string& id, uint64_t amount) {
  return env.Build({who}, [&](v1::TxBody& b) {
    b.mutable_contract_topup()->set_contract_id(id);
    b.mutable_contract_topup()->set_amount(amount);
  });
}
inline std::string Notice(TestEnv& env, const std::string& who, const std::string& id) {
  return env.Build({who}, [&](v1::TxBody& b) { b.mutable_contract_notice()->set_contract_id(id); });
}
inline std::string CloseContract(TestEnv& env, const std::string& who, const std::string& id) {
  return env.Build({who}, [&](v1::TxBody& b) { b.mutable_contract_close()->set_contract_id(id); });
}
inline std::string Settle(TestEnv& env, const std::string& who, const std::string& id) {
  return env.Build({who}, [&](v1::TxBody& b) { b.mutable_contract_settle()->set_contract_id(id); });
}

// The gateway holds no KTR at genesis: give it some for fees.
inline void FundGateway(TestEnv& env) { ExpectOk(env, env.Transfer("alice", "gateway", "KTR", 1'000'000)); }

}  // namespace kontor::test::scenario
