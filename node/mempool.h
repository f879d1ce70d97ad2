// The mempool: transactions admitted but not yet in a block.
//
// Admission (by the node, before Add): decoding, stateless checks and signatures (verified in
// parallel and cached). Add then enforces what depends on what is already pending:
//   - a txid at most once (kDuplicate); one tx per (fee payer, nonce) (kDuplicate)
//   - nonce >= the payer's committed nonce (kBadNonce) and < committed + account_txs_max
//     (kNonceGap): later nonces wait until the gap fills
//   - expiry not passed for the next block (kExpired)
//   - bounded count and bytes: when full, a tx may evict the lowest-fee tx that is last in its
//     payer's queue if it pays a strictly higher fee; otherwise kMempoolFull
// Reap returns, for a block, each payer's txs in nonce order starting at its committed nonce
// (no gaps), payers interleaved in arrival order. Not thread-safe: the node holds its lock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>
#include <vector>

#include "ledger/result.h"
#include "ledger/tx.h"

namespace kontor::node {

struct MempoolOptions {
  size_t txs_max = 50000;
  size_t bytes_max = 64 * 1024 * 1024;
  size_t account_txs_max = 256;
};

using NonceLookup = std::function<uint64_t(const PublicKey&)>;  // the payer's committed nonce

class Mempool {
 public:
  explicit Mempool(MempoolOptions options) : options_(options) {}

  // `next_height` is the height of the next block. On success the tx is pending; if an older
  // tx was evicted to make room, its txid is put in *evicted.
  Result Add(DecodedTx tx, uint64_t committed_nonce, uint64_t next_height, std::optional<Hash256>* evicted = nullptr);
  bool Contains(const Hash256& txid) const { return by_txid_.count(txid) != 0; }
  const DecodedTx* Find(const Hash256& txid) const;

  // Txs for the next block, at most txs_max and bytes_max in total.
  std::vector<const DecodedTx*> Reap(size_t txs_max, size_t bytes_max, const NonceLookup& committed_nonce) const;

  // After a block at `height` (next block is height+1): removes the included txs, then those
  // whose nonce is now used or whose expiry has passed. Returns what it dropped and why.
  std::vector<std::pair<Hash256, Result>> Update(uint64_t height, const std::vector<Hash256>& included,
                                                 const NonceLookup& committed_nonce);
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
  };
  void Erase(const Hash256& txid);

  MempoolOptions options_;
  uint64_t next_seq_ = 0;
  size_t bytes_ = 0;
  std::unordered_map<Hash256, Entry, Hash256Hasher> by_txid_;
  std::map<PublicKey, std::map<uint64_t, Hash256>> by_account_;  // payer -> nonce -> txid
};

}  // namespace kontor::node
