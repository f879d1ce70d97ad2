// Merkle trees as defined by RFC 9162 (Certificate Transparency v2), section 2.1:
//   MTH({}) = SHA-256("")
//   MTH({d0}) = SHA-256(0x00 || d0)
//   MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k the largest power of 2 < n
// with inclusion (audit) paths and consistency proofs, generated and verified per 2.1.3/2.1.4.
// Block tx roots use this with d_i = the i-th Tx envelope's bytes.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "ledger/bytes.h"

namespace kontor {

Hash256 MerkleLeafHash(std::string_view data);
Hash256 MerkleNodeHash(const Hash256& left, const Hash256& right);

// Root over already-hashed leaves (MerkleLeafHash of each datum).
Hash256 MerkleRoot(const std::vector<Hash256>& leaf_hashes);

// PATH(index, D[n]); REQUIRES: index < leaf_hashes.size().
std::vector<Hash256> MerkleInclusionProof(const std::vector<Hash256>& leaf_hashes, uint64_t index);
bool VerifyMerkleInclusion(const Hash256& leaf_hash, uint64_t index, uint64_t tree_size,
                           const std::vector<Hash256>& proof, const Hash256& root);

// PROOF(m, D[n]); REQUIRES: 0 < m <= n.
std::vector<Hash256> MerkleConsistencyProof(const std::vector<Hash256>& leaf_hashes, uint64_t old_size);
bool VerifyMerkleConsistency(uint64_t old_size, uint64_t new_size, const Hash256& old_root, const Hash256& new_root,
                             const std::vector<Hash256>& proof);

}  // namespace kontor
