#!/usr/bin/env bash
# drill — cluster/drill as ctest runs it (issue #7): 5 members, seed 7, 60 s of load (50
# writes/s per member) while the seeded schedule kills, freezes, partitions, drops packets,
# restores from a backup and wipes; then the report must show nothing acknowledged lost, every
# heal and the end converged, every fault type injected and each one biting (a partition or a
# loss that dropped no packet, or a kill with no write in flight, fails the drill itself).
# On an ASan build (CMakeCache RCN_SANITIZE=ON, or RCN_DRILL_SHORT=1 in the environment) the
# drill is shorter and lighter — 3 members, 45 s at 25 writes/s per member — so that every fault
# type still fits (an ASan rcnode takes seconds to start and catch up on two cores).
# As root the members run in a network namespace on their own addresses, with nftables faults;
# otherwise (or without the nftables package) the drill says so and the test checks the fault
# types it could inject. KEEP=DIR keeps the members' dirs, logs and the report there.
B=${1:?build dir}
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/rcn-test-XXXXXX")
cleanup() {
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp -a "$T"/. "$KEEP"/ 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT

nodes=5 duration=60 rate=50 why="plain build"
if grep -q '^RCN_SANITIZE:BOOL=ON' "$B/CMakeCache.txt" 2>/dev/null; then
  nodes=3 duration=45 rate=25 why="ASan build (RCN_SANITIZE=ON): shorter"
elif [ -n "${RCN_DRILL_SHORT:-}" ]; then
  nodes=3 duration=45 rate=25 why="RCN_DRILL_SHORT set: shorter"
fi
echo "drill: $nodes members, seed 7, ${duration} s at ${rate} writes/s per member ($why)"

rc=0
python3 "$root/cluster/drill" --build "$B" --nodes "$nodes" --seed 7 --duration "$duration" \
  --rate "$rate" --report "$T/r.json" --work "$T/w" || rc=$?
[ -s "$T/r.json" ] || { echo "FAIL the drill wrote no report (exit $rc)"; exit 1; }

python3 - "$T/r.json" "$rc" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rc = int(sys.argv[2])
bad = []
def check(what, cond):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        bad.append(what)
check("the drill passed (exit %d)" % rc, rc == 0)
check("nothing acknowledged was lost (acked_lost %s)" % r.get("acked_lost"), r.get("acked_lost") == 0)
check("every heal and the end converged", r.get("converged") is True
      and r["convergence_ms"].get("heals", 0) == sum(r["faults_injected"].values()))
types = r.get("fault_types", [])
missing = [t for t in types if not r["faults_injected"].get(t)]
check("every fault type it could inject was injected (%s)" % ", ".join(
    "%s %d" % (t, r["faults_injected"].get(t, 0)) for t in types), types and not missing)
if len(types) < 6:
    print("NOTE only %s could be injected here: %s" % (", ".join(types), "; ".join(r.get("notes", []))))
for k, v in sorted(r.get("checks", {}).items()):
    check("end check %s" % k, v is True)
check("%d writes/s per member attempted (at least 90%% of the rate)" % r.get("writes_per_s_per_member", 0),
      r.get("writes_per_s_per_member", 0) >= 0.9 * r.get("rate_per_member", 50))
check("writes acknowledged by a peer: %d of %d" % (r.get("writes_acked", 0), r.get("writes_attempted", 0)),
      r.get("writes_acked", 0) > 0)
for f in r.get("faults", []):
    if f["type"] in ("partition", "loss"):
        check("fault %d (%s) dropped packets: %d" % (f["n"], f["what"], f.get("dropped_packets", 0)),
              f.get("dropped_packets", 0) > 0)
    if f["type"] == "kill":
        check("fault %d (%s) hit writes in flight: %d" % (f["n"], f["what"], f.get("writes_in_flight", 0)),
              f.get("writes_in_flight", 0) > 0)
print("report: seed %s, acked_lost %s, local_only_lost %s, convergence_ms %s, gap_repairs %s, rss_max_kb %s"
      % (r["seed"], r.get("acked_lost"), r.get("local_only_lost"), json.dumps(r.get("convergence_ms")),
         r.get("gap_repairs"), r.get("rss_max_kb")))
for x in r.get("failures", []):
    print("  failure: %s" % x)
print("%d failed" % len(bad))
sys.exit(1 if bad else 0)
PY
