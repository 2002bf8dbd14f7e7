"""Figures of benchmark results (graphssl.bench.plots): valid PNGs, written atomically."""
import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

from graphssl.bench.plots import (EmbeddingPlot, plot_embedding_tsne,  # noqa: E402
                                  plot_loss_curves, plot_ours_vs_published)

PNG = b"\x89PNG\r\n\x1a\n"


def assert_png(path, folder):
    assert path.is_file()
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG)
    assert sorted(p.name for p in folder.iterdir()) == [path.name]  # no temporary files left


def record(method, dataset, seed, curve=None, **extra):
    rec = {"method": method, "dataset": dataset, "task": "node", "seed": seed,
           "metrics": {"test_acc": 0.8, "val_acc": 0.79}, **extra}
    if curve is not None:
        rec["loss_curve"] = curve
    return rec


def blobs(n=60, d=8, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    z = torch.randn(n, d, generator=g) + 4 * torch.nn.functional.one_hot(y, d).float()
    return z, y


# ---------------------------------------------------------------- loss curves

def test_loss_curves_png_and_skips_records_without_curve(tmp_path, monkeypatch):
    import matplotlib.axes
    plotted = []
    original = matplotlib.axes.Axes.plot
    monkeypatch.setattr(matplotlib.axes.Axes, "plot",
                        lambda self, *a, **k: plotted.append(k["label"]) or original(self, *a, **k))
    records = [record("grace", "Cora", 0, [3.0, 2.5, 2.1]),
               record("grace", "Cora", 1, [3.1, 2.4, 2.0]),
               record("bgrl", "Cora", 0, []),         # empty: skipped
               record("dgi", "Cora", 0),              # missing: skipped
               record("dgi", "CiteSeer", 0, None, loss_curve=None),
               record("dgi", "PubMed", 2, [0.7])]
    folder = tmp_path / "figs"
    path = plot_loss_curves(records, folder / "loss.png", title="losses")
    assert path == folder / "loss.png"
    assert_png(path, folder)
    assert plotted == ["grace / Cora / seed 0", "grace / Cora / seed 1", "dgi / PubMed / seed 2"]


def test_loss_curves_colours_by_group_and_log_scale(tmp_path, monkeypatch):
    from matplotlib.figure import Figure
    figures = []
    original = Figure.savefig
    monkeypatch.setattr(Figure, "savefig",
                        lambda self, *a, **k: figures.append(self) or original(self, *a, **k))
    records = [record("grace", "Cora", 0, [1000.0, 10.0, 1.0]),
               record("grace", "Cora", 1, [900.0, 9.0, 2.0]),
               record("dgi", "Cora", 0, [500.0, 5.0, 3.0])]
    plot_loss_curves(records, tmp_path / "log.png")
    ax = figures[-1].axes[0]
    assert ax.get_yscale() == "log"
    a, b, c = ax.get_lines()
    assert a.get_color() == b.get_color() != c.get_color()
    np.testing.assert_array_equal(a.get_xdata(), [1, 2, 3])  # 1-based epochs
    # a long run's record keeps every k-th epoch: x is epochs 1, 1 + k, ...
    plot_loss_curves([record("bgrl", "Photo", 0, [3.0, 2.0, 1.5], loss_curve_every=50)],
                     tmp_path / "thinned.png")
    np.testing.assert_array_equal(figures[-1].axes[0].get_lines()[0].get_xdata(), [1, 51, 101])
    # a non-positive loss or a small range keeps a linear axis
    plot_loss_curves([record("vgae", "Cora", 0, [5.0, -1.0, 0.5])], tmp_path / "lin1.png")
    assert figures[-1].axes[0].get_yscale() == "linear"
    plot_loss_curves([record("vgae", "Cora", 0, [50.0, 1.0])], tmp_path / "lin2.png")
    assert figures[-1].axes[0].get_yscale() == "linear"


def test_loss_curves_without_any_curve_raise(tmp_path):
    with pytest.raises(ValueError, match="loss curve"):
        plot_loss_curves([record("grace", "Cora", 0), record("dgi", "Cora", 0, [])],
                         tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"records\[0\]"):
        plot_loss_curves(["not a record"], tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- t-SNE

def test_tsne_png_deterministic_and_accepts_numpy(tmp_path):
    z, y = blobs()
    a = plot_embedding_tsne(z, y, tmp_path / "a" / "tsne.png", seed=3)
    assert isinstance(a, EmbeddingPlot)
    assert_png(a.path, tmp_path / "a")
    assert a.coords.shape == (60, 2) and np.isfinite(a.coords).all()
    np.testing.assert_array_equal(a.index, np.arange(60))
    path, coords, index = plot_embedding_tsne(z.numpy(), y.numpy(), tmp_path / "b" / "tsne.png",
                                              seed=3, title="same")
    assert_png(path, tmp_path / "b")
    np.testing.assert_allclose(coords, a.coords)
    np.testing.assert_array_equal(index, a.index)


def test_tsne_subsamples_above_max_points(tmp_path):
    z, y = blobs(n=80)
    a = plot_embedding_tsne(z, y, tmp_path / "a.png", seed=1, max_points=40)
    b = plot_embedding_tsne(z, y.view(-1, 1), tmp_path / "b.png", seed=1, max_points=40)
    assert a.coords.shape == (40, 2)
    assert len(np.unique(a.index)) == 40 and a.index.min() >= 0 and a.index.max() < 80
    assert np.all(np.diff(a.index) > 0)
    np.testing.assert_array_equal(a.index, b.index)  # the subset is seeded
    np.testing.assert_allclose(a.coords, b.coords)
    c = plot_embedding_tsne(z, y, tmp_path / "c.png", seed=2, max_points=40)
    assert not np.array_equal(a.index, c.index)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "c.png"]


def test_tsne_many_classes_and_one_dimension(tmp_path):
    z = torch.randn(30, 1)
    y = torch.arange(30)  # 30 classes: colour bar instead of legend
    out = plot_embedding_tsne(z, y, tmp_path / "t.png")
    assert_png(out.path, tmp_path)
    assert out.coords.shape == (30, 2)


@pytest.mark.parametrize("z, y, match", [
    (torch.randn(10), torch.zeros(10, dtype=torch.long), r"z must be 2-D.*\(10,\)"),
    (torch.randn(10, 4), torch.zeros(9, dtype=torch.long), r"\(10, 4\).*\(9,\)"),
    (torch.randn(10, 4), torch.zeros(10, 2, dtype=torch.long), r"y must be 1-D.*\(10, 2\)"),
    (torch.randn(1, 4), torch.zeros(1, dtype=torch.long), r"at least 2 rows"),
    (torch.full((10, 4), float("nan")), torch.zeros(10, dtype=torch.long), "finite"),
    (torch.randn(10, 4), torch.rand(10), "integer labels"),
])
def test_tsne_bad_inputs_raise(tmp_path, z, y, match):
    with pytest.raises(ValueError, match=match):
        plot_embedding_tsne(z, y, tmp_path / "bad.png")
    assert list(tmp_path.iterdir()) == []


def test_tsne_bad_max_points_raises(tmp_path):
    z, y = blobs(n=10)
    with pytest.raises(ValueError, match="max_points.*1"):
        plot_embedding_tsne(z, y, tmp_path / "bad.png", max_points=1)


# ---------------------------------------------------------------- ours vs published

def test_ours_vs_published_png(tmp_path):
    rows = [{"label": "grace / Cora / test_acc", "ours": 83.1, "ours_std": 0.4,
             "published": 83.3},
            {"label": "dgi / Cora / test_acc", "ours": 81.9, "ours_std": 0.7, "published": None},
            {"label": "graphmae / MUTAG / test_acc", "ours": np.float64(88.2)}]
    path = plot_ours_vs_published(rows, tmp_path / "cmp.png", title="vs papers")
    assert path == tmp_path / "cmp.png"
    assert_png(path, tmp_path)
    assert path.stat().st_mode & 0o044  # not mkstemp's private 0600
    # no published number at all still draws
    out = plot_ours_vs_published(rows[1:], tmp_path / "sub" / "cmp.png")
    assert_png(out, tmp_path / "sub")


@pytest.mark.parametrize("rows, match", [
    ([], "non-empty"),
    ([{"ours": 80.0}], "label"),
    ([{"label": "a", "ours": None}], r"rows\[0\].*'ours'"),
    ([{"label": "a", "ours": "80"}], r"rows\[0\]\['ours'\].*'80'"),
    ([{"label": "a", "ours": 80.0, "ours_std": -1.0}], r"ours_std.*-1"),
    ([{"label": "a", "ours": 80.0, "published": "n/a"}], r"published.*n/a"),
])
def test_ours_vs_published_bad_rows_raise(tmp_path, rows, match):
    with pytest.raises(ValueError, match=match):
        plot_ours_vs_published(rows, tmp_path / "bad.png")
    assert list(tmp_path.iterdir()) == []


def test_failed_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def boom(self, *args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(Figure, "savefig", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        plot_ours_vs_published([{"label": "a", "ours": 80.0}], tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []
