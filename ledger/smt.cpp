#include "ledger/smt.h"

#include <algorithm>
#include <span>

#include "ledger/check.h"
#include "ledger/hash.h"
#include "ledger/limits.h"

namespace kontor {

struct SparseMerkleTree::Node {
  Hash256 hash;
  bool leaf = false;
  Hash256 key;         // leaf only
  Hash256 value_hash;  // leaf only
  NodePtr left, right; // internal only; at least two leaves below
  size_t leaves = 0;
};

namespace {

using Node = SparseMerkleTree::Node;
using NodePtr = SparseMerkleTree::NodePtr;
using Change = SparseMerkleTree::Change;
using Changes = std::span<const Change>;
const Hash256 kEmptyHash{};

const Hash256& HashOf(const NodePtr& n) { return n ? n->hash : kEmptyHash; }

NodePtr MakeLeaf(const Hash256& key, const Hash256& value_hash) {
  auto n = std::make_shared<Node>();
  n->leaf = true;
  n->key = key;
  n->value_hash = value_hash;
  n->hash = StateLeafHash(key, value_hash);
  n->leaves = 1;
  return n;
}

// The subtree with these two children, collapsed so that a lone leaf stands for its subtree.
NodePtr Join(NodePtr left, NodePtr right) {
  if (!left && !right) return nullptr;
  if (!right && left->leaf) return left;
  if (!left && right->leaf) return right;
  auto n = std::make_shared<Node>();
  n->hash = StateNodeHash(HashOf(left), HashOf(right));
  n->leaves = (left ? left->leaves : 0) + (right ? right->leaves : 0);
  n->left = std::move(left);
  n->right = std::move(right);
  return n;
}

// First change whose key has bit `depth` set (changes are sorted, all share the path so far).
size_t SplitPoint(Changes changes, int depth) {
  return static_cast<size_t>(
      std::partition_point(changes.begin(), changes.end(), [depth](const Change& c) { return !c.first.Bit(depth); }) -
      changes.begin());
}

NodePtr Build(int depth, Changes changes) {
  // Only insertions reach here (removals of absent keys are dropped by the caller).
  if (changes.empty()) return nullptr;
  if (changes.size() == 1) return MakeLeaf(changes[0].first, *changes[0].second);
  KONTOR_CHECK(depth < 256);
  size_t split = SplitPoint(changes, depth);
  return Join(Build(depth + 1, changes.subspan(0, split)), Build(depth + 1, changes.subspan(split)));
}

NodePtr Update(const NodePtr& node, int depth, Changes changes) {
  if (changes.empty()) return node;
  if (!node || node->leaf) {
    // Merge the existing leaf (if any) into the changes, then build from scratch.
    std::vector<Change> merged;
    merged.reserve(changes.size() + 1);
    bool existing_pending = node != nullptr;
    for (const Change& c : changes) {
      if (existing_pending && node->key <= c.first) {
        if (node->key < c.first) merged.emplace_back(node->key, node->value_hash);
        existing_pending = false;
      }
      if (c.second) merged.push_back(c);
    }
    if (existing_pending) merged.emplace_back(node->key, node->value_hash);
    return Build(depth, merged);
  }
  KONTOR_CHECK(depth < 256);
  size_t split = SplitPoint(changes, depth);
  NodePtr left = Update(node->left, depth + 1, changes.subspan(0, split));
  NodePtr right = Update(node->right, depth + 1, changes.subspan(split));
  if (left == node->left && right == node->right) return node;
  return Join(std::move(left), std::move(right));
}

}  // namespace

Hash256 StateValueHash(std::string_view value) {
  static const TaggedHasher& h = Tagged(tags::kStateValue);
  return h.Hash(value);
}

Hash256 StateLeafHash(const Hash256& key, const Hash256& value_hash) {
  static const TaggedHasher& h = Tagged(tags::kStateLeaf);
  return h.Hash(key.view(), value_hash.view());
}

Hash256 StateNodeHash(const Hash256& left, const Hash256& right) {
  static const TaggedHasher& h = Tagged(tags::kStateNode);
  return h.Hash(left.view(), right.view());
}

Hash256 SparseMerkleTree::root_hash() const { return HashOf(root_); }
size_t SparseMerkleTree::size() const { return root_ ? root_->leaves : 0; }

SparseMerkleTree SparseMerkleTree::Apply(const std::vector<Change>& changes) const {
  for (size_t i = 1; i < changes.size(); ++i) KONTOR_CHECK(changes[i - 1].first < changes[i].first);
  return SparseMerkleTree(Update(root_, 0, changes));
}

StateProof SparseMerkleTree::Prove(const Hash256& key) const {
  StateProof proof;
  const Node* node = root_.get();
  int depth = 0;
  while (node && !node->leaf) {
    bool right = key.Bit(depth);
    proof.siblings.push_back(HashOf(right ? node->left : node->right));
    node = (right ? node->right : node->left).get();
    ++depth;
  }
  if (node) {
    proof.terminal_is_leaf = true;
    proof.leaf_key = node->key;
    proof.leaf_value_hash = node->value_hash;
  }
  return proof;
}

Result StateProofFromWire(const std::vector<std::string_view>& siblings, bool terminal_is_leaf, std::string_view leaf_key,
                          std::string_view leaf_value_hash, StateProof* out) {
  if (siblings.size() > limits::kStateProofDepthMax)
    return {Code::kMalformed, "proof has " + std::to_string(siblings.size()) + " siblings; at most " +
                                  std::to_string(limits::kStateProofDepthMax)};
  StateProof p;
  for (size_t i = 0; i < siblings.size(); ++i) {
    if (siblings[i].size() != 32)
      return {Code::kMalformed, "proof sibling " + std::to_string(i) + " is " + std::to_string(siblings[i].size()) +
                                    " bytes, not 32"};
    p.siblings.push_back(Hash256::FromBytes(siblings[i]));
  }
  p.terminal_is_leaf = terminal_is_leaf;
  if (terminal_is_leaf) {
    if (leaf_key.size() != 32) return {Code::kMalformed, "proof leaf_key is " + std::to_string(leaf_key.size()) + " bytes, not 32"};
    if (leaf_value_hash.size() != 32)
      return {Code::kMalformed, "proof leaf_value_hash is " + std::to_string(leaf_value_hash.size()) + " bytes, not 32"};
    p.leaf_key = Hash256::FromBytes(leaf_key);
    p.leaf_value_hash = Hash256::FromBytes(leaf_value_hash);
  } else if (!leaf_key.empty() || !leaf_value_hash.empty()) {
    return {Code::kMalformed, "proof ends in an empty subtree but carries a leaf"};
  }
  *out = std::move(p);
  return Result::Ok();
}

Result VerifyStateProof(const Hash256& root, const Hash256& key, const std::optional<std::string_view>& value,
                        const StateProof& proof) {
  if (proof.siblings.size() > limits::kStateProofDepthMax) return {Code::kMismatch, "proof is deeper than 256"};
  const size_t depth = proof.siblings.size();
  Hash256 h;
  if (value) {
    if (!proof.terminal_is_leaf || proof.leaf_key != key)
      return {Code::kMismatch, "proof does not end at the leaf of key " + key.hex()};
    if (proof.leaf_value_hash != StateValueHash(*value)) return {Code::kMismatch, "value differs from the proven leaf"};
    h = StateLeafHash(key, proof.leaf_value_hash);
  } else if (proof.terminal_is_leaf) {
    if (proof.leaf_key == key) return {Code::kMismatch, "proof shows key " + key.hex() + " is present"};
    // The other leaf must sit on the key's own path, or the proof places it somewhere else.
    for (size_t i = 0; i < depth; ++i)
      if (proof.leaf_key.Bit(static_cast<int>(i)) != key.Bit(static_cast<int>(i)))
        return {Code::kMismatch, "proof's terminal leaf is not on the key's path"};
    h = StateLeafHash(proof.leaf_key, proof.leaf_value_hash);
  } else {
    h = Hash256{};
  }
  for (size_t i = depth; i-- > 0;) {
    const Hash256& sibling = proof.siblings[i];
    h = key.Bit(static_cast<int>(i)) ? StateNodeHash(sibling, h) : StateNodeHash(h, sibling);
  }
  if (h != root) return {Code::kMismatch, "proof does not lead to root " + root.hex()};
  return Result::Ok();
}

}  // namespace kontor
