# cmake -DPROGRAM=<path to supervision-tree> -P check_supervision_tree_sample.cmake
# Runs the sample bounded and checks what it printed and how it exited.
if(NOT PROGRAM)
  message(FATAL_ERROR "PROGRAM is not set")
endif()
execute_process(COMMAND ${PROGRAM} --duration=3
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 45)
message("${out}")
if(err)
  message("stderr:\n${err}")
endif()
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "supervision-tree exited with '${rc}', expected 0")
endif()
foreach(pattern
    "child_restarted"              # a restart
    "restart_scheduled .*delay=[0-9]+ms" # a backoff delay
    "gave_up"                      # a supervisor that gave up
    "supervisor_stopped")          # the orderly stop at the end
  if(NOT out MATCHES "${pattern}")
    message(FATAL_ERROR "supervision-tree printed nothing matching '${pattern}'")
  endif()
endforeach()
