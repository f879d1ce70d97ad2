// The node's HTTP port: GET /metrics (Prometheus text format) and GET /healthz.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "ledger/result.h"
#include "node/node.h"

namespace kontor::node {

class GatedServer;

// The /healthz body for a node's status at `now_ms`, and its HTTP status: 200 "ok", or 503 with
// "stopping", "cannot_commit" (blocks fail to commit; `reason` says why) or "stalled" (no block
// for more than block_age_max_ms).
nlohmann::json HealthReport(const Node::Status& status, const std::string& chain_id, bool stopping, uint64_t block_age_max_ms,
                            uint64_t now_ms, int* http_status);

class HttpServer {
 public:
  explicit HttpServer(Node& node);
  ~HttpServer();
  // Binds host:port (port 0 = any free port); *bound_port gets the real port.
  Result Start(const std::string& listen, int* bound_port);
  void Stop();

 private:
  Node& node_;
  std::unique_ptr<GatedServer> server_;
  std::thread thread_;
};

}  // namespace kontor::node
