# Tests of the simulator on the wire and the site map (dpi/wire.cmake).
add_executable(dpi_wire_tests
  $<TARGET_OBJECTS:catch_main>
  ${CMAKE_CURRENT_LIST_DIR}/site_map_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/site_wire_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/capture_decoder_test.cc
)
target_link_libraries(dpi_wire_tests PRIVATE iotwall_dpi iotwall_dpi_wire Catch2::Catch2)
catch_discover_tests(dpi_wire_tests)
