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

// Creates `tmp` afresh: a regular file left by an interrupted write is removed; anything else
// (a symlink planted to redirect the write, a directory, a fifo) is refused, never followed.
static Result OpenFreshTemp(const fs::path& tmp, bool private_mode, int* fd_out) {
  struct stat st {};
  if (::lstat(tmp.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode))
      return {Code::kIo, "refusing to write through " + tmp.string() + ": it exists and is not a regular file (remove it)"};
    if (::unlink(tmp.c_str()) != 0 && errno != ENOENT)
      return {Code::kIo, "cannot remove stale " + tmp.string() + ": " + std::strerror(errno)};
  } else if (errno != ENOENT) {
    return {Code::kIo, "cannot check " + tmp.string() + ": " + std::strerror(errno)};
  }
  // O_EXCL with O_CREAT fails on any existing name, symlinks included (even dangling ones).
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, private_mode ? 0600 : 0644);
  if (fd < 0) return {Code::kIo, "cannot create " + tmp.string() + ": " + std::strerror(errno)};
  *fd_out = fd;
  return Result::Ok();
}

static Result SyncDirectory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return {Code::kIo, "cannot open directory " + dir.string() + ": " + std::strerror(errno)};
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  if (rc != 0) return {Code::kIo, "cannot sync directory " + dir.string() + ": " + std::strerror(saved)};
  return Result::Ok();
}

Result WriteFileAtomic(const fs::path& path, std::string_view contents, bool private_mode) {
  std::error_code ec;
  const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  fs::create_directories(dir, ec);
  if (ec) return {Code::kIo, "cannot create " + dir.string() + ": " + ec.message()};
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = -1;
  KONTOR_RETURN_IF_ERROR(OpenFreshTemp(tmp, private_mode, &fd));
  auto fail = [&](const std::string& what) -> Result {
    std::string reason = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return {Code::kIo, "cannot " + what + " " + tmp.string() + ": " + reason};
  };
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("sync");
  int rc = ::close(fd);
  fd = -1;
  if (rc != 0) return fail("close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string reason = std::strerror(errno);
    ::unlink(tmp.c_str());
    return {Code::kIo, "cannot rename " + tmp.string() + " to " + path.string() + ": " + reason};
  }
  // The rename is durable only once the directory entry is on disk.
  return SyncDirectory(dir);
}

Result ReadWholeFile(const fs::path& path, size_t bytes_max, std::string* out, bool allow_pipe) {
  // Opened without blocking and checked to be a regular file before anything is read: a FIFO
  // would hang the reader, and a directory or device is not a file someone meant to give us.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int err = errno;
    std::string reason = std::strerror(err);
    return {err == ENOENT ? Code::kNotFound : Code::kIo, "cannot read " + path.string() + ": " + reason};
  }
  struct stat st {};
  const bool ok_kind = ::fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || (allow_pipe && S_ISFIFO(st.st_mode)));
  if (!ok_kind) {
    ::close(fd);
    return {Code::kIo, path.string() + (allow_pipe ? " is not a regular file or a pipe" : " is not a regular file")};
  }
  if (S_ISFIFO(st.st_mode)) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // wait for the writer
  if (static_cast<uint64_t>(st.st_size) > bytes_max) {
    ::close(fd);
    return {Code::kTooLarge, path.string() + " is larger than " + std::to_string(bytes_max) + " bytes"};
  }
  out->clear();
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string reason = std::strerror(errno);
      ::close(fd);
      return {Code::kIo, "cannot read " + path.string() + ": " + reason};
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > bytes_max) {  // it grew while we read
      ::close(fd);
      return {Code::kTooLarge, path.string() + " is larger than " + std::to_string(bytes_max) + " bytes"};
    }
  }
  ::close(fd);
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
  if (out) *out = KeyEntry{name, key.public_key(), PathOf(name), backend_, /*address_verified=*/true};
  return Result::Ok();
}

Result Keyring::ImportKeystore(const std::string& name, std::string_view keystore_json, std::string_view passphrase,
                               KeyEntry* out) {
  KONTOR_RETURN_IF_ERROR(CheckName(name));
  if (backend_ != KeyringBackend::kFile) return {Code::kBadField, "import a Web3 key file into the 'file' keyring"};
  if (fs::exists(PathOf(name))) return {Code::kDuplicate, "a key named '" + name + "' already exists in " + dir().string()};
  Bytes secret;
  WipeOnExit wipe_secret(secret);
  KONTOR_RETURN_IF_ERROR(DecryptKeystore(keystore_json, passphrase, &secret));
  auto key = PrivateKey::FromBytes(secret);
  if (!key) return {Code::kBadKey, "key file holds an invalid secret"};
  // Keep the file as given, with the address of the key it decrypts to (whatever address it
  // came with), so List needs no passphrase; Unlock checks it again.
  json doc = json::parse(keystore_json, nullptr, false);
  doc["address"] = EncodeAddress(key->public_key());
  KONTOR_RETURN_IF_ERROR(WriteFileAtomic(PathOf(name), doc.dump(2) + "\n", true));
  if (out) *out = KeyEntry{name, key->public_key(), PathOf(name), backend_, /*address_verified=*/true};
  return Result::Ok();
}

// A stored address that is not the key's: someone edited the file (e.g. put another party's
// address in it so that `keys list` shows theirs, and payments to this name go to them).
static Result AddressMismatch(const fs::path& path, const PublicKey& stored, const PublicKey& actual) {
  return {Code::kMismatch, path.string() + ": the file's \"address\" " + EncodeAddress(stored) +
                               " is not the address of the key it holds (" + EncodeAddress(actual) +
                               "); the file was edited: do not use it"};
}

// The secret of a test-keyring file (plaintext hex). The caller wipes it.
static Result TestKeySecret(const fs::path& path, const json& doc, Bytes* secret) {
  auto hex = doc.is_object() && doc.contains("secret") && doc["secret"].is_string()
                 ? HexDecode(doc["secret"].get<std::string>())
                 : std::nullopt;
  if (!hex) return {Code::kMalformed, "test key " + path.string() + " has no hex \"secret\""};
  *secret = std::move(*hex);
  return Result::Ok();
}

// File keyring: the address as stored (unverifiable without the passphrase).
// Test keyring: the address derived from the plaintext secret; a stored one that differs is kMismatch.
static Result EntryFromFile(const fs::path& path, KeyringBackend backend, KeyEntry* out) {
  std::string text;
  KONTOR_RETURN_IF_ERROR(ReadWholeFile(path, 64 * 1024, &text));
  WipeOnExit wipe_text(text);
  if (backend == KeyringBackend::kFile) {
    PublicKey key;
    Result r = KeystoreAddress(text, &key);
    if (r.code() == Code::kNotFound || r.code() == Code::kMalformed)
      return {Code::kMalformed, path.string() + " is not a Kontor key file (no \"address\")"};
    if (!r.ok()) return {r.code(), path.string() + ": \"address\": " + r.message()};
    *out = KeyEntry{path.stem().string(), key, path, backend, /*address_verified=*/false};
    return Result::Ok();
  }
  json doc = json::parse(text, nullptr, false);
  Bytes secret;
  KONTOR_RETURN_IF_ERROR(TestKeySecret(path, doc, &secret));
  WipeOnExit wipe_secret(secret);
  auto key = PrivateKey::FromBytes(secret);
  if (!key) return {Code::kBadKey, "test key " + path.string() + " holds an invalid secret"};
  PublicKey stored;
  if (KeystoreAddress(text, &stored).ok() && stored != key->public_key())
    return AddressMismatch(path, stored, key->public_key());
  *out = KeyEntry{path.stem().string(), key->public_key(), path, backend, /*address_verified=*/true};
  return Result::Ok();
}

Result Keyring::List(std::vector<KeyEntry>* out, std::vector<std::string>* skipped) const {
  out->clear();
  if (skipped) skipped->clear();
  std::error_code ec;
  if (!fs::exists(dir(), ec)) return Result::Ok();
  for (const auto& entry : fs::directory_iterator(dir(), ec)) {
    if (entry.path().extension() != ".json") continue;
    KeyEntry e;
    Result r = EntryFromFile(entry.path(), backend_, &e);
    if (r.ok()) out->push_back(std::move(e));
    else if (skipped) skipped->push_back(r.message());
  }
  std::sort(out->begin(), out->end(), [](const KeyEntry& a, const KeyEntry& b) { return a.name < b.name; });
  if (skipped) std::sort(skipped->begin(), skipped->end());
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
  KeyEntry entry;  // test keyring: Find already checked the stored address against the secret
  KONTOR_RETURN_IF_ERROR(Find(name, &entry));
  std::string text;
  KONTOR_RETURN_IF_ERROR(ReadWholeFile(entry.path, 64 * 1024, &text));
  WipeOnExit wipe_text(text);
  Bytes secret;
  WipeOnExit wipe_secret(secret);
  if (backend_ == KeyringBackend::kFile) {
    Result r = DecryptKeystore(text, passphrase, &secret);
    if (!r.ok()) return {r.code(), "key '" + name + "': " + r.message()};
  } else {
    KONTOR_RETURN_IF_ERROR(TestKeySecret(entry.path, json::parse(text, nullptr, false), &secret));
  }
  std::optional<PrivateKey> key = PrivateKey::FromBytes(secret);
  if (!key) return {Code::kBadKey, "key '" + name + "' holds an invalid secret"};
  // The stored address is what `keys list` showed and what `--to NAME` paid: it must be this key's.
  if (entry.key != key->public_key()) return AddressMismatch(entry.path, entry.key, key->public_key());
  *out = std::move(key);
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
