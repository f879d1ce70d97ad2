// Rule tests for invoices (contracts/invoices.cpp): the rejection paths of issue, accept, void,
// dispute, resolve, pay and external receipts that tests/unit/test_invoices.cpp leaves open, each
// with its own code; the wrong signer (the arbiter, extra co-signers); due times, dispute windows
// and the end of accrual at the exact millisecond, one before and one after; field sizes at the
// limit, one below and one above.
//
// All contracts accrue 1 per unit per ms (kPerMs). Amounts are worked out by hand from
// contracts/escrow.h and docs/protocol.md §10.9.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/support/rules.h"
#include "tests/support/scenario.h"
#include "tests/support/test_env.h"

using namespace kontor;
using namespace kontor::test::scenario;
using namespace kontor::test::rules;
using kontor::test::CloseResult;
using kontor::test::TestEnv;

namespace {

// alice rents 1 unit from dave with carol as arbiter, invoiced: returns the contract id; it
// starts at env.now_ms() after this returns.
std::string FormWithArbiter(TestEnv& env, uint64_t deposit = 1'000'000) {
  return Form(env, Invoiced(env, 1, deposit, 0, false, true));
}

}  // namespace

// ============================================================================================
// InvoiceIssue
// ============================================================================================

TEST_CASE("rules invoice issue: contract and replaced ids are 32 bytes", "[rules][invoices]") {
  TestEnv env;
  const std::string id = Form(env, Invoiced(env, 1, 1'000'000));
  const uint64_t t0 = env.now_ms();
  ExpectRejected(env, IssueTx(env, "dave", Bill(ShortId(), t0, t0 + 1'000, 1'000, 1'000, 0, t0 + kHourMs)), Code::kBadField);
  ExpectRejected(env, IssueTx(env, "dave", Bill(LongId(), t0, t0 + 2'000, 2'000, 2'000, 0, t0 + kHourMs)), Code::kBadField);
  v1::InvoiceIssue i = Bill(id, t0, t0 + 3'000, 3'000, 3'000, 0, t0 + kHourMs);
  i.set_replaces(ShortId());
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kBadField);
  CHECK(ContractOf(env, id).open_invoices_size() == 0);
}

TEST_CASE("rules invoice issue: due 1 ms after the block is enough when there is no dispute window", "[rules][invoices]") {
  TestEnv env;
  const std::string id = Form(env, Invoiced(env, 1, 1'000'000));
  const uint64_t t0 = env.now_ms();
  // The block of ExpectRejected is at t0 + 1 s: due exactly then is not after it.
  ExpectRejected(env, IssueTx(env, "dave", Bill(id, t0, t0 + 1'000, 1'000, 1'000, 0, t0 + 1'000)), Code::kBadField);
  const std::string a = IssueAt(env, Bill(id, t0, t0 + 2'000, 2'000, 2'000, 0, t0 + 2'001), t0 + 2'000);
  CHECK(InvoiceOf(env, a).state() == v1::INVOICE_STATE_ISSUED);
  // The ledger pays it in the next millisecond's block.
  env.Close(1);
  v1::Invoice inv = InvoiceOf(env, a);
  CHECK(inv.state() == v1::INVOICE_STATE_PAID);
  CHECK(inv.settled_at_ms() == t0 + 2'001);
  CHECK(env.Balance("dave", "USDC") == kFunding + 2'000);
}

TEST_CASE("rules invoice issue: the due time leaves at least the dispute window to the ms", "[rules][invoices]") {
  TestEnv env;
  v1::ContractTerms t = Invoiced(env, 1, 1'000'000);
  t.set_dispute_window_ms(60'000);
  const std::string id = Form(env, t);
  const uint64_t t0 = env.now_ms();
  // Blocks at t0 + 1 s, + 2 s, + 3 s.
  ExpectRejected(env, IssueTx(env, "dave", Bill(id, t0, t0 + 1'000, 1'000, 1'000, 0, t0 + 1'000 + 59'999)), Code::kBadField);
  const std::string exact = IssueAt(env, Bill(id, t0, t0 + 2'000, 2'000, 2'000, 0, t0 + 2'000 + 60'000), t0 + 2'000);
  const std::string more =
      IssueAt(env, Bill(id, t0 + 2'000, t0 + 3'000, 1'000, 1'000, 0, t0 + 3'000 + 60'001), t0 + 3'000);
  CHECK(InvoiceOf(env, exact).lines().due_at_ms() == t0 + 62'000);
  CHECK(InvoiceOf(env, more).lines().due_at_ms() == t0 + 63'001);
  CHECK(ContractOf(env, id).owed() == 3'000);
}

TEST_CASE("rules invoice issue: the period may end at the end of the term but not 1 ms after", "[rules][invoices]") {
  TestEnv env;
  v1::ContractTerms t = Invoiced(env, 1, 1'000'000);
  t.set_duration_ms(10'000);
  const std::string id = Form(env, t);
  const uint64_t t0 = env.now_ms();
  // The first block after the end (t0 + 11 s), before the ledger closes the contract: both
  // with dave's next nonce; the first is refused, so the second applies.
  const uint64_t nonce = env.Nonce("dave");
  std::string past = env.Build({"dave"}, [&](v1::TxBody& b) {
    *b.mutable_invoice_issue() = Bill(id, t0, t0 + 10'001, 10'000, 10'000, 0, t0 + kHourMs);
  }, {.nonce = nonce});
  std::string upto = env.Build({"dave"}, [&](v1::TxBody& b) {
    *b.mutable_invoice_issue() = Bill(id, t0, t0 + 10'000, 10'000, 10'000, 0, t0 + kHourMs);
  }, {.nonce = nonce});
  env.Submit(past);
  env.Submit(upto);
  CloseResult closed = env.Close(Until(env, t0 + 11'000));
  CHECK(CodeOf(closed, past) == NameOf(Code::kBadField));
  CHECK(closed.ResultOf(TestEnv::Txid(upto)).ok());
  v1::Contract c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_ENDED);
  CHECK(c.invoiced_until_ms() == t0 + 10'000);
  CHECK(c.owed() == 10'000);
  CHECK(InvoiceOf(env, IdOf(upto)).amount_due() == 10'000);
}

TEST_CASE("rules invoice issue: a credit may leave 1 to invoice but not 0", "[rules][invoices]") {
  TestEnv env;
  const std::string id = Form(env, Invoiced(env, 1, 1'000'000));
  const uint64_t t0 = env.now_ms();
  v1::InvoiceIssue i = Bill(id, t0, t0 + 1'000, 1'000, 0, 0, t0 + kHourMs);
  i.set_credit(1'000);  // all of it
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kBadAmount);
  i = Bill(id, t0, t0 + 2'000, 2'000, 0, 0, t0 + kHourMs);
  i.set_credit(2'001);  // more than all of it
  ExpectRejected(env, IssueTx(env, "dave", i), Code::kBadAmount);
  CHECK(ContractOf(env, id).open_invoices_size() == 0);
  i = Bill(id, t0, t0 + 3'000, 3'000, 1, 0, t0 + kHourMs);
  i.set_credit(2'999);
  const std::string a = IssueAt(env, i, t0 + 3'000);
  CHECK(InvoiceOf(env, a).amount_due() == 1);
  CHECK(ContractOf(env, id).owed() == 1);
  CHECK(ContractOf(env, id).charged() == 3'000);  // the time is invoiced; the credit forgives it
}

TEST_CASE("rules invoice issue: a reissue names a voided invoice of the same contract", "[rules][invoices]") {
  TestEnv env;
  std::string tx_x = Propose(env, {"alice", "dave"}, Invoiced(env, 1, 1'000'000));
  std::string tx_y = Propose(env, {"alice", "dave"}, Invoiced(env, 1, 1'000'000));
  const std::string x = IdOf(tx_x), y = IdOf(tx_y);
  env.Submit(tx_x);
  env.Submit(tx_y);
  REQUIRE(env.Close().rejected.empty());
  const uint64_t t0 = env.now_ms();
  const std::string a = IssueAt(env, Bill(x, t0, t0 + 1'000, 1'000, 1'000, 0, t0 + kHourMs), t0 + 1'000);
  ExpectOk(env, VoidTx(env, {"dave"}, a));
  // y's period is the same as a's, but a is x's.
  v1::InvoiceIssue on_y = Bill(y, t0, t0 + 1'000, 1'000, 1'000, 0, t0 + kHourMs);
  on_y.set_replaces(a);
  ExpectRejected(env, IssueTx(env, "dave", on_y), Code::kNotFound);
  v1::InvoiceIssue nothing = Bill(x, t0, t0 + 1'000, 1'000, 1'000, 0, t0 + kHourMs);
  nothing.set_replaces(NoSuchId());
  ExpectRejected(env, IssueTx(env, "dave", nothing), Code::kNotFound);
  v1::InvoiceIssue on_x = Bill(x, t0, t0 + 1'000, 1'000, 1'000, 0, t0 + kHourMs);
  on_x.set_replaces(a);
  std::string reissue = IssueTx(env, "dave", on_x);
  ExpectOk(env, reissue);
  CHECK(InvoiceOf(env, a).reissued_by() == IdOf(reissue));
  CHECK(InvoiceOf(env, IdOf(reissue)).amount_due() == 1'000);
  CHECK(ContractOf(env, y).open_invoices_size() == 0);
}

TEST_CASE("rules invoice issue: a reissue bills what the voided invoice did not collect, down to 1", "[rules][invoices]") {
  TestEnv env;
  const std::string id = Form(env, Invoiced(env, 1, 1'000'000));
  const uint64_t t0 = env.now_ms();
  const std::string a = IssueAt(env, Bill(id, t0, t0 + 1'000, 1'000, 1'000, 0, t0 + kHourMs, v1::PAYMENT_SOURCE_DIRECT), t0 + 1'000);
  ExpectOk(env, PayTx(env, {"alice"}, a, 600));
  ExpectOk(env, VoidTx(env, {"dave"}, a));
  REQUIRE(InvoiceOf(env, a).amount_due() == 600);
  auto reissue = [&](uint64_t credit, uint64_t total) {
    v1::InvoiceIssue i = Bill(id, t0, t0 + 1'000, 1'000, total, 0, t0 + kHourMs, v1::PAYMENT_SOURCE_DIRECT);
    i.set_replaces(a);
    i.set_credit(credit);
    return i;
  };
  // 1_000 - 401 = 599 is less than the 600 collected.
  ExpectRejected(env, IssueTx(env, "dave", reissue(401, 0)), Code::kBadAmount);
  // 1_000 - 400 - 600 = 0: nothing to invoice.
  ExpectRejected(env, IssueTx(env, "dave", reissue(400, 0)), Code::kBadAmount);
  CHECK(InvoiceOf(env, a).reissued_by().empty());
  std::string ok = IssueTx(env, "dave", reissue(399, 1));
  ExpectOk(env, ok);
  v1::Invoice inv = InvoiceOf(env, IdOf(ok));
  CHECK(inv.amount_due() == 1);
  CHECK(inv.collected_before() == 600);
  CHECK(InvoiceOf(env, a).reissued_by() == IdOf(ok));
}

TEST_CASE("rules invoice issue: 8 metered lines are allowed", "[rules][invoices]") {
  TestEnv env;
  v1::ContractTerms t = Invoiced(env, 1, 1'000'000);
  for (int k = 0; k < 8; ++k) AddMetered(&t, "m" + std::to_string(k), 1 + k);
  const std::string id = Form(env, t);
  const uint64_t t0 = env.now_ms();
  std::vector<std::pair<std::string, uint64_t>> usage;
  for (int k = 0; k < 8; ++k) usage.push_back({"m" + std::to_string(k), 2});
  ExpectOk(env, Report(env, "dave", id, usage, ""));
  // Time 2_000; lines 2 x (1 + ... + 8) = 72.
  v1::InvoiceIssue i = Bill(id, t0, t0 + 2'000, 2'000, 2'072, 0, t0 + kHourMs);
  for (int k = 0; k < 8; ++k) AddLine(&i, "m" + std::to_string(k), 2, 1 + k, 2 * (1 + k));
  const std::string a = IssueAt(env, i, t0 + 2'000);
  v1::Invoice inv = InvoiceOf(env, a);
  CHECK(inv.lines().metered_size() == 8);
  CHECK(inv.amount_due() == 2'072);
  CHECK(ContractOf(env, id).metered_charged() == 72);
}

// ============================================================================================
// InvoiceAccept, InvoiceVoid
// ============================================================================================

TEST_CASE("rules invoice accept and void: one signer, the right party, a known 32-byte id", "[rules][invoices]") {
  TestEnv env;
  const std::string id = FormWithArbiter(env);
  const uint64_t t0 = env.now_ms();
  const v1::InvoiceIssue lines = Bill(id, t0, t0 + 1'000, 1'000, 1'000, 0, t0 + kHourMs);
  ExpectRejected(env, IssueTx(env, "carol", lines), Code::kNotAuthorized);  // the arbiter does not invoice
  const std::string a = IssueAt(env, lines, t0 + 2'000);

  ExpectRejected(env, AcceptInvoiceTx(env, {"alice"}, ShortId()), Code::kBadField);
  ExpectRejected(env, AcceptInvoiceTx(env, {"alice"}, LongId()), Code::kBadField);
  ExpectRejected(env, AcceptInvoiceTx(env, {"alice", "dave"}, a), Code::kBadField);
  ExpectRejected(env, AcceptInvoiceTx(env, {"alice"}, NoSuchId()), Code::kNotFound);
  ExpectRejected(env, AcceptInvoiceTx(env, {"carol"}, a), Code::kNotAuthorized);  // the arbiter
  ExpectRejected(env, VoidTx(env, {"dave"}, ShortId()), Code::kBadField);
  ExpectRejected(env, VoidTx(env, {"dave", "alice"}, a), Code::kBadField);
  ExpectRejected(env, VoidTx(env, {"dave"}, NoSuchId()), Code::kNotFound);
  ExpectRejected(env, VoidTx(env, {"carol"}, a), Code::kNotAuthorized);  // the arbiter
  CHECK(InvoiceOf(env, a).state() == v1::INVOICE_STATE_ISSUED);
  CHECK(env.Balance("dave", "USDC") == kFunding);

  ExpectOk(env, AcceptInvoiceTx(env, {"alice"}, a));
  CHECK(InvoiceOf(env, a).state() == v1::INVOICE_STATE_PAID);
  CHECK(env.Balance("dave", "USDC") == kFunding + 1'000);
}

// ============================================================================================
// InvoiceDispute, InvoiceResolve
// ============================================================================================

TEST_CASE("rules invoice dispute: the renter alone, up to 1 ms before the due time", "[rules][invoices]") {
  TestEnv env;
  const std::string id = FormWithArbiter(env);
  const uint64_t t0 = env.now_ms();
  const uint64_t due = t0 + 20'000;
  // Direct invoices: the ledger does nothing at their due time.
  const std::string a = IssueAt(env, Bill(id, t0, t0 + 1'000, 1'000, 1'000, 0, due, v1::PAYMENT_SOURCE_DIRECT), t0 + 1'000);
  const std::string b =
      IssueAt(env, Bill(id, t0 + 1'000, t0 + 2'000, 1'000, 1'000, 0, due, v1::PAYMENT_SOURCE_DIRECT), t0 + 2'000);
  ExpectRejected(env, DisputeTx(env, {"alice", "dave"}, a, 0), Code::kBadField);
  ExpectRejected(env, DisputeTx(env, {"alice"}, ShortId(), 0), Code::kBadField);
  ExpectRejected(env, DisputeTx(env, {"carol"}, a, 0), Code::kNotAuthorized);  // the arbiter
  CHECK(InvoiceOf(env, a).state() == v1::INVOICE_STATE_ISSUED);

  ExpectOk(env, DisputeTx(env, {"alice"}, a, 0), Until(env, due - 1));
  CHECK(InvoiceOf(env, a).state() == v1::INVOICE_STATE_DISPUTED);
  CHECK(InvoiceOf(env, a).disputed_at_ms() == due - 1);
  ExpectRejectedAfter(env, DisputeTx(env, {"alice"}, b, 0), 1, Code::kTooLate);  // at the due time
  REQUIRE(env.now_ms() == due);
  ExpectRejectedAfter(env, DisputeTx(env, {"alice"}, b, 0), 1, Code::kTooLate);
  CHECK(InvoiceOf(env, b).state() == v1::INVOICE_STATE_ISSUED);
}

TEST_CASE("rules invoice resolve: one or two signers, a known 32-byte id, co-signers in any order", "[rules][invoices]") {
  TestEnv env;
  const std::string id = FormWithArbiter(env);
  const uint64_t t0 = env.now_ms();
  const std::string a = IssueAt(env, Bill(id, t0, t0 + 1'000, 1'000, 1'000, 0, t0 + kHourMs, v1::PAYMENT_SOURCE_DIRECT), t0 + 1'000);
  ExpectOk(env, DisputeTx(env, {"alice"}, a, 0));  // all 1_000 disputed, locked from free escrow
  CHECK(ContractOf(env, id).locked() == 1'000);

  ExpectRejected(env, ResolveTx(env, {"alice", "dave", "carol"}, a, 400), Code::kBadField);
  ExpectRejected(env, ResolveTx(env, {"dave"}, ShortId(), 0), Code::kBadField);
  ExpectRejected(env, ResolveTx(env, {"dave"}, NoSuchId(), 0), Code::kNotFound);
  CHECK(InvoiceOf(env, a).state() == v1::INVOICE_STATE_DISPUTED);

  // The provider first, the renter second: still a settlement of both parties.
  ExpectOk(env, ResolveTx(env, {"dave", "alice"}, a, 400));
  v1::Invoice inv = InvoiceOf(env, a);
  CHECK(inv.resolved());
  CHECK(inv.resolved_provider_amount() == 400);
  CHECK(inv.amount_due() == 400);
  CHECK(inv.state() == v1::INVOICE_STATE_PAID);
  CHECK(ContractOf(env, id).locked() == 0);
  CHECK(env.Balance("dave", "USDC") == kFunding + 400);
}

TEST_CASE("rules invoice resolve: the arbiter may give the provider exactly what was disputed", "[rules][invoices]") {
  TestEnv env;
  const std::string id = FormWithArbiter(env);
  const uint64_t t0 = env.now_ms();
  const std::string a = IssueAt(env, Bill(id, t0, t0 + 1'000, 1'000, 1'000, 0, t0 + kHourMs), t0 + 1'000);
  ExpectOk(env, DisputeTx(env, {"alice"}, a, 100));  // 100 paid now, 900 disputed
  ExpectRejected(env, ResolveTx(env, {"carol"}, a, 901), Code::kBadAmount);
  ExpectOk(env, ResolveTx(env, {"carol"}, a, 900));
  v1::Invoice inv = InvoiceOf(env, a);
  CHECK(inv.state() == v1::INVOICE_STATE_PAID);
  CHECK(inv.paid() == 1'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 1'000);
}

// ============================================================================================
// InvoicePay, PaymentRecordExternal
// ============================================================================================

TEST_CASE("rules invoice pay: one signer, a positive amount, anyone may pay exactly what is payable", "[rules][invoices]") {
  TestEnv env;
  const std::string id = Form(env, Invoiced(env, 1, 1'000'000));
  const uint64_t t0 = env.now_ms();
  const std::string a = IssueAt(env, Bill(id, t0, t0 + 1'000, 1'000, 1'000, 0, t0 + kHourMs, v1::PAYMENT_SOURCE_DIRECT), t0 + 1'000);
  ExpectRejected(env, PayTx(env, {"alice"}, a, 0), Code::kBadAmount);
  ExpectRejected(env, PayTx(env, {"alice", "carol"}, a, 1), Code::kBadField);
  ExpectRejected(env, PayTx(env, {"alice"}, ShortId(), 1), Code::kBadField);
  ExpectRejected(env, PayTx(env, {"carol"}, a, 1'001), Code::kBadAmount);
  // carol pays alice's invoice: carol's money, not alice's.
  ExpectOk(env, PayTx(env, {"carol"}, a, 1'000));
  v1::Invoice inv = InvoiceOf(env, a);
  CHECK(inv.state() == v1::INVOICE_STATE_PAID);
  REQUIRE(inv.payments_size() == 1);
  CHECK(inv.payments(0).payer() == env.Pub("carol").bytes());
  CHECK(env.Balance("carol", "USDC") == kFunding - 1'000);
  CHECK(env.Balance("alice", "USDC") == kFunding - 1'000'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 1'000);
}

TEST_CASE("rules invoice pay: the payer must hold the amount", "[rules][invoices]") {
  TestEnv env;
  const std::string id = Form(env, Invoiced(env, 1, 1'000'000));
  const uint64_t t0 = env.now_ms();
  const std::string a = IssueAt(env, Bill(id, t0, t0 + 1'000, 1'000, 1'000, 0, t0 + kHourMs, v1::PAYMENT_SOURCE_DIRECT), t0 + 1'000);
  ExpectOk(env, env.Transfer("alice", "nobody", "KTR", 1'000));
  ExpectOk(env, env.Transfer("alice", "nobody", "USDC", 500));
  ExpectRejected(env, PayTx(env, {"nobody"}, a, 501), Code::kInsufficientFunds);
  CHECK(InvoiceOf(env, a).paid() == 0);
  ExpectOk(env, PayTx(env, {"nobody"}, a, 500));
  CHECK(env.Balance("nobody", "USDC") == 0);
  CHECK(InvoiceOf(env, a).paid() == 500);
  CHECK(InvoiceOf(env, a).state() == v1::INVOICE_STATE_PARTIALLY_PAID);
  CHECK(env.Balance("dave", "USDC") == kFunding + 500);
}

TEST_CASE("rules invoice pay: paid in the block at the due time is on time, 1 ms after is late", "[rules][invoices]") {
  TestEnv env;
  const std::string id = Form(env, Invoiced(env, 1, 1'000'000));
  const uint64_t t0 = env.now_ms();
  const uint64_t due = t0 + 10'000;
  std::vector<std::string> ids;
  for (uint64_t k = 0; k < 4; ++k)
    ids.push_back(IssueAt(env, Bill(id, t0 + 1'000 * k, t0 + 1'000 * (k + 1), 1'000, 1'000, 0, due, v1::PAYMENT_SOURCE_DIRECT),
                          t0 + 1'000 * (k + 1)));
  ExpectOk(env, PayTx(env, {"alice"}, ids[0], 1'000), Until(env, due - 1));
  ExpectOk(env, PayTx(env, {"alice"}, ids[1], 1'000), 1);  // at the due time
  CHECK(ReputationOf(env, "alice").renter_invoices_paid_late() == 0);
  CHECK(ReputationOf(env, "dave").provider_invoices_paid_late() == 0);
  ExpectOk(env, PayTx(env, {"alice"}, ids[2], 1'000), 1);  // 1 ms after
  CHECK(ReputationOf(env, "alice").renter_invoices_paid_late() == 1);
  CHECK(ReputationOf(env, "dave").provider_invoices_paid_late() == 1);
  // A receipt of an external payment is late the same way.
  ExpectOk(env, ExternalTx(env, {"dave"}, ids[3], 1'000, "ethereum", "0xlate"), 1);
  CHECK(ReputationOf(env, "alice").renter_invoices_paid_late() == 2);
  CHECK(ReputationOf(env, "dave").provider_invoices_paid_late() == 2);
  for (const auto& i : ids) CHECK(InvoiceOf(env, i).state() == v1::INVOICE_STATE_PAID);
}

TEST_CASE("rules payment external: the provider alone, fields of 1 to 128 bytes, a positive amount", "[rules][invoices]") {
  TestEnv env;
  const std::string id = FormWithArbiter(env);
  const uint64_t t0 = env.now_ms();
  const std::string a = IssueAt(env, Bill(id, t0, t0 + 1'000, 1'000, 1'000, 0, t0 + kHourMs, v1::PAYMENT_SOURCE_DIRECT), t0 + 1'000);
  ExpectRejected(env, ExternalTx(env, {"carol"}, a, 1, "ethereum", "0x01"), Code::kNotAuthorized);  // the arbiter
  ExpectRejected(env, ExternalTx(env, {"dave", "alice"}, a, 1, "ethereum", "0x01"), Code::kBadField);
  ExpectRejected(env, ExternalTx(env, {"dave"}, ShortId(), 1, "ethereum", "0x01"), Code::kBadField);
  ExpectRejected(env, ExternalTx(env, {"dave"}, NoSuchId(), 1, "ethereum", "0x01"), Code::kNotFound);
  ExpectRejected(env, ExternalTx(env, {"dave"}, a, 0, "ethereum", "0x01"), Code::kBadAmount);
  ExpectRejected(env, ExternalTx(env, {"dave"}, a, 1, "", "0x01"), Code::kBadField);
  ExpectRejected(env, ExternalTx(env, {"dave"}, a, 1, std::string(129, 'n'), "0x01"), Code::kBadField);
  ExpectRejected(env, ExternalTx(env, {"dave"}, a, 1, "ethereum", ""), Code::kBadField);
  ExpectRejected(env, ExternalTx(env, {"dave"}, a, 1, "ethereum", std::string(129, 't')), Code::kBadField);
  ExpectRejected(env, ExternalTx(env, {"dave"}, a, 1, "ethereum", "0x01", ""), Code::kBadField);
  ExpectRejected(env, ExternalTx(env, {"dave"}, a, 1, "ethereum", "0x01", std::string(129, 'p')), Code::kBadField);
  ExpectRejected(env, ExternalTx(env, {"dave"}, a, 1, "ethereum", "0x01", "0x\x1b"), Code::kBadField);
  CHECK(InvoiceOf(env, a).paid() == 0);
  ExpectOk(env, ExternalTx(env, {"dave"}, a, 1, std::string(128, 'n'), std::string(128, 't'), std::string(128, 'p')));
  ExpectOk(env, ExternalTx(env, {"dave"}, a, 2, std::string(127, 'n'), std::string(127, 't'), std::string(127, 'p')));
  v1::Invoice inv = InvoiceOf(env, a);
  CHECK(inv.paid() == 3);
  CHECK(inv.state() == v1::INVOICE_STATE_PARTIALLY_PAID);
  REQUIRE(inv.payments_size() == 2);
  CHECK(inv.payments(0).external_payer() == std::string(128, 'p'));
}
