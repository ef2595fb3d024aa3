#pragma once
// One prepared sample as `mmp prepare` keeps it in OUT/.partial/ until the cache's files
// are put together: its label, audio feature and frames, in a small binary record.
#include <cstdint>
#include <string>
#include <vector>

namespace mmp {

struct FrameBlob {
  int32_t width = 0, height = 0;
  std::vector<uint8_t> bytes;  // JPEG, or width*height*3 RGB
};

struct Record {
  int64_t label = 0;
  std::vector<float> audio;
  std::vector<FrameBlob> frames;
};

std::string serialize(const Record& record);

// A truncated or malformed record is an mmp::Error naming `path`; counts are checked
// against the bytes there before anything is allocated.
Record deserialize(const std::string& bytes, const std::string& path);

}  // namespace mmp
