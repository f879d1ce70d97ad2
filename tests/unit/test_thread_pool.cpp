// ThreadPool: every index runs exactly once, also when several threads call ParallelFor on the
// same pool at once (the node admits concurrent gRPC streams through one pool).
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "ledger/thread_pool.h"

using kontor::ThreadPool;

TEST_CASE("thread pool: each index runs once", "[thread_pool]") {
  ThreadPool pool(3);
  for (size_t n : {0u, 1u, 2u, 7u, 1000u}) {
    std::vector<std::atomic<int>> hits(n);
    pool.ParallelFor(n, [&](size_t i) { hits[i]++; });
    for (size_t i = 0; i < n; ++i) REQUIRE(hits[i] == 1);
  }
}

TEST_CASE("thread pool: concurrent callers take turns and each gets all its indexes", "[thread_pool]") {
  ThreadPool pool(2);
  constexpr size_t kCallers = 4, kRounds = 200, kN = 300;
  std::vector<std::vector<std::atomic<int>>> hits(kCallers);
  for (auto& h : hits) h = std::vector<std::atomic<int>>(kN);
  std::vector<std::thread> callers;
  for (size_t c = 0; c < kCallers; ++c)
    callers.emplace_back([&, c] {
      for (size_t r = 0; r < kRounds; ++r) pool.ParallelFor(kN, [&](size_t i) { hits[c][i]++; });
    });
  for (auto& t : callers) t.join();
  for (size_t c = 0; c < kCallers; ++c)
    for (size_t i = 0; i < kN; ++i) REQUIRE(hits[c][i] == static_cast<int>(kRounds));
}
