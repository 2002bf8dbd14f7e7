"""Finished per-run results kept next to the checkpoints: a protocol rerun after an
interruption (or a second process sharing the checkpoint folder) redoes neither the training
nor the probe of a run that finished. Each result is written atomically with the hash of the
configuration it came from; a result of another configuration is ignored."""
from __future__ import annotations

import json
import os
from pathlib import Path


def load_finished(folder, name: str, key_hash: str) -> dict | None:
    """The result saved as ``folder/NAME.json`` for ``key_hash``, else ``None``."""
    path = None if folder is None else Path(folder) / f"{name}.json"
    if path is None or not path.exists():
        return None
    saved = json.loads(path.read_text())
    return saved["result"] if saved.get("config_hash") == key_hash else None


def save_finished(folder, name: str, key_hash: str, result: dict):
    """Write ``result`` to ``folder/NAME.json`` atomically (nothing without a folder)."""
    if folder is None:
        return
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path, tmp = folder / f"{name}.json", folder / f"{name}.json.tmp"
    tmp.write_text(json.dumps({"config_hash": key_hash, "result": result}, default=str))
    os.replace(tmp, path)


def run_key(config: dict) -> str:
    """The hash a per-run result is kept under: the whole configuration except how many and
    which runs were asked for (run ``r`` gives the same result in any set of runs) and its
    metadata (:func:`graphssl.bench.config.training_config`)."""
    from .config import config_hash, training_config

    protocol = {k: v for k, v in (config.get("protocol") or {}).items()
                if k not in ("runs", "run_ids")}
    return config_hash({**training_config(config), "protocol": protocol})
