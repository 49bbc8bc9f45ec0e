// The contract between the flow table (packets -> in-order bytes per TCP
// direction) and the protocol decoders (bytes -> accesses). The flow table
// creates one ConnectionHandler per TCP connection through a
// ConnectionFactory and feeds it; decoders never see packets.
//
// Thread-safety: none; one flow table and its handlers per worker.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace iotwall::dpi {

// An IPv4 or IPv6 address. IPv4 is stored in the first 4 bytes.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  uint8_t family = 0;  // 4 or 6; 0 = none

  std::string to_string() const;  // "10.0.0.1", "fe80::1"
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const IpAddress& a) {
    return H::combine(std::move(h), a.bytes, a.family);
  }
};

struct Endpoint {
  IpAddress ip;
  uint16_t port = 0;

  std::string to_string() const;  // "10.0.0.1:8081", "[fe80::1]:8081"
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Endpoint& e) {
    return H::combine(std::move(h), e.ip, e.port);
  }
};

// The client is the side that sent the first SYN (or, for a connection
// picked up midway, the side with the higher port).
enum class Direction : uint8_t { kToServer = 0, kToClient = 1 };

struct ConnectionInfo {
  uint64_t id = 0;  // unique per flow table, in order of creation
  Endpoint client, server;
  int64_t start_us = 0;  // capture time of its first packet
};

enum class CloseReason : uint8_t { kFin, kReset, kIdle, kEvicted, kShutdown };

class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  // In-order payload of one direction; `bytes` is valid only during the call.
  virtual void on_data(Direction d, std::span<const uint8_t> bytes, int64_t ts_us) = 0;
  // `missing` bytes of direction d will never be delivered (a hole given
  // up on, a buffer bound reached): the decoder resynchronises or stops
  // parsing that direction, and counts it.
  virtual void on_gap(Direction d, uint64_t missing, int64_t ts_us) = 0;
  // The connection ended; nothing follows. Pending data was delivered first.
  virtual void on_close(CloseReason why, int64_t ts_us) = 0;
  // Part of a message that would become an access has arrived in direction
  // d and the rest has not (an inline firewall holds those packets).
  virtual bool mid_message(Direction /*d*/) const { return false; }
};

class ConnectionFactory {
 public:
  virtual ~ConnectionFactory() = default;
  // Returns the handler for a new connection, or nullptr to ignore it (its
  // packets are then only counted).
  virtual std::unique_ptr<ConnectionHandler> open(const ConnectionInfo& c) = 0;
};

}  // namespace iotwall::dpi
