#include "ledger/accounts.h"

#include <algorithm>

#include "ledger/bech32m.h"
#include "ledger/check.h"
#include "ledger/codec.h"
#include "ledger/limits.h"

namespace kontor {

v1::Account LoadAccount(const StateView& view, const PublicKey& key) {
  v1::Account account;
  if (auto bytes = view.Get(AccountKey(key)); bytes && !account.ParseFromString(*bytes))
    DamagedRecord(static_cast<uint8_t>(RecordKind::kAccount), key.view());
  return account;
}

void StoreAccount(StateDelta& delta, const PublicKey& key, const v1::Account& account) {
  delta.PutRecord(static_cast<uint8_t>(RecordKind::kAccount), key.view(), CanonicalBytes(account));
}

uint64_t BalanceOf(const v1::Account& account, std::string_view asset) {
  for (const auto& b : account.balances())
    if (b.asset() == asset) return b.amount();
  return 0;
}

Result Credit(v1::Account* account, std::string_view asset, uint64_t amount) {
  if (amount == 0) return Result::Ok();
  auto* balances = account->mutable_balances();
  auto it = std::lower_bound(balances->begin(), balances->end(), asset,
                             [](const v1::Balance& b, std::string_view a) { return b.asset() < a; });
  if (it != balances->end() && it->asset() == asset) {
    if (it->amount() > UINT64_MAX - amount)
      return {Code::kOverflow, "balance of " + std::string(asset) + " would exceed 2^64-1"};
    it->set_amount(it->amount() + amount);
    return Result::Ok();
  }
  if (static_cast<size_t>(balances->size()) >= limits::kAccountBalancesMax)
    return {Code::kTooLarge, "account holds the maximum number of distinct assets (64)"};
  v1::Balance b;
  b.set_asset(std::string(asset));
  b.set_amount(amount);
  int index = static_cast<int>(it - balances->begin());
  balances->Add(std::move(b));
  // Rotate the appended element into its sorted position.
  for (int i = balances->size() - 1; i > index; --i) balances->SwapElements(i, i - 1);
  return Result::Ok();
}

Result Debit(v1::Account* account, std::string_view asset, uint64_t amount, const PublicKey& owner) {
  if (amount == 0) return Result::Ok();
  auto* balances = account->mutable_balances();
  for (int i = 0; i < balances->size(); ++i) {
    auto& b = (*balances)[i];
    if (b.asset() != asset) continue;
    if (b.amount() < amount) break;
    b.set_amount(b.amount() - amount);
    if (b.amount() == 0) balances->erase(balances->begin() + i);
    return Result::Ok();
  }
  return {Code::kInsufficientFunds, "balance " + std::to_string(BalanceOf(*account, asset)) + " " + std::string(asset) +
                                        " < " + std::to_string(amount) + " " + std::string(asset) + " needed in " +
                                        EncodeAddress(owner)};
}

std::optional<v1::Asset> LoadAsset(const StateView& view, std::string_view symbol) {
  auto bytes = view.Get(AssetKey(symbol));
  if (!bytes) return std::nullopt;
  v1::Asset asset;
  if (!asset.ParseFromString(*bytes)) DamagedRecord(static_cast<uint8_t>(RecordKind::kAsset), symbol);
  return asset;
}

void StoreAsset(StateDelta& delta, const v1::Asset& asset) {
  delta.PutRecord(static_cast<uint8_t>(RecordKind::kAsset), asset.symbol(), CanonicalBytes(asset));
}

unsigned __int128 DepositedTotal(const v1::Asset& asset) {
  return static_cast<unsigned __int128>(asset.deposited_hi()) << 64 | asset.deposited();
}
unsigned __int128 WithdrawnTotal(const v1::Asset& asset) {
  return static_cast<unsigned __int128>(asset.withdrawn_hi()) << 64 | asset.withdrawn();
}
void SetDepositedTotal(v1::Asset* asset, unsigned __int128 total) {
  asset->set_deposited(static_cast<uint64_t>(total));
  asset->set_deposited_hi(static_cast<uint64_t>(total >> 64));
}
void SetWithdrawnTotal(v1::Asset* asset, unsigned __int128 total) {
  asset->set_withdrawn(static_cast<uint64_t>(total));
  asset->set_withdrawn_hi(static_cast<uint64_t>(total >> 64));
}

std::optional<uint64_t> OutstandingSupply(const v1::Asset& asset) {
  // Without overflow for any field values: the difference of the totals first, then genesis.
  const unsigned __int128 deposited = DepositedTotal(asset), withdrawn = WithdrawnTotal(asset);
  const uint64_t genesis = asset.genesis_supply();
  if (deposited >= withdrawn) {
    unsigned __int128 net = deposited - withdrawn;
    if (net > UINT64_MAX - genesis) return std::nullopt;
    return genesis + static_cast<uint64_t>(net);
  }
  unsigned __int128 net_out = withdrawn - deposited;
  if (net_out > genesis) return std::nullopt;
  return genesis - static_cast<uint64_t>(net_out);
}

Result TransferBalance(StateDelta& delta, const PublicKey& from, const PublicKey& to, std::string_view asset,
                       uint64_t amount) {
  v1::Account source = LoadAccount(delta, from);
  KONTOR_RETURN_IF_ERROR(Debit(&source, asset, amount, from));
  if (from == to) return Credit(&source, asset, amount);  // net zero, but checked
  v1::Account target = LoadAccount(delta, to);
  KONTOR_RETURN_IF_ERROR(Credit(&target, asset, amount));
  StoreAccount(delta, from, source);
  StoreAccount(delta, to, target);
  return Result::Ok();
}

std::string FormatAmount(uint64_t amount, uint32_t decimals, std::string_view symbol) {
  std::string digits = std::to_string(amount);
  if (decimals > 0) {
    if (digits.size() <= decimals) digits.insert(0, decimals + 1 - digits.size(), '0');
    digits.insert(digits.size() - decimals, ".");
  }
  return digits + " " + std::string(symbol);
}

}  // namespace kontor
