"""VGAE on Cora: graphssl's epoch over PyG's own ``VGAE`` with the same encoder, same run.

Both train on the same training graph (``split_edges`` seed 0) with the same encoder class and
weights (graphssl's ``VariationalGCNEncoder``, 32-16), the same sampled reconstruction loss
(one negative per edge; PyG: ``recon_loss`` with its ``negative_sampling``) plus KL / N, and
Adam. graphssl's method uses ``reconstruction='sampled'`` here so both compute the same loss
(the shipped Cora configuration uses the paper's dense loss instead). Timings interleave the
two in rounds; the ratio is the median of per-round ratios.

Usage: python benchmarks/speed_vgae.py [--mirror DIR] [--rounds 7] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys

import torch

from graphssl.bench.environment import save_record, versions
from graphssl.bench.config import method_config
from graphssl.bench.peers import peer_timing
from graphssl.data import load_dataset
from graphssl.evaluate import split_edges


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=os.environ.get("GRAPHSSL_MIRROR"))
    parser.add_argument("--root", default=os.environ.get("GRAPHSSL_ROOT", "datasets"))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=10)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    data = load_dataset("Cora", root=args.root, mirror=args.mirror)[0]
    train = split_edges(data, seed=0).train_data

    # ours with reconstruction='sampled' (peers.py switches it), PyG's VGAE on a copy of the
    # same encoder and weights
    timing = peer_timing("vgae", train, method_config("vgae", "Cora"), rounds=args.rounds,
                         per_round=args.per_round, warmup=3)
    record = {
        "dataset": "Cora", "device": "cpu", "threads": torch.get_num_threads(),
        "machine": platform.machine(), "versions": versions(),
        "seconds_per_epoch": {"graphssl_vgae": timing["ours_seconds_per_epoch"],
                              "pyg_vgae": timing["peer_seconds_per_epoch"]},
        "ratio_graphssl_over_pyg": timing["ratio"],
        "rounds": args.rounds, "epochs_per_round": args.per_round,
        "command": "python benchmarks/speed_vgae.py " + " ".join(sys.argv[1:]),
    }
    print(json.dumps(record, indent=2))
    if args.out:
        save_record(record, args.out)


if __name__ == "__main__":
    main()
