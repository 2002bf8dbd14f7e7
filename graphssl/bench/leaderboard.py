"""The Markdown leaderboard of a benchmark grid: mean ± std over seeds per cell, next to the
published number with its source, the difference, time and memory."""
from __future__ import annotations

import statistics
from pathlib import Path

import yaml

from .progress import render_progress

#: test metrics a leaderboard shows, in this order, with their labels
METRICS = (("acc", "accuracy"), ("auc", "AUC"), ("ap", "AP"), ("nmi", "NMI"), ("ari", "ARI"),
           ("rocauc", "ROC-AUC"),
           # images, clips, text: the probes and, measured in the same run, the raw-input
           # baselines (pixels / TF-IDF, copying the last frame)
           ("knn_acc", "kNN accuracy"), ("f1", "micro-F1"), ("subset_acc", "exact set"),
           ("mse", "next-frame MSE ×100"), ("baseline_acc", "raw-input baseline accuracy"),
           ("baseline_f1", "raw-input baseline micro-F1"),
           ("copy_last_mse", "copy-last MSE ×100"))
#: metrics where lower is better (a search selects the lowest validation value)
LOWER_IS_BETTER = ("mse", "copy_last_mse")


def published_key(dataset: str, metric: str, task: str | None) -> str:
    """The key of a result in ``published.yaml``: ``'cora'`` (accuracy), ``'cora-auc'``,
    ``'cora-cluster-nmi'``, ``'ogbg-molbace-rocauc'``."""
    dataset = dataset.lower()
    if task == "cluster":
        return f"{dataset}-cluster-{metric}"
    return dataset if metric == "acc" else f"{dataset}-{metric}"


def load_published(path) -> dict:
    """``published.yaml`` as ``{method: {key: {mean, source, ...}}}`` (``{}`` for no path)."""
    if not path:
        return {}
    return yaml.safe_load(Path(path).read_text()) or {}


def _mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.pstdev(values) if len(values) > 1 else 0.0)


def aggregate(records) -> list[dict]:
    """One row per (method, dataset, task, split) and test metric: mean and population std over
    the seeds, seconds per epoch and the peak memory."""
    groups: dict = {}
    for r in records:
        key = (r["method"], r["dataset"], r.get("task"), r.get("split"), r.get("variant") or "")
        groups.setdefault(key, []).append(r)
    rows = []
    for (method, dataset, task, split, variant), group in groups.items():
        seeds = sorted(r["seed"] for r in group)
        spe, _ = _mean_std([r.get("seconds_per_epoch") for r in group])
        peer, _ = _mean_std([(r.get("peer") or {}).get("ratio") for r in group])
        peer_name = next((r["peer"]["peer"] for r in group if r.get("peer")), None)
        peak = max((r.get("peak_rss_mb") or 0.0) for r in group)
        for metric, label in METRICS:
            mean, std = _mean_std([r["metrics"].get(f"test_{metric}") for r in group])
            if mean is None:
                continue
            val, _ = _mean_std([r["metrics"].get(f"val_{metric}") for r in group])
            rows.append({"method": method, "dataset": dataset, "task": task, "split": split,
                         "variant": variant, "val": val,
                         "metric": metric, "label": label, "mean": mean, "std": std,
                         "seeds": seeds, "seconds_per_epoch": spe, "peak_rss_mb": peak,
                         "peer_ratio": peer, "peer": peer_name})
    return rows


def with_published(rows, published: dict) -> list[dict]:
    """Each row with ``published`` (percent) and ``source`` where ``published.yaml`` has it."""
    out = []
    for row in rows:
        entry = (published.get(row["method"]) or {}).get(
            published_key(row["dataset"], row["metric"], row["task"]))
        out.append({**row, "published": entry.get("mean") if entry else None,
                    "source": entry.get("source") if entry else None})
    return out


def render(records, published: dict | None = None, title: str = "Leaderboard",
           progress: dict | None = None, stale=()) -> str:
    """Markdown: one table row per (method, dataset, task, split, metric) and the searches'
    choices; with ``progress`` (:func:`graphssl.bench.progress.grid_progress`), the grid's
    unfinished cells after it; ``stale`` records (cells the grid no longer has) get the same
    tables in a section of their own at the end."""
    lines = [f"# {title}", "",
             f"{len(records)} runs. Ours: mean ± population std over seeds, in percent; diff = "
             f"ours − published; × peer: our seconds per epoch over the peer library's "
             f"implementation (same encoder and graph, interleaved timing); peak MiB: the "
             f"process's peak so far. Re-render with `graphssl report RESULTS_DIR`.", ""]
    lines += _results(records, published or {}, "##")
    if progress is not None:
        lines += render_progress(progress)
    if stale:
        lines += ["", "## Runs of cells the grid no longer has", "",
                  f"{len(stale)} runs whose configuration no cell of the grid has now (a shipped "
                  f"configuration or the grid file changed since they ran): kept in "
                  f"`results.jsonl` for the record, counted in no table above.", ""]
        lines += _results(stale, published or {}, "###")
    return "\n".join(lines) + "\n"


def _results(records, published: dict, heading: str) -> list[str]:
    """The results table, then the variants the searches chose (sections at ``heading``)."""
    rows = with_published(aggregate(records), published)
    lines = _table(rows)
    chosen = selected_on_validation(rows)
    if chosen:
        lines += ["", f"{heading} Search: the variant with the best mean validation score", "",
                  "| method | dataset | task / split | metric | variant | validation | test |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for r in chosen:
            where = " / ".join(str(x) for x in (r["task"], r["split"]) if x)
            lines.append(f"| {r['method']} | {r['dataset']} | {where} | {r['label']} | "
                         f"{r['variant']} | {100 * r['val']:.2f} | {100 * r['mean']:.2f} ± "
                         f"{100 * r['std']:.2f} |")
    nested = selected_by_nested_cv(records)
    if nested:
        lines += ["", f"{heading} Search by nested cross-validation (graph classification)", "",
                  "In every outer fold of every seed, the variant with the best inner-CV "
                  "accuracy on that fold's training part is scored on the held-out fold; "
                  "\"chosen\" counts the folds each variant won.", "",
                  "| method | dataset | split | seeds | test (selected) | published | diff | "
                  "chosen |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in nested:
            entry = (published.get(r["method"]) or {}).get(
                published_key(r["dataset"], "acc", "graph")) or {}
            pub = entry.get("mean")
            pub_text = "—" if pub is None else f"{pub:.2f}"
            diff = "—" if pub is None else f"{100 * r['mean'] - pub:+.2f}"
            chosen = ", ".join(f"{v}: {n}" for v, n in r["chosen"].items() if n)
            lines.append(f"| {r['method']} | {r['dataset']} | {r['split']} | {len(r['seeds'])} "
                         f"| {100 * r['mean']:.2f} ± {100 * r['std']:.2f} | {pub_text} | "
                         f"{diff} | {chosen} |")
    return lines


def _table(rows) -> list[str]:
    lines = ["| method | dataset | task / split | metric | ours | seeds | published | diff | "
             "s / epoch | × peer | peak MiB | source |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in sorted(rows, key=lambda r: (r["dataset"], r["task"] or "", r["metric"],
                                         r["method"], r["variant"])):
        ours = f"{100 * r['mean']:.2f} ± {100 * r['std']:.2f}"
        pub = "—" if r["published"] is None else f"{r['published']:.2f}"
        diff = "—" if r["published"] is None else f"{100 * r['mean'] - r['published']:+.2f}"
        spe = "—" if r["seconds_per_epoch"] is None else f"{r['seconds_per_epoch']:.3f}"
        where = " / ".join(str(x) for x in (r["task"], r["split"]) if x)
        peer = "—" if r["peer_ratio"] is None else f"{r['peer_ratio']:.2f} ({r['peer']})"
        name = f"{r['method']} [{r['variant']}]" if r["variant"] else r["method"]
        lines.append(f"| {name} | {r['dataset']} | {where} | {r['label']} | {ours} | "
                     f"{len(r['seeds'])} | {pub} | {diff} | {spe} | {peer} | "
                     f"{r['peak_rss_mb']:.0f} | {r['source'] or ''} |")
    return lines


def selected_by_nested_cv(records) -> list[dict]:
    """Graph-classification searches, selected without their test folds: for each (method,
    dataset, split) searched over variants and each seed that every variant has finished, in
    each outer fold the variant with the best inner-CV accuracy (``fold_inner_acc``: the
    chosen C's mean accuracy over the inner folds of that fold's training part) is taken, and
    its accuracy on the held-out fold counted (ties: the first variant in record order). All
    variants of a seed share the outer folds (they are seeded by it). Returns one row per group
    with the mean and population std over seeds of the selected accuracy, the ``seeds`` and
    ``chosen`` (folds won per variant)."""
    groups: dict = {}
    for r in records:
        if r.get("variant") and r.get("task") == "graph" and r.get("fold_inner_acc") \
                and None not in r["fold_inner_acc"]:
            groups.setdefault((r["method"], r["dataset"], r.get("split")), []).append(r)
    out = []
    for (method, dataset, split), group in groups.items():
        variants = list(dict.fromkeys(r["variant"] for r in group))
        if len(variants) < 2:
            continue
        by_seed: dict = {}
        for r in group:
            by_seed.setdefault(r["seed"], {})[r["variant"]] = r
        chosen, per_seed, seeds = dict.fromkeys(variants, 0), [], []
        for seed, cells in sorted(by_seed.items()):
            if len(cells) < len(variants) or len({len(c["fold_acc"]) for c in cells.values()}) > 1:
                continue  # a variant of this seed is missing (still running) or ran other folds
            accs = []
            for fold in range(len(cells[variants[0]]["fold_acc"])):
                best = max(variants, key=lambda v: cells[v]["fold_inner_acc"][fold])
                chosen[best] += 1
                accs.append(cells[best]["fold_acc"][fold])
            per_seed.append(statistics.fmean(accs))
            seeds.append(seed)
        if per_seed:
            mean, std = _mean_std(per_seed)
            out.append({"method": method, "dataset": dataset, "split": split, "mean": mean,
                        "std": std, "seeds": seeds, "chosen": chosen})
    return out


def selected_on_validation(rows) -> list[dict]:
    """For each (method, dataset, task, split, metric) searched over variants, the row whose
    mean **validation** score is best (highest; lowest for an error such as MSE; ties: the
    first variant in grid order); the test score is only reported, never compared. Graph
    classification has no validation score: see :func:`selected_by_nested_cv`."""
    groups: dict = {}
    for r in rows:
        if r["variant"] and r["val"] is not None:
            groups.setdefault((r["method"], r["dataset"], r["task"], r["split"], r["metric"]),
                              []).append(r)
    return [min(group, key=lambda r: r["val"]) if group[0]["metric"] in LOWER_IS_BETTER
            else max(group, key=lambda r: r["val"]) for group in groups.values()]


def comparison_rows(records, published: dict) -> list[dict]:
    """Rows for :func:`graphssl.bench.plots.plot_ours_vs_published` (percent)."""
    return [{"label": f"{r['method']} / {r['dataset']} / {r['label']}", "ours": 100 * r["mean"],
             "ours_std": 100 * r["std"], "published": r["published"]}
            for r in with_published(aggregate(records), published)]
