"""Figures of benchmark results: training-loss curves, t-SNE maps of embeddings, and our numbers
next to the published ones.

Every function draws on a stand-alone :class:`matplotlib.figure.Figure` (no ``pyplot``, so no
global state or interactive backend is touched), writes a PNG atomically (a temporary file in
the target folder, then :func:`os.replace`, so a reader never sees a half-written image) and
returns the path it wrote. Matplotlib is an optional dependency: ``pip install graphssl[plot]``.

Example::

    from graphssl.bench.plots import plot_loss_curves
    plot_loss_curves(records, "figures/loss.png", title="GRACE on Cora")
"""
from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ..checks import check_int, check_non_negative

__all__ = ["plot_loss_curves", "plot_embedding_tsne", "plot_ours_vs_published", "EmbeddingPlot"]

_LINESTYLES = ("-", "--", ":", "-.")


def _figure(width: float, height: float):
    """A new pyplot-free figure; a clear ImportError where matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("graphssl.bench.plots needs matplotlib: pip install graphssl[plot] "
                          "(or pip install matplotlib)") from err
    return Figure(figsize=(width, height), layout="constrained")


def _colours(n: int):
    """``n`` distinct colours: tab10 / tab20 where they suffice, else samples of a colormap."""
    from matplotlib import colormaps
    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [colormaps["tab20"](i) for i in range(n)]
    cmap = colormaps["turbo"]
    return [cmap(i / max(n - 1, 1)) for i in range(n)]


def _save(fig, path) -> Path:
    """Write ``fig`` as a PNG to ``path`` atomically and return ``path`` as a :class:`Path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            fig.savefig(handle, format="png", dpi=120)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would make the figure private
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _curve(record, i: int):
    """The record's loss curve as a float array, or None when it has none."""
    if not isinstance(record, Mapping):
        raise ValueError(f"records[{i}] must be a dict (a result record), got "
                         f"{type(record).__name__}: {record!r:.80}")
    curve = record.get("loss_curve")
    if curve is None:
        return None
    try:
        values = np.asarray(curve, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as err:
        raise ValueError(f"records[{i}]['loss_curve'] must be a list of numbers, got "
                         f"{curve!r:.80}") from err
    return values if values.size else None


def plot_loss_curves(records: Sequence[Mapping], path, title: str | None = None) -> Path:
    """Plot the per-epoch training loss of each record and write it as a PNG.

    One line per record, labelled ``'method / dataset / seed s'``, with x the epoch (1-based;
    epochs 1, 1 + k, ... for a record with ``loss_curve_every: k``) and y the loss. Records of
    the same method and dataset share a colour (seeds differ by line style). The y axis is
    logarithmic only when every finite loss is positive and they span more than a factor of
    100. Records whose ``loss_curve`` is missing or empty are skipped.

    Args:
        records: result records (dicts with ``method``, ``dataset``, ``seed`` and
            ``loss_curve``, a list of per-epoch losses).
        path: where to write the PNG (its folder is created if needed).
        title: the figure's title (default ``'Training loss'``).

    Returns:
        ``path`` as a :class:`pathlib.Path`.

    Raises:
        ValueError: no record has a loss curve, or a record / curve is malformed.

    Example::

        plot_loss_curves([{'method': 'grace', 'dataset': 'Cora', 'seed': 0,
                           'loss_curve': [5.1, 4.2, 3.9]}], 'loss.png')
    """
    if isinstance(records, Mapping) or not isinstance(records, Sequence):
        raise ValueError(f"records must be a list of result records, got "
                         f"{type(records).__name__}")
    curves = []
    for i, record in enumerate(records):
        values = _curve(record, i)
        if values is not None:
            curves.append((record, values))
    if not curves:
        raise ValueError(f"none of the {len(records)} records has a loss curve (field "
                         f"'loss_curve' missing or empty): nothing to plot")

    groups: dict[tuple, list] = {}
    for record, values in curves:
        key = (str(record.get("method", "?")), str(record.get("dataset", "?")))
        groups.setdefault(key, []).append((record, values))
    colours = _colours(len(groups))

    fig = _figure(8, 5)
    ax = fig.add_subplot()
    for colour, ((method, dataset), members) in zip(colours, groups.items()):
        for j, (record, values) in enumerate(members):
            every = record.get("loss_curve_every", 1)  # a long run keeps every k-th epoch
            ax.plot(1 + every * np.arange(len(values)), values, color=colour,
                    linestyle=_LINESTYLES[j % len(_LINESTYLES)], linewidth=1.4,
                    marker="o" if len(values) == 1 else None,
                    label=f"{method} / {dataset} / seed {record.get('seed', '?')}")

    finite = np.concatenate([values[np.isfinite(values)] for _, values in curves])
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 100:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title(title if title is not None else "Training loss")
    ax.grid(True, alpha=0.3)
    fig.legend(loc="outside right upper", fontsize="small", ncol=1 if len(curves) <= 20 else 2)
    return _save(fig, path)


class EmbeddingPlot(NamedTuple):
    """What :func:`plot_embedding_tsne` returns."""
    path: Path             #: the PNG written
    coords: np.ndarray     #: [M, 2] float64 t-SNE coordinates of the points drawn
    index: np.ndarray      #: [M] int64 rows of ``z`` / ``y`` drawn (all of them, or the subset)


def _as_array(value, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except Exception as err:
        raise ValueError(f"{name} must be a tensor or array, got {type(value).__name__}") from err


def plot_embedding_tsne(z, y, path, seed: int = 0, title: str | None = None,
                        max_points: int = 3000) -> EmbeddingPlot:
    """Map embeddings to 2-D with t-SNE, draw them coloured by label, and write a PNG.

    t-SNE is :class:`sklearn.manifold.TSNE` with ``init='pca'``, ``random_state=seed`` and
    perplexity ``min(30, (N - 1) / 3)``. Above ``max_points`` rows, a random subset of
    ``max_points`` rows (drawn with ``seed``; not stratified) is mapped. The result is the same
    for the same inputs and seed. One-dimensional embeddings get a zero column (PCA
    initialisation needs two).

    Args:
        z: embeddings, a tensor or array of shape [N, d] (N >= 2, finite values).
        y: integer labels, shape [N] (or [N, 1]); each label gets its own colour.
        path: where to write the PNG (its folder is created if needed).
        seed: seed of the subsample and of t-SNE.
        title: the figure's title (default ``'t-SNE of embeddings (M points)'``).
        max_points: the most points mapped (>= 2).

    Returns:
        :class:`EmbeddingPlot` ``(path, coords, index)``: the PNG's path, the [M, 2] t-SNE
        coordinates, and the [M] rows of ``z`` they belong to (sorted), M = min(N, max_points).

    Raises:
        ValueError: ``z`` is not 2-D or not finite, ``y`` does not have one integer label per
            row of ``z``, or ``max_points`` < 2.

    Example::

        path, coords, index = plot_embedding_tsne(model.embed(data), data.y, 'tsne.png')
    """
    from sklearn.manifold import TSNE

    z = _as_array(z, "z")
    y = _as_array(y, "y")
    if z.ndim != 2:
        raise ValueError(f"z must be 2-D [num_points, dim], got shape {tuple(z.shape)}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D [num_points], got shape {tuple(y.shape)}")
    if len(y) != len(z):
        raise ValueError(f"z and y must have the same number of rows: z has shape "
                         f"{tuple(z.shape)}, y has shape {tuple(y.shape)}")
    if len(z) < 2 or z.shape[1] < 1:
        raise ValueError(f"z must have at least 2 rows and 1 column for t-SNE, got shape "
                         f"{tuple(z.shape)}")
    max_points = check_int("max_points", max_points, 2)
    if not np.issubdtype(z.dtype, np.number) or not np.isfinite(z).all():
        raise ValueError("z must hold finite numbers (it contains NaN, inf or non-numbers): the "
                         "encoder diverged or its input has NaN features")
    if y.dtype.kind not in "iub":
        if y.dtype.kind != "f" or not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise ValueError(f"y must hold integer labels, got dtype {y.dtype} "
                             f"(first values {y[:5].tolist()})")
    y = y.astype(np.int64)

    n = len(z)
    if n > max_points:
        rng = np.random.default_rng(seed)
        index = np.sort(rng.choice(n, size=int(max_points), replace=False)).astype(np.int64)
    else:
        index = np.arange(n, dtype=np.int64)
    points = z[index].astype(np.float64)
    labels = y[index]
    if points.shape[1] == 1:
        points = np.hstack([points, np.zeros_like(points)])
    m = len(points)
    tsne = TSNE(n_components=2, init="pca", random_state=seed,
                perplexity=min(30.0, (m - 1) / 3))
    coords = np.asarray(tsne.fit_transform(points), dtype=np.float64)

    classes, codes = np.unique(labels, return_inverse=True)
    fig = _figure(7, 6)
    ax = fig.add_subplot()
    size = float(np.clip(3000 / m, 2, 40))
    if len(classes) <= 20:
        for colour, (k, label) in zip(_colours(len(classes)), enumerate(classes)):
            mask = codes == k
            ax.scatter(coords[mask, 0], coords[mask, 1], s=size, color=colour,
                       label=str(label), alpha=0.8, linewidths=0)
        ax.legend(title="label", fontsize="small", markerscale=max(1.0, 20 / size) ** 0.5,
                  loc="center left", bbox_to_anchor=(1.0, 0.5))
    else:  # too many classes for a legend: a colour bar
        art = ax.scatter(coords[:, 0], coords[:, 1], s=size, c=labels, cmap="turbo",
                         alpha=0.8, linewidths=0)
        fig.colorbar(art, ax=ax, label="label")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title if title is not None else f"t-SNE of embeddings ({m} points)")
    return EmbeddingPlot(_save(fig, path), coords, index)


def _percent(row: Mapping, key: str, i: int, required: bool):
    value = row.get(key)
    if value is None:
        if required:
            raise ValueError(f"rows[{i}] needs a number under {key!r}, got None / missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"rows[{i}][{key!r}] must be a number (percent), got {value!r}")
    value = float(value)
    if math.isnan(value) and not required:
        return None
    if not math.isfinite(value):
        raise ValueError(f"rows[{i}][{key!r}] must be finite, got {value!r}")
    return value


def plot_ours_vs_published(rows: Sequence[Mapping], path, title: str | None = None) -> Path:
    """Draw our results next to the published ones as grouped horizontal bars; write a PNG.

    Each row is one pair of bars, top to bottom in the order given: ours (with the standard
    deviation as an error bar) and, where known, the published number (a hatched grey bar). The
    values are printed at the bar ends. Rows without a published number show ours only.

    Args:
        rows: dicts ``{'label': 'grace / Cora / test_acc', 'ours': mean in percent,
            'ours_std': std in percent (optional), 'published': percent or None}``.
        path: where to write the PNG (its folder is created if needed).
        title: the figure's title (default ``'Ours vs published'``).

    Returns:
        ``path`` as a :class:`pathlib.Path`.

    Raises:
        ValueError: ``rows`` is empty, or a row lacks a label / a number for ``ours``, or has a
            non-numeric, infinite or negative-std value.

    Example::

        plot_ours_vs_published([{'label': 'grace / Cora / test_acc', 'ours': 83.1,
                                 'ours_std': 0.4, 'published': 83.3}], 'compare.png')
    """
    if isinstance(rows, Mapping) or not isinstance(rows, Sequence) or not rows:
        raise ValueError(f"rows must be a non-empty list of dicts, got {rows!r:.80}")
    labels, ours, stds, published = [], [], [], []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ValueError(f"rows[{i}] must be a dict, got {type(row).__name__}: {row!r:.80}")
        if row.get("label") is None:
            raise ValueError(f"rows[{i}] needs a 'label', got {dict(row)!r:.120}")
        labels.append(str(row["label"]))
        ours.append(_percent(row, "ours", i, required=True))
        std = _percent(row, "ours_std", i, required=False)
        if std is not None:
            check_non_negative(f"rows[{i}]['ours_std']", std)
        stds.append(std or 0.0)
        published.append(_percent(row, "published", i, required=False))

    n = len(rows)
    height = 0.38
    pos = np.arange(n, dtype=np.float64)
    has_pub = np.array([p is not None for p in published])
    fig = _figure(9, max(2.5, 0.55 * n + 1.4))
    ax = fig.add_subplot()
    ax.barh(pos - height / 2, ours, height=height, xerr=stds, color="tab:blue",
            error_kw={"capsize": 3, "elinewidth": 1}, label="ours (mean ± std)")
    if has_pub.any():
        ax.barh(pos[has_pub] + height / 2, [p for p in published if p is not None],
                height=height, color="0.75", edgecolor="0.4", hatch="//", label="published")
    top = max([o + s for o, s in zip(ours, stds)] + [p for p in published if p is not None])
    low = min([o - s for o, s in zip(ours, stds)] + [p for p in published if p is not None])
    right = 100.0 if top <= 100 else top * 1.08
    left = min(0.0, low * 1.08)
    pad = 0.01 * (right - left)
    for y, o, s in zip(pos, ours, stds):
        text = f"{o:.1f} ± {s:.1f}" if s else f"{o:.1f}"
        ax.text(max(o + s, 0) + pad, y - height / 2, text, va="center", fontsize="x-small")
    for y, p in zip(pos, published):
        if p is not None:
            ax.text(max(p, 0) + pad, y + height / 2, f"{p:.1f}", va="center", fontsize="x-small")
    ax.set_xlim(left, right + 12 * pad)  # room for the value labels
    ax.set_yticks(pos, labels)
    ax.invert_yaxis()  # first row on top
    ax.set_xlabel("score (%)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(title if title is not None else "Ours vs published")
    fig.legend(loc="outside lower center", ncol=2, fontsize="small")
    return _save(fig, path)
