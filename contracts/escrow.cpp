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

Result Accrued(const v1::Contract& c, uint64_t t_ms, uint64_t* out) {
  const auto& t = c.terms();
  uint64_t until = c.end_ms() != 0 ? std::min(t_ms, c.end_ms()) : t_ms;
  // After notice the contract ends at its termination time, even before the ledger closes it.
  if (c.state() == v1::CONTRACT_STATE_NOTICE) until = std::min(until, c.termination_at_ms());
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

Result Settle(StateDelta& s, v1::Contract* c, uint64_t t_ms, bool* ran_dry) {
  *ran_dry = false;
  uint64_t accrued = 0;
  if (!Accrued(*c, t_ms, &accrued).ok()) {
    // More is due than 2^64-1: certainly more than escrow holds. Pay it all; the contract closes.
    uint64_t paid = 0;
    KONTOR_RETURN_IF_ERROR(PayFromEscrow(s, c, EscrowTotal(*c), &paid));
    c->set_charged(c->charged() + paid);
    *ran_dry = true;
    return Result::Ok();
  }
  if (accrued <= c->charged()) return Result::Ok();
  uint64_t due = accrued - c->charged();
  uint64_t paid = 0;
  KONTOR_RETURN_IF_ERROR(PayFromEscrow(s, c, due, &paid));
  *ran_dry = paid < due;
  c->set_charged(c->charged() + paid);
  return Result::Ok();
}

Result PayFromEscrow(StateDelta& s, v1::Contract* c, uint64_t amount, uint64_t* paid) {
  uint64_t pay = std::min(amount, EscrowTotal(*c));
  *paid = pay;
  // Consume deposits first-in, first-out.
  uint64_t left = pay;
  auto* escrow = c->mutable_escrow();
  for (auto& d : *escrow) {
    uint64_t take = std::min(left, d.amount());
    d.set_amount(d.amount() - take);
    left -= take;
    if (left == 0) break;
  }
  escrow->erase(std::remove_if(escrow->begin(), escrow->end(), [](const v1::EscrowDeposit& d) { return d.amount() == 0; }),
                escrow->end());
  const auto& t = c->terms();
  // The broker's share is taken of everything paid so far, so how often a contract is
  // settled never changes the split (a per-payment floor would drift by 1 per settlement).
  U128 paid_total = static_cast<U128>(c->paid_provider()) + c->paid_broker() + pay;
  uint64_t broker = t.broker().empty()
                        ? 0
                        : static_cast<uint64_t>(paid_total * t.broker_fee_bps() / kBasisPointsMax) - c->paid_broker();
  KONTOR_RETURN_IF_ERROR(Pay(s, t.provider(), t.asset(), pay - broker));
  KONTOR_RETURN_IF_ERROR(Pay(s, t.broker(), t.asset(), broker));
  c->set_paid_provider(c->paid_provider() + (pay - broker));
  c->set_paid_broker(c->paid_broker() + broker);
  return Result::Ok();
}

Result CloseContract(StateDelta& s, v1::Contract* c, uint64_t at_ms, v1::CloseReason reason) {
  bool ran_dry = false;
  KONTOR_RETURN_IF_ERROR(Settle(s, c, at_ms, &ran_dry));
  if (ran_dry) reason = v1::CLOSE_REASON_INSUFFICIENT_FUNDS;
  uint64_t refunded = 0;
  for (const auto& d : c->escrow()) {
    KONTOR_RETURN_IF_ERROR(Pay(s, d.depositor(), c->terms().asset(), d.amount()));
    refunded += d.amount();
  }
  c->clear_escrow();
  c->set_refunded(c->refunded() + refunded);
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
  auto bump = [&](const std::string& key, auto&& change) {
    v1::Reputation r = Load<v1::Reputation>(s, Kind::kReputation, key).value_or(v1::Reputation());
    change(r);
    Store(s, Kind::kReputation, key, r);
  };
  const auto& t = c->terms();
  switch (reason) {
    case v1::CLOSE_REASON_ENDED:
      bump(t.provider(), [](v1::Reputation& r) { r.set_provider_completed(r.provider_completed() + 1); });
      bump(t.renter(), [](v1::Reputation& r) { r.set_renter_completed(r.renter_completed() + 1); });
      break;
    case v1::CLOSE_REASON_PROVIDER_TERMINATED:
      if (early) bump(t.provider(), [](v1::Reputation& r) { r.set_provider_terminated_early(r.provider_terminated_early() + 1); });
      break;
    case v1::CLOSE_REASON_RENTER_CLOSED:
      if (early) bump(t.renter(), [](v1::Reputation& r) { r.set_renter_closed_early(r.renter_closed_early() + 1); });
      break;
    case v1::CLOSE_REASON_INSUFFICIENT_FUNDS:
      bump(t.renter(), [](v1::Reputation& r) { r.set_renter_insufficient_funds(r.renter_insufficient_funds() + 1); });
      bump(t.provider(), [](v1::Reputation& r) { r.set_provider_insufficient_funds(r.provider_insufficient_funds() + 1); });
      break;
    default: break;
  }
  return Result::Ok();
}

Result AddEscrow(v1::Contract* c, const PublicKey& depositor, uint64_t amount) {
  if (EscrowTotal(*c) > UINT64_MAX - amount) return {Code::kOverflow, "escrow would exceed 2^64-1"};
  auto* escrow = c->mutable_escrow();
  if (!escrow->empty() && escrow->rbegin()->depositor() == depositor.view()) {
    escrow->rbegin()->set_amount(escrow->rbegin()->amount() + amount);
    return Result::Ok();
  }
  if (static_cast<size_t>(escrow->size()) >= kEscrowDepositsMax)
    return {Code::kTooLarge, "the contract already tracks 64 separate deposits; only the latest depositor can add to its deposit"};
  auto* d = escrow->Add();
  d->set_depositor(depositor.bytes());
  d->set_amount(amount);
  return Result::Ok();
}

uint64_t NextEventMs(const v1::Contract& c) {
  if (c.state() == v1::CONTRACT_STATE_CLOSED) return 0;
  uint64_t next = c.end_ms();
  if (c.state() == v1::CONTRACT_STATE_NOTICE && (next == 0 || c.termination_at_ms() < next)) next = c.termination_at_ms();
  // Escrow runs dry at the first t with accrued(t) > charged + escrow.
  const auto& t = c.terms();
  U128 rate = static_cast<U128>(t.units()) * t.price_per_unit_hour();
  if (rate > 0) {
    U128 covered = static_cast<U128>(c.charged()) + EscrowTotal(c) + 1;
    U128 elapsed = (covered * kMillisecondsPerHour + rate - 1) / rate;
    U128 dry = static_cast<U128>(t.start_ms()) + elapsed;
    if (dry <= UINT64_MAX && (next == 0 || dry < next)) next = static_cast<uint64_t>(dry);
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
