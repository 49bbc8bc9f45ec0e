#!/usr/bin/env python3
"""Measures the detector on simulated sites and the real DS2OS fragment and
prints the tables of docs/EVALUATION.md (markdown) on stdout.

  tests/eval/evaluate.py [--bin build/daemon/iotwall] [--seeds 1,2,3,4,5]
                         [--work build/evaluation]

Every figure comes from `iotwall sim` and `iotwall eval --json` run here;
nothing is copied from earlier runs.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

KINDS = ["scan", "spying", "malitiousControl", "malitiousOperation", "DoSattack", "dataProbing",
         "wrongSetUp"]
FEATURES = ["value", "period", "location", "operation", "datatype", "partners", "frequency", "flows",
            "relationship"]


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def sim(args, rooms, hours, seed, extra=()):
    path = os.path.join(args.work, f"sim-r{rooms}-h{hours}-s{seed}{''.join(extra)}.csv")
    if not os.path.exists(path):
        run([args.bin, "sim", "--rooms", str(rooms), "--hours", str(hours), "--seed", str(seed),
             "--out", path, *extra])
    return path


def evaluate(args, trace, *flags):
    return json.loads(run([args.bin, "eval", "--json", "--trace", trace, *flags]))


def pct(x, digits=2):
    return f"{100 * x:.{digits}f} %"


def kind_rate(r, kind):
    c = r["per_label"].get(f"anomalous({kind})")
    return c["flagged"] / c["rows"] if c and c["rows"] else float("nan")


def spread(values, digits=2, percent=True):
    f = (lambda v: pct(v, digits)) if percent else (lambda v: f"{v:.{digits}f}")
    return f"{f(min(values))} - {f(max(values))} (median {f(statistics.median(values))})"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default="build/daemon/iotwall")
    p.add_argument("--seeds", default="1,2,3,4,5")
    p.add_argument("--work", default="build/evaluation")
    p.add_argument("--fragment",
                   default="../shared/datasets/ds2os/mainSimulationAccessTraces.PARTIAL-929rows.csv")
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]

    print("### Per seed: 12 rooms, 24 h, `--answer-after 300`\n")
    print("| seed | rows | detection | FP rate | accuracy | " + " | ".join(KINDS) +
          " | FP / day | questions (approved / denied) |")
    print("|---" * (len(KINDS) + 7) + "|")
    base = {}
    for s in seeds:
        r = evaluate(args, sim(args, 12, 24, s), "--answer-after", "300")
        base[s] = r
        print(f"| {s} | {r['rows']:,} | {pct(r['detection_rate'])} | {pct(r['false_positive_rate'], 3)} | "
              f"{pct(r['accuracy'])} | " + " | ".join(pct(kind_rate(r, k), 1) for k in KINDS) +
              f" | {r['fp'] * 24 / r['hours']:.0f} | {r['questions']} ({r['questions_approved']} / "
              f"{r['questions_denied']}) |")
    rs = list(base.values())
    print()
    print(f"Spread over seeds: detection {spread([r['detection_rate'] for r in rs])}, "
          f"false-positive rate {spread([r['false_positive_rate'] for r in rs], 3)}, "
          f"accuracy {spread([r['accuracy'] for r in rs])}, approved questions per day "
          f"{min(r['questions_approved'] for r in rs)} - {max(r['questions_approved'] for r in rs)}.")
    print()
    print("Rows flagged by the model (the graph accepted the edge), by deciding feature, summed over seeds: " +
          ", ".join(f"{f} {sum(r['flagged_by'][f] for r in rs):,}" for f in FEATURES
                    if sum(r['flagged_by'][f] for r in rs)) + ".\n")

    print("### Ablation (the paper's Fig. 3): features left out, same traces\n")
    print("| `--disable` | detection | FP rate | accuracy | DoSattack | dataProbing | others (min) |")
    print("|---|---|---|---|---|---|---|")
    configs = [""] + FEATURES + ["frequency,period", "datatype,value",
                                 ",".join(FEATURES)]
    for c in configs:
        results = [base[s] if not c else
                   evaluate(args, sim(args, 12, 24, s), "--answer-after", "300", "--disable", c)
                   for s in seeds]
        def mean(f):
            return statistics.mean(f(r) for r in results)
        others = min(min(kind_rate(r, k) for r in results) for k in KINDS
                     if k not in ("DoSattack", "dataProbing"))
        label = c if c != ",".join(FEATURES) else "all model features (the graph alone)"
        print(f"| {label or '(none)'} | {pct(mean(lambda r: r['detection_rate']))} | "
              f"{pct(mean(lambda r: r['false_positive_rate']), 3)} | {pct(mean(lambda r: r['accuracy']))} | "
              f"{pct(mean(lambda r: kind_rate(r, 'DoSattack')), 1)} | "
              f"{pct(mean(lambda r: kind_rate(r, 'dataProbing')), 1)} | {pct(others, 1)} |")
    print("\n(means over the seeds)\n")

    print("### Other site sizes and lengths (seed 11-14)\n")
    print("| rooms | hours | seed | rows | detection | FP rate | accuracy | worst kind | approved questions / day |")
    print("|---|---|---|---|---|---|---|---|---|")
    for rooms, hours, seed in [(4, 24, 11), (30, 24, 12), (12, 72, 13), (6, 48, 14)]:
        r = evaluate(args, sim(args, rooms, hours, seed), "--answer-after", "300")
        worst = min(KINDS, key=lambda k: kind_rate(r, k) if kind_rate(r, k) == kind_rate(r, k) else 2)
        print(f"| {rooms} | {hours} | {seed} | {r['rows']:,} | {pct(r['detection_rate'])} | "
              f"{pct(r['false_positive_rate'], 3)} | {pct(r['accuracy'])} | {worst} {pct(kind_rate(r, worst), 1)} | "
              f"{r['questions_approved'] * 24 / r['hours']:.1f} |")
    print()

    print("### Threshold (seed 1)\n")
    print("| threshold | detection | FP rate |")
    print("|---|---|---|")
    for t in ["2", "4", "7", "10", "20", "50"]:
        r = evaluate(args, sim(args, 12, 24, 1), "--answer-after", "300", "--threshold", t)
        print(f"| {t} | {pct(r['detection_rate'])} | {pct(r['false_positive_rate'], 3)} |")
    print()

    if os.path.exists(args.fragment):
        print("### The real DS2OS fragment (929 rows, all normal)\n")
        for lp in ["900", "120"]:
            r = evaluate(args, args.fragment, "--learning-phase", lp)
            print(f"- learning phase {lp} s: {r['fp']} of {r['rows']} rows flagged "
                  f"({r['normal_after_learning']} rows were past their service's learning phase).")
        print()

    print("### Portable models: the types' models of seed 1's site adopted by other sites\n")
    state = os.path.join(args.work, "site-seed1.iotw")
    run([args.bin, "eval", "--trace", sim(args, 12, 24, seeds[0]), "--answer-after", "300",
         "--save-state", state])
    print(f"State file of seed {seeds[0]} (graph and models): {os.path.getsize(state):,} bytes.\n")
    print("| site | detection | FP rate | FP / day | approved questions | with seed 1's models: detection | FP rate | FP / day | approved questions |")
    print("|---|---|---|---|---|---|---|---|---|")
    for rooms, s in [(12, x) for x in seeds[1:]] + [(4, 11)]:
        trace = sim(args, rooms, 24, s)
        a = base[s] if rooms == 12 else evaluate(args, trace, "--answer-after", "300")
        b = evaluate(args, trace, "--answer-after", "300", "--load-models", state)
        print(f"| {rooms} rooms, seed {s} | {pct(a['detection_rate'])} | {pct(a['false_positive_rate'], 3)} | "
              f"{a['fp'] * 24 / a['hours']:.0f} | {a['questions_approved']} | {pct(b['detection_rate'])} | "
              f"{pct(b['false_positive_rate'], 3)} | {b['fp'] * 24 / b['hours']:.0f} | {b['questions_approved']} |")
    print()

    print("### Plasticity (the paper's Fig. 4), seeds\n")
    for s in seeds:
        r = base[s]
        for pl in r["plasticity"]:
            if pl["flagged_while_open"] >= 10:
                print(f"- seed {s}: question {pl['question']} answered "
                      f"{(pl['answered_ms'] - pl['asked_ms']) / 1000:.0f} s after it was asked; "
                      f"{pl['flagged_while_open']} normal rows flagged while open, "
                      f"{pl['flagged_after_answer']} after the answer.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
