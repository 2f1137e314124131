#!/usr/bin/env bash
# rounds — the daily notification rounds (DESIGN §4) on a real 4-member alliance with set clocks
# (RCN_CLOCK offsets, DESIGN §6), never waiting for a real 10:00.
#
# The roster's slots are 23:59, 00:00, 00:09 and 00:10 (Asia/Shanghai), grace 20 s. Members 1–3
# start at 23:58:48 local time on day X: they report at 23:59 (day X) and, a minute later, at
# 00:00 (day X+1: the day boundary). Member 3 is killed after the 23:59 round and comes back
# after the 00:00 slot's grace: it shows as missing while down, then reports, late, not missing.
# Member 4's clock runs 10 minutes fast: it starts at 00:08:48 by its clock, so it reports at
# 00:09 and 00:10 while the others are at 23:59 and 00:00; its reports are on time by their
# signed time but flagged as signed ahead of its peers' acknowledgements, and it is missing at
# 23:59 and 00:00 (it did not exist yet by its clock). Every member acknowledges every other
# member's report by itself. A round's proof verifies offline and a tampered one does not.
B=${1:?build dir}
. "$(dirname "$0")/repl_lib.sh"

DAY_X=2026-11-21
DAY_Y=2026-11-22
N_MEMBERS=4
for i in 1 2 3 4; do check "member $i initialised" member "$i"; done
cards=(); for i in 1 2 3 4; do cards+=("$(D "$i").card"); done
"$RCCTL" roster build "${cards[@]}" --rounds 00:00,00:09,00:10,23:59 --timezone Asia/Shanghai \
  --grace 20 > "$T/roster.json"
for i in 1 2 3 4; do cp "$T/roster.json" "$(D "$i")/roster.json"; done
expect_fail 1 "unknown" "roster build refuses a time zone the tz database lacks" -- \
  "$RCCTL" roster build "${cards[@]}" --timezone Mars/Olympus

# 23:58:48 on day X in Shanghai (UTC+8) is 15:58:48Z; the offset takes the real clock there.
start_ms=$(( $(date -u -d "${DAY_X}T15:58:48Z" +%s) * 1000 ))
OFF=$(( start_ms - $(now_ms) ))
FAST=$(( OFF + 600000 ))
clock_of() { [ "$1" = 4 ] && echo "offset:$FAST" || echo "offset:$OFF"; }
# rc I ARGS…: rcctl on member i with member i's clock.
rc() { local i=$1; shift; RCN_CLOCK=$(clock_of "$i") "$RCCTL" -d "$(D "$i")" --timeout 5000 "$@"; }
begin() { RCN_CLOCK=$(clock_of "$1") start "$1"; }
for i in 1 2 3 4; do check "member $i starts (clock $(clock_of "$i"))" begin "$i"; done
check "every member sees every other up" wait_up 20 1 2 3 4

# cell I DATE SLOT REGION FIELD: one field of REGION's cell at SLOT in member i's `rounds`.
cell() {
  rc "$1" rounds --date "$2" --json | json "[c for m in d['members'] if m['region']=='$4' for c in m['cells'] if c['slot']=='$3'][0].get('$5')"
}
cell_is() { [ "$(cell "$1" "$2" "$3" "$4" "$5")" = "$6" ]; }
# acked I DATE SLOT REGION K: REGION's report at SLOT is acknowledged by K members on member i.
acked() { cell_is "$1" "$2" "$3" "$4" acks "$5" && cell_is "$1" "$2" "$3" "$4" state "${6:-on_time}"; }

# --- 23:59 on day X: members 1–3 report; 4 (at 00:09 by its clock) reports its own slot -------
for r in 310000 320000 330000; do
  check "23:59: $r reported on time and all three peers acknowledged (member 1's view)" \
    wait_for 40 "23:59 round of $r" acked 1 "$DAY_X" 23:59 "$r" 3
done
check "00:09 (member 4's fast clock): 340000 reported and 3 peers acknowledged" \
  wait_for 20 "340000 00:09" acked 1 "$DAY_Y" 00:09 340000 3
check "member 4's report is flagged as signed ahead of its peers' clocks (~600 s)" \
  python3 -c "import sys; a=int(sys.argv[1]); sys.exit(0 if 590 <= a <= 610 else 1)" \
  "$(cell 1 "$DAY_Y" 00:09 340000 clock_ahead_s)"
check "member 4 is missing at 23:59 (it had not started by its clock)" \
  wait_for 20 "340000 missing" cell_is 1 "$DAY_X" 23:59 340000 state missing
check "members agree: member 2 shows the same 23:59 round" acked 2 "$DAY_X" 23:59 310000 3

# --- member 3 goes down over midnight ------------------------------------------------------------
check "member 3 killed (-9) after the 23:59 round" kill9 3
check "00:00 on day Y: 310000 and 320000 report on time, acknowledged by the two others up" \
  wait_for 90 "00:00 round" acked 1 "$DAY_Y" 00:00 310000 2
check "00:00: 320000 too" wait_for 20 "320000 00:00" acked 1 "$DAY_Y" 00:00 320000 2
check "00:00: member 3 shows as missing once the grace has passed" \
  wait_for 40 "330000 missing" cell_is 1 "$DAY_Y" 00:00 330000 state missing
check "00:10 (member 4's clock): 340000 reported again, 2 acks" \
  wait_for 20 "340000 00:10" acked 1 "$DAY_Y" 00:10 340000 2
check "member 3 restarts" begin 3
check "member 3 reports the 00:00 round late, not missing" \
  wait_for 30 "330000 late" cell_is 1 "$DAY_Y" 00:00 330000 state late
for r in 310000 320000; do
  check "member 3 acknowledges $r's 00:00 report, written while it was down" \
    wait_for 30 "acks by 330000" acked 1 "$DAY_Y" 00:00 "$r" 3
done
check "member 3 acknowledges 340000's 00:10 report, written while it was down" \
  wait_for 30 "acks by 330000" acked 1 "$DAY_Y" 00:10 340000 3
check "330000's late report is acknowledged by all three others" \
  wait_for 30 "330000 acked" acked 1 "$DAY_Y" 00:00 330000 3 late
check "member 3's late report carries day Y (the day boundary)" \
  test "$(rc 1 export | python3 -c "import json,sys; print([e['body']['date'] for e in map(json.loads, sys.stdin) if e['kind']=='round_report' and e['region']=='330000'][-1])")" = "$DAY_Y"
check "the four members converge" converged -t 30

# --- the tables ------------------------------------------------------------------------------------
rc 1 rounds --date "$DAY_Y" > "$T/table.txt"
cat "$T/table.txt" >&2
check "the table shows 330000 late at 00:00" grep -Eq '^330000 .*late \+' "$T/table.txt"
check "the table shows 340000 missing at 00:00 and its fast clock" grep -q 'its clock runs fast' "$T/table.txt"
check "the table fits a terminal (<= 100 columns)" \
  test "$(awk '{ if (length > m) m = length } END { print m }' "$T/table.txt")" -le 100
check "rounds --last shows the latest slot only" \
  test "$(rc 1 rounds --last --json | json "d['slots']")" = '["00:00"]'
check "members 1-3 are due at 00:09 (not reached by their clocks)" cell_is 2 "$DAY_Y" 00:09 310000 state due
check "report counts say what the reporter wrote since its previous report" \
  test "$(cell 1 "$DAY_Y" 00:00 310000 counts | json "d.get('round_ack', 0) >= 3 and 'round_report' not in d")" = true
check "status --json: the last round is day Y 00:00, 330000 late, 340000 missing, ours acked 3/3" \
  test "$(rc 1 status --json | json "d['round']['date'] == '$DAY_Y' and d['round']['slot'] == '00:00' and d['round']['late'] == ['330000'] and d['round']['missing'] == ['340000'] and d['round']['own'] == {'state': 'on_time', 'acks': 3, 'of': 3}")" = true
check "status shows the last round for people" \
  sh -c "RCN_CLOCK=$(clock_of 1) '$RCCTL' -d '$(D 1)' status | grep -A1 '^last round  $DAY_Y 00:00: 2 on time, 1 late (330000), 1 missing (340000), 0 pending\$' | grep -qx ' *ours on time, acknowledged by 3 of 3'"
expect_fail 2 "misplaced" "rounds refuses a flag of another verb" -- rc 1 rounds --slot 10:00
expect_fail 1 "not a slot" "rounds proof refuses a slot the roster lacks" -- \
  rc 1 rounds proof --date "$DAY_X" --slot 10:00

# --- proof ---------------------------------------------------------------------------------------
check "rounds proof for 23:59 on day X is written" \
  sh -c "RCN_CLOCK=$(clock_of 1) '$RCCTL' -d '$(D 1)' rounds proof --date $DAY_X --slot 23:59 > '$T/proof.json'"
check "the proof verifies offline (no node dir)" "$RCCTL" rounds verify "$T/proof.json"
"$RCCTL" rounds verify "$T/proof.json" >&2 || true
check "it says who had published up to what, co-signed by whom" \
  sh -c "'$RCCTL' rounds verify '$T/proof.json' | grep -q '310000 had published up to seq .* 3 of 3 peers'"
check "the proof verifies against member 2's roster (-d)" "$RCCTL" -d "$(D 2)" rounds verify "$T/proof.json"
python3 - "$T/proof.json" "$T/tampered.json" "$T/split.json" <<'PY'
import base64, json, sys
p = json.load(open(sys.argv[1]))
t = json.loads(json.dumps(p))
sig = bytearray(base64.b64decode(t['reports'][0]['acks'][0]['sig'])); sig[5] ^= 1
t['reports'][0]['acks'][0]['sig'] = base64.b64encode(bytes(sig)).decode()
json.dump(t, open(sys.argv[2], 'w'))
s = json.loads(json.dumps(p))   # one report's acks under another report: acknowledges another
r0, r1 = s['reports'][0], s['reports'][1]
r0['acks'] = r1['acks']
json.dump(s, open(sys.argv[3], 'w'))
PY
expect_fail 1 "signature does not verify" "a proof with a flipped signature bit is INVALID" -- \
  "$RCCTL" rounds verify "$T/tampered.json"
expect_fail 1 "acknowledges another report" "acks moved to another report are refused" -- \
  "$RCCTL" rounds verify "$T/split.json"
expect_fail 2 "not a round proof" "rounds verify names a file that is no proof" -- \
  "$RCCTL" rounds verify "$T/roster.json"
expect_fail 1 "INVALID" "a proof checked against another roster is INVALID" -- \
  sh -c "cp -a '$(D 1)' '$T/other' && '$RCCTL' roster build '$(D 1).card' '$(D 2).card' > '$T/other/roster.json' && '$RCCTL' -d '$T/other' rounds verify '$T/proof.json'"

for i in 1 2 3 4; do check "member $i stops cleanly" stop "$i"; done
for i in 1 2 3 4; do check "member $i's log verifies" "$RCCTL" -d "$(D "$i")" verify-log; done
finish
