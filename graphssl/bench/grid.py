"""Benchmark grids: a YAML file of methods x datasets x splits x seeds, validated as a whole
(unknown names, unaccepted hyperparameters) before anything trains, and expanded into cells
keyed by a hash of their full configuration."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..methods import METHODS
from .config import (SECTIONS, check_data_settings, config_hash, deep_update, did_you_mean,
                     method_config, override_epochs, training_config)
from .pretrain import default_graph_task

TASKS = ("node", "cluster", "link", "graph", "transfer")
GRID_KEYS = ("methods", "datasets", "seeds", "splits", "tasks", "epochs", "set", "per_method",
             "peers", "search")
TOP_KEYS = ("name", "description", "grids", "published")


class GridError(ValueError):
    """A benchmark grid that cannot run; the message names the file, line and fix."""


@dataclass(frozen=True)
class Cell:
    """One run of the grid: a method on a dataset with one seed (run id), its split family and
    task (``None``: the method's protocol), and its configuration overrides."""

    method: str
    dataset: str
    seed: int
    split: str | None = None
    task: str | None = None
    epochs: int | None = None
    overrides: dict = field(default_factory=dict, compare=False, hash=False)
    #: time the peer library's implementation next to ours (graphssl.bench.peers); not part of
    #: the key: it adds a timing, not a result
    peers: bool = field(default=False, compare=False)
    #: the hyperparameter-search variant (``'model.temperature=0.5'``), ``''`` outside a search
    variant: str = ""

    @property
    def config(self) -> dict:
        """The full configuration the cell runs: the shipped one for its method and dataset,
        updated with the grid's overrides."""
        return deep_update(method_config(self.method, self.dataset), self.overrides)

    @property
    def run_config(self) -> dict:
        """:attr:`config` as it trains: with the grid's ``epochs`` set, ``train.epochs`` is
        theirs and a warm-up shrinks in proportion
        (:func:`graphssl.bench.config.override_epochs`, as the run applies them)."""
        config = self.config
        override_epochs(config, self.epochs)
        return config

    @property
    def key(self) -> str:
        """Hash of everything that determines the result: a rerun with the same key is the same
        experiment and is skipped. It hashes :attr:`run_config`, so a shipped ``train.epochs``
        that the grid's ``epochs`` replace counts only through what it changes (the scaled
        warm-up). The configuration's metadata (``tuned``, ``source``) is not part of it
        (:func:`graphssl.bench.config.training_config`)."""
        return config_hash(self._identity(training_config(self.run_config)))

    @property
    def legacy_keys(self) -> tuple[str, ...]:
        """Keys older graphssl versions gave this cell, whose results and checkpoints are moved
        to :attr:`key` (:mod:`graphssl.bench.rekey`). Until 2026-12-07 the key also hashed the
        metadata: first with the configuration's ``tuned`` flag as it is now (the key such a
        version computes today), then with it flipped (the key of a cell that ran before its
        method's file gained, or lost, a section for the dataset that changes no setting); a
        ``source`` reworded since cannot be undone, and its cells run again. Then, until a
        second change later that day, the key of a cell whose grid sets ``epochs`` hashed the
        shipped configuration (its own ``train.epochs``) rather than :attr:`run_config`: that
        key comes third. A legacy key equal to :attr:`key` is left out."""
        config = self.config
        tuned = bool(config.get("tuned"))
        keys = [config_hash(self._identity({**config, "tuned": flag}))
                for flag in (tuned, not tuned)]
        if self.epochs is not None:
            keys.append(config_hash(self._identity(training_config(config))))
        key = self.key
        return tuple(k for k in keys if k != key)

    def _identity(self, config: dict) -> dict:
        return {"method": self.method, "dataset": self.dataset, "seed": self.seed,
                "split": self.split, "task": self.task, "epochs": self.epochs, "config": config}

    def label(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in (("split", self.split), ("task", self.task))
                        if v) + (f" [{self.variant}]" if self.variant else "")
        return f"{self.method} / {self.dataset} / seed {self.seed}{extra}"


@dataclass
class Grid:
    name: str
    path: Path
    cells: list
    published: Path | None = None


def _line(node) -> int:
    return node.start_mark.line + 1


def _located(root) -> dict:
    """``{id(value) path: line}`` for every scalar of the composed YAML document, keyed by its
    path of keys and indices."""
    lines = {}

    def walk(node, path):
        lines[path] = _line(node)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                lines[path + (k.value,)] = _line(k)
                walk(v, path + (k.value,))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, path + (i,))
    if root is not None:
        walk(root, ())
    return lines


def _accepted_model_keys(method: str) -> tuple[set, bool]:
    params = inspect.signature(METHODS[method].from_config).parameters
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return {n for n in params if n not in ("cls", "in_channels")}, var_kw


def _trainer_keys() -> set:
    from ..train import Trainer
    return {n for n in inspect.signature(Trainer.__init__).parameters
            if n not in ("self", "seed", "progress", "checkpoint_dir", "checkpoint_seconds",
                         "log_path")}


def _as_list(value):
    return value if isinstance(value, list) else [value]


def load_grid(path) -> Grid:
    """Read and validate a grid file; raise :class:`GridError` (file, line, close matches, fix)
    on the first problem, before any dataset is loaded or any model trained.

    Format::

        name: quick
        published: ../published.yaml      # optional, relative to this file
        grids:
          - methods: [dgi, grace]
            datasets: [Cora, CiteSeer]
            seeds: [0, 1, 2]              # run ids: seed r, random split r
            splits: [public]              # optional: split families (default: the protocol's)
            tasks: [node]                 # optional: node, cluster, link, graph, transfer
            epochs: 50                    # optional: override every method's epochs
            set: {train: {lr: 0.001}}     # optional: overrides for every method
            per_method:                   # optional: overrides for one method
              grace: {model: {temperature: 0.5}}
            peers: true                   # optional: time PyG's DGI / GAE / VGAE next to ours
            search:                       # optional: every combination is a variant; the
              model.temperature: [0.2, 0.5]   # leaderboard selects one per cell group on the
              train.lr: [0.001, 0.01]         # validation metric (node and link tasks only)
    """
    from ..data import UnknownDatasetError, dataset_spec

    path = Path(path)
    if not path.is_file():
        raise GridError(f"benchmark config {str(path)!r} does not exist")
    text = path.read_text()
    try:
        root = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise GridError(f"{path}: not valid YAML: {err}") from err
    lines = _located(root)

    def fail(where, msg):
        line = lines.get(tuple(where))
        raise GridError(f"{path}:{line}: {msg}" if line else f"{path}: {msg}")

    if not isinstance(raw, dict) or not isinstance(raw.get("grids"), list) or not raw["grids"]:
        fail((), "a benchmark config needs a non-empty 'grids:' list (see graphssl.bench.grid)")
    for key in raw:
        if key not in TOP_KEYS:
            fail((key,), f"unknown key {key!r}.{did_you_mean(key, TOP_KEYS)} Allowed: "
                         f"{', '.join(TOP_KEYS)}")
    published = None
    if raw.get("published"):
        published = (path.parent / raw["published"]).resolve()
        if not published.is_file():
            fail(("published",), f"published numbers file {str(published)!r} does not exist")
    cells, trainer_keys = [], _trainer_keys()
    for g, grid in enumerate(raw["grids"]):
        at = ("grids", g)
        if not isinstance(grid, dict):
            fail(at, "each grid is a mapping with methods, datasets and seeds")
        for key in grid:
            if key not in GRID_KEYS:
                fail(at + (key,), f"unknown grid key {key!r}.{did_you_mean(key, GRID_KEYS)} Allowed: "
                                  f"{', '.join(GRID_KEYS)}")
        for key in ("methods", "datasets", "seeds"):
            if not grid.get(key):
                fail(at, f"grid {g} needs a non-empty {key!r} list")
        methods = [str(m).strip().lower().replace("_", "-") for m in _as_list(grid["methods"])]
        for i, m in enumerate(methods):
            if m not in METHODS:
                fail(at + ("methods", i), f"unknown method {m!r}.{did_you_mean(m, METHODS)} "
                                          f"Registered: {', '.join(sorted(METHODS))}")
        datasets = []
        for i, d in enumerate(_as_list(grid["datasets"])):
            try:
                datasets.append(dataset_spec(str(d)).name)
            except UnknownDatasetError as err:
                fail(at + ("datasets", i), str(err))
        seeds = _as_list(grid["seeds"])
        for i, s in enumerate(seeds):
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                fail(at + ("seeds", i), f"seeds are run ids >= 0, got {s!r}")
        splits = _as_list(grid.get("splits") or [None])
        for i, s in enumerate(splits):
            if s not in (None, "public", "random", "ogb", "wikics"):
                fail(at + ("splits", i), f"unknown split family {s!r}; use public, random, "
                                         f"ogb or wikics")
        tasks = _as_list(grid.get("tasks") or [None])
        for i, t in enumerate(tasks):
            if t is not None and t not in TASKS:
                fail(at + ("tasks", i), f"unknown task {t!r}.{did_you_mean(t, TASKS)} Tasks: "
                                        f"{', '.join(TASKS)}")
        epochs = grid.get("epochs")
        if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int)
                                   or epochs < 1):
            fail(at + ("epochs",), f"epochs must be a positive integer, got {epochs!r}")
        peers = grid.get("peers", False)
        if not isinstance(peers, bool):
            fail(at + ("peers",), f"peers must be true or false, got {peers!r}")
        variants = _variants(grid.get("search"), lambda w, msg: fail(at + ("search",) + w, msg))
        common = grid.get("set") or {}
        per_method = grid.get("per_method") or {}
        for m in per_method:
            if str(m).lower() not in methods:
                fail(at + ("per_method", m), f"per_method names {m!r}, which is not in this "
                                             f"grid's methods {methods}")
        for m in methods:
            base = deep_update(common, per_method.get(m) or {})
            where = at + (("per_method", m) if m in per_method else ("set",))
            _check_overrides(m, base, trainer_keys, lambda msg, w=where: fail(w, msg))
            for name, values in variants:
                _check_overrides(m, values, trainer_keys,
                                 lambda msg, w=at + ("search",): fail(w, msg))
            for d in datasets:
                _check_level(m, d, lambda msg, w=at + ("datasets",): fail(w, msg))
                for split in splits:
                    for task in tasks:
                        if variants[0][0]:
                            _check_searchable(m, d, task, base, lambda msg, w=at + ("search",):
                                              fail(w, msg))
                        for name, values in variants:
                            overrides = deep_update(base, values)
                            for seed in seeds:
                                cells.append(Cell(m, d, seed, split, task, epochs, overrides,
                                                  peers, name))
    keys = [c.key for c in cells]
    if len(set(keys)) != len(keys):
        raise GridError(f"{path}: the grids list the same cell twice; remove the duplicate")
    return Grid(str(raw.get("name") or path.stem), path, cells, published)


def _check_overrides(method, overrides, trainer_keys, fail):
    if not isinstance(overrides, dict):
        fail(f"overrides must be a mapping of sections ({', '.join(SECTIONS)})")
    for section in overrides:
        if section not in SECTIONS:
            fail(f"unknown section {section!r}.{did_you_mean(section, SECTIONS)} Sections: "
                 f"{', '.join(SECTIONS)}")
    accepted, var_kw = _accepted_model_keys(method)
    for key in (overrides.get("model") or {}):
        if key not in accepted and not var_kw:
            fail(f"method {method!r} does not accept the hyperparameter {key!r}."
                 f"{did_you_mean(key, accepted)} It accepts: {', '.join(sorted(accepted))}")
    for key in (overrides.get("train") or {}):
        if key not in trainer_keys:
            fail(f"unknown training setting {key!r}.{did_you_mean(key, trainer_keys)} Settings: "
                 f"{', '.join(sorted(trainer_keys))}")
    try:
        check_data_settings(overrides.get("data") or {})
    except ValueError as err:
        fail(str(err))


def _variants(search, fail) -> list:
    """``[(name, overrides)]``: one per combination of the searched values (``[('', {})]``
    without a search)."""
    import itertools
    if not search:
        return [("", {})]
    if not isinstance(search, dict):
        fail((), "search maps SECTION.KEY to a list of values, e.g. model.temperature: [0.2, 0.5]")
    keys = list(search)
    for key in keys:
        parts = str(key).split(".")
        if len(parts) < 2 or parts[0] not in SECTIONS or parts[0] == "protocol":
            fail((key,), f"search keys are SECTION.KEY with SECTION one of model, train, data, "
                         f"got {key!r}")
        if not isinstance(search[key], list) or not search[key]:
            fail((key,), f"search {key}: give a non-empty list of values")
    out = []
    for combo in itertools.product(*(search[k] for k in keys)):
        overrides: dict = {}
        for key, value in zip(keys, combo):
            nested = value
            for part in reversed(str(key).split(".")):
                nested = {part: nested}
            overrides = deep_update(overrides, nested)
        out.append((",".join(f"{k}={v}" for k, v in zip(keys, combo)), overrides))
    return out


def _check_searchable(method, dataset, task, overrides, fail):
    """A search selects on data the reported test score never sees: node classification and
    link prediction select on their validation split, graph classification by nested
    cross-validation (in each outer fold, on the inner-CV accuracy of its training part, which
    needs a grid of C); clustering and transfer have nothing to select on."""
    from ..data import MODALITIES, dataset_spec
    spec = dataset_spec(dataset)
    if spec.task in MODALITIES:  # images, clips, text: a fixed validation part
        return
    if spec.task == "graph":
        config = deep_update(method_config(method, dataset), overrides)
        if (task or default_graph_task(spec.name, config["protocol"].get("task"))) == "transfer":
            fail(f"search selects on held-out data; the transfer protocol of {dataset} "
                 f"reports its last epoch and selects nothing: drop the search for it")
        Cs = (config["protocol"].get("svm") or {}).get("Cs")
        if Cs is not None and len(Cs) < 2:
            fail(f"a graph-classification search selects by nested cross-validation on the "
                 f"inner-CV accuracy of C's grid; {method} on {dataset} has a single C "
                 f"({Cs}): give protocol.svm.Cs at least two values")
        return
    if spec.task != "node":
        fail(f"search selects on a validation split; {dataset} is evaluated by cross-validation "
             f"or transfer, which has none here: drop the search for it")
    task = task or method_config(method, dataset)["protocol"].get("task", "node")
    if task not in ("node", "link"):
        fail(f"search selects on a validation split; the {task!r} protocol of {method} has "
             f"none: search node classification or link prediction only")


def _check_level(method, dataset, fail):
    from ..data import MODALITIES, dataset_spec
    task = dataset_spec(dataset).task
    kind = task if task in MODALITIES else "graph"
    if kind not in METHODS[method].modalities:
        fail(f"{method} trains on {', '.join(METHODS[method].modalities)} inputs; {dataset} is "
             f"{kind} data. Put it in a grid with methods for {kind} data.")
    if METHODS[method].level == "graph" and task != "graph":
        fail(f"{method} learns graph-level representations; {dataset} is a {task}-level "
             f"dataset. Put graph-level methods and datasets in their own grid.")
