#include "node/http/server.h"

#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "node/http/errors.h"

namespace hearth::http {
namespace {

// `challenge`: the auth scheme a 401 asks for ("Bearer" for members and
// admins, "Hearth" for the federation endpoints).
void WriteError(const Error& error, httplib::Response& res,
                const char* challenge = "Bearer") {
  res.status = StatusFor(error.kind);
  res.set_content(ErrorBody(error), "application/json");
  if (error.kind == ErrorKind::kRateLimited)
    res.set_header("Retry-After",
                   std::to_string((error.retry_after_ms + 999) / 1000));
  if (error.kind == ErrorKind::kUnauthenticated)
    res.set_header("WWW-Authenticate", challenge);
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

  int threads = options_.threads;
  server_.new_task_queue = [threads] {
    return new httplib::ThreadPool(threads);
  };
  server_.set_tcp_nodelay(true);
  server_.set_keep_alive_max_count(options_.keep_alive_max_requests);
  server_.set_keep_alive_timeout(options_.keep_alive_timeout_s);
  server_.set_read_timeout(options_.read_timeout_s, 0);
  server_.set_write_timeout(options_.write_timeout_s, 0);
  server_.set_payload_max_length(options_.max_body_bytes);
  // httplib's default sets SO_REUSEPORT, which lets a second process bind
  // the same port and take a share of the connections. Only SO_REUSEADDR.
  server_.set_socket_options([this](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd_ = sock;
  });

  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    Dispatch(req, res);
  };
  server_.Get(".*", handler);
  server_.Post(".*", handler);
  server_.Put(".*", handler);
  server_.Patch(".*", handler);
  server_.Delete(".*", handler);
  server_.Options(".*", handler);
  // A request with neither Content-Length nor Transfer-Encoding has no body
  // (RFC 9112 6.3), but httplib would read POST/PUT/PATCH bodies until the
  // read timeout. Dispatch those at once with the empty body.
  server_.set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        bool body_method = req.method == "POST" || req.method == "PUT" ||
                           req.method == "PATCH";
        if (body_method && !req.has_header("Content-Length") &&
            !req.has_header("Transfer-Encoding")) {
          Dispatch(req, res);
          return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
      });

  // Responses that httplib makes itself (413 body too large, 400 bad
  // request line, ...) get our JSON body too.
  server_.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        res.set_content(ErrorBody(ErrorForStatus(res.status)),
                        "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
  server_.set_exception_handler(
      [name = options_.name](const httplib::Request& req,
                             httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("{}: {}: exception: {}", name, req.method, what);
        WriteError(Error::Internal(what), res);
      });
}

Server::~Server() {
  // Stop() was called by whoever runs Serve(); a server that was bound but
  // never served has nothing to wait for.
  if (server_.is_running()) server_.stop();
}

Status Server::Bind() {
  errno = 0;
  bool bound = false;
  if (options_.port == 0) {
    port_ = server_.bind_to_any_port(options_.host);
    bound = port_ > 0;
  } else if (server_.bind_to_port(options_.host, options_.port)) {
    port_ = options_.port;
    bound = true;
  }
  if (bound) {
    // Debian's libcpp-httplib listens with a backlog of 5 (compiled in):
    // members reconnecting at once after a restart would lose handshakes
    // (measured: 16-46 of 1,000 sequential connects). Listening again on
    // the bound socket raises it; the kernel caps it at somaxconn.
    if (listen_fd_ >= 0) ::listen(listen_fd_, options_.listen_backlog);
    return Ok();
  }
  int err = errno;
  std::string why = err == EADDRINUSE      ? "address already in use"
                    : err == EACCES        ? "permission denied"
                    : err == EADDRNOTAVAIL ? "address not available here"
                    : err != 0             ? std::strerror(err)
                                           : "cannot bind";
  return Error::Invalid("listen_failed",
                        "cannot listen on " + options_.host + ":" +
                            std::to_string(options_.port) + " (" +
                            options_.name + " listener): " + why);
}

void Server::Serve() {
  if (!stopping_) server_.listen_after_bind();
  served_ = true;
}

void Server::Stop() {
  stopping_ = true;
  // httplib's stop() does nothing until listen has begun, so a stop that
  // races a start would be lost and the serving thread never return. Wait
  // until serving began (then stop it) or Serve() gave up.
  while (!server_.is_running() && !served_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (server_.is_running()) server_.stop();
}

std::string Server::ClientAddress(const httplib::Request& req) const {
  const auto& proxies = options_.trusted_proxies;
  if (std::find(proxies.begin(), proxies.end(), req.remote_addr) ==
      proxies.end()) {
    return req.remote_addr;
  }
  std::string forwarded = req.get_header_value("X-Forwarded-For");
  auto comma = forwarded.rfind(',');
  std::string last =
      comma == std::string::npos ? forwarded : forwarded.substr(comma + 1);
  auto begin = last.find_first_not_of(' ');
  auto end = last.find_last_not_of(' ');
  if (begin == std::string::npos) return req.remote_addr;
  return last.substr(begin, end - begin + 1);
}

void Server::Dispatch(const httplib::Request& req, httplib::Response& res) {
  auto start = std::chrono::steady_clock::now();
  std::string route = "unmatched";
  // Route on the raw request target: httplib's req.path is already
  // percent-decoded, and decoding ids twice would turn %2540 into '@' and
  // an encoded '/' into a path separator.
  std::string_view path = req.target;
  path = path.substr(0, path.find('?'));
  auto match = router_.Find(req.method, path);
  if (!match) {
    WriteError(match.error(), res);
  } else {
    route = match->route->pattern;
    Request request{req, std::move(match->params), ClientAddress(req)};
    Result<Reply> reply = match->route->handler(request);
    if (reply) {
      res.status = reply->status;
      res.set_content(std::move(reply->body), reply->content_type);
    } else {
      const Error& e = reply.error();
      if (e.kind == ErrorKind::kInternal) {
        spdlog::error("{}: {} {}: {}", options_.name, req.method, route,
                      e.message);
      }
      WriteError(e, res,
                 req.path.rfind("/_hearth/", 0) == 0 ? "Hearth" : "Bearer");
    }
  }
  res.set_header("Cache-Control", "no-store");
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  metrics_.Add("hearth_http_requests_total",
               {{"listener", options_.name},
                {"route", route},
                {"method", req.method},
                {"status", std::to_string(res.status)}});
  metrics_.Observe("hearth_http_request_duration_seconds",
                   {{"listener", options_.name}, {"route", route}}, seconds);
  spdlog::debug("{}: {} {} -> {} ({:.2f} ms)", options_.name, req.method, route,
                res.status, seconds * 1000);
}

}  // namespace hearth::http
