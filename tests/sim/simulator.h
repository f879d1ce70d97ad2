// A deterministic simulator for node/consensus: N validators run the real StateMachine against
// a simulated clock and a simulated network that delays, drops, duplicates and reorders
// messages and makes partitions, all drawn from one seed. One validator may be Byzantine.
//
// Checked on every run: no two honest validators finalise different blocks at one height (so
// every honest chain is a prefix of the others); progress resumes once the network heals (all
// honest validators reach the target height before the time limit); BFT time strictly
// increases along the chain; no honest validator signs two different votes for one height,
// round and kind; an equivocating validator is recorded as evidence by an honest one.
//
// A run is a pure function of its Options: a failing seed replays exactly (Report::replay).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kontor::sim {

enum class Fault {
  kNone,
  kEquivocate,     // votes for its choice to half the validators and for another to the rest
  kInvalidBlocks,  // proposes blocks that fail validation
  kBadTime,        // proposes blocks whose time is not the BFT time of their parent commit
  kSilent,         // sends nothing at all
};

const char* FaultName(Fault f);
bool ParseFault(const std::string& name, Fault* out);

struct Options {
  uint64_t seed = 1;
  size_t validators = 4;
  Fault fault = Fault::kNone;  // the Byzantine validator is chosen by the seed
  uint64_t target_height = 12;
  bool partitions = true;         // partitions (and a lossier network) before heal_ms
  uint64_t heal_ms = 40'000;      // after this, no new partition starts and loss is low
  uint64_t limit_ms = 600'000;    // simulated time by which every honest node must reach target
};

struct Report {
  bool ok = false;
  std::string failure;        // what broke, when !ok
  std::string replay;         // the kontor-sim command that replays this run
  uint64_t simulated_ms = 0;  // when the last honest node reached the target
  uint64_t messages = 0;      // delivered
  uint64_t dropped = 0;
  uint64_t max_round = 0;     // the highest round any honest validator entered
  size_t evidence = 0;        // evidence records held by honest validators
  uint64_t trace = 0;         // a hash of every decision, for determinism checks
  std::vector<uint64_t> heights;  // each validator's final height
};

Report Run(const Options& options);

}  // namespace kontor::sim
