"""Known-answer tests for the marketing oracle.

Run: python3 -m unittest discover -s tests/oracle

Every expected number below was worked out by hand from RULESET-marketing.md
(the arithmetic is in the comments), not by running marketing.py.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import unittest
from decimal import Decimal, ROUND_HALF_UP, localcontext

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import compare  # noqa: E402
import gen_cohort  # noqa: E402
import marketing as m  # noqa: E402

# A staff row with every input; tests override what they need.
DEFAULTS = {
    "name": "王芳", "region": "华东", "team": "渠道部",
    "sales_amount": "150", "sales_target": "100", "prev_sales_amount": "100",
    "leads": "10", "deals_won": "10", "new_customers": "1", "collection_rate": "1",
    "csat": "5", "nps": "100", "complaints": "0", "complaints_resolved_72h": "0",
    "collaboration": "100", "knowledge_shares": "20", "mentoring": "100",
    "innovations_adopted": "5", "training_score": "100",
}


def write_cohort(d: str, rows: list[dict], bom: bool = False) -> tuple[str, str, str]:
    full = [{**DEFAULTS, **r} for r in rows]
    paths = []
    for fname, cols in (("crm.csv", m.CRM_COLUMNS), ("survey.csv", m.SURVEY_COLUMNS), ("oa.csv", m.OA_COLUMNS)):
        p = os.path.join(d, fname)
        with open(p, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(cols)
            # survey/oa in reverse order: the join must not depend on row order
            for r in (full if fname == "crm.csv" else list(reversed(full))):
                w.writerow([r[c] for c in cols])
        paths.append(p)
    return tuple(paths)


def rank_rows(rows: list[dict], weights=m.RULES_VERSIONS["1.0.0"], bom=False) -> list[dict]:
    with tempfile.TemporaryDirectory() as d:
        return m.run(*write_cohort(d, rows, bom), weights=weights)["results"]


def by_id(results):
    return {r["staff_id"]: r for r in results}


class Arithmetic(unittest.TestCase):
    def test_rhu_half_away_from_zero(self):
        self.assertEqual(m.rhu(Decimal("69.165"), 2), Decimal("69.17"))   # banker's would give 69.16
        self.assertEqual(m.rhu(Decimal("0.025"), 2), Decimal("0.03"))
        self.assertEqual(m.rhu(Decimal("-0.125"), 2), Decimal("-0.13"))
        self.assertEqual(m.rhu(Decimal("2.5"), 0), Decimal("3"))
        self.assertEqual(m.rhu(Decimal("0.5"), 0), Decimal("1"))
        self.assertEqual(m.rhu(Decimal("0.4"), 0), Decimal("0"))

    def test_ratio(self):
        self.assertEqual(m.ratio(Decimal(1), Decimal(3)), Decimal("0.33333333"))
        self.assertEqual(m.ratio(Decimal(2), Decimal(3)), Decimal("0.66666667"))
        self.assertEqual(m.ratio(Decimal(-2), Decimal(3)), Decimal("-0.66666667"))   # away from zero
        self.assertEqual(m.ratio(Decimal(1), Decimal("200000000")), Decimal("0.00000001"))  # 0.000000005 -> up
        self.assertEqual(m.ratio(Decimal(-1), Decimal("200000000")), Decimal("-0.00000001"))
        self.assertEqual(m.ratio(Decimal(1), Decimal("300000000")), Decimal("0"))
        # 0.9499 / 0.95 = 0.99989473684210..., 8 places -> 0.99989474
        self.assertEqual(m.ratio(Decimal("0.9499"), Decimal("0.95")), Decimal("0.99989474"))

    def test_ratio_matches_60_digit_decimal_division(self):
        # The brief's suggested method: divide at 60 digits, then quantize.
        import random
        rng = random.Random(1)
        for _ in range(2000):
            a = Decimal(rng.randint(-10**9, 10**9)).scaleb(-rng.randint(0, 4))
            b = Decimal(rng.randint(1, 10**9)).scaleb(-rng.randint(0, 4))
            with localcontext() as c:
                c.prec = 60
                q = (a / b).quantize(Decimal("1e-8"), rounding=ROUND_HALF_UP)
            self.assertEqual(m.ratio(a, b), q, (a, b))

    def test_cut(self):
        # cut(p) = rhu(p*N, 0)
        self.assertEqual(m.cut(Decimal("0.05"), 10), 1)    # 0.5 -> 1
        self.assertEqual(m.cut(Decimal("0.10"), 25), 3)    # 2.5 -> 3 (banker's: 2)
        self.assertEqual(m.cut(Decimal("0.30"), 25), 8)    # 7.5 -> 8
        self.assertEqual(m.cut(Decimal("0.95"), 25), 24)   # 23.75 -> 24
        self.assertEqual(m.cut(Decimal("0.10"), 4), 0)     # 0.4 -> 0: nobody gets tier 3
        self.assertEqual(m.cut(Decimal("0.30"), 3), 1)     # 0.9 -> 1

    def test_canonical(self):
        c = m.canonical
        self.assertEqual(c(Decimal("87.50")), "87.5")
        self.assertEqual(c(Decimal("100.00")), "100")
        self.assertEqual(c(Decimal("-0.00")), "0")
        self.assertEqual(c(Decimal("-0")), "0")
        self.assertEqual(c(Decimal("0E-8")), "0")
        self.assertEqual(c(Decimal("1E+2")), "100")
        self.assertEqual(c(Decimal("1.0E+3")), "1000")
        self.assertEqual(c(Decimal("0.00000001")), "0.00000001")
        self.assertEqual(c(Decimal("-12.340")), "-12.34")
        self.assertEqual(c(Decimal("3")), "3")
        self.assertEqual(c(Decimal("1.05")), "1.05")

    def test_collection_factor_0_9499(self):
        # factor = rhu(ratio(0.9499, 0.95), 4) = rhu(0.99989474, 4) = 0.9999
        f = m.rhu(m.ratio(Decimal("0.9499"), Decimal("0.95")), 4)
        self.assertEqual(f, Decimal("0.9999"))
        # bonus = rhu(tier * 0.9999, 2): tier 3 -> 2.9997 -> 3.00; 2 -> 1.9998 -> 2.00; 1 -> 0.9999 -> 1.00
        self.assertEqual([m.canonical(m.rhu(t * f, 2)) for t in (3, 2, 1, 0)], ["3", "2", "1", "0"])
        # 0.9: ratio = 0.94736842(1...) -> 0.9474; tier 2 -> 1.8948 -> 1.89
        f9 = m.rhu(m.ratio(Decimal("0.9"), Decimal("0.95")), 4)
        self.assertEqual((f9, m.rhu(2 * f9, 2)), (Decimal("0.9474"), Decimal("1.89")))


# Three-person cohort, worked by hand.
#
#   A: sales 120000 / target 100000, prev 100000, leads 50, deals 10, new 8, coll 0.96
#      csat 4.2, nps 40, complaints 0
#      collab 80, shares 25, mentoring 60, innovations 7, training 90
#   B: sales 90000 / 100000, prev 0, leads 0, deals 0, new 4, coll 0.9499
#      csat 1, nps -100, complaints 3, resolved 1
#      collab 50, shares 3, mentoring 0, innovations 1, training 70
#   C: sales 200000 / 100000, prev 250000, leads 40, deals 10, new 0, coll 0.5
#      csat 5, nps 100, complaints 4, resolved 3
#      collab 100, shares 20, mentoring 100, innovations 5, training 100
#
# Cohort: conversions A 10/50 = 0.2, B 0 (no leads), C 10/40 = 0.25 -> max_conv 0.25;
#         max_new = 8.
# Sales:
#   A: attainment 1.2 -> ratio(1.2,1.5)=0.8 -> 80; growth 20000/100000 = 0.2 -> (0.2+0.5)*100 = 70;
#      conv ratio(0.2,0.25)=0.8 -> 80; new 8/8 -> 100
#      sales = 0.55*80 + 0.15*70 + 0.15*80 + 0.15*100 = 44 + 10.5 + 12 + 15 = 81.5
#   B: attainment 0.9 -> 0.6 -> 60; prev 0 -> growth 0 -> 50; conv 0; new 4/8 -> 50
#      sales = 33 + 7.5 + 0 + 7.5 = 48
#   C: attainment min(2, 1.5) = 1.5 -> 100; growth -50000/250000 = -0.2 -> 30; conv 100; new 0
#      sales = 55 + 4.5 + 15 + 0 = 74.5
# Customer:
#   A: csat_pts 3.2*25 = 80; nps_pts 140*0.5 = 70; resolution 100 (no complaints)
#      = 32 + 28 + 20 = 80
#   B: 0; 0; ratio(1,3) = 0.33333333 -> 33.333333 ; = 0.2*33.333333 = 6.6666666 -> "6.67"
#   C: 100; 100; 3/4 -> 75 ; = 40 + 40 + 15 = 95
# Teamwork:
#   A: 0.35*80 + 0.15*min(25,20)*5 + 0.2*60 + 0.15*min(7,5)*20 + 0.15*90
#      = 28 + 15 + 12 + 15 + 13.5 = 83.5
#   B: 17.5 + 0.15*15 + 0 + 0.15*20 + 10.5 = 17.5 + 2.25 + 3 + 10.5 = 33.25
#   C: 35 + 15 + 20 + 15 + 15 = 100
# Total (1.0.0):
#   A: 0.6*81.5 + 0.2*80 + 0.2*83.5 = 48.9 + 16 + 16.7 = 81.6
#   B: 0.6*48 + 0.2*6.6666666 + 0.2*33.25 = 28.8 + 1.33333332 + 6.65 = 36.78333332 -> 36.78
#   C: 0.6*74.5 + 0.2*95 + 0.2*100 = 44.7 + 19 + 20 = 83.7
# Order C, A, B; ranks 1, 2, 3.  N = 3 < 10 -> bands: C 83.7 A, A 81.6 A, B 36.78 D.
# Bonus: cut(0.10) = rhu(0.3) = 0, cut(0.30) = rhu(0.9) = 1.
#   C rank 1 -> tier 2; coll 0.5: ratio(0.5,0.95) = 0.52631578947... -> 0.52631579 -> 0.5263;
#     2*0.5263 = 1.0526 -> 1.05
#   A rank 2 -> 120000 >= 100000 -> tier 1; coll 0.96 >= 0.95 -> 1 -> "1"
#   B tier 0 (90000 < 100000) -> "0"
# Total (2.0.0, 0.5/0.3/0.2):
#   A: 40.75 + 24 + 16.7 = 81.45;  C: 37.25 + 28.5 + 20 = 85.75;
#   B: 24 + 1.99999998 + 6.65 = 32.64999998 -> 32.65
THREE = [
    dict(staff_id="A", name="张伟", region="华东", team="大客户部,一组",
         sales_amount="120000", sales_target="100000", prev_sales_amount="100000",
         leads="50", deals_won="10", new_customers="8", collection_rate="0.96",
         csat="4.2", nps="40", complaints="0", complaints_resolved_72h="0",
         collaboration="80", knowledge_shares="25", mentoring="60", innovations_adopted="7", training_score="90"),
    dict(staff_id="B", name="李娜", region="华南", team='Team "Alpha"',
         sales_amount="90000", sales_target="100000", prev_sales_amount="0",
         leads="0", deals_won="0", new_customers="4", collection_rate="0.9499",
         csat="1", nps="-100", complaints="3", complaints_resolved_72h="1",
         collaboration="50", knowledge_shares="3", mentoring="0", innovations_adopted="1", training_score="70"),
    dict(staff_id="C", name="王芳", region="西南", team="渠道部",
         sales_amount="200000.00", sales_target="100000", prev_sales_amount="250000",
         leads="40", deals_won="10", new_customers="0", collection_rate="0.5",
         csat="5", nps="100", complaints="4", complaints_resolved_72h="3",
         collaboration="100", knowledge_shares="20", mentoring="100", innovations_adopted="5", training_score="100"),
]


class ThreePerson(unittest.TestCase):
    def test_v1(self):
        res = rank_rows(THREE)
        got = [(r["staff_id"], r["sales"], r["customer"], r["teamwork"], r["total"],
                r["position"], r["rank"], r["grade"], r["bonus_multiplier"]) for r in res]
        self.assertEqual(got, [
            ("C", "74.5", "95", "100", "83.7", 1, 1, "A", "1.05"),
            ("A", "81.5", "80", "83.5", "81.6", 2, 2, "A", "1"),
            ("B", "48", "6.67", "33.25", "36.78", 3, 3, "D", "0"),
        ])
        a = by_id(res)["A"]
        self.assertEqual((a["name"], a["region"], a["team"]), ("张伟", "华东", "大客户部,一组"))
        self.assertEqual(by_id(res)["B"]["team"], 'Team "Alpha"')

    def test_v2_weights(self):
        res = rank_rows(THREE, weights=m.RULES_VERSIONS["2.0.0"])
        self.assertEqual([(r["staff_id"], r["total"]) for r in res],
                         [("C", "85.75"), ("A", "81.45"), ("B", "32.65")])

    def test_bom_and_cli(self):
        with tempfile.TemporaryDirectory() as d:
            crm, survey, oa = write_cohort(d, THREE, bom=True)
            out = subprocess.run([sys.executable, os.path.join(HERE, "marketing.py"),
                                  "--crm", crm, "--survey", survey, "--oa", oa, "--weights", "0.5,0.3,0.2"],
                                 capture_output=True, check=True)
            doc = json.loads(out.stdout.decode("utf-8"))
            self.assertEqual([r["total"] for r in doc["results"]], ["85.75", "81.45", "32.65"])
            self.assertEqual(set(doc["results"][0]), set(compare.FIELDS))
            self.assertIsInstance(doc["results"][0]["rank"], int)

    # Zero leads across the cohort: max_conv = 0, so conversion_pts = 0 for all.
    #   A sales 81.5 - 12 = 69.5 -> total 0.6*69.5 + 16 + 16.7 = 41.7 + 32.7 = 74.4
    #   C sales 74.5 - 15 = 59.5 -> total 35.7 + 19 + 20 = 74.7
    #   B unchanged 36.78
    def test_zero_leads_everywhere(self):
        rows = [{**r, "leads": "0", "deals_won": "0"} for r in THREE]
        res = rank_rows(rows)
        self.assertEqual([(r["staff_id"], r["sales"], r["total"], r["grade"]) for r in res],
                         [("C", "59.5", "74.7", "B"), ("A", "69.5", "74.4", "B"), ("B", "48", "36.78", "D")])

    # Zero new customers across the cohort too: max_new = 0 -> new_customer_pts 0.
    #   A 69.5 - 15 = 54.5 -> 32.7 + 32.7 = 65.4; B 48 - 7.5 = 40.5 -> 24.3 + 7.98333332 = 32.28333332 -> 32.28
    def test_zero_new_customers_everywhere(self):
        rows = [{**r, "leads": "0", "deals_won": "0", "new_customers": "0"} for r in THREE]
        t = {r["staff_id"]: (r["sales"], r["total"]) for r in rank_rows(rows)}
        self.assertEqual(t, {"C": ("59.5", "74.7"), "A": ("54.5", "65.4"), "B": ("40.5", "32.28")})


class HalfUpTotal(unittest.TestCase):
    # One staff, no leads and no new customers (so max_conv = max_new = 0), prev 0.
    #   sales 75 / target 100: attainment 0.75 -> ratio(0.75,1.5) = 0.5 -> 50; growth 0 -> 50
    #   sales = 27.5 + 7.5 = 35
    #   csat 3.01 -> 2.01*25 = 50.25; nps 0 -> 50; complaints 0 -> 100
    #   customer = 20.1 + 20 + 20 = 60.1
    #   teamwork: only mentoring 0.125 -> 0.2*0.125 = 0.025 -> reported rhu(0.025,2) = 0.03
    #   total = 21 + 12.02 + 0.005 = 33.025 -> 33.03 (half-even would say 33.02)
    def test_total_ends_in_5(self):
        row = dict(staff_id="E1", sales_amount="75", sales_target="100", prev_sales_amount="0",
                   leads="0", deals_won="0", new_customers="0", csat="3.01", nps="0",
                   collaboration="0", knowledge_shares="0", mentoring="0.125",
                   innovations_adopted="0", training_score="0")
        (r,) = rank_rows([row])
        self.assertEqual((r["sales"], r["customer"], r["teamwork"], r["total"]), ("35", "60.1", "0.03", "33.03"))
        # N = 1: cut(0.10) = cut(0.30) = 0 -> tier from target: 75 < 100 -> 0; grade band: D
        self.assertEqual((r["rank"], r["grade"], r["bonus_multiplier"]), (1, "D", "0"))


class Ordering(unittest.TestCase):
    # Two staff with equal *rounded* totals; the one with the lower unrounded total but
    # higher sales comes first, and both share rank 1.
    #   X (id "Z1"): 150/100 -> 100 pts; prev 0 -> 50; leads 0, new 0 -> sales = 55 + 7.5 = 62.5
    #      csat 1, nps -100, complaints 0 -> customer = 0.2*100 = 20; teamwork 0
    #      total = 37.5 + 4 = 41.5
    #   Y (id "A1"): 75/100 -> 50 pts -> sales = 27.5 + 7.5 = 35
    #      csat 1, nps 100 -> customer = 40 + 20 = 60
    #      teamwork: collab 100 -> 35, mentoring 37.6 -> 7.52 -> 42.52
    #      total = 21 + 12 + 8.504 = 41.504 -> 41.5
    # Same rounded total 41.5 -> sales decides: Z1 (62.5) before A1 (35).
    def test_rounded_tie_sales_decides(self):
        zero_tw = dict(collaboration="0", knowledge_shares="0", mentoring="0", innovations_adopted="0", training_score="0")
        x = dict(staff_id="Z1", sales_amount="150", sales_target="100", prev_sales_amount="0",
                 leads="0", deals_won="0", new_customers="0", csat="1", nps="-100", **zero_tw)
        y = dict(staff_id="A1", sales_amount="75", sales_target="100", prev_sales_amount="0",
                 leads="0", deals_won="0", new_customers="0", csat="1", nps="100",
                 **{**zero_tw, "collaboration": "100", "mentoring": "37.6"})
        res = rank_rows([y, x])
        self.assertEqual([(r["staff_id"], r["total"], r["sales"], r["teamwork"], r["position"], r["rank"])
                          for r in res],
                         [("Z1", "41.5", "62.5", "0", 1, 1), ("A1", "41.5", "35", "42.52", 2, 1)])

    def test_staff_id_byte_order(self):
        # identical rows: order by staff_id bytes: "E10" < "E100" < "E7" < "e1" < "员工1"
        ids = ["E7", "员工1", "e1", "E100", "E10"]
        res = rank_rows([dict(staff_id=i) for i in ids])
        self.assertEqual([r["staff_id"] for r in res], ["E10", "E100", "E7", "e1", "员工1"])
        self.assertEqual({r["rank"] for r in res}, {1})
        self.assertEqual([r["position"] for r in res], [1, 2, 3, 4, 5])


class BandGrading(unittest.TestCase):
    # N = 8 < 10: absolute bands S >= 90, A >= 80, B >= 60, C >= 50, else D.
    # Base profile ("full"): sales 150/100 (100 pts), prev 100 (growth 0.5 -> 100), leads 10 deals 10
    # (conv 1 = max -> 100), new 1 = max -> 100: sales 100; csat 5, nps 100, no complaints:
    # customer 100; teamwork all max: 100.  0.01 of total = 0.05 of teamwork = 0.25 mentoring.
    #  B1: collab 0, mentoring 25 -> teamwork 0+15+5+15+15 = 50 -> 60 + 20 + 10 = 90        S
    #  B2: collab 0, mentoring 24.75 -> teamwork 49.95 -> 60 + 20 + 9.99 = 89.99           A
    #  B3: teamwork 0 -> 60 + 20 = 80                                                       A
    #  B4: teamwork 0, csat 4.995 -> csat_pts 99.875 -> customer 39.95+40+20 = 99.95 -> 79.99  B
    #  B5: teamwork 0, customer 0 (csat 1, nps -100, 1 complaint 0 resolved) -> 60           B
    #  B6: as B5 but deals 9 (conv 0.9 -> 90 -> sales 98.5) and csat 1.445 (csat_pts 11.125,
    #      customer 4.45): 59.1 + 0.89 = 59.99                                              C
    #  B7: sales 90/100 (att 0.9 -> 60), prev 60 (growth 0.5 -> 100), deals 8 (80), new 1 (100):
    #      sales = 33 + 15 + 12 + 15 = 75; csat 1, nps 25 (62.5 -> 25), 1 complaint 0 resolved:
    #      customer 25; teamwork 0: 45 + 5 = 50                                              C
    #  B8: as B7 but nps 24 (62 -> 24.8) and csat 1.015 (0.375 -> 0.15): customer 24.95 -> 49.99  D
    # Bonus: N = 8: cut(0.10) = rhu(0.8) = 1, cut(0.30) = rhu(2.4) = 2.
    #  B1 tier 3 -> "3"; B2 tier 2 -> "2"; B3..B6 150 >= 100 -> "1"; B7, B8 90 < 100 -> "0".
    def test_bands(self):
        tw0 = dict(collaboration="0", knowledge_shares="0", mentoring="0", innovations_adopted="0", training_score="0")
        cust0 = dict(csat="1", nps="-100", complaints="1", complaints_resolved_72h="0")
        rows = [
            dict(staff_id="B1", collaboration="0", mentoring="25"),
            dict(staff_id="B2", collaboration="0", mentoring="24.75"),
            dict(staff_id="B3", **tw0),
            dict(staff_id="B4", csat="4.995", **tw0),
            dict(staff_id="B5", **cust0, **tw0),
            dict(staff_id="B6", **{**cust0, "csat": "1.445"}, deals_won="9", **tw0),
            dict(staff_id="B7", sales_amount="90", prev_sales_amount="60", deals_won="8",
                 **{**cust0, "nps": "25"}, **tw0),
            dict(staff_id="B8", sales_amount="90", prev_sales_amount="60", deals_won="8",
                 **{**cust0, "nps": "24", "csat": "1.015"}, **tw0),
        ]
        res = rank_rows(rows)
        self.assertEqual([(r["staff_id"], r["total"], r["rank"], r["grade"], r["bonus_multiplier"]) for r in res], [
            ("B1", "90", 1, "S", "3"), ("B2", "89.99", 2, "A", "2"), ("B3", "80", 3, "A", "1"),
            ("B4", "79.99", 4, "B", "1"), ("B5", "60", 5, "B", "1"), ("B6", "59.99", 6, "C", "1"),
            ("B7", "50", 7, "C", "0"), ("B8", "49.99", 8, "D", "0"),
        ])


class ForcedDistribution(unittest.TestCase):
    # N = 20, all on the "full" profile except collaboration c:
    #   sales 100, customer 100, teamwork 0.35c + 15 + 20 + 15 + 15 = 65 + 0.35c
    #   total = 60 + 20 + 0.2*(65 + 0.35c) = 93 + 0.07c; c = 100 -> 100, each -5 in c -> -0.35
    #   (95 -> 99.65, 90 -> 99.3, 85 -> 98.95, 80 -> 98.6, 40 -> 95.8, 20 -> 94.4).
    # cuts: 0.05*20 = 1, 0.10 -> 2, 0.20 -> 4, 0.30 -> 6, 0.80 -> 16, 0.95 -> 19.
    # positions (c): 1,2 tie (100) | 3 (95) | 4,5 tie (90) | 6,7 tie (85) | 8.. (80, 75, ..., 20)
    # ranks: 1,1,3,4,4,6,6,8,9,...,20
    # grades: rank 1 -> S (2 staff, quota 1 exceeded: the tie crosses the S/A boundary);
    #         rank 3,4,4 -> A; 6..16 -> B; 17,18,19 -> C; 20 -> D
    # bonus (collection 1): rank <= 2 -> 3; rank <= 6 -> 2 (positions 3..7); others 150 >= 100 -> 1.
    # Tie-breaks inside equal totals (same sales) by staff_id bytes: "E10" < "E9"; "E100" < "E11".
    def test_twenty(self):
        plan = [("E9", 100), ("E10", 100), ("S03", 95), ("E11", 90), ("E100", 90), ("S07", 85), ("S06", 85)]
        plan += [(f"S{p:02d}", 80 - 5 * (p - 8)) for p in range(8, 21)]   # positions 8..20: c = 80, 75, ..., 20
        self.assertEqual(len(plan), 20)
        res = rank_rows([dict(staff_id=s, collaboration=str(c)) for s, c in plan])
        got = [(r["staff_id"], r["total"], r["rank"], r["grade"], r["bonus_multiplier"]) for r in res]
        self.assertEqual(got[:8], [
            ("E10", "100", 1, "S", "3"), ("E9", "100", 1, "S", "3"),
            ("S03", "99.65", 3, "A", "2"),
            ("E100", "99.3", 4, "A", "2"), ("E11", "99.3", 4, "A", "2"),
            ("S06", "98.95", 6, "B", "2"), ("S07", "98.95", 6, "B", "2"),
            ("S08", "98.6", 8, "B", "1"),
        ])
        # S16 (c = 40): 93 + 2.8 = 95.8, rank 16 -> B; S17..S19 C; S20 (c = 20, total 94.4) D
        tail = {r[0]: r for r in got}
        self.assertEqual(tail["S16"], ("S16", "95.8", 16, "B", "1"))
        self.assertEqual([tail[f"S{p}"][3] for p in (17, 18, 19, 20)], ["C", "C", "C", "D"])
        self.assertEqual(tail["S20"][1], "94.4")
        self.assertEqual([r["position"] for r in res], list(range(1, 21)))
        self.assertEqual(sum(r["grade"] == "S" for r in res), 2)


class Errors(unittest.TestCase):
    def expect_error(self, rows, fragment, drop=None):
        with tempfile.TemporaryDirectory() as d:
            paths = write_cohort(d, rows)
            if drop:
                src, sid = drop
                p = os.path.join(d, src + ".csv")
                with open(p, encoding="utf-8") as f:
                    lines = f.read().splitlines()
                with open(p, "w", encoding="utf-8") as f:
                    f.write("\n".join(l for l in lines if not l.startswith(sid + ",")) + "\n")
            with self.assertRaises(m.InputError) as cm:
                m.run(*paths)
            self.assertIn(fragment, str(cm.exception))

    def test_missing_from_source(self):
        self.expect_error([dict(staff_id="E1"), dict(staff_id="E2")], "'E2' missing from source oa", drop=("oa", "E2"))

    # missing_staff = "exclude": E2 (missing from oa and survey) and E3
    # (missing from crm) are left out and listed; E1 alone is ranked, so it
    # is N = 1: bands on the total, and the same record as a cohort of E1 only.
    def test_missing_staff_excluded(self):
        with tempfile.TemporaryDirectory() as d:
            paths = write_cohort(d, [dict(staff_id="E1"), dict(staff_id="E2"), dict(staff_id="E3")])
            for src, sid in (("oa", "E2"), ("survey", "E2"), ("crm", "E3")):
                p = os.path.join(d, src + ".csv")
                with open(p, encoding="utf-8") as f:
                    lines = f.read().splitlines()
                with open(p, "w", encoding="utf-8") as f:
                    f.write("\n".join(l for l in lines if not l.startswith(sid + ",")) + "\n")
            doc = m.run(*paths, missing_staff="exclude")
            self.assertEqual(doc["excluded"], [
                {"staff_id": "E2", "missing_from": ["oa", "survey"]},
                {"staff_id": "E3", "missing_from": ["crm"]},
            ])
            self.assertEqual([r["staff_id"] for r in doc["results"]], ["E1"])
            self.assertEqual(doc["results"], rank_rows([dict(staff_id="E1")]))
            with self.assertRaises(m.InputError) as cm:
                m.run(*paths)
            self.assertIn("'E2' missing from source oa", str(cm.exception))

    def test_ranges(self):
        self.expect_error([dict(staff_id="E1", deals_won="11")], "deals_won")
        self.expect_error([dict(staff_id="E1", sales_target="0")], "sales_target")
        self.expect_error([dict(staff_id="E1", complaints="1", complaints_resolved_72h="2")], "complaints_resolved_72h")
        self.expect_error([dict(staff_id="E1", collection_rate="1.01")], "collection_rate")
        self.expect_error([dict(staff_id="E1", csat="0.99")], "csat")
        self.expect_error([dict(staff_id="E1", nps="101")], "nps")
        self.expect_error([dict(staff_id="E1", leads="1.5")], "leads")
        self.expect_error([dict(staff_id="E1", sales_amount="1e3")], "sales_amount")

    def test_duplicate_id(self):
        self.expect_error([dict(staff_id="E1"), dict(staff_id="E1")], "duplicate staff_id")


class Generated(unittest.TestCase):
    def test_generated_cohorts_run_and_are_consistent(self):
        for seed, n, zero in [(1, 40, False), (2, 7, False), (3, 12, True), (4, 1, False), (5, 200, False)]:
            rows = gen_cohort.generate(n, seed, zero)
            gen_cohort.check(rows)
            with tempfile.TemporaryDirectory() as d:
                gen_cohort.write(rows, d, seed, bom=seed % 2 == 0)
                res = m.run(*(os.path.join(d, f) for f in ("crm.csv", "survey.csv", "oa.csv")))["results"]
            self.assertEqual(len(res), n)
            self.assertEqual([r["position"] for r in res], list(range(1, n + 1)))
            totals = [Decimal(r["total"]) for r in res]
            self.assertEqual(totals, sorted(totals, reverse=True))
            for r in res:
                self.assertEqual(r["rank"], 1 + sum(t > Decimal(r["total"]) for t in totals))
                for f in ("sales", "customer", "teamwork", "total", "bonus_multiplier"):
                    self.assertEqual(m.canonical(Decimal(r[f])), r[f])
                    self.assertTrue(Decimal(0) <= Decimal(r[f]) <= 100)
            if zero:
                self.assertTrue(all(rr["leads"] == "0" for rr in rows))

    def test_generator_is_deterministic(self):
        self.assertEqual(gen_cohort.generate(30, 9), gen_cohort.generate(30, 9))


class Compare(unittest.TestCase):
    def test_compare(self):
        exp = rank_rows(THREE)
        self.assertEqual(compare.diff(exp, [dict(r, extra=1) for r in exp]), [])
        got = json.loads(json.dumps(exp))
        got[1]["total"] = "81.60"
        got[2]["rank"] = "3"
        d = compare.diff(exp, got)
        self.assertEqual([(s, f) for s, f, _, _ in d],
                         [("A", "total (same value, different spelling)"), ("B", "rank")])
        self.assertEqual([(s, f) for s, f, _, _ in compare.diff(exp, exp[:2])], [("*", "(count)"), ("B", "(missing)")])

    def test_compare_cli_exit_codes(self):
        with tempfile.TemporaryDirectory() as d:
            exp = {"results": rank_rows(THREE)}
            got = {"results": [dict(r) for r in exp["results"]], "ranking": "x"}
            a, b = os.path.join(d, "a.json"), os.path.join(d, "b.json")
            def dump(doc, path):
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(doc, f, ensure_ascii=False)
            dump(exp, a)
            dump(got, b)
            cmd = [sys.executable, os.path.join(HERE, "compare.py"), a, b]
            self.assertEqual(subprocess.run(cmd, capture_output=True).returncode, 0)
            got["results"][0]["grade"] = "S"
            dump(got, b)
            p = subprocess.run(cmd, capture_output=True)
            self.assertEqual(p.returncode, 1)
            self.assertIn("C\tgrade", p.stdout.decode())


if __name__ == "__main__":
    unittest.main()
