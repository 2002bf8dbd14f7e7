"""An inter-process lock on a file, for work that several processes may start at once on the same
folder: processes running one benchmark grid on one results folder, or DDP ranks and parallel
jobs preparing the same dataset (PyG writes ``processed/`` without a lock, and a second process
reading a half-written file fails)."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock (one process per folder there)
    fcntl = None


def _open(path) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)


@contextlib.contextmanager
def file_lock(path, read_only_ok: bool = False):
    """Hold an exclusive lock on ``path`` (created if missing, left in place) for the ``with``
    block; another process entering the same lock waits until it is released. The lock is the
    kernel's (``flock``): a process that dies releases it.

    ``read_only_ok=True``: where the lock file cannot be created (a read-only folder, which no
    process can write either, so there is nothing to guard), run the block without a lock
    instead of failing.

    Example:
        >>> with file_lock(root / ".cora.lock"):
        ...     dataset = Planetoid(root, "Cora")  # processed once, read by the others
    """
    try:
        fd = _open(path)
    except OSError:
        if not read_only_ok:
            raise
        fd = None
    try:
        if fd is not None and fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def try_file_lock(path):
    """Like :func:`file_lock`, but never waits: yields ``True`` with the lock held, or ``False``
    at once when another holder has it (then nothing is held).

    Example:
        >>> with try_file_lock(claims / f"{key}.lock") as mine:
        ...     if mine:
        ...         run(cell)  # no other process runs this cell meanwhile
    """
    fd = _open(path)
    try:
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except BlockingIOError:
            held = False
        yield held
    finally:
        os.close(fd)
