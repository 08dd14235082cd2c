# Fails on a markdown link to a file that is not in the repository: the
# README and docs/ must not point at what was moved, renamed or never
# written. Run by CTest as docs_links (-DSOURCE_DIR=<repo>).
file(GLOB docs ${SOURCE_DIR}/*.md ${SOURCE_DIR}/docs/*.md ${SOURCE_DIR}/*/README.md)
set(broken "")
foreach(md IN LISTS docs)
  file(READ ${md} text)
  get_filename_component(dir ${md} DIRECTORY)
  # Code is not prose: a lambda's [&](x) is no link.
  string(REGEX REPLACE "```[^`]*```" "" text "${text}")
  string(REGEX REPLACE "`[^`\n]*`" "" text "${text}")
  # Square brackets keep CMake from splitting a list: a link becomes
  # @LINK@target) first, and the brackets go.
  string(REPLACE "](" "@LINK@" text "${text}")
  string(REPLACE "[" "" text "${text}")
  string(REPLACE "]" "" text "${text}")
  string(REGEX MATCHALL "@LINK@[^) \t\n;]+[)]" links "${text}")
  foreach(link IN LISTS links)
    string(REGEX REPLACE "^@LINK@([^)#]*).*[)]$" "\\1" target "${link}")
    if(target STREQUAL "" OR target MATCHES "^(https?|mailto):")
      continue()
    endif()
    get_filename_component(full "${dir}/${target}" ABSOLUTE)
    string(FIND "${full}" "${SOURCE_DIR}/" inside)
    if(NOT EXISTS "${full}" OR NOT inside EQUAL 0)
      string(APPEND broken "\n  ${md}: ${target}")
    endif()
  endforeach()
endforeach()
list(LENGTH docs count)
if(broken)
  message(FATAL_ERROR "links to files that are not in the repository:${broken}")
endif()
message(STATUS "${count} markdown files, every link to a file resolves")
