// Federation throughput between two real `hearth` processes on loopback,
// next to the raw Ed25519 rates measured in the same run:
//
//  - raw Ed25519 sign and verify per second (one core, in process);
//  - outbound: announcements accepted per second on a (sign + store +
//    outbox, durable before the reply), and delivered per second until b
//    holds every one (adds send + b's verify + store);
//  - catch-up: as many again queued on a while b is down, and the rate
//    at which a's sender drains them once b is back (transactions in
//    flight, b's verify and commit, with nothing else running);
//  - inbound: events per second b verifies and stores from pre-signed
//    transactions of 50 events sent straight to it;
//  - inbound group messages whose author is on a third node (two
//    signatures each), one transaction at a time in seq order, and the
//    latency of b's own members' posts meanwhile (b's other writers must
//    not wait for signature checks).
//
//   build/release/bench/federation_bench [--save] [--events N]
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "bench/bench_util.h"
#include "bench/member_util.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "federation/canonical_json.h"
#include "federation/node_keys.h"
#include "federation/request_auth.h"
#include "federation/signed_json.h"
#include "tests/support/node_process.h"

using hearth::bench::Report;
using hearth::testing::AdminCall;
using hearth::testing::NodeOptions;
using hearth::testing::NodeProcess;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Signs or verifies for about a second; operations per second.
double RawRate(bool verify) {
  auto key = hearth::federation::SigningKey::Generate();
  std::string msg(200, 'm');
  std::string sig = key.Sign(msg);
  size_t n = 0;
  auto start = Clock::now();
  while (Seconds(start) < 1.0) {
    for (int i = 0; i < 100; ++i, ++n) {
      if (verify) {
        if (!hearth::federation::VerifyEd25519(key.public_key(), msg, sig))
          std::abort();
      } else {
        sig = key.Sign(msg);
      }
    }
  }
  return n / Seconds(start);
}

// A transaction from a.test to b.test holding `events`, as canonical text.
std::string TxnFromAToB(json events, std::int64_t now_ms) {
  json txn = {{"origin", "a.test"},
              {"destination", "b.test"},
              {"ts", now_ms},
              {"events", std::move(events)}};
  return *hearth::federation::Canonicalize(txn);
}

// PUTs a transaction's text to b, signed with a's `key` as a's sender would.
httplib::Result PutSigned(httplib::Client& c,
                          const hearth::federation::SigningKey& key,
                          const std::string& path, const std::string& text,
                          std::int64_t now_ms) {
  json content = json::parse(text);
  auto auth = hearth::federation::SignRequest(key, "a.test", "b.test", "PUT",
                                              path, now_ms, &content);
  return c.Put(path.c_str(), {{"Authorization", *auth}}, text,
               "application/json");
}

// Posts `count` announcements on `node` from 4 admin connections (the
// admin listener has 4 threads), numbered from `first`; how many failed.
int PostAnnouncements(NodeProcess& node, const std::string& body, int first,
                      int count) {
  std::atomic<int> next{first}, failed{0};
  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t) {
    posters.emplace_back([&] {
      httplib::Client c("127.0.0.1", node.admin_port());
      c.set_keep_alive(true);
      c.set_tcp_nodelay(true);
      httplib::Headers h = {{"Authorization", "Bearer " + node.admin_token()}};
      // Distinct bodies: identical events (same origin, ts and content)
      // are one event, by design of content-addressed ids.
      for (int i; (i = next.fetch_add(1)) < first + count;) {
        std::string payload = json{{"body", body + std::to_string(i)}}.dump();
        auto res =
            c.Post("/admin/v1/announcements", h, payload, "application/json");
        if (!res || res->status != 201) ++failed;
      }
    });
  }
  for (auto& p : posters) p.join();
  return failed.load();
}

// Waits until `node` holds at least `count` announcements (bounded).
bool WaitForCount(NodeProcess& node, size_t count, double timeout_s) {
  auto start = Clock::now();
  while (Seconds(start) < timeout_s) {
    json r =
        AdminCall(node, "GET",
                  "/admin/v1/announcements?after=" + std::to_string(count - 1) +
                      "&limit=1");
    if (r.is_object() && !r["announcements"].empty()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"federation benchmark"};
  bool save = false;
  int events = 4000;
  std::string baseline =
      std::string(HEARTH_SOURCE_DIR) + "/bench/baseline/federation_bench.json";
  app.add_flag("--save", save, "replace the baseline with this run");
  app.add_option("--events", events, "events per phase")->capture_default_str();
  app.add_option("--baseline", baseline, "baseline file")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  Report report;

  double sign = RawRate(false), verify = RawRate(true);
  std::printf("raw Ed25519: %.0f signs/s, %.0f verifies/s (one core)\n", sign,
              verify);
  report.Add("raw ed25519 sign", sign, "ops/s");
  report.Add("raw ed25519 verify", verify, "ops/s");
  {
    // What a host does for each accepted message besides the signature:
    // the accept's canonical text, made twice (to sign, then with the
    // signature), as GroupService::Accept makes it.
    const std::string author =
        R"({"author":"@a@a.test","content":{"body":")" + std::string(200, 'b') +
        R"("},"group":"g@a.test","origin":"a.test","ts":1,"type":"group.message"})";
    size_t n = 0;
    auto start = Clock::now();
    while (Seconds(start) < 1.0) {
      for (int i = 0; i < 100; ++i, ++n) {
        hearth::federation::CanonicalObject accept;
        accept.AddRaw("content", "{}");
        accept.AddRaw("event", author);
        (void)accept.AddString("group", "support-circle@a.test");
        (void)accept.AddString("origin", "a.test");
        (void)accept.AddInt("seq", std::int64_t(n));
        (void)accept.AddInt("ts", 1764100000000);
        (void)accept.AddString("type", "group.accept");
        auto text = accept.Text();
        accept.AddRaw("signatures", R"({"a.test":{"ed25519:k":"s"}})");
        auto signed_text = accept.Text();
        if (!text || !signed_text) std::abort();
      }
    }
    double rate = n / Seconds(start);
    std::printf("accept text (unsigned + signed, no signing): %.0f/s\n", rate);
    report.Add("accept canonical text", rate, "ops/s");
  }

  NodeProcess a(NodeOptions{
      .server_name = "a.test", .log_level = "warn", .allow_http = true});
  NodeProcess b(NodeOptions{
      .server_name = "b.test", .log_level = "warn", .allow_http = true});
  std::string error;
  if (!a.Start(&error) || !b.Start(&error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  if (std::string problem = hearth::testing::PeerNodes(a, b);
      !problem.empty()) {
    std::fprintf(stderr, "peering failed: %s\n", problem.c_str());
    return 1;
  }

  // Outbound: announcements from 4 admin connections (the admin listener
  // has 4 threads), 200-byte bodies.
  const std::string body(200, 'x');
  auto start = Clock::now();
  int failed = PostAnnouncements(a, body, 0, events);
  double accept_s = Seconds(start);
  bool all = WaitForCount(b, size_t(events), 120);
  double deliver_s = Seconds(start);
  std::printf(
      "outbound: %d events accepted in %.2f s (%.0f/s, sign+store), "
      "delivered to b in %.2f s (%.0f/s end to end)%s, %d failed\n",
      events, accept_s, events / accept_s, deliver_s, events / deliver_s,
      all ? "" : " INCOMPLETE", failed);
  report.Add("outbound accepted (sign+store)", events / accept_s, "ev/s");
  report.Add("outbound delivered (end to end)", all ? events / deliver_s : 0,
             "ev/s");

  // Catch-up: b down while a queues as many again; from b's return, how
  // fast a's one sender drains the backlog (the pipeline of transactions
  // in flight, b's verify and commit; a does nothing else meanwhile).
  {
    b.Stop();
    failed = PostAnnouncements(a, body, events, events);
    // What one scrape of a's metrics costs with that backlog queued for b
    // (every peer's queue depth is among them).
    auto admin = a.AdminClient();
    std::vector<double> scrape_ms;
    for (int i = 0; i < 15; ++i) {
      auto t0 = Clock::now();
      auto res = admin->Get("/metrics",
                            {{"Authorization", "Bearer " + a.admin_token()}});
      if (!res || res->status != 200) break;
      scrape_ms.push_back(Seconds(t0) * 1000);
    }
    auto scrape = hearth::bench::Summarize(scrape_ms);
    std::printf("metrics scrape with %d events queued for b: p50 %.2f ms\n",
                events, scrape.p50);
    report.Add("metrics scrape, backlog queued", scrape.p50, "ms", false);
    if (!b.Start(&error)) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 1;
    }
    // a's sender is backing off; b's first request to a ends that.
    auto back = Clock::now();
    bool first = WaitForCount(b, size_t(events) + 1, 60);
    double first_s = Seconds(back);
    bool drained = first && WaitForCount(b, size_t(2 * events), 120);
    double drain_s = Seconds(back) - first_s;
    std::printf(
        "catch-up: %d queued events; the first reached b %.2f s after it "
        "restarted, the rest in %.2f s (%.0f/s)%s, %d failed\n",
        events, first_s, drain_s, events / drain_s,
        drained ? "" : " INCOMPLETE", failed);
    report.Add("catch-up drain", drained ? events / drain_s : 0, "ev/s");
  }

  // Inbound: pre-signed transactions with a's key, straight to b.
  auto keys = hearth::federation::LoadKeyFile(a.data_dir() + "/node.key");
  if (!keys) return 1;
  const auto& key = keys->front();
  hearth::SystemClock clock;
  const int per_txn = 50;
  int txns = events / per_txn;
  std::vector<std::pair<std::string, std::string>> prepared;  // path, body
  for (int t = 0; t < txns; ++t) {
    json evs = json::array();
    for (int i = 0; i < per_txn; ++i) {
      json e = {
          {"type", "node.announcement"},
          {"origin", "a.test"},
          {"ts", clock.NowMs()},
          {"content", {{"body", body + std::to_string(t * per_txn + i)}}}};
      hearth::federation::SignJson(e, "a.test", key).value();
      evs.push_back(std::move(e));
    }
    prepared.emplace_back("/_hearth/v1/send/bench-" + std::to_string(t),
                          TxnFromAToB(std::move(evs), clock.NowMs()));
  }
  std::atomic<int> idx{0}, refused{0};
  start = Clock::now();
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&] {
      httplib::Client c("127.0.0.1", b.port());
      c.set_keep_alive(true);
      c.set_tcp_nodelay(true);
      c.set_read_timeout(60, 0);
      for (int i; (i = idx.fetch_add(1)) < txns;) {
        const auto& [path, text] = prepared[i];
        auto res = PutSigned(c, key, path, text, clock.NowMs());
        if (!res || res->status != 200) ++refused;
      }
    });
  }
  for (auto& s : senders) s.join();
  double inbound_s = Seconds(start);
  int inbound_events = txns * per_txn;
  std::printf(
      "inbound: %d events in %d txns verified+stored in %.2f s "
      "(%.0f/s), %d refused\n",
      inbound_events, txns, inbound_s, inbound_events / inbound_s,
      refused.load());
  report.Add("inbound verified+stored", inbound_events / inbound_s, "ev/s");

  // Inbound group messages by a member of a third node: b holds a member
  // of a's group, and a's accepts wrap events signed by x.test (unknown
  // to b; a vouches for its key), so b checks two signatures per event.
  // One connection, in seq order, as a's one sender to b would send them.
  // Meanwhile a member of b posts to a group b hosts: its latency shows
  // whether the inbound work holds b's other writers up.
  double third_rate = 0;
  hearth::bench::Percentiles local_during;
  {
    namespace mb = hearth::bench;
    auto host = mb::RegisterMany(a.port(), "host", 1, 1);
    auto readers = mb::RegisterMany(b.port(), "reader", 2, 1);
    if (host.size() != 1 || readers.size() != 2) return 1;
    auto ca = mb::Connect(a.port());
    auto cb = mb::Connect(b.port());
    const std::string gid = mb::CreateGroup(*ca, host[0], "inbound");
    const std::string local_gid = mb::CreateGroup(*cb, readers[1], "local");
    if (gid.empty() || local_gid.empty() ||
        !mb::JoinGroup(*cb, readers[0], gid)) {
      std::fprintf(stderr, "group set-up failed\n");
      return 1;
    }
    auto x = hearth::federation::SigningKey::Generate();
    json vouched = {{x.key_id(), hearth::Base64Encode(x.public_key())}};
    std::vector<std::pair<std::string, std::string>> group_txns;
    for (int t = 0; t < txns; ++t) {
      json evs = json::array();
      for (int i = 0; i < per_txn; ++i) {
        const int seq = t * per_txn + i + 1;
        json inner = {{"type", "group.message"},
                      {"origin", "x.test"},
                      {"author", "@writer@x.test"},
                      {"group", gid},
                      {"ts", clock.NowMs()},
                      {"content", {{"body", body + std::to_string(seq)}}}};
        hearth::federation::SignJson(inner, "x.test", x).value();
        json accept = {{"type", "group.accept"}, {"origin", "a.test"},
                       {"group", gid},           {"seq", seq},
                       {"ts", clock.NowMs()},    {"content", json::object()},
                       {"event", inner},         {"author_key", vouched}};
        hearth::federation::SignJson(accept, "a.test", key).value();
        evs.push_back(std::move(accept));
      }
      group_txns.emplace_back("/_hearth/v1/send/group-" + std::to_string(t),
                              TxnFromAToB(std::move(evs), clock.NowMs()));
    }
    std::atomic<bool> done{false};
    std::vector<double> local_ms;
    std::thread local([&] {
      auto c = mb::Connect(b.port());
      for (int i = 0; !done; ++i) {
        auto t0 = Clock::now();
        if (!mb::Post(*c, readers[1], local_gid, "local " + std::to_string(i)))
          ++refused;
        local_ms.push_back(mb::Ms(Clock::now() - t0));
      }
    });
    httplib::Client c("127.0.0.1", b.port());
    c.set_keep_alive(true);
    c.set_tcp_nodelay(true);
    c.set_read_timeout(60, 0);
    int stored = 0;
    start = Clock::now();
    for (const auto& [path, text] : group_txns) {
      auto res = PutSigned(c, key, path, text, clock.NowMs());
      if (!res || res->status != 200) {
        ++refused;
        continue;
      }
      // Kept in a variable: a range-for over a temporary's member dangles.
      json answer = json::parse(res->body);
      for (const auto& [id, r] : answer["results"].items()) {
        if (r.empty()) {
          ++stored;
        } else if (refused++ == 0) {
          std::fprintf(stderr, "refused: %s\n", r.dump().c_str());
        }
      }
    }
    double group_s = Seconds(start);
    done = true;
    local.join();
    third_rate = stored / group_s;
    local_during = mb::Summarize(local_ms);
    std::printf(
        "inbound group messages of a third node's member (2 signatures "
        "each): %d of %d stored in %.2f s (%.0f/s); meanwhile b's local "
        "posts p50 %.2f ms, p99 %.2f ms (%zu posts), %d refused\n",
        stored, txns * per_txn, group_s, third_rate, local_during.p50,
        local_during.p99, local_during.n, refused.load());
  }
  report.Add("inbound third-node group messages", third_rate, "ev/s");
  report.Add("b local post p50 during them", local_during.p50, "ms", false);
  report.Add("b local post p99 during them", local_during.p99, "ms", false);
  report.Add("inbound / raw verify", (inbound_events / inbound_s) / verify,
             "ratio");
  report.Add("outbound accepted / raw sign", (events / accept_s) / sign,
             "ratio");
  report.Add("b RSS after load", hearth::bench::RssKib(b.pid()) / 1024.0, "MiB",
             false);
  report.Print(baseline, save);
  return 0;
}
