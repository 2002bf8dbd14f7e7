"""``graphssl bench``: run a grid cell by cell, skipping finished cells, appending each result
to the JSONL, then render the leaderboard and plots; ``graphssl report`` re-renders them."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from tqdm.auto import tqdm

from ..checks import check_positive
from .config import config_hash, training_config
from .environment import DEVICE_KEYS, peak_rss_mb
from .grid import Cell, GridError, load_grid
from .leaderboard import comparison_rows, load_published, render
from .peers import PEERS, peer_timing
from .pretrain import run_checkpoint, run_pretrain
from .progress import checkpointed_training, grid_progress
from .rekey import migrate_legacy_keys, rekeyed
from .results import ResultStore
from .selection import parse_only, select_cells, select_records

#: per-run fields of a protocol record kept in a cell's result
RUN_FIELDS = ("epochs", "final_loss", "loss_curve", "loss_curve_every", "C", "best_epoch",
              "fold_acc", "fold_inner_acc", "acc_std_folds", "probe_seconds", "resumed_at_epoch",
              "seconds_before_resume", "denormals")

#: how often a cell's training is checkpointed by default (``run_grid(checkpoint_seconds=)``,
#: ``graphssl bench --checkpoint-seconds``): a cell killed mid-training loses at most about
#: this much of it, and a fast epoch does not pay for a save each time
CHECKPOINT_SECONDS = 60.0


def cell_record(cell: Cell, record: dict, seconds: float) -> dict:
    """The JSONL line of a finished cell: what ran (key, names, configuration, versions, device)
    and what came out (metrics of its one run, loss curve, time, memory).

    ``seconds`` is this call's wall-clock time; a cell resumed from its checkpoint adds the
    measured epoch times of the epochs trained before the interruption
    (``seconds_before_resume``; the interrupted process's setup and its epochs after the last
    checkpoint are not counted), so that its time estimates an uninterrupted run's."""
    run = record["per_run"][0]
    seconds += run.get("seconds_before_resume", 0.0)
    metrics = {k: v for k, v in run.items()
               if k.startswith(("test_", "val_", "train_")) and isinstance(v, (int, float))}
    return {
        "key": cell.key, "method": cell.method, "variant": cell.variant,
        "dataset": record["dataset"],
        "task": (record["config"].get("protocol") or {}).get("task") or cell.task or "node",
        "split": record["split"], "seed": cell.seed, "metrics": metrics,
        **{k: run[k] for k in RUN_FIELDS if k in run},
        "seconds": seconds, "seconds_per_epoch": record.get("seconds_per_epoch"),
        # 0 where the pretraining was shared (transfer cells after the first of a configuration)
        "pretrain_epochs_here": record.get("epochs_trained_here"),
        "peak_rss_mb": record.get("peak_rss_mb"), "config": record["config"],
        "versions": record["versions"],
        **{k: record[k] for k in DEVICE_KEYS if k in record},  # where it ran (device_info)
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def run_grid(config, results, root=None, mirror=None, device="auto", progress=True,
             echo=print, plots: bool = True, shard: tuple[int, int] | str | None = None,
             only=None, checkpoint_seconds: float | None = CHECKPOINT_SECONDS) -> dict:
    """Run every unfinished cell of the grid file ``config``; results go to
    ``results/results.jsonl`` (one line per cell), ``results/leaderboard.md`` and
    ``results/plots/``. Everything is validated first (names, hyperparameters, the results
    folder and file), so a bad grid fails before any training. Returns ``{'ran', 'skipped'
    (finished before this start), 'elsewhere' (run by another process), 'total' (cells of this
    shard), 'leaderboard'}``.

    Several processes may run the same grid on the same ``results`` at once (one per core, or
    machines sharing the folder): each cell is claimed with a lock while it runs
    (``results/.claims/KEY.lock``, released by the kernel if the process dies), and the others
    skip it (``'elsewhere'`` counts those). ``shard=(k, n)`` (or ``'k/n'``, 1 <= k <= n) also
    splits the grid statically: only every n-th cell, starting at the k-th, of the cells
    ``only`` keeps (``['dataset=Cora,CiteSeer', 'method=dgi']``, see
    ``graphssl.bench.selection``; cells keep their keys, so a slice fills the same results).
    Each process renders the leaderboard of every finished cell when it ends.

    A cell's training is checkpointed at most every ``checkpoint_seconds`` (and at its end)
    under ``results/.checkpoints/cell-KEY``, so that a cell killed mid-training resumes where
    its last checkpoint left it, with the same result; the folder is deleted once the cell's
    line is written (or, if the process died in between, by the next start).
    ``checkpoint_seconds=None``: no cell checkpoints (transfer cells still keep their shared
    pretraining and checkpoint their fine-tuning once a minute)."""
    if checkpoint_seconds is not None:
        check_positive("checkpoint_seconds", checkpoint_seconds)
    grid = load_grid(config)
    shard_index, shard_count = parse_shard(shard)
    selected = select_cells(grid.cells, parse_only(only))
    store = ResultStore(results)
    store.check_writable()
    rewritten, renamed = migrate_legacy_keys(store, grid.cells)
    if rewritten or renamed:
        echo(f"{grid.name}: moved {rewritten} results and {renamed} checkpoint folders from "
             f"legacy cell keys to the current ones (graphssl.bench.rekey)")
    records = store.load()
    finished = {r["key"] for r in records}
    drop_finished_cell_checkpoints(store.folder, finished)
    # paths relative to the results folder: the folder can move with its repository
    store.write_meta({"name": grid.name, "config": _relative(grid.path, store.folder),
                      "published": _relative(grid.published, store.folder)})
    cells = selected[shard_index - 1::shard_count]
    todo = [c for c in cells if c.key not in finished]
    slicing = ([f"only {' '.join(only)}"] if only else []) + (
        [f"shard {shard_index}/{shard_count}"] if shard_count > 1 else [])
    part = f" ({', '.join(slicing)}: {len(cells)} of them here)" if slicing else ""
    echo(f"{grid.name}: {len(grid.cells)} cells{part}, {len(cells) - len(todo)} already "
         f"finished in {store.path}, {len(todo)} to run")
    bar = tqdm(total=len(cells), initial=len(cells) - len(todo), desc=grid.name,
               disable=not progress, position=0)
    embeddings_by_group: dict = {}
    timed = {(r["method"], r["dataset"]) for r in records if r.get("peer")}
    ran = elsewhere = 0
    try:
        for cell in todo:
            # the legacy key too: a process of an older graphssl claims the cell by that name
            with store.claim(cell.key) as mine, store.claim(cell.legacy_keys[0]) as mine_too:
                mine = mine and mine_too
                if not mine or {cell.key, *cell.legacy_keys} & store.finished_keys():
                    # another process is running it, or finished it since this one started
                    elsewhere += 1
                    bar.update(1)
                    (tqdm.write if progress else echo)(
                        f"skip {cell.label()}: {'running' if not mine else 'finished'} in "
                        f"another process")
                    continue
                embeddings: dict = {}
                line = _run_cell(cell, root, mirror, device, progress, embeddings, timed,
                                 store.folder, checkpoint_seconds)
                store.append(line)
                shutil.rmtree(cell_checkpoint_dir(cell, store.folder), ignore_errors=True)
            ran += 1
            group = (cell.method, line["dataset"])
            if embeddings and group not in embeddings_by_group:
                embeddings_by_group[group] = (embeddings, cell.seed)
            shown = ", ".join(f"{k} {100 * v:.2f}" for k, v in line["metrics"].items()
                              if k.startswith("test_"))
            bar.update(1)
            (tqdm.write if progress else echo)(
                f"done {cell.label()}: {shown} ({line['seconds']:.1f} s, peak "
                f"{peak_rss_mb():.0f} MiB)")
    finally:
        bar.close()
    summary = report(results, published=grid.published, title=grid.name, plots=plots,
                     embeddings=embeddings_by_group, echo=echo, cells=grid.cells)
    return {"ran": ran, "skipped": len(cells) - len(todo), "elsewhere": elsewhere,
            "total": len(cells), **summary}


def plan_grid(config, results, only=None) -> dict:
    """What ``run_grid(config, results, only=only)`` would do, without doing it: the grid is
    loaded and validated as for a run, ``results/results.jsonl`` only read (a missing folder is
    an empty one), and the :func:`graphssl.bench.progress.grid_progress` of the selected cells
    returned: finished cells, their measured time, the unfinished cells whose training is
    checkpointed (``results/.checkpoints``: stopped, or training in another process) with their
    epochs so far, and the estimated time of the rest."""
    grid = load_grid(config)
    selection = parse_only(only)
    selected = select_cells(grid.cells, selection)
    store = ResultStore(results)
    # runs of the grid's cells outside the slice are neither the slice's nor stale, and a
    # slice counts only the stale runs it would have selected (its method, dataset, ...)
    grid_keys, keys = {cell.key for cell in grid.cells}, {cell.key for cell in selected}
    records = rekeyed(store.load(repair=False), grid.cells)
    stale = [r for r in records if r["key"] not in grid_keys]
    records = [r for r in records if r["key"] in keys] + select_records(stale, selection)
    finished = {r["key"] for r in records}
    training = checkpointed_training({
        cell.key: run_checkpoint(cell_checkpoint_dir(cell, results), cell.seed)
        for cell in selected if cell.key not in finished})
    return grid_progress(selected, records, training)


def transfer_checkpoint_dir(cell: Cell, folder) -> Path | None:
    """Where a transfer cell keeps its pretraining: the protocol pretrains once with seed 0 and
    fine-tunes with the cell's seed, so every seed of one configuration shares one pretraining
    (``folder/.checkpoints/transfer-HASH``, locked while it trains: parallel processes wait
    instead of training it twice; resumable after a crash). The hash is of the method, the
    dataset and :attr:`Cell.run_config` (as the cell's key): a shipped ``train.epochs`` that
    the grid's ``epochs`` replace does not move it. ``None`` for other tasks."""
    config = cell.run_config
    if (cell.task or (config.get("protocol") or {}).get("task")) != "transfer":
        return None
    shared = config_hash({"method": cell.method, "dataset": cell.dataset,
                          "config": training_config(config)})
    return Path(folder) / ".checkpoints" / f"transfer-{shared}"


def cell_checkpoint_dir(cell: Cell, folder) -> Path:
    """Where a cell keeps its training while it runs: ``folder/.checkpoints/cell-KEY`` (the
    cell's key, so a checkpoint only ever resumes the configuration that wrote it)."""
    return Path(folder) / ".checkpoints" / f"cell-{cell.key}"


def drop_finished_cell_checkpoints(folder, finished: set) -> list:
    """Delete the ``folder/.checkpoints/cell-KEY`` folders of cells whose line is already in the
    results (a process killed between writing a cell's line and deleting its checkpoint leaves
    one); checkpoints of unfinished cells stay, for their cells to resume. Returns the deleted
    folders."""
    stale = [path for path in sorted((Path(folder) / ".checkpoints").glob("cell-*"))
             if path.name.removeprefix("cell-") in finished]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def _run_cell(cell: Cell, root, mirror, device, progress, embeddings: dict, timed: set,
              folder=None, checkpoint_seconds: float | None = None) -> dict:
    """One cell's ``run_pretrain`` as a results line (with the peer timing the first time a
    (method, dataset) with ``peers: true`` runs); checkpointed under ``folder`` (transfer
    cells: their shared pretraining; others, with ``checkpoint_seconds``: their own)."""
    start = time.perf_counter()
    checkpoint_dir = None if folder is None else transfer_checkpoint_dir(cell, folder)
    if checkpoint_dir is None and folder is not None and checkpoint_seconds is not None:
        checkpoint_dir = cell_checkpoint_dir(cell, folder)
    record = run_pretrain(cell.method, cell.dataset, split=cell.split, runs=[cell.seed],
                          epochs=cell.epochs, root=root, mirror=mirror, device=device,
                          overrides=cell.overrides, progress=progress,
                          echo=lambda *a, **k: None, task=cell.task, embeddings=embeddings,
                          checkpoint_dir=checkpoint_dir, checkpoint_seconds=checkpoint_seconds)
    line = cell_record(cell, record, time.perf_counter() - start)
    group = (cell.method, line["dataset"])
    if cell.peers and group not in timed and cell.method in PEERS:
        line["peer"] = _peer_timing(cell, record, root, mirror)
        timed.add(group)
    return line


def parse_shard(shard) -> tuple[int, int]:
    """``None`` -> ``(1, 1)``; ``'2/4'`` or ``(2, 4)`` -> ``(2, 4)``; anything else, or k outside
    1..n, is a ``ValueError`` naming the value."""
    if shard is None:
        return 1, 1
    try:
        k, n = (int(v) for v in (shard.split("/") if isinstance(shard, str) else shard))
    except (TypeError, ValueError):
        raise ValueError(f"shard must be K/N with integers 1 <= K <= N (e.g. 1/2), got "
                         f"{shard!r}") from None
    if not 1 <= k <= n:
        raise ValueError(f"shard must be K/N with 1 <= K <= N (e.g. 1/2), got {shard!r}")
    return k, n


def _peer_timing(cell: Cell, record: dict, root, mirror) -> dict | None:
    """Time the peer implementation on the cell's graph, prepared as the protocol prepared it
    (row-normalised features where the configuration says so); node-level datasets only."""
    import torch_geometric.transforms as T

    from ..data import load_dataset
    dataset = load_dataset(cell.dataset, root=root, mirror=mirror)
    if dataset.spec.task != "node":
        return None
    config = record["config"]
    if config["data"].get("normalize_features"):
        dataset.transform = T.NormalizeFeatures()
    return peer_timing(cell.method, dataset[0], config)


def report(results, published=None, title: str | None = None, plots: bool = True,
           embeddings: dict | None = None, echo=print, cells: list | None = None) -> dict:
    """(Re-)render ``leaderboard.md`` and, with matplotlib, ``plots/`` from
    ``results/results.jsonl``: loss curves per dataset and ours-vs-published bars (t-SNE plots
    are drawn by :func:`run_grid` only, from embeddings it does not store). ``published`` and
    ``title`` default to those of the grid that wrote the folder (``results/grid.json``); the
    leaderboard ends with that grid's progress (finished cells, their summed run time, the
    groups not complete) over ``cells``, by default those of the grid file that wrote it.

    With the grid known, records of cells it no longer has (a shipped configuration or the
    grid file changed since they ran) are kept out of the table and the plots, and listed in
    a section of their own: a mean never mixes runs of two configurations."""
    store = ResultStore(results)
    records = store.load(repair=False)
    if not records:
        raise FileNotFoundError(f"no finished runs in {str(store.path)!r}")
    meta = store.read_meta()  # the grid's name and published file, as run_grid saw them
    if published is None and meta.get("published"):
        published = store.folder / meta["published"]
    published_numbers = load_published(published)
    if cells is None:
        cells = _grid_cells(store, meta, echo)
    current, stale = records, []
    if cells is not None:
        records = rekeyed(records, cells)
        keys = {cell.key for cell in cells}
        current = [r for r in records if r["key"] in keys]
        stale = [r for r in records if r["key"] not in keys]
    text = render(current, published_numbers,
                  title=title or meta.get("name") or f"Leaderboard: {store.folder.name}",
                  progress=None if cells is None else grid_progress(cells, records),
                  stale=stale)
    out = store.folder / "leaderboard.md"
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(out)
    written = [out]
    if plots:
        written += _plots(current, store.folder / "plots", published_numbers, embeddings or {})
    echo(f"wrote {', '.join(str(p) for p in written[:3])}"
         + (f" and {len(written) - 3} more" if len(written) > 3 else ""))
    return {"leaderboard": str(out), "files": [str(p) for p in written]}


def _grid_cells(store: ResultStore, meta: dict, echo) -> list | None:
    """The cells of the grid that wrote the folder (``grid.json`` names its file), or ``None``
    without one; a grid file that no longer loads is reported, not fatal."""
    if not meta.get("config"):
        return None
    path = store.folder / meta["config"]
    try:
        return load_grid(path).cells
    except (OSError, GridError) as err:
        echo(f"no progress section: the grid {str(path)!r} does not load ({err})")
        return None


def _plots(records, folder: Path, published: dict, embeddings: dict) -> list:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return []
    from .plots import plot_embedding_tsne, plot_loss_curves, plot_ours_vs_published
    written = []
    by_dataset: dict = {}
    for r in records:
        by_dataset.setdefault(r["dataset"], []).append(r)
    for dataset, group in sorted(by_dataset.items()):
        if any(r.get("loss_curve") for r in group):
            written.append(plot_loss_curves(group, folder / f"loss_{_slug(dataset)}.png",
                                            title=f"training loss, {dataset}"))
    rows = comparison_rows(records, published)
    if rows:
        written.append(plot_ours_vs_published(rows, folder / "ours_vs_published.png"))
    for (method, dataset), (emb, seed) in sorted(embeddings.items()):
        name = f"tsne_{_slug(method)}_{_slug(dataset)}_seed{seed}.png"
        # standardised per dimension, as the probes see them: raw embeddings are often
        # dominated by one large shared direction, which t-SNE then draws as a thin curve
        z = emb["z"].double()
        z = (z - z.mean(0)) / z.std(0).clamp_min(1e-12)
        written.append(plot_embedding_tsne(z, emb["y"], folder / name, seed=seed,
                                           title=f"{method} on {dataset}, seed {seed} "
                                                 f"(standardised embeddings)").path)
    return written


def _relative(path, folder) -> str | None:
    if path is None:
        return None
    return os.path.relpath(Path(path).resolve(), Path(folder).resolve())


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in str(text).lower())
