"""Per-method, per-dataset configurations shipped with the package (the tuned defaults)."""
from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import json
from importlib import resources

import yaml

SECTIONS = ("protocol", "data", "train", "model")
#: fields :func:`method_config` adds to say where a configuration came from, not what runs:
#: ``tuned`` (the file has a section for the dataset) and ``source`` (the paper it follows).
#: Keys and hashes of what runs leave them out (:func:`training_config`).
METADATA = ("tuned", "source")

#: the settings a configuration's ``data`` section may hold (docs/protocol.md); the graph
#: protocol also writes ``features`` (what the encoder saw) into the recorded configuration,
#: an output, not a setting
DATA_SETTINGS = {
    "batch_size": "graphs, images, clips or texts per mini-batch",
    "normalize_features": "row-normalise node features (node level)",
    "sampler": "a mini-batch sampler for large graphs (node level, docs/distributed.md)",
    "max_degree": "the cap of the degree one-hot for graphs without features ('auto': the "
                  "largest degree)",
    "append_degree": "append the degree one-hot to existing node features",
    "self_loops": "exactly one self-loop per node (graph level)",
    "options": "keyword arguments of an image, clip or text set's loader",
}


def did_you_mean(name, choices) -> str:
    """`` Did you mean: a, b?`` with up to three close matches of ``name``, or ``''``."""
    close = difflib.get_close_matches(str(name).lower(), sorted(choices), n=3, cutoff=0.5)
    return f" Did you mean: {', '.join(close)}?" if close else ""


def check_data_settings(data: dict) -> None:
    """Refuse a ``data`` section with a setting no protocol reads (a typo would otherwise be
    silently ignored)."""
    if not isinstance(data, dict):
        raise ValueError(f"the data section must be a mapping of settings, got {data!r}")
    for key in data:
        if key not in DATA_SETTINGS:
            raise ValueError(f"unknown data setting {key!r}.{did_you_mean(key, DATA_SETTINGS)} "
                             f"Settings: {', '.join(sorted(DATA_SETTINGS))}")


def deep_update(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_update(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@functools.lru_cache(maxsize=None)
def _config_file(name: str) -> dict | None:
    """The parsed ``graphssl/configs/NAME.yaml`` (``None`` if there is none), read once per
    process: a grid asks for it once per cell and key. Callers copy what they use."""
    try:
        text = resources.files("graphssl.configs").joinpath(f"{name}.yaml").read_text()
    except FileNotFoundError:
        return None
    return yaml.safe_load(text)


def method_config(method: str, dataset: str, modality: str | None = None) -> dict:
    """The shipped configuration of ``method`` on ``dataset``: the method's defaults updated
    with its per-dataset section. ``config['tuned']`` says whether such a section exists.

    For an image, video or text set (``modality``), the defaults are the file's
    ``modality_defaults[modality]`` instead of its graph ``defaults``: a ViT shares no setting
    with a GCN."""
    raw = _config_file(method.lower())
    if raw is None:
        return {"protocol": {}, "data": {}, "train": {}, "model": {}, "tuned": False}
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


def training_config(config: dict) -> dict:
    """``config`` without its :data:`METADATA`: what decides a run's result. Adding a dataset
    section that changes no setting, or rewording a file's ``source``, leaves it equal."""
    return {k: v for k, v in config.items() if k not in METADATA}


def override_epochs(config: dict, epochs: int | None):
    """Set the epochs of ``config['train']`` in place (``None``: leave them); a warm-up shrinks
    in proportion, so that a short run keeps the schedule's shape."""
    if epochs is None:
        return
    train = config.setdefault("train", {})
    old = train.get("epochs") or epochs
    if train.get("warmup_epochs"):
        train["warmup_epochs"] = min(int(train["warmup_epochs"] * epochs / old), epochs - 1)
    train["epochs"] = epochs


def config_hash(config: dict) -> str:
    """A short stable hash of a configuration (keys sorted)."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
