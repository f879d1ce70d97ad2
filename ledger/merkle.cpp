#include "ledger/merkle.h"

#include <cryptopp/sha.h>

#include "ledger/check.h"
#include "ledger/hash.h"

namespace kontor {
namespace {

using Span = std::span<const Hash256>;

uint64_t LargestPowerOfTwoBelow(uint64_t n) {  // REQUIRES: n >= 2
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

Hash256 Root(Span leaves) {
  if (leaves.empty()) return Sha256("");
  if (leaves.size() == 1) return leaves[0];
  uint64_t k = LargestPowerOfTwoBelow(leaves.size());
  return MerkleNodeHash(Root(leaves.subspan(0, k)), Root(leaves.subspan(k)));
}

void Path(uint64_t m, Span leaves, std::vector<Hash256>* out) {
  if (leaves.size() <= 1) return;
  uint64_t k = LargestPowerOfTwoBelow(leaves.size());
  if (m < k) {
    Path(m, leaves.subspan(0, k), out);
    out->push_back(Root(leaves.subspan(k)));
  } else {
    Path(m - k, leaves.subspan(k), out);
    out->push_back(Root(leaves.subspan(0, k)));
  }
}

void SubProof(uint64_t m, Span leaves, bool complete, std::vector<Hash256>* out) {
  uint64_t n = leaves.size();
  if (m == n) {
    if (!complete) out->push_back(Root(leaves));
    return;
  }
  uint64_t k = LargestPowerOfTwoBelow(n);
  if (m <= k) {
    SubProof(m, leaves.subspan(0, k), complete, out);
    out->push_back(Root(leaves.subspan(k)));
  } else {
    SubProof(m - k, leaves.subspan(k), false, out);
    out->push_back(Root(leaves.subspan(0, k)));
  }
}

}  // namespace

Hash256 MerkleLeafHash(std::string_view data) {
  CryptoPP::SHA256 sha;
  const CryptoPP::byte prefix = 0x00;
  sha.Update(&prefix, 1);
  sha.Update(reinterpret_cast<const CryptoPP::byte*>(data.data()), data.size());
  Hash256 out;
  sha.Final(out.data.data());
  return out;
}

Hash256 MerkleNodeHash(const Hash256& left, const Hash256& right) {
  CryptoPP::SHA256 sha;
  const CryptoPP::byte prefix = 0x01;
  sha.Update(&prefix, 1);
  sha.Update(left.data.data(), 32);
  sha.Update(right.data.data(), 32);
  Hash256 out;
  sha.Final(out.data.data());
  return out;
}

Hash256 MerkleRoot(const std::vector<Hash256>& leaf_hashes) { return Root(leaf_hashes); }

std::vector<Hash256> MerkleInclusionProof(const std::vector<Hash256>& leaf_hashes, uint64_t index) {
  KONTOR_CHECK(index < leaf_hashes.size());
  std::vector<Hash256> out;
  Path(index, leaf_hashes, &out);
  return out;
}

bool VerifyMerkleInclusion(const Hash256& leaf_hash, uint64_t index, uint64_t tree_size,
                           const std::vector<Hash256>& proof, const Hash256& root) {
  if (index >= tree_size) return false;
  uint64_t fn = index, sn = tree_size - 1;
  Hash256 r = leaf_hash;
  for (const Hash256& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = MerkleNodeHash(p, r);
      if (!(fn & 1))
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      r = MerkleNodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

std::vector<Hash256> MerkleConsistencyProof(const std::vector<Hash256>& leaf_hashes, uint64_t old_size) {
  KONTOR_CHECK(old_size > 0 && old_size <= leaf_hashes.size());
  std::vector<Hash256> out;
  SubProof(old_size, leaf_hashes, true, &out);
  return out;
}

bool VerifyMerkleConsistency(uint64_t old_size, uint64_t new_size, const Hash256& old_root, const Hash256& new_root,
                             const std::vector<Hash256>& proof) {
  if (old_size == 0 || old_size > new_size) return false;
  if (old_size == new_size) return proof.empty() && old_root == new_root;
  if (proof.empty()) return false;
  std::vector<Hash256> path = proof;
  if ((old_size & (old_size - 1)) == 0) path.insert(path.begin(), old_root);
  uint64_t fn = old_size - 1, sn = new_size - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash256 fr = path[0], sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash256& c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      fr = MerkleNodeHash(c, fr);
      sr = MerkleNodeHash(c, sr);
      if (!(fn & 1))
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      sr = MerkleNodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == old_root && sr == new_root && sn == 0;
}

}  // namespace kontor
