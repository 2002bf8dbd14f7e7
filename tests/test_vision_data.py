"""Image loaders: digits, USPS (mirror), and the MNIST / CIFAR-10 parsers on tiny synthetic files
written in the real formats (nothing is downloaded)."""
import gzip
import io
import pickle
import shutil
import tarfile

import numpy as np
import pytest
import torch

from graphssl.data import vision
from graphssl.data.errors import DatasetUnavailableError
from graphssl.data.vision import (CIFAR10_CLASSES, FASHION_CLASSES, MNIST_FILES,
                                  CorruptFileError, load_cifar10, load_digits_images, load_mnist,
                                  load_usps)


def check_image_data(data, n, shape):
    assert data.modality == "image"
    assert data.x.dtype == torch.float32 and tuple(data.x.shape) == (n, *shape)
    assert data.y.dtype == torch.int64 and tuple(data.y.shape) == (n,)
    assert 0.0 <= float(data.x.min()) and float(data.x.max()) <= 1.0
    train, val, test = (data.split[p] for p in ("train", "val", "test"))
    assert not (train & val).any() and not (train & test).any() and not (val & test).any()
    assert int((train | val | test).sum()) == n
    assert data.info["channels"] == shape[0] and data.info["image_size"] == shape[1]
    assert data.info["source"]
    assert len(data.classes) >= data.num_classes  # num_classes is y.max() + 1 (tiny fixtures)


def test_digits_shapes_split_and_stratification():
    data = load_digits_images()
    check_image_data(data, 1797, (1, 8, 8))
    assert data.name == "digits" and data.classes == tuple("0123456789")
    assert data.num_classes == 10
    assert float(data.x.max()) == 1.0  # 16 / 16
    sizes = {p: int(m.sum()) for p, m in data.split.items()}
    assert sizes["test"] == pytest.approx(0.2 * 1797, abs=10)
    assert sizes["val"] == pytest.approx(0.1 * (1797 - sizes["test"]), abs=10)
    assert sizes["train"] == 1797 - sizes["test"] - sizes["val"]
    for mask in data.split.values():
        assert set(data.y[mask].tolist()) == set(range(10))
    from sklearn.datasets import load_digits
    raw = load_digits()
    assert torch.equal(data.x.view(-1, 64) * 16, torch.from_numpy(raw.data).float())
    assert torch.equal(data.y, torch.from_numpy(raw.target).long())


def test_digits_split_is_deterministic():
    a, b = load_digits_images(), load_digits_images(root="ignored")
    for part in ("train", "val", "test"):
        assert torch.equal(a.split[part], b.split[part])


def test_usps_from_mirror(mirror, tmp_path):
    (tmp_path / "USPS").mkdir()
    shutil.copyfile(mirror / "USPS" / "usps.h5", tmp_path / "USPS" / "usps.h5")
    data = load_usps(tmp_path)
    check_image_data(data, 9298, (1, 16, 16))
    assert data.name == "USPS" and data.num_classes == len(data.classes) == 10
    train, val, test = (data.split[p] for p in ("train", "val", "test"))
    assert test[7291:].all() and not test[:7291].any()  # the official test part, kept in order
    train_counts = [1194, 1005, 731, 658, 652, 556, 664, 645, 542, 644]  # from the README
    test_counts = [359, 264, 198, 166, 200, 160, 170, 147, 166, 177]
    assert torch.bincount(data.y[train | val]).tolist() == train_counts
    assert torch.bincount(data.y[test]).tolist() == test_counts
    assert int(val.sum()) == sum(round(0.1 * c) for c in train_counts) == 727
    assert int(train.sum()) == 7291 - 727
    assert set(data.y[val].tolist()) == set(range(10))


def test_usps_missing_names_the_folder(tmp_path, offline):
    with pytest.raises(DatasetUnavailableError, match="USPS") as err:
        load_usps(tmp_path)
    assert str(tmp_path / "USPS" / "usps.h5") in str(err.value)
    assert "GRAPHSSL_MIRROR" in str(err.value)


def idx_bytes(array, magic):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def write_mnist(raw, n_train=12, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {"train": (rng.integers(0, 256, (n_train, 28, 28)), np.arange(n_train) % 10),
              "t10k": (rng.integers(0, 256, (n_test, 28, 28)), np.arange(n_test)[::-1] % 10)}
    raw.mkdir(parents=True)
    for part, (images, labels) in arrays.items():
        (raw / f"{part}-images-idx3-ubyte.gz").write_bytes(idx_bytes(images, 2051))
        (raw / f"{part}-labels-idx1-ubyte.gz").write_bytes(idx_bytes(labels, 2049))
    return arrays


@pytest.mark.parametrize("name", ["MNIST", "FashionMNIST"])
def test_mnist_parser_round_trips(tmp_path, offline, name):
    arrays = write_mnist(tmp_path / name / "raw")
    data = load_mnist(tmp_path, name)
    check_image_data(data, 17, (1, 28, 28))
    images = np.concatenate([arrays["train"][0], arrays["t10k"][0]])
    labels = np.concatenate([arrays["train"][1], arrays["t10k"][1]])
    assert torch.equal((data.x[:, 0] * 255).round().to(torch.uint8), torch.from_numpy(
        images.astype(np.uint8)))
    assert data.y.tolist() == labels.tolist()
    assert data.split["test"].tolist() == [False] * 12 + [True] * 5
    assert int(data.split["val"].sum()) == 2  # the two classes with two training images
    assert data.classes == (tuple("0123456789") if name == "MNIST" else FASHION_CLASSES)
    assert sorted(p.name for p in (tmp_path / name / "raw").iterdir()) == sorted(MNIST_FILES)


def test_mnist_rejects_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="name.*'KMNIST'"):
        load_mnist(tmp_path, "KMNIST")


def test_mnist_missing_files_offline_names_url_and_folder(tmp_path, offline):
    with pytest.raises(DatasetUnavailableError) as err:
        load_mnist(tmp_path, "FashionMNIST")
    message = str(err.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in message
    assert "fashion-mnist.s3-website" in message
    assert all(f in message for f in MNIST_FILES)  # every file the user must place
    assert not list((tmp_path / "FashionMNIST" / "raw").iterdir())  # no .part left behind


@pytest.mark.parametrize("content, match", [
    (idx_bytes(np.zeros((3, 28, 28)), 2049), "magic number 2049 instead of 2051"),
    (idx_bytes(np.zeros((3, 28, 28)), 2051)[:-8], "gzip|truncated"),
    (gzip.compress((2051).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(100)),
     "truncated"),
    (b"<html>not found</html>", "gzip"),
])
def test_corrupt_idx_file_is_a_clear_error(tmp_path, offline, content, match):
    write_mnist(tmp_path / "MNIST" / "raw")
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").write_bytes(content)
    with pytest.raises(CorruptFileError, match=match) as err:
        load_mnist(tmp_path)
    assert "train-images-idx3-ubyte.gz" in str(err.value)


def write_cifar(path, per_batch=3, seed=0):
    rng = np.random.default_rng(seed)
    batches = {}
    path.parent.mkdir(parents=True)
    with tarfile.open(path, "w:gz") as tar:
        for i, name in enumerate([f"data_batch_{j}" for j in range(1, 6)] + ["test_batch"]):
            batch = {b"data": rng.integers(0, 256, (per_batch, 3072)).astype(np.uint8),
                     b"labels": [(i + k) % 10 for k in range(per_batch)],
                     b"batch_label": name.encode()}
            blob = pickle.dumps(batch)
            member = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            member.size = len(blob)
            tar.addfile(member, io.BytesIO(blob))
            batches[name] = batch
    return batches


def test_cifar10_parser_round_trips(tmp_path, offline):
    batches = write_cifar(tmp_path / "CIFAR-10" / "raw" / "cifar-10-python.tar.gz")
    data = load_cifar10(tmp_path)
    check_image_data(data, 18, (3, 32, 32))
    assert data.name == "CIFAR-10" and data.classes == CIFAR10_CLASSES
    data_rows = np.concatenate([b[b"data"] for b in batches.values()])
    pixels = (data.x * 255).round().to(torch.uint8)
    assert torch.equal(pixels.view(18, 3072), torch.from_numpy(data_rows))
    # rows are 1024 red, then green, then blue values, each 32x32 row-major
    assert int(pixels[0, 1, 2, 3]) == int(data_rows[0, 1024 + 2 * 32 + 3])
    assert data.y.tolist() == sum((b[b"labels"] for b in batches.values()), [])
    assert data.split["test"].tolist() == [False] * 15 + [True] * 3


def test_cifar10_missing_offline_names_the_folder(tmp_path, offline):
    with pytest.raises(DatasetUnavailableError) as err:
        load_cifar10(tmp_path)
    assert str(tmp_path / "CIFAR-10" / "raw") in str(err.value)
    assert "cs.toronto.edu" in str(err.value)


def test_cifar10_corrupt_archive(tmp_path, offline):
    path = tmp_path / "CIFAR-10" / "raw" / "cifar-10-python.tar.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an archive")
    with pytest.raises(CorruptFileError, match="not a readable CIFAR-10"):
        load_cifar10(tmp_path)


def test_missing_mnist_files_are_fetched_from_the_url(tmp_path, offline, monkeypatch):
    """The download path, with a file:// URL standing in for the mirror site (no network)."""
    arrays = write_mnist(tmp_path / "site")
    monkeypatch.setitem(vision.MNIST_URLS, "MNIST", (tmp_path / "site").as_uri() + "/")
    data = load_mnist(tmp_path / "root")
    assert data.y.tolist() == np.concatenate([arrays["train"][1], arrays["t10k"][1]]).tolist()
    assert sorted(p.name for p in (tmp_path / "root" / "MNIST" / "raw").iterdir()) == \
        sorted(MNIST_FILES)  # complete files only, no .part
