// Named keys under a home directory, shared by kontord (its validator key) and the kontor CLI.
//   file backend (default): <home>/keys/<name>.json       Web3 Secret Storage v3, encrypted
//   test backend:           <home>/keyring-test/<name>.json  UNENCRYPTED, for devnets and tests
// Files are written 0600 through a temp file and rename, so a crash never leaves half a key.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ledger/keys.h"
#include "ledger/keystore.h"
#include "ledger/result.h"

namespace kontor::node {

enum class KeyringBackend { kFile, kTest };
// "file" or "test"; Errors: kBadField.
Result ParseKeyringBackend(std::string_view name, KeyringBackend* out);

struct KeyEntry {
  std::string name;
  PublicKey key;
  std::filesystem::path path;
  KeyringBackend backend = KeyringBackend::kFile;
  // True when `key` was derived from the secret (test keyring, or a key just added, imported or
  // unlocked). False for an encrypted file listed without its passphrase: `key` is then the
  // file's "address" field, which nothing authenticates; Unlock refuses the file if it is wrong.
  bool address_verified = false;
};

class Keyring {
 public:
  Keyring(std::filesystem::path home, KeyringBackend backend) : home_(std::move(home)), backend_(backend) {}

  // Names: 1..64 of a-z 0-9 _ - (kBadField otherwise). kDuplicate if the name exists.
  Result Add(const std::string& name, const PrivateKey& key, std::string_view passphrase, RandomSource& random,
             const ScryptParams& params, KeyEntry* out);
  // Copies an existing Web3 v3 key file in under `name` after checking the passphrase opens it.
  Result ImportKeystore(const std::string& name, std::string_view keystore_json, std::string_view passphrase,
                        KeyEntry* out);
  // Sorted by name. Files that cannot be read as keys (damaged, or a test key whose stored address
  // is not its secret's) are left out; `skipped` (optional) gets one message per such file.
  Result List(std::vector<KeyEntry>* out, std::vector<std::string>* skipped = nullptr) const;
  // kNotFound names the directory searched. Test keyring: kMismatch if the stored address is not
  // the secret's.
  Result Find(const std::string& name, KeyEntry* out) const;
  // Decrypts (file backend: wrong passphrase is kNotAuthorized). kMismatch (naming the file) if
  // the file's "address" is not the address of the key it holds.
  Result Unlock(const std::string& name, std::string_view passphrase, std::optional<PrivateKey>* out) const;
  Result ReadFile(const std::string& name, std::string* contents) const;
  Result Delete(const std::string& name);

  std::filesystem::path dir() const;
  KeyringBackend backend() const { return backend_; }

 private:
  std::filesystem::path PathOf(const std::string& name) const { return dir() / (name + ".json"); }
  std::filesystem::path home_;
  KeyringBackend backend_;
};

// A test-keyring file: {"name", "address", "secret"} with the secret in hex.
std::string TestKeyJson(const std::string& name, const PrivateKey& key);

// Writes a file atomically: creates <path>.tmp with O_EXCL|O_NOFOLLOW (mode 0600 if private_mode,
// else 0644; a stale regular .tmp is removed first, anything else there is refused), writes and
// fsyncs it, renames it over `path`, then fsyncs the directory. Errors: kIo.
Result WriteFileAtomic(const std::filesystem::path& path, std::string_view contents, bool private_mode);
// Reads a whole regular file of at most bytes_max bytes. Anything else (a directory, a device,
// a FIFO that would block) is refused with kIo, unless allow_pipe admits a pipe (a passphrase
// given as <(...)). Errors: kNotFound (no such file), kIo, kTooLarge.
Result ReadWholeFile(const std::filesystem::path& path, size_t bytes_max, std::string* out, bool allow_pipe = false);

}  // namespace kontor::node
