#include "dpi/flow_table.h"

#include <algorithm>
#include <climits>
#include <tuple>

namespace iotwall::dpi {
namespace {

bool endpoint_less(const Endpoint& x, const Endpoint& y) {
  return std::tie(x.ip.family, x.ip.bytes, x.port) < std::tie(y.ip.family, y.ip.bytes, y.port);
}

// Serial-number "a is at or after b".
bool seq_ge(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) >= 0; }

}  // namespace

void FlowTableCounters::for_each(const std::function<void(std::string_view, uint64_t)>& fn) const {
  fn("packets", packets);
  fn("tcp_packets", tcp_packets);
  fn("udp_datagrams", udp_datagrams);
  fn("icmp_packets", icmp_packets);
  fn("other_packets", other_packets);
  fn("tcp_without_flow", tcp_without_flow);
  fn("tcp_ignored", tcp_ignored);
  fn("flows_opened", flows_opened);
  fn("flows_midstream", flows_midstream);
  fn("flows_declined", flows_declined);
  fn("flows_closed_fin", flows_closed_fin);
  fn("flows_closed_reset", flows_closed_reset);
  fn("flows_closed_idle", flows_closed_idle);
  fn("flows_evicted", flows_evicted);
  fn("flows_closed_shutdown", flows_closed_shutdown);
  fn("flows_current", flows_current);
  fn("flows_peak", flows_peak);
  const ReassemblyCounters& r = reassembly;
  fn("reasm_bytes_delivered", r.bytes_delivered);
  fn("reasm_retransmitted_bytes", r.retransmitted_bytes);
  fn("reasm_overlap_conflict_bytes", r.overlap_conflict_bytes);
  fn("reasm_ooo_segments_buffered", r.ooo_segments_buffered);
  fn("reasm_segments_at_bound", r.segments_at_bound);
  fn("reasm_segments_out_of_window", r.segments_out_of_window);
  fn("reasm_gaps", r.gaps);
  fn("reasm_gap_bytes", r.gap_bytes);
  fn("reasm_buffered_bytes", r.buffered_bytes);
  fn("reasm_buffered_bytes_peak", r.buffered_bytes_peak);
}

FlowTable::FlowTable(const FlowTableOptions& options, ConnectionFactory& factory)
    : options_(options),
      factory_(factory),
      pool_(options.max_buffered_bytes, options.chunk_bytes) {
  // map_ is not presized for max_flows: sized for 65,536 flows it spans
  // 5.6 MiB, and every new connection's key hashes to a random slot, so
  // steady churn of a few connections touches all of its pages in time
  // (the soak saw it as growth). Grown with the flows instead, it holds
  // the high-water mark of simultaneous flows and, once there, reuses
  // its slots: it rehashes only at a new high-water mark (amortised).
  options_.max_flows = std::clamp<size_t>(options_.max_flows, 1, kNil - 1);
  for (uint16_t port : options_.server_ports) server_ports_.set(port);
}

FlowTable::~FlowTable() = default;

FlowTable::Key FlowTable::make_key(const Endpoint& x, const Endpoint& y) {
  return endpoint_less(y, x) ? Key{y, x} : Key{x, y};
}

uint32_t FlowTable::alloc_flow() {
  if (free_head_ != kNil) {
    const uint32_t f = free_head_;
    free_head_ = flow(f).next;
    return f;
  }
  if (allocated_ >= options_.max_flows) return kNil;
  if ((allocated_ & ((1u << kSlabBits) - 1)) == 0) {
    slabs_.push_back(std::make_unique<Flow[]>(size_t{1} << kSlabBits));
  }
  return allocated_++;
}

void FlowTable::packet(const Packet& p, int64_t ts_us) {
  ++counters_.packets;
  last_.info.id = 0;
  last_.handler = nullptr;
  last_.ahead = false;
  expire_some(ts_us, 2);
  switch (p.protocol) {
    case kIpProtoTcp:
      break;
    case kIpProtoUdp:
      ++counters_.udp_datagrams;
      return;
    case kIpProtoIcmp:
    case kIpProtoIcmpv6:
      ++counters_.icmp_packets;
      return;
    default:
      ++counters_.other_packets;
      return;
  }
  ++counters_.tcp_packets;
  const auto it = map_.find(make_key(p.src, p.dst));
  uint32_t f = kNil;
  if (it != map_.end()) {
    f = it->second;
    Flow& fl = flow(f);
    if ((p.tcp_flags & (kTcpSyn | kTcpAck | kTcpRst)) == kTcpSyn &&
        !(fl.has_isn && fl.client_isn == p.seq && p.src == fl.info.client)) {
      // A new connection on the same 5-tuple: the old one is over.
      close(f, fl.state == State::kClosing ? CloseReason::kFin : CloseReason::kReset, ts_us);
      f = kNil;
    }
  }
  if (f == kNil) f = open(p, ts_us);
  if (f != kNil) tcp(f, p, ts_us);
}

bool FlowTable::find(const Packet& p, ConnectionHandler** handler, Direction* dir, uint64_t* id) const {
  if (p.protocol != kIpProtoTcp) return false;
  const auto it = map_.find(make_key(p.src, p.dst));
  if (it == map_.end()) return false;
  const Flow& fl = flow(it->second);
  if (!fl.handler) return false;
  *handler = fl.handler.get();
  *dir = p.src == fl.info.client ? Direction::kToServer : Direction::kToClient;
  *id = fl.info.id;
  return true;
}

uint32_t FlowTable::open(const Packet& p, int64_t ts_us) {
  const bool syn = (p.tcp_flags & kTcpSyn) != 0, ack = (p.tcp_flags & kTcpAck) != 0;
  if ((p.tcp_flags & kTcpRst) != 0 || (!syn && p.payload.empty())) {
    ++counters_.tcp_without_flow;
    return kNil;
  }
  bool sender_is_client = true;
  if (syn) {
    sender_is_client = !ack;
  } else {
    const bool src_srv = server_ports_.test(p.src.port), dst_srv = server_ports_.test(p.dst.port);
    sender_is_client = src_srv != dst_srv ? dst_srv : p.src.port >= p.dst.port;
  }
  if (map_.size() >= options_.max_flows) {
    const uint32_t victim = lists_[kShort].head != kNil ? lists_[kShort].head : lists_[kLong].head;
    close(victim, CloseReason::kEvicted, ts_us);
  }
  const uint32_t f = alloc_flow();
  Flow& fl = flow(f);
  fl.key = make_key(p.src, p.dst);
  fl.info.id = next_id_++;
  fl.info.client = sender_is_client ? p.src : p.dst;
  fl.info.server = sender_is_client ? p.dst : p.src;
  fl.info.start_us = ts_us;
  fl.fin_seq[0] = fl.fin_seq[1] = 0;
  fl.fin_seen[0] = fl.fin_seen[1] = false;
  fl.seen[0] = fl.seen[1] = false;
  fl.has_isn = syn && !ack;
  fl.client_isn = fl.has_isn ? p.seq : 0;
  fl.state = State::kHalfOpen;
  fl.last_us = ts_us;
  map_.emplace(fl.key, f);
  link_tail(f, kShort);
  ++counters_.flows_opened;
  if (!syn) ++counters_.flows_midstream;
  counters_.flows_current = map_.size();
  counters_.flows_peak = std::max(counters_.flows_peak, counters_.flows_current);
  fl.handler = factory_.open(fl.info);
  if (!fl.handler) ++counters_.flows_declined;
  return f;
}

void FlowTable::tcp(uint32_t f, const Packet& p, int64_t ts_us) {
  Flow& fl = flow(f);
  const Direction d = p.src == fl.info.client ? Direction::kToServer : Direction::kToClient;
  const int i = static_cast<int>(d), o = 1 - i;
  touch(f, ts_us);
  fl.seen[i] = true;
  if (!fl.handler) ++counters_.tcp_ignored;
  if ((p.tcp_flags & kTcpRst) != 0) {
    last_.info = fl.info;
    last_.dir = d;
    close(f, CloseReason::kReset, ts_us);
    return;
  }
  uint32_t seq = p.seq;
  if ((p.tcp_flags & kTcpSyn) != 0) ++seq;  // the SYN takes one sequence number
  if (!fl.dir[i].started()) fl.dir[i].start(seq);
  if ((p.tcp_flags & kTcpAck) != 0 && !fl.dir[o].started()) fl.dir[o].start(p.ack);
  if (fl.state == State::kHalfOpen && fl.seen[0] && fl.seen[1]) set_state(f, State::kEstablished);
  if (fl.handler && !p.payload.empty()) fl.dir[i].segment(seq, p.payload, context(fl, d, ts_us));
  if ((p.tcp_flags & kTcpFin) != 0) {
    if (!fl.fin_seen[i]) {
      fl.fin_seen[i] = true;
      fl.fin_seq[i] = seq + static_cast<uint32_t>(p.payload.size());
    }
    set_state(f, State::kClosing);
  }
  last_.info = fl.info;
  last_.dir = d;
  last_.ahead = fl.dir[i].has_buffered();
  last_.handler = fl.handler.get();
  last_flow_ = f;
  if (fl.fin_seen[0] && fl.fin_seen[1]) {
    const auto complete = [&](int j) {
      return !fl.dir[j].has_buffered() && seq_ge(fl.dir[j].next_seq(), fl.fin_seq[j]);
    };
    if (!fl.handler || (complete(0) && complete(1))) {
      close(f, CloseReason::kFin, ts_us);
      last_.handler = nullptr;
    }
  }
}

ReassemblyContext FlowTable::context(Flow& f, Direction d, int64_t ts_us) {
  return ReassemblyContext{&pool_, &counters_.reassembly,       f.handler.get(), d,
                           ts_us,  options_.max_direction_bytes};
}

void FlowTable::close(uint32_t f, CloseReason why, int64_t ts_us) {
  Flow& fl = flow(f);
  if (fl.handler) {
    for (int i = 0; i < 2; ++i) {
      if (!fl.dir[i].started()) continue;
      fl.dir[i].flush(context(fl, static_cast<Direction>(i), ts_us),
                      fl.fin_seen[i] ? std::optional<uint32_t>(fl.fin_seq[i]) : std::nullopt);
    }
    fl.handler->on_close(why, ts_us);
    fl.handler.reset();
  }
  for (Reassembly& r : fl.dir) r.reset(pool_, counters_.reassembly);
  switch (why) {
    case CloseReason::kFin:
      ++counters_.flows_closed_fin;
      break;
    case CloseReason::kReset:
      ++counters_.flows_closed_reset;
      break;
    case CloseReason::kIdle:
      ++counters_.flows_closed_idle;
      break;
    case CloseReason::kEvicted:
      ++counters_.flows_evicted;
      break;
    case CloseReason::kShutdown:
      ++counters_.flows_closed_shutdown;
      break;
  }
  map_.erase(fl.key);
  unlink(f);
  fl.next = free_head_;
  free_head_ = f;
  counters_.flows_current = map_.size();
}

void FlowTable::expire_some(int64_t now_us, int budget) {
  for (List l : {kShort, kLong}) {
    const int64_t timeout = l == kShort ? options_.short_timeout_us : options_.idle_timeout_us;
    while (budget > 0 && lists_[l].head != kNil) {
      const uint32_t f = lists_[l].head;
      Flow& fl = flow(f);
      if (now_us - fl.last_us <= timeout) break;
      close(f, fl.fin_seen[0] && fl.fin_seen[1] ? CloseReason::kFin : CloseReason::kIdle, now_us);
      --budget;
    }
  }
}

void FlowTable::expire(int64_t now_us) { expire_some(now_us, INT_MAX); }

void FlowTable::close_all(int64_t ts_us) {
  for (List l : {kShort, kLong}) {
    while (lists_[l].head != kNil) close(lists_[l].head, CloseReason::kShutdown, ts_us);
  }
}

void FlowTable::closing_last() {
  if (last_.handler == nullptr || last_flow_ == kNil) return;
  if (flow(last_flow_).state != State::kClosing) set_state(last_flow_, State::kClosing);
}

void FlowTable::set_state(uint32_t f, State s) {
  Flow& fl = flow(f);
  fl.state = s;
  const List l = list_for(s);
  if (l == fl.list) return;
  unlink(f);
  link_tail(f, l);
}

void FlowTable::link_tail(uint32_t f, List l) {
  Flow& fl = flow(f);
  fl.list = l;
  fl.next = kNil;
  fl.prev = lists_[l].tail;
  if (fl.prev != kNil) {
    flow(fl.prev).next = f;
  } else {
    lists_[l].head = f;
  }
  lists_[l].tail = f;
}

void FlowTable::unlink(uint32_t f) {
  Flow& fl = flow(f);
  ListHead& h = lists_[fl.list];
  if (fl.prev != kNil) {
    flow(fl.prev).next = fl.next;
  } else {
    h.head = fl.next;
  }
  if (fl.next != kNil) {
    flow(fl.next).prev = fl.prev;
  } else {
    h.tail = fl.prev;
  }
  fl.prev = fl.next = kNil;
}

void FlowTable::touch(uint32_t f, int64_t ts_us) {
  Flow& fl = flow(f);
  fl.last_us = ts_us;
  if (lists_[fl.list].tail == f) return;
  unlink(f);
  link_tail(f, fl.list);
}

}  // namespace iotwall::dpi
