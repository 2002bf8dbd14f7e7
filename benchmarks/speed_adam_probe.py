"""Seconds of the Adam probe's ``repeats`` fits batched in one weight against the same fits run
one at a time (``repeats=1`` with seeds ``seed + r``, the computation of graphssl before
2026-12-02), on Cora with MVGRL's probe (``select='last'``, 300 Adam steps, lr 0.01, no weight
decay, 50 fits) and on embeddings of MVGRL's width (512: a fixed random projection of the
features, so nothing needs pretraining). Rounds interleave the two; reported are the medians
and that both give the same accuracies.

Usage: python benchmarks/speed_adam_probe.py [--repeats 50] [--rounds 3] [--out F.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch

from graphssl.bench.environment import device_info, versions
from graphssl.data import get_split, load_dataset
from graphssl.evaluate import adam_linear_probe


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    dataset = load_dataset("Cora")
    data, split = dataset[0], get_split(dataset, "public")
    z = data.x @ torch.randn(data.x.size(1), 512, generator=torch.Generator().manual_seed(0))
    probe = dict(lr=0.01, weight_decay=0.0, epochs=300, select="last")
    batched_s, alone_s = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        batched = adam_linear_probe(z, data.y, split, repeats=args.repeats, **probe)
        batched_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        alone = [adam_linear_probe(z, data.y, split, seed=r, **probe)
                 for r in range(args.repeats)]
        alone_s.append(time.perf_counter() - start)
    alone_acc = float(np.mean([a["test_acc"] for a in alone]))
    record = {
        "what": "adam_linear_probe, Cora public split, 512-wide embeddings",
        "probe": probe, "repeats": args.repeats, "rounds": args.rounds,
        "batched_seconds_median": statistics.median(batched_s),
        "one_at_a_time_seconds_median": statistics.median(alone_s),
        "speedup": statistics.median(alone_s) / statistics.median(batched_s),
        "batched_test_acc": batched["test_acc"], "one_at_a_time_test_acc": alone_acc,
        "versions": versions(), **device_info(torch.device("cpu")),
        "command": "python " + " ".join(sys.argv),
    }
    print(json.dumps({k: v for k, v in record.items() if k != "versions"}, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(record, f, indent=1)
    return record


if __name__ == "__main__":
    main()
