#include "node/http/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>

#include "node/http/errors.h"

namespace hearth::http {
namespace {

using SteadyClock = std::chrono::steady_clock;

const char* Reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Status";
  }
}

void SetTimeout(int fd, int option, int seconds) {
  timeval tv{};
  tv.tv_sec = seconds;
  ::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

std::string PeerAddress(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return "";
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
  } else if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
  }
  return text;
}

// Sends all of `parts` (one sendmsg in the common case). False if the peer
// went away or the write timed out.
bool SendAll(int fd, std::string_view a, std::string_view b = {}) {
  iovec iov[2] = {{const_cast<char*>(a.data()), a.size()},
                  {const_cast<char*>(b.data()), b.size()}};
  int first = 0, count = b.empty() ? 1 : 2;
  while (first < count) {
    msghdr msg{};
    msg.msg_iov = iov + first;
    msg.msg_iovlen = size_t(count - first);
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    size_t left = size_t(n);
    while (first < count && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (first < count) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return true;
}

// Closing right after an error answer while the client still sends (the
// rest of a refused body) would make the kernel reset the connection, and
// the client could lose the answer. Stop sending, then read and drop what
// comes for a bounded time and amount, as servers do ("lingering close").
void LingeringClose(int fd) {
  ::shutdown(fd, SHUT_WR);
  timeval tv{};
  tv.tv_usec = 200 * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto deadline = SteadyClock::now() + std::chrono::seconds(2);
  size_t dropped = 0;
  char sink[16384];
  while (SteadyClock::now() < deadline && dropped < (16u << 20)) {
    ssize_t n = ::recv(fd, sink, sizeof sink, 0);
    if (n > 0) {
      dropped += size_t(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // the client closed too, or went quiet
    }
  }
}

// The status line and header fields of a response.
std::string Head(int status, const std::string& content_type,
                 size_t content_length,
                 const std::vector<std::pair<std::string, std::string>>& extra,
                 bool keep_alive, bool http10) {
  std::string head;
  head.reserve(160);
  head += "HTTP/1.1 ";
  head += std::to_string(status);
  head += ' ';
  head += Reason(status);
  head += "\r\nContent-Type: ";
  head += content_type;
  head += "\r\nContent-Length: ";
  head += std::to_string(content_length);
  head += "\r\nCache-Control: no-store\r\n";
  for (const auto& [k, v] : extra) {
    head += k;
    head += ": ";
    head += v;
    head += "\r\n";
  }
  if (!keep_alive) {
    head += "Connection: close\r\n";
  } else if (http10) {
    head += "Connection: keep-alive\r\n";
  }
  head += "\r\n";
  return head;
}

}  // namespace

Server::Server(ServerOptions options, Router router, Metrics& metrics)
    : options_(std::move(options)),
      router_(std::move(router)),
      metrics_(metrics) {
  metrics_.Describe("hearth_http_requests_total", "counter",
                    "HTTP requests by listener, route, method and status.");
  metrics_.Describe("hearth_http_request_duration_seconds", "histogram",
                    "HTTP request latency by listener and route.");
  // Read when rendering; shared so that a registry outliving this server
  // still reads something valid.
  metrics_.GaugeSeries(
      "hearth_http_requests_in_flight",
      "Requests being handled now (waiting syncs included), by listener.",
      {{"listener", options_.name}},
      [in_flight = in_flight_] { return double(in_flight->load()); });
  metrics_.GaugeSeries(
      "hearth_http_requests_parked",
      "Requests waiting without a thread (parked long polls), by listener.",
      {{"listener", options_.name}},
      [waiting = waiting_] { return double(waiting->parked.load()); });
  metrics_.GaugeSeries(
      "hearth_http_connections_idle_watched",
      "Connections of answered long polls waiting for their next request "
      "without a thread, by listener.",
      {{"listener", options_.name}},
      [waiting = waiting_] { return double(waiting->idle.load()); });
}

// A connection, between pool threads: what is read and not yet answered,
// and, while a request is parked, that request and its continuation.
struct Server::Conn {
  int fd = -1;
  std::string peer;
  std::string buf;  // bytes read, from the start of the current request
  size_t served = 0;
  RawRequest req;  // the request being answered
  size_t consumed = 0;
  std::string route;
  SteadyClock::time_point start;
  std::shared_ptr<Parked> park;  // set while parked
  using State = ConnState;       // under the server's mu_; set by SetState
  State state = State::kServing;
  bool timed_out = false;
  // Non-zero while its socket is in the watcher's epoll set: the key of
  // this registration (an event for an older one, of a socket closed and
  // its number reused since, finds no entry).
  std::uint64_t watch_id = 0;
  std::multimap<SteadyClock::time_point, std::shared_ptr<Conn>>::iterator at;
};

Server::~Server() {
  Stop();
  if (!workers_.empty()) {
    // Serve() was never allowed to finish (its owner is going away).
    std::lock_guard<std::mutex> lock(mu_);
    workers_stop_ = true;
    cv_.notify_all();
    WakeWatcher();
  }
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  if (watcher_.joinable()) watcher_.join();
  {
    std::lock_guard<std::mutex> lock(waker_->mu);
    waker_->server = nullptr;
  }
  pending_.clear();
  parked_.clear();
  watched_.clear();
  for (int fd : open_) ::close(fd);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (event_fd_ >= 0) ::close(event_fd_);
}

Status Server::Bind() {
  auto fail = [&](int err) {
    std::string why = err == EADDRINUSE      ? "address already in use"
                      : err == EACCES        ? "permission denied"
                      : err == EADDRNOTAVAIL ? "address not available here"
                      : err != 0             ? std::strerror(err)
                                             : "cannot bind";
    return Error::Invalid("listen_failed",
                          "cannot listen on " + options_.host + ":" +
                              std::to_string(options_.port) + " (" +
                              options_.name + " listener): " + why);
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  std::string port = std::to_string(options_.port);
  if (int rc =
          ::getaddrinfo(options_.host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return Error::Invalid("listen_failed",
                          "cannot listen on " + options_.host + ":" + port +
                              " (" + options_.name +
                              " listener): " + ::gai_strerror(rc));
  }
  int err = 0;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                      ai->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
        ::listen(fd, options_.listen_backlog) == 0) {
      listen_fd_ = fd;
      break;
    }
    err = errno;
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (listen_fd_ < 0) return fail(err);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = addr.ss_family == AF_INET6
              ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
              : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return Ok();
}

void Server::Serve() {
  {
    std::lock_guard<std::mutex> lock(waker_->mu);
    waker_->server = this;
  }
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  event_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;  // watch ids start at 1
  parking_ = epoll_fd_ >= 0 && event_fd_ >= 0 &&
             ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev) == 0;
  if (!parking_) {
    // Still serving: waiting requests then wait on their threads.
    spdlog::error("{}: epoll/eventfd: {}; waiting requests hold threads",
                  options_.name, std::strerror(errno));
  }
  for (int i = 0; i < std::max(1, options_.threads); ++i)
    workers_.emplace_back([this] { Work(); });
  if (parking_) watcher_ = std::thread([this] { Watch(); });
  while (!stopping_) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) break;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
          errno == ENOMEM) {
        // Out of descriptors or memory: the connection waits in the
        // backlog; try again shortly rather than spin.
        spdlog::warn("{}: accept: {}", options_.name, std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      spdlog::error("{}: accept: {}", options_.name, std::strerror(errno));
      break;
    }
    int yes = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    SetTimeout(fd, SO_RCVTIMEO, options_.keep_alive_timeout_s);
    SetTimeout(fd, SO_SNDTIMEO, options_.write_timeout_s);
    auto c = std::make_shared<Conn>();
    c->fd = fd;
    std::lock_guard<std::mutex> lock(mu_);
    open_.insert(fd);
    if (stopping_) ::shutdown(fd, SHUT_RD);  // Stop() missed it
    pending_.push_back(std::move(c));
    cv_.notify_one();
  }
  // However the loop ended: put every parked request and idle connection
  // back in the queue (none parks once stopping), so that the workers
  // answer or close them all before they return.
  Stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    workers_stop_ = true;
    cv_.notify_all();
    WakeWatcher();
  }
  for (auto& t : workers_) t.join();
  workers_.clear();
  if (watcher_.joinable()) watcher_.join();
  std::lock_guard<std::mutex> lock(waker_->mu);
  waker_->server = nullptr;
}

void Server::Stop() {
  stopping_ = true;
  {
    std::lock_guard<std::mutex> lock(in_place_mu_);
    for (InPlace* here : in_place_) {
      std::lock_guard<std::mutex> waiting(here->mu);
      here->stop = true;
      here->cv.notify_one();
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  // Wakes accept() (it fails at once) and every read that waits for a
  // request; a request being handled still gets its answer, and so does
  // every parked one, at once.
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  for (int fd : open_) ::shutdown(fd, SHUT_RD);
  // An idle connection goes back too: its read finds it shut down.
  for (auto& [deadline, c] : parked_) Requeue(c, true);
  parked_.clear();
}

void Server::WakeWatcher() {
  if (event_fd_ < 0) return;
  std::uint64_t one = 1;
  ssize_t n = ::write(event_fd_, &one, sizeof one);
  (void)n;  // a full counter (EAGAIN) wakes it just as well
}

void Server::Work() {
  while (true) {
    std::shared_ptr<Conn> c;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !pending_.empty() || workers_stop_; });
      if (pending_.empty()) return;
      c = std::move(pending_.front());
      pending_.pop_front();
    }
    busy_.fetch_add(1, std::memory_order_relaxed);
    bool parked = ServeConnection(c);
    busy_.fetch_sub(1, std::memory_order_relaxed);
    if (parked) continue;  // it comes back when ready
    std::lock_guard<std::mutex> lock(mu_);
    open_.erase(c->fd);
    ::close(c->fd);
  }
}

bool Server::HasSpareThreads() const {
  if (!options_.wait_in_place) return false;
  const int threads = std::max(1, options_.threads);
  return busy_.load(std::memory_order_relaxed) * 4 <= threads * 3;
}

Result<Reply> Server::WaitHere(const std::shared_ptr<Parked>& park) {
  auto here = std::make_shared<InPlace>();
  {
    std::lock_guard<std::mutex> lock(in_place_mu_);
    here->stop = stopping_;
    in_place_.insert(here.get());
  }
  // The wake-up may come late, after this wait ended: it only touches
  // `here`, which it keeps alive.
  park->arm([here] {
    std::lock_guard<std::mutex> lock(here->mu);
    here->woken = true;
    here->cv.notify_one();
  });
  bool woken;
  {
    std::unique_lock<std::mutex> lock(here->mu);
    here->cv.wait_until(lock, park->deadline,
                        [&] { return here->woken || here->stop; });
    woken = here->woken;
  }
  {
    std::lock_guard<std::mutex> lock(in_place_mu_);
    in_place_.erase(here.get());
  }
  return Resume(park, !woken);
}

void Server::Watch() {
  epoll_event events[64];
  while (true) {
    int timeout_ms = -1;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (workers_stop_) return;
      auto now = SteadyClock::now();
      while (!parked_.empty() && parked_.begin()->first <= now) {
        std::shared_ptr<Conn> c = std::move(parked_.begin()->second);
        parked_.erase(parked_.begin());
        if (c->state == Conn::State::kIdle) {
          // No next request within the keep-alive timeout: close.
          UnwatchFd(*c);
          SetState(*c, Conn::State::kServing);
          open_.erase(c->fd);
          ::close(c->fd);
          continue;
        }
        Requeue(c, true);
      }
      if (!parked_.empty()) {
        auto wait = std::chrono::ceil<std::chrono::milliseconds>(
            parked_.begin()->first - now);
        timeout_ms = int(std::min<std::int64_t>(wait.count(), 60000));
      }
    }
    // A new earliest deadline, a stop, a readable idle connection or a
    // parked one whose client hung up ends the wait early (Park and Idle
    // write to event_fd_).
    int n = ::epoll_wait(epoll_fd_, events, 64, timeout_ms);
    if (n < 0 && errno != EINTR) {
      spdlog::error("{}: epoll_wait: {}", options_.name, std::strerror(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; i < n; ++i) {
      const std::uint64_t id = events[i].data.u64;
      if (id == 0) {
        std::uint64_t count;
        while (::read(event_fd_, &count, sizeof count) > 0) {
        }
        continue;
      }
      auto it = watched_.find(id);
      if (it == watched_.end()) continue;  // unwatched since epoll_wait
      std::shared_ptr<Conn> c = it->second;
      parked_.erase(c->at);
      // Idle: its next request (or its close). Parked: its client hung up
      // (or shut down its sending side only: such a client's long polls
      // are answered at once, empty); answered now, the write fails and
      // frees the connection.
      Requeue(c, c->state == Conn::State::kParked);
    }
  }
}

void Server::Requeue(const std::shared_ptr<Conn>& c, bool timed_out) {
  UnwatchFd(*c);
  SetState(*c, Conn::State::kServing);
  c->timed_out = timed_out;
  pending_.push_back(c);
  cv_.notify_one();
}

void Server::SetState(Conn& c, ConnState state) {
  auto count = [&](Conn::State s) -> std::atomic<std::int64_t>* {
    if (s == Conn::State::kParked) return &waiting_->parked;
    if (s == Conn::State::kIdle) return &waiting_->idle;
    return nullptr;
  };
  if (auto* n = count(c.state)) n->fetch_sub(1, std::memory_order_relaxed);
  if (auto* n = count(state)) n->fetch_add(1, std::memory_order_relaxed);
  c.state = state;
}

bool Server::WatchFd(const std::shared_ptr<Conn>& c, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = next_watch_id_;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c->fd, &ev) != 0) return false;
  c->watch_id = next_watch_id_++;
  watched_[c->watch_id] = c;
  return true;
}

void Server::UnwatchFd(Conn& c) {
  if (c.watch_id == 0) return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  watched_.erase(c.watch_id);
  c.watch_id = 0;
}

bool Server::Idle(const std::shared_ptr<Conn>& c) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || !parking_) return false;
  if (!WatchFd(c, EPOLLIN | EPOLLRDHUP)) return false;
  SetState(*c, Conn::State::kIdle);
  c->at = parked_.emplace(
      SteadyClock::now() + std::chrono::seconds(options_.keep_alive_timeout_s),
      c);
  if (c->at == parked_.begin()) WakeWatcher();
  return true;
}

bool Server::Park(const std::shared_ptr<Conn>& c,
                  const std::shared_ptr<Parked>& park) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    c->park = park;
    SetState(*c, Conn::State::kArming);
  }
  // Outside the lock: `arm` may call the wake-up at once, which takes it.
  // Until the request is in parked_ no other thread touches `c`.
  std::weak_ptr<Conn> weak = c;
  c->park->arm([waker = waker_, weak] {
    std::lock_guard<std::mutex> lock(waker->mu);
    auto conn = weak.lock();
    if (waker->server && conn) waker->server->Ready(conn, false);
  });
  std::lock_guard<std::mutex> lock(mu_);
  if (c->state == Conn::State::kWokenWhileArming || stopping_) {
    Requeue(c, stopping_);
    return true;
  }
  SetState(*c, Conn::State::kParked);
  c->at = parked_.emplace(c->park->deadline, c);
  // A client that hangs up is noticed at once, not at the deadline
  // (epoll_wait sees a socket added while it waits; if it cannot be
  // watched, the deadline still ends the wait).
  WatchFd(c, EPOLLRDHUP);
  if (c->at == parked_.begin()) WakeWatcher();  // a new earliest deadline
  return true;
}

void Server::Ready(const std::shared_ptr<Conn>& c, bool timed_out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (c->state == Conn::State::kArming) {
    SetState(*c, Conn::State::kWokenWhileArming);
    return;
  }
  if (c->state != Conn::State::kParked) return;  // a wake-up of the past
  parked_.erase(c->at);
  Requeue(c, timed_out);
}

bool Server::ServeConnection(const std::shared_ptr<Conn>& c) {
  const int fd = c->fd;
  if (c->peer.empty()) c->peer = PeerAddress(fd);
  const ParseLimits limits{.max_body_bytes = options_.max_body_bytes};
  std::string& buf = c->buf;
  RawRequest& req = c->req;
  // Set when a parked request comes back: answer it before reading on.
  bool resumed = c->park != nullptr;
  while (resumed || !stopping_) {
    Result<Reply> reply = Error::Internal("no reply");
    // Whether this request was parked: a client of long polls is likely
    // to be slow with its next request, so its connection then waits for
    // it without a thread (Idle). Other connections keep theirs: a
    // client sending requests back to back is served without a hand-off.
    bool was_parked = resumed;
    if (resumed) {
      resumed = false;
      std::shared_ptr<Parked> park = std::move(c->park);
      reply = Resume(park, c->timed_out);
    } else {
      // Read until one request is whole. The socket's receive timeout is
      // the keep-alive timeout: an idle connection closes after it; a
      // request under way may take up to the read timeout in all.
      const auto deadline =
          SteadyClock::now() + std::chrono::seconds(options_.read_timeout_s);
      bool sent_continue = false;
      ParseResult parsed;
      size_t need = 0;
      while (true) {
        if (!buf.empty() && buf.size() >= need) {
          parsed = ParseRequest(buf, limits, &req);
          if (parsed.state != ParseResult::kNeedMore) break;
          need = parsed.need;
          if (parsed.expect_continue && !sent_continue) {
            if (!SendAll(fd, "HTTP/1.1 100 Continue\r\n\r\n")) return false;
            sent_continue = true;
          }
        }
        // Into the stack, then appended: a connection waiting in a long
        // poll keeps only what it was sent, not a zeroed 16 KiB buffer.
        char chunk[16384];
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n > 0) {
          buf.append(chunk, size_t(n));
          continue;
        }
        if (n == 0) return false;  // closed (or shut down by Stop)
        if (errno == EINTR) continue;
        if ((errno == EAGAIN || errno == EWOULDBLOCK) && !buf.empty() &&
            SteadyClock::now() < deadline && !stopping_)
          continue;    // a slow request: keep reading until the read timeout
        return false;  // idle past the keep-alive timeout, or an error
      }
      if (parsed.state == ParseResult::kError) {
        // The rest of the bytes cannot be framed: answer and close.
        std::string body =
            ErrorBody(Error::Invalid(parsed.code, parsed.message));
        std::string head = Head(parsed.status, "application/json", body.size(),
                                {}, false, false);
        if (SendAll(fd, head, body)) LingeringClose(fd);
        metrics_.Add("hearth_http_requests_total",
                     {{"listener", options_.name},
                      {"route", "unparsed"},
                      {"method", "-"},
                      {"status", std::to_string(parsed.status)}});
        return false;
      }
      ++c->served;
      c->consumed = parsed.consumed;
      c->start = SteadyClock::now();
      in_flight_->fetch_add(1, std::memory_order_relaxed);
      reply = Handle(req, c->peer, &c->route);
    }
    // Nothing to say yet: wait here while the pool has room, else give the
    // thread back; once stopping, answer with what there is.
    while (reply && reply->park) {
      std::shared_ptr<Parked> park = std::move(reply->park);
      if (stopping_) {
        reply = Resume(park, true);
        if (reply && reply->park)
          reply = Error::Unavailable("stopping", "the node is stopping");
      } else if (parking_ && !HasSpareThreads()) {
        was_parked = true;
        if (Park(c, park)) return true;
        reply = Reply::Later(std::move(park));  // refused: stopping
      } else {
        reply = WaitHere(park);
      }
    }
    in_flight_->fetch_sub(1, std::memory_order_relaxed);
    Response res = Respond(req, c->route, std::move(reply), c->start);
    // After the handler: a stop meanwhile closes the connection.
    bool keep_alive = req.keep_alive && !stopping_ &&
                      c->served < options_.keep_alive_max_requests;
    bool head_only = req.method == "HEAD";
    std::string head = Head(res.status, res.content_type, res.body.size(),
                            res.headers, keep_alive, req.minor_version == 0);
    // One send: a response split in two segments costs the peer a second
    // wake-up (and, over loopback, the kernel a second round).
    bool sent = (head_only || res.body.size() > 8192)
                    ? SendAll(fd, head, head_only ? "" : res.body)
                    : SendAll(fd, head + res.body);
    if (!sent || !keep_alive) return false;
    buf.erase(0, c->consumed);
    if (was_parked && buf.empty() && Idle(c)) return true;
  }
  return false;
}

std::string Server::ClientAddress(const RawRequest& raw,
                                  const std::string& peer) const {
  const auto& proxies = options_.trusted_proxies;
  if (std::find(proxies.begin(), proxies.end(), peer) == proxies.end())
    return peer;
  std::string forwarded = raw.HeaderValue("X-Forwarded-For");
  auto comma = forwarded.rfind(',');
  std::string last =
      comma == std::string::npos ? forwarded : forwarded.substr(comma + 1);
  auto begin = last.find_first_not_of(' ');
  auto end = last.find_last_not_of(' ');
  if (begin == std::string::npos) return peer;
  return last.substr(begin, end - begin + 1);
}

namespace {

// A handler's (or a continuation's) reply; an exception becomes Internal
// instead of taking the pool thread down.
template <typename F>
Result<Reply> Guarded(F&& call) {
  try {
    return call();
  } catch (const std::exception& e) {
    return Error::Internal(std::string("exception: ") + e.what());
  } catch (...) {
    return Error::Internal("exception");
  }
}

}  // namespace

Result<Reply> Server::Handle(const RawRequest& raw, const std::string& peer,
                             std::string* route) {
  *route = "unmatched";
  // Route on the raw request target: decoding ids twice would turn %2540
  // into '@' and an encoded '/' into a path separator.
  auto match = router_.Find(raw.method, raw.Path());
  if (!match) return match.error();
  *route = match->route->pattern;
  Request request{raw, std::move(match->params), ClientAddress(raw, peer)};
  return Guarded([&] { return match->route->handler(request); });
}

Result<Reply> Server::Resume(const std::shared_ptr<Parked>& park,
                             bool timed_out) {
  return Guarded([&] { return park->resume(timed_out); });
}

Server::Response Server::Respond(const RawRequest& raw,
                                 const std::string& route, Result<Reply> reply,
                                 SteadyClock::time_point start) {
  Response res;
  if (reply) {
    res.status = reply->status;
    res.body = std::move(reply->body);
    res.content_type = std::move(reply->content_type);
  } else {
    const Error& error = reply.error();
    if (error.kind == ErrorKind::kInternal) {
      spdlog::error("{}: {} {}: {}", options_.name, raw.method, route,
                    error.message);
    }
    res.status = StatusFor(error.kind);
    res.content_type = "application/json";
    res.body = ErrorBody(error);
    if (error.kind == ErrorKind::kRateLimited)
      res.headers.emplace_back(
          "Retry-After", std::to_string((error.retry_after_ms + 999) / 1000));
    if (error.kind == ErrorKind::kUnauthenticated)
      res.headers.emplace_back(
          "WWW-Authenticate",
          raw.target.rfind("/_hearth/", 0) == 0 ? "Hearth" : "Bearer");
  }
  double seconds =
      std::chrono::duration<double>(SteadyClock::now() - start).count();
  // Label values must come from a bounded set: any token parses as a
  // method, so only the ones we know are named.
  static const std::set<std::string, std::less<>> kMethods = {
      "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  metrics_.Add("hearth_http_requests_total",
               {{"listener", options_.name},
                {"route", route},
                {"method", kMethods.count(raw.method) ? raw.method : "other"},
                {"status", std::to_string(res.status)}});
  metrics_.Observe("hearth_http_request_duration_seconds",
                   {{"listener", options_.name}, {"route", route}}, seconds);
  spdlog::debug("{}: {} {} -> {} ({:.2f} ms)", options_.name, raw.method, route,
                res.status, seconds * 1000);
  return res;
}

}  // namespace hearth::http
