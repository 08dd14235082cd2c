// ghostnet's error category: codes, context, rendering, errno mapping.

#include "ghostnet/actors/error.hpp"

#include <cerrno>
#include <cstring>
#include <set>
#include <string>

#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>

using namespace ghostnet;

namespace {

constexpr auto first_errc = static_cast<int>(errc::connection_refused);
constexpr auto last_errc = static_cast<int>(errc::circuit_open);

} // namespace

BOOST_AUTO_TEST_CASE(make_error_round_trips_code_and_context) {
  auto err = make_error(errc::timeout, "connect", "10.0.0.1:80", ETIMEDOUT,
                        "no SYN-ACK");
  BOOST_REQUIRE(err);
  BOOST_CHECK(err.category() == error_category);
  BOOST_CHECK(code_of(err) == errc::timeout);
  BOOST_CHECK(is(err, errc::timeout));
  BOOST_CHECK(!is(err, errc::connection_refused));
  auto ctx = context_of(err);
  BOOST_CHECK_EQUAL(ctx.operation, "connect");
  BOOST_CHECK_EQUAL(ctx.endpoint, "10.0.0.1:80");
  BOOST_CHECK_EQUAL(ctx.os_errno, ETIMEDOUT);
  BOOST_CHECK_EQUAL(ctx.detail, "no SYN-ACK");
}

BOOST_AUTO_TEST_CASE(make_error_without_context_has_empty_context) {
  auto err = make_error(errc::pool_exhausted);
  BOOST_CHECK(is(err, errc::pool_exhausted));
  auto ctx = context_of(err);
  BOOST_CHECK(ctx.operation.empty());
  BOOST_CHECK(ctx.endpoint.empty());
  BOOST_CHECK_EQUAL(ctx.os_errno, 0);
  BOOST_CHECK(ctx.detail.empty());
  BOOST_CHECK_EQUAL(describe(err), "pool_exhausted");
}

BOOST_AUTO_TEST_CASE(errors_of_other_categories_have_no_ghostnet_code) {
  caf::error none;
  BOOST_CHECK(!code_of(none));
  BOOST_CHECK(!is(none, errc::timeout));
  caf::error sec = caf::make_error(caf::sec::request_timeout);
  BOOST_CHECK(!code_of(sec));
  // Same numeric code, other category: still not ours.
  caf::error same_code{static_cast<uint8_t>(errc::timeout), caf::atom("other")};
  BOOST_CHECK(!is(same_code, errc::timeout));
  BOOST_CHECK(context_of(sec).operation.empty());
}

BOOST_AUTO_TEST_CASE(describe_renders_operation_endpoint_errno_and_detail) {
  auto err = make_error(errc::timeout, "connect", "10.0.0.1:80", ETIMEDOUT,
                        "gave up");
  auto expected = std::string{"timeout(operation=\"connect\", "
                              "endpoint=\"10.0.0.1:80\", errno="}
                  + std::to_string(ETIMEDOUT) + " (" + std::strerror(ETIMEDOUT)
                  + "), detail=\"gave up\")";
  BOOST_CHECK_EQUAL(describe(err), expected);
}

BOOST_AUTO_TEST_CASE(describe_omits_empty_context_fields) {
  BOOST_CHECK_EQUAL(describe(make_error(errc::invalid_address, "resolve")),
                    "invalid_address(operation=\"resolve\")");
  BOOST_CHECK_EQUAL(describe(make_error(errc::protocol_error, "decode frame",
                                        {}, 0, "too long")),
                    "protocol_error(operation=\"decode frame\", "
                    "detail=\"too long\")");
}

BOOST_AUTO_TEST_CASE(describe_escapes_quotes_and_backslashes) {
  auto err = make_error(errc::invalid_configuration, "parse", {}, 0,
                        R"(bad "x\y")");
  BOOST_CHECK_EQUAL(describe(err),
                    R"(invalid_configuration(operation="parse", detail="bad \"x\\y\""))");
}

BOOST_AUTO_TEST_CASE(describe_names_caf_errors_and_no_error) {
  BOOST_CHECK_EQUAL(describe(caf::error{}), "none");
  BOOST_CHECK_EQUAL(describe(caf::make_error(caf::sec::request_timeout)),
                    "caf::sec::request_timeout");
  BOOST_CHECK_EQUAL(describe(caf::make_error(caf::exit_reason::kill)),
                    "caf::exit_reason::kill");
}

BOOST_AUTO_TEST_CASE(errc_from_errno_maps_socket_errors) {
  BOOST_CHECK(errc_from_errno(ECONNREFUSED) == errc::connection_refused);
  BOOST_CHECK(errc_from_errno(ECONNRESET) == errc::connection_reset);
  BOOST_CHECK(errc_from_errno(EPIPE) == errc::connection_reset);
  BOOST_CHECK(errc_from_errno(ECONNABORTED) == errc::connection_reset);
  BOOST_CHECK(errc_from_errno(ETIMEDOUT) == errc::timeout);
  BOOST_CHECK(errc_from_errno(ENETUNREACH) == errc::network_unreachable);
  BOOST_CHECK(errc_from_errno(EHOSTUNREACH) == errc::network_unreachable);
  BOOST_CHECK(errc_from_errno(EADDRINUSE) == errc::address_in_use);
  BOOST_CHECK(errc_from_errno(EADDRNOTAVAIL) == errc::invalid_address);
  BOOST_CHECK(errc_from_errno(EMFILE) == errc::out_of_resources);
  BOOST_CHECK(errc_from_errno(ENFILE) == errc::out_of_resources);
  BOOST_CHECK(errc_from_errno(ENOBUFS) == errc::out_of_resources);
  BOOST_CHECK(errc_from_errno(ENOMEM) == errc::out_of_resources);
  BOOST_CHECK(errc_from_errno(EBADF) == errc::io_error);
  BOOST_CHECK(errc_from_errno(0) == errc::io_error);
}

BOOST_AUTO_TEST_CASE(make_os_error_keeps_the_errno) {
  auto err = make_os_error(ECONNREFUSED, "connect", "127.0.0.1:1");
  BOOST_CHECK(is(err, errc::connection_refused));
  auto ctx = context_of(err);
  BOOST_CHECK_EQUAL(ctx.operation, "connect");
  BOOST_CHECK_EQUAL(ctx.endpoint, "127.0.0.1:1");
  BOOST_CHECK_EQUAL(ctx.os_errno, ECONNREFUSED);
}

BOOST_AUTO_TEST_CASE(temporary_errors_are_worth_a_retry) {
  BOOST_CHECK(is_temporary(errc::connection_refused));
  BOOST_CHECK(is_temporary(errc::connection_reset));
  BOOST_CHECK(is_temporary(errc::timeout));
  BOOST_CHECK(is_temporary(errc::network_unreachable));
  BOOST_CHECK(is_temporary(errc::out_of_resources));
  BOOST_CHECK(is_temporary(errc::pool_exhausted));
  BOOST_CHECK(is_temporary(errc::circuit_open));
  BOOST_CHECK(!is_temporary(errc::invalid_configuration));
  BOOST_CHECK(!is_temporary(errc::protocol_error));
  BOOST_CHECK(!is_temporary(errc::invalid_address));
  BOOST_CHECK(!is_temporary(errc::duplicate_child));
  BOOST_CHECK(!is_temporary(errc::restart_intensity_exceeded));
}

BOOST_AUTO_TEST_CASE(circuit_open_is_named_and_temporary) {
  BOOST_CHECK_EQUAL(std::string{to_string(errc::circuit_open)}, "circuit_open");
  BOOST_CHECK(is_temporary(errc::circuit_open));
  auto err = make_error(errc::circuit_open, "acquire", "127.0.0.1:1", 0,
                        "every circuit breaker is open");
  BOOST_CHECK(is(err, errc::circuit_open));
  BOOST_CHECK_EQUAL(context_of(err).detail, "every circuit breaker is open");
}

BOOST_AUTO_TEST_CASE(every_errc_has_a_distinct_name) {
  std::set<std::string> names;
  for (int i = first_errc; i <= last_errc; ++i) {
    auto name = std::string{to_string(static_cast<errc>(i))};
    BOOST_TEST_CONTEXT("errc " << i) {
      BOOST_CHECK_NE(name, "unknown_errc");
      BOOST_CHECK(names.insert(name).second);
    }
  }
  BOOST_CHECK_EQUAL(to_string(static_cast<errc>(0)), std::string{"unknown_errc"});
}

BOOST_AUTO_TEST_CASE(registered_category_makes_actor_system_render_like_describe) {
  caf::actor_system_config cfg;
  register_error_category(cfg);
  caf::actor_system sys{cfg};
  auto with_context = make_error(errc::connection_reset, "read", "[::1]:9000",
                                 ECONNRESET, "peer \"went\" away");
  BOOST_CHECK_EQUAL(sys.render(with_context), describe(with_context));
  auto bare = make_error(errc::backpressure);
  BOOST_CHECK_EQUAL(sys.render(bare), describe(bare));
}
