#!/usr/bin/env bash
# repl_backpressure — back-pressure (DESIGN §5): PUB drops under load are expected, and
# anti-entropy repairs them. Member 1 runs with `pub_hwm = 1`: its PUB socket queues at most
# one message per subscriber, so when it publishes a committed group of entries in one go,
# most of the group is dropped for every peer. The proof is on the receivers' counters:
#   - held: a live entry of member 1 that arrived with a gap before it. One SUB connection
#     delivers in order, so (with no connection lost, link_disconnects unchanged) only a
#     dropped message makes one;
#   - pulled_stored: the entries that then came by pull.
# All three must still end with identical heads and exports. A control burst of the same size
# from member 2, at the default HWM (more than the burst), shows no held entry at all.
B=${1:?build dir}
. "$(dirname "$0")/repl_lib.sh"

COUNT=${BP_COUNT:-300}       # entries per burst (well below the default HWM of 1000)
PAR=${BP_PAR:-8}             # concurrent writers: their requests are committed in groups

# snap NAME: every member's `status --json` into $T/snap.NAME.I.
snap() {
  local i
  for i in 1 2 3; do
    "$RCCTL" -d "$(D "$i")" --timeout 3000 status --json > "$T/snap.$1.$i" || return 1
  done
}
# delta I FIELD FROM TO: how much member i's sync counter FIELD grew between two snaps.
delta() {
  python3 - "$T/snap.$3.$1" "$T/snap.$4.$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(p))["sync"] for p in sys.argv[1:3])
print(b[sys.argv[3]] - a[sys.argv[3]])
PY
}
# counters I FROM TO: member i's counters that tell live from pulled, for the log.
counters() {
  local f out=
  for f in live_stored held held_dropped pulled_stored duplicates link_disconnects; do
    out+="$f +$(delta "$1" "$f" "$2" "$3") "
  done
  echo "$out"
}
# pulls_by_peer I: per peer of member i, "region: pulls sent, entries pulled".
pulls_by_peer() {
  "$RCCTL" -d "$(D "$1")" --timeout 3000 peers --json |
    json "', '.join('%s: %s pulls, %s entries' % (p['region'], p['pulls_sent'], p['entries_pulled']) for p in d)"
}

# --- set up: three members, member 1 with pub_hwm = 1 -------------------------------------------
N_MEMBERS=3
setup() {
  local i
  for i in 1 2 3; do member "$i" || return 1; done
  "$RCCTL" roster build "$(D 1).card" "$(D 2).card" "$(D 3).card" --rounds "" > "$T/roster.json" \
    || return 1
  for i in 1 2 3; do cp "$T/roster.json" "$(D "$i")/roster.json"; done
}
check "3 members set up" setup
check "a fresh node.conf shows pub_hwm at its default, commented out" \
  grep -qx "# pub_hwm = 1000" "$(D 1)/node.conf"
echo "pub_hwm = 0" >> "$(D 1)/node.conf"
expect_fail 1 "pub_hwm: '0' is not a whole number of messages 1..1000000" \
  "rcnode refuses pub_hwm = 0, naming the key and the range" -- "$RCNODE" "$(D 1)"
sed -i 's/^pub_hwm = 0$/pub_hwm = 1/' "$(D 1)/node.conf"
check "member 1 starts with pub_hwm = 1" start 1
check "members 2 and 3 start with the default" eval 'start 2 && start 3'
check "all three see each other up" wait_up 20 1 2 3
check "counters before the bursts" snap start

# --- control: a burst from member 2, default HWM ------------------------------------------------
t0=$(now_ms)
write_load 2 "$COUNT" "$PAR" control
check "member 2 writes $COUNT entries ($PAR writers at once)" wait_load
note "control burst written in $(( $(now_ms) - t0 )) ms"
check "…and all three converge" converged -t 60 -n "$COUNT"
check "counters after the control burst" snap control
for i in 1 3; do note "member $i from member 2: $(counters "$i" start control)"; done
check "with the default HWM, no live entry of member 2 was missed (held +0 on members 1 and 3)" \
  test "$(delta 1 held start control)$(delta 3 held start control)" = 00

# --- the burst: member 1, pub_hwm = 1 -----------------------------------------------------------
t0=$(now_ms)
write_load 1 "$COUNT" "$PAR" burst
check "member 1 writes $COUNT entries ($PAR writers at once)" wait_load
note "burst written in $(( $(now_ms) - t0 )) ms"
check "all three converge on identical heads and exports ($((2 * COUNT)) entries)" \
  converged -t 60 -n $((2 * COUNT))
check "counters after the burst" snap burst
for i in 2 3; do note "member $i from member 1: $(counters "$i" control burst)"; done
for i in 2 3; do note "member $i peers: $(pulls_by_peer "$i")"; done
held=$(( $(delta 2 held control burst) + $(delta 3 held control burst) ))
pulled=$(( $(delta 2 pulled_stored control burst) + $(delta 3 pulled_stored control burst) ))
lost=$(( $(delta 2 link_disconnects start burst) + $(delta 3 link_disconnects start burst) ))
check "PUB drops happened: members 2 and 3 held $held live entries that came after a gap" \
  test "$held" -gt 0
check "…on links that never dropped (link_disconnects +$lost): the gaps were PUB drops" \
  test "$lost" = 0
check "…and the missing entries came by pull ($pulled stored from pull replies)" \
  test "$pulled" -gt 0
note "member 1 counted published +$(delta 1 published control burst), publish_dropped +$(delta 1 publish_dropped control burst): libzmq's PUB drops silently"
check "once converged, no pull loop (at most 10 pulls in 2 s on member 2)" pulls_quiet 2 2 10

check "all stop cleanly" stop_all
check "verify-log and verify_export.py accept every member's log" verify_all 1 2 3
check "no node log holds a sanitizer report or a failed assertion" logs_clean
finish
