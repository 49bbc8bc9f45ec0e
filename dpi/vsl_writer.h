// VslWriter: the HTTP/1.1 bytes of a VSL access as the DS2OS client library
// and a Knowledge Agent exchange them (shared/docs/VSL-WIRE.md): the
// request a service sends to its KA and the KA's response, and the
// WebSocket frames of callbacks. The inverse of the VSL decoder; the
// simulator's pcap output uses it.
//
// Encodings vary deterministically with the seed: request bodies chunked as
// the Jetty client sends them, or with a Content-Length, or CBOR; read
// responses JSON, chunked JSON or CBOR. Values are strings on the wire and
// are written exactly as the trace writes them (docs/simulator.md, "On the
// wire").
// Thread-safety: none. The Interner must outlive the writer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "model/access.h"
#include "model/intern.h"

namespace iotwall::dpi {

struct HttpExchange {
  std::string request;
  std::string response;
};

// The trace text of a value ("", "none", "true", "20.1534", "twenty").
std::string value_text(const Value& v, const Interner& in);

class VslWriter {
 public:
  VslWriter(const Interner& in, uint64_t seed);

  // Whether `op` travels as a request on the service's connection
  // (notifyCallback travels on the callback WebSocket; kUnknown and kOther
  // have no wire form).
  static bool is_request(Operation op);
  // Whether its body carries a callbackId (subscribe, lockSubtree,
  // registerVirtualNode): the service then needs its callback WebSocket.
  static bool needs_callback(Operation op);

  // The request `a`'s source sends to its KA at `host` ("10.0.0.1:8081"),
  // and the KA's answer. `callback_id` is used when needs_callback(a.op).
  // REQUIRES: is_request(a.op).
  HttpExchange exchange(const Access& a, std::string_view host, std::string_view callback_id);

  // The callback WebSocket's opening handshake (GET /callbacks, 101).
  HttpExchange callback_upgrade(std::string_view host);
  // A callback invocation from the KA: an unmasked text frame
  // {"callbackId":...,"serial":N,"address":...,"invoke":"NOTIFY"}.
  std::string callback_frame(std::string_view callback_id, uint64_t serial,
                             std::string_view address, std::string_view invoke);
  // The service's answer: a masked text frame {"callbackId":...,"serial":N}.
  std::string callback_reply(std::string_view callback_id, uint64_t serial);

  // A fresh deterministic version-4 UUID.
  std::string uuid();

 private:
  uint64_t next();
  std::string request_head(std::string_view method, std::string_view target, std::string_view host,
                           std::string_view accept);

  const Interner& in_;
  uint64_t rng_;
};

}  // namespace iotwall::dpi
