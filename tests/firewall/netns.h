// Test helpers for the firewall's network tests: a private network
// namespace for the calling thread, and small bounded TCP client/server
// helpers on 127.0.0.1.
//
// TestNetns creates `iotwall-fw-<pid>-<n>`, brings lo up in it and moves the
// calling thread into it (setns affects only that thread; threads and
// processes it starts afterwards inherit it). The destructor moves the
// thread back and deletes the namespace, also when a check failed. Nothing
// on the host is touched.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "firewall/command_runner.h"

namespace iotwall::firewall::test {

class TestNetns {
 public:
  TestNetns();
  ~TestNetns();
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;

  // False when the namespace could not be made (not root, no `ip`):
  // skip_reason() says why.
  bool ok() const { return entered_; }
  const std::string& skip_reason() const { return why_; }
  const std::string& name() const { return name_; }
  // Runs a tool inside the namespace; returns its exit status (-1: could
  // not run) and its stdout in *out.
  int run(const std::vector<std::string>& argv, const std::string& input = "",
          std::string* out = nullptr, std::string* err = nullptr);

 private:
  SystemCommandRunner runner_;
  std::string name_, why_;
  int orig_fd_ = -1;
  bool created_ = false, entered_ = false;
};

// Prints "SKIP: <reason>" and a Catch2 warning, and returns from the test.
#define IOTWALL_SKIP(reason)                        \
  do {                                              \
    const std::string why_skipped = (reason);       \
    std::printf("SKIP: %s\n", why_skipped.c_str()); \
    WARN("SKIP: " << why_skipped);                  \
    return;                                         \
  } while (0)

enum class ConnectResult { kConnected, kRefused, kTimeout, kError };
const char* connect_result_name(ConnectResult r);

// A listening socket on 127.0.0.1:port (-1 on failure).
int listen_tcp(uint16_t port);
// Connects to 127.0.0.1:port within timeout_ms; *fd is the socket when connected.
ConnectResult connect_tcp(uint16_t port, int timeout_ms, int* fd);
// Accepts one connection within timeout_ms (-1: none).
int accept_tcp(int listen_fd, int timeout_ms);
// Sends all bytes within timeout_ms.
bool send_all(int fd, const std::string& data, int timeout_ms);
// Reads until EOF (or max_bytes) within timeout_ms; false on timeout/error.
bool recv_to_eof(int fd, std::string* out, size_t max_bytes, int timeout_ms);

// One request over a fresh connection: connect, send `data`, shut down the
// write side, read the reply to EOF. The server side (serve_one) reads to
// EOF and answers with the number of bytes it read, as text. Both bounded.
bool exchange(uint16_t port, const std::string& data, int timeout_ms, std::string* reply);
bool serve_one(int listen_fd, int timeout_ms);

}  // namespace iotwall::firewall::test
