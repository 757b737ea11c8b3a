// Member-API pieces shared by the group benchmarks (groups_bench,
// muc_bench): accounts, groups and posts over keep-alive connections,
// message bodies that carry their id and send time, receivers that
// long-poll sync and record when each message arrives, paced and windowed
// posters, and process figures from /proc.
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tests/support/node_process.h"

namespace hearth::bench {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point since);
double Ms(Clock::duration d);

// Percent-encodes everything but RFC 3986 unreserved characters (group
// ids hold ! and @; sync cursors are opaque).
std::string PctEncode(const std::string& s);

// A keep-alive connection with Nagle off to 127.0.0.1:`port`.
std::unique_ptr<httplib::Client> Connect(int port, int read_timeout_s = 30);

// One keep-alive HTTP/1.1 connection to 127.0.0.1:`port`, Nagle off, that
// writes each request in one send and reads answers with Content-Length.
// The driver shares the machine's cores with the nodes it measures:
// httplib's client sends a POST's head and body in two writes (two TCP
// segments, two wake-ups on the node) and reads the head a byte at a time.
class RawClient {
 public:
  explicit RawClient(int port, int read_timeout_s = 30);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  struct Answer {
    int status = 0;  // 0: no answer (the error is in `body`)
    std::string body;
  };
  // `head` holds extra header lines, each ending in "\r\n".
  Answer Request(const std::string& method, const std::string& path,
                 const std::string& head, const std::string& body = "");
  // Makes a Request blocked in another thread return (status 0).
  void Abort();

 private:
  bool Open();
  void Close();
  int port_;
  int timeout_s_;
  std::mutex fd_mu_;  // Open, Close and Abort; Request reads fd_ alone
  int fd_ = -1;
  std::string buf_;  // read but not yet taken
};

// Failed API calls, remembered (the first few of each kind) so that a run
// ends with exactly what the node answered. Thread-safe.
void NoteFailure(const std::string& call, const httplib::Result& res);
void NoteFailure(const std::string& call, const std::string& what);
void NoteFailure(const std::string& call, const RawClient::Answer& answer);
size_t FailureCount();
void PrintFailures();

struct Account {
  std::string handle;
  std::string member_id;
  std::string token;
  int port = 0;  // its node's member API
};

// Registers `count` accounts `prefix`0.. on the node at `port` from
// `threads` connections. Accounts that failed are left out (and noted).
std::vector<Account> RegisterMany(int port, const std::string& prefix,
                                  int count, int threads = 8);

// Creates an open public group; returns its id ("!slug@server"), or "".
std::string CreateGroup(httplib::Client& c, const Account& owner,
                        const std::string& slug);
// Joins on the member's own node (which relays to a remote host).
bool JoinGroup(httplib::Client& c, const Account& m, const std::string& gid);
// Joins every account to `gid`, each on its own node, from `threads`
// connections per node; returns how many are joined.
size_t JoinMany(const std::vector<Account>& members, const std::string& gid,
                int threads = 8);
// Posts; true on 201.
bool Post(httplib::Client& c, const Account& m, const std::string& gid,
          const std::string& body);

// A message body of exactly `size` bytes (at least 48) that carries `id`
// and the time it counts as sent.
std::string MakeBody(std::int64_t id, Clock::time_point sent, size_t size);
bool ParseBody(const std::string& body, std::int64_t* id,
               Clock::time_point* sent);

// Latency summary in milliseconds.
struct Percentiles {
  size_t n = 0;
  double p50 = 0, p99 = 0, max = 0;
};
Percentiles Summarize(std::vector<double> ms);

// Process figures from /proc/PID/stat and /proc/PID/status.
double ProcessCpuSeconds(pid_t pid);  // utime + stime, all threads
int ProcessThreads(pid_t pid);
double SelfCpuSeconds();  // this process, getrusage

// One member's long-poll sync on its own node, in its own thread and
// connection. Records the first arrival of every message made by
// MakeBody (by the id in the body) and counts repeats.
class SyncReceiver {
 public:
  SyncReceiver(Account member, int timeout_ms = 10000);
  ~SyncReceiver();
  SyncReceiver(const SyncReceiver&) = delete;
  SyncReceiver& operator=(const SyncReceiver&) = delete;

  // The first sync (no cursor) returns at once with what exists; it is
  // made here, then the thread long-polls from its `next`.
  bool Start();
  void Stop();

  // Waits until every id in [lo, hi) has arrived or `deadline` passes;
  // true if all did.
  bool WaitAll(std::int64_t lo, std::int64_t hi, Clock::time_point deadline);

  struct Range {
    size_t received = 0;    // distinct ids in range
    size_t duplicates = 0;  // arrivals beyond the first
    std::vector<double> latency_ms;
    Clock::time_point last_first_arrival{};  // when the range completed
  };
  Range Collect(std::int64_t lo, std::int64_t hi) const;

  const Account& member() const { return member_; }
  size_t sync_calls() const { return calls_.load(); }

 private:
  void Loop();
  void Take(const std::string& text, Clock::time_point now);

  struct Arrival {
    Clock::time_point sent, first;
    int count = 0;
  };

  Account member_;
  int timeout_ms_;
  std::string cursor_;
  RawClient client_;
  std::thread thread_;
  std::atomic<bool> stop_{false}, done_{false};
  std::atomic<size_t> calls_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::int64_t, Arrival> arrivals_;
};

// Posts ids [first_id, first_id + count) as `author` to `gid`.
// rate > 0: open loop, message i is due at start + i / rate, carries its
// due time as its send time, and `threads` connections take turns so a
// slow answer does not delay the next message. rate == 0: closed loop,
// `threads` connections each with one post outstanding (a window of
// `threads` unanswered posts); a message's send time is when its request
// starts.
struct PostRun {
  size_t ok = 0, failed = 0;
  Clock::time_point start{}, end{};  // first request, last answer
  Percentiles reply;                 // post round trips
  double seconds() const {
    return std::chrono::duration<double>(end - start).count();
  }
};
PostRun PostMessages(const Account& author, const std::string& gid,
                     std::int64_t first_id, size_t count, double rate,
                     int threads, size_t body_size);

// Samples the RSS of some processes every `period` and keeps the maximum.
class RssSampler {
 public:
  RssSampler(std::vector<pid_t> pids, std::chrono::milliseconds period);
  ~RssSampler();
  std::vector<long> PeakKib();  // stops sampling
  // RssAnon when VmRSS peaked: private memory, not mapped files.
  std::vector<long> PeakAnonKib();

 private:
  void Sample();
  std::vector<pid_t> pids_;
  std::vector<long> peak_, peak_anon_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::thread thread_;
};

}  // namespace hearth::bench
