// Audio and video decoding through FFmpeg, from memory (an AVIOContext over the input):
// container probing, demuxing, decoding, sample and pixel conversion.
extern "C" {
#include <libavutil/log.h>
}

#include "data/ffmpeg_codecs.h"
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  av_log_set_level(AV_LOG_QUIET);  // FFmpeg's complaints about broken input: thousands a second
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto source = mmp::ffmpeg::MediaSource::memory(data, size, "fuzz.media");
  mmp::fuzz::read_or_refuse([&] { mmp::ffmpeg::decode_audio(source, 16000); });
  mmp::fuzz::read_or_refuse([&] { mmp::ffmpeg::decode_video_frames(source, 1.0); });
  return 0;
}
