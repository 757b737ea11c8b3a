#include "node/config.h"

#include <gtest/gtest.h>

namespace hearth {
namespace {

Result<LoadedConfig> Parse(const std::string& text) {
  return ParseConfig(text, "hearth.toml");
}

std::string ErrorOf(const std::string& text) {
  auto r = Parse(text);
  return r ? "" : r.error().message;
}

TEST(ConfigTest, TheInitialConfigParsesToTheDefaults) {
  auto r = Parse(InitialConfigText("riverside.example", {"127.0.0.1", 8080},
                                   {"127.0.0.1", 8081}));
  ASSERT_TRUE(r) << r.error().message;
  const Config& c = r->config;
  EXPECT_EQ(c.server_name, "riverside.example");
  EXPECT_EQ(c.listen.ToString(), "127.0.0.1:8080");
  EXPECT_EQ(c.admin_listen.ToString(), "127.0.0.1:8081");
  EXPECT_EQ(c.registration, Registration::kInvite);
  EXPECT_EQ(c.federation_mode, FederationMode::kAllowlist);
  EXPECT_FALSE(c.allow_http);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_TRUE(r->warnings.empty());
}

TEST(ConfigTest, ReadsEveryKey) {
  auto r = Parse(R"(
[node]
server_name = "a.test"
listen = "[::1]:9000"
admin_listen = "127.0.0.1:9001"
registration = "open"
http_threads = 300
max_body_bytes = 65536
[federation]
mode = "open"
allow_http = true
[accounts]
session_ttl_hours = 48
password_memory_kib = 65536
password_iterations = 3
password_parallelism = 2
login_free_failures = 3
[storage]
max_store_mb = 2048
[log]
level = "debug"
[[crisis_resources]]
name = "Lifeline"
phone = "988"
region = "US"
)");
  ASSERT_TRUE(r) << r.error().message;
  const Config& c = r->config;
  EXPECT_EQ(c.listen.host, "::1");
  EXPECT_EQ(c.listen.port, 9000);
  EXPECT_EQ(c.registration, Registration::kOpen);
  EXPECT_EQ(c.http_threads, 300);
  EXPECT_EQ(c.max_body_bytes, 65536u);
  EXPECT_EQ(c.federation_mode, FederationMode::kOpen);
  EXPECT_TRUE(c.allow_http);
  EXPECT_EQ(c.session_ttl_hours, 48);
  EXPECT_EQ(c.password.memory_kib, 65536u);
  EXPECT_EQ(c.password.iterations, 3u);
  EXPECT_EQ(c.password.parallelism, 2u);
  EXPECT_EQ(c.login_free_failures, 3);
  EXPECT_EQ(c.max_store_mb, 2048u);
  EXPECT_EQ(c.log_level, "debug");
  ASSERT_EQ(c.crisis_resources.size(), 1u);
  EXPECT_EQ(c.crisis_resources[0].phone, "988");
  EXPECT_FALSE(c.crisis_resources[0].url);
}

TEST(ConfigTest, ErrorsNameTheKeyAndTheProblem) {
  EXPECT_EQ(ErrorOf(""), "hearth.toml: node: missing section [node]");
  EXPECT_EQ(ErrorOf("[node]\n"), "hearth.toml: node.server_name: is required");
  EXPECT_NE(ErrorOf("[node]\nserver_name = \"Bad Name\"\n")
                .find("node.server_name: \"Bad Name\" is not a lowercase DNS"),
            std::string::npos);
  EXPECT_EQ(ErrorOf("[node]\nserver_name = \"a.test\"\nlisten = \"8080\"\n"),
            "hearth.toml: node.listen: expected HOST:PORT (like "
            "127.0.0.1:8080), got \"8080\"");
  EXPECT_EQ(ErrorOf("[node]\nserver_name = \"a.test\"\nregistration = 1\n"),
            "hearth.toml: node.registration: expected a string");
  EXPECT_EQ(
      ErrorOf("[node]\nserver_name = \"a.test\"\nregistration = \"maybe\"\n"),
      "hearth.toml: node.registration: must be one of open, invite, closed, "
      "got \"maybe\"");
  EXPECT_EQ(
      ErrorOf("[node]\nserver_name = \"a.test\"\nhttp_threads = 1\n"),
      "hearth.toml: node.http_threads: must be between 2 and 20000, got 1");
  EXPECT_EQ(ErrorOf("[node]\nserver_name = \"a.test\"\n[federation]\nmode = "
                    "\"closed\"\n"),
            "hearth.toml: federation.mode: must be one of allowlist, open, got "
            "\"closed\"");
  EXPECT_EQ(ErrorOf("[node]\nserver_name = \"a.test\"\n[federation]\n"
                    "allow_http = 1\n"),
            "hearth.toml: federation.allow_http: expected true or false");
  EXPECT_EQ(ErrorOf("[node]\nserver_name = \"a.test\"\n[log]\nlevel = "
                    "\"loud\"\n"),
            "hearth.toml: log.level: must be one of trace, debug, info, warn, "
            "error, off, got \"loud\"");
  EXPECT_EQ(ErrorOf("[node]\nserver_name = \"a.test\"\n[[crisis_resources]]\n"
                    "name = \"x\"\n"),
            "hearth.toml: crisis_resources[0]: needs at least one of phone, "
            "text or url");
  EXPECT_EQ(ErrorOf("node = 3\n"),
            "hearth.toml: node: expected a table ([node])");
  // TOML syntax errors carry the line.
  EXPECT_NE(ErrorOf("[node\n").find("hearth.toml:1:"), std::string::npos);
}

TEST(ConfigTest, UnknownKeysAreWarningsNotErrors) {
  auto r = Parse(
      "colour = 1\n[node]\nserver_name = \"a.test\"\nlisten_port = 3\n"
      "[federation]\nmdoe = \"open\"\n");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->warnings.size(), 3u);
  EXPECT_EQ(r->warnings[0], "hearth.toml: unknown key 'colour' is ignored");
  EXPECT_EQ(r->warnings[1],
            "hearth.toml: unknown key 'node.listen_port' is ignored");
  EXPECT_EQ(r->warnings[2],
            "hearth.toml: unknown key 'federation.mdoe' is ignored");
}

TEST(ConfigTest, HostPortParsing) {
  EXPECT_TRUE(HostPort::Parse("0.0.0.0:1"));
  EXPECT_EQ(HostPort::Parse("[::]:8080")->host, "::");
  EXPECT_FALSE(HostPort::Parse("::1:8080"));
  EXPECT_FALSE(HostPort::Parse("host:"));
  EXPECT_FALSE(HostPort::Parse(":80"));
  EXPECT_FALSE(HostPort::Parse("host:70000"));
  EXPECT_FALSE(HostPort::Parse("host:8o"));
}

TEST(ConfigTest, TrustedProxiesAreIpAddresses) {
  auto r = Parse(
      "[node]\nserver_name = \"a.test\"\ntrusted_proxies = [\"127.0.0.1\", "
      "\"::1\"]\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->config.trusted_proxies.size(), 2u);
  EXPECT_EQ(ErrorOf("[node]\nserver_name = \"a.test\"\ntrusted_proxies = "
                    "[\"proxy.local\"]\n"),
            "hearth.toml: node.trusted_proxies: \"proxy.local\" is not an IP "
            "address");
  EXPECT_EQ(ErrorOf("[node]\nserver_name = \"a.test\"\ntrusted_proxies = "
                    "\"127.0.0.1\"\n"),
            "hearth.toml: node.trusted_proxies: expected a list of addresses, "
            "like [\"127.0.0.1\"]");
}

TEST(ConfigTest, Argon2MemoryMustCoverItsLanes) {
  EXPECT_EQ(ErrorOf("[node]\nserver_name = \"a.test\"\n[accounts]\n"
                    "password_memory_kib = 64\npassword_parallelism = 16\n"),
            "hearth.toml: accounts.password_memory_kib: Argon2 needs at least "
            "8 KiB per lane: 128 for password_parallelism = 16");
}

TEST(ConfigTest, RetryBackOffIsCappedAtAnHour) {
  auto r = Parse(
      "[node]\nserver_name = \"a.test\"\n[federation]\n"
      "retry_min_ms = 500\nretry_max_s = 600\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->config.retry_min_ms, 500);
  EXPECT_EQ(r->config.retry_max_s, 600);
  EXPECT_EQ(ErrorOf("[node]\nserver_name = \"a.test\"\n[federation]\n"
                    "retry_max_s = 86400\n"),
            "hearth.toml: federation.retry_max_s: must be between 1 and 3600, "
            "got 86400");
}

TEST(ConfigTest, TheQueueCollapseLimitIsReadAndBounded) {
  auto r = Parse(
      "[node]\nserver_name = \"a.test\"\n[federation]\n"
      "queue_collapse_events = 500\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->config.queue_collapse_events, 500);
  EXPECT_TRUE(r->warnings.empty());
  EXPECT_EQ(ErrorOf("[node]\nserver_name = \"a.test\"\n[federation]\n"
                    "queue_collapse_events = 0\n"),
            "hearth.toml: federation.queue_collapse_events: must be between 1 "
            "and 100000000, got 0");
}

}  // namespace
}  // namespace hearth
