#include "contracts/transfer.h"

#include "ledger/accounts.h"
#include "ledger/bech32m.h"
#include "ledger/limits.h"

namespace kontor::contracts {

Result CheckTransfer(const DecodedTx& tx) {
  const v1::Transfer& t = tx.body.transfer();
  if (tx.signers.size() != 1) return {Code::kBadField, "a transfer has exactly one signer (the sender)"};
  if (t.to().size() != 32) return {Code::kBadKey, "transfer recipient must be a 32-byte key"};
  if (t.asset().empty() || t.asset().size() > limits::kAssetSymbolBytesMax)
    return {Code::kBadField, "transfer asset symbol must be 1..16 bytes"};
  if (t.amount() == 0) return {Code::kBadAmount, "transfer amount must be greater than zero"};
  if (t.memo().size() > limits::kMemoBytesMax)
    return {Code::kTooLarge, "transfer memo is " + std::to_string(t.memo().size()) + " bytes; at most 256"};
  return Result::Ok();
}

Result ApplyTransfer(const DecodedTx& tx, const BlockEnv& env, StateDelta& sandbox) {
  const v1::Transfer& t = tx.body.transfer();
  auto asset = LoadAsset(sandbox, t.asset());
  if (!asset) return {Code::kUnknownAsset, "asset '" + t.asset() + "' does not exist on this chain"};
  PublicKey to = Hash256::FromBytes(t.to());
  // An existing account's key was checked when it was created; only a new one needs the
  // (square-root) curve check, so funds can never go to a key nobody can sign for.
  if (!sandbox.Get(AccountKey(to)) && !IsValidPublicKey(to))
    return {Code::kBadKey, "transfer recipient " + HexEncode(t.to()) + " is not a point on secp256k1"};
  Result r = TransferBalance(sandbox, tx.fee_payer(), to, t.asset(), t.amount());
  if (r.code() == Code::kInsufficientFunds) {
    uint64_t have = BalanceOf(LoadAccount(sandbox, tx.fee_payer()), t.asset());
    return {Code::kInsufficientFunds, "balance " + FormatAmount(have, asset->decimals(), t.asset()) + " < " +
                                          FormatAmount(t.amount(), asset->decimals(), t.asset()) + " to transfer from " +
                                          EncodeAddress(tx.fee_payer())};
  }
  return r;
}

}  // namespace kontor::contracts
