#!/usr/bin/env bash
# test_node_powerloss.sh BUILD_DIR — power loss of the real rcnode, not of a test writer.
#
# Per trial: a one-member alliance (Shanghai, 310000) in a fresh dir; rcnode runs under the
# LD_PRELOAD power-loss shim (libpowerloss.so, tracking the whole node dir: data/ and keys/hwm),
# set to crash at call K; several concurrent rcctl clients send alerts and every answer that
# says it is durable (exit 0, with a hash and seq) is recorded. Once rcnode has crashed
# (exit 137) — or, when K lies past the calls this run made, once the clients are done and it
# was stopped — rcnode is started again WITHOUT the shim and must:
#   - start, and NOT blocked (a crash at any instant must not look like a lost log);
#   - hold every acknowledged entry at its seq with its hash (`rcctl export`), every
#     acknowledged seq at or below the mark's committed_seq (DESIGN §3 invariant 5);
#   - have a mark consistent with its log: committed_seq <= head <= signed_seq;
#   - author a new alert at seq head+1 (the chain goes on; never a seq twice: invariant 6);
#   - pass `rcctl verify-log` once stopped, and leave the mark at {head+1, head+1}.
# K: a full run under the shim first counts the calls (RCN_PL_COUNT) and must pass the same
# checks; the trials then cut that count into TRIALS slices and crash at a random call of
# each (stratified, so start-up — lock, store creation — is covered as well as the groups).
# Runs vary with thread timing, so the same K does not land on the same instant twice.
# Last, the case the mark exists for: a data dir replaced by an OLD backup (`rcctl backup`
# taken while it ran, more alerts acknowledged after it) must start BLOCKED and refuse to sign.
#
# RCN_NPL_SEED replays the choice of K; RCN_NPL_TRIALS sets the trial count (default 20).
# POSIX-strict names by default (RCN_PL_STRICT=1, see powerloss.c); RCN_PL_STRICT=0 turns it
# off. Every wait is bounded; a time budget stops the trials early on a very slow machine.
set -euo pipefail

build=${1:?usage: test_node_powerloss.sh BUILD_DIR}
RCCTL=$build/rcctl
RCNODE=$build/rcnode
shim=$build/tests/durability/libpowerloss.so
for f in "$RCCTL" "$RCNODE" "$shim"; do
  [ -e "$f" ] || { echo "test_node_powerloss: $f missing (build first)" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "test_node_powerloss: python3 missing" >&2; exit 2; }

trials=${RCN_NPL_TRIALS:-20}
clients=4        # concurrent rcctl loops, so that groups of several entries form
per_client=6     # alerts each
budget=70        # seconds for the whole series; later trials are skipped past it
min_trials=8     # fewer than this within the budget is a failure
seed=${RCN_NPL_SEED:-$(( ($(date +%s) * 7 + $$) % 1000000 ))}
RANDOM=$seed
export RCN_PL_STRICT=${RCN_PL_STRICT:-1}
# The shim goes ahead of ASan's runtime in the sanitizer build (see CMakeLists.txt).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
# The member's two ports, below the ephemeral range and reserved until this script exits.
ports="$(cd "$(dirname "$0")/../.." && pwd)/cluster/ports"
port=$("$ports" 2 --owner $$)
strict_note=
[ "$RCN_PL_STRICT" = 0 ] || strict_note=", POSIX-strict names"
echo "node_powerloss: seed $seed (replay with RCN_NPL_SEED=$seed), $trials trials," \
     "$clients clients x $per_client alerts$strict_note"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rcn-nodepl-XXXXXX")
node_pid=
cpids=()
cleanup() {
  local p
  for p in "${cpids[@]:-}" $node_pid; do
    [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
  done
  for f in "$tmp"/*.cpid.*; do
    [ -e "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$tmp"
  "$ports" --release $$ || true
}
trap cleanup EXIT

passed=0 failed=0 crashes=0 nocrash=0 acked_total=0 ahead=0 behind=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
show() { sed 's/^/    /' "$@" | tail -n 15; }

# start_node DIR LOG [VAR=VALUE...]: rcnode DIR in the background with that environment.
start_node() {
  local d=$1 log=$2; shift 2
  env "$@" "$RCNODE" "$d" 2>>"$log" &
  node_pid=$!
}

# wait_up DIR: until the node answers (<= 10 s); 1 when it died or never answered.
wait_up() {
  local i
  for ((i = 0; i < 100; i++)); do
    "$RCCTL" -d "$1" --timeout 300 status >/dev/null 2>&1 && return 0
    kill -0 "$node_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# stop_node: SIGTERM, <= 10 s, then SIGKILL; sets $stopped to rcnode's exit status (99:
# it had to be killed). Not in $(…): only this shell can wait for its child.
stop_node() {
  local i
  stopped=0
  kill -TERM "$node_pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$node_pid" 2>/dev/null; then
    kill -KILL "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
    stopped=99
  else
    wait "$node_pid" 2>/dev/null || stopped=$?
  fi
  node_pid=
}

# client DIR PID C: alerts t<C>.<j> one after another while the node lives and DIR.stop is
# absent; per alert DIR.ack.C.j (stdout) and DIR.rc.C.j (exit status).
client() {
  local d=$1 pid=$2 c=$3 j rc
  for ((j = 0; j < per_client; j++)); do
    [ -e "$d.stop" ] && return 0
    kill -0 "$pid" 2>/dev/null || return 0
    rc=0
    "$RCCTL" -d "$d" --json --timeout 3000 alert send --severity minor --text "t$c.$j" \
      --status test >"$d.ack.$c.$j" 2>"$d.err.$c.$j" &
    echo $! >"$d.cpid.$c"
    wait $! || rc=$?
    rm -f "$d.cpid.$c"             # fire() must never signal a pid this rcctl no longer has
    echo "$rc" >"$d.rc.$c.$j"
  done
}

# fire DIR PID: runs the clients; returns when they are done, or soon after the node died
# (a request in flight to a dead node would only wait out its timeout: it is stopped, and
# being unanswered it was never acknowledged), or after 20 s.
fire() {
  local d=$1 pid=$2 c p alive t0=$SECONDS
  cpids=()
  for ((c = 0; c < clients; c++)); do
    client "$d" "$pid" "$c" &
    cpids+=($!)
  done
  while :; do
    alive=0
    for p in "${cpids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    if ! kill -0 "$pid" 2>/dev/null || [ $((SECONDS - t0)) -ge 20 ]; then
      sleep 0.3                          # answers already received get printed
      touch "$d.stop"
      for ((c = 0; c < clients; c++)); do
        [ -e "$d.cpid.$c" ] && kill -TERM "$(cat "$d.cpid.$c")" 2>/dev/null || true
      done
      break
    fi
    sleep 0.05
  done
  for p in "${cpids[@]}"; do wait "$p" 2>/dev/null || true; done
  cpids=()
}

# mark DIR: "signed committed" from DIR/keys/hwm ("0 0" when absent, "bad" when unreadable).
# Format 3 (hwm.h): two 512-byte slots, the mark is the valid one (magic, BLAKE2b-256 of bytes
# 0..479 at 480) of the highest generation; format 2: one text line.
mark() {
  local f=$1/keys/hwm
  if [ ! -e "$f" ]; then echo "0 0"; return; fi
  python3 - "$f" <<'EOF'
import hashlib, struct, sys
b = open(sys.argv[1], "rb").read()
best = None
if len(b) == 1024:
    for i in range(2):
        s = b[512 * i:512 * (i + 1)]
        if s[:8] != b"rcn-hwm3" or hashlib.blake2b(s[:480], digest_size=32).digest() != s[480:]:
            continue
        sq, c, gen = struct.unpack_from("<QQQ", s, 48)
        if best is None or gen > best[0]:
            best = (gen, sq, c)
else:
    f = b.decode("ascii", "replace").split()
    if len(f) == 5 and f[0] == "rcn-hwm" and f[1] == "2" and b.endswith(b"\n"):
        best = (0, int(f[3]), int(f[4]))
print("bad" if best is None else "%d %d" % best[1:])
EOF
}

# The checks on the restarted node's answers, in one place (JSON parsed properly).
cat >"$tmp/check.py" <<'EOF'
import glob, json, sys
d, export, head, signed, committed, new, head0 = sys.argv[1:8]
head, signed, committed, head0 = int(head), int(signed), int(committed), int(head0)
faults, acked = [], {}
for rcf in glob.glob(d + ".rc.*"):
    if open(rcf).read().strip() != "0":
        continue
    ackf = rcf.replace(".rc.", ".ack.")
    try:
        a = json.load(open(ackf))
        seq, h = int(a["seq"]), a["hash"]
    except Exception as e:
        faults.append("%s: exit 0 but no hash and seq in the answer (%s)" % (ackf, e))
        continue
    if seq in acked and acked[seq] != h:
        faults.append("seq %d acknowledged twice with different entries: a fork" % seq)
    acked[seq] = h
log = {}
for line in open(export):
    e = json.loads(line)
    log[int(e["seq"])] = e["hash"]
if sorted(log) != list(range(1, len(log) + 1)) or len(log) != head:
    faults.append("export holds seqs %s..%s (%d entries), status says head %d"
                  % (min(log, default=0), max(log, default=0), len(log), head))
for seq, h in sorted(acked.items()):
    if seq not in log:
        faults.append("acknowledged seq %d (%.16s...) is gone (head %d)" % (seq, h, head))
    elif log[seq] != h:
        faults.append("acknowledged seq %d (%.16s...) holds another entry" % (seq, h))
    if seq > committed:
        faults.append("seq %d was acknowledged above the mark's committed_seq %d"
                      % (seq, committed))
if not committed <= head0 <= signed:
    faults.append("mark after the crash {signed %d, committed %d} against head %d: want "
                  "committed <= head <= signed" % (signed, committed, head0))
try:
    n = json.load(open(new))
    if int(n["seq"]) != head + 1:
        faults.append("the new alert got seq %s, not head+1 = %d" % (n["seq"], head + 1))
except Exception as e:
    faults.append("the new alert after the restart was not acknowledged (%s)" % e)
for f in faults:
    print("FAULT: " + f)
print("%d acknowledged, head %d, mark {%d, %d}" % (len(acked), head, signed, committed))
sys.exit(1 if faults else 0)
EOF

# trial NAME K: crash rcnode at call K (0: no crash, count the calls), restart, check.
# Sets $calls (K = 0) and $summary.
trial() {
  local name=$1 k=$2 d=$tmp/$1 pid rc st head signed committed blocked out head0 i
  local log=$d.log
  summary=
  cp -a "$tmp/tpl" "$d"
  if [ "$k" -eq 0 ]; then
    start_node "$d" "$log" LD_PRELOAD="$shim" RCN_PL_DIR="$d" RCN_PL_COUNT=1
  else
    start_node "$d" "$log" LD_PRELOAD="$shim" RCN_PL_DIR="$d" RCN_PL_CRASH_AT="$k"
  fi
  pid=$node_pid
  wait_up "$d" || true                 # a crash during start is a trial like any other
  fire "$d" "$pid"
  if kill -0 "$pid" 2>/dev/null; then
    stop_node                          # K lay past this run's calls
    rc=$stopped
  else
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    node_pid=
  fi
  if [ "$rc" -eq 137 ]; then
    crashes=$((crashes + 1))
  elif [ "$rc" -eq 0 ]; then
    [ "$k" -eq 0 ] || nocrash=$((nocrash + 1))
  else
    fail "$name (crash at $k): rcnode under the shim exited $rc"; show "$log"; return 0
  fi
  if [ "$k" -eq 0 ]; then
    calls=$(sed -n 's/^powerloss: \([0-9][0-9]*\) calls$/\1/p' "$log" | tail -n 1)
  fi
  read -r signed committed <<<"$(mark "$d")" || true
  if [ "$signed" = bad ]; then
    fail "$name (crash at $k): keys/hwm unreadable after the crash"; show "$d/keys/hwm"
    return 0
  fi
  [ "$signed" -gt "$committed" ] && ahead=$((ahead + 1))
  # The log's own head as the crash left it (read offline): the restarted node writes its
  # SealKeys (this period's and the next's) by itself when the crash took them (or came before
  # them), so its head may be up to two more.
  head0=$("$RCCTL" -d "$d" heads 2>/dev/null |
          python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[0]["seq"] if d else 0)' \
          2>/dev/null) || head0=0

  # Restart without the shim: it must come up, and not blocked.
  echo "--- restart without the shim" >>"$log"
  start_node "$d" "$log"
  if ! wait_up "$d"; then
    fail "$name (crash at $k): rcnode does not start again after the crash"; show "$log"
    stop_node; return 0
  fi
  # Until its two SealKeys are in the log (it publishes them on its own as soon as it may author), so
  # that nothing is authored between reading its head and the next alert.
  for ((i = 0; i < 50; i++)); do
    [ "$("$RCCTL" -d "$d" sealkey list --json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null)" = 2 ] && break
    sleep 0.1
  done
  st=$("$RCCTL" -d "$d" --timeout 3000 status --json 2>&1) || true
  blocked=$(python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["blocked"], s["own_seq"])' \
            <<<"$st" 2>/dev/null) || blocked="? ?"
  read -r blocked head <<<"$blocked"
  if [ "$blocked" != False ]; then
    fail "$name (crash at $k): restarted node is blocked=$blocked (mark {$signed, $committed})"
    echo "$st" | show; show "$log"; stop_node; return 0
  fi
  [ "$head" -gt "$committed" ] && behind=$((behind + 1))
  "$RCCTL" -d "$d" --timeout 3000 export >"$d.export" 2>"$d.export.err" || true
  "$RCCTL" -d "$d" --json --timeout 3000 alert send --severity minor --text "after" \
    --status test >"$d.new" 2>"$d.new.err" || true
  stop_node
  st=$stopped
  local ok=1
  out=$(python3 "$tmp/check.py" "$d" "$d.export" "$head" "$signed" "$committed" "$d.new" "$head0" 2>&1) \
    || ok=0
  if [ "$st" -ne 0 ]; then
    ok=0; out="$out"$'\n'"FAULT: the restarted rcnode stopped with exit $st"
  fi
  if ! "$RCCTL" verify-log "$d" >"$d.verify" 2>&1; then
    ok=0; out="$out"$'\n'"FAULT: verify-log: $(tail -n 3 "$d.verify")"
  fi
  local want=$((head + 1))
  if [ "$(mark "$d")" != "$want $want" ]; then
    ok=0; out="$out"$'\n'"FAULT: mark after the new alert is {$(mark "$d")}, want {$want, $want}"
  fi
  if [ "$ok" = 0 ]; then
    fail "$name (crash at $k, exit $rc)"; echo "$out" | show; show "$log"; return 0
  fi
  acked_total=$((acked_total + $(cat "$d".rc.* 2>/dev/null | grep -cx 0 || true)))
  summary="exit $rc, $(tail -n 1 <<<"$out")"
  pass
  rm -rf "$d" "$d".*
}

start=$SECONDS
"$RCCTL" init --dir "$tmp/tpl" --region 310000 --name Shanghai \
  --pub "tcp://127.0.0.1:$port" --sync "tcp://127.0.0.1:$((port + 1))" >"$tmp/tpl.card" 2>/dev/null
"$RCCTL" roster build "$tmp/tpl.card" --rounds "" >"$tmp/tpl/roster.json"

# 1. A full run under the shim, no crash: counts the calls and must check clean itself.
calls=
trial count 0
if [ -z "$calls" ] || [ "$calls" -lt 20 ]; then
  fail "the counting run reported ${calls:-no} calls"
  echo "$passed passed, $failed failed"; exit 1
fi
echo "node_powerloss: a full run under the shim: $calls counted calls ($summary)"

# 2. The trials, each crashed at a random call of its slice of [1, calls].
ran=0
for ((i = 0; i < trials; i++)); do
  if [ $((SECONDS - start)) -ge "$budget" ]; then
    echo "node_powerloss: time budget of $budget s reached after $ran trials"; break
  fi
  lo=$(( i * calls / trials + 1 ))
  hi=$(( (i + 1) * calls / trials ))
  [ "$hi" -ge "$lo" ] || hi=$lo
  k=$(( lo + ((RANDOM << 15) | RANDOM) % (hi - lo + 1) ))
  f0=$failed
  trial "t$i" "$k"
  ran=$((ran + 1))
  [ "$failed" -eq "$f0" ] && echo "trial $i: crash at call $k of ~$calls: ok ($summary)"
done
if [ "$ran" -lt "$min_trials" ]; then
  fail "only $ran trials ran within $budget s"
fi
if [ "$crashes" -gt 0 ] && [ "$acked_total" -gt 0 ]; then
  pass
else
  fail "nothing was tested: $crashes crashes, $acked_total acknowledged alerts"
fi

# 3. An old backup restored over the data dir: the node must start BLOCKED and sign nothing.
# (Its own two SealKeys, written by itself at the first start, are among its entries: 5 in the
# backup, 8 in all.)
d=$tmp/old
cp -a "$tmp/tpl" "$d"
start_node "$d" "$d.log"
ok=1
if wait_up "$d"; then
  for j in 1 2 3; do
    "$RCCTL" -d "$d" --timeout 3000 alert send --severity minor --text "before $j" --status test \
      >/dev/null 2>>"$d.err" || ok=0
  done
  "$RCCTL" -d "$d" --timeout 3000 backup "$tmp/oldbk" >/dev/null 2>>"$d.err" || ok=0
  for j in 1 2 3; do
    "$RCCTL" -d "$d" --timeout 3000 alert send --severity minor --text "after $j" --status test \
      >/dev/null 2>>"$d.err" || ok=0
  done
else
  ok=0
fi
stop_node
st=$stopped
if [ "$ok" = 0 ] || [ "$st" -ne 0 ] || [ "$(mark "$d")" != "8 8" ]; then
  fail "old backup: setting up (exit $st, mark {$(mark "$d")})"; show "$d.err" "$d.log"
else
  rm -rf "$d/data"
  cp -a "$tmp/oldbk/data" "$d/data"
  start_node "$d" "$d.log"
  if ! wait_up "$d"; then
    fail "old backup: rcnode does not start on the restored data dir"; show "$d.log"
  else
    st=$("$RCCTL" -d "$d" --timeout 3000 status --json 2>&1) || true
    rc=0
    "$RCCTL" -d "$d" --timeout 3000 alert send --severity minor --text "would reuse seq 6" \
      --status test >"$d.new" 2>"$d.new.err" || rc=$?
    if grep -q '"blocked": true' <<<"$st" && grep -q '"own_seq": 5' <<<"$st" \
       && [ "$rc" -ne 0 ] && grep -q EBLOCKED "$d.new.err" \
       && grep -q "authoring is blocked" "$d.log" && [ "$(mark "$d")" = "8 8" ]; then
      pass
      echo "old backup: log restored to seq 5 under a mark of {8, 8}: starts blocked," \
           "refuses to sign ($(head -c 100 "$d.new.err"))"
    else
      fail "old backup: the node restored to seq 5 under a mark of {8, 8} is not blocked" \
           "(alert send exit $rc, mark {$(mark "$d")})"
      echo "$st" | show; show "$d.new" "$d.new.err" "$d.log"
    fi
  fi
  stop_node
fi

echo "node_powerloss: $ran trials, $crashes crashed rcnode (the others ran past K), $acked_total" \
     "alerts acknowledged; after the crash $ahead had signed_seq ahead of committed_seq," \
     "$behind a head ahead of committed_seq; $((SECONDS - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
