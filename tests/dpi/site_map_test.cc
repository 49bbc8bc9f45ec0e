#include "dpi/site_map.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

namespace {

using iotwall::dpi::load_site_map;
using iotwall::dpi::parse_ip;
using iotwall::dpi::parse_site_map;
using iotwall::dpi::save_site_map;
using iotwall::dpi::SiteMap;
using iotwall::dpi::SiteService;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/iotwall-site-map-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

bool fails(const std::string& yaml, std::string* error) {
  SiteMap m;
  return !parse_site_map(yaml, &m, error);
}

}  // namespace

TEST_CASE("site map: a full file parses") {
  const std::string yaml =
      "# a site\n"
      "services:\n"
      "  - id: lightcontrol1\n"
      "    address: /agent1/lightcontrol1\n"
      "    type: /lightControler\n"
      "    room: Kitchen\n"
      "    ip: 10.2.0.1\n"
      "  - id: agent1\n"
      "    ip: fe80::1\n"
      "    knowledge_agent: true\n"
      "  - id: \"42\"\n";
  SiteMap m;
  std::string error;
  REQUIRE(parse_site_map(yaml, &m, &error));
  REQUIRE(m.services.size() == 3);
  const SiteService& s = m.services[0];
  CHECK(s.id == "lightcontrol1");
  CHECK(s.address == "/agent1/lightcontrol1");
  CHECK(s.type == "/lightControler");
  CHECK(s.room == "Kitchen");
  REQUIRE(s.ip);
  CHECK(s.ip->to_string() == "10.2.0.1");
  CHECK_FALSE(s.knowledge_agent);
  CHECK(m.services[1].knowledge_agent);
  CHECK(m.services[1].ip->family == 6);
  CHECK(m.services[1].address.empty());
  CHECK(m.services[2].id == "42");
}

TEST_CASE("site map: empty documents have no services") {
  SiteMap m;
  std::string error;
  CHECK(parse_site_map("", &m, &error));
  CHECK(parse_site_map("# nothing\n", &m, &error));
  CHECK(parse_site_map("services:\n", &m, &error));
  CHECK(parse_site_map("services: []\n", &m, &error));
  CHECK(m.services.empty());
}

TEST_CASE("site map: errors name the line and the key") {
  std::string error;
  SECTION("unknown service key") {
    REQUIRE(fails("services:\n  - id: a\n    colour: red\n", &error));
    CHECK(error.find("line 3") != std::string::npos);
    CHECK(error.find("services[0].colour") != std::string::npos);
    CHECK(error.find("unknown key") != std::string::npos);
  }
  SECTION("unknown top-level key") {
    REQUIRE(fails("services: []\nrooms: []\n", &error));
    CHECK(error.find("line 2") != std::string::npos);
    CHECK(error.find("rooms") != std::string::npos);
  }
  SECTION("bad address") {
    REQUIRE(fails("services:\n  - id: a\n  - id: b\n    ip: 10.0.0.300\n", &error));
    CHECK(error.find("line 4") != std::string::npos);
    CHECK(error.find("services[1].ip") != std::string::npos);
    CHECK(error.find("10.0.0.300") != std::string::npos);
  }
  SECTION("bad boolean") {
    REQUIRE(fails("services:\n  - id: a\n    knowledge_agent: maybe\n", &error));
    CHECK(error.find("line 3") != std::string::npos);
    CHECK(error.find("knowledge_agent") != std::string::npos);
  }
  SECTION("missing id") {
    REQUIRE(fails("services:\n  - room: Kitchen\n", &error));
    CHECK(error.find("line 2") != std::string::npos);
    CHECK(error.find("services[0].id") != std::string::npos);
  }
  SECTION("duplicate id") {
    REQUIRE(fails("services:\n  - id: a\n  - id: a\n", &error));
    CHECK(error.find("line 3") != std::string::npos);
    CHECK(error.find("duplicate") != std::string::npos);
  }
  SECTION("not a string") {
    REQUIRE(fails("services:\n  - id: a\n    room: [1, 2]\n", &error));
    CHECK(error.find("line 3") != std::string::npos);
    CHECK(error.find("services[0].room") != std::string::npos);
  }
  SECTION("services not a list") {
    REQUIRE(fails("services: 3\n", &error));
    CHECK(error.find("line 1") != std::string::npos);
  }
  SECTION("top level not a mapping") {
    REQUIRE(fails("- id: a\n", &error));
    CHECK(error.find("top level") != std::string::npos);
  }
  SECTION("YAML syntax") {
    REQUIRE(fails("services:\n  - id: a\n    room: [1, 2\n", &error));
    CHECK(error.find("line ") != std::string::npos);
  }
}

TEST_CASE("site map: save and load round trip") {
  SiteMap m;
  SiteService a;
  a.id = "doorlock1";
  a.address = "/agent12/doorlock1";
  a.type = "/doorLockService";
  a.room = "Room, with: \"quotes\" # and a hash";
  a.ip = parse_ip("10.13.0.7");
  m.services.push_back(a);
  SiteService k;
  k.id = "agent12";
  k.address = "/agent12";
  k.ip = parse_ip("2001:db8::12");
  k.knowledge_agent = true;
  m.services.push_back(k);
  SiteService bare;
  bare.id = "true";  // a YAML boolean as text
  m.services.push_back(bare);

  TempDir dir;
  const std::string path = dir.path + "/site.yaml";
  std::string error;
  REQUIRE(save_site_map(path, m, &error));
  SiteMap back;
  REQUIRE(load_site_map(path, &back, &error));
  REQUIRE(back.services.size() == m.services.size());
  for (size_t i = 0; i < m.services.size(); ++i) {
    const SiteService& x = m.services[i];
    const SiteService& y = back.services[i];
    CHECK(x.id == y.id);
    CHECK(x.address == y.address);
    CHECK(x.type == y.type);
    CHECK(x.room == y.room);
    CHECK(x.ip == y.ip);
    CHECK(x.knowledge_agent == y.knowledge_agent);
  }
  std::ifstream tmp(path + ".tmp");
  CHECK_FALSE(tmp.good());  // renamed away
}

TEST_CASE("site map: load and save report file errors") {
  SiteMap m;
  std::string error;
  CHECK_FALSE(load_site_map("/nonexistent/site.yaml", &m, &error));
  CHECK(error.find("/nonexistent/site.yaml") != std::string::npos);
  CHECK_FALSE(save_site_map("/nonexistent/dir/site.yaml", m, &error));
  CHECK(error.find("/nonexistent/dir/site.yaml") != std::string::npos);

  TempDir dir;
  const std::string path = dir.path + "/bad.yaml";
  std::ofstream(path) << "services:\n  - id: a\n    nope: 1\n";
  REQUIRE_FALSE(load_site_map(path, &m, &error));
  CHECK(error.find(path) != std::string::npos);
  CHECK(error.find("line 3") != std::string::npos);
}

TEST_CASE("site map: parse_ip") {
  CHECK(parse_ip("10.0.0.1")->to_string() == "10.0.0.1");
  CHECK(parse_ip("fe80::1")->to_string() == "fe80::1");
  CHECK_FALSE(parse_ip(""));
  CHECK_FALSE(parse_ip("10.0.0"));
  CHECK_FALSE(parse_ip("host.example"));
}
