#!/usr/bin/env bash
# cli_node — rcctl and rcnode as an operator meets them: init and its refusals, the roster,
# one node per dir, the private control socket, timeouts, clean stop, group commit of
# concurrent writes, and the high-water mark blocking a node restored from an old backup.
B=${1:?build dir}
. "$(dirname "$0")/lib.sh"

# --- init ---------------------------------------------------------------------------------
expect_fail 2 "--region is required" "init names a missing flag" -- \
  "$RCCTL" init --dir "$T/x" --name X --pub tcp://127.0.0.1:1 --sync tcp://127.0.0.1:2
expect_fail 2 "99 is not a GB/T 2260 province prefix" "init refuses a region code" -- \
  "$RCCTL" init --dir "$T/x" --region 990000 --name X --pub tcp://127.0.0.1:1 --sync tcp://127.0.0.1:2
expect_fail 2 "pub" "init refuses a bad endpoint and names it" -- \
  "$RCCTL" init --dir "$T/x" --region 310000 --name X --pub http://nowhere --sync tcp://127.0.0.1:2
check "refused inits leave nothing behind" test -z "$(ls "$T")"
mkdir "$T/full"; touch "$T/full/something"
expect_fail 1 "not an empty directory" "init refuses a non-empty dir" -- \
  "$RCCTL" init --dir "$T/full" --region 310000 --name X --pub tcp://127.0.0.1:1 --sync tcp://127.0.0.1:2
check "and leaves it as it was" test "$(ls "$T/full")" = something

new_member "$T/sh" 310000 Shanghai "$(free_port)"
new_member "$T/js" 320000 Jiangsu "$(free_port)"
check "init made a 0700 node dir" test "$(stat -c %a "$T/sh")" = 700
check "key dir 0700, key files 0600" test "$(stat -c %a "$T/sh/keys") $(stat -c %a "$T/sh/keys/sign.key") $(stat -c %a "$T/sh/keys/curve.key")" = "700 600 600"
check "card is JSON naming the region" grep -q '"region": "310000"' "$T/sh.card"
check "card does not contain the secret key" test "$(grep -c "$(od -An -tx1 -N32 "$T/sh/keys/sign.key" | tr -d ' \n')" "$T/sh.card")" = 0
check "rcctl card prints the same card" diff <("$RCCTL" -d "$T/sh" card) "$T/sh.card"

# --- roster -------------------------------------------------------------------------------
"$RCCTL" roster build "$T/sh.card" "$T/js.card" --rounds 10:00,15:00 --grace 300 > "$T/roster.json"
check "roster lists both members" test "$(grep -c '"region"' "$T/roster.json")" = 2
check "roster carries the rounds" grep -q '"15:00"' "$T/roster.json"
expect_fail 1 "310000" "roster build refuses a duplicate region" -- \
  "$RCCTL" roster build "$T/sh.card" "$T/sh.card"
sed 's/"310000"/"3100"/' "$T/sh.card" > "$T/bad.card"
expect_fail 1 "region" "roster build names the bad field of a card" -- \
  "$RCCTL" roster build "$T/bad.card" "$T/js.card"
expect_fail 2 "--rounds" "roster build refuses bad rounds" -- \
  "$RCCTL" roster build "$T/sh.card" --rounds 25:00
h1=$("$RCCTL" roster hash "$T/roster.json")
check "roster hash is BLAKE2b-256 of the file bytes" test "$h1" = "$(python3 -c 'import hashlib,sys;print(hashlib.blake2b(open(sys.argv[1],"rb").read(),digest_size=32).hexdigest())' "$T/roster.json")"
# The node below runs without scheduled rounds (it would report at their slots by itself).
"$RCCTL" roster build "$T/sh.card" "$T/js.card" --rounds "" > "$T/run-roster.json"
check "--rounds \"\" builds a roster without rounds" grep -q '"rounds": \[\]' "$T/run-roster.json"
h1=$("$RCCTL" roster hash "$T/run-roster.json")

# --- rcnode start-up refusals -------------------------------------------------------------
expect_fail 1 "roster.json" "rcnode without a roster says where it looked" -- "$RCNODE" "$T/sh"
"$RCCTL" roster build "$T/js.card" --rounds "" > "$T/sh/roster.json"
expect_fail 1 "not in the roster" "rcnode refuses a roster without this member" -- "$RCNODE" "$T/sh"
cp "$T/run-roster.json" "$T/sh/roster.json"; cp "$T/run-roster.json" "$T/js/roster.json"
chmod 644 "$T/sh/keys/sign.key"
expect_fail 1 "sign.key" "rcnode refuses a key file others can read" -- "$RCNODE" "$T/sh"
chmod 600 "$T/sh/keys/sign.key"
expect_fail 2 "usage" "rcnode without a dir prints usage" -- "$RCNODE"

# --- running ------------------------------------------------------------------------------
start_node "$T/sh"
expect_fail 3 "another rcnode" "a second rcnode on the same dir is refused" -- "$RCNODE" "$T/sh"
check "control socket is private (0600)" test "$(stat -c %a "$T/sh/control.sock")" = 600
check "status answers" "$RCCTL" -d "$T/sh" status
check "status --json has the roster hash" bash -c "'$RCCTL' -d '$T/sh' status --json | grep -q '\"roster_hash\": \"$h1\"'"
# Jiangsu (320000) is in the roster but never runs: a write waits for a peer until its
# timeout, then says no peer has it yet; --wait local does not wait.
# (A node listens to its peers for up to 3 s after its start before it signs: --timeout 4000.)
out=$("$RCCTL" -d "$T/sh" --timeout 4000 alert send --severity severe --text "first" --regions 320000)
check "alert send reports the entry and where it is durable" grep -q "seq 1, actual), durable on this member" <<<"$out"
check "…and that no peer has confirmed it" grep -q "no peer has confirmed it yet" <<<"$out"
out=$("$RCCTL" -d "$T/sh" alert send --severity minor --text "local" --wait local)
check "--wait local answers after the local sync" bash -c "grep -q 'durable on this member\$' <<<'$out'"
expect_fail 1 "severity" "a refused alert names the field" -- "$RCCTL" -d "$T/sh" alert send --severity loud --text x
expect_fail 2 "--status" "a bad --status is refused before the node is asked" -- \
  "$RCCTL" -d "$T/sh" alert send --severity minor --text x --status drill
expect_fail 2 "unknown command" "an unknown command is refused" -- "$RCCTL" -d "$T/sh" frobnicate

# Concurrent writers: every one answered, every entry in the log once, chain intact.
burst=()
for i in $(seq 40); do
  "$RCCTL" -d "$T/sh" --timeout 20000 alert send --severity minor --text "burst $i" --status test --wait local > "$T/burst.$i" 2>&1 &
  burst+=($!)
done
wait_ok=1
for j in "${burst[@]}"; do wait "$j" || wait_ok=0; done
check "40 concurrent alert sends all succeeded" test "$wait_ok" = 1
check "the log holds 44 own entries: its two SealKeys (this period's and the next's) and the 42 alerts" bash -c "'$RCCTL' -d '$T/sh' heads | grep -q '\"seq\": 44'"
check "all 42 were authored" test "$(grep -c "authored alert" "$T/sh.log")" = 42
# Entries of one group share one timestamp: how many synced commits the 40 took.
groups=$("$RCCTL" -d "$T/sh" export --from 3 | sed -n 's/.*"time_ms":\([0-9]*\).*/\1/p' | sort -u | wc -l)
echo "     (40 concurrent writes were committed in $groups synced groups)"

# Requests that read what an earlier request of the same group changes are checked after it
# commits. Sent while the node is paused, so that they arrive together: two cancels of one
# alert give one cancel and one refusal (never a stored entry that views would ignore); two
# updates of one alert both land, the second on top of the first (no lost update).
alert_hash() { sed -n 's/.*"hash": "\([0-9a-f]*\)".*/\1/p'; }
target=$("$RCCTL" -d "$T/sh" --json alert send --severity minor --text "to cancel" --wait local | alert_hash)
upd=$("$RCCTL" -d "$T/sh" --json alert send --severity minor --text "v1" --wait local | alert_hash)
kill -STOP "$PID_sh"
"$RCCTL" -d "$T/sh" --timeout 20000 alert cancel "$target" --wait local > "$T/c1" 2>&1 & c1=$!
"$RCCTL" -d "$T/sh" --timeout 20000 alert cancel "$target" --wait local > "$T/c2" 2>&1 & c2=$!
"$RCCTL" -d "$T/sh" --timeout 20000 alert update "$upd" --text "v2" --wait local > "$T/u1" 2>&1 & u1=$!
"$RCCTL" -d "$T/sh" --timeout 20000 alert update "$upd" --severity extreme --wait local > "$T/u2" 2>&1 & u2=$!
sleep 1
kill -CONT "$PID_sh"
r1=0; r2=0; q1=0; q2=0
wait $c1 || r1=$?; wait $c2 || r2=$?; wait $u1 || q1=$?; wait $u2 || q2=$?
check "of two cancels sent together, exactly one succeeds" test "$(( (r1 == 0) + (r2 == 0) ))" = 1
check "…the other is refused as already cancelled" test "$(cat "$T/c1" "$T/c2" | grep -c 'already cancelled')" = 1
check "two updates sent together both succeed" test "$q1$q2" = 00
check "…and the alert shows both (no lost update)" bash -c "'$RCCTL' -d '$T/sh' alert list | grep '^$upd' | grep extreme | grep -q v2"
check "…and no invalid entry was signed" bash -c "! '$RCCTL' -d '$T/sh' export | grep -q '\"invalid\"'"
expect_fail 2 "must be peer" "a bad --wait is refused" -- \
  "$RCCTL" -d "$T/sh" alert send --severity minor --text x --wait forever
expect_fail 2 "not in the future" "--expires in the past is refused" -- \
  "$RCCTL" -d "$T/sh" alert send --severity minor --text x --expires -1h
expect_fail 2 "only --text" "a cancel refuses flags it would drop" -- \
  "$RCCTL" -d "$T/sh" alert cancel "$target" --severity severe
expect_fail 2 "UTF-8" "text that is not UTF-8 (GBK) is refused, not dropped" -- \
  "$RCCTL" -d "$T/sh" alert send --severity minor --text "$(printf '\xc9\xcf\xba\xa3')"

# A hung node: rcctl gives up within its timeout.
kill -STOP "$PID_sh"
start=$(date +%s%N)
expect_fail 3 "did not" "rcctl times out on a hung node" -- "$RCCTL" -d "$T/sh" --timeout 500 status
took=$(( ($(date +%s%N) - start) / 1000000 ))
check "…within a bound (${took} ms)" test "$took" -lt 5000
kill -CONT "$PID_sh"

"$RCCTL" -d "$T/sh" backup "$T/bk-old" >/dev/null
expect_fail 1 "cannot create" "backup refuses an existing destination" -- "$RCCTL" -d "$T/sh" backup "$T/bk-old"
check "backup has no keys" test ! -e "$T/bk-old/keys"
"$RCCTL" -d "$T/sh" alert send --severity minor --text "after the backup" --wait local >/dev/null

# log tail: the newest entries, one line each; --follow prints what is stored afterwards.
check "log tail --lines 3 prints three entries, the newest last" \
  bash -c "out=\$('$RCCTL' -d '$T/sh' log tail --lines 3) && [ \$(wc -l <<<\"\$out\") = 3 ] && tail -1 <<<\"\$out\" | grep -q 'after the backup'"
check "log tail --json gives one object per entry, with kind and summary" \
  bash -c "'$RCCTL' -d '$T/sh' log tail --lines 2 --json | python3 -c 'import json,sys; l=[json.loads(x) for x in sys.stdin]; assert len(l)==2 and l[-1][\"kind\"]==\"alert\" and \"summary\" in l[-1]'"
"$RCCTL" -d "$T/sh" log tail --follow --lines 1 > "$T/follow.out" 2>&1 & tailer=$!
sleep 0.7
"$RCCTL" -d "$T/sh" alert send --severity minor --text "seen by the follower" --wait local >/dev/null
for _ in $(seq 50); do grep -q "seen by the follower" "$T/follow.out" && break; sleep 0.1; done
kill -TERM "$tailer" 2>/dev/null || true; wait "$tailer" 2>/dev/null || true
check "log tail --follow prints an entry stored after it started" grep -q "seen by the follower" "$T/follow.out"
expect_fail 2 "1..100000" "log tail refuses --lines 0" -- "$RCCTL" -d "$T/sh" log tail --lines 0

# --- status: the node and the alliance at a glance ------------------------------------------
# One member runs (Jiangsu never does): the heads of both, the peer never heard, nothing owed
# either way (a notice needs its addressee's sealing key, which Jiangsu never published:
# records_case checks owed answers), and the alerts in force, the most severe first.
"$RCCTL" -d "$T/sh" alert send --severity extreme --text "Status check: G60 closed" --expires +2h \
  --wait local >/dev/null
"$RCCTL" -d "$T/sh" status --json > "$T/status.json"
"$RCCTL" -d "$T/sh" status > "$T/status.txt"
"$RCCTL" -d "$T/sh" heads > "$T/heads.json"
"$RCCTL" -d "$T/sh" --json alert list > "$T/alerts.json"
# st EXPR: a Python expression over status (s), heads (heads) and alert list (alerts).
st() {
  python3 - "$T/status.json" "$T/heads.json" "$T/alerts.json" "$1" <<'PY'
import json, sys
s, heads, alerts = (json.load(open(f)) for f in sys.argv[1:4])
own = next(h for h in heads if h["region"] == "310000")
sys.exit(0 if eval(sys.argv[4]) else 1)
PY
}
check "status --json: heads of both members by region, the own one as rcctl heads has it" \
  st "[h['region'] for h in s['heads']] == ['310000', '320000'] and s['heads'][0]['seq'] == s['own_seq'] == own['seq'] and s['heads'][0]['hash'] == own['hash']"
check "…and Jiangsu's with nothing held (seq 0, no hash)" \
  st "s['heads'][1] == {'region': '320000', 'name': 'Jiangsu', 'seq': 0, 'hash': None}"
check "status --json: the peer never heard, nothing known of its lag" \
  st "s['peers'] == 1 and s['peers_up'] == 0 and s['peer_list'] == [{'region': '320000', 'name': 'Jiangsu', 'state': 'never_heard', 'last_heard_ms': None, 'lag': None, 'behind': None}]"
check "status --json: nothing owed either way, no transfer overdue, the roster's 1 h SLA" \
  st "s['owed']['response_sla_s'] == 3600 and all(s['owed'][k]['owed'] == s['owed'][k]['undelivered'] == s['owed'][k]['overdue'] == 0 and s['owed'][k]['oldest'] is None for k in ('to_me', 'by_me')) and s['owed']['transfers_overdue'] == []"
check "status --json: the alerts in force are alert list's, the extreme ones first, newest first" \
  st "s['alerts']['in_force'] == len(alerts) == len(s['alerts']['list']) > 5 and [a['text'] for a in s['alerts']['list'][:2]] == ['Status check: G60 closed', 'v2'] and {a['severity'] for a in s['alerts']['list'][:2]} == {'extreme'}"
check "…with the expiry, the region and the status of each" \
  st "s['alerts']['list'][0]['region'] == '310000' and s['alerts']['list'][0]['status'] == 'actual' and 7000000 < s['alerts']['list'][0]['expires_ms'] - s['now_ms'] <= 7200000 and 'expires_ms' not in s['alerts']['list'][1]"
check "…real alerts before the test burst, and not the cancelled one" \
  st "[a['status'] for a in s['alerts']['list'][:6]] == ['actual'] * 6 and '$target' not in [a['hash'] for a in s['alerts']['list']]"
own=$(python3 -c 'import json,sys; h=next(h for h in json.load(open(sys.argv[1])) if h["region"] == "310000"); print(h["seq"], h["hash"][:16])' "$T/heads.json")
check "status table: the header" grep -qE '^rcnode      pid [0-9]+, up [0-9]+(s|m)' "$T/status.txt"
check "status table: heads, the own seq and hash as rcctl heads has them" \
  grep -qE "^ {12}310000  Shanghai +${own% *}  ${own#* }\$" "$T/status.txt"
check "…and Jiangsu with nothing held" grep -qE '^ {12}320000  Jiangsu +0  -$' "$T/status.txt"
check "status table: the peer, never heard" grep -qE '^ {12}320000  Jiangsu +never_heard +never +- +-$' "$T/status.txt"
check "status table: nothing owed either way, no transfer overdue" \
  bash -c "grep -qx 'we owe      nothing' '$T/status.txt' && grep -qx 'owed to us  nothing' '$T/status.txt' && grep -qx 'transfers   none overdue' '$T/status.txt'"
check "status table: the alerts in force, the five most severe, the extreme one first" \
  bash -c "grep -A1 -E '^alerts      [0-9]+ in force \\(the 5 most severe' '$T/status.txt' | grep -qE '^ {12}extreme   310000  (1h59m|2h) left +Status check: G60 closed\$'"
check "…and no drill among those five" \
  bash -c "! grep -A5 '^alerts ' '$T/status.txt' | grep -q '\\[drill\\]'"
check "status table: the sealing line stays" grep -q '^sealing     key from .*, next from ' "$T/status.txt"
check "status table: no line wider than 100 columns" python3 -c '
import sys, unicodedata
w = lambda l: sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in l)
sys.exit(0 if max(w(l.rstrip("\n")) for l in open(sys.argv[1], encoding="utf-8")) <= 100 else 1)' "$T/status.txt"

check "SIGTERM stops rcnode cleanly (exit 0)" stop_node "$T/sh"
check "…and removes its control socket" test ! -e "$T/sh/control.sock"
check "…after logging it" grep -q "stopped" "$T/sh.log"
expect_fail 3 "no rcnode is running" "status of a stopped node says so" -- "$RCCTL" -d "$T/sh" status
check "alert list works on a stopped node" bash -c "'$RCCTL' -d '$T/sh' alert list | grep -q first"
check "log lines are one event each, with level" bash -c "grep -vcE '^[0-9T:.-]+Z (DEBUG|INFO|WARN|ERROR) ' '$T/sh.log' | grep -qx 0"

# --- restored from an old backup: behind the high-water mark, the node must not sign -------
rm -rf "$T/sh/data"; cp -a "$T/bk-old/data" "$T/sh/data"
start_node "$T/sh"
check "status shows the node blocked" bash -c "'$RCCTL' -d '$T/sh' status --json | grep -q '\"blocked\": true'"
check "…and its table says so, above the heads" \
  bash -c "'$RCCTL' -d '$T/sh' status | grep -B20 '^heads ' | grep -qx 'BLOCKED     own entries missing, authoring nothing'"
expect_fail 1 "EBLOCKED" "a blocked node refuses to author" -- \
  "$RCCTL" -d "$T/sh" alert send --severity minor --text "would reuse a seq" --wait local
check "blocked node still answers reads" "$RCCTL" -d "$T/sh" heads
check "the blocked start is in the log" grep -q "authoring is blocked" "$T/sh.log"
expect_fail 2 "too deep" "init refuses a dir too deep for the control socket" -- \
  "$RCCTL" init --dir "$T/$(printf 'd%.0s' $(seq 120))" --region 310000 --name X --pub tcp://127.0.0.1:1 --sync tcp://127.0.0.1:2
check "init takes a dir with a trailing slash" "$RCCTL" init --dir "$T/slash/" --region 330000 --name Zhejiang --pub tcp://127.0.0.1:1 --sync tcp://127.0.0.1:2
stop_node "$T/sh" || true
finish
