"""Graph classification: SVM on frozen graph embeddings, 10-fold stratified cross-validation.

The protocol of InfoGraph, GraphCL, MVGRL and GraphMAE: an SVM is trained on the frozen graph
embeddings of each outer training part, its ``C`` chosen by an inner stratified cross-validation
on that training part only, and scored on the held-out fold.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from ..checks import check_int
from ._common import as_numpy, check_embeddings

# the grid of InfoGraph / GraphCL: 1e-3, 1e-2, ..., 1e3
DEFAULT_CS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
KERNELS = ("linear", "rbf")


def svm_cross_validation(z, y, folds: int = 10, seeds=(0,), Cs=DEFAULT_CS, inner_folds: int = 5,
                         kernel: str = "rbf", standardize: bool = True,
                         dual: bool | str = "auto") -> dict:
    """Graph-classification accuracy of an SVM on frozen embeddings, by stratified k-fold CV.

    For each seed in ``seeds`` the graphs are split by ``StratifiedKFold(folds, shuffle=True,
    random_state=seed)``. In each outer fold, ``C`` is chosen from ``Cs`` by a grid search with
    an inner ``StratifiedKFold(inner_folds, shuffle=True, random_state=seed)`` on the outer
    training part only (ties: the smaller ``C``, i.e. the stronger regularisation); the SVM is
    then refitted on the whole outer training part with that ``C`` and scored on the held-out
    fold. The held-out fold's labels never influence its ``C``. With a single value in ``Cs`` the
    inner search is skipped.

    Args:
        z: graph embeddings ``[G, d]``; y: graph labels ``[G]`` (at least two classes).
        folds: outer folds (10 in the papers); every class needs at least ``folds`` graphs.
        seeds: one outer split per seed; the result averages over all of them.
        Cs: inverse L2 regularisation strengths to choose from (all > 0).
        inner_folds: folds of the inner search for ``C``.
        kernel: ``'rbf'`` (default: ``SVC()`` as in InfoGraph's and GraphCL's
            ``svc_classify``, ``gamma='scale'``) or ``'linear'``. ``'linear'`` uses
            :class:`sklearn.svm.LinearSVC` (liblinear, squared hinge loss, solver ``dual``),
            not ``SVC(kernel='linear')`` (libsvm, hinge loss):
            both are L2-regularised linear SVMs, but on 2,960 x 512 synthetic noisy embeddings
            (the inner-training size of NCI1) LinearSVC fits in 0.1-0.3 s for every C in the
            grid while SVC takes 1 s at C=1e-3, 4 s at C=0.1 and over 90 s at C=10, since libsvm
            slows down sharply as C grows on non-separable data; liblinear's hinge-loss (dual)
            solver does not converge in 1000 iterations there either. On real embeddings
            (collinear dimensions, few graphs) liblinear can still take 0.1 s per fit, so
            the rbf default is also the fast one on small sets such as MUTAG. On MVGRL's
            standardised 512-dimensional IMDB-MULTI embeddings (1,080 graphs, 3 pretraining
            epochs) liblinear's dual solver took 7.7-8.6 s per fit and its primal one 31-37 s
            at C >= 1 (``benchmarks/diag_linear_svm_mvgrl.py``).
        dual: LinearSVC's solver (``kernel='linear'`` only): ``'auto'`` (default, sklearn's
            own: primal when there are more graphs than dimensions), ``True`` (the dual
            coordinate descent, sklearn's default before 1.3, so what the MVGRL authors' plain
            ``LinearSVC()`` ran; about 4x faster than primal on the IMDB-MULTI case above) or
            ``False``. Both solve the same problem; they differ where they stop.
        standardize: standardise each embedding dimension first (a ``StandardScaler`` inside the
            pipeline, so it is fitted on the training part of every fit only, never on held-out
            graphs). On by default: the SVM's ``C`` grid and the rbf ``gamma`` assume features on
            a unit scale, and raw encoder outputs are often far from it.

    All fits are deterministic and single-threaded (``n_jobs=1``). Standard deviations are
    population ones (``ddof=0``, as ``np.std`` in the papers' code).

    Returns:
        ``{'acc_mean'``: mean accuracy over all folds of all seeds, ``'acc_std_folds'``: mean over
        seeds of the std across that seed's folds (the "±" the papers report),
        ``'acc_std_seeds'``: std across seeds of the per-seed mean accuracy (0.0 for one seed),
        ``'per_seed'``: per-seed mean accuracy, ``'fold_acc'``: ``[seed][fold]`` accuracies,
        ``'C'``: ``[seed][fold]`` chosen ``C``, ``'inner_acc'``: ``[seed][fold]`` mean inner-CV
        accuracy of the chosen ``C`` (computed on the outer training part only: what a
        nested-CV search over embeddings may select on, see
        :func:`graphssl.bench.leaderboard.selected_by_nested_cv`; ``None`` entries with a
        single ``C``), ``'folds'``, ``'seeds'``\\ ``}``.
    """
    z, y = check_embeddings(z, y)
    seeds, Cs = _check_config(folds, seeds, Cs, inner_folds, kernel)
    if dual not in (True, False, "auto"):
        raise ValueError(f"dual must be True, False or 'auto', got {dual!r}")
    if dual != "auto" and kernel != "linear":
        raise ValueError(f"dual chooses LinearSVC's solver; kernel={kernel!r} has none: drop "
                         f"dual or use kernel='linear'")
    template = _make_svm(kernel, standardize, dual)
    _check_class_sizes(y, folds, inner_folds if len(Cs) > 1 else None)
    fold_acc, chosen, inner_acc = [], [], []
    for seed in seeds:
        outer = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        accs, Cs_seed, inner_seed = [], [], []
        for train, test in outer.split(z, y):
            acc, C, inner = _evaluate_fold(z, y, train, test, Cs, inner_folds, seed, template)
            accs.append(acc)
            Cs_seed.append(C)
            inner_seed.append(inner)
        fold_acc.append(accs)
        chosen.append(Cs_seed)
        inner_acc.append(inner_seed)
    per_seed = [float(np.mean(a)) for a in fold_acc]
    return {"acc_mean": float(np.mean(fold_acc)),
            "acc_std_folds": float(np.mean([np.std(a) for a in fold_acc])),
            "acc_std_seeds": float(np.std(per_seed)) if len(seeds) > 1 else 0.0,
            "per_seed": per_seed, "fold_acc": fold_acc, "C": chosen, "inner_acc": inner_acc,
            "folds": folds, "seeds": list(seeds)}


def _evaluate_fold(z, y, train, test, Cs, inner_folds, seed, template):
    """One outer fold: choose C on ``train`` only, refit there, return ``(test accuracy, C,
    inner-CV accuracy of that C)``."""
    train, test = as_numpy(train), as_numpy(test)
    C, model, inner = _choose_C(z[train], y[train], Cs, inner_folds, seed, template)
    return float((model.predict(z[test]) == y[test]).mean()), C, inner


def _choose_C(z_train, y_train, Cs, inner_folds, seed, template):
    """Grid search for C by inner stratified CV on the training part alone; returns
    ``(C, model refitted on the whole training part, its mean inner-CV accuracy)`` (``None``
    for a single C: no inner CV). Sees no held-out graph."""
    model = clone(template)  # the unfitted pipeline of _make_svm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if len(Cs) == 1:
            return Cs[0], model.set_params(svm__C=Cs[0]).fit(z_train, y_train), None
        inner = StratifiedKFold(n_splits=inner_folds, shuffle=True, random_state=seed)
        search = GridSearchCV(model, {"svm__C": list(Cs)}, scoring="accuracy", cv=inner,
                              n_jobs=1, refit=True, error_score="raise")
        search.fit(z_train, y_train)
    return (float(search.best_params_["svm__C"]), search.best_estimator_,
            float(search.best_score_))


def _make_svm(kernel, standardize, dual="auto"):
    svm = (LinearSVC(dual=dual, random_state=0) if kernel == "linear"
           else SVC(kernel="rbf", gamma="scale"))
    steps = ([("scale", StandardScaler())] if standardize else []) + [("svm", svm)]
    return Pipeline(steps)


def _check_config(folds, seeds, Cs, inner_folds, kernel):
    check_int("folds", folds, 2)
    check_int("inner_folds", inner_folds, 2)
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if isinstance(seeds, numbers.Integral):
        raise ValueError(f"seeds must be a sequence of integers, e.g. seeds=({seeds},), got "
                         f"{seeds!r}")
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                            for s in seeds):
        raise ValueError(f"seeds must be a non-empty sequence of integers, got {seeds!r}")
    Cs = sorted(float(c) for c in Cs)
    if not Cs or not all(math.isfinite(c) and c > 0 for c in Cs):
        raise ValueError(f"Cs must be a non-empty sequence of finite values > 0, got {Cs!r}")
    return [int(s) for s in seeds], Cs


def _check_class_sizes(y, folds, inner_folds):
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"graph classification needs at least 2 classes, got only "
                         f"{classes.tolist()}")
    i = int(counts.argmin())
    smallest, m = classes[i].item(), int(counts[i])
    if m < folds:
        raise ValueError(f"class {smallest!r} has only {m} graphs, fewer than folds={folds}: "
                         f"stratified {folds}-fold CV needs every class in every fold; use "
                         f"folds <= {m}")
    # StratifiedKFold holds out at most ceil(m / folds) graphs of a class per fold
    if inner_folds is not None and m - math.ceil(m / folds) < inner_folds:
        left = m - math.ceil(m / folds)
        fix = (f"use inner_folds <= {left}, fewer folds, or a single C (Cs=[1.0])" if left >= 2
               else "use fewer folds or a single C (Cs=[1.0])")
        raise ValueError(f"class {smallest!r} has only {m} graphs, so an outer training part "
                         f"can hold just {left} of them, fewer than inner_folds={inner_folds} "
                         f"needed to choose C; {fix}")
