# Tests of daemon/store (included from tests/CMakeLists.txt). The tests open
# the database with the SQLite API too, to damage it and look inside.
find_package(SQLite3 REQUIRED)
add_executable(store_tests $<TARGET_OBJECTS:catch_main> ${CMAKE_CURRENT_SOURCE_DIR}/daemon/store_test.cc)
target_link_libraries(store_tests PRIVATE iotwall_store iotwall_model SQLite::SQLite3 Catch2::Catch2)
catch_discover_tests(store_tests)
