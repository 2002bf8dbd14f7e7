"""Moving results and checkpoints written under a cell's legacy key to its current one.

Until 2026-12-07 a cell's key also hashed its configuration's metadata (``tuned``, ``source``:
where a setting came from, not what runs), so rewording a config file's ``source`` or adding a
dataset section that changes no setting made every finished cell of that method look new.
:attr:`graphssl.bench.grid.Cell.key` now hashes what runs only. A results folder written
before keeps its work, including cells that ran before their method's file gained a section
for the dataset (:attr:`graphssl.bench.grid.Cell.legacy_keys` tries both ``tuned`` values):
readers (``--plan``, ``graphssl report``) see its records under the
current keys (:func:`rekeyed`), and ``graphssl bench`` rewrites them once
(:func:`migrate_legacy_keys`), with the checkpoints of unfinished cells.

Until a second change later that day, the key of a cell whose grid sets ``epochs`` hashed the
shipped configuration (its ``train.epochs``, which the grid's replace) rather than the
configuration that trains, so editing a shipped ``train.epochs`` made such cells look new. That key is the cell's third
legacy key, moved the same way.
"""
from __future__ import annotations

import os

from ..filelock import try_file_lock
from .results import ResultStore


def legacy_keys(cells) -> dict:
    """``{legacy key: key}`` for ``cells`` (two or three legacy keys a cell,
    :attr:`graphssl.bench.grid.Cell.legacy_keys`)."""
    return {old: cell.key for cell in cells for old in cell.legacy_keys}


def rekeyed(records: list[dict], cells) -> list[dict]:
    """``records`` with each legacy key of one of ``cells`` replaced by that cell's key (copies
    of the changed records; the others as they are)."""
    return _rekeyed(records, legacy_keys(cells))


def _rekeyed(records: list[dict], moved: dict) -> list[dict]:
    return [{**r, "key": moved[r["key"]]} if r.get("key") in moved else r for r in records]


def migrate_legacy_keys(store: ResultStore, cells) -> tuple[int, int]:
    """Rewrite ``store``'s records of ``cells`` written under legacy keys to the current keys
    (atomically, holding the store's lock, so that a process appending meanwhile waits), and
    rename the checkpoint folders ``.checkpoints/cell-LEGACY`` to ``cell-KEY`` (those of cells
    no other process is running). Returns ``(records rewritten, folders renamed)``."""
    moved = legacy_keys(cells)
    rewritten = store.rewrite(lambda records: _rekeyed(records, moved))
    renamed = 0
    checkpoints = store.folder / ".checkpoints"
    for old in sorted(checkpoints.glob("cell-*")) if checkpoints.exists() else ():
        legacy = old.name.removeprefix("cell-")
        target = checkpoints / f"cell-{moved.get(legacy)}"
        if legacy not in moved or target.exists():
            continue
        with try_file_lock(store.claim_path(legacy)) as free:
            if free:  # a process of an older graphssl may be training it under this name
                os.replace(old, target)
                renamed += 1
    return rewritten, renamed
