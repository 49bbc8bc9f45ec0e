#include "dpi/pcap_source.h"

#include <pcap/pcap.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace iotwall::dpi;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("iotwall_pcap_test_" + std::to_string(getpid()) + "_" + name))
      .string();
}

struct Written {
  int64_t ts_us;
  std::vector<uint8_t> bytes;
  uint32_t origlen;
};

// Writes `packets` with libpcap itself; caplen is bytes.size().
void write_pcap(const std::string& path, int dlt, const std::vector<Written>& packets) {
  pcap_t* dead = pcap_open_dead(dlt, 65535);
  REQUIRE(dead != nullptr);
  pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
  REQUIRE(d != nullptr);
  for (const Written& w : packets) {
    pcap_pkthdr h{};
    h.ts.tv_sec = w.ts_us / 1'000'000;
    h.ts.tv_usec = w.ts_us % 1'000'000;
    h.caplen = static_cast<uint32_t>(w.bytes.size());
    h.len = w.origlen;
    pcap_dump(reinterpret_cast<u_char*>(d), &h, w.bytes.data());
  }
  pcap_dump_close(d);
  pcap_close(dead);
}

// Ethernet + IPv4 + UDP 10.0.0.1:1234 -> 10.0.0.2:1234 carrying "ka".
std::vector<uint8_t> udp_frame() {
  return {0,  1,  2, 3, 4,  5, 6, 7, 8,  9, 10, 11, 0x08, 0x00, 0x45, 0,    0, 30, 0, 0, 0,   0,
          64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0,  2,  0x04, 0xD2, 0x04, 0xD2, 0, 10, 0, 0, 'k', 'a'};
}

}  // namespace

TEST_CASE("a pcap written by libpcap reads back packet by packet", "[pcap]") {
  const std::string path = temp_path("ok.pcap");
  const std::vector<uint8_t> frame = udp_frame();
  const std::vector<uint8_t> cut(frame.begin(), frame.begin() + 20);
  write_pcap(path, DLT_EN10MB,
             {{1'700'000'000'123'456, frame, static_cast<uint32_t>(frame.size())},
              {1'700'000'001'000'001, cut, static_cast<uint32_t>(frame.size())}});
  std::string error;
  auto src = PcapSource::open_file(path, &error);
  REQUIRE(src != nullptr);
  CHECK(error.empty());
  CHECK(src->link_type() == LinkType::kEthernet);
  CHECK(src->datalink() == DLT_EN10MB);

  RawPacket raw;
  REQUIRE(src->next(&raw));
  CHECK(raw.ts_us == 1'700'000'000'123'456);
  CHECK(raw.caplen == frame.size());
  CHECK(raw.origlen == frame.size());
  CHECK(std::vector<uint8_t>(raw.data.begin(), raw.data.end()) == frame);
  Packet p;
  REQUIRE(parse_packet(src->link_type(), raw.data, &p) == ParseStatus::kOk);
  CHECK(p.dst.to_string() == "10.0.0.2:1234");
  CHECK(std::string(p.payload.begin(), p.payload.end()) == "ka");

  REQUIRE(src->next(&raw));
  CHECK(raw.ts_us == 1'700'000'001'000'001);
  CHECK(raw.caplen == 20);
  CHECK(raw.origlen == frame.size());
  CHECK(parse_packet(src->link_type(), raw.data, &p) == ParseStatus::kTruncatedIp);

  CHECK_FALSE(src->next(&raw));
  CHECK(src->at_end());
  CHECK(src->error().empty());
  CHECK_FALSE(src->next(&raw));
  CHECK(src->packets() == 2);
  CHECK(src->truncated() == 1);
  std::remove(path.c_str());
}

TEST_CASE("a capture filter applies to files", "[pcap]") {
  const std::string path = temp_path("filter.pcap");
  const std::vector<uint8_t> frame = udp_frame();
  write_pcap(path, DLT_EN10MB, {{1, frame, static_cast<uint32_t>(frame.size())}});
  std::string error;
  auto src = PcapSource::open_file(path, &error);
  REQUIRE(src != nullptr);
  CHECK_FALSE(src->set_filter("tcp and (", &error));
  CHECK(error.find("bad capture filter") != std::string::npos);
  REQUIRE(src->set_filter("tcp", &error));
  RawPacket raw;
  CHECK_FALSE(src->next(&raw));
  CHECK(src->at_end());
  std::remove(path.c_str());
}

TEST_CASE("cooked and raw captures map their link types", "[pcap]") {
  for (int dlt : {DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_NULL}) {
    const std::string path = temp_path("dlt" + std::to_string(dlt) + ".pcap");
    write_pcap(path, dlt, {});
    std::string error;
    auto src = PcapSource::open_file(path, &error);
    REQUIRE(src != nullptr);
    CHECK(src->link_type() == link_type_from_dlt(dlt));
    std::remove(path.c_str());
  }
}

TEST_CASE("clear errors: missing file, not a capture, unsupported link type", "[pcap]") {
  std::string error;
  const std::string missing = temp_path("does_not_exist.pcap");
  CHECK(PcapSource::open_file(missing, &error) == nullptr);
  CHECK(error.find(missing) != std::string::npos);
  CHECK(error.find("No such file") != std::string::npos);

  const std::string text = temp_path("text.pcap");
  std::ofstream(text) << "this is not a capture file, just some text\n";
  error.clear();
  CHECK(PcapSource::open_file(text, &error) == nullptr);
  CHECK(error.find(text) != std::string::npos);
  CHECK(error.find("format") != std::string::npos);
  std::remove(text.c_str());

  const std::string wifi = temp_path("wifi.pcap");
  write_pcap(wifi, DLT_IEEE802_11, {});
  error.clear();
  CHECK(PcapSource::open_file(wifi, &error) == nullptr);
  CHECK(error.find("unsupported link type") != std::string::npos);
  CHECK(error.find("IEEE802_11") != std::string::npos);
  std::remove(wifi.c_str());
}

TEST_CASE("a live capture on a missing interface fails cleanly", "[pcap]") {
  std::string error;
  CHECK(PcapSource::open_live("iotwall-no-such-if0", LiveOptions{}, &error) == nullptr);
  CHECK(error.find("iotwall-no-such-if0") != std::string::npos);
}
