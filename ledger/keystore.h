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
// They admit what wallets write: geth's standard scrypt (n = 2^18, r = 8, p = 1: 256 MiB, at the
// memory limit), geth's light scrypt (n = 2^12, r = 8, p = 6) and PBKDF2 up to OWASP's 600,000
// rounds with room to spare.
//   memory: 128 * r * n bytes (scrypt's V array)              <= kKeystoreScryptMemoryBytesMax
//   work:   128 * r * n * p bytes written and read back       <= kKeystoreScryptWorkBytesMax
//           (derivation time grows with it: 1 GiB is ~4x geth's standard file)
//   r <= 32 and p <= 16, so scrypt's other buffers (128 * r * p and 256 * r bytes) stay under 64 KiB.
inline constexpr uint64_t kKeystoreScryptMemoryBytesMax = uint64_t{256} << 20;
inline constexpr uint64_t kKeystoreScryptWorkBytesMax = uint64_t{1} << 30;
inline constexpr uint64_t kKeystoreScryptRMax = 32;
inline constexpr uint64_t kKeystoreScryptPMax = 16;
inline constexpr uint64_t kKeystorePbkdf2RoundsMax = 2'000'000;

// Checks scrypt parameters before anything is derived. Errors: kMalformed (n not a power of two
// >= 2, r or p zero), kTooLarge (over a limit above; the message names it).
Result CheckScryptParams(uint64_t n, uint64_t r, uint64_t p);
// Errors: kMalformed (c zero), kTooLarge (c > kKeystorePbkdf2RoundsMax).
Result CheckPbkdf2Rounds(uint64_t c);

// Encrypts a 32-byte secret. Salt, IV and id come from `random`.
// REQUIRES: CheckScryptParams(params) is ok (a file we write must be one we can read).
std::string EncryptKeystore(const PrivateKey& key, std::string_view passphrase, RandomSource& random,
                            const ScryptParams& params = {});

// Decrypts a keystore JSON. Errors: kMalformed (not a v3 keystore; the message names the field),
// kTooLarge (KDF parameters over the limits; nothing is derived), kNotAuthorized (wrong
// passphrase: MAC mismatch, compared in constant time), kBadKey (decrypts to a value that is not
// a valid secret key). The derived key and intermediate buffers are wiped before returning.
// The optional "address" field is not read: see KeystoreAddress.
Result DecryptKeystore(std::string_view json, std::string_view passphrase, Bytes* secret32);

// The derived key alone (exposed for the golden-vector tests).
Result DeriveKeystoreKey(std::string_view json, std::string_view passphrase, Bytes* derived_key);

// The key file's optional "address" field (kx1...). It is NOT authenticated: the MAC covers only
// the ciphertext, so anyone who can write the file can put any address there. Callers compare it
// with the key DecryptKeystore gives. Errors: kNotFound (no such field), kMalformed (not JSON or
// not a string), kBadAddress / kBadKey (does not decode).
Result KeystoreAddress(std::string_view json, PublicKey* out);

}  // namespace kontor
