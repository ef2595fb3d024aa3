#include "engine/error.h"

#include <cstdlib>

namespace mmp {

void throw_error(const char* file, int line, const std::string& message) {
  // The source location helps developers; users read the message. Set
  // MMP_ERROR_LOCATION=1 to append it.
  static const bool with_location = std::getenv("MMP_ERROR_LOCATION") != nullptr;
  if (with_location) throw Error(str(message, " [", file, ":", line, "]"));
  throw Error(message);
}

}  // namespace mmp
