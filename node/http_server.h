// The node's HTTP port: GET /metrics (Prometheus text format) and GET /healthz.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "ledger/result.h"
#include "node/node.h"

namespace httplib {
class Server;
}

namespace kontor::node {

class HttpServer {
 public:
  explicit HttpServer(Node& node);
  ~HttpServer();
  // Binds host:port (port 0 = any free port); *bound_port gets the real port.
  Result Start(const std::string& listen, int* bound_port);
  void Stop();

 private:
  Node& node_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace kontor::node
