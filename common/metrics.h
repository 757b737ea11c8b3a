// A small metrics registry rendered in the Prometheus text format. Series
// are created on first use; label values must come from bounded sets (route
// patterns, status codes, peer names), never from request data.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  // Declares a metric's type ("counter", "gauge", "histogram") and help.
  void Describe(const std::string& name, const std::string& type,
                const std::string& help);

  void Add(const std::string& name, const Labels& labels, double v = 1);

  // Histogram with the given upper bounds (seconds for latencies).
  void Observe(const std::string& name, const Labels& labels, double value);
  void SetBuckets(const std::string& name, std::vector<double> bounds);

  // A value read when rendering: a gauge, or a counter kept elsewhere.
  void Gauge(const std::string& name, const std::string& help,
             std::function<double()> read, const std::string& type = "gauge");

  // A labelled family read when rendering (e.g. a gauge per peer).
  using Samples = std::vector<std::pair<Labels, double>>;
  void GaugeFamily(const std::string& name, const std::string& help,
                   std::function<Samples()> read);

  // One labelled series of a gauge family, read when rendering; several
  // owners may each add theirs (e.g. one per listener). `read` must stay
  // callable as long as the registry renders.
  void GaugeSeries(const std::string& name, const std::string& help,
                   const Labels& labels, std::function<double()> read);

  std::string Render() const;

 private:
  struct Family {
    std::string type = "counter";
    std::string help;
    std::vector<double> bounds;            // histograms
    std::map<std::string, double> values;  // label text -> value
    // label text -> per-bucket counts, sum, count
    std::map<std::string, std::vector<double>> buckets;
    std::map<std::string, std::pair<double, double>> sum_count;
    std::function<double()> read;  // gauges read at render time
    std::function<Samples()> read_family;
    std::map<std::string, std::function<double()>> read_series;  // by labels
  };

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

// Latency buckets in seconds, 0.5 ms to 10 s.
std::vector<double> DefaultLatencyBuckets();

}  // namespace hearth
