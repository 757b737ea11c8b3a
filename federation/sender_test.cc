#include "federation/sender.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "federation/signed_json.h"
#include "storage/audit_log.h"
#include "tests/support/key_doc_peer_client.h"
#include "tests/support/temp_dir.h"

namespace hearth::federation {
namespace {

// The peer's side of PUT /_hearth/v1/send over real HTTP: records each
// request (txn id and `after`) and answers as the test scripts it, after
// `delay_ms`, counting how many requests were open at once.
class FakePeer {
 public:
  struct Request {
    std::string txn_id;
    std::string after;  // "" when sent alone
  };
  // The status for the n-th request (from 0); 200 answers "ordered".
  std::function<int(const Request&, size_t n)> status =
      [](const Request&, size_t) { return 200; };
  std::atomic<int> delay_ms{100};
  // Whether to answer the n-th request only once a later one has arrived
  // (bounded: 5 s), so a test that expects a follower surely sees it.
  std::function<bool(const Request&, size_t n)> hold =
      [](const Request&, size_t) { return false; };
  std::atomic<bool> ordered{true};  // false: an older build's answers
  std::string ok_body;              // if set, the body of every 200

  FakePeer() {
    server_.Put(R"(/_hearth/v1/send/([A-Za-z0-9._-]+))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  Request r{req.matches[1], req.get_param_value("after")};
                  size_t n;
                  {
                    std::lock_guard<std::mutex> lock(mu_);
                    n = requests_.size();
                    requests_.push_back(r);
                    max_open_ = std::max(max_open_, ++open_);
                  }
                  arrived_.notify_all();
                  std::this_thread::sleep_for(
                      std::chrono::milliseconds(delay_ms.load()));
                  if (hold(r, n)) {
                    std::unique_lock<std::mutex> lock(mu_);
                    arrived_.wait_for(lock, std::chrono::seconds(5),
                                      [&] { return requests_.size() > n + 1; });
                  }
                  res.status = status(r, n);
                  res.set_content(res.status != 200
                                      ? R"({"error":{"code":"x"}})"
                                  : !ok_body.empty() ? ok_body.c_str()
                                  : ordered ? R"({"ordered":true,"results":{}})"
                                            : R"({"results":{}})",
                                  "application/json");
                  std::lock_guard<std::mutex> lock(mu_);
                  --open_;
                });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakePeer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int max_open() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_open_;
  }
  void Reset() {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.clear();
    max_open_ = 0;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable arrived_;
  std::vector<Request> requests_;
  int open_ = 0, max_open_ = 0;
};

class SenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::move(storage::Env::Open(dir_.Sub(""), {})).value();
    committer_ = std::make_unique<storage::Committer>(*env_);
    outbox_.emplace(std::move(Outbox::Open(*env_)).value());
    keys_ = std::move(NodeKeys::Open(*env_, *committer_, dir_.Sub("node.key"),
                                     "me.test", clock_))
                .value();
    docs_.doc =
        *MakeKeyDocument("p.test", {SigningKey::Generate()}, {}, 4000000000000);
    trust_ = std::move(TrustService::Open(*env_, *committer_,
                                          *storage::AuditLog::Open(*env_),
                                          *outbox_, docs_, clock_,
                                          TrustOptions{.server_name = "me.test",
                                                       .allow_http = true}))
                 .value();
    ASSERT_TRUE(trust_->AddPeer(peer_.url(), "admin"));
    ASSERT_TRUE(trust_->Trust("p.test", std::nullopt, "admin"));
  }
  void TearDown() override {
    if (senders_) senders_->Stop();
  }

  // Queues `n` events for p.test, one write each.
  void Enqueue(int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(committer_->Run([&](storage::WriteTxn& txn) -> Status {
        std::string event =
            R"({"n":)" + std::to_string(next_++) + R"(,"ts":1})";
        HEARTH_ASSIGN_OR_RETURN(auto seq,
                                outbox_->Enqueue(txn, event, {"p.test"}));
        (void)seq;
        return Ok();
      }));
    }
  }
  void StartSenders() {
    senders_ = std::make_unique<SenderPool>(
        *env_, *committer_, *outbox_, *trust_, *keys_, clock_, metrics_,
        SenderOptions{.server_name = "me.test",
                      .base_backoff_ms = 20,
                      .max_backoff_ms = 100});
    senders_->Start();
  }
  // Queues `n` events, starts the senders and waits (bounded) until
  // p.test has acknowledged everything queued.
  bool Deliver(int n) {
    Enqueue(n);
    StartSenders();
    return Drained();
  }
  // Waits (bounded) until p.test has acknowledged everything queued.
  bool Drained() {
    for (int i = 0; i < 1000; ++i) {
      auto txn = env_->BeginRead();
      if (txn && *outbox_->Depth(*txn, "p.test") == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  hearth::testing::TempDir dir_;
  FakeClock clock_;
  Metrics metrics_;
  hearth::testing::KeyDocPeerClient docs_;  // p.test's key document
  FakePeer peer_;
  std::unique_ptr<storage::Env> env_;
  std::unique_ptr<storage::Committer> committer_;
  std::optional<Outbox> outbox_;
  std::unique_ptr<NodeKeys> keys_;
  std::unique_ptr<TrustService> trust_;
  std::unique_ptr<SenderPool> senders_;
  int next_ = 0;
};

using Request = FakePeer::Request;

bool operator==(const Request& a, const Request& b) {
  return a.txn_id == b.txn_id && a.after == b.after;
}
void PrintTo(const Request& r, std::ostream* os) {
  *os << r.txn_id << (r.after.empty() ? "" : " after " + r.after);
}

// The requests as (txn id, after) pairs, sorted: two on their way at
// once may reach the peer in either order.
std::vector<std::pair<std::string, std::string>> Pairs(
    const std::vector<Request>& requests) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : requests) out.emplace_back(r.txn_id, r.after);
  std::sort(out.begin(), out.end());
  return out;
}
using Pairs_t = std::vector<std::pair<std::string, std::string>>;
Pairs_t Sorted(Pairs_t pairs) {
  std::sort(pairs.begin(), pairs.end());
  return pairs;
}

// The seq range of the k-th batch of 50 (seqs from 1).
std::string Batch(int k) {
  return std::to_string(1 + 50 * k) + "-" + std::to_string(50 + 50 * k);
}

TEST_F(SenderTest, OnceThePeerSaysItKeepsOrderTwoGoAtOnceTheSecondAfter) {
  peer_.hold = [](const Request& r, size_t) {
    return r.txn_id == Batch(1) || r.txn_id == Batch(2);
  };
  ASSERT_TRUE(Deliver(200));
  // One alone until the peer's first answer says "ordered"; then two on
  // their way, each sent after the one before it if that is still on
  // its way.
  auto got = peer_.requests();
  EXPECT_EQ(got.front().txn_id, Batch(0));
  EXPECT_EQ(Pairs(got), Sorted(Pairs_t{{Batch(0), ""},
                                       {Batch(1), ""},
                                       {Batch(2), Batch(1)},
                                       {Batch(3), Batch(2)}}));
  EXPECT_EQ(peer_.max_open(), 2);
}

TEST_F(SenderTest, AFailedFirstGoesAgainAloneAndWhatFollowedItAfterIt) {
  // The second batch fails once, after the third was sent after it (and
  // is answered 200, as by a receiver that had committed the second).
  auto failed = std::make_shared<std::atomic<int>>(0);
  peer_.status = [failed](const Request& r, size_t) {
    return r.txn_id == Batch(1) && (*failed)++ == 0 ? 500 : 200;
  };
  peer_.hold = [](const Request&, size_t n) { return n == 1; };
  ASSERT_TRUE(Deliver(150));
  // The third, cut short and forgotten, goes again after the second
  // went again unchanged and alone.
  auto got = peer_.requests();
  EXPECT_EQ(Pairs(got), Sorted(Pairs_t{{Batch(0), ""},
                                       {Batch(1), ""},
                                       {Batch(1), ""},
                                       {Batch(2), ""},
                                       {Batch(2), Batch(1)}}));
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[3], (Request{Batch(1), ""}));
  EXPECT_EQ(got[4], (Request{Batch(2), ""}));
}

TEST_F(SenderTest, ARefusedBatchIsDroppedAndWhatFollowedItIsRebuilt) {
  peer_.status = [](const Request& r, size_t) {
    return r.txn_id == Batch(1) ? 400 : 200;
  };
  peer_.hold = [](const Request&, size_t n) { return n == 1; };
  ASSERT_TRUE(Deliver(150));
  // Refused: never again; the one sent after it goes again, alone.
  auto got = peer_.requests();
  EXPECT_EQ(Pairs(got), Sorted(Pairs_t{{Batch(0), ""},
                                       {Batch(1), ""},
                                       {Batch(2), ""},
                                       {Batch(2), Batch(1)}}));
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[3], (Request{Batch(2), ""}));
}

TEST_F(SenderTest, APeerThatDoesNotSayItKeepsOrderGetsOneAtATime) {
  peer_.ordered = false;
  ASSERT_TRUE(Deliver(150));
  EXPECT_EQ(Pairs(peer_.requests()),
            Sorted(Pairs_t{{Batch(0), ""}, {Batch(1), ""}, {Batch(2), ""}}));
  EXPECT_EQ(peer_.max_open(), 1);
}

TEST_F(SenderTest, AnAnswerThatSaysSomethingElseIsOneAtATimeToo) {
  // Neither a crash nor two at once for an "ordered" that is not true.
  for (const char* body : {R"({"ordered":"yes","results":{}})",
                           R"({"ordered":1})", R"([1])", "not json"}) {
    SCOPED_TRACE(body);
    peer_.ok_body = body;
    peer_.Reset();
    ASSERT_TRUE(Deliver(100));
    EXPECT_EQ(peer_.requests().size(), 2u);
    EXPECT_EQ(peer_.max_open(), 1);
    senders_->Stop();
  }
}

}  // namespace
}  // namespace hearth::federation
