// SiteMap: what a site's configuration says about its services, for what
// the wire does not carry: rooms, and which IP address is which service
// (plain HTTP has no certificate). `iotwall sim --pcap` writes one beside
// the capture; the daemon's configuration holds the same lists.
//
// File format (YAML, docs/site-map.md):
//   services:
//     - id: lightcontrol1
//       address: /agent1/lightcontrol1
//       type: /lightControler      # optional
//       room: Kitchen              # optional
//       ip: 10.1.1.2               # optional: connections from it are this service
//       knowledge_agent: false     # optional: a KA (trusts its Authorization: VSL)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dpi/stream.h"

namespace iotwall::dpi {

struct SiteService {
  std::string id;       // the service id (certificate CN), e.g. lightcontrol1
  std::string address;  // its VSL address, e.g. /agent1/lightcontrol1 (may be empty)
  std::string type;     // e.g. /lightControler (may be empty)
  std::string room;     // e.g. Kitchen (may be empty)
  std::optional<IpAddress> ip;
  bool knowledge_agent = false;
};

struct SiteMap {
  std::vector<SiteService> services;
};

// Parses a site map; on error returns false and sets *error to a message
// naming the line and key. Never throws.
bool load_site_map(const std::string& path, SiteMap* out, std::string* error);
bool parse_site_map(std::string_view yaml, SiteMap* out, std::string* error);
// Writes a site map (tmp file + rename). Returns false and sets *error on failure.
bool save_site_map(const std::string& path, const SiteMap& m, std::string* error);

// Parses "10.0.0.1" or "fe80::1".
std::optional<IpAddress> parse_ip(std::string_view s);

}  // namespace iotwall::dpi
