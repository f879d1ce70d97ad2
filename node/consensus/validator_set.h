// The validators of a chain, their voting power, quorums and the proposer of each round.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "ledger/genesis.h"
#include "ledger/result.h"

namespace kontor::consensus {

class ValidatorSet {
 public:
  // At most kMaxValidators validators, each with power >= 1, keys distinct, total power at most
  // kMaxTotalPower; and the powers divided by their greatest common divisor sum to at most
  // kMaxRotation (the length of the proposer rotation). kMalformed naming the problem otherwise.
  static Result Make(const std::vector<Validator>& validators, ValidatorSet* out);

  static constexpr size_t kMaxValidators = 1000;
  static constexpr uint64_t kMaxTotalPower = uint64_t{1} << 60;
  static constexpr uint64_t kMaxRotation = 1 << 16;

  size_t size() const { return validators_.size(); }
  const Validator& at(size_t i) const { return validators_[i]; }
  std::optional<uint32_t> IndexOf(const PublicKey& key) const;
  uint64_t total_power() const { return total_; }
  uint64_t power(uint32_t index) const { return validators_[index].power; }

  // "2f+1": more than 2/3 of the total power.
  bool IsQuorum(uint64_t power) const { return static_cast<unsigned __int128>(power) * 3 > static_cast<unsigned __int128>(total_) * 2; }
  // "f+1": more than 1/3 of the total power.
  bool IsOneThird(uint64_t power) const { return static_cast<unsigned __int128>(power) * 3 > total_; }

  // Weighted round-robin: position (height + round) of the smooth weighted round-robin sequence
  // over the powers divided by their gcd (docs/protocol.md "Proposer"). Equal powers give
  // validator (height + round) mod n.
  uint32_t Proposer(uint64_t height, uint32_t round) const;

 private:
  std::vector<Validator> validators_;
  std::unordered_map<PublicKey, uint32_t, Hash256Hasher> index_;
  uint64_t total_ = 0;
  std::vector<uint16_t> rotation_;  // one period of the sequence; empty when powers are equal
};

}  // namespace kontor::consensus
