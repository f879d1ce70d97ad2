#include "node/home.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>

#include "ledger/bech32m.h"
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
  fs::create_directories(home / config.data_dir, ec);
  report->validator = node_key.public_key();
  report->genesis_hash = parsed.hash;
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
    KONTOR_RETURN_IF_ERROR(ReadWholeFile(config.home / config.node_key_passphrase_file, 4096, &passphrase));
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
