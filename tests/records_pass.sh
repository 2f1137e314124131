#!/usr/bin/env bash
# records_pass — mutual-recognition passes across a real 3-member alliance (DESIGN §4): a pass
# issued at member 1 (310000) as JSON on stdin, its token and QR code; the QR code read back by
# a stock scanner (zbarimg); the token verified at a checkpoint of member 3 holding nothing but
# roster.json (no node dir, no node); the holder's ID number checked; a re-issue answered with
# the existing pass; a revoke refused from member 2 and made by member 1; member 3's own log
# then refusing the pass once the revoke has replicated; a drill pass shown as exercise and
# refused for real use. Neither the ID number nor the name reaches any node's log.
B=${1:?build dir}
. "$(dirname "$0")/repl_lib.sh"

ID=11010519491231002X
OTHER_ID=310101199001011234
NAME=张三丰
# rcctl at a checkpoint: no node dir, whatever the environment says.
checkpoint() { env -u RCN_DIR "$RCCTL" "$@"; }

# wait_pass SECS I HASH [STATE]: until member i's pass list holds HASH (in STATE).
wait_pass() {
  local deadline=$(( $(now_ms) + $1 * 1000 )) got=
  while [ "$(now_ms)" -lt "$deadline" ]; do
    got=$("$RCCTL" -d "$(D "$2")" --json pass list 2>/dev/null |
          json "([p['state'] for p in d if p['hash']=='$3'] or [''])[0]" 2>/dev/null || true)
    [ -n "$got" ] && { [ -z "${4:-}" ] || [ "$got" = "$4" ]; } && return 0
    sleep 0.2
  done
  echo "wait_pass: member $2 shows pass ${3:0:16}… as \"$got\", not \"${4:-any}\", after $1 s" >&2
  return 1
}

check "3 members come up and see each other up" alliance 3

# Absolute times, so that the same request sent again is the same pass (a duration would be
# counted from each request's own now).
FROM=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
UNTIL=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
cat > "$T/pass.json" <<EOF
{"pass_id": "SH-2026-000123", "kind": "commuter",
 "holder": {"name": "$NAME", "id_number": "$ID"},
 "valid_from": "$FROM", "valid_until": "$UNTIL", "regions": ["310000", "330000"]}
EOF
issue() { "$RCCTL" -d "$(D 1)" --json pass issue --qr "$T/issued.png" < "$T/pass.json"; }
out=$(issue 2>&1) || true
HASH=$(json "d['hash']" <<<"$out" 2>/dev/null || true)
check "pass issue (JSON on stdin) at member 1 answers with the entry's hash" test -n "$HASH"
[ -n "$HASH" ] || echo "     rcctl said: $out"
TOKEN=$(json "d.get('token') or ''" <<<"$out" 2>/dev/null || true)
if [ -z "$TOKEN" ]; then
  note "rcctl's issue answer carries no token yet; taking it from pass show"
  TOKEN=$("$RCCTL" -d "$(D 1)" --json pass show "$HASH" | json "d['token']" || true)
else
  check "…and the token (the QR code written beside it)" test -s "$T/issued.png"
fi
is_token() { [[ "$1" == RCN1:?* ]] && [ -z "$(tr -d '0-9A-Z $%*+./:-' <<<"${1#RCN1:}")" ]; }
check "the token is RCN1: + Base45" is_token "$TOKEN"
check "pass show at member 1 gives the same token" \
  eval '[ "$("$RCCTL" -d "$(D 1)" --json pass show "$HASH" | json "d[\"token\"]")" = "$TOKEN" ]'

# --- the QR code, read by a stock scanner -------------------------------------------------------
check "pass show --qr writes a PNG" "$RCCTL" -d "$(D 1)" pass show "$HASH" --qr "$T/pass.png"
if command -v zbarimg >/dev/null; then
  SCANNED=$(zbarimg --raw -q "$T/pass.png" 2>/dev/null | tr -d '\r\n')
  check "zbarimg reads the token back from the QR code" test "$SCANNED" = "$TOKEN"
  check "…and what it read verifies at a checkpoint, piped in (-)" \
    eval 'zbarimg --raw -q "$T/pass.png" 2>/dev/null | checkpoint pass verify - --roster "$T/roster.json"'
else
  bad "zbarimg is missing: tests/deps installs zbar-tools"
fi

# --- idempotent re-issue ------------------------------------------------------------------------
head1=$(own_head 1)
out=$(issue 2>&1) || true
check "the same pass again names the existing entry, signs nothing new" \
  eval 'grep -q "$HASH" <<<"$out" && ! grep -q different <<<"$out" && [ "$(own_head 1)" = "$head1" ]'
sed "s/$ID/$OTHER_ID/" "$T/pass.json" > "$T/pass2.json"
expect_fail 1 "different holder.id_number" "the same pass id for another ID number is refused" -- \
  eval '"$RCCTL" -d "$(D 1)" --json pass issue < "$T/pass2.json"'

# --- offline at a checkpoint of member 3: roster.json only --------------------------------------
check "member 3 holds the pass" wait_pass 20 3 "$HASH" valid
cp "$T/roster.json" "$T/checkpoint-roster.json"
rc=0; out=$(checkpoint pass verify "$TOKEN" --roster "$T/checkpoint-roster.json" 2>&1) || rc=$?
check "verified offline with only the roster: exit 0, VALID" eval '[ $rc = 0 ] && grep -q "^VALID" <<<"$out"'
check "…showing kind, masked name, validity, issuer and regions, never the name" \
  eval 'grep -q commuter <<<"$out" && grep -q "张\*\*" <<<"$out" && grep -q "310000 Shanghai" <<<"$out" &&
        grep -q "310000, 330000" <<<"$out" && ! grep -q "$NAME" <<<"$out"'
check "--id-number of the holder matches (exit 0)" \
  checkpoint pass verify "$TOKEN" --roster "$T/checkpoint-roster.json" --id-number "$ID"
expect_fail 1 "not the holder's" "another ID number is refused (exit 1)" -- \
  checkpoint pass verify "$TOKEN" --roster "$T/checkpoint-roster.json" --id-number "$OTHER_ID"
expect_fail 1 "not recognised in 320000" "a checkpoint in 320000 does not recognise it" -- \
  checkpoint pass verify "$TOKEN" --roster "$T/checkpoint-roster.json" --here 320000
expect_fail 1 "expired" "31 days on, it has expired" -- \
  checkpoint pass verify "$TOKEN" --roster "$T/checkpoint-roster.json" --at +31d
out=$(checkpoint --json pass verify "$TOKEN" --roster "$T/checkpoint-roster.json" || true)
check "--json: valid, with the issuer's region" \
  eval '[ "$(json "d[\"valid\"] and d[\"issuer_region\"]" <<<"$out")" = 310000 ]'
BAD="${TOKEN:0:40}$( [ "${TOKEN:40:1}" = A ] && echo B || echo A )${TOKEN:41}"
expect_fail 1 "INVALID" "a token changed in one character is refused" -- \
  checkpoint pass verify "$BAD" --roster "$T/checkpoint-roster.json"
expect_fail 2 "--roster" "without a roster or a node dir: usage (exit 2)" -- \
  checkpoint pass verify "$TOKEN"
expect_fail 2 "token" "without a token: usage (exit 2)" -- \
  checkpoint pass verify --roster "$T/checkpoint-roster.json"
check "with member 3's dir: valid (not revoked as far as its log shows)" \
  eval '"$RCCTL" -d "$(D 3)" pass verify "$TOKEN" | grep -q "not revoked"'
check "…and recognised here, in 330000" \
  eval '"$RCCTL" -d "$(D 3)" pass verify "$TOKEN" | grep -q "330000: recognised here"'
expect_fail 1 "not recognised in 320000" "member 2's checkpoint (320000, its dir) does not recognise it" -- \
  "$RCCTL" -d "$(D 2)" pass verify "$TOKEN"

# --- revoke: the issuer only --------------------------------------------------------------------
check "member 2 holds the pass" wait_pass 20 2 "$HASH" valid
expect_fail 1 "only the region that issued" "member 2 may not revoke member 1's pass" -- \
  "$RCCTL" -d "$(D 2)" pass revoke "$HASH" --reason "not ours"
check "member 1 revokes it (its fields as JSON on stdin)" \
  eval 'printf "{\"hash\": \"%s\", \"reason\": \"holder tested positive\"}" "$HASH" | "$RCCTL" -d "$(D 1)" --json pass revoke'
check "the revoke reaches member 3" wait_pass 20 3 "$HASH" revoked
expect_fail 1 "revoked by 310000 at" "member 3's checkpoint, with its log, refuses the revoked pass" -- \
  "$RCCTL" -d "$(D 3)" pass verify "$TOKEN"
out=$("$RCCTL" -d "$(D 3)" --json pass verify "$TOKEN" 2>&1 || true)
check "…saying why" eval 'grep -q "holder tested positive" <<<"$out"'
check "offline (no log) it cannot know: still valid there" \
  checkpoint pass verify "$TOKEN" --roster "$T/checkpoint-roster.json"
check "pass list on member 2 shows it revoked" \
  eval '[ "$("$RCCTL" -d "$(D 2)" --json pass list | json "[p[\"state\"] for p in d if p[\"hash\"]==\"$HASH\"][0]")" = revoked ]'
expect_fail 1 "already revoked" "a second revoke is refused" -- \
  "$RCCTL" -d "$(D 1)" pass revoke "$HASH" --reason again

# --- a drill pass, by flags ---------------------------------------------------------------------
out=$("$RCCTL" -d "$(D 2)" pass issue --pass-id JS-DRILL-1 --kind freight --name "Li Wei" \
        --id-number "$OTHER_ID" --plate "苏A12345" --valid-until +2d --status exercise 2>&1) || true
DRILL=$(sed -n 's/.*entry \([0-9a-f]\{64\}\).*/\1/p' <<<"$out")
check "a drill freight pass issued at member 2 (flags)" test -n "$DRILL"
[ -n "$DRILL" ] || echo "     rcctl said: $out"
check "member 1 holds it" wait_pass 20 1 "$DRILL"
check "pass list on member 1 shows it as exercise" \
  eval '"$RCCTL" -d "$(D 1)" pass list | grep "$DRILL" | grep -q EXERCISE'
DTOKEN=$("$RCCTL" -d "$(D 2)" --json pass show "$DRILL" | json "d['token']" || true)
expect_fail 1 "drill pass" "a checkpoint refuses a drill pass for real use" -- \
  checkpoint pass verify "$DTOKEN" --roster "$T/checkpoint-roster.json"
check "…and accepts it with --exercise" \
  checkpoint pass verify "$DTOKEN" --roster "$T/checkpoint-roster.json" --exercise

# --- the same view everywhere; nothing personal in any log --------------------------------------
check "all three converge" converged -t 20
lists_equal() {
  local i
  for i in 1 2 3; do "$RCCTL" -d "$(D "$i")" --json pass list > "$T/list.$i" || return 1; done
  cmp -s "$T/list.1" "$T/list.2" && cmp -s "$T/list.1" "$T/list.3"
}
check "pass list --json is the same on every member" lists_equal
check "no node log holds the ID numbers or the name" \
  eval '! grep -qE "$ID|$OTHER_ID|$NAME|Li Wei" "$T"/m*.log'
check "all 3 stop cleanly" stop_all
check "verify-log and verify_export.py accept every member's log" verify_all 1 2 3
check "no node log holds a sanitizer report or a failed assertion" logs_clean
finish
