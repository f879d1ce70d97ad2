// A Kontor node: the chain, the mempool and block production behind one lock, plus what the
// APIs need to read. Block production here is the single-validator devnet (the node's key is
// the chain's only validator); multi-validator consensus replaces the producer, not the API.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "contracts/app.h"
#include "kontor/v1/state.pb.h"
#include "ledger/chain.h"
#include "node/config.h"
#include "node/mempool.h"
#include "node/metrics.h"

namespace kontor::node {

inline constexpr const char* kVersion = "0.1.0";

struct TxStatusInfo {
  enum class Status { kUnknown, kPending, kCommitted, kRejected } status = Status::kUnknown;
  uint64_t height = 0;
  uint32_t index = 0;
  Hash256 block_hash;
  Result rejection;
  std::string envelope;
};

struct BlockInfo {
  uint64_t height = 0;
  Hash256 hash;
  v1::BlockHeader header;
  v1::StoredBlock stored;
};

class Node {
 public:
  // REQUIRES: validator is the genesis' only validator (checked by Start).
  Node(Config config, Genesis genesis, PrivateKey validator);
  ~Node();

  // Opens the store `kontord init` created (resuming at its last whole block), checks it (see
  // Chain::Open) and that it holds every block tip.json records as committed, then starts
  // producing blocks. Never creates a store: a missing or empty one is kNotFound.
  Result Start();
  // Stops block production (idempotent). The store stays open until destruction.
  void Stop();
  bool stopping() const { return stopping_; }

  // Admission. Results in input order; an accepted tx's result is Ok.
  std::vector<std::pair<Hash256, Result>> Submit(const std::vector<std::string>& envelopes);

  TxStatusInfo GetTx(const Hash256& txid) const;
  Result GetBlock(uint64_t height, BlockInfo* out) const;  // 0 = latest
  Result GetBlockByHash(const Hash256& hash, BlockInfo* out) const;
  // Waits until a block above `height` exists, the node stops, or the timeout passes; returns the tip height.
  uint64_t WaitForBlockAbove(uint64_t height, std::chrono::milliseconds timeout) const;

  v1::Account GetAccount(const PublicKey& key, uint64_t* height, bool* exists, uint64_t* next_nonce) const;
  std::vector<v1::Asset> ListAssets() const;
  // Record `id` of `kind` at `height` (0 = latest), with a proof against that height's root.
  Result QueryState(uint8_t kind, std::string_view id, uint64_t height, bool prove, std::optional<std::string>* value,
                    Hash256* key, uint64_t* at_height, Hash256* root, StateProof* proof) const;

  struct Status {
    uint64_t height = 0;
    Hash256 hash;
    uint64_t time_ms = 0;      // the tip's block time
    uint64_t tip_seen_ms = 0;  // this node's clock when it committed the tip, or started
    Hash256 state_root;
    size_t mempool_txs = 0;
    size_t mempool_bytes = 0;
    // Set while blocks cannot be committed (e.g. the disk is full): the last failure. The node
    // admits no txs meanwhile and retries with back-off.
    std::optional<Result> commit_failure;
    uint64_t commit_failures = 0;  // consecutive failed attempts
  };
  Status GetStatus() const;

  const Genesis& genesis() const { return genesis_; }
  const Config& config() const { return config_; }
  const PublicKey& validator() const { return validator_.public_key(); }
  Metrics& metrics() { return metrics_; }

  // Tests: the LevelDB Env the store uses (e.g. one that injects write failures). REQUIRES:
  // called before Start; env outlives the node.
  void SetStoreEnvForTesting(leveldb::Env* env) { store_env_for_testing_ = env; }
  // The back-off between failed commits: block_interval_ms doubling up to this.
  static constexpr uint64_t kCommitRetryDelayMsMax = 5000;

 private:
  void ProducerLoop();
  // REQUIRES: `lock` holds mu_. Releases it while the block is built, holds it to commit.
  void ProduceOnce(std::unique_lock<std::mutex>& lock);
  void RememberRejection(const Hash256& txid, const Result& result);  // REQUIRES: mu_ held
  uint64_t NowMs() const;
  // Records the chain's tip in tip.json. REQUIRES: mu_ held.
  Result RecordTip();
  // REQUIRES: mu_ held. Remembers a failed commit and returns the delay before the next try.
  uint64_t CommitFailed(const Result& why);

  Config config_;
  Genesis genesis_;
  PrivateKey validator_;
  contracts::KontorApp app_;
  Metrics metrics_;
  OsRandom random_;

  mutable std::mutex mu_;
  mutable std::condition_variable block_cv_;
  std::unique_ptr<Chain> chain_;
  Mempool mempool_;
  std::unordered_map<Hash256, Result, Hash256Hasher> rejected_;
  std::deque<Hash256> rejected_order_;
  uint64_t last_block_ms_ = 0;
  std::optional<Result> commit_failure_;  // see Status::commit_failure
  uint64_t commit_failures_ = 0;
  bool tip_recorded_ = false;  // tip.json names the chain's tip
  leveldb::Env* store_env_for_testing_ = nullptr;

  // Admission runs decode and signatures on its own pool (the chain's pool builds blocks).
  ThreadPool admission_pool_;
  std::unique_ptr<Executor> admission_;

  std::atomic<bool> stopping_{false};
  std::thread producer_;
};

// Maps a result to the name used in metrics and logs ("committed" for Ok).
std::string ResultLabel(const Result& r);

}  // namespace kontor::node
