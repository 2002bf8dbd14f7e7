"""k-nearest-neighbour probe on frozen embeddings (cosine distance, k chosen on validation)."""
from __future__ import annotations

from sklearn.neighbors import KNeighborsClassifier

from ._common import as_numpy, check_embeddings


def knn_probe(z, y, split, ks=(1, 5, 10, 20, 50), metric: str = "cosine") -> dict:
    """Returns ``{'val_acc', 'test_acc', 'k'}`` for the ``k`` with the best validation accuracy
    (ties: the smaller ``k``)."""
    z, y = check_embeddings(z, y)
    tr, va, te = (as_numpy(split.train), as_numpy(split.val), as_numpy(split.test))
    ks = [k for k in ks if k <= len(tr)] or [1]
    best = None
    for k in ks:
        clf = KNeighborsClassifier(n_neighbors=k, metric=metric).fit(z[tr], y[tr])
        val_acc = float((clf.predict(z[va]) == y[va]).mean()) if len(va) else 0.0
        if best is None or val_acc > best[0]:
            best = (val_acc, k, clf)
    val_acc, k, clf = best
    return {"val_acc": val_acc, "test_acc": float((clf.predict(z[te]) == y[te]).mean()), "k": k}
