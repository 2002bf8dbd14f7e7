"""Pretrain-then-probe for images, clips and sentences (``graphssl pretrain --dataset digits``).

The protocol mirrors the graph one: for each run ``r`` (seed ``r``), pretrain on the training
part's inputs without labels, embed every item with the frozen encoder, and probe: a logistic
regression (C chosen on the validation part) and a kNN classifier; multi-label targets get a
one-vs-rest probe; clips also get the next-frame predictive head. A baseline on the raw inputs
(pixels; TF-IDF for text; copying the last frame for next-frame prediction) is measured in the
same run, on the same split, so every number has its reference next to it.
"""
from __future__ import annotations

import time

import torch

from ..augment import TemporalCrop
from ..checks import check_int
from ..data import Split, load_dataset
from ..evaluate import knn_probe, linear_probe, multilabel_probe, next_frame_probe
from ..methods import build_method, get_method
from ..train import seed_everything
from .config import deep_update, method_config, override_epochs
from .finished import run_key
from .pretrain import (_record, _train_run, keep_result, pending_runs, resolve_device,
                       resolve_runs, training_summary)


class TensorBatches:
    """Mini-batches of rows of a tensor, reshuffled every epoch from a seeded generator.

    ``transform(batch, generator)`` (optional) runs on each batch, e.g. a random temporal crop
    of long clips. ``drop_last`` keeps batch norm and in-batch negatives away from a batch of
    one. Iterating twice gives two different orders; the same seed gives the same sequence.
    """

    def __init__(self, x: torch.Tensor, batch_size: int = 256, seed: int = 0,
                 shuffle: bool = True, drop_last: bool = True, transform=None):
        batch_size = check_int("batch_size", batch_size, 2)
        if x.size(0) < 2:
            raise ValueError(f"need at least 2 items to form a batch, got {x.size(0)}")
        self.x, self.batch_size = x, min(batch_size, x.size(0))
        self.shuffle, self.drop_last, self.transform = shuffle, drop_last, transform
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = self.x.size(0)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = self.x.size(0)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for i in range(len(self)):
            batch = self.x[order[i * self.batch_size:(i + 1) * self.batch_size]]
            yield batch if self.transform is None else self.transform(batch, self.generator)


def embed_all(model, x: torch.Tensor, device, batch_size: int = 512) -> torch.Tensor:
    """Frozen embeddings of every row of ``x``, in batches."""
    return torch.cat([model.embed(x[i:i + batch_size].to(device)).cpu()
                      for i in range(0, x.size(0), batch_size)])


def split_of(data) -> Split:
    return Split(*(torch.nonzero(data.split[p]).view(-1) for p in ("train", "val", "test")))


def encoder_config(data, config: dict) -> tuple[int, dict]:
    """``(in_channels, encoder config)`` with the data's shape filled in where the
    configuration leaves it open (image size, frames, vocabulary, padding id)."""
    enc = dict(config["model"].get("encoder") or {})
    info = data.info
    if data.modality == "text":
        enc.setdefault("max_length", data.x.size(1))
        enc.setdefault("pad_id", info.get("pad_id", 0))
        return info["vocab_size"], enc
    if enc.get("type") != "resnet":
        enc.setdefault("image_size", info["image_size"])
    if data.modality == "video":
        enc.setdefault("frames", config["protocol"].get("context", data.x.size(1)))
    return info["channels"], enc


def baselines(data, split: Split, probe_cfg: dict, context: int | None) -> dict:
    """Reference numbers on the raw inputs, on the same split: a logistic regression on pixels
    (clips: the context frames' pixels) or on TF-IDF features; copying the last frame."""
    start = time.perf_counter()
    out = {}
    if data.modality == "text":
        from ..data.text import tfidf_features
        features, kind = tfidf_features(data.info["texts"], data.split["train"]), "TF-IDF"
    else:
        x = data.x[:, :context] if data.modality == "video" else data.x
        features, kind = x.flatten(1), "raw pixels"
    if data.multilabel:
        res = multilabel_probe(features, data.y, split, **probe_cfg)
        out.update(test_f1=res["test_f1"], test_subset_acc=res["test_subset_acc"])
    else:
        res = linear_probe(features, data.y, split, **probe_cfg)
        out.update(test_acc=res["test_acc"], val_acc=res["val_acc"])
    out["kind"] = f"logistic regression on {kind}, C chosen on validation"
    out["seconds"] = time.perf_counter() - start
    return out


def run_modality_pretrain(method: str, spec, runs=None, epochs=None, root=None, mirror=None,
                          device="auto", overrides: dict | None = None, checkpoint_dir=None,
                          progress=True, echo=print, embeddings: dict | None = None,
                          checkpoint_seconds=None) -> dict:
    """Run the protocol above for ``method`` on the image, video or text set ``spec``."""
    method_cls = get_method(method)
    if spec.task not in method_cls.modalities:
        raise ValueError(f"{method} trains on {', '.join(method_cls.modalities)} inputs, not "
                         f"{spec.task} ({spec.name}); methods for {spec.task}: "
                         f"simclr, byol, swav, mae")
    config = method_config(method, spec.name, modality=spec.task)
    base_type = config["model"].get("encoder", {}).get("type")
    config = deep_update(config, overrides or {})
    new_encoder = ((overrides or {}).get("model") or {}).get("encoder") or {}
    if new_encoder.get("type", base_type) != base_type:  # a ViT's settings mean nothing to a CNN
        config["model"]["encoder"] = dict(new_encoder)
    protocol = config["protocol"]
    data = load_dataset(spec.name, root=root, mirror=mirror,
                        **(config["data"].get("options") or {}))
    split = split_of(data)
    run_ids = resolve_runs(runs, protocol.get("runs", 3))
    override_epochs(config, epochs)
    protocol.update(task=data.modality, runs=len(run_ids), split="fixed (dataset's own)")
    if run_ids != list(range(len(run_ids))):
        protocol["run_ids"] = run_ids
    probe_cfg = dict(protocol.get("probe") or {})
    context = protocol.get("context") if data.modality == "video" else None
    if data.modality == "video" and not context:
        raise ValueError("video protocols need protocol.context, the frames the encoder sees")
    dev = resolve_device(device)
    in_channels, enc = encoder_config(data, config)
    config["model"]["encoder"] = enc
    batch_size = config["data"].get("batch_size", 256)
    train_x = data.x[data.split["train"]]
    eval_x = data.x[:, :context] if context else data.x
    echo(f"{method} on {spec.name}: {data!r}, runs={len(run_ids)}, epochs="
         f"{config['train'].get('epochs')}, batch_size={batch_size}, device={dev}"
         + ("" if config.get("tuned") else " (no tuned config for this dataset: defaults)"))
    reference = baselines(data, split, probe_cfg, context)
    echo(f"  baseline ({reference['kind']}): " + ", ".join(
        f"{k} {100 * v:.2f}" for k, v in reference.items() if k.startswith("test_")))
    results, seconds_total, epochs_run = [], 0.0, 0
    key = run_key(config)
    for run in pending_runs(run_ids, checkpoint_dir, key, results, embeddings, echo):
        seed_everything(run)
        model = build_method(method, in_channels, **config["model"]).to(dev)
        # long clips: one random window of `context` frames per clip and batch
        transform = TemporalCrop(context) if context and data.x.size(1) > context else None
        batches = TensorBatches(train_x, batch_size, seed=run, transform=transform)
        trainer, seconds, new_epochs = _train_run(model, batches, config, run, checkpoint_dir,
                                                  progress, dev, checkpoint_seconds)
        seconds_total, epochs_run = seconds_total + seconds, epochs_run + new_epochs
        z = embed_all(model, eval_x, dev)
        if embeddings is not None:
            embeddings.update(z=z, y=data.y if not data.multilabel else data.y.argmax(1))
        result = probe_run(model, data, z, split, probe_cfg, context, dev)
        result.update({f"test_baseline_{k[5:]}": v for k, v in reference.items()
                       if k.startswith("test_")})
        result.update(run=run, seed=run, **training_summary(trainer))
        keep_result(checkpoint_dir, run, key, result)
        results.append(result)
        echo("  run {}: {} ({} epochs)".format(run, ", ".join(
            f"{k} {100 * v:.2f}" if "mse" not in k else f"{k} {v:.5f}"
            for k, v in result.items() if k.startswith("test_")), result["epochs"]))
    metrics = ((("f1", "probe micro-F1"), ("subset_acc", "exact digit set"))
               if data.multilabel else (("acc", "linear probe"), ("knn_acc", "kNN")))
    if context:
        metrics += (("mse", "next-frame MSE x100"), ("copy_last_mse", "copy-last-frame MSE x100"))
    record = _record(method, spec, protocol["split"], len(run_ids), results, seconds_total,
                     epochs_run, config, dev, echo, metrics=metrics,
                     probe={"kind": "logistic regression on frozen embeddings (C chosen on "
                                    "validation), kNN (k chosen on validation)"
                                    + ("; next frame: last frame + ridge head on the "
                                       "embedding, alpha chosen on validation" if context
                                       else ""), **probe_cfg})
    record["baseline"] = reference
    record["modality"] = data.modality
    record["data_source"] = data.info.get("source")
    return record


def probe_run(model, data, z, split, probe_cfg, context, device) -> dict:
    """The probes of one run on frozen embeddings ``z``."""
    out = {}
    if data.multilabel:
        res = multilabel_probe(z, data.y, split, **probe_cfg)
        out.update(test_f1=res["test_f1"], val_f1=res["val_f1"],
                   test_subset_acc=res["test_subset_acc"], C=res["C"])
    else:
        res = linear_probe(z, data.y, split, **probe_cfg)
        knn = knn_probe(z, data.y, split)
        out.update(test_acc=res["test_acc"], val_acc=res["val_acc"], C=res["C"],
                   test_knn_acc=knn["test_acc"], val_knn_acc=knn["val_acc"], k=knn["k"])
    if context:
        nf = next_frame_probe(lambda c: embed_all(model, c, device), data.x, split, context)
        out.update(test_mse=nf["test_mse"], val_mse=nf["val_mse"],
                   test_copy_last_mse=nf["test_copy_last_mse"], ridge_alpha=nf["alpha"])
    return out
