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

# docs/getting-started.md: its CMakeLists.txt (the ```cmake block) and
# main.cpp (the ```cpp block), built as a project of their own below.
file(READ ${GETTING_STARTED} guide)
foreach(lang cmake cpp)
  string(FIND "${guide}" "```${lang}\n" begin)
  if(begin EQUAL -1)
    message(FATAL_ERROR "docs/getting-started.md has no ${lang} block")
  endif()
  string(SUBSTRING "${guide}" ${begin} -1 rest)
  string(LENGTH "```${lang}\n" skip)
  string(SUBSTRING "${rest}" ${skip} -1 rest)
  string(FIND "${rest}" "```" end)
  string(SUBSTRING "${rest}" 0 ${end} block_${lang})
endforeach()
file(WRITE ${WORK_DIR}/upper/CMakeLists.txt "${block_cmake}")
file(WRITE ${WORK_DIR}/upper/main.cpp "${block_cpp}")

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

# The guide's service: built as the guide says, run, and talked to with nc.
set(upper_flags "")
if(GHOSTNET_SANITIZE)
  set(upper_flags "-DCMAKE_CXX_FLAGS=-fsanitize=${GHOSTNET_SANITIZE}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${WORK_DIR}/upper -B ${WORK_DIR}/upper/build
                        -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix ${upper_flags}
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the getting-started service failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/upper/build
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the getting-started service failed: ${rc}")
endif()
set(ready ${WORK_DIR}/upper/ready.json)
execute_process(
  COMMAND timeout 30 sh -c "
    ${WORK_DIR}/upper/build/upper --upper.port=0 --ready-file=${ready} & pid=$!
    for i in $(seq 100); do [ -s ${ready} ] && break; sleep 0.1; done
    port=$(sed -n 's/.*127.0.0.1:\\([0-9]*\\).*/\\1/p' ${ready})
    printf 'hello, supervised world\\n' | nc -N 127.0.0.1 $port
    kill -TERM $pid; wait $pid"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out STREQUAL "HELLO, SUPERVISED WORLD\n")
  message(FATAL_ERROR "the getting-started service: rc=${rc} out=[${out}] err=${err}")
endif()
message(STATUS "the getting-started service answered: ${out}")
