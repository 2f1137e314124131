#!/usr/bin/env bash
# privacy_audit — the local audit of openings of sealed details (DESIGN §7, issue #5), across a
# real 3-member alliance: member 1 (310000) notifies member 2 (320000), whose node receipts it
# by itself. On member 2, `case show` without --reason prints the clear part only, says why,
# and records nothing; with --reason it opens, recording node.conf's operator; with --operator
# it records that name. A non-addressee (member 3) that asks with a reason is refused and
# records nothing (only openings are recorded: a refusal discloses nothing). A reason that is
# not one line of text, or an operator missing everywhere, opens nothing. `rcctl audit --json`
# lists exactly the openings, with --since filtering, also with the node stopped; the audit
# file holds neither the planted name nor the ID number; verify-log checks it, and fails,
# naming the line, once one byte of it is changed.
B=${1:?build dir}
. "$(dirname "$0")/repl_lib.sh"

NAME=Planted-Ouyangxiu
ID=320583199101017770
OPERATOR=zhang-wei

AUDIT2="$T/m2/audit.log"
# audit_count I: the number of records `rcctl audit --json` lists on member i.
audit_count() { "$RCCTL" -d "$(D "$1")" --json audit | json "len(d['records'])"; }
no_audit() { [ ! -e "$(D "$1")/audit.log" ] || [ "$(audit_count "$1")" = 0 ]; }

# --- 3 members, member 2 with an operator in node.conf ------------------------------------------
N_MEMBERS=3
for i in 1 2 3; do member "$i"; done
sed -i "s/^# operator = .*/operator = $OPERATOR/" "$(D 2)/node.conf"
check "member 2's node.conf names its operator" grep -q "^operator = $OPERATOR\$" "$(D 2)/node.conf"
"$RCCTL" roster build "$(D 1).card" "$(D 2).card" "$(D 3).card" --rounds "" > "$T/roster.json"
for i in 1 2 3; do cp "$T/roster.json" "$(D "$i")/roster.json"; done
for i in 1 2 3; do check "member $i starts" start "$i"; done
check "3 members see each other up" wait_up 20 1 2 3
for i in 1 2 3; do
  check "member $i holds every member's sealing key" wait_for 20 "sealing keys on $i" keys_on "$i"
done

hash_in() { sed -n 's/.*: entry \([0-9a-f]\{64\}\) .*/\1/p'; }
out=$("$RCCTL" -d "$(D 1)" case notify --case-id SH-2026-A001 --classification close_contact \
  --to 320000 --residence 320583 --reported-at 2026-11-22T10:00:00+08:00 --name "$NAME" \
  --id-number "$ID" 2>&1) || true
H=$(hash_in <<<"$out")
check "member 1 notifies 320000" test -n "$H"
[ -n "$H" ] || echo "     rcctl said: $out"
check "member 2 receipts it by itself" wait_for 20 "the receipt" is_state 2 "$H" 320000 received

# --- no reason: the clear part, no record ------------------------------------------------------
out=$("$RCCTL" -d "$(D 2)" --json case show "$H" 2>&1) || true
check "without --reason: the clear part only" \
  eval 'json "d[\"case_id\"]" <<<"$out" | grep -q SH-2026-A001 && ! grep -q "$NAME" <<<"$out" && [ "$(json "\"opened\" in d" <<<"$out")" = false ]'
check "…saying that sealed details need --reason" eval 'json "d[\"sealed\"]" <<<"$out" | grep -q -- "--reason"'
out=$("$RCCTL" -d "$(D 2)" case show "$H" 2>&1) || true
check "…also in the table" eval 'grep -q -- "--reason" <<<"$out" && ! grep -q "$NAME" <<<"$out"'
check "…and nothing is recorded" no_audit 2
out=$("$RCCTL" -d "$(D 2)" --json case show "$H" --reason "$(printf 'line\nbreak')" 2>&1) || true
check "a reason with a control character opens nothing" \
  eval '! grep -q "$NAME" <<<"$out" && json "d[\"sealed\"]" <<<"$out" | grep -q "reason"'
out=$("$RCCTL" -d "$(D 2)" --json case show "$H" --reason "$(head -c 201 /dev/zero | tr '\0' x)" 2>&1) || true
check "a reason over 200 bytes opens nothing" eval '! grep -q "$NAME" <<<"$out"'
check "…and neither is recorded" no_audit 2
out=$("$RCCTL" -d "$(D 1)" --json case show "$H" --reason "origin check" 2>&1) || true
check "no operator anywhere (member 1: none in node.conf, no --operator): nothing opens" \
  eval '! grep -q "$NAME" <<<"$out" && json "d[\"sealed\"]" <<<"$out" | grep -q "operator"'
check "…and nothing is recorded" no_audit 1

# --- openings ------------------------------------------------------------------------------------
out=$("$RCCTL" -d "$(D 2)" --json case show "$H" --reason "follow-up call" 2>&1) || true
check "with --reason: member 2 opens the details" \
  eval '[ "$(json "d[\"opened\"][\"id_number\"]" <<<"$out")" = "$ID" ]'
check "…recording node.conf's operator" \
  eval '[ "$("$RCCTL" -d "$(D 2)" --json audit | json "[(r[\"operator\"], r[\"reason\"]) for r in d[\"records\"]]")" = "[[\"$OPERATOR\", \"follow-up call\"]]" ]'
sleep 0.05
T2=$(now_ms)
out=$("$RCCTL" -d "$(D 2)" case show "$H" --reason "hotel \"B\" check-in" --operator li-na 2>&1) || true
check "with --operator: opens (table)" eval 'grep -q "$NAME" <<<"$out"'
out=$("$RCCTL" -d "$(D 3)" --json case show "$H" --reason "curious" --operator zhao 2>&1) || true
check "member 3 (no addressee) is refused" \
  eval '! grep -q "$NAME" <<<"$out" && json "d[\"sealed\"]" <<<"$out" | grep -q "not addressed to 330000"'
check "…and records nothing" no_audit 3

out=$("$RCCTL" -d "$(D 2)" --json audit 2>&1) || true
check "rcctl audit --json lists exactly the two openings" eval '[ "$(json "
[(r[\"seq\"], r[\"operator\"], r[\"kind\"], r[\"entry\"], r[\"region\"], r[\"reason\"]) for r in d[\"records\"]]
== [(1, \"$OPERATOR\", \"case\", \"$H\", \"310000\", \"follow-up call\"),
    (2, \"li-na\", \"case\", \"$H\", \"310000\", \"hotel \\\"B\\\" check-in\")]
and d[\"verified\"] and d[\"count\"] == 2" <<<"$out")" = true ]'
[ "$(json "len(d['records'])" <<<"$out" 2>/dev/null)" = 2 ] || echo "     audit said: $out"
check "audit --since filters by time" \
  eval '[ "$("$RCCTL" -d "$(D 2)" --json audit --since "$T2" | json "[r[\"seq\"] for r in d[\"records\"]]")" = "[2]" ]'
check "audit (table) names the operators" \
  eval '"$RCCTL" -d "$(D 2)" audit | grep -q "li-na" && "$RCCTL" -d "$(D 2)" audit | grep -q "2 openings recorded, chain valid"'
check "the audit file is 0600" eval '[ "$(stat -c %a "$AUDIT2")" = 600 ]'
check "the audit file holds neither the name nor the ID number" \
  eval '! grep -aqF -e "$NAME" -e "$ID" "$AUDIT2" && grep -q "$H" "$AUDIT2"'
check "the node log names the entry and operator, not the details" \
  eval 'grep -q "for operator li-na" "$(D 2).log" && ! grep -aqF -e "$NAME" -e "$ID" "$(D 2).log"'

# --- stopped: listing and verify-log --------------------------------------------------------------
check "all three stop cleanly" stop_all
check "audit lists with the node stopped" eval '[ "$(audit_count 2)" = 2 ]'
out=$("$RCCTL" verify-log "$(D 2)" 2>&1) || true
check "verify-log passes and reports the audit count" \
  eval 'grep -q "audit: 2 openings recorded, chain valid" <<<"$out"'
[ -n "$(grep "audit: 2" <<<"$out")" ] || echo "     verify-log said: $out"
check "verify-log on a member with no audit says nothing of it and passes" \
  eval '"$RCCTL" verify-log "$(D 3)" && ! "$RCCTL" verify-log "$(D 3)" | grep -q audit'
# One byte of the second line's reason changed ("B" -> "C").
python3 - "$AUDIT2" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.index(b'hotel \\"B')
b[i + 8] = ord("C")
open(p, "wb").write(bytes(b))
PY
expect_fail 1 "audit.log:2:" "verify-log fails once a byte of the audit is changed, naming line 2" \
  -- "$RCCTL" verify-log "$(D 2)"
expect_fail 1 "audit.log:2:" "rcctl audit reports it too" -- "$RCCTL" -d "$(D 2)" audit
check "…still listing the sound first record" \
  eval '[ "$("$RCCTL" -d "$(D 2)" --json audit 2>/dev/null | json "[len(d[\"records\"]), d[\"verified\"]]")" = "[1, false]" ]'
check "a node started on a broken audit refuses to open (nothing unrecorded leaks)" \
  eval 'start 2 && out=$("$RCCTL" -d "$(D 2)" --json case show "$H" --reason again 2>&1); ! grep -q "$NAME" <<<"$out" && json "d[\"sealed\"]" <<<"$out" | grep -q "could not be recorded"'
check "member 2 stops cleanly" stop 2
check "no sanitizer report or assertion in any node log" logs_clean
finish
