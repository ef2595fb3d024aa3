#pragma once
// Writing media with FFmpeg's encoders and stb's image writer: the real files `mmp
// synth` makes for tests and demos, and the JPEG frames of prepared caches.
#include <string>
#include <vector>

#include "data/media.h"

namespace mmp {

// Mono 16-bit PCM WAV (FFmpeg's pcm_s16le encoder in the wav muxer).
void write_wav(const std::string& path, const std::vector<float>& samples, int sample_rate);

// A video of RGB frames at `fps`; the container follows the extension (.flv: FLV1 as
// CREMA-D's VideoFlash files, .mp4: MPEG-4 part 2).
void write_video(const std::string& path, const std::vector<Image>& frames, int fps);

// JPEG bytes of an image (stb_image_write); decode_image (media.h) reads them back.
std::vector<uint8_t> encode_jpeg(const Image& img, int quality);

void write_jpeg(const std::string& path, const Image& img, int quality);

}  // namespace mmp
