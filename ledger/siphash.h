// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed 64-bit
// hash for in-memory hash tables whose keys an attacker can choose (txids are grindable). With a
// secret random key nobody outside the process can make keys collide in a table, so a table's
// lookups stay O(1) whatever is sent.
//
// The process key comes from the OS random source (getrandom(2)) once, at first use. It only
// places entries in buckets: nothing consensus-relevant may depend on where, so no code that
// produces blocks, state, results or messages iterates such a table in hash order (tables that
// must be walked are walked in key order, e.g. StateDelta::ForEachChangedRecord).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kontor {

struct SipHashKey {
  uint64_t k0 = 0, k1 = 0;  // the 16 key bytes, each half read little-endian
  bool operator==(const SipHashKey&) const = default;
};

// SipHash-2-4 of `size` bytes at `data`.
uint64_t SipHash24(const SipHashKey& key, const uint8_t* data, size_t size);
inline uint64_t SipHash24(const SipHashKey& key, std::string_view data) {
  return SipHash24(key, reinterpret_cast<const uint8_t*>(data.data()), data.size());
}

// A fresh key from the OS random source. Throws std::runtime_error if the source fails.
SipHashKey RandomSipHashKey();
// This process's key for hash tables: RandomSipHashKey() at the first call, the same afterwards.
// Thread-safe.
const SipHashKey& ProcessHashKey();

}  // namespace kontor
