// Never sign twice. A validator's last signed (height, round, step, block) is persisted and
// fsynced before a signature leaves this class, so after any crash it cannot sign a message that
// conflicts with one it already sent (CometBFT's "last sign state").
//
// Steps are ordered proposal < prevote < precommit. A request for a (height, round, step):
//   - below the last signed one: refused (kDoubleSign), whatever the block;
//   - equal to it: the same block gets the same signature and timestamp back (a re-send after a
//     restart), another block is refused (it would be equivocation);
//   - above it: signed, persisted, then returned.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "ledger/keys.h"
#include "ledger/result.h"
#include "node/consensus/types.h"

namespace kontor::node {

enum class SignStep : uint8_t { kProposal = 1, kPrevote = 2, kPrecommit = 3 };

struct SignRequest {
  uint64_t height = 0;
  uint32_t round = 0;
  SignStep step = SignStep::kPrevote;
  std::optional<Hash256> block;  // nil votes: nullopt
  uint64_t timestamp_ms = 0;
  Hash256 message;               // what is signed (vote or proposal message, docs/protocol.md §9)
};

struct Signed {
  std::string signature;   // 64 bytes
  uint64_t timestamp_ms;   // the request's, or the earlier one's when it is a re-send
  bool resent = false;     // the same message was signed before: this is that signature
};

class SignGuard {
 public:
  // Loads `path` (created on first signature). A damaged file is kCorruption: the validator must
  // not sign until an operator looks (docs/operator.md "after a crash").
  static Result Open(const std::filesystem::path& path, const PrivateKey* key, std::unique_ptr<SignGuard>* out);

  // Signs `req.message` if allowed (see above). For a re-send the caller must use the returned
  // timestamp, which is part of the signed message.
  Result Sign(const SignRequest& req, Signed* out);

  // The last signed position, for logs and tests.
  struct Last {
    uint64_t height = 0;
    uint32_t round = 0;
    SignStep step = SignStep::kProposal;
    std::optional<Hash256> block;
    uint64_t timestamp_ms = 0;
    std::string signature;
    Hash256 message;
  };
  const std::optional<Last>& last() const { return last_; }

 private:
  SignGuard(std::filesystem::path path, const PrivateKey* key) : path_(std::move(path)), key_(key) {}
  Result Persist(const Last& next) const;

  std::filesystem::path path_;
  const PrivateKey* key_;
  std::optional<Last> last_;
};

}  // namespace kontor::node
