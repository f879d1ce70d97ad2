#include "ledger/store.h"

#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/helpers/memenv.h>
#include <leveldb/write_batch.h>

namespace kontor {

static leveldb::Slice S(std::string_view s) { return {s.data(), s.size()}; }

WriteBatch::WriteBatch() : batch_(std::make_unique<leveldb::WriteBatch>()) {}
WriteBatch::~WriteBatch() = default;
void WriteBatch::Put(std::string_view key, std::string_view value) { batch_->Put(S(key), S(value)); }
void WriteBatch::Delete(std::string_view key) { batch_->Delete(S(key)); }
size_t WriteBatch::ApproximateBytes() const { return batch_->ApproximateSize(); }

Result Store::Open(const StoreOptions& options, std::unique_ptr<Store>* out) {
  std::unique_ptr<Store> store(new Store);
  store->options_ = options;
  leveldb::Options opts;
  opts.create_if_missing = options.create_if_missing;
  opts.paranoid_checks = true;
  opts.max_open_files = 256;
  opts.write_buffer_size = 16 << 20;
  store->cache_.reset(leveldb::NewLRUCache(options.cache_bytes));
  opts.block_cache = store->cache_.get();
  std::string path = options.path;
  if (options.env) opts.env = options.env;
  if (options.in_memory) {
    store->env_.reset(leveldb::NewMemEnv(leveldb::Env::Default()));
    opts.env = store->env_.get();
    if (path.empty()) path = "/kontor-mem";
  }
  // LevelDB creates the directory (and its LOCK file) even when it then refuses to create a
  // store: look first, so opening a wrong path for reading leaves nothing behind.
  if (!options.create_if_missing && !options.in_memory && !opts.env->FileExists(path + "/CURRENT"))
    return {Code::kNotFound, "no store at " + path + " (no CURRENT file)"};
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(opts, path, &db);
  if (!s.ok()) {
    std::string msg = s.ToString();
    if (msg.find("lock") != std::string::npos)
      return {Code::kStorage, "store " + path + " is locked: another process (a running kontord?) has it open"};
    return {Code::kStorage, "cannot open store " + path + ": " + msg};
  }
  store->db_.reset(db);
  *out = std::move(store);
  return Result::Ok();
}

Store::~Store() {
  db_.reset();  // before the env and cache it uses
}

Result Store::Get(std::string_view key, std::string* value) const {
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  leveldb::Status s = db_->Get(ro, S(key), value);
  if (s.IsNotFound()) return {Code::kNotFound, "not found"};
  if (s.IsCorruption()) return {Code::kCorruption, "store corrupted: " + s.ToString()};
  if (!s.ok()) return {Code::kStorage, s.ToString()};
  return Result::Ok();
}

Result Store::Write(WriteBatch& batch) {
  leveldb::WriteOptions wo;
  wo.sync = options_.sync;
  leveldb::Status s = db_->Write(wo, batch.batch_.get());
  if (!s.ok()) return {Code::kStorage, "write failed: " + s.ToString()};
  return Result::Ok();
}

Result Store::Scan(std::string_view prefix, const std::function<bool(std::string_view, std::string_view)>& fn) const {
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(S(prefix)); it->Valid(); it->Next()) {
    leveldb::Slice k = it->key();
    if (!k.starts_with(S(prefix))) break;
    if (!fn({k.data(), k.size()}, {it->value().data(), it->value().size()})) break;
  }
  if (!it->status().ok()) return {Code::kCorruption, "store scan failed: " + it->status().ToString()};
  return Result::Ok();
}

uint64_t Store::ApproximateSize() const {
  leveldb::Range all("", "\xff\xff\xff\xff");
  uint64_t size = 0;
  db_->GetApproximateSizes(&all, 1, &size);
  return size;
}

}  // namespace kontor
