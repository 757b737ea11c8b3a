// One HTTP listener: cpp-httplib configured for real traffic, our router,
// the error model and request metrics.
//
// cpp-httplib traps (measured, see DESIGN.md): TCP_NODELAY is on (otherwise
// Nagle plus delayed ACKs stall each response ~40 ms); keep-alive allows
// many requests per connection; the worker pool is sized at run time (a
// pool thread owns a connection for its whole life); SO_REUSEPORT is off so
// a second node cannot silently share the port.
#pragma once

#include <httplib.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "common/result.h"
#include "node/http/router.h"

namespace hearth::http {

struct ServerOptions {
  std::string name;  // "member" or "admin": a metrics label and log prefix
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port
  int threads = 64;
  size_t max_body_bytes = 1 << 20;
  size_t keep_alive_max_requests = 100000;
  // Also bounds shutdown: httplib lets an idle keep-alive connection sit
  // this long before its worker notices the server stopped.
  int keep_alive_timeout_s = 5;
  int read_timeout_s = 30;
  int write_timeout_s = 30;
  int listen_backlog = 4096;
  // Peers whose X-Forwarded-For is believed (a TLS proxy in front). For
  // requests from them the client address is the last address in that
  // header, which the proxy appended; for anyone else it is the TCP peer.
  std::vector<std::string> trusted_proxies;
};

class Server {
 public:
  Server(ServerOptions options, Router router, Metrics& metrics);
  ~Server();

  // Binds the listening socket. Fails with a message naming the address
  // and the reason (e.g. "address already in use").
  Status Bind();
  // Serves until Stop(). REQUIRES: Bind() succeeded, and Serve() is
  // called once, on its own thread.
  void Serve();
  // Stops accepting; in-flight requests finish. Safe from any thread.
  void Stop();

  int port() const { return port_; }
  const ServerOptions& options() const { return options_; }

 private:
  void Dispatch(const httplib::Request& req, httplib::Response& res);
  std::string ClientAddress(const httplib::Request& req) const;

  ServerOptions options_;
  Router router_;
  Metrics& metrics_;
  httplib::Server server_;
  int port_ = 0;
  int listen_fd_ = -1;  // the listening socket, seen in the options hook
  std::atomic<bool> stopping_{false};
  std::atomic<bool> served_{false};
};

}  // namespace hearth::http
