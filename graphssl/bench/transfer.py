"""Molecule transfer protocol behind ``graphssl pretrain --task transfer``: pretrain once on the
training molecules of several OGB sets (labels unused), then fine-tune on the target set's OGB
scaffold split over several seeds, each seed also from a randomly initialised encoder (no
pretraining) in the same run."""
from __future__ import annotations

import copy
import time
from pathlib import Path

import torch
from torch.utils.data import ConcatDataset
from torch_geometric.transforms import BaseTransform

from ..data import load_dataset
from ..data.molecules import OneHotCategorical
from ..data.sizes import largest_graph
from ..evaluate.transfer import finetune
from ..methods import build_method
from ..train import seed_everything
from .config import override_epochs
from .finished import load_finished, run_key, save_finished

DEFAULT_PRETRAIN_SETS = ("ogbg-molbace", "ogbg-molesol", "ogbg-molfreesolv")


class _Unlabelled(BaseTransform):
    """One-hot atom features, labels dropped (sets mix classification and regression labels;
    pretraining uses none). Applied on access, so a large collection stays categorical in
    memory (9 integer columns per atom, not 174 floats)."""

    def __init__(self):
        self.one_hot = OneHotCategorical()

    def forward(self, data):
        data = self.one_hot(data)
        data.y = None
        return data


def _pretraining_entry(entry):
    """``'ogbg-molbace'`` or ``{'name': 'MOSES', 'max_molecules': 250000, ...}`` -> ``(name,
    loader options)``."""
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, dict) and isinstance(entry.get("name"), str):
        return entry["name"], {k: v for k, v in entry.items() if k != "name"}
    raise ValueError(f"protocol.pretrain_on entries must be dataset names or mappings with a "
                     f"'name' (and loader options such as max_molecules), got {entry!r}")


def pretraining_molecules(names, root=None, mirror=None):
    """The pretraining molecules of every set in ``names``: the training split (OGB scaffold
    split) of each OGB molecule set, so the validation and test molecules of every set, the
    target's included, are never seen, not even without labels; every molecule of an
    unlabelled collection without splits (``'MOSES'``; an entry may be ``{'name': 'MOSES',
    'max_molecules': N, 'seed': s}`` for a random subset). One-hot atom features, labels
    dropped. Returns ``(dataset, {label: molecules})``."""
    parts, counts = [], {}
    for entry in names:
        name, options = _pretraining_entry(entry)
        ds = load_dataset(name, root=root, mirror=mirror, transform=_Unlabelled(), **options)
        spec = ds.spec
        if spec.task != "graph" or not (spec.name.startswith("ogbg-mol") or spec.split == "none"):
            raise ValueError(f"pretraining sets must be OGB molecule sets (ogbg-mol*) or "
                             f"unlabelled molecule collections (MOSES), got {spec.name}")
        if spec.name.startswith("ogbg-mol"):
            ds = ds[ds.get_idx_split()["train"]]  # a view: the transform comes along
        parts.append(ds)
        described = ", ".join(f"{k}={v}" for k, v in sorted(options.items()))
        counts[f"{spec.name}({described})" if options else spec.name] = len(ds)
    return ConcatDataset(parts), counts


def run_transfer(method: str, dataset, config: dict, runs=None, epochs=None, device="auto",
                 checkpoint_dir=None, progress=True, echo=print, root=None,
                 mirror=None, checkpoint_seconds=None) -> dict:
    """Pretrain ``method`` on ``protocol.pretrain_on`` (default: the training molecules of
    ogbg-molbace, ogbg-molesol and ogbg-molfreesolv, the OGB molecule sets available offline),
    seed 0; then for each seed ``s < runs`` (default 10) fine-tune the pretrained encoder and a
    freshly initialised one, both seeded with ``s``, on ``dataset`` (OGB scaffold split) and
    score the last epoch with OGB's ``Evaluator``.

    With ``checkpoint_dir``, the pretraining, every finished seed and every finished arm of a
    seed are kept there, and an arm's fine-tuning is checkpointed at most every
    ``checkpoint_seconds`` (default 60), so a rerun after a kill redoes at most that much."""
    from ogb.graphproppred import Evaluator

    from .pretrain import (_record, _train_run, check_fits, claimed_runs, graph_batches,
                           resolve_device, resolve_runs)

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
    molecules, counts = pretraining_molecules(names, root=root, mirror=mirror)
    protocol.update(task="transfer", runs=runs, pretrain_on=counts, finetune=ft)
    if run_ids != list(range(runs)):
        protocol["run_ids"] = run_ids
    target = dataset
    target.transform = OneHotCategorical()
    split = target.get_idx_split()
    evaluator = Evaluator(spec.name)
    batch_size = config["data"].get("batch_size", 256)
    sources = ", ".join(f"{name}: {n}" for name, n in counts.items())
    echo(f"{method}: pretrain on {sum(counts.values())} molecules ({sources}); fine-tune on "
         f"{spec.name} (scaffold split {len(split['train'])}/{len(split['valid'])}/{len(split['test'])}), {runs} seeds, "
         f"metric {evaluator.eval_metric}, device={dev}")

    seed_everything(0)
    in_channels = molecules[0].num_features
    model = build_method(method, in_channels, **config["model"]).to(dev)
    # the views are made in pretraining only: fine-tuning runs the bare encoder
    check_fits(model, largest_graph(molecules), method, f"the pretraining molecules ({sources})")
    loader = graph_batches(molecules, batch_size)
    # under a lock, so that processes sharing checkpoint_dir pretrain once: the others wait
    # and then load the finished checkpoint
    for run in claimed_runs([0], checkpoint_dir, echo):
        trainer, seconds, epochs_run = _train_run(model, loader, config, run, checkpoint_dir,
                                                  progress, dev, checkpoint_seconds)
    pretrained = copy.deepcopy(model.encoder).cpu()
    num_tasks, task_type = target.num_tasks, target.task_type
    results, finetune_seconds = [], 0.0
    done_dir = None if checkpoint_dir is None else Path(checkpoint_dir) / "finetune"
    finetune_checkpoint_seconds = 60.0 if checkpoint_seconds is None else checkpoint_seconds
    key_hash = run_key(config)  # seed s finishes the same in any set of seeds
    # several processes given one checkpoint folder share the seeds (each locked while it runs)
    for seed in claimed_runs(run_ids, done_dir, echo):
        done = load_finished(done_dir, f"seed{seed}", key_hash)
        if done is not None:  # a rerun after an interruption: this seed is finished
            results.append(done)
            echo(f"  seed {seed}: finished in an earlier run, reused")
            continue
        result = {"run": seed, "seed": seed}
        for arm in ("pretrained", "scratch"):
            # each arm kept once finished, and checkpointed while it runs: a kill loses at
            # most checkpoint_seconds of fine-tuning
            arm_dir = None if done_dir is None else done_dir / f"run{seed}"
            out = load_finished(arm_dir, arm, key_hash)
            if out is None:
                if arm == "pretrained":
                    encoder = pretrained
                else:
                    torch.manual_seed(seed)
                    encoder = build_method(method, in_channels, **config["model"]).encoder
                ckpt = None if arm_dir is None else arm_dir / f"{arm}-{key_hash}.pt"
                start = time.perf_counter()
                out = finetune(encoder, target, split, evaluator, num_tasks, task_type,
                               seed=seed, device=dev, checkpoint=ckpt,
                               checkpoint_seconds=finetune_checkpoint_seconds, **ft)
                finetune_seconds += time.perf_counter() - start
                out = {k: out[k] for k in ("metric", "test", "valid")} | {
                    "final_train_loss": out["train_loss"][-1]}
                save_finished(arm_dir, arm, key_hash, out)
                if ckpt is not None:
                    ckpt.unlink(missing_ok=True)
            key = "" if arm == "pretrained" else "scratch_"
            result[f"test_{key}{out['metric']}"] = out["test"]
            result[f"val_{key}{out['metric']}"] = out["valid"]
            result[f"{arm}_final_train_loss"] = out["final_train_loss"]
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
