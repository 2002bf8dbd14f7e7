"""Peak memory and time of one InfoNCE training step: naive, dense, chunked exact, sampled.

Cases (each runs in a fresh subprocess, so every peak is its own):

* ``photo_*``: one GCA training step on Amazon-Photo (7,650 nodes) with the shipped Photo
  configuration (views, encoder, projection, loss, backward, Adam step):
  ``naive`` is the loss as GCA's/GRACE's authors write it (three dense ``exp`` matrices plus
  autograd's copies), ``dense`` is graphssl's default ``InfoNCE``, ``chunked`` is
  ``InfoNCE(chunk_size=1024)`` (the same loss, exactly, in blocks of 1024 anchors) and
  ``sampled`` is ``InfoNCE(num_negatives=1024)``; ``floor`` replaces the loss by ``(z1 * z2).sum()``
  (what the step costs without any contrast).
* ``csbm100k_*``: one GRACE step (the library's default GRACE: GCN 256-128, projection 128) on a
  100,000-node CSBM graph (128 features, average degree 10) with the chunked and the sampled
  loss, and its floor. The naive and dense losses are not run there: their ``N x N`` float32 buffers alone
  would take ``3 N^2 x 4`` bytes = 112 GiB, an arithmetic bound printed as such.

Memory is the process's peak RSS (VmHWM) after the steps minus its RSS after imports, data and
model set-up (``peak_rss_mb - rss_before_mb``); time is the median over the timed steps of a
second subprocess. The memory subprocesses run with ``MALLOC_MMAP_THRESHOLD_=65536``: by default glibc raises its mmap
threshold after the first large free and then keeps freed blocks of ~30 MB in its heap, so the
RSS of the chunked loss grew with the number of blocks although each block's memory had been
released. The fixed threshold gives every case the same, allocation-faithful accounting.

Usage: python benchmarks/memory_infonce.py [--cases photo_naive,photo_dense,...]
       [--steps 3] [--mirror DIR] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
import torch_geometric.transforms as T
from torch import nn

from graphssl.bench.config import method_config
from graphssl.bench.environment import peak_rss_mb, save_record, versions
from graphssl.bench.peers import training_step
from graphssl.data import load_dataset
from graphssl.data.synthetic import csbm_graph
from graphssl.methods import build_method
from graphssl.sparse import to_sparse_features

PHOTO_CASES = ("photo_floor", "photo_naive", "photo_dense", "photo_chunked", "photo_sampled")
LARGE_CASES = ("csbm100k_floor", "csbm100k_chunked", "csbm100k_sampled")
LARGE_NODES = 100_000
LOSS_OPTIONS = {"floor": {}, "dense": {}, "naive": {}, "chunked": {"chunk_size": 1024},
                "sampled": {"num_negatives": 1024}}


class NaiveInfoNCE(nn.Module):
    """GRACE/GCA authors' form: exp of the full similarity matrices, kept for autograd."""

    def __init__(self, tau):
        super().__init__()
        self.tau = tau

    def forward(self, z1, z2):
        z1, z2 = F.normalize(z1), F.normalize(z2)

        def semi(a, b):
            refl = torch.exp(a @ a.t() / self.tau)
            between = torch.exp(a @ b.t() / self.tau)
            return -torch.log(between.diag() / (refl.sum(1) + between.sum(1) - refl.diag()))

        return 0.5 * (semi(z1, z2) + semi(z2, z1)).mean()


class NoContrast(nn.Module):
    """The floor: a loss touching both views without any similarity matrix."""

    def forward(self, z1, z2):
        return (z1 * z2).sum()


def build_case(case, args):
    """(step function, description) of one case, data and model built."""
    where, mode = case.rsplit("_", 1)
    if where == "photo":
        cfg = method_config("gca", "Amazon-Photo")
        data = load_dataset("Amazon-Photo", root=args.root, mirror=args.mirror,
                            transform=T.NormalizeFeatures())[0]
        method_name, model_cfg, lr = "gca", dict(cfg["model"]), cfg["train"]["lr"]
    else:
        data = csbm_graph(num_nodes=LARGE_NODES, num_features=128, avg_degree=10.0, seed=0)
        method_name, model_cfg, lr = "grace", {}, 1e-3
    data = to_sparse_features(data)
    torch.manual_seed(0)
    method = build_method(method_name, data.num_features, **model_cfg, **LOSS_OPTIONS[mode])
    if mode == "naive":
        method.objective = NaiveInfoNCE(method.objective.temperature)
    elif mode == "floor":  # everything but the contrast: views, encoder, projection, Adam
        method.objective = NoContrast()
    opt = torch.optim.Adam(method.parameters(), lr=lr)
    return training_step(method, data, opt, torch.Generator().manual_seed(0)), data.num_nodes


def run_case(case, args):
    step, num_nodes = build_case(case, args)
    before = peak_rss_mb()
    times, losses = [], []
    for _ in range(args.steps):
        start = time.perf_counter()
        losses.append(step().item())
        times.append(time.perf_counter() - start)
    peak = peak_rss_mb()
    return {"case": case, "num_nodes": num_nodes, "seconds_per_step": statistics.median(times),
            "steps": args.steps, "peak_rss_mb": peak, "rss_before_mb": before,
            "step_memory_mb": peak - before, "first_loss": losses[0]}


def in_subprocess(case, args, fixed_mmap_threshold, steps=None):
    cmd = [sys.executable, __file__, "--one-case", case, "--steps", str(steps or args.steps),
           "--root", args.root]
    if args.mirror:
        cmd += ["--mirror", args.mirror]
    env = dict(os.environ)
    if fixed_mmap_threshold:
        env["MALLOC_MMAP_THRESHOLD_"] = "65536"
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {"case": case, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(case, args):
    """Memory from a run with the fixed mmap threshold, time from a run without it (every
    large allocation an mmap makes each step fault its pages in again: 2-4x slower on Photo).
    The 100k-node cases run once, one step: there the page faults are a small share of a step
    (a chunked step runs ten 100k x 100k x 128 products), and the step's time is reported from
    the same run, marked ``timed_with_fixed_mmap_threshold``."""
    large = case in LARGE_CASES
    result = in_subprocess(case, args, fixed_mmap_threshold=True, steps=1 if large else None)
    if "error" in result:
        return result
    if large:
        result["timed_with_fixed_mmap_threshold"] = True
    else:
        timed = in_subprocess(case, args, fixed_mmap_threshold=False)
        result["seconds_per_step"] = timed.get("seconds_per_step", timed.get("error"))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(PHOTO_CASES + LARGE_CASES))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--mirror", default=os.environ.get("GRAPHSSL_MIRROR"))
    parser.add_argument("--root", default=os.environ.get("GRAPHSSL_ROOT", "datasets"))
    parser.add_argument("--out", default=None)
    parser.add_argument("--one-case", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_case:
        print(json.dumps(run_case(args.one_case, args)))
        return
    cases = [c for c in args.cases.split(",") if c]
    unknown = sorted(set(cases) - set(PHOTO_CASES + LARGE_CASES))
    if unknown:
        parser.error(f"unknown cases {unknown}; choose from {PHOTO_CASES + LARGE_CASES}")
    results = []
    for case in cases:
        results.append(measure(case, args))
        print(json.dumps(results[-1]), flush=True)
    record = {
        "results": results,
        "not_run": {f"csbm100k_{m}": f"N x N float32 buffers alone: 3 x {LARGE_NODES}^2 x 4 B = "
                    f"{3 * LARGE_NODES ** 2 * 4 / 2 ** 30:.0f} GiB (arithmetic, not measured)"
                    for m in ("naive", "dense")},
        "device": "cpu", "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "machine": platform.machine(), "versions": versions(),
        "command": "python benchmarks/memory_infonce.py " + " ".join(sys.argv[1:]),
    }
    if args.out:
        save_record(record, args.out)


if __name__ == "__main__":
    main()
