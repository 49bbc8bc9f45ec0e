# dpi packet layer: parsing, TCP flow table and reassembly, pcap input.
add_library(iotwall_dpi_packet STATIC
  ${CMAKE_CURRENT_LIST_DIR}/packet.cc
  ${CMAKE_CURRENT_LIST_DIR}/reassembly.cc
  ${CMAKE_CURRENT_LIST_DIR}/flow_table.cc
  ${CMAKE_CURRENT_LIST_DIR}/pcap_source.cc
)
target_link_libraries(iotwall_dpi_packet PUBLIC iotwall_dpi_core absl::flat_hash_map PkgConfig::PCAP)
