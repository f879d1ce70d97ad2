// SHA-256 and BIP-340-style tagged hashes:
//   tagged_hash(tag, m) = SHA256(SHA256(tag) || SHA256(tag) || m)
// Every kind of hashed object has its own tag (see docs/protocol.md, "Tags"), so no two
// kinds of object can share a hash.
#pragma once

#include <string_view>

#include "ledger/bytes.h"

namespace kontor {

Hash256 Sha256(std::string_view data);

namespace tags {
inline constexpr std::string_view kTx = "kontor/tx";
inline constexpr std::string_view kBlock = "kontor/block";
inline constexpr std::string_view kVote = "kontor/vote";
inline constexpr std::string_view kCommit = "kontor/commit";
inline constexpr std::string_view kProposal = "kontor/proposal";
inline constexpr std::string_view kGenesis = "kontor/genesis";
inline constexpr std::string_view kValidators = "kontor/validators";
inline constexpr std::string_view kStateKey = "kontor/state/key";
inline constexpr std::string_view kStateValue = "kontor/state/value";
inline constexpr std::string_view kStateLeaf = "kontor/state/leaf";
inline constexpr std::string_view kStateNode = "kontor/state/node";
}  // namespace tags

// A tagged hasher with the 64-byte tag prefix absorbed once (midstate reused per hash).
// Thread-safe: Hash() copies the midstate.
class TaggedHasher {
 public:
  explicit TaggedHasher(std::string_view tag);
  ~TaggedHasher();
  TaggedHasher(const TaggedHasher&) = delete;
  TaggedHasher& operator=(const TaggedHasher&) = delete;

  Hash256 Hash(std::string_view data) const;
  Hash256 Hash(std::string_view a, std::string_view b) const;  // of a || b
  Hash256 Hash(std::string_view a, std::string_view b, std::string_view c) const;

 private:
  struct Impl;
  Impl* impl_;
};

// The shared hasher of a tag constant (created on first use).
const TaggedHasher& Tagged(std::string_view tag);
inline Hash256 TaggedHash(std::string_view tag, std::string_view data) { return Tagged(tag).Hash(data); }

}  // namespace kontor
