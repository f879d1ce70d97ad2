#include "node/keyring.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ledger/bech32m.h"

namespace kontor::node {

namespace fs = std::filesystem;
using nlohmann::json;

Result ParseKeyringBackend(std::string_view name, KeyringBackend* out) {
  if (name == "file") *out = KeyringBackend::kFile;
  else if (name == "test") *out = KeyringBackend::kTest;
  else return {Code::kBadField, "keyring must be 'file' (encrypted) or 'test' (unencrypted dev keys), not '" + std::string(name) + "'"};
  return Result::Ok();
}

static Result CheckName(const std::string& name) {
  if (name.empty() || name.size() > 64) return {Code::kBadField, "key name must be 1..64 characters"};
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return {Code::kBadField, "key name '" + name + "' may only use a-z, 0-9, _ and -"};
  return Result::Ok();
}

Result WriteFileAtomic(const fs::path& path, std::string_view contents, bool private_mode) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return {Code::kIo, "cannot create " + path.parent_path().string() + ": " + ec.message()};
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, private_mode ? 0600 : 0644);
  if (fd < 0) return {Code::kIo, "cannot write " + tmp.string() + ": " + std::strerror(errno)};
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return {Code::kIo, "cannot write " + tmp.string() + ": " + std::strerror(errno)};
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return {Code::kIo, "cannot sync " + tmp.string() + ": " + std::strerror(errno)};
  fs::rename(tmp, path, ec);
  if (ec) return {Code::kIo, "cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message()};
  return Result::Ok();
}

Result ReadWholeFile(const fs::path& path, size_t bytes_max, std::string* out) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return {Code::kNotFound, "cannot read " + path.string() + ": " + ec.message()};
  if (size > bytes_max) return {Code::kTooLarge, path.string() + " is larger than " + std::to_string(bytes_max) + " bytes"};
  std::ifstream in(path, std::ios::binary);
  if (!in) return {Code::kIo, "cannot open " + path.string()};
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return Result::Ok();
}

std::string TestKeyJson(const std::string& name, const PrivateKey& key) {
  json doc = {{"name", name},
              {"address", EncodeAddress(key.public_key())},
              {"secret", HexEncode(key.secret())},
              {"warning", "UNENCRYPTED TEST KEY: for devnets and tests only"}};
  return doc.dump(2) + "\n";
}

fs::path Keyring::dir() const { return home_ / (backend_ == KeyringBackend::kFile ? "keys" : "keyring-test"); }

Result Keyring::Add(const std::string& name, const PrivateKey& key, std::string_view passphrase, RandomSource& random,
                    const ScryptParams& params, KeyEntry* out) {
  KONTOR_RETURN_IF_ERROR(CheckName(name));
  if (fs::exists(PathOf(name))) return {Code::kDuplicate, "a key named '" + name + "' already exists in " + dir().string()};
  std::string contents = backend_ == KeyringBackend::kFile ? EncryptKeystore(key, passphrase, random, params)
                                                           : TestKeyJson(name, key);
  KONTOR_RETURN_IF_ERROR(WriteFileAtomic(PathOf(name), contents, true));
  if (out) *out = KeyEntry{name, key.public_key(), PathOf(name), backend_};
  return Result::Ok();
}

Result Keyring::ImportKeystore(const std::string& name, std::string_view keystore_json, std::string_view passphrase,
                               KeyEntry* out) {
  KONTOR_RETURN_IF_ERROR(CheckName(name));
  if (backend_ != KeyringBackend::kFile) return {Code::kBadField, "import a Web3 key file into the 'file' keyring"};
  if (fs::exists(PathOf(name))) return {Code::kDuplicate, "a key named '" + name + "' already exists in " + dir().string()};
  Bytes secret;
  KONTOR_RETURN_IF_ERROR(DecryptKeystore(keystore_json, passphrase, &secret));
  auto key = PrivateKey::FromBytes(secret);
  if (!key) return {Code::kBadKey, "key file holds an invalid secret"};
  // Keep the file as given, adding our address so List needs no passphrase.
  json doc = json::parse(keystore_json, nullptr, false);
  doc["address"] = EncodeAddress(key->public_key());
  KONTOR_RETURN_IF_ERROR(WriteFileAtomic(PathOf(name), doc.dump(2) + "\n", true));
  if (out) *out = KeyEntry{name, key->public_key(), PathOf(name), backend_};
  return Result::Ok();
}

static Result EntryFromFile(const fs::path& path, KeyringBackend backend, KeyEntry* out) {
  std::string text;
  KONTOR_RETURN_IF_ERROR(ReadWholeFile(path, 64 * 1024, &text));
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("address") || !doc["address"].is_string())
    return {Code::kMalformed, path.string() + " is not a Kontor key file (no \"address\")"};
  PublicKey key;
  KONTOR_RETURN_IF_ERROR(DecodeAddress(doc["address"].get<std::string>(), &key));
  *out = KeyEntry{path.stem().string(), key, path, backend};
  return Result::Ok();
}

Result Keyring::List(std::vector<KeyEntry>* out) const {
  out->clear();
  std::error_code ec;
  if (!fs::exists(dir(), ec)) return Result::Ok();
  for (const auto& entry : fs::directory_iterator(dir(), ec)) {
    if (entry.path().extension() != ".json") continue;
    KeyEntry e;
    if (EntryFromFile(entry.path(), backend_, &e).ok()) out->push_back(std::move(e));
  }
  std::sort(out->begin(), out->end(), [](const KeyEntry& a, const KeyEntry& b) { return a.name < b.name; });
  return Result::Ok();
}

Result Keyring::Find(const std::string& name, KeyEntry* out) const {
  KONTOR_RETURN_IF_ERROR(CheckName(name));
  if (!fs::exists(PathOf(name)))
    return {Code::kNotFound, "no key named '" + name + "' in " + dir().string() +
                                 (backend_ == KeyringBackend::kFile ? " (dev keys live in the test keyring: add --keyring test)" : "")};
  return EntryFromFile(PathOf(name), backend_, out);
}

Result Keyring::ReadFile(const std::string& name, std::string* contents) const {
  KeyEntry e;
  KONTOR_RETURN_IF_ERROR(Find(name, &e));
  return ReadWholeFile(e.path, 64 * 1024, contents);
}

Result Keyring::Unlock(const std::string& name, std::string_view passphrase, std::optional<PrivateKey>* out) const {
  std::string text;
  KONTOR_RETURN_IF_ERROR(ReadFile(name, &text));
  Bytes secret;
  if (backend_ == KeyringBackend::kFile) {
    Result r = DecryptKeystore(text, passphrase, &secret);
    if (!r.ok()) return {r.code(), "key '" + name + "': " + r.message()};
  } else {
    json doc = json::parse(text, nullptr, false);
    auto hex = doc.is_object() && doc.contains("secret") && doc["secret"].is_string()
                   ? HexDecode(doc["secret"].get<std::string>())
                   : std::nullopt;
    if (!hex) return {Code::kMalformed, "test key '" + name + "' has no hex \"secret\""};
    secret = *hex;
  }
  *out = PrivateKey::FromBytes(secret);
  if (!*out) return {Code::kBadKey, "key '" + name + "' holds an invalid secret"};
  return Result::Ok();
}

Result Keyring::Delete(const std::string& name) {
  KeyEntry e;
  KONTOR_RETURN_IF_ERROR(Find(name, &e));
  std::error_code ec;
  fs::remove(e.path, ec);
  if (ec) return {Code::kIo, "cannot delete " + e.path.string() + ": " + ec.message()};
  return Result::Ok();
}

}  // namespace kontor::node
