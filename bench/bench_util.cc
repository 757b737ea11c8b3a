#include "bench/bench_util.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

namespace hearth::bench {

LoadResult RunLoad(const std::string& name, const std::string& host, int port,
                   int threads, std::chrono::milliseconds duration,
                   size_t max_ops, const Op& op) {
  using Clock = std::chrono::steady_clock;
  std::atomic<size_t> issued{0}, ok{0}, failed{0};
  std::mutex mu;
  std::vector<double> latencies;
  auto start = Clock::now();
  auto deadline = start + duration;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      httplib::Client client(host, port);
      client.set_keep_alive(true);
      // httplib's client writes headers and body in two send() calls; with
      // Nagle on, the body waits for the server's delayed ACK (~40 ms).
      client.set_tcp_nodelay(true);
      client.set_connection_timeout(5, 0);
      client.set_read_timeout(30, 0);
      std::vector<double> mine;
      for (size_t seq = 0; Clock::now() < deadline; ++seq) {
        if (issued.fetch_add(1) >= max_ops) break;
        auto t0 = Clock::now();
        bool good = op(client, t, seq);
        mine.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - t0)
                .count());
        (good ? ok : failed)++;
      }
      std::lock_guard<std::mutex> lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& w : workers) w.join();
  LoadResult r;
  r.name = name;
  r.ok = ok;
  r.failed = failed;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  if (!latencies.empty()) {
    r.p50_ms = latencies[latencies.size() / 2];
    r.p99_ms =
        latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
  }
  return r;
}

long RssKib(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  const std::string name = field;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) == 0) return std::stol(line.substr(name.size()));
  }
  return 0;
}

void Report::Add(const std::string& name, double value, const std::string& unit,
                 bool higher_is_better) {
  figures_.push_back({name, value, unit, higher_is_better});
}

void Report::Add(const LoadResult& r) {
  Add(r.name + " rate", r.per_second(), "ops/s");
  Add(r.name + " p50", r.p50_ms, "ms", false);
  Add(r.name + " p99", r.p99_ms, "ms", false);
  if (r.failed > 0) Add(r.name + " failed", double(r.failed), "ops", false);
}

void Report::Print(const std::string& baseline_path, bool save) const {
  nlohmann::json previous = nlohmann::json::object();
  {
    std::ifstream in(baseline_path);
    if (in) {
      previous = nlohmann::json::parse(in, nullptr, false);
      if (previous.is_discarded()) previous = nlohmann::json::object();
    }
  }
  std::printf("\n%-44s %12s %-6s %12s %9s\n", "figure", "value", "unit",
              "previous", "change");
  nlohmann::json now = nlohmann::json::object();
  for (const Figure& f : figures_) {
    now[f.name] = f.value;
    std::string prev = "-", change = "-";
    if (previous.contains(f.name) && previous[f.name].is_number()) {
      double p = previous[f.name].get<double>();
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2f", p);
      prev = buf;
      if (p != 0) {
        double pct = (f.value - p) / p * 100;
        std::snprintf(buf, sizeof buf, "%+.1f%%%s", pct,
                      ((pct > 10) == f.higher_is_better && std::abs(pct) > 10)
                          ? ""
                          : (std::abs(pct) > 10 ? " !" : ""));
        change = buf;
      }
    }
    std::printf("%-44s %12.2f %-6s %12s %9s\n", f.name.c_str(), f.value,
                f.unit.c_str(), prev.c_str(), change.c_str());
  }
  if (save) {
    // Figures this run did not measure (a partial --phases run) keep their
    // previous values.
    nlohmann::json merged = previous;
    for (const auto& [name, value] : now.items()) merged[name] = value;
    std::ofstream(baseline_path) << merged.dump(2) << "\n";
    std::printf("\nsaved as the new baseline: %s\n", baseline_path.c_str());
  } else {
    std::printf("\n(baseline: %s; pass --save to replace it)\n",
                baseline_path.c_str());
  }
}

}  // namespace hearth::bench
