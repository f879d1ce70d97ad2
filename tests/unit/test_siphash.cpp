// SipHash-2-4 against the reference vectors, and the process key of the in-memory hash tables.
#include <catch2/catch.hpp>

#include <cstdint>
#include <set>
#include <string>

#include "ledger/bytes.h"
#include "ledger/siphash.h"

namespace kontor {
namespace {

// The vectors of the SipHash paper (Aumasson and Bernstein, 2012, Appendix A; vectors.h of the
// reference implementation, github.com/veorq/SipHash): key 00 01 .. 0f, message 00 01 .. (n-1)
// for n = 0..63; each output as the 64-bit integer whose little-endian bytes the table lists.
constexpr uint64_t kSipHash24Vectors[64] = {
    0x726fdb47dd0e0e31ull, 0x74f839c593dc67fdull, 0x0d6c8009d9a94f5aull, 0x85676696d7fb7e2dull,
    0xcf2794e0277187b7ull, 0x18765564cd99a68dull, 0xcbc9466e58fee3ceull, 0xab0200f58b01d137ull,
    0x93f5f5799a932462ull, 0x9e0082df0ba9e4b0ull, 0x7a5dbbc594ddb9f3ull, 0xf4b32f46226bada7ull,
    0x751e8fbc860ee5fbull, 0x14ea5627c0843d90ull, 0xf723ca908e7af2eeull, 0xa129ca6149be45e5ull,
    0x3f2acc7f57c29bdbull, 0x699ae9f52cbe4794ull, 0x4bc1b3f0968dd39cull, 0xbb6dc91da77961bdull,
    0xbed65cf21aa2ee98ull, 0xd0f2cbb02e3b67c7ull, 0x93536795e3a33e88ull, 0xa80c038ccd5ccec8ull,
    0xb8ad50c6f649af94ull, 0xbce192de8a85b8eaull, 0x17d835b85bbb15f3ull, 0x2f2e6163076bcfadull,
    0xde4daaaca71dc9a5ull, 0xa6a2506687956571ull, 0xad87a3535c49ef28ull, 0x32d892fad841c342ull,
    0x7127512f72f27cceull, 0xa7f32346f95978e3ull, 0x12e0b01abb051238ull, 0x15e034d40fa197aeull,
    0x314dffbe0815a3b4ull, 0x027990f029623981ull, 0xcadcd4e59ef40c4dull, 0x9abfd8766a33735cull,
    0x0e3ea96b5304a7d0ull, 0xad0c42d6fc585992ull, 0x187306c89bc215a9ull, 0xd4a60abcf3792b95ull,
    0xf935451de4f21df2ull, 0xa9538f0419755787ull, 0xdb9acddff56ca510ull, 0xd06c98cd5c0975ebull,
    0xe612a3cb9ecba951ull, 0xc766e62cfcadaf96ull, 0xee64435a9752fe72ull, 0xa192d576b245165aull,
    0x0a8787bf8ecb74b2ull, 0x81b3e73d20b49b6full, 0x7fa8220ba3b2eceaull, 0x245731c13ca42499ull,
    0xb78dbfaf3a8d83bdull, 0xea1ad565322a1a0bull, 0x60e61c23a3795013ull, 0x6606d7e446282b93ull,
    0x6ca4ecb15c5f91e1ull, 0x9f626da15c9625f3ull, 0xe51b38608ef25f57ull, 0x958a324ceb064572ull,
};

SipHashKey ReferenceKey() {
  std::string key;
  for (int i = 0; i < 16; ++i) key.push_back(static_cast<char>(i));
  uint64_t k0 = 0, k1 = 0;
  for (int i = 7; i >= 0; --i) {
    k0 = k0 << 8 | static_cast<uint8_t>(key[i]);
    k1 = k1 << 8 | static_cast<uint8_t>(key[8 + i]);
  }
  return {k0, k1};
}

}  // namespace

TEST_CASE("siphash: SipHash-2-4 matches the 64 reference vectors of the paper", "[crypto][siphash]") {
  const SipHashKey key = ReferenceKey();
  CHECK(key.k0 == 0x0706050403020100ull);
  CHECK(key.k1 == 0x0f0e0d0c0b0a0908ull);
  std::string message;
  for (int n = 0; n < 64; ++n) {
    INFO("message of " << n << " bytes");
    CHECK(SipHash24(key, message) == kSipHash24Vectors[n]);
    message.push_back(static_cast<char>(n));
  }
  // The two the paper states in its text: the empty message, and the 15-byte worked example.
  CHECK(SipHash24(key, std::string()) == 0x726fdb47dd0e0e31ull);
  CHECK(SipHash24(key, message.substr(0, 15)) == 0xa129ca6149be45e5ull);
}

TEST_CASE("siphash: the process key is random and fixed for the process", "[crypto][siphash]") {
  const SipHashKey& key = ProcessHashKey();
  CHECK_FALSE((key.k0 == 0 && key.k1 == 0));
  CHECK(&ProcessHashKey() == &key);
  CHECK(ProcessHashKey() == key);
  // Each process seeds its own: fresh keys from the OS source differ from it and from each other.
  std::set<std::pair<uint64_t, uint64_t>> seen = {{key.k0, key.k1}};
  for (int i = 0; i < 8; ++i) {
    SipHashKey fresh = RandomSipHashKey();
    CHECK(seen.insert({fresh.k0, fresh.k1}).second);
  }
}

TEST_CASE("siphash: hash tables key a Hash256 by all of its bytes under the process key", "[crypto][siphash]") {
  Hash256 a, b;
  for (int i = 0; i < 32; ++i) a.data[i] = b.data[i] = static_cast<uint8_t>(i);
  b.data[31] ^= 1;  // the same first 8 (and 31) bytes: a ground txid would look like this
  Hash256Hasher hasher;
  CHECK(hasher(a) == SipHash24(ProcessHashKey(), a.view()));
  CHECK(hasher(a) != hasher(b));
  // Not the unkeyed first 8 bytes any more.
  uint64_t first8 = 0;
  for (int i = 7; i >= 0; --i) first8 = first8 << 8 | a.data[i];
  CHECK(hasher(a) != first8);
  // Under another key the same hash lands elsewhere.
  CHECK(SipHash24(SipHashKey{1, 2}, a.view()) != SipHash24(SipHashKey{1, 3}, a.view()));
}

}  // namespace kontor
