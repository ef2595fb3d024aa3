#include "data/batch.h"

#include "engine/safetensors.h"

namespace mmp {

Batch Batch::to(Device device) const { return {audio.to(device), visual.to(device), label.to(device)}; }

Batch load_batch(const std::string& path) {
  const SafetensorsFile file = load_safetensors(path);
  auto get = [&](const char* name) {
    const Tensor* t = file.find(name);
    MMP_CHECK(t != nullptr, path, ": no tensor '", name, "' (a batch holds audio, visual and label)");
    return *t;
  };
  Batch b{get("audio"), get("visual"), get("label")};
  MMP_CHECK(b.audio.dtype() == DType::F32 && b.audio.ndim() == 4, path, ": audio must be f32 [B, 1, F, T], got ",
            b.audio.str());
  MMP_CHECK(b.visual.dtype() == DType::F32 && b.visual.ndim() == 5, path, ": visual must be f32 [B, T, 3, H, W], got ",
            b.visual.str());
  MMP_CHECK((b.label.dtype() == DType::I64 || b.label.dtype() == DType::I32) && b.label.ndim() == 1, path,
            ": label must be i64 or i32 [B], got ", b.label.str());
  MMP_CHECK(b.audio.shape()[0] == b.label.shape()[0] && b.visual.shape()[0] == b.label.shape()[0], path,
            ": audio, visual and label disagree on the batch size (", b.audio.str(), ", ", b.visual.str(), ", ",
            b.label.str(), ")");
  b.label = b.label.to(DType::I64);
  return b;
}

}  // namespace mmp
