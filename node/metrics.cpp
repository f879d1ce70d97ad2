#include "node/metrics.h"

#include <prometheus/text_serializer.h>

namespace kontor::node {

Metrics::Metrics(const std::string& version, const std::string& chain_id)
    : registry_(std::make_shared<prometheus::Registry>()),
      block_height(prometheus::BuildGauge().Name("kontor_block_height").Help("Height of the last committed block")
                       .Register(*registry_).Add({})),
      block_interval_seconds(prometheus::BuildGauge().Name("kontor_block_interval_seconds")
                                 .Help("Seconds between the last two blocks").Register(*registry_).Add({})),
      mempool_txs(prometheus::BuildGauge().Name("kontor_mempool_txs").Help("Transactions waiting in the mempool")
                      .Register(*registry_).Add({})),
      mempool_bytes(prometheus::BuildGauge().Name("kontor_mempool_bytes").Help("Bytes of transactions in the mempool")
                        .Register(*registry_).Add({})),
      peers(prometheus::BuildGauge().Name("kontor_peers").Help("Connected peers").Register(*registry_).Add({})),
      commit_latency_seconds(prometheus::BuildHistogram()
                                 .Name("kontor_commit_latency_seconds")
                                 .Help("Time to build, execute and commit one block")
                                 .Register(*registry_)
                                 .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                                                  0.1, 0.25, 0.5, 1, 2.5})),
      commit_failures(prometheus::BuildCounter()
                          .Name("kontor_commit_failures_total")
                          .Help("Failed attempts to build or commit a block (e.g. the disk is full); retried with back-off")
                          .Register(*registry_)
                          .Add({})) {
  txs_ = &prometheus::BuildCounter().Name("kontor_txs_total").Help("Transactions by result: committed, or the rejection code name")
              .Register(*registry_);
  prometheus::BuildGauge().Name("kontor_build_info").Help("Build and chain of this node (value 1)")
      .Register(*registry_).Add({{"version", version}, {"chain_id", chain_id}}).Set(1);
}

prometheus::Counter& Metrics::TxResult(const std::string& result) { return txs_->Add({{"result", result}}); }

std::string Metrics::Render() const { return prometheus::TextSerializer().Serialize(registry_->Collect()); }

}  // namespace kontor::node
