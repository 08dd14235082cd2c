#include "ghostnet/transports/tls_options.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include <openssl/ssl.h>

#include "ghostnet/actors/error.hpp"

namespace ghostnet::transports {

namespace {

caf::error bad(const std::string& field, std::string why) {
  return config_error("validate tls options", "", field, std::move(why));
}

bool iequals(std::string_view x, std::string_view y) {
  return x.size() == y.size()
         && std::equal(x.begin(), x.end(), y.begin(), [](char a, char b) {
              return std::tolower(static_cast<unsigned char>(a))
                     == std::tolower(static_cast<unsigned char>(b));
            });
}

caf::error check_version(const char* field, const std::string& value) {
  if (detail::tls_version_number(value) == 0)
    return bad(field, "\"" + value + "\" is not supported (allowed: 1.2, 1.3)");
  return caf::none;
}

caf::error check_alpn(const std::vector<std::string>& alpn) {
  for (const auto& name : alpn)
    if (name.empty() || name.size() > 255)
      return bad("alpn", "protocol names must have 1 to 255 bytes, \"" + name
                           + "\" has " + std::to_string(name.size()));
  return caf::none;
}

caf::error check_key_pair(const std::string& prefix, const std::string& chain,
                          const std::string& key) {
  if (chain.empty() != key.empty())
    return bad(prefix + (chain.empty() ? "certificate_chain_file"
                                       : "private_key_file"),
               "certificate_chain_file and private_key_file go together");
  return caf::none;
}

caf::error check_sni_pattern(const std::string& field,
                             const std::string& name) {
  if (name.empty())
    return bad(field, "must not be empty");
  auto star = name.find('*');
  if (star == std::string::npos)
    return caf::none;
  if (star != 0 || name.size() < 3 || name[1] != '.'
      || name.find('*', 1) != std::string::npos)
    return bad(field, "\"" + name
                        + "\": a wildcard must be the whole leftmost label "
                          "(\"*.example.com\")");
  return caf::none;
}

caf::error validate_server(const tls_options& opts) {
  if (opts.certificate_chain_file.empty())
    return bad("certificate_chain_file", "a server needs a certificate");
  if (opts.private_key_file.empty())
    return bad("private_key_file", "a server needs a private key");
  if (!opts.server_name.empty())
    return bad("server_name", "is for clients; a server picks certificates "
                              "by SNI with sni_certificates");
  if (!opts.verify_peer || opts.insecure_skip_verify)
    return bad(opts.insecure_skip_verify ? "insecure_skip_verify"
                                         : "verify_peer",
               "is for clients; a server verifies clients per client_auth");
  if (opts.client_auth != tls_client_auth::none && opts.ca_file.empty()
      && opts.ca_dir.empty())
    return bad("client_auth", std::string{"\""} + to_string(opts.client_auth)
                                + "\" needs ca_file or ca_dir to verify "
                                  "client certificates");
  for (size_t i = 0; i < opts.sni_certificates.size(); ++i) {
    const auto& sni = opts.sni_certificates[i];
    auto prefix = "sni_certificates[" + std::to_string(i) + "].";
    if (auto err = check_sni_pattern(prefix + "server_name", sni.server_name))
      return err;
    if (sni.certificate_chain_file.empty())
      return bad(prefix + "certificate_chain_file", "is required");
    if (sni.private_key_file.empty())
      return bad(prefix + "private_key_file", "is required");
  }
  return caf::none;
}

caf::error validate_client(const tls_options& opts) {
  if (!opts.sni_certificates.empty())
    return bad("sni_certificates", "is for servers");
  if (opts.client_auth != tls_client_auth::none)
    return bad("client_auth", "is for servers; a client presents "
                              "certificate_chain_file when asked");
  if (!opts.verify_peer && !opts.insecure_skip_verify)
    return bad("verify_peer", "false needs insecure_skip_verify = true as "
                              "well (the server would not be authenticated)");
  if (opts.verify_peer && opts.insecure_skip_verify)
    return bad("insecure_skip_verify",
               "true contradicts verify_peer = true; set verify_peer = false "
               "too to skip verification");
  if (!opts.server_name.empty() && opts.server_name.size() > 253)
    return bad("server_name", "longer than 253 bytes");
  if (opts.session_tickets && opts.session_cache_size == 0)
    return bad("session_cache_size", "must be > 0 with session_tickets");
  return caf::none;
}

} // namespace

const char* to_string(tls_role x) noexcept {
  switch (x) {
    case tls_role::server: return "server";
    case tls_role::client: return "client";
  }
  return "?";
}

const char* to_string(tls_client_auth x) noexcept {
  switch (x) {
    case tls_client_auth::none: return "none";
    case tls_client_auth::optional: return "optional";
    case tls_client_auth::required: return "required";
  }
  return "?";
}

caf::expected<tls_role> parse_tls_role(std::string_view str) {
  for (auto x : {tls_role::server, tls_role::client})
    if (iequals(str, to_string(x)))
      return x;
  return bad("role", "\"" + std::string{str}
                       + "\" is not a role (allowed: server, client)");
}

caf::expected<tls_client_auth> parse_tls_client_auth(std::string_view str) {
  for (auto x : {tls_client_auth::none, tls_client_auth::optional,
                 tls_client_auth::required})
    if (iequals(str, to_string(x)))
      return x;
  return bad("client_auth",
             "\"" + std::string{str}
               + "\" is not a mode (allowed: none, optional, required)");
}

caf::error validate(const tls_options& opts) {
  if (auto err = check_version("min_version", opts.min_version))
    return err;
  if (!opts.max_version.empty()) {
    if (auto err = check_version("max_version", opts.max_version))
      return err;
    if (detail::tls_version_number(opts.max_version)
        < detail::tls_version_number(opts.min_version))
      return bad("max_version", "\"" + opts.max_version
                                  + "\" is below min_version \""
                                  + opts.min_version + "\"");
  }
  if (auto err = check_key_pair("", opts.certificate_chain_file,
                                opts.private_key_file))
    return err;
  if (auto err = check_alpn(opts.alpn))
    return err;
  if (opts.handshake_timeout <= caf::timespan{0})
    return bad("handshake_timeout", "must be > 0");
  return opts.role == tls_role::server ? validate_server(opts)
                                       : validate_client(opts);
}

namespace detail {

int tls_version_number(std::string_view str) noexcept {
  if (str == "1.2")
    return TLS1_2_VERSION;
  if (str == "1.3")
    return TLS1_3_VERSION;
  return 0;
}

bool is_ip_literal(const std::string& str) noexcept {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, str.c_str(), buf) == 1
         || inet_pton(AF_INET6, str.c_str(), buf) == 1;
}

} // namespace detail

} // namespace ghostnet::transports
