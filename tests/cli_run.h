// Running the iotwall binary from a test, as a user would: exit status,
// stdout and stderr. IOTWALL_BIN is the binary's path (set by CMake).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

namespace iotwall::testing {

struct Run {
  int status;  // the exit status; -1 if it did not exit
  std::string out;
  std::string err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// A path in /tmp unique to this process (ctest runs cases in parallel).
inline std::string temp_path(const std::string& name) {
  return "/tmp/iotwall-cli-" + std::to_string(getpid()) + "-" + name;
}

inline Run run(const std::string& args) {
  const std::string err_path = temp_path("stderr");
  const std::string cmd = std::string(IOTWALL_BIN) + " " + args + " 2>" + err_path;
  std::FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  std::string err = slurp(err_path);
  std::remove(err_path.c_str());
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out, err};
}

}  // namespace iotwall::testing
