// kontord: the Kontor node daemon.
//   kontord init  --home DIR [--dev]     create a node home (config, genesis, encrypted node key)
//   kontord start --home DIR             run the node until SIGINT/SIGTERM
//   kontord genesis …                    build a genesis with several validators (node/genesis_edit.h)
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "ledger/codec.h"
#include "ledger/bech32m.h"
#include "node/genesis_edit.h"
#include "node/grpc_service.h"
#include "node/home.h"
#include "node/http_server.h"
#include "node/keyring.h"
#include "node/node.h"

using namespace kontor;
using namespace kontor::node;
namespace fs = std::filesystem;

namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "kontord: %s\n", what.c_str());
  return 1;
}

fs::path DefaultHome() {
  const char* env = std::getenv("KONTOR_HOME");
  if (env && *env) return env;
  const char* home = std::getenv("HOME");
  return fs::path(home ? home : ".") / ".kontor";
}

void SetUpLogging(const std::string& level) {
  auto logger = spdlog::stderr_logger_mt("kontord");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::info);
}

int Init(const fs::path& home, bool dev, const std::string& chain_id, const std::string& passphrase_file,
         const Config& overrides) {
  InitOptions options;
  WipeOnExit wipe_passphrase(options.node_passphrase);
  options.home = home;
  options.dev = dev;
  options.chain_id = chain_id;
  options.config = overrides;
  options.genesis_time_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  if (!dev) {
    if (!passphrase_file.empty()) {
      Result r = ReadWholeFile(passphrase_file, 4096, &options.node_passphrase, /*allow_pipe=*/true);
      if (!r.ok()) return Fail(r.message());
      while (!options.node_passphrase.empty() && options.node_passphrase.back() == '\n') options.node_passphrase.pop_back();
    } else if (const char* env = std::getenv("KONTOR_NODE_PASSPHRASE")) {
      options.node_passphrase = env;
    } else {
      return Fail("the node key will be encrypted: give --passphrase-file or set KONTOR_NODE_PASSPHRASE (or use --dev)");
    }
    if (options.node_passphrase.size() < 8) return Fail("the node key passphrase must be at least 8 characters");
  }
  OsRandom random;
  InitReport report;
  Result r = InitHome(options, random, &report);
  if (!r.ok()) return Fail(r.message());
  std::printf("initialised %s\n  chain:     %s\n  genesis:   %s\n  validator: %s\n", home.c_str(),
              dev ? (chain_id.empty() ? "kontor-dev" : chain_id.c_str()) : (chain_id.empty() ? "kontor-1" : chain_id.c_str()),
              report.genesis_hash.hex().c_str(), EncodeAddress(report.validator).c_str());
  if (dev) {
    std::printf("\ndev keys (unencrypted test keyring in %s/keyring-test, each funded with KTR, USDC and USDT):\n",
                home.c_str());
    for (const auto& [name, key] : report.dev_keys) std::printf("  %-8s %s\n", name.c_str(), EncodeAddress(key).c_str());
    std::printf("\nstart the node:   kontord start --home %s\n", home.c_str());
    std::printf("then, e.g.:       kontor --home %s --keyring test tx transfer --from alice --to bob --amount 12.5 --asset USDC\n",
                home.c_str());
  } else {
    std::printf("\nto change genesis.json (assets, balances) before the first block, edit it, then run\n"
                "  kontord init --home %s --adopt-genesis\nstart the node:   kontord start --home %s\n",
                home.c_str(), home.c_str());
  }
  return 0;
}

int Start(const fs::path& home, const std::string& grpc_listen, const std::string& http_listen, const std::string& log_level) {
  // Before anything is hashed: this build's protobuf must write the bytes of protocol §3.
  if (Result c = CodecSelfTest(); !c.ok()) return Fail(c.ToString());
  Config config;
  Result r = LoadConfig(home, &config);
  if (!r.ok()) return Fail(r.message());
  if (!grpc_listen.empty()) config.grpc_listen = grpc_listen;
  if (!http_listen.empty()) config.http_listen = http_listen;
  if (!log_level.empty()) config.log_level = log_level;
  if (Result v = ValidateConfig(config); !v.ok()) return Fail(v.message());
  SetUpLogging(config.log_level);

  std::unique_ptr<HomeLock> lock;
  if (r = HomeLock::Acquire(home, &lock); !r.ok()) return Fail(r.message());
  Genesis genesis;
  if (r = LoadGenesisFile(home, &genesis); !r.ok()) return Fail(r.message());
  std::optional<PrivateKey> key;
  if (r = LoadNodeKey(config, &key); !r.ok()) return Fail(r.message());

  // SIGINT/SIGTERM are handled by this thread alone (sigwait), never by a worker.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Node node(config, genesis, *key);
  if (r = node.Start(); !r.ok()) return Fail(r.message());
  GrpcServer grpc(node);
  int grpc_port = 0, http_port = 0;
  if (r = grpc.Start(config.grpc_listen, config.grpc_message_bytes_max, &grpc_port); !r.ok()) return Fail(r.message());
  HttpServer http(node);
  if (r = http.Start(config.http_listen, &http_port); !r.ok()) return Fail(r.message());

  std::string grpc_address = config.grpc_listen.substr(0, config.grpc_listen.rfind(':')) + ":" + std::to_string(grpc_port);
  std::string http_address = config.http_listen.substr(0, config.http_listen.rfind(':')) + ":" + std::to_string(http_port);
  nlohmann::json run = {{"pid", ::getpid()}, {"grpc", grpc_address}, {"http", http_address}, {"chain_id", genesis.chain_id}};
  (void)WriteFileAtomic(home / "kontord.json", run.dump(2) + "\n", false);
  spdlog::info("kontord {} chain {} validator {}", kVersion, genesis.chain_id, EncodeAddress(node.validator()));
  spdlog::info("gRPC listening on {}; HTTP (/metrics, /healthz) on {}", grpc_address, http_address);

  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("received {}, shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
  node.Stop();
  grpc.Shutdown();
  http.Stop();
  std::error_code ec;
  fs::remove(home / "kontord.json", ec);
  spdlog::info("stopped cleanly at height {}", node.GetStatus().height);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kontord: the Kontor ledger node.\n\n"
               "A node keeps the hash-chained ledger in an embedded LevelDB store, admits signed transactions into\n"
               "its mempool, produces a block every block_interval_ms while there is work, and serves a gRPC API\n"
               "and an HTTP port with /metrics and /healthz. See docs/operator.md."};
  app.require_subcommand(1);
  fs::path home = DefaultHome();
  app.add_option("--home", home, "node home directory (default $KONTOR_HOME or ~/.kontor)");

  auto* init = app.add_subcommand("init", "create a node home: config.toml, genesis.json, encrypted node key");
  bool dev = false;
  std::string chain_id, passphrase_file;
  Config overrides;
  init->add_flag("--dev", dev, "one-validator dev chain with funded keys alice, bob, carol and gateway in a test keyring");
  init->add_option("--chain-id", chain_id, "chain id (default kontor-dev with --dev, else kontor-1)");
  init->add_option("--passphrase-file", passphrase_file, "file holding the node key passphrase (else $KONTOR_NODE_PASSPHRASE)");
  init->add_option("--grpc-listen", overrides.grpc_listen, "gRPC address to write into config.toml")->capture_default_str();
  init->add_option("--http-listen", overrides.http_listen, "HTTP address to write into config.toml")->capture_default_str();
  init->add_option("--block-interval-ms", overrides.block_interval_ms, "block interval to write into config.toml")
      ->capture_default_str();

  auto* start = app.add_subcommand("start", "run the node in the foreground until SIGINT or SIGTERM");
  std::string grpc_listen, http_listen, log_level;
  start->add_option("--grpc-listen", grpc_listen, "override api.grpc_listen (host:port, port 0 = any free port)");
  start->add_option("--http-listen", http_listen, "override api.http_listen");
  start->add_option("--log-level", log_level, "override node.log_level (trace, debug, info, warn, error)");

  bool adopt_genesis = false;
  init->add_flag("--adopt-genesis", adopt_genesis,
                 "in an initialised home whose chain has no block yet: adopt the edited genesis.json (pin its hash and "
                 "recreate the store at it)");

  auto* genesis = app.add_subcommand(
      "genesis",
      "build a genesis with several validators before the first block: add validators and balances to this home's\n"
      "genesis.json, then share the file; each operator copies it into its home and runs `kontord init --adopt-genesis`");
  genesis->require_subcommand(1);
  std::string g_address, g_name, g_asset;
  uint64_t g_power = 1, g_amount = 0;
  auto* add_validator = genesis->add_subcommand("add-validator", "add a validator (the address `kontord init` printed)");
  add_validator->add_option("address", g_address, "the validator's kx1… address")->required();
  add_validator->add_option("--power", g_power, "voting power, at least 1")->capture_default_str();
  add_validator->add_option("--name", g_name, "a name for it (shown by `genesis show`)");
  auto* remove_validator = genesis->add_subcommand("remove-validator", "remove a validator");
  remove_validator->add_option("address", g_address, "the validator's kx1… address")->required();
  auto* add_balance = genesis->add_subcommand("add-balance", "fund an account at genesis (added to what it has)");
  add_balance->add_option("address", g_address, "the account's kx1… address")->required();
  add_balance->add_option("asset", g_asset, "asset symbol, one the genesis defines")->required();
  add_balance->add_option("amount", g_amount, "amount in the asset's smallest unit")->required();
  auto* show = genesis->add_subcommand("show", "print the genesis: chain id, hash, validators, assets (JSON)");

  CLI11_PARSE(app, argc, argv);
  if (genesis->parsed()) {
    Genesis edited;
    Result r;
    if (add_validator->parsed()) {
      r = GenesisAddValidator(home, g_address, g_power, g_name, &edited);
    } else if (remove_validator->parsed()) {
      r = GenesisRemoveValidator(home, g_address, &edited);
    } else if (add_balance->parsed()) {
      r = GenesisAddBalance(home, g_address, g_asset, g_amount, &edited);
    } else if (show->parsed()) {
      r = LoadGenesisFile(home, &edited);
    }
    if (!r.ok()) return Fail(r.ToString());
    std::printf("%s\n", GenesisSummary(edited).c_str());
    if (!show->parsed()) {
      std::fprintf(stderr, "wrote %s/genesis.json; run `kontord init --home %s --adopt-genesis` before the first start\n",
                   home.c_str(), home.c_str());
    }
    return 0;
  }
  if (init->parsed() && adopt_genesis) {
    Hash256 genesis_hash;
    if (Result r = AdoptGenesis(home, &genesis_hash); !r.ok()) return Fail(r.message());
    std::printf("adopted %s/genesis.json\n  genesis:   %s\n", home.c_str(), genesis_hash.hex().c_str());
    return 0;
  }
  if (init->parsed()) return Init(home, dev, chain_id, passphrase_file, overrides);
  return Start(home, grpc_listen, http_listen, log_level);
}
