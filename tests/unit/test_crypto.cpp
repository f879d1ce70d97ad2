// BIP-340 Schnorr signatures against the published vectors, tagged hashes, Hash256 hex.
#include <catch2/catch.hpp>

#include <array>
#include <cctype>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/hash.h"
#include "ledger/keys.h"

namespace kontor {
namespace {

// Independent of the library's HexDecode, so a bug there cannot hide a vector mismatch.
std::string Unhex(const std::string& hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::runtime_error(std::string("bad hex digit ") + c);
  };
  if (hex.size() % 2) throw std::runtime_error("odd hex length: " + hex);
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) out.push_back(static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  return out;
}

std::string ToHexUpper(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string_view View(const Signature64& sig) { return {reinterpret_cast<const char*>(sig.data()), sig.size()}; }

struct Bip340Row {
  int index = 0;
  std::string secret_key, public_key, aux_rand, message, signature;  // hex as in the file
  bool result = false;
  std::string comment;
};

std::vector<Bip340Row> LoadBip340() {
  std::ifstream in(std::string(KONTOR_TEST_DATA) + "/bip340-test-vectors.csv");
  REQUIRE(in.good());
  std::string line;
  std::getline(in, line);  // header
  REQUIRE(line.rfind("index,secret key,public key,aux_rand,message,signature,verification result", 0) == 0);
  std::vector<Bip340Row> rows;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> f;
    size_t start = 0;
    // Seven fixed fields; the comment (last) is taken whole.
    for (int i = 0; i < 7; ++i) {
      size_t comma = line.find(',', start);
      REQUIRE(comma != std::string::npos);
      f.push_back(line.substr(start, comma - start));
      start = comma + 1;
    }
    Bip340Row row;
    row.index = std::stoi(f[0]);
    row.secret_key = f[1];
    row.public_key = f[2];
    row.aux_rand = f[3];
    row.message = f[4];
    row.signature = f[5];
    REQUIRE((f[6] == "TRUE" || f[6] == "FALSE"));
    row.result = f[6] == "TRUE";
    row.comment = line.substr(start);
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

TEST_CASE("BIP-340 vectors: keys, signatures and verification", "[crypto][bip340]") {
  std::vector<Bip340Row> rows = LoadBip340();
  REQUIRE(rows.size() >= 15);
  int signed_rows = 0, true_rows = 0, false_rows = 0;
  for (const Bip340Row& row : rows) {
    INFO("BIP-340 vector " << row.index << " (" << row.comment << ")");
    const std::string message = Unhex(row.message);  // an empty field is a 0-byte message
    const std::string signature = Unhex(row.signature);
    REQUIRE(signature.size() == 64);
    REQUIRE(row.public_key.size() == 64);
    const PublicKey pub = Hash256::FromBytes(Unhex(row.public_key));

    if (!row.secret_key.empty()) {
      ++signed_rows;
      auto key = PrivateKey::FromBytes(Unhex(row.secret_key));
      REQUIRE(key.has_value());
      CHECK(ToHexUpper(key->public_key().view()) == row.public_key);
      CHECK(key->secret() == Unhex(row.secret_key));
      const std::string aux = Unhex(row.aux_rand);
      REQUIRE(aux.size() == 32);
      std::array<uint8_t, 32> aux_rand;
      std::memcpy(aux_rand.data(), aux.data(), 32);
      Signature64 sig = SignRaw(*key, message, aux_rand);
      CHECK(ToHexUpper(View(sig)) == row.signature);
      if (message.size() == 32) {
        // The 32-byte entry point signs the same thing.
        Signature64 sig32 = key->Sign(Hash256::FromBytes(message), aux_rand);
        CHECK(ToHexUpper(View(sig32)) == row.signature);
      }
    }

    CHECK(VerifySignatureRaw(pub, message, signature) == row.result);
    if (message.size() == 32) CHECK(VerifySignature(pub, Hash256::FromBytes(message), signature) == row.result);
    if (row.comment.find("public key") != std::string::npos && row.comment.find("not") != std::string::npos) {
      // Rows 5 and 14: the key does not lift to the curve.
      CHECK_FALSE(IsValidPublicKey(pub));
      CHECK_FALSE(row.result);
    }
    if (row.result) {
      ++true_rows;
      CHECK(IsValidPublicKey(pub));
      // Any single-bit change of a valid signature or message must break it.
      std::string bad_sig = signature;
      bad_sig[63] = static_cast<char>(bad_sig[63] ^ 0x01);
      CHECK_FALSE(VerifySignatureRaw(pub, message, bad_sig));
      bad_sig = signature;
      bad_sig[0] = static_cast<char>(bad_sig[0] ^ 0x80);
      CHECK_FALSE(VerifySignatureRaw(pub, message, bad_sig));
      std::string bad_msg = message + "x";
      CHECK_FALSE(VerifySignatureRaw(pub, bad_msg, signature));
      // Wrong signature lengths are refused, not read past.
      CHECK_FALSE(VerifySignatureRaw(pub, message, signature.substr(0, 63)));
      CHECK_FALSE(VerifySignatureRaw(pub, message, signature + '\0'));
    } else {
      ++false_rows;
    }
  }
  CHECK(signed_rows >= 4);
  CHECK(true_rows >= 5);
  CHECK(false_rows >= 10);
}

TEST_CASE("BIP-340 signing with other message lengths round-trips", "[crypto][bip340]") {
  SeededRandom random(7);
  PrivateKey key = GeneratePrivateKey(random);
  for (size_t len : {0u, 1u, 17u, 31u, 32u, 33u, 100u}) {
    INFO("message length " << len);
    std::string message(len, '\0');
    random.Fill(reinterpret_cast<uint8_t*>(message.data()), len);
    auto aux = random.Array<32>();
    Signature64 sig = SignRaw(key, message, aux);
    CHECK(VerifySignatureRaw(key.public_key(), message, View(sig)));
    // Deterministic given the aux randomness.
    CHECK(SignRaw(key, message, aux) == sig);
    // A different aux gives a different, still valid, signature.
    auto aux2 = aux;
    aux2[0] ^= 1;
    Signature64 sig2 = SignRaw(key, message, aux2);
    CHECK(sig2 != sig);
    CHECK(VerifySignatureRaw(key.public_key(), message, View(sig2)));
    // Message with one more zero byte is a different message.
    CHECK_FALSE(VerifySignatureRaw(key.public_key(), message + std::string(1, '\0'), View(sig)));
    // Another key does not verify it.
    PrivateKey other = GeneratePrivateKey(random);
    CHECK_FALSE(VerifySignatureRaw(other.public_key(), message, View(sig)));
  }
}

TEST_CASE("PrivateKey rejects out-of-range secrets", "[crypto][keys]") {
  const std::string n_hex = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141";
  const std::string n_minus_1 = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140";
  const std::string n_plus_1 = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364142";
  CHECK_FALSE(PrivateKey::FromBytes(std::string(32, '\0')).has_value());
  CHECK_FALSE(PrivateKey::FromBytes(Unhex(n_hex)).has_value());
  CHECK_FALSE(PrivateKey::FromBytes(Unhex(n_plus_1)).has_value());
  CHECK_FALSE(PrivateKey::FromBytes(std::string(32, '\xff')).has_value());
  CHECK_FALSE(PrivateKey::FromBytes(std::string(31, '\x01')).has_value());
  CHECK_FALSE(PrivateKey::FromBytes(std::string(33, '\x01')).has_value());
  CHECK_FALSE(PrivateKey::FromBytes("").has_value());

  auto max_key = PrivateKey::FromBytes(Unhex(n_minus_1));
  REQUIRE(max_key.has_value());
  // n-1 = -1: its public point is -G, which has G's x coordinate.
  auto one = PrivateKey::FromBytes(Unhex("0000000000000000000000000000000000000000000000000000000000000001"));
  REQUIRE(one.has_value());
  CHECK(one->public_key().hex() == "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
  CHECK(max_key->public_key() == one->public_key());
}

TEST_CASE("SeededRandom is deterministic and GeneratePrivateKey gives valid keys", "[crypto][keys]") {
  SeededRandom a(42), b(42), c(43);
  auto xa = a.Array<40>();
  auto xb = b.Array<40>();
  auto xc = c.Array<40>();
  CHECK(xa == xb);
  CHECK(xa != xc);
  SeededRandom r(1);
  PrivateKey k1 = GeneratePrivateKey(r);
  PrivateKey k2 = GeneratePrivateKey(r);
  CHECK(k1.public_key() != k2.public_key());
  CHECK(IsValidPublicKey(k1.public_key()));
  CHECK(IsValidPublicKey(k2.public_key()));
  Hash256 msg = Sha256("message");
  Signature64 sig = k1.Sign(msg, r.Array<32>());
  CHECK(VerifySignature(k1.public_key(), msg, View(sig)));
  CHECK_FALSE(VerifySignature(k2.public_key(), msg, View(sig)));
  CHECK_FALSE(VerifySignature(k1.public_key(), Sha256("other"), View(sig)));
}

TEST_CASE("SHA-256 and tagged hashes", "[crypto][hash]") {
  // FIPS 180-2 example and the empty string.
  CHECK(Sha256("abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Sha256("").hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

  // tagged_hash(tag, m) = SHA256(SHA256(tag) || SHA256(tag) || m), built here by hand.
  auto by_hand = [](std::string_view tag, std::string_view m) {
    std::string t = Sha256(tag).bytes();
    return Sha256(t + t + std::string(m));
  };
  const std::vector<std::string> tags_to_try = {std::string(tags::kTx), std::string(tags::kBlock),
                                                std::string(tags::kStateLeaf), "BIP0340/challenge", "", "x"};
  const std::vector<std::string> messages = {"", "a", "hello", std::string(64, '\x5a'), std::string(1000, '\0'),
                                             std::string("\0\1\2\3", 4)};
  for (const auto& tag : tags_to_try) {
    TaggedHasher hasher(tag);
    for (const auto& m : messages) {
      INFO("tag '" << tag << "' message length " << m.size());
      Hash256 expected = by_hand(tag, m);
      CHECK(hasher.Hash(m) == expected);
      CHECK(Tagged(tag).Hash(m) == expected);
      CHECK(TaggedHash(tag, m) == expected);
      // Overloads agree with concatenation, whatever the split.
      for (size_t i = 0; i <= m.size(); i += (m.size() > 10 ? m.size() / 7 + 1 : 1)) {
        std::string_view mv(m);
        CHECK(hasher.Hash(mv.substr(0, i), mv.substr(i)) == expected);
        for (size_t j = i; j <= m.size(); j += (m.size() > 10 ? m.size() / 5 + 1 : 1))
          CHECK(hasher.Hash(mv.substr(0, i), mv.substr(i, j - i), mv.substr(j)) == expected);
      }
    }
  }
  // Computed with Python's hashlib, independently of this code.
  CHECK(TaggedHash(tags::kTx, "hello").hex() == "9ae44c1b9124abd941645ff6481f5df77fe354552072231a2cf67b0cad1b9549");
  CHECK(TaggedHash("BIP0340/challenge", "").hex() ==
        "c216d352f5818b7b4beacd4ae0a26fe888080823d2a598856661bcd54f1b3713");
  // Different tags separate domains.
  CHECK(TaggedHash(tags::kTx, "m") != TaggedHash(tags::kBlock, "m"));
  CHECK(TaggedHash(tags::kTx, "m") != Sha256("m"));
  // The shared hasher is one object per tag.
  CHECK(&Tagged(tags::kVote) == &Tagged(tags::kVote));
}

TEST_CASE("Hash256 hex round trip", "[crypto][bytes]") {
  SeededRandom random(3);
  for (int i = 0; i < 50; ++i) {
    Hash256 h;
    random.Fill(h.data.data(), 32);
    std::string hex = h.hex();
    REQUIRE(hex.size() == 64);
    CHECK(hex.find_first_not_of("0123456789abcdef") == std::string::npos);
    auto back = Hash256::FromHex(hex);
    REQUIRE(back.has_value());
    CHECK(*back == h);
    std::string upper = hex;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    auto back_upper = Hash256::FromHex(upper);
    REQUIRE(back_upper.has_value());
    CHECK(*back_upper == h);
    CHECK(Unhex(hex) == h.bytes());
    CHECK(Hash256::FromBytes(h.view()) == h);
  }
  Hash256 zero;
  CHECK(zero.IsZero());
  CHECK(zero.hex() == std::string(64, '0'));
  Hash256 one = *Hash256::FromHex("00000000000000000000000000000000000000000000000000000000000000ff");
  CHECK_FALSE(one.IsZero());
  CHECK(one.data[31] == 0xff);
  CHECK(one.Bit(255));
  CHECK(one.Bit(248));
  CHECK_FALSE(one.Bit(247));
  CHECK_FALSE(one.Bit(0));
  Hash256 top = *Hash256::FromHex("8000000000000000000000000000000000000000000000000000000000000000");
  CHECK(top.Bit(0));
  CHECK_FALSE(top.Bit(1));
  CHECK(zero < one);
  CHECK(one < top);

  CHECK_FALSE(Hash256::FromHex("").has_value());
  CHECK_FALSE(Hash256::FromHex(std::string(63, 'a')).has_value());
  CHECK_FALSE(Hash256::FromHex(std::string(62, 'a')).has_value());
  CHECK_FALSE(Hash256::FromHex(std::string(66, 'a')).has_value());
  CHECK_FALSE(Hash256::FromHex(std::string(63, 'a') + "g").has_value());
  CHECK_FALSE(Hash256::FromHex(std::string(63, 'a') + " ").has_value());
  CHECK(HexEncode(std::string("\x00\x01\xab\xff", 4)) == "0001abff");
  CHECK(HexDecode("0001ABff") == std::optional<Bytes>(std::string("\x00\x01\xab\xff", 4)));
  CHECK_FALSE(HexDecode("0").has_value());
  CHECK_FALSE(HexDecode("zz").has_value());

  Bytes be;
  PutBigEndian64(&be, 0x0102030405060708ull);
  CHECK(be == std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  CHECK(GetBigEndian64(be) == 0x0102030405060708ull);
}

}  // namespace kontor
