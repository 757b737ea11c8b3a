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
  void Register(const std::string& type, Handler handler) {
    handlers_[type] = std::move(handler);
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
};

}  // namespace hearth
