// One HTTP/1.1 listener: our own small server (sockets, a pool of
// threads, keep-alive, request_parser.h), our router, the error model and
// request metrics.
//
// Why not cpp-httplib's server (the clients still use cpp-httplib): on
// this machine its server spends about 75 us of CPU per request (a poll
// before every read, two sends per response, regex routing, snprintf
// headers) where this one spends about 15 (bench/groups_bench phase 1,
// GET /api/v1/node). That was a sixth of a group post's CPU and most of a
// sync round trip's. Framing rules: spec/api.md §3.5.
//
// A pool thread owns a connection while it reads and answers requests
// (handlers block: group commit, a relay to a peer), so `threads` bounds
// the connections served at once and further ones wait in the accept
// queue. A request with nothing to say yet (a long-poll sync) is parked
// instead (http::Parked): its connection waits without a thread, in a
// list ordered by deadline that one timer thread watches, until the
// handler's wake-up or the deadline puts it back in the queue for a pool
// thread to answer. So waiting members cost a socket and a few hundred
// bytes each, not a thread, and cannot starve other requests.
// TCP_NODELAY is on (one send per response, so no Nagle stall); the
// listening socket has SO_REUSEADDR only, not SO_REUSEPORT, so a second
// node cannot silently share the port.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/metrics.h"
#include "common/result.h"
#include "node/http/request_parser.h"
#include "node/http/router.h"

namespace hearth::http {

struct ServerOptions {
  std::string name;  // "member" or "admin": a metrics label and log prefix
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port
  int threads = 64;
  size_t max_body_bytes = 1 << 20;
  size_t keep_alive_max_requests = 100000;
  // How long an idle keep-alive connection (and its thread) is kept.
  int keep_alive_timeout_s = 5;
  // A request must arrive whole within this, however slowly it trickles.
  int read_timeout_s = 30;
  int write_timeout_s = 30;
  int listen_backlog = 4096;
  // Peers whose X-Forwarded-For is believed (a TLS proxy in front). For
  // requests from them the client address is the last address in that
  // header, which the proxy appended; for anyone else it is the TCP peer.
  std::vector<std::string> trusted_proxies;
  // Whether a parked request may wait on its own thread while a quarter
  // of the pool is free (see HasSpareThreads). Tests turn it off to
  // exercise parking.
  bool wait_in_place = true;
};

class Server {
 public:
  Server(ServerOptions options, Router router, Metrics& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket. Fails with a message naming the address
  // and the reason (e.g. "address already in use").
  Status Bind();
  // Serves until Stop(). REQUIRES: Bind() succeeded, and Serve() is
  // called once, on its own thread. Returns once the requests in flight
  // are answered.
  void Serve();
  // Stops accepting and closes idle connections; requests in flight
  // finish. Safe from any thread, before or during Serve().
  void Stop();

  int port() const { return port_; }
  const ServerOptions& options() const { return options_; }

 private:
  struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
  };

  struct Conn;
  // Lets a parked request's wake-up reach the server while it runs, and
  // do nothing once Serve() has returned.
  struct Waker {
    std::mutex mu;
    Server* server = nullptr;
  };

  void Work();
  // The watcher thread: ends parked requests at their deadline, hands
  // idle connections back to the pool when readable, closes them at the
  // keep-alive timeout.
  void Watch();
  void WakeWatcher();
  // Waits for `c`'s next request without a thread. True if it waits.
  bool Idle(const std::shared_ptr<Conn>& c);
  // Adds `c`'s socket to the watcher's epoll set, or takes it out.
  // REQUIRES: mu_ held.
  bool WatchFd(const std::shared_ptr<Conn>& c, std::uint32_t events);
  void UnwatchFd(Conn& c);
  // Every change of a connection's state, so that the gauges count
  // parked requests and watched idle connections. REQUIRES: mu_ held.
  // Where a connection is (under mu_): served by a pool thread; being
  // parked (arming, or woken while arming); parked; or, between requests
  // after a parked one, idle in the watcher's epoll set (see Idle).
  enum class ConnState { kServing, kArming, kWokenWhileArming, kParked, kIdle };
  void SetState(Conn& c, ConnState state);
  // Out of the watch, back in the pool's queue. REQUIRES: mu_ held, and
  // `c` already out of parked_.
  void Requeue(const std::shared_ptr<Conn>& c, bool timed_out);
  // Whether a quarter of the pool is free: a parked request then waits on
  // its own thread (WaitHere), as cheap as a blocking wait; otherwise it
  // gives the thread back (Park). So waiting members never hold more
  // than three quarters of the threads.
  bool HasSpareThreads() const;
  // Waits for a parked request's wake-up (or deadline, or a stop) on this
  // thread, then resumes it: the reply, or a new park.
  Result<Reply> WaitHere(const std::shared_ptr<Parked>& park);
  struct InPlace {
    std::mutex mu;
    std::condition_variable cv;
    bool woken = false;
    bool stop = false;
  };
  // Serves `c` until it closes (false) or a request is parked (true).
  bool ServeConnection(const std::shared_ptr<Conn>& c);
  // Runs the handler of `raw`; sets `route` to the matched pattern.
  Result<Reply> Handle(const RawRequest& raw, const std::string& peer,
                       std::string* route);
  // A parked request's next reply (or a new park).
  Result<Reply> Resume(const std::shared_ptr<Parked>& park, bool timed_out);
  // The response to `reply`, with the request's metrics recorded.
  Response Respond(const RawRequest& raw, const std::string& route,
                   Result<Reply> reply,
                   std::chrono::steady_clock::time_point start);
  // Parks `c`, whose request's handler answered `park`. True if it waits
  // now; false if it is to be resumed at once (stopping).
  bool Park(const std::shared_ptr<Conn>& c,
            const std::shared_ptr<Parked>& park);
  // A parked request's wake-up, or its deadline, or Stop().
  void Ready(const std::shared_ptr<Conn>& c, bool timed_out);
  std::string ClientAddress(const RawRequest& raw,
                            const std::string& peer) const;

  ServerOptions options_;
  Router router_;
  Metrics& metrics_;
  // Requests being dispatched now (hearth_http_requests_in_flight).
  std::shared_ptr<std::atomic<std::int64_t>> in_flight_ =
      std::make_shared<std::atomic<std::int64_t>>(0);
  // Parked requests and watched idle connections (the gauges read them;
  // shared, like in_flight_, with a registry that may outlive us).
  struct Waiting {
    std::atomic<std::int64_t> parked{0};
    std::atomic<std::int64_t> idle{0};
  };
  std::shared_ptr<Waiting> waiting_ = std::make_shared<Waiting>();
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  // Accepted connections, and parked ones that are ready, waiting for a
  // pool thread.
  std::deque<std::shared_ptr<Conn>> pending_;
  std::set<int> open_;  // every accepted socket not yet closed
  bool workers_stop_ = false;
  std::vector<std::thread> workers_;
  // Parked requests and idle connections by deadline, and also by socket
  // (watched_, in epoll_fd_: readable when idle, hung up when parked).
  // event_fd_ interrupts the watcher's wait.
  std::multimap<std::chrono::steady_clock::time_point, std::shared_ptr<Conn>>
      parked_;
  std::map<std::uint64_t, std::shared_ptr<Conn>> watched_;  // by watch id
  std::uint64_t next_watch_id_ = 1;
  // Requests waiting on their own thread (WaitHere), for Stop().
  std::mutex in_place_mu_;
  std::set<InPlace*> in_place_;
  std::atomic<int> busy_{0};  // pool threads serving a connection
  bool parking_ = false;      // the watcher runs (set by Serve)
  int epoll_fd_ = -1;
  int event_fd_ = -1;
  std::thread watcher_;
  std::shared_ptr<Waker> waker_ = std::make_shared<Waker>();
};

}  // namespace hearth::http
