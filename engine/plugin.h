#pragma once
// Plugins: shared libraries beside the `mmp` binary that hold what links to libraries a
// machine may lack (FFmpeg for decoding, MPI and NCCL for multi-process training), opened
// with dlopen only when a command needs them. Each exports one C function returning a
// table of C functions (no C++ crosses the boundary).
#include <string>

namespace mmp {

// The file of plugin `file_name` (e.g. "libmmp-media.so"): the environment variable
// `override_variable` when set, else that name in the folder of the running executable.
std::string plugin_path(const std::string& file_name, const char* override_variable);

// Opens the plugin and calls its entry point; on failure returns null and sets `error` to
// dlopen's or dlsym's message (which names a missing library).
const void* open_plugin(const std::string& path, const char* entry_point, std::string& error);

}  // namespace mmp
