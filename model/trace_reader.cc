#include "model/trace_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

namespace iotwall {
namespace {

constexpr size_t kBufferBytes = 2 * TraceReader::kMaxLineBytes;

constexpr std::array<std::string_view, kColumnCount> kColumnNames = {
    "sourceID", "sourceAddress", "sourceType", "sourceLocation",
    "destinationServiceAddress", "destinationServiceType", "destinationLocation",
    "accessedNodeAddress", "accessedNodeType", "operation", "value", "timestamp", "normality",
};

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Splits a CSV line into fields. Quoted fields (RFC 4180) are unescaped into
// `store`, which is reserved up front so the views into it stay valid.
bool split(std::string_view line, std::vector<std::string_view>& fields, std::string& store,
           std::string* why) {
  fields.clear();
  if (line.find('"') == std::string_view::npos) {
    size_t start = 0;
    while (true) {
      size_t comma = line.find(',', start);
      if (comma == std::string_view::npos) {
        fields.push_back(trim(line.substr(start)));
        return true;
      }
      fields.push_back(trim(line.substr(start, comma - start)));
      start = comma + 1;
    }
  }
  store.clear();
  store.reserve(line.size());
  size_t i = 0;
  while (true) {
    while (i < line.size() && is_space(line[i])) ++i;
    if (i < line.size() && line[i] == '"') {
      size_t begin = store.size();
      ++i;
      while (true) {
        if (i >= line.size()) {
          *why = "unterminated quoted field";
          return false;
        }
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            store.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        store.push_back(line[i++]);
      }
      fields.push_back(std::string_view(store).substr(begin));
      while (i < line.size() && is_space(line[i])) ++i;
      if (i == line.size()) return true;
      if (line[i] != ',') {
        *why = "text after a closing quote";
        return false;
      }
      ++i;
    } else {
      size_t comma = line.find(',', i);
      std::string_view f = line.substr(i, comma == std::string_view::npos ? line.npos : comma - i);
      if (f.find('"') != std::string_view::npos) {
        *why = "quote inside an unquoted field";
        return false;
      }
      fields.push_back(trim(f));
      if (comma == std::string_view::npos) return true;
      i = comma + 1;
    }
  }
}

bool parse_timestamp(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec == std::errc() && p == end) {
    *out = v;
    return v >= 0 && v <= kMaxTraceMs;
  }
  // Some tools write milliseconds with a fraction; keep whole milliseconds.
  double d = 0;
  auto [q, ec2] = std::from_chars(s.data(), end, d);
  if (ec2 != std::errc() || q != end || !std::isfinite(d) || d < 0 || d > kMaxTraceMs) return false;
  *out = static_cast<int64_t>(d);
  return true;
}

std::string quoted(std::string_view s) {
  constexpr size_t kMax = 40;
  std::string r = "'";
  r.append(s.substr(0, kMax));
  if (s.size() > kMax) r.append("...");
  r.push_back('\'');
  return r;
}

// Fills `out` from split fields; `col[c]` is the field index of column c.
bool fill_record(const std::vector<std::string_view>& f, const std::array<int8_t, kColumnCount>& col,
                 Interner& in, TraceRecord* out, std::string* why) {
  auto get = [&](Column c) -> std::string_view {
    int8_t i = col[static_cast<size_t>(c)];
    return i < 0 ? std::string_view() : f[static_cast<size_t>(i)];
  };
  Access& a = out->access;
  std::string_view ts = get(Column::kTimestamp);
  if (!parse_timestamp(ts, &a.time_ms)) {
    *why = "timestamp " + quoted(ts) + " is not a number of milliseconds since 1970 (0 to 1e15)";
    return false;
  }
  std::string_view label = get(Column::kLabel);
  if (label.empty()) {
    out->label_class = LabelClass::kUnlabeled;
  } else if (label == "normal") {
    out->label_class = LabelClass::kNormal;
  } else if (label.starts_with("anomalous")) {
    out->label_class = LabelClass::kAnomalous;
  } else {
    *why = "label " + quoted(label) + " is neither 'normal' nor 'anomalous(<kind>)'";
    return false;
  }
  a.source_id = in.intern(get(Column::kSourceId));
  a.source_address = in.intern(get(Column::kSourceAddress));
  if (a.source().empty()) {
    *why = "no source: sourceID and sourceAddress are empty";
    return false;
  }
  a.dest_address = in.intern(get(Column::kDestAddress));
  a.node_address = in.intern(get(Column::kNodeAddress));
  if (a.dest().empty()) {
    *why = "no destination: destinationServiceAddress and accessedNodeAddress are empty";
    return false;
  }
  a.source_type = in.intern(get(Column::kSourceType));
  a.source_location = in.intern(get(Column::kSourceLocation));
  a.dest_type = in.intern(get(Column::kDestType));
  a.dest_location = in.intern(get(Column::kDestLocation));
  a.node_type = in.intern(get(Column::kNodeType));
  a.op = parse_operation(get(Column::kOperation));
  a.value = Value::parse(get(Column::kValue), in);
  out->label = in.intern(label);
  return true;
}

constexpr std::array<int8_t, kColumnCount> default_columns() {
  std::array<int8_t, kColumnCount> c{};
  for (int i = 0; i < kColumnCount; ++i) c[static_cast<size_t>(i)] = static_cast<int8_t>(i);
  return c;
}

}  // namespace

std::unique_ptr<TraceReader> TraceReader::open(const std::string& path, Interner& in,
                                               std::string* error) {
  if (path == "-") return std::unique_ptr<TraceReader>(new TraceReader(0, false, "<stdin>", in));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = path + ": " + std::strerror(errno);
    return nullptr;
  }
  return std::unique_ptr<TraceReader>(new TraceReader(fd, true, path, in));
}

std::unique_ptr<TraceReader> TraceReader::from_string(std::string text, Interner& in) {
  auto r = std::unique_ptr<TraceReader>(new TraceReader(-1, false, "<string>", in));
  r->buf_ = std::move(text);
  r->end_ = r->buf_.size();
  r->eof_ = true;
  return r;
}

TraceReader::TraceReader(int fd, bool owns_fd, std::string name, Interner& in)
    : fd_(fd), owns_fd_(owns_fd), name_(std::move(name)), in_(in), column_of_(default_columns()) {
  if (fd_ >= 0) buf_.resize(kBufferBytes);
  fields_.reserve(kColumnCount + 4);
}

TraceReader::~TraceReader() {
  if (owns_fd_) ::close(fd_);
}

bool TraceReader::fill() {
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  while (end_ < buf_.size()) {
    ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (n < 0) {
      if (errno == EINTR) continue;
      io_error_ = name_ + ": read failed: " + std::strerror(errno);
      eof_ = true;
      return false;
    }
    if (n == 0) {
      eof_ = true;
      return true;
    }
    end_ += static_cast<size_t>(n);
    // Enough for many lines; return to parsing.
    if (end_ - begin_ >= kBufferBytes / 2) return true;
  }
  return true;
}

bool TraceReader::next_line(std::string_view* line) {
  bool overlong = false;
  while (true) {
    const char* base = buf_.data();
    const void* nl = std::memchr(base + begin_, '\n', end_ - begin_);
    if (nl != nullptr) {
      size_t pos = static_cast<size_t>(static_cast<const char*>(nl) - base);
      *line = std::string_view(base + begin_, pos - begin_);
      stats_.bytes += pos + 1 - begin_;
      begin_ = pos + 1;
    } else if (eof_) {
      if (begin_ == end_) {
        if (overlong) {  // the file ended inside an overlong line
          ++stats_.lines;
          reject("line longer than " + std::to_string(kMaxLineBytes) + " bytes");
        }
        return false;
      }
      *line = std::string_view(base + begin_, end_ - begin_);
      stats_.bytes += end_ - begin_;
      begin_ = end_;
    } else if (end_ - begin_ >= kMaxLineBytes) {
      // Drop the head of an overlong line and keep looking for its end.
      overlong = true;
      stats_.bytes += end_ - begin_;
      begin_ = end_;
      fill();
      continue;
    } else {
      fill();
      continue;
    }
    ++stats_.lines;
    if (overlong || line->size() > kMaxLineBytes) {
      overlong = false;
      reject("line longer than " + std::to_string(kMaxLineBytes) + " bytes");
      continue;
    }
    if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
    if (stats_.lines == 1 && line->starts_with("\xEF\xBB\xBF")) line->remove_prefix(3);
    return true;
  }
}

void TraceReader::reject(std::string why) {
  ++stats_.malformed;
  if (errors_.size() < kMaxKeptErrors) errors_.push_back({stats_.lines, std::move(why)});
}

bool TraceReader::try_header(std::string_view line) {
  std::string why;
  if (!split(line, fields_, unquoted_, &why) || fields_.empty()) return false;
  std::array<int8_t, kColumnCount> col;
  col.fill(-1);
  int named = 0;
  for (size_t i = 0; i < fields_.size() && i < 127; ++i) {
    for (int c = 0; c < kColumnCount; ++c) {
      if (iequals(fields_[i], kColumnNames[static_cast<size_t>(c)])) {
        col[static_cast<size_t>(c)] = static_cast<int8_t>(i);
        ++named;
      }
    }
  }
  if (named <= kColumnCount / 2) return false;  // a majority of the names, not a stray word
  stats_.header = true;
  for (int c = 0; c < kColumnCount; ++c) {
    if (col[static_cast<size_t>(c)] < 0 && static_cast<Column>(c) != Column::kLabel) {
      io_error_ = name_ + ": line " + std::to_string(stats_.lines) + ": the header has no column '" +
                  std::string(kColumnNames[static_cast<size_t>(c)]) + "'";
      eof_ = true;
      begin_ = end_;
      return true;
    }
  }
  column_of_ = col;
  fields_expected_ = static_cast<int>(fields_.size());
  return true;
}

bool TraceReader::parse(std::string_view line, TraceRecord* out, std::string* why) {
  if (!split(line, fields_, unquoted_, why)) return false;
  const int n = static_cast<int>(fields_.size());
  if (stats_.header) {
    if (n != fields_expected_) {
      *why = "has " + std::to_string(n) + " fields, the header has " +
             std::to_string(fields_expected_);
      return false;
    }
  } else if (n != kColumnCount && n != kColumnCount - 1) {
    *why = "has " + std::to_string(n) + " fields, expected 13 (or 12 without a label)";
    return false;
  }
  if (!stats_.header) column_of_[static_cast<size_t>(Column::kLabel)] = (n == kColumnCount) ? 12 : -1;
  return fill_record(fields_, column_of_, in_, out, why);
}

bool TraceReader::next(TraceRecord* out) {
  std::string_view line;
  std::string why;
  while (next_line(&line)) {
    if (trim(line).empty()) {
      ++stats_.blank;
      continue;
    }
    if (first_content_) {
      // The first non-blank line may be a header, a row, or a preamble.
      first_content_ = false;
      if (try_header(line)) {
        if (!io_error_.empty()) return false;
        continue;
      }
      if (!parse(line, out, &why)) {
        if (!stats_.preamble) {
          // Neither a header nor a row: a preamble some tools write. A header
          // may still follow it.
          stats_.preamble = true;
          first_content_ = true;
        } else {
          reject(why);
        }
        continue;
      }
    } else if (!parse(line, out, &why)) {
      reject(why);
      continue;
    }
    out->line = stats_.lines;
    ++stats_.rows;
    return true;
  }
  return false;
}

bool TraceReader::parse_row(std::string_view line, Interner& in, TraceRecord* out,
                            std::string* why) {
  std::vector<std::string_view> fields;
  std::string store;
  if (!split(line, fields, store, why)) return false;
  if (fields.size() != kColumnCount && fields.size() != kColumnCount - 1) {
    *why = "has " + std::to_string(fields.size()) + " fields, expected 13 (or 12 without a label)";
    return false;
  }
  auto col = default_columns();
  if (fields.size() == kColumnCount - 1) col[static_cast<size_t>(Column::kLabel)] = -1;
  return fill_record(fields, col, in, out, why);
}

}  // namespace iotwall
