// CommandRunner: runs a tool (nft, iptables-restore, ...) without a shell,
// feeding it text on stdin and capturing what it prints. The interface
// exists so that rule installation can be tested with a recording fake.
//
// Thread-safety: SystemCommandRunner may be used from several threads; the
// child inherits the calling thread's network namespace.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace iotwall::firewall {

struct CommandResult {
  int status = -1;  // exit status; 128 + N when killed by signal N
  std::string out;  // stdout
  std::string err;  // stderr
};

// The full path of an executable, looked up as run() does; empty if none.
std::string find_executable(const std::string& name);

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // Runs argv (argv[0] looked up in PATH, then /usr/sbin, /sbin, /usr/bin,
  // /bin) with `input` on stdin. Returns false with *error when it could not
  // be started or did not finish in time; otherwise true, whatever its
  // exit status (in *result).
  virtual bool run(const std::vector<std::string>& argv, std::string_view input,
                   CommandResult* result, std::string* error) = 0;
  // Whether a tool is installed (run() would find it).
  virtual bool has(const std::string& tool) = 0;
};

class SystemCommandRunner final : public CommandRunner {
 public:
  // A command running longer than timeout_ms is killed. Output beyond 4 MiB
  // per stream is discarded.
  explicit SystemCommandRunner(int timeout_ms = 10000) : timeout_ms_(timeout_ms) {}
  bool run(const std::vector<std::string>& argv, std::string_view input, CommandResult* result,
           std::string* error) override;
  bool has(const std::string& tool) override { return !find_executable(tool).empty(); }

 private:
  int timeout_ms_;
};

}  // namespace iotwall::firewall
