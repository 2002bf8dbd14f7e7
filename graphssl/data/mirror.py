"""Offline mirror: a read-only folder of raw dataset files in PyG/OGB layout.

``GRAPHSSL_MIRROR=DIR`` (or ``mirror=DIR`` / ``--mirror DIR``) makes every loader copy the raw
files it needs from ``DIR`` into its writable root and never touch the network.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import MirrorMissingFileError

MIRROR_ENV = "GRAPHSSL_MIRROR"


def resolve_mirror(mirror: str | os.PathLike | None = None) -> Path | None:
    """The mirror to use: the argument, else ``$GRAPHSSL_MIRROR``, else ``None`` (download)."""
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None
    if mirror is None:
        return None
    path = Path(mirror).expanduser()
    if not path.is_dir():
        raise MirrorMissingFileError(
            f"mirror folder {str(path)!r} does not exist. Point {MIRROR_ENV} (or --mirror) at a "
            f"folder of raw files in PyG/OGB layout, or unset it to download.")
    return path


def copy_from_mirror(mirror: Path, relative_dir: str, root: Path, dataset: str) -> Path:
    """Copy ``mirror/relative_dir`` into ``root/relative_dir`` (raw files only; files already in
    ``root`` are kept). Returns the destination folder. A dataset the mirror lacks is fine when
    ``root`` already holds its raw files (placed there by hand, e.g. ``MOSES/raw/train.csv``)."""
    source, destination = mirror / relative_dir, root / relative_dir
    if not source.is_dir():
        if any((destination / "raw").glob("*")):
            return destination
        available = sorted(str(p.relative_to(mirror)) for p in mirror.glob("*/*") if p.is_dir())
        raise MirrorMissingFileError(
            f"dataset {dataset!r} is not in the mirror: expected the folder {str(source)!r}. "
            f"The mirror holds: {', '.join(available) or 'nothing'}. Add the raw files there, or "
            f"unset {MIRROR_ENV} to download.")
    for path in source.rglob("*"):
        rel = path.relative_to(source)
        if "processed" in rel.parts or not path.is_file():
            continue
        target = destination / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".part")
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)  # a crash never leaves a half-copied raw file behind
    return destination


def offline_class(cls, dataset: str, mirror: Path, root: Path):
    """A subclass of the PyG/OGB dataset class ``cls`` (same name) whose ``download`` refuses to
    go online and names the raw files missing from the mirror instead."""

    def download(self):
        missing = []
        for p in self.raw_paths:
            if not os.path.exists(p):
                try:
                    missing.append(str(mirror / Path(p).resolve().relative_to(root.resolve())))
                except ValueError:
                    missing.append(p)
        raise MirrorMissingFileError(
            f"the mirror {str(mirror)!r} lacks raw files of {dataset!r}: "
            f"{', '.join(missing)}. Copy them into the mirror (same layout), or unset "
            f"{MIRROR_ENV} to download.")

    return type(cls.__name__, (cls,), {"download": download})
