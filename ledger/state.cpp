#include "ledger/state.h"

#include <algorithm>

#include "ledger/check.h"
#include "ledger/hash.h"

namespace kontor {

Hash256 StateKey(uint8_t kind, std::string_view id) {
  static const TaggedHasher& h = Tagged(tags::kStateKey);
  char k = static_cast<char>(kind);
  return h.Hash(std::string_view(&k, 1), id);
}

std::optional<std::string> StateDelta::Get(const Hash256& key) const {
  auto it = changes_.find(key);
  if (it != changes_.end()) return it->second;
  return parent_ ? parent_->Get(key) : std::nullopt;
}

void StateDelta::PutRecord(uint8_t kind, std::string_view id, std::string value) {
  Hash256 key = StateKey(kind, id);
  changes_[key] = std::move(value);
  records_.try_emplace(key, kind, std::string(id));
}

void StateDelta::EraseRecord(uint8_t kind, std::string_view id) {
  Hash256 key = StateKey(kind, id);
  changes_[key] = std::nullopt;
  records_.try_emplace(key, kind, std::string(id));
}

void StateDelta::MergeInto(StateDelta* target) {
  for (auto& [k, v] : changes_) target->changes_[k] = std::move(v);
  for (auto& [k, r] : records_) target->records_.try_emplace(k, std::move(r));
  changes_.clear();
  records_.clear();
}

std::map<Hash256, std::optional<std::string>> StateDelta::SortedChanges() const {
  return {changes_.begin(), changes_.end()};
}

std::optional<std::string> State::Get(const Hash256& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

SparseMerkleTree State::Preview(const std::map<Hash256, std::optional<std::string>>& changes) const {
  std::vector<SparseMerkleTree::Change> tree_changes;
  tree_changes.reserve(changes.size());
  for (const auto& [k, v] : changes) {
    if (v) tree_changes.emplace_back(k, StateValueHash(*v));
    else tree_changes.emplace_back(k, std::nullopt);
  }
  return tree_.Apply(tree_changes);
}

void State::Commit(std::map<Hash256, std::optional<std::string>> changes, SparseMerkleTree tree, uint64_t height) {
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
