// The mempool: transactions admitted but not yet in a block.
//
// Admission (by the node, before Add): decoding, stateless checks and signatures (verified in
// parallel and cached). Add then enforces what depends on what is already pending:
//   - a txid at most once (kDuplicate); one tx per (fee payer, nonce) (kDuplicate)
//   - nonce >= the payer's committed nonce (kBadNonce) and < committed + account_txs_max
//     (kNonceGap): later nonces wait until the gap fills
//   - expiry not passed for the next block (kExpired)
//   - the payer can pay: for every asset, its committed balance covers what this tx and all its
//     pending txs can spend (fee included) (kInsufficientFunds). Nothing is queued on credit,
//     so a key with no funds cannot hold a slot, and a claimed fee is always one it can pay.
//   - nonce gaps are small: a tx may wait behind a gap only up to nonce_gap_max nonces past the
//     payer's contiguous run, and only if the payer holds the fee asset (kNonceGap otherwise)
//   - bounded count and bytes: when full, a tx may evict the tx with the lowest fee rate (fee per
//     envelope byte) among those last in their payer's queue, if its own rate is strictly
//     higher; otherwise kMempoolFull. The candidates are kept ordered: O(log n).
//   - a tx waits at most tx_ttl_ms after admission (Update drops it with kExpired)
// Reap returns, for a block, each payer's txs in nonce order starting at its committed nonce
// (no gaps), payers interleaved in arrival order. Not thread-safe: the node holds its lock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "ledger/application.h"
#include "ledger/result.h"
#include "ledger/tx.h"

namespace kontor::node {

// The payer's committed balance of an asset.
using FundsLookup = std::function<uint64_t(const PublicKey& payer, const std::string& asset)>;
// The most a tx can take from its fee payer's balances, fee included, per asset.
using SpendOf = std::function<std::vector<AssetAmount>(const DecodedTx& tx)>;

struct MempoolOptions {
  size_t txs_max = 50000;
  size_t bytes_max = 64 * 1024 * 1024;
  size_t account_txs_max = 256;   // nonce window: committed nonce .. committed + this - 1
  size_t nonce_gap_max = 16;      // how far past its contiguous run a payer's tx may wait
  uint64_t tx_ttl_ms = 600'000;   // how long a tx may wait
  // Funding: both set (the node always sets them) or both empty (no funding check: only for
  // tests of the other rules). fee_asset names the asset in which a payer must hold a balance
  // to have txs behind a gap.
  FundsLookup funds;
  SpendOf spend_of;
  std::string fee_asset;
};

using NonceLookup = std::function<uint64_t(const PublicKey&)>;  // the payer's committed nonce

class Mempool {
 public:
  explicit Mempool(MempoolOptions options) : options_(options) {}

  // `next_height` is the height of the next block. On success the tx is pending; if an older
  // tx was evicted to make room, its txid is put in *evicted.
  // `now_ms` (wall clock) starts the tx's time to live.
  Result Add(DecodedTx tx, uint64_t committed_nonce, uint64_t next_height, std::optional<Hash256>* evicted = nullptr,
             uint64_t now_ms = 0);
  bool Contains(const Hash256& txid) const { return by_txid_.count(txid) != 0; }
  const DecodedTx* Find(const Hash256& txid) const;

  // Txs for the next block, at most txs_max and bytes_max in total.
  std::vector<const DecodedTx*> Reap(size_t txs_max, size_t bytes_max, const NonceLookup& committed_nonce) const;

  // After a block at `height` (next block is height+1): removes the included txs, then those
  // whose nonce is now used, whose expiry has passed or that have waited tx_ttl_ms by `now_ms`
  // (0: no time to live check), and the last txs of a payer whose txs were included if its
  // balance no longer covers what remains pending. Returns what it dropped and why. Its scan is
  // bounded by txs_max, not by the number of accounts.
  std::vector<std::pair<Hash256, Result>> Update(uint64_t height, const std::vector<Hash256>& included,
                                                 const NonceLookup& committed_nonce, uint64_t now_ms = 0);
  // Drops one tx (e.g. it failed when a block was built) and every later tx of its payer,
  // which can no longer be included. Returns the txids removed.
  std::vector<Hash256> RemoveWithSuccessors(const Hash256& txid);

  // The nonce after the payer's contiguous run of pending txs starting at `committed`.
  uint64_t NextNonce(const PublicKey& payer, uint64_t committed) const;
  size_t size() const { return by_txid_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  struct Entry {
    DecodedTx tx;
    uint64_t seq;  // arrival order
    uint64_t admitted_ms;
    std::vector<AssetAmount> spend;
  };
  // A payer's tail tx, ordered for eviction: lowest fee rate first, the newest first among equals.
  struct EvictionKey {
    uint64_t fee;
    uint64_t size;
    uint64_t seq;
    Hash256 txid;
    bool operator<(const EvictionKey& o) const;
  };
  struct Queue {
    std::map<uint64_t, Hash256> by_nonce;
    std::map<std::string, unsigned __int128> pending_spend;  // per asset, fees included
  };
  void Erase(const Hash256& txid);
  EvictionKey KeyOf(const Entry& e) const { return {e.tx.body.fee(), e.tx.envelope.size(), e.seq, e.tx.txid}; }
  // Checks that the payer covers `spend` on top of what it has pending.
  Result CheckFunds(const PublicKey& payer, const Queue* queue, const std::vector<AssetAmount>& spend) const;

  MempoolOptions options_;
  uint64_t next_seq_ = 0;
  uint64_t last_admitted_ms_ = 0;
  size_t bytes_ = 0;
  std::unordered_map<Hash256, Entry, Hash256Hasher> by_txid_;
  std::map<PublicKey, Queue> by_account_;
  std::set<EvictionKey> eviction_;  // the last tx of each payer's queue
};

}  // namespace kontor::node
