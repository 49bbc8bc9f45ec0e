# Tests of the control socket and of the control subcommands' output
# (daemon/control.cmake). The CLI cases run the built binary.
add_executable(control_tests
  $<TARGET_OBJECTS:catch_main>
  ${CMAKE_CURRENT_SOURCE_DIR}/daemon/control_test.cc
)
target_link_libraries(control_tests PRIVATE iotwall_control Catch2::Catch2)
target_compile_definitions(control_tests PRIVATE IOTWALL_BIN="$<TARGET_FILE:iotwall>")
add_dependencies(control_tests iotwall)
catch_discover_tests(control_tests)
