#include "ledger/bytes.h"

#include "ledger/check.h"
#include "ledger/siphash.h"

namespace kontor {

Hash256 Hash256::FromBytes(std::string_view bytes) {
  KONTOR_CHECK(bytes.size() == 32);
  Hash256 h;
  std::memcpy(h.data.data(), bytes.data(), 32);
  return h;
}

std::optional<Hash256> Hash256::FromHex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  if (!bytes || bytes->size() != 32) return std::nullopt;
  return FromBytes(*bytes);
}

std::string Hash256::hex() const { return HexEncode(view()); }

bool Hash256::IsZero() const {
  for (uint8_t b : data)
    if (b) return false;
  return true;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

static int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<Bytes> HexDecode(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  Bytes out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

void PutBigEndian64(Bytes* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xff));
}

uint64_t GetBigEndian64(std::string_view in) {
  KONTOR_CHECK(in.size() >= 8);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(in[i]);
  return v;
}

std::string DecimalString(__int128 v) {
  if (v == 0) return "0";
  bool negative = v < 0;
  std::string s;
  while (v != 0) {
    int digit = static_cast<int>(v % 10);
    s.insert(s.begin(), static_cast<char>('0' + (digit < 0 ? -digit : digit)));
    v /= 10;
  }
  return negative ? "-" + s : s;
}

size_t Hash256Hasher::operator()(const Hash256& h) const {
  return static_cast<size_t>(SipHash24(ProcessHashKey(), h.data.data(), h.data.size()));
}

std::string DecimalStringU128(unsigned __int128 v) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v != 0);
  return s;
}

void SecureWipe(void* data, size_t size) {
  volatile unsigned char* p = static_cast<volatile unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) p[i] = 0;
}

void SecureWipe(std::string* s) {
  s->resize(s->capacity());  // makes [size, capacity) addressable; no reallocation
  SecureWipe(s->data(), s->size());
  s->clear();
}

}  // namespace kontor
