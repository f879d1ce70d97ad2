// The application's record kinds (state keys: docs/protocol.md "State"), typed load/store, and
// helpers shared by the transaction families.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "kontor/v1/state.pb.h"
#include "ledger/application.h"
#include "ledger/codec.h"

namespace kontor::contracts {

enum class Kind : uint8_t {
  kProvider = 16,     // id: provider key (32 bytes)
  kAttestation = 17,  // id: auditor key || provider key
  kOffer = 18,        // id: offer id (txid of OfferPost)
  kContract = 19,     // id: contract id (txid that formed it)
  kAgenda = 20,       // id: "agenda"
  kExternalTx = 21,   // id: network || 0x00 || external tx id
  kOfferIndex = 22,   // id: "open" -> IdList of open offers
  kPartyIndex = 23,   // id: a key -> IdList of its contracts
  kReputation = 24,   // id: a key -> Reputation
  kInvoice = 25,      // id: invoice id (txid of InvoiceIssue)
  kContractInvoices = 26,  // id: contract id -> IdList of its invoices, in issue order
  kPaymentExternalTx = 27,  // id: network || 0x00 || external tx id -> ExternalTx (payment receipts)
};

inline constexpr std::string_view kOpenOffersId = "open";
// Adds (or removes) `id` in the IdList record of (kind, list_id).
void IndexAdd(StateDelta& s, Kind kind, std::string_view list_id, const std::string& id);
void IndexRemove(StateDelta& s, Kind kind, std::string_view list_id, const std::string& id);

template <typename Message>
std::optional<Message> Load(const StateView& view, Kind kind, std::string_view id) {
  auto bytes = view.Get(StateKey(static_cast<uint8_t>(kind), id));
  if (!bytes) return std::nullopt;
  Message m;
  if (!m.ParseFromString(*bytes)) DamagedRecord(static_cast<uint8_t>(kind), id);  // stops the node
  return m;
}

template <typename Message>
void Store(StateDelta& delta, Kind kind, std::string_view id, const Message& m) {
  delta.PutRecord(static_cast<uint8_t>(kind), id, CanonicalBytes(m));
}

inline std::string AttestationId(std::string_view auditor, std::string_view provider) {
  return std::string(auditor) + std::string(provider);
}
inline std::string ExternalTxId(std::string_view network, std::string_view external_txid) {
  return std::string(network) + std::string(1, '\0') + std::string(external_txid);
}
inline constexpr std::string_view kAgendaId = "agenda";

// Shape checks shared by several payloads.
Result CheckKeyField(std::string_view bytes, std::string_view what, bool optional = false);
// Attribute keys, metered names: 1..32 of a-z 0-9 _.
bool ValidName(std::string_view name);
Result CheckAttributes(const google::protobuf::RepeatedPtrField<v1::Attribute>& attributes, std::string_view what);
Result CheckRequirement(const v1::AttestationRequirement& requirement);
// A field naming something on an external chain: 1..128 bytes, no control characters.
Result CheckExternalField(const std::string& value, std::string_view what);
// A new account must be a key someone can sign for: curve-checked unless it exists already.
Result CheckRecipient(const StateView& view, const PublicKey& key, std::string_view what);
// Is `requirement` met for `provider` at `now_ms`? kNotAuthorized names the missing attestation.
Result CheckAttestations(const StateView& view, const v1::AttestationRequirement& requirement, std::string_view provider,
                         uint64_t now_ms);

inline constexpr size_t kAttributesMax = 32;
inline constexpr size_t kAttributeKeyBytesMax = 32;
inline constexpr size_t kAttributeTextBytesMax = 128;
inline constexpr size_t kEndpointBytesMax = 256;
inline constexpr size_t kRequirementAuditorsMax = 16;
inline constexpr size_t kMeteredPricesMax = 8;
inline constexpr size_t kExternalFieldBytesMax = 128;
// A contract's escrow keeps one entry per depositor, at most 64. Three of them are kept for the
// contract's parties (renter, provider, broker): a depositor who is none of them opens an entry
// only while fewer than 61 exist, so a party can always top up (docs/protocol.md §15.6).
inline constexpr size_t kEscrowDepositsMax = 64;
inline constexpr size_t kEscrowPartySlots = 3;
inline constexpr size_t kEscrowThirdPartyDepositsMax = kEscrowDepositsMax - kEscrowPartySlots;
// A third party's first deposit (a new entry) is at least 1/64 of the escrow it joins.
inline constexpr uint64_t kEscrowThirdPartyShareDivisor = 64;
inline constexpr uint32_t kBasisPointsMax = 10000;
inline constexpr size_t kOpenInvoicesMax = 32;  // per contract
// An invoice state in words ("partially paid"), for messages and the CLI.
const char* InvoiceStateText(v1::InvoiceState state);
// Adds one to a reputation counter of `key`.
void BumpReputation(StateDelta& s, const std::string& key, uint64_t (v1::Reputation::*get)() const,
                    void (v1::Reputation::*set)(uint64_t));

}  // namespace kontor::contracts
