#include "node/home.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "contracts/app.h"
#include "ledger/bech32m.h"
#include "ledger/block.h"
#include "ledger/chain.h"
#include "ledger/keystore.h"
#include "node/keyring.h"

namespace kontor::node {

namespace fs = std::filesystem;

Result InitHome(const InitOptions& options, RandomSource& random, InitReport* report) {
  const fs::path& home = options.home;
  if (fs::exists(home / "config.toml"))
    return {Code::kDuplicate, home.string() + " is already initialised (config.toml exists); use another --home or remove it"};
  std::error_code ec;
  fs::create_directories(home, ec);
  if (ec) return {Code::kIo, "cannot create " + home.string() + ": " + ec.message()};

  Config config = options.config;
  config.home = home;
  PrivateKey node_key = GeneratePrivateKey(random);
  std::string passphrase = options.node_passphrase;
  WipeOnExit wipe_passphrase(passphrase);
  if (options.dev) {
    auto bytes = random.Array<16>();
    passphrase = HexEncode({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
    KONTOR_RETURN_IF_ERROR(WriteFileAtomic(home / "node_key.passphrase", passphrase + "\n", true));
    config.node_key_passphrase_file = "node_key.passphrase";
  }
  KONTOR_RETURN_IF_ERROR(ValidateConfig(config));
  KONTOR_RETURN_IF_ERROR(WriteFileAtomic(home / config.node_key_file, EncryptKeystore(node_key, passphrase, random), true));

  Genesis g;
  g.chain_id = !options.chain_id.empty() ? options.chain_id : options.dev ? "kontor-dev" : "kontor-1";
  g.genesis_time_ms = options.genesis_time_ms;
  g.validators.push_back({node_key.public_key(), 1, "validator-0"});
  g.params.fee_asset = "KTR";
  g.params.min_fee = 1000;  // 0.001 KTR
  g.params.block_txs_max = 10000;
  g.assets.push_back({"KTR", 6, std::nullopt});
  report->dev_keys.clear();
  if (options.dev) {
    Keyring test_keys(home, KeyringBackend::kTest);
    PrivateKey gateway = GeneratePrivateKey(random);
    g.assets.push_back({"USDC", 6, gateway.public_key()});
    g.assets.push_back({"USDT", 6, gateway.public_key()});
    for (const char* name : {"alice", "bob", "carol", "gateway"}) {
      PrivateKey key = std::string(name) == "gateway" ? gateway : GeneratePrivateKey(random);
      KONTOR_RETURN_IF_ERROR(test_keys.Add(name, key, "", random, {}, nullptr));
      report->dev_keys.emplace_back(name, key.public_key());
      g.balances.push_back({key.public_key(), "KTR", 1'000'000'000'000});  // 1,000,000 KTR
      if (std::string(name) != "gateway") {
        g.balances.push_back({key.public_key(), "USDC", 100'000'000'000});  // 100,000 USDC
        g.balances.push_back({key.public_key(), "USDT", 100'000'000'000});
      }
    }
  } else {
    g.balances.push_back({node_key.public_key(), "KTR", 1'000'000'000'000});
  }
  std::string genesis_json = WriteGenesisJson(g);
  Genesis parsed;
  KONTOR_RETURN_IF_ERROR(ParseGenesis(genesis_json, &parsed));
  KONTOR_RETURN_IF_ERROR(WriteFileAtomic(home / "genesis.json", genesis_json, false));
  KONTOR_RETURN_IF_ERROR(WriteFileAtomic(home / "config.toml", RenderConfig(config), false));
  KONTOR_RETURN_IF_ERROR(CreateChainStore(config, parsed));
  report->validator = node_key.public_key();
  report->genesis_hash = parsed.hash;
  return Result::Ok();
}

static const char* kRecoverHint =
    "To recover: restore the whole home (data/ and tip.json together) from a backup, or resync the store; "
    "`kontor audit replay --node-home HOME` checks a store";

Result ReadDurableTip(const fs::path& home, DurableTip* out) {
  const fs::path path = home / kTipFileName;
  if (!fs::exists(path)) return {Code::kNotFound, path.string() + " does not exist"};
  std::string text;
  KONTOR_RETURN_IF_ERROR(ReadWholeFile(path, 4096, &text));
  auto damaged = [&] { return Result(Code::kCorruption, path.string() + " is damaged; it must hold {genesis, height, hash}"); };
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc["genesis"].is_string() || !doc["height"].is_number_unsigned() || !doc["hash"].is_string())
    return damaged();
  std::optional<Bytes> genesis = HexDecode(doc["genesis"].get<std::string>());
  std::optional<Bytes> hash = HexDecode(doc["hash"].get<std::string>());
  if (!genesis || genesis->size() != 32 || !hash || hash->size() != 32) return damaged();
  out->genesis = Hash256::FromBytes(*genesis);
  out->height = doc["height"].get<uint64_t>();
  out->hash = Hash256::FromBytes(*hash);
  return Result::Ok();
}

Result WriteDurableTip(const fs::path& home, const DurableTip& tip) {
  nlohmann::json doc = {{"genesis", tip.genesis.hex()}, {"height", tip.height}, {"hash", tip.hash.hex()}};
  return WriteFileAtomic(home / kTipFileName, doc.dump() + "\n", false);
}

Result CheckGenesisPinned(const fs::path& home, const DurableTip& tip, const Genesis& genesis) {
  if (tip.genesis == genesis.hash) return Result::Ok();
  return {Code::kMismatch, (home / "genesis.json").string() + " (genesis " + genesis.hash.hex() +
                               ") is not the genesis this home was initialised with (" + tip.genesis.hex() + ", pinned in " +
                               (home / kTipFileName).string() + "): genesis.json was edited or replaced. Put the original "
                               "back; before the first block, `kontord init --adopt-genesis` adopts an edited one"};
}

Result CheckStoreHoldsTip(const Store& store, const DurableTip& tip) {
  std::string value;
  Result r = store.Get(store_keys::kTip, &value);
  if (!r.ok() || value.size() != 40) return {Code::kCorruption, "the store's tip record is missing or damaged. " + std::string(kRecoverHint)};
  const uint64_t store_height = GetBigEndian64(value);
  if (store_height < tip.height)
    return {Code::kCorruption,
            "the store ends at height " + std::to_string(store_height) + " but this node committed up to height " +
                std::to_string(tip.height) + " (block " + tip.hash.hex() + "): blocks " + std::to_string(store_height + 1) +
                ".." + std::to_string(tip.height) + " are missing (the store was rolled back, e.g. a truncated LevelDB log "
                "or an older copy of data/). The node refuses to serve a ledger without txs it reported committed. " +
                kRecoverHint};
  Hash256 at_height;
  if (tip.height == 0) {
    std::string genesis;
    KONTOR_RETURN_IF_ERROR(store.Get(store_keys::kGenesis, &genesis));
    at_height = Hash256::FromBytes(genesis);
  } else {
    std::string bytes;
    v1::StoredBlock stored;
    r = store.Get(store_keys::Block(tip.height), &bytes);
    if (!r.ok() || !stored.ParseFromString(bytes))
      return {Code::kCorruption, "block " + std::to_string(tip.height) + " (" + tip.hash.hex() +
                                     "), which this node committed, is missing or damaged in the store. " + kRecoverHint};
    at_height = BlockHash(stored.block().header());
  }
  if (at_height != tip.hash)
    return {Code::kCorruption, "the store holds block " + at_height.hex() + " at height " + std::to_string(tip.height) +
                                   ", but this node committed " + tip.hash.hex() + " there. " + kRecoverHint};
  return Result::Ok();
}

Result CreateChainStore(const Config& config, const Genesis& genesis) {
  const fs::path data = config.DataPath();
  if (fs::exists(data / "CURRENT")) return {Code::kDuplicate, "a store already exists at " + data.string()};
  ChainOptions options;
  options.store.path = data.string();
  options.store.create_if_missing = true;
  options.threads = 1;
  options.signature_cache_entries = 16;
  contracts::KontorApp app;
  std::unique_ptr<Chain> chain;
  KONTOR_RETURN_IF_ERROR(Chain::Open(options, genesis, &app, &chain));
  chain.reset();
  return WriteDurableTip(config.home, DurableTip{genesis.hash, 0, genesis.hash});
}

Result AdoptGenesis(const fs::path& home, Hash256* genesis_hash) {
  Config config;
  KONTOR_RETURN_IF_ERROR(LoadConfig(home, &config));
  Genesis genesis;
  KONTOR_RETURN_IF_ERROR(LoadGenesisFile(home, &genesis));
  const fs::path data = config.DataPath();
  if (fs::exists(data / "CURRENT")) {
    StoreOptions options;
    options.path = data.string();
    options.create_if_missing = false;
    std::unique_ptr<Store> store;
    KONTOR_RETURN_IF_ERROR(Store::Open(options, &store));
    std::string value;
    if (store->Get(store_keys::kTip, &value).ok() && value.size() == 40 && GetBigEndian64(value) > 0)
      return {Code::kWrongState, "the store at " + data.string() + " holds blocks: a chain's genesis cannot change once it has a block"};
  }
  std::error_code ec;
  fs::remove_all(data, ec);
  if (ec) return {Code::kIo, "cannot remove " + data.string() + ": " + ec.message()};
  KONTOR_RETURN_IF_ERROR(CreateChainStore(config, genesis));
  *genesis_hash = genesis.hash;
  return Result::Ok();
}

Result LoadGenesisFile(const fs::path& home, Genesis* out) {
  std::string text;
  Result r = ReadWholeFile(home / "genesis.json", 16 * 1024 * 1024, &text);
  if (!r.ok()) return {r.code(), r.message() + " (a node home needs genesis.json; see `kontord init`)"};
  return ParseGenesis(text, out);
}

Result LoadNodeKey(const Config& config, std::optional<PrivateKey>* out) {
  std::string keystore;
  KONTOR_RETURN_IF_ERROR(ReadWholeFile(config.home / config.node_key_file, 64 * 1024, &keystore));
  std::string passphrase;
  WipeOnExit wipe_passphrase(passphrase);
  if (!config.node_key_passphrase_file.empty()) {
    KONTOR_RETURN_IF_ERROR(ReadWholeFile(config.home / config.node_key_passphrase_file, 4096, &passphrase, /*allow_pipe=*/true));
    while (!passphrase.empty() && (passphrase.back() == '\n' || passphrase.back() == '\r')) passphrase.pop_back();
  } else if (const char* env = std::getenv("KONTOR_NODE_PASSPHRASE")) {
    passphrase = env;
  } else {
    return {Code::kNotAuthorized, "the node key is encrypted: set KONTOR_NODE_PASSPHRASE or node.node_key_passphrase_file"};
  }
  Bytes secret;
  WipeOnExit wipe_secret(secret);
  Result r = DecryptKeystore(keystore, passphrase, &secret);
  if (!r.ok()) return {r.code(), "node key " + (config.home / config.node_key_file).string() + ": " + r.message()};
  *out = PrivateKey::FromBytes(secret);
  if (!*out) return {Code::kBadKey, "node key " + (config.home / config.node_key_file).string() + " does not hold a valid key"};
  // The file's "address" is not covered by its MAC: one that is not this key's was edited in.
  PublicKey stated;
  Result address = KeystoreAddress(keystore, &stated);
  if (address.ok() && stated != (*out)->public_key())
    return {Code::kMismatch, (config.home / config.node_key_file).string() + ": the file's \"address\" " + EncodeAddress(stated) +
                                 " is not the address of the key it holds (" + EncodeAddress((*out)->public_key()) +
                                 "); the file was edited. Restore it from a backup"};
  if (!address.ok() && address.code() != Code::kNotFound)
    return {address.code(), (config.home / config.node_key_file).string() + ": " + address.message()};
  return Result::Ok();
}

HomeLock::~HomeLock() {
  if (fd_ >= 0) ::close(fd_);
}

Result HomeLock::Acquire(const fs::path& home, std::unique_ptr<HomeLock>* out) {
  fs::path path = home / "kontord.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
  if (fd < 0) return {Code::kIo, "cannot open " + path.string()};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
    while (!pid.empty() && pid.back() == '\n') pid.pop_back();
    return {Code::kStorage, "another kontord (pid " + pid + ") is already running with home " + home.string()};
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    ::close(fd);
    return {Code::kIo, "cannot write " + path.string()};
  }
  out->reset(new HomeLock);
  (*out)->fd_ = fd;
  return Result::Ok();
}

}  // namespace kontor::node
