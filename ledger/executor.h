// Executes transactions and blocks: the one pipeline shared by the proposer, a validating node
// and the auditor's replay. It reads state only through StateView and writes only into deltas;
// persisting is the Chain's job.
//
// Per block: header checks and commit certificate; then, in parallel over the thread pool,
// each tx is decoded, checked statelessly and its signatures verified (skipped when the
// signature cache has already seen the exact envelope); then the txs run in order, each in a
// sandbox; then end-of-block work, invariants, and the new state root.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "kontor/v1/block.pb.h"
#include "ledger/application.h"
#include "ledger/block.h"
#include "ledger/genesis.h"
#include "ledger/state.h"
#include "ledger/thread_pool.h"
#include "ledger/tx.h"

namespace kontor {

// Envelope hashes whose signatures verified. Bounded (FIFO eviction); thread-safe.
class SignatureCache {
 public:
  explicit SignatureCache(size_t entries_max);
  bool Contains(const Hash256& envelope_hash) const;
  void Insert(const Hash256& envelope_hash);

 private:
  size_t entries_max_;
  mutable std::mutex mu_;
  std::unordered_set<Hash256, Hash256Hasher> set_;
  std::deque<Hash256> order_;
};

// What a block builds on.
struct ParentInfo {
  uint64_t height = 0;
  Hash256 hash;              // genesis hash at height 0
  uint64_t time_ms = 0;      // genesis time at height 0
  v1::Commit commit;         // its commit certificate (empty at height 0)
  Hash256 CommitHashOrZero() const;  // CommitHash(commit), zeros at height 0
};

struct ExecutedBlock {
  DecodedBlock block;
  v1::Commit commit;
  StateChanges changes;
  SparseMerkleTree tree;
};

struct RejectedTx {
  size_t index;  // in the candidate list
  Hash256 txid;  // zero if it did not decode
  Result result;
};

class Executor {
 public:
  // REQUIRES: all arguments outlive the executor. `cache` may be null.
  Executor(const Genesis& genesis, Application& app, ThreadPool& pool, SignatureCache* cache);

  // Decodes, checks statelessly and verifies signatures of many envelopes in parallel.
  // results[i] is Ok or the first failure of envelope i.
  void DecodeAndVerify(const std::vector<std::string_view>& envelopes, std::vector<DecodedTx>* txs,
                       std::vector<Result>* results);
  // The stateless checks of one decoded tx beyond DecodeTx: fee floor and the application's.
  Result CheckStateless(const DecodedTx& tx) const;
  // Runs one tx (expiry, nonce, fee, payload) in a sandbox over `block_delta`; merges on success.
  // With check_invariants, the application's invariants are checked over the tx's own changes
  // first and a tx that would break one fails (kInvariantBroken): a proposer uses this so one bad
  // tx cannot make every block it builds invalid.
  Result ExecuteTx(const DecodedTx& tx, const BlockEnv& env, StateDelta& block_delta, uint64_t* fees,
                   bool check_invariants = false);
  // Runs EndBlock and the invariants (fees were credited to the proposer tx by tx).
  Result FinishBlock(const BlockEnv& env, const StateView& before, StateDelta& block_delta, uint64_t fees);

  // Verifies and executes a block with its commit on top of `state`/`parent`.
  // Errors name the height, the tx index and what differs. Equal to VerifyStateless followed
  // by ExecuteVerified.
  Result ExecuteBlock(const v1::Block& block, const v1::Commit& commit, const ParentInfo& parent, const State& state,
                      ExecutedBlock* out);
  // Stage 1, needing no state (so it can run for block h+1 while block h executes): header
  // decoding, commit certificate, decoding and signatures of every tx (in parallel on the
  // pool), tx root. Fills out->block and out->commit.
  Result VerifyStateless(v1::Block block, const v1::Commit& commit, ExecutedBlock* out);
  // The same for a proposed block, which has no certificate of its own yet (consensus decides
  // it): every check but its commit's. out->commit stays empty.
  Result VerifyProposed(v1::Block block, ExecutedBlock* out);
  // Stage 2, serial: links to the parent, execution, invariants, state root.
  // REQUIRES: VerifyStateless(…, out) succeeded. Does not use the pool.
  Result ExecuteVerified(const ParentInfo& parent, const State& state, ExecutedBlock* out);

  // Builds block parent.height + 1 for `proposer` from candidate envelopes (in order, skipping
  // those that fail, up to the block limits). It carries `last_commit`, a certificate for the
  // parent (ignored at height 1), and its time is that certificate's BFT time (ledger/bft_time.h).
  // out->commit stays empty: consensus certifies the block.
  Result BuildBlock(const std::vector<std::string_view>& candidates, const v1::Commit& last_commit,
                    const PublicKey& proposer, const ParentInfo& parent, const State& state, ExecutedBlock* out,
                    std::vector<RejectedTx>* rejected);
  // Single-validator production (tests, the bench, replays of a one-validator chain): the
  // proposer's precommit for the parent, timestamped PrecommitTime(time_ms, parent time), is the
  // last commit, and the new block is certified by the proposer's precommit alone, timestamped
  // PrecommitTime(time_ms, block time). Only for a chain whose single validator is `proposer`.
  Result ProposeBlock(const std::vector<std::string_view>& candidates, uint64_t time_ms, const PrivateKey& proposer,
                      const ParentInfo& parent, const State& state, RandomSource& random, ExecutedBlock* out,
                      std::vector<RejectedTx>* rejected);

  const Genesis& genesis() const { return genesis_; }

 private:
  Result CheckHeader(const DecodedBlock& block, const ParentInfo& parent) const;
  Result VerifyStatelessImpl(v1::Block block, const v1::Commit* commit, ExecutedBlock* out);  // commit null: proposed

  const Genesis& genesis_;
  Application& app_;
  ThreadPool& pool_;
  SignatureCache* cache_;
  Hash256 validators_hash_;
};

}  // namespace kontor
