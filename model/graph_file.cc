#include "model/graph_file.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

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
  void f32(float v) { put(std::bit_cast<uint32_t>(v)); }  // bit-exact
  void f64(double v) { put(std::bit_cast<uint64_t>(v)); }
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
  float f32() { return std::bit_cast<float>(get<uint32_t>()); }
  double f64() { return std::bit_cast<double>(get<uint64_t>()); }
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

// ---- The models section (version 2) ----

// Smallest record sizes, so a count can be checked against the bytes left.
constexpr size_t kCfBytes = 7 * 8;  // n, x_ref, ls, ss, t_ref, st, sst
template <int N>
constexpr size_t kCountsBytes = 4 + 4 * N;  // u32 length, f32 counts
constexpr size_t kTextBytes = TextValues::kSlots * (1 + 4 + 4) + 4;  // slots, other
constexpr size_t kNodeBytes = 4 + 4 + kCountsBytes<kValueKinds> + kCfBytes + kTextBytes;
constexpr size_t kRelBytes = 4 + 8 + 4 * kCfBytes + kCountsBytes<kOperationCount * 3> + 4 + 4;
constexpr size_t kModelBytes = 4 + 8 + 8 + 4;

// A text-value slot's kind on disk.
enum class SlotKind : uint8_t { kEmpty, kBool, kText };
constexpr uint32_t kBoolTag = 0x80000000u;  // TextValues::key of a boolean

// A map's entries sorted by their key's string: hash maps iterate in no
// fixed order, and Sym ids differ between processes.
template <typename V>
std::vector<std::pair<uint32_t, const V*>> by_name(const absl::flat_hash_map<uint32_t, V>& m,
                                                   const Interner& in) {
  std::vector<std::pair<uint32_t, const V*>> v;
  v.reserve(m.size());
  for (const auto& [k, x] : m) v.emplace_back(k, &x);
  std::sort(v.begin(), v.end(), [&](const auto& a, const auto& b) {
    return in.str(Sym{a.first}) < in.str(Sym{b.first});
  });
  return v;
}

void write_cf(Writer& w, const ClusterFeature& c) {
  for (double x : {c.n(), c.x_ref(), c.ls(), c.ss(), c.t_ref(), c.st(), c.sst()}) w.f64(x);
}

template <int N>
void write_counts(Writer& w, const Counts<N>& c) {
  w.put(static_cast<uint32_t>(N));  // the length, so a change of N is caught on load
  for (float x : c.c) w.f32(x);
}

void write_text(Writer& w, StringTable& t, const TextValues& tv) {
  for (int i = 0; i < TextValues::kSlots; ++i) {
    const uint32_t k = tv.sym[i];
    if (k == 0) {
      w.put(SlotKind::kEmpty);
      w.put(uint32_t{0});
    } else if (k & kBoolTag) {
      w.put(SlotKind::kBool);
      w.put(k & ~kBoolTag);
    } else {
      w.put(SlotKind::kText);
      w.put(t.index(Sym{k}));
    }
    w.f32(tv.count[i]);
  }
  w.f32(tv.other);
}

void write_models(Writer& w, StringTable& t, const absl::flat_hash_map<uint32_t, TypeModel>& models,
                  const Interner& in) {
  w.put(static_cast<uint32_t>(models.size()));
  for (const auto& [key, m] : by_name(models, in)) {
    w.put(t.index(Sym{key}));
    w.f64(m->weight);
    w.f64(m->last_s);
    w.put(static_cast<uint32_t>(m->rels.size()));
    for (const auto& [partner, r] : by_name(m->rels, in)) {
      w.put(t.index(Sym{partner}));
      w.f64(r->weight);
      for (const ClusterFeature* c : {&r->partners, &r->flows, &r->frequency, &r->burst})
        write_cf(w, *c);
      write_counts(w, r->access);
      w.put(static_cast<uint32_t>(r->nodes.size()));
      for (const auto& [suffix, n] : by_name(r->nodes, in)) {
        w.put(t.index(Sym{suffix}));
        w.f32(n->support);
        write_counts(w, n->kinds);
        write_cf(w, n->number);
        write_text(w, t, n->text);
      }
      w.put(static_cast<uint32_t>(r->periods.size()));
      for (const PeriodCluster& p : r->periods) write_cf(w, p.cf);
    }
  }
}

// Reads the models section, checking every number and index. Stops at the
// first problem; error() then says what it was.
class ModelDecoder {
 public:
  ModelDecoder(Reader& r, const std::vector<Sym>& syms) : r_(r), syms_(syms) {}

  bool read(absl::flat_hash_map<uint32_t, TypeModel>* out) {
    for (uint32_t n = r_.count(kModelBytes); n > 0 && ok(); --n) {
      const uint32_t key = sym();
      TypeModel m;
      m.weight = amount(r_.f64(), "a model weight");
      m.last_s = amount(r_.f64(), "a model time");
      for (uint32_t k = r_.count(kRelBytes); k > 0 && ok(); --k) {
        const uint32_t partner = sym();
        RelModel rel = relation();
        if (ok() && !m.rels.emplace(partner, std::move(rel)).second)
          bad("a partner type appears twice in a model");
      }
      if (ok() && !out->emplace(key, std::move(m)).second) bad("a type has two models");
    }
    return ok();
  }

  std::string error() const {
    if (!error_.empty()) return error_;
    return r_.ok() ? std::string() : std::string("records run past the end (a count is too large)");
  }

 private:
  bool ok() const { return error_.empty() && r_.ok(); }
  void bad(std::string what) {
    if (error_.empty()) error_ = std::move(what);
  }
  // A Sym id from a string index.
  uint32_t sym() {
    const uint32_t i = r_.get<uint32_t>();
    if (r_.ok() && i >= syms_.size()) bad("a string index is out of range");
    return i < syms_.size() ? syms_[i].id : 0;
  }
  // A weight or count: finite and non-negative.
  template <typename T>
  T amount(T x, const char* what) {
    if (!std::isfinite(x)) {
      bad(std::string(what).append(" is not a finite number"));
    } else if (x < 0) {
      bad(std::string(what).append(" is negative"));
    }
    return x;
  }
  ClusterFeature cf(const char* what) {
    double s[7];
    for (double& x : s) x = r_.f64();
    for (double x : s) {
      if (!std::isfinite(x))
        bad(std::string(what).append(" has a sum that is not a finite number"));
    }
    if (s[0] < 0) bad(std::string(what).append(" has a negative weight"));
    return ClusterFeature::from_sums(s[0], s[1], s[2], s[3], s[4], s[5], s[6]);
  }
  template <int N>
  void counts(Counts<N>* c, const char* what) {
    const uint32_t len = r_.get<uint32_t>();
    if (len != N) {
      bad(std::string(what)
              .append(" has ")
              .append(std::to_string(len))
              .append(" counts, expected ")
              .append(std::to_string(N)));
      return;
    }
    for (float& x : c->c) x = amount(r_.f32(), what);
  }
  RelModel relation() {
    RelModel rel;
    rel.weight = amount(r_.f64(), "a relationship weight");
    rel.partners = cf("a partners feature");
    rel.flows = cf("a flows feature");
    rel.frequency = cf("a frequency feature");
    rel.burst = cf("a burst feature");
    counts(&rel.access, "an access counts array");
    for (uint32_t n = r_.count(kNodeBytes); n > 0 && ok(); --n) {
      const uint32_t suffix = sym();  // 0 (the empty suffix) is a valid key
      NodeModel node;
      node.support = amount(r_.f32(), "a node support");
      counts(&node.kinds, "a value kinds array");
      node.number = cf("a node's number feature");
      text(&node.text);
      if (ok() && !rel.nodes.emplace(suffix, std::move(node)).second)
        bad("a node appears twice in a relationship");
    }
    rel.periods.resize(r_.count(kCfBytes));
    for (size_t i = 0; i < rel.periods.size() && ok(); ++i) {
      rel.periods[i].cf = cf("a period cluster");
      // merge_periods and the early-gap test rely on this order.
      if (i > 0 && !(rel.periods[i - 1].cf.mean() <= rel.periods[i].cf.mean())) {
        bad("period clusters are not sorted by centre");
      }
    }
    return rel;
  }
  void text(TextValues* tv) {
    for (int i = 0; i < TextValues::kSlots; ++i) {
      const auto kind = r_.get<SlotKind>();
      const uint32_t v = kind == SlotKind::kText ? sym() : r_.get<uint32_t>();
      uint32_t& key = tv->sym[i];
      const bool well_formed = (kind == SlotKind::kEmpty && v == 0) ||
                               (kind == SlotKind::kBool && v <= 1) ||
                               (kind == SlotKind::kText && v != 0 && !(v & kBoolTag));  // not ""
      if (!well_formed) bad("a text value slot is malformed");
      key = kind == SlotKind::kBool ? kBoolTag | v : v;
      tv->count[i] = amount(r_.f32(), "a text value count");
      if (key == 0 && tv->count[i] != 0) bad("an empty text value slot has a count");
      for (int j = 0; j < i; ++j) {
        if (key != 0 && tv->sym[j] == key) bad("a text value appears twice on a node");
      }
    }
    tv->other = amount(r_.f32(), "a text value count");
  }

  Reader& r_;
  const std::vector<Sym>& syms_;
  std::string error_;
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

  // The graph's records (version 1's payload after the string table).
  static void write_graph(Writer& body, StringTable& strings, const CommGraph& g,
                          const Interner& in) {
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
  }

  static std::string save(const CommGraph& g,
                          const absl::flat_hash_map<uint32_t, TypeModel>& models,
                          const Interner& in) {
    StringTable strings(in);
    Writer body;  // everything after the string table
    write_graph(body, strings, g, in);
    write_models(body, strings, models, in);

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

  static bool load(std::string_view bytes, Interner& in, CommGraph* out,
                   absl::flat_hash_map<uint32_t, TypeModel>* models_out, std::string* error) {
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
    if (version != 1 && version != kGraphFileVersion) {  // 1: the graph alone
      return fail("graph file version " + std::to_string(version) +
                  " is not supported (this reads 1 to " + std::to_string(kGraphFileVersion) + ")");
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
    if (!ok || !r.ok()) return fail("graph file is inconsistent (bad index or length)");
    absl::flat_hash_map<uint32_t, TypeModel> models;
    if (version >= 2) {
      ModelDecoder decoder(r, syms);
      if (!decoder.read(&models))
        return fail(std::string("graph file models are inconsistent: ").append(decoder.error()));
    }
    if (!r.done()) return fail("graph file is inconsistent (bad index or length)");

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
      g.anomalous_edges_ += CommGraph::anomalous_state(e.state);
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
    *models_out = std::move(models);
    return true;
  }
};

std::string save_state(const CommGraph& g, const absl::flat_hash_map<uint32_t, TypeModel>& models,
                       const Interner& in) {
  return GraphCodec::save(g, models, in);
}

bool load_state(std::string_view bytes, Interner& in, CommGraph* g,
                absl::flat_hash_map<uint32_t, TypeModel>* models, std::string* error) {
  return GraphCodec::load(bytes, in, g, models, error);
}

std::string save_graph(const CommGraph& g, const Interner& in) { return save_state(g, {}, in); }

bool load_graph(std::string_view bytes, Interner& in, CommGraph* g, std::string* error) {
  absl::flat_hash_map<uint32_t, TypeModel> models;
  return load_state(bytes, in, g, &models, error);
}

}  // namespace iotwall
