// Groups and long-poll sync over HTTP keep-alive against real `hearth`
// processes on loopback:
//
//  1. the bare answer rate of cpp-httplib (in process, Nagle off, trivial
//     handler) and of GET /api/v1/node, for reference;
//  2. local group posts per second (durable before the reply) from 8
//     posters, each its own member and connection, in one open group, and
//     their ratio to the bare rate;
//  3. end-to-end fan-out latency over federation: nodes a, b, c mutually
//     peered, a group on a, a member of a posting at a fixed rate (open
//     loop), members on a, b and c receiving through sync on their own
//     node;
//  4. sync wake-up latency: from a post sent to a waiting member's sync
//     answering, on one node;
//  5. memory and threads of a node (64 http threads) with 1,000 members
//     each holding a waiting sync on its own connection, while 8 posters
//     post to another group (the rate shows whether the waiters stall
//     posting), and the time one post takes to wake all 1,000.
//
//   build/release/bench/groups_bench [--save] [--waiters N] [--phases 12345]
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench/bench_util.h"
#include "bench/member_util.h"
#include "tests/support/node_process.h"

using hearth::bench::Account;
using hearth::bench::Clock;
using hearth::bench::LoadResult;
using hearth::bench::Ms;
using hearth::bench::Percentiles;
using hearth::bench::Report;
using hearth::bench::RunLoad;
using hearth::bench::SyncReceiver;
using hearth::testing::NodeOptions;
using hearth::testing::NodeProcess;
using nlohmann::json;

namespace {

void PrintLine(const LoadResult& r) {
  std::printf(
      "  %-36s %8zu ok %4zu failed  %9.1f /s  p50 %7.2f ms  p99 %7.2f ms\n",
      r.name.c_str(), r.ok, r.failed, r.per_second(), r.p50_ms, r.p99_ms);
}

// Prints the node's CPU over a load run; returns microseconds per call.
double PrintNodeCpu(double cpu_seconds, const LoadResult& r) {
  double per_call = cpu_seconds * 1e6 / std::max<size_t>(r.ok, 1);
  std::printf("  node CPU %.0f%% of a core, %.0f us per post\n",
              cpu_seconds / r.seconds * 100, per_call);
  return per_call;
}

void PrintLatency(const std::string& name, const Percentiles& p,
                  size_t expected, size_t dups) {
  std::printf(
      "  %-36s %6zu/%zu arrived %3zu dup  p50 %7.2f ms  p99 %7.2f ms  max "
      "%7.2f ms\n",
      name.c_str(), p.n, expected, dups, p.p50, p.p99, p.max);
}

NodeOptions Options(const std::string& name, int http_threads = 128) {
  return NodeOptions{.server_name = name,
                     .log_level = "warn",
                     .http_threads = http_threads,
                     .allow_http = true};
}

bool StartAll(std::vector<NodeProcess*> nodes) {
  for (NodeProcess* n : nodes) {
    std::string error;
    if (!n->Start(&error)) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return false;
    }
  }
  return true;
}

// 1. Bare cpp-httplib: the ceiling for any handler on this machine.
LoadResult BareHttplib(int threads, std::chrono::milliseconds duration) {
  httplib::Server srv;
  srv.set_tcp_nodelay(true);
  srv.set_keep_alive_max_count(100000000);
  srv.new_task_queue = [threads] {
    return new httplib::ThreadPool(threads + 8);
  };
  srv.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  int port = srv.bind_to_any_port("127.0.0.1");
  std::thread server([&] { srv.listen_after_bind(); });
  while (!srv.is_running())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto r = RunLoad("bare httplib GET /", "127.0.0.1", port, threads, duration,
                   100000000, [](httplib::Client& c, int, size_t) {
                     auto res = c.Get("/");
                     return res && res->status == 200;
                   });
  srv.stop();
  server.join();
  return r;
}

// Waiting syncs held open on raw sockets (a thread per client connection
// would make the driver the subject of the test).
class RawWaiters {
 public:
  ~RawWaiters() {
    for (int fd : fds_) ::close(fd);
  }

  // One connection per (token, cursor), each sending one long poll.
  bool Open(
      int port,
      const std::vector<std::pair<std::string, std::string>>& token_cursor,
      int timeout_ms) {
    port_ = port;
    timeout_ms_ = timeout_ms;
    for (const auto& [token, cursor] : token_cursor) {
      int fd = ConnectFast(port);
      if (fd < 0) return false;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      timeval tv{5, 0};  // reading an answer that has begun
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      fds_.push_back(fd);
      tokens_.push_back(token);
      cursors_.push_back(cursor);
      answered_.push_back(false);
      if (!Send(fds_.size() - 1)) return false;
    }
    return true;
  }

  // Sends the next long poll on every connection that has answered, from
  // the cursor it answered with.
  bool Rearm() {
    for (size_t i = 0; i < fds_.size(); ++i) {
      if (!answered_[i]) continue;
      answered_[i] = false;
      --answered_count_;
      if (!Send(i)) return false;
    }
    return true;
  }

  // Connection attempts abandoned because the node's listen queue was
  // full (the SYN was dropped; the kernel would retry only after 1 s).
  size_t connect_retries() const { return retries_; }

  // Polls for answers for up to `wait_ms`; returns how many connections
  // have answered (or closed) so far. Non-200 answers are noted.
  size_t Poll(int wait_ms) {
    std::vector<pollfd> set;
    std::vector<size_t> index;
    for (size_t i = 0; i < fds_.size(); ++i) {
      if (answered_[i]) continue;
      set.push_back({fds_[i], POLLIN, 0});
      index.push_back(i);
    }
    if (!set.empty() && ::poll(set.data(), set.size(), wait_ms) > 0) {
      for (size_t k = 0; k < set.size(); ++k) {
        if (!set[k].revents) continue;
        answered_[index[k]] = true;
        ++answered_count_;
        Read(index[k]);
      }
    }
    return answered_count_;
  }

  // Polls until all have answered or `deadline`.
  size_t PollAll(Clock::time_point deadline) {
    while (answered_count_ < fds_.size() && Clock::now() < deadline)
      Poll(int(std::max<double>(1, Ms(deadline - Clock::now()))));
    return answered_count_;
  }

  size_t size() const { return fds_.size(); }

 private:
  // A loopback connect answers in microseconds unless the listen queue is
  // full; then give up after a few ms and try again rather than wait for
  // the kernel's 1 s SYN retransmission.
  int ConnectFast(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    for (int attempt = 0; attempt < 200; ++attempt) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (fd < 0) {
        hearth::bench::NoteFailure("socket (waiter)", std::strerror(errno));
        return -1;
      }
      int r = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      if (r != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, 5) == 1) {
          int err = 0;
          socklen_t len = sizeof err;
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
          r = err == 0 ? 0 : -1;
          errno = err;
        } else {
          errno = ETIMEDOUT;
        }
      }
      if (r == 0) {
        int flags = ::fcntl(fd, F_GETFL);
        ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        return fd;
      }
      ::close(fd);
      if (errno != ETIMEDOUT) {
        hearth::bench::NoteFailure("connect (waiter)", std::strerror(errno));
        return -1;
      }
      ++retries_;
      std::this_thread::sleep_for(std::chrono::milliseconds(1 + attempt));
    }
    hearth::bench::NoteFailure("connect (waiter)", "listen queue stayed full");
    return -1;
  }

  bool Send(size_t i) {
    std::string req =
        "GET /api/v1/sync?since=" + hearth::bench::PctEncode(cursors_[i]) +
        "&timeout=" + std::to_string(timeout_ms_) +
        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
        "\r\nAuthorization: Bearer " + tokens_[i] +
        "\r\nConnection: keep-alive\r\n\r\n";
    if (::send(fds_[i], req.data(), req.size(), MSG_NOSIGNAL) !=
        ssize_t(req.size())) {
      hearth::bench::NoteFailure("send (waiter)", std::strerror(errno));
      return false;
    }
    return true;
  }

  // Reads one whole answer (Content-Length framed) and keeps its `next`.
  void Read(size_t i) {
    std::string in;
    size_t header_end = std::string::npos, need = 0;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fds_[i], buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, n);
      if (header_end == std::string::npos) {
        header_end = in.find("\r\n\r\n");
        if (header_end == std::string::npos) continue;
        std::string head = in.substr(0, header_end);
        for (auto& ch : head) ch = char(std::tolower((unsigned char)ch));
        auto cl = head.find("content-length:");
        need =
            header_end + 4 +
            (cl == std::string::npos ? 0 : std::atol(head.c_str() + cl + 15));
      }
      if (in.size() >= need) break;
    }
    if (in.rfind("HTTP/1.1 200", 0) != 0 || header_end == std::string::npos) {
      hearth::bench::NoteFailure("GET /api/v1/sync (waiter)",
                                 in.empty() ? "(closed)" : in.substr(0, 300));
      return;
    }
    auto j = json::parse(in.substr(header_end + 4), nullptr, false);
    if (j.is_object() && j["next"].is_string()) cursors_[i] = j["next"];
  }

  int port_ = 0;
  int timeout_ms_ = 0;
  size_t retries_ = 0;
  std::vector<std::string> tokens_, cursors_;
  std::vector<int> fds_;
  std::vector<bool> answered_;
  size_t answered_count_ = 0;
};

// Mean microseconds of a 4 KiB write plus fdatasync in `dir` (100 times).
double FlushMicros(const std::string& dir) {
  std::string path = dir + "/flush-probe";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return -1;
  char block[4096];
  std::memset(block, 'x', sizeof block);
  const int rounds = 100;
  auto start = Clock::now();
  for (int i = 0; i < rounds; ++i) {
    if (::pwrite(fd, block, sizeof block, off_t(i % 16) * 4096) < 0 ||
        ::fdatasync(fd) != 0)
      break;
  }
  double us = Ms(Clock::now() - start) * 1000.0 / rounds;
  ::close(fd);
  ::unlink(path.c_str());
  return us;
}

// One unlabelled sample from the node's /metrics (-1 if unreadable).
double Metric(NodeProcess& node, const std::string& name) {
  auto c = node.AdminClient();
  auto res =
      c->Get("/metrics", {{"Authorization", "Bearer " + node.admin_token()}});
  if (!res || res->status != 200) return -1;
  std::string line = "\n" + name + " ";
  auto pos = res->body.find(line);
  if (pos == std::string::npos) return -1;
  return std::atof(res->body.c_str() + pos + line.size());
}

double SyncWaiting(NodeProcess& node) {
  return Metric(node, "hearth_sync_waiting");
}

// The first sync of each member (no cursor), from 8 connections: its
// `next`, or "" if it failed.
std::vector<std::string> FirstCursors(const std::vector<Account>& members) {
  std::vector<std::string> out(members.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 8; ++t) {
    workers.emplace_back([&] {
      auto c = hearth::bench::Connect(members.front().port);
      for (size_t i; (i = next.fetch_add(1)) < members.size();) {
        auto res =
            hearth::testing::GetWithToken(*c, "/api/v1/sync", members[i].token);
        json j = hearth::testing::JsonOf(res);
        if (!res || res->status != 200 || !j.is_object() ||
            j["next"].is_null()) {
          hearth::bench::NoteFailure("GET /api/v1/sync (first)", res);
          continue;
        }
        out[i] = j["next"].is_string() ? j["next"].get<std::string>()
                                       : j["next"].dump();
      }
    });
  }
  for (auto& w : workers) w.join();
  return out;
}

// A post op for RunLoad: thread t posts as posters[t].
hearth::bench::Op PostOp(const std::vector<Account>& posters,
                         const std::string& gid) {
  std::string path =
      "/api/v1/groups/" + hearth::bench::PctEncode(gid) + "/messages";
  return [&posters, path](httplib::Client& c, int t, size_t seq) {
    std::string body =
        json{{"body", "post " + std::to_string(t) + "-" + std::to_string(seq) +
                          " " + std::string(160, 'p')}}
            .dump();
    auto res =
        c.Post(path.c_str(), {{"Authorization", "Bearer " + posters[t].token}},
               body, "application/json");
    if (!res || res->status != 201) {
      hearth::bench::NoteFailure("POST /api/v1/groups/{gid}/messages", res);
      return false;
    }
    return true;
  };
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"groups and sync benchmark"};
  bool save = false;
  int waiters_n = 1000;
  std::string baseline =
      std::string(HEARTH_SOURCE_DIR) + "/bench/baseline/groups_bench.json";
  app.add_flag("--save", save, "replace the baseline with this run");
  app.add_option("--waiters", waiters_n, "members waiting in sync (phase 5)")
      ->capture_default_str();
  std::string phases = "12345";
  app.add_option("--phases", phases, "which phases to run (digits)")
      ->capture_default_str();
  app.add_option("--baseline", baseline, "baseline file")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  auto want = [&](char p) { return phases.find(p) != std::string::npos; };
  {
    // Room for the waiters' sockets here and in the node (inherited).
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  Report report;
  const auto start_all = Clock::now();
  const int posters_n = 8;
  std::printf("groups_bench: %u cores\n", std::thread::hardware_concurrency());

  NodeProcess a(Options("a.test")), b(Options("b.test")), c(Options("c.test"));
  if (!StartAll({&a, &b, &c})) return 1;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  long a_idle = hearth::bench::RssKib(a.pid());
  std::printf("node a idle: RSS %.1f MiB, %d threads\n", a_idle / 1024.0,
              hearth::bench::ProcessThreads(a.pid()));
  report.Add("node idle RSS (128 http threads)", a_idle / 1024.0, "MiB", false);

  auto ca = a.Client();
  LoadResult bare, posts;

  // 1. Reference answer rates (also the base of phase 2's ratio).
  if (want('1') || want('2')) {
    std::printf("\n1. HTTP answer rate, 8 keep-alive connections\n");
    bare = BareHttplib(8, std::chrono::seconds(3));
    PrintLine(bare);
    report.Add(bare);
    auto node_get = RunLoad("GET /api/v1/node", "127.0.0.1", a.port(), 8,
                            std::chrono::seconds(3), 100000000,
                            [](httplib::Client& cl, int, size_t) {
                              auto res = cl.Get("/api/v1/node");
                              return res && res->status == 200;
                            });
    PrintLine(node_get);
    report.Add(node_get);
  }

  // 2. Local group posts.
  if (want('2')) {
    // What one durable commit costs this disk: a 4 KiB write and its
    // fdatasync, next to the node's store. With N posters there are at
    // most N posts per commit, so N / (commit time) bounds the rate.
    double flush_us = FlushMicros(a.data_dir());
    std::printf(
        "\n2. local group posts (disk: 4 KiB write + fdatasync %.0f us)\n",
        flush_us);
    report.Add("disk 4 KiB write + fdatasync", flush_us, "us", false);
    auto run = [&](int n, const std::string& label) -> LoadResult {
      auto posters = hearth::bench::RegisterMany(a.port(), "p" + label, n);
      std::string gid = int(posters.size()) == n
                            ? hearth::bench::CreateGroup(*ca, posters[0], label)
                            : "";
      if (gid.empty()) {
        hearth::bench::PrintFailures();
        return LoadResult{};
      }
      hearth::bench::JoinMany({posters.begin() + 1, posters.end()}, gid);
      double cpu0 = hearth::bench::ProcessCpuSeconds(a.pid());
      double commits0 = Metric(a, "hearth_storage_commits_total");
      double changes0 = Metric(a, "hearth_storage_changes_total");
      // (The 8-poster figures keep their old names: baseline continuity.)
      std::string name = n == posters_n ? std::string("group post (durable)")
                                        : "group post (durable), " +
                                              std::to_string(n) + " posters";
      std::string short_name =
          n == posters_n ? std::string("group post")
                         : "group post, " + std::to_string(n) + " posters";
      LoadResult r =
          RunLoad(name, "127.0.0.1", a.port(), n, std::chrono::seconds(4),
                  100000000, PostOp(posters, gid));
      double cpu = hearth::bench::ProcessCpuSeconds(a.pid()) - cpu0;
      PrintLine(r);
      report.Add(r);
      report.Add(short_name + " node CPU", PrintNodeCpu(cpu, r), "us/post",
                 false);
      double commits = Metric(a, "hearth_storage_commits_total") - commits0;
      double changes = Metric(a, "hearth_storage_changes_total") - changes0;
      if (commits > 0) {
        std::printf("  %.0f durable commits, %.2f changes each\n", commits,
                    changes / commits);
        report.Add(short_name + " changes per commit", changes / commits,
                   "changes", true);
      }
      return r;
    };
    posts = run(posters_n, "local");
    double ratio =
        bare.per_second() > 0 ? posts.per_second() / bare.per_second() : 0;
    std::printf("  posts/s / bare httplib rate = %.3f (goal >= 0.5)\n", ratio);
    report.Add("group post / bare httplib", ratio, "ratio");
    // Enough posters that commits fill up: the rate the CPU allows.
    LoadResult wide = run(64, "wide");
    double wide_ratio =
        bare.per_second() > 0 ? wide.per_second() / bare.per_second() : 0;
    std::printf("  64 posters: posts/s / bare httplib rate = %.3f\n",
                wide_ratio);
    report.Add("group post, 64 posters / bare httplib", wide_ratio, "ratio");
  }

  // 3. Fan-out over federation.
  if (want('3')) {
    std::printf(
        "\n3. fan-out latency: group on a, poster on a at 200/s for 5 s (open "
        "loop), receivers' sync on a, b, c\n");
    for (auto [x, y] :
         {std::pair{&a, &b}, std::pair{&a, &c}, std::pair{&b, &c}}) {
      if (std::string problem = hearth::testing::PeerNodes(*x, *y);
          !problem.empty()) {
        std::fprintf(stderr, "peering failed: %s\n", problem.c_str());
        return 1;
      }
    }
    {
      auto fa = hearth::bench::RegisterMany(a.port(), "fan", 2);
      auto fb = hearth::bench::RegisterMany(b.port(), "fan", 1);
      auto fc = hearth::bench::RegisterMany(c.port(), "fan", 1);
      if (fa.size() != 2 || fb.size() != 1 || fc.size() != 1) {
        hearth::bench::PrintFailures();
        return 1;
      }
      std::string gid = hearth::bench::CreateGroup(*ca, fa[0], "fanout");
      std::vector<Account> receivers = {fa[1], fb[0], fc[0]};
      size_t joined = gid.empty() ? 0 : hearth::bench::JoinMany(receivers, gid);
      std::vector<std::unique_ptr<SyncReceiver>> rx;
      bool started = joined == receivers.size();
      for (const auto& m : receivers) {
        rx.push_back(std::make_unique<SyncReceiver>(m));
        started = started && rx.back()->Start();
      }
      if (!started) {
        std::printf("  setup failed\n");
      } else {
        // Warm-up: the first messages open the peer connections.
        hearth::bench::PostMessages(fa[0], gid, 0, 10, 100, 2, 200);
        for (auto& r : rx)
          r->WaitAll(0, 10, Clock::now() + std::chrono::seconds(20));
        const int n = 1000;
        auto run =
            hearth::bench::PostMessages(fa[0], gid, 1000, n, 200.0, 4, 200);
        std::printf(
            "  posted %zu ok %zu failed at %.0f/s offered (%.0f/s achieved), "
            "post p50 %.2f ms p99 %.2f ms\n",
            run.ok, run.failed, 200.0, run.ok / run.seconds(), run.reply.p50,
            run.reply.p99);
        const char* names[] = {"a (local)", "b (remote)", "c (remote)"};
        for (size_t i = 0; i < rx.size(); ++i) {
          rx[i]->WaitAll(1000, 1000 + n, run.end + std::chrono::seconds(30));
          auto got = rx[i]->Collect(1000, 1000 + n);
          auto p = hearth::bench::Summarize(got.latency_ms);
          PrintLatency(std::string("fan-out to ") + names[i], p, n,
                       got.duplicates);
          std::string key = std::string("fan-out ") + char('a' + i);
          report.Add(key + " p50", p.p50, "ms", false);
          report.Add(key + " p99", p.p99, "ms", false);
          if (got.received < size_t(n))
            report.Add(key + " lost", double(n - got.received), "msgs", false);
        }
      }
      for (auto& r : rx) r->Stop();
    }
  }

  // 4. Sync wake-up latency on one node.
  if (want('4')) {
    std::printf(
        "\n4. sync wake-up: post sent -> waiting member's sync answers\n");
    auto w = hearth::bench::RegisterMany(a.port(), "wake", 2);
    std::string gid =
        w.size() == 2 ? hearth::bench::CreateGroup(*ca, w[1], "wake") : "";
    SyncReceiver rx(w.empty() ? Account{} : w[0]);
    if (gid.empty() || !hearth::bench::JoinGroup(*ca, w[0], gid) ||
        !rx.Start()) {
      std::printf("  setup failed\n");
    } else {
      const int samples = 200;
      auto pc = a.Client();
      for (int i = 0; i < samples; ++i) {
        // Let the receiver's next poll park on the node.
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        hearth::bench::Post(*pc, w[1], gid,
                            hearth::bench::MakeBody(i, Clock::now(), 200));
        rx.WaitAll(i, i + 1, Clock::now() + std::chrono::seconds(5));
      }
      auto got = rx.Collect(0, samples);
      auto p = hearth::bench::Summarize(got.latency_ms);
      PrintLatency("sync wake-up", p, samples, got.duplicates);
      report.Add("sync wake-up p50", p.p50, "ms", false);
      report.Add("sync wake-up p99", p.p99, "ms", false);
    }
    rx.Stop();
  }
  ca.reset();
  a.Stop();
  b.Stop();
  c.Stop();

  // 5. Many waiting members.
  if (want('5')) {
    // Waiting syncs are parked without a thread (node/http/server.h), so
    // a small pool serves them all.
    constexpr int kThreads = 64;
    std::printf(
        "\n5. %d members each waiting in sync (timeout 60 s) on its own "
        "connection; node with http_threads = %d\n",
        waiters_n, kThreads);
    NodeProcess m(Options("m.test", kThreads));
    if (!StartAll({&m})) return 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    long idle = hearth::bench::RssKib(m.pid());
    int idle_threads = hearth::bench::ProcessThreads(m.pid());
    std::printf("  idle: RSS %.1f MiB, %d threads\n", idle / 1024.0,
                idle_threads);
    report.Add("waiters node idle RSS", idle / 1024.0, "MiB", false);

    auto t0 = Clock::now();
    auto members = hearth::bench::RegisterMany(m.port(), "w", waiters_n, 8);
    auto busy_posters =
        hearth::bench::RegisterMany(m.port(), "p", posters_n, posters_n);
    std::printf("  registered %zu + %zu members in %.1f s\n", members.size(),
                busy_posters.size(), hearth::bench::SecondsSince(t0));
    auto cm = m.Client();
    if (int(members.size()) != waiters_n ||
        int(busy_posters.size()) != posters_n) {
      hearth::bench::PrintFailures();
      return 1;
    }
    std::string quiet = hearth::bench::CreateGroup(*cm, members[0], "quiet");
    std::string busy = hearth::bench::CreateGroup(*cm, busy_posters[0], "busy");
    t0 = Clock::now();
    size_t joined = quiet.empty()
                        ? 0
                        : hearth::bench::JoinMany(
                              {members.begin() + 1, members.end()}, quiet);
    if (!busy.empty())
      hearth::bench::JoinMany({busy_posters.begin() + 1, busy_posters.end()},
                              busy);
    std::printf("  %zu joined the quiet group in %.1f s\n", joined + 1,
                hearth::bench::SecondsSince(t0));
    t0 = Clock::now();
    auto cursors = FirstCursors(members);
    std::printf("  first syncs in %.1f s\n", hearth::bench::SecondsSince(t0));
    std::vector<std::pair<std::string, std::string>> token_cursor;
    for (size_t i = 0; i < members.size(); ++i)
      if (!cursors[i].empty())
        token_cursor.emplace_back(members[i].token, cursors[i]);
    long before = hearth::bench::RssKib(m.pid());

    RawWaiters waiters;
    t0 = Clock::now();
    bool opened = waiters.Open(m.port(), token_cursor, 60000);
    std::printf("  %zu waiting syncs opened in %.2f s%s\n", waiters.size(),
                hearth::bench::SecondsSince(t0), opened ? "" : " (FAILED)");
    // Until the node has them all parked (bounded).
    auto wait_parked = [&] {
      double parked = 0;
      for (auto until = Clock::now() + std::chrono::seconds(20);
           Clock::now() < until;) {
        parked = SyncWaiting(m);
        if (parked >= double(waiters.size())) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      return parked;
    };
    double parked = wait_parked();
    std::printf(
        "  node reports %.0f members waiting in sync; %zu connects "
        "retried (listen queue full)\n",
        parked, waiters.connect_retries());
    size_t early = waiters.Poll(0);
    long waiting = hearth::bench::RssKib(m.pid());
    int waiting_threads = hearth::bench::ProcessThreads(m.pid());
    std::printf(
        "  RSS before waiters %.1f MiB, with %zu waiting %.1f MiB (%.1f KiB "
        "per waiter), %d threads; answered early: %zu\n",
        before / 1024.0, waiters.size(), waiting / 1024.0,
        waiters.size() ? double(waiting - before) / waiters.size() : 0.0,
        waiting_threads, early);
    report.Add("RSS with waiters", waiting / 1024.0, "MiB", false);
    report.Add("RSS per waiter",
               waiters.size() ? double(waiting - before) / waiters.size() : 0,
               "KiB", false);
    report.Add("threads with waiters", waiting_threads, "threads", false);

    // One post to the quiet group wakes every waiter.
    auto pq = m.Client();
    auto wake_all = [&](const std::string& label, const std::string& figure) {
      size_t answered = waiters.Poll(0);
      auto sent = Clock::now();
      bool posted = hearth::bench::Post(*pq, members[0], quiet, "wake up");
      size_t woke =
          posted ? waiters.PollAll(sent + std::chrono::seconds(30)) - answered
                 : 0;
      double ms = Ms(Clock::now() - sent);
      std::printf("  %s: one post woke %zu of %zu waiters in %.1f ms\n",
                  label.c_str(), woke, waiters.size() - answered, ms);
      report.Add(figure, ms, "ms", false);
    };
    wake_all("wake-up, fresh cursors", "wake all waiters");
    waiters.Rearm();
    wait_parked();

    double cpu0 = hearth::bench::ProcessCpuSeconds(m.pid());
    auto loaded =
        RunLoad("group post with waiters", "127.0.0.1", m.port(), posters_n,
                std::chrono::seconds(3), 100000000, PostOp(busy_posters, busy));
    double cpu = hearth::bench::ProcessCpuSeconds(m.pid()) - cpu0;
    PrintLine(loaded);
    report.Add(loaded);
    PrintNodeCpu(cpu, loaded);
    if (posts.per_second() > 0)
      std::printf("  post rate with waiters / without (phase 2) = %.3f\n",
                  loaded.per_second() / posts.per_second());
    size_t answered = waiters.Poll(0);
    std::printf(
        "  after posting: RSS %.1f MiB, %d threads; waiters answered (should "
        "be 0): %zu\n",
        hearth::bench::RssKib(m.pid()) / 1024.0,
        hearth::bench::ProcessThreads(m.pid()), answered);
    // Each woken waiter now reads past the busy group's posts.
    wake_all("wake-up after " + std::to_string(loaded.ok) +
                 " posts to another group",
             "wake all waiters after busy posts");
  }

  std::printf("\ntotal time %.1f s\n", hearth::bench::SecondsSince(start_all));
  hearth::bench::PrintFailures();
  report.Print(baseline, save);
  return 0;
}
