# cmake -DPROGRAM=<path to pool-demo> -P check_pool_demo_sample.cmake
# Runs the sample bounded and checks what it printed and how it exited.
if(NOT PROGRAM)
  message(FATAL_ERROR "PROGRAM is not set")
endif()
execute_process(COMMAND ${PROGRAM} --duration=6
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 45)
message("${out}")
if(err)
  message("stderr:\n${err}")
endif()
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "pool-demo exited with '${rc}', expected 0")
endif()
foreach(pattern
    "size=8 "                          # the pool filled up to its limit
    "--- backend stopped"              # the operator stopped the backend
    "breaker=open"                     # connects failed: the breaker opened
    "--- backend restarted.*breaker=closed" # ... and closed once it was back
    "done: ok=[1-9]")                  # requests went through
  if(NOT out MATCHES "${pattern}")
    message(FATAL_ERROR "pool-demo printed nothing matching '${pattern}'")
  endif()
endforeach()
