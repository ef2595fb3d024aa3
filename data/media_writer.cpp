#include "data/media_writer.h"

#include <cstdio>

#include "data/media_library.h"
#include "engine/error.h"

#include <stb/stb_image_write.h>

namespace mmp {

void write_wav(const std::string& path, const std::vector<float>& samples, int sample_rate) {
  const MmpMediaPlugin& plugin = media_plugin("writing " + path);
  char error[1024] = {};
  MMP_CHECK(plugin.write_wav(path.c_str(), samples.data(), samples.size(), sample_rate, error, sizeof error) == 0,
            error);
}

void write_video(const std::string& path, const std::vector<Image>& frames, int fps) {
  const MmpMediaPlugin& plugin = media_plugin("writing " + path);
  std::vector<MmpRgbFrame> views;
  for (const Image& img : frames) views.push_back({img.width, img.height, img.rgb.data()});
  char error[1024] = {};
  MMP_CHECK(plugin.write_video(path.c_str(), views.data(), views.size(), fps, error, sizeof error) == 0, error);
}

std::vector<uint8_t> encode_jpeg(const Image& img, int quality) {
  std::vector<uint8_t> out;
  auto append = [](void* context, void* data, int size) {
    auto* bytes = static_cast<std::vector<uint8_t>*>(context);
    bytes->insert(bytes->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  };
  MMP_CHECK(stbi_write_jpg_to_func(append, &out, img.width, img.height, 3, img.rgb.data(), quality) != 0,
            "JPEG encoding of a ", img.width, "x", img.height, " image failed");
  return out;
}

void write_jpeg(const std::string& path, const Image& img, int quality) {
  const std::vector<uint8_t> bytes = encode_jpeg(img, quality);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  MMP_CHECK(f != nullptr, path, ": cannot create");
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  MMP_CHECK(std::fclose(f) == 0 && ok, path, ": write failed");
}

}  // namespace mmp
