#!/bin/sh
# Builds the libFuzzer targets (if needed) and runs each for SECONDS on a
# copy of its seed corpus, then replays every saved regression input.
# Exits non-zero if any target crashed or a regression input fails.
#
#   tests/fuzz/run.sh 30              # every target, 30 s each
#   tests/fuzz/run.sh 60 tls_fuzz     # one target
# Environment: BUILD_DIR (default: <repo>/../build-fuzz), JOBS (default 2),
# FUZZ_ARGS (extra libFuzzer flags, e.g. "-jobs=2 -workers=2").
set -u
SECONDS_EACH=${1:?usage: run.sh SECONDS [TARGET...]}
shift
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$(cd "$ROOT/.." && pwd)/build-fuzz}
JOBS=${JOBS:-2}
TARGETS=${*:-"packet_fuzz reassembly_fuzz http_vsl_fuzz websocket_fuzz tls_fuzz x509_fuzz cbor_json_fuzz capture_fuzz"}

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S "$HERE" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo || exit 2
fi
# shellcheck disable=SC2086
ninja -C "$BUILD_DIR" -j "$JOBS" $TARGETS || exit 2

WORK=$(mktemp -d "${TMPDIR:-/tmp}/iotwall-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=""
for t in $TARGETS; do
  mkdir -p "$WORK/$t/corpus" "$WORK/$t/artifacts"
  if [ -d "$HERE/corpus/$t" ]; then cp "$HERE/corpus/$t/"* "$WORK/$t/corpus/" 2>/dev/null; fi
  echo "== $t: fuzzing for $SECONDS_EACH s"
  # shellcheck disable=SC2086
  if ! "$BUILD_DIR/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$WORK/$t/artifacts/" ${FUZZ_ARGS:-} \
      "$WORK/$t/corpus" >"$WORK/$t/log" 2>&1; then
    echo "!! $t crashed:"
    tail -n 60 "$WORK/$t/log"
    mkdir -p "$HERE/regressions/$t"
    for a in "$WORK/$t/artifacts/"*; do
      [ -f "$a" ] && cp "$a" "$HERE/regressions/$t/" && echo "   input saved: regressions/$t/$(basename "$a")"
    done
    failed="$failed $t"
  else
    grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added' "$WORK/$t/log" | tr '\n' ' '
    echo
  fi
  if [ -d "$HERE/regressions/$t" ] && [ -n "$(ls -A "$HERE/regressions/$t" 2>/dev/null)" ]; then
    echo "== $t: replaying regressions"
    if ! "$BUILD_DIR/$t" -runs=1 "$HERE/regressions/$t/"* >"$WORK/$t/replay" 2>&1; then
      echo "!! $t: a regression input fails:"
      tail -n 40 "$WORK/$t/replay"
      case " $failed " in *" $t "*) ;; *) failed="$failed $t" ;; esac
    fi
  fi
done
if [ -n "$failed" ]; then
  echo "FAILED:$failed"
  exit 1
fi
echo "all targets ok"
