// Accounts over HTTP against a real `hearth` process on loopback, with
// keep-alive connections: registrations/s and logins/s (with the default
// Argon2id cost, and with a token cost that shows everything but hashing),
// authenticated reads, the bare answer rate of the HTTP layer for
// reference, and the node's memory idle and after load.
//
//   build/release/bench/accounts_bench [--save] [--seconds N] [--threads N]
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench/bench_util.h"
#include "tests/support/node_process.h"

using hearth::bench::LoadResult;
using hearth::bench::Report;
using hearth::bench::RunLoad;
using hearth::testing::NodeOptions;
using hearth::testing::NodeProcess;
using nlohmann::json;

namespace {

bool Register(httplib::Client& c, const std::string& handle) {
  auto res =
      c.Post("/api/v1/accounts",
             json{{"handle", handle}, {"password", "bench password"}}.dump(),
             "application/json");
  return res && res->status == 201;
}

bool Login(httplib::Client& c, const std::string& handle) {
  auto res =
      c.Post("/api/v1/sessions",
             json{{"handle", handle}, {"password", "bench password"}}.dump(),
             "application/json");
  return res && res->status == 200;
}

void PrintLine(const LoadResult& r) {
  std::printf(
      "  %-34s %8zu ok %4zu failed  %9.1f /s  p50 %7.2f ms  p99 %7.2f ms\n",
      r.name.c_str(), r.ok, r.failed, r.per_second(), r.p50_ms, r.p99_ms);
}

// Runs the account workload against one node; `label` prefixes figures.
void Measure(NodeProcess& node, const std::string& label, int threads,
             std::chrono::milliseconds duration, Report& report) {
  const std::string host = "127.0.0.1";
  // Each connection registers t<thread>-0, -1, ... and counts its accounts.
  std::vector<size_t> made(threads, 0);
  auto reg = RunLoad(label + " register", host, node.port(), threads, duration,
                     200000, [&](httplib::Client& c, int t, size_t) {
                       bool ok = Register(c, "t" + std::to_string(t) + "-" +
                                                 std::to_string(made[t]));
                       if (ok) ++made[t];
                       return ok;
                     });
  PrintLine(reg);
  report.Add(reg);
  // Log in as the accounts just made, round-robin.
  auto login = RunLoad(
      label + " login", host, node.port(), threads, duration, 200000,
      [&](httplib::Client& c, int t, size_t i) {
        return Login(c, "t" + std::to_string(t) + "-" +
                            std::to_string(i % std::max<size_t>(made[t], 1)));
      });
  PrintLine(login);
  report.Add(login);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"accounts benchmark"};
  bool save = false;
  int seconds = 5, threads = 8;
  std::string baseline =
      std::string(HEARTH_SOURCE_DIR) + "/bench/baseline/accounts_bench.json";
  app.add_flag("--save", save, "replace the baseline with this run");
  app.add_option("--seconds", seconds, "seconds per phase")
      ->capture_default_str();
  app.add_option("--threads", threads, "client connections")
      ->capture_default_str();
  app.add_option("--baseline", baseline, "baseline file")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  auto duration = std::chrono::milliseconds(seconds * 1000);
  Report report;

  std::printf("accounts_bench: %d connections, %d s per phase, %u cores\n",
              threads, seconds, std::thread::hardware_concurrency());

  // The default Argon2id cost (m=19456 KiB, t=2, p=1), as deployed.
  {
    NodeProcess node(NodeOptions{.accounts_extra = "", .log_level = "warn"});
    std::string error;
    if (!node.Start(&error)) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    long idle = hearth::bench::RssKib(node.pid());
    std::printf("node (default Argon2id cost), idle RSS %.1f MiB\n",
                idle / 1024.0);
    report.Add("idle RSS", idle / 1024.0, "MiB", false);

    auto bare = RunLoad("GET /api/v1/node (bare HTTP)", "127.0.0.1",
                        node.port(), threads, duration, 2000000,
                        [](httplib::Client& c, int, size_t) {
                          auto res = c.Get("/api/v1/node");
                          return res && res->status == 200;
                        });
    PrintLine(bare);
    report.Add(bare);

    Measure(node, "argon2-default", threads, duration, report);

    // Authenticated reads: session lookup in LMDB per request.
    httplib::Client c("127.0.0.1", node.port());
    c.set_tcp_nodelay(true);
    auto login =
        c.Post("/api/v1/sessions",
               json{{"handle", "t0-0"}, {"password", "bench password"}}.dump(),
               "application/json");
    std::string token =
        login && login->status == 200
            ? json::parse(login->body)["token"].get<std::string>()
            : "";
    auto me = RunLoad(
        "GET /api/v1/me (authenticated)", "127.0.0.1", node.port(), threads,
        duration, 2000000, [&](httplib::Client& cl, int, size_t) {
          auto res =
              cl.Get("/api/v1/me", {{"Authorization", "Bearer " + token}});
          return res && res->status == 200;
        });
    PrintLine(me);
    report.Add(me);
    long loaded = hearth::bench::RssKib(node.pid());
    std::printf("node RSS after load %.1f MiB\n", loaded / 1024.0);
    report.Add("RSS after load", loaded / 1024.0, "MiB", false);
  }

  // A token cost, to see the server and storage path without the hash.
  {
    NodeProcess node(NodeOptions{.log_level = "warn"});
    std::string error;
    if (!node.Start(&error)) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 1;
    }
    std::printf("node (Argon2id m=256 KiB, t=1: hashing nearly free)\n");
    Measure(node, "argon2-cheap", threads, duration, report);
  }

  report.Print(baseline, save);
  return 0;
}
