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
    preds, kept = _fit(x, target, tr, va, len(classes), lr, weight_decay, epochs, select,
                       [int(seed) + r for r in range(repeats)])
    out = {}  # the mean over fits of each fit's accuracy
    for part, idx in (("train_acc", tr), ("val_acc", va), ("test_acc", te)):
        out[part] = (float((preds[:, idx] == target[idx]).double().mean(1).mean())
                     if len(idx) else float("nan"))
    out["best_epoch"] = kept[0] if repeats == 1 or select == "last" else kept
    return out


def _fit(x, target, tr, va, num_classes, lr, weight_decay, epochs, select, seeds):
    """All fits at once, one per seed: ``(predictions [R, N], kept step of each fit)``.

    The R linear layers are one ``[R * C, d]`` weight, so each step is a single matmul. Each
    fit's loss is the mean cross-entropy over the training nodes and the summed loss's gradient
    for a fit's weights is that fit's own; Adam is elementwise, so every fit follows the steps
    it would take alone (up to float rounding of the wider matmul)."""
    repeats, dim = len(seeds), x.size(1)
    # nn.Linear's own initialisation (kaiming-uniform weight, uniform bias), fit r's from a
    # generator seeded with seeds[r]
    bound = 1.0 / np.sqrt(dim)
    weights, biases = [], []
    for seed in seeds:
        generator = torch.Generator().manual_seed(seed)
        weights.append((torch.rand(num_classes, dim, generator=generator) * 2 - 1) * bound)
        biases.append((torch.rand(num_classes, generator=generator) * 2 - 1) * bound)
    weight = torch.cat(weights).requires_grad_(True)        # [R * C, d]
    bias = torch.cat(biases).requires_grad_(True)           # [R * C]
    optimizer = torch.optim.Adam([weight, bias], lr=lr, weight_decay=weight_decay)

    def logits(rows):                                        # [n, C, R] for cross_entropy
        return F.linear(rows, weight, bias).view(len(rows), repeats, num_classes) \
            .transpose(1, 2)

    x_tr, x_va = x[tr], x[va]
    y_tr = target[tr].unsqueeze(1).expand(-1, repeats)      # [n, R]
    best_acc = torch.full((repeats,), -1.0)
    best_epoch = torch.zeros(repeats, dtype=torch.long)
    best_w, best_b = weight.detach().clone(), bias.detach().clone()
    for epoch in range(1, epochs + 1):
        optimizer.zero_grad(set_to_none=True)
        (F.cross_entropy(logits(x_tr), y_tr, reduction="sum") / len(tr)).backward()
        optimizer.step()
        if select == "last":
            continue
        with torch.no_grad():
            val_acc = (logits(x_va).argmax(1) == target[va].unsqueeze(1)).float().mean(0)
            better = val_acc >= best_acc                     # the latest step on ties
            best_acc = torch.where(better, val_acc, best_acc)
            best_epoch[better] = epoch
            rows = better.repeat_interleave(num_classes)
            best_w[rows], best_b[rows] = weight.detach()[rows], bias.detach()[rows]
    if select == "last":
        w, b, kept = weight.detach(), bias.detach(), [epochs] * repeats
    else:
        w, b, kept = best_w, best_b, best_epoch.tolist()
    with torch.no_grad():  # fit by fit: [N, C] at a time, not [N, R * C]
        out = torch.stack([F.linear(x, w_r, b_r).argmax(1) for w_r, b_r in
                           zip(w.split(num_classes), b.split(num_classes))])  # [R, N]
    return out, kept
