#include "ledger/block.h"

#include <algorithm>

#include "ledger/bech32m.h"
#include "ledger/codec.h"
#include "ledger/hash.h"
#include "ledger/limits.h"

namespace kontor {

Hash256 BlockHash(std::string_view header_bytes) { return TaggedHash(tags::kBlock, header_bytes); }

Hash256 VoteMessage(std::string_view chain_id, uint64_t height, uint32_t round, v1::VoteType type,
                    const std::optional<Hash256>& block_hash, uint64_t timestamp_ms) {
  v1::Vote vote;
  vote.set_chain_id(std::string(chain_id));
  vote.set_height(height);
  vote.set_round(round);
  vote.set_type(type);
  if (block_hash) vote.set_block_hash(block_hash->bytes());
  vote.set_timestamp_ms(timestamp_ms);
  return TaggedHash(tags::kVote, CanonicalBytes(vote));
}

Hash256 CommitHash(const v1::Commit& commit) { return TaggedHash(tags::kCommit, CanonicalBytes(commit)); }

Hash256 ProposalMessage(const v1::Proposal& proposal) { return TaggedHash(tags::kProposal, CanonicalBytes(proposal)); }

Result VerifyCommit(const v1::Commit& commit, const Genesis& genesis, uint64_t height, const Hash256& block_hash) {
  auto bad = [&](const std::string& what) {
    return Result(Code::kBadCommit, "commit for height " + std::to_string(height) + ": " + what);
  };
  {
    // A certificate is hashed into the next header: it must have exactly one encoding.
    v1::Commit reparsed;
    Result canonical = DecodeCanonical(CanonicalBytes(commit), limits::kCommitBytesMax, "commit", &reparsed);
    if (!canonical.ok()) return bad(canonical.message());
  }
  if (commit.height() != height) return bad("is for height " + std::to_string(commit.height()));
  if (commit.block_hash() != block_hash.view()) return bad("names another block");
  if (static_cast<size_t>(commit.signatures_size()) > genesis.validators.size()) return bad("has more signatures than validators");
  uint64_t power = 0;
  std::string previous;
  for (const auto& sig : commit.signatures()) {
    if (sig.validator().size() != 32 || sig.signature().size() != 64) return bad("has a malformed signature");
    if (!previous.empty() && sig.validator() <= previous) return bad("signatures are not sorted by validator, or repeat one");
    previous = sig.validator();
    PublicKey key = Hash256::FromBytes(sig.validator());
    const Validator* v = genesis.FindValidator(key);
    if (!v) return bad(EncodeAddress(key) + " is not a validator");
    const Hash256 message =
        VoteMessage(genesis.chain_id, height, commit.round(), v1::VOTE_TYPE_PRECOMMIT, block_hash, sig.timestamp_ms());
    if (!VerifySignature(key, message, sig.signature())) return bad("signature of validator " + EncodeAddress(key) + " does not verify");
    power += v->power;
  }
  uint64_t total = genesis.TotalPower();
  if (power * 3 <= total * 2)
    return bad("signed by power " + std::to_string(power) + " of " + std::to_string(total) + "; more than 2/3 needed");
  return Result::Ok();
}

v1::Commit MakeCommit(std::string_view chain_id, uint64_t height, uint32_t round, const Hash256& block_hash,
                      const std::vector<const PrivateKey*>& signers, uint64_t timestamp_ms, RandomSource& random) {
  Hash256 message = VoteMessage(chain_id, height, round, v1::VOTE_TYPE_PRECOMMIT, block_hash, timestamp_ms);
  std::vector<const PrivateKey*> sorted = signers;
  std::sort(sorted.begin(), sorted.end(),
            [](const PrivateKey* a, const PrivateKey* b) { return a->public_key() < b->public_key(); });
  v1::Commit commit;
  commit.set_height(height);
  commit.set_round(round);
  commit.set_block_hash(block_hash.bytes());
  for (const PrivateKey* key : sorted) {
    auto* s = commit.add_signatures();
    s->set_validator(key->public_key().bytes());
    Signature64 sig = key->Sign(message, random.Array<32>());
    s->set_signature(std::string(reinterpret_cast<const char*>(sig.data()), 64));
    s->set_timestamp_ms(timestamp_ms);
  }
  return commit;
}

Result DecodeBlockHeader(v1::Block block, const Genesis& genesis, DecodedBlock* out) {
  KONTOR_RETURN_IF_ERROR(DecodeCanonical(block.header(), limits::kHeaderBytesMax, "block header", &out->header));
  const auto& h = out->header;
  auto bad = [&](Code code, const std::string& what) {
    return Result(code, "block " + std::to_string(h.height()) + ": " + what);
  };
  if (h.chain_id() != genesis.chain_id) return bad(Code::kWrongChain, "is for chain '" + h.chain_id() + "'");
  if (static_cast<uint64_t>(block.txs_size()) > genesis.params.block_txs_max)
    return bad(Code::kTooLarge, "has " + std::to_string(block.txs_size()) + " txs; at most " +
                                    std::to_string(genesis.params.block_txs_max) + " allowed");
  if (h.tx_count() != static_cast<uint32_t>(block.txs_size()))
    return bad(Code::kBadBlock, "header says " + std::to_string(h.tx_count()) + " txs, block has " + std::to_string(block.txs_size()));
  size_t bytes = block.header().size();
  for (const auto& tx : block.txs()) bytes += tx.size();
  if (bytes > genesis.params.block_bytes_max)
    return bad(Code::kTooLarge, "is " + std::to_string(bytes) + " bytes; at most " + std::to_string(genesis.params.block_bytes_max));
  for (auto* field : {&h.prev_hash(), &h.tx_root(), &h.state_root(), &h.validators_hash(), &h.proposer(), &h.last_commit_hash()})
    if (field->size() != 32) return bad(Code::kBadBlock, "a hash or key field is not 32 bytes");
  out->hash = BlockHash(block.header());
  out->block = std::move(block);
  return Result::Ok();
}

}  // namespace kontor
