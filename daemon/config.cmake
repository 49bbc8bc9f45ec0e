# iotwall_config: the daemon's YAML configuration (daemon/config.h,
# docs/configuration.md) and `iotwall check-config`. Included from
# daemon/CMakeLists.txt after the iotwall target.
find_package(yaml-cpp REQUIRED)

add_library(iotwall_config STATIC ${CMAKE_CURRENT_LIST_DIR}/config.cc)
# dpi/site_map.{h,cc} (SiteMap, parse_site_map) live in iotwall_dpi_wire.
target_link_libraries(iotwall_config PUBLIC iotwall_dpi_wire yaml-cpp)

target_sources(iotwall PRIVATE ${CMAKE_CURRENT_LIST_DIR}/cmd_check_config.cc)
target_link_libraries(iotwall PRIVATE iotwall_config)
