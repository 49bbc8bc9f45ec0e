# TLS: handshake observation, X.509 identity, and synthesis for the simulator.
add_library(iotwall_dpi_tls STATIC
  ${CMAKE_CURRENT_LIST_DIR}/cert_factory.cc
  ${CMAKE_CURRENT_LIST_DIR}/tls_observer.cc
  ${CMAKE_CURRENT_LIST_DIR}/tls_writer.cc
  ${CMAKE_CURRENT_LIST_DIR}/x509_identity.cc
)
target_link_libraries(iotwall_dpi_tls PUBLIC iotwall_dpi_core OpenSSL::Crypto)
