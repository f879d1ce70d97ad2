#include "ledger/keystore.h"

#include <cryptopp/aes.h>
#include <cryptopp/keccak.h>
#include <cryptopp/misc.h>
#include <cryptopp/modes.h>
#include <cryptopp/pwdbased.h>
#include <cryptopp/scrypt.h>
#include <cryptopp/sha.h>

#include <nlohmann/json.hpp>

#include "ledger/bech32m.h"
#include "ledger/check.h"

namespace kontor {
namespace {

using nlohmann::json;
const CryptoPP::byte* B(std::string_view s) { return reinterpret_cast<const CryptoPP::byte*>(s.data()); }
CryptoPP::byte* B(std::string& s) { return reinterpret_cast<CryptoPP::byte*>(s.data()); }

Bytes KeccakMac(std::string_view derived_key, std::string_view ciphertext) {
  CryptoPP::Keccak_256 keccak;
  keccak.Update(B(derived_key.substr(16, 16)), 16);
  keccak.Update(B(ciphertext), ciphertext.size());
  Bytes mac(32, '\0');
  keccak.Final(B(mac));
  return mac;
}

Bytes AesCtr(std::string_view key16, std::string_view iv16, std::string_view in) {
  CryptoPP::CTR_Mode<CryptoPP::AES>::Encryption cipher;
  cipher.SetKeyWithIV(B(key16), 16, B(iv16), 16);
  Bytes out(in.size(), '\0');
  cipher.ProcessData(B(out), B(in), in.size());
  return out;
}

struct Parsed {
  Bytes ciphertext, iv, mac, derived_key;
  ~Parsed() { SecureWipe(&derived_key); }
};

Result Malformed(const std::string& what) { return {Code::kMalformed, "key file is not a Web3 v3 keystore: " + what}; }

Result HexField(const json& obj, const char* name, Bytes* out, size_t expected_size = 0) {
  if (!obj.contains(name) || !obj[name].is_string()) return Malformed(std::string("missing string field '") + name + "'");
  auto bytes = HexDecode(obj[name].get<std::string>());
  if (!bytes) return Malformed(std::string("field '") + name + "' is not hex");
  if (expected_size && bytes->size() != expected_size)
    return Malformed(std::string("field '") + name + "' must be " + std::to_string(expected_size) + " bytes");
  *out = std::move(*bytes);
  return Result::Ok();
}

Result UintField(const json& obj, const char* name, uint64_t* out) {
  if (!obj.contains(name) || !obj[name].is_number_unsigned()) return Malformed(std::string("missing number field '") + name + "'");
  *out = obj[name].get<uint64_t>();
  return Result::Ok();
}

Result ParseAndDeriveChecked(std::string_view text, std::string_view passphrase, Parsed* p);

// A field of the wrong JSON type makes nlohmann throw; a damaged key file must be an error, not a crash.
Result ParseAndDerive(std::string_view text, std::string_view passphrase, Parsed* p) {
  try {
    return ParseAndDeriveChecked(text, passphrase, p);
  } catch (const nlohmann::json::exception& e) {
    return Malformed(std::string("a field has the wrong type (") + e.what() + ")");
  }
}

Result ParseAndDeriveChecked(std::string_view text, std::string_view passphrase, Parsed* p) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return Malformed("not a JSON object");
  if (!doc.contains("version") || doc["version"] != 3) return Malformed("'version' is not 3");
  json crypto = doc.contains("crypto") ? doc["crypto"] : doc.contains("Crypto") ? doc["Crypto"] : json();
  if (!crypto.is_object()) return Malformed("missing 'crypto' object");
  if (crypto.value("cipher", "") != "aes-128-ctr") return Malformed("cipher must be 'aes-128-ctr'");
  if (!crypto.contains("cipherparams") || !crypto["cipherparams"].is_object()) return Malformed("missing 'cipherparams'");
  KONTOR_RETURN_IF_ERROR(HexField(crypto["cipherparams"], "iv", &p->iv, 16));
  KONTOR_RETURN_IF_ERROR(HexField(crypto, "ciphertext", &p->ciphertext));
  KONTOR_RETURN_IF_ERROR(HexField(crypto, "mac", &p->mac, 32));
  if (p->ciphertext.size() != 32) return Malformed("ciphertext must be 32 bytes (a secp256k1 secret)");
  if (!crypto.contains("kdfparams") || !crypto["kdfparams"].is_object()) return Malformed("missing 'kdfparams'");
  const json& kdf = crypto["kdfparams"];
  Bytes salt;
  KONTOR_RETURN_IF_ERROR(HexField(kdf, "salt", &salt));
  uint64_t dklen = 0;
  KONTOR_RETURN_IF_ERROR(UintField(kdf, "dklen", &dklen));
  if (dklen != 32) return Malformed("kdfparams.dklen must be 32");
  p->derived_key.assign(32, '\0');
  std::string kdf_name = crypto.value("kdf", "");
  if (kdf_name == "scrypt") {
    uint64_t n = 0, r = 0, par = 0;
    KONTOR_RETURN_IF_ERROR(UintField(kdf, "n", &n));
    KONTOR_RETURN_IF_ERROR(UintField(kdf, "r", &r));
    KONTOR_RETURN_IF_ERROR(UintField(kdf, "p", &par));
    KONTOR_RETURN_IF_ERROR(CheckScryptParams(n, r, par));
    CryptoPP::Scrypt scrypt;
    scrypt.DeriveKey(B(p->derived_key), 32, B(passphrase), passphrase.size(), B(salt), salt.size(), n,
                     static_cast<unsigned>(r), static_cast<unsigned>(par));
  } else if (kdf_name == "pbkdf2") {
    uint64_t c = 0;
    KONTOR_RETURN_IF_ERROR(UintField(kdf, "c", &c));
    if (kdf.value("prf", "") != "hmac-sha256") return Malformed("kdfparams.prf must be 'hmac-sha256'");
    KONTOR_RETURN_IF_ERROR(CheckPbkdf2Rounds(c));
    CryptoPP::PKCS5_PBKDF2_HMAC<CryptoPP::SHA256> pbkdf2;
    pbkdf2.DeriveKey(B(p->derived_key), 32, 0, B(passphrase), passphrase.size(), B(salt), salt.size(),
                     static_cast<unsigned>(c));
  } else {
    return Malformed("kdf must be 'scrypt' or 'pbkdf2'");
  }
  return Result::Ok();
}

std::string Uuid4(RandomSource& random) {
  auto b = random.Array<16>();
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  std::string hex = HexEncode({reinterpret_cast<const char*>(b.data()), 16});
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" + hex.substr(20);
}

}  // namespace

Result CheckScryptParams(uint64_t n, uint64_t r, uint64_t p) {
  if (n < 2 || (n & (n - 1))) return Malformed("kdfparams.n must be a power of two >= 2");
  if (r == 0 || p == 0) return Malformed("kdfparams.r and p must be positive");
  const std::string asked = "key file asks for scrypt n=" + std::to_string(n) + " r=" + std::to_string(r) +
                            " p=" + std::to_string(p) + "; ";
  if (r > kKeystoreScryptRMax) return {Code::kTooLarge, asked + "r may be at most 32"};
  if (p > kKeystoreScryptPMax) return {Code::kTooLarge, asked + "p may be at most 16"};
  // Divisions, not products: n may be as large as 2^63.
  if (n > kKeystoreScryptMemoryBytesMax / (128 * r))
    return {Code::kTooLarge, asked + "128*r*n bytes of memory may be at most 256 MiB"};
  if (n * 128 * r > kKeystoreScryptWorkBytesMax / p)
    return {Code::kTooLarge, asked + "128*r*n*p bytes of work may be at most 1 GiB"};
  return Result::Ok();
}

Result CheckPbkdf2Rounds(uint64_t c) {
  if (c == 0) return Malformed("kdfparams.c must be positive");
  if (c > kKeystorePbkdf2RoundsMax)
    return {Code::kTooLarge, "key file asks for " + std::to_string(c) + " PBKDF2 rounds; at most 2000000"};
  return Result::Ok();
}

std::string EncryptKeystore(const PrivateKey& key, std::string_view passphrase, RandomSource& random,
                            const ScryptParams& params) {
  auto salt = random.Array<32>();
  auto iv = random.Array<16>();
  std::string_view salt_view(reinterpret_cast<const char*>(salt.data()), 32);
  std::string_view iv_view(reinterpret_cast<const char*>(iv.data()), 16);
  KONTOR_CHECK(CheckScryptParams(params.n, params.r, params.p).ok());
  Bytes derived(32, '\0');
  WipeOnExit wipe_derived(derived);
  CryptoPP::Scrypt scrypt;
  scrypt.DeriveKey(B(derived), 32, B(passphrase), passphrase.size(), B(salt_view), 32, params.n, params.r, params.p);
  Bytes ciphertext = AesCtr(std::string_view(derived).substr(0, 16), iv_view, key.secret());
  json doc = {
      {"version", 3},
      {"id", Uuid4(random)},
      {"address", EncodeAddress(key.public_key())},
      {"crypto",
       {{"cipher", "aes-128-ctr"},
        {"cipherparams", {{"iv", HexEncode(iv_view)}}},
        {"ciphertext", HexEncode(ciphertext)},
        {"kdf", "scrypt"},
        {"kdfparams",
         {{"dklen", 32}, {"n", params.n}, {"r", params.r}, {"p", params.p}, {"salt", HexEncode(salt_view)}}},
        {"mac", HexEncode(KeccakMac(derived, ciphertext))}}},
  };
  return doc.dump(2) + "\n";
}

Result DeriveKeystoreKey(std::string_view json_text, std::string_view passphrase, Bytes* derived_key) {
  Parsed p;
  KONTOR_RETURN_IF_ERROR(ParseAndDerive(json_text, passphrase, &p));
  *derived_key = p.derived_key;
  return Result::Ok();
}

Result KeystoreAddress(std::string_view json_text, PublicKey* out) {
  json doc = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return Malformed("not a JSON object");
  if (!doc.contains("address")) return {Code::kNotFound, "key file has no \"address\""};
  if (!doc["address"].is_string()) return Malformed("field 'address' is not a string");
  return DecodeAddress(doc["address"].get<std::string>(), out);
}

Result DecryptKeystore(std::string_view json_text, std::string_view passphrase, Bytes* secret32) {
  Parsed p;
  KONTOR_RETURN_IF_ERROR(ParseAndDerive(json_text, passphrase, &p));
  // Constant time: how many leading bytes match must not show in the time taken.
  const Bytes mac = KeccakMac(p.derived_key, p.ciphertext);
  if (!CryptoPP::VerifyBufsEqual(B(mac), B(p.mac), 32))
    return {Code::kNotAuthorized, "wrong passphrase for this key file (MAC check failed)"};
  Bytes secret = AesCtr(std::string_view(p.derived_key).substr(0, 16), p.iv, p.ciphertext);
  WipeOnExit wipe_secret(secret);
  if (!PrivateKey::FromBytes(secret)) return {Code::kBadKey, "key file decrypts to a value that is not a valid secp256k1 secret"};
  *secret32 = secret;
  return Result::Ok();
}

}  // namespace kontor
