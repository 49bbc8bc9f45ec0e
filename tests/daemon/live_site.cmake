# Tests of the live test site (daemon/live_site.cmake): the KA server, the
# driver, their CLI, and tests/live/netns.sh (its test skips without root).
find_package(Threads REQUIRED)
add_executable(live_site_tests
  $<TARGET_OBJECTS:catch_main>
  ${CMAKE_CURRENT_SOURCE_DIR}/daemon/live_site_test.cc
)
target_link_libraries(live_site_tests PRIVATE
  iotwall_live iotwall_dpi Catch2::Catch2 Threads::Threads nlohmann_json::nlohmann_json)
target_compile_definitions(live_site_tests PRIVATE
  IOTWALL_BIN="$<TARGET_FILE:iotwall>"
  IOTWALL_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(live_site_tests iotwall)
catch_discover_tests(live_site_tests)
