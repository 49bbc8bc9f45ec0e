// TraceWriter: writes accesses as rows of the DS2OS traces format
// (docs/trace-format.md), the same format TraceReader reads.
//
// Fields that need it are quoted as in RFC 4180; numbers are written in the
// shortest form that reads back to the same double.
// Thread-safety: none. The Interner must outlive the writer.
#pragma once

#include <cstdio>
#include <string>

#include "model/access.h"
#include "model/intern.h"

namespace iotwall {

// Appends `s` to *line as one CSV field, quoted when it holds a comma, a
// quote or a line end.
void append_csv_field(std::string* line, std::string_view s);

class TraceWriter {
 public:
  // Writes to `out`, which the caller owns and closes.
  TraceWriter(std::FILE* out, const Interner& in) : out_(out), in_(in) {}

  void write_header();
  void write(const TraceRecord& r);
  // Flushes; returns false if any write failed (disk full, closed pipe).
  bool finish();

  static const char* header();

 private:
  void field(std::string_view s);
  void value(const Value& v);

  std::FILE* out_;
  const Interner& in_;
  std::string line_;
  bool failed_ = false;
};

}  // namespace iotwall
