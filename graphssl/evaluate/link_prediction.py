"""Link prediction: hold out edges, embed the remaining graph, and rank held-out edges against
as many sampled non-edges by the inner product of their endpoints' embeddings (the protocol of
Kipf & Welling's GAE/VGAE: 85/5/10 edge split, AUC and average precision)."""
from __future__ import annotations

import random
import warnings
from typing import NamedTuple

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from ..checks import check_non_negative_int, check_number
from ._common import as_numpy


class EdgeSplit(NamedTuple):
    """Held-out edges of one split: ``pos_edge_index [2, P]`` (each undirected edge once) and
    ``neg_edge_index [2, P]`` (sampled node pairs that are not edges of the full graph)."""
    pos_edge_index: torch.Tensor
    neg_edge_index: torch.Tensor


class LinkSplit(NamedTuple):
    """What :func:`split_edges` returns (unpacks as ``train_data, val, test``).

    ``train_data``: the graph (all nodes and features) with only the training edges, in both
    directions: train the method and compute embeddings on it. ``val``, ``test``:
    :class:`EdgeSplit` of held-out positives and as many negatives, for
    :func:`link_prediction_scores`.
    """
    train_data: object
    val: EdgeSplit
    test: EdgeSplit


def _cuda_devices(device: torch.device) -> list:
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def split_edges(data, val_ratio: float = 0.05, test_ratio: float = 0.1, seed: int = 0) -> LinkSplit:
    """Split the undirected edges of ``data`` into training, validation and test edges with
    PyG's :class:`~torch_geometric.transforms.RandomLinkSplit` (``is_undirected=True``): a
    fraction ``val_ratio`` (``test_ratio``) of the undirected edges, rounded down, is held out
    for validation (test), each with as many negative pairs sampled among the node pairs that
    are not edges of the full graph. Self-loops are dropped first (they are not links to
    predict); the training graph keeps only the training edges, both directions.

    The split depends only on ``seed``: it runs on a private copy of torch's and Python's RNG
    states, which are left as they were.

    Args:
        data: an undirected graph (``Data`` with ``edge_index`` holding both directions of each
            edge; apply ``torch_geometric.transforms.ToUndirected()`` first otherwise).
        val_ratio, test_ratio: fractions of the undirected edges held out, each in ``[0, 1)``,
            summing to less than 1.
        seed: the split's seed.

    Returns:
        :class:`LinkSplit` ``(train_data, val, test)``.

    Example:
        >>> train_data, val, test = split_edges(data, 0.05, 0.1, seed=0)
        >>> Trainer(epochs=200, lr=0.01).fit(method, train_data)
        >>> link_prediction_scores(method.embed(train_data), *test)
        {'auc': 0.91, 'ap': 0.92}
    """
    import torch_geometric.transforms as T
    from torch_geometric.utils import is_undirected

    val_ratio = check_number("val_ratio", val_ratio, low=0, high=1, high_open=True)
    test_ratio = check_number("test_ratio", test_ratio, low=0, high=1, high_open=True)
    if val_ratio + test_ratio >= 1.0:
        raise ValueError(f"val_ratio + test_ratio must be < 1 to leave training edges, got "
                         f"{val_ratio} + {test_ratio} = {val_ratio + test_ratio}")
    seed = check_non_negative_int("seed", seed)
    edge_index = getattr(data, "edge_index", None)
    if edge_index is None or edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError("data needs an edge_index of shape [2, num_edges]")
    data = T.RemoveSelfLoops()(data.clone())
    if not is_undirected(data.edge_index, num_nodes=data.num_nodes):
        raise ValueError("split_edges expects an undirected graph (each edge in both "
                         "directions); apply torch_geometric.transforms.ToUndirected() first")
    num_edges = int((data.edge_index[0] < data.edge_index[1]).sum())
    num_val, num_test = int(val_ratio * num_edges), int(test_ratio * num_edges)
    num_train = num_edges - num_val - num_test
    problems = []
    if val_ratio > 0 and num_val == 0:
        problems.append(f"val_ratio={val_ratio} gives 0 validation edges")
    if test_ratio > 0 and num_test == 0:
        problems.append(f"test_ratio={test_ratio} gives 0 test edges")
    if num_train < 1:
        problems.append(f"val_ratio={val_ratio} and test_ratio={test_ratio} leave "
                        f"{num_train} training edges")
    if problems:
        raise ValueError(f"the graph has too few edges for the requested ratios: "
                         f"{num_edges} undirected edges (self-loops excluded), and "
                         f"{'; '.join(problems)}. Lower the ratios or use a larger graph.")

    transform = T.RandomLinkSplit(num_val=val_ratio, num_test=test_ratio, is_undirected=True,
                                  split_labels=True, add_negative_train_samples=False,
                                  neg_sampling_ratio=1.0)
    device = edge_index.device
    python_state = random.getstate()  # PyG's negative_sampling draws from Python's random
    try:
        with torch.random.fork_rng(devices=_cuda_devices(device)), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # counted below instead
            torch.manual_seed(seed)
            random.seed(seed)
            train, val, test = transform(data)
    finally:
        random.setstate(python_state)

    def edges(split, label):
        index = getattr(split, f"{label}_edge_label_index", None)
        return index if index is not None else edge_index.new_empty((2, 0))

    out = []
    for name, split in (("validation", val), ("test", test)):
        pos, neg = edges(split, "pos"), edges(split, "neg")
        if neg.size(1) < pos.size(1):
            raise ValueError(f"the graph is too dense to sample {pos.size(1)} {name} negatives "
                             f"(non-edges): only {neg.size(1)} were found")
        out.append(EdgeSplit(pos, neg))
    for key in ("pos_edge_label", "pos_edge_label_index", "neg_edge_label",
                "neg_edge_label_index"):
        if key in train:
            delattr(train, key)
    return LinkSplit(train, *out)


def _check_edges(name: str, edge_index, num_nodes: int) -> np.ndarray:
    e = as_numpy(edge_index)
    if e.ndim != 2 or e.shape[0] != 2:
        raise ValueError(f"{name} must have shape [2, num_edges], got {list(e.shape)}")
    if not np.issubdtype(e.dtype, np.integer):
        raise ValueError(f"{name} must hold integer node ids, got {e.dtype}")
    if e.shape[1] == 0:
        raise ValueError(f"{name} is empty: AUC and AP need at least one positive and one "
                         f"negative pair")
    if e.min() < 0 or e.max() >= num_nodes:
        bad = int(e.min()) if e.min() < 0 else int(e.max())
        raise ValueError(f"{name} refers to node {bad}, but there are {num_nodes} embeddings "
                         f"(valid ids 0..{num_nodes - 1})")
    return e


def link_prediction_scores(z, pos_edge_index, neg_edge_index) -> dict:
    r"""Score held-out edges against non-edges with :math:`\sigma(z_i^\top z_j)` (the GAE
    decoder): ``roc_auc_score`` and ``average_precision_score`` of scikit-learn, positives
    labelled 1 and negatives 0.

    Both metrics depend only on the ranking of the scores; pairs are ranked by the inner product
    itself (the sigmoid is monotone), so large products that the sigmoid would round to exactly
    1.0 do not turn into ties.

    Args:
        z: node embeddings ``[N, d]`` (of the training graph, see :func:`split_edges`).
        pos_edge_index, neg_edge_index: ``[2, P]`` and ``[2, Q]`` node pairs, both non-empty.

    Returns:
        ``{'auc', 'ap'}``.
    """
    z = as_numpy(z)
    if z.ndim != 2:
        raise ValueError(f"embeddings must be 2-D [num_nodes, dim], got shape {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError("embeddings contain NaN or inf: the encoder diverged (lower the learning "
                         "rate) or its input has NaN features")
    z = z.astype(np.float64)
    pos = _check_edges("pos_edge_index", pos_edge_index, len(z))
    neg = _check_edges("neg_edge_index", neg_edge_index, len(z))
    logits = np.concatenate([(z[pos[0]] * z[pos[1]]).sum(1), (z[neg[0]] * z[neg[1]]).sum(1)])
    labels = np.concatenate([np.ones(pos.shape[1]), np.zeros(neg.shape[1])])
    return {"auc": float(roc_auc_score(labels, logits)),
            "ap": float(average_precision_score(labels, logits))}
