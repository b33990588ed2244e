#!/usr/bin/env python3
"""The marketing 1.0.0 policy (RULESET-marketing.md) as a pandas user would
write it: float64 columns, no exact decimals, no audit trail.  It is the
baseline of the dry-run benchmark (scripts/bench-rank.sh), not a reference
implementation: tests/oracle/marketing.py is the exact one.

    python3 engine/benches/pandas_marketing.py DIR > out.json

DIR holds crm.csv, survey.csv and oa.csv (`rankproof gen --n N --out DIR`).
Prints one JSON document with a "results" array in ranking order.
"""

import sys

import numpy as np
import pandas as pd


def main(d: str) -> None:
    crm = pd.read_csv(f"{d}/crm.csv", dtype={"staff_id": str})
    survey = pd.read_csv(f"{d}/survey.csv", dtype={"staff_id": str})
    oa = pd.read_csv(f"{d}/oa.csv", dtype={"staff_id": str})
    df = crm.merge(survey, on="staff_id", validate="1:1").merge(oa, on="staff_id", validate="1:1")
    n = len(df)

    # sales
    attainment = np.minimum(df.sales_amount / df.sales_target, 1.5)
    attainment_pts = attainment / 1.5 * 100
    prev = df.prev_sales_amount
    growth = np.where(prev > 0, (df.sales_amount - prev) / prev.where(prev > 0, 1), 0.0)
    growth_pts = (np.clip(growth, -0.5, 0.5) + 0.5) * 100
    conversion = np.where(df.leads > 0, df.deals_won / df.leads.where(df.leads > 0, 1), 0.0)
    max_conv = conversion.max()
    conversion_pts = conversion / max_conv * 100 if max_conv > 0 else 0.0
    max_new = df.new_customers.max()
    new_customer_pts = df.new_customers / max_new * 100 if max_new > 0 else 0.0
    df["sales"] = 0.55 * attainment_pts + 0.15 * growth_pts + 0.15 * conversion_pts + 0.15 * new_customer_pts

    # customer
    csat_pts = (df.csat - 1) * 25
    nps_pts = (df.nps + 100) * 0.5
    resolution_pts = np.where(
        df.complaints == 0, 100.0,
        df.complaints_resolved_72h / df.complaints.where(df.complaints > 0, 1) * 100)
    df["customer"] = 0.4 * csat_pts + 0.4 * nps_pts + 0.2 * resolution_pts

    # teamwork
    share_pts = np.minimum(df.knowledge_shares, 20) * 5
    innovation_pts = np.minimum(df.innovations_adopted, 5) * 20
    df["teamwork"] = (0.35 * df.collaboration + 0.15 * share_pts + 0.20 * df.mentoring
                      + 0.15 * innovation_pts + 0.15 * df.training_score)

    df["total"] = (0.60 * df.sales + 0.20 * df.customer + 0.20 * df.teamwork).round(2)

    # order and competition rank
    df = df.sort_values(["total", "sales", "staff_id"], ascending=[False, False, True], kind="mergesort")
    df["position"] = np.arange(1, n + 1)
    df["rank"] = df.total.rank(method="min", ascending=False).astype(int)

    def cut(p):
        return int(np.floor(p * n + 0.5))

    r = df["rank"]
    if n >= 10:
        grade = np.select([r <= cut(0.05), r <= cut(0.20), r <= cut(0.80), r <= cut(0.95)],
                          ["S", "A", "B", "C"], "D")
    else:
        t = df.total
        grade = np.select([t >= 90, t >= 80, t >= 60, t >= 50], ["S", "A", "B", "C"], "D")
    df["grade"] = grade
    met = df.sales_amount >= df.sales_target
    tier = np.select([r <= cut(0.10), r <= cut(0.30), met], [3, 2, 1], 0)
    factor = np.where(df.collection_rate >= 0.95, 1.0, (df.collection_rate / 0.95).round(4))
    df["bonus_multiplier"] = (tier * factor).round(2)
    for c in ["sales", "customer", "teamwork"]:
        df[c] = df[c].round(2)

    cols = ["staff_id", "name", "region", "team", "sales", "customer", "teamwork", "total",
            "position", "rank", "grade", "bonus_multiplier"]
    sys.stdout.write('{"results":')
    sys.stdout.write(df[cols].to_json(orient="records", force_ascii=False))
    sys.stdout.write("}\n")


if __name__ == "__main__":
    main(sys.argv[1])
