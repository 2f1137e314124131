# tests/repl_lib.sh — helpers for the multi-process replication tests (repl_*.sh); source it
# after setting B (build dir). It sources lib.sh: `check`, `expect_fail`, `finish`, the trap
# that kills every node on exit. Members are numbered 1..N; member i lives in $T/m$i, region
# ${REGIONS[i-1]}, PUB on PORT_BASE+10*i, sync one above. Every wait here is bounded in count
# and time, and the helpers report through their exit status (they run inside `check`, where
# errexit is off) and print what they measured on stderr (check sends stdout to /dev/null).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REGIONS=(310000 320000 330000 340000 350000 360000)
NAMES=(Shanghai Jiangsu Zhejiang Anhui Fujian Jiangxi)
N_MEMBERS=0
RUNNING=()          # RUNNING[i]=1 while member i's rcnode runs (index 0 unused)
WRITERS=()          # pids of background writers (write_load)
VERIFY="python3 $(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/verify_export.py"

note() { echo "     ($*)" >&2; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
D() { echo "$T/m$1"; }

# On exit: with KEEP=DIR, the node logs and dirs are copied there first (for a failed run).
repl_cleanup() {
  local p
  for p in "${WRITERS[@]:-}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp -a "$T"/. "$KEEP"/ 2>/dev/null || true; fi
  cleanup
}
trap repl_cleanup EXIT

# A port base nobody listens on, below the ephemeral range and reserved for this test until it
# exits (cluster/ports), so that runs in parallel (ctest -j, other engineers) do not clash;
# members use PORT_BASE+10 .. PORT_BASE+10*N+1.
pick_ports() { PORT_BASE=$("$PORTS" 80 --owner "$RCN_PORTS_OWNER"); }
pick_ports

# json EXPR: evaluates a Python expression over the JSON document on stdin (bound to d).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); r=($1); print(json.dumps(r) if isinstance(r,(dict,list,bool)) or r is None else r)"; }

# status_of I FIELD: one field of member i's `status --json` (empty when it does not answer).
status_of() { "$RCCTL" -d "$(D "$1")" --timeout 2000 status --json 2>/dev/null | json "d.get('$2')" 2>/dev/null || true; }

# own_head I: member i's own seq in its (possibly stopped) log; 0 when none.
own_head() { head_of "$1" "${REGIONS[$1-1]}"; }
# head_of I REGION: what member i's log holds of REGION's origin.
head_of() {
  "$RCCTL" -d "$(D "$1")" heads 2>/dev/null |
    json "max([h['seq'] for h in d if h['region']=='$2'] or [0])" 2>/dev/null || echo 0
}

# peer_state I REGION: REGION's state as member i's `peers --json` shows it ("" if absent).
peer_state() {
  "$RCCTL" -d "$(D "$1")" --timeout 2000 peers --json 2>/dev/null |
    json "([p.get('state') for p in d if str(p.get('region'))=='$2'] or [''])[0]" 2>/dev/null || true
}
# peers_json I: member i's `peers --json` (for diagnostics).
peers_json() { "$RCCTL" -d "$(D "$1")" --timeout 2000 peers --json 2>&1 || true; }

# member I [ROSTER]: init member i (card in $T/m$i.card) without starting it.
member() {
  new_member "$(D "$1")" "${REGIONS[$1-1]}" "${NAMES[$1-1]}" $(( PORT_BASE + 10 * $1 ))
}

# start I / stop I / kill9 I / pause I / resume I: one member's rcnode.
start() { start_node "$(D "$1")" || return 1; RUNNING[$1]=1; }
stop() { local rc=0; stop_node "$(D "$1")" || rc=$?; RUNNING[$1]=0; return $rc; }
pid_of() { local var="PID_m$1"; echo "${!var}"; }
kill9() {
  local pid; pid=$(pid_of "$1")
  kill -KILL "$pid" 2>/dev/null || true
  { wait "$pid"; } 2>/dev/null || true
  RUNNING[$1]=0
}
pause() { kill -STOP "$(pid_of "$1")"; }
resume() { kill -CONT "$(pid_of "$1")"; }

# wipe I: the data dir goes (keys, high-water mark, conf and roster stay).
wipe() { rm -rf "$(D "$1")/data"; }
# backup I NAME: a backup of member i's running node into $T/bk.NAME.
backup() { "$RCCTL" -d "$(D "$1")" backup "$T/bk.$2" >/dev/null; }
# restore I NAME: member i's (stopped) data dir replaced by the backup's.
restore() { rm -rf "$(D "$1")/data" && cp -a "$T/bk.$2/data" "$(D "$1")/data"; }

# alive: every member marked running still runs; for one that died, says so with the end of
# its log (so that a crashed node fails fast instead of every wait running out).
alive() {
  local i pid rc=0
  for i in $(seq "$N_MEMBERS"); do
    [ "${RUNNING[$i]:-0}" = 1 ] || continue
    pid=$(pid_of "$i")
    if ! kill -0 "$pid" 2>/dev/null || [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ]; then
      echo "member $i's rcnode (pid $pid) died; the end of its log:" >&2
      tail -n 5 "$(D "$i").log" >&2
      RUNNING[$i]=0; rc=1
    fi
  done
  return $rc
}

# wait_up SECS I…: until each listed member's `peers` shows every other listed member up.
wait_up() {
  local secs=$1; shift
  local t0 deadline i j ok
  t0=$(now_ms); deadline=$(( t0 + secs * 1000 ))
  while :; do
    ok=1
    for i in "$@"; do
      for j in "$@"; do
        [ "$i" = "$j" ] && continue
        [ "$(peer_state "$i" "${REGIONS[$j-1]}")" = up ] || { ok=0; break 2; }
      done
    done
    if [ $ok = 1 ]; then note "members $* saw each other up after $(( $(now_ms) - t0 )) ms"; return 0; fi
    alive || return 1
    if [ "$(now_ms)" -ge "$deadline" ]; then
      echo "wait_up: member $i does not see member $j up after ${secs} s; its peers:" >&2
      peers_json "$i" >&2
      return 1
    fi
    sleep 0.2
  done
}

# wait_state SECS I J STATE: until member i's `peers` shows member j in STATE.
wait_state() {
  local deadline=$(( $(now_ms) + $1 * 1000 )) s=
  while [ "$(now_ms)" -lt "$deadline" ]; do
    s=$(peer_state "$2" "${REGIONS[$3-1]}")
    [ "$s" = "$4" ] && return 0
    sleep 0.2
  done
  echo "wait_state: member $2 shows member $3 as \"$s\", not \"$4\", after $1 s" >&2
  peers_json "$2" >&2
  return 1
}

# alliance N [ROSTER_EXTRA…]: init N members, one roster for all (built from their cards),
# start them all, wait (<= 20 s) until every member sees every other up.
alliance() {
  local n=$1 i cards=()
  N_MEMBERS=$n
  for i in $(seq "$n"); do member "$i" || return 1; cards+=("$(D "$i").card"); done
  "$RCCTL" roster build "${cards[@]}" --rounds "" > "$T/roster.json" || return 1
  for i in $(seq "$n"); do cp "$T/roster.json" "$(D "$i")/roster.json"; done
  for i in $(seq "$n"); do start "$i" || return 1; done
  [ "$n" -gt 1 ] || return 0
  wait_up 20 $(seq "$n")
}

# converged [-t SECS] [-n TOTAL] [I…]: polls (<= SECS, default 30) until the listed members
# (default all) hold identical heads and byte-identical exports — and, with -n, TOTAL entries
# in all besides the SealKeys (each node writes its own by itself at its first start). Heads are polled alone (one rcctl call per member, no parsing); the time reported
# is from the call until the heads first agreed, then exports are compared (and, should they
# differ, polling goes on). On failure, prints what each member holds.
LAST_CONVERGED_MS=
converged() {
  local secs=30 total= i t0 deadline ok ref sum got sk
  while [ $# -gt 0 ]; do
    case $1 in -t) secs=$2; shift 2 ;; -n) total=$2; shift 2 ;; *) break ;; esac
  done
  local nodes=("$@"); [ ${#nodes[@]} -gt 0 ] || nodes=($(seq "$N_MEMBERS"))
  t0=$(now_ms); deadline=$(( t0 + secs * 1000 ))
  while :; do
    ok=1; ref=
    for i in "${nodes[@]}"; do
      "$RCCTL" -d "$(D "$i")" heads > "$T/conv.$i.heads" 2>/dev/null || { ok=0; break; }
      sum=$(md5sum < "$T/conv.$i.heads")
      if [ -z "$ref" ]; then ref=$sum; elif [ "$sum" != "$ref" ]; then ok=0; break; fi
    done
    if [ $ok = 1 ] && [ -n "$total" ]; then
      got=$(grep -o '"seq": [0-9]*' "$T/conv.${nodes[0]}.heads" | awk '{ s += $2 } END { print s + 0 }')
      sk=$("$RCCTL" -d "$(D "${nodes[0]}")" sealkey list --json 2>/dev/null | json "len(d)" 2>/dev/null || echo 0)
      [ "$((got - sk))" = "$total" ] || ok=0
    fi
    if [ $ok = 1 ]; then
      LAST_CONVERGED_MS=$(( $(now_ms) - t0 ))
      ref=
      for i in "${nodes[@]}"; do
        "$RCCTL" -d "$(D "$i")" export > "$T/conv.$i.export" 2>/dev/null || { ok=0; break; }
        sum=$(md5sum < "$T/conv.$i.export")
        if [ -z "$ref" ]; then ref=$sum; elif [ "$sum" != "$ref" ]; then
          echo "converged: members ${nodes[0]} and $i hold the same heads but different exports" >&2
          ok=0; break
        fi
      done
    fi
    if [ $ok = 1 ]; then
      note "members ${nodes[*]} converged in $LAST_CONVERGED_MS ms, $(wc -l < "$T/conv.${nodes[0]}.export") entries"
      if [ "$LAST_CONVERGED_MS" -gt 3000 ]; then   # slow: show what the pulls did
        for i in "${nodes[@]}"; do
          note "  member $i peers (region, state, pulls sent, timed out, entries pulled): $("$RCCTL" -d "$(D "$i")" --timeout 2000 peers --json 2>/dev/null |
            json "' '.join('%s:%s:%s:%s:%s' % (p['region'], p['state'], p.get('pulls_sent'), p.get('pulls_timed_out'), p.get('entries_pulled')) for p in d)" 2>/dev/null)"
        done
      fi
      return 0
    fi
    alive || return 1
    if [ "$(now_ms)" -ge "$deadline" ]; then
      echo "converged: members ${nodes[*]} did not converge in $secs s${total:+ (wanted $total entries)}; heads (region:seq):" >&2
      for i in "${nodes[@]}"; do
        echo "  member $i: $("$RCCTL" -d "$(D "$i")" heads 2>&1 | json "' '.join('%s:%d' % (h['region'], h['seq']) for h in d)" 2>&1)" >&2
      done
      return 1
    fi
    sleep 0.05
  done
}

# write_load I COUNT [PAR] [TAG]: COUNT alerts (status test, --wait local) written to member
# i by PAR (default 4) background writers, each stopping at its first failed write (a killed
# node would otherwise cost rcctl's whole timeout per write; that timeout is LOAD_TIMEOUT,
# default 20000 ms); wait_load waits for all writers.
write_load() {
  local i=$1 count=$2 par=${3:-4} tag=${4:-load} w
  for w in $(seq "$par"); do
    (
      k=$w
      while [ "$k" -le "$count" ]; do
        "$RCCTL" -d "$(D "$i")" --timeout "${LOAD_TIMEOUT:-20000}" alert send --severity minor --status test \
          --text "$tag m$i #$k" --wait local > /dev/null 2>> "$T/load.m$i.err" ||
          { echo "m$i #$k" >> "$T/load.failed"; break; }   # node gone: this writer stops
        k=$(( k + par ))
      done
    ) &
    WRITERS+=($!)
  done
}
# wait_load: waits for every writer started by write_load; fails if any write failed.
wait_load() {
  local p
  for p in "${WRITERS[@]:-}"; do [ -n "$p" ] && { wait "$p" 2>/dev/null || true; }; done
  WRITERS=()
  if [ -s "$T/load.failed" ]; then
    echo "wait_load: $(wc -l < "$T/load.failed") writes failed: $(head -3 "$T/load.failed" | tr '\n' ' ')" >&2
    cat "$T"/load.m*.err 2>/dev/null | sort | uniq -c | head -5 >&2
    rm -f "$T/load.failed"
    return 1
  fi
}

# send I TEXT [FLAGS…]: one alert (status test) on member i; prints rcctl's output. rcctl's
# --timeout is SEND_TIMEOUT (default 20000 ms): `SEND_TIMEOUT=2000 send 1 x`.
send() {
  local i=$1 text=$2; shift 2
  "$RCCTL" -d "$(D "$i")" --timeout "${SEND_TIMEOUT:-20000}" alert send --severity minor --status test --text "$text" "$@"
}

# stop_all: SIGTERM to every running member; fails unless every one exits 0.
stop_all() {
  local i rc=0
  for i in $(seq "$N_MEMBERS"); do
    [ "${RUNNING[$i]:-0}" = 1 ] || continue
    stop "$i" || { echo "member $i did not stop cleanly" >&2; rc=1; }
  done
  return $rc
}

# verify_all I…: verify-log passes on each (stopped) member, and the independent verifier
# accepts each one's export.
verify_all() {
  local i
  for i in "$@"; do
    "$RCCTL" verify-log "$(D "$i")" >/dev/null || { echo "verify-log failed on member $i" >&2; return 1; }
    "$RCCTL" -d "$(D "$i")" export > "$T/verify.$i.jsonl" || return 1
    $VERIFY --roster "$T/roster.json" "$T/verify.$i.jsonl" >/dev/null ||
      { echo "verify_export.py refused member $i's export" >&2; return 1; }
  done
}

# no_forks I…: no member holds fork evidence.
no_forks() {
  local i f
  for i in "$@"; do
    f=$(status_of "$i" forks)
    [ "$f" = 0 ] || { echo "member $i: forks=$f" >&2; return 1; }
  done
}

# log_has I PATTERN: member i's node log contains PATTERN (extended regexp, any case).
log_has() { grep -qiE "$2" "$(D "$1").log"; }

# reset_alliance: stops every member and removes them (their logs kept as earlier.m*.log),
# for a fresh alliance in the same run, on a fresh port range.
reset_alliance() {
  stop_all || true
  local f
  for f in "$T"/m[0-9]*.log; do [ -e "$f" ] && mv "$f" "$T/earlier.$(basename "$f")"; done
  rm -rf "$T"/m[0-9]* "$T"/conv.* "$T/roster.json"
  N_MEMBERS=0; RUNNING=()
  pick_ports
}

# wait_field SECS I FIELD VALUE: until member i's `status --json` shows FIELD = VALUE.
wait_field() {
  local deadline=$(( $(now_ms) + $1 * 1000 )) v=
  while [ "$(now_ms)" -lt "$deadline" ]; do
    v=$(status_of "$2" "$3")
    [ "$v" = "$4" ] && return 0
    sleep 0.2
  done
  echo "wait_field: member $2's $3 is \"$v\", not \"$4\", after $1 s" >&2
  return 1
}

# wait_head SECS I REGION SEQ: until member i's log holds REGION's origin up to SEQ.
wait_head() {
  local deadline=$(( $(now_ms) + $1 * 1000 )) h=
  while [ "$(now_ms)" -lt "$deadline" ]; do
    h=$(head_of "$2" "$3")
    [ "$h" = "$4" ] && return 0
    sleep 0.2
  done
  echo "wait_head: member $2 holds $3 up to $h, not $4, after $1 s" >&2
  return 1
}

# seq_of: the seq in rcctl alert send's output ("… (seq N, …").
seq_of() { sed -n 's/.*(seq \([0-9]*\),.*/\1/p'; }

# pulls_sent I: the pulls member i has sent, all peers together.
pulls_sent() { "$RCCTL" -d "$(D "$1")" --timeout 2000 peers --json | json "sum(p.get('pulls_sent', 0) for p in d)"; }
# pulls_quiet I SECS MAX: member i sends at most MAX pulls in SECS seconds (no pull loop).
pulls_quiet() {
  local a b
  a=$(pulls_sent "$1") || return 1
  sleep "$2"
  b=$(pulls_sent "$1") || return 1
  note "member $1 sent $((b - a)) pulls in $2 s"
  [ $((b - a)) -le "$3" ] || { echo "member $1 sent $((b - a)) pulls in $2 s (at most $3 wanted)" >&2; return 1; }
}

# logs_clean: no node log holds a sanitizer report (ASan, UBSan, LSan) or an assertion.
logs_clean() {
  local f bad=0
  for f in "$T"/*.log; do
    [ -e "$f" ] || continue
    if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:|Assertion .* failed" "$f"; then
      echo "$f:" >&2; grep -m3 -E "ERROR: (Address|Leak)Sanitizer|runtime error:|Assertion .* failed" "$f" >&2; bad=1
    fi
  done
  return $bad
}

# wait_for SECS WHAT CMD…: until CMD succeeds (bounded), else says what it waited for.
wait_for() {
  local secs=$1 what=$2; shift 2
  local deadline=$(( $(now_ms) + secs * 1000 ))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    "$@" >/dev/null 2>&1 && return 0
    alive || return 1
    sleep 0.2
  done
  echo "waited $secs s for $what" >&2
  return 1
}
# keys_on I: member i's log holds a sealing key of every one of 3 members (each publishes the
# current period's and, with rotation, the next one's).
keys_on() { [ "$("$RCCTL" -d "$(D "$1")" --json sealkey list | json "len(set(k['region'] for k in d))")" = 3 ]; }
# state_at I HASH REGION: the addressee REGION's state of notice HASH, as member i lists it.
# (From list, not show: show asks the node to open the details, and each opening is audited.)
state_at() {
  "$RCCTL" -d "$(D "$1")" --json case list 2>/dev/null |
    json "([a['state'] for n in d if n['hash']=='$2' for a in n['addressees'] if a['region']=='$3'] or ['(none)'])[0]" 2>/dev/null
}
is_state() { [ "$(state_at "$1" "$2" "$3")" = "$4" ]; }
