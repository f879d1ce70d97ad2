#include "ledger/chain.h"

#include <algorithm>

#include "ledger/block.h"
#include "ledger/check.h"
#include "ledger/codec.h"
#include "ledger/pipeline.h"

namespace kontor {

namespace store_keys {
std::string Block(uint64_t height) {
  std::string k = "b";
  PutBigEndian64(&k, height);
  return k;
}
std::string BlockHeight(const Hash256& h) { return "h" + h.bytes(); }
std::string Tx(const Hash256& txid) { return "t" + txid.bytes(); }
std::string StateEntry(const Hash256& key) { return "s" + key.bytes(); }
}  // namespace store_keys

namespace {

std::string TipValue(uint64_t height, const Hash256& hash) {
  std::string v;
  PutBigEndian64(&v, height);
  v += hash.view();
  return v;
}

void PutStateChanges(WriteBatch& batch, const StateChanges& changes, uint64_t height) {
  std::string value;
  for (const auto& [k, v] : changes) {
    if (!v) {
      batch.Delete(store_keys::StateEntry(k));
      continue;
    }
    value.clear();
    PutBigEndian64(&value, height);
    value += *v;
    batch.Put(store_keys::StateEntry(k), value);
  }
}

}  // namespace

Result CheckBlockIndexes(const Store& store, uint64_t height, const Hash256& hash, const v1::Block& block) {
  const std::string where = "block " + std::to_string(height);
  std::string value;
  Result r = store.Get(store_keys::BlockHeight(hash), &value);
  if (r.code() == Code::kNotFound) return {Code::kCorruption, where + ": its hash index entry is missing"};
  KONTOR_RETURN_IF_ERROR(r);
  if (value.size() != 8 || GetBigEndian64(value) != height)
    return {Code::kCorruption, where + ": its hash index entry names another height"};
  for (int i = 0; i < block.txs_size(); ++i) {
    v1::Tx envelope;
    if (!envelope.ParseFromString(block.txs(i))) return {Code::kCorruption, where + " tx " + std::to_string(i) + " does not decode"};
    const Hash256 txid = ComputeTxid(envelope.body());
    r = store.Get(store_keys::Tx(txid), &value);
    if (r.code() == Code::kNotFound)
      return {Code::kCorruption, where + " tx " + std::to_string(i) + ": the tx index has no entry for txid " + txid.hex()};
    KONTOR_RETURN_IF_ERROR(r);
    uint32_t index = 0;
    if (value.size() == 12)
      for (int b = 8; b < 12; ++b) index = index << 8 | static_cast<uint8_t>(value[b]);
    if (value.size() != 12 || GetBigEndian64(value) != height || index != static_cast<uint32_t>(i))
      return {Code::kCorruption, where + " tx " + std::to_string(i) + ": the tx index entry for txid " + txid.hex() +
                                     " names another place"};
  }
  return Result::Ok();
}

Result GenesisState(const Genesis& genesis, Application& app, State* state) {
  StateDelta delta(state);
  KONTOR_RETURN_IF_ERROR(InitLedgerGenesis(genesis, delta));
  KONTOR_RETURN_IF_ERROR(app.InitGenesis(genesis, delta));
  auto changes = delta.TakeSortedChanges();
  SparseMerkleTree tree = state->Preview(changes);
  state->Commit(std::move(changes), std::move(tree), 0);
  return Result::Ok();
}

Chain::Chain(const ChainOptions& options, const Genesis& genesis, Application* app)
    : options_(options),
      genesis_(genesis),
      app_(app),
      pool_(options.threads),
      cache_(options.signature_cache_entries),
      state_(options.state_history_heights) {
  executor_ = std::make_unique<Executor>(genesis_, *app_, pool_, &cache_);
}

Result Chain::Open(const ChainOptions& options, const Genesis& genesis, Application* app, std::unique_ptr<Chain>* out) {
  std::unique_ptr<Chain> chain(new Chain(options, genesis, app));
  KONTOR_RETURN_IF_ERROR(Store::Open(options.store, &chain->store_));
  std::string stored_genesis;
  Result r = chain->store_->Get(store_keys::kGenesis, &stored_genesis);
  if (r.code() == Code::kNotFound) {
    if (!options.store.create_if_missing && !options.store.in_memory)
      return {Code::kNotFound, "the store at " + options.store.path +
                                   " has no genesis record: it is empty or was not created by `kontord init`"};
    KONTOR_RETURN_IF_ERROR(chain->InitGenesis());
  } else {
    KONTOR_RETURN_IF_ERROR(r);
    if (stored_genesis != genesis.hash.view())
      return {Code::kMismatch, "store at " + options.store.path + " belongs to another chain (genesis " +
                                   HexEncode(stored_genesis) + "), not to genesis " + genesis.hash.hex()};
    KONTOR_RETURN_IF_ERROR(chain->Load());
  }
  *out = std::move(chain);
  return Result::Ok();
}

Result Chain::InitGenesis() {
  KONTOR_RETURN_IF_ERROR(GenesisState(genesis_, *app_, &state_));
  WriteBatch batch;
  StateChanges all;
  state_.ForEach([&](const Hash256& k, const std::string& v) { all.emplace_back(k, v); });
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });  // not hash order
  PutStateChanges(batch, all, 0);
  batch.Put(store_keys::kGenesis, genesis_.hash.view());
  batch.Put(store_keys::kTip, TipValue(0, genesis_.hash));
  KONTOR_RETURN_IF_ERROR(store_->Write(batch));
  tip_ = ParentInfo{0, genesis_.hash, genesis_.genesis_time_ms, {}};
  return Result::Ok();
}

Result Chain::Load() {
  std::string tip_value;
  KONTOR_RETURN_IF_ERROR(store_->Get(store_keys::kTip, &tip_value));
  if (tip_value.size() != 40) return {Code::kCorruption, "store tip record is damaged"};
  uint64_t height = GetBigEndian64(tip_value);
  Hash256 tip_hash = Hash256::FromBytes(std::string_view(tip_value).substr(8));
  Hash256 expected_root;
  if (height == 0) {
    State genesis_state;
    KONTOR_RETURN_IF_ERROR(GenesisState(genesis_, *app_, &genesis_state));
    expected_root = genesis_state.root();
    tip_ = ParentInfo{0, genesis_.hash, genesis_.genesis_time_ms, {}};
  } else {
    v1::StoredBlock stored;
    KONTOR_RETURN_IF_ERROR(GetBlock(height, &stored));
    v1::BlockHeader header;
    if (!header.ParseFromString(stored.block().header()) || header.state_root().size() != 32)
      return {Code::kCorruption, "header of tip block " + std::to_string(height) + " is damaged"};
    if (BlockHash(stored.block().header()) != tip_hash)
      return {Code::kCorruption, "tip block " + std::to_string(height) + " does not hash to the recorded tip"};
    if (header.height() != height)
      return {Code::kCorruption, "tip block " + std::to_string(height) + " says it is at height " + std::to_string(header.height())};
    // The next block repeats this commit as its last_commit: it must be a valid certificate.
    Result commit = VerifyCommit(stored.commit(), genesis_, height, tip_hash);
    if (!commit.ok())
      return {Code::kCorruption, "the stored commit certificate of tip block " + std::to_string(height) +
                                     " does not verify against the genesis validators (" + commit.message() + ")"};
    KONTOR_RETURN_IF_ERROR(CheckRecentBlocks(stored));
    expected_root = Hash256::FromBytes(header.state_root());
    tip_ = ParentInfo{height, tip_hash, header.time_ms(), stored.commit()};
  }
  Result bad = Result::Ok();
  KONTOR_RETURN_IF_ERROR(store_->Scan(store_keys::kStatePrefix, [&](std::string_view k, std::string_view v) {
    if (k.size() != 33 || v.size() < 8) {
      bad = Result(Code::kCorruption, "store holds a damaged state entry");
      return false;
    }
    state_.Load(Hash256::FromBytes(k.substr(1)), std::string(v.substr(8)));
    return true;
  }));
  KONTOR_RETURN_IF_ERROR(bad);
  state_.Rebuild(height);
  if (state_.root() != expected_root)
    return {Code::kCorruption, "state loaded from the store has root " + state_.root().hex() + " but block " +
                                   std::to_string(height) + " says " + expected_root.hex() +
                                   "; the store is damaged (run `kontor audit replay` to find where)"};
  return Result::Ok();
}

// Walks back from the tip: each block decodes, sits at its height, hashes to what its child
// names as parent, and has its hash and tx index entries.
Result Chain::CheckRecentBlocks(const v1::StoredBlock& tip_block) const {
  v1::StoredBlock stored = tip_block;
  v1::BlockHeader header;
  KONTOR_CHECK(header.ParseFromString(stored.block().header()));
  const uint64_t tip_height = header.height();
  const uint64_t lowest = tip_height > options_.startup_check_blocks ? tip_height - options_.startup_check_blocks + 1 : 1;
  Hash256 expected_hash = BlockHash(stored.block().header());
  for (uint64_t height = tip_height;; --height) {
    if (height != tip_height) {
      KONTOR_RETURN_IF_ERROR(GetBlock(height, &stored));
      if (!header.ParseFromString(stored.block().header()) || header.height() != height)
        return {Code::kCorruption, "header of block " + std::to_string(height) + " is damaged"};
      if (BlockHash(stored.block().header()) != expected_hash)
        return {Code::kCorruption, "block " + std::to_string(height) + " is not the parent block " + std::to_string(height + 1) +
                                       " names"};
    }
    KONTOR_RETURN_IF_ERROR(CheckBlockIndexes(*store_, height, expected_hash, stored.block()));
    if (height == lowest) break;
    if (header.prev_hash().size() != 32)
      return {Code::kCorruption, "header of block " + std::to_string(height) + " is damaged"};
    expected_hash = Hash256::FromBytes(header.prev_hash());
  }
  return Result::Ok();
}

Result Chain::CommitBlock(const v1::Block& block, const v1::Commit& commit) {
  ExecutedBlock executed;
  KONTOR_RETURN_IF_ERROR(executor_->ExecuteBlock(block, commit, tip_, state_, &executed));
  return CommitExecuted(std::move(executed));
}

Result Chain::CommitBlocks(const std::vector<std::pair<v1::Block, v1::Commit>>& blocks, size_t* committed) {
  if (committed) *committed = 0;
  return RunPipelined(*executor_, blocks.size(),
                      [&](size_t i, v1::Block* block, v1::Commit* commit) {
                        *block = blocks[i].first;
                        *commit = blocks[i].second;
                        return Result::Ok();
                      },
                      [&](size_t i, ExecutedBlock& verified) -> Result {
                        KONTOR_RETURN_IF_ERROR(executor_->ExecuteVerified(tip_, state_, &verified));
                        KONTOR_RETURN_IF_ERROR(CommitExecuted(std::move(verified)));
                        if (committed) *committed = i + 1;
                        return Result::Ok();
                      });
}

Result Chain::CommitExecuted(ExecutedBlock&& executed) {
  const v1::BlockHeader& h = executed.block.header;
  KONTOR_CHECK(h.height() == tip_.height + 1);
  WriteBatch batch;
  v1::StoredBlock stored;
  *stored.mutable_block() = executed.block.block;
  *stored.mutable_commit() = executed.commit;
  batch.Put(store_keys::Block(h.height()), CanonicalBytes(stored));
  std::string height_bytes;
  PutBigEndian64(&height_bytes, h.height());
  batch.Put(store_keys::BlockHeight(executed.block.hash), height_bytes);
  std::string location;
  for (size_t i = 0; i < executed.block.txs.size(); ++i) {
    location = height_bytes;
    uint32_t index = static_cast<uint32_t>(i);
    for (int shift = 24; shift >= 0; shift -= 8) location.push_back(static_cast<char>((index >> shift) & 0xff));
    batch.Put(store_keys::Tx(executed.block.txs[i].txid), location);
  }
  PutStateChanges(batch, executed.changes, h.height());
  batch.Put(store_keys::kTip, TipValue(h.height(), executed.block.hash));
  KONTOR_RETURN_IF_ERROR(store_->Write(batch));
  state_.Commit(std::move(executed.changes), std::move(executed.tree), h.height());
  tip_ = ParentInfo{h.height(), executed.block.hash, h.time_ms(), executed.commit};
  return Result::Ok();
}

Result Chain::ProposeNext(const std::vector<std::string_view>& candidates, uint64_t time_ms, const PrivateKey& proposer,
                          RandomSource& random, ExecutedBlock* executed, std::vector<RejectedTx>* rejected) {
  return executor_->ProposeBlock(candidates, time_ms, proposer, tip_, state_, random, executed, rejected);
}

Result Chain::BuildNext(const std::vector<std::string_view>& candidates, const v1::Commit& last_commit,
                        const PublicKey& proposer, ExecutedBlock* executed, std::vector<RejectedTx>* rejected) {
  return executor_->BuildBlock(candidates, last_commit, proposer, tip_, state_, executed, rejected);
}

Result Chain::ExecuteProposal(const v1::Block& block, ExecutedBlock* executed) {
  KONTOR_RETURN_IF_ERROR(executor_->VerifyProposed(block, executed));
  return executor_->ExecuteVerified(tip_, state_, executed);
}

Result Chain::ProduceBlock(const std::vector<std::string_view>& candidates, uint64_t time_ms, const PrivateKey& proposer,
                           RandomSource& random, ExecutedBlock* produced, std::vector<RejectedTx>* rejected) {
  ExecutedBlock executed;
  KONTOR_RETURN_IF_ERROR(ProposeNext(candidates, time_ms, proposer, random, &executed, rejected));
  if (produced) {
    produced->block = executed.block;
    produced->commit = executed.commit;
  }
  return CommitExecuted(std::move(executed));
}

Result Chain::GetBlock(uint64_t height, v1::StoredBlock* out) const {
  std::string bytes;
  Result r = store_->Get(store_keys::Block(height), &bytes);
  if (r.code() == Code::kNotFound) return {Code::kNotFound, "no block at height " + std::to_string(height)};
  KONTOR_RETURN_IF_ERROR(r);
  if (!out->ParseFromString(bytes)) return {Code::kCorruption, "stored block " + std::to_string(height) + " does not decode"};
  return Result::Ok();
}

Result Chain::GetBlockHeight(const Hash256& hash, uint64_t* height) const {
  std::string v;
  Result r = store_->Get(store_keys::BlockHeight(hash), &v);
  if (r.code() == Code::kNotFound) return {Code::kNotFound, "no block with hash " + hash.hex()};
  KONTOR_RETURN_IF_ERROR(r);
  if (v.size() != 8) return {Code::kCorruption, "block index entry is damaged"};
  *height = GetBigEndian64(v);
  return Result::Ok();
}

Result Chain::FindTx(const Hash256& txid, TxLocation* location) const {
  std::string v;
  Result r = store_->Get(store_keys::Tx(txid), &v);
  if (r.code() == Code::kNotFound) return {Code::kNotFound, "tx " + txid.hex() + " is not in a committed block"};
  KONTOR_RETURN_IF_ERROR(r);
  if (v.size() != 12) return {Code::kCorruption, "tx index entry is damaged"};
  if (!location) return Result::Ok();
  location->height = GetBigEndian64(v);
  location->index = 0;
  for (int i = 8; i < 12; ++i) location->index = location->index << 8 | static_cast<uint8_t>(v[i]);
  return Result::Ok();
}

}  // namespace kontor
