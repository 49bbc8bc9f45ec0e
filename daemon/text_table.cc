#include "daemon/text_table.h"

#include <algorithm>

namespace iotwall::cli {

std::string group(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string percent(double ratio) {
  char buf[32];
  const double p = ratio * 100;
  std::snprintf(buf, sizeof buf, p != 0 && p < 0.1 ? "%.3f %%" : "%.2f %%", p);
  return buf;
}

void TextTable::print(std::FILE* f) const {
  std::vector<size_t> width;
  for (const auto& row : rows_) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows_) {
    std::string line = "  ";
    for (size_t i = 0; i < row.size(); ++i) {
      const std::string pad(width[i] - row[i].size(), ' ');
      line += i == 0 ? row[i] + pad : pad + row[i];
      line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::fprintf(f, "%s\n", line.c_str());
  }
}

}  // namespace iotwall::cli
