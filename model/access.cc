#include "model/access.h"

#include <array>
#include <charconv>
#include <cmath>

namespace iotwall {
namespace {

struct OpName {
  Operation op;
  std::string_view name;
  std::string_view verb;
};

constexpr std::array<OpName, kOperationCount> kOps = {{
    {Operation::kUnknown, "", "access"},
    {Operation::kRead, "read", "read"},
    {Operation::kWrite, "write", "write"},
    {Operation::kSubscribe, "subscribe", "subscribe to"},
    {Operation::kUnsubscribe, "unsubscribe", "unsubscribe from"},
    {Operation::kNotifyCallback, "notifyCallback", "notify"},
    {Operation::kRegisterVirtualNode, "registerVirtualNode", "register virtual nodes on"},
    {Operation::kUnregisterVirtualNode, "unregisterVirtualNode", "unregister virtual nodes on"},
    {Operation::kLockSubtree, "lockSubtree", "lock"},
    {Operation::kCommitSubtree, "commitSubtree", "commit changes to"},
    {Operation::kRollbackSubtree, "unlockSubtree", "unlock"},
    {Operation::kRegisterService, "registerService", "register"},
    {Operation::kUnregisterService, "unregisterService", "unregister"},
    {Operation::kOther, "other", "use"},
}};

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

Operation parse_operation(std::string_view name) {
  if (name.empty()) return Operation::kUnknown;
  for (const OpName& o : kOps) {
    if (!o.name.empty() && o.name == name) return o.op;
  }
  // Aliases: the VSL's own names and the paper's, as a person might write them.
  if (iequals(name, "get")) return Operation::kRead;
  if (iequals(name, "set")) return Operation::kWrite;
  if (iequals(name, "notify")) return Operation::kNotifyCallback;
  if (iequals(name, "rollbackSubtree") || iequals(name, "abort")) return Operation::kRollbackSubtree;
  if (iequals(name, "commit")) return Operation::kCommitSubtree;
  for (const OpName& o : kOps) {
    if (!o.name.empty() && iequals(o.name, name)) return o.op;
  }
  return Operation::kOther;
}

std::string_view operation_name(Operation op) { return kOps[static_cast<size_t>(op)].name; }
std::string_view operation_verb(Operation op) { return kOps[static_cast<size_t>(op)].verb; }

Value Value::parse(std::string_view s, Interner& in) {
  Value v;
  if (s.empty()) return v;
  if (s == "none") {
    v.kind = Kind::kNone;
    return v;
  }
  if (iequals(s, "true") || iequals(s, "false")) {
    v.kind = Kind::kBool;
    v.boolean = (s[0] == 't' || s[0] == 'T');
    return v;
  }
  const char* first = s.data();
  const char* last = s.data() + s.size();
  if (*first == '+') ++first;  // from_chars rejects a leading '+'
  double d = 0;
  auto [ptr, ec] = std::from_chars(first, last, d);
  // from_chars accepts "nan" and "inf": those are text to us.
  if (ec == std::errc() && ptr == last && std::isfinite(d) && first != last &&
      ((*first >= '0' && *first <= '9') || *first == '-' || *first == '.')) {
    v.kind = Kind::kNumber;
    v.number = d;
    return v;
  }
  v.kind = Kind::kText;
  v.text = in.intern_value(s);  // bounded apart from names (intern.h)
  return v;
}

}  // namespace iotwall
