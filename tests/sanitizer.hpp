#pragma once

// Whether the test runs under AddressSanitizer: heap figures (mallinfo2)
// mean nothing there, so tests that check them skip that part.

namespace ghostnet::test {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool under_sanitizer = true;
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
constexpr bool under_sanitizer = true;
#  else
constexpr bool under_sanitizer = false;
#  endif
#else
constexpr bool under_sanitizer = false;
#endif

} // namespace ghostnet::test
