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
  Result List(std::vector<KeyEntry>* out) const;  // sorted by name
  Result Find(const std::string& name, KeyEntry* out) const;  // kNotFound names the directory searched
  // Decrypts (file backend: wrong passphrase is kNotAuthorized).
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

// Writes a file atomically with mode 0600 (temp file, fsync, rename). Errors: kIo.
Result WriteFileAtomic(const std::filesystem::path& path, std::string_view contents, bool private_mode);
Result ReadWholeFile(const std::filesystem::path& path, size_t bytes_max, std::string* out);

}  // namespace kontor::node
