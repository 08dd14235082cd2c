# cmake -DPROGRAM=<sample> -DARGS=<arg;...> -DPATTERNS=<regex;...> -P check_sample.cmake
# Runs a sample bounded, as a user would, and checks that it exited 0 and
# printed something matching every pattern.
if(NOT PROGRAM)
  message(FATAL_ERROR "PROGRAM is not set")
endif()
execute_process(COMMAND ${PROGRAM} ${ARGS}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 45)
message("${out}")
if(err)
  message("stderr:\n${err}")
endif()
get_filename_component(name "${PROGRAM}" NAME)
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "${name} exited with '${rc}', expected 0")
endif()
foreach(pattern IN LISTS PATTERNS)
  if(NOT out MATCHES "${pattern}")
    message(FATAL_ERROR "${name} printed nothing matching '${pattern}'")
  endif()
endforeach()
