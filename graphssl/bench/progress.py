"""How far a grid has got: which of its cells have a result, per (method, dataset, task, split,
variant), the measured run time of those that finished, and what that time says about the
cells left. A leaderboard of a grid run in slices (``--only``, several sessions) says what it
does not hold yet; ``graphssl bench GRID --plan`` prints the same without running anything."""
from __future__ import annotations


def grid_progress(cells, records, training: dict | None = None) -> dict:
    """``{'finished', 'total', 'seconds' (summed over the grid's finished cells), 'stale',
    'running', 'left_seconds', 'left_unestimated', 'groups': [{'method', 'dataset', 'task',
    'split', 'variant', 'finished', 'total', 'seconds', 'running', 'left_seconds'}, ...]}`` in
    grid order.

    A record counts when its key is one of the grid's cells; ``stale`` counts the records of
    cells the grid no longer has (its file or a shipped configuration changed since they ran).
    ``training`` (``{cell key: {'epoch', 'epochs', 'seconds'}}``, :func:`checkpointed_training`)
    adds the unfinished cells whose training is checkpointed: a group's ``running`` lists them
    as ``{'seed', 'epoch', 'epochs', 'seconds'}``, and the grid's ``running`` counts them.

    A group's ``left_seconds`` estimates its unfinished cells: a checkpointed one at its own
    measured seconds per epoch times its epochs left; any other at the mean measured time of
    the group's finished cells or, with none finished, at the group's checkpointed seconds per
    epoch times the configured epochs (checkpoint estimates count training epochs only, and
    early stopping may end a run sooner). ``None`` when the group has neither: nothing measured
    to go by. The grid's ``left_seconds`` sums the estimates and ``left_unestimated`` counts the
    unfinished cells of groups without one. An estimate is only as good as the machine and the
    load the measured cells ran with."""
    done = {r["key"]: r for r in records}
    training = training or {}
    groups: dict = {}
    for cell in cells:
        key = (cell.method, cell.dataset, cell.task, cell.split, cell.variant)
        group = groups.setdefault(key, {"method": cell.method, "dataset": cell.dataset,
                                        "task": cell.task, "split": cell.split,
                                        "variant": cell.variant, "finished": 0, "total": 0,
                                        "seconds": 0.0, "running": []})
        group["total"] += 1
        if cell.key in done:
            group["finished"] += 1
            group["seconds"] += done[cell.key].get("seconds") or 0.0
        elif cell.key in training:
            group["running"].append({"seed": cell.seed, **training[cell.key]})
    listed = list(groups.values())
    for g in listed:
        g["left_seconds"] = _left_seconds(g)
    keys = {cell.key for cell in cells}
    return {"finished": sum(g["finished"] for g in listed), "total": len(cells),
            "seconds": sum(g["seconds"] for g in listed),
            "stale": sum(1 for key in done if key not in keys),
            "running": sum(len(g["running"]) for g in listed),
            "left_seconds": sum(g["left_seconds"] or 0.0 for g in listed),
            "left_unestimated": sum(g["total"] - g["finished"] for g in listed
                                    if g["left_seconds"] is None),
            "groups": listed}


def _left_seconds(group: dict) -> float | None:
    """The estimated time of ``group``'s unfinished cells (see :func:`grid_progress`)."""
    running = group["running"]
    unstarted = group["total"] - group["finished"] - len(running)
    left = sum(r["seconds"] / r["epoch"] * (r["epochs"] - r["epoch"]) for r in running)
    if not unstarted:
        return left
    if group["finished"]:
        return left + group["seconds"] / group["finished"] * unstarted
    if running:  # seconds per epoch over the group's checkpoints, times the configured epochs
        per_epoch = sum(r["seconds"] for r in running) / sum(r["epoch"] for r in running)
        return left + per_epoch * max(r["epochs"] for r in running) * unstarted
    return None


def checkpointed_training(checkpoints: dict) -> dict:
    """``{cell key: {'epoch', 'epochs', 'seconds'}}`` from ``{cell key: checkpoint path}``: the
    epochs each checkpoint has trained, the epochs its run is configured for, and the seconds
    those epochs took (summed over its history, across resumes). Missing files are left out;
    so are unreadable ones, which the run itself reports when it reaches them. The tensors are
    memory-mapped, not read."""
    from ..train.checkpoint import CheckpointError, load_checkpoint
    out = {}
    for key, path in checkpoints.items():
        try:
            state = load_checkpoint(path, mmap=True)
        except (OSError, CheckpointError):
            continue
        epoch, epochs = state.get("epoch"), (state.get("config") or {}).get("epochs")
        if isinstance(epoch, int) and isinstance(epochs, int) and 0 < epoch <= epochs:
            out[key] = {"epoch": epoch, "epochs": epochs,
                        "seconds": sum(r.get("seconds", 0.0) for r in state.get("history", []))}
    return out


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
    running = progress.get("running", 0)
    measured = "a finished or checkpointed cell" if running else "a finished cell"
    if estimated:
        summary = (f"Estimated run time of the {left} cells left, summed over cells: "
                   f"{_duration(progress['left_seconds'])} for the {estimated} whose group has "
                   f"{measured}" + ("" if running else
                                    ", each at its group's mean measured time"))
        summary += (f"; the other {progress['left_unestimated']} belong to groups with no "
                    f"{measured.removeprefix('a ')}, so nothing measured estimates them." if
                    progress["left_unestimated"] else ".")
    else:  # "0 min for the 0 whose group ..." says nothing
        summary = (f"No estimate of the {left} cells left: none belongs to a group with "
                   f"{measured}, so nothing measured estimates them.")
    header = "| method | dataset | task | split | finished | of | mean per cell | left (est.) |"
    if running:
        summary += (
            f" {running} unfinished cells have a checkpoint (stopped, or training in another "
            f"process; \"in progress\" shows their epochs). Each is estimated at its own "
            f"seconds per epoch times its epochs left; a cell not started, at its group's mean "
            f"finished time or, with none finished, at the group's checkpointed seconds per "
            f"epoch times the configured epochs (training only: early stopping may end it "
            f"sooner).")
        header += " in progress |"
    lines += ["", summary, "",
              "Not complete yet (`graphssl bench GRID` resumes them; `--only` runs a slice):",
              "", header, "| --- " * header.count(" | ") + "| --- |"]
    for g in missing:
        name = f"{g['method']} [{g['variant']}]" if g["variant"] else g["method"]
        mean = _short(g["seconds"] / g["finished"]) if g["finished"] else "-"
        est = "-" if g["left_seconds"] is None else _duration(g["left_seconds"])
        row = (f"| {name} | {g['dataset']} | {g['task'] or 'default'} | "
               f"{g['split'] or 'default'} | {g['finished']} | {g['total']} | {mean} | "
               f"{est} |")
        if running:
            row += f" {_in_progress(g['running'])} |"
        lines.append(row)
    return lines


def _in_progress(running: list) -> str:
    """``seed 0: epoch 557 of 2,000 (3.8 s an epoch); ...`` or ``-``."""
    return "; ".join(f"seed {r['seed']}: epoch {r['epoch']:,} of {r['epochs']:,} "
                     f"({r['seconds'] / r['epoch']:.2g} s an epoch)" for r in running) or "-"
