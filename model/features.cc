#include "model/features.h"

namespace iotwall {

std::string_view feature_name(Feature f) {
  switch (f) {
    case Feature::kNone: return "none";
    case Feature::kRelationship: return "relationship";
    case Feature::kValue: return "value";
    case Feature::kPeriod: return "period";
    case Feature::kLocation: return "location";
    case Feature::kOperation: return "operation";
    case Feature::kDatatype: return "datatype";
    case Feature::kPartners: return "partners";
    case Feature::kFrequency: return "frequency";
    case Feature::kFlows: return "flows";
  }
  return "?";
}

bool parse_feature_list(std::string_view list, FeatureMask* out, std::string* error) {
  FeatureMask m = 0;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view name = list.substr(0, comma);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    bool found = false;
    for (int i = 1; i < kFeatureCount; ++i) {
      if (feature_name(static_cast<Feature>(i)) == name) {
        m |= bit(static_cast<Feature>(i));
        found = true;
      }
    }
    if (!found) {
      *error = "unknown feature '" + std::string(name) +
               "' (features: value, period, location, operation, datatype, partners, frequency, "
               "flows, relationship)";
      return false;
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  *out = m;
  return true;
}

}  // namespace iotwall
