// Replay: rebuilds the state from genesis over a block store, verifying every block exactly as
// a validating node does (links, commit certificates, every signature, tx and state roots,
// invariants), then compares the rebuilt state with the state entries in the store.
// It stops at the first discrepancy and names the height, the tx (if any) and what differs.
// Needs no network: an auditor runs it on a copy of a node's data directory.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "ledger/application.h"
#include "ledger/genesis.h"
#include "ledger/result.h"
#include "ledger/store.h"
#include "ledger/thread_pool.h"

namespace kontor {

struct ReplayReport {
  uint64_t tip_height = 0;        // the store's recorded tip
  uint64_t verified_height = 0;   // last height that verified
  uint64_t txs = 0;
  Hash256 state_root;             // after verified_height
  // On failure: the height where it failed (0 = genesis or store-level), the tx index or -1.
  uint64_t failed_height = 0;
  int64_t failed_tx = -1;
};

using ReplayProgress = std::function<void(uint64_t height, uint64_t tip)>;

// Ok if the whole store verifies. Otherwise the error (code and message) of the first
// discrepancy, with report->failed_height/failed_tx set.
Result Replay(const Store& store, const Genesis& genesis, Application& app, ThreadPool& pool, ReplayReport* report,
              const ReplayProgress& progress = nullptr);

}  // namespace kontor
