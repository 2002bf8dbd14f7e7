"""Transfer by fine-tuning: a (pretrained) encoder plus a linear head trained end to end on a
labelled graph-property task, scored at the last epoch (Hu et al., ICLR 2020, protocol)."""
from __future__ import annotations

import copy
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.loader import DataLoader

from ..checks import check_number, check_positive, check_positive_int
from ..encoders import Readout, encode
from ..train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

TASK_TYPES = ("binary classification", "regression")
#: the clock of ``checkpoint_seconds`` (a name of its own, so that tests can drive it)
_now = time.monotonic


class GraphPredictor(nn.Module):
    """``encoder`` -> dropout on the node embeddings -> per-graph readout -> linear head.

    Shapes: a ``Batch`` of ``G`` graphs -> ``[G, num_tasks]`` (logits for classification).
    """

    def __init__(self, encoder: nn.Module, embedding_dim: int, num_tasks: int,
                 readout: str = "mean", dropout: float = 0.5):
        super().__init__()
        self.encoder, self.readout, self.dropout = encoder, Readout(readout), dropout
        self.head = nn.Linear(embedding_dim, num_tasks)

    def forward(self, batch):
        z = F.dropout(encode(self.encoder, batch), p=self.dropout, training=self.training)
        return self.head(self.readout(z, batch.batch, batch.num_graphs))


def _check_finetune_args(epochs, lr, batch_size, dropout, task_type):
    """``(epochs, batch_size)`` as ints, once every argument is checked."""
    epochs = check_positive_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    check_positive("lr", lr)
    check_number("dropout", dropout, low=0, high=1, high_open=True)
    if task_type not in TASK_TYPES:
        raise ValueError(f"task_type must be one of {TASK_TYPES}, got {task_type!r}")
    return epochs, batch_size


def _labels(batch, num_tasks):
    y = batch.y.view(-1, num_tasks).float()
    return y, ~torch.isnan(y)  # OGB marks missing labels with NaN


@torch.no_grad()
def predict(model: nn.Module, dataset, batch_size: int = 256, device="cpu"):
    """``(y_true, y_pred)`` as ``[G, num_tasks]`` numpy arrays (eval mode)."""
    model.eval()
    trues, preds = [], []
    num_tasks = model.head.out_features
    for batch in DataLoader(dataset, batch_size=batch_size):
        batch = batch.to(device)
        preds.append(model(batch).cpu())
        trues.append(batch.y.view(-1, num_tasks).float().cpu())
    return torch.cat(trues).numpy(), torch.cat(preds).numpy()


def finetune(encoder: nn.Module, dataset, split: dict, evaluator, num_tasks: int,
             task_type: str = "binary classification", embedding_dim: int | None = None,
             epochs: int = 100, lr: float = 1e-3, batch_size: int = 32, dropout: float = 0.5,
             weight_decay: float = 0.0, readout: str = "mean", seed: int = 0,
             device="cpu", eval_every: int | None = None, checkpoint=None,
             checkpoint_seconds: float = 60.0) -> dict:
    r"""Fine-tune a copy of ``encoder`` with a linear head on ``dataset[split['train']]`` and
    score the **last epoch** on ``split['valid']`` and ``split['test']`` with ``evaluator``
    (e.g. OGB's ``Evaluator('ogbg-molbace')``: ROC-AUC). No epoch is chosen on any split.

    The recipe of Hu et al. ("Strategies for Pre-training Graph Neural Networks", ICLR 2020,
    ``chem/finetune.py``), which GraphMAE follows: Adam, 100 epochs, batch 32, dropout 0.5 on
    every layer's output (here: the encoder's own ``dropout`` attribute, when it has one, and the
    node embeddings before the readout), mean readout, binary cross-entropy over the labelled
    tasks (NaN labels are missing and skipped) or mean squared error for regression.

    ``seed`` seeds torch's global RNG (head initialisation, dropout) and the shuffling, so the
    same seed gives the same run. The caller's ``encoder`` is not modified.

    Args:
        encoder: ``(x, edge_index, [edge_attr, batch]) -> [N, d]``; ``embedding_dim`` is read
            from its ``out_channels`` if omitted.
        dataset: indexable graphs with ``y [1, num_tasks]``; split: ``{'train', 'valid',
            'test'}`` index tensors.
        evaluator: an object with ``eval({'y_true', 'y_pred'}) -> {metric: value}`` and
            ``eval_metric`` (OGB's ``Evaluator``).
        eval_every: also score the valid split every this many epochs (a curve for plots;
            never used to pick an epoch). ``None``: last epoch only.
        checkpoint: a file to resume from and save to. At the end of an epoch at least
            ``checkpoint_seconds`` after the last save, the model, optimiser, both random
            generators and the losses so far are written to it atomically; a call that finds
            it resumes after its last epoch and returns what an uninterrupted call returns.
            A checkpoint of other fine-tuning settings is refused. The caller names the file
            after everything else that decides the result (the encoder's weights) and removes
            it when it no longer needs it.

    Returns:
        ``{'train_loss': [per epoch], 'valid': last-epoch metric, 'test': last-epoch metric,
        'metric': name, 'valid_curve': [(epoch, metric)], 'epochs': epochs}``.
    """
    epochs, batch_size = _check_finetune_args(epochs, lr, batch_size, dropout, task_type)
    check_number("checkpoint_seconds", checkpoint_seconds, low=0)
    for part in ("train", "valid", "test"):
        if part not in split or len(split[part]) == 0:
            raise ValueError(f"split must hold a non-empty {part!r} index, got keys "
                             f"{sorted(split)}")
    dim = embedding_dim or getattr(encoder, "out_channels", None)
    if not isinstance(dim, int):
        raise ValueError("embedding_dim must be given when the encoder has no out_channels")
    torch.manual_seed(seed)
    encoder = copy.deepcopy(encoder)
    if isinstance(getattr(encoder, "dropout", None), float):
        encoder.dropout = float(dropout)
    model = GraphPredictor(encoder, dim, num_tasks, readout, dropout).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    # each graph read (and transformed) once, not once per epoch
    parts = {p: [dataset[int(i)] for i in split[p]] for p in ("train", "valid", "test")}
    loader = DataLoader(parts["train"], batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    metric = evaluator.eval_metric
    losses, curve = [], []
    settings = {"num_tasks": num_tasks, "task_type": task_type, "embedding_dim": dim,
                "lr": float(lr), "batch_size": batch_size, "dropout": float(dropout),
                "weight_decay": float(weight_decay), "readout": readout, "seed": seed,
                "eval_every": eval_every,
                "split": [len(split[p]) for p in ("train", "valid", "test")]}
    first = 1
    if checkpoint is not None and os.path.exists(checkpoint):
        saved = _resume(checkpoint, settings, epochs, model, opt, loader.generator)
        first = saved["epoch"] + 1
        losses, curve = list(saved["losses"]), [tuple(c) for c in saved["curve"]]
    last_save = _now()

    def score(part):
        y_true, y_pred = predict(model, parts[part], device=device)
        return float(evaluator.eval({"y_true": y_true, "y_pred": y_pred})[metric])

    for epoch in range(first, epochs + 1):
        model.train()
        total, count = 0.0, 0
        for batch in loader:
            batch = batch.to(device)
            if batch.num_nodes < 2 and any(isinstance(m, nn.BatchNorm1d)
                                           for m in model.modules()):
                continue  # a last batch of one atom: batch norm cannot normalise one row
            y, labelled = _labels(batch, num_tasks)
            out = model(batch)
            if task_type == "regression":
                loss = F.mse_loss(out[labelled], y[labelled])
            else:
                loss = F.binary_cross_entropy_with_logits(out[labelled], y[labelled])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * batch.num_graphs
            count += batch.num_graphs
        if not np.isfinite(total):
            raise FloatingPointError(f"fine-tuning loss is {total} at epoch {epoch}: lower lr "
                                     f"(now {lr})")
        losses.append(total / max(count, 1))
        if eval_every and epoch % eval_every == 0 and epoch < epochs:
            curve.append((epoch, score("valid")))
        if checkpoint is not None and epoch < epochs and _now() - last_save >= checkpoint_seconds:
            save_checkpoint({"kind": "finetune", "settings": settings, "epoch": epoch,
                             "model": model.state_dict(), "optimizer": opt.state_dict(),
                             "torch_rng": torch.get_rng_state(),
                             "generator": loader.generator.get_state(),
                             "losses": losses, "curve": curve}, checkpoint)
            last_save = _now()
    valid, test = score("valid"), score("test")
    curve.append((epochs, valid))
    return {"train_loss": losses, "valid": valid, "test": test, "metric": metric,
            "valid_curve": curve, "epochs": epochs}


def _resume(path, settings: dict, epochs: int, model, opt, generator) -> dict:
    """Load the fine-tuning checkpoint ``path`` into ``model``, ``opt``, torch's global RNG and
    ``generator``; return what it holds (``epoch``: the last epoch it saw)."""
    saved = load_checkpoint(path)
    if saved.get("kind") != "finetune" or saved.get("settings") != settings:
        raise CheckpointError(
            f"{str(path)!r} is a checkpoint of other fine-tuning settings "
            f"({saved.get('settings')}, this call: {settings}); delete it to start over, or "
            f"pass another checkpoint file")
    if not 1 <= saved["epoch"] < epochs:
        raise CheckpointError(f"{str(path)!r} was saved after epoch {saved['epoch']}, this call "
                              f"fine-tunes for {epochs} epochs; delete it to start over")
    model.load_state_dict(saved["model"])
    opt.load_state_dict(saved["optimizer"])
    torch.set_rng_state(saved["torch_rng"])
    generator.set_state(saved["generator"])
    return saved
