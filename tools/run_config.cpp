#include "tools/run_config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <toml++/toml.h>

#include "engine/atomic_file.h"
#include "engine/error.h"
#include "tools/toml_guard.h"

namespace mmp::cli {
namespace {

// Options that are actions of one invocation, not settings of a run.
bool is_setting(const CLI::Option& option) {
  const std::string name = option.get_single_name();
  return !option.get_lnames().empty() && name != "help" && name != "config" && name != "resume";
}

std::string shortest(double v) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  return ec == std::errc() ? std::string(buffer, end) : std::to_string(v);
}

// A TOML value as the text a command line would give.
std::string as_argument(const toml::node& node, const std::string& where) {
  if (const auto* s = node.as_string()) return s->get();
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* f = node.as_floating_point()) return shortest(f->get());
  if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
  if (const auto* a = node.as_array()) {
    std::string joined;
    for (const toml::node& item : *a) {
      MMP_CHECK(!item.is_array() && !item.is_table(), where, ": an array of plain values was expected");
      joined += (joined.empty() ? "" : ",") + as_argument(item, where);
    }
    return joined;
  }
  MMP_THROW(where, ": a string, number, boolean or array was expected");
}

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (const unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", c);
      out += escape;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// `text` as a TOML value: a number for numeric options, a boolean for flags, else a string.
std::string toml_value(const CLI::Option& option, const std::string& text) {
  const std::string type = option.get_type_name();
  if (type == "INT" || type == "UINT" || type == "FLOAT") {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (!text.empty() && *end == '\0' && std::isfinite(v)) return type == "FLOAT" ? shortest(v) : text;
  }
  return quoted(text);
}

toml::table parse_toml(const std::string& text, const std::string& source) {
  const std::string guarded = guard_toml_text(text, source);
  try {
    return toml::parse(guarded, source);
  } catch (const toml::parse_error& e) {
    MMP_THROW(source, ":", e.source().begin.line, ": not valid TOML (", e.description(), ")");
  }
}

}  // namespace

void apply_config_file(CLI::App& cmd, const std::string& path) {
  const toml::table file = parse_toml(read_file(path, "the config file"), path);
  const std::string command = cmd.get_name();
  const toml::table* settings = &file;
  if (const toml::table* section = file[command].as_table()) settings = section;
  for (const auto& [key, node] : *settings) {
    if (settings == &file && key.str() == command) continue;
    const std::string where = path + ":" + std::to_string(node.source().begin.line) + ": " + std::string(key.str());
    std::string name(key.str());
    std::replace(name.begin(), name.end(), '_', '-');
    CLI::Option* option = cmd.get_option_no_throw("--" + name);
    MMP_CHECK(option && is_setting(*option), where, " is not an option of mmp ", command,
              " (the keys are its long option names, see mmp ", command, " --help)");
    if (option->count() > 0) continue;  // the command line wins
    const std::string value = as_argument(node, where);
    try {
      if (option->get_expected_min() == 0) {  // a flag: true is giving it, false leaving it out
        MMP_CHECK(node.is_boolean(), where, ": a flag takes true or false");
        if (value == "false") continue;
        option->add_result(option->get_flag_value(name, ""));
      } else {
        option->add_result(value);
      }
      option->run_callback();
    } catch (const CLI::Error& e) {
      MMP_THROW(where, " = ", value, ": ", e.what());
    }
  }
}

void set_unless_given(CLI::App& cmd, const std::string& option, const std::string& value) {
  CLI::Option* o = cmd.get_option(option);
  if (o->count() > 0) return;
  o->add_result(value);
  o->run_callback();
}

std::string resolved_config(const CLI::App& cmd, const std::string& header) {
  std::ostringstream out;
  out << header;
  for (const CLI::Option* option : cmd.get_options()) {
    if (!is_setting(*option)) continue;
    const std::string key = option->get_single_name();
    if (option->get_expected_min() == 0) {  // a flag: given or not
      out << key << " = " << (option->count() > 0 ? "true" : "false") << "\n";
      continue;
    }
    std::string text;
    if (option->count() > 0) {
      for (const std::string& r : option->results()) text += (text.empty() ? "" : ",") + r;
    } else {
      text = option->get_default_str();
    }
    if (text.empty() && option->count() == 0) out << "# " << key << ": not set\n";
    else out << key << " = " << toml_value(*option, text) << "\n";
  }
  return out.str();
}

std::string config_differences(const std::string& before, const std::string& after,
                               const std::vector<std::string>& ignored) {
  const toml::table a = parse_toml(before, "the saved config"), b = parse_toml(after, "the new config");
  const auto text = [](const toml::node* n) -> std::string {
    if (!n) return "(not set)";
    if (const auto v = n->value<double>(); v && (n->is_integer() || n->is_floating_point())) return shortest(*v);
    std::ostringstream s;
    if (const auto* str = n->as_string()) s << str->get();
    else if (const auto* boolean = n->as_boolean()) s << (boolean->get() ? "true" : "false");
    return s.str();
  };
  std::vector<std::string> keys;
  for (const auto& [k, v] : a) keys.emplace_back(k.str());
  for (const auto& [k, v] : b)
    if (!a.contains(k.str())) keys.emplace_back(k.str());
  std::string differences;
  for (const std::string& key : keys) {
    if (std::find(ignored.begin(), ignored.end(), key) != ignored.end()) continue;
    const std::string x = text(a.get(key)), y = text(b.get(key));
    if (x != y) differences += (differences.empty() ? "" : "; ") + key + ": " + x + " -> " + y;
  }
  return differences;
}

}  // namespace mmp::cli
