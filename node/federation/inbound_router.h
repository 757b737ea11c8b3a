// Hands verified inbound events to the service that owns their type. The
// node's side of federation::InboundSink.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "federation/inbound.h"

namespace hearth {

class InboundRouter final : public federation::InboundSink {
 public:
  using Handler = std::function<Status(storage::WriteTxn&,
                                       const federation::InboundEvent&)>;
  // Run before the write transaction, concurrently (InboundSink::Prepare).
  using Preparer = std::function<Status(federation::InboundEvent&)>;
  void Register(const std::string& type, Handler handler,
                Preparer preparer = nullptr) {
    handlers_[type] = std::move(handler);
    if (preparer) preparers_[type] = std::move(preparer);
  }
  Status Prepare(federation::InboundEvent& event) const override {
    auto it = preparers_.find(event.type);
    return it == preparers_.end() ? Ok() : it->second(event);
  }
  // Invalid (`unknown_event_type`) for a type no service handles.
  Status Apply(storage::WriteTxn& txn,
               const federation::InboundEvent& event) override {
    auto it = handlers_.find(event.type);
    if (it == handlers_.end())
      return Error::Invalid("unknown_event_type",
                            "this node does not handle " + event.type);
    return it->second(txn, event);
  }

 private:
  std::map<std::string, Handler> handlers_;
  std::map<std::string, Preparer> preparers_;
};

}  // namespace hearth
