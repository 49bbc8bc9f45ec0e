#include "model/trace_writer.h"

#include <charconv>

namespace iotwall {

const char* TraceWriter::header() {
  return "sourceID,sourceAddress,sourceType,sourceLocation,destinationServiceAddress,"
         "destinationServiceType,destinationLocation,accessedNodeAddress,accessedNodeType,"
         "operation,value,timestamp,normality";
}

void TraceWriter::write_header() {
  if (std::fputs(header(), out_) < 0 || std::fputc('\n', out_) == EOF) failed_ = true;
}

void append_csv_field(std::string* line, std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
    line->append(s);
    return;
  }
  line->push_back('"');
  for (char c : s) {
    if (c == '"') line->push_back('"');
    line->push_back(c);
  }
  line->push_back('"');
}

void TraceWriter::field(std::string_view s) { append_csv_field(&line_, s); }

void TraceWriter::value(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kEmpty:
      return;
    case Value::Kind::kNone:
      line_.append("none");
      return;
    case Value::Kind::kBool:
      line_.append(v.boolean ? "true" : "false");
      return;
    case Value::Kind::kNumber: {
      char buf[64];
      auto res = std::to_chars(buf, buf + sizeof buf, v.number);
      line_.append(buf, res.ptr);
      return;
    }
    case Value::Kind::kText:
      field(in_.str(v.text));
      return;
  }
}

void TraceWriter::write(const TraceRecord& r) {
  const Access& a = r.access;
  line_.clear();
  for (Sym s : {a.source_id, a.source_address, a.source_type, a.source_location, a.dest_address,
                a.dest_type, a.dest_location, a.node_address, a.node_type}) {
    field(in_.str(s));
    line_.push_back(',');
  }
  line_.append(operation_name(a.op));
  line_.push_back(',');
  value(a.value);
  line_.push_back(',');
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, a.time_ms);
  line_.append(buf, res.ptr);
  line_.push_back(',');
  field(in_.str(r.label));
  line_.push_back('\n');
  if (std::fwrite(line_.data(), 1, line_.size(), out_) != line_.size()) failed_ = true;
}

bool TraceWriter::finish() {
  if (std::fflush(out_) != 0) failed_ = true;
  return !failed_ && !std::ferror(out_);
}

}  // namespace iotwall
