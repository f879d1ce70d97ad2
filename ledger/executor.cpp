#include "ledger/executor.h"

#include "ledger/accounts.h"
#include "ledger/bech32m.h"
#include "ledger/bft_time.h"
#include "ledger/codec.h"
#include "ledger/limits.h"
#include "ledger/merkle.h"

namespace kontor {

Hash256 ParentInfo::CommitHashOrZero() const { return height == 0 ? Hash256{} : CommitHash(commit); }

SignatureCache::SignatureCache(size_t entries_max) : entries_max_(entries_max) {}

bool SignatureCache::Contains(const Hash256& h) const {
  std::lock_guard lock(mu_);
  return set_.count(h) != 0;
}

void SignatureCache::Insert(const Hash256& h) {
  std::lock_guard lock(mu_);
  if (!set_.insert(h).second) return;
  order_.push_back(h);
  while (order_.size() > entries_max_) {
    set_.erase(order_.front());
    order_.pop_front();
  }
}

Executor::Executor(const Genesis& genesis, Application& app, ThreadPool& pool, SignatureCache* cache)
    : genesis_(genesis), app_(app), pool_(pool), cache_(cache), validators_hash_(ValidatorsHash(genesis.validators)) {}

Result Executor::CheckStateless(const DecodedTx& tx) const {
  if (tx.body.fee() < genesis_.params.min_fee)
    return {Code::kFeeTooLow, "fee " + std::to_string(tx.body.fee()) + " is below the minimum " +
                                  std::to_string(genesis_.params.min_fee) + " " + genesis_.params.fee_asset};
  return app_.CheckStateless(tx);
}

void Executor::DecodeAndVerify(const std::vector<std::string_view>& envelopes, std::vector<DecodedTx>* txs,
                               std::vector<Result>* results) {
  txs->clear();
  txs->resize(envelopes.size());
  results->assign(envelopes.size(), Result::Ok());
  pool_.ParallelFor(envelopes.size(), [&](size_t i) {
    DecodedTx& tx = (*txs)[i];
    Result r = DecodeTx(envelopes[i], genesis_.chain_id, &tx);
    if (r.ok()) r = CheckStateless(tx);
    if (r.ok() && !(cache_ && cache_->Contains(tx.envelope_hash))) {
      r = VerifyTxSignatures(tx);
      if (r.ok() && cache_) cache_->Insert(tx.envelope_hash);
    }
    (*results)[i] = std::move(r);
  });
}

Result Executor::ExecuteTx(const DecodedTx& tx, const BlockEnv& env, StateDelta& block_delta, uint64_t* fees,
                           bool check_invariants) {
  const v1::TxBody& body = tx.body;
  if (body.expiry_height() != 0 && env.height > body.expiry_height())
    return {Code::kExpired, "tx expired at height " + std::to_string(body.expiry_height()) + "; block is " +
                                std::to_string(env.height)};
  StateDelta sandbox(&block_delta);
  v1::Account payer = LoadAccount(sandbox, tx.fee_payer());
  if (body.nonce() < payer.nonce())
    return {Code::kBadNonce, "nonce " + std::to_string(payer.nonce()) + " expected, got " + std::to_string(body.nonce()) +
                                 " (already used) for " + EncodeAddress(tx.fee_payer())};
  if (body.nonce() > payer.nonce())
    return {Code::kNonceGap, "nonce " + std::to_string(payer.nonce()) + " expected, got " + std::to_string(body.nonce()) +
                                 " for " + EncodeAddress(tx.fee_payer())};
  if (body.fee() > 0) {
    Result r = Debit(&payer, genesis_.params.fee_asset, body.fee(), tx.fee_payer());
    if (!r.ok()) return {r.code(), "cannot pay the fee: " + r.message()};
    if (*fees > UINT64_MAX - body.fee()) return {Code::kOverflow, "block fees exceed 2^64-1"};
  }
  if (payer.nonce() == UINT64_MAX) return {Code::kOverflow, "nonce of " + EncodeAddress(tx.fee_payer()) + " is exhausted"};
  payer.set_nonce(payer.nonce() + 1);
  StoreAccount(sandbox, tx.fee_payer(), payer);
  // The fee goes to the block's proposer within the tx itself, so each tx moves value only
  // between accounts (and a proposer that cannot be credited fails the tx, not the block).
  if (body.fee() > 0) {
    v1::Account proposer = LoadAccount(sandbox, env.proposer);
    Result r = Credit(&proposer, genesis_.params.fee_asset, body.fee());
    if (!r.ok()) return {r.code(), "cannot credit the fee to the proposer: " + r.message()};
    StoreAccount(sandbox, env.proposer, proposer);
  }
  KONTOR_RETURN_IF_ERROR(app_.Apply(tx, env, sandbox));
  if (check_invariants) {
    Result r = app_.CheckInvariants(env, block_delta, sandbox);
    if (!r.ok()) return {Code::kInvariantBroken, "tx would break an invariant: " + r.message()};
  }
  *fees += body.fee();
  sandbox.MergeInto(&block_delta);
  return Result::Ok();
}

Result Executor::FinishBlock(const BlockEnv& env, const StateView& before, StateDelta& block_delta, uint64_t fees) {
  KONTOR_RETURN_IF_ERROR(app_.EndBlock(env, block_delta));
  Result r = app_.CheckInvariants(env, before, block_delta);
  if (!r.ok()) return {Code::kInvariantBroken, "block " + std::to_string(env.height) + ": invariant broken: " + r.message()};
  return Result::Ok();
}

Result Executor::CheckHeader(const DecodedBlock& block, const ParentInfo& parent) const {
  const v1::BlockHeader& h = block.header;
  auto bad = [&](Code code, const std::string& what) {
    return Result(code, "block " + std::to_string(h.height()) + ": " + what);
  };
  if (h.height() != parent.height + 1)
    return bad(Code::kBadHeight, "height " + std::to_string(parent.height + 1) + " expected");
  if (h.prev_hash() != parent.hash.view())
    return bad(Code::kBadPrevHash, "prev_hash " + HexEncode(h.prev_hash()) + " differs from block " +
                                       std::to_string(parent.height) + "'s hash " + parent.hash.hex());
  // BFT time: the weighted median of the parent certificate's timestamps (the genesis time at
  // height 1), and after the parent's time. The certificate was verified in VerifyStateless.
  uint64_t bft_time = 0;
  Result timed = BftTime(block.block.last_commit(), genesis_, h.height(), &bft_time);
  if (!timed.ok()) return bad(Code::kBadTime, timed.message());
  if (h.height() > 1 && h.time_ms() <= parent.time_ms)
    return bad(Code::kBadTime, "time " + std::to_string(h.time_ms()) + " ms is not after its parent's " +
                                   std::to_string(parent.time_ms) + " ms");
  if (h.time_ms() != bft_time)
    return bad(Code::kBadTime, "time " + std::to_string(h.time_ms()) + " ms differs from the BFT time " +
                                   std::to_string(bft_time) + " ms (" +
                                   (h.height() == 1 ? std::string("the genesis time")
                                                    : "the weighted median of last_commit's timestamps") + ")");
  if (h.validators_hash() != validators_hash_.view()) return bad(Code::kBadBlock, "validators_hash differs from the validator set's");
  if (!genesis_.FindValidator(Hash256::FromBytes(h.proposer())))
    return bad(Code::kBadBlock, "proposer " + HexEncode(h.proposer()) + " is not a validator");
  return Result::Ok();
}

static BlockEnv EnvFor(const Genesis& genesis, const v1::BlockHeader& h, const ParentInfo& parent) {
  BlockEnv env;
  env.chain_id = genesis.chain_id;
  env.height = h.height();
  env.time_ms = h.time_ms();
  env.prev_time_ms = parent.time_ms;
  env.proposer = Hash256::FromBytes(h.proposer());
  env.genesis = &genesis;
  return env;
}

Result Executor::ExecuteBlock(const v1::Block& block, const v1::Commit& commit, const ParentInfo& parent,
                              const State& state, ExecutedBlock* out) {
  KONTOR_RETURN_IF_ERROR(VerifyStateless(block, commit, out));
  return ExecuteVerified(parent, state, out);
}

Result Executor::VerifyStateless(v1::Block block, const v1::Commit& commit, ExecutedBlock* out) {
  return VerifyStatelessImpl(std::move(block), &commit, out);
}

Result Executor::VerifyProposed(v1::Block block, ExecutedBlock* out) {
  return VerifyStatelessImpl(std::move(block), nullptr, out);
}

Result Executor::VerifyStatelessImpl(v1::Block block, const v1::Commit* commit, ExecutedBlock* out) {
  DecodedBlock& decoded = out->block;
  KONTOR_RETURN_IF_ERROR(DecodeBlockHeader(std::move(block), genesis_, &decoded));
  const v1::BlockHeader& h = decoded.header;
  if (commit) {
    KONTOR_RETURN_IF_ERROR(VerifyCommit(*commit, genesis_, h.height(), decoded.hash));
    out->commit = *commit;
  } else {
    out->commit.Clear();
  }
  // The parent's certificate travels in the block; check it against the header here (it needs
  // no state), and its link to the actual parent (prev_hash) in CheckHeader.
  const v1::Block& b = decoded.block;
  if (h.height() == 1) {
    if (b.has_last_commit() || h.last_commit_hash() != Hash256{}.view())
      return {Code::kBadCommit, "block 1: has a last commit, but the genesis has none"};
  } else {
    if (!b.has_last_commit()) return {Code::kBadCommit, "block " + std::to_string(h.height()) + ": last_commit is missing"};
    if (CommitHash(b.last_commit()).view() != h.last_commit_hash())
      return {Code::kBadCommit, "block " + std::to_string(h.height()) + ": last_commit does not hash to last_commit_hash"};
    Result r = VerifyCommit(b.last_commit(), genesis_, h.height() - 1, Hash256::FromBytes(h.prev_hash()));
    if (!r.ok()) return {Code::kBadCommit, "block " + std::to_string(h.height()) + ": last_commit: " + r.message()};
  }

  std::vector<std::string_view> envelopes(decoded.block.txs().begin(), decoded.block.txs().end());
  std::vector<Result> results;
  decoded.leaf_hashes.resize(envelopes.size());
  decoded.txs.clear();
  decoded.txs.resize(envelopes.size());
  results.assign(envelopes.size(), Result::Ok());
  // One pass per tx: decode, stateless checks, signatures, Merkle leaf.
  pool_.ParallelFor(envelopes.size(), [&](size_t i) {
    DecodedTx& tx = decoded.txs[i];
    decoded.leaf_hashes[i] = MerkleLeafHash(envelopes[i]);
    Result r = DecodeTx(envelopes[i], genesis_.chain_id, &tx);
    if (r.ok()) r = CheckStateless(tx);
    if (r.ok() && !(cache_ && cache_->Contains(tx.envelope_hash))) {
      r = VerifyTxSignatures(tx);
      if (r.ok() && cache_) cache_->Insert(tx.envelope_hash);
    }
    results[i] = std::move(r);
  });
  for (size_t i = 0; i < results.size(); ++i)
    if (!results[i].ok())
      return {Code::kBadTxInBlock, "block " + std::to_string(h.height()) + " tx " + std::to_string(i) + ": " + results[i].ToString()};
  if (MerkleRoot(decoded.leaf_hashes).view() != h.tx_root())
    return {Code::kBadTxRoot, "block " + std::to_string(h.height()) + ": tx_root differs from the Merkle root of its txs"};
  return Result::Ok();
}

Result Executor::ExecuteVerified(const ParentInfo& parent, const State& state, ExecutedBlock* out) {
  DecodedBlock& decoded = out->block;
  KONTOR_RETURN_IF_ERROR(CheckHeader(decoded, parent));
  const v1::BlockHeader& h = decoded.header;
  BlockEnv env = EnvFor(genesis_, h, parent);
  StateDelta delta(&state);
  uint64_t fees = 0;
  for (size_t i = 0; i < decoded.txs.size(); ++i) {
    Result r = ExecuteTx(decoded.txs[i], env, delta, &fees);
    if (!r.ok())
      return {Code::kBadTxInBlock, "block " + std::to_string(h.height()) + " tx " + std::to_string(i) + " (" +
                                       decoded.txs[i].txid.hex() + "): " + r.ToString()};
  }
  KONTOR_RETURN_IF_ERROR(FinishBlock(env, state, delta, fees));
  out->changes = delta.TakeSortedChanges();
  out->tree = state.Preview(out->changes);
  if (out->tree.root_hash().view() != h.state_root())
    return {Code::kBadStateRoot, "block " + std::to_string(h.height()) + ": state_root " + HexEncode(h.state_root()) +
                                     " differs from the computed " + out->tree.root_hash().hex()};
  return Result::Ok();
}

Result Executor::ProposeBlock(const std::vector<std::string_view>& candidates, uint64_t time_ms, const PrivateKey& proposer,
                              const ParentInfo& parent, const State& state, RandomSource& random, ExecutedBlock* out,
                              std::vector<RejectedTx>* rejected) {
  if (!genesis_.FindValidator(proposer.public_key()))
    return {Code::kNotAuthorized, "key " + EncodeAddress(proposer.public_key()) + " is not a validator"};
  if (genesis_.validators.size() != 1)
    return {Code::kNotAuthorized, "single-validator block production needs a chain with exactly one validator"};
  v1::Commit last_commit;
  if (parent.height > 0) {
    last_commit = MakeCommit(genesis_.chain_id, parent.height, 0, parent.hash, {&proposer},
                             PrecommitTime(time_ms, parent.time_ms), random);
  }
  KONTOR_RETURN_IF_ERROR(BuildBlock(candidates, last_commit, proposer.public_key(), parent, state, out, rejected));
  out->commit = MakeCommit(genesis_.chain_id, out->block.header.height(), 0, out->block.hash, {&proposer},
                           PrecommitTime(time_ms, out->block.header.time_ms()), random);
  return Result::Ok();
}

Result Executor::BuildBlock(const std::vector<std::string_view>& candidates, const v1::Commit& last_commit,
                            const PublicKey& proposer, const ParentInfo& parent, const State& state, ExecutedBlock* out,
                            std::vector<RejectedTx>* rejected) {
  if (!genesis_.FindValidator(proposer)) return {Code::kNotAuthorized, "key " + EncodeAddress(proposer) + " is not a validator"};
  uint64_t time_ms = 0;
  KONTOR_RETURN_IF_ERROR(BftTime(last_commit, genesis_, parent.height + 1, &time_ms));
  std::vector<DecodedTx> txs;
  std::vector<Result> results;
  DecodeAndVerify(candidates, &txs, &results);

  v1::BlockHeader h;
  h.set_chain_id(genesis_.chain_id);
  h.set_height(parent.height + 1);
  h.set_time_ms(time_ms);
  h.set_proposer(proposer.bytes());
  BlockEnv env = EnvFor(genesis_, h, parent);
  // Build optimistically; if the block as a whole would break an invariant, rebuild checking the
  // invariants tx by tx so the offending tx is dropped instead of the block (and the chain) stalling.
  auto build = [&](bool per_tx_invariants, StateDelta& delta, std::vector<size_t>* included,
                   std::vector<RejectedTx>* dropped) -> Result {
    uint64_t fees = 0;
    size_t bytes = 0;
    for (size_t i = 0; i < txs.size(); ++i) {
      Result r = results[i];
      if (r.ok() && included->size() >= genesis_.params.block_txs_max) break;
      if (r.ok() && bytes + txs[i].envelope.size() + limits::kHeaderBytesMax > genesis_.params.block_bytes_max) break;
      if (r.ok()) r = ExecuteTx(txs[i], env, delta, &fees, per_tx_invariants);
      if (!r.ok()) {
        dropped->push_back({i, txs[i].txid, r});
        continue;
      }
      bytes += txs[i].envelope.size();
      included->push_back(i);
    }
    return FinishBlock(env, state, delta, fees);
  };
  std::vector<size_t> included;
  std::vector<RejectedTx> dropped;
  auto delta = std::make_unique<StateDelta>(&state);
  Result built = build(false, *delta, &included, &dropped);
  if (built.code() == Code::kInvariantBroken) {
    included.clear();
    dropped.clear();
    delta = std::make_unique<StateDelta>(&state);
    built = build(true, *delta, &included, &dropped);
  }
  KONTOR_RETURN_IF_ERROR(built);
  if (rejected) rejected->insert(rejected->end(), dropped.begin(), dropped.end());
  DecodedBlock& decoded = out->block;
  decoded.txs.clear();
  decoded.leaf_hashes.clear();
  v1::Block& block = decoded.block;
  block.Clear();
  for (size_t i : included) {
    decoded.leaf_hashes.push_back(MerkleLeafHash(txs[i].envelope));
    *block.add_txs() = txs[i].envelope;
    decoded.txs.push_back(std::move(txs[i]));
  }
  out->changes = delta->TakeSortedChanges();
  out->tree = state.Preview(out->changes);

  h.set_prev_hash(parent.hash.bytes());
  h.set_tx_root(MerkleRoot(decoded.leaf_hashes).bytes());
  h.set_state_root(out->tree.root_hash().bytes());
  h.set_validators_hash(validators_hash_.bytes());
  if (parent.height > 0) {
    h.set_last_commit_hash(CommitHash(last_commit).bytes());
    *block.mutable_last_commit() = last_commit;
  } else {
    h.set_last_commit_hash(Hash256{}.bytes());
  }
  h.set_tx_count(static_cast<uint32_t>(decoded.txs.size()));
  block.set_header(CanonicalBytes(h));
  decoded.header = h;
  decoded.hash = BlockHash(block.header());
  out->commit.Clear();
  return Result::Ok();
}

}  // namespace kontor
