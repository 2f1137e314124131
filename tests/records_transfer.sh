#!/usr/bin/env bash
# records_transfer — transfer orders across a real 3-member alliance (DESIGN §4, §7): an order
# from member 1 (310000) to member 2 (320000) written as JSON on stdin, re-submitted (the
# existing order), then accepted, departed and handed over with a short count (a discrepancy);
# `transfer show` opening the manifest at both ends and only the clear part at member 3; wrong
# parties and out-of-order steps refused; then the concurrency rule during an outage: member 2
# accepts while members 1 and 3 are down, member 1 cancels (on the same parent) while member 2
# is down, and once all three are up they show the same state — cancelled, the accept
# superseded. Names and ID numbers reach no node log and no non-addressee's data file.
B=${1:?build dir}
. "$(dirname "$0")/repl_lib.sh"

NAME1=欧阳测试
NAME2="Planted Transferee"
ID1=11010519491231002X
ID2=110101199003071233
ID3=440402196002297770
tr_() { local i=$1; shift; "$RCCTL" -d "$(D "$i")" --timeout 20000 "$@"; }
# order_field I HASH EXPR: EXPR over member i's `transfer show --json` (bound to d).
order_field() { tr_ "$1" --json transfer show "$2" 2>/dev/null | json "$3" 2>/dev/null || true; }
# wait_order SECS I HASH STATE: until member i shows the order in STATE.
wait_order() {
  local deadline=$(( $(now_ms) + $1 * 1000 )) s=
  while [ "$(now_ms)" -lt "$deadline" ]; do
    s=$(order_field "$2" "$3" "d['state']")
    [ "$s" = "$4" ] && return 0
    sleep 0.2
  done
  echo "wait_order: member $2 shows order ${3:0:16} as \"$s\", not \"$4\", after $1 s" >&2
  return 1
}
# keys_everywhere: every member holds every member's sealing key (published at first start).
keys_everywhere() {
  local i deadline=$(( $(now_ms) + 20000 ))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    local ok=1
    for i in 1 2 3; do
      [ "$(tr_ "$i" --json sealkey list 2>/dev/null | json "len(set(k['region'] for k in d))" 2>/dev/null)" = 3 ] || ok=0
    done
    [ $ok = 1 ] && return 0
    sleep 0.2
  done
  echo "keys_everywhere: not every member holds three sealing keys" >&2
  for i in 1 2 3; do tr_ "$i" sealkey list >&2 || true; done
  return 1
}

check "3 members come up and see each other up" alliance 3
check "each member's sealing key reaches every member" keys_everywhere

cat > "$T/order.json" <<EOF
{"order_id": "SH-2026-T001", "to": "320000", "persons": 3,
 "manifest": [{"name": "$NAME1", "id_number": "$ID1"}, {"name": "$NAME2", "id_number": "$ID2"},
              {"name": "李四", "id_number": "$ID3"}],
 "vehicle": "沪A·D1234 (bus)", "depart_at": "+2h", "eta": "+6h",
 "handover_point": "G60 Fengjing toll gate", "accept_by": "+1h"}
EOF
# Relative times are taken once, by cli: a re-submission seconds later would name other times.
python3 - "$T/order.json" <<'PY'
import json, sys, time
p = sys.argv[1]; d = json.load(open(p)); now = int(time.time() * 1000)
for k, h in (("depart_at", 2), ("eta", 6), ("accept_by", 1)):
    d[k] = now + h * 3600 * 1000
json.dump(d, open(p, "w"), ensure_ascii=False)
PY
out=$(tr_ 1 --json transfer create < "$T/order.json" 2>&1) || true
HASH=$(json "d['hash']" <<<"$out" 2>/dev/null || true)
check "transfer create (JSON on stdin) at member 1 answers with the order's hash" test -n "$HASH"
[ -n "$HASH" ] || echo "     rcctl said: $out"
n1=$(own_head 1)
out=$(tr_ 1 --json transfer create < "$T/order.json" 2>&1) || true
check "the same order again names the existing order (\"existing\": true), signs nothing" \
  eval '[ "$(json "d[\"hash\"]" <<<"$out")" = "$HASH" ] && [ "$(json "d.get(\"existing\")" <<<"$out")" = true ] && [ "$(own_head 1)" = "$n1" ]'
[ "$(json "d.get('existing')" <<<"$out" 2>/dev/null)" = true ] || echo "     rcctl said: $out"
sed "s/$NAME2/Somebody Else/" "$T/order.json" > "$T/order2.json"
expect_fail 1 "already used by order" "the same order id with another manifest is refused" -- \
  eval '"$RCCTL" -d "$(D 1)" --json transfer create < "$T/order2.json"'

check "member 2 holds the order" wait_order 20 2 "$HASH" created
check "member 3 holds the order" wait_order 20 3 "$HASH" created
expect_fail 1 "only the receiving region (320000)" "member 3 may not accept it" -- \
  tr_ 3 transfer accept "$HASH"
expect_fail 1 "only the issuing region (310000)" "member 2 may not cancel it" -- \
  tr_ 2 transfer cancel "$HASH"
expect_fail 1 "has not accepted it yet" "member 1 may not depart before the accept" -- \
  tr_ 1 transfer depart "$HASH"
expect_fail 2 "--count" "a handover without --count is a usage error" -- tr_ 2 transfer handover "$HASH"

check "member 2 accepts (its fields as JSON on stdin)" \
  eval 'printf "{\"hash\": \"%s\", \"note\": \"quarantine hotel ready\"}" "$HASH" | tr_ 2 --json transfer accept'
check "member 1 sees it accepted" wait_order 20 1 "$HASH" accepted
expect_fail 1 "has not departed yet" "member 2 may not hand over before the departure" -- \
  tr_ 2 transfer handover "$HASH" --count 3
check "member 1 departs" tr_ 1 transfer depart "$HASH"
check "member 2 sees it departed" wait_order 20 2 "$HASH" departed
check "member 2 hands over: 2 of 3 received" tr_ 2 transfer handover "$HASH" --count 2 --note "one in hospital"
check "member 1 sees it handed over" wait_order 20 1 "$HASH" handed_over
out=$(tr_ 2 --json transfer handover "$HASH" --count 2 2>&1) || true
check "the same handover again is the existing step" eval '[ "$(json "d.get(\"existing\")" <<<"$out")" = true ]'
expect_fail 1 "handed_over" "nothing after the handover (a cancel)" -- tr_ 1 transfer cancel "$HASH"

# --- show at both ends and at member 3 ----------------------------------------------------------
check "member 3 sees it handed over" wait_order 20 3 "$HASH" handed_over
for i in 1 2; do
  out=$(tr_ "$i" --json transfer show "$HASH" --reason test --operator tester 2>&1) || true
  check "transfer show --json at member $i opens the manifest (3 names)" \
    eval '[ "$(json "[p[\"name\"] for p in d[\"opened\"][\"manifest\"]] == [\"$NAME1\", \"$NAME2\", \"李四\"]" <<<"$out")" = true ]'
  check "…with the discrepancy: 2 of 3 received" \
    eval '[ "$(json "[d[\"discrepancy\"][\"persons\"], d[\"discrepancy\"][\"received\"]]" <<<"$out")" = "[3, 2]" ]'
done
out=$(tr_ 2 transfer show "$HASH" --reason test --operator tester 2>&1) || true
check "transfer show (table) at member 2 lists the names and the steps" \
  eval 'grep -q "$NAME2" <<<"$out" && grep -q "$ID2" <<<"$out" && grep -q "handover 2" <<<"$out" && grep -q "DISCREPANCY" <<<"$out"'
out=$(tr_ 3 --json transfer show "$HASH" --reason test --operator tester 2>&1) || true
check "at member 3: the clear part (state, persons, readers) and not the manifest" \
  eval '[ "$(json "[d[\"state\"], d[\"persons\"], d[\"manifest\"][\"readers\"], \"opened\" in d]" <<<"$out")" = "[\"handed_over\", 3, [\"310000\", \"320000\"], false]" ]'
check "…saying why: not addressed to 330000" eval 'grep -q "not addressed to 330000" <<<"$out"'
check "…with no name or ID number in it" \
  eval '! grep -q "$NAME2" <<<"$out" && ! grep -q "$ID1" <<<"$out" && ! grep -q "$NAME1" <<<"$out"'
out=$(tr_ 3 transfer show "$HASH" --reason test --operator tester 2>&1) || true
check "transfer show (table) at member 3 says it is not opened here" \
  eval 'grep -q "not opened here: not addressed to 330000" <<<"$out" && ! grep -q "$NAME2" <<<"$out"'
out=$(tr_ 3 export 2>&1) || true
check "export shows the order's manifest as its size and readers only" \
  eval 'grep -q "\"readers\"" <<<"$out" && ! grep -q "$NAME2" <<<"$out" && ! grep -q "$ID2" <<<"$out"'
check "transfer list is the same on all three" \
  eval 'for i in 1 2 3; do tr_ $i --json transfer list | json "[(o[\"hash\"], o[\"state\"], o[\"steps\"]) for o in d]" > "$T/tl.$i"; done; cmp -s "$T/tl.1" "$T/tl.2" && cmp -s "$T/tl.1" "$T/tl.3"'

# --- a drill order, overdue at once -------------------------------------------------------------
out=$(tr_ 1 transfer create --order-id DRILL-1 --to 330000 --persons 1 \
          --person "Drill Person,$ID1" --vehicle "drill bus" --depart-at +10m --eta +20m \
          --accept-by +4s --handover-point "drill point" --status exercise 2>&1) || true
DRILL=$(sed -n 's/.*entry \([0-9a-f]\{64\}\).*/\1/p' <<<"$out")
check "a drill order (flags, --status exercise) to member 3" test -n "$DRILL"
[ -n "$DRILL" ] || echo "     rcctl said: $out"
check "member 3 holds it" wait_order 20 3 "$DRILL" created
overdue_at_3() {
  local deadline=$(( $(now_ms) + 20000 ))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    tr_ 3 --json transfer list --overdue | json "[o['hash'] for o in d]" | grep -q "$DRILL" && return 0
    sleep 0.5
  done
  return 1
}
check "transfer list --overdue at member 3 shows it once accept_by has passed" overdue_at_3
check "…and the table marks it EXERCISE and OVERDUE" \
  eval 'tr_ 3 transfer list --open | grep "$DRILL" | grep -q "\[EXERCISE\] OVERDUE"'
expect_fail 1 "must carry its order's status" "member 3 may not accept a drill order with a real step" -- \
  tr_ 3 transfer accept "$DRILL"
check "…but with --status exercise" tr_ 3 transfer accept "$DRILL" --status exercise

# --- concurrent accept (member 2) and cancel (member 1) on the same parent, during an outage ---
cat > "$T/order3.json" <<EOF
{"order_id": "SH-2026-T002", "to": "320000", "persons": 1,
 "manifest": [{"name": "$NAME2", "id_number": "$ID2"}],
 "vehicle": "沪A·D5678", "depart_at": "+3h", "eta": "+5h",
 "handover_point": "Anting checkpoint", "accept_by": "+2h"}
EOF
O3=$(tr_ 1 --json transfer create < "$T/order3.json" 2>/dev/null | json "d['hash']" || true)
check "a second order from member 1 to member 2" test -n "$O3"
check "member 2 holds it" wait_order 20 2 "$O3" created
check "member 3 holds it" wait_order 20 3 "$O3" created
check "members 1 and 3 stop" eval 'stop 1 && stop 3'
out=$(tr_ 2 --json transfer accept "$O3" --wait local 2>&1) || true
ACC=$(json "d['hash']" <<<"$out" 2>/dev/null || true)
check "member 2, alone, accepts (--wait local)" test -n "$ACC"
[ -n "$ACC" ] || echo "     rcctl said: $out"
check "member 2 stops" stop 2
check "members 1 and 3 start (member 2 down)" eval 'start 1 && start 3'
check "member 1 still shows the order created (it never saw the accept)" \
  test "$(order_field 1 "$O3" "d['state']")" = created
out=$(tr_ 1 --json transfer cancel "$O3" --note "vehicle broke down" 2>&1) || true
CAN=$(json "d['hash']" <<<"$out" 2>/dev/null || true)
check "member 1 cancels" test -n "$CAN"
[ -n "$CAN" ] || echo "     rcctl said: $out"
check "member 2 starts" start 2
check "all three converge" converged -t 30
check "the accept and the cancel name the same parent: the order" \
  eval '[ "$(order_field 2 "$O3" "sorted(set(s[\"parent\"] for s in d[\"steps\"] if s[\"hash\"] in (\"$ACC\", \"$CAN\")))")" = "[\"$O3\"]" ]'
for i in 1 2 3; do
  check "member $i: cancelled, the accept superseded" \
    eval '[ "$(order_field $i "$O3" "[d[\"state\"], d[\"superseded\"], d[\"head\"]]")" = "[\"cancelled\", [\"$ACC\"], \"$CAN\"]" ]'
  tr_ "$i" --json transfer show "$O3" 2>/dev/null | json "{k: v for k, v in d.items() if k not in ('opened', 'sealed')}" > "$T/o3.$i" || true
done
check "transfer show --json (its clear part) is identical on all three" \
  eval 'cmp -s "$T/o3.1" "$T/o3.2" && cmp -s "$T/o3.1" "$T/o3.3" && [ -s "$T/o3.1" ]'
out=$(tr_ 2 transfer show "$O3" 2>&1) || true
check "member 2's table shows its accept superseded by the issuer's cancel" \
  eval 'grep "${ACC:0:16}" <<<"$out" | grep -q "superseded.*cancel"'
expect_fail 1 "cancelled" "member 2 cannot hand over a cancelled order" -- tr_ 2 transfer handover "$O3" --count 1

# --- nothing personal in any node log or in member 3's data file --------------------------------
check "all three stop cleanly" stop_all
check "no node log holds a name or an ID number" \
  eval '! grep -qF -e "$NAME1" -e "$NAME2" -e "$ID1" -e "$ID2" -e "$ID3" "$T"/m*.log'
check "member 3's data.mdb holds no name or ID number (it holds ciphertext only)" \
  eval '! grep -qF -e "$NAME1" -e "$NAME2" -e "$ID1" -e "$ID2" -e "$ID3" "$(D 3)/data/data.mdb"'
check "…while it holds the clear fields" grep -qF "G60 Fengjing toll gate" "$(D 3)/data/data.mdb"
check "every log verifies, offline and independently" verify_all 1 2 3
check "no sanitizer report or assertion in any node log" logs_clean
finish
