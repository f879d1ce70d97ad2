// Prometheus metrics of a node (prefix kontor_), rendered as text on GET /metrics.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace kontor::node {

class Metrics {
  // Declared first: the metric references below are initialised from it.
  std::shared_ptr<prometheus::Registry> registry_;

 public:
  Metrics(const std::string& version, const std::string& chain_id);
  std::string Render() const;  // Prometheus text exposition format

  prometheus::Gauge& block_height;
  prometheus::Gauge& block_interval_seconds;  // between the last two blocks
  prometheus::Gauge& mempool_txs;
  prometheus::Gauge& mempool_bytes;
  prometheus::Gauge& peers;
  prometheus::Histogram& commit_latency_seconds;  // build + execute + commit of one block
  prometheus::Counter& commit_failures;           // failed attempts to build or commit a block
  // kontor_txs_total{result="committed"} and {result="<code name>"} for rejections.
  prometheus::Counter& TxResult(const std::string& result);

 private:
  prometheus::Family<prometheus::Counter>* txs_;
};

}  // namespace kontor::node
