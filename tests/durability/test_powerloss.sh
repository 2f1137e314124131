#!/usr/bin/env bash
# test_powerloss.sh BUILD_DIR — simulated power loss: pl_writer runs under the LD_PRELOAD shim
# (libpowerloss.so), which at a chosen call throws away every write not yet covered by an
# fsync/fdatasync/O_DSYNC and every rename whose directory was not fsynced, then dies. After
# each crash pl_check must find every entry the writer reported written, whole, with chains
# and signatures intact, and the high-water mark consistent with the log (reported <= committed
# <= head <= signed); then the writer must reopen the store and go on (no crash, never
# "blocked"), and pl_check must pass again.
#
#   1. a full run under the shim counts its calls (RCN_PL_COUNT) and must check clean;
#   2. sweep: a short run (keys, store creation, the first groups) crashed at EVERY call;
#   3. trials: a long run (map growth included) cut into TRIALS equal slices, each crashed at
#      a random call of its slice — RCN_PL_SEED replays a series, RCN_PL_TRIALS sets its length;
#   4. control: the same crashes against a store opened unsafe_nosync must be caught.
# It fails too if no crash discarded unsynced data of data.mdb (the shim did nothing).
# The clock is fixed (RCN_CLOCK), so a seed replays the same entries and the same calls.
# It runs with POSIX-strict names by default (RCN_PL_STRICT=1: the shim also loses files and
# directories created in a directory not fsynced since; see powerloss.c), since the store
# fsyncs a new store's directory and the mark its key dir; RCN_PL_STRICT=0 turns that off.
set -euo pipefail

build=${1:?usage: test_powerloss.sh BUILD_DIR}
bin=$build/tests/durability
shim=$bin/libpowerloss.so
writer=$bin/pl_writer
check=$bin/pl_check
for f in "$shim" "$writer" "$check"; do
  [ -e "$f" ] || { echo "test_powerloss: $f missing (build first)" >&2; exit 2; }
done

trials=${RCN_PL_TRIALS:-25}
count=150        # entries in a long run: the map starts at 256 KiB and grows under the crashes
short=40         # entries in the swept run
batch=5          # entries per transaction (and per pair of high-water mark writes)
more=20          # entries appended by the run after the crash
limit=60         # seconds any one process may take
seed=${RCN_PL_SEED:-$(( ($(date +%s) * 7 + $$) % 1000000 ))}
export RCN_PL_STRICT=${RCN_PL_STRICT:-1}
strict_note=
[ "$RCN_PL_STRICT" = 0 ] || strict_note=", POSIX-strict names"
echo "powerloss: seed $seed (replay with RCN_PL_SEED=$seed), $trials trials$strict_note"
RANDOM=$seed
export RCN_CLOCK=fixed:1763775000000
# In the sanitizer build the (uninstrumented) shim is preloaded ahead of ASan's runtime, which
# ASan refuses by default; that order is the point here. No effect on the plain build.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rcn-powerloss-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

passed=0 failed=0 discarded=0 ahead=0 behind=0 crashes=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
show() { sed 's/^/    /' "$@" | tail -n 20; }

# shimmed DIR VAR=VALUE... PROGRAM ARGS: runs under the shim, tracking DIR.
shimmed() {
  local dir=$1; shift
  timeout "$limit" env LD_PRELOAD="$shim" RCN_PL_DIR="$dir" "$@"
}

# calls_of COUNT: the counted calls of a full run of COUNT entries (also checked clean).
calls_of() {
  local d=$tmp/full$1
  mkdir "$d"
  if ! shimmed "$d" RCN_PL_COUNT=1 "$writer" "$d" "$seed" "$1" "$batch" >"$d.out" 2>"$d.err" \
     || ! "$check" "$d" "$d.out" >"$d.chk" 2>&1 \
     || [ "$(grep -c '^written ' "$d.out")" -ne "$1" ]; then
    show "$d.err" "$d.chk" >&2
    return 1
  fi
  echo "powerloss: a full run of $1 entries: $(grep '^pl_writer: head' "$d.err" | cut -d' ' -f2-)" >&2
  sed -n 's/^powerloss: \([0-9][0-9]*\) calls$/\1/p' "$d.err" | tail -n 1
  rm -rf "$d" "$d".*
}

# trial NAME COUNT K: crash a run of COUNT entries at call K, check, resume, check.
# Sets $lost (data.mdb bytes discarded) and $before (entries reported before the crash).
trial() {
  local name=$1 n=$2 k=$3 d=$tmp/$1 rc=0 after
  local out=$d.out err=$d.err
  mkdir "$d"
  lost=0 before=0
  shimmed "$d" RCN_PL_CRASH_AT="$k" "$writer" "$d" "$seed" "$n" "$batch" >"$out" 2>"$err" || rc=$?
  if [ "$rc" -ne 137 ] && [ "$rc" -ne 0 ]; then        # 0: the run made fewer than K calls
    fail "$name (crash at $k): pl_writer exited $rc"; show "$err"; return 0
  fi
  if [ "$rc" -eq 137 ]; then crashes=$((crashes + 1)); fi
  # Unsynced bytes of the LMDB data file thrown away (lock.mdb, never synced, does not count).
  lost=$(sed -n 's|^powerloss: discarded \([0-9][0-9]*\) bytes of .*/data\.mdb$|\1|p' "$err")
  lost=${lost:-0}
  if [ "$lost" -gt 0 ]; then discarded=$((discarded + 1)); fi
  before=$(grep -c '^written ' "$out" || true)
  if ! "$check" "$d" "$out" >"$d.chk" 2>&1; then
    fail "$name (crash at $k): check after the crash"; show "$err" "$d.chk"; return 0
  fi
  if grep -q '(signed ahead' "$d.chk"; then ahead=$((ahead + 1)); fi
  if grep -q '(committed behind' "$d.chk"; then behind=$((behind + 1)); fi
  # The store reopens after the crash and the writer goes on from its head.
  rc=0
  timeout "$limit" "$writer" "$d" "$seed" "$more" "$batch" >>"$out" 2>>"$err" || rc=$?
  after=$(grep -c '^written ' "$out" || true)
  if [ "$rc" -eq 3 ]; then
    fail "$name (crash at $k): the resumed writer is BLOCKED: the crash lost a commit the" \
         "mark had recorded"; show "$err" "$d.chk"; return 0
  fi
  if [ "$rc" -ne 0 ] || [ "$after" -ne $((before + more)) ]; then
    fail "$name (crash at $k): resumed writer exited $rc, wrote $((after - before)) of $more"
    show "$err"; return 0
  fi
  if ! "$check" "$d" "$out" >"$d.chk" 2>&1; then
    fail "$name (crash at $k): check after resuming"; show "$err" "$d.chk"; return 0
  fi
  pass
  rm -rf "$d" "$d".*
}

start=$SECONDS

# 1. Full runs without a crash point: count the calls; each must itself check clean.
total=$(calls_of "$count") && total_short=$(calls_of "$short") || {
  fail "a full run under the shim"; echo "$passed passed, $failed failed"; exit 1; }
pass
echo "powerloss: $total counted calls in a run of $count entries, $total_short in one of $short"

# 2. The sweep: every call of the short run.
f0=$failed
for ((k = 1; k <= total_short; k++)); do
  trial "sweep$k" "$short" "$k"
done
echo "powerloss: sweep: crashed at each of $total_short calls, $((failed - f0)) failed"

# 3. The random trials over the long run.
for ((i = 0; i < trials; i++)); do
  lo=$(( i * total / trials + 1 ))
  hi=$(( (i + 1) * total / trials ))
  k=$(( lo + ((RANDOM << 15) | RANDOM) % (hi - lo + 1) ))
  f0=$failed
  trial "trial$i" "$count" "$k"
  if [ "$failed" -eq "$f0" ]; then
    echo "trial $i: crash at call $k of $total: $lost bytes of data.mdb discarded," \
         "$before entries reported before the crash, ok"
  fi
done

# The shim must have thrown away unsynced data somewhere, or this proved nothing.
if [ "$discarded" -gt 0 ]; then
  pass
else
  fail "no crash discarded unsynced data of data.mdb: the shim is not doing its job"
fi

# 4. The control: against a store that skips fsync (unsafe_nosync) reported entries live only
#    in the page cache, and the crash must be seen to drop them.
caught=0
for ((i = 0; i < 3; i++)); do
  k=$(( total / 3 + RANDOM % (total / 6 + 1) ))
  d=$tmp/c$i
  mkdir "$d"
  rc=0
  shimmed "$d" RCN_PL_CRASH_AT="$k" RCN_PL_WRITER_NOSYNC=1 \
    "$writer" "$d" "$seed" "$count" "$batch" >"$d.out" 2>"$d.err" || rc=$?
  reported=$(grep -c '^written ' "$d.out" || true)
  if [ "$rc" -eq 137 ] && [ "$reported" -gt 0 ] && ! "$check" "$d" "$d.out" >"$d.chk" 2>&1; then
    caught=$((caught + 1))
    echo "control $i: no-sync store crashed at call $k, $reported reported: caught," \
         "$(grep -c FAULT "$d.chk") faults, e.g. $(grep -m1 FAULT "$d.chk" | cut -d' ' -f3-)"
  else
    echo "control $i: no-sync store crashed at call $k (exit $rc, $reported reported): not caught"
  fi
  rm -rf "$d" "$d".*
done
if [ "$caught" -gt 0 ]; then
  pass
else
  fail "the control runs without fsync were never caught: the harness cannot see a missing sync"
fi

echo "powerloss: $crashes crashes, $discarded discarded unsynced data of data.mdb," \
     "$ahead left signed_seq ahead of the head, $behind the head ahead of committed_seq;" \
     "$((SECONDS - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
