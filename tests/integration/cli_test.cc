// The `hearth` command line: init, serve, and a clear one-line error with a
// non-zero exit for each way a start can go wrong.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "storage/env.h"
#include "storage/schema.h"
#include "tests/support/node_process.h"

namespace hearth::testing {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void Spit(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

CommandResult Init(const std::string& dir, const std::string& name = "a.test") {
  return RunCommand(
      {HearthBinary(), "init", "--data-dir", dir, "--server-name", name,
       "--listen", "127.0.0.1:" + std::to_string(FreePort()), "--admin-listen",
       "127.0.0.1:" + std::to_string(FreePort())});
}

CommandResult Serve(const std::string& dir, CommandOptions options = {}) {
  options.timeout = std::chrono::seconds(20);
  return RunCommand({HearthBinary(), "serve", "--data-dir", dir}, options);
}

// One line of output, starting "hearth: " and containing `text`.
void ExpectOneLineError(const CommandResult& r, const std::string& text) {
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("hearth: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(text), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST(CliTest, InitWritesAPrivateNodeAndRefusesToOverwrite) {
  TempDir tmp;
  std::string dir = tmp.Sub("node");
  auto r = Init(dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f : {"hearth.toml", "admin.token"}) {
    auto perms = std::filesystem::status(dir + "/" + f).permissions();
    EXPECT_EQ(perms & std::filesystem::perms::group_all,
              std::filesystem::perms::none)
        << f;
    EXPECT_EQ(perms & std::filesystem::perms::others_all,
              std::filesystem::perms::none)
        << f;
  }
  std::string token = Slurp(dir + "/admin.token");
  EXPECT_GE(token.size(), 40u);
  std::string config = Slurp(dir + "/hearth.toml");
  for (const char* key :
       {"server_name = \"a.test\"", "listen =", "admin_listen =",
        "registration =", "mode =", "allow_http ="}) {
    EXPECT_NE(config.find(key), std::string::npos) << key;
  }

  r = Init(dir, "b.test");
  ExpectOneLineError(r, "refusing to overwrite");
  EXPECT_EQ(Slurp(dir + "/admin.token"), token);
  EXPECT_EQ(Slurp(dir + "/hearth.toml"), config);
}

TEST(CliTest, InitRejectsBadArguments) {
  TempDir tmp;
  auto r = RunCommand({HearthBinary(), "init", "--data-dir", tmp.Sub("x"),
                       "--server-name", "Not A Name"});
  ExpectOneLineError(r, "--server-name");
  r = RunCommand({HearthBinary(), "init", "--data-dir", tmp.Sub("x"),
                  "--server-name", "a.test", "--listen", "nowhere"});
  ExpectOneLineError(r, "--listen");
  r = RunCommand({HearthBinary(), "init", "--data-dir", "/proc/hearth-here",
                  "--server-name", "a.test"});
  ExpectOneLineError(r, "cannot create /proc/hearth-here");
}

TEST(CliTest, ServeNamesTheBadConfigKey) {
  TempDir tmp;
  std::string dir = tmp.Sub("node");
  ASSERT_EQ(Init(dir).exit_code, 0);
  std::string config = Slurp(dir + "/hearth.toml");
  struct Case {
    std::string from, to, expect;
  } cases[] = {
      {"registration = \"invite\"", "registration = \"maybe\"",
       "node.registration: must be one of open, invite, closed"},
      {"mode = \"allowlist\"", "mode = 3",
       "federation.mode: expected a string"},
      {"allow_http = false", "allow_http = \"yes\"",
       "federation.allow_http: expected true or false"},
      {"server_name = \"a.test\"", "server_name = \"A_TEST\"",
       "node.server_name"},
      {"[log]", "[log\n", "hearth.toml:"},
  };
  for (const Case& c : cases) {
    std::string broken = config;
    broken.replace(broken.find(c.from), c.from.size(), c.to);
    Spit(dir + "/hearth.toml", broken);
    auto r = Serve(dir);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    ExpectOneLineError(r, c.expect);
  }
  Spit(dir + "/hearth.toml", config);
}

TEST(CliTest, UnknownKeysAreWarnedAbout) {
  TempDir tmp;
  std::string dir = tmp.Sub("node");
  ASSERT_EQ(Init(dir).exit_code, 0);
  std::string config = Slurp(dir + "/hearth.toml");
  config.replace(config.find("[federation]"), 12,
                 "colour = \"blue\"\n[federation]");
  Spit(dir + "/hearth.toml", config);
  CommandOptions o;
  o.terminate_on = "serving a.test";
  auto r = Serve(dir, o);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("unknown key 'node.colour'"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("stopped"), std::string::npos) << r.output;
}

TEST(CliTest, ServeWithoutANodeSaysHowToMakeOne) {
  TempDir tmp;
  auto r = Serve(tmp.Sub("empty"));
  ExpectOneLineError(r, "hearth init");
}

TEST(CliTest, TakenPortIsAClearError) {
  NodeProcess a;
  std::string error;
  ASSERT_TRUE(a.Start(&error)) << error;
  TempDir tmp;
  std::string dir = tmp.Sub("b");
  auto r =
      RunCommand({HearthBinary(), "init", "--data-dir", dir, "--server-name",
                  "b.test", "--listen", "127.0.0.1:" + std::to_string(a.port()),
                  "--admin-listen", "127.0.0.1:" + std::to_string(FreePort())});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Serve(dir);
  ExpectOneLineError(r, "address already in use");
  // And the first node still answers every request: no port sharing.
  auto c = a.Client();
  for (int i = 0; i < 20; ++i) {
    auto res = c->Get("/api/v1/node");
    ASSERT_TRUE(res);
    EXPECT_NE(res->body.find("a.test"), std::string::npos);
  }
}

TEST(CliTest, SecondProcessOnADataDirIsRefused) {
  NodeProcess a;
  std::string error;
  ASSERT_TRUE(a.Start(&error)) << error;
  auto r = Serve(a.data_dir());
  ExpectOneLineError(r, "another hearth process is using");
}

TEST(CliTest, DataDirOfAnotherNodeIsRefused) {
  NodeProcess a;
  std::string error;
  ASSERT_TRUE(a.Start(&error)) << error;
  EXPECT_EQ(a.Stop(), 0);
  std::string path = a.data_dir() + "/hearth.toml";
  std::string config = Slurp(path);
  config.replace(config.find("\"a.test\""), 8, "\"z.test\"");
  Spit(path, config);
  auto r = Serve(a.data_dir());
  ExpectOneLineError(r, "belongs to node 'a.test', not 'z.test'");
}

TEST(CliTest, StoreFromANewerVersionIsRefused) {
  NodeProcess a;
  std::string error;
  ASSERT_TRUE(a.Start(&error)) << error;
  EXPECT_EQ(a.Stop(), 0);
  {
    auto env = storage::Env::Open(a.data_dir() + "/store", {});
    ASSERT_TRUE(env) << env.error().message;
    auto meta = (*env)->OpenTable("meta");
    ASSERT_TRUE(meta);
    ASSERT_TRUE((*env)->Update([&](storage::WriteTxn& txn) {
      std::string v(8, '\0');
      v[7] = 99;
      return txn.Put(*meta, "schema_version", v);
    }));
  }
  auto r = Serve(a.data_dir());
  ExpectOneLineError(r, "schema version 99");
}

TEST(CliTest, UnreadableDataDirIsAClearError) {
  NodeProcess a;
  CommandOptions o;
  if (::geteuid() == 0) {
    o.uid = 65534;  // nobody: the 0700 directory is root's
  } else {
    std::filesystem::permissions(a.data_dir(), std::filesystem::perms::none);
  }
  auto r = Serve(a.data_dir(), o);
  std::filesystem::permissions(a.data_dir(), std::filesystem::perms::owner_all);
  ExpectOneLineError(r, "Permission denied");
}

TEST(CliTest, SigtermStopsGracefully) {
  NodeProcess a;
  std::string error;
  ASSERT_TRUE(a.Start(&error)) << error;
  EXPECT_EQ(a.Stop(), 0);
  EXPECT_NE(a.log().find("received SIGTERM, shutting down"), std::string::npos);
  EXPECT_NE(a.log().find("stopped"), std::string::npos);
}

TEST(CliTest, ServeWithNoDataDirInitializesHearthData) {
  // The one-command start: `hearth serve` in an empty directory. It listens
  // on the default 127.0.0.1:8080, so skip if something else has it.
  {
    httplib::Client probe("127.0.0.1", 8080);
    probe.set_connection_timeout(0, 200000);
    if (probe.Get("/")) GTEST_SKIP() << "port 8080 is in use";
  }
  TempDir tmp;
  CommandOptions o;
  o.cwd = tmp.path();
  o.terminate_on = "serving localhost";
  auto r = RunCommand({HearthBinary(), "serve"}, o);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(tmp.Sub("hearth-data/hearth.toml")));
  EXPECT_TRUE(std::filesystem::exists(tmp.Sub("hearth-data/store/data.mdb")));
}

}  // namespace
}  // namespace hearth::testing
