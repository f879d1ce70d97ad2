#include "node/config.h"
#include "node/keyring.h"

#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

namespace kontor::node {
namespace {

Result Bad(const std::string& what) { return {Code::kMalformed, "config.toml: " + what}; }

template <typename T>
Result Read(const toml::table& table, const char* section, const char* key, T* out) {
  const toml::node* node = table.at_path(std::string(section) + "." + key).node();
  if (!node) return Result::Ok();
  // value_exact: no silent conversions (1 is not true, 100.0 is not 100, true is not 1).
  if constexpr (std::is_same_v<T, std::string>) {
    auto v = node->value_exact<std::string>();
    if (!v) return Bad(std::string(section) + "." + key + " must be a string");
    *out = *v;
  } else if constexpr (std::is_same_v<T, bool>) {
    auto v = node->value_exact<bool>();
    if (!v) return Bad(std::string(section) + "." + key + " must be true or false");
    *out = *v;
  } else {
    auto v = node->value_exact<int64_t>();
    if (!v || *v < 0) return Bad(std::string(section) + "." + key + " must be a non-negative integer");
    *out = static_cast<T>(*v);
  }
  return Result::Ok();
}

const std::map<std::string, std::set<std::string>>& KnownKeys() {
  static const std::map<std::string, std::set<std::string>> keys = {
      {"node", {"data_dir", "log_level", "node_key_file", "node_key_passphrase_file"}},
      {"api", {"grpc_listen", "http_listen", "grpc_message_bytes_max", "healthz_block_age_max_ms"}},
      {"consensus", {"block_interval_ms", "heartbeat_interval_ms"}},
      {"mempool", {"txs_max", "bytes_max", "account_txs_max", "nonce_gap_max", "tx_ttl_ms", "rejected_cache_entries_max"}},
      {"storage", {"state_history_heights", "sync_writes"}},
  };
  return keys;
}

}  // namespace

Result LoadConfig(const std::filesystem::path& home, Config* out) {
  std::filesystem::path path = home / "config.toml";
  if (!std::filesystem::exists(path))
    return {Code::kNotFound, "no config at " + path.string() + " (create a home with `kontord init --home " + home.string() + "`)"};
  // Read as a regular file first: a FIFO would hang the parser, a directory is not a config.
  std::string text;
  if (Result r = ReadWholeFile(path, 1 << 20, &text); !r.ok()) return {r.code(), "config.toml: " + r.message()};
  toml::table table;
  try {
    table = toml::parse(text, path.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "line " << e.source().begin.line << ": " << e.description();
    return Bad(msg.str());
  }
  for (const auto& [section, node] : table) {
    auto known = KnownKeys().find(std::string(section.str()));
    if (known == KnownKeys().end()) return Bad("unknown section [" + std::string(section.str()) + "]");
    const toml::table* t = node.as_table();
    if (!t) return Bad("[" + std::string(section.str()) + "] must be a table");
    for (const auto& [key, value] : *t)
      if (!known->second.count(std::string(key.str())))
        return Bad("unknown key " + std::string(section.str()) + "." + std::string(key.str()));
  }
  Config c;
  c.home = home;
  KONTOR_RETURN_IF_ERROR(Read(table, "node", "data_dir", &c.data_dir));
  KONTOR_RETURN_IF_ERROR(Read(table, "node", "log_level", &c.log_level));
  KONTOR_RETURN_IF_ERROR(Read(table, "node", "node_key_file", &c.node_key_file));
  KONTOR_RETURN_IF_ERROR(Read(table, "node", "node_key_passphrase_file", &c.node_key_passphrase_file));
  KONTOR_RETURN_IF_ERROR(Read(table, "api", "grpc_listen", &c.grpc_listen));
  KONTOR_RETURN_IF_ERROR(Read(table, "api", "http_listen", &c.http_listen));
  KONTOR_RETURN_IF_ERROR(Read(table, "api", "grpc_message_bytes_max", &c.grpc_message_bytes_max));
  KONTOR_RETURN_IF_ERROR(Read(table, "api", "healthz_block_age_max_ms", &c.healthz_block_age_max_ms));
  KONTOR_RETURN_IF_ERROR(Read(table, "consensus", "block_interval_ms", &c.block_interval_ms));
  KONTOR_RETURN_IF_ERROR(Read(table, "consensus", "heartbeat_interval_ms", &c.heartbeat_interval_ms));
  KONTOR_RETURN_IF_ERROR(Read(table, "mempool", "txs_max", &c.mempool_txs_max));
  KONTOR_RETURN_IF_ERROR(Read(table, "mempool", "bytes_max", &c.mempool_bytes_max));
  KONTOR_RETURN_IF_ERROR(Read(table, "mempool", "account_txs_max", &c.mempool_account_txs_max));
  KONTOR_RETURN_IF_ERROR(Read(table, "mempool", "nonce_gap_max", &c.mempool_nonce_gap_max));
  KONTOR_RETURN_IF_ERROR(Read(table, "mempool", "tx_ttl_ms", &c.mempool_tx_ttl_ms));
  KONTOR_RETURN_IF_ERROR(Read(table, "mempool", "rejected_cache_entries_max", &c.rejected_cache_entries_max));
  KONTOR_RETURN_IF_ERROR(Read(table, "storage", "state_history_heights", &c.state_history_heights));
  KONTOR_RETURN_IF_ERROR(Read(table, "storage", "sync_writes", &c.sync_writes));
  KONTOR_RETURN_IF_ERROR(ValidateConfig(c));
  *out = std::move(c);
  return Result::Ok();
}

Result ValidateConfig(const Config& c) {
  static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error"};
  if (!levels.count(c.log_level)) return Bad("node.log_level must be one of trace, debug, info, warn, error");
  if (c.block_interval_ms < 10 || c.block_interval_ms > 600'000) return Bad("consensus.block_interval_ms must be 10..600000");
  if (c.healthz_block_age_max_ms != 0 && c.healthz_block_age_max_ms < c.heartbeat_interval_ms)
    return Bad("api.healthz_block_age_max_ms must be 0 (three heartbeats) or >= consensus.heartbeat_interval_ms");
  if (c.heartbeat_interval_ms < c.block_interval_ms) return Bad("consensus.heartbeat_interval_ms must be >= block_interval_ms");
  if (c.mempool_txs_max == 0 || c.mempool_txs_max > 10'000'000) return Bad("mempool.txs_max must be 1..10000000");
  if (c.mempool_bytes_max < 65536) return Bad("mempool.bytes_max must be at least 65536");
  if (c.mempool_account_txs_max == 0 || c.mempool_account_txs_max > 10'000) return Bad("mempool.account_txs_max must be 1..10000");
  // The nonce window (account_txs_max) bounds a gap too; a larger nonce_gap_max is harmless.
  if (c.mempool_nonce_gap_max > 10'000) return Bad("mempool.nonce_gap_max must be 0..10000");
  if (c.mempool_tx_ttl_ms < 1000 || c.mempool_tx_ttl_ms > 86'400'000) return Bad("mempool.tx_ttl_ms must be 1000..86400000");
  if (c.grpc_message_bytes_max < 65536 || c.grpc_message_bytes_max > (1u << 30)) return Bad("api.grpc_message_bytes_max must be 65536..2^30");
  if (c.state_history_heights == 0 || c.state_history_heights > 100'000) return Bad("storage.state_history_heights must be 1..100000");
  if (c.grpc_listen.find(':') == std::string::npos) return Bad("api.grpc_listen must be host:port");
  if (c.http_listen.find(':') == std::string::npos) return Bad("api.http_listen must be host:port");
  return Result::Ok();
}

// A TOML basic string: quotes, backslashes and control characters escaped.
static std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string RenderConfig(const Config& c) {
  std::ostringstream out;
  out << "# kontord configuration. Paths are relative to this file's directory (the node home).\n"
      << "# Every key is optional; the values here are what kontord init chose. See docs/operator.md.\n\n"
      << "[node]\n"
      << "data_dir = " << Quoted(c.data_dir) << "                 # LevelDB block and state store\n"
      << "log_level = " << Quoted(c.log_level) << "               # trace, debug, info, warn, error\n"
      << "node_key_file = " << Quoted(c.node_key_file) << "  # encrypted validator key (Web3 v3)\n";
  if (!c.node_key_passphrase_file.empty())
    out << "node_key_passphrase_file = " << Quoted(c.node_key_passphrase_file)
        << "  # dev only; otherwise set $KONTOR_NODE_PASSPHRASE\n";
  out << "\n[api]\n"
      << "grpc_listen = " << Quoted(c.grpc_listen) << "  # gRPC API (port 0 = any free port)\n"
      << "http_listen = " << Quoted(c.http_listen) << "  # /metrics and /healthz\n"
      << "grpc_message_bytes_max = " << c.grpc_message_bytes_max << "\n"
      << "healthz_block_age_max_ms = " << c.healthz_block_age_max_ms << "   # /healthz answers 503 (stalled) past this without a block; 0 = 3 heartbeats\n"
      << "\n[consensus]\n"
      << "block_interval_ms = " << c.block_interval_ms << "        # a block this often when txs are waiting\n"
      << "heartbeat_interval_ms = " << c.heartbeat_interval_ms << "   # an empty block at least this often\n"
      << "\n[mempool]\n"
      << "txs_max = " << c.mempool_txs_max << "\n"
      << "bytes_max = " << c.mempool_bytes_max << "\n"
      << "account_txs_max = " << c.mempool_account_txs_max << "          # pending txs per fee payer\n"
      << "nonce_gap_max = " << c.mempool_nonce_gap_max << "             # how far past its next nonce a funded payer's tx may wait\n"
      << "tx_ttl_ms = " << c.mempool_tx_ttl_ms << "             # a tx waits at most this long\n"
      << "rejected_cache_entries_max = " << c.rejected_cache_entries_max << "\n"
      << "\n[storage]\n"
      << "state_history_heights = " << c.state_history_heights << "      # heights whose state proofs are served\n"
      << "sync_writes = " << (c.sync_writes ? "true" : "false") << "             # fsync each block (keep true)\n";
  return out.str();
}

}  // namespace kontor::node
