// A node home directory: what `kontord init` writes and `kontord start` reads.
//   <home>/config.toml            node configuration (node/config.h)
//   <home>/genesis.json           the chain's genesis
//   <home>/node_key.json          the validator key, Web3 v3 encrypted
//   <home>/node_key.passphrase    dev homes only: the node key's passphrase (0600)
//   <home>/keyring-test/*.json    dev homes only: unencrypted, funded dev keys
//   <home>/data/                  LevelDB store (created by start)
//   <home>/kontord.lock           held while a kontord runs on this home
//   <home>/kontord.json           written by a running kontord: pid and bound addresses
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "ledger/genesis.h"
#include "ledger/keys.h"
#include "node/config.h"

namespace kontor::node {

struct InitOptions {
  std::filesystem::path home;
  bool dev = false;
  std::string chain_id;            // default "kontor-dev" with --dev, else "kontor-1"
  std::string node_passphrase;     // ignored with --dev (a random one is written next to the key)
  Config config;                   // listen addresses, intervals
  uint64_t genesis_time_ms = 0;
};

struct InitReport {
  PublicKey validator;
  Hash256 genesis_hash;
  std::vector<std::pair<std::string, PublicKey>> dev_keys;
};

// Refuses (kDuplicate) if the home already has a config.toml.
Result InitHome(const InitOptions& options, RandomSource& random, InitReport* report);
Result LoadGenesisFile(const std::filesystem::path& home, Genesis* out);
// Passphrase from config.node_key_passphrase_file, else $KONTOR_NODE_PASSPHRASE.
Result LoadNodeKey(const Config& config, std::optional<PrivateKey>* out);

// Holds <home>/kontord.lock (flock) for the life of the object.
class HomeLock {
 public:
  ~HomeLock();
  // kStorage with the holder's pid if another process holds it.
  static Result Acquire(const std::filesystem::path& home, std::unique_ptr<HomeLock>* out);

 private:
  int fd_ = -1;
};

}  // namespace kontor::node
