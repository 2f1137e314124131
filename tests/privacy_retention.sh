#!/usr/bin/env bash
# privacy_retention — sealing keys rotate and expire (DESIGN §7), on a real 3-member alliance
# whose roster sets a 1-day sealing period and a 1-day retention.
#
# Time travel: the nodes read the clock through RCN_CLOCK (clock.h). Phase 1 runs on the real
# clock: each member makes and publishes its key for the current period and the next; member 1
# notifies member 2 (notice OLD, sealed under both ends' first-period keys). Phase 2 restarts
# the nodes with RCN_CLOCK=offset:+(2 days - 1 h): each makes and publishes its key for the
# period after, while member 3, left stopped, shows as LATE with its next key in `status` at
# the others. A fresh notice NEW is sealed under the current keys. A backup of member 2 is
# taken; then `retention run --at` (2 days + 1 h from real now: the first period ended a day
# and more before) destroys the first-period secrets — on member 1 through its running node,
# on member 2 on the stopped node's key dir. After that OLD opens at neither end, not even on
# member 2 restored from the pre-retention backup (a backup holds no keys), while NEW opens at
# both; `case list` still shows OLD's clear fields, and every log verifies. Member 3 started
# again publishes its next key and is late no more.
B=${1:?build dir}
. "$(dirname "$0")/repl_lib.sh"

DAY=86400000
HOUR=3600000
OLD_NAME=Planted-Oldperson
NEW_NAME=Planted-Newperson
REASON="retention test"

# keys_held I N: member i's log holds N sealing keys (all members together).
keys_held() { [ "$("$RCCTL" -d "$(D "$1")" --json sealkey list | json "len(d)")" = "$2" ]; }
# late_at I: the regions member i's status lists late with their next sealing key.
late_at() { status_of "$1" sealing | json "' '.join(d['late'])"; }
is_late() { [ "$(late_at "$1")" = "$2" ]; }
# opened I HASH: the name member i's case show opens from notice HASH (empty when it cannot).
opened() {
  "$RCCTL" -d "$(D "$1")" --json case show "$2" --reason "$REASON" --operator tester 2>/dev/null |
    json "(d.get('opened') or {}).get('name', '')" 2>/dev/null || true
}
opens() { [ "$(opened "$1" "$2")" = "$3" ]; }
# sealed_why I HASH: why member i's case show did not open notice HASH.
sealed_why() {
  "$RCCTL" -d "$(D "$1")" --json case show "$2" --reason "$REASON" --operator tester 2>/dev/null |
    json "d.get('sealed', '')" 2>/dev/null || true
}
# notify I NAME CASE_ID: member i notifies 320000; prints the new entry's hash.
notify() {
  local at; at=$(date -u -d "@$(( $(date +%s) - 60 ))" +%Y-%m-%dT%H:%M:%SZ)
  "$RCCTL" -d "$(D "$1")" case notify --case-id "$3" --classification close_contact \
    --to 320000 --residence 320583 --reported-at "$at" --name "$2" --id-number 32058319900307451X \
    --wait local 2>&1 | sed -n 's/.*: entry \([0-9a-f]\{64\}\) .*/\1/p'
}
# key_files I: how many sealing key files member i's key dir holds.
key_files() { find "$(D "$1")" -name 'seal-*.key' | wc -l; }
# key_file_gone I FROM_MS: member i's key dir holds no sealing key file for that period.
key_file_gone() {
  [[ "$2" =~ ^[0-9]+$ ]] || return 1
  [ -z "$(find "$(D "$1")" -name "seal-$(printf %020d "$2").key")" ]
}

# --- phase 1: the real clock --------------------------------------------------------------------
N_MEMBERS=3
for i in 1 2 3; do member "$i"; done
"$RCCTL" roster build "$T"/m1.card "$T"/m2.card "$T"/m3.card --seal-period-days 1 --retention-days 1 \
  --rounds "" \
  > "$T/roster.json"
for i in 1 2 3; do cp "$T/roster.json" "$(D "$i")/roster.json"; done
for i in 1 2 3; do check "member $i starts (period 1 day, retention 1 day)" start "$i"; done
check "3 members see each other up" wait_up 20 1 2 3
for i in 1 2 3; do
  check "member $i holds the current and next key of every member (6)" \
    wait_for 20 "6 sealing keys on member $i" keys_held "$i" 6
done
check "status at member 1 shows its own current and next key published, nobody late" \
  eval '[ "$(status_of 1 sealing | json "d[\"own_current\"][\"published\"] and d[\"own_next\"][\"published\"] and d[\"late\"] == []")" = true ]'
check "…and the next key starts one period (1 day) after the current" \
  eval '[ "$(status_of 1 sealing | json "d[\"own_next\"][\"from_ms\"] - d[\"own_current\"][\"from_ms\"]")" = $DAY ]'
check "status prints a sealing line" eval '"$RCCTL" -d "$(D 1)" status | grep -q "^sealing .*next from"'
H_OLD=$(notify 1 "$OLD_NAME" RET-OLD-1)
check "member 1 notifies member 2 (notice OLD)" test -n "$H_OLD"
check "member 2 receives it by itself" wait_for 20 "OLD's receipt" is_state 1 "$H_OLD" 320000 received
check "member 2 opens OLD now" opens 2 "$H_OLD" "$OLD_NAME"
check "…and so does member 1, its origin" opens 1 "$H_OLD" "$OLD_NAME"
check "all three stop" stop_all

# --- phase 2: two days on, less an hour ---------------------------------------------------------
export RCN_CLOCK="offset:+$(( 2 * DAY - HOUR ))"
note "nodes and rcctl now run with RCN_CLOCK=$RCN_CLOCK"
check "members 1 and 2 start again, two days on" eval 'start 1 && start 2'
check "…and see each other up" wait_up 20 1 2
check "each has made and published its key for the period after (8 keys)" \
  wait_for 20 "8 sealing keys on member 1" keys_held 1 8
check "member 1's status lists member 3, stopped, late with its next key" wait_for 20 "330000 late" is_late 1 330000
check "…and so does member 2's" wait_for 20 "330000 late" is_late 2 330000
check "…in the printed status too" \
  eval '"$RCCTL" -d "$(D 2)" status | grep -q "LATE with their next key: 330000"'
H_NEW=$(notify 1 "$NEW_NAME" RET-NEW-1)
check "member 1 notifies member 2 again (notice NEW)" test -n "$H_NEW"
check "member 2 receives it by itself" wait_for 20 "NEW's receipt" is_state 1 "$H_NEW" 320000 received
check "before retention member 2 opens OLD" opens 2 "$H_OLD" "$OLD_NAME"
check "…and NEW" opens 2 "$H_NEW" "$NEW_NAME"
check "a backup of member 2 before retention" backup 2 pre

check "member 1 holds three sealing keys (this period, the next, and the first)" \
  eval '[ "$(key_files 1)" = 3 ]'
AT=$(( $(now_ms) + 2 * DAY + HOUR ))      # real now: this script's clock is not offset
out=$("$RCCTL" -d "$(D 1)" --json retention run --at "$AT" 2>&1) || true
check "retention run --at on running member 1: the node destroys one period's secret" \
  eval '[ "$(json "[len(d[\"destroyed\"]), d[\"by\"]]" <<<"$out")" = "[1, \"node\"]" ]'
[ "$(json "len(d['destroyed'])" <<<"$out" 2>/dev/null)" = 1 ] || echo "     rcctl said: $out"
gone1=$(json "d['destroyed'][0]['from_ms']" <<<"$out" 2>/dev/null || echo none)
check "…its key file is gone, the other two are kept" eval 'key_file_gone 1 "$gone1" && [ "$(key_files 1)" = 2 ]'
check "…the answer names periods, no key material" \
  eval '! "$RCCTL" -d "$(D 1)" --json sealkey list | json "\" \".join(k[\"public_key\"] for k in d)" | tr " " "\n" | grep -qFf - <<<"$out"'
check "…and the node logged it" log_has 1 "retention: destroyed the sealing secret"
check "member 1 can no longer open OLD" eval '[ -z "$(opened 1 "$H_OLD")" ]'
check "…and says why (retention)" eval 'sealed_why 1 "$H_OLD" | grep -q retention'
check "member 1 still opens NEW" opens 1 "$H_NEW" "$NEW_NAME"

check "member 2 stops" stop 2
out=$("$RCCTL" -d "$(D 2)" retention run --at "$AT" 2>&1) || true
check "retention run --at on stopped member 2 works on its key dir" \
  eval 'grep -q "^destroyed  period" <<<"$out" && grep -q "done by the key dir" <<<"$out"'
grep -q "^destroyed  period" <<<"$out" || echo "     rcctl said: $out"
check "…and says what expires next, and when" eval 'grep -q "^next       period" <<<"$out"'
out=$("$RCCTL" -d "$(D 2)" --json retention run --at "$AT" 2>&1) || true
check "a second run destroys nothing more" eval '[ "$(json "len(d[\"destroyed\"])" <<<"$out")" = 0 ]'
check "member 2's data dir restored from the pre-retention backup" restore 2 pre
check "member 2 starts on it" start 2
check "restored member 2 cannot open OLD (the backup held no keys)" eval '[ -z "$(opened 2 "$H_OLD")" ]'
check "…though OLD is in its log" eval '"$RCCTL" -d "$(D 2)" --json case list | json "[n[\"case_id\"] for n in d if n[\"hash\"] == \"$H_OLD\"]" | grep -q RET-OLD-1'
check "restored member 2 still opens NEW" opens 2 "$H_NEW" "$NEW_NAME"
for i in 1 2; do
  check "case list on member $i still shows OLD's clear fields" \
    eval '"$RCCTL" -d "$(D $i)" --json case list | json "[(n[\"case_id\"], n[\"classification\"]) for n in d if n[\"hash\"] == \"$H_OLD\"]" | grep -q "RET-OLD-1.*close_contact"'
done

check "member 3 starts again, two days on" start 3
check "…publishes its key for the period after: nobody is late at member 1" \
  wait_for 30 "no one late on member 1" is_late 1 ""
check "…nor at member 2" wait_for 20 "no one late on member 2" is_late 2 ""
check "all three converge" converged -t 30
check "all three stop" stop_all
for i in 1 2 3; do
  check "member $i's log verifies (verify-log)" "$RCCTL" verify-log "$(D "$i")"
done
check "the independent verifier accepts every export" verify_all 1 2 3
leaks() {
  local f hit=0
  for f in "$T"/m[123]/data/data.mdb "$T"/m[123].log "$T"/bk.pre/data/data.mdb; do
    if grep -aqF -e "$OLD_NAME" -e "$NEW_NAME" "$f"; then echo "leak in $f" >&2; hit=1; fi
  done
  return $hit
}
check "no planted name in any data.mdb, backup or node log" leaks
check "no sanitizer report or assertion in any node log" logs_clean
finish
