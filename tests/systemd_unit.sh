#!/usr/bin/env bash
# systemd_unit — node/rcnode@.service is a unit systemd accepts as written: `systemd-analyze
# verify` prints nothing for it (a directive it would ignore prints a warning and fails this
# test), its hardening scores as systemd's offline security analysis puts it, and a broken copy
# is caught (the check can fail). No systemd runs here: nothing is started.
B=${1:?build dir}
. "$(dirname "$0")/lib.sh"
UNIT="$(cd "$(dirname "$0")/.." && pwd)/node/rcnode@.service"

if ! command -v systemd-analyze >/dev/null; then
  echo "skip: systemd-analyze is not installed (Debian package systemd)"; finish; exit 0
fi
mkdir -p "$T/ok" "$T/bad"
# The unit as installed, with ExecStart pointing at the rcnode under test (verify checks it).
sed "s|/usr/local/bin/rcnode|$RCNODE|" "$UNIT" > "$T/ok/rcnode@.service"
out=$(systemd-analyze verify "$T/ok/rcnode@310000.service" 2>&1); rc=$?
check "systemd-analyze verify accepts the unit, with no warning" test "$rc" = 0 -a -z "$out"
[ -z "$out" ] || echo "     $out"
check "it runs as its own user, with no new privileges, and a private state directory" \
  bash -c "grep -qx 'User=rcn' '$UNIT' && grep -qx 'NoNewPrivileges=yes' '$UNIT' && grep -qx 'StateDirectory=rcn/%i' '$UNIT'"
score=$(systemd-analyze security --offline=yes "$T/ok/rcnode@310000.service" 2>/dev/null |
        sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "     (systemd-analyze security: exposure $score of 10, lower is safer)"
check "its exposure in systemd's offline security analysis is below 2.0" \
  python3 -c "import sys; sys.exit(0 if 0 <= float('${score:-99}') < 2.0 else 1)"
# The check can fail: a directive systemd does not understand, and a missing executable.
sed 's|ProtectSystem=strict|ProtectSystem=bogus|' "$T/ok/rcnode@.service" > "$T/bad/rcnode@.service"
out=$(systemd-analyze verify "$T/bad/rcnode@310000.service" 2>&1) || true
check "a unit with a value systemd ignores is caught" grep -q "bogus" <<<"$out"
sed "s|$RCNODE|/nonexistent/rcnode|" "$T/ok/rcnode@.service" > "$T/bad/rcnode@.service"
expect_fail 1 "not executable" "a unit whose rcnode is missing is caught" -- \
  systemd-analyze verify "$T/bad/rcnode@310000.service"
finish
