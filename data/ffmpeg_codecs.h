#pragma once
// What the media plugin does with FFmpeg's libraries, in C++ (ffmpeg_decoder.cpp,
// ffmpeg_encoder.cpp). Only libmmp-media.so compiles these; the rest of mmp reaches
// them through media.h and media_writer.h, which load the plugin.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/media.h"

namespace mmp::ffmpeg {

// Where the bytes of a media file come from: a file, or memory (through an AVIOContext
// over the bytes; `name` is what errors call it).
struct MediaSource {
  std::string name;
  const uint8_t* bytes = nullptr;  // null: read the file `name`
  size_t size = 0;
  static MediaSource file(const std::string& path) { return {path}; }
  static MediaSource memory(const uint8_t* bytes, size_t size, const std::string& name) { return {name, bytes, size}; }
};

std::vector<float> decode_audio(const MediaSource& source, int sample_rate);
std::vector<Image> decode_video_frames(const MediaSource& source, double fps);
void write_wav(const std::string& path, const std::vector<float>& samples, int sample_rate);
void write_video(const std::string& path, const std::vector<Image>& frames, int fps);

}  // namespace mmp::ffmpeg
