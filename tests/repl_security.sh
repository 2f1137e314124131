#!/usr/bin/env bash
# repl_security — who replication refuses (DESIGN §2, §5): a node whose CURVE key is not in
# the roster gets nothing (the members' ZAP handler refuses it, and they count it), and a
# member whose roster file differs by one byte is reported as roster_mismatch and neither
# pulled from nor served.
#
# Members 1–3 hold the real roster of members 1–4. Member 4 is in that roster but runs on a
# copy of it with one byte changed. Member 5 is an outsider: not in the real roster; its own
# roster names itself and members 1–4 (so it knows where to connect).
B=${1:?build dir}
. "$(dirname "$0")/repl_lib.sh"

# refused I: the refused connections member i reports: the largest number under a key
# naming "refused" anywhere in its `status --json` or `peers --json`.
REFUSED_PY='
import json, sys
def walk(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if "refused" in k and isinstance(v, int) and not isinstance(v, bool): yield v
            yield from walk(v)
    elif isinstance(o, list):
        for v in o: yield from walk(v)
try: print(max(walk(json.load(sys.stdin)), default=0))
except Exception: print(0)'
refused() {
  local p s
  p=$("$RCCTL" -d "$(D "$1")" peers --json 2>/dev/null | python3 -c "$REFUSED_PY")
  s=$("$RCCTL" -d "$(D "$1")" status --json 2>/dev/null | python3 -c "$REFUSED_PY")
  echo $(( p > s ? p : s ))
}
wait_refused() { # SECS I: until member i reports a refused connection
  local deadline=$(( $(now_ms) + $1 * 1000 ))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    [ "$(refused "$2")" -gt 0 ] && return 0
    sleep 0.3
  done
  echo "member $2 reports no refused connection; status and peers:" >&2
  "$RCCTL" -d "$(D "$2")" status --json >&2; peers_json "$2" >&2
  return 1
}
# holds_only I REGION…: member i's log holds entries of the listed regions only.
holds_only() {
  local i=$1; shift
  "$RCCTL" -d "$(D "$i")" heads | json "sorted(set(h['region'] for h in d) - set('$*'.split()))" | grep -qx '\[\]' ||
    { echo "member $i holds: $("$RCCTL" -d "$(D "$i")" heads | json "[h['region'] for h in d]")" >&2; return 1; }
}

N_MEMBERS=5
for i in 1 2 3 4 5; do member "$i"; done
"$RCCTL" roster build "$(D 1).card" "$(D 2).card" "$(D 3).card" "$(D 4).card" --rounds "" > "$T/roster.json"
for i in 1 2 3; do cp "$T/roster.json" "$(D "$i")/roster.json"; done
# Member 4's copy: one byte changed (member 1's name "Shanghai" → "Shanghaj"); still valid JSON
# that lists member 4 with its own keys.
python3 - "$T/roster.json" "$(D 4)/roster.json" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
at = b.find(b'"Shanghai"'); assert at >= 0
b[at + 8] = ord("j")
open(sys.argv[2], "wb").write(bytes(b))
PY
check "member 4's roster differs from the real one by exactly one byte" \
  test "$(cmp -l "$T/roster.json" "$(D 4)/roster.json" | wc -l)" = 1
"$RCCTL" roster build "$(D 1).card" "$(D 2).card" "$(D 3).card" "$(D 4).card" "$(D 5).card" --rounds "" \
  > "$(D 5)/roster.json"

for i in 1 2 3 4 5; do check "member $i starts" start "$i"; done
check "members 1–3 see each other up" wait_up 20 1 2 3
for i in 1 2 3; do send "$i" "real member $i" --wait local >/dev/null; done
send 4 "mismatched member 4" --wait local >/dev/null
send 5 "outsider 5" --wait local >/dev/null
check "members 1–3 converge" converged -t 20 -n 3 1 2 3

# --- the outsider ------------------------------------------------------------------------------
check "member 1 reports refused connections (the outsider's key)" wait_refused 15 1
check "…and so do members 2 and 3" eval 'wait_refused 5 2 && wait_refused 5 3'
check "no member of the roster ever sees the outsider up" \
  eval '! "$RCCTL" -d "$(D 1)" peers --json | grep -q 350000'
check "the outsider sees no member up" \
  eval '! "$RCCTL" -d "$(D 5)" peers --json | json "[p for p in d if p.get(\"state\") == \"up\"]" 2>/dev/null | grep -q region'

# --- the member with a one-byte-different roster -----------------------------------------------
check "member 1 reports member 4 as roster_mismatch" wait_state 15 1 4 roster_mismatch
check "…and so does member 2" wait_state 5 2 4 roster_mismatch
check "member 1 says so in its log" log_has 1 "mismatch"
check "member 4 reports the others as roster_mismatch" wait_state 15 4 1 roster_mismatch
check "member 4's write stays on member 4" eval 'sleep 3; holds_only 1 310000 320000 330000'
check "no entry of members 1–3 reaches member 4" holds_only 4 340000
check "no entry reaches the outsider" holds_only 5 350000
check "members 1–3 are still converged, 3 entries" converged -t 10 -n 3 1 2 3
check "status of member 1 counts only members 2 and 3 up" test "$(status_of 1 peers_up)" = 2
out=$(SEND_TIMEOUT=2500 send 4 "acknowledged by nobody" 2>&1 || true)
check "a write on member 4 is never reported held by a peer (none shares its roster)" \
  eval 'grep -q "durable on this member" <<<"$out" && ! grep -q "held by a peer" <<<"$out"'
zl=$(grep -c "zap: refused" "$(D 1).log" || true)
note "member 1 logged $zl lines of ZAP refusals while the outsider kept knocking"
check "…the outsider's retries do not flood member 1's log (at most 30 lines)" test "$zl" -le 30

# --- a relay holding a tampered entry cannot pass it on -----------------------------------------
# Member 1 writes 5 while member 2 is down; member 3 holds them. Member 1 stops; in member 3's
# data.mdb one signature byte of the third is flipped. Member 2, started with member 3 as its
# only source, must take nothing from seq h+3 on (signature or chain fails), must not pull in
# a loop, and must get the real entries once member 1 is back.
check "member 2 stops" stop 2
h=$(own_head 1)
for k in 1 2 3 4 5; do send 1 "to be relayed $k" --wait local >/dev/null; done
check "member 3 holds member 1's 5 new entries" wait_head 15 3 310000 $((h + 5))
check "members 1 and 3 stop" eval 'stop 1 && stop 3'
"$RCCTL" -d "$(D 3)" export --origin 310000 --from $((h + 3)) | head -1 > "$T/victim.json"
python3 - "$T/victim.json" "$(D 3)/data/data.mdb" <<'PY'
import base64, json, sys
sig = base64.b64decode(json.loads(open(sys.argv[1]).read())["sig"])
data = bytearray(open(sys.argv[2], "rb").read())
at = data.find(sig); assert at >= 0, "signature not found in data.mdb"
while at >= 0:
    data[at + 10] ^= 0x40
    at = data.find(sig, at + 1)
open(sys.argv[2], "wb").write(bytes(data))
PY
expect_fail 1 "seq $((h + 3))" "member 3's log is now tampered at seq $((h + 3)) (verify-log says so)" -- "$RCCTL" verify-log "$(D 3)"
check "members 3 and 2 start (member 1 stays down)" eval 'start 3 && start 2'
check "member 2 sees member 3 up" wait_state 10 2 3 up
sleep 3   # several heartbeats: member 2 knows member 3 holds up to h+5 and has pulled
got=$(head_of 2 310000)
note "member 2 took member 1's entries from the tampered relay up to seq $got (tampered: $((h + 3)))"
check "member 2 took nothing from the tampered entry on (holds $got < $((h + 3)))" test "$got" -lt $((h + 3))
check "…and the entries it holds verify (verify_export.py on its export)" \
  eval '"$RCCTL" -d "$(D 2)" export > "$T/m2.jsonl" && $VERIFY --roster "$T/roster.json" "$T/m2.jsonl" >/dev/null'
check "…and it does not pull in a loop (at most 20 pulls in 3 s)" pulls_quiet 2 3 20
check "…and tells its operator: a warning names the relay and the refused entry" \
  eval 'grep -E "WARN|ERROR" "$(D 2).log" | grep -E "330000" | grep -qiE "signature|refus|tamper|invalid|forged"'
check "member 1 restarts" start 1
check "member 2 then gets the real entries from member 1" wait_head 20 2 310000 $((h + 5))
check "members 1 and 2 converge" converged -t 20 1 2

# Garbage, oversized, forged and replayed frames on the PUB and sync sockets, sent by a listed
# member's keys: repl_hostile.sh (with tests/repl/inject.c).
check "all stop cleanly" stop_all
check "verify-log and verify_export.py accept members 1 and 2" verify_all 1 2
check "no node log holds a sanitizer report or a failed assertion" logs_clean
finish
