#!/usr/bin/env python3
"""Independent verifier for rankproof audit bundles (FORMAT.md §1-§8, §11).

    python3 verify_bundle.py DIR --log-vkey VKEY [--trusted CHECKPOINT_FILE]

Written from FORMAT.md only (no rankproof code), Python 3.11 standard library.
Exit 0: everything verified, a summary is printed. Exit 1: the first problem
is printed on stderr ("entry N: ..." for entry problems). Exit 2: bad
invocation (unknown option, unparseable --log-vkey, unreadable DIR).

The helpers here (keys, entries, notes, Merkle tree, tlog-proof) are also used
by verify_receipt.py.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ed25519  # noqa: E402
import jcs  # noqa: E402


class VerifyError(Exception):
    """A verification failure; str() is the message printed."""


def fail(msg):
    raise VerifyError(msg)


# ----------------------------------------------------------------- §1 basics

def H(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


HEX64 = re.compile(r"[0-9a-f]{64}\Z")
HEX8 = re.compile(r"[0-9a-f]{8}\Z")
DECIMAL = re.compile(r"(0|[1-9][0-9]*)\Z")
ZERO_HASH = "0" * 64


def is_hex_hash(s):
    return isinstance(s, str) and HEX64.match(s) is not None


def b64decode_strict(s):
    """RFC 4648 §4 base64 with padding; rejects anything but the canonical
    encoding (non-alphabet bytes, missing padding, non-zero trailing bits)."""
    if not isinstance(s, str) or not s.isascii():
        raise ValueError("not ASCII base64")
    try:
        raw = base64.b64decode(s, validate=True)
    except Exception as e:  # binascii.Error
        raise ValueError("bad base64: %s" % e)
    if base64.b64encode(raw).decode("ascii") != s:
        raise ValueError("non-canonical base64")
    return raw


def parse_decimal(s):
    if not isinstance(s, str) or DECIMAL.match(s) is None:
        raise ValueError("not a canonical decimal: %r" % (s,))
    return int(s)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


# ------------------------------------------------------------------- §2 keys

# Unicode White_Space property (PropList.txt)
_WHITE_SPACE = set([0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680,
                    0x2028, 0x2029, 0x202F, 0x205F, 0x3000] + list(range(0x2000, 0x200B)))


def valid_key_name(name):
    if not isinstance(name, str) or name == "":
        return False
    for ch in name:
        c = ord(ch)
        if ch == "+" or c in _WHITE_SPACE or c < 0x20 or 0x7F <= c <= 0x9F:
            return False
        if 0xD800 <= c <= 0xDFFF:
            return False
    return True


def key_id(name, pub):
    return H(name.encode("utf-8"), b"\x0a\x01", pub)[:4]


class VKey:
    __slots__ = ("text", "name", "kid", "pub")

    def __init__(self, text, name, kid, pub):
        self.text, self.name, self.kid, self.pub = text, name, kid, pub

    @property
    def handle(self):
        return self.name + "+" + self.kid.hex()

    def __repr__(self):
        return "VKey(%s)" % self.text


def parse_vkey(text):
    """§2.3: name "+" hex(key_id) "+" base64(0x01 || pubkey), every check."""
    if not isinstance(text, str):
        raise ValueError("verifier key is not a string")
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise ValueError("verifier key %r: not name+keyid+key" % text)
    name, hid, b64 = parts
    if not valid_key_name(name):
        raise ValueError("verifier key %r: invalid key name" % text)
    if HEX8.match(hid) is None:
        raise ValueError("verifier key %r: key ID is not 8 lowercase hex digits" % text)
    try:
        raw = b64decode_strict(b64)
    except ValueError as e:
        raise ValueError("verifier key %r: %s" % (text, e))
    if len(raw) != 33:
        raise ValueError("verifier key %r: key material is %d bytes, not 33" % (text, len(raw)))
    if raw[0] != 0x01:
        raise ValueError("verifier key %r: type byte 0x%02x is not Ed25519 (0x01)" % (text, raw[0]))
    pub = raw[1:]
    if key_id(name, pub).hex() != hid:
        raise ValueError("verifier key %r: key ID does not match the key" % text)
    pt = ed25519.point_decompress(pub)
    if pt is None:
        raise ValueError("verifier key %r: not a canonical curve point" % text)
    if ed25519.has_small_order(pt):
        raise ValueError("verifier key %r: weak key (small order)" % text)
    return VKey(text, name, bytes.fromhex(hid), pub)


def valid_handle(s):
    if not isinstance(s, str):
        return False
    i = s.rfind("+")
    return i > 0 and valid_key_name(s[:i]) and HEX8.match(s[i + 1:]) is not None


# ---------------------------------------------------------------- §3 entries

ROLES = ("admin", "hr", "steward", "operator", "reviewer")
KIND_ROLE = {
    "genesis": None,
    "key.grant": "admin",
    "key.revoke": "admin",
    "rules.publish": "hr",
    "input.record": "steward",
    "ranking.publish": "operator",
    "appeal.file": "reviewer",
    "appeal.decide": "reviewer",
    "calibration.adjust": "reviewer",
}
ENTRY_MEMBERS = {"blobs", "body", "kind", "prev", "seq", "sig", "signer"}
ENTRY_PREFIX = b"rankproof/entry/v1\n"
MAX_ENTRY = 65536


class Entry:
    __slots__ = ("raw", "obj", "sig")

    def __init__(self, raw, obj, sig):
        self.raw, self.obj, self.sig = raw, obj, sig

    def __getattr__(self, name):
        try:
            return self.obj[name]
        except KeyError:
            raise AttributeError(name)

    @property
    def leaf(self):
        return leaf_hash(self.raw)

    def signed_message(self):
        o = dict(self.obj)
        del o["sig"]
        return ENTRY_PREFIX + jcs.canonicalize(o)


def leaf_hash(entry_bytes):
    return H(b"\x00", entry_bytes)


def parse_entry(raw):
    """§3.1 / §8 step 1.1: parse entry bytes, check members, types, JCS form and
    size. Raises ValueError with a reason."""
    if not isinstance(raw, (bytes, bytearray)):
        raise ValueError("entry is not bytes")
    raw = bytes(raw)
    if len(raw) >= MAX_ENTRY:
        raise ValueError("entry is %d bytes, must be shorter than 65536" % len(raw))
    try:
        obj, canonical = jcs.is_canonical(raw)
    except (ValueError, jcs.JCSError) as e:
        raise ValueError("not valid JSON / not canonicalizable: %s" % e)
    if not isinstance(obj, dict):
        raise ValueError("entry is not a JSON object")
    if set(obj) != ENTRY_MEMBERS:
        missing = ENTRY_MEMBERS - set(obj)
        extra = set(obj) - ENTRY_MEMBERS
        raise ValueError("entry members wrong (missing %s, unexpected %s)"
                         % (sorted(missing), sorted(extra)))
    if not canonical:
        raise ValueError("entry bytes are not the JCS canonical form")
    blobs = obj["blobs"]
    if not isinstance(blobs, list) or not all(is_hex_hash(b) for b in blobs):
        raise ValueError("blobs is not an array of hex hashes")
    for a, b in zip(blobs, blobs[1:]):
        if not a < b:
            raise ValueError("blobs not sorted ascending without duplicates")
    if not isinstance(obj["body"], dict):
        raise ValueError("body is not an object")
    if not isinstance(obj["kind"], str) or obj["kind"] not in KIND_ROLE:
        raise ValueError("unknown kind %r" % (obj["kind"],))
    if not is_hex_hash(obj["prev"]):
        raise ValueError("prev is not a hex hash")
    if not is_int(obj["seq"]) or obj["seq"] < 0:
        raise ValueError("seq is not a non-negative integer")
    try:
        sig = b64decode_strict(obj["sig"])
    except ValueError as e:
        raise ValueError("sig: %s" % e)
    if len(sig) != 64:
        raise ValueError("sig is %d bytes, not 64" % len(sig))
    if not valid_handle(obj["signer"]):
        raise ValueError("signer %r is not a key handle" % (obj["signer"],))
    return Entry(raw, obj, sig)


def entry_sig_ok(entry, pub):
    return ed25519.verify(pub, entry.signed_message(), entry.sig)


# ------------------------------------------------------------ §4 Merkle tree

def mth(leaves):
    """RFC 6962 §2.1 Merkle tree hash over a list of 32-byte leaf hashes."""
    n = len(leaves)
    if n == 0:
        return H(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return H(b"\x01", mth(leaves[:k]), mth(leaves[k:]))


def inclusion_steps(leaf, index, size, path):
    """RFC 9162 §2.1.3.2: the intermediate hashes of folding `path` into
    `leaf`, and whether the path has exactly the expected length."""
    fn, sn, r, out = index, size - 1, leaf, []
    for p in path:
        if sn == 0:
            return out, False
        if fn & 1 or fn == sn:
            r = H(b"\x01", p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = H(b"\x01", r, p)
        fn >>= 1
        sn >>= 1
        out.append(r)
    return out, sn == 0


def verify_inclusion(leaf, index, size, path, root):
    """RFC 9162 §2.1.3.2; the proof must have exactly the expected length."""
    if not (0 <= index < size):
        return False
    steps, exact = inclusion_steps(leaf, index, size, path)
    return exact and (steps[-1] if steps else leaf) == root


# ------------------------------------------------------------ §5 checkpoints

EM_DASH = "\u2014"


class Checkpoint:
    __slots__ = ("note", "origin", "size", "root", "ext")

    def __init__(self, note, origin, size, root, ext):
        self.note, self.origin, self.size, self.root, self.ext = note, origin, size, root, ext


def parse_checkpoint(note, log_key):
    """Verify a signed-note checkpoint under log_key (a VKey). Returns a
    Checkpoint or raises ValueError."""
    if isinstance(note, (bytes, bytearray)):
        try:
            note = bytes(note).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("checkpoint is not UTF-8")
    if "\r" in note:
        raise ValueError("checkpoint contains a carriage return")
    i = note.rfind("\n\n")
    if i < 0:
        raise ValueError("checkpoint has no blank line before the signatures")
    text, sigs = note[:i + 1], note[i + 2:]
    if sigs == "" or not sigs.endswith("\n"):
        raise ValueError("checkpoint signature block is empty or not newline-terminated")
    good = 0
    seen = set()
    for line in sigs[:-1].split("\n"):
        if not line.startswith(EM_DASH + " "):
            raise ValueError("malformed signature line %r" % line)
        rest = line[2:].split(" ")
        if len(rest) != 2 or not valid_key_name(rest[0]):
            raise ValueError("malformed signature line %r" % line)
        name, b64 = rest
        try:
            blob = b64decode_strict(b64)
        except ValueError as e:
            raise ValueError("signature line %r: %s" % (line, e))
        if len(blob) < 5:
            raise ValueError("signature line %r: too short" % line)
        if name != log_key.name or blob[:4] != log_key.kid:
            continue  # unknown key (e.g. a witness cosignature): ignored
        if log_key.handle in seen:
            raise ValueError("two signatures by the log key")
        seen.add(log_key.handle)
        if len(blob) != 68 or not ed25519.verify(log_key.pub, text.encode("utf-8"), blob[4:]):
            raise ValueError("the log key's signature on the checkpoint does not verify")
        good += 1
    if good == 0:
        raise ValueError("checkpoint has no signature by the log key %s" % log_key.handle)
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise ValueError("checkpoint text has fewer than 3 lines")
    origin, size_s, root_s = lines[0], lines[1], lines[2]
    if origin == "":
        raise ValueError("checkpoint origin is empty")
    if origin != log_key.name:
        raise ValueError("checkpoint origin %r is not the log key's name %r" % (origin, log_key.name))
    try:
        size = parse_decimal(size_s)
    except ValueError:
        raise ValueError("checkpoint size %r is not a decimal" % size_s)
    try:
        root = b64decode_strict(root_s)
    except ValueError as e:
        raise ValueError("checkpoint root: %s" % e)
    if len(root) != 32:
        raise ValueError("checkpoint root is %d bytes, not 32" % len(root))
    ext = lines[3:]
    if any(x == "" for x in ext):
        raise ValueError("checkpoint has an empty extension line")
    return Checkpoint(note, origin, size, root, ext)


# ------------------------------------------------------------- §6 tlog-proof

class TlogProof:
    __slots__ = ("index", "path", "checkpoint")

    def __init__(self, index, path, checkpoint):
        self.index, self.path, self.checkpoint = index, path, checkpoint


def parse_tlog_proof(text, log_key):
    """Parse a c2sp tlog-proof and verify its checkpoint (not yet the
    inclusion: see TlogProof + verify_inclusion)."""
    if not isinstance(text, str):
        raise ValueError("tlog-proof is not a string")
    head = "c2sp.org/tlog-proof@v1\n"
    if not text.startswith(head):
        raise ValueError("tlog-proof does not start with c2sp.org/tlog-proof@v1")
    rest = text[len(head):]
    j = rest.find("\n\n")
    if j < 0:
        raise ValueError("tlog-proof has no blank line before the checkpoint")
    lines = rest[:j].split("\n")
    note = rest[j + 2:]
    if lines and lines[0].startswith("extra "):
        try:
            b64decode_strict(lines[0][6:])
        except ValueError as e:
            raise ValueError("tlog-proof extra line: %s" % e)
        lines = lines[1:]
    if not lines or not lines[0].startswith("index "):
        raise ValueError("tlog-proof has no index line")
    try:
        index = parse_decimal(lines[0][6:])
    except ValueError:
        raise ValueError("tlog-proof index %r is not a decimal" % lines[0][6:])
    path = []
    for ln in lines[1:]:
        try:
            h = b64decode_strict(ln)
        except ValueError as e:
            raise ValueError("tlog-proof hash line %r: %s" % (ln, e))
        if len(h) != 32:
            raise ValueError("tlog-proof hash line %r is not 32 bytes" % ln)
        path.append(h)
    cp = parse_checkpoint(note, log_key)
    return TlogProof(index, path, cp)


# ------------------------------------------------------- §3.5 the registry

class KeyState:
    def __init__(self, vkey):
        self.vkey = vkey
        self.roles = {}       # role -> grant seq
        self.revoked = None   # revoke seq


class Registry:
    def __init__(self, log_key):
        self.log_key = log_key
        self.keys = {}  # handle -> KeyState

    def active_admins(self):
        return sum(1 for ks in self.keys.values() if ks.revoked is None and "admin" in ks.roles)

    def is_log_key(self, vk):
        return vk.pub == self.log_key.pub or vk.handle == self.log_key.handle

    def keys_text(self):
        out = ["log " + self.log_key.text + "\n"]
        for handle in sorted(self.keys, key=lambda h: h.encode("utf-8")):
            ks = self.keys[handle]
            line = "key " + ks.vkey.text
            for role in ROLES:
                if role in ks.roles:
                    line += " %s@%d" % (role, ks.roles[role])
            if ks.revoked is not None:
                line += " revoked@%d" % ks.revoked
            out.append(line + "\n")
        return "".join(out)


def _exact_members(body, names, what):
    if set(body) != set(names):
        fail("%s body must have exactly the members %s, has %s" % (what, sorted(names), sorted(body)))


def check_genesis(e, log_key, reg):
    b = e.body
    if e.kind != "genesis":
        fail("entry 0 is %r, not genesis" % e.kind)
    _exact_members(b, ("admins", "log_vkey", "origin"), "genesis")
    if b["log_vkey"] != log_key.text:
        fail("genesis log_vkey %r is not the given log key %r" % (b["log_vkey"], log_key.text))
    if b["origin"] != log_key.name:
        fail("genesis origin %r is not the log key's name %r" % (b["origin"], log_key.name))
    if e.signer != log_key.handle:
        fail("genesis signer %r is not the log key's handle %r" % (e.signer, log_key.handle))
    if e.blobs:
        fail("genesis has blobs")
    admins = b["admins"]
    if not isinstance(admins, list) or not admins:
        fail("genesis admins is not a non-empty array")
    for a in admins:
        try:
            vk = parse_vkey(a)
        except ValueError as ex:
            fail("genesis admin: %s" % ex)
        if reg.is_log_key(vk):
            fail("genesis admin %s is the log key" % a)
        if vk.name == log_key.name:
            fail("genesis admin %s is named like the log's origin" % vk.handle)
        if vk.handle in reg.keys:
            fail("genesis admins not distinct (handle %s twice)" % vk.handle)
        ks = KeyState(vk)
        ks.roles["admin"] = 0
        reg.keys[vk.handle] = ks
    if not entry_sig_ok(e, log_key.pub):
        fail("signature does not verify")


def authorize(e, reg):
    """§3.5: the signer is registered, not revoked, holds the kind's role."""
    if e.kind == "genesis":
        fail("genesis is allowed only as entry 0")
    ks = reg.keys.get(e.signer)
    if ks is None:
        if e.signer == reg.log_key.handle:
            fail("signed by the log key, which holds no roles")
        fail("signer %s is not a registered key" % e.signer)
    if ks.revoked is not None:
        fail("signer %s was revoked at entry %d" % (e.signer, ks.revoked))
    role = KIND_ROLE[e.kind]
    if role not in ks.roles:
        fail("signer %s does not hold role %s needed for %s" % (e.signer, role, e.kind))
    return ks


def check_key_body(e, reg):
    """§3.4.2 / §3.4.3 validity; returns a closure applying the update."""
    b = e.body
    if e.kind == "key.grant":
        _exact_members(b, ("effective_from", "role", "vkey"), "key.grant")
    else:
        _exact_members(b, ("effective_from", "vkey"), "key.revoke")
    if not is_int(b["effective_from"]) or b["effective_from"] != e.seq + 1:
        fail("%s effective_from %r is not seq+1 = %d" % (e.kind, b["effective_from"], e.seq + 1))
    try:
        vk = parse_vkey(b["vkey"])
    except ValueError as ex:
        fail("%s: %s" % (e.kind, ex))
    existing = reg.keys.get(vk.handle)
    if e.kind == "key.grant":
        role = b["role"]
        if role not in ROLES:
            fail("key.grant of unknown role %r" % (role,))
        if reg.is_log_key(vk):
            fail("key.grant to the log key")
        if vk.name == reg.log_key.name:
            fail("key.grant to %s, a key named like the log's origin" % vk.handle)
        if existing is not None:
            if existing.vkey.pub != vk.pub or existing.vkey.text != vk.text:
                fail("key.grant: %s has the same handle as a different registered key" % vk.handle)
            if existing.revoked is not None:
                fail("key.grant: %s was revoked at entry %d" % (vk.handle, existing.revoked))
            if role in existing.roles:
                fail("key.grant: %s already holds %s" % (vk.handle, role))

        def apply():
            ks = reg.keys.setdefault(vk.handle, KeyState(vk))
            ks.roles[role] = e.seq
        return apply
    if existing is None or existing.vkey.pub != vk.pub or existing.vkey.text != vk.text:
        fail("key.revoke: %s is not a registered key" % vk.text)
    if existing.revoked is not None:
        fail("key.revoke: %s already revoked at entry %d" % (vk.handle, existing.revoked))
    if "admin" in existing.roles and reg.active_admins() <= 1:
        fail("key.revoke: %s is the last active admin" % vk.handle)

    def apply():
        existing.revoked = e.seq
    return apply


# ------------------------------------------------- §11 ranking.publish checks

SALTS_FORMAT = "rankproof-salts/2"


def results_leaf(result, salt):
    return H(b"\x00", jcs.canonicalize({"result": result, "salt": salt}))


TIME_RE = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)Z$")


def check_time(e, last_time):
    """§11: the informative `time` of a workflow entry is a UTC RFC 3339
    time; one earlier than a previous entry's is reported, not refused."""
    t = e.body.get("time") if isinstance(e.body, dict) else None
    if t is None:
        return
    if not isinstance(t, str) or not TIME_RE.match(t):
        fail("time %r is not a UTC time like 2025-04-01T09:30:00Z" % (t,))
    prev = last_time[0]
    if prev is not None and t < prev[1]:
        sys.stderr.write("note: entry %d has time %s, earlier than entry %d's %s\n" % (e.seq, t, prev[0], prev[1]))
    else:
        last_time[0] = (e.seq, t)


def check_eligible(rdoc, inputs, blob_bytes):
    """RULES.md §6/§8: the ranked staff are exactly those in every input
    dataset; under [join] missing_staff = "exclude" the document's
    `excluded` lists every other staff member with the sources they are
    missing from (in staff-ID byte order), and without it every dataset
    holds the same staff."""
    ids = {}
    for src, inp in sorted(inputs.items()):
        if not is_hex_hash(inp.get("dataset")):
            fail("ranking.publish inputs.%s.dataset is not a hex hash" % src)
        raw = blob_bytes(inp["dataset"])
        try:
            d = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as ex:
            fail("dataset %s of source %s does not parse: %s" % (inp.get("dataset"), src, ex))
        # RULES.md §6: a recorded dataset carries a secret salt, so that its
        # hash (revealed by every receipt) cannot be guessed
        if not isinstance(d, dict) or not is_hex_hash(d.get("salt")):
            fail("dataset %s of source %s has no salt (64 lowercase hex digits)" % (inp.get("dataset"), src))
        rows = d.get("rows") if isinstance(d, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("staff_id"), str) for r in rows):
            fail("dataset %s of source %s has no rows with staff_id" % (inp.get("dataset"), src))
        ids[src] = {r["staff_id"] for r in rows}
    if not ids:
        return
    union = set().union(*ids.values())
    everywhere = set.intersection(*ids.values())
    expected = [{"staff_id": sid, "missing_from": sorted(s for s in ids if sid not in ids[s])}
                for sid in sorted(union - everywhere, key=lambda x: x.encode("utf-8"))]
    ranked = {r.get("staff_id") for r in rdoc["results"]}
    if ranked != everywhere:
        fail("the result document ranks %d staff, but %d appear in every input dataset"
             % (len(ranked), len(everywhere)))
    if "excluded" in rdoc:
        if rdoc["excluded"] != expected:
            fail("the result document's excluded staff %s are not those missing from a source %s"
                 % (json.dumps(rdoc["excluded"], ensure_ascii=False), json.dumps(expected, ensure_ascii=False)))
    elif expected:
        fail("staff %s are missing from a source, but the result document excludes nobody"
             % ", ".join(e["staff_id"] for e in expected))


def check_ranking(e, blob_bytes, entries):
    """§11.3/§11.4: salts blob parses, results tree root matches results_root.
    Returns a summary dict."""
    b = e.body
    for m in ("period", "rules", "inputs", "result", "salts", "results_root", "n"):
        if m not in b:
            fail("ranking.publish body has no %s" % m)
    for m in ("result", "salts", "results_root"):
        if not is_hex_hash(b[m]):
            fail("ranking.publish %s is not a hex hash" % m)
    n = b["n"]
    if not is_int(n) or n < 0:
        fail("ranking.publish n is not a non-negative integer")
    for m in ("result", "salts"):
        if b[m] not in e.blobs:
            fail("ranking.publish %s %s is not one of the entry's blobs" % (m, b[m]))
    # rules / inputs cross references (§11.3)
    rules = b["rules"]
    if not isinstance(rules, dict) or not is_int(rules.get("entry")):
        fail("ranking.publish rules is not an object with an integer entry")
    re_ = rules["entry"]
    if not (0 <= re_ < e.seq) or entries[re_].kind != "rules.publish":
        fail("ranking.publish rules.entry %r is not an earlier rules.publish" % re_)
    rb = entries[re_].body
    for m in ("name", "version", "package_hash"):
        if rules.get(m) != rb.get(m):
            fail("ranking.publish rules.%s %r differs from entry %d's %r" % (m, rules.get(m), re_, rb.get(m)))
    if not isinstance(b["inputs"], dict):
        fail("ranking.publish inputs is not an object")
    for src, inp in b["inputs"].items():
        if not isinstance(inp, dict) or not is_int(inp.get("entry")):
            fail("ranking.publish inputs.%s has no integer entry" % src)
        ie = inp["entry"]
        if not (0 <= ie < e.seq) or entries[ie].kind != "input.record":
            fail("ranking.publish inputs.%s.entry %r is not an earlier input.record" % (src, ie))
        ib = entries[ie].body
        if ib.get("source") != src or ib.get("dataset") != inp.get("dataset") or ib.get("period") != b["period"]:
            fail("ranking.publish inputs.%s does not match input.record entry %d (source/dataset/period)" % (src, ie))
    # supersedes / reason (§11.3): a deliberate re-run names the ranking of
    # the same period and package it replaces, and says why
    sup = b.get("supersedes")
    if sup is not None:
        if not is_int(sup) or not (0 <= sup < e.seq) or entries[sup].kind != "ranking.publish":
            fail("ranking.publish supersedes %r is not an earlier ranking.publish" % (sup,))
        sb = entries[sup].body
        srules = sb.get("rules") if isinstance(sb.get("rules"), dict) else {}
        if sb.get("period") != b["period"] or srules.get("name") != rules.get("name"):
            fail("ranking.publish supersedes entry %d, a ranking of another period or package" % sup)
        reason = b.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            fail("ranking.publish supersedes entry %d without a reason" % sup)
    elif b.get("reason") is not None:
        fail("ranking.publish gives a reason but supersedes nothing")
    # salts document
    sraw = blob_bytes(b["salts"])
    try:
        sdoc, canon = jcs.is_canonical(sraw)
    except (ValueError, jcs.JCSError) as ex:
        fail("salts blob does not parse: %s" % ex)
    if not canon:
        fail("salts blob is not canonical JSON")
    if not isinstance(sdoc, dict) or set(sdoc) != {"format", "nonce", "salts"} or sdoc["format"] != SALTS_FORMAT:
        fail("salts blob is not a %s document" % SALTS_FORMAT)
    nonce = sdoc["nonce"]
    if not is_hex_hash(nonce):
        fail("salts blob: nonce is not 64 lowercase hex digits")
    salts = sdoc["salts"]
    if not isinstance(salts, list) or not all(is_hex_hash(s) for s in salts):
        fail("salts blob: salts is not an array of 64-hex strings")
    # result document
    rraw = blob_bytes(b["result"])
    try:
        rdoc, canon = jcs.is_canonical(rraw)
    except (ValueError, jcs.JCSError) as ex:
        fail("result document blob does not parse: %s" % ex)
    if not canon:
        fail("result document blob is not canonical JSON")
    if not isinstance(rdoc, dict) or not isinstance(rdoc.get("results"), list):
        fail("result document has no results array")
    results = rdoc["results"]
    if not (len(results) == len(salts) == n):
        fail("ranking.publish n = %d but the result document has %d results and the salts document %d salts"
             % (n, len(results), len(salts)))
    # §11.4: the result document carries the recorded nonce, so its hash
    # (which every receipt reveals) commits to a secret
    if rdoc.get("nonce") != nonce:
        fail("result document nonce %r is not the salts document's %r" % (rdoc.get("nonce"), nonce))
    if "n" in rdoc and rdoc["n"] != n:
        fail("result document n %r differs from the entry's n %d" % (rdoc["n"], n))
    for i, r in enumerate(results):
        if not isinstance(r, dict) or r.get("position") != i + 1:
            fail("result document results[%d] does not have position %d" % (i, i + 1))
    check_eligible(rdoc, b["inputs"], blob_bytes)
    root = mth([results_leaf(r, s) for r, s in zip(results, salts)])
    if root.hex() != b["results_root"]:
        fail("results_root %s does not match the results tree recomputed from the result document and salts (%s)"
             % (b["results_root"], root.hex()))
    return {"seq": e.seq, "period": b["period"],
            "rules": "%s@%s" % (rules.get("name"), rules.get("version")), "n": n,
            "results_root": b["results_root"], "result": b["result"]}


# ------------------------------------------------------------- §8 the bundle

MAX_ENTRIES_FILE = 4 << 30
MAX_CHECKPOINT_FILE = 1 << 20
MAX_KEYS_FILE = 64 << 20
MAX_BLOB = 1 << 30


def file_kind(mode):
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def read_regular(path, what, limit):
    """Read a regular file (never a link, FIFO or device) of at most limit
    bytes. Returns None if it does not exist."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as ex:
        fail("%s: cannot read %s (%s)" % (what, path, ex.strerror))
    if not stat.S_ISREG(st.st_mode):
        fail("%s: %s is %s, not a regular file" % (what, path, file_kind(st.st_mode)))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as ex:
        fail("%s: cannot read %s (%s)" % (what, path, ex.strerror))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            fail("%s: %s is %s, not a regular file" % (what, path, file_kind(st.st_mode)))
        data = f.read(limit + 1)
    if len(data) > limit:
        fail("%s: %s is larger than %d bytes" % (what, path, limit))
    return data


def read_bytes(path, what, limit=MAX_KEYS_FILE):
    data = read_regular(path, what, limit)
    if data is None:
        fail("%s: cannot read %s (No such file or directory)" % (what, path))
    return data


def check_blobs_dir(d, referenced):
    """Every file in blobs/ is a regular file named by the hash of a blob an
    entry references."""
    bd = os.path.join(d, "blobs")
    try:
        st = os.lstat(bd)
    except FileNotFoundError:
        if referenced:
            fail("blobs: %s is missing" % bd)
        return
    if not stat.S_ISDIR(st.st_mode):
        fail("blobs: %s is %s, not a directory" % (bd, file_kind(st.st_mode)))
    for name in sorted(os.listdir(bd)):
        p = os.path.join(bd, name)
        mode = os.lstat(p).st_mode
        if not stat.S_ISREG(mode):
            fail("blobs: %s is %s; blobs/ holds only regular files" % (p, file_kind(mode)))
        if not is_hex_hash(name):
            fail("blobs: %s is not named by a blob hash" % p)
        if name not in referenced:
            fail("blobs: %s is not referenced by any entry" % p)


def verify_bundle(d, log_vkey_text, trusted_path=None):
    try:
        log_key = parse_vkey(log_vkey_text)
    except ValueError as ex:
        raise UsageError("--log-vkey: %s" % ex)

    data = read_bytes(os.path.join(d, "entries.jsonl"), "entries.jsonl", MAX_ENTRIES_FILE)
    if data == b"":
        fail("entries.jsonl is empty (no genesis)")
    if not data.endswith(b"\n"):
        fail("entries.jsonl: last line does not end in \\n")
    lines = data[:-1].split(b"\n")

    blob_cache = {}

    def blob_bytes(hx):
        if hx not in blob_cache:
            blob_cache[hx] = read_regular(os.path.join(d, "blobs", hx), "blob %s" % hx, MAX_BLOB)
        return blob_cache[hx]

    reg = Registry(log_key)
    entries = []
    leaves = []
    rankings = []
    last_time = [None]
    blob_refs = 0
    for i, raw in enumerate(lines):
        try:
            try:
                e = parse_entry(raw)                                   # 1.1
            except ValueError as ex:
                fail(str(ex))
            if e.seq != i:                                              # 1.2
                fail("seq is %d, expected %d (entry dropped, duplicated or reordered)" % (e.seq, i))
            want_prev = leaves[-1].hex() if leaves else ZERO_HASH       # 1.3
            if e.prev != want_prev:
                fail("prev %s is not the leaf hash of entry %d (%s)" % (e.prev, i - 1, want_prev) if i
                     else "prev of entry 0 is not 64 zeros")
            apply = None
            if i == 0:                                                  # 1.4
                check_genesis(e, log_key, reg)  # also checks the signature
                signer_pub = log_key.pub
            else:
                ks = authorize(e, reg)
                signer_pub = ks.vkey.pub
                if e.kind in ("key.grant", "key.revoke"):
                    apply = check_key_body(e, reg)
            for hx in e.blobs:                                          # 1.5
                blob_refs += 1
                content = blob_bytes(hx)
                if content is None:
                    fail("blob %s is missing from the bundle" % hx)
                if hashlib.sha256(content).hexdigest() != hx:
                    fail("blob %s does not hash to its name" % hx)
            if not entry_sig_ok(e, signer_pub):                         # 1.6
                fail("signature does not verify")
            if apply is not None:
                apply()
            check_time(e, last_time)
            entries.append(e)
            leaves.append(leaf_hash(raw))
        except VerifyError as ex:
            raise VerifyError("entry %d: %s" % (i, ex))
        # §11: a published ranking's salts and results tree (its references
        # point to earlier, already verified entries)
        if e.kind == "ranking.publish":
            try:
                rankings.append(check_ranking(e, blob_bytes, entries))
            except VerifyError as ex:
                raise VerifyError("entry %d (ranking.publish): %s" % (e.seq, ex))

    # step 2: the checkpoint
    note = read_bytes(os.path.join(d, "checkpoint"), "checkpoint", MAX_CHECKPOINT_FILE)
    try:
        cp = parse_checkpoint(note, log_key)
    except ValueError as ex:
        fail("checkpoint: %s" % ex)
    if cp.size != len(entries):
        fail("checkpoint: size %d but the bundle has %d entries" % (cp.size, len(entries)))
    root = mth(leaves)
    if cp.root != root:
        fail("checkpoint: root %s is not the Merkle tree hash of the entries (%s)" % (cp.root.hex(), root.hex()))

    # step 3: trusted older checkpoint
    if trusted_path is not None:
        tnote = read_bytes(trusted_path, "trusted checkpoint", MAX_CHECKPOINT_FILE)
        try:
            t = parse_checkpoint(tnote, log_key)
        except ValueError as ex:
            fail("trusted checkpoint: %s" % ex)
        if t.size > cp.size:
            fail("trusted checkpoint: size %d is larger than the bundle's %d (rollback)" % (t.size, cp.size))
        if mth(leaves[:t.size]) != t.root:
            fail("trusted checkpoint: root of the first %d entries differs (history rewritten)" % t.size)

    # step 4: keys file
    keys = read_bytes(os.path.join(d, "keys"), "keys")
    want = reg.keys_text().encode("utf-8")
    if keys != want:
        kl, wl = keys.splitlines(True), want.splitlines(True)
        for j in range(max(len(kl), len(wl))):
            a = kl[j] if j < len(kl) else b"<end of file>"
            w = wl[j] if j < len(wl) else b"<end of file>"
            if a != w:
                fail("keys: line %d is %r, the replayed registry gives %r"
                     % (j + 1, a.decode("utf-8", "replace"), w.decode("utf-8", "replace")))
        fail("keys file does not match the replayed registry")  # pragma: no cover

    # step 5: nothing but referenced blobs in blobs/
    check_blobs_dir(d, blob_cache)

    return {"origin": log_key.name, "entries": len(entries), "root": root.hex(),
            "blob_refs": blob_refs, "rankings": rankings,
            "trusted": None if trusted_path is None else t.size}


class UsageError(Exception):
    pass


def main(argv=None):
    ap = argparse.ArgumentParser(description="Verify a rankproof audit bundle (FORMAT.md §8).")
    ap.add_argument("dir")
    ap.add_argument("--log-vkey", required=True)
    ap.add_argument("--trusted")
    a = ap.parse_args(argv)
    if not os.path.isdir(a.dir):
        print("error: %s is not a directory" % a.dir, file=sys.stderr)
        return 2
    try:
        s = verify_bundle(a.dir, a.log_vkey, a.trusted)
    except UsageError as ex:
        print("error: %s" % ex, file=sys.stderr)
        return 2
    except VerifyError as ex:
        print("FAILED: %s" % ex, file=sys.stderr)
        return 1
    print("ok: bundle %s verified" % a.dir)
    print("origin:   %s" % s["origin"])
    print("entries:  %d" % s["entries"])
    print("root:     %s" % s["root"])
    print("blob references checked: %d" % s["blob_refs"])
    if s["trusted"] is not None:
        print("trusted checkpoint (size %d) is a prefix of this log" % s["trusted"])
    print("rankings: %d" % len(s["rankings"]))
    for r in s["rankings"]:
        print("  ranking %d: %s %s, n = %d, results_root %s matches the result document and salts"
              % (r["seq"], r["period"], r["rules"], r["n"], r["results_root"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
