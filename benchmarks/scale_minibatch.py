"""Mini-batch pretraining at scale: seconds per epoch, nodes per second and peak memory of BGRL,
GraphMAE and GRACE (sampled negatives) trained on neighbour-sampled batches of large synthetic
graphs.

For every (method, size) a fresh subprocess (so that every peak is that run's own):

1. builds ``random_graph(size, avg_degree=10, num_features=128, num_classes=10, seed=0)``
   (graphssl.data.synthetic; an undirected CSBM-like graph of about ``10 * size`` directed
   edges, float32 features);
2. builds the method with its shipped default configuration (``graphssl/configs/<method>.yaml``,
   section ``defaults``: BGRL GCN 512-256 with batch norm; GraphMAE GAT 2 x 512 (4 heads) with a
   GAT decoder; GRACE GCN 256-128), GRACE with ``num_negatives=1024`` (InfoNCE against 1,024
   sampled negatives: the full ``n_batch x n_batch`` loss of a 40k-node batch would not fit);
3. wraps ``NeighborBatches(data, num_neighbors, batch_size, seed=0)`` (graphssl.train.sampling)
   so that at most ``--max-steps`` batches are drawn, and trains with the library's
   ``Trainer`` (Adam, lr 1e-3, ``epochs=1``) on them;
4. times every step: step ``i`` is the wall time from asking for batch ``i`` to asking for
   batch ``i + 1`` (sampling + loss + backward + optimiser step + EMA update);
   ``sample_seconds_per_step`` is the sampling part alone.

Exactly what is reported (one JSON object per run, all of them in ``--out``):

* ``steps_per_epoch``: ``len(NeighborBatches)`` = ``ceil(size / batch_size)``;
  ``steps_run``: ``min(steps_per_epoch, max_steps)``;
* ``seconds_per_step``: mean over the steps run, the first excluded (warm-up) when more than
  one ran; ``seconds_per_epoch`` = ``seconds_per_step * steps_per_epoch``: **extrapolated**
  from the capped steps unless ``epoch_complete`` is true (then it is still the same formula,
  and ``measured_epoch_seconds`` is the Trainer's own epoch time, warm-up included);
* ``nodes_per_second``: ``size / seconds_per_epoch`` (graph nodes, i.e. seed nodes, trained per
  second); ``sampled_nodes_per_second``: nodes of the sampled subgraphs (seeds plus sampled
  neighbours, as the losses see them) per second; ``mean_batch_nodes`` / ``mean_batch_edges``;
* ``peak_rss_mb``: the subprocess's peak resident memory (VmHWM of /proc/self/status, in MiB)
  over the whole run: the larger of ``setup_peak_rss_mb`` (the peak while importing and
  building the graph, the sampler's CSR and the model) and ``train_peak_rss_mb`` (the peak
  during training only: VmHWM is reset with ``/proc/self/clear_refs`` before training; ``null``
  where the kernel does not allow it); ``rss_after_imports_mb`` (torch, PyG and graphssl
  loaded, nothing built: about 0.4 GiB) and ``rss_after_setup_mb`` (graph, sampler and model
  built, before training); ``ru_maxrss_mb``: ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
  (the same peak as VmHWM, but never reset, and it can include the parent's peak, as Linux
  keeps it across fork + exec; the parent here does not import torch);
* ``graph_seconds`` and ``graph_peak_rss_mb``: time to generate the graph, and the peak then;
* ``torch_threads``, ``omp_num_threads``, ``cpu_count``, ``cpu_affinity``, ``load_average``
  (the machine's 1-minute load when the run started: other processes may share the cores),
  ``command`` (the exact command line of the benchmark) and ``worker_command``.

Subprocesses run with ``MALLOC_MMAP_THRESHOLD_=65536`` (as benchmarks/memory_infonce.py) so that
freed batch buffers go back to the system and the RSS follows what is allocated. Evaluation
(embedding the full graph) is not part of the run.

Usage:
    python benchmarks/scale_minibatch.py [--sizes 1e4 1e5 1e6] [--methods bgrl graphmae grace]
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


def worker(spec: dict) -> dict:
    import resource

    import torch

    from graphssl.bench.config import method_config
    from graphssl.bench.environment import versions
    from graphssl.data.synthetic import random_graph
    from graphssl.methods import build_method
    from graphssl.train import NeighborBatches, Trainer, seed_everything

    size, method = spec["size"], spec["method"]
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
    batches = NeighborBatches(data, num_neighbors=tuple(spec["num_neighbors"]),
                              batch_size=spec["batch_size"], seed=0)
    timed = CappedTimed(batches, spec["max_steps"])
    rss_setup = _status_mb("VmRSS")
    setup_peak = _status_mb("VmHWM")
    reset = _reset_peak()
    trainer = Trainer(epochs=1, lr=1e-3, seed=0, progress=False)
    trainer.fit(model, timed)
    train_peak = _status_mb("VmHWM") if reset else None
    steps = timed.step_seconds[1:] if len(timed.step_seconds) > 1 else timed.step_seconds
    per_step = sum(steps) / len(steps)
    epoch_seconds = per_step * len(batches)
    sampled = sum(timed.nodes[-len(steps):])
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "method": method, "size": size, "num_edges": int(data.edge_index.size(1)),
        "num_features": int(data.num_features), "model": config,
        "batch_size": spec["batch_size"], "num_neighbors": spec["num_neighbors"],
        "steps_per_epoch": len(batches), "steps_run": len(timed.step_seconds),
        "epoch_complete": len(timed.step_seconds) == len(batches),
        "seconds_per_step": per_step, "seconds_per_epoch": epoch_seconds,
        "measured_epoch_seconds": trainer.history[-1]["seconds"],
        "sample_seconds_per_step": sum(timed.sample_seconds) / len(timed.sample_seconds),
        "nodes_per_second": size / epoch_seconds,
        "sampled_nodes_per_second": sampled / sum(steps),
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
        print("RESULT " + json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0
    sizes = [int(float(s)) for s in args.sizes]
    command = " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv)
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    rows = []
    print(f"{'method':<10}{'nodes':>10}{'s/epoch':>12}{'nodes/s':>10}{'s/step':>9}"
          f"{'batch n':>9}{'peak MiB':>10}{'train MiB':>11}  steps")
    for size in sizes:
        for method in args.methods:
            spec = {"size": size, "method": method, "batch_size": args.batch_size,
                    "num_neighbors": args.num_neighbors, "max_steps": args.max_steps,
                    "num_negatives": args.num_negatives}
            cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
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
            print(f"{method:<10}{size:>10}{row['seconds_per_epoch']:>12.1f}"
                  f"{row['nodes_per_second']:>10.0f}{row['seconds_per_step']:>9.2f}"
                  f"{row['mean_batch_nodes']:>9.0f}{row['peak_rss_mb']:>10.0f}"
                  f"{train if train is not None else float('nan'):>11.0f}  "
                  f"{row['steps_run']}/{row['steps_per_epoch']}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": command, "runs": rows}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
