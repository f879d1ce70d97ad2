// kontor audit replay: verify a node's whole store from genesis, offline.
#include <unistd.h>

#include <chrono>

#include "contracts/app.h"
#include "ledger/codec.h"
#include "ledger/chain.h"
#include "ledger/replay.h"
#include "node/home.h"
#include "tools/kontor/commands.h"

namespace kontor::cli {

void AddAuditCommands(CLI::App& app, Context& ctx) {
  auto* audit = app.add_subcommand("audit", "verify the ledger independently of any running node")->require_subcommand(1);
  static std::string node_home, data_dir, genesis_file;
  auto* replay = audit->add_subcommand(
      "replay", "rebuild the state from genesis over a (stopped) node's store, verifying every block, commit, signature "
                "and state root; stops at the first discrepancy and names its height and tx");
  replay->add_option("--node-home", node_home, "the node's home (uses its genesis.json and data/)");
  replay->add_option("--data", data_dir, "the LevelDB store directory (instead of --node-home)");
  replay->add_option("--genesis", genesis_file, "the genesis file (instead of --node-home)");
  replay->callback([&ctx] {
    std::filesystem::path data = data_dir, genesis_path = genesis_file;
    if (!node_home.empty()) {
      if (data.empty()) data = std::filesystem::path(node_home) / "data";
      if (genesis_path.empty()) genesis_path = std::filesystem::path(node_home) / "genesis.json";
    }
    if (data.empty() || genesis_path.empty()) throw CliError("give --node-home DIR, or both --data DIR and --genesis FILE");
    Check(CodecSelfTest(), "this build");  // a replay hashes what this build's protobuf writes
    std::string text;
    Check(node::ReadWholeFile(genesis_path, 16 * 1024 * 1024, &text), "genesis");
    Genesis genesis;
    Check(ParseGenesis(text, &genesis), genesis_path.string());
    StoreOptions options;
    options.path = data.string();
    options.create_if_missing = false;
    std::unique_ptr<Store> store;
    Check(Store::Open(options, &store), "store");
    contracts::KontorApp app;
    ThreadPool pool(0);
    ReplayReport report;
    auto started = std::chrono::steady_clock::now();
    auto last_print = started;
    bool tty = isatty(fileno(stderr));
    // A node home also records its pinned genesis and last committed block (tip.json): a
    // store that verifies but was rolled back, or an edited genesis.json, is a discrepancy.
    Result home_check = Result::Ok();
    if (!node_home.empty()) {
      node::DurableTip tip;
      Result read = node::ReadDurableTip(node_home, &tip);
      if (read.ok()) {
        home_check = node::CheckGenesisPinned(node_home, tip, genesis);
        if (home_check.ok()) home_check = node::CheckStoreHoldsTip(*store, tip);
      } else if (read.code() != Code::kNotFound) {
        home_check = read;
      }
    }
    Result r = !home_check.ok() ? home_check : Replay(*store, genesis, app, pool, &report, [&](uint64_t height, uint64_t tip) {
      auto now = std::chrono::steady_clock::now();
      if (tty && now - last_print > std::chrono::milliseconds(500)) {
        std::fprintf(stderr, "\rreplayed %llu / %llu blocks", static_cast<unsigned long long>(height),
                     static_cast<unsigned long long>(tip));
        last_print = now;
      }
    });
    if (tty) std::fprintf(stderr, "\r%60s\r", "");
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    json doc = {{"ok", r.ok()}, {"tip_height", report.tip_height}, {"verified_height", report.verified_height},
                {"txs", report.txs}, {"state_root", report.state_root.hex()}, {"seconds", seconds}};
    if (!r.ok()) {
      doc["failed_height"] = report.failed_height;
      if (report.failed_tx >= 0) doc["failed_tx"] = report.failed_tx;
      doc["error"] = {{"code", static_cast<unsigned>(r.code())}, {"name", std::string(CodeName(r.code()))}, {"message", r.message()}};
    }
    if (ctx.json_output()) {
      PrintJson(doc);
    } else {
      PrintFields({{"result", r.ok() ? "the store verifies from genesis" : "DISCREPANCY"},
                   {"tip height", std::to_string(report.tip_height)},
                   {"verified to", std::to_string(report.verified_height)},
                   {"txs", std::to_string(report.txs)},
                   {"state root", report.state_root.hex()},
                   {"time", std::to_string(seconds) + " s"}});
    }
    if (!r.ok()) {
      std::string where = "height " + std::to_string(report.failed_height) +
                          (report.failed_tx >= 0 ? ", tx " + std::to_string(report.failed_tx) : "");
      throw CliError("replay failed at " + where + ": " + r.ToString());
    }
  });
}

}  // namespace kontor::cli
