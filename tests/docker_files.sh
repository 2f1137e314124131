#!/usr/bin/env bash
# docker_files — what can be checked of docker/ with no Docker engine and no network:
#   - the runtime stage of docker/Dockerfile installs exactly the Debian packages of the
#     libraries rcnode and rcctl (the build under test) link, plus tzdata, no more, no less;
#   - the image runs as a fixed non-root user, keeps its node dir on a VOLUME, checks its
#     health through rcctl, and its build context lets in everything the Dockerfile copies;
#   - docker/compose.yaml parses (python3-yaml, when installed; otherwise line checks), the
#     init service mounts exactly the members' volumes, each at /data/REGION of a member it
#     initialises, at the address that member has on the compose network;
#   - docker/init.sh, run with the rcctl under test, makes three node dirs and one roster, and
#     run again changes nothing; an emptied volume stops it before any key is made;
#   - rcnode still cannot bind a DNS name, the reason the compose file gives members fixed
#     addresses (if that check fails, rcn has learned to, and compose.yaml can use names);
#   - the scripts parse (sh -n, bash -n; shellcheck when installed).
# docker/check replays the whole build and the alliance in chroots; it needs root and the
# network, so it is not run here.
B=${1:?build dir}
. "$(dirname "$0")/lib.sh"
D="$(cd "$(dirname "$0")/.." && pwd)/docker"
DF=$D/Dockerfile
COMPOSE=$D/compose.yaml

for f in "$DF" "$COMPOSE" "$D/init.sh" "$D/check" "$D/Dockerfile.dockerignore"; do
  check "${f#"$D"/} exists" test -f "$f"
done

# --- the runtime packages against the binaries ----------------------------------------
# The packages of the libraries each binary names itself (NEEDED); apt brings their own.
listed=$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"$/\1/p' "$DF" | tr ' ' '\n' | sort -u)
declare -A lib_path=()
for bin in "$RCNODE" "$RCCTL"; do
  while read -r soname; do
    lib_path[$soname]=$(ldd "$bin" | awk -v s="$soname" '$1 == s && $3 ~ /^\// { print $3; exit }')
  done < <(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
done
# One dpkg -S for all: each library by the path ldd found and by its real path (the package
# may list either, through the /lib and /usr/lib aliases).
candidates=()
for soname in "${!lib_path[@]}"; do
  p=${lib_path[$soname]}
  [ -z "$p" ] || candidates+=("$p" "$(readlink -f "$p")")
done
owners=$(dpkg -S "${candidates[@]}" 2>/dev/null || true)
needed=
unmapped=
for soname in "${!lib_path[@]}"; do
  p=${lib_path[$soname]}
  pkg=$(awk -F': ' -v a="$p" -v b="$(readlink -f "${p:-/}")" '$2 == a || $2 == b { print $1; exit }' <<<"$owners")
  if [ -z "$p" ] || [ -z "$pkg" ]; then unmapped="$unmapped $soname"; continue; fi
  needed="$needed ${pkg%%:*}"
done
needed=$(tr ' ' '\n' <<<"$needed" | grep -v '^$' | grep -vx 'libc6' | sort -u)
echo "     rcnode and rcctl link the libraries of: $(echo $needed)"
echo "     the Dockerfile's runtime stage installs: $(echo $listed)"
check "every library rcnode and rcctl link maps to a Debian package (dpkg -S)" test -z "$unmapped"
[ -z "$unmapped" ] || echo "     unmapped:$unmapped"
expected=$(printf '%s\ntzdata\n' "$needed" | sort -u)
if grep -q '^lib[a-z]*san[0-9]' <<<"$needed"; then
  # A sanitizer build links its runtime and, without --as-needed in effect, more than the
  # image's plain build: check only that every listed package is one these binaries link.
  echo "     (a sanitizer build: the image's plain build links a subset of these)"
  extra=$(comm -13 <(echo "$expected") <(echo "$listed"))
  check "every package the runtime stage installs is one rcnode or rcctl links, or tzdata" test -z "$extra"
  [ -z "$extra" ] || echo "     not linked: $extra"
else
  check "the runtime stage installs exactly those packages and tzdata (the roster's time zones)" \
    test "$listed" = "$expected"
  [ "$listed" = "$expected" ] || diff <(echo "$expected") <(echo "$listed") | sed 's/^/     (want < > have) /' || true
fi
check "the runtime stage installs them with apt-get, without recommends" \
  grep -q 'apt-get install -y --no-install-recommends \$RUNTIME_PACKAGES' "$DF"

# --- the image ------------------------------------------------------------------------
check "two stages: debian:12 builds, debian:12-slim runs" \
  bash -c "grep -qx 'FROM debian:12 AS build' '$DF' && grep -qx 'FROM debian:12-slim' '$DF'"
check "the build stage installs what tests/deps lists, by running it" grep -qx 'RUN tests/deps.*' "$DF"
check "the build stage builds only rcnode and rcctl" grep -q -- '--target rcnode rcctl' "$DF"
user=$(sed -n 's/^USER \(.*\)$/\1/p' "$DF" | tail -1)
uid=$(grep -o 'useradd [^&]*--uid [0-9]*' "$DF" | grep -o '[0-9]*$')
check "the image runs as a non-root user ($user, uid ${uid:-?}) made with a fixed uid and gid" \
  bash -c "[ -n '$user' ] && [ '$user' != root ] && [ '$user' != 0 ] && [ '${uid:-0}' -ge 1000 ] &&
           grep -q -- 'groupadd --gid $uid' '$DF'"
check "the volume /var/lib/rcn (the node dir is node/ in it) is owned by $user, mode 0700" \
  bash -c "grep -qx 'VOLUME /var/lib/rcn' '$DF' && grep -q 'install -d -o $user -g $user -m 0700 /var/lib/rcn' '$DF'"
hc=$(sed -n '/^HEALTHCHECK/,/[^\\]$/p' "$DF" | tr -d '\\\n')
check "the HEALTHCHECK asks the node through rcctl status, with a timeout" \
  grep -Eq 'CMD rcctl -d /var/lib/rcn/node --timeout [0-9]+ status' <<<"$hc"
check "the entrypoint is rcnode on the node dir in the volume" \
  grep -qx 'ENTRYPOINT \["rcnode", "/var/lib/rcn/node"\]' "$DF"
check "the ports of the endpoints are exposed (7101 pub, 7102 sync)" grep -qx 'EXPOSE 7101 7102' "$DF"
missing_ctx=
while read -r src; do
  let_in=0
  while read -r pat; do
    case "$src" in "$pat"|"$pat"/*) let_in=1 ;; esac
  done < <(sed -n 's/^!//p' "$D/Dockerfile.dockerignore")
  [ "$let_in" = 1 ] || missing_ctx="$missing_ctx $src"
done < <(grep '^COPY ' "$DF" | grep -v -- '--from=' | sed 's/^COPY \(--[^ ]* \)*//' | awk '{ for (i = 1; i < NF; i++) print $i }')
check "Dockerfile.dockerignore lets in every file the Dockerfile copies" test -z "$missing_ctx"
[ -z "$missing_ctx" ] || echo "     left out:$missing_ctx"

# --- the compose file -----------------------------------------------------------------
if python3 -c 'import yaml' 2>/dev/null; then
  out=$(python3 - "$COMPOSE" <<'PY' 2>&1
import ipaddress, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
errors = []
def need(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
svcs = c.get("services") or {}
vols = set((c.get("volumes") or {}).keys())
init = svcs.get("init") or {}
members = {n: s for n, s in svcs.items() if n != "init"}
need(len(members) == 3, "compose: an init service and 3 members (%s)" % ", ".join(members))
env = init.get("environment") or {}
spec = [m.split(":") for m in str(env.get("RCN_MEMBERS", "")).split()]
need(len(spec) == 3 and all(len(m) == 3 for m in spec), "compose: init's RCN_MEMBERS lists 3 REGION:NAME:HOST")
init_mounts = {}
for v in init.get("volumes") or []:
    src, dst = v.split(":")[:2]
    init_mounts[src] = dst
need(set(init_mounts.values()) == {"/data/" + m[0] for m in spec},
     "compose: init mounts one volume at /data/REGION for each region of RCN_MEMBERS")
member_vol, member_ip = {}, {}
for n, s in members.items():
    mv = [v.split(":")[:2] for v in s.get("volumes") or []]
    if len(mv) == 1 and mv[0][1] == "/var/lib/rcn":
        member_vol[n] = mv[0][0]
    for net in (s.get("networks") or {}).values():
        member_ip[n] = (net or {}).get("ipv4_address")
need(len(member_vol) == 3, "compose: each member mounts one volume, at /var/lib/rcn")
need(set(member_vol.values()) == set(init_mounts) and set(init_mounts) <= vols and len(set(member_vol.values())) == 3,
     "compose: init mounts exactly the members' named volumes, one each, all declared")
ok = True
for n, v in member_vol.items():
    region = init_mounts.get(v, "").rsplit("/", 1)[-1]
    host = {m[0]: m[2] for m in spec}.get(region)
    ok = ok and host is not None and host == member_ip.get(n)
need(ok, "compose: the volume of each member is initialised with that member's address as its host")
nets = c.get("networks") or {}
subnets = [ipaddress.ip_network(cfg["subnet"]) for net in nets.values()
           for cfg in ((net or {}).get("ipam") or {}).get("config") or []]
need(all(member_ip[n] and any(ipaddress.ip_address(member_ip[n]) in s for s in subnets) for n in members),
     "compose: each member's fixed address lies in the network's subnet")
need(all((s.get("depends_on") or {}).get("init", {}).get("condition") == "service_completed_successfully"
         for s in members.values()), "compose: the members wait for init to complete successfully")
need(all(s.get("restart") in ("always", "unless-stopped", "on-failure") for s in members.values()),
     "compose: the members have a restart policy")
need(init.get("restart", "no") == "no", "compose: init runs once (no restart)")
tests = [(s.get("healthcheck") or {}).get("test") for s in members.values()]
need(all(t and "rcctl" in " ".join(t) and " status" in " ".join(t) for t in tests),
     "compose: each member's healthcheck runs rcctl status")
need(all(str(s.get("user", "rcn")) not in ("root", "0") for s in members.values()),
     "compose: no member runs as root (they keep the image's USER)")
need(all(s.get("cap_drop") == ["ALL"] and s.get("read_only") for s in svcs.values()),
     "compose: every service drops all capabilities and has a read-only root")
need(set(init.get("cap_add") or []) <= {"CHOWN", "SETUID", "SETGID"} and init.get("network_mode") == "none",
     "compose: init, root only to hand the volumes to rcn, gets CHOWN, SETUID, SETGID and no network")
need(init.get("entrypoint") == ["rcn-init"], "compose: init runs rcn-init (docker/init.sh in the image)")
PY
  ) || true
  while read -r line; do
    case "$line" in
      "ok   "*) ok "${line#ok   }" ;;
      "FAIL "*) bad "${line#FAIL }" ;;
      *) bad "compose.yaml: $line" ;;
    esac
  done <<<"$out"
else
  echo "     (python3-yaml is not installed: line checks of compose.yaml only)"
  check "compose: no tab characters (YAML forbids them in indentation)" bash -c "! grep -q \$'\\t' '$COMPOSE'"
  for v in sh js zj; do
    check "compose: $v mounts $v-data at /var/lib/rcn and init mounts it at /data/…" \
      bash -c "grep -qx '      - $v-data:/var/lib/rcn' '$COMPOSE' && grep -Eqx '      - $v-data:/data/[0-9]{6}' '$COMPOSE'"
  done
  check "compose: three members wait for init to complete successfully" \
    test "$(grep -c 'condition: service_completed_successfully' "$COMPOSE")" -ge 1
  check "compose: the healthcheck runs rcctl status" grep -q 'test: \["CMD-SHELL", "rcctl .* status' "$COMPOSE"
fi

# --- init.sh with the rcctl under test ------------------------------------------------
# As the user rcn it would be in the container (a stand-in `id` says so; no chown, no setpriv).
mkdir -p "$T/bin" "$T/data/310000" "$T/data/320000" "$T/data/330000"
printf '#!/bin/sh\ncase "$1" in -u) echo 10001 ;; -un) echo rcn ;; *) exec /usr/bin/id "$@" ;; esac\n' > "$T/bin/id"
chmod +x "$T/bin/id"
ln -s "$(cd "$B" && pwd)/rcctl" "$T/bin/rcctl"
init() {
  env PATH="$T/bin:$PATH" RCN_DATA="$T/data" \
    RCN_MEMBERS="310000:Shanghai:127.0.71.11 320000:Jiangsu:127.0.71.12 330000:Zhejiang:127.0.71.13" \
    sh "$D/init.sh"
}
sums() { (cd "$T/data" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
rc=0; out=$(init 2>&1) || rc=$?
c=0
[ "$rc" = 0 ] && [ -f "$T/data/330000/node/keys/sign.key" ] &&
  cmp -s "$T/data/310000/node/roster.json" "$T/data/320000/node/roster.json" &&
  cmp -s "$T/data/310000/node/roster.json" "$T/data/330000/node/roster.json" && c=1
check "init.sh makes three node dirs and one roster, the same bytes in each (exit 0)" test "$c" = 1
[ "$rc" = 0 ] || echo "$out" | sed 's/^/     /'
check "the roster lists the three members at the given addresses" \
  bash -c "grep -c 'tcp://127.0.71.1[123]:710[12]' '$T/data/320000/node/roster.json' | grep -qx 6"
check "the volumes and node dirs are private (0700)" \
  test "$(stat -c %a "$T/data/320000") $(stat -c %a "$T/data/320000/node")" = "700 700"
before=$(sums)
rc=0; out=$(init 2>&1) || rc=$?
c=0; [ "$rc" = 0 ] && grep -q 'nothing to do' <<<"$out" && [ "$before" = "$(sums)" ] && c=1
check "init.sh run again exits 0, says there is nothing to do and changes no byte" test "$c" = 1
rm -f "$T/data/320000/node/roster.json"
rc=0; out=$(init 2>&1) || rc=$?
c=0; [ "$rc" = 0 ] && [ "$before" = "$(sums)" ] && c=1
check "init.sh puts a missing roster back, the same bytes" test "$c" = 1
rm -rf "$T/data/330000" && mkdir "$T/data/330000"
rc=0; out=$(init 2>&1) || rc=$?
c=0; [ "$rc" = 1 ] && grep -q '330000: its volume holds no node dir' <<<"$out" && [ -z "$(ls -A "$T/data/330000")" ] && c=1
check "an emptied member volume stops init.sh before it makes a key" test "$c" = 1
rc=0; out=$(env PATH="$T/bin:$PATH" RCN_DATA="$T/data" RCN_MEMBERS="310000:Shanghai" sh "$D/init.sh" 2>&1) || rc=$?
c=0; [ "$rc" = 1 ] && grep -q 'is not REGION:NAME:HOST' <<<"$out" && c=1
check "a malformed RCN_MEMBERS is refused by name" test "$c" = 1

# --- why the compose file gives members fixed addresses -------------------------------
port=$(free_port)
"$RCCTL" init --dir "$T/n" --region 310000 --name Shanghai \
  --pub "tcp://localhost:$port" --sync "tcp://localhost:$((port + 1))" > "$T/n.card" 2>/dev/null
"$RCCTL" roster build "$T/n.card" --rounds "" > "$T/n/roster.json"
rc=0; out=$(timeout 10 "$RCNODE" "$T/n" 2>&1) || rc=$?
c=0; [ "$rc" = 1 ] && grep -q "cannot bind tcp://localhost:$port" <<<"$out" && c=1
check "rcnode refuses to bind a DNS name in its roster endpoint (compose.yaml uses fixed addresses)" \
  test "$c" = 1
[ "$c" = 1 ] || echo "     rcnode: exit $rc: $out"

# --- the scripts ----------------------------------------------------------------------
check "docker/init.sh parses (sh -n)" sh -n "$D/init.sh"
check "docker/check parses (bash -n)" bash -n "$D/check"
check "docker/init.sh and docker/check are executable" test -x "$D/init.sh" -a -x "$D/check"
if command -v shellcheck >/dev/null; then
  check "shellcheck finds nothing in docker/init.sh (POSIX sh) and docker/check" \
    bash -c "shellcheck -s sh '$D/init.sh' && shellcheck '$D/check'"
else
  echo "     (shellcheck is not installed: sh -n and bash -n only)"
fi
finish
