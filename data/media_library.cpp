#include "data/media_library.h"

#include <mutex>

#include "engine/error.h"
#include "engine/plugin.h"

namespace mmp {

std::string media_plugin_path() { return plugin_path("libmmp-media.so", "MMP_MEDIA_LIBRARY"); }

const MmpMediaPlugin& media_plugin(const std::string& what) {
  static std::once_flag once;
  static const MmpMediaPlugin* plugin = nullptr;
  static std::string failure;
  std::call_once(once, [] {
    const std::string path = media_plugin_path();
    std::string error;
    const auto* table = static_cast<const MmpMediaPlugin*>(open_plugin(path, MMP_MEDIA_PLUGIN_ENTRY, error));
    if (table == nullptr) {
      failure = str("cannot load ", path, " (", error,
                    "). mmp reads and writes audio and video with FFmpeg through that plugin, loaded only by the "
                    "commands that decode media (prepare, synth, features, bench data --root); install FFmpeg's "
                    "libraries (Debian: libavformat59 libavcodec59 libswresample4 libswscale6) and keep "
                    "libmmp-media.so beside mmp or name it in MMP_MEDIA_LIBRARY, or prepare the cache on a machine "
                    "that has them: training from a cache needs neither");
    } else if (table->abi != MMP_MEDIA_PLUGIN_ABI) {
      failure = str(path, " is a media plugin of another mmp (interface ", table->abi, ", this mmp needs ",
                    MMP_MEDIA_PLUGIN_ABI, "): use the one built with it");
    } else {
      plugin = table;
    }
  });
  MMP_CHECK(plugin != nullptr, what, ": ", failure);
  return *plugin;
}

}  // namespace mmp
