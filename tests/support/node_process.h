// Runs the real `hearth` binary for multi-process tests: `hearth init` into
// a temporary data directory, extra config, `hearth serve` on free loopback
// ports, and every wait bounded.
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace hearth::testing {

// Path of the hearth and hearthctl binaries under test.
std::string HearthBinary();
std::string HearthctlBinary();

// A port that was free a moment ago on 127.0.0.1.
int FreePort();

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string output;  // stdout and stderr together
};

struct CommandOptions {
  std::chrono::milliseconds timeout = std::chrono::seconds(20);
  std::string cwd;  // empty: inherit
  int uid = -1;     // >= 0: switch to this user first (needs root)
  // Send SIGTERM once the output contains this text (for commands that
  // run until stopped, like `hearth serve`).
  std::string terminate_on;
};

// Runs a command to completion (killed after the timeout).
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const CommandOptions& options = {});

struct NodeOptions {
  std::string server_name = "a.test";
  std::string registration = "open";
  // Appended to the [accounts] section; cheap hashing keeps tests fast.
  std::string accounts_extra =
      "password_memory_kib = 256\npassword_iterations = 1\n";
  std::string log_level = "info";
  // node.http_threads; tests keep it small (sanitizer builds pay ~200 KiB
  // per thread), benchmarks of many waiters raise it. 0: the node default.
  int http_threads = 128;
  bool allow_http = false;       // federation over plain http (loopback tests)
  std::string federation_extra;  // appended to the [federation] section
  std::string extra_toml;        // appended at the end of hearth.toml
};

class NodeProcess {
 public:
  // Initializes a node in a fresh temporary directory (not started).
  explicit NodeProcess(NodeOptions options = {});
  ~NodeProcess();

  // Starts `hearth serve` and waits (bounded) until it answers.
  // Returns false with the log in `error` if it exits or never answers.
  bool Start(std::string* error = nullptr);
  // SIGTERM and wait (bounded); returns the exit code (-1 if it had to be
  // killed).
  int Stop();
  // SIGKILL and reap.
  void Kill();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  int port() const { return port_; }
  int admin_port() const { return admin_port_; }
  std::string base_url() const;
  std::string admin_url() const;
  const std::string& data_dir() const { return data_dir_; }
  std::string admin_token() const;
  std::string log() const;  // what the process printed

  // A client with keep-alive for the member API / the admin API.
  std::unique_ptr<httplib::Client> Client() const;
  std::unique_ptr<httplib::Client> AdminClient() const;

 private:
  TempDir dir_;
  std::string data_dir_;
  std::string log_path_;
  int port_ = 0;
  int admin_port_ = 0;
  pid_t pid_ = -1;
};

// An admin API call with the node's admin token; the JSON answer (null on
// no answer). `status`, if given, receives the HTTP status.
nlohmann::json AdminCall(NodeProcess& node, const std::string& method,
                         const std::string& path,
                         const nlohmann::json& body = nlohmann::json::object(),
                         int* status = nullptr);

// a adds b by URL and trusts the key it offers, and b the same for a.
// Returns an empty string, or what went wrong.
std::string PeerNodes(NodeProcess& a, NodeProcess& b);

// Helpers for JSON calls; the body of a response as JSON (null if not).
nlohmann::json JsonOf(const httplib::Result& res);
httplib::Result PostJson(httplib::Client& c, const std::string& path,
                         const nlohmann::json& body,
                         const std::string& token = "");
httplib::Result GetWithToken(httplib::Client& c, const std::string& path,
                             const std::string& token);

// Polls `pred` every 50 ms until it holds or `timeout` passes; every wait
// in the multi-node tests is bounded by this.
bool WaitFor(const std::function<bool()>& pred,
             std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Starts every node and peers each pair (PeerNodes). Returns an empty
// string, or what went wrong.
std::string StartAndPeer(const std::vector<NodeProcess*>& nodes);

// Registers `handle` on `n` (open registration) and returns its session
// token, or "" (the reason printed to stderr).
std::string RegisterMember(NodeProcess& n, const std::string& handle);

// A member API call: the status (0 on no answer) and the JSON body.
struct Answer {
  int status = 0;
  nlohmann::json body;
};
Answer Call(NodeProcess& n, const std::string& method, const std::string& path,
            const std::string& token, const nlohmann::json& body = nullptr);

}  // namespace hearth::testing
