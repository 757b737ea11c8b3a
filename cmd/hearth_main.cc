// hearth: `init` creates a node's data directory, `serve` runs the node.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cmd/node_runtime.h"
#include "common/ids.h"
#include "common/version.h"
#include "node/config.h"
#include "node/data_dir.h"

namespace {

constexpr char kDefaultDataDir[] = "./hearth-data";

int InitCommand(const std::string& data_dir, const std::string& server_name,
                const std::string& listen, const std::string& admin_listen) {
  if (!hearth::IsValidServerName(server_name)) {
    std::fprintf(stderr,
                 "hearth: --server-name: \"%s\" is not a lowercase DNS name "
                 "(like riverside.example)\n",
                 server_name.c_str());
    return 2;
  }
  auto l = hearth::HostPort::Parse(listen);
  auto a = hearth::HostPort::Parse(admin_listen);
  if (!l || !a) {
    std::fprintf(stderr, "hearth: --%s: expected HOST:PORT, got \"%s\"\n",
                 !l ? "listen" : "admin-listen",
                 (!l ? listen : admin_listen).c_str());
    return 2;
  }
  hearth::DataDir dir{data_dir};
  auto s = hearth::InitDataDir(dir, server_name, *l, *a);
  if (!s) {
    std::fprintf(stderr, "hearth: %s\n", s.error().message.c_str());
    return 1;
  }
  std::printf(
      "initialized %s for %s\n"
      "  config:      %s\n"
      "  admin token: %s\n"
      "start it with: hearth serve --data-dir %s\n",
      data_dir.c_str(), server_name.c_str(), dir.ConfigPath().c_str(),
      dir.AdminTokenPath().c_str(), data_dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  hearth::BlockShutdownSignals();

  CLI::App app{"Hearth: a federated peer-support server node"};
  app.set_version_flag("--version", std::string(hearth::kVersion));
  app.require_subcommand(1);

  std::string init_dir, server_name, listen = "127.0.0.1:8080",
                                     admin_listen = "127.0.0.1:8081";
  CLI::App* init = app.add_subcommand("init", "create a node's data directory");
  init->add_option("--data-dir", init_dir, "data directory")->required();
  init->add_option("--server-name", server_name,
                   "the node's DNS name, e.g. riverside.example")
      ->required();
  init->add_option("--listen", listen, "member API HOST:PORT")
      ->capture_default_str();
  init->add_option("--admin-listen", admin_listen, "admin API HOST:PORT")
      ->capture_default_str();

  std::string serve_dir;
  CLI::App* serve = app.add_subcommand("serve", "run the node");
  serve->add_option("--data-dir", serve_dir,
                    "data directory (default ./hearth-data, created on first "
                    "start)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (*init) return InitCommand(init_dir, server_name, listen, admin_listen);

  hearth::DataDir dir{serve_dir.empty() ? kDefaultDataDir : serve_dir};
  if (!hearth::DataDirExists(dir)) {
    if (!serve_dir.empty()) {
      std::fprintf(stderr,
                   "hearth: %s holds no node (no hearth.toml); create one "
                   "with: hearth init --data-dir %s --server-name NAME\n",
                   serve_dir.c_str(), serve_dir.c_str());
      return 1;
    }
    // One command to a working node: initialize the default directory.
    int rc = InitCommand(kDefaultDataDir, "localhost", "127.0.0.1:8080",
                         "127.0.0.1:8081");
    if (rc != 0) return rc;
  }
  return hearth::RunNode(dir);
}
