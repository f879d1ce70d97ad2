// Accounts: per key, the next nonce and a balance per asset. The ledger owns them because the
// envelope's nonce and fee live here; applications move balances through these helpers so
// every change is checked for overflow and for going negative in one place.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "kontor/v1/state.pb.h"
#include "ledger/keys.h"
#include "ledger/result.h"
#include "ledger/state.h"

namespace kontor {

inline Hash256 AccountKey(const PublicKey& key) { return StateKey(RecordKind::kAccount, key.view()); }
inline Hash256 AssetKey(std::string_view symbol) { return StateKey(RecordKind::kAsset, symbol); }

// Missing account = nonce 0, no balances.
v1::Account LoadAccount(const StateView& view, const PublicKey& key);
void StoreAccount(StateDelta& delta, const PublicKey& key, const v1::Account& account);

uint64_t BalanceOf(const v1::Account& account, std::string_view asset);
// Errors: kOverflow.
Result Credit(v1::Account* account, std::string_view asset, uint64_t amount);
// Errors: kInsufficientFunds ("balance 120 USDC < 500 USDC" in the smallest unit).
Result Debit(v1::Account* account, std::string_view asset, uint64_t amount, const PublicKey& owner);

std::optional<v1::Asset> LoadAsset(const StateView& view, std::string_view symbol);
void StoreAsset(StateDelta& delta, const v1::Asset& asset);
// An asset's lifetime totals: `deposited` + 2^64 x `deposited_hi`, and the same for withdrawn.
unsigned __int128 DepositedTotal(const v1::Asset& asset);
unsigned __int128 WithdrawnTotal(const v1::Asset& asset);
void SetDepositedTotal(v1::Asset* asset, unsigned __int128 total);
void SetWithdrawnTotal(v1::Asset* asset, unsigned __int128 total);
// The outstanding supply genesis_supply + deposited - withdrawn, computed exactly; nullopt if it
// is not within 0..2^64-1 (which the deposit rule and invariant S3 never let happen).
std::optional<uint64_t> OutstandingSupply(const v1::Asset& asset);

// Moves `amount` of `asset` between two accounts in `delta` (from may equal to).
Result TransferBalance(StateDelta& delta, const PublicKey& from, const PublicKey& to, std::string_view asset,
                       uint64_t amount);

// "1.500000 USDC" from 1500000 with 6 decimals.
std::string FormatAmount(uint64_t amount, uint32_t decimals, std::string_view symbol);

}  // namespace kontor
