// Web3 Secret Storage v3 key files: published vectors, round trip, errors.
#include <catch2/catch.hpp>

#include <chrono>
#include <cryptopp/keccak.h>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "ledger/bech32m.h"
#include "ledger/bytes.h"
#include "ledger/keys.h"
#include "ledger/keystore.h"

namespace kontor {
namespace {

using nlohmann::json;

json LoadVectors() {
  std::ifstream in(std::string(KONTOR_TEST_DATA) + "/keystore-v3.json");
  REQUIRE(in.good());
  return json::parse(in);
}

const json& VectorWithKdf(const json& vectors, const std::string& kdf) {
  for (const auto& v : vectors.at("vectors"))
    if (v.at("keyfile").at("crypto").at("kdf") == kdf) return v;
  FAIL("no vector with kdf " << kdf);
  throw std::logic_error("unreachable");
}

constexpr ScryptParams kFast{1024, 8, 1};

// A small, fast key file to mutate in the error tests.
std::string FastKeyfile(uint64_t seed, std::string_view passphrase, PrivateKey* key_out = nullptr) {
  SeededRandom random(seed);
  PrivateKey key = GeneratePrivateKey(random);
  if (key_out) *key_out = key;
  return EncryptKeystore(key, passphrase, random, kFast);
}

std::string Keccak256(std::string_view data) {
  CryptoPP::Keccak_256 keccak;
  keccak.Update(reinterpret_cast<const CryptoPP::byte*>(data.data()), data.size());
  std::string out(32, '\0');
  keccak.Final(reinterpret_cast<CryptoPP::byte*>(out.data()));
  return out;
}

}  // namespace

TEST_CASE("Keystore vector (PBKDF2): derived key and secret", "[keystore]") {
  json vectors = LoadVectors();
  const std::string password = vectors.at("password");
  REQUIRE(password == "testpassword");
  const json& v = VectorWithKdf(vectors, "pbkdf2");
  const std::string file = v.at("keyfile").dump();

  Bytes derived;
  Result r = DeriveKeystoreKey(file, password, &derived);
  REQUIRE(r.ok());
  CHECK(HexEncode(derived) == v.at("derived_key").get<std::string>());

  Bytes secret;
  REQUIRE(DecryptKeystore(file, password, &secret).ok());
  CHECK(HexEncode(secret) == vectors.at("secret").get<std::string>());

  // Wrong passphrase: a clean kNotAuthorized, output untouched.
  Bytes untouched = "unchanged";
  Result wrong = DecryptKeystore(file, "testpassword ", &untouched);
  CHECK(wrong.code() == Code::kNotAuthorized);
  CHECK(wrong.message().find("passphrase") != std::string::npos);
  CHECK(untouched == "unchanged");
  CHECK(DecryptKeystore(file, "", &untouched).code() == Code::kNotAuthorized);
  // The derived key differs with another passphrase (DeriveKeystoreKey does not check the MAC).
  Bytes other;
  REQUIRE(DeriveKeystoreKey(file, "wrong", &other).ok());
  CHECK(other != derived);
}

TEST_CASE("Keystore vector (scrypt): derived key and secret", "[keystore]") {
  json vectors = LoadVectors();
  const std::string password = vectors.at("password");
  const json& v = VectorWithKdf(vectors, "scrypt");
  const json& kdfparams = v.at("keyfile").at("crypto").at("kdfparams");
  REQUIRE(kdfparams.at("n") == 262144);
  const std::string file = v.at("keyfile").dump();

  Bytes derived;
  REQUIRE(DeriveKeystoreKey(file, password, &derived).ok());
  CHECK(HexEncode(derived) == v.at("derived_key").get<std::string>());

  // Decryption derives again; the MAC check and AES-CTR with the known derived key give the secret.
  Bytes secret;
  Result r = DecryptKeystore(file, password, &secret);
  REQUIRE(r.ok());
  CHECK(HexEncode(secret) == vectors.at("secret").get<std::string>());

  // The MAC is Keccak-256(derived_key[16..32] || ciphertext): check the file against it by hand.
  const std::string ciphertext = *HexDecode(v.at("keyfile").at("crypto").at("ciphertext").get<std::string>());
  CHECK(HexEncode(Keccak256(derived.substr(16, 16) + ciphertext)) ==
        v.at("keyfile").at("crypto").at("mac").get<std::string>());
}

TEST_CASE("Keystore: wrong passphrase on an scrypt file", "[keystore]") {
  PrivateKey key = *PrivateKey::FromBytes(std::string(31, '\0') + "\x07");
  SeededRandom random(5);
  const std::string file = EncryptKeystore(key, "correct horse", random, kFast);
  Bytes secret = "unchanged";
  for (const char* wrong : {"", "correct hors", "correct horse ", "Correct horse", "correct horse\n"}) {
    INFO("passphrase '" << wrong << "'");
    Result r = DecryptKeystore(file, wrong, &secret);
    CHECK(r.code() == Code::kNotAuthorized);
    CHECK(secret == "unchanged");
  }
  REQUIRE(DecryptKeystore(file, "correct horse", &secret).ok());
  CHECK(secret == key.secret());
}

TEST_CASE("Keystore: encrypt/decrypt round trip with small scrypt parameters", "[keystore]") {
  for (uint64_t seed : {1u, 2u, 3u}) {
    INFO("seed " << seed);
    PrivateKey key = *PrivateKey::FromBytes(std::string(32, '\x01'));
    const std::string passphrase = seed == 3 ? "" : "p\xc3\xa4ssw\xc3\xb6rd " + std::to_string(seed);
    const std::string file = FastKeyfile(seed, passphrase, &key);

    Bytes secret;
    Result r = DecryptKeystore(file, passphrase, &secret);
    REQUIRE(r.ok());
    CHECK(secret == key.secret());
    CHECK(PrivateKey::FromBytes(secret)->public_key() == key.public_key());

    json doc = json::parse(file);
    CHECK(doc.at("version") == 3);
    CHECK(doc.at("address") == EncodeAddress(key.public_key()));
    PublicKey from_address;
    REQUIRE(DecodeAddress(doc.at("address").get<std::string>(), &from_address).ok());
    CHECK(from_address == key.public_key());
    CHECK(std::regex_match(doc.at("id").get<std::string>(),
                           std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
    const json& crypto = doc.at("crypto");
    CHECK(crypto.at("cipher") == "aes-128-ctr");
    CHECK(crypto.at("kdf") == "scrypt");
    CHECK(crypto.at("kdfparams").at("n") == 1024);
    CHECK(crypto.at("kdfparams").at("r") == 8);
    CHECK(crypto.at("kdfparams").at("p") == 1);
    CHECK(crypto.at("kdfparams").at("dklen") == 32);
    CHECK(crypto.at("kdfparams").at("salt").get<std::string>().size() == 64);
    CHECK(crypto.at("cipherparams").at("iv").get<std::string>().size() == 32);
    CHECK(crypto.at("ciphertext").get<std::string>().size() == 64);
    // The secret is not stored in the clear.
    CHECK(file.find(HexEncode(key.secret())) == std::string::npos);

    // MAC by hand over the derived key.
    Bytes derived;
    REQUIRE(DeriveKeystoreKey(file, passphrase, &derived).ok());
    REQUIRE(derived.size() == 32);
    const std::string ciphertext = *HexDecode(crypto.at("ciphertext").get<std::string>());
    CHECK(HexEncode(Keccak256(derived.substr(16, 16) + ciphertext)) == crypto.at("mac").get<std::string>());

    // Deterministic given the random source; another seed gives another salt, iv and id.
    CHECK(FastKeyfile(seed, passphrase) == file);
    json other = json::parse(FastKeyfile(seed + 100, passphrase));
    CHECK(other.at("crypto").at("kdfparams").at("salt") != crypto.at("kdfparams").at("salt"));
    CHECK(other.at("crypto").at("cipherparams").at("iv") != crypto.at("cipherparams").at("iv"));
    CHECK(other.at("id") != doc.at("id"));
  }
}

TEST_CASE("Keystore: tampered files fail the MAC", "[keystore]") {
  const std::string file = FastKeyfile(11, "pw");
  json doc = json::parse(file);
  Bytes secret;
  for (const char* field : {"ciphertext", "mac"}) {
    INFO("flipped " << field);
    json bad = doc;
    std::string hex = bad["crypto"][field];
    hex[5] = hex[5] == '0' ? '1' : '0';
    bad["crypto"][field] = hex;
    CHECK(DecryptKeystore(bad.dump(), "pw", &secret).code() == Code::kNotAuthorized);
  }
  json bad = doc;
  std::string salt = bad["crypto"]["kdfparams"]["salt"];
  salt[0] = salt[0] == 'a' ? 'b' : 'a';
  bad["crypto"]["kdfparams"]["salt"] = salt;
  CHECK(DecryptKeystore(bad.dump(), "pw", &secret).code() == Code::kNotAuthorized);
  // The IV is not covered by the MAC (as in the format): decryption "succeeds" to another value or
  // fails as a bad key; it must never return the original secret.
  bad = doc;
  std::string iv = bad["crypto"]["cipherparams"]["iv"];
  iv[0] = iv[0] == 'a' ? 'b' : 'a';
  bad["crypto"]["cipherparams"]["iv"] = iv;
  Bytes original;
  REQUIRE(DecryptKeystore(file, "pw", &original).ok());
  Bytes changed;
  Result r = DecryptKeystore(bad.dump(), "pw", &changed);
  if (r.ok()) CHECK(changed != original);
  else CHECK(r.code() == Code::kBadKey);
}

TEST_CASE("Keystore: a file that decrypts to an invalid secret gives kBadKey", "[keystore]") {
  const std::string file = FastKeyfile(12, "pw");
  json doc = json::parse(file);
  Bytes derived, secret;
  REQUIRE(DeriveKeystoreKey(file, "pw", &derived).ok());
  REQUIRE(DecryptKeystore(file, "pw", &secret).ok());
  // AES-CTR: ciphertext XOR secret is the keystream, which decrypts to 32 zero bytes.
  std::string ciphertext = *HexDecode(doc["crypto"]["ciphertext"].get<std::string>());
  for (size_t i = 0; i < 32; ++i) ciphertext[i] = static_cast<char>(ciphertext[i] ^ secret[i]);
  doc["crypto"]["ciphertext"] = HexEncode(ciphertext);
  doc["crypto"]["mac"] = HexEncode(Keccak256(derived.substr(16, 16) + ciphertext));
  Bytes out = "unchanged";
  Result r = DecryptKeystore(doc.dump(), "pw", &out);
  CHECK(r.code() == Code::kBadKey);
  CHECK(out == "unchanged");
}

TEST_CASE("Keystore: malformed files give kMalformed", "[keystore]") {
  const json base = json::parse(FastKeyfile(13, "pw"));
  Bytes secret;
  {
    Bytes unused;
    REQUIRE(DecryptKeystore(base.dump(), "pw", &unused).ok());
    // The geth spelling "Crypto" is accepted.
    json capital = base;
    capital["Crypto"] = capital["crypto"];
    capital.erase("crypto");
    CHECK(DecryptKeystore(capital.dump(), "pw", &unused).ok());
  }
  for (const char* text : {"", "not json", "{", "[]", "3", "null", "\"crypto\"", "{\"version\": 3}"}) {
    INFO("text '" << text << "'");
    Result r = DecryptKeystore(text, "pw", &secret);
    CHECK(r.code() == Code::kMalformed);
    Bytes derived;
    CHECK(DeriveKeystoreKey(text, "pw", &derived).code() == Code::kMalformed);
  }

  struct Mutation {
    const char* name;
    std::function<void(json&)> apply;
  };
  const std::vector<Mutation> mutations = {
      {"no version", [](json& d) { d.erase("version"); }},
      {"version 1", [](json& d) { d["version"] = 1; }},
      {"version as string", [](json& d) { d["version"] = "3"; }},
      {"no crypto", [](json& d) { d.erase("crypto"); }},
      {"crypto not an object", [](json& d) { d["crypto"] = "x"; }},
      {"no cipher", [](json& d) { d["crypto"].erase("cipher"); }},
      {"other cipher", [](json& d) { d["crypto"]["cipher"] = "aes-128-cbc"; }},
      {"no cipherparams", [](json& d) { d["crypto"].erase("cipherparams"); }},
      {"no iv", [](json& d) { d["crypto"]["cipherparams"].erase("iv"); }},
      {"short iv", [](json& d) { d["crypto"]["cipherparams"]["iv"] = "00112233"; }},
      {"iv not hex", [](json& d) { d["crypto"]["cipherparams"]["iv"] = std::string(32, 'z'); }},
      {"iv a number", [](json& d) { d["crypto"]["cipherparams"]["iv"] = 5; }},
      {"no ciphertext", [](json& d) { d["crypto"].erase("ciphertext"); }},
      {"short ciphertext", [](json& d) { d["crypto"]["ciphertext"] = std::string(62, 'a'); }},
      {"odd-length ciphertext", [](json& d) { d["crypto"]["ciphertext"] = std::string(63, 'a'); }},
      {"no mac", [](json& d) { d["crypto"].erase("mac"); }},
      {"short mac", [](json& d) { d["crypto"]["mac"] = std::string(62, 'a'); }},
      {"no kdf", [](json& d) { d["crypto"].erase("kdf"); }},
      {"unknown kdf", [](json& d) { d["crypto"]["kdf"] = "argon2"; }},
      {"no kdfparams", [](json& d) { d["crypto"].erase("kdfparams"); }},
      {"no salt", [](json& d) { d["crypto"]["kdfparams"].erase("salt"); }},
      {"salt not hex", [](json& d) { d["crypto"]["kdfparams"]["salt"] = "xyz0"; }},
      {"no dklen", [](json& d) { d["crypto"]["kdfparams"].erase("dklen"); }},
      {"dklen 16", [](json& d) { d["crypto"]["kdfparams"]["dklen"] = 16; }},
      {"dklen negative", [](json& d) { d["crypto"]["kdfparams"]["dklen"] = -32; }},
      {"no n", [](json& d) { d["crypto"]["kdfparams"].erase("n"); }},
      {"n as string", [](json& d) { d["crypto"]["kdfparams"]["n"] = "1024"; }},
      {"n not a power of two", [](json& d) { d["crypto"]["kdfparams"]["n"] = 1000; }},
      {"n = 1", [](json& d) { d["crypto"]["kdfparams"]["n"] = 1; }},
      {"n = 0", [](json& d) { d["crypto"]["kdfparams"]["n"] = 0; }},
      {"n negative", [](json& d) { d["crypto"]["kdfparams"]["n"] = -1024; }},
      {"n fractional", [](json& d) { d["crypto"]["kdfparams"]["n"] = 1024.5; }},
      {"no r", [](json& d) { d["crypto"]["kdfparams"].erase("r"); }},
      {"r = 0", [](json& d) { d["crypto"]["kdfparams"]["r"] = 0; }},
      {"no p", [](json& d) { d["crypto"]["kdfparams"].erase("p"); }},
      {"p = 0", [](json& d) { d["crypto"]["kdfparams"]["p"] = 0; }},
      {"pbkdf2 without c",
       [](json& d) {
         d["crypto"]["kdf"] = "pbkdf2";
         d["crypto"]["kdfparams"]["prf"] = "hmac-sha256";
       }},
      {"pbkdf2 with c = 0",
       [](json& d) {
         d["crypto"]["kdf"] = "pbkdf2";
         d["crypto"]["kdfparams"]["prf"] = "hmac-sha256";
         d["crypto"]["kdfparams"]["c"] = 0;
       }},
      {"pbkdf2 with another prf",
       [](json& d) {
         d["crypto"]["kdf"] = "pbkdf2";
         d["crypto"]["kdfparams"]["prf"] = "hmac-sha512";
         d["crypto"]["kdfparams"]["c"] = 1;
       }},
  };
  for (const Mutation& m : mutations) {
    INFO("mutation: " << m.name);
    json doc = base;
    m.apply(doc);
    Bytes out = "unchanged";
    Result r = DecryptKeystore(doc.dump(), "pw", &out);
    CHECK(r.code() == Code::kMalformed);
    CHECK_FALSE(r.message().empty());
    CHECK(out == "unchanged");
  }
}

TEST_CASE("Keystore: string fields of another JSON type give kMalformed, not an exception", "[keystore]") {
  // keystore.h: "kMalformed (not a v3 keystore; the message names the field)". A hostile or
  // damaged key file must not throw out of DecryptKeystore.
  const json base = json::parse(FastKeyfile(15, "pw"));
  struct Mutation {
    const char* name;
    std::function<void(json&)> apply;
  };
  const std::vector<Mutation> mutations = {
      {"cipher is a number", [](json& d) { d["crypto"]["cipher"] = 5; }},
      {"cipher is null", [](json& d) { d["crypto"]["cipher"] = nullptr; }},
      {"kdf is a number", [](json& d) { d["crypto"]["kdf"] = 7; }},
      {"kdf is an object", [](json& d) { d["crypto"]["kdf"] = json::object(); }},
      {"prf is null",
       [](json& d) {
         d["crypto"]["kdf"] = "pbkdf2";
         d["crypto"]["kdfparams"]["c"] = 1;
         d["crypto"]["kdfparams"]["prf"] = nullptr;
       }},
  };
  for (const Mutation& m : mutations) {
    INFO("mutation: " << m.name);
    json doc = base;
    m.apply(doc);
    Bytes out = "unchanged";
    Result r;
    CHECK_NOTHROW(r = DecryptKeystore(doc.dump(), "pw", &out));
    CHECK(r.code() == Code::kMalformed);
    CHECK(out == "unchanged");
    Bytes derived;
    Result r2;
    CHECK_NOTHROW(r2 = DeriveKeystoreKey(doc.dump(), "pw", &derived));
    CHECK(r2.code() == Code::kMalformed);
  }
}

TEST_CASE("Keystore: KDF parameters over the limits give kTooLarge without deriving", "[keystore]") {
  const json base = json::parse(FastKeyfile(14, "pw"));
  struct Case {
    const char* name;
    std::function<void(json&)> apply;
  };
  const std::vector<Case> cases = {
      {"n = 2^21", [](json& d) { d["crypto"]["kdfparams"]["n"] = uint64_t{1} << 21; }},
      {"n = 2^40", [](json& d) { d["crypto"]["kdfparams"]["n"] = uint64_t{1} << 40; }},
      {"n = 2^63", [](json& d) { d["crypto"]["kdfparams"]["n"] = uint64_t{1} << 63; }},
      {"r = 33", [](json& d) { d["crypto"]["kdfparams"]["r"] = 33; }},
      {"r = 2^32", [](json& d) { d["crypto"]["kdfparams"]["r"] = uint64_t{1} << 32; }},
      {"r = 2^63 with n = 2^63", [](json& d) {
         d["crypto"]["kdfparams"]["n"] = uint64_t{1} << 63;
         d["crypto"]["kdfparams"]["r"] = uint64_t{1} << 63;
       }},
      {"p = 17", [](json& d) { d["crypto"]["kdfparams"]["p"] = 17; }},
      {"p = 2^32 + 1", [](json& d) { d["crypto"]["kdfparams"]["p"] = (uint64_t{1} << 32) + 1; }},
      // Memory one step over 256 MiB: n or r one step above geth's standard file.
      {"memory: n = 2^19 and r = 8 is 512 MiB", [](json& d) { d["crypto"]["kdfparams"]["n"] = uint64_t{1} << 19; }},
      {"memory: n = 2^18 and r = 9 is 288 MiB",
       [](json& d) {
         d["crypto"]["kdfparams"]["n"] = uint64_t{1} << 18;
         d["crypto"]["kdfparams"]["r"] = 9;
       }},
      {"memory: n = 2^22 and r = 1 is 512 MiB",
       [](json& d) {
         d["crypto"]["kdfparams"]["n"] = uint64_t{1} << 22;
         d["crypto"]["kdfparams"]["r"] = 1;
       }},
      // Work one pass over 1 GiB: 4 passes over 256 MiB are the most.
      {"work: n = 2^18 and r = 8 and p = 5",
       [](json& d) {
         d["crypto"]["kdfparams"]["n"] = uint64_t{1} << 18;
         d["crypto"]["kdfparams"]["p"] = 5;
       }},
      {"work: n = 2^17 and r = 8 and p = 9",
       [](json& d) {
         d["crypto"]["kdfparams"]["n"] = uint64_t{1} << 17;
         d["crypto"]["kdfparams"]["p"] = 9;
       }},
      {"pbkdf2 c = 2000001",
       [](json& d) {
         d["crypto"]["kdf"] = "pbkdf2";
         d["crypto"]["kdfparams"]["prf"] = "hmac-sha256";
         d["crypto"]["kdfparams"]["c"] = kKeystorePbkdf2RoundsMax + 1;
       }},
      {"pbkdf2 c = 10^7 + 1",
       [](json& d) {
         d["crypto"]["kdf"] = "pbkdf2";
         d["crypto"]["kdfparams"]["prf"] = "hmac-sha256";
         d["crypto"]["kdfparams"]["c"] = 10'000'001;
       }},
  };
  for (const Case& c : cases) {
    INFO("case: " << c.name);
    json doc = base;
    c.apply(doc);
    auto start = std::chrono::steady_clock::now();
    Bytes out = "unchanged";
    Result r = DecryptKeystore(doc.dump(), "pw", &out);
    Bytes derived;
    Result r2 = DeriveKeystoreKey(doc.dump(), "pw", &derived);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(r.code() == Code::kTooLarge);
    CHECK(r2.code() == Code::kTooLarge);
    CHECK_THAT(r.message(), Catch::Contains("at most"));
    CHECK(out == "unchanged");
    // scrypt with n = 2^21, r = 8 would take seconds and 2 GiB; refusing takes microseconds.
    CHECK(seconds < 0.5);
  }
  // At the limit on r and p (with a small n) the file is accepted and derives.
  json doc = base;
  doc["crypto"]["kdfparams"]["n"] = 2;
  doc["crypto"]["kdfparams"]["r"] = kKeystoreScryptRMax;
  doc["crypto"]["kdfparams"]["p"] = kKeystoreScryptPMax;
  Bytes derived;
  CHECK(DeriveKeystoreKey(doc.dump(), "pw", &derived).ok());
  CHECK(derived.size() == 32);
  // Exactly 256 MiB of memory (n = 2^18, r = 8, p = 1: geth's standard file) is accepted: the
  // scrypt golden vector above is such a file and derives.
}

TEST_CASE("Keystore: scrypt limits at the exact boundary and one step over", "[keystore]") {
  struct Case {
    uint64_t n, r, p;
    Code expected;
  };
  const uint64_t k18 = uint64_t{1} << 18;
  const std::vector<Case> cases = {
      // What wallets write.
      {k18, 8, 1, Code::kOk},               // geth standard: 256 MiB, exactly the memory limit
      {uint64_t{1} << 12, 8, 6, Code::kOk},  // geth --lightkdf
      {uint64_t{1} << 13, 8, 1, Code::kOk},  // ethers.js / web3.js light
      // Memory: 128 * r * n <= 256 MiB.
      {uint64_t{1} << 19, 4, 1, Code::kOk},
      {uint64_t{1} << 21, 1, 1, Code::kOk},
      {uint64_t{1} << 16, 32, 1, Code::kOk},
      {uint64_t{1} << 19, 8, 1, Code::kTooLarge},
      {k18, 9, 1, Code::kTooLarge},
      {uint64_t{1} << 22, 1, 1, Code::kTooLarge},
      {uint64_t{1} << 17, 17, 1, Code::kTooLarge},
      // Work: 128 * r * n * p <= 1 GiB.
      {k18, 8, 4, Code::kOk},
      {k18, 8, 5, Code::kTooLarge},
      {uint64_t{1} << 21, 1, 4, Code::kOk},
      {uint64_t{1} << 21, 1, 5, Code::kTooLarge},
      {uint64_t{1} << 16, 32, 4, Code::kOk},
      {uint64_t{1} << 16, 32, 5, Code::kTooLarge},
      {uint64_t{1} << 16, 8, 16, Code::kOk},
      {uint64_t{1} << 17, 8, 16, Code::kTooLarge},
      // r and p alone.
      {2, 32, 16, Code::kOk},
      {2, 33, 1, Code::kTooLarge},
      {2, 1, 17, Code::kTooLarge},
      // No overflow on huge values.
      {uint64_t{1} << 63, 1, 1, Code::kTooLarge},
      {uint64_t{1} << 63, 32, 16, Code::kTooLarge},
      {2, UINT64_MAX, 1, Code::kTooLarge},
      {2, 1, UINT64_MAX, Code::kTooLarge},
      // Shape before size.
      {0, 8, 1, Code::kMalformed},
      {1, 8, 1, Code::kMalformed},
      {3 * k18, 8, 1, Code::kMalformed},
      {2, 0, 1, Code::kMalformed},
      {2, 8, 0, Code::kMalformed},
  };
  for (const Case& c : cases) {
    INFO("n=" << c.n << " r=" << c.r << " p=" << c.p);
    Result r = CheckScryptParams(c.n, c.r, c.p);
    CHECK(r.code() == c.expected);
    if (c.expected == Code::kTooLarge) CHECK_THAT(r.message(), Catch::Contains("at most"));
  }
  CHECK(CheckScryptParams(ScryptParams{}.n, ScryptParams{}.r, ScryptParams{}.p).ok());  // what we write
}

TEST_CASE("Keystore: PBKDF2 rounds at the exact boundary and one step over", "[keystore]") {
  CHECK(CheckPbkdf2Rounds(1).ok());
  CHECK(CheckPbkdf2Rounds(262'144).ok());  // geth's and MyEtherWallet's pbkdf2 files
  CHECK(CheckPbkdf2Rounds(600'000).ok());  // OWASP's 2023 recommendation for HMAC-SHA256
  CHECK(CheckPbkdf2Rounds(kKeystorePbkdf2RoundsMax).ok());
  CHECK(kKeystorePbkdf2RoundsMax == 2'000'000);
  Result over = CheckPbkdf2Rounds(kKeystorePbkdf2RoundsMax + 1);
  CHECK(over.code() == Code::kTooLarge);
  CHECK_THAT(over.message(), Catch::Contains("2000001"));
  CHECK(CheckPbkdf2Rounds(UINT64_MAX).code() == Code::kTooLarge);
  CHECK(CheckPbkdf2Rounds(0).code() == Code::kMalformed);
}

TEST_CASE("Keystore: a MAC differing in any single byte is refused", "[keystore]") {
  // The comparison runs over all 32 bytes (constant time); one that stopped early or compared a
  // prefix would accept some of these.
  const std::string file = FastKeyfile(16, "pw");
  const json doc = json::parse(file);
  const std::string mac = doc["crypto"]["mac"];
  Bytes secret;
  REQUIRE(DecryptKeystore(file, "pw", &secret).ok());
  for (size_t byte : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{30}, size_t{31}}) {
    INFO("byte " << byte);
    json bad = doc;
    std::string hex = mac;
    hex[2 * byte + 1] = hex[2 * byte + 1] == '0' ? '1' : '0';
    bad["crypto"]["mac"] = hex;
    Bytes out = "unchanged";
    Result r = DecryptKeystore(bad.dump(), "pw", &out);
    CHECK(r.code() == Code::kNotAuthorized);
    CHECK(out == "unchanged");
  }
}

TEST_CASE("Keystore: the address field is read but never trusted", "[keystore]") {
  PrivateKey key = *PrivateKey::FromBytes(std::string(32, '\x02'));
  const std::string file = FastKeyfile(17, "pw", &key);
  PublicKey stored;
  REQUIRE(KeystoreAddress(file, &stored).ok());
  CHECK(stored == key.public_key());

  // Another key's address in the file: decryption still gives the file's own key (the MAC does
  // not cover the address), so callers must compare.
  SeededRandom random(18);
  const PrivateKey other = GeneratePrivateKey(random);
  json doc = json::parse(file);
  doc["address"] = EncodeAddress(other.public_key());
  REQUIRE(KeystoreAddress(doc.dump(), &stored).ok());
  CHECK(stored == other.public_key());
  Bytes secret;
  REQUIRE(DecryptKeystore(doc.dump(), "pw", &secret).ok());
  CHECK(PrivateKey::FromBytes(secret)->public_key() == key.public_key());

  doc.erase("address");
  CHECK(KeystoreAddress(doc.dump(), &stored).code() == Code::kNotFound);
  doc["address"] = 5;
  CHECK(KeystoreAddress(doc.dump(), &stored).code() == Code::kMalformed);
  doc["address"] = "kx1notanaddress";
  CHECK_FALSE(KeystoreAddress(doc.dump(), &stored).ok());
  CHECK(KeystoreAddress("not json", &stored).code() == Code::kMalformed);
}

TEST_CASE("SecureWipe zeroes buffers and strings", "[keystore]") {
  unsigned char buffer[40];
  for (unsigned char& b : buffer) b = 0xab;
  SecureWipe(buffer, sizeof buffer);
  for (unsigned char b : buffer) CHECK(b == 0);

  std::string passphrase(100, 'x');
  const char* storage = passphrase.data();
  const size_t capacity = passphrase.capacity();
  SecureWipe(&passphrase);
  CHECK(passphrase.empty());
  CHECK(passphrase.data() == storage);  // wiped in place, not reallocated
  for (size_t i = 0; i < capacity; ++i) CHECK(storage[i] == '\0');

  std::string small = "pw";  // small-string storage inside the object
  SecureWipe(&small);
  CHECK(small.empty());
  {
    std::string scoped = "secret passphrase that is long enough for the heap";
    const char* heap = scoped.data();
    const size_t size = scoped.size();
    {
      WipeOnExit wipe(scoped);
    }
    CHECK(scoped.empty());
    for (size_t i = 0; i < size; ++i) CHECK(heap[i] == '\0');
  }
}

}  // namespace kontor
