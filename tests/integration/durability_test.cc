// Every registration the node acknowledged survives a SIGKILL.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "tests/support/node_process.h"

namespace hearth::testing {
namespace {

using nlohmann::json;

TEST(DurabilityTest, AcknowledgedAccountsSurviveSigkill) {
  NodeProcess node;
  std::string error;
  ASSERT_TRUE(node.Start(&error)) << error;

  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> acked;  // handle, token
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      auto c = node.Client();
      c->set_read_timeout(5, 0);
      for (int i = 0; !stop && i < 100000; ++i) {
        std::string handle = "w" + std::to_string(t) + "-" + std::to_string(i);
        auto res = PostJson(*c, "/api/v1/accounts",
                            {{"handle", handle}, {"password", "long enough"}});
        if (!res) return;  // the node is gone
        if (res->status == 201) {
          std::lock_guard<std::mutex> lock(mu);
          acked.emplace_back(handle, JsonOf(res)["token"]);
        }
      }
    });
  }
  // Let the writers get going, then kill the node mid-stream.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool enough = false;
  while (!enough && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::lock_guard<std::mutex> lock(mu);
    enough = acked.size() >= 200;
  }
  node.Kill();
  stop = true;
  for (auto& w : writers) w.join();
  ASSERT_TRUE(enough) << "too few registrations acknowledged\n" << node.log();

  ASSERT_TRUE(node.Start(&error)) << error;
  auto c = node.Client();
  size_t checked = 0;
  for (const auto& [handle, token] : acked) {
    auto me = GetWithToken(*c, "/api/v1/me", token);
    ASSERT_TRUE(me);
    ASSERT_EQ(me->status, 200) << handle << " was acknowledged but is gone";
    EXPECT_EQ(JsonOf(me)["handle"], handle);
    ++checked;
  }
  // And a sample can log in with the password.
  for (size_t i = 0; i < acked.size(); i += acked.size() / 10 + 1) {
    auto login =
        PostJson(*c, "/api/v1/sessions",
                 {{"handle", acked[i].first}, {"password", "long enough"}});
    ASSERT_TRUE(login);
    EXPECT_EQ(login->status, 200) << login->body;
  }
  EXPECT_GE(checked, 200u);
}

}  // namespace
}  // namespace hearth::testing
