// Transactions: decoding with every stateless check, txid, signatures.
//   txid = tagged_hash("kontor/tx", body bytes)
//   each signer signs the 32-byte txid with BIP-340
#pragma once

#include <string_view>
#include <vector>

#include "kontor/v1/tx.pb.h"
#include "ledger/bytes.h"
#include "ledger/keys.h"
#include "ledger/result.h"

namespace kontor {

struct DecodedTx {
  Bytes envelope;             // the exact bytes of the Tx
  v1::Tx tx;
  v1::TxBody body;
  Hash256 txid;
  Hash256 envelope_hash;      // SHA-256 of the envelope: key of the signature cache
  std::vector<PublicKey> signers;
  const PublicKey& fee_payer() const { return signers.front(); }
};

Hash256 ComputeTxid(std::string_view body_bytes);

// Decodes an envelope and runs the stateless checks that need no application knowledge:
// sizes, canonical envelope and body, chain id, signers (1..8, distinct, 32 bytes), and one
// signature per signer in signer order. Signatures are NOT verified here, and neither is that
// signer keys are curve points: VerifyTxSignatures does both (kBadKey or kBadSignature).
Result DecodeTx(std::string_view envelope, std::string_view chain_id, DecodedTx* out);

// Verifies every signature of a decoded tx (kBadSignature names the signer).
Result VerifyTxSignatures(const DecodedTx& tx);

// Building: canonical body bytes, then signatures. `SignTx` adds or replaces the signature of
// `key` (which must be a signer) in signer order, leaving the others, so parties can sign one
// after another on different machines.
Bytes EncodeTxBody(const v1::TxBody& body);
Result SignTx(v1::Tx* tx, const PrivateKey& key, RandomSource& random);
Bytes EncodeTx(const v1::Tx& tx);

}  // namespace kontor
