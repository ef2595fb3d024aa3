#pragma once
// The boundary between `mmp` and libmmp-media.so, the plugin that holds everything
// FFmpeg does (decoding audio and video, writing WAV and video files). `mmp` opens it
// with dlopen only when a command decodes media (media_library.cpp), so the training
// binary runs on machines without FFmpeg. A plain C table: no C++ object, allocation
// or exception crosses it, so the two sides may use different C++ runtimes (a GPU
// node's `mmp` links libstdc++ statically).
#include <cstddef>
#include <cstdint>

extern "C" {

// Bumped whenever the table changes; `mmp` refuses a plugin of another version.
#define MMP_MEDIA_PLUGIN_ABI 1

struct MmpRgbFrame {
  int32_t width, height;
  const uint8_t* rgb;  // height x width x 3
};

// Every function returns 0 on success. On failure it returns non-zero and writes a
// NUL-terminated message naming the file and the problem into error[0..error_size).
struct MmpMediaPlugin {
  uint32_t abi;  // MMP_MEDIA_PLUGIN_ABI
  const char* ffmpeg_versions;  // "libavformat 59.27.100, libavcodec ..." as linked

  // Mono float samples at sample_rate: reserve(sink, n) returns room for all n samples.
  int (*decode_audio)(const char* path, int sample_rate, void* sink, float* (*reserve)(void* sink, size_t n),
                      char* error, size_t error_size);
  // RGB8 frames at fps: add_frame(sink, width, height) returns room for one frame's pixels.
  int (*decode_video_frames)(const char* path, double fps, void* sink,
                             uint8_t* (*add_frame)(void* sink, int32_t width, int32_t height), char* error,
                             size_t error_size);
  int (*write_wav)(const char* path, const float* samples, size_t count, int sample_rate, char* error,
                   size_t error_size);
  int (*write_video)(const char* path, const MmpRgbFrame* frames, size_t count, int fps, char* error,
                     size_t error_size);
};

// The one symbol the plugin exports: const MmpMediaPlugin* mmp_media_plugin(void).
#define MMP_MEDIA_PLUGIN_ENTRY "mmp_media_plugin"

}  // extern "C"
