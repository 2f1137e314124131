#!/usr/bin/env bash
# records_case — case notifications across a real 3-member alliance (DESIGN §4, §7): member 1
# (310000) notifies member 2 (320000) with JSON on stdin; member 2's node acknowledges receipt
# by itself and member 1 sees it; `case list --owed` shows the notice owed at both ends until
# member 2 takes it over. A second notice is answered not_ours with a redirect to member 3
# (330000), whose node receives it by itself and opens the personal details, while a member
# never addressed sees only the clear part. A re-submission names the existing entry; other
# content under the same case id is refused. A drill notice is shown as exercise and answered
# only as exercise. The planted name and ID number reach no node's data.mdb, log or export: only
# the addressed members' `case show` prints them.
B=${1:?build dir}
. "$(dirname "$0")/repl_lib.sh"

NAME=Planted-Lisiguang
ID=32058319900307451X
PHONE=13900001111

# owed_at I [FLAGS]: the hashes `case list --owed` shows on member i.
owed_at() { "$RCCTL" -d "$(D "$1")" --json case list --owed "${@:2}" | json "' '.join(n['hash'] for n in d)"; }
owes_none() { [ -z "$(owed_at "$1")" ]; }

check "3 members come up and see each other up" alliance 3
for i in 1 2 3; do
  check "member $i holds every member's sealing key (published by the nodes themselves)" \
    wait_for 20 "sealing keys on member $i" keys_on "$i"
done

# --- notify, automatic receipt, owed at both ends, taken over -----------------------------------
cat > "$T/notice.json" <<EOF
{"case_id": "SH-2026-0001", "classification": "close_contact", "to": ["320000"],
 "residence": "320583", "reported_at": "2026-11-22T09:30:00+08:00",
 "onset": "2026-11-20T08:00:00+08:00",
 "personal": {"name": "$NAME", "id_number": "$ID", "phone": "$PHONE",
              "address": "Kunshan, Qiandeng 1", "notes": "contact of SH-2026-0000"}}
EOF
notify1() { "$RCCTL" -d "$(D 1)" --json case notify < "$T/notice.json"; }
out=$(notify1 2>&1) || true
H1=$(json "d['hash']" <<<"$out" 2>/dev/null || true)
check "case notify --json (stdin) at member 1 answers with the entry's hash" test -n "$H1"
[ -n "$H1" ] || echo "     rcctl said: $out"
t0=$(now_ms)
check "member 2's receipt reaches member 1 by itself" wait_for 20 "the receipt" is_state 1 "$H1" 320000 received
note "receipt seen at the origin $(( $(now_ms) - t0 )) ms after the notice was written"
check "member 2 shows it received too" is_state 2 "$H1" 320000 received
check "case list --owed shows it owed at the origin" eval '[ "$(owed_at 1)" = "$H1" ]'
check "…and at the addressee" eval '[ "$(owed_at 2)" = "$H1" ]'
check "…and in the addressee's --to-me" eval '[ "$(owed_at 2 --to-me)" = "$H1" ]'
check "…but not in the origin's --to-me" eval '[ -z "$(owed_at 1 --to-me)" ]'
check "case list (table) on member 1 says OWED" eval '"$RCCTL" -d "$(D 1)" case list | grep -q "320000  received .*OWED"'
expect_fail 1 "its own notice" "member 1 may not answer its own notice" \
  -- "$RCCTL" -d "$(D 1)" case ack "$H1" taken_over
expect_fail 1 "not addressed to 330000" "member 3 may not answer a notice not addressed to it" \
  -- "$RCCTL" -d "$(D 3)" case ack "$H1" taken_over
check "member 2 takes it over" "$RCCTL" -d "$(D 2)" case ack "$H1" --status taken_over --note "in home isolation"
check "owed clears at the origin" wait_for 20 "owed to clear on member 1" owes_none 1
check "…and at the addressee" owes_none 2
check "member 1 shows taken_over with times to receipt and response" \
  eval '"$RCCTL" -d "$(D 1)" --json case show "$H1" | json "d[\"addressees\"][0][\"state\"] == \"taken_over\" and d[\"addressees\"][0][\"time_to_response_ms\"] >= d[\"addressees\"][0][\"time_to_receipt_ms\"]" | grep -q true'

# --- idempotent re-submission ------------------------------------------------------------------
out=$(notify1 2>&1) || true
check "the same notice again names the existing entry and signs nothing new" \
  eval '[ "$(json "d[\"hash\"]" <<<"$out")" = "$H1" ] && [ "$(json "d.get(\"existing\")" <<<"$out")" = true ]'
[ "$(json "d.get('existing')" <<<"$out" 2>/dev/null)" = true ] || echo "     rcctl said: $out"
sed 's/"phone": "[0-9]*"/"phone": "13900002222"/' "$T/notice.json" > "$T/notice2.json"
expect_fail 1 "--supersedes $H1" "other content under the same case id is refused, naming the correction" \
  -- sh -c "'$RCCTL' -d '$(D 1)' --json case notify < '$T/notice2.json'"

# --- not_ours with a redirect: the new region receives and opens -------------------------------
# (Without --json: with it, rcctl reads the notice from stdin whenever stdin is no terminal.)
hash_in() { sed -n 's/.*: entry \([0-9a-f]\{64\}\) .*/\1/p'; }
out=$("$RCCTL" -d "$(D 1)" case notify --case-id SH-2026-0002 --classification confirmed \
  --to 320000 --residence 330106 --reported-at 2026-11-22T10:00:00+08:00 --name "$NAME" \
  --id-number "$ID" --phone "$PHONE" 2>&1) || true
H2=$(hash_in <<<"$out")
check "a second notice, from flags" test -n "$H2"
[ -n "$H2" ] || echo "     rcctl said: $out"
check "member 2 receives it by itself" wait_for 20 "the receipt" is_state 2 "$H2" 320000 received
check "before the redirect, member 3's case show says it is not addressed to it" \
  eval '"$RCCTL" -d "$(D 3)" case show "$H2" --reason test --operator tester | grep -q "not addressed to 330000"'
check "member 2 answers not_ours, passing it on to 330000" \
  "$RCCTL" -d "$(D 2)" case ack "$H2" --status not_ours --redirect 330000 --note "residence is in Hangzhou"
check "member 3 receives it by itself" wait_for 20 "member 3's receipt" is_state 1 "$H2" 330000 received
check "…and owes it now (both ends)" eval '[ "$(owed_at 1)" = "$H2" ] && [ "$(owed_at 3 --to-me)" = "$H2" ]'
check "member 3's case show opens the personal details" \
  eval '[ "$("$RCCTL" -d "$(D 3)" --json case show "$H2" --reason test --operator tester | json "d[\"opened\"][\"id_number\"]")" = "$ID" ]'
check "…and prints them for a person" eval '"$RCCTL" -d "$(D 3)" case show "$H2" --reason test --operator tester | grep -q "$NAME"'
check "the origin opens its own notice" \
  eval '[ "$("$RCCTL" -d "$(D 1)" --json case show "$H2" --reason test --operator tester | json "d[\"opened\"][\"name\"]")" = "$NAME" ]'
out=$("$RCCTL" -d "$(D 3)" --json case show "$H1" --reason test --operator tester 2>&1) || true
check "on member 3, never addressed by the first notice, case show gives the clear part only" \
  eval 'json "d[\"case_id\"]" <<<"$out" | grep -q SH-2026-0001 && ! grep -q "$NAME" <<<"$out" && ! grep -q "$ID" <<<"$out"'
check "…and says why" eval 'json "d[\"sealed\"]" <<<"$out" | grep -q "not addressed to 330000"'
# The answer's fields as JSON on stdin, as every writing command takes them with --json.
check "member 3 takes it over (its fields as JSON on stdin)" \
  eval 'printf "{\"hash\": \"%s\", \"status\": \"taken_over\"}" "$H2" | "$RCCTL" -d "$(D 3)" --json case ack'
check "nobody owes anything then" wait_for 20 "owed to clear" eval 'owes_none 1 && owes_none 2 && owes_none 3'

# --- a drill notice ------------------------------------------------------------------------------
out=$("$RCCTL" -d "$(D 1)" case notify --status exercise --case-id DRILL-0001 \
  --classification suspected --to 320000,330000 --residence 310115 \
  --reported-at 2026-11-22T11:00:00+08:00 --name "Drill Person" 2>&1) || true
H3=$(hash_in <<<"$out")
check "a drill notice (--status exercise)" test -n "$H3"
[ -n "$H3" ] || echo "     rcctl said: $out"
check "both addressees receive it by themselves" \
  wait_for 20 "drill receipts" eval 'is_state 1 "$H3" 320000 received && is_state 1 "$H3" 330000 received'
check "it is shown as exercise" \
  eval '[ "$("$RCCTL" -d "$(D 2)" --json case show "$H3" | json "d[\"status\"]")" = exercise ]'
check "…in the table too" eval '"$RCCTL" -d "$(D 2)" case list | grep "DRILL-0001" | grep -q EXERCISE'
# drill_acks I: every ack of the drill notice in member i's export is exercise traffic.
drill_acks() {
  "$RCCTL" -d "$(D "$1")" export | python3 -c "
import json, sys
acks = [e for e in map(json.loads, sys.stdin) if (e.get('body') or {}).get('notice') == '$H3']
sys.exit(0 if len(acks) >= 2 and all(e['status'] == 'exercise' for e in acks) else 1)"
}
check "the automatic receipts are drill traffic too" drill_acks 1
expect_fail 1 "exercise traffic" "a real answer to a drill notice is refused" \
  -- "$RCCTL" -d "$(D 2)" case ack "$H3" taken_over
check "…a drill answer is taken" "$RCCTL" -d "$(D 2)" case ack "$H3" taken_over --status exercise

# --- privacy: the planted details are nowhere but in the addressed members' case show ------------
check "all three converge" converged -t 30
for i in 1 2 3; do
  "$RCCTL" -d "$(D "$i")" export > "$T/export.$i.jsonl"
  "$RCCTL" -d "$(D "$i")" --json case list > "$T/list.$i.json"
done
leaks() {
  local f hit=0
  for f in "$T"/m[123]/data/data.mdb "$T"/m[123].log "$T"/export.*.jsonl "$T"/list.*.json; do
    if grep -aqF -e "$NAME" -e "$ID" -e "$PHONE" "$f"; then echo "leak in $f" >&2; hit=1; fi
  done
  return $hit
}
check "neither the name, the ID number nor the phone is in any data.mdb, node log, export or list" leaks
check "…while the clear case ids are (the grep works)" grep -aqF SH-2026-0002 "$T/m3/data/data.mdb"
check "every member's log shows the opening of sealed details, by hash only" \
  eval 'grep -q "opened the sealed details of case entry ${H2:0:16}" "$(D 3).log"'
check "no member holds fork evidence" no_forks 1 2 3
check "no invalid entry anywhere" \
  eval '! grep -q "\"invalid\"" "$T"/export.*.jsonl'
# --- status: what is owed, at a glance (issue #6) ---------------------------------------------
# Member 3 received the drill notice and has not answered it: it owes the answer, member 1 is
# owed it, member 2 (which answered) neither. An order from member 1 to member 3 waits for its
# acceptance. Then member 3 runs two hours ahead (RCN_CLOCK): the answer is past the 1 h SLA and
# the order past its accept_by, member 3 to act.
# st I EXPR: a Python expression over member i's `status --json` (s), taken now.
st() {
  "$RCCTL" -d "$(D "$1")" status --json > "$T/status.$1.json" &&
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
      "$T/status.$1.json" "$2"
}
counts() { echo "{k: s['owed']['$1'][k] for k in ('owed', 'undelivered', 'overdue', 'drill')}"; }
check "status at member 3: the drill notice's answer owed, received, within the SLA" \
  st 3 "$(counts to_me) == {'owed': 1, 'undelivered': 0, 'overdue': 0, 'drill': 1} and s['owed']['to_me']['oldest']['hash'] == '$H3' and s['owed']['to_me']['oldest']['region'] == '310000' and s['owed']['to_me']['oldest']['state'] == 'received' and s['owed']['by_me']['owed'] == 0"
check "status at member 1: that answer owed to it by 330000" \
  st 1 "$(counts by_me) == {'owed': 1, 'undelivered': 0, 'overdue': 0, 'drill': 1} and s['owed']['by_me']['notices'] == 1 and s['owed']['by_me']['by_region'] == {'330000': 1} and s['owed']['by_me']['oldest']['to'] == '330000' and s['owed']['by_me']['oldest']['hash'] == '$H3' and s['owed']['to_me']['owed'] == 0"
check "status at member 2: nothing owed either way" \
  st 2 "s['owed']['to_me']['owed'] == s['owed']['by_me']['owed'] == 0 and s['owed']['transfers_overdue'] == []"
check "status tables: 'we owe' at member 3, 'owed to us' at member 1, each with the oldest" eval '
  "$RCCTL" -d "$(D 3)" status | grep -A1 -xE "we owe      1 notice an answer: 0 past the 1h SLA, 1 drill" |
    grep -qE "^ {12}oldest [0-9hms]+, from 310000 \(notice ${H3:0:16}, received, drill\)$" &&
  "$RCCTL" -d "$(D 1)" status | grep -A1 -xE "owed to us  1 answer to 1 notice: 0 past the 1h SLA, 1 drill" |
    grep -qE "^ {12}oldest [0-9hms]+, by 330000 \(notice ${H3:0:16}, received, drill\)$"'
# heads_match I: member i's status heads are its `rcctl heads`, one per member, by region.
heads_match() {
  "$RCCTL" -d "$(D "$1")" heads > "$T/heads.$1.json" &&
    st "$1" "[(h['region'], h['seq'], h['hash']) for h in s['heads']] == sorted((h['region'], h['seq'], h['hash']) for h in json.load(open('$T/heads.$1.json')))"
}
check "status heads agree with rcctl heads on every member" eval 'heads_match 1 && heads_match 2 && heads_match 3'
peers_even() { st "$1" "len(s['peer_list']) == 2 and all(p['state'] == 'up' and p['lag'] == 0 and p['behind'] == 0 and p['last_heard_ms'] < 3500 for p in s['peer_list'])"; }
check "status peers: both others up, nothing held on one side only" \
  wait_for 10 "even peers" eval 'peers_even 1 && peers_even 2 && peers_even 3'
out=$("$RCCTL" -d "$(D 1)" transfer create --order-id SH-2026-T900 --to 330000 --persons 1 \
  --person "Transfer Person,11010519491231002X" --vehicle "bus 7" --handover-point "G60 gate" \
  --accept-by +1h --depart-at +3h --eta +4h 2>&1) || true
check "member 1 orders a transfer to member 3" grep -q "transfer create: entry [0-9a-f]\{64\}" <<<"$out"
grep -q "transfer create: entry" <<<"$out" || echo "     rcctl said: $out"
check "member 3 holds it" wait_for 20 "the order on member 3" \
  eval '"$RCCTL" -d "$(D 3)" --json transfer list | grep -q SH-2026-T900'
check "…not yet overdue" st 3 "s['owed']['transfers_overdue'] == []"
stop 3 || true
RCN_CLOCK=offset:+7200000 start 3
check "two hours on, member 3's answer is past the SLA" \
  st 3 "$(counts to_me) == {'owed': 1, 'undelivered': 0, 'overdue': 1, 'drill': 1} and s['owed']['to_me']['oldest']['age_ms'] >= 7200000"
check "…and the order past its accept_by, 330000 to act" \
  st 3 "[(t['order_id'], t['from'], t['to'], t['state'], t['why'], t['act']) for t in s['owed']['transfers_overdue']] == [('SH-2026-T900', '310000', '330000', 'created', 'not accepted by accept_by', '330000')] and 3600000 <= s['owed']['transfers_overdue'][0]['late_ms'] < 3700000"
check "…as the table says" eval '
  "$RCCTL" -d "$(D 3)" status > "$T/status.3.txt" &&
  grep -qx "we owe      1 notice an answer: 1 past the 1h SLA, 1 drill" "$T/status.3.txt" &&
  grep -qE "^ {12}oldest 2h(0[0-9]m)?, from 310000 " "$T/status.3.txt" &&
  grep -A1 -x "transfers   1 overdue" "$T/status.3.txt" |
    grep -qE "^ {12}SH-2026-T900 +310000->330000  330000 to act, [0-9hms]+ late: not accepted by accept_by$"'
check "…and the member that ordered it sees it overdue only by its own clock: not yet" \
  st 1 "s['owed']['transfers_overdue'] == []"
check "all three stop cleanly" stop_all
check "each log verifies offline (verify-log)" eval '"$RCCTL" verify-log "$(D 1)" && "$RCCTL" verify-log "$(D 2)" && "$RCCTL" verify-log "$(D 3)"'
check "the independent verifier accepts every export" verify_all 1 2 3
check "no sanitizer report or assertion in any node log" logs_clean
finish
