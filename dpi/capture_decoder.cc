#include "dpi/capture_decoder.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>

namespace iotwall::dpi {

// One TCP connection: decides from its first bytes whether it is TLS or
// plaintext, then hands everything to the matching decoder.
namespace {

// A handshake record (TlsObserver's test), or any TLS record header: a
// connection picked up midway (after an idle timeout) starts with
// application data.
bool looks_like_tls(std::span<const uint8_t> b) {
  if (TlsObserver::looks_like_tls(b)) return true;
  return b.size() >= 5 && b[0] >= 0x14 && b[0] <= 0x17 && b[1] == 0x03 && b[2] <= 0x04;
}

}  // namespace

class CaptureDecoder::Connection final : public ConnectionHandler, private TlsListener {
 public:
  Connection(const ConnectionInfo& info, CaptureDecoder& owner) : info_(info), owner_(owner) {}

  void on_data(Direction d, std::span<const uint8_t> bytes, int64_t ts_us) override {
    if (!inner_) {
      // Decide on the first kSniff bytes of the direction that spoke
      // first: a handshake split into tiny segments must not pass as HTTP.
      if (held_ == 0) held_dir_ = d;
      if (d == held_dir_) {
        const size_t take = std::min(bytes.size(), kSniff - held_);
        std::copy_n(bytes.begin(), take, head_.begin() + held_);
        held_ += take;
        bytes = bytes.subspan(take);
        if (held_ < kSniff) return;
      }
      decide(ts_us);
    }
    if (!bytes.empty()) inner_->on_data(d, bytes, ts_us);
  }
  void on_gap(Direction d, uint64_t missing, int64_t ts_us) override {
    if (!inner_ && held_ == 0) return;
    if (!inner_) decide(ts_us);
    inner_->on_gap(d, missing, ts_us);
  }
  void on_close(CloseReason why, int64_t ts_us) override {
    if (!inner_ && held_ > 0) decide(ts_us);
    if (inner_) inner_->on_close(why, ts_us);
  }
  bool mid_message(Direction d) const override {
    if (!inner_) return held_ > 0 && d == held_dir_;
    return inner_->mid_message(d);
  }

  InlinePacket::Kind kind() const {
    if (!inner_) return InlinePacket::Kind::kSniffing;
    if (tls_) return InlinePacket::Kind::kTls;
    if (vsl_->decoding()) return InlinePacket::Kind::kVsl;
    return http_like_ ? InlinePacket::Kind::kRefused : InlinePacket::Kind::kOther;
  }
  uint8_t* mark() { return &mark_; }
  // Plaintext HTTP both ways, no upgrade under way: the server's bytes are
  // answers, never accesses.
  bool http_answers() const { return inner_ != nullptr && !tls_ && vsl_->http_both_ways(); }

 private:
  static constexpr size_t kSniff = 6;  // a record header and a handshake type

  // The client's first bytes begin a request line: a method (capitals)
  // and its space, or capitals only as far as they go.
  static bool looks_like_request(std::span<const uint8_t> head) {
    size_t i = 0;
    while (i < head.size() && head[i] >= 'A' && head[i] <= 'Z') ++i;
    return i > 0 && (i == head.size() || head[i] == ' ');
  }

  void decide(int64_t ts_us) {
    const std::span<const uint8_t> head(head_.data(), held_);
    if (looks_like_tls(head)) {
      tls_.emplace(static_cast<TlsListener*>(this), &owner_.tls_);
      inner_ = &*tls_;
    } else {
      http_like_ = held_dir_ == Direction::kToServer && looks_like_request(head);
      vsl_.emplace(info_, owner_.dir_, owner_.in_, static_cast<AccessSink&>(owner_), owner_.decode_);
      if (owner_.inline_) vsl_->emit_at_request();
      inner_ = &*vsl_;
    }
    if (held_ > 0) inner_->on_data(held_dir_, head, ts_us);
  }

  // TlsListener: identities from the certificates that cross in clear.
  void on_client_identity(const CertIdentity& id, int64_t) override { client_id_ = id.service_id; }
  void on_server_identity(const CertIdentity& id, int64_t) override { server_id_ = id.service_id; }
  void on_sni(std::string_view host, int64_t) override { sni_ = host; }
  // One encrypted request: who talked to whom, when; the operation and the
  // node are not visible.
  void on_exchange(const TlsExchange& x) override {
    if (owner_.inline_) return;  // judged as a whole connection inline
    Access a;
    a.time_ms = x.start_us / 1000;
    a.op = Operation::kUnknown;
    owner_.fill(client_id_, {}, info_.client, false, &a.source_id, &a.source_address, &a.source_type,
         &a.source_location);
    Sym id;
    owner_.fill(server_id_, sni_, info_.server, true, &id, &a.dest_address, &a.dest_type, &a.dest_location);
    if (a.dest_address.empty()) a.dest_address = id;
    a.node_address = a.dest_address;
    ++owner_.edge_accesses_;
    owner_.on_access(a);
  }

  ConnectionInfo info_;
  CaptureDecoder& owner_;
  ConnectionHandler* inner_ = nullptr;
  std::array<uint8_t, kSniff> head_{};  // first bytes, until decided
  size_t held_ = 0;
  Direction held_dir_ = Direction::kToServer;
  bool http_like_ = false;  // the client's first bytes began a request line
  std::optional<VslConnection> vsl_;
  std::optional<TlsObserver> tls_;
  std::string client_id_, server_id_, sni_;
  uint8_t mark_ = 0;
};

// A party by its certificate (VSL-WIRE's order: certificate first), else
// the site map's IP, else (a server) the name the client asked for, else
// its address: a client by IP (its port changes with every connection), a
// server by ip:port. A certificate naming another service than the one
// configured at that IP is counted: certificates are not verified here.
void CaptureDecoder::fill(const std::string& cert_id, const std::string& sni, const Endpoint& ep,
                        bool server, Sym* id, Sym* address, Sym* type, Sym* room) {
  Directory& dir = dir_;
  Interner& in = in_;
  const Directory::Service* s = dir.by_ip(ep.ip);
  if (!cert_id.empty()) {
    if (s != nullptr && in.str(s->id) != cert_id) ++identity_mismatch_;
    *id = in.intern(cert_id);
    s = dir.by_id(*id);
    *address = dir.address_of(*id);
  } else if (s != nullptr) {
    *id = s->id;
    *address = s->address;
  } else if (!sni.empty()) {
    *id = in.intern(sni);
    s = dir.by_id(*id);
    *address = dir.address_of(*id);
  } else {
    *id = in.intern(server ? ep.to_string() : ep.ip.to_string());
  }
  if (s != nullptr && address->empty()) *address = s->address;
  *type = !address->empty() ? dir.service_type(*address) : Sym{};
  if (type->empty() && s != nullptr) *type = s->type;
  *room = !address->empty() ? dir.room(*address) : Sym{};
  if (room->empty() && s != nullptr) *room = s->room;
}

CaptureDecoder::CaptureDecoder(const CaptureOptions& o, const SiteMap& site, Interner& in)
    : in_(in),
      dir_(site, in),
      reorder_(o.reorder_ms, o.max_reorder),
      reorder_ms_(o.reorder_ms),
      inline_(o.inline_mode),
      flows_(o.flows, *this) {
  if (inline_) inline_out_.reserve(16);
}

CaptureDecoder::~CaptureDecoder() {
  if (!finished_) flows_.close_all(0);
}

std::unique_ptr<ConnectionHandler> CaptureDecoder::open(const ConnectionInfo& c) {
  return std::make_unique<Connection>(c, *this);
}

void CaptureDecoder::on_access(const Access& a) {
  ++accesses_;
  if (inline_) {
    inline_out_.push_back(a);
    return;
  }
  TraceRecord r;
  r.access = a;
  r.line = accesses_;
  reorder_.push(r);
}

void CaptureDecoder::packet(LinkType link, std::span<const uint8_t> frame, int64_t ts_us) {
  if (ts_us < 0 || ts_us / 1000 > kMaxTraceMs) {
    ++bad_time_;
    return;
  }
  clock_ms_ = std::max(clock_ms_, ts_us / 1000);
  Packet p;
  const ParseStatus s = parse_packet(link, frame, &p);
  ++parse_[static_cast<size_t>(s)];
  if (s == ParseStatus::kOk || s == ParseStatus::kUnsupportedL4Protocol) flows_.packet(p, ts_us);
}

const InlinePacket& CaptureDecoder::packet_inline(std::span<const uint8_t> ip_packet, int64_t ts_us) {
  inline_out_.clear();
  last_ = InlinePacket();
  clock_ms_ = std::max(clock_ms_, ts_us / 1000);
  Packet p;
  last_.status = parse_packet(LinkType::kRaw, ip_packet, &p);
  ++parse_[static_cast<size_t>(last_.status)];
  if (last_.status != ParseStatus::kOk) return last_;
  flows_.packet(p, ts_us);
  const FlowTable::LastPacket& fp = flows_.last();
  last_.payload = p.protocol == kIpProtoTcp && !p.payload.empty();
  last_.info = fp.info;
  last_.dir = fp.dir;
  if (fp.handler != nullptr) {
    auto* c = static_cast<Connection*>(fp.handler);
    last_.kind = c->kind();
    last_.incomplete = fp.ahead || c->mid_message(fp.dir);
    last_.mark = c->mark();
  }
  last_.accesses = inline_out_;
  return last_;
}

bool CaptureDecoder::peek_answer(std::span<const uint8_t> ip_packet, uint64_t* conn, uint8_t** mark) const {
  Packet p;
  if (parse_packet(LinkType::kRaw, ip_packet, &p) != ParseStatus::kOk || p.payload.empty() ||
      (p.tcp_flags & (kTcpSyn | kTcpFin | kTcpRst)) != 0) {
    return false;
  }
  ConnectionHandler* h = nullptr;
  Direction d = Direction::kToServer;
  if (!flows_.find(p, &h, &d, conn) || d != Direction::kToClient) return false;
  auto* c = static_cast<Connection*>(h);
  if (!c->http_answers()) return false;
  *mark = c->mark();
  return true;
}

Access CaptureDecoder::edge_access(const ConnectionInfo& c, int64_t ts_us) {
  Access a;
  a.time_ms = ts_us / 1000;
  a.op = Operation::kUnknown;
  fill({}, {}, c.client, false, &a.source_id, &a.source_address, &a.source_type, &a.source_location);
  Sym id;
  fill({}, {}, c.server, true, &id, &a.dest_address, &a.dest_type, &a.dest_location);
  if (a.dest_address.empty()) a.dest_address = id;
  a.node_address = a.dest_address;
  ++edge_accesses_;
  return a;
}

void CaptureDecoder::finish(int64_t ts_us) {
  if (finished_) return;
  finished_ = true;
  flows_.close_all(ts_us);
}

bool CaptureDecoder::next(Access* out, bool all) {
  TraceRecord r;
  // Released by the window, by the capture's clock (packets without
  // accesses move it too), or all at the end.
  if (!(finished_ || all ? reorder_.pop(&r)
                         : reorder_.pop_ready(&r) || reorder_.pop_until(clock_ms_ - reorder_ms_, &r))) {
    return false;
  }
  *out = r.access;
  return true;
}

void CaptureDecoder::for_each(const std::function<void(std::string_view, uint64_t)>& fn) const {
  for (int i = 0; i < kParseStatusCount; ++i) {
    const auto s = static_cast<ParseStatus>(i);
    if (s == ParseStatus::kOk) {
      fn("packets_parsed", parse_[i]);
      fn("packet_rejected_bad_timestamp", bad_time_);
    } else {
      fn(std::string("packet_rejected_") + std::string(status_name(s)), parse_[i]);
    }
  }
  flows_.counters().for_each(fn);
  decode_.for_each(fn);
  tls_.for_each(fn);
  fn("accesses", accesses_);
  fn("accesses_edge_level", edge_accesses_);
  fn("tls_identity_mismatch", identity_mismatch_);
  fn("accesses_late", reorder_.late());
}

}  // namespace iotwall::dpi
