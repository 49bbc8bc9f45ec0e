# Unit tests of the TLS part of dpi/. OpenSSL's imported targets are
# directory-scoped: find it here too.
find_package(OpenSSL 3 REQUIRED)
add_executable(dpi_tls_tests
  $<TARGET_OBJECTS:catch_main>
  ${CMAKE_CURRENT_LIST_DIR}/tls_observer_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/tls_writer_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/x509_identity_test.cc
)
target_link_libraries(dpi_tls_tests PRIVATE iotwall_dpi_tls OpenSSL::SSL Catch2::Catch2)
catch_discover_tests(dpi_tls_tests)
