// Rule tests for running contracts (contracts/contracts.cpp, contracts/escrow.cpp): ContractTopup,
// ContractNotice, ContractClose, ContractSettle, UsageReport and the end-of-block agenda. Every
// rejection path with its own code, the wrong signer for each tx kind, and every time comparison
// (termination, end of term, escrow running dry) at the exact millisecond, one before and one
// after; count and size limits at the limit, one below and one above.
// Complements the scenarios of tests/unit/test_contracts.cpp.
//
// Amounts follow contracts/escrow.h: accrued(t) = floor(units * price * (min(t, end) - start) / 1 h).
// kPerMs (3_600_000 per unit-hour) accrues 1 per unit per ms; a price of 1 per unit-hour accrues
// nothing in the seconds these tests run, so metered charges can be read alone.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/support/rules.h"
#include "tests/support/scenario.h"
#include "tests/support/test_env.h"

using namespace kontor;
using namespace kontor::test::scenario;
using namespace kontor::test::rules;
using kontor::test::CloseResult;
using kontor::test::TestEnv;

namespace {

// Terms with broker bob (10 %) and arbiter carol: every role is taken, so "the wrong signer" can
// be each of the others.
v1::ContractTerms AllRoles(TestEnv& env, uint64_t price, uint64_t deposit) {
  v1::ContractTerms t = Terms(env, 1, price, deposit, 1'000, true);
  t.set_arbiter(env.Pub("carol").bytes());
  return t;
}

// Forms each of `terms` (alice and dave, and bob when brokered) in one block; returns the ids.
std::vector<std::string> FormTogether(TestEnv& env, const std::vector<v1::ContractTerms>& terms) {
  std::vector<std::string> ids;
  for (const auto& t : terms) {
    std::vector<std::string> signers = {"alice", "dave"};
    if (!t.broker().empty()) signers.push_back("bob");
    std::string tx = Propose(env, signers, t);
    ids.push_back(IdOf(tx));
    env.Submit(tx);
  }
  CloseResult closed = env.Close();
  REQUIRE(closed.rejected.empty());
  return ids;
}

v1::ContractTerms Fixed(TestEnv& env, uint64_t duration_ms, uint64_t notice_ms, uint64_t deposit = 1'000'000) {
  v1::ContractTerms t = Terms(env, 1, kPerMs, deposit);
  t.set_duration_ms(duration_ms);
  t.set_notice_period_ms(notice_ms);
  return t;
}

}  // namespace

// ============================================================================================
// Ids
// ============================================================================================

TEST_CASE("rules contract actions: a 32-byte id of an existing contract", "[rules][topup][notice][close][settle]") {
  TestEnv env;
  for (const std::string& bad : {ShortId(), LongId(), std::string()}) {
    ExpectRejected(env, Topup(env, "alice", bad, 1), Code::kBadField);
    ExpectRejected(env, Notice(env, "dave", bad), Code::kBadField);
    ExpectRejected(env, CloseContract(env, "alice", bad), Code::kBadField);
    ExpectRejected(env, Settle(env, "alice", bad), Code::kBadField);
  }
  ExpectRejected(env, Topup(env, "alice", NoSuchId(), 1), Code::kNotFound);
  ExpectRejected(env, Notice(env, "dave", NoSuchId()), Code::kNotFound);
  ExpectRejected(env, CloseContract(env, "alice", NoSuchId()), Code::kNotFound);
  ExpectRejected(env, Settle(env, "alice", NoSuchId()), Code::kNotFound);
  CHECK(env.Balance("alice", "USDC") == kFunding);
}

// ============================================================================================
// ContractTopup
// ============================================================================================

TEST_CASE("rules topup: anyone may top up and gets its own deposit back", "[rules][topup]") {
  TestEnv env;
  const std::string id = Form(env, AllRoles(env, 1, 10'000));
  ExpectOk(env, Topup(env, "dave", id, 300));   // the provider
  ExpectOk(env, Topup(env, "bob", id, 200));    // the broker
  ExpectOk(env, Topup(env, "carol", id, 200));  // the arbiter: no party, so at least 10'500 / 64
  v1::Contract c = ContractOf(env, id);
  REQUIRE(c.escrow_size() == 4);
  CHECK(c.escrow(1).depositor() == env.Pub("dave").bytes());
  CHECK(c.escrow(1).amount() == 300);
  CHECK(EscrowSum(c) == 10'700);
  ExpectOk(env, CloseContract(env, "alice", id));  // nothing accrued at 1 per unit-hour
  CHECK(env.Balance("dave", "USDC") == kFunding);
  CHECK(env.Balance("bob", "USDC") == kFunding);
  CHECK(env.Balance("carol", "USDC") == kFunding);
  CHECK(env.Balance("alice", "USDC") == kFunding);
}

TEST_CASE("rules topup: one entry per depositor and a top-up joins it wherever it is", "[rules][topup]") {
  TestEnv env;
  const std::string id = Form(env, Terms(env, 1, 1, 1'000));  // 1 per unit-hour: nothing is charged
  ExpectOk(env, Topup(env, "carol", id, 100));
  ExpectOk(env, Topup(env, "bob", id, 100));
  ExpectOk(env, Topup(env, "alice", id, 7));  // into the first entry, not a new last one
  ExpectOk(env, Topup(env, "carol", id, 1));  // carol's entry exists: no minimum
  v1::Contract c = ContractOf(env, id);
  REQUIRE(c.escrow_size() == 3);
  CHECK(c.escrow(0).depositor() == env.Pub("alice").bytes());
  CHECK(c.escrow(0).amount() == 1'007);
  CHECK(c.escrow(1).depositor() == env.Pub("carol").bytes());
  CHECK(c.escrow(1).amount() == 101);
  CHECK(c.escrow(2).depositor() == env.Pub("bob").bytes());
  CHECK(c.escrow(2).amount() == 100);
}

TEST_CASE("rules topup: a new depositor that is no party brings at least 1/64 of the escrow", "[rules][topup]") {
  TestEnv env;
  const std::string id = Form(env, Terms(env, 1, 1, 6'400));
  ExpectRejected(env, Topup(env, "carol", id, 99), Code::kBadAmount);  // 99 x 64 < 6'400
  ExpectRejected(env, Topup(env, "carol", id, 1), Code::kBadAmount);
  CHECK(env.Balance("carol", "USDC") == kFunding);
  ExpectOk(env, Topup(env, "carol", id, 100));  // 100 x 64 = 6'400: exactly the share
  // 6'500 in escrow now: bob needs ceil(6'500 / 64) = 102 (101 x 64 = 6'464 is short).
  ExpectRejected(env, Topup(env, "bob", id, 101), Code::kBadAmount);
  ExpectOk(env, Topup(env, "bob", id, 102));
  // The parties have no minimum: the provider opens an entry with 1.
  ExpectOk(env, Topup(env, "dave", id, 1));
  CHECK(ContractOf(env, id).escrow_size() == 4);
  CHECK(EscrowSum(ContractOf(env, id)) == 6'400 + 100 + 102 + 1);
}

TEST_CASE("rules topup: 61 entries for others and the parties always have a place", "[rules][topup]") {
  test::TestEnvOptions options;
  for (int i = 0; i < 63; ++i) options.accounts.push_back("k" + std::to_string(i));
  TestEnv env(options);
  // 1 per unit-hour, broker bob: nothing is charged, so no deposit is used up while the test runs.
  const std::string id = Form(env, Terms(env, 1, 1, 1, 0, true));
  // alice's entry and 60 others, each a new depositor with enough for its share.
  for (int i = 0; i < 60; ++i) env.Submit(Topup(env, "k" + std::to_string(i), id, 1'000));
  REQUIRE(env.Close().rejected.empty());
  REQUIRE(ContractOf(env, id).escrow_size() == 61);
  ExpectRejected(env, Topup(env, "k60", id, 1'000'000), Code::kTooLarge);
  ExpectRejected(env, Topup(env, "carol", id, 1'000'000), Code::kTooLarge);
  // Those already in may add to their entry.
  ExpectOk(env, Topup(env, "k0", id, 1));
  // The provider and the broker take the places kept for them; the renter's entry merges.
  ExpectOk(env, Topup(env, "dave", id, 1));
  ExpectOk(env, Topup(env, "bob", id, 1));
  ExpectOk(env, Topup(env, "alice", id, 1));
  v1::Contract c = ContractOf(env, id);
  CHECK(c.escrow_size() == 63);
  CHECK(c.escrow(0).amount() == 2);
  CHECK(c.escrow(1).amount() == 1'001);
  CHECK(c.escrow(61).depositor() == env.Pub("dave").bytes());
  CHECK(c.escrow(62).depositor() == env.Pub("bob").bytes());
  CHECK(EscrowSum(c) == 1 + 60 * 1'000 + 4);
}

// ============================================================================================
// ContractNotice
// ============================================================================================

TEST_CASE("rules notice: only the provider gives notice", "[rules][notice]") {
  TestEnv env;
  const std::string id = Form(env, AllRoles(env, kPerMs, 1'000'000));
  ExpectRejected(env, Notice(env, "alice", id), Code::kNotAuthorized);  // renter
  ExpectRejected(env, Notice(env, "bob", id), Code::kNotAuthorized);    // broker
  ExpectRejected(env, Notice(env, "carol", id), Code::kNotAuthorized);  // arbiter
  CHECK(ContractOf(env, id).state() == v1::CONTRACT_STATE_ACTIVE);
  CHECK(ContractOf(env, id).charged() == 0);
  ExpectOk(env, Notice(env, "dave", id));
  CHECK(ContractOf(env, id).state() == v1::CONTRACT_STATE_NOTICE);
  CHECK(ContractOf(env, id).termination_at_ms() == env.now_ms() + 5'000);
}

TEST_CASE("rules notice: block time + notice period fits 64 bits exactly", "[rules][notice]") {
  TestEnv env;
  const uint64_t t0 = env.now_ms() + 1'000;  // the block that forms both
  v1::ContractTerms over = Terms(env, 1, 1, 1'000'000);
  over.set_notice_period_ms(kMax - (t0 + 1'000) + 1);  // noticed in the block at t0 + 1 s
  v1::ContractTerms exact = Terms(env, 1, 1, 1'000'000);
  exact.set_notice_period_ms(kMax - (t0 + 2'000));  // noticed in the block at t0 + 2 s
  auto ids = FormTogether(env, {over, exact});
  REQUIRE(env.now_ms() == t0);
  ExpectRejected(env, Notice(env, "dave", ids[0]), Code::kOverflow);
  CHECK(ContractOf(env, ids[0]).state() == v1::CONTRACT_STATE_ACTIVE);
  ExpectOk(env, Notice(env, "dave", ids[1]));
  REQUIRE(env.now_ms() == t0 + 2'000);
  v1::Contract c = ContractOf(env, ids[1]);
  CHECK(c.state() == v1::CONTRACT_STATE_NOTICE);
  CHECK(c.termination_at_ms() == kMax);
}

TEST_CASE("rules notice: the ledger closes the contract exactly at its termination", "[rules][notice][agenda]") {
  TestEnv env;
  const std::string id = Form(env, Terms(env, 1, kPerMs, 1'000'000));  // notice period 5 s
  const uint64_t t0 = env.now_ms();
  ExpectOk(env, Notice(env, "dave", id));
  const uint64_t termination = t0 + 6'000;
  REQUIRE(ContractOf(env, id).termination_at_ms() == termination);
  env.Close(Until(env, termination - 1));
  CHECK(ContractOf(env, id).state() == v1::CONTRACT_STATE_NOTICE);
  env.Close(1);
  REQUIRE(env.now_ms() == termination);
  v1::Contract c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_PROVIDER_TERMINATED);
  CHECK(c.closed_at_ms() == termination);
  CHECK(c.charged() == 6'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 6'000);
  CHECK(env.Balance("alice", "USDC") == kFunding - 6'000);
  CHECK(ReputationOf(env, "dave").provider_terminated_early() == 1);
}

TEST_CASE("rules notice: a termination at or after the end of the term is an ordinary end", "[rules][notice][agenda]") {
  TestEnv env;
  // Three 10 s contracts formed at t0, noticed at t0 + 1 s to terminate 1 ms before, at, and 1 ms
  // after their end.
  auto ids = FormTogether(env, {Fixed(env, 10'000, 8'999), Fixed(env, 10'000, 9'000), Fixed(env, 10'000, 9'001)});
  const uint64_t t0 = env.now_ms();
  for (const auto& id : ids) env.Submit(Notice(env, "dave", id));
  REQUIRE(env.Close().rejected.empty());
  CHECK(ContractOf(env, ids[0]).termination_at_ms() == t0 + 9'999);
  CHECK(ContractOf(env, ids[1]).termination_at_ms() == t0 + 10'000);
  CHECK(ContractOf(env, ids[2]).termination_at_ms() == t0 + 10'001);

  env.Close(Until(env, t0 + 9'999));
  v1::Contract before = ContractOf(env, ids[0]);
  CHECK(before.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(before.close_reason() == v1::CLOSE_REASON_PROVIDER_TERMINATED);
  CHECK(before.closed_at_ms() == t0 + 9'999);
  CHECK(before.charged() == 9'999);
  CHECK(ContractOf(env, ids[1]).state() == v1::CONTRACT_STATE_NOTICE);
  CHECK(ContractOf(env, ids[2]).state() == v1::CONTRACT_STATE_NOTICE);

  env.Close(1);
  for (int i : {1, 2}) {
    v1::Contract c = ContractOf(env, ids[i]);
    CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
    CHECK(c.close_reason() == v1::CLOSE_REASON_ENDED);
    CHECK(c.closed_at_ms() == t0 + 10'000);
    CHECK(c.charged() == 10'000);
  }
  CHECK(ReputationOf(env, "dave").provider_terminated_early() == 1);
  CHECK(ReputationOf(env, "dave").provider_completed() == 2);
  CHECK(env.Balance("dave", "USDC") == kFunding + 29'999);
}

TEST_CASE("rules notice: a notice on a contract whose escrow ran dry closes it instead", "[rules][notice]") {
  TestEnv env;
  const std::string id = Form(env, Terms(env, 1, kPerMs, 5'000));
  const uint64_t t0 = env.now_ms();
  // No block between t0 and t0 + 8 s: the notice is the first to see the escrow run dry.
  ExpectOk(env, Notice(env, "dave", id), 8'000);
  v1::Contract c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
  CHECK(c.closed_at_ms() == t0 + 8'000);
  CHECK(c.termination_at_ms() == 0);
  CHECK(c.charged() == 5'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 5'000);
}

// ============================================================================================
// ContractClose
// ============================================================================================

TEST_CASE("rules close: only the renter closes at once", "[rules][close]") {
  TestEnv env;
  const std::string id = Form(env, AllRoles(env, kPerMs, 1'000'000));
  ExpectRejected(env, CloseContract(env, "bob", id), Code::kNotAuthorized);    // broker
  ExpectRejected(env, CloseContract(env, "carol", id), Code::kNotAuthorized);  // arbiter
  ExpectRejected(env, CloseContract(env, "dave", id), Code::kNotAuthorized);   // provider
  CHECK(ContractOf(env, id).state() == v1::CONTRACT_STATE_ACTIVE);
  ExpectOk(env, CloseContract(env, "alice", id));
  v1::Contract c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_RENTER_CLOSED);
  CHECK(ReputationOf(env, "alice").renter_closed_early() == 1);
}

TEST_CASE("rules close: the renter's close at the end of the term is the end", "[rules][close]") {
  TestEnv env;
  auto ids = FormTogether(env, {Fixed(env, 10'000, 5'000), Fixed(env, 10'000, 5'000)});
  const uint64_t t0 = env.now_ms();
  ExpectOk(env, CloseContract(env, "alice", ids[0]), Until(env, t0 + 9'999));
  ExpectOk(env, CloseContract(env, "alice", ids[1]), 1);
  v1::Contract early = ContractOf(env, ids[0]), at_end = ContractOf(env, ids[1]);
  CHECK(early.close_reason() == v1::CLOSE_REASON_RENTER_CLOSED);
  CHECK(early.closed_at_ms() == t0 + 9'999);
  CHECK(early.charged() == 9'999);
  CHECK(at_end.close_reason() == v1::CLOSE_REASON_ENDED);
  CHECK(at_end.closed_at_ms() == t0 + 10'000);
  CHECK(at_end.charged() == 10'000);
  CHECK(ReputationOf(env, "alice").renter_closed_early() == 1);
  CHECK(ReputationOf(env, "alice").renter_completed() == 1);
}

TEST_CASE("rules close: after notice a close at the termination is the provider's termination", "[rules][close][notice]") {
  TestEnv env;
  auto ids = FormTogether(env, {Terms(env, 1, kPerMs, 1'000'000), Terms(env, 1, kPerMs, 1'000'000)});
  const uint64_t t0 = env.now_ms();
  env.Submit(Notice(env, "dave", ids[0]));
  env.Submit(Notice(env, "dave", ids[1]));
  REQUIRE(env.Close().rejected.empty());
  const uint64_t termination = t0 + 6'000;
  ExpectOk(env, CloseContract(env, "alice", ids[0]), Until(env, termination - 1));
  ExpectOk(env, CloseContract(env, "alice", ids[1]), 1);
  v1::Contract early = ContractOf(env, ids[0]), at_term = ContractOf(env, ids[1]);
  CHECK(early.close_reason() == v1::CLOSE_REASON_RENTER_CLOSED);
  CHECK(early.closed_at_ms() == termination - 1);
  CHECK(early.charged() == 5'999);
  CHECK(at_term.close_reason() == v1::CLOSE_REASON_PROVIDER_TERMINATED);
  CHECK(at_term.closed_at_ms() == termination);
  CHECK(at_term.charged() == 6'000);
  CHECK(ReputationOf(env, "dave").provider_terminated_early() == 1);
  CHECK(ReputationOf(env, "alice").renter_closed_early() == 1);
}

// ============================================================================================
// ContractSettle and the agenda
// ============================================================================================

TEST_CASE("rules settle: escrow that covers exactly what accrued keeps the contract, 1 ms more closes it",
          "[rules][settle][agenda]") {
  TestEnv env;
  const std::string id = Form(env, Terms(env, 1, kPerMs, 5'000));
  const uint64_t t0 = env.now_ms();
  ExpectOk(env, Settle(env, "bob", id), Until(env, t0 + 5'000));  // anyone settles
  v1::Contract c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_ACTIVE);
  CHECK(c.charged() == 5'000);
  CHECK(EscrowSum(c) == 0);
  CHECK(OnAgenda(env, id));
  env.Close(1);
  c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
  CHECK(c.closed_at_ms() == t0 + 5'001);
  CHECK(env.Balance("dave", "USDC") == kFunding + 5'000);
  CHECK(env.Balance("bob", "USDC") == kFunding);
}

TEST_CASE("rules agenda: a fixed term ends in the block at exactly end_ms", "[rules][agenda]") {
  TestEnv env;
  const std::string id = Form(env, Fixed(env, 10'000, 5'000));
  const uint64_t t0 = env.now_ms();
  env.Close(Until(env, t0 + 9'999));
  CHECK(ContractOf(env, id).state() == v1::CONTRACT_STATE_ACTIVE);
  CHECK(ContractOf(env, id).charged() == 0);
  env.Close(1);
  v1::Contract c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_ENDED);
  CHECK(c.closed_at_ms() == t0 + 10'000);
  CHECK(c.charged() == 10'000);
  CHECK(c.refunded() == 990'000);
  CHECK_FALSE(OnAgenda(env, id));
  CHECK(ReputationOf(env, "dave").provider_completed() == 1);
  CHECK(ReputationOf(env, "alice").renter_completed() == 1);
}

// ============================================================================================
// UsageReport
// ============================================================================================

TEST_CASE("rules usage: only the provider reports usage", "[rules][usage]") {
  TestEnv env;
  v1::ContractTerms t = AllRoles(env, 1, 1'000'000);
  AddMetered(&t, "egress_gb", 10);
  const std::string id = Form(env, t);
  ExpectRejected(env, Report(env, "alice", id, {{"egress_gb", 5}}, ""), Code::kNotAuthorized);  // renter
  ExpectRejected(env, Report(env, "bob", id, {{"egress_gb", 5}}, ""), Code::kNotAuthorized);    // broker
  ExpectRejected(env, Report(env, "carol", id, {{"egress_gb", 5}}, ""), Code::kNotAuthorized);  // arbiter
  v1::Contract c = ContractOf(env, id);
  CHECK(c.usage_size() == 0);
  CHECK(c.last_usage_report().empty());
  CHECK(c.metered_charged() == 0);

  std::string report = Report(env, "dave", id, {{"egress_gb", 5}}, "");
  ExpectOk(env, report);
  c = ContractOf(env, id);
  REQUIRE(c.usage_size() == 1);
  CHECK(c.usage(0).quantity() == 5);
  CHECK(c.last_usage_report() == IdOf(report));
  // Streamed: 5 x 10 = 50 paid from escrow at once, the broker's 10 % split off.
  CHECK(c.metered_charged() == 50);
  CHECK(c.paid_broker() == 5);
  CHECK(c.paid_provider() == 45);
  CHECK(EscrowSum(c) == 1'000'000 - 50);
  CHECK(env.Balance("dave", "USDC") == kFunding + 45);
  CHECK(env.Balance("bob", "USDC") == kFunding + 5);
}

TEST_CASE("rules usage: shapes of ids and quantities", "[rules][usage]") {
  TestEnv env;
  v1::ContractTerms t = Terms(env, 1, 1, 1'000'000);
  for (int i = 0; i < 8; ++i) AddMetered(&t, "m" + std::to_string(i), 1);
  const std::string id = Form(env, t);
  auto eight = [] {
    std::vector<std::pair<std::string, uint64_t>> q;
    for (int i = 0; i < 8; ++i) q.push_back({"m" + std::to_string(i), 1});
    return q;
  };
  auto nine = eight();
  nine.push_back({"m9", 1});
  ExpectRejected(env, Report(env, "dave", ShortId(), {{"m0", 1}}, ""), Code::kBadField);
  ExpectRejected(env, Report(env, "dave", LongId(), {{"m0", 1}}, ""), Code::kBadField);
  ExpectRejected(env, Report(env, "dave", id, {{"m0", 1}}, ShortId()), Code::kBadField);
  ExpectRejected(env, Report(env, "dave", id, {{"m0", 1}}, LongId()), Code::kBadField);
  ExpectRejected(env, Report(env, "dave", id, {}, ""), Code::kBadField);
  ExpectRejected(env, Report(env, "dave", id, nine, ""), Code::kBadField);
  ExpectRejected(env, Report(env, "dave", id, {{"M0", 1}}, ""), Code::kBadField);
  ExpectRejected(env, Report(env, "dave", id, {{std::string(33, 'm'), 1}}, ""), Code::kBadField);
  ExpectRejected(env, Report(env, "dave", id, {{"m1", 1}, {"m0", 1}}, ""), Code::kBadField);
  ExpectRejected(env, Report(env, "dave", id, {{"m0", 1}, {"m0", 2}}, ""), Code::kBadField);
  ExpectRejected(env, Report(env, "dave", NoSuchId(), {{"m0", 1}}, ""), Code::kNotFound);
  CHECK(ContractOf(env, id).usage_size() == 0);
  ExpectOk(env, Report(env, "dave", id, eight(), ""));
  v1::Contract c = ContractOf(env, id);
  CHECK(c.usage_size() == 8);
  CHECK(c.metered_charged() == 8);
}

TEST_CASE("rules usage: each report names the one before it", "[rules][usage]") {
  TestEnv env;
  v1::ContractTerms t = Terms(env, 1, 1, 1'000'000);
  AddMetered(&t, "egress_gb", 10);
  AddMetered(&t, "storage_gb", 1);
  const std::string id = Form(env, t);
  ExpectRejected(env, Report(env, "dave", id, {{"egress_gb", 5}}, NoSuchId()), Code::kMismatch);  // there is none yet
  std::string first = Report(env, "dave", id, {{"egress_gb", 5}, {"storage_gb", 3}}, "");
  ExpectOk(env, first);
  ExpectRejected(env, Report(env, "dave", id, {{"egress_gb", 6}}, ""), Code::kMismatch);
  ExpectRejected(env, Report(env, "dave", id, {{"egress_gb", 6}}, NoSuchId()), Code::kMismatch);
  CHECK(ContractOf(env, id).usage(0).quantity() == 5);
  // Names the first: fine. Only egress moves; storage keeps its last value.
  std::string second = Report(env, "dave", id, {{"egress_gb", 6}}, IdOf(first));
  ExpectOk(env, second);
  v1::Contract c = ContractOf(env, id);
  CHECK(c.last_usage_report() == IdOf(second));
  REQUIRE(c.usage_size() == 2);
  CHECK(c.usage(0).quantity() == 6);
  CHECK(c.usage(1).quantity() == 3);
  CHECK(c.metered_charged() == 50 + 3 + 10);
  // The first is no longer the last.
  ExpectRejected(env, Report(env, "dave", id, {{"egress_gb", 7}}, IdOf(first)), Code::kMismatch);
}

TEST_CASE("rules usage: quantities are metered names and never go down", "[rules][usage]") {
  TestEnv env;
  v1::ContractTerms t = Terms(env, 1, 1, 1'000'000);
  AddMetered(&t, "egress_gb", 10);
  const std::string id = Form(env, t);
  ExpectRejected(env, Report(env, "dave", id, {{"ingress_gb", 1}}, ""), Code::kMismatch);
  std::string first = Report(env, "dave", id, {{"egress_gb", 5}}, "");
  ExpectOk(env, first);
  ExpectRejected(env, Report(env, "dave", id, {{"egress_gb", 4}}, IdOf(first)), Code::kMismatch);
  // The same quantity again is no new usage: nothing is charged.
  std::string same = Report(env, "dave", id, {{"egress_gb", 5}}, IdOf(first));
  ExpectOk(env, same);
  CHECK(ContractOf(env, id).metered_charged() == 50);
  CHECK(ContractOf(env, id).last_usage_report() == IdOf(same));
  ExpectOk(env, Report(env, "dave", id, {{"egress_gb", 6}}, IdOf(same)));
  CHECK(ContractOf(env, id).metered_charged() == 60);
  CHECK(env.Balance("dave", "USDC") == kFunding + 60);
}

TEST_CASE("rules usage: the charge of a report fits 64 bits exactly", "[rules][usage]") {
  TestEnv env;
  // Invoiced: the charge is billed later, so only the 64-bit rule is in play here.
  v1::ContractTerms t = Invoiced(env, 1, 1'000'000);
  AddMetered(&t, "a_units", 1);
  AddMetered(&t, "b_units", 2);
  auto ids = FormTogether(env, {t, t});
  // One name: 2 x 2^63 = 2^64 overflows; 2 x (2^63 - 1) = 2^64 - 2 fits.
  ExpectRejected(env, Report(env, "dave", ids[0], {{"b_units", kMax / 2 + 1}}, ""), Code::kOverflow);
  ExpectOk(env, Report(env, "dave", ids[0], {{"b_units", kMax / 2}}, ""));
  CHECK(ContractOf(env, ids[0]).usage(0).quantity() == kMax / 2);
  // Two names add up: 2^64 - 1 + 2 overflows; 2^64 - 1 alone fits.
  ExpectRejected(env, Report(env, "dave", ids[1], {{"a_units", kMax}, {"b_units", 1}}, ""), Code::kOverflow);
  ExpectOk(env, Report(env, "dave", ids[1], {{"a_units", kMax}}, ""));
  CHECK(ContractOf(env, ids[1]).usage(0).quantity() == kMax);
  CHECK(ContractOf(env, ids[1]).state() == v1::CONTRACT_STATE_ACTIVE);
}

TEST_CASE("rules usage: a streamed charge of exactly the free escrow is paid, 1 more closes the contract",
          "[rules][usage]") {
  TestEnv env;
  v1::ContractTerms t = Terms(env, 1, 1, 10'000);
  AddMetered(&t, "egress_gb", 100);
  auto ids = FormTogether(env, {t, t});
  const uint64_t t0 = env.now_ms();
  env.Submit(Report(env, "dave", ids[0], {{"egress_gb", 100}}, ""));  // 10_000: all of the escrow
  env.Submit(Report(env, "dave", ids[1], {{"egress_gb", 101}}, ""));  // 10_100: 100 more than it
  REQUIRE(env.Close().rejected.empty());
  v1::Contract exact = ContractOf(env, ids[0]), over = ContractOf(env, ids[1]);
  CHECK(exact.state() == v1::CONTRACT_STATE_ACTIVE);
  CHECK(exact.metered_charged() == 10'000);
  CHECK(EscrowSum(exact) == 0);
  CHECK(over.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(over.close_reason() == v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
  CHECK(over.closed_at_ms() == t0 + 1'000);
  CHECK(over.metered_charged() == 10'000);
  CHECK(over.refunded() == 0);
  CHECK(env.Balance("dave", "USDC") == kFunding + 20'000);
  CHECK(ReputationOf(env, "alice").renter_insufficient_funds() == 1);
  // Nothing more is reported on a closed contract.
  ExpectRejected(env, Report(env, "dave", ids[1], {{"egress_gb", 102}}, over.last_usage_report()), Code::kWrongState);
}
