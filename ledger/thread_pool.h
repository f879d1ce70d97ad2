// A fixed pool of worker threads for data-parallel loops (signature checks, decoding, hashing).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kontor {

class ThreadPool {
 public:
  // threads = 0: one per hardware thread. The caller of ParallelFor works too, so a pool of
  // n threads starts n-1 workers.
  explicit ThreadPool(size_t threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t threads() const { return workers_.size() + 1; }
  // Calls fn(i) for i in [0, n), spread over the pool; returns when all calls are done.
  // Thread-safe: concurrent callers take turns (each loop gets the whole pool). Not reentrant:
  // fn must not call ParallelFor on the same pool.
  void ParallelFor(size_t n, const std::function<void(size_t)>& fn);

 private:
  void WorkerLoop();
  void RunChunks(std::unique_lock<std::mutex>& lock);  // REQUIRES: lock holds mu_

  std::vector<std::thread> workers_;
  std::mutex call_mu_;  // one ParallelFor at a time
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  const std::function<void(size_t)>* fn_ = nullptr;
  size_t n_ = 0, next_ = 0, chunk_ = 1, busy_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace kontor
