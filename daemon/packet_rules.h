// DaemonRules: the configuration's `rules:` and `queue:` sections turned
// into the daemon's own packet rules (firewall/rules.h): backend chosen or
// detected at start, leftovers of a crashed run removed, rules installed,
// and removed again at a clean stop. Backend `none`: someone else installs
// the rules (nothing is touched).
// Thread-safety: none (the main thread, at start and stop).
#pragma once

#include <optional>
#include <string>

#include "daemon/config.h"
#include "daemon/log.h"
#include "firewall/rules.h"

namespace iotwall {

firewall::RuleSpec rule_spec(const Config& c);

class DaemonRules {
 public:
  bool install(const Config& c, Log& log, std::string* error);
  bool remove(Log& log, std::string* error);
  std::string backend_name() const;

 private:
  firewall::PacketRules rules_;
  std::optional<firewall::Backend> installed_;
  bool none_ = false;
};

}  // namespace iotwall
