// The consensus simulator's short form for CI: hundreds of seeds with N = 4 and N = 7 over a
// lossy, partitioned network, and f = 1 Byzantine validator of each kind. A failure prints the
// seed and the kontor-sim command that replays it exactly. The long form (thousands of seeds)
// is in docs/reliability.md.
#include <catch2/catch.hpp>

#include "tests/sim/simulator.h"

namespace {

using kontor::sim::Fault;
using kontor::sim::Options;
using kontor::sim::Report;

// Runs `count` seeds from `first`; every failure is reported with its replay command.
void RunSeeds(Options o, uint64_t first, uint64_t count) {
  uint64_t evidence = 0;
  for (uint64_t s = first; s < first + count; ++s) {
    o.seed = s;
    Report r = kontor::sim::Run(o);
    INFO("seed " << s << ": " << r.failure << "\nreplay: " << r.replay);
    REQUIRE(r.ok);
    evidence += r.evidence;
  }
  if (o.fault == Fault::kNone) CHECK(evidence == 0);
}

}  // namespace

TEST_CASE("simulator: 4 validators, 1000 seeds, lossy network with partitions", "[sim]") {
  Options o;
  o.validators = 4;
  RunSeeds(o, 1, 1000);
}

TEST_CASE("simulator: 7 validators, 500 seeds, lossy network with partitions", "[sim]") {
  Options o;
  o.validators = 7;
  RunSeeds(o, 1, 500);
}

TEST_CASE("simulator: 1 validator is the same protocol with n = 1", "[sim]") {
  Options o;
  o.validators = 1;
  o.partitions = false;
  RunSeeds(o, 1, 20);
}

// f = 1 Byzantine validator of 4 (300 seeds) and of 7 (150 seeds), of each kind: safety and
// progress hold; an equivocator is recorded as evidence (checked by Run).
static void RunFault(Fault fault) {
  Options o;
  o.fault = fault;
  RunSeeds(o, 1, 300);
  o.validators = 7;
  RunSeeds(o, 1, 150);
}

TEST_CASE("simulator: f = 1 equivocates (4 and 7 validators)", "[sim]") { RunFault(Fault::kEquivocate); }
TEST_CASE("simulator: f = 1 proposes invalid blocks (4 and 7 validators)", "[sim]") { RunFault(Fault::kInvalidBlocks); }
TEST_CASE("simulator: f = 1 proposes blocks with a bad timestamp (4 and 7 validators)", "[sim]") {
  RunFault(Fault::kBadTime);
}
TEST_CASE("simulator: f = 1 stays silent (4 and 7 validators)", "[sim]") { RunFault(Fault::kSilent); }

TEST_CASE("simulator: a seed replays exactly", "[sim]") {
  for (Fault f : {Fault::kNone, Fault::kEquivocate}) {
    Options o;
    o.seed = 42;
    o.fault = f;
    Report a = kontor::sim::Run(o), b = kontor::sim::Run(o);
    REQUIRE(a.ok);
    CHECK(a.trace == b.trace);
    CHECK(a.messages == b.messages);
    CHECK(a.simulated_ms == b.simulated_ms);
    o.seed = 43;
    CHECK(kontor::sim::Run(o).trace != a.trace);
  }
}
