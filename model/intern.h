// Interner: maps strings to small dense integer ids (Sym) and back.
//
// Strings are copied once into an append-only arena; the hot path then
// compares and hashes integers. Sym 0 is always the empty string, so a
// value-initialised Sym means "absent".
//
// Lifetime: a string_view returned by str() stays valid for the life of the
// Interner (the arena never moves or frees its blocks).
// Thread-safety: none; one Interner per pipeline (per queue worker).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

namespace iotwall {

// A dense id for an interned string. Ids are assigned 1, 2, 3... in order of
// first appearance, so they can index vectors directly.
struct Sym {
  uint32_t id = 0;
  bool empty() const { return id == 0; }
  friend bool operator==(Sym, Sym) = default;
  template <typename H>
  friend H AbslHashValue(H h, Sym s) {
    return H::combine(std::move(h), s.id);
  }
};

class Interner {
 public:
  Interner();
  Interner(const Interner&) = delete;
  Interner& operator=(const Interner&) = delete;

  // Returns the id of `s`, adding it on first sight.
  Sym intern(std::string_view s);
  // Returns the id of `s` if it was interned, else the empty Sym.
  Sym find(std::string_view s) const;
  // REQUIRES: `s` came from this Interner.
  std::string_view str(Sym s) const { return strings_[s.id]; }

  // Number of distinct strings, including the empty string.
  size_t size() const { return strings_.size(); }
  // Bytes held by the arena and the index (for memory reports).
  size_t bytes() const;

 private:
  std::string_view copy_to_arena(std::string_view s);

  static constexpr size_t kBlockSize = 64 * 1024;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* cur_ = nullptr;  // free space in the newest small-string block
  size_t cur_left_ = 0;
  size_t arena_bytes_ = 0;
  std::vector<std::string_view> strings_;
  absl::flat_hash_map<std::string_view, uint32_t> index_;
};

}  // namespace iotwall
