// A typed wrapper over LevelDB: Status values become Results, writes go in batches, and an
// in-memory mode (LevelDB's memenv) serves tests. Key layout of the chain store is in
// docs/protocol.md ("Store layout"); heights in keys are 8-byte big-endian so they sort.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ledger/result.h"

namespace leveldb {
class DB;
class Env;
class WriteBatch;
class Cache;
}  // namespace leveldb

namespace kontor {

struct StoreOptions {
  std::string path;            // directory; ignored if in_memory
  bool in_memory = false;
  bool sync = true;            // fsync every batch (what makes a committed block survive a crash)
  bool create_if_missing = true;
  size_t cache_bytes = 32 << 20;
  leveldb::Env* env = nullptr;  // tests: e.g. an Env that injects faults; null = the default
};

class WriteBatch {
 public:
  WriteBatch();
  ~WriteBatch();
  void Put(std::string_view key, std::string_view value);
  void Delete(std::string_view key);
  size_t ApproximateBytes() const;

 private:
  friend class Store;
  std::unique_ptr<leveldb::WriteBatch> batch_;
};

class Store {
 public:
  // Errors: kStorage with LevelDB's message; "locked" when another process holds the store.
  static Result Open(const StoreOptions& options, std::unique_ptr<Store>* out);
  ~Store();

  // kNotFound if absent.
  Result Get(std::string_view key, std::string* value) const;
  Result Write(WriteBatch& batch);  // atomic; synced if options.sync
  // Calls fn(key, value) for keys starting with prefix, in order, until fn returns false.
  Result Scan(std::string_view prefix, const std::function<bool(std::string_view, std::string_view)>& fn) const;
  uint64_t ApproximateSize() const;  // bytes on disk, all keys

 private:
  Store() = default;
  StoreOptions options_;
  std::unique_ptr<leveldb::Env> env_;  // memenv when in_memory
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<leveldb::DB> db_;
};

}  // namespace kontor
