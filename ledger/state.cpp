#include "ledger/state.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ledger/check.h"
#include "ledger/hash.h"
#include "ledger/siphash.h"

namespace kontor {

namespace {

Hash256 ComputeStateKey(uint8_t kind, std::string_view id) {
  static const TaggedHasher& h = Tagged(tags::kStateKey);
  char k = static_cast<char>(kind);
  return h.Hash(std::string_view(&k, 1), id);
}

// StateKey is a pure function called ~13 times per transfer for the same few accounts (every
// load and store). A small per-thread memo turns those hashes into lookups. Bounded: cleared
// when full, so memory stays under ~4 MiB per thread.
struct MemoKey {
  std::array<char, 41> bytes{};  // kind, length, id (ids of up to 39 bytes are memoised)
  bool operator==(const MemoKey&) const = default;
};
// Ids are often chosen by whoever sends a tx: keyed (ledger/siphash.h), never a fixed hash.
struct MemoKeyHasher {
  size_t operator()(const MemoKey& k) const {
    return static_cast<size_t>(SipHash24(ProcessHashKey(), reinterpret_cast<const uint8_t*>(k.bytes.data()), k.bytes.size()));
  }
};
constexpr size_t kStateKeyMemoEntriesMax = 32 * 1024;
constexpr size_t kStateKeyMemoIdBytesMax = 39;

}  // namespace

Hash256 StateKey(uint8_t kind, std::string_view id) {
  if (id.size() > kStateKeyMemoIdBytesMax) return ComputeStateKey(kind, id);
  thread_local std::unordered_map<MemoKey, Hash256, MemoKeyHasher> memo;
  MemoKey k;
  k.bytes[0] = static_cast<char>(kind);
  k.bytes[1] = static_cast<char>(id.size());
  std::memcpy(k.bytes.data() + 2, id.data(), id.size());
  auto it = memo.find(k);
  if (it != memo.end()) return it->second;
  if (memo.size() >= kStateKeyMemoEntriesMax) memo.clear();
  Hash256 key = ComputeStateKey(kind, id);
  memo.emplace(k, key);
  return key;
}

namespace {
std::atomic<DamagedRecordHandler> damaged_record_handler{nullptr};
}  // namespace

void SetDamagedRecordHandler(DamagedRecordHandler handler) { damaged_record_handler = handler; }

void DamagedRecord(uint8_t kind, std::string_view id) {
  const std::string message =
      "state record of kind " + std::to_string(kind) + " with id " + HexEncode(id) + " (key " + StateKey(kind, id).hex() +
      ") does not decode: the node's state is damaged and it stops rather than serve it. To recover: restore the "
      "home's data/ from a backup (or resync it), and run `kontor audit replay --node-home HOME` to find the first "
      "damaged height";
  if (DamagedRecordHandler handler = damaged_record_handler.load()) handler(kind, id, message);
  std::fprintf(stderr, "kontor: %s\n", message.c_str());
  std::abort();
}

std::optional<std::string> StateDelta::Get(const Hash256& key) const {
  auto it = changes_.find(key);
  if (it != changes_.end()) return it->second.value;
  return parent_ ? parent_->Get(key) : std::nullopt;
}

void StateDelta::PutRecord(uint8_t kind, std::string_view id, std::string value) {
  Entry& e = changes_[StateKey(kind, id)];
  e.value = std::move(value);
  if (e.kind == 0) {
    e.kind = kind;
    e.id.assign(id);
  }
}

void StateDelta::EraseRecord(uint8_t kind, std::string_view id) {
  Entry& e = changes_[StateKey(kind, id)];
  e.value = std::nullopt;
  if (e.kind == 0) {
    e.kind = kind;
    e.id.assign(id);
  }
}

void StateDelta::MergeInto(StateDelta* target) {
  for (auto& [k, e] : changes_) {
    Entry& t = target->changes_[k];
    t.value = std::move(e.value);
    if (t.kind == 0 && e.kind != 0) {
      t.kind = e.kind;
      t.id = std::move(e.id);
    }
  }
  changes_.clear();
}

StateChanges StateDelta::TakeSortedChanges() {
  StateChanges out;
  out.reserve(changes_.size());
  for (auto& [k, e] : changes_) out.emplace_back(k, std::move(e.value));
  changes_.clear();
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

std::optional<std::string> State::Get(const Hash256& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

SparseMerkleTree State::Preview(const StateChanges& changes) const {
  std::vector<SparseMerkleTree::Change> tree_changes;
  tree_changes.reserve(changes.size());
  for (const auto& [k, v] : changes) {
    if (v) tree_changes.emplace_back(k, StateValueHash(*v));
    else tree_changes.emplace_back(k, std::nullopt);
  }
  return tree_.Apply(tree_changes);
}

void State::Commit(StateChanges changes, SparseMerkleTree tree, uint64_t height) {
  KONTOR_CHECK(height >= height_);
  for (auto& [k, v] : changes) {
    if (v) values_[k] = std::move(*v);
    else values_.erase(k);
  }
  tree_ = std::move(tree);
  KONTOR_CHECK(tree_.size() == values_.size());
  height_ = height;
  if (!history_.empty() && history_.back().first == height) history_.pop_back();  // re-commit of a height
  history_.emplace_back(height, tree_);
  while (history_.size() > history_heights_) history_.pop_front();
}

void State::Rebuild(uint64_t height) {
  std::vector<SparseMerkleTree::Change> tree_changes;
  tree_changes.reserve(values_.size());
  for (const auto& [k, v] : values_) tree_changes.emplace_back(k, StateValueHash(v));
  std::sort(tree_changes.begin(), tree_changes.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  tree_ = SparseMerkleTree().Apply(tree_changes);
  height_ = height;
  history_.clear();
  history_.emplace_back(height, tree_);
}

Result State::Prove(const Hash256& key, uint64_t height, StateProof* proof, Hash256* root) const {
  for (const auto& [h, tree] : history_) {
    if (h == height) {
      *proof = tree.Prove(key);
      *root = tree.root_hash();
      return Result::Ok();
    }
  }
  return {Code::kNotFound, "state at height " + std::to_string(height) + " is not kept (kept: " +
                               (history_.empty() ? std::string("none")
                                                 : std::to_string(history_.front().first) + ".." +
                                                       std::to_string(history_.back().first)) +
                               ")"};
}

}  // namespace kontor
