#pragma once
// Files that are never seen half-written: the data goes to a temporary file beside the
// target, is flushed to the disk, and is renamed over the target. Readers, and what
// survives a crash or a power cut, see the old file or the whole new one.
#include <cstdio>
#include <functional>
#include <string>

namespace mmp {

// `write` puts the contents into the open temporary file and returns false on failure.
// Throws naming `path` and the system's reason; the old file, if any, is untouched.
void write_file_atomically(const std::string& path, const std::function<bool(std::FILE*)>& write);
void write_file_atomically(const std::string& path, const std::string& bytes);

// Removes the temporary files that writers killed mid-write (kill -9, a power cut) left
// in `dir`; those of live processes stay.
void remove_interrupted_writes(const std::string& dir);

// The whole of a file; throws naming `path`, `what` it is (if given) and the reason.
std::string read_file(const std::string& path, const std::string& what = "");

// Flushes a file already written (and closed) to the disk, so that a rename that
// publishes it cannot outlive its contents.
void sync_file(const std::string& path);

}  // namespace mmp
