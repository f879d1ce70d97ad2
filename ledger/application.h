// What the ledger asks of the application that gives transactions their meaning (contracts/).
// The ledger handles everything generic — decoding, signatures, chain id, expiry, the fee
// payer's nonce and fee — and calls the application for the payload, in three phases after
// rippled's transactors:
//   CheckStateless  no state: shape and ranges of the payload (mempool admission, block check)
//   Apply           against the state, writing into a sandbox delta that the ledger merges on
//                   success and drops on failure; its checks are the stateful checks
//   EndBlock        time-driven work at the end of each block (e.g. closing expired contracts)
//   CheckInvariants after every block, over what the block changed; a failure stops the chain
// Nothing here may read the wall clock, randomness or the network: time is the block's.
#pragma once

#include <optional>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/genesis.h"
#include "ledger/keys.h"
#include "ledger/result.h"
#include "ledger/state.h"
#include "ledger/tx.h"

namespace kontor {

// An amount of an asset (what a tx can take from a balance).
struct AssetAmount {
  std::string asset;
  uint64_t amount = 0;
};

struct BlockEnv {
  std::string_view chain_id;
  uint64_t height = 0;
  uint64_t time_ms = 0;      // the block's timestamp
  uint64_t prev_time_ms = 0; // the parent's timestamp (genesis time at height 1)
  PublicKey proposer;
  const Genesis* genesis = nullptr;
};

class Application {
 public:
  virtual ~Application() = default;

  // Writes the application's part of the initial state (the ledger has written accounts and assets).
  virtual Result InitGenesis(const Genesis& genesis, StateDelta& delta) = 0;
  virtual Result CheckStateless(const DecodedTx& tx) const = 0;
  // REQUIRES: CheckStateless(tx) passed. `sandbox` is layered over the block's state so far.
  virtual Result Apply(const DecodedTx& tx, const BlockEnv& env, StateDelta& sandbox) = 0;
  virtual Result EndBlock(const BlockEnv& env, StateDelta& block_delta) = 0;
  // `before` is the state before the block; `block_delta` its changes (readable through it).
  virtual Result CheckInvariants(const BlockEnv& env, const StateView& before, const StateDelta& block_delta) const = 0;
  // The earliest time at which EndBlock has work of its own to do in `state` (a contract closes,
  // charges or pays), or nullopt. Nodes make a block by then even when no tx is waiting.
  virtual std::optional<uint64_t> NextEventMs(const StateView& state) const = 0;
  // The most `tx` can take from its fee payer's balances besides the fee, per asset, read
  // against `state` (e.g. a top-up's asset is its contract's). Mempool admission uses it so a
  // payer queues only what it can pay. REQUIRES: CheckStateless(tx) passed.
  virtual std::vector<AssetAmount> PayerDebits(const DecodedTx& tx, const StateView& state) const = 0;
};

}  // namespace kontor
