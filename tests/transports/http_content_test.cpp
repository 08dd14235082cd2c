// What the HTTP/1.1 server serves beyond routes in the connection: files
// (a file range handed below whole for sendfile, or read where TLS must see
// it; static files with validators, ranges and no way out of the root),
// handler actors (typed request/response, in order, 504/503, late and
// orphaned answers) and uploads streamed to a reader (split at every
// offset, refused, 128 MiB from curl with the peak RSS measured).

#include <atomic>
#include <fstream>
#include <map>

#include <fcntl.h>
#include <unistd.h>

#include "ghostnet/transports/http/static_files.hpp"
#include "ghostnet/transports/tls_context.hpp"
#include "http_test_support.hpp"
#include "../run_command.hpp"
#include "tls_test_certs.hpp"

using namespace ghostnet;
using namespace ghostnet::test;
namespace http = ghostnet::transports::http;

namespace {

/// An upload's reader: counts the bytes and pieces and sums them (FNV-1a),
/// refuses with `refuse_at_status` once more than `refuse_after` bytes came.
struct counting_reader : http::http_body_reader {
  struct totals {
    uint64_t bytes = 0;
    uint64_t pieces = 0;
    uint64_t hash = 1469598103934665603ull;
    bool ended = false;
    bool destroyed = false;
  };
  std::shared_ptr<totals> seen;
  uint64_t refuse_after;
  unsigned refuse_status;

  counting_reader(std::shared_ptr<totals> t, uint64_t after, unsigned status)
    : seen(std::move(t)), refuse_after(after), refuse_status(status) {
  }
  ~counting_reader() override {
    seen->destroyed = true;
  }
  unsigned on_body(std::string_view piece) override {
    seen->bytes += piece.size();
    ++seen->pieces;
    seen->hash = fnv1a(piece, seen->hash);
    return seen->bytes > refuse_after ? refuse_status : 0;
  }
  void on_end(http::http_request& req, http::http_response& res) override {
    seen->ended = true;
    res.body = "got " + std::to_string(seen->bytes) + " " + std::to_string(seen->hash)
               + " body=" + std::to_string(req.body.size()) + "\n";
  }
};

/// POST /upload streams to a counting_reader (refusing with 507 past
/// `refuse_after`); POST /locked answers 401 before any body.
void add_upload_routes(http::http_router& r, std::shared_ptr<counting_reader::totals> seen,
                       uint64_t refuse_after = UINT64_MAX) {
  auto err = r.add_upload("POST", "/upload", [seen, refuse_after](http::http_request& req,
                                                                  http::http_response&) {
    BOOST_TEST(req.body.empty());
    *seen = counting_reader::totals{};
    return std::make_unique<counting_reader>(seen, refuse_after, 507);
  });
  BOOST_REQUIRE(!err);
  err = r.add_upload("POST", "/locked", [](http::http_request&, http::http_response& res) {
    res.status = 401;
    res.body = "no\n";
    return std::unique_ptr<http::http_body_reader>{};
  });
  BOOST_REQUIRE(!err);
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_content_sans_io)

BOOST_AUTO_TEST_CASE(a_file_body_goes_below_whole_or_is_read_where_files_cannot_go) {
  auto path = "/tmp/ghostnet-http-range-" + std::to_string(::getpid());
  auto bytes = pattern(200 * 1024, 3);
  {
    std::ofstream f{path, std::ios::binary};
    f << bytes;
  }
  auto router = test_router();
  BOOST_REQUIRE(!router->add("GET", "/f", [&](http::http_request&, http::http_response& res) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    BOOST_REQUIRE(fd >= 0);
    res.file = tp::file_range{std::make_shared<const tp::file_handle>(fd), 1000, 100000};
  }));
  const std::string input = "GET /f HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n";
  {
    // Plain TCP: the range goes below whole, between the header and the
    // next answer.
    recording_lower down;
    down.takes_files = true;
    tp::detail::layer_slot slot;
    slot.reset(http::http_server(router)(""));
    BOOST_REQUIRE(!slot.start(down));
    BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{input.data(), input.size()}));
    auto out = down.take_output();
    BOOST_REQUIRE(down.files.size() == 1u);
    BOOST_TEST(down.files[0].offset == 1000u);
    BOOST_TEST(down.files[0].length == 100000u);
    auto header_end = out.find("\r\n\r\n") + 4;
    BOOST_TEST(down.file_at[0] == header_end);
    BOOST_TEST(out.substr(0, header_end).find("Content-Length: 100000\r\n") != std::string::npos);
    BOOST_TEST(out.find("HTTP/1.1 200 OK", header_end) == header_end, out); // /hello after it
    BOOST_TEST(out.find("hello\n") != std::string::npos);
    BOOST_TEST(down.conn.bytes_out >= 100000u);
  }
  {
    // TLS below: the layer reads the range itself, byte for byte.
    recording_lower down;
    tp::detail::layer_slot slot;
    slot.reset(http::http_server(router)(""));
    BOOST_REQUIRE(!slot.start(down));
    BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{input.data(), input.size()}));
    auto out = down.take_output();
    BOOST_TEST(down.files.empty());
    auto header_end = out.find("\r\n\r\n") + 4;
    BOOST_TEST(out.substr(header_end, 100000) == bytes.substr(1000, 100000));
    BOOST_TEST(out.find("hello\n", header_end + 100000) != std::string::npos);
  }
  // A file shorter than its range: the connection is aborted mid-body (no
  // status is left to send), not answered with bytes that are not there.
  {
    recording_lower down;
    tp::detail::layer_slot slot;
    auto short_router = std::make_shared<http::http_router>();
    BOOST_REQUIRE(!short_router->add("GET", "/f", [&](http::http_request&, http::http_response& res) {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      res.file = tp::file_range{std::make_shared<const tp::file_handle>(fd), 150000, 100000};
    }));
    slot.reset(http::http_server(short_router)(""));
    BOOST_REQUIRE(!slot.start(down));
    const std::string get = "GET /f HTTP/1.1\r\n\r\n";
    BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{get.data(), get.size()}));
    BOOST_TEST(is(down.aborted, errc::protocol_error), describe(down.aborted));
    BOOST_TEST(describe(down.aborted).find("ended before its length") != std::string::npos,
               describe(down.aborted));
  }
  ::unlink(path.c_str());
}

BOOST_AUTO_TEST_CASE(an_upload_is_streamed_to_its_reader_split_at_every_offset) {
  auto body = pattern(3000, 5);
  std::string chunked;
  for (size_t at = 0; at < body.size(); at += 700) {
    auto piece = body.substr(at, 700);
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    chunked += size + piece + "\r\n";
  }
  chunked += "0\r\n\r\n";
  const std::string input = "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                            + chunked + "GET /hello HTTP/1.1\r\n\r\n";
  auto expected = "got 3000 " + std::to_string(fnv1a(body)) + " body=0\n";
  for (size_t cut = 0; cut <= input.size(); cut += 7) {
    auto seen = std::make_shared<counting_reader::totals>();
    auto router = test_router();
    add_upload_routes(*router, seen);
    recording_lower down;
    tp::detail::layer_slot slot;
    slot.reset(http::http_server(router)(""));
    BOOST_REQUIRE(!slot.start(down));
    BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{input.data(), cut}));
    BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{input.data() + cut, input.size() - cut}));
    auto out = down.take_output();
    BOOST_TEST(out.find(expected) != std::string::npos, "cut at " << cut << ": " << out);
    BOOST_TEST(out.find("hello\n") > out.find(expected));
    BOOST_TEST(seen->destroyed); // the reader is gone with its request
  }
}

BOOST_AUTO_TEST_CASE(an_upload_refused_by_its_reader_its_handler_or_the_limit_closes) {
  auto seen = std::make_shared<counting_reader::totals>();
  auto router = test_router();
  add_upload_routes(*router, seen, 100);
  auto run = [&](const std::string& input, http::http_server_options opts = {}) {
    recording_lower down;
    tp::detail::layer_slot slot;
    slot.reset(http::http_server(router, opts)(""));
    BOOST_REQUIRE(!slot.start(down));
    BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{input.data(), input.size()}));
    BOOST_TEST(down.closed);
    return down.take_output();
  };
  // The reader refuses past 100 bytes: 507, the rest unread.
  auto out = run("POST /upload HTTP/1.1\r\nContent-Length: 500\r\n\r\n" + std::string(500, 'x'));
  BOOST_TEST(status_line(out) == "HTTP/1.1 507 Insufficient Storage", out);
  BOOST_TEST(!seen->ended);
  BOOST_TEST(seen->destroyed);
  // The handler answers before the body: no 100 Continue, a 401 and a close.
  out = run("POST /locked HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  BOOST_TEST(status_line(out) == "HTTP/1.1 401 Unauthorized", out);
  BOOST_TEST(out.find("100 Continue") == std::string::npos, out);
  // Above max_upload (not max_body, which is smaller here): 413.
  http::http_server_options small;
  small.max_body = 10;
  small.max_upload = 50;
  out = run("POST /upload HTTP/1.1\r\nContent-Length: 80\r\n\r\n" + std::string(80, 'x'), small);
  BOOST_TEST(status_line(out) == "HTTP/1.1 413 Content Too Large", out);
  out = run("POST /upload HTTP/1.1\r\nContent-Length: 40\r\n\r\n" + std::string(40, 'x')
              + "POST /echo HTTP/1.1\r\nContent-Length: 20\r\n\r\n" + std::string(20, 'y'),
            small);
  BOOST_TEST(out.find("got 40 ") != std::string::npos, out); // over max_body, under max_upload
  BOOST_TEST(out.find("HTTP/1.1 413") != std::string::npos, out); // /echo keeps max_body
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(http_content_sockets, tcp_fixture)

namespace {

/// A temporary document root: hello.txt, big.bin (3 MiB: more than a
/// connection queues in one turn, so the stream must resume on writability),
/// sub/index.html, a file beside the root and a symlink inside it that points
/// at that file.
struct doc_root {
  std::string base = "/tmp/ghostnet-http-" + std::to_string(::getpid());
  std::string root = base + "/root";

  doc_root() {
    run_command("rm -rf '" + base + "' && mkdir -p '" + root + "/sub'");
    write(root + "/hello.txt", "hi there\n");
    write(root + "/sub/index.html", "<p>index</p>\n");
    write(base + "/outside.txt", "secret\n");
    big = pattern(3 * 1024 * 1024, 7);
    write(root + "/big.bin", big);
    BOOST_REQUIRE(::symlink((base + "/outside.txt").c_str(), (root + "/escape").c_str()) == 0);
  }

  ~doc_root() {
    run_command("rm -rf '" + base + "'");
  }

  static void write(const std::string& path, const std::string& data) {
    auto* f = std::fopen(path.c_str(), "wb");
    BOOST_REQUIRE(f != nullptr);
    BOOST_REQUIRE(std::fwrite(data.data(), 1, data.size(), f) == data.size());
    std::fclose(f);
  }

  std::string big;
};

std::string raw_request(const tp::endpoint& ep, const std::string& target) {
  client c{ep};
  c.send_all("GET " + target + " HTTP/1.1\r\nConnection: close\r\n\r\n");
  std::string got;
  for (;;) {
    auto piece = c.read_exactly(4096);
    if (piece.empty())
      break;
    got += piece;
  }
  return got;
}

/// The test routes plus `docs` under /static/.
std::shared_ptr<http::http_router> router_with_files(const doc_root& docs) {
  auto router = test_router();
  http::static_files_options so;
  so.root = docs.root;
  BOOST_REQUIRE(!http::add_static_files(*router, "/static/", so));
  return router;
}

} // namespace

BOOST_AUTO_TEST_CASE(static_files_with_etags_ranges_and_no_way_out_of_the_root) {
  doc_root docs;
  auto router = router_with_files(docs);
  auto svc = http_service_for(router);
  auto running = start_service(svc);
  auto base = url(running.bound, "/static/");
  // A small file, its validators, and a conditional request.
  auto head = run_command("curl -s -D - -o /dev/null " + base + "hello.txt");
  BOOST_TEST(head.output.find("Content-Type: text/plain") != std::string::npos, head.output);
  auto etag_at = head.output.find("ETag: ");
  BOOST_REQUIRE(etag_at != std::string::npos);
  auto etag = head.output.substr(etag_at + 6, head.output.find("\r\n", etag_at) - etag_at - 6);
  BOOST_TEST(head.output.find("Last-Modified: ") != std::string::npos);
  BOOST_TEST(run_command("curl -s " + base + "hello.txt").output == "hi there\n");
  auto cond = run_command("curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: " + etag
                          + "' " + base + "hello.txt");
  BOOST_TEST(cond.output == "304");
  auto modified_at = head.output.find("Last-Modified: ");
  auto modified = head.output.substr(modified_at + 15,
                                     head.output.find("\r\n", modified_at) - modified_at - 15);
  auto since = [&](const std::string& date) {
    return run_command("curl -s -o /dev/null -w '%{http_code}' -H 'If-Modified-Since: " + date
                       + "' " + base + "hello.txt")
      .output;
  };
  BOOST_TEST(since(modified) == "304");
  BOOST_TEST(since("Sat, 01 Jan 2000 00:00:00 GMT") == "200"); // modified since
  BOOST_TEST(since("yesterday") == "200");                     // not a date: ignored
  // Ranges: one served as 206, one past the end refused with 416.
  auto part = run_command("curl -s -D - -r 2-5 " + base + "hello.txt");
  BOOST_TEST(part.output.find("HTTP/1.1 206") == 0, part.output);
  BOOST_TEST(part.output.find("Content-Range: bytes 2-5/9") != std::string::npos, part.output);
  BOOST_TEST(part.output.substr(part.output.size() - 4) == " the");
  auto past = run_command("curl -s -o /dev/null -w '%{http_code}' -H 'Range: bytes=100-' "
                          + base + "hello.txt");
  BOOST_TEST(past.output == "416");
  // A large file streams, whole or in part, byte for byte.
  auto whole = run_command("curl -s " + base + "big.bin | cmp - '" + docs.root + "/big.bin' && echo same");
  BOOST_TEST(whole.output == "same\n", whole.output);
  auto tail = run_command("curl -s -r 1000- -o '" + docs.base + "/part' " + base
                          + "big.bin && tail -c +1001 '" + docs.root + "/big.bin' | cmp - '"
                          + docs.base + "/part' && echo same");
  BOOST_TEST(tail.output == "same\n", tail.output);
  auto size = run_command("curl -s -I " + base + "big.bin");
  auto length = "Content-Length: " + std::to_string(docs.big.size());
  BOOST_TEST(size.output.find(length) != std::string::npos, size.output);
  // Directories serve their index; nothing leaves the root.
  BOOST_TEST(run_command("curl -s " + base + "sub/").output == "<p>index</p>\n");
  auto status = [&](const std::string& target) {
    auto got = raw_request(running.bound, target);
    return got.substr(9, 3);
  };
  BOOST_TEST(status("/static/../outside.txt") == "403");
  BOOST_TEST(status("/static/%2e%2e/outside.txt") == "403");
  BOOST_TEST(status("/static/sub/%2E%2E/%2e%2e/outside.txt") == "403");
  BOOST_TEST(status("/static/escape") == "403"); // a symlink out of the root
  BOOST_TEST(status("/static/nothing.txt") == "404");
  BOOST_TEST(status("/static/bad%zz") == "400");
  BOOST_TEST(status("/static/nul%00.txt") == "400");
  BOOST_TEST(raw_request(running.bound, "/static/escape").find("secret") == std::string::npos);
  stop(running.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(large_files_pipelined_in_order_over_tcp_and_whole_over_tls) {
  doc_root docs;
  auto router = router_with_files(docs);
  auto svc = http_service_for(router);
  auto plain = start_service(svc);
  {
    // Two files (sendfile) and a small answer, pipelined in one segment:
    // each whole, in the order asked.
    client c{plain.bound};
    BOOST_REQUIRE(c.send_all("GET /static/big.bin HTTP/1.1\r\n\r\n"
                             "GET /static/big.bin HTTP/1.1\r\nRange: bytes=5-\r\n\r\n"
                             "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n"));
    auto head = read_until(c, "\r\n\r\n");
    BOOST_TEST(head.find("HTTP/1.1 200 OK") == 0, head);
    BOOST_TEST((c.read_exactly(docs.big.size()) == docs.big));
    head = read_until(c, "\r\n\r\n");
    BOOST_TEST(head.find("HTTP/1.1 206") == 0, head);
    BOOST_TEST((c.read_exactly(docs.big.size() - 5) == docs.big.substr(5)));
    BOOST_TEST(read_until(c, "hello\n").find("hello\n") != std::string::npos);
    BOOST_TEST(c.sees_close());
  }
  // Over TLS the same file is read in pieces and encrypted: byte for byte.
  auto ctx = tp::make_tls_context(server_tls());
  BOOST_REQUIRE_MESSAGE(ctx, (ctx ? "" : describe(ctx.error())));
  svc.name = "https";
  svc.listener.connection.tls.context = std::make_shared<tp::tls_context_holder>(*ctx);
  auto tls = start_service(svc);
  auto port = std::to_string(tls.bound.port);
  auto same = run_command("curl -s --cacert " + test_certs().ca_cert + " --resolve localhost:"
                          + port + ":127.0.0.1 https://localhost:" + port
                          + "/static/big.bin | cmp - '" + docs.root + "/big.bin' && echo same");
  BOOST_TEST(same.output == "same\n", same.output);
  stop(tls.root);
  stop(plain.root);
  BOOST_TEST(fds_restored());
}


BOOST_AUTO_TEST_CASE(handler_actors_answer_in_order_with_the_other_routes) {
  auto handler = caf::actor_cast<http::http_handler_actor>(sys.spawn(slow_handler));
  auto router = test_router();
  BOOST_REQUIRE(!router->add("GET", "/slow/{ms}", handler));
  BOOST_REQUIRE(!router->add("GET", "/never", handler));
  BOOST_REQUIRE(!router->add("GET", "/quit", handler));
  BOOST_TEST(is(router->add("GET", "/x", http::http_handler_actor{}), errc::invalid_configuration));
  http::http_server_options opts;
  opts.handler_timeout = std::chrono::milliseconds(300);
  auto svc = http_service_for(router, opts);
  auto running = start_service(svc);
  {
    // Pipelined: the actor's slow answer first, then the in-connection
    // route, then the actor again (HEAD: headers only).
    client c{running.bound};
    BOOST_REQUIRE(c.send_all("GET /slow/50 HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n"
                             "HEAD /slow/1 HTTP/1.1\r\nConnection: close\r\n\r\n"));
    std::string got;
    for (auto piece = c.read_exactly(1); !piece.empty(); piece = c.read_exactly(1))
      got += piece;
    auto first = got.find("slept 50 GET\n");
    auto second = got.find("hello\n");
    BOOST_TEST(first != std::string::npos, got);
    BOOST_TEST((second != std::string::npos && second > first), got);
    BOOST_TEST(got.find("X-Handler: actor", second) != std::string::npos, got); // the HEAD
    BOOST_TEST(got.find("slept 1") == std::string::npos, got);
  }
  // No answer in time: 504, and the connection goes on.
  auto timed = run_command("curl -s -w ' %{http_code} %{num_connects}' " + url(running.bound, "/never")
                           + " " + url(running.bound, "/hello"));
  BOOST_TEST(timed.output.find("the handler did not answer within 300ms\n 504 1") == 0,
             timed.output);
  BOOST_TEST(std::string{http::reason_phrase(504)} == "Gateway Timeout");
  BOOST_TEST(timed.output.find("hello\n 200 0") != std::string::npos, timed.output);
  // The handler exits with the request: CAF 0.17 does not break the
  // promise it dropped, so the handler timeout answers (504); once it is
  // gone, requests to it are bounced at once (503).
  auto quit = run_command("curl -s -o /dev/null -w '%{http_code}' " + url(running.bound, "/quit"));
  BOOST_TEST(quit.output == "504", quit.output);
  auto gone = run_command("curl -s -o /dev/null -w '%{http_code}' " + url(running.bound, "/slow/0"));
  BOOST_TEST(gone.output == "503", gone.output);
  stop(running.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_handler_answer_after_the_client_left_or_half_closed) {
  auto slow = sys.spawn(slow_handler);
  auto handler = caf::actor_cast<http::http_handler_actor>(slow);
  auto held_by = [&](const slow_handler_actor& h) {
    size_t n = 0;
    self->request(h, patience, caf::get_atom::value)
      .receive([&](size_t x) { n = x; }, [&](caf::error& err) { BOOST_FAIL(describe(err)); });
    return n;
  };
  auto router = test_router();
  BOOST_REQUIRE(!router->add("GET", "/slow/{ms}", handler));
  auto svc = http_service_for(router);
  auto running = start_service(svc);
  {
    // The client is gone before the answer: it is dropped with the
    // connection, nothing else happens.
    client c{running.bound};
    BOOST_REQUIRE(c.send_all("GET /slow/100 HTTP/1.1\r\n\r\n"));
    c.reset();
  }
  {
    // The client half-closes after its request: the answer still comes,
    // then the close (the FIN is read once the answer is out: reading is
    // paused while the handler works).
    client c{running.bound};
    BOOST_REQUIRE(c.send_all("GET /slow/30 HTTP/1.1\r\n\r\n"));
    c.shutdown_write();
    BOOST_TEST(read_until(c, "slept 30 GET\n").find("HTTP/1.1 200 OK") == 0);
    BOOST_TEST(c.sees_close());
  }
  // The first answer came and went: its connection, paused while the
  // handler worked, ends once the answer finds the peer gone.
  BOOST_TEST(eventually([&] { return children_of(connections_of(running.root)).empty(); }));
  BOOST_TEST(run_command("curl -s " + url(running.bound, "/slow/0")).output == "slept 0 GET\n");
  // The service stops while the handler works: the answer still goes out
  // (within the drain timeout), with Connection: close, then the close.
  client late{running.bound};
  BOOST_REQUIRE(late.send_all("GET /slow/300 HTTP/1.1\r\n\r\n"));
  BOOST_TEST(eventually([&] { return held_by(slow) == 1u; })); // the request is with the actor
  stop(running.root);
  auto answer = read_until(late, "slept 300 GET\n");
  BOOST_TEST(answer.find("slept 300 GET\n") != std::string::npos, answer);
  BOOST_TEST(answer.find("Connection: close\r\n") != std::string::npos, answer);
  BOOST_TEST(late.sees_close());
  late.close();
  caf::anon_send_exit(handler, caf::exit_reason::user_shutdown);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(an_answer_resumes_the_pipeline_and_a_late_one_finds_no_layer) {
  // The layer alone: ask() is recorded, the answer given by hand.
  auto handler = caf::actor_cast<http::http_handler_actor>(sys.spawn(slow_handler));
  auto router = test_router();
  BOOST_REQUIRE(!router->add("GET", "/slow/{ms}", handler));
  recording_lower down;
  tp::detail::layer_slot slot;
  slot.reset(http::http_server(router)(""));
  BOOST_REQUIRE(!slot.start(down));
  const std::string input = "GET /slow/5 HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n";
  BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{input.data(), input.size()}));
  BOOST_REQUIRE(down.asked.size() == 1u);
  BOOST_TEST(down.asked[0].msg.match_element<http::http_request>(0));
  BOOST_TEST(down.paused);
  BOOST_TEST(down.output.empty()); // /hello waits for the actor's answer
  BOOST_TEST(!slot->next_deadline());
  http::http_response res;
  res.body = "answered\n";
  auto answer = caf::make_message(res);
  down.asked[0].reply(answer);
  BOOST_TEST(!down.paused);
  BOOST_REQUIRE(!slot.redeliver(down));
  auto out = down.take_output();
  BOOST_TEST(out.find("answered\n") != std::string::npos, out);
  BOOST_TEST(out.find("hello\n") > out.find("answered\n"), out);
  // An error answer is a status, and the layer goes on.
  const std::string again = "GET /slow/5 HTTP/1.1\r\n\r\n";
  BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{again.data(), again.size()}));
  BOOST_REQUIRE(down.asked.size() == 2u);
  auto failed = caf::make_message(caf::make_error(caf::sec::request_receiver_down));
  down.asked[1].reply(failed);
  BOOST_TEST(status_line(down.take_output()) == "HTTP/1.1 503 Service Unavailable");
  // The layer is gone (the connection switched protocol or closed) when
  // the answer comes: nothing happens.
  BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{again.data(), again.size()}));
  BOOST_REQUIRE(down.asked.size() == 3u);
  slot.clear();
  down.asked[2].reply(answer);
  BOOST_TEST(down.output.empty());
  caf::anon_send_exit(handler, caf::exit_reason::user_shutdown);
}

namespace {

/// This process's peak RSS in KiB since the last reset_peak_rss().
long peak_rss_kib() {
  std::ifstream status{"/proc/self/status"};
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0)
      return std::stol(line.substr(6));
  return -1;
}

void reset_peak_rss() {
  std::ofstream{"/proc/self/clear_refs"} << "5";
}

} // namespace

BOOST_AUTO_TEST_CASE(curl_uploads_128_mib_that_never_sit_in_memory) {
  auto seen = std::make_shared<counting_reader::totals>();
  auto router = test_router();
  add_upload_routes(*router, seen);
  auto svc = http_service_for(router);
  auto running = start_service(svc);
  auto file = "/tmp/ghostnet-upload-" + std::to_string(::getpid());
  auto made = run_command("head -c 134217728 /dev/urandom > '" + file + "' && echo made");
  BOOST_REQUIRE(made.output == "made\n");
  auto sum = [&](const char* how) {
    reset_peak_rss();
    auto before = peak_rss_kib();
    auto out = run_command(std::string{"curl -s -H 'Expect:' "} + how + " --data-binary @'"
                           + file + "' " + url(running.bound, "/upload"));
    auto grown_mib = (peak_rss_kib() - before) / 1024;
    BOOST_TEST_MESSAGE(how << ": peak RSS grew by " << grown_mib << " MiB");
    BOOST_TEST(out.output.find("got 134217728 ") == 0, out.output);
    // 128 MiB went through; the process grew by what a few reads take.
    BOOST_TEST(grown_mib < 24, how << ": peak RSS grew by " << grown_mib << " MiB");
    return out.output;
  };
  auto plain = sum("");
  auto chunked = sum("-H 'Transfer-Encoding: chunked'");
  BOOST_TEST(plain == chunked); // the same bytes, the same sum
  ::unlink(file.c_str());
  stop(running.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_static_root_that_is_not_a_directory_is_refused) {
  http::http_router r;
  http::static_files_options so;
  so.root = "/nonexistent/ghostnet";
  auto err = http::add_static_files(r, "/static/", so);
  BOOST_TEST(is(err, errc::invalid_configuration), describe(err));
  so.root = "/tmp";
  BOOST_TEST(is(http::add_static_files(r, "static", so), errc::invalid_configuration));
  BOOST_TEST(std::string{http::content_type_of("a.css")} == "text/css; charset=utf-8");
  BOOST_TEST(std::string{http::content_type_of("a.unknown")} == "application/octet-stream");
}

BOOST_AUTO_TEST_SUITE_END()
