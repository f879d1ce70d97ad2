// Blocks as a follower receives them: the lenient Block wrapper, the canonical header, every
// header rule, each tx's decoding, signatures and execution, the invariants and the state
// root. The harness signs a commit certificate for whatever header decodes (with the test
// chain's validator key), so inputs reach execution instead of stopping at the certificate.
// Properties: no crash; a block that executes carries the state root it produces; the chain
// itself is never changed (nothing is committed).
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "ledger/block.h"
#include "ledger/check.h"
#include "ledger/codec.h"
#include "ledger/executor.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/support/test_env.h"

using namespace kontor;

namespace {
test::TestEnv& Env() {
  static auto* env = new test::TestEnv();
  return *env;
}

// Seeds: real blocks at height 1 with 0, 1 and several txs of different kinds.
void WriteSeeds(const char* dir) {
  auto& env = Env();
  std::vector<std::vector<std::string>> sets = {
      {},
      {env.Transfer("alice", "bob", "USDC", 5)},
      {env.Transfer("alice", "bob", "KTR", 1), env.Transfer("bob", "carol", "USDC", 7, {.fee = 20}),
       env.Transfer("carol", "alice", "USDC", 1'000'000'000'000)},
  };
  int n = 0;
  for (const auto& txs : sets) {
    std::vector<std::string_view> views(txs.begin(), txs.end());
    ExecutedBlock out;
    std::vector<RejectedTx> rejected;
    KONTOR_CHECK(env.chain().ProposeNext(views, env.now_ms() + 1000, env.validator(), env.random(), &out, &rejected).ok());
    std::ofstream(std::filesystem::path(dir) / ("block-" + std::to_string(n++))) << CanonicalBytes(out.block.block);
  }
  std::exit(0);
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("KONTOR_FUZZ_WRITE_SEEDS")) WriteSeeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& env = Env();
  v1::Block block;
  if (!block.ParseFromArray(data, static_cast<int>(size))) return 0;
  DecodedBlock decoded;
  if (!DecodeBlockHeader(block, env.genesis(), &decoded).ok()) return 0;
  v1::Commit commit = MakeCommit(env.genesis().chain_id, decoded.header.height(), 0, decoded.hash, {&env.validator()},
                                 decoded.header.time_ms() + 1, env.random());
  const Hash256 root_before = env.chain().state().root();
  ExecutedBlock out;
  Result r = env.chain().executor().ExecuteBlock(block, commit, env.chain().tip(), env.chain().state(), &out);
  if (r.ok()) FUZZ_CHECK(out.block.header.state_root() == out.tree.root_hash().bytes(), "executed block's state root");
  FUZZ_CHECK(env.chain().state().root() == root_before && env.chain().height() == 0, "the chain is unchanged");
  return 0;
}
