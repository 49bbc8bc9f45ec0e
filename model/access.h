// Access: one inter-service operation, the record every input (trace, pcap,
// NFQUEUE) is turned into and everything downstream consumes.
//
// All strings are interned Syms of one Interner, owned by the caller; an
// Access is a small trivially copyable value (no heap).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "model/intern.h"

namespace iotwall {

// VSL operations, with the DS2OS traces' names (see ALGORITHM.md section 1).
enum class Operation : uint8_t {
  kUnknown,  // not visible (e.g. an encrypted flow); the trace field is empty
  kRead,
  kWrite,
  kSubscribe,
  kUnsubscribe,
  kNotifyCallback,
  kRegisterVirtualNode,
  kUnregisterVirtualNode,
  kLockSubtree,
  kCommitSubtree,
  kRollbackSubtree,  // the dataset's unlockSubtree
  kRegisterService,
  kUnregisterService,
  kOther,  // a name we do not know
};
inline constexpr int kOperationCount = static_cast<int>(Operation::kOther) + 1;

// ASCII case-insensitive equality (names in traces and on the wire).
bool iequals(std::string_view a, std::string_view b);

// Parses a trace's operation name. Empty -> kUnknown, unrecognised -> kOther.
Operation parse_operation(std::string_view name);
// The trace name of `op` ("read", "unlockSubtree", ...; "" for kUnknown).
std::string_view operation_name(Operation op);
// A verb for questions in plain words ("read", "write", "lock", ...).
std::string_view operation_verb(Operation op);

// A value as the VSL carries it: node values are strings on the wire, so
// we classify what the text holds.
struct Value {
  enum class Kind : uint8_t { kEmpty, kNone, kNumber, kBool, kText };
  Kind kind = Kind::kEmpty;
  bool boolean = false;
  double number = 0;  // kNumber only; always finite
  Sym text;           // kText only

  // Classifies `s`: "" empty, "none" none, "true"/"false" bool, a finite
  // decimal number, else text (interned into `in`).
  static Value parse(std::string_view s, Interner& in);

  static Value None() { return Value(Kind::kNone); }
  static Value Bool(bool b) {
    Value v(Kind::kBool);
    v.boolean = b;
    return v;
  }
  static Value Number(double d) {
    Value v(Kind::kNumber);
    v.number = d;
    return v;
  }
  static Value Text(Sym s) {
    Value v(Kind::kText);
    v.text = s;
    return v;
  }

  Value() = default;
  explicit Value(Kind k) : kind(k) {}
  friend bool operator==(const Value&, const Value&) = default;
};

struct Access {
  Sym source_id;  // e.g. lightcontrol2
  Sym source_address;  // e.g. /agent2/lightcontrol2
  Sym source_type;     // e.g. /lightControler
  Sym source_location;  // e.g. Kitchen
  Sym dest_address;     // the destination service, e.g. /agent2/movement2
  Sym dest_type;
  Sym dest_location;
  Sym node_address;  // the accessed node, e.g. /agent2/movement2/movement
  Sym node_type;     // e.g. /derived/boolean
  Operation op = Operation::kUnknown;
  Value value;
  int64_t time_ms = 0;  // trace time; the only clock the model knows

  // The source vertex: its address, or its id when the address is missing.
  Sym source() const { return source_address.empty() ? source_id : source_address; }
  // The destination vertex: the service address, else the node address.
  Sym dest() const { return dest_address.empty() ? node_address : dest_address; }
};

// The largest timestamp accepted (ms since the epoch, about the year
// 33,000): far from overflow in any sum of times the model forms.
inline constexpr int64_t kMaxTraceMs = 1'000'000'000'000'000;

// How a trace labels a row. Labels are for evaluation only, never learning.
enum class LabelClass : uint8_t { kUnlabeled, kNormal, kAnomalous };

// One row of a trace: the access, its label and where it came from.
struct TraceRecord {
  Access access;
  Sym label;  // the label as written ("normal", "anomalous(scan)"), or empty
  LabelClass label_class = LabelClass::kUnlabeled;
  uint64_t line = 0;  // 1-based line number in the source file (0: not from a file)
};

}  // namespace iotwall
