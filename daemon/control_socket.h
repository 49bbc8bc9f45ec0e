// The control socket: how `iotwall pending/approve/deny/status/graph` talk
// to the running daemon. A unix stream socket; the client sends ONE JSON
// object on one line (at most 64 KiB), the server answers ONE JSON object on
// one line and closes (docs/control.md). This file holds the transport and
// the permission check; the daemon's handler produces the replies.
//
// Thread-safety: ControlServer runs one thread of its own that accepts,
// reads, checks and answers; the handler is called from that thread only
// (one request at a time). served()/rejected() may be read from any thread.
// control_call() is a plain blocking function, safe from any thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace iotwall {

// Who is on the other end of a control connection (SO_PEERCRED, taken by
// the kernel at connect time: a client cannot lie about it).
struct Peer {
  uid_t uid;
  gid_t gid;
  pid_t pid;
};

class ControlServer {
 public:
  // Produces the reply to one request (a JSON object). Called on the
  // server thread; exceptions it throws become {"ok":false,"error":...}.
  using Handler = std::function<nlohmann::json(const nlohmann::json& request, const Peer& peer)>;

  // Longest request line accepted, without its newline.
  static constexpr size_t kMaxRequestBytes = 64 * 1024;
  // A client must send its request (and then take its reply) within this.
  static constexpr int kClientTimeoutMs = 2000;
  // Clients served at the same time; more wait in the listen backlog.
  static constexpr size_t kMaxClients = 16;

  // Binds `path` and starts the server thread. A stale socket file (no
  // daemon behind it) is replaced; a live one is an error "another iotwall
  // is running on PATH"; any other file there is an error too. A missing
  // parent directory is created (0755). The socket file gets mode 0660 and
  // group `group`; when that group does not exist, a warning goes to stderr
  // and the file stays 0600 (root only). An empty `group`: 0600, no warning.
  // Allowed peers: uid 0, the daemon's own uid, and members of `group`
  // (primary or supplementary gid of the connecting process). Others get
  // {"ok":false,"error":"permission denied"}.
  // Returns nullptr and sets *error on failure. Never throws.
  static std::unique_ptr<ControlServer> start(const std::string& path, const std::string& group, Handler h,
                                              std::string* error);

  // Stops the thread (within 100 ms unless the handler is busy) and removes
  // the socket file if it is still the one this server bound.
  ~ControlServer();

  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Requests answered by the handler.
  uint64_t served() const { return served_.load(std::memory_order_relaxed); }
  // Requests refused: permission denied, malformed or oversize request,
  // no request within the timeout, peer credentials unreadable.
  uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }

 private:
  struct Client;
  ControlServer() = default;
  void loop();
  bool allowed(int fd, const Peer& p) const;
  void accept_clients(std::vector<Client>* clients);
  void answer(Client* c, std::string_view line);

  std::string path_;
  Handler handler_;
  std::optional<gid_t> group_;  // the allowed group, when it exists
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: the destructor wakes the thread's poll()
  dev_t dev_ = 0;     // the socket file we bound, to unlink only ours
  ino_t ino_ = 0;
  std::thread thread_;
  std::atomic<uint64_t> served_{0};
  std::atomic<uint64_t> rejected_{0};
};

// Sends one request and waits for the reply (at most timeout_ms in all).
// Returns true with *reply set to the daemon's JSON object, whatever its
// "ok" says. On failure returns false and sets *error, e.g.
// "cannot connect to /run/iotwall/control.sock: No such file or directory
// (is iotwall running?)" or "permission denied on ... (root or group iotwall)".
// Never throws.
bool control_call(const std::string& path, const nlohmann::json& request, nlohmann::json* reply,
                  std::string* error, int timeout_ms = 5000);

}  // namespace iotwall
