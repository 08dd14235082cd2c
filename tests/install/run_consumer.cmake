# Installs the build tree into a scratch prefix, then configures, builds and
# runs a consumer project that finds ghostnet with find_package(ghostnet).
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${GHOSTNET_BINARY_DIR}
                        --prefix ${WORK_DIR}/prefix
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "install failed: ${rc}")
endif()
# The README's service: the ```cpp block after "A small service".
file(READ ${README} readme)
string(FIND "${readme}" "A small service" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README.md has no \"A small service\" section")
endif()
string(SUBSTRING "${readme}" ${at} -1 readme)
string(FIND "${readme}" "```cpp\n" begin)
string(SUBSTRING "${readme}" ${begin} -1 readme)
string(LENGTH "```cpp\n" skip)
string(SUBSTRING "${readme}" ${skip} -1 readme)
string(FIND "${readme}" "```" end)
string(SUBSTRING "${readme}" 0 ${end} snippet)
file(WRITE ${WORK_DIR}/readme_service.cpp "${snippet}")

set(flags "-DREADME_SERVICE=${WORK_DIR}/readme_service.cpp")
if(GHOSTNET_SANITIZE)
  list(APPEND flags "-DCMAKE_CXX_FLAGS=-fsanitize=${GHOSTNET_SANITIZE}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR}
                        -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
                        ${flags}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the consumer failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the consumer failed: ${rc}")
endif()
execute_process(COMMAND ${WORK_DIR}/build/consumer
                RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message(STATUS "consumer said: ${out}")
if(NOT rc EQUAL 0 OR NOT out MATCHES "consumer ok")
  message(FATAL_ERROR "the consumer failed: ${rc}")
endif()

# The README's service: --help works, a bad flag is refused with exit 2
# naming it (it is not started: its port is fixed).
execute_process(COMMAND ${WORK_DIR}/build/readme_service --help
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "--log-level")
  message(FATAL_ERROR "readme_service --help: ${rc} ${out} ${err}")
endif()
execute_process(COMMAND ${WORK_DIR}/build/readme_service --lgo-level=debug
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 2 OR NOT err MATCHES "lgo-level")
  message(FATAL_ERROR "readme_service with a bad flag: ${rc} ${out} ${err}")
endif()
message(STATUS "the README's service refused a bad flag: ${err}")
