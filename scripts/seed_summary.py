#!/usr/bin/env python3
"""Summarise `dnlts reproduce` runs of one profile over several master seeds, as markdown.

    python3 scripts/seed_summary.py results/small-2018 results/small-2019 results/small-2020

Reads each folder's table1.json, table2.json, claims.json and stage records (stages/*.json)
and prints Table 1 and Table 2 as mean ± sd over the runs, the claims that hold in each run,
the small profile's aims (docs/experiments/small-profile.md) per run, and the seconds per stage.
Nothing is typed in: every number comes from the folders given.
"""

import json
import signal
import statistics
import sys
from pathlib import Path

LETTERS = ["L", "A", "V", "I", "R"]


def load(folder: Path, name: str):
    with open(folder / name) as f:
        return json.load(f)


def mean_sd(values):
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.1f} ± {sd:.1f}"


def table1(run):
    """{network: top-1 %} of one run's Table 1."""
    return {row["network"]: row["top1"] for row in run["table1"]["result"]["rows"]}


def table2(run):
    """accuracy[i][j] in %: classifier j on the AE fine-tuned for classifier i."""
    result = run["table2"]["result"]
    assert result["classifiers"][:5] == LETTERS, result["classifiers"]
    return [[100.0 * a for a in row[:5]] for row in result["accuracy"][:5]]


# The six claims the report checked when the issue set aim 4 ("at least 5 of the 6 current
# claims hold in every seed"), by their ids today.
FIRST_SIX_CLAIMS = ["table1-as-below-c", "table1-own-recovers", "table2-own-ae-best",
                    "noise-own-above-c-s0.3", "fca-chains-at-0.2-and-0.8", "nmi-as-highest-intra"]


def aims(run):
    """The issue's aims 1-4 on one run: (met, evidence) each."""
    t1, t2 = table1(run), table2(run)
    alone = {c: t1[c] for c in LETTERS}
    generic = {c: t1[f"{c}∘A_S"] for c in LETTERS}
    own = {c: t1[f"{c}∘A_{c}"] for c in LETTERS}
    drops = {c: alone[c] - generic[c] for c in LETTERS}
    aim1 = (all(abs(d) <= 5.0 for d in drops.values()),
            "drops " + ", ".join(f"{c} {drops[c]:+.1f}" for c in LETTERS))
    aim2 = (all(alone[c] >= 40.0 for c in LETTERS) and alone["L"] < alone["R"],
            "C " + ", ".join(f"{c} {alone[c]:.1f}" for c in LETTERS))
    recovers = all(own[c] >= generic[c] for c in LETTERS)
    close = sum(alone[c] - own[c] <= 3.0 for c in LETTERS)
    aim3 = (recovers and close >= 4,
            f"C∘A_C ≥ C∘A_S for {sum(own[c] >= generic[c] for c in LETTERS)}/5, "
            f"within 3 points of C for {close}/5")
    best = [c for j, c in enumerate(LETTERS)
            if all(t2[j][j] > t2[i][j] for i in range(5) if i != j)]
    claims = run["claims"]["result"]["claims"]
    holding = sum(c["verdict"] == "holds" for c in claims)
    first_six = sum(c["verdict"] == "holds" for c in claims if c["id"] in FIRST_SIX_CLAIMS)
    aim4 = (len(best) == 5 and first_six >= 5,
            f"best on own AE: {', '.join(best) or 'none'}; {first_six}/6 of the issue's claims, "
            f"{holding}/{len(claims)} of all hold")
    return [aim1, aim2, aim3, aim4]


def stage_seconds(folder: Path):
    """Seconds of each stage (its record), of everything else (evaluation passes, figures,
    report: the targets' wall time less the stages they ran) and of the whole run."""
    seconds = {}
    for record in sorted((folder / "stages").glob("*.json")):
        data = json.loads(record.read_text())
        if "seconds" in data:
            seconds[record.stem] = data["seconds"]
    targets = [json.loads(t.read_text()) for t in sorted(folder.glob("*.json"))]
    total = sum(t["wall_seconds"] for t in targets if isinstance(t, dict) and "wall_seconds" in t)
    seconds["evaluation and reports"] = total - sum(seconds.values())
    seconds["total"] = total
    return seconds


def main(folders):
    runs = []
    for folder in map(Path, folders):
        run = {name: load(folder, f"{name}.json") for name in ["table1", "table2", "claims"]}
        run["folder"], run["seed"] = folder, run["table1"]["master_seed"]
        runs.append(run)
    seeds = ", ".join(str(r["seed"]) for r in runs)
    print(f"Master seeds {seeds}; mean ± sd over the {len(runs)} runs.\n")

    print("Table 1, top-1 %:\n")
    print("| classifier | C | C∘A_S | C∘A_C |")
    print("|---|---|---|---|")
    for c in LETTERS:
        cells = [mean_sd([table1(r)[n] for r in runs]) for n in [c, f"{c}∘A_S", f"{c}∘A_{c}"]]
        print(f"| {c} | " + " | ".join(cells) + " |")

    print("\nTable 2, top-1 % of classifier j (columns) on A_i (rows):\n")
    print("| | " + " | ".join(LETTERS) + " |")
    print("|---" * 6 + "|")
    for i, ae in enumerate(LETTERS):
        cells = [mean_sd([table2(r)[i][j] for r in runs]) for j in range(5)]
        print(f"| A_{ae} | " + " | ".join(cells) + " |")

    print("\nClaims (verdict per seed):\n")
    print("| claim | " + " | ".join(str(r["seed"]) for r in runs) + " |")
    print("|---" * (len(runs) + 1) + "|")
    ids = [c["id"] for c in runs[0]["claims"]["result"]["claims"]]
    for claim in ids:
        verdicts = []
        for r in runs:
            found = [c for c in r["claims"]["result"]["claims"] if c["id"] == claim]
            verdicts.append(found[0]["verdict"] if found else "—")
        print(f"| {claim} | " + " | ".join(verdicts) + " |")

    print("\nAims (met in this seed? evidence):\n")
    names = ["1 near-lossless A_S", "2 classifiers ≥ 40 %", "3 fine-tuning recovers",
             "4 the paper's structure"]
    print("| aim | " + " | ".join(str(r["seed"]) for r in runs) + " |")
    print("|---" * (len(runs) + 1) + "|")
    per_run = [aims(r) for r in runs]
    for k, name in enumerate(names):
        cells = [("met: " if a[k][0] else "not met: ") + a[k][1] for a in per_run]
        print(f"| {name} | " + " | ".join(cells) + " |")

    print("\nSeconds per stage and target:\n")
    times = [stage_seconds(r["folder"]) for r in runs]
    print("| stage | " + " | ".join(str(r["seed"]) for r in runs) + " |")
    print("|---" * (len(runs) + 1) + "|")
    for stage in times[0]:
        cells = [f"{t[stage]:.0f}" if stage in t else "—" for t in times]
        print(f"| {stage} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
