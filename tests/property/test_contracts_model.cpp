// Compute contracts against a model: random sequences of top-ups, settlements, usage reports,
// notices and closes on 1..3 negotiated contracts (renter alice, provider dave, broker bob if
// any), in blocks at random times. After every block each contract, every USDC and KTR balance
// and the supply identity must equal what a model kept here predicts, and every rejected tx must
// have been predicted with its code.
//
// The model is written from the rules (contracts/escrow.h, the payload comments in
// proto/kontor/v1/tx.proto), in plain integers, not with the code under test:
//   accrued(t) = floor(units * price_per_unit_hour * (min(t, end, termination) - start) / 3_600_000)
//   a payment comes out of escrow first-in first-out; the broker holds floor(all paid * bps / 10_000)
//   a top-up joins its depositor's deposit wherever it is, else opens one at the end; a key that
//   is no party opens one only with at least 1/64 of the escrow (and while fewer than 61 exist)
//   txs see their block's time; a top-up adds to escrow before settling; settling that cannot
//   be covered pays what escrow holds and closes the contract (insufficient funds, at block time)
//   at the end of a block the ledger closes contracts whose notice ran out (at the termination
//   time), whose term ended (at the end) or whose escrow ran dry (at the block time)
//   the renter's close after such a moment closes at that moment, for that reason
//   a close refunds each deposit left to its depositor
//   a rejected tx changes nothing (no fee, no nonce); each included one pays 10 KTR to the validator.
// Block 1 forms the contracts and may already top them up, notice or close them.
// What this and test_invoices_model.cpp share (the block driver, the comparisons of contracts,
// escrow, balances and supply, the common txs and rules) is in tests/property/model_support.h.
// The model, the plan and the run are in tests/property/contracts_model.h (also driven by the
// fuzz target tests/fuzz/fuzz_market.cpp); the generators of plans are here.
#include <rapidcheck/catch.h>

#include "tests/property/contracts_model.h"

using namespace kontor;
using namespace kontor::test::model;
using namespace kontor::test::contracts_model;

// In the plan types' own namespace, where rapidcheck looks for showValue.
namespace kontor::test::contracts_model {
namespace {

void showValue(const ContractPlan& c, std::ostream& os) {
  os << "{units " << c.units << ", price " << c.price << ", deposit " << c.deposit << ", start "
     << (c.explicit_start ? "+" + std::to_string(c.start_offset) : std::string("block")) << ", duration " << c.duration
     << ", notice " << c.notice_period << ", broker " << (c.has_broker ? std::to_string(c.bps) + " bps" : "none")
     << ", metered " << c.metered << " (" << c.cpu_price << ", " << c.egress_price << ")}";
}
void showValue(const StepPlan& s, std::ostream& os) {
  static const char* names[] = {"advance", "topup", "settle", "usage", "notice", "close by renter", "close by provider"};
  os << "{" << names[static_cast<int>(s.op)] << ", contract " << s.contract << ", depositor " << s.depositor << ", amount "
     << s.amount << ", advance " << s.advance_ms << ", usage " << s.usage << " (+" << s.cpu_more << ", +" << s.egress_more
     << "), stale " << s.stale << "}";
}
void showValue(const RunPlan& p, std::ostream& os) { ShowRunPlan(p, os); }

// Amount (model_support.h) gives a number in [low, high), or now and then one of a few round
// values: round prices (1 per ms and the like) with round deposits and times hit the boundaries,
// escrow used up exactly or short by one.
rc::Gen<uint64_t> Advance() { return Amount(0, 5'001, {0, 1, 500, 1'000, 2'000, 2'500, 5'000}); }

rc::Gen<ContractPlan> GenContractPlan() {
  using rc::gen::set;
  return rc::gen::build<ContractPlan>(
      set(&ContractPlan::units, rc::gen::inRange<uint64_t>(1, 5)),
      set(&ContractPlan::price,
          rc::gen::oneOf(rc::gen::inRange<uint64_t>(1, 1'000), rc::gen::inRange<uint64_t>(1'000, 50'000'001),
                         rc::gen::element<uint64_t>(3'600'000, 1'800'000, 7'200'000, 3'599'999, 3'600'001))),
      set(&ContractPlan::deposit, Amount(1, 200'001, {1, 1'000, 2'000, 3'000, 5'000, 10'000})),
      set(&ContractPlan::explicit_start, rc::gen::arbitrary<bool>()),
      set(&ContractPlan::start_offset, Amount(0, 3'001, {0, 1, 1'000, 2'000})),
      set(&ContractPlan::duration,
          rc::gen::oneOf(rc::gen::just<uint64_t>(0), Amount(1, 30'001, {1, 1'000, 2'000, 5'000, 10'000}))),
      set(&ContractPlan::notice_period, Amount(0, 10'001, {0, 1, 1'000, 2'000, 5'000})),
      set(&ContractPlan::has_broker, rc::gen::arbitrary<bool>()),
      set(&ContractPlan::bps, rc::gen::oneOf(rc::gen::inRange<uint32_t>(0, 10'001), rc::gen::element<uint32_t>(0, 1, 5'000, 10'000))),
      set(&ContractPlan::metered, rc::gen::element(0, 0, 1, 2, 3)),
      set(&ContractPlan::cpu_price, rc::gen::inRange<uint64_t>(1, 1'001)),
      set(&ContractPlan::egress_price, rc::gen::inRange<uint64_t>(1, 1'001)));
}

// close_weight: how eager the renter is to close in this run (0: contracts run out or dry).
rc::Gen<StepPlan> GenStepPlan(size_t close_weight) {
  using rc::gen::set;
  return rc::gen::build<StepPlan>(
      set(&StepPlan::op, rc::gen::weightedElement<Op>({{5, Op::kAdvance},
                                                       {3, Op::kTopup},
                                                       {2, Op::kSettle},
                                                       {2, Op::kUsage},
                                                       {1, Op::kNotice},
                                                       {close_weight, Op::kCloseRenter},
                                                       {1, Op::kCloseProvider}})),
      set(&StepPlan::contract, rc::gen::inRange<size_t>(0, 3)),
      set(&StepPlan::depositor, rc::gen::element(0, 0, 1, 1, 2, 3)),
      set(&StepPlan::amount, Amount(1, 300'001, {1, 1'000, 2'000, 5'000})),
      set(&StepPlan::advance_ms, Advance()),
      set(&StepPlan::usage, rc::gen::inRange(1, 4)),
      set(&StepPlan::cpu_more, rc::gen::inRange<uint64_t>(0, 201)),
      set(&StepPlan::egress_more, rc::gen::inRange<uint64_t>(0, 201)),
      set(&StepPlan::stale, rc::gen::map(rc::gen::inRange(0, 8), [](int x) { return x == 0; })));
}

rc::Gen<RunPlan> GenRunPlan() {
  using rc::gen::set;
  return rc::gen::build<RunPlan>(
      set(&RunPlan::first_advance_ms, Advance()),
      set(&RunPlan::contracts, rc::gen::mapcat(rc::gen::inRange(1, 4), [](int n) {
            return rc::gen::container<std::vector<ContractPlan>>(static_cast<size_t>(n), GenContractPlan());
          })),
      set(&RunPlan::steps, rc::gen::mapcat(rc::gen::tuple(rc::gen::inRange(5, 41), rc::gen::inRange<size_t>(0, 3)),
                                           [](const std::tuple<int, size_t>& t) {
                                             return rc::gen::container<std::vector<StepPlan>>(
                                                 static_cast<size_t>(std::get<0>(t)), GenStepPlan(std::get<1>(t)));
                                           })));
}

}  // namespace
}  // namespace kontor::test::contracts_model

TEST_CASE("Contracts: random top-ups, settlements, usage, notices and closes against a model", "[contracts][property]") {
  rc::prop("contracts, balances and supply follow the model after every block",
           [] { RunAgainstModel(*GenRunPlan()); });
}
