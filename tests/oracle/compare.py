#!/usr/bin/env python3
"""Compare two ranking JSON outputs field by field.

    python3 tests/oracle/compare.py EXPECTED.json GOT.json

EXPECTED is normally the oracle's output (tests/oracle/marketing.py), GOT the
product's (`rankproof rank ... --format json`); either may be "-" for stdin.
Both must be objects with a "results" array.  Staff are matched by staff_id;
for each the 12 policy fields are compared exactly, JSON type included
(rank 3 and rank "3" differ; "87.5" and "87.50" differ, and the report says
when two strings differ only in decimal spelling).  The order of the arrays
is compared too.  Extra per-staff fields and extra top-level keys are ignored.

Prints one line per difference: staff_id, field, expected, got.
Exit status: 0 identical, 1 differences, 2 unreadable input.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation

FIELDS = ["staff_id", "name", "region", "team", "sales", "customer", "teamwork",
          "total", "position", "rank", "grade", "bonus_multiplier"]


def load(path: str):
    try:
        if path == "-":
            doc = json.load(sys.stdin)
        else:
            with open(path, encoding="utf-8-sig") as f:
                doc = json.load(f)
    except (OSError, ValueError) as e:
        print(f"error: cannot read {path}: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        print(f"error: {path}: expected an object with a \"results\" array", file=sys.stderr)
        raise SystemExit(2)
    return doc["results"]


def same_number(a, b) -> bool:
    try:
        return isinstance(a, str) and isinstance(b, str) and Decimal(a) == Decimal(b)
    except InvalidOperation:
        return False


def diff(expected: list, got: list) -> list[tuple[str, str, object, object]]:
    out = []
    def key(r):
        return r.get("staff_id") if isinstance(r, dict) else None
    exp_ids = [key(r) for r in expected]
    got_ids = [key(r) for r in got]
    got_by_id = {}
    for r in got:
        if key(r) in got_by_id:
            out.append((str(key(r)), "(duplicate)", None, "staff appears twice in GOT"))
        got_by_id[key(r)] = r
    if len(expected) != len(got):
        out.append(("*", "(count)", len(expected), len(got)))
    for r in expected:
        sid = key(r)
        g = got_by_id.get(sid)
        if g is None:
            out.append((str(sid), "(missing)", "present", "absent"))
            continue
        for f in FIELDS:
            e, v = r.get(f, "<absent>"), g.get(f, "<absent>")
            if e != v or type(e) is not type(v):
                note = " (same value, different spelling)" if same_number(e, v) else ""
                out.append((str(sid), f + note, e, v))
    exp_set = set(exp_ids)
    for sid in got_ids:
        if sid not in exp_set:
            out.append((str(sid), "(unexpected)", "absent", "present"))
    if exp_ids != got_ids and set(exp_ids) == set(got_ids):
        for i, (a, b) in enumerate(zip(exp_ids, got_ids), start=1):
            if a != b:
                out.append(("*", f"(order at index {i})", a, b))
                break
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    expected, got = load(argv[0]), load(argv[1])
    diffs = diff(expected, got)
    for sid, field, e, g in diffs:
        print(f"{sid}\t{field}\texpected={json.dumps(e, ensure_ascii=False)}\tgot={json.dumps(g, ensure_ascii=False)}")
    if diffs:
        print(f"{len(diffs)} difference(s)", file=sys.stderr)
        return 1
    print(f"identical: {len(expected)} staff", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
