# The control socket (server in the daemon, client in the CLI) and the
# control subcommands: iotwall pending, approve, deny, status, graph.
find_package(Threads REQUIRED)
add_library(iotwall_control STATIC ${CMAKE_CURRENT_SOURCE_DIR}/control_socket.cc)
target_link_libraries(iotwall_control PUBLIC nlohmann_json::nlohmann_json Threads::Threads)

target_sources(iotwall PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/cmd_control.cc)
target_link_libraries(iotwall PRIVATE iotwall_control)
