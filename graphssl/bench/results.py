"""The raw results of a benchmark grid: one JSON line per finished cell, appended atomically
enough that a crash or Ctrl-C loses no finished cell and leaves no half-written one."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ..filelock import file_lock, try_file_lock

FORMAT = "graphssl-bench"
VERSION = 1
#: fields that differ between two runs of the same cell (timing, memory, machine state)
#: how a cell was made rather than what it found: times, memory, and where an interrupted cell
#: resumed (its result equals an uninterrupted run's)
VOLATILE = ("seconds", "seconds_per_epoch", "peak_rss_mb", "finished_at", "threads", "peer",
            "pretrain_epochs_here", "resumed_at_epoch", "seconds_before_resume")


class ResultsError(RuntimeError):
    """A results file or folder that cannot be used; the message says what to do."""


class ResultStore:
    """``RESULTS_DIR/results.jsonl``: read the finished cells, append new ones.

    Each line is one record (``format``, ``version``, ``key`` plus the cell's metrics) written
    with a single ``write`` followed by ``flush`` and ``fsync``. A line cut short by a crash has
    no closing newline or is not valid JSON; :meth:`load` drops it (and truncates the file to
    the last complete line), so that cell simply runs again. Appending and repairing hold a lock
    on ``results.jsonl.lock``, so several processes running one grid can share a folder: a
    repair never cuts another process's line. :meth:`claim` marks the cell a process is running.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = self.folder / "results.jsonl"
        self.lock_path = self.folder / "results.jsonl.lock"

    def check_writable(self) -> None:
        """Fail now, before any training, if results cannot be written here."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # a probe name of its own: processes sharing the folder must not remove each other's
            handle, probe = tempfile.mkstemp(prefix=".write-test-", dir=self.folder)
            os.close(handle)
            os.unlink(probe)
        except OSError as err:
            raise ResultsError(f"the results folder {str(self.folder)!r} is not writable "
                               f"({err.strerror or err}); choose another with --results") from err

    def load(self, repair: bool = True) -> list[dict]:
        """Every complete record, in file order. Raises :class:`ResultsError` for a file of
        another format or version (start a new results folder, or re-render it with the
        graphssl that wrote it)."""
        if not self.path.exists():
            return []
        if not repair:  # read only: a line still being written reads as cut short, and stops
            return self._load(False)
        with file_lock(self.lock_path):
            return self._load(True)

    def _load(self, repair: bool) -> list[dict]:
        data = self.path.read_bytes()
        records, good_bytes = [], 0
        for raw in data.splitlines(keepends=True):
            if not raw.endswith(b"\n"):
                break  # cut short by a crash
            try:
                record = json.loads(raw)
            except json.JSONDecodeError:
                break
            if not isinstance(record, dict) or record.get("format") != FORMAT:
                raise ResultsError(f"{str(self.path)!r} is not a graphssl benchmark results file "
                                   f"(line {len(records) + 1} has no format={FORMAT!r})")
            if record.get("version") != VERSION:
                raise ResultsError(
                    f"{str(self.path)!r} was written in results format version "
                    f"{record.get('version')} (graphssl {record.get('versions', {}).get('graphssl')}"
                    f"); this graphssl writes version {VERSION}. Use a new results folder.")
            records.append(record)
            good_bytes += len(raw)
        if good_bytes < len(data) and repair:
            with open(self.path, "r+b") as f:  # drop the half-written tail
                f.truncate(good_bytes)
        return records

    def claim(self, key: str):
        """``with store.claim(key) as mine:`` -- ``mine`` is True while this process holds the
        cell ``key`` (no other process sharing the folder runs it), False if another holds it."""
        return try_file_lock(self.claim_path(key))

    def claim_path(self, key: str) -> Path:
        return self.folder / ".claims" / f"{key}.lock"

    def finished_keys(self) -> set:
        return {r["key"] for r in self.load()}

    def rewrite(self, update) -> int:
        """Replace the records by ``update(records)`` (a list of as many records), holding the
        lock (a process appending meanwhile waits) and atomically (a temporary file renamed
        over the old one: a crash leaves either file whole). Returns how many records changed;
        with none, the file is not touched."""
        if not self.path.exists():
            return 0
        with file_lock(self.lock_path):
            records = self._load(True)
            new = update(records)
            if len(new) != len(records):
                raise ValueError(f"update must return one record per record: {len(records)} "
                                 f"in, {len(new)} out")
            changed = sum(a != b for a, b in zip(records, new))
            if changed:
                tmp = self.path.with_name(self.path.name + ".tmp")
                with open(tmp, "w", encoding="utf-8") as f:
                    f.writelines(json.dumps(r, default=str) + "\n" for r in new)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
        return changed

    def append(self, record: dict) -> None:
        line = json.dumps({"format": FORMAT, "version": VERSION, **record}, default=str) + "\n"
        self.folder.mkdir(parents=True, exist_ok=True)
        with file_lock(self.lock_path), open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


    @property
    def meta_path(self) -> Path:
        return self.folder / "grid.json"

    def write_meta(self, meta: dict) -> None:
        """The grid's name, file and published numbers file, for ``graphssl report``."""
        tmp = self.meta_path.with_name("grid.json.tmp")
        tmp.write_text(json.dumps(meta, indent=2) + "\n")
        os.replace(tmp, self.meta_path)

    def read_meta(self) -> dict:
        return json.loads(self.meta_path.read_text()) if self.meta_path.exists() else {}


def stable_view(record: dict) -> dict:
    """``record`` without the fields that differ between two runs of the same cell (times,
    memory): two complete runs of a grid have equal stable views."""
    return {k: v for k, v in record.items() if k not in VOLATILE}
