#include "data/dataset_index.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "engine/error.h"

namespace mmp {
namespace {

namespace fs = std::filesystem;

struct Row {
  std::string clip, label;
  int line;
};

// Without surrounding white space (CRLF endings, spaces, tabs) or quotes.
std::string trim(std::string s) {
  auto blank = [](char c) { return c == '\r' || c == '\n' || c == ' ' || c == '\t'; };
  while (!s.empty() && blank(s.back())) s.pop_back();
  while (!s.empty() && blank(s.front())) s.erase(s.begin());
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

std::vector<Row> read_split(const fs::path& csv) {
  std::ifstream in(csv);
  MMP_CHECK(in.good(), csv.string(), ": no such split file (expected rows of clip,label)");
  std::vector<Row> rows;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (n == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // a UTF-8 byte-order mark
    line = trim(line);
    if (line.empty()) continue;
    const size_t comma = line.find(',');
    MMP_CHECK(comma != std::string::npos, csv.string(), ":", n, ": expected clip,label, got '", line, "'");
    std::string clip = trim(line.substr(0, comma)), label = trim(line.substr(comma + 1));
    if (label.find(',') != std::string::npos) label = trim(label.substr(0, label.find(',')));
    if (n == 1 && (clip == "name" || clip == "clip" || clip == "youtube_id")) continue;  // a header
    // A clip names files under the dataset's folder: never a path out of it.
    const fs::path as_path(clip);
    bool escapes = clip.empty() || as_path.is_absolute();
    for (const fs::path& part : as_path) escapes = escapes || part == "..";
    MMP_CHECK(!escapes, csv.string(), ":", n, ": clip '", clip,
              "' is not a name inside the dataset folder (empty, absolute or with '..')");
    rows.push_back({clip, label, n});
  }
  MMP_CHECK(!rows.empty(), csv.string(), ": no samples");
  return rows;
}

// Files of a folder by name without extension.
std::map<std::string, std::string> files_by_stem(const fs::path& dir) {
  std::map<std::string, std::string> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) out.emplace(e.path().stem().string(), e.path().string());
  return out;
}

void check_visual(const std::string& visual) {
  MMP_CHECK(visual == "auto" || visual == "frames" || visual == "video", "--visual must be auto, frames or video, got '",
            visual, "'");
}

DatasetIndex index_cremad(const fs::path& root, const std::string& visual) {
  DatasetIndex index;
  index.dataset = "cremad";
  index.classes = kCremadClasses;
  const fs::path frames_root = root / "Image-01-FPS", video_root = root / "VideoFlash";
  const bool use_frames = visual == "frames" || (visual == "auto" && fs::is_directory(frames_root));
  for (const char* split : {"train", "test"}) {
    const fs::path csv = root / (std::string(split) + ".csv");
    for (const Row& r : read_split(csv)) {
      const auto it = std::find(kCremadClasses.begin(), kCremadClasses.end(), r.label);
      MMP_CHECK(it != kCremadClasses.end(), csv.string(), ":", r.line, ": label '", r.label,
                "' is not one of NEU HAP SAD FEA DIS ANG");
      MediaSample s;
      s.name = r.clip;
      s.label = it - kCremadClasses.begin();
      s.audio = (root / "AudioWAV" / (r.clip + ".wav")).string();
      if (use_frames) {
        s.frames = (frames_root / r.clip).string();
      } else {
        s.video = (video_root / (r.clip + ".flv")).string();
      }
      (std::string(split) == "train" ? index.train : index.test).push_back(s);
    }
  }
  return index;
}

DatasetIndex index_csv(const std::string& kind, const fs::path& root, const std::string& visual) {
  DatasetIndex index;
  index.dataset = kind;
  const auto train_rows = read_split(root / "train.csv"), test_rows = read_split(root / "test.csv");
  std::set<std::string> labels;
  for (const auto* rows : {&train_rows, &test_rows})
    for (const Row& r : *rows) labels.insert(r.label);
  index.classes.assign(labels.begin(), labels.end());
  const size_t expected = kind == "kinetics-sounds" ? 31 : kind == "ave" ? 28 : 0;
  MMP_CHECK(expected == 0 || index.classes.size() == expected, root.string(), ": ", kind, " has ", expected,
            " classes, its CSVs name ", index.classes.size());
  const auto audio = files_by_stem(root / "audio"), video = files_by_stem(root / "video");
  const bool has_frames = fs::is_directory(root / "frames");
  for (const auto* rows : {&train_rows, &test_rows}) {
    for (const Row& r : *rows) {
      MediaSample s;
      s.name = r.clip;
      s.label = std::find(index.classes.begin(), index.classes.end(), r.label) - index.classes.begin();
      const auto v = video.find(r.clip);
      const auto a = audio.find(r.clip);
      s.audio = a != audio.end() ? a->second : (v != video.end() ? v->second : (root / "audio" / r.clip).string());
      if (visual == "frames" || (visual == "auto" && has_frames && fs::is_directory(root / "frames" / r.clip))) {
        s.frames = (root / "frames" / r.clip).string();
      } else {
        s.video = v != video.end() ? v->second : (root / "video" / r.clip).string();
      }
      (rows == &train_rows ? index.train : index.test).push_back(s);
    }
  }
  return index;
}

}  // namespace

DatasetIndex index_dataset(const std::string& kind, const std::string& root, const std::string& visual) {
  check_visual(visual);
  MMP_CHECK(fs::is_directory(root), root, ": no such dataset folder");
  if (kind == "cremad") return index_cremad(root, visual);
  if (kind == "kinetics-sounds" || kind == "ave" || kind == "folder") return index_csv(kind, root, visual);
  MMP_THROW("unknown dataset '", kind, "': expected cremad, kinetics-sounds, ave or folder");
}

}  // namespace mmp
