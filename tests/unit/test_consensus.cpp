// The consensus core (node/consensus): the validator set (quorums, proposer rotation), BFT time,
// and the Tendermint state machine, Algorithm 1 of "The latest gossip on BFT consensus"
// (arXiv:1807.04938). Test names give the paper's line numbers. Every state machine test drives
// one StateMachine by hand and asserts the exact actions each event returns and the state after it.
//
// The usual setting: 4 validators of power 1 (f = 1: 2 is f+1, 3 is 2f+1), this node is
// validator 0, height 1, where the proposer of round r is (1 + r) mod 4: round 0 -> 1,
// round 1 -> 2, round 2 -> 3, round 3 -> 0.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ledger/bft_time.h"
#include "ledger/hash.h"
#include "node/consensus/state_machine.h"
#include "node/consensus/types.h"
#include "node/consensus/validator_set.h"

namespace kontor::consensus {
namespace {

// ---- Validator sets ----

PublicKey KeyOf(size_t i) { return TaggedHash("t", std::to_string(i)); }

std::vector<Validator> ValidatorsWith(const std::vector<uint64_t>& powers) {
  std::vector<Validator> out;
  for (size_t i = 0; i < powers.size(); ++i) out.push_back(Validator{KeyOf(i), powers[i], "v" + std::to_string(i)});
  return out;
}

ValidatorSet SetOf(const std::vector<uint64_t>& powers) {
  ValidatorSet set;
  Result r = ValidatorSet::Make(ValidatorsWith(powers), &set);
  INFO(r.message());
  REQUIRE(r.ok());
  return set;
}

ValidatorSet EqualSet(size_t n) { return SetOf(std::vector<uint64_t>(n, 1)); }

// ---- Blocks, named so that failures read well ----

std::map<Hash256, std::string>& BlockNames() {
  static std::map<Hash256, std::string> names;
  return names;
}

Hash256 Block(const std::string& name) {
  Hash256 h = TaggedHash("block", name);
  BlockNames()[h] = name;
  return h;
}

std::string NameOf(const std::optional<Hash256>& b) {
  if (!b) return "nil";
  auto it = BlockNames().find(*b);
  return it != BlockNames().end() ? it->second : b->hex().substr(0, 8);
}

// ---- Messages ----

Vote MakeVote(VoteKind kind, uint64_t height, uint32_t round, std::optional<Hash256> block, uint32_t validator,
              uint64_t timestamp_ms = 0) {
  Vote v;
  v.kind = kind;
  v.height = height;
  v.round = round;
  v.block = block;
  v.timestamp_ms = timestamp_ms;
  v.validator = validator;
  v.signature = "sig-" + std::to_string(validator) + "-" + NameOf(block);
  return v;
}

Vote Prevote(uint64_t height, uint32_t round, std::optional<Hash256> block, uint32_t validator) {
  return MakeVote(VoteKind::kPrevote, height, round, block, validator);
}

Vote Precommit(uint64_t height, uint32_t round, std::optional<Hash256> block, uint32_t validator,
               uint64_t timestamp_ms = 0) {
  return MakeVote(VoteKind::kPrecommit, height, round, block, validator, timestamp_ms);
}

Proposal MakeProposal(uint64_t height, uint32_t round, const Hash256& block, uint32_t proposer,
                      int32_t pol_round = kNoRound) {
  Proposal p;
  p.height = height;
  p.round = round;
  p.pol_round = pol_round;
  p.block = block;
  p.timestamp_ms = 1000;
  p.proposer = proposer;
  p.signature = "proposal-sig";
  return p;
}

// ---- Actions ----

template <class T>
std::vector<T> Find(const Actions& actions) {
  std::vector<T> out;
  for (const Action& a : actions) {
    if (const T* t = std::get_if<T>(&a)) out.push_back(*t);
  }
  return out;
}

template <class T>
size_t CountOf(const Actions& actions) {
  return Find<T>(actions).size();
}

std::string Describe(const Action& a) {
  if (const auto* p = std::get_if<action::Propose>(&a)) {
    return "Propose h" + std::to_string(p->height) + " r" + std::to_string(p->round) + " pol" +
           std::to_string(p->pol_round) + " " + (p->block ? NameOf(p->block) : "new");
  }
  if (const auto* v = std::get_if<action::CastVote>(&a)) {
    return std::string("CastVote ") + VoteKindName(v->kind) + " h" + std::to_string(v->height) + " r" +
           std::to_string(v->round) + " " + NameOf(v->block);
  }
  if (const auto* t = std::get_if<action::ScheduleTimeout>(&a)) {
    return std::string("Timeout ") + StepName(t->step) + " h" + std::to_string(t->height) + " r" +
           std::to_string(t->round) + " " + std::to_string(t->delay_ms) + "ms";
  }
  if (const auto* d = std::get_if<action::Decide>(&a)) {
    std::string by;
    for (const Vote& v : d->precommits) by += (by.empty() ? "" : ",") + std::to_string(v.validator);
    return "Decide h" + std::to_string(d->height) + " r" + std::to_string(d->round) + " " + NameOf(d->block) +
           " by " + by;
  }
  if (const auto* e = std::get_if<action::Evidence>(&a)) {
    return "Evidence v" + std::to_string(e->first.validator) + " " + VoteKindName(e->first.kind) + " h" +
           std::to_string(e->first.height) + " r" + std::to_string(e->first.round) + " " + NameOf(e->first.block) +
           "/" + NameOf(e->second.block);
  }
  if (const auto* r = std::get_if<action::RequestBlock>(&a)) {
    return "RequestBlock h" + std::to_string(r->height) + " r" + std::to_string(r->round) + " " + NameOf(r->block);
  }
  return "?";
}

using Lines = std::vector<std::string>;

Lines Describe(const Actions& actions) {
  Lines out;
  for (const Action& a : actions) out.push_back(Describe(a));
  return out;
}

// All of the state machine's observable state, one line.
std::string StateOf(const StateMachine& sm) {
  return "h" + std::to_string(sm.height()) + " r" + std::to_string(sm.round()) + " " + StepName(sm.step()) +
         " locked " + std::to_string(sm.locked_round()) + "/" + NameOf(sm.locked_value()) + " valid " +
         std::to_string(sm.valid_round()) + "/" + NameOf(sm.valid_value()) + (sm.decided() ? " decided" : "");
}

// A validator set and a state machine over it (the machine keeps a reference to the set).
struct Node {
  ValidatorSet set;
  StateMachine sm;
  Node(const std::vector<uint64_t>& powers, std::optional<uint32_t> self, TimeoutParams timeouts = {})
      : set(SetOf(powers)), sm(set, self, timeouts) {}
  Node(size_t n, std::optional<uint32_t> self, TimeoutParams timeouts = {})
      : Node(std::vector<uint64_t>(n, 1), self, timeouts) {}

  // Hands in the votes one by one; the actions of all of them.
  Actions Votes(const std::vector<Vote>& votes) {
    Actions out;
    for (const Vote& v : votes) {
      Actions more = sm.OnVote(v);
      out.insert(out.end(), more.begin(), more.end());
    }
    return out;
  }
};

const Lines kNothing;

// Node 0 of 4 at height 1, active, round 0 (proposer: validator 1).
struct Four : Node {
  Four() : Node(4, 0u) { REQUIRE(Describe(sm.StartHeight(1, true)) == Lines{"Timeout propose h1 r0 3000ms"}); }

  // Round 0: proposal `b` from validator 1 with a valid block; this node prevotes it.
  void PrevoteProposal(const Hash256& b) {
    REQUIRE(Describe(sm.OnProposal(MakeProposal(1, 0, b, 1))) == kNothing);
    REQUIRE(Describe(sm.OnBlock(b, true)) == Lines{"CastVote prevote h1 r0 " + NameOf(b)});
  }

  // Round 0: lock on `b` (validators 1..3 prevote it).
  void LockRound0(const Hash256& b) {
    PrevoteProposal(b);
    REQUIRE(Describe(Votes({Prevote(1, 0, b, 1), Prevote(1, 0, b, 2), Prevote(1, 0, b, 3)})) ==
            Lines{"Timeout prevote h1 r0 1000ms", "CastVote precommit h1 r0 " + NameOf(b)});
  }

  // Validators 1..3 precommit nil in `round`, then its precommit timeout fires: round + 1.
  void NilPrecommitsAndNextRound(uint32_t round) {
    REQUIRE(Describe(Votes({Precommit(1, round, std::nullopt, 1), Precommit(1, round, std::nullopt, 2),
                            Precommit(1, round, std::nullopt, 3)})) ==
            Lines{"Timeout precommit h1 r" + std::to_string(round) + " " + std::to_string(1000 + 500 * round) + "ms"});
    Actions next = sm.OnTimeout(Step::kPrecommit, 1, round);
    REQUIRE(sm.round() == round + 1);
    const uint32_t proposer = (1 + round + 1) % 4;
    Lines expected;
    if (proposer == 0) {
      expected.push_back("Propose h1 r" + std::to_string(round + 1) + " pol" + std::to_string(sm.valid_round()) + " " +
                         (sm.valid_value() ? NameOf(sm.valid_value()) : "new"));
    }
    expected.push_back("Timeout propose h1 r" + std::to_string(round + 1) + " " +
                       std::to_string(3000 + 500 * (round + 1)) + "ms");
    REQUIRE(Describe(next) == expected);
  }
};

// ======================================================================================
// ValidatorSet
// ======================================================================================

TEST_CASE("consensus: ValidatorSet::Make rejects malformed sets with a message") {
  ValidatorSet set;
  auto fails = [&](const std::vector<Validator>& validators, const std::string& fragment) {
    Result r = ValidatorSet::Make(validators, &set);
    INFO(r.message());
    CHECK(r.code() == Code::kMalformed);
    CHECK(r.message().find(fragment) != std::string::npos);
    CHECK(set.size() == 0);  // left untouched
  };
  fails({}, "empty");
  fails(ValidatorsWith({1, 0, 1}), "validator 1 has power 0");

  std::vector<Validator> twice = ValidatorsWith({1, 1, 1});
  twice[2].key = twice[0].key;
  fails(twice, "validator 2 is listed twice");

  fails(ValidatorsWith({ValidatorSet::kMaxTotalPower, 1}), "2^60");
  fails(ValidatorsWith({ValidatorSet::kMaxTotalPower / 2, ValidatorSet::kMaxTotalPower / 2, 1}), "2^60");
  fails(ValidatorsWith({ValidatorSet::kMaxTotalPower + 1}), "2^60");

  fails(ValidatorsWith({1, 65536}), "65537");
  fails(ValidatorsWith({2, 131072}), "65537");  // divided by the gcd 2: still 65537
  fails(ValidatorsWith(std::vector<uint64_t>(ValidatorSet::kMaxValidators + 1, 1)), "1001 validators");
}

TEST_CASE("consensus: ValidatorSet::Make accepts the boundary sets") {
  ValidatorSet set;
  REQUIRE(ValidatorSet::Make(ValidatorsWith({ValidatorSet::kMaxTotalPower}), &set).ok());
  CHECK(set.total_power() == ValidatorSet::kMaxTotalPower);
  REQUIRE(ValidatorSet::Make(ValidatorsWith({ValidatorSet::kMaxTotalPower / 2, ValidatorSet::kMaxTotalPower / 2}), &set).ok());
  CHECK(set.size() == 2);
  REQUIRE(ValidatorSet::Make(ValidatorsWith({1, 65535}), &set).ok());  // rotation of exactly 2^16
  CHECK(set.total_power() == 65536);
  REQUIRE(ValidatorSet::Make(ValidatorsWith({2, 131070}), &set).ok());
  REQUIRE(ValidatorSet::Make(ValidatorsWith(std::vector<uint64_t>(ValidatorSet::kMaxValidators, 7)), &set).ok());
  CHECK(set.size() == ValidatorSet::kMaxValidators);
  CHECK(set.total_power() == 7000);
  for (uint32_t i : {0u, 1u, 999u}) {
    CHECK(set.IndexOf(KeyOf(i)) == i);
    CHECK(set.at(i).key == KeyOf(i));
    CHECK(set.power(i) == 7);
  }
  CHECK_FALSE(set.IndexOf(KeyOf(1000)).has_value());
}

TEST_CASE("consensus: IsQuorum and IsOneThird boundaries for equal powers") {
  ValidatorSet four = EqualSet(4);
  CHECK(four.total_power() == 4);
  CHECK_FALSE(four.IsQuorum(0));
  CHECK_FALSE(four.IsQuorum(2));
  CHECK(four.IsQuorum(3));
  CHECK(four.IsQuorum(4));
  CHECK_FALSE(four.IsOneThird(0));
  CHECK_FALSE(four.IsOneThird(1));
  CHECK(four.IsOneThird(2));

  ValidatorSet three = EqualSet(3);  // 2/3 exactly is not more than 2/3
  CHECK_FALSE(three.IsQuorum(2));
  CHECK(three.IsQuorum(3));
  CHECK_FALSE(three.IsOneThird(1));
  CHECK(three.IsOneThird(2));

  ValidatorSet one = EqualSet(1);
  CHECK(one.IsQuorum(1));
  CHECK(one.IsOneThird(1));
  CHECK_FALSE(one.IsQuorum(0));
}

TEST_CASE("consensus: IsQuorum and IsOneThird boundaries for weighted powers") {
  ValidatorSet set = SetOf({5, 3, 2});  // total 10: quorum > 6.67, one third > 3.33
  CHECK(set.total_power() == 10);
  CHECK_FALSE(set.IsQuorum(6));
  CHECK(set.IsQuorum(7));
  CHECK_FALSE(set.IsOneThird(3));
  CHECK(set.IsOneThird(4));
  CHECK(set.IsQuorum(set.power(0) + set.power(2)));
  CHECK_FALSE(set.IsQuorum(set.power(0)));
  CHECK_FALSE(set.IsQuorum(set.power(1) + set.power(2)));

  ValidatorSet heavy = SetOf({ValidatorSet::kMaxTotalPower / 2, ValidatorSet::kMaxTotalPower / 2});
  const uint64_t total = ValidatorSet::kMaxTotalPower;  // 2^60: no overflow in 3 * power
  CHECK(heavy.total_power() == total);
  CHECK_FALSE(heavy.IsQuorum(total / 3 * 2));
  CHECK(heavy.IsQuorum(total / 3 * 2 + 1));  // 2^60 = 1 mod 3: 3 * (2 * (2^60 - 1) / 3 + 1) > 2 * 2^60
  CHECK_FALSE(heavy.IsOneThird(total / 3));
  CHECK(heavy.IsOneThird(total / 3 + 1));
  CHECK(heavy.IsQuorum(total));
}

TEST_CASE("consensus: Proposer with equal powers is height + round mod n") {
  for (size_t n : {1u, 3u, 4u, 7u}) {
    ValidatorSet set = EqualSet(n);
    for (uint64_t h = 0; h < 12; ++h) {
      for (uint32_t r = 0; r < 12; ++r) CHECK(set.Proposer(h, r) == (h + r) % n);
    }
    // No overflow of height + round.
    const uint64_t h = UINT64_MAX;
    const uint32_t r = UINT32_MAX;
    const unsigned __int128 sum = static_cast<unsigned __int128>(h) + r;
    CHECK(set.Proposer(h, r) == static_cast<uint32_t>(sum % n));
  }
}

TEST_CASE("consensus: Proposer with weighted powers follows the powers and depends only on height + round") {
  ValidatorSet set = SetOf({3, 1});
  for (uint64_t start = 0; start < 8; ++start) {
    size_t counts[2] = {0, 0};
    for (uint64_t k = start; k < start + 4; ++k) ++counts[set.Proposer(k, 0)];
    CHECK(counts[0] == 3);
    CHECK(counts[1] == 1);
  }
  ValidatorSet again = SetOf({3, 1});
  for (uint64_t h = 0; h < 10; ++h) {
    for (uint32_t r = 0; r < 10; ++r) {
      CHECK(set.Proposer(h, r) == set.Proposer(h + r, 0));
      CHECK(set.Proposer(h, r) == set.Proposer(0, static_cast<uint32_t>(h + r)));
      CHECK(set.Proposer(h, r) == set.Proposer(h + 4, r));  // period 4
      CHECK(set.Proposer(h, r) == again.Proposer(h, r));
      CHECK(set.Proposer(h, r) == set.Proposer(h, r));
    }
  }
  // Common factors do not matter: {6, 2} rotates exactly like {3, 1}.
  ValidatorSet scaled = SetOf({6, 2});
  for (uint64_t k = 0; k < 8; ++k) CHECK(scaled.Proposer(k, 0) == set.Proposer(k, 0));

  // {5, 3, 2}: period 10, each validator as often as its power in every window of 10.
  ValidatorSet three = SetOf({5, 3, 2});
  for (uint64_t start = 0; start < 10; ++start) {
    size_t counts[3] = {0, 0, 0};
    for (uint64_t k = start; k < start + 10; ++k) ++counts[three.Proposer(k / 2, static_cast<uint32_t>(k - k / 2))];
    CHECK(counts[0] == 5);
    CHECK(counts[1] == 3);
    CHECK(counts[2] == 2);
  }
}

// ======================================================================================
// BFT time
// ======================================================================================

TEST_CASE("consensus: WeightedMedianTime of one vote and of equal powers") {
  CHECK(WeightedMedianTime({{100, 1, 0}}) == 100);
  CHECK(WeightedMedianTime({{100, 5, 3}}) == 100);
  // Odd count: the middle one.
  CHECK(WeightedMedianTime({{10, 1, 0}, {20, 1, 1}, {30, 1, 2}}) == 20);
  // Even count: the first timestamp with more than half of the power, the upper middle.
  CHECK(WeightedMedianTime({{10, 1, 0}, {20, 1, 1}}) == 20);
  CHECK(WeightedMedianTime({{10, 1, 0}, {20, 1, 1}, {30, 1, 2}, {40, 1, 3}}) == 30);
  // Powers near 2^60 do not overflow.
  const uint64_t big = ValidatorSet::kMaxTotalPower;
  CHECK(WeightedMedianTime({{10, big, 0}, {20, big, 1}, {30, big, 2}}) == 20);
}

TEST_CASE("consensus: WeightedMedianTime follows power and not input order") {
  // A validator with more than half of the power decides alone.
  CHECK(WeightedMedianTime({{10, 1, 0}, {20, 1, 1}, {30, 5, 2}}) == 30);
  CHECK(WeightedMedianTime({{10, 5, 0}, {50, 1, 1}, {60, 1, 2}}) == 10);
  // Exactly half is not enough.
  CHECK(WeightedMedianTime({{10, 2, 0}, {20, 1, 1}, {30, 1, 2}}) == 20);
  CHECK(WeightedMedianTime({{10, 3, 0}, {20, 1, 1}, {30, 1, 2}}) == 10);

  // Equal timestamps sort by validator index; any input order gives the same result.
  std::vector<TimedVote> votes = {{100, 1, 4}, {100, 2, 2}, {200, 2, 0}, {50, 1, 3}, {300, 3, 1}};
  // Sorted: 50(v3,1) 100(v2,2) 100(v4,1) 200(v0,2) 300(v1,3); total 9, more than 4.5 at 200.
  std::sort(votes.begin(), votes.end(), [](const TimedVote& a, const TimedVote& b) { return a.validator < b.validator; });
  size_t permutations = 0;
  do {
    CHECK(WeightedMedianTime(votes) == 200);
    ++permutations;
  } while (std::next_permutation(votes.begin(), votes.end(),
                                 [](const TimedVote& a, const TimedVote& b) { return a.validator < b.validator; }));
  CHECK(permutations == 120);

  // A tie at the median: the same timestamp whichever of the tied validators comes first.
  CHECK(WeightedMedianTime({{100, 1, 1}, {100, 1, 0}, {200, 1, 2}}) == 100);
  CHECK(WeightedMedianTime({{100, 1, 0}, {100, 1, 1}, {200, 1, 2}}) == 100);
}

TEST_CASE("consensus: PrecommitTime is the clock but at least 1 ms after the block") {
  CHECK(PrecommitTime(100, 50) == 100);
  CHECK(PrecommitTime(51, 50) == 51);
  CHECK(PrecommitTime(50, 50) == 51);
  CHECK(PrecommitTime(10, 50) == 51);
  CHECK(PrecommitTime(0, 0) == 1);
}

// ======================================================================================
// State machine: starting a height
// ======================================================================================

TEST_CASE("consensus: TimeoutParams grow linearly with the round") {
  TimeoutParams t{.propose_ms = 100, .propose_delta_ms = 10, .prevote_ms = 200, .prevote_delta_ms = 20,
                  .precommit_ms = 300, .precommit_delta_ms = 30};
  CHECK(t.For(Step::kPropose, 0) == 100);
  CHECK(t.For(Step::kPropose, 3) == 130);
  CHECK(t.For(Step::kPrevote, 2) == 240);
  CHECK(t.For(Step::kPrecommit, 5) == 450);
  TimeoutParams d;
  CHECK(d.For(Step::kPropose, 1) == 3500);
}

TEST_CASE("consensus: an idle height sends nothing until Activate") {
  Node proposer(4, 1u);  // validator 1 proposes at height 1, round 0
  CHECK(Describe(proposer.sm.StartHeight(1, false)) == kNothing);
  CHECK(StateOf(proposer.sm) == "h1 r0 propose locked -1/nil valid -1/nil");
  CHECK_FALSE(proposer.sm.active());
  // A block verdict alone does not wake it, nor does a message of another height.
  CHECK(Describe(proposer.sm.OnBlock(Block("A"), true)) == kNothing);
  CHECK(Describe(proposer.sm.OnVote(Prevote(3, 0, std::nullopt, 2))) == kNothing);
  CHECK(Describe(proposer.sm.OnVote(Prevote(2, 0, std::nullopt, 2))) == kNothing);  // buffered for height 2
  CHECK_FALSE(proposer.sm.active());

  Node other(4, 0u);
  CHECK(Describe(other.sm.StartHeight(1, false)) == kNothing);
  CHECK_FALSE(other.sm.active());
}

TEST_CASE("consensus: Activate makes the proposer propose and starts the propose timeout") {
  Node proposer(4, 1u);
  REQUIRE(Describe(proposer.sm.StartHeight(1, false)) == kNothing);
  CHECK(Describe(proposer.sm.Activate()) == Lines{"Propose h1 r0 pol-1 new", "Timeout propose h1 r0 3000ms"});
  CHECK(Describe(proposer.sm.Activate()) == kNothing);  // the second time does nothing
  CHECK(proposer.sm.active());
  CHECK(StateOf(proposer.sm) == "h1 r0 propose locked -1/nil valid -1/nil");

  Node other(4, 0u);
  REQUIRE(Describe(other.sm.StartHeight(1, false)) == kNothing);
  CHECK(Describe(other.sm.Activate()) == Lines{"Timeout propose h1 r0 3000ms"});
  CHECK(Describe(other.sm.Activate()) == kNothing);

  // Started active: the same at once, and Activate then does nothing.
  Node active(4, 1u);
  Actions started = active.sm.StartHeight(1, true);
  REQUIRE(CountOf<action::Propose>(started) == 1);
  action::Propose propose = Find<action::Propose>(started)[0];
  CHECK(propose.height == 1);
  CHECK(propose.round == 0);
  CHECK(propose.pol_round == kNoRound);
  CHECK_FALSE(propose.block.has_value());
  CHECK(Describe(started) == Lines{"Propose h1 r0 pol-1 new", "Timeout propose h1 r0 3000ms"});
  CHECK(Describe(active.sm.Activate()) == kNothing);
}

TEST_CASE("consensus: a vote or proposal of the height activates an idle node") {
  SECTION("a vote, at a non-proposer") {
    Node node(4, 0u);
    REQUIRE(Describe(node.sm.StartHeight(1, false)) == kNothing);
    CHECK(Describe(node.sm.OnVote(Prevote(1, 0, std::nullopt, 2))) == Lines{"Timeout propose h1 r0 3000ms"});
    CHECK(node.sm.active());
    CHECK(Describe(node.sm.Activate()) == kNothing);
    CHECK(StateOf(node.sm) == "h1 r0 propose locked -1/nil valid -1/nil");
  }
  SECTION("a vote, at the proposer") {
    Node node(4, 1u);
    REQUIRE(Describe(node.sm.StartHeight(1, false)) == kNothing);
    CHECK(Describe(node.sm.OnVote(Precommit(1, 0, std::nullopt, 3))) ==
          Lines{"Propose h1 r0 pol-1 new", "Timeout propose h1 r0 3000ms"});
    CHECK(node.sm.active());
  }
  SECTION("a proposal") {
    Node node(4, 0u);
    REQUIRE(Describe(node.sm.StartHeight(1, false)) == kNothing);
    CHECK(Describe(node.sm.OnProposal(MakeProposal(1, 0, Block("A"), 1))) == Lines{"Timeout propose h1 r0 3000ms"});
    CHECK(node.sm.active());
    CHECK(Describe(node.sm.OnBlock(Block("A"), true)) == Lines{"CastVote prevote h1 r0 A"});
  }
}

// ======================================================================================
// Line 22: a fresh proposal
// ======================================================================================

TEST_CASE("consensus: line 22 prevotes a valid proposal once its block verdict is known") {
  SECTION("proposal, then block") {
    Four n;
    CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 0, Block("A"), 1))) == kNothing);
    CHECK(StateOf(n.sm) == "h1 r0 propose locked -1/nil valid -1/nil");
    CHECK(n.sm.Wants(Block("A")));
    Actions acts = n.sm.OnBlock(Block("A"), true);
    REQUIRE(Find<action::CastVote>(acts).size() == 1);
    action::CastVote v = Find<action::CastVote>(acts)[0];
    CHECK(v.kind == VoteKind::kPrevote);
    CHECK(v.height == 1);
    CHECK(v.round == 0);
    CHECK(v.block == Block("A"));
    CHECK(Describe(acts) == Lines{"CastVote prevote h1 r0 A"});
    CHECK(StateOf(n.sm) == "h1 r0 prevote locked -1/nil valid -1/nil");
    // The same proposal again, or a second one from the proposer, changes nothing.
    CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 0, Block("A"), 1))) == kNothing);
    CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 0, Block("B"), 1))) == kNothing);
    REQUIRE(n.sm.Proposals().size() == 1);
    CHECK(n.sm.Proposals()[0].block == Block("A"));
  }
  SECTION("block, then proposal") {
    Four n;
    CHECK(Describe(n.sm.OnBlock(Block("A"), true)) == kNothing);
    CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 0, Block("A"), 1))) == Lines{"CastVote prevote h1 r0 A"});
    CHECK(StateOf(n.sm) == "h1 r0 prevote locked -1/nil valid -1/nil");
  }
  SECTION("the verdict for another block does not count") {
    Four n;
    CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 0, Block("A"), 1))) == kNothing);
    CHECK(Describe(n.sm.OnBlock(Block("B"), true)) == kNothing);
    CHECK(n.sm.step() == Step::kPropose);
  }
}

TEST_CASE("consensus: line 22 prevotes nil for an invalid block") {
  Four n;
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 0, Block("A"), 1))) == kNothing);
  CHECK(Describe(n.sm.OnBlock(Block("A"), false)) == Lines{"CastVote prevote h1 r0 nil"});
  CHECK(StateOf(n.sm) == "h1 r0 prevote locked -1/nil valid -1/nil");
  // A polka for the invalid block locks nothing (line 36 needs valid(v)).
  CHECK(Describe(n.Votes({Prevote(1, 0, Block("A"), 1), Prevote(1, 0, Block("A"), 2), Prevote(1, 0, Block("A"), 3)})) ==
        Lines{"Timeout prevote h1 r0 1000ms"});
  CHECK(StateOf(n.sm) == "h1 r0 prevote locked -1/nil valid -1/nil");
}

TEST_CASE("consensus: a proposal from the wrong proposer is ignored") {
  Four n;
  for (uint32_t wrong : {0u, 2u, 3u, 4u, 99u}) {
    CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 0, Block("A"), wrong))) == kNothing);
  }
  CHECK(Describe(n.sm.OnBlock(Block("A"), true)) == kNothing);
  CHECK(n.sm.Proposals().empty());
  CHECK_FALSE(n.sm.Wants(Block("A")));
  CHECK(StateOf(n.sm) == "h1 r0 propose locked -1/nil valid -1/nil");
  // A pol_round that is not below the round is malformed, as is one below -1.
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 0, Block("A"), 1, 0))) == kNothing);
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 0, Block("A"), 1, -2))) == kNothing);
  CHECK(n.sm.Proposals().empty());
  // The right proposer is still heard.
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 0, Block("A"), 1))) == Lines{"CastVote prevote h1 r0 A"});
}

TEST_CASE("consensus: line 22 prevotes nil when locked on another value") {
  Four n;
  n.LockRound0(Block("A"));
  CHECK(StateOf(n.sm) == "h1 r0 precommit locked 0/A valid 0/A");
  n.NilPrecommitsAndNextRound(0);
  CHECK(StateOf(n.sm) == "h1 r1 propose locked 0/A valid 0/A");

  SECTION("another value: nil") {
    CHECK(Describe(n.sm.OnBlock(Block("B"), true)) == kNothing);
    CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 1, Block("B"), 2))) == Lines{"CastVote prevote h1 r1 nil"});
    CHECK(StateOf(n.sm) == "h1 r1 prevote locked 0/A valid 0/A");
  }
  SECTION("the locked value: prevoted") {
    CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 1, Block("A"), 2))) == Lines{"CastVote prevote h1 r1 A"});
    CHECK(StateOf(n.sm) == "h1 r1 prevote locked 0/A valid 0/A");
  }
}

// ======================================================================================
// Lines 57, 61, 65, 34, 47: timeouts
// ======================================================================================

TEST_CASE("consensus: line 57 the propose timeout prevotes nil") {
  Four n;
  CHECK(Describe(n.sm.OnTimeout(Step::kPropose, 1, 0)) == Lines{"CastVote prevote h1 r0 nil"});
  CHECK(StateOf(n.sm) == "h1 r0 prevote locked -1/nil valid -1/nil");
  // Only once, and a late proposal does not make it prevote again.
  CHECK(Describe(n.sm.OnTimeout(Step::kPropose, 1, 0)) == kNothing);
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 0, Block("A"), 1))) == kNothing);
  CHECK(Describe(n.sm.OnBlock(Block("A"), true)) == kNothing);
  CHECK(StateOf(n.sm) == "h1 r0 prevote locked -1/nil valid -1/nil");
}

TEST_CASE("consensus: lines 34 and 61 mixed prevotes start the prevote timeout which precommits nil") {
  Four n;
  REQUIRE(Describe(n.sm.OnTimeout(Step::kPropose, 1, 0)) == Lines{"CastVote prevote h1 r0 nil"});
  CHECK(Describe(n.sm.OnVote(Prevote(1, 0, std::nullopt, 1))) == kNothing);
  CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("A"), 2))) == kNothing);
  CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("B"), 3))) == Lines{"Timeout prevote h1 r0 1000ms"});
  CHECK(Describe(n.sm.OnVote(Prevote(1, 0, std::nullopt, 0))) == kNothing);  // scheduled once
  CHECK(StateOf(n.sm) == "h1 r0 prevote locked -1/nil valid -1/nil");
  CHECK(Describe(n.sm.OnTimeout(Step::kPrevote, 1, 0)) == Lines{"CastVote precommit h1 r0 nil"});
  CHECK(StateOf(n.sm) == "h1 r0 precommit locked -1/nil valid -1/nil");
  CHECK(Describe(n.sm.OnTimeout(Step::kPrevote, 1, 0)) == kNothing);
}

TEST_CASE("consensus: line 34 waits for step prevote") {
  Four n;
  // 2f+1 mixed prevotes while still in step propose: nothing yet.
  CHECK(Describe(n.Votes({Prevote(1, 0, std::nullopt, 1), Prevote(1, 0, Block("A"), 2), Prevote(1, 0, Block("B"), 3)})) ==
        kNothing);
  CHECK(Describe(n.sm.OnTimeout(Step::kPropose, 1, 0)) ==
        Lines{"CastVote prevote h1 r0 nil", "Timeout prevote h1 r0 1000ms"});
  // A prevote timeout in step propose does nothing.
  Four m;
  CHECK(Describe(m.sm.OnTimeout(Step::kPrevote, 1, 0)) == kNothing);
  CHECK(m.sm.step() == Step::kPropose);
}

TEST_CASE("consensus: lines 47 and 65 the precommit timeout starts the next round with a longer timeout") {
  TimeoutParams t{.propose_ms = 100, .propose_delta_ms = 10, .prevote_ms = 200, .prevote_delta_ms = 20,
                  .precommit_ms = 300, .precommit_delta_ms = 30};
  Node n(4, 0u, t);
  REQUIRE(Describe(n.sm.StartHeight(1, true)) == Lines{"Timeout propose h1 r0 100ms"});
  REQUIRE(Describe(n.sm.OnTimeout(Step::kPropose, 1, 0)) == Lines{"CastVote prevote h1 r0 nil"});
  REQUIRE(Describe(n.Votes({Prevote(1, 0, std::nullopt, 1), Prevote(1, 0, std::nullopt, 2)})) == kNothing);
  REQUIRE(Describe(n.sm.OnVote(Prevote(1, 0, Block("A"), 3))) == Lines{"Timeout prevote h1 r0 200ms"});
  REQUIRE(Describe(n.sm.OnTimeout(Step::kPrevote, 1, 0)) == Lines{"CastVote precommit h1 r0 nil"});
  CHECK(Describe(n.Votes({Precommit(1, 0, std::nullopt, 1), Precommit(1, 0, Block("A"), 2)})) == kNothing);
  CHECK(Describe(n.sm.OnVote(Precommit(1, 0, std::nullopt, 3))) == Lines{"Timeout precommit h1 r0 300ms"});
  CHECK(Describe(n.sm.OnVote(Precommit(1, 0, std::nullopt, 0))) == kNothing);  // scheduled once
  CHECK(StateOf(n.sm) == "h1 r0 precommit locked -1/nil valid -1/nil");

  CHECK(Describe(n.sm.OnTimeout(Step::kPrecommit, 1, 0)) == Lines{"Timeout propose h1 r1 110ms"});
  CHECK(StateOf(n.sm) == "h1 r1 propose locked -1/nil valid -1/nil");

  // Round 1 times out the same way, with the round 1 delays; round 3 is this node's to propose.
  CHECK(Describe(n.sm.OnTimeout(Step::kPropose, 1, 1)) == Lines{"CastVote prevote h1 r1 nil"});
  CHECK(Describe(n.sm.OnTimeout(Step::kPrevote, 1, 1)) == Lines{"CastVote precommit h1 r1 nil"});
  CHECK(Describe(n.sm.OnTimeout(Step::kPrecommit, 1, 1)) == Lines{"Timeout propose h1 r2 120ms"});
  CHECK(Describe(n.sm.OnTimeout(Step::kPrecommit, 1, 2)) ==
        Lines{"Propose h1 r3 pol-1 new", "Timeout propose h1 r3 130ms"});
  CHECK(StateOf(n.sm) == "h1 r3 propose locked -1/nil valid -1/nil");
  // Prevote and precommit timeouts of a later round are longer too.
  REQUIRE(Describe(n.sm.OnTimeout(Step::kPropose, 1, 3)) == Lines{"CastVote prevote h1 r3 nil"});
  CHECK(Describe(n.Votes({Prevote(1, 3, std::nullopt, 1), Prevote(1, 3, Block("A"), 2), Prevote(1, 3, Block("B"), 3)})) ==
        Lines{"Timeout prevote h1 r3 260ms"});
  CHECK(Describe(n.Votes({Precommit(1, 3, std::nullopt, 1), Precommit(1, 3, Block("A"), 2),
                          Precommit(1, 3, Block("B"), 3)})) == Lines{"Timeout precommit h1 r3 390ms"});
}

TEST_CASE("consensus: stale timeouts for other rounds and heights are ignored") {
  Four n;
  n.NilPrecommitsAndNextRound(0);
  CHECK(StateOf(n.sm) == "h1 r1 propose locked -1/nil valid -1/nil");
  CHECK(Describe(n.sm.OnTimeout(Step::kPropose, 1, 0)) == kNothing);
  CHECK(Describe(n.sm.OnTimeout(Step::kPrevote, 1, 0)) == kNothing);
  CHECK(Describe(n.sm.OnTimeout(Step::kPrecommit, 1, 0)) == kNothing);
  CHECK(Describe(n.sm.OnTimeout(Step::kPropose, 1, 2)) == kNothing);
  CHECK(Describe(n.sm.OnTimeout(Step::kPrecommit, 1, 2)) == kNothing);
  CHECK(Describe(n.sm.OnTimeout(Step::kPropose, 0, 1)) == kNothing);
  CHECK(Describe(n.sm.OnTimeout(Step::kPropose, 2, 1)) == kNothing);
  CHECK(Describe(n.sm.OnTimeout(Step::kPrecommit, 2, 1)) == kNothing);
  CHECK(StateOf(n.sm) == "h1 r1 propose locked -1/nil valid -1/nil");
  CHECK(Describe(n.sm.OnTimeout(Step::kPropose, 1, 1)) == Lines{"CastVote prevote h1 r1 nil"});
}

// ======================================================================================
// Lines 36, 44: polkas
// ======================================================================================

TEST_CASE("consensus: line 36 a polka for the proposal locks and precommits it") {
  Four n;
  n.PrevoteProposal(Block("A"));
  CHECK(Describe(n.Votes({Prevote(1, 0, Block("A"), 1), Prevote(1, 0, Block("A"), 2)})) == kNothing);
  CHECK(StateOf(n.sm) == "h1 r0 prevote locked -1/nil valid -1/nil");
  Actions acts = n.sm.OnVote(Prevote(1, 0, Block("A"), 3));
  CHECK(Describe(acts) == Lines{"Timeout prevote h1 r0 1000ms", "CastVote precommit h1 r0 A"});
  REQUIRE(Find<action::CastVote>(acts).size() == 1);
  CHECK(Find<action::CastVote>(acts)[0].kind == VoteKind::kPrecommit);
  CHECK(Find<action::CastVote>(acts)[0].block == Block("A"));
  CHECK(n.sm.locked_round() == 0);
  CHECK(n.sm.locked_value() == Block("A"));
  CHECK(n.sm.valid_round() == 0);
  CHECK(n.sm.valid_value() == Block("A"));
  CHECK(StateOf(n.sm) == "h1 r0 precommit locked 0/A valid 0/A");
  // Only the first time.
  CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("A"), 0))) == kNothing);
  CHECK(Describe(n.sm.OnTimeout(Step::kPrevote, 1, 0)) == kNothing);
  CHECK(StateOf(n.sm) == "h1 r0 precommit locked 0/A valid 0/A");
}

TEST_CASE("consensus: line 36 a polka before the block verdict waits for it") {
  Four n;
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 0, Block("A"), 1))) == kNothing);
  CHECK(Describe(n.Votes({Prevote(1, 0, Block("A"), 1), Prevote(1, 0, Block("A"), 2), Prevote(1, 0, Block("A"), 3)})) ==
        kNothing);
  CHECK(Describe(n.sm.OnBlock(Block("A"), true)) ==
        Lines{"CastVote prevote h1 r0 A", "Timeout prevote h1 r0 1000ms", "CastVote precommit h1 r0 A"});
  CHECK(StateOf(n.sm) == "h1 r0 precommit locked 0/A valid 0/A");
}

TEST_CASE("consensus: line 36 in step precommit only updates the valid value") {
  Four n;
  REQUIRE(Describe(n.sm.OnTimeout(Step::kPropose, 1, 0)) == Lines{"CastVote prevote h1 r0 nil"});
  REQUIRE(Describe(n.Votes({Prevote(1, 0, Block("A"), 1), Prevote(1, 0, Block("A"), 2), Prevote(1, 0, std::nullopt, 0)})) ==
          Lines{"Timeout prevote h1 r0 1000ms"});
  REQUIRE(Describe(n.sm.OnTimeout(Step::kPrevote, 1, 0)) == Lines{"CastVote precommit h1 r0 nil"});
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 0, Block("A"), 1))) == kNothing);
  CHECK(Describe(n.sm.OnBlock(Block("A"), true)) == kNothing);
  CHECK(StateOf(n.sm) == "h1 r0 precommit locked -1/nil valid -1/nil");
  CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("A"), 3))) == kNothing);
  CHECK(n.sm.locked_round() == kNoRound);
  CHECK_FALSE(n.sm.locked_value().has_value());
  CHECK(n.sm.valid_round() == 0);
  CHECK(n.sm.valid_value() == Block("A"));
  CHECK(StateOf(n.sm) == "h1 r0 precommit locked -1/nil valid 0/A");

  // Rounds 1 and 2 time out; in round 3, its own, this node re-proposes the valid value with
  // its round (line 15).
  n.NilPrecommitsAndNextRound(0);
  CHECK(StateOf(n.sm) == "h1 r1 propose locked -1/nil valid 0/A");
  REQUIRE(Describe(n.sm.OnTimeout(Step::kPropose, 1, 1)) == Lines{"CastVote prevote h1 r1 nil"});
  REQUIRE(Describe(n.sm.OnTimeout(Step::kPrevote, 1, 1)) == Lines{"CastVote precommit h1 r1 nil"});
  n.NilPrecommitsAndNextRound(1);
  REQUIRE(Describe(n.sm.OnTimeout(Step::kPropose, 1, 2)) == Lines{"CastVote prevote h1 r2 nil"});
  REQUIRE(Describe(n.sm.OnTimeout(Step::kPrevote, 1, 2)) == Lines{"CastVote precommit h1 r2 nil"});
  REQUIRE(Describe(n.Votes({Precommit(1, 2, std::nullopt, 1), Precommit(1, 2, std::nullopt, 2),
                            Precommit(1, 2, std::nullopt, 3)})) == Lines{"Timeout precommit h1 r2 2000ms"});
  CHECK(Describe(n.sm.OnTimeout(Step::kPrecommit, 1, 2)) == Lines{"Propose h1 r3 pol0 A", "Timeout propose h1 r3 4500ms"});
}

TEST_CASE("consensus: line 44 a nil polka precommits nil") {
  Four n;
  n.PrevoteProposal(Block("A"));
  CHECK(Describe(n.Votes({Prevote(1, 0, std::nullopt, 1), Prevote(1, 0, std::nullopt, 2)})) == kNothing);
  CHECK(Describe(n.sm.OnVote(Prevote(1, 0, std::nullopt, 3))) ==
        Lines{"Timeout prevote h1 r0 1000ms", "CastVote precommit h1 r0 nil"});
  CHECK(StateOf(n.sm) == "h1 r0 precommit locked -1/nil valid -1/nil");
  CHECK(Describe(n.sm.OnTimeout(Step::kPrevote, 1, 0)) == kNothing);
}

// ======================================================================================
// Line 49: deciding
// ======================================================================================

TEST_CASE("consensus: line 49 a precommit quorum for a valid known block decides once") {
  Four n;
  n.PrevoteProposal(Block("A"));
  CHECK(Describe(n.Votes({Precommit(1, 0, Block("A"), 3, 303), Precommit(1, 0, Block("A"), 1, 101)})) == kNothing);
  // Three precommits of any kind: line 47's timeout, no decision.
  CHECK(Describe(n.sm.OnVote(Precommit(1, 0, std::nullopt, 0, 1))) == Lines{"Timeout precommit h1 r0 1000ms"});
  Actions acts = n.sm.OnVote(Precommit(1, 0, Block("A"), 2, 202));
  CHECK(Describe(acts) == Lines{"Decide h1 r0 A by 1,2,3"});
  REQUIRE(CountOf<action::Decide>(acts) == 1);
  action::Decide d = Find<action::Decide>(acts)[0];
  CHECK(d.height == 1);
  CHECK(d.round == 0);
  CHECK(d.block == Block("A"));
  REQUIRE(d.precommits.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(d.precommits[i].validator == i + 1);
    CHECK(d.precommits[i].kind == VoteKind::kPrecommit);
    CHECK(d.precommits[i].block == Block("A"));
    CHECK(d.precommits[i].timestamp_ms == 101 * (i + 1));
    CHECK(d.precommits[i].signature == "sig-" + std::to_string(i + 1) + "-A");
  }
  CHECK(n.sm.decided());
  CHECK(StateOf(n.sm) == "h1 r0 prevote locked -1/nil valid -1/nil decided");
  CHECK(Describe(n.sm.OnVote(Precommit(1, 0, Block("A"), 0))) == kNothing);
}

TEST_CASE("consensus: line 49 a precommit quorum for an unknown block requests it once") {
  Four n;
  CHECK(Describe(n.Votes({Precommit(1, 0, Block("A"), 1), Precommit(1, 0, Block("A"), 2)})) == kNothing);
  CHECK_FALSE(n.sm.Wants(Block("B")));
  CHECK(n.sm.Wants(Block("A")));
  Actions acts = n.sm.OnVote(Precommit(1, 0, Block("A"), 3));
  CHECK(Describe(acts) == Lines{"RequestBlock h1 r0 A", "Timeout precommit h1 r0 1000ms"});
  REQUIRE(CountOf<action::RequestBlock>(acts) == 1);
  CHECK(Find<action::RequestBlock>(acts)[0].block == Block("A"));
  // Not again: a repeated vote, the last validator's vote, a verdict for another block.
  CHECK(Describe(n.sm.OnVote(Precommit(1, 0, Block("A"), 3))) == kNothing);
  CHECK(Describe(n.sm.OnBlock(Block("B"), true)) == kNothing);
  CHECK_FALSE(n.sm.decided());

  SECTION("valid: decides") {
    CHECK(Describe(n.sm.OnBlock(Block("A"), true)) == Lines{"Decide h1 r0 A by 1,2,3"});
    CHECK(n.sm.decided());
  }
  SECTION("invalid: stays undecided") {
    CHECK(Describe(n.sm.OnBlock(Block("A"), false)) == kNothing);
    CHECK(Describe(n.sm.OnVote(Precommit(1, 0, Block("A"), 0))) == kNothing);
    CHECK_FALSE(n.sm.decided());
    CHECK(StateOf(n.sm) == "h1 r0 propose locked -1/nil valid -1/nil");
  }
}

TEST_CASE("consensus: line 49 precommits of an older round decide") {
  Four n;
  // Line 55 takes it to round 1 (validators 1 and 2 are there).
  CHECK(Describe(n.sm.OnVote(Prevote(1, 1, std::nullopt, 1))) == kNothing);
  CHECK(Describe(n.sm.OnVote(Prevote(1, 1, std::nullopt, 2))) == Lines{"Timeout propose h1 r1 3500ms"});
  CHECK(StateOf(n.sm) == "h1 r1 propose locked -1/nil valid -1/nil");
  CHECK(Describe(n.sm.OnBlock(Block("A"), true)) == kNothing);
  CHECK(Describe(n.Votes({Precommit(1, 0, Block("A"), 2), Precommit(1, 0, Block("A"), 3)})) == kNothing);
  CHECK(Describe(n.sm.OnVote(Precommit(1, 0, Block("A"), 1))) == Lines{"Decide h1 r0 A by 1,2,3"});
  CHECK(StateOf(n.sm) == "h1 r1 propose locked -1/nil valid -1/nil decided");
}

TEST_CASE("consensus: nothing happens after the height is decided") {
  Four n;
  REQUIRE(Describe(n.sm.OnBlock(Block("A"), true)) == kNothing);
  REQUIRE(Describe(n.Votes({Precommit(1, 0, Block("A"), 1), Precommit(1, 0, Block("A"), 2), Precommit(1, 0, Block("A"), 3)})) ==
          Lines{"Decide h1 r0 A by 1,2,3"});
  const std::string state = StateOf(n.sm);
  CHECK(state == "h1 r0 propose locked -1/nil valid -1/nil decided");
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 0, Block("A"), 1))) == kNothing);
  CHECK(Describe(n.sm.OnBlock(Block("A"), true)) == kNothing);
  CHECK(Describe(n.sm.OnVote(Precommit(1, 0, Block("A"), 0))) == kNothing);
  CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("B"), 1))) == kNothing);
  CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("C"), 1))) == kNothing);  // not even evidence
  CHECK(Describe(n.Votes({Prevote(1, 5, std::nullopt, 1), Prevote(1, 5, std::nullopt, 2)})) == kNothing);
  CHECK(Describe(n.sm.OnTimeout(Step::kPropose, 1, 0)) == kNothing);
  CHECK(Describe(n.sm.OnTimeout(Step::kPrecommit, 1, 0)) == kNothing);
  CHECK(Describe(n.sm.Activate()) == kNothing);
  CHECK(Describe(n.sm.OnCommit(0, Block("A"), {Precommit(1, 0, Block("A"), 0), Precommit(1, 0, Block("A"), 1),
                                               Precommit(1, 0, Block("A"), 2)})) == kNothing);
  CHECK(StateOf(n.sm) == state);
  // The next height starts afresh.
  CHECK(Describe(n.sm.StartHeight(2, true)) == Lines{"Timeout propose h2 r0 3000ms"});
  CHECK(StateOf(n.sm) == "h2 r0 propose locked -1/nil valid -1/nil");
}

// ======================================================================================
// Line 28: a re-proposal with a polka round
// ======================================================================================

TEST_CASE("consensus: line 28 prevotes a re-proposal justified by a polka even when locked on it") {
  Four n;
  n.LockRound0(Block("A"));
  n.NilPrecommitsAndNextRound(0);
  CHECK(StateOf(n.sm) == "h1 r1 propose locked 0/A valid 0/A");
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 1, Block("A"), 2, 0))) == Lines{"CastVote prevote h1 r1 A"});
  CHECK(StateOf(n.sm) == "h1 r1 prevote locked 0/A valid 0/A");
}

TEST_CASE("consensus: line 28 prevotes a re-proposal when locked at a round before the pol round") {
  Four n;
  n.LockRound0(Block("A"));
  n.NilPrecommitsAndNextRound(0);
  // Round 1: no proposal arrives here, but the others prevote B.
  REQUIRE(Describe(n.sm.OnTimeout(Step::kPropose, 1, 1)) == Lines{"CastVote prevote h1 r1 nil"});
  REQUIRE(Describe(n.Votes({Prevote(1, 1, Block("B"), 1), Prevote(1, 1, Block("B"), 2), Prevote(1, 1, Block("B"), 3)})) ==
          Lines{"Timeout prevote h1 r1 1500ms"});
  REQUIRE(Describe(n.sm.OnTimeout(Step::kPrevote, 1, 1)) == Lines{"CastVote precommit h1 r1 nil"});
  n.NilPrecommitsAndNextRound(1);
  CHECK(StateOf(n.sm) == "h1 r2 propose locked 0/A valid 0/A");
  // Round 2: validator 3 re-proposes B with pol_round 1 > locked_round 0.
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 2, Block("B"), 3, 1))) == kNothing);  // B's verdict unknown
  CHECK(Describe(n.sm.OnBlock(Block("B"), true)) == Lines{"CastVote prevote h1 r2 B"});
  CHECK(StateOf(n.sm) == "h1 r2 prevote locked 0/A valid 0/A");
}

TEST_CASE("consensus: line 28 prevotes a re-proposal when locked at the pol round itself") {
  // Two equivocators (more than f) make two polkas in round 0: B (first votes) and A (the
  // proposal, their second votes). This node locks A in round 0; B re-proposed with pol_round 0
  // still gets its prevote, since locked_round <= vr.
  Four n;
  n.PrevoteProposal(Block("A"));
  REQUIRE(Describe(n.Votes({Prevote(1, 0, Block("B"), 1), Prevote(1, 0, Block("B"), 2), Prevote(1, 0, Block("B"), 3)})) ==
          Lines{"Timeout prevote h1 r0 1000ms"});
  REQUIRE(Describe(n.Votes({Prevote(1, 0, Block("A"), 0), Prevote(1, 0, Block("A"), 1)})) ==
          Lines{"Evidence v1 prevote h1 r0 B/A"});
  REQUIRE(Describe(n.sm.OnVote(Prevote(1, 0, Block("A"), 2))) ==
          Lines{"Evidence v2 prevote h1 r0 B/A", "CastVote precommit h1 r0 A"});
  n.NilPrecommitsAndNextRound(0);
  CHECK(StateOf(n.sm) == "h1 r1 propose locked 0/A valid 0/A");
  CHECK(Describe(n.sm.OnBlock(Block("B"), true)) == kNothing);
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 1, Block("B"), 2, 0))) == Lines{"CastVote prevote h1 r1 B"});
  CHECK(StateOf(n.sm) == "h1 r1 prevote locked 0/A valid 0/A");
}

TEST_CASE("consensus: line 28 prevotes nil when locked after the pol round on another value") {
  Four n;
  // Round 0: a polka for B that this node sees without B's proposal (no lock).
  REQUIRE(Describe(n.sm.OnTimeout(Step::kPropose, 1, 0)) == Lines{"CastVote prevote h1 r0 nil"});
  REQUIRE(Describe(n.Votes({Prevote(1, 0, Block("B"), 1), Prevote(1, 0, Block("B"), 2), Prevote(1, 0, Block("B"), 3)})) ==
          Lines{"Timeout prevote h1 r0 1000ms"});
  REQUIRE(Describe(n.sm.OnTimeout(Step::kPrevote, 1, 0)) == Lines{"CastVote precommit h1 r0 nil"});
  n.NilPrecommitsAndNextRound(0);
  // Round 1: lock on A.
  REQUIRE(Describe(n.sm.OnProposal(MakeProposal(1, 1, Block("A"), 2))) == kNothing);
  REQUIRE(Describe(n.sm.OnBlock(Block("A"), true)) == Lines{"CastVote prevote h1 r1 A"});
  REQUIRE(Describe(n.Votes({Prevote(1, 1, Block("A"), 1), Prevote(1, 1, Block("A"), 2), Prevote(1, 1, Block("A"), 3)})) ==
          Lines{"Timeout prevote h1 r1 1500ms", "CastVote precommit h1 r1 A"});
  n.NilPrecommitsAndNextRound(1);
  CHECK(StateOf(n.sm) == "h1 r2 propose locked 1/A valid 1/A");
  // Round 2: B re-proposed with pol_round 0 < locked_round 1.
  CHECK(Describe(n.sm.OnBlock(Block("B"), true)) == kNothing);
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 2, Block("B"), 3, 0))) == Lines{"CastVote prevote h1 r2 nil"});
  CHECK(StateOf(n.sm) == "h1 r2 prevote locked 1/A valid 1/A");
}

TEST_CASE("consensus: line 28 waits for the polka of the pol round") {
  Four n;
  n.NilPrecommitsAndNextRound(0);
  // Round 0 has only two prevotes for B: not a polka.
  CHECK(Describe(n.Votes({Prevote(1, 0, Block("B"), 1), Prevote(1, 0, Block("B"), 2), Prevote(1, 0, std::nullopt, 3)})) ==
        kNothing);
  CHECK(Describe(n.sm.OnBlock(Block("B"), true)) == kNothing);
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 1, Block("B"), 2, 0))) == kNothing);
  CHECK(StateOf(n.sm) == "h1 r1 propose locked -1/nil valid -1/nil");
  // A polka for another block in round 0 does not justify B.
  CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("C"), 0))) == kNothing);
  CHECK(n.sm.step() == Step::kPropose);

  SECTION("the third prevote for B arrives") {
    Four m;
    m.NilPrecommitsAndNextRound(0);
    REQUIRE(Describe(m.Votes({Prevote(1, 0, Block("B"), 1), Prevote(1, 0, Block("B"), 2)})) == kNothing);
    REQUIRE(Describe(m.sm.OnBlock(Block("B"), true)) == kNothing);
    REQUIRE(Describe(m.sm.OnProposal(MakeProposal(1, 1, Block("B"), 2, 0))) == kNothing);
    CHECK(Describe(m.sm.OnVote(Prevote(1, 0, Block("B"), 3))) == Lines{"CastVote prevote h1 r1 B"});
    CHECK(StateOf(m.sm) == "h1 r1 prevote locked -1/nil valid -1/nil");
  }
  SECTION("the propose timeout prevotes nil instead") {
    CHECK(Describe(n.sm.OnTimeout(Step::kPropose, 1, 1)) == Lines{"CastVote prevote h1 r1 nil"});
    CHECK(StateOf(n.sm) == "h1 r1 prevote locked -1/nil valid -1/nil");
  }
}

TEST_CASE("consensus: line 28 prevotes nil for an invalid re-proposed block") {
  Four n;
  n.NilPrecommitsAndNextRound(0);
  REQUIRE(Describe(n.Votes({Prevote(1, 0, Block("B"), 1), Prevote(1, 0, Block("B"), 2), Prevote(1, 0, Block("B"), 3)})) ==
          kNothing);
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 1, Block("B"), 2, 0))) == kNothing);
  CHECK(Describe(n.sm.OnBlock(Block("B"), false)) == Lines{"CastVote prevote h1 r1 nil"});
}

// ======================================================================================
// Line 55: catching up with a later round
// ======================================================================================

TEST_CASE("consensus: line 55 f+1 power in a higher round moves to that round") {
  Four n;
  // f = 1: one validator's messages (any kinds) are not enough.
  CHECK(Describe(n.sm.OnVote(Prevote(1, 3, std::nullopt, 1))) == kNothing);
  CHECK(Describe(n.sm.OnVote(Precommit(1, 3, std::nullopt, 1))) == kNothing);
  CHECK(StateOf(n.sm) == "h1 r0 propose locked -1/nil valid -1/nil");
  // f+1: round 3, where this node is the proposer.
  CHECK(Describe(n.sm.OnVote(Prevote(1, 3, Block("A"), 2))) ==
        Lines{"Propose h1 r3 pol-1 new", "Timeout propose h1 r3 4500ms"});
  CHECK(StateOf(n.sm) == "h1 r3 propose locked -1/nil valid -1/nil");
  // Rounds at or below the current one never move it.
  CHECK(Describe(n.Votes({Prevote(1, 1, std::nullopt, 1), Prevote(1, 1, std::nullopt, 2), Prevote(1, 1, std::nullopt, 3)})) ==
        kNothing);
  CHECK(n.sm.round() == 3);
}

TEST_CASE("consensus: line 55 counts a proposal towards f+1") {
  Four n;
  // Round 2's proposer (validator 3) and validator 1 in round 2; validators 1 and 2 in round 1.
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 2, Block("A"), 3))) == kNothing);
  CHECK(Describe(n.sm.OnVote(Prevote(1, 1, std::nullopt, 2))) == kNothing);
  CHECK(n.sm.round() == 0);
  CHECK(Describe(n.sm.OnVote(Prevote(1, 2, Block("A"), 1))) == Lines{"Timeout propose h1 r2 4000ms"});
  CHECK(StateOf(n.sm) == "h1 r2 propose locked -1/nil valid -1/nil");
  CHECK(Describe(n.sm.OnBlock(Block("A"), true)) == Lines{"CastVote prevote h1 r2 A"});
}

TEST_CASE("consensus: line 55 with weighted powers") {
  // Total 6: f+1 is more than 2. Rotation 3,0,1,3,2,3: validator 0 proposes at height 1 round
  // 0, validator 3 at round 2. This node is validator 1.
  Node n({1, 1, 1, 3}, 1u);
  REQUIRE(n.set.Proposer(1, 0) == 0);
  REQUIRE(n.set.Proposer(1, 2) == 3);
  REQUIRE(Describe(n.sm.StartHeight(1, true)) == Lines{"Timeout propose h1 r0 3000ms"});
  // Two light validators (power 2) are not enough; the heavy one alone (power 3) is.
  CHECK(Describe(n.Votes({Prevote(1, 1, std::nullopt, 0), Prevote(1, 1, std::nullopt, 2)})) == kNothing);
  CHECK(n.sm.round() == 0);
  CHECK(Describe(n.sm.OnVote(Prevote(1, 2, std::nullopt, 3))) == Lines{"Timeout propose h1 r2 4000ms"});
  CHECK(StateOf(n.sm) == "h1 r2 propose locked -1/nil valid -1/nil");
}

// ======================================================================================
// Equivocation
// ======================================================================================

TEST_CASE("consensus: two different votes of one validator in one round are evidence") {
  Four n;
  CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("A"), 2))) == kNothing);
  CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("A"), 2))) == kNothing);  // the same vote again
  Vote resigned = Prevote(1, 0, Block("A"), 2);
  resigned.timestamp_ms = 77;
  resigned.signature = "another signature";
  CHECK(Describe(n.sm.OnVote(resigned)) == kNothing);  // the same choice re-signed

  Actions acts = n.sm.OnVote(Prevote(1, 0, Block("B"), 2));
  CHECK(Describe(acts) == Lines{"Evidence v2 prevote h1 r0 A/B"});
  REQUIRE(CountOf<action::Evidence>(acts) == 1);
  action::Evidence e = Find<action::Evidence>(acts)[0];
  CHECK(e.first.validator == 2);
  CHECK(e.first.block == Block("A"));
  CHECK(e.first.signature == "sig-2-A");
  CHECK(e.second.validator == 2);
  CHECK(e.second.block == Block("B"));
  CHECK(e.second.signature == "sig-2-B");
  CHECK(e.first.kind == VoteKind::kPrevote);
  CHECK(e.second.kind == VoteKind::kPrevote);

  // Once per validator, round and kind.
  CHECK(Describe(n.sm.OnVote(Prevote(1, 0, std::nullopt, 2))) == kNothing);
  CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("C"), 2))) == kNothing);
  CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("B"), 2))) == kNothing);
  // Another kind or round is another case; so is another validator.
  CHECK(Describe(n.Votes({Precommit(1, 0, Block("A"), 2), Precommit(1, 0, Block("B"), 2)})) ==
        Lines{"Evidence v2 precommit h1 r0 A/B"});
  CHECK(Describe(n.Votes({Prevote(1, 1, Block("A"), 2), Prevote(1, 1, std::nullopt, 2)})) ==
        Lines{"Evidence v2 prevote h1 r1 A/nil"});
  CHECK(Describe(n.Votes({Prevote(1, 0, std::nullopt, 3), Prevote(1, 0, Block("A"), 3)})) ==
        Lines{"Evidence v3 prevote h1 r0 nil/A"});
  // The equivocator counted once towards the round's power: 2 validators, no prevote timeout.
  CHECK(StateOf(n.sm) == "h1 r0 propose locked -1/nil valid -1/nil");
}

TEST_CASE("consensus: an equivocator's second vote counts for the round's proposal block") {
  SECTION("prevotes: the polka that includes it locks") {
    Four n;
    n.PrevoteProposal(Block("A"));
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, std::nullopt, 3))) == kNothing);
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("A"), 3))) == Lines{"Evidence v3 prevote h1 r0 nil/A"});
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("A"), 3))) == kNothing);  // counted once however often
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("A"), 1))) == kNothing);
    CHECK(StateOf(n.sm) == "h1 r0 prevote locked -1/nil valid -1/nil");
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("A"), 2))) ==
          Lines{"Timeout prevote h1 r0 1000ms", "CastVote precommit h1 r0 A"});
    CHECK(StateOf(n.sm) == "h1 r0 precommit locked 0/A valid 0/A");
  }
  SECTION("precommits: the decision includes its vote for the block") {
    Four n;
    n.PrevoteProposal(Block("A"));
    CHECK(Describe(n.sm.OnVote(Precommit(1, 0, std::nullopt, 3))) == kNothing);
    CHECK(Describe(n.sm.OnVote(Precommit(1, 0, Block("A"), 3))) == Lines{"Evidence v3 precommit h1 r0 nil/A"});
    CHECK(Describe(n.sm.OnVote(Precommit(1, 0, Block("A"), 1))) == kNothing);
    Actions acts = n.sm.OnVote(Precommit(1, 0, Block("A"), 2));
    CHECK(Describe(acts) == Lines{"Decide h1 r0 A by 1,2,3"});
    REQUIRE(CountOf<action::Decide>(acts) == 1);
    const action::Decide decided = Find<action::Decide>(acts)[0];
    for (const Vote& v : decided.precommits) CHECK(v.block == Block("A"));
  }
  SECTION("precommits: the decision is sorted by validator with a low-index equivocator") {
    Four n;
    n.PrevoteProposal(Block("A"));
    CHECK(Describe(n.Votes({Precommit(1, 0, std::nullopt, 1), Precommit(1, 0, Block("A"), 3)})) == kNothing);
    CHECK(Describe(n.sm.OnVote(Precommit(1, 0, Block("A"), 1, 11))) == Lines{"Evidence v1 precommit h1 r0 nil/A"});
    Actions acts = n.sm.OnVote(Precommit(1, 0, Block("A"), 2));
    CHECK(Describe(acts) == Lines{"Decide h1 r0 A by 1,2,3"});
    REQUIRE(CountOf<action::Decide>(acts) == 1);
    CHECK(Find<action::Decide>(acts)[0].precommits[0].timestamp_ms == 11);
  }
  SECTION("nil: the second vote counts for nil") {
    Four n;
    n.PrevoteProposal(Block("A"));
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("B"), 3))) == kNothing);
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, std::nullopt, 3))) == Lines{"Evidence v3 prevote h1 r0 B/nil"});
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, std::nullopt, 1))) == kNothing);
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, std::nullopt, 2))) ==
          Lines{"Timeout prevote h1 r0 1000ms", "CastVote precommit h1 r0 nil"});
  }
}

TEST_CASE("consensus: an equivocator's second vote counts for its block whatever arrives later") {
  SECTION("a block other than the round's proposal") {
    Four n;
    n.PrevoteProposal(Block("A"));
    CHECK(Describe(n.sm.OnBlock(Block("C"), true)) == kNothing);
    CHECK(Describe(n.sm.OnVote(Precommit(1, 0, std::nullopt, 3))) == kNothing);
    CHECK(Describe(n.sm.OnVote(Precommit(1, 0, Block("C"), 3))) == Lines{"Evidence v3 precommit h1 r0 nil/C"});
    CHECK(Describe(n.sm.OnVote(Precommit(1, 0, Block("C"), 1))) == kNothing);
    CHECK(Describe(n.sm.OnVote(Precommit(1, 0, Block("C"), 2))) == Lines{"Decide h1 r0 C by 1,2,3"});
  }
  SECTION("prevotes that arrive before the proposal: the polka is seen, the block locked") {
    Four n;
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, std::nullopt, 3))) == kNothing);
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("A"), 3))) == Lines{"Evidence v3 prevote h1 r0 nil/A"});
    CHECK(Describe(n.sm.OnBlock(Block("A"), true)) == kNothing);
    CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 0, Block("A"), 1))) == Lines{"CastVote prevote h1 r0 A"});
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("A"), 1))) == kNothing);
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("A"), 2))) ==
          Lines{"Timeout prevote h1 r0 1000ms", "CastVote precommit h1 r0 A"});
    CHECK(StateOf(n.sm) == "h1 r0 precommit locked 0/A valid 0/A");
  }
  SECTION("at most kExtraVotesPerValidator other votes are kept") {
    Four n;
    n.PrevoteProposal(Block("A"));
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, std::nullopt, 3))) == kNothing);
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("B"), 3))) == Lines{"Evidence v3 prevote h1 r0 nil/B"});
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("C"), 3))) == kNothing);
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("D"), 3))) == kNothing);
    size_t kept = 0;
    for (const Vote& v : n.sm.Votes()) kept += v.validator == 3 ? 1 : 0;
    CHECK(kept == 1 + StateMachine::kExtraVotesPerValidator);
  }
}

// ======================================================================================
// OnCommit: a certificate learned whole
// ======================================================================================

std::vector<Vote> Certificate(uint32_t round, const Hash256& block, std::vector<uint32_t> validators) {
  std::vector<Vote> out;
  for (uint32_t v : validators) out.push_back(Precommit(1, round, block, v, 1000 + v));
  return out;
}

TEST_CASE("consensus: OnCommit decides once the block is valid") {
  SECTION("unknown block: requested first") {
    Four n;
    std::vector<Vote> cert = Certificate(2, Block("A"), {0, 1, 3});
    CHECK(Describe(n.sm.OnCommit(2, Block("A"), cert)) == Lines{"RequestBlock h1 r2 A"});
    CHECK_FALSE(n.sm.decided());
    CHECK(Describe(n.sm.OnVote(Prevote(1, 0, std::nullopt, 1))) == kNothing);  // not requested again
    CHECK(Describe(n.sm.OnCommit(2, Block("A"), cert)) == kNothing);
    Actions acts = n.sm.OnBlock(Block("A"), true);
    CHECK(Describe(acts) == Lines{"Decide h1 r2 A by 0,1,3"});
    REQUIRE(CountOf<action::Decide>(acts) == 1);
    action::Decide d = Find<action::Decide>(acts)[0];
    REQUIRE(d.precommits.size() == 3);
    CHECK(d.precommits[2].timestamp_ms == 1003);
    CHECK(StateOf(n.sm) == "h1 r0 propose locked -1/nil valid -1/nil decided");
    CHECK(Describe(n.sm.OnBlock(Block("A"), true)) == kNothing);
  }
  SECTION("known valid block: at once") {
    Four n;
    CHECK(Describe(n.sm.OnBlock(Block("A"), true)) == kNothing);
    CHECK(Describe(n.sm.OnCommit(0, Block("A"), Certificate(0, Block("A"), {0, 1, 2, 3}))) ==
          Lines{"Decide h1 r0 A by 0,1,2,3"});
    CHECK(n.sm.decided());
  }
  SECTION("invalid block: no decision") {
    Four n;
    CHECK(Describe(n.sm.OnCommit(0, Block("A"), Certificate(0, Block("A"), {1, 2, 3}))) ==
          Lines{"RequestBlock h1 r0 A"});
    CHECK(Describe(n.sm.OnBlock(Block("A"), false)) == kNothing);
    CHECK_FALSE(n.sm.decided());
  }
  SECTION("weighted: one heavy validator is a quorum") {
    Node n({1, 1, 5}, 0u);
    REQUIRE(Describe(n.sm.StartHeight(1, true)).size() == 1);
    REQUIRE(Describe(n.sm.OnBlock(Block("A"), true)) == kNothing);
    CHECK(Describe(n.sm.OnCommit(0, Block("A"), Certificate(0, Block("A"), {2}))) == Lines{"Decide h1 r0 A by 2"});
  }
}

TEST_CASE("consensus: OnCommit ignores certificates that are too weak or do not match") {
  Four n;
  REQUIRE(Describe(n.sm.OnBlock(Block("A"), true)) == kNothing);
  REQUIRE(Describe(n.sm.OnBlock(Block("B"), true)) == kNothing);
  // Too little power.
  CHECK(Describe(n.sm.OnCommit(0, Block("A"), Certificate(0, Block("A"), {1, 2}))) == kNothing);
  CHECK(Describe(n.sm.OnCommit(0, Block("A"), {})) == kNothing);
  // Duplicate validators.
  CHECK(Describe(n.sm.OnCommit(0, Block("A"), Certificate(0, Block("A"), {1, 2, 2}))) == kNothing);
  // Wrong round.
  CHECK(Describe(n.sm.OnCommit(1, Block("A"), Certificate(0, Block("A"), {1, 2, 3}))) == kNothing);
  std::vector<Vote> mixed_rounds = Certificate(0, Block("A"), {1, 2, 3});
  mixed_rounds[1].round = 1;
  CHECK(Describe(n.sm.OnCommit(0, Block("A"), mixed_rounds)) == kNothing);
  // Wrong block, or one vote for another block or nil.
  CHECK(Describe(n.sm.OnCommit(0, Block("A"), Certificate(0, Block("B"), {1, 2, 3}))) == kNothing);
  std::vector<Vote> one_nil = Certificate(0, Block("A"), {1, 2, 3, 0});
  one_nil[3].block.reset();
  CHECK(Describe(n.sm.OnCommit(0, Block("A"), one_nil)) == kNothing);
  // Wrong height.
  std::vector<Vote> height2 = Certificate(0, Block("A"), {1, 2, 3});
  for (Vote& v : height2) v.height = 2;
  CHECK(Describe(n.sm.OnCommit(0, Block("A"), height2)) == kNothing);
  // Prevotes are not precommits.
  std::vector<Vote> prevotes = Certificate(0, Block("A"), {1, 2, 3});
  for (Vote& v : prevotes) v.kind = VoteKind::kPrevote;
  CHECK(Describe(n.sm.OnCommit(0, Block("A"), prevotes)) == kNothing);
  // An unknown validator.
  CHECK(Describe(n.sm.OnCommit(0, Block("A"), Certificate(0, Block("A"), {1, 2, 4}))) == kNothing);
  CHECK_FALSE(n.sm.decided());
  CHECK(StateOf(n.sm) == "h1 r0 propose locked -1/nil valid -1/nil");
  // None of them spoilt a good one.
  CHECK(Describe(n.sm.OnCommit(0, Block("A"), Certificate(0, Block("A"), {1, 2, 3}))) ==
        Lines{"Decide h1 r0 A by 1,2,3"});
}

// ======================================================================================
// The next height, future rounds
// ======================================================================================

TEST_CASE("consensus: messages of the next height are buffered and replayed") {
  Four n;
  // Height 2: proposer (2 + 0) mod 4 = 2.
  CHECK(Describe(n.sm.OnProposal(MakeProposal(2, 0, Block("D"), 2))) == kNothing);
  CHECK(Describe(n.Votes({Prevote(2, 0, Block("D"), 1), Prevote(2, 0, Block("D"), 2), Prevote(2, 0, Block("D"), 3)})) ==
        kNothing);
  // Other heights are dropped.
  CHECK(Describe(n.sm.OnProposal(MakeProposal(3, 0, Block("E"), 3))) == kNothing);
  CHECK(Describe(n.Votes({Prevote(3, 0, Block("E"), 1), Prevote(3, 0, Block("E"), 2), Prevote(3, 0, Block("E"), 3),
                          Prevote(0, 0, Block("E"), 1)})) == kNothing);
  // Nothing of it is in the current height.
  CHECK(n.sm.Proposals().empty());
  CHECK(n.sm.Votes().empty());
  CHECK(StateOf(n.sm) == "h1 r0 propose locked -1/nil valid -1/nil");

  CHECK(Describe(n.sm.StartHeight(2, true)) == Lines{"Timeout propose h2 r0 3000ms"});
  REQUIRE(n.sm.Proposals().size() == 1);
  CHECK(n.sm.Proposals()[0].block == Block("D"));
  CHECK(n.sm.Votes().size() == 3);
  CHECK(Describe(n.sm.OnBlock(Block("D"), true)) ==
        Lines{"CastVote prevote h2 r0 D", "Timeout prevote h2 r0 1000ms", "CastVote precommit h2 r0 D"});
  CHECK(StateOf(n.sm) == "h2 r0 precommit locked 0/D valid 0/D");

  // The height 3 messages were dropped, not kept.
  CHECK(Describe(n.sm.StartHeight(3, true)) == Lines{"Timeout propose h3 r0 3000ms"});
  CHECK(n.sm.Proposals().empty());
  CHECK(n.sm.Votes().empty());
}

TEST_CASE("consensus: replayed next-height messages activate an idle height and can decide it") {
  Four n;
  CHECK(Describe(n.Votes({Precommit(2, 0, Block("D"), 1), Precommit(2, 0, Block("D"), 2), Precommit(2, 0, Block("D"), 3)})) ==
        kNothing);
  CHECK(Describe(n.sm.StartHeight(2, false)) ==
        Lines{"Timeout propose h2 r0 3000ms", "RequestBlock h2 r0 D", "Timeout precommit h2 r0 1000ms"});
  CHECK(n.sm.active());
  CHECK(Describe(n.sm.OnBlock(Block("D"), true)) == Lines{"Decide h2 r0 D by 1,2,3"});
}

TEST_CASE("consensus: the next-height buffer is bounded per validator") {
  const size_t bound = 2 * (StateMachine::kFutureRoundsPerValidator + 2);
  REQUIRE(bound == 8);
  for (size_t fillers : {bound - 1, bound, 3 * bound}) {
    DYNAMIC_SECTION("validator 1 sends " << fillers << " other messages first") {
      Four n;
      // Validator 1: `fillers` prevotes for height 2, round 0, each for another block; then its
      // precommit for D. Validators 2 and 3 precommit D.
      for (size_t i = 0; i < fillers; ++i) {
        REQUIRE(Describe(n.sm.OnVote(Prevote(2, 0, Block("Y" + std::to_string(i)), 1))) == kNothing);
      }
      REQUIRE(Describe(n.Votes({Precommit(2, 0, Block("D"), 1), Precommit(2, 0, Block("D"), 2),
                                Precommit(2, 0, Block("D"), 3)})) == kNothing);
      Actions started = n.sm.StartHeight(2, true);
      CHECK(CountOf<action::Evidence>(started) == 1);
      if (fillers < bound) {
        // All 8 kept: validator 1's precommit completes the quorum.
        CHECK(Describe(started) == Lines{"Timeout propose h2 r0 3000ms", "Evidence v1 prevote h2 r0 Y0/Y1",
                                         "RequestBlock h2 r0 D", "Timeout precommit h2 r0 1000ms"});
        CHECK(Describe(n.sm.OnBlock(Block("D"), true)) == Lines{"Decide h2 r0 D by 1,2,3"});
      } else {
        // Validator 1's 9th message was dropped; the others' were kept.
        CHECK(Describe(started) == Lines{"Timeout propose h2 r0 3000ms", "Evidence v1 prevote h2 r0 Y0/Y1"});
        CHECK(Describe(n.sm.OnBlock(Block("D"), true)) == kNothing);
        CHECK(Describe(n.sm.OnVote(Precommit(2, 0, Block("D"), 1))) == Lines{"Decide h2 r0 D by 1,2,3"});
      }
    }
  }
}

TEST_CASE("consensus: the next-height buffer starts empty again each height") {
  Four n;
  for (uint32_t r = 0; r < 8; ++r) REQUIRE(Describe(n.sm.OnVote(Prevote(2, r % 2, Block("Y" + std::to_string(r)), 1))) == kNothing);
  REQUIRE(Describe(n.sm.StartHeight(2, true)).size() == 3);  // timeout, evidence for rounds 0 and 1
  // Validator 1's budget for height 3 is fresh.
  REQUIRE(Describe(n.Votes({Precommit(3, 0, Block("D"), 1), Precommit(3, 0, Block("D"), 2),
                            Precommit(3, 0, Block("D"), 3)})) == kNothing);
  CHECK(Describe(n.sm.StartHeight(3, true)) ==
        Lines{"Timeout propose h3 r0 3000ms", "RequestBlock h3 r0 D", "Timeout precommit h3 r0 1000ms"});
}

TEST_CASE("consensus: one validator opens at most kFutureRoundsPerValidator future rounds") {
  REQUIRE(StateMachine::kFutureRoundsPerValidator == 2);
  Four n;
  // Round 1 (round + 1) is always open and uses none of the budget.
  CHECK(Describe(n.sm.OnVote(Prevote(1, 1, std::nullopt, 1))) == kNothing);
  // Rounds 2 and 3 are opened; 4 and 5 are not.
  for (uint32_t r = 2; r <= 5; ++r) CHECK(Describe(n.sm.OnVote(Prevote(1, r, std::nullopt, 1))) == kNothing);
  // More messages in its opened rounds are kept.
  CHECK(Describe(n.sm.OnVote(Precommit(1, 3, std::nullopt, 1))) == kNothing);
  std::vector<uint32_t> rounds;
  for (const Vote& v : n.sm.Votes()) rounds.push_back(v.round);
  std::sort(rounds.begin(), rounds.end());
  CHECK(rounds == std::vector<uint32_t>{1, 2, 3, 3});
  // Validator 2 in round 5: had validator 1's round 5 prevote been kept, f+1 would be there.
  CHECK(Describe(n.sm.OnVote(Prevote(1, 5, std::nullopt, 2))) == kNothing);
  CHECK(n.sm.round() == 0);
  // Validator 2 in round 3 joins validator 1 there.
  CHECK(Describe(n.sm.OnVote(Prevote(1, 3, std::nullopt, 2))) ==
        Lines{"Propose h1 r3 pol-1 new", "Timeout propose h1 r3 4500ms"});
  CHECK(StateOf(n.sm) == "h1 r3 propose locked -1/nil valid -1/nil");
}

TEST_CASE("consensus: a future-round proposal uses its proposer's budget") {
  Four n;
  // Validator 3 proposes in round 2 (its round) and votes in rounds 6 and 7: round 7 is dropped.
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 2, Block("A"), 3))) == kNothing);
  CHECK(Describe(n.sm.OnVote(Prevote(1, 6, std::nullopt, 3))) == kNothing);
  CHECK(Describe(n.sm.OnVote(Prevote(1, 7, std::nullopt, 3))) == kNothing);
  CHECK(n.sm.Proposals().size() == 1);
  CHECK(n.sm.Votes().size() == 1);
}

// ======================================================================================
// Observers and a single validator
// ======================================================================================

TEST_CASE("consensus: an observer never votes or proposes but decides") {
  Node n(4, std::nullopt);
  Actions all = n.sm.StartHeight(1, true);
  CHECK(Describe(all) == Lines{"Timeout propose h1 r0 3000ms"});
  // Rounds 0..3 time out: every validator index is the proposer once, the observer never.
  for (uint32_t r = 0; r < 4; ++r) {
    CHECK(Describe(n.sm.OnTimeout(Step::kPropose, 1, r)) == kNothing);
    CHECK(n.sm.step() == Step::kPrevote);
    CHECK(Describe(n.sm.OnTimeout(Step::kPrevote, 1, r)) == kNothing);
    CHECK(n.sm.step() == Step::kPrecommit);
    Actions next = n.sm.OnTimeout(Step::kPrecommit, 1, r);
    CHECK(Describe(next) == Lines{"Timeout propose h1 r" + std::to_string(r + 1) + " " +
                                  std::to_string(3000 + 500 * (r + 1)) + "ms"});
  }
  CHECK(n.sm.round() == 4);
  // Round 4 (proposer 1): the proposal, a polka, a decision.
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 4, Block("A"), 1))) == kNothing);
  CHECK(Describe(n.sm.OnBlock(Block("A"), true)) == kNothing);
  CHECK(StateOf(n.sm) == "h1 r4 prevote locked -1/nil valid -1/nil");
  CHECK(Describe(n.Votes({Prevote(1, 4, Block("A"), 0), Prevote(1, 4, Block("A"), 1), Prevote(1, 4, Block("A"), 2)})) ==
        Lines{"Timeout prevote h1 r4 3000ms"});
  CHECK(StateOf(n.sm) == "h1 r4 precommit locked 4/A valid 4/A");
  CHECK(Describe(n.Votes({Precommit(1, 4, Block("A"), 3), Precommit(1, 4, Block("A"), 0),
                          Precommit(1, 4, Block("A"), 2)})) == Lines{"Decide h1 r4 A by 0,2,3"});
  CHECK(n.sm.decided());
  // Nor at the next heights, where others propose.
  for (uint64_t h = 2; h < 6; ++h) CHECK(Describe(n.sm.StartHeight(h, true)) == Lines{"Timeout propose h" + std::to_string(h) + " r0 3000ms"});
}

TEST_CASE("consensus: a single validator decides with its own votes") {
  Node n(1, 0u);
  CHECK(Describe(n.sm.StartHeight(1, true)) == Lines{"Propose h1 r0 pol-1 new", "Timeout propose h1 r0 3000ms"});
  // The driver builds A, signs the proposal and hands both back.
  CHECK(Describe(n.sm.OnProposal(MakeProposal(1, 0, Block("A"), 0))) == kNothing);
  CHECK(Describe(n.sm.OnBlock(Block("A"), true)) == Lines{"CastVote prevote h1 r0 A"});
  CHECK(Describe(n.sm.OnVote(Prevote(1, 0, Block("A"), 0))) ==
        Lines{"Timeout prevote h1 r0 1000ms", "CastVote precommit h1 r0 A"});
  CHECK(StateOf(n.sm) == "h1 r0 precommit locked 0/A valid 0/A");
  Actions acts = n.sm.OnVote(Precommit(1, 0, Block("A"), 0, 5000));
  CHECK(Describe(acts) == Lines{"Decide h1 r0 A by 0"});
  REQUIRE(CountOf<action::Decide>(acts) == 1);
  CHECK(Find<action::Decide>(acts)[0].precommits[0].timestamp_ms == 5000);
  CHECK(StateOf(n.sm) == "h1 r0 precommit locked 0/A valid 0/A decided");
  // The next height: it proposes again, idle until activated.
  CHECK(Describe(n.sm.StartHeight(2, false)) == kNothing);
  CHECK(Describe(n.sm.Activate()) == Lines{"Propose h2 r0 pol-1 new", "Timeout propose h2 r0 3000ms"});
  CHECK(StateOf(n.sm) == "h2 r0 propose locked -1/nil valid -1/nil");
}

}  // namespace
}  // namespace kontor::consensus
