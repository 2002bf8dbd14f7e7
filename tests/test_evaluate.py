import numpy as np
import pytest
import torch

from graphssl.data import Split, random_split
from graphssl.evaluate import cluster, clustering_accuracy, knn_probe, linear_probe


from conftest import blobs


def test_linear_probe_separable():
    z, y = blobs()
    out = linear_probe(z, y, random_split(len(y), 0))
    assert out["test_acc"] > 0.99 and out["C"] > 0


def test_linear_probe_chooses_C_on_validation_only():
    z, y = blobs(spread=3.0)
    split = random_split(len(y), 1)
    out = linear_probe(z, y, split)
    # scrambling the test labels changes the test accuracy but never the chosen C
    y2 = y.clone()
    y2[split.test] = y2[split.test][torch.randperm(len(split.test))]
    assert linear_probe(z, y2, split)["C"] == out["C"]


def test_probe_input_checks():
    z, y = blobs()
    with pytest.raises(ValueError, match="600 embeddings but 10 labels"):
        linear_probe(z, y[:10], random_split(600, 0))
    z[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        linear_probe(z, y, random_split(600, 0))


def test_knn_probe():
    z, y = blobs()
    out = knn_probe(z, y, random_split(len(y), 0))
    assert out["test_acc"] > 0.99 and out["k"] in (1, 5, 10, 20, 50)


def test_clustering_accuracy_is_permutation_invariant():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert clustering_accuracy(y, np.array([2, 2, 0, 0, 1, 1])) == 1.0
    assert clustering_accuracy(y, np.array([0, 0, 0, 0, 1, 1])) == pytest.approx(4 / 6)


def test_cluster_metrics():
    z, y = blobs()
    out = cluster(z, y)
    assert out == pytest.approx({"acc": 1.0, "nmi": 1.0, "ari": 1.0})
    with pytest.raises(ValueError, match="n_clusters"):
        cluster(z, y, n_clusters=601)


def test_split_checks():
    with pytest.raises(ValueError, match="LongTensor"):
        Split(torch.tensor([0.0]), torch.tensor([1]), torch.tensor([2]))
