"""Multi-label linear probe: which of K labels are present (the digits in a clip)."""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from ._common import as_numpy, l2_normalize
from .linear import DEFAULT_CS


def top_k_sets(scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per row, the ``counts[i]`` labels with the highest scores, as a bool matrix."""
    ranks = np.argsort(np.argsort(-scores, axis=1, kind="stable"), axis=1)
    return ranks < counts[:, None]


def _scores(pred: np.ndarray, truth: np.ndarray) -> dict:
    tp = float((pred & truth).sum())
    f1 = 2 * tp / max(float(pred.sum() + truth.sum()), 1.0)
    return {"f1": f1, "subset_acc": float((pred == truth).all(1).mean())}


def multilabel_probe(z, Y, split, Cs=DEFAULT_CS, normalize: bool = True,
                     max_iter: int = 1000) -> dict:
    """One logistic regression per label on frozen embeddings (one-vs-rest). Given how many
    labels an item has, the probe names that many: its highest-scoring labels (a 0.5 threshold
    would predict nothing for labels present in a fifth of the items). The inverse L2 strength
    is chosen on the validation micro-F1; the test split chooses nothing.

    Args:
        z: embeddings ``[N, d]``; Y: multi-hot labels ``[N, K]``; split: a ``Split``.

    Returns:
        ``{'val_f1', 'test_f1', 'test_subset_acc', 'C'}``: micro-F1 over all (item, label)
        pairs, and the fraction of items whose whole label set is right.
    """
    z, Y = as_numpy(z).astype(np.float64), as_numpy(Y) > 0.5
    if z.ndim != 2 or Y.ndim != 2 or len(z) != len(Y):
        raise ValueError(f"expected z [N, d] and Y [N, K] with the same N, got {z.shape} and "
                         f"{Y.shape}")
    if normalize:
        z = l2_normalize(z)
    tr, va, te = (as_numpy(split.train), as_numpy(split.val), as_numpy(split.test))
    if not len(va):
        raise ValueError("multilabel_probe needs validation items to choose C")
    constant = Y[tr].all(0) | ~Y[tr].any(0)
    if constant.any():
        raise ValueError(f"labels {np.nonzero(constant)[0].tolist()} are always or never present "
                         f"in the training part: nothing to learn for them")
    best = None
    for C in sorted(Cs):
        clf = OneVsRestClassifier(LogisticRegression(C=C, max_iter=max_iter))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(z[tr], Y[tr])
        val = _scores(top_k_sets(clf.decision_function(z[va]), Y[va].sum(1)), Y[va])
        if best is None or val["f1"] > best[0]["f1"]:
            best = (val, C, top_k_sets(clf.decision_function(z[te]), Y[te].sum(1)))
    val, C, pred = best
    test = _scores(pred, Y[te])
    return {"val_f1": val["f1"], "test_f1": test["f1"], "test_subset_acc": test["subset_acc"],
            "C": C}
