// State records and the layers they are read and written through.
//
//   StateView   read-only lookup of a record by its 32-byte state key
//   StateDelta  a write layer over a view: per block, and per tx as a sandbox that is merged
//               into the block's delta on success and dropped on failure (rippled's sandbox)
//   State       the committed state: every record in memory plus its sparse Merkle tree, with
//               the trees of the last `history` heights kept for proofs
//
// State keys: key = tagged_hash("kontor/state/key", kind byte || id). Record kinds below
// ledger's own are reserved; applications number theirs from 16.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/smt.h"

namespace kontor {

enum class RecordKind : uint8_t {
  kAccount = 1,  // id: 32-byte key; value: v1::Account
  kAsset = 2,    // id: symbol; value: v1::Asset
  // Applications: 16..255.
};

Hash256 StateKey(uint8_t kind, std::string_view id);
inline Hash256 StateKey(RecordKind kind, std::string_view id) { return StateKey(static_cast<uint8_t>(kind), id); }

// A committed record that does not decode as its kind. Opening a store checks every record
// against the tip's state root, so this means the store or memory is damaged (or a bug wrote
// it): going on would serve a wrong ledger. Calls the handler — by default it prints the
// record, what is damaged and how to recover to stderr and aborts the process — and aborts if
// the handler returns. Every typed load (accounts, assets, the application's records) calls it.
[[noreturn]] void DamagedRecord(uint8_t kind, std::string_view id);
// Tests install a handler that throws; nullptr restores the default.
using DamagedRecordHandler = void (*)(uint8_t kind, std::string_view id, const std::string& message);
void SetDamagedRecordHandler(DamagedRecordHandler handler);

// What a block changed: sorted by key, each key once; nullopt = erased.
using StateChanges = std::vector<std::pair<Hash256, std::optional<std::string>>>;

class StateView {
 public:
  virtual ~StateView() = default;
  virtual std::optional<std::string> Get(const Hash256& key) const = 0;
};

class StateDelta final : public StateView {
 public:
  // REQUIRES: parent outlives this delta.
  explicit StateDelta(const StateView* parent) : parent_(parent) {}

  std::optional<std::string> Get(const Hash256& key) const override;
  void Put(const Hash256& key, std::string value) { changes_[key].value = std::move(value); }
  void Erase(const Hash256& key) { changes_[key].value = std::nullopt; }
  // Typed writes: also remember which record (kind, id) the key belongs to, so end-of-block
  // checks can visit every changed record of a kind.
  void PutRecord(uint8_t kind, std::string_view id, std::string value);
  void EraseRecord(uint8_t kind, std::string_view id);
  // Calls fn(id) for each record of `kind` written through PutRecord/EraseRecord, in state-key
  // order: never in the hash table's order, which depends on the process's hash key.
  template <typename F>
  void ForEachChangedRecord(uint8_t kind, F&& fn) const {
    std::vector<std::pair<const Hash256*, const std::string*>> records;
    for (const auto& [key, entry] : changes_)
      if (entry.kind == kind) records.emplace_back(&key, &entry.id);
    std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return *a.first < *b.first; });
    for (const auto& [key, id] : records) fn(std::string_view(*id));
  }

  // Moves this layer's changes into `target` (normally the delta this one was layered on).
  void MergeInto(StateDelta* target);
  // Moves the changes out, sorted by key (what a block wrote); the delta is empty afterwards.
  StateChanges TakeSortedChanges();
  size_t size() const { return changes_.size(); }
  bool empty() const { return changes_.empty(); }

 private:
  const StateView* parent_;
  struct Entry {
    std::optional<std::string> value;
    uint8_t kind = 0;  // set by typed writes (0 = unknown)
    std::string id;
  };
  std::unordered_map<Hash256, Entry, Hash256Hasher> changes_;
};

class State final : public StateView {
 public:
  explicit State(size_t history_heights = 64) : history_heights_(history_heights) {}

  std::optional<std::string> Get(const Hash256& key) const override;
  const SparseMerkleTree& tree() const { return tree_; }
  Hash256 root() const { return tree_.root_hash(); }
  uint64_t height() const { return height_; }
  size_t size() const { return values_.size(); }

  // The tree this state would have after `changes`, without changing anything.
  SparseMerkleTree Preview(const StateChanges& changes) const;
  // Makes `changes` (with the tree Preview returned for them) the state at `height`.
  void Commit(StateChanges changes, SparseMerkleTree tree, uint64_t height);
  // Loads records without history (opening a store). Call Rebuild once after loading.
  void Load(const Hash256& key, std::string value) { values_[key] = std::move(value); }
  void Rebuild(uint64_t height);

  // Proof of `key` against the root at `height`, if that height is still kept.
  // Errors: kNotFound if the height is not kept.
  Result Prove(const Hash256& key, uint64_t height, StateProof* proof, Hash256* root) const;
  // In the hash table's order, which differs between processes: only for order-free uses.
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& [k, v] : values_) f(k, v);
  }

 private:
  size_t history_heights_;
  uint64_t height_ = 0;
  std::unordered_map<Hash256, std::string, Hash256Hasher> values_;
  SparseMerkleTree tree_;
  std::deque<std::pair<uint64_t, SparseMerkleTree>> history_;  // oldest first, includes current
};

}  // namespace kontor
