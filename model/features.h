// The features of the multi-dimensional model (ALGORITHM.md sections 3-5),
// by the names `iotwall eval --disable` takes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace iotwall {

enum class Feature : uint8_t {
  kNone,          // no feature decided
  kRelationship,  // SoR: a relationship the type rarely or never has
  kValue,         // a number far from the node's values, or a new value of a closed set
  kPeriod,        // a gap far shorter than the flow's period, or a DoS group score
  kLocation,      // same / other room never seen for the relationship
  kOperation,     // an operation never seen for the relationship
  kDatatype,      // a kind of value never seen on the node, or wrong for its type
  kPartners,      // more partners of the type in a window than ever
  kFrequency,     // more accesses in a window, or in a burst, than ever
  kFlows,         // more flows (node, operation) in a window than ever
};
inline constexpr int kFeatureCount = static_cast<int>(Feature::kFlows) + 1;

std::string_view feature_name(Feature f);

// A set of features as a bit mask (bit = 1 << Feature).
using FeatureMask = uint32_t;
inline constexpr FeatureMask bit(Feature f) { return FeatureMask{1} << static_cast<int>(f); }

// Parses a comma list of feature names ("value,period"; "relationship" is
// accepted too). Returns false and sets *error on an unknown name.
bool parse_feature_list(std::string_view list, FeatureMask* out, std::string* error);

}  // namespace iotwall
