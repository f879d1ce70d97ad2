// Byte strings, 32-byte hashes and hex. Small helpers used everywhere in the ledger.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace kontor {

using Bytes = std::string;  // owned bytes; std::string so protobuf `bytes` fields need no copy

struct Hash256 {
  std::array<uint8_t, 32> data{};

  static Hash256 FromBytes(std::string_view bytes);  // REQUIRES: bytes.size() == 32
  static std::optional<Hash256> FromHex(std::string_view hex);
  std::string_view view() const { return {reinterpret_cast<const char*>(data.data()), 32}; }
  Bytes bytes() const { return Bytes(view()); }
  std::string hex() const;
  bool IsZero() const;
  // Bit i counted from the most significant bit of byte 0 (the sparse Merkle tree's path order).
  bool Bit(int i) const { return (data[i >> 3] >> (7 - (i & 7))) & 1; }
  auto operator<=>(const Hash256&) const = default;
};

// For unordered containers keyed by hashes: SipHash-2-4 under the process's random key
// (ledger/siphash.h), because many such keys (txids, contract ids) can be ground by an attacker
// to share their first bytes. Never iterate such a container where the order reaches an output.
struct Hash256Hasher {
  size_t operator()(const Hash256& h) const;
};

std::string HexEncode(std::string_view bytes);
// A signed 128-bit integer in decimal (for messages about sums that may pass 64 bits).
std::string DecimalString(__int128 value);
// An unsigned 128-bit integer in decimal (an asset's lifetime totals).
std::string DecimalStringU128(unsigned __int128 value);
std::optional<Bytes> HexDecode(std::string_view hex);

// Fixed-width big-endian encodings (heights in store keys sort by number).
void PutBigEndian64(Bytes* out, uint64_t v);
uint64_t GetBigEndian64(std::string_view in);  // REQUIRES: in.size() >= 8

// Overwrites secrets (passphrases, derived keys) with zeros through volatile stores, which the
// compiler may not drop as dead. Best effort: copies a std::string made earlier are not reached.
void SecureWipe(void* data, size_t size);
// Zeroes the whole buffer (up to its capacity, where older contents may linger), then clears it.
void SecureWipe(std::string* s);

// Wipes a string when it goes out of scope.
class WipeOnExit {
 public:
  explicit WipeOnExit(std::string& s) : s_(s) {}
  ~WipeOnExit() { SecureWipe(&s_); }
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

 private:
  std::string& s_;
};

}  // namespace kontor
