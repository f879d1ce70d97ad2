#include "ledger/thread_pool.h"

#include <algorithm>

namespace kontor {

ThreadPool::ThreadPool(size_t threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 1; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::RunChunks(std::unique_lock<std::mutex>& lock) {
  while (next_ < n_) {
    size_t begin = next_, end = std::min(n_, next_ + chunk_);
    next_ = end;
    ++busy_;
    lock.unlock();
    for (size_t i = begin; i < end; ++i) (*fn_)(i);
    lock.lock();
    --busy_;
  }
  if (busy_ == 0) done_cv_.notify_all();
}

void ThreadPool::WorkerLoop() {
  uint64_t seen = 0;
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stop_ || (generation_ != seen && next_ < n_); });
    if (stop_) return;
    seen = generation_;
    RunChunks(lock);
  }
}

void ThreadPool::ParallelFor(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  if (workers_.empty() || n == 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::lock_guard turn(call_mu_);
  std::unique_lock lock(mu_);
  fn_ = &fn;
  n_ = n;
  next_ = 0;
  // Small chunks: the last chunk of a block decides how long the other threads sit idle.
  chunk_ = std::max<size_t>(1, n / (threads() * 8));
  ++generation_;
  work_cv_.notify_all();
  RunChunks(lock);
  done_cv_.wait(lock, [&] { return next_ >= n_ && busy_ == 0; });
  fn_ = nullptr;
  n_ = 0;
}

}  // namespace kontor
