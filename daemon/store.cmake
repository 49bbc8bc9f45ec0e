# daemon/store: the durable state in SQLite (daemon/store.h, docs/state.md).
# Included from daemon/CMakeLists.txt after the iotwall target exists.
find_package(SQLite3 REQUIRED)
add_library(iotwall_store STATIC ${CMAKE_CURRENT_LIST_DIR}/store.cc)
target_link_libraries(iotwall_store PUBLIC iotwall_model PRIVATE SQLite::SQLite3)
target_link_libraries(iotwall PRIVATE iotwall_store)
