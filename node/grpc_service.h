// The kontor.v1.Node gRPC service over a Node, plus server start-up (reflection and the
// standard health service enabled, message sizes set explicitly).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <string_view>

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

// Runs one unary method ("GetStatus", "SubmitTx", ...) of the service on raw request bytes as
// the server does once they have arrived: the request codec (proto/grpc_codec.h), then the
// handler; *response gets the reply's bytes when the status is OK. For the fuzz target
// tests/fuzz/fuzz_grpc_requests.cpp. The streaming methods are not covered.
grpc::Status CallUnary(Node& node, std::string_view method, std::string_view request, std::string* response);

class GrpcServer {
 public:
  explicit GrpcServer(Node& node);
  ~GrpcServer();
  // Binds `listen` (host:port; port 0 = any free port). *bound_port gets the real port.
  Result Start(const std::string& listen, uint64_t message_bytes_max, int* bound_port);
  void Shutdown();

 private:
  friend grpc::Status CallUnary(Node&, std::string_view, std::string_view, std::string*);
  class Service;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace kontor::node
