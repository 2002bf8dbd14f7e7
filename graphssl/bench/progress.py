"""How far a grid has got: which of its cells have a result, per (method, dataset, task, split,
variant), the measured run time of those that finished, and what that time says about the
cells left. A leaderboard of a grid run in slices (``--only``, several sessions) says what it
does not hold yet; ``graphssl bench GRID --plan`` prints the same without running anything."""
from __future__ import annotations


def grid_progress(cells, records) -> dict:
    """``{'finished', 'total', 'seconds' (summed over the grid's finished cells), 'stale',
    'left_seconds', 'left_unestimated', 'groups': [{'method', 'dataset', 'task', 'split',
    'variant', 'finished', 'total', 'seconds', 'left_seconds'}, ...]}`` in grid order.

    A record counts when its key is one of the grid's cells; ``stale`` counts the records of
    cells the grid no longer has (its file or a shipped configuration changed since they ran).
    A group's ``left_seconds`` estimates its unfinished cells as the mean measured time of its
    finished ones (``None`` when none has finished: nothing measured to go by); the grid's
    ``left_seconds`` sums those estimates and ``left_unestimated`` counts the unfinished cells
    of groups without one. The estimate is only as good as the machine and the load the
    measured cells ran with."""
    done = {r["key"]: r for r in records}
    groups: dict = {}
    for cell in cells:
        key = (cell.method, cell.dataset, cell.task, cell.split, cell.variant)
        group = groups.setdefault(key, {"method": cell.method, "dataset": cell.dataset,
                                        "task": cell.task, "split": cell.split,
                                        "variant": cell.variant, "finished": 0, "total": 0,
                                        "seconds": 0.0})
        group["total"] += 1
        if cell.key in done:
            group["finished"] += 1
            group["seconds"] += done[cell.key].get("seconds") or 0.0
    listed = list(groups.values())
    for g in listed:
        left = g["total"] - g["finished"]
        # a group has at least one cell, so with none finished there is always one left
        g["left_seconds"] = g["seconds"] / g["finished"] * left if g["finished"] else None
    keys = {cell.key for cell in cells}
    return {"finished": sum(g["finished"] for g in listed), "total": len(cells),
            "seconds": sum(g["seconds"] for g in listed),
            "stale": sum(1 for key in done if key not in keys),
            "left_seconds": sum(g["left_seconds"] or 0.0 for g in listed),
            "left_unestimated": sum(g["total"] - g["finished"] for g in listed
                                    if g["left_seconds"] is None),
            "groups": listed}


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _short(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else _duration(seconds)


def render_progress(progress: dict, heading: str = "## Progress of the grid") -> list[str]:
    """Markdown lines: the count of finished cells, their summed run time, the estimated time
    of the cells left, and a table of the groups that are not complete (none when the grid
    is)."""
    lines = ["", heading, "",
             f"{progress['finished']} of {progress['total']} cells finished; their run time, "
             f"summed over cells: {_duration(progress['seconds'])} (cells that ran in parallel "
             f"processes overlap in wall-clock time)."]
    if progress["stale"]:
        lines += ["", f"{progress['stale']} runs in the results file are of cells this grid "
                      f"no longer has (the grid or a shipped configuration changed since they "
                      f"ran): not counted here; the leaderboard lists them apart."]
    missing = [g for g in progress["groups"] if g["finished"] < g["total"]]
    if not missing:
        return lines
    left = progress["total"] - progress["finished"]
    estimated = left - progress["left_unestimated"]
    summary = (f"Estimated run time of the {left} cells left, summed over cells: "
               f"{_duration(progress['left_seconds'])} for the {estimated} whose group has a "
               f"finished cell (each at its group's mean measured time)")
    summary += (f"; the other {progress['left_unestimated']} belong to groups with no "
                f"finished cell, so nothing measured estimates them." if
                progress["left_unestimated"] else ".")
    lines += ["", summary, "",
              "Not complete yet (`graphssl bench GRID` resumes them; `--only` runs a slice):",
              "",
              "| method | dataset | task | split | finished | of | mean per cell | left (est.) |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for g in missing:
        name = f"{g['method']} [{g['variant']}]" if g["variant"] else g["method"]
        mean = _short(g["seconds"] / g["finished"]) if g["finished"] else "-"
        est = "-" if g["left_seconds"] is None else _duration(g["left_seconds"])
        lines.append(f"| {name} | {g['dataset']} | {g['task'] or 'default'} | "
                     f"{g['split'] or 'default'} | {g['finished']} | {g['total']} | {mean} | "
                     f"{est} |")
    return lines
