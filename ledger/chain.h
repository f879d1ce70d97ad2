// The chain: a block store, the committed state and the executor, kept consistent.
// Each block is committed in one synced LevelDB batch holding the block and its commit, the
// tx index, the state changes and the new tip, so a crash at any point leaves the store at
// the last whole block. Opening a store reloads the state and checks its root against the tip
// header before anything else runs.
//
// Thread safety: not thread-safe; the node serialises access.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kontor/v1/block.pb.h"
#include "ledger/application.h"
#include "ledger/executor.h"
#include "ledger/genesis.h"
#include "ledger/state.h"
#include "ledger/store.h"
#include "ledger/thread_pool.h"

namespace kontor {

struct ChainOptions {
  StoreOptions store;
  size_t threads = 0;                    // signature-check threads; 0 = one per core
  size_t state_history_heights = 64;     // heights whose state proofs can be served
  size_t signature_cache_entries = 1 << 18;
  // Opening checks this many of the newest blocks (ending at the tip) and their hash and tx
  // index entries; `kontor audit replay` checks them all. Bounds the work at start.
  uint64_t startup_check_blocks = 32;
};

// Store keys (see docs/protocol.md "Store layout").
namespace store_keys {
std::string Block(uint64_t height);         // "b" + height BE8 -> StoredBlock
std::string BlockHeight(const Hash256& h);  // "h" + hash -> height BE8
std::string Tx(const Hash256& txid);        // "t" + txid -> height BE8 + index BE4
std::string StateEntry(const Hash256& key); // "s" + key -> height BE8 (last written) + value
inline constexpr std::string_view kStatePrefix = "s";
inline constexpr std::string_view kBlockHeightPrefix = "h";
inline constexpr std::string_view kTxPrefix = "t";
inline constexpr std::string_view kGenesis = "mgenesis";  // -> genesis hash
inline constexpr std::string_view kTip = "mtip";          // -> height BE8 + block hash
}  // namespace store_keys

struct TxLocation {
  uint64_t height = 0;
  uint32_t index = 0;
};

// Checks the indexes of a stored block at `height` whose header hashes to `hash`: the hash
// index names `height`, and every tx's index entry names (`height`, its position). Errors:
// kCorruption naming the height and what is missing or wrong.
Result CheckBlockIndexes(const Store& store, uint64_t height, const Hash256& hash, const v1::Block& block);

class Chain {
 public:
  // Opens (creating at genesis if empty and options.store.create_if_missing) the chain store,
  // then checks it before anything runs: the tip record, the tip's commit certificate against
  // the genesis validators, the newest options.startup_check_blocks blocks (decode, hash links,
  // hash and tx index entries), and the whole state against the tip's state root.
  // Errors: kStorage (cannot open or locked), kNotFound (no store, or a store without a genesis
  // record, when it may not be created), kMismatch (the store belongs to another genesis),
  // kCorruption (tip, blocks, indexes, commit or state damaged).
  static Result Open(const ChainOptions& options, const Genesis& genesis, Application* app, std::unique_ptr<Chain>* out);

  uint64_t height() const { return tip_.height; }
  const ParentInfo& tip() const { return tip_; }
  const Genesis& genesis() const { return genesis_; }
  const State& state() const { return state_; }
  Executor& executor() { return *executor_; }
  ThreadPool& pool() { return pool_; }
  SignatureCache& signature_cache() { return cache_; }
  Store& store() { return *store_; }

  // Verifies, executes and commits the next block with its commit certificate.
  Result CommitBlock(const v1::Block& block, const v1::Commit& commit);
  // Commits a run of consecutive blocks (sync from peers, import), verifying block h+1's
  // signatures on the pool while block h executes and commits. Stops at the first failure;
  // the blocks before it stay committed. `committed` (optional) counts them.
  Result CommitBlocks(const std::vector<std::pair<v1::Block, v1::Commit>>& blocks, size_t* committed = nullptr);
  // Commits a block the executor has already verified (the proposer's own block).
  Result CommitExecuted(ExecutedBlock&& executed);
  // Builds the next block from candidates against the current tip without committing it. Only
  // reads the chain: other threads may read it meanwhile, but nothing may commit until the
  // result is committed (CommitExecuted) or dropped.
  Result ProposeNext(const std::vector<std::string_view>& candidates, uint64_t time_ms, const PrivateKey& proposer,
                     RandomSource& random, ExecutedBlock* executed, std::vector<RejectedTx>* rejected);
  // Consensus: builds the next block for `proposer` from candidates, carrying `last_commit` (a
  // certificate for the tip; its BFT time is the block's), without committing it. Like
  // ProposeNext, only reads the chain.
  Result BuildNext(const std::vector<std::string_view>& candidates, const v1::Commit& last_commit,
                   const PublicKey& proposer, ExecutedBlock* executed, std::vector<RejectedTx>* rejected);
  // Consensus: checks a proposed next block (everything but its own certificate, which does not
  // exist yet) and executes it against the tip, without committing it. Commit it with
  // CommitExecuted once its certificate is set.
  Result ExecuteProposal(const v1::Block& block, ExecutedBlock* executed);
  // Single-validator block production: propose from candidates, then commit.
  Result ProduceBlock(const std::vector<std::string_view>& candidates, uint64_t time_ms, const PrivateKey& proposer,
                      RandomSource& random, ExecutedBlock* produced, std::vector<RejectedTx>* rejected);

  Result GetBlock(uint64_t height, v1::StoredBlock* out) const;
  Result GetBlockHeight(const Hash256& hash, uint64_t* height) const;
  Result FindTx(const Hash256& txid, TxLocation* location) const;  // location may be null

 private:
  Chain(const ChainOptions& options, const Genesis& genesis, Application* app);
  Result InitGenesis();
  Result Load();
  Result CheckRecentBlocks(const v1::StoredBlock& tip_block) const;

  ChainOptions options_;
  const Genesis& genesis_;
  Application* app_;
  ThreadPool pool_;
  SignatureCache cache_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<Store> store_;
  State state_;
  ParentInfo tip_;
};

// The state a genesis file defines (ledger part and application part).
Result GenesisState(const Genesis& genesis, Application& app, State* state);

}  // namespace kontor
