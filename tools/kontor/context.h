// What every kontor command shares: where the home and node are, how to print, how to reach
// keys, and how to talk to the node. One failure type (CliError) carries a message a person
// can act on and, for ledger rejections, the result code.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "kontor/v1/node.grpc.pb.h"
#include "ledger/keys.h"
#include "ledger/result.h"
#include "node/keyring.h"

namespace kontor::cli {

using nlohmann::json;

struct CliError : std::runtime_error {
  explicit CliError(const std::string& what) : std::runtime_error(what) {}
  CliError(const std::string& what, v1::ErrorDetail detail) : std::runtime_error(what), detail(std::move(detail)) {}
  std::optional<v1::ErrorDetail> detail;  // set for ledger rejections
};

// Throws CliError with the result's message unless ok.
void Check(const Result& r, const std::string& context = "");

struct Context {
  std::filesystem::path home;
  std::string node_address;  // empty: resolved from the home
  std::string output = "text";
  std::string keyring_name = "file";
  std::string passphrase_file;

  bool json_output() const { return output == "json"; }
  node::Keyring keyring() const;
  std::string NodeAddress() const;
  v1::Node::Stub& Stub();
  // Passphrase for key `name`: --passphrase-file, $KONTOR_PASSPHRASE, or a prompt on the terminal.
  std::string Passphrase(const std::string& prompt, bool confirm = false) const;
  PrivateKey UnlockKey(const std::string& name) const;
  // "kx1..." or the name of a key (the selected keyring first, then the other one).
  PublicKey ResolveKey(const std::string& name_or_address) const;

 private:
  std::unique_ptr<v1::Node::Stub> stub_;
};

// Calls a unary RPC and turns transport and ledger errors into CliError.
template <typename Request, typename Response>
Response Call(Context& ctx, grpc::Status (v1::Node::Stub::*method)(grpc::ClientContext*, const Request&, Response*),
              const Request& request, int timeout_ms = 10000);
void ThrowFromStatus(const Context& ctx, const grpc::Status& status);

// Assets as the node reports them.
struct AssetTable {
  std::map<std::string, v1::AssetInfo> by_symbol;
  uint32_t Decimals(const std::string& symbol) const;
};
AssetTable FetchAssets(Context& ctx);
// The node's head: height, hash, time of the latest block, chain parameters.
v1::GetStatusResponse FetchStatus(Context& ctx);

// A whole number written in decimal digits only (no sign, space or suffix) of at most `max`.
// Throws CliError naming `what` ("--nonce", "height"). std::stoull would take "-1" as 2^64-1.
uint64_t ParseUint(const std::string& text, const std::string& what, uint64_t max = UINT64_MAX);
// The same as a CLI11 check, for integer options: `->check(UintText())`.
CLI::Validator UintText();

// "12.5" with 6 decimals -> 12500000. Throws CliError naming the problem.
uint64_t ParseAmount(const std::string& text, uint32_t decimals, const std::string& symbol);
std::string FormatAmount(uint64_t amount, uint32_t decimals, const std::string& symbol);

// Printing: text as aligned "key  value" lines, JSON as one document on stdout.
void PrintFields(const std::vector<std::pair<std::string, std::string>>& fields);
void PrintJson(const json& doc);

template <typename Request, typename Response>
Response Call(Context& ctx, grpc::Status (v1::Node::Stub::*method)(grpc::ClientContext*, const Request&, Response*),
              const Request& request, int timeout_ms) {
  grpc::ClientContext client;
  client.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  Response response;
  grpc::Status status = (ctx.Stub().*method)(&client, request, &response);
  if (!status.ok()) ThrowFromStatus(ctx, status);
  return response;
}

}  // namespace kontor::cli
