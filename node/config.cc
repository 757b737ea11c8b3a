#include "node/config.h"

#include <arpa/inet.h>
#include <toml++/toml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "common/ids.h"

namespace hearth {
namespace {

// Validation collects the first problem with a key-qualified message.
class Reader {
 public:
  Reader(const toml::table& root, std::string source)
      : root_(root), source_(std::move(source)) {}

  Error Fail(const std::string& key, const std::string& problem) {
    return Error::Invalid("bad_config", source_ + ": " + key + ": " + problem);
  }

  const toml::table* Section(const std::string& name, Status& status) {
    const toml::node* n = root_.get(name);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) {
      status = Fail(name, "expected a table ([" + name + "])");
      return nullptr;
    }
    return n->as_table();
  }

  Status String(const toml::table* t, const std::string& section,
                const std::string& key, std::string& out) {
    if (t == nullptr) return Ok();
    const toml::node* n = t->get(key);
    if (n == nullptr) return Ok();
    if (!n->is_string()) return Fail(section + "." + key, "expected a string");
    out = n->as_string()->get();
    return Ok();
  }

  Status Int(const toml::table* t, const std::string& section,
             const std::string& key, std::int64_t min, std::int64_t max,
             std::int64_t& out) {
    if (t == nullptr) return Ok();
    const toml::node* n = t->get(key);
    if (n == nullptr) return Ok();
    if (!n->is_integer())
      return Fail(section + "." + key, "expected an integer");
    std::int64_t v = n->as_integer()->get();
    if (v < min || v > max) {
      return Fail(section + "." + key,
                  "must be between " + std::to_string(min) + " and " +
                      std::to_string(max) + ", got " + std::to_string(v));
    }
    out = v;
    return Ok();
  }

  Status Bool(const toml::table* t, const std::string& section,
              const std::string& key, bool& out) {
    if (t == nullptr) return Ok();
    const toml::node* n = t->get(key);
    if (n == nullptr) return Ok();
    if (!n->is_boolean())
      return Fail(section + "." + key, "expected true or false");
    out = n->as_boolean()->get();
    return Ok();
  }

  void WarnUnknown(const toml::table& t, const std::string& prefix,
                   const std::set<std::string>& known,
                   std::vector<std::string>& warnings) {
    for (auto&& [k, v] : t) {
      std::string key(k.str());
      if (!known.count(key)) {
        warnings.push_back(source_ + ": unknown key '" + prefix + key +
                           "' is ignored");
      }
    }
  }

 private:
  const toml::table& root_;
  std::string source_;
};

template <typename T>
Status OneOf(Reader& r, const std::string& key, const std::string& value,
             const std::vector<std::pair<std::string, T>>& options, T& out) {
  std::string names;
  for (const auto& [name, v] : options) {
    if (name == value) {
      out = v;
      return Ok();
    }
    names += (names.empty() ? "" : ", ") + name;
  }
  return r.Fail(key, "must be one of " + names + ", got \"" + value + "\"");
}

Status ParseInto(const toml::table& root, const std::string& source,
                 LoadedConfig& out) {
  Reader r(root, source);
  Config& c = out.config;
  Status status;
  r.WarnUnknown(
      root, "",
      {"node", "federation", "accounts", "storage", "log", "crisis_resources"},
      out.warnings);

  const toml::table* node = r.Section("node", status);
  HEARTH_RETURN_IF_ERROR(status);
  if (node == nullptr) return r.Fail("node", "missing section [node]");
  r.WarnUnknown(*node, "node.",
                {"server_name", "listen", "admin_listen", "registration",
                 "http_threads", "max_body_bytes", "trusted_proxies"},
                out.warnings);
  HEARTH_RETURN_IF_ERROR(r.String(node, "node", "server_name", c.server_name));
  if (c.server_name.empty()) return r.Fail("node.server_name", "is required");
  if (!IsValidServerName(c.server_name)) {
    return r.Fail("node.server_name",
                  "\"" + c.server_name +
                      "\" is not a lowercase DNS name (like "
                      "riverside.example)");
  }
  for (auto [key, target] : {std::pair{"listen", &c.listen},
                             std::pair{"admin_listen", &c.admin_listen}}) {
    std::string text;
    HEARTH_RETURN_IF_ERROR(r.String(node, "node", key, text));
    if (text.empty()) continue;
    auto hp = HostPort::Parse(text);
    if (!hp) {
      return r.Fail(
          std::string("node.") + key,
          "expected HOST:PORT (like 127.0.0.1:8080), got \"" + text + "\"");
    }
    *target = *hp;
  }
  std::string registration = ToString(c.registration);
  HEARTH_RETURN_IF_ERROR(r.String(node, "node", "registration", registration));
  HEARTH_RETURN_IF_ERROR(
      OneOf<Registration>(r, "node.registration", registration,
                          {{"open", Registration::kOpen},
                           {"invite", Registration::kInvite},
                           {"closed", Registration::kClosed}},
                          c.registration));
  std::int64_t v = c.http_threads;
  HEARTH_RETURN_IF_ERROR(r.Int(node, "node", "http_threads", 2, 20000, v));
  c.http_threads = int(v);
  v = std::int64_t(c.max_body_bytes);
  HEARTH_RETURN_IF_ERROR(
      r.Int(node, "node", "max_body_bytes", 1024, 64 << 20, v));
  c.max_body_bytes = std::uint64_t(v);
  if (const toml::node* n = node->get("trusted_proxies")) {
    const toml::array* arr = n->as_array();
    if (arr == nullptr)
      return r.Fail("node.trusted_proxies",
                    "expected a list of addresses, like [\"127.0.0.1\"]");
    for (const auto& item : *arr) {
      if (!item.is_string())
        return r.Fail("node.trusted_proxies", "expected strings");
      std::string addr = item.as_string()->get();
      in6_addr buf;
      if (inet_pton(AF_INET, addr.c_str(), &buf) != 1 &&
          inet_pton(AF_INET6, addr.c_str(), &buf) != 1) {
        return r.Fail("node.trusted_proxies",
                      "\"" + addr + "\" is not an IP address");
      }
      c.trusted_proxies.push_back(addr);
    }
  }

  const toml::table* fed = r.Section("federation", status);
  HEARTH_RETURN_IF_ERROR(status);
  if (fed != nullptr) {
    r.WarnUnknown(
        *fed, "federation.",
        {"mode", "allow_http", "retry_min_ms", "retry_max_s",
         "directory_pull_s", "directory_stale_s", "queue_collapse_events"},
        out.warnings);
    std::string mode = ToString(c.federation_mode);
    HEARTH_RETURN_IF_ERROR(r.String(fed, "federation", "mode", mode));
    HEARTH_RETURN_IF_ERROR(
        OneOf<FederationMode>(r, "federation.mode", mode,
                              {{"allowlist", FederationMode::kAllowlist},
                               {"open", FederationMode::kOpen}},
                              c.federation_mode));
    HEARTH_RETURN_IF_ERROR(
        r.Bool(fed, "federation", "allow_http", c.allow_http));
    HEARTH_RETURN_IF_ERROR(r.Int(fed, "federation", "retry_min_ms", 10,
                                 600 * 1000, c.retry_min_ms));
    // Capped at an hour: a longer back-off silently defederates a peer
    // that was down for a day.
    HEARTH_RETURN_IF_ERROR(
        r.Int(fed, "federation", "retry_max_s", 1, 3600, c.retry_max_s));
    if (c.retry_max_s * 1000 < c.retry_min_ms)
      return r.Fail("federation.retry_max_s",
                    "must not be below federation.retry_min_ms");
    HEARTH_RETURN_IF_ERROR(r.Int(fed, "federation", "directory_pull_s", 1,
                                 24 * 3600, c.directory_pull_s));
    HEARTH_RETURN_IF_ERROR(r.Int(fed, "federation", "directory_stale_s", 1,
                                 30 * 24 * 3600, c.directory_stale_s));
    if (c.directory_stale_s < c.directory_pull_s)
      return r.Fail("federation.directory_stale_s",
                    "must not be below federation.directory_pull_s");
    HEARTH_RETURN_IF_ERROR(r.Int(fed, "federation", "queue_collapse_events", 1,
                                 100000000, c.queue_collapse_events));
  }

  const toml::table* acc = r.Section("accounts", status);
  HEARTH_RETURN_IF_ERROR(status);
  if (acc != nullptr) {
    r.WarnUnknown(
        *acc, "accounts.",
        {"session_ttl_hours", "password_memory_kib", "password_iterations",
         "password_parallelism", "login_free_failures"},
        out.warnings);
    HEARTH_RETURN_IF_ERROR(r.Int(acc, "accounts", "session_ttl_hours", 1,
                                 24 * 366, c.session_ttl_hours));
    v = c.password.memory_kib;
    // Below 1 MiB Argon2id protects little; tests use it to run fast.
    HEARTH_RETURN_IF_ERROR(
        r.Int(acc, "accounts", "password_memory_kib", 64, 4 << 20, v));
    c.password.memory_kib = std::uint32_t(v);
    v = c.password.iterations;
    HEARTH_RETURN_IF_ERROR(
        r.Int(acc, "accounts", "password_iterations", 1, 64, v));
    c.password.iterations = std::uint32_t(v);
    v = c.password.parallelism;
    HEARTH_RETURN_IF_ERROR(
        r.Int(acc, "accounts", "password_parallelism", 1, 16, v));
    c.password.parallelism = std::uint32_t(v);
    if (c.password.memory_kib < 8 * c.password.parallelism) {
      return r.Fail("accounts.password_memory_kib",
                    "Argon2 needs at least 8 KiB per lane: " +
                        std::to_string(8 * c.password.parallelism) +
                        " for password_parallelism = " +
                        std::to_string(c.password.parallelism));
    }
    v = c.login_free_failures;
    HEARTH_RETURN_IF_ERROR(
        r.Int(acc, "accounts", "login_free_failures", 1, 1000, v));
    c.login_free_failures = int(v);
  }

  const toml::table* storage = r.Section("storage", status);
  HEARTH_RETURN_IF_ERROR(status);
  if (storage != nullptr) {
    r.WarnUnknown(*storage, "storage.", {"max_store_mb"}, out.warnings);
    v = std::int64_t(c.max_store_mb);
    HEARTH_RETURN_IF_ERROR(
        r.Int(storage, "storage", "max_store_mb", 64, 64ll << 20, v));
    c.max_store_mb = std::uint64_t(v);
  }

  const toml::table* log = r.Section("log", status);
  HEARTH_RETURN_IF_ERROR(status);
  if (log != nullptr) {
    r.WarnUnknown(*log, "log.", {"level"}, out.warnings);
    HEARTH_RETURN_IF_ERROR(r.String(log, "log", "level", c.log_level));
    std::string ignored;
    HEARTH_RETURN_IF_ERROR(OneOf<std::string>(r, "log.level", c.log_level,
                                              {{"trace", "trace"},
                                               {"debug", "debug"},
                                               {"info", "info"},
                                               {"warn", "warn"},
                                               {"error", "error"},
                                               {"off", "off"}},
                                              ignored));
  }

  if (const toml::node* n = root.get("crisis_resources")) {
    const toml::array* arr = n->as_array();
    if (arr == nullptr)
      return r.Fail("crisis_resources",
                    "expected an array of tables ([[crisis_resources]])");
    for (size_t i = 0; i < arr->size(); ++i) {
      std::string key = "crisis_resources[" + std::to_string(i) + "]";
      const toml::table* t = arr->get(i)->as_table();
      if (t == nullptr) return r.Fail(key, "expected a table");
      r.WarnUnknown(*t, key + ".", {"name", "phone", "text", "url", "region"},
                    out.warnings);
      CrisisResource res;
      HEARTH_RETURN_IF_ERROR(r.String(t, key, "name", res.name));
      if (res.name.empty()) return r.Fail(key + ".name", "is required");
      for (auto [field, target] :
           {std::pair{"phone", &res.phone}, std::pair{"text", &res.text},
            std::pair{"url", &res.url}, std::pair{"region", &res.region}}) {
        std::string value;
        HEARTH_RETURN_IF_ERROR(r.String(t, key, field, value));
        if (!value.empty()) *target = value;
      }
      if (!res.phone && !res.text && !res.url) {
        return r.Fail(key, "needs at least one of phone, text or url");
      }
      c.crisis_resources.push_back(std::move(res));
    }
  }
  return Ok();
}

}  // namespace

const char* ToString(Registration r) {
  switch (r) {
    case Registration::kOpen:
      return "open";
    case Registration::kInvite:
      return "invite";
    case Registration::kClosed:
      return "closed";
  }
  return "closed";
}

const char* ToString(FederationMode m) {
  return m == FederationMode::kOpen ? "open" : "allowlist";
}

std::optional<HostPort> HostPort::Parse(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string host = text.substr(0, colon);
  std::string port = text.substr(colon + 1);
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return std::nullopt;
  }
  if (port.empty() || port.size() > 5) return std::nullopt;
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > 65535) return std::nullopt;
  return HostPort{host, value};
}

Result<LoadedConfig> ParseConfig(const std::string& text,
                                 const std::string& source) {
  LoadedConfig out;
  try {
    toml::table root = toml::parse(text, source);
    HEARTH_RETURN_IF_ERROR(ParseInto(root, source, out));
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << source << ":" << e.source().begin.line << ":"
        << e.source().begin.column << ": " << e.description();
    return Error::Invalid("bad_config", msg.str());
  }
  return out;
}

Result<LoadedConfig> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error::Invalid("bad_config",
                          "cannot read " + path + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path);
}

std::string InitialConfigText(const std::string& server_name,
                              const HostPort& listen,
                              const HostPort& admin_listen) {
  std::ostringstream o;
  o << "# Hearth node configuration. Every key is optional except\n"
       "# node.server_name; the values shown are the defaults unless noted.\n"
       "# See the README and deploy/hearth.example.toml for more.\n\n"
       "[node]\n"
       "# The node's public DNS name. Fixed once the node has data.\n"
       "server_name = \""
    << server_name
    << "\"\n"
       "# Member API listener (put a TLS-terminating proxy in front).\n"
       "listen = \""
    << listen.ToString()
    << "\"\n"
       "# Admin API listener: keep it on loopback.\n"
       "admin_listen = \""
    << admin_listen.ToString()
    << "\"\n"
       "# open | invite | closed (invites are made with hearthctl)\n"
       "registration = \"invite\"\n"
       "# Worker threads of the member listener; a connection holds one while\n"
       "# it is served and until its next request (5 s idle at most). Members\n"
       "# waiting in sync need none beyond three quarters of the pool.\n"
       "# http_threads = 1200\n"
       "# Largest accepted request body for the member API, in bytes.\n"
       "# max_body_bytes = 1048576\n"
       "# Reverse proxies (TLS terminators) whose X-Forwarded-For header\n"
       "# names the client, e.g. [\"127.0.0.1\"]. Login throttling counts\n"
       "# per client address, so set this when a proxy is in front.\n"
       "# trusted_proxies = []\n\n"
       "[federation]\n"
       "# allowlist: only peers an admin trusted | open: anyone not blocked\n"
       "mode = \"allowlist\"\n"
       "# true lets peers use plain http:// base URLs (tests, development)\n"
       "allow_http = false\n"
       "# Delivery retries back off from retry_min_ms, doubling, up to\n"
       "# retry_max_s (at most an hour), and restart when the peer calls.\n"
       "# retry_min_ms = 1000\n"
       "# retry_max_s = 3600\n"
       "# Peers' group directories are pulled every directory_pull_s (a\n"
       "# peer's notice brings a change sooner); a peer not heard from for\n"
       "# directory_stale_s has its groups shown as stale.\n"
       "# directory_pull_s = 300\n"
       "# directory_stale_s = 21600\n"
       "# Once this many events wait for a peer (down, say), a group's\n"
       "# newest message replaces the one queued before it; the peer\n"
       "# fetches the gap from the host when it is back.\n"
       "# queue_collapse_events = 10000\n\n"
       "[accounts]\n"
       "# session_ttl_hours = 720\n"
       "# Argon2id cost for new password hashes (each hash records its own).\n"
       "# password_memory_kib = 19456\n"
       "# password_iterations = 2\n"
       "# password_parallelism = 1\n"
       "# Failed logins per handle before each further try is delayed.\n"
       "# login_free_failures = 5\n\n"
       "[log]\n"
       "# trace | debug | info | warn | error | off\n"
       "level = \"info\"\n\n"
       "# Crisis resources shown to members by every client. Add one table\n"
       "# per resource; name and one of phone, text or url are required.\n"
       "# [[crisis_resources]]\n"
       "# name = \"988 Suicide & Crisis Lifeline\"\n"
       "# phone = \"988\"\n"
       "# text = \"988\"\n"
       "# url = \"https://988lifeline.org\"\n"
       "# region = \"US\"\n";
  return o.str();
}

}  // namespace hearth
