#include "common/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace hearth {
namespace {

std::string LabelText(const Labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    if (!out.empty()) out += ',';
    out += k + "=\"";
    for (char c : v) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  return out;
}

// Whole numbers as integers (20, not the shortest form 2e+01: counts and
// gauges are read by people too); others as the shortest text that reads
// back as `v` (0.0005, not 0.00050000000000000001).
std::string Number(double v) {
  char buf[64];
  if (std::nearbyint(v) == v && std::fabs(v) < 9007199254740992.0) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string Series(const std::string& name, const std::string& labels,
                   const std::string& extra = "") {
  std::string l = labels;
  if (!extra.empty()) l += (l.empty() ? "" : ",") + extra;
  return l.empty() ? name : name + "{" + l + "}";
}

}  // namespace

std::vector<double> DefaultLatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,  0.5,    1,     2.5,  5,     10};
}

void Metrics::Describe(const std::string& name, const std::string& type,
                       const std::string& help) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = families_[name];
  f.type = type;
  f.help = help;
  if (type == "histogram" && f.bounds.empty())
    f.bounds = DefaultLatencyBuckets();
}

void Metrics::SetBuckets(const std::string& name, std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  families_[name].bounds = std::move(bounds);
}

void Metrics::Add(const std::string& name, const Labels& labels, double v) {
  std::string key = LabelText(labels);
  std::lock_guard<std::mutex> lock(mu_);
  families_[name].values[key] += v;
}

void Metrics::Observe(const std::string& name, const Labels& labels,
                      double value) {
  std::string key = LabelText(labels);
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = families_[name];
  f.type = "histogram";
  if (f.bounds.empty()) f.bounds = DefaultLatencyBuckets();
  auto& counts = f.buckets[key];
  counts.resize(f.bounds.size(), 0);
  for (size_t i = 0; i < f.bounds.size(); ++i) {
    if (value <= f.bounds[i]) counts[i] += 1;
  }
  auto& sc = f.sum_count[key];
  sc.first += value;
  sc.second += 1;
}

void Metrics::Gauge(const std::string& name, const std::string& help,
                    std::function<double()> read, const std::string& type) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = families_[name];
  f.type = type;
  f.help = help;
  f.read = std::move(read);
}

void Metrics::GaugeFamily(const std::string& name, const std::string& help,
                          std::function<Samples()> read) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = families_[name];
  f.type = "gauge";
  f.help = help;
  f.read_family = std::move(read);
}

void Metrics::GaugeSeries(const std::string& name, const std::string& help,
                          const Labels& labels, std::function<double()> read) {
  std::string key = LabelText(labels);
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = families_[name];
  f.type = "gauge";
  f.help = help;
  f.read_series[key] = std::move(read);
}

std::string Metrics::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    if (!f.help.empty()) out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + f.type + "\n";
    if (f.read) {
      out += name + " " + Number(f.read()) + "\n";
      continue;
    }
    if (f.read_family) {
      for (const auto& [labels, v] : f.read_family())
        out += Series(name, LabelText(labels)) + " " + Number(v) + "\n";
      continue;
    }
    for (const auto& [labels, read] : f.read_series)
      out += Series(name, labels) + " " + Number(read()) + "\n";
    for (const auto& [labels, v] : f.values) {
      out += Series(name, labels) + " " + Number(v) + "\n";
    }
    for (const auto& [labels, counts] : f.buckets) {
      for (size_t i = 0; i < f.bounds.size(); ++i) {
        out += Series(name + "_bucket", labels,
                      "le=\"" + Number(f.bounds[i]) + "\"") +
               " " + Number(counts[i]) + "\n";
      }
      const auto& sc = f.sum_count.at(labels);
      out += Series(name + "_bucket", labels, "le=\"+Inf\"") + " " +
             Number(sc.second) + "\n";
      out += Series(name + "_sum", labels) + " " + Number(sc.first) + "\n";
      out += Series(name + "_count", labels) + " " + Number(sc.second) + "\n";
    }
  }
  return out;
}

}  // namespace hearth
