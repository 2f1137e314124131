#!/usr/bin/env bash
# bench_quick: `bench/run --quick` works end to end on the build under test — every phase runs,
# the table is printed, and the JSON holds every figure the issue names as a number (Hypercore's
# ratio is null: --quick installs nothing). Its figures are not judged: on a loaded CI machine
# they mean nothing (README "Performance" has the real run). Not run under ASan (CMake skips it).
set -euo pipefail
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/rcn-bench-quick.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

out=$("$root/bench/run" --quick --build "$build" --work "$tmp/work" --json "$tmp/bench.json")
echo "$out"
grep -q "Ed25519 checks, one core (the limit)" <<< "$out" || { echo "FAIL: no table"; exit 1; }
python3 - "$tmp/bench.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
keys = ["verify_limit_per_s", "ingest_per_s", "ingest_ratio", "ingest_2core_ratio",
        "repl_p50_ms", "repl_p99_ms", "fsync_p99_ms", "repl_peak_per_s", "catchup_per_s",
        "catchup_ratio", "pass_verify_ratio", "rss_mib_at_1m"]
bad = [k for k in keys if not isinstance(d.get(k), (int, float)) or isinstance(d.get(k), bool)
       or d[k] <= 0]
assert not bad, f"missing or non-positive figures: {bad}"
assert "hypercore_ratio" in d and d["hypercore_ratio"] is None, "quick must not run Hypercore"
lf = d["run"]["limit_for_ratio"]
assert abs(d["ingest_ratio"] - d["ingest_per_s"] / lf["ingest_ratio"]) < 1e-6
assert abs(d["pass_verify_ratio"] - d["extra"]["pass_verify_per_s"] / lf["pass_verify_ratio"]) < 1e-6
runs = sorted(d["run"]["limit_runs"])
assert d["verify_limit_per_s"] == runs[len(runs) // 2], "the limit is the median of the runs"
assert d["run"]["quick"] is True and d["run"]["work_fs"] not in ("tmpfs", "ramfs")
for p in ("limit_1", "pass", "ingest", "repl", "catchup", "limit_3"):
    assert p in d["phases"], f"phase {p} missing"
print("bench_quick: ok,", ", ".join(f"{k}={d[k]:.4g}" for k in keys))
PY
# Bad input gets a clear error and exit 2.
set +e
err=$("$root/bench/run" --quick --build "$build" --frobnicate 2>&1); rc=$?
set -e
[ "$rc" = 2 ] && grep -q "unrecognized arguments: --frobnicate" <<< "$err" ||
  { echo "FAIL: a wrong flag gave rc=$rc: $err"; exit 1; }
echo "bench_quick: passed"
