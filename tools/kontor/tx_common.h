// The pattern every transaction command follows:
//   kontor tx <type> --from KEY ...              build, sign, broadcast, wait for commit
//   ... --generate-only [--out FILE]              write the unsigned tx as JSON (for co-signing)
//   kontor tx sign FILE --from KEY                add KEY's signature to the file
//   kontor tx broadcast FILE                      submit a fully signed file, wait for commit
// --async returns once the node accepted the tx into its mempool.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kontor/v1/tx.pb.h"
#include "tools/kontor/context.h"

namespace kontor::cli {

struct TxOptions {
  std::string from;
  std::vector<std::string> cosigners;  // further signers (keys or addresses), in order
  std::optional<uint64_t> nonce;
  std::string fee;                     // decimal in the fee asset; default the chain minimum
  std::optional<uint64_t> expiry_height;
  uint64_t expires_in = 600;           // blocks, when no --expiry-height
  bool generate_only = false;
  bool async = false;
  std::string out;
  int wait_seconds = 30;
};

void AddTxOptions(CLI::App* cmd, TxOptions& options, bool allow_cosigners = false);

// Builds a body with the common fields and `fill`'s payload, then generates, or signs and broadcasts.
void RunTx(Context& ctx, const TxOptions& options, const std::function<void(v1::TxBody&, const AssetTable&)>& fill);

// The readable form of a body: protobuf's JSON mapping with the .proto field names (a tx file's
// "decoded_body").
json DecodedBodyJson(const v1::TxBody& body);
// The tx file (JSON) of a body and its signatures so far.
json TxFileJson(const v1::TxBody& body, const std::string& body_bytes, const v1::Tx& tx);
// Reads a tx file; checks the body is canonical and the txid matches, that "decoded_body",
// "chain_id" and "signers" (where present) are what "body" decodes to (kMismatch naming the field
// otherwise), and that every signature verifies. Fills tx (body + signatures).
void ReadTxFile(const std::string& path, v1::Tx* tx, v1::TxBody* body);
// Submits a complete envelope; waits for commit unless async; prints the outcome.
void BroadcastAndReport(Context& ctx, const std::string& envelope, bool async, int wait_seconds);

}  // namespace kontor::cli
