// How ghostnet renders values (ghostnet/actors/format.hpp): durations read
// back by the config parser, quoting, and JSON strings that stay valid for
// any bytes.

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

#include "ghostnet/actors/format.hpp"

using namespace ghostnet;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(format)

BOOST_AUTO_TEST_CASE(durations_use_the_largest_unit_that_divides_them) {
  BOOST_TEST(format_duration(caf::timespan{0}) == "0s");
  BOOST_TEST(format_duration(250ms) == "250ms");
  BOOST_TEST(format_duration(5000ms) == "5s");
  BOOST_TEST(format_duration(120s) == "2min");
  BOOST_TEST(format_duration(2h) == "2h");
  BOOST_TEST(format_duration(1500us) == "1500us");
  BOOST_TEST(format_duration(3ns) == "3ns");
  BOOST_TEST(format_duration(-250ms) == "-250ms");
  std::string out = "timeout=";
  append_duration(out, 90s);
  BOOST_TEST(out == "timeout=90s");
}

BOOST_AUTO_TEST_CASE(quoted_wraps_in_double_quotes) {
  BOOST_TEST(quoted("x.pem") == "\"x.pem\"");
  BOOST_TEST(quoted("") == "\"\"");
}

BOOST_AUTO_TEST_CASE(json_strings_escape_and_replace_invalid_utf8) {
  std::string out;
  append_json_string(out, "a\"b\\c\n\t\x01");
  BOOST_TEST(out == "\"a\\\"b\\\\c\\n\\t\\u0001\"");
  out.clear();
  append_json_string(out, "caf\xc3\xa9"); // valid UTF-8 stays as it is
  BOOST_TEST(out == "\"caf\xc3\xa9\"");
  out.clear();
  append_json_string(out, "\xff\xc3"); // a stray byte, a cut sequence
  BOOST_TEST(out == "\"\\ufffd\\ufffd\"");
  out.clear();
  append_json_string(out, "\xed\xa0\x80"); // a surrogate is not UTF-8
  BOOST_TEST(out == "\"\\ufffd\\ufffd\\ufffd\"");
}

BOOST_AUTO_TEST_SUITE_END()
