#include "node/http_server.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <chrono>

namespace kontor::node {

namespace {
constexpr size_t kHttpWorkers = 32;
}  // namespace

nlohmann::json HealthReport(const Node::Status& s, const std::string& chain_id, bool stopping, uint64_t block_age_max_ms,
                            uint64_t now_ms, int* http_status) {
  // The chain has not advanced for too long: the producer is stuck (heartbeats make a block at
  // least every heartbeat_interval_ms). At height 0 there is no block yet to be late.
  const uint64_t age_ms = now_ms > s.time_ms ? now_ms - s.time_ms : 0;
  const bool stalled = s.height > 0 && age_ms > block_age_max_ms;
  const char* status = stopping ? "stopping" : s.commit_failure ? "cannot_commit" : stalled ? "stalled" : "ok";
  nlohmann::json body = {{"status", status}, {"chain_id", chain_id}, {"height", s.height}, {"hash", s.hash.hex()},
                         {"block_age_ms", age_ms}};
  if (s.commit_failure) {
    body["reason"] = s.commit_failure->ToString();
    body["failed_attempts"] = s.commit_failures;
  } else if (stalled) {
    body["reason"] = "no block for " + std::to_string(age_ms) + " ms (api.healthz_block_age_max_ms: " +
                     std::to_string(block_age_max_ms) + ")";
  } else if (stopping) {
    body["reason"] = "the node is shutting down";
  }
  *http_status = std::string_view(status) == "ok" ? 200 : 503;
  return body;
}

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
    const uint64_t now_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                      std::chrono::system_clock::now().time_since_epoch()).count());
    int http_status = 200;
    nlohmann::json body = HealthReport(node_.GetStatus(), node_.genesis().chain_id, node_.stopping(),
                                       node_.config().HealthzBlockAgeMaxMs(), now_ms, &http_status);
    res.status = http_status;
    res.set_content(body.dump() + "\n", "application/json");
  });
  // Other methods on these paths are 405 with the one allowed method named, not 404.
  for (const char* path : {"/metrics", "/healthz"}) {
    auto not_allowed = [](const httplib::Request&, httplib::Response& res) {
      res.status = 405;
      res.set_header("Allow", "GET");
      res.set_content("{\"error\":\"method not allowed; use GET\"}\n", "application/json");
    };
    server_->Post(path, not_allowed);
    server_->Put(path, not_allowed);
    server_->Delete(path, not_allowed);
    server_->Patch(path, not_allowed);
    server_->Options(path, not_allowed);
  }
  server_->set_payload_max_length(64 * 1024);
  // A connection holds a worker only while it sends: idle or slow clients are cut after a second
  // without data, keep-alive ends after a second, and there are enough workers that a few held
  // connections cannot take them all (an operator exposing the port puts a proxy in front).
  server_->set_read_timeout(1, 0);
  server_->set_write_timeout(5, 0);
  server_->set_keep_alive_timeout(1);
  server_->set_keep_alive_max_count(16);
  server_->new_task_queue = [] { return new httplib::ThreadPool(kHttpWorkers); };
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
