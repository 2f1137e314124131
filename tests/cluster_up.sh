#!/usr/bin/env bash
# cluster_up — cluster/up, cluster/status and cluster/down as an operator meets them: a 4-member
# alliance up with the first four GB/T 2260 codes, each member seeing the three others;
# status 0 while all run and 1 once one is killed; a second up on a running cluster refused
# (and the cluster untouched); down leaving no rcnode of the dir, the dir kept, then a restart
# of the same alliance and --purge removing it; bad member counts and a taken port refused with
# no process left behind (and no dir when up made it); $RCN_CLUSTER_DIR as the default dir.
B=${1:?build dir}
. "$(dirname "$0")/lib.sh"
C=$(cd "$(dirname "$0")/../cluster" && pwd)
export RCN_BUILD_DIR=$B
unset RCN_CLOCK RCN_CLUSTER_DIR RCN_DIR
LISTENER=

# On exit: every cluster this test made is stopped (down is the code under test, so the pids
# in each state file are killed directly as well), then lib.sh's cleanup.
cluster_cleanup() {
  local d p
  [ -z "$LISTENER" ] || kill -KILL "$LISTENER" 2>/dev/null || true
  for d in "$T"/*/; do
    [ -f "$d/cluster.state" ] || continue
    "$C/down" --dir "$d" > /dev/null 2>&1 || true
    for p in $(awk '$1 == "member" { print $4 }' "$d/cluster.state"); do
      rcnode_on "$p" "$d" && kill -KILL "$p" 2>/dev/null || true
    done
  done
  cleanup
}
trap cluster_cleanup EXIT

# rcnode_on PID DIR: PID is an rcnode running on a member dir under DIR.
rcnode_on() { { tr '\0' ' ' < "/proc/$1/cmdline"; } 2>/dev/null | grep -q "rcnode ${2%/}/"; }
# rcnodes_in DIR: the pids of every rcnode running on a member dir under DIR (all processes).
rcnodes_in() {
  python3 - "${1%/}/" <<'PY'
import os, sys
for p in filter(str.isdigit, os.listdir("/proc")):
    try: a = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
    except OSError: continue
    if any(x.endswith(b"rcnode") and y.decode(errors="replace").startswith(sys.argv[1]) for x, y in zip(a, a[1:])):
        print(p)
PY
}
none_in() { [ -z "$(rcnodes_in "$1")" ] || { echo "still running in $1: $(rcnodes_in "$1")" >&2; return 1; }; }
pids_of() { awk '$1 == "member" { print $4 }' "$1/cluster.state"; }
regions_of() { awk '$1 == "member" { printf "%s ", $2 }' "$1/cluster.state"; }
all_alive() { local p; for p in $(pids_of "$1"); do rcnode_on "$p" "$1" || return 1; done; }
none_alive() { local p; for p in "$@"; do ! rcnode_on "$p" "$T" || return 1; done; }

# --- up 4, status ---------------------------------------------------------------------------------
t0=$(date +%s%N)
out=$("$C/up" 4 --dir "$T/c" 2>&1) && rc=0 || rc=$?
check "cluster/up 4 --dir D exits 0" test "$rc" = 0
[ "$rc" = 0 ] || echo "$out"
echo "     (up took $(( ($(date +%s%N) - t0) / 1000000 )) ms)"
check "the members are 310000 320000 330000 340000, in that order" test "$(regions_of "$T/c")" = "310000 320000 330000 340000 "
check "every pid in the state file is rcnode on its member's dir" all_alive "$T/c"
same_roster() { local r; for r in 310000 320000 330000 340000; do cmp -s "$T/c/roster.json" "$T/c/$r/roster.json" || return 1; done; }
check "one roster, the same bytes in every member dir" same_roster
out=$("$C/status" --dir "$T/c" 2>&1) && rc=0 || rc=$?
check "cluster/status exits 0 while every member runs" test "$rc" = 0
check "…one line per member, each up and seeing 3/3 peers" \
  test "$(grep -cE '^(310000|320000|330000|340000) .* up +[0-9]+ +3/3 ' <<<"$out")" = 4
[ "$(grep -cE ' up +[0-9]+ +3/3 ' <<<"$out")" = 4 ] || echo "$out"
check "each member's own rcctl status sees every peer up" \
  eval '"$RCCTL" -d "$T/c/340000" status --json | python3 -c "import json,sys; sys.exit(0 if json.load(sys.stdin)[\"peers_up\"] == 3 else 1)"'

# --- a second up on a running cluster -------------------------------------------------------------
before=$(pids_of "$T/c" | tr '\n' ' ')
expect_fail 2 "already holds a running cluster" "up refuses a dir whose cluster runs" -- "$C/up" 4 --dir "$T/c"
check "…and leaves it running, untouched" eval '[ "$(pids_of "$T/c" | tr "\n" " ")" = "$before" ] && all_alive "$T/c"'

# --- a member killed: status says so ------------------------------------------------------------
p3=$(awk '$1 == "member" && $2 == 330000 { print $4 }' "$T/c/cluster.state")
kill -KILL "$p3"
gone() { local i; for i in $(seq 50); do rcnode_on "$1" "$T/c" || return 0; sleep 0.1; done; return 1; }
check "330000's rcnode is gone after kill -9" gone "$p3"
out=$("$C/status" --dir "$T/c" 2>&1) && rc=0 || rc=$?
check "cluster/status exits 1 with a member down" test "$rc" = 1
check "…and marks 330000 DOWN, the others up" \
  eval 'grep -qE "^330000 .*DOWN" <<<"$out" && [ "$(grep -cE " up " <<<"$out")" = 3 ]'

# --- down ------------------------------------------------------------------------------------------
pids=$(pids_of "$T/c")
out=$("$C/down" --dir "$T/c" 2>&1) && rc=0 || rc=$?
check "cluster/down exits 0" test "$rc" = 0
check "…no pid of the state file runs any more" none_alive $pids
check "…and no rcnode runs on any member dir of the cluster" none_in "$T/c"
check "…the dir is kept without --purge" test -f "$T/c/cluster.state" -a -d "$T/c/310000/data"
expect_fail 1 "rcnode not running" "cluster/status exits 1 on a stopped cluster" -- "$C/status" --dir "$T/c"
check "cluster/down on a stopped cluster is fine" "$C/down" --dir "$T/c"

# --- up on the stopped cluster restarts it -----------------------------------------------------
hash=$("$RCCTL" roster hash "$T/c/roster.json")
check "cluster/up on a stopped cluster restarts it" "$C/up" 4 --dir "$T/c"
check "…with the same roster" test "$("$RCCTL" roster hash "$T/c/roster.json")" = "$hash"
check "…every member up again" "$C/status" --dir "$T/c"
expect_fail 2 "stopped cluster of 4 members" "up refuses another member count for a stopped cluster" -- \
  sh -c "'$C/down' --dir '$T/c' >/dev/null && '$C/up' 3 --dir '$T/c'"
check "…and starts nothing" none_in "$T/c"
check "cluster/down --purge removes the dir" "$C/down" --dir "$T/c" --purge
check "…which is gone, with nothing left running" eval '[ ! -e "$T/c" ] && none_in "$T/c"'

# --- refusals that start nothing -----------------------------------------------------------------
for n in 0 17 x; do
  expect_fail 2 "N must be a number from 1 to 16" "up refuses N=$n" -- "$C/up" "$n" --dir "$T/bad"
done
expect_fail 2 "how many members" "up refuses a missing N" -- "$C/up" --dir "$T/bad"
check "…and makes no dir" test ! -e "$T/bad"
mkdir -p "$T/full" && echo keep > "$T/full/file"
expect_fail 2 "not empty and holds no cluster" "up refuses a non-empty dir that holds no cluster" -- \
  "$C/up" 2 --dir "$T/full"
expect_fail 2 "no cluster in" "down --purge refuses a dir that holds no cluster" -- \
  "$C/down" --dir "$T/full" --purge
check "…and removes nothing" test -f "$T/full/file"

# --- a taken port: member 3 cannot bind, up stops the two it started -----------------------------
base=$("$PORTS" 8 --owner "$RCN_PORTS_OWNER")
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
print("listening", flush=True); time.sleep(120)' $((base + 4)) > "$T/listener.out" &
LISTENER=$!
for i in $(seq 50); do grep -q listening "$T/listener.out" 2>/dev/null && break; sleep 0.1; done
out=$("$C/up" 4 --dir "$T/p" --port-base "$base" 2>&1) && rc=0 || rc=$?
check "up with 330000's PUB port taken fails (exit 1)" test "$rc" = 1
check "…saying which member and why" eval 'grep -q "330000" <<<"$out" && grep -qi "address in use" <<<"$out"'
[ "$rc" = 1 ] || echo "$out"
check "…leaves no rcnode running (the two started first are stopped)" none_in "$T/p"
check "…and removes the dir it made" test ! -e "$T/p"
kill -KILL "$LISTENER" 2>/dev/null || true; wait "$LISTENER" 2>/dev/null || true; LISTENER=

# --- $RCN_CLUSTER_DIR, one member ----------------------------------------------------------------
check "RCN_CLUSTER_DIR=D cluster/up 1: a one-member alliance in D" env RCN_CLUSTER_DIR="$T/env" "$C/up" 1
check "…status and down find it there" \
  eval 'RCN_CLUSTER_DIR="$T/env" "$C/status" && RCN_CLUSTER_DIR="$T/env" "$C/down" --purge && [ ! -e "$T/env" ]'
check "--help of up, status and down" eval '"$C/up" --help && "$C/status" --help && "$C/down" --help'
check "nothing of this test runs any more" none_in "$T"
finish
