# Finds nghttp2 (Debian: libnghttp2-dev), the HTTP/2 frame layer of
# ghostnet's HTTP server. Defines the imported target nghttp2::nghttp2 and
# NGHTTP2_VERSION.
find_path(NGHTTP2_INCLUDE_DIR nghttp2/nghttp2.h)
find_library(NGHTTP2_LIBRARY NAMES nghttp2)
if(NGHTTP2_INCLUDE_DIR AND EXISTS "${NGHTTP2_INCLUDE_DIR}/nghttp2/nghttp2ver.h")
  file(STRINGS "${NGHTTP2_INCLUDE_DIR}/nghttp2/nghttp2ver.h" _nghttp2_version
       REGEX "^#define NGHTTP2_VERSION \"[^\"]+\"")
  string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" NGHTTP2_VERSION "${_nghttp2_version}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(NGHTTP2
  REQUIRED_VARS NGHTTP2_LIBRARY NGHTTP2_INCLUDE_DIR
  VERSION_VAR NGHTTP2_VERSION)
if(NGHTTP2_FOUND AND NOT TARGET nghttp2::nghttp2)
  add_library(nghttp2::nghttp2 UNKNOWN IMPORTED)
  set_target_properties(nghttp2::nghttp2 PROPERTIES
    IMPORTED_LOCATION "${NGHTTP2_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${NGHTTP2_INCLUDE_DIR}")
endif()
mark_as_advanced(NGHTTP2_INCLUDE_DIR NGHTTP2_LIBRARY)
