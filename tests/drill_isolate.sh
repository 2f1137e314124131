#!/usr/bin/env bash
# drill_isolate — a member acts out its own outage without being stopped (issue #7):
# `rcctl drill isolate [--for T]` / `rcctl drill rejoin`. While member 2 is isolated its peers
# see it down and it sees them down; both sides write; its writes stay local (a --wait peer
# write says so at once) and it takes nothing of theirs; after `drill rejoin` all three converge.
# `--for 3s` ends by itself; a restart ends it too (not persisted); usage errors exit 2. Then
# node.conf's source_address: three members on 127.0.0.2/.3/.4, each dialling from its own
# address (ZeroMQ's tcp://SRC:0;HOST:PORT), come up, converge and survive a drill; the peers'
# ZAP handlers log the source address they saw.
B=${1:?build dir}
. "$(dirname "$0")/repl_lib.sh"

# isolated I: member i's status --json "isolated" (null, or {"since_ms", "until_ms"}).
isolated() { status_of "$1" isolated; }
# t_mark / t_since: ms since the mark.
t_mark() { T_MARK=$(now_ms); }
t_since() { echo $(( $(now_ms) - T_MARK )); }

# --- usage errors: no node needed --------------------------------------------------------------
mkdir -p "$T/nodir"
expect_fail 2 'a verb is needed' "drill without a verb is a usage error" -- "$RCCTL" -d "$T/nodir" drill
expect_fail 2 'unknown verb "sever"' "drill with an unknown verb is a usage error" -- \
  "$RCCTL" -d "$T/nodir" drill sever
expect_fail 2 '--for "soon": a duration like 90s' "drill isolate --for soon is a usage error" -- \
  "$RCCTL" -d "$T/nodir" drill isolate --for soon
expect_fail 2 '--for "0s": from 1s to 7d' "drill isolate --for 0s is a usage error" -- \
  "$RCCTL" -d "$T/nodir" drill isolate --for 0s
expect_fail 2 '--for "-5s"' "drill isolate --for -5s is a usage error" -- \
  "$RCCTL" -d "$T/nodir" drill isolate --for -5s
expect_fail 2 '--for "8d": from 1s to 7d' "drill isolate --for 8d is a usage error" -- \
  "$RCCTL" -d "$T/nodir" drill isolate --for 8d
expect_fail 2 '--for "90"' "drill isolate --for 90 (no unit) is a usage error" -- \
  "$RCCTL" -d "$T/nodir" drill isolate --for 90
expect_fail 2 'incomplete argument "--for"' "drill isolate --for without a value is a usage error" -- \
  "$RCCTL" -d "$T/nodir" drill isolate --for
expect_fail 2 'unknown or incomplete argument "--for"' "drill rejoin --for is a usage error" -- \
  "$RCCTL" -d "$T/nodir" drill rejoin --for 3s

# --- three members; member 2 isolates ----------------------------------------------------------
check "3 members come up and see each other up" alliance 3
for i in 1 2 3; do write_load "$i" 3 1 before; done
check "warm-up writes, converged" eval 'wait_load && converged -t 20'
expect_fail 1 "not isolated" "drill rejoin on a member that is not isolated is refused" -- \
  "$RCCTL" -d "$(D 2)" drill rejoin
check "status --json: \"isolated\" is null" test "$(isolated 2)" = null
h1=$(head_of 2 310000); h3=$(head_of 2 330000); h2=$(own_head 2)

out=$("$RCCTL" -d "$(D 2)" drill isolate 2>&1) || bad "drill isolate failed: $out"
t_mark
check "drill isolate says what it does" grep -q "320000 is isolated until rcctl drill rejoin" <<<"$out"
check "…and that a restart ends it" grep -q "a restart of rcnode ends the drill" <<<"$out"
check "member 2 logs the start of the isolation" log_has 2 "WARN.*drill: isolated until rcctl drill rejoin"
check "status --json: isolated since now, until null" \
  test "$("$RCCTL" -d "$(D 2)" status --json | json "d['isolated']['until_ms'] is None and abs(d['isolated']['since_ms'] - d['now_ms']) < 10000")" = true
check "status shows ISOLATED near the top, for people" \
  eval '"$RCCTL" -d "$(D 2)" status | head -8 | grep -q "^ISOLATED    drill: not sending or receiving until rcctl drill rejoin ends it"'
check "member 2 still answers rcctl (peers)" "$RCCTL" -d "$(D 2)" peers
check "member 1 sees member 2 down" wait_state 12 1 2 down
note "member 1 saw member 2 down $(t_since) ms after the isolation began"
check "…within 10 s of it" test "$(t_since)" -le 10000
check "member 3 sees member 2 down" wait_state 12 3 2 down
check "member 2 sees member 1 down" wait_state 12 2 1 down
check "member 2 sees member 3 down" wait_state 12 2 3 down
check "members 1 and 3 still see each other up" eval 'wait_state 5 1 3 up && wait_state 5 3 1 up'

# --- both sides write --------------------------------------------------------------------------
t0=$(now_ms)
rc=0; out=$(SEND_TIMEOUT=6000 send 2 "while isolated, --wait peer" 2>&1) || rc=$?
echo "     rcctl said: $out"
check "member 2's --wait peer write succeeds locally (exit 0)" test "$rc" = 0
check "…says no peer has confirmed it" grep -q "no peer has confirmed it yet" <<<"$out"
check "…and says why: isolated (drill), held locally only" grep -q "^isolated (drill): held locally only" <<<"$out"
check "…at once, not after its timeout ($(( $(now_ms) - t0 )) ms)" test $(( $(now_ms) - t0 )) -lt 4000
check "…with seq $((h2 + 1))" test "$(seq_of <<<"$out")" = $((h2 + 1))
out=$(send 2 "while isolated, --wait local" --wait local 2>&1) || true
check "member 2's --wait local write works (seq $((h2 + 2)))" test "$(seq_of <<<"$out")" = $((h2 + 2))
out=$("$RCCTL" -d "$(D 2)" --json alert send --severity minor --status test --text "json" 2>&1) || true
check "--json: acknowledged local, isolated true" \
  test "$(json "d['acknowledged'] == 'local' and d['isolated'] is True" <<<"$out")" = true
out=$(send 1 "member 1 while 2 is isolated" 2>&1) || true
check "member 1 writes, held by member 3" grep -q "held by a peer (330000)" <<<"$out"
write_load 1 5 1 m1-iso; write_load 3 5 1 m3-iso
check "members 1 and 3 write 5 more each" wait_load
check "member 3 holds member 1's new entries" wait_head 15 3 310000 $((h1 + 6))
check "member 1 holds member 3's new entries" wait_head 15 1 330000 $((h3 + 5))
sleep 2
check "member 2 took none of member 1's new entries" test "$(head_of 2 310000)" = "$h1"
check "…nor of member 3's" test "$(head_of 2 330000)" = "$h3"
check "members 1 and 3 hold none of member 2's isolated writes" \
  eval '[ "$(head_of 1 320000)" = "$h2" ] && [ "$(head_of 3 320000)" = "$h2" ]'

# --- rejoin ------------------------------------------------------------------------------------
out=$("$RCCTL" -d "$(D 2)" drill rejoin 2>&1) || bad "drill rejoin failed: $out"
check "drill rejoin says so" grep -q "320000 rejoined after" <<<"$out"
check "member 2 logs the end of the isolation" log_has 2 "drill: isolation ended \(rcctl drill rejoin\)"
check "status --json: isolated is null again" test "$(isolated 2)" = null
check "status no longer shows ISOLATED" eval '! "$RCCTL" -d "$(D 2)" status | grep -q ISOLATED'
check "all three converge (anti-entropy, both ways)" converged -t 30
note "converged $LAST_CONVERGED_MS ms after the rejoin"
check "member 2 holds everything the others wrote" test "$(head_of 2 310000)" = $((h1 + 6))
check "members 1 and 3 hold member 2's isolated writes" test "$(head_of 1 320000)" = $((h2 + 3))
check "all three see each other up again" wait_up 20 1 2 3
out=$(send 2 "after the rejoin" 2>&1) || true
check "member 2's next write is held by a peer again" grep -q "held by a peer" <<<"$out"

# --- --for 3s ends by itself -------------------------------------------------------------------
out=$("$RCCTL" -d "$(D 2)" drill isolate --for 3s 2>&1) || bad "drill isolate --for 3s failed: $out"
t_mark
check "drill isolate --for 3s names its end" grep -q "is isolated until 20[0-9-]*T" <<<"$out"
check "status --json: until is since + 3 s" \
  test "$("$RCCTL" -d "$(D 2)" status --json | json "d['isolated']['until_ms'] - d['isolated']['since_ms']")" = 3000
check "status shows when it ends" \
  eval '"$RCCTL" -d "$(D 2)" status | grep -Eq "^ISOLATED    drill: not sending or receiving until [0-9]s from now \(rcctl drill rejoin ends it\)"'
send 1 "member 1 during the 3 s isolation" --wait local > /dev/null 2>&1 || true
check "the isolation ends by itself" wait_field 10 2 isolated null
note "it ended $(t_since) ms after it began"
check "…after 3 s, not before" test "$(t_since)" -ge 3000
check "member 2 logs why it ended" log_has 2 "drill: isolation ended \(its --for ran out\)"
check "all three converge after it" converged -t 30

# --- isolating again while isolated; a restart ends it ----------------------------------------
"$RCCTL" -d "$(D 3)" drill isolate --for 2m > /dev/null
out=$("$RCCTL" -d "$(D 3)" drill isolate 2>&1) || true
check "isolating an isolated member again sets its end anew" grep -q "is still isolated until rcctl drill rejoin" <<<"$out"
check "…until null" test "$("$RCCTL" -d "$(D 3)" status --json | json "d['isolated']['until_ms']")" = null
check "member 1 sees member 3 down" wait_state 12 1 3 down
check "member 3 stops while isolated" stop 3
check "…and starts again" start 3
check "after a restart it is not isolated (not persisted)" test "$(isolated 3)" = null
check "…and the three see each other up" wait_up 20 1 2 3
check "…and converge" converged -t 30
check "all stop cleanly" stop_all
expect_fail 3 "" "drill isolate on a stopped node: exit 3" -- "$RCCTL" -d "$(D 1)" --timeout 500 drill isolate
check "verify-log and verify_export.py accept every member's log" verify_all 1 2 3

# --- source_address: each member on its own 127.0.0.N ------------------------------------------
reset_alliance
ADDR=(- 127.0.0.2 127.0.0.3 127.0.0.4)
smember() {  # smember I: init member i bound on 127.0.0.(i+1), dialling from there
  local i=$1 p=$(( PORT_BASE + 10 * $1 ))
  "$RCCTL" init --dir "$(D "$i")" --region "${REGIONS[$i-1]}" --name "${NAMES[$i-1]}" \
    --pub "tcp://${ADDR[$i]}:$p" --sync "tcp://${ADDR[$i]}:$((p + 1))" > "$(D "$i").card" 2>/dev/null ||
    return 1
  sed -i 's/^log_level = .*/log_level = debug/' "$(D "$i")/node.conf"
}
N_MEMBERS=3
for i in 1 2 3; do smember "$i"; done
"$RCCTL" roster build "$(D 1).card" "$(D 2).card" "$(D 3).card" --rounds "" > "$T/roster.json"
for i in 1 2 3; do cp "$T/roster.json" "$(D "$i")/roster.json"; done
check "a fresh node.conf documents source_address, commented out" \
  grep -qx "# source_address = 127.0.0.3" "$(D 1)/node.conf"
echo "source_address = 127.0.0.300" >> "$(D 1)/node.conf"
expect_fail 1 "source_address: '127.0.0.300' is not an IPv4 address" \
  "rcnode refuses a malformed source_address, naming the key" -- "$RCNODE" "$(D 1)"
sed -i 's/^source_address = .*/source_address = 192.0.2.1/' "$(D 1)/node.conf"
expect_fail 1 "source_address: 192.0.2.1 is not an address of this machine" \
  "rcnode refuses a source_address this machine lacks" -- "$RCNODE" "$(D 1)"
for i in 1 2 3; do
  sed -i '/^source_address = /d' "$(D "$i")/node.conf"
  echo "source_address = ${ADDR[$i]}" >> "$(D "$i")/node.conf"
done
check "members on 127.0.0.2/.3/.4, each dialling from its own, start" eval 'start 1 && start 2 && start 3'
check "…log where they dial from" log_has 1 "dialled from 127\.0\.0\.2"
check "…and see each other up" wait_up 20 1 2 3
for i in 1 2 3; do write_load "$i" 4 1 src; done
check "each writes 4" wait_load
check "…and the three converge" converged -t 30
check "member 1's ZAP saw members 2 and 3 come from their own addresses" \
  eval 'log_has 1 "zap: admitted key .* from 127\.0\.0\.3" && log_has 1 "zap: admitted key .* from 127\.0\.0\.4"'
check "no ZAP admission from 127.0.0.1 (every connection has its source)" \
  eval '! grep -hE "zap: admitted key .* from 127\.0\.0\.1" "$(D 1).log" "$(D 2).log" "$(D 3).log"'
# sources_to PORT: the local addresses of the established connections to PORT, sorted, one line.
sources_to() {
  ss -Htn state established "( dport = :$1 )" | awk '{ sub(/:[0-9]+$/, "", $3); print $3 }' |
    sort -u | tr '\n' ' '
}
src=$(sources_to $(( PORT_BASE + 20 )))
note "connections to member 2's pub come from: $src"
check "the kernel agrees: connections to member 2's pub leave from 127.0.0.2 and 127.0.0.4" \
  test "$src" = "127.0.0.2 127.0.0.4 "
"$RCCTL" -d "$(D 3)" drill isolate --for 4s > /dev/null
check "member 3 isolated for 4 s is seen down" wait_state 12 1 3 down
send 1 "while 3 is isolated" --wait local > /dev/null 2>&1 || true
check "…and after it the three converge again, dialling from their addresses" \
  eval 'wait_field 12 3 isolated null && converged -t 30 && wait_up 20 1 2 3'
check "all stop cleanly" stop_all
check "no node log holds a sanitizer report or a failed assertion" logs_clean
finish
