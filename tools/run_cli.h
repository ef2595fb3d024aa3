#pragma once
// Parsing and running a command line, with mmp's error reporting: a bad input is one
// line on stderr and exit status 1, a bug exit status 2. Returns the status to exit
// with when parsing ended the program (--help, --version, an error), else nothing.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <optional>

#include "engine/error.h"

namespace mmp::cli {

inline std::optional<int> parse_and_run(CLI::App& app, int argc, char** argv, const char* program) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const mmp::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", program, e.what());
    return 2;
  }
  return std::nullopt;
}

}  // namespace mmp::cli
