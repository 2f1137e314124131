#!/usr/bin/env bash
# ports — cluster/ports, the port picker of every local alliance (cluster/up, the tests, the
# drill, the benchmark): ranges below the kernel's ephemeral range, in aligned blocks reserved
# for their owner until it gives them back or dies, never handed out twice while held, a block
# with a port in use skipped, wrong arguments refused with exit 2.
#
# The exact cases run on a private reservation dir (RCN_PORTS_DIR) over a range of two blocks
# (RCN_PORTS_RANGE) that this test first reserves for itself in the shared dir, so the tests
# running beside it neither disturb the outcome nor are disturbed.
B=${1:?build dir}
. "$(dirname "$0")/lib.sh"
low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)

# The real picker, shared dir: two blocks for this test.
base=$("$PORTS" 150 --owner $$)
check "a pick of 150 ports prints a base" test -n "$base"
check "…aligned on 100, from 10000" eval '[ $((base % 100)) = 0 ] && [ "$base" -ge 10000 ]'
check "…whose whole range ends below the ephemeral range ($low)" test $((base + 150)) -le "$low"
check "…and reserves the two blocks it spans for this test" \
  eval '[ "$(cat /tmp/rcn-ports/$((base / 100)) /tmp/rcn-ports/$((base / 100 + 1)))" = "$$
$$" ]'
b=$("$PORTS" 2)
check "a pick of the port pair of a member keeps off them" \
  eval '[ -n "$b" ] && [ $((b / 100)) != $((base / 100)) ] && [ $((b / 100)) != $((base / 100 + 1)) ]'

# Private dir, the range of those two blocks: A and A+100.
export RCN_PORTS_DIR=$T/pd RCN_PORTS_RANGE="$base-$((base + 200))"
A=$base
held() { [ "$(cat "$RCN_PORTS_DIR/$(($2 / 100))" 2>/dev/null)" = "$1" ]; }
sleep 300 & OWNER=$!; PIDS+=("$OWNER")     # a stand-in owner, alive until killed below

check "an owner's pick reserves the block it prints" \
  eval 'got=$("$PORTS" 100 --owner "$OWNER") && held "$OWNER" "$got"'
other=$(( got == A ? A + 100 : A ))
all_other=1
for i in $(seq 10); do
  b=$("$PORTS" 100) || { all_other=0; break; }
  [ "$b" = "$other" ] || { all_other=0; break; }
done
check "10 picks without an owner all get the other block" test $all_other = 1
check "a second owner's pick gets the other block" \
  eval '[ "$("$PORTS" 100 --owner $$)" = "$other" ] && held $$ "$other"'
expect_fail 1 "no free range of 100 ports" "with both blocks held, a pick fails" -- "$PORTS" 100
"$PORTS" --release $$
check "release gives back its owner's block" test ! -e "$RCN_PORTS_DIR/$((other / 100))"
check "…and not another owner's" held "$OWNER" "$got"

kill -KILL "$OWNER"; wait "$OWNER" 2>/dev/null || true
"$PORTS" 100 > /dev/null
check "a dead owner's block is taken back by the next pick" \
  test ! -e "$RCN_PORTS_DIR/$((got / 100))"

# A port somebody listens on in block A: every pick gets A+100.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
print("listening", flush=True); time.sleep(120)' $((A + 7)) > "$T/listener.out" &
LISTENER=$!; PIDS+=("$LISTENER")
for i in $(seq 50); do grep -q listening "$T/listener.out" 2>/dev/null && break; sleep 0.1; done
check "a listener is up on a port of the first block" grep -q listening "$T/listener.out"
skipped=1
for i in $(seq 10); do
  b=$("$PORTS" 100 --owner $$) || { skipped=0; break; }
  [ "$b" = $((A + 100)) ] || { skipped=0; break; }
  "$PORTS" --release $$
done
check "10 picks all skip the block with a port in use" test $skipped = 1
expect_fail 1 "no free range of 200 ports" "a pick that cannot avoid that port fails" -- \
  "$PORTS" 200

expect_fail 2 'COUNT must be a positive number, not "0"' "a count of 0 is refused" -- "$PORTS" 0
expect_fail 2 '--owner must be a positive number, not "x"' "a bad owner is refused" -- \
  "$PORTS" 5 --owner x
expect_fail 2 "usage: ports COUNT" "no arguments is refused with the usage" -- "$PORTS"
expect_fail 1 "do not fit between" "more ports than the range holds is refused" -- "$PORTS" 300
expect_fail 2 "RCN_PORTS_RANGE must be LOW-HIGH" "a bad RCN_PORTS_RANGE is refused" -- \
  env RCN_PORTS_RANGE=5-7 "$PORTS" 2
unset RCN_PORTS_DIR RCN_PORTS_RANGE
kill -KILL "$LISTENER"; wait "$LISTENER" 2>/dev/null || true
finish
