// The control socket's server (one poll() thread, non-blocking clients, each
// with a deadline) and its client (one blocking call with a deadline).
#include "daemon/control_socket.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace iotwall {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Replies may be large (a site's whole graph) but not unbounded.
constexpr size_t kMaxReplyBytes = size_t{256} << 20;

// Owns a file descriptor; closes it when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

std::string errno_text(int e) { return std::strerror(e); }

bool socket_address(const std::string& path, sockaddr_un* a, std::string* error) {
  *a = {};
  a->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof a->sun_path) {
    *error = "control socket path '" + path + "' is empty or longer than " + std::to_string(sizeof a->sun_path - 1) +
             " bytes";
    return false;
  }
  std::memcpy(a->sun_path, path.data(), path.size());
  return true;
}

// One reply line. Invalid UTF-8 in strings is replaced, never thrown.
std::string json_line(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; }

json failure(const std::string& message) { return json{{"ok", false}, {"error", message}}; }

int ms_until(Clock::time_point deadline) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, 1 << 30));
}

std::optional<gid_t> lookup_group(const std::string& name) {
  std::vector<char> buf(4096);
  group g{};
  group* found = nullptr;
  for (int tries = 0; tries < 8; ++tries) {
    const int rc = getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &found);
    if (rc != ERANGE) break;
    buf.resize(buf.size() * 4);
  }
  if (found == nullptr) return std::nullopt;
  return found->gr_gid;
}

// The peer's supplementary groups as of connect(): SO_PEERGROUPS (Linux
// 4.13), else the Groups: line of /proc/PID/status.
std::vector<gid_t> peer_groups(int fd, pid_t pid) {
  std::vector<gid_t> groups(64);
  for (int tries = 0; tries < 4; ++tries) {
    socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      return groups;
    }
    if (errno != ERANGE) break;
    groups.resize(len / sizeof(gid_t) + 1);
  }
  groups.clear();
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Groups:", 0) != 0) continue;
    std::istringstream s(line.substr(7));
    unsigned long g;
    while (s >> g) groups.push_back(static_cast<gid_t>(g));
    break;
  }
  return groups;
}

// Whether a server is accepting on `path` (a live daemon) or the file is
// left over from a dead one. Sets *error when it cannot tell.
enum class Probe { kLive, kStale, kError };
Probe probe(const sockaddr_un& addr, const std::string& path, std::string* error) {
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) {
    *error = "socket: " + errno_text(errno);
    return Probe::kError;
  }
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return Probe::kLive;
  const int e = errno;
  if (e == EAGAIN || e == EINPROGRESS) return Probe::kLive;  // its backlog is full: alive and busy
  if (e == ECONNREFUSED || e == ENOENT) return Probe::kStale;
  *error = "cannot check " + path + ": " + errno_text(e);
  return Probe::kError;
}

}  // namespace

// One connected client: its request as it arrives, then its reply as it
// leaves. Everything it does must end before `deadline`.
struct ControlServer::Client {
  int fd = -1;
  Peer peer{};
  std::string in;
  std::string out;
  size_t sent = 0;
  bool replying = false;
  Clock::time_point deadline;
};

std::unique_ptr<ControlServer> ControlServer::start(const std::string& path, const std::string& group, Handler h,
                                                    std::string* error) {
  if (!h) {
    *error = "control socket: no handler";
    return nullptr;
  }
  sockaddr_un addr;
  if (!socket_address(path, &addr, error)) return nullptr;

  // The parent directory (/run/iotwall) normally comes from systemd's
  // RuntimeDirectory=; create it when run by hand.
  if (const size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      *error = "cannot create " + dir + ": " + errno_text(errno);
      return nullptr;
    }
  }
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      *error = path + " exists and is not a socket: remove it or choose another control socket path";
      return nullptr;
    }
    switch (probe(addr, path, error)) {
      case Probe::kLive:
        *error = "another iotwall is running on " + path;
        return nullptr;
      case Probe::kError:
        return nullptr;
      case Probe::kStale:
        if (unlink(path.c_str()) != 0 && errno != ENOENT) {
          *error = "cannot remove the stale socket " + path + ": " + errno_text(errno);
          return nullptr;
        }
        break;
    }
  }

  std::unique_ptr<ControlServer> s(new ControlServer);
  s->path_ = path;
  s->handler_ = std::move(h);
  Fd listen_fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  Fd wake_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (listen_fd.get() < 0 || wake_fd.get() < 0) {
    *error = "control socket: " + errno_text(errno);
    return nullptr;
  }
  if (bind(listen_fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    *error = "cannot bind " + path + ": " + errno_text(errno);
    return nullptr;
  }
  // Until the mode is set, the umask decides who may connect; the peer
  // check below applies to every connection regardless of the file mode.
  bool ok = lstat(path.c_str(), &st) == 0 && chmod(path.c_str(), 0600) == 0;
  if (ok) {
    s->dev_ = st.st_dev;
    s->ino_ = st.st_ino;
    if (!group.empty()) s->group_ = lookup_group(group);
    if (group.empty()) {
      // Root only, by choice (control.group: "").
    } else if (!s->group_) {
      std::fprintf(stderr, "iotwall: warning: group '%s' does not exist: %s is for root only (0600)\n", group.c_str(),
                   path.c_str());
    } else if (lchown(path.c_str(), static_cast<uid_t>(-1), *s->group_) != 0 || chmod(path.c_str(), 0660) != 0) {
      std::fprintf(stderr, "iotwall: warning: cannot give %s to group '%s' (%s): it stays 0600\n", path.c_str(),
                   group.c_str(), errno_text(errno).c_str());
      chmod(path.c_str(), 0600);
    }
  }
  if (!ok || listen(listen_fd.get(), static_cast<int>(kMaxClients)) != 0) {
    *error = "cannot set up " + path + ": " + errno_text(errno);
    unlink(path.c_str());
    return nullptr;
  }
  s->listen_fd_ = listen_fd.release();
  s->wake_fd_ = wake_fd.release();
  try {
    s->thread_ = std::thread([p = s.get()] { p->loop(); });
  } catch (const std::exception& e) {
    *error = std::string("cannot start the control socket thread: ") + e.what();
    return nullptr;  // the destructor closes and unlinks
  }
  return s;
}

ControlServer::~ControlServer() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    while (write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
    thread_.join();
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
  // Another daemon may have replaced the file since: remove only ours.
  struct stat st;
  if (!path_.empty() && lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    unlink(path_.c_str());
  }
}

bool ControlServer::allowed(int fd, const Peer& p) const {
  if (p.uid == 0 || p.uid == geteuid()) return true;
  if (!group_) return false;
  if (p.gid == *group_) return true;
  const std::vector<gid_t> groups = peer_groups(fd, p.pid);
  return std::find(groups.begin(), groups.end(), *group_) != groups.end();
}

void ControlServer::accept_clients(std::vector<Client>* clients) {
  while (clients->size() < kMaxClients) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;  // EAGAIN: no one else waiting; other errors: the client is gone
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      close(fd);
      continue;
    }
    Client c;
    c.fd = fd;
    c.peer = Peer{cred.uid, cred.gid, cred.pid};
    c.deadline = Clock::now() + std::chrono::milliseconds(kClientTimeoutMs);
    clients->push_back(std::move(c));
  }
}

// Produces the reply to one request line and starts sending it.
void ControlServer::answer(Client* c, std::string_view line) {
  json reply;
  if (!allowed(c->fd, c->peer)) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    reply = failure("permission denied");
  } else {
    json request = json::parse(line, nullptr, false);
    if (request.is_discarded()) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      reply = failure("malformed request: not JSON");
    } else if (!request.is_object()) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      reply = failure("malformed request: expected a JSON object such as {\"cmd\":\"status\"}");
    } else {
      served_.fetch_add(1, std::memory_order_relaxed);
      try {
        reply = handler_(request, c->peer);
        if (!reply.is_object()) reply = failure("internal error: the daemon's reply is not an object");
      } catch (const std::exception& e) {
        reply = failure(std::string("internal error: ") + e.what());
      } catch (...) {
        reply = failure("internal error");
      }
    }
  }
  c->out = json_line(reply);
  c->in.clear();
  c->replying = true;
  c->deadline = Clock::now() + std::chrono::milliseconds(kClientTimeoutMs);
}

void ControlServer::loop() {
  std::vector<Client> clients;
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    // At the bound, new clients wait in the listen backlog (a negative fd is skipped by poll).
    fds.push_back({clients.size() < kMaxClients ? listen_fd_ : -1, POLLIN, 0});
    int timeout = -1;
    for (const Client& c : clients) {
      fds.push_back({c.fd, static_cast<short>(c.replying ? POLLOUT : POLLIN), 0});
      const int ms = ms_until(c.deadline) + 1;
      timeout = timeout < 0 ? ms : std::min(timeout, ms);
    }
    if (poll(fds.data(), fds.size(), timeout) < 0) {
      if (errno != EINTR) usleep(10000);  // ENOMEM: try again shortly rather than spin
      continue;
    }
    if (fds[0].revents != 0) break;

    for (size_t i = 0; i < clients.size(); ++i) {
      Client& c = clients[i];
      const short events = fds[i + 2].revents;
      if (events != 0 && !c.replying) {
        char buf[16384];
        const ssize_t n = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
          const size_t old = c.in.size();
          c.in.append(buf, static_cast<size_t>(n));
          if (const size_t nl = c.in.find('\n', old); nl != std::string::npos && nl <= kMaxRequestBytes) {
            answer(&c, std::string_view(c.in).substr(0, nl));
          } else if (c.in.size() > kMaxRequestBytes) {
            rejected_.fetch_add(1, std::memory_order_relaxed);
            c.out = json_line(failure("request larger than " + std::to_string(kMaxRequestBytes) + " bytes"));
            c.replying = true;
            c.deadline = Clock::now() + std::chrono::milliseconds(kClientTimeoutMs);
          }
        } else if (n == 0 && !c.in.empty()) {
          answer(&c, c.in);  // the client shut down its side without a newline
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          close(c.fd);  // gone without a request (e.g. another daemon's liveness probe)
          c.fd = -1;
          continue;
        }
      }
      if (c.replying) {
        const ssize_t n = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) c.sent += static_cast<size_t>(n);
        if (c.sent == c.out.size() || (n < 0 && errno != EAGAIN && errno != EINTR)) {
          close(c.fd);
          c.fd = -1;
          continue;
        }
      }
      if (Clock::now() >= c.deadline) {
        if (!c.replying) {
          // Cut off a client that sent no request in time; tell it why if it listens.
          rejected_.fetch_add(1, std::memory_order_relaxed);
          const std::string why =
              json_line(failure("no request within " + std::to_string(kClientTimeoutMs) + " ms"));
          [[maybe_unused]] const ssize_t ignored = send(c.fd, why.data(), why.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        close(c.fd);
        c.fd = -1;
      }
    }
    std::erase_if(clients, [](const Client& c) { return c.fd < 0; });
    if (fds[1].revents != 0) accept_clients(&clients);
  }
  for (const Client& c : clients) close(c.fd);
}

bool control_call(const std::string& path, const nlohmann::json& request, nlohmann::json* reply, std::string* error,
                  int timeout_ms) {
  try {
    sockaddr_un addr;
    if (!socket_address(path, &addr, error)) return false;
    const std::string line = json_line(request);
    if (line.size() - 1 > ControlServer::kMaxRequestBytes) {
      *error = "request of " + std::to_string(line.size() - 1) + " bytes is larger than the limit of " +
               std::to_string(ControlServer::kMaxRequestBytes);
      return false;
    }
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
    const std::string timed_out = "no reply from " + path + " within " + std::to_string(timeout_ms) + " ms";
    Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd.get() < 0) {
      *error = "socket: " + errno_text(errno);
      return false;
    }
    // A unix connect() completes at once, or says EAGAIN when the
    // server's backlog is full: retry until the deadline.
    while (connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      const int e = errno;
      if (e == EINTR) continue;
      if (e == EAGAIN && Clock::now() < deadline) {
        usleep(10000);
        continue;
      }
      if (e == EAGAIN) {
        *error = path + " is busy: not accepted within " + std::to_string(timeout_ms) + " ms";
      } else if (e == EACCES || e == EPERM) {
        *error = "permission denied on " + path + " (root or group iotwall)";
      } else if (e == ENOENT || e == ECONNREFUSED) {
        *error = "cannot connect to " + path + ": " + errno_text(e) + " (is iotwall running?)";
      } else {
        *error = "cannot connect to " + path + ": " + errno_text(e);
      }
      return false;
    }

    size_t sent = 0;
    while (sent < line.size()) {
      pollfd p{fd.get(), POLLOUT, 0};
      const int r = poll(&p, 1, ms_until(deadline));
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) {
        *error = timed_out;
        return false;
      }
      const ssize_t n = send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        break;  // the daemon may have answered already (an error): read it
      }
    }

    std::string in;
    for (;;) {
      pollfd p{fd.get(), POLLIN, 0};
      const int r = poll(&p, 1, ms_until(deadline));
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) {
        *error = timed_out;
        return false;
      }
      char buf[65536];
      const ssize_t n = recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n < 0) {
        if (!in.empty()) break;
        *error = "connection to " + path + " failed: " + errno_text(errno);
        return false;
      }
      if (n == 0) break;
      in.append(buf, static_cast<size_t>(n));
      if (const size_t nl = in.find('\n', in.size() - static_cast<size_t>(n)); nl != std::string::npos) {
        in.resize(nl);
        break;
      }
      if (in.size() > kMaxReplyBytes) {
        *error = "reply from " + path + " is larger than " + std::to_string(kMaxReplyBytes >> 20) + " MiB";
        return false;
      }
    }
    if (in.empty()) {
      *error = path + " closed the connection without a reply";
      return false;
    }
    json j = json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      *error = "malformed reply from " + path + ": " + in.substr(0, 200);
      return false;
    }
    *reply = std::move(j);
    return true;
  } catch (const std::exception& e) {
    *error = std::string("control call failed: ") + e.what();
    return false;
  }
}

}  // namespace iotwall
