#!/usr/bin/env python3
"""Independent reference implementation ("oracle") of RULESET-marketing.md.

Standard library only, decimal arithmetic only (no float anywhere).  Computes
rule package `marketing` version 1.0.0 exactly; `--weights 0.5,0.3,0.2` (or
`--rules-version 2.0.0`) gives the 5:3:2 variant, everything else unchanged.

    python3 tests/oracle/marketing.py --crm crm.csv --survey survey.csv --oa oa.csv

prints {"results": [...]} on stdout, staff in position order.  Input errors go
to stderr with exit status 2.  `--missing-staff exclude` leaves out staff
missing from a source and lists them as {"excluded": [{"staff_id",
"missing_from"}], ...} (RULES.md section 6).

Arithmetic model (RULESET "Every division ... is a ratio"):
  * ratio(a, b) = rhu(a / b, 8) where a / b is the *exact* rational quotient
    (computed with fractions.Fraction, so no intermediate precision exists);
  * every other operation (sum, product by a constant, min, max, clamp) is
    exact: the decimal context traps Inexact, so an accidental rounding
    anywhere but rhu() raises instead of silently changing a digit;
  * rhu(x, d) rounds half away from zero (decimal.ROUND_HALF_UP).
"""

from __future__ import annotations

import argparse
import bisect
import csv
import decimal
import io
import json
import re
import sys
from decimal import Decimal, ROUND_HALF_UP
from fractions import Fraction

RULES_VERSIONS = {
    "1.0.0": (Decimal("0.60"), Decimal("0.20"), Decimal("0.20")),
    "2.0.0": (Decimal("0.5"), Decimal("0.3"), Decimal("0.2")),
}

CRM_COLUMNS = ["staff_id", "name", "region", "team", "sales_amount", "sales_target",
               "prev_sales_amount", "leads", "deals_won", "new_customers", "collection_rate"]
SURVEY_COLUMNS = ["staff_id", "csat", "nps", "complaints", "complaints_resolved_72h"]
OA_COLUMNS = ["staff_id", "collaboration", "knowledge_shares", "mentoring",
              "innovations_adopted", "training_score"]

# Exact context: huge precision, and Inexact is an error.  Only rhu() rounds.
EXACT = decimal.Context(prec=200, rounding=ROUND_HALF_UP,
                        traps=[decimal.Inexact, decimal.InvalidOperation,
                               decimal.DivisionByZero, decimal.Overflow])
ROUNDING = decimal.Context(prec=200, rounding=ROUND_HALF_UP,
                           traps=[decimal.InvalidOperation, decimal.Overflow])

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)


class InputError(Exception):
    pass


# ---------------------------------------------------------------- arithmetic

def rhu(x: Decimal, d: int) -> Decimal:
    """Round half up (away from zero at exactly .5) to d decimal places."""
    return x.quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP, context=ROUNDING)


def ratio(a: Decimal, b: Decimal) -> Decimal:
    """ratio(a, b) = rhu(a / b, 8), from the exact rational quotient."""
    if b == 0:
        raise ZeroDivisionError("ratio with zero denominator")
    q = Fraction(a) / Fraction(b) * 10 ** 8
    sign = -1 if q < 0 else 1
    n, den = abs(q.numerator), q.denominator
    k = (2 * n + den) // (2 * den)          # floor(|q| + 1/2): half away from zero
    return Decimal(sign * k).scaleb(-8, context=EXACT)


def clamp(x: Decimal, lo: Decimal, hi: Decimal) -> Decimal:
    return max(lo, min(x, hi))


def cut(p: Decimal, n: int) -> int:
    """cut(p) = rhu(p * N, 0)."""
    return int(rhu(p * n, 0))


def canonical(x: Decimal) -> str:
    """Canonical decimal string: no exponent, no trailing fractional zeros, no -0."""
    if not x.is_finite():
        raise ValueError("non-finite decimal")
    if x == 0:
        return "0"
    s = format(x.normalize(context=ROUNDING), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


# ---------------------------------------------------------------- input

_DEC_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_INT_RE = re.compile(r"-?[0-9]+")


def parse_decimal(text: str, where: str) -> Decimal:
    if not _DEC_RE.fullmatch(text):
        raise InputError(f"{where}: not a plain decimal: {text!r}")
    return Decimal(text)


def parse_int(text: str, where: str) -> int:
    if not _INT_RE.fullmatch(text):
        raise InputError(f"{where}: not an integer: {text!r}")
    return int(text)


def read_csv_text(text: str, source: str, columns: list[str]) -> dict[str, dict[str, str]]:
    """Rows keyed by staff_id.  A leading BOM is dropped; blank lines are skipped."""
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{source}: empty file (no header row)")
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputError(f"{source}: missing column(s): {', '.join(missing)}")
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        raise InputError(f"{source}: duplicate column(s): {', '.join(dup)}")
    idx = {c: header.index(c) for c in columns}
    rows: dict[str, dict[str, str]] = {}
    for lineno, rec in enumerate(reader, start=2):
        if not rec or rec == [""]:
            continue
        if len(rec) != len(header):
            raise InputError(f"{source} line {lineno}: {len(rec)} fields, header has {len(header)}")
        row = {c: rec[i] for c, i in idx.items()}
        sid = row["staff_id"]
        if sid == "":
            raise InputError(f"{source} line {lineno}: empty staff_id")
        if sid in rows:
            raise InputError(f"{source}: duplicate staff_id {sid!r}")
        rows[sid] = row
    return rows


def read_csv_file(path: str, source: str, columns: list[str]) -> dict[str, dict[str, str]]:
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{source}: not UTF-8: {e}")
    return read_csv_text(text, source, columns)


def join_ids(crm, survey, oa, missing_staff="refuse"):
    """The staff IDs to rank, in UTF-8 byte order, and the excluded staff.

    missing_staff = "refuse": a staff_id present in one source but missing
    from another is an error.  "exclude" (RULES.md section 6, [join]
    missing_staff = "exclude"): such staff are not eligible and left out;
    returned as [{"staff_id": ..., "missing_from": [source names in order]}],
    in UTF-8 byte order of the IDs."""
    srcs = {"crm": crm, "survey": survey, "oa": oa}
    all_ids = sorted(set(crm) | set(survey) | set(oa), key=lambda s: s.encode("utf-8"))
    eligible, excluded = [], []
    for sid in all_ids:
        missing = sorted(name for name, rows in srcs.items() if sid not in rows)
        if not missing:
            eligible.append(sid)
        elif missing_staff == "exclude":
            excluded.append({"staff_id": sid, "missing_from": missing})
        else:
            raise InputError(f"staff {sid!r} missing from source {missing[0]}")
    return eligible, excluded


def build_staff(crm, survey, oa, ids=None) -> list[dict]:
    """Join on staff_id (all of them, or `ids`) and validate every RULESET range."""
    if ids is None:
        ids, _ = join_ids(crm, survey, oa)
    staff = []
    for sid in ids:
        c, s, o = crm[sid], survey[sid], oa[sid]

        def dec(src, row, col, lo=None, hi=None, gt=None):
            where = f"{src} {sid} {col}"
            v = parse_decimal(row[col], where)
            if lo is not None and v < lo or hi is not None and v > hi or gt is not None and v <= gt:
                raise InputError(f"{where}: out of range: {row[col]}")
            return v

        def integer(src, row, col, lo=None, hi=None):
            where = f"{src} {sid} {col}"
            v = parse_int(row[col], where)
            if lo is not None and v < lo or hi is not None and v > hi:
                raise InputError(f"{where}: out of range: {row[col]}")
            return v

        rec = {
            "staff_id": sid, "name": c["name"], "region": c["region"], "team": c["team"],
            "sales_amount": dec("crm", c, "sales_amount", lo=ZERO),
            "sales_target": dec("crm", c, "sales_target", gt=ZERO),
            "prev_sales_amount": dec("crm", c, "prev_sales_amount", lo=ZERO),
            "leads": integer("crm", c, "leads", lo=0),
            "new_customers": integer("crm", c, "new_customers", lo=0),
            "collection_rate": dec("crm", c, "collection_rate", lo=ZERO, hi=ONE),
            "csat": dec("survey", s, "csat", lo=ONE, hi=Decimal(5)),
            "nps": integer("survey", s, "nps", lo=-100, hi=100),
            "complaints": integer("survey", s, "complaints", lo=0),
            "collaboration": dec("oa", o, "collaboration", lo=ZERO, hi=HUNDRED),
            "knowledge_shares": integer("oa", o, "knowledge_shares", lo=0),
            "mentoring": dec("oa", o, "mentoring", lo=ZERO, hi=HUNDRED),
            "innovations_adopted": integer("oa", o, "innovations_adopted", lo=0),
            "training_score": dec("oa", o, "training_score", lo=ZERO, hi=HUNDRED),
        }
        rec["deals_won"] = integer("crm", c, "deals_won", lo=0, hi=rec["leads"])
        rec["complaints_resolved_72h"] = integer("survey", s, "complaints_resolved_72h",
                                                 lo=0, hi=rec["complaints"])
        staff.append(rec)
    return staff


# ---------------------------------------------------------------- policy

def compute(staff: list[dict], weights=RULES_VERSIONS["1.0.0"]) -> list[dict]:
    """Score, order, rank, grade and bonus a joined cohort.  Returns result
    records in position order; each also carries the unrounded scores under
    keys starting with '_' (not part of the output)."""
    w_sales, w_cust, w_team = weights
    n = len(staff)
    with decimal.localcontext(EXACT):
        convs = {}
        for r in staff:
            convs[r["staff_id"]] = ratio(Decimal(r["deals_won"]), Decimal(r["leads"])) if r["leads"] > 0 else ZERO
        max_conv = max(convs.values(), default=ZERO)
        max_new = max((r["new_customers"] for r in staff), default=0)

        scored = []
        for r in staff:
            sid = r["staff_id"]
            # Sales
            attainment = min(ratio(r["sales_amount"], r["sales_target"]), Decimal("1.5"))
            attainment_pts = ratio(attainment, Decimal("1.5")) * 100
            prev = r["prev_sales_amount"]
            growth = ratio(r["sales_amount"] - prev, prev) if prev > 0 else ZERO
            growth_pts = (clamp(growth, Decimal("-0.5"), Decimal("0.5")) + Decimal("0.5")) * 100
            conversion = convs[sid]
            conversion_pts = ratio(conversion, max_conv) * 100 if max_conv > 0 else ZERO
            new_customer_pts = (ratio(Decimal(r["new_customers"]), Decimal(max_new)) * 100
                                if max_new > 0 else ZERO)
            sales = (Decimal("0.55") * attainment_pts + Decimal("0.15") * growth_pts
                     + Decimal("0.15") * conversion_pts + Decimal("0.15") * new_customer_pts)
            # Customer
            csat_pts = (r["csat"] - 1) * 25
            nps_pts = (r["nps"] + 100) * Decimal("0.5")
            if r["complaints"] == 0:
                resolution_pts = HUNDRED
            else:
                resolution_pts = ratio(Decimal(r["complaints_resolved_72h"]), Decimal(r["complaints"])) * 100
            customer = Decimal("0.4") * csat_pts + Decimal("0.4") * nps_pts + Decimal("0.2") * resolution_pts
            # Teamwork
            share_pts = min(r["knowledge_shares"], 20) * 5
            innovation_pts = min(r["innovations_adopted"], 5) * 20
            teamwork = (Decimal("0.35") * r["collaboration"] + Decimal("0.15") * share_pts
                        + Decimal("0.20") * r["mentoring"] + Decimal("0.15") * innovation_pts
                        + Decimal("0.15") * r["training_score"])
            total = rhu(w_sales * sales + w_cust * customer + w_team * teamwork, 2)
            scored.append({"r": r, "sales": sales, "customer": customer,
                           "teamwork": teamwork, "total": total})

        # Order: total desc, unrounded sales desc, staff_id asc (UTF-8 bytes).
        scored.sort(key=lambda x: x["r"]["staff_id"].encode("utf-8"))
        scored.sort(key=lambda x: (x["total"], x["sales"]), reverse=True)  # stable

        # Competition rank: 1 + how many totals are strictly greater, counted
        # by bisection in the ascending list (the same count as a scan).
        ascending = sorted(x["total"] for x in scored)
        c05, c10, c20, c30, c80, c95 = (cut(Decimal(p), n) for p in
                                        ("0.05", "0.10", "0.20", "0.30", "0.80", "0.95"))
        out = []
        for pos, x in enumerate(scored, start=1):
            r, total = x["r"], x["total"]
            rank = 1 + len(ascending) - bisect.bisect_right(ascending, total)
            if n >= 10:
                grade = ("S" if rank <= c05 else "A" if rank <= c20 else
                         "B" if rank <= c80 else "C" if rank <= c95 else "D")
            else:
                grade = ("S" if total >= 90 else "A" if total >= 80 else
                         "B" if total >= 60 else "C" if total >= 50 else "D")
            if rank <= c10:
                tier = 3
            elif rank <= c30:
                tier = 2
            elif r["sales_amount"] >= r["sales_target"]:
                tier = 1
            else:
                tier = 0
            cr = r["collection_rate"]
            collection_factor = ONE if cr >= Decimal("0.95") else rhu(ratio(cr, Decimal("0.95")), 4)
            bonus = rhu(tier * collection_factor, 2)
            out.append({
                "staff_id": r["staff_id"], "name": r["name"], "region": r["region"], "team": r["team"],
                "sales": canonical(rhu(x["sales"], 2)),
                "customer": canonical(rhu(x["customer"], 2)),
                "teamwork": canonical(rhu(x["teamwork"], 2)),
                "total": canonical(total),
                "position": pos, "rank": rank, "grade": grade,
                "bonus_multiplier": canonical(bonus),
                "_sales": x["sales"], "_customer": x["customer"], "_teamwork": x["teamwork"],
                "_tier": tier, "_collection_factor": collection_factor,
            })
        return out


def public(results: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in results]


def run(crm_path: str, survey_path: str, oa_path: str, weights=RULES_VERSIONS["1.0.0"],
        missing_staff="refuse") -> dict:
    crm = read_csv_file(crm_path, "crm", CRM_COLUMNS)
    survey = read_csv_file(survey_path, "survey", SURVEY_COLUMNS)
    oa = read_csv_file(oa_path, "oa", OA_COLUMNS)
    ids, excluded = join_ids(crm, survey, oa, missing_staff)
    if not ids:
        raise InputError("every staff member is missing from at least one source; nobody is eligible")
    doc = {"results": public(compute(build_staff(crm, survey, oa, ids), weights))}
    if missing_staff == "exclude":
        doc["excluded"] = excluded
    return doc


def parse_weights(text: str):
    parts = text.split(",")
    if len(parts) != 3:
        raise InputError("--weights needs three comma-separated decimals: sales,customer,teamwork")
    return tuple(parse_decimal(p.strip(), "--weights") for p in parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crm", required=True)
    ap.add_argument("--survey", required=True)
    ap.add_argument("--oa", required=True)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--weights", help="sales,customer,teamwork weights (default 0.6,0.2,0.2)")
    g.add_argument("--rules-version", choices=sorted(RULES_VERSIONS), default="1.0.0")
    ap.add_argument("--missing-staff", choices=["refuse", "exclude"], default="refuse",
                    help="staff missing from a source: an error (default), or left out and "
                         "listed under \"excluded\" ([join] missing_staff = \"exclude\")")
    args = ap.parse_args(argv)
    try:
        weights = parse_weights(args.weights) if args.weights else RULES_VERSIONS[args.rules_version]
        doc = run(args.crm, args.survey, args.oa, weights, args.missing_staff)
    except (InputError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
