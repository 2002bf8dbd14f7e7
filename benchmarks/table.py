"""Markdown table of recorded results against ``published.yaml``.

Reads every ``benchmarks/results/*/<method>_<dataset>.json`` record whose method and dataset
have a published entry and prints one row per record: our mean ± std over runs, the published
mean, the issue's target and whether we are within ``--tolerance`` points of it (entries with
``rule: at_least`` ask for at least the target instead).

Usage: python benchmarks/table.py [--results benchmarks/results] [--tolerance 1.0]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
METRICS = (("acc", "accuracy"), ("auc", "AUC"), ("ap", "AP"), ("nmi", "NMI"), ("ari", "ARI"),
           ("rocauc", "ROC-AUC"))


def rows(results: Path, published: dict, tolerance: float):
    for path in sorted(results.glob("*/*.json")):
        record = json.loads(path.read_text())
        if not isinstance(record, dict) or "method" not in record:
            continue
        method, dataset = record["method"], str(record.get("dataset", "")).lower()
        entries = published.get(method, {})
        task = (record.get("config") or {}).get("protocol", {}).get("task", "node")
        for key, label in METRICS:
            mean = record.get(f"test_{key}_mean")
            # published keys: 'cora' (accuracy), 'cora-auc', 'cora-cluster-nmi', ...
            name = f"{dataset}-cluster-{key}" if task == "cluster" else (
                dataset if key == "acc" else f"{dataset}-{key}")
            entry = entries.get(name)
            if mean is None or entry is None:
                continue
            ours, std = 100 * mean, 100 * record.get(f"test_{key}_std", 0.0)
            target = entry.get("target", entry["mean"])
            diff = ours - target
            if entry.get("rule") == "at_least":  # the foundation issue's bars: ours >= target
                verdict = f">= {target}: " + ("yes" if diff >= 0 else f"no: {-diff:.2f} below")
            else:
                verdict = "yes" if abs(diff) <= tolerance else (
                    f"no: {abs(diff):.2f} {'above' if diff > 0 else 'below'}")
            yield (f"| {method} | {record['dataset']} | {label} | {ours:.2f} ± {std:.2f} "
                   f"({record['runs']} runs) | {entry['mean']} | {target} | {verdict} | "
                   f"`{path.relative_to(results.parent)}` |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(HERE / "results"))
    parser.add_argument("--published", default=str(HERE / "published.yaml"))
    parser.add_argument("--tolerance", type=float, default=1.0)
    args = parser.parse_args()
    published = yaml.safe_load(Path(args.published).read_text())
    print("| method | dataset | metric | ours | published | target | within "
          f"{args.tolerance}? | record |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows(Path(args.results), published, args.tolerance):
        print(row)


if __name__ == "__main__":
    main()
