// kontor-sim: runs the consensus simulator (tests/sim/simulator.h) over a range of seeds and
// prints every failing seed with the command that replays it. The short form runs in CI
// (tests/sim/test_simulator.cpp); the long form is documented in docs/reliability.md.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "tests/sim/simulator.h"

int main(int argc, char** argv) {
  CLI::App app{"Deterministic consensus simulator: N validators running node/consensus over a simulated,\n"
               "lossy, partitioned network. Each seed is one run; a failing seed replays exactly."};
  uint64_t seed = 1, seeds = 1;
  size_t validators = 4;
  std::string fault = "none";
  uint64_t target = 12;
  bool no_partitions = false, verbose = false;
  app.add_option("--seed", seed, "first seed")->capture_default_str();
  app.add_option("--seeds", seeds, "how many seeds, from --seed on")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--validators", validators, "validators (equal power)")->capture_default_str()->check(CLI::Range(1, 100));
  app.add_option("--fault", fault, "the Byzantine validator's fault: none, equivocate, invalid-blocks, bad-time, silent")
      ->capture_default_str();
  app.add_option("--target-height", target, "height every honest validator must reach")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_flag("--no-partitions", no_partitions, "a network without partitions and with little loss");
  app.add_flag("-v,--verbose", verbose, "a line per seed");
  CLI11_PARSE(app, argc, argv);

  kontor::sim::Options options;
  if (!kontor::sim::ParseFault(fault, &options.fault)) {
    std::fprintf(stderr, "error: unknown --fault '%s' (none, equivocate, invalid-blocks, bad-time, silent)\n", fault.c_str());
    return 2;
  }
  options.validators = validators;
  options.target_height = target;
  options.partitions = !no_partitions;
  uint64_t failed = 0, messages = 0, max_round = 0;
  const auto started = std::chrono::steady_clock::now();
  for (uint64_t s = seed; s < seed + seeds; ++s) {
    options.seed = s;
    kontor::sim::Report r = kontor::sim::Run(options);
    messages += r.messages;
    max_round = std::max(max_round, r.max_round);
    if (!r.ok) {
      ++failed;
      std::printf("FAIL seed %llu: %s\n  replay: %s\n", static_cast<unsigned long long>(s), r.failure.c_str(),
                  r.replay.c_str());
    } else if (verbose) {
      std::printf("ok   seed %llu: %llu ms simulated, %llu messages, max round %llu, evidence %zu\n",
                  static_cast<unsigned long long>(s), static_cast<unsigned long long>(r.simulated_ms),
                  static_cast<unsigned long long>(r.messages), static_cast<unsigned long long>(r.max_round), r.evidence);
    }
    if (seeds >= 100 && (s - seed + 1) % (seeds / 10) == 0) {
      std::fprintf(stderr, "%llu/%llu seeds, %llu failed\n", static_cast<unsigned long long>(s - seed + 1),
                   static_cast<unsigned long long>(seeds), static_cast<unsigned long long>(failed));
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("%llu seeds (validators %zu, fault %s): %llu failed; %llu messages; highest round %llu; %.1f s\n",
              static_cast<unsigned long long>(seeds), validators, fault.c_str(), static_cast<unsigned long long>(failed),
              static_cast<unsigned long long>(messages), static_cast<unsigned long long>(max_round), secs);
  return failed ? 1 : 0;
}
