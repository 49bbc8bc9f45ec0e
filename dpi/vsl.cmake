# HTTP/1.1, WebSocket, JSON/CBOR bodies and the VSL decoder (plaintext).
add_library(iotwall_dpi_vsl STATIC
  ${CMAKE_CURRENT_LIST_DIR}/cbor_body.cc
  ${CMAKE_CURRENT_LIST_DIR}/decode_counters.cc
  ${CMAKE_CURRENT_LIST_DIR}/directory.cc
  ${CMAKE_CURRENT_LIST_DIR}/http_stream.cc
  ${CMAKE_CURRENT_LIST_DIR}/json_body.cc
  ${CMAKE_CURRENT_LIST_DIR}/vsl_connection.cc
  ${CMAKE_CURRENT_LIST_DIR}/websocket.cc
)
# Boost.Beast's HTTP parser (header-only) stays inside http_stream.cc and
# decode_counters.cc; libcbor's streaming decoder (CborBody) inside cbor_body.cc.
pkg_check_modules(CBOR REQUIRED IMPORTED_TARGET libcbor)
target_link_libraries(iotwall_dpi_vsl PRIVATE PkgConfig::CBOR Boost::headers)
target_link_libraries(iotwall_dpi_vsl PUBLIC
  iotwall_dpi_core iotwall_model absl::flat_hash_map
  simdjson::simdjson nlohmann_json::nlohmann_json)
