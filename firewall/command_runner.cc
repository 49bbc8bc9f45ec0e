#include "firewall/command_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace iotwall::firewall {
namespace {

constexpr size_t kMaxOutput = 4 << 20;

// Closes the descriptors it holds when it goes out of scope.
struct Fds {
  int fd[6] = {-1, -1, -1, -1, -1, -1};
  ~Fds() {
    for (int f : fd)
      if (f >= 0) close(f);
  }
  void close_one(int i) {
    if (fd[i] >= 0) close(fd[i]);
    fd[i] = -1;
  }
};

}  // namespace

std::string find_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  std::string dirs;
  if (const char* p = std::getenv("PATH")) dirs = p;
  dirs += ":/usr/sbin:/sbin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    if (end > start) {
      const std::string path = dirs.substr(start, end - start) + "/" + name;
      if (access(path.c_str(), X_OK) == 0) return path;
    }
    start = end + 1;
  }
  return "";
}

bool SystemCommandRunner::run(const std::vector<std::string>& argv, std::string_view input,
                              CommandResult* result, std::string* error) {
  *result = CommandResult{};
  if (argv.empty()) {
    *error = "no command";
    return false;
  }
  const std::string path = find_executable(argv[0]);
  if (path.empty()) {
    *error = argv[0] + ": command not found";
    return false;
  }
  // stdin is a socket pair so that writing to a command that exited early
  // fails with EPIPE (MSG_NOSIGNAL) instead of raising SIGPIPE.
  Fds fds;  // 0,1: stdin (ours, child's); 2,3: stdout (ours, child's); 4,5: stderr
  int sp[2], po[2], pe[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
    *error = std::string("socketpair: ") + std::strerror(errno);
    return false;
  }
  fds.fd[0] = sp[0];
  fds.fd[1] = sp[1];
  if (pipe2(po, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  fds.fd[2] = po[0];
  fds.fd[3] = po[1];
  if (pipe2(pe, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  fds.fd[4] = pe[0];
  fds.fd[5] = pe[1];

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds.fd[1], 0);
  posix_spawn_file_actions_adddup2(&fa, fds.fd[3], 1);
  posix_spawn_file_actions_adddup2(&fa, fds.fd[5], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, path.c_str(), &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    *error = path + ": cannot run: " + std::strerror(rc);
    return false;
  }
  fds.close_one(1);
  fds.close_one(3);
  fds.close_one(5);
  if (input.empty()) fds.close_one(0);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
  size_t written = 0;
  bool timed_out = false;
  int poll_errno = 0;
  char buf[16384];
  while (fds.fd[0] >= 0 || fds.fd[2] >= 0 || fds.fd[4] >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p[3] = {{fds.fd[0], POLLOUT, 0}, {fds.fd[2], POLLIN, 0}, {fds.fd[4], POLLIN, 0}};
    const int n = poll(p, 3, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) {
      poll_errno = errno;
      break;
    }
    if (n <= 0) continue;
    if (p[0].revents != 0) {
      const ssize_t w = send(fds.fd[0], input.data() + written, input.size() - written,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) written += static_cast<size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) fds.close_one(0);
    }
    for (int i = 1; i <= 2; ++i) {
      if (p[i].revents == 0) continue;
      const ssize_t r = read(p[i].fd, buf, sizeof buf);
      std::string& dst = i == 1 ? result->out : result->err;
      if (r > 0) {
        dst.append(buf,
                   std::min(static_cast<size_t>(r), kMaxOutput - std::min(kMaxOutput, dst.size())));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        fds.close_one(2 * i);
      }
    }
  }
  if (timed_out || poll_errno != 0) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (poll_errno != 0) {
    *error = argv[0] + ": poll: " + std::strerror(poll_errno);
    return false;
  }
  if (timed_out) {
    *error = argv[0] + ": did not finish within " + std::to_string(timeout_ms_) + " ms";
    return false;
  }
  result->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return true;
}

}  // namespace iotwall::firewall
