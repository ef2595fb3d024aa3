// The split lists of a dataset folder (train.csv and test.csv of CREMA-D, Kinetics-Sounds,
// AVE or a plain folder). Input: one byte choosing the layout and the --visual mode, then
// train.csv, a NUL byte, test.csv.
#include <algorithm>

#include "data/dataset_index.h"
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  if (size < 1) return 0;
  static const char* kinds[] = {"cremad", "kinetics-sounds", "ave", "folder"};
  static const char* visuals[] = {"auto", "frames", "video"};
  const char* kind = kinds[data[0] % 4];
  const char* visual = visuals[(data[0] / 4) % 3];
  const uint8_t *begin = data + 1, *end = data + size, *split = std::find(begin, end, uint8_t{0});
  static const fs::path root = [] {
    const fs::path r = mmp::fuzz::scratch() / "dataset";
    for (const char* dir : {"AudioWAV", "VideoFlash", "Image-01-FPS/clip", "audio", "video", "frames/clip"})
      fs::create_directories(r / dir);
    mmp::fuzz::write_bytes(r / "audio" / "clip.wav", "RIFF", 4);
    mmp::fuzz::write_bytes(r / "video" / "clip.mp4", "", 0);
    return r;
  }();
  mmp::fuzz::write_bytes(root / "train.csv", begin, static_cast<size_t>(split - begin));
  if (split != end) ++split;
  mmp::fuzz::write_bytes(root / "test.csv", split, static_cast<size_t>(end - split));
  mmp::fuzz::read_or_refuse([&] { mmp::index_dataset(kind, root.string(), visual); });
  return 0;
}
