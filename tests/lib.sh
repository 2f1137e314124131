# tests/lib.sh — helpers for the shell-driven tests; source it after setting B (build dir).
# Every process started through start_node is stopped on exit, and every wait is bounded.
set -euo pipefail

RCCTL="$B/rcctl"
RCNODE="$B/rcnode"
T=$(mktemp -d "${TMPDIR:-/tmp}/rcn-test-XXXXXX")
PORTS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/cluster/ports"
export RCN_PORTS_OWNER=$$     # ports this test picks (here or through cluster/up) are its own
PIDS=()
PASSED=0
FAILED=0

cleanup() {
  local p
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$T"
  "$PORTS" --release "$RCN_PORTS_OWNER" || true
}
trap cleanup EXIT

ok()   { PASSED=$((PASSED + 1)); echo "ok   $*"; }
bad()  { FAILED=$((FAILED + 1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@" >/dev/null; then ok "$what"; else bad "$what"; fi; }
# expect_fail CODE NEEDLE WHAT -- CMD…: CMD exits with CODE and its output (stderr or
# stdout) contains NEEDLE.
expect_fail() {
  local code=$1 needle=$2 what=$3; shift 4
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" = "$code" ] && grep -qF -- "$needle" <<<"$out"; then ok "$what"
  else bad "$what (exit $rc, wanted $code; output: $out)"; fi
}
finish() { echo "$PASSED passed, $FAILED failed"; [ "$FAILED" = 0 ]; }

# free_port: a TCP port on 127.0.0.1 nobody listens on now, whose next port is free too (a
# member binds PORT and PORT+1), below the ephemeral range and reserved for this test until it
# exits (cluster/ports): tests that run side by side never share ports.
free_port() { "$PORTS" 2 --owner "$RCN_PORTS_OWNER"; }

# new_member DIR REGION NAME PORT: init a member (card in DIR.card).
new_member() {
  "$RCCTL" init --dir "$1" --region "$2" --name "$3" \
    --pub "tcp://127.0.0.1:$4" --sync "tcp://127.0.0.1:$(($4 + 1))" > "$1.card" 2>/dev/null
}

# start_node DIR: starts rcnode (log in DIR.log) and waits until it answers (<= 10 s).
start_node() {
  "$RCNODE" "$1" 2>>"$1.log" &
  PIDS+=($!)
  eval "PID_$(basename "$1")=$!"
  local i
  for i in $(seq 100); do
    "$RCCTL" -d "$1" --timeout 300 status >/dev/null 2>&1 && return 0
    kill -0 "$!" 2>/dev/null || break
    sleep 0.1
  done
  echo "node $1 did not come up:" >&2; cat "$1.log" >&2; return 1
}

# stop_node DIR: SIGTERM, wait <= 10 s for a clean exit; returns rcnode's exit status.
stop_node() {
  local var="PID_$(basename "$1")" pid rc=0 i
  pid=${!var}
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; return 99; fi
  wait "$pid" || rc=$?
  return $rc
}
