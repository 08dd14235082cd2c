// The layer stack without sockets: a layer_slot (what every lower layer
// keeps for the layer above it) fed byte arrays split at every offset,
// protocol switches inside one read, pausing, and two TLS layers talking to
// each other through recording lower layers (ALPN picks the layer above,
// one record per turn, the handshake deadline, truncation at EOF).

#include <boost/test/unit_test.hpp>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/transports/detail/layer_slot.hpp"
#include "ghostnet/transports/framing_layer.hpp"
#include "ghostnet/transports/tls_context.hpp"
#include "ghostnet/transports/tls_layer.hpp"
#include "test_layers.hpp"
#include "tls_test_certs.hpp"
#include "../sanitizer.hpp"

#include <malloc.h>

using namespace ghostnet;
using namespace ghostnet::test;
using namespace std::chrono_literals;

namespace {

/// A lower layer that hosts its upper layer in a slot, as the broker does.
/// Bytes malloc'd and not freed (glibc).
size_t heap_in_use() {
  auto info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

struct slot_host : recording_lower {
  tp::detail::layer_slot slot;

  void switch_protocol(tp::layer_ptr next) override {
    slot.switch_to(std::move(next));
  }
  void pause_reading() override {
    slot.pause();
    paused = true;
  }
  void resume_reading() override {
    pending_redelivery = slot.resume();
    paused = false;
  }

  caf::error start(tp::layer_ptr layer) {
    slot.reset(std::move(layer));
    return slot.start(*this);
  }

  caf::error deliver(const std::string& bytes) {
    return slot.deliver(*this, tp::byte_view{bytes.data(), bytes.size()});
  }

  line_layer& top() {
    return static_cast<line_layer&>(*slot.get());
  }

  bool pending_redelivery = false;
};

/// Splits `input` at `cut` and delivers both parts.
void deliver_split(slot_host& host, const std::string& input, size_t cut) {
  BOOST_REQUIRE(!host.deliver(input.substr(0, cut)));
  BOOST_REQUIRE(!host.deliver(input.substr(cut)));
}

} // namespace

BOOST_AUTO_TEST_SUITE(layer_slot)

BOOST_AUTO_TEST_CASE(lines_arrive_once_and_in_order_at_every_split_offset) {
  const std::string input = "alpha\nbeta\n\ngamma delta\n";
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    slot_host host;
    BOOST_REQUIRE(!host.start(upper_case_layer()));
    BOOST_TEST(host.is_established);
    deliver_split(host, input, cut);
    std::vector<std::string> want{"alpha", "beta", "", "gamma delta"};
    BOOST_TEST(host.top().lines == want, "cut at " << cut);
    BOOST_TEST(host.take_output() == "ALPHA\nBETA\nGAMMA DELTA\n"); // "" unanswered
    BOOST_TEST(host.slot.pending() == 0u);
  }
}

BOOST_AUTO_TEST_CASE(one_byte_at_a_time_keeps_only_the_incomplete_line) {
  slot_host host;
  BOOST_REQUIRE(!host.start(upper_case_layer()));
  const std::string input = "one\ntwo";
  for (char c : input)
    BOOST_REQUIRE(!host.deliver(std::string(1, c)));
  BOOST_TEST(host.take_output() == "ONE\n");
  BOOST_TEST(host.slot.pending() == 3u); // "two" waits for its newline
}

BOOST_AUTO_TEST_CASE(a_switch_hands_the_rest_of_the_same_read_to_the_new_layer) {
  // "UPGRADE" and the first bytes of the new protocol in one segment, at
  // every split, as an HTTP 101 and the first WebSocket frame.
  const std::string input = "hi\nUPGRADE\nafter\nmore\n";
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    slot_host host;
    BOOST_REQUIRE(!host.start(upgrading_layer()));
    deliver_split(host, input, cut);
    BOOST_TEST(host.take_output() == "hi\nok\nAFTER\nMORE\n", "cut at " << cut);
    // The new layer is in place; the old one answered only its own lines.
    std::vector<std::string> want{"after", "more"};
    BOOST_TEST(host.top().lines == want);
  }
}

BOOST_AUTO_TEST_CASE(a_switch_outside_a_read_takes_effect_at_settle_or_the_next_read) {
  auto bracket = [] {
    return std::make_unique<line_layer>(
      [](line_layer&, const std::string& l) { return "<" + l + ">"; }, "hello");
  };
  {
    slot_host host;
    BOOST_REQUIRE(!host.start(upper_case_layer()));
    host.top().switch_to(bracket()); // e.g. from a timer
    BOOST_TEST(host.take_output().empty());
    BOOST_REQUIRE(!host.slot.settle(host)); // the end of the owner's turn
    BOOST_TEST(host.take_output() == "hello\n"); // the new layer started
    BOOST_REQUIRE(!host.deliver("b\n"));
    BOOST_TEST(host.take_output() == "<b>\n");
  }
  {
    slot_host host;
    BOOST_REQUIRE(!host.start(upper_case_layer()));
    host.top().switch_to(bracket());
    BOOST_REQUIRE(!host.deliver("a\n")); // new bytes go to the new layer
    BOOST_TEST(host.take_output() == "hello\n<a>\n");
  }
}

BOOST_AUTO_TEST_CASE(paused_bytes_wait_and_are_redelivered_in_order) {
  slot_host host;
  BOOST_REQUIRE(!host.start(std::make_unique<line_layer>(
    [](line_layer& self, const std::string& line) {
      if (line == "pause")
        self.pause();
      return line;
    })));
  BOOST_REQUIRE(!host.deliver("a\npause\nb\nc\n"));
  // The line that paused is answered, the rest waits.
  BOOST_TEST(host.take_output() == "a\npause\n");
  BOOST_TEST(host.slot.pending() == 4u);
  BOOST_REQUIRE(!host.deliver("d\n")); // more arrives while paused
  BOOST_TEST(host.take_output().empty());
  host.top().resume();
  BOOST_TEST(host.pending_redelivery);
  BOOST_REQUIRE(!host.slot.redeliver(host));
  BOOST_TEST(host.take_output() == "b\nc\nd\n");
  BOOST_TEST(host.slot.pending() == 0u);
}

BOOST_AUTO_TEST_CASE(a_layer_that_claims_more_than_it_was_given_is_an_error) {
  struct greedy : line_layer {
    greedy() : line_layer([](line_layer&, const std::string&) { return ""; }) {}
    caf::expected<size_t> consume(tp::byte_view input) override {
      return input.size() + 1;
    }
  };
  slot_host host;
  BOOST_REQUIRE(!host.start(std::make_unique<greedy>()));
  auto err = host.deliver("x");
  BOOST_TEST(is(err, errc::protocol_error), describe(err));
}

BOOST_AUTO_TEST_CASE(a_factory_that_makes_no_layer_is_a_configuration_error) {
  slot_host host;
  auto err = host.start(nullptr);
  BOOST_TEST(is(err, errc::invalid_configuration), describe(err));
}

BOOST_AUTO_TEST_SUITE_END()

// -- TLS as a layer, two of them back to back ----------------------------------

namespace {

std::shared_ptr<tp::tls_context_holder> holder_of(const tp::tls_options& opts) {
  auto ctx = tp::make_tls_context(opts);
  BOOST_REQUIRE_MESSAGE(ctx, (ctx ? "" : describe(ctx.error())));
  return std::make_shared<tp::tls_context_holder>(*ctx);
}

struct tls_pair {
  slot_host client;
  slot_host server;
  std::string client_alpn = "unset";
  std::string server_alpn = "unset";
  line_layer* client_top = nullptr; ///< made by the TLS layer, owned by it
  line_layer* server_top = nullptr;

  explicit tls_pair(std::vector<std::string> client_protocols = {},
                    std::vector<std::string> server_protocols = {},
                    caf::timespan handshake_timeout = 10s) {
    tp::tls_options so;
    so.role = tp::tls_role::server;
    so.certificate_chain_file = test_certs().server_cert;
    so.private_key_file = test_certs().server_key;
    so.alpn = std::move(server_protocols);
    tp::tls_options co;
    co.role = tp::tls_role::client;
    co.ca_file = test_certs().ca_cert;
    co.alpn = std::move(client_protocols);
    tp::tls_layer_options sl;
    sl.context = holder_of(so);
    sl.handshake_timeout = handshake_timeout;
    tp::tls_layer_options cl;
    cl.context = holder_of(co);
    cl.handshake_timeout = handshake_timeout;
    // ALPN picks the layer above: upper case for "upper/1", else silent.
    auto pick = [](std::string* seen, line_layer** made) {
      return [seen, made](std::string_view alpn) -> tp::layer_ptr {
        *seen = std::string{alpn};
        std::unique_ptr<line_layer> layer;
        if (alpn == "upper/1")
          layer.reset(static_cast<line_layer*>(upper_case_layer().release()));
        else
          layer = std::make_unique<line_layer>(
            [](line_layer&, const std::string&) { return std::string{}; });
        *made = layer.get();
        return layer;
      };
    };
    BOOST_REQUIRE(!server.start(
      tp::make_tls_layer(sl, "", pick(&server_alpn, &server_top))));
    BOOST_REQUIRE(!client.start(
      tp::make_tls_layer(cl, "localhost", pick(&client_alpn, &client_top))));
    end_turn(client);
    end_turn(server);
  }

  static void end_turn(slot_host& host) {
    BOOST_REQUIRE(!host.slot.get()->prepare_send());
  }

  /// Moves bytes both ways until neither side has anything to say.
  void pump() {
    for (int i = 0; i < 20; ++i) {
      auto to_server = client.take_output();
      auto to_client = server.take_output();
      if (to_server.empty() && to_client.empty())
        return;
      if (!to_server.empty()) {
        BOOST_REQUIRE(!server.deliver(to_server));
        end_turn(server);
      }
      if (!to_client.empty()) {
        BOOST_REQUIRE(!client.deliver(to_client));
        end_turn(client);
      }
    }
    BOOST_FAIL("the two TLS layers kept talking");
  }

};

/// Writes `line` from the layer above the client's TLS layer.
void client_writes(slot_host& client, const std::string& line) {
  auto& tls = static_cast<tp::lower_layer&>(
    *dynamic_cast<tp::lower_layer*>(client.slot.get()));
  auto& out = tls.begin_output();
  out.insert(out.end(), line.begin(), line.end());
  out.push_back('\n');
  tls.end_output();
}

} // namespace

BOOST_AUTO_TEST_SUITE(tls_layer)

BOOST_AUTO_TEST_CASE(alpn_picks_the_layer_above_once_the_handshake_is_done) {
  tls_pair pair{{"upper/1"}, {"echo/1", "upper/1"}};
  BOOST_TEST(pair.server_alpn == "unset"); // nothing above before the handshake
  pair.pump();
  BOOST_TEST(pair.server_alpn == "upper/1");
  BOOST_TEST(pair.client_alpn == "upper/1");
  BOOST_TEST(pair.server.is_established);
  BOOST_TEST(pair.client.is_established);
  BOOST_TEST(pair.server.conn.tls.alpn == "upper/1");
  BOOST_TEST(pair.server.conn.tls.version == "TLSv1.3");
  client_writes(pair.client, "shout");
  tls_pair::end_turn(pair.client);
  auto to_server = pair.client.take_output();
  BOOST_TEST(to_server.find("shout") == std::string::npos); // encrypted
  BOOST_REQUIRE(!pair.server.deliver(to_server));
  tls_pair::end_turn(pair.server);
  BOOST_REQUIRE(pair.server_top);
  BOOST_TEST(pair.server_top->lines == std::vector<std::string>{"shout"});
  // The server's upper-case layer answered through its TLS layer.
  BOOST_REQUIRE(!pair.client.deliver(pair.server.take_output()));
  BOOST_REQUIRE(pair.client_top);
  BOOST_TEST(pair.client_top->lines == std::vector<std::string>{"SHOUT"});
}

BOOST_AUTO_TEST_CASE(without_a_common_protocol_the_layer_above_gets_no_alpn) {
  tls_pair pair;
  pair.pump();
  BOOST_TEST(pair.server_alpn.empty());
  BOOST_TEST(pair.client_alpn.empty());
}

BOOST_AUTO_TEST_CASE(everything_written_in_one_turn_leaves_as_one_record) {
  tls_pair batched;
  batched.pump();
  for (int i = 0; i < 3; ++i)
    client_writes(batched.client, "0123456789");
  tls_pair::end_turn(batched.client);
  auto one_turn = batched.client.take_output().size();
  tls_pair separate;
  separate.pump();
  size_t three_turns = 0;
  for (int i = 0; i < 3; ++i) {
    client_writes(separate.client, "0123456789");
    tls_pair::end_turn(separate.client);
    three_turns += separate.client.take_output().size();
  }
  // TLS 1.3 costs 22 bytes per record (header, content type, tag).
  BOOST_TEST(three_turns == one_turn + 2 * 22);
}

BOOST_AUTO_TEST_CASE(the_handshake_deadline_is_a_timeout_named_tls_handshake) {
  tls_pair pair{{}, {}, 300ms};
  auto* server_tls = pair.server.slot.get();
  auto due = server_tls->next_deadline();
  BOOST_REQUIRE(due);
  BOOST_TEST((*due == pair.server.time + 300ms));
  BOOST_TEST(!server_tls->on_timeout(*due - 1ms)); // not yet
  auto err = server_tls->on_timeout(*due);
  BOOST_TEST(is(err, errc::timeout), describe(err));
  BOOST_TEST(context_of(err).operation == "tls handshake");
  BOOST_TEST(std::string{server_tls->operation()} == "tls handshake");
  // Once the handshake is done the deadline is the layer above's (none),
  // but for the release of the record buffers a moment after a use.
  pair.pump();
  BOOST_TEST(!server_tls->next_deadline());
  BOOST_TEST(server_tls->operation() == nullptr);
  client_writes(pair.client, "ping");
  tls_pair::end_turn(pair.client);
  pair.pump();
  auto release = server_tls->next_deadline();
  BOOST_REQUIRE(release);
  BOOST_TEST((*release == pair.server.time + 50ms));
  BOOST_TEST(!server_tls->on_timeout(*release));
  BOOST_TEST(!server_tls->next_deadline());
}

BOOST_AUTO_TEST_CASE(a_busy_session_keeps_its_buffers_an_idle_one_gives_them_back) {
  if (under_sanitizer) {
    BOOST_TEST_MESSAGE("heap figures: not measurable under AddressSanitizer");
    return;
  }
  constexpr size_t n = 200;
  { // OpenSSL's lazily made tables
    tls_pair warm;
    warm.pump();
  }
  std::vector<std::unique_ptr<tls_pair>> pairs;
  pairs.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    pairs.push_back(std::make_unique<tls_pair>());
    auto& p = *pairs.back();
    p.pump();
    client_writes(p.client, "busy");
    tls_pair::end_turn(p.client);
    p.pump();
  }
  auto busy = heap_in_use();
  // Before the delay is over nothing is given back; 50 ms after the last
  // use both ends give their record buffers back.
  auto at = [&](std::chrono::milliseconds later) {
    for (auto& p : pairs)
      for (auto* host : {&p->client, &p->server})
        BOOST_REQUIRE(!host->slot.get()->on_timeout(host->time + later));
    return heap_in_use();
  };
  auto still_busy = at(49ms);
  auto idle = at(50ms);
  for (auto& p : pairs)
    BOOST_TEST(!p->server.slot.get()->next_deadline());
  auto kept = busy > still_busy ? (busy - still_busy) / n : 0;
  auto freed_per_pair = (still_busy - idle) / n;
  BOOST_TEST_MESSAGE("released per idle pair: " << freed_per_pair << " B");
  BOOST_TEST(kept < 1024u);
  BOOST_TEST(freed_per_pair > 32 * 1024u); // a read buffer each side at least
}

BOOST_AUTO_TEST_CASE(eof_without_close_notify_is_truncation_and_ends_the_layer_above) {
  tls_pair pair;
  pair.pump();
  auto err = pair.server.slot.get()->on_eof();
  BOOST_TEST(is(err, errc::transport_closed), describe(err));
  BOOST_TEST(context_of(err).detail.find("truncated") != std::string::npos);
  BOOST_TEST(pair.server.closed); // the echo layer closed on EOF, TLS below it
}

BOOST_AUTO_TEST_CASE(close_sends_close_notify_and_the_peer_sees_a_clean_eof) {
  tls_pair pair;
  pair.pump();
  pair.client.slot.get()->request_close();
  BOOST_TEST(pair.client.closed); // down to the transport
  auto notify = pair.client.take_output();
  BOOST_REQUIRE(!notify.empty());
  BOOST_REQUIRE(!pair.server.deliver(notify));
  tls_pair::end_turn(pair.server);
  // close_notify ended the server's plaintext stream: its layer closed.
  BOOST_TEST(pair.server.closed);
  BOOST_TEST(!pair.server.slot.get()->on_eof()); // then TCP's FIN: clean
}

BOOST_AUTO_TEST_CASE(a_connection_that_fails_in_the_handshake_still_tells_the_layer_above) {
  tls_pair pair;
  // Garbage instead of a ClientHello.
  auto err = pair.server.deliver(std::string("GET / HTTP/1.1\r\n\r\n"));
  BOOST_TEST(is(err, errc::tls_handshake_failed), describe(err));
  BOOST_TEST(pair.server_alpn == "unset");
  pair.server.slot.get()->on_close(err);
  BOOST_TEST(pair.server_alpn.empty()); // made without ALPN to be told
}

BOOST_AUTO_TEST_SUITE_END()
