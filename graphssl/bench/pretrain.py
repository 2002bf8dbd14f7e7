"""Pretrain-then-probe protocol behind ``graphssl pretrain``: for each run, seed, pick the split,
pretrain the method with its tuned configuration, embed, and probe the frozen embeddings."""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch
import torch_geometric.transforms as T

from ..data import get_split, load_dataset
from ..evaluate import linear_probe
from ..methods import build_method, get_method
from ..sparse import to_sparse_features
from ..train import Trainer, seed_everything
from .config import config_hash, deep_update, method_config
from .environment import device_info, peak_rss_mb, versions


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def choose_split(spec, method_split: str | None, dataset) -> str:
    """The split family when none is asked for: a dataset's official split (OGB, WikiCS) wins;
    else the method's paper protocol, where the dataset has it (``'public'`` needs stored
    masks); else 10/10/80 random splits."""
    if spec.split in ("ogb", "wikics"):
        return spec.split
    if method_split == "public" and getattr(dataset[0], "train_mask", None) is None:
        return "random"
    return method_split or spec.split


def run_pretrain(method: str, dataset: str, split: str | None = None, runs: int | None = None,
                 epochs: int | None = None, root=None, mirror=None, device: str = "auto",
                 overrides: dict | None = None, checkpoint_dir=None, progress: bool = True,
                 echo=print) -> dict:
    """Run the protocol and return the result record (see ``docs/protocol.md``).

    ``split``, ``runs`` and ``epochs`` default to the method's shipped protocol for the dataset;
    ``overrides`` updates the configuration (``{'model': {'temperature': 0.5}}``).
    """
    get_method(method)  # fail early on an unknown name
    dataset_obj = load_dataset(dataset, root=root, mirror=mirror)
    spec = dataset_obj.spec
    if spec.task != "node":
        raise NotImplementedError(
            f"{spec.name} is a {spec.task}-level dataset; `graphssl pretrain` evaluates node "
            f"embeddings with a linear probe for now. Graph-level evaluation (SVM with 10-fold "
            f"CV) is tracked in the contrastive-methods issue.")
    config = deep_update(method_config(method, spec.name), overrides or {})
    protocol = config["protocol"]
    split = split or choose_split(spec, protocol.get("split"), dataset_obj)
    runs = protocol.get("runs", 1) if runs is None else runs
    if not isinstance(runs, int) or runs < 1:
        raise ValueError(f"runs must be a positive integer, got {runs!r}")
    get_split(dataset_obj, split, 0)  # an impossible split fails now, not after pretraining
    if epochs is not None:
        config["train"]["epochs"] = epochs
    protocol.update(split=split, runs=runs)  # the record's config is what actually ran
    if config["data"].get("normalize_features"):
        dataset_obj.transform = T.NormalizeFeatures()
    probe_cfg = dict(protocol.get("probe") or {})
    dev = resolve_device(device)
    data = dataset_obj[0].to(dev)
    y = data.y.view(-1).cpu()

    echo(f"{method} on {spec.name}: split={split}, runs={runs}, epochs="
         f"{config['train'].get('epochs')}, device={dev}"
         + ("" if config.get("tuned") else " (no tuned config for this dataset: defaults)"))
    results, pretrain_seconds, epochs_run = [], 0.0, 0
    for run in range(runs):
        seed_everything(run)
        model = build_method(method, data.num_features, **config["model"]).to(dev)
        if run == 0 and getattr(model.encoder, "supports_sparse_input", False) and \
                model.encoder.sparse_input:
            data = to_sparse_features(data)  # bag-of-words: augment and encode non-zeros only
        train_cfg = dict(config["train"])
        ckpt = None if checkpoint_dir is None else Path(checkpoint_dir) / f"run{run}"
        trainer = Trainer(seed=run, progress=progress, checkpoint_dir=ckpt, **train_cfg)
        start = time.perf_counter()
        trainer.fit(model, data, resume=ckpt is not None)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        pretrain_seconds += time.perf_counter() - start
        epochs_run += len(trainer.history) - trainer.resumed_from_epoch
        z = model.embed(data).cpu()
        probe = linear_probe(z, y, get_split(dataset_obj, split, run), **probe_cfg)
        probe.update(run=run, seed=run, epochs=len(trainer.history),
                     final_loss=trainer.history[-1]["loss"] if trainer.history else None)
        results.append(probe)
        echo(f"  run {run}: test acc {100 * probe['test_acc']:.2f} (val "
             f"{100 * probe['val_acc']:.2f}, C={probe['C']}, {probe['epochs']} epochs)")
    accs = [r["test_acc"] for r in results]
    record = {
        "method": method, "dataset": spec.name, "split": split, "runs": runs,
        "test_acc_mean": statistics.fmean(accs),
        "test_acc_std": statistics.pstdev(accs) if len(accs) > 1 else 0.0,
        "val_acc_mean": statistics.fmean(r["val_acc"] for r in results),
        "probe": {"kind": "logistic regression, L2 strength chosen on the validation split",
                  **probe_cfg},
        "per_run": results, "pretrain_seconds": pretrain_seconds,
        "seconds_per_epoch": pretrain_seconds / max(epochs_run, 1),
        "epochs_trained_here": epochs_run,
        "peak_rss_mb": peak_rss_mb(), "config": config, "config_hash": config_hash(config),
        "versions": versions(), **device_info(dev),
    }
    echo(f"{method} on {spec.name} ({split} split, {runs} run{'s' * (runs > 1)}): test accuracy "
         f"{100 * record['test_acc_mean']:.2f} ± {100 * record['test_acc_std']:.2f}")
    return record
