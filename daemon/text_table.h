// Small helpers for terminal output: aligned tables, digit grouping, percent.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace iotwall::cli {

// "1234567" -> "1,234,567".
std::string group(uint64_t n);
// 0.98765 -> "98.77 %"; small rates keep three significant digits.
std::string percent(double ratio);

// Columns are right-aligned except the first.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::FILE* f) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace iotwall::cli
