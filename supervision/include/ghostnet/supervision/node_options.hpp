#pragma once

// The configuration of a ghostnet node and where it comes from.
//
// Sources, lowest precedence first:
//   1. built-in defaults (the initializers below, or a service's `declare`)
//   2. an INI file named by `--config-file=PATH` (or GHOSTNET_CONFIG_FILE)
//   3. environment variables GHOSTNET_<KEY>
//   4. command-line flags `--key=value` or `--key value`
//
// Keys are lowercase, words joined by '-', a section separated by '.':
// `log-level`, `shutdown-timeout`, `echo.port`. Every value from every source
// is checked when it is read; an unknown key or a bad value is an
// errc::invalid_configuration error whose detail names the source (file and
// line, environment variable, or flag), the key and the value. See
// docs/supervision.md ("The node") for the environment variable naming rule.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "ghostnet/actors/format.hpp"
#include "ghostnet/actors/log.hpp"

namespace ghostnet {

/// A node's settings after all sources were merged and validated.
struct node_options {
  /// Worker threads of CAF's scheduler; 0 (default) = CAF's default,
  /// max(cores, 4). Key `scheduler-threads`, at most 1024.
  uint64_t scheduler_threads = 0;
  /// Minimum level of log events; default info. Key `log-level`.
  log::level log_level = log::level::info;
  /// Log line format, text (key=value, default) or json. Key `log-format`.
  log::format log_format = log::format::text;
  /// File the log is appended to; empty (default) = stderr. Key `log-file`.
  std::string log_file;
  /// Deadline for the orderly stop of the supervision tree; default 10 s.
  /// Key `shutdown-timeout`.
  caf::timespan shutdown_timeout = std::chrono::seconds(10);
  /// How long `node::start` waits for the services to start; default 10 s.
  /// Key `start-timeout`.
  caf::timespan start_timeout = std::chrono::seconds(10);
  /// Where `node::write_ready_file` writes the bound addresses as JSON;
  /// empty (default) = nowhere. Key `ready-file`.
  std::string ready_file;
  /// Default bind host of services; default 127.0.0.1. Key `host`.
  std::string host = "127.0.0.1";
  /// Settings of services (`echo.port` → "7007"), declared with
  /// node_options_parser::declare; read them with the typed getters below.
  std::map<std::string, std::string> settings;
  /// The INI file that was read; empty if none (informational).
  std::string config_file;
  /// `--help` was given: print node_options_parser::help_text() and exit.
  /// Nothing else was parsed.
  bool help_requested = false;
  /// `--check-config` was given: everything was parsed and validated; print
  /// node_options_parser::effective_config() (after checking what the
  /// program builds from the settings) and exit.
  bool check_config_requested = false;
  /// Where each key's value came from: "default", "INI file F line N",
  /// "environment variable GHOSTNET_X", "command-line flag --x".
  std::map<std::string, std::string> sources;

  /// The value of any key, built-in or declared, as text ("" if unknown).
  [[nodiscard]] std::string value_of(const std::string& key) const;

  /// Checks ranges and combinations; returns errc::invalid_configuration
  /// naming the option and the bad value.
  [[nodiscard]] caf::error validate() const;

  /// A setting as text; errc::invalid_configuration if it is not declared.
  [[nodiscard]] caf::expected<std::string>
  get_string(const std::string& key) const;

  /// A setting as a port number (0..65535).
  [[nodiscard]] caf::expected<uint16_t> get_uint16(const std::string& key) const;

  /// A setting as an unsigned integer.
  [[nodiscard]] caf::expected<uint64_t> get_uint64(const std::string& key) const;

  /// A setting as a duration (`250ms`, `10s`, `2min`, see parse_duration).
  [[nodiscard]] caf::expected<caf::timespan>
  get_duration(const std::string& key) const;

  /// A setting as a flag (true/false, yes/no, on/off, 1/0).
  [[nodiscard]] caf::expected<bool> get_bool(const std::string& key) const;
};

/// The type of a declared setting: values from every source are checked
/// against it when read, so that a typo fails at startup, naming the source.
enum class setting_type : uint8_t { string, boolean, uint16, uint64, duration };

[[nodiscard]] const char* to_string(setting_type x) noexcept;

/// Parses a non-negative integer followed by a unit: ns, us, ms, s, min or
/// h (`250ms`, `10s`, `2min`). A missing unit, a sign or a fraction is
/// errc::invalid_configuration.
[[nodiscard]] caf::expected<caf::timespan> parse_duration(std::string_view str);

// format_duration (ghostnet/actors/format.hpp) is its inverse:
// parse_duration(format_duration(x)) == x.

/// Knows every key (the node's own and those services declare) and merges
/// the sources into node_options. Not thread-safe; build it once in main.
class node_options_parser {
public:
  /// One known key.
  struct option {
    std::string key;
    std::string default_value;
    std::string help;
    setting_type type = setting_type::string;
    bool builtin = false; ///< a field of node_options rather than a setting
    /// The values a string setting may take; empty: any.
    std::vector<std::string> choices;
  };

  /// A parser that knows the node's own keys.
  node_options_parser();

  /// Declares a service setting, e.g. `declare("echo.port", "7007", "TCP
  /// port of the echo service", setting_type::uint16)`. The key must be new
  /// and well-formed (lowercase letters, digits, '-', at most one '.' between
  /// section and name) and the default must be of `type`.
  [[nodiscard]] caf::error declare(std::string key, std::string default_value,
                                   std::string help,
                                   setting_type type = setting_type::string);

  /// Declares a string setting that takes one of `choices` (e.g. a framing
  /// kind): any other value, from any source, is refused at parse time,
  /// naming the source, the key and the choices.
  [[nodiscard]] caf::error declare_choice(std::string key, std::string default_value,
                                          std::string help,
                                          std::vector<std::string> choices);

  /// Replaces the default of a known key (a program's own defaults, e.g. a
  /// sample that logs less). The value must be of the key's type.
  [[nodiscard]] caf::error set_default(const std::string& key,
                                       std::string value);

  /// Every key with its value in `opts` and where it came from, one per
  /// line (what `--check-config` prints).
  [[nodiscard]] std::string effective_config(const node_options& opts) const;

  /// Every key as a markdown table (key, type, default, meaning): the
  /// source of docs/configuration.md's tables, so they cannot drift.
  [[nodiscard]] std::string reference_markdown() const;

  /// Parses `main`'s arguments (argv[0] is skipped) and environment
  /// (`envp` may be null: no variables).
  [[nodiscard]] caf::expected<node_options>
  parse(int argc, char** argv, char** envp) const;

  /// Parses the arguments after the program name and the environment as a
  /// map (for tests and embedders).
  [[nodiscard]] caf::expected<node_options>
  parse(const std::vector<std::string>& args,
        const std::map<std::string, std::string>& env) const;

  /// Maps an environment variable to the key it sets. The name after
  /// GHOSTNET_ is compared case-insensitively, in this order:
  ///  1. a known key whose '.' and '-' are written '_' (GHOSTNET_LOG_LEVEL →
  ///     log-level, GHOSTNET_ECHO_PORT → echo.port);
  ///  2. else, if it starts with a known section and '_', that '_' is the
  ///     '.' and every other '_' a '-' (GHOSTNET_ECHO_PROT → echo.prot, which
  ///     parse then reports as unknown);
  ///  3. else every '_' is a '-' (a global key).
  /// Returns an empty string for variables without the GHOSTNET_ prefix.
  [[nodiscard]] std::string key_of_env(std::string_view variable) const;

  /// Usage text: every key with its type, default and help.
  [[nodiscard]] std::string help_text(std::string_view program = "") const;

  /// Every known key, in declaration order.
  [[nodiscard]] const std::vector<option>& options() const noexcept {
    return options_;
  }

private:
  const option* find(const std::string& key) const noexcept;

  std::vector<option> options_;
};

/// `node_options_parser{}.parse(argc, argv, envp)`: the node's own keys only.
[[nodiscard]] caf::expected<node_options>
parse_node_options(int argc, char** argv, char** envp);

/// As above, from arguments after the program name and a map environment.
[[nodiscard]] caf::expected<node_options>
parse_node_options(const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& env);

} // namespace ghostnet
