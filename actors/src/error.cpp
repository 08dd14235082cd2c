#include "ghostnet/actors/error.hpp"

#include <cerrno>
#include <cstring>

#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace ghostnet {

const char* to_string(errc x) noexcept {
  switch (x) {
    case errc::connection_refused: return "connection_refused";
    case errc::connection_reset: return "connection_reset";
    case errc::network_unreachable: return "network_unreachable";
    case errc::address_in_use: return "address_in_use";
    case errc::invalid_address: return "invalid_address";
    case errc::timeout: return "timeout";
    case errc::too_many_connections: return "too_many_connections";
    case errc::protocol_error: return "protocol_error";
    case errc::transport_closed: return "transport_closed";
    case errc::invalid_state: return "invalid_state";
    case errc::pool_exhausted: return "pool_exhausted";
    case errc::tls_handshake_failed: return "tls_handshake_failed";
    case errc::invalid_configuration: return "invalid_configuration";
    case errc::duplicate_child: return "duplicate_child";
    case errc::unknown_child: return "unknown_child";
    case errc::start_failed: return "start_failed";
    case errc::restart_intensity_exceeded: return "restart_intensity_exceeded";
    case errc::backpressure: return "backpressure";
    case errc::io_error: return "io_error";
    case errc::out_of_resources: return "out_of_resources";
    case errc::circuit_open: return "circuit_open";
  }
  return "unknown_errc";
}

bool is_temporary(errc x) noexcept {
  switch (x) {
    case errc::connection_refused:
    case errc::connection_reset:
    case errc::network_unreachable:
    case errc::timeout:
    case errc::too_many_connections:
    case errc::transport_closed:
    case errc::pool_exhausted:
    case errc::backpressure:
    case errc::out_of_resources:
    case errc::address_in_use:
    case errc::circuit_open:
      return true;
    default:
      return false;
  }
}

errc errc_from_errno(int e) noexcept {
  switch (e) {
    case ECONNREFUSED: return errc::connection_refused;
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED: return errc::connection_reset;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN: return errc::network_unreachable;
    case EADDRINUSE: return errc::address_in_use;
    case EADDRNOTAVAIL:
    case EAFNOSUPPORT: return errc::invalid_address;
    case ETIMEDOUT: return errc::timeout;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM: return errc::out_of_resources;
    default: return errc::io_error;
  }
}

caf::error make_error(errc code) {
  return caf::error{static_cast<uint8_t>(code), error_category};
}

caf::error make_error(errc code, std::string operation, std::string endpoint,
                      int os_errno, std::string detail) {
  return caf::error{static_cast<uint8_t>(code), error_category,
                    caf::make_message(std::move(operation), std::move(endpoint),
                                      int32_t{os_errno}, std::move(detail))};
}

caf::error config_error(std::string operation, std::string endpoint,
                        const std::string& field, std::string why,
                        int os_errno) {
  return make_error(errc::invalid_configuration, std::move(operation),
                    std::move(endpoint), os_errno, field + ": " + std::move(why));
}

caf::error make_os_error(int os_errno, std::string operation,
                         std::string endpoint) {
  return make_error(errc_from_errno(os_errno), std::move(operation),
                    std::move(endpoint), os_errno);
}

std::optional<errc> code_of(const caf::error& err) noexcept {
  if (!err || err.category() != error_category)
    return std::nullopt;
  return static_cast<errc>(err.code());
}

bool is(const caf::error& err, errc code) noexcept {
  return code_of(err) == code;
}

error_context context_of(const caf::error& err) {
  error_context result;
  if (!code_of(err))
    return result;
  const auto& ctx = err.context();
  if (ctx.match_elements<std::string, std::string, int32_t, std::string>()) {
    result.operation = ctx.get_as<std::string>(0);
    result.endpoint = ctx.get_as<std::string>(1);
    result.os_errno = ctx.get_as<int32_t>(2);
    result.detail = ctx.get_as<std::string>(3);
  }
  return result;
}

namespace {

void append_quoted(std::string& out, const char* key, const std::string& val) {
  out += key;
  out += "=\"";
  for (char c : val) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  out += '"';
}

std::string render_ghostnet(uint8_t code, const caf::message& ctx) {
  std::string out = to_string(static_cast<errc>(code));
  if (!ctx.match_elements<std::string, std::string, int32_t, std::string>())
    return out;
  std::string fields;
  auto sep = [&] {
    if (!fields.empty())
      fields += ", ";
  };
  if (auto& op = ctx.get_as<std::string>(0); !op.empty())
    append_quoted(fields, "operation", op);
  if (auto& ep = ctx.get_as<std::string>(1); !ep.empty()) {
    sep();
    append_quoted(fields, "endpoint", ep);
  }
  if (auto e = ctx.get_as<int32_t>(2); e != 0) {
    sep();
    fields += "errno=" + std::to_string(e) + " (" + std::strerror(e) + ")";
  }
  if (auto& detail = ctx.get_as<std::string>(3); !detail.empty()) {
    sep();
    append_quoted(fields, "detail", detail);
  }
  return out + "(" + fields + ")";
}

} // namespace

std::string describe(const caf::error& err) {
  if (!err)
    return "none";
  if (err.category() == error_category)
    return render_ghostnet(err.code(), err.context());
  if (err.category() == caf::atom("system"))
    return "caf::sec::" + caf::to_string(static_cast<caf::sec>(err.code()));
  if (err.category() == caf::atom("exit"))
    return "caf::exit_reason::"
           + caf::to_string(static_cast<caf::exit_reason>(err.code()));
  return caf::to_string(err);
}

void register_error_category(caf::actor_system_config& cfg) {
  cfg.add_error_category(error_category,
                         [](uint8_t code, caf::atom_value,
                            const caf::message& ctx) {
                           return render_ghostnet(code, ctx);
                         });
}

} // namespace ghostnet
