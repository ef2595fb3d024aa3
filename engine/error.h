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

[[noreturn]] void throw_error(const char* file, int line, const std::string& message);

}  // namespace mmp

#define MMP_THROW(...) ::mmp::throw_error(__FILE__, __LINE__, ::mmp::str(__VA_ARGS__))

#define MMP_CHECK(cond, ...)                   \
  do {                                         \
    if (!(cond)) [[unlikely]] MMP_THROW(__VA_ARGS__); \
  } while (0)
