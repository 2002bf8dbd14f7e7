"""Probes for images, clips and text: multi-label, next-frame, sparse baselines; the registry and
benchmark-grid entries of the non-graph sets."""
import pytest
import torch
from scipy import sparse

from graphssl.bench.grid import GridError, load_grid
from graphssl.data import ModalityData, Split, dataset_spec, load_dataset, stratified_masks
from graphssl.evaluate import (linear_probe, multilabel_probe, next_frame_probe,
                               next_frame_windows)
from graphssl.evaluate.multilabel import top_k_sets


def _split(n, seed=0):
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return Split(perm[: n // 2], perm[n // 2: 3 * n // 4], perm[3 * n // 4:])


def test_top_k_sets_names_as_many_labels_as_are_present():
    scores = torch.tensor([[0.1, 0.9, 0.5], [0.3, 0.2, 0.1]]).numpy()
    out = top_k_sets(scores, torch.tensor([2, 1]).numpy())
    assert out.tolist() == [[False, True, True], [True, False, False]]


def test_multilabel_probe_reads_labels_written_into_the_embedding():
    g = torch.Generator().manual_seed(0)
    Y = torch.zeros(400, 6)
    Y[torch.arange(400), torch.randint(0, 6, (400,), generator=g)] = 1
    Y[torch.arange(400), torch.randint(0, 6, (400,), generator=g)] = 1
    z = torch.cat([Y + 0.1 * torch.randn(400, 6, generator=g), torch.randn(400, 4, generator=g)], 1)
    res = multilabel_probe(z, Y, _split(400))
    assert res["test_f1"] > 0.95 and res["test_subset_acc"] > 0.9
    noise = multilabel_probe(torch.randn(400, 10, generator=g), Y, _split(400))
    assert noise["test_f1"] < 0.6  # chance for 1-2 labels out of 6 is about 0.3
    with pytest.raises(ValueError, match="always or never present"):
        multilabel_probe(z, torch.cat([Y[:, :5], torch.zeros(400, 1)], 1), _split(400))


def test_next_frame_windows_and_probe():
    clips = torch.arange(2 * 5, dtype=torch.float).view(2, 5, 1, 1, 1).expand(2, 5, 1, 2, 2)
    ctx, nxt, owner = next_frame_windows(clips, context=3, windows_per_clip=4)
    assert ctx.shape == (4, 3, 1, 2, 2) and owner.tolist() == [0, 0, 1, 1]  # 2 windows fit
    torch.testing.assert_close(nxt[:, 0, 0, 0], torch.tensor([3.0, 4.0, 8.0, 9.0]))
    torch.testing.assert_close(ctx[:, -1, 0, 0, 0], torch.tensor([2.0, 3.0, 7.0, 8.0]))
    with pytest.raises(ValueError, match="too short"):
        next_frame_windows(clips, context=5)
    # frames brighten at a clip-specific rate: an embedding holding the rate predicts the next
    # frame far better than copying the last one
    g = torch.Generator().manual_seed(0)
    rate = torch.rand(200, generator=g) * 0.1
    clips = (rate.view(-1, 1, 1, 1, 1) * torch.arange(6.0).view(1, 6, 1, 1, 1)).expand(
        200, 6, 1, 3, 3).contiguous()
    res = next_frame_probe(lambda c: c[:, -1, :, 0, 0] - c[:, -2, :, 0, 0], clips, _split(200),
                           context=3)
    assert res["test_mse"] < 0.01 * res["test_copy_last_mse"]


def test_linear_probe_takes_sparse_features():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (300,), generator=g)
    dense = torch.nn.functional.one_hot(y, 3).float() + 0.05 * torch.rand(300, 3, generator=g)
    x = sparse.csr_matrix(torch.cat([dense, torch.zeros(300, 50)], 1).numpy())
    assert linear_probe(x, y, _split(300))["test_acc"] == 1.0


def test_modality_data_validates_itself():
    x, y = torch.rand(10, 1, 4, 4), torch.arange(10) % 2
    rest, val = stratified_masks(y, 0.2)
    test = torch.zeros(10, dtype=torch.bool)
    test[rest.nonzero()[:2]] = True
    split = {"train": rest & ~test, "val": val, "test": test}
    data = ModalityData("toy", "image", x, y, split)
    assert data.num_classes == 2 and len(data) == 10 and "toy" in repr(data)
    with pytest.raises(ValueError, match="rank 5"):
        ModalityData("toy", "video", x, y, split)
    with pytest.raises(ValueError, match="overlap"):
        ModalityData("toy", "image", x, y, {**split, "val": split["train"]})
    with pytest.raises(ValueError, match="modality"):
        ModalityData("toy", "audio", x, y, split)


def test_registry_knows_the_non_graph_sets(tmp_path):
    assert dataset_spec("Fashion-MNIST").name == "FashionMNIST"
    assert dataset_spec("cifar10").task == "image"
    assert dataset_spec("sst2").task == "text" and dataset_spec("moving-digits").task == "video"
    data = load_dataset("digits", root=tmp_path)
    assert data.spec.name == "digits" and data.x.shape == (1797, 1, 8, 8)
    with pytest.raises(TypeError, match="no options"):
        load_dataset("csbm", root=tmp_path, num_clips=3)


def test_grid_refuses_a_method_on_the_wrong_modality(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text("name: bad\ngrids:\n  - methods: [grace]\n    datasets: [digits]\n"
                    "    seeds: [0]\n")
    with pytest.raises(GridError, match="image data"):
        load_grid(path)
    path.write_text("name: ok\ngrids:\n  - methods: [simclr]\n    datasets: [digits]\n"
                    "    seeds: [0]\n    search:\n      model.temperature: [0.2, 0.5]\n")
    assert len(load_grid(path).cells) == 2  # digits has a validation part to select on
