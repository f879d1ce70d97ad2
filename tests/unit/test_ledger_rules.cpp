// The ledger's own validations at their boundaries (ledger/tx.cpp, executor.cpp, block.cpp,
// codec.cpp): each limit exactly at the limit (accepted) and one past it (refused with its Code),
// for a tx, for a block a follower receives, and for the block the proposer builds. Rules whose
// plain cases are tested elsewhere (tests/unit/test_transfer.cpp, test_chain.cpp,
// tests/property/test_codec.cpp) appear here only at their edges.
#include <catch2/catch.hpp>

#include <numeric>

#include "contracts/app.h"
#include "ledger/accounts.h"
#include "ledger/bft_time.h"
#include "ledger/codec.h"
#include "ledger/limits.h"
#include "ledger/merkle.h"
#include "tests/support/test_env.h"

using namespace kontor;
using kontor::test::TestEnv;
using kontor::test::TxOptions;

namespace {

constexpr uint64_t kFunding = 1'000'000'000;

// A chain on the env's genesis with other block limits (same accounts, keys and state, so any
// block the env's chain builds is valid here once its prev_hash names this genesis).
struct LimitedChain {
  Genesis genesis;
  contracts::KontorApp app;
  std::unique_ptr<Chain> chain;

  LimitedChain(const Genesis& base, uint64_t block_txs_max, uint64_t block_bytes_max) {
    Genesis g = base;
    g.params.block_txs_max = block_txs_max;
    g.params.block_bytes_max = block_bytes_max;
    Result r = ParseGenesis(WriteGenesisJson(g), &genesis);
    INFO(r.ToString());
    REQUIRE(r.ok());
    REQUIRE(genesis.params.block_txs_max == block_txs_max);
    REQUIRE(genesis.params.block_bytes_max == block_bytes_max);
    ChainOptions options;
    options.store.in_memory = true;
    options.store.sync = false;
    options.threads = 2;
    r = Chain::Open(options, genesis, &app, &chain);
    INFO(r.ToString());
    REQUIRE(r.ok());
  }
  uint64_t Balance(const TestEnv& env, const std::string& name, const std::string& asset) const {
    return BalanceOf(LoadAccount(chain->state(), env.Pub(name)), asset);
  }
};

// A follower on the env's own genesis.
std::unique_ptr<Chain> Follower(TestEnv& env) {
  ChainOptions options;
  options.store.in_memory = true;
  options.store.sync = false;
  options.threads = 2;
  std::unique_ptr<Chain> chain;
  REQUIRE(Chain::Open(options, env.genesis(), &env.app(), &chain).ok());
  return chain;
}

v1::BlockHeader Header(const v1::Block& block) {
  v1::BlockHeader h;
  REQUIRE(h.ParseFromString(block.header()));
  return h;
}

// Re-encodes `header` into `block` and signs a commit for it with the env's validator.
std::pair<v1::Block, v1::Commit> Resign(TestEnv& env, v1::Block block, const v1::BlockHeader& header) {
  block.set_header(CanonicalBytes(header));
  v1::Commit commit = MakeCommit(env.genesis().chain_id, header.height(), 0, BlockHash(block.header()), {&env.validator()},
                                 header.time_ms() + 1, env.random());
  return {block, commit};
}
// Same, with raw header bytes (for non-canonical headers).
std::pair<v1::Block, v1::Commit> ResignRaw(TestEnv& env, v1::Block block, const std::string& header_bytes, uint64_t height) {
  block.set_header(header_bytes);
  v1::Commit commit =
      MakeCommit(env.genesis().chain_id, height, 0, BlockHash(block.header()), {&env.validator()}, env.now_ms(), env.random());
  return {block, commit};
}
// Replaces the txs of a block, fixing tx_count and tx_root (the state root is left as it was).
v1::BlockHeader WithTxs(v1::Block* block, const std::vector<std::string>& txs) {
  v1::BlockHeader h = Header(*block);
  block->clear_txs();
  std::vector<Hash256> leaves;
  for (const auto& tx : txs) {
    *block->add_txs() = tx;
    leaves.push_back(MerkleLeafHash(tx));
  }
  h.set_tx_root(MerkleRoot(leaves).bytes());
  h.set_tx_count(static_cast<uint32_t>(txs.size()));
  return h;
}

size_t BlockBytes(const v1::Block& block) {
  size_t bytes = block.header().size();
  for (const auto& tx : block.txs()) bytes += tx.size();
  return bytes;
}

// The env's chain proposes (without committing) a block of `candidates` at height 1.
ExecutedBlock ProposeOnEnv(TestEnv& env, const std::vector<std::string>& candidates, std::vector<RejectedTx>* rejected) {
  std::vector<std::string_view> views(candidates.begin(), candidates.end());
  ExecutedBlock executed;
  Result r = env.chain().ProposeNext(views, env.now_ms() + 1000, env.validator(), env.random(), &executed, rejected);
  INFO(r.ToString());
  REQUIRE(r.ok());
  return executed;
}

// A transfer made `memo_bytes` larger.
std::string Padded(TestEnv& env, const std::string& from, uint64_t nonce, size_t memo_bytes, uint64_t amount = 1) {
  return env.Build({from}, [&](v1::TxBody& b) {
    auto* t = b.mutable_transfer();
    t->set_to(env.Pub("bob").bytes());
    t->set_asset("USDC");
    t->set_amount(amount);
    t->set_memo(std::string(memo_bytes, 'm'));
  }, TxOptions{.nonce = nonce});
}

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Tag(int field, int wire_type) { return Varint(static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wire_type)); }

Result ApplyAlone(TestEnv& env, const std::string& tx) { return env.Apply(tx); }

}  // namespace

// ============================================================================================
// Transactions
// ============================================================================================

TEST_CASE("ledger rules: exactly kTxSignersMax signers decode and verify - one more is kTooLarge", "[ledger-rules]") {
  TestEnv env;
  SeededRandom random(5);
  std::vector<PrivateKey> keys;
  for (size_t i = 0; i < limits::kTxSignersMax + 1; ++i) keys.push_back(GeneratePrivateKey(random));
  auto build = [&](size_t n) {
    v1::TxBody body;
    body.set_chain_id(env.genesis().chain_id);
    for (size_t i = 0; i < n; ++i) body.add_signers(keys[i].public_key().bytes());
    body.set_fee(10);
    body.mutable_transfer()->set_to(env.Pub("bob").bytes());
    body.mutable_transfer()->set_asset("KTR");
    body.mutable_transfer()->set_amount(1);
    v1::Tx tx;
    tx.set_body(EncodeTxBody(body));
    for (size_t i = 0; i < n; ++i) REQUIRE(SignTx(&tx, keys[i], random).ok());
    return EncodeTx(tx);
  };
  DecodedTx at_limit;
  Result r = DecodeTx(build(limits::kTxSignersMax), env.genesis().chain_id, &at_limit);
  INFO(r.ToString());
  REQUIRE(r.ok());
  CHECK(at_limit.signers.size() == 8);
  CHECK(VerifyTxSignatures(at_limit).ok());
  DecodedTx over;
  Result too_many = DecodeTx(build(limits::kTxSignersMax + 1), env.genesis().chain_id, &over);
  CHECK(too_many.code() == Code::kTooLarge);
  CHECK_THAT(too_many.message(), Catch::Contains("9 signers"));
}

TEST_CASE("ledger rules: a memo of exactly 256 bytes is accepted - 257 is kTooLarge", "[ledger-rules]") {
  TestEnv env;
  auto memo_tx = [&](size_t bytes) {
    return env.Build({"alice"}, [&](v1::TxBody& b) {
      b.mutable_transfer()->set_to(env.Pub("bob").bytes());
      b.mutable_transfer()->set_asset("USDC");
      b.mutable_transfer()->set_amount(7);
      b.mutable_transfer()->set_memo(std::string(bytes, 'z'));
    });
  };
  Result over = ApplyAlone(env, memo_tx(limits::kMemoBytesMax + 1));
  CHECK(over.code() == Code::kTooLarge);
  CHECK_THAT(over.message(), Catch::Contains("257 bytes"));
  CHECK(env.Balance("bob", "USDC") == kFunding);
  CHECK(env.Nonce("alice") == 0);
  Result exact = ApplyAlone(env, memo_tx(limits::kMemoBytesMax));
  INFO(exact.ToString());
  CHECK(exact.ok());
  CHECK(env.Balance("bob", "USDC") == kFunding + 7);
  CHECK(env.Nonce("alice") == 1);
}

TEST_CASE("ledger rules: a fee of exactly the minimum is accepted and paid to the proposer - one below is kFeeTooLow",
          "[ledger-rules]") {
  TestEnv env({.min_fee = 25});
  const PublicKey proposer = env.validator().public_key();
  Result below = ApplyAlone(env, env.Transfer("alice", "bob", "KTR", 1, {.fee = 24}));
  CHECK(below.code() == Code::kFeeTooLow);
  CHECK_THAT(below.message(), Catch::Contains("fee 24 is below the minimum 25 KTR"));
  CHECK(env.Balance("alice", "KTR") == kFunding);
  CHECK(BalanceOf(LoadAccount(env.chain().state(), proposer), "KTR") == 0);
  Result exact = ApplyAlone(env, env.Transfer("alice", "bob", "KTR", 1, {.fee = 25}));
  INFO(exact.ToString());
  REQUIRE(exact.ok());
  CHECK(env.Balance("alice", "KTR") == kFunding - 1 - 25);
  CHECK(BalanceOf(LoadAccount(env.chain().state(), proposer), "KTR") == 25);

  // Executor::CheckStateless applies the floor on its own (the admission path uses it).
  DecodedTx d;
  REQUIRE(DecodeTx(env.Transfer("alice", "bob", "KTR", 1, {.fee = 24, .nonce = 5}), env.genesis().chain_id, &d).ok());
  CHECK(env.chain().executor().CheckStateless(d).code() == Code::kFeeTooLow);
  REQUIRE(DecodeTx(env.Transfer("alice", "bob", "KTR", 1, {.fee = 25, .nonce = 5}), env.genesis().chain_id, &d).ok());
  CHECK(env.chain().executor().CheckStateless(d).ok());
}

TEST_CASE("ledger rules: with a minimum fee of 0 a fee of 0 is accepted and nothing is paid", "[ledger-rules]") {
  TestEnv env({.min_fee = 0});
  REQUIRE(ApplyAlone(env, env.Transfer("alice", "bob", "KTR", 3, {.fee = 0})).ok());
  CHECK(env.Balance("alice", "KTR") == kFunding - 3);
  CHECK(BalanceOf(LoadAccount(env.chain().state(), env.validator().public_key()), "KTR") == 0);
}

TEST_CASE("ledger rules: expiry at the block height is fine - one below is kExpired - one above and 0 are fine",
          "[ledger-rules]") {
  TestEnv env;
  env.Close();
  env.Close();  // the next block is height 3
  REQUIRE(env.chain().height() == 2);
  Result below = ApplyAlone(env, env.Transfer("alice", "bob", "KTR", 1, {.expiry_height = 2}));
  CHECK(below.code() == Code::kExpired);
  CHECK_THAT(below.message(), Catch::Contains("expired at height 2; block is 3"));
  CHECK(env.Nonce("alice") == 0);
  // Heights 4, 5, 6 next.
  CHECK(ApplyAlone(env, env.Transfer("alice", "bob", "KTR", 1, {.expiry_height = 4})).ok());
  CHECK(ApplyAlone(env, env.Transfer("alice", "bob", "KTR", 1, {.expiry_height = 6})).ok());
  CHECK(ApplyAlone(env, env.Transfer("alice", "bob", "KTR", 1, {.expiry_height = 0})).ok());
  CHECK(env.chain().height() == 6);
  CHECK(env.Nonce("alice") == 3);
  CHECK(env.Balance("bob", "KTR") == kFunding + 3);
}

TEST_CASE("ledger rules: a second tx with the same nonce in one block is kBadNonce - the first stands", "[ledger-rules]") {
  TestEnv env;
  std::string first = env.Transfer("alice", "bob", "USDC", 10, {.nonce = 0});
  std::string clash = env.Transfer("alice", "carol", "USDC", 20, {.nonce = 0});
  env.Submit(first);
  env.Submit(clash);
  env.Submit(first);  // the very same tx again
  auto closed = env.Close();
  CHECK(closed.included == 1);
  REQUIRE(closed.rejected.size() == 2);
  CHECK(closed.rejected[0].index == 1);
  CHECK(closed.rejected[0].result.code() == Code::kBadNonce);
  CHECK(closed.rejected[1].index == 2);
  CHECK(closed.rejected[1].result.code() == Code::kBadNonce);
  CHECK(env.Balance("bob", "USDC") == kFunding + 10);
  CHECK(env.Balance("carol", "USDC") == kFunding);
  CHECK(env.Nonce("alice") == 1);
}

// ============================================================================================
// Block limits: a block received from a peer
// ============================================================================================

TEST_CASE("ledger rules: a received block with exactly block_txs_max txs is accepted - one more is kTooLarge",
          "[ledger-rules]") {
  TestEnv env;
  std::vector<std::string> txs;
  for (uint64_t i = 0; i < 5; ++i) txs.push_back(env.Transfer("alice", "bob", "USDC", 100, {.nonce = i}));
  std::vector<RejectedTx> rejected;
  ExecutedBlock built = ProposeOnEnv(env, txs, &rejected);
  REQUIRE(rejected.empty());
  REQUIRE(built.block.block.txs_size() == 5);

  LimitedChain at_limit(env.genesis(), 5, 16 * 1024 * 1024);
  v1::BlockHeader h = Header(built.block.block);
  h.set_prev_hash(at_limit.genesis.hash.bytes());
  auto ok_block = Resign(env, built.block.block, h);
  Result accepted = at_limit.chain->CommitBlock(ok_block.first, ok_block.second);
  INFO(accepted.ToString());
  CHECK(accepted.ok());
  CHECK(at_limit.chain->height() == 1);
  CHECK(at_limit.Balance(env, "bob", "USDC") == kFunding + 500);

  LimitedChain below(env.genesis(), 4, 16 * 1024 * 1024);
  h.set_prev_hash(below.genesis.hash.bytes());
  auto big_block = Resign(env, built.block.block, h);
  Result refused = below.chain->CommitBlock(big_block.first, big_block.second);
  CHECK(refused.code() == Code::kTooLarge);
  CHECK_THAT(refused.message(), Catch::Contains("has 5 txs; at most 4 allowed"));
  CHECK(below.chain->height() == 0);
  CHECK(below.Balance(env, "bob", "USDC") == kFunding);
}

TEST_CASE("ledger rules: a received block of exactly block_bytes_max bytes is accepted - one byte more is kTooLarge",
          "[ledger-rules]") {
  TestEnv env;
  // About 70 KB of transfers with 256-byte memos: above the smallest allowed block_bytes_max (64 KiB).
  std::vector<std::string> txs;
  for (uint64_t i = 0; i < 160; ++i) txs.push_back(Padded(env, i % 2 ? "alice" : "carol", i / 2, 256));
  std::vector<RejectedTx> rejected;
  ExecutedBlock built = ProposeOnEnv(env, txs, &rejected);
  REQUIRE(rejected.empty());
  REQUIRE(built.block.block.txs_size() == 160);
  const size_t bytes = BlockBytes(built.block.block);  // header + every tx envelope
  REQUIRE(bytes >= limits::kTxBytesMax);
  v1::BlockHeader h = Header(built.block.block);

  LimitedChain exact(env.genesis(), 10'000, bytes);
  h.set_prev_hash(exact.genesis.hash.bytes());
  auto b1 = Resign(env, built.block.block, h);
  REQUIRE(BlockBytes(b1.first) == bytes);
  Result accepted = exact.chain->CommitBlock(b1.first, b1.second);
  INFO(accepted.ToString());
  CHECK(accepted.ok());
  CHECK(exact.chain->height() == 1);
  CHECK(exact.Balance(env, "bob", "USDC") == kFunding + 160);

  LimitedChain one_less(env.genesis(), 10'000, bytes - 1);
  h.set_prev_hash(one_less.genesis.hash.bytes());
  auto b2 = Resign(env, built.block.block, h);
  Result refused = one_less.chain->CommitBlock(b2.first, b2.second);
  CHECK(refused.code() == Code::kTooLarge);
  CHECK_THAT(refused.message(), Catch::Contains("is " + std::to_string(bytes) + " bytes; at most " + std::to_string(bytes - 1)));
  CHECK(one_less.chain->height() == 0);
}

// ============================================================================================
// Block limits: the block the proposer builds
// ============================================================================================

TEST_CASE("ledger rules: the proposer stops adding txs at block_txs_max and the rest wait for the next block",
          "[ledger-rules]") {
  TestEnv env;  // keys and signing
  LimitedChain proposer(env.genesis(), 3, 16 * 1024 * 1024);
  LimitedChain follower(env.genesis(), 3, 16 * 1024 * 1024);
  // A failing tx first: it does not take one of the 3 places.
  std::string failing = env.Transfer("dave", "bob", "USDC", kFunding + 1, {.nonce = 0});
  std::vector<std::string> txs = {failing};
  for (uint64_t i = 0; i < 5; ++i) txs.push_back(env.Transfer("alice", "bob", "USDC", 1 + i, {.nonce = i}));
  std::vector<std::string_view> views(txs.begin(), txs.end());
  ExecutedBlock produced;
  std::vector<RejectedTx> rejected;
  REQUIRE(proposer.chain->ProduceBlock(views, env.now_ms() + 1000, env.validator(), env.random(), &produced, &rejected).ok());
  CHECK(produced.block.txs.size() == 3);
  CHECK(Header(produced.block.block).tx_count() == 3);
  REQUIRE(rejected.size() == 1);  // only the failing one; the two left over are not rejections
  CHECK(rejected[0].index == 0);
  CHECK(rejected[0].result.code() == Code::kInsufficientFunds);
  CHECK(proposer.Balance(env, "bob", "USDC") == kFunding + 1 + 2 + 3);
  Result r = follower.chain->CommitBlock(produced.block.block, produced.commit);
  INFO(r.ToString());
  REQUIRE(r.ok());

  // The two left over go into the next block.
  std::vector<std::string_view> rest = {txs[4], txs[5]};
  rejected.clear();
  REQUIRE(proposer.chain->ProduceBlock(rest, env.now_ms() + 2000, env.validator(), env.random(), &produced, &rejected).ok());
  CHECK(produced.block.txs.size() == 2);
  CHECK(rejected.empty());
  CHECK(proposer.Balance(env, "bob", "USDC") == kFunding + 15);
  REQUIRE(follower.chain->CommitBlock(produced.block.block, produced.commit).ok());
  CHECK(follower.chain->state().root() == proposer.chain->state().root());
}

TEST_CASE("ledger rules: the proposer stops adding txs before block_bytes_max and its block is accepted",
          "[ledger-rules]") {
  TestEnv env;
  const uint64_t bytes_max = limits::kTxBytesMax;  // 64 KiB: the smallest a genesis may set
  LimitedChain proposer(env.genesis(), 10'000, bytes_max);
  LimitedChain follower(env.genesis(), 10'000, bytes_max);
  std::vector<std::string> txs;
  for (uint64_t i = 0; i < 200; ++i) txs.push_back(Padded(env, i % 2 ? "alice" : "carol", i / 2, 256));
  const size_t all = std::accumulate(txs.begin(), txs.end(), size_t{0}, [](size_t s, const std::string& t) { return s + t.size(); });
  REQUIRE(all > bytes_max + 10'000);  // far more than fits

  std::vector<std::string_view> views(txs.begin(), txs.end());
  ExecutedBlock produced;
  std::vector<RejectedTx> rejected;
  REQUIRE(proposer.chain->ProduceBlock(views, env.now_ms() + 1000, env.validator(), env.random(), &produced, &rejected).ok());
  CHECK(rejected.empty());
  const size_t included = produced.block.txs.size();
  INFO("included " << included << " of 200");
  CHECK(included > 0);
  CHECK(included < 200);
  const size_t block_bytes = BlockBytes(produced.block.block);
  CHECK(block_bytes <= bytes_max);
  // It stopped only when the next tx would not fit with room for a header of the largest size.
  size_t tx_bytes = block_bytes - produced.block.block.header().size();
  CHECK(tx_bytes + txs[included].size() + limits::kHeaderBytesMax > bytes_max);
  // Its txs are the first ones, in order.
  for (size_t i = 0; i < included; ++i) CHECK(produced.block.block.txs(static_cast<int>(i)) == txs[i]);
  Result r = follower.chain->CommitBlock(produced.block.block, produced.commit);
  INFO(r.ToString());
  CHECK(r.ok());
  CHECK(follower.chain->height() == 1);
}

// ============================================================================================
// Header fields of a received block
// ============================================================================================

TEST_CASE("ledger rules: header checks at their edges", "[ledger-rules]") {
  TestEnv env;
  env.Submit(env.Transfer("alice", "bob", "USDC", 1'000));
  auto closed = env.Close();
  REQUIRE(closed.rejected.empty());
  const v1::Block block = closed.block.block.block;
  const v1::Commit commit = closed.block.commit;
  const v1::BlockHeader h = Header(block);
  auto follower = Follower(env);
  const Hash256 root = follower->state().root();

  auto rejects = [&](const std::pair<v1::Block, v1::Commit>& bad, Code code, const std::string& fragment) {
    Result r = follower->CommitBlock(bad.first, bad.second);
    INFO(r.ToString());
    CHECK(r.code() == code);
    CHECK_THAT(r.message(), Catch::Contains(fragment));
    CHECK(follower->height() == 0);
    CHECK(follower->state().root() == root);
  };

  SECTION("block 1 at the genesis time is accepted (its BFT time)") {
    auto x = h;
    x.set_time_ms(env.genesis().genesis_time_ms);
    auto same_time = Resign(env, block, x);
    Result r = follower->CommitBlock(same_time.first, same_time.second);
    INFO(r.ToString());
    CHECK(r.ok());
    CHECK(follower->tip().time_ms == env.genesis().genesis_time_ms);
  }
  SECTION("time one ms before the parent's is kBadTime") {
    auto x = h;
    x.set_time_ms(env.genesis().genesis_time_ms - 1);
    rejects(Resign(env, block, x), Code::kBadTime, "differs from the BFT time");
  }
  SECTION("a height equal to the tip is kBadHeight") {
    REQUIRE(follower->CommitBlock(block, commit).ok());
    // The same block again: its height is the tip's, not the next.
    Result again = follower->CommitBlock(block, commit);
    CHECK(again.code() == Code::kBadHeight);
    CHECK_THAT(again.message(), Catch::Contains("height 2 expected"));
    CHECK(follower->height() == 1);
    CHECK(follower->tip().hash == BlockHash(block.header()));
  }
  SECTION("every hash or key field must be 32 bytes") {
    using Setter = void (v1::BlockHeader::*)(const std::string&);
    for (Setter set : {static_cast<Setter>(&v1::BlockHeader::set_prev_hash), static_cast<Setter>(&v1::BlockHeader::set_tx_root),
                       static_cast<Setter>(&v1::BlockHeader::set_state_root),
                       static_cast<Setter>(&v1::BlockHeader::set_validators_hash),
                       static_cast<Setter>(&v1::BlockHeader::set_proposer),
                       static_cast<Setter>(&v1::BlockHeader::set_last_commit_hash)}) {
      for (size_t size : {31u, 33u}) {
        auto x = h;
        (x.*set)(std::string(size, 'q'));
        rejects(Resign(env, block, x), Code::kBadBlock, "not 32 bytes");
      }
    }
  }
  SECTION("tx_count above or below the txs carried is kBadBlock") {
    auto x = h;
    x.set_tx_count(2);
    rejects(Resign(env, block, x), Code::kBadBlock, "header says 2 txs, block has 1");
    x.set_tx_count(0);
    rejects(Resign(env, block, x), Code::kBadBlock, "header says 0 txs, block has 1");
  }
  SECTION("block 1 carrying a last commit is kBadCommit") {
    auto with_lc = block;
    *with_lc.mutable_last_commit() = commit;
    rejects({with_lc, commit}, Code::kBadCommit, "has a last commit");
  }
  SECTION("a header over kHeaderBytesMax is kTooLarge - one that is not a header is kMalformed") {
    auto x = h;
    x.set_chain_id(std::string(limits::kHeaderBytesMax, 'c'));
    rejects(Resign(env, block, x), Code::kTooLarge, "block header is");
    rejects(ResignRaw(env, block, std::string("\x0a\xff", 2), 1), Code::kMalformed, "block header is malformed at byte 1");
  }
  SECTION("a header with a default value written out or fields out of order is kNonCanonical") {
    // tx_count 0 written explicitly on an empty block.
    v1::Block empty = block;
    auto x = WithTxs(&empty, {});
    std::string explicit_zero = CanonicalBytes(x) + Tag(10, 0) + Varint(0);
    rejects(ResignRaw(env, empty, explicit_zero, 1), Code::kNonCanonical, "not canonically encoded");
    // height (field 2) moved after time (field 3).
    v1::BlockHeader no_height = h;
    no_height.clear_height();
    std::string canonical = CanonicalBytes(no_height);
    std::string reordered = canonical + Tag(2, 0) + Varint(1);
    v1::BlockHeader parsed;
    REQUIRE(parsed.ParseFromString(reordered));
    REQUIRE(parsed.height() == 1);
    rejects(ResignRaw(env, block, reordered, 1), Code::kNonCanonical, "not canonically encoded");
    // height 1 as a two-byte varint (0x81 0x00).
    std::string non_minimal = CanonicalBytes(h);
    const std::string good_height = Tag(2, 0) + Varint(1);
    const size_t at = non_minimal.find(good_height);
    REQUIRE(at != std::string::npos);
    non_minimal.replace(at, good_height.size(), Tag(2, 0) + std::string("\x81\x00", 2));
    REQUIRE(parsed.ParseFromString(non_minimal));
    REQUIRE(parsed.height() == 1);
    rejects(ResignRaw(env, block, non_minimal, 1), Code::kNonCanonical, "not canonically encoded");
  }
}

TEST_CASE("ledger rules: a received block with an expired tx - a fee below the floor - or a tx twice is refused",
          "[ledger-rules]") {
  TestEnv env;
  env.Submit(env.Transfer("alice", "bob", "USDC", 1'000, {.nonce = 0}));
  auto closed = env.Close();
  REQUIRE(closed.rejected.empty());
  const v1::Block block = closed.block.block.block;
  auto follower = Follower(env);
  auto refuse = [&](const std::vector<std::string>& txs, const std::string& fragment) {
    v1::Block b = block;
    v1::BlockHeader h = WithTxs(&b, txs);
    auto signed_block = Resign(env, b, h);
    Result r = follower->CommitBlock(signed_block.first, signed_block.second);
    INFO(r.ToString());
    CHECK(r.code() == Code::kBadTxInBlock);
    CHECK_THAT(r.message(), Catch::Contains(fragment));
    CHECK(follower->height() == 0);
  };
  // Expiry 0 means never; the smallest real expiry is 1, which block 1 may still include.
  SECTION("expired") {
    // Block 1 cannot hold an expired tx (expiry 1 is still valid there): build on block 1.
    REQUIRE(follower->CommitBlock(block, closed.block.commit).ok());
    v1::Block b2 = block;
    std::string expired = env.Transfer("alice", "bob", "USDC", 1, {.nonce = 1, .expiry_height = 1});
    v1::BlockHeader h = WithTxs(&b2, {expired});
    h.set_height(2);
    uint64_t time_ms = 0;
    REQUIRE(BftTime(closed.block.commit, env.genesis(), 2, &time_ms).ok());
    h.set_time_ms(time_ms);
    h.set_prev_hash(follower->tip().hash.bytes());
    h.set_last_commit_hash(CommitHash(closed.block.commit).bytes());
    *b2.mutable_last_commit() = closed.block.commit;
    auto signed_block = Resign(env, b2, h);
    Result r = follower->CommitBlock(signed_block.first, signed_block.second);
    INFO(r.ToString());
    CHECK(r.code() == Code::kBadTxInBlock);
    CHECK_THAT(r.message(), Catch::Contains("expired (301)"));
    CHECK(follower->height() == 1);
  }
  SECTION("fee below the floor") {
    refuse({env.Transfer("alice", "bob", "USDC", 1'000, {.fee = 9, .nonce = 0})}, "fee_too_low (112)");
  }
  SECTION("the same tx twice") { refuse({block.txs(0), block.txs(0)}, "bad_nonce (300)"); }
}

// ============================================================================================
// Canonical form (ledger/codec.cpp)
// ============================================================================================

TEST_CASE("ledger rules: DecodeCanonical - exactly bytes_max is read - one byte over is kTooLarge", "[ledger-rules]") {
  v1::BlockHeader h;
  h.set_chain_id("kontor-test");
  h.set_height(300);
  h.set_tx_count(2);
  const std::string bytes = CanonicalBytes(h);
  v1::BlockHeader out;
  CHECK(DecodeCanonical(bytes, bytes.size(), "header", &out).ok());
  CHECK(out.height() == 300);
  Result over = DecodeCanonical(bytes, bytes.size() - 1, "header", &out);
  CHECK(over.code() == Code::kTooLarge);
  CHECK_THAT(over.message(), Catch::Contains("header is " + std::to_string(bytes.size()) + " bytes; at most " +
                                             std::to_string(bytes.size() - 1)));
  // Truncated: kMalformed. Empty bytes are the canonical empty message.
  CHECK(DecodeCanonical(bytes.substr(0, bytes.size() - 1), 1024, "header", &out).code() == Code::kMalformed);
  CHECK(DecodeCanonical("", 1024, "header", &out).ok());
  // Unknown field: kNonCanonical even though the known fields are canonical.
  CHECK(DecodeCanonical(bytes + Tag(99, 2) + Varint(1) + "x", 1024, "header", &out).code() == Code::kNonCanonical);
}
