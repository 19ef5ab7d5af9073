#!/usr/bin/env python3
"""Writes fixtures/stats/mcnemar_binomtest.json: McNemar's exact p-values from scipy.

For each pair (b, c) of discordant counts, scipy.stats.binomtest(b, b + c, 0.5) with the
two-sided alternative: the reference `dnlts::metrics::bootstrap::mcnemar_exact` is tested
against (src/metrics/bootstrap_tests.rs). Run once, from the repository root:

    python3 -m venv /tmp/scipy-venv && /tmp/scipy-venv/bin/pip install scipy
    /tmp/scipy-venv/bin/python scripts/mcnemar_fixture.py
"""
import json
import sys

import scipy
from scipy.stats import binomtest

# Small, balanced, lopsided, one-sided-zero and large (past 2^-1074 underflow) cases.
PAIRS = [(0, 0), (0, 1), (1, 0), (1, 1), (0, 5), (2, 7), (5, 5), (3, 10), (10, 3), (12, 18),
         (25, 40), (40, 60), (100, 130), (7, 100), (300, 310), (450, 520), (1000, 1100),
         (2500, 2600), (5000, 5200), (20000, 20400)]

cases = []
for b, c in PAIRS:
    n = b + c
    p = 1.0 if n == 0 else binomtest(b, n, 0.5, alternative="two-sided").pvalue
    cases.append({"b": b, "c": c, "p": float(p)})
out = {
    "made_by": "scripts/mcnemar_fixture.py with scipy " + scipy.__version__
    + ": scipy.stats.binomtest(b, b + c, 0.5).pvalue (two-sided); (0, 0) is defined as 1",
    "cases": cases,
}
path = sys.argv[1] if len(sys.argv) > 1 else "fixtures/stats/mcnemar_binomtest.json"
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
