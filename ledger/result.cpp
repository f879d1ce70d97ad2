#include "ledger/result.h"

namespace kontor {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kMalformed: return "malformed";
    case Code::kNonCanonical: return "non_canonical";
    case Code::kTooLarge: return "too_large";
    case Code::kWrongChain: return "wrong_chain";
    case Code::kNoSigners: return "no_signers";
    case Code::kBadKey: return "bad_key";
    case Code::kBadAmount: return "bad_amount";
    case Code::kUnknownPayload: return "unknown_payload";
    case Code::kBadField: return "bad_field";
    case Code::kDuplicateSigner: return "duplicate_signer";
    case Code::kOverflow: return "overflow";
    case Code::kBadAddress: return "bad_address";
    case Code::kFeeTooLow: return "fee_too_low";
    case Code::kBadSignature: return "bad_signature";
    case Code::kMissingSignature: return "missing_signature";
    case Code::kUnexpectedSignature: return "unexpected_signature";
    case Code::kNotAuthorized: return "not_authorized";
    case Code::kBadNonce: return "bad_nonce";
    case Code::kExpired: return "expired";
    case Code::kUnknownAsset: return "unknown_asset";
    case Code::kUnknownAccount: return "unknown_account";
    case Code::kDuplicate: return "duplicate";
    case Code::kNotFound: return "not_found";
    case Code::kWrongState: return "wrong_state";
    case Code::kTooEarly: return "too_early";
    case Code::kTooLate: return "too_late";
    case Code::kMismatch: return "mismatch";
    case Code::kInsufficientFunds: return "insufficient_funds";
    case Code::kInsufficientEscrow: return "insufficient_escrow";
    case Code::kInsufficientCapacity: return "insufficient_capacity";
    case Code::kNonceGap: return "nonce_gap";
    case Code::kMempoolFull: return "mempool_full";
    case Code::kUnavailable: return "unavailable";
    case Code::kBadBlock: return "bad_block";
    case Code::kBadTxRoot: return "bad_tx_root";
    case Code::kBadStateRoot: return "bad_state_root";
    case Code::kBadCommit: return "bad_commit";
    case Code::kBadHeight: return "bad_height";
    case Code::kBadTime: return "bad_time";
    case Code::kBadPrevHash: return "bad_prev_hash";
    case Code::kBadTxInBlock: return "bad_tx_in_block";
    case Code::kInvariantBroken: return "invariant_broken";
    case Code::kStateMismatch: return "state_mismatch";
    case Code::kDoubleSign: return "double_sign";
    case Code::kStorage: return "storage";
    case Code::kCorruption: return "corruption";
    case Code::kIo: return "io";
    case Code::kEnvironment: return "environment";
  }
  return "unknown";
}

std::string_view CodeCategory(Code code) {
  auto n = static_cast<unsigned>(code);
  if (n == 0) return "ok";
  if (n < 200) return "malformed";
  if (n < 300) return "unauthorized";
  if (n < 400) return "state_conflict";
  if (n < 500) return "insufficient";
  if (n < 600) return "retry";
  if (n >= 700 && n < 800) return "invalid_block";
  return "internal";
}

std::string Result::ToString() const {
  if (ok()) return "ok";
  return std::string(CodeName(code_)) + " (" + std::to_string(static_cast<unsigned>(code_)) + "): " + message_;
}

std::string EchoInput(std::string_view input, size_t bytes_max) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < input.size() && i < bytes_max; ++i) {
    auto c = static_cast<unsigned char>(input[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  out += "'";
  if (input.size() > bytes_max) out += "...(" + std::to_string(input.size()) + " bytes)";
  return out;
}

}  // namespace kontor
