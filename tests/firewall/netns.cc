#include "tests/firewall/netns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>

namespace iotwall::firewall::test {
namespace {

std::atomic<int> g_netns_count{0};

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (int i = 0; i < 1000; ++i) {
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, ms_left(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
  return false;
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

}  // namespace

TestNetns::TestNetns() : runner_(10000) {
  if (geteuid() != 0) {
    why_ = "needs root (network namespaces, NFQUEUE, packet rules)";
    return;
  }
  name_ = "iotwall-fw-" + std::to_string(getpid()) + "-" + std::to_string(g_netns_count++);
  std::string out, err;
  if (run({"ip", "netns", "add", name_}, "", &out, &err) != 0) {
    why_ = "cannot create a network namespace: " + err;
    return;
  }
  created_ = true;
  const int ns = open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
  orig_fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (ns < 0 || orig_fd_ < 0 || setns(ns, CLONE_NEWNET) != 0) {
    why_ = "cannot enter the network namespace " + name_;
    if (ns >= 0) close(ns);
    return;
  }
  close(ns);
  entered_ = true;
  if (run({"ip", "link", "set", "lo", "up"}, "", &out, &err) != 0)
    why_ = "cannot bring lo up: " + err;
}

TestNetns::~TestNetns() {
  if (entered_) setns(orig_fd_, CLONE_NEWNET);
  if (orig_fd_ >= 0) close(orig_fd_);
  if (created_) run({"ip", "netns", "del", name_});
}

int TestNetns::run(const std::vector<std::string>& argv, const std::string& input, std::string* out,
                   std::string* err) {
  CommandResult r;
  std::string error;
  if (!runner_.run(argv, input, &r, &error)) {
    if (err != nullptr) *err = error;
    return -1;
  }
  if (out != nullptr) *out = r.out;
  if (err != nullptr) *err = r.err;
  return r.status;
}

const char* connect_result_name(ConnectResult r) {
  switch (r) {
    case ConnectResult::kConnected:
      return "connected";
    case ConnectResult::kRefused:
      return "refused";
    case ConnectResult::kTimeout:
      return "timeout";
    case ConnectResult::kError:
      return "error";
  }
  return "?";
}

int listen_tcp(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = loopback(port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 64) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

ConnectResult connect_tcp(uint16_t port, int timeout_ms, int* fd_out) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ConnectResult::kError;
  sockaddr_in a = loopback(port);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  ConnectResult r = ConnectResult::kConnected;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (errno == ECONNREFUSED) {
      r = ConnectResult::kRefused;
    } else if (errno != EINPROGRESS) {
      r = ConnectResult::kError;
    } else if (!wait_for(fd, POLLOUT, deadline)) {
      r = ConnectResult::kTimeout;
    } else {
      int soerr = 0;
      socklen_t len = sizeof soerr;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      r = soerr == 0 ? ConnectResult::kConnected
                     : (soerr == ECONNREFUSED || soerr == ECONNRESET ? ConnectResult::kRefused
                                                                     : ConnectResult::kError);
    }
  }
  if (r == ConnectResult::kConnected) {
    *fd_out = fd;
  } else {
    close(fd);
  }
  return r;
}

int accept_tcp(int listen_fd, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  if (!wait_for(listen_fd, POLLIN, deadline)) return -1;
  return accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

bool send_all(int fd, const std::string& data, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return false;
    } else if (!wait_for(fd, POLLOUT, deadline)) {
      return false;
    }
  }
  return true;
}

bool recv_to_eof(int fd, std::string* out, size_t max_bytes, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[65536];
  while (out->size() < max_bytes) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      return true;
    } else if (errno != EAGAIN && errno != EINTR) {
      return false;
    } else if (!wait_for(fd, POLLIN, deadline)) {
      return false;
    }
  }
  return true;
}

bool exchange(uint16_t port, const std::string& data, int timeout_ms, std::string* reply) {
  int fd = -1;
  if (connect_tcp(port, timeout_ms, &fd) != ConnectResult::kConnected) return false;
  const bool ok = send_all(fd, data, timeout_ms) && shutdown(fd, SHUT_WR) == 0 &&
                  recv_to_eof(fd, reply, 1 << 20, timeout_ms);
  close(fd);
  return ok;
}

bool serve_one(int listen_fd, int timeout_ms) {
  const int fd = accept_tcp(listen_fd, timeout_ms);
  if (fd < 0) return false;
  std::string got;
  const bool ok = recv_to_eof(fd, &got, size_t{1} << 30, timeout_ms) &&
                  send_all(fd, std::to_string(got.size()), timeout_ms);
  close(fd);
  return ok;
}

}  // namespace iotwall::firewall::test
