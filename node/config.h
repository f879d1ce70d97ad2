// kontord's configuration: <home>/config.toml. Every key has a default; unknown keys are an
// error (a typo must not silently fall back to a default). See docs/operator.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "ledger/result.h"

namespace kontor::node {

struct Config {
  // [node]
  std::string data_dir = "data";                     // relative to home
  std::string log_level = "info";                    // trace, debug, info, warn, error
  std::string node_key_file = "node_key.json";       // Web3 v3 key file of the validator key
  std::string node_key_passphrase_file;              // optional; else $KONTOR_NODE_PASSPHRASE
  // [api]
  std::string grpc_listen = "127.0.0.1:26657";       // port 0 = any free port
  std::string http_listen = "127.0.0.1:26660";
  uint64_t grpc_message_bytes_max = 16 * 1024 * 1024;
  uint64_t healthz_block_age_max_ms = 0;             // /healthz is 503 "stalled" past this without a block; 0 = 3 heartbeats
  uint64_t HealthzBlockAgeMaxMs() const { return healthz_block_age_max_ms ? healthz_block_age_max_ms : 3 * heartbeat_interval_ms; }
  // [consensus]
  uint64_t block_interval_ms = 1000;                 // a block when there is work
  uint64_t heartbeat_interval_ms = 30000;            // an empty block at least this often
  // [mempool]
  uint64_t mempool_txs_max = 50000;
  uint64_t mempool_bytes_max = 64ull * 1024 * 1024;
  uint64_t mempool_account_txs_max = 256;            // pending txs per fee payer (nonce window)
  uint64_t mempool_nonce_gap_max = 16;               // how far past its contiguous run a payer's tx may wait
  uint64_t mempool_tx_ttl_ms = 600000;               // how long a tx may wait before it is dropped
  uint64_t rejected_cache_entries_max = 100000;      // recent rejections kept for `query tx`
  // [storage]
  uint64_t state_history_heights = 64;
  bool sync_writes = true;

  std::filesystem::path home;  // not in the file
  std::filesystem::path DataPath() const { return home / data_dir; }
};

// Reads <home>/config.toml. Errors: kNotFound (no file), kMalformed (names the key and why).
Result LoadConfig(const std::filesystem::path& home, Config* out);
// The config file text for `config` (with comments explaining each key).
std::string RenderConfig(const Config& config);
// Checks ranges; names the bad key.
Result ValidateConfig(const Config& config);

}  // namespace kontor::node
