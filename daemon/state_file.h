// Whole-file reads and crash-safe writes of state files (graph and models).
#pragma once

#include <string>

namespace iotwall {

// Reads a state file whole (they are small: a site's graph and models).
// Files over 1 GiB are refused rather than read.
bool read_file(const std::string& path, std::string* out, std::string* error);

// Writes through a temporary file (fsync) renamed over `path`, so a crash
// or a full disk never leaves a half-written state behind.
bool write_file(const std::string& path, const std::string& bytes, std::string* error);

}  // namespace iotwall
