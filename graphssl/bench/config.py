"""Per-method, per-dataset configurations shipped with the package (the tuned defaults)."""
from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources

import yaml

SECTIONS = ("protocol", "data", "train", "model")


def deep_update(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_update(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def method_config(method: str, dataset: str, modality: str | None = None) -> dict:
    """The shipped configuration of ``method`` on ``dataset``: the method's defaults updated
    with its per-dataset section. ``config['tuned']`` says whether such a section exists.

    For an image, video or text set (``modality``), the defaults are the file's
    ``modality_defaults[modality]`` instead of its graph ``defaults``: a ViT shares no setting
    with a GCN."""
    name = method.lower()
    try:
        text = resources.files("graphssl.configs").joinpath(f"{name}.yaml").read_text()
    except FileNotFoundError:
        return {"protocol": {}, "data": {}, "train": {}, "model": {}, "tuned": False}
    raw = yaml.safe_load(text)
    per_dataset = raw.get("datasets", {}) or {}
    key = dataset.lower()
    if modality is not None:
        base = (raw.get("modality_defaults") or {}).get(modality)
        if base is None:
            raise ValueError(f"{method} has no configuration for {modality} data (no "
                             f"modality_defaults.{modality} in its config file)")
    else:
        base = raw.get("defaults", {})
    config = deep_update(base, per_dataset.get(key, {}))
    for section in SECTIONS:
        config.setdefault(section, {})
    config["tuned"] = key in per_dataset
    config["source"] = raw.get("source")
    return config


def config_hash(config: dict) -> str:
    """A short stable hash of a configuration (keys sorted)."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
