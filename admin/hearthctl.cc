// hearthctl: the admin command. Wraps the admin API; prints a table by
// default and the API's JSON with --json.
//
//   hearthctl --data-dir DIR invites create [--uses N] [--expires-hours H]
//   hearthctl --admin-url URL --token-file FILE audit [--after N] [--limit N]
//   hearthctl --data-dir DIR metrics
//   hearthctl --data-dir DIR peers list|add URL|trust NAME [--fingerprint F]
//                              |limit NAME|block NAME|remove NAME
//   hearthctl --data-dir DIR keys list|rotate
//   hearthctl --data-dir DIR announce TEXT | announcements
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "node/config.h"
#include "node/data_dir.h"

namespace {

using nlohmann::json;

struct Target {
  std::string url;  // http://host:port
  std::string token;
};

std::string PercentEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~') {
      out += char(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "hearthctl: %s\n", message.c_str());
  return 1;
}

std::string Time(std::int64_t ms) {
  std::time_t t = std::time_t(ms / 1000);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Sends one request; on success returns the body, else prints the error.
std::optional<std::string> Call(const Target& t, const std::string& method,
                                const std::string& path,
                                const std::string& body = "") {
  httplib::Client client(t.url);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(30, 0);
  httplib::Headers headers = {{"Authorization", "Bearer " + t.token}};
  httplib::Result res =
      method == "POST"
          ? client.Post(path.c_str(), headers, body, "application/json")
      : method == "DELETE" ? client.Delete(path.c_str(), headers)
                           : client.Get(path.c_str(), headers);
  if (!res) {
    Fail("cannot reach the admin API at " + t.url + ": " +
         httplib::to_string(res.error()));
    return std::nullopt;
  }
  if (res->status >= 300) {
    json err = json::parse(res->body, nullptr, false);
    if (!err.is_discarded() && err.contains("error")) {
      Fail(err["error"].value("code", "error") + ": " +
           err["error"].value("message", ""));
    } else {
      Fail("HTTP " + std::to_string(res->status));
    }
    return std::nullopt;
  }
  return res->body;
}

std::optional<Target> ResolveTarget(const std::string& data_dir,
                                    std::string admin_url,
                                    std::string token_file) {
  Target t;
  if (!data_dir.empty()) {
    hearth::DataDir dir{data_dir};
    if (admin_url.empty()) {
      auto cfg = hearth::LoadConfigFile(dir.ConfigPath());
      if (!cfg) {
        Fail(cfg.error().message);
        return std::nullopt;
      }
      hearth::HostPort hp = cfg->config.admin_listen;
      std::string host = hp.host == "0.0.0.0" ? "127.0.0.1" : hp.host;
      if (host.find(':') != std::string::npos) host = "[" + host + "]";
      admin_url = "http://" + host + ":" + std::to_string(hp.port);
    }
    if (token_file.empty()) token_file = dir.AdminTokenPath();
  }
  if (admin_url.empty() || token_file.empty()) {
    Fail("give --data-dir DIR, or --admin-url URL and --token-file FILE");
    return std::nullopt;
  }
  auto token = hearth::ReadSecretFile(token_file);
  if (!token) {
    Fail(token.error().message);
    return std::nullopt;
  }
  t.url = admin_url;
  t.token = *token;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hearthctl: administer a Hearth node"};
  app.require_subcommand(1);
  std::string data_dir, admin_url, token_file;
  bool as_json = false;
  app.add_option("--data-dir", data_dir,
                 "the node's data directory (finds the admin URL and token)");
  app.add_option("--admin-url", admin_url, "admin API base URL");
  app.add_option("--token-file", token_file, "file holding the admin token");
  app.add_flag("--json", as_json, "print the API's JSON");

  CLI::App* invites = app.add_subcommand("invites", "registration invites");
  invites->require_subcommand(1);
  int uses = 1, hours = 24 * 7;
  CLI::App* invite_create = invites->add_subcommand("create", "make an invite");
  invite_create->add_option("--uses", uses, "how many registrations")
      ->capture_default_str();
  invite_create->add_option("--expires-hours", hours, "valid for this long")
      ->capture_default_str();

  std::int64_t after = 0;
  int limit = 100;
  CLI::App* audit = app.add_subcommand("audit", "the admin audit log");
  audit->add_option("--after", after, "entries after this sequence number");
  audit->add_option("--limit", limit, "at most this many")
      ->capture_default_str();

  CLI::App* metrics = app.add_subcommand("metrics", "Prometheus metrics");

  CLI::App* peers = app.add_subcommand("peers", "federation peers and trust");
  peers->require_subcommand(1);
  std::string peer_arg;
  std::vector<std::string> fingerprints;
  CLI::App* peers_list = peers->add_subcommand("list", "list peers");
  CLI::App* peers_add =
      peers->add_subcommand("add", "add a peer by base URL (pending)");
  peers_add->add_option("url", peer_arg, "https://peer.example")->required();
  CLI::App* peers_trust =
      peers->add_subcommand("trust", "pin the peer's keys and trust it");
  peers_trust->add_option("name", peer_arg, "server name")->required();
  peers_trust->add_option("--fingerprint", fingerprints,
                          "a fingerprint you compared out of band");
  std::map<std::string, CLI::App*> peer_verbs;
  for (const char* verb : {"limit", "block", "remove"}) {
    CLI::App* sub = peers->add_subcommand(verb, std::string(verb) + " a peer");
    sub->add_option("name", peer_arg, "server name")->required();
    peer_verbs[verb] = sub;
  }

  CLI::App* keys = app.add_subcommand("keys", "this node's signing keys");
  keys->require_subcommand(1);
  CLI::App* keys_list = keys->add_subcommand("list", "current and old keys");
  CLI::App* keys_rotate = keys->add_subcommand("rotate", "rotate the key");

  std::string text;
  CLI::App* announce =
      app.add_subcommand("announce", "send an announcement to trusted peers");
  announce->add_option("text", text, "the announcement")->required();
  CLI::App* announcements_cmd =
      app.add_subcommand("announcements", "announcements sent and received");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  auto target = ResolveTarget(data_dir, admin_url, token_file);
  if (!target) return 1;

  if (*invite_create) {
    json body = {{"uses", uses}, {"expires_in_hours", hours}};
    auto out = Call(*target, "POST", "/admin/v1/invites", body.dump());
    if (!out) return 1;
    if (as_json) {
      std::printf("%s\n", out->c_str());
      return 0;
    }
    json j = json::parse(*out);
    std::printf("code     %s\nuses     %d\nexpires  %s\n",
                j["code"].get<std::string>().c_str(), j["uses"].get<int>(),
                Time(j["expires_ts"].get<std::int64_t>()).c_str());
    return 0;
  }
  if (*audit) {
    auto out = Call(*target, "GET",
                    "/admin/v1/audit?after=" + std::to_string(after) +
                        "&limit=" + std::to_string(limit));
    if (!out) return 1;
    if (as_json) {
      std::printf("%s\n", out->c_str());
      return 0;
    }
    json j = json::parse(*out);
    std::printf("%-6s %-21s %-8s %-20s %s\n", "SEQ", "TIME", "ACTOR", "ACTION",
                "TARGET / DETAIL");
    for (const auto& e : j["entries"]) {
      std::printf("%-6llu %-21s %-8s %-20s %s %s\n",
                  (unsigned long long)e["seq"].get<std::uint64_t>(),
                  Time(e["ts"].get<std::int64_t>()).c_str(),
                  e["actor"].get<std::string>().c_str(),
                  e["action"].get<std::string>().c_str(),
                  e["target"].get<std::string>().c_str(),
                  e["detail"].dump().c_str());
    }
    return 0;
  }
  auto print = [&](const std::optional<std::string>& out,
                   const std::function<void(const json&)>& table) {
    if (!out) return 1;
    if (as_json) {
      std::printf("%s\n", out->c_str());
    } else {
      table(json::parse(*out));
    }
    return 0;
  };
  auto peer_table = [](const json& list) {
    std::printf("%-28s %-8s %-21s %6s  %s\n", "PEER", "STATE", "LAST CONTACT",
                "QUEUE", "NOTE / LAST ERROR");
    for (const auto& p : list) {
      std::string contact = p["last_contact_ts"].is_number()
                                ? Time(p["last_contact_ts"].get<std::int64_t>())
                                : "-";
      std::string note = p["note"].get<std::string>();
      if (p["last_error"].is_string())
        note += " / " + p["last_error"].get<std::string>();
      std::printf("%-28s %-8s %-21s %6llu  %s\n",
                  p["server_name"].get<std::string>().c_str(),
                  p["state"].get<std::string>().c_str(), contact.c_str(),
                  (unsigned long long)p["queue_depth"].get<std::uint64_t>(),
                  note.c_str());
      for (const char* field : {"pinned", "fingerprints"}) {
        for (const auto& k : p[field]) {
          std::printf("    %s %s %s\n",
                      std::string(field) == "pinned" ? "pinned " : "offered",
                      k["key_id"].get<std::string>().c_str(),
                      k["fingerprint"].get<std::string>().c_str());
        }
      }
    }
  };
  auto one_peer = [&](const json& p) { peer_table(json::array({p})); };
  const std::string peer_path = "/admin/v1/peers/" + PercentEncode(peer_arg);
  if (*peers_list) {
    return print(Call(*target, "GET", "/admin/v1/peers"),
                 [&](const json& j) { peer_table(j["peers"]); });
  }
  if (*peers_add) {
    return print(Call(*target, "POST", "/admin/v1/peers",
                      json{{"url", peer_arg}}.dump()),
                 one_peer);
  }
  if (*peers_trust) {
    json body = json::object();
    if (!fingerprints.empty()) body["fingerprints"] = fingerprints;
    return print(Call(*target, "POST", peer_path + "/trust", body.dump()),
                 one_peer);
  }
  for (const auto& [verb, sub] : peer_verbs) {
    if (!*sub) continue;
    if (verb == "remove") {
      return print(Call(*target, "DELETE", peer_path), [&](const json&) {
        std::printf("removed %s\n", peer_arg.c_str());
      });
    }
    return print(Call(*target, "POST", peer_path + "/" + verb, "{}"), one_peer);
  }
  if (*keys_list || *keys_rotate) {
    if (*keys_rotate) {
      return print(Call(*target, "POST", "/admin/v1/keys/rotate", "{}"),
                   [](const json& j) {
                     std::printf("new key %s %s\n",
                                 j["key_id"].get<std::string>().c_str(),
                                 j["fingerprint"].get<std::string>().c_str());
                   });
    }
    return print(Call(*target, "GET", "/admin/v1/keys"), [](const json& j) {
      std::printf("%-20s %-52s %s\n", "KEY", "FINGERPRINT", "EXPIRED");
      for (const auto& k : j["keys"]) {
        std::printf("%-20s %-52s %s\n", k["key_id"].get<std::string>().c_str(),
                    k["fingerprint"].get<std::string>().c_str(),
                    k["expired_ts"].is_number()
                        ? Time(k["expired_ts"].get<std::int64_t>()).c_str()
                        : "current");
      }
    });
  }
  if (*announce) {
    return print(Call(*target, "POST", "/admin/v1/announcements",
                      json{{"body", text}}.dump()),
                 [](const json& j) {
                   std::printf("sent %s\n",
                               j["event_id"].get<std::string>().c_str());
                 });
  }
  if (*announcements_cmd) {
    return print(
        Call(*target, "GET", "/admin/v1/announcements"), [](const json& j) {
          for (const auto& a : j["announcements"]) {
            std::printf("%-6llu %-21s %-24s %s\n",
                        (unsigned long long)a["seq"].get<std::uint64_t>(),
                        Time(a["ts"].get<std::int64_t>()).c_str(),
                        a["origin"].get<std::string>().c_str(),
                        a["body"].get<std::string>().c_str());
          }
        });
  }
  if (*metrics) {
    auto out = Call(*target, "GET", "/metrics");
    if (!out) return 1;
    std::fputs(out->c_str(), stdout);
    return 0;
  }
  return 0;
}
