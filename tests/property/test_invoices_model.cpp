// Invoices against a model: random sequences of invoice and payment operations on 1..2 invoiced
// contracts (terms.invoiced; renter alice, provider dave, broker bob with random bps or none,
// arbiter carol or none; open-ended, long or short terms), in blocks at random times. The provider
// issues invoices for the time (and metered usage) not invoiced yet, escrow-sourced or to be paid
// directly, sometimes with a credit, sometimes reissuing a voided one, now and then with a wrong
// field or signer; the renter accepts, disputes, pays by transfer (carol now and then pays for
// it); disputes are resolved (provider's concession, co-signed settlement, arbiter, renter
// withdrawing, and signers or amounts that may not); the provider records external payments
// (fresh or reused external txids), voids, reports usage and gives notice; alice and carol top
// escrow up; the renter closes. After every block each contract, each invoice (state, amounts,
// payments), the reputation facts of renter and provider, every USDC and KTR balance and the
// supply identity must equal what a model kept here predicts, and every rejected tx must have been
// predicted with its code.
//
// The model is written from the rules (contracts/escrow.h, proto/kontor/v1/tx.proto, the checks of
// contracts/invoices.cpp, docs/protocol.md §10.9.17-23 and §15.9-15.11), in plain integers, not
// with the code under test:
//   accrued(t) = floor(units * price_per_unit_hour * (min(t, accrual end) - start) / 3_600_000),
//   the accrual end being the end of the term or, after notice, the termination if earlier
//   free escrow = escrow - owed - locked; payments out of escrow take the oldest deposits first,
//   refunds give back the latest first
//   the broker holds floor(all paid * bps / 10_000) of everything paid to the contract's parties
//   an issued invoice moves `charged` to accrued(period end) and the invoiced usage to the
//   reported usage; a reissue of a voided invoice bills its period and metered lines again, less
//   what the voided invoices of that period collected (an invoice whose dispute was resolved is
//   not reissued); an escrow-sourced invoice reserves its total (owed), which must fit in the free
//   escrow less the time accrued since the period; it is paid from escrow when accepted or, at
//   the end of the first block at or after its due time, if still issued or partly paid
//   a dispute (before the due time) pays the accepted part of an escrow-sourced invoice and moves
//   the rest from owed to locked; for a direct invoice it locks what free escrow spares beyond
//   the time it still guarantees
//   a resolution pays the provider's amount out of the lock (the rest of it stays payable
//   directly) and releases the lock
//   an external payment's broker share moves from the provider's balance to the broker's
//   a contract runs dry when accrued(now) - charged > free escrow (checked by a top-up, a usage
//   report, a notice, and at the end of every block); at the end of a block a contract whose
//   notice or term ran out closes at that moment; closing pays the time and metered usage not
//   invoiced yet from free escrow (if it cannot, the reason is insufficient funds) and refunds
//   the rest of it; a closed contract refunds the escrow its invoices release
//   a rejected tx changes nothing (no fee, no nonce); each included one pays 10 KTR to the validator.
// What this and test_contracts_model.cpp share (the block driver, the comparisons of contracts,
// escrow, balances and supply, the common txs and rules) is in tests/property/model_support.h.
#include <rapidcheck/catch.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "contracts/records.h"
#include "ledger/accounts.h"
#include "ledger/bytes.h"
#include "tests/property/model_support.h"
#include "tests/support/test_env.h"

using namespace kontor;
using namespace kontor::test::model;
using kontor::contracts::Kind;
using kontor::test::TestEnv;

namespace {

constexpr size_t kOpenInvoicesMax = 32;  // open invoices per contract

std::string InvoiceStateName(v1::InvoiceState s) { return v1::InvoiceState_Name(s); }

// ---- The model ----

struct MLine {
  std::string name;
  uint64_t quantity = 0, unit_price = 0, amount = 0;
  bool operator==(const MLine& o) const {
    return name == o.name && quantity == o.quantity && unit_price == o.unit_price && amount == o.amount;
  }
};

struct MPayment {
  v1::PaymentMethod method = v1::PAYMENT_METHOD_UNSPECIFIED;
  uint64_t amount = 0, broker_share = 0;
};

struct MInvoice {
  std::string id;
  size_t contract = 0;
  uint64_t period_start = 0, period_end = 0, due = 0;
  bool escrow_sourced = false;
  std::vector<MLine> metered;  // as issued
  v1::InvoiceState state = v1::INVOICE_STATE_ISSUED;
  uint64_t amount_due = 0, paid = 0, disputed = 0, locked = 0, owed = 0;
  uint64_t collected_before = 0;  // a reissue: what the voided invoices of its period collected
  uint64_t settled_at = 0;        // when it became paid or voided
  std::vector<MPayment> payments;
  bool reissued = false;
  bool resolved = false;  // a dispute of it was resolved: final, it is not disputed again nor reissued
  bool accepted = false;  // the renter accepted it: it can no longer be disputed

  bool final() const { return state == v1::INVOICE_STATE_PAID || state == v1::INVOICE_STATE_VOIDED; }
};

// The terms and what happened (model_support.h's ContractCore), and what invoicing adds.
struct MContract : ContractCore {
  bool has_arbiter = false;
  bool noticed = false;  // the provider gave notice (the state was NOTICE until the close)
  uint64_t owed = 0, locked = 0, invoiced_until = 0;
  std::map<std::string, uint64_t> invoiced_usage;
  std::vector<size_t> open;  // its invoices not yet paid or voided, in issue order (Model::invoices)
};

// The reputation facts of the renter (alice) and the provider (dave) these runs can change.
struct MReputation {
  uint64_t renter_completed = 0, provider_completed = 0, provider_terminated_early = 0;
  uint64_t renter_closed_early = 0, renter_insufficient_funds = 0, provider_insufficient_funds = 0;
  uint64_t renter_invoices_disputed = 0, provider_invoices_disputed = 0;
  uint64_t renter_invoices_paid_late = 0, provider_invoices_paid_late = 0, provider_invoices_voided = 0;
};

// The balances, nonces and block time (model_support.h's Books), and the invoicing records.
struct Model : Books {
  MReputation reputation;
  std::vector<MContract> contracts;
  std::vector<MInvoice> invoices;
  std::set<std::string> external_recorded;  // external txids recorded on the ledger
};

uint64_t FreeOf(const MContract& c) {
  uint64_t escrow = EscrowOf(c), reserved = c.owed + c.locked;
  return escrow > reserved ? escrow - reserved : 0;
}

uint64_t Sat(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// When the contract stops accruing: its end, or the termination after notice if earlier; 0 = never.
uint64_t AccrualEnd(const MContract& c) {
  if (c.noticed && (c.end == 0 || c.termination < c.end)) return c.termination;
  return c.end;
}

// Time charge accrued from the start until t.
uint64_t AccruedAt(const MContract& c, uint64_t t) {
  const uint64_t stop = AccrualEnd(c);
  uint64_t until = stop != 0 ? std::min(t, stop) : t;
  if (until <= c.start) return 0;
  return static_cast<uint64_t>(U128(c.units) * c.price * (until - c.start) / kMsPerHour);  // far below 2^64 here
}

// Escrow no longer guarantees the time accrued since the last invoiced period.
bool DryAt(const MContract& c, uint64_t t) { return Sat(AccruedAt(c, t), c.charged) > FreeOf(c); }

// The metered usage reported but not invoiced yet, one line a name whose usage grew, by name.
std::vector<MLine> UninvoicedLines(const MContract& c) {
  std::vector<MLine> lines;
  for (const auto& [name, quantity] : c.usage) {
    uint64_t before = c.invoiced_usage.count(name) ? c.invoiced_usage.at(name) : 0;
    if (quantity <= before) continue;
    uint64_t price = c.metered.at(name);
    lines.push_back({name, quantity - before, price, (quantity - before) * price});
  }
  return lines;
}

uint64_t SumOf(const std::vector<MLine>& lines) {
  uint64_t sum = 0;
  for (const auto& l : lines) sum += l.amount;
  return sum;
}

// Pays up to `amount` of free escrow to the parties; returns what was paid.
uint64_t PayFromFree(Model& m, MContract& c, uint64_t amount) {
  uint64_t pay = std::min(amount, FreeOf(c));
  TakeFromEscrow(c, pay);
  PayParties(m, c, pay);
  return pay;
}

// Gives the free escrow back to its depositors, latest deposit first.
void RefundFree(Model& m, MContract& c) {
  uint64_t left = FreeOf(c);
  for (size_t k = c.escrow.size(); k-- > 0 && left > 0;) {
    uint64_t take = std::min(left, c.escrow[k].amount);
    m.usdc[c.escrow[k].who] += take;
    c.escrow[k].amount -= take;
    c.refunded += take;
    left -= take;
  }
  c.escrow.erase(std::remove_if(c.escrow.begin(), c.escrow.end(), [](const MDeposit& d) { return d.amount == 0; }),
                 c.escrow.end());
}

// Closing: the time and the metered usage not invoiced yet are paid from free escrow as far as it
// goes (if not all, the reason becomes insufficient funds), the rest of the free escrow refunded.
void CloseAt(Model& m, MContract& c, uint64_t at, v1::CloseReason reason) {
  uint64_t due = Sat(AccruedAt(c, at), c.charged);
  uint64_t paid = PayFromFree(m, c, due);
  bool dry = paid < due;
  c.charged += paid;
  uint64_t metered = SumOf(UninvoicedLines(c));
  paid = PayFromFree(m, c, metered);
  dry = dry || paid < metered;
  c.metered_charged += paid;
  c.invoiced_until = std::max(c.invoiced_until, AccrualEnd(c) != 0 ? std::min(AccrualEnd(c), at) : at);
  c.invoiced_usage = c.usage;
  RefundFree(m, c);
  c.state = v1::CONTRACT_STATE_CLOSED;
  c.reason = dry ? v1::CLOSE_REASON_INSUFFICIENT_FUNDS : reason;
  c.closed_at = at;
  const bool early = c.end == 0 || at < c.end;
  if (c.reason == v1::CLOSE_REASON_ENDED) {
    m.reputation.provider_completed += 1;
    m.reputation.renter_completed += 1;
  }
  if (c.reason == v1::CLOSE_REASON_PROVIDER_TERMINATED && early) m.reputation.provider_terminated_early += 1;
  if (c.reason == v1::CLOSE_REASON_RENTER_CLOSED && early) m.reputation.renter_closed_early += 1;
  if (c.reason == v1::CLOSE_REASON_INSUFFICIENT_FUNDS) {
    m.reputation.renter_insufficient_funds += 1;
    m.reputation.provider_insufficient_funds += 1;
  }
}

// The moment the notice or the term ran out, if by `now` (the notice wins if it is earlier).
std::optional<std::pair<uint64_t, v1::CloseReason>> RanOut(const MContract& c, uint64_t now) {
  if (c.noticed && c.termination <= now && (c.end == 0 || c.termination < c.end))
    return std::make_pair(c.termination, v1::CLOSE_REASON_PROVIDER_TERMINATED);
  if (c.end != 0 && c.end <= now) return std::make_pair(c.end, v1::CLOSE_REASON_ENDED);
  return std::nullopt;
}

void CloseIfDry(Model& m, MContract& c) {
  if (!c.closed() && DryAt(c, m.now)) CloseAt(m, c, m.now, v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
}

// After an invoice changed: a paid or voided invoice leaves the open list; a closed contract
// refunds the escrow no longer reserved.
void Settled(Model& m, MContract& c, size_t invoice) {
  if (m.invoices[invoice].final()) c.open.erase(std::remove(c.open.begin(), c.open.end(), invoice), c.open.end());
  if (c.closed()) RefundFree(m, c);
}

// After a payment: paid in full -> paid (voided if nothing was due) at `at`, else partly paid if
// anything was paid; a disputed invoice keeps its state until resolved. A transfer or external
// payment completing an invoice after its due time counts as late for both parties.
void AfterPayment(Model& m, MInvoice& inv, uint64_t at, bool may_be_late) {
  if (inv.state == v1::INVOICE_STATE_DISPUTED) return;
  if (inv.paid >= inv.amount_due) {
    inv.state = inv.amount_due == 0 ? v1::INVOICE_STATE_VOIDED : v1::INVOICE_STATE_PAID;
    inv.settled_at = at;
    if (may_be_late && inv.amount_due != 0 && at > inv.due) {
      m.reputation.renter_invoices_paid_late += 1;
      m.reputation.provider_invoices_paid_late += 1;
    }
  } else if (inv.paid > 0) {
    inv.state = v1::INVOICE_STATE_PARTIALLY_PAID;
  }
}

void ReleaseOwed(MContract& c, MInvoice& inv, uint64_t amount) {
  uint64_t release = std::min(amount, inv.owed);
  inv.owed -= release;
  c.owed -= release;
}

// Pays `amount` of an invoice out of the escrow it reserved (owed) or locked.
void PayReserved(Model& m, MContract& c, MInvoice& inv, uint64_t amount, bool from_locked) {
  if (from_locked) {
    inv.locked -= amount;
    c.locked -= amount;
  } else {
    ReleaseOwed(c, inv, amount);
  }
  TakeFromEscrow(c, amount);
  inv.payments.push_back({v1::PAYMENT_METHOD_ESCROW, amount, PayParties(m, c, amount)});
  inv.paid += amount;
}

uint64_t Payable(const MInvoice& inv) { return inv.amount_due - inv.paid - inv.disputed; }

// ---- Model of each tx: the expected result code, and its effects when it is accepted. ----

struct IssueFields {
  uint64_t period_start = 0, period_end = 0, time_charge = 0, credit = 0, broker_fee = 0, total = 0, due = 0;
  std::vector<MLine> metered;
  bool escrow_sourced = false;
  std::optional<size_t> replaces;  // a model invoice
};

Code ModelIssue(Model& m, size_t ci, const std::string& signer, const IssueFields& f, const std::string& txid) {
  MContract& c = m.contracts[ci];
  if (f.period_end <= f.period_start) return Code::kBadField;
  if (signer != "dave") return Code::kNotAuthorized;
  if (c.closed()) return Code::kWrongState;
  if (c.open.size() >= kOpenInvoicesMax) return Code::kTooLarge;
  if (f.due <= m.now) return Code::kBadField;
  if (f.period_end > m.now) return Code::kTooEarly;
  if (AccrualEnd(c) != 0 && f.period_end > AccrualEnd(c)) return Code::kBadField;
  std::vector<MLine> lines;
  if (f.replaces) {
    const MInvoice& old = m.invoices[*f.replaces];
    if (old.contract != ci) return Code::kNotFound;
    if (old.state != v1::INVOICE_STATE_VOIDED) return Code::kWrongState;
    if (old.resolved) return Code::kWrongState;
    if (old.reissued) return Code::kDuplicate;
    if (f.period_start != old.period_start || f.period_end != old.period_end) return Code::kMismatch;
    lines = old.metered;
  } else {
    if (f.period_start != c.invoiced_until) return Code::kMismatch;
    lines = UninvoicedLines(c);
  }
  if (f.time_charge != AccruedAt(c, f.period_end) - AccruedAt(c, f.period_start)) return Code::kMismatch;
  if (f.metered != lines) return Code::kMismatch;
  uint64_t subtotal = f.time_charge + SumOf(lines);
  if (f.credit > subtotal) return Code::kBadAmount;
  uint64_t total = subtotal - f.credit;
  // A reissue does not bill again what the voided invoices of its period collected.
  const uint64_t collected = f.replaces ? m.invoices[*f.replaces].paid + m.invoices[*f.replaces].collected_before : 0;
  if (collected > total) return Code::kBadAmount;
  total -= collected;
  if (f.total != total) return Code::kMismatch;
  if (total == 0) return Code::kBadAmount;
  uint64_t broker_fee = c.has_broker ? static_cast<uint64_t>(U128(total) * c.bps / 10'000) : 0;
  if (f.broker_fee != broker_fee) return Code::kMismatch;
  const uint64_t charged = f.replaces ? c.charged : AccruedAt(c, f.period_end);
  if (!f.replaces && U128(charged) + c.metered_charged + SumOf(lines) > UINT64_MAX) return Code::kOverflow;
  if (f.escrow_sourced && total > Sat(FreeOf(c), Sat(AccruedAt(c, m.now), charged))) return Code::kInsufficientEscrow;

  if (f.replaces) {
    m.invoices[*f.replaces].reissued = true;
  } else {
    c.charged = charged;
    c.metered_charged += SumOf(lines);
    c.invoiced_until = f.period_end;
    c.invoiced_usage = c.usage;
  }
  MInvoice inv;
  inv.id = txid;
  inv.contract = ci;
  inv.period_start = f.period_start;
  inv.period_end = f.period_end;
  inv.due = f.due;
  inv.escrow_sourced = f.escrow_sourced;
  inv.metered = lines;
  inv.amount_due = total;
  inv.collected_before = collected;
  if (f.escrow_sourced) {
    inv.owed = total;
    c.owed += total;
  }
  m.invoices.push_back(inv);
  c.open.push_back(m.invoices.size() - 1);
  return Code::kOk;
}

Code ModelAccept(Model& m, size_t i, const std::string& signer) {
  MInvoice& inv = m.invoices[i];
  MContract& c = m.contracts[inv.contract];
  if (signer != "alice") return Code::kNotAuthorized;
  if (inv.state != v1::INVOICE_STATE_ISSUED) return Code::kWrongState;
  inv.state = v1::INVOICE_STATE_ACCEPTED;
  inv.accepted = true;
  if (inv.owed > 0) PayReserved(m, c, inv, inv.owed, false);  // escrow-sourced: paid at once
  AfterPayment(m, inv, m.now, false);
  Settled(m, c, i);
  return Code::kOk;
}

Code ModelDispute(Model& m, size_t i, const std::string& signer, uint64_t accepted) {
  MInvoice& inv = m.invoices[i];
  MContract& c = m.contracts[inv.contract];
  if (signer != "alice") return Code::kNotAuthorized;
  if (inv.state != v1::INVOICE_STATE_ISSUED && inv.state != v1::INVOICE_STATE_PARTIALLY_PAID) return Code::kWrongState;
  if (inv.accepted || inv.resolved) return Code::kWrongState;
  if (m.now >= inv.due) return Code::kTooLate;
  uint64_t unpaid = inv.amount_due - inv.paid;
  if (accepted >= unpaid) return Code::kBadAmount;
  uint64_t disputed = unpaid - accepted;
  if (inv.owed > 0) {
    // Escrow-sourced: the accepted part is paid, the disputed part moves from owed to locked.
    if (accepted > 0) PayReserved(m, c, inv, accepted, false);
    uint64_t lock = std::min(disputed, inv.owed);
    ReleaseOwed(c, inv, lock);
    inv.locked = lock;
  } else {
    // Direct: what free escrow spares beyond the time accrued since the last invoiced period.
    inv.locked = std::min(disputed, Sat(FreeOf(c), Sat(AccruedAt(c, m.now), c.charged)));
  }
  c.locked += inv.locked;
  inv.disputed = disputed;
  inv.state = v1::INVOICE_STATE_DISPUTED;
  m.reputation.renter_invoices_disputed += 1;
  m.reputation.provider_invoices_disputed += 1;
  Settled(m, c, i);
  return Code::kOk;
}

Code ModelResolve(Model& m, size_t i, const std::vector<std::string>& signers, uint64_t provider_amount) {
  MInvoice& inv = m.invoices[i];
  MContract& c = m.contracts[inv.contract];
  auto has = [&](const std::string& who) { return std::count(signers.begin(), signers.end(), who) > 0; };
  const bool renter = has("alice"), provider = has("dave"), arbiter = c.has_arbiter && has("carol");
  if (!renter && !provider && !arbiter) return c.has_arbiter ? Code::kNotAuthorized : Code::kWrongState;
  if (signers.size() == 2 && !(renter && provider)) return Code::kNotAuthorized;
  if (inv.state != v1::INVOICE_STATE_DISPUTED) return Code::kWrongState;
  if (provider_amount > inv.disputed) return Code::kBadAmount;
  if (signers.size() == 1 && !arbiter) {
    if (provider && provider_amount != 0) return Code::kMissingSignature;  // alone, only a concession
    if (renter && provider_amount != inv.disputed) return Code::kMissingSignature;  // alone, only withdrawing
  }
  uint64_t from_lock = std::min(provider_amount, inv.locked);
  if (from_lock > 0) PayReserved(m, c, inv, from_lock, true);
  c.locked -= inv.locked;
  inv.locked = 0;
  inv.amount_due = inv.amount_due - inv.disputed + provider_amount;
  inv.disputed = 0;
  inv.resolved = true;
  inv.state = inv.paid > 0 ? v1::INVOICE_STATE_PARTIALLY_PAID : v1::INVOICE_STATE_ACCEPTED;
  AfterPayment(m, inv, m.now, false);
  Settled(m, c, i);
  return Code::kOk;
}

Code ModelPay(Model& m, size_t i, const std::string& payer, uint64_t amount) {
  MInvoice& inv = m.invoices[i];
  MContract& c = m.contracts[inv.contract];
  if (amount == 0) return Code::kBadAmount;
  if (inv.final()) return Code::kWrongState;
  if (amount > Payable(inv)) return Code::kBadAmount;
  if (m.usdc[payer] < amount) return Code::kInsufficientFunds;
  m.usdc[payer] -= amount;
  inv.payments.push_back({v1::PAYMENT_METHOD_TRANSFER, amount, PayParties(m, c, amount)});
  ReleaseOwed(c, inv, amount);
  inv.paid += amount;
  AfterPayment(m, inv, m.now, true);
  Settled(m, c, i);
  return Code::kOk;
}

Code ModelExternal(Model& m, size_t i, const std::string& signer, const std::string& external_txid, uint64_t amount) {
  MInvoice& inv = m.invoices[i];
  MContract& c = m.contracts[inv.contract];
  if (amount == 0) return Code::kBadAmount;
  if (signer != "dave") return Code::kNotAuthorized;  // the payee confirms
  if (inv.final()) return Code::kWrongState;
  if (m.external_recorded.count(external_txid)) return Code::kDuplicate;
  if (amount > Payable(inv)) return Code::kBadAmount;
  // The provider got it all off the ledger; the broker's part moves from the provider's balance.
  uint64_t broker = BrokerPart(c, amount);
  if (m.usdc["dave"] < broker) return Code::kInsufficientFunds;
  m.usdc["dave"] -= broker;
  m.usdc["bob"] += broker;
  c.paid_broker += broker;
  c.paid_provider += amount - broker;
  ReleaseOwed(c, inv, amount);
  inv.payments.push_back({v1::PAYMENT_METHOD_EXTERNAL, amount, broker});
  inv.paid += amount;
  m.external_recorded.insert(external_txid);
  AfterPayment(m, inv, m.now, true);
  Settled(m, c, i);
  return Code::kOk;
}

Code ModelVoid(Model& m, size_t i, const std::string& signer) {
  MInvoice& inv = m.invoices[i];
  MContract& c = m.contracts[inv.contract];
  if (signer != "dave") return Code::kNotAuthorized;
  if (inv.final()) return Code::kWrongState;
  ReleaseOwed(c, inv, inv.owed);
  c.locked -= inv.locked;
  inv.locked = 0;
  inv.disputed = 0;
  inv.amount_due = inv.paid;
  inv.state = v1::INVOICE_STATE_VOIDED;
  inv.settled_at = m.now;
  m.reputation.provider_invoices_voided += 1;
  Settled(m, c, i);
  return Code::kOk;
}

Code ModelTopup(Model& m, MContract& c, const std::string& who, uint64_t amount) {
  if (c.closed()) return Code::kWrongState;
  if (m.usdc[who] < amount) return Code::kInsufficientFunds;
  if (Code code = Deposit(m, c, who, amount); code != Code::kOk) return code;
  CloseIfDry(m, c);
  return Code::kOk;
}

Code ModelUsage(Model& m, MContract& c, const std::map<std::string, uint64_t>& cumulative, const std::string& previous,
                const std::string& txid) {
  if (c.closed()) return Code::kWrongState;
  if (previous != c.last_report) return Code::kMismatch;
  for (const auto& [name, quantity] : cumulative) c.usage[name] = quantity;
  c.last_report = txid;
  CloseIfDry(m, c);  // billed by the next invoice, or at the close
  return Code::kOk;
}

// The renter closes now; after its notice or term ran out, at that moment, for that reason.
Code ModelClose(Model& m, MContract& c, const std::string& who) { return RenterClose(m, c, who, RanOut, CloseAt); }

// The provider's notice: accrual stops notice_period after the block's time (a contract whose
// escrow ran dry closes instead).
Code ModelNotice(Model& m, MContract& c) {
  if (c.closed()) return Code::kWrongState;
  if (c.noticed) return Code::kWrongState;
  if (DryAt(c, m.now)) {
    CloseAt(m, c, m.now, v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
    return Code::kOk;
  }
  c.noticed = true;
  c.state = v1::CONTRACT_STATE_NOTICE;
  c.termination = m.now + c.notice_period;
  return Code::kOk;
}

// End of block: escrow-sourced invoices still issued or partly paid whose due time came are paid
// from the escrow they reserved; then a contract whose notice or term ran out closes at that
// moment, one whose escrow ran dry at the block's time.
void ModelEndBlock(Model& m) {
  for (auto& c : m.contracts) {
    std::vector<size_t> open = c.open;
    for (size_t i : open) {
      MInvoice& inv = m.invoices[i];
      bool awaits = inv.state == v1::INVOICE_STATE_ISSUED || inv.state == v1::INVOICE_STATE_PARTIALLY_PAID;
      if (!awaits || inv.owed == 0 || inv.due > m.now) continue;
      PayReserved(m, c, inv, inv.owed, false);
      AfterPayment(m, inv, inv.due, false);  // on time
      Settled(m, c, i);
    }
    if (c.closed()) continue;
    if (auto out = RanOut(c, m.now)) CloseAt(m, c, out->first, out->second);
    else CloseIfDry(m, c);
  }
}

// The earliest due time of an escrow-sourced invoice still waiting for it; 0 = none.
uint64_t NextDue(const Model& m, const MContract& c) {
  uint64_t next = 0;
  for (size_t i : c.open) {
    const MInvoice& inv = m.invoices[i];
    bool awaits = inv.state == v1::INVOICE_STATE_ISSUED || inv.state == v1::INVOICE_STATE_PARTIALLY_PAID;
    if (awaits && inv.owed > 0 && (next == 0 || inv.due < next)) next = inv.due;
  }
  return next;
}

// ---- Comparing the ledger with the model ----

// Every difference between ledger and model, one a line ("" = none).
std::string Differences(TestEnv& env, const Model& m, uint64_t t0) {
  Diff diff;
  const State& state = env.chain().state();
  diff.Expect("block time (ms since genesis)", env.now_ms() - t0, m.now - t0);
  auto invoice_name = [&](const std::string& id) {
    for (size_t k = 0; k < m.invoices.size(); ++k)
      if (m.invoices[k].id == id) return std::to_string(k);
    return "?" + HexEncode(id);
  };
  I128 escrow_sum = 0;
  for (size_t i = 0; i < m.contracts.size(); ++i) {
    const MContract& mc = m.contracts[i];
    const std::string n = "contract " + std::to_string(i) + " ";
    auto c = CompareContract(diff, state, n, mc, t0);
    if (!c) continue;
    diff.Expect(n + "owed", c->owed(), mc.owed);
    diff.Expect(n + "locked", c->locked(), mc.locked);
    diff.Expect(n + "invoiced_until (ms since genesis)", c->invoiced_until_ms() - t0, mc.invoiced_until - t0);
    diff.Expect(n + "next_due (ms since genesis)", c->next_due_ms() == 0 ? 0 : c->next_due_ms() - t0,
                NextDue(m, mc) == 0 ? 0 : NextDue(m, mc) - t0);
    escrow_sum += CompareEscrow(diff, env, n, *c, mc);
    std::ostringstream ledger_open, model_open;
    for (const auto& id : c->open_invoices()) ledger_open << invoice_name(id) << " ";
    for (size_t k : mc.open) model_open << k << " ";
    diff.Expect(n + "open invoices", ledger_open.str(), model_open.str());
    std::ostringstream ledger_usage, model_usage;
    for (const auto& u : c->invoiced_usage()) ledger_usage << u.name() << "=" << u.quantity() << " ";
    for (const auto& [name, q] : mc.invoiced_usage) model_usage << name << "=" << q << " ";
    diff.Expect(n + "invoiced usage", ledger_usage.str(), model_usage.str());
  }
  for (size_t k = 0; k < m.invoices.size(); ++k) {
    const MInvoice& mi = m.invoices[k];
    const std::string n = "invoice " + std::to_string(k) + " (contract " + std::to_string(mi.contract) + ") ";
    auto inv = contracts::Load<v1::Invoice>(state, Kind::kInvoice, mi.id);
    if (!inv) {
      diff.out << "  " << n << "is missing\n";
      continue;
    }
    diff.Expect(n + "state", InvoiceStateName(inv->state()), InvoiceStateName(mi.state));
    diff.Expect(n + "amount_due", inv->amount_due(), mi.amount_due);
    diff.Expect(n + "paid", inv->paid(), mi.paid);
    diff.Expect(n + "disputed", inv->disputed(), mi.disputed);
    diff.Expect(n + "locked", inv->locked(), mi.locked);
    diff.Expect(n + "owed", inv->owed(), mi.owed);
    diff.Expect(n + "collected_before", inv->collected_before(), mi.collected_before);
    diff.Expect(n + "resolved", inv->resolved(), mi.resolved);
    if (mi.final()) diff.Expect(n + "settled_at (ms since genesis)", inv->settled_at_ms() - t0, mi.settled_at - t0);
    std::ostringstream ledger_payments, model_payments;
    for (const auto& p : inv->payments())
      ledger_payments << v1::PaymentMethod_Name(p.method()) << ":" << p.amount() << "/" << p.broker_share() << " ";
    for (const auto& p : mi.payments) model_payments << v1::PaymentMethod_Name(p.method) << ":" << p.amount << "/" << p.broker_share << " ";
    diff.Expect(n + "payments (method:amount/broker share)", ledger_payments.str(), model_payments.str());
  }
  // Reputation facts of the renter and the provider.
  {
    const v1::Reputation alice = contracts::Load<v1::Reputation>(state, Kind::kReputation, env.Pub("alice").bytes()).value_or(v1::Reputation());
    const v1::Reputation dave = contracts::Load<v1::Reputation>(state, Kind::kReputation, env.Pub("dave").bytes()).value_or(v1::Reputation());
    const MReputation& r = m.reputation;
    diff.Expect("alice renter_completed", alice.renter_completed(), r.renter_completed);
    diff.Expect("dave provider_completed", dave.provider_completed(), r.provider_completed);
    diff.Expect("dave provider_terminated_early", dave.provider_terminated_early(), r.provider_terminated_early);
    diff.Expect("alice renter_closed_early", alice.renter_closed_early(), r.renter_closed_early);
    diff.Expect("alice renter_insufficient_funds", alice.renter_insufficient_funds(), r.renter_insufficient_funds);
    diff.Expect("alice renter_invoices_disputed", alice.renter_invoices_disputed(), r.renter_invoices_disputed);
    diff.Expect("alice renter_invoices_paid_late", alice.renter_invoices_paid_late(), r.renter_invoices_paid_late);
    diff.Expect("dave provider_insufficient_funds", dave.provider_insufficient_funds(), r.provider_insufficient_funds);
    diff.Expect("dave provider_invoices_disputed", dave.provider_invoices_disputed(), r.provider_invoices_disputed);
    diff.Expect("dave provider_invoices_paid_late", dave.provider_invoices_paid_late(), r.provider_invoices_paid_late);
    diff.Expect("dave provider_invoices_voided", dave.provider_invoices_voided(), r.provider_invoices_voided);
  }
  // Balances, and the supply identity of each asset over all keys (escrow counts for USDC, closed
  // contracts' included: they keep what their invoices reserve).
  CompareBalances(diff, env, m, escrow_sum, "escrow", true);
  return diff.out.str();
}

// ---- Txs ----

// The proposal (model_support.h) of an invoiced contract, with carol as arbiter if it has one.
std::string ProposeTx(TestEnv& env, const MContract& c, uint64_t deposit, uint64_t duration, uint64_t nonce) {
  return test::model::ProposeTx(env, c, deposit, duration, nonce, [&](v1::ContractTerms& t) {
    if (c.has_arbiter) t.set_arbiter(env.Pub("carol").bytes());
    t.set_invoiced(true);
  });
}

// ---- The plan of a run ----
//
// Generated whole, up front, as plain values: rapidcheck replays the values of `*gen` by position
// while shrinking, so picks whose number depends on the run would be handed values meant for
// another generator. Every pick is a fixed part of the plan, read against the model as it runs:
// `choice` and `choice2` (0..99) pick a variant of the op, low values the plain one, so shrinking
// goes toward plain ops; `permille` is a fraction of whatever amount the op is about.

enum class Op { kAdvance, kIssue, kAccept, kDispute, kResolve, kPay, kExternal, kVoid, kTopup, kUsage, kNotice, kClose };

struct ContractPlan {
  uint64_t units = 1, price = 1, deposit = 1;
  uint64_t duration = 0;  // 0 = open-ended
  uint64_t notice_period = 0;
  bool has_broker = false;
  uint32_t bps = 0;
  bool has_arbiter = false;
  int metered = 0;  // bit 0: cpu_s, bit 1: egress_gb
  uint64_t cpu_price = 1, egress_price = 1;
};

struct StepPlan {
  Op op = Op::kAdvance;  // kAdvance closes the block being built
  size_t contract = 0;   // modulo the number of contracts
  size_t invoice = 0;    // modulo the invoices to choose from
  bool any_invoice = false;  // choose among all invoices, not only the open ones
  int choice = 0, choice2 = 0;
  uint32_t permille = 0;
  uint64_t amount = 1;      // top-ups, arbitrary payments
  uint64_t advance_ms = 0;  // kAdvance: the next block's time is this much later
  uint64_t due_ms = 1;      // kIssue: due this much after the block's time
  bool escrow_sourced = false;
  uint64_t cpu_more = 0, egress_more = 0;
};

struct RunPlan {
  uint64_t first_advance_ms = 0;
  std::vector<ContractPlan> contracts;
  std::vector<StepPlan> steps;
};

const char* OpName(Op op) {
  static const char* names[] = {"advance", "issue", "accept", "dispute", "resolve", "pay",
                                "external", "void", "topup", "usage", "notice", "close"};
  return names[static_cast<int>(op)];
}

void showValue(const ContractPlan& c, std::ostream& os) {
  os << "{units " << c.units << ", price " << c.price << ", deposit " << c.deposit << ", "
     << "duration " << c.duration << ", notice " << c.notice_period << ", broker "
     << (c.has_broker ? std::to_string(c.bps) + " bps" : "none") << ", arbiter " << (c.has_arbiter ? "carol" : "none")
     << ", metered " << c.metered << " (" << c.cpu_price << ", " << c.egress_price << ")}";
}
void showValue(const StepPlan& s, std::ostream& os) {
  os << "{" << OpName(s.op) << ", contract " << s.contract << ", invoice " << s.invoice << (s.any_invoice ? " (any)" : "")
     << ", choice " << s.choice << "/" << s.choice2 << ", permille " << s.permille << ", amount " << s.amount
     << ", advance " << s.advance_ms << ", due +" << s.due_ms << ", " << (s.escrow_sourced ? "escrow" : "direct")
     << ", usage +" << s.cpu_more << " +" << s.egress_more << "}";
}
void showValue(const RunPlan& p, std::ostream& os) { ShowRunPlan(p, os); }

// The picks of a contract and of a step use their whole ranges at every size (only the number
// of steps grows with rapidcheck's size).
rc::Gen<ContractPlan> GenContractPlan() {
  using rc::gen::set;
  return rc::gen::resize(100, rc::gen::build<ContractPlan>(
      set(&ContractPlan::units, rc::gen::inRange<uint64_t>(1, 5)),
      set(&ContractPlan::price, rc::gen::oneOf(rc::gen::element<uint64_t>(3'600'000, 1'800'000, 360'000, 7'200'000, 3'599'999),
                                               rc::gen::inRange<uint64_t>(1, 10'000'001))),
      set(&ContractPlan::deposit, rc::gen::weightedOneOf<uint64_t>({{1, rc::gen::inRange<uint64_t>(1, 20'001)},
                                                                    {3, rc::gen::inRange<uint64_t>(20'001, 1'000'001)},
                                                                    {1, rc::gen::element<uint64_t>(1, 100'000, 1'000'000)}})),
      set(&ContractPlan::duration, rc::gen::oneOf(rc::gen::just<uint64_t>(0), rc::gen::just<uint64_t>(100 * kMsPerHour),
                                                  rc::gen::inRange<uint64_t>(5'000, 120'001))),
      set(&ContractPlan::notice_period, Amount(0, 40'001, {0, 1, 1'000, 5'000})),
      set(&ContractPlan::has_broker, rc::gen::arbitrary<bool>()),
      set(&ContractPlan::bps, rc::gen::oneOf(rc::gen::inRange<uint32_t>(0, 10'001), rc::gen::element<uint32_t>(0, 1, 2'500, 10'000))),
      set(&ContractPlan::has_arbiter, rc::gen::arbitrary<bool>()),
      set(&ContractPlan::metered, rc::gen::element(0, 1, 2, 3)),
      set(&ContractPlan::cpu_price, rc::gen::inRange<uint64_t>(1, 101)),
      set(&ContractPlan::egress_price, rc::gen::inRange<uint64_t>(1, 101))));
}

// close_weight, notice_weight: how eager the renter is to close, the provider to give notice, in
// this run (0: never).
rc::Gen<StepPlan> GenStepPlan(size_t close_weight, size_t notice_weight) {
  using rc::gen::set;
  return rc::gen::resize(100, rc::gen::build<StepPlan>(
      set(&StepPlan::op, rc::gen::weightedElement<Op>({{6, Op::kAdvance},
                                                       {6, Op::kIssue},
                                                       {2, Op::kAccept},
                                                       {3, Op::kDispute},
                                                       {3, Op::kResolve},
                                                       {3, Op::kPay},
                                                       {2, Op::kExternal},
                                                       {1, Op::kVoid},
                                                       {2, Op::kTopup},
                                                       {2, Op::kUsage},
                                                       {notice_weight, Op::kNotice},
                                                       {close_weight, Op::kClose}})),
      set(&StepPlan::contract, rc::gen::inRange<size_t>(0, 2)),
      set(&StepPlan::invoice, rc::gen::inRange<size_t>(0, 64)),
      set(&StepPlan::any_invoice, rc::gen::map(rc::gen::inRange(0, 4), [](int x) { return x == 0; })),
      set(&StepPlan::choice, rc::gen::inRange(0, 100)),
      set(&StepPlan::choice2, rc::gen::inRange(0, 100)),
      set(&StepPlan::permille, rc::gen::oneOf(rc::gen::inRange<uint32_t>(0, 1'001), rc::gen::element<uint32_t>(0, 500, 999, 1'000))),
      set(&StepPlan::amount, rc::gen::oneOf(rc::gen::inRange<uint64_t>(1, 10'001), rc::gen::inRange<uint64_t>(1, 200'001),
                                            rc::gen::element<uint64_t>(1, 1'000, 100'000))),
      set(&StepPlan::advance_ms, Amount(0, 5'001, {0, 1, 1'000, 2'500, 5'000})),
      set(&StepPlan::due_ms, Amount(1, 12'001, {1, 1'000, 2'000, 5'000})),
      set(&StepPlan::escrow_sourced, rc::gen::arbitrary<bool>()),
      set(&StepPlan::cpu_more, rc::gen::inRange<uint64_t>(0, 201)),
      set(&StepPlan::egress_more, rc::gen::inRange<uint64_t>(0, 201))));
}

rc::Gen<RunPlan> GenRunPlan() {
  using rc::gen::set;
  return rc::gen::build<RunPlan>(
      set(&RunPlan::first_advance_ms, rc::gen::resize(100, Amount(1, 5'001, {1, 1'000}))),
      set(&RunPlan::contracts, rc::gen::mapcat(rc::gen::inRange(1, 3), [](int n) {
            return rc::gen::container<std::vector<ContractPlan>>(static_cast<size_t>(n), GenContractPlan());
          })),
      set(&RunPlan::steps,
          rc::gen::mapcat(rc::gen::resize(100, rc::gen::tuple(rc::gen::inRange(10, 121), rc::gen::element<size_t>(0, 0, 1),
                                                              rc::gen::element<size_t>(0, 0, 1))),
                          [](const std::tuple<int, size_t, size_t>& t) {
                            return rc::gen::container<std::vector<StepPlan>>(
                                static_cast<size_t>(std::get<0>(t)), GenStepPlan(std::get<1>(t), std::get<2>(t)));
                          })));
}

uint64_t Part(uint64_t whole, uint32_t permille) { return static_cast<uint64_t>(U128(whole) * permille / 1'000); }

// One run: the plan against the ledger and the model; RC_FAIL at the first difference.
void RunAgainstModel(const RunPlan& plan) {
  TestEnv env;
  const uint64_t t0 = env.now_ms();
  Model m;
  m.now = t0;
  Fund(m);
  // Queues txs the model has applied at once (it knows the block's time) with their predicted
  // codes; closes blocks and checks each tx's code, then Differences.
  Blocks<Model> blocks(env, m, t0, ModelEndBlock, Differences);
  std::vector<std::string> external_sent;  // every external txid named so far

  // Block 1: the contracts, starting at the block's time; the steps start in block 2.
  blocks.Begin(1'000);
  for (size_t i = 0; i < plan.contracts.size(); ++i) {
    const ContractPlan& p = plan.contracts[i];
    MContract c;
    c.units = p.units;
    c.price = p.price;
    c.has_broker = p.has_broker;
    c.bps = p.has_broker ? p.bps : 0;
    c.has_arbiter = p.has_arbiter;
    c.notice_period = p.notice_period;
    if (p.metered & 1) c.metered["cpu_s"] = p.cpu_price;
    if (p.metered & 2) c.metered["egress_gb"] = p.egress_price;
    const uint64_t duration = p.duration;
    std::string tx = ProposeTx(env, c, p.deposit, duration, m.nonce["alice"]);
    c.id = TestEnv::Txid(tx).bytes();
    c.start = m.now;
    c.end = duration == 0 ? 0 : c.start + duration;
    c.invoiced_until = c.start;
    c.escrow.push_back({"alice", p.deposit});
    m.usdc["alice"] -= p.deposit;
    std::ostringstream what;
    what << "propose " << i << ": units " << c.units << ", price " << c.price << ", deposit " << p.deposit
         << ", duration " << duration << ", notice " << c.notice_period;
    if (c.has_broker) what << ", broker bps " << c.bps;
    if (c.has_arbiter) what << ", arbiter carol";
    for (const auto& [name, price] : c.metered) what << ", " << name << " @" << price;
    m.contracts.push_back(c);
    blocks.Submit(std::move(tx), "alice", what.str(), Code::kOk);
  }

  // The invoice a step is about: one of the invoices in a state the op expects (or, for
  // any_invoice or if there is none, one of all); none if there is no invoice yet.
  auto pick_invoice = [&](const StepPlan& step) -> std::optional<size_t> {
    std::vector<size_t> candidates;
    auto suits = [&](const MInvoice& inv) {
      switch (step.op) {
        case Op::kAccept: return inv.state == v1::INVOICE_STATE_ISSUED;
        case Op::kDispute: return inv.state == v1::INVOICE_STATE_ISSUED || inv.state == v1::INVOICE_STATE_PARTIALLY_PAID;
        case Op::kResolve: return inv.state == v1::INVOICE_STATE_DISPUTED;
        default: return !inv.final();
      }
    };
    if (!step.any_invoice)
      for (size_t k = 0; k < m.invoices.size(); ++k)
        if (suits(m.invoices[k])) candidates.push_back(k);
    if (candidates.empty())
      for (size_t k = 0; k < m.invoices.size(); ++k) candidates.push_back(k);
    if (candidates.empty()) return std::nullopt;
    return candidates[step.invoice % candidates.size()];
  };
  auto inv_name = [&](size_t k) {
    const MInvoice& inv = m.invoices[k];
    return "invoice " + std::to_string(k) + " (contract " + std::to_string(inv.contract) + ", " +
           InvoiceStateName(inv.state) + ", due +" + std::to_string(inv.due - t0) + ", amount_due " +
           std::to_string(inv.amount_due) + ", paid " + std::to_string(inv.paid) + ", disputed " +
           std::to_string(inv.disputed) + ")";
  };

  blocks.Close();
  blocks.Begin(plan.first_advance_ms);
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const StepPlan& step = plan.steps[s];
    if (step.op == Op::kAdvance) {
      blocks.Close();
      blocks.Begin(step.advance_ms);
      continue;
    }
    // The contract a step is about (an open one rather than a closed one, unless any_invoice).
    size_t ci = step.contract % m.contracts.size();
    if (m.contracts[ci].closed() && !step.any_invoice)
      for (size_t k = 0; k < m.contracts.size(); ++k)
        if (!m.contracts[k].closed()) ci = k;
    MContract& c = m.contracts[ci];
    const std::string cid = c.id;
    const std::string n = std::to_string(ci);
    switch (step.op) {
      case Op::kIssue: {
        IssueFields f;
        std::ostringstream what;
        const std::string signer = step.choice >= 55 && step.choice < 60 ? "alice" : "dave";
        what << "issue on contract " << n << " by " << signer;
        // A reissue of one of the contract's invoices (a voided one, if it has any).
        std::optional<size_t> replaces;
        if (step.choice >= 80) {
          std::vector<size_t> voided, all;
          for (size_t k = 0; k < m.invoices.size(); ++k) {
            if (m.invoices[k].contract != ci) continue;
            all.push_back(k);
            if (m.invoices[k].state == v1::INVOICE_STATE_VOIDED) voided.push_back(k);
          }
          const auto& from = voided.empty() || step.any_invoice ? all : voided;
          if (!from.empty()) replaces = from[step.invoice % from.size()];
        }
        if (replaces) {
          const MInvoice& old = m.invoices[*replaces];
          f.replaces = replaces;
          f.period_start = old.period_start;
          f.period_end = old.period_end;
          f.metered = old.metered;
          what << ", reissuing " << inv_name(*replaces);
        } else {
          f.period_start = c.invoiced_until;
          // The period ends at the block's time, or `permille` of the way back to its start; not
          // after the contract stops accruing, except now and then.
          f.period_end = m.now - (step.choice2 < 50 ? 0 : Part(Sat(m.now, f.period_start), step.permille));
          if (AccrualEnd(c) != 0 && f.period_end > AccrualEnd(c)) {
            if (step.choice2 >= 45 && step.choice2 < 50) what << ", period ending after the accrual end";
            else f.period_end = std::max(AccrualEnd(c), f.period_start);
          }
          f.metered = UninvoicedLines(c);
          if (step.choice >= 60 && step.choice < 65) {
            what << ", period starting 1 ms early";
            f.period_start -= 1;
          }
          if (step.choice >= 65 && step.choice < 70) {
            what << ", period ending in the future";
            f.period_end = m.now + 1;
          }
        }
        f.time_charge = AccruedAt(c, f.period_end) - AccruedAt(c, std::min(f.period_start, f.period_end));
        if (step.choice >= 70 && step.choice < 75) {
          what << ", time charge 1 too high";
          f.time_charge += 1;
        }
        const uint64_t subtotal = f.time_charge + SumOf(f.metered);
        if (step.choice2 >= 70 && step.choice2 < 85) f.credit = Part(subtotal, step.permille);
        if (step.choice2 >= 85 && step.choice2 < 92) f.credit = subtotal;
        if (step.choice2 >= 92) f.credit = subtotal + 1;
        // A reissue does not bill again what the voided invoices of the period collected.
        f.total = Sat(subtotal, f.credit);
        if (replaces) f.total = Sat(f.total, m.invoices[*replaces].paid + m.invoices[*replaces].collected_before);
        f.broker_fee = c.has_broker ? static_cast<uint64_t>(U128(f.total) * c.bps / 10'000) : 0;
        f.due = m.now + (step.choice >= 75 && step.choice < 80 ? 0 : step.due_ms);
        f.escrow_sourced = step.escrow_sourced;
        what << ": " << (f.escrow_sourced ? "escrow" : "direct") << ", period +" << (f.period_start - t0) << "..+"
             << (f.period_end - t0) << ", time " << f.time_charge;
        for (const auto& l : f.metered) what << ", " << l.name << " " << l.quantity << " x " << l.unit_price;
        what << ", credit " << f.credit << ", total " << f.total << ", due +" << (f.due - t0);
        std::string tx = SignedTx(env, {signer}, m.nonce[signer], [&](v1::TxBody& b) {
          auto* i = b.mutable_invoice_issue();
          i->set_contract_id(cid);
          i->set_period_start_ms(f.period_start);
          i->set_period_end_ms(f.period_end);
          i->set_time_charge(f.time_charge);
          for (const auto& l : f.metered) {
            v1::InvoiceLine* line = i->add_metered();
            line->set_name(l.name);
            line->set_quantity(l.quantity);
            line->set_unit_price(l.unit_price);
            line->set_amount(l.amount);
          }
          i->set_credit(f.credit);
          i->set_broker_fee(f.broker_fee);
          i->set_total(f.total);
          i->set_due_at_ms(f.due);
          i->set_source(f.escrow_sourced ? v1::PAYMENT_SOURCE_ESCROW : v1::PAYMENT_SOURCE_DIRECT);
          if (replaces) i->set_replaces(m.invoices[*replaces].id);
        });
        Code expected = ModelIssue(m, ci, signer, f, TestEnv::Txid(tx).bytes());
        if (expected == Code::kOk) what << " = invoice " << m.invoices.size() - 1;
        blocks.Submit(std::move(tx), signer, what.str(), expected);
        break;
      }
      case Op::kAccept: {
        auto k = pick_invoice(step);
        if (!k) break;
        const std::string signer = step.choice2 >= 95 ? "dave" : "alice";
        std::string what = "accept " + inv_name(*k) + " by " + signer;
        std::string tx = SignedTx(env, {signer}, m.nonce[signer],
                                  [&](v1::TxBody& b) { b.mutable_invoice_accept()->set_invoice_id(m.invoices[*k].id); });
        blocks.Submit(std::move(tx), signer, what, ModelAccept(m, *k, signer));
        break;
      }
      case Op::kDispute: {
        auto k = pick_invoice(step);
        if (!k) break;
        const MInvoice& inv = m.invoices[*k];
        const uint64_t unpaid = inv.amount_due - inv.paid;
        uint64_t accepted = step.choice < 60 ? Part(unpaid, step.permille) : step.choice < 75 ? Sat(unpaid, 1)
                            : step.choice < 85 ? 0 : unpaid;
        if (accepted >= unpaid && step.choice < 60) accepted = Sat(unpaid, 1);
        const std::string signer = step.choice2 >= 95 ? "dave" : "alice";
        std::string what = "dispute " + inv_name(*k) + " by " + signer + ", accepting " + std::to_string(accepted);
        std::string tx = SignedTx(env, {signer}, m.nonce[signer], [&](v1::TxBody& b) {
          auto* d = b.mutable_invoice_dispute();
          d->set_invoice_id(inv.id);
          d->set_reason(static_cast<v1::DisputeReason>(1 + step.choice2 % 5));
          d->set_accepted_amount(accepted);
        });
        blocks.Submit(std::move(tx), signer, what, ModelDispute(m, *k, signer, accepted));
        break;
      }
      case Op::kResolve: {
        auto k = pick_invoice(step);
        if (!k) break;
        const MInvoice& inv = m.invoices[*k];
        const uint64_t disputed = inv.disputed;
        std::vector<std::string> signers;
        uint64_t amount = 0;
        std::string how;
        auto set = [&](std::vector<std::string> who, uint64_t provider_amount, std::string text) {
          signers = std::move(who);
          amount = provider_amount;
          how = std::move(text);
        };
        const uint64_t part = Part(disputed, step.permille);
        if (step.choice < 20) set({"dave"}, 0, "provider concedes");
        else if (step.choice < 40) set({"alice", "dave"}, part, "settlement");
        else if (step.choice < 60) set({"carol"}, part, "arbiter");
        else if (step.choice < 80) set({"alice"}, disputed, "renter withdraws");
        else if (step.choice < 87) set({"dave"}, std::max<uint64_t>(1, part), "provider alone splits");
        else if (step.choice < 94) set({"alice"}, part, "renter alone splits");
        else set({"bob"}, 0, "broker");
        if (step.choice2 >= 90) {
          amount = disputed + 1;
          how += ", more than disputed";
        }
        std::string what = "resolve " + inv_name(*k) + ": " + how + ", provider amount " + std::to_string(amount);
        std::string tx = SignedTx(env, signers, m.nonce[signers.front()], [&](v1::TxBody& b) {
          auto* r = b.mutable_invoice_resolve();
          r->set_invoice_id(inv.id);
          r->set_provider_amount(amount);
        });
        Code expected = ModelResolve(m, *k, signers, amount);
        blocks.Submit(std::move(tx), signers.front(), what, expected);
        break;
      }
      case Op::kPay:
      case Op::kExternal: {
        auto k = pick_invoice(step);
        if (!k) break;
        const MInvoice& inv = m.invoices[*k];
        const uint64_t payable = inv.final() ? 0 : Payable(inv);
        uint64_t amount = step.choice < 50 ? std::max<uint64_t>(1, Part(payable, step.permille))
                          : step.choice < 75 ? std::max<uint64_t>(1, payable)
                          : step.choice < 90 ? payable + 1
                                             : step.amount;
        if (step.op == Op::kPay) {
          const std::string payer = step.choice2 >= 80 ? "carol" : "alice";  // anyone may pay
          std::string what = "pay " + inv_name(*k) + " by " + payer + ": " + std::to_string(amount);
          std::string tx = SignedTx(env, {payer}, m.nonce[payer], [&](v1::TxBody& b) {
            b.mutable_invoice_pay()->set_invoice_id(inv.id);
            b.mutable_invoice_pay()->set_amount(amount);
          });
          blocks.Submit(std::move(tx), payer, what, ModelPay(m, *k, payer, amount));
        } else {
          const std::string signer = step.choice2 < 5 ? "alice" : "dave";
          std::string external_txid;
          if (step.choice2 >= 70 && !external_sent.empty()) external_txid = external_sent[step.invoice % external_sent.size()];
          else external_txid = "0xext" + std::to_string(external_sent.size());
          external_sent.push_back(external_txid);
          std::string what = "external payment of " + inv_name(*k) + " recorded by " + signer + ": " +
                             std::to_string(amount) + ", txid " + external_txid;
          std::string tx = SignedTx(env, {signer}, m.nonce[signer], [&](v1::TxBody& b) {
            auto* p = b.mutable_payment_record_external();
            p->set_invoice_id(inv.id);
            p->set_network("ethereum");
            p->set_external_txid(external_txid);
            p->set_amount(amount);
            p->set_payer("0xrenter");
          });
          blocks.Submit(std::move(tx), signer, what, ModelExternal(m, *k, signer, external_txid, amount));
        }
        break;
      }
      case Op::kVoid: {
        auto k = pick_invoice(step);
        if (!k) break;
        const std::string signer = step.choice2 >= 95 ? "alice" : "dave";
        std::string what = "void " + inv_name(*k) + " by " + signer;
        std::string tx = SignedTx(env, {signer}, m.nonce[signer],
                                  [&](v1::TxBody& b) { b.mutable_invoice_void()->set_invoice_id(m.invoices[*k].id); });
        blocks.Submit(std::move(tx), signer, what, ModelVoid(m, *k, signer));
        break;
      }
      case Op::kTopup: {
        const std::string who = step.choice < 70 ? "alice" : "carol";
        std::string tx = TopupTx(env, who, m.nonce[who], cid, step.amount);
        Code expected = ModelTopup(m, c, who, step.amount);
        blocks.Submit(std::move(tx), who, "topup " + n + " by " + who + " of " + std::to_string(step.amount), expected);
        break;
      }
      case Op::kUsage: {
        if (c.metered.empty()) break;  // only contracts with a metered price get reports
        std::map<std::string, uint64_t> cumulative;
        auto before = [&](const std::string& name) { return c.usage.count(name) ? c.usage.at(name) : 0; };
        if (c.metered.count("cpu_s")) cumulative["cpu_s"] = before("cpu_s") + step.cpu_more;
        if (c.metered.count("egress_gb")) cumulative["egress_gb"] = before("egress_gb") + step.egress_more;
        const bool stale = step.choice >= 90;
        const std::string previous = stale ? cid : c.last_report;
        std::string tx = UsageTx(env, m.nonce["dave"], cid, cumulative, previous);
        Code expected = ModelUsage(m, c, cumulative, previous, TestEnv::Txid(tx).bytes());
        blocks.Submit(std::move(tx), "dave", UsageWhat(n, cumulative, stale), expected);
        break;
      }
      case Op::kNotice: {
        std::string tx = NoticeTx(env, m.nonce["dave"], cid);
        Code expected = ModelNotice(m, c);
        blocks.Submit(std::move(tx), "dave", "notice " + n + " by dave", expected);
        break;
      }
      case Op::kClose: {
        const std::string who = step.choice < 85 ? "alice" : "dave";
        std::string tx = CloseTx(env, who, m.nonce[who], cid);
        Code expected = ModelClose(m, c, who);
        blocks.Submit(std::move(tx), who, "close " + n + " by " + who, expected);
        break;
      }
      case Op::kAdvance: break;
    }
  }
  blocks.Close();
  // A last block well after every due time: the escrow-sourced invoices still waiting are paid,
  // contracts run dry close.
  blocks.Begin(15'000);
  blocks.Close();
}

// rc::prop (rapidcheck/catch.h) with `cases` test cases instead of rapidcheck's default 100,
// unless RC_PARAMS sets max_success. Some paths need a few hundred runs to come up (a direct
// invoice's dispute that escrow cannot lock in full, a resolution paying part of it out of the
// lock, an accepted invoice paid in part and disputed in one block).
template <typename Testable>
void PropWithCases(const std::string& description, int cases, Testable&& testable) {
  SECTION(description) {
    rc::detail::TestParams params = rc::detail::configuration().testParams;
    if (params.maxSuccess == rc::detail::TestParams().maxSuccess) params.maxSuccess = cases;
    const auto result = rc::detail::checkTestable(std::forward<Testable>(testable), rc::detail::TestMetadata(), params);
    if (result.template is<rc::detail::SuccessResult>()) {
      SUCCEED();
    } else {
      std::ostringstream message;
      rc::detail::printResultMessage(result, message);
      INFO(message.str() << "\n");
      FAIL();
    }
  }
}

}  // namespace

TEST_CASE("Invoices: random issues, accepts, disputes, resolutions, payments and voids against a model",
          "[invoices][property]") {
  PropWithCases("contracts, invoices, balances and supply follow the model after every block", 500,
                [] { RunAgainstModel(*GenRunPlan()); });
}
