#include "dpi/vsl_connection.h"

#include <algorithm>

namespace iotwall::dpi {
namespace {

constexpr size_t kToServer = static_cast<size_t>(Direction::kToServer);

std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (iequals(hay.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

bool starts_with_segment(std::string_view path, std::string_view prefix) {
  return path.starts_with(prefix) && (path.size() == prefix.size() || path[prefix.size()] == '/');
}

int base64_digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

// Standard or URL-safe base64, padding optional. Returns false on a bad digit.
bool base64_decode(std::string_view in, std::string* out) {
  out->clear();
  while (!in.empty() && (in.back() == '=' || in.back() == ' ')) in.remove_suffix(1);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int d = base64_digit(c);
    if (d < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

Operation operation_of(std::string_view op) {
  if (op == "NOTIFY") return Operation::kNotifyCallback;
  if (op == "SUBSCRIBE") return Operation::kSubscribe;
  if (op == "UNSUBSCRIBE") return Operation::kUnsubscribe;
  if (op == "LOCK_SUBTREE") return Operation::kLockSubtree;
  if (op == "COMMIT_SUBTREE") return Operation::kCommitSubtree;
  if (op == "ROLLBACK_SUBTREE") return Operation::kRollbackSubtree;
  if (op == "REGISTER_VIRTUAL_NODE") return Operation::kRegisterVirtualNode;
  if (op == "UNREGISTER_VIRTUAL_NODE") return Operation::kUnregisterVirtualNode;
  return Operation::kOther;
}

// The service id in an address: its last segment ("/agent1/light1" -> "light1").
std::string_view last_segment(std::string_view address) {
  const size_t slash = address.rfind('/');
  return slash == std::string_view::npos ? address : address.substr(slash + 1);
}

}  // namespace

VslConnection::VslConnection(const ConnectionInfo& info, Directory& dir, Interner& in,
                             AccessSink& sink, DecodeCounters& counters)
    : info_(info),
      dir_(dir),
      in_(in),
      sink_(sink),
      counters_(counters),
      requests_(HttpStream::Kind::kRequests, *this, counters),
      responses_(HttpStream::Kind::kResponses, *this, counters),
      ws_to_server_(*this, counters),
      ws_to_client_(*this, counters) {
  scratch_.reserve(256);
  if (const Directory::Service* s = dir_.by_ip(info_.client.ip)) {
    set_client(Level::kSiteMap, s->id, s->address);
  }
}

// ---- identity -------------------------------------------------------------

void VslConnection::set_client(Level level, Sym id, Sym address, Sym type) {
  if (level < level_) return;
  level_ = level;
  const Directory::Service* conf = dir_.by_address(address);
  if (!conf && !id.empty()) conf = dir_.by_id(id);
  if (id.empty() && !address.empty()) {
    id = conf && !conf->id.empty() ? conf->id : in_.intern(last_segment(in_.str(address)));
  }
  if (address.empty()) address = dir_.address_of(id);
  client_.id = id;
  client_.address = address;
  client_.type = dir_.service_type(address);
  if (client_.type.empty()) client_.type = !type.empty() ? type : conf ? conf->type : Sym();
  client_.room = dir_.room(address);
  if (client_.room.empty() && conf) client_.room = conf->room;
  client_is_ka_ = dir_.is_knowledge_agent(id, address);
}

void VslConnection::set_client_identity(std::string_view id, std::string_view address) {
  set_client(Level::kCertificate, in_.intern(id), in_.intern(address));
}

const VslConnection::Party& VslConnection::client() {
  // An unknown peer is its IP address, interned only once it is needed (not
  // ip:port: each connection would be a new service to the graph).
  if (client_.id.empty() && client_.address.empty()) {
    client_.id = in_.intern(info_.client.ip.to_string());
  }
  return client_;
}

Sym VslConnection::client_id() { return client().id; }

VslConnection::Party VslConnection::party_for_id(Sym id) {
  Party p;
  p.id = id;
  p.address = dir_.address_of(id);
  p.type = dir_.service_type(p.address);
  p.room = dir_.room(p.address);
  if (const Directory::Service* conf = dir_.by_id(id)) {
    if (p.type.empty()) p.type = conf->type;
    if (p.room.empty()) p.room = conf->room;
  }
  return p;
}

VslConnection::Party VslConnection::source_of(const HttpMessage& m) {
  const Party& c = client();
  if (m.authorization.empty()) return c;
  std::string_view v = m.authorization;
  if (v.size() < 4 || !iequals(v.substr(0, 4), "VSL ")) return c;  // another scheme
  if (!client_is_ka_) {
    counters_.add(DecodeCounters::kAuthUntrusted);
    return c;
  }
  v.remove_prefix(4);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  if (!base64_decode(v, &auth_) || !json_.parse(auth_, &fields_) || fields_.client_id.empty()) {
    counters_.add(DecodeCounters::kAuthBad);
    return c;
  }
  return party_for_id(in_.intern(fields_.client_id));
}

// ---- bytes ----------------------------------------------------------------

void VslConnection::on_data(Direction d, std::span<const uint8_t> bytes, int64_t ts_us) {
  if (closed_) return;
  const size_t i = static_cast<size_t>(d);
  while (!bytes.empty()) {
    switch (mode_[i]) {
      case Mode::kStopped:
        return;
      case Mode::kWebSocket:
        (i == kToServer ? ws_to_server_ : ws_to_client_).feed(bytes, ts_us);
        return;
      case Mode::kUpgradePending:
        if (held_.size() + bytes.size() > kMaxHeld) {
          counters_.add(DecodeCounters::kHttpUpgradeOverflow);
          mode_[i] = Mode::kStopped;
          held_.clear();
          return;
        }
        if (held_.empty()) held_ts_ = ts_us;
        held_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        return;
      case Mode::kHttp: {
        HttpStream& s = i == kToServer ? requests_ : responses_;
        const size_t n = s.feed(bytes, ts_us);
        bytes = bytes.subspan(std::min(n, bytes.size()));
        if (mode_[i] != Mode::kHttp) continue;  // a message switched protocol
        if (s.state() == HttpStream::State::kStopped) {
          mode_[i] = Mode::kStopped;
          if (i != kToServer) lose_responses();
          return;
        }
        if (s.state() == HttpStream::State::kUpgraded) {
          if (i == kToServer) {
            mode_[i] = Mode::kUpgradePending;
          } else {
            switch_to_websocket();
          }
          continue;
        }
        if (n == 0) return;  // nothing consumed: never spin
        break;
      }
    }
  }
}

void VslConnection::on_gap(Direction d, uint64_t /*missing*/, int64_t /*ts_us*/) {
  if (closed_) return;
  const size_t i = static_cast<size_t>(d);
  switch (mode_[i]) {
    case Mode::kStopped:
      return;
    case Mode::kHttp:
      (i == kToServer ? requests_ : responses_).on_gap();
      break;
    case Mode::kWebSocket:
      (i == kToServer ? ws_to_server_ : ws_to_client_).on_gap();
      break;
    case Mode::kUpgradePending:
      counters_.add(DecodeCounters::kGap);
      held_.clear();
      break;
  }
  mode_[i] = Mode::kStopped;
  if (i != kToServer) lose_responses();
}

void VslConnection::on_close(CloseReason /*why*/, int64_t ts_us) {
  if (closed_) return;
  if (mode_[1] == Mode::kHttp) responses_.finish(ts_us);  // a close-delimited response
  if (mode_[0] == Mode::kHttp) requests_.finish(ts_us);
  lose_responses();
  closed_ = true;
}

bool VslConnection::mid_message(Direction d) const {
  const size_t i = static_cast<size_t>(d);
  switch (mode_[i]) {
    case Mode::kHttp:
      return i == kToServer && requests_.in_message();
    case Mode::kWebSocket:
      return i != kToServer && ws_to_client_.in_message();
    case Mode::kUpgradePending:  // client bytes wait for the upgrade's answer
      return i == kToServer && !held_.empty();
    case Mode::kStopped:
      return false;
  }
  return false;
}

// ---- HTTP -----------------------------------------------------------------

bool VslConnection::response_without_body() {
  return pending_size_ > 0 && pending_[pending_head_].method == HttpMethod::kHead;
}

// Inline, a request whose access does not depend on its body is handled
// at its headers: a server may act on it then (a GET with a body it never
// finishes would otherwise never be judged).
void VslConnection::on_http_headers(const HttpMessage& m) {
  if (!m.is_request || !at_request_ || m.method == HttpMethod::kPut || m.method == HttpMethod::kPost) return;
  judged_at_headers_ = true;
  on_request(m);
}

void VslConnection::refuse() {
  mode_[0] = Mode::kStopped;
  requests_.stop();
}

void VslConnection::on_http_message(const HttpMessage& m) {
  if (m.is_request && judged_at_headers_) {
    judged_at_headers_ = false;
    return;
  }
  if (m.is_request) {
    on_request(m);
  } else {
    on_response(m);
  }
}

void VslConnection::on_request(const HttpMessage& m) {
  Pending p;
  p.method = m.method;
  std::string_view path = m.url;
  if (!path.starts_with('/')) {  // absolute form: http://host:port/path
    const size_t scheme = path.find("://");
    const size_t slash = path.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
    path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
  }
  path = path.substr(0, path.find_first_of("?#"));
  // Inline, only the callback WebSocket may switch protocols unjudged: any
  // other upgrade request is judged as the request it is (a server may
  // ignore the Upgrade header and run it), and what follows it on the
  // connection is no longer decoded as VSL (the firewall's non-VSL rule).
  const bool judged_upgrade =
      m.upgrades && at_request_ && !m.url_truncated && !starts_with_segment(path, "/callback-stream");
  if (m.upgrades && !judged_upgrade) {
    p.kind = Kind::kUpgrade;
    mode_[0] = responses_lost_ ? Mode::kStopped : Mode::kUpgradePending;
    push(p);
    return;
  }
  if (judged_upgrade) {
    counters_.add(DecodeCounters::kHttpUpgradeJudged);
    refuse();
  }
  if (m.url_truncated || (at_request_ && path.size() > kMaxInlinePath)) {  // counted by the stream
    if (at_request_) refuse();
    push(p);
    return;
  }

  const Party src = source_of(m);
  if (starts_with_segment(path, "/vsl")) {
    on_vsl_request(m, path.substr(4), src, &p);
  } else if (starts_with_segment(path, "/search")) {
    on_vsl_request(m, path, src, &p);
  } else if (path == "/service/register" && m.method == HttpMethod::kPost) {
    p.kind = Kind::kRegister;
    p.access.time_ms = m.first_byte_us / 1000;
    if (decode_body(m)) p.access.source_type = in_.intern(fields_.model_id);
    if (at_request_) {  // the address is in the answer: the client as known now
      Access a;
      fill_source(src, &a);
      if (a.source_type.empty()) a.source_type = p.access.source_type;
      a.dest_address = a.node_address = src.address.empty() ? src.id : src.address;
      a.dest_type = a.node_type = a.source_type;
      a.dest_location = src.room;
      a.op = Operation::kRegisterService;
      a.value = Value::None();
      a.time_ms = p.access.time_ms;
      emit(a);
      p.emitted = true;
    }
  } else if (path == "/service/unregister" && m.method == HttpMethod::kPost) {
    Access a;
    fill_source(src, &a);
    a.dest_address = a.node_address = src.address;
    a.dest_type = a.node_type = src.type;
    a.dest_location = src.room;
    a.op = Operation::kUnregisterService;
    a.value = Value::None();
    a.time_ms = m.first_byte_us / 1000;
    emit(a);
  } else if (starts_with_segment(path, "/ka")) {
    counters_.add(DecodeCounters::kKaInternal);
  } else if (starts_with_segment(path, "/callback-stream")) {
    counters_.add(DecodeCounters::kCallbackStream);
  } else {
    counters_.add(DecodeCounters::kUnknownPath);
    if (at_request_) refuse();  // nothing to judge it by: it must not pass
  }
  push(p);
}

void VslConnection::on_vsl_request(const HttpMessage& m, std::string_view vsl_path,
                                   const Party& src, Pending* p) {
  Access& a = p->access;
  a.time_ms = m.first_byte_us / 1000;
  fill_source(src, &a);
  fill_target(vsl_path, src, &a);
  switch (m.method) {
    case HttpMethod::kGet:
      a.op = Operation::kRead;
      p->kind = Kind::kRead;  // emitted with its response
      if (at_request_) {
        Access now = a;
        emit(now);
        p->emitted = true;
      }
      return;
    case HttpMethod::kPut:
      a.op = Operation::kWrite;
      if (decode_body(m) && fields_.has_value) a.value = Value::parse(fields_.value, in_);
      break;
    case HttpMethod::kPost:
      a.op = Operation::kOther;
      if (decode_body(m)) {
        a.op = operation_of(fields_.operation);
        if (a.op == Operation::kOther) counters_.add(DecodeCounters::kUnknownOperation);
      }
      break;
    default:
      a.op = Operation::kOther;
      counters_.add(DecodeCounters::kUnknownMethod);
      break;
  }
  emit(a);
  a = Access();
}

void VslConnection::on_response(const HttpMessage& m) {
  if (m.status >= 100 && m.status < 200 && m.status != 101) return;  // interim
  if (pending_size_ == 0) {
    counters_.add(DecodeCounters::kHttpUnpairedResponse);
    if (m.status == 101) switch_to_websocket();
    return;
  }
  Pending p = pending_[pending_head_];
  pending_head_ = (pending_head_ + 1) % kMaxPending;
  --pending_size_;
  switch (p.kind) {
    case Kind::kRead:
      on_read_answer(p, m);
      break;
    case Kind::kRegister:
      on_register_answer(p, m);
      break;
    case Kind::kUpgrade:
      on_upgrade_answer(m.status == 101);
      break;
    case Kind::kNone:
      if (m.status == 101) switch_to_websocket();
      break;
  }
}

void VslConnection::on_read_answer(Pending& p, const HttpMessage& m) {
  Access& a = p.access;
  if (m.status < 200 || m.status >= 300) {
    counters_.add(DecodeCounters::kReadFailed);
  } else if (decode_body(m)) {
    // A node without a value (a composed node) reads as none, as the traces
    // say. Emitted at its request (inline), the read no longer needs it.
    if (p.emitted) {
    } else if (fields_.has_value) {
      a.value = Value::parse(fields_.value, in_);
    } else if (!fields_.is_string) {
      a.value = Value::None();
    }
    if (!fields_.type.empty()) {
      const Sym t = in_.intern(fields_.type);
      a.node_type = t;
      if (!dir_.learn_node_type(a.node_address, t)) counters_.add(DecodeCounters::kDirectoryFull);
      if (a.node_address == a.dest_address) {  // the service's own node: its type
        if (!dir_.learn_service_type(a.dest_address, t)) {
          counters_.add(DecodeCounters::kDirectoryFull);
        }
        a.dest_type = dir_.service_type(a.dest_address);
      }
    }
  }
  if (!p.emitted) emit(a);
}

void VslConnection::on_register_answer(const Pending& p, const HttpMessage& m) {
  if (m.status != 200 || !decode_body(m) || !fields_.is_string ||
      !fields_.string.starts_with('/')) {
    counters_.add(DecodeCounters::kRegisterFailed);
    return;
  }
  const Sym address = in_.intern(fields_.string);
  const Sym model = p.access.source_type;
  const Directory::Service* conf = dir_.by_address(address);
  const Sym id = conf && !conf->id.empty() ? conf->id : in_.intern(last_segment(in_.str(address)));
  if (!dir_.learn_service_type(address, model) || !dir_.learn_service_id(id, address)) {
    counters_.add(DecodeCounters::kDirectoryFull);
  }
  set_client(Level::kRegistered, id, address, model);
  Access a;
  a.source_id = id;
  a.source_address = a.dest_address = a.node_address = address;
  a.source_type = a.dest_type = a.node_type =
      dir_.service_type(address).empty() ? model : dir_.service_type(address);
  a.source_location = a.dest_location = dir_.room(address);
  a.op = Operation::kRegisterService;
  a.value = Value::None();
  a.time_ms = p.access.time_ms;
  if (!p.emitted) emit(a);
}

void VslConnection::on_upgrade_answer(bool accepted) {
  if (accepted) {
    switch_to_websocket();
    return;
  }
  // Refused: the client goes on speaking HTTP, starting with the bytes held.
  if (mode_[0] != Mode::kUpgradePending) return;
  mode_[0] = Mode::kHttp;
  requests_.resume();
  std::string held;
  held.swap(held_);
  if (!held.empty()) on_data(Direction::kToServer, as_bytes(held), held_ts_);
}

void VslConnection::switch_to_websocket() {
  // The response stream stops by itself (it saw the 101): it may be
  // executing the very callback that called us.
  mode_[1] = Mode::kWebSocket;
  if (mode_[0] == Mode::kHttp || mode_[0] == Mode::kUpgradePending) {
    mode_[0] = Mode::kWebSocket;
    requests_.stop();
    if (!held_.empty()) {
      std::string held;
      held.swap(held_);
      ws_to_server_.feed(as_bytes(held), held_ts_);
    }
  }
}

bool VslConnection::decode_body(const HttpMessage& m) {
  fields_ = BodyFields();
  if (m.body_skipped) return false;  // counted by the stream
  if (m.body.empty()) return true;
  std::string_view ct = m.content_type;
  ct = ct.substr(0, ct.find(';'));
  bool json = icontains(ct, "json");
  if (!json && ct.empty()) {  // no Content-Type: sniff
    const size_t first = m.body.find_first_not_of(" \t\r\n");
    json = first != std::string_view::npos &&
           (m.body[first] == '{' || m.body[first] == '"' || m.body[first] == '[');
  }
  if (json) {
    if (json_.parse(m.body, &fields_)) return true;
    counters_.add(DecodeCounters::kBadJson);
    return false;
  }
  if (icontains(ct, "cbor")) {
    if (cbor_.parse(as_bytes(m.body), &fields_)) return true;
    counters_.add(DecodeCounters::kBadCbor);
    return false;
  }
  counters_.add(DecodeCounters::kUndecodedContentType);
  return false;
}

// ---- accesses -------------------------------------------------------------

void VslConnection::fill_source(const Party& src, Access* a) const {
  a->source_id = src.id;
  a->source_address = src.address;
  a->source_type = src.type;
  a->source_location = src.room;
}

void VslConnection::fill_target(std::string_view path, const Party& src, Access* a) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  scratch_.clear();
  if (starts_with_segment(path, "/~")) {
    if (src.address.empty()) {
      counters_.add(DecodeCounters::kHomeUnknown);
      a->node_address = in_.intern(path);
      return;
    }
    scratch_ = in_.str(src.address);
    scratch_ += path.substr(2);
  } else {
    scratch_ = path.empty() ? std::string_view("/") : path;
  }
  const std::string_view node = scratch_;
  std::string_view dest = node;
  if (starts_with_segment(node, "/search")) {
    dest = node.substr(0, 7);
  } else if (const size_t e = node.find('/', 1); e != std::string_view::npos) {
    dest = node.substr(0, node.find('/', e + 1));
  }
  a->node_address = in_.intern(node);
  a->dest_address = in_.intern(dest);
  a->dest_type = dir_.service_type(a->dest_address);
  a->dest_location = dir_.room(a->dest_address);
  a->node_type = dir_.node_type(a->node_address);
  if (a->node_type.empty() && a->node_address == a->dest_address) a->node_type = a->dest_type;
}

void VslConnection::emit(Access& a) {
  counters_.add_access(a.op);
  sink_.on_access(a);
}

// ---- WebSocket ------------------------------------------------------------

void VslConnection::on_ws_message(const WebSocketStream& from, bool text, std::string_view payload,
                                  int64_t ts_us) {
  if (&from != &ws_to_client_) return;  // the client's answers are not accesses
  const bool ok = text ? json_.parse(payload, &fields_) : cbor_.parse(as_bytes(payload), &fields_);
  if (!ok) {
    counters_.add(text ? DecodeCounters::kBadJson : DecodeCounters::kBadCbor);
    return;
  }
  if (fields_.address.empty() || fields_.invoke.empty()) {
    counters_.add(DecodeCounters::kBadCallback);
    return;
  }
  // A virtual-node invocation names its original caller; others go to the subscriber.
  const Party src =
      fields_.client_id.empty() ? client() : party_for_id(in_.intern(fields_.client_id));
  Access a;
  fill_source(src, &a);
  fill_target(fields_.address, src, &a);
  a.op = Operation::kNotifyCallback;
  a.time_ms = ts_us / 1000;
  emit(a);
}

// ---- pending requests -----------------------------------------------------

void VslConnection::push(const Pending& p) {
  if (!responses_lost_ && pending_size_ == kMaxPending) {
    counters_.add(DecodeCounters::kHttpPendingOverflow);
    mode_[1] = Mode::kStopped;
    responses_.stop();
    lose_responses();
  }
  if (responses_lost_) {  // no answer will be seen: settle it now
    Pending q = p;
    switch (q.kind) {
      case Kind::kRead:
        counters_.add(DecodeCounters::kReadUnanswered);
        if (!q.emitted) emit(q.access);
        break;
      case Kind::kRegister:
        counters_.add(DecodeCounters::kRegisterFailed);
        break;
      case Kind::kUpgrade:
        if (mode_[0] == Mode::kUpgradePending) mode_[0] = Mode::kStopped;
        held_.clear();
        break;
      case Kind::kNone:
        break;
    }
    return;
  }
  pending_[(pending_head_ + pending_size_) % kMaxPending] = p;
  ++pending_size_;
}

void VslConnection::lose_responses() {
  responses_lost_ = true;
  while (pending_size_ > 0) {
    Pending p = pending_[pending_head_];
    pending_head_ = (pending_head_ + 1) % kMaxPending;
    --pending_size_;
    push(p);  // settled at once now that responses_lost_ is set
  }
}

}  // namespace iotwall::dpi
