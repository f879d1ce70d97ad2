// A node home directory: what `kontord init` writes and `kontord start` reads.
//   <home>/config.toml            node configuration (node/config.h)
//   <home>/genesis.json           the chain's genesis
//   <home>/node_key.json          the validator key, Web3 v3 encrypted
//   <home>/node_key.passphrase    dev homes only: the node key's passphrase (0600)
//   <home>/keyring-test/*.json    dev homes only: unencrypted, funded dev keys
//   <home>/data/                  LevelDB store (created by init; start refuses a missing one)
//   <home>/tip.json               the genesis hash pinned at init and the last committed height
//                                 and block hash, rewritten atomically after every block
//   <home>/kontord.lock           held while a kontord runs on this home
//   <home>/kontord.json           written by a running kontord: pid and bound addresses
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "ledger/genesis.h"
#include "ledger/store.h"
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

// Refuses (kDuplicate) if the home already has a config.toml. Creates the store at genesis
// and pins the genesis (tip.json).
Result InitHome(const InitOptions& options, RandomSource& random, InitReport* report);

// What a node durably records outside its store: the genesis it was initialised with, and
// the last block it committed. Written atomically (temp file, fsync, rename, directory fsync).
struct DurableTip {
  Hash256 genesis;
  uint64_t height = 0;
  Hash256 hash;  // the genesis hash at height 0
};
inline constexpr const char* kTipFileName = "tip.json";
// kNotFound if the home has no tip.json; kCorruption if it does not parse.
Result ReadDurableTip(const std::filesystem::path& home, DurableTip* out);
Result WriteDurableTip(const std::filesystem::path& home, const DurableTip& tip);
// The genesis in genesis.json must be the one pinned in tip.json (kMismatch otherwise, even
// before the first block).
Result CheckGenesisPinned(const std::filesystem::path& home, const DurableTip& tip, const Genesis& genesis);
// The store must hold every block tip.json says was committed, the same ones: kCorruption
// naming the missing heights and hash, and how to recover, if it was rolled back.
Result CheckStoreHoldsTip(const Store& store, const DurableTip& tip);
// Creates the chain store of `config` at `genesis` (it must not exist yet) and pins the
// genesis in tip.json. What `kontord init` does after writing genesis.json.
Result CreateChainStore(const Config& config, const Genesis& genesis);
// `kontord init --adopt-genesis`: re-reads an edited genesis.json of an initialised home whose
// store has no block yet, pins it and recreates the store at it. kFailedPrecondition once a
// block exists.
Result AdoptGenesis(const std::filesystem::path& home, Hash256* genesis_hash);
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
