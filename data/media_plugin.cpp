// libmmp-media.so's entry point: the C table of media_plugin_abi.h over the FFmpeg
// code of ffmpeg_decoder.cpp and ffmpeg_encoder.cpp. Exceptions stop here and become
// messages.
#include <cstring>
#include <exception>

#include "data/ffmpeg_codecs.h"
#include "data/media_plugin_abi.h"
#include "engine/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

namespace mmp {
namespace {

template <class Body>
int guarded(char* error, size_t error_size, Body&& body) {
  try {
    body();
    return 0;
  } catch (const std::exception& e) {
    if (error_size > 0) {
      std::strncpy(error, e.what(), error_size - 1);
      error[error_size - 1] = '\0';
    }
    return 1;
  }
}

int c_decode_audio(const char* path, int sample_rate, void* sink, float* (*reserve)(void*, size_t), char* error,
                 size_t error_size) {
  return guarded(error, error_size, [&] {
    const std::vector<float> samples = ffmpeg::decode_audio(ffmpeg::MediaSource::file(path), sample_rate);
    std::memcpy(reserve(sink, samples.size()), samples.data(), samples.size() * sizeof(float));
  });
}

int c_decode_video_frames(const char* path, double fps, void* sink, uint8_t* (*add_frame)(void*, int32_t, int32_t),
                        char* error, size_t error_size) {
  return guarded(error, error_size, [&] {
    for (const Image& img : ffmpeg::decode_video_frames(ffmpeg::MediaSource::file(path), fps))
      std::memcpy(add_frame(sink, img.width, img.height), img.rgb.data(), img.rgb.size());
  });
}

int c_write_wav(const char* path, const float* samples, size_t count, int sample_rate, char* error, size_t error_size) {
  return guarded(error, error_size,
                 [&] { ffmpeg::write_wav(path, std::vector<float>(samples, samples + count), sample_rate); });
}

int c_write_video(const char* path, const MmpRgbFrame* frames, size_t count, int fps, char* error, size_t error_size) {
  return guarded(error, error_size, [&] {
    std::vector<Image> images(count);
    for (size_t i = 0; i < count; ++i) {
      images[i].width = frames[i].width;
      images[i].height = frames[i].height;
      images[i].rgb.assign(frames[i].rgb, frames[i].rgb + static_cast<size_t>(frames[i].width) * frames[i].height * 3);
    }
    ffmpeg::write_video(path, images, fps);
  });
}

std::string version_text(const char* name, unsigned version) {
  return str(name, " ", version >> 16, ".", (version >> 8) & 0xff, ".", version & 0xff);
}

}  // namespace
}  // namespace mmp

extern "C" __attribute__((visibility("default"))) const MmpMediaPlugin* mmp_media_plugin(void) {
  static const std::string versions =
      mmp::version_text("libavformat", avformat_version()) + ", " + mmp::version_text("libavcodec", avcodec_version()) +
      ", " + mmp::version_text("libswresample", swresample_version()) + ", " +
      mmp::version_text("libswscale", swscale_version());
  static const MmpMediaPlugin plugin{MMP_MEDIA_PLUGIN_ABI,       versions.c_str(),   mmp::c_decode_audio,
                                     mmp::c_decode_video_frames, mmp::c_write_wav,   mmp::c_write_video};
  return &plugin;
}
