// kontor keys new|list|show|import|export|delete
#include <CLI/CLI.hpp>

#include "ledger/bech32m.h"
#include "ledger/keystore.h"
#include "tools/kontor/commands.h"

namespace kontor::cli {

namespace {

// An encrypted file's "address" cannot be checked without its passphrase (see docs/operator.md,
// "Key files"): it is shown, but never as a fact.
constexpr const char* kUnverifiedNote =
    "(unverified: read from the encrypted file; checked when the key is unlocked, or now with `kontor keys show NAME "
    "--verify`)";

json EntryJson(const node::KeyEntry& e) {
  return {{"name", e.name},
          {"address", EncodeAddress(e.key)},
          {"address_verified", e.address_verified},
          {"public_key", e.key.hex()},
          {"keyring", e.backend == node::KeyringBackend::kFile ? "file" : "test"},
          {"file", e.path.string()}};
}

void PrintEntry(const Context& ctx, const node::KeyEntry& e) {
  if (ctx.json_output()) return PrintJson(EntryJson(e));
  PrintFields({{"name", e.name},
               {"address", EncodeAddress(e.key) + (e.address_verified ? "" : std::string(" ") + kUnverifiedNote)},
               {"public key", e.key.hex()},
               {"keyring", e.backend == node::KeyringBackend::kFile ? "file (encrypted)" : "test (UNENCRYPTED)"},
               {"file", e.path.string()}});
}

}  // namespace

void AddKeysCommands(CLI::App& app, Context& ctx) {
  auto* keys = app.add_subcommand("keys", "manage signing keys in the home's keyring")->require_subcommand(1);

  auto* add = keys->add_subcommand("new", "create a new random key (file keyring: encrypted with a passphrase)");
  static std::string name;
  add->add_option("name", name, "key name (a-z 0-9 _ -)")->required();
  add->callback([&ctx] {
    node::Keyring ring = ctx.keyring();
    OsRandom random;
    PrivateKey key = GeneratePrivateKey(random);
    std::string passphrase = ring.backend() == node::KeyringBackend::kFile
                                 ? ctx.Passphrase("passphrase for the new key '" + name + "': ", true)
                                 : "";
    WipeOnExit wipe_passphrase(passphrase);
    if (ring.backend() == node::KeyringBackend::kFile && passphrase.size() < 8)
      throw CliError("choose a passphrase of at least 8 characters");
    node::KeyEntry entry;
    Check(ring.Add(name, key, passphrase, random, {}, &entry));
    PrintEntry(ctx, entry);
  });

  auto* list = keys->add_subcommand("list", "list the keys of the keyring");
  list->callback([&ctx] {
    std::vector<node::KeyEntry> entries;
    std::vector<std::string> skipped;
    Check(ctx.keyring().List(&entries, &skipped));
    for (const auto& why : skipped) std::fprintf(stderr, "warning: skipped %s\n", why.c_str());
    if (ctx.json_output()) {
      json out = json::array();
      for (const auto& e : entries) out.push_back(EntryJson(e));
      return PrintJson(out);
    }
    if (entries.empty()) {
      std::printf("no keys in %s (create one with `kontor keys new NAME`)\n", ctx.keyring().dir().c_str());
      return;
    }
    size_t width = 4;
    for (const auto& e : entries) width = std::max(width, e.name.size());
    bool any_unverified = false;
    std::printf("%-*s  %s\n", static_cast<int>(width), "NAME", "ADDRESS");
    for (const auto& e : entries) {
      std::printf("%-*s  %s%s\n", static_cast<int>(width), e.name.c_str(), EncodeAddress(e.key).c_str(),
                  e.address_verified ? "" : " (unverified)");
      any_unverified |= !e.address_verified;
    }
    if (any_unverified)
      std::printf("\n(unverified): the address is read from the encrypted file and checked when the key is unlocked;\n"
                  "`kontor keys show NAME --verify` checks it now\n");
  });

  auto* show = keys->add_subcommand("show", "show a key's address and file");
  static bool verify = false;
  show->add_option("name", name, "key name")->required();
  show->add_flag("--verify", verify, "decrypt the key (asks its passphrase) to check the file's address");
  show->callback([&ctx] {
    node::KeyEntry entry;
    Check(ctx.keyring().Find(name, &entry));
    if (verify && !entry.address_verified) {
      (void)ctx.UnlockKey(name);  // kMismatch if the stored address is not the key's
      entry.address_verified = true;
    }
    PrintEntry(ctx, entry);
  });

  auto* import = keys->add_subcommand("import", "import a key: a Web3 v3 key file, or a 32-byte secret in hex");
  static std::string keystore_file, secret_file;
  import->add_option("name", name, "name to give the key")->required();
  auto* from_keystore = import->add_option("--keystore", keystore_file, "Web3 Secret Storage v3 JSON file (its passphrase is asked)");
  import->add_option("--secret-file", secret_file, "file holding the secret key as 64 hex characters")->excludes(from_keystore);
  import->callback([&ctx] {
    node::Keyring ring = ctx.keyring();
    node::KeyEntry entry;
    if (!keystore_file.empty()) {
      std::string text;
      Check(node::ReadWholeFile(keystore_file, 64 * 1024, &text), "--keystore");
      std::string passphrase = ctx.Passphrase("passphrase of " + keystore_file + ": ");
      WipeOnExit wipe_passphrase(passphrase);
      Check(ring.ImportKeystore(name, text, passphrase, &entry));
    } else if (!secret_file.empty()) {
      std::string text;
      Check(node::ReadWholeFile(secret_file, 4096, &text), "--secret-file");
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
      auto bytes = HexDecode(text);
      auto key = bytes ? PrivateKey::FromBytes(*bytes) : std::nullopt;
      if (!key) throw CliError(secret_file + " does not hold a valid secp256k1 secret key (64 hex characters)");
      OsRandom random;
      std::string passphrase = ring.backend() == node::KeyringBackend::kFile
                                   ? ctx.Passphrase("passphrase to encrypt '" + name + "': ", true)
                                   : "";
      WipeOnExit wipe_passphrase(passphrase);
      Check(ring.Add(name, *key, passphrase, random, {}, &entry));
    } else {
      throw CliError("give --keystore FILE or --secret-file FILE");
    }
    PrintEntry(ctx, entry);
  });

  auto* exp = keys->add_subcommand("export", "print a key's file (Web3 v3 JSON: still encrypted)");
  static bool unsafe_secret = false;
  exp->add_option("name", name, "key name")->required();
  exp->add_flag("--unsafe-secret", unsafe_secret, "print the raw secret key in hex instead (anyone who sees it owns the key)");
  exp->callback([&ctx] {
    if (unsafe_secret) {
      PrivateKey key = ctx.UnlockKey(name);
      if (ctx.json_output()) return PrintJson({{"name", name}, {"address", EncodeAddress(key.public_key())}, {"secret", HexEncode(key.secret())}});
      std::printf("%s\n", HexEncode(key.secret()).c_str());
      return;
    }
    std::string text;
    Check(ctx.keyring().ReadFile(name, &text));
    std::printf("%s", text.c_str());
  });

  auto* del = keys->add_subcommand("delete", "delete a key file (there is no undo)");
  static bool yes = false;
  del->add_option("name", name, "key name")->required();
  del->add_flag("--yes", yes, "confirm: delete without asking");
  del->callback([&ctx] {
    node::KeyEntry entry;
    Check(ctx.keyring().Find(name, &entry));
    if (!yes) throw CliError("deleting " + entry.path.string() + " cannot be undone; run again with --yes (export it first to keep a copy)");
    Check(ctx.keyring().Delete(name));
    if (ctx.json_output()) return PrintJson({{"deleted", name}, {"address", EncodeAddress(entry.key)}});
    std::printf("deleted key '%s' (%s)\n", name.c_str(), EncodeAddress(entry.key).c_str());
  });
}

}  // namespace kontor::cli
