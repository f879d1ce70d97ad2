#include "contracts/invariants.h"

#include <map>

#include "ledger/accounts.h"
#include "ledger/bech32m.h"

namespace kontor::contracts {

namespace {
using Int = __int128;
std::string ToString(Int v) {
  if (v == 0) return "0";
  bool negative = v < 0;
  std::string s;
  while (v != 0) {
    int digit = static_cast<int>(v % 10);
    s.insert(s.begin(), static_cast<char>('0' + (digit < 0 ? -digit : digit)));
    v /= 10;
  }
  return negative ? "-" + s : s;
}
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
  std::map<std::string, Int> supply_change;
  block_delta.ForEachChangedRecord(static_cast<uint8_t>(RecordKind::kAsset), [&](std::string_view symbol) {
    auto old_asset = LoadAsset(before, symbol);
    auto new_asset = LoadAsset(block_delta, symbol);
    Int old_supply = old_asset ? Int(old_asset->deposited()) - Int(old_asset->withdrawn()) : 0;
    Int new_supply = new_asset ? Int(new_asset->deposited()) - Int(new_asset->withdrawn()) : 0;
    supply_change[std::string(symbol)] += new_supply - old_supply;
    if (old_asset && new_asset && old_asset->genesis_supply() != new_asset->genesis_supply())
      bad = Result(Code::kInvariantBroken, "genesis supply of " + std::string(symbol) + " changed");
  });
  KONTOR_RETURN_IF_ERROR(bad);
  for (const auto& [asset, change] : balance_change) {
    Int expected = supply_change.count(asset) ? supply_change[asset] : 0;
    if (change != expected)
      return {Code::kInvariantBroken, "supply of " + asset + ": balances changed by " + ToString(change) +
                                          " but deposits - withdrawals changed by " + ToString(expected)};
  }
  for (const auto& [asset, change] : supply_change)
    if (change != 0 && !balance_change.count(asset))
      return {Code::kInvariantBroken, "supply of " + asset + " changed by " + ToString(change) + " with no balance change"};
  return Result::Ok();
}

}  // namespace kontor::contracts
