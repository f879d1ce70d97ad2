// The compute market against the property tests' model (tests/property/contracts_model.h):
// the input is decoded into a run plan (1..3 negotiated contracts, then top-ups, settlements,
// usage reports, notices, closes and block advances), which runs against a TestEnv ledger and
// the model. Property: after every block every contract, balance and the supply identity equal
// the model's prediction, and every rejected tx was predicted with its code (RC_FAIL otherwise,
// turned into a crash here). Same ranges as the rapidcheck generators, so libFuzzer explores
// the same space by coverage instead of at random.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/fuzz/fuzz_support.h"
#include "tests/property/contracts_model.h"

using namespace kontor::test::contracts_model;

namespace {

// A number in [low, high), or one of `round` (the boundaries the generators favour).
uint64_t Pick(FuzzedDataProvider& in, uint64_t low, uint64_t high, std::initializer_list<uint64_t> round) {
  if (round.size() && in.ConsumeBool()) return *(round.begin() + in.ConsumeIntegralInRange<size_t>(0, round.size() - 1));
  return in.ConsumeIntegralInRange<uint64_t>(low, high - 1);
}

RunPlan PlanFrom(FuzzedDataProvider& in) {
  RunPlan plan;
  plan.first_advance_ms = Pick(in, 0, 5'001, {0, 1, 500, 1'000, 2'000, 2'500, 5'000});
  const int contracts = in.ConsumeIntegralInRange(1, 3);
  for (int i = 0; i < contracts; ++i) {
    ContractPlan c;
    c.units = in.ConsumeIntegralInRange<uint64_t>(1, 4);
    c.price = in.ConsumeBool() ? Pick(in, 1, 50'000'001, {1, 999, 3'600'000, 1'800'000, 7'200'000, 3'599'999, 3'600'001})
                               : in.ConsumeIntegralInRange<uint64_t>(1, 999);
    c.deposit = Pick(in, 1, 200'001, {1, 1'000, 2'000, 3'000, 5'000, 10'000});
    c.explicit_start = in.ConsumeBool();
    c.start_offset = Pick(in, 0, 3'001, {0, 1, 1'000, 2'000});
    c.duration = in.ConsumeBool() ? 0 : Pick(in, 1, 30'001, {1, 1'000, 2'000, 5'000, 10'000});
    c.notice_period = Pick(in, 0, 10'001, {0, 1, 1'000, 2'000, 5'000});
    c.has_broker = in.ConsumeBool();
    c.bps = static_cast<uint32_t>(Pick(in, 0, 10'001, {0, 1, 5'000, 10'000}));
    c.metered = in.ConsumeIntegralInRange(0, 3);
    c.cpu_price = in.ConsumeIntegralInRange<uint64_t>(1, 1'000);
    c.egress_price = in.ConsumeIntegralInRange<uint64_t>(1, 1'000);
    plan.contracts.push_back(c);
  }
  // Steps until the input runs out (at most 60: a run is a few dozen blocks at most).
  while (in.remaining_bytes() > 0 && plan.steps.size() < 60) {
    StepPlan s;
    s.op = static_cast<Op>(in.ConsumeIntegralInRange(0, 6));
    s.contract = in.ConsumeIntegralInRange<size_t>(0, 2);
    s.depositor = in.ConsumeIntegralInRange(0, 3);
    s.amount = Pick(in, 1, 300'001, {1, 1'000, 2'000, 5'000});
    s.advance_ms = Pick(in, 0, 5'001, {0, 1, 500, 1'000, 2'000, 2'500, 5'000});
    s.usage = in.ConsumeIntegralInRange(1, 3);
    s.cpu_more = in.ConsumeIntegralInRange<uint64_t>(0, 200);
    s.egress_more = in.ConsumeIntegralInRange<uint64_t>(0, 200);
    s.stale = in.ConsumeIntegralInRange(0, 7) == 0;
    plan.steps.push_back(s);
  }
  return plan;
}

}  // namespace

// Seeds: a few byte strings that decode into plans with each kind of step.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("KONTOR_FUZZ_WRITE_SEEDS");
  if (!dir) return 0;
  for (int n = 0; n < 6; ++n) {
    std::string bytes;
    for (int i = 0; i < 400; ++i) bytes.push_back(static_cast<char>((i * 37 + n * 101) & 0xff));
    std::ofstream(std::filesystem::path(dir) / ("plan-" + std::to_string(n))) << bytes;
  }
  std::exit(0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  RunPlan plan = PlanFrom(in);
  try {
    RunAgainstModel(plan);
  } catch (const rc::detail::CaseResult& result) {
    if (result.type == rc::detail::CaseResult::Type::Failure) {
      std::fprintf(stderr, "the ledger differs from the model:\n%s\n", result.description.c_str());
      std::abort();
    }
  }
  return 0;
}
