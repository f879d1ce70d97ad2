#include "node/mempool.h"

#include <queue>

#include "ledger/bech32m.h"
#include "ledger/check.h"

namespace kontor::node {

const DecodedTx* Mempool::Find(const Hash256& txid) const {
  auto it = by_txid_.find(txid);
  return it == by_txid_.end() ? nullptr : &it->second.tx;
}

Result Mempool::Add(DecodedTx tx, uint64_t committed_nonce, uint64_t next_height, std::optional<Hash256>* evicted) {
  const Hash256 txid = tx.txid;
  const uint64_t nonce = tx.body.nonce();
  const PublicKey payer = tx.fee_payer();
  if (by_txid_.count(txid)) return {Code::kDuplicate, "tx " + txid.hex() + " is already pending"};
  if (nonce < committed_nonce)
    return {Code::kBadNonce, "nonce " + std::to_string(committed_nonce) + " expected, got " + std::to_string(nonce) +
                                 " (already used) for " + EncodeAddress(payer)};
  if (nonce - committed_nonce >= options_.account_txs_max)
    return {Code::kNonceGap, "nonce " + std::to_string(nonce) + " is too far ahead of " + EncodeAddress(payer) +
                                 "'s next nonce " + std::to_string(committed_nonce) + " (at most " +
                                 std::to_string(options_.account_txs_max) + " pending per account)"};
  if (tx.body.expiry_height() != 0 && tx.body.expiry_height() < next_height)
    return {Code::kExpired, "tx expired at height " + std::to_string(tx.body.expiry_height()) + "; next block is " +
                                std::to_string(next_height)};
  auto& queue = by_account_[payer];
  if (auto it = queue.find(nonce); it != queue.end())
    return {Code::kDuplicate, "nonce " + std::to_string(nonce) + " of " + EncodeAddress(payer) + " is already pending (tx " +
                                  it->second.hex() + ")"};
  if (queue.empty()) by_account_.erase(payer);  // do not leave an empty queue if we refuse below

  size_t size = tx.envelope.size();
  if (by_txid_.size() + 1 > options_.txs_max || bytes_ + size > options_.bytes_max) {
    // Find the cheapest tx that is last in its payer's queue (evicting it leaves no gap).
    const Entry* cheapest = nullptr;
    for (const auto& [account, nonces] : by_account_) {
      if (account == payer) continue;  // evicting its own predecessor would strand the new tx behind a gap
      const Entry& last = by_txid_.at(nonces.rbegin()->second);
      if (!cheapest || last.tx.body.fee() < cheapest->tx.body.fee() ||
          (last.tx.body.fee() == cheapest->tx.body.fee() && last.seq > cheapest->seq))
        cheapest = &last;
    }
    if (!cheapest || cheapest->tx.body.fee() >= tx.body.fee() || bytes_ - cheapest->tx.envelope.size() + size > options_.bytes_max)
      return {Code::kMempoolFull, "mempool is full (" + std::to_string(by_txid_.size()) + " txs, " + std::to_string(bytes_) +
                                      " bytes); retry later or pay a fee above " +
                                      std::to_string(cheapest ? cheapest->tx.body.fee() : 0)};
    Hash256 victim = cheapest->tx.txid;
    Erase(victim);
    if (evicted) *evicted = victim;
  }
  by_account_[payer][nonce] = txid;
  bytes_ += size;
  by_txid_.emplace(txid, Entry{std::move(tx), next_seq_++});
  return Result::Ok();
}

void Mempool::Erase(const Hash256& txid) {
  auto it = by_txid_.find(txid);
  if (it == by_txid_.end()) return;
  const DecodedTx& tx = it->second.tx;
  auto account = by_account_.find(tx.fee_payer());
  KONTOR_CHECK(account != by_account_.end());
  account->second.erase(tx.body.nonce());
  if (account->second.empty()) by_account_.erase(account);
  bytes_ -= tx.envelope.size();
  by_txid_.erase(it);
}

std::vector<const DecodedTx*> Mempool::Reap(size_t txs_max, size_t bytes_max, const NonceLookup& committed_nonce) const {
  // Each payer contributes its contiguous run from its committed nonce; the payer whose next
  // tx arrived earliest goes next.
  struct Cursor {
    const std::map<uint64_t, Hash256>* queue;
    uint64_t nonce;
  };
  std::vector<Cursor> cursors;
  auto cmp = [](const std::pair<uint64_t, size_t>& a, const std::pair<uint64_t, size_t>& b) { return a.first > b.first; };
  std::priority_queue<std::pair<uint64_t, size_t>, std::vector<std::pair<uint64_t, size_t>>, decltype(cmp)> heads(cmp);
  for (const auto& [payer, queue] : by_account_) {
    uint64_t nonce = committed_nonce(payer);
    auto it = queue.find(nonce);
    if (it == queue.end()) continue;
    cursors.push_back({&queue, nonce});
    heads.emplace(by_txid_.at(it->second).seq, cursors.size() - 1);
  }
  std::vector<const DecodedTx*> out;
  size_t bytes = 0;
  while (!heads.empty() && out.size() < txs_max) {
    auto [seq, index] = heads.top();
    heads.pop();
    Cursor& c = cursors[index];
    const Entry& e = by_txid_.at(c.queue->at(c.nonce));
    if (bytes + e.tx.envelope.size() > bytes_max) continue;  // this payer's run stops here
    bytes += e.tx.envelope.size();
    out.push_back(&e.tx);
    auto next = c.queue->find(++c.nonce);
    if (next != c.queue->end()) heads.emplace(by_txid_.at(next->second).seq, index);
  }
  return out;
}

std::vector<std::pair<Hash256, Result>> Mempool::Update(uint64_t height, const std::vector<Hash256>& included,
                                                        const NonceLookup& committed_nonce) {
  for (const Hash256& txid : included) Erase(txid);
  std::vector<std::pair<Hash256, Result>> dropped;
  std::vector<Hash256> stale;
  for (const auto& [payer, queue] : by_account_) {
    uint64_t nonce = committed_nonce(payer);
    for (const auto& [n, txid] : queue) {
      if (n < nonce) {
        dropped.push_back({txid, {Code::kBadNonce, "nonce " + std::to_string(n) + " was used by another tx"}});
        stale.push_back(txid);
        continue;
      }
      const DecodedTx& tx = by_txid_.at(txid).tx;
      if (tx.body.expiry_height() != 0 && tx.body.expiry_height() <= height) {
        dropped.push_back({txid, {Code::kExpired, "tx expired at height " + std::to_string(tx.body.expiry_height()) +
                                                      " while waiting in the mempool"}});
        stale.push_back(txid);
      }
    }
  }
  for (const Hash256& txid : stale) Erase(txid);
  return dropped;
}

uint64_t Mempool::NextNonce(const PublicKey& payer, uint64_t committed) const {
  auto it = by_account_.find(payer);
  if (it == by_account_.end()) return committed;
  uint64_t next = committed;
  while (it->second.count(next)) ++next;
  return next;
}

std::vector<Hash256> Mempool::RemoveWithSuccessors(const Hash256& txid) {
  std::vector<Hash256> removed;
  auto it = by_txid_.find(txid);
  if (it == by_txid_.end()) return removed;
  PublicKey payer = it->second.tx.fee_payer();
  uint64_t nonce = it->second.tx.body.nonce();
  auto& queue = by_account_.at(payer);
  for (auto n = queue.lower_bound(nonce); n != queue.end(); ++n) removed.push_back(n->second);
  for (const Hash256& id : removed) Erase(id);
  return removed;
}

}  // namespace kontor::node
