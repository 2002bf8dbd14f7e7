"""Seconds per epoch, peak memory and overhead ratio of every registered method.

Node-level methods train on Cora (full graph, one step per epoch), graph-level methods on
PROTEINS (one pass over its mini-batches per epoch), each with its shipped configuration for that
dataset (the method's defaults where it has none) and the data preparation of
``graphssl pretrain`` (row-normalised / CSR features, batch size).

Overhead ratio, measured in the same process: the method's epoch (views, every encoder pass,
heads, loss, backward, optimiser step) over its **floor**, a plain forward and backward of its
encoder(s) on the very same inputs. The inputs are captured by a forward pre-hook on each
top-level encoder during one epoch of the method, so the floor replays exactly the passes the
method makes (a pass the method makes without gradient, e.g. BGRL's target encoder, is replayed
without gradient). For methods whose objective is ``InfoNCE`` on a full graph (GRACE, GCA) a
second ratio is over the floor plus the similarity products InfoNCE cannot avoid
(``z1 z2^T``, ``z1 z1^T``, ``z2 z2^T``, forward and backward, timed alone on the same shapes).
The floor includes the method's ``decoder`` module where it has one (GraphMAE's GNN decoder);
for auto-encoders with the dense inner-product decoder (GAE, VGAE, ARGA, ARGVA with
``reconstruction='dense'``) a second ratio is over the floor plus ``z z^T`` forward and
backward, the decoder they cannot avoid.

Timings interleave method and floors in rounds; each ratio is the median over rounds of the
within-round ratio. Peak memory: a fresh subprocess per method runs 3 epochs; reported is its
VmHWM minus its RSS after set-up (``MALLOC_MMAP_THRESHOLD_=65536``, see memory_infonce.py).

Usage: python benchmarks/speed_methods.py [--methods grace,dgi,...] [--rounds 5] [--out F.json]
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
import torch_geometric.transforms as T
from torch_geometric.loader import DataLoader

from graphssl.bench.config import method_config
from graphssl.bench.environment import peak_rss_mb, save_record, versions
from graphssl.data import ensure_features, load_dataset
from graphssl.encoders.gnn import GNNEncoder
from graphssl.methods import build_method
from graphssl.methods.registry import METHODS
from graphssl.objectives import InfoNCE
from graphssl.sparse import to_sparse_features

DATASETS = {"node": "Cora", "graph": "PROTEINS"}


def setup(name, args):
    """(model, optimiser, batches) prepared as ``graphssl pretrain`` prepares them."""
    level = METHODS[name].level
    dataset = load_dataset(DATASETS[level], root=args.root, mirror=args.mirror)
    cfg = method_config(name, dataset.spec.name)
    torch.manual_seed(0)
    if level == "node":
        if cfg["data"].get("normalize_features"):
            dataset.transform = T.NormalizeFeatures()
        data = dataset[0]
        model = build_method(name, data.num_features, **cfg["model"])
        if getattr(model.encoder, "supports_sparse_input", False) and model.encoder.sparse_input:
            data = to_sparse_features(data)
        batches = [data]
    else:
        if dataset[0].x is None:
            dataset.transform = lambda d: ensure_features(d, max_degree=64)
        model = build_method(name, dataset.num_features, **cfg["model"])
        loader = DataLoader(dataset, batch_size=cfg["data"].get("batch_size", 128), shuffle=True,
                            generator=torch.Generator().manual_seed(0))
        batches = list(loader)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["train"]["lr"],
                           weight_decay=cfg["train"].get("weight_decay", 0.0))
    return model, opt, batches, dataset.spec.name


def epoch_fn(model, opt, batches):
    gen = torch.Generator().manual_seed(0)
    model.train()
    state = {"step": 0}

    def epoch():
        for batch in batches:
            opt.zero_grad(set_to_none=True)
            model.loss(batch, gen).backward()
            opt.step()
            state["step"] += 1
            model.after_step(state["step"], 10 ** 6)
    return epoch


def top_level_encoders(model):
    """The method's encoders and decoder: its ``encoder``, its ``decoder`` (GraphMAE) and every
    GNNEncoder (target and diffusion encoders...), except those inside another one (VGAE's
    heads, inside its encoder)."""
    named = [getattr(model, "encoder", None), getattr(model, "decoder", None)]
    found = [m for m in model.modules()
             if isinstance(m, GNNEncoder) or any(m is n for n in named)]
    inner = {id(m) for enc in found for m in enc.modules() if m is not enc}
    return [m for m in found if id(m) not in inner]


def detached(value):
    """Inputs cut from the method's autograd graph; others kept as the same objects, so that
    identity-keyed caches (GCNEncoder's sparse adjacency) behave as in the method's epoch."""
    if isinstance(value, torch.Tensor) and value.requires_grad:
        return value.detach()
    return value


def record_passes(model, epoch):
    """Inputs of every encoder call and of every InfoNCE call during one epoch."""
    passes, contrasts = [], []

    def on_encoder(module, args, kwargs):
        passes.append((module, tuple(detached(a) for a in args),
                       {k: detached(v) for k, v in kwargs.items()}, torch.is_grad_enabled()))

    def on_objective(module, args):
        contrasts.append(tuple(args[0].shape))

    handles = [m.register_forward_pre_hook(on_encoder, with_kwargs=True)
               for m in top_level_encoders(model)]
    handles += [m.register_forward_pre_hook(on_objective) for m in model.modules()
                if isinstance(m, InfoNCE)]
    epoch()
    for h in handles:
        h.remove()
    return passes, contrasts


def first_tensor(out):
    return out if isinstance(out, torch.Tensor) else next(
        o for o in out if isinstance(o, torch.Tensor))


def floor_fn(passes):
    def floor():
        total = 0.0
        for module, args, kwargs, grad in passes:
            with torch.set_grad_enabled(grad):
                out = first_tensor(module(*args, **kwargs))
            if grad:
                total = total + out.sum()
        total.backward()
        for module, *_ in passes:
            module.zero_grad(set_to_none=True)
    return floor


def similarity_fn(shape):
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(*shape, generator=g, requires_grad=True)
    z2 = torch.randn(*shape, generator=g, requires_grad=True)
    upstream = torch.randn(shape[0], shape[0], generator=g)

    def sims():
        torch.autograd.backward([z1 @ z2.t(), z1 @ z1.t(), z2 @ z2.t()], [upstream] * 3)
        z1.grad = z2.grad = None
    return sims


def inner_product_decoder_fn(shape):
    """The dense decoder of GAE/VGAE/ARGA(V) (``reconstruction='dense'``): ``z z^T`` over every
    node pair, forward and backward, on the shape of the encoder's output."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(*shape, generator=g, requires_grad=True)
    upstream = torch.randn(shape[0], shape[0], generator=g)

    def decode():
        (z @ z.t()).backward(upstream)
        z.grad = None
    return decode


def measure(name, args):
    model, opt, batches, dataset = setup(name, args)
    epoch = epoch_fn(model, opt, batches)
    epoch()  # warm-up (caches: centralities, diffusion, CSR adjacency)
    passes, contrasts = record_passes(model, epoch)
    cases = {"epoch": epoch, "encoder_floor": floor_fn(passes)}
    full_graph_infonce = METHODS[name].level == "node" and contrasts
    if full_graph_infonce:
        cases["similarities"] = similarity_fn(contrasts[0])
    dense_decoder = getattr(model, "reconstruction", None) == "dense"
    if dense_decoder:
        module, pass_args, pass_kwargs, _ = passes[0]
        with torch.no_grad():
            z_shape = tuple(first_tensor(module(*pass_args, **pass_kwargs)).shape)
        cases["decoder"] = inner_product_decoder_fn(z_shape)
    for step in cases.values():
        step()
    times = {k: [] for k in cases}
    for _ in range(args.rounds):
        for k, step in cases.items():
            start = time.perf_counter()
            for _ in range(args.per_round):
                step()
            times[k].append((time.perf_counter() - start) / args.per_round)
    result = {"method": name, "dataset": dataset,
              "seconds_per_epoch": statistics.median(times["epoch"]),
              "encoder_floor_seconds": statistics.median(times["encoder_floor"]),
              "encoder_passes_per_epoch": len(passes),
              "passes_without_grad": sum(not p[3] for p in passes),
              "overhead_ratio": statistics.median(
                  e / f for e, f in zip(times["epoch"], times["encoder_floor"]))}
    if dense_decoder:
        result["decoder_seconds"] = statistics.median(times["decoder"])
        result["latent_shape"] = list(z_shape)
        result["ratio_to_floor_plus_decoder"] = statistics.median(
            e / (f + d) for e, f, d in zip(times["epoch"], times["encoder_floor"],
                                           times["decoder"]))
    if full_graph_infonce:
        result["similarity_seconds"] = statistics.median(times["similarities"])
        result["contrast_shape"] = list(contrasts[0])
        result["ratio_to_floor_plus_similarities"] = statistics.median(
            e / (f + s) for e, f, s in zip(times["epoch"], times["encoder_floor"],
                                           times["similarities"]))
    return result


def memory(name, args):
    model, opt, batches, dataset = setup(name, args)
    epoch = epoch_fn(model, opt, batches)
    before = peak_rss_mb()
    for _ in range(3):
        epoch()
    return {"peak_rss_mb": peak_rss_mb(), "rss_before_mb": before,
            "train_memory_mb": peak_rss_mb() - before}


def in_subprocess(name, args):
    cmd = [sys.executable, __file__, "--memory-of", name, "--root", args.root]
    if args.mirror:
        cmd += ["--mirror", args.mirror]
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"memory run of {name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(sorted(METHODS)))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=2)
    parser.add_argument("--mirror", default=os.environ.get("GRAPHSSL_MIRROR"))
    parser.add_argument("--root", default=os.environ.get("GRAPHSSL_ROOT", "datasets"))
    parser.add_argument("--out", default=None)
    parser.add_argument("--memory-of", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_of:
        print(json.dumps(memory(args.memory_of, args)))
        return
    names = [n for n in args.methods.split(",") if n]
    unknown = sorted(set(names) - set(METHODS))
    if unknown:
        parser.error(f"unknown methods {unknown}; registered: {sorted(METHODS)}")
    results = []
    for name in names:
        result = measure(name, args)
        result.update(in_subprocess(name, args))
        results.append(result)
        print(json.dumps(result), flush=True)
    record = {"results": results, "device": "cpu", "threads": torch.get_num_threads(),
              "cpu_count": os.cpu_count(), "machine": platform.machine(),
              "versions": versions(), "rounds": args.rounds, "epochs_per_round": args.per_round,
              "command": "python benchmarks/speed_methods.py " + " ".join(sys.argv[1:])}
    if args.out:
        save_record(record, args.out)


if __name__ == "__main__":
    main()
