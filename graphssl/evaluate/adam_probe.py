"""Linear probe trained by gradient descent: logistic regression fitted full-batch with Adam,
the epoch chosen on validation (the GraphMAE authors' node-classification probe)."""
from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn.functional as F

from ._common import as_numpy, check_embeddings, l2_normalize


def _positive(name: str, value, integer: bool = False, allow_zero: bool = False):
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool) and (
        value >= 0 if allow_zero else value > 0)
    if not ok:
        what = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"{name} must be {what} {'integer' if integer else 'number'}, "
                         f"got {value!r}")
    return value


def adam_linear_probe(z, y, split, lr: float = 0.01, weight_decay: float = 1e-4,
                      epochs: int = 300, normalize: bool = False, seed: int = 0) -> dict:
    """Fit ``nn.Linear(d, num_classes)`` with cross-entropy on ``split.train`` by full-batch
    Adam (``lr``, L2 ``weight_decay`` added to the gradient, as ``torch.optim.Adam``) for
    ``epochs`` steps; after each step score the validation nodes and keep the weights of the
    step with the best validation accuracy (the latest one on ties); report that step's test
    accuracy. The test split chooses nothing.

    This is the probe of GraphMAE's ``linear_probing_for_transductive_node_classiifcation``
    (Hou et al., KDD 2022; defaults: their Cora ``lr_f``, ``weight_decay_f``, ``max_epoch_f``),
    on the raw embeddings unless ``normalize``. The layer is initialised as ``nn.Linear`` from
    a generator seeded with ``seed``, so the probe is deterministic and leaves the global RNG
    alone. :func:`~graphssl.evaluate.linear_probe` is the library default (L2 strength
    chosen on validation, solved to convergence); this one follows papers that train their
    probe with Adam.

    Args:
        z: embeddings ``[N, d]``; y: labels ``[N]``; split: a :class:`~graphssl.data.Split`
            with validation nodes.
        normalize: L2-normalise embedding rows first.

    Returns:
        ``{'train_acc', 'val_acc', 'test_acc', 'best_epoch'}`` (the chosen step, from 1).

    Example:
        >>> adam_linear_probe(z, data.y, get_split(dataset, "public"), weight_decay=1e-4)
        {'train_acc': 1.0, 'val_acc': 0.82, 'test_acc': 0.84, 'best_epoch': 211}
    """
    _positive("lr", lr)
    _positive("weight_decay", weight_decay, allow_zero=True)
    _positive("epochs", epochs, integer=True)
    z, y = check_embeddings(z, y)
    if normalize:
        z = l2_normalize(z)
    tr, va, te = (torch.as_tensor(as_numpy(s), dtype=torch.long)
                  for s in (split.train, split.val, split.test))
    if len(va) == 0:
        raise ValueError("the split has no validation nodes to choose the epoch on; use "
                         "linear_probe with a single C, or a split with validation nodes")
    classes, labels = np.unique(y, return_inverse=True)
    x = torch.as_tensor(z, dtype=torch.float32)
    target = torch.as_tensor(labels, dtype=torch.long)
    generator = torch.Generator().manual_seed(int(seed))
    # nn.Linear's own initialisation (kaiming-uniform weight, uniform bias), from `generator`
    bound = 1.0 / np.sqrt(x.size(1))
    weight = (torch.rand(len(classes), x.size(1), generator=generator) * 2 - 1) * bound
    bias = (torch.rand(len(classes), generator=generator) * 2 - 1) * bound
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    optimizer = torch.optim.Adam([weight, bias], lr=lr, weight_decay=weight_decay)
    best = (-1.0, 0, None)
    for epoch in range(1, epochs + 1):
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(F.linear(x[tr], weight, bias), target[tr]).backward()
        optimizer.step()
        with torch.no_grad():
            val_acc = float((F.linear(x[va], weight, bias).argmax(1) == target[va])
                            .float().mean())
            if val_acc >= best[0]:
                best = (val_acc, epoch, (weight.detach().clone(), bias.detach().clone()))
    val_acc, epoch, (w, b) = best
    with torch.no_grad():
        pred = F.linear(x, w, b).argmax(1)
    return {"train_acc": float((pred[tr] == target[tr]).float().mean()), "val_acc": val_acc,
            "test_acc": float((pred[te] == target[te]).float().mean()), "best_epoch": epoch}
