"""Molecules from a file of SMILES strings, featurised as OGB featurises its molecule sets, so
that unlabelled molecule collections (for example the ZINC molecules of the MOSES benchmark) can
pretrain the same encoders that fine-tune on ``ogbg-mol*``."""
from __future__ import annotations

import csv
import gzip
import os.path as osp
import warnings

import numpy as np
import torch
from torch_geometric.data import Data, InMemoryDataset, download_url

from ..checks import check_non_negative_int, check_positive_int

__all__ = ["SmilesDataset", "MOSES", "smiles_to_data", "read_smiles", "subset_indices"]


def smiles_to_data(smiles: str) -> Data | None:
    """One molecule as a PyG ``Data`` with OGB's features (``ogb.utils.smiles2graph``, which
    needs RDKit): ``x [num_atoms, 9]`` and ``edge_attr [2 * num_bonds, 3]`` categorical
    (``long``, the columns of :data:`~graphssl.data.molecules.OGB_ATOM_FEATURE_DIMS` and
    ``OGB_BOND_FEATURE_DIMS``), ``edge_index [2, 2 * num_bonds]`` with both directions.
    A molecule without bonds (one atom, or disconnected ions) keeps its atoms and gets an
    empty ``edge_index``. ``None`` when RDKit cannot parse ``smiles``."""
    try:
        from ogb.utils import smiles2graph
        from rdkit import Chem, RDLogger
    except ImportError as err:
        raise ImportError("reading SMILES needs RDKit: pip install rdkit (or graphssl[chem])") \
            from err
    RDLogger.DisableLog("rdApp.*")  # unparseable SMILES are counted, not printed one by one
    if Chem.MolFromSmiles(smiles) is None:
        return None
    graph = smiles2graph(smiles)
    return Data(x=torch.from_numpy(graph["node_feat"]).long(),
                edge_index=torch.from_numpy(graph["edge_index"]).long(),
                edge_attr=torch.from_numpy(graph["edge_feat"]).long(),
                num_nodes=int(graph["num_nodes"]))


def subset_indices(num_molecules: int, max_molecules: int | None, seed: int = 0) -> np.ndarray:
    """The positions (in file order) of the random subset ``SmilesDataset`` keeps: all of them
    when ``max_molecules`` is ``None`` or not below ``num_molecules``."""
    if max_molecules is None or max_molecules >= num_molecules:
        return np.arange(num_molecules)
    return np.sort(np.random.default_rng(seed).choice(num_molecules, max_molecules,
                                                      replace=False))


def read_smiles(path: str, column: str = "SMILES") -> list[str]:
    """The ``column`` of a CSV file (``.csv`` or ``.csv.gz``) with a header row."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or column not in header:
            raise ValueError(f"{path} has no column {column!r} in its header {header!r}")
        index = header.index(column)
        return [row[index] for row in reader if len(row) > index and row[index]]


class SmilesDataset(InMemoryDataset):
    r"""Unlabelled molecules read from ``root/raw/<raw_name>``, a CSV file with a SMILES column,
    and featurised with OGB's ``smiles2graph`` (RDKit): the same nine atom and three bond
    columns as every ``ogbg-mol*`` set, so :class:`~graphssl.data.molecules.OneHotCategorical`
    and :class:`~graphssl.encoders.GINEEncoder` apply unchanged.

    SMILES that RDKit cannot parse are skipped; their number is ``dataset.num_skipped`` (and a
    warning says so). With ``max_molecules`` a random subset of that size is kept (drawn with
    ``seed`` before parsing, in file order), each subset in its own processed file.

    Args:
        root: the dataset folder (``raw/`` and ``processed/`` below it).
        raw_name: the CSV file under ``raw/``; url: where ``download`` fetches it from (``None``:
            the file must be placed there by hand).
        smiles_column: the header of the SMILES column.
        max_molecules: keep at most this many molecules (``None``: all).
        seed: the subset's random draw.

    Example:
        >>> ds = SmilesDataset('data/mine', raw_name='molecules.csv')
        >>> ds[0]  # Data(x=[20, 9], edge_index=[2, 42], edge_attr=[42, 3])
    """

    def __init__(self, root: str, raw_name: str = "molecules.csv", url: str | None = None,
                 smiles_column: str = "SMILES", max_molecules: int | None = None,
                 seed: int = 0, transform=None, pre_transform=None, log: bool = True):
        if max_molecules is not None:
            max_molecules = check_positive_int("max_molecules", max_molecules)
        self.raw_name, self.url, self.smiles_column = raw_name, url, smiles_column
        self.max_molecules, self.seed = max_molecules, check_non_negative_int("seed", seed)
        super().__init__(root, transform, pre_transform, log=log)
        self.load(self.processed_paths[0])
        self.num_skipped = int(torch.load(self.processed_paths[1], weights_only=True))

    @property
    def raw_file_names(self):
        return [self.raw_name]

    @property
    def processed_file_names(self):
        subset = "all" if self.max_molecules is None else f"{self.max_molecules}_seed{self.seed}"
        stem = osp.splitext(self.raw_name.removesuffix(".gz"))[0]
        return [f"{stem}_{subset}.pt", f"{stem}_{subset}_skipped.pt"]

    def download(self):
        if self.url is None:
            raise FileNotFoundError(f"{self.raw_paths[0]} is missing and {type(self).__name__} "
                                    f"has no download url: place the CSV file there")
        download_url(self.url, self.raw_dir)

    def process(self):
        smiles = read_smiles(self.raw_paths[0], self.smiles_column)
        smiles = [smiles[i] for i in subset_indices(len(smiles), self.max_molecules, self.seed)]
        graphs = [smiles_to_data(s) for s in smiles]
        kept = [g for g in graphs if g is not None]
        skipped = len(graphs) - len(kept)
        if not kept:
            raise ValueError(f"none of the {len(graphs)} SMILES in {self.raw_paths[0]} could be "
                             f"parsed by RDKit")
        if skipped:
            warnings.warn(f"{skipped} of {len(graphs)} SMILES in {self.raw_paths[0]} could not "
                          f"be parsed by RDKit and were skipped", stacklevel=2)
        if self.pre_transform is not None:
            kept = [self.pre_transform(g) for g in kept]
        self.save(kept, self.processed_paths[0])
        torch.save(torch.tensor(skipped), self.processed_paths[1])


class MOSES(SmilesDataset):
    r"""The 1,584,663 training molecules of the MOSES benchmark (Polykovskiy et al., "Molecular
    Sets (MOSES): A Benchmarking Platform for Molecular Generation Models", Frontiers in
    Pharmacology 2020), a filtered subset of ZINC's Clean Leads, unlabelled: a pretraining
    collection for molecule transfer in the spirit of the ZINC-2M set of Hu et al. (ICLR 2020),
    which GraphMAE pretrains on.

    ``root/raw/train.csv`` (header ``SMILES``) is downloaded from the MOSES repository; offline,
    the same file ships gzipped inside the ``molsets`` wheel on PyPI
    (``moses/dataset/data/train.csv.gz``; ``benchmarks/prepare_moses.py`` unpacks it).
    """

    url = "https://media.githubusercontent.com/media/molecularsets/moses/master/data/train.csv"

    def __init__(self, root: str, max_molecules: int | None = None, seed: int = 0,
                 transform=None, log: bool = True):
        super().__init__(root, raw_name="train.csv", url=self.url, smiles_column="SMILES",
                         max_molecules=max_molecules, seed=seed, transform=transform, log=log)
