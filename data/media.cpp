#include "data/media.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>

#include "data/jpeg_decoder.h"
#include "data/media_library.h"
#include "engine/error.h"

#include <stb/stb_image.h>

namespace mmp {
namespace {

// A failure inside the plugin arrives as a message; it already names the file.
void check_plugin_call(int status, const char* error) { MMP_CHECK(status == 0, error); }

// Anything else stb_image reads (PNG, BMP, ...).
Image decode_with_stb(const uint8_t* data, size_t size, const std::string& what) {
  MMP_CHECK(size <= static_cast<size_t>(INT32_MAX), what, ": too large for an image (", size, " bytes)");
  int w = 0, h = 0, channels = 0;
  // The header first: the size limit of every image holds before pixels are allocated.
  if (stbi_info_from_memory(data, static_cast<int>(size), &w, &h, &channels))
    MMP_CHECK(static_cast<int64_t>(w) * h <= kMaxImagePixels, what, ": a ", w, "x", h,
              " image, larger than the ", kMaxImagePixels, " pixels mmp decodes");
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(data, static_cast<int>(size), &w, &h, &channels, 3), stbi_image_free);
  MMP_CHECK(pixels != nullptr, what, ": cannot decode the image (", stbi_failure_reason(), ")");
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(pixels.get(), pixels.get() + static_cast<size_t>(w) * h * 3);
  return img;
}

}  // namespace

std::vector<float> decode_audio(const std::string& path, int sample_rate) {
  const MmpMediaPlugin& plugin = media_plugin("decoding " + path);
  std::vector<float> samples;
  char error[1024] = {};
  auto reserve = [](void* sink, size_t n) {
    auto* out = static_cast<std::vector<float>*>(sink);
    out->resize(n);
    return out->data();
  };
  check_plugin_call(plugin.decode_audio(path.c_str(), sample_rate, &samples, reserve, error, sizeof error), error);
  return samples;
}

std::vector<Image> decode_video_frames(const std::string& path, double fps) {
  const MmpMediaPlugin& plugin = media_plugin("decoding " + path);
  std::vector<Image> frames;
  char error[1024] = {};
  auto add_frame = [](void* sink, int32_t width, int32_t height) {
    Image& img = static_cast<std::vector<Image>*>(sink)->emplace_back();
    img.width = width;
    img.height = height;
    img.rgb.resize(static_cast<size_t>(width) * height * 3);
    return img.rgb.data();
  };
  check_plugin_call(plugin.decode_video_frames(path.c_str(), fps, &frames, add_frame, error, sizeof error), error);
  return frames;
}

Image load_image(const std::string& path) {
  MMP_CHECK(std::filesystem::exists(path), path, ": no such file");
  MMP_CHECK(std::filesystem::is_regular_file(path), path, ": not a file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  MMP_CHECK(in.good(), path, ": cannot open");
  std::vector<uint8_t> bytes(static_cast<size_t>(in.tellg()));
  MMP_CHECK(!bytes.empty(), path, ": empty file");
  in.seekg(0);
  MMP_CHECK(in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())), path,
            ": cannot read the file");
  return decode_image(bytes.data(), bytes.size(), path);
}

Image decode_image(const uint8_t* data, size_t size, const std::string& what) {
  const bool jpeg = size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
  return jpeg ? decode_jpeg(data, size, what) : decode_with_stb(data, size, what);
}

std::vector<std::string> list_frame_files(const std::string& folder) {
  MMP_CHECK(std::filesystem::is_directory(folder), folder, ": no such frame folder");
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (entry.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png"))
      files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  MMP_CHECK(!files.empty(), folder, ": no .jpg or .png frames");
  return files;
}

}  // namespace mmp
