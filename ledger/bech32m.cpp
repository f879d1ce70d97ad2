#include "ledger/bech32m.h"

#include "ledger/check.h"

namespace kontor {
namespace {

constexpr char kCharset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
constexpr uint32_t kBech32mConst = 0x2bc830a3;
constexpr size_t kMaxLength = 90;

uint32_t PolyMod(const std::vector<uint8_t>& values) {
  uint32_t chk = 1;
  for (uint8_t v : values) {
    uint8_t top = chk >> 25;
    chk = (chk & 0x1ffffff) << 5 ^ v;
    static constexpr uint32_t kGen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
    for (int i = 0; i < 5; ++i)
      if ((top >> i) & 1) chk ^= kGen[i];
  }
  return chk;
}

std::vector<uint8_t> ExpandHrp(std::string_view hrp) {
  std::vector<uint8_t> out;
  out.reserve(hrp.size() * 2 + 1);
  for (char c : hrp) out.push_back(static_cast<uint8_t>(c) >> 5);
  out.push_back(0);
  for (char c : hrp) out.push_back(static_cast<uint8_t>(c) & 31);
  return out;
}

int CharsetIndex(char c) {
  for (int i = 0; i < 32; ++i)
    if (kCharset[i] == c) return i;
  return -1;
}

}  // namespace

std::string Bech32mEncode(std::string_view hrp, const std::vector<uint8_t>& data5) {
  KONTOR_CHECK(!hrp.empty() && hrp.size() <= 83);
  std::vector<uint8_t> values = ExpandHrp(hrp);
  values.insert(values.end(), data5.begin(), data5.end());
  values.insert(values.end(), 6, 0);
  uint32_t mod = PolyMod(values) ^ kBech32mConst;
  std::string out(hrp);
  out.push_back('1');
  for (uint8_t v : data5) {
    KONTOR_CHECK(v < 32);
    out.push_back(kCharset[v]);
  }
  for (int i = 0; i < 6; ++i) out.push_back(kCharset[(mod >> (5 * (5 - i))) & 31]);
  return out;
}

Result Bech32mDecode(std::string_view text, Bech32Decoded* out) {
  if (text.size() > kMaxLength)
    return {Code::kBadAddress, "bech32m string is " + std::to_string(text.size()) + " characters long; at most 90 allowed"};
  bool lower = false, upper = false;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 33 || c > 126)
      return {Code::kBadAddress, "bech32m string has an invalid character (byte " + std::to_string(c) +
                                     ") at position " + std::to_string(i)};
    if (c >= 'a' && c <= 'z') lower = true;
    if (c >= 'A' && c <= 'Z') upper = true;
  }
  if (lower && upper) return {Code::kBadAddress, "bech32m string mixes upper and lower case"};
  size_t sep = text.rfind('1');
  if (sep == std::string_view::npos) return {Code::kBadAddress, "bech32m string has no separator '1'"};
  if (sep == 0) return {Code::kBadAddress, "bech32m string has an empty human-readable part"};
  if (sep + 7 > text.size())
    return {Code::kBadAddress, "bech32m string is too short after the separator (checksum needs 6 characters)"};
  std::string hrp;
  for (size_t i = 0; i < sep; ++i) hrp.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(text[i]))));
  std::vector<uint8_t> data;
  for (size_t i = sep + 1; i < text.size(); ++i) {
    int v = CharsetIndex(static_cast<char>(std::tolower(static_cast<unsigned char>(text[i]))));
    if (v < 0)
      return {Code::kBadAddress, std::string("bech32m string has character '") + text[i] +
                                     "' at position " + std::to_string(i) + ", which is not in the bech32 alphabet"};
    data.push_back(static_cast<uint8_t>(v));
  }
  std::vector<uint8_t> values = ExpandHrp(hrp);
  values.insert(values.end(), data.begin(), data.end());
  if (PolyMod(values) != kBech32mConst)
    return {Code::kBadAddress, "bech32m checksum does not match (a character is mistyped, or this is not a bech32m string)"};
  data.resize(data.size() - 6);
  out->hrp = std::move(hrp);
  out->data = std::move(data);
  return Result::Ok();
}

bool ConvertBits(const std::vector<uint8_t>& in, int from_bits, int to_bits, bool pad, std::vector<uint8_t>* out) {
  uint32_t acc = 0;
  int bits = 0;
  const uint32_t max_value = (1u << to_bits) - 1;
  for (uint8_t v : in) {
    if (v >> from_bits) return false;
    acc = acc << from_bits | v;
    bits += from_bits;
    while (bits >= to_bits) {
      bits -= to_bits;
      out->push_back(static_cast<uint8_t>((acc >> bits) & max_value));
    }
  }
  if (pad) {
    if (bits) out->push_back(static_cast<uint8_t>((acc << (to_bits - bits)) & max_value));
  } else if (bits >= from_bits || ((acc << (to_bits - bits)) & max_value)) {
    return false;
  }
  return true;
}

std::string EncodeAddress(const PublicKey& key) {
  std::vector<uint8_t> data5;
  ConvertBits({key.data.begin(), key.data.end()}, 8, 5, true, &data5);
  return Bech32mEncode(kAddressPrefix, data5);
}

Result DecodeAddress(std::string_view address, PublicKey* key) {
  Bech32Decoded decoded;
  Result r = Bech32mDecode(address, &decoded);
  if (!r.ok()) return {r.code(), "address '" + std::string(address) + "': " + r.message()};
  if (decoded.hrp != kAddressPrefix)
    return {Code::kBadAddress, "address '" + std::string(address) + "' has prefix '" + decoded.hrp + "', expected 'kx'"};
  std::vector<uint8_t> bytes;
  if (!ConvertBits(decoded.data, 5, 8, false, &bytes) || bytes.size() != 32)
    return {Code::kBadAddress, "address '" + std::string(address) + "' does not hold a 32-byte key"};
  PublicKey k;
  std::copy(bytes.begin(), bytes.end(), k.data.begin());
  if (!IsValidPublicKey(k))
    return {Code::kBadKey, "address '" + std::string(address) + "' holds a key that is not a point on secp256k1"};
  *key = k;
  return Result::Ok();
}

std::string DisplayAddress(std::string_view key_bytes) {
  if (key_bytes.size() != 32) return "invalid key " + (key_bytes.empty() ? std::string("(empty)") : HexEncode(key_bytes));
  return EncodeAddress(Hash256::FromBytes(key_bytes));
}

}  // namespace kontor
