// Bech32m (BIP-350) strings and Kontor addresses.
// An address is bech32m with human-readable part "kx" over the 32-byte x-only key
// (8-bit bytes regrouped into 5-bit symbols, zero-padded), e.g. kx1....
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ledger/keys.h"
#include "ledger/result.h"

namespace kontor {

inline constexpr std::string_view kAddressPrefix = "kx";

struct Bech32Decoded {
  std::string hrp;             // lower case
  std::vector<uint8_t> data;   // 5-bit symbols, checksum removed
};

// Encodes lower-case bech32m. REQUIRES: hrp valid (1..83 chars of 33..126), symbols < 32.
std::string Bech32mEncode(std::string_view hrp, const std::vector<uint8_t>& data5);
// Decodes and verifies a bech32m string (BIP-350 rules: <= 90 chars, no mixed case,
// valid characters, bech32m checksum). The message says what is wrong and where.
Result Bech32mDecode(std::string_view text, Bech32Decoded* out);

// Regroups bits; with pad=false, fails on leftover non-zero bits or a whole leftover group.
bool ConvertBits(const std::vector<uint8_t>& in, int from_bits, int to_bits, bool pad, std::vector<uint8_t>* out);

std::string EncodeAddress(const PublicKey& key);
// For showing a key that came from elsewhere (a node's reply, a file): its address if it is 32
// bytes, else "invalid key <hex>" (never a crash on a reply of the wrong shape).
std::string DisplayAddress(std::string_view key_bytes);
// Decodes "kx1..." into a key; checks prefix, checksum, length and that the key is on the curve.
Result DecodeAddress(std::string_view address, PublicKey* key);

}  // namespace kontor
