// A group chat load test shaped like the usual XMPP multi-user chat (MUC)
// benchmark, so that Hearth can be set beside Prosody:
//
//  - a group of 10 members; scenario `single`: all on the host node;
//    scenario `fed`: the sender and 4 others on the host, 5 on a second,
//    peered node;
//  - the sender is a member: 50 warm-up messages, then 2,000 messages of
//    200 bytes with at most 64 posts unanswered (64 keep-alive
//    connections, one post outstanding on each);
//  - every member, the sender too, receives through its own long-poll
//    sync on its own node (a connection and thread each);
//  - then a paced phase: 1,000 messages at 200/s (open loop).
//
// Prints accepted and delivered messages/s, lost and duplicated messages
// per member, delivery latency for local and remote members, each node's
// CPU per message (utime+stime from /proc/PID/stat) and RSS (idle, joined,
// peak sampled every 50 ms), the driver's own CPU, and Prosody 0.12's
// figures for the same test.
//
//   build/release/bench/muc_bench [--save] [--scenario single|fed|both]
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <thread>

#include "bench/bench_util.h"
#include "bench/member_util.h"
#include "tests/support/node_process.h"

using hearth::bench::Account;
using hearth::bench::Clock;
using hearth::bench::Percentiles;
using hearth::bench::Report;
using hearth::bench::SyncReceiver;
using hearth::testing::NodeOptions;
using hearth::testing::NodeProcess;

namespace {

// Prosody 0.12 in the same test, on the same kind of machine.
constexpr double kProsodySingleRate = 1600;
constexpr double kProsodyFedRate = 1200;
constexpr double kProsodyCpuUsPerMsg = 555;
constexpr double kProsodyPacedP99Local = 5;
constexpr double kProsodyPacedP99Remote = 7;
constexpr double kProsodyRssMiB = 16.5;

struct Settings {
  int members = 10;
  int remote_members = 5;  // fed only
  int warmup = 50;
  int messages = 2000;
  int window = 64;
  int paced = 1000;
  double rate = 200;
  size_t body = 200;
  int http_threads = 256;
};

// What one scenario measured, for the closing comparison.
struct Outcome {
  std::string name;
  bool ok = false;
  double accepted = 0, delivered = 0;
  double host_cpu_us = 0, remote_cpu_us = 0;
  Percentiles paced_local, paced_remote;
  double host_peak_mib = 0;
};

struct NodeSide {
  std::string label;
  NodeProcess* node;
  long idle = 0, joined = 0, peak = 0, peak_anon = 0;
  double cpu_burst_s = 0, cpu_paced_s = 0;
};

// Per-member results of one phase, summed into local and remote.
struct PhaseResult {
  size_t lost = 0, duplicated = 0;
  Percentiles local, remote;
  Clock::time_point complete{};  // last member has the last message
  bool all = true;
};

PhaseResult Gather(const std::string& phase,
                   const std::vector<std::unique_ptr<SyncReceiver>>& rx,
                   const std::vector<bool>& is_remote, std::int64_t lo,
                   std::int64_t hi, Clock::time_point deadline) {
  PhaseResult out;
  std::vector<double> local, remote;
  std::printf("  %s, per member:\n", phase.c_str());
  for (size_t i = 0; i < rx.size(); ++i) {
    bool all = rx[i]->WaitAll(lo, hi, deadline);
    out.all = out.all && all;
    auto got = rx[i]->Collect(lo, hi);
    size_t lost = size_t(hi - lo) - got.received;
    out.lost += lost;
    out.duplicated += got.duplicates;
    out.complete = std::max(out.complete, got.last_first_arrival);
    auto p = hearth::bench::Summarize(got.latency_ms);
    std::printf(
        "    member %2zu %-6s %5zu received %3zu lost %3zu dup  p50 %7.2f ms  "
        "p99 %7.2f ms  (%zu syncs so far)\n",
        i, is_remote[i] ? "remote" : "local", got.received, lost,
        got.duplicates, p.p50, p.p99, rx[i]->sync_calls());
    auto& into = is_remote[i] ? remote : local;
    into.insert(into.end(), got.latency_ms.begin(), got.latency_ms.end());
  }
  out.local = hearth::bench::Summarize(std::move(local));
  out.remote = hearth::bench::Summarize(std::move(remote));
  return out;
}

Outcome RunScenario(bool fed, const Settings& s, Report& report) {
  Outcome o;
  o.name = fed ? "fed" : "single";
  const std::string& sc = o.name;
  std::printf("\n=== scenario %s: %d members%s ===\n", sc.c_str(), s.members,
              fed ? (", " + std::to_string(s.remote_members) +
                     " of them on a second node")
                        .c_str()
                  : ", all on the host");

  auto options = [&s](const std::string& name) {
    return NodeOptions{.server_name = name,
                       .log_level = "warn",
                       .http_threads = s.http_threads,
                       .allow_http = true};
  };
  NodeProcess host(options("host.test"));
  std::unique_ptr<NodeProcess> remote;
  if (fed) remote = std::make_unique<NodeProcess>(options("remote.test"));
  std::vector<NodeSide> nodes = {{"host", &host}};
  if (fed) nodes.push_back({"remote", remote.get()});
  for (auto& n : nodes) {
    std::string error;
    if (!n.node->Start(&error)) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return o;
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (auto& n : nodes) n.idle = hearth::bench::RssKib(n.node->pid());
  if (fed) {
    if (std::string problem = hearth::testing::PeerNodes(host, *remote);
        !problem.empty()) {
      std::fprintf(stderr, "peering failed: %s\n", problem.c_str());
      return o;
    }
  }

  int on_host = fed ? s.members - s.remote_members : s.members;
  auto members = hearth::bench::RegisterMany(host.port(), "u", on_host);
  std::vector<bool> is_remote(members.size(), false);
  if (fed) {
    auto more =
        hearth::bench::RegisterMany(remote->port(), "v", s.remote_members);
    members.insert(members.end(), more.begin(), more.end());
    is_remote.resize(members.size(), true);
  }
  if (int(members.size()) != s.members) {
    std::printf("  registration failed\n");
    return o;
  }
  const Account& sender = members[0];
  auto hc = host.Client();
  std::string gid = hearth::bench::CreateGroup(*hc, sender, "muc");
  if (gid.empty()) return o;
  size_t joined =
      1 + hearth::bench::JoinMany({members.begin() + 1, members.end()}, gid);
  if (joined != members.size()) {
    std::printf("  only %zu of %zu members joined\n", joined, members.size());
    return o;
  }
  std::vector<std::unique_ptr<SyncReceiver>> rx;
  for (const auto& m : members) {
    rx.push_back(std::make_unique<SyncReceiver>(m));
    if (!rx.back()->Start()) {
      std::printf("  sync failed\n");
      return o;
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (auto& n : nodes) n.joined = hearth::bench::RssKib(n.node->pid());
  {
    // CPU the nodes use with every member waiting and nothing posted:
    // part of every phase's figure, most visible in the paced one.
    std::vector<double> before;
    for (auto& n : nodes)
      before.push_back(hearth::bench::ProcessCpuSeconds(n.node->pid()));
    std::this_thread::sleep_for(std::chrono::seconds(1));
    for (size_t i = 0; i < nodes.size(); ++i)
      std::printf(
          "  %-6s idle CPU with members waiting: %.1f%% of a core\n",
          nodes[i].label.c_str(),
          (hearth::bench::ProcessCpuSeconds(nodes[i].node->pid()) - before[i]) *
              100);
  }
  std::vector<pid_t> pids;
  for (auto& n : nodes) pids.push_back(n.node->pid());
  hearth::bench::RssSampler sampler(pids, std::chrono::milliseconds(50));

  // Warm-up.
  auto warm = hearth::bench::PostMessages(sender, gid, 0, s.warmup, 0, s.window,
                                          s.body);
  bool warm_all = true;
  auto warm_deadline = Clock::now() + std::chrono::seconds(30);
  for (auto& r : rx)
    warm_all = r->WaitAll(0, s.warmup, warm_deadline) && warm_all;
  std::printf("  warm-up: %zu posted, %zu refused, %s\n", warm.ok, warm.failed,
              warm_all ? "all delivered" : "NOT all delivered within 30 s");
  if (!warm_all) {
    for (size_t i = 0; i < rx.size(); ++i)
      std::printf("    member %zu has %zu of %d\n", i,
                  rx[i]->Collect(0, s.warmup).received, s.warmup);
    hearth::bench::PrintFailures();
  }

  // Burst: 2,000 messages, at most `window` unanswered.
  const std::int64_t burst_lo = 100000, burst_hi = burst_lo + s.messages;
  std::vector<double> cpu0;
  for (auto& n : nodes)
    cpu0.push_back(hearth::bench::ProcessCpuSeconds(n.node->pid()));
  double self0 = hearth::bench::SelfCpuSeconds();
  auto burst = hearth::bench::PostMessages(sender, gid, burst_lo, s.messages, 0,
                                           s.window, s.body);
  auto burst_result = Gather("burst", rx, is_remote, burst_lo, burst_hi,
                             burst.end + std::chrono::seconds(60));
  for (size_t i = 0; i < nodes.size(); ++i)
    nodes[i].cpu_burst_s =
        hearth::bench::ProcessCpuSeconds(nodes[i].node->pid()) - cpu0[i];
  double self_burst = hearth::bench::SelfCpuSeconds() - self0;
  double accept_s = burst.seconds();
  double deliver_s =
      std::chrono::duration<double>(burst_result.complete - burst.start)
          .count();
  o.accepted = burst.ok / accept_s;
  o.delivered = burst_result.all && deliver_s > 0 ? s.messages / deliver_s : 0;
  std::printf(
      "  burst: %zu accepted, %zu refused in %.2f s = %.0f msg/s accepted "
      "(post p50 %.2f ms, p99 %.2f ms); delivered to all in %.2f s = %.0f "
      "msg/s%s\n",
      burst.ok, burst.failed, accept_s, o.accepted, burst.reply.p50,
      burst.reply.p99, deliver_s, o.delivered,
      burst_result.all ? "" : " (INCOMPLETE)");
  std::printf("  burst: lost %zu, duplicated %zu (all members)\n",
              burst_result.lost, burst_result.duplicated);
  std::printf("  burst delivery latency: local p50 %.2f ms p99 %.2f ms",
              burst_result.local.p50, burst_result.local.p99);
  if (fed)
    std::printf("; remote p50 %.2f ms p99 %.2f ms", burst_result.remote.p50,
                burst_result.remote.p99);
  std::printf("\n");
  double burst_wall = deliver_s > 0 ? deliver_s : accept_s;
  for (auto& n : nodes)
    std::printf(
        "  %-6s CPU %.3f s over the burst = %.1f us/msg (%.0f%% of a "
        "core)\n",
        n.label.c_str(), n.cpu_burst_s, n.cpu_burst_s * 1e6 / s.messages,
        n.cpu_burst_s / burst_wall * 100);
  std::printf(
      "  driver CPU %.3f s over the burst = %.1f us/msg (%.0f%% of a "
      "core)\n",
      self_burst, self_burst * 1e6 / s.messages, self_burst / burst_wall * 100);
  {
    // The machine's budget: every process here (nodes and this driver,
    // which is every member's client) shares its cores, so the throughput
    // goal is bounded by the CPU all of them spend per message. The nodes'
    // share alone is what compares with Prosody's server CPU.
    double nodes_s = 0;
    for (auto& n : nodes) nodes_s += n.cpu_burst_s;
    const double all_s = nodes_s + self_burst;
    const double goal_rate = 10 * (fed ? kProsodyFedRate : kProsodySingleRate);
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    std::printf(
        "  nodes + driver: %.0f us of CPU per message (nodes %.0f), %.2f of "
        "%u cores busy over the burst; 10x Prosody (%.0f msg/s) at this cost "
        "needs %.1f cores (nodes alone %.1f)\n",
        all_s * 1e6 / s.messages, nodes_s * 1e6 / s.messages,
        all_s / burst_wall, cores, goal_rate,
        all_s * 1e6 / s.messages * goal_rate / 1e6,
        nodes_s * 1e6 / s.messages * goal_rate / 1e6);
  }

  // Paced: 1,000 messages at 200/s.
  const std::int64_t paced_lo = 200000, paced_hi = paced_lo + s.paced;
  cpu0.clear();
  for (auto& n : nodes)
    cpu0.push_back(hearth::bench::ProcessCpuSeconds(n.node->pid()));
  self0 = hearth::bench::SelfCpuSeconds();
  auto paced = hearth::bench::PostMessages(sender, gid, paced_lo, s.paced,
                                           s.rate, 8, s.body);
  auto paced_result = Gather("paced", rx, is_remote, paced_lo, paced_hi,
                             paced.end + std::chrono::seconds(30));
  for (size_t i = 0; i < nodes.size(); ++i)
    nodes[i].cpu_paced_s =
        hearth::bench::ProcessCpuSeconds(nodes[i].node->pid()) - cpu0[i];
  double self_paced = hearth::bench::SelfCpuSeconds() - self0;
  std::printf(
      "  paced: %zu accepted, %zu refused at %.0f/s offered (post p50 %.2f "
      "ms, p99 %.2f ms); lost %zu, duplicated %zu\n",
      paced.ok, paced.failed, s.rate, paced.reply.p50, paced.reply.p99,
      paced_result.lost, paced_result.duplicated);
  std::printf("  paced delivery latency: local p50 %.2f ms p99 %.2f ms",
              paced_result.local.p50, paced_result.local.p99);
  if (fed)
    std::printf("; remote p50 %.2f ms p99 %.2f ms", paced_result.remote.p50,
                paced_result.remote.p99);
  std::printf("\n");
  for (auto& n : nodes)
    std::printf("  %-6s CPU %.3f s over the paced phase = %.1f us/msg\n",
                n.label.c_str(), n.cpu_paced_s, n.cpu_paced_s * 1e6 / s.paced);
  std::printf("  driver CPU %.3f s over the paced phase = %.1f us/msg\n",
              self_paced, self_paced * 1e6 / s.paced);

  auto peaks = sampler.PeakKib();
  auto peaks_anon = sampler.PeakAnonKib();
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].peak = peaks[i];
    nodes[i].peak_anon = peaks_anon[i];
    std::printf(
        "  %-6s RSS idle %.1f MiB, joined %.1f MiB, peak %.1f MiB (%.1f MiB "
        "private; the rest is mapped libraries and store pages)\n",
        nodes[i].label.c_str(), nodes[i].idle / 1024.0,
        nodes[i].joined / 1024.0, nodes[i].peak / 1024.0,
        peaks_anon[i] / 1024.0);
  }
  for (auto& r : rx) r->Stop();

  // Figures.
  report.Add(sc + " accepted", o.accepted, "msg/s");
  report.Add(sc + " delivered", o.delivered, "msg/s");
  report.Add(sc + " lost", burst_result.lost + paced_result.lost, "msgs",
             false);
  report.Add(sc + " duplicated",
             burst_result.duplicated + paced_result.duplicated, "msgs", false);
  report.Add(sc + " burst p50 local", burst_result.local.p50, "ms", false);
  report.Add(sc + " burst p99 local", burst_result.local.p99, "ms", false);
  if (fed) {
    report.Add(sc + " burst p50 remote", burst_result.remote.p50, "ms", false);
    report.Add(sc + " burst p99 remote", burst_result.remote.p99, "ms", false);
  }
  report.Add(sc + " paced p50 local", paced_result.local.p50, "ms", false);
  report.Add(sc + " paced p99 local", paced_result.local.p99, "ms", false);
  if (fed) {
    report.Add(sc + " paced p50 remote", paced_result.remote.p50, "ms", false);
    report.Add(sc + " paced p99 remote", paced_result.remote.p99, "ms", false);
  }
  for (auto& n : nodes) {
    report.Add(sc + " " + n.label + " CPU/msg burst",
               n.cpu_burst_s * 1e6 / s.messages, "us", false);
    report.Add(sc + " " + n.label + " CPU/msg paced",
               n.cpu_paced_s * 1e6 / s.paced, "us", false);
    report.Add(sc + " " + n.label + " RSS idle", n.idle / 1024.0, "MiB", false);
    report.Add(sc + " " + n.label + " RSS joined", n.joined / 1024.0, "MiB",
               false);
    report.Add(sc + " " + n.label + " RSS peak", n.peak / 1024.0, "MiB", false);
    report.Add(sc + " " + n.label + " RSS peak private", n.peak_anon / 1024.0,
               "MiB", false);
  }
  report.Add(sc + " driver CPU/msg burst", self_burst * 1e6 / s.messages, "us",
             false);

  o.ok = burst_result.all && paced_result.all;
  o.host_cpu_us = nodes[0].cpu_burst_s * 1e6 / s.messages;
  if (fed) o.remote_cpu_us = nodes[1].cpu_burst_s * 1e6 / s.messages;
  o.paced_local = paced_result.local;
  o.paced_remote = paced_result.remote;
  o.host_peak_mib = nodes[0].peak / 1024.0;
  return o;
}

void PrintComparison(const std::vector<Outcome>& outcomes) {
  std::printf(
      "\nbeside Prosody 0.12 (same test shape); goal: 10x the "
      "throughput at 1/5 the CPU per message\n");
  std::printf("  %-34s %12s %12s %10s\n", "", "Hearth", "Prosody", "ratio");
  auto row = [](const std::string& name, double ours, double theirs,
                bool higher_is_better) {
    double ratio = higher_is_better ? (theirs > 0 ? ours / theirs : 0)
                                    : (ours > 0 ? theirs / ours : 0);
    std::printf("  %-34s %12.1f %12.1f %9.2fx\n", name.c_str(), ours, theirs,
                ratio);
  };
  for (const auto& o : outcomes) {
    double rate = o.name == "fed" ? kProsodyFedRate : kProsodySingleRate;
    row(o.name + " accepted msg/s", o.accepted, rate, true);
    row(o.name + " delivered msg/s", o.delivered, rate, true);
    row(o.name + " host CPU us/msg (burst)", o.host_cpu_us, kProsodyCpuUsPerMsg,
        false);
    row(o.name + " paced p99 local ms", o.paced_local.p99,
        kProsodyPacedP99Local, false);
    if (o.name == "fed")
      row(o.name + " paced p99 remote ms", o.paced_remote.p99,
          kProsodyPacedP99Remote, false);
    row(o.name + " host RSS peak MiB", o.host_peak_mib, kProsodyRssMiB, false);
  }
  std::printf(
      "  (ratio: how many times better than Prosody; throughput "
      "goal 10x, CPU goal 5x)\n");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"group chat (MUC-shaped) benchmark"};
  bool save = false;
  std::string scenario = "both";
  Settings s;
  std::string baseline =
      std::string(HEARTH_SOURCE_DIR) + "/bench/baseline/muc_bench.json";
  app.add_flag("--save", save, "replace the baseline with this run");
  app.add_option("--scenario", scenario, "single, fed or both")
      ->check(CLI::IsMember({"single", "fed", "both"}))
      ->capture_default_str();
  app.add_option("--messages", s.messages, "burst messages")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--window", s.window, "posts unanswered at most")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--paced", s.paced, "paced messages")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--rate", s.rate, "paced messages per second")
      ->check(CLI::Range(0.1, 100000.0))
      ->capture_default_str();
  app.add_option("--baseline", baseline, "baseline file")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  std::printf(
      "muc_bench: %u cores; %d members, %d warm-up + %d messages of %zu bytes "
      "with at most %d unanswered, then %d at %.0f/s\n",
      std::thread::hardware_concurrency(), s.members, s.warmup, s.messages,
      s.body, s.window, s.paced, s.rate);
  auto start = Clock::now();
  Report report;
  std::vector<Outcome> outcomes;
  if (scenario != "fed") outcomes.push_back(RunScenario(false, s, report));
  if (scenario != "single") outcomes.push_back(RunScenario(true, s, report));
  PrintComparison(outcomes);
  std::printf("\ntotal time %.1f s\n", hearth::bench::SecondsSince(start));
  hearth::bench::PrintFailures();
  // A baseline only from complete runs of both scenarios.
  bool complete = scenario == "both";
  for (const auto& o : outcomes) complete = complete && o.ok;
  if (save && !complete)
    std::printf("\nnot saving: the run was incomplete or partial\n");
  report.Print(baseline, save && complete);
  bool ok = true;
  for (const auto& o : outcomes) ok = ok && o.ok;
  return ok ? 0 : 1;
}
