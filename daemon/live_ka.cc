// KaServer: one epoll loop over the listening sockets, an eventfd for
// stop(), and the client connections, each with its own http-parser.
#include "daemon/live_ka.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "dpi/vsl_writer.h"
#include "model/intern.h"
#include "model/trace_reader.h"

namespace iotwall::live {
namespace {

using Json = nlohmann::ordered_json;  // keeps the KA's key order

constexpr size_t kReadChunk = 64 * 1024;
constexpr int kReadsPerEvent = 4;       // then other sockets get a turn
constexpr size_t kMaxOutput = 1 << 20;  // unsent responses: reading pauses above
constexpr size_t kAcceptsPerEvent = 64;
constexpr int64_t kAcceptPauseMs = 100;  // after EMFILE / ENFILE
constexpr const char* kServer = "Server: iotwall-serve-ka\r\n";

int64_t monotonic_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int64_t wall_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// "ip:port" or "[v6]:port" -> a socket address. False for anything else.
bool parse_endpoint(std::string_view s, sockaddr_storage* out, socklen_t* len) {
  std::string host;
  std::string_view port;
  if (s.starts_with('[')) {
    const size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return false;
    host = std::string(s.substr(1, close - 1));
    port = s.substr(close + 2);
  } else {
    const size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = std::string(s.substr(0, colon));
    port = s.substr(colon + 1);
  }
  unsigned p = 0;
  const auto res = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || res.ec != std::errc() || res.ptr != port.data() + port.size() || p > 65535)
    return false;
  *out = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(p));
    *len = sizeof(sockaddr_in);
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(p));
    *len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

std::optional<dpi::IpAddress> ip_of(const sockaddr_storage& sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(sa).sin_addr, buf, sizeof buf);
  } else if (sa.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(sa).sin6_addr, buf, sizeof buf);
  } else {
    return std::nullopt;
  }
  return dpi::parse_ip(buf);
}

uint16_t port_of(const sockaddr_storage& sa) {
  if (sa.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(sa).sin_port);
  if (sa.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(sa).sin6_port);
  return 0;
}

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

// A VSL error body, as the KA writes them.
std::string error_body(int code, std::string_view message, std::string_view type) {
  return Json{{"code", code}, {"message", message}, {"type", type}}.dump();
}

// The operations a POST /vsl<node> may name (VslWriter's, plus NOTIFY).
bool known_operation(std::string_view op) {
  static constexpr std::string_view kOps[] = {"SUBSCRIBE",
                                              "UNSUBSCRIBE",
                                              "LOCK_SUBTREE",
                                              "COMMIT_SUBTREE",
                                              "ROLLBACK_SUBTREE",
                                              "REGISTER_VIRTUAL_NODE",
                                              "UNREGISTER_VIRTUAL_NODE",
                                              "NOTIFY"};
  return std::find(std::begin(kOps), std::end(kOps), op) != std::end(kOps);
}

enum class Kind : uint8_t { kWake, kListener, kConn };

struct Socket {
  Kind kind;
  int fd = -1;
  explicit Socket(Kind k) : kind(k) {}
};

struct Listener : Socket {
  Listener() : Socket(Kind::kListener) {}
  uint16_t port = 0;
};

// One client connection and the request being parsed on it.
struct Conn : Socket {
  Conn() : Socket(Kind::kConn) {}
  http_parser parser{};
  std::optional<dpi::IpAddress> peer;
  uint16_t local_port = 0;
  bool closed = false;
  bool close_after = false;  // close once `out` is sent
  bool reading = true;       // EPOLLIN wanted
  uint32_t events = 0;       // as registered with epoll
  std::string out;
  size_t out_off = 0;
  // The request being parsed.
  std::string url, field, value, content_type, accept, body;
  bool in_value = false;
  bool complete = false;  // a whole request is parsed (the parser is paused)
  size_t head_bytes = 0;
  size_t max_head = 0, max_body = 0;
  int fatal = 0;  // a status that ends the connection (400, 413, 431)
};

// http-parser callbacks: they collect the request into its Conn and pause
// the parser when it is complete or over a bound; KaServer::Impl::feed()
// acts on it.
Conn* self(http_parser* p) { return static_cast<Conn*>(p->data); }

int stop_with(http_parser* p, int status) {
  self(p)->fatal = status;
  http_parser_pause(p, 1);
  return 0;
}

int cb_begin(http_parser* p) {
  Conn* k = self(p);
  k->url.clear();
  k->field.clear();
  k->value.clear();
  k->content_type.clear();
  k->accept.clear();
  k->body.clear();
  k->in_value = false;
  k->head_bytes = 0;
  return 0;
}

int head(http_parser* p, std::string* to, const char* at, size_t n) {
  Conn* k = self(p);
  k->head_bytes += n;
  if (k->head_bytes > k->max_head) return stop_with(p, 431);
  to->append(at, n);
  return 0;
}

void end_header(Conn* k) {
  if (iequal(k->field, "content-type")) k->content_type = k->value;
  if (iequal(k->field, "accept")) k->accept = k->value;
  k->field.clear();
  k->value.clear();
  k->in_value = false;
}

int cb_url(http_parser* p, const char* at, size_t n) { return head(p, &self(p)->url, at, n); }

int cb_field(http_parser* p, const char* at, size_t n) {
  Conn* k = self(p);
  if (k->in_value) end_header(k);
  return head(p, &k->field, at, n);
}

int cb_value(http_parser* p, const char* at, size_t n) {
  Conn* k = self(p);
  k->in_value = true;
  return head(p, &k->value, at, n);
}

int cb_headers_complete(http_parser* p) {
  Conn* k = self(p);
  if (k->in_value) end_header(k);
  if (p->content_length != ULLONG_MAX && p->content_length > k->max_body) {
    stop_with(p, 413);
  }
  return 0;
}

int cb_body(http_parser* p, const char* at, size_t n) {
  Conn* k = self(p);
  if (k->body.size() + n > k->max_body) return stop_with(p, 413);
  k->body.append(at, n);
  return 0;
}

int cb_message_complete(http_parser* p) {
  self(p)->complete = true;
  http_parser_pause(p, 1);
  return 0;
}

const http_parser_settings kSettings = [] {
  http_parser_settings s{};
  s.on_message_begin = cb_begin;
  s.on_url = cb_url;
  s.on_header_field = cb_field;
  s.on_header_value = cb_value;
  s.on_headers_complete = cb_headers_complete;
  s.on_body = cb_body;
  s.on_message_complete = cb_message_complete;
  return s;
}();

struct Node {
  std::string value = "0";
  std::string type;
  uint64_t version = 0;
};

}  // namespace

struct KaServer::Impl {
  KaServerOptions opt;
  int ep = -1;
  int wake = -1;  // eventfd written by stop()
  Socket wake_socket{Kind::kWake};
  std::atomic<bool> stopping{false};
  std::vector<std::unique_ptr<Listener>> listeners;
  std::unordered_map<int, std::unique_ptr<Conn>> conns;
  std::vector<std::unique_ptr<Conn>> dead;  // closed in this batch of events
  int64_t accept_resume_ms = 0;             // > 0: listeners paused until then
  KaCounters c;

  std::unordered_map<std::string, Node> nodes;
  bool strict_nodes = false;  // a trace was preloaded: unknown nodes answer 404
  std::vector<dpi::SiteService> services;
  std::map<std::string, int> register_seq;  // fallback names per "/agentN/type"

  ~Impl() {
    for (auto& [fd, conn] : conns) ::close(fd);
    for (auto& l : listeners) {
      if (l->fd >= 0) ::close(l->fd);
    }
    if (wake >= 0) ::close(wake);
    if (ep >= 0) ::close(ep);
  }

  // --- epoll bookkeeping
  void set_events(Conn* k, uint32_t ev) {
    if (k->events == ev) return;
    epoll_event e{};
    e.events = ev;
    e.data.ptr = k;
    epoll_ctl(ep, EPOLL_CTL_MOD, k->fd, &e);
    k->events = ev;
  }

  void close_conn(Conn* k) {
    if (k->closed) return;
    k->closed = true;
    epoll_ctl(ep, EPOLL_CTL_DEL, k->fd, nullptr);
    ::close(k->fd);
    auto it = conns.find(k->fd);
    if (it != conns.end()) {
      dead.push_back(std::move(it->second));
      conns.erase(it);
    }
  }

  void pause_listeners(bool pause) {
    for (auto& l : listeners) {
      epoll_event e{};
      e.events = pause ? 0u : uint32_t{EPOLLIN};
      e.data.ptr = l.get();
      epoll_ctl(ep, EPOLL_CTL_MOD, l->fd, &e);
    }
  }

  // --- responses
  void respond(Conn* k, int status, std::string_view content_type, std::string_view body,
               bool close = false) {
    std::string& o = k->out;
    o += "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
    o += kServer;
    if (close || k->close_after) o += "Connection: close\r\n";
    if (status != 204) {
      if (!content_type.empty()) o.append("Content-Type: ").append(content_type).append("\r\n");
      o += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    o += "\r\n";
    if (status != 204) o.append(body);
    ++c.requests;
    if (status < 300) {
      ++c.status_2xx;
    } else if (status < 500) {
      ++c.status_4xx;
    } else {
      ++c.status_5xx;
    }
    if (close) k->close_after = true;
  }

  void respond_error(Conn* k, int status, std::string_view message, std::string_view type,
                     bool close = false) {
    respond(k, status, "application/json", error_body(status, message, type), close);
  }

  // The body of a PUT/POST as JSON (or CBOR by its content type); a
  // discarded value when it is neither.
  Json body_json(const Conn* k) const {
    if (k->content_type.find("cbor") != std::string::npos) {
      return Json::from_cbor(k->body, true, false);
    }
    return Json::parse(k->body, nullptr, false);
  }

  void on_read(Conn* k, const std::string& node) {
    ++c.reads;
    auto it = nodes.find(node);
    if (it == nodes.end() && strict_nodes) {
      ++c.not_found;
      respond_error(k, 404, "Node " + node + " does not exist", "NodeNotExistingException");
      return;
    }
    static const Node kDefault;
    const Node& n = it != nodes.end() ? it->second : kDefault;
    Json j = Json::object();
    if (n.value != "none") j["value"] = n.value;  // a none value: a node without value
    if (!n.type.empty()) j["types"] = Json::array({n.type});
    j["timestamp"] = wall_ms();
    j["version"] = n.version;
    if (k->accept.find("cbor") != std::string::npos) {
      const std::vector<uint8_t> cbor = Json::to_cbor(j);
      respond(k, 200, "application/cbor",
              std::string_view(reinterpret_cast<const char*>(cbor.data()), cbor.size()));
    } else {
      respond(k, 200, "application/json", j.dump());
    }
  }

  void on_write(Conn* k, const std::string& node) {
    ++c.writes;
    const Json j = body_json(k);
    if (!j.is_object() || !j.contains("value")) {
      ++c.bad_requests;
      respond_error(k, 400, "expected a node with a value", "InvalidValueException");
      return;
    }
    const Json& v = j["value"];
    std::string text = v.is_string() ? v.get<std::string>() : v.dump();
    auto it = nodes.find(node);
    if (it == nodes.end()) {
      if (nodes.size() >= opt.max_values) {
        ++c.values_dropped;  // answered, not kept: the bound of the store
        respond(k, 204, "", "");
        return;
      }
      it = nodes.emplace(node, Node{}).first;
    }
    it->second.value = std::move(text);
    ++it->second.version;
    respond(k, 204, "", "");
  }

  void on_operation(Conn* k) {
    ++c.operations;
    const Json j = body_json(k);
    if (!j.is_object() || !j.contains("operation") || !j["operation"].is_string() ||
        !known_operation(j["operation"].get<std::string>())) {
      ++c.bad_requests;
      respond_error(k, 400, "expected an operation", "InvalidOperationException");
      return;
    }
    respond(k, 204, "", "");
  }

  // The client's address: the site map's service at the client's ip, else
  // /agent<port - 8080>/<modelId's last part><n>.
  void on_register(Conn* k) {
    ++c.registrations;
    const Json j = body_json(k);
    if (!j.is_object() || !j.contains("modelId") || !j["modelId"].is_string()) {
      ++c.bad_requests;
      respond_error(k, 400, "expected a modelId", "InvalidManifestException");
      return;
    }
    std::string address;
    for (const dpi::SiteService& s : services) {
      if (!s.knowledge_agent && s.ip && k->peer && *s.ip == *k->peer && !s.address.empty()) {
        address = s.address;
        break;
      }
    }
    if (address.empty()) {
      const int agent =
          k->local_port > 8080 && k->local_port < 8080 + 10000 ? k->local_port - 8080 : 1;
      std::string model = j["modelId"].get<std::string>();
      model = model.substr(model.rfind('/') + 1);
      std::string name;
      for (char ch : model) {
        if (std::isalnum(static_cast<unsigned char>(ch)))
          name.push_back(static_cast<char>(std::tolower(ch)));
      }
      if (name.empty()) name = "service";
      const std::string prefix = "/agent" + std::to_string(agent) + "/" + name;
      address = prefix + std::to_string(++register_seq[prefix]);
    }
    respond(k, 200, "application/json", Json(address).dump());
  }

  // A complete request: dispatch on method and path.
  void on_request(Conn* k) {
    const unsigned method = k->parser.method;
    if (method == HTTP_GET) {
      ++c.get;
    } else if (method == HTTP_PUT) {
      ++c.put;
    } else if (method == HTTP_POST) {
      ++c.post;
    } else {
      ++c.other_method;
    }
    std::string_view path(k->url);
    path = path.substr(0, path.find('?'));
    if (k->parser.upgrade) {
      ++c.upgrades_refused;
      respond_error(k, 501, "callbacks are not served by this test KA", "NotImplementedException");
      return;
    }
    if (path.starts_with("/vsl/")) {
      const std::string node(path.substr(4));
      if (method == HTTP_GET) return on_read(k, node);
      if (method == HTTP_PUT) return on_write(k, node);
      if (method == HTTP_POST) return on_operation(k);
    } else if (path == "/service/register" && method == HTTP_POST) {
      return on_register(k);
    } else if (path == "/service/unregister" && method == HTTP_POST) {
      ++c.unregistrations;
      return respond(k, 204, "", "");
    } else {
      ++c.not_found;
      return respond_error(k, 404, "no such resource", "NotFoundException");
    }
    respond_error(k, 405, "method not allowed", "MethodNotAllowedException");
  }

  // --- I/O
  // Parses what arrived and answers each complete request, in order
  // (pipelining); stops at a fatal error or a request that closes.
  void feed(Conn* k, const char* data, size_t n) {
    size_t off = 0;
    while (off < n && !k->closed && !k->close_after && k->fatal == 0) {
      const size_t used = http_parser_execute(&k->parser, &kSettings, data + off, n - off);
      off += used;
      const http_errno err = HTTP_PARSER_ERRNO(&k->parser);
      if (err == HPE_PAUSED) {
        http_parser_pause(&k->parser, 0);
      } else if (err != HPE_OK) {
        k->fatal = 400;
        break;
      }
      if (k->fatal != 0) break;
      if (k->complete) {
        k->complete = false;
        k->close_after = !http_should_keep_alive(&k->parser);  // HTTP/1.0, Connection: close
        on_request(k);
        if (k->parser.upgrade) {
          // Refused (501): the client goes on speaking HTTP.
          http_parser_init(&k->parser, HTTP_REQUEST);
          k->parser.data = k;
        }
        continue;
      }
      if (used == 0) break;  // no progress without an error: never spin
    }
    if (k->fatal != 0 && !k->close_after) {
      if (k->fatal == 400) {
        ++c.bad_requests;
        respond_error(k, 400, "malformed HTTP request", "BadRequestException", true);
      } else {
        ++c.too_large;
        respond_error(k, k->fatal, k->fatal == 413 ? "body too large" : "request head too large",
                      "RequestTooLargeException", true);
      }
    }
  }

  void flush(Conn* k) {
    while (k->out_off < k->out.size()) {
      const ssize_t n =
          ::send(k->fd, k->out.data() + k->out_off, k->out.size() - k->out_off, MSG_NOSIGNAL);
      if (n > 0) {
        k->out_off += static_cast<size_t>(n);
        c.bytes_out += static_cast<uint64_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      close_conn(k);  // EPIPE, ECONNRESET: the client is gone
      return;
    }
    if (k->out_off == k->out.size()) {
      k->out.clear();
      k->out_off = 0;
      if (k->close_after) {
        close_conn(k);
        return;
      }
    }
    const size_t pending = k->out.size() - k->out_off;
    k->reading = !k->close_after && pending <= kMaxOutput;
    set_events(k, (k->reading ? uint32_t{EPOLLIN} : 0u) | (pending > 0 ? uint32_t{EPOLLOUT} : 0u));
  }

  void on_readable(Conn* k) {
    char buf[kReadChunk];
    for (int i = 0; i < kReadsPerEvent && k->reading && !k->closed; ++i) {
      const ssize_t n = ::recv(k->fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.bytes_in += static_cast<uint64_t>(n);
        feed(k, buf, static_cast<size_t>(n));
        if (k->close_after || k->out.size() - k->out_off > kMaxOutput) break;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n == 0 && k->out.size() > k->out_off) {
        k->close_after = true;  // half-closed: send what is answered, then close
        break;
      }
      close_conn(k);
      return;
    }
    if (!k->closed) flush(k);
  }

  void on_accept(Listener* l) {
    for (size_t i = 0; i < kAcceptsPerEvent; ++i) {
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      const int fd =
          accept4(l->fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        ++c.accept_errors;  // EMFILE, ENFILE, ENOBUFS: let connections drain
        accept_resume_ms = monotonic_ms() + kAcceptPauseMs;
        pause_listeners(true);
        return;
      }
      if (conns.size() >= opt.max_connections) {
        ++c.connections_refused;
        static constexpr std::string_view k503 =
            "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        [[maybe_unused]] const ssize_t n = ::send(fd, k503.data(), k503.size(), MSG_NOSIGNAL);
        ::close(fd);
        continue;
      }
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto k = std::make_unique<Conn>();
      k->fd = fd;
      k->peer = ip_of(peer);
      k->local_port = l->port;
      k->max_head = opt.max_header_bytes;
      k->max_body = opt.max_body_bytes;
      http_parser_init(&k->parser, HTTP_REQUEST);
      k->parser.data = k.get();
      epoll_event e{};
      e.events = EPOLLIN;
      e.data.ptr = k.get();
      if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0) {
        ::close(fd);
        ++c.accept_errors;
        continue;
      }
      k->events = EPOLLIN;
      ++c.connections;
      conns.emplace(fd, std::move(k));
    }
  }
};

std::string KaServer::validate(const KaServerOptions& o) {
  if (o.listen.empty()) return "no address to listen on";
  for (const std::string& l : o.listen) {
    sockaddr_storage sa;
    socklen_t len;
    if (!parse_endpoint(l, &sa, &len)) return "not an address:port: '" + l + "'";
  }
  if (o.max_connections < 1 || o.max_connections > 1000000)
    return "max_connections must be 1..1000000";
  if (o.max_values < 1 || o.max_values > 100000000) return "max_values must be 1..100000000";
  if (o.max_header_bytes < 256) return "max_header_bytes must be at least 256";
  if (o.max_body_bytes < 16) return "max_body_bytes must be at least 16";
  return "";
}

KaServer::KaServer(const KaServerOptions& o) : impl_(std::make_unique<Impl>()) { impl_->opt = o; }

KaServer::~KaServer() = default;

void KaServer::set_site_map(const dpi::SiteMap& m) {
  Impl& s = *impl_;
  s.services = m.services;
  for (const dpi::SiteService& svc : m.services) {
    if (svc.knowledge_agent || svc.address.empty() || svc.type.empty()) continue;
    if (s.nodes.size() >= s.opt.max_values && !s.nodes.contains(svc.address)) continue;
    s.nodes[svc.address].type = svc.type;
  }
}

bool KaServer::preload_trace(const std::string& path, std::string* error) {
  Impl& s = *impl_;
  Interner in;
  std::unique_ptr<TraceReader> r = TraceReader::open(path, in, error);
  if (!r) return false;
  TraceRecord rec;
  // A node is known when the trace gives it a type or a value (as the
  // simulator's KA: a node with neither answers 404).
  auto learn = [&](Sym address, Sym type, const Value* v) {
    if (address.empty() || (type.empty() && (v == nullptr || v->kind == Value::Kind::kEmpty)))
      return;
    const std::string key(in.str(address));
    auto it = s.nodes.find(key);
    if (it == s.nodes.end()) {
      if (s.nodes.size() >= s.opt.max_values) return;
      it = s.nodes.emplace(key, Node{}).first;
      if (v != nullptr && v->kind != Value::Kind::kEmpty)
        it->second.value = dpi::value_text(*v, in);
    }
    if (it->second.type.empty() && !type.empty()) it->second.type = std::string(in.str(type));
  };
  while (r->next(&rec)) {
    const Access& a = rec.access;
    // Not the destination: scans name made-up services (with a type).
    learn(a.node_address, a.node_type, &a.value);
    learn(a.source_address, a.source_type, nullptr);
  }
  if (!r->io_error().empty()) {
    *error = path + ": " + r->io_error();
    return false;
  }
  s.strict_nodes = true;
  return true;
}

bool KaServer::start(std::string* error) {
  Impl& s = *impl_;
  s.ep = epoll_create1(EPOLL_CLOEXEC);
  s.wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s.ep < 0 || s.wake < 0) {
    *error = std::string("epoll/eventfd: ") + std::strerror(errno);
    return false;
  }
  s.wake_socket.fd = s.wake;
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.ptr = &s.wake_socket;
  epoll_ctl(s.ep, EPOLL_CTL_ADD, s.wake, &e);
  for (const std::string& where : s.opt.listen) {
    sockaddr_storage sa{};
    socklen_t len = 0;
    if (!parse_endpoint(where, &sa, &len)) {
      *error = "not an address:port: '" + where + "'";
      return false;
    }
    auto l = std::make_unique<Listener>();
    l->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    if (l->fd < 0 || setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(l->fd, reinterpret_cast<const sockaddr*>(&sa), len) != 0 || listen(l->fd, 1024) != 0) {
      *error = where + ": " + std::strerror(errno);
      if (l->fd >= 0) ::close(l->fd);
      return false;
    }
    sockaddr_storage bound{};
    socklen_t blen = sizeof bound;
    getsockname(l->fd, reinterpret_cast<sockaddr*>(&bound), &blen);
    l->port = port_of(bound);
    e.events = EPOLLIN;
    e.data.ptr = l.get();
    if (epoll_ctl(s.ep, EPOLL_CTL_ADD, l->fd, &e) != 0) {
      *error = where + ": epoll: " + std::strerror(errno);
      ::close(l->fd);
      return false;
    }
    s.listeners.push_back(std::move(l));
  }
  return true;
}

std::vector<uint16_t> KaServer::ports() const {
  std::vector<uint16_t> out;
  for (const auto& l : impl_->listeners) out.push_back(l->port);
  return out;
}

bool KaServer::run(double duration_s, std::string* error) {
  Impl& s = *impl_;
  if (s.ep < 0) {
    *error = "not started";
    return false;
  }
  const int64_t end_ms =
      duration_s > 0 ? monotonic_ms() + static_cast<int64_t>(duration_s * 1000) : 0;
  epoll_event evs[128];
  while (!s.stopping.load(std::memory_order_relaxed)) {
    const int64_t now = monotonic_ms();
    if (end_ms > 0 && now >= end_ms) break;
    if (s.accept_resume_ms > 0 && now >= s.accept_resume_ms) {
      s.accept_resume_ms = 0;
      s.pause_listeners(false);
    }
    int64_t wait = 100;  // also the latency of a stop() that lost its wakeup
    if (end_ms > 0) wait = std::min(wait, end_ms - now);
    const int n = epoll_wait(s.ep, evs, 128, static_cast<int>(std::max<int64_t>(wait, 0)));
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = std::string("epoll_wait: ") + std::strerror(errno);
      return false;
    }
    for (int i = 0; i < n; ++i) {
      Socket* sock = static_cast<Socket*>(evs[i].data.ptr);
      if (sock->kind == Kind::kWake) {
        uint64_t v;
        [[maybe_unused]] const ssize_t r = ::read(s.wake, &v, sizeof v);
      } else if (sock->kind == Kind::kListener) {
        s.on_accept(static_cast<Listener*>(sock));
      } else {
        Conn* k = static_cast<Conn*>(sock);
        const uint32_t ev = evs[i].events;
        if (!k->closed && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
          if (ev & EPOLLIN) {
            s.on_readable(k);
          } else {
            s.close_conn(k);
          }
        }
        if (!k->closed && (ev & EPOLLOUT)) s.flush(k);
      }
    }
    s.dead.clear();
  }
  return true;
}

void KaServer::stop() {
  impl_->stopping.store(true, std::memory_order_relaxed);
  if (impl_->wake >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t r = ::write(impl_->wake, &one, sizeof one);
  }
}

KaCounters KaServer::counters() const { return impl_->c; }

}  // namespace iotwall::live
