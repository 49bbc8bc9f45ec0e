#include "dpi/http_stream.h"

#include "model/access.h"

namespace iotwall::dpi {
namespace {

HttpStream* self(http_parser* p) { return static_cast<HttpStream*>(p->data); }

}  // namespace

const http_parser_settings HttpStream::kSettings = {
    .on_message_begin = &HttpStream::cb_message_begin,
    .on_url = &HttpStream::cb_url,
    .on_status = nullptr,
    .on_header_field = &HttpStream::cb_header_field,
    .on_header_value = &HttpStream::cb_header_value,
    .on_headers_complete = &HttpStream::cb_headers_complete,
    .on_body = &HttpStream::cb_body,
    .on_message_complete = &HttpStream::cb_message_complete,
    .on_chunk_header = nullptr,
    .on_chunk_complete = nullptr,
};

HttpStream::HttpStream(Kind kind, Listener& listener, DecodeCounters& counters, size_t body_limit)
    : kind_(kind), listener_(listener), counters_(counters), body_limit_(body_limit) {
  url_.reserve(256);
  reset_parser();
}

void HttpStream::reset_parser() {
  http_parser_init(&parser_, kind_ == Kind::kRequests ? HTTP_REQUEST : HTTP_RESPONSE);
  parser_.data = this;
}

size_t HttpStream::feed(std::span<const uint8_t> bytes, int64_t ts_us) {
  if (state_ != State::kHttp || bytes.empty()) return 0;
  ts_us_ = ts_us;
  const size_t n = http_parser_execute(&parser_, &kSettings,
                                       reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (state_ == State::kStopped) return n;  // stopped by the listener during a callback
  const auto err = static_cast<unsigned>(HTTP_PARSER_ERRNO(&parser_));
  if (err != HPE_OK) {
    counters_.add_http_error(err);
    state_ = State::kStopped;
    return n;
  }
  if (parser_.upgrade) state_ = State::kUpgraded;
  return n;
}

void HttpStream::finish(int64_t ts_us) {
  if (state_ != State::kHttp) return;
  ts_us_ = ts_us;
  http_parser_execute(&parser_, &kSettings, nullptr, 0);
  if (state_ == State::kStopped) return;
  const auto err = static_cast<unsigned>(HTTP_PARSER_ERRNO(&parser_));
  if (err != HPE_OK) counters_.add_http_error(err);
  state_ = State::kStopped;
}

void HttpStream::on_gap() {
  if (state_ == State::kStopped) return;
  counters_.add(DecodeCounters::kGap);
  state_ = State::kStopped;
}

void HttpStream::resume() {
  if (state_ != State::kUpgraded) return;
  reset_parser();
  in_message_ = false;
  state_ = State::kHttp;
}

void HttpStream::note_truncated() { counters_.add(DecodeCounters::kHttpHeaderTruncated); }

int HttpStream::cb_message_begin(http_parser* p) {
  HttpStream* s = self(p);
  if (s->state_ != State::kHttp) return 1;
  s->in_message_ = true;
  s->msg_ = HttpMessage();
  s->msg_.is_request = s->kind_ == Kind::kRequests;
  s->msg_.first_byte_us = s->ts_us_;
  s->url_.clear();
  s->body_.clear();
  s->field_name_.clear();
  s->in_value_ = false;
  s->field_ = Field::kNone;
  s->content_type_.clear();
  s->upgrade_.clear();
  s->connection_.clear();
  s->ws_protocol_.clear();
  s->auth_.clear();
  return 0;
}

int HttpStream::cb_url(http_parser* p, const char* at, size_t n) {
  HttpStream* s = self(p);
  if (s->msg_.url_truncated) return 0;
  if (s->url_.size() + n > kMaxUrl) {
    s->msg_.url_truncated = true;
    s->url_.clear();
    s->counters_.add(DecodeCounters::kHttpUrlTooLong);
    return 0;
  }
  s->url_.append(at, n);
  return 0;
}

int HttpStream::cb_header_field(http_parser* p, const char* at, size_t n) {
  HttpStream* s = self(p);
  if (s->in_value_) {  // a new field starts
    s->in_value_ = false;
    s->field_name_.clear();
  }
  s->field_name_.append(at, n);
  return 0;
}

int HttpStream::cb_header_value(http_parser* p, const char* at, size_t n) {
  HttpStream* s = self(p);
  if (!s->in_value_) {  // the first piece of this field's value
    s->in_value_ = true;
    const std::string_view name = s->field_name_.view();
    s->field_ = Field::kNone;
    if (!s->field_name_.truncated) {
      if (iequals(name, "content-type"))
        s->field_ = Field::kContentType;
      else if (iequals(name, "upgrade"))
        s->field_ = Field::kUpgrade;
      else if (iequals(name, "connection"))
        s->field_ = Field::kConnection;
      else if (iequals(name, "sec-websocket-protocol"))
        s->field_ = Field::kWsProtocol;
      else if (iequals(name, "authorization"))
        s->field_ = Field::kAuth;
    }
    // A repeated header: keep the values as one list, as RFC 9110 allows.
    auto separate = [](auto& t) {
      if (t.len > 0) t.append(", ", 2);
    };
    switch (s->field_) {
      case Field::kContentType:
        separate(s->content_type_);
        break;
      case Field::kUpgrade:
        separate(s->upgrade_);
        break;
      case Field::kConnection:
        separate(s->connection_);
        break;
      case Field::kWsProtocol:
        separate(s->ws_protocol_);
        break;
      case Field::kAuth:
        separate(s->auth_);
        break;
      case Field::kNone:
        break;
    }
  }
  auto add = [&](auto& t) {
    const bool was = t.truncated;
    t.append(at, n);
    if (t.truncated && !was) s->note_truncated();
  };
  switch (s->field_) {
    case Field::kContentType:
      add(s->content_type_);
      break;
    case Field::kUpgrade:
      add(s->upgrade_);
      break;
    case Field::kConnection:
      add(s->connection_);
      break;
    case Field::kWsProtocol:
      add(s->ws_protocol_);
      break;
    case Field::kAuth:
      add(s->auth_);
      break;
    case Field::kNone:
      break;
  }
  return 0;
}

void HttpStream::fill_message() {
  msg_.method = parser_.method;
  msg_.status = parser_.status_code;
  msg_.url = msg_.url_truncated ? std::string_view() : std::string_view(url_);
  msg_.content_type = content_type_.view();
  msg_.upgrade = upgrade_.view();
  msg_.connection = connection_.view();
  msg_.websocket_protocol = ws_protocol_.view();
  msg_.authorization = auth_.view();
  msg_.chunked = (parser_.flags & F_CHUNKED) != 0;
}

int HttpStream::cb_headers_complete(http_parser* p) {
  HttpStream* s = self(p);
  s->fill_message();
  s->msg_.upgrades = p->upgrade;
  const bool no_body = s->listener_.on_http_headers(s->msg_);
  if (s->state_ != State::kHttp) return 1;
  if (s->kind_ == Kind::kResponses) {
    // 101 without the Upgrade/Connection headers http-parser requires for
    // an upgrade: the connection switches anyway.
    if (p->status_code == 101) return 2;
    if (no_body) return 1;
  }
  return 0;
}

int HttpStream::cb_body(http_parser* p, const char* at, size_t n) {
  HttpStream* s = self(p);
  s->msg_.body_bytes += n;
  if (s->msg_.body_skipped) return 0;
  if (s->body_.size() + n > s->body_limit_) {
    s->msg_.body_skipped = true;
    s->body_.clear();
    s->counters_.add(DecodeCounters::kHttpBodyTooLarge);
    return 0;
  }
  if (s->body_.capacity() < s->body_.size() + n) {
    // Grow geometrically, but never beyond the limit: a handful of
    // allocations per stream, none once the largest body was seen.
    size_t want = s->body_.capacity() < 512 ? 512 : s->body_.capacity() * 2;
    while (want < s->body_.size() + n) want *= 2;
    s->body_.reserve(want < s->body_limit_ ? want : s->body_limit_);
  }
  s->body_.append(at, n);
  return 0;
}

int HttpStream::cb_message_complete(http_parser* p) {
  HttpStream* s = self(p);
  s->in_message_ = false;
  s->fill_message();
  s->msg_.upgrades = p->upgrade;
  s->msg_.body = s->msg_.body_skipped ? std::string_view() : std::string_view(s->body_);
  s->listener_.on_http_message(s->msg_);
  // Stopped by the listener: a non-zero return makes the parser return now.
  return s->state_ == State::kHttp ? 0 : 1;
}

}  // namespace iotwall::dpi
