# shellcheck shell=bash
# cluster/lib.sh — what cluster/up, status, down and demo share: where the binaries are, the
# members' regions, the state file, starting and stopping one member. Source it; it defines
# functions and variables only (prefix cl_ / CL_) and starts nothing.
#
# The one decision to know: a cluster dir D holds everything about one local alliance —
#   D/cluster.state   what status and down need (below); written by up, updated on restarts
#   D/roster.json     the alliance's roster; D/REGION.card each member's card
#   D/REGION/         member REGION's node dir;  D/REGION.log  its rcnode's stderr
# and a process counts as a member only if /proc says it is rcnode running on that member's
# dir: a pid in the state file that the kernel has since given to another program is never
# signalled.
#
# cluster.state, one record a line, space-separated (region and node dir contain no spaces):
#   clock SPEC        RCN_CLOCK for every rcnode and rcctl of the cluster ("-": the real clock)
#   member REGION NAME PID PORT DIR    PID "-" when not started; PUB on PORT, sync on PORT+1

CL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CL_DEFAULT_DIR=${RCN_CLUSTER_DIR:-/tmp/rcn-cluster}

# GB/T 2260 province-level codes, in the order members are given them.
CL_REGIONS=(310000 320000 330000 340000 350000 360000 370000 410000
            420000 430000 440000 450000 460000 500000 510000 110000)
CL_NAMES=(Shanghai Jiangsu Zhejiang Anhui Fujian Jiangxi Shandong Henan
          Hubei Hunan Guangdong Guangxi Hainan Chongqing Sichuan Beijing)
CL_MAX=${#CL_REGIONS[@]}

cl_prog=${cl_prog:-cluster}
cl_die() { echo "$cl_prog: $*" >&2; exit 1; }
cl_usage() { echo "$cl_prog: $*" >&2; exit 2; }
# cl_help FILE: FILE's opening comment (from its second line), without the "# ".
cl_help() { awk 'NR > 1 && !/^#/ { exit } NR > 1' "$1" | sed 's/^# \{0,1\}//'; }
cl_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# cl_bins: sets CL_BUILD, CL_RCCTL, CL_RCNODE from $RCN_BUILD_DIR, else build/ of this tree.
cl_bins() {
  CL_BUILD=${RCN_BUILD_DIR:-$CL_ROOT/build}
  CL_RCCTL=$CL_BUILD/rcctl CL_RCNODE=$CL_BUILD/rcnode
  [ -x "$CL_RCCTL" ] && [ -x "$CL_RCNODE" ] ||
    cl_die "no rcnode/rcctl in $CL_BUILD: build first (cluster/demo does, or: cmake -S $CL_ROOT -B $CL_ROOT/build && cmake --build $CL_ROOT/build), or set RCN_BUILD_DIR"
}

# cl_build: installs missing Debian packages (tests/deps) and builds rcnode and rcctl in build/
# when they are missing or older than a source file; with RCN_BUILD_DIR set, uses that build.
cl_build() {
  "$CL_ROOT/tests/deps"
  if [ -z "${RCN_BUILD_DIR:-}" ]; then
    local b=$CL_ROOT/build
    if [ ! -x "$b/rcnode" ] || [ ! -x "$b/rcctl" ] ||
       [ -n "$(find "$CL_ROOT/node" "$CL_ROOT/include" "$CL_ROOT/proto" "$CL_ROOT/CMakeLists.txt" \
               -newer "$b/rcctl" -print -quit)" ]; then
      echo "== building rcn in build/ (once; later runs reuse it)"
      cmake -S "$CL_ROOT" -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
      cmake --build "$b" -j"$(nproc 2>/dev/null || echo 2)" --target rcnode rcctl >/dev/null
    fi
  fi
  cl_bins
}

# --- the state file ----------------------------------------------------------------------------
CL_DIR='' CL_CLOCK='' CL_N=0
CL_REG=() CL_NAME=() CL_PID=() CL_PORT=() CL_MDIR=()   # index 0..CL_N-1

cl_state() { echo "$CL_DIR/cluster.state"; }
cl_has_state() { [ -f "$1/cluster.state" ]; }

# cl_load D: reads D/cluster.state into CL_*.
cl_load() {
  CL_DIR=$(cd "$1" && pwd) CL_CLOCK='' CL_N=0 CL_REG=() CL_NAME=() CL_PID=() CL_PORT=() CL_MDIR=()
  local f=$CL_DIR/cluster.state k a b c d e
  [ -f "$f" ] || cl_die "no cluster in $CL_DIR (no cluster.state): start one with cluster/up"
  while read -r k a b c d e; do
    case $k in
      clock) [ "$a" = - ] || CL_CLOCK=$a ;;
      member) CL_REG+=("$a") CL_NAME+=("$b") CL_PID+=("$c") CL_PORT+=("$d") CL_MDIR+=("$e")
              CL_N=$((CL_N + 1)) ;;
    esac
  done < "$f"
  [ "$CL_N" -gt 0 ] || cl_die "$f lists no member"
}

# cl_save: writes CL_* to the state file (a new file renamed over the old one).
cl_save() {
  local i f; f=$(cl_state)
  {
    echo "# rcn local cluster, written by cluster/up; read by cluster/status and cluster/down"
    echo "clock ${CL_CLOCK:--}"
    for ((i = 0; i < CL_N; i++)); do
      echo "member ${CL_REG[i]} ${CL_NAME[i]} ${CL_PID[i]} ${CL_PORT[i]} ${CL_MDIR[i]}"
    done
  } > "$f.tmp" && mv -f "$f.tmp" "$f"
}

# cl_index REGION: the member index of REGION (fails when none).
cl_index() {
  local i
  for ((i = 0; i < CL_N; i++)); do [ "${CL_REG[i]}" = "$1" ] && { echo "$i"; return 0; }; done
  echo "$cl_prog: no member $1 in $CL_DIR" >&2; return 1
}

# --- processes ---------------------------------------------------------------------------------
# cl_is_member PID DIR: PID is alive and is rcnode on DIR (zombies and reused pids are not).
cl_is_member() {
  local cmd
  [[ "$1" =~ ^[0-9]+$ ]] || return 1
  cmd=$({ tr '\0' ' ' < "/proc/$1/cmdline"; } 2>/dev/null) || return 1
  [[ "$cmd" == *rcnode\ "$2"\ * || "$cmd" == *rcnode\ "$2" ]]
}

# cl_live_pid I: the pid of member i's running rcnode (the state's, else the one in its lock
# file), or nothing.
cl_live_pid() {
  local p=${CL_PID[$1]} d=${CL_MDIR[$1]}
  cl_is_member "$p" "$d" && { echo "$p"; return 0; }
  p=$({ tr -dc 0-9 < "$d/rcnode.lock"; } 2>/dev/null || true)
  cl_is_member "$p" "$d" && { echo "$p"; return 0; }
  return 0
}

# cl_rcctl I ARGS…: rcctl on member i, on the cluster's clock.
cl_rcctl() {
  local i=$1; shift
  if [ -n "$CL_CLOCK" ]; then RCN_CLOCK=$CL_CLOCK "$CL_RCCTL" -d "${CL_MDIR[i]}" "$@"
  else env -u RCN_CLOCK "$CL_RCCTL" -d "${CL_MDIR[i]}" "$@"; fi
}

# cl_start I: starts member i's rcnode in its own session (it outlives the caller; stdout and
# stderr appended to D/REGION.log), records its pid and waits (<= 10 s) until it answers.
# On failure: says why with the end of its log, and leaves no process of its own behind.
cl_start() {
  local i=$1 d=${CL_MDIR[$1]} log=$CL_DIR/${CL_REG[$1]}.log pid k
  if [ -n "$CL_CLOCK" ]; then
    RCN_CLOCK=$CL_CLOCK setsid "$CL_RCNODE" "$d" < /dev/null >> "$log" 2>&1 &
  else
    env -u RCN_CLOCK setsid "$CL_RCNODE" "$d" < /dev/null >> "$log" 2>&1 &
  fi
  pid=$!
  CL_PID[i]=$pid; cl_save
  for k in $(seq 100); do
    cl_rcctl "$i" --timeout 300 status > /dev/null 2>&1 && return 0
    # setsid execs rcnode in place (a background job is no group leader), so $! is rcnode;
    # give it 1 s to get there before reading a non-rcnode as death.
    if [ "$k" -gt 10 ] && ! cl_is_member "$pid" "$d"; then break; fi
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  CL_PID[i]=-; cl_save
  echo "$cl_prog: ${CL_REG[i]} (${CL_NAME[i]}) did not start; the end of $log:" >&2
  tail -n 8 "$log" | sed 's/^/    /' >&2
  return 1
}

# cl_stop I… : SIGTERM to the listed members' rcnodes at once, then waits (<= 10 s in all),
# then SIGKILL to any left. With CL_SIGNAL=KILL, SIGKILL at once (a crash). Returns 0 when every
# one is gone.
cl_stop() {
  local i p k left pids=()
  for i in "$@"; do
    p=$(cl_live_pid "$i")
    [ -n "$p" ] && { kill -"${CL_SIGNAL:-TERM}" "$p" 2>/dev/null || true; }
    pids[i]=$p
  done
  for k in $(seq 100); do
    left=0
    for i in "$@"; do [ -n "${pids[i]}" ] && cl_is_member "${pids[i]}" "${CL_MDIR[i]}" && left=1; done
    [ $left = 0 ] && break
    sleep 0.1
  done
  for i in "$@"; do
    p=${pids[i]}
    if [ -n "$p" ] && cl_is_member "$p" "${CL_MDIR[i]}"; then
      echo "$cl_prog: ${CL_REG[i]} (pid $p) did not stop in 10 s: SIGKILL" >&2
      kill -KILL "$p" 2>/dev/null || true
    fi
    [ -n "$p" ] && { wait "$p" 2>/dev/null || true; }   # reaps it when it is our child
    CL_PID[i]=-
  done
  cl_save
  for i in "$@"; do [ -z "$(cl_live_pid "$i")" ] || return 1; done
}

# cl_json_field I EXPR: EXPR (Python, over d) on member i's `status --json`; empty if no answer.
cl_status_json() { cl_rcctl "$1" --timeout 2000 status --json 2>/dev/null; }

# cl_wait_up SECS: until every member's status shows every other member up (peers_up = N-1).
# Fails early when a member's rcnode has died.
cl_wait_up() {
  local deadline=$(( $(cl_now_ms) + $1 * 1000 )) i up ok
  while :; do
    ok=1
    for ((i = 0; i < CL_N; i++)); do
      if [ -z "$(cl_live_pid "$i")" ]; then
        echo "$cl_prog: ${CL_REG[i]}'s rcnode died; the end of its log:" >&2
        tail -n 8 "$CL_DIR/${CL_REG[i]}.log" | sed 's/^/    /' >&2
        return 1
      fi
      up=$(cl_status_json "$i" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("peers_up", 0))' 2>/dev/null || echo 0)
      [ "$up" = $((CL_N - 1)) ] || { ok=0; break; }
    done
    [ $ok = 1 ] && return 0
    if [ "$(cl_now_ms)" -ge "$deadline" ]; then
      echo "$cl_prog: after $1 s, ${CL_REG[i]} sees $up of $((CL_N - 1)) peers up" >&2
      return 1
    fi
    sleep 0.2
  done
}

# cl_free_ports N: a base port P such that P .. P+2N-1 are all free on 127.0.0.1 now, below the
# kernel's ephemeral range (cluster/ports says why). With RCN_PORTS_OWNER set (the tests set it
# to their shell's pid) the ports stay reserved for that process until it gives them back.
cl_free_ports() {
  "$CL_ROOT/cluster/ports" "$((2 * $1))" ${RCN_PORTS_OWNER:+--owner "$RCN_PORTS_OWNER"}
}
