// Addresses and bech32m strings as users paste them. Properties: no crash; whatever decodes
// re-encodes to the same string in lower case, and a decoded address is the key it names.
#include <algorithm>
#include <cctype>

#include "ledger/bech32m.h"
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include "ledger/hash.h"
#include "tests/fuzz/fuzz_support.h"

using namespace kontor;

// Seeds: addresses of a few keys, and BIP-350's valid strings.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("KONTOR_FUZZ_WRITE_SEEDS");
  if (!dir) return 0;
  std::vector<std::string> seeds = {EncodeAddress(Sha256("a")), EncodeAddress(Sha256("b")), "A1LQFN3A",
                                    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx", "?1v759aa"};
  int n = 0;
  for (const auto& s : seeds) std::ofstream(std::filesystem::path(dir) / ("text-" + std::to_string(n++))) << s;
  std::exit(0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  Bech32Decoded decoded;
  if (Bech32mDecode(text, &decoded).ok())
    FUZZ_CHECK(Bech32mEncode(decoded.hrp, decoded.data) == lower, "bech32m round trip");
  PublicKey key;
  if (DecodeAddress(text, &key).ok()) FUZZ_CHECK(EncodeAddress(key) == lower, "address round trip");
  return 0;
}
