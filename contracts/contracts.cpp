// Compute contracts: formed by accepting an offer (renter alone) or by a negotiated agreement
// co-signed by renter, provider and broker; funded by an escrow deposit; charged by time;
// closed by the renter, by the provider after notice, or by the ledger (term ended, escrow dry).
#include <algorithm>

#include "contracts/escrow.h"
#include "contracts/families.h"
#include "ledger/accounts.h"
#include "ledger/bech32m.h"

namespace kontor::contracts {

namespace {

using U128 = unsigned __int128;

std::string Addr(std::string_view key) { return EncodeAddress(Hash256::FromBytes(key)); }

Result CheckTermsShape(const v1::ContractTerms& t) {
  KONTOR_RETURN_IF_ERROR(CheckKeyField(t.renter(), "renter"));
  KONTOR_RETURN_IF_ERROR(CheckKeyField(t.provider(), "provider"));
  KONTOR_RETURN_IF_ERROR(CheckKeyField(t.broker(), "broker", true));
  KONTOR_RETURN_IF_ERROR(CheckKeyField(t.arbiter(), "arbiter", true));
  if (t.renter() == t.provider()) return {Code::kBadField, "renter and provider must be different keys"};
  if (!t.arbiter().empty() && (t.arbiter() == t.renter() || t.arbiter() == t.provider()))
    return {Code::kBadField, "the arbiter must be neither the renter nor the provider"};
  if (t.units() == 0) return {Code::kBadAmount, "a contract needs at least one unit"};
  if (t.price_per_unit_hour() == 0) return {Code::kBadAmount, "price per unit-hour must be greater than zero"};
  if (t.billing_period_ms() == 0) return {Code::kBadField, "billing period must be greater than zero"};
  if (t.deposit() == 0) return {Code::kBadAmount, "the deposit must be greater than zero"};
  if (t.broker_fee_bps() > kBasisPointsMax) return {Code::kBadField, "broker fee is above 10000 basis points"};
  if (t.broker().empty() && t.broker_fee_bps() != 0) return {Code::kBadField, "a broker fee needs a broker"};
  if (!t.invoiced() && t.dispute_window_ms() != 0) return {Code::kBadField, "a dispute window applies to invoiced contracts only"};
  if (static_cast<size_t>(t.metered_size()) > kMeteredPricesMax) return {Code::kTooLarge, "more than 8 metered prices"};
  for (int i = 0; i < t.metered_size(); ++i) {
    const auto& m = t.metered(i);
    if (!ValidName(m.name())) return {Code::kBadField, "metered price name '" + m.name() + "' must be 1..32 of a-z 0-9 _"};
    if (i > 0 && m.name() <= t.metered(i - 1).name()) return {Code::kBadField, "metered prices must be sorted by name, without repeats"};
    if (m.price_per_unit() == 0) return {Code::kBadAmount, "metered price '" + m.name() + "' must be greater than zero"};
  }
  U128 rate = static_cast<U128>(t.units()) * t.price_per_unit_hour();
  if (rate > UINT64_MAX) return {Code::kOverflow, "units x price per unit-hour exceeds 2^64-1"};
  if (t.duration_ms() != 0 && rate * t.duration_ms() / kMillisecondsPerHour > UINT64_MAX)
    return {Code::kOverflow, "the contract's total charge over its duration exceeds 2^64-1"};
  KONTOR_RETURN_IF_ERROR(CheckAttributes(t.resources(), "contract resources"));
  return CheckRequirement(t.requirement());
}

// Common to both ways of forming: resolve the start, lock the deposit, store.
Result Form(const DecodedTx& tx, const BlockEnv& env, StateDelta& s, v1::ContractTerms terms, const std::string& offer_id) {
  if (!LoadAsset(s, terms.asset())) return {Code::kUnknownAsset, "asset '" + terms.asset() + "' does not exist on this chain"};
  if (terms.start_ms() == 0) terms.set_start_ms(env.time_ms);
  if (terms.start_ms() < env.time_ms) return {Code::kTooLate, "the contract's start time has passed"};
  if (terms.duration_ms() != 0 && terms.start_ms() > UINT64_MAX - terms.duration_ms())
    return {Code::kOverflow, "start + duration exceeds 2^64-1 ms"};
  KONTOR_RETURN_IF_ERROR(CheckAttestations(s, terms.requirement(), terms.provider(), env.time_ms));
  PublicKey renter = Hash256::FromBytes(terms.renter());
  KONTOR_RETURN_IF_ERROR(CheckRecipient(s, Hash256::FromBytes(terms.provider()), "provider"));
  if (!terms.broker().empty()) KONTOR_RETURN_IF_ERROR(CheckRecipient(s, Hash256::FromBytes(terms.broker()), "broker"));
  v1::Account account = LoadAccount(s, renter);
  if (Result r = Debit(&account, terms.asset(), terms.deposit(), renter); !r.ok()) {
    auto asset = LoadAsset(s, terms.asset());
    return {Code::kInsufficientFunds, "the deposit needs " + FormatAmount(terms.deposit(), asset->decimals(), terms.asset()) +
                                          "; the renter has " +
                                          FormatAmount(BalanceOf(account, terms.asset()), asset->decimals(), terms.asset())};
  }
  StoreAccount(s, renter, account);
  v1::Contract c;
  c.set_id(tx.txid.bytes());
  c.set_offer_id(offer_id);
  c.set_state(v1::CONTRACT_STATE_ACTIVE);
  c.set_formed_at_ms(env.time_ms);
  c.set_end_ms(terms.duration_ms() == 0 ? 0 : terms.start_ms() + terms.duration_ms());
  if (terms.invoiced()) c.set_invoiced_until_ms(terms.start_ms());
  *c.mutable_terms() = std::move(terms);
  const v1::ContractTerms& t = c.terms();
  KONTOR_RETURN_IF_ERROR(AddEscrow(&c, renter, t.deposit()));
  for (const std::string* party : {&t.renter(), &t.provider(), &t.broker()})
    if (!party->empty()) IndexAdd(s, Kind::kPartyIndex, *party, c.id());
  StoreContract(s, c);
  return Result::Ok();
}

Result LoadOpenContract(StateDelta& s, const std::string& id, v1::Contract* out) {
  if (id.size() != 32) return {Code::kBadField, "contract id must be 32 bytes"};
  auto c = Load<v1::Contract>(s, Kind::kContract, id);
  if (!c) return {Code::kNotFound, "no contract " + HexEncode(id)};
  if (c->state() == v1::CONTRACT_STATE_CLOSED) return {Code::kWrongState, "contract " + HexEncode(id) + " is closed"};
  *out = std::move(*c);
  return Result::Ok();
}

// Settles until now; a contract whose escrow ran dry closes at once. *closed tells the caller.
Result SettleOrClose(StateDelta& s, v1::Contract* c, uint64_t now, bool* closed) {
  bool ran_dry = false;
  KONTOR_RETURN_IF_ERROR(Settle(s, c, now, &ran_dry));
  *closed = ran_dry;
  if (ran_dry) return CloseContract(s, c, now, v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
  return Result::Ok();
}

}  // namespace

Result CheckContractPropose(const DecodedTx& tx) {
  const auto& t = tx.body.contract_propose().terms();
  KONTOR_RETURN_IF_ERROR(CheckTermsShape(t));
  // Signers: renter, provider, and the broker if there is one, in that order.
  size_t expected = t.broker().empty() ? 2 : 3;
  if (tx.signers.size() < expected) {
    std::string missing = tx.signers.size() < 2 ? "provider " + Addr(t.provider()) : "broker " + Addr(t.broker());
    return {Code::kMissingSignature, "a negotiated contract must be co-signed: the " + missing + " is not a signer"};
  }
  if (tx.signers.size() > expected) return {Code::kUnexpectedSignature, "a negotiated contract has only renter, provider and broker as signers"};
  if (tx.signers[0].view() != t.renter()) return {Code::kNotAuthorized, "signer 1 must be the renter " + Addr(t.renter())};
  if (tx.signers[1].view() != t.provider()) return {Code::kNotAuthorized, "signer 2 must be the provider " + Addr(t.provider())};
  if (expected == 3 && tx.signers[2].view() != t.broker()) return {Code::kNotAuthorized, "signer 3 must be the broker " + Addr(t.broker())};
  return Result::Ok();
}

Result ApplyContractPropose(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  return Form(tx, env, s, tx.body.contract_propose().terms(), "");
}

Result CheckContractAccept(const DecodedTx& tx) {
  const auto& a = tx.body.contract_accept();
  if (a.offer_id().size() != 32) return {Code::kBadField, "offer id must be 32 bytes"};
  if (a.units() == 0) return {Code::kBadAmount, "accept at least one unit"};
  if (a.deposit() == 0) return {Code::kBadAmount, "the deposit must be greater than zero"};
  if (tx.signers.size() != 1) return {Code::kBadField, "accepting an offer takes the renter's signature alone"};
  return Result::Ok();
}

Result ApplyContractAccept(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  const auto& a = tx.body.contract_accept();
  auto offer = Load<v1::Offer>(s, Kind::kOffer, a.offer_id());
  if (!offer) return {Code::kNotFound, "no offer " + HexEncode(a.offer_id())};
  if (offer->state() != v1::OFFER_STATE_OPEN) return {Code::kWrongState, "offer " + HexEncode(a.offer_id()) + " is withdrawn"};
  if (offer->provider() == tx.fee_payer().view()) return {Code::kBadField, "a provider cannot rent from itself"};
  const v1::OfferTerms& o = offer->terms();
  if (a.units() > o.capacity_units() - offer->reserved_units())
    return {Code::kInsufficientCapacity, "offer has " + std::to_string(o.capacity_units() - offer->reserved_units()) +
                                             " units free, " + std::to_string(a.units()) + " asked"};
  if (a.duration_ms() == 0 && o.max_duration_ms() != 0)
    return {Code::kBadField, "this offer has a maximum duration; open-ended contracts are not allowed"};
  if (a.duration_ms() != 0 && (a.duration_ms() < o.min_duration_ms() || (o.max_duration_ms() != 0 && a.duration_ms() > o.max_duration_ms())))
    return {Code::kBadField, "duration " + std::to_string(a.duration_ms()) + " ms is outside the offer's " +
                                 std::to_string(o.min_duration_ms()) + ".." + (o.max_duration_ms() ? std::to_string(o.max_duration_ms()) : "open") + " ms"};
  v1::ContractTerms t;
  t.set_renter(tx.fee_payer().bytes());
  t.set_provider(offer->provider());
  t.set_units(a.units());
  t.set_price_per_unit_hour(o.price_per_unit_hour());
  t.set_asset(o.asset());
  t.set_start_ms(a.start_ms());
  t.set_duration_ms(a.duration_ms());
  t.set_billing_period_ms(o.billing_period_ms());
  t.set_notice_period_ms(o.notice_period_ms());
  t.set_deposit(a.deposit());
  *t.mutable_requirement() = o.requirement();
  *t.mutable_resources() = o.resources();
  t.set_invoiced(o.invoiced());
  KONTOR_RETURN_IF_ERROR(CheckTermsShape(t));
  offer->set_reserved_units(offer->reserved_units() + a.units());
  Store(s, Kind::kOffer, offer->id(), *offer);
  return Form(tx, env, s, std::move(t), offer->id());
}

Result CheckContractAction(const DecodedTx& tx) {
  const auto& b = tx.body;
  const std::string& id = b.has_contract_topup() ? b.contract_topup().contract_id()
                          : b.has_contract_notice() ? b.contract_notice().contract_id()
                          : b.has_contract_close() ? b.contract_close().contract_id()
                                                   : b.contract_settle().contract_id();
  if (id.size() != 32) return {Code::kBadField, "contract id must be 32 bytes"};
  if (b.has_contract_topup() && b.contract_topup().amount() == 0) return {Code::kBadAmount, "top-up amount must be greater than zero"};
  return Result::Ok();
}

Result ApplyContractTopup(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  const auto& t = tx.body.contract_topup();
  v1::Contract c;
  KONTOR_RETURN_IF_ERROR(LoadOpenContract(s, t.contract_id(), &c));
  // Anyone may top up (others than the parties within limits, AddEscrow). The money arrives
  // before settling, so a top-up can rescue a contract whose escrow ran dry since the last block.
  v1::Account account = LoadAccount(s, tx.fee_payer());
  if (Result r = Debit(&account, c.terms().asset(), t.amount(), tx.fee_payer()); !r.ok()) return r;
  StoreAccount(s, tx.fee_payer(), account);
  KONTOR_RETURN_IF_ERROR(AddEscrow(&c, tx.fee_payer(), t.amount()));
  bool closed = false;
  KONTOR_RETURN_IF_ERROR(SettleOrClose(s, &c, env.time_ms, &closed));
  if (!closed) StoreContract(s, c);
  return Result::Ok();
}

Result ApplyContractNotice(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  v1::Contract c;
  KONTOR_RETURN_IF_ERROR(LoadOpenContract(s, tx.body.contract_notice().contract_id(), &c));
  if (tx.fee_payer().view() != c.terms().provider()) return {Code::kNotAuthorized, "only the provider gives notice"};
  if (c.state() == v1::CONTRACT_STATE_NOTICE) return {Code::kWrongState, "notice was already given; the contract ends at " +
                                                                              std::to_string(c.termination_at_ms()) + " ms"};
  bool closed = false;
  KONTOR_RETURN_IF_ERROR(SettleOrClose(s, &c, env.time_ms, &closed));
  if (closed) return Result::Ok();
  if (c.terms().notice_period_ms() > UINT64_MAX - env.time_ms) return {Code::kOverflow, "block time + notice period exceeds 2^64-1 ms"};
  c.set_state(v1::CONTRACT_STATE_NOTICE);
  c.set_termination_at_ms(env.time_ms + c.terms().notice_period_ms());
  StoreContract(s, c);
  return Result::Ok();
}

Result ApplyContractClose(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  v1::Contract c;
  KONTOR_RETURN_IF_ERROR(LoadOpenContract(s, tx.body.contract_close().contract_id(), &c));
  if (tx.fee_payer().view() == c.terms().provider())
    return {Code::kNotAuthorized, "the provider cannot close at once: give notice and wait the notice period of " +
                                      std::to_string(c.terms().notice_period_ms()) + " ms"};
  if (tx.fee_payer().view() != c.terms().renter()) return {Code::kNotAuthorized, "only the renter closes a contract at once"};
  // A contract whose notice or term already ran out (the ledger closes it at the end of this
  // block) closes at that moment, for that reason, not now.
  if (c.state() == v1::CONTRACT_STATE_NOTICE && c.termination_at_ms() <= env.time_ms &&
      (c.end_ms() == 0 || c.termination_at_ms() < c.end_ms()))
    return CloseContract(s, &c, c.termination_at_ms(), v1::CLOSE_REASON_PROVIDER_TERMINATED);
  if (c.end_ms() != 0 && c.end_ms() <= env.time_ms) return CloseContract(s, &c, c.end_ms(), v1::CLOSE_REASON_ENDED);
  return CloseContract(s, &c, env.time_ms, v1::CLOSE_REASON_RENTER_CLOSED);
}

Result ApplyContractSettle(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  v1::Contract c;
  KONTOR_RETURN_IF_ERROR(LoadOpenContract(s, tx.body.contract_settle().contract_id(), &c));
  bool closed = false;
  KONTOR_RETURN_IF_ERROR(SettleOrClose(s, &c, env.time_ms, &closed));
  if (!closed) StoreContract(s, c);
  return Result::Ok();
}

Result CheckUsageReport(const DecodedTx& tx) {
  const auto& u = tx.body.usage_report();
  if (u.contract_id().size() != 32) return {Code::kBadField, "contract id must be 32 bytes"};
  if (!u.previous_report().empty() && u.previous_report().size() != 32) return {Code::kBadField, "previous report must be a 32-byte txid"};
  if (u.cumulative_size() == 0 || static_cast<size_t>(u.cumulative_size()) > kMeteredPricesMax)
    return {Code::kBadField, "a usage report has 1..8 metered quantities"};
  for (int i = 0; i < u.cumulative_size(); ++i) {
    if (!ValidName(u.cumulative(i).name())) return {Code::kBadField, "usage name '" + u.cumulative(i).name() + "' must be 1..32 of a-z 0-9 _"};
    if (i > 0 && u.cumulative(i).name() <= u.cumulative(i - 1).name())
      return {Code::kBadField, "usage quantities must be sorted by name, without repeats"};
  }
  return Result::Ok();
}

Result ApplyUsageReport(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  const auto& u = tx.body.usage_report();
  v1::Contract c;
  KONTOR_RETURN_IF_ERROR(LoadOpenContract(s, u.contract_id(), &c));
  if (tx.fee_payer().view() != c.terms().provider()) return {Code::kNotAuthorized, "only the provider reports usage"};
  if (u.previous_report() != c.last_usage_report())
    return {Code::kMismatch, "previous report " + HexEncode(u.previous_report()) + " is not the contract's last report " +
                                 (c.last_usage_report().empty() ? std::string("(none yet)") : HexEncode(c.last_usage_report()))};
  // Charge = sum over names of (cumulative - last cumulative) x price, in 128 bits.
  unsigned __int128 charge = 0;
  google::protobuf::RepeatedPtrField<v1::UsageAmount> next = c.usage();
  for (const auto& q : u.cumulative()) {
    const v1::MeteredPrice* price = nullptr;
    for (const auto& m : c.terms().metered())
      if (m.name() == q.name()) price = &m;
    if (!price) return {Code::kMismatch, "'" + q.name() + "' is not a metered price of this contract"};
    v1::UsageAmount* last = nullptr;
    for (auto& l : next)
      if (l.name() == q.name()) last = &l;
    uint64_t before = last ? last->quantity() : 0;
    if (q.quantity() < before)
      return {Code::kMismatch, "cumulative '" + q.name() + "' went down from " + std::to_string(before) + " to " + std::to_string(q.quantity())};
    charge += static_cast<unsigned __int128>(q.quantity() - before) * price->price_per_unit();  // each term < 2^128 / 8
    if (charge > UINT64_MAX) return {Code::kOverflow, "the metered charge exceeds 2^64-1"};
    if (last) last->set_quantity(q.quantity());
    else *next.Add() = q;
  }
  if (charge > UINT64_MAX) return {Code::kOverflow, "the metered charge exceeds 2^64-1"};
  std::sort(next.begin(), next.end(), [](const v1::UsageAmount& a, const v1::UsageAmount& b) { return a.name() < b.name(); });
  *c.mutable_usage() = next;
  c.set_last_usage_report(tx.txid.bytes());
  // Time first, then the metered charge; either may exhaust the escrow.
  bool closed = false;
  KONTOR_RETURN_IF_ERROR(SettleOrClose(s, &c, env.time_ms, &closed));
  if (closed) return Result::Ok();
  if (c.terms().invoiced()) {  // billed by the next invoice
    StoreContract(s, c);
    return Result::Ok();
  }
  uint64_t paid = 0;
  KONTOR_RETURN_IF_ERROR(PayFromEscrow(s, &c, static_cast<uint64_t>(charge), &paid));
  c.set_metered_charged(c.metered_charged() + paid);
  if (paid < charge) return CloseContract(s, &c, env.time_ms, v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
  StoreContract(s, c);
  return Result::Ok();
}

Result ProcessAgenda(const BlockEnv& env, StateDelta& s) {
  // Entries due by this block's time, earliest first. Each is re-read: a tx of this block may
  // have changed or closed the contract.
  for (;;) {
    auto agenda = Load<v1::Agenda>(s, Kind::kAgenda, kAgendaId);
    if (!agenda || agenda->entries_size() == 0 || agenda->entries(0).at_ms() > env.time_ms) return Result::Ok();
    std::string id = agenda->entries(0).contract_id();
    auto c = Load<v1::Contract>(s, Kind::kContract, id);
    if (!c) return {Code::kInvariantBroken, "agenda names a missing contract " + HexEncode(id)};
    const uint64_t now = env.time_ms;
    if (c->owed() > 0 && c->next_due_ms() != 0 && c->next_due_ms() <= now) KONTOR_RETURN_IF_ERROR(PayDueInvoices(s, &*c, now));
    if (c->state() == v1::CONTRACT_STATE_CLOSED) {
      if (uint64_t next = NextEventMs(*c); next != 0 && next <= now)
        return {Code::kInvariantBroken, "closed contract " + HexEncode(id) + " rescheduled into the past"};
      StoreContract(s, *c);
    } else if (c->state() == v1::CONTRACT_STATE_NOTICE && c->termination_at_ms() <= now &&
        (c->end_ms() == 0 || c->termination_at_ms() < c->end_ms())) {
      KONTOR_RETURN_IF_ERROR(CloseContract(s, &*c, c->termination_at_ms(), v1::CLOSE_REASON_PROVIDER_TERMINATED));
    } else if (c->end_ms() != 0 && c->end_ms() <= now) {
      KONTOR_RETURN_IF_ERROR(CloseContract(s, &*c, c->end_ms(), v1::CLOSE_REASON_ENDED));
    } else {
      bool closed = false;
      KONTOR_RETURN_IF_ERROR(SettleOrClose(s, &*c, now, &closed));
      if (!closed) {
        // Not dry after all (e.g. topped up): re-schedule strictly later, or the loop would spin.
        if (uint64_t next = NextEventMs(*c); next != 0 && next <= now)
          return {Code::kInvariantBroken, "contract " + HexEncode(id) + " rescheduled into the past"};
        StoreContract(s, *c);
      }
    }
  }
}

}  // namespace kontor::contracts
