# Tests of HTTP/1.1, WebSocket, bodies and the VSL decoder (dpi/vsl.cmake).
add_executable(dpi_vsl_tests
  $<TARGET_OBJECTS:catch_main>
  ${CMAKE_CURRENT_LIST_DIR}/body_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/http_stream_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/vsl_connection_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/websocket_test.cc
)
target_link_libraries(dpi_vsl_tests PRIVATE iotwall_dpi_vsl Catch2::Catch2)
catch_discover_tests(dpi_vsl_tests)
