import numpy as np
import pytest
import torch
from sklearn.model_selection import StratifiedKFold

from graphssl.evaluate import svm_cross_validation
from graphssl.evaluate.graph_cls import DEFAULT_CS, _evaluate_fold, _make_svm


from conftest import blobs as _blobs


def blobs(n=200, k=2, d=16, spread=0.3, seed=0):
    return _blobs(n, k, d, spread, seed)


def test_separable_blobs_one_seed():
    z, y = blobs(k=3)
    out = svm_cross_validation(z, y)
    assert out["acc_mean"] == 1.0 and out["acc_std_folds"] == 0.0
    assert out["acc_std_seeds"] == 0.0 and out["per_seed"] == [1.0]


def test_separable_blobs_several_seeds_and_rbf():
    z, y = blobs()
    out = svm_cross_validation(z, y, folds=5, seeds=(0, 1), Cs=(0.1, 1, 10))
    assert out["acc_mean"] == 1.0 and out["per_seed"] == [1.0, 1.0]
    out = svm_cross_validation(z, y, folds=5, Cs=(1, 100), kernel="rbf")
    assert out["acc_mean"] > 0.99


def test_random_labels_near_chance():
    g = torch.Generator().manual_seed(0)
    z, y = torch.randn(300, 16, generator=g), torch.randint(2, (300,), generator=g)
    out = svm_cross_validation(z, y, folds=5, Cs=(0.01, 1))
    assert 0.35 < out["acc_mean"] < 0.65


def test_C_chosen_without_the_test_fold():
    z, y = blobs(spread=4.0)  # overlapping classes: C matters and accuracy is < 1
    z, y = z.numpy().astype(np.float64), y.numpy()
    Cs = (1e-3, 1e-2, 1e-1, 1.0)
    out = svm_cross_validation(z, y, folds=5, seeds=(3,), Cs=Cs, inner_folds=3, kernel="linear")
    assert len(set(out["C"][0])) > 1  # the folds do not all pick the same C
    splits = list(StratifiedKFold(5, shuffle=True, random_state=3).split(z, y))
    svm = _make_svm("linear", True)
    for k, (train, test) in enumerate(splits):
        # the public function reports exactly what the per-fold function gives ...
        acc, C, inner = _evaluate_fold(z, y, train, test, sorted(Cs), 3, 3, svm)
        assert (acc, C, inner) == (out["fold_acc"][0][k], out["C"][0][k], out["inner_acc"][0][k])
        if k >= 2:
            continue
        # ... and flipping, or replacing by an unseen class, the fold's test labels changes its
        # accuracy but never its C nor its inner-CV accuracy (what a nested search selects on)
        y2 = y.copy()
        y2[test] = 1 - y2[test]
        acc2, C2, inner2 = _evaluate_fold(z, y2, train, test, sorted(Cs), 3, 3, svm)
        assert (C2, inner2) == (C, inner) and acc2 == pytest.approx(1 - acc)
        y2[test] = 7
        assert _evaluate_fold(z, y2, train, test, sorted(Cs), 3, 3, svm) == (0.0, C, inner)


def test_inner_accuracy_is_the_chosen_C_s_inner_cv_score():
    from sklearn.model_selection import GridSearchCV

    z, y = blobs(spread=4.0)
    z, y = z.numpy().astype(np.float64), y.numpy()
    out = svm_cross_validation(z, y, folds=5, seeds=(1,), Cs=(0.01, 1.0), kernel="linear")
    train, _ = next(iter(StratifiedKFold(5, shuffle=True, random_state=1).split(z, y)))
    search = GridSearchCV(_make_svm("linear", True), {"svm__C": [0.01, 1.0]}, cv=StratifiedKFold(
        5, shuffle=True, random_state=1)).fit(z[train], y[train])
    assert out["inner_acc"][0][0] == pytest.approx(search.best_score_)
    single = svm_cross_validation(z, y, folds=5, Cs=(1.0,), kernel="linear")
    assert single["inner_acc"] == [[None] * 5]  # no inner CV with one C


def test_linear_svm_solvers_agree_and_bad_dual_is_refused():
    z, y = blobs(spread=1.0)
    auto = svm_cross_validation(z, y, folds=5, kernel="linear")
    for dual in (True, False):
        assert svm_cross_validation(z, y, folds=5, kernel="linear", dual=dual)["acc_mean"] == \
            pytest.approx(auto["acc_mean"], abs=0.02)
    with pytest.raises(ValueError, match="dual must be True, False or 'auto', got 'yes'"):
        svm_cross_validation(z, y, folds=5, kernel="linear", dual="yes")
    with pytest.raises(ValueError, match="kernel='rbf' has none"):
        svm_cross_validation(z, y, folds=5, dual=True)


def test_bookkeeping_and_determinism():
    z, y = blobs(n=120, spread=3.0)
    kw = dict(folds=4, seeds=(0, 1, 2), Cs=(0.01, 1.0), inner_folds=3)
    out = svm_cross_validation(z, y, **kw)
    assert out["folds"] == 4 and out["seeds"] == [0, 1, 2]
    assert np.shape(out["fold_acc"]) == (3, 4) and np.shape(out["C"]) == (3, 4)
    assert all(c in (0.01, 1.0) for row in out["C"] for c in row)
    acc = np.array(out["fold_acc"])
    assert out["per_seed"] == pytest.approx(acc.mean(1).tolist())
    assert out["acc_mean"] == pytest.approx(acc.mean())
    assert out["acc_std_folds"] == pytest.approx(acc.std(1).mean())
    assert out["acc_std_seeds"] == pytest.approx(acc.mean(1).std())
    assert all(isinstance(out[k], float) for k in ("acc_mean", "acc_std_folds", "acc_std_seeds"))
    assert svm_cross_validation(z, y, **kw) == out
    assert svm_cross_validation(z, y, folds=4, seeds=(5,), Cs=(1.0,))["acc_std_seeds"] == 0.0


def test_too_small_classes_raise():
    z, y = blobs(n=60, k=3)
    y[y == 2] = torch.tensor([2, 2, 2] + [0] * 17)  # class 2 keeps 3 graphs
    with pytest.raises(ValueError, match=r"class 2 has only 3 graphs, fewer than folds=10.*"
                                         r"folds <= 3"):
        svm_cross_validation(z, y)
    with pytest.raises(ValueError, match=r"class 2 has only 3 graphs.*inner_folds=5"):
        svm_cross_validation(z, y, folds=3)
    assert svm_cross_validation(z, y, folds=3, Cs=(1.0,))["acc_mean"] > 0.9  # no inner search
    with pytest.raises(ValueError, match="at least 2 classes"):
        svm_cross_validation(z, torch.zeros(60, dtype=torch.long))


def test_input_checks():
    z, y = blobs(n=60)
    with pytest.raises(ValueError, match="60 embeddings but 10 labels"):
        svm_cross_validation(z, y[:10])
    with pytest.raises(ValueError, match="2-D"):
        svm_cross_validation(z[0], y)
    z2 = z.clone()
    z2[3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        svm_cross_validation(z2, y)
    for bad, match in [(dict(folds=1), "folds must be"), (dict(inner_folds=1), "inner_folds"),
                       (dict(kernel="poly"), "kernel must be one of"),
                       (dict(Cs=(1.0, 0.0)), "Cs must be"), (dict(Cs=()), "Cs must be"),
                       (dict(seeds=()), "seeds must be"), (dict(seeds=0), r"seeds=\(0,\)")]:
        with pytest.raises(ValueError, match=match):
            svm_cross_validation(z, y, **bad)
    assert DEFAULT_CS == (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)


def test_graph_transforms_features_then_one_self_loop_per_node():
    from torch_geometric.data import Data

    from graphssl.bench.pretrain import graph_transforms

    # a path 0-1-2 with a self-loop on 2, no node features (IMDB-like)
    edges = torch.tensor([[0, 1, 1, 2, 2], [1, 0, 2, 1, 2]])
    graphs = [Data(edge_index=edges, num_nodes=3, y=torch.tensor([0]))]
    config = {"max_degree": 4, "self_loops": True}
    out = graph_transforms(graphs, config)(graphs[0].clone())
    loops = out.edge_index[0] == out.edge_index[1]
    assert sorted(out.edge_index[0][loops].tolist()) == [0, 1, 2]  # one each, 2's not doubled
    assert out.edge_index.size(1) == 4 + 3
    # the degree one-hot is counted on the input graph (2's loop counts), not after the loops
    assert out.x.argmax(1).tolist() == [1, 2, 2]
    assert config["features"] == "degree one-hot, capped at 4"
    assert graph_transforms(graphs, {"max_degree": 4})(graphs[0].clone()).edge_index.size(1) == 5
    with_x = [Data(x=torch.ones(3, 2), edge_index=edges, num_nodes=3)]
    assert graph_transforms(with_x, {}) is None  # nothing to do
    with pytest.raises(ValueError, match="data.self_loops must be true or false, got 'yes'"):
        graph_transforms(with_x, {"self_loops": "yes"})
