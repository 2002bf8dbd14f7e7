"""Mini-batch pretraining at scale: seconds per epoch, nodes per second and peak memory of BGRL,
GraphMAE and GRACE (sampled negatives) trained on mini-batches of large synthetic graphs, with
one process or several (DDP).

For every (method, size) a fresh subprocess (so that every peak is that run's own):

1. builds ``random_graph(size, avg_degree=10, num_features=128, num_classes=10, seed=0)``
   (graphssl.data.synthetic; an undirected CSBM-like graph of about ``10 * size`` directed
   edges, float32 features);
2. builds the method with its shipped default configuration (``graphssl/configs/<method>.yaml``,
   section ``defaults``: BGRL GCN 512-256 with batch norm; GraphMAE GAT 2 x 512 (4 heads) with a
   GAT decoder; GRACE GCN 256-128), GRACE with ``num_negatives=1024`` (InfoNCE against 1,024
   sampled negatives: the full ``n_batch x n_batch`` loss of a 40k-node batch would not fit);
3. samples mini-batches (``--sampler``): ``cluster`` (default): ``ClusterBatches`` with
   ``ceil(size / nodes_per_batch)`` parts, one part per batch, so every node is in exactly one
   batch per epoch and a batch has about ``--nodes-per-batch`` nodes whatever the graph's size;
   ``neighbor``: ``NeighborBatches(num_neighbors, batch_size)`` (seeds plus sampled
   neighbours: a batch grows with the graph until the fan-out caps it, and an epoch touches
   every node many times);
4. trains ``--max-steps`` batches per process with the library's ``Trainer`` (Adam, lr 1e-3,
   ``epochs=1``); with ``--nproc N > 1`` the worker is launched by ``torchrun --standalone``
   and the Trainer runs DDP over gloo, rank ``r`` training batches ``r, r + N, ...``.

Exactly what is reported (one JSON object per run, all of them in ``--out``):

* ``steps_per_epoch``: ``len(batches)``; ``steps_run_per_process``: ``--max-steps``;
* ``seconds_per_step``: the wall time of ``Trainer.fit`` over the capped steps divided by the
  steps of one process (warm-up included: an over-estimate); ``seconds_per_epoch`` =
  ``seconds_per_step * steps_per_epoch / processes``, **extrapolated** from the capped steps;
* ``nodes_per_second``: ``size / seconds_per_epoch`` (throughput over all processes);
  ``mean_batch_nodes`` / ``mean_batch_edges``; ``sample_seconds_per_batch`` (drawing one batch);
* ``peak_rss_mb``: the (rank-0) process's peak resident memory (VmHWM of /proc/self/status, in
  MiB) over the whole run: the larger of ``setup_peak_rss_mb`` (importing, building the graph,
  the sampler and the model) and ``train_peak_rss_mb`` (training only: VmHWM is reset with
  ``/proc/self/clear_refs`` before training; ``null`` where the kernel does not allow it);
  ``rss_after_imports_mb`` (torch, PyG and graphssl loaded: about 0.4 GiB) and
  ``rss_after_setup_mb``; ``ru_maxrss_mb`` (``getrusage``, never reset);
* ``graph_seconds``, ``graph_peak_rss_mb``, ``sampler_setup_seconds`` (e.g. the partition);
* ``processes``, ``torch_threads``, ``omp_num_threads``, ``cpu_count``, ``cpu_affinity``,
  ``load_average`` (the machine's 1-minute load when the run started), ``command`` and
  ``worker_command``.

Subprocesses run with ``MALLOC_MMAP_THRESHOLD_=65536`` (as benchmarks/memory_infonce.py) so that
freed batch buffers go back to the system and the RSS follows what is allocated. Evaluation
(embedding the full graph) is not part of the run.

Usage:
    python benchmarks/scale_minibatch.py [--sizes 1e4 1e5 1e6] [--methods bgrl graphmae grace]
        [--sampler cluster|neighbor] [--nodes-per-batch 8192] [--nproc 1 2]
        [--batch-size 1024] [--num-neighbors 10 5] [--max-steps 10] [--num-negatives 1024]
        [--out benchmarks/results/scale/scale_minibatch.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "scale" / "scale_minibatch.json"
METHODS = ("bgrl", "graphmae", "grace")


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class CappedTimed:
    """A re-iterable over at most ``max_steps`` batches of ``batches`` that records, for each
    step, the wall time from asking for its batch to asking for the next one, and the time
    spent drawing the batch."""

    def __init__(self, batches, max_steps: int):
        self.batches, self.max_steps = batches, max_steps
        self.step_seconds, self.sample_seconds, self.nodes, self.edges = [], [], [], []

    def __len__(self):
        return min(len(self.batches), self.max_steps)

    def __iter__(self):
        inner = iter(self.batches)
        for _ in range(len(self)):
            start = time.perf_counter()
            batch = next(inner)
            self.sample_seconds.append(time.perf_counter() - start)
            self.nodes.append(batch.num_nodes)
            self.edges.append(batch.num_edges)
            yield batch
            self.step_seconds.append(time.perf_counter() - start)


def worker(spec: dict) -> dict | None:
    import resource

    import torch

    from graphssl.bench.config import method_config
    from graphssl.bench.environment import versions
    from graphssl.data.synthetic import random_graph
    from graphssl.methods import build_method
    from graphssl.train import (ClusterBatches, NeighborBatches, Trainer, init_distributed,
                                is_main_process, seed_everything, shutdown, world_size)

    size, method = spec["size"], spec["method"]
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # launched by torchrun (--nproc N)
        init_distributed()
    world = world_size()
    rss_imports = _status_mb("VmRSS")
    load = os.getloadavg()[0]
    start = time.perf_counter()
    data = random_graph(size, avg_degree=10, num_features=128, num_classes=10, seed=0)
    graph_seconds = time.perf_counter() - start
    graph_peak = _status_mb("VmHWM")
    seed_everything(0)
    config = method_config(method, "scale-synthetic")["model"]
    if method == "grace":
        config["num_negatives"] = spec["num_negatives"]
    model = build_method(method, data.num_features, **config)
    start = time.perf_counter()
    if spec["sampler"] == "cluster":
        parts = max(1, -(-size // spec["nodes_per_batch"]))
        batches = ClusterBatches(data, num_parts=parts, parts_per_batch=1, seed=0)
    else:
        batches = NeighborBatches(data, num_neighbors=tuple(spec["num_neighbors"]),
                                  batch_size=spec["batch_size"], seed=0)
    sampler_seconds = time.perf_counter() - start
    # every rank trains max_steps batches: the Trainer gives rank r batches r, r + world, ...
    timed = CappedTimed(batches, spec["max_steps"] * world)
    rss_setup = _status_mb("VmRSS")
    setup_peak = _status_mb("VmHWM")
    reset = _reset_peak()
    trainer = Trainer(epochs=1, lr=1e-3, seed=0, progress=False, uneven_batches="drop")
    start = time.perf_counter()
    trainer.fit(model, timed)
    fit_seconds = time.perf_counter() - start
    train_peak = _status_mb("VmHWM") if reset else None
    steps_run = max(len(timed) // world, 1)  # per rank
    per_step = fit_seconds / steps_run  # wall time per step of one rank, warm-up included
    epoch_seconds = per_step * len(batches) / world
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if world > 1:
        shutdown()
    if not is_main_process():
        return None
    return {
        "method": method, "size": size, "num_edges": int(data.edge_index.size(1)),
        "num_features": int(data.num_features), "model": config, "sampler": spec["sampler"],
        "processes": world,
        "batch_size": spec["batch_size"], "num_neighbors": spec["num_neighbors"],
        "nodes_per_batch": spec["nodes_per_batch"],
        "steps_per_epoch": len(batches), "steps_run_per_process": steps_run,
        "seconds_per_step": per_step, "seconds_per_epoch": epoch_seconds,
        "fit_seconds": fit_seconds, "sampler_setup_seconds": sampler_seconds,
        "sample_seconds_per_batch": sum(timed.sample_seconds) / len(timed.sample_seconds),
        "nodes_per_second": size / epoch_seconds,
        "mean_batch_nodes": sum(timed.nodes) / len(timed.nodes),
        "mean_batch_edges": sum(timed.edges) / len(timed.edges),
        "loss": trainer.history[-1]["loss"],
        "graph_seconds": graph_seconds, "rss_after_imports_mb": rss_imports,
        "graph_peak_rss_mb": graph_peak,
        "rss_after_setup_mb": rss_setup, "setup_peak_rss_mb": setup_peak,
        "train_peak_rss_mb": train_peak,
        "peak_rss_mb": max(v for v in (setup_peak, train_peak, _status_mb("VmHWM")) if v),
        "ru_maxrss_mb": ru / 1024 if sys.platform != "darwin" else ru / 2 ** 20,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else None, "load_average": load, "versions": versions(),
        "machine": platform.machine(), "processor": platform.processor(),
    }


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", nargs="+", default=["1e4", "1e5", "1e6"],
                   help="numbers of nodes (1e5 or 100000)")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--sampler", choices=["cluster", "neighbor"], default="cluster",
                   help="cluster: ClusterBatches of about --nodes-per-batch nodes (each node in "
                        "one batch per epoch); neighbor: NeighborBatches of --batch-size seeds")
    p.add_argument("--nodes-per-batch", type=int, default=8192)
    p.add_argument("--nproc", type=int, nargs="+", default=[1],
                   help="processes per run (DDP over gloo via torchrun when > 1)")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--num-neighbors", type=int, nargs="+", default=[10, 5])
    p.add_argument("--max-steps", type=int, default=10,
                   help="batches trained per run; the epoch time is extrapolated from them")
    p.add_argument("--num-negatives", type=int, default=1024, help="GRACE's sampled negatives")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    p.add_argument("--out", default=str(DEFAULT_OUT))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        row = worker(json.loads(args.worker))
        if row is not None:  # rank 0 only
            print("RESULT " + json.dumps(row), flush=True)
        return 0
    sizes = [int(float(s)) for s in args.sizes]
    command = " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv)
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    rows = []
    print(f"{'method':<10}{'nodes':>10}{'procs':>6}{'s/epoch':>12}{'nodes/s':>10}{'s/step':>9}"
          f"{'batch n':>9}{'peak MiB':>10}{'train MiB':>11}  steps")
    for size, nproc, method in ((s, p, m) for s in sizes for p in args.nproc
                                for m in args.methods):
        spec = {"size": size, "method": method, "batch_size": args.batch_size,
                "num_neighbors": args.num_neighbors, "max_steps": args.max_steps,
                "num_negatives": args.num_negatives, "sampler": args.sampler,
                "nodes_per_batch": args.nodes_per_batch}
        script = [str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
        cmd = [sys.executable, *script] if nproc == 1 else [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={nproc}", *script]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                                  timeout=args.timeout)
        except subprocess.TimeoutExpired:
            rows.append({**spec, "error": f"timed out after {args.timeout} s"})
            print(f"{method:<10}{size:>10}  timed out")
            continue
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not lines:
            rows.append({**spec, "error": proc.stderr[-2000:]})
            print(f"{method:<10}{size:>10}  failed: {proc.stderr.strip()[-300:]}")
            continue
        row = json.loads(lines[-1][len("RESULT "):])
        row.update(command=command, worker_command=" ".join(shlex.quote(c) for c in cmd))
        rows.append(row)
        train = row["train_peak_rss_mb"]
        print(f"{method:<10}{size:>10}{nproc:>6}{row['seconds_per_epoch']:>12.1f}"
              f"{row['nodes_per_second']:>10.0f}{row['seconds_per_step']:>9.2f}"
              f"{row['mean_batch_nodes']:>9.0f}{row['peak_rss_mb']:>10.0f}"
              f"{train if train is not None else float('nan'):>11.0f}  "
              f"{row['steps_run_per_process']}/{row['steps_per_epoch']}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": command, "runs": rows}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
