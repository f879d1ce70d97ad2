// Scenario tests for invoiced contracts (contracts/invoices.cpp): issue, accept, dispute, resolve,
// void and reissue, the three ways to pay (escrow, ledger transfer, external receipt), the ledger's
// own payment of unchallenged escrow-sourced invoices at their due time, closing and running dry.
//
// Every scenario runs through the in-process TestEnv, so every block it closes has also passed
// the ledger's invariants (contracts/invariants.cpp): Close() throws otherwise.
// Expected amounts are literals worked out by hand from the rules in contracts/escrow.h:
//     accrued(t)   = floor(units * price_per_unit_hour * (min(t, end) - start) / 3_600_000)
//     time charge  = accrued(period_end) - accrued(period_start)
//     total        = time charge + metered lines - credit;  broker_fee = floor(total * bps / 10_000)
//     free escrow  = escrow - owed - locked
//     broker share of a payment = floor(all paid so far * bps / 10_000) - what the broker had,
//                                 the provider the rest.
// All contracts here are priced at 3_600_000 per unit-hour: 1 unit accrues exactly 1 per ms.
#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "contracts/records.h"
#include "ledger/accounts.h"
#include "tests/support/scenario.h"
#include "tests/support/test_env.h"

using namespace kontor;
using namespace kontor::test::scenario;  // ApplyAfter, ExpectOk, ExpectRejected, Terms, Propose, ...
using kontor::contracts::Kind;
using kontor::test::CloseResult;
using kontor::test::TestEnv;

namespace {

constexpr uint64_t kPrice = 3'600'000;  // per unit-hour: 1 per unit per ms
constexpr uint64_t kHour = 3'600'000;   // ms

// The block advance that makes the next block's time exactly `t`.
uint64_t Until(TestEnv& env, uint64_t t) {
  REQUIRE(t > env.now_ms());
  return t - env.now_ms();
}

// ---- Contracts ----

// Invoiced terms: alice rents `units` from dave, optionally through bob (broker) and with carol
// as arbiter.
v1::ContractTerms Invoiced(TestEnv& env, uint64_t units, uint64_t deposit, uint32_t broker_bps = 0, bool with_broker = false,
                           bool with_arbiter = false) {
  v1::ContractTerms t = Terms(env, units, kPrice, deposit, broker_bps, with_broker);
  t.set_invoiced(true);
  if (with_arbiter) t.set_arbiter(env.Pub("carol").bytes());
  return t;
}
void AddMetered(v1::ContractTerms* t, const std::string& name, uint64_t price) {
  auto* m = t->add_metered();
  m->set_name(name);
  m->set_price_per_unit(price);
}
// Proposes `terms` co-signed by alice, dave and (if any) bob; returns the contract id. The
// contract starts at the block's time, env.now_ms() after this returns.
std::string Form(TestEnv& env, const v1::ContractTerms& terms) {
  std::vector<std::string> signers = {"alice", "dave"};
  if (!terms.broker().empty()) signers.push_back("bob");
  std::string tx = Propose(env, signers, terms);
  std::string id = IdOf(tx);
  ExpectOk(env, tx);
  return id;
}
std::string Report(TestEnv& env, const std::string& who, const std::string& contract_id,
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

v1::InvoiceIssue Bill(const std::string& contract_id, uint64_t period_start, uint64_t period_end, uint64_t time_charge,
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
void AddLine(v1::InvoiceIssue* i, const std::string& name, uint64_t quantity, uint64_t unit_price, uint64_t amount) {
  auto* l = i->add_metered();
  l->set_name(name);
  l->set_quantity(quantity);
  l->set_unit_price(unit_price);
  l->set_amount(amount);
}
std::string IssueTx(TestEnv& env, const std::string& who, const v1::InvoiceIssue& lines, kontor::test::TxOptions options = {}) {
  return env.Build({who}, [&](v1::TxBody& b) { *b.mutable_invoice_issue() = lines; }, options);
}
std::string AcceptTx(TestEnv& env, const std::string& who, const std::string& invoice_id) {
  return env.Build({who}, [&](v1::TxBody& b) { b.mutable_invoice_accept()->set_invoice_id(invoice_id); });
}
std::string DisputeTx(TestEnv& env, const std::string& who, const std::string& invoice_id, uint64_t accepted,
                      v1::DisputeReason reason = v1::DISPUTE_REASON_SERVICE_DEGRADED) {
  return env.Build({who}, [&](v1::TxBody& b) {
    auto* d = b.mutable_invoice_dispute();
    d->set_invoice_id(invoice_id);
    d->set_reason(reason);
    d->set_accepted_amount(accepted);
  });
}
std::string PayTx(TestEnv& env, const std::string& who, const std::string& invoice_id, uint64_t amount) {
  return env.Build({who}, [&](v1::TxBody& b) {
    b.mutable_invoice_pay()->set_invoice_id(invoice_id);
    b.mutable_invoice_pay()->set_amount(amount);
  });
}
std::string ExternalTx(TestEnv& env, const std::string& who, const std::string& invoice_id, uint64_t amount,
                       const std::string& network, const std::string& external_txid, const std::string& payer = "0xa11ce") {
  return env.Build({who}, [&](v1::TxBody& b) {
    auto* p = b.mutable_payment_record_external();
    p->set_invoice_id(invoice_id);
    p->set_network(network);
    p->set_external_txid(external_txid);
    p->set_amount(amount);
    p->set_payer(payer);
  });
}
std::string ResolveTx(TestEnv& env, const std::vector<std::string>& signers, const std::string& invoice_id,
                      uint64_t provider_amount) {
  return env.Build(signers, [&](v1::TxBody& b) {
    b.mutable_invoice_resolve()->set_invoice_id(invoice_id);
    b.mutable_invoice_resolve()->set_provider_amount(provider_amount);
  });
}
std::string VoidTx(TestEnv& env, const std::string& who, const std::string& invoice_id) {
  return env.Build({who}, [&](v1::TxBody& b) { b.mutable_invoice_void()->set_invoice_id(invoice_id); });
}

// Issues `lines` as dave in a block whose time is `at`; returns the invoice id.
std::string IssueAt(TestEnv& env, const v1::InvoiceIssue& lines, uint64_t at) {
  std::string tx = IssueTx(env, "dave", lines);
  std::string id = IdOf(tx);
  ExpectOk(env, tx, Until(env, at));
  return id;
}

// ---- Records ----

v1::Invoice InvoiceOf(TestEnv& env, const std::string& id) {
  auto i = contracts::Load<v1::Invoice>(env.chain().state(), Kind::kInvoice, id);
  REQUIRE(i.has_value());
  return *i;
}
// Counters of a key; all zero when it has none yet.
v1::Reputation ReputationOf(TestEnv& env, const std::string& name) {
  return contracts::Load<v1::Reputation>(env.chain().state(), Kind::kReputation, env.Pub(name).bytes()).value_or(v1::Reputation());
}
std::vector<std::string> InvoicesOf(TestEnv& env, const std::string& contract_id) {
  auto list = contracts::Load<v1::IdList>(env.chain().state(), Kind::kContractInvoices, contract_id);
  if (!list) return {};
  return {list->ids().begin(), list->ids().end()};
}
std::vector<std::string> OpenInvoices(const v1::Contract& c) { return {c.open_invoices().begin(), c.open_invoices().end()}; }

}  // namespace

// ============================================================================================
// 1. Issue and accept
// ============================================================================================

TEST_CASE("invoices: exact lines, consecutive periods, accepting pays from escrow at once with the broker's share",
          "[invoices]") {
  TestEnv env;
  // 1 unit (1 per ms), 1_000_000 deposited, bob brokers at 2.5 %.
  const std::string id = Form(env, Invoiced(env, 1, 1'000'000, 250, true));
  const uint64_t t0 = env.now_ms();
  v1::Contract c = ContractOf(env, id);
  CHECK(c.terms().invoiced());
  CHECK(c.terms().start_ms() == t0);
  CHECK(c.invoiced_until_ms() == t0);  // the first period starts at the start
  CHECK(c.charged() == 0);
  CHECK(c.owed() == 0);
  CHECK(c.locked() == 0);
  CHECK(EscrowSum(c) == 1'000'000);
  CHECK(env.Balance("alice", "USDC") == kFunding - 1'000'000);

  // Nothing streams from escrow: 10 s later nobody was paid.
  env.Close(Until(env, t0 + 10'000));
  c = ContractOf(env, id);
  CHECK(c.charged() == 0);
  CHECK(EscrowSum(c) == 1'000'000);
  CHECK(env.Balance("dave", "USDC") == kFunding);

  // Block at t0 + 12.345 s. Period [t0, t0 + 10_007]: 10_007 ms x 1 = 10_007;
  // broker fee floor(10_007 x 250 / 10_000) = floor(250.175) = 250.
  const std::string inv1 = IssueAt(env, Bill(id, t0, t0 + 10'007, 10'007, 10'007, 250, t0 + kHour), t0 + 12'345);
  v1::Invoice inv = InvoiceOf(env, inv1);
  CHECK(inv.id() == inv1);
  CHECK(inv.contract_id() == id);
  CHECK(inv.state() == v1::INVOICE_STATE_ISSUED);
  CHECK(inv.issued_at_ms() == t0 + 12'345);
  CHECK(inv.amount_due() == 10'007);
  CHECK(inv.paid() == 0);
  CHECK(inv.owed() == 10'007);
  CHECK(inv.disputed() == 0);
  CHECK(inv.locked() == 0);
  CHECK(inv.payments_size() == 0);
  CHECK(inv.lines().period_start_ms() == t0);
  CHECK(inv.lines().period_end_ms() == t0 + 10'007);
  CHECK(inv.lines().time_charge() == 10'007);
  CHECK(inv.lines().broker_fee() == 250);
  CHECK(inv.lines().total() == 10'007);
  c = ContractOf(env, id);
  CHECK(c.charged() == 10'007);  // accrued(end of the invoiced period)
  CHECK(c.invoiced_until_ms() == t0 + 10'007);
  CHECK(c.owed() == 10'007);     // reserved, not yet paid
  CHECK(c.locked() == 0);
  CHECK(EscrowSum(c) == 1'000'000);
  CHECK(c.paid_provider() == 0);
  CHECK(c.paid_broker() == 0);
  CHECK(OpenInvoices(c) == std::vector<std::string>{inv1});
  CHECK(c.next_due_ms() == t0 + kHour);
  CHECK(InvoicesOf(env, id) == std::vector<std::string>{inv1});
  CHECK(env.Balance("dave", "USDC") == kFunding);
  CHECK(env.Balance("bob", "USDC") == kFunding);

  // alice accepts at t0 + 13.345 s: paid from escrow at once.
  std::string accept = AcceptTx(env, "alice", inv1);
  const std::string accept_txid = IdOf(accept);
  ExpectOk(env, accept);
  inv = InvoiceOf(env, inv1);
  CHECK(inv.state() == v1::INVOICE_STATE_PAID);
  CHECK(inv.paid() == 10'007);
  CHECK(inv.amount_due() == 10'007);
  CHECK(inv.owed() == 0);
  CHECK(inv.settled_at_ms() == t0 + 13'345);
  REQUIRE(inv.payments_size() == 1);
  CHECK(inv.payments(0).method() == v1::PAYMENT_METHOD_ESCROW);
  CHECK(inv.payments(0).amount() == 10'007);
  CHECK(inv.payments(0).broker_share() == 250);  // floor(10_007 x 0.025)
  CHECK(inv.payments(0).at_ms() == t0 + 13'345);
  CHECK(inv.payments(0).txid() == accept_txid);
  c = ContractOf(env, id);
  CHECK(c.owed() == 0);
  CHECK(EscrowSum(c) == 989'993);  // 1_000_000 - 10_007
  CHECK(c.paid_provider() == 9'757);  // 10_007 - 250
  CHECK(c.paid_broker() == 250);
  CHECK(c.charged() == 10'007);
  CHECK(c.open_invoices_size() == 0);
  CHECK(c.next_due_ms() == 0);
  CHECK(env.Balance("dave", "USDC") == kFunding + 9'757);
  CHECK(env.Balance("bob", "USDC") == kFunding + 250);
  CHECK(env.Balance("alice", "USDC") == kFunding - 1'000'000);

  // The next period starts where the last one ended: [t0 + 10_007, t0 + 20_000] = 9_993;
  // its fee shows floor(9_993 x 0.025) = floor(249.825) = 249.
  const std::string inv2 = IssueAt(env, Bill(id, t0 + 10'007, t0 + 20'000, 9'993, 9'993, 249, t0 + kHour), t0 + 21'000);
  c = ContractOf(env, id);
  CHECK(c.charged() == 20'000);
  CHECK(c.invoiced_until_ms() == t0 + 20'000);
  CHECK(c.owed() == 9'993);
  ExpectOk(env, AcceptTx(env, "alice", inv2));
  inv = InvoiceOf(env, inv2);
  CHECK(inv.state() == v1::INVOICE_STATE_PAID);
  REQUIRE(inv.payments_size() == 1);
  CHECK(inv.payments(0).amount() == 9'993);
  // The broker's total is floor(20_000 x 0.025) = 500, so this payment carries 500 - 250 = 250,
  // not the 249 of the invoice's own fee.
  CHECK(inv.payments(0).broker_share() == 250);
  c = ContractOf(env, id);
  CHECK(c.paid_provider() == 19'500);
  CHECK(c.paid_broker() == 500);
  CHECK(EscrowSum(c) == 980'000);
  CHECK(c.owed() == 0);
  CHECK(InvoicesOf(env, id) == std::vector<std::string>{inv1, inv2});
  CHECK(env.Balance("dave", "USDC") == kFunding + 19'500);
  CHECK(env.Balance("bob", "USDC") == kFunding + 500);
  CHECK(env.Balance("alice", "USDC") == kFunding - 1'000'000);
  CHECK(ReputationOf(env, "alice").renter_invoices_disputed() == 0);
  CHECK(ReputationOf(env, "alice").renter_invoices_paid_late() == 0);
}

// ============================================================================================
// 2. The ledger pays unchallenged escrow-sourced invoices at their due time
// ============================================================================================

TEST_CASE("invoices: an unchallenged escrow-sourced invoice is paid by the ledger at its due time, on time",
          "[invoices]") {
  TestEnv env;
  // 2 units: 2 per ms. 1_000_000 lasts 500 s.
  const std::string id = Form(env, Invoiced(env, 2, 1'000'000));
  const uint64_t t0 = env.now_ms();

  // [t0, t0 + 4 s]: 2 x 4_000 = 8_000, due at t0 + 20 s.
  const std::string a = IssueAt(env, Bill(id, t0, t0 + 4'000, 8'000, 8'000, 0, t0 + 20'000), t0 + 5'000);
  CHECK(ContractOf(env, id).next_due_ms() == t0 + 20'000);
  CHECK(OnAgenda(env, id));

  env.Close(Until(env, t0 + 19'999));  // 1 ms before the due time: still issued
  CHECK(InvoiceOf(env, a).state() == v1::INVOICE_STATE_ISSUED);
  CHECK(InvoiceOf(env, a).paid() == 0);
  CHECK(env.Balance("dave", "USDC") == kFunding);
  CHECK(ContractOf(env, id).owed() == 8'000);

  env.Close(1);  // the block at the due time pays it
  v1::Invoice inv = InvoiceOf(env, a);
  CHECK(inv.state() == v1::INVOICE_STATE_PAID);
  CHECK(inv.paid() == 8'000);
  CHECK(inv.owed() == 0);
  CHECK(inv.settled_at_ms() == t0 + 20'000);
  REQUIRE(inv.payments_size() == 1);
  CHECK(inv.payments(0).method() == v1::PAYMENT_METHOD_ESCROW);
  CHECK(inv.payments(0).amount() == 8'000);
  CHECK(inv.payments(0).broker_share() == 0);
  CHECK(inv.payments(0).at_ms() == t0 + 20'000);
  CHECK(inv.payments(0).txid().empty());  // no tx: the ledger paid it
  v1::Contract c = ContractOf(env, id);
  CHECK(c.owed() == 0);
  CHECK(c.next_due_ms() == 0);
  CHECK(c.open_invoices_size() == 0);
  CHECK(EscrowSum(c) == 992'000);
  CHECK(c.paid_provider() == 8'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 8'000);

  // [t0 + 4 s, t0 + 21 s]: 2 x 17_000 = 34_000, due at t0 + 30 s; the first block after that is at
  // t0 + 42 s. It pays it then, settled as of the due time: not late.
  const std::string b = IssueAt(env, Bill(id, t0 + 4'000, t0 + 21'000, 34'000, 34'000, 0, t0 + 30'000), t0 + 22'000);
  CHECK(ContractOf(env, id).owed() == 34'000);
  env.Close(Until(env, t0 + 42'000));
  inv = InvoiceOf(env, b);
  CHECK(inv.state() == v1::INVOICE_STATE_PAID);
  CHECK(inv.paid() == 34'000);
  CHECK(inv.settled_at_ms() == t0 + 30'000);
  REQUIRE(inv.payments_size() == 1);
  CHECK(inv.payments(0).at_ms() == t0 + 42'000);
  c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_ACTIVE);
  CHECK(c.charged() == 42'000);  // accrued(t0 + 21 s)
  CHECK(c.owed() == 0);
  CHECK(EscrowSum(c) == 958'000);  // 1_000_000 - 8_000 - 34_000
  CHECK(env.Balance("dave", "USDC") == kFunding + 42'000);
  CHECK(env.Balance("alice", "USDC") == kFunding - 1'000'000);
  CHECK(ReputationOf(env, "alice").renter_invoices_paid_late() == 0);
  CHECK(ReputationOf(env, "dave").provider_invoices_paid_late() == 0);
  CHECK(OnAgenda(env, id));  // still watched for running dry

  // C: [t0 + 21 s, t0 + 43 s] = 2 x 22_000 = 44_000, due t0 + 60 s. alice pays 4_000 of it by
  // transfer; that part of the reservation is released, and the ledger pays the other 40_000
  // from escrow at the due time.
  const std::string cc = IssueAt(env, Bill(id, t0 + 21'000, t0 + 43'000, 44'000, 44'000, 0, t0 + 60'000), t0 + 44'000);
  ExpectOk(env, PayTx(env, "alice", cc, 4'000));  // t0 + 45 s
  inv = InvoiceOf(env, cc);
  CHECK(inv.state() == v1::INVOICE_STATE_PARTIALLY_PAID);
  CHECK(inv.owed() == 40'000);
  c = ContractOf(env, id);
  CHECK(c.owed() == 40'000);
  CHECK(c.next_due_ms() == t0 + 60'000);
  CHECK(EscrowSum(c) == 958'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 46'000);
  env.Close(Until(env, t0 + 60'000));
  inv = InvoiceOf(env, cc);
  CHECK(inv.state() == v1::INVOICE_STATE_PAID);
  CHECK(inv.paid() == 44'000);
  CHECK(inv.owed() == 0);
  REQUIRE(inv.payments_size() == 2);
  CHECK(inv.payments(0).method() == v1::PAYMENT_METHOD_TRANSFER);
  CHECK(inv.payments(0).amount() == 4'000);
  CHECK(inv.payments(1).method() == v1::PAYMENT_METHOD_ESCROW);
  CHECK(inv.payments(1).amount() == 40'000);
  c = ContractOf(env, id);
  CHECK(c.owed() == 0);
  CHECK(EscrowSum(c) == 918'000);  // 958_000 - 40_000
  CHECK(env.Balance("dave", "USDC") == kFunding + 86'000);
  CHECK(env.Balance("alice", "USDC") == kFunding - 1'004'000);
  CHECK(ReputationOf(env, "alice").renter_invoices_paid_late() == 0);
}

// ============================================================================================
// 3. Metered usage
// ============================================================================================

TEST_CASE("invoices: metered usage is charged by the next invoice, each delta once", "[invoices]") {
  TestEnv env;
  v1::ContractTerms terms = Invoiced(env, 1, 1'000'000);
  AddMetered(&terms, "egress_gb", 50);
  AddMetered(&terms, "storage_gb", 7);
  const std::string id = Form(env, terms);
  const uint64_t t0 = env.now_ms();

  // t0 + 1 s: 120 GB out, 30 GB stored. An invoiced contract charges nothing at once.
  std::string r1 = Report(env, "dave", id, {{"egress_gb", 120}, {"storage_gb", 30}}, "");
  const std::string r1_id = IdOf(r1);
  ExpectOk(env, r1);
  v1::Contract c = ContractOf(env, id);
  REQUIRE(c.usage_size() == 2);
  CHECK(c.usage(0).quantity() == 120);
  CHECK(c.usage(1).quantity() == 30);
  CHECK(c.metered_charged() == 0);
  CHECK(c.charged() == 0);
  CHECK(c.invoiced_usage_size() == 0);
  CHECK(EscrowSum(c) == 1'000'000);
  CHECK(env.Balance("dave", "USDC") == kFunding);

  // t0 + 3 s, period [t0, t0 + 2.5 s]: time 2_500; egress 120 x 50 = 6_000; storage 30 x 7 = 210;
  // total 2_500 + 6_000 + 210 = 8_710.
  v1::InvoiceIssue lines = Bill(id, t0, t0 + 2'500, 2'500, 8'710, 0, t0 + kHour);
  AddLine(&lines, "egress_gb", 120, 50, 6'000);
  AddLine(&lines, "storage_gb", 30, 7, 210);
  const std::string inv1 = IssueAt(env, lines, t0 + 3'000);
  c = ContractOf(env, id);
  CHECK(c.charged() == 2'500);
  CHECK(c.metered_charged() == 6'210);
  REQUIRE(c.invoiced_usage_size() == 2);
  CHECK(c.invoiced_usage(0).name() == "egress_gb");
  CHECK(c.invoiced_usage(0).quantity() == 120);
  CHECK(c.invoiced_usage(1).quantity() == 30);
  CHECK(c.owed() == 8'710);
  v1::Invoice inv = InvoiceOf(env, inv1);
  CHECK(inv.amount_due() == 8'710);
  REQUIRE(inv.lines().metered_size() == 2);
  CHECK(inv.lines().metered(0).amount() == 6'000);
  CHECK(inv.lines().metered(1).amount() == 210);
  ExpectOk(env, AcceptTx(env, "alice", inv1));  // t0 + 4 s
  CHECK(InvoiceOf(env, inv1).state() == v1::INVOICE_STATE_PAID);
  CHECK(env.Balance("dave", "USDC") == kFunding + 8'710);
  CHECK(EscrowSum(ContractOf(env, id)) == 991'290);  // 1_000_000 - 8_710

  // t0 + 5 s: egress to 150 (30 more), storage unchanged. Still nothing charged at once.
  std::string r2 = Report(env, "dave", id, {{"egress_gb", 150}, {"storage_gb", 30}}, r1_id);
  const std::string r2_id = IdOf(r2);
  ExpectOk(env, r2);
  CHECK(env.Balance("dave", "USDC") == kFunding + 8'710);
  CHECK(EscrowSum(ContractOf(env, id)) == 991'290);

  // The next invoice bills only the new delta: [t0 + 2.5 s, t0 + 5.8 s] = 3_300; egress 30 x 50 =
  // 1_500; no storage line (unchanged). Total 4_800.
  v1::InvoiceIssue next = Bill(id, t0 + 2'500, t0 + 5'800, 3'300, 4'800, 0, t0 + kHour);
  AddLine(&next, "egress_gb", 30, 50, 1'500);
  const std::string inv2 = IssueAt(env, next, t0 + 6'000);
  c = ContractOf(env, id);
  CHECK(c.charged() == 5'800);
  CHECK(c.metered_charged() == 7'710);  // 6_210 + 1_500
  CHECK(c.invoiced_usage(0).quantity() == 150);
  ExpectOk(env, AcceptTx(env, "alice", inv2));
  CHECK(env.Balance("dave", "USDC") == kFunding + 13'510);  // 8_710 + 4_800
  c = ContractOf(env, id);
  CHECK(EscrowSum(c) == 986'490);  // 1_000_000 - 13_510
  CHECK(c.paid_provider() == 13'510);

  // No usage since: a third invoice is time only [t0 + 5.8 s, t0 + 7 s] = 1_200.
  const std::string inv3 = IssueAt(env, Bill(id, t0 + 5'800, t0 + 7'000, 1'200, 1'200, 0, t0 + kHour), t0 + 8'000);
  CHECK(InvoiceOf(env, inv3).lines().metered_size() == 0);
  CHECK(ContractOf(env, id).metered_charged() == 7'710);
  CHECK(ContractOf(env, id).owed() == 1'200);

  // t0 + 9 s: egress to 170 (20 more). alice closes at t0 + 10 s: what was not invoiced, time
  // accrued(t0 + 10 s) - 7_000 = 3_000 and egress 20 x 50 = 1_000, is paid from free escrow
  // (986_490 - 1_200 owed by inv3 = 985_290); 985_290 - 4_000 = 981_290 goes back to alice.
  ExpectOk(env, Report(env, "dave", id, {{"egress_gb", 170}}, r2_id));
  ExpectOk(env, CloseContract(env, "alice", id), Until(env, t0 + 10'000));
  c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_RENTER_CLOSED);
  CHECK(c.charged() == 10'000);
  CHECK(c.metered_charged() == 8'710);
  CHECK(c.invoiced_until_ms() == t0 + 10'000);
  REQUIRE(c.invoiced_usage_size() == 2);
  CHECK(c.invoiced_usage(0).quantity() == 170);
  CHECK(c.refunded() == 981'290);
  CHECK(EscrowSum(c) == 1'200);
  CHECK(env.Balance("dave", "USDC") == kFunding + 17'510);
  ExpectOk(env, AcceptTx(env, "alice", inv3));
  CHECK(EscrowSum(ContractOf(env, id)) == 0);
  CHECK(env.Balance("dave", "USDC") == kFunding + 18'710);
  CHECK(env.Balance("alice", "USDC") == kFunding - 18'710);
}

// ============================================================================================
// 4. Disputes of escrow-sourced invoices
// ============================================================================================

TEST_CASE("invoices: a dispute pays the accepted part and locks the rest until resolved", "[invoices]") {
  TestEnv env;
  // 1 unit, 1_000_000 deposited, bob brokers at 10 %, carol arbitrates.
  const std::string id = Form(env, Invoiced(env, 1, 1'000'000, 1'000, true, true));
  const uint64_t t0 = env.now_ms();
  CHECK(ContractOf(env, id).terms().arbiter() == env.Pub("carol").bytes());

  // [t0, t0 + 10 s] = 10_000; fee floor(10_000 x 0.1) = 1_000.
  const std::string inv_id = IssueAt(env, Bill(id, t0, t0 + 10'000, 10'000, 10'000, 1'000, t0 + kHour), t0 + 10'000);
  // t0 + 11 s: alice accepts 4_000 and disputes 6_000. The 4_000 is paid now: broker 400, dave 3_600.
  ExpectOk(env, DisputeTx(env, "alice", inv_id, 4'000, v1::DISPUTE_REASON_SERVICE_DEGRADED));
  v1::Invoice inv = InvoiceOf(env, inv_id);
  CHECK(inv.state() == v1::INVOICE_STATE_DISPUTED);
  CHECK(inv.paid() == 4'000);
  CHECK(inv.disputed() == 6'000);
  CHECK(inv.locked() == 6'000);
  CHECK(inv.owed() == 0);
  CHECK(inv.amount_due() == 10'000);
  CHECK(inv.dispute_reason() == v1::DISPUTE_REASON_SERVICE_DEGRADED);
  CHECK(inv.disputed_at_ms() == t0 + 11'000);
  REQUIRE(inv.payments_size() == 1);
  CHECK(inv.payments(0).method() == v1::PAYMENT_METHOD_ESCROW);
  CHECK(inv.payments(0).amount() == 4'000);
  CHECK(inv.payments(0).broker_share() == 400);
  v1::Contract c = ContractOf(env, id);
  CHECK(c.owed() == 0);
  CHECK(c.locked() == 6'000);
  CHECK(EscrowSum(c) == 996'000);
  CHECK(c.next_due_ms() == 0);  // a disputed invoice is not paid at its due time
  CHECK(env.Balance("dave", "USDC") == kFunding + 3'600);
  CHECK(env.Balance("bob", "USDC") == kFunding + 400);
  CHECK(ReputationOf(env, "alice").renter_invoices_disputed() == 1);
  CHECK(ReputationOf(env, "dave").provider_invoices_disputed() == 1);
  CHECK(ReputationOf(env, "dave").renter_invoices_disputed() == 0);
  // Nothing of the disputed part is payable meanwhile.
  ExpectRejected(env, PayTx(env, "alice", inv_id, 1), Code::kBadAmount);  // t0 + 12 s

  // Each resolution at t0 + 13 s; alice then closes at t0 + 14 s. Uninvoiced time at the close:
  // accrued(t0 + 14 s) - 10_000 = 4_000, paid from free escrow; the rest goes back to alice.
  uint64_t provider_amount = 0, broker_after = 0, dave_after = 0, escrow_after = 0;
  std::string resolve;
  SECTION("the provider alone concedes: provider amount 0") {
    resolve = ResolveTx(env, {"dave"}, inv_id, 0);
    provider_amount = 0;
    broker_after = 400;   // nothing more paid
    dave_after = 3'600;
    escrow_after = 996'000;
  }
  SECTION("renter and provider settle on a split: 2_500 to the provider") {
    resolve = ResolveTx(env, {"alice", "dave"}, inv_id, 2'500);
    provider_amount = 2'500;
    broker_after = 650;   // floor(6_500 x 0.1)
    dave_after = 5'850;   // 6_500 - 650
    escrow_after = 993'500;
  }
  SECTION("the arbiter rules a split: 5_000 to the provider") {
    resolve = ResolveTx(env, {"carol"}, inv_id, 5'000);
    provider_amount = 5'000;
    broker_after = 900;   // floor(9_000 x 0.1)
    dave_after = 8'100;
    escrow_after = 991'000;
  }
  SECTION("the renter alone withdraws the dispute: all 6_000 to the provider") {
    resolve = ResolveTx(env, {"alice"}, inv_id, 6'000);
    provider_amount = 6'000;
    broker_after = 1'000;  // floor(10_000 x 0.1)
    dave_after = 9'000;
    escrow_after = 990'000;
  }
  const std::string resolve_txid = IdOf(resolve);
  ExpectOk(env, resolve, Until(env, t0 + 13'000));
  inv = InvoiceOf(env, inv_id);
  CHECK(inv.state() == v1::INVOICE_STATE_PAID);
  CHECK(inv.disputed() == 0);
  CHECK(inv.locked() == 0);
  CHECK(inv.resolved_provider_amount() == provider_amount);
  CHECK(inv.amount_due() == 4'000 + provider_amount);  // 10_000 - 6_000 disputed + the provider's part
  CHECK(inv.paid() == 4'000 + provider_amount);
  CHECK(inv.settled_at_ms() == t0 + 13'000);
  if (provider_amount > 0) {
    REQUIRE(inv.payments_size() == 2);
    CHECK(inv.payments(1).method() == v1::PAYMENT_METHOD_ESCROW);
    CHECK(inv.payments(1).amount() == provider_amount);
    CHECK(inv.payments(1).broker_share() == broker_after - 400);
    CHECK(inv.payments(1).txid() == resolve_txid);
  } else {
    CHECK(inv.payments_size() == 1);
  }
  c = ContractOf(env, id);
  CHECK(c.locked() == 0);  // released
  CHECK(c.owed() == 0);
  CHECK(EscrowSum(c) == escrow_after);
  CHECK(c.paid_broker() == broker_after);
  CHECK(c.paid_provider() == dave_after);
  CHECK(c.open_invoices_size() == 0);
  CHECK(env.Balance("dave", "USDC") == kFunding + dave_after);
  CHECK(env.Balance("bob", "USDC") == kFunding + broker_after);
  CHECK(env.Balance("alice", "USDC") == kFunding - 1'000'000);
  // A resolved dispute is counted once, however it ended.
  CHECK(ReputationOf(env, "alice").renter_invoices_disputed() == 1);
  CHECK(ReputationOf(env, "dave").provider_invoices_disputed() == 1);
  CHECK(ReputationOf(env, "dave").provider_invoices_voided() == 0);

  // The released escrow is free again: alice closes at t0 + 14 s, pays the 4_000 not yet
  // invoiced and gets the rest back. In all she paid 4_000 + provider_amount + 4_000.
  ExpectOk(env, CloseContract(env, "alice", id), Until(env, t0 + 14'000));
  c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_RENTER_CLOSED);
  CHECK(c.charged() == 14'000);
  CHECK(EscrowSum(c) == 0);
  CHECK(c.refunded() == escrow_after - 4'000);
  const uint64_t total_paid = 8'000 + provider_amount;
  CHECK(env.Balance("alice", "USDC") == kFunding - total_paid);
  CHECK(c.paid_provider() + c.paid_broker() == total_paid);
  CHECK(env.Balance("dave", "USDC") + env.Balance("bob", "USDC") == 2 * kFunding + total_paid);
}

// ============================================================================================
// 5. Invoices paid directly
// ============================================================================================

TEST_CASE("invoices: direct invoices are paid by transfer or by a recorded external payment", "[invoices]") {
  TestEnv env;
  // 1 unit, bob brokers at 10 %.
  const std::string id = Form(env, Invoiced(env, 1, 1'000'000, 1'000, true));
  const uint64_t t0 = env.now_ms();

  // A: [t0, t0 + 10 s] = 10_000, direct, due t0 + 60 s. Nothing is reserved in escrow.
  const std::string a =
      IssueAt(env, Bill(id, t0, t0 + 10'000, 10'000, 10'000, 1'000, t0 + 60'000, v1::PAYMENT_SOURCE_DIRECT), t0 + 10'000);
  v1::Contract c = ContractOf(env, id);
  CHECK(c.owed() == 0);
  CHECK(c.charged() == 10'000);
  CHECK(c.next_due_ms() == 0);
  CHECK(InvoiceOf(env, a).owed() == 0);

  // alice pays 4_000 at t0 + 11 s: broker floor(4_000 x 0.1) = 400.
  std::string pay1 = PayTx(env, "alice", a, 4'000);
  const std::string pay1_txid = IdOf(pay1);
  ExpectOk(env, pay1);
  v1::Invoice inv = InvoiceOf(env, a);
  CHECK(inv.state() == v1::INVOICE_STATE_PARTIALLY_PAID);
  CHECK(inv.paid() == 4'000);
  REQUIRE(inv.payments_size() == 1);
  CHECK(inv.payments(0).method() == v1::PAYMENT_METHOD_TRANSFER);
  CHECK(inv.payments(0).amount() == 4'000);
  CHECK(inv.payments(0).broker_share() == 400);
  CHECK(inv.payments(0).payer() == env.Pub("alice").bytes());
  CHECK(inv.payments(0).txid() == pay1_txid);
  CHECK(env.Balance("alice", "USDC") == kFunding - 1'004'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 3'600);
  CHECK(env.Balance("bob", "USDC") == kFunding + 400);
  ExpectRejected(env, PayTx(env, "alice", a, 6'001), Code::kBadAmount);  // t0 + 12 s: 6_000 is left
  // t0 + 13 s, the rest: the broker's total is floor(10_000 x 0.1) = 1_000, so 600 of this.
  ExpectOk(env, PayTx(env, "alice", a, 6'000));
  inv = InvoiceOf(env, a);
  CHECK(inv.state() == v1::INVOICE_STATE_PAID);
  CHECK(inv.paid() == 10'000);
  CHECK(inv.settled_at_ms() == t0 + 13'000);
  REQUIRE(inv.payments_size() == 2);
  CHECK(inv.payments(1).amount() == 6'000);
  CHECK(inv.payments(1).broker_share() == 600);
  CHECK(env.Balance("alice", "USDC") == kFunding - 1'010'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 9'000);
  CHECK(env.Balance("bob", "USDC") == kFunding + 1'000);
  c = ContractOf(env, id);
  CHECK(EscrowSum(c) == 1'000'000);  // escrow untouched
  CHECK(c.paid_provider() == 9'000);
  CHECK(c.paid_broker() == 1'000);
  CHECK(ReputationOf(env, "alice").renter_invoices_paid_late() == 0);
  ExpectRejected(env, PayTx(env, "alice", a, 1), Code::kWrongState);  // paid

  // B: [t0 + 10 s, t0 + 20 s] = 10_000, due t0 + 30 s. alice pays 10_000 USDC on ethereum; dave records
  // it at t0 + 25 s. dave received all of it off the ledger; the broker's floor(20_000 x 0.1) - 1_000
  // = 1_000 moves on the ledger from dave to bob.
  const std::string b = IssueAt(
      env, Bill(id, t0 + 10'000, t0 + 20'000, 10'000, 10'000, 1'000, t0 + 30'000, v1::PAYMENT_SOURCE_DIRECT), t0 + 20'000);
  std::string ext = ExternalTx(env, "dave", b, 10'000, "ethereum", "0xfeed01", "0xa11ce");
  const std::string ext_txid = IdOf(ext);
  ExpectOk(env, ext, Until(env, t0 + 25'000));
  inv = InvoiceOf(env, b);
  CHECK(inv.state() == v1::INVOICE_STATE_PAID);
  CHECK(inv.paid() == 10'000);
  REQUIRE(inv.payments_size() == 1);
  CHECK(inv.payments(0).method() == v1::PAYMENT_METHOD_EXTERNAL);
  CHECK(inv.payments(0).amount() == 10'000);
  CHECK(inv.payments(0).broker_share() == 1'000);
  CHECK(inv.payments(0).network() == "ethereum");
  CHECK(inv.payments(0).external_txid() == "0xfeed01");
  CHECK(inv.payments(0).external_payer() == "0xa11ce");
  CHECK(inv.payments(0).txid() == ext_txid);
  auto marker = contracts::Load<v1::ExternalTx>(env.chain().state(), Kind::kPaymentExternalTx,
                                                contracts::ExternalTxId("ethereum", "0xfeed01"));
  REQUIRE(marker.has_value());
  // Receipts have their own namespace: the bridge's deposit markers are untouched.
  CHECK_FALSE(contracts::Load<v1::ExternalTx>(env.chain().state(), Kind::kExternalTx,
                                              contracts::ExternalTxId("ethereum", "0xfeed01")).has_value());
  CHECK(marker->height() == env.chain().height());
  CHECK(env.Balance("alice", "USDC") == kFunding - 1'010'000);  // paid off the ledger
  CHECK(env.Balance("dave", "USDC") == kFunding + 8'000);       // 9_000 - 1_000 to bob
  CHECK(env.Balance("bob", "USDC") == kFunding + 2'000);
  c = ContractOf(env, id);
  CHECK(c.paid_provider() == 18'000);
  CHECK(c.paid_broker() == 2'000);
  CHECK(EscrowSum(c) == 1'000'000);

  // C: [t0 + 20 s, t0 + 30 s] = 10_000, due t0 + 40 s, paid by alice at t0 + 45 s: late.
  // Broker floor(30_000 x 0.1) - 2_000 = 1_000.
  const std::string cc = IssueAt(
      env, Bill(id, t0 + 20'000, t0 + 30'000, 10'000, 10'000, 1'000, t0 + 40'000, v1::PAYMENT_SOURCE_DIRECT), t0 + 30'000);
  ExpectOk(env, PayTx(env, "alice", cc, 10'000), Until(env, t0 + 45'000));
  inv = InvoiceOf(env, cc);
  CHECK(inv.state() == v1::INVOICE_STATE_PAID);
  CHECK(inv.settled_at_ms() == t0 + 45'000);
  CHECK(ReputationOf(env, "alice").renter_invoices_paid_late() == 1);
  CHECK(ReputationOf(env, "dave").provider_invoices_paid_late() == 1);
  CHECK(env.Balance("alice", "USDC") == kFunding - 1'020'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 17'000);
  CHECK(env.Balance("bob", "USDC") == kFunding + 3'000);
  c = ContractOf(env, id);
  CHECK(c.charged() == 30'000);
  CHECK(c.paid_provider() == 27'000);
  CHECK(c.paid_broker() == 3'000);
  CHECK(EscrowSum(c) == 1'000'000);
  CHECK(c.open_invoices_size() == 0);
}

// ============================================================================================
// 6. Void and reissue
// ============================================================================================

TEST_CASE("invoices: a voided invoice is forgiven and can be reissued once for the same period", "[invoices]") {
  TestEnv env;
  v1::ContractTerms terms = Invoiced(env, 1, 1'000'000);
  AddMetered(&terms, "egress_gb", 50);
  const std::string id = Form(env, terms);
  const uint64_t t0 = env.now_ms();
  ExpectOk(env, Report(env, "dave", id, {{"egress_gb", 10}}, ""));  // 10 x 50 = 500
  // A: [t0, t0 + 10 s] = 10_000 + egress 500 = 10_500, from escrow.
  v1::InvoiceIssue lines = Bill(id, t0, t0 + 10'000, 10'000, 10'500, 0, t0 + kHour);
  AddLine(&lines, "egress_gb", 10, 50, 500);
  const std::string a = IssueAt(env, lines, t0 + 10'000);
  CHECK(ContractOf(env, id).owed() == 10'500);
  CHECK(ContractOf(env, id).metered_charged() == 500);

  ExpectRejected(env, VoidTx(env, "alice", a), Code::kNotAuthorized);  // t0 + 11 s
  ExpectRejected(env, VoidTx(env, "bob", a), Code::kNotAuthorized);    // t0 + 12 s
  ExpectOk(env, VoidTx(env, "dave", a));                                // t0 + 13 s
  v1::Invoice inv = InvoiceOf(env, a);
  CHECK(inv.state() == v1::INVOICE_STATE_VOIDED);
  CHECK(inv.amount_due() == 0);  // nothing was paid: all of it forgiven
  CHECK(inv.paid() == 0);
  CHECK(inv.owed() == 0);
  CHECK(inv.settled_at_ms() == t0 + 13'000);
  v1::Contract c = ContractOf(env, id);
  CHECK(c.owed() == 0);  // released
  CHECK(c.charged() == 10'000);
  CHECK(c.invoiced_until_ms() == t0 + 10'000);
  CHECK(c.open_invoices_size() == 0);
  CHECK(c.next_due_ms() == 0);
  CHECK(EscrowSum(c) == 1'000'000);
  CHECK(env.Balance("dave", "USDC") == kFunding);
  CHECK(ReputationOf(env, "dave").provider_invoices_voided() == 1);

  // A voided invoice takes nothing more.
  ExpectRejected(env, PayTx(env, "alice", a, 1), Code::kWrongState);
  ExpectRejected(env, ExternalTx(env, "dave", a, 1, "ethereum", "0xv01"), Code::kWrongState);
  ExpectRejected(env, AcceptTx(env, "alice", a), Code::kWrongState);
  ExpectRejected(env, DisputeTx(env, "alice", a, 0), Code::kWrongState);
  ExpectRejected(env, VoidTx(env, "dave", a), Code::kWrongState);
  // The period stays invoiced (invoiced_until did not move back): a plain invoice for it starts
  // at the wrong place; a reissue covers exactly the voided period...
  ExpectRejected(env, IssueTx(env, "dave", lines), Code::kMismatch);
  v1::InvoiceIssue wrong = Bill(id, t0, t0 + 9'000, 9'000, 9'500, 0, t0 + kHour);
  AddLine(&wrong, "egress_gb", 10, 50, 500);
  wrong.set_replaces(a);
  ExpectRejected(env, IssueTx(env, "dave", wrong), Code::kMismatch);
  // ...with the voided invoice's metered lines, though no usage was reported since.
  v1::InvoiceIssue no_lines = Bill(id, t0, t0 + 10'000, 10'000, 10'000, 0, t0 + kHour);
  no_lines.set_replaces(a);
  ExpectRejected(env, IssueTx(env, "dave", no_lines), Code::kMismatch);

  // The reissue, with a credit: 10_000 + 500 - 1_500 = 9_000.
  v1::InvoiceIssue again = lines;
  again.set_replaces(a);
  again.set_credit(1'500);
  again.set_total(9'000);
  const std::string b = IssueAt(env, again, t0 + 30'000);
  inv = InvoiceOf(env, a);
  CHECK(inv.reissued_by() == b);
  CHECK(inv.state() == v1::INVOICE_STATE_VOIDED);
  v1::Invoice reissued = InvoiceOf(env, b);
  CHECK(reissued.state() == v1::INVOICE_STATE_ISSUED);
  CHECK(reissued.lines().replaces() == a);
  CHECK(reissued.lines().credit() == 1'500);
  CHECK(reissued.amount_due() == 9'000);
  CHECK(reissued.owed() == 9'000);
  c = ContractOf(env, id);
  CHECK(c.owed() == 9'000);
  CHECK(c.charged() == 10'000);       // the period is charged once
  CHECK(c.metered_charged() == 500);  // and its usage once
  CHECK(c.invoiced_until_ms() == t0 + 10'000);
  CHECK(InvoicesOf(env, id) == std::vector<std::string>{a, b});

  // Only once; and only a voided invoice.
  v1::InvoiceIssue twice = lines;
  twice.set_replaces(a);
  ExpectRejected(env, IssueTx(env, "dave", twice), Code::kDuplicate);
  ExpectRejected(env, IssueTx(env, "dave", again), Code::kDuplicate);
  v1::InvoiceIssue of_open = lines;
  of_open.set_replaces(b);
  ExpectRejected(env, IssueTx(env, "dave", of_open), Code::kWrongState);

  ExpectOk(env, AcceptTx(env, "alice", b));
  CHECK(InvoiceOf(env, b).state() == v1::INVOICE_STATE_PAID);
  CHECK(env.Balance("dave", "USDC") == kFunding + 9'000);
  CHECK(EscrowSum(ContractOf(env, id)) == 991'000);
  // Invoicing goes on from the end of the voided period, without its usage again.
  IssueAt(env, Bill(id, t0 + 10'000, t0 + 20'000, 10'000, 10'000, 0, t0 + kHour), t0 + 40'000);
  c = ContractOf(env, id);
  CHECK(c.invoiced_until_ms() == t0 + 20'000);
  CHECK(c.metered_charged() == 500);
  CHECK(ReputationOf(env, "dave").provider_invoices_voided() == 1);
}

TEST_CASE("invoices: a reissue does not bill again what was paid on the voided invoice", "[invoices]") {
  TestEnv env;
  const std::string id = Form(env, Invoiced(env, 1, 1'000'000));
  const uint64_t t0 = env.now_ms();
  // [t0, t0 + 10 s] = 10_000 of service in all.
  const std::string a =
      IssueAt(env, Bill(id, t0, t0 + 10'000, 10'000, 10'000, 0, t0 + kHour, v1::PAYMENT_SOURCE_ESCROW), t0 + 10'000);

  SECTION("escrow-sourced: the accepted part of a dispute was paid, then dave voids and reissues") {
    ExpectOk(env, DisputeTx(env, "alice", a, 4'000));  // 4_000 paid from escrow
    CHECK(env.Balance("dave", "USDC") == kFunding + 4'000);
    ExpectOk(env, VoidTx(env, "dave", a));
    v1::Invoice voided = InvoiceOf(env, a);
    CHECK(voided.state() == v1::INVOICE_STATE_VOIDED);
    CHECK(voided.amount_due() == 4'000);  // what was paid stays paid
    CHECK(voided.disputed() == 0);
    CHECK(voided.locked() == 0);
    CHECK(ContractOf(env, id).locked() == 0);  // the 6_000 lock is released
    CHECK(ContractOf(env, id).owed() == 0);
    // In full it would bill the 4_000 again: refused; 10_000 - 4_000 = 6_000 is the total.
    v1::InvoiceIssue again = Bill(id, t0, t0 + 10'000, 10'000, 10'000, 0, t0 + 30'000);
    again.set_replaces(a);
    ExpectRejected(env, IssueTx(env, "dave", again), Code::kMismatch);
    again.set_total(6'000);
    std::string reissue = IssueTx(env, "dave", again);
    const std::string b2 = IdOf(reissue);
    ExpectOk(env, reissue);
    CHECK(InvoiceOf(env, b2).collected_before() == 4'000);
    CHECK(ContractOf(env, id).owed() == 6'000);
    // Unchallenged, the ledger pays it from escrow at its due time.
    env.Close(Until(env, t0 + 31'000));
    CHECK(InvoiceOf(env, b2).state() == v1::INVOICE_STATE_PAID);
    CHECK(env.Balance("dave", "USDC") == kFunding + 10'000);
    ExpectRejected(env, VoidTx(env, "dave", b2), Code::kWrongState);  // paid is final
  }
  SECTION("direct: alice paid part by transfer, then dave voids and reissues twice") {
    ExpectOk(env, PayTx(env, "alice", a, 4'000));
    CHECK(env.Balance("dave", "USDC") == kFunding + 4'000);
    ExpectOk(env, VoidTx(env, "dave", a));
    v1::InvoiceIssue again = Bill(id, t0, t0 + 10'000, 10'000, 6'000, 0, t0 + kHour, v1::PAYMENT_SOURCE_DIRECT);
    again.set_replaces(a);
    std::string reissue = IssueTx(env, "dave", again);
    const std::string b = IdOf(reissue);
    ExpectOk(env, reissue);
    ExpectOk(env, PayTx(env, "alice", b, 1'000));  // 5_000 collected on the period so far
    ExpectOk(env, VoidTx(env, "dave", b));
    v1::InvoiceIssue third = Bill(id, t0, t0 + 10'000, 10'000, 6'000, 0, t0 + kHour, v1::PAYMENT_SOURCE_DIRECT);
    third.set_replaces(b);
    ExpectRejected(env, IssueTx(env, "dave", third), Code::kMismatch);  // 10_000 - 4_000 - 1_000 = 5_000
    third.set_total(5'000);
    std::string last = IssueTx(env, "dave", third);
    const std::string c3 = IdOf(last);
    ExpectOk(env, last);
    CHECK(InvoiceOf(env, c3).collected_before() == 5'000);
    ExpectOk(env, PayTx(env, "alice", c3, 5'000));
    CHECK(InvoiceOf(env, c3).state() == v1::INVOICE_STATE_PAID);
    CHECK(env.Balance("dave", "USDC") == kFunding + 10'000);
  }
  // Either way dave is paid exactly the 10_000 the period is worth, as the ledger's own books say.
  v1::Contract c = ContractOf(env, id);
  CHECK(env.Balance("dave", "USDC") <= kFunding + 10'000);
  CHECK(c.paid_provider() + c.paid_broker() <= c.charged() + c.metered_charged());
}

TEST_CASE("invoices: a dispute's resolution is final: the invoice it ended is not reissued", "[invoices]") {
  TestEnv env;
  const std::string id = Form(env, Invoiced(env, 1, 1'000'000));
  const uint64_t t0 = env.now_ms();
  const std::string a = IssueAt(env, Bill(id, t0, t0 + 10'000, 10'000, 10'000, 0, t0 + kHour), t0 + 10'000);
  ExpectOk(env, DisputeTx(env, "alice", a, 0));           // all 10_000 disputed and locked
  ExpectOk(env, ResolveTx(env, {"dave"}, a, 0));           // dave concedes: nothing is due
  v1::Invoice ended = InvoiceOf(env, a);
  CHECK(ended.state() == v1::INVOICE_STATE_VOIDED);
  CHECK(ended.resolved());
  CHECK(ContractOf(env, id).locked() == 0);
  v1::InvoiceIssue again = Bill(id, t0, t0 + 10'000, 10'000, 10'000, 0, t0 + kHour);
  again.set_replaces(a);
  ExpectRejected(env, IssueTx(env, "dave", again), Code::kWrongState);
  CHECK(env.Balance("dave", "USDC") == kFunding);
}

TEST_CASE("invoices: the arbiter must be neither renter nor provider", "[invoices]") {
  TestEnv env;
  v1::ContractTerms t = Invoiced(env, 1, 1'000);
  t.set_arbiter(env.Pub("dave").bytes());
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kBadField);
  t.set_arbiter(env.Pub("alice").bytes());
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kBadField);
}

// ============================================================================================
// 7. Closing an invoiced contract
// ============================================================================================

TEST_CASE("invoices: a closed contract keeps the escrow its open invoices reserve until they settle", "[invoices]") {
  TestEnv env;
  const std::string id = Form(env, Invoiced(env, 1, 100'000));
  const uint64_t t0 = env.now_ms();
  // A: [t0, t0 + 10 s] and B: [t0 + 10 s, t0 + 20 s], 10_000 each, from escrow, both due at t0 + 100 s.
  const std::string a = IssueAt(env, Bill(id, t0, t0 + 10'000, 10'000, 10'000, 0, t0 + 100'000), t0 + 10'000);
  const std::string b = IssueAt(env, Bill(id, t0 + 10'000, t0 + 20'000, 10'000, 10'000, 0, t0 + 100'000), t0 + 20'000);
  // t0 + 21 s: alice accepts 3_000 of B and disputes 7_000.
  ExpectOk(env, DisputeTx(env, "alice", b, 3'000));
  v1::Contract c = ContractOf(env, id);
  CHECK(c.owed() == 10'000);
  CHECK(c.locked() == 7'000);
  CHECK(EscrowSum(c) == 97'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 3'000);

  // alice closes at t0 + 30 s. Not invoiced: accrued(t0 + 30 s) - 20_000 = 10_000, paid from free
  // escrow (97_000 - 10_000 owed - 7_000 locked = 80_000); the other 70_000 goes back to alice.
  ExpectOk(env, CloseContract(env, "alice", id), Until(env, t0 + 30'000));
  c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_RENTER_CLOSED);
  CHECK(c.closed_at_ms() == t0 + 30'000);
  CHECK(c.charged() == 30'000);
  CHECK(c.invoiced_until_ms() == t0 + 30'000);
  CHECK(c.owed() == 10'000);
  CHECK(c.locked() == 7'000);
  CHECK(EscrowSum(c) == 17'000);  // = owed + locked
  CHECK(c.refunded() == 70'000);
  CHECK(OpenInvoices(c) == std::vector<std::string>{a, b});
  CHECK(c.next_due_ms() == t0 + 100'000);
  CHECK(OnAgenda(env, id));  // A is still to be paid at its due time
  CHECK(env.Balance("dave", "USDC") == kFunding + 13'000);
  CHECK(env.Balance("alice", "USDC") == kFunding - 30'000);
  CHECK(ReputationOf(env, "alice").renter_closed_early() == 1);
  // No more invoices on a closed contract.
  ExpectRejected(env, IssueTx(env, "dave", Bill(id, t0 + 30'000, t0 + 31'000, 1'000, 1'000, 0, t0 + kHour)),
                 Code::kWrongState);  // t0 + 31 s

  SECTION("A is paid at its due time; B's locked escrow stays until the dispute is settled") {
    env.Close(Until(env, t0 + 99'999));
    CHECK(InvoiceOf(env, a).state() == v1::INVOICE_STATE_ISSUED);
    CHECK(env.Balance("dave", "USDC") == kFunding + 13'000);
    env.Close(1);  // t0 + 100 s
    v1::Invoice inv = InvoiceOf(env, a);
    CHECK(inv.state() == v1::INVOICE_STATE_PAID);
    CHECK(inv.paid() == 10'000);
    CHECK(inv.settled_at_ms() == t0 + 100'000);
    c = ContractOf(env, id);
    CHECK(c.owed() == 0);
    CHECK(c.locked() == 7'000);
    CHECK(EscrowSum(c) == 7'000);
    CHECK(c.refunded() == 70'000);
    CHECK(OpenInvoices(c) == std::vector<std::string>{b});
    CHECK_FALSE(OnAgenda(env, id));
    CHECK(env.Balance("dave", "USDC") == kFunding + 23'000);
    CHECK(env.Balance("alice", "USDC") == kFunding - 30'000);
    CHECK(ReputationOf(env, "alice").renter_invoices_paid_late() == 0);

    // t0 + 101 s: alice and dave settle on 2_000 of the 7_000; 5_000 goes back to alice at once.
    ExpectOk(env, ResolveTx(env, {"alice", "dave"}, b, 2'000));
    inv = InvoiceOf(env, b);
    CHECK(inv.state() == v1::INVOICE_STATE_PAID);
    CHECK(inv.amount_due() == 5'000);  // 10_000 - 7_000 + 2_000
    CHECK(inv.paid() == 5'000);
    REQUIRE(inv.payments_size() == 2);
    CHECK(inv.payments(0).amount() == 3'000);
    CHECK(inv.payments(1).amount() == 2'000);
    c = ContractOf(env, id);
    CHECK(c.locked() == 0);
    CHECK(EscrowSum(c) == 0);
    CHECK(c.refunded() == 75'000);
    CHECK(c.open_invoices_size() == 0);
    CHECK(env.Balance("dave", "USDC") == kFunding + 25'000);
    CHECK(env.Balance("alice", "USDC") == kFunding - 25'000);
  }
  SECTION("dave concedes B before A is due: its lock is refunded at once, A paid at its due time") {
    ExpectOk(env, ResolveTx(env, {"dave"}, b, 0));  // t0 + 32 s
    v1::Invoice inv = InvoiceOf(env, b);
    CHECK(inv.state() == v1::INVOICE_STATE_PAID);
    CHECK(inv.amount_due() == 3'000);
    c = ContractOf(env, id);
    CHECK(c.locked() == 0);
    CHECK(EscrowSum(c) == 10'000);  // = owed by A
    CHECK(c.refunded() == 77'000);
    CHECK(env.Balance("alice", "USDC") == kFunding - 23'000);
    env.Close(Until(env, t0 + 100'000));
    CHECK(InvoiceOf(env, a).state() == v1::INVOICE_STATE_PAID);
    c = ContractOf(env, id);
    CHECK(EscrowSum(c) == 0);
    CHECK(c.owed() == 0);
    CHECK(c.refunded() == 77'000);
    CHECK(c.open_invoices_size() == 0);
    CHECK_FALSE(OnAgenda(env, id));
    CHECK(env.Balance("dave", "USDC") == kFunding + 23'000);
    CHECK(env.Balance("alice", "USDC") == kFunding - 23'000);
  }
  SECTION("alice pays A by transfer after the close: its reservation is refunded at once") {
    ExpectOk(env, PayTx(env, "alice", a, 10'000));  // t0 + 32 s
    CHECK(InvoiceOf(env, a).state() == v1::INVOICE_STATE_PAID);
    c = ContractOf(env, id);
    CHECK(c.owed() == 0);
    CHECK(c.next_due_ms() == 0);
    CHECK(EscrowSum(c) == 7'000);  // = locked by B
    CHECK(c.refunded() == 80'000);
    CHECK_FALSE(OnAgenda(env, id));
    CHECK(env.Balance("dave", "USDC") == kFunding + 23'000);
    CHECK(env.Balance("alice", "USDC") == kFunding - 30'000);  // -10_000 paid, +10_000 refunded
  }
  SECTION("dave voids A after the close: its reservation is refunded; alice then withdraws her dispute") {
    ExpectOk(env, VoidTx(env, "dave", a));  // t0 + 32 s
    c = ContractOf(env, id);
    CHECK(c.owed() == 0);
    CHECK(EscrowSum(c) == 7'000);  // = locked by B
    CHECK(c.refunded() == 80'000);
    CHECK_FALSE(OnAgenda(env, id));
    CHECK(env.Balance("alice", "USDC") == kFunding - 20'000);
    CHECK(ReputationOf(env, "dave").provider_invoices_voided() == 1);
    ExpectOk(env, ResolveTx(env, {"alice"}, b, 7'000));  // t0 + 33 s
    CHECK(InvoiceOf(env, b).state() == v1::INVOICE_STATE_PAID);
    c = ContractOf(env, id);
    CHECK(EscrowSum(c) == 0);
    CHECK(c.locked() == 0);
    CHECK(c.refunded() == 80'000);
    CHECK(env.Balance("dave", "USDC") == kFunding + 20'000);
    CHECK(env.Balance("alice", "USDC") == kFunding - 20'000);
  }
}

// ============================================================================================
// 8. Running dry
// ============================================================================================

TEST_CASE("invoices: an invoiced contract whose free escrow cannot cover uninvoiced time closes as insufficient_funds",
          "[invoices]") {
  TestEnv env;
  const std::string id = Form(env, Invoiced(env, 1, 20'000));
  const uint64_t t0 = env.now_ms();
  // [t0, t0 + 5 s] = 5_000 from escrow, due in an hour: 5_000 owed, 15_000 free. Free escrow covers
  // time until accrued(t) - 5_000 = 15_000, i.e. t0 + 20 s; dry at t0 + 20.001 s.
  const std::string a = IssueAt(env, Bill(id, t0, t0 + 5'000, 5'000, 5'000, 0, t0 + kHour), t0 + 5'000);
  env.Close(Until(env, t0 + 20'000));
  CHECK(ContractOf(env, id).state() == v1::CONTRACT_STATE_ACTIVE);
  CHECK(env.Balance("dave", "USDC") == kFunding);
  env.Close(1);
  v1::Contract c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
  CHECK(c.closed_at_ms() == t0 + 20'001);
  CHECK(c.charged() == 20'000);  // 5_000 invoiced + the 15_000 free escrow paid
  CHECK(c.paid_provider() == 15'000);
  CHECK(c.owed() == 5'000);
  CHECK(EscrowSum(c) == 5'000);  // still reserved by A
  CHECK(c.refunded() == 0);
  CHECK(env.Balance("dave", "USDC") == kFunding + 15'000);
  CHECK(ReputationOf(env, "alice").renter_insufficient_funds() == 1);
  CHECK(ReputationOf(env, "dave").provider_insufficient_funds() == 1);
  CHECK(InvoiceOf(env, a).state() == v1::INVOICE_STATE_ISSUED);

  // alice accepts A after the close: paid from what it reserved.
  ExpectOk(env, AcceptTx(env, "alice", a));
  CHECK(InvoiceOf(env, a).state() == v1::INVOICE_STATE_PAID);
  c = ContractOf(env, id);
  CHECK(EscrowSum(c) == 0);
  CHECK(c.owed() == 0);
  CHECK_FALSE(OnAgenda(env, id));
  CHECK(env.Balance("dave", "USDC") == kFunding + 20'000);
  CHECK(env.Balance("alice", "USDC") == kFunding - 20'000);
}

// ============================================================================================
// 9. Rejections
// ============================================================================================

TEST_CASE("invoices: issuing is checked line by line", "[invoices]") {
  TestEnv env;
  // A streamed (not invoiced) contract, then the invoiced one: 1 unit, bob at 2.5 %, egress at 50.
  std::string streamed_tx = Propose(env, {"alice", "dave"}, Terms(env, 1, kPrice, 1'000'000));
  const std::string streamed = IdOf(streamed_tx);
  ExpectOk(env, streamed_tx);
  const uint64_t ts = env.now_ms();
  v1::ContractTerms terms = Invoiced(env, 1, 1'000'000, 250, true);
  AddMetered(&terms, "egress_gb", 50);
  const std::string id = Form(env, terms);
  const uint64_t t0 = env.now_ms();
  ExpectOk(env, Report(env, "dave", id, {{"egress_gb", 10}}, ""));  // t0 + 1 s: 10 x 50 = 500
  env.Close(Until(env, t0 + 9'000));

  // The right lines for [t0, t0 + 8 s]: 8_000 + 500 = 8_500; fee floor(8_500 x 0.025) = floor(212.5) = 212.
  auto right = [&] {
    v1::InvoiceIssue i = Bill(id, t0, t0 + 8'000, 8'000, 8'500, 212, t0 + kHour);
    AddLine(&i, "egress_gb", 10, 50, 500);
    return i;
  };
  v1::InvoiceIssue i = right();
  ExpectRejected(env, IssueTx(env, "carol", i), Code::kNotAuthorized);
  ExpectRejected(env, IssueTx(env, "alice", i), Code::kNotAuthorized);  // the renter
  ExpectRejected(env, IssueTx(env, "bob", i), Code::kNotAuthorized);    // the broker
  ExpectRejected(env, IssueTx(env, "dave", Bill(streamed, ts, ts + 8'000, 8'000, 8'000, 0, t0 + kHour)), Code::kWrongState);
  ExpectRejected(env, IssueTx(env, "dave", Bill(std::string(32, '\x07'), t0, t0 + 8'000, 8'000, 8'000, 0, t0 + kHour)),
                 Code::kNotFound);
  // The time charge does not match the terms.
  i = right();
  i.set_time_charge(8'001);
  i.set_total(8'501);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kMismatch);
  i = right();
  i.set_time_charge(7'999);
  i.set_total(8'499);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kMismatch);
  // The period does not start at invoiced_until (= the start): 1 ms late, with lines matching it.
  i = right();
  i.set_period_start_ms(t0 + 1);
  i.set_time_charge(7'999);
  i.set_total(8'499);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kMismatch);
  // The period ends after the block's time (the next block is 1 s from now).
  i = right();
  i.set_period_end_ms(env.now_ms() + 1'001);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kTooEarly);
  // A zero-length period, and a reversed one.
  i = right();
  i.set_period_end_ms(t0);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kBadField);
  i = right();
  i.set_period_start_ms(t0 + 8'000);
  i.set_period_end_ms(t0);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kBadField);
  // Due at (or before) the block's time.
  i = right();
  i.set_due_at_ms(env.now_ms() + 1'000);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kBadField);
  // The total, the broker fee.
  i = right();
  i.set_total(8'501);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kMismatch);
  i = right();
  i.set_total(8'499);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kMismatch);
  i = right();
  i.set_broker_fee(213);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kMismatch);
  i = right();
  i.set_broker_fee(0);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kMismatch);
  // The metered line: missing, another quantity, another price, another amount, an extra line.
  i = Bill(id, t0, t0 + 8'000, 8'000, 8'000, 200, t0 + kHour);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kMismatch);
  i = Bill(id, t0, t0 + 8'000, 8'000, 8'550, 213, t0 + kHour);
  AddLine(&i, "egress_gb", 11, 50, 550);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kMismatch);
  i = Bill(id, t0, t0 + 8'000, 8'000, 8'600, 215, t0 + kHour);
  AddLine(&i, "egress_gb", 10, 60, 600);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kMismatch);
  i = Bill(id, t0, t0 + 8'000, 8'000, 8'501, 212, t0 + kHour);
  AddLine(&i, "egress_gb", 10, 50, 501);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kMismatch);
  i = right();
  AddLine(&i, "ingress_gb", 1, 50, 50);  // a line for usage never reported
  i.set_total(8'550);
  i.set_broker_fee(213);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kMismatch);
  // Shapes: unsorted or badly named metered lines, more than 8, an unknown source, two signers.
  i = Bill(id, t0, t0 + 8'000, 8'000, 8'550, 213, t0 + kHour);
  AddLine(&i, "ingress_gb", 1, 50, 50);
  AddLine(&i, "egress_gb", 10, 50, 500);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kBadField);
  i = Bill(id, t0, t0 + 8'000, 8'000, 8'500, 212, t0 + kHour);
  AddLine(&i, "Egress-GB", 10, 50, 500);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kBadField);
  i = Bill(id, t0, t0 + 8'000, 8'000, 8'009, 200, t0 + kHour);
  for (char k = 'a'; k <= 'i'; ++k) AddLine(&i, std::string("line_") + k, 1, 1, 1);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kTooLarge);
  i = right();
  i.set_source(static_cast<v1::PaymentSource>(7));
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kBadField);
  ExpectRejected(env, env.Build({"dave", "alice"}, [&](v1::TxBody& b) { *b.mutable_invoice_issue() = right(); }),
                 Code::kBadField);
  // A credit above time + metered.
  i = right();
  i.set_credit(8'501);
  i.set_total(0);
  i.set_broker_fee(0);
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kBadAmount);
  CHECK(ContractOf(env, id).invoiced_until_ms() == t0);
  CHECK(ContractOf(env, id).open_invoices_size() == 0);
  CHECK(InvoicesOf(env, id).empty());

  // The right lines pass; the same period again no longer starts at invoiced_until.
  const std::string first = IssueAt(env, right(), env.now_ms() + 1'000);
  CHECK(InvoiceOf(env, first).amount_due() == 8'500);
  CHECK(ContractOf(env, id).invoiced_until_ms() == t0 + 8'000);
  ExpectRejected(env, IssueTx(env, "dave", right()), Code::kMismatch);
  // [t0 + 8 s, t0 + 9 s]: 1_000, fee floor(1_000 x 0.025) = 25, no metered line (no new usage).
  IssueAt(env, Bill(id, t0 + 8'000, t0 + 9'000, 1'000, 1'000, 25, t0 + kHour), env.now_ms() + 1'000);
}

TEST_CASE("invoices: an escrow-sourced invoice must be covered by free escrow beyond the uninvoiced time, direct need not",
          "[invoices]") {
  TestEnv env;
  // Two contracts of 1 unit with 1_000_000 each and egress at 1 per GB, formed in one block at t0.
  v1::ContractTerms terms = Invoiced(env, 1, 1'000'000);
  AddMetered(&terms, "egress_gb", 1);
  std::string tx_x = Propose(env, {"alice", "dave"}, terms);
  std::string tx_y = Propose(env, {"alice", "dave"}, terms);
  const std::string x = IdOf(tx_x), y = IdOf(tx_y);
  REQUIRE(x != y);
  env.Submit(tx_x);
  env.Submit(tx_y);
  REQUIRE(env.Close().rejected.empty());
  const uint64_t t0 = env.now_ms();
  // t0 + 1 s: usage 997_001 GB on x, 996_000 GB on y (a usage report does not check escrow).
  env.Submit(Report(env, "dave", x, {{"egress_gb", 997'001}}, ""));
  env.Submit(Report(env, "dave", y, {{"egress_gb", 996'000}}, ""));
  REQUIRE(env.Close().rejected.empty());

  // For [t0, t0 + 1 s], x's total is 1_000 + 997_001 = 998_001. Escrow must cover it and still
  // guarantee the time accrued since the period: in a block at t0 + 3 s that is 2_000, so at most
  // 1_000_000 - 2_000 = 998_000 may be invoiced from escrow: x's 998_001 does not fit.
  v1::InvoiceIssue bx = Bill(x, t0, t0 + 1'000, 1'000, 998'001, 0, t0 + kHour);
  AddLine(&bx, "egress_gb", 997'001, 1, 997'001);
  env.Close(Until(env, t0 + 2'000));
  ExpectRejected(env, IssueTx(env, "dave", bx), Code::kInsufficientEscrow);  // t0 + 3 s
  // At t0 + 4 s: at most 1_000_000 - 3_000 = 997_000 = y's 1_000 + 996_000 exactly.
  v1::InvoiceIssue by = Bill(y, t0, t0 + 1'000, 1'000, 997'000, 0, t0 + kHour);
  AddLine(&by, "egress_gb", 996'000, 1, 996'000);
  const std::string inv_y = IssueAt(env, by, t0 + 4'000);
  CHECK(ContractOf(env, y).owed() == 997'000);
  CHECK(InvoiceOf(env, inv_y).owed() == 997'000);
  // x's invoice as direct: nothing to reserve.
  bx.set_source(v1::PAYMENT_SOURCE_DIRECT);
  const std::string inv_x = IssueAt(env, bx, t0 + 5'000);
  CHECK(InvoiceOf(env, inv_x).amount_due() == 998'001);
  CHECK(InvoiceOf(env, inv_x).owed() == 0);
  v1::Contract c = ContractOf(env, x);
  CHECK(c.owed() == 0);
  CHECK(c.charged() == 1'000);
  CHECK(c.metered_charged() == 997'001);
  CHECK(EscrowSum(c) == 1'000'000);
}

TEST_CASE("invoices: payments are checked: state, amount, who records, each external tx once", "[invoices]") {
  TestEnv env;
  FundGateway(env);
  ExpectOk(env, Deposit(env, "gateway", "USDC", 5'000, "carol", "ethereum", "0xdep01"));
  const std::string id = Form(env, Invoiced(env, 1, 1'000'000, 1'000, true));  // bob at 10 %
  const uint64_t t0 = env.now_ms();
  const std::string a =
      IssueAt(env, Bill(id, t0, t0 + 10'000, 10'000, 10'000, 1'000, t0 + kHour, v1::PAYMENT_SOURCE_DIRECT), t0 + 10'000);

  ExpectRejected(env, AcceptTx(env, "dave", a), Code::kNotAuthorized);
  ExpectRejected(env, AcceptTx(env, "bob", a), Code::kNotAuthorized);
  ExpectRejected(env, VoidTx(env, "alice", a), Code::kNotAuthorized);
  ExpectRejected(env, PayTx(env, "alice", a, 10'001), Code::kBadAmount);
  ExpectRejected(env, PayTx(env, "alice", std::string(32, '\x09'), 1), Code::kNotFound);
  // Only the provider (the payee) records an external payment.
  ExpectRejected(env, ExternalTx(env, "alice", a, 4'000, "ethereum", "0xpay01"), Code::kNotAuthorized);
  ExpectRejected(env, ExternalTx(env, "bob", a, 4'000, "ethereum", "0xpay01"), Code::kNotAuthorized);
  ExpectRejected(env, ExternalTx(env, "dave", a, 10'001, "ethereum", "0xpay01"), Code::kBadAmount);
  CHECK(env.Balance("dave", "USDC") == kFunding);
  CHECK(env.Balance("bob", "USDC") == kFunding);

  // 4_000 recorded: dave's ledger balance pays bob floor(4_000 x 0.1) = 400.
  ExpectOk(env, ExternalTx(env, "dave", a, 4'000, "ethereum", "0xpay01"));
  CHECK(InvoiceOf(env, a).state() == v1::INVOICE_STATE_PARTIALLY_PAID);
  CHECK(env.Balance("dave", "USDC") == kFunding - 400);
  CHECK(env.Balance("bob", "USDC") == kFunding + 400);
  // The same external tx again, for any amount; on another network it is another tx.
  ExpectRejected(env, ExternalTx(env, "dave", a, 1, "ethereum", "0xpay01"), Code::kDuplicate);
  ExpectRejected(env, ExternalTx(env, "dave", a, 6'001, "base", "0xpay01"), Code::kBadAmount);  // 6_000 left
  ExpectOk(env, ExternalTx(env, "dave", a, 1'000, "base", "0xpay01"));
  // The rest by transfer: 5_000; broker floor(10_000 x 0.1) - floor(5_000 x 0.1) = 500.
  ExpectRejected(env, PayTx(env, "carol", a, 5'001), Code::kBadAmount);
  ExpectOk(env, PayTx(env, "carol", a, 5'000));  // anyone may pay
  v1::Invoice inv = InvoiceOf(env, a);
  CHECK(inv.state() == v1::INVOICE_STATE_PAID);
  REQUIRE(inv.payments_size() == 3);
  CHECK(inv.payments(0).broker_share() == 400);
  CHECK(inv.payments(1).broker_share() == 100);
  CHECK(inv.payments(2).broker_share() == 500);
  CHECK(inv.payments(2).payer() == env.Pub("carol").bytes());
  CHECK(env.Balance("carol", "USDC") == kFunding + 5'000 - 5'000);
  CHECK(env.Balance("dave", "USDC") == kFunding - 500 + 4'500);  // -400 -100 for bob, +4_500 by transfer
  CHECK(env.Balance("bob", "USDC") == kFunding + 1'000);
  // A payment receipt does not block the bridge: the gateway can still record a deposit with the
  // same external tx id (another namespace), and a deposit's id does not block a receipt.
  ExpectOk(env, Deposit(env, "gateway", "USDC", 7, "carol", "ethereum", "0xpay01"));
  CHECK(env.Balance("carol", "USDC") == kFunding + 7);

  // A paid invoice takes nothing more.
  ExpectRejected(env, PayTx(env, "alice", a, 1), Code::kWrongState);
  ExpectRejected(env, ExternalTx(env, "dave", a, 1, "ethereum", "0xpay02"), Code::kWrongState);
  ExpectRejected(env, VoidTx(env, "dave", a), Code::kWrongState);
  ExpectRejected(env, AcceptTx(env, "alice", a), Code::kWrongState);
  ExpectRejected(env, DisputeTx(env, "alice", a, 0), Code::kWrongState);
  // Nor does a voided one.
  const std::string b = IssueAt(
      env, Bill(id, t0 + 10'000, t0 + 20'000, 10'000, 10'000, 1'000, t0 + kHour, v1::PAYMENT_SOURCE_DIRECT), env.now_ms() + 1'000);
  ExpectOk(env, VoidTx(env, "dave", b));
  ExpectRejected(env, PayTx(env, "alice", b, 1), Code::kWrongState);
  ExpectRejected(env, ExternalTx(env, "dave", b, 1, "ethereum", "0xpay02"), Code::kWrongState);

  // The broker's share of an external payment comes from dave's ledger balance: with none left,
  // the receipt is refused. Accepting a direct invoice pays nothing; it is then paid directly.
  const std::string d = IssueAt(
      env, Bill(id, t0 + 20'000, t0 + 30'000, 10'000, 10'000, 1'000, t0 + kHour, v1::PAYMENT_SOURCE_DIRECT), env.now_ms() + 1'000);
  ExpectOk(env, AcceptTx(env, "alice", d));
  inv = InvoiceOf(env, d);
  CHECK(inv.state() == v1::INVOICE_STATE_ACCEPTED);
  CHECK(inv.paid() == 0);
  CHECK(inv.payments_size() == 0);
  ExpectOk(env, env.Transfer("dave", "carol", "USDC", kFunding + 4'000));
  CHECK(env.Balance("dave", "USDC") == 0);
  ExpectRejected(env, ExternalTx(env, "dave", d, 1'000, "ethereum", "0xpay03"), Code::kInsufficientFunds);
  // floor(11_000 x 0.1) - 1_000 = 100 for bob; the payment is by transfer, so dave needs nothing.
  ExpectOk(env, PayTx(env, "alice", d, 1'000));
  inv = InvoiceOf(env, d);
  CHECK(inv.state() == v1::INVOICE_STATE_PARTIALLY_PAID);
  CHECK(inv.payments(0).broker_share() == 100);
  CHECK(env.Balance("dave", "USDC") == 900);
  CHECK(env.Balance("bob", "USDC") == kFunding + 1'100);
  // dave now has 900 on the ledger: the share of a 9_000 receipt is floor(20_000 x 0.1) - 1_100 = 900.
  ExpectOk(env, ExternalTx(env, "dave", d, 9'000, "ethereum", "0xpay03"));
  CHECK(InvoiceOf(env, d).state() == v1::INVOICE_STATE_PAID);
  CHECK(env.Balance("dave", "USDC") == 0);
  CHECK(env.Balance("bob", "USDC") == kFunding + 2'000);
  v1::Contract c = ContractOf(env, id);
  CHECK(c.paid_provider() == 18'000);
  CHECK(c.paid_broker() == 2'000);
}

TEST_CASE("invoices: disputes are the renter's, before the due time, of part of what is unpaid", "[invoices]") {
  TestEnv env;
  const std::string id = Form(env, Invoiced(env, 1, 1'000'000, 1'000, true));
  const uint64_t t0 = env.now_ms();
  // Direct: the ledger does not pay it at its due time, so blocks at and after it change nothing.
  const std::string a =
      IssueAt(env, Bill(id, t0, t0 + 10'000, 10'000, 10'000, 1'000, t0 + 30'000, v1::PAYMENT_SOURCE_DIRECT), t0 + 10'000);
  ExpectRejected(env, DisputeTx(env, "dave", a, 0), Code::kNotAuthorized);
  ExpectRejected(env, DisputeTx(env, "bob", a, 0), Code::kNotAuthorized);
  ExpectRejected(env, DisputeTx(env, "carol", a, 0), Code::kNotAuthorized);
  ExpectRejected(env, DisputeTx(env, "alice", a, 10'000), Code::kBadAmount);  // all of it: accept instead
  ExpectRejected(env, DisputeTx(env, "alice", a, 10'001), Code::kBadAmount);
  ExpectRejected(env, DisputeTx(env, "alice", a, 0, v1::DISPUTE_REASON_UNSPECIFIED), Code::kBadField);
  ExpectRejected(env, DisputeTx(env, "alice", a, 0, static_cast<v1::DisputeReason>(9)), Code::kBadField);
  ExpectRejected(env, DisputeTx(env, "alice", std::string(32, '\x05'), 0), Code::kNotFound);
  // After a partial payment, "unpaid" is what is left.
  ExpectOk(env, PayTx(env, "alice", a, 4'000));
  ExpectRejected(env, DisputeTx(env, "alice", a, 6'000), Code::kBadAmount);
  // The window closes at the due time (t0 + 30 s).
  env.Close(Until(env, t0 + 29'000));
  ExpectRejected(env, DisputeTx(env, "alice", a, 0), Code::kTooLate);  // t0 + 30 s: at the due time
  ExpectRejected(env, DisputeTx(env, "alice", a, 0), Code::kTooLate);  // t0 + 31 s
  CHECK(InvoiceOf(env, a).state() == v1::INVOICE_STATE_PARTIALLY_PAID);
  CHECK(ReputationOf(env, "alice").renter_invoices_disputed() == 0);
}

TEST_CASE("invoices: resolving is for the parties, or the arbiter when there is one", "[invoices]") {
  TestEnv env;
  // x without an arbiter, y with carol; one escrow-sourced invoice each, [t0, t0 + 10 s] = 10_000.
  std::string tx_x = Propose(env, {"alice", "dave"}, Invoiced(env, 1, 1'000'000));
  std::string tx_y = Propose(env, {"alice", "dave"}, Invoiced(env, 1, 1'000'000, 0, false, true));
  const std::string x = IdOf(tx_x), y = IdOf(tx_y);
  env.Submit(tx_x);
  env.Submit(tx_y);
  REQUIRE(env.Close().rejected.empty());
  const uint64_t t0 = env.now_ms();
  const std::string ix = IssueAt(env, Bill(x, t0, t0 + 10'000, 10'000, 10'000, 0, t0 + kHour), t0 + 10'000);
  const std::string iy = IssueAt(env, Bill(y, t0, t0 + 10'000, 10'000, 10'000, 0, t0 + kHour), t0 + 11'000);
  // Not disputed yet.
  ExpectRejected(env, ResolveTx(env, {"dave"}, ix, 0), Code::kWrongState);
  ExpectRejected(env, ResolveTx(env, {"carol"}, iy, 0), Code::kWrongState);
  ExpectOk(env, DisputeTx(env, "alice", ix, 1'000));  // 9_000 disputed
  ExpectOk(env, DisputeTx(env, "alice", iy, 1'000));

  // carol is nobody to x, which has no arbiter.
  ExpectRejected(env, ResolveTx(env, {"carol"}, ix, 4'000), Code::kWrongState);
  // bob is neither party nor y's arbiter.
  ExpectRejected(env, ResolveTx(env, {"bob"}, iy, 4'000), Code::kNotAuthorized);
  // Two signers must be renter and provider.
  ExpectRejected(env, ResolveTx(env, {"carol", "dave"}, iy, 4'000), Code::kNotAuthorized);
  ExpectRejected(env, ResolveTx(env, {"alice", "carol"}, iy, 4'000), Code::kNotAuthorized);
  // Alone, the provider can only concede (0), the renter only withdraw (all 9_000).
  ExpectRejected(env, ResolveTx(env, {"dave"}, ix, 1), Code::kMissingSignature);
  ExpectRejected(env, ResolveTx(env, {"dave"}, iy, 4'000), Code::kMissingSignature);
  ExpectRejected(env, ResolveTx(env, {"alice"}, ix, 8'999), Code::kMissingSignature);
  ExpectRejected(env, ResolveTx(env, {"alice"}, ix, 0), Code::kMissingSignature);
  // Nobody gives the provider more than was disputed.
  ExpectRejected(env, ResolveTx(env, {"carol"}, iy, 9'001), Code::kBadAmount);
  ExpectRejected(env, ResolveTx(env, {"alice", "dave"}, ix, 9'001), Code::kBadAmount);
  CHECK(ContractOf(env, x).locked() == 9'000);
  CHECK(ContractOf(env, y).locked() == 9'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 2'000);

  // carol rules on y: 4_000 to dave, 5_000 released.
  ExpectOk(env, ResolveTx(env, {"carol"}, iy, 4'000));
  v1::Invoice inv = InvoiceOf(env, iy);
  CHECK(inv.state() == v1::INVOICE_STATE_PAID);
  CHECK(inv.amount_due() == 5'000);
  CHECK(inv.resolved_provider_amount() == 4'000);
  CHECK(ContractOf(env, y).locked() == 0);
  CHECK(EscrowSum(ContractOf(env, y)) == 995'000);  // 1_000_000 - 1_000 - 4_000
  CHECK(env.Balance("dave", "USDC") == kFunding + 6'000);
  // Resolved: no second ruling.
  ExpectRejected(env, ResolveTx(env, {"carol"}, iy, 0), Code::kWrongState);
  ExpectRejected(env, ResolveTx(env, {"alice", "dave"}, iy, 0), Code::kWrongState);
}

// ============================================================================================
// 10. More paths: direct disputes, limits, notice, metered usage at the close
// ============================================================================================

TEST_CASE("invoices: disputing a direct invoice locks what free escrow spares beyond the uninvoiced time",
          "[invoices]") {
  TestEnv env;
  const std::string id = Form(env, Invoiced(env, 1, 20'000));
  const uint64_t t0 = env.now_ms();
  // A: [t0, t0 + 10 s] = 10_000, direct: nothing reserved, 20_000 free.
  const std::string a =
      IssueAt(env, Bill(id, t0, t0 + 10'000, 10'000, 10'000, 0, t0 + kHour, v1::PAYMENT_SOURCE_DIRECT), t0 + 10'000);
  // t0 + 25 s: alice accepts 1_000 and disputes 9_000. Free escrow (20_000) still guarantees the
  // 15_000 accrued since the invoiced period, so 5_000 can be locked, not 9_000.
  ExpectOk(env, DisputeTx(env, "alice", a, 1'000, v1::DISPUTE_REASON_SERVICE_UNAVAILABLE), Until(env, t0 + 25'000));
  v1::Invoice inv = InvoiceOf(env, a);
  CHECK(inv.state() == v1::INVOICE_STATE_DISPUTED);
  CHECK(inv.disputed() == 9'000);
  CHECK(inv.locked() == 5'000);
  CHECK(inv.paid() == 0);  // a direct invoice's accepted part is paid directly
  v1::Contract c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_ACTIVE);
  CHECK(c.locked() == 5'000);
  CHECK(c.owed() == 0);
  CHECK(EscrowSum(c) == 20'000);
  CHECK(ReputationOf(env, "alice").renter_invoices_disputed() == 1);
  CHECK(ReputationOf(env, "dave").provider_invoices_disputed() == 1);

  // Free escrow is now 15_000, exactly the uninvoiced time: the next block (t0 + 26 s) finds the
  // contract dry. It pays the 15_000 free (of 16_000 due) and closes; the lock stays.
  env.Close(1'000);
  c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
  CHECK(c.closed_at_ms() == t0 + 26'000);
  CHECK(c.charged() == 25'000);
  CHECK(EscrowSum(c) == 5'000);  // = locked
  CHECK(c.locked() == 5'000);
  CHECK(c.refunded() == 0);
  CHECK(env.Balance("dave", "USDC") == kFunding + 15'000);

  // The accepted 1_000 is payable directly while the rest is in dispute; no more than that.
  ExpectRejected(env, PayTx(env, "alice", a, 1'001), Code::kBadAmount);
  ExpectOk(env, PayTx(env, "alice", a, 1'000));
  inv = InvoiceOf(env, a);
  CHECK(inv.state() == v1::INVOICE_STATE_DISPUTED);
  CHECK(inv.paid() == 1'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 16'000);

  // They settle on 7_000: 5_000 comes from the lock, the other 2_000 stays payable directly.
  ExpectOk(env, ResolveTx(env, {"alice", "dave"}, a, 7'000));
  inv = InvoiceOf(env, a);
  CHECK(inv.state() == v1::INVOICE_STATE_PARTIALLY_PAID);
  CHECK(inv.amount_due() == 8'000);  // 10_000 - 9_000 + 7_000
  CHECK(inv.paid() == 6'000);
  CHECK(inv.locked() == 0);
  CHECK(inv.disputed() == 0);
  REQUIRE(inv.payments_size() == 2);
  CHECK(inv.payments(1).method() == v1::PAYMENT_METHOD_ESCROW);
  CHECK(inv.payments(1).amount() == 5'000);
  c = ContractOf(env, id);
  CHECK(c.locked() == 0);
  CHECK(EscrowSum(c) == 0);
  CHECK(env.Balance("dave", "USDC") == kFunding + 21'000);
  ExpectRejected(env, PayTx(env, "alice", a, 2'001), Code::kBadAmount);
  ExpectOk(env, PayTx(env, "alice", a, 2'000));
  CHECK(InvoiceOf(env, a).state() == v1::INVOICE_STATE_PAID);
  CHECK(env.Balance("dave", "USDC") == kFunding + 23'000);
  CHECK(env.Balance("alice", "USDC") == kFunding - 23'000);  // 20_000 escrow + 1_000 + 2_000
  CHECK(ReputationOf(env, "alice").renter_invoices_paid_late() == 0);
}

TEST_CASE("invoices: a contract has at most 32 open invoices", "[invoices]") {
  TestEnv env;
  const std::string id = Form(env, Invoiced(env, 1, 1'000'000));
  const uint64_t t0 = env.now_ms();
  // 32 direct invoices of 100 ms each, [t0 + 100 k, t0 + 100 (k + 1)], all in the block at t0 + 10 s.
  std::vector<std::string> ids;
  for (uint64_t k = 0; k < 32; ++k) {
    std::string tx = IssueTx(
        env, "dave", Bill(id, t0 + 100 * k, t0 + 100 * (k + 1), 100, 100, 0, t0 + kHour, v1::PAYMENT_SOURCE_DIRECT));
    ids.push_back(IdOf(tx));
    env.Submit(tx);
  }
  REQUIRE(env.Close(Until(env, t0 + 10'000)).rejected.empty());
  v1::Contract c = ContractOf(env, id);
  CHECK(c.open_invoices_size() == 32);
  CHECK(c.invoiced_until_ms() == t0 + 3'200);
  CHECK(c.charged() == 3'200);
  const v1::InvoiceIssue next = Bill(id, t0 + 3'200, t0 + 3'300, 100, 100, 0, t0 + kHour, v1::PAYMENT_SOURCE_DIRECT);
  ExpectRejected(env, IssueTx(env, "dave", next), Code::kTooLarge);
  // Paying one closes it; there is room again.
  ExpectOk(env, PayTx(env, "alice", ids[5], 100));
  c = ContractOf(env, id);
  CHECK(c.open_invoices_size() == 31);
  const std::string last = IssueAt(env, next, env.now_ms() + 1'000);
  CHECK(ContractOf(env, id).open_invoices_size() == 32);
  std::vector<std::string> all = ids;
  all.push_back(last);
  CHECK(InvoicesOf(env, id) == all);
}

TEST_CASE("invoices: after notice, invoices stop at the termination, the close settles until then", "[invoices]") {
  TestEnv env;
  const std::string id = Form(env, Invoiced(env, 1, 1'000'000));  // notice period 5 s
  const uint64_t t0 = env.now_ms();
  ExpectOk(env, Notice(env, "dave", id), Until(env, t0 + 10'000));
  v1::Contract c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_NOTICE);
  CHECK(c.termination_at_ms() == t0 + 15'000);
  CHECK(c.charged() == 0);  // notice settles nothing on an invoiced contract
  CHECK(env.Balance("dave", "USDC") == kFunding);
  const std::string a = IssueAt(env, Bill(id, t0, t0 + 12'000, 12'000, 12'000, 0, t0 + kHour), t0 + 12'000);

  // The next block is at t0 + 20 s, past the termination. In it, before the ledger closes the
  // contract, dave invoices: past the termination is refused (accrued stops at t0 + 15 s, so
  // [t0 + 12 s, t0 + 16 s] is worth 3_000); up to it is fine. Both use the same nonce.
  const uint64_t nonce = env.Nonce("dave");
  std::string past = IssueTx(env, "dave", Bill(id, t0 + 12'000, t0 + 16'000, 3'000, 3'000, 0, t0 + kHour), {.nonce = nonce});
  std::string upto = IssueTx(env, "dave", Bill(id, t0 + 12'000, t0 + 15'000, 3'000, 3'000, 0, t0 + kHour), {.nonce = nonce});
  const std::string b = IdOf(upto);
  env.Submit(past);
  env.Submit(upto);
  CloseResult closed = env.Close(Until(env, t0 + 20'000));
  CHECK(std::string(CodeName(closed.ResultOf(TestEnv::Txid(past)).code())) == std::string(CodeName(Code::kBadField)));
  CHECK(closed.ResultOf(TestEnv::Txid(upto)).ok());
  c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_PROVIDER_TERMINATED);
  CHECK(c.closed_at_ms() == t0 + 15'000);
  CHECK(c.charged() == 15'000);  // nothing was left uninvoiced
  CHECK(c.invoiced_until_ms() == t0 + 15'000);
  CHECK(c.owed() == 15'000);
  CHECK(EscrowSum(c) == 15'000);
  CHECK(c.refunded() == 985'000);
  CHECK(env.Balance("dave", "USDC") == kFunding);
  CHECK(env.Balance("alice", "USDC") == kFunding - 15'000);
  CHECK(ReputationOf(env, "dave").provider_terminated_early() == 1);
  ExpectOk(env, AcceptTx(env, "alice", a));
  ExpectOk(env, AcceptTx(env, "alice", b));
  c = ContractOf(env, id);
  CHECK(EscrowSum(c) == 0);
  CHECK(c.owed() == 0);
  CHECK(c.paid_provider() == 15'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 15'000);
  CHECK(env.Balance("alice", "USDC") == kFunding - 15'000);
}

TEST_CASE("invoices: a close whose uninvoiced metered usage free escrow cannot cover is insufficient_funds",
          "[invoices]") {
  TestEnv env;
  v1::ContractTerms terms = Invoiced(env, 1, 10'000);
  AddMetered(&terms, "egress_gb", 1'000);
  const std::string id = Form(env, terms);
  const uint64_t t0 = env.now_ms();
  // t0 + 1 s: 20 GB = 20_000, more than escrow holds; an invoiced contract charges it later.
  ExpectOk(env, Report(env, "dave", id, {{"egress_gb", 20}}, ""));
  CHECK(ContractOf(env, id).state() == v1::CONTRACT_STATE_ACTIVE);
  // alice closes at t0 + 2 s: time 2_000 is paid, then 8_000 of the 20_000 metered: dry.
  ExpectOk(env, CloseContract(env, "alice", id));
  v1::Contract c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
  CHECK(c.closed_at_ms() == t0 + 2'000);
  CHECK(c.charged() == 2'000);
  CHECK(c.metered_charged() == 8'000);
  CHECK(EscrowSum(c) == 0);
  CHECK(c.refunded() == 0);
  CHECK(env.Balance("dave", "USDC") == kFunding + 10'000);
  CHECK(env.Balance("alice", "USDC") == kFunding - 10'000);
  CHECK(ReputationOf(env, "alice").renter_insufficient_funds() == 1);
  CHECK(ReputationOf(env, "alice").renter_closed_early() == 0);
}

// ============================================================================================
// 11. Rules from review: dispute window, final acceptance and resolution, bounded charges
// ============================================================================================

TEST_CASE("invoices: the agreed dispute window bounds how soon an invoice falls due", "[invoices]") {
  TestEnv env;
  v1::ContractTerms streamed = Terms(env, 1, kPrice, 1'000'000);
  streamed.set_dispute_window_ms(60'000);
  ExpectRejected(env, Propose(env, {"alice", "dave"}, streamed), Code::kBadField);  // invoiced only
  v1::ContractTerms t = Invoiced(env, 1, 1'000'000);
  t.set_dispute_window_ms(60'000);
  const std::string id = Form(env, t);
  const uint64_t t0 = env.now_ms();
  env.Close(Until(env, t0 + 10'000));
  // Issued in a block at t0 + 11 s: due at t0 + 70 s leaves 59 s, one short of the window.
  std::string early = IssueTx(env, "dave", Bill(id, t0, t0 + 10'000, 10'000, 10'000, 0, t0 + 70'000));
  env.Submit(early);
  CloseResult closed = env.Close(1'000);
  REQUIRE(closed.rejected.size() == 1);
  CHECK(closed.rejected[0].result.code() == Code::kBadField);
  const std::string ok = IssueAt(env, Bill(id, t0, t0 + 10'000, 10'000, 10'000, 0, t0 + 72'000), t0 + 12'000);
  CHECK(InvoiceOf(env, ok).lines().due_at_ms() == t0 + 72'000);  // exactly 60 s after its block
}

TEST_CASE("invoices: an accepted invoice, or one whose dispute was resolved, is not disputed again", "[invoices]") {
  TestEnv env;
  const std::string id = Form(env, Invoiced(env, 1, 1'000'000, 0, false, true));
  const uint64_t t0 = env.now_ms();
  const std::string a =
      IssueAt(env, Bill(id, t0, t0 + 10'000, 10'000, 10'000, 0, t0 + kHour, v1::PAYMENT_SOURCE_DIRECT), t0 + 10'000);
  const std::string b =
      IssueAt(env, Bill(id, t0 + 10'000, t0 + 20'000, 10'000, 10'000, 0, t0 + kHour, v1::PAYMENT_SOURCE_DIRECT), t0 + 20'000);
  // a: accepted, paid in part (partially paid), then disputed: refused.
  ExpectOk(env, AcceptTx(env, "alice", a));
  ExpectOk(env, PayTx(env, "alice", a, 1'000));
  CHECK(InvoiceOf(env, a).state() == v1::INVOICE_STATE_PARTIALLY_PAID);
  ExpectRejected(env, DisputeTx(env, "alice", a, 0), Code::kWrongState);
  // b: all 10_000 disputed and locked (free escrow covers it), carol rules 8_000 to dave, paid
  // from the lock; a second dispute: refused.
  ExpectOk(env, DisputeTx(env, "alice", b, 0));
  ExpectOk(env, ResolveTx(env, {"carol"}, b, 8'000));
  v1::Invoice resolved = InvoiceOf(env, b);
  CHECK(resolved.resolved());
  CHECK(resolved.amount_due() == 8'000);
  CHECK(resolved.paid() == 8'000);  // from the lock
  CHECK(resolved.state() == v1::INVOICE_STATE_PAID);
  ExpectRejected(env, DisputeTx(env, "alice", b, 0), Code::kWrongState);
}

TEST_CASE("invoices: a contract's time and metered charges stay within 64 bits", "[invoices]") {
  // A metered price near 2^64 would let an invoice (and a receipt for it) push the contract's
  // payment total to 2^64-1, after which the ledger's own payment at a due time would overflow
  // at end of block. The invoice that would take the charges past 2^64-1 is refused.
  TestEnv env;
  v1::ContractTerms t = Invoiced(env, 1, 1'000'000);
  const uint64_t huge = kMax - 15'000;
  AddMetered(&t, "x", huge);
  const std::string id = Form(env, t);
  const uint64_t t0 = env.now_ms();
  const std::string first =
      IssueAt(env, Bill(id, t0, t0 + 10'000, 10'000, 10'000, 0, t0 + 100'000), t0 + 10'000);  // escrow-sourced, owed
  ExpectOk(env, Report(env, "dave", id, {{"x", 1}}, ""), Until(env, t0 + 20'000));
  // The second period [t0 + 10 s, t0 + 21 s]: time 11_000 + metered 2^64-1-15_000 = 2^64-1-4_000
  // fits, but the contract's charges would be 21_000 + (2^64-1-15_000) = 2^64-1+6_000.
  v1::InvoiceIssue big = Bill(id, t0 + 10'000, t0 + 21'000, 11'000, kMax - 4'000, 0, t0 + kHour, v1::PAYMENT_SOURCE_DIRECT);
  AddLine(&big, "x", 1, huge, huge);
  ExpectRejected(env, IssueTx(env, "dave", big), Code::kOverflow);
  // Blocks go on past the first invoice's due time, which the ledger pays from escrow.
  env.Close(Until(env, t0 + 101'000));
  CHECK(InvoiceOf(env, first).state() == v1::INVOICE_STATE_PAID);
  CHECK(ContractOf(env, id).paid_provider() == 10'000);
}

TEST_CASE("invoices: a close leaves room in the charges for invoices still owed, so the ledger can pay them",
          "[invoices]") {
  // Charges of 2^64-1 exactly: the close may not pay more (it would take the payment total past
  // what the escrow-sourced invoice still owed will add at its due time).
  TestEnv env;
  v1::ContractTerms t = Invoiced(env, 1, 1'000'000);
  const uint64_t huge = kMax - 11'000;
  AddMetered(&t, "x", huge);
  const std::string id = Form(env, t);
  const uint64_t t0 = env.now_ms();
  ExpectOk(env, Report(env, "dave", id, {{"x", 1}}, ""), Until(env, t0 + 10'000));
  // A: [t0, t0 + 10 s] direct, 10_000 + (2^64-1-11_000) = 2^64-1-1_000, paid off the ledger.
  v1::InvoiceIssue a_lines = Bill(id, t0, t0 + 10'000, 10'000, kMax - 1'000, 0, t0 + kHour, v1::PAYMENT_SOURCE_DIRECT);
  AddLine(&a_lines, "x", 1, huge, huge);
  const std::string a = IssueAt(env, a_lines, t0 + 10'500);
  ExpectOk(env, ExternalTx(env, "dave", a, kMax - 1'000, "tron", "0xall"), Until(env, t0 + 11'000));
  // B: [t0 + 10 s, t0 + 11 s] from escrow, 1_000: charges now 2^64-1 exactly.
  const std::string b = IssueAt(env, Bill(id, t0 + 10'000, t0 + 11'000, 1'000, 1'000, 0, t0 + 60'000), t0 + 11'500);
  CHECK(ContractOf(env, id).owed() == 1'000);
  // alice closes at t0 + 12 s: the 1_000 ms since B are not paid (no room left in the charges).
  ExpectOk(env, CloseContract(env, "alice", id), Until(env, t0 + 12'000));
  v1::Contract c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
  CHECK(EscrowSum(c) == 1'000);  // what B reserves
  CHECK(c.paid_provider() == kMax - 1'000);
  // B's due time: the ledger pays it; blocks go on.
  REQUIRE_NOTHROW(env.Close(Until(env, t0 + 61'000)));
  CHECK(InvoiceOf(env, b).state() == v1::INVOICE_STATE_PAID);
  c = ContractOf(env, id);
  CHECK(c.paid_provider() == kMax);
  CHECK(EscrowSum(c) == 0);
  CHECK(env.Balance("dave", "USDC") == kFunding + 1'000);  // the rest was paid off the ledger
}
