"""InfoNCE's backward pass on a large graph: scaling the stored ``N x N`` exponentials in bands
of rows against the one-shot broadcast it replaced.

The backward of ``InfoNCE`` (``_ShiftedExpSums``) multiplies each stored ``N x N`` block by
``g_i + g_j``. Written as one broadcast, ``g[:, None] + g[None, :]`` is a fresh ``N x N``
tensor (234 MB on Amazon-Photo): the allocation's first touch, not the arithmetic, is what it
costs. ``graphssl.objectives.infonce._scale_pairs_`` does the same multiplication a band of rows
at a time. This script times one training step of a method with its shipped configuration for
the dataset, both ways, in interleaved rounds in one process (median per way and median of
the per-round ratios), and checks that the two give the same loss and gradients bit for bit.

Usage: OMP_NUM_THREADS=1 python benchmarks/speed_infonce_backward.py [--method grace]
       [--dataset Amazon-Photo] [--rounds 5] [--mirror DIR] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch
import torch_geometric.transforms as T

from graphssl.bench.config import method_config
from graphssl.bench.environment import save_record, script_record
from graphssl.data import load_dataset
from graphssl.methods import build_method
from graphssl.objectives import infonce

BANDS = infonce._scale_pairs_


def one_shot(e, row, col):
    """The replaced form: one broadcast sum as large as ``e``."""
    return e.mul_(row.unsqueeze(1) + col.unsqueeze(0))


WAYS = {"one_shot": one_shot, "bands": BANDS}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="grace")
    parser.add_argument("--dataset", default="Amazon-Photo")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mirror", default=os.environ.get("GRAPHSSL_MIRROR"))
    parser.add_argument("--root", default=os.environ.get("GRAPHSSL_ROOT", "datasets"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    dataset = load_dataset(args.dataset, root=args.root, mirror=args.mirror)
    config = method_config(args.method, dataset.spec.name)
    if config["data"].get("normalize_features"):
        dataset.transform = T.NormalizeFeatures()
    data = dataset[0]
    torch.manual_seed(0)
    model = build_method(args.method, data.num_features, **config["model"])

    def step(way):
        infonce._scale_pairs_ = WAYS[way]
        model.zero_grad(set_to_none=True)
        loss = model.loss(data, torch.Generator().manual_seed(1))
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    outputs = {way: step(way) for way in WAYS}  # also the warm-up
    (loss_a, grads_a), (loss_b, grads_b) = outputs.values()
    identical = bool(torch.equal(loss_a, loss_b)
                     and all(torch.equal(a, b) for a, b in zip(grads_a, grads_b)))
    times = {way: [] for way in WAYS}
    for _ in range(args.rounds):
        for way in WAYS:
            start = time.perf_counter()
            step(way)
            times[way].append(time.perf_counter() - start)
    infonce._scale_pairs_ = BANDS
    result = {"method": args.method, "dataset": args.dataset, "nodes": data.num_nodes,
              "identical_loss_and_gradients": identical,
              **{f"step_s_{way}": statistics.median(t) for way, t in times.items()},
              "speedup_median_of_rounds": statistics.median(
                  a / b for a, b in zip(times["one_shot"], times["bands"])),
              "rounds": args.rounds}
    print(json.dumps(result), flush=True)
    if args.out:
        save_record(script_record([result], "speed_infonce_backward.py"), args.out)


if __name__ == "__main__":
    main()
