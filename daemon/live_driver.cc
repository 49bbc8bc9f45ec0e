// The live driver: one epoll loop over one connection per sending service
// (trace mode) or per flood connection. Work items (trace rows, flood
// requests) flow FIFO -> connect -> send -> response or failure -> outcome.
#include "daemon/live_driver.h"

#include <arpa/inet.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "dpi/vsl_writer.h"
#include "model/access.h"
#include "model/intern.h"
#include "model/trace_reader.h"

namespace iotwall::live {
namespace {

constexpr size_t kMaxResponse = 2 << 20;  // a larger answer is an error
constexpr size_t kReadChunk = 64 * 1024;
constexpr int kReadsPerEvent = 4;
constexpr size_t kDispatchPerPass = 10000;   // rows made due per loop pass
constexpr size_t kAdvancePerPass = 100000;   // connection steps per loop pass
constexpr int64_t kMaxWaitNs = 100'000'000;  // also how soon *stop is seen
constexpr int kFloodRing = 8;                // distinct requests per flood connection

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct SockAddr {
  sockaddr_storage sa{};
  socklen_t len = 0;
  int family() const { return sa.ss_family; }
};

SockAddr sock_addr(const dpi::IpAddress& ip, uint16_t port) {
  SockAddr s;
  if (ip.family == 4) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&s.sa);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    std::memcpy(&v4->sin_addr, ip.bytes.data(), 4);
    s.len = sizeof(sockaddr_in);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&s.sa);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    std::memcpy(&v6->sin6_addr, ip.bytes.data(), 16);
    s.len = sizeof(sockaddr_in6);
  }
  return s;
}

// The N of "/agentN/..." (1 when the address names no agent, as SiteWire).
int agent_of(std::string_view address) {
  constexpr std::string_view kPrefix = "/agent";
  if (!address.starts_with(kPrefix)) return 1;
  int n = 0;
  size_t i = kPrefix.size();
  for (; i < address.size() && i < kPrefix.size() + 7 && address[i] >= '0' && address[i] <= '9';
       ++i) {
    n = n * 10 + (address[i] - '0');
  }
  if (i == kPrefix.size() || (i < address.size() && address[i] != '/') || n == 0) return 1;
  return n;
}

// The SiteWire layout's KA address of agent N: 10.0.N>>8.N&255.
dpi::IpAddress default_ka_ip(int agent) {
  dpi::IpAddress ip;
  ip.family = 4;
  ip.bytes[0] = 10;
  ip.bytes[1] = 0;
  ip.bytes[2] = static_cast<uint8_t>(agent >> 8);
  ip.bytes[3] = static_cast<uint8_t>(agent & 255);
  return ip;
}

enum class Outcome : uint8_t { kAnswered, kReset, kTimeout, kRefused, kError };

struct Service {
  std::string address;
  std::string type;
  std::optional<SockAddr> bind;  // its own ip (none with connect_override)
  SockAddr ka;
  std::string host;  // the Host header: the KA's ip:port
  std::string callback_id;
};

// One keep-alive connection and the work waiting for it.
struct Conn {
  enum class State : uint8_t { kIdle, kConnecting, kReady, kBusy };
  Service* svc = nullptr;
  int fd = -1;
  State state = State::kIdle;
  uint32_t events = 0;
  bool queued = false;        // in Engine::advance_
  std::deque<uint32_t> fifo;  // trace: rows; the head is the one in progress
  bool claimed = false;       // flood: holds a request
  std::string req;
  size_t req_off = 0;
  bool first_byte_sent = false;
  int64_t sent_ns = 0;
  int64_t deadline_ns = 0;  // kConnecting, kBusy
  http_parser parser{};
  bool complete = false;
  size_t resp_bytes = 0;
  std::vector<std::string> ring;  // flood requests
  size_t ring_pos = 0;
};

int cb_response_complete(http_parser* p) {
  static_cast<Conn*>(p->data)->complete = true;
  http_parser_pause(p, 1);
  return 0;
}

const http_parser_settings kResponseSettings = [] {
  http_parser_settings s{};
  s.on_message_complete = cb_response_complete;
  return s;
}();

struct Row {
  Access access;
  int64_t time_ms = 0;
  uint32_t label = 0;
  bool normal = false;
};

class Engine {
 public:
  Engine(const DriveOptions& o, DriveReport* r) : o_(o), r_(*r), writer_(in_, o.seed) {}
  ~Engine() {
    for (Conn& k : conns_) {
      if (k.fd >= 0) ::close(k.fd);
    }
    if (ep_ >= 0) ::close(ep_);
  }

  bool load(std::string* error);
  bool run(std::string* error);
  void finish();

 private:
  bool load_trace(std::string* error);
  bool load_flood(std::string* error);
  // The service a row comes from (created on first sight), null if unmapped.
  Service* service_for(const Access& a);
  Service* add_service(std::string address, std::string type,
                       const std::optional<dpi::IpAddress>& ip);

  int64_t due_ns(uint32_t row) const {
    return start_ns_ +
           static_cast<int64_t>(static_cast<double>(rows_[row].time_ms - t0_) * 1e6 / o_.speed);
  }
  RowCounts& counts_of(uint32_t row) { return per_label_[rows_[row].label]; }
  RowCounts& counts_of(const Conn& k) {
    return o_.flood ? flood_counts_ : counts_of(k.fifo.front());
  }

  void dispatch(uint32_t row);
  void queue(Conn* k) {
    if (!k->queued) {
      k->queued = true;
      advance_.push_back(k);
    }
  }
  bool has_work(Conn* k);
  void advance(Conn* k);
  void start_connect(Conn* k);
  void send_next(Conn* k);
  void write_some(Conn* k);
  void read_some(Conn* k);
  void on_event(Conn* k, uint32_t ev);
  void on_connected(Conn* k);
  void set_events(Conn* k, uint32_t ev);
  void close_conn(Conn* k, bool abort);
  void fail(Conn* k, Outcome o);
  void outcome(Conn* k, Outcome o, int status);
  bool done() const;
  int wait(epoll_event* evs, int max, int64_t wait_ns);
  void print_progress(int64_t now, bool last);
  RowCounts totals() const;

  const DriveOptions& o_;
  DriveReport& r_;
  Interner in_;
  dpi::VslWriter writer_;
  int ep_ = -1;
  bool have_pwait2_ = true;

  std::vector<Row> rows_;
  std::vector<std::string> labels_;
  std::vector<RowCounts> per_label_;
  RowCounts flood_counts_;
  int64_t t0_ = 0;
  size_t next_row_ = 0;
  size_t waiting_ = 0;  // rows in FIFOs

  std::deque<Service> services_;     // stable addresses
  std::vector<int> service_of_sym_;  // Sym id -> conns_ index + 1; -1 unmapped; 0 unknown
  std::deque<Conn> conns_;
  std::vector<Conn*> advance_;
  uint64_t issued_ = 0, finished_ = 0;  // flood

  std::vector<double> lat_all_, lat_normal_, lag_;
  int64_t start_ns_ = 0;
};

bool Engine::load(std::string* error) {
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  if (ep_ < 0) {
    *error = std::string("epoll: ") + std::strerror(errno);
    return false;
  }
  return o_.flood ? load_flood(error) : load_trace(error);
}

Service* Engine::add_service(std::string address, std::string type,
                             const std::optional<dpi::IpAddress>& ip) {
  const int agent = agent_of(address);
  Service s;
  s.address = std::move(address);
  s.type = std::move(type);
  const auto port_it = o_.agent_ports.find(agent);
  const int port = port_it != o_.agent_ports.end() ? port_it->second : o_.port_base + agent;
  if (port < 1 || port > 65535) return nullptr;
  std::optional<dpi::IpAddress> ka_ip;
  const std::string ka_address = "/agent" + std::to_string(agent);
  for (const dpi::SiteService& m : o_.site_map.services) {
    if (m.knowledge_agent && m.ip && (m.address == ka_address || m.id == ka_address.substr(1)))
      ka_ip = m.ip;
  }
  if (!ka_ip) ka_ip = default_ka_ip(agent);
  s.host = (ka_ip->family == 6 ? "[" + ka_ip->to_string() + "]" : ka_ip->to_string()) + ":" +
           std::to_string(port);
  if (!o_.connect_override.empty()) {
    s.ka = sock_addr(*dpi::parse_ip(o_.connect_override), static_cast<uint16_t>(port));
  } else {
    if (!ip || ip->family != ka_ip->family) return nullptr;
    s.ka = sock_addr(*ka_ip, static_cast<uint16_t>(port));
    s.bind = sock_addr(*ip, 0);
  }
  services_.push_back(std::move(s));
  return &services_.back();
}

Service* Engine::service_for(const Access& a) {
  const Sym key = a.source();
  if (key.empty()) return nullptr;
  if (service_of_sym_.size() <= key.id) service_of_sym_.resize(key.id + 1, 0);
  int& slot = service_of_sym_[key.id];
  if (slot == 0) {
    const std::string_view addr = in_.str(a.source_address), id = in_.str(a.source_id);
    const dpi::SiteService* m = nullptr;
    for (const dpi::SiteService& s : o_.site_map.services) {
      if (s.knowledge_agent) continue;
      if ((!addr.empty() && s.address == addr) || (addr.empty() && !id.empty() && s.id == id)) {
        m = &s;
        break;
      }
    }
    std::string address(addr.empty() && m != nullptr ? std::string_view(m->address) : addr);
    Service* svc = nullptr;
    if (!address.empty() && (m != nullptr || !o_.connect_override.empty())) {
      svc = add_service(address, m != nullptr ? m->type : std::string(in_.str(a.source_type)),
                        m != nullptr ? m->ip : std::nullopt);
    }
    if (svc == nullptr) {
      slot = -1;
    } else {
      conns_.emplace_back();
      conns_.back().svc = svc;
      slot = static_cast<int>(conns_.size());
    }
  }
  return slot > 0 ? conns_[static_cast<size_t>(slot - 1)].svc : nullptr;
}

bool Engine::load_trace(std::string* error) {
  std::unique_ptr<TraceReader> reader = TraceReader::open(o_.trace, in_, error);
  if (!reader) return false;
  TraceRecord rec;
  std::unordered_map<uint32_t, uint32_t> label_index;  // label Sym -> labels_ index
  while (reader->next(&rec)) {
    if (o_.start_ms && rec.access.time_ms < *o_.start_ms) continue;
    Row row;
    row.access = rec.access;
    row.time_ms = rec.access.time_ms;
    row.normal = rec.label_class == LabelClass::kNormal;
    auto [it, fresh] = label_index.try_emplace(rec.label.id, static_cast<uint32_t>(labels_.size()));
    if (fresh) labels_.push_back(rec.label.empty() ? "unlabeled" : std::string(in_.str(rec.label)));
    row.label = it->second;
    rows_.push_back(row);
  }
  if (!reader->io_error().empty()) {
    *error = o_.trace + ": " + reader->io_error();
    return false;
  }
  // Time order (a trace in order stays as it is: the sort is stable).
  std::stable_sort(rows_.begin(), rows_.end(),
                   [](const Row& a, const Row& b) { return a.time_ms < b.time_ms; });
  if (o_.max_rows > 0 && rows_.size() > o_.max_rows) rows_.resize(o_.max_rows);
  per_label_.resize(labels_.size());
  for (const Row& row : rows_) ++per_label_[row.label].rows;
  t0_ = o_.start_ms ? *o_.start_ms : rows_.empty() ? 0 : rows_.front().time_ms;
  if (!rows_.empty())
    r_.trace_span_s = static_cast<double>(rows_.back().time_ms - rows_.front().time_ms) / 1000;
  // Services are made when their first row is due; conns_ must not move.
  return true;
}

bool Engine::load_flood(std::string* error) {
  std::vector<const dpi::SiteService*> senders;
  for (const dpi::SiteService& s : o_.site_map.services) {
    if (!s.knowledge_agent && !s.address.empty() && (s.ip || !o_.connect_override.empty()))
      senders.push_back(&s);
  }
  if (senders.empty()) {
    *error = o_.connect_override.empty() ? "the site map has no service with an address and an ip"
                                         : "the site map has no service with an address";
    return false;
  }
  for (int i = 0; i < o_.connections; ++i) {
    const dpi::SiteService& m = *senders[static_cast<size_t>(i) % senders.size()];
    Service* svc = add_service(m.address, m.type, m.ip);
    if (svc == nullptr) {
      *error = "service " + m.id + ": no route to its KA (address family or port)";
      return false;
    }
    conns_.emplace_back();
    Conn& k = conns_.back();
    k.svc = svc;
    // A simple access of the service: a read (or a write) of its own node.
    Access a;
    a.source_id = in_.intern(m.id);
    a.source_address = a.dest_address = a.node_address = in_.intern(m.address);
    a.source_type = a.dest_type = a.node_type = in_.intern(m.type);
    a.op = o_.flood_write ? Operation::kWrite : Operation::kRead;
    for (int j = 0; j < kFloodRing; ++j) {
      a.value = o_.flood_write ? Value::Number(j) : Value::Number(0);
      k.ring.push_back(writer_.exchange(a, svc->host, "").request);
    }
  }
  flood_counts_.rows = o_.requests;
  return true;
}

void Engine::dispatch(uint32_t row) {
  const Access& a = rows_[row].access;
  RowCounts& c = counts_of(row);
  if (!dpi::VslWriter::is_request(a.op)) {
    ++c.skipped;
    return;
  }
  Service* svc = service_for(a);
  if (svc == nullptr) {
    ++c.unmapped;
    return;
  }
  Conn* k = &conns_[static_cast<size_t>(service_of_sym_[a.source().id] - 1)];
  if (k->fifo.size() >= o_.max_backlog) {
    ++c.skipped_backlog;
    return;
  }
  k->fifo.push_back(row);
  ++waiting_;
  if (k->fifo.size() == 1) queue(k);
}

bool Engine::has_work(Conn* k) {
  if (!o_.flood) return !k->fifo.empty();
  if (k->claimed) return true;
  if (issued_ >= o_.requests) return false;
  ++issued_;
  k->claimed = true;
  return true;
}

// Moves a connection on: connects when there is work and no connection,
// sends when connected and idle.
void Engine::advance(Conn* k) {
  if (k->state == Conn::State::kIdle && has_work(k)) {
    start_connect(k);
  } else if (k->state == Conn::State::kReady && has_work(k)) {
    send_next(k);
  }
}

void Engine::set_events(Conn* k, uint32_t ev) {
  if (k->events == ev) return;
  epoll_event e{};
  e.events = ev;
  e.data.ptr = k;
  epoll_ctl(ep_, k->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, k->fd, &e);
  k->events = ev;
}

void Engine::close_conn(Conn* k, bool abort) {
  if (k->fd >= 0) {
    if (abort) {
      // RST instead of FIN: no retransmissions of a request nobody answers.
      const linger l{1, 0};
      setsockopt(k->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    if (k->events != 0) epoll_ctl(ep_, EPOLL_CTL_DEL, k->fd, nullptr);
    ::close(k->fd);
  }
  k->fd = -1;
  k->events = 0;
  k->state = Conn::State::kIdle;
}

void Engine::start_connect(Conn* k) {
  const Service& s = *k->svc;
  ++r_.connections;
  k->fd = socket(s.ka.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (k->fd < 0) {
    fail(k, Outcome::kRefused);
    return;
  }
  const int one = 1;
  setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (s.bind) {
    // The port is picked at connect(): many services, few ports each.
    setsockopt(k->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(k->fd, reinterpret_cast<const sockaddr*>(&s.bind->sa), s.bind->len) != 0) {
      ++r_.bind_errors;
      if (r_.first_bind_error.empty())
        r_.first_bind_error = s.address + ": bind: " + std::strerror(errno);
      fail(k, Outcome::kRefused);
      return;
    }
  }
  k->state = Conn::State::kConnecting;
  k->deadline_ns = now_ns() + int64_t{o_.timeout_ms} * 1'000'000;
  if (connect(k->fd, reinterpret_cast<const sockaddr*>(&s.ka.sa), s.ka.len) == 0) {
    on_connected(k);
    return;
  }
  if (errno != EINPROGRESS) {
    fail(k, errno == ETIMEDOUT ? Outcome::kTimeout : Outcome::kRefused);
    return;
  }
  set_events(k, EPOLLOUT);
}

void Engine::on_connected(Conn* k) {
  k->state = Conn::State::kReady;
  set_events(k, EPOLLIN);  // a close by the KA while idle is seen
  queue(k);
}

void Engine::send_next(Conn* k) {
  const int64_t now = now_ns();
  if (o_.flood) {
    k->req = k->ring[k->ring_pos++ % k->ring.size()];
  } else {
    const uint32_t row = k->fifo.front();
    Service& s = *k->svc;
    const Access& a = rows_[row].access;
    if (dpi::VslWriter::needs_callback(a.op) && s.callback_id.empty())
      s.callback_id = writer_.uuid();
    k->req = writer_.exchange(a, s.host, s.callback_id).request;
    lag_.push_back(static_cast<double>(std::max<int64_t>(now - due_ns(row), 0)) / 1e6);
  }
  k->req_off = 0;
  k->first_byte_sent = false;
  k->complete = false;
  k->resp_bytes = 0;
  http_parser_init(&k->parser, HTTP_RESPONSE);
  k->parser.data = k;
  k->state = Conn::State::kBusy;
  k->deadline_ns = now + int64_t{o_.timeout_ms} * 1'000'000;
  write_some(k);
}

void Engine::write_some(Conn* k) {
  while (k->req_off < k->req.size()) {
    const int64_t t = now_ns();
    const ssize_t n =
        ::send(k->fd, k->req.data() + k->req_off, k->req.size() - k->req_off, MSG_NOSIGNAL);
    if (n > 0) {
      if (!k->first_byte_sent) {
        k->first_byte_sent = true;
        k->sent_ns = t;
        ++counts_of(*k).sent;
      }
      k->req_off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      set_events(k, EPOLLIN | EPOLLOUT);
      return;
    }
    fail(k, Outcome::kReset);  // EPIPE, ECONNRESET: what a firewall's reset gives
    return;
  }
  set_events(k, EPOLLIN);
}

void Engine::read_some(Conn* k) {
  char buf[kReadChunk];
  for (int i = 0; i < kReadsPerEvent; ++i) {
    const ssize_t n = ::recv(k->fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (k->state != Conn::State::kBusy) {
      // Idle: the KA closed (or sent what nobody asked for): start afresh.
      close_conn(k, n > 0);
      queue(k);
      return;
    }
    if (n < 0) {
      fail(k, Outcome::kReset);
      return;
    }
    bool leftover = false;
    if (n == 0) {
      http_parser_execute(&k->parser, &kResponseSettings, nullptr, 0);  // a body up to the close
    } else {
      k->resp_bytes += static_cast<size_t>(n);
      const size_t used =
          http_parser_execute(&k->parser, &kResponseSettings, buf, static_cast<size_t>(n));
      leftover = used < static_cast<size_t>(n) && k->complete;
    }
    const http_errno err = HTTP_PARSER_ERRNO(&k->parser);
    if (k->complete) {
      const int status = static_cast<int>(k->parser.status_code);
      const bool keep = n > 0 && !leftover && http_should_keep_alive(&k->parser);
      outcome(k, Outcome::kAnswered, status);
      if (keep) {
        http_parser_pause(&k->parser, 0);
        k->state = Conn::State::kReady;
        set_events(k, EPOLLIN);
      } else {
        close_conn(k, leftover);  // bytes nobody asked for: the stream is out of step
      }
      queue(k);
      return;
    }
    if (n == 0) {
      fail(k, Outcome::kReset);  // closed with the request in flight
      return;
    }
    if ((err != HPE_OK && err != HPE_PAUSED) || k->resp_bytes > kMaxResponse) {
      fail(k, Outcome::kError);
      return;
    }
  }
}

void Engine::on_event(Conn* k, uint32_t ev) {
  if (k->fd < 0) return;
  if (k->state == Conn::State::kConnecting) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0 && (ev & EPOLLOUT) && !(ev & (EPOLLERR | EPOLLHUP))) {
      on_connected(k);
    } else if (err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
      fail(k, err == ETIMEDOUT ? Outcome::kTimeout : Outcome::kRefused);
    }
    return;
  }
  if (k->state == Conn::State::kBusy && (ev & EPOLLOUT) && k->req_off < k->req.size())
    write_some(k);
  if (k->fd >= 0 && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) read_some(k);
}

void Engine::fail(Conn* k, Outcome o) {
  close_conn(k, o == Outcome::kTimeout || o == Outcome::kError);
  outcome(k, o, 0);
  queue(k);  // the next row reconnects
}

void Engine::outcome(Conn* k, Outcome o, int status) {
  RowCounts& c = counts_of(*k);
  switch (o) {
    case Outcome::kAnswered: {
      ++c.answered;
      ++r_.statuses[status];
      if (status < 200 || status > 299) ++c.non_2xx;
      const double ms = static_cast<double>(now_ns() - k->sent_ns) / 1e6;
      lat_all_.push_back(ms);
      if (!o_.flood && rows_[k->fifo.front()].normal) lat_normal_.push_back(ms);
      break;
    }
    case Outcome::kReset:
      ++c.reset;
      break;
    case Outcome::kTimeout:
      ++c.timeout;
      break;
    case Outcome::kRefused:
      ++c.refused;
      break;
    case Outcome::kError:
      ++c.error;
      break;
  }
  if (o_.flood) {
    k->claimed = false;
    ++finished_;
  } else {
    k->fifo.pop_front();
    --waiting_;
  }
}

bool Engine::done() const {
  if (o_.flood) return finished_ >= o_.requests;
  return next_row_ >= rows_.size() && waiting_ == 0;
}

RowCounts Engine::totals() const {
  if (o_.flood) return flood_counts_;
  RowCounts t;
  for (const RowCounts& c : per_label_) {
    t.rows += c.rows;
    t.sent += c.sent;
    t.answered += c.answered;
    t.non_2xx += c.non_2xx;
    t.reset += c.reset;
    t.timeout += c.timeout;
    t.refused += c.refused;
    t.error += c.error;
    t.skipped += c.skipped;
    t.skipped_backlog += c.skipped_backlog;
    t.unmapped += c.unmapped;
    t.unfinished += c.unfinished;
  }
  return t;
}

void Engine::print_progress(int64_t now, bool last) {
  const RowCounts t = totals();
  std::fprintf(stderr,
               "\r t=%.1fs %s %llu/%llu sent %llu answered %llu blocked %llu (reset %llu timeout "
               "%llu refused "
               "%llu) skipped %llu   %s",
               static_cast<double>(now - start_ns_) / 1e9, o_.flood ? "requests" : "rows",
               static_cast<unsigned long long>(o_.flood ? finished_ : next_row_),
               static_cast<unsigned long long>(t.rows), static_cast<unsigned long long>(t.sent),
               static_cast<unsigned long long>(t.answered),
               static_cast<unsigned long long>(t.blocked()),
               static_cast<unsigned long long>(t.reset), static_cast<unsigned long long>(t.timeout),
               static_cast<unsigned long long>(t.refused),
               static_cast<unsigned long long>(t.skipped + t.skipped_backlog + t.unmapped),
               last ? "\n" : "");
}

// epoll_pwait2 (Linux 5.11) wakes to the microsecond; epoll_wait rounds up
// to the next millisecond.
int Engine::wait(epoll_event* evs, int max, int64_t wait_ns) {
  if (have_pwait2_) {
    const timespec ts{static_cast<time_t>(wait_ns / 1'000'000'000),
                      static_cast<long>(wait_ns % 1'000'000'000)};
    const int n = epoll_pwait2(ep_, evs, max, &ts, nullptr);
    if (n >= 0 || errno != ENOSYS) return n;
    have_pwait2_ = false;
  }
  return epoll_wait(ep_, evs, max, static_cast<int>((wait_ns + 999'999) / 1'000'000));
}

bool Engine::run(std::string* error) {
  start_ns_ = now_ns();
  const int64_t end_ns =
      o_.duration_s > 0 ? start_ns_ + static_cast<int64_t>(o_.duration_s * 1e9) : 0;
  int64_t next_progress = start_ns_ + 1'000'000'000;
  if (o_.flood) {
    for (Conn& k : conns_) queue(&k);
  }
  epoll_event evs[256];
  for (;;) {
    int64_t now = now_ns();
    if ((o_.stop != nullptr && o_.stop->load(std::memory_order_relaxed)) ||
        (end_ns > 0 && now >= end_ns))
      break;
    // Rows that are due go to their services' FIFOs.
    for (size_t i = 0; i < kDispatchPerPass && next_row_ < rows_.size() && due_ns(next_row_) <= now;
         ++i) {
      dispatch(static_cast<uint32_t>(next_row_++));
    }
    // Connections with something to do; a step may queue its connection again.
    for (size_t steps = 0; steps < kAdvancePerPass && !advance_.empty(); ++steps) {
      std::vector<Conn*> batch;
      batch.swap(advance_);
      for (Conn* k : batch) {
        k->queued = false;
        advance(k);
      }
      steps += batch.size();
    }
    // Deadlines: connects and requests with no answer in time.
    now = now_ns();
    int64_t wake = now + kMaxWaitNs;
    for (Conn& k : conns_) {
      if (k.state != Conn::State::kConnecting && k.state != Conn::State::kBusy) continue;
      if (k.deadline_ns <= now) {
        fail(&k, Outcome::kTimeout);
      } else {
        wake = std::min(wake, k.deadline_ns);
      }
    }
    if (done()) break;
    if (!advance_.empty()) wake = now;
    if (next_row_ < rows_.size()) wake = std::min(wake, due_ns(next_row_));
    if (o_.progress) wake = std::min(wake, next_progress);
    if (end_ns > 0) wake = std::min(wake, end_ns);
    const int n = wait(evs, 256, std::max<int64_t>(wake - now, 0));
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = std::string("epoll_wait: ") + std::strerror(errno);
      return false;
    }
    for (int i = 0; i < n; ++i) on_event(static_cast<Conn*>(evs[i].data.ptr), evs[i].events);
    if (o_.progress && now_ns() >= next_progress) {
      print_progress(now_ns(), false);
      next_progress += 1'000'000'000;
    }
  }
  r_.elapsed_s = static_cast<double>(now_ns() - start_ns_) / 1e9;
  if (o_.progress) print_progress(now_ns(), true);
  return true;
}

// Rows not done when the run ended are unfinished; the report is filled.
void Engine::finish() {
  if (o_.flood) {
    flood_counts_.unfinished = flood_counts_.rows - finished_;
  } else {
    for (Conn& k : conns_) {
      for (uint32_t row : k.fifo) ++counts_of(row).unfinished;
      k.fifo.clear();
    }
    for (size_t i = next_row_; i < rows_.size(); ++i)
      ++counts_of(static_cast<uint32_t>(i)).unfinished;
    for (size_t i = 0; i < labels_.size(); ++i) r_.per_label[labels_[i]] = per_label_[i];
  }
  for (Conn& k : conns_)
    close_conn(&k, k.state == Conn::State::kBusy || k.state == Conn::State::kConnecting);
  r_.flood = o_.flood;
  r_.total = totals();
  r_.services = conns_.size();
  r_.latency = summarize(&lat_all_);
  r_.latency_normal = summarize(&lat_normal_);
  r_.lag = summarize(&lag_);
  r_.requests_per_s = r_.elapsed_s > 0 ? static_cast<double>(r_.total.answered) / r_.elapsed_s : 0;
}

nlohmann::ordered_json counts_json(const RowCounts& c) {
  return {{"rows", c.rows},         {"sent", c.sent},
          {"answered", c.answered}, {"non_2xx", c.non_2xx},
          {"reset", c.reset},       {"timeout", c.timeout},
          {"refused", c.refused},   {"error", c.error},
          {"skipped", c.skipped},   {"skipped_backlog", c.skipped_backlog},
          {"unmapped", c.unmapped}, {"unfinished", c.unfinished}};
}

nlohmann::ordered_json latency_json(const LatencySummary& l) {
  return {{"count", l.count},
          {"p50", l.p50_ms},
          {"p90", l.p90_ms},
          {"p99", l.p99_ms},
          {"max", l.max_ms}};
}

}  // namespace

std::string validate(const DriveOptions& o) {
  if (!o.flood && o.trace.empty()) return "a trace is needed (or flood mode)";
  if (!(o.speed > 0 && o.speed <= 1e6)) return "speed must be in (0, 1e6]";
  if (!(o.duration_s >= 0 && o.duration_s <= 1e9)) return "duration must be 0..1e9 seconds";
  if (o.timeout_ms < 1 || o.timeout_ms > 3'600'000) return "timeout must be 1..3600000 ms";
  if (o.max_backlog < 1 || o.max_backlog > 1'000'000) return "backlog must be 1..1000000";
  if (o.flood && (o.connections < 1 || o.connections > 10000))
    return "connections must be 1..10000";
  if (o.flood && (o.requests < 1 || o.requests > 1'000'000'000)) return "requests must be 1..1e9";
  if (o.port_base < 0 || o.port_base > 65534) return "port base must be 0..65534";
  if (o.start_ms && (*o.start_ms < 0 || *o.start_ms > kMaxTraceMs))
    return "start time out of range";
  if (!o.connect_override.empty() && !dpi::parse_ip(o.connect_override)) {
    return "not an ip address: '" + o.connect_override + "'";
  }
  return "";
}

bool drive(const DriveOptions& o, DriveReport* out, std::string* error) {
  *out = DriveReport{};
  Engine e(o, out);
  if (!e.load(error)) return false;
  const bool ok = e.run(error);
  e.finish();
  return ok;
}

LatencySummary summarize(std::vector<double>* ms) {
  LatencySummary s;
  s.count = ms->size();
  if (ms->empty()) return s;
  std::sort(ms->begin(), ms->end());
  // Nearest rank: the smallest value with at least p of the values at or below it.
  auto rank = [&](double p) {
    const size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(ms->size())));
    return (*ms)[std::min(ms->size() - 1, i == 0 ? 0 : i - 1)];
  };
  s.p50_ms = rank(0.50);
  s.p90_ms = rank(0.90);
  s.p99_ms = rank(0.99);
  s.max_ms = ms->back();
  return s;
}

std::string report_json(const DriveReport& r) {
  nlohmann::ordered_json j;
  j["mode"] = r.flood ? "flood" : "trace";
  j["elapsed_s"] = r.elapsed_s;
  j["requests_per_s"] = r.requests_per_s;
  if (!r.flood) j["trace_span_s"] = r.trace_span_s;
  j["services"] = r.services;
  j["connections"] = r.connections;
  j["bind_errors"] = r.bind_errors;
  if (!r.first_bind_error.empty()) j["first_bind_error"] = r.first_bind_error;
  j["total"] = counts_json(r.total);
  if (!r.flood) {
    nlohmann::ordered_json per = nlohmann::ordered_json::object();
    for (const auto& [label, c] : r.per_label) per[label] = counts_json(c);
    j["per_label"] = per;
  }
  nlohmann::ordered_json lat;
  lat["all"] = latency_json(r.latency);
  if (!r.flood) lat["normal"] = latency_json(r.latency_normal);
  j["latency_ms"] = lat;
  if (!r.flood) j["lag_ms"] = latency_json(r.lag);
  nlohmann::ordered_json st = nlohmann::ordered_json::object();
  for (const auto& [code, n] : r.statuses) st[std::to_string(code)] = n;
  j["statuses"] = st;
  return j.dump(2);
}

}  // namespace iotwall::live
