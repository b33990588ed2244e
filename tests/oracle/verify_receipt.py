#!/usr/bin/env python3
"""Independent verifier for rankproof staff receipts (FORMAT.md §12).

    python3 verify_receipt.py FILE --log-vkey VKEY

Runs FORMAT.md §12's checks 1-7 in order (check 4: the grant chain from the
operator back to the genesis entry; check 7: the result's own arithmetic, in
exact decimals, with report_decimals left open as a receipt alone does). Exit 0: prints the person's result
(staff_id, name, total, rank, grade, bonus_multiplier). Exit 1: prints
"FAILED: check N (...): reason" on stderr. Exit 2: bad invocation (unknown
option, unparseable --log-vkey, unreadable FILE).
"""

import argparse
import decimal
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jcs  # noqa: E402
from verify_bundle import (  # noqa: E402
    Registry, UsageError, VerifyError, check_genesis, entry_sig_ok, fail, is_hex_hash, is_int,
    leaf_hash, parse_entry, parse_tlog_proof, parse_vkey, results_leaf, verify_inclusion)

RECEIPT_FORMAT = "rankproof-receipt/v2"
MEMBERS = {"format", "entry", "proof", "signer", "chain", "result", "salt", "leaf_index", "path"}
MAX_CHAIN_LINKS = 256

CHECKS = {
    1: "format and entry",
    2: "entry in the log",
    3: "operator signature",
    4: "grant chain",
    5: "result in the results tree",
    6: "position",
    7: "arithmetic",
}


class CheckFailed(VerifyError):
    def __init__(self, n, msg):
        super().__init__("check %d (%s): %s" % (n, CHECKS[n], msg))
        self.check = n


def _proven_entry(entry_bytes, proof_text, log_key, what):
    """§6: checkpoint verifies under the log key and the entry is included at
    proof.index. Returns the TlogProof."""
    try:
        tp = parse_tlog_proof(proof_text, log_key)
    except ValueError as ex:
        fail("%s: %s" % (what, ex))
    if not verify_inclusion(leaf_hash(entry_bytes), tp.index, tp.checkpoint.size,
                            tp.path, tp.checkpoint.root):
        fail("%s: the entry is not included at index %d in the checkpoint's tree (size %d)"
             % (what, tp.index, tp.checkpoint.size))
    return tp


def verify_receipt(rec, log_vkey_text):
    try:
        log_key = parse_vkey(log_vkey_text)
    except ValueError as ex:
        raise UsageError("--log-vkey: %s" % ex)

    def check(n, fn):
        try:
            return fn()
        except VerifyError as ex:
            raise CheckFailed(n, str(ex))

    # 1. format; entry parses as an entry of kind ranking.publish
    def c1():
        if not isinstance(rec, dict):
            fail("the receipt is not a JSON object")
        if rec.get("format") != RECEIPT_FORMAT:
            fail("format is %r, not %r" % (rec.get("format"), RECEIPT_FORMAT))
        if set(rec) != MEMBERS:
            fail("receipt members wrong (missing %s, unexpected %s)"
                 % (sorted(MEMBERS - set(rec)), sorted(set(rec) - MEMBERS)))
        if not isinstance(rec["entry"], str):
            fail("entry is not a string")
        try:
            e = parse_entry(rec["entry"].encode("utf-8"))
        except (ValueError, UnicodeEncodeError) as ex:
            fail("entry: %s" % ex)
        if e.kind != "ranking.publish":
            fail("entry is a %s, not a ranking.publish" % e.kind)
        return e
    e = check(1, c1)

    # 2. proof.index == entry.seq; checkpoint under the log key; inclusion
    def c2():
        try:
            tp = parse_tlog_proof(rec["proof"], log_key)
        except ValueError as ex:
            fail("proof: %s" % ex)
        if tp.index != e.seq:
            fail("proof index %d is not the entry's seq %d" % (tp.index, e.seq))
        return _proven_entry(e.raw, rec["proof"], log_key, "proof")
    tp = check(2, c2)

    # 3. signer's handle == entry.signer; entry.sig verifies strictly
    def c3():
        try:
            vk = parse_vkey(rec["signer"])
        except ValueError as ex:
            fail("signer: %s" % ex)
        if vk.handle != e.signer:
            fail("signer %s is not the entry's signer %s" % (vk.handle, e.signer))
        if not entry_sig_ok(e, vk.pub):
            fail("the entry's signature does not verify under %s" % vk.handle)
        return vk
    vk = check(3, c3)

    # 4. the chain: chain[0] grants operator to signer (full key text),
    #    chain[i] (i > 0) grants admin to the key that signed chain[i-1] (its
    #    signature checked under that key), the last link is genesis naming
    #    the log key and the admin that signed the link before; all proven
    #    against the ranking's checkpoint, seqs strictly decreasing.
    def c4():
        chain = rec["chain"]
        if not isinstance(chain, list) or not 1 <= len(chain) <= MAX_CHAIN_LINKS:
            fail("chain is not an array of 1 to %d links" % MAX_CHAIN_LINKS)
        signed = e
        admins = []
        for i, link in enumerate(chain):
            w = "chain[%d]" % i
            if not isinstance(link, dict) or set(link) != {"entry", "proof"}:
                fail("%s is not an object with exactly entry and proof" % w)
            if not isinstance(link["entry"], str):
                fail("%s.entry is not a string" % w)
            try:
                le = parse_entry(link["entry"].encode("utf-8"))
            except (ValueError, UnicodeEncodeError) as ex:
                fail("%s.entry: %s" % (w, ex))
            try:
                lp = parse_tlog_proof(link["proof"], log_key)
            except ValueError as ex:
                fail("%s.proof: %s" % (w, ex))
            if lp.checkpoint.note != tp.checkpoint.note:
                fail("%s.proof is against a different checkpoint than proof" % w)
            if lp.index != le.seq:
                fail("%s.proof index %d is not the entry's seq %d" % (w, lp.index, le.seq))
            if not le.seq < signed.seq:
                fail("%s is entry %d, not earlier than entry %d it backs" % (w, le.seq, signed.seq))
            _proven_entry(le.raw, link["proof"], log_key, w + ".proof")
            last = i + 1 == len(chain)
            if le.kind == "key.grant":
                want = "operator" if i == 0 else "admin"
                b = le.body
                if b.get("role") != want:
                    fail("%s grants %r, not %s" % (w, b.get("role"), want))
                if b.get("effective_from") != le.seq + 1:
                    fail("%s effective_from is not its seq+1" % w)
                try:
                    key = parse_vkey(b.get("vkey"))
                except ValueError as ex:
                    fail("%s vkey: %s" % (w, ex))
                if last:
                    fail("the chain ends before the genesis entry")
            elif le.kind == "genesis" and i > 0:
                if not last:
                    fail("the genesis entry must be the last link")
                if le.seq != 0 or le.prev != "0" * 64:
                    fail("%s is a genesis entry that is not entry 0" % w)
                reg = Registry(log_key)
                try:
                    check_genesis(le, log_key, reg)  # also its signature under the log key
                except VerifyError as ex:
                    fail("%s: %s" % (w, ex))
                ks = reg.keys.get(signed.signer)
                if ks is None:
                    fail("%s is not a genesis admin, and no grant of admin to it is given" % signed.signer)
                key = ks.vkey
            else:
                fail("%s is a %s, not a key.grant%s" % (w, le.kind, " or genesis" if i else ""))
            if i == 0:
                if key.text != vk.text:  # keys compared in full, never by handle
                    fail("chain[0] grants operator to %s, not to the signer %s" % (key.text, vk.text))
            else:
                if key.handle != signed.signer:
                    fail("%s names %s, but entry %d is signed by %s" % (w, key.handle, signed.seq, signed.signer))
                if not entry_sig_ok(signed, key.pub):
                    fail("entry %d's signature does not verify under %s" % (signed.seq, key.text))
                admins.append(key)
            if le.kind == "genesis":
                return admins, le
            signed = le
        fail("the chain ends before the genesis entry")  # pragma: no cover
    admins, genesis_entry = check(4, c4)

    # 5. leaf from result and salt at leaf_index, tree of size n, exact length
    def c5():
        b = e.body
        res, salt, idx, path = rec["result"], rec["salt"], rec["leaf_index"], rec["path"]
        if not isinstance(res, dict):
            fail("result is not an object")
        if not is_hex_hash(salt):
            fail("salt is not 64 lowercase hex digits")
        if not is_int(idx) or idx < 0:
            fail("leaf_index is not a non-negative integer")
        if not isinstance(path, list) or not all(is_hex_hash(p) for p in path):
            fail("path is not an array of hex hashes")
        n, root = b.get("n"), b.get("results_root")
        if not is_int(n) or n < 1:
            fail("entry.body.n is not a positive integer")
        if not is_hex_hash(root):
            fail("entry.body.results_root is not a hex hash")
        try:
            leaf = results_leaf(res, salt)
        except jcs.JCSError as ex:
            fail("result cannot be canonicalized: %s" % ex)
        if not verify_inclusion(leaf, idx, n, [bytes.fromhex(p) for p in path], bytes.fromhex(root)):
            fail("the result and salt are not included at leaf_index %d of the results tree "
                 "(size %d, root %s)" % (idx, n, root))
    check(5, c5)

    # 6. result.position == leaf_index + 1
    def c6():
        pos = rec["result"].get("position")
        if not is_int(pos) or pos != rec["leaf_index"] + 1:
            fail("result.position %r is not leaf_index + 1 = %d" % (pos, rec["leaf_index"] + 1))
    check(6, c6)

    check(7, lambda: check_arithmetic(rec["result"]))

    return e, vk, tp, admins, genesis_entry


DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")
MAX_PLACES = 28
# Exact: no product or sum of 96-bit decimals comes near 200 digits.
EXACT = decimal.Context(prec=200, traps=[decimal.Inexact, decimal.Overflow])
ROUND = decimal.Context(prec=200, rounding=decimal.ROUND_HALF_UP)


def _number(v, what):
    """A JSON integer or a decimal string -?DIGITS(.DIGITS)? as a Decimal."""
    if is_int(v):
        return decimal.Decimal(v)
    if isinstance(v, str) and DECIMAL.match(v):
        return decimal.Decimal(v)
    fail("%s %s is not a number" % (what, jcs.canonicalize(v).decode("utf-8")))


def _rhu(x, places):
    """Round half up (away from zero at exactly .5) to `places` places."""
    if x.as_tuple().exponent >= -places:
        return x
    return x.quantize(decimal.Decimal(1).scaleb(-places), context=ROUND)


def _s(x):
    """A Decimal as a plain decimal string without trailing zeros."""
    return format(x.normalize(context=ROUND), "f")


def check_arithmetic(res):
    """§12 check 7: contribution = value × weight, the contributions add up to
    explain.unrounded.s (after rhu(·, rounded_to)), and one number of places
    0..=28 rounds every unrounded score to its reported value."""
    ex = res.get("explain")
    if ex is None:
        return
    if not isinstance(ex, dict):
        fail("explain is not an object")
    unrounded = ex.get("unrounded") or {}
    scoring = ex.get("scoring") or {}
    if not isinstance(unrounded, dict) or not isinstance(scoring, dict):
        fail("explain.unrounded or explain.scoring is not an object")

    def unrounded_of(s):
        if s not in unrounded:
            fail("score `%s`: explain.unrounded does not give it" % s)
        return _number(unrounded[s], "score `%s`: its unrounded value" % s)

    for s, sc in scoring.items():
        terms = sc.get("terms") if isinstance(sc, dict) else None
        if not isinstance(terms, dict):
            fail("score `%s`: its scoring has no `terms` object" % s)
        d = sc.get("rounded_to")
        if "rounded_to" in sc and not (is_int(d) and 0 <= d <= MAX_PLACES):
            fail("score `%s`: rounded_to %r is not a number of places 0..=28" % (s, d))
        total = decimal.Decimal(0)
        for t, vwc in terms.items():
            if not isinstance(vwc, list) or len(vwc) != 3:
                fail("score `%s`, term `%s`: not [value, weight, contribution]" % (s, t))
            v, w, c = (_number(x, "score `%s`, term `%s`: the %s" % (s, t, what))
                       for x, what in zip(vwc, ("value", "weight", "contribution")))
            if EXACT.multiply(v, w) != c:
                fail("score `%s`, term `%s`: value × weight = %s × %s = %s, not %s"
                     % (s, t, _s(v), _s(w), _s(EXACT.multiply(v, w)), _s(c)))
            total = EXACT.add(total, c)
        want = total if d is None else _rhu(total, d)
        if want != unrounded_of(s):
            fail("score `%s`: its terms add up to %s%s, not to its unrounded value %s"
                 % (s, _s(total), "" if d is None else " (%s to %d places)" % (_s(want), d),
                    _s(unrounded_of(s))))
    places = set(range(MAX_PLACES + 1))
    for s in unrounded:
        u = unrounded_of(s)
        if s not in res:
            fail("score `%s`: the record does not report it" % s)
        r = _number(res[s], "score `%s`: its reported value" % s)
        places &= {d for d in range(MAX_PLACES + 1) if _rhu(u, d) == r}
        if not places:
            fail("score `%s`: reported %s is not %s rounded half up to the places of "
                 "every score" % (s, _s(r), _s(u)))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Verify a rankproof staff receipt (FORMAT.md §12).")
    ap.add_argument("file")
    ap.add_argument("--log-vkey", required=True)
    a = ap.parse_args(argv)
    try:
        with open(a.file, "rb") as f:
            data = f.read()
    except OSError as ex:
        print("error: cannot read %s: %s" % (a.file, ex.strerror), file=sys.stderr)
        return 2
    try:
        try:
            rec = jcs.parse(data)
        except (ValueError, jcs.JCSError) as ex:
            raise CheckFailed(1, "the receipt is not valid JSON: %s" % ex)
        e, vk, tp, admins, genesis_entry = verify_receipt(rec, a.log_vkey)
    except UsageError as ex:
        print("error: %s" % ex, file=sys.stderr)
        return 2
    except VerifyError as ex:
        print("FAILED: %s" % ex, file=sys.stderr)
        return 1
    r = rec["result"]
    b = e.body
    rules = b.get("rules") if isinstance(b.get("rules"), dict) else {}
    print("receipt OK: %s" % a.file)
    for k in ("staff_id", "name", "total", "rank", "grade", "bonus_multiplier"):
        v = r.get(k)
        print("%-17s %s" % (k + ":", v if isinstance(v, str) else jcs.canonicalize(v).decode("utf-8")))
    print("ranking %d for %s under %s@%s, signed by operator %s"
          % (e.seq, b.get("period"), rules.get("name"), rules.get("version"), vk.handle))
    print("operator granted by %s" % " <- ".join(k.handle for k in admins))
    print("proven in the log %s at size %d, genesis leaf %s"
          % (tp.checkpoint.origin, tp.checkpoint.size, leaf_hash(genesis_entry.raw).hex()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
