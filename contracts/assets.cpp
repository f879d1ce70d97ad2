// Bridged assets: the gateway records deposits from the external chain; holders withdraw to it.
// Every movement changes the asset record's deposited/withdrawn totals (128-bit lifetime sums), so
// the supply invariant (balances + escrow = genesis + deposited - withdrawn) accounts for it; what
// is outstanding, genesis + deposited - withdrawn, stays within 64 bits.
#include "contracts/families.h"
#include "contracts/records.h"
#include "ledger/accounts.h"
#include "ledger/bech32m.h"
#include "ledger/limits.h"

namespace kontor::contracts {

Result CheckAssetDeposit(const DecodedTx& tx) {
  const auto& d = tx.body.asset_deposit();
  if (d.amount() == 0) return {Code::kBadAmount, "deposit amount must be greater than zero"};
  KONTOR_RETURN_IF_ERROR(CheckKeyField(d.beneficiary(), "deposit beneficiary"));
  KONTOR_RETURN_IF_ERROR(CheckExternalField(d.network(), "deposit network"));
  KONTOR_RETURN_IF_ERROR(CheckExternalField(d.external_txid(), "deposit external tx id"));
  if (d.asset().empty() || d.asset().size() > limits::kAssetSymbolBytesMax) return {Code::kBadField, "asset symbol must be 1..16 bytes"};
  return Result::Ok();
}

Result ApplyAssetDeposit(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  const auto& d = tx.body.asset_deposit();
  auto asset = LoadAsset(s, d.asset());
  if (!asset) return {Code::kUnknownAsset, "asset '" + d.asset() + "' does not exist on this chain"};
  if (asset->gateway().empty()) return {Code::kWrongState, "asset '" + d.asset() + "' is not bridged: it has no gateway"};
  if (asset->gateway() != tx.fee_payer().view())
    return {Code::kNotAuthorized, "only the gateway of " + d.asset() + " (" + EncodeAddress(Hash256::FromBytes(asset->gateway())) +
                                      ") records deposits"};
  std::string marker_id = ExternalTxId(d.network(), d.external_txid());
  if (auto used = Load<v1::ExternalTx>(s, Kind::kExternalTx, marker_id))
    return {Code::kDuplicate, "external tx " + d.external_txid() + " on " + d.network() + " was already recorded at height " +
                                  std::to_string(used->height())};
  PublicKey beneficiary = Hash256::FromBytes(d.beneficiary());
  KONTOR_RETURN_IF_ERROR(CheckRecipient(s, beneficiary, "deposit beneficiary"));
  // The lifetime total is 128 bits wide: deposits and withdrawals may go on for ever (2^64
  // deposits of 2^64-1 units each would be needed to reach the bound).
  const unsigned __int128 deposited = DepositedTotal(*asset);
  if (deposited > ~static_cast<unsigned __int128>(0) - d.amount())
    return {Code::kOverflow, "total deposits of " + d.asset() + " would exceed 2^128-1"};
  // What is outstanding fits 64 bits, so no balance or escrow can overflow when credited (the
  // ledger's own payments at end of block rely on it).
  std::optional<uint64_t> outstanding = OutstandingSupply(*asset);
  if (!outstanding || *outstanding > UINT64_MAX - d.amount())
    return {Code::kOverflow, "the supply of " + d.asset() + " would exceed 2^64-1"};
  SetDepositedTotal(&*asset, deposited + d.amount());
  v1::Account account = LoadAccount(s, beneficiary);
  KONTOR_RETURN_IF_ERROR(Credit(&account, d.asset(), d.amount()));
  StoreAccount(s, beneficiary, account);
  StoreAsset(s, *asset);
  v1::ExternalTx marker;
  marker.set_network(d.network());
  marker.set_external_txid(d.external_txid());
  marker.set_height(env.height);
  Store(s, Kind::kExternalTx, marker_id, marker);
  return Result::Ok();
}

Result CheckAssetWithdraw(const DecodedTx& tx) {
  const auto& w = tx.body.asset_withdraw();
  if (w.amount() == 0) return {Code::kBadAmount, "withdrawal amount must be greater than zero"};
  if (w.asset().empty() || w.asset().size() > limits::kAssetSymbolBytesMax) return {Code::kBadField, "asset symbol must be 1..16 bytes"};
  KONTOR_RETURN_IF_ERROR(CheckExternalField(w.network(), "withdrawal network"));
  KONTOR_RETURN_IF_ERROR(CheckExternalField(w.destination(), "withdrawal destination"));
  return Result::Ok();
}

Result ApplyAssetWithdraw(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  const auto& w = tx.body.asset_withdraw();
  auto asset = LoadAsset(s, w.asset());
  if (!asset) return {Code::kUnknownAsset, "asset '" + w.asset() + "' does not exist on this chain"};
  if (asset->gateway().empty()) return {Code::kWrongState, "asset '" + w.asset() + "' is not bridged: it cannot be withdrawn"};
  v1::Account account = LoadAccount(s, tx.fee_payer());
  Result r = Debit(&account, w.asset(), w.amount(), tx.fee_payer());
  if (!r.ok())
    return {r.code(), "balance " + FormatAmount(BalanceOf(account, w.asset()), asset->decimals(), w.asset()) + " < " +
                          FormatAmount(w.amount(), asset->decimals(), w.asset()) + " to withdraw"};
  const unsigned __int128 withdrawn = WithdrawnTotal(*asset);
  if (withdrawn > ~static_cast<unsigned __int128>(0) - w.amount())
    return {Code::kOverflow, "total withdrawals would exceed 2^128-1"};
  SetWithdrawnTotal(&*asset, withdrawn + w.amount());
  StoreAccount(s, tx.fee_payer(), account);
  StoreAsset(s, *asset);
  return Result::Ok();
}

}  // namespace kontor::contracts
