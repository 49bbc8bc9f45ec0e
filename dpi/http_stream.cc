#include "dpi/http_stream.h"

// GCC 12 sees boost::optional's storage as maybe uninitialized inside
// Beast once inlined (a false positive, with sanitizers at -O2).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#pragma GCC diagnostic pop
#include <limits>
#include <optional>

#include "model/access.h"

namespace iotwall::dpi {
namespace {

namespace bhttp = boost::beast::http;

// Buffers over this are given back once used: a connection that once
// carried a large header or body must not keep it for its lifetime.
constexpr size_t kKeepCapacity = 4096;
using boost::beast::error_code;
using BeastView = boost::beast::string_view;

std::string_view view(BeastView v) { return {v.data(), v.size()}; }

HttpMethod method_of(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get:
      return HttpMethod::kGet;
    case bhttp::verb::head:
      return HttpMethod::kHead;
    case bhttp::verb::post:
      return HttpMethod::kPost;
    case bhttp::verb::put:
      return HttpMethod::kPut;
    case bhttp::verb::delete_:
      return HttpMethod::kDelete;
    default:
      return HttpMethod::kOther;
  }
}

// A repeated header: its values as one list, as RFC 9110 allows.
template <size_t N>
void add_value(FixedText<N>* t, std::string_view v, bool* truncated_now) {
  const bool was = t->truncated;
  if (t->len > 0) t->append(", ", 2);
  t->append(v.data(), v.size());
  *truncated_now = t->truncated && !was;
}

}  // namespace

// The parser of the message under way (Beast's parsers are not reusable:
// one per message), and the bytes of a header not complete yet.
struct HttpStream::Impl {
  template <bool kRequest>
  class Parser final : public bhttp::basic_parser<kRequest> {
   public:
    explicit Parser(Impl& impl) : impl_(impl) {
      this->header_limit(static_cast<uint32_t>(kMaxHead));
      // Bodies over our limit are skipped, not errors. (Not boost::none:
      // Boost 1.74 then compares lengths with an empty optional and fails.)
      this->body_limit(std::numeric_limits<uint64_t>::max());
      this->eager(true);
    }

   private:
    void on_request_impl(bhttp::verb v, BeastView, BeastView target, int, error_code&) override {
      impl_.on_start(method_of(v), 0, view(target));
    }
    void on_response_impl(int status, BeastView, int, error_code&) override {
      impl_.on_start(HttpMethod::kOther, static_cast<unsigned>(status), {});
    }
    void on_field_impl(bhttp::field f, BeastView, BeastView value, error_code&) override {
      impl_.on_field(f, view(value));
    }
    void on_header_impl(error_code& ec) override {
      impl_.on_header(this->chunked(), this->upgrade(), &ec);
    }
    void on_body_init_impl(const boost::optional<uint64_t>&, error_code&) override {}
    size_t on_body_impl(BeastView body, error_code&) override {
      impl_.on_body(view(body));
      return body.size();
    }
    void on_chunk_header_impl(uint64_t, BeastView, error_code&) override {}
    size_t on_chunk_body_impl(uint64_t, BeastView body, error_code&) override {
      impl_.on_body(view(body));
      return body.size();
    }
    void on_finish_impl(error_code& ec) override { impl_.on_finish(&ec); }

    Impl& impl_;
  };

  explicit Impl(HttpStream& s) : s(s) {}

  // Starts the next message's parser.
  void start() {
    if (s.kind_ == Kind::kRequests) {
      request.emplace(*this);
    } else {
      response.emplace(*this);
      if (s.listener_.response_without_body()) response->skip(true);
    }
  }
  bool active() const { return request.has_value() || response.has_value(); }
  void end() {
    request.reset();
    response.reset();
  }
  size_t put(std::string_view bytes, error_code* ec) {
    const boost::asio::const_buffer b(bytes.data(), bytes.size());
    return request ? request->put(b, *ec) : response->put(b, *ec);
  }
  bool done() const { return request ? request->is_done() : response->is_done(); }
  bool got_some() const { return request ? request->got_some() : response->got_some(); }
  void put_eof(error_code* ec) { request ? request->put_eof(*ec) : response->put_eof(*ec); }

  // Parses `in` (some of which may complete the kept bytes); returns how
  // much of `in` was consumed.
  size_t feed(std::string_view in);
  // A parse error (or the listener stopping the stream) ends the direction.
  bool failed(const error_code& ec);
  // True (and failed) when `waiting` holds a line ended by a bare LF.
  bool bare_lf(std::string_view waiting);

  // Beast callbacks.
  void on_start(HttpMethod m, unsigned status, std::string_view target);
  void on_field(bhttp::field f, std::string_view value);
  void on_header(bool chunked, bool upgrade, error_code* ec);
  void on_body(std::string_view body);
  void on_finish(error_code* ec);

  HttpStream& s;
  std::optional<Parser<true>> request;
  std::optional<Parser<false>> response;
  std::string kept;  // the start of a header (or chunk line) not complete yet, at most kMaxHead
};

HttpStream::HttpStream(Kind kind, Listener& listener, DecodeCounters& counters, size_t body_limit)
    : kind_(kind), listener_(listener), counters_(counters), body_limit_(body_limit),
      impl_(std::make_unique<Impl>(*this)) {
  url_.reserve(256);
}

HttpStream::~HttpStream() = default;

// Beast ends lines at CRLF only and would wait for one forever, while a
// lenient server (Jetty) also ends them at a bare LF and runs the request:
// a bare LF in a header not complete yet is an error, not more to wait for.
bool HttpStream::Impl::bare_lf(std::string_view waiting) {
  for (size_t i = waiting.find('\n'); i != std::string_view::npos; i = waiting.find('\n', i + 1)) {
    if (i == 0 || waiting[i - 1] != '\r') return failed(bhttp::error::bad_line_ending);
  }
  return false;
}

bool HttpStream::Impl::failed(const error_code& ec) {
  if (s.state_ != State::kHttp) return true;  // stopped by the listener during a callback
  if (!ec || ec == bhttp::error::need_more) return false;
  s.counters_.add_http_error(ec.value());
  s.state_ = State::kStopped;
  return true;
}

size_t HttpStream::Impl::feed(std::string_view in) {
  size_t used = 0;  // of `in`
  while (s.state_ == State::kHttp) {
    if (!active()) {
      // Between messages: empty lines are ignored (RFC 9112 2.2).
      while (used < in.size() && (in[used] == '\r' || in[used] == '\n')) ++used;
      if (used == in.size()) return used;
      start();
      s.begin_message();
    }
    error_code ec;
    if (kept.empty()) {
      const std::string_view rest = in.substr(used);
      if (rest.empty()) return used;  // a body to be continued
      const size_t n = put(rest, &ec);
      used += n;
      if (failed(ec)) return used;
      if (n == 0 && !ec && !done()) {  // no progress without a reason: never loop
        failed(bhttp::error::partial_message);
        return used;
      }
      if (ec == bhttp::error::need_more) {
        // A header (or chunk line) cut by the packet: kept until whole.
        if (bare_lf(in.substr(used))) return used;
        if (in.size() - used > kMaxHead) {
          failed(bhttp::error::header_limit);
          return used;
        }
        kept.assign(in.substr(used));
        return in.size();
      }
    } else {
      const size_t take = std::min(in.size() - used, kMaxHead - std::min(kept.size(), kMaxHead));
      if (take == 0) {
        if (used < in.size()) failed(bhttp::error::header_limit);
        return used;
      }
      kept.append(in.substr(used, take));
      used += take;
      const size_t n = put(kept, &ec);
      if (failed(ec)) {
        const size_t unparsed = kept.size() - n;  // of which the newest bytes are from `in`
        return used > unparsed ? used - unparsed : 0;
      }
      kept.erase(0, n);
      if (ec == bhttp::error::need_more) {
        if (bare_lf(kept)) return used - std::min(used, kept.size());
        continue;  // more input, or return once all is kept
      }
      used -= std::min(used, kept.size());  // the rest is parsed from `in` again
      kept.clear();
      if (kept.capacity() > kKeepCapacity) std::string().swap(kept);  // a long header's buffer goes
    }
    if (done()) {
      end();
      if (s.state_ != State::kHttp) return used;  // upgraded (or stopped) by this message
    }
  }
  return used;
}

void HttpStream::Impl::on_start(HttpMethod m, unsigned status, std::string_view target) {
  s.msg_.method = m;
  s.msg_.status = status;
  if (target.size() > kMaxUrl) {
    s.msg_.url_truncated = true;
    s.counters_.add(DecodeCounters::kHttpUrlTooLong);
  } else {
    s.url_.assign(target);
  }
}

void HttpStream::Impl::on_field(bhttp::field f, std::string_view value) {
  bool cut = false;
  switch (f) {
    case bhttp::field::content_type:
      add_value(&s.content_type_, value, &cut);
      break;
    case bhttp::field::upgrade:
      add_value(&s.upgrade_, value, &cut);
      break;
    case bhttp::field::connection:
      add_value(&s.connection_, value, &cut);
      break;
    case bhttp::field::sec_websocket_protocol:
      add_value(&s.ws_protocol_, value, &cut);
      break;
    case bhttp::field::authorization:
      add_value(&s.auth_, value, &cut);
      break;
    default:
      break;
  }
  if (cut) s.note_truncated();
}

void HttpStream::Impl::on_header(bool chunked, bool upgrade, error_code* ec) {
  HttpMessage& m = s.msg_;
  m.url = m.url_truncated ? std::string_view() : std::string_view(s.url_);
  m.content_type = s.content_type_.view();
  m.upgrade = s.upgrade_.view();
  m.connection = s.connection_.view();
  m.websocket_protocol = s.ws_protocol_.view();
  m.authorization = s.auth_.view();
  m.chunked = chunked;
  // A 101 switches the connection even without the Upgrade headers.
  m.upgrades = m.is_request ? upgrade : m.status == 101;
  s.listener_.on_http_headers(m);
  if (s.state_ != State::kHttp) *ec = bhttp::error::stale_parser;  // stopped: parse no further
}

void HttpStream::Impl::on_body(std::string_view body) {
  HttpMessage& m = s.msg_;
  m.body_bytes += body.size();
  if (m.body_skipped) return;
  std::string& b = s.body_;
  if (b.size() + body.size() > s.body_limit_) {
    m.body_skipped = true;
    b.clear();
    s.counters_.add(DecodeCounters::kHttpBodyTooLarge);
    return;
  }
  if (b.capacity() < b.size() + body.size()) {
    // Grow geometrically, but never beyond the limit: a handful of
    // allocations per stream, none once the largest body was seen.
    size_t want = b.capacity() < 512 ? 512 : b.capacity() * 2;
    while (want < b.size() + body.size()) want *= 2;
    b.reserve(want < s.body_limit_ ? want : s.body_limit_);
  }
  b.append(body);
}

void HttpStream::Impl::on_finish(error_code* ec) {
  HttpMessage& m = s.msg_;
  s.in_message_ = false;
  m.body = m.body_skipped ? std::string_view() : std::string_view(s.body_);
  s.listener_.on_http_message(m);
  if (s.state_ != State::kHttp) {
    *ec = bhttp::error::stale_parser;  // stopped by the listener
  } else if (m.upgrades) {
    s.state_ = State::kUpgraded;  // the rest belongs to the new protocol
  }
}

void HttpStream::begin_message() {
  if (body_.capacity() > kKeepCapacity) std::string().swap(body_);  // a large body's buffer goes
  in_message_ = true;
  msg_ = HttpMessage();
  msg_.is_request = kind_ == Kind::kRequests;
  msg_.first_byte_us = ts_us_;
  url_.clear();
  body_.clear();
  content_type_.clear();
  upgrade_.clear();
  connection_.clear();
  ws_protocol_.clear();
  auth_.clear();
}

size_t HttpStream::feed(std::span<const uint8_t> bytes, int64_t ts_us) {
  if (state_ != State::kHttp || bytes.empty()) return 0;
  ts_us_ = ts_us;
  return impl_->feed(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

void HttpStream::finish(int64_t ts_us) {
  if (state_ != State::kHttp) return;
  ts_us_ = ts_us;
  if (impl_->active() && (impl_->got_some() || !impl_->kept.empty())) {
    error_code ec;
    if (!impl_->kept.empty()) {
      ec = bhttp::error::partial_message;  // a header cut short
    } else {
      impl_->put_eof(&ec);  // completes a close-delimited body
    }
    impl_->failed(ec);
  }
  impl_->end();
  impl_->kept.clear();
  state_ = State::kStopped;
}

void HttpStream::on_gap() {
  if (state_ == State::kStopped) return;
  counters_.add(DecodeCounters::kGap);
  state_ = State::kStopped;
}

void HttpStream::resume() {
  if (state_ != State::kUpgraded) return;
  impl_->end();
  impl_->kept.clear();
  in_message_ = false;
  state_ = State::kHttp;
}

void HttpStream::note_truncated() { counters_.add(DecodeCounters::kHttpHeaderTruncated); }

}  // namespace iotwall::dpi
