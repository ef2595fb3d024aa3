#pragma once
// mmp::Error and the checks that raise it. Every message names what failed and
// with which operands, so a user can act on one line.
#include <sstream>
#include <stdexcept>
#include <string>

namespace mmp {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Concatenates anything printable with operator<< into one string.
template <class... Args>
std::string str(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

// `text` safe to print: valid UTF-8, newlines and tabs as they are; other control
// characters and bytes that are not UTF-8 as \xNN. Messages quote bytes from outside
// (a file's header, a CSV line), which must not reach a terminal raw.
std::string printable(const std::string& text);

// Throws mmp::Error with the message made printable.
[[noreturn]] void throw_error(const char* file, int line, const std::string& message);

}  // namespace mmp

#define MMP_THROW(...) ::mmp::throw_error(__FILE__, __LINE__, ::mmp::str(__VA_ARGS__))

#define MMP_CHECK(cond, ...)                   \
  do {                                         \
    if (!(cond)) [[unlikely]] MMP_THROW(__VA_ARGS__); \
  } while (0)
