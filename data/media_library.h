#pragma once
// Finding and opening libmmp-media.so, the FFmpeg plugin (media_plugin_abi.h), the
// first time a command decodes or writes audio or video. Where it is not found, or
// FFmpeg's libraries it needs are not installed, the error says which and what to do;
// everything else mmp does works without it.
#include <string>

#include "data/media_plugin_abi.h"

namespace mmp {

// The plugin's table, opened once per process; throws mmp::Error naming the cause and
// the command's purpose (`what`, e.g. "decoding x.wav") when it cannot be loaded.
const MmpMediaPlugin& media_plugin(const std::string& what);

// The file media_plugin() opens: $MMP_MEDIA_LIBRARY when set, else libmmp-media.so in
// the folder of the running executable.
std::string media_plugin_path();

}  // namespace mmp
