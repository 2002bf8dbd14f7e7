"""graphssl's fused GAT and GCN layers against PyG's ``GATConv`` / ``GCNConv`` on CPU: seconds
per step and the step's peak memory.

``FusedGATConv`` aggregates attention as one block-diagonal sparse product instead of one
message per edge and head; ``FusedGCNConv`` normalises a graph's adjacency once and reuses its
transpose in the backward pass instead of rebuilding both at every call.

Cases, on each dataset (the shipped data preparation of each method):

* ``gat_layer``: one GAT layer of GraphMAE's encoder shape (4 heads of 128 channels, attention
  dropout 0.1, training mode), forward and backward of ``out.sum()``;
* ``graphmae``, ``mvgrl``, ``bgrl``: one training step of the method with its shipped
  configuration for the dataset (views, encoders, loss, backward, Adam step).

Each case runs both implementations with the same parameters: ``fused`` (graphssl's default)
and ``pyg`` (the same modules with the fast paths switched off: ``GATConv.forward`` and
``GCNConv.forward`` on the CSR adjacency, what graphssl ran before). Times: interleaved rounds
in one process, the median per implementation and the median of the per-round ratios.
Equality: the largest difference of the first step's output (``gat_layer``) or loss from the
same seed and state. Memory (``gat_layer`` and ``graphmae``, where the fused GAT drops the
``[E, heads, channels]`` messages): a fresh subprocess per case and implementation runs 3 steps with
``MALLOC_MMAP_THRESHOLD_=65536`` (as ``memory_infonce.py``); reported is its peak RSS (VmHWM)
minus its RSS after set-up.

Usage: OMP_NUM_THREADS=1 python benchmarks/speed_fused_convs.py [--datasets Cora,Amazon-Photo]
       [--cases gat_layer,graphmae,mvgrl,bgrl] [--rounds 5] [--mirror DIR] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch_geometric.transforms as T

from graphssl.bench.config import method_config
from graphssl.bench.environment import peak_rss_mb, save_record, script_record
from graphssl.bench.peers import training_step
from graphssl.data import load_dataset
from graphssl.encoders import FusedGATConv, FusedGCNConv, GCNGraph
from graphssl.sparse import to_sparse_features
from torch_geometric.nn import GCNConv
from graphssl.methods import build_method

CASES = ("gat_layer", "graphmae", "mvgrl", "bgrl")
IMPLEMENTATIONS = ("pyg", "fused")
# MVGRL's first step computes its dense diffusion, whose peak would hide the steps' own;
# BGRL's memory is its dense layers'. Memory is measured where the layers change it.
MEMORY_CASES = ("gat_layer", "graphmae")


_GAT_FAST_PATH = FusedGATConv._fast_path_applies
_GCN_FORWARD = FusedGCNConv.forward


def _pyg_gcn_forward(self, x, edge_index, edge_weight=None):
    if isinstance(edge_index, GCNGraph):
        edge_index = edge_index.adj_t
    return GCNConv.forward(self, x, edge_index, edge_weight)


def use(implementation: str) -> None:
    """Switch every fused layer to PyG's path (``pyg``) or back to its own (``fused``)."""
    pyg = implementation == "pyg"
    FusedGATConv._fast_path_applies = (lambda self, *args: False) if pyg else _GAT_FAST_PATH
    FusedGCNConv.forward = _pyg_gcn_forward if pyg else _GCN_FORWARD


def setup(case: str, dataset_name: str, args):
    """A ``step()`` closure that returns the value compared across implementations."""
    dataset = load_dataset(dataset_name, root=args.root, mirror=args.mirror)
    torch.manual_seed(0)
    if case == "gat_layer":
        dataset.transform = T.NormalizeFeatures()
        data = dataset[0]
        conv = FusedGATConv(data.num_features, 128, heads=4, dropout=0.1)

        def step():
            out = conv(data.x, data.edge_index)
            out.sum().backward()
            conv.zero_grad(set_to_none=True)
            return out.detach()
        return step, data
    config = method_config(case, dataset.spec.name)
    if config["data"].get("normalize_features"):
        dataset.transform = T.NormalizeFeatures()
    data = dataset[0]
    model = build_method(case, data.num_features, **config["model"])
    if getattr(model.encoder, "supports_sparse_input", False) and model.encoder.sparse_input:
        data = to_sparse_features(data)  # as graphssl pretrain prepares it
    opt = torch.optim.Adam(model.parameters(), lr=config["train"]["lr"])
    return training_step(model, data, opt, torch.Generator()), data


def seeded_step(step, implementation):
    use(implementation)
    torch.manual_seed(1)
    return step()


def measure(case: str, dataset_name: str, args) -> dict:
    step, data = setup(case, dataset_name, args)
    # equality on the first step from the same state (the step updates parameters, so each
    # implementation's first step runs on a fresh setup)
    first = {}
    for implementation in IMPLEMENTATIONS:
        fresh, _ = setup(case, dataset_name, args)
        first[implementation] = seeded_step(fresh, implementation)
    for implementation in IMPLEMENTATIONS:  # warm-up (caches, allocator)
        seeded_step(step, implementation)
    times = {k: [] for k in IMPLEMENTATIONS}
    for _ in range(args.rounds):
        for implementation in IMPLEMENTATIONS:
            use(implementation)
            start = time.perf_counter()
            step()
            times[implementation].append(time.perf_counter() - start)
    use("fused")
    return {"case": case, "dataset": dataset_name, "num_nodes": data.num_nodes,
            "num_edges": data.num_edges,
            "seconds_pyg": statistics.median(times["pyg"]),
            "seconds_fused": statistics.median(times["fused"]),
            "speedup": statistics.median(p / f for p, f in zip(times["pyg"], times["fused"])),
            "max_abs_difference_first_step": float((first["pyg"] - first["fused"]).abs().max()),
            "rounds": args.rounds}


def memory(case: str, dataset_name: str, implementation: str, args) -> dict:
    step, _ = setup(case, dataset_name, args)
    use(implementation)
    before = peak_rss_mb()
    for _ in range(3):
        step()
    return {"peak_rss_mb": peak_rss_mb(), "rss_before_mb": before,
            "step_memory_mb": peak_rss_mb() - before}


def memory_in_subprocess(case, dataset_name, implementation, args) -> dict:
    cmd = [sys.executable, __file__, "--memory-of", f"{case}:{dataset_name}:{implementation}",
           "--root", args.root]
    if args.mirror:
        cmd += ["--mirror", args.mirror]
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"memory run {case} {dataset_name} {implementation} failed:\n"
                           f"{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="Cora,Amazon-Photo")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mirror", default=os.environ.get("GRAPHSSL_MIRROR"))
    parser.add_argument("--root", default=os.environ.get("GRAPHSSL_ROOT", "datasets"))
    parser.add_argument("--out", default=None)
    parser.add_argument("--memory-of", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_of:
        print(json.dumps(memory(*args.memory_of.split(":"), args)))
        return
    cases = [c for c in args.cases.split(",") if c]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"unknown cases {unknown}; choose from {list(CASES)}")
    results = []
    for dataset_name in [d for d in args.datasets.split(",") if d]:
        for case in cases:
            result = measure(case, dataset_name, args)
            for implementation in IMPLEMENTATIONS:
                if case in MEMORY_CASES:
                    mem = memory_in_subprocess(case, dataset_name, implementation, args)
                    result[f"step_memory_mb_{implementation}"] = mem["step_memory_mb"]
            results.append(result)
            print(json.dumps(result), flush=True)
    if args.out:
        save_record(script_record(results, "speed_fused_convs.py"), args.out)


if __name__ == "__main__":
    main()
