"""Clustering evaluation: k-means on embeddings, scored by ACC (Hungarian matching), NMI, ARI."""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from ._common import as_numpy, check_embeddings, l2_normalize


def clustering_accuracy(y_true, y_pred) -> float:
    """Accuracy under the best one-to-one matching of clusters to classes (Hungarian)."""
    y_true, y_pred = as_numpy(y_true).reshape(-1), as_numpy(y_pred).reshape(-1)
    _, t = np.unique(y_true, return_inverse=True)
    _, p = np.unique(y_pred, return_inverse=True)
    size = max(t.max(), p.max()) + 1
    counts = np.zeros((size, size), dtype=np.int64)
    np.add.at(counts, (p, t), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(y_true))


def score_clusters(y, pred) -> dict:
    """``{'acc', 'nmi', 'ari'}`` of predicted cluster ids ``pred`` against classes ``y``."""
    y, pred = as_numpy(y).reshape(-1), as_numpy(pred).reshape(-1)
    if len(y) != len(pred):
        raise ValueError(f"{len(pred)} cluster ids for {len(y)} labels")
    return {"acc": clustering_accuracy(y, pred), "nmi": float(normalized_mutual_info_score(y, pred)),
            "ari": float(adjusted_rand_score(y, pred))}


def cluster(z, y, n_clusters: int | None = None, n_init: int = 10, seed: int = 0,
            normalize: bool = True) -> dict:
    """k-means with ``n_init`` restarts (default ``n_clusters``: the number of classes).

    Returns ``{'acc', 'nmi', 'ari'}``."""
    z, y = check_embeddings(z, y)
    n_clusters = n_clusters or len(np.unique(y))
    if not 1 <= n_clusters <= len(z):
        raise ValueError(f"n_clusters must be in [1, {len(z)}] (the number of samples), got "
                         f"{n_clusters}")
    if normalize:
        z = l2_normalize(z)
    pred = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed).fit_predict(z)
    return score_clusters(y, pred)
