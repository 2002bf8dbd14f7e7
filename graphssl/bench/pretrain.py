"""Pretrain-then-probe protocol behind ``graphssl pretrain``: for each run, seed, pick the split,
pretrain the method with its tuned configuration, embed, and probe the frozen embeddings."""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch_geometric.transforms as T

from ..checks import check_positive_int
from ..data import MODALITIES, dataset_spec, get_split, load_dataset
from ..evaluate import cluster, node_probe, score_clusters
from ..filelock import file_lock, try_file_lock
from ..methods import build_method, get_method
from ..sparse import to_sparse_features
from ..train import Trainer, seed_everything
from ..train.checkpoint import FILENAME as CHECKPOINT_FILENAME
from .config import check_data_settings, config_hash, deep_update, method_config, override_epochs
from .environment import device_info, peak_rss_mb, versions
from .finished import load_finished, run_key, save_finished


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def choose_split(spec, method_split: str | None, dataset) -> str:
    """The split family when none is asked for: a dataset's official split (OGB, WikiCS) wins;
    else the method's paper protocol, where the dataset has it (``'public'`` needs stored
    masks); else 10/10/80 random splits."""
    if spec.split in ("ogb", "wikics"):
        return spec.split
    if method_split == "public" and getattr(dataset[0], "train_mask", None) is None:
        return "random"
    return method_split or spec.split


def resolve_runs(runs, default: int) -> list[int]:
    """Run ids: ``None`` -> ``range(default)``; an int ``R`` -> ``range(R)``; a list of
    non-negative ints -> those runs only (the benchmark runner runs one seed per cell). Run
    ``r`` uses seed ``r`` and random split ``r``."""
    if runs is None:
        runs = default
    if isinstance(runs, int) and not isinstance(runs, bool):
        return list(range(check_positive_int("runs", runs)))
    ids = list(runs) if isinstance(runs, (list, tuple, range)) else None
    if not ids or any(isinstance(r, bool) or not isinstance(r, int) or r < 0 for r in ids) \
            or len(set(ids)) != len(ids):
        raise ValueError(f"runs must be a positive integer or a list of distinct run ids >= 0, "
                         f"got {runs!r}")
    return ids


def run_checkpoint(checkpoint_dir, run: int) -> Path:
    """Where run ``run``'s training checkpoint lives under ``checkpoint_dir``."""
    return Path(checkpoint_dir) / f"run{run}" / CHECKPOINT_FILENAME


def claimed_runs(run_ids: list[int], checkpoint_dir=None, echo=None):
    """Yield ``run_ids`` for the caller to train, each while holding the lock
    ``checkpoint_dir/run{r}/train.lock``, so that several processes given one checkpoint folder
    share the runs instead of training one run twice at once.

    Runs no other process holds come first (those with a checkpoint to resume before fresh
    ones); a run another process is training comes last, after waiting for its lock: by then
    its checkpoint is finished, and resuming it only loads it for the probe. Without a
    checkpoint folder, or under ``torch.distributed`` with several ranks (which all train the
    same run together), the runs are yielded in order without locks. Callers sort their
    per-run results by run id. ``echo`` (e.g. ``print``) is told when a wait begins.
    """
    import torch.distributed as dist

    if checkpoint_dir is None or (dist.is_available() and dist.is_initialized()
                                  and dist.get_world_size() > 1):
        yield from run_ids
        return
    folder = Path(checkpoint_dir)
    lock = lambda run: folder / f"run{run}" / "train.lock"  # noqa: E731
    started = sorted(run_ids, key=lambda r: not run_checkpoint(folder, r).exists())
    busy = []
    for run in started:
        with try_file_lock(lock(run)) as mine:
            if mine:
                yield run
            else:
                busy.append(run)
    for run in busy:
        if echo is not None:
            echo(f"  run {run}: being trained by another process ({lock(run)}); waiting")
        with file_lock(lock(run)):
            yield run


def kept_result(checkpoint_dir, run: int, key: str, embeddings=None, echo=print):
    """The result of run ``run`` that an earlier call trained and probed with the same
    configuration (``checkpoint_dir/run{r}/result-KEY.json``, one file per configuration, so
    that protocols sharing the checkpoints, e.g. node classification and clustering, keep
    theirs apart), else ``None``: a rerun after an interruption skips the probe too, which on
    NCI1's SVM cross-validation takes minutes. Not used when the caller asks for the run's
    ``embeddings``."""
    if checkpoint_dir is None or embeddings is not None:
        return None
    result = load_finished(Path(checkpoint_dir) / f"run{run}", f"result-{key}", key)
    if result is not None:
        scores = ", ".join(f"{k[5:]} {100 * v:.2f}" for k, v in result.items()
                           if k.startswith("test_") and isinstance(v, float))
        echo(f"  run {run}: {scores} (trained and probed by an earlier call; kept)")
    return result


def pending_runs(run_ids: list[int], checkpoint_dir, key: str, results: list, embeddings=None,
                 echo=print):
    """The protocol loop's runs: :func:`claimed_runs`, less those an earlier call finished
    (:func:`kept_result`), whose results are appended to ``results`` instead of being
    yielded. Each yielded run is still locked while the caller trains and probes it."""
    for run in claimed_runs(run_ids, checkpoint_dir, echo):
        kept = kept_result(checkpoint_dir, run, key, embeddings, echo)
        if kept is None:
            yield run
        else:
            results.append(kept)


def keep_result(checkpoint_dir, run: int, key: str, result: dict):
    """Save run ``run``'s finished result next to its checkpoint (see :func:`kept_result`)."""
    if checkpoint_dir is not None:
        save_finished(Path(checkpoint_dir) / f"run{run}", f"result-{key}", key, result)


def check_fits(model, num_nodes: int, method: str, dataset: str) -> None:
    """Refuse, before training, a dataset (named ``dataset`` in the error) whose largest graph
    (``num_nodes`` nodes) the method cannot train on or embed
    (:meth:`graphssl.methods.Method.check_graph_size`)."""
    try:
        model.check_graph_size(num_nodes)
    except ValueError as error:
        raise ValueError(f"{method} cannot run on {dataset}, whose largest graph has "
                         f"{num_nodes} nodes: {error}") from None


def default_graph_task(dataset: str, configured: str | None) -> str:
    """The protocol of a graph-level dataset when none is asked for: the configuration's
    ``protocol.task`` if it is ``'graph'`` or ``'transfer'``, else transfer for the OGB
    molecule sets (``ogbg-mol*``) and graph classification otherwise."""
    if configured in ("graph", "transfer"):
        return configured
    return "transfer" if dataset.startswith("ogbg-mol") else "graph"


def run_pretrain(method: str, dataset: str, split: str | None = None, runs: int | None = None,
                 epochs: int | None = None, root=None, mirror=None, device: str = "auto",
                 overrides: dict | None = None, checkpoint_dir=None, progress: bool = True,
                 echo=print, task: str | None = None, embeddings: dict | None = None,
                 checkpoint_seconds: float | None = None) -> dict:
    """Run the protocol and return the result record (see ``docs/protocol.md``).

    ``split``, ``runs`` and ``epochs`` default to the method's shipped protocol for the dataset;
    ``overrides`` updates the configuration (``{'model': {'temperature': 0.5}}``). ``task``
    (``'node'`` or ``'link'``; default: the configuration's ``protocol.task``, else ``'node'``)
    chooses node classification or link prediction on node-level datasets. ``embeddings``, a
    dict, receives the frozen embeddings ``z`` and labels ``y`` of the last run (node and graph
    classification and clustering), e.g. for a t-SNE plot.
    """
    method_cls = get_method(method)  # fail early on an unknown name
    check_data_settings((overrides or {}).get("data") or {})  # before loading anything
    spec = dataset_spec(dataset)
    if spec.task in MODALITIES:
        if split is not None or task is not None:
            raise ValueError(f"{spec.name} has a fixed split and one protocol ({spec.task} "
                             f"probes); drop split={split!r} / task={task!r}")
        from .modalities import run_modality_pretrain
        return run_modality_pretrain(method, spec, runs=runs, epochs=epochs, root=root,
                                     mirror=mirror, device=device, overrides=overrides,
                                     checkpoint_dir=checkpoint_dir,
                                     checkpoint_seconds=checkpoint_seconds, progress=progress,
                                     echo=echo, embeddings=embeddings)
    if "graph" not in method_cls.modalities:
        raise ValueError(f"{method} trains {'/'.join(method_cls.modalities)} encoders; "
                         f"{spec.name} is a graph. Its graph counterparts: grace (SimCLR's "
                         f"loss), bgrl (BYOL's), graphmae (MAE's), swav.")
    dataset_obj = load_dataset(dataset, root=root, mirror=mirror)
    spec = dataset_obj.spec
    if method_cls.level == "graph" and spec.task != "graph":
        raise ValueError(f"{method} learns graph-level representations from batches of graphs; "
                         f"{spec.name} is a {spec.task}-level dataset. Use a graph dataset "
                         f"(MUTAG, PROTEINS, ...) or a node-level method.")
    config = deep_update(method_config(method, spec.name), overrides or {})
    if spec.task == "graph":
        if task is None:
            task = default_graph_task(spec.name, config["protocol"].get("task"))
        if task == "transfer":
            from .transfer import run_transfer
            return run_transfer(method, dataset_obj, config, runs=runs, epochs=epochs,
                                device=device, checkpoint_dir=checkpoint_dir,
                                checkpoint_seconds=checkpoint_seconds,
                                progress=progress, echo=echo, root=root, mirror=mirror)
        if task != "graph":
            raise ValueError(f"{spec.name} is a graph-level dataset: its protocols are graph "
                             f"classification (task='graph') and, for OGB molecule sets, "
                             f"transfer (task='transfer'), not task={task!r}; use a node-level "
                             f"dataset (Cora, ...) for node or link tasks")
        return run_graph_pretrain(method, dataset_obj, config, runs=runs, epochs=epochs,
                                  device=device, checkpoint_dir=checkpoint_dir,
                                  checkpoint_seconds=checkpoint_seconds,
                                  progress=progress, echo=echo, embeddings=embeddings)
    if spec.task != "node":
        raise NotImplementedError(
            f"{spec.name} is a {spec.task}-level dataset; `graphssl pretrain` evaluates node "
            f"embeddings (linear probe) and graph embeddings (SVM, 10-fold CV). Link-level "
            f"evaluation is tracked in its own issue.")
    protocol = config["protocol"]
    task = task or protocol.get("task", "node")
    if task == "link":
        return run_link_pretrain(method, dataset_obj, config, runs=runs, epochs=epochs,
                                 device=device, checkpoint_dir=checkpoint_dir,
                                 checkpoint_seconds=checkpoint_seconds,
                                 progress=progress, echo=echo)
    if task not in ("node", "cluster"):
        raise ValueError(f"task must be 'node', 'cluster' or 'link' for the node-level dataset "
                         f"{spec.name}, got {task!r}")
    split = split or choose_split(spec, protocol.get("split"), dataset_obj)
    run_ids = resolve_runs(runs, protocol.get("runs", 1))
    runs = len(run_ids)
    get_split(dataset_obj, split, run_ids[0])  # an impossible split fails now
    override_epochs(config, epochs)
    protocol.update(split=split, runs=runs)  # the record's config is what actually ran
    if run_ids != list(range(runs)):
        protocol["run_ids"] = run_ids
    if config["data"].get("normalize_features"):
        dataset_obj.transform = T.NormalizeFeatures()
    probe_cfg = dict(protocol.get("probe") or {})
    probe_fn, probe_kind = node_probe(probe_cfg)  # an unknown probe or option fails here
    probe_cfg.setdefault("kind", "logistic")
    cluster_cfg = dict(protocol.get("cluster") or {})  # cluster(): n_init, normalize
    # 'kmeans' (on the embeddings) or 'method' (the method's own predict_clusters: DEC, DMoN)
    assignments = cluster_cfg.pop("assignments", "kmeans")
    if task == "cluster" and assignments not in ("kmeans", "method"):
        raise ValueError(f"protocol.cluster.assignments must be 'kmeans' or 'method', got "
                         f"{assignments!r}")
    protocol["task"] = task
    dev = resolve_device(device)
    data = dataset_obj[0].to(dev)
    y = data.y.view(-1).cpu()

    echo(f"{method} on {spec.name}: split={split}, runs={runs}, epochs="
         f"{config['train'].get('epochs')}, device={dev}"
         + ("" if config.get("tuned") else " (no tuned config for this dataset: defaults)"))
    results, pretrain_seconds, epochs_run = [], 0.0, 0
    key, sparse_checked = run_key(config), False
    for run in pending_runs(run_ids, checkpoint_dir, key, results, embeddings, echo):
        seed_everything(run)
        model = build_method(method, data.num_features, **config["model"]).to(dev)
        check_fits(model, data.num_nodes, method, spec.name)  # the probe embeds the whole graph
        if not sparse_checked and getattr(model.encoder, "supports_sparse_input", False) and \
                model.encoder.sparse_input:
            data = to_sparse_features(data)  # bag-of-words: augment and encode non-zeros only
        sparse_checked = True
        # -- mini-batch training (graphssl.train.sampling): with data.sampler set, train on
        # sampled subgraphs (seeded by the run); the probe still embeds the full graph
        train_data = data
        if config["data"].get("sampler"):
            from ..train.sampling import build_sampler
            train_data = build_sampler(data, config["data"]["sampler"], seed=run)
        # -- end mini-batch training
        trainer, seconds, new_epochs = _train_run(model, train_data, config, run,
                                                  checkpoint_dir, progress, dev, checkpoint_seconds)
        pretrain_seconds, epochs_run = pretrain_seconds + seconds, epochs_run + new_epochs
        z = model.embed(data).cpu()
        if embeddings is not None:
            embeddings.update(z=z, y=y)
        if task == "cluster" and assignments == "method":
            if not hasattr(model, "predict_clusters"):
                raise ValueError(f"{method} has no clusters of its own (predict_clusters); use "
                                 f"protocol.cluster.assignments: kmeans")
            scores = score_clusters(y, model.predict_clusters(data).cpu())
            probe = {f"test_{k}": v for k, v in scores.items()}
        elif task == "cluster":
            probe = {f"test_{k}": v for k, v in cluster(z, y, seed=run, **cluster_cfg).items()}
        else:
            probe = probe_fn(z, y, get_split(dataset_obj, split, run))
        probe.update(run=run, seed=run, **training_summary(trainer))
        keep_result(checkpoint_dir, run, key, probe)
        results.append(probe)
        if task == "cluster":
            echo(f"  run {run}: ACC {100 * probe['test_acc']:.2f}, NMI "
                 f"{100 * probe['test_nmi']:.2f}, ARI {100 * probe['test_ari']:.2f} "
                 f"({probe['epochs']} epochs)")
        else:
            kept = probe.get("best_epoch")
            kept = f"{min(kept)}-{max(kept)}" if isinstance(kept, list) else kept
            chosen = f"C={probe['C']}" if "C" in probe else f"probe epoch {kept}"
            echo(f"  run {run}: test acc {100 * probe['test_acc']:.2f} (val "
                 f"{100 * probe['val_acc']:.2f}, {chosen}, {probe['epochs']} epochs)")
    if task == "cluster":
        return _record(method, spec, "all nodes", runs, results, pretrain_seconds, epochs_run,
                       config, dev, echo,
                       probe={"kind": "the method's own cluster assignments "
                                      "(predict_clusters)"} if assignments == "method" else
                       {"kind": "k-means on frozen embeddings, 10 restarts, k = number "
                                "of classes", **cluster_cfg},
                       metrics=(("acc", "clustering ACC"), ("nmi", "NMI"), ("ari", "ARI")))
    return _record(method, spec, split, runs, results, pretrain_seconds, epochs_run, config,
                   dev, echo, probe={**probe_cfg, "description": probe_kind})


def run_graph_pretrain(method: str, dataset, config: dict, runs=None, epochs=None,
                       device="auto", checkpoint_dir=None, checkpoint_seconds=None,
                       progress=True, echo=print,
                       embeddings: dict | None = None) -> dict:
    """Graph-level protocol (InfoGraph, GraphCL, MVGRL): pretrain on all graphs without labels,
    embed every graph, and score the frozen embeddings with an SVM under 10-fold stratified
    cross-validation (C chosen by inner CV on each outer training part). Run ``r`` seeds the
    pretraining and the fold assignment with ``r``."""
    from torch_geometric.loader import DataLoader

    from ..evaluate import svm_cross_validation

    spec = dataset.spec
    protocol = config["protocol"]
    run_ids = resolve_runs(runs, protocol.get("runs", 5))
    runs = len(run_ids)
    folds = protocol.get("folds", 10)
    probe_cfg = dict(protocol.get("svm") or {})  # kernel, standardize of svm_cross_validation
    override_epochs(config, epochs)
    protocol.update(task="graph", split=f"{folds}-fold stratified CV", runs=runs, folds=folds)
    if run_ids != list(range(runs)):
        protocol["run_ids"] = run_ids
    transforms = graph_transforms(dataset, config["data"])
    if transforms:
        dataset.transform = transforms
    batch_size = config["data"].get("batch_size", 128)
    dev = resolve_device(device)
    sizes, labels = zip(*((d.num_nodes, d.y.view(-1)) for d in dataset))
    y = torch.cat(labels).cpu()
    echo(f"{method} on {spec.name}: {len(dataset)} graphs, {folds}-fold CV, runs={runs}, "
         f"epochs={config['train'].get('epochs')}, batch_size={batch_size}, device={dev}"
         + ("" if config.get("tuned") else " (no tuned config for this dataset: defaults)"))
    results, pretrain_seconds, epochs_run = [], 0.0, 0
    key = run_key(config)
    for run in pending_runs(run_ids, checkpoint_dir, key, results, embeddings, echo):
        seed_everything(run)
        model = build_method(method, dataset.num_features, **config["model"]).to(dev)
        check_fits(model, max(sizes), method, spec.name)
        loader = graph_batches(dataset, batch_size)
        trainer, seconds, new_epochs = _train_run(model, loader, config, run, checkpoint_dir,
                                                  progress, dev, checkpoint_seconds)
        pretrain_seconds, epochs_run = pretrain_seconds + seconds, epochs_run + new_epochs
        z = torch.cat([model.embed_graphs(b.to(dev)).cpu()
                       for b in DataLoader(dataset, batch_size=512)])
        if embeddings is not None:
            embeddings.update(z=z, y=y)
        start = time.perf_counter()
        cv = svm_cross_validation(z, y, folds=folds, seeds=(run,), **probe_cfg)
        result = {"test_acc": cv["acc_mean"], "acc_std_folds": cv["acc_std_folds"],
                  "fold_acc": cv["fold_acc"][0], "fold_inner_acc": cv["inner_acc"][0],
                  "C": cv["C"], "probe_seconds": time.perf_counter() - start, "run": run,
                  "seed": run, **training_summary(trainer)}
        keep_result(checkpoint_dir, run, key, result)
        results.append(result)
        echo(f"  run {run}: accuracy {100 * result['test_acc']:.2f} ± "
             f"{100 * result['acc_std_folds']:.2f} across folds ({result['epochs']} epochs)")
    record = _record(method, spec, protocol["split"], runs, results, pretrain_seconds,
                     epochs_run, config, dev, echo,
                     probe={"kind": "SVM, C chosen by inner CV on each outer training part",
                            "folds": folds, **probe_cfg})
    record["acc_std_folds_mean"] = statistics.fmean(r["acc_std_folds"] for r in results)
    record["std_note"] = ("test_acc_std is across runs (seeds); acc_std_folds_mean is the mean "
                          "over runs of the std across folds")
    return record


def run_link_pretrain(method: str, dataset, config: dict, runs=None, epochs=None,
                      device="auto", checkpoint_dir=None, checkpoint_seconds=None,
                      progress=True, echo=print) -> dict:
    """Link-prediction protocol (GAE, VGAE, ARGA): for run ``r``, hold out edges with
    ``split_edges(data, seed=r)`` (``protocol.link``: ``val_ratio``, ``test_ratio``), pretrain
    on the training graph only, embed it, and score the held-out edges and as many sampled
    non-edges by the inner product of their embeddings (AUC, AP)."""
    from ..evaluate import link_prediction_scores, split_edges

    spec, protocol = dataset.spec, config["protocol"]
    run_ids = resolve_runs(runs, protocol.get("runs", 10))
    runs = len(run_ids)
    ratios = dict(protocol.get("link") or {"val_ratio": 0.05, "test_ratio": 0.1})
    override_epochs(config, epochs)
    split = f"held-out edges (val {ratios.get('val_ratio')}, test {ratios.get('test_ratio')})"
    protocol.update(task="link", runs=runs, link=ratios)
    if run_ids != list(range(runs)):
        protocol["run_ids"] = run_ids
    if config["data"].get("normalize_features"):
        dataset.transform = T.NormalizeFeatures()
    dev = resolve_device(device)
    data = dataset[0]
    echo(f"{method} on {spec.name}: link prediction, runs={runs}, epochs="
         f"{config['train'].get('epochs')}, device={dev}")
    results, pretrain_seconds, epochs_run = [], 0.0, 0
    key = run_key(config)
    for run in pending_runs(run_ids, checkpoint_dir, key, results, echo=echo):
        seed_everything(run)
        train_data, val, test = split_edges(data, seed=run, **ratios)
        train_data = train_data.to(dev)
        model = build_method(method, data.num_features, **config["model"]).to(dev)
        check_fits(model, train_data.num_nodes, method, spec.name)
        if getattr(model.encoder, "supports_sparse_input", False) and model.encoder.sparse_input:
            train_data = to_sparse_features(train_data)
        trainer, seconds, new_epochs = _train_run(model, train_data, config, run,
                                                  checkpoint_dir, progress, dev, checkpoint_seconds)
        pretrain_seconds, epochs_run = pretrain_seconds + seconds, epochs_run + new_epochs
        z = model.embed(train_data).cpu()
        result = {f"{part}_{k}": v for part, edges in (("val", val), ("test", test))
                  for k, v in link_prediction_scores(z, *edges).items()}
        result.update(run=run, seed=run, **training_summary(trainer))
        keep_result(checkpoint_dir, run, key, result)
        results.append(result)
        echo(f"  run {run}: test AUC {100 * result['test_auc']:.2f}, AP "
             f"{100 * result['test_ap']:.2f} ({result['epochs']} epochs)")
    return _record(method, spec, split, runs, results, pretrain_seconds, epochs_run, config,
                   dev, echo, probe={"kind": "inner-product decoder on frozen embeddings"},
                   metrics=(("auc", "test AUC"), ("ap", "test AP")))


#: the most points a run's ``loss_curve`` keeps: a longer run keeps every k-th epoch's loss
#: (``loss_curve_every: k``), so that a 10,000-epoch run adds 2 kB to a results file, not 100 kB
MAX_CURVE_POINTS = 200


def denormal_counts(history) -> dict:
    """How many epochs of ``history`` trained with subnormals ``flushed`` or ``kept``, and how
    many say neither (``unrecorded``), in that order, zero counts left out."""
    said = [h.get("flush_denormal") for h in history]
    counts = {"flushed": said.count(True), "kept": said.count(False),
              "unrecorded": said.count(None)}
    return {k: n for k, n in counts.items() if n}


def training_summary(trainer) -> dict:
    """Per-run fields of the record: epochs trained, the last epoch's training loss and the
    loss curve the benchmark plots draw (each epoch's loss with the digits of a float32, the
    precision it was computed in; above :data:`MAX_CURVE_POINTS` epochs, epochs 1, 1 + k,
    1 + 2k, ... with ``loss_curve_every: k``); ``denormals``, how many epochs trained with
    subnormal floats ``flushed`` to zero or ``kept`` (``Trainer(flush_denormal=)``), and
    ``unrecorded`` for epochs of a checkpoint written before epochs recorded it (zero counts
    left out); for a run resumed from a checkpoint, the epoch it resumed at and the summed
    epoch times of the epochs before it."""
    curve = [h["loss"] for h in trainer.history]
    every = max(1, -(-len(curve) // MAX_CURVE_POINTS))
    summary = {"epochs": len(curve), "final_loss": curve[-1] if curve else None,
               "loss_curve": [float(str(np.float32(v))) for v in curve[::every]]}
    if every > 1:
        summary["loss_curve_every"] = every
    summary["denormals"] = denormal_counts(trainer.history)
    resumed = trainer.resumed_from_epoch
    if resumed:  # the epochs an earlier, interrupted call trained, and their measured time
        summary.update(resumed_at_epoch=resumed, seconds_before_resume=sum(
            h.get("seconds", 0.0) for h in trainer.history[:resumed]))
    return summary


def graph_transforms(dataset, data_config: dict):
    """The per-graph preparation a graph-level configuration asks for, in order (``None`` if
    none), recording what it did in ``data_config``:

    * default node features for sets without them (IMDB, COLLAB, REDDIT), or the degree
      one-hot appended to them with ``append_degree`` (``max_degree``: the cap, ``'auto'`` for
      the set's largest degree); degrees are counted before any self-loop is added;
    * ``self_loops: true``: exactly one self-loop per node (existing ones removed first), as
      GraphMAE's graph loader does, so that GIN's sum counts each node twice."""
    import torch_geometric.transforms as T

    from ..data import ensure_features, largest_degree

    out = []
    append = data_config.get("append_degree", False)
    has_x = dataset[0].x is not None
    if not has_x or append:  # IMDB, COLLAB, REDDIT: documented default features
        max_degree = data_config.get("max_degree", 64)
        if max_degree == "auto":  # the dataset's largest degree: no column always zero
            max_degree = largest_degree(dataset)
        ensure_features(dataset[0], max_degree=max_degree, append_degree=append)  # bad values
        out.append(lambda d: ensure_features(d, max_degree=max_degree, append_degree=append))
        data_config["features"] = (("node features + " if has_x else "") + (
            "a constant 1 per node (max_degree 0)" if max_degree == 0
            else f"degree one-hot, capped at {max_degree}"))
    self_loops = data_config.get("self_loops", False)
    if not isinstance(self_loops, bool):
        raise ValueError(f"data.self_loops must be true or false, got {self_loops!r}")
    if self_loops:
        out += [T.RemoveSelfLoops(), T.AddSelfLoops()]
    return T.Compose(out) if out else None


def graph_batches(graphs, batch_size: int):
    """Shuffled mini-batches of graphs for pretraining. A last batch of a single graph cannot
    be trained on (batch norm; graph-level objectives need two graphs), so it is dropped, and
    only then: every other dataset size keeps all its graphs in every epoch."""
    from torch_geometric.loader import DataLoader
    return DataLoader(graphs, batch_size=batch_size, shuffle=True,
                      drop_last=len(graphs) % batch_size == 1)


def _train_run(model, data, config, run, checkpoint_dir, progress, dev,
               checkpoint_seconds=None):
    """Pretrain run ``run`` (seed ``run``; resumable under ``checkpoint_dir/run{run}``, saved
    at most every ``checkpoint_seconds``).
    Returns the trainer, the seconds spent and the epochs trained by this call."""
    ckpt = None if checkpoint_dir is None else Path(checkpoint_dir) / f"run{run}"
    trainer = Trainer(seed=run, progress=progress, checkpoint_dir=ckpt,
                      **{"checkpoint_seconds": checkpoint_seconds, **config["train"]})
    start = time.perf_counter()
    trainer.fit(model, data, resume=ckpt is not None)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return trainer, time.perf_counter() - start, len(trainer.history) - trainer.resumed_from_epoch


def _record(method, spec, split, runs, results, pretrain_seconds, epochs_run, config, dev, echo,
            probe, metrics=(("acc", "test accuracy"),)) -> dict:
    """The result record: for each metric ``m`` (``acc``; ``auc`` and ``ap`` for links), the
    mean and population std over runs of ``test_m`` and the mean of ``val_m``."""
    results = sorted(results, key=lambda r: r["run"])  # claimed_runs may train out of order
    record = {"method": method, "dataset": spec.name, "split": split, "runs": runs}
    summary = []
    for key, label in metrics:
        test = [r[f"test_{key}"] for r in results]
        val = [r[f"val_{key}"] for r in results if f"val_{key}" in r]
        record[f"test_{key}_mean"] = statistics.fmean(test)
        record[f"test_{key}_std"] = statistics.pstdev(test) if len(test) > 1 else 0.0
        record[f"val_{key}_mean"] = statistics.fmean(val) if val else None
        summary.append(f"{label} {100 * record[f'test_{key}_mean']:.2f} ± "
                       f"{100 * record[f'test_{key}_std']:.2f}")
    # a run resumed from a checkpoint counts the epochs it trained before the interruption
    # with their measured times (training_summary): one resumed after its last epoch trains
    # none here, and its setup time alone is no epoch time
    timed_epochs = epochs_run + sum(r.get("resumed_at_epoch", 0) for r in results)
    timed_seconds = pretrain_seconds + sum(r.get("seconds_before_resume", 0.0) for r in results)
    record.update({
        "probe": probe,
        "per_run": results, "pretrain_seconds": pretrain_seconds,
        "seconds_per_epoch": timed_seconds / timed_epochs if timed_epochs else None,
        "epochs_trained_here": epochs_run,
        "peak_rss_mb": peak_rss_mb(), "config": config, "config_hash": config_hash(config),
        "versions": versions(), **device_info(dev),
    })
    echo(f"{method} on {spec.name} ({split} split, {runs} run{'s' * (runs > 1)}): "
         + ", ".join(summary))
    return record
