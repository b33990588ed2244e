#!/usr/bin/env python3
"""Seeded random cohort generator for the marketing ruleset.

    python3 tests/oracle/gen_cohort.py --n 50 --seed 7 --out /tmp/c7

writes crm.csv, survey.csv, oa.csv (UTF-8; with --bom, each starts with a
BOM).  Every value respects the RULESET input table; edge cases are mixed in
on purpose: duplicated rows under other IDs (tied totals), zero leads, zero
prev_sales_amount, collection rates 0.95 / 0.9499 / 0 / 1, complaints = 0,
csat 1 and 5, nps -100 and 100, knowledge_shares > 20, innovations > 5,
staff IDs of varying length (E7, E10, E100: byte order differs from numeric
order), Chinese names and regions, decimals with 0-4 places (sometimes with
trailing zeros such as "87.50"), team names that need CSV quoting
("大客户部,一组", a name with a double quote).  Rows of each file are shuffled
independently, so the join cannot rely on order.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
from decimal import Decimal

SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "欧阳", "司马"]
GIVEN = ["芳", "娜", "伟", "敏", "静", "磊", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "志强"]
ASCII_NAMES = ["Alice Chen", "Bob Li", "O'Neil, Pat", "Zoë Wang"]
REGIONS = ["华东", "华南", "华北", "西南", "华中", "东北", "西北"]
TEAMS = ["大客户部,一组", "大客户部,二组", "渠道部", "电商组", "新零售", "Key Accounts", 'Team "Alpha"', "直销 三组"]

CRM_COLUMNS = ["staff_id", "name", "region", "team", "sales_amount", "sales_target",
               "prev_sales_amount", "leads", "deals_won", "new_customers", "collection_rate"]
SURVEY_COLUMNS = ["staff_id", "csat", "nps", "complaints", "complaints_resolved_72h"]
OA_COLUMNS = ["staff_id", "collaboration", "knowledge_shares", "mentoring",
              "innovations_adopted", "training_score"]


def rand_dec(rng: random.Random, lo: Decimal, hi: Decimal, max_places: int = 4) -> str:
    """A decimal in [lo, hi] with 0..max_places places, sometimes padded with zeros."""
    places = rng.randint(0, max_places)
    scale = 10 ** places
    k = rng.randint(int(lo * scale), int(hi * scale))
    v = Decimal(k).scaleb(-places)
    s = format(v, "f")
    if places and rng.random() < 0.15:
        s += "0" * rng.randint(1, 2)          # "87.5" -> "87.50": same value, other spelling
    return s


def pick_ids(rng: random.Random, n: int) -> list[str]:
    ids: set[str] = set()
    # Always include the byte-order trap trio when n allows.
    for trap in ["E7", "E10", "E100", "E9", "E11"]:
        if len(ids) < n and rng.random() < 0.8:
            ids.add(trap)
    while len(ids) < n:
        style = rng.random()
        if style < 0.6:
            ids.add(f"E{rng.randint(1, 999)}")
        elif style < 0.8:
            ids.add(f"S{rng.randint(0, 99999):05d}")
        elif style < 0.9:
            # lower case sorts after upper case; `x` keeps it from being a
            # case-only variant of an `E` ID, which the reader refuses
            ids.add(f"e{rng.randint(1, 99)}x")
        else:
            ids.add(f"员工{rng.randint(1, 99)}")      # non-ASCII IDs: UTF-8 byte order
    out = sorted(ids)
    rng.shuffle(out)
    return out


def gen_values(rng: random.Random, all_zero_leads: bool) -> dict[str, str]:
    D = Decimal
    r = rng.random
    v: dict[str, str] = {}
    # crm
    target = D(rand_dec(rng, D("10000"), D("1500000"), 2)) if r() < 0.95 else D(rand_dec(rng, D("0.01"), D("10"), 2))
    if target <= 0:
        target = D("1")
    v["sales_target"] = format(target, "f")
    x = r()
    if x < 0.05:
        v["sales_amount"] = "0"
    elif x < 0.12:
        v["sales_amount"] = v["sales_target"]                     # exactly on target
    else:
        v["sales_amount"] = rand_dec(rng, D(0), target * 2, 4)
    x = r()
    if x < 0.15:
        v["prev_sales_amount"] = "0"
    elif x < 0.22:
        v["prev_sales_amount"] = v["sales_amount"]                # growth exactly 0
    else:
        v["prev_sales_amount"] = rand_dec(rng, D(0), target * 2, 4)
    if all_zero_leads or r() < 0.12:
        leads = 0
    else:
        leads = rng.randint(1, 300)
    v["leads"] = str(leads)
    v["deals_won"] = str(0 if leads == 0 else rng.choice([0, leads, rng.randint(0, leads)]))
    v["new_customers"] = str(rng.choice([0, rng.randint(0, 60), rng.randint(0, 60)]))
    v["collection_rate"] = rng.choice(["0.95", "0.9499", "0.95", "0.9499", "1", "0", "0.950",
                                       rand_dec(rng, D("0.5"), D(1), 4), rand_dec(rng, D(0), D(1), 4)])
    # survey
    x = r()
    v["csat"] = "1" if x < 0.1 else "5" if x < 0.2 else rand_dec(rng, D(1), D(5), 2)
    x = r()
    v["nps"] = "-100" if x < 0.08 else "100" if x < 0.16 else str(rng.randint(-100, 100))
    complaints = 0 if r() < 0.3 else rng.randint(1, 12)
    v["complaints"] = str(complaints)
    v["complaints_resolved_72h"] = str(rng.choice([0, complaints, rng.randint(0, complaints)]))
    # oa
    for col in ("collaboration", "mentoring", "training_score"):
        x = r()
        v[col] = "0" if x < 0.05 else "100" if x < 0.12 else rand_dec(rng, D(0), D(100), 2)
    v["knowledge_shares"] = str(rng.choice([0, 20, 21, rng.randint(0, 40)]))
    v["innovations_adopted"] = str(rng.choice([0, 5, 6, rng.randint(0, 12)]))
    return v


def generate(n: int, seed: int, all_zero_leads: bool = False, dup_rate: float = 0.15):
    rng = random.Random(seed)
    ids = pick_ids(rng, n)
    rows = []
    for sid in ids:
        if rows and rng.random() < dup_rate:
            base = rng.choice(rows)                      # exact copy of values: a tie
            vals = {k: base[k] for k in base if k not in ("staff_id",)}
            if rng.random() < 0.5:
                vals["name"] = rng.choice(SURNAMES) + rng.choice(GIVEN)
        else:
            vals = gen_values(rng, all_zero_leads)
            vals["name"] = (rng.choice(ASCII_NAMES) if rng.random() < 0.08
                            else rng.choice(SURNAMES) + rng.choice(GIVEN))
            vals["region"] = rng.choice(REGIONS)
            vals["team"] = rng.choice(TEAMS)
        vals["staff_id"] = sid
        rows.append(vals)
    return rows


def write(rows, out: str, seed: int, bom: bool = False) -> None:
    os.makedirs(out, exist_ok=True)
    rng = random.Random(seed ^ 0x5EED)
    for fname, cols in (("crm.csv", CRM_COLUMNS), ("survey.csv", SURVEY_COLUMNS), ("oa.csv", OA_COLUMNS)):
        order = list(rows)
        rng.shuffle(order)
        with open(os.path.join(out, fname), "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(cols)
            for row in order:
                w.writerow([row[c] for c in cols])


def check(rows) -> None:
    """Assert the RULESET input constraints (a guard against generator bugs)."""
    D = Decimal
    ids = [r["staff_id"] for r in rows]
    assert len(ids) == len(set(ids)), "duplicate staff_id"
    for r in rows:
        assert D(r["sales_amount"]) >= 0 and D(r["sales_target"]) > 0 and D(r["prev_sales_amount"]) >= 0
        assert 0 <= int(r["deals_won"]) <= int(r["leads"]) and int(r["new_customers"]) >= 0
        assert 0 <= D(r["collection_rate"]) <= 1
        assert 1 <= D(r["csat"]) <= 5 and -100 <= int(r["nps"]) <= 100
        assert 0 <= int(r["complaints_resolved_72h"]) <= int(r["complaints"])
        for c in ("collaboration", "mentoring", "training_score"):
            assert 0 <= D(r[c]) <= 100
        assert int(r["knowledge_shares"]) >= 0 and int(r["innovations_adopted"]) >= 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="seeded random marketing cohort")
    ap.add_argument("--n", type=int, default=30, help="cohort size (N < 10 exercises band grading)")
    ap.add_argument("--small", action="store_true", help="shorthand: N drawn from 1..9 (ignores --n)")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--all-zero-leads", action="store_true", help="leads = deals_won = 0 for everyone")
    ap.add_argument("--dup-rate", type=float, default=0.15, help="probability a row copies an earlier one")
    ap.add_argument("--bom", action="store_true", help="write a UTF-8 BOM at the start of each file")
    args = ap.parse_args(argv)
    n = random.Random(args.seed).randint(1, 9) if args.small else args.n
    if n < 1:
        ap.error("--n must be at least 1")
    rows = generate(n, args.seed, args.all_zero_leads, args.dup_rate)
    check(rows)
    write(rows, args.out, args.seed, args.bom)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
