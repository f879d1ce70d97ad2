#include "node/http_server.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

namespace kontor::node {

HttpServer::HttpServer(Node& node) : node_(node), server_(std::make_unique<httplib::Server>()) {}
HttpServer::~HttpServer() { Stop(); }

Result HttpServer::Start(const std::string& listen, int* bound_port) {
  auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  int port = std::atoi(listen.c_str() + colon + 1);
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(node_.metrics().Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    Node::Status s = node_.GetStatus();
    const char* status = node_.stopping() ? "stopping" : s.commit_failure ? "cannot_commit" : "ok";
    nlohmann::json body = {{"status", status},
                           {"chain_id", node_.genesis().chain_id},
                           {"height", s.height},
                           {"hash", s.hash.hex()}};
    if (s.commit_failure) {
      body["reason"] = s.commit_failure->ToString();
      body["failed_attempts"] = s.commit_failures;
    }
    res.status = std::string_view(status) == "ok" ? 200 : 503;
    res.set_content(body.dump() + "\n", "application/json");
  });
  server_->set_payload_max_length(64 * 1024);
  if (port == 0) {
    *bound_port = server_->bind_to_any_port(host);
  } else {
    *bound_port = server_->bind_to_port(host, port) ? port : -1;
  }
  if (*bound_port <= 0) return {Code::kUnavailable, "cannot listen for HTTP on " + listen + " (address in use?)"};
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Result::Ok();
}

void HttpServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace kontor::node
