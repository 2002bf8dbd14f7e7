"""Linear probe: logistic regression on frozen embeddings, L2 strength chosen on validation."""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize as normalize_rows

from ._common import as_numpy, check_embeddings, l2_normalize

# half-decade grid from 1e-3 to 1e4 (15 values)
DEFAULT_CS = tuple(float(f"{c:.4g}") for c in np.logspace(-3, 4, 15))


def linear_probe(z, y, split, Cs=DEFAULT_CS, normalize: bool = True, max_iter: int = 1000) -> dict:
    """Fit a multinomial logistic regression on ``split.train`` for each inverse L2 strength in
    ``Cs`` (ascending, each fit warm-started from the previous one), keep the one with the best
    validation accuracy (ties: the stronger regularisation), and report its test accuracy. The
    test split chooses nothing.

    Args:
        z: embeddings ``[N, d]`` (or a scipy sparse matrix, e.g. TF-IDF features); y: labels
            ``[N]``; split: a :class:`~graphssl.data.Split`.
        normalize: L2-normalise embedding rows first (as GRACE's evaluation does).

    Returns:
        ``{'train_acc', 'val_acc', 'test_acc', 'C'}``.
    """
    if sparse.issparse(z):  # bag-of-words baselines (TF-IDF): rows are sliced, never densified
        z, y = normalize_rows(z.tocsr()) if normalize else z.tocsr(), as_numpy(y).reshape(-1)
        if z.shape[0] != len(y):
            raise ValueError(f"{z.shape[0]} feature rows but {len(y)} labels")
    else:
        z, y = check_embeddings(z, y)
        if normalize:
            z = l2_normalize(z)
    tr, va, te = (as_numpy(split.train), as_numpy(split.val), as_numpy(split.test))
    if len(va) == 0 and len(Cs) > 1:
        raise ValueError("the split has no validation nodes to choose C on; pass a single C "
                         "(Cs=[1.0]) or a split with validation nodes")
    # one estimator warm-started along the grid (ascending C): each fit starts from the
    # previous, less regularised solution's neighbour, which cuts lbfgs iterations a lot
    clf = LogisticRegression(max_iter=max_iter, warm_start=True)
    best = None
    for C in sorted(Cs):
        clf.set_params(C=C)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(z[tr], y[tr])
        val_acc = float((clf.predict(z[va]) == y[va]).mean()) if len(va) else float("nan")
        if best is None or val_acc > best[0]:
            best = (val_acc, C, clf.predict(z[tr]), clf.predict(z[te]))
    val_acc, C, pred_tr, pred_te = best
    return {"train_acc": float((pred_tr == y[tr]).mean()), "val_acc": val_acc,
            "test_acc": float((pred_te == y[te]).mean()), "C": C}
