"""Diagnostic for node.yaml's Amazon-Photo cells (issue 5): how much of a method's probe
accuracy there does its training add? With raw features (dgi.yaml's Photo section) node.yaml's
DGI seed-7 cell stopped at epoch 21: its loss jumped from 0.92 to 28.5 at epoch 2 and stayed
above the first epoch's for the 20 epochs of patience, so early stopping kept the weights after
one epoch, and that encoder probed at 92.68. This runs a method's shipped configuration for one
epoch (one optimiser step from the seeded initialisation) on each seed's random split, with raw
and with row-normalised features, and prints validation and test accuracy of the shipped probe
next to the trained cells' (node.yaml's current cells, read from ``--results``).

    GRAPHSSL_MIRROR=../shared/datasets OMP_NUM_THREADS=1 python benchmarks/diag_photo_one_epoch.py \\
        --method dgi [--seeds 0 1 ...] [--results benchmarks/results/node] [--out FILE.json]
"""
import argparse
import json
import statistics

from graphssl.bench.grid import load_grid
from graphssl.bench.pretrain import run_pretrain
from graphssl.bench.rekey import rekeyed
from graphssl.bench.results import ResultStore

FEATURES = {"raw": {"data": {"normalize_features": False}},
            "row-normalised": {"data": {"normalize_features": True}}}


def trained(method, results, grid="benchmarks/configs/node.yaml") -> dict:
    """``{seed: test accuracy}`` of node.yaml's current Amazon-Photo cells of ``method``."""
    cells = [c for c in load_grid(grid).cells if c.method == method
             and c.dataset == "Amazon-Photo"]
    keys = {c.key for c in cells}
    return {r["seed"]: r["metrics"]["test_acc"]
            for r in rekeyed(ResultStore(results).load(repair=False), cells) if r["key"] in keys}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", default="dgi")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--results", default="benchmarks/results/node")
    parser.add_argument("--out", default=None, help="write the rows as JSON")
    args = parser.parse_args()
    full = trained(args.method, args.results)
    rows = []
    for seed in args.seeds:
        row = {"seed": seed, "trained_test_acc": full.get(seed)}
        for name, overrides in FEATURES.items():
            record = run_pretrain(args.method, "Amazon-Photo", runs=[seed], epochs=1,
                                  progress=False, overrides=overrides, echo=lambda *a: None)
            run = record["per_run"][0]
            row[f"one_epoch_{name}"] = {"val_acc": run["val_acc"], "test_acc": run["test_acc"]}
        rows.append(row)
        print(json.dumps(row))
    summary = {}
    for key in [f"one_epoch_{name}" for name in FEATURES]:
        tests = [100 * r[key]["test_acc"] for r in rows]
        summary[key] = f"{statistics.fmean(tests):.2f} ± {statistics.pstdev(tests):.2f}"
    tests = [100 * r["trained_test_acc"] for r in rows if r["trained_test_acc"] is not None]
    if tests:
        summary["trained (node.yaml)"] = (f"{statistics.fmean(tests):.2f} ± "
                                          f"{statistics.pstdev(tests):.2f} ({len(tests)} seeds)")
    print(json.dumps(summary))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"method": args.method, "rows": rows, "summary": summary,
                       "command": f"python benchmarks/diag_photo_one_epoch.py --method "
                                  f"{args.method} --seeds {' '.join(map(str, args.seeds))}"},
                      f, indent=1)


if __name__ == "__main__":
    main()
