#include "ledger/replay.h"

#include <unordered_map>

#include "ledger/block.h"
#include "ledger/chain.h"
#include "ledger/executor.h"
#include "ledger/pipeline.h"

namespace kontor {

namespace {

// "block 12 tx 3 (...): ..." -> 3, else -1.
int64_t TxIndexFromMessage(const std::string& message) {
  auto pos = message.find(" tx ");
  if (pos == std::string::npos) return -1;
  return std::strtoll(message.c_str() + pos + 4, nullptr, 10);
}

}  // namespace

Result Replay(const Store& store, const Genesis& genesis, Application& app, ThreadPool& pool, ReplayReport* report,
              const ReplayProgress& progress) {
  *report = ReplayReport{};
  auto fail = [&](uint64_t height, Result r) {
    report->failed_height = height;
    report->failed_tx = r.code() == Code::kBadTxInBlock ? TxIndexFromMessage(r.message()) : -1;
    return r;
  };
  std::string value;
  Result r = store.Get(store_keys::kGenesis, &value);
  if (!r.ok()) return fail(0, {Code::kCorruption, "store has no genesis record: " + r.message()});
  if (value != genesis.hash.view())
    return fail(0, {Code::kMismatch, "store belongs to genesis " + HexEncode(value) + ", not " + genesis.hash.hex()});
  r = store.Get(store_keys::kTip, &value);
  if (!r.ok() || value.size() != 40) return fail(0, {Code::kCorruption, "store tip record is missing or damaged"});
  report->tip_height = GetBigEndian64(value);
  Hash256 recorded_tip_hash = Hash256::FromBytes(std::string_view(value).substr(8));

  State state(/*history_heights=*/1);
  KONTOR_RETURN_IF_ERROR(GenesisState(genesis, app, &state));
  // Height at which replay last wrote each key, to name the height of a damaged entry.
  std::unordered_map<Hash256, uint64_t, Hash256Hasher> written_at;
  state.ForEach([&](const Hash256& k, const std::string&) { written_at[k] = 0; });

  Executor executor(genesis, app, pool, /*cache=*/nullptr);
  ParentInfo parent{0, genesis.hash, genesis.genesis_time_ms, {}};
  uint64_t failed_height = 0;
  r = RunPipelined(
      executor, report->tip_height,
      [&](size_t i, v1::Block* block, v1::Commit* commit) -> Result {
        uint64_t height = i + 1;
        std::string bytes;
        Result got = store.Get(store_keys::Block(height), &bytes);
        if (got.code() == Code::kNotFound) return {Code::kCorruption, "block " + std::to_string(height) + " is missing from the store"};
        if (!got.ok()) return {Code::kCorruption, "block " + std::to_string(height) + " cannot be read: " + got.message()};
        v1::StoredBlock stored;
        if (!stored.ParseFromString(bytes)) return {Code::kCorruption, "block " + std::to_string(height) + " does not decode"};
        KONTOR_RETURN_IF_ERROR(CheckBlockIndexes(store, height, BlockHash(stored.block().header()), stored.block()));
        *block = std::move(*stored.mutable_block());
        *commit = std::move(*stored.mutable_commit());
        return Result::Ok();
      },
      [&](size_t i, ExecutedBlock& executed) -> Result {
        uint64_t height = i + 1;
        failed_height = height + 1;  // a stage-1 failure surfaces with the next block
        Result stage2 = executor.ExecuteVerified(parent, state, &executed);
        if (!stage2.ok()) {
          failed_height = height;
          return stage2;
        }
        for (const auto& [k, v] : executed.changes) written_at[k] = height;
        report->txs += executed.block.txs.size();
        parent = ParentInfo{height, executed.block.hash, executed.block.header.time_ms(), executed.commit};
        state.Commit(std::move(executed.changes), std::move(executed.tree), height);
        report->verified_height = height;
        report->state_root = state.root();
        if (progress) progress(height, report->tip_height);
        return Result::Ok();
      });
  if (!r.ok()) return fail(failed_height == 0 ? 1 : failed_height, r);
  if (parent.hash != recorded_tip_hash)
    return fail(report->tip_height, {Code::kCorruption, "the store's tip record names another block than block " +
                                                            std::to_string(report->tip_height)});
  if (report->tip_height == 0) report->state_root = state.root();

  // Every block's and tx's index entry was checked above; entries beyond those (left by a
  // damaged store or a lost block) would answer for blocks or txs the chain does not hold.
  uint64_t hash_entries = 0, tx_entries = 0;
  Result index = Result::Ok();
  KONTOR_RETURN_IF_ERROR(store.Scan(store_keys::kBlockHeightPrefix, [&](std::string_view, std::string_view) { return ++hash_entries, true; }));
  KONTOR_RETURN_IF_ERROR(store.Scan(store_keys::kTxPrefix, [&](std::string_view, std::string_view v) {
    ++tx_entries;
    if (v.size() == 12 && GetBigEndian64(v) <= report->tip_height) return true;
    index = Result(Code::kCorruption, "the tx index has an entry for height " +
                                          (v.size() == 12 ? std::to_string(GetBigEndian64(v)) : std::string("(damaged)")) +
                                          ", above the tip " + std::to_string(report->tip_height));
    return false;
  }));
  if (!index.ok()) return fail(report->tip_height, index);
  if (hash_entries != report->tip_height)
    return fail(report->tip_height, {Code::kCorruption, "the block hash index holds " + std::to_string(hash_entries) +
                                                            " entries for " + std::to_string(report->tip_height) + " blocks"});
  if (tx_entries != report->txs)
    return fail(report->tip_height, {Code::kCorruption, "the tx index holds " + std::to_string(tx_entries) + " entries for " +
                                                            std::to_string(report->txs) + " committed txs"});

  // The stored state must be exactly the replayed state.
  Result mismatch = Result::Ok();
  uint64_t mismatch_height = 0;
  size_t stored_entries = 0;
  KONTOR_RETURN_IF_ERROR(store.Scan(store_keys::kStatePrefix, [&](std::string_view k, std::string_view v) {
    ++stored_entries;
    if (k.size() != 33 || v.size() < 8) {
      mismatch = Result(Code::kStateMismatch, "a state entry in the store is damaged (key " + HexEncode(k) + ")");
      return false;
    }
    Hash256 key = Hash256::FromBytes(k.substr(1));
    auto expected = state.Get(key);
    auto at = written_at.find(key);
    uint64_t replay_height = at == written_at.end() ? 0 : at->second;
    uint64_t stored_height = GetBigEndian64(v);
    if (!expected) {
      mismatch = Result(Code::kStateMismatch, "state entry " + key.hex() + " (written at height " + std::to_string(stored_height) +
                                                  ") is not in the replayed state");
      mismatch_height = stored_height;
      return false;
    }
    if (v.substr(8) != *expected || stored_height != replay_height) {
      mismatch = Result(Code::kStateMismatch, "state entry " + key.hex() + " written at height " + std::to_string(replay_height) +
                                                  " differs from the replayed value");
      mismatch_height = replay_height;
      return false;
    }
    return true;
  }));
  if (!mismatch.ok()) return fail(mismatch_height, mismatch);
  if (stored_entries != state.size())
    return fail(report->tip_height, {Code::kStateMismatch, "store holds " + std::to_string(stored_entries) +
                                                               " state entries, replay " + std::to_string(state.size())});
  return Result::Ok();
}

}  // namespace kontor
