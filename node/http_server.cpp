#include "node/http_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

namespace kontor::node {

namespace {

// The port's limits. A connection costs a worker only while a request with complete headers is
// served: waiting for a request, and reading its headers, happens in one gate thread (epoll)
// that holds at most kGateConnectionsMax connections, so slow or idle clients cost the node a
// socket each, never a worker.
constexpr size_t kHttpWorkers = 8;
constexpr size_t kGateConnectionsMax = 256;       // beyond: the oldest waiting connection is cut
constexpr size_t kGateBufferMax = 16 * 1024;      // headers longer than this are read by the worker
using Clock = std::chrono::steady_clock;
constexpr auto kIdleTimeout = std::chrono::seconds(1);     // no byte of a (next) request: closed
constexpr auto kHeaderTimeout = std::chrono::seconds(2);   // first byte to end of headers
constexpr auto kSpillTimeout = std::chrono::seconds(1);    // rest of headers over kGateBufferMax
constexpr auto kRequestTimeout = std::chrono::seconds(5);  // body and answer of one request
constexpr int kReadWaitMaxMs = 1000;                       // one read on a worker
constexpr int kWriteWaitMs = 5000;                         // one write on a worker

struct Conn {
  int fd = -1;
  std::string buf;  // bytes read and not yet consumed by a request, from `pos`
  size_t pos = 0;
  Clock::time_point accepted, deadline;
  bool started = false;  // a byte of the current request has arrived
  size_t served = 0;     // requests answered on this connection
  ~Conn() {
    if (fd >= 0) {
      ::shutdown(fd, SHUT_RDWR);
      ::close(fd);
    }
  }
  std::string_view pending() const { return std::string_view(buf).substr(pos); }
  // The headers of the next request are all here (CRLF or bare LF line ends: httplib answers
  // the second with 400).
  bool HeadersComplete() const {
    std::string_view p = pending();
    return p.find("\r\n\r\n") != std::string_view::npos || p.find("\n\n") != std::string_view::npos;
  }
  void Compact() {
    buf.erase(0, pos);
    pos = 0;
  }
};

int MillisUntil(Clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
  return ms <= 0 ? 0 : static_cast<int>(std::min<int64_t>(ms, INT32_MAX));
}

bool WaitFor(int fd, short events, int ms) {
  pollfd p{fd, events, 0};
  int r;
  do {
    r = ::poll(&p, 1, ms);
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

void SockAddrText(const sockaddr_storage& a, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (a.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
    ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
    port = ntohs(v4->sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    port = ntohs(v6->sin6_port);
  }
  ip = text;
}

// One request's view of a connection for httplib: the gate's buffered bytes first, then the
// socket, every read bounded by the request's deadline.
class ConnStream final : public httplib::Stream {
 public:
  ConnStream(Conn& c, Clock::time_point deadline) : c_(c), deadline_(deadline) {}

  bool is_readable() const override {
    return c_.pos < c_.buf.size() || WaitFor(c_.fd, POLLIN, std::min(kReadWaitMaxMs, MillisUntil(deadline_)));
  }
  bool is_writable() const override { return WaitFor(c_.fd, POLLOUT, kWriteWaitMs); }

  ssize_t read(char* ptr, size_t size) override {
    if (c_.pos == c_.buf.size()) {
      c_.buf.clear();
      c_.pos = 0;
      if (Clock::now() >= deadline_ || !WaitFor(c_.fd, POLLIN, std::min(kReadWaitMaxMs, MillisUntil(deadline_)))) return -1;
      // Small reads (httplib reads header lines a byte at a time) go through the buffer; what
      // is read past this request stays there for the next one.
      char chunk[4096];
      ssize_t n = ::recv(c_.fd, chunk, sizeof chunk, MSG_DONTWAIT);
      if (n <= 0) return n;
      c_.buf.assign(chunk, static_cast<size_t>(n));
    }
    size_t n = std::min(size, c_.buf.size() - c_.pos);
    std::memcpy(ptr, c_.buf.data() + c_.pos, n);
    c_.pos += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!WaitFor(c_.fd, POLLOUT, kWriteWaitMs)) return -1;
    return ::send(c_.fd, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getpeername(c_.fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) SockAddrText(a, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getsockname(c_.fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) SockAddrText(a, ip, port);
  }
  socket_t socket() const override { return c_.fd; }

 private:
  Conn& c_;
  Clock::time_point deadline_;
};

// httplib's accept loop runs "tasks" inline: each accepted socket goes straight to the gate.
class InlineQueue final : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

}  // namespace

// httplib parses and routes; waiting for requests is ours (see kGateConnectionsMax above).
class GatedServer final : public httplib::Server {
 public:
  GatedServer() {
    new_task_queue = [] { return new InlineQueue(); };
  }
  ~GatedServer() override { StopGate(); }

  bool StartGate() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epoll_fd_ < 0 || wake_fd_ < 0) return false;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) return false;
    workers_ = std::make_unique<httplib::ThreadPool>(kHttpWorkers);
    gate_ = std::thread([this] { GateLoop(); });
    return true;
  }

  void StopGate() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      incoming_.clear();
    }
    Wake();
    if (gate_.joinable()) gate_.join();
    if (workers_) workers_->shutdown();  // serving requests end by their deadlines
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    epoll_fd_ = wake_fd_ = -1;
  }

 private:
  // Called on httplib's accept thread for each accepted socket.
  bool process_and_close_socket(socket_t sock) override {
    auto c = std::make_unique<Conn>();
    c->fd = sock;
    c->accepted = Clock::now();
    c->deadline = c->accepted + kIdleTimeout;
    return Hand(std::move(c));
  }

  // Gives a connection (new, or back from a worker) to the gate; false (and closed) when stopping.
  bool Hand(std::unique_ptr<Conn> c) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return false;
      incoming_.push_back(std::move(c));
    }
    Wake();
    return true;
  }

  void Wake() {
    uint64_t one = 1;
    if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
  }

  void GateLoop() {
    std::map<int, std::unique_ptr<Conn>> waiting;
    epoll_event events[64];
    for (;;) {
      int timeout_ms = 1000;
      for (const auto& [fd, c] : waiting) timeout_ms = std::min(timeout_ms, MillisUntil(c->deadline) + 1);
      int n = ::epoll_wait(epoll_fd_, events, 64, timeout_ms);
      if (n < 0 && errno != EINTR) break;
      std::vector<std::unique_ptr<Conn>> fresh;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) break;
        fresh.swap(incoming_);
      }
      for (auto& c : fresh) {
        if (waiting.size() >= kGateConnectionsMax) {
          auto oldest = std::min_element(waiting.begin(), waiting.end(), [](const auto& a, const auto& b) {
            return a.second->accepted < b.second->accepted;
          });
          waiting.erase(oldest);  // ~Conn closes; the epoll registration goes with the fd
        }
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.fd = c->fd;
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c->fd, &ev) != 0) continue;  // dropped: closed
        int fd = c->fd;
        const bool ready = c->HeadersComplete();  // pipelined bytes left by the last request
        waiting[fd] = std::move(c);
        if (ready) Dispatch(waiting, fd, kRequestTimeout);
      }
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == wake_fd_) {
          uint64_t v;
          (void)!::read(wake_fd_, &v, sizeof v);
          continue;
        }
        auto it = waiting.find(fd);
        if (it == waiting.end()) continue;
        Conn& c = *it->second;
        bool eof = false, failed = false;
        while (c.buf.size() < kGateBufferMax) {
          char chunk[4096];
          ssize_t got = ::recv(fd, chunk, std::min(sizeof chunk, kGateBufferMax - c.buf.size()), MSG_DONTWAIT);
          if (got > 0) {
            if (!c.started) {
              c.started = true;
              c.deadline = Clock::now() + kHeaderTimeout;
            }
            c.buf.append(chunk, static_cast<size_t>(got));
          } else if (got == 0) {
            eof = true;
            break;
          } else {
            if (errno == EINTR) continue;
            failed = errno != EAGAIN && errno != EWOULDBLOCK;
            break;
          }
        }
        if (failed) {
          waiting.erase(it);
        } else if (c.HeadersComplete()) {
          Dispatch(waiting, fd, kRequestTimeout);
        } else if (c.buf.size() >= kGateBufferMax) {
          Dispatch(waiting, fd, kSpillTimeout);
        } else if (eof) {
          if (c.pending().empty()) {
            waiting.erase(it);
          } else {
            Dispatch(waiting, fd, std::chrono::seconds(0));  // httplib answers what there is
          }
        }
      }
      // Deadlines: an idle connection is closed; a request still sending its headers is handed
      // to httplib with no time left to read, which answers 400.
      const auto now = Clock::now();
      std::vector<int> due;
      for (const auto& [fd, c] : waiting) {
        if (now >= c->deadline) due.push_back(fd);
      }
      for (int fd : due) {
        if (waiting[fd]->pending().empty()) {
          waiting.erase(fd);
        } else {
          Dispatch(waiting, fd, std::chrono::seconds(0));
        }
      }
    }
    waiting.clear();
  }

  void Dispatch(std::map<int, std::unique_ptr<Conn>>& waiting, int fd, Clock::duration budget) {
    auto it = waiting.find(fd);
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    Conn* c = it->second.release();
    waiting.erase(it);
    const auto deadline = Clock::now() + budget;
    workers_->enqueue([this, c, deadline] { Serve(std::unique_ptr<Conn>(c), deadline); });
  }

  // On a worker: answers requests while whole ones are buffered, then returns the connection
  // to the gate, or closes it.
  void Serve(std::unique_ptr<Conn> c, Clock::time_point deadline) {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
      }
      ConnStream strm(*c, deadline);
      const bool last = c->served + 1 >= keep_alive_max_count_;
      bool connection_closed = false;
      const bool ok = process_request(strm, last, connection_closed, nullptr);
      ++c->served;
      if (!ok || last || connection_closed) return;
      c->Compact();
      if (!c->HeadersComplete()) break;
      deadline = Clock::now() + kRequestTimeout;
    }
    c->started = !c->pending().empty();
    c->deadline = Clock::now() + (c->started ? kHeaderTimeout : kIdleTimeout);
    Hand(std::move(c));
  }

  std::mutex mu_;
  bool stopping_ = false;                     // GUARDED_BY(mu_)
  std::vector<std::unique_ptr<Conn>> incoming_;  // GUARDED_BY(mu_)
  int epoll_fd_ = -1, wake_fd_ = -1;
  std::unique_ptr<httplib::ThreadPool> workers_;
  std::thread gate_;
};

nlohmann::json HealthReport(const Node::Status& s, const std::string& chain_id, bool stopping, uint64_t block_age_max_ms,
                            uint64_t now_ms, int* http_status) {
  // The chain has not advanced for too long: the producer is stuck (heartbeats make a block at
  // least every heartbeat_interval_ms). At height 0 there is no block yet to be late.
  // Measured on this node's clock since it committed its tip: a block's own time is BFT time,
  // which lags a block behind (and is the genesis time at height 1).
  const uint64_t age_ms = now_ms > s.tip_seen_ms ? now_ms - s.tip_seen_ms : 0;
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

HttpServer::HttpServer(Node& node) : node_(node), server_(std::make_unique<GatedServer>()) {}
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
  // Waiting for requests and reading headers is the gate's (GatedServer); these bound what httplib
  // itself does on the accepted socket.
  server_->set_read_timeout(1, 0);
  server_->set_write_timeout(5, 0);
  server_->set_keep_alive_max_count(16);
  if (!server_->StartGate()) return {Code::kUnavailable, std::string("cannot start the HTTP gate: ") + std::strerror(errno)};
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
  if (server_) server_->StopGate();
}

}  // namespace kontor::node
