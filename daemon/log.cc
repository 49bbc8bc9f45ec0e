#include "daemon/log.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace iotwall {

namespace {

std::string_view level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// syslog priorities: debug 7, info 6, warning 4, error 3.
char priority(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return '7';
    case LogLevel::kInfo:
      return '6';
    case LogLevel::kWarning:
      return '4';
    case LogLevel::kError:
      return '3';
  }
  return '6';
}

}  // namespace

bool parse_log_level(std::string_view s, LogLevel* out) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (s == level_name(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

Log::Log(LogLevel level) : level_(level), journal_(std::getenv("JOURNAL_STREAM") != nullptr) {}

void Log::line(LogLevel l, std::string_view event, std::string_view fields) {
  if (!enabled(l)) return;
  std::string s;
  s.reserve(48 + event.size() + fields.size());
  if (journal_) {
    s += '<';
    s += priority(l);
    s += '>';
  } else {  // a timestamp where no journal adds one
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t{};
    gmtime_r(&ts.tv_sec, &t);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ", t.tm_year + 1900,
                  t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000000);
    s += buf;
  }
  s += "level=";
  s += level_name(l);
  s += " event=";
  s += event;
  if (!fields.empty()) {
    s += ' ';
    s += fields;
  }
  s += '\n';
  // One write: lines of different threads do not interleave. A short or
  // failed write to stderr has nowhere better to be reported.
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, s.data(), s.size());
}

void Log::limited(LogLevel l, std::string_view event, std::string_view fields) {
  if (!enabled(l)) return;
  uint64_t report = 0;
  {
    std::lock_guard lock(mu_);
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    if (now != window_s_) {
      report = suppressed_;
      suppressed_ = 0;
      window_s_ = now;
      in_window_ = 0;
    }
    if (in_window_ >= kBurstPerSecond) {
      ++suppressed_;
      suppressed_total_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    ++in_window_;
  }
  if (report > 0) line(LogLevel::kWarning, "log_suppressed", "lines=" + std::to_string(report));
  line(l, event, fields);
}

std::string log_value(std::string_view v) {
  bool bare = !v.empty();
  for (char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) >= 0x7f) {
      bare = false;
      break;
    }
  }
  if (bare) return std::string(v);
  std::string s = "\"";
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      s += '\\';
      s += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      s += buf;
    } else {
      s += c;
    }
  }
  s += '"';
  return s;
}

}  // namespace iotwall
