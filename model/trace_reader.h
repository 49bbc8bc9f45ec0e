// TraceReader: streams rows of the DS2OS traces format (docs/trace-format.md)
// from a file or a string, without holding the input in memory.
//
// Tolerates a header (columns are then matched by name, in any order), no
// header, or a junk first line; CRLF; a UTF-8 BOM; RFC 4180 quoting; empty
// fields; non-numeric values. A malformed row is skipped, counted, and kept
// with its line number in errors() (the first kMaxKeptErrors of them).
//
// Thread-safety: none. The Interner must outlive the reader.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/access.h"
#include "model/intern.h"

namespace iotwall {

struct TraceError {
  uint64_t line;
  std::string message;
};

struct TraceStats {
  uint64_t lines = 0;      // physical lines seen
  uint64_t rows = 0;       // rows returned
  uint64_t malformed = 0;  // rows rejected (see errors())
  uint64_t blank = 0;      // empty lines, ignored
  bool header = false;     // the first line was a header
  bool preamble = false;   // the first line was neither header nor row
  uint64_t bytes = 0;      // bytes consumed
};

// The 13 columns, in the dataset's order.
enum class Column : uint8_t {
  kSourceId, kSourceAddress, kSourceType, kSourceLocation,
  kDestAddress, kDestType, kDestLocation, kNodeAddress, kNodeType,
  kOperation, kValue, kTimestamp, kLabel,
};
inline constexpr int kColumnCount = 13;

class TraceReader {
 public:
  static constexpr size_t kMaxKeptErrors = 100;
  static constexpr size_t kMaxLineBytes = 1 << 20;

  // Opens `path` ("-" = standard input). On failure returns null and sets
  // *error to a message naming the file and the reason.
  static std::unique_ptr<TraceReader> open(const std::string& path, Interner& in,
                                           std::string* error);
  // Reads from a copy of `text` (tests, small inputs).
  static std::unique_ptr<TraceReader> from_string(std::string text, Interner& in);

  ~TraceReader();

  // Reads the next well-formed row. Returns false at the end of the input or
  // on a read error (then io_error() is non-empty).
  bool next(TraceRecord* out);

  const TraceStats& stats() const { return stats_; }
  const std::vector<TraceError>& errors() const { return errors_; }
  const std::string& io_error() const { return io_error_; }

  // Parses one line (without its line end) with the default column order.
  // Returns false and sets *why for a malformed row. Exposed for tests and
  // fuzzing.
  static bool parse_row(std::string_view line, Interner& in, TraceRecord* out, std::string* why);

 private:
  TraceReader(int fd, bool owns_fd, std::string name, Interner& in);

  bool next_line(std::string_view* line);
  bool fill();
  bool parse(std::string_view line, TraceRecord* out, std::string* why);
  bool try_header(std::string_view line);
  void reject(std::string why);

  int fd_;
  bool owns_fd_;
  std::string name_;
  Interner& in_;
  std::string buf_;        // input buffer; [begin_, end_) unread
  size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  bool first_content_ = true;  // no non-blank line seen yet
  std::array<int8_t, kColumnCount> column_of_;  // Column -> field index, -1 absent
  int fields_expected_ = kColumnCount;
  std::vector<std::string_view> fields_;
  std::string unquoted_;   // backing store for quoted fields of one line
  TraceStats stats_;
  std::vector<TraceError> errors_;
  std::string io_error_;
  std::string from_string_;  // keeps a from_string() input alive
};

}  // namespace iotwall
