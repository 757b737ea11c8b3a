// hearth.toml: the node's configuration. Every key is validated with a
// message naming the key and the problem; unknown keys are warnings, so a
// typo is visible but does not stop a node.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace hearth {

enum class Registration { kOpen, kInvite, kClosed };
enum class FederationMode { kAllowlist, kOpen };

const char* ToString(Registration r);
const char* ToString(FederationMode m);

struct HostPort {
  std::string host;
  int port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
  // "HOST:PORT" (IPv6 as "[::1]:PORT"); port 0 asks the OS for a free one.
  static std::optional<HostPort> Parse(const std::string& text);
};

struct CrisisResource {
  std::string name;
  std::optional<std::string> phone, text, url, region;
};

struct PasswordParams {
  std::uint32_t memory_kib = 19456;  // OWASP's Argon2id minimum (19 MiB)
  std::uint32_t iterations = 2;
  std::uint32_t parallelism = 1;
};

struct Config {
  // [node]
  std::string server_name;
  HostPort listen{"127.0.0.1", 8080};
  HostPort admin_listen{"127.0.0.1", 8081};
  Registration registration = Registration::kInvite;
  // Member listener pool: each open connection, including every member
  // waiting in a sync long-poll, holds one thread (~8.5 KiB RSS idle).
  int http_threads = 1200;
  std::uint64_t max_body_bytes = 1 << 20;  // member API request bodies
  // Addresses of reverse proxies whose X-Forwarded-For is believed.
  std::vector<std::string> trusted_proxies;
  // [federation]
  FederationMode federation_mode = FederationMode::kAllowlist;
  bool allow_http = false;
  // Delivery retry back-off: first delay and cap (Synapse calls these
  // destination_min_retry_interval and destination_max_retry_interval).
  std::int64_t retry_min_ms = 1000;
  std::int64_t retry_max_s = 3600;
  // The directory exchange: how often each peer's directory is pulled
  // (notices make changes arrive sooner), and after how long without an
  // answer a peer's groups are shown as stale.
  std::int64_t directory_pull_s = 300;
  std::int64_t directory_stale_s = 6 * 3600;
  // Events waiting for one peer beyond which a group's messages replace
  // each other in its queue (it backfills the gap from the host).
  std::int64_t queue_collapse_events = 10000;
  // [accounts]
  std::int64_t session_ttl_hours = 24 * 30;
  PasswordParams password;
  int login_free_failures = 5;  // per handle, before delays start
  // [storage]
  std::uint64_t max_store_mb = 1 << 20;  // 1 TiB: the map grows up to this
  // [log]
  std::string log_level = "info";
  // [[crisis_resources]]
  std::vector<CrisisResource> crisis_resources;
};

struct LoadedConfig {
  Config config;
  std::vector<std::string> warnings;  // unknown keys
};

// Parses and validates TOML text. `source` names the file in messages.
Result<LoadedConfig> ParseConfig(const std::string& text,
                                 const std::string& source);
Result<LoadedConfig> LoadConfigFile(const std::string& path);

// The commented hearth.toml that `hearth init` writes.
std::string InitialConfigText(const std::string& server_name,
                              const HostPort& listen,
                              const HostPort& admin_listen);

}  // namespace hearth
