# iotwall_dpi_wire: the simulator on the wire (`iotwall sim --pcap`) and the
# site map file. See docs/site-map.md and docs/simulator.md.
find_package(yaml-cpp REQUIRED)

add_library(iotwall_dpi_wire STATIC
  ${CMAKE_CURRENT_LIST_DIR}/pcap_writer.cc
  ${CMAKE_CURRENT_LIST_DIR}/site_map.cc
  ${CMAKE_CURRENT_LIST_DIR}/site_wire.cc
  ${CMAKE_CURRENT_LIST_DIR}/tcp_writer.cc
  ${CMAKE_CURRENT_LIST_DIR}/vsl_writer.cc
)
target_link_libraries(iotwall_dpi_wire PUBLIC
  iotwall_dpi_core iotwall_dpi_tls iotwall_model PkgConfig::PCAP yaml-cpp nlohmann_json::nlohmann_json)
target_link_libraries(iotwall_dpi_wire PRIVATE OpenSSL::Crypto)
