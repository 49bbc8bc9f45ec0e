# The inline packet path (daemon/inline_engine.h) on synthetic packets.
add_executable(inline_engine_tests
  $<TARGET_OBJECTS:catch_main>
  ${CMAKE_CURRENT_SOURCE_DIR}/daemon/inline_engine_test.cc
)
target_link_libraries(inline_engine_tests PRIVATE iotwall_inline iotwall_dpi_wire Catch2::Catch2)
catch_discover_tests(inline_engine_tests)
