// Payload builders and record readers for the rule tests (tests/unit/test_rules_*.cpp): one
// builder per tx kind, so each test reads as "who signs what" and "which code comes back".
// Complements tests/support/scenario.h (ExpectOk, ExpectRejected, Terms, Propose, Topup, ...).
//
// Only for test sources that use Catch2 (the readers REQUIRE the record exists).
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "contracts/records.h"
#include "ledger/accounts.h"
#include "tests/support/scenario.h"
#include "tests/support/test_env.h"

namespace kontor::test::rules {

inline constexpr uint64_t kHourMs = 3'600'000;
inline constexpr uint64_t kPerMs = 3'600'000;  // a price per unit-hour that accrues 1 per unit per ms

// An id of the wrong length (ids are 32 bytes).
inline std::string ShortId() { return std::string(31, '\x01'); }
inline std::string LongId() { return std::string(33, '\x01'); }
// A 32-byte id of nothing on the ledger.
inline std::string NoSuchId(char fill = '\x0e') { return std::string(32, fill); }

// The block advance that makes the next block's time exactly `t`.
inline uint64_t Until(TestEnv& env, uint64_t t) {
  REQUIRE(t > env.now_ms());
  return t - env.now_ms();
}


// Like scenario::ExpectRejected, but the block comes `advance_ms` later (to hit an exact time).
inline void ExpectRejectedAfter(TestEnv& env, std::string tx, uint64_t advance_ms, Code code) {
  Hash256 root_before = env.chain().state().root();
  Result r = scenario::ApplyAfter(env, std::move(tx), advance_ms);
  INFO(r.ToString());
  CHECK(std::string(CodeName(r.code())) == std::string(CodeName(code)));
  CHECK(env.chain().state().root().hex() == root_before.hex());
}

// ---- Attributes and profiles ----

inline v1::Attribute Text(const std::string& key, const std::string& value) {
  v1::Attribute a;
  a.set_key(key);
  a.set_text(value);
  return a;
}
inline v1::Attribute Number(const std::string& key, uint64_t value) {
  v1::Attribute a;
  a.set_key(key);
  a.set_number(value);
  return a;
}
inline std::vector<v1::Attribute> GpuProfile(const std::string& model = "H100") {
  return {Number("gpu_count", 8), Text("gpu_model", model), Text("region", "eu-west")};
}
// `n` number attributes with sorted keys k00, k01, ...
inline std::vector<v1::Attribute> ManyAttributes(size_t n) {
  std::vector<v1::Attribute> out;
  for (size_t i = 0; i < n; ++i) {
    std::string key = "k" + std::string(1, static_cast<char>('0' + i / 10)) + std::string(1, static_cast<char>('0' + i % 10));
    out.push_back(Number(key, i));
  }
  return out;
}

// ---- Providers and attestations ----

inline std::string Register(TestEnv& env, const std::vector<std::string>& signers, const std::vector<v1::Attribute>& attributes,
                            const std::string& endpoint = "https://gpu.example") {
  return env.Build(signers, [&](v1::TxBody& b) {
    auto* p = b.mutable_provider_register();
    for (const auto& a : attributes) *p->add_attributes() = a;
    p->set_endpoint(endpoint);
  });
}
inline std::string Register(TestEnv& env, const std::string& provider, const std::vector<v1::Attribute>& attributes,
                            const std::string& endpoint = "https://gpu.example") {
  return Register(env, std::vector<std::string>{provider}, attributes, endpoint);
}
inline std::string AttestKey(TestEnv& env, const std::string& auditor, const std::string& provider_key,
                             const std::vector<std::string>& keys, uint64_t expires_at_ms) {
  return env.Build({auditor}, [&](v1::TxBody& b) {
    auto* a = b.mutable_attestation_create();
    a->set_provider(provider_key);
    for (const auto& k : keys) a->add_attribute_keys(k);
    a->set_expires_at_ms(expires_at_ms);
  });
}
inline std::string Attest(TestEnv& env, const std::string& auditor, const std::string& provider,
                          const std::vector<std::string>& keys, uint64_t expires_at_ms) {
  return AttestKey(env, auditor, env.Pub(provider).bytes(), keys, expires_at_ms);
}
inline std::string RevokeKey(TestEnv& env, const std::string& auditor, const std::string& provider_key) {
  return env.Build({auditor}, [&](v1::TxBody& b) { b.mutable_attestation_revoke()->set_provider(provider_key); });
}
inline std::string Revoke(TestEnv& env, const std::string& auditor, const std::string& provider) {
  return RevokeKey(env, auditor, env.Pub(provider).bytes());
}

// ---- Offers ----

// 1 unit = one GPU; price kPerMs accrues 1 per unit per ms.
inline v1::OfferTerms Offer(uint64_t capacity = 4, uint64_t price = kPerMs) {
  v1::OfferTerms t;
  *t.add_resources() = Number("gpu_count", 1);
  t.set_capacity_units(capacity);
  t.set_price_per_unit_hour(price);
  t.set_asset("USDC");
  t.set_billing_period_ms(60'000);
  t.set_notice_period_ms(5'000);
  return t;
}
inline std::string PostOffer(TestEnv& env, const std::string& provider, const v1::OfferTerms& terms) {
  return env.Build({provider}, [&](v1::TxBody& b) { *b.mutable_offer_post()->mutable_terms() = terms; });
}
inline std::string UpdateOffer(TestEnv& env, const std::string& signer, const std::string& offer_id, const v1::OfferTerms& terms) {
  return env.Build({signer}, [&](v1::TxBody& b) {
    b.mutable_offer_update()->set_offer_id(offer_id);
    *b.mutable_offer_update()->mutable_terms() = terms;
  });
}
inline std::string WithdrawOffer(TestEnv& env, const std::string& signer, const std::string& offer_id) {
  return env.Build({signer}, [&](v1::TxBody& b) { b.mutable_offer_withdraw()->set_offer_id(offer_id); });
}
inline std::string Accept(TestEnv& env, const std::vector<std::string>& signers, const std::string& offer_id, uint64_t units,
                          uint64_t deposit, uint64_t duration_ms = 0, uint64_t start_ms = 0) {
  return env.Build(signers, [&](v1::TxBody& b) {
    auto* a = b.mutable_contract_accept();
    a->set_offer_id(offer_id);
    a->set_units(units);
    a->set_deposit(deposit);
    a->set_duration_ms(duration_ms);
    a->set_start_ms(start_ms);
  });
}
inline std::string Accept(TestEnv& env, const std::string& renter, const std::string& offer_id, uint64_t units, uint64_t deposit,
                          uint64_t duration_ms = 0, uint64_t start_ms = 0) {
  return Accept(env, std::vector<std::string>{renter}, offer_id, units, deposit, duration_ms, start_ms);
}
// `provider` registers with the GPU profile and posts `terms`; returns the offer id.
inline std::string RegisterAndOffer(TestEnv& env, const std::string& provider, const v1::OfferTerms& terms) {
  scenario::ExpectOk(env, Register(env, provider, GpuProfile()));
  std::string post = PostOffer(env, provider, terms);
  std::string id = scenario::IdOf(post);
  scenario::ExpectOk(env, std::move(post));
  return id;
}

// ---- Assets ----

inline std::string DepositTx(TestEnv& env, const std::vector<std::string>& signers, const std::string& asset, uint64_t amount,
                             const std::string& beneficiary_key, const std::string& network, const std::string& external_txid) {
  return env.Build(signers, [&](v1::TxBody& b) {
    auto* d = b.mutable_asset_deposit();
    d->set_asset(asset);
    d->set_amount(amount);
    d->set_beneficiary(beneficiary_key);
    d->set_network(network);
    d->set_external_txid(external_txid);
  });
}
inline std::string WithdrawTx(TestEnv& env, const std::string& signer, const std::string& asset, uint64_t amount,
                              const std::string& network = "ethereum",
                              const std::string& destination = "0x00000000000000000000000000000000000000b0") {
  return env.Build({signer}, [&](v1::TxBody& b) {
    auto* w = b.mutable_asset_withdraw();
    w->set_asset(asset);
    w->set_amount(amount);
    w->set_network(network);
    w->set_destination(destination);
  });
}

// ---- Contracts ----

inline void AddMetered(v1::ContractTerms* t, const std::string& name, uint64_t price) {
  auto* m = t->add_metered();
  m->set_name(name);
  m->set_price_per_unit(price);
}
// Proposes `terms` co-signed by alice, dave and (if any) bob; returns the contract id. The
// contract starts at the block's time, env.now_ms() after this returns.
inline std::string Form(TestEnv& env, const v1::ContractTerms& terms) {
  std::vector<std::string> signers = {"alice", "dave"};
  if (!terms.broker().empty()) signers.push_back("bob");
  std::string tx = scenario::Propose(env, signers, terms);
  std::string id = scenario::IdOf(tx);
  scenario::ExpectOk(env, tx);
  return id;
}
inline std::string Report(TestEnv& env, const std::string& who, const std::string& contract_id,
                          const std::vector<std::pair<std::string, uint64_t>>& cumulative, const std::string& previous) {
  return env.Build({who}, [&](v1::TxBody& b) {
    auto* u = b.mutable_usage_report();
    u->set_contract_id(contract_id);
    for (const auto& [name, quantity] : cumulative) {
      auto* q = u->add_cumulative();
      q->set_name(name);
      q->set_quantity(quantity);
    }
    u->set_previous_report(previous);
  });
}

// ---- Invoices ----

inline v1::ContractTerms Invoiced(TestEnv& env, uint64_t units, uint64_t deposit, uint32_t broker_bps = 0, bool with_broker = false,
                                  bool with_arbiter = false) {
  v1::ContractTerms t = scenario::Terms(env, units, kPerMs, deposit, broker_bps, with_broker);
  t.set_invoiced(true);
  if (with_arbiter) t.set_arbiter(env.Pub("carol").bytes());
  return t;
}
inline v1::InvoiceIssue Bill(const std::string& contract_id, uint64_t period_start, uint64_t period_end, uint64_t time_charge,
                             uint64_t total, uint64_t broker_fee, uint64_t due_at,
                             v1::PaymentSource source = v1::PAYMENT_SOURCE_ESCROW) {
  v1::InvoiceIssue i;
  i.set_contract_id(contract_id);
  i.set_period_start_ms(period_start);
  i.set_period_end_ms(period_end);
  i.set_time_charge(time_charge);
  i.set_total(total);
  i.set_broker_fee(broker_fee);
  i.set_due_at_ms(due_at);
  i.set_source(source);
  return i;
}
inline void AddLine(v1::InvoiceIssue* i, const std::string& name, uint64_t quantity, uint64_t unit_price, uint64_t amount) {
  auto* l = i->add_metered();
  l->set_name(name);
  l->set_quantity(quantity);
  l->set_unit_price(unit_price);
  l->set_amount(amount);
}
inline std::string IssueTx(TestEnv& env, const std::vector<std::string>& signers, const v1::InvoiceIssue& lines) {
  return env.Build(signers, [&](v1::TxBody& b) { *b.mutable_invoice_issue() = lines; });
}
inline std::string IssueTx(TestEnv& env, const std::string& who, const v1::InvoiceIssue& lines) {
  return IssueTx(env, std::vector<std::string>{who}, lines);
}
inline std::string AcceptInvoiceTx(TestEnv& env, const std::vector<std::string>& signers, const std::string& invoice_id) {
  return env.Build(signers, [&](v1::TxBody& b) { b.mutable_invoice_accept()->set_invoice_id(invoice_id); });
}
inline std::string VoidTx(TestEnv& env, const std::vector<std::string>& signers, const std::string& invoice_id) {
  return env.Build(signers, [&](v1::TxBody& b) { b.mutable_invoice_void()->set_invoice_id(invoice_id); });
}
inline std::string DisputeTx(TestEnv& env, const std::vector<std::string>& signers, const std::string& invoice_id, uint64_t accepted,
                             v1::DisputeReason reason = v1::DISPUTE_REASON_SERVICE_DEGRADED) {
  return env.Build(signers, [&](v1::TxBody& b) {
    auto* d = b.mutable_invoice_dispute();
    d->set_invoice_id(invoice_id);
    d->set_reason(reason);
    d->set_accepted_amount(accepted);
  });
}
inline std::string PayTx(TestEnv& env, const std::vector<std::string>& signers, const std::string& invoice_id, uint64_t amount) {
  return env.Build(signers, [&](v1::TxBody& b) {
    b.mutable_invoice_pay()->set_invoice_id(invoice_id);
    b.mutable_invoice_pay()->set_amount(amount);
  });
}
inline std::string ExternalTx(TestEnv& env, const std::vector<std::string>& signers, const std::string& invoice_id, uint64_t amount,
                              const std::string& network, const std::string& external_txid, const std::string& payer = "0xa11ce") {
  return env.Build(signers, [&](v1::TxBody& b) {
    auto* p = b.mutable_payment_record_external();
    p->set_invoice_id(invoice_id);
    p->set_network(network);
    p->set_external_txid(external_txid);
    p->set_amount(amount);
    p->set_payer(payer);
  });
}
inline std::string ResolveTx(TestEnv& env, const std::vector<std::string>& signers, const std::string& invoice_id,
                             uint64_t provider_amount) {
  return env.Build(signers, [&](v1::TxBody& b) {
    b.mutable_invoice_resolve()->set_invoice_id(invoice_id);
    b.mutable_invoice_resolve()->set_provider_amount(provider_amount);
  });
}
// Issues `lines` as dave in a block whose time is `at`; returns the invoice id.
inline std::string IssueAt(TestEnv& env, const v1::InvoiceIssue& lines, uint64_t at) {
  std::string tx = IssueTx(env, "dave", lines);
  std::string id = scenario::IdOf(tx);
  scenario::ExpectOk(env, tx, Until(env, at));
  return id;
}

// ---- Records ----

inline v1::Offer OfferOf(TestEnv& env, const std::string& id) {
  auto o = contracts::Load<v1::Offer>(env.chain().state(), contracts::Kind::kOffer, id);
  REQUIRE(o.has_value());
  return *o;
}
inline v1::Asset AssetOf(TestEnv& env, const std::string& symbol) {
  auto a = LoadAsset(env.chain().state(), symbol);
  REQUIRE(a.has_value());
  return *a;
}
inline std::optional<v1::Provider> ProviderOf(TestEnv& env, const std::string& name) {
  return contracts::Load<v1::Provider>(env.chain().state(), contracts::Kind::kProvider, env.Pub(name).bytes());
}
inline v1::Attestation AttestationOf(TestEnv& env, const std::string& auditor, const std::string& provider) {
  auto a = contracts::Load<v1::Attestation>(env.chain().state(), contracts::Kind::kAttestation,
                                            contracts::AttestationId(env.Pub(auditor).bytes(), env.Pub(provider).bytes()));
  REQUIRE(a.has_value());
  return *a;
}
inline v1::Invoice InvoiceOf(TestEnv& env, const std::string& id) {
  auto i = contracts::Load<v1::Invoice>(env.chain().state(), contracts::Kind::kInvoice, id);
  REQUIRE(i.has_value());
  return *i;
}
inline v1::Reputation ReputationOf(TestEnv& env, const std::string& name) {
  return contracts::Load<v1::Reputation>(env.chain().state(), contracts::Kind::kReputation, env.Pub(name).bytes())
      .value_or(v1::Reputation());
}

// The code of a tx's result in a block closed with CloseResult, compared by name (readable failures).
inline std::string CodeOf(const CloseResult& closed, const std::string& envelope) {
  return std::string(CodeName(closed.ResultOf(TestEnv::Txid(envelope)).code()));
}
inline std::string NameOf(Code code) { return std::string(CodeName(code)); }

}  // namespace kontor::test::rules
