// A prepared sample's record in OUT/.partial/ (read back when the cache's files are put
// together, possibly by a later run than the one that wrote it). A record that reads is
// written back to the same bytes.
#include "data/cache_record.h"
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  mmp::fuzz::read_or_refuse([&] {
    const mmp::Record record = mmp::deserialize(bytes, "fuzz.rec");
    if (mmp::serialize(record) != bytes) std::abort();
  });
  return 0;
}
