#pragma once
// A command's options in a TOML file (toml++): `mmp train --config FILE.toml` sets from
// the file every option the command line did not give, and a run folder keeps the
// resolved options, so that a run can be repeated and `--resume` can tell a different run.
#include <CLI/CLI.hpp>
#include <string>

namespace mmp::cli {

// Keys are the long option names without dashes (`lr`, `weight-decay`, or
// `weight_decay`), at the top of the file or in a [<command>] table; flags take true or
// false; --compare also takes an array of names. An unknown key, a value of the wrong
// type or one the option refuses is an error naming the file, the line and the key.
void apply_config_file(CLI::App& cmd, const std::string& path);

// Gives `option` `value` unless the command line or a config file gave one, so that the
// resolved options show it (the values a command derives, like --width 64 with --data).
void set_unless_given(CLI::App& cmd, const std::string& option, const std::string& value);

// Every option of `cmd` as TOML (what was given, else its default; options without a
// value are listed as comments), after `header` (comment lines).
std::string resolved_config(const CLI::App& cmd, const std::string& header);

// The keys of two resolved configs whose values differ, leaving out `ignored` ones,
// as "key: A -> B" items separated by "; " (empty when the runs agree).
std::string config_differences(const std::string& before, const std::string& after,
                               const std::vector<std::string>& ignored);

}  // namespace mmp::cli
