// The federated directory at the size the issue names: 50 nodes x 200
// public groups of synthetic, multilingual peer-support groups.
//
//  1. In process, on the index itself (node/directory/): merging every
//     node's signed document (parse, verify, validate, index) into an
//     empty store, then full updates of each node's document with nothing,
//     10% or all of it changed: time per document, this process's memory
//     and the store's size; then query latency p50/p99 for typical
//     searches (a word, a prefix, two words, an accented word, filters,
//     browsing everything).
//  2. End to end: one real `hearth` node with 200 groups of its own, and
//     49 in-process peers that serve signed key and directory documents
//     over HTTP. Time from trusting them all until all 10,000 groups are
//     findable; a peer's full update (200 groups changed, then its signed
//     notice) until search shows it; the same searches over HTTP with
//     keep-alive; the node's RSS before and after.
//
//   build/release/bench/directory_bench [--save] [--iterations N]
//                                       [--phases 12]
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "bench/bench_util.h"
#include "bench/member_util.h"
#include "common/clock.h"
#include "federation/canonical_json.h"
#include "federation/key_document.h"
#include "federation/request_auth.h"
#include "federation/signed_json.h"
#include "node/directory/directory_document.h"
#include "node/directory/directory_index.h"
#include "node/directory/search_text.h"
#include "storage/committer.h"
#include "tests/support/node_process.h"
#include "tests/support/temp_dir.h"

using hearth::GroupRecord;
using hearth::JoinPolicy;
using hearth::Meeting;
using hearth::bench::Clock;
using hearth::bench::Ms;
using hearth::bench::Percentiles;
using hearth::bench::Report;
using hearth::bench::Summarize;
using hearth::federation::SigningKey;
using nlohmann::json;
namespace directory = hearth::directory;

namespace {

constexpr int kNodes = 50;
constexpr int kGroups = 200;

std::string NodeName(int n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "n%02d.test", n);
  return buf;
}

// --- Synthetic groups --------------------------------------------------

const char* const kTopics[] = {
    "grief",   "anxiety",  "depression",   "recovery",   "addiction",
    "ptsd",    "bipolar",  "caregivers",   "lgbtq",      "veterans",
    "parents", "students", "loss",         "trauma",     "eating",
    "ocd",     "adhd",     "chronic-pain", "loneliness", "postpartum"};
const char* const kDays[] = {"monday", "tuesday",  "wednesday", "thursday",
                             "friday", "saturday", "sunday"};
const char* const kAdjectives[] = {"Tuesday", "Evening", "Morning", "Gentle",
                                   "Open",    "Weekly",  "Online",  "Sunday",
                                   "Quiet",   "Peer"};
const char* const kNouns[] = {"Circle", "Group", "Peers", "Space", "Table",
                              "Room",   "Café",  "Kreis", "Grupo", "Cercle"};
const char* const kWords[] = {
    "support",     "listening", "sharing",      "stories",  "newcomers",
    "welcome",     "safe",      "space",        "family",   "friends",
    "coping",      "healing",   "hope",         "together", "online",
    "local",       "peer-led",  "gentle",       "trauer",   "verlust",
    "selbsthilfe", "ängste",    "duelo",        "ansiedad", "depresión",
    "apoyo",       "sobriété",  "écoute",       "soutien",  "deuil",
    "weekly",      "meeting",   "confidential", "kindness", "journey",
    "recovery",    "anxiety",   "grief",        "balance",  "sleep",
    "work",        "school"};

GroupRecord MakeGroup(std::mt19937& rng, int node, int i, int generation) {
  auto pick = [&](auto& list) {
    return list[std::uniform_int_distribution<size_t>(
        0, std::size(list) - 1)(rng)];
  };
  GroupRecord g;
  g.group_id = "!g" + std::to_string(i) + "@" + NodeName(node);
  std::string topic = pick(kTopics);
  std::string Topic = topic;
  Topic[0] = char(std::toupper(Topic[0]));
  g.name = std::string(pick(kAdjectives)) + " " + Topic + " " + pick(kNouns);
  if (generation > 0) g.name += " v" + std::to_string(generation);
  g.topics = {topic};
  if (rng() % 2) g.topics.push_back(pick(kTopics));
  for (int w = 0; w < 25; ++w) {
    if (w) g.description += ' ';
    g.description += pick(kWords);
  }
  if (generation > 0) g.description += " gen" + std::to_string(generation);
  unsigned lang = rng() % 20;
  g.language = lang < 12   ? "en"
               : lang < 15 ? "es"
               : lang < 17 ? "de"
               : lang < 19 ? "fr"
                           : "pt-br";
  g.join_policy = rng() % 4 == 0 ? JoinPolicy::kApproval : JoinPolicy::kOpen;
  int meetings = 1 + int(rng() % 2);
  for (int m = 0; m < meetings; ++m)
    g.meetings.push_back(Meeting{pick(kDays), "19:00", "Europe/Berlin", ""});
  g.member_count = rng() % 60;
  return g;
}

std::vector<GroupRecord> MakeListing(int node, int generation,
                                     int changed_percent = 100) {
  std::mt19937 base(unsigned(node * 7919));
  std::mt19937 fresh(unsigned(node * 7919 + generation * 104729));
  std::vector<GroupRecord> out;
  for (int i = 0; i < kGroups; ++i) {
    GroupRecord old = MakeGroup(base, node, i, 0);
    bool change = generation > 0 && i * 100 < kGroups * changed_percent;
    out.push_back(change ? MakeGroup(fresh, node, i, generation) : old);
  }
  return out;
}

std::string Document(int node, std::uint64_t version,
                     const std::vector<GroupRecord>& groups,
                     const SigningKey& key) {
  return *directory::SignDirectory(
      directory::DirectoryDocument{NodeName(node), version, groups}, key);
}

long SelfRssKib() { return hearth::bench::RssKib(getpid()); }

long SelfPeakKib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

struct Query {
  std::string label;
  std::string http;  // the member API query string
  directory::SearchQuery q;
};

std::vector<Query> TypicalQueries() {
  auto words = [](const std::string& q) { return directory::Words(q); };
  std::vector<Query> out;
  out.push_back({"q=grief", "q=grief", {.words = words("grief")}});
  out.push_back({"q=anx (prefix)", "q=anx", {.words = words("anx")}});
  out.push_back({"q=grief support",
                 "q=grief%20support",
                 {.words = words("grief support")}});
  out.push_back(
      {"q=Ängste (accent)", "q=%C3%84ngste", {.words = words("Ängste")}});
  out.push_back({"q=s (1-letter prefix)", "q=s", {.words = words("s")}});
  out.push_back({"topic=recovery&language=en",
                 "topic=recovery&language=en",
                 {.topic = "recovery", .language = "en"}});
  out.push_back(
      {"q=circle&day=monday&join=open",
       "q=circle&day=monday&join_policy=open",
       {.words = words("circle"), .day = "monday", .join_policy = "open"}});
  out.push_back({"browse all (first page)", "", {}});
  out.push_back({"node=n17.test", "node=n17.test", {.node = "n17.test"}});
  return out;
}

// --- 1. In process ------------------------------------------------------

void InProcess(Report& report, int iterations) {
  std::printf("1. index in process: %d nodes x %d groups\n", kNodes, kGroups);
  hearth::testing::TempDir dir;
  auto env = hearth::storage::Env::Open(dir.path(), {});
  auto index = directory::DirectoryIndex::Open(**env);
  hearth::storage::Committer committer(**env);
  std::vector<SigningKey> keys;
  for (int n = 0; n < kNodes; ++n) keys.push_back(SigningKey::Generate());

  // Parse, verify, validate and index one document, as a pull does.
  auto merge = [&](int node, const std::string& text) {
    hearth::federation::JsonLimits limits;
    limits.max_bytes = 64 << 20;
    auto doc = hearth::federation::ParseCanonical(text, limits);
    if (!doc) std::abort();
    if (!hearth::federation::VerifyJson(
            *doc, NodeName(node), keys[node].key_id(), keys[node].public_key()))
      std::abort();
    size_t skipped = 0;
    auto parsed = directory::ParseDirectory(*doc, NodeName(node), &skipped);
    if (!parsed || skipped) std::abort();
    directory::MergeStats stats;
    auto s =
        committer.Run([&](hearth::storage::WriteTxn& txn) -> hearth::Status {
          HEARTH_ASSIGN_OR_RETURN(
              stats, index->Replace(txn, NodeName(node), parsed->groups));
          return index->PutSource(txn, NodeName(node),
                                  directory::DirSource{parsed->version});
        });
    if (!s) std::abort();
    return stats;
  };

  std::vector<std::string> docs;
  size_t doc_bytes = 0;
  for (int n = 0; n < kNodes; ++n) {
    docs.push_back(Document(n, 1, MakeListing(n, 0), keys[n]));
    doc_bytes += docs.back().size();
  }
  long rss0 = SelfRssKib();
  std::vector<double> ms;
  auto t0 = Clock::now();
  for (int n = 0; n < kNodes; ++n) {
    auto t = Clock::now();
    merge(n, docs[n]);
    ms.push_back(Ms(Clock::now() - t));
  }
  double total_s = Ms(Clock::now() - t0) / 1000;
  Percentiles first = Summarize(ms);
  long rss1 = SelfRssKib();
  double store_mib = double((*env)->Stats().used_bytes) / (1 << 20);
  std::printf(
      "  first merge of all %d documents (%.1f KiB each): %.2f s, per "
      "document p50 %.1f ms p99 %.1f ms\n",
      kNodes, doc_bytes / 1024.0 / kNodes, total_s, first.p50, first.p99);
  std::printf("  RSS %.1f -> %.1f MiB, peak %.1f MiB; store %.1f MiB\n",
              rss0 / 1024.0, rss1 / 1024.0, SelfPeakKib() / 1024.0, store_mib);
  report.Add("index: first merge, per 200-group document p50", first.p50, "ms",
             false);
  report.Add("index: store size for 10,000 groups", store_mib, "MiB", false);

  struct Update {
    const char* label;
    int percent;
  };
  int generation = 0;
  for (Update u : {Update{"unchanged", 0}, Update{"10% changed", 10},
                   Update{"all changed", 100}}) {
    ++generation;
    std::vector<double> times;
    long before = SelfRssKib();
    for (int n = 0; n < kNodes; ++n) {
      std::string text = Document(
          n, std::uint64_t(generation + 1),
          u.percent ? MakeListing(n, generation, u.percent) : MakeListing(n, 0),
          keys[n]);
      auto t = Clock::now();
      merge(n, text);
      times.push_back(Ms(Clock::now() - t));
    }
    Percentiles p = Summarize(times);
    std::printf(
        "  full update, %-12s per document p50 %6.2f ms p99 %6.2f ms; RSS "
        "%+.1f MiB\n",
        u.label, p.p50, p.p99, (SelfRssKib() - before) / 1024.0);
    report.Add(std::string("index: update ") + u.label + " p50", p.p50, "ms",
               false);
  }

  std::printf("  queries (%d each), all 50 nodes visible:\n", iterations);
  auto view = [](const std::string& host) {
    directory::HostView v;
    v.visible = true;
    v.local = host == "n00.test";
    v.joinable = true;
    return v;
  };
  for (const Query& query : TypicalQueries()) {
    std::vector<double> times;
    size_t total = 0;
    for (int i = 0; i < iterations; ++i) {
      auto t = Clock::now();
      auto txn = (*env)->BeginRead();
      auto page = index->Search(*txn, query.q, view);
      times.push_back(Ms(Clock::now() - t));
      if (!page) std::abort();
      total = page->total;
    }
    Percentiles p = Summarize(times);
    std::printf("    %-34s %6zu matches  p50 %7.3f ms  p99 %7.3f ms\n",
                query.label.c_str(), total, p.p50, p.p99);
    report.Add("index: " + query.label + " p99", p.p99, "ms", false);
  }
}

// --- 2. End to end ------------------------------------------------------

// A peer that serves a key document and a signed directory document, and
// sends signed notices: as much of a node as the directory exchange uses.
class FakePeer {
 public:
  explicit FakePeer(int node) : node_(node), key_(SigningKey::Generate()) {
    server_.set_tcp_nodelay(true);
    server_.new_task_queue = [] { return new httplib::ThreadPool(2); };
    server_.Get("/_hearth/v1/keys", [this](const httplib::Request&,
                                           httplib::Response& res) {
      auto doc = hearth::federation::MakeKeyDocument(
          NodeName(node_), {key_}, {}, clock_.NowMs() + 24 * 3600 * 1000);
      res.set_content(*doc, "application/json");
    });
    server_.Get("/_hearth/v1/directory", [this](const httplib::Request& req,
                                                httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      ++fetches_;
      if (req.has_param("newer_than") &&
          std::stoull(req.get_param_value("newer_than")) >= version_) {
        res.set_content(json{{"changed", false}, {"version", version_}}.dump(),
                        "application/json");
        return;
      }
      res.set_content(document_, "application/json");
    });
    server_.Post("/_hearth/v1/directory/notify",
                 [](const httplib::Request&, httplib::Response& res) {
                   res.set_content("{}", "application/json");
                 });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakePeer() {
    server_.stop();
    thread_.join();
  }

  void SetListing(const std::vector<GroupRecord>& groups) {
    std::lock_guard<std::mutex> lock(mu_);
    version_ = std::max<std::uint64_t>(version_ + 1, clock_.NowMs());
    document_ = Document(node_, version_, groups, key_);
  }

  // Tells `node` (server name, member API port) that our document changed.
  bool Notify(const std::string& node, int port) {
    json body;
    {
      std::lock_guard<std::mutex> lock(mu_);
      body = {{"version", version_}};
    }
    std::string path = "/_hearth/v1/directory/notify";
    auto auth = hearth::federation::SignRequest(
        key_, NodeName(node_), node, "POST", path, clock_.NowMs(), &body);
    auto c = hearth::bench::Connect(port);
    auto res =
        c->Post(path.c_str(), {{"Authorization", *auth}},
                *hearth::federation::Canonicalize(body), "application/json");
    return res && res->status == 200;
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }
  std::string name() const { return NodeName(node_); }

 private:
  int node_;
  SigningKey key_;
  hearth::SystemClock clock_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::uint64_t version_ = 0;
  std::string document_;
  size_t fetches_ = 0;
};

// How many groups a search finds (total), or -1.
long Total(httplib::Client& c, const std::string& token,
           const std::string& query) {
  auto res = c.Get(("/api/v1/directory?limit=1&" + query).c_str(),
                   {{"Authorization", "Bearer " + token}});
  if (!res || res->status != 200) return -1;
  return json::parse(res->body)["total"].get<long>();
}

bool WaitTotal(httplib::Client& c, const std::string& token,
               const std::string& query, long want, double timeout_s,
               double* seconds) {
  auto t0 = Clock::now();
  while (Ms(Clock::now() - t0) < timeout_s * 1000) {
    if (Total(c, token, query) == want) {
      *seconds = Ms(Clock::now() - t0) / 1000;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

bool EndToEnd(Report& report, int iterations) {
  std::printf("2. end to end: a hearth node + %d peers over HTTP\n",
              kNodes - 1);
  hearth::testing::NodeProcess node(hearth::testing::NodeOptions{
      .server_name = NodeName(0),
      .log_level = "warn",
      .allow_http = true,
      .federation_extra = "directory_pull_s = 3600\n"
                          "directory_stale_s = 7200\n"});
  std::string error;
  if (!node.Start(&error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return false;
  }
  auto accounts = hearth::bench::RegisterMany(node.port(), "owner", 1, 1);
  if (accounts.empty()) return false;
  const std::string token = accounts[0].token;
  auto c = hearth::bench::Connect(node.port());
  for (const GroupRecord& g : MakeListing(0, 0)) {
    json meetings = json::array();
    for (const auto& m : g.meetings)
      meetings.push_back(
          {{"weekday", m.weekday}, {"time", m.time}, {"timezone", m.timezone}});
    json spec = {{"slug", g.group_id.substr(1, g.group_id.find('@') - 1)},
                 {"name", g.name},
                 {"description", g.description},
                 {"topics", g.topics},
                 {"language", g.language},
                 {"join_policy", ToString(g.join_policy)},
                 {"meetings", meetings}};
    auto res = c->Post("/api/v1/groups", {{"Authorization", "Bearer " + token}},
                       spec.dump(), "application/json");
    if (!res || res->status != 201) {
      hearth::bench::NoteFailure("create group", res);
      return false;
    }
  }
  double s = 0;
  if (!WaitTotal(*c, token, "", kGroups, 10, &s)) return false;

  std::vector<std::unique_ptr<FakePeer>> peers;
  for (int n = 1; n < kNodes; ++n) {
    peers.push_back(std::make_unique<FakePeer>(n));
    peers.back()->SetListing(MakeListing(n, 0));
  }
  long rss0 = hearth::bench::RssKib(node.pid());
  for (const auto& p : peers) {
    int status = 0;
    hearth::testing::AdminCall(node, "POST", "/admin/v1/peers",
                               {{"url", p->url()}}, &status);
    if (status != 201) return false;
  }
  auto t0 = Clock::now();
  for (const auto& p : peers) {
    int status = 0;
    hearth::testing::AdminCall(node, "POST",
                               "/admin/v1/peers/" + p->name() + "/trust",
                               json::object(), &status);
    if (status != 200) return false;
  }
  double trusted_s = Ms(Clock::now() - t0) / 1000;
  if (!WaitTotal(*c, token, "", long(kNodes) * kGroups, 120, &s)) {
    std::fprintf(stderr, "the node never listed all groups (%ld)\n",
                 Total(*c, token, ""));
    return false;
  }
  double all_s = trusted_s + s;
  long rss1 = hearth::bench::RssKib(node.pid());
  std::printf(
      "  trusting %d peers until all %d groups are findable: %.2f s "
      "(trusting took %.2f s)\n",
      kNodes - 1, kNodes * kGroups, all_s, trusted_s);
  std::printf("  node RSS %.1f -> %.1f MiB\n", rss0 / 1024.0, rss1 / 1024.0);
  report.Add("e2e: all 10,000 groups findable after trusting 49 peers", all_s,
             "s", false);
  report.Add("e2e: node RSS with 10,000 groups", rss1 / 1024.0, "MiB", false);

  // A peer's full update: every group changed, then its notice.
  std::vector<double> update_ms;
  for (int k = 0; k < 5; ++k) {
    FakePeer& p = *peers[size_t(k * 7)];
    int n = k * 7 + 1;
    p.SetListing(MakeListing(n, k + 1));
    auto t = Clock::now();
    if (!p.Notify(NodeName(0), node.port())) return false;
    std::string query =
        "node=" + NodeName(n) + "&q=gen" + std::to_string(k + 1);
    if (!WaitTotal(*c, token, query, kGroups, 30, &s)) return false;
    update_ms.push_back(Ms(Clock::now() - t));
  }
  Percentiles up = Summarize(update_ms);
  long rss2 = hearth::bench::RssKib(node.pid());
  std::printf(
      "  a peer's full update (200 groups changed) from its notice until "
      "search shows it: p50 %.0f ms, max %.0f ms; node RSS %.1f MiB\n",
      up.p50, up.max, rss2 / 1024.0);
  report.Add("e2e: full update of one peer, notice to searchable p50", up.p50,
             "ms", false);

  std::printf("  queries over HTTP (%d each, keep-alive):\n", iterations);
  for (const Query& query : TypicalQueries()) {
    std::vector<double> times;
    long total = 0;
    for (int i = 0; i < iterations; ++i) {
      auto t = Clock::now();
      auto res = c->Get(("/api/v1/directory?" + query.http).c_str(),
                        {{"Authorization", "Bearer " + token}});
      times.push_back(Ms(Clock::now() - t));
      if (!res || res->status != 200) return false;
      if (i == 0) total = json::parse(res->body)["total"].get<long>();
    }
    Percentiles p = Summarize(times);
    std::printf("    %-34s %6ld matches  p50 %7.3f ms  p99 %7.3f ms\n",
                query.label.c_str(), total, p.p50, p.p99);
    report.Add("e2e: " + query.label + " p99", p.p99, "ms", false);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"directory benchmark"};
  bool save = false;
  int iterations = 300;
  std::string phases = "12";
  std::string baseline =
      std::string(HEARTH_SOURCE_DIR) + "/bench/baseline/directory_bench.json";
  app.add_flag("--save", save, "replace the baseline with this run");
  app.add_option("--iterations", iterations, "runs of each query");
  app.add_option("--phases", phases, "which phases to run (digits)");
  app.add_option("--baseline", baseline, "baseline file");
  CLI11_PARSE(app, argc, argv);

  Report report;
  if (phases.find('1') != std::string::npos) InProcess(report, iterations);
  if (phases.find('2') != std::string::npos && !EndToEnd(report, iterations)) {
    hearth::bench::PrintFailures();
    std::fprintf(stderr, "end-to-end phase failed\n");
    return 1;
  }
  report.Print(baseline, save);
  return 0;
}
