#pragma once
// Parsing and running a command line, with mmp's error reporting: a bad input is one
// line on stderr and exit status 1, a bug exit status 2. Returns the status to exit
// with when parsing ended the program (--help, --version, an error), else nothing.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>

#include "engine/error.h"

namespace mmp::cli {

// The command line this process was started with, as a shell would take it back
// (a run folder records it).
inline std::string& invoked_command_line() {
  static std::string line;
  return line;
}

inline std::string shell_quoted(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                              "-_./=:,+@%") == std::string::npos)
    return word;
  std::string out = "'";
  for (const char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline std::optional<int> parse_and_run(CLI::App& app, int argc, char** argv, const char* program) {
  for (int i = 0; i < argc; ++i) invoked_command_line() += (i ? " " : "") + shell_quoted(argv[i]);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const mmp::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // The file system refused (no room, read-only, no permission): the input's fault, not mmp's.
    std::fprintf(stderr, "%s: error: %s\n", program, mmp::printable(e.what()).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", program, e.what());
    return 2;
  }
  return std::nullopt;
}

}  // namespace mmp::cli
