#include "tools/kontor/context.h"

#include <termios.h>
#include <unistd.h>

#include <algorithm>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <grpcpp/grpcpp.h>
#include <iostream>

#include "ledger/bech32m.h"
#include "node/config.h"
#include "ledger/accounts.h"
#include "node/grpc_service.h"

namespace kontor::cli {

namespace fs = std::filesystem;

void Check(const Result& r, const std::string& context) {
  if (r.ok()) return;
  // The code travels with the error, so `--output json` reports it like a node's rejection.
  v1::ErrorDetail detail;
  detail.set_code(static_cast<uint32_t>(r.code()));
  detail.set_name(std::string(CodeName(r.code())));
  detail.set_category(std::string(CodeCategory(r.code())));
  detail.set_message(r.message());
  throw CliError((context.empty() ? "" : context + ": ") + r.message(), detail);
}

node::Keyring Context::keyring() const {
  node::KeyringBackend backend;
  Check(node::ParseKeyringBackend(keyring_name, &backend));
  return node::Keyring(home, backend);
}

namespace {
// HOST:PORT with a port of 1..65535 (gRPC would otherwise wrap 99999 to another port).
std::string CheckedAddress(const std::string& address, const std::string& source) {
  size_t colon = address.rfind(':');
  std::string port = colon == std::string::npos ? "" : address.substr(colon + 1);
  bool digits = !port.empty() && port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (colon == 0 || colon == std::string::npos || !digits || std::stoul(port) == 0 || std::stoul(port) > 65535)
    throw CliError(source + ": '" + address + "' is not HOST:PORT with a port of 1..65535");
  return address;
}
}  // namespace

std::string Context::NodeAddress() const {
  if (!node_address.empty()) return CheckedAddress(node_address, "--node");
  if (const char* env = std::getenv("KONTOR_NODE"); env && *env) return CheckedAddress(env, "$KONTOR_NODE");
  // A kontord running on this home says where it listens.
  std::string run;
  const std::filesystem::path run_file = home / "kontord.json";
  if (std::filesystem::exists(run_file) || std::filesystem::is_symlink(run_file)) {
    Result read = node::ReadWholeFile(run_file, 4096, &run);
    json doc = read.ok() ? json::parse(run, nullptr, false) : json();
    if (doc.is_object() && doc.contains("grpc") && doc["grpc"].is_string() && !doc["grpc"].get<std::string>().empty())
      return CheckedAddress(doc["grpc"].get<std::string>(), run_file.string());
    // Never fall back to a default port past a file that says otherwise: name the problem.
    throw CliError(run_file.string() + " is damaged (" + (read.ok() ? "no \"grpc\" address in it" : read.message()) +
                   "); a running kontord rewrites it at start. Remove it if no kontord runs on this home, or pass --node HOST:PORT");
  }
  node::Config config;
  Result loaded = node::LoadConfig(home, &config);
  if (loaded.ok()) return CheckedAddress(config.grpc_listen, (home / "config.toml").string());
  // No home config at all: the default. A config that is there but cannot be used is named.
  if (loaded.code() != Code::kNotFound)
    throw CliError(loaded.message() + " (the CLI reads the node's address from it; fix it or pass --node HOST:PORT)");
  return "127.0.0.1:26657";
}

v1::Node::Stub& Context::Stub() {
  if (!stub_) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
    args.SetMaxSendMessageSize(64 * 1024 * 1024);
    stub_ = v1::Node::NewStub(grpc::CreateCustomChannel(NodeAddress(), grpc::InsecureChannelCredentials(), args));
  }
  return *stub_;
}

void ThrowFromStatus(const Context& ctx, const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE || status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    v1::ErrorDetail detail;
    if (!node::DetailOf(status, &detail))
      throw CliError("cannot reach the node at " + ctx.NodeAddress() + " (" + status.error_message() +
                     "); is kontord running? Point at it with --node HOST:PORT");
  }
  v1::ErrorDetail detail;
  if (node::DetailOf(status, &detail))
    throw CliError(detail.name() + " (" + std::to_string(detail.code()) + "): " + detail.message(), detail);
  throw CliError("node at " + ctx.NodeAddress() + " answered: " + status.error_message());
}

static std::string ReadTerminalLine(const std::string& prompt) {
  FILE* tty = std::fopen("/dev/tty", "r+");
  if (!tty) throw CliError("a passphrase is needed: give --passphrase-file or set KONTOR_PASSPHRASE (no terminal to ask on)");
  std::fprintf(tty, "%s", prompt.c_str());
  std::fflush(tty);
  termios old_mode{};
  bool have_mode = tcgetattr(fileno(tty), &old_mode) == 0;
  if (have_mode) {
    termios quiet = old_mode;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(fileno(tty), TCSANOW, &quiet);
  }
  char buf[1024];
  std::string line = std::fgets(buf, sizeof buf, tty) ? buf : "";
  SecureWipe(buf, sizeof buf);
  if (have_mode) tcsetattr(fileno(tty), TCSANOW, &old_mode);
  std::fprintf(tty, "\n");
  std::fclose(tty);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

std::string Context::Passphrase(const std::string& prompt, bool confirm) const {
  if (!passphrase_file.empty()) {
    std::string p;
    Check(node::ReadWholeFile(passphrase_file, 4096, &p, /*allow_pipe=*/true), "--passphrase-file");
    while (!p.empty() && (p.back() == '\n' || p.back() == '\r')) p.pop_back();
    return p;
  }
  if (const char* env = std::getenv("KONTOR_PASSPHRASE")) return env;
  std::string first = ReadTerminalLine(prompt);
  if (confirm) {
    std::string again = ReadTerminalLine("repeat the passphrase: ");
    bool same = again == first;
    SecureWipe(&again);
    if (!same) {
      SecureWipe(&first);
      throw CliError("the two passphrases differ");
    }
  }
  return first;
}

PrivateKey Context::UnlockKey(const std::string& name) const {
  node::Keyring ring = keyring();
  node::KeyEntry entry;
  Check(ring.Find(name, &entry));
  std::string passphrase = ring.backend() == node::KeyringBackend::kFile ? Passphrase("passphrase for key '" + name + "': ") : "";
  WipeOnExit wipe_passphrase(passphrase);
  std::optional<PrivateKey> key;
  Check(ring.Unlock(name, passphrase, &key));
  return *key;
}

PublicKey Context::ResolveKey(const std::string& name_or_address) const {
  PublicKey key;
  if (name_or_address.rfind("kx1", 0) == 0 || name_or_address.rfind("KX1", 0) == 0) {
    Check(DecodeAddress(name_or_address, &key));
    return key;
  }
  // A recipient may live in either keyring (e.g. a dev key paying your own encrypted key).
  node::KeyEntry entry;
  Result r = keyring().Find(name_or_address, &entry);
  if (r.ok()) return entry.key;
  if (r.code() != Code::kNotFound) Check(r);  // e.g. a test key whose address is not its secret's
  node::Keyring other(home, keyring().backend() == node::KeyringBackend::kFile ? node::KeyringBackend::kTest
                                                                             : node::KeyringBackend::kFile);
  if (other.Find(name_or_address, &entry).ok()) return entry.key;
  throw CliError("'" + name_or_address + "' is neither a kx1... address nor a key name: " + r.message());
}

uint32_t AssetTable::Decimals(const std::string& symbol) const {
  auto it = by_symbol.find(symbol);
  if (it == by_symbol.end()) {
    std::string known;
    for (const auto& [s, a] : by_symbol) known += (known.empty() ? "" : ", ") + s;
    throw CliError("asset '" + symbol + "' does not exist on this chain (assets: " + known + ")");
  }
  return it->second.decimals();
}

v1::GetStatusResponse FetchStatus(Context& ctx) { return Call(ctx, &v1::Node::Stub::GetStatus, v1::GetStatusRequest()); }

AssetTable FetchAssets(Context& ctx) {
  AssetTable table;
  v1::ListAssetsResponse response = Call(ctx, &v1::Node::Stub::ListAssets, v1::ListAssetsRequest());
  for (const auto& a : response.assets()) table.by_symbol[a.symbol()] = a;
  return table;
}

uint64_t ParseAmount(const std::string& text, uint32_t decimals, const std::string& symbol) {
  auto bad = [&](const std::string& why) { return CliError("amount '" + text + "' " + why); };
  if (text.empty()) throw bad("is empty");
  std::string whole = text, fraction;
  if (auto dot = text.find('.'); dot != std::string::npos) {
    whole = text.substr(0, dot);
    fraction = text.substr(dot + 1);
  }
  if (whole.empty() && fraction.empty()) throw bad("is not a number");
  for (char c : whole + fraction)
    if (c < '0' || c > '9') throw bad("is not a decimal number (digits and one '.', no sign or exponent)");
  if (fraction.size() > decimals)
    throw bad("has " + std::to_string(fraction.size()) + " decimals; " + symbol + " has " + std::to_string(decimals));
  fraction.append(decimals - fraction.size(), '0');
  std::string digits = (whole.empty() ? "0" : whole) + fraction;
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec == std::errc::result_out_of_range) throw bad("is too large");
  if (ec != std::errc() || ptr != digits.data() + digits.size()) throw bad("is not a number");
  return value;
}

uint64_t ParseUint(const std::string& text, const std::string& what, uint64_t max) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw CliError(what + " '" + text.substr(0, 64) + "' is not a whole number (decimal digits only, no sign)");
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value > max)
    throw CliError(what + " '" + text.substr(0, 64) + "' is too large (at most " + std::to_string(max) + ")");
  return value;
}

CLI::Validator UintText() {
  return CLI::Validator(
      [](std::string& text) {
        try {
          ParseUint(text, "value");
          return std::string();
        } catch (const CliError& e) {
          return std::string(e.what());
        }
      },
      "UINT", "UintText");
}

std::string FormatAmount(uint64_t amount, uint32_t decimals, const std::string& symbol) {
  return kontor::FormatAmount(amount, decimals, symbol);
}

void PrintFields(const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t width = 0;
  for (const auto& [k, v] : fields) width = std::max(width, k.size());
  for (const auto& [k, v] : fields) std::printf("%-*s  %s\n", static_cast<int>(width), k.c_str(), v.c_str());
}

void PrintJson(const json& doc) { std::printf("%s\n", doc.dump(2).c_str()); }

}  // namespace kontor::cli
