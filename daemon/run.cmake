# iotwall run: the inline firewall daemon. The packet path (InlineEngine:
# DPI -> detector -> policy -> tickets) is a library of its own so tests
# drive it with synthetic packets; the rest (queue workers, store writer,
# control handler, packet rules, the command) goes into the binary.
# Included from daemon/CMakeLists.txt after the iotwall target exists.
find_package(PkgConfig REQUIRED)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)

add_library(iotwall_inline STATIC
  ${CMAKE_CURRENT_LIST_DIR}/inline_engine.cc
  ${CMAKE_CURRENT_LIST_DIR}/log.cc
)
target_link_libraries(iotwall_inline PUBLIC iotwall_dpi iotwall_model iotwall_config absl::flat_hash_map absl::flat_hash_set)

if(TARGET iotwall_firewall)
  target_sources(iotwall PRIVATE
    ${CMAKE_CURRENT_LIST_DIR}/cmd_run.cc
    ${CMAKE_CURRENT_LIST_DIR}/control_handler.cc
    ${CMAKE_CURRENT_LIST_DIR}/packet_rules.cc
    ${CMAKE_CURRENT_LIST_DIR}/queue_worker.cc
    ${CMAKE_CURRENT_LIST_DIR}/store_writer.cc
  )
  target_link_libraries(iotwall PRIVATE iotwall_inline iotwall_firewall iotwall_store iotwall_control PkgConfig::SYSTEMD)
endif()
