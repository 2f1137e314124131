#!/bin/sh
# rcn-init — the init service of docker/compose.yaml: it makes every member's node dir (keys
# and node.conf, by `rcctl init`) as node/ in that member's volume, then builds the alliance
# roster from their cards and puts the same bytes in every node dir. (node/, not the volume's
# root: `rcctl init` renames a finished node dir into place, which a mount point refuses.) Run again, it changes nothing: a member
# whose node.conf exists keeps its keys, and a roster that exists is kept.
# The one design decision: it never makes a second roster. A member volume found empty while
# some member holds the roster (a volume lost or removed) stops it before it makes any key,
# since new keys would not be in the roster the others hold; the message says what to do.
#
# Environment (set in compose.yaml):
#   RCN_MEMBERS      "REGION:NAME:HOST …", one word per member; HOST is the address the
#                    member's container binds and its peers connect to (see compose.yaml)
#   RCN_DATA         where the volumes are mounted, one per member at RCN_DATA/REGION (/data);
#                    the members mount theirs at /var/lib/rcn and run /var/lib/rcn/node
#   RCN_PUB_PORT, RCN_SYNC_PORT   the ports of every member (7101, 7102)
#   RCN_ROSTER_OPTS  the alliance policy, words passed to `rcctl roster build`
# Started as root (a fresh named volume belongs to root), it gives the volumes to the user rcn
# and drops root before anything else; as rcn, it goes straight to work.
set -eu

: "${RCN_MEMBERS:?RCN_MEMBERS must list the members as REGION:NAME:HOST}"
RCN_DATA=${RCN_DATA:-/data}
RCN_PUB_PORT=${RCN_PUB_PORT:-7101}
RCN_SYNC_PORT=${RCN_SYNC_PORT:-7102}
RCN_ROSTER_OPTS=${RCN_ROSTER_OPTS---rounds 10:00,15:00,17:00 --timezone Asia/Shanghai --grace 600 --sla 3600}

say() { echo "rcn-init: $*" >&2; }
die() { say "$*"; exit 1; }

if [ "$(id -u)" = 0 ]; then
  for m in $RCN_MEMBERS; do
    d=$RCN_DATA/${m%%:*}
    [ -d "$d" ] || die "$d is not there: mount the member's volume at $d"
    chown rcn:rcn "$d"
  done
  exec setpriv --reuid=rcn --regid=rcn --clear-groups -- "$0" "$@"
fi
[ "$(id -un)" = rcn ] || say "warning: running as $(id -un), not rcn"

umask 077
cards=$(mktemp -d)
trap 'rm -rf "$cards"' EXIT
roster_at=
for m in $RCN_MEMBERS; do
  [ ! -e "$RCN_DATA/${m%%:*}/node/roster.json" ] || roster_at=${m%%:*}
done
first=
regions=
changed=
for m in $RCN_MEMBERS; do
  region=${m%%:*}; rest=${m#*:}; name=${rest%%:*}; host=${rest#*:}
  case "$m" in *:*:*) ;; *) die "RCN_MEMBERS: \"$m\" is not REGION:NAME:HOST" ;; esac
  [ -d "$RCN_DATA/$region" ] || die "$RCN_DATA/$region is not there: mount the member's volume there"
  chmod 0700 "$RCN_DATA/$region"
  d=$RCN_DATA/$region/node
  if [ -e "$d/node.conf" ]; then
    say "$region: node dir exists, keys kept"
  elif [ -n "$roster_at" ]; then
    die "$region: its volume holds no node dir, but $roster_at holds the alliance roster, which could not list new keys for $region (was a volume removed?). Restore that volume, or remove them all (docker compose down -v) to start a new alliance"
  else
    rcctl init --dir "$d" --region "$region" --name "$name" \
      --pub "tcp://$host:$RCN_PUB_PORT" --sync "tcp://$host:$RCN_SYNC_PORT" >/dev/null
    changed=1
  fi
  rcctl -d "$d" card > "$cards/$region.card"
  first=${first:-$d}
  regions="$regions $region"
done
[ -n "$first" ] || die "RCN_MEMBERS lists no member"

# The roster: built once, in the first member's volume, then copied byte for byte.
if [ ! -e "$first/roster.json" ]; then
  for m in $RCN_MEMBERS; do
    [ ! -e "$RCN_DATA/${m%%:*}/node/roster.json" ] ||
      die "${m%%:*} holds a roster but ${first%/node} does not: the volumes are from different alliances; remove them all (docker compose down -v) to start over"
  done
  # shellcheck disable=SC2086 # RCN_ROSTER_OPTS is a list of words on purpose
  rcctl roster build "$cards"/*.card $RCN_ROSTER_OPTS > "$first/roster.json.new"
  mv "$first/roster.json.new" "$first/roster.json"
  say "roster built from the cards of$regions"
  changed=1
fi
for m in $RCN_MEMBERS; do
  d=$RCN_DATA/${m%%:*}/node
  if [ ! -e "$d/roster.json" ]; then
    cp "$first/roster.json" "$d/roster.json.new"
    mv "$d/roster.json.new" "$d/roster.json"
    changed=1
  elif ! cmp -s "$first/roster.json" "$d/roster.json"; then
    die "${m%%:*}: its roster.json differs from that in ${first%/node}; every member must hold the same bytes"
  fi
done
if [ -z "$changed" ]; then
  say "nothing to do: every member has its keys and the roster"
fi
say "roster $(rcctl roster hash "$first/roster.json")"
