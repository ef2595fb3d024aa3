#pragma once
// What the media plugin does with FFmpeg's libraries, in C++ (ffmpeg_decoder.cpp,
// ffmpeg_encoder.cpp). Only libmmp-media.so compiles these; the rest of mmp reaches
// them through media.h and media_writer.h, which load the plugin.
#include <string>
#include <vector>

#include "data/media.h"

namespace mmp::ffmpeg {

std::vector<float> decode_audio(const std::string& path, int sample_rate);
std::vector<Image> decode_video_frames(const std::string& path, double fps);
void write_wav(const std::string& path, const std::vector<float>& samples, int sample_rate);
void write_video(const std::string& path, const std::vector<Image>& frames, int fps);

}  // namespace mmp::ffmpeg
