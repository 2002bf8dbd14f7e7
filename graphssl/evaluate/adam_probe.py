"""Linear probe trained by gradient descent: logistic regression fitted full-batch with Adam,
kept at the epoch chosen on validation (GraphMAE's probe) or at the last epoch and averaged over
repeated fits (MVGRL's)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..checks import check_non_negative, check_positive, check_positive_int
from ._common import as_numpy, check_embeddings, l2_normalize


SELECTIONS = ("validation", "last")


def adam_linear_probe(z, y, split, lr: float = 0.01, weight_decay: float = 1e-4,
                      epochs: int = 300, normalize: bool = False, seed: int = 0,
                      select: str = "validation", repeats: int = 1) -> dict:
    """Fit ``nn.Linear(d, num_classes)`` with cross-entropy on ``split.train`` by full-batch
    Adam (``lr``, L2 ``weight_decay`` added to the gradient, as ``torch.optim.Adam``) for
    ``epochs`` steps and score it on ``split.test``. The test split chooses nothing: with
    ``select='validation'`` the validation nodes are scored after each step and the weights of
    the step with the best validation accuracy (the latest one on ties) are kept; with
    ``select='last'`` the last step's weights are kept.

    ``select='validation'`` is the probe of GraphMAE's
    ``linear_probing_for_transductive_node_classiifcation`` (Hou et al., KDD 2022; the defaults
    are their Cora ``lr_f``, ``weight_decay_f``, ``max_epoch_f``). ``select='last',
    repeats=50`` is MVGRL's (Hassani & Khasahmadi, ICML 2020, ``node/train.py``: 50 fits of
    300 epochs, the mean test accuracy). Embeddings are used raw unless ``normalize``. Fit
    ``r`` starts from ``nn.Linear``'s initialisation drawn from a generator seeded with
    ``seed + r``, so the probe is deterministic and leaves the global RNG alone.
    :func:`~graphssl.evaluate.linear_probe` is the library default (L2 strength chosen on
    validation, solved to convergence); this one follows papers that train their probe with
    Adam.

    Args:
        z: embeddings ``[N, d]``; y: labels ``[N]``; split: a :class:`~graphssl.data.Split`
            (with validation nodes for ``select='validation'``).
        normalize: L2-normalise embedding rows first.
        select: ``'validation'`` or ``'last'``.
        repeats: independent fits (``>= 1``); the accuracies are their means.

    Returns:
        ``{'train_acc', 'val_acc', 'test_acc', 'best_epoch'}``: ``best_epoch`` is the kept
        step (from 1; ``epochs`` with ``select='last'``), a list of one per fit when
        ``repeats > 1`` and ``select='validation'``; ``val_acc`` is NaN for a split without
        validation nodes.

    Example:
        >>> adam_linear_probe(z, data.y, get_split(dataset, "public"), weight_decay=1e-4)
        {'train_acc': 1.0, 'val_acc': 0.82, 'test_acc': 0.84, 'best_epoch': 211}
    """
    check_positive("lr", lr)
    check_non_negative("weight_decay", weight_decay)
    check_positive_int("epochs", epochs)
    check_positive_int("repeats", repeats)
    if select not in SELECTIONS:
        raise ValueError(f"select must be one of {SELECTIONS}, got {select!r}")
    z, y = check_embeddings(z, y)
    if normalize:
        z = l2_normalize(z)
    tr, va, te = (torch.as_tensor(as_numpy(s), dtype=torch.long)
                  for s in (split.train, split.val, split.test))
    if len(va) == 0 and select == "validation":
        raise ValueError("the split has no validation nodes to choose the epoch on; use "
                         "select='last', or a split with validation nodes")
    classes, labels = np.unique(y, return_inverse=True)
    x = torch.as_tensor(z, dtype=torch.float32)
    target = torch.as_tensor(labels, dtype=torch.long)
    fits = [_fit(x, target, tr, va, len(classes), lr, weight_decay, epochs, select,
                 int(seed) + r) for r in range(repeats)]
    scores = {"train_acc": [], "val_acc": [], "test_acc": []}
    for pred, _ in fits:
        for part, idx in (("train_acc", tr), ("val_acc", va), ("test_acc", te)):
            scores[part].append(float((pred[idx] == target[idx]).float().mean())
                                if len(idx) else float("nan"))
    out = {k: float(np.mean(v)) for k, v in scores.items()}
    epochs_kept = [e for _, e in fits]
    out["best_epoch"] = epochs_kept[0] if repeats == 1 or select == "last" else epochs_kept
    return out


def _fit(x, target, tr, va, num_classes, lr, weight_decay, epochs, select, seed):
    """One probe fit: ``(predictions [N], kept step)``."""
    generator = torch.Generator().manual_seed(seed)
    # nn.Linear's own initialisation (kaiming-uniform weight, uniform bias), from `generator`
    bound = 1.0 / np.sqrt(x.size(1))
    weight = (torch.rand(num_classes, x.size(1), generator=generator) * 2 - 1) * bound
    bias = (torch.rand(num_classes, generator=generator) * 2 - 1) * bound
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    optimizer = torch.optim.Adam([weight, bias], lr=lr, weight_decay=weight_decay)
    best = (-1.0, 0, None)
    for epoch in range(1, epochs + 1):
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(F.linear(x[tr], weight, bias), target[tr]).backward()
        optimizer.step()
        if select == "last":
            continue
        with torch.no_grad():
            val_acc = float((F.linear(x[va], weight, bias).argmax(1) == target[va])
                            .float().mean())
            if val_acc >= best[0]:
                best = (val_acc, epoch, (weight.detach().clone(), bias.detach().clone()))
    if select == "last":
        epoch, (w, b) = epochs, (weight.detach(), bias.detach())
    else:
        _, epoch, (w, b) = best
    with torch.no_grad():
        return F.linear(x, w, b).argmax(1), epoch
