#include "dpi/stream.h"

#include <arpa/inet.h>

namespace iotwall::dpi {

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == 4) return inet_ntop(AF_INET, bytes.data(), buf, sizeof buf) ? buf : "";
  if (family == 6) return inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf) ? buf : "";
  return "";
}

std::string Endpoint::to_string() const {
  const std::string a = ip.to_string();
  return (ip.family == 6 ? "[" + a + "]" : a) + ":" + std::to_string(port);
}

}  // namespace iotwall::dpi
