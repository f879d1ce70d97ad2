// kontor-bench --node: end-to-end throughput and latency against a running kontord.
#pragma once

#include <cstddef>
#include <string>

namespace kontor::bench {

struct EndToEndOptions {
  std::string node;          // host:port; empty = from <home>/kontord.json
  std::string home;          // dev node home: its test keyring's "alice" funds the senders
  size_t txs = 40000;        // transfers in the saturation phase (a few seconds: short runs are noisy here)
  size_t senders = 100;      // fresh accounts sending them
  size_t latency_txs = 2000; // transfers in the paced latency phase
  double latency_rate = 0;   // tx/s for the latency phase; 0 = a quarter of the measured throughput
  size_t batch = 500;        // txs per SubmitTxBatch call
  size_t streams = 2;        // saturation phase: concurrent submitting clients, senders split among them
  size_t threads = 0;        // for the ceiling and for signing
};

int RunEndToEnd(const EndToEndOptions& options);

}  // namespace kontor::bench
