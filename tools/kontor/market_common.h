// What the market commands (market_cmd.cpp, invoice_cmd.cpp) share: reading records from the
// node's state, ids, durations and times in text.
#pragma once

#include <optional>
#include <string>

#include "kontor/v1/state.pb.h"
#include "tools/kontor/context.h"

namespace kontor::cli {

// Record kinds (docs/protocol.md "State"; contracts/records.h).
constexpr uint32_t kProvider = 16, kAttestation = 17, kOffer = 18, kContract = 19, kOfferIndex = 22, kPartyIndex = 23,
                   kReputation = 24, kInvoice = 25, kContractInvoices = 26;

template <typename Message>
std::optional<Message> QueryRecord(Context& ctx, uint32_t kind, const std::string& id) {
  v1::QueryStateRequest req;
  req.set_kind(kind);
  req.set_id(id);
  v1::QueryStateResponse r = Call(ctx, &v1::Node::Stub::QueryState, req);
  if (!r.found()) return std::nullopt;
  Message m;
  if (!m.ParseFromString(r.value())) throw CliError("the node returned a record that does not decode");
  return m;
}

// "kx1..." of a 32-byte key; "-" for none.
std::string Addr(const std::string& key);
// 64 hex characters -> 32 bytes, or CliError naming `what`.
std::string IdBytes(const std::string& hex, const std::string& what);
// "30d", "12h", "90m", "45s", "500ms" or plain milliseconds.
uint64_t ParseDuration(const std::string& text);
std::string DurationText(uint64_t ms);
// UTC, ISO 8601; "-" for 0.
std::string TimeText(uint64_t ms);
json ToJson(const google::protobuf::Message& m);

}  // namespace kontor::cli
