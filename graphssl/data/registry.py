"""Datasets by name: ``load_dataset('Cora')``, ``load_dataset('Amazon-Photo')``,
``load_dataset('IMDB-BINARY')``, ``load_dataset('ogbg-molbace')``, ``load_dataset('csbm')``.

Names are case-insensitive and written as users write them; each resolves to a
:class:`DatasetSpec` that knows the PyG/OGB class, its folder layout (shared with the offline
mirror) and its task.
"""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..filelock import file_lock
from .errors import DatasetUnavailableError, UnknownDatasetError
from .modality import MODALITIES
from .mirror import MIRROR_ENV, copy_from_mirror, offline_class, resolve_mirror
from .tu_names import TU_NAMES

ROOT_ENV = "GRAPHSSL_ROOT"


@dataclass(frozen=True)
class DatasetSpec:
    """How to load one dataset.

    Args:
        name: canonical spelling (``'Cora'``, ``'Amazon-Photo'``, ``'ogbg-molbace'``).
        task: ``'node'``, ``'graph'`` or ``'link'``; ``'image'``, ``'video'`` or ``'text'`` for
            the non-graph sets.
        relative_dir: folder of the dataset under the data root (and under a mirror).
        build: ``build(cls_or_offline_cls, root) -> dataset``; gets the class so that the
            mirror can swap in a subclass that never downloads.
        cls: the PyG/OGB dataset class, imported lazily (``'module:Class'``).
        split: the default split family (``'public'``, ``'random'``, ``'ogb'``; ``'none'``
            for unlabelled collections such as ``'MOSES'``).
        options: the keyword options its loader accepts through ``load_dataset``.
    """

    name: str
    task: str
    relative_dir: str | None
    cls: str | None
    build: Callable
    split: str = "random"
    aliases: tuple = field(default=(), compare=False)
    #: keyword options ``load_dataset`` passes on to ``build`` (graph sets; the image, video
    #: and text loaders take their own)
    options: tuple = field(default=(), compare=False)


def _import(path: str):
    module, _, attr = path.partition(":")
    mod = __import__(module, fromlist=[attr])
    return getattr(mod, attr)


def _planetoid(name):
    return DatasetSpec(name, "node", f"Planetoid/{name}", "torch_geometric.datasets:Planetoid",
                       lambda cls, root: cls(str(root / "Planetoid"), name), split="public")


def _pyg_family(family, pyg_name, canonical, aliases=()):
    return DatasetSpec(canonical, "node", f"{family}/{pyg_name}",
                       f"torch_geometric.datasets:{family}",
                       lambda cls, root: cls(str(root / family), pyg_name), aliases=aliases)


def _airports(name):
    return DatasetSpec(f"Airports-{name}", "node", f"Airports/{name.lower()}",
                       "torch_geometric.datasets:Airports",
                       lambda cls, root: cls(str(root / "Airports"), name), aliases=(name,))


def _tu(name):
    return DatasetSpec(name, "graph", f"TUDataset/{name}", "torch_geometric.datasets:TUDataset",
                       lambda cls, root: cls(str(root / "TUDataset"), name))


_OGB_CLASSES = {
    "n": ("node", "ogb.nodeproppred:PygNodePropPredDataset"),
    "g": ("graph", "ogb.graphproppred:PygGraphPropPredDataset"),
    "l": ("link", "ogb.linkproppred:PygLinkPropPredDataset"),
}


def _ogb(name):
    task, cls = _OGB_CLASSES[name[3]]
    return DatasetSpec(name, task, f"ogb/{name.replace('-', '_')}", cls,
                       lambda cls_, root: cls_(name=name, root=str(root / "ogb")), split="ogb")


def _synthetic():
    from .synthetic import CSBM
    return DatasetSpec("CSBM", "node", None, None, lambda cls, root: CSBM(),
                       aliases=("synthetic",))


def _wikics():
    return DatasetSpec("WikiCS", "node", "WikiCS", "torch_geometric.datasets:WikiCS",
                       lambda cls, root: cls(str(root / "WikiCS"), is_undirected=True),
                       split="wikics", aliases=("Wiki-CS",))


def _moses():
    return DatasetSpec("MOSES", "graph", "MOSES", "graphssl.data.smiles:MOSES",
                       lambda cls, root, **options: cls(str(root / "MOSES"), **options),
                       split="none", aliases=("ZINC-MOSES",), options=("max_molecules", "seed"))


def _modality(name, task, loader, relative_dir=None, aliases=(), defaults=None):
    """An image, video or text set: ``loader(root, **options)`` returns a
    :class:`~graphssl.data.modality.ModalityData` (raw files under ``root/relative_dir``, copied
    from the mirror when one is set; generated sets have no folder)."""
    def build(cls, root, **options):
        return _import(loader)(root=root, **{**(defaults or {}), **options})
    return DatasetSpec(name, task, relative_dir, None, build, split="fixed", aliases=aliases)


def _modality_specs() -> list[DatasetSpec]:
    vision, video, text = "graphssl.data.vision", "graphssl.data.video", "graphssl.data.text"
    return [
        _modality("digits", "image", f"{vision}:load_digits_images", aliases=("sklearn-digits",)),
        _modality("USPS", "image", f"{vision}:load_usps", "USPS"),
        _modality("MNIST", "image", f"{vision}:load_mnist", "MNIST",
                  defaults={"name": "MNIST"}),
        _modality("FashionMNIST", "image", f"{vision}:load_mnist", "FashionMNIST",
                  aliases=("Fashion-MNIST",), defaults={"name": "FashionMNIST"}),
        _modality("CIFAR-10", "image", f"{vision}:load_cifar10", "CIFAR-10",
                  aliases=("CIFAR10",)),
        _modality("moving-digits", "video", f"{video}:moving_digits",
                  aliases=("moving-mnist-digits",)),
        _modality("atari", "video", f"{video}:atari_frames", aliases=("atari-frames",)),
        _modality("TREC", "text", f"{text}:load_trec", "Text/TREC"),
        _modality("SST-2", "text", f"{text}:load_sst2", "Text/SST-2", aliases=("SST2",)),
    ]


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "-", name.strip().lower())


def _specs() -> list[DatasetSpec]:
    specs = [_planetoid(n) for n in ("Cora", "CiteSeer", "PubMed")]
    specs += [_pyg_family("Amazon", n, f"Amazon-{n}", aliases=(f"Amazon{n}",))
              for n in ("Computers", "Photo")]
    specs += [_pyg_family("Coauthor", n, f"Coauthor-{n}", aliases=(f"Coauthor{n}",))
              for n in ("CS", "Physics")]
    specs += [_wikics(), _synthetic(), _moses()]
    specs += [_airports(n) for n in ("USA", "Brazil", "Europe")]
    specs += [_tu(n) for n in TU_NAMES]
    specs += _modality_specs()
    return specs


def _build_index() -> dict[str, DatasetSpec]:
    index = {}
    for spec in _specs():
        for alias in (spec.name, *spec.aliases):
            index.setdefault(_key(alias), spec)
    return index


_INDEX = _build_index()


def dataset_spec(name: str) -> DatasetSpec:
    """Resolve a user-written dataset name to its :class:`DatasetSpec`.

    Raises:
        UnknownDatasetError: with the closest known names.
    """
    if not isinstance(name, str) or not name.strip():
        raise UnknownDatasetError(f"dataset name must be a non-empty string, got {name!r}")
    if name[:3].lower() == "tu:":
        return _tu(name[3:].strip())
    lowered = name.strip().lower()
    if re.fullmatch(r"ogb[ngl]-[a-z0-9\-]+", lowered):
        return _ogb(lowered)
    spec = _INDEX.get(_key(name))
    if spec is None:
        choices = {s.name for s in _INDEX.values()}
        close = difflib.get_close_matches(name, sorted(choices), n=5, cutoff=0.5)
        close += [c for c in difflib.get_close_matches(_key(name), list(_INDEX), n=5, cutoff=0.6)
                  if _INDEX[c].name not in close]
        close = list(dict.fromkeys(_INDEX[c].name if c in _INDEX else c for c in close))[:5]
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownDatasetError(
            f"unknown dataset {name!r}.{hint} Run `graphssl datasets` for the full list; OGB sets "
            f"are named ogbn-*/ogbg-*/ogbl-*, and any TU set can be named exactly as 'TU:NAME'.")
    return spec


def available_datasets() -> dict[str, list[str]]:
    """Canonical dataset names grouped by task (OGB sets are open-ended: ``ogb[ngl]-*``)."""
    groups: dict[str, list[str]] = {}
    for spec in dict.fromkeys(_INDEX.values()):
        groups.setdefault(spec.task, []).append(spec.name)
    groups.setdefault("ogb", []).extend(["ogbn-*", "ogbg-*", "ogbl-*"])
    return groups


def default_root() -> Path:
    return Path(os.environ.get(ROOT_ENV, "datasets")).expanduser()


def load_dataset(name: str, root: str | os.PathLike | None = None,
                 mirror: str | os.PathLike | None = None, transform=None, **options):
    """Load a dataset by name.

    Args:
        name: as users write it, case-insensitive (``'cora'``, ``'Amazon-Photo'``, ``'MUTAG'``,
            ``'ogbg-molbace'``, ``'csbm'``).
        root: writable data root (default ``$GRAPHSSL_ROOT`` or ``./datasets``); loaders write
            ``processed/`` folders there.
        mirror: folder of raw files in PyG/OGB layout (default ``$GRAPHSSL_MIRROR``). With a
            mirror nothing is downloaded: raw files are copied into ``root``.
        transform: a PyG transform applied on access (e.g. ``NormalizeFeatures()``).
        options: keyword arguments of an image, video or text set's loader (``num_clips=500``
            for ``'moving-digits'``, ``max_train=10000`` for ``'SST-2'``), or those a graph set
            lists in its ``spec.options`` (``max_molecules=250000, seed=0`` for ``'MOSES'``);
            other graph sets take none.

    Returns:
        the PyG / OGB dataset (a :class:`~graphssl.data.modality.ModalityData` for images,
        clips and text), with ``dataset.spec`` set to its :class:`DatasetSpec`.
    """
    spec = dataset_spec(name)
    root = Path(root).expanduser() if root is not None else default_root()
    if spec.task not in MODALITIES:
        unknown = sorted(set(options) - set(spec.options))
        if unknown:
            takes = (f"takes only {', '.join(spec.options)}" if spec.options
                     else "takes no options")
            raise TypeError(f"{spec.name} is a graph dataset: its loader {takes}, got "
                            f"{unknown}")
    if spec.cls is None and spec.task not in MODALITIES:  # generated in memory
        dataset = spec.build(None, root)
    else:
        # one process prepares the files (mirror copy, processed/), the others wait and read
        lock = root / ".locks" / (re.sub(r"[^A-Za-z0-9_.-]", "_", spec.name) + ".lock")
        with file_lock(lock, read_only_ok=True):  # a read-only root: already prepared
            dataset = _build(spec, root, mirror, options)
    if transform is not None:
        dataset.transform = transform
    dataset.spec = spec
    return dataset


def _build(spec: DatasetSpec, root: Path, mirror, options: dict):
    """The loader of ``spec`` on ``root``, raw files copied from ``mirror`` (or downloaded)."""
    if spec.task in MODALITIES:
        mirror_dir = resolve_mirror(mirror)
        if mirror_dir is not None and spec.relative_dir is not None:
            copy_from_mirror(mirror_dir, spec.relative_dir, root, spec.name)
        return spec.build(None, root, **options)
    if spec.task != "node" or spec.name.startswith("ogb"):
        _allow_pyg_in_torch_load()
    cls = _import(spec.cls)
    mirror_dir = resolve_mirror(mirror)
    if mirror_dir is not None:
        copy_from_mirror(mirror_dir, spec.relative_dir, root, spec.name)
        cls = offline_class(cls, spec.name, mirror_dir, root)
    else:
        cls = _reporting_download_class(cls, spec, root)
    return spec.build(cls, root, **options)


def _reporting_download_class(cls, spec: DatasetSpec, root: Path):
    """A subclass of ``cls`` whose failed download (whatever the library's HTTP client raises)
    becomes a :class:`DatasetUnavailableError` that says how to work offline."""

    def download(self):
        try:
            return cls.download(self)
        except Exception as err:
            raise DatasetUnavailableError(
                f"could not download {spec.name!r} ({type(err).__name__}: {str(err)[:160]}). "
                f"Offline? Set {MIRROR_ENV}=DIR or pass --mirror DIR with DIR a folder of raw "
                f"files in PyG/OGB layout (e.g. DIR/{spec.relative_dir}/raw/...), or place the "
                f"raw files under {str(root / spec.relative_dir)!r}.") from err

    return type(cls.__name__, (cls,), {"download": download})


def _allow_pyg_in_torch_load():
    """OGB 1.3.6 reads its processed files with a plain ``torch.load``; torch >= 2.6 defaults to
    ``weights_only=True``, which refuses PyG's storage classes. Allow-list exactly those."""
    import torch
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage
    torch.serialization.add_safe_globals([DataEdgeAttr, DataTensorAttr, GlobalStorage])
