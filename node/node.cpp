#include "node/node.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "ledger/accounts.h"
#include "ledger/bech32m.h"
#include "node/home.h"

namespace kontor::node {

std::string ResultLabel(const Result& r) { return r.ok() ? "committed" : std::string(CodeName(r.code())); }

// The mempool's limits from the config, and its funding check against the committed state (read
// when a tx is admitted, under the node lock, after Start opened the chain).
static MempoolOptions MempoolOptionsFor(const Config& config, const Genesis& genesis, const contracts::KontorApp& app,
                                        const std::unique_ptr<Chain>& chain) {
  MempoolOptions o;
  o.txs_max = config.mempool_txs_max;
  o.bytes_max = config.mempool_bytes_max;
  o.account_txs_max = config.mempool_account_txs_max;
  o.nonce_gap_max = config.mempool_nonce_gap_max;
  o.tx_ttl_ms = config.mempool_tx_ttl_ms;
  o.fee_asset = genesis.params.fee_asset;
  o.funds = [&chain](const PublicKey& payer, const std::string& asset) {
    return BalanceOf(LoadAccount(chain->state(), payer), asset);
  };
  o.spend_of = [&chain, &app, fee_asset = genesis.params.fee_asset](const DecodedTx& tx) {
    std::vector<AssetAmount> spend = app.PayerDebits(tx, chain->state());
    spend.push_back({fee_asset, tx.body.fee()});
    return spend;
  };
  return o;
}

Node::Node(Config config, Genesis genesis, PrivateKey validator)
    : config_(std::move(config)),
      genesis_(std::move(genesis)),
      validator_(std::move(validator)),
      metrics_(kVersion, genesis_.chain_id),
      mempool_(MempoolOptionsFor(config_, genesis_, app_, chain_)),
      admission_pool_(0) {}

Node::~Node() { Stop(); }

uint64_t Node::NowMs() const {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

Result Node::Start() {
  if (genesis_.validators.size() != 1 || genesis_.validators[0].key != validator_.public_key())
    return {Code::kNotAuthorized, "this node's key " + EncodeAddress(validator_.public_key()) +
                                      " is not the chain's single validator; multi-validator consensus is not available yet"};
  DurableTip recorded;
  Result have_tip = ReadDurableTip(config_.home, &recorded);
  if (have_tip.ok()) {
    KONTOR_RETURN_IF_ERROR(CheckGenesisPinned(config_.home, recorded, genesis_));
  } else if (have_tip.code() != Code::kNotFound) {
    return have_tip;
  }
  ChainOptions options;
  options.store.path = config_.DataPath().string();
  options.store.sync = config_.sync_writes;
  options.store.create_if_missing = false;  // `kontord init` creates it; a missing one is an error
  options.store.env = store_env_for_testing_;
  options.state_history_heights = config_.state_history_heights;
  Result opened = Chain::Open(options, genesis_, &app_, &chain_);
  if (opened.code() == Code::kNotFound)
    return {Code::kNotFound, "no chain store in this home: " + opened.message() +
                                 ". The home is initialised, so its store was deleted, emptied or moved; the node will not "
                                 "start a new chain in its place. Restore " + options.store.path +
                                 " (with tip.json) from a backup, or resync it; a new chain needs a new home (`kontord init`)"};
  // A table file LevelDB cannot read (truncated, unreadable) surfaces as an IO error, not as
  // corruption; either way the store cannot be served. A locked store is another matter.
  const bool locked = opened.code() == Code::kStorage && opened.message().find("is locked") != std::string::npos;
  if (opened.code() == Code::kCorruption || (opened.code() == Code::kStorage && !locked))
    return {opened.code(), opened.message() + ". The store is damaged or unreadable; check the disk, then restore the home's "
                                              "data/ (with tip.json) from a backup or resync it, and run `kontor audit replay "
                                              "--node-home HOME` to find the first damaged height"};
  KONTOR_RETURN_IF_ERROR(opened);
  if (have_tip.ok()) {
    KONTOR_RETURN_IF_ERROR(CheckStoreHoldsTip(chain_->store(), recorded));
  } else {
    spdlog::warn("{} is missing (a home from an older kontord?): recording the store's tip {} now",
                 (config_.home / kTipFileName).string(), chain_->height());
  }
  {
    std::lock_guard lock(mu_);
    // The store may be one block ahead of tip.json (a crash between the two writes).
    if (Result r = RecordTip(); !r.ok()) return r;
  }
  admission_ = std::make_unique<Executor>(genesis_, app_, admission_pool_, &chain_->signature_cache());
  last_block_ms_ = NowMs();
  metrics_.block_height.Set(static_cast<double>(chain_->height()));
  spdlog::info("chain {} at height {} hash {} state_root {}", genesis_.chain_id, chain_->height(), chain_->tip().hash.hex(),
               chain_->state().root().hex());
  producer_ = std::thread([this] { ProducerLoop(); });
  return Result::Ok();
}

void Node::Stop() {
  if (stopping_.exchange(true)) {
    if (producer_.joinable()) producer_.join();
    return;
  }
  block_cv_.notify_all();
  if (producer_.joinable()) producer_.join();
}

Result Node::RecordTip() {
  Result r = WriteDurableTip(config_.home, DurableTip{genesis_.hash, chain_->height(), chain_->tip().hash});
  tip_recorded_ = r.ok();
  return r;
}

uint64_t Node::CommitFailed(const Result& why) {
  ++commit_failures_;
  commit_failure_ = why;
  metrics_.commit_failures.Increment();
  uint64_t delay = config_.block_interval_ms;
  for (uint64_t i = 1; i < commit_failures_ && delay < kCommitRetryDelayMsMax; ++i) delay *= 2;
  delay = std::min(delay, kCommitRetryDelayMsMax);
  spdlog::error("cannot commit block {} (attempt {}): {}; not admitting txs; retrying in {} ms", chain_->height() + 1,
                commit_failures_, why.ToString(), delay);
  return delay;
}

std::vector<std::pair<Hash256, Result>> Node::Submit(const std::vector<std::string>& envelopes) {
  {
    std::lock_guard lock(mu_);
    if (commit_failure_) {
      Result refused(Code::kUnavailable, "the node cannot commit blocks (" + commit_failure_->ToString() +
                                             "); it admits no txs until a block commits again; retry later");
      std::vector<std::pair<Hash256, Result>> out;
      for (const std::string& envelope : envelopes) {
        v1::Tx tx;
        out.emplace_back(tx.ParseFromString(envelope) ? ComputeTxid(tx.body()) : Hash256(), refused);
      }
      metrics_.TxResult(ResultLabel(refused)).Increment(static_cast<double>(envelopes.size()));
      return out;
    }
  }
  std::vector<std::string_view> views(envelopes.begin(), envelopes.end());
  std::vector<DecodedTx> txs;
  std::vector<Result> results;
  admission_->DecodeAndVerify(views, &txs, &results);  // parallel, outside the lock

  std::vector<std::pair<Hash256, Result>> out(envelopes.size());
  std::lock_guard lock(mu_);
  const uint64_t next_height = chain_->height() + 1;
  BlockEnv env;
  env.chain_id = genesis_.chain_id;
  env.height = next_height;
  env.time_ms = std::max(NowMs(), chain_->tip().time_ms);
  env.prev_time_ms = chain_->tip().time_ms;
  env.proposer = validator_.public_key();
  env.genesis = &genesis_;
  for (size_t i = 0; i < txs.size(); ++i) {
    DecodedTx& tx = txs[i];
    Result r = results[i];
    if (r.ok() && chain_->FindTx(tx.txid, nullptr).ok()) r = Result(Code::kDuplicate, "tx " + tx.txid.hex() + " is already committed");
    uint64_t committed_nonce = r.ok() ? LoadAccount(chain_->state(), tx.fee_payer()).nonce() : 0;
    if (r.ok() && tx.body.nonce() == committed_nonce && !mempool_.Contains(tx.txid)) {
      // The payer's next tx: run it against the committed state now, so the submitter hears
      // about e.g. insufficient funds at once rather than from a silent drop later.
      StateDelta scratch(&chain_->state());
      uint64_t fees = 0;
      r = admission_->ExecuteTx(tx, env, scratch, &fees);
    }
    Hash256 txid = tx.txid;
    if (r.ok()) {
      std::optional<Hash256> evicted;
      r = mempool_.Add(std::move(tx), committed_nonce, next_height, &evicted, NowMs());
      if (evicted) RememberRejection(*evicted, {Code::kMempoolFull, "evicted from a full mempool by a higher-fee tx"});
    }
    if (!r.ok()) {
      RememberRejection(txid, r);
      metrics_.TxResult(ResultLabel(r)).Increment();
      spdlog::debug("rejected tx {}: {}", txid.hex(), r.ToString());
    }
    out[i] = {txid, r};
  }
  metrics_.mempool_txs.Set(static_cast<double>(mempool_.size()));
  metrics_.mempool_bytes.Set(static_cast<double>(mempool_.bytes()));
  if (mempool_.size() > 0) block_cv_.notify_all();
  return out;
}

void Node::RememberRejection(const Hash256& txid, const Result& result) {
  if (txid.IsZero()) return;
  if (rejected_.insert_or_assign(txid, result).second) rejected_order_.push_back(txid);
  while (rejected_order_.size() > config_.rejected_cache_entries_max) {
    rejected_.erase(rejected_order_.front());
    rejected_order_.pop_front();
  }
}

void Node::ProducerLoop() {
  std::unique_lock lock(mu_);
  auto next_tick = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.block_interval_ms);
  while (!stopping_) {
    block_cv_.wait_until(lock, next_tick, [&] { return stopping_.load(); });
    if (stopping_) break;
    if (std::chrono::steady_clock::now() < next_tick) continue;
    next_tick = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.block_interval_ms);
    uint64_t now = NowMs();
    // A block when txs wait, when a contract's agenda event is due (it must close, charge or pay
    // at its time even on an idle chain), or when the heartbeat interval has passed.
    const std::optional<uint64_t> due = app_.NextEventMs(chain_->state());
    const bool agenda_due = due && *due <= now;
    if (mempool_.size() == 0 && !agenda_due && now - last_block_ms_ < config_.heartbeat_interval_ms && tip_recorded_)
      continue;
    ProduceOnce(lock);
    if (commit_failure_) {
      uint64_t delay = CommitFailed(*commit_failure_);
      next_tick = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay);
    }
  }
}

void Node::ProduceOnce(std::unique_lock<std::mutex>& lock) {
  auto started = std::chrono::steady_clock::now();
  if (!tip_recorded_) {
    // The last block committed but tip.json could not be written: finish that first.
    if (Result r = RecordTip(); !r.ok()) {
      commit_failure_ = Result(r.code(), "cannot record the committed tip: " + r.message());
      return;
    }
  }
  auto nonce_of = [&](const PublicKey& key) { return LoadAccount(chain_->state(), key).nonce(); };
  std::vector<const DecodedTx*> picked = mempool_.Reap(genesis_.params.block_txs_max, genesis_.params.block_bytes_max - 4096, nonce_of);
  // Copies: the mempool may change (admissions, evictions) while the block is built unlocked.
  std::vector<std::string> envelopes;
  envelopes.reserve(picked.size());
  for (const DecodedTx* tx : picked) envelopes.push_back(tx->envelope);
  std::vector<std::string_view> candidates(envelopes.begin(), envelopes.end());
  ExecutedBlock produced;
  std::vector<RejectedTx> rejected;
  uint64_t now = std::max(NowMs(), chain_->tip().time_ms);
  // Build the block without the lock: admissions and queries read the committed chain meanwhile.
  // Only this thread commits, so the chain cannot move under the block being built.
  lock.unlock();
  Result r = chain_->ProposeNext(candidates, now, validator_, random_, &produced, &rejected);
  lock.lock();
  // CommitExecuted takes the state changes and tree; the block itself stays readable below.
  if (r.ok()) r = chain_->CommitExecuted(std::move(produced));
  if (!r.ok()) {
    commit_failure_ = r;  // ProducerLoop logs it and backs off
    return;
  }
  // Record the tip before anyone can see the block's txs as committed (mu_ is held).
  if (Result recorded = RecordTip(); !recorded.ok())
    spdlog::error("block {} committed, but cannot record it in {}: {}; retrying before the next block", chain_->height(),
                  kTipFileName, recorded.ToString());
  if (commit_failure_) spdlog::info("committing again after {} failed attempts", commit_failures_);
  commit_failure_.reset();
  commit_failures_ = 0;
  const uint64_t height = chain_->height();
  // Txs that failed in the block: drop them (and their payer's later txs, now unreachable).
  for (const RejectedTx& rej : rejected) {
    std::vector<Hash256> removed = mempool_.RemoveWithSuccessors(rej.txid);
    for (const Hash256& id : removed) {
      Result why = id == rej.txid ? rej.result : Result(Code::kNonceGap, "an earlier tx of the same payer failed: " + rej.result.ToString());
      RememberRejection(id, why);
      metrics_.TxResult(ResultLabel(why)).Increment();
    }
    spdlog::info("dropped tx {} at height {}: {}", rej.txid.hex(), height, rej.result.ToString());
  }
  std::vector<Hash256> included;
  for (const auto& tx : produced.block.txs) included.push_back(tx.txid);
  for (const auto& [txid, why] : mempool_.Update(height, included, nonce_of, NowMs())) {
    RememberRejection(txid, why);
    metrics_.TxResult(ResultLabel(why)).Increment();
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.commit_latency_seconds.Observe(seconds);
  metrics_.block_interval_seconds.Set(static_cast<double>(now - last_block_ms_) / 1000.0);
  metrics_.block_height.Set(static_cast<double>(height));
  metrics_.TxResult("committed").Increment(static_cast<double>(included.size()));
  metrics_.mempool_txs.Set(static_cast<double>(mempool_.size()));
  metrics_.mempool_bytes.Set(static_cast<double>(mempool_.bytes()));
  last_block_ms_ = now;
  spdlog::info("committed block {} hash {} txs {} in {:.1f} ms", height, produced.block.hash.hex(), included.size(), seconds * 1e3);
  block_cv_.notify_all();
}

TxStatusInfo Node::GetTx(const Hash256& txid) const {
  std::lock_guard lock(mu_);
  TxStatusInfo info;
  TxLocation where;
  if (chain_->FindTx(txid, &where).ok()) {
    info.status = TxStatusInfo::Status::kCommitted;
    info.height = where.height;
    info.index = where.index;
    v1::StoredBlock stored;
    if (chain_->GetBlock(where.height, &stored).ok()) {
      info.block_hash = BlockHash(stored.block().header());
      if (where.index < static_cast<uint32_t>(stored.block().txs_size())) info.envelope = stored.block().txs(where.index);
    }
    return info;
  }
  if (const DecodedTx* tx = mempool_.Find(txid)) {
    info.status = TxStatusInfo::Status::kPending;
    info.envelope = tx->envelope;
    return info;
  }
  if (auto it = rejected_.find(txid); it != rejected_.end()) {
    info.status = TxStatusInfo::Status::kRejected;
    info.rejection = it->second;
  }
  return info;
}

static Result FillBlockInfo(const Chain& chain, uint64_t height, BlockInfo* out) {
  KONTOR_RETURN_IF_ERROR(chain.GetBlock(height, &out->stored));
  if (!out->header.ParseFromString(out->stored.block().header())) return {Code::kCorruption, "stored header does not decode"};
  out->height = height;
  out->hash = BlockHash(out->stored.block().header());
  return Result::Ok();
}

Result Node::GetBlock(uint64_t height, BlockInfo* out) const {
  std::lock_guard lock(mu_);
  if (height == 0) height = chain_->height();
  if (height == 0) return {Code::kNotFound, "no block yet: the chain is at genesis"};
  if (height > chain_->height())
    return {Code::kNotFound, "no block at height " + std::to_string(height) + "; the tip is " + std::to_string(chain_->height())};
  return FillBlockInfo(*chain_, height, out);
}

Result Node::GetBlockByHash(const Hash256& hash, BlockInfo* out) const {
  std::lock_guard lock(mu_);
  uint64_t height = 0;
  KONTOR_RETURN_IF_ERROR(chain_->GetBlockHeight(hash, &height));
  return FillBlockInfo(*chain_, height, out);
}

uint64_t Node::WaitForBlockAbove(uint64_t height, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  block_cv_.wait_for(lock, timeout, [&] { return stopping_.load() || chain_->height() > height; });
  return chain_->height();
}

v1::Account Node::GetAccount(const PublicKey& key, uint64_t* height, bool* exists, uint64_t* next_nonce) const {
  std::lock_guard lock(mu_);
  *height = chain_->height();
  *exists = chain_->state().Get(AccountKey(key)).has_value();
  v1::Account account = LoadAccount(chain_->state(), key);
  *next_nonce = mempool_.NextNonce(key, account.nonce());
  return account;
}

std::vector<v1::Asset> Node::ListAssets() const {
  std::lock_guard lock(mu_);
  std::vector<v1::Asset> out;
  for (const auto& a : genesis_.assets)
    if (auto asset = LoadAsset(chain_->state(), a.symbol)) out.push_back(*asset);
  return out;
}

Result Node::QueryState(uint8_t kind, std::string_view id, uint64_t height, bool prove, std::optional<std::string>* value,
                        Hash256* key, uint64_t* at_height, Hash256* root, StateProof* proof) const {
  std::lock_guard lock(mu_);
  *key = StateKey(kind, id);
  const uint64_t tip = chain_->height();
  if (height == 0) height = tip;
  *at_height = height;
  StateProof p;
  KONTOR_RETURN_IF_ERROR(chain_->state().Prove(*key, height, &p, root));
  if (height == tip) {
    *value = chain_->state().Get(*key);
  } else if (!prove) {
    return {Code::kNotFound, "record values are served at the latest height (" + std::to_string(tip) +
                                 ") only; at an older height ask for a proof"};
  }
  if (prove) *proof = std::move(p);
  return Result::Ok();
}

Node::Status Node::GetStatus() const {
  std::lock_guard lock(mu_);
  Status s;
  s.height = chain_->height();
  s.hash = chain_->tip().hash;
  s.time_ms = chain_->tip().time_ms;
  s.tip_seen_ms = last_block_ms_;
  s.state_root = chain_->state().root();
  s.mempool_txs = mempool_.size();
  s.mempool_bytes = mempool_.bytes();
  s.commit_failure = commit_failure_;
  s.commit_failures = commit_failures_;
  return s;
}

}  // namespace kontor::node
