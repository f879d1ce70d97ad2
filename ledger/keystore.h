// Encrypted key files in the Web3 Secret Storage v3 format (the JSON keystore of Ethereum
// wallets): scrypt or PBKDF2-HMAC-SHA256, AES-128-CTR, and a legacy Keccak-256 MAC over
// derived_key[16..32] || ciphertext. The secret is a raw 32-byte secp256k1 scalar, as in other
// wallets. Kontor adds the optional top-level field "address" (kx1...).
#pragma once

#include <string>
#include <string_view>

#include "ledger/keys.h"
#include "ledger/result.h"

namespace kontor {

struct ScryptParams {
  uint64_t n = 262144;  // the geth default: ~0.5 s and 256 MiB with r = 8
  uint32_t r = 8;
  uint32_t p = 1;
};

// Limits on what a key file may ask for, so a hostile file cannot exhaust memory or time.
inline constexpr uint64_t kKeystoreScryptNMax = 1u << 20;
inline constexpr uint32_t kKeystoreScryptRMax = 32;
inline constexpr uint32_t kKeystoreScryptPMax = 16;
inline constexpr uint64_t kKeystorePbkdf2RoundsMax = 10'000'000;

// Encrypts a 32-byte secret. Salt, IV and id come from `random`.
std::string EncryptKeystore(const PrivateKey& key, std::string_view passphrase, RandomSource& random,
                            const ScryptParams& params = {});

// Decrypts a keystore JSON. Errors: kMalformed (not a v3 keystore; the message names the field),
// kTooLarge (KDF parameters over the limits), kNotAuthorized (wrong passphrase: MAC mismatch),
// kBadKey (decrypts to a value that is not a valid secret key).
Result DecryptKeystore(std::string_view json, std::string_view passphrase, Bytes* secret32);

// The derived key alone (exposed for the golden-vector tests).
Result DeriveKeystoreKey(std::string_view json, std::string_view passphrase, Bytes* derived_key);

}  // namespace kontor
