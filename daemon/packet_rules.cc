#include "daemon/packet_rules.h"

namespace iotwall {

firewall::RuleSpec rule_spec(const Config& c) {
  firewall::RuleSpec s;
  s.queues = c.queues;
  s.bypass = c.bypass;
  switch (c.hook) {
    case Hook::kForward:
      s.hook = firewall::RuleSpec::kForward;
      break;
    case Hook::kInput:
      s.hook = firewall::RuleSpec::kInput;
      break;
    case Hook::kOutput:
      s.hook = firewall::RuleSpec::kOutput;
      break;
    case Hook::kLocal:
      s.hook = firewall::RuleSpec::kLocal;
      break;
  }
  s.interfaces = c.interfaces;
  s.ports = c.ports;
  return s;
}

bool DaemonRules::install(const Config& c, Log& log, std::string* error) {
  if (c.backend == RuleBackend::kNone) {
    none_ = true;
    log.line(LogLevel::kInfo, "rules", "backend=none note=\"rules are installed by someone else\"");
    return true;
  }
  const firewall::RuleSpec spec = rule_spec(c);
  if (!firewall::check_rule_spec(spec, error)) return false;
  std::optional<firewall::Backend> b;
  switch (c.backend) {
    case RuleBackend::kNftables:
      b = firewall::Backend::kNftables;
      break;
    case RuleBackend::kIptables:
      b = firewall::Backend::kIptables;
      break;
    default:
      b = rules_.detect_backend(error);
      if (!b) return false;
      break;
  }
  std::string leftover_error;
  if (!rules_.remove_leftovers(&leftover_error)) {
    log.line(LogLevel::kWarning, "rules", "leftovers=" + log_value(leftover_error));
  }
  if (!rules_.install(spec, *b, error)) return false;
  installed_ = b;
  log.line(LogLevel::kInfo, "rules",
           std::string("installed backend=") + firewall::backend_name(*b) +
               " bypass=" + (c.bypass ? "yes" : "no"));
  return true;
}

bool DaemonRules::remove(Log& log, std::string* error) {
  if (!installed_) return true;
  if (!rules_.remove(*installed_, error)) return false;
  log.line(LogLevel::kInfo, "rules", std::string("removed backend=") + firewall::backend_name(*installed_));
  installed_.reset();
  return true;
}

std::string DaemonRules::backend_name() const {
  if (none_) return "none";
  return installed_ ? firewall::backend_name(*installed_) : "none";
}

}  // namespace iotwall
