# iotwall_live: the live test site (docs/live-site.md): a Knowledge Agent's
# VSL REST interface (`iotwall serve-ka`) and a driver sending a trace's
# accesses as real HTTP (`iotwall drive`). Included from daemon/CMakeLists.txt
# after the iotwall target.
# The test site speaks HTTP through http-parser: another implementation than
# the firewall's (Boost.Beast), so each checks the other.
find_library(HTTP_PARSER_LIB http_parser REQUIRED)
find_path(HTTP_PARSER_INCLUDE http_parser.h REQUIRED)

add_library(iotwall_live STATIC
  ${CMAKE_CURRENT_LIST_DIR}/live_ka.cc
  ${CMAKE_CURRENT_LIST_DIR}/live_driver.cc
)
target_include_directories(iotwall_live PUBLIC ${HTTP_PARSER_INCLUDE})
target_link_libraries(iotwall_live PUBLIC
  iotwall_dpi_wire iotwall_model ${HTTP_PARSER_LIB} nlohmann_json::nlohmann_json)

target_sources(iotwall PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/cmd_serve_ka.cc
  ${CMAKE_CURRENT_LIST_DIR}/cmd_drive.cc
)
target_link_libraries(iotwall PRIVATE iotwall_live)
