// The HTTP server over real loopback sockets: keep-alive, pipelining,
// framing errors, 100-continue, limits, and stopping with connections open.
#include "node/http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/support/node_process.h"

namespace hearth::http {
namespace {

using std::chrono::milliseconds;

class ServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}) {
    Router router;
    router.Add("GET", "/hello", [](const Request& req) -> Result<Reply> {
      std::string who = req.Query("who").value_or("you");
      return Reply{200, "hello " + who, "text/plain"};
    });
    router.Add("POST", "/echo", [](const Request& req) -> Result<Reply> {
      return Reply{201, req.raw.body, "text/plain"};
    });
    router.Add("GET", "/slow", [](const Request&) -> Result<Reply> {
      std::this_thread::sleep_for(milliseconds(300));
      return Reply{200, "slow", "text/plain"};
    });
    router.Add("GET", "/throw", [](const Request&) -> Result<Reply> {
      throw std::runtime_error("boom");
    });
    // Quote a header back, in an error and in a JSON answer.
    router.Add("GET", "/quote-error", [](const Request& req) -> Result<Reply> {
      return Error::Invalid("bad", "you sent " + req.raw.HeaderValue("X"));
    });
    router.Add("GET", "/quote-json", [](const Request& req) -> Result<Reply> {
      return Reply::Json(200, {{"x", req.raw.HeaderValue("X")}});
    });
    router.Add("GET", "/auth", [](const Request& req) -> Result<Reply> {
      HEARTH_ASSIGN_OR_RETURN(auto token, req.BearerToken());
      return Reply{200, token, "text/plain"};
    });
    // A long poll: parked until Ring() or `ms` pass.
    router.Add("GET", "/wait", [this](const Request& req) -> Result<Reply> {
      auto ms = QueryInt(req, "ms", 0, 60000);
      if (!ms) return ms.error();
      auto parked = std::make_shared<Parked>();
      parked->deadline = std::chrono::steady_clock::now() +
                         std::chrono::milliseconds(ms->value_or(5000));
      parked->arm = [this](std::function<void()> wake) {
        std::lock_guard<std::mutex> lock(bell_mu_);
        bell_.push_back(std::move(wake));
      };
      parked->resume = [this](bool timed_out) -> Result<Reply> {
        ++resumed_;
        return Reply{200, timed_out ? "timed out" : "woken", "text/plain"};
      };
      return Reply::Later(std::move(parked));
    });
    // A long poll that begins as the server stops.
    router.Add(
        "GET", "/stop-and-wait", [this](const Request&) -> Result<Reply> {
          server_->Stop();
          auto parked = std::make_shared<Parked>();
          parked->deadline =
              std::chrono::steady_clock::now() + std::chrono::seconds(30);
          parked->arm = [](std::function<void()>) {};
          parked->resume = [](bool timed_out) -> Result<Reply> {
            return Reply{200, timed_out ? "timed out" : "woken", "text/plain"};
          };
          return Reply::Later(std::move(parked));
        });
    options.name = "test";
    options.max_body_bytes = 1024;
    server_ = std::make_unique<Server>(options, std::move(router), metrics_);
    ASSERT_TRUE(server_->Bind());
    thread_ = std::thread([this] { server_->Serve(); });
  }

  void TearDown() override {
    if (server_) server_->Stop();
    if (thread_.joinable()) thread_.join();
  }

  int Connect() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("connect failed");
    return fd;
  }

  static void Send(int fd, const std::string& bytes) {
    ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              ssize_t(bytes.size()));
  }

  // Reads until `done(what was read)`, the peer closed, or 5 s passed.
  template <typename Done>
  static std::string ReadWhileNot(int fd, Done done) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done(out) && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, size_t(n));
    }
    return out;
  }

  // Reads `count` whole responses (Content-Length framed).
  static std::string Read(int fd, size_t count = 1) {
    return ReadWhileNot(
        fd, [count](const std::string& s) { return Complete(s) >= count; });
  }

  // Reads until `needle` arrived.
  static std::string ReadUntil(int fd, const std::string& needle) {
    return ReadWhileNot(fd, [&needle](const std::string& s) {
      return s.find(needle) != std::string::npos;
    });
  }

  static size_t Complete(const std::string& s) {
    size_t count = 0, pos = 0;
    while (true) {
      size_t end = s.find("\r\n\r\n", pos);
      if (end == std::string::npos) return count;
      size_t cl = s.find("Content-Length: ", pos);
      if (s.compare(pos, 12, "HTTP/1.1 100") == 0) {
        pos = end + 4;
        continue;
      }
      size_t len = cl < end ? std::stoul(s.substr(cl + 16)) : 0;
      if (s.size() < end + 4 + len) return count;
      pos = end + 4 + len;
      ++count;
    }
  }

  // True if the peer closed the connection within 5 s.
  static bool Closed(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return false;
    char c;
    return ::recv(fd, &c, 1, 0) == 0;
  }

  // Wakes every parked /wait; returns how many it woke.
  size_t Ring() {
    std::vector<std::function<void()>> wakes;
    {
      std::lock_guard<std::mutex> lock(bell_mu_);
      wakes.swap(bell_);
    }
    for (auto& wake : wakes) wake();
    return wakes.size();
  }
  size_t ParkedCount() {
    std::lock_guard<std::mutex> lock(bell_mu_);
    return bell_.size();
  }
  // Sends a 30 s long poll on a new connection and waits until it is
  // parked; returns the socket, or -1 if it was not parked in 5 s.
  int ParkOne() {
    int fd = Connect();
    size_t before = ParkedCount();
    Send(fd, "GET /wait?ms=30000 HTTP/1.1\r\nHost: x\r\n\r\n");
    WaitParked(before + 1);
    if (ParkedCount() == before + 1) return fd;
    ::close(fd);
    return -1;
  }
  // Waits (up to 5 s) until `n` wake-ups are held.
  void WaitParked(size_t n) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (ParkedCount() < n && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(milliseconds(10));
  }

  Metrics metrics_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::mutex bell_mu_;
  std::vector<std::function<void()>> bell_;
  std::atomic<int> resumed_{0};  // /wait answers made
};

TEST_F(ServerTest, BytesThatAreNotUtf8AreQuotedNotThrown) {
  Start();
  int fd = Connect();
  // An error body is written outside the handler's try: it must not
  // throw (which would end the process) on what a client sent.
  Send(fd, "GET /quote-error HTTP/1.1\r\nX: \xff\xfe\r\n\r\n");
  std::string error = Read(fd);
  EXPECT_EQ(error.rfind("HTTP/1.1 400", 0), 0u) << error;
  EXPECT_NE(error.find("you sent \xef\xbf\xbd"), std::string::npos);
  Send(fd, "GET /quote-json HTTP/1.1\r\nX: a\xc3\r\n\r\n");
  std::string json = Read(fd);
  EXPECT_EQ(json.rfind("HTTP/1.1 200", 0), 0u) << json;
  EXPECT_NE(json.find("{\"x\":\"a\xef\xbf\xbd\"}"), std::string::npos);
  ::close(fd);
}

TEST_F(ServerTest, AnswersKeepAliveAndPipelinedRequestsInOrder) {
  Start();
  int fd = Connect();
  Send(fd, "GET /hello?who=a%20b HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string first = Read(fd);
  EXPECT_EQ(first.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << first;
  EXPECT_NE(first.find("Cache-Control: no-store\r\n"), std::string::npos);
  EXPECT_NE(first.find("\r\n\r\nhello a b"), std::string::npos);
  // Two at once, the second split mid-body across sends.
  Send(fd,
       "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcPOST /echo "
       "HTTP/1.1\r\nContent-Length: 4\r\n\r\nde");
  std::this_thread::sleep_for(milliseconds(50));
  Send(fd, "fg");
  std::string both = Read(fd, 2);
  size_t abc = both.find("\r\n\r\nabc"), defg = both.find("\r\n\r\ndefg");
  ASSERT_NE(abc, std::string::npos) << both;
  ASSERT_NE(defg, std::string::npos) << both;
  EXPECT_LT(abc, defg);
  EXPECT_EQ(both.find("Connection: close"), std::string::npos);
  ::close(fd);
}

TEST_F(ServerTest, DecodesChunkedBodiesAndAnswers100Continue) {
  Start();
  int fd = Connect();
  Send(fd,
       "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
       "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_NE(Read(fd).find("\r\n\r\nabcde"), std::string::npos);
  Send(fd,
       "POST /echo HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue"
       "\r\n\r\n");
  // Nothing final yet, but the go-ahead.
  EXPECT_EQ(ReadUntil(fd, "\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  Send(fd, "ok");
  EXPECT_NE(Read(fd).find("HTTP/1.1 201 Created"), std::string::npos);
  ::close(fd);
}

TEST_F(ServerTest, MalformedRequestsGetAJsonErrorAndAClose) {
  Start();
  struct Case {
    std::string request;
    std::string status;
  } cases[] = {
      {"GARBAGE\r\n\r\n", "400"},
      {"POST /echo HTTP/1.1\r\nContent-Length: 2000\r\n\r\n", "413"},
      {"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked"
       "\r\n\r\n",
       "400"},
      {"GET / HTTP/2.0\r\n\r\n", "505"},
      {"GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n", "414"},
  };
  for (const auto& c : cases) {
    int fd = Connect();
    Send(fd, c.request);
    std::string res = Read(fd);
    EXPECT_EQ(res.rfind("HTTP/1.1 " + c.status, 0), 0u) << res;
    EXPECT_NE(res.find("Content-Type: application/json"), std::string::npos);
    EXPECT_NE(res.find("{\"error\":{\"code\":"), std::string::npos) << res;
    EXPECT_NE(res.find("Connection: close"), std::string::npos);
    EXPECT_TRUE(Closed(fd));
    ::close(fd);
  }
}

TEST_F(ServerTest, RoutesErrorsAndHead) {
  Start();
  int fd = Connect();
  Send(fd, "GET /nowhere HTTP/1.1\r\n\r\n");
  EXPECT_EQ(Read(fd).rfind("HTTP/1.1 404", 0), 0u);
  Send(fd, "DELETE /hello HTTP/1.1\r\n\r\n");
  EXPECT_EQ(Read(fd).rfind("HTTP/1.1 405", 0), 0u);
  Send(fd, "GET /throw HTTP/1.1\r\n\r\n");
  std::string thrown = Read(fd);
  EXPECT_EQ(thrown.rfind("HTTP/1.1 500", 0), 0u);
  EXPECT_EQ(thrown.find("boom"), std::string::npos);  // no internals leak
  Send(fd, "GET /auth HTTP/1.1\r\n\r\n");
  std::string unauth = Read(fd);
  EXPECT_EQ(unauth.rfind("HTTP/1.1 401", 0), 0u);
  EXPECT_NE(unauth.find("WWW-Authenticate: Bearer\r\n"), std::string::npos);
  Send(fd,
       "HEAD /hello HTTP/1.1\r\n\r\nGET /auth HTTP/1.1\r\n"
       "Authorization: Bearer abc\r\n\r\n");
  std::string both = ReadUntil(fd, "\r\n\r\nabc");
  // HEAD: the GET's length, no body; the next answer follows at once.
  EXPECT_EQ(both.rfind("HTTP/1.1 200 OK", 0), 0u) << both;
  EXPECT_NE(both.find("Content-Length: 9\r\n"), std::string::npos);
  EXPECT_NE(both.find("\r\n\r\nHTTP/1.1 200 OK"), std::string::npos) << both;
  ::close(fd);
}

TEST_F(ServerTest, HonoursConnectionCloseAndHttp10) {
  Start();
  int fd = Connect();
  Send(fd, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_NE(Read(fd).find("Connection: close"), std::string::npos);
  EXPECT_TRUE(Closed(fd));
  ::close(fd);
  fd = Connect();
  Send(fd, "GET /hello HTTP/1.0\r\n\r\n");
  EXPECT_NE(Read(fd).find("hello you"), std::string::npos);
  EXPECT_TRUE(Closed(fd));
  ::close(fd);
}

TEST_F(ServerTest, StopClosesIdleConnectionsAndFinishesRequestsInFlight) {
  ServerOptions options;
  options.keep_alive_timeout_s = 60;  // so only Stop() can end the idle one
  Start(options);
  int idle = Connect();
  Send(idle, "GET /hello HTTP/1.1\r\n\r\n");
  ASSERT_NE(Read(idle).find("hello"), std::string::npos);
  int busy = Connect();
  Send(busy, "GET /slow HTTP/1.1\r\n\r\n");
  // Stop only once /slow is being handled.
  const std::string in_flight =
      "hearth_http_requests_in_flight{listener=\"test\"} 1";
  ASSERT_TRUE(hearth::testing::WaitFor(
      [&] { return metrics_.Render().find(in_flight) != std::string::npos; },
      std::chrono::seconds(5)));
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  thread_.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  std::string slow = Read(busy);
  EXPECT_NE(slow.find("\r\n\r\nslow"), std::string::npos) << slow;
  EXPECT_NE(slow.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(Closed(idle));
  EXPECT_NE(metrics_.Render().find(
                "hearth_http_requests_in_flight{listener=\"test\"} 0"),
            std::string::npos);
  ::close(idle);
  ::close(busy);
}

TEST_F(ServerTest, ClosesIdleConnectionsAfterTheKeepAliveTimeout) {
  ServerOptions options;
  options.keep_alive_timeout_s = 1;
  Start(options);
  int fd = Connect();
  Send(fd, "GET /hello HTTP/1.1\r\n\r\n");
  ASSERT_NE(Read(fd).find("hello"), std::string::npos);
  EXPECT_TRUE(Closed(fd));
  ::close(fd);
}

TEST_F(ServerTest, BindNamesTheAddressInUse) {
  Start();
  Metrics metrics;
  ServerOptions options;
  options.name = "second";
  options.port = server_->port();
  Server second(options, Router(), metrics);
  auto bound = second.Bind();
  ASSERT_FALSE(bound);
  EXPECT_NE(bound.error().message.find("address already in use"),
            std::string::npos)
      << bound.error().message;
}

// Waiting requests hold no thread: with 2 pool threads, 20 parked long
// polls leave both free for other requests; a wake-up answers them all,
// each on a connection that then serves its next request.
TEST_F(ServerTest, ParkedRequestsHoldNoThreadAndAnswerWhenWoken) {
  Start(ServerOptions{.threads = 2, .wait_in_place = false});
  std::vector<int> waiting;
  for (int i = 0; i < 20; ++i) {
    waiting.push_back(Connect());
    Send(waiting.back(), "GET /wait?ms=30000 HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  WaitParked(20);
  ASSERT_EQ(ParkedCount(), 20u);
  int other = Connect();
  Send(other, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(Read(other).find("hello you"), std::string::npos);
  ::close(other);

  EXPECT_NE(metrics_.Render().find(
                "hearth_http_requests_parked{listener=\"test\"} 20"),
            std::string::npos)
      << metrics_.Render();
  EXPECT_EQ(Ring(), 20u);
  for (int fd : waiting)
    EXPECT_NE(Read(fd).find("\r\n\r\nwoken"), std::string::npos);
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (metrics_.Render().find(
             "hearth_http_connections_idle_watched{listener=\"test\"} 20") ==
             std::string::npos &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(milliseconds(10));
  EXPECT_NE(metrics_.Render().find(
                "hearth_http_connections_idle_watched{listener=\"test\"} 20"),
            std::string::npos)
      << metrics_.Render();
  EXPECT_NE(metrics_.Render().find(
                "hearth_http_requests_parked{listener=\"test\"} 0"),
            std::string::npos);
  // Between requests the long polls' connections hold no thread either.
  other = Connect();
  auto t0 = std::chrono::steady_clock::now();
  Send(other, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(Read(other).find("hello you"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(1000));
  ::close(other);
  for (int fd : waiting) {
    Send(fd, "GET /hello?who=again HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_NE(Read(fd).find("hello again"), std::string::npos);
    ::close(fd);
  }
}

TEST_F(ServerTest, AnIdleConnectionAfterALongPollClosesAtTheKeepAliveTimeout) {
  Start(ServerOptions{
      .threads = 2, .keep_alive_timeout_s = 1, .wait_in_place = false});
  int fd = Connect();
  Send(fd, "GET /wait?ms=10 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(Read(fd).find("timed out"), std::string::npos);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(Closed(fd));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, milliseconds(800));
  ::close(fd);
}

TEST_F(ServerTest, AParkedRequestAnswersAtItsDeadline) {
  Start(ServerOptions{.threads = 2, .wait_in_place = false});
  int fd = Connect();
  auto t0 = std::chrono::steady_clock::now();
  Send(fd, "GET /wait?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string r = Read(fd);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, milliseconds(280));
  EXPECT_NE(r.find("\r\n\r\ntimed out"), std::string::npos) << r;
  // A wake-up after the answer changes nothing.
  EXPECT_EQ(Ring(), 1u);
  Send(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(Read(fd).find("hello you"), std::string::npos);
  ::close(fd);
}

TEST_F(ServerTest, StopAnswersParkedRequestsAtOnce) {
  Start(ServerOptions{.threads = 2, .wait_in_place = false});
  int fd = ParkOne();
  ASSERT_GE(fd, 0);
  auto t0 = std::chrono::steady_clock::now();
  server_->Stop();
  std::string r = Read(fd);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_NE(r.find("\r\n\r\ntimed out"), std::string::npos) << r;
  EXPECT_NE(r.find("Connection: close"), std::string::npos) << r;
  ::close(fd);
  thread_.join();
  // The server is gone: a late wake-up does nothing.
  EXPECT_EQ(Ring(), 1u);
}

// While the pool has room, a waiting request keeps its thread (cheaper
// than a hand-off) and still answers when woken, at its deadline, or at a
// stop.
TEST_F(ServerTest, AWaitOnItsOwnThreadAnswersWokenAtItsDeadlineOrAtAStop) {
  Start(ServerOptions{.threads = 8});
  int fd = Connect();
  Send(fd, "GET /wait?ms=30000 HTTP/1.1\r\nHost: x\r\n\r\n");
  WaitParked(1);
  ASSERT_EQ(Ring(), 1u);
  EXPECT_NE(Read(fd).find("\r\n\r\nwoken"), std::string::npos);
  auto t0 = std::chrono::steady_clock::now();
  Send(fd, "GET /wait?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(Read(fd).find("\r\n\r\ntimed out"), std::string::npos);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, milliseconds(180));
  Send(fd, "GET /wait?ms=30000 HTTP/1.1\r\nHost: x\r\n\r\n");
  WaitParked(2);
  ASSERT_EQ(ParkedCount(), 2u);  // the deadline's wake-up, and this one
  t0 = std::chrono::steady_clock::now();
  server_->Stop();
  std::string r = Read(fd);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_NE(r.find("\r\n\r\ntimed out"), std::string::npos) << r;
  ::close(fd);
}

// A request that would park once the server is stopping is answered at
// once with what there is, whether it would wait here or be parked.
TEST_F(ServerTest, ARequestThatWouldWaitAsTheServerStopsIsAnsweredAtOnce) {
  for (bool in_place : {false, true}) {
    Start(ServerOptions{.threads = 2, .wait_in_place = in_place});
    int fd = Connect();
    Send(fd, "GET /stop-and-wait HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string r = Read(fd);
    EXPECT_NE(r.find("\r\n\r\ntimed out"), std::string::npos) << r;
    EXPECT_NE(r.find("Connection: close"), std::string::npos) << r;
    ::close(fd);
    thread_.join();
    server_.reset();
  }
}

// A parked request whose client hangs up is ended then, not at its
// deadline, so a client cannot keep a socket by opening polls and leaving.
TEST_F(ServerTest, AParkedRequestWhoseClientHangsUpEndsAtOnce) {
  Start(ServerOptions{.threads = 2, .wait_in_place = false});
  int fd = ParkOne();
  ASSERT_GE(fd, 0);
  ::close(fd);
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (resumed_ == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(resumed_, 1);
}

}  // namespace
}  // namespace hearth::http
