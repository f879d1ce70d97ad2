// The sparse Merkle state tree against a std::map. The input is a program: put, erase,
// commit (apply the pending changes as one batch) and prove, over keys that share long
// prefixes. Properties after every commit: the tree holds what the map holds; its root equals
// the root of a tree built from the map in one batch (the root depends on the contents only,
// not on the history); every proof verifies for the map's value and fails for another.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "ledger/hash.h"
#include "ledger/smt.h"
#include "tests/fuzz/fuzz_support.h"

using namespace kontor;

namespace {
Hash256 KeyFor(FuzzedDataProvider& in) {
  // 16 base keys; a key may flip one bit of its base, so paths share up to 255 bits.
  Hash256 k = Sha256("base " + std::to_string(in.ConsumeIntegralInRange<int>(0, 15)));
  if (in.ConsumeBool()) {
    int bit = in.ConsumeIntegralInRange<int>(0, 255);
    k.data[bit >> 3] ^= static_cast<uint8_t>(0x80 >> (bit & 7));
  }
  return k;
}

SparseMerkleTree FromModel(const std::map<Hash256, std::string>& model) {
  std::vector<SparseMerkleTree::Change> all;
  for (const auto& [k, v] : model) all.push_back({k, StateValueHash(v)});
  return SparseMerkleTree().Apply(all);
}
}  // namespace

// Seeds: short programs (put, put, commit, prove; erase, commit, prove).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("KONTOR_FUZZ_WRITE_SEEDS");
  if (!dir) return 0;
  const std::string seeds[] = {std::string("\x00\x01\x00\x03" "abc" "\x00\x02\x01\x00\x02\x03\x01\x00", 16),
                               std::string("\x00\x05\x01\x10\x02" "xy" "\x01\x05\x00\x02\x03\x05\x00\x03\x05\x01\x10", 18)};
  int n = 0;
  for (const auto& s : seeds) std::ofstream(std::filesystem::path(dir) / ("program-" + std::to_string(n++))) << s;
  std::exit(0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  std::map<Hash256, std::string> model;
  std::map<Hash256, std::optional<std::string>> pending;
  SparseMerkleTree tree;
  for (int steps = 0; steps < 512 && in.remaining_bytes() > 0; ++steps) {
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
      case 0: pending[KeyFor(in)] = in.ConsumeRandomLengthString(16); break;
      case 1: pending[KeyFor(in)] = std::nullopt; break;
      case 2: {
        std::vector<SparseMerkleTree::Change> changes;
        for (const auto& [k, v] : pending) {
          changes.push_back({k, v ? std::optional<Hash256>(StateValueHash(*v)) : std::nullopt});
          if (v) model[k] = *v;
          else model.erase(k);
        }
        pending.clear();
        tree = tree.Apply(changes);
        FUZZ_CHECK(tree.size() == model.size(), "size");
        FUZZ_CHECK(tree.root_hash() == FromModel(model).root_hash(), "root depends on the contents only");
        break;
      }
      case 3: {
        Hash256 k = KeyFor(in);
        StateProof proof = tree.Prove(k);
        auto it = model.find(k);
        std::optional<std::string_view> value;
        if (it != model.end()) value = it->second;
        FUZZ_CHECK(VerifyStateProof(tree.root_hash(), k, value, proof).ok(), "a proof of the true value verifies");
        std::string other = value ? std::string(*value) + "x" : "x";
        FUZZ_CHECK(!VerifyStateProof(tree.root_hash(), k, std::string_view(other), proof).ok(),
                   "a proof does not verify for another value");
        if (value) FUZZ_CHECK(!VerifyStateProof(tree.root_hash(), k, std::nullopt, proof).ok(), "present key proven absent");
        break;
      }
    }
  }
  return 0;
}
