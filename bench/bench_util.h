// Shared pieces of the HTTP load benchmarks: a bounded closed-loop load
// driver, latency percentiles, process memory, and comparison with the
// previous figures kept in bench/baseline/.
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace hearth::bench {

struct LoadResult {
  std::string name;
  size_t ok = 0;
  size_t failed = 0;
  double seconds = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double per_second() const { return seconds > 0 ? ok / seconds : 0; }
};

// One request: returns true on the expected answer. `client` is the
// thread's own keep-alive connection; `seq` counts this thread's calls.
using Op = std::function<bool(httplib::Client& client, int thread, size_t seq)>;

// Runs `op` from `threads` connections until `duration` passes or
// `max_ops` total calls were made, whichever is first.
LoadResult RunLoad(const std::string& name, const std::string& host, int port,
                   int threads, std::chrono::milliseconds duration,
                   size_t max_ops, const Op& op);

// Resident memory of a process in KiB (VmRSS), 0 if unknown; or another
// field of /proc/PID/status, such as "RssAnon:" (its private memory,
// without the mapped libraries and store file that VmRSS also counts).
long RssKib(pid_t pid, const char* field = "VmRSS:");

// Figures printed as a table, compared with the previous run's figures
// from `baseline_path` (JSON: name -> value); `save` overwrites them.
class Report {
 public:
  void Add(const std::string& name, double value, const std::string& unit,
           bool higher_is_better = true);
  void Add(const LoadResult& r);
  void Print(const std::string& baseline_path, bool save) const;

 private:
  struct Figure {
    std::string name;
    double value;
    std::string unit;
    bool higher_is_better;
  };
  std::vector<Figure> figures_;
};

}  // namespace hearth::bench
