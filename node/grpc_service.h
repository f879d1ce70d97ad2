// The kontor.v1.Node gRPC service over a Node, plus server start-up (reflection and the
// standard health service enabled, message sizes set explicitly).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "kontor/v1/node.grpc.pb.h"
#include "ledger/limits.h"
#include "node/node.h"

namespace kontor::node {

// The largest request the server reads: one tx envelope and its framing.
inline constexpr uint64_t kRequestBytesMax = limits::kTxBytesMax + 4096;

// A ledger result as a gRPC status: code by category, message "name (n): text", and an
// ErrorDetail in the binary details.
grpc::Status ToStatus(const Result& result);
// Reads the ErrorDetail back from a status (for clients); false if it has none.
bool DetailOf(const grpc::Status& status, v1::ErrorDetail* detail);

class GrpcServer {
 public:
  explicit GrpcServer(Node& node);
  ~GrpcServer();
  // Binds `listen` (host:port; port 0 = any free port). *bound_port gets the real port.
  Result Start(const std::string& listen, uint64_t message_bytes_max, int* bound_port);
  void Shutdown();

 private:
  class Service;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace kontor::node
