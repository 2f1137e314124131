#!/usr/bin/env bash
# repl_converge — replication between real rcnode processes (DESIGN §5): members that write
# at the same time end up with identical logs (invariant 8: identical heads, byte-identical
# exports), every log re-verifiable by verify-log and by the independent verifier, and a
# write acknowledged with the default --wait is held by a peer. Prints how long convergence
# took.
B=${1:?build dir}
. "$(dirname "$0")/repl_lib.sh"

# all_heads_at SEQ I…: every listed member holds every listed member's origin up to SEQ.
all_heads_at() {
  local s=$1 i j; shift
  for i in "$@"; do for j in "$@"; do
    [ "$(head_of "$i" "${REGIONS[$j-1]}")" = "$s" ] || { echo "member $i holds ${REGIONS[$j-1]} up to $(head_of "$i" "${REGIONS[$j-1]}"), not $s" >&2; return 1; }
  done; done
}
# lag_zero I…: within 5 s (lag is computed from peers' last heartbeats, up to a second old),
# every listed member's `peers` shows no peer behind on any origin.
lag_zero() {
  local i deadline=$(( $(now_ms) + 5000 ))
  for i in "$@"; do
    until "$RCCTL" -d "$(D "$i")" peers --json |
        json "all(v == 0 for p in d for v in (p.get('lag') or {}).values()) and len(d) > 0" | grep -qx true; do
      [ "$(now_ms)" -lt "$deadline" ] || { echo "member $i's peers:" >&2; peers_json "$i" >&2; return 1; }
      sleep 0.2
    done
  done
}

# --- three members, 20 alerts each, all at once ----------------------------------------------
check "3 members come up and see each other up" alliance 3
for i in 1 2 3; do write_load "$i" 20 4 three; done
check "60 concurrent writes on 3 members all succeeded" wait_load
check "3 members converge: identical heads and exports, 60 entries" converged -t 30 -n 60
c3=$LAST_CONVERGED_MS
check "…each member holds 1..22 of every origin (20 alerts after its two SealKeys)" all_heads_at 22 1 2 3
check "…and the peers view shows no lag, on any member" lag_zero 1 2 3

out=$(send 1 "acknowledged by a peer" 2>&1 || true)
check "a write with the default --wait is held by a peer" grep -q "held by a peer" <<<"$out"
[ -n "$(grep "held by a peer" <<<"$out")" ] || echo "     rcctl said: $out"
out=$(send 2 "acknowledged, json" --json 2>&1 || true)
check "…and with --json says \"acknowledged\": \"peer\"" grep -q '"acknowledged": "peer"' <<<"$out"
# "Held by a peer" is a claim about that peer's log: check it at once, with no waiting.
by=$(json "d.get('held_by', '')" <<<"$out" 2>/dev/null || true)
sq=$(json "d.get('seq', 0)" <<<"$out" 2>/dev/null || echo 0)
holder=0; for j in 1 2 3; do [ "${REGIONS[$j-1]}" = "$by" ] && holder=$j; done
check "…naming the peer ($by) that holds it" test "$holder" != 0 -a "$holder" != 2
check "…and that peer's log does hold seq $sq of member 2, already" \
  eval '[ "$holder" != 0 ] && [ "$(head_of "$holder" 320000)" -ge "$sq" ]'
check "status counts 2 peers up" test "$(status_of 3 peers_up)" = 2
check "the acknowledged writes reach every member" converged -t 15 -n 62
check "no member holds fork evidence" no_forks 1 2 3
check "a converged alliance is quiet: no pulls (at most 2 in 2 s)" pulls_quiet 1 2 2
check "all 3 stop cleanly" stop_all
check "verify-log and verify_export.py accept every member's log" verify_all 1 2 3

# --- five members, 10 alerts each --------------------------------------------------------------
reset_alliance
check "5 members come up and see each other up" alliance 5
for i in 1 2 3 4 5; do write_load "$i" 10 2 five; done
check "50 concurrent writes on 5 members all succeeded" wait_load
check "5 members converge: identical heads and exports, 50 entries" converged -t 40 -n 50
c5=$LAST_CONVERGED_MS
check "…each member holds 1..12 of every origin (10 alerts after its two SealKeys)" all_heads_at 12 1 2 3 4 5
check "…and the peers view shows no lag, on any member" lag_zero 1 2 3 4 5
check "no member holds fork evidence" no_forks 1 2 3 4 5
check "all 5 stop cleanly" stop_all
check "verify-log and verify_export.py accept every member's log" verify_all 1 2 3 4 5
echo "     (convergence after the writers finished: 3 members ${c3:-?} ms, 5 members ${c5:-?} ms)"
check "no node log holds a sanitizer report or a failed assertion" logs_clean
finish
