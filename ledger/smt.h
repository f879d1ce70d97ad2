// Authenticated state: a sparse Merkle tree over 256-bit keys.
//
// Defined as the full binary tree of depth 256 in which
//   hash(empty subtree)            = 32 zero bytes
//   hash(subtree with one leaf)    = leaf_hash = tagged_hash("kontor/state/leaf", key || value_hash)
//   hash(any other subtree)        = tagged_hash("kontor/state/node", hash(left) || hash(right))
// where the path of a key is its bits, most significant bit of byte 0 first (0 = left).
// A subtree holding a single leaf hashes to that leaf at any depth, so leaves sit just below
// the point where their path parts from every other key's: depth ~ log2(size), not 256.
// (Keys sharing a long prefix still get one internal node per shared bit, each with an empty
// sibling, exactly as the full-depth definition requires.)
//
// Trees are immutable and share structure: Apply returns a new tree and leaves this one
// intact, so keeping the trees of recent heights (to serve proofs) costs only their changed
// paths. Thread-safe for concurrent readers.
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/result.h"

namespace kontor {

Hash256 StateValueHash(std::string_view value);  // tagged_hash("kontor/state/value", value)
Hash256 StateLeafHash(const Hash256& key, const Hash256& value_hash);
Hash256 StateNodeHash(const Hash256& left, const Hash256& right);

// Proof that a key has a value, or has none, under a root.
struct StateProof {
  std::vector<Hash256> siblings;  // siblings from the root (depth 0) down to the terminal
  // The subtree reached by following the key's path for siblings.size() steps:
  bool terminal_is_leaf = false;  // false: an empty subtree
  Hash256 leaf_key;               // if a leaf: its key (== key for membership)
  Hash256 leaf_value_hash;
};

// A proof as it travels (kontor.v1.StateProof's fields), checked for shape: at most 256
// siblings, each and the leaf's key and value hash exactly 32 bytes. Errors: kMalformed naming
// the field. Never trusts the sender: any bytes give a Result, not a crash.
Result StateProofFromWire(const std::vector<std::string_view>& siblings, bool terminal_is_leaf, std::string_view leaf_key,
                          std::string_view leaf_value_hash, StateProof* out);

// Membership (value set) or non-membership (value nullopt) of `key` under `root`.
// Errors: kMismatch with what failed.
Result VerifyStateProof(const Hash256& root, const Hash256& key, const std::optional<std::string_view>& value,
                        const StateProof& proof);

class SparseMerkleTree {
 public:
  struct Node;
  using NodePtr = std::shared_ptr<const Node>;
  // A change: set key to value_hash, or remove the key (nullopt).
  using Change = std::pair<Hash256, std::optional<Hash256>>;

  SparseMerkleTree() = default;
  Hash256 root_hash() const;
  size_t size() const;  // number of leaves

  // REQUIRES: changes sorted by key with no duplicate keys.
  SparseMerkleTree Apply(const std::vector<Change>& changes) const;
  StateProof Prove(const Hash256& key) const;

 private:
  explicit SparseMerkleTree(NodePtr root) : root_(std::move(root)) {}
  NodePtr root_;
};

}  // namespace kontor
