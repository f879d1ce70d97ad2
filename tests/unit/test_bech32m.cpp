// Bech32m (BIP-350) vectors and Kontor addresses.
#include <catch2/catch.hpp>

#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ledger/bech32m.h"
#include "ledger/keys.h"
#include "ledger/result.h"

namespace kontor {
namespace {

nlohmann::json LoadVectors() {
  std::ifstream in(std::string(KONTOR_TEST_DATA) + "/bip350-bech32m.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::vector<uint8_t> To5(const PublicKey& key) {
  std::vector<uint8_t> out;
  REQUIRE(ConvertBits({key.data.begin(), key.data.end()}, 8, 5, true, &out));
  return out;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return Lower(haystack).find(Lower(needle)) != std::string::npos;
}

}  // namespace

TEST_CASE("BIP-350 valid bech32m strings decode and re-encode", "[bech32m]") {
  auto vectors = LoadVectors();
  const auto& valid = vectors.at("valid");
  REQUIRE(valid.size() == 7);
  for (const auto& v : valid) {
    const std::string text = v.get<std::string>();
    INFO("valid vector '" << text << "'");
    Bech32Decoded decoded;
    Result r = Bech32mDecode(text, &decoded);
    REQUIRE(r.ok());
    CHECK(decoded.hrp == Lower(text.substr(0, text.rfind('1'))));
    for (uint8_t d : decoded.data) CHECK(d < 32);
    CHECK(decoded.data.size() == text.size() - text.rfind('1') - 1 - 6);
    CHECK(Bech32mEncode(decoded.hrp, decoded.data) == Lower(text));
    // The all-upper-case form is valid too (only mixed case is not).
    Bech32Decoded upper;
    CHECK(Bech32mDecode(Upper(text), &upper).ok());
    CHECK(upper.hrp == decoded.hrp);
    CHECK(upper.data == decoded.data);
  }
  // Concrete contents of a few vectors.
  Bech32Decoded d;
  REQUIRE(Bech32mDecode("abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx", &d).ok());
  CHECK(d.hrp == "abcdef");
  std::vector<uint8_t> descending;
  for (int i = 31; i >= 0; --i) descending.push_back(static_cast<uint8_t>(i));
  CHECK(d.data == descending);
  REQUIRE(Bech32mDecode("a1lqfn3a", &d).ok());
  CHECK(d.hrp == "a");
  CHECK(d.data.empty());
  REQUIRE(Bech32mDecode("11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8", &d).ok());
  CHECK(d.hrp == "1");
  CHECK(d.data == std::vector<uint8_t>(82, 31));
  REQUIRE(Bech32mDecode("?1v759aa", &d).ok());
  CHECK(d.hrp == "?");
  CHECK(d.data.empty());
}

TEST_CASE("BIP-350 invalid strings are rejected with kBadAddress", "[bech32m]") {
  auto vectors = LoadVectors();
  const auto& invalid = vectors.at("invalid");
  REQUIRE(invalid.size() == 15);
  for (const auto& v : invalid) {
    const std::string text = v.get<std::string>();
    INFO("invalid vector '" << text << "'");
    Bech32Decoded decoded;
    decoded.hrp = "untouched";
    Result r = Bech32mDecode(text, &decoded);
    CHECK(r.code() == Code::kBadAddress);
    CHECK_FALSE(r.message().empty());
    CHECK(decoded.hrp == "untouched");
  }
  // The last one is valid bech32 (BIP-173) but not bech32m: it must fail on the checksum.
  Bech32Decoded decoded;
  Result r = Bech32mDecode(invalid.back().get<std::string>(), &decoded);
  CHECK(r.code() == Code::kBadAddress);
  CHECK(Contains(r.message(), "checksum"));

  // Messages name what is wrong.
  CHECK(Contains(Bech32mDecode("qyrz8wqd2c9m", &decoded).message(), "separator"));
  CHECK(Contains(Bech32mDecode("1qyrz8wqd2c9m", &decoded).message(), "human-readable"));
  CHECK(Contains(Bech32mDecode("M1VUXWEZ", &decoded).message(), "checksum"));
  CHECK(Contains(Bech32mDecode("lt1igcx5c0", &decoded).message(), "alphabet"));
  CHECK(Contains(Bech32mDecode("in1muywd", &decoded).message(), "short"));
  CHECK(Contains(Bech32mDecode(" 1xj0phk", &decoded).message(), "character"));
  CHECK(Contains(Bech32mDecode(invalid[3].get<std::string>(), &decoded).message(), "90"));
  CHECK(Contains(Bech32mDecode("A1lqfn3a", &decoded).message(), "case"));
}

TEST_CASE("ConvertBits regroups and checks padding", "[bech32m]") {
  std::vector<uint8_t> out;
  REQUIRE(ConvertBits({0xff}, 8, 5, true, &out));
  CHECK(out == std::vector<uint8_t>{31, 28});
  std::vector<uint8_t> back;
  REQUIRE(ConvertBits(out, 5, 8, false, &back));
  CHECK(back == std::vector<uint8_t>{0xff});
  // Non-zero padding bits are refused without padding.
  back.clear();
  CHECK_FALSE(ConvertBits({31, 29}, 5, 8, false, &back));
  // A whole leftover group is refused.
  back.clear();
  CHECK_FALSE(ConvertBits({31, 28, 0}, 5, 8, false, &back));
  // An input symbol too wide is refused.
  back.clear();
  CHECK_FALSE(ConvertBits({32}, 5, 8, false, &back));
}

TEST_CASE("Addresses: known key, round trip for random keys", "[bech32m][address]") {
  // Computed with an independent Python implementation of BIP-350: the key is G's x coordinate.
  PublicKey g = *Hash256::FromHex("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
  CHECK(EncodeAddress(g) == "kx10xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqc3vlx9");
  PublicKey decoded_g;
  REQUIRE(DecodeAddress("kx10xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqc3vlx9", &decoded_g).ok());
  CHECK(decoded_g == g);

  SeededRandom random(2024);
  for (int i = 0; i < 100; ++i) {
    PrivateKey key = GeneratePrivateKey(random);
    std::string address = EncodeAddress(key.public_key());
    INFO("address " << address);
    CHECK(address.rfind("kx1", 0) == 0);
    CHECK(address.size() == 61);  // "kx" + "1" + 52 symbols + 6 checksum
    CHECK(address == Lower(address));
    PublicKey back;
    REQUIRE(DecodeAddress(address, &back).ok());
    CHECK(back == key.public_key());
    PublicKey back_upper;
    REQUIRE(DecodeAddress(Upper(address), &back_upper).ok());
    CHECK(back_upper == key.public_key());
  }
}

TEST_CASE("Addresses: each kind of damage fails with a telling message", "[bech32m][address]") {
  SeededRandom random(99);
  PrivateKey key = GeneratePrivateKey(random);
  const std::string address = EncodeAddress(key.public_key());
  PublicKey out;
  const PublicKey untouched = out;

  SECTION("wrong prefix") {
    std::string other = Bech32mEncode("kz", To5(key.public_key()));
    Result r = DecodeAddress(other, &out);
    CHECK(r.code() == Code::kBadAddress);
    CHECK(Contains(r.message(), "prefix"));
    Result r2 = DecodeAddress(Bech32mEncode("bc", To5(key.public_key())), &out);
    CHECK(r2.code() == Code::kBadAddress);
    CHECK(Contains(r2.message(), "prefix"));
  }
  SECTION("every flipped character breaks the checksum") {
    const std::string charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    for (size_t pos = 3; pos < address.size(); ++pos) {
      std::string bad = address;
      size_t idx = charset.find(bad[pos]);
      REQUIRE(idx != std::string::npos);
      bad[pos] = charset[(idx + 1 + pos % 31) % 32];
      REQUIRE(bad != address);
      INFO("flipped position " << pos << ": " << bad);
      Result r = DecodeAddress(bad, &out);
      CHECK(r.code() == Code::kBadAddress);
      CHECK(Contains(r.message(), "checksum"));
    }
    // A changed prefix character is caught by the checksum as well.
    std::string bad = address;
    bad[1] = 'y';
    Result r = DecodeAddress(bad, &out);
    CHECK(r.code() == Code::kBadAddress);
    CHECK(Contains(r.message(), "checksum"));
  }
  SECTION("mixed case") {
    std::string bad = address;
    bad[10] = static_cast<char>(std::toupper(static_cast<unsigned char>(bad[10])));
    if (bad == address) bad[0] = 'K';
    Result r = DecodeAddress(bad, &out);
    CHECK(r.code() == Code::kBadAddress);
    CHECK(Contains(r.message(), "case"));
  }
  SECTION("truncated") {
    Result r = DecodeAddress(address.substr(0, address.size() - 1), &out);
    CHECK(r.code() == Code::kBadAddress);
    CHECK(Contains(r.message(), "checksum"));
    Result r2 = DecodeAddress(address.substr(0, 7), &out);
    CHECK(r2.code() == Code::kBadAddress);
    CHECK(Contains(r2.message(), "checksum"));
    Result r3 = DecodeAddress("kx1abc", &out);
    CHECK(r3.code() == Code::kBadAddress);
    CHECK(Contains(r3.message(), "short"));
    Result r4 = DecodeAddress("", &out);
    CHECK(r4.code() == Code::kBadAddress);
    // A valid bech32m string with a payload one symbol short of a key.
    std::vector<uint8_t> data5 = To5(key.public_key());
    data5.pop_back();
    Result r5 = DecodeAddress(Bech32mEncode("kx", data5), &out);
    CHECK(r5.code() == Code::kBadAddress);
    CHECK(Contains(r5.message(), "32-byte"));
    // ...or one symbol too long.
    data5 = To5(key.public_key());
    data5.push_back(0);
    Result r6 = DecodeAddress(Bech32mEncode("kx", data5), &out);
    CHECK(r6.code() == Code::kBadAddress);
    CHECK(Contains(r6.message(), "32-byte"));
  }
  SECTION("non-zero padding bits") {
    std::vector<uint8_t> data5 = To5(key.public_key());
    data5.back() |= 1;  // 52 symbols carry 260 bits: the last 4 are padding and must be zero
    Result r = DecodeAddress(Bech32mEncode("kx", data5), &out);
    CHECK(r.code() == Code::kBadAddress);
  }
  SECTION("payload that is not a curve point") {
    // x = 5 and x = 0 have no point on secp256k1 (5^3+7 and 7 are non-residues mod p), and
    // x = p is not a field element at all.
    for (const char* hex : {"0000000000000000000000000000000000000000000000000000000000000005",
                            "0000000000000000000000000000000000000000000000000000000000000000",
                            "fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f",
                            "eefdea4cdb677750a420fee807eacf21eb9898ae79b9768766e4faa04a2d4a34"}) {
      INFO("x = " << hex);
      PublicKey not_a_point = *Hash256::FromHex(hex);
      REQUIRE_FALSE(IsValidPublicKey(not_a_point));
      std::string bad = EncodeAddress(not_a_point);
      CHECK(bad.rfind("kx1", 0) == 0);
      Result r = DecodeAddress(bad, &out);
      CHECK_FALSE(r.ok());
      CHECK(r.code() == Code::kBadKey);
      CHECK((Contains(r.message(), "point") || Contains(r.message(), "curve")));
    }
    CHECK(EncodeAddress(*Hash256::FromHex(std::string(64, '0'))) ==
          "kx1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqm8c583");
  }
  // A failed decode leaves the output alone.
  CHECK(out == untouched);
}

}  // namespace kontor
