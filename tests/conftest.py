import os
import socket
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Batch, Data

REPO = Path(__file__).resolve().parents[1]


def _mirror():
    env = os.environ.get("GRAPHSSL_MIRROR")
    path = Path(env) if env else REPO.parent / "shared" / "datasets"
    return path.resolve() if path.is_dir() else None  # absolute: some tests change directory


MIRROR = _mirror()
needs_mirror = pytest.mark.skipif(MIRROR is None, reason="no offline dataset mirror "
                                  "(set GRAPHSSL_MIRROR)")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    """Tests never read the user's mirror/root variables implicitly."""
    monkeypatch.delenv("GRAPHSSL_MIRROR", raising=False)
    monkeypatch.delenv("GRAPHSSL_ROOT", raising=False)


@pytest.fixture
def offline(monkeypatch):
    """Make every network access fail as it does without a network (name resolution refused,
    so urllib, aiohttp and requests all fail)."""

    def refuse(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known (test: offline)")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """One writable data root per test session (processed/ folders are built once)."""
    return tmp_path_factory.mktemp("datasets")


@pytest.fixture(scope="session")
def mirror():
    if MIRROR is None:
        pytest.skip("no offline dataset mirror (set GRAPHSSL_MIRROR)")
    return MIRROR


@pytest.fixture(scope="session")
def cora(data_root, mirror):
    from graphssl.data import load_dataset
    return load_dataset("Cora", root=data_root, mirror=mirror)


def small_graph(num_nodes=30, num_edges=80, num_features=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(num_nodes, (num_edges,), generator=g)
    dst = torch.randint(num_nodes, (num_edges,), generator=g)
    edge_index = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], dim=1)
    return Data(x=torch.randn(num_nodes, num_features, generator=g), edge_index=edge_index,
                edge_weight=torch.rand(edge_index.size(1), generator=g),
                y=torch.randint(3, (num_nodes,), generator=g))


@pytest.fixture
def graph():
    return small_graph()


@pytest.fixture
def batch():
    return Batch.from_data_list([small_graph(10 + 5 * i, 20 + 10 * i, seed=i) for i in range(4)])


def blobs(n=600, k=3, d=8, spread=0.3, seed=0):
    """``k`` Gaussian clusters of ``n`` points in ``d`` dimensions: ``(z, y)``."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    centers = torch.randn(k, d, generator=g) * 3
    return centers[y] + spread * torch.randn(n, d, generator=g), y


class Interrupt:
    """Raise KeyboardInterrupt (as Ctrl-C would) at the ``at``-th call of the method's loss
    (for a full-graph fit: epoch ``at``, 1-based)."""

    def __init__(self, method, at):
        self.calls, self.at, self.loss = 0, at, method.loss
        method.loss = self

    def __call__(self, batch, generator=None):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.loss(batch, generator)
