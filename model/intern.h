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

  // The placeholder a new string gets past the bounds (see set_limits).
  static constexpr std::string_view kOverflowName = "(overflow)";

  // Bounds: at most `max_strings` strings and `max_bytes` bytes of text
  // (0: no bound; the default, for offline tools). Past a bound a new
  // string is not stored: intern() returns overflow(), the Sym of
  // kOverflowName (interned here), and counts it in overflowed(). Strings
  // are never freed (Syms are held everywhere), so a daemon facing names
  // it cannot trust needs the bound.
  void set_limits(size_t max_strings, size_t max_bytes);
  // The placeholder's Sym; empty without bounds.
  Sym overflow() const { return overflow_; }
  // New strings refused at the bounds (each got overflow()).
  uint64_t overflowed() const { return overflowed_; }

  // Returns the id of `s`, adding it on first sight (past the bounds:
  // overflow()).
  Sym intern(std::string_view s);
  // intern() for data (a text value, unlike a name, may be new at every
  // access): adds `s` only while the interner is under half its bounds, so
  // that values can never use up the room names need; past that a new one
  // gets overflow() (counted in overflowed()). Unbounded: intern().
  Sym intern_value(std::string_view s);
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
  size_t text_bytes_ = 0;  // of the strings, for max_bytes
  size_t max_strings_ = 0, max_bytes_ = 0;
  Sym overflow_;
  uint64_t overflowed_ = 0;
  std::vector<std::string_view> strings_;
  absl::flat_hash_map<std::string_view, uint32_t> index_;
};

}  // namespace iotwall
