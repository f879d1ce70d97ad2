#include "node/mempool.h"

#include <algorithm>
#include <queue>

#include "ledger/bech32m.h"
#include "ledger/bytes.h"
#include "ledger/check.h"

namespace kontor::node {

const DecodedTx* Mempool::Find(const Hash256& txid) const {
  auto it = by_txid_.find(txid);
  return it == by_txid_.end() ? nullptr : &it->second.tx;
}

bool Mempool::EvictionKey::operator<(const EvictionKey& o) const {
  // fee / size < o.fee / o.size, without division.
  unsigned __int128 lhs = static_cast<unsigned __int128>(fee) * o.size, rhs = static_cast<unsigned __int128>(o.fee) * size;
  if (lhs != rhs) return lhs < rhs;
  if (seq != o.seq) return seq > o.seq;  // among equal rates, the newest goes first
  return txid < o.txid;
}

Result Mempool::CheckFunds(const PublicKey& payer, const Queue* queue, const std::vector<AssetAmount>& spend) const {
  if (!options_.funds) return Result::Ok();
  for (const AssetAmount& s : spend) {
    if (s.amount == 0) continue;
    unsigned __int128 pending = 0;
    if (queue)
      if (auto it = queue->pending_spend.find(s.asset); it != queue->pending_spend.end()) pending = it->second;
    uint64_t balance = options_.funds(payer, s.asset);
    if (pending + s.amount > balance)
      return {Code::kInsufficientFunds, EncodeAddress(payer) + " holds " + std::to_string(balance) + " of " + s.asset +
                                            " (smallest units) but this tx can spend " + std::to_string(s.amount) +
                                            (pending ? " on top of " + DecimalString(static_cast<__int128>(pending)) + " its pending txs can spend" : "") +
                                            "; the mempool queues only what the payer can pay"};
  }
  return Result::Ok();
}

Result Mempool::Add(DecodedTx tx, uint64_t committed_nonce, uint64_t next_height, std::optional<Hash256>* evicted,
                    uint64_t now_ms) {
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
  auto queue_it = by_account_.find(payer);
  const Queue* queue = queue_it == by_account_.end() ? nullptr : &queue_it->second;
  if (queue)
    if (auto it = queue->by_nonce.find(nonce); it != queue->by_nonce.end())
      return {Code::kDuplicate, "nonce " + std::to_string(nonce) + " of " + EncodeAddress(payer) + " is already pending (tx " +
                                    it->second.hex() + ")"};
  const uint64_t next_nonce = NextNonce(payer, committed_nonce);
  if (nonce > next_nonce) {
    if (nonce - next_nonce > options_.nonce_gap_max)
      return {Code::kNonceGap, "nonce " + std::to_string(nonce) + " leaves a gap of " + std::to_string(nonce - next_nonce) +
                                   " after " + EncodeAddress(payer) + "'s next nonce " + std::to_string(next_nonce) +
                                   "; at most " + std::to_string(options_.nonce_gap_max) + " may wait behind a gap"};
    if (options_.funds && options_.funds(payer, options_.fee_asset) == 0)
      return {Code::kNonceGap, "nonce " + std::to_string(nonce) + " is ahead of " + EncodeAddress(payer) + "'s next nonce " +
                                   std::to_string(next_nonce) + "; only a payer holding " + options_.fee_asset +
                                   " may have txs wait behind a gap"};
  }
  // What the tx can spend, one entry per asset (a transfer of the fee asset spends it twice).
  std::vector<AssetAmount> spend;
  if (options_.spend_of)
    for (AssetAmount& a : options_.spend_of(tx)) {
      auto same = std::find_if(spend.begin(), spend.end(), [&](const AssetAmount& s) { return s.asset == a.asset; });
      if (same == spend.end()) spend.push_back(std::move(a));
      else same->amount = a.amount > UINT64_MAX - same->amount ? UINT64_MAX : same->amount + a.amount;
    }
  KONTOR_RETURN_IF_ERROR(CheckFunds(payer, queue, spend));

  size_t size = tx.envelope.size();
  if (by_txid_.size() + 1 > options_.txs_max || bytes_ + size > options_.bytes_max) {
    // The tail tx with the lowest fee rate (evicting a tail leaves no gap); never the incoming
    // payer's own, which would strand the new tx behind a gap.
    const EvictionKey incoming{tx.body.fee(), size, next_seq_, txid};
    const Entry* cheapest = nullptr;
    for (const EvictionKey& key : eviction_) {
      const Entry& e = by_txid_.at(key.txid);
      if (e.tx.fee_payer() == payer) continue;
      if (key < incoming) cheapest = &e;
      break;
    }
    if (!cheapest || bytes_ - cheapest->tx.envelope.size() + size > options_.bytes_max) {
      // The fee this tx would need to beat the cheapest waiting tx's rate.
      std::string advice;
      if (!eviction_.empty()) {
        const EvictionKey& low = *eviction_.begin();
        unsigned __int128 need = static_cast<unsigned __int128>(low.fee) * size / low.size;
        advice = " or pay a fee above " + DecimalString(static_cast<__int128>(need)) + " (the cheapest waiting tx pays " +
                 std::to_string(low.fee) + " for " + std::to_string(low.size) + " bytes)";
      }
      return {Code::kMempoolFull, "mempool is full (" + std::to_string(by_txid_.size()) + " txs, " + std::to_string(bytes_) +
                                      " bytes); retry later" + advice};
    }
    Hash256 victim = cheapest->tx.txid;
    Erase(victim);
    if (evicted) *evicted = victim;
  }
  Queue& q = by_account_[payer];
  const bool new_tail = q.by_nonce.empty() || nonce > q.by_nonce.rbegin()->first;
  if (new_tail && !q.by_nonce.empty()) eviction_.erase(KeyOf(by_txid_.at(q.by_nonce.rbegin()->second)));
  q.by_nonce[nonce] = txid;
  for (const AssetAmount& a : spend) q.pending_spend[a.asset] += a.amount;
  bytes_ += size;
  last_admitted_ms_ = std::max(last_admitted_ms_, now_ms);
  auto [it, inserted] = by_txid_.emplace(txid, Entry{std::move(tx), next_seq_++, last_admitted_ms_, std::move(spend)});
  KONTOR_CHECK(inserted);
  if (new_tail) eviction_.insert(KeyOf(it->second));
  return Result::Ok();
}

void Mempool::Erase(const Hash256& txid) {
  auto it = by_txid_.find(txid);
  if (it == by_txid_.end()) return;
  const Entry& entry = it->second;
  const DecodedTx& tx = entry.tx;
  auto account = by_account_.find(tx.fee_payer());
  KONTOR_CHECK(account != by_account_.end());
  Queue& q = account->second;
  const bool was_tail = q.by_nonce.rbegin()->first == tx.body.nonce();
  if (was_tail) KONTOR_CHECK(eviction_.erase(KeyOf(entry)) == 1);
  q.by_nonce.erase(tx.body.nonce());
  for (const AssetAmount& a : entry.spend) {
    auto p = q.pending_spend.find(a.asset);
    KONTOR_CHECK(p != q.pending_spend.end() && p->second >= a.amount);
    if ((p->second -= a.amount) == 0) q.pending_spend.erase(p);
  }
  if (q.by_nonce.empty()) {
    KONTOR_CHECK(q.pending_spend.empty());
    by_account_.erase(account);
  } else if (was_tail) {
    eviction_.insert(KeyOf(by_txid_.at(q.by_nonce.rbegin()->second)));
  }
  bytes_ -= tx.envelope.size();
  by_txid_.erase(it);
}

std::vector<const DecodedTx*> Mempool::Reap(size_t txs_max, size_t bytes_max, const NonceLookup& committed_nonce) const {
  // Each payer contributes its contiguous run from its committed nonce; the payer whose next
  // tx arrived earliest goes next.
  struct Cursor {
    const std::map<uint64_t, Hash256>* queue;  // a payer's nonce -> txid
    uint64_t nonce;
  };
  std::vector<Cursor> cursors;
  auto cmp = [](const std::pair<uint64_t, size_t>& a, const std::pair<uint64_t, size_t>& b) { return a.first > b.first; };
  std::priority_queue<std::pair<uint64_t, size_t>, std::vector<std::pair<uint64_t, size_t>>, decltype(cmp)> heads(cmp);
  for (const auto& [payer, q] : by_account_) {
    uint64_t nonce = committed_nonce(payer);
    auto it = q.by_nonce.find(nonce);
    if (it == q.by_nonce.end()) continue;
    cursors.push_back({&q.by_nonce, nonce});
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
                                                        const NonceLookup& committed_nonce, uint64_t now_ms) {
  std::set<PublicKey> moved;  // payers whose balances the block changed through their own txs
  for (const Hash256& txid : included) {
    if (auto it = by_txid_.find(txid); it != by_txid_.end()) moved.insert(it->second.tx.fee_payer());
    Erase(txid);
  }
  std::vector<std::pair<Hash256, Result>> dropped;
  std::vector<Hash256> stale;
  for (const auto& [payer, q] : by_account_) {
    uint64_t nonce = committed_nonce(payer);
    for (const auto& [n, txid] : q.by_nonce) {
      if (n < nonce) {
        dropped.push_back({txid, {Code::kBadNonce, "nonce " + std::to_string(n) + " was used by another tx"}});
        stale.push_back(txid);
        moved.insert(payer);
        continue;
      }
      const Entry& e = by_txid_.at(txid);
      if (e.tx.body.expiry_height() != 0 && e.tx.body.expiry_height() <= height) {
        dropped.push_back({txid, {Code::kExpired, "tx expired at height " + std::to_string(e.tx.body.expiry_height()) +
                                                      " while waiting in the mempool"}});
        stale.push_back(txid);
      } else if (now_ms != 0 && now_ms - std::min(now_ms, e.admitted_ms) >= options_.tx_ttl_ms) {
        dropped.push_back({txid, {Code::kExpired, "tx waited " + std::to_string(options_.tx_ttl_ms) +
                                                      " ms in the mempool without being included (mempool.tx_ttl_ms)"}});
        stale.push_back(txid);
      }
    }
  }
  for (const Hash256& txid : stale) Erase(txid);
  // A payer whose balance went down keeps only the txs its balance still covers (from the front).
  if (options_.funds) {
    for (const PublicKey& payer : moved) {
      auto account = by_account_.find(payer);
      if (account == by_account_.end()) continue;
      std::vector<Hash256> uncovered;
      std::map<std::string, unsigned __int128> running;
      bool short_of_funds = false;
      for (const auto& [n, txid] : account->second.by_nonce) {
        for (const AssetAmount& a : by_txid_.at(txid).spend)
          if ((running[a.asset] += a.amount) > options_.funds(payer, a.asset)) short_of_funds = true;
        if (short_of_funds) uncovered.push_back(txid);
      }
      for (const Hash256& txid : uncovered) {
        dropped.push_back({txid, {Code::kInsufficientFunds, "the payer's balance no longer covers this tx and those before it"}});
        Erase(txid);
      }
    }
  }
  return dropped;
}

uint64_t Mempool::NextNonce(const PublicKey& payer, uint64_t committed) const {
  auto it = by_account_.find(payer);
  if (it == by_account_.end()) return committed;
  uint64_t next = committed;
  while (it->second.by_nonce.count(next)) ++next;
  return next;
}

std::vector<Hash256> Mempool::RemoveWithSuccessors(const Hash256& txid) {
  std::vector<Hash256> removed;
  auto it = by_txid_.find(txid);
  if (it == by_txid_.end()) return removed;
  PublicKey payer = it->second.tx.fee_payer();
  uint64_t nonce = it->second.tx.body.nonce();
  const auto& queue = by_account_.at(payer).by_nonce;
  for (auto n = queue.lower_bound(nonce); n != queue.end(); ++n) removed.push_back(n->second);
  for (const Hash256& id : removed) Erase(id);
  return removed;
}

}  // namespace kontor::node
