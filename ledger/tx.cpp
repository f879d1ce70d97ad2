#include "ledger/tx.h"

#include <algorithm>

#include "ledger/bech32m.h"
#include "ledger/codec.h"
#include "ledger/hash.h"
#include "ledger/limits.h"

namespace kontor {

Hash256 ComputeTxid(std::string_view body_bytes) {
  static const TaggedHasher& hasher = Tagged(tags::kTx);
  return hasher.Hash(body_bytes);
}

Result DecodeTx(std::string_view envelope, std::string_view chain_id, DecodedTx* out) {
  if (envelope.empty()) return {Code::kMalformed, "the tx is empty (0 bytes)"};
  KONTOR_RETURN_IF_ERROR(DecodeCanonical(envelope, limits::kTxBytesMax, "tx", &out->tx));
  // Known as soon as the envelope decodes, so even a rejection can name its tx.
  out->txid = ComputeTxid(out->tx.body());
  KONTOR_RETURN_IF_ERROR(DecodeCanonical(out->tx.body(), limits::kTxBytesMax, "tx body", &out->body));
  const v1::TxBody& body = out->body;
  if (out->tx.body().empty()) return {Code::kMalformed, "the tx has no body"};
  if (body.chain_id() != chain_id)
    return {Code::kWrongChain, (body.chain_id().empty() ? std::string("tx names no chain") : "tx is for chain " + EchoInput(body.chain_id())) +
                                   ", this is '" + std::string(chain_id) + "'"};
  if (body.signers_size() == 0) return {Code::kNoSigners, "tx has no signers"};
  if (static_cast<size_t>(body.signers_size()) > limits::kTxSignersMax)
    return {Code::kTooLarge, "tx has " + std::to_string(body.signers_size()) + " signers; at most 8 allowed"};
  out->signers.clear();
  for (const std::string& s : body.signers()) {
    if (s.size() != 32) return {Code::kBadKey, "signer key is " + std::to_string(s.size()) + " bytes, expected 32"};
    PublicKey key = Hash256::FromBytes(s);
    if (std::find(out->signers.begin(), out->signers.end(), key) != out->signers.end())
      return {Code::kDuplicateSigner, "signer " + EncodeAddress(key) + " is listed twice"};
    out->signers.push_back(key);
  }
  if (body.payload_case() == v1::TxBody::PAYLOAD_NOT_SET) return {Code::kUnknownPayload, "tx body has no payload"};
  const auto& sigs = out->tx.signatures();
  for (int i = 0; i < sigs.size(); ++i) {
    if (sigs[i].signer().size() != 32 || sigs[i].signature().size() != 64)
      return {Code::kMalformed, "signature " + std::to_string(i) + " must be a 32-byte key and a 64-byte signature"};
    PublicKey key = Hash256::FromBytes(sigs[i].signer());
    if (std::find(out->signers.begin(), out->signers.end(), key) == out->signers.end())
      return {Code::kUnexpectedSignature, "tx carries a signature by " + EncodeAddress(key) + ", which is not a signer"};
  }
  for (size_t i = 0; i < out->signers.size(); ++i) {
    bool signed_somewhere = false;
    for (const auto& s : sigs) signed_somewhere |= s.signer() == out->signers[i].view();
    if (signed_somewhere && (static_cast<int>(i) >= sigs.size() || sigs[static_cast<int>(i)].signer() != out->signers[i].view()))
      return {Code::kNonCanonical, "signatures are not in the order of the signers (signer " + std::to_string(i + 1) +
                                       " signed at another position)"};
    if (static_cast<int>(i) >= sigs.size() || sigs[static_cast<int>(i)].signer() != out->signers[i].view())
      return {Code::kMissingSignature, "signer " + std::to_string(i + 1) + " of " + std::to_string(out->signers.size()) +
                                           " (" + EncodeAddress(out->signers[i]) + ") has not signed"};
  }
  if (static_cast<size_t>(sigs.size()) != out->signers.size())
    return {Code::kUnexpectedSignature, "tx carries more signatures than signers"};
  out->envelope.assign(envelope);
  out->envelope_hash = Sha256(envelope);
  return Result::Ok();
}

Result VerifyTxSignatures(const DecodedTx& tx) {
  for (size_t i = 0; i < tx.signers.size(); ++i) {
    if (!VerifySignature(tx.signers[i], tx.txid, tx.tx.signatures(static_cast<int>(i)).signature())) {
      // Parsing the key is part of verifying; only on failure do we ask which part failed.
      if (!IsValidPublicKey(tx.signers[i]))
        return {Code::kBadKey, "signer key " + tx.signers[i].hex() + " is not a point on secp256k1"};
      return {Code::kBadSignature, "signature of " + EncodeAddress(tx.signers[i]) + " does not verify for tx " + tx.txid.hex()};
    }
  }
  return Result::Ok();
}

Bytes EncodeTxBody(const v1::TxBody& body) { return CanonicalBytes(body); }
Bytes EncodeTx(const v1::Tx& tx) { return CanonicalBytes(tx); }

Result SignTx(v1::Tx* tx, const PrivateKey& key, RandomSource& random) {
  v1::TxBody body;
  KONTOR_RETURN_IF_ERROR(DecodeCanonical(tx->body(), limits::kTxBytesMax, "tx body", &body));
  const PublicKey& me = key.public_key();
  auto pos = std::find(body.signers().begin(), body.signers().end(), me.view());
  if (pos == body.signers().end())
    return {Code::kNotAuthorized, "key " + EncodeAddress(me) + " is not a signer of this tx"};
  Signature64 sig = key.Sign(ComputeTxid(tx->body()), random.Array<32>());
  // Rebuild the signature list in signer order, keeping the other parties' signatures.
  std::vector<v1::Signature> ordered;
  for (const std::string& signer : body.signers()) {
    if (signer == me.view()) {
      v1::Signature s;
      s.set_signer(signer);
      s.set_signature(std::string(reinterpret_cast<const char*>(sig.data()), 64));
      ordered.push_back(std::move(s));
      continue;
    }
    for (const auto& existing : tx->signatures())
      if (existing.signer() == signer) ordered.push_back(existing);
  }
  tx->clear_signatures();
  for (auto& s : ordered) *tx->add_signatures() = std::move(s);
  return Result::Ok();
}

}  // namespace kontor
