# Tests of the dpi packet layer (dpi/packet.cmake).
add_executable(dpi_packet_tests
  $<TARGET_OBJECTS:catch_main>
  ${CMAKE_CURRENT_LIST_DIR}/packet_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/reassembly_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/flow_table_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/pcap_source_test.cc
)
target_link_libraries(dpi_packet_tests PRIVATE iotwall_dpi_packet Catch2::Catch2)
catch_discover_tests(dpi_packet_tests)
