#!/bin/bash
# The three-namespace live test site (docs/live-site.md):
#
#   PREFIX-c (clients)  PREFIX-c0 192.168.251.1/30 --- 192.168.251.2/30 PREFIX-g0 ┐
#                       + every service ip of the site map as /32                  │ PREFIX-g
#   PREFIX-k (KAs)      PREFIX-k0 192.168.252.2/30 --- 192.168.252.1/30 PREFIX-g1 ┘ (gateway,
#                       + every knowledge_agent ip as /32                            ip_forward=1)
#
# Routes: clients reach the KAs (10.0.0.0/16) through the gateway; the KAs
# reach the clients (10.0.0.0/8, 100.64.0.0/10) through the gateway; the
# gateway routes 10.0.0.0/16 to the KA side and the rest of 10.0.0.0/8 and
# 100.64.0.0/10 to the client side. Every connection between a service and
# its KA therefore crosses the gateway's FORWARD path, where the firewall
# sits.
#
#   tests/live/netns.sh up PREFIX SITE_MAP   creates the site (fails if it exists)
#   tests/live/netns.sh down PREFIX          removes it: stops what still runs in
#                                            the namespaces, deletes them (no error
#                                            when absent)
#
# Touches nothing outside the three namespaces: the veths are created
# directly inside them and ip_forward is set in the gateway's namespace only.
# Needs root and iproute2. The site map must be in the block style that
# `iotwall sim --site-map` writes (one `- id:` per service, `ip:` and
# `knowledge_agent: true` keys on their own lines); IPv6 addresses are
# skipped with a warning.
#
# Offloads: with ethtool present, TSO, GSO and GRO are turned off on the
# four veths so NFQUEUE sees packets as they go on a real wire. Without
# ethtool they stay as the kernel sets them: veth does GRO only when it is
# enabled explicitly (or with XDP), and the VSL requests and answers of a
# test site are smaller than one segment, so no packet of theirs is merged
# or split either way.
set -euo pipefail

usage() {
  echo "usage: $0 up PREFIX SITE_MAP | down PREFIX" >&2
  echo "  PREFIX: 1-10 characters of [A-Za-z0-9_]" >&2
  exit 2
}

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx -- "$1"; }

# Stops what still runs in namespace $1 (TERM, then KILL), then deletes it.
remove_ns() {
  local ns=$1 pids i
  ns_exists "$ns" || return 0
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  if [ -n "$pids" ]; then
    kill -TERM $pids 2>/dev/null || true
    for i in $(seq 20); do
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [ -z "$pids" ] && break
      sleep 0.1
    done
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
  fi
  ip netns del "$ns"
}

down() {
  local p=$1
  remove_ns "$p-c"
  remove_ns "$p-g"
  remove_ns "$p-k"
  echo "down: removed $p-c $p-g $p-k (if they existed)"
}

# Prints "client IP" / "ka IP" lines for the site map's IPv4 addresses.
site_ips() {
  awk '
    function flush() { if (ip != "") print (ka ? "ka " : "client ") ip; ip = ""; ka = 0 }
    function val(s) { sub(/^[^:]*:[ \t]*/, "", s); gsub(/["\047 \t\r]/, "", s); sub(/#.*/, "", s); return s }
    /^[ \t]*-[ \t]*id:/ { flush(); next }
    /^[ \t]*ip:/ { ip = val($0); next }
    /^[ \t]*knowledge_agent:/ { ka = (val($0) == "true"); next }
    END { flush() }
  ' "$1"
}

disable_offloads() {
  local ns=$1 dev=$2
  if command -v ethtool >/dev/null 2>&1; then
    ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off >/dev/null 2>&1 ||
      echo "note: ethtool could not change the offloads of $dev in $ns" >&2
  fi
}

up() {
  local p=$1 map=$2 c g k clients kas n_clients n_kas ip kind
  [ -r "$map" ] || { echo "$0: cannot read site map '$map'" >&2; exit 1; }
  c="$p-c" g="$p-g" k="$p-k"
  for ns in "$c" "$g" "$k"; do
    if ns_exists "$ns"; then
      echo "$0: namespace $ns exists already (run '$0 down $p' first)" >&2
      exit 1
    fi
  done
  clients="" kas=""
  n_clients=0 n_kas=0
  while read -r kind ip; do
    if [[ ! "$ip" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
      echo "warning: skipping $kind address '$ip' (only IPv4 is set up)" >&2
      continue
    fi
    if [ "$kind" = ka ]; then
      kas+="addr add $ip/32 dev $p-k0"$'\n'
      n_kas=$((n_kas + 1))
    else
      clients+="addr add $ip/32 dev $p-c0"$'\n'
      n_clients=$((n_clients + 1))
    fi
  done < <(site_ips "$map")
  if [ "$n_clients" -eq 0 ] || [ "$n_kas" -eq 0 ]; then
    echo "$0: $map names $n_clients service ips and $n_kas knowledge_agent ips; need both" >&2
    exit 1
  fi

  # Whatever fails from here leaves nothing behind.
  trap 'echo "$0: setting up failed; removing $p-*" >&2; down "$p" >/dev/null' ERR

  ip netns add "$c"
  ip netns add "$g"
  ip netns add "$k"
  ip link add "$p-c0" netns "$c" type veth peer name "$p-g0" netns "$g"
  ip link add "$p-g1" netns "$g" type veth peer name "$p-k0" netns "$k"

  ip -n "$c" -batch - <<EOF
link set lo up
link set $p-c0 up
addr add 192.168.251.1/30 dev $p-c0
$clients
route add 10.0.0.0/16 via 192.168.251.2 dev $p-c0
EOF
  ip -n "$g" -batch - <<EOF
link set lo up
link set $p-g0 up
link set $p-g1 up
addr add 192.168.251.2/30 dev $p-g0
addr add 192.168.252.1/30 dev $p-g1
route add 10.0.0.0/16 via 192.168.252.2 dev $p-g1
route add 10.0.0.0/8 via 192.168.251.1 dev $p-g0
route add 100.64.0.0/10 via 192.168.251.1 dev $p-g0
EOF
  ip -n "$k" -batch - <<EOF
link set lo up
link set $p-k0 up
addr add 192.168.252.2/30 dev $p-k0
$kas
route add 10.0.0.0/8 via 192.168.252.1 dev $p-k0
route add 100.64.0.0/10 via 192.168.252.1 dev $p-k0
EOF
  ip netns exec "$g" sysctl -q -w net.ipv4.ip_forward=1
  disable_offloads "$c" "$p-c0"
  disable_offloads "$g" "$p-g0"
  disable_offloads "$g" "$p-g1"
  disable_offloads "$k" "$p-k0"
  trap - ERR

  echo "up: clients $c ($n_clients service ips on $p-c0), gateway $g ($p-g0 to the clients, $p-g1 to the KAs), KAs $k ($n_kas KA ips on $p-k0)"
  if ! command -v ethtool >/dev/null 2>&1; then
    echo "note: no ethtool: veth offloads left as the kernel sets them (see the header of $0)"
  fi
}

[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (network namespaces)" >&2; exit 1; }
command -v ip >/dev/null || { echo "$0: needs iproute2 (ip)" >&2; exit 1; }
cmd=${1:-}
prefix=${2:-}
[[ "$prefix" =~ ^[A-Za-z0-9_]{1,10}$ ]] || usage
case "$cmd" in
  up) [ $# -eq 3 ] || usage; up "$prefix" "$3" ;;
  down) [ $# -eq 2 ] || usage; down "$prefix" ;;
  *) usage ;;
esac
