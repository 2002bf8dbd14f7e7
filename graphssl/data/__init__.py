"""Datasets by name, the offline mirror, splits and input checks."""
from .errors import (DatasetError, DatasetUnavailableError, InvalidGraphError,
                     MirrorMissingFileError, UnknownDatasetError)
from .features import ensure_features, largest_degree
from .sizes import largest_graph
from .mirror import MIRROR_ENV, resolve_mirror
from .modality import MODALITIES, ModalityData, stratified_masks
from .registry import DatasetSpec, available_datasets, dataset_spec, load_dataset
from .splits import Split, get_split, ogb_split, public_split, random_split
from .synthetic import CSBM, csbm_graph
from .validation import check_graph

__all__ = [
    "load_dataset", "dataset_spec", "ModalityData", "MODALITIES", "stratified_masks", "available_datasets", "DatasetSpec", "MIRROR_ENV",
    "resolve_mirror", "Split", "get_split", "public_split", "random_split", "ogb_split", "CSBM",
    "csbm_graph", "check_graph", "ensure_features", "largest_degree", "largest_graph", "DatasetError",
    "UnknownDatasetError",
    "DatasetUnavailableError", "MirrorMissingFileError", "InvalidGraphError",
]
