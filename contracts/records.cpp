#include "contracts/records.h"

#include "ledger/accounts.h"
#include "ledger/bech32m.h"

namespace kontor::contracts {

void IndexAdd(StateDelta& s, Kind kind, std::string_view list_id, const std::string& id) {
  v1::IdList list = Load<v1::IdList>(s, kind, list_id).value_or(v1::IdList());
  for (const auto& existing : list.ids())
    if (existing == id) return;
  list.add_ids(id);
  Store(s, kind, list_id, list);
}

void IndexRemove(StateDelta& s, Kind kind, std::string_view list_id, const std::string& id) {
  auto list = Load<v1::IdList>(s, kind, list_id);
  if (!list) return;
  auto* ids = list->mutable_ids();
  for (int i = 0; i < ids->size(); ++i)
    if ((*ids)[i] == id) {
      ids->erase(ids->begin() + i);
      break;
    }
  Store(s, kind, list_id, *list);
}

Result CheckKeyField(std::string_view bytes, std::string_view what, bool optional) {
  if (optional && bytes.empty()) return Result::Ok();
  if (bytes.size() != 32) return {Code::kBadKey, std::string(what) + " must be a 32-byte key"};
  return Result::Ok();
}

bool ValidName(std::string_view key) {
  if (key.empty() || key.size() > kAttributeKeyBytesMax) return false;
  for (char c : key)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

Result CheckAttributes(const google::protobuf::RepeatedPtrField<v1::Attribute>& attributes, std::string_view what) {
  if (static_cast<size_t>(attributes.size()) > kAttributesMax)
    return {Code::kTooLarge, std::string(what) + ": more than 32 attributes"};
  std::string previous;
  for (const auto& a : attributes) {
    if (!ValidName(a.key()))
      return {Code::kBadField, std::string(what) + ": attribute key '" + a.key() + "' must be 1..32 of a-z 0-9 _"};
    if (!previous.empty() && a.key() <= previous)
      return {Code::kBadField, std::string(what) + ": attributes must be sorted by key without repeats ('" + a.key() + "')"};
    previous = a.key();
    if (a.value_case() == v1::Attribute::VALUE_NOT_SET)
      return {Code::kBadField, std::string(what) + ": attribute '" + a.key() + "' has no value"};
    if (a.value_case() == v1::Attribute::kText && a.text().size() > kAttributeTextBytesMax)
      return {Code::kTooLarge, std::string(what) + ": attribute '" + a.key() + "' is longer than 128 bytes"};
  }
  return Result::Ok();
}

Result CheckRequirement(const v1::AttestationRequirement& r) {
  if (static_cast<size_t>(r.auditors_size()) > kRequirementAuditorsMax)
    return {Code::kTooLarge, "attestation requirement: more than 16 auditors"};
  std::string previous;
  for (const auto& a : r.auditors()) {
    KONTOR_RETURN_IF_ERROR(CheckKeyField(a, "attestation requirement auditor"));
    if (!previous.empty() && a <= previous) return {Code::kBadField, "attestation requirement: auditors must be sorted and unique"};
    previous = a;
  }
  previous.clear();
  for (const auto& k : r.attribute_keys()) {
    if (!ValidName(k)) return {Code::kBadField, "attestation requirement: bad attribute key '" + k + "'"};
    if (!previous.empty() && k <= previous) return {Code::kBadField, "attestation requirement: keys must be sorted and unique"};
    previous = k;
  }
  if (r.auditors_size() == 0 && r.attribute_keys_size() > 0)
    return {Code::kBadField, "attestation requirement names attributes but no auditors"};
  return Result::Ok();
}

Result CheckRecipient(const StateView& view, const PublicKey& key, std::string_view what) {
  if (view.Get(AccountKey(key))) return Result::Ok();
  if (!IsValidPublicKey(key)) return {Code::kBadKey, std::string(what) + " " + key.hex() + " is not a point on secp256k1"};
  return Result::Ok();
}

static const v1::Attribute* FindAttribute(const google::protobuf::RepeatedPtrField<v1::Attribute>& list, std::string_view key) {
  for (const auto& a : list)
    if (a.key() == key) return &a;
  return nullptr;
}

static bool SameValue(const v1::Attribute& a, const v1::Attribute& b) {
  return a.value_case() == b.value_case() &&
         (a.value_case() == v1::Attribute::kText ? a.text() == b.text() : a.number() == b.number());
}

Result CheckAttestations(const StateView& view, const v1::AttestationRequirement& r, std::string_view provider, uint64_t now_ms) {
  if (r.auditors_size() == 0) return Result::Ok();
  auto profile = Load<v1::Provider>(view, Kind::kProvider, provider);
  std::string why;
  size_t satisfied = 0;
  for (const auto& auditor : r.auditors()) {
    std::string who = EncodeAddress(Hash256::FromBytes(auditor));
    auto att = Load<v1::Attestation>(view, Kind::kAttestation, AttestationId(auditor, provider));
    std::string problem;
    if (!att) problem = "no attestation by " + who;
    else if (att->revoked()) problem = "the attestation by " + who + " was revoked";
    else if (att->expires_at_ms() <= now_ms) problem = "the attestation by " + who + " expired";
    else {
      for (const auto& key : r.attribute_keys()) {
        const v1::Attribute* attested = FindAttribute(att->attested(), key);
        const v1::Attribute* current = profile ? FindAttribute(profile->attributes(), key) : nullptr;
        if (!attested) { problem = who + " did not attest '" + key + "'"; break; }
        if (!current || !SameValue(*attested, *current)) { problem = "'" + key + "' changed since " + who + " attested it"; break; }
      }
    }
    if (problem.empty()) {
      ++satisfied;
      if (r.any_of()) return Result::Ok();
    } else {
      if (!r.any_of()) return {Code::kNotAuthorized, "attestation requirement (all_of) not met: " + problem};
      why += (why.empty() ? "" : "; ") + problem;
    }
  }
  if (r.any_of() && satisfied == 0) return {Code::kNotAuthorized, "attestation requirement (any_of) not met: " + why};
  return Result::Ok();
}

Result CheckExternalField(const std::string& value, std::string_view what) {
  if (value.empty() || value.size() > kExternalFieldBytesMax)
    return {Code::kBadField, std::string(what) + " must be 1..128 bytes"};
  for (char c : value)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return {Code::kBadField, std::string(what) + " has a control character"};
  return Result::Ok();
}

void BumpReputation(StateDelta& s, const std::string& key, uint64_t (v1::Reputation::*get)() const,
                    void (v1::Reputation::*set)(uint64_t)) {
  v1::Reputation r = Load<v1::Reputation>(s, Kind::kReputation, key).value_or(v1::Reputation());
  (r.*set)((r.*get)() + 1);
  Store(s, Kind::kReputation, key, r);
}

}  // namespace kontor::contracts
