// secp256k1 keys and BIP-340 Schnorr signatures (libsecp256k1).
// An identity is a 32-byte x-only public key. Signing takes its auxiliary randomness from the
// caller, so the ledger itself never reads a random source.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "ledger/bytes.h"
#include "ledger/result.h"

namespace kontor {

using PublicKey = Hash256;  // 32-byte x-only key (BIP-340)
using Signature64 = std::array<uint8_t, 64>;

class PrivateKey {
 public:
  // Fails (nullopt) if the 32 bytes are zero or not below the curve order.
  static std::optional<PrivateKey> FromBytes(std::string_view secret32);
  ~PrivateKey();
  PrivateKey(const PrivateKey&) = default;
  PrivateKey& operator=(const PrivateKey&) = default;

  const PublicKey& public_key() const { return public_key_; }
  std::string_view secret() const { return {reinterpret_cast<const char*>(secret_.data()), 32}; }

  // BIP-340 signature of a 32-byte message with the given 32 bytes of auxiliary randomness.
  Signature64 Sign(const Hash256& message, const std::array<uint8_t, 32>& aux_rand) const;

 private:
  PrivateKey() = default;
  std::array<uint8_t, 32> secret_{};
  std::array<uint8_t, 96> keypair_{};  // secp256k1_keypair (opaque, 96 bytes)
  friend Signature64 SignRaw(const PrivateKey&, std::string_view, const std::array<uint8_t, 32>&);
  PublicKey public_key_;
};

// True if `key` is a valid x-only point (lifts to the curve).
bool IsValidPublicKey(const PublicKey& key);

// BIP-340 verification of a signature over a 32-byte message. Thread-safe.
bool VerifySignature(const PublicKey& key, const Hash256& message, std::string_view signature64);

// BIP-340 verification over a message of any length (used for the golden vectors).
bool VerifySignatureRaw(const PublicKey& key, std::string_view message, std::string_view signature64);
Signature64 SignRaw(const PrivateKey& key, std::string_view message, const std::array<uint8_t, 32>& aux_rand);

// Where randomness comes from. The node and tools use the OS; tests use a seeded one.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual void Fill(uint8_t* out, size_t n) = 0;
  template <size_t N>
  std::array<uint8_t, N> Array() {
    std::array<uint8_t, N> a;
    Fill(a.data(), N);
    return a;
  }
};

// getrandom(2). Only programs (tools/, node/) create one; ledger logic takes a RandomSource&.
class OsRandom final : public RandomSource {
 public:
  void Fill(uint8_t* out, size_t n) override;
};

// Deterministic xorshift-based generator for tests and benchmarks. Not for real keys.
class SeededRandom final : public RandomSource {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  void Fill(uint8_t* out, size_t n) override;
  uint64_t Next();

 private:
  uint64_t state_;
};

PrivateKey GeneratePrivateKey(RandomSource& random);

}  // namespace kontor
