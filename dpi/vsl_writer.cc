#include "dpi/vsl_writer.h"

#include <openssl/evp.h>

#include <charconv>
#include <cstdio>
#include <vector>

#include <nlohmann/json.hpp>

namespace iotwall::dpi {
namespace {

using Json = nlohmann::ordered_json;  // keeps the client's key order

enum class Body { kChunked, kLength, kCbor };

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return h;
}

std::string hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string base64(const uint8_t* p, size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p,
                                  static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

// Appends the content headers, the blank line and the body of `j`.
void append_body(std::string* msg, Body b, const Json& j, bool split) {
  if (b == Body::kCbor) {
    const std::vector<uint8_t> cbor = Json::to_cbor(j);
    *msg += "Content-Type: application/cbor\r\nContent-Length: " + std::to_string(cbor.size()) +
            "\r\n\r\n";
    msg->append(cbor.begin(), cbor.end());
    return;
  }
  const std::string text = j.dump();
  if (b == Body::kLength) {
    *msg += "Content-Type: application/json; UTF-8\r\nContent-Length: " +
            std::to_string(text.size()) + "\r\n\r\n" + text;
    return;
  }
  *msg += "Content-Type: application/json; UTF-8\r\nTransfer-Encoding: chunked\r\n\r\n";
  auto chunk = [msg](std::string_view c) {
    char len[24];
    std::snprintf(len, sizeof len, "%zx\r\n", c.size());
    *msg += len;
    msg->append(c);
    *msg += "\r\n";
  };
  const size_t cut = split && text.size() > 16 ? text.size() / 2 : text.size();
  if (cut > 0) chunk(std::string_view(text).substr(0, cut));
  if (cut < text.size()) chunk(std::string_view(text).substr(cut));
  *msg += "0\r\n\r\n";
}

const char* kNoContent = "HTTP/1.1 204 No Content\r\nServer: Jetty(9.2.z-SNAPSHOT)\r\n\r\n";

std::string ws_frame(std::string_view payload, const uint8_t* mask) {
  std::string f;
  f.push_back(static_cast<char>(0x81));  // FIN, text
  const uint8_t m = mask != nullptr ? 0x80 : 0;
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(m | payload.size()));
  } else if (payload.size() < 65536) {
    f.push_back(static_cast<char>(m | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    f.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>(payload.size() >> (8 * i)));
  }
  if (mask == nullptr) return f + std::string(payload);
  f.append(reinterpret_cast<const char*>(mask), 4);
  for (size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return f;
}

}  // namespace

std::string value_text(const Value& v, const Interner& in) {
  switch (v.kind) {
    case Value::Kind::kEmpty:
      return "";
    case Value::Kind::kNone:
      return "none";
    case Value::Kind::kBool:
      return v.boolean ? "true" : "false";
    case Value::Kind::kNumber: {
      char buf[64];
      auto res = std::to_chars(buf, buf + sizeof buf, v.number);
      return std::string(buf, res.ptr);
    }
    case Value::Kind::kText:
      return std::string(in.str(v.text));
  }
  return "";
}

VslWriter::VslWriter(const Interner& in, uint64_t seed) : in_(in), rng_(seed) {}

uint64_t VslWriter::next() {
  uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::string VslWriter::uuid() {
  const uint64_t a = next(), b = next();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08llx-%04llx-4%03llx-%04llx-%012llx",
                static_cast<unsigned long long>(a >> 32),
                static_cast<unsigned long long>((a >> 16) & 0xffff),
                static_cast<unsigned long long>(a & 0xfff),
                static_cast<unsigned long long>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffull));
  return buf;
}

bool VslWriter::is_request(Operation op) {
  return op != Operation::kNotifyCallback && op != Operation::kUnknown && op != Operation::kOther;
}

bool VslWriter::needs_callback(Operation op) {
  return op == Operation::kSubscribe || op == Operation::kLockSubtree ||
         op == Operation::kRegisterVirtualNode;
}

std::string VslWriter::request_head(std::string_view method, std::string_view target,
                                    std::string_view host, std::string_view accept) {
  std::string h;
  h.reserve(256);
  h.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  h += "Accept-Encoding: gzip\r\nUser-Agent: Jetty/9.2.z-SNAPSHOT\r\nAccept: ";
  h.append(accept).append("\r\nHost: ").append(host).append("\r\n");
  return h;
}

HttpExchange VslWriter::exchange(const Access& a, std::string_view host,
                                 std::string_view callback_id) {
  HttpExchange x;
  const std::string node(in_.str(a.node_address));
  const uint64_t r = next();
  // Request bodies: half chunked (the Jetty client), a quarter Content-Length, a quarter CBOR.
  const Body req_body = (r & 3) < 2 ? Body::kChunked : (r & 3) == 2 ? Body::kLength : Body::kCbor;
  const bool split = ((r >> 2) & 3) == 0;
  const uint64_t resp_pick = (r >> 4) & 3;

  switch (a.op) {
    case Operation::kRead: {
      const bool cbor = resp_pick == 3;
      std::string target = "/vsl" + node;
      if (((r >> 6) & 3) == 0) target += "?depth=0&scope=VALUE";
      x.request = request_head("GET", target, host, cbor ? "application/cbor" : "application/json");
      x.request += "\r\n";
      if (a.value.kind == Value::Kind::kEmpty && a.node_type.empty()) {
        // A node the KA does not know (the scans' made-up services).
        const std::string body = Json{{"code", 404},
                                      {"message", "Node " + node + " does not exist"},
                                      {"type", "NodeNotExistingException"}}
                                     .dump();
        x.response = "HTTP/1.1 404 Not Found\r\nServer: Jetty(9.2.z-SNAPSHOT)\r\n"
                     "Content-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body;
        break;
      }
      Json n = Json::object();
      if (a.value.kind != Value::Kind::kNone) n["value"] = value_text(a.value, in_);
      if (!a.node_type.empty()) n["types"] = Json::array({std::string(in_.str(a.node_type))});
      n["timestamp"] = a.time_ms - static_cast<int64_t>((r >> 8) % 60000);
      n["version"] = (r >> 24) % 500;
      x.response = "HTTP/1.1 200 OK\r\nServer: Jetty(9.2.z-SNAPSHOT)\r\n";
      append_body(&x.response, cbor ? Body::kCbor : resp_pick == 2 ? Body::kChunked : Body::kLength,
                  n, false);
      break;
    }
    case Operation::kWrite: {
      x.request = request_head("PUT", "/vsl" + node, host, "application/json");
      append_body(&x.request, req_body, Json{{"value", value_text(a.value, in_)}}, split);
      x.response = kNoContent;
      break;
    }
    case Operation::kRegisterService: {
      x.request = request_head("POST", "/service/register", host, "application/json");
      const std::string type(in_.str(a.source_type));
      append_body(&x.request, req_body,
                  Json{{"modelId", type},
                       {"modelHash", hex16(fnv1a(type))},
                       {"binaryHash", hex16(fnv1a(type + "/binary"))}},
                  split);
      const std::string_view addr =
          in_.str(a.source_address.empty() ? a.dest_address : a.source_address);
      const std::string body = Json(addr).dump();
      x.response = "HTTP/1.1 200 OK\r\nServer: Jetty(9.2.z-SNAPSHOT)\r\n"
                   "Content-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body;
      break;
    }
    case Operation::kUnregisterService: {
      x.request = request_head("POST", "/service/unregister", host, "application/json");
      x.request += "Content-Type: application/json; UTF-8\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
      x.response = kNoContent;
      break;
    }
    default: {
      const char* name = "";
      switch (a.op) {
        case Operation::kSubscribe: name = "SUBSCRIBE"; break;
        case Operation::kUnsubscribe: name = "UNSUBSCRIBE"; break;
        case Operation::kLockSubtree: name = "LOCK_SUBTREE"; break;
        case Operation::kCommitSubtree: name = "COMMIT_SUBTREE"; break;
        case Operation::kRollbackSubtree: name = "ROLLBACK_SUBTREE"; break;
        case Operation::kRegisterVirtualNode: name = "REGISTER_VIRTUAL_NODE"; break;
        case Operation::kUnregisterVirtualNode: name = "UNREGISTER_VIRTUAL_NODE"; break;
        default: name = "NOTIFY"; break;  // not reached: is_request() was checked
      }
      Json body{{"operation", name}};
      if (needs_callback(a.op)) body["callbackId"] = std::string(callback_id);
      x.request = request_head("POST", "/vsl" + node, host, "application/json");
      append_body(&x.request, req_body, body, split);
      x.response = kNoContent;
      break;
    }
  }
  return x;
}

HttpExchange VslWriter::callback_upgrade(std::string_view host) {
  uint8_t raw[16];
  for (int i = 0; i < 2; ++i) {
    const uint64_t v = next();
    for (int j = 0; j < 8; ++j) raw[8 * i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
  const std::string key = base64(raw, sizeof raw);
  const std::string magic = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char sha[EVP_MAX_MD_SIZE];
  unsigned int sha_len = 0;
  EVP_Digest(magic.data(), magic.size(), sha, &sha_len, EVP_sha1(), nullptr);
  HttpExchange x;
  x.request = "GET /callbacks HTTP/1.1\r\nUser-Agent: Jetty/9.2.z-SNAPSHOT\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\nHost: " +
              std::string(host) + "\r\nSec-WebSocket-Key: " + key +
              "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v1.vsl.ds2os.org\r\n\r\n";
  x.response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: " +
               base64(sha, sha_len) + "\r\nSec-WebSocket-Protocol: v1.vsl.ds2os.org\r\n\r\n";
  return x;
}

std::string VslWriter::callback_frame(std::string_view callback_id, uint64_t serial,
                                      std::string_view address, std::string_view invoke) {
  const Json j{{"callbackId", callback_id},
               {"serial", serial},
               {"address", address},
               {"invoke", invoke}};
  return ws_frame(j.dump(), nullptr);
}

std::string VslWriter::callback_reply(std::string_view callback_id, uint64_t serial) {
  const uint64_t m = next();
  const uint8_t mask[4] = {static_cast<uint8_t>(m), static_cast<uint8_t>(m >> 8),
                           static_cast<uint8_t>(m >> 16), static_cast<uint8_t>(m >> 24)};
  return ws_frame(Json{{"callbackId", callback_id}, {"serial", serial}}.dump(), mask);
}

}  // namespace iotwall::dpi
