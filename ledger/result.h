// Result codes: every rejection has a stable number and a message a person can act on.
// Numbers never change meaning once released; ranges group them by what the caller should do
// (after rippled's TER ranges):
//   0          ok
//   100..199   malformed      the bytes themselves are wrong; resubmitting never helps
//   200..299   unauthorized   a signature or signer is missing or not allowed to do this
//   300..399   state conflict the ledger's current state does not allow it
//   400..499   insufficient   not enough funds, escrow or capacity
//   500..599   retry          may succeed later (nonce gap, mempool full)
//   700..799   invalid block  a block or commit certificate does not verify
//   900..999   internal       storage or environment failure (not the submitter's fault)
// The full table is in docs/protocol.md ("Result codes").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kontor {

enum class Code : uint16_t {
  kOk = 0,

  kMalformed = 100,            // cannot be decoded
  kNonCanonical = 101,         // decodes, but is not the canonical encoding
  kTooLarge = 102,             // a size limit is exceeded
  kWrongChain = 103,           // chain id differs
  kNoSigners = 104,
  kBadKey = 105,               // a key is not a valid x-only secp256k1 point
  kBadAmount = 106,            // zero, or out of range
  kUnknownPayload = 107,
  kBadField = 108,             // a field value is outside its allowed set or shape
  kDuplicateSigner = 109,
  kOverflow = 110,             // an amount computation would overflow
  kBadAddress = 111,           // bech32m address does not decode
  kFeeTooLow = 112,

  kBadSignature = 200,         // a signature does not verify
  kMissingSignature = 201,     // a signer did not sign
  kUnexpectedSignature = 202,  // a signature by a key that is not a signer
  kNotAuthorized = 203,        // the signer may not perform this action

  kBadNonce = 300,             // nonce already used
  kExpired = 301,              // expiry height passed
  kUnknownAsset = 302,
  kUnknownAccount = 303,
  kDuplicate = 304,            // already applied / already exists
  kNotFound = 305,
  kWrongState = 306,           // record is not in a state that allows this transition
  kTooEarly = 307,
  kTooLate = 308,
  kMismatch = 309,             // a stated value differs from the ledger's computation

  kInsufficientFunds = 400,
  kInsufficientEscrow = 401,
  kInsufficientCapacity = 402,

  kNonceGap = 500,             // nonce is ahead of the account's; retry after the gap fills
  kMempoolFull = 501,
  kUnavailable = 502,

  kBadBlock = 700,             // header fields or links are wrong
  kBadTxRoot = 701,
  kBadStateRoot = 702,
  kBadCommit = 703,
  kBadHeight = 704,
  kBadTime = 705,
  kBadPrevHash = 706,
  kBadTxInBlock = 707,
  kInvariantBroken = 708,
  kStateMismatch = 709,
  kDoubleSign = 710,           // a validator would sign a second, conflicting vote or proposal

  kStorage = 900,
  kCorruption = 901,
  kIo = 902,
  kEnvironment = 903,          // the build or machine is unfit to run (e.g. a protobuf library that writes other bytes)
};

// Stable snake_case name of a code, e.g. "bad_nonce".
std::string_view CodeName(Code code);
// The category of a code's range: "malformed", "unauthorized", ...
std::string_view CodeCategory(Code code);

// A value, not an exception: cheap on success, carries code + message on failure.
class [[nodiscard]] Result {
 public:
  Result() = default;
  Result(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Result Ok() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "bad_nonce (300): nonce 7 expected, got 9"
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// A piece of a sender's input quoted for an error message: at most `bytes_max` bytes (then
// "…(N bytes)"), control and non-ASCII bytes as \xNN. Errors never echo input whole: a long
// chain id must not push a reply past a client's metadata limit and lose the real error.
std::string EchoInput(std::string_view input, size_t bytes_max = 64);

#define KONTOR_RETURN_IF_ERROR(expr)      \
  do {                                    \
    ::kontor::Result result__ = (expr);   \
    if (!result__.ok()) return result__;  \
  } while (0)

}  // namespace kontor
