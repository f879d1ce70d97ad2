#include "contracts/escrow.h"

#include <algorithm>

#include "ledger/accounts.h"

namespace kontor::contracts {

using U128 = unsigned __int128;

uint64_t EscrowTotal(const v1::Contract& c) {
  uint64_t total = 0;
  for (const auto& d : c.escrow()) total += d.amount();  // each add is checked in AddEscrow
  return total;
}

uint64_t FreeEscrow(const v1::Contract& c) {
  uint64_t total = EscrowTotal(c), reserved = c.owed() + c.locked();  // invariant: reserved <= total
  return total > reserved ? total - reserved : 0;
}

uint64_t AccrualEndMs(const v1::Contract& c) {
  uint64_t end = c.end_ms();
  // After notice the contract ends at its termination time, even before the ledger closes it.
  if (c.state() == v1::CONTRACT_STATE_NOTICE && (end == 0 || c.termination_at_ms() < end)) end = c.termination_at_ms();
  return end;
}

Result Accrued(const v1::Contract& c, uint64_t t_ms, uint64_t* out) {
  const auto& t = c.terms();
  uint64_t end = AccrualEndMs(c);
  uint64_t until = end != 0 ? std::min(t_ms, end) : t_ms;
  if (until <= t.start_ms()) {
    *out = 0;
    return Result::Ok();
  }
  U128 total = static_cast<U128>(t.units()) * t.price_per_unit_hour() * (until - t.start_ms()) / kMillisecondsPerHour;
  if (total > UINT64_MAX) return {Code::kOverflow, "the contract's accrued charge exceeds 2^64-1"};
  *out = static_cast<uint64_t>(total);
  return Result::Ok();
}

static Result Pay(StateDelta& s, const std::string& key, const std::string& asset, uint64_t amount) {
  if (amount == 0) return Result::Ok();
  PublicKey who = Hash256::FromBytes(key);
  v1::Account account = LoadAccount(s, who);
  KONTOR_RETURN_IF_ERROR(Credit(&account, asset, amount));
  StoreAccount(s, who, account);
  return Result::Ok();
}

void TakeFromEscrow(v1::Contract* c, uint64_t amount) {
  uint64_t left = amount;
  auto* escrow = c->mutable_escrow();
  for (auto& d : *escrow) {
    uint64_t take = std::min(left, d.amount());
    d.set_amount(d.amount() - take);
    left -= take;
    if (left == 0) break;
  }
  escrow->erase(std::remove_if(escrow->begin(), escrow->end(), [](const v1::EscrowDeposit& d) { return d.amount() == 0; }),
                escrow->end());
}

uint64_t BrokerShare(const v1::Contract& c, uint64_t amount) {
  const auto& t = c.terms();
  if (t.broker().empty()) return 0;
  // The broker's share is taken of everything paid so far, so how often a contract is paid
  // never changes the split (a per-payment floor would drift by 1 per payment).
  U128 paid_total = static_cast<U128>(c.paid_provider()) + c.paid_broker() + amount;
  return static_cast<uint64_t>(paid_total * t.broker_fee_bps() / kBasisPointsMax) - c.paid_broker();
}

Result PayParties(StateDelta& s, v1::Contract* c, uint64_t amount, uint64_t* broker_share) {
  uint64_t broker = BrokerShare(*c, amount);
  if (static_cast<U128>(c->paid_provider()) + c->paid_broker() + amount > UINT64_MAX)
    return {Code::kOverflow, "the contract's total payments would exceed 2^64-1"};
  const auto& t = c->terms();
  KONTOR_RETURN_IF_ERROR(Pay(s, t.provider(), t.asset(), amount - broker));
  KONTOR_RETURN_IF_ERROR(Pay(s, t.broker(), t.asset(), broker));
  c->set_paid_provider(c->paid_provider() + (amount - broker));
  c->set_paid_broker(c->paid_broker() + broker);
  if (broker_share) *broker_share = broker;
  return Result::Ok();
}

Result PayFromEscrow(StateDelta& s, v1::Contract* c, uint64_t amount, uint64_t* paid) {
  // Never more than free escrow, nor more than the contract's payment total can count: the
  // ledger's own settlements (agenda, close) must not fail. Escrow not paid is refunded at close.
  U128 paid_total = static_cast<U128>(c->paid_provider()) + c->paid_broker();
  uint64_t headroom = paid_total >= UINT64_MAX ? 0 : UINT64_MAX - static_cast<uint64_t>(paid_total);
  uint64_t pay = std::min({amount, FreeEscrow(*c), headroom});
  *paid = pay;
  if (pay == 0) return Result::Ok();
  TakeFromEscrow(c, pay);
  return PayParties(s, c, pay, nullptr);
}

Result Settle(StateDelta& s, v1::Contract* c, uint64_t t_ms, bool* ran_dry) {
  *ran_dry = false;
  uint64_t accrued = 0;
  if (!Accrued(*c, t_ms, &accrued).ok()) {
    // More is due than 2^64-1: certainly more than escrow holds. Pay it all; the contract closes.
    *ran_dry = true;
    if (c->terms().invoiced()) return Result::Ok();
    uint64_t paid = 0;
    KONTOR_RETURN_IF_ERROR(PayFromEscrow(s, c, FreeEscrow(*c), &paid));
    c->set_charged(c->charged() + paid);
    return Result::Ok();
  }
  if (accrued <= c->charged()) return Result::Ok();
  uint64_t due = accrued - c->charged();
  if (c->terms().invoiced()) {
    // Collected by invoices; the ledger only watches that escrow still guarantees it.
    *ran_dry = due > FreeEscrow(*c);
    return Result::Ok();
  }
  uint64_t paid = 0;
  KONTOR_RETURN_IF_ERROR(PayFromEscrow(s, c, due, &paid));
  *ran_dry = paid < due;
  c->set_charged(c->charged() + paid);
  return Result::Ok();
}

Result UninvoicedMetered(const v1::Contract& c, std::vector<v1::InvoiceLine>* lines, uint64_t* total) {
  U128 sum = 0;
  lines->clear();
  for (const auto& u : c.usage()) {
    uint64_t before = 0;
    for (const auto& i : c.invoiced_usage())
      if (i.name() == u.name()) before = i.quantity();
    if (u.quantity() <= before) continue;
    uint64_t price = 0;
    for (const auto& m : c.terms().metered())
      if (m.name() == u.name()) price = m.price_per_unit();
    U128 amount = static_cast<U128>(u.quantity() - before) * price;
    sum += amount;
    if (amount > UINT64_MAX || sum > UINT64_MAX) return {Code::kOverflow, "the metered charge exceeds 2^64-1"};
    v1::InvoiceLine line;
    line.set_name(u.name());
    line.set_quantity(u.quantity() - before);
    line.set_unit_price(price);
    line.set_amount(static_cast<uint64_t>(amount));
    lines->push_back(std::move(line));
  }
  *total = static_cast<uint64_t>(sum);
  return Result::Ok();
}

// Invoiced contracts at close: what was not invoiced is paid from free escrow, as far as it goes
// and as far as the contract's charges stay within 64 bits. Every payment of the contract (also
// later ones, on invoices still open) is bounded by its charges, so none of them can overflow.
static Result SettleUninvoiced(StateDelta& s, v1::Contract* c, uint64_t at_ms, bool* ran_dry) {
  auto charge_room = [c] {
    U128 charges = static_cast<U128>(c->charged()) + c->metered_charged();
    return charges >= UINT64_MAX ? uint64_t{0} : UINT64_MAX - static_cast<uint64_t>(charges);
  };
  *ran_dry = false;
  uint64_t accrued = 0, paid = 0;
  bool fits = Accrued(*c, at_ms, &accrued).ok();
  uint64_t due = !fits ? UINT64_MAX : accrued > c->charged() ? accrued - c->charged() : 0;
  KONTOR_RETURN_IF_ERROR(PayFromEscrow(s, c, std::min(due, charge_room()), &paid));
  *ran_dry = paid < due;
  c->set_charged(c->charged() + paid);
  std::vector<v1::InvoiceLine> lines;
  uint64_t metered = 0;
  if (!UninvoicedMetered(*c, &lines, &metered).ok()) metered = UINT64_MAX;
  KONTOR_RETURN_IF_ERROR(PayFromEscrow(s, c, std::min(metered, charge_room()), &paid));
  *ran_dry = *ran_dry || paid < metered;
  c->set_metered_charged(c->metered_charged() + paid);
  uint64_t end = AccrualEndMs(*c);
  c->set_invoiced_until_ms(std::max(c->invoiced_until_ms(), end != 0 ? std::min(end, at_ms) : at_ms));
  *c->mutable_invoiced_usage() = c->usage();
  return Result::Ok();
}

Result RefundFreeEscrow(StateDelta& s, v1::Contract* c) {
  uint64_t left = FreeEscrow(*c), refunded = 0;
  auto* escrow = c->mutable_escrow();
  // Latest deposits first: what stays reserved is the earliest money in.
  for (int i = escrow->size() - 1; i >= 0 && left > 0; --i) {
    auto* d = escrow->Mutable(i);
    uint64_t take = std::min(left, d->amount());
    KONTOR_RETURN_IF_ERROR(Pay(s, d->depositor(), c->terms().asset(), take));
    d->set_amount(d->amount() - take);
    left -= take;
    refunded += take;
  }
  escrow->erase(std::remove_if(escrow->begin(), escrow->end(), [](const v1::EscrowDeposit& d) { return d.amount() == 0; }),
                escrow->end());
  c->set_refunded(c->refunded() + refunded);
  return Result::Ok();
}

Result CloseContract(StateDelta& s, v1::Contract* c, uint64_t at_ms, v1::CloseReason reason) {
  bool ran_dry = false;
  if (c->terms().invoiced()) KONTOR_RETURN_IF_ERROR(SettleUninvoiced(s, c, at_ms, &ran_dry));
  else KONTOR_RETURN_IF_ERROR(Settle(s, c, at_ms, &ran_dry));
  if (ran_dry) reason = v1::CLOSE_REASON_INSUFFICIENT_FUNDS;
  KONTOR_RETURN_IF_ERROR(RefundFreeEscrow(s, c));
  if (!c->offer_id().empty()) {
    if (auto offer = Load<v1::Offer>(s, Kind::kOffer, c->offer_id())) {
      offer->set_reserved_units(offer->reserved_units() - std::min(offer->reserved_units(), c->terms().units()));
      Store(s, Kind::kOffer, offer->id(), *offer);
    }
  }
  c->set_state(v1::CONTRACT_STATE_CLOSED);
  c->set_close_reason(reason);
  c->set_closed_at_ms(at_ms);
  StoreContract(s, *c);
  // Reputation facts, counted from what the ledger saw.
  bool early = c->end_ms() == 0 || at_ms < c->end_ms();
  const auto& t = c->terms();
  using R = v1::Reputation;
  switch (reason) {
    case v1::CLOSE_REASON_ENDED:
      BumpReputation(s, t.provider(), &R::provider_completed, &R::set_provider_completed);
      BumpReputation(s, t.renter(), &R::renter_completed, &R::set_renter_completed);
      break;
    case v1::CLOSE_REASON_PROVIDER_TERMINATED:
      if (early) BumpReputation(s, t.provider(), &R::provider_terminated_early, &R::set_provider_terminated_early);
      break;
    case v1::CLOSE_REASON_RENTER_CLOSED:
      if (early) BumpReputation(s, t.renter(), &R::renter_closed_early, &R::set_renter_closed_early);
      break;
    case v1::CLOSE_REASON_INSUFFICIENT_FUNDS:
      BumpReputation(s, t.renter(), &R::renter_insufficient_funds, &R::set_renter_insufficient_funds);
      BumpReputation(s, t.provider(), &R::provider_insufficient_funds, &R::set_provider_insufficient_funds);
      break;
    default: break;
  }
  return Result::Ok();
}

Result AddEscrow(v1::Contract* c, const PublicKey& depositor, uint64_t amount) {
  uint64_t total = EscrowTotal(*c);
  if (total > UINT64_MAX - amount) return {Code::kOverflow, "escrow would exceed 2^64-1"};
  auto* escrow = c->mutable_escrow();
  // One entry per depositor: a top-up joins the depositor's entry wherever it is, so entries
  // keep the order of their first deposit and a depositor takes at most one slot.
  for (auto& d : *escrow) {
    if (d.depositor() == depositor.view()) {
      d.set_amount(d.amount() + amount);
      return Result::Ok();
    }
  }
  const auto& t = c->terms();
  bool party = depositor.view() == t.renter() || depositor.view() == t.provider() ||
               (!t.broker().empty() && depositor.view() == t.broker());
  size_t entries = static_cast<size_t>(escrow->size());
  if (!party) {
    // Slots are kept for the parties, and a new depositor brings a share worth a slot: a few keys
    // with dust cannot fill the escrow and stop the renter from keeping its contract funded.
    if (entries >= kEscrowThirdPartyDepositsMax)
      return {Code::kTooLarge, "the contract already tracks " + std::to_string(entries) +
                                   " depositors; the last 3 of its 64 places are kept for the renter, provider and broker"};
    if (static_cast<U128>(amount) * kEscrowThirdPartyShareDivisor < total)
      return {Code::kBadAmount, "a first top-up by a key that is not a party of the contract must be at least 1/64 of its escrow: " +
                                    std::to_string((total + kEscrowThirdPartyShareDivisor - 1) / kEscrowThirdPartyShareDivisor) +
                                    " here"};
  }
  // Parties hold at most 3 entries and others at most 61, so a party always finds a place.
  if (entries >= kEscrowDepositsMax) return {Code::kTooLarge, "the contract already tracks 64 depositors"};
  auto* d = escrow->Add();
  d->set_depositor(depositor.bytes());
  d->set_amount(amount);
  return Result::Ok();
}

uint64_t NextEventMs(const v1::Contract& c) {
  uint64_t next = 0;
  auto consider = [&next](uint64_t at) {
    if (at != 0 && (next == 0 || at < next)) next = at;
  };
  if (c.owed() > 0) consider(c.next_due_ms());  // escrow-sourced invoices become payable
  if (c.state() == v1::CONTRACT_STATE_CLOSED) return next;
  consider(AccrualEndMs(c));
  // Escrow runs dry at the first t with accrued(t) > charged + free escrow.
  const auto& t = c.terms();
  U128 rate = static_cast<U128>(t.units()) * t.price_per_unit_hour();
  if (rate > 0) {
    U128 covered = static_cast<U128>(c.charged()) + FreeEscrow(c) + 1;
    U128 elapsed = (covered * kMillisecondsPerHour + rate - 1) / rate;
    U128 dry = static_cast<U128>(t.start_ms()) + elapsed;
    if (dry <= UINT64_MAX) consider(static_cast<uint64_t>(dry));
  }
  return next;
}

void StoreContract(StateDelta& s, const v1::Contract& c) {
  Store(s, Kind::kContract, c.id(), c);
  v1::Agenda agenda = Load<v1::Agenda>(s, Kind::kAgenda, kAgendaId).value_or(v1::Agenda());
  auto* entries = agenda.mutable_entries();
  entries->erase(std::remove_if(entries->begin(), entries->end(),
                                [&](const v1::AgendaEntry& e) { return e.contract_id() == c.id(); }),
                 entries->end());
  if (uint64_t at = NextEventMs(c); at != 0) {
    v1::AgendaEntry entry;
    entry.set_at_ms(at);
    entry.set_contract_id(c.id());
    auto pos = std::lower_bound(entries->begin(), entries->end(), entry, [](const v1::AgendaEntry& a, const v1::AgendaEntry& b) {
      return a.at_ms() != b.at_ms() ? a.at_ms() < b.at_ms() : a.contract_id() < b.contract_id();
    });
    int index = static_cast<int>(pos - entries->begin());
    entries->Add(std::move(entry));
    for (int i = entries->size() - 1; i > index; --i) entries->SwapElements(i, i - 1);
  }
  Store(s, Kind::kAgenda, kAgendaId, agenda);
}

}  // namespace kontor::contracts
