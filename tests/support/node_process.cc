#include "tests/support/node_process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/files.h"

namespace hearth::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A file's text, or "" if it cannot be read (a log not yet written).
std::string Slurp(const std::string& path) {
  auto text = hearth::ReadFile(path);
  return text ? std::move(text).value() : std::string();
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path,
            const CommandOptions& options = {}) {
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    // The test runner may block signals; the child starts clean.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) ::_exit(126);
    if (options.uid >= 0 &&
        (::setgid(options.uid) != 0 || ::setuid(options.uid) != 0))
      ::_exit(125);
    // A test binary that crashes must not leave nodes behind holding their
    // ports and directories: the child dies with the thread that started
    // it (every Start runs on a test's main thread). Set after setuid,
    // which clears it; and the parent may already be gone.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(124);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// Waits up to `timeout` for `pid`; returns its exit code, or nullopt.
std::optional<int> WaitFor(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (r < 0) return -1;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

std::string HearthBinary() { return HEARTH_BINARY; }
std::string HearthctlBinary() { return HEARTHCTL_BINARY; }

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const CommandOptions& options) {
  TempDir tmp;
  std::string out = tmp.Sub("out");
  pid_t pid = Spawn(argv, out, options);
  if (!options.terminate_on.empty()) {
    auto deadline = Clock::now() + options.timeout;
    while (Clock::now() < deadline &&
           Slurp(out).find(options.terminate_on) == std::string::npos) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid)
        return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, Slurp(out)};
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid, SIGTERM);
  }
  auto code = WaitFor(pid, options.timeout);
  if (!code) {
    ::kill(pid, SIGKILL);
    WaitFor(pid, std::chrono::seconds(5));
    return {-1, Slurp(out)};
  }
  return {*code, Slurp(out)};
}

NodeProcess::NodeProcess(NodeOptions options) {
  data_dir_ = dir_.Sub("data");
  log_path_ = dir_.Sub("hearth.log");
  port_ = FreePort();
  admin_port_ = FreePort();
  while (admin_port_ == port_) admin_port_ = FreePort();
  auto init = RunCommand(
      {HearthBinary(), "init", "--data-dir", data_dir_, "--server-name",
       options.server_name, "--listen", "127.0.0.1:" + std::to_string(port_),
       "--admin-listen", "127.0.0.1:" + std::to_string(admin_port_)});
  if (init.exit_code != 0)
    throw std::runtime_error("hearth init failed: " + init.output);
  std::string config = Slurp(data_dir_ + "/hearth.toml");
  auto replace = [&](const std::string& from, const std::string& to) {
    auto pos = config.find(from);
    if (pos == std::string::npos)
      throw std::runtime_error("hearth.toml lacks " + from);
    config.replace(pos, from.size(), to);
  };
  replace("registration = \"invite\"",
          "registration = \"" + options.registration + "\"" +
              (options.http_threads
                   ? "\nhttp_threads = " + std::to_string(options.http_threads)
                   : ""));
  replace("[accounts]\n", "[accounts]\n" + options.accounts_extra);
  replace("level = \"info\"", "level = \"" + options.log_level + "\"");
  if (options.allow_http) replace("allow_http = false", "allow_http = true");
  replace("[federation]\n", "[federation]\n" + options.federation_extra);
  config += "\n" + options.extra_toml;
  std::ofstream(data_dir_ + "/hearth.toml") << config;
}

NodeProcess::~NodeProcess() {
  if (running()) Kill();
}

bool NodeProcess::Start(std::string* error) {
  pid_ = Spawn({HearthBinary(), "serve", "--data-dir", data_dir_}, log_path_);
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      if (error) *error = "hearth exited early:\n" + log();
      return false;
    }
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(0, 200000);
    if (auto res = c.Get("/api/v1/node"); res && res->status == 200)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (error) *error = "hearth did not answer within 20 s:\n" + log();
  Kill();
  return false;
}

int NodeProcess::Stop() {
  if (!running()) return -1;
  ::kill(pid_, SIGTERM);
  auto code = WaitFor(pid_, std::chrono::seconds(20));
  if (!code) {
    Kill();
    return -1;
  }
  pid_ = -1;
  return *code;
}

void NodeProcess::Kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  WaitFor(pid_, std::chrono::seconds(10));
  pid_ = -1;
}

std::string NodeProcess::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}
std::string NodeProcess::admin_url() const {
  return "http://127.0.0.1:" + std::to_string(admin_port_);
}

std::string NodeProcess::admin_token() const {
  std::string t = Slurp(data_dir_ + "/admin.token");
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t;
}

std::string NodeProcess::log() const { return Slurp(log_path_); }

std::unique_ptr<httplib::Client> NodeProcess::Client() const {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
  c->set_keep_alive(true);
  c->set_tcp_nodelay(true);  // see bench/bench_util.cc
  c->set_connection_timeout(5, 0);
  c->set_read_timeout(30, 0);
  return c;
}

std::unique_ptr<httplib::Client> NodeProcess::AdminClient() const {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", admin_port_);
  c->set_connection_timeout(5, 0);
  c->set_read_timeout(30, 0);
  return c;
}

nlohmann::json AdminCall(NodeProcess& node, const std::string& method,
                         const std::string& path, const nlohmann::json& body,
                         int* status) {
  auto c = node.AdminClient();
  httplib::Headers h = {{"Authorization", "Bearer " + node.admin_token()}};
  httplib::Result res =
      method == "GET" ? c->Get(path.c_str(), h)
      : method == "DELETE"
          ? c->Delete(path.c_str(), h)
          : c->Post(path.c_str(), h, body.dump(), "application/json");
  if (status) *status = res ? res->status : -1;
  return JsonOf(res);
}

std::string PeerNodes(NodeProcess& a, NodeProcess& b) {
  for (auto [x, y] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
    int status = 0;
    auto added = AdminCall(*x, "POST", "/admin/v1/peers",
                           {{"url", y->base_url()}}, &status);
    if (status != 201) return "add peer: " + added.dump();
    if (added["state"] != "pending" || added["fingerprints"].size() != 1)
      return "unexpected peer: " + added.dump();
    std::string fp = added["fingerprints"][0]["fingerprint"];
    std::string name = added["server_name"];
    auto trusted = AdminCall(*x, "POST", "/admin/v1/peers/" + name + "/trust",
                             {{"fingerprints", {fp}}}, &status);
    if (status != 200 || trusted["state"] != "trusted")
      return "trust peer: " + trusted.dump();
  }
  return "";
}

nlohmann::json JsonOf(const httplib::Result& res) {
  if (!res) return nullptr;
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  return j.is_discarded() ? nlohmann::json(nullptr) : j;
}

httplib::Result PostJson(httplib::Client& c, const std::string& path,
                         const nlohmann::json& body, const std::string& token) {
  httplib::Headers h;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  return c.Post(path.c_str(), h, body.dump(), "application/json");
}

httplib::Result GetWithToken(httplib::Client& c, const std::string& path,
                             const std::string& token) {
  return c.Get(path.c_str(), {{"Authorization", "Bearer " + token}});
}

bool WaitFor(const std::function<bool()>& pred,
             std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

Answer Call(NodeProcess& n, const std::string& method, const std::string& path,
            const std::string& token, const nlohmann::json& body) {
  auto c = n.Client();
  httplib::Headers h;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  std::string text = body.is_null() ? "" : body.dump();
  httplib::Result res =
      method == "GET"      ? c->Get(path.c_str(), h)
      : method == "DELETE" ? c->Delete(path.c_str(), h)
      : method == "PATCH"  ? c->Patch(path.c_str(), h, text, "application/json")
                           : c->Post(path.c_str(), h, text, "application/json");
  if (!res) return {};
  return {res->status, nlohmann::json::parse(res->body, nullptr, false)};
}

std::string StartAndPeer(const std::vector<NodeProcess*>& nodes) {
  for (NodeProcess* n : nodes) {
    std::string error;
    if (!n->Start(&error)) return error;
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (size_t j = i + 1; j < nodes.size(); ++j) {
      std::string problem = PeerNodes(*nodes[i], *nodes[j]);
      if (!problem.empty()) return problem;
    }
  }
  return "";
}

std::string RegisterMember(NodeProcess& n, const std::string& handle) {
  Answer r = Call(n, "POST", "/api/v1/accounts", "",
                  {{"handle", handle}, {"password", "correct horse battery"}});
  if (r.status != 201 || !r.body.contains("token")) {
    std::fprintf(stderr, "registering %s: %d %s\n", handle.c_str(), r.status,
                 r.body.dump().c_str());
    return "";
  }
  return r.body["token"].get<std::string>();
}

}  // namespace hearth::testing
