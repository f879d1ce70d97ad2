#include "node/consensus/validator_set.h"

#include <numeric>
#include <string>
#include <unordered_set>

namespace kontor::consensus {

Result ValidatorSet::Make(const std::vector<Validator>& validators, ValidatorSet* out) {
  if (validators.empty()) return {Code::kMalformed, "the validator set is empty"};
  if (validators.size() > kMaxValidators) {
    return {Code::kMalformed, std::to_string(validators.size()) + " validators; at most " +
                                  std::to_string(kMaxValidators) + " allowed"};
  }
  std::unordered_set<Hash256, Hash256Hasher> seen;
  uint64_t total = 0, divisor = 0;
  for (size_t i = 0; i < validators.size(); ++i) {
    const Validator& v = validators[i];
    if (v.power == 0) return {Code::kMalformed, "validator " + std::to_string(i) + " has power 0"};
    if (!seen.insert(v.key).second) return {Code::kMalformed, "validator " + std::to_string(i) + " is listed twice"};
    if (v.power > kMaxTotalPower - total) {
      return {Code::kMalformed, "the validators' total power exceeds 2^60"};
    }
    total += v.power;
    divisor = std::gcd(divisor, v.power);
  }
  ValidatorSet set;
  set.validators_ = validators;
  set.total_ = total;
  for (size_t i = 0; i < validators.size(); ++i) set.index_[validators[i].key] = static_cast<uint32_t>(i);
  const uint64_t period = total / divisor;
  const bool equal = period == validators.size();
  if (!equal) {
    if (period > kMaxRotation) {
      return {Code::kMalformed, "the validators' powers divided by their gcd sum to " + std::to_string(period) +
                                    "; at most " + std::to_string(kMaxRotation) + " allowed (use smaller powers)"};
    }
    // Smooth weighted round-robin: each step every validator gains its weight, the one with the
    // most (the lowest index on a tie) is chosen and loses the total.
    std::vector<int64_t> current(validators.size(), 0);
    set.rotation_.reserve(period);
    for (uint64_t step = 0; step < period; ++step) {
      size_t best = 0;
      for (size_t i = 0; i < validators.size(); ++i) {
        current[i] += static_cast<int64_t>(validators[i].power / divisor);
        if (current[i] > current[best]) best = i;
      }
      current[best] -= static_cast<int64_t>(period);
      set.rotation_.push_back(static_cast<uint16_t>(best));
    }
  }
  *out = std::move(set);
  return Result::Ok();
}

std::optional<uint32_t> ValidatorSet::IndexOf(const PublicKey& key) const {
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

uint32_t ValidatorSet::Proposer(uint64_t height, uint32_t round) const {
  if (rotation_.empty()) {
    return static_cast<uint32_t>((height % validators_.size() + round % validators_.size()) % validators_.size());
  }
  return rotation_[(height % rotation_.size() + round % rotation_.size()) % rotation_.size()];
}

}  // namespace kontor::consensus
