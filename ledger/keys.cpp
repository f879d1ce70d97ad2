#include "ledger/keys.h"

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sys/random.h>

#include <cerrno>
#include <stdexcept>

#include "ledger/check.h"

namespace kontor {
namespace {

// One context for the process. Verification and signing only read it, so it is shared by
// all threads. (Context randomisation is a side-channel hardening for signing that would need
// a random source here; signing keys live in wallets and the single node key.)
const secp256k1_context* Context() {
  static const secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  return ctx;
}

const uint8_t* U8(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

}  // namespace

std::optional<PrivateKey> PrivateKey::FromBytes(std::string_view secret32) {
  if (secret32.size() != 32) return std::nullopt;
  if (!secp256k1_ec_seckey_verify(Context(), U8(secret32))) return std::nullopt;
  PrivateKey key;
  std::memcpy(key.secret_.data(), secret32.data(), 32);
  static_assert(sizeof(secp256k1_keypair) == 96);
  secp256k1_keypair keypair;
  KONTOR_CHECK(secp256k1_keypair_create(Context(), &keypair, key.secret_.data()) == 1);
  std::memcpy(key.keypair_.data(), &keypair, 96);
  secp256k1_xonly_pubkey xonly;
  KONTOR_CHECK(secp256k1_keypair_xonly_pub(Context(), &xonly, nullptr, &keypair) == 1);
  KONTOR_CHECK(secp256k1_xonly_pubkey_serialize(Context(), key.public_key_.data.data(), &xonly) == 1);
  return key;
}

PrivateKey::~PrivateKey() {
  // Wipe the secret; volatile so the compiler keeps the stores.
  volatile uint8_t* p = secret_.data();
  for (size_t i = 0; i < secret_.size(); ++i) p[i] = 0;
  volatile uint8_t* q = keypair_.data();
  for (size_t i = 0; i < keypair_.size(); ++i) q[i] = 0;
}

static secp256k1_keypair LoadKeypair(const std::array<uint8_t, 96>& bytes) {
  secp256k1_keypair keypair;
  std::memcpy(&keypair, bytes.data(), 96);
  return keypair;
}

Signature64 PrivateKey::Sign(const Hash256& message, const std::array<uint8_t, 32>& aux_rand) const {
  secp256k1_keypair keypair = LoadKeypair(keypair_);
  Signature64 sig;
  KONTOR_CHECK(secp256k1_schnorrsig_sign32(Context(), sig.data(), message.data.data(), &keypair, aux_rand.data()) == 1);
  return sig;
}

Signature64 SignRaw(const PrivateKey& key, std::string_view message, const std::array<uint8_t, 32>& aux_rand) {
  secp256k1_keypair keypair = LoadKeypair(key.keypair_);
  secp256k1_schnorrsig_extraparams params = SECP256K1_SCHNORRSIG_EXTRAPARAMS_INIT;
  params.ndata = const_cast<uint8_t*>(aux_rand.data());
  Signature64 sig;
  KONTOR_CHECK(secp256k1_schnorrsig_sign_custom(Context(), sig.data(), U8(message), message.size(), &keypair,
                                                &params) == 1);
  return sig;
}

bool IsValidPublicKey(const PublicKey& key) {
  secp256k1_xonly_pubkey xonly;
  return secp256k1_xonly_pubkey_parse(Context(), &xonly, key.data.data()) == 1;
}

bool VerifySignatureRaw(const PublicKey& key, std::string_view message, std::string_view signature64) {
  if (signature64.size() != 64) return false;
  secp256k1_xonly_pubkey xonly;
  if (!secp256k1_xonly_pubkey_parse(Context(), &xonly, key.data.data())) return false;
  return secp256k1_schnorrsig_verify(Context(), U8(signature64), U8(message), message.size(), &xonly) == 1;
}

bool VerifySignature(const PublicKey& key, const Hash256& message, std::string_view signature64) {
  return VerifySignatureRaw(key, message.view(), signature64);
}

void OsRandom::Fill(uint8_t* out, size_t n) {
  while (n > 0) {
    ssize_t got = getrandom(out, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed");
    }
    out += got;
    n -= static_cast<size_t>(got);
  }
}

uint64_t SeededRandom::Next() {
  // xorshift64*
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  return state_ * 0x2545F4914F6CDD1Dull;
}

void SeededRandom::Fill(uint8_t* out, size_t n) {
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = Next();
    for (size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
}

PrivateKey GeneratePrivateKey(RandomSource& random) {
  for (;;) {
    auto bytes = random.Array<32>();
    auto key = PrivateKey::FromBytes({reinterpret_cast<const char*>(bytes.data()), 32});
    if (key) return *key;
  }
}

}  // namespace kontor
