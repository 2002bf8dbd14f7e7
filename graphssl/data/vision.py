"""Small image classification sets as :class:`~graphssl.data.modality.ModalityData`.

Every loader returns ``x`` float32 ``[N, C, H, W]`` in ``[0, 1]``, ``y`` int64 ``[N]`` and fixed
train/val/test masks. Where the source has an official test part it is kept as is, and the
validation part is 10% of each class of the official training part (seed 0); the test part
never chooses anything.

Sources and on-disk layout (under ``root``, the same layout as in the offline mirror):

* ``digits``: scikit-learn's bundled ``sklearn.datasets.load_digits`` (the UCI "Optical
  Recognition of Handwritten Digits" test set: 1797 images 8x8, values 0..16). No official
  split: test is 20% stratified (seed 0), val 10% stratified (seed 0) of the rest.
* ``USPS``: ``USPS/usps.h5``, the Kaggle "usps-dataset" HDF5 layout (``train/data``,
  ``train/target``, ``test/data``, ``test/target``; 16x16 in [0, 1]), 7291 train + 2007 test
  (Hull, 1994). No download: the file must be placed by hand (or in the mirror).
* ``MNIST`` / ``FashionMNIST``: ``<name>/raw/*-idx?-ubyte.gz``, the four idx files of LeCun et
  al. (1998), http://yann.lecun.com/exdb/mnist/ (downloaded from the PyTorch S3 copy), and of
  Xiao et al. (2017), https://github.com/zalandoresearch/fashion-mnist; 60000 train + 10000 test.
* ``CIFAR-10``: ``CIFAR-10/raw/cifar-10-python.tar.gz`` from
  https://www.cs.toronto.edu/~kriz/cifar.html (Krizhevsky, 2009); 50000 train + 10000 test,
  read straight from the archive. Its batches are Python pickles, so only load an archive you
  trust (the same caveat as torchvision's loader).

Downloads go to ``<file>.part`` and are renamed when complete, so a failed download never leaves
a half-written file; any failure raises :class:`DatasetUnavailableError` naming the URL, the
folder to place the files in by hand, and the cause.
"""
from __future__ import annotations

import gzip
import os
import pickle
import shutil
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import torch

from .errors import DatasetError, DatasetUnavailableError
from .mirror import MIRROR_ENV
from .modality import ModalityData, stratified_masks

VAL_FRACTION = 0.1
DIGITS = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
MNIST_URLS = {"MNIST": "https://ossci-datasets.s3.amazonaws.com/mnist/",
              "FashionMNIST": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"}
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


class CorruptFileError(DatasetError, ValueError):
    """A raw dataset file exists but is not in the expected format."""


def _image_data(name, x, y, train, val, test, classes, source) -> ModalityData:
    return ModalityData(name, "image", x, y, {"train": train, "val": val, "test": test},
                        classes=tuple(classes),
                        info={"channels": x.size(1), "image_size": x.size(2), "source": source})


def _official_split(name, x, y, num_train, classes, source) -> ModalityData:
    """The first ``num_train`` items are the official training part, the rest the test part."""
    is_train = torch.arange(y.numel()) < num_train
    train, val = stratified_masks(y, VAL_FRACTION, seed=0, pool=is_train)
    return _image_data(name, x, y, train, val, ~is_train, classes,
                       f"{source}; official test part, val = 10% of each class of the official "
                       f"train part (seed 0)")


def _fetch(url: str, root, relative: str, dataset: str, hint: str = "") -> Path:
    """``root/relative``, downloading it from ``url`` first if it is missing."""
    path = Path(root) / relative
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            shutil.copyfileobj(response, out)
        os.replace(part, path)
    except Exception as exc:
        part.unlink(missing_ok=True)
        raise DatasetUnavailableError(
            f"{dataset}: could not download {url} ({type(exc).__name__}: {exc}). Place the file "
            f"{path.name!r} by hand in {str(path.parent)!r} (or at {relative} in the offline "
            f"mirror, ${MIRROR_ENV}) and retry.{hint}") from exc
    return path


def load_digits_images(root=None) -> ModalityData:
    """scikit-learn's 8x8 digits (1797 images); ``root`` is unused (the data ship with sklearn)."""
    from sklearn.datasets import load_digits
    bunch = load_digits()
    x = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    rest, test = stratified_masks(y, 0.2, seed=0)
    train, val = stratified_masks(y, VAL_FRACTION, seed=0, pool=rest)
    return _image_data("digits", x, y, train, val, test, DIGITS,
                       "sklearn.datasets.load_digits (UCI optical digits); no official split: "
                       "test = 20% stratified (seed 0), val = 10% stratified (seed 0) of the rest")


def load_usps(root) -> ModalityData:
    """USPS digits from ``root/USPS/usps.h5`` (7291 train + 2007 test, 16x16)."""
    path = Path(root) / "USPS" / "usps.h5"
    if not path.is_file():
        raise DatasetUnavailableError(
            f"USPS: {str(path)!r} does not exist and USPS is not downloaded automatically. Put "
            f"usps.h5 (Kaggle 'usps-dataset' HDF5 layout) there, or at USPS/usps.h5 in the "
            f"offline mirror (${MIRROR_ENV}).")
    import h5py
    try:
        with h5py.File(path, "r") as f:
            parts = [(f[f"{p}/data"][:], f[f"{p}/target"][:]) for p in ("train", "test")]
    except (OSError, KeyError) as exc:
        raise CorruptFileError(f"USPS: {str(path)!r} is not a readable USPS HDF5 file with "
                               f"train/data, train/target, test/data, test/target ({exc})") from exc
    if any(d.ndim != 2 or d.shape[1] != 256 or len(d) != len(t) for d, t in parts):
        raise CorruptFileError(f"USPS: {str(path)!r} should hold [N, 256] images with N labels, "
                               f"found {[(d.shape, t.shape) for d, t in parts]}")
    x = torch.from_numpy(np.concatenate([d for d, _ in parts]).astype(np.float32))
    y = torch.from_numpy(np.concatenate([t for _, t in parts]).astype(np.int64))
    return _official_split("USPS", x.view(-1, 1, 16, 16), y, len(parts[0][1]), DIGITS,
                           f"USPS ({path.name}, Kaggle 'usps-dataset' layout)")


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """An idx array (uint8) from a gzipped idx file whose magic number must be ``magic``."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise CorruptFileError(f"{str(path)!r} is not a readable gzip file ({exc}); delete it "
                               f"so that it is downloaded again") from exc
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic:
        raise CorruptFileError(f"{str(path)!r} is not an idx file of this kind: magic number "
                               f"{found} instead of {magic}; delete it so that it is downloaded "
                               f"again")
    ndim = magic & 0xFF
    if len(raw) < 4 + 4 * ndim:
        raise CorruptFileError(f"{str(path)!r} is truncated: its idx header is incomplete")
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise CorruptFileError(f"{str(path)!r} is truncated or padded: header shape "
                               f"{tuple(dims.tolist())} needs {int(np.prod(dims))} bytes, found "
                               f"{data.size}")
    return data.reshape(tuple(dims.tolist()))


def load_mnist(root, name: str = "MNIST") -> ModalityData:
    """MNIST or Fashion-MNIST (60000 train + 10000 test, 28x28) from ``root/<name>/raw``."""
    if name not in MNIST_URLS:
        raise ValueError(f"name must be one of {tuple(MNIST_URLS)}, got {name!r}")
    raw = Path(root) / name / "raw"
    hint = f" {name} needs all four files: {', '.join(MNIST_FILES)}."
    paths = [_fetch(MNIST_URLS[name] + f, root, f"{name}/raw/{f}", name, hint)
             for f in MNIST_FILES]
    train_x, train_y, test_x, test_y = (_read_idx(p, m) for p, m in
                                        zip(paths, (2051, 2049, 2051, 2049)))
    for images, labels, part in ((train_x, train_y, "train"), (test_x, test_y, "t10k")):
        if len(images) != len(labels):
            raise CorruptFileError(f"{name}: {len(images)} {part} images but {len(labels)} "
                                   f"labels in {str(raw)!r}")
    x = torch.from_numpy(np.concatenate([train_x, test_x])).unsqueeze(1).float().div_(255)
    y = torch.from_numpy(np.concatenate([train_y, test_y]).astype(np.int64))
    classes = DIGITS if name == "MNIST" else FASHION_CLASSES
    return _official_split(name, x, y, len(train_y), classes,
                           f"{name} idx files from {MNIST_URLS[name]}")


def load_cifar10(root) -> ModalityData:
    """CIFAR-10 (50000 train + 10000 test, 3x32x32) read from the python-version archive."""
    path = _fetch(CIFAR10_URL, root, "CIFAR-10/raw/cifar-10-python.tar.gz", "CIFAR-10")
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            batches = []
            for n in names:
                if n not in members:
                    raise CorruptFileError(f"CIFAR-10: {str(path)!r} has no member {n!r}")
                batches.append(pickle.load(tar.extractfile(members[n]), encoding="bytes"))
    except (tarfile.TarError, OSError, EOFError, pickle.UnpicklingError) as exc:
        raise CorruptFileError(f"CIFAR-10: {str(path)!r} is not a readable CIFAR-10 python "
                               f"archive ({exc}); delete it so that it is downloaded "
                               f"again") from exc
    data = np.concatenate([b[b"data"] for b in batches]).astype(np.uint8, copy=False)
    x = torch.from_numpy(data.reshape(-1, 3, 32, 32)).float().div_(255)
    y = torch.from_numpy(np.concatenate([b[b"labels"] for b in batches]).astype(np.int64))
    num_train = sum(len(b[b"labels"]) for b in batches[:5])
    return _official_split("CIFAR-10", x, y, num_train, CIFAR10_CLASSES,
                           f"CIFAR-10 python archive from {CIFAR10_URL}")
