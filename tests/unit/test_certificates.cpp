// Commit certificates with several validators (ledger/block.cpp VerifyCommit): a block is final
// when validators holding MORE than 2/3 of the voting power precommit it. Each test builds a
// genesis with 3 or 4 validators of equal or unequal power, signs precommits with the real
// MakeCommit / VoteMessage, and checks the threshold exactly at 2/3 (rejected) and just above it
// (accepted), plus every way a certificate can be wrong. The last tests run the same rules
// through a follower Chain, for a block's own commit and for the last_commit it carries.
#include <catch2/catch.hpp>

#include <algorithm>

#include "contracts/app.h"
#include "ledger/bft_time.h"
#include "ledger/block.h"
#include "ledger/chain.h"
#include "ledger/codec.h"
#include "ledger/genesis.h"
#include "ledger/merkle.h"

using namespace kontor;

namespace {

constexpr uint64_t kGenesisTimeMs = 1'767'225'600'000;

// Validators with the given powers (keys from a fixed seed), and one outsider key.
struct ValidatorSet {
  std::vector<PrivateKey> keys;
  std::optional<PrivateKey> outsider;
  Genesis genesis;
  SeededRandom random{42};

  explicit ValidatorSet(const std::vector<uint64_t>& powers, uint64_t seed = 7) : random(seed) {
    Genesis g;
    g.chain_id = "kontor-cert-test";
    g.genesis_time_ms = kGenesisTimeMs;
    g.assets.push_back({"KTR", 6, std::nullopt});
    for (size_t i = 0; i < powers.size(); ++i) {
      keys.push_back(GeneratePrivateKey(random));
      g.validators.push_back({keys.back().public_key(), powers[i], "validator-" + std::to_string(i)});
      g.balances.push_back({keys.back().public_key(), "KTR", 1'000});
    }
    outsider = GeneratePrivateKey(random);
    g.params.fee_asset = "KTR";
    g.params.min_fee = 0;
    Result r = ParseGenesis(WriteGenesisJson(g), &genesis);
    INFO(r.ToString());
    REQUIRE(r.ok());
    REQUIRE(genesis.validators.size() == powers.size());
  }

  std::vector<const PrivateKey*> Pick(const std::vector<size_t>& which) const {
    std::vector<const PrivateKey*> out;
    for (size_t i : which) out.push_back(&keys.at(i));
    return out;
  }
  // Precommits timestamped one second per height after the genesis time.
  v1::Commit Commit(const std::vector<size_t>& which, uint64_t height, const Hash256& block_hash, uint32_t round = 0) {
    return MakeCommit(genesis.chain_id, height, round, block_hash, Pick(which), kGenesisTimeMs + height * 1000, random);
  }
  Result Verify(const v1::Commit& commit, uint64_t height, const Hash256& block_hash) const {
    return VerifyCommit(commit, genesis, height, block_hash);
  }
};

Hash256 SomeBlockHash(char fill = 'b') { return Hash256::FromBytes(std::string(32, fill)); }

// A precommit-style signature by `key` over an arbitrary vote message.
v1::CommitSignature SignVote(const PrivateKey& key, const Hash256& message, RandomSource& random) {
  Signature64 sig = key.Sign(message, random.Array<32>());
  v1::CommitSignature s;
  s.set_validator(key.public_key().bytes());
  s.set_signature(std::string(reinterpret_cast<const char*>(sig.data()), 64));
  return s;
}

// Inserts `s` into the commit keeping signatures sorted by validator key.
void InsertSorted(v1::Commit* commit, const v1::CommitSignature& s) {
  std::vector<v1::CommitSignature> all(commit->signatures().begin(), commit->signatures().end());
  all.push_back(s);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.validator() < b.validator(); });
  commit->clear_signatures();
  for (auto& x : all) *commit->add_signatures() = x;
}

void ExpectBadCommit(const Result& r, const std::string& fragment) {
  INFO(r.ToString());
  CHECK(r.code() == Code::kBadCommit);
  CHECK_THAT(r.message(), Catch::Contains(fragment));
}

}  // namespace

// ============================================================================================
// Threshold: more than 2/3 of the power, never exactly 2/3
// ============================================================================================

TEST_CASE("certificates: 3 equal validators - 2 of 3 is exactly 2/3 and is rejected - 3 of 3 is accepted", "[certificates]") {
  ValidatorSet set({1, 1, 1});
  const Hash256 block = SomeBlockHash();
  for (const auto& pair : std::vector<std::vector<size_t>>{{0, 1}, {0, 2}, {1, 2}}) {
    ExpectBadCommit(set.Verify(set.Commit(pair, 5, block), 5, block), "signed by power 2 of 3; more than 2/3 needed");
  }
  for (size_t i = 0; i < 3; ++i) ExpectBadCommit(set.Verify(set.Commit({i}, 5, block), 5, block), "power 1 of 3");
  Result all = set.Verify(set.Commit({0, 1, 2}, 5, block), 5, block);
  INFO(all.ToString());
  CHECK(all.ok());
}

TEST_CASE("certificates: 4 equal validators - 3 of 4 accepted - 2 of 4 and 1 of 4 rejected", "[certificates]") {
  ValidatorSet set({1, 1, 1, 1});
  const Hash256 block = SomeBlockHash();
  CHECK(set.Verify(set.Commit({0, 1, 2, 3}, 9, block), 9, block).ok());
  // Any one validator missing: 3/4 > 2/3.
  for (size_t missing = 0; missing < 4; ++missing) {
    std::vector<size_t> three;
    for (size_t i = 0; i < 4; ++i)
      if (i != missing) three.push_back(i);
    Result r = set.Verify(set.Commit(three, 9, block), 9, block);
    INFO("validator " << missing << " missing: " << r.ToString());
    CHECK(r.ok());
  }
  ExpectBadCommit(set.Verify(set.Commit({0, 3}, 9, block), 9, block), "power 2 of 4");
  ExpectBadCommit(set.Verify(set.Commit({2}, 9, block), 9, block), "power 1 of 4");
  v1::Commit none = set.Commit({}, 9, block);
  ExpectBadCommit(set.Verify(none, 9, block), "power 0 of 4");
}

TEST_CASE("certificates: unequal power 3-2-1 - the power counts - not the number of signers", "[certificates]") {
  ValidatorSet set({3, 2, 1});  // total 6; 2/3 is 4
  const Hash256 block = SomeBlockHash();
  // 3 + 1 = 4 is exactly 2/3: rejected, although 2 of 3 validators signed.
  ExpectBadCommit(set.Verify(set.Commit({0, 2}, 2, block), 2, block), "power 4 of 6");
  // 2 + 1 = 3: rejected.
  ExpectBadCommit(set.Verify(set.Commit({1, 2}, 2, block), 2, block), "power 3 of 6");
  // 3 + 2 = 5 > 4: accepted without the third validator.
  CHECK(set.Verify(set.Commit({0, 1}, 2, block), 2, block).ok());
  CHECK(set.Verify(set.Commit({0, 1, 2}, 2, block), 2, block).ok());
  // The heaviest validator alone (3 of 6) is not enough.
  ExpectBadCommit(set.Verify(set.Commit({0}, 2, block), 2, block), "power 3 of 6");
}

TEST_CASE("certificates: 4 unequal validators 100-100-99-1 - 200 of 300 rejected - 201 of 300 accepted", "[certificates]") {
  ValidatorSet set({100, 100, 99, 1});  // total 300; exactly 2/3 = 200
  const Hash256 block = SomeBlockHash();
  ExpectBadCommit(set.Verify(set.Commit({0, 1}, 3, block), 3, block), "power 200 of 300");
  ExpectBadCommit(set.Verify(set.Commit({0, 2, 3}, 3, block), 3, block), "power 200 of 300");
  // One unit of power above 2/3 is enough.
  CHECK(set.Verify(set.Commit({0, 1, 3}, 3, block), 3, block).ok());
  CHECK(set.Verify(set.Commit({0, 1, 2}, 3, block), 3, block).ok());  // 299
  ExpectBadCommit(set.Verify(set.Commit({1, 2}, 3, block), 3, block), "power 199 of 300");
}

TEST_CASE("certificates: large powers near 2^40 do not overflow the threshold", "[certificates]") {
  const uint64_t big = 1ull << 40;
  ValidatorSet set({big, big, big});  // exactly 2/3 is 2^41
  const Hash256 block = SomeBlockHash();
  ExpectBadCommit(set.Verify(set.Commit({0, 2}, 4, block), 4, block), "more than 2/3 needed");
  CHECK(set.Verify(set.Commit({0, 1, 2}, 4, block), 4, block).ok());
  ValidatorSet skew({big, big - 1, 1});  // total 2^41; 2/3 of it is not an integer
  // big alone is 1/2: rejected. big + 1 is just above 1/2: rejected. big + (big - 1) is just below 1: accepted.
  ExpectBadCommit(skew.Verify(skew.Commit({0}, 4, block), 4, block), "more than 2/3 needed");
  ExpectBadCommit(skew.Verify(skew.Commit({0, 2}, 4, block), 4, block), "more than 2/3 needed");
  CHECK(skew.Verify(skew.Commit({0, 1}, 4, block), 4, block).ok());
}

TEST_CASE("certificates: a single validator of power 1 signs alone - no signature is not enough", "[certificates]") {
  ValidatorSet set({1});
  const Hash256 block = SomeBlockHash();
  CHECK(set.Verify(set.Commit({0}, 1, block), 1, block).ok());
  ExpectBadCommit(set.Verify(set.Commit({}, 1, block), 1, block), "power 0 of 1");
}

// ============================================================================================
// Who signed: validators only, each once, each signature valid
// ============================================================================================

TEST_CASE("certificates: a duplicate validator signature is not counted twice", "[certificates]") {
  ValidatorSet set({1, 1, 1, 1});
  const Hash256 block = SomeBlockHash();
  // Validators 0 and 1 (2 of 4) plus validator 0 again: counted twice it would be 3 of 4.
  v1::Commit commit = set.Commit({0, 1}, 6, block);
  const Hash256 message = VoteMessage(set.genesis.chain_id, 6, 0, v1::VOTE_TYPE_PRECOMMIT, block, 0);
  InsertSorted(&commit, SignVote(set.keys[0], message, set.random));  // a second, different but valid signature
  REQUIRE(commit.signatures_size() == 3);
  ExpectBadCommit(set.Verify(commit, 6, block), "repeat one");
  // The same signature bytes repeated.
  v1::Commit same = set.Commit({0, 1}, 6, block);
  InsertSorted(&same, same.signatures(0));
  ExpectBadCommit(set.Verify(same, 6, block), "repeat one");
  // MakeCommit given one key twice makes the same kind of certificate: rejected too.
  v1::Commit twice = set.Commit({2, 2, 3}, 6, block);
  ExpectBadCommit(set.Verify(twice, 6, block), "repeat one");
}

TEST_CASE("certificates: a signature from a non-validator is refused even when validators alone suffice", "[certificates]") {
  ValidatorSet set({1, 1, 1, 1});
  const Hash256 block = SomeBlockHash();
  const Hash256 message = VoteMessage(set.genesis.chain_id, 8, 0, v1::VOTE_TYPE_PRECOMMIT, block, 0);
  // 3 of 4 validators (enough) plus an outsider: 4 signatures, not more than the validators.
  v1::Commit commit = set.Commit({0, 1, 2}, 8, block);
  InsertSorted(&commit, SignVote(*set.outsider, message, set.random));
  ExpectBadCommit(set.Verify(commit, 8, block), "is not a validator");
  // An outsider standing in for the missing validators does not make up power.
  v1::Commit two = set.Commit({0, 1}, 8, block);
  InsertSorted(&two, SignVote(*set.outsider, message, set.random));
  ExpectBadCommit(set.Verify(two, 8, block), "is not a validator");
  // More signatures than validators is refused before any is checked.
  v1::Commit five = set.Commit({0, 1, 2, 3}, 8, block);
  InsertSorted(&five, SignVote(*set.outsider, message, set.random));
  ExpectBadCommit(set.Verify(five, 8, block), "more signatures than validators");
}

TEST_CASE("certificates: one bad signature fails the certificate even when the rest suffice", "[certificates]") {
  ValidatorSet set({1, 1, 1, 1});
  const Hash256 block = SomeBlockHash();
  v1::Commit commit = set.Commit({0, 1, 2, 3}, 10, block);
  REQUIRE(set.Verify(commit, 10, block).ok());
  for (int i = 0; i < 4; ++i) {
    v1::Commit damaged = commit;
    damaged.mutable_signatures(i)->mutable_signature()->at(17) ^= 0x40;
    ExpectBadCommit(set.Verify(damaged, 10, block), "does not verify");
  }
  // A signature moved to another validator's slot.
  v1::Commit swapped = commit;
  std::string s0 = swapped.signatures(0).signature();
  swapped.mutable_signatures(0)->set_signature(swapped.signatures(1).signature());
  swapped.mutable_signatures(1)->set_signature(s0);
  ExpectBadCommit(set.Verify(swapped, 10, block), "does not verify");
  // Malformed sizes.
  v1::Commit short_sig = commit;
  short_sig.mutable_signatures(2)->set_signature(commit.signatures(2).signature().substr(0, 63));
  ExpectBadCommit(set.Verify(short_sig, 10, block), "malformed signature");
  v1::Commit short_key = commit;
  short_key.mutable_signatures(2)->set_validator(commit.signatures(2).validator().substr(1));
  ExpectBadCommit(set.Verify(short_key, 10, block), "malformed signature");
}

TEST_CASE("certificates: signatures must be sorted by validator key", "[certificates]") {
  ValidatorSet set({1, 1, 1});
  const Hash256 block = SomeBlockHash();
  v1::Commit commit = set.Commit({0, 1, 2}, 11, block);
  REQUIRE(set.Verify(commit, 11, block).ok());
  v1::Commit reversed = commit;
  reversed.mutable_signatures()->SwapElements(0, 2);
  ExpectBadCommit(set.Verify(reversed, 11, block), "not sorted");
}

// ============================================================================================
// What was signed: this chain, this height, this round, this block, a precommit
// ============================================================================================

TEST_CASE("certificates: a signature over another height - round - block - vote type or chain does not count",
          "[certificates]") {
  ValidatorSet set({2, 1, 1});  // total 4; validators 0 and 1 give 3 > 8/3
  const Hash256 block = SomeBlockHash('x');
  const Hash256 other = SomeBlockHash('y');
  REQUIRE(set.Verify(set.Commit({0, 1}, 12, block), 12, block).ok());

  SECTION("the commit names another height") {
    ExpectBadCommit(set.Verify(set.Commit({0, 1}, 13, block), 12, block), "is for height 13");
  }
  SECTION("the commit says height 12 but the validators signed height 13") {
    v1::Commit c = set.Commit({0, 1}, 13, block);
    c.set_height(12);
    ExpectBadCommit(set.Verify(c, 12, block), "does not verify");
  }
  SECTION("the commit names another block") {
    ExpectBadCommit(set.Verify(set.Commit({0, 1}, 12, other), 12, block), "names another block");
  }
  SECTION("the commit names this block but the validators signed another") {
    v1::Commit c = set.Commit({0, 1}, 12, other);
    c.set_block_hash(block.bytes());
    ExpectBadCommit(set.Verify(c, 12, block), "does not verify");
  }
  SECTION("the commit says round 1 but the validators signed round 0") {
    v1::Commit c = set.Commit({0, 1}, 12, block, 0);
    c.set_round(1);
    ExpectBadCommit(set.Verify(c, 12, block), "does not verify");
  }
  SECTION("any round is fine when the signatures are for it") {
    CHECK(set.Verify(set.Commit({0, 1}, 12, block, 3), 12, block).ok());
  }
  SECTION("prevotes are not precommits") {
    const Hash256 prevote = VoteMessage(set.genesis.chain_id, 12, 0, v1::VOTE_TYPE_PREVOTE, block, 0);
    v1::Commit c;
    c.set_height(12);
    c.set_block_hash(block.bytes());
    InsertSorted(&c, SignVote(set.keys[0], prevote, set.random));
    InsertSorted(&c, SignVote(set.keys[1], prevote, set.random));
    ExpectBadCommit(set.Verify(c, 12, block), "does not verify");
  }
  SECTION("precommits of another chain") {
    v1::Commit c = MakeCommit("kontor-other-chain", 12, 0, block, set.Pick({0, 1}), kGenesisTimeMs, set.random);
    ExpectBadCommit(set.Verify(c, 12, block), "does not verify");
  }
  SECTION("a precommit for nil - the empty block hash - is not one for the block") {
    v1::Commit c = MakeCommit(set.genesis.chain_id, 12, 0, Hash256{}, set.Pick({0, 1}), kGenesisTimeMs, set.random);
    c.set_block_hash(block.bytes());
    ExpectBadCommit(set.Verify(c, 12, block), "does not verify");
  }
}

TEST_CASE("certificates: a commit must be canonically encoded - unknown fields are refused", "[certificates]") {
  ValidatorSet set({1, 1, 1});
  const Hash256 block = SomeBlockHash();
  v1::Commit commit = set.Commit({0, 1, 2}, 14, block);
  REQUIRE(set.Verify(commit, 14, block).ok());
  v1::Commit extra = commit;
  extra.GetReflection()->MutableUnknownFields(&extra)->AddVarint(100, 1);
  Result r = set.Verify(extra, 14, block);
  ExpectBadCommit(r, "not canonically encoded");
}

// ============================================================================================
// Through a follower chain: the block's own commit and the last_commit the next block carries
// ============================================================================================

namespace {

// A follower Chain on the multi-validator genesis, and empty blocks built by hand (the
// single-validator proposer refuses a chain with several validators).
struct MultiChain {
  ValidatorSet set;
  contracts::KontorApp app;
  std::unique_ptr<Chain> chain;

  explicit MultiChain(const std::vector<uint64_t>& powers) : set(powers) {
    ChainOptions options;
    options.store.in_memory = true;
    options.store.sync = false;
    options.threads = 2;
    Result r = Chain::Open(options, set.genesis, &app, &chain);
    INFO(r.ToString());
    REQUIRE(r.ok());
  }

  // An empty block on the current tip, proposed by validator `proposer`, carrying `last_commit`
  // (the tip's stored commit unless given), at the BFT time of that commit.
  v1::Block EmptyBlock(size_t proposer, std::optional<v1::Commit> last_commit = std::nullopt) {
    const ParentInfo& tip = chain->tip();
    v1::BlockHeader h;
    h.set_chain_id(set.genesis.chain_id);
    h.set_height(tip.height + 1);
    // An invalid certificate (the cases under test) has no BFT time: any later time will do.
    uint64_t time_ms = tip.time_ms + 1000;
    (void)BftTime(last_commit.value_or(tip.commit), set.genesis, tip.height + 1, &time_ms);
    h.set_time_ms(time_ms);
    h.set_prev_hash(tip.hash.bytes());
    h.set_tx_root(MerkleRoot({}).bytes());
    h.set_state_root(chain->state().root().bytes());  // nothing happens in an empty block here
    h.set_validators_hash(ValidatorsHash(set.genesis.validators).bytes());
    h.set_proposer(set.keys.at(proposer).public_key().bytes());
    v1::Block block;
    if (tip.height > 0) {
      v1::Commit lc = last_commit.value_or(tip.commit);
      h.set_last_commit_hash(CommitHash(lc).bytes());
      *block.mutable_last_commit() = lc;
    } else {
      h.set_last_commit_hash(Hash256{}.bytes());
    }
    h.set_tx_count(0);
    block.set_header(CanonicalBytes(h));
    return block;
  }
  v1::Commit CommitFor(const v1::Block& block, const std::vector<size_t>& signers) {
    v1::BlockHeader h;
    REQUIRE(h.ParseFromString(block.header()));
    return set.Commit(signers, h.height(), BlockHash(block.header()));
  }
};

}  // namespace

TEST_CASE("certificates: a follower commits a block signed by 3 of 4 and refuses one signed by 2 of 4", "[certificates]") {
  MultiChain m({1, 1, 1, 1});
  const Hash256 genesis_root = m.chain->state().root();
  v1::Block block = m.EmptyBlock(0);
  Result two = m.chain->CommitBlock(block, m.CommitFor(block, {1, 3}));
  ExpectBadCommit(two, "power 2 of 4");
  CHECK(m.chain->height() == 0);
  CHECK(m.chain->state().root() == genesis_root);
  Result three = m.chain->CommitBlock(block, m.CommitFor(block, {0, 1, 3}));
  INFO(three.ToString());
  REQUIRE(three.ok());
  CHECK(m.chain->height() == 1);
  CHECK(m.chain->tip().hash == BlockHash(block.header()));
  // Any validator may propose; the next block is proposed by validator 2.
  v1::Block next = m.EmptyBlock(2);
  REQUIRE(m.chain->CommitBlock(next, m.CommitFor(next, {0, 1, 2, 3})).ok());
  CHECK(m.chain->height() == 2);
}

TEST_CASE("certificates: unequal power through a follower - 2/3 exactly refused - just above accepted", "[certificates]") {
  MultiChain m({3, 2, 1});
  v1::Block block = m.EmptyBlock(1);
  ExpectBadCommit(m.chain->CommitBlock(block, m.CommitFor(block, {0, 2})), "power 4 of 6");
  CHECK(m.chain->height() == 0);
  REQUIRE(m.chain->CommitBlock(block, m.CommitFor(block, {0, 1})).ok());
  CHECK(m.chain->height() == 1);
}

TEST_CASE("certificates: the last_commit a block carries must itself be a valid certificate of its parent",
          "[certificates]") {
  MultiChain m({1, 1, 1});
  v1::Block b1 = m.EmptyBlock(0);
  REQUIRE(m.chain->CommitBlock(b1, m.CommitFor(b1, {0, 1, 2})).ok());
  const Hash256 root = m.chain->state().root();
  const Hash256 b1_hash = BlockHash(b1.header());

  auto refuses = [&](const v1::Commit& last_commit, const std::string& fragment) {
    v1::Block b2 = m.EmptyBlock(1, last_commit);
    Result r = m.chain->CommitBlock(b2, m.CommitFor(b2, {0, 1, 2}));
    INFO(r.ToString());
    CHECK(r.code() == Code::kBadCommit);
    CHECK_THAT(r.message(), Catch::Contains("last_commit"));
    CHECK_THAT(r.message(), Catch::Contains(fragment));
    CHECK(m.chain->height() == 1);
    CHECK(m.chain->state().root() == root);
  };
  SECTION("exactly 2/3 of the parent's validators") { refuses(m.set.Commit({0, 2}, 1, b1_hash), "power 2 of 3"); }
  SECTION("a duplicate signature making up the third") {
    v1::Commit c = m.set.Commit({0, 2}, 1, b1_hash);
    InsertSorted(&c, c.signatures(0));
    refuses(c, "repeat one");
  }
  SECTION("a non-validator making up the third") {
    v1::Commit c = m.set.Commit({0, 2}, 1, b1_hash);
    InsertSorted(&c, SignVote(*m.set.outsider, VoteMessage(m.set.genesis.chain_id, 1, 0, v1::VOTE_TYPE_PRECOMMIT, b1_hash, 0),
                              m.set.random));
    refuses(c, "is not a validator");
  }
  SECTION("a full certificate of another block at height 1") {
    refuses(m.set.Commit({0, 1, 2}, 1, SomeBlockHash('o')), "names another block");
  }
  SECTION("a full certificate for height 2") { refuses(m.set.Commit({0, 1, 2}, 2, b1_hash), "is for height 2"); }
  SECTION("another valid certificate of the parent than the stored one is accepted") {
    // Signed in round 2 by all three: a different certificate, equally valid.
    v1::Commit c = m.set.Commit({0, 1, 2}, 1, b1_hash, 2);
    REQUIRE(CommitHash(c) != CommitHash(m.chain->tip().commit));
    v1::Block b2 = m.EmptyBlock(1, c);
    Result r = m.chain->CommitBlock(b2, m.CommitFor(b2, {0, 1, 2}));
    INFO(r.ToString());
    CHECK(r.ok());
    CHECK(m.chain->height() == 2);
  }
}
