#include "ghostnet/supervision/node_options.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include "ghostnet/actors/error.hpp"

namespace ghostnet {

namespace {

// Where a value came from, for error messages.
struct value_source {
  std::string value;
  std::string source; ///< "default", "config file \"x.ini\" line 3", ...
};

constexpr uint64_t max_scheduler_threads = 1024;

caf::error config_error(std::string detail, int os_errno = 0) {
  return make_error(errc::invalid_configuration, "parse configuration", {},
                    os_errno, std::move(detail));
}

std::string_view trim(std::string_view str) {
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
  };
  while (!str.empty() && is_space(str.front()))
    str.remove_prefix(1);
  while (!str.empty() && is_space(str.back()))
    str.remove_suffix(1);
  return str;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// CLI and INI keys are forgiving about case and '_' (log_level = log-level).
std::string normalize_key(std::string_view key) {
  std::string result{key};
  for (auto& c : result)
    c = c == '_' ? '-' : lower(c);
  return result;
}

bool all_digits(std::string_view str) {
  return !str.empty()
         && std::all_of(str.begin(), str.end(),
                        [](char c) { return c >= '0' && c <= '9'; });
}

// -- value parsers: the problem as text, or empty --------------------------

std::string parse_unsigned(std::string_view str, uint64_t max, uint64_t& out) {
  if (!all_digits(str))
    return quoted(str) + " is not a non-negative integer";
  uint64_t result = 0;
  for (char c : str) {
    auto digit = static_cast<uint64_t>(c - '0');
    if (result > (max - digit) / 10)
      return quoted(str) + " is out of range (at most " + std::to_string(max)
             + ")";
    result = result * 10 + digit;
  }
  out = result;
  return {};
}

std::string parse_bool(std::string_view str, bool& out) {
  std::string x{str};
  for (auto& c : x)
    c = lower(c);
  if (x == "true" || x == "yes" || x == "on" || x == "1") {
    out = true;
    return {};
  }
  if (x == "false" || x == "no" || x == "off" || x == "0") {
    out = false;
    return {};
  }
  return quoted(str) + " is not a flag (expected true/false, yes/no, on/off "
                       "or 1/0)";
}

std::string check_value(setting_type type, std::string_view value) {
  switch (type) {
    case setting_type::string:
      return {};
    case setting_type::boolean: {
      bool x;
      return parse_bool(value, x);
    }
    case setting_type::uint16: {
      uint64_t x;
      auto problem = parse_unsigned(value, 65535, x);
      if (!problem.empty())
        return quoted(value) + " is not a port number (0..65535)";
      return {};
    }
    case setting_type::uint64: {
      uint64_t x;
      return parse_unsigned(value, std::numeric_limits<uint64_t>::max(), x);
    }
    case setting_type::duration: {
      auto x = parse_duration(value);
      if (!x)
        return context_of(x.error()).detail;
      return {};
    }
  }
  return "unknown setting type";
}

/// A value against its option: the type, then the choices if any.
std::string check_option(const node_options_parser::option& opt,
                         std::string_view value) {
  auto problem = check_value(opt.type, value);
  if (!problem.empty() || opt.choices.empty()
      || std::find(opt.choices.begin(), opt.choices.end(), value) != opt.choices.end())
    return problem;
  std::string list;
  for (auto& c : opt.choices)
    list += (list.empty() ? "" : ", ") + c;
  return quoted(value) + " is not one of " + list;
}

// Checks of the built-in keys beyond their type.
std::string check_builtin(const std::string& key, std::string_view value) {
  if (key == "log-level") {
    auto x = log::parse_level(value);
    return x ? std::string{}
             : "unknown level " + quoted(value)
                 + " (expected trace, debug, info, warn, error or off)";
  }
  if (key == "log-format") {
    auto x = log::parse_format(value);
    return x ? std::string{}
             : "unknown format " + quoted(value) + " (expected text or json)";
  }
  if (key == "scheduler-threads") {
    uint64_t x;
    return parse_unsigned(value, max_scheduler_threads, x);
  }
  return {};
}

size_t edit_distance(std::string_view x, std::string_view y) {
  std::vector<size_t> row(y.size() + 1);
  for (size_t j = 0; j <= y.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= x.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= y.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (x[i - 1] == y[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[y.size()];
}

bool well_formed_key(std::string_view key) {
  if (key.empty() || key.front() == '.' || key.back() == '.'
      || key.front() == '-')
    return false;
  if (std::count(key.begin(), key.end(), '.') > 1)
    return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
           || c == '.';
  });
}

// The environment spelling of a key or section: echo.max-conns →
// ECHO_MAX_CONNS.
std::string env_spelling(std::string_view key) {
  std::string result;
  result.reserve(key.size());
  for (char c : key)
    result += (c == '.' || c == '-')
                ? '_'
                : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return result;
}

constexpr std::string_view env_prefix = "GHOSTNET_";

} // namespace

// -- durations ----------------------------------------------------------------

caf::expected<caf::timespan> parse_duration(std::string_view str) {
  auto bad = [&](const std::string& why) {
    return config_error(quoted(str) + " is not a duration: " + why
                        + " (expected e.g. 250ms, 10s, 2min)");
  };
  auto text = trim(str);
  size_t n = 0;
  while (n < text.size() && text[n] >= '0' && text[n] <= '9')
    ++n;
  if (n == 0)
    return bad(text.size() > 0 && text[0] == '-' ? "negative"
                                                 : "no number");
  auto unit = text.substr(n);
  struct unit_info {
    std::string_view name;
    int64_t ns;
  };
  constexpr unit_info units[] = {{"ns", 1},
                                 {"us", 1'000},
                                 {"ms", 1'000'000},
                                 {"s", 1'000'000'000},
                                 {"min", 60'000'000'000},
                                 {"h", 3'600'000'000'000}};
  const unit_info* match = nullptr;
  for (auto& u : units)
    if (unit == u.name)
      match = &u;
  if (match == nullptr)
    return bad(unit.empty() ? "missing unit"
                            : "unknown unit " + quoted(unit)
                                + " (ns, us, ms, s, min or h)");
  uint64_t count = 0;
  auto max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()
                                   / match->ns);
  if (!parse_unsigned(text.substr(0, n), max, count).empty())
    return bad("too large");
  return caf::timespan{static_cast<int64_t>(count) * match->ns};
}

const char* to_string(setting_type x) noexcept {
  switch (x) {
    case setting_type::string: return "string";
    case setting_type::boolean: return "bool";
    case setting_type::uint16: return "port";
    case setting_type::uint64: return "uint";
    case setting_type::duration: return "duration";
  }
  return "?";
}

// -- node_options -------------------------------------------------------------

caf::error node_options::validate() const {
  auto bad = [](std::string detail) {
    return make_error(errc::invalid_configuration, "validate node options",
                      {}, 0, std::move(detail));
  };
  if (scheduler_threads > max_scheduler_threads)
    return bad("scheduler-threads: " + std::to_string(scheduler_threads)
               + " is out of range (0 = CAF default, at most "
               + std::to_string(max_scheduler_threads) + ")");
  if (auto err = log::validate(log::options{log_level, log_format, log_file})) {
    auto detail = context_of(err).detail;
    if (detail.rfind("file: ", 0) == 0) // named by its key, so its source is found
      return bad("log-file: " + detail.substr(6));
    return bad("log: " + detail);
  }
  if (shutdown_timeout <= caf::timespan{0})
    return bad("shutdown-timeout: " + format_duration(shutdown_timeout)
               + " must be > 0");
  if (start_timeout <= caf::timespan{0})
    return bad("start-timeout: " + format_duration(start_timeout)
               + " must be > 0");
  if (host.empty() || host.find_first_of(" \t") != std::string::npos)
    return bad("host: " + quoted(host) + " is not a host name or address");
  return caf::none;
}

std::string node_options::value_of(const std::string& key) const {
  if (key == "config-file")
    return config_file;
  if (key == "scheduler-threads")
    return std::to_string(scheduler_threads);
  if (key == "log-level")
    return log::to_string(log_level);
  if (key == "log-format")
    return log::to_string(log_format);
  if (key == "log-file")
    return log_file;
  if (key == "shutdown-timeout")
    return format_duration(shutdown_timeout);
  if (key == "start-timeout")
    return format_duration(start_timeout);
  if (key == "ready-file")
    return ready_file;
  if (key == "host")
    return host;
  auto i = settings.find(key);
  return i == settings.end() ? std::string{} : i->second;
}

caf::expected<std::string>
node_options::get_string(const std::string& key) const {
  auto i = settings.find(key);
  if (i == settings.end())
    return make_error(errc::invalid_configuration, "get setting", {}, 0,
                      key + ": no such setting (declare it with "
                            "node_options_parser::declare)");
  return i->second;
}

namespace {

template <class T, class F>
caf::expected<T> get_as(const node_options& opts, const std::string& key,
                        F parse) {
  auto str = opts.get_string(key);
  if (!str)
    return str.error();
  T result{};
  auto problem = parse(*str, result);
  if (!problem.empty())
    return make_error(errc::invalid_configuration, "get setting", {}, 0,
                      key + ": " + problem);
  return result;
}

} // namespace

caf::expected<uint16_t> node_options::get_uint16(const std::string& key) const {
  return get_as<uint16_t>(*this, key, [](const std::string& str, uint16_t& out) {
    uint64_t x = 0;
    if (!parse_unsigned(str, 65535, x).empty())
      return quoted(str) + " is not a port number (0..65535)";
    out = static_cast<uint16_t>(x);
    return std::string{};
  });
}

caf::expected<uint64_t> node_options::get_uint64(const std::string& key) const {
  return get_as<uint64_t>(*this, key, [](const std::string& str, uint64_t& out) {
    return parse_unsigned(str, std::numeric_limits<uint64_t>::max(), out);
  });
}

caf::expected<caf::timespan>
node_options::get_duration(const std::string& key) const {
  return get_as<caf::timespan>(*this, key,
                               [](const std::string& str, caf::timespan& out) {
                                 auto x = parse_duration(str);
                                 if (!x)
                                   return context_of(x.error()).detail;
                                 out = *x;
                                 return std::string{};
                               });
}

caf::expected<bool> node_options::get_bool(const std::string& key) const {
  return get_as<bool>(*this, key, [](const std::string& str, bool& out) {
    return parse_bool(str, out);
  });
}

// -- node_options_parser ------------------------------------------------------

node_options_parser::node_options_parser() {
  node_options d;
  auto add = [this](std::string key, std::string def, std::string help,
                    setting_type type) {
    options_.push_back(option{std::move(key), std::move(def), std::move(help),
                              type, true, {}});
  };
  add("config-file", "", "INI file to read (command line or environment only)",
      setting_type::string);
  add("scheduler-threads", std::to_string(d.scheduler_threads),
      "worker threads of the scheduler, 0 = CAF default (max(cores, 4))",
      setting_type::uint64);
  add("log-level", log::to_string(d.log_level),
      "trace, debug, info, warn, error or off", setting_type::string);
  add("log-format", log::to_string(d.log_format), "text or json",
      setting_type::string);
  add("log-file", d.log_file, "file to append the log to; empty = stderr",
      setting_type::string);
  add("shutdown-timeout", format_duration(d.shutdown_timeout),
      "deadline for the orderly stop of the supervision tree",
      setting_type::duration);
  add("start-timeout", format_duration(d.start_timeout),
      "how long the node waits for its services to start",
      setting_type::duration);
  add("ready-file", d.ready_file,
      "file to write the bound addresses to (JSON) once ready",
      setting_type::string);
  add("host", d.host, "default bind host of services", setting_type::string);
}

const node_options_parser::option*
node_options_parser::find(const std::string& key) const noexcept {
  for (auto& opt : options_)
    if (opt.key == key)
      return &opt;
  return nullptr;
}

caf::error node_options_parser::declare(std::string key,
                                        std::string default_value,
                                        std::string help, setting_type type) {
  auto bad = [&](std::string why) {
    return make_error(errc::invalid_configuration, "declare setting", {}, 0,
                      quoted(key) + ": " + why);
  };
  if (!well_formed_key(key))
    return bad("keys are lowercase letters, digits and '-', with at most "
               "one '.' between section and name");
  if (find(key) != nullptr || key == "help")
    return bad("already declared");
  if (auto problem = check_value(type, default_value); !problem.empty())
    return bad("default " + problem);
  options_.push_back(option{std::move(key), std::move(default_value),
                            std::move(help), type, false, {}});
  return caf::none;
}

caf::error node_options_parser::declare_choice(std::string key,
                                               std::string default_value,
                                               std::string help,
                                               std::vector<std::string> choices) {
  if (std::find(choices.begin(), choices.end(), default_value) == choices.end())
    return make_error(errc::invalid_configuration, "declare setting", {}, 0,
                      quoted(key) + ": the default is not one of the choices");
  if (auto err = declare(std::move(key), std::move(default_value), std::move(help)))
    return err;
  options_.back().choices = std::move(choices);
  return caf::none;
}

caf::error node_options_parser::set_default(const std::string& key,
                                            std::string value) {
  auto i = std::find_if(options_.begin(), options_.end(),
                        [&](const option& x) { return x.key == key; });
  if (i == options_.end())
    return make_error(errc::invalid_configuration, "set default", {}, 0,
                      quoted(key) + ": unknown option");
  auto problem = check_option(*i, value);
  if (problem.empty())
    problem = check_builtin(key, value);
  if (!problem.empty())
    return make_error(errc::invalid_configuration, "set default", {}, 0,
                      key + ": " + problem);
  i->default_value = std::move(value);
  return caf::none;
}

std::string node_options_parser::key_of_env(std::string_view variable) const {
  if (variable.substr(0, env_prefix.size()) != env_prefix)
    return {};
  std::string name;
  for (char c : variable.substr(env_prefix.size()))
    name += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  auto dashed = [](std::string_view str) {
    std::string result;
    for (char c : str)
      result += c == '_' ? '-' : lower(c);
    return result;
  };
  // 1. A known key spelled exactly so (GHOSTNET_ECHO_MAX_CONNS →
  //    echo.max-conns, GHOSTNET_LOG_LEVEL → log-level).
  for (auto& opt : options_)
    if (env_spelling(opt.key) == name)
      return opt.key;
  // 2. A known section as prefix: the '_' after it is the '.'
  //    (GHOSTNET_ECHO_PROT → echo.prot, reported as unknown with a hint).
  std::string best_section;
  for (auto& opt : options_) {
    auto dot = opt.key.find('.');
    if (dot == std::string::npos)
      continue;
    auto section = opt.key.substr(0, dot);
    auto prefix = env_spelling(section) + "_";
    if (name.compare(0, prefix.size(), prefix) == 0
        && name.size() > prefix.size() && section.size() > best_section.size())
      best_section = section;
  }
  if (!best_section.empty())
    return best_section + "."
           + dashed(std::string_view{name}.substr(best_section.size() + 1));
  // 3. A global key: every '_' is a '-'.
  return dashed(name);
}

std::string node_options_parser::help_text(std::string_view program) const {
  std::ostringstream out;
  out << "Usage: " << (program.empty() ? "PROGRAM" : program)
      << " [--key=value | --key value]...\n\n"
      << "Sources, lowest precedence first: defaults < INI file "
         "(--config-file) < environment\n(GHOSTNET_<KEY>, e.g. "
         "GHOSTNET_LOG_LEVEL, GHOSTNET_ECHO_PORT) < command-line flags.\n"
      << "Durations: 250ms, 10s, 2min.\n\nOptions:\n";
  std::vector<std::string> flags;
  size_t width = std::strlen("-h, --help");
  for (auto& opt : options_) {
    std::string kind = to_string(opt.type);
    if (!opt.choices.empty()) {
      kind.clear();
      for (auto& c : opt.choices)
        kind += (kind.empty() ? "" : "|") + c;
    }
    flags.push_back("--" + opt.key + "=<" + kind + ">");
    width = std::max(width, flags.back().size());
  }
  for (size_t i = 0; i < options_.size(); ++i) {
    auto& opt = options_[i];
    out << "  " << flags[i] << std::string(width + 2 - flags[i].size(), ' ')
        << opt.help << " (default: "
        << (opt.default_value.empty() ? "none" : opt.default_value) << ")\n";
  }
  out << "  --check-config" << std::string(width + 2 - 14, ' ')
      << "validate, print the effective configuration and exit\n";
  out << "  -h, --help" << std::string(width + 2 - 10, ' ')
      << "print this text and exit\n";
  return out.str();
}

std::string
node_options_parser::effective_config(const node_options& opts) const {
  std::ostringstream out;
  for (auto& opt : options_) {
    auto value = opts.value_of(opt.key);
    auto i = opts.sources.find(opt.key);
    out << opt.key << " = " << (value.empty() ? "\"\"" : value) << "  ("
        << (i == opts.sources.end() ? "default" : i->second) << ")\n";
  }
  return out.str();
}

std::string node_options_parser::reference_markdown() const {
  std::ostringstream out;
  out << "| key | type | default | meaning |\n|---|---|---|---|\n";
  for (auto& opt : options_) {
    std::string kind = to_string(opt.type);
    if (!opt.choices.empty()) {
      kind.clear();
      for (auto& c : opt.choices)
        kind += (kind.empty() ? "" : " \\| ") + c;
    }
    out << "| `" << opt.key << "` | " << kind << " | "
        << (opt.default_value.empty() ? "" : "`" + opt.default_value + "`") << " | "
        << opt.help << " |\n";
  }
  return out.str();
}

namespace {

// Merges the sources into `values`, checking each value on the way.
class merger {
public:
  using option = node_options_parser::option;

  merger(const node_options_parser& parser) : parser_(parser) {
    for (auto& opt : parser.options())
      values_[opt.key] = value_source{opt.default_value, "default"};
  }

  caf::error apply(const std::string& key, std::string value,
                   const std::string& source) {
    auto opt = lookup(key);
    if (opt == nullptr)
      return config_error(source + ": unknown option " + quoted(key)
                          + suggestion(key));
    auto problem = check_option(*opt, value);
    if (problem.empty())
      problem = check_builtin(key, value);
    if (!problem.empty())
      return config_error(source + ": " + key + ": " + problem);
    values_[key] = value_source{std::move(value), source};
    return caf::none;
  }

  caf::error read_ini(const std::string& path) {
    std::ifstream in{path};
    if (!in) {
      auto os_errno = errno;
      return config_error("config file " + quoted(path) + ": cannot open: "
                            + std::strerror(os_errno),
                          os_errno);
    }
    std::string section;
    std::string line;
    for (size_t number = 1; std::getline(in, line); ++number) {
      auto where = "config file " + quoted(path) + " line "
                   + std::to_string(number);
      auto text = trim(line);
      if (text.empty() || text.front() == '#' || text.front() == ';')
        continue;
      if (text.front() == '[') {
        auto inner = trim(text.substr(1, text.size() - 1));
        if (text.back() != ']' || inner.size() < 2)
          return config_error(where + ": malformed section header "
                              + quoted(text) + " (expected [name])");
        inner = trim(inner.substr(0, inner.size() - 1));
        section = normalize_key(inner);
        if (section == "ghostnet")
          section.clear();
        else if (!well_formed_key(section)
                 || section.find('.') != std::string::npos)
          return config_error(where + ": malformed section name "
                              + quoted(inner));
        continue;
      }
      auto eq = text.find('=');
      if (eq == std::string_view::npos || trim(text.substr(0, eq)).empty())
        return config_error(where + ": malformed line " + quoted(text)
                            + " (expected key = value, [section] or a "
                              "# comment)");
      auto key = normalize_key(trim(text.substr(0, eq)));
      auto value = trim(text.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);
      if (!section.empty())
        key = section + "." + key;
      if (key == "config-file")
        return config_error(where
                            + ": config-file cannot be set in a config file");
      if (auto err = apply(key, std::string{value}, where))
        return err;
    }
    return caf::none;
  }

  const std::string& value(const std::string& key) const {
    return values_.at(key).value;
  }

  const std::map<std::string, value_source>& values() const {
    return values_;
  }

private:
  const option* lookup(const std::string& key) const {
    for (auto& opt : parser_.options())
      if (opt.key == key)
        return &opt;
    return nullptr;
  }

  std::string suggestion(const std::string& key) const {
    const option* best = nullptr;
    size_t best_distance = 3; // suggest only close matches
    for (auto& opt : parser_.options()) {
      auto d = edit_distance(key, opt.key);
      if (d < best_distance) {
        best = &opt;
        best_distance = d;
      }
    }
    if (best == nullptr)
      return " (--help lists the options)";
    return " (did you mean " + quoted(best->key) + "?)";
  }

  const node_options_parser& parser_;
  std::map<std::string, value_source> values_;
};

} // namespace

caf::expected<node_options>
node_options_parser::parse(const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env) const {
  node_options result;
  // Split the command line into (key, value, source) first: --help wins over
  // everything, and --config-file must be known before the file is read.
  struct flag {
    std::string key;
    std::string value;
    std::string source;
  };
  std::vector<flag> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "-h") {
      result.help_requested = true;
      return result;
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0)
      return config_error("command line: unexpected argument " + quoted(arg)
                          + " (options are --key=value or --key value)");
    auto body = std::string_view{arg}.substr(2);
    auto eq = body.find('=');
    auto key = normalize_key(body.substr(0, eq));
    if (key == "help") {
      result.help_requested = true;
      return result;
    }
    if (key == "check-config" && eq == std::string_view::npos) {
      result.check_config_requested = true;
      continue;
    }
    auto source = "command-line flag --" + std::string{body.substr(0, eq)};
    if (eq != std::string_view::npos) {
      flags.push_back(flag{key, std::string{body.substr(eq + 1)}, source});
      continue;
    }
    auto opt = find(key);
    if (i + 1 < args.size() && args[i + 1].compare(0, 2, "--") != 0) {
      flags.push_back(flag{key, args[++i], source});
    } else if (opt != nullptr && opt->type == setting_type::boolean) {
      flags.push_back(flag{key, "true", source});
    } else if (opt == nullptr) {
      flags.push_back(flag{key, {}, source}); // reported as unknown below
    } else {
      return config_error(source + ": missing value (--" + key
                          + "=<" + to_string(opt->type) + ">)");
    }
  }
  merger m{*this};
  // 2. The INI file: the command line names it, else the environment.
  std::string config_file;
  std::string config_source;
  if (auto i = env.find("GHOSTNET_CONFIG_FILE"); i != env.end()) {
    config_file = i->second;
    config_source = "environment variable GHOSTNET_CONFIG_FILE";
  }
  for (auto& f : flags)
    if (f.key == "config-file") {
      config_file = f.value;
      config_source = f.source;
    }
  if (!config_file.empty()) {
    if (auto err = m.read_ini(config_file))
      return err;
    result.config_file = config_file;
  }
  // 3. The environment (a std::map: sorted, so errors are deterministic).
  for (auto& [name, value] : env) {
    auto key = key_of_env(name);
    if (key.empty() || key == "config-file")
      continue;
    if (auto err = m.apply(key, value, "environment variable " + name))
      return err;
  }
  // 4. The command line.
  for (auto& f : flags)
    if (f.key != "config-file")
      if (auto err = m.apply(f.key, f.value, f.source))
        return err;
  // Convert; every value was checked when it was applied.
  auto must = [](auto x) { return std::move(*x); };
  (void) parse_unsigned(m.value("scheduler-threads"), max_scheduler_threads,
                        result.scheduler_threads);
  result.log_level = must(log::parse_level(m.value("log-level")));
  result.log_format = must(log::parse_format(m.value("log-format")));
  result.log_file = m.value("log-file");
  result.shutdown_timeout = must(parse_duration(m.value("shutdown-timeout")));
  result.start_timeout = must(parse_duration(m.value("start-timeout")));
  result.ready_file = m.value("ready-file");
  result.host = m.value("host");
  for (auto& opt : options_)
    if (!opt.builtin)
      result.settings[opt.key] = m.value(opt.key);
  for (auto& [key, v] : m.values())
    result.sources[key] = v.source;
  if (!config_file.empty())
    result.sources["config-file"] = config_source;
  if (auto err = result.validate()) {
    // Name the source of the value that failed validation.
    auto detail = context_of(err).detail;
    auto key = detail.substr(0, detail.find(':'));
    auto i = m.values().find(key);
    if (i != m.values().end())
      return config_error(i->second.source + ": " + detail);
    return err;
  }
  return result;
}

caf::expected<node_options>
node_options_parser::parse(int argc, char** argv, char** envp) const {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i)
    args.emplace_back(argv[i]);
  std::map<std::string, std::string> env;
  for (auto p = envp; p != nullptr && *p != nullptr; ++p) {
    std::string_view entry{*p};
    if (entry.substr(0, env_prefix.size()) != env_prefix)
      continue;
    auto eq = entry.find('=');
    if (eq == std::string_view::npos)
      continue;
    env.emplace(std::string{entry.substr(0, eq)},
                std::string{entry.substr(eq + 1)});
  }
  return parse(args, env);
}

caf::expected<node_options> parse_node_options(int argc, char** argv,
                                               char** envp) {
  return node_options_parser{}.parse(argc, argv, envp);
}

caf::expected<node_options>
parse_node_options(const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& env) {
  return node_options_parser{}.parse(args, env);
}

} // namespace ghostnet
