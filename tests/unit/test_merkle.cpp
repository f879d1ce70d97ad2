// RFC 9162 Merkle trees: roots, inclusion and consistency proofs against a naive reference
// written straight from the RFC's recursive definitions (section 2.1).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "ledger/hash.h"
#include "ledger/merkle.h"

namespace kontor {
namespace {

using Data = std::vector<std::string>;

// ---- Reference, from RFC 9162 2.1.1 / 2.1.3.1 / 2.1.4.1, over the data itself. ----

size_t LargestPowerOfTwoLessThan(size_t n) {
  size_t k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

Data Slice(const Data& d, size_t begin, size_t end) { return Data(d.begin() + begin, d.begin() + end); }

Hash256 RefMth(const Data& d) {
  if (d.empty()) return Sha256("");
  if (d.size() == 1) return Sha256(std::string(1, '\x00') + d[0]);
  size_t k = LargestPowerOfTwoLessThan(d.size());
  return Sha256(std::string(1, '\x01') + RefMth(Slice(d, 0, k)).bytes() + RefMth(Slice(d, k, d.size())).bytes());
}

std::vector<Hash256> RefPath(size_t m, const Data& d) {
  if (d.size() == 1) return {};
  size_t n = d.size(), k = LargestPowerOfTwoLessThan(n);
  std::vector<Hash256> out;
  if (m < k) {
    out = RefPath(m, Slice(d, 0, k));
    out.push_back(RefMth(Slice(d, k, n)));
  } else {
    out = RefPath(m - k, Slice(d, k, n));
    out.push_back(RefMth(Slice(d, 0, k)));
  }
  return out;
}

std::vector<Hash256> RefSubproof(size_t m, const Data& d, bool b) {
  size_t n = d.size();
  if (m == n) {
    if (b) return {};
    return {RefMth(d)};
  }
  size_t k = LargestPowerOfTwoLessThan(n);
  std::vector<Hash256> out;
  if (m <= k) {
    out = RefSubproof(m, Slice(d, 0, k), b);
    out.push_back(RefMth(Slice(d, k, n)));
  } else {
    out = RefSubproof(m - k, Slice(d, k, n), false);
    out.push_back(RefMth(Slice(d, 0, k)));
  }
  return out;
}

std::vector<Hash256> RefProof(size_t m, const Data& d) { return RefSubproof(m, d, true); }

// The lengths of PATH(m, D[n]) and PROOF(m, D[n]): the same recursions without the hashing.
size_t RefPathLength(size_t m, size_t n) {
  if (n == 1) return 0;
  size_t k = LargestPowerOfTwoLessThan(n);
  return 1 + (m < k ? RefPathLength(m, k) : RefPathLength(m - k, n - k));
}

size_t RefSubproofLength(size_t m, size_t n, bool b) {
  if (m == n) return b ? 0 : 1;
  size_t k = LargestPowerOfTwoLessThan(n);
  return 1 + (m <= k ? RefSubproofLength(m, k, b) : RefSubproofLength(m - k, n - k, false));
}

// ---- Helpers ----

Data MakeData(size_t n) {
  Data d;
  for (size_t i = 0; i < n; ++i) d.push_back("leaf " + std::to_string(i) + std::string(i % 5, 'x'));
  return d;
}

std::vector<Hash256> LeafHashes(const Data& d) {
  std::vector<Hash256> out;
  for (const auto& x : d) out.push_back(MerkleLeafHash(x));
  return out;
}

Hash256 Flip(Hash256 h, int byte = 7) {
  h.data[byte] ^= 0x10;
  return h;
}

}  // namespace

TEST_CASE("Merkle: leaf and node hashes use the RFC 9162 prefixes", "[merkle]") {
  CHECK(MerkleLeafHash("abc") == Sha256(std::string("\x00", 1) + "abc"));
  CHECK(MerkleLeafHash("") == Sha256(std::string("\x00", 1)));
  Hash256 a = Sha256("a"), b = Sha256("b");
  CHECK(MerkleNodeHash(a, b) == Sha256("\x01" + a.bytes() + b.bytes()));
  CHECK(MerkleNodeHash(a, b) != MerkleNodeHash(b, a));
}

TEST_CASE("Merkle: hard-coded roots (computed with Python hashlib)", "[merkle]") {
  // d_i = the single byte i; roots from a separate Python implementation of MTH.
  auto data = [](size_t n) {
    Data d;
    for (size_t i = 0; i < n; ++i) d.push_back(std::string(1, static_cast<char>(i)));
    return LeafHashes(d);
  };
  CHECK(MerkleRoot(data(0)).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(MerkleRoot(data(1)).hex() == "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7");
  CHECK(MerkleRoot(data(2)).hex() == "a20bf9a7cc2dc8a08f5f415a71b19f6ac427bab54d24eec868b5d3103449953a");
  CHECK(MerkleRoot(data(3)).hex() == "3b6cccd7e3e023ff393006f030315ee7ad9eb111b022b41fba7e5b7a3973f688");
  CHECK(MerkleRoot(data(5)).hex() == "b855b42d6c30f5b087e05266783fbd6e394f7b926013ccaa67700a8b0c5a596f");
  CHECK(MerkleRoot(data(7)).hex() == "3560191803028444b232018ac047fdb561c09c23a7a6876c85e08b5e4d48e9f3");
}

TEST_CASE("Merkle: roots and inclusion proofs match the RFC for sizes 0..70", "[merkle]") {
  const Data all = MakeData(70);
  for (size_t n = 0; n <= 70; ++n) {
    INFO("tree size " << n);
    const Data d = Slice(all, 0, n);
    const std::vector<Hash256> leaves = LeafHashes(d);
    const Hash256 root = MerkleRoot(leaves);
    REQUIRE(root == RefMth(d));
    if (n == 0) {
      CHECK(root == Sha256(""));
      CHECK_FALSE(VerifyMerkleInclusion(Sha256("x"), 0, 0, {}, root));
      continue;
    }
    for (size_t i = 0; i < n; ++i) {
      INFO("index " << i);
      const std::vector<Hash256> proof = MerkleInclusionProof(leaves, i);
      const std::vector<Hash256> ref = RefPath(i, d);
      REQUIRE(proof == ref);
      REQUIRE(RefPathLength(i, n) == proof.size());
      REQUIRE(VerifyMerkleInclusion(leaves[i], i, n, proof, root));

      // Wrong index: every other index of the same tree fails (the direction sequence of a path
      // identifies its leaf), as do indexes at or beyond the size.
      for (size_t j = 0; j < n + 2; ++j)
        if (j != i) CHECK_FALSE(VerifyMerkleInclusion(leaves[i], j, n, proof, root));
      CHECK_FALSE(VerifyMerkleInclusion(leaves[i], UINT64_MAX, n, proof, root));

      // Wrong size: any size whose audit path for this index has another length must fail.
      for (size_t n2 = i + 1; n2 <= n + 10; ++n2) {
        if (n2 == n) continue;
        if (RefPathLength(i, n2) != proof.size())
          CHECK_FALSE(VerifyMerkleInclusion(leaves[i], i, n2, proof, root));
      }
      CHECK_FALSE(VerifyMerkleInclusion(leaves[i], i, 0, proof, root));
      CHECK_FALSE(VerifyMerkleInclusion(leaves[i], i, i, proof, root));

      // Wrong leaf: another leaf, the unhashed datum's SHA-256, a flipped leaf hash.
      CHECK_FALSE(VerifyMerkleInclusion(leaves[(i + 1) % n] == leaves[i] ? Flip(leaves[i]) : leaves[(i + 1) % n], i,
                                        n, proof, root));
      CHECK_FALSE(VerifyMerkleInclusion(Sha256(d[i]), i, n, proof, root));
      CHECK_FALSE(VerifyMerkleInclusion(Flip(leaves[i]), i, n, proof, root));
      // Wrong root.
      CHECK_FALSE(VerifyMerkleInclusion(leaves[i], i, n, proof, Flip(root)));

      // A flipped byte anywhere in the proof.
      for (size_t p = 0; p < proof.size(); ++p) {
        for (int byte : {0, 31}) {
          std::vector<Hash256> bad = proof;
          bad[p] = Flip(bad[p], byte);
          CHECK_FALSE(VerifyMerkleInclusion(leaves[i], i, n, bad, root));
        }
      }
      // Truncated, extended, reordered proofs.
      if (!proof.empty()) {
        std::vector<Hash256> shorter(proof.begin(), proof.end() - 1);
        CHECK_FALSE(VerifyMerkleInclusion(leaves[i], i, n, shorter, root));
      }
      std::vector<Hash256> longer = proof;
      longer.push_back(root);
      CHECK_FALSE(VerifyMerkleInclusion(leaves[i], i, n, longer, root));
      if (proof.size() >= 2) {
        std::vector<Hash256> swapped = proof;
        std::swap(swapped[0], swapped[1]);
        CHECK_FALSE(VerifyMerkleInclusion(leaves[i], i, n, swapped, root));
      }
    }
  }
}

TEST_CASE("Merkle: a single leaf is its own root with an empty proof", "[merkle]") {
  std::vector<Hash256> one = {MerkleLeafHash("only")};
  CHECK(MerkleRoot(one) == one[0]);
  CHECK(MerkleInclusionProof(one, 0).empty());
  CHECK(VerifyMerkleInclusion(one[0], 0, 1, {}, one[0]));
  CHECK_FALSE(VerifyMerkleInclusion(one[0], 1, 1, {}, one[0]));
  CHECK_FALSE(VerifyMerkleInclusion(one[0], 0, 2, {}, one[0]));
  CHECK_FALSE(VerifyMerkleInclusion(one[0], 0, 1, {one[0]}, one[0]));
  CHECK(MerkleConsistencyProof(one, 1).empty());
  CHECK(VerifyMerkleConsistency(1, 1, one[0], one[0], {}));
}

TEST_CASE("Merkle: consistency proofs match the RFC for 1 <= m <= n <= 40", "[merkle]") {
  const Data all = MakeData(40);
  std::vector<Hash256> roots(41);
  std::vector<std::vector<Hash256>> leaves_of(41);
  for (size_t n = 0; n <= 40; ++n) {
    leaves_of[n] = LeafHashes(Slice(all, 0, n));
    roots[n] = MerkleRoot(leaves_of[n]);
    REQUIRE(roots[n] == RefMth(Slice(all, 0, n)));
  }
  for (size_t n = 1; n <= 40; ++n) {
    const Data d = Slice(all, 0, n);
    for (size_t m = 1; m <= n; ++m) {
      INFO("m = " << m << ", n = " << n);
      const std::vector<Hash256> proof = MerkleConsistencyProof(leaves_of[n], m);
      REQUIRE(proof == RefProof(m, d));
      REQUIRE(RefSubproofLength(m, n, true) == proof.size());
      REQUIRE(VerifyMerkleConsistency(m, n, roots[m], roots[n], proof));

      if (m == n) {
        CHECK(proof.empty());
        CHECK_FALSE(VerifyMerkleConsistency(m, n, roots[m], Flip(roots[n]), proof));
        CHECK_FALSE(VerifyMerkleConsistency(m, n, roots[m], roots[n], {roots[m]}));
        continue;
      }
      REQUIRE_FALSE(proof.empty());

      // Wrong roots.
      CHECK_FALSE(VerifyMerkleConsistency(m, n, Flip(roots[m]), roots[n], proof));
      CHECK_FALSE(VerifyMerkleConsistency(m, n, roots[m], Flip(roots[n]), proof));
      CHECK_FALSE(VerifyMerkleConsistency(m, n, roots[n], roots[m], proof));
      if (m + 1 < n) CHECK_FALSE(VerifyMerkleConsistency(m, n, roots[m + 1], roots[n], proof));
      if (m > 1) CHECK_FALSE(VerifyMerkleConsistency(m, n, roots[m - 1], roots[n], proof));
      // A tree that differs from the old one in an old leaf is not an extension of it.
      {
        std::vector<Hash256> forked = leaves_of[n];
        forked[m - 1] = MerkleLeafHash("forked");
        CHECK_FALSE(VerifyMerkleConsistency(m, n, roots[m], MerkleRoot(forked), proof));
        CHECK_FALSE(VerifyMerkleConsistency(m, n, roots[m], MerkleRoot(forked), MerkleConsistencyProof(forked, m)));
      }

      // Each element of the proof matters.
      for (size_t p = 0; p < proof.size(); ++p) {
        for (int byte : {0, 31}) {
          std::vector<Hash256> bad = proof;
          bad[p] = Flip(bad[p], byte);
          CHECK_FALSE(VerifyMerkleConsistency(m, n, roots[m], roots[n], bad));
        }
      }
      CHECK_FALSE(VerifyMerkleConsistency(m, n, roots[m], roots[n], {}));
      std::vector<Hash256> shorter(proof.begin(), proof.end() - 1);
      CHECK_FALSE(VerifyMerkleConsistency(m, n, roots[m], roots[n], shorter));
      std::vector<Hash256> longer = proof;
      longer.push_back(roots[n]);
      CHECK_FALSE(VerifyMerkleConsistency(m, n, roots[m], roots[n], longer));
      std::vector<Hash256> dropped_first(proof.begin() + 1, proof.end());
      CHECK_FALSE(VerifyMerkleConsistency(m, n, roots[m], roots[n], dropped_first));
      if (proof.size() >= 2) {
        std::vector<Hash256> swapped = proof;
        std::swap(swapped[0], swapped[1]);
        CHECK_FALSE(VerifyMerkleConsistency(m, n, roots[m], roots[n], swapped));
      }

      // Impossible sizes.
      CHECK_FALSE(VerifyMerkleConsistency(0, n, roots[m], roots[n], proof));
      CHECK_FALSE(VerifyMerkleConsistency(n + 1, n, roots[m], roots[n], proof));
      CHECK_FALSE(VerifyMerkleConsistency(n, m, roots[n], roots[m], proof));
      // Other sizes whose proof would have another length must fail.
      for (size_t n2 = m; n2 <= n + 8; ++n2) {
        if (n2 == n) continue;
        if (RefSubproofLength(m, n2, true) != proof.size())
          CHECK_FALSE(VerifyMerkleConsistency(m, n2, roots[m], roots[n], proof));
      }
      for (size_t m2 = 1; m2 <= n; ++m2) {
        if (m2 == m) continue;
        if (RefSubproofLength(m2, n, true) != proof.size())
          CHECK_FALSE(VerifyMerkleConsistency(m2, n, roots[m], roots[n], proof));
      }
    }
  }
}

TEST_CASE("Merkle: consistency across growth with an inclusion proof of the new leaves", "[merkle]") {
  // Append-only log: at every size, every earlier size is consistent, and the newest leaf is included.
  std::vector<Hash256> log;
  std::vector<Hash256> roots;
  for (int n = 1; n <= 33; ++n) {
    log.push_back(MerkleLeafHash("entry " + std::to_string(n)));
    roots.push_back(MerkleRoot(log));
    const uint64_t size = log.size();
    CHECK(VerifyMerkleInclusion(log.back(), size - 1, size, MerkleInclusionProof(log, size - 1), roots.back()));
    for (uint64_t m = 1; m <= size; ++m)
      CHECK(VerifyMerkleConsistency(m, size, roots[m - 1], roots.back(), MerkleConsistencyProof(log, m)));
  }
}

}  // namespace kontor
