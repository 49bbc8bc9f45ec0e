// The small site the fuzz targets decode against: a KA and one light
// controller, so identity and room lookups run.
#pragma once

#include "dpi/site_map.h"

namespace iotwall::fuzz {

inline dpi::SiteMap make_site() {
  dpi::SiteMap m;
  dpi::SiteService ka;
  ka.id = "agent1";
  ka.address = "/agent1";
  ka.ip = dpi::parse_ip("10.0.0.1");
  ka.knowledge_agent = true;
  m.services.push_back(ka);
  dpi::SiteService light;
  light.id = "lightcontrol1";
  light.address = "/agent1/lightcontrol1";
  light.type = "/lightControler";
  light.room = "Kitchen";
  light.ip = dpi::parse_ip("10.1.0.2");
  m.services.push_back(light);
  return m;
}

}  // namespace iotwall::fuzz
