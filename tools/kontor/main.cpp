// kontor: the command-line client of a Kontor node.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "tools/kontor/commands.h"

using namespace kontor::cli;

int main(int argc, char** argv) {
  CLI::App app{"kontor: keys, transactions and queries for a Kontor ledger node.\n\n"
               "Keys live in the home's keyring (encrypted Web3 v3 files; --keyring test for the unencrypted dev\n"
               "keys of `kontord init --dev`). Commands that talk to a node find it with --node, $KONTOR_NODE, the\n"
               "kontord.json a running node writes into its home, or the home's config.toml, in that order.\n\n"
               "Examples:\n"
               "  kontor --keyring test keys list\n"
               "  kontor --keyring test tx transfer --from alice --to bob --amount 12.5 --asset USDC\n"
               "  kontor query account bob --output json"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may also come after the subcommand (inherited by subcommands)
  Context ctx;
  const char* env_home = std::getenv("KONTOR_HOME");
  const char* user_home = std::getenv("HOME");
  ctx.home = env_home && *env_home ? std::filesystem::path(env_home) : std::filesystem::path(user_home ? user_home : ".") / ".kontor";
  app.add_option("--home", ctx.home, "home directory with the keyring (default $KONTOR_HOME or ~/.kontor)");
  app.add_option("--node", ctx.node_address, "node gRPC address HOST:PORT");
  app.add_option("--output,-o", ctx.output, "text or json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  app.add_option("--keyring", ctx.keyring_name, "file (encrypted) or test (unencrypted dev keys)")
      ->check(CLI::IsMember({"file", "test"}))->capture_default_str();
  app.add_option("--passphrase-file", ctx.passphrase_file, "read key passphrases from this file (else $KONTOR_PASSPHRASE or a prompt)");
  AddKeysCommands(app, ctx);
  AddTxCommands(app, ctx);
  AddQueryCommands(app, ctx);
  AddAuditCommands(app, ctx);
  AddMarketCommands(app, ctx);
  AddInvoiceCommands(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const CliError& e) {
    if (ctx.json_output()) {
      nlohmann::json err = {{"message", e.what()}};
      if (e.detail && e.detail->code() != 0)
        err = {{"code", e.detail->code()}, {"name", e.detail->name()}, {"category", e.detail->category()},
               {"message", e.what()}};
      std::printf("%s\n", nlohmann::json({{"error", err}}).dump(2).c_str());
    }
    std::fprintf(stderr, "kontor: %s\n", e.what());
    return 1;
  }
  return 0;
}
