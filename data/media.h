#pragma once
// Reading media: audio and video through FFmpeg's libraries (any container and codec
// they know: wav, flv, mp4, ...), still images through libjpeg-turbo (JPEG, as PIL) and stb_image (PNG). A missing, empty,
// truncated or corrupt file gives one mmp::Error naming the file and the problem.
#include <cstdint>
#include <string>
#include <vector>

namespace mmp {

// Mono float samples in [-1, 1] at `sample_rate` Hz: channels averaged (as
// librosa.load(mono=True)), then resampled with libswresample when the file's rate differs.
std::vector<float> decode_audio(const std::string& path, int sample_rate);

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // height x width x 3, row-major
};

// The largest image or video frame mmp decodes: 8192x8192, 192 MB of RGB. A few bytes of
// header can announce far more (a JPEG 65535x65535, an FLV frame 8216x25093), so a larger
// one is refused before its pixels are allocated.
constexpr int64_t kMaxImagePixels = int64_t{1} << 26;

// Frames at `fps` per second: for each instant k / fps within the video, the decoded
// frame nearest to it, converted to RGB8 (libswscale).
std::vector<Image> decode_video_frames(const std::string& path, double fps);

// A JPEG (decoded exactly as PIL does) or PNG as RGB8.
Image load_image(const std::string& path);
// The same from encoded bytes in memory; `what` names them in errors.
Image decode_image(const uint8_t* data, size_t size, const std::string& what);

// The sorted image files (.jpg, .jpeg, .png) of a folder of extracted frames.
std::vector<std::string> list_frame_files(const std::string& folder);

}  // namespace mmp
