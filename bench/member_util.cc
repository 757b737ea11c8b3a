#include "bench/member_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "bench/bench_util.h"

namespace hearth::bench {

using nlohmann::json;

double SecondsSince(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

std::string PctEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out += char(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

std::unique_ptr<httplib::Client> Connect(int port, int read_timeout_s) {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
  c->set_keep_alive(true);
  c->set_tcp_nodelay(true);  // see bench_util.cc
  c->set_connection_timeout(5, 0);
  c->set_read_timeout(read_timeout_s, 0);
  c->set_write_timeout(10, 0);
  return c;
}

// --- RawClient ---

RawClient::RawClient(int port, int read_timeout_s)
    : port_(port), timeout_s_(read_timeout_s) {}

RawClient::~RawClient() { Close(); }

bool RawClient::Open() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval rt{timeout_s_, 0}, wt{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof rt);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wt, sizeof wt);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(std::uint16_t(port_));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return false;
  }
  std::lock_guard<std::mutex> lock(fd_mu_);
  fd_ = fd;
  buf_.clear();
  return true;
}

void RawClient::Close() {
  std::lock_guard<std::mutex> lock(fd_mu_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void RawClient::Abort() {
  // Under the lock: the number cannot have been reused by another socket.
  std::lock_guard<std::mutex> lock(fd_mu_);
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

namespace {

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n =
        ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += size_t(n);
  }
  return true;
}

// The value of header `name` (lower case) in `head`, or "".
std::string HeaderValue(const std::string& head, const std::string& name) {
  size_t at = 0;
  while ((at = head.find("\r\n", at)) != std::string::npos) {
    at += 2;
    if (head.size() - at < name.size() + 1) break;
    bool match = true;
    for (size_t i = 0; i < name.size() && match; ++i)
      match = std::tolower(static_cast<unsigned char>(head[at + i])) == name[i];
    if (!match || head[at + name.size()] != ':') continue;
    size_t v = at + name.size() + 1, e = head.find("\r\n", v);
    while (v < e && head[v] == ' ') ++v;
    return head.substr(v, e - v);
  }
  return "";
}

}  // namespace

RawClient::Answer RawClient::Request(const std::string& method,
                                     const std::string& path,
                                     const std::string& head,
                                     const std::string& body) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  req += head;
  if (method != "GET") {
    req += "Content-Type: application/json\r\nContent-Length: ";
    req += std::to_string(body.size());
    req += "\r\n";
  }
  req += "\r\n";
  req += body;
  for (int attempt = 0;; ++attempt) {
    bool fresh = fd_ < 0;
    if (fresh && !Open()) return {0, "cannot connect"};
    if (!SendAll(fd_, req)) {
      Close();
      if (fresh || attempt > 0) return {0, "send failed"};
      continue;  // a kept-alive connection the node had closed
    }
    // Head, then exactly Content-Length bytes.
    size_t head_end;
    char chunk[16384];
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) {
        bool nothing = buf_.empty();
        Close();
        if (nothing && !fresh && attempt == 0) break;  // closed while idle
        return {0, n == 0 ? "connection closed" : "read failed or timed out"};
      }
      buf_.append(chunk, size_t(n));
    }
    if (head_end == std::string::npos) continue;
    std::string answer_head = buf_.substr(0, head_end + 2);
    Answer a;
    if (answer_head.compare(0, 9, "HTTP/1.1 ") != 0 ||
        answer_head.size() < 12) {
      Close();
      return {0, "not an HTTP/1.1 answer"};
    }
    a.status = std::atoi(answer_head.c_str() + 9);
    std::string length = HeaderValue(answer_head, "content-length");
    if (length.empty()) {
      Close();
      return {0, "answer without Content-Length"};
    }
    size_t total =
        head_end + 4 + size_t(std::strtoull(length.c_str(), nullptr, 10));
    while (buf_.size() < total) {
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) {
        Close();
        return {0, "answer cut short"};
      }
      buf_.append(chunk, size_t(n));
    }
    a.body = buf_.substr(head_end + 4, total - head_end - 4);
    buf_.erase(0, total);
    if (HeaderValue(answer_head, "connection") == "close") Close();
    return a;
  }
}

void NoteFailure(const std::string& call, const RawClient::Answer& a) {
  NoteFailure(
      call, "HTTP " + std::to_string(a.status) + ": " + a.body.substr(0, 300));
}

// --- failures ---

namespace {

struct FailureLog {
  std::mutex mu;
  std::map<std::string, size_t> counts;
  std::map<std::string, std::vector<std::string>> examples;
  size_t total = 0;
};

FailureLog& Failures() {
  static FailureLog log;
  return log;
}

}  // namespace

void NoteFailure(const std::string& call, const std::string& what) {
  auto& f = Failures();
  std::lock_guard<std::mutex> lock(f.mu);
  ++f.total;
  ++f.counts[call];
  auto& ex = f.examples[call];
  if (ex.size() < 3 && std::find(ex.begin(), ex.end(), what) == ex.end())
    ex.push_back(what);
}

void NoteFailure(const std::string& call, const httplib::Result& res) {
  std::string what;
  if (!res) {
    what = "no answer: " + httplib::to_string(res.error());
  } else {
    std::string body = res->body.substr(0, 400);
    what = "HTTP " + std::to_string(res->status) + " " + body;
  }
  NoteFailure(call, what);
}

size_t FailureCount() {
  auto& f = Failures();
  std::lock_guard<std::mutex> lock(f.mu);
  return f.total;
}

void PrintFailures() {
  auto& f = Failures();
  std::lock_guard<std::mutex> lock(f.mu);
  if (f.total == 0) return;
  std::printf("\nfailed calls (%zu):\n", f.total);
  for (const auto& [call, n] : f.counts) {
    std::printf("  %-44s x%zu\n", call.c_str(), n);
    for (const auto& e : f.examples[call]) std::printf("      %s\n", e.c_str());
  }
}

// --- accounts and groups ---

std::vector<Account> RegisterMany(int port, const std::string& prefix,
                                  int count, int threads) {
  std::vector<Account> made(count);
  std::atomic<int> next{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < std::min(threads, count); ++t) {
    workers.emplace_back([&] {
      auto c = Connect(port);
      for (int i; (i = next.fetch_add(1)) < count;) {
        std::string handle = prefix + std::to_string(i);
        auto res = c->Post(
            "/api/v1/accounts",
            json{{"handle", handle}, {"password", "bench password"}}.dump(),
            "application/json");
        if (!res || res->status != 201) {
          NoteFailure("POST /api/v1/accounts", res);
          continue;
        }
        auto j = json::parse(res->body, nullptr, false);
        if (j.is_discarded() || !j["token"].is_string() ||
            !j["member_id"].is_string()) {
          NoteFailure("POST /api/v1/accounts", res);
          continue;
        }
        made[i] = Account{handle, j["member_id"], j["token"], port};
      }
    });
  }
  for (auto& w : workers) w.join();
  std::vector<Account> out;
  for (auto& a : made)
    if (!a.token.empty()) out.push_back(std::move(a));
  return out;
}

std::string CreateGroup(httplib::Client& c, const Account& owner,
                        const std::string& slug) {
  json body = {{"slug", slug},
               {"name", "Bench " + slug},
               {"description", "benchmark group"},
               {"topics", {"bench"}},
               {"language", "en"},
               {"visibility", "public"},
               {"join_policy", "open"}};
  auto res = hearth::testing::PostJson(c, "/api/v1/groups", body, owner.token);
  if (!res || res->status != 201) {
    NoteFailure("POST /api/v1/groups", res);
    return "";
  }
  auto j = json::parse(res->body, nullptr, false);
  if (j.is_discarded() || !j["group_id"].is_string()) {
    NoteFailure("POST /api/v1/groups", res);
    return "";
  }
  return j["group_id"];
}

bool JoinGroup(httplib::Client& c, const Account& m, const std::string& gid) {
  auto res = hearth::testing::PostJson(
      c, "/api/v1/groups/" + PctEncode(gid) + "/join", json::object(), m.token);
  if (!res || res->status != 200) {
    NoteFailure("POST /api/v1/groups/{gid}/join", res);
    return false;
  }
  auto j = json::parse(res->body, nullptr, false);
  if (j.is_discarded() || j["status"] != "joined") {
    NoteFailure("POST /api/v1/groups/{gid}/join", res);
    return false;
  }
  return true;
}

size_t JoinMany(const std::vector<Account>& members, const std::string& gid,
                int threads) {
  std::atomic<size_t> next{0}, joined{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < std::min<int>(threads, members.size()); ++t) {
    workers.emplace_back([&] {
      std::map<int, std::unique_ptr<httplib::Client>> clients;
      for (size_t i; (i = next.fetch_add(1)) < members.size();) {
        const Account& m = members[i];
        auto& c = clients[m.port];
        if (!c) c = Connect(m.port);
        if (JoinGroup(*c, m, gid)) ++joined;
      }
    });
  }
  for (auto& w : workers) w.join();
  return joined;
}

bool Post(httplib::Client& c, const Account& m, const std::string& gid,
          const std::string& body) {
  auto res = hearth::testing::PostJson(
      c, "/api/v1/groups/" + PctEncode(gid) + "/messages", {{"body", body}},
      m.token);
  if (!res || res->status != 201) {
    NoteFailure("POST /api/v1/groups/{gid}/messages", res);
    return false;
  }
  return true;
}

// --- bodies ---

std::string MakeBody(std::int64_t id, Clock::time_point sent, size_t size) {
  long long ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     sent.time_since_epoch())
                     .count();
  char head[64];
  int n = std::snprintf(head, sizeof head, "m%lld:%lld;", (long long)id, ns);
  std::string s(head, size_t(n));
  if (s.size() < size) s.append(size - s.size(), 'x');
  return s;
}

bool ParseBody(const std::string& body, std::int64_t* id,
               Clock::time_point* sent) {
  if (body.size() < 4 || body[0] != 'm') return false;
  char* end = nullptr;
  long long i = std::strtoll(body.c_str() + 1, &end, 10);
  if (*end != ':') return false;
  long long ns = std::strtoll(end + 1, &end, 10);
  if (*end != ';') return false;
  *id = i;
  *sent = Clock::time_point(std::chrono::duration_cast<Clock::duration>(
      std::chrono::nanoseconds(ns)));
  return true;
}

Percentiles Summarize(std::vector<double> ms) {
  Percentiles p;
  p.n = ms.size();
  if (ms.empty()) return p;
  std::sort(ms.begin(), ms.end());
  p.p50 = ms[ms.size() / 2];
  p.p99 = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  p.max = ms.back();
  return p;
}

// --- /proc ---

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  // Fields from 3 (state); utime and stime are 14 and 15.
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return double(utime + stime) / double(::sysconf(_SC_CLK_TCK));
}

int ProcessThreads(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return 0;
}

double SelfCpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

// --- SyncReceiver ---

SyncReceiver::SyncReceiver(Account member, int timeout_ms)
    : member_(std::move(member)),
      timeout_ms_(timeout_ms),
      // The read timeout outlasts the long poll.
      client_(member_.port, timeout_ms_ / 1000 + 30) {}

SyncReceiver::~SyncReceiver() { Stop(); }

bool SyncReceiver::Start() {
  auto res = client_.Request("GET", "/api/v1/sync",
                             "Authorization: Bearer " + member_.token + "\r\n");
  ++calls_;
  if (res.status != 200) {
    NoteFailure("GET /api/v1/sync (first)", res);
    return false;
  }
  auto j = json::parse(res.body, nullptr, false);
  if (j.is_discarded() || !j.contains("next") || j["next"].is_null()) {
    NoteFailure("GET /api/v1/sync (first)", res);
    return false;
  }
  Take(res.body, Clock::now());
  thread_ = std::thread([this] { Loop(); });
  return true;
}

void SyncReceiver::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  // stop() aborts a poll in flight; repeat in case the thread was between
  // polls and has started another.
  while (!done_) {
    client_.Abort();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  thread_.join();
}

void SyncReceiver::Loop() {
  const std::string head = "Authorization: Bearer " + member_.token + "\r\n";
  while (!stop_) {
    std::string path = "/api/v1/sync?since=" + PctEncode(cursor_) +
                       "&timeout=" + std::to_string(timeout_ms_);
    auto res = client_.Request("GET", path, head);
    auto now = Clock::now();
    ++calls_;
    if (stop_) break;
    if (res.status != 200) {
      NoteFailure("GET /api/v1/sync?since=&timeout=", res);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    Take(res.body, now);
  }
  done_ = true;
}

namespace {

// Reads a sync answer without building a DOM or copying every string a
// character at a time (nlohmann's lexer, even in SAX mode, was a quarter
// of the driver's CPU): the top-level "next", and the "type" and "body" of
// each object in the top-level "events" array. Everything else is walked
// over, checking only the structure; false on malformed JSON.
class SyncAnswerReader {
 public:
  struct Event {
    std::string type, body;
  };
  std::optional<std::string> next;
  std::vector<Event> events;

  bool Read(const std::string& text) {
    p_ = text.data();
    end_ = p_ + text.size();
    return Object([&](const std::string& key) {
      if (key == "next") return Scalar(&next);
      if (key != "events") return Skip(0);
      return Array([&] {
        events.emplace_back();
        return Object([&](const std::string& k) {
          std::optional<std::string> v;
          if (k != "type" && k != "body") return Skip(0);
          if (!Scalar(&v)) return false;
          (k == "type" ? events.back().type : events.back().body) =
              v.value_or("");
          return true;
        });
      });
    });
  }

 private:
  void Ws() {
    while (p_ < end_ &&
           (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t'))
      ++p_;
  }
  bool Eat(char c) {
    Ws();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  // A string at p_ (after Ws), unescaped into *out if out is set.
  bool String(std::string* out) {
    if (!Eat('"')) return false;
    for (;;) {
      const char* run = p_;
      while (p_ < end_ && *p_ != '"' && *p_ != '\\') ++p_;
      if (out) out->append(run, size_t(p_ - run));
      if (p_ == end_) return false;
      if (*p_++ == '"') return true;
      if (p_ == end_) return false;
      char c = *p_++;
      if (c == 'u') {  // bodies here are ASCII; keep \uXXXX as it is
        if (end_ - p_ < 4) return false;
        if (out) out->append(p_ - 2, 6);
        p_ += 4;
        continue;
      }
      static const std::string from = "\"\\/bfnrt", to = "\"\\/\b\f\n\r\t";
      size_t k = from.find(c);
      if (k == std::string::npos) return false;
      if (out) out->push_back(to[k]);
    }
  }
  // A string, number, true, false or null; null leaves *out empty.
  bool Scalar(std::optional<std::string>* out) {
    Ws();
    if (p_ < end_ && *p_ == '"') {
      std::string s;
      if (!String(&s)) return false;
      *out = std::move(s);
      return true;
    }
    const char* start = p_;
    while (p_ < end_ && (std::isalnum(static_cast<unsigned char>(*p_)) ||
                         *p_ == '-' || *p_ == '+' || *p_ == '.'))
      ++p_;
    if (p_ == start) return false;
    std::string word(start, p_);
    if (word != "null") *out = std::move(word);
    return true;
  }
  bool Skip(int depth) {
    if (depth > 64) return false;
    Ws();
    if (p_ == end_) return false;
    if (*p_ == '"') return String(nullptr);
    if (*p_ == '{')
      return Object([&](const std::string&) { return Skip(depth + 1); });
    if (*p_ == '[') return Array([&] { return Skip(depth + 1); });
    std::optional<std::string> ignored;
    return Scalar(&ignored);
  }
  template <class F>
  bool Object(F&& member) {
    if (!Eat('{')) return false;
    if (Eat('}')) return true;
    do {
      std::string key;
      Ws();
      if (!String(&key) || !Eat(':') || !member(key)) return false;
    } while (Eat(','));
    return Eat('}');
  }
  template <class F>
  bool Array(F&& element) {
    if (!Eat('[')) return false;
    if (Eat(']')) return true;
    do {
      if (!element()) return false;
    } while (Eat(','));
    return Eat(']');
  }

  const char* p_ = nullptr;
  const char* end_ = nullptr;
};

}  // namespace

void SyncReceiver::Take(const std::string& text, Clock::time_point now) {
  SyncAnswerReader answer;
  if (!answer.Read(text)) {
    NoteFailure("GET /api/v1/sync (parse)", text.substr(0, 300));
    return;
  }
  if (answer.next) cursor_ = *answer.next;
  std::lock_guard<std::mutex> lock(mu_);
  bool any = false;
  for (const auto& e : answer.events) {
    if (e.type != "group.message") continue;
    std::int64_t id;
    Clock::time_point sent;
    if (!ParseBody(e.body, &id, &sent)) continue;
    auto [it, fresh] = arrivals_.try_emplace(id);
    if (fresh) {
      it->second.sent = sent;
      it->second.first = now;
      any = true;
    }
    ++it->second.count;
  }
  if (any) cv_.notify_all();
}

bool SyncReceiver::WaitAll(std::int64_t lo, std::int64_t hi,
                           Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  std::int64_t scanned = lo;  // every id below this has arrived
  for (;;) {
    while (scanned < hi && arrivals_.count(scanned)) ++scanned;
    if (scanned >= hi) return true;
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      while (scanned < hi && arrivals_.count(scanned)) ++scanned;
      return scanned >= hi;
    }
  }
}

SyncReceiver::Range SyncReceiver::Collect(std::int64_t lo,
                                          std::int64_t hi) const {
  std::lock_guard<std::mutex> lock(mu_);
  Range r;
  for (std::int64_t id = lo; id < hi; ++id) {
    auto it = arrivals_.find(id);
    if (it == arrivals_.end()) continue;
    ++r.received;
    r.duplicates += it->second.count - 1;
    r.latency_ms.push_back(Ms(it->second.first - it->second.sent));
    r.last_first_arrival = std::max(r.last_first_arrival, it->second.first);
  }
  return r;
}

// --- posting ---

PostRun PostMessages(const Account& author, const std::string& gid,
                     std::int64_t first_id, size_t count, double rate,
                     int threads, size_t body_size) {
  const std::string path = "/api/v1/groups/" + PctEncode(gid) + "/messages";
  const std::string head = "Authorization: Bearer " + author.token + "\r\n";
  std::atomic<size_t> next{0}, ok{0}, failed{0};
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::mutex mu, connect_mu;
  std::vector<double> replies;
  Clock::time_point start, end{};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      RawClient c(author.port);
      {
        // Open the connections one at a time before the clock starts: the
        // node's listen queue is short (see RawWaiters in groups_bench).
        std::lock_guard<std::mutex> lock(connect_mu);
        auto res = c.Request("GET", "/api/v1/node", "");
        if (res.status != 200) NoteFailure("GET /api/v1/node (connect)", res);
      }
      std::vector<double> mine;
      Clock::time_point last{};
      ++ready;
      while (!go) std::this_thread::sleep_for(std::chrono::microseconds(200));
      for (size_t i; (i = next.fetch_add(1)) < count;) {
        Clock::time_point sent;
        if (rate > 0) {
          sent = start + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(i / rate));
          std::this_thread::sleep_until(sent);
        } else {
          sent = Clock::now();
        }
        std::string payload = json{
            {"body",
             MakeBody(first_id + std::int64_t(i), sent,
                      body_size)}}.dump();
        auto t0 = Clock::now();
        auto res = c.Request("POST", path, head, payload);
        last = Clock::now();
        mine.push_back(Ms(last - t0));
        if (res.status == 201) {
          ++ok;
        } else {
          ++failed;
          NoteFailure("POST /api/v1/groups/{gid}/messages", res);
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      replies.insert(replies.end(), mine.begin(), mine.end());
      end = std::max(end, last);
    });
  }
  while (ready < threads)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // Open loop: leave the connections a moment to be set up.
  start = Clock::now() + (rate > 0 ? std::chrono::milliseconds(20)
                                   : std::chrono::milliseconds(0));
  go = true;
  for (auto& w : workers) w.join();
  PostRun run;
  run.ok = ok;
  run.failed = failed;
  run.start = start;
  run.end = end;
  run.reply = Summarize(std::move(replies));
  return run;
}

// --- RssSampler ---

RssSampler::RssSampler(std::vector<pid_t> pids,
                       std::chrono::milliseconds period)
    : pids_(std::move(pids)),
      peak_(pids_.size(), 0),
      peak_anon_(pids_.size(), 0) {
  thread_ = std::thread([this, period] {
    while (!stop_) {
      Sample();
      std::this_thread::sleep_for(period);
    }
  });
}

void RssSampler::Sample() {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < pids_.size(); ++i) {
    long rss = RssKib(pids_[i]);
    if (rss > peak_[i]) {
      peak_[i] = rss;
      peak_anon_[i] = RssKib(pids_[i], "RssAnon:");
    }
  }
}

RssSampler::~RssSampler() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<long> RssSampler::PeakKib() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  Sample();
  return peak_;
}

std::vector<long> RssSampler::PeakAnonKib() {
  PeakKib();
  return peak_anon_;
}

}  // namespace hearth::bench
