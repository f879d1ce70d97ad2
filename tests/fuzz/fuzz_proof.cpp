// State proofs as a node's reply carries them (kontor.v1.QueryStateResponse), checked the way
// the CLI and auditors check them: shape (StateProofFromWire), then VerifyStateProof against a
// real tree's root. Property (soundness): a proof that verifies for a key claims exactly what
// the tree holds: the true value for a present key, absence for an absent one.
#include <map>
#include <optional>

#include "kontor/v1/node.pb.h"
#include "ledger/hash.h"
#include "ledger/smt.h"
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include "tests/fuzz/fuzz_support.h"

using namespace kontor;

namespace {
struct Tree {
  SparseMerkleTree tree;
  std::map<Hash256, std::string> values;
  std::vector<Hash256> keys;  // present keys, and absent ones near them
};

const Tree& TheTree() {
  static const Tree* t = [] {
    auto* t = new Tree;
    std::vector<SparseMerkleTree::Change> changes;
    for (int i = 0; i < 64; ++i) {
      Hash256 k = Sha256("key " + std::to_string(i));
      t->values[k] = "value " + std::to_string(i);
    }
    for (const auto& [k, v] : t->values) changes.push_back({k, StateValueHash(v)});
    t->tree = SparseMerkleTree().Apply(changes);
    for (const auto& [k, v] : t->values) {
      t->keys.push_back(k);
      Hash256 near = k;
      near.data[31] ^= 1;  // shares 255 bits with a present key
      t->keys.push_back(near);
    }
    return t;
  }();
  return *t;
}
}  // namespace

// Seeds: the true proofs of present and absent keys, claiming the truth.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("KONTOR_FUZZ_WRITE_SEEDS");
  if (!dir) return 0;
  const Tree& t = TheTree();
  for (size_t i = 0; i < 8; ++i) {
    const Hash256& key = t.keys[i];
    StateProof proof = t.tree.Prove(key);
    v1::QueryStateResponse reply;
    auto it = t.values.find(key);
    if (it != t.values.end()) reply.set_value(it->second);
    for (const auto& s : proof.siblings) reply.mutable_proof()->add_siblings(s.bytes());
    reply.mutable_proof()->set_terminal_is_leaf(proof.terminal_is_leaf);
    if (proof.terminal_is_leaf) {
      reply.mutable_proof()->set_leaf_key(proof.leaf_key.bytes());
      reply.mutable_proof()->set_leaf_value_hash(proof.leaf_value_hash.bytes());
    }
    std::ofstream(std::filesystem::path(dir) / ("proof-" + std::to_string(i)))
        << static_cast<char>(i) << static_cast<char>(it != t.values.end()) << reply.SerializeAsString();
  }
  std::exit(0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Tree& t = TheTree();
  if (size < 2) return 0;
  const Hash256& key = t.keys[data[0] % t.keys.size()];
  const bool claim_present = data[1] & 1;
  v1::QueryStateResponse reply;
  if (!reply.ParseFromArray(data + 2, static_cast<int>(size - 2))) return 0;
  std::vector<std::string_view> siblings(reply.proof().siblings().begin(), reply.proof().siblings().end());
  StateProof proof;
  if (!StateProofFromWire(siblings, reply.proof().terminal_is_leaf(), reply.proof().leaf_key(),
                          reply.proof().leaf_value_hash(), &proof).ok())
    return 0;
  std::optional<std::string_view> value;
  if (claim_present) value = reply.value();
  if (!VerifyStateProof(t.tree.root_hash(), key, value, proof).ok()) return 0;
  auto it = t.values.find(key);
  if (claim_present) {
    FUZZ_CHECK(it != t.values.end() && it->second == reply.value(), "a membership proof verified for a wrong value");
  } else {
    FUZZ_CHECK(it == t.values.end(), "an absence proof verified for a present key");
  }
  return 0;
}
