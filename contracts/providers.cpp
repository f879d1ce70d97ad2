// Providers publish a typed profile; auditors attest parts of it, with an expiry, and may revoke.
#include "contracts/families.h"
#include "contracts/records.h"
#include "ledger/bech32m.h"

namespace kontor::contracts {

Result CheckProviderRegister(const DecodedTx& tx) {
  const auto& p = tx.body.provider_register();
  KONTOR_RETURN_IF_ERROR(CheckAttributes(p.attributes(), "provider profile"));
  if (p.endpoint().size() > kEndpointBytesMax) return {Code::kTooLarge, "provider endpoint is longer than 256 bytes"};
  if (tx.signers.size() != 1) return {Code::kBadField, "a provider registers with exactly one signer"};
  return Result::Ok();
}

Result ApplyProviderRegister(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  const auto& p = tx.body.provider_register();
  std::string id = tx.fee_payer().bytes();
  auto existing = Load<v1::Provider>(s, Kind::kProvider, id);
  v1::Provider provider;
  provider.set_key(id);
  *provider.mutable_attributes() = p.attributes();
  provider.set_endpoint(p.endpoint());
  provider.set_registered_at_ms(existing ? existing->registered_at_ms() : env.time_ms);
  provider.set_updated_at_ms(env.time_ms);
  Store(s, Kind::kProvider, id, provider);
  return Result::Ok();
}

Result CheckAttestationCreate(const DecodedTx& tx) {
  const auto& a = tx.body.attestation_create();
  KONTOR_RETURN_IF_ERROR(CheckKeyField(a.provider(), "attested provider"));
  if (a.attribute_keys_size() == 0) return {Code::kBadField, "an attestation names at least one attribute"};
  for (int i = 0; i < a.attribute_keys_size(); ++i) {
    if (!ValidName(a.attribute_keys(i))) return {Code::kBadField, "attested attribute key '" + a.attribute_keys(i) + "' is not a valid key"};
    if (i > 0 && a.attribute_keys(i) <= a.attribute_keys(i - 1)) return {Code::kBadField, "attested attribute keys must be sorted and unique"};
  }
  if (a.expires_at_ms() == 0) return {Code::kBadField, "an attestation needs an expiry time"};
  return Result::Ok();
}

Result ApplyAttestationCreate(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  const auto& a = tx.body.attestation_create();
  auto provider = Load<v1::Provider>(s, Kind::kProvider, a.provider());
  if (!provider) return {Code::kNotFound, "provider " + EncodeAddress(Hash256::FromBytes(a.provider())) + " is not registered"};
  if (a.expires_at_ms() <= env.time_ms) return {Code::kTooLate, "the attestation would already be expired"};
  v1::Attestation att;
  att.set_auditor(tx.fee_payer().bytes());
  att.set_provider(a.provider());
  for (const auto& key : a.attribute_keys()) {
    const v1::Attribute* found = nullptr;
    for (const auto& attr : provider->attributes())
      if (attr.key() == key) found = &attr;
    if (!found) return {Code::kNotFound, "the provider's profile has no attribute '" + key + "'"};
    *att.add_attested() = *found;
  }
  att.set_expires_at_ms(a.expires_at_ms());
  att.set_created_at_ms(env.time_ms);
  Store(s, Kind::kAttestation, AttestationId(att.auditor(), a.provider()), att);
  return Result::Ok();
}

Result CheckAttestationRevoke(const DecodedTx& tx) { return CheckKeyField(tx.body.attestation_revoke().provider(), "provider"); }

Result ApplyAttestationRevoke(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  std::string id = AttestationId(tx.fee_payer().bytes(), tx.body.attestation_revoke().provider());
  auto att = Load<v1::Attestation>(s, Kind::kAttestation, id);
  if (!att) return {Code::kNotFound, "the signer has no attestation of this provider to revoke"};
  if (att->revoked()) return {Code::kWrongState, "the attestation is already revoked"};
  att->set_revoked(true);
  Store(s, Kind::kAttestation, id, *att);
  return Result::Ok();
}

}  // namespace kontor::contracts
