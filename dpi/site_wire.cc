#include "dpi/site_wire.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "dpi/cert_factory.h"
#include "dpi/pcap_writer.h"
#include "dpi/tcp_writer.h"
#include "dpi/tls_writer.h"
#include "dpi/vsl_writer.h"

namespace iotwall::dpi {
namespace {

// Connections are (re)opened this long before the request that needs them,
// an old one closed kLead before: every packet made for an access at t0 is
// at or after t0 - kLead, which is what lets the sorter write in order.
constexpr int64_t kPrep = 4000, kLead = 5000;
constexpr int kMaxAgent = 50000;  // keeps 8080 + agent a port

uint64_t mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

IpAddress ipv4(uint32_t v) {
  IpAddress a;
  a.family = 4;
  for (int i = 0; i < 4; ++i) a.bytes[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  return a;
}

// "/agent12/x" -> 12; 0 when the address does not name an agent.
int agent_of(std::string_view address) {
  constexpr std::string_view kPrefix = "/agent";
  if (address.substr(0, kPrefix.size()) != kPrefix) return 0;
  int n = 0;
  size_t i = kPrefix.size();
  for (; i < address.size() && address[i] >= '0' && address[i] <= '9'; ++i) {
    n = n * 10 + (address[i] - '0');
    if (n > kMaxAgent) return 0;
  }
  if (i == kPrefix.size() || (i < address.size() && address[i] != '/')) return 0;
  return n;
}

IpAddress ka_ip(int agent) {
  return ipv4((10u << 24) | static_cast<uint32_t>(agent));  // 10.0.0.N, 10.0.1.4 for 260...
}

// The k-th (1-based) service address of `agent`: 10.<1+agent>.x.y up to
// agent 253, beyond in 100.64.0.0/10 (1024 per agent). Skips .0 and .255.
std::optional<IpAddress> service_ip(int agent, uint32_t k) {
  if (agent <= 253) {
    if (k > 0xfffe) return std::nullopt;
    return ipv4((10u << 24) | (static_cast<uint32_t>(1 + agent) << 16) | k);
  }
  if (k >= 1024) return std::nullopt;
  return ipv4((100u << 24) | (64u << 16) | (static_cast<uint32_t>(agent - 254) << 10) | k);
}

// Buffers segments and writes them to the pcap in timestamp order (ties in
// the order they were made).
class Sorter : public SegmentSink {
 public:
  explicit Sorter(PcapWriter* out) : out_(out) {}
  void put(TcpSegment s) override { heap_.push(Item{s.ts_us, n_++, std::move(s)}); }
  // Writes every segment before `ts_us`; false when a write failed.
  bool flush_before(int64_t ts_us) {
    while (!heap_.empty() && heap_.top().ts < ts_us) {
      if (!out_->write(heap_.top().seg)) return false;
      heap_.pop();
    }
    return true;
  }

 private:
  struct Item {
    int64_t ts;
    uint64_t n;
    TcpSegment seg;
    bool operator>(const Item& o) const { return ts != o.ts ? ts > o.ts : n > o.n; }
  };
  PcapWriter* out_;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> heap_;
  uint64_t n_ = 0;
};

}  // namespace

struct SiteWire::Impl {
  struct Conn {
    std::unique_ptr<TcpWriter> tcp;
    std::unique_ptr<TlsWriter> tls;  // null: plain HTTP
    int requests = 0;
    int limit = 0;  // requests before a reconnect; 0: never
    bool open() const { return tcp && tcp->connected(); }
  };
  struct Source {
    size_t peer = 0;  // index into site_.services
    int agent = 1;
    IpAddress ip;
    bool tls = false;
    uint32_t connections = 0;
    Conn main, callback;
    std::unordered_map<uint32_t, std::string> callback_ids;  // node Sym -> callbackId
    std::string last_callback_id;
    uint64_t serial = 0;
    IssuedCert cert;
  };

  Impl(const Interner& in, const SiteWireOptions& o)
      : in(in), o(o), vsl(in, mix(o.seed ^ 0x5653'4c57)), sorter(&pcap) {}

  const Interner& in;
  SiteWireOptions o;
  VslWriter vsl;
  PcapWriter pcap;
  Sorter sorter;
  SiteWireStats stats;
  SiteMap site;
  std::unordered_map<std::string, size_t> peers;  // address (or "#id") -> index in site
  std::unordered_map<uint32_t, size_t> source_of;  // source Sym -> index in sources
  std::vector<std::unique_ptr<Source>> sources;
  std::unordered_map<int, uint32_t> agent_services;  // services allocated per agent
  std::unordered_map<int, IssuedCert> ka_certs;
  std::unique_ptr<CertFactory> certs;
  int64_t last_ms = INT64_MIN;
  int64_t watermark = 0;  // every packet still to be made is at or after it
  uint64_t rng = 0;
  bool failed = false;
  std::string error;

  uint64_t next() { return mix(rng += 0x9e3779b97f4a7c15ull ^ o.seed); }

  size_t peer(const std::string& key) {
    auto [it, fresh] = peers.try_emplace(key, site.services.size());
    if (fresh) site.services.emplace_back();
    return it->second;
  }

  void fill(SiteService* s, Sym type, Sym room) {
    if (s->type.empty()) s->type = std::string(in.str(type));
    if (s->room.empty()) s->room = std::string(in.str(room));
  }

  void note_dest(const Access& a) {
    if (a.dest_address.empty()) return;
    const std::string addr(in.str(a.dest_address));
    SiteService& s = site.services[peer(addr)];
    if (s.id.empty()) {
      s.address = addr;
      s.id = addr.substr(addr.rfind('/') + 1);
    }
    fill(&s, a.dest_type, a.dest_location);
  }

  bool issue(const CertSpec& spec, IssuedCert* out) {
    if (!certs) certs = CertFactory::create("iotwall-sim-ca", &error);
    return certs && certs->issue(spec, out, &error);
  }

  Source* source(const Access& a) {
    const Sym key = a.source_address.empty() ? a.source_id : a.source_address;
    auto it = source_of.find(key.id);
    if (it != source_of.end()) return sources[it->second].get();
    auto src = std::make_unique<Source>();
    const std::string addr(in.str(a.source_address));
    src->agent = agent_of(addr);
    if (src->agent == 0) src->agent = 1;
    const std::optional<IpAddress> ip = service_ip(src->agent, ++agent_services[src->agent]);
    if (!ip) {
      error = "too many services on agent " + std::to_string(src->agent);
      return nullptr;
    }
    src->ip = *ip;
    std::string key_text = addr;
    if (key_text.empty()) key_text.append("#").append(in.str(a.source_id));
    src->peer = peer(key_text);
    {
      SiteService& s = site.services[src->peer];  // peer() below may move it
      s.id = std::string(in.str(a.source_id));
      s.address = addr;
      s.ip = src->ip;
      fill(&s, a.source_type, a.source_location);
    }
    const std::string id = site.services[src->peer].id;
    const std::string ka = "/agent" + std::to_string(src->agent);
    SiteService& k = site.services[peer(ka)];
    if (k.id.empty()) {
      k.id = "agent" + std::to_string(src->agent);
      k.address = ka;
      k.ip = ka_ip(src->agent);
      k.knowledge_agent = true;
    }
    // Exactly round(n * share) of the first n sources speak TLS.
    const double n = static_cast<double>(sources.size());
    src->tls = std::floor((n + 1) * o.tls_share + 0.5) > std::floor(n * o.tls_share + 0.5);
    if (src->tls) {
      CertSpec spec;
      spec.service_id = id.empty() ? "service" : id;
      spec.access_ids = {spec.service_id};
      if (!issue(spec, &src->cert)) return nullptr;
      if (!ka_certs.count(src->agent)) {
        CertSpec kspec;
        kspec.service_id = "agent" + std::to_string(src->agent);
        kspec.knowledge_agent = true;
        if (!issue(kspec, &ka_certs[src->agent])) return nullptr;
      }
    }
    source_of.emplace(key.id, sources.size());
    sources.push_back(std::move(src));
    return sources.back().get();
  }

  Endpoint ka_endpoint(const Source& s) const {
    return Endpoint{ka_ip(s.agent), static_cast<uint16_t>(8080 + s.agent)};
  }

  std::string host(const Source& s) const { return ka_endpoint(s).to_string(); }

  // Opens `c` for `s`: TCP, and the TLS handshake when the source uses TLS.
  // Returns the time of the last packet.
  int64_t open(Source& s, Conn& c, int64_t ts) {
    const uint16_t port = static_cast<uint16_t>(40000 + s.connections++ % 21000);
    c.tcp = std::make_unique<TcpWriter>(&sorter, Endpoint{s.ip, port}, ka_endpoint(s), next());
    c.requests = 0;
    c.limit = o.reconnect_max == 0 ? 0
                                   : o.reconnect_min + static_cast<int>(next() % static_cast<uint64_t>(
                                                          o.reconnect_max - o.reconnect_min + 1));
    ++stats.connections;
    ts = c.tcp->connect(std::max<int64_t>(ts, 0));
    if (!s.tls) {
      c.tls.reset();
      return ts;
    }
    c.tls = std::make_unique<TlsWriter>(TlsVersion::k12, next());
    ts = c.tcp->send(Direction::kToServer, c.tls->client_hello(""), ts + c.tcp->step(), false);
    ts = c.tcp->send(Direction::kToClient, c.tls->server_flight(ka_certs[s.agent].der), ts + c.tcp->step(),
                     false);
    ts = c.tcp->send(Direction::kToServer, c.tls->client_flight(s.cert.der), ts + c.tcp->step(), false);
    return c.tcp->send(Direction::kToClient, c.tls->server_finish(), ts + c.tcp->step(), true);
  }

  void close(Conn& c, int64_t ts) {
    if (c.tls) ts = c.tcp->send(Direction::kToServer, c.tls->close_notify(), ts, true) + c.tcp->step();
    c.tcp->close(ts);
  }

  // Sends `to_server` then the answer `to_client` on `c`, the first packet
  // at t0 or as soon after as the connection is free.
  void exchange(Conn& c, Direction first, const std::string& a, const std::string& b, int64_t t0) {
    int64_t start = t0;
    if (c.tcp->last_us() >= t0) start = c.tcp->last_us() + c.tcp->step();
    if (start >= t0 + 1000 - (t0 % 1000)) ++stats.late;
    const Direction second = first == Direction::kToServer ? Direction::kToClient : Direction::kToServer;
    auto bytes = [&](const std::string& s) {
      if (!c.tls) return std::vector<uint8_t>(s.begin(), s.end());
      return c.tls->application_data(s.size());
    };
    int64_t t = c.tcp->send(first, bytes(a), start, false);
    c.tcp->send(second, bytes(b), t + c.tcp->step(), true);
    ++c.requests;
  }

  // The source's request connection, ready for a request at t0.
  Conn& main_conn(Source& s, int64_t t0) {
    Conn& c = s.main;
    if (c.open() && c.limit > 0 && c.requests >= c.limit &&
        c.tcp->last_us() + 1000 < t0 - kLead) {
      close(c, t0 - kLead);
    }
    if (!c.open()) open(s, c, t0 - kPrep);
    return c;
  }

  // The source's callback WebSocket, opened (with its upgrade) if needed.
  Conn& callback_conn(Source& s, int64_t t0) {
    Conn& c = s.callback;
    if (!c.open()) {
      const int64_t t = open(s, c, t0 - kPrep);
      c.limit = 0;
      ++stats.callback_connections;
      const HttpExchange up = vsl.callback_upgrade(host(s));
      exchange(c, Direction::kToServer, up.request, up.response, t + c.tcp->step());
    }
    return c;
  }

  bool add(const TraceRecord& r) {
    const Access& a = r.access;
    if (a.time_ms < last_ms) {
      error = "access at " + std::to_string(a.time_ms) + " ms after one at " +
              std::to_string(last_ms) + " ms: not in timestamp order";
      return false;
    }
    if (a.time_ms < 0 || a.time_ms > kMaxTraceMs) {
      error = "timestamp out of range: " + std::to_string(a.time_ms);
      return false;
    }
    last_ms = a.time_ms;
    ++stats.accesses;
    const int64_t t0 = a.time_ms * 1000;
    watermark = t0 - kLead;
    if (!sorter.flush_before(watermark)) {
      error = pcap.error();
      return false;
    }
    note_dest(a);
    Source* s = source(a);
    if (s == nullptr) return false;
    if (a.op == Operation::kNotifyCallback) {
      Conn& c = callback_conn(*s, t0);
      std::string& id = s->callback_ids[a.node_address.id];
      if (id.empty()) id = s->last_callback_id.empty() ? vsl.uuid() : s->last_callback_id;
      const uint64_t serial = ++s->serial;
      exchange(c, Direction::kToClient,
               vsl.callback_frame(id, serial, in.str(a.node_address), "NOTIFY"),
               vsl.callback_reply(id, serial), t0);
      ++stats.callbacks;
      if (s->tls) ++stats.tls_callbacks;
      return true;
    }
    if (!VslWriter::is_request(a.op)) {
      ++stats.skipped;
      return true;
    }
    std::string id;
    if (VslWriter::needs_callback(a.op)) {
      callback_conn(*s, t0);
      id = vsl.uuid();
      s->callback_ids[a.node_address.id] = id;
      s->last_callback_id = id;
    }
    Conn& c = main_conn(*s, t0);
    const HttpExchange x = vsl.exchange(a, host(*s), id);
    exchange(c, Direction::kToServer, x.request, x.response, t0);
    ++(s->tls ? stats.tls_requests : stats.plain_requests);
    return true;
  }

  bool finish() {
    for (auto& s : sources) {
      for (Conn* c : {&s->main, &s->callback}) {
        if (c->open()) close(*c, std::max(c->tcp->last_us() + c->tcp->step(), watermark));
      }
    }
    const bool ok = sorter.flush_before(INT64_MAX);
    stats.packets = pcap.frames();
    stats.bytes = pcap.bytes();
    if (!pcap.close() || !ok) {
      error = pcap.error();
      return false;
    }
    return true;
  }
};

std::string SiteWire::validate(const SiteWireOptions& o) {
  if (!(o.tls_share >= 0 && o.tls_share <= 1)) return "the TLS share must be between 0 and 1";
  if (o.reconnect_max != 0 && (o.reconnect_min < 1 || o.reconnect_max < o.reconnect_min)) {
    return "reconnect bounds must satisfy 1 <= min <= max (or max = 0)";
  }
  return "";
}

SiteWire::SiteWire(const Interner& in, const SiteWireOptions& o)
    : impl_(std::make_unique<Impl>(in, o)) {}
SiteWire::~SiteWire() = default;

bool SiteWire::open(const std::string& pcap_path, std::string* error) {
  if (impl_->pcap.open(pcap_path)) return true;
  *error = pcap_path + ": " + impl_->pcap.error();
  return false;
}

bool SiteWire::add(const TraceRecord& r, std::string* error) {
  if (impl_->failed || !impl_->add(r)) {
    impl_->failed = true;
    *error = impl_->error;
    return false;
  }
  return true;
}

bool SiteWire::finish(std::string* error) {
  if (impl_->finish()) return true;
  *error = impl_->error;
  return false;
}

SiteMap SiteWire::site_map() const { return impl_->site; }
const SiteWireStats& SiteWire::stats() const { return impl_->stats; }

}  // namespace iotwall::dpi
