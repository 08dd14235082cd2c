# ghostnet_add_module(<name> SOURCES ... DEPENDS ...)
# One library per module folder: public headers in <name>/include/ghostnet/<name>/,
# sources in <name>/src/, exported as ghostnet::<name>.
function(ghostnet_add_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  set(target ghostnet_${name})
  add_library(${target} ${ARG_SOURCES})
  add_library(ghostnet::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME ghostnet_${name}
    EXPORT_NAME ${name}
    POSITION_INDEPENDENT_CODE ON)
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(${target} PUBLIC cxx_std_17)
  target_link_libraries(${target} PUBLIC ${ARG_DEPENDS})
  target_compile_options(${target} PRIVATE ${GHOSTNET_WARNINGS})
  install(TARGETS ${target} EXPORT ghostnetTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()
