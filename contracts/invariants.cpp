#include "contracts/invariants.h"

#include <map>
#include <vector>

#include "contracts/escrow.h"
#include "contracts/records.h"
#include "ledger/accounts.h"
#include "ledger/bech32m.h"
#include "ledger/bytes.h"

namespace kontor::contracts {

namespace {
using Int = __int128;
}  // namespace

Result CheckSupplyInvariant(const StateView& before, const StateDelta& block_delta) {
  std::map<std::string, Int> balance_change;  // per asset
  Result bad = Result::Ok();
  block_delta.ForEachChangedRecord(static_cast<uint8_t>(RecordKind::kAccount), [&](std::string_view id) {
    PublicKey key = Hash256::FromBytes(id);
    v1::Account old_account = LoadAccount(before, key);
    v1::Account new_account = LoadAccount(block_delta, key);
    std::string previous;
    for (const auto& b : new_account.balances()) {
      if (b.amount() == 0 || (!previous.empty() && b.asset() <= previous))
        bad = Result(Code::kInvariantBroken, "account " + EncodeAddress(key) + " has unsorted or zero balances");
      previous = b.asset();
      balance_change[b.asset()] += b.amount();
    }
    for (const auto& b : old_account.balances()) balance_change[b.asset()] -= b.amount();
  });
  KONTOR_RETURN_IF_ERROR(bad);
  // Escrow is part of the supply.
  block_delta.ForEachChangedRecord(static_cast<uint8_t>(Kind::kContract), [&](std::string_view id) {
    auto old_c = Load<v1::Contract>(before, Kind::kContract, id);
    auto new_c = Load<v1::Contract>(block_delta, Kind::kContract, id);
    if (new_c) balance_change[new_c->terms().asset()] += EscrowTotal(*new_c);
    if (old_c) balance_change[old_c->terms().asset()] -= EscrowTotal(*old_c);
  });
  std::map<std::string, Int> supply_change;
  block_delta.ForEachChangedRecord(static_cast<uint8_t>(RecordKind::kAsset), [&](std::string_view symbol) {
    auto old_asset = LoadAsset(before, symbol);
    auto new_asset = LoadAsset(block_delta, symbol);
    // deposited - withdrawn, from the outstanding supply (exact, within 0..2^64-1 by S3).
    auto net = [&](const std::optional<v1::Asset>& a, Int* out) {
      *out = 0;
      if (!a) return true;
      std::optional<uint64_t> outstanding = OutstandingSupply(*a);
      if (!outstanding) return false;
      *out = Int(*outstanding) - Int(a->genesis_supply());
      return true;
    };
    Int old_supply = 0, new_supply = 0;
    if (!net(old_asset, &old_supply) || !net(new_asset, &new_supply)) {
      bad = Result(Code::kInvariantBroken, "outstanding supply of " + std::string(symbol) +
                                               " (genesis + deposited - withdrawn) is outside 0..2^64-1");
      return;
    }
    supply_change[std::string(symbol)] += new_supply - old_supply;
    if (old_asset && new_asset && old_asset->genesis_supply() != new_asset->genesis_supply())
      bad = Result(Code::kInvariantBroken, "genesis supply of " + std::string(symbol) + " changed");
    // Lifetime totals only grow (128 bits: they never wrap).
    if (old_asset && new_asset &&
        (DepositedTotal(*new_asset) < DepositedTotal(*old_asset) || WithdrawnTotal(*new_asset) < WithdrawnTotal(*old_asset)))
      bad = Result(Code::kInvariantBroken, "the deposited or withdrawn total of " + std::string(symbol) + " went down");
  });
  KONTOR_RETURN_IF_ERROR(bad);
  for (const auto& [asset, change] : balance_change) {
    Int expected = supply_change.count(asset) ? supply_change[asset] : 0;
    if (change != expected)
      return {Code::kInvariantBroken, "supply of " + asset + ": balances changed by " + DecimalString(change) +
                                          " but deposits - withdrawals changed by " + DecimalString(expected)};
  }
  for (const auto& [asset, change] : supply_change)
    if (change != 0 && !balance_change.count(asset))
      return {Code::kInvariantBroken, "supply of " + asset + " changed by " + DecimalString(change) + " with no balance change"};
  return Result::Ok();
}

static bool LegalContractMove(v1::ContractState from, v1::ContractState to) {
  using S = v1::ContractState;
  if (from == to) return true;
  // A contract formed in this block may also have been given notice or closed in it.
  if (from == S::CONTRACT_STATE_UNSPECIFIED) return to != S::CONTRACT_STATE_UNSPECIFIED;
  if (from == S::CONTRACT_STATE_ACTIVE) return to == S::CONTRACT_STATE_NOTICE || to == S::CONTRACT_STATE_CLOSED;
  if (from == S::CONTRACT_STATE_NOTICE) return to == S::CONTRACT_STATE_CLOSED;
  return false;  // closed is final
}

// One tx moves an invoice along these edges; a block may chain several, so the invariant
// accepts any state reachable from the one before the block.
static bool InvoiceStep(v1::InvoiceState from, v1::InvoiceState to) {
  using S = v1::InvoiceState;
  switch (from) {
    case S::INVOICE_STATE_UNSPECIFIED: return to == S::INVOICE_STATE_ISSUED;
    case S::INVOICE_STATE_ISSUED: return to != S::INVOICE_STATE_UNSPECIFIED && to != S::INVOICE_STATE_ISSUED;
    case S::INVOICE_STATE_ACCEPTED:
      return to == S::INVOICE_STATE_PARTIALLY_PAID || to == S::INVOICE_STATE_PAID || to == S::INVOICE_STATE_VOIDED;
    case S::INVOICE_STATE_DISPUTED:
      return to == S::INVOICE_STATE_ACCEPTED || to == S::INVOICE_STATE_PARTIALLY_PAID || to == S::INVOICE_STATE_PAID ||
             to == S::INVOICE_STATE_VOIDED;
    case S::INVOICE_STATE_PARTIALLY_PAID:
      return to == S::INVOICE_STATE_DISPUTED || to == S::INVOICE_STATE_PAID || to == S::INVOICE_STATE_VOIDED;
    default: return false;  // paid and voided are final
  }
}

static bool LegalInvoiceMove(v1::InvoiceState from, v1::InvoiceState to) {
  if (from == to) return to != v1::INVOICE_STATE_UNSPECIFIED;
  if (!v1::InvoiceState_IsValid(from) || !v1::InvoiceState_IsValid(to)) return false;
  bool seen[v1::InvoiceState_ARRAYSIZE] = {};
  std::vector<v1::InvoiceState> frontier = {from};
  seen[from] = true;
  while (!frontier.empty()) {
    v1::InvoiceState s = frontier.back();
    frontier.pop_back();
    for (int next = 0; next < v1::InvoiceState_ARRAYSIZE; ++next) {
      auto n = static_cast<v1::InvoiceState>(next);
      if (!v1::InvoiceState_IsValid(next) || seen[next] || !InvoiceStep(s, n)) continue;
      if (n == to) return true;
      seen[next] = true;
      frontier.push_back(n);
    }
  }
  return false;
}

Result CheckRecordInvariants(const StateView& before, const StateDelta& block_delta) {
  Result bad = Result::Ok();
  block_delta.ForEachChangedRecord(static_cast<uint8_t>(Kind::kContract), [&](std::string_view id) {
    if (!bad.ok()) return;
    auto old_c = Load<v1::Contract>(before, Kind::kContract, id);
    auto new_c = Load<v1::Contract>(block_delta, Kind::kContract, id);
    std::string name = "contract " + HexEncode(id);
    if (!new_c) {
      bad = Result(Code::kInvariantBroken, name + " was erased");
      return;
    }
    auto from = old_c ? old_c->state() : v1::CONTRACT_STATE_UNSPECIFIED;
    if (!LegalContractMove(from, new_c->state()))
      bad = Result(Code::kInvariantBroken, name + " moved from state " + std::to_string(from) + " to " + std::to_string(new_c->state()));
    else if (!new_c->terms().invoiced() && static_cast<unsigned __int128>(new_c->charged()) + new_c->metered_charged() !=
                                                static_cast<unsigned __int128>(new_c->paid_provider()) + new_c->paid_broker())
      bad = Result(Code::kInvariantBroken, name + ": time + metered charges differ from provider + broker payments");
    else if (new_c->terms().invoiced() && static_cast<unsigned __int128>(new_c->charged()) + new_c->metered_charged() <
                                              static_cast<unsigned __int128>(new_c->paid_provider()) + new_c->paid_broker())
      bad = Result(Code::kInvariantBroken, name + ": provider + broker were paid more than was charged");
    else if (static_cast<unsigned __int128>(new_c->owed()) + new_c->locked() > EscrowTotal(*new_c))
      bad = Result(Code::kInvariantBroken, name + ": escrow owed to invoices and locked by disputes exceeds the escrow");
    else if (new_c->state() == v1::CONTRACT_STATE_CLOSED && EscrowTotal(*new_c) != new_c->owed() + new_c->locked())
      bad = Result(Code::kInvariantBroken, name + " is closed but holds escrow no invoice reserves");
    else if (old_c && (new_c->charged() < old_c->charged() || new_c->metered_charged() < old_c->metered_charged()))
      bad = Result(Code::kInvariantBroken, name + ": charges went down");
  });
  KONTOR_RETURN_IF_ERROR(bad);
  block_delta.ForEachChangedRecord(static_cast<uint8_t>(Kind::kInvoice), [&](std::string_view id) {
    if (!bad.ok()) return;
    auto old_i = Load<v1::Invoice>(before, Kind::kInvoice, id);
    auto new_i = Load<v1::Invoice>(block_delta, Kind::kInvoice, id);
    std::string name = "invoice " + HexEncode(id);
    if (!new_i) bad = Result(Code::kInvariantBroken, name + " was erased");
    else if (!(new_i->paid() <= new_i->amount_due() && new_i->amount_due() <= new_i->lines().total()))
      bad = Result(Code::kInvariantBroken, name + ": paid " + std::to_string(new_i->paid()) + " <= due " +
                                               std::to_string(new_i->amount_due()) + " <= total " + std::to_string(new_i->lines().total()) + " fails");
    else if (new_i->disputed() + new_i->paid() > new_i->amount_due() || new_i->locked() > new_i->disputed())
      bad = Result(Code::kInvariantBroken, name + ": disputed or locked amounts exceed what is unpaid");
    else if (!LegalInvoiceMove(old_i ? old_i->state() : v1::INVOICE_STATE_UNSPECIFIED, new_i->state()))
      bad = Result(Code::kInvariantBroken, name + " moved from state " + std::to_string(old_i ? old_i->state() : 0) + " to " +
                                               std::to_string(new_i->state()));
  });
  KONTOR_RETURN_IF_ERROR(bad);
  block_delta.ForEachChangedRecord(static_cast<uint8_t>(Kind::kOffer), [&](std::string_view id) {
    if (!bad.ok()) return;
    auto old_o = Load<v1::Offer>(before, Kind::kOffer, id);
    auto new_o = Load<v1::Offer>(block_delta, Kind::kOffer, id);
    std::string name = "offer " + HexEncode(id);
    if (!new_o) bad = Result(Code::kInvariantBroken, name + " was erased");
    else if (new_o->reserved_units() > new_o->terms().capacity_units())
      bad = Result(Code::kInvariantBroken, name + " reserves more units than its capacity");
    else if (old_o && old_o->state() == v1::OFFER_STATE_WITHDRAWN && new_o->state() != v1::OFFER_STATE_WITHDRAWN)
      bad = Result(Code::kInvariantBroken, name + " came back after being withdrawn");
  });
  return bad;
}

}  // namespace kontor::contracts
