"""Molecule transfer protocol behind ``graphssl pretrain --task transfer``: pretrain once on the
training molecules of several OGB sets (labels unused), then fine-tune on the target set's OGB
scaffold split over several seeds, each seed also from a randomly initialised encoder (no
pretraining) in the same run."""
from __future__ import annotations

import copy
import time
from pathlib import Path

import torch

from ..data import load_dataset
from ..data.molecules import OneHotCategorical
from ..evaluate.transfer import finetune
from ..methods import build_method
from ..train import seed_everything
from .config import config_hash
from .finished import load_finished, save_finished

DEFAULT_PRETRAIN_SETS = ("ogbg-molbace", "ogbg-molesol", "ogbg-molfreesolv")


def _unlabelled(data):
    out = copy.copy(data)
    out.y = None  # sets mix classification and regression labels; pretraining uses none
    return out


def pretraining_molecules(names, root=None, mirror=None):
    """The training-split molecules (OGB scaffold split) of every set in ``names``, one-hot atom
    features, labels dropped. Validation and test molecules of every set are left out, so the
    target's held-out molecules are never seen, not even without labels."""
    transform = OneHotCategorical()
    graphs, counts = [], {}
    for name in names:
        ds = load_dataset(name, root=root, mirror=mirror)
        if ds.spec.task != "graph" or not ds.spec.name.startswith("ogbg-mol"):
            raise ValueError(f"pretraining sets must be OGB molecule sets (ogbg-mol*), got "
                             f"{ds.spec.name}")
        train = ds.get_idx_split()["train"]
        graphs.extend(_unlabelled(transform(ds[int(i)])) for i in train)
        counts[ds.spec.name] = len(train)
    return graphs, counts


def run_transfer(method: str, dataset, config: dict, runs=None, epochs=None, device="auto",
                 checkpoint_dir=None, progress=True, echo=print, root=None,
                 mirror=None) -> dict:
    """Pretrain ``method`` on ``protocol.pretrain_on`` (default: the training molecules of
    ogbg-molbace, ogbg-molesol and ogbg-molfreesolv, the OGB molecule sets available offline),
    seed 0; then for each seed ``s < runs`` (default 10) fine-tune the pretrained encoder and a
    freshly initialised one, both seeded with ``s``, on ``dataset`` (OGB scaffold split) and
    score the last epoch with OGB's ``Evaluator``."""
    from ogb.graphproppred import Evaluator
    from torch_geometric.loader import DataLoader

    from .pretrain import _record, _train_run, override_epochs, resolve_device, resolve_runs

    spec, protocol = dataset.spec, config["protocol"]
    if not spec.name.startswith("ogbg-mol"):
        raise ValueError(f"the transfer protocol fine-tunes on an OGB molecule set "
                         f"(ogbg-molbace, ...), got {spec.name}")
    run_ids = resolve_runs(runs, protocol.get("runs", 10))
    runs = len(run_ids)
    names = list(protocol.get("pretrain_on") or DEFAULT_PRETRAIN_SETS)
    ft = dict(protocol.get("finetune") or {})
    override_epochs(config, epochs)
    dev = resolve_device(device)
    graphs, counts = pretraining_molecules(names, root=root, mirror=mirror)
    protocol.update(task="transfer", runs=runs, pretrain_on=counts, finetune=ft)
    if run_ids != list(range(runs)):
        protocol["run_ids"] = run_ids
    target = dataset
    target.transform = OneHotCategorical()
    split = target.get_idx_split()
    evaluator = Evaluator(spec.name)
    batch_size = config["data"].get("batch_size", 256)
    echo(f"{method}: pretrain on {sum(counts.values())} training molecules of "
         f"{', '.join(counts)}; fine-tune on {spec.name} (scaffold split "
         f"{len(split['train'])}/{len(split['valid'])}/{len(split['test'])}), {runs} seeds, "
         f"metric {evaluator.eval_metric}, device={dev}")

    seed_everything(0)
    in_channels = graphs[0].num_features
    model = build_method(method, in_channels, **config["model"]).to(dev)
    loader = DataLoader(graphs, batch_size=batch_size, shuffle=True)
    trainer, seconds, epochs_run = _train_run(model, loader, config, 0, checkpoint_dir,
                                              progress, dev)
    pretrained = copy.deepcopy(model.encoder).cpu()
    num_tasks, task_type = target.num_tasks, target.task_type
    results, finetune_seconds = [], 0.0
    done_dir = None if checkpoint_dir is None else Path(checkpoint_dir) / "finetune"
    key_hash = config_hash(config)
    for seed in run_ids:
        done = load_finished(done_dir, f"seed{seed}", key_hash)
        if done is not None:  # a rerun after an interruption: this seed is finished
            results.append(done)
            echo(f"  seed {seed}: finished in an earlier run, reused")
            continue
        result = {"run": seed, "seed": seed}
        for arm in ("pretrained", "scratch"):
            if arm == "pretrained":
                encoder = pretrained
            else:
                torch.manual_seed(seed)
                encoder = build_method(method, in_channels, **config["model"]).encoder
            start = time.perf_counter()
            out = finetune(encoder, target, split, evaluator, num_tasks, task_type,
                           seed=seed, device=dev, **ft)
            finetune_seconds += time.perf_counter() - start
            key = "" if arm == "pretrained" else "scratch_"
            result[f"test_{key}{out['metric']}"] = out["test"]
            result[f"val_{key}{out['metric']}"] = out["valid"]
            result[f"{arm}_final_train_loss"] = out["train_loss"][-1]
        metric = evaluator.eval_metric
        result["test_gain"] = result[f"test_{metric}"] - result[f"test_scratch_{metric}"]
        results.append(result)
        save_finished(done_dir, f"seed{seed}", key_hash, result)
        echo(f"  seed {seed}: test {metric} pretrained {100 * result[f'test_{metric}']:.2f}, "
             f"no pretraining {100 * result[f'test_scratch_{metric}']:.2f}")
    metric = evaluator.eval_metric
    record = _record(method, spec, "OGB scaffold", runs, results, seconds, epochs_run,
                     config, dev, echo,
                     probe={"kind": "fine-tuning, last epoch", **ft,
                            "evaluator": f"ogb Evaluator({spec.name!r})"},
                     metrics=((metric, f"pretrained test {metric}"),
                              (f"scratch_{metric}", f"no-pretraining test {metric}"),
                              ("gain", "gain")))
    record.update(pretrain_molecules=counts, finetune_seconds=finetune_seconds,
                  pretrain_final_loss=trainer.history[-1]["loss"] if trainer.history else None)
    return record
