"""Seconds per epoch and peak memory of GRACE and DGI on Cora, each as a ratio measured in the
same process:

* DGI: our epoch over PyG's own ``DeepGraphInfomax`` with the same encoder (same class, same
  weights, same corruption), target <= 1.0;
* GRACE: our epoch (views, two encoder passes, projection, InfoNCE, backward, Adam step) over
  its floor, the three N x N similarity products of the loss (z1 z2^T, z1 z1^T, z2 z2^T) timed
  alone, forward and backward with a dense upstream gradient, target <= 1.7;
* GRACE with the sparse-feature fast path switched off (dense ``x``, dense first layer), to
  show what it buys. The fast path keeps Cora's bag-of-words ``x`` (1.3% non-zeros)
  as a CSR matrix, as ``graphssl pretrain`` does; PyG's model gets the dense ``x`` its example
  uses (its corruption ``x[randperm]`` needs a dense ``x``).

Timings interleave the cases in rounds (A B C D A B C D ...); each ratio is computed within a
round and the median over rounds is reported, so drift of the machine hits both sides of a ratio
alike. Peak RSS (VmHWM) is measured per case in a fresh subprocess that loads Cora and runs 5
epochs; ``rss_before_mb`` is the same process after imports and loading.

Usage: python benchmarks/speed_foundation.py [--mirror DIR] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

import torch
import torch_geometric.transforms as T

from graphssl.bench.config import method_config
from graphssl.bench.environment import peak_rss_mb, save_record, versions
from graphssl.bench.peers import peer_steps, time_interleaved, training_step
from graphssl.data import load_dataset
from graphssl.methods import build_method
from graphssl.sparse import to_sparse_features


def cora(mirror, root):
    return load_dataset("Cora", root=root, mirror=mirror, transform=T.NormalizeFeatures())[0]


def grace_step_fn(data, sparse):
    cfg = method_config("grace", "Cora")
    model_cfg = dict(cfg["model"])
    model_cfg["encoder"] = dict(model_cfg["encoder"], sparse_input="auto" if sparse else False)
    data = to_sparse_features(data) if sparse else data
    torch.manual_seed(0)
    method = build_method("grace", data.num_features, **model_cfg)
    opt = torch.optim.Adam(method.parameters(), lr=cfg["train"]["lr"],
                           weight_decay=cfg["train"]["weight_decay"])
    return training_step(method, data, opt, torch.Generator().manual_seed(0))


def grace_floor_fn(data):
    dim = method_config("grace", "Cora")["model"]["encoder"]["out_channels"]
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(data.num_nodes, dim, generator=g, requires_grad=True)
    z2 = torch.randn(data.num_nodes, dim, generator=g, requires_grad=True)
    upstream = torch.randn(data.num_nodes, data.num_nodes, generator=g)

    def step():
        sims = [z1 @ z2.t(), z1 @ z1.t(), z2 @ z2.t()]
        torch.autograd.backward(sims, [upstream] * 3)
        z1.grad = z2.grad = None
    return step


def dgi_pair(data):
    """Our DGI and PyG's DeepGraphInfomax sharing one encoder configuration and weights."""
    step_ours, step_peer, _ = peer_steps("dgi", data, method_config("dgi", "Cora"))
    return step_ours, step_peer


def build_cases(data):
    dgi_ours, dgi_peer = dgi_pair(data)
    return {"grace": grace_step_fn(data, sparse=True),
            "grace_dense_features": grace_step_fn(data, sparse=False),
            "grace_floor_similarities": grace_floor_fn(data),
            "dgi": dgi_ours, "pyg_deep_graph_infomax": dgi_peer}


def memory_of(case, args):
    """Peak RSS of a fresh process that loads Cora and runs ``case`` for a few epochs."""
    cmd = [sys.executable, __file__, "--memory-case", case, "--root", args.root]
    if args.mirror:
        cmd += ["--mirror", args.mirror]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=os.environ.get("GRAPHSSL_MIRROR"))
    parser.add_argument("--root", default=os.environ.get("GRAPHSSL_ROOT", "datasets"))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=5)
    parser.add_argument("--out", default=None)
    parser.add_argument("--memory-case", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    data = cora(args.mirror, args.root)

    if args.memory_case:
        base = peak_rss_mb()
        step = build_cases(data)[args.memory_case]
        for _ in range(5):
            step()
        print(json.dumps({"peak_rss_mb": peak_rss_mb(), "rss_before_mb": base}))
        return

    mem = {name: memory_of(name, args) for name in build_cases(data)}
    times = time_interleaved(build_cases(data), args.rounds, args.per_round, warmup=3)
    sec = {name: statistics.median(t) for name, t in times.items()}

    def ratio(a, b):
        return statistics.median(x / y for x, y in zip(times[a], times[b]))

    record = {
        "dataset": "Cora", "device": "cpu", "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(), "machine": platform.machine(), "versions": versions(),
        "seconds_per_epoch": sec, "peak_rss_mb": mem,
        "ratios": {
            "dgi_over_pyg_deep_graph_infomax": ratio("dgi", "pyg_deep_graph_infomax"),
            "grace_over_similarity_floor": ratio("grace", "grace_floor_similarities"),
            "grace_dense_features_over_similarity_floor":
                ratio("grace_dense_features", "grace_floor_similarities"),
        },
        "rounds": args.rounds, "epochs_per_round": args.per_round,
        "command": "python benchmarks/speed_foundation.py " + " ".join(sys.argv[1:]),
    }
    print(json.dumps(record, indent=2))
    if args.out:
        save_record(record, args.out)


if __name__ == "__main__":
    main()
