// An in-process test chain with a manual clock, after rippled's jtx Env:
//   TestEnv env;                          // genesis with funded accounts alice, bob, carol, dave
//   auto tx = env.Transfer("alice", "bob", "USDC", 500);
//   env.Submit(tx);                       // queued for the next block
//   auto closed = env.Close();            // produce + commit a block, returns rejections
//   CHECK(env.Balance("bob", "USDC") == ...);
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "contracts/app.h"
#include "ledger/chain.h"
#include "ledger/genesis.h"
#include "ledger/keys.h"
#include "ledger/tx.h"

namespace kontor::test {

struct TestEnvOptions {
  std::vector<std::string> accounts = {"alice", "bob", "carol", "dave"};
  uint64_t funding = 1'000'000'000;  // of each asset to each account (1000.000000 units)
  uint64_t min_fee = 10;
  std::string data_dir;  // empty: in-memory store
  bool sync = false;
  uint64_t seed = 1;
  // More assets bridged through `gateway`, held by nobody at genesis: {symbol, decimals}.
  std::vector<std::pair<std::string, uint32_t>> extra_bridged_assets;
};

struct TxOptions {
  uint64_t fee = 10;
  std::optional<uint64_t> nonce;     // default: the next unused one (tracked by the env)
  uint64_t expiry_height = 0;
  std::string chain_id;              // default: the env's
};

struct CloseResult {
  uint64_t height = 0;
  size_t included = 0;
  std::vector<RejectedTx> rejected;
  ExecutedBlock block;
  // The rejection of a submitted tx, or Ok if it was included.
  Result ResultOf(const Hash256& txid) const;
};

class TestEnv {
 public:
  explicit TestEnv(TestEnvOptions options = {});

  const PrivateKey& Key(const std::string& name) const;
  PublicKey Pub(const std::string& name) const { return Key(name).public_key(); }
  const PrivateKey& validator() const { return *validator_; }
  Chain& chain() { return *chain_; }
  const Genesis& genesis() const { return genesis_; }
  contracts::KontorApp& app() { return app_; }
  RandomSource& random() { return random_; }
  uint64_t now_ms() const { return now_ms_; }

  // A signed transfer envelope from `from` (signer and fee payer).
  std::string Transfer(const std::string& from, const std::string& to, const std::string& asset, uint64_t amount,
                       TxOptions options = {});
  // A body with the given payload fields set by `fill`, signed by `signers` in order.
  std::string Build(const std::vector<std::string>& signers, const std::function<void(v1::TxBody&)>& fill,
                    TxOptions options = {});
  static Hash256 Txid(const std::string& envelope);

  void Submit(std::string envelope) { pending_.push_back(std::move(envelope)); }
  // Produces and commits a block from the pending txs at now + advance_ms.
  // The block's time is the clock advanced by advance_ms, except that BFT time puts block 1 at
  // the genesis time (kFirstBlockAfterMs after the clock's start, where the default advance
  // lands) and every later block at least 1 ms after its parent; the clock follows the block.
  CloseResult Close(uint64_t advance_ms = kFirstBlockAfterMs);
  static constexpr uint64_t kFirstBlockAfterMs = 1000;
  // Submit one tx, close, and return its result.
  Result Apply(std::string envelope);

  uint64_t Balance(const std::string& name, const std::string& asset) const;
  uint64_t Nonce(const std::string& name) const;

 private:
  TestEnvOptions options_;
  SeededRandom random_;
  std::map<std::string, PrivateKey> keys_;
  std::map<std::string, uint64_t> next_nonce_;
  std::optional<PrivateKey> validator_;
  Genesis genesis_;
  contracts::KontorApp app_;
  std::unique_ptr<Chain> chain_;
  std::vector<std::string> pending_;
  uint64_t now_ms_ = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
};

// A genesis JSON for tests and benchmarks: assets KTR (fee asset, 6 decimals) and USDC
// (6 decimals, bridged through `gateway`), each account funded with `funding` of both; then
// `extra_bridged_assets`, bridged through `gateway` and unfunded.
std::string MakeGenesisJson(const std::string& chain_id, const PublicKey& validator, const std::vector<PublicKey>& accounts,
                            uint64_t funding, uint64_t min_fee, const PublicKey& gateway, uint64_t time_ms,
                            const std::vector<std::pair<std::string, uint32_t>>& extra_bridged_assets = {});

}  // namespace kontor::test
