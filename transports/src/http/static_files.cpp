#include "ghostnet/transports/http/static_files.hpp"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ghostnet/actors/error.hpp"

namespace ghostnet::transports::http {

namespace {

bool ends_with(std::string_view x, std::string_view suffix) {
  return x.size() >= suffix.size()
         && x.compare(x.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// Percent-decodes `in`; false for a bad escape or a decoded NUL.
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size())
      return false;
    auto hi = hex_value(in[i + 1]);
    auto lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
      return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

std::string canonical(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) != nullptr ? std::string{buf}
                                                  : std::string{};
}

void answer(http_response& res, unsigned status, const char* text) {
  res.status = status;
  res.body = std::string{text} + "\n";
}

/// A single "bytes=" range of a `size`-byte file: [first, last]. Returns
/// false if the header is not a single range (then it is ignored, as RFC
/// 9110 allows); `satisfiable` says whether it fits the file.
bool parse_range(std::string_view header, uint64_t size, uint64_t& first,
                 uint64_t& last, bool& satisfiable) {
  if (header.substr(0, 6) != "bytes=")
    return false;
  auto spec = header.substr(6);
  if (spec.find(',') != std::string_view::npos)
    return false; // several ranges: the whole file instead
  auto dash = spec.find('-');
  if (dash == std::string_view::npos)
    return false;
  auto number = [](std::string_view x, uint64_t& v) {
    if (x.empty() || x.size() > 19)
      return false;
    v = 0;
    for (char c : x) {
      if (c < '0' || c > '9')
        return false;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    return true;
  };
  auto a = spec.substr(0, dash);
  auto b = spec.substr(dash + 1);
  uint64_t x = 0;
  uint64_t y = 0;
  if (a.empty()) { // the last y bytes
    if (!number(b, y))
      return false;
    satisfiable = y > 0 && size > 0;
    first = y >= size ? 0 : size - y;
    last = size == 0 ? 0 : size - 1;
    return true;
  }
  if (!number(a, x) || (!b.empty() && !number(b, y)))
    return false;
  if (!b.empty() && y < x)
    return false;
  satisfiable = x < size;
  first = x;
  last = b.empty() || y >= size ? (size == 0 ? 0 : size - 1) : y;
  return true;
}

class file_server {
public:
  file_server(std::string prefix, std::string root, static_files_options opts)
    : prefix_(std::move(prefix)), root_(std::move(root)),
      opts_(std::move(opts)) {
  }

  void operator()(http_request& req, http_response& res) const {
    std::string rel;
    if (!percent_decode(std::string_view{req.path}.substr(prefix_.size()), rel))
      return answer(res, 400, "bad percent-encoding in the path");
    // Segment by segment: ".." (also as %2e%2e, decoded above) never goes up.
    std::string joined = root_;
    size_t pos = 0;
    while (pos <= rel.size()) {
      auto slash = rel.find('/', pos);
      auto seg = std::string_view{rel}.substr(pos, slash == std::string::npos
                                                     ? std::string::npos
                                                     : slash - pos);
      if (seg == "..")
        return answer(res, 403, "the path leaves the root");
      if (!seg.empty() && seg != ".") {
        joined += '/';
        joined += seg;
      }
      if (slash == std::string::npos)
        break;
      pos = slash + 1;
    }
    auto real = canonical(joined);
    if (real.empty())
      return answer(res, 404, "not found");
    // A symlink may point anywhere: what it resolves to must be inside.
    if (real != root_ && real.compare(0, root_.size() + 1, root_ + "/") != 0)
      return answer(res, 403, "the path leaves the root");
    struct stat st {};
    if (::stat(real.c_str(), &st) != 0)
      return answer(res, 404, "not found");
    if (S_ISDIR(st.st_mode)) {
      if (opts_.index.empty())
        return answer(res, 404, "not found");
      real += "/" + opts_.index;
      if (::stat(real.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        return answer(res, 404, "not found");
    }
    if (!S_ISREG(st.st_mode))
      return answer(res, 404, "not found");
    serve_file(req, res, real, st);
  }

private:
  void serve_file(http_request& req, http_response& res,
                  const std::string& path, const struct stat& st) const {
    auto size = static_cast<uint64_t>(st.st_size);
    char etag[64];
    std::snprintf(etag, sizeof etag, "\"%llx-%llx\"",
                  static_cast<unsigned long long>(size),
                  static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ull
                    + static_cast<unsigned long long>(st.st_mtim.tv_nsec));
    res.headers.set("ETag", etag);
    res.headers.set("Last-Modified", http_date(st.st_mtim.tv_sec));
    res.headers.set("Accept-Ranges", "bytes");
    // If-None-Match decides when present; If-Modified-Since only without it
    // (RFC 9110 13.1.3), at the second resolution of HTTP dates.
    auto inm = req.headers.get("If-None-Match");
    if (!inm.empty()) {
      if (inm == "*" || inm.find(etag) != std::string_view::npos) {
        res.status = 304;
        return;
      }
    } else if (auto since = parse_http_date(req.headers.get("If-Modified-Since"));
               since && st.st_mtim.tv_sec <= *since) {
      res.status = 304;
      return;
    }
    res.headers.set("Content-Type", content_type_of(path));
    uint64_t first = 0;
    uint64_t last = size == 0 ? 0 : size - 1;
    if (auto range = req.headers.get("Range"); !range.empty()) {
      bool satisfiable = false;
      uint64_t a = 0;
      uint64_t b = 0;
      if (parse_range(range, size, a, b, satisfiable)) {
        if (!satisfiable) {
          res.headers.set("Content-Range", "bytes */" + std::to_string(size));
          return answer(res, 416, "range not satisfiable");
        }
        first = a;
        last = b;
        res.status = 206;
        res.headers.set("Content-Range", "bytes " + std::to_string(first) + "-"
                                           + std::to_string(last) + "/"
                                           + std::to_string(size));
      }
    }
    uint64_t length = size == 0 ? 0 : last - first + 1;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return answer(res, 404, "not found");
    file_range body{std::make_shared<const file_handle>(fd), first, length};
    if (length <= opts_.piece_size) {
      // Small: one read, and the response leaves in one send() with its
      // header.
      if (auto err = read_file_piece(body, opts_.piece_size, res.body))
        return answer(res, 500, "read error");
      return;
    }
    // Large: the connection sends it (sendfile on plain TCP, read piece by
    // piece where a layer must see the bytes), as the socket drains.
    res.file = std::move(body);
  }

  std::string prefix_;
  std::string root_; ///< canonical
  static_files_options opts_;
};

} // namespace

const char* content_type_of(std::string_view name) noexcept {
  struct entry {
    const char* ext;
    const char* type;
  };
  static constexpr entry table[] = {
    {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
    {".json", "application/json"}, {".txt", "text/plain; charset=utf-8"},
    {".svg", "image/svg+xml"}, {".png", "image/png"}, {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"}, {".gif", "image/gif"}, {".ico", "image/x-icon"},
    {".wasm", "application/wasm"}, {".pdf", "application/pdf"},
    {".xml", "application/xml"}, {".woff2", "font/woff2"},
  };
  for (auto& e : table)
    if (ends_with(name, e.ext))
      return e.type;
  return "application/octet-stream";
}

caf::error add_static_files(http_router& router, std::string prefix,
                            static_files_options opts) {
  if (prefix.empty() || prefix.front() != '/' || prefix.back() != '/')
    return config_error("add static files", "", "prefix",
                        "\"" + prefix + "\": must start and end with '/'");
  if (opts.piece_size == 0)
    return config_error("add static files", "", "piece_size", "must be > 0");
  auto root = canonical(opts.root);
  struct stat st {};
  if (root.empty() || ::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return config_error("add static files", "", "root",
                        "\"" + opts.root + "\" is not a directory", errno);
  return router.add("GET", prefix + "*",
                    file_server{prefix, root, std::move(opts)});
}

} // namespace ghostnet::transports::http
