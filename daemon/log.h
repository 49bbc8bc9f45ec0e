// Log: the daemon's structured log lines on stderr, which journald keeps
// when iotwall runs as a service (with the "<N>" priority prefix systemd
// reads when $JOURNAL_STREAM says stderr is the journal). One line per
// event, `key=value` pairs (logfmt), written with one write(2) so lines of
// different threads never interleave.
//
// Anomaly lines are rate-limited per logger (an attacker must not be able
// to flood the journal): beyond `burst` per second they are only counted,
// and one line says how many were suppressed.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace iotwall {

enum class LogLevel : uint8_t { kDebug, kInfo, kWarning, kError };
bool parse_log_level(std::string_view s, LogLevel* out);

class Log {
 public:
  explicit Log(LogLevel level = LogLevel::kInfo);
  void set_level(LogLevel l) { level_.store(l, std::memory_order_relaxed); }
  bool enabled(LogLevel l) const { return l >= level_.load(std::memory_order_relaxed); }

  // Writes "level=... event=<event> <fields>" (fields already key=value).
  void line(LogLevel l, std::string_view event, std::string_view fields);
  // The same, subject to the rate limit (per second, shared by all callers).
  void limited(LogLevel l, std::string_view event, std::string_view fields);
  uint64_t suppressed() const { return suppressed_total_.load(std::memory_order_relaxed); }

  static constexpr int kBurstPerSecond = 50;

 private:
  std::atomic<LogLevel> level_;
  bool journal_;
  std::mutex mu_;  // the rate limiter's window
  int64_t window_s_ = 0;
  int in_window_ = 0;
  uint64_t suppressed_ = 0;
  std::atomic<uint64_t> suppressed_total_{0};
};

// A value for a logfmt field: bare when safe, else quoted, with quotes and
// backslashes escaped and control characters as \xNN (names come from the
// wire).
std::string log_value(std::string_view v);

}  // namespace iotwall
