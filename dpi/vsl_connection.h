// VslConnection: decodes one plaintext VSL connection (HTTP/1.1 REST plus
// the callback WebSocket) into Access records (docs: VSL-WIRE.md).
//
// Requests are decoded when complete. A read is emitted when its response
// arrives (value and node type from the response), or with an empty value
// if the connection closes, a gap hits the response direction, or too many
// requests wait; a registerService is emitted on its 200 answer (which
// names the client's address); every other operation is emitted when its
// request completes. Responses pair with requests in order (FIFO).
// Callback frames from the KA (`invoke`) become notifyCallback accesses.
//
// The source of a request, first found wins: the certificate identity set
// by the caller (TLS), a registerService answered on this connection, the
// SiteMap's IP -> service, else the peer's IP address as the source id. A configured KA
// client's `Authorization: VSL <base64 JSON>` names the original caller.
//
// Values: a read's or write's `value` through Value::parse; registerService
// and unregisterService carry Value::None() (as the DS2OS traces do); other
// operations carry an empty value.
//
// Thread-safety: none. Lifetime: the Directory, Interner, AccessSink and
// DecodeCounters must outlive the connection. Memory: buffers grow to the
// largest message seen (bounded by the body limit), then are reused.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "dpi/cbor_body.h"
#include "dpi/decode_counters.h"
#include "dpi/directory.h"
#include "dpi/http_stream.h"
#include "dpi/json_body.h"
#include "dpi/stream.h"
#include "dpi/websocket.h"
#include "model/access.h"
#include "model/intern.h"

namespace iotwall::dpi {

class AccessSink {
 public:
  virtual ~AccessSink() = default;
  // `a` is valid during the call only (copy it: it is a small value).
  virtual void on_access(const Access& a) = 0;
};

class VslConnection : public ConnectionHandler,
                      private HttpStream::Listener,
                      private WebSocketStream::Listener {
 public:
  static constexpr size_t kMaxPending = 64;      // unanswered requests kept
  static constexpr size_t kMaxHeld = 64 * 1024;  // client bytes held during an upgrade
  // Inline, a request path longer than this is refused: no VSL address is
  // near it, and each one would be a new name to keep.
  static constexpr size_t kMaxInlinePath = 1024;

  VslConnection(const ConnectionInfo& info, Directory& dir, Interner& in, AccessSink& sink,
                DecodeCounters& counters);
  ~VslConnection() override = default;

  // The client's certificate identity (service id and, if known, address),
  // read from a TLS handshake. Overrides every other source of identity.
  void set_client_identity(std::string_view id, std::string_view address);

  // Inline use (a firewall decides before the answer exists): every access
  // is emitted when its request completes: a read with an empty value, a
  // registerService from the connection's client as known then (its
  // answer still names the client for later requests).
  void emit_at_request() { at_request_ = true; }
  // A request (or a callback frame from the KA) is partly received.
  bool mid_message(Direction d) const override;
  // Requests are still being decoded (not stopped by a parse error or a gap).
  bool decoding() const { return mode_[0] != Mode::kStopped; }
  // Both directions are plain HTTP exchanges (no upgrade asked or done).
  bool http_both_ways() const { return mode_[0] == Mode::kHttp && mode_[1] == Mode::kHttp; }

  void on_data(Direction d, std::span<const uint8_t> bytes, int64_t ts_us) override;
  void on_gap(Direction d, uint64_t missing, int64_t ts_us) override;
  void on_close(CloseReason why, int64_t ts_us) override;

  // The client as currently known (for tests and reports).
  Sym client_id();
  Sym client_address() const { return client_.address; }
  bool websocket() const { return mode_[0] == Mode::kWebSocket || mode_[1] == Mode::kWebSocket; }

 private:
  enum class Mode : uint8_t { kHttp, kUpgradePending, kWebSocket, kStopped };
  // How the client is known; a higher level is never replaced by a lower one.
  enum class Level : uint8_t { kPeer, kSiteMap, kRegistered, kCertificate };
  enum class Kind : uint8_t { kNone, kRead, kRegister, kUpgrade };

  struct Party {
    Sym id, address, type, room;
  };
  struct Pending {
    Kind kind = Kind::kNone;
    bool emitted = false;  // already emitted at its request (emit_at_request)
    HttpMethod method = HttpMethod::kOther;
    Access access;  // kRead: all but the value; kRegister: source_type = modelId
  };

  // HttpStream::Listener
  bool response_without_body() override;
  void on_http_headers(const HttpMessage& m) override;
  void on_http_message(const HttpMessage& m) override;
  // WebSocketStream::Listener
  void on_ws_message(const WebSocketStream& from, bool text, std::string_view payload,
                     int64_t ts_us) override;

  void on_request(const HttpMessage& m);
  // Inline: the client's requests can no longer be judged; they stop being
  // decoded, which the firewall sees (CaptureDecoder's kind kRefused).
  void refuse();
  void on_response(const HttpMessage& m);
  void on_upgrade_answer(bool accepted);
  // Decodes a request under /vsl (or /search): a read goes into *p to wait
  // for its response; anything else is emitted now.
  void on_vsl_request(const HttpMessage& m, std::string_view vsl_path, const Party& src,
                      Pending* p);
  void on_register_answer(const Pending& p, const HttpMessage& m);
  void on_read_answer(Pending& p, const HttpMessage& m);

  // Decodes a body by its content type into fields_. Returns false when the
  // body was not decoded (counted).
  bool decode_body(const HttpMessage& m);
  Party source_of(const HttpMessage& m);
  Party party_for_id(Sym id);
  // Fills destination and node from a path under /vsl ("/agent1/s/n", "/~/n").
  void fill_target(std::string_view path, const Party& src, Access* a);
  void fill_source(const Party& src, Access* a) const;
  void emit(Access& a);

  void push(const Pending& p);
  void lose_responses();  // emits waiting reads; later reads are emitted at once
  void switch_to_websocket();
  void set_client(Level level, Sym id, Sym address, Sym type = Sym());
  const Party& client();

  ConnectionInfo info_;
  Directory& dir_;
  Interner& in_;
  AccessSink& sink_;
  DecodeCounters& counters_;

  HttpStream requests_;
  HttpStream responses_;
  WebSocketStream ws_to_server_;
  WebSocketStream ws_to_client_;
  std::array<Mode, 2> mode_{Mode::kHttp, Mode::kHttp};
  bool closed_ = false;
  bool at_request_ = false;
  bool judged_at_headers_ = false;  // the request being received was handled at its headers
  bool responses_lost_ = false;
  std::string held_;  // client bytes after an upgrade request, until its answer
  int64_t held_ts_ = 0;

  Level level_ = Level::kPeer;
  Party client_;
  bool client_is_ka_ = false;

  std::array<Pending, kMaxPending> pending_{};
  size_t pending_head_ = 0, pending_size_ = 0;

  JsonBody json_;
  CborBody cbor_;
  BodyFields fields_;
  std::string scratch_;  // paths being built
  std::string auth_;     // a decoded Authorization: VSL
};

}  // namespace iotwall::dpi
