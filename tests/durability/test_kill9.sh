#!/usr/bin/env bash
# test_kill9.sh BUILD_DIR — kill -9 at random moments: pl_writer appends entries until it is
# SIGKILLed after a random short delay; pl_check must then find every entry it reported
# written, whole, chains and signatures intact, the high-water mark at or above the head.
# Each data dir is killed KILLS times in a row, so reopening after a kill (stale reader slots,
# a writer lock held by a dead process, a partly written transaction) is exercised too.
# This proves atomicity (invariant 4), not fsync: the page cache survives a killed process;
# test_powerloss.sh covers that. RCN_KILL9_SEED replays the delays.
set -euo pipefail

build=${1:?usage: test_kill9.sh BUILD_DIR}
bin=$build/tests/durability
writer=$bin/pl_writer
check=$bin/pl_check
for f in "$writer" "$check"; do
  [ -e "$f" ] || { echo "test_kill9: $f missing (build first)" >&2; exit 2; }
done

dirs=5 kills=3   # 15 kills
batch=5
seed=${RCN_KILL9_SEED:-$(( ($(date +%s) * 7 + $$) % 1000000 ))}
echo "kill9: seed $seed (replay with RCN_KILL9_SEED=$seed), $((dirs * kills)) kills"
RANDOM=$seed

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rcn-kill9-XXXXXX")
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

passed=0 failed=0 total=0
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
show() { sed 's/^/    /' "$@" | tail -n 20; }

for ((d = 0; d < dirs; d++)); do
  dir=$tmp/d$d out=$tmp/d$d.out err=$tmp/d$d.err
  : >"$out"
  for ((k = 0; k < kills; k++)); do
    before=$(grep -c '^written ' "$out" || true)
    # Far more entries than it can write before the kill, which always comes.
    "$writer" "$dir" "$((seed + d))" 1000000 "$batch" >>"$out" 2>>"$err" &
    pid=$!
    # 50..549 ms: long enough, even on a loaded machine, to get past creating the keys and
    # the store most of the time; short enough to land anywhere in a commit.
    ms=$(( 50 + RANDOM % 500 ))
    sleep "$(printf '0.%03d' "$ms")"
    kill -9 "$pid" 2>/dev/null || true
    rc=0
    { wait "$pid"; } 2>/dev/null || rc=$?     # quiet: bash would report "Killed"
    pid=
    if [ "$rc" -eq 0 ]; then
      fail "dir $d kill $k: pl_writer finished before it was killed"; show "$err"; continue
    fi
    after=$(grep -c '^written ' "$out" || true)
    total=$((total + after - before))
    if "$check" "$dir" "$out" >"$dir.chk" 2>&1; then
      passed=$((passed + 1))
      state=$(grep -o 'head [0-9]*, mark [0-9]*' "$dir.chk" || echo 'no store yet')
      echo "dir $d kill $k: after ${ms} ms, $((after - before)) more reported, ok ($state)"
    else
      fail "dir $d kill $k: check after kill -9 at ${ms} ms"; show "$err" "$dir.chk"
    fi
  done
done

# Kills that all landed before the first commit would prove nothing.
if [ "$total" -gt 0 ]; then
  passed=$((passed + 1))
else
  fail "no entry was reported written before any kill"
fi
echo "kill9: $total entries reported written across the kills"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
