#include "federation/inbound.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>

#include "common/crypto.h"
#include "common/parallel_for.h"
#include "federation/canonical_json.h"
#include "federation/signed_json.h"

namespace hearth::federation {
bool IsValidTxnId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {

nlohmann::json ErrorJson(const Error& e) {
  return {{"error", {{"code", e.reason}, {"message", e.message}}}};
}

// Runs one event's step (`what` it does: "read", "applied"). An exception
// that only the event's content can cause (a JSON value of another type
// than the code expects, a number out of range or malformed:
// nlohmann::json::exception, std::out_of_range, std::invalid_argument,
// std::length_error; a mismatch with the sender's build, the same on
// every retry) is that event's refusal, `bad_event`, so that it cannot
// stop the sender's queue for good. Any other exception (out of memory,
// std::future_error) fails the whole request, for a retry.
template <typename Step>
Status ForOneEvent(const char* what, Step&& step) {
  std::string why;
  try {
    return step();
  } catch (const nlohmann::json::exception& e) {
    why = e.what();
  } catch (const std::out_of_range& e) {
    why = e.what();
  } catch (const std::invalid_argument& e) {
    why = e.what();
  } catch (const std::length_error& e) {
    why = e.what();
  }
  // Into the answer, which must stay valid UTF-8 (a parse error quotes
  // the bytes it stopped at).
  for (char& c : why) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  spdlog::warn("an inbound event could not be {}: {}", what, why);
  return Error::Invalid(
      "bad_event", std::string("the event could not be ") + what + ": " + why);
}

}  // namespace

Result<std::unique_ptr<Inbound>> Inbound::Open(
    storage::Env& env, storage::Committer& committer, TrustService& trust,
    InboundSink& sink, const Clock& clock, Metrics& metrics,
    InboundOptions options) {
  HEARTH_ASSIGN_OR_RETURN(
      auto txns, storage::Table<TxnRecord>::Open(env, "origintxn_result"));
  metrics.Describe("hearth_federation_events_received_total", "counter",
                   "Events accepted from peers, by peer.");
  metrics.Describe("hearth_federation_signature_failures_total", "counter",
                   "Requests or events whose signature failed, by peer.");
  return std::unique_ptr<Inbound>(new Inbound(
      env, committer, trust, sink, txns, clock, metrics, std::move(options)));
}

Result<size_t> Inbound::ForgetOldTransactions(std::int64_t max_age_ms) {
  std::int64_t cutoff = clock_.NowMs() - max_age_ms;
  std::vector<std::string> old;
  {
    HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, env_.BeginRead());
    HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, txns_.dbi()));
    HEARTH_ASSIGN_OR_RETURN(bool more, c.First());
    while (more) {
      HEARTH_ASSIGN_OR_RETURN(auto r, storage::Decode<TxnRecord>(c.value()));
      if (r.ts < cutoff) old.emplace_back(c.key());
      HEARTH_ASSIGN_OR_RETURN(more, c.Next());
    }
  }
  for (size_t i = 0; i < old.size(); i += 1000) {
    HEARTH_RETURN_IF_ERROR(
        committer_.Run([&](storage::WriteTxn& txn) -> Status {
          for (size_t j = i; j < std::min(old.size(), i + 1000); ++j) {
            HEARTH_RETURN_IF_ERROR(txns_.Delete(txn, old[j]));
          }
          return Ok();
        }));
  }
  return old.size();
}

Result<std::string> Inbound::Authenticate(
    const std::string& method, const std::string& uri,
    const std::string& authorization,
    std::optional<std::string_view> canonical_content, bool directory_only) {
  HEARTH_ASSIGN_OR_RETURN(RequestAuth auth, ParseAuthorization(authorization));
  return Authenticate(auth, method, uri, canonical_content, directory_only);
}

Result<std::string> Inbound::Authenticate(
    const RequestAuth& auth, const std::string& method, const std::string& uri,
    std::optional<std::string_view> canonical_content, bool directory_only) {
  if (auth.destination != options_.server_name) {
    return Error::Unauthenticated(
        "wrong_destination",
        "this is " + options_.server_name + ", not " + auth.destination);
  }
  std::int64_t skew = clock_.NowMs() - auth.ts;
  if (skew > options_.clock_window_ms || -skew > options_.clock_window_ms) {
    return Error::Unauthenticated(
        "stale_request",
        "the request timestamp is outside the clock window of " +
            std::to_string(options_.clock_window_ms / 1000) + " s");
  }
  // Trust before keys: a blocked or unknown peer costs us no fetch.
  auto gate = trust_.CheckInbound(auth.origin, directory_only);
  if (!gate && gate.error().reason != "not_trusted") return gate.error();
  HEARTH_ASSIGN_OR_RETURN(PeerKey key,
                          trust_.PublicKeyFor(auth.origin, auth.key_id));
  if (key.expired_ts != 0) {
    // Requests are live: they must use a current key.
    return Error::Unauthenticated(
        "expired_key", auth.key_id + " of " + auth.origin + " has expired");
  }
  Status verified =
      VerifyCanonicalRequest(auth, method, uri, canonical_content, key.key);
  if (!verified) {
    metrics_.Add("hearth_federation_signature_failures_total",
                 {{"peer", auth.origin}});
    return verified.error();
  }
  // Again: in open federation the key fetch may have admitted the peer,
  // and a key change may have put it back to pending.
  HEARTH_ASSIGN_OR_RETURN(auto record,
                          trust_.CheckInbound(auth.origin, directory_only));
  (void)record;
  trust_.RecordContact(auth.origin);
  if (on_contact_) on_contact_(auth.origin);
  return auth.origin;
}

Status CheckEventShape(const nlohmann::json& event, const std::string& origin) {
  if (!event.is_object())
    return Error::Invalid("bad_event", "an event is a JSON object");
  auto type = event.find("type");
  if (type == event.end() || !type->is_string() ||
      type->get_ref<const std::string&>().empty() ||
      type->get_ref<const std::string&>().size() > 64)
    return Error::Invalid("bad_event", "an event needs a type");
  auto ev_origin = event.find("origin");
  if (ev_origin == event.end() || !ev_origin->is_string() ||
      *ev_origin != origin)
    return Error::Invalid("bad_event", "the event's origin must be " + origin);
  auto ts = event.find("ts");
  if (ts == event.end() || !ts->is_number_integer())
    return Error::Invalid("bad_event", "an event needs an integer ts");
  auto content = event.find("content");
  if (content == event.end() || !content->is_object())
    return Error::Invalid("bad_event", "an event needs a content object");
  return Ok();
}

Status CheckTransactionShape(const nlohmann::json& content,
                             const std::string& origin,
                             const std::string& destination,
                             size_t max_events) {
  if (!content.is_object())
    return Error::Invalid("bad_txn", "a transaction is a JSON object");
  auto o = content.find("origin");
  if (o == content.end() || !o->is_string() || *o != origin)
    return Error::Invalid("bad_txn", "the body's origin must be " + origin);
  auto d = content.find("destination");
  if (d == content.end() || !d->is_string() || *d != destination)
    return Error::Invalid("bad_txn",
                          "the body's destination must be " + destination);
  auto events = content.find("events");
  if (events == content.end() || !events->is_array())
    return Error::Invalid("bad_txn", "a transaction carries an events array");
  if (events->size() > max_events)
    return Error::TooLarge(
        "too_many_events",
        "at most " + std::to_string(max_events) + " events per transaction");
  return Ok();
}

Status Inbound::VerifyEvent(const std::string& origin,
                            const nlohmann::json& event,
                            const std::string& signing_bytes) {
  HEARTH_RETURN_IF_ERROR(CheckEventShape(event, origin));
  // Old keys verify events whose `ts` (checked by the shape) is at or
  // before their expiry.
  Status verified = trust_.VerifySigned(event, origin, true, &signing_bytes);
  if (!verified)
    metrics_.Add("hearth_federation_signature_failures_total",
                 {{"peer", origin}});
  return verified;
}

Status Inbound::WaitForEarlier(const std::string& origin,
                               const std::string& after) {
  const std::string key = origin + std::string(1, '\0') + after;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(options_.order_wait_ms);
  for (;;) {
    std::uint64_t seen_answers;
    {
      std::lock_guard<std::mutex> lock(answered_mu_);
      seen_answers = answered_;
    }
    {
      // The latest view: committed is enough, ours commits after it.
      HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn,
                              env_.BeginRead(storage::Env::View::kLatest));
      HEARTH_ASSIGN_OR_RETURN(auto earlier, txns_.Get(txn, key));
      if (earlier) return Ok();
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::unique_lock<std::mutex> lock(answered_mu_);
    answered_cv_.wait_until(lock, deadline,
                            [&] { return answered_ != seen_answers; });
  }
  return Error::Unavailable(
      "out_of_order",
      "txn " + after + ", which this one follows, has not been applied");
}

Result<nlohmann::json> Inbound::Send(const std::string& txn_id,
                                     const std::string& uri,
                                     const std::string& authorization,
                                     const std::string& body,
                                     const std::string* after) {
  // A malformed header is refused before the body is parsed.
  HEARTH_ASSIGN_OR_RETURN(RequestAuth auth, ParseAuthorization(authorization));
  if (!IsValidTxnId(txn_id))
    return Error::Invalid("invalid_txn_id",
                          "a txn id is 1-64 characters of [A-Za-z0-9._-]");
  if (after && (!IsValidTxnId(*after) || *after == txn_id))
    return Error::Invalid("invalid_txn_id",
                          "after names another txn id, 1-64 characters of "
                          "[A-Za-z0-9._-]");
  HEARTH_ASSIGN_OR_RETURN(
      nlohmann::json content,
      ParseCanonical(body, {.max_bytes = options_.max_body_bytes}));
  HEARTH_ASSIGN_OR_RETURN(
      std::string origin,
      // ParseCanonical checked that `body` is its own canonical form.
      Authenticate(auth, "PUT", uri, body, false));

  HEARTH_RETURN_IF_ERROR(CheckTransactionShape(
      content, origin, options_.server_name, options_.max_events));
  auto events = content.find("events");

  std::string key = origin + std::string(1, '\0') + txn_id;
  std::string body_hash = Sha256(body);
  auto replay = [&](const TxnRecord& r) -> Result<nlohmann::json> {
    if (r.body_hash != body_hash) {
      return Error::Conflict(
          "txn_conflict",
          "txn " + txn_id + " was already used with other content");
    }
    nlohmann::json answer = nlohmann::json::parse(r.response);
    answer["ordered"] = true;
    return answer;
  };
  {
    HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, env_.BeginRead());
    HEARTH_ASSIGN_OR_RETURN(auto seen, txns_.Get(txn, key));
    if (seen) return replay(*seen);
  }

  // Verify every event before the write (key fetches may use the
  // network), on every core: checking signatures is about half of the CPU
  // an inbound transaction costs, and a peer's one sender waits for this
  // answer before it sends the next batch, so it bounds what one peer can
  // deliver to us.
  const size_t n = events->size();
  std::vector<std::string> ids(n);
  std::vector<std::optional<InboundEvent>> prepared(n);
  std::vector<Status> verdicts(n, Ok());
  ParallelFor(n, [&](size_t i) {
    verdicts[i] = ForOneEvent("read", [&]() -> Status {
      nlohmann::json& event = (*events)[i];
      // The signing bytes once, for the event id and the signature.
      HEARTH_ASSIGN_OR_RETURN(std::string bytes, SigningBytes(event));
      ids[i] = EventIdOfSigningBytes(bytes);
      HEARTH_RETURN_IF_ERROR(VerifyEvent(origin, event, bytes));
      std::string type = event["type"].get<std::string>();
      InboundEvent ev{ids[i], origin, std::move(type), std::move(event),
                      std::move(bytes)};
      HEARTH_RETURN_IF_ERROR(sink_.Prepare(ev));
      prepared[i] = std::move(ev);
      return Ok();
    });
  });
  nlohmann::json results = nlohmann::json::object();
  std::vector<InboundEvent> valid;
  for (size_t i = 0; i < n; ++i) {
    if (!verdicts[i]) {
      // A store that could not be read (checking a signature or
      // preparing): the whole batch again later, nothing remembered.
      if (verdicts[i].error().kind == ErrorKind::kInternal)
        return verdicts[i].error();
      if (!ids[i].empty()) results[ids[i]] = ErrorJson(verdicts[i].error());
      continue;
    }
    valid.push_back(std::move(*prepared[i]));
  }
  // Verified and prepared while the earlier transaction was (perhaps)
  // still on its way: only the commit waits for it.
  if (after) HEARTH_RETURN_IF_ERROR(WaitForEarlier(origin, *after));

  std::optional<TxnRecord> raced;
  nlohmann::json final_results;
  HEARTH_RETURN_IF_ERROR(committer_.Run([&](storage::WriteTxn& txn) -> Status {
    final_results = results;
    HEARTH_ASSIGN_OR_RETURN(auto seen, txns_.Get(txn, key));
    if (seen) {
      raced = *seen;
      return Ok();
    }
    // Every event straight in one child transaction first: the common
    // case, all apply, pays for one nested transaction (LMDB allocates
    // ~2.5 MiB for each) instead of one per event. If one is refused, the
    // child is dropped and each event gets its own, so a refusal leaves
    // no partial write and takes no other event with it.
    bool all_applied = true;
    {
      HEARTH_ASSIGN_OR_RETURN(storage::WriteTxn child, txn.BeginNested());
      for (const auto& ev : valid) {
        ev.after_commit.clear();  // a change may run more than once
        Status applied =
            ForOneEvent("applied", [&] { return sink_.Apply(child, ev); });
        if (!applied) {
          if (applied.error().kind == ErrorKind::kInternal)
            return applied.error();
          all_applied = false;
          break;
        }
      }
      if (all_applied) {
        HEARTH_RETURN_IF_ERROR(child.Commit());
        for (const auto& ev : valid)
          final_results[ev.event_id] = nlohmann::json::object();
      }
    }
    for (size_t i = 0; !all_applied && i < valid.size(); ++i) {
      const InboundEvent& ev = valid[i];
      ev.after_commit.clear();
      HEARTH_ASSIGN_OR_RETURN(storage::WriteTxn child, txn.BeginNested());
      Status applied =
          ForOneEvent("applied", [&] { return sink_.Apply(child, ev); });
      if (!applied) ev.after_commit.clear();
      if (applied) {
        HEARTH_RETURN_IF_ERROR(child.Commit());
        final_results[ev.event_id] = nlohmann::json::object();
      } else if (applied.error().kind == ErrorKind::kInternal) {
        return applied.error();
      } else {
        final_results[ev.event_id] = ErrorJson(applied.error());
      }
    }
    nlohmann::json response = {{"results", final_results}};
    return txns_.Put(
        txn, key,
        TxnRecord{body_hash,
                  response.dump(-1, ' ', false,
                                nlohmann::json::error_handler_t::replace),
                  clock_.NowMs()});
  }));
  {
    std::lock_guard<std::mutex> lock(answered_mu_);
    ++answered_;
  }
  answered_cv_.notify_all();
  if (raced) return replay(*raced);
  for (const auto& ev : valid) {
    for (const auto& effect : ev.after_commit) effect();
  }
  size_t accepted = 0;
  for (const auto& [id, r] : final_results.items()) {
    if (r.empty()) ++accepted;
  }
  metrics_.Add("hearth_federation_events_received_total", {{"peer", origin}},
               double(accepted));
  // "ordered": this receiver honours `after` (a sender sends one
  // transaction at a time to a peer until it has seen this).
  return nlohmann::json{{"ordered", true}, {"results", final_results}};
}

}  // namespace hearth::federation
