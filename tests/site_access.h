// Test helper: accesses of a small made-up site, its services written
// "id:type:room" (e.g. "light1:/lightControler:Kitchen"), all on agent1.
#pragma once

#include <string>

#include "model/access.h"
#include "model/intern.h"

namespace iotwall::testing {

struct Site {
  Interner in;
  Access access(const std::string& src, const std::string& dst, Operation op, int64_t t_ms) {
    auto part = [](const std::string& s, int i) {
      size_t b = 0;
      for (int k = 0; k < i; ++k) b = s.find(':', b) + 1;
      const size_t e = s.find(':', b);
      return s.substr(b, e == std::string::npos ? std::string::npos : e - b);
    };
    Access a;
    a.source_id = in.intern(part(src, 0));
    a.source_address = in.intern("/agent1/" + part(src, 0));
    a.source_type = in.intern(part(src, 1));
    a.source_location = in.intern(part(src, 2));
    a.dest_address = in.intern("/agent1/" + part(dst, 0));
    a.dest_type = in.intern(part(dst, 1));
    a.dest_location = in.intern(part(dst, 2));
    a.node_address = a.dest_address;
    a.op = op;
    a.time_ms = t_ms;
    return a;
  }
};

}  // namespace iotwall::testing
