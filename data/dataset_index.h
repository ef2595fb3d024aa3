#pragma once
// Where each sample of a raw dataset lives: the index `mmp prepare` reads. CREMA-D in
// its published layout; Kinetics-Sounds, AVE and a user's own data from split CSVs.
#include <cstdint>
#include <string>
#include <vector>

namespace mmp {

// OGM-GE's CREMA-D label order.
inline const std::vector<std::string> kCremadClasses{"NEU", "HAP", "SAD", "FEA", "DIS", "ANG"};

struct MediaSample {
  std::string name;
  int64_t label = 0;
  std::string audio;   // a media file with the audio track
  std::string video;   // a video file, or empty when frames are given
  std::string frames;  // a folder of extracted frames, or empty
};

struct DatasetIndex {
  std::string dataset;
  std::vector<std::string> classes;
  std::vector<MediaSample> train, test;
};

// kind: cremad, kinetics-sounds, ave or folder. Layouts:
//  cremad:  ROOT/{train,test}.csv of "name,label" (labels NEU HAP SAD FEA DIS ANG),
//           ROOT/AudioWAV/<name>.wav, and ROOT/Image-01-FPS/<name>/ (frames) or
//           ROOT/VideoFlash/<name>.flv
//  others:  ROOT/{train,test}.csv of "clip,label", ROOT/audio/<clip>.* (else the
//           video's audio), ROOT/frames/<clip>/ or ROOT/video/<clip>.*; Kinetics-Sounds
//           must name 31 classes and AVE 28.
// `visual`: auto (frames when present), frames or video.
DatasetIndex index_dataset(const std::string& kind, const std::string& root, const std::string& visual = "auto");

}  // namespace mmp
