#include "daemon/state_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace iotwall {

bool read_file(const std::string& path, std::string* out, std::string* error) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) {
    *error = std::strerror(errno);
    return false;
  }
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    out->append(buf, n);
    if (out->size() > (size_t{1} << 30)) {
      *error = "larger than 1 GiB: not a state file";
      return false;
    }
  }
  if (std::ferror(f.get())) {
    *error = std::strerror(errno);
    return false;
  }
  return true;
}

bool write_file(const std::string& path, const std::string& bytes, std::string* error) {
  const std::string tmp = path + ".tmp";
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(tmp.c_str(), "wb"), std::fclose);
  bool ok = f && std::fwrite(bytes.data(), 1, bytes.size(), f.get()) == bytes.size() &&
            std::fflush(f.get()) == 0 && fsync(fileno(f.get())) == 0;
  ok = f && std::fclose(f.release()) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot write " + path + ": " + std::strerror(errno);
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace iotwall
