#!/usr/bin/env python3
"""Measures how far the golden numbers move with the thread count and the CPU kernels.

    scripts/golden-spread.py evaluation [--dnlts target/release/dnlts] [--out /tmp/spread]
    scripts/golden-spread.py training   [...]
    scripts/golden-spread.py evaluation --device cuda   (on a GPU machine: CUDA vs the CPU)

Runs `dnlts reproduce --profile ci` once per variant (evaluation: on the fixed stages
golden/stages/ci, nothing trains; training: from scratch, the targets the training goldens
read) and prints, per target and kind of number, the largest difference of any variant from
the first one. golden/README.md quotes its output; the tolerances in tests/golden.rs are
sized from it.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

# The reference is what every run computes by default (kernels pinned to AVX2, 2 threads);
# the kernel variants need --native-kernels, since dnlts otherwise overrides these variables.
NATIVE = ["--threads", "2", "--native-kernels"]
VARIANTS = [
    ("2 threads, pinned kernels (reference)", ["--threads", "2"], {}),
    ("1 thread", ["--threads", "1"], {}),
    ("native kernels (this CPU's own)", NATIVE, {}),
    ("ATen kernels unvectorised", NATIVE, {"ATEN_CPU_CAPABILITY": "default"}),
    ("oneDNN limited to SSE4.1", NATIVE, {"ONEDNN_MAX_CPU_ISA": "SSE41"}),
]


def leaves(value, path=""):
    """Every number of a result, by a path of keys and positions."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}/{index}")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, float(value)


def kind(target, path):
    """The class of number a tolerance is set for."""
    last = path.rsplit("/", 1)[-1]
    if target == "stages":
        return "first losses (relative)" if "first_losses" in path else None
    if target == "table1" and last in ("top1", "top5"):
        return "accuracy (points)"
    if target in ("table2", "fig4") or (target == "fig6" and last == "accuracy"):
        return "accuracy (fraction)"
    if target == "fig9" and last in ("mean", "std"):
        return "nMI"
    if target == "fig3" and "lab_histograms" in path:
        return "L*a*b* histogram"
    if target == "fig6" and last == "rrc":
        return "RRC"
    if target == "fig2" and last in ("train_loss", "heldout_loss"):
        return "pre-training MSE"
    return None


def numbers(out):
    found = {}
    for path in sorted(out.glob("*.json")):
        if path.stem in ("run", "profile", "options", "table2_cross"):
            continue
        result = json.loads(path.read_text())["result"]
        found.update({(path.stem, p): v for p, v in leaves(result)})
    stages = out / "stages"
    for path in sorted(stages.glob("*.json")) if stages.is_dir() else []:
        record = json.loads(path.read_text())
        for step, loss in enumerate(record.get("first_losses", [])):
            found[("stages", f"{path.stem}/first_losses/{step}")] = loss
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("layer", choices=["evaluation", "training"])
    parser.add_argument("--dnlts", default="target/release/dnlts")
    parser.add_argument("--out", default="/tmp/dnlts-spread")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    base = ["reproduce", "--profile", "ci"]
    if args.layer == "evaluation":
        base += ["--fixed-stages", "golden/stages/ci"]
    else:
        base += ["--include", "table1,table2,fig2,fig9"]
    variants = VARIANTS if args.device == "cpu" else VARIANTS[:1] + [
        (f"device {args.device}", ["--device", args.device], {})
    ]
    runs = []
    for number, (name, extra, env) in enumerate(variants):
        out = Path(args.out) / args.layer / str(number)
        subprocess.run(["rm", "-rf", str(out)], check=True)
        command = [args.dnlts, *base, "--out", str(out), *extra]
        print(f"[{name}] {' '.join(command)} {env or ''}", file=sys.stderr, flush=True)
        subprocess.run(command, check=True, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
        runs.append((name, numbers(out)))
    reference_name, reference = runs[0]
    print(f"largest difference from '{reference_name}' ({args.layer} layer):")
    for name, found in runs[1:]:
        worst = {}
        for key, value in reference.items():
            label = kind(key[0], key[1])
            if label is None or key not in found:
                continue
            difference = abs(found[key] - value)
            if label.endswith("(relative)"):
                difference /= max(abs(value), 1e-30)
            group = (key[0], label)
            if difference >= worst.get(group, (-1.0, ""))[0]:
                worst[group] = (difference, key[1])
        print(f"  {name}:")
        for (target, label), (difference, where) in sorted(worst.items()):
            print(f"    {target:<7} {label:<26} {difference:.3g}  (at {where})")


if __name__ == "__main__":
    main()
