// Invoices of invoiced contracts (terms.invoiced): issue, accept, dispute, resolve, void, and
// the three ways to pay (escrow, ledger transfer, receipt of an external crypto payment).
//
// The ledger recomputes every line of an issued invoice: the time charge is
// accrued(period_end) - accrued(period_start) (contracts/escrow.h), metered lines are the usage
// reported since the previous invoice times the terms' prices. An escrow-sourced invoice reserves
// its total in the contract's escrow (`owed`); it is paid from escrow when the renter accepts it
// or, unchallenged, when its due time passes. A dispute pays the accepted part and locks the
// disputed part in escrow until the provider concedes, both parties settle, or the arbiter rules.
#include <algorithm>

#include "contracts/escrow.h"
#include "contracts/families.h"
#include "ledger/accounts.h"
#include "ledger/bech32m.h"

namespace kontor::contracts {

namespace {

using U128 = unsigned __int128;
using R = v1::Reputation;

std::string Addr(std::string_view key) { return EncodeAddress(Hash256::FromBytes(key)); }
std::string Num(uint64_t v) { return std::to_string(v); }

Result CheckId(const std::string& id, std::string_view what) {
  if (id.size() != 32) return {Code::kBadField, std::string(what) + " must be 32 bytes"};
  return Result::Ok();
}

// The invoice and its contract. Contracts may be closed: their invoices still settle.
Result LoadInvoice(StateDelta& s, const std::string& id, v1::Invoice* inv, v1::Contract* c) {
  auto i = Load<v1::Invoice>(s, Kind::kInvoice, id);
  if (!i) return {Code::kNotFound, "no invoice " + HexEncode(id)};
  auto k = Load<v1::Contract>(s, Kind::kContract, i->contract_id());
  if (!k) return {Code::kInvariantBroken, "invoice " + HexEncode(id) + " names a missing contract"};
  *inv = std::move(*i);
  *c = std::move(*k);
  return Result::Ok();
}

bool Final(const v1::Invoice& inv) {
  return inv.state() == v1::INVOICE_STATE_PAID || inv.state() == v1::INVOICE_STATE_VOIDED;
}

Result RequireOpen(const v1::Invoice& inv) {
  if (Final(inv)) return {Code::kWrongState, "invoice " + HexEncode(inv.id()) + " is " + InvoiceStateText(inv.state()) + "; it takes no more payments or changes"};
  return Result::Ok();
}

// What may be paid now: the amount due less what is paid and what is in dispute.
uint64_t Payable(const v1::Invoice& inv) { return inv.amount_due() - inv.paid() - inv.disputed(); }

// An escrow-sourced invoice nobody accepted or disputed: paid from escrow at its due time.
bool AwaitsDue(const v1::Invoice& inv) {
  return (inv.state() == v1::INVOICE_STATE_ISSUED || inv.state() == v1::INVOICE_STATE_PARTIALLY_PAID) && inv.owed() > 0;
}

// Releases up to `amount` of the invoice's escrow reservation.
void ReleaseOwed(v1::Contract* c, v1::Invoice* inv, uint64_t amount) {
  uint64_t release = std::min(amount, inv->owed());
  inv->set_owed(inv->owed() - release);
  c->set_owed(c->owed() - release);
}

// Stores the invoice, and the contract with its open-invoice list, next due time and (when
// closed) refunds of escrow no longer reserved.
Result StoreBoth(StateDelta& s, v1::Contract* c, const v1::Invoice& inv) {
  Store(s, Kind::kInvoice, inv.id(), inv);
  if (Final(inv)) {
    auto* open = c->mutable_open_invoices();
    open->erase(std::remove(open->begin(), open->end(), inv.id()), open->end());
  }
  uint64_t next_due = 0;
  for (const auto& id : c->open_invoices()) {
    auto other = id == inv.id() ? std::optional<v1::Invoice>(inv) : Load<v1::Invoice>(s, Kind::kInvoice, id);
    if (!other || !AwaitsDue(*other)) continue;
    if (next_due == 0 || other->lines().due_at_ms() < next_due) next_due = other->lines().due_at_ms();
  }
  c->set_next_due_ms(next_due);
  if (c->state() == v1::CONTRACT_STATE_CLOSED) KONTOR_RETURN_IF_ERROR(RefundFreeEscrow(s, c));
  StoreContract(s, *c);
  return Result::Ok();
}

// After a payment: paid in full -> paid (or voided if nothing was due); otherwise partially paid.
// A disputed invoice keeps its state until resolved.
void UpdateState(StateDelta& s, const v1::Contract& c, v1::Invoice* inv, uint64_t now, bool may_be_late) {
  if (inv->state() == v1::INVOICE_STATE_DISPUTED) return;
  if (inv->paid() >= inv->amount_due()) {
    inv->set_state(inv->amount_due() == 0 ? v1::INVOICE_STATE_VOIDED : v1::INVOICE_STATE_PAID);
    inv->set_settled_at_ms(now);
    if (may_be_late && inv->amount_due() != 0 && now > inv->lines().due_at_ms()) {
      BumpReputation(s, c.terms().renter(), &R::renter_invoices_paid_late, &R::set_renter_invoices_paid_late);
      BumpReputation(s, c.terms().provider(), &R::provider_invoices_paid_late, &R::set_provider_invoices_paid_late);
    }
  } else if (inv->paid() > 0) {
    inv->set_state(v1::INVOICE_STATE_PARTIALLY_PAID);
  }
}

v1::InvoicePayment* AddPayment(const DecodedTx* tx, v1::Invoice* inv, v1::PaymentMethod method, uint64_t amount,
                               uint64_t broker, uint64_t now) {
  auto* p = inv->add_payments();
  p->set_method(method);
  p->set_amount(amount);
  p->set_broker_share(broker);
  p->set_at_ms(now);
  if (tx) p->set_txid(tx->txid.bytes());
  inv->set_paid(inv->paid() + amount);
  return p;
}

// Pays `amount` of an invoice from the escrow it reserved (owed) or locked (from_locked).
Result PayReservedEscrow(StateDelta& s, const DecodedTx* tx, v1::Contract* c, v1::Invoice* inv, uint64_t amount, bool from_locked,
                         uint64_t now) {
  if (amount == 0) return Result::Ok();
  if (from_locked) {
    inv->set_locked(inv->locked() - amount);
    c->set_locked(c->locked() - amount);
  } else {
    ReleaseOwed(c, inv, amount);
  }
  TakeFromEscrow(c, amount);
  uint64_t broker = 0;
  KONTOR_RETURN_IF_ERROR(PayParties(s, c, amount, &broker));
  AddPayment(tx, inv, v1::PAYMENT_METHOD_ESCROW, amount, broker, now);
  return Result::Ok();
}

// The lines the ledger expects for [from, to] of contract c (not a reissue).
Result ExpectedTime(const v1::Contract& c, uint64_t from, uint64_t to, uint64_t* time_charge) {
  uint64_t a = 0, b = 0;
  KONTOR_RETURN_IF_ERROR(Accrued(c, from, &a));
  KONTOR_RETURN_IF_ERROR(Accrued(c, to, &b));
  *time_charge = b - a;
  return Result::Ok();
}

}  // namespace

const char* InvoiceStateText(v1::InvoiceState state) {
  switch (state) {
    case v1::INVOICE_STATE_ISSUED: return "issued";
    case v1::INVOICE_STATE_ACCEPTED: return "accepted";
    case v1::INVOICE_STATE_DISPUTED: return "disputed";
    case v1::INVOICE_STATE_PARTIALLY_PAID: return "partially paid";
    case v1::INVOICE_STATE_PAID: return "paid";
    case v1::INVOICE_STATE_VOIDED: return "voided";
    default: return "unspecified";
  }
}

// ---------------------------------------------------------------- issue

Result CheckInvoiceIssue(const DecodedTx& tx) {
  const auto& i = tx.body.invoice_issue();
  KONTOR_RETURN_IF_ERROR(CheckId(i.contract_id(), "contract id"));
  if (!i.replaces().empty()) KONTOR_RETURN_IF_ERROR(CheckId(i.replaces(), "replaced invoice id"));
  if (i.period_end_ms() <= i.period_start_ms())
    return {Code::kBadField, "the invoice period must have a positive duration: " + Num(i.period_start_ms()) + ".." + Num(i.period_end_ms()) + " ms"};
  if (static_cast<size_t>(i.metered_size()) > kMeteredPricesMax) return {Code::kTooLarge, "more than 8 metered lines"};
  for (int k = 0; k < i.metered_size(); ++k) {
    if (!ValidName(i.metered(k).name())) return {Code::kBadField, "metered line '" + i.metered(k).name() + "' must be 1..32 of a-z 0-9 _"};
    if (k > 0 && i.metered(k).name() <= i.metered(k - 1).name()) return {Code::kBadField, "metered lines must be sorted by name, without repeats"};
  }
  if (i.source() != v1::PAYMENT_SOURCE_ESCROW && i.source() != v1::PAYMENT_SOURCE_DIRECT) return {Code::kBadField, "unknown payment source"};
  if (tx.signers.size() != 1) return {Code::kBadField, "an invoice is signed by the provider alone"};
  return Result::Ok();
}

Result ApplyInvoiceIssue(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  const auto& i = tx.body.invoice_issue();
  auto found = Load<v1::Contract>(s, Kind::kContract, i.contract_id());
  if (!found) return {Code::kNotFound, "no contract " + HexEncode(i.contract_id())};
  v1::Contract c = std::move(*found);
  const auto& t = c.terms();
  if (tx.fee_payer().view() != t.provider())
    return {Code::kNotAuthorized, "only the contract's provider " + Addr(t.provider()) + " invoices it; the signer is " + EncodeAddress(tx.fee_payer())};
  if (!t.invoiced()) return {Code::kWrongState, "contract " + HexEncode(c.id()) + " is paid from escrow as charges accrue; it takes no invoices"};
  if (c.state() == v1::CONTRACT_STATE_CLOSED) return {Code::kWrongState, "contract " + HexEncode(c.id()) + " is closed: its last period was settled at the close"};
  if (static_cast<size_t>(c.open_invoices_size()) >= kOpenInvoicesMax)
    return {Code::kTooLarge, "the contract already has " + Num(kOpenInvoicesMax) + " open invoices"};
  if (i.due_at_ms() <= env.time_ms) return {Code::kBadField, "the due time must be after the block's time " + Num(env.time_ms) + " ms"};
  if (i.due_at_ms() - env.time_ms < t.dispute_window_ms())
    return {Code::kBadField, "the due time must leave the renter the agreed dispute window of " + Num(t.dispute_window_ms()) + " ms"};
  if (i.period_end_ms() > env.time_ms) return {Code::kTooEarly, "the period ends at " + Num(i.period_end_ms()) + " ms, after the block's time " + Num(env.time_ms) + " ms"};
  uint64_t accrual_end = AccrualEndMs(c);
  if (accrual_end != 0 && i.period_end_ms() > accrual_end)
    return {Code::kBadField, "the period ends after the contract stops accruing at " + Num(accrual_end) + " ms"};

  // The lines the ledger expects.
  std::optional<v1::Invoice> replaced;
  std::vector<v1::InvoiceLine> lines;
  uint64_t metered_total = 0;
  if (!i.replaces().empty()) {
    replaced = Load<v1::Invoice>(s, Kind::kInvoice, i.replaces());
    if (!replaced || replaced->contract_id() != c.id()) return {Code::kNotFound, "no invoice " + HexEncode(i.replaces()) + " of this contract to reissue"};
    if (replaced->state() != v1::INVOICE_STATE_VOIDED) return {Code::kWrongState, "only a voided invoice can be reissued; " + HexEncode(i.replaces()) + " is " + InvoiceStateText(replaced->state())};
    if (replaced->resolved())
      return {Code::kWrongState, "invoice " + HexEncode(i.replaces()) + " ended by a dispute's resolution, which is final; it cannot be reissued"};
    if (!replaced->reissued_by().empty()) return {Code::kDuplicate, "invoice " + HexEncode(i.replaces()) + " was already reissued as " + HexEncode(replaced->reissued_by())};
    if (i.period_start_ms() != replaced->lines().period_start_ms() || i.period_end_ms() != replaced->lines().period_end_ms())
      return {Code::kMismatch, "a reissue covers the voided invoice's period " + Num(replaced->lines().period_start_ms()) + ".." +
                                   Num(replaced->lines().period_end_ms()) + " ms"};
    for (const auto& l : replaced->lines().metered()) {
      lines.push_back(l);
      metered_total += l.amount();
    }
  } else {
    uint64_t expected_start = c.invoiced_until_ms();
    if (i.period_start_ms() != expected_start)
      return {Code::kMismatch, "the period must start where the last one ended, at " + Num(expected_start) + " ms, not " + Num(i.period_start_ms())};
    KONTOR_RETURN_IF_ERROR(UninvoicedMetered(c, &lines, &metered_total));
  }
  uint64_t time_charge = 0;
  KONTOR_RETURN_IF_ERROR(ExpectedTime(c, i.period_start_ms(), i.period_end_ms(), &time_charge));
  if (i.time_charge() != time_charge)
    return {Code::kMismatch, "time charge " + Num(i.time_charge()) + " differs from the terms: " + Num(t.units()) + " units x " +
                                 Num(t.price_per_unit_hour()) + " per unit-hour over the period = " + Num(time_charge)};
  if (static_cast<size_t>(i.metered_size()) != lines.size())
    return {Code::kMismatch, "the invoice has " + Num(i.metered_size()) + " metered lines; the usage reported since the last invoice needs " + Num(lines.size())};
  for (size_t k = 0; k < lines.size(); ++k) {
    const auto& got = i.metered(static_cast<int>(k));
    const auto& want = lines[k];
    if (got.name() != want.name() || got.quantity() != want.quantity() || got.unit_price() != want.unit_price() || got.amount() != want.amount())
      return {Code::kMismatch, "metered line '" + got.name() + "' must be " + want.name() + ": " + Num(want.quantity()) + " x " +
                                   Num(want.unit_price()) + " = " + Num(want.amount())};
  }
  U128 subtotal = static_cast<U128>(time_charge) + metered_total;
  if (subtotal > UINT64_MAX) return {Code::kOverflow, "the invoice's subtotal exceeds 2^64-1"};
  if (i.credit() > subtotal) return {Code::kBadAmount, "the credit exceeds the subtotal " + Num(static_cast<uint64_t>(subtotal))};
  uint64_t total = static_cast<uint64_t>(subtotal) - i.credit();
  // A reissue does not bill again what the voided invoices of this period collected.
  U128 collected128 = replaced ? static_cast<U128>(replaced->paid()) + replaced->collected_before() : 0;
  uint64_t collected = collected128 > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(collected128);
  if (collected > total)
    return {Code::kBadAmount, "the voided invoice already collected " + Num(collected) + ", more than time + metered - credit = " + Num(total)};
  total -= collected;
  if (i.total() != total)
    return {Code::kMismatch, "total " + Num(i.total()) + " differs from time + metered - credit" +
                                 (replaced ? " - collected by the voided invoice" : "") + " = " + Num(total)};
  if (total == 0) return {Code::kBadAmount, "nothing to invoice: the total is zero"};
  uint64_t broker_fee = t.broker().empty() ? 0 : static_cast<uint64_t>(static_cast<U128>(total) * t.broker_fee_bps() / kBasisPointsMax);
  if (i.broker_fee() != broker_fee) return {Code::kMismatch, "broker fee " + Num(i.broker_fee()) + " differs from total x " + Num(t.broker_fee_bps()) + " bps = " + Num(broker_fee)};

  v1::Contract next = c;
  if (!replaced) {
    uint64_t charged = 0;
    KONTOR_RETURN_IF_ERROR(Accrued(c, i.period_end_ms(), &charged));
    next.set_charged(charged);
    if (c.metered_charged() > UINT64_MAX - metered_total) return {Code::kOverflow, "the contract's metered charges would exceed 2^64-1"};
    next.set_metered_charged(c.metered_charged() + metered_total);
    // Every payment of the contract is bounded by its charges; keeping them within 64 bits keeps
    // the ledger's own payments (at the due time, at close) from overflowing.
    if (next.charged() > UINT64_MAX - next.metered_charged())
      return {Code::kOverflow, "the contract's time and metered charges together would exceed 2^64-1"};
    next.set_invoiced_until_ms(i.period_end_ms());
    *next.mutable_invoiced_usage() = c.usage();
  }
  if (i.source() == v1::PAYMENT_SOURCE_ESCROW) {
    // Escrow must cover the invoice and still guarantee the time accrued since its period.
    uint64_t accrued_now = 0;
    KONTOR_RETURN_IF_ERROR(Accrued(c, env.time_ms, &accrued_now));
    uint64_t uncovered_time = accrued_now > next.charged() ? accrued_now - next.charged() : 0;
    uint64_t free = FreeEscrow(c);
    uint64_t available = free > uncovered_time ? free - uncovered_time : 0;
    if (total > available)
      return {Code::kInsufficientEscrow, "the invoice total " + Num(total) + " exceeds what escrow covers, " + Num(available) +
                                             "; issue it to be paid directly (source direct) or wait for a top-up"};
    next.set_owed(c.owed() + total);
  }
  v1::Invoice inv;
  inv.set_id(tx.txid.bytes());
  inv.set_contract_id(c.id());
  *inv.mutable_lines() = i;
  inv.set_state(v1::INVOICE_STATE_ISSUED);
  inv.set_issued_at_ms(env.time_ms);
  inv.set_amount_due(total);
  inv.set_collected_before(collected);
  if (i.source() == v1::PAYMENT_SOURCE_ESCROW) inv.set_owed(total);
  if (replaced) {
    replaced->set_reissued_by(inv.id());
    Store(s, Kind::kInvoice, replaced->id(), *replaced);
  }
  next.add_open_invoices(inv.id());
  IndexAdd(s, Kind::kContractInvoices, c.id(), inv.id());
  return StoreBoth(s, &next, inv);
}

// ---------------------------------------------------------------- accept, void

Result CheckInvoiceAction(const DecodedTx& tx) {
  const auto& b = tx.body;
  const std::string& id = b.has_invoice_accept() ? b.invoice_accept().invoice_id() : b.invoice_void().invoice_id();
  KONTOR_RETURN_IF_ERROR(CheckId(id, "invoice id"));
  if (tx.signers.size() != 1) return {Code::kBadField, "this invoice action has one signer"};
  return Result::Ok();
}

Result ApplyInvoiceAccept(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  v1::Invoice inv;
  v1::Contract c;
  KONTOR_RETURN_IF_ERROR(LoadInvoice(s, tx.body.invoice_accept().invoice_id(), &inv, &c));
  if (tx.fee_payer().view() != c.terms().renter()) return {Code::kNotAuthorized, "only the renter " + Addr(c.terms().renter()) + " accepts an invoice"};
  if (inv.state() != v1::INVOICE_STATE_ISSUED) return {Code::kWrongState, "invoice " + HexEncode(inv.id()) + " is " + InvoiceStateText(inv.state()) + "; only an issued invoice is accepted"};
  inv.set_state(v1::INVOICE_STATE_ACCEPTED);
  inv.set_accepted(true);
  // An escrow-sourced invoice is paid at once.
  KONTOR_RETURN_IF_ERROR(PayReservedEscrow(s, &tx, &c, &inv, inv.owed(), false, env.time_ms));
  UpdateState(s, c, &inv, env.time_ms, false);
  return StoreBoth(s, &c, inv);
}

Result ApplyInvoiceVoid(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  v1::Invoice inv;
  v1::Contract c;
  KONTOR_RETURN_IF_ERROR(LoadInvoice(s, tx.body.invoice_void().invoice_id(), &inv, &c));
  if (tx.fee_payer().view() != c.terms().provider()) return {Code::kNotAuthorized, "only the provider " + Addr(c.terms().provider()) + " voids its invoice"};
  KONTOR_RETURN_IF_ERROR(RequireOpen(inv));
  // What is unpaid is no longer owed; reserved and locked escrow is released.
  ReleaseOwed(&c, &inv, inv.owed());
  c.set_locked(c.locked() - inv.locked());
  inv.set_locked(0);
  inv.set_disputed(0);
  inv.set_amount_due(inv.paid());
  inv.set_state(v1::INVOICE_STATE_VOIDED);
  inv.set_settled_at_ms(env.time_ms);
  BumpReputation(s, c.terms().provider(), &R::provider_invoices_voided, &R::set_provider_invoices_voided);
  return StoreBoth(s, &c, inv);
}

// ---------------------------------------------------------------- dispute, resolve

Result CheckInvoiceDispute(const DecodedTx& tx) {
  const auto& d = tx.body.invoice_dispute();
  KONTOR_RETURN_IF_ERROR(CheckId(d.invoice_id(), "invoice id"));
  if (d.reason() == v1::DISPUTE_REASON_UNSPECIFIED || !v1::DisputeReason_IsValid(d.reason()))
    return {Code::kBadField, "a dispute needs a reason code (1..5)"};
  if (tx.signers.size() != 1) return {Code::kBadField, "a dispute is signed by the renter alone"};
  return Result::Ok();
}

Result ApplyInvoiceDispute(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  const auto& d = tx.body.invoice_dispute();
  v1::Invoice inv;
  v1::Contract c;
  KONTOR_RETURN_IF_ERROR(LoadInvoice(s, d.invoice_id(), &inv, &c));
  if (tx.fee_payer().view() != c.terms().renter()) return {Code::kNotAuthorized, "only the renter " + Addr(c.terms().renter()) + " disputes an invoice"};
  if (inv.state() != v1::INVOICE_STATE_ISSUED && inv.state() != v1::INVOICE_STATE_PARTIALLY_PAID)
    return {Code::kWrongState, "invoice " + HexEncode(inv.id()) + " is " + InvoiceStateText(inv.state()) + "; only an issued or partly paid invoice can be disputed"};
  if (inv.accepted() || inv.resolved())
    return {Code::kWrongState, "invoice " + HexEncode(inv.id()) + (inv.accepted() ? " was accepted" : "'s dispute was resolved") +
                                   "; it cannot be disputed again"};
  if (env.time_ms >= inv.lines().due_at_ms())
    return {Code::kTooLate, "the dispute window closed at the due time " + Num(inv.lines().due_at_ms()) + " ms"};
  uint64_t unpaid = inv.amount_due() - inv.paid();
  if (d.accepted_amount() >= unpaid)
    return {Code::kBadAmount, "the accepted amount " + Num(d.accepted_amount()) + " must be less than the unpaid " + Num(unpaid) + "; accept the invoice instead"};
  uint64_t disputed = unpaid - d.accepted_amount();
  if (inv.owed() > 0) {
    // Escrow-sourced: the accepted part settles now, the disputed part moves from owed to locked.
    KONTOR_RETURN_IF_ERROR(PayReservedEscrow(s, &tx, &c, &inv, d.accepted_amount(), false, env.time_ms));
    uint64_t lock = std::min(disputed, inv.owed());
    ReleaseOwed(&c, &inv, lock);
    inv.set_locked(lock);
  } else if (c.state() == v1::CONTRACT_STATE_CLOSED) {
    inv.set_locked(0);  // a closed contract has no free escrow left to lock
  } else {
    // Paid directly: lock what free escrow spares beyond the time it still guarantees.
    uint64_t accrued = 0;
    KONTOR_RETURN_IF_ERROR(Accrued(c, env.time_ms, &accrued));
    uint64_t guaranteed = accrued > c.charged() ? accrued - c.charged() : 0;
    uint64_t free = FreeEscrow(c);
    inv.set_locked(std::min(disputed, free > guaranteed ? free - guaranteed : 0));
  }
  c.set_locked(c.locked() + inv.locked());
  inv.set_state(v1::INVOICE_STATE_DISPUTED);
  inv.set_disputed(disputed);
  inv.set_dispute_reason(d.reason());
  inv.set_disputed_at_ms(env.time_ms);
  BumpReputation(s, c.terms().renter(), &R::renter_invoices_disputed, &R::set_renter_invoices_disputed);
  BumpReputation(s, c.terms().provider(), &R::provider_invoices_disputed, &R::set_provider_invoices_disputed);
  return StoreBoth(s, &c, inv);
}

Result CheckInvoiceResolve(const DecodedTx& tx) {
  KONTOR_RETURN_IF_ERROR(CheckId(tx.body.invoice_resolve().invoice_id(), "invoice id"));
  if (tx.signers.empty() || tx.signers.size() > 2) return {Code::kBadField, "a resolution is signed by one or two parties"};
  return Result::Ok();
}

Result ApplyInvoiceResolve(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  const auto& r = tx.body.invoice_resolve();
  v1::Invoice inv;
  v1::Contract c;
  KONTOR_RETURN_IF_ERROR(LoadInvoice(s, r.invoice_id(), &inv, &c));
  const auto& t = c.terms();
  // Who may decide what: see InvoiceResolve in tx.proto.
  auto signed_by = [&](const std::string& key) {
    return !key.empty() && std::any_of(tx.signers.begin(), tx.signers.end(), [&](const PublicKey& k) { return k.view() == key; });
  };
  bool renter = signed_by(t.renter()), provider = signed_by(t.provider()), arbiter = signed_by(t.arbiter());
  bool is_party = renter || provider;
  if (!is_party && !arbiter) {
    if (t.arbiter().empty()) return {Code::kWrongState, "contract " + HexEncode(c.id()) + " has no arbiter; only its renter and provider resolve disputes"};
    return {Code::kNotAuthorized, "only the renter, the provider or the arbiter " + Addr(t.arbiter()) + " resolves this dispute"};
  }
  if (tx.signers.size() == 2 && !(renter && provider)) return {Code::kNotAuthorized, "a settlement is co-signed by the renter and the provider"};
  if (inv.state() != v1::INVOICE_STATE_DISPUTED) return {Code::kWrongState, "invoice " + HexEncode(inv.id()) + " is " + InvoiceStateText(inv.state()) + ", not disputed"};
  uint64_t disputed = inv.disputed();
  if (r.provider_amount() > disputed) return {Code::kBadAmount, "the provider's amount " + Num(r.provider_amount()) + " exceeds the disputed " + Num(disputed)};
  if (tx.signers.size() == 1 && !arbiter) {
    if (provider && r.provider_amount() != 0)
      return {Code::kMissingSignature, "the provider alone can only concede the dispute (provider amount 0); a split needs the renter's co-signature or the arbiter"};
    if (renter && r.provider_amount() != disputed)
      return {Code::kMissingSignature, "the renter alone can only withdraw the dispute (provider amount " + Num(disputed) + "); a split needs the provider's co-signature or the arbiter"};
  }
  // The provider's part is paid from the locked escrow; what lock did not cover stays payable directly.
  uint64_t from_lock = std::min(r.provider_amount(), inv.locked());
  KONTOR_RETURN_IF_ERROR(PayReservedEscrow(s, &tx, &c, &inv, from_lock, true, env.time_ms));
  c.set_locked(c.locked() - inv.locked());
  inv.set_locked(0);
  inv.set_amount_due(inv.amount_due() - disputed + r.provider_amount());
  inv.set_disputed(0);
  inv.set_resolved_provider_amount(r.provider_amount());
  inv.set_resolved(true);
  inv.set_state(inv.paid() > 0 ? v1::INVOICE_STATE_PARTIALLY_PAID : v1::INVOICE_STATE_ACCEPTED);
  UpdateState(s, c, &inv, env.time_ms, false);
  return StoreBoth(s, &c, inv);
}

// ---------------------------------------------------------------- payments

Result CheckInvoicePay(const DecodedTx& tx) {
  const auto& p = tx.body.invoice_pay();
  KONTOR_RETURN_IF_ERROR(CheckId(p.invoice_id(), "invoice id"));
  if (p.amount() == 0) return {Code::kBadAmount, "payment amount must be greater than zero"};
  if (tx.signers.size() != 1) return {Code::kBadField, "a payment is signed by the payer alone"};
  return Result::Ok();
}

Result ApplyInvoicePay(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  const auto& p = tx.body.invoice_pay();
  v1::Invoice inv;
  v1::Contract c;
  KONTOR_RETURN_IF_ERROR(LoadInvoice(s, p.invoice_id(), &inv, &c));
  KONTOR_RETURN_IF_ERROR(RequireOpen(inv));
  if (p.amount() > Payable(inv)) return {Code::kBadAmount, "payment " + Num(p.amount()) + " exceeds what is payable now, " + Num(Payable(inv))};
  const std::string& asset = c.terms().asset();
  v1::Account payer = LoadAccount(s, tx.fee_payer());
  KONTOR_RETURN_IF_ERROR(Debit(&payer, asset, p.amount(), tx.fee_payer()));
  StoreAccount(s, tx.fee_payer(), payer);
  uint64_t broker = 0;
  KONTOR_RETURN_IF_ERROR(PayParties(s, &c, p.amount(), &broker));
  ReleaseOwed(&c, &inv, p.amount());
  AddPayment(&tx, &inv, v1::PAYMENT_METHOD_TRANSFER, p.amount(), broker, env.time_ms)->set_payer(tx.fee_payer().bytes());
  UpdateState(s, c, &inv, env.time_ms, true);
  return StoreBoth(s, &c, inv);
}

Result CheckPaymentRecordExternal(const DecodedTx& tx) {
  const auto& p = tx.body.payment_record_external();
  KONTOR_RETURN_IF_ERROR(CheckId(p.invoice_id(), "invoice id"));
  if (p.amount() == 0) return {Code::kBadAmount, "payment amount must be greater than zero"};
  KONTOR_RETURN_IF_ERROR(CheckExternalField(p.network(), "payment network"));
  KONTOR_RETURN_IF_ERROR(CheckExternalField(p.external_txid(), "payment external tx id"));
  KONTOR_RETURN_IF_ERROR(CheckExternalField(p.payer(), "payment payer"));
  if (tx.signers.size() != 1) return {Code::kBadField, "an external payment is confirmed by the payee alone"};
  return Result::Ok();
}

Result ApplyPaymentRecordExternal(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  const auto& p = tx.body.payment_record_external();
  v1::Invoice inv;
  v1::Contract c;
  KONTOR_RETURN_IF_ERROR(LoadInvoice(s, p.invoice_id(), &inv, &c));
  const auto& t = c.terms();
  if (tx.fee_payer().view() != t.provider())
    return {Code::kNotAuthorized, "an external payment is confirmed by the payee, the provider " + Addr(t.provider())};
  KONTOR_RETURN_IF_ERROR(RequireOpen(inv));
  // Receipts have their own namespace: a provider must not be able to block a gateway's deposit.
  std::string marker_id = ExternalTxId(p.network(), p.external_txid());
  if (auto used = Load<v1::ExternalTx>(s, Kind::kPaymentExternalTx, marker_id))
    return {Code::kDuplicate, "external tx " + p.external_txid() + " on " + p.network() + " was already recorded as a payment at height " +
                                  Num(used->height())};
  if (p.amount() > Payable(inv)) return {Code::kBadAmount, "payment " + Num(p.amount()) + " exceeds what is payable now, " + Num(Payable(inv))};
  if (static_cast<U128>(c.paid_provider()) + c.paid_broker() + p.amount() > UINT64_MAX)
    return {Code::kOverflow, "the contract's total payments would exceed 2^64-1"};
  // The provider received the whole amount off the ledger; the broker's share moves on the ledger
  // from the provider's balance.
  uint64_t broker = BrokerShare(c, p.amount());
  if (broker > 0) {
    PublicKey provider = Hash256::FromBytes(t.provider());
    v1::Account account = LoadAccount(s, provider);
    if (!Debit(&account, t.asset(), broker, provider).ok())
      return {Code::kInsufficientFunds, "the broker's share " + Num(broker) + " " + t.asset() + " is paid from the provider's balance, which has " +
                                            Num(BalanceOf(account, t.asset()))};
    StoreAccount(s, provider, account);
    PublicKey broker_key = Hash256::FromBytes(t.broker());
    v1::Account b = LoadAccount(s, broker_key);
    KONTOR_RETURN_IF_ERROR(Credit(&b, t.asset(), broker));
    StoreAccount(s, broker_key, b);
  }
  c.set_paid_provider(c.paid_provider() + (p.amount() - broker));
  c.set_paid_broker(c.paid_broker() + broker);
  ReleaseOwed(&c, &inv, p.amount());
  auto* pay = AddPayment(&tx, &inv, v1::PAYMENT_METHOD_EXTERNAL, p.amount(), broker, env.time_ms);
  pay->set_network(p.network());
  pay->set_external_txid(p.external_txid());
  pay->set_external_payer(p.payer());
  v1::ExternalTx marker;
  marker.set_network(p.network());
  marker.set_external_txid(p.external_txid());
  marker.set_height(env.height);
  Store(s, Kind::kPaymentExternalTx, marker_id, marker);
  UpdateState(s, c, &inv, env.time_ms, true);
  return StoreBoth(s, &c, inv);
}

// ---------------------------------------------------------------- the ledger's own payments

Result PayDueInvoices(StateDelta& s, v1::Contract* c, uint64_t now) {
  std::vector<std::string> ids(c->open_invoices().begin(), c->open_invoices().end());
  for (const auto& id : ids) {
    auto inv = Load<v1::Invoice>(s, Kind::kInvoice, id);
    if (!inv) return {Code::kInvariantBroken, "contract " + HexEncode(c->id()) + " lists a missing invoice " + HexEncode(id)};
    if (!AwaitsDue(*inv) || inv->lines().due_at_ms() > now) continue;
    // Unchallenged through its dispute window: paid from the escrow it reserved, on time.
    KONTOR_RETURN_IF_ERROR(PayReservedEscrow(s, nullptr, c, &*inv, inv->owed(), false, now));
    UpdateState(s, *c, &*inv, inv->lines().due_at_ms(), false);
    KONTOR_RETURN_IF_ERROR(StoreBoth(s, c, *inv));
  }
  return Result::Ok();
}

}  // namespace kontor::contracts
