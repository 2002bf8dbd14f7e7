"""How far a grid has got: which of its cells have a result, per (method, dataset, task, split,
variant), and the measured run time of those that finished. A leaderboard of a grid run in
slices (``--only``, several sessions) says what it does not hold yet."""
from __future__ import annotations


def grid_progress(cells, records) -> dict:
    """``{'finished', 'total', 'seconds' (summed over the grid's finished cells), 'stale',
    'groups': [{'method', 'dataset', 'task', 'split', 'variant', 'finished', 'total'}, ...]}``
    in grid order. A record counts when its key is one of the grid's cells; ``stale`` counts
    the records of cells the grid no longer has (its file or a shipped configuration changed
    since they ran)."""
    done = {r["key"]: r for r in records}
    groups: dict = {}
    seconds = 0.0
    for cell in cells:
        key = (cell.method, cell.dataset, cell.task, cell.split, cell.variant)
        group = groups.setdefault(key, {"method": cell.method, "dataset": cell.dataset,
                                        "task": cell.task, "split": cell.split,
                                        "variant": cell.variant, "finished": 0, "total": 0})
        group["total"] += 1
        if cell.key in done:
            group["finished"] += 1
            seconds += done[cell.key].get("seconds") or 0.0
    listed = list(groups.values())
    keys = {cell.key for cell in cells}
    return {"finished": sum(g["finished"] for g in listed), "total": len(cells),
            "seconds": seconds, "stale": sum(1 for key in done if key not in keys),
            "groups": listed}


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def render_progress(progress: dict) -> list[str]:
    """Markdown lines: the count of finished cells, their summed run time, and a table of the
    groups that are not complete (none when the grid is)."""
    lines = ["", "## Progress of the grid", "",
             f"{progress['finished']} of {progress['total']} cells finished; their run time, "
             f"summed over cells: {_duration(progress['seconds'])} (cells that ran in parallel "
             f"processes overlap in wall-clock time)."]
    if progress["stale"]:
        lines += ["", f"{progress['stale']} of the runs above are of cells this grid no longer "
                      f"has (the grid or a shipped configuration changed since they ran); they "
                      f"are not counted here."]
    missing = [g for g in progress["groups"] if g["finished"] < g["total"]]
    if missing:
        lines += ["", "Not complete yet (`graphssl bench GRID` resumes them; `--only` runs a "
                      "slice):", "",
                  "| method | dataset | task | split | finished | of |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for g in missing:
            name = f"{g['method']} [{g['variant']}]" if g["variant"] else g["method"]
            lines.append(f"| {name} | {g['dataset']} | {g['task'] or 'default'} | "
                         f"{g['split'] or 'default'} | {g['finished']} | {g['total']} |")
    return lines
