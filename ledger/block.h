// Blocks, votes and commit certificates.
//   block_hash   = tagged_hash("kontor/block", header bytes)
//   vote message = tagged_hash("kontor/vote", canonical Vote bytes); validators sign it (BIP-340)
//   commit hash  = tagged_hash("kontor/commit", canonical Commit bytes)
// A block at height h is final when a Commit for it holds valid precommit signatures from
// more than 2/3 of the voting power; the next header repeats that commit's hash.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "kontor/v1/block.pb.h"
#include "kontor/v1/consensus.pb.h"
#include "ledger/bytes.h"
#include "ledger/genesis.h"
#include "ledger/keys.h"
#include "ledger/result.h"
#include "ledger/tx.h"

namespace kontor {

Hash256 BlockHash(std::string_view header_bytes);
// block_hash nullopt: a nil vote (empty block_hash).
Hash256 VoteMessage(std::string_view chain_id, uint64_t height, uint32_t round, v1::VoteType type,
                    const std::optional<Hash256>& block_hash, uint64_t timestamp_ms);
Hash256 CommitHash(const v1::Commit& commit);
// What a proposer signs: tagged_hash("kontor/proposal", canonical Proposal bytes).
Hash256 ProposalMessage(const v1::Proposal& proposal);

// Checks a commit certificate for block `block_hash` at `height` against the genesis validator
// set: signatures sorted by validator, each a known validator, each a valid precommit
// signature, and together more than 2/3 of the power. Errors: kBadCommit naming the problem.
Result VerifyCommit(const v1::Commit& commit, const Genesis& genesis, uint64_t height, const Hash256& block_hash);

// Builds a commit from the precommits of `signers` (validators' keys), all timestamped timestamp_ms.
v1::Commit MakeCommit(std::string_view chain_id, uint64_t height, uint32_t round, const Hash256& block_hash,
                      const std::vector<const PrivateKey*>& signers, uint64_t timestamp_ms, RandomSource& random);

struct DecodedBlock {
  v1::Block block;
  v1::BlockHeader header;
  Hash256 hash;
  std::vector<DecodedTx> txs;
  std::vector<Hash256> leaf_hashes;  // RFC 9162 leaf hashes of the tx envelopes
};

// Decodes the header (canonical) and checks sizes; txs are decoded by the executor.
Result DecodeBlockHeader(v1::Block block, const Genesis& genesis, DecodedBlock* out);

}  // namespace kontor
