#include "ledger/canonical.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace kontor {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// ---- schema: what each field may look like on the wire ----------------------------------

enum class Kind : uint8_t { kUint32, kUint64, kEnum, kBool, kString, kBytes, kMessage };

struct MessageRule;

struct FieldRule {
  uint32_t number = 0;
  Kind kind = Kind::kUint64;
  bool repeated = false;
  bool presence = false;  // written even when default (oneof members, message fields)
  int oneof = -1;         // index of its (real) oneof, or -1
  const MessageRule* message = nullptr;
  std::string name;
};

struct MessageRule {
  std::string name;
  std::vector<FieldRule> fields;  // ascending number
  int oneofs = 0;

  const FieldRule* Find(uint32_t number) const {
    auto it = std::lower_bound(fields.begin(), fields.end(), number,
                               [](const FieldRule& f, uint32_t n) { return f.number < n; });
    return it != fields.end() && it->number == number ? &*it : nullptr;
  }
};

[[noreturn]] void SchemaError(const Descriptor* type, const char* what) {
  std::fprintf(stderr, "canonical: %s in %s; extend docs/protocol.md §3 and ledger/canonical.cpp first\n", what,
               type->full_name().c_str());
  std::abort();
}

Kind KindOf(const FieldDescriptor* field) {
  switch (field->type()) {
    case FieldDescriptor::TYPE_UINT32: return Kind::kUint32;
    case FieldDescriptor::TYPE_UINT64: return Kind::kUint64;
    case FieldDescriptor::TYPE_ENUM: return Kind::kEnum;
    case FieldDescriptor::TYPE_BOOL: return Kind::kBool;
    case FieldDescriptor::TYPE_STRING: return Kind::kString;
    case FieldDescriptor::TYPE_BYTES: return Kind::kBytes;
    case FieldDescriptor::TYPE_MESSAGE:
      // A map field is a repeated message on the wire, but its canonical order (by key) is
      // not defined here; no kontor.v1 message has one.
      if (field->is_map()) SchemaError(field->containing_type(), "a map field");
      return Kind::kMessage;
    default:
      // Signed, fixed-width and floating-point types and groups are not used by kontor.v1; a
      // .proto change that adds one must extend docs/protocol.md §3 and this check first.
      SchemaError(field->containing_type(), "a field type this check does not support");
  }
}

constexpr int kOneofsMax = 8;

using RuleMap = std::unordered_map<const Descriptor*, const MessageRule*>;

// Published rule maps are immutable; a miss builds a larger copy under the lock. Rules and
// maps live for the process (a few dozen message types).
std::atomic<const RuleMap*> g_rules{new RuleMap};
std::mutex g_rules_mu;
// Maps replaced by larger ones: readers may still hold them, so they are kept (reachable).
std::vector<const RuleMap*>* g_retired = new std::vector<const RuleMap*>;

void AddRules(const Descriptor* type, RuleMap* map) {
  if (map->count(type)) return;
  auto* rule = new MessageRule;
  rule->name = type->full_name();
  (*map)[type] = rule;
  rule->oneofs = type->real_oneof_decl_count();
  if (rule->oneofs > kOneofsMax) SchemaError(type, "more than 8 oneofs");
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    FieldRule fr;
    fr.number = static_cast<uint32_t>(f->number());
    fr.kind = KindOf(f);
    fr.repeated = f->is_repeated();
    // Packed repeated numbers would need rules of their own (one record, never empty); no
    // kontor.v1 message has one, so they are refused rather than checked half-way.
    if (fr.repeated && fr.kind != Kind::kString && fr.kind != Kind::kBytes && fr.kind != Kind::kMessage)
      SchemaError(type, "a repeated number field");
    fr.presence = !fr.repeated && f->has_presence();
    fr.oneof = f->real_containing_oneof() ? f->real_containing_oneof()->index() : -1;
    fr.name = f->name();
    if (fr.kind == Kind::kMessage) {
      AddRules(f->message_type(), map);
      fr.message = map->at(f->message_type());
    }
    rule->fields.push_back(std::move(fr));
  }
  std::sort(rule->fields.begin(), rule->fields.end(),
            [](const FieldRule& a, const FieldRule& b) { return a.number < b.number; });
}

const MessageRule& RuleFor(const Descriptor* type) {
  const RuleMap* map = g_rules.load(std::memory_order_acquire);
  auto it = map->find(type);
  if (it != map->end()) return *it->second;
  std::lock_guard<std::mutex> lock(g_rules_mu);
  map = g_rules.load(std::memory_order_acquire);
  if (!map->count(type)) {
    auto* bigger = new RuleMap(*map);
    AddRules(type, bigger);
    g_retired->push_back(map);  // a few per process at most
    g_rules.store(bigger, std::memory_order_release);
    map = bigger;
  }
  return *map->at(type);
}

// ---- the byte walk -----------------------------------------------------------------------

bool ValidUtf8(std::string_view s) {
  // RFC 3629: no overlong forms, no surrogates (U+D800..DFFF), nothing above U+10FFFF.
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) { ++i; continue; }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return false;
    i += len;
  }
  return true;
}

class Walker {
 public:
  Walker(std::string_view bytes, std::string_view what) : all_(bytes), what_(what) {}

  bool Message(const MessageRule& rule, size_t begin, size_t end, int depth) {
    depth_ = depth;
    if (depth > kCanonicalDepthMax) {
      depth_ = kCanonicalDepthMax;
      return Malformed(begin, nullptr, "nested deeper than " + std::to_string(kCanonicalDepthMax) + " messages");
    }
    size_t pos = begin;
    uint32_t last_number = 0;
    uint32_t oneof_seen[kOneofsMax] = {};
    while (pos < end) {
      const size_t at = pos;
      uint64_t key;
      if (!Varint(&pos, end, nullptr, "field key", &key)) return false;
      const uint64_t number64 = key >> 3;
      const unsigned wire = static_cast<unsigned>(key & 7);
      if (wire == 3 || wire == 4 || wire == 6 || wire == 7)
        return Malformed(at, nullptr, "wire type " + std::to_string(wire) + " (groups and reserved types are not protobuf fields here)");
      if (number64 == 0 || number64 > 0x1FFFFFFF) return Malformed(at, nullptr, "field number " + std::to_string(number64) + " is out of range");
      const auto number = static_cast<uint32_t>(number64);
      const FieldRule* field = rule.Find(number);
      if (!field) {
        NonCanonical(at, nullptr, "field " + std::to_string(number) + " is not a field of " + rule.name);
        if (!Skip(wire, &pos, end, at)) return false;
        continue;
      }
      const FieldRule* fpath = field;
      if (number < last_number)
        NonCanonical(at, fpath, "field " + std::to_string(number) + " comes after field " + std::to_string(last_number) + " (fields must be in ascending order)");
      else if (number == last_number && !field->repeated)
        NonCanonical(at, fpath, "is written more than once");
      last_number = std::max(last_number, number);
      if (field->oneof >= 0) {
        uint32_t& seen = oneof_seen[field->oneof];
        if (seen != 0 && seen != number)
          NonCanonical(at, fpath, "a second member of a oneof is set (field " + std::to_string(seen) + " already is)");
        seen = number;
      }
      const unsigned want = IsNumber(field->kind) ? 0u : 2u;
      if (wire != want) {
        // protobuf keeps such a field as an unknown one: only its wire framing must hold.
        NonCanonical(at, fpath, "has wire type " + std::to_string(wire) + ", expected " + std::to_string(want));
        if (!Skip(wire, &pos, end, at)) return false;
        continue;
      }
      if (wire == 0) {
        uint64_t value;
        if (!Varint(&pos, end, fpath, "value", &value)) return false;
        Number(*field, value, at, fpath, field->presence);
        continue;
      }
      uint64_t length;
      if (!Varint(&pos, end, fpath, "length", &length)) return false;
      if (length > end - pos)
        return Malformed(at, fpath, "length " + std::to_string(length) + " runs past the end (" + std::to_string(end - pos) + " bytes left)");
      const size_t body = pos;
      pos += static_cast<size_t>(length);
      if (length == 0 && !field->presence && !field->repeated)
        NonCanonical(at, fpath, "is written with its default (empty) value");
      switch (field->kind) {
        case Kind::kString:
          if (!ValidUtf8(all_.substr(body, static_cast<size_t>(length))))
            return Malformed(body, fpath, "is not valid UTF-8");
          break;
        case Kind::kMessage:
          stack_[depth] = field;
          if (!Message(*field->message, body, pos, depth + 1)) return false;
          depth_ = depth;
          break;
        default: break;  // bytes: any content
      }
    }
    return true;
  }

 private:
  static bool IsNumber(Kind k) { return k == Kind::kUint32 || k == Kind::kUint64 || k == Kind::kEnum || k == Kind::kBool; }

  void Number(const FieldRule& field, uint64_t value, size_t at, const FieldRule* fpath, bool zero_ok) {
    if (value == 0 && !zero_ok) NonCanonical(at, fpath, "is written with its default value 0");
    if (field.kind == Kind::kUint32 && value > 0xFFFFFFFFu)
      NonCanonical(at, fpath, "value " + std::to_string(value) + " does not fit uint32");
    if (field.kind == Kind::kEnum && value > 0x7FFFFFFFu)
      NonCanonical(at, fpath, "enum value " + std::to_string(value) + " is above 2^31-1");
    if (field.kind == Kind::kBool && value > 1) NonCanonical(at, fpath, "bool value " + std::to_string(value) + " is not 0 or 1");
  }

  // Steps over a field the schema does not expect here, by its wire framing alone.
  bool Skip(unsigned wire, size_t* pos, size_t end, size_t at) {
    uint64_t n;
    switch (wire) {
      case 0: return Varint(pos, end, nullptr, "value", &n);
      case 1: n = 8; break;
      case 5: n = 4; break;
      default: if (!Varint(pos, end, nullptr, "length", &n)) return false; break;
    }
    if (n > end - *pos) return Malformed(at, nullptr, "field runs past the end (" + std::to_string(end - *pos) + " bytes left)");
    *pos += static_cast<size_t>(n);
    return true;
  }

  // A little-endian base-128 varint of at most 10 bytes (64 bits), in its shortest form.
  bool Varint(size_t* pos, size_t end, const FieldRule* path, const char* what, uint64_t* out) {
    const size_t at = *pos;
    uint64_t value = 0;
    for (int i = 0; i < 10; ++i) {
      if (*pos >= end) return Malformed(at, path, std::string(what) + " varint is truncated");
      const auto b = static_cast<uint8_t>(all_[(*pos)++]);
      if (i == 9 && b > 1) return Malformed(at, path, std::string(what) + " varint is above 2^64-1");
      value |= static_cast<uint64_t>(b & 0x7F) << (7 * i);
      if (!(b & 0x80)) {
        if (b == 0 && i > 0) NonCanonical(at, path, std::string(what) + " varint is not in its shortest form");
        *out = value;
        return true;
      }
    }
    return Malformed(at, path, std::string(what) + " varint is longer than 10 bytes");
  }

  // Bytes that protobuf could not parse end the walk (malformed). A canonical rule broken is
  // remembered (the first one) and the walk goes on, so that bytes both malformed and not
  // canonical are reported malformed, as a protobuf parser would.
  // The walk returns bool, not Result, so that the bytes of a valid message build no Result.
  bool Malformed(size_t at, const FieldRule* field, const std::string& text) {
    error_ = Fail(Code::kMalformed, at, field, text);
    return false;
  }

  void NonCanonical(size_t at, const FieldRule* field, const std::string& text) {
    if (first_non_canonical_.ok()) first_non_canonical_ = Fail(Code::kNonCanonical, at, field, text);
  }

 public:
  Result Verdict(bool walked) const { return walked ? first_non_canonical_ : error_; }

 private:
  // `field` is the field being read (nullptr: the message itself); the path to it is built
  // only here, so the walk allocates nothing on the way.
  Result Fail(Code code, size_t at, const FieldRule* field, const std::string& text) const {
    std::string path;
    for (int i = 0; i < depth_; ++i) path += (path.empty() ? "" : ".") + stack_[i]->name;
    if (field) path += (path.empty() ? "" : ".") + field->name;
    std::string msg(what_);
    msg += code == Code::kMalformed ? " is malformed" : " is not canonically encoded";
    msg += " at byte " + std::to_string(at) + ": ";
    if (!path.empty()) msg += path + " ";
    msg += text;
    return {code, msg};
  }

  std::string_view all_;
  std::string_view what_;
  const FieldRule* stack_[kCanonicalDepthMax + 1] = {};  // the message fields entered, outermost first
  int depth_ = 0;
  Result first_non_canonical_ = Result::Ok();
  Result error_ = Result::Ok();
};

}  // namespace

Result CheckCanonical(std::string_view bytes, const Descriptor* type, std::string_view what) {
  Walker walker(bytes, what);
  return walker.Verdict(walker.Message(RuleFor(type), 0, bytes.size(), 0));
}

}  // namespace kontor
