// The mempool (node/mempool.h): admission rules (duplicates, nonce window, expiry, bounds and
// fee eviction), Reap order, Update and RemoveWithSuccessors, and a seeded random-operation
// check of its accounting and of Reap's per-payer nonce order. Every tx is a real signed
// envelope from TestEnv, decoded with DecodeTx.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ledger/tx.h"
#include "node/mempool.h"
#include "tests/support/test_env.h"

using namespace kontor;
using kontor::node::Mempool;
using kontor::node::MempoolOptions;
using kontor::node::NonceLookup;
using kontor::test::TestEnv;
using kontor::test::TxOptions;

namespace {

constexpr uint64_t kBigAmount = 1'000'000'000'000'000'000ull;  // a 9-byte varint instead of 1

// Builds decoded transfers and remembers a readable label ("alice#3") for each txid, so that
// assertions on Reap / Update / RemoveWithSuccessors compare lists of labels.
struct Pool {
  TestEnv env;
  std::map<Hash256, std::string> labels;
  std::map<PublicKey, uint64_t> committed;  // what the NonceLookup returns (0 if absent)
  NonceLookup lookup = [this](const PublicKey& key) {
    auto it = committed.find(key);
    return it == committed.end() ? uint64_t{0} : it->second;
  };

  DecodedTx Decode(const std::string& envelope, const std::string& label) {
    DecodedTx tx;
    Result r = DecodeTx(envelope, env.genesis().chain_id, &tx);
    INFO(r.ToString());
    REQUIRE(r.ok());
    labels[tx.txid] = label;
    return tx;
  }
  DecodedTx Tx(const std::string& from, uint64_t nonce, uint64_t fee = 10, uint64_t expiry = 0, uint64_t amount = 1) {
    std::string envelope = env.Transfer(from, "nobody", "KTR", amount, TxOptions{.fee = fee, .nonce = nonce, .expiry_height = expiry});
    return Decode(envelope, from + "#" + std::to_string(nonce));
  }
  // A transfer made larger by a memo of `memo_bytes` bytes.
  DecodedTx Big(const std::string& from, uint64_t nonce, size_t memo_bytes, uint64_t fee = 10) {
    std::string envelope = env.Build({from}, [&](v1::TxBody& body) {
      auto* t = body.mutable_transfer();
      t->set_to(env.Pub("nobody").bytes());
      t->set_asset("KTR");
      t->set_amount(1);
      t->set_memo(std::string(memo_bytes, 'm'));
    }, TxOptions{.fee = fee, .nonce = nonce});
    return Decode(envelope, from + "#" + std::to_string(nonce));
  }
  std::string Label(const Hash256& txid) const {
    auto it = labels.find(txid);
    return it == labels.end() ? "?" + txid.hex().substr(0, 8) : it->second;
  }
  std::vector<std::string> Labels(const std::vector<const DecodedTx*>& txs) const {
    std::vector<std::string> out;
    for (const DecodedTx* tx : txs) out.push_back(Label(tx->txid));
    return out;
  }
  std::vector<std::string> Labels(const std::vector<Hash256>& txids) const {
    std::vector<std::string> out;
    for (const Hash256& id : txids) out.push_back(Label(id));
    return out;
  }
  std::map<std::string, Code> Dropped(const std::vector<std::pair<Hash256, Result>>& dropped) const {
    std::map<std::string, Code> out;
    for (const auto& [id, r] : dropped) out[Label(id)] = r.code();
    return out;
  }
};

MempoolOptions Bounds(size_t txs_max, size_t bytes_max = 64 * 1024 * 1024, size_t account_txs_max = 256) {
  MempoolOptions o;
  o.txs_max = txs_max;
  o.bytes_max = bytes_max;
  o.account_txs_max = account_txs_max;
  return o;
}

constexpr size_t kNoLimit = static_cast<size_t>(-1);

}  // namespace

TEST_CASE("mempool: Add keeps the decoded tx and counts it in size and bytes", "[mempool]") {
  Pool p;
  Mempool m(MempoolOptions{});
  DecodedTx a0 = p.Tx("alice", 0);
  DecodedTx b0 = p.Tx("bob", 0, 10, 0, kBigAmount);
  const Hash256 a0_id = a0.txid, b0_id = b0.txid;
  const std::string a0_bytes = a0.envelope;
  const size_t a0_size = a0.envelope.size(), b0_size = b0.envelope.size();
  CHECK(b0_size > a0_size);
  CHECK(m.size() == 0);
  CHECK(m.bytes() == 0);

  std::optional<Hash256> evicted;
  CHECK(m.Add(a0, 0, 1, &evicted).code() == Code::kOk);
  CHECK_FALSE(evicted.has_value());
  CHECK(m.size() == 1);
  CHECK(m.bytes() == a0_size);
  CHECK(m.Contains(a0_id));
  CHECK_FALSE(m.Contains(b0_id));
  CHECK(m.Find(b0_id) == nullptr);
  const DecodedTx* found = m.Find(a0_id);
  REQUIRE(found != nullptr);
  CHECK(found->envelope == a0_bytes);
  CHECK(found->txid == a0_id);
  CHECK(found->body.nonce() == 0);
  CHECK(found->fee_payer() == p.env.Pub("alice"));

  CHECK(m.Add(b0, 0, 1).code() == Code::kOk);
  CHECK(m.size() == 2);
  CHECK(m.bytes() == a0_size + b0_size);
}

TEST_CASE("mempool: at txs_max a strictly higher fee evicts the cheapest tx, else kMempoolFull", "[mempool]") {
  Pool p;
  Mempool m(Bounds(3));
  DecodedTx a0 = p.Tx("alice", 0, 10), b0 = p.Tx("bob", 0, 20), c0 = p.Tx("carol", 0, 30);
  const Hash256 a0_id = a0.txid, b0_id = b0.txid, c0_id = c0.txid;
  const size_t sb = b0.envelope.size(), sc = c0.envelope.size();
  REQUIRE(m.Add(a0, 0, 1).ok());
  REQUIRE(m.Add(b0, 0, 1).ok());
  REQUIRE(m.Add(c0, 0, 1).ok());
  const size_t full_bytes = m.bytes();

  std::optional<Hash256> evicted;
  // Equal to the cheapest fee: refused, nothing evicted.
  DecodedTx d_equal = p.Tx("dave", 0, 10);
  const Hash256 d_equal_id = d_equal.txid;
  Result equal = m.Add(d_equal, 0, 1, &evicted);
  CHECK(equal.code() == Code::kMempoolFull);
  CHECK_THAT(equal.message(), Catch::Contains("above 10"));
  CHECK_FALSE(evicted.has_value());
  CHECK_FALSE(m.Contains(d_equal_id));
  // Lower: refused.
  CHECK(m.Add(p.Tx("dave", 0, 5), 0, 1, &evicted).code() == Code::kMempoolFull);
  CHECK_FALSE(evicted.has_value());
  CHECK(m.size() == 3);
  CHECK(m.bytes() == full_bytes);
  CHECK(m.Contains(a0_id));

  // Higher: evicts alice#0 (fee 10) and reports it.
  DecodedTx d0 = p.Tx("dave", 0, 11);
  const Hash256 d0_id = d0.txid;
  const size_t sd = d0.envelope.size();
  CHECK(m.Add(d0, 0, 1, &evicted).code() == Code::kOk);
  REQUIRE(evicted.has_value());
  CHECK(p.Label(*evicted) == "alice#0");
  CHECK(*evicted == a0_id);
  CHECK_FALSE(m.Contains(a0_id));
  CHECK(m.Contains(b0_id));
  CHECK(m.Contains(c0_id));
  CHECK(m.Contains(d0_id));
  CHECK(m.size() == 3);
  CHECK(m.bytes() == sb + sc + sd);

  // The cheapest is now dave#0 at 11: alice's fee 10 no longer gets in.
  evicted.reset();
  Result again = m.Add(p.Tx("alice", 0, 10), 0, 1, &evicted);
  CHECK(again.code() == Code::kMempoolFull);
  CHECK_THAT(again.message(), Catch::Contains("above 11"));
  CHECK_FALSE(evicted.has_value());
  CHECK(m.size() == 3);
  CHECK(m.bytes() == sb + sc + sd);
}

TEST_CASE("mempool: eviction only takes a tx that is last in its payer's queue", "[mempool]") {
  Pool p;
  Mempool m(Bounds(3));
  DecodedTx a0 = p.Tx("alice", 0, 1), a1 = p.Tx("alice", 1, 50), b0 = p.Tx("bob", 0, 20);
  const Hash256 a0_id = a0.txid, a1_id = a1.txid, b0_id = b0.txid;
  REQUIRE(m.Add(a0, 0, 1).ok());
  REQUIRE(m.Add(a1, 0, 1).ok());
  REQUIRE(m.Add(b0, 0, 1).ok());

  // alice#0 (fee 1) is the cheapest tx but not last in alice's queue: a fee of 2 evicts nothing.
  std::optional<Hash256> evicted;
  CHECK(m.Add(p.Tx("carol", 0, 2), 0, 1, &evicted).code() == Code::kMempoolFull);
  CHECK_FALSE(evicted.has_value());

  // Fee 30 beats bob#0 (20), the cheapest last tx; alice's queue stays whole.
  DecodedTx c0 = p.Tx("carol", 0, 30);
  const Hash256 c0_id = c0.txid;
  CHECK(m.Add(c0, 0, 1, &evicted).code() == Code::kOk);
  REQUIRE(evicted.has_value());
  CHECK(p.Label(*evicted) == "bob#0");
  CHECK(*evicted == b0_id);
  CHECK(m.Contains(a0_id));
  CHECK(m.Contains(a1_id));
  CHECK(m.NextNonce(p.env.Pub("alice"), 0) == 2);

  // Fee 40: the last txs are alice#1 (50) and carol#0 (30): carol#0 goes.
  evicted.reset();
  CHECK(m.Add(p.Tx("dave", 0, 40), 0, 1, &evicted).code() == Code::kOk);
  REQUIRE(evicted.has_value());
  CHECK(*evicted == c0_id);
  CHECK(m.NextNonce(p.env.Pub("alice"), 0) == 2);
  CHECK(p.Labels(m.Reap(kNoLimit, kNoLimit, p.lookup)) == std::vector<std::string>{"alice#0", "alice#1", "dave#0"});
}

TEST_CASE("mempool: eviction does not take the incoming tx's own predecessor (no nonce gap)", "[mempool]") {
  // alice#0 (fee 10) is the cheapest tx that is last in its queue, but alice#1 is arriving:
  // evicting alice#0 to admit alice#1 would leave alice#1 behind a gap it cannot leave.
  Pool p;
  Mempool m(Bounds(2));
  DecodedTx a0 = p.Tx("alice", 0, 10), b0 = p.Tx("bob", 0, 20), a1 = p.Tx("alice", 1, 30);
  const Hash256 a0_id = a0.txid, b0_id = b0.txid, a1_id = a1.txid;
  const size_t sa0 = a0.envelope.size(), sa1 = a1.envelope.size();
  REQUIRE(m.Add(a0, 0, 1).ok());
  REQUIRE(m.Add(b0, 0, 1).ok());

  std::optional<Hash256> evicted;
  Result r = m.Add(a1, 0, 1, &evicted);
  INFO("Add(alice#1 fee 30) = " << r.ToString() << ", evicted " << (evicted ? p.Label(*evicted) : "nothing"));
  CHECK(m.Contains(a0_id));                          // alice#0 must not be the victim
  CHECK(m.NextNonce(p.env.Pub("alice"), 0) >= 1);    // alice's run still starts at her committed nonce
  if (r.ok()) {
    // The next candidate is bob#0 (fee 20 < 30).
    CHECK(evicted == std::optional<Hash256>(b0_id));
    CHECK(m.Contains(a1_id));
    CHECK(m.bytes() == sa0 + sa1);
    CHECK(p.Labels(m.Reap(kNoLimit, kNoLimit, p.lookup)) == std::vector<std::string>{"alice#0", "alice#1"});
  } else {
    CHECK(r.code() == Code::kMempoolFull);
    CHECK_FALSE(evicted.has_value());
  }
}

TEST_CASE("mempool: bytes_max bounds the total envelope bytes", "[mempool]") {
  Pool p;
  DecodedTx a0 = p.Tx("alice", 0, 10), b0 = p.Tx("bob", 0, 20);
  DecodedTx c_big = p.Tx("carol", 0, 30, 0, kBigAmount), c_small = p.Tx("carol", 0, 31);
  const Hash256 a0_id = a0.txid, b0_id = b0.txid, c_big_id = c_big.txid, c_small_id = c_small.txid;
  const size_t sa = a0.envelope.size(), sb = b0.envelope.size(), sbig = c_big.envelope.size(),
               ssmall = c_small.envelope.size();
  REQUIRE(sbig > sa);
  REQUIRE(ssmall <= sa);

  SECTION("one tx larger than bytes_max never fits, even in an empty pool") {
    Mempool tiny(Bounds(100, sa - 1));
    std::optional<Hash256> evicted;
    CHECK(tiny.Add(a0, 0, 1, &evicted).code() == Code::kMempoolFull);
    CHECK_FALSE(evicted.has_value());
    CHECK(tiny.size() == 0);
    CHECK(tiny.bytes() == 0);
  }
  SECTION("filling to exactly bytes_max, then evicting by fee") {
    Mempool m(Bounds(100, sa + sb));
    REQUIRE(m.Add(a0, 0, 1).ok());
    REQUIRE(m.Add(b0, 0, 1).ok());  // exactly at the bound is allowed
    CHECK(m.bytes() == sa + sb);

    // Higher fee, but evicting alice#0 does not free enough bytes: refused, nothing evicted.
    std::optional<Hash256> evicted;
    CHECK(m.Add(c_big, 0, 1, &evicted).code() == Code::kMempoolFull);
    CHECK_FALSE(evicted.has_value());
    CHECK(m.Contains(a0_id));
    CHECK_FALSE(m.Contains(c_big_id));
    CHECK(m.size() == 2);
    CHECK(m.bytes() == sa + sb);

    // A smaller tx with a higher fee fits in alice#0's place.
    CHECK(m.Add(c_small, 0, 1, &evicted).code() == Code::kOk);
    REQUIRE(evicted.has_value());
    CHECK(*evicted == a0_id);
    CHECK(m.Contains(b0_id));
    CHECK(m.Contains(c_small_id));
    CHECK(m.size() == 2);
    CHECK(m.bytes() == sb + ssmall);
    CHECK(m.bytes() <= sa + sb);
  }
}

TEST_CASE("mempool: nonce window: below committed is kBadNonce, committed + account_txs_max is kNonceGap", "[mempool]") {
  Pool p;
  Mempool m(Bounds(100, 64 * 1024 * 1024, 4));
  const PublicKey alice = p.env.Pub("alice");
  p.committed[alice] = 5;

  Result used = m.Add(p.Tx("alice", 4), 5, 1);
  CHECK(used.code() == Code::kBadNonce);
  CHECK_THAT(used.message(), Catch::Contains("nonce 5 expected, got 4"));
  CHECK(m.Add(p.Tx("alice", 0), 5, 1).code() == Code::kBadNonce);
  Result far = m.Add(p.Tx("alice", 9), 5, 1);  // 5 + 4
  CHECK(far.code() == Code::kNonceGap);
  CHECK(m.Add(p.Tx("alice", 100), 5, 1).code() == Code::kNonceGap);
  CHECK(m.size() == 0);
  CHECK(m.bytes() == 0);

  // 8 = committed + account_txs_max - 1 is the last admissible nonce; it waits behind a gap.
  DecodedTx a8 = p.Tx("alice", 8);
  const size_t s8 = a8.envelope.size();
  CHECK(m.Add(a8, 5, 1).code() == Code::kOk);
  CHECK(m.size() == 1);
  CHECK(m.bytes() == s8);
  CHECK(m.NextNonce(alice, 5) == 5);
  CHECK(m.Reap(kNoLimit, kNoLimit, p.lookup).empty());

  CHECK(m.Add(p.Tx("alice", 5), 5, 1).code() == Code::kOk);
  CHECK(m.Add(p.Tx("alice", 6), 5, 1).code() == Code::kOk);
  CHECK(m.NextNonce(alice, 5) == 7);
  CHECK(p.Labels(m.Reap(kNoLimit, kNoLimit, p.lookup)) == std::vector<std::string>{"alice#5", "alice#6"});

  // The missing nonce arrives: the held tx becomes reapable.
  CHECK(m.Add(p.Tx("alice", 7), 5, 1).code() == Code::kOk);
  CHECK(m.NextNonce(alice, 5) == 9);
  CHECK(m.NextNonce(alice, 6) == 9);
  CHECK(m.NextNonce(alice, 9) == 9);
  CHECK(m.NextNonce(p.env.Pub("bob"), 3) == 3);  // no pending txs: the committed nonce
  CHECK(p.Labels(m.Reap(kNoLimit, kNoLimit, p.lookup)) ==
        std::vector<std::string>{"alice#5", "alice#6", "alice#7", "alice#8"});
  CHECK(m.size() == 4);
}

TEST_CASE("mempool: a tx behind a gap is held while other payers are reaped", "[mempool]") {
  Pool p;
  Mempool m(MempoolOptions{});
  REQUIRE(m.Add(p.Tx("alice", 1), 0, 1).ok());
  REQUIRE(m.Add(p.Tx("bob", 0), 0, 1).ok());
  CHECK(m.NextNonce(p.env.Pub("alice"), 0) == 0);
  CHECK(p.Labels(m.Reap(kNoLimit, kNoLimit, p.lookup)) == std::vector<std::string>{"bob#0"});
  REQUIRE(m.Add(p.Tx("alice", 0), 0, 1).ok());
  CHECK(m.NextNonce(p.env.Pub("alice"), 0) == 2);
  // alice#1 arrived before bob#0 but alice#0 after it: bob goes first, then alice's run.
  CHECK(p.Labels(m.Reap(kNoLimit, kNoLimit, p.lookup)) == std::vector<std::string>{"bob#0", "alice#0", "alice#1"});
}

TEST_CASE("mempool: duplicates by txid and by (payer, nonce)", "[mempool]") {
  Pool p;
  Mempool m(Bounds(1));
  DecodedTx a0 = p.Tx("alice", 0, 10);
  const DecodedTx a0_copy = a0;
  const Hash256 a0_id = a0.txid;
  const size_t sa = a0.envelope.size();
  REQUIRE(m.Add(a0, 0, 1).ok());

  // The same envelope again.
  std::optional<Hash256> evicted;
  Result same = m.Add(a0_copy, 0, 1, &evicted);
  CHECK(same.code() == Code::kDuplicate);
  CHECK_THAT(same.message(), Catch::Contains(a0_id.hex()));
  // The same body signed again: another envelope, the same txid.
  DecodedTx resigned = p.Tx("alice", 0, 10);
  CHECK(resigned.txid == a0_id);
  CHECK(resigned.envelope != a0_copy.envelope);
  CHECK(m.Add(resigned, 0, 1, &evicted).code() == Code::kDuplicate);
  // Another tx with alice's pending nonce, even with a higher fee while the pool is full:
  // kDuplicate, and it evicts nothing.
  DecodedTx other = p.Tx("alice", 0, 99);
  const Hash256 other_id = other.txid;
  CHECK(other_id != a0_id);
  Result clash = m.Add(other, 0, 1, &evicted);
  CHECK(clash.code() == Code::kDuplicate);
  CHECK_THAT(clash.message(), Catch::Contains(a0_id.hex()));
  CHECK_FALSE(evicted.has_value());
  CHECK(m.size() == 1);
  CHECK(m.bytes() == sa);
  CHECK(m.Contains(a0_id));
  CHECK_FALSE(m.Contains(other_id));
  REQUIRE(m.Find(a0_id) != nullptr);
  CHECK(m.Find(a0_id)->envelope == a0_copy.envelope);
}

TEST_CASE("mempool: Add refuses a tx whose expiry is before the next block", "[mempool]") {
  Pool p;
  Mempool m(MempoolOptions{});
  Result r = m.Add(p.Tx("alice", 0, 10, 9), 0, 10);
  CHECK(r.code() == Code::kExpired);
  CHECK_THAT(r.message(), Catch::Contains("expired at height 9"));
  CHECK(m.size() == 0);
  CHECK(m.Add(p.Tx("alice", 0, 10, 10), 0, 10).code() == Code::kOk);  // expires with the next block: still valid
  CHECK(m.Add(p.Tx("bob", 0, 10, 0), 0, 1'000'000).code() == Code::kOk);  // 0: never expires
  CHECK(m.size() == 2);
}

TEST_CASE("mempool: Update removes included txs, then drops used nonces and passed expiries", "[mempool]") {
  Pool p;
  Mempool m(MempoolOptions{});
  std::map<std::string, size_t> sizes;
  std::map<std::string, Hash256> ids;
  auto add = [&](DecodedTx tx) {
    std::string label = p.Label(tx.txid);
    sizes[label] = tx.envelope.size();
    ids[label] = tx.txid;
    REQUIRE(m.Add(std::move(tx), 0, 1).ok());
  };
  auto bytes_of = [&](std::initializer_list<const char*> labels) {
    size_t total = 0;
    for (const char* l : labels) total += sizes.at(l);
    return total;
  };
  add(p.Tx("alice", 0, 10, 5));
  add(p.Tx("alice", 1, 10, 0));
  add(p.Tx("bob", 0, 10, 3));
  add(p.Tx("carol", 0, 10, 0));
  add(p.Tx("dave", 0));
  add(p.Tx("dave", 1));
  add(p.Tx("dave", 2));
  REQUIRE(m.size() == 7);

  // Block 3 included carol#0 (carol's nonce is now 1): removed without being reported; bob#0
  // (expiry 3) can no longer be included.
  p.committed[p.env.Pub("carol")] = 1;
  auto dropped = m.Update(3, {ids["carol#0"]}, p.lookup);
  CHECK(p.Dropped(dropped) == std::map<std::string, Code>{{"bob#0", Code::kExpired}});
  REQUIRE(dropped.size() == 1);
  CHECK_THAT(dropped[0].second.message(), Catch::Contains("expired at height 3"));
  CHECK_FALSE(m.Contains(ids["carol#0"]));
  CHECK_FALSE(m.Contains(ids["bob#0"]));
  CHECK(m.size() == 5);
  CHECK(m.bytes() == bytes_of({"alice#0", "alice#1", "dave#0", "dave#1", "dave#2"}));

  // Block 4 carried two other txs of dave (his nonce is now 2): dave#0 and dave#1 are stale.
  p.committed[p.env.Pub("dave")] = 2;
  dropped = m.Update(4, {}, p.lookup);
  CHECK(p.Dropped(dropped) == std::map<std::string, Code>{{"dave#0", Code::kBadNonce}, {"dave#1", Code::kBadNonce}});
  CHECK(m.Contains(ids["dave#2"]));
  CHECK(m.Contains(ids["alice#0"]));  // expiry 5 > 4
  CHECK(m.size() == 3);
  CHECK(m.bytes() == bytes_of({"alice#0", "alice#1", "dave#2"}));
  CHECK(p.Labels(m.Reap(kNoLimit, kNoLimit, p.lookup)) == std::vector<std::string>{"alice#0", "alice#1", "dave#2"});

  // Block 5: alice#0 (expiry 5) expires; alice#1 (no expiry) stays, held behind the gap.
  // An included txid that is not pending is ignored.
  dropped = m.Update(5, {ids["bob#0"]}, p.lookup);
  CHECK(p.Dropped(dropped) == std::map<std::string, Code>{{"alice#0", Code::kExpired}});
  CHECK(m.Contains(ids["alice#1"]));
  CHECK(m.NextNonce(p.env.Pub("alice"), 0) == 0);
  CHECK(m.size() == 2);
  CHECK(m.bytes() == bytes_of({"alice#1", "dave#2"}));
  CHECK(p.Labels(m.Reap(kNoLimit, kNoLimit, p.lookup)) == std::vector<std::string>{"dave#2"});

  // Block 6 includes dave#2 and another tx of alice with nonce 0 (now 1): nothing is dropped.
  p.committed[p.env.Pub("alice")] = 1;
  p.committed[p.env.Pub("dave")] = 3;
  dropped = m.Update(6, {ids["dave#2"]}, p.lookup);
  CHECK(dropped.empty());
  CHECK(m.size() == 1);
  CHECK(m.bytes() == bytes_of({"alice#1"}));
  CHECK(p.Labels(m.Reap(kNoLimit, kNoLimit, p.lookup)) == std::vector<std::string>{"alice#1"});
}

TEST_CASE("mempool: Reap orders each payer by nonce and payers by arrival of their next tx", "[mempool]") {
  Pool p;
  Mempool m(MempoolOptions{});
  // Arrival order: alice#1, bob#0, alice#0, carol#0, bob#1, carol#1.
  for (auto [name, nonce] : std::vector<std::pair<std::string, uint64_t>>{
           {"alice", 1}, {"bob", 0}, {"alice", 0}, {"carol", 0}, {"bob", 1}, {"carol", 1}})
    REQUIRE(m.Add(p.Tx(name, nonce), 0, 1).ok());

  CHECK(p.Labels(m.Reap(kNoLimit, kNoLimit, p.lookup)) ==
        std::vector<std::string>{"bob#0", "alice#0", "alice#1", "carol#0", "bob#1", "carol#1"});
  CHECK(p.Labels(m.Reap(3, kNoLimit, p.lookup)) == std::vector<std::string>{"bob#0", "alice#0", "alice#1"});
  CHECK(p.Labels(m.Reap(1, kNoLimit, p.lookup)) == std::vector<std::string>{"bob#0"});
  CHECK(m.Reap(0, kNoLimit, p.lookup).empty());
  CHECK(m.Reap(kNoLimit, 0, p.lookup).empty());

  // With alice's committed nonce at 1, her run starts at alice#1 (the first arrival).
  p.committed[p.env.Pub("alice")] = 1;
  CHECK(p.Labels(m.Reap(kNoLimit, kNoLimit, p.lookup)) ==
        std::vector<std::string>{"alice#1", "bob#0", "carol#0", "bob#1", "carol#1"});
  // A payer whose committed nonce is not pending contributes nothing.
  p.committed[p.env.Pub("bob")] = 5;
  CHECK(p.Labels(m.Reap(kNoLimit, kNoLimit, p.lookup)) == std::vector<std::string>{"alice#1", "carol#0", "carol#1"});
  CHECK(m.size() == 6);  // Reap removes nothing
}

TEST_CASE("mempool: Reap's bytes_max stops a payer's run at the first tx that does not fit", "[mempool]") {
  Pool p;
  Mempool m(MempoolOptions{});
  DecodedTx a0 = p.Tx("alice", 0), a1 = p.Big("alice", 1, 250), a2 = p.Tx("alice", 2), b0 = p.Tx("bob", 0);
  const size_t sa0 = a0.envelope.size(), sa1 = a1.envelope.size(), sa2 = a2.envelope.size(), sb0 = b0.envelope.size();
  REQUIRE(m.Add(a0, 0, 1).ok());
  REQUIRE(m.Add(a1, 0, 1).ok());
  REQUIRE(m.Add(a2, 0, 1).ok());
  REQUIRE(m.Add(b0, 0, 1).ok());
  CHECK(m.bytes() == sa0 + sa1 + sa2 + sb0);

  const size_t limit = sa0 + sb0 + sa2;  // room for alice#2 too, but not behind a skipped alice#1
  REQUIRE(sa0 + sa1 > limit);
  CHECK(p.Labels(m.Reap(kNoLimit, limit, p.lookup)) == std::vector<std::string>{"alice#0", "bob#0"});
  CHECK(p.Labels(m.Reap(kNoLimit, sa0 + sa1 + sa2 + sb0, p.lookup)) ==
        std::vector<std::string>{"alice#0", "alice#1", "alice#2", "bob#0"});
  CHECK(p.Labels(m.Reap(kNoLimit, sa0 + sa1 + sa2 + sb0 - 1, p.lookup)) ==
        std::vector<std::string>{"alice#0", "alice#1", "alice#2"});
  CHECK(p.Labels(m.Reap(kNoLimit, sa0 - 1, p.lookup)) == std::vector<std::string>{});
  // alice#0 goes first (earliest arrival); then neither alice#1 nor bob#0 fits in the rest.
  CHECK(p.Labels(m.Reap(kNoLimit, sa0 + sb0 - 1, p.lookup)) == std::vector<std::string>{"alice#0"});
  // Without alice's run in the way, bob#0 alone fits.
  p.committed[p.env.Pub("alice")] = 5;
  CHECK(p.Labels(m.Reap(kNoLimit, sb0, p.lookup)) == std::vector<std::string>{"bob#0"});
}

TEST_CASE("mempool: RemoveWithSuccessors drops a tx and its payer's later txs only", "[mempool]") {
  Pool p;
  Mempool m(MempoolOptions{});
  std::map<std::string, Hash256> ids;
  std::map<std::string, size_t> sizes;
  for (auto [name, nonce] : std::vector<std::pair<std::string, uint64_t>>{
           {"alice", 0}, {"alice", 1}, {"alice", 2}, {"bob", 0}, {"bob", 1}}) {
    DecodedTx tx = p.Tx(name, nonce);
    ids[p.Label(tx.txid)] = tx.txid;
    sizes[p.Label(tx.txid)] = tx.envelope.size();
    REQUIRE(m.Add(std::move(tx), 0, 1).ok());
  }
  const PublicKey alice = p.env.Pub("alice"), bob = p.env.Pub("bob");

  CHECK(p.Labels(m.RemoveWithSuccessors(ids["alice#1"])) == std::vector<std::string>{"alice#1", "alice#2"});
  CHECK(m.size() == 3);
  CHECK(m.bytes() == sizes["alice#0"] + sizes["bob#0"] + sizes["bob#1"]);
  CHECK(m.Contains(ids["alice#0"]));
  CHECK(m.NextNonce(alice, 0) == 1);
  CHECK(m.NextNonce(bob, 0) == 2);
  CHECK(p.Labels(m.Reap(kNoLimit, kNoLimit, p.lookup)) == std::vector<std::string>{"alice#0", "bob#0", "bob#1"});

  // Unknown (already removed) txid: nothing happens.
  CHECK(m.RemoveWithSuccessors(ids["alice#2"]).empty());
  CHECK(m.size() == 3);

  CHECK(p.Labels(m.RemoveWithSuccessors(ids["bob#0"])) == std::vector<std::string>{"bob#0", "bob#1"});
  CHECK(p.Labels(m.RemoveWithSuccessors(ids["alice#0"])) == std::vector<std::string>{"alice#0"});
  CHECK(m.size() == 0);
  CHECK(m.bytes() == 0);
  CHECK(m.NextNonce(alice, 0) == 0);
  CHECK(m.Reap(kNoLimit, kNoLimit, p.lookup).empty());

  // The removed (payer, nonce) slots are free again.
  CHECK(m.Add(p.Tx("alice", 1, 11), 0, 1).code() == Code::kOk);
  CHECK(m.Add(p.Tx("bob", 0, 11), 0, 1).code() == Code::kOk);
  CHECK(m.size() == 2);
}

TEST_CASE("mempool: random adds, reaps, blocks and removals keep size, bytes and Reap order exact", "[mempool]") {
  // A model of what must be pending: every accepted txid not yet reported removed.
  struct ModelTx {
    std::string payer;
    uint64_t nonce;
    uint64_t fee;
    uint64_t expiry;
    size_t size;
  };
  const std::vector<std::string> payers = {"alice", "bob", "carol", "dave"};
  constexpr size_t kAccountTxsMax = 6;

  // What the runs exercised, over all seeds (one seed alone may never fill the pool).
  struct Counts {
    size_t evictions = 0, full = 0, reaped = 0, blocks = 0;
  } counts;
  for (uint32_t seed : {1u, 2u, 3u}) {
    Pool p;
    std::mt19937 rng(seed);
    auto uniform = [&](uint64_t lo, uint64_t hi) { return std::uniform_int_distribution<uint64_t>(lo, hi)(rng); };
    const size_t typical = p.Tx("alice", 0).envelope.size();
    const size_t txs_max = 12, bytes_max = typical * 10 + typical / 2;  // either bound may bind first
    Mempool m(Bounds(txs_max, bytes_max, kAccountTxsMax));

    std::map<Hash256, ModelTx> model;
    std::vector<DecodedTx> seen;  // accepted txs, to re-submit as duplicates
    std::map<std::string, uint64_t> committed;
    uint64_t height = 0;
    size_t& evictions = counts.evictions;
    size_t& full = counts.full;
    size_t& reaped_total = counts.reaped;
    size_t& blocks = counts.blocks;
    auto set_committed = [&](const std::string& name, uint64_t nonce) {
      committed[name] = nonce;
      p.committed[p.env.Pub(name)] = nonce;
    };
    auto model_bytes = [&] {
      size_t total = 0;
      for (const auto& [id, t] : model) total += t.size;
      return total;
    };
    // Applies Update and checks it dropped exactly what the model says.
    auto update = [&](const std::vector<Hash256>& included) {
      for (const Hash256& id : included) model.erase(id);
      std::map<Hash256, Code> expected;
      for (const auto& [id, t] : model) {
        if (t.nonce < committed[t.payer]) expected[id] = Code::kBadNonce;
        else if (t.expiry != 0 && t.expiry <= height) expected[id] = Code::kExpired;
      }
      auto dropped = m.Update(height, included, p.lookup);
      std::map<Hash256, Code> actual;
      for (const auto& [id, r] : dropped) actual[id] = r.code();
      REQUIRE(actual == expected);
      for (const auto& [id, code] : expected) model.erase(id);
    };

    for (int step = 0; step < 500; ++step) {
      INFO("seed " << seed << " step " << step << " height " << height);
      uint64_t op = uniform(0, 99);
      if (op < 60) {
        std::optional<DecodedTx> tx;
        if (op < 6 && !seen.empty()) {
          tx = seen[uniform(0, seen.size() - 1)];  // an old tx again
        } else {
          const std::string& name = payers[uniform(0, payers.size() - 1)];
          uint64_t base = committed[name];
          uint64_t nonce = (base > 0 && uniform(0, 9) == 0) ? base - 1 : base + uniform(0, kAccountTxsMax + 1);
          uint64_t expiry = uniform(0, 2) == 0 ? 0 : height + uniform(0, 6);
          // One draw per statement: the order of draws inside one call's arguments is up to the
          // compiler (gcc and clang differ), and the run must be the same with both.
          const uint64_t fee = uniform(1, 40);
          const uint64_t amount = uniform(0, 1) ? 1 : kBigAmount;
          tx = p.Tx(name, nonce, fee, expiry, amount);
        }
        const std::string name = p.Label(tx->txid).substr(0, p.Label(tx->txid).find('#'));
        ModelTx t{name, tx->body.nonce(), tx->body.fee(), tx->body.expiry_height(), tx->envelope.size()};
        const Hash256 id = tx->txid;
        bool pending_slot = false;
        for (const auto& [other, o] : model) pending_slot |= (o.payer == t.payer && o.nonce == t.nonce);
        Code expected = Code::kOk;
        if (model.count(id)) expected = Code::kDuplicate;
        else if (t.nonce < committed[name]) expected = Code::kBadNonce;
        else if (t.nonce - committed[name] >= kAccountTxsMax) expected = Code::kNonceGap;
        else if (t.expiry != 0 && t.expiry < height + 1) expected = Code::kExpired;
        else if (pending_slot) expected = Code::kDuplicate;
        const bool over = model.size() + 1 > txs_max || model_bytes() + t.size > bytes_max;

        DecodedTx copy = *tx;
        std::optional<Hash256> evicted;
        Result r = m.Add(std::move(*tx), committed[name], height + 1, &evicted);
        INFO("add " << p.Label(id) << " fee " << t.fee << ": " << r.ToString());
        if (expected != Code::kOk) {
          REQUIRE(r.code() == expected);
          REQUIRE_FALSE(evicted.has_value());
        } else if (!over) {
          REQUIRE(r.code() == Code::kOk);
          REQUIRE_FALSE(evicted.has_value());
        } else {
          REQUIRE((r.code() == Code::kOk || r.code() == Code::kMempoolFull));
          if (r.ok()) {
            REQUIRE(evicted.has_value());
            REQUIRE(model.count(*evicted) == 1);
            const ModelTx& victim = model.at(*evicted);
            // A strictly lower fee rate (fee per envelope byte) than the incoming tx's.
            REQUIRE(static_cast<unsigned __int128>(victim.fee) * t.size < static_cast<unsigned __int128>(t.fee) * victim.size);
            for (const auto& [other, o] : model)
              if (o.payer == victim.payer) REQUIRE(o.nonce <= victim.nonce);  // last in its queue
            model.erase(*evicted);
            ++evictions;
          } else {
            REQUIRE_FALSE(evicted.has_value());
            ++full;
          }
        }
        if (r.ok()) {
          model[id] = t;
          seen.push_back(std::move(copy));
        }
      } else if (op < 85) {
        size_t reap_txs = uniform(0, 10);
        size_t reap_bytes = uniform(0, typical * 8);
        auto out = m.Reap(reap_txs, reap_bytes, p.lookup);
        REQUIRE(out.size() <= reap_txs);
        size_t total = 0;
        std::map<std::string, uint64_t> next = committed;
        std::set<Hash256> unique;
        for (const DecodedTx* tx : out) {
          INFO("reaped " << p.Label(tx->txid));
          REQUIRE(model.count(tx->txid) == 1);
          REQUIRE(unique.insert(tx->txid).second);
          const ModelTx& t = model.at(tx->txid);
          REQUIRE(t.nonce == next[t.payer]);  // in nonce order, no gap, from the committed nonce
          ++next[t.payer];
          total += tx->envelope.size();
        }
        REQUIRE(total <= reap_bytes);
        reaped_total += out.size();
        if (uniform(0, 1)) {  // the reaped txs make the next block
          std::vector<Hash256> included;
          for (const DecodedTx* tx : out) included.push_back(tx->txid);
          for (const auto& [name, n] : next) set_committed(name, n);
          ++height;
          ++blocks;
          update(included);
        }
      } else if (op < 93) {
        // A block with another tx of some payer (its nonce moves on without our tx), or empty.
        const std::string& name = payers[uniform(0, payers.size() - 1)];
        if (uniform(0, 1)) set_committed(name, committed[name] + uniform(1, 2));
        height += uniform(0, 1) ? 1 : 0;
        update({});
      } else if (!model.empty()) {
        auto it = model.begin();
        std::advance(it, static_cast<long>(uniform(0, model.size() - 1)));
        const Hash256 target = it->first;
        const ModelTx t = it->second;
        std::set<Hash256> expected;
        for (const auto& [id, o] : model)
          if (o.payer == t.payer && o.nonce >= t.nonce) expected.insert(id);
        auto removed = m.RemoveWithSuccessors(target);
        REQUIRE(std::set<Hash256>(removed.begin(), removed.end()) == expected);
        REQUIRE(removed.size() == expected.size());
        for (const Hash256& id : removed) model.erase(id);
      }
      REQUIRE(m.size() == model.size());
      REQUIRE(m.bytes() == model_bytes());
      for (const auto& [id, t] : model) REQUIRE(m.Contains(id));
    }
  }
  // The runs exercised the interesting paths.
  CHECK(counts.evictions > 0);
  CHECK(counts.full > 0);
  CHECK(counts.reaped > 0);
  CHECK(counts.blocks > 0);
}

// ---- Funding, nonce gaps, time to live and fee rates (issue 8: admission pays its way) ----

namespace {

// A mempool whose payers hold `balances` (asset -> amount per payer name) and whose txs spend
// their fee in KTR plus a transfer's amount in its asset, as the node's application says.
struct FundedPool {
  Pool p;
  std::map<std::pair<PublicKey, std::string>, uint64_t> balances;
  MempoolOptions Options(size_t txs_max = 1000) {
    MempoolOptions o = Bounds(txs_max);
    o.fee_asset = "KTR";
    o.funds = [this](const PublicKey& payer, const std::string& asset) {
      auto it = balances.find({payer, asset});
      return it == balances.end() ? uint64_t{0} : it->second;
    };
    o.spend_of = [](const DecodedTx& tx) {
      std::vector<kontor::AssetAmount> spend = {{"KTR", tx.body.fee()}};
      if (tx.body.has_transfer()) spend.push_back({tx.body.transfer().asset(), tx.body.transfer().amount()});
      return spend;
    };
    return o;
  }
  void Fund(const std::string& name, const std::string& asset, uint64_t amount) { balances[{p.env.Pub(name), asset}] = amount; }
};

}  // namespace

TEST_CASE("mempool: a payer queues only what its balance covers, fee and amounts of all its pending txs", "[mempool][funds]") {
  FundedPool f;
  Mempool m(f.Options());
  // Each p.Tx is a KTR transfer of `amount` with fee 10: it spends fee + amount of KTR.
  f.Fund("alice", "KTR", 100);
  CHECK(m.Add(f.p.Tx("alice", 0, 10, 0, 40), 0, 1).ok());   // 50 of 100
  CHECK(m.Add(f.p.Tx("alice", 1, 10, 0, 40), 0, 1).ok());   // 100 of 100: exactly covered
  Result over = m.Add(f.p.Tx("alice", 2, 10, 0, 0 + 1), 0, 1);  // 111 of 100
  CHECK(over.code() == Code::kInsufficientFunds);
  CHECK_THAT(over.message(), Catch::Contains("on top of 100"));
  CHECK(m.size() == 2);
  // A payer with nothing cannot queue even its next nonce, whatever fee it claims.
  CHECK(m.Add(f.p.Tx("bob", 0, 10), 0, 1).code() == Code::kInsufficientFunds);
  CHECK(m.Add(f.p.Tx("bob", 0, 1'000'000'000'000'000'000ull), 0, 1).code() == Code::kInsufficientFunds);
  // Removing a pending tx gives its spend back.
  m.RemoveWithSuccessors(f.p.Tx("alice", 1, 10, 0, 40).txid);
  CHECK(m.size() == 1);
  CHECK(m.Add(f.p.Tx("alice", 1, 10, 0, 40), 0, 1).ok());
  CHECK(m.Add(f.p.Tx("alice", 2, 10, 0, 1), 0, 1).code() == Code::kInsufficientFunds);
}

TEST_CASE("mempool: spends of another asset are counted against that asset", "[mempool][funds]") {
  FundedPool f;
  Mempool m(f.Options());
  f.Fund("carol", "KTR", 20);
  f.Fund("carol", "USDC", 1000);
  std::string usdc = f.p.env.Transfer("carol", "bob", "USDC", 600, TxOptions{.nonce = 0});
  CHECK(m.Add(f.p.Decode(usdc, "carol#0"), 0, 1).ok());
  std::string usdc2 = f.p.env.Transfer("carol", "bob", "USDC", 400, TxOptions{.nonce = 1});
  CHECK(m.Add(f.p.Decode(usdc2, "carol#1"), 0, 1).ok());  // 1000 of 1000 USDC, 20 of 20 KTR
  std::string usdc3 = f.p.env.Transfer("carol", "bob", "USDC", 1, TxOptions{.fee = 0, .nonce = 2});
  Result r = m.Add(f.p.Decode(usdc3, "carol#2"), 0, 1);
  CHECK(r.code() == Code::kInsufficientFunds);
  CHECK_THAT(r.message(), Catch::Contains("USDC"));
}

TEST_CASE("mempool: txs wait behind a gap only up to nonce_gap_max and only for a funded payer", "[mempool][funds]") {
  FundedPool f;
  MempoolOptions o = f.Options();
  o.nonce_gap_max = 3;
  Mempool m(o);
  f.Fund("alice", "KTR", 1'000'000);
  CHECK(m.Add(f.p.Tx("alice", 0), 0, 1).ok());
  // The contiguous run ends at 0, so the next nonce is 1: 1 + 3 may wait, 1 + 4 may not.
  CHECK(m.Add(f.p.Tx("alice", 4), 0, 1).ok());
  Result far = m.Add(f.p.Tx("alice", 5), 0, 1);
  CHECK(far.code() == Code::kNonceGap);
  CHECK_THAT(far.message(), Catch::Contains("at most 3"));
  // Filling the gap moves the run, and with it the window.
  CHECK(m.Add(f.p.Tx("alice", 1), 0, 1).ok());
  CHECK(m.Add(f.p.Tx("alice", 5), 0, 1).ok());
  // A payer without the fee asset may not have any tx behind a gap, even one it could pay for
  // in another asset (and the fee check refuses its next nonce anyway).
  f.Fund("dave", "USDC", 1'000'000);
  Result unfunded = m.Add(f.p.Tx("dave", 1, 0, 0, 0 + 1), 0, 1);
  CHECK(unfunded.code() == Code::kNonceGap);
  CHECK_THAT(unfunded.message(), Catch::Contains("only a payer holding KTR"));
}

TEST_CASE("mempool: a tx waits at most tx_ttl_ms", "[mempool][ttl]") {
  Pool p;
  MempoolOptions o = Bounds(100);
  o.tx_ttl_ms = 60'000;
  Mempool m(o);
  const uint64_t t0 = 1'000'000;
  DecodedTx a0 = p.Tx("alice", 0);
  const Hash256 a0_id = a0.txid;
  REQUIRE(m.Add(std::move(a0), 0, 1, nullptr, t0).ok());
  DecodedTx b0 = p.Tx("bob", 0);
  const Hash256 b0_id = b0.txid;
  REQUIRE(m.Add(std::move(b0), 0, 1, nullptr, t0 + 1).ok());
  CHECK(m.Update(1, {}, p.lookup, t0 + 59'999).empty());  // one ms before: both stay
  auto dropped = m.Update(2, {}, p.lookup, t0 + 60'000);   // exactly the ttl: alice's goes
  REQUIRE(dropped.size() == 1);
  CHECK(dropped[0].first == a0_id);
  CHECK(dropped[0].second.code() == Code::kExpired);
  CHECK_THAT(dropped[0].second.message(), Catch::Contains("tx_ttl_ms"));
  CHECK(m.Contains(b0_id));
  CHECK(m.Update(3, {}, p.lookup, t0 + 60'001).size() == 1);
  CHECK(m.size() == 0);
}

TEST_CASE("mempool: eviction compares fee per byte, not fee", "[mempool]") {
  Pool p;
  DecodedTx small = p.Tx("alice", 0, 100);
  const size_t size = small.envelope.size();
  DecodedTx large = p.Big("bob", 0, size, 150);  // twice the bytes (and more) for 1.5x the fee
  const Hash256 large_id = large.txid;
  Mempool m(Bounds(2));
  REQUIRE(m.Add(std::move(small), 0, 1).ok());
  REQUIRE(m.Add(std::move(large), 0, 1).ok());
  // 120 for `size` bytes beats bob's rate (150 for over 2x the bytes) but not alice's (100).
  std::optional<Hash256> evicted;
  REQUIRE(m.Add(p.Tx("carol", 0, 120), 0, 1, &evicted).ok());
  REQUIRE(evicted.has_value());
  CHECK(*evicted == large_id);
  // Now the cheapest rate is alice's 100 for `size` bytes: 100 at the same size does not beat it.
  Result tie = m.Add(p.Tx("dave", 0, 100), 0, 1);
  CHECK(tie.code() == Code::kMempoolFull);
  CHECK_THAT(tie.message(), Catch::Contains("above 100"));
  CHECK(m.Add(p.Tx("dave", 0, 101), 0, 1).ok());
}

TEST_CASE("mempool: after a block, a payer whose balance fell keeps only the txs it still covers", "[mempool][funds]") {
  FundedPool f;
  Mempool m(f.Options());
  f.Fund("alice", "KTR", 100);
  DecodedTx a0 = f.p.Tx("alice", 0, 10, 0, 20);
  const Hash256 a0_id = a0.txid;
  REQUIRE(m.Add(std::move(a0), 0, 1).ok());  // 30
  REQUIRE(m.Add(f.p.Tx("alice", 1, 10, 0, 20), 0, 1).ok());  // 60
  REQUIRE(m.Add(f.p.Tx("alice", 2, 10, 0, 20), 0, 1).ok());  // 90
  // The block included alice#0 and something else of hers took 40 more: 30 left.
  f.Fund("alice", "KTR", 30);
  f.p.committed[f.p.env.Pub("alice")] = 1;
  auto dropped = m.Update(1, {a0_id}, f.p.lookup);
  CHECK(f.p.Dropped(dropped) == std::map<std::string, Code>{{"alice#2", Code::kInsufficientFunds}});
  CHECK(m.size() == 1);
}
