#!/bin/sh
# systemd-analyze verify on the iotwall unit, with @SBINDIR@ replaced by the
# directory of a built binary (verify checks that ExecStart exists).
# Usage: verify_unit.sh SYSTEMD/iotwall.service BUILT/iotwall
# Exit 0: no warning mentions iotwall.service; 1: some did; 77: skipped.
set -u
unit_in=$1
bin=$2
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze is not installed"
  exit 77
fi
[ -x "$bin" ] || { echo "FAIL: no binary at $bin"; exit 1; }
dir=$(mktemp -d /tmp/iotwall-unit-XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT INT TERM
sbindir=$(cd "$(dirname "$bin")" && pwd)
sed "s|@SBINDIR@|$sbindir|g" "$unit_in" > "$dir/iotwall.service" || exit 1
if grep -q '@[A-Z]*@' "$dir/iotwall.service"; then
  echo "FAIL: unsubstituted placeholders:"; grep -n '@[A-Z]*@' "$dir/iotwall.service"; exit 1
fi
# The binary must be named iotwall for ExecStart=SBINDIR/iotwall.
[ "$(basename "$bin")" = iotwall ] || { echo "FAIL: $bin is not named iotwall"; exit 1; }
# Prints what verify says about iotwall.service (warnings about other units
# on the host are not ours); returns verify's exit status.
verify() {
  v_out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$1" 2>&1)
  v_rc=$?
  printf '%s\n' "$v_out" | grep 'iotwall' || true
  return $v_rc
}
# The check must be able to fail: a misspelt key must be reported.
mkdir "$dir/typo" || exit 1
sed 's|^NoNewPrivileges=|NoNewPrivilege=|' "$dir/iotwall.service" > "$dir/typo/iotwall.service"
if [ -z "$(verify "$dir/typo/iotwall.service")" ]; then
  echo "FAIL: systemd-analyze verify did not report a misspelt key; the check is blind"
  exit 1
fi
ours=$(verify "$dir/iotwall.service")
rc=$?
if [ $rc -ne 0 ] || [ -n "$ours" ]; then
  echo "FAIL: systemd-analyze verify (exit $rc):"
  printf '%s\n' "$ours"
  exit 1
fi
echo "ok: systemd-analyze verify found nothing to say about iotwall.service"
exit 0
