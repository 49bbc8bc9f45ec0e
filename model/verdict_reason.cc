#include "model/verdict_reason.h"

#include <cmath>
#include <cstdio>

#include "model/wording.h"

namespace iotwall {
namespace {

std::string num(double x) {
  char b[32];
  if (x == std::floor(x) && std::abs(x) < 1e15) {
    std::snprintf(b, sizeof b, "%.0f", x);
  } else {
    std::snprintf(b, sizeof b, std::abs(x) >= 100 ? "%.0f" : "%.3g", x);
  }
  return b;
}

std::string_view kind_word(int k) {
  switch (static_cast<Value::Kind>(k)) {
    case Value::Kind::kEmpty: return "an empty";
    case Value::Kind::kNone: return "a 'none'";
    case Value::Kind::kNumber: return "a number";
    case Value::Kind::kBool: return "a boolean";
    case Value::Kind::kText: return "a text";
  }
  return "a";
}

std::string graph_reason(const Verdict& v, const Detector& d, const Interner& in) {
  const CommGraph& g = d.graph();
  const Edge& e = g.edges()[v.graph.edge];
  const std::string target = e.src == e.dst ? "itself" : vertex_text(g.vertices()[e.dst], in);
  const std::string what = std::string(operation_verb(e.op)) + " " + target;
  switch (v.graph.reason) {
    case Reason::kLearning: return "learning phase: " + what + " learned";
    case Reason::kKnownRelation: return "its type already may " + what.substr(0, what.find(' ')) + " such services";
    case Reason::kKnown: return "known: may " + what;
    case Reason::kApproved:
    case Reason::kTypeApproved:
    case Reason::kServiceApproved: return "approved by the site manager: " + what;
    case Reason::kNewEdge:
    case Reason::kPending:
      return "never did " + what + " before; waiting for the site manager (question #" +
             std::to_string(v.graph.question) + ")";
    case Reason::kDenied:
    case Reason::kTypeDenied:
    case Reason::kServiceDenied: return "denied by the site manager: " + what;
  }
  return "?";
}

}  // namespace

std::string verdict_reason(const Verdict& v, const Access& a, const Detector& d, const Interner& in) {
  if (v.graph.anomalous || !v.scored || v.feature == Feature::kNone || v.soa + v.sor <= 0) {
    return graph_reason(v, d, in);
  }
  const std::string partners = type_plural(in.str(Sym{v.partner_type}));
  std::string s;
  switch (v.feature) {
    case Feature::kNone: break;
    case Feature::kRelationship:
      s = "its type never talked to " + partners + " before";
      break;
    case Feature::kValue:
      s = v.spread > 0 ? "value " + num(v.observed) + " on " + std::string(in.str(a.node_address)) +
                             ", usually " + num(v.expected) + " +- " + num(v.spread)
                       : "value never seen on " + std::string(in.str(a.node_address));
      break;
    case Feature::kPeriod:
      s = v.burst ? num(v.observed) + " accesses in " + num(v.spread) + " s"
                  : "an access " + num(v.observed) + " s after the last";
      s += " where the period to " + partners + " is " + num(v.expected) + " s";
      break;
    case Feature::kLocation: {
      const int where = static_cast<int>(v.observed);
      s = "never accessed " + partners +
          (where == kSameRoomSlot ? " in its own room" : where == kOtherRoomSlot ? " in other rooms" : " of unknown room") +
          " before";
      break;
    }
    case Feature::kOperation:
      s = "never did " + std::string(operation_name(a.op)) + " on " + partners + " before";
      break;
    case Feature::kDatatype:
      s = std::string(kind_word(static_cast<int>(v.observed))) + " value " +
          (a.op == Operation::kWrite ? "written to " : a.op == Operation::kRead ? "read from " : "on ") +
          std::string(in.str(a.node_address)) +
          (in.str(a.node_type).empty() ? "" : " (" + std::string(in.str(a.node_type)) + ")");
      break;
    case Feature::kPartners:
      s = "talked to " + num(v.observed) + " " + partners + " this minute, usually " + num(v.expected);
      break;
    case Feature::kFrequency:
      s = v.burst ? num(v.observed) + " accesses within about a second, usually " + num(v.expected)
                  : num(v.observed) + " accesses to " + partners + " in this window, usually " +
                        num(v.expected) + " +- " + num(v.spread);
      break;
    case Feature::kFlows:
      s = "used " + num(v.observed) + " flows to " + partners + " this minute, usually " + num(v.expected);
      break;
  }
  return s + " (AV " + num(v.av) + ")";
}

}  // namespace iotwall
