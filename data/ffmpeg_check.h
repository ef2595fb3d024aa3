#pragma once
// Checking FFmpeg's return codes: a failure becomes an mmp::Error naming the file,
// what was being done, and FFmpeg's own message.
#include <string>

#include "engine/error.h"

extern "C" {
#include <libavutil/error.h>
}

namespace mmp {

inline std::string av_error_text(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

}  // namespace mmp

#define MMP_AV_CHECK(call, path, what)                                                      \
  do {                                                                                      \
    const int mmp_av_rc_ = (call);                                                          \
    if (mmp_av_rc_ < 0) MMP_THROW(path, ": ", what, " (", ::mmp::av_error_text(mmp_av_rc_), ")"); \
  } while (0)
