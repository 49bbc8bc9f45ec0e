#include "model/intern.h"

#include <cstring>

namespace iotwall {

Interner::Interner() {
  strings_.push_back(std::string_view());
  index_.emplace(std::string_view(), 0);
}

void Interner::set_limits(size_t max_strings, size_t max_bytes) {
  max_strings_ = max_bytes_ = 0;
  overflow_ = intern(kOverflowName);
  max_strings_ = max_strings;
  max_bytes_ = max_bytes;
}

Sym Interner::intern_value(std::string_view s) {
  if (auto it = index_.find(s); it != index_.end()) return Sym{it->second};
  if ((max_strings_ != 0 && strings_.size() >= max_strings_ / 2) ||
      (max_bytes_ != 0 && text_bytes_ + s.size() > max_bytes_ / 2)) {
    ++overflowed_;
    return overflow_;
  }
  return intern(s);
}

Sym Interner::intern(std::string_view s) {
  if (auto it = index_.find(s); it != index_.end()) return Sym{it->second};
  if ((max_strings_ != 0 && strings_.size() >= max_strings_) ||
      (max_bytes_ != 0 && text_bytes_ + s.size() > max_bytes_)) {
    ++overflowed_;
    return overflow_;
  }
  text_bytes_ += s.size();
  std::string_view owned = copy_to_arena(s);
  const auto id = static_cast<uint32_t>(strings_.size());
  strings_.push_back(owned);
  index_.emplace(owned, id);
  return Sym{id};
}

Sym Interner::find(std::string_view s) const {
  auto it = index_.find(s);
  return it == index_.end() ? Sym{} : Sym{it->second};
}

std::string_view Interner::copy_to_arena(std::string_view s) {
  char* dst;
  if (s.size() > kBlockSize / 4) {
    // A large string gets a block of its own, leaving the current one open.
    blocks_.push_back(std::make_unique<char[]>(s.size()));
    arena_bytes_ += s.size();
    dst = blocks_.back().get();
  } else {
    if (s.size() > cur_left_) {
      blocks_.push_back(std::make_unique<char[]>(kBlockSize));
      arena_bytes_ += kBlockSize;
      cur_ = blocks_.back().get();
      cur_left_ = kBlockSize;
    }
    dst = cur_;
    cur_ += s.size();
    cur_left_ -= s.size();
  }
  if (!s.empty()) std::memcpy(dst, s.data(), s.size());
  return std::string_view(dst, s.size());
}

size_t Interner::bytes() const {
  return arena_bytes_ + strings_.capacity() * sizeof(std::string_view) +
         index_.capacity() * (sizeof(std::string_view) + sizeof(uint32_t) + 1);
}

}  // namespace iotwall
