// Key files (Web3 Secret Storage v3) as found on disk. Properties: no crash, on any bytes;
// what decrypts is a valid key; the unauthenticated "address" field is only ever read, never
// believed. To keep each run short, files asking for more than a little KDF work are only
// parsed (the limits themselves are unit-tested in test_keystore.cpp).
#include <nlohmann/json.hpp>

#include "ledger/keys.h"
#include "ledger/keystore.h"
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include "tests/fuzz/fuzz_support.h"

using namespace kontor;

namespace {
// scrypt n*r*p, or PBKDF2 rounds, small enough for thousands of runs a second.
bool CheapKdf(std::string_view text) {
  auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return true;  // fails early anyway
  const nlohmann::json* crypto = doc.contains("crypto") ? &doc["crypto"] : doc.contains("Crypto") ? &doc["Crypto"] : nullptr;
  if (!crypto || !crypto->is_object() || !crypto->contains("kdfparams")) return true;
  const auto& p = (*crypto)["kdfparams"];
  if (!p.is_object()) return true;
  auto num = [&](const char* k) -> double { return p.contains(k) && p[k].is_number() ? p[k].get<double>() : 1.0; };
  return num("n") * num("r") * num("p") <= 4096 && num("c") <= 4096;
}
}  // namespace

// Seeds: passphrase "pass" (FuzzedDataProvider ends a string at a backslash pair), then a
// key file with cheap scrypt parameters, encrypted with it.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("KONTOR_FUZZ_WRITE_SEEDS");
  if (!dir) return 0;
  SeededRandom random(7);
  PrivateKey key = GeneratePrivateKey(random);
  std::string file = EncryptKeystore(key, "pass", random, ScryptParams{16, 1, 1});
  std::ofstream(std::filesystem::path(dir) / "scrypt-16") << "pass\\n" << file;
  std::ofstream(std::filesystem::path(dir) / "wrong-passphrase") << "word\\n" << file;
  std::exit(0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  std::string passphrase = in.ConsumeRandomLengthString(32);
  std::string json = in.ConsumeRemainingBytesAsString();
  PublicKey claimed;
  (void)KeystoreAddress(json, &claimed);
  if (!CheapKdf(json)) return 0;
  Bytes secret;
  if (DecryptKeystore(json, passphrase, &secret).ok()) {
    FUZZ_CHECK(secret.size() == 32, "a decrypted secret is 32 bytes");
    FUZZ_CHECK(PrivateKey::FromBytes(secret).has_value(), "a decrypted secret is a valid key");
  }
  return 0;
}
