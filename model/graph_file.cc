#include "model/graph_file.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <tuple>
#include <type_traits>

#include <absl/container/flat_hash_map.h>

namespace iotwall {
namespace {

constexpr char kMagic[8] = {'I', 'O', 'T', 'W', 'G', 'R', 'P', 'H'};
constexpr size_t kHeaderBytes = sizeof kMagic + 4 + 8;  // magic, version, payload length

// The unsigned integer an integral or enum type is stored as.
template <typename T>
using Unsigned = std::make_unsigned_t<
    typename std::conditional_t<std::is_enum_v<T>, std::underlying_type<T>, std::type_identity<T>>::type>;

// Trace times are milliseconds since the epoch, below kMaxTraceMs.
bool time_ok(int64_t t) { return t >= 0 && t <= kMaxTraceMs; }

uint32_t crc32_of(std::string_view s) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

// Little-endian writer.
class Writer {
 public:
  template <typename T>
  void put(T v) {
    static_assert(std::is_integral_v<T> || std::is_enum_v<T>);
    using U = Unsigned<T>;
    auto u = static_cast<U>(v);
    for (size_t i = 0; i < sizeof(U); ++i) out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  }
  void bytes(std::string_view s) { out.append(s); }
  std::string out;
};

// Little-endian reader that fails (sticky) instead of reading past the end.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
  T get() {
    using U = Unsigned<T>;
    if (in_.size() - pos_ < sizeof(U)) {
      ok_ = false;
      return T{};
    }
    U u = 0;
    for (size_t i = 0; i < sizeof(U); ++i) u |= static_cast<U>(static_cast<uint8_t>(in_[pos_ + i])) << (8 * i);
    pos_ += sizeof(U);
    return static_cast<T>(u);
  }
  std::string_view bytes(size_t n) {
    if (in_.size() - pos_ < n) {
      ok_ = false;
      return {};
    }
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  // A count of records of at least `min_bytes` each that must fit in the rest.
  uint32_t count(size_t min_bytes) {
    uint32_t n = get<uint32_t>();
    if (ok_ && static_cast<uint64_t>(n) * min_bytes > in_.size() - pos_) ok_ = false;
    return ok_ ? n : 0;
  }
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Strings are written once in a table; records refer to them by index.
class StringTable {
 public:
  explicit StringTable(const Interner& in) : in_(in) {}
  uint32_t index(Sym s) {
    auto [it, added] = index_.try_emplace(s.id, static_cast<uint32_t>(order_.size()));
    if (added) order_.push_back(s);
    return it->second;
  }
  void write(Writer& w) const {
    w.put(static_cast<uint32_t>(order_.size()));
    for (Sym s : order_) {
      std::string_view str = in_.str(s);
      w.put(static_cast<uint32_t>(str.size()));
      w.bytes(str);
    }
  }

 private:
  const Interner& in_;
  absl::flat_hash_map<uint32_t, uint32_t> index_;
  std::vector<Sym> order_;
};

}  // namespace

// Friend of CommGraph: reads and writes its private state.
struct GraphCodec {
  static void write_relation(Writer& w, StringTable& t, const Relation& r) {
    w.put(t.index(r.src_type));
    w.put(t.index(r.dst_type));
    w.put(r.op);
    w.put(r.where);
  }

  static std::string save(const CommGraph& g, const Interner& in) {
    StringTable strings(in);
    Writer body;  // everything after the string table
    body.put(g.opt_.learning_phase_ms);
    body.put(g.opt_.edge_ttl_ms);
    body.put(static_cast<uint8_t>(g.opt_.generalise_types));
    body.put(g.now_);
    body.put(static_cast<uint32_t>(g.vertices_.size()));
    for (const Vertex& v : g.vertices_) {
      for (Sym s : {v.name, v.id, v.type, v.location}) body.put(strings.index(s));
      body.put(v.first_seen);
      body.put(v.first_spoke);
    }
    body.put(static_cast<uint32_t>(g.edges_.size()));
    for (const Edge& e : g.edges_) {
      body.put(e.src);
      body.put(e.dst);
      body.put(e.op);
      body.put(e.state);
      body.put(static_cast<uint8_t>(e.live));
      body.put(e.question);
      body.put(e.count);
      body.put(e.first_seen);
      body.put(e.last_seen);
    }
    // Hash containers iterate in no fixed order: sort them so the same
    // state always gives the same bytes.
    auto text = [&](const Relation& r) {
      return std::tuple(in.str(r.src_type), in.str(r.dst_type), r.op, r.where);
    };
    std::vector<Relation> learned(g.learned_relations_.begin(), g.learned_relations_.end());
    std::sort(learned.begin(), learned.end(), [&](auto& a, auto& b) { return text(a) < text(b); });
    body.put(static_cast<uint32_t>(learned.size()));
    for (const Relation& r : learned) write_relation(body, strings, r);
    std::vector<std::pair<Relation, bool>> types(g.type_rules_.begin(), g.type_rules_.end());
    std::sort(types.begin(), types.end(), [&](auto& a, auto& b) { return text(a.first) < text(b.first); });
    body.put(static_cast<uint32_t>(types.size()));
    for (const auto& [r, approve] : types) {
      write_relation(body, strings, r);
      body.put(static_cast<uint8_t>(approve));
    }
    std::vector<std::pair<std::pair<uint32_t, Relation>, bool>> services(g.service_rules_.begin(),
                                                                         g.service_rules_.end());
    std::sort(services.begin(), services.end(), [&](auto& a, auto& b) {
      return std::pair(a.first.first, text(a.first.second)) < std::pair(b.first.first, text(b.first.second));
    });
    body.put(static_cast<uint32_t>(services.size()));
    for (const auto& [key, approve] : services) {
      body.put(key.first);
      write_relation(body, strings, key.second);
      body.put(static_cast<uint8_t>(approve));
    }
    body.put(static_cast<uint32_t>(g.questions_.size()));
    for (const Question& q : g.questions_) {
      write_relation(body, strings, q.rel);
      body.put(static_cast<uint8_t>(q.type_level));
      body.put(q.exemplar_edge);
      body.put(q.asked_ms);
      body.put(static_cast<uint8_t>(q.open));
      body.put(static_cast<uint32_t>(q.sources.size()));
      for (uint32_t s : q.sources) body.put(s);
    }
    body.put(static_cast<uint32_t>(g.decisions_.size()));
    for (const Decision& d : g.decisions_) {
      body.put(d.question);
      body.put(static_cast<uint8_t>(d.approve));
      body.put(d.scope);
      body.put(d.source);
      body.put(d.time_ms);
    }

    Writer payload;
    strings.write(payload);
    payload.bytes(body.out);
    Writer file;
    file.bytes(std::string_view(kMagic, sizeof kMagic));
    file.put(kGraphFileVersion);
    file.put(static_cast<uint64_t>(payload.out.size()));
    file.bytes(payload.out);
    file.put(crc32_of(payload.out));
    return std::move(file.out);
  }

  static bool load(std::string_view bytes, Interner& in, CommGraph* out, std::string* error) {
    auto fail = [&](const std::string& why) {
      *error = why;
      return false;
    };
    if (bytes.size() < kHeaderBytes + 4 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
      return fail("not an iotwall graph file (bad magic)");
    }
    Reader header(bytes.substr(sizeof kMagic, 12));
    const auto version = header.get<uint32_t>();
    const auto length = header.get<uint64_t>();
    if (version != kGraphFileVersion) {
      return fail("graph file version " + std::to_string(version) + " is not supported (this is " +
                  std::to_string(kGraphFileVersion) + ")");
    }
    if (length != bytes.size() - kHeaderBytes - 4) {
      return fail("graph file is truncated or has trailing bytes (payload " + std::to_string(length) +
                  " bytes, file holds " + std::to_string(bytes.size() - kHeaderBytes - 4) + ")");
    }
    std::string_view payload = bytes.substr(kHeaderBytes, length);
    Reader crc(bytes.substr(kHeaderBytes + length));
    if (crc.get<uint32_t>() != crc32_of(payload)) return fail("graph file is corrupted (CRC mismatch)");

    Reader r(payload);
    std::vector<Sym> syms(r.count(4));
    for (Sym& s : syms) s = in.intern(r.bytes(r.get<uint32_t>()));
    auto sym = [&](bool* ok) {
      uint32_t i = r.get<uint32_t>();
      if (i >= syms.size()) *ok = false;
      return i < syms.size() ? syms[i] : Sym{};
    };
    bool ok = r.ok();
    auto relation = [&] {
      Relation rel;
      rel.src_type = sym(&ok);
      rel.dst_type = sym(&ok);
      rel.op = r.get<Operation>();
      rel.where = r.get<Locality>();
      if (static_cast<int>(rel.op) >= kOperationCount || rel.where > Locality::kUnknown) ok = false;
      return rel;
    };

    CommGraph g;
    g.opt_.learning_phase_ms = r.get<int64_t>();
    g.opt_.edge_ttl_ms = r.get<int64_t>();
    g.opt_.generalise_types = r.get<uint8_t>() != 0;
    g.now_ = r.get<int64_t>();
    g.vertices_.resize(r.count(24));
    for (Vertex& v : g.vertices_) {
      v.name = sym(&ok);
      v.id = sym(&ok);
      v.type = sym(&ok);
      v.location = sym(&ok);
      v.first_seen = r.get<int64_t>();
      v.first_spoke = r.get<int64_t>();
    }
    const auto nv = static_cast<uint32_t>(g.vertices_.size());
    g.edges_.resize(r.count(27));
    for (Edge& e : g.edges_) {
      e.src = r.get<uint32_t>();
      e.dst = r.get<uint32_t>();
      e.op = r.get<Operation>();
      e.state = r.get<EdgeState>();
      e.live = r.get<uint8_t>() != 0;
      e.question = r.get<uint32_t>();
      e.count = r.get<uint32_t>();
      e.first_seen = r.get<int64_t>();
      e.last_seen = r.get<int64_t>();
      if (e.src >= nv || e.dst >= nv || static_cast<int>(e.op) >= kOperationCount ||
          e.state > EdgeState::kDenied) {
        ok = false;
      }
    }
    for (uint32_t n = r.count(10); n > 0; --n) g.learned_relations_.insert(relation());
    for (uint32_t n = r.count(11); n > 0; --n) {
      Relation rel = relation();
      g.type_rules_[rel] = r.get<uint8_t>() != 0;
    }
    for (uint32_t n = r.count(15); n > 0; --n) {
      uint32_t v = r.get<uint32_t>();
      Relation rel = relation();
      if (v >= nv) ok = false;
      g.service_rules_[{v, rel}] = r.get<uint8_t>() != 0;
    }
    g.questions_.resize(r.count(27));
    for (size_t i = 0; i < g.questions_.size(); ++i) {
      Question& q = g.questions_[i];
      q.id = static_cast<uint32_t>(i + 1);
      q.rel = relation();
      q.type_level = r.get<uint8_t>() != 0;
      q.exemplar_edge = r.get<uint32_t>();
      q.asked_ms = r.get<int64_t>();
      q.open = r.get<uint8_t>() != 0;
      q.sources.resize(r.count(4));
      for (uint32_t& s : q.sources) {
        s = r.get<uint32_t>();
        if (s >= nv) ok = false;
      }
      if (q.exemplar_edge >= g.edges_.size()) ok = false;
    }
    g.decisions_.resize(r.count(18));
    for (Decision& d : g.decisions_) {
      d.question = r.get<uint32_t>();
      d.approve = r.get<uint8_t>() != 0;
      d.scope = r.get<Scope>();
      d.source = r.get<uint32_t>();
      d.time_ms = r.get<int64_t>();
      const bool source_ok = d.scope == Scope::kType ? d.source == CommGraph::kNoVertex : d.source < nv;
      if (d.question == 0 || d.question > g.questions_.size() || d.scope > Scope::kService || !source_ok) {
        ok = false;
      }
    }
    for (const Edge& e : g.edges_) {
      if (e.state == EdgeState::kPending &&
          (e.question == 0 || e.question > g.questions_.size() || !g.questions_[e.question - 1].open)) {
        ok = false;
      }
      if (!time_ok(e.first_seen) || !time_ok(e.last_seen) || e.first_seen > e.last_seen || e.last_seen > g.now_) {
        ok = false;
      }
    }
    for (const Vertex& v : g.vertices_) {
      if ((v.first_seen != -1 && !time_ok(v.first_seen)) || (v.first_spoke != -1 && !time_ok(v.first_spoke))) {
        ok = false;
      }
    }
    for (const Question& q : g.questions_) {
      if (q.type_level != q.rel.typed()) ok = false;
    }
    if (g.now_ != INT64_MIN && !time_ok(g.now_)) ok = false;
    if (!ok || !r.ok() || !r.done()) return fail("graph file is inconsistent (bad index or length)");

    // Derived indexes.
    for (uint32_t i = 0; i < nv; ++i) {
      const Sym name = g.vertices_[i].name;
      if (name.id >= g.vertex_of_sym_.size()) g.vertex_of_sym_.resize(name.id + 1, 0);
      if (g.vertex_of_sym_[name.id] != 0) return fail("graph file is inconsistent (duplicate vertex)");
      g.vertex_of_sym_[name.id] = i + 1;
    }
    for (uint32_t i = 0; i < g.edges_.size(); ++i) {
      const Edge& e = g.edges_[i];
      if (!g.edge_index_.try_emplace(CommGraph::edge_key(e.src, e.dst, e.op), i).second) {
        return fail("graph file is inconsistent (duplicate edge)");
      }
      g.live_edges_ += e.live;
    }
    for (const Question& q : g.questions_) {
      if (!q.open) continue;
      ++g.open_questions_;
      if (q.type_level && !g.open_by_relation_.emplace(q.rel, q.id).second) {
        return fail("graph file is inconsistent (two open questions for one relation)");
      }
    }
    for (const Vertex& v : g.vertices_) {
      if (v.type.empty() || v.first_spoke < 0) continue;
      auto [it, added] = g.type_first_spoke_.try_emplace(v.type, v.first_spoke);
      if (!added) it->second = std::min(it->second, v.first_spoke);
    }
    *out = std::move(g);
    return true;
  }
};

std::string save_graph(const CommGraph& g, const Interner& in) { return GraphCodec::save(g, in); }

bool load_graph(std::string_view bytes, Interner& in, CommGraph* g, std::string* error) {
  return GraphCodec::load(bytes, in, g, error);
}

}  // namespace iotwall
