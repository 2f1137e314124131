#!/usr/bin/env bash
# cli_export — the log leaves the node in a form anyone can re-verify from DESIGN §3 alone:
# `rcctl export` re-verified by tests/verify_export.py (an independent pure-Python
# implementation: its own header parser, Ed25519 and hash-chain checks); filters; and
# tampering caught both by the independent verifier and by `rcctl verify-log`, which names
# the first fault.
B=${1:?build dir}
. "$(dirname "$0")/lib.sh"
VERIFY="python3 $(cd "$(dirname "$0")" && pwd)/verify_export.py"

new_member "$T/sh" 310000 Shanghai "$(free_port)"
"$RCCTL" roster build "$T/sh.card" --rounds "" > "$T/roster.json"
cp "$T/roster.json" "$T/sh/roster.json"
start_node "$T/sh"
for i in $(seq 12); do
  st=actual; [ $((i % 3)) = 0 ] && st=exercise
  "$RCCTL" -d "$T/sh" alert send --severity moderate --text "notice $i: 中文 text" --status $st >/dev/null
done
stop_node "$T/sh"

"$RCCTL" -d "$T/sh" export > "$T/all.jsonl"
# 14 entries: the node's own SealKeys (seqs 1 and 2, this period's and the next's, written by
# itself at its first start), 12 alerts.
check "export has one line per entry" test "$(wc -l < "$T/all.jsonl")" = 14
check "each line names region, origin, seq, kind, status, time, hash, prev, signed, sig" \
  python3 -c '
import json,sys
need={"region","origin","seq","kind","status","time_ms","hash","prev","signed","sig"}
for l in open(sys.argv[1]):
    o=json.loads(l); assert need<=o.keys(), need-o.keys()
    assert o["region"]=="310000" and o["kind"]==("seal_key" if o["seq"]<=2 else "alert")
' "$T/all.jsonl"
check "drill entries are marked exercise at the source" test "$(grep -c '"status":"exercise"' "$T/all.jsonl")" = 4
check "the independent verifier accepts the export" $VERIFY --roster "$T/roster.json" "$T/all.jsonl"
"$RCCTL" -d "$T/sh" export --origin 310000 --from 5 > "$T/from5.jsonl"
check "export --from 5 starts at seq 5" bash -c "head -1 '$T/from5.jsonl' | grep -q '\"seq\":5,' && test \$(wc -l < '$T/from5.jsonl') = 10"
origin=$(python3 -c 'import json,sys;print(json.loads(open(sys.argv[1]).readline())["origin"])' "$T/all.jsonl")
check "export --origin takes the origin's key too" test "$("$RCCTL" -d "$T/sh" export --origin "$origin" | wc -l)" = 14
expect_fail 2 "not in the roster" "export --origin refuses a region not in the roster" -- "$RCCTL" -d "$T/sh" export --origin 320000
expect_fail 2 "--from" "export --from refuses 0" -- "$RCCTL" -d "$T/sh" export --from 0

# Tampering with an exported line: one byte of the signed body.
python3 - "$T/all.jsonl" "$T/tampered.jsonl" <<'PY'
import base64, json, sys
lines = open(sys.argv[1]).read().splitlines()
o = json.loads(lines[6]); b = bytearray(base64.b64decode(o["signed"])); b[-1] ^= 1
o["signed"] = base64.b64encode(bytes(b)).decode(); lines[6] = json.dumps(o)
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PY
expect_fail 1 "seq 7" "the independent verifier names a tampered entry" -- $VERIFY "$T/tampered.jsonl"
sed '4d' "$T/all.jsonl" > "$T/gap.jsonl"
expect_fail 1 "seq" "the independent verifier notices a missing entry" -- $VERIFY "$T/gap.jsonl"

# Tampering with the LMDB file itself: flip one byte of seq 9's signature on disk (in every
# copy: LMDB's copy-on-write leaves older copies of a page in free pages).
check "verify-log passes on the untouched log" "$RCCTL" verify-log "$T/sh"
cp -a "$T/sh" "$T/bad"
python3 - "$T/all.jsonl" "$T/bad/data/data.mdb" <<'PY'
import base64, json, sys
o = json.loads(open(sys.argv[1]).read().splitlines()[8])
sig = base64.b64decode(o["sig"])
data = bytearray(open(sys.argv[2], "rb").read())
at = data.find(sig); assert at >= 0, "signature not found in data.mdb"
while at >= 0:
    data[at + 10] ^= 0x40
    at = data.find(sig, at + 1)
open(sys.argv[2], "wb").write(bytes(data))
PY
expect_fail 1 "seq 9" "verify-log names the first fault (seq 9)" -- "$RCCTL" verify-log "$T/bad"
expect_fail 1 "roster" "verify-log needs the roster to judge origins" -- bash -c "rm '$T/bad/roster.json'; '$RCCTL' verify-log '$T/bad'"
finish
