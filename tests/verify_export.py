#!/usr/bin/env python3
"""verify_export.py — an independent check of an rcn export against DESIGN.md §3.

It shares no code with the C implementation on purpose: the header is parsed here, Ed25519
verification is RFC 8032 written out in Python integers, and the hash comes from hashlib. If
the C code and this script ever disagree about an entry, one of them has misread the design.

Input: JSON lines (a file argument, or stdin), one entry per line, with at least
  origin (hex), seq, kind, status, time_ms, hash (hex), prev (hex),
  signed (base64 of the signed bytes), sig (base64 of the 64-byte signature).
`kind` and `status` may be numbers or names ("alert", "KIND_CASE_NOTICE", "CaseNotice";
"actual", "exercise", "test").

Checks, per entry: the 92-byte header parses and every field equals the JSON's; the
signature verifies under `origin`; BLAKE2b-256(signed | sig) equals `hash`. Per origin: seqs
are 1..n without gaps or repeats, seq 1 has an all-zero prev, and prev of n is the hash of
n-1 — except at a Recovery (kind 11, body: first_lost, last_lost, reason) at seq n, which
declares first_lost..n-1 lost: its prev is the hash of first_lost-1 (zero when that is 0) and
the chain may skip the span (entries of it that are present are fine). With --roster, every
origin is a member's sign_key.

Prints "verified N entries from K origins" and exits 0, or names the first fault (line,
origin, seq, what) and exits 1. `--self-test` runs the RFC 8032 vectors 1-3 and a small
synthetic log through the same code paths. Standard library only; clarity over speed.
"""

import argparse
import base64
import binascii
import hashlib
import json
import sys

# ---------------------------------------------------------------------------------------------
# Ed25519 (RFC 8032 §5.1), with the points in extended homogeneous coordinates (X, Y, Z, T),
# x = X/Z, y = Y/Z, x*y = T/Z.

P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493      # order of the base point
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

IDENTITY = (0, 1, 1, 0)


def _recover_x(y, sign):
    """x from y and x's low bit (RFC 8032 §5.1.3 step 2-4), or None."""
    if y >= P:
        return None
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x = (u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P)) % P
    if (v * x * x - u) % P != 0:
        x = x * SQRT_M1 % P
        if (v * x * x - u) % P != 0:
            return None
    if x == 0 and sign == 1:
        return None
    if x & 1 != sign:
        x = P - x
    return x


G_Y = 4 * pow(5, P - 2, P) % P
G_X = _recover_x(G_Y, 0)
G = (G_X, G_Y, 1, G_X * G_Y % P)


def point_add(p1, p2):
    """RFC 8032 §5.1.4, complete for all inputs on the curve."""
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    dd = 2 * z1 * z2 % P
    e, f, g, h = b - a, dd - c, dd + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def point_double(p1):
    return point_add(p1, p1)


def point_neg(p1):
    x, y, z, t = p1
    return ((-x) % P, y, z, (-t) % P)


def point_equal(p1, p2):
    x1, y1, z1, _ = p1
    x2, y2, z2, _ = p2
    return (x1 * z2 - x2 * z1) % P == 0 and (y1 * z2 - y2 * z1) % P == 0


def scalar_mult(k, pt):
    result = IDENTITY
    while k > 0:
        if k & 1:
            result = point_add(result, pt)
        pt = point_double(pt)
        k >>= 1
    return result


def double_scalar_mult(k1, p1, k2, p2):
    """k1*p1 + k2*p2 with one shared chain of doublings (Straus)."""
    both = point_add(p1, p2)
    result = IDENTITY
    for i in range(max(k1.bit_length(), k2.bit_length()) - 1, -1, -1):
        result = point_double(result)
        b1, b2 = (k1 >> i) & 1, (k2 >> i) & 1
        if b1 and b2:
            result = point_add(result, both)
        elif b1:
            result = point_add(result, p1)
        elif b2:
            result = point_add(result, p2)
    return result


def point_encode(pt):
    x, y, z, _ = pt
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def point_decode(s):
    """The point encoded by 32 bytes s, or None when s is not a canonical encoding."""
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def _has_small_order(pt):
    return point_equal(scalar_mult(8, pt), IDENTITY)


def _sha512_int(*parts):
    h = hashlib.sha512()
    for part in parts:
        h.update(part)
    return int.from_bytes(h.digest(), "little")


def ed25519_public_key(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return point_encode(scalar_mult(a, G))


def ed25519_sign(seed, msg):
    """RFC 8032 §5.1.6. Used by the self-test and to make known-answer vectors."""
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    pub = point_encode(scalar_mult(a, G))
    r = _sha512_int(h[32:], msg) % L
    rs = point_encode(scalar_mult(r, G))
    k = _sha512_int(rs, pub, msg) % L
    s = (r + k * a) % L
    return rs + s.to_bytes(32, "little")


def ed25519_verify(pub, msg, sig):
    """RFC 8032 §5.1.7, checked without the cofactor ([S]B == R + [k]A, compared encoded),
    and, as libsodium does, refusing a key or an R of small order."""
    if len(pub) != 32 or len(sig) != 64:
        return False
    a_pt = point_decode(pub)
    if a_pt is None or _has_small_order(a_pt):
        return False
    r_bytes = sig[:32]
    r_pt = point_decode(r_bytes)
    if r_pt is None or _has_small_order(r_pt):
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= L:
        return False
    k = _sha512_int(r_bytes, pub, msg) % L
    check = double_scalar_mult(s, G, k, point_neg(a_pt))    # [S]B - [k]A
    return point_encode(check) == r_bytes


# ---------------------------------------------------------------------------------------------
# Entries (DESIGN.md §3)

MAGIC = b"RCN1"
HEADER_SIZE = 92
SIG_SIZE = 64
ENTRY_MAX = 65536
ZERO_HASH = bytes(32)

KINDS = ["unspecified", "alert", "case_notice", "case_ack", "pass_issue", "pass_revoke",
         "transfer_order", "transfer_step", "round_report", "round_ack", "seal_key",
         "recovery"]
STATUSES = ["actual", "exercise", "test"]


def _norm(name):
    name = name.strip().lower()
    for prefix in ("kind_", "status_"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name.replace("_", "").replace("-", "")


def _enum_value(value, names, what):
    """A JSON kind/status: a number, a numeric string, or a name from proto/rcn.proto."""
    if isinstance(value, bool):
        raise ValueError("%s is not a number or a name" % what)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        wanted = _norm(value)
        for i, name in enumerate(names):
            if _norm(name) == wanted:
                return i
        raise ValueError("%s %r is not a known name" % (what, value))
    raise ValueError("%s is not a number or a name" % what)


def _int_field(value, what):
    if isinstance(value, bool):
        raise ValueError("%s is not an integer" % what)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise ValueError("%s is not an integer" % what)


def _hex_field(value, size, what):
    if not isinstance(value, str):
        raise ValueError("%s is not a hex string" % what)
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ValueError("%s is not hex" % what) from None
    if len(raw) != size:
        raise ValueError("%s is %d bytes, not %d" % (what, len(raw), size))
    return raw


def _b64_field(value, what):
    if not isinstance(value, str):
        raise ValueError("%s is not a base64 string" % what)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("%s is not base64" % what) from None


def parse_header(signed):
    """The header fields of the signed bytes, or raises ValueError naming what is wrong."""
    if len(signed) < HEADER_SIZE:
        raise ValueError("signed bytes are %d long, shorter than the %d-byte header"
                         % (len(signed), HEADER_SIZE))
    if len(signed) + SIG_SIZE > ENTRY_MAX:
        raise ValueError("entry is %d bytes, over %d" % (len(signed) + SIG_SIZE, ENTRY_MAX))
    if signed[0:4] != MAGIC:
        raise ValueError("magic is %r, not %r" % (signed[0:4], MAGIC))
    h = {
        "origin": signed[4:36],
        "seq": int.from_bytes(signed[36:44], "big"),
        "prev": signed[44:76],
        "time_ms": int.from_bytes(signed[76:84], "big"),
        "kind": int.from_bytes(signed[84:88], "big"),
        "status": int.from_bytes(signed[88:92], "big"),
        "body": signed[92:],
    }
    if h["seq"] == 0:
        raise ValueError("seq is 0")
    if h["status"] > 2:
        raise ValueError("status is %d, not 0, 1 or 2" % h["status"])
    if h["seq"] == 1 and h["prev"] != ZERO_HASH:
        raise ValueError("seq 1 with a non-zero prev")
    return h


class Fault(Exception):
    pass


KIND_RECOVERY = 11


def _varint(buf, pos):
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def recovery_span(body):
    """(first_lost, last_lost) of a Recovery body (protobuf, DESIGN §3 and proto/rcn.proto),
    read by hand, or raises ValueError."""
    fields, pos = {}, 0
    while pos < len(body):
        key, pos = _varint(body, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            fields[number], pos = _varint(body, pos)
        elif wire == 2:
            size, pos = _varint(body, pos)
            if pos + size > len(body):
                raise ValueError("truncated field %d" % number)
            pos += size
        elif wire == 1 or wire == 5:
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError("wire type %d" % wire)
    if pos != len(body):
        raise ValueError("truncated")
    return fields.get(1, 0), fields.get(2, 0)


def check_entry(obj):
    """Checks one export record on its own. Returns (origin, seq, prev, hash, kind, body) or
    raises Fault with what is wrong; the caller adds line, origin and seq."""
    if not isinstance(obj, dict):
        raise Fault("line is not a JSON object")
    missing = [k for k in ("origin", "seq", "kind", "status", "time_ms", "hash", "prev",
                           "signed", "sig") if k not in obj]
    if missing:
        raise Fault("missing field(s): " + ", ".join(missing))
    try:
        origin = _hex_field(obj["origin"], 32, "origin")
        seq = _int_field(obj["seq"], "seq")
        kind = _enum_value(obj["kind"], KINDS, "kind")
        status = _enum_value(obj["status"], STATUSES, "status")
        time_ms = _int_field(obj["time_ms"], "time_ms")
        want_hash = _hex_field(obj["hash"], 32, "hash")
        prev = _hex_field(obj["prev"], 32, "prev")
        signed = _b64_field(obj["signed"], "signed")
        sig = _b64_field(obj["sig"], "sig")
    except ValueError as exc:
        raise Fault(str(exc)) from None
    if len(sig) != SIG_SIZE:
        raise Fault("sig is %d bytes, not %d" % (len(sig), SIG_SIZE))
    try:
        h = parse_header(signed)
    except ValueError as exc:
        raise Fault("header: %s" % exc) from None
    for name, mine in (("origin", origin), ("seq", seq), ("prev", prev), ("time_ms", time_ms),
                       ("kind", kind), ("status", status)):
        if h[name] != mine:
            shown = (lambda v: v.hex() if isinstance(v, bytes) else v)
            raise Fault("%s in the signed header is %s, the JSON says %s"
                        % (name, shown(h[name]), shown(mine)))
    if not ed25519_verify(origin, signed, sig):
        raise Fault("signature does not verify")
    got_hash = hashlib.blake2b(signed + sig, digest_size=32).digest()
    if got_hash != want_hash:
        raise Fault("hash is %s, BLAKE2b-256(signed | sig) is %s"
                    % (want_hash.hex(), got_hash.hex()))
    return origin, seq, prev, got_hash, kind, h["body"]


def load_roster(path):
    with open(path, "rb") as f:
        roster = json.load(f)
    members = roster.get("members") if isinstance(roster, dict) else None
    if not isinstance(members, list):
        raise ValueError("%s: no \"members\" list" % path)
    keys = set()
    for i, m in enumerate(members):
        if not isinstance(m, dict) or not isinstance(m.get("sign_key"), str):
            raise ValueError("%s: member %d has no sign_key" % (path, i))
        keys.add(_hex_field(m["sign_key"], 32, "member %d sign_key" % i))
    return keys


def check_recovery(seq, prev, body, expect, hashes):
    """What is wrong with a Recovery at seq that does not simply follow seq expect-1, or None.
    It must declare first..seq-1 lost with first-1 held (first <= expect) and link to it."""
    try:
        first, last = recovery_span(body)
    except ValueError as exc:
        return "a Recovery that skips seqs has a body that does not parse (%s)" % exc
    if first < 1 or last != seq - 1 or first > last:
        return "a Recovery at seq %d declares %d..%d lost, not a span ending at %d" % (
            seq, first, last, seq - 1)
    if first > expect:
        return "gap: seqs %d..%d missing (the Recovery declares only %d..%d lost)" % (
            expect, first - 1, first, last)
    if prev != hashes.get(first - 1):
        return "the Recovery's prev is not the hash of seq %d" % (first - 1)
    return None


def verify_lines(lines, members=None):
    """Verifies an iterable of export lines. Returns (n_entries, n_origins, faults), faults
    being (line, origin hex or None, seq or None, what) sorted by line."""
    faults = []
    chains = {}         # origin -> list of (seq, prev, hash, line, kind, body)
    count = 0
    for lineno, line in enumerate(lines, 1):
        if isinstance(line, bytes):
            line = line.decode("utf-8", errors="replace")
        if not line.strip():
            continue
        count += 1
        obj = None
        try:
            obj = json.loads(line)
            origin, seq, prev, hsh, kind, body = check_entry(obj)
        except (ValueError, Fault) as exc:
            what = str(exc) if isinstance(exc, Fault) else "not JSON: %s" % exc
            o = obj.get("origin") if isinstance(obj, dict) else None
            s = obj.get("seq") if isinstance(obj, dict) else None
            faults.append((lineno, o if isinstance(o, str) else None, s, what))
            continue
        if members is not None and origin not in members:
            faults.append((lineno, origin.hex(), seq, "origin is not a roster member"))
        chains.setdefault(origin, []).append((seq, prev, hsh, lineno, kind, body))

    for origin, chain in chains.items():
        chain.sort(key=lambda c: (c[0], c[3]))
        expect = 1
        below = None
        hashes = {0: ZERO_HASH}     # seq -> hash of what this origin's chain holds
        for seq, prev, hsh, lineno, kind, body in chain:
            o = origin.hex()
            if below is not None and seq == below[0]:
                what = ("duplicate of line %d" % below[3] if hsh == below[2]
                        else "fork: a different entry with this seq is on line %d" % below[3])
                faults.append((lineno, o, seq, what))
                continue
            links = seq == expect and prev == hashes[expect - 1]
            if not links and kind == KIND_RECOVERY and seq >= expect:
                what = check_recovery(seq, prev, body, expect, hashes)
                if what:
                    faults.append((lineno, o, seq, what))
            elif seq != expect:
                what = ("chain starts at seq %d, not 1" % seq if expect == 1
                        else "gap: seq %d missing" % expect if seq == expect + 1
                        else "gap: seqs %d..%d missing" % (expect, seq - 1))
                faults.append((lineno, o, seq, what))
            elif seq == 1:
                if prev != ZERO_HASH:
                    faults.append((lineno, o, seq, "seq 1 with a non-zero prev"))
            elif prev != below[2]:
                faults.append((lineno, o, seq, "prev %s is not the hash %s of seq %d"
                               % (prev.hex(), below[2].hex(), below[0])))
            below = (seq, prev, hsh, lineno)
            hashes[seq] = hsh
            expect = seq + 1
    faults.sort(key=lambda f: f[0])
    return count, len(chains), faults


# ---------------------------------------------------------------------------------------------
# Self-test

RFC8032_VECTORS = [   # RFC 8032 §7.1, TEST 1-3: secret seed, public key, message, signature
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
     "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
     "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
     "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e"
     "458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
     "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290"
     "ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
]


def make_entry(seed, seq, prev, time_ms, kind, status, body):
    """An export record signed with seed (self-test only)."""
    origin = ed25519_public_key(seed)
    signed = (MAGIC + origin + seq.to_bytes(8, "big") + prev + time_ms.to_bytes(8, "big")
              + kind.to_bytes(4, "big") + status.to_bytes(4, "big") + body)
    sig = ed25519_sign(seed, signed)
    hsh = hashlib.blake2b(signed + sig, digest_size=32).digest()
    return {"origin": origin.hex(), "seq": seq, "kind": kind, "status": status,
            "time_ms": time_ms, "hash": hsh.hex(), "prev": prev.hex(),
            "signed": base64.b64encode(signed).decode(), "sig": base64.b64encode(sig).decode()}


def self_test():
    failures = 0

    def expect(cond, what):
        nonlocal failures
        if not cond:
            failures += 1
            print("self-test FAIL: " + what, file=sys.stderr)

    for i, (sk, pk, msg, sig) in enumerate(RFC8032_VECTORS, 1):
        sk, pk, msg, sig = (bytes.fromhex(x) for x in (sk, pk, msg, sig))
        expect(ed25519_public_key(sk) == pk, "RFC 8032 test %d: public key" % i)
        expect(ed25519_sign(sk, msg) == sig, "RFC 8032 test %d: signature" % i)
        expect(ed25519_verify(pk, msg, sig), "RFC 8032 test %d: verifies" % i)
        expect(not ed25519_verify(pk, msg + b"x", sig), "RFC 8032 test %d: other message" % i)
        for pos in (0, 31, 32, 63):
            bad = bytearray(sig)
            bad[pos] ^= 0x01
            expect(not ed25519_verify(pk, msg, bytes(bad)),
                   "RFC 8032 test %d: flipped sig byte %d" % (i, pos))
        s = int.from_bytes(sig[32:], "little")
        malleable = sig[:32] + (s + L).to_bytes(32, "little")
        expect(not ed25519_verify(pk, msg, malleable), "RFC 8032 test %d: S + L refused" % i)
    expect(not ed25519_verify(bytes(32), b"", bytes(64)), "small-order key refused")

    # A small log of two origins, interleaved, then faults of each kind.
    seeds = [bytes([1]) * 32, bytes([2]) * 32]
    log = []
    for seed in seeds:
        prev = ZERO_HASH
        for seq in (1, 2, 3):
            rec = make_entry(seed, seq, prev, 1763775000000 + seq, 1, seq % 3, b"body%d" % seq)
            prev = bytes.fromhex(rec["hash"])
            log.append(rec)
    log = [log[0], log[3], log[1], log[4], log[2], log[5]]
    lines = [json.dumps(r) for r in log]
    n, k, faults = verify_lines(lines)
    expect((n, k, faults) == (6, 2, []), "clean log: %r" % (faults,))

    def first_fault(mutate):
        recs = [dict(r) for r in log]
        mutate(recs)
        return verify_lines([json.dumps(r) for r in recs if r is not None])[2]

    def flip_b64(value, pos):
        raw = bytearray(base64.b64decode(value))
        raw[pos] ^= 0x80
        return base64.b64encode(bytes(raw)).decode()

    cases = [
        ("body byte flipped", lambda r: r[2].update(signed=flip_b64(r[2]["signed"], 95)),
         "signature"),
        ("sig byte flipped", lambda r: r[2].update(sig=flip_b64(r[2]["sig"], 10)), "signature"),
        ("hash field wrong", lambda r: r[2].update(hash="00" * 32), "hash"),
        ("JSON seq differs", lambda r: r[2].update(seq=7), "seq"),
        ("JSON kind differs", lambda r: r[2].update(kind="case_ack"), "kind"),
        ("entry missing", lambda r: r.__setitem__(2, None), "gap"),
        ("first missing", lambda r: r.__setitem__(0, None), "starts at"),
        ("duplicate", lambda r: r.append(dict(r[5])), "duplicate"),
        ("not JSON", lambda r: r.__setitem__(1, "x"), "not a JSON object"),
    ]
    for name, mutate, needle in cases:
        faults = first_fault(mutate)
        expect(faults and needle in faults[0][3], "%s: got %r" % (name, faults[:1]))

    # A validly signed entry whose prev does not chain.
    bad_prev = make_entry(seeds[0], 2, bytes([9]) * 32, 1, 1, 0, b"")
    recs = [log[0], bad_prev]
    faults = verify_lines([json.dumps(r) for r in recs])[2]
    expect(faults and "prev" in faults[0][3], "broken chain: %r" % (faults[:1],))
    # Two validly signed, different entries with one seq: a fork.
    twin = make_entry(seeds[1], 3, bytes.fromhex(log[3]["hash"]), 9, 1, 0, b"other")
    faults = verify_lines(lines + [json.dumps(twin)])[2]
    expect(faults and "fork" in faults[0][3] and faults[0][0] == 7, "fork: %r" % (faults[:1],))
    # A Recovery at 6 declaring 4..5 lost links to 3; entries of the span may be present.
    rseed = bytes([3]) * 32
    chain, prev = [], ZERO_HASH
    for seq in (1, 2, 3, 4):
        rec = make_entry(rseed, seq, prev, 1763775000000 + seq, 1, 0, b"r%d" % seq)
        prev = bytes.fromhex(rec["hash"])
        chain.append(rec)
    span = bytes([0x08, 4, 0x10, 5])
    recovery = make_entry(rseed, 6, bytes.fromhex(chain[2]["hash"]), 9, 11, 0, span)
    after = make_entry(rseed, 7, bytes.fromhex(recovery["hash"]), 10, 1, 0, b"after")
    ok_lines = [json.dumps(r) for r in chain[:3] + [recovery, after]]
    expect(verify_lines(ok_lines)[2] == [], "recovery: %r" % (verify_lines(ok_lines)[2][:1],))
    held = [json.dumps(r) for r in chain + [recovery, after]]
    expect(verify_lines(held)[2] == [], "recovery over a held entry")
    faults = verify_lines([json.dumps(r) for r in chain[:2] + [recovery, after]])[2]
    expect(faults and "gap" in faults[0][3], "recovery beyond the log: %r" % (faults[:1],))
    wrong = make_entry(rseed, 6, bytes.fromhex(chain[1]["hash"]), 9, 11, 0, span)
    faults = verify_lines([json.dumps(r) for r in chain[:3] + [wrong]])[2]
    expect(faults and "prev" in faults[0][3], "recovery linking wrongly: %r" % (faults[:1],))
    short = make_entry(rseed, 7, bytes.fromhex(chain[2]["hash"]), 9, 11, 0, span)
    faults = verify_lines([json.dumps(r) for r in chain[:3] + [short]])[2]
    expect(faults and "not a span ending" in faults[0][3], "recovery span: %r" % (faults[:1],))
    # Names as kind and status.
    named = dict(log[0], kind="KIND_ALERT", status="exercise")
    expect(verify_lines([json.dumps(named)])[2] == [], "kind and status as names")
    # Roster membership.
    others = {ed25519_public_key(seeds[0])}
    faults = verify_lines(lines, others)[2]
    expect(faults and "roster" in faults[0][3], "non-member origin: %r" % (faults[:1],))

    if failures:
        print("self-test: %d failed" % failures)
        return 1
    print("self-test: RFC 8032 vectors 1-3 and %d log cases passed" % (len(cases) + 10))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="Independently verify an rcn export (JSON lines).")
    ap.add_argument("file", nargs="?", help="export file (default: stdin)")
    ap.add_argument("--roster", help="roster.json: every origin must be a member's sign_key")
    ap.add_argument("--self-test", action="store_true",
                    help="run RFC 8032 test vectors 1-3 and synthetic log cases")
    args = ap.parse_args(argv)

    if args.self_test:
        return self_test()
    members = None
    if args.roster:
        try:
            members = load_roster(args.roster)
        except (OSError, ValueError) as exc:
            print("roster: %s" % exc, file=sys.stderr)
            return 2
    try:
        if args.file:
            with open(args.file, "rb") as f:
                n, k, faults = verify_lines(f, members)
        else:
            n, k, faults = verify_lines(sys.stdin.buffer, members)
    except OSError as exc:
        print("%s" % exc, file=sys.stderr)
        return 2
    if faults:
        line, origin, seq, what = faults[0]
        print("FAULT line %d, origin %s, seq %s: %s"
              % (line, origin or "?", "?" if seq is None else seq, what))
        if len(faults) > 1:
            print("(%d faults in all)" % len(faults))
        return 1
    print("verified %d entries from %d origins" % (n, k))
    return 0


if __name__ == "__main__":
    sys.exit(main())
