// A node's files: the keyring (node/keyring.h), config.toml (node/config.h), and the home that
// `kontord init` writes and `kontord start` locks (node/home.h). Each test works in its own
// temp directory under /tmp and removes it.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ledger/bech32m.h"
#include "ledger/genesis.h"
#include "ledger/keys.h"
#include "ledger/keystore.h"
#include "node/config.h"
#include "node/home.h"
#include "node/keyring.h"

using namespace kontor;
using namespace kontor::node;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr ScryptParams kFast{1024, 8, 1};

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    static std::atomic<int> counter{0};
    auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
    path = fs::path("/tmp") / ("kontor-unit-" + tag + "-" + std::to_string(::getpid()) + "-" +
                               std::to_string(counter++) + "-" + std::to_string(ticks));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

unsigned ModeOf(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  REQUIRE(out.good());
  out << text;
  out.close();
  REQUIRE(out.good());
}

std::vector<std::string> Names(const std::vector<KeyEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.name);
  return out;
}

// Files in `dir` whose name ends in ".tmp" (left over from an interrupted atomic write).
size_t TempFiles(const fs::path& dir) {
  size_t n = 0;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".tmp") ++n;
  return n;
}

json KeystoreVectors() {
  std::ifstream in(std::string(KONTOR_TEST_DATA) + "/keystore-v3.json");
  REQUIRE(in.good());
  return json::parse(in);
}

// LoadConfig of a config.toml with exactly `text`.
Result LoadText(const fs::path& home, const std::string& text, Config* out) {
  WriteText(home / "config.toml", text);
  return LoadConfig(home, out);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Keyring

TEST_CASE("keyring: backend names", "[keyring]") {
  KeyringBackend b = KeyringBackend::kTest;
  CHECK(ParseKeyringBackend("file", &b).ok());
  CHECK(b == KeyringBackend::kFile);
  CHECK(ParseKeyringBackend("test", &b).ok());
  CHECK(b == KeyringBackend::kTest);
  for (const char* bad : {"", "File", "os", "test "}) {
    INFO(bad);
    CHECK(ParseKeyringBackend(bad, &b).code() == Code::kBadField);
  }
}

TEST_CASE("keyring: file backend add, find, list, unlock, delete", "[keyring]") {
  TempDir home("keyring-file");
  Keyring keyring(home.path, KeyringBackend::kFile);
  CHECK(keyring.dir() == home.path / "keys");
  CHECK(keyring.backend() == KeyringBackend::kFile);
  SeededRandom random(42);
  const PrivateKey zeta = GeneratePrivateKey(random);
  const PrivateKey alpha = GeneratePrivateKey(random);

  std::vector<KeyEntry> list;
  REQUIRE(keyring.List(&list).ok());  // no keys directory yet
  CHECK(list.empty());

  KeyEntry entry;
  REQUIRE(keyring.Add("zeta", zeta, "pass-one", random, kFast, &entry).ok());
  CHECK(entry.name == "zeta");
  CHECK(entry.key == zeta.public_key());
  CHECK(entry.path == home.path / "keys" / "zeta.json");
  CHECK(entry.backend == KeyringBackend::kFile);
  REQUIRE(keyring.Add("alpha", alpha, "pass-two", random, kFast, nullptr).ok());

  // Encrypted at rest with the requested scrypt parameters, private, no temp file left.
  const fs::path zeta_path = home.path / "keys" / "zeta.json";
  const std::string text = ReadText(zeta_path);
  CHECK(text.find(HexEncode(zeta.secret())) == std::string::npos);
  json doc = json::parse(text);
  CHECK(doc.at("crypto").at("kdf") == "scrypt");
  CHECK(doc.at("crypto").at("kdfparams").at("n") == 1024);
  CHECK(doc.at("address") == EncodeAddress(zeta.public_key()));
  CHECK(ModeOf(zeta_path) == 0600);
  CHECK(ModeOf(home.path / "keys" / "alpha.json") == 0600);
  CHECK(TempFiles(home.path / "keys") == 0);
  std::string via_read_file;
  REQUIRE(keyring.ReadFile("zeta", &via_read_file).ok());
  CHECK(via_read_file == text);

  KeyEntry found;
  REQUIRE(keyring.Find("zeta", &found).ok());
  CHECK(found.name == "zeta");
  CHECK(found.key == zeta.public_key());
  CHECK(found.path == zeta_path);
  Result missing = keyring.Find("nobody", &found);
  CHECK(missing.code() == Code::kNotFound);
  CHECK_THAT(missing.message(), Catch::Contains((home.path / "keys").string()));

  REQUIRE(keyring.List(&list).ok());
  CHECK(Names(list) == std::vector<std::string>{"alpha", "zeta"});
  REQUIRE(list.size() == 2);
  CHECK(list[0].key == alpha.public_key());
  CHECK(list[1].key == zeta.public_key());

  std::optional<PrivateKey> unlocked;
  REQUIRE(keyring.Unlock("zeta", "pass-one", &unlocked).ok());
  REQUIRE(unlocked.has_value());
  CHECK(unlocked->secret() == zeta.secret());
  CHECK(unlocked->public_key() == zeta.public_key());
  std::optional<PrivateKey> wrong;
  Result denied = keyring.Unlock("zeta", "pass-two", &wrong);
  CHECK(denied.code() == Code::kNotAuthorized);
  CHECK_THAT(denied.message(), Catch::Contains("zeta"));
  CHECK_FALSE(wrong.has_value());
  REQUIRE(keyring.Unlock("alpha", "pass-two", &unlocked).ok());
  CHECK(unlocked->public_key() == alpha.public_key());

  REQUIRE(keyring.Delete("zeta").ok());
  CHECK_FALSE(fs::exists(zeta_path));
  CHECK(keyring.Find("zeta", &found).code() == Code::kNotFound);
  CHECK(keyring.Unlock("zeta", "pass-one", &unlocked).code() == Code::kNotFound);
  CHECK(keyring.Delete("zeta").code() == Code::kNotFound);
  REQUIRE(keyring.List(&list).ok());
  CHECK(Names(list) == std::vector<std::string>{"alpha"});
  // The name is free again.
  CHECK(keyring.Add("zeta", alpha, "pass-three", random, kFast, nullptr).ok());
}

TEST_CASE("keyring: test backend stores keys unencrypted and needs no passphrase", "[keyring]") {
  TempDir home("keyring-test");
  Keyring keyring(home.path, KeyringBackend::kTest);
  CHECK(keyring.dir() == home.path / "keyring-test");
  SeededRandom random(7);
  const PrivateKey dev = GeneratePrivateKey(random);

  KeyEntry entry;
  REQUIRE(keyring.Add("dev", dev, "", random, {}, &entry).ok());
  CHECK(entry.path == home.path / "keyring-test" / "dev.json");
  CHECK(entry.backend == KeyringBackend::kTest);
  CHECK(ModeOf(entry.path) == 0600);
  json doc = json::parse(ReadText(entry.path));
  CHECK(doc.at("name") == "dev");
  CHECK(doc.at("address") == EncodeAddress(dev.public_key()));
  CHECK(doc.at("secret") == HexEncode(dev.secret()));
  CHECK(ReadText(entry.path) == TestKeyJson("dev", dev));

  std::optional<PrivateKey> unlocked;
  REQUIRE(keyring.Unlock("dev", "", &unlocked).ok());
  CHECK(unlocked->secret() == dev.secret());
  unlocked.reset();
  REQUIRE(keyring.Unlock("dev", "any passphrase at all", &unlocked).ok());
  CHECK(unlocked->public_key() == dev.public_key());

  std::vector<KeyEntry> list;
  REQUIRE(keyring.List(&list).ok());
  CHECK(Names(list) == std::vector<std::string>{"dev"});
  // The encrypted keyring of the same home is another directory.
  Keyring file_keyring(home.path, KeyringBackend::kFile);
  KeyEntry found;
  CHECK(file_keyring.Find("dev", &found).code() == Code::kNotFound);
  REQUIRE(file_keyring.List(&list).ok());
  CHECK(list.empty());
}

TEST_CASE("keyring: names must be 1..64 of a-z 0-9 _ -", "[keyring]") {
  TempDir home("keyring-names");
  SeededRandom random(3);
  const PrivateKey key = GeneratePrivateKey(random);
  for (KeyringBackend backend : {KeyringBackend::kFile, KeyringBackend::kTest}) {
    Keyring keyring(home.path, backend);
    for (const std::string& bad : {std::string(), std::string(65, 'a'), std::string("Alice"), std::string("a b"),
                                   std::string("../up"), std::string("a.b"), std::string("a/b"), std::string("k\xc3\xa9"),
                                   std::string("x\n")}) {
      INFO("name '" << bad << "' backend " << static_cast<int>(backend));
      KeyEntry entry;
      std::optional<PrivateKey> unlocked;
      std::string text;
      CHECK(keyring.Add(bad, key, "pw", random, kFast, &entry).code() == Code::kBadField);
      CHECK(keyring.Find(bad, &entry).code() == Code::kBadField);
      CHECK(keyring.Unlock(bad, "pw", &unlocked).code() == Code::kBadField);
      CHECK(keyring.ReadFile(bad, &text).code() == Code::kBadField);
      CHECK(keyring.Delete(bad).code() == Code::kBadField);
      CHECK(keyring.ImportKeystore(bad, "{}", "pw", &entry).code() == Code::kBadField);
    }
    std::vector<KeyEntry> list;
    REQUIRE(keyring.List(&list).ok());
    CHECK(list.empty());
    for (const std::string& good : {std::string(64, 'z'), std::string("a-b_9"), std::string("0")}) {
      INFO("name '" << good << "'");
      CHECK(keyring.Add(good, key, "pw", random, kFast, nullptr).ok());
    }
    REQUIRE(keyring.List(&list).ok());
    CHECK(Names(list) == std::vector<std::string>{"0", "a-b_9", std::string(64, 'z')});
  }
  CHECK_FALSE(fs::exists(home.path / "up.json"));
}

TEST_CASE("keyring: a name that exists is kDuplicate and the first key stays", "[keyring]") {
  TempDir home("keyring-dup");
  SeededRandom random(5);
  const PrivateKey first = GeneratePrivateKey(random), second = GeneratePrivateKey(random);
  for (KeyringBackend backend : {KeyringBackend::kFile, KeyringBackend::kTest}) {
    INFO("backend " << static_cast<int>(backend));
    Keyring keyring(home.path, backend);
    REQUIRE(keyring.Add("main", first, "p", random, kFast, nullptr).ok());
    Result dup = keyring.Add("main", second, "q", random, kFast, nullptr);
    CHECK(dup.code() == Code::kDuplicate);
    CHECK_THAT(dup.message(), Catch::Contains("main"));
    std::optional<PrivateKey> unlocked;
    REQUIRE(keyring.Unlock("main", "p", &unlocked).ok());
    CHECK(unlocked->public_key() == first.public_key());
  }
}

TEST_CASE("keyring: ImportKeystore takes the published PBKDF2 v3 vector", "[keyring]") {
  json vectors = KeystoreVectors();
  const json* pbkdf2 = nullptr;
  for (const auto& v : vectors.at("vectors"))
    if (v.at("keyfile").at("crypto").at("kdf") == "pbkdf2") pbkdf2 = &v;
  REQUIRE(pbkdf2 != nullptr);
  const std::string keyfile = pbkdf2->at("keyfile").dump();
  const std::string password = vectors.at("password").get<std::string>();
  REQUIRE(password == "testpassword");
  auto secret = HexDecode(vectors.at("secret").get<std::string>());
  REQUIRE(secret.has_value());
  auto expected = PrivateKey::FromBytes(*secret);
  REQUIRE(expected.has_value());

  TempDir home("keyring-import");
  Keyring keyring(home.path, KeyringBackend::kFile);
  KeyEntry entry;
  CHECK(keyring.ImportKeystore("legacy", keyfile, "wrongpassword", &entry).code() == Code::kNotAuthorized);
  CHECK_FALSE(fs::exists(home.path / "keys" / "legacy.json"));

  REQUIRE(keyring.ImportKeystore("legacy", keyfile, password, &entry).ok());
  CHECK(entry.name == "legacy");
  CHECK(entry.key == expected->public_key());
  CHECK(entry.path == home.path / "keys" / "legacy.json");
  CHECK(ModeOf(entry.path) == 0600);
  // Stored as given, plus the address.
  json stored = json::parse(ReadText(entry.path));
  CHECK(stored.at("crypto") == pbkdf2->at("keyfile").at("crypto"));
  CHECK(stored.at("version") == 3);
  CHECK(stored.at("address") == EncodeAddress(expected->public_key()));

  KeyEntry found;
  REQUIRE(keyring.Find("legacy", &found).ok());
  CHECK(found.key == expected->public_key());
  std::optional<PrivateKey> unlocked;
  REQUIRE(keyring.Unlock("legacy", password, &unlocked).ok());
  CHECK(unlocked->secret() == expected->secret());

  CHECK(keyring.ImportKeystore("legacy", keyfile, password, &entry).code() == Code::kDuplicate);
  Keyring test_keyring(home.path, KeyringBackend::kTest);
  CHECK(test_keyring.ImportKeystore("legacy2", keyfile, password, &entry).code() == Code::kBadField);
  CHECK_FALSE(fs::exists(home.path / "keyring-test" / "legacy2.json"));
}

TEST_CASE("keyring: an encrypted file with another key's address is listed as unverified and refused at unlock", "[keyring]") {
  TempDir home("keyring-spoof");
  SeededRandom random(21);
  const PrivateKey eve = GeneratePrivateKey(random), bob = GeneratePrivateKey(random);
  Keyring keyring(home.path, KeyringBackend::kFile);
  KeyEntry added;
  REQUIRE(keyring.Add("eve", eve, "eve-pass", random, kFast, &added).ok());
  CHECK(added.address_verified);  // derived from the key just written

  // Eve puts bob's address into her file; the MAC does not cover it.
  const fs::path path = home.path / "keys" / "eve.json";
  json doc = json::parse(ReadText(path));
  doc["address"] = EncodeAddress(bob.public_key());
  WriteText(path, doc.dump(2));

  // Without the passphrase nothing can be checked: the stored address is shown as unverified.
  std::vector<KeyEntry> list;
  REQUIRE(keyring.List(&list).ok());
  REQUIRE(list.size() == 1);
  CHECK(list[0].key == bob.public_key());
  CHECK_FALSE(list[0].address_verified);
  KeyEntry found;
  REQUIRE(keyring.Find("eve", &found).ok());
  CHECK_FALSE(found.address_verified);

  // Unlocking derives the key and refuses the file, naming it.
  std::optional<PrivateKey> unlocked;
  Result r = keyring.Unlock("eve", "eve-pass", &unlocked);
  CHECK(r.code() == Code::kMismatch);
  CHECK_THAT(r.message(), Catch::Contains(path.string()));
  CHECK_THAT(r.message(), Catch::Contains(EncodeAddress(bob.public_key())));
  CHECK_THAT(r.message(), Catch::Contains(EncodeAddress(eve.public_key())));
  CHECK_FALSE(unlocked.has_value());
  // A wrong passphrase is still kNotAuthorized (the MAC is checked first).
  CHECK(keyring.Unlock("eve", "wrong", &unlocked).code() == Code::kNotAuthorized);

  // With her own address back, the file unlocks.
  doc["address"] = EncodeAddress(eve.public_key());
  WriteText(path, doc.dump(2));
  REQUIRE(keyring.Unlock("eve", "eve-pass", &unlocked).ok());
  CHECK(unlocked->public_key() == eve.public_key());
}

TEST_CASE("keyring: a test key's address is derived from its secret and a wrong stored one is kMismatch", "[keyring]") {
  TempDir home("keyring-test-spoof");
  SeededRandom random(22);
  const PrivateKey carol = GeneratePrivateKey(random), bob = GeneratePrivateKey(random);
  Keyring keyring(home.path, KeyringBackend::kTest);
  REQUIRE(keyring.Add("carol", carol, "", random, {}, nullptr).ok());
  REQUIRE(keyring.Add("bob", bob, "", random, {}, nullptr).ok());
  KeyEntry found;
  REQUIRE(keyring.Find("carol", &found).ok());
  CHECK(found.key == carol.public_key());
  CHECK(found.address_verified);

  const fs::path path = home.path / "keyring-test" / "carol.json";
  json doc = json::parse(ReadText(path));
  doc["address"] = EncodeAddress(bob.public_key());
  WriteText(path, doc.dump(2));

  Result r = keyring.Find("carol", &found);
  CHECK(r.code() == Code::kMismatch);
  CHECK_THAT(r.message(), Catch::Contains(path.string()));
  std::optional<PrivateKey> unlocked;
  CHECK(keyring.Unlock("carol", "", &unlocked).code() == Code::kMismatch);
  CHECK_FALSE(unlocked.has_value());
  // List leaves the file out and says why.
  std::vector<KeyEntry> list;
  std::vector<std::string> skipped;
  REQUIRE(keyring.List(&list, &skipped).ok());
  CHECK(Names(list) == std::vector<std::string>{"bob"});
  REQUIRE(skipped.size() == 1);
  CHECK_THAT(skipped[0], Catch::Contains("carol.json"));

  // Without an address field the key is still the secret's.
  doc.erase("address");
  WriteText(path, doc.dump(2));
  REQUIRE(keyring.Find("carol", &found).ok());
  CHECK(found.key == carol.public_key());
  REQUIRE(keyring.Unlock("carol", "", &unlocked).ok());
  CHECK(unlocked->public_key() == carol.public_key());
  REQUIRE(keyring.List(&list, &skipped).ok());
  CHECK(Names(list) == std::vector<std::string>{"bob", "carol"});
  CHECK(skipped.empty());
}

TEST_CASE("keyring: an imported key file keeps the address of its key and not the one it came with", "[keyring]") {
  TempDir home("keyring-import-spoof");
  SeededRandom random(23);
  const PrivateKey mine = GeneratePrivateKey(random), other = GeneratePrivateKey(random);
  json doc = json::parse(EncryptKeystore(mine, "import-pass", random, kFast));
  doc["address"] = EncodeAddress(other.public_key());
  Keyring keyring(home.path, KeyringBackend::kFile);
  KeyEntry entry;
  REQUIRE(keyring.ImportKeystore("mine", doc.dump(), "import-pass", &entry).ok());
  CHECK(entry.key == mine.public_key());
  CHECK(entry.address_verified);
  CHECK(json::parse(ReadText(entry.path)).at("address") == EncodeAddress(mine.public_key()));
  std::optional<PrivateKey> unlocked;
  REQUIRE(keyring.Unlock("mine", "import-pass", &unlocked).ok());
  CHECK(unlocked->public_key() == mine.public_key());
}

TEST_CASE("WriteFileAtomic: modes and no temp file left", "[keyring]") {
  TempDir home("atomic-modes");
  const fs::path secret = home.path / "sub" / "secret.json", open_file = home.path / "public.json";
  REQUIRE(WriteFileAtomic(secret, "one", true).ok());
  CHECK(ReadText(secret) == "one");
  CHECK(ModeOf(secret) == 0600);
  REQUIRE(WriteFileAtomic(open_file, "two", false).ok());
  CHECK(ModeOf(open_file) == 0644);
  // Replacing keeps the new mode and contents.
  REQUIRE(WriteFileAtomic(secret, "three", true).ok());
  CHECK(ReadText(secret) == "three");
  CHECK(ModeOf(secret) == 0600);
  CHECK(TempFiles(home.path) == 0);
  CHECK(TempFiles(home.path / "sub") == 0);
}

TEST_CASE("WriteFileAtomic: a stale regular temp file is replaced and gives its mode to nobody", "[keyring]") {
  TempDir home("atomic-stale");
  const fs::path path = home.path / "key.json", tmp = home.path / "key.json.tmp";
  WriteText(tmp, "half a key from a crash, and longer than what follows");
  REQUIRE(::chmod(tmp.c_str(), 0666) == 0);
  REQUIRE(WriteFileAtomic(path, "whole", true).ok());
  CHECK(ReadText(path) == "whole");  // not the stale tail
  CHECK(ModeOf(path) == 0600);       // a fresh file, not the stale one's 0666
  CHECK_FALSE(fs::exists(tmp));
}

TEST_CASE("WriteFileAtomic: a symlink or directory at the temp path is refused and never followed", "[keyring]") {
  TempDir home("atomic-symlink");
  const fs::path path = home.path / "key.json", tmp = home.path / "key.json.tmp";
  const fs::path victim = home.path / "victim.txt";
  WriteText(victim, "do not touch");
  REQUIRE(::chmod(victim.c_str(), 0644) == 0);

  SECTION("a symlink to an existing file") {
    fs::create_symlink(victim, tmp);
    Result r = WriteFileAtomic(path, "secret key", true);
    CHECK(r.code() == Code::kIo);
    CHECK_THAT(r.message(), Catch::Contains(tmp.string()));
    CHECK(ReadText(victim) == "do not touch");
    CHECK(ModeOf(victim) == 0644);
    CHECK(fs::is_symlink(tmp));  // left for the operator to look at
    CHECK_FALSE(fs::exists(path));
  }
  SECTION("a dangling symlink") {
    const fs::path planted = home.path / "planted.json";
    fs::create_symlink(planted, tmp);
    Result r = WriteFileAtomic(path, "secret key", true);
    CHECK(r.code() == Code::kIo);
    CHECK_FALSE(fs::exists(planted));
    CHECK_FALSE(fs::exists(path));
  }
  SECTION("a directory") {
    fs::create_directories(tmp / "inside");
    Result r = WriteFileAtomic(path, "secret key", true);
    CHECK(r.code() == Code::kIo);
    CHECK(fs::is_directory(tmp / "inside"));
    CHECK_FALSE(fs::exists(path));
  }
  SECTION("the target itself a symlink: replaced by the file, its target untouched") {
    fs::create_symlink(victim, path);
    REQUIRE(WriteFileAtomic(path, "secret key", true).ok());
    CHECK_FALSE(fs::is_symlink(path));
    CHECK(ReadText(path) == "secret key");
    CHECK(ModeOf(path) == 0600);
    CHECK(ReadText(victim) == "do not touch");
  }
}

// ---------------------------------------------------------------------------------------------
// Config

TEST_CASE("config: RenderConfig then LoadConfig gives back every field", "[config]") {
  TempDir home("config-roundtrip");
  Config c;
  c.data_dir = "chain-data";
  c.log_level = "debug";
  c.node_key_file = "keys/validator.json";
  c.node_key_passphrase_file = "secret.pass";
  c.grpc_listen = "0.0.0.0:9090";
  c.http_listen = "[::1]:0";
  c.grpc_message_bytes_max = 1 << 20;
  c.block_interval_ms = 250;
  c.heartbeat_interval_ms = 5000;
  c.mempool_txs_max = 1234;
  c.mempool_bytes_max = 1 << 22;
  c.mempool_account_txs_max = 17;
  c.rejected_cache_entries_max = 99;
  c.state_history_heights = 7;
  c.sync_writes = false;
  REQUIRE(ValidateConfig(c).ok());

  Config loaded;
  Result r = LoadText(home.path, RenderConfig(c), &loaded);
  INFO(r.ToString());
  REQUIRE(r.ok());
  CHECK(loaded.home == home.path);
  CHECK(loaded.data_dir == "chain-data");
  CHECK(loaded.DataPath() == home.path / "chain-data");
  CHECK(loaded.log_level == "debug");
  CHECK(loaded.node_key_file == "keys/validator.json");
  CHECK(loaded.node_key_passphrase_file == "secret.pass");
  CHECK(loaded.grpc_listen == "0.0.0.0:9090");
  CHECK(loaded.http_listen == "[::1]:0");
  CHECK(loaded.grpc_message_bytes_max == (1u << 20));
  CHECK(loaded.block_interval_ms == 250);
  CHECK(loaded.heartbeat_interval_ms == 5000);
  CHECK(loaded.mempool_txs_max == 1234);
  CHECK(loaded.mempool_bytes_max == (1u << 22));
  CHECK(loaded.mempool_account_txs_max == 17);
  CHECK(loaded.rejected_cache_entries_max == 99);
  CHECK(loaded.state_history_heights == 7);
  CHECK(loaded.sync_writes == false);

  // The defaults survive too; an empty passphrase file is left out and read back as empty.
  const Config defaults;
  const std::string text = RenderConfig(defaults);
  CHECK(text.find("node_key_passphrase_file") == std::string::npos);
  Config loaded_defaults;
  REQUIRE(LoadText(home.path, text, &loaded_defaults).ok());
  CHECK(loaded_defaults.data_dir == defaults.data_dir);
  CHECK(loaded_defaults.log_level == defaults.log_level);
  CHECK(loaded_defaults.node_key_file == defaults.node_key_file);
  CHECK(loaded_defaults.node_key_passphrase_file.empty());
  CHECK(loaded_defaults.grpc_listen == defaults.grpc_listen);
  CHECK(loaded_defaults.http_listen == defaults.http_listen);
  CHECK(loaded_defaults.block_interval_ms == defaults.block_interval_ms);
  CHECK(loaded_defaults.heartbeat_interval_ms == defaults.heartbeat_interval_ms);
  CHECK(loaded_defaults.mempool_bytes_max == defaults.mempool_bytes_max);
  CHECK(loaded_defaults.sync_writes == true);
}

TEST_CASE("config: string values with a quote or a backslash survive the round trip", "[config]") {
  // Paths on Linux may contain both, and `kontord init --grpc-listen` writes its argument as
  // given: RenderConfig must write a config.toml that LoadConfig reads back unchanged.
  TempDir home("config-escape");
  Config c;
  Config loaded;
  SECTION("a double quote") {
    c.data_dir = "data \"main\"";
    Result r = LoadText(home.path, RenderConfig(c), &loaded);
    INFO(r.ToString());
    REQUIRE(r.ok());
    CHECK(loaded.data_dir == "data \"main\"");
  }
  SECTION("a backslash") {
    c.node_key_file = "keys\\node.json";
    Result r = LoadText(home.path, RenderConfig(c), &loaded);
    INFO(r.ToString());
    REQUIRE(r.ok());
    CHECK(loaded.node_key_file == "keys\\node.json");
  }
}

TEST_CASE("config: booleans, integers and floats are not converted into each other", "[config]") {
  // A wrong type is kMalformed naming the key, like a string where a number belongs.
  TempDir home("config-types");
  struct Case {
    std::string text;
    std::string names;
  };
  const std::vector<Case> cases = {
      {"[storage]\nsync_writes = 1\n", "storage.sync_writes"},
      {"[storage]\nstate_history_heights = true\n", "storage.state_history_heights"},
      {"[mempool]\ntxs_max = 100.0\n", "mempool.txs_max"},
  };
  for (const Case& c : cases) {
    Config out;
    Result r = LoadText(home.path, c.text, &out);
    INFO(c.text << "-> " << r.ToString() << "; sync_writes " << out.sync_writes << ", state_history_heights "
                << out.state_history_heights << ", txs_max " << out.mempool_txs_max);
    CHECK(r.code() == Code::kMalformed);
    CHECK_THAT(r.message(), Catch::Contains(c.names));
  }
}

TEST_CASE("config: missing, empty and partial files", "[config]") {
  TempDir home("config-partial");
  Config out;
  out.data_dir = "untouched";
  Result missing = LoadConfig(home.path, &out);
  CHECK(missing.code() == Code::kNotFound);
  CHECK_THAT(missing.message(), Catch::Contains("kontord init"));
  CHECK(out.data_dir == "untouched");

  REQUIRE(LoadText(home.path, "", &out).ok());  // every key has a default
  CHECK(out.data_dir == "data");
  CHECK(out.block_interval_ms == 1000);
  CHECK(out.home == home.path);

  REQUIRE(LoadText(home.path, "[consensus]\nblock_interval_ms = 250\n", &out).ok());
  CHECK(out.block_interval_ms == 250);
  CHECK(out.heartbeat_interval_ms == 30000);
  CHECK(out.mempool_txs_max == 50000);
}

TEST_CASE("config: unknown keys and sections, wrong types and bad syntax are kMalformed naming the key", "[config]") {
  TempDir home("config-errors");
  struct Case {
    std::string text;
    std::string names;
  };
  const std::vector<Case> cases = {
      {"[node]\nlog_levle = \"info\"\n", "node.log_levle"},
      {"[mempool]\ntxs_max = 10\nmax_txs = 10\n", "mempool.max_txs"},
      {"[nodes]\ndata_dir = \"x\"\n", "[nodes]"},
      {"data_dir = \"x\"\n", "data_dir"},  // a key outside any section
      {"[consensus]\nblock_interval_ms = \"1000\"\n", "consensus.block_interval_ms"},
      {"[mempool]\ntxs_max = -1\n", "mempool.txs_max"},
      {"[api]\ngrpc_listen = 26657\n", "api.grpc_listen"},
      {"[storage]\nsync_writes = \"yes\"\n", "storage.sync_writes"},
      {"[mempool]\ntxs_max = 1.5\n", "mempool.txs_max"},
      {"node = 5\n", "node"},
      {"[node]\ndata_dir = \n", "line 2"},
      {"[consensus]\nblock_interval_ms = 2000\nheartbeat_interval_ms = 1000\n", "consensus.heartbeat_interval_ms"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    Config out;
    out.data_dir = "untouched";
    Result r = LoadText(home.path, c.text, &out);
    CHECK(r.code() == Code::kMalformed);
    CHECK_THAT(r.message(), Catch::Contains(c.names));
    CHECK(out.data_dir == "untouched");
  }
}

TEST_CASE("config: ValidateConfig checks ranges and names the key", "[config]") {
  CHECK(ValidateConfig(Config{}).ok());

  Config c;
  c.block_interval_ms = 0;
  Result zero = ValidateConfig(c);
  CHECK(zero.code() == Code::kMalformed);
  CHECK_THAT(zero.message(), Catch::Contains("consensus.block_interval_ms"));

  c = Config{};
  c.heartbeat_interval_ms = c.block_interval_ms - 1;
  Result heartbeat = ValidateConfig(c);
  CHECK(heartbeat.code() == Code::kMalformed);
  CHECK_THAT(heartbeat.message(), Catch::Contains("consensus.heartbeat_interval_ms"));
  c.heartbeat_interval_ms = c.block_interval_ms;  // equal is fine
  CHECK(ValidateConfig(c).ok());

  c = Config{};
  c.log_level = "verbose";
  Result level = ValidateConfig(c);
  CHECK(level.code() == Code::kMalformed);
  CHECK_THAT(level.message(), Catch::Contains("node.log_level"));

  c = Config{};
  c.grpc_listen = "localhost";
  Result listen = ValidateConfig(c);
  CHECK(listen.code() == Code::kMalformed);
  CHECK_THAT(listen.message(), Catch::Contains("api.grpc_listen"));

  c = Config{};
  c.mempool_txs_max = 0;
  CHECK_THAT(ValidateConfig(c).message(), Catch::Contains("mempool.txs_max"));
}

// ---------------------------------------------------------------------------------------------
// Home

TEST_CASE("home: InitHome --dev writes config, genesis, node key and the dev keyring", "[config]") {
  TempDir tmp("init-dev");
  const fs::path home = tmp.path / "node0";  // InitHome creates it
  InitOptions options;
  options.home = home;
  options.dev = true;
  options.genesis_time_ms = 1'767'225'600'000;
  SeededRandom random(11);
  InitReport report;
  Result init = InitHome(options, random, &report);
  INFO(init.ToString());
  REQUIRE(init.ok());

  for (const char* file : {"config.toml", "genesis.json", "node_key.json", "node_key.passphrase"}) {
    INFO(file);
    CHECK(fs::is_regular_file(home / file));
  }
  CHECK(fs::is_directory(home / "data"));
  CHECK(ModeOf(home / "node_key.json") == 0600);
  CHECK(ModeOf(home / "node_key.passphrase") == 0600);
  CHECK(ReadText(home / "node_key.passphrase").size() == 33);  // 16 random bytes in hex, newline

  Genesis genesis;
  Result loaded = LoadGenesisFile(home, &genesis);
  INFO(loaded.ToString());
  REQUIRE(loaded.ok());
  CHECK(genesis.chain_id == "kontor-dev");
  CHECK(genesis.genesis_time_ms == 1'767'225'600'000);
  CHECK(genesis.hash == report.genesis_hash);
  std::vector<std::string> assets;
  for (const auto& a : genesis.assets) assets.push_back(a.symbol);
  CHECK(assets == std::vector<std::string>{"KTR", "USDC", "USDT"});
  REQUIRE(genesis.validators.size() == 1);
  CHECK(genesis.validators[0].key == report.validator);
  CHECK(genesis.FindValidator(report.validator) != nullptr);

  std::vector<std::string> dev_names;
  for (const auto& [name, key] : report.dev_keys) dev_names.push_back(name);
  CHECK(dev_names == std::vector<std::string>{"alice", "bob", "carol", "gateway"});
  REQUIRE(report.dev_keys.size() == 4);
  const PublicKey gateway = report.dev_keys[3].second;
  REQUIRE(genesis.FindAsset("USDC") != nullptr);
  CHECK(genesis.FindAsset("USDC")->gateway == std::optional<PublicKey>(gateway));
  REQUIRE(genesis.FindAsset("USDT") != nullptr);
  CHECK(genesis.FindAsset("USDT")->gateway == std::optional<PublicKey>(gateway));

  Keyring dev_keys(home, KeyringBackend::kTest);
  std::vector<KeyEntry> list;
  REQUIRE(dev_keys.List(&list).ok());
  CHECK(Names(list) == std::vector<std::string>{"alice", "bob", "carol", "gateway"});
  REQUIRE(list.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    INFO(list[i].name);
    CHECK(list[i].key == report.dev_keys[i].second);
    CHECK(ModeOf(list[i].path) == 0600);
  }
  std::optional<PrivateKey> alice;
  REQUIRE(dev_keys.Unlock("alice", "", &alice).ok());
  CHECK(alice->public_key() == report.dev_keys[0].second);

  Config config;
  Result cfg = LoadConfig(home, &config);
  INFO(cfg.ToString());
  REQUIRE(cfg.ok());
  CHECK(config.node_key_passphrase_file == "node_key.passphrase");
  CHECK(config.home == home);
  std::optional<PrivateKey> node_key;
  Result unlocked = LoadNodeKey(config, &node_key);
  INFO(unlocked.ToString());
  REQUIRE(unlocked.ok());
  REQUIRE(node_key.has_value());
  CHECK(node_key->public_key() == report.validator);

  // Without the passphrase file and without $KONTOR_NODE_PASSPHRASE the key stays locked.
  Config no_passphrase = config;
  no_passphrase.node_key_passphrase_file.clear();
  const char* saved = std::getenv("KONTOR_NODE_PASSPHRASE");
  const std::string saved_value = saved ? saved : "";
  ::unsetenv("KONTOR_NODE_PASSPHRASE");
  std::optional<PrivateKey> locked;
  CHECK(LoadNodeKey(no_passphrase, &locked).code() == Code::kNotAuthorized);
  if (saved) ::setenv("KONTOR_NODE_PASSPHRASE", saved_value.c_str(), 1);

  // A second init on the same home refuses and leaves the files alone.
  const std::string genesis_before = ReadText(home / "genesis.json");
  const std::string key_before = ReadText(home / "node_key.json");
  SeededRandom other_random(12);
  InitReport second;
  Result again = InitHome(options, other_random, &second);
  CHECK(again.code() == Code::kDuplicate);
  CHECK_THAT(again.message(), Catch::Contains(home.string()));
  CHECK(ReadText(home / "genesis.json") == genesis_before);
  CHECK(ReadText(home / "node_key.json") == key_before);
}

TEST_CASE("home: HomeLock is exclusive, reports the holder's pid, and is released", "[config]") {
  TempDir home("lock");
  const std::string pid = std::to_string(::getpid());
  std::unique_ptr<HomeLock> first;
  REQUIRE(HomeLock::Acquire(home.path, &first).ok());
  REQUIRE(first != nullptr);
  CHECK(ReadText(home.path / "kontord.lock") == pid + "\n");

  // flock locks belong to the open file description: a second open in this process conflicts.
  std::unique_ptr<HomeLock> second;
  Result busy = HomeLock::Acquire(home.path, &second);
  CHECK(busy.code() == Code::kStorage);
  CHECK_THAT(busy.message(), Catch::Contains("pid " + pid));
  CHECK_THAT(busy.message(), Catch::Contains(home.path.string()));
  CHECK(second == nullptr);

  first.reset();  // released
  REQUIRE(HomeLock::Acquire(home.path, &second).ok());
  CHECK(second != nullptr);
  second.reset();

  std::unique_ptr<HomeLock> nowhere;
  CHECK(HomeLock::Acquire(home.path / "no-such-dir", &nowhere).code() == Code::kIo);
  CHECK(nowhere == nullptr);
}

TEST_CASE("config: a negative integer is refused for every integer key, not wrapped to a huge limit", "[config]") {
  TempDir home("config-negative");
  const std::vector<std::pair<std::string, std::string>> keys = {
      {"api", "grpc_message_bytes_max"},   {"consensus", "block_interval_ms"},     {"consensus", "heartbeat_interval_ms"},
      {"mempool", "txs_max"},              {"mempool", "bytes_max"},               {"mempool", "account_txs_max"},
      {"mempool", "nonce_gap_max"},        {"mempool", "tx_ttl_ms"},               {"mempool", "rejected_cache_entries_max"},
      {"storage", "state_history_heights"}};
  for (const auto& [section, key] : keys) {
    std::string text = "[" + section + "]\n" + key + " = -1\n";
    INFO(text);
    Config out;
    Result r = LoadText(home.path, text, &out);
    CHECK(r.code() == Code::kMalformed);
    CHECK_THAT(r.message(), Catch::Contains(section + "." + key + " must be a non-negative integer"));
  }
}

TEST_CASE("config: mempool limits at their bounds", "[config]") {
  Config c;
  CHECK(ValidateConfig(c).ok());
  c.mempool_nonce_gap_max = 10'000;
  CHECK(ValidateConfig(c).ok());
  c.mempool_nonce_gap_max = 10'001;
  CHECK_THAT(ValidateConfig(c).message(), Catch::Contains("mempool.nonce_gap_max"));
  c = Config{};
  c.mempool_tx_ttl_ms = 1000;
  CHECK(ValidateConfig(c).ok());
  c.mempool_tx_ttl_ms = 999;
  CHECK_THAT(ValidateConfig(c).message(), Catch::Contains("mempool.tx_ttl_ms"));
  c.mempool_tx_ttl_ms = 86'400'000;
  CHECK(ValidateConfig(c).ok());
  c.mempool_tx_ttl_ms = 86'400'001;
  CHECK(ValidateConfig(c).code() == Code::kMalformed);
  c = Config{};
  c.mempool_account_txs_max = 10'000;
  c.mempool_nonce_gap_max = 16;
  CHECK(ValidateConfig(c).ok());
  c.mempool_account_txs_max = 10'001;
  CHECK_THAT(ValidateConfig(c).message(), Catch::Contains("mempool.account_txs_max"));
}
