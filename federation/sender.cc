#include "federation/sender.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <optional>
#include <random>
#include <vector>

#include "federation/canonical_json.h"
#include "federation/request_auth.h"

namespace hearth::federation {
namespace {

// The integer value of the top-level member "ts" of a canonical JSON
// object, found by a scan instead of a parse (a parse of every event of
// every batch was a few percent of a host's CPU). Nested "ts" members and
// strings that look like one are skipped.
std::optional<std::int64_t> TopLevelTs(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  bool key_is_ts = false;  // the last top-level string was the key "ts"
  size_t string_start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
        key_is_ts =
            depth == 1 && text.substr(string_start, i - string_start) == "ts";
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        string_start = i + 1;
        break;
      case '{':
      case '[':
        ++depth;
        key_is_ts = false;
        break;
      case '}':
      case ']':
        --depth;
        key_is_ts = false;
        break;
      case ':':
        if (depth == 1 && key_is_ts) {
          std::int64_t v = 0;
          auto [end, ec] = std::from_chars(text.data() + i + 1,
                                           text.data() + text.size(), v);
          if (ec != std::errc() || end == text.data() + text.size() ||
              (*end != ',' && *end != '}'))
            return std::nullopt;
          return v;
        }
        break;
      default:
        break;
    }
  }
  return std::nullopt;
}

}  // namespace

Result<Transaction> MakeTransaction(const std::string& origin,
                                    const std::string& destination,
                                    const OutboxBatch& batch) {
  // The events are canonical already; splice them in rather than parse and
  // re-encode. Keys in canonical order: destination, events, origin, ts.
  std::int64_t ts = 0;
  std::string events = "[";
  for (size_t i = 0; i < batch.events.size(); ++i) {
    if (i > 0) events += ',';
    events += batch.events[i];
    if (auto event_ts = TopLevelTs(batch.events[i]))
      ts = std::max(ts, *event_ts);
  }
  events += "]";
  Transaction t;
  t.txn_id =
      std::to_string(batch.first_seq) + "-" + std::to_string(batch.last_seq);
  t.body = "{\"destination\":" + nlohmann::json(destination).dump() +
           ",\"events\":" + events +
           ",\"origin\":" + nlohmann::json(origin).dump() +
           ",\"ts\":" + std::to_string(ts) + "}";
  return t;
}

SenderPool::SenderPool(storage::Env& env, storage::Committer& committer,
                       const Outbox& outbox, TrustService& trust,
                       const NodeKeys& keys, const Clock& clock,
                       Metrics& metrics, SenderOptions options)
    : env_(env),
      committer_(committer),
      outbox_(outbox),
      trust_(trust),
      keys_(keys),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)) {
  metrics_.Describe("hearth_federation_events_sent_total", "counter",
                    "Events delivered to peers, by peer.");
  metrics_.Describe("hearth_federation_delivery_failures_total", "counter",
                    "Failed delivery attempts, by peer.");
}

SenderPool::~SenderPool() { Stop(); }

void SenderPool::Start() { EnsureSenders(); }

void SenderPool::Stop() {
  stop_ = true;
  std::map<std::string, std::unique_ptr<PeerSender>> senders;
  {
    std::lock_guard<std::mutex> lock(mu_);
    senders.swap(senders_);
  }
  for (auto& [peer, s] : senders) {
    { std::lock_guard<std::mutex> lock(s->mu); }  // stop_ is seen under mu
    s->cv.notify_all();
  }
  for (auto& [peer, s] : senders) {
    if (s->thread.joinable()) s->thread.join();
  }
}

void SenderPool::EnsureSenders() {
  if (stop_) return;
  // Read before the table: a change committed after this read moves the
  // generation on, and the next call reads again.
  const std::uint64_t generation = trust_.generation();
  if (generation == ensured_generation_.load()) return;
  auto peers = trust_.TrustedPeers();
  if (!peers) {
    spdlog::error("senders: {}", peers.error().message);
    return;
  }
  ensured_generation_ = generation;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& peer : *peers) {
    if (senders_.count(peer)) continue;
    auto s = std::make_unique<PeerSender>();
    PeerSender* raw = s.get();
    senders_[peer] = std::move(s);
    raw->thread = std::thread([this, peer, raw] { Run(peer, *raw); });
  }
}

void SenderPool::Notify() {
  EnsureSenders();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [peer, s] : senders_) {
    {
      std::lock_guard<std::mutex> l(s->mu);
      s->wake = true;
    }
    s->cv.notify_one();
  }
}

void SenderPool::Poke(const std::string& peer) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = senders_.find(peer);
  if (it == senders_.end()) return;
  {
    std::lock_guard<std::mutex> l(it->second->mu);
    it->second->wake = true;
    it->second->poked = true;
  }
  it->second->cv.notify_one();
}

bool SenderPool::Wait(PeerSender& self, std::int64_t ms, bool backoff) {
  std::unique_lock<std::mutex> lock(self.mu);
  self.cv.wait_for(lock, std::chrono::milliseconds(ms), [&] {
    return self.poked || stop_ || (!backoff && self.wake);
  });
  self.wake = false;
  bool poked = self.poked;
  self.poked = false;
  return poked;
}

namespace {

// One transaction on its way, on a thread of its own, so that the next
// can go out before this one is answered.
struct Flight {
  OutboxBatch batch;
  Transaction txn;
  std::unique_ptr<httplib::Client> client;
  std::thread thread;
  // Written by the thread, read once it is joined.
  int status = 0;      // 0: no answer
  std::string answer;  // the answer's body
  std::string error;   // why there was no answer
};

std::unique_ptr<httplib::Client> NewClient(const std::string& url) {
  auto client = std::make_unique<httplib::Client>(url);
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);
  client->set_connection_timeout(5, 0);
  client->set_read_timeout(30, 0);
  client->set_write_timeout(30, 0);
  client->enable_server_certificate_verification(true);
  return client;
}

void Land(Flight& f) {
  if (f.thread.joinable()) f.thread.join();
}

}  // namespace

void SenderPool::Run(const std::string& peer, PeerSender& self) {
  std::mt19937_64 rng(std::random_device{}());
  int failures = 0;
  // A batch that failed is resent as it was, not rebuilt from a grown
  // outbox: the same txn id and body, so a receiver that applied it but
  // whose answer was lost just answers again. It goes alone (not `after`
  // another), and nothing goes with it until it lands.
  std::optional<OutboxBatch> retry;
  bool alone = false;  // one at a time until a batch lands again
  // Whether the peer commits a transaction sent `after` another only
  // after it: learnt from its answers ("ordered"); until then, and for a
  // peer whose build does not say so, one transaction at a time.
  bool peer_orders = false;
  // Said once per stretch of failures: the peer is so far behind that
  // its group messages now replace each other (spec/federation.md §10.6).
  bool said_collapsing = false;
  // Delivered batches are acknowledged in the store lazily: the next batch
  // goes out without waiting for a durable commit of the cursor, which is
  // written when the queue runs dry, every kAckEvents events, and at stop.
  // A crash loses only those acks; the batches go again and the receiver
  // drops the events it has (by event id).
  constexpr size_t kAckEvents = 500;
  std::uint64_t sent_through = 0;  // delivered (or refused) up to here
  size_t unacked_events = 0;       // delivered since the last durable ack
  auto ack = [&] {
    if (unacked_events == 0) return;
    Status acked = committer_.Run([&](storage::WriteTxn& w) {
      return outbox_.Ack(w, peer, sent_through);
    });
    if (!acked) {
      // Kept in memory: nothing is resent, and the next ack tries again.
      spdlog::error("sender {}: ack: {}", peer, acked.error().message);
      return;
    }
    unacked_events = 0;
  };
  // Up to options_.in_flight transactions on their way, oldest first;
  // each but the first is sent `after` the one before it, so the peer
  // commits them in this order (spec/federation.md §9.3 step 9a).
  std::deque<std::unique_ptr<Flight>> flights;
  std::vector<std::unique_ptr<httplib::Client>> clients;  // idle ones
  std::string client_url;
  auto launch = [&](OutboxBatch batch, const std::string& base_url) {
    auto f = std::make_unique<Flight>();
    f->txn = *MakeTransaction(options_.server_name, peer, batch);
    f->batch = std::move(batch);
    if (clients.empty()) {
      f->client = NewClient(base_url);
    } else {
      f->client = std::move(clients.back());
      clients.pop_back();
    }
    std::string path = "/_hearth/v1/send/" + f->txn.txn_id;
    if (!flights.empty()) path += "?after=" + flights.back()->txn.txn_id;
    std::string auth =
        SignCanonicalRequest(keys_.current(), options_.server_name, peer, "PUT",
                             path, clock_.NowMs(), f->txn.body);
    Flight* raw = f.get();
    raw->thread =
        std::thread([raw, path = std::move(path), auth = std::move(auth)] {
          auto res = raw->client->Put(path.c_str(), {{"Authorization", auth}},
                                      raw->txn.body, "application/json");
          if (res) {
            raw->status = res->status;
            raw->answer = std::move(res->body);
          } else {
            raw->error = httplib::to_string(res.error());
          }
        });
    flights.push_back(std::move(f));
  };
  // Cuts every flight behind the first short and forgets what they got:
  // they were sent after one that did not land (and wait for it on the
  // peer in vain), and go again after it, rebuilt.
  auto drop_followers = [&] {
    while (flights.size() > 1) {
      flights.back()->client->stop();
      Land(*flights.back());
      clients.push_back(std::move(flights.back()->client));
      flights.pop_back();
    }
  };
  // The first flight's answer, once it has one: true if it was delivered
  // (or refused), so the queue moves on.
  auto land_first = [&]() -> bool {
    Flight& f = *flights.front();
    Land(f);
    bool delivered = f.status == 200;
    bool refused = f.status == 400 || f.status == 413 || f.status == 409;
    if (!delivered && !refused) return false;
    if (refused) {
      // The peer will never take this batch; keeping it would stop the
      // queue behind it for good. Log it loudly and move on. What was
      // sent after it waits for it in vain: it goes again.
      spdlog::error("peer {} refused txn {} ({}): {}", peer, f.txn.txn_id,
                    f.status, f.answer.substr(0, 300));
      trust_.RecordError(peer, "refused txn " + f.txn.txn_id + ": HTTP " +
                                   std::to_string(f.status));
      drop_followers();
    }
    sent_through = f.batch.last_seq;
    unacked_events += f.batch.events.size();
    if (unacked_events >= kAckEvents) ack();
    if (delivered) {
      // Whatever the peer answered: only `"ordered": true` counts (and
      // nothing it says may throw here).
      auto answer = nlohmann::json::parse(f.answer, nullptr, false);
      auto ordered = answer.is_object() ? answer.find("ordered") : answer.end();
      peer_orders = ordered != answer.end() && *ordered == true;
      metrics_.Add("hearth_federation_events_sent_total", {{"peer", peer}},
                   double(f.batch.events.size()));
      trust_.RecordContact(peer);
      trust_.RecordError(peer, "");  // healthy again
    }
    clients.push_back(std::move(f.client));
    flights.pop_front();
    return true;
  };

  while (!stop_) {
    auto record = trust_.Get(peer);
    bool trusted = record && *record && (*record)->state == PeerState::kTrusted;
    if (!trusted && flights.empty()) {
      // Blocked, limited, pending or removed: send nothing, and forget a
      // batch held for a retry (blocking dropped the queue it came from).
      retry.reset();
      Wait(self, options_.idle_poll_ms);
      continue;
    }
    // Send while there is room: after a failure, one at a time until a
    // batch lands again.
    bool dry = false;
    const size_t room = peer_orders && !alone ? options_.in_flight : 1;
    while (trusted && !stop_ && flights.size() < room) {
      const std::string& url = (*record)->base_url;
      if (client_url != url) {
        if (!flights.empty()) break;  // moved: let those land first
        client_url = url;
        clients.clear();
      }
      OutboxBatch batch;
      if (retry) {
        batch = std::move(*retry);
        retry.reset();
      } else {
        std::uint64_t from =
            flights.empty() ? sent_through : flights.back()->batch.last_seq;
        auto txn = env_.BeginRead();
        auto next = txn ? outbox_.Next(*txn, peer, options_.max_events,
                                       options_.max_bytes, from)
                        : Result<OutboxBatch>(txn.error());
        if (!next) {
          spdlog::error("sender {}: {}", peer, next.error().message);
          break;
        }
        batch = std::move(next).value();
      }
      if (batch.events.empty()) {
        // Entries for other peers only are passed over (in memory; they
        // go into the store with the next ack of a delivery).
        if (flights.empty()) {
          sent_through = std::max(sent_through, batch.last_seq);
          dry = true;
        }
        break;
      }
      launch(std::move(batch), url);
    }
    if (flights.empty()) {
      if (dry) ack();
      Wait(self, options_.idle_poll_ms);
      continue;
    }
    if (land_first()) {
      failures = 0;
      alone = false;
      said_collapsing = false;
      continue;
    }
    Flight& f = *flights.front();
    std::string why = f.status != 0 ? "HTTP " + std::to_string(f.status) + " " +
                                          f.answer.substr(0, 200)
                                    : f.error;
    const bool out_of_order =
        f.status == 503 && f.answer.find("out_of_order") != std::string::npos;
    retry = std::move(f.batch);  // f is dropped just below
    alone = true;
    drop_followers();
    clients.push_back(std::move(f.client));
    flights.pop_front();
    if (out_of_order) {
      // The one before it landed, but later than the peer would wait:
      // nothing is wrong with the peer; send it again at once, alone.
      continue;
    }
    // Down, slow, or not trusting us (yet): back off and try again.
    ++failures;
    trust_.RecordError(peer, why);
    if (!said_collapsing) {
      auto txn = env_.BeginRead();
      auto depth = txn ? outbox_.Depth(*txn, peer) : Result<std::uint64_t>(0);
      if (depth && *depth >= outbox_.collapse_after()) {
        spdlog::warn(
            "sender {}: {} events wait for it; each group's newest message "
            "now replaces the one before it in its queue (it will fetch the "
            "rest from us when it is back)",
            peer, *depth);
        said_collapsing = true;
      }
    }
    metrics_.Add("hearth_federation_delivery_failures_total", {{"peer", peer}});
    std::int64_t delay = options_.base_backoff_ms;
    for (int i = 1; i < failures && delay < options_.max_backoff_ms; ++i)
      delay *= 2;
    delay = std::min(delay, options_.max_backoff_ms);
    // Jitter in [delay/2, delay]: peers that failed together retry apart.
    delay = delay / 2 + std::int64_t(rng() % std::uint64_t(delay / 2 + 1));
    spdlog::debug("sender {}: {}; retry in {} ms", peer, why, delay);
    ack();
    if (Wait(self, delay, /*backoff=*/true)) {
      spdlog::info("sender {}: the peer contacted us; retrying now", peer);
      failures = 0;
    }
  }
  // Stopping: what landed counts, in order, up to the first that did not.
  while (!flights.empty() && land_first()) {
  }
  for (auto& f : flights) Land(*f);
  ack();
}

}  // namespace hearth::federation
