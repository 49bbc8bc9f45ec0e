# Tests of the daemon's configuration (daemon/config.cmake) and of the
# systemd unit. Included from tests/CMakeLists.txt.
add_executable(config_tests $<TARGET_OBJECTS:catch_main> ${CMAKE_CURRENT_SOURCE_DIR}/daemon/config_test.cc)
target_link_libraries(config_tests PRIVATE iotwall_config Catch2::Catch2)
target_compile_definitions(config_tests PRIVATE
  IOTWALL_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  IOTWALL_BIN="$<TARGET_FILE:iotwall>")
add_dependencies(config_tests iotwall)
catch_discover_tests(config_tests)

# `systemd-analyze verify` on systemd/iotwall.service with @SBINDIR@ set to
# the built binary's directory (skips visibly without systemd-analyze).
add_test(NAME systemd_unit_verify
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/daemon/verify_unit.sh
          ${PROJECT_SOURCE_DIR}/systemd/iotwall.service $<TARGET_FILE:iotwall>)
set_tests_properties(systemd_unit_verify PROPERTIES SKIP_RETURN_CODE 77)
