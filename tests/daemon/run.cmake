# The inline packet path (daemon/inline_engine.h) on synthetic packets.
add_executable(inline_engine_tests
  $<TARGET_OBJECTS:catch_main>
  ${CMAKE_CURRENT_SOURCE_DIR}/daemon/inline_engine_test.cc
)
target_link_libraries(inline_engine_tests PRIVATE iotwall_inline iotwall_dpi_wire Catch2::Catch2)
catch_discover_tests(inline_engine_tests)

# The daemon inline on a simulated site in network namespaces (root; exits
# 77 = skipped with the reason otherwise). One at a time: it owns NFQUEUE 0
# in its namespaces and a lot of CPU.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME live_inline_site
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/live/inline_test.py $<TARGET_FILE:iotwall>)
set_tests_properties(live_inline_site PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 600)

# kill -9 in a loop under traffic (tests/live/kill9_test.py): no acknowledged
# approval or denial is ever lost or flipped, the database stays intact. Root
# (exits 77 = skipped with the reason otherwise); about a minute; one at a time.
add_test(NAME live_kill9
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/live/kill9_test.py $<TARGET_FILE:iotwall>)
set_tests_properties(live_kill9 PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 300)
