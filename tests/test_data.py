import shutil

import pytest
import torch
from torch_geometric.data import Data

from graphssl.data import (CSBM, DatasetUnavailableError, InvalidGraphError,
                           MirrorMissingFileError, UnknownDatasetError, available_datasets,
                           check_graph, dataset_spec, ensure_features, get_split, load_dataset,
                           random_split)


@pytest.mark.parametrize("written, canonical", [
    ("cora", "Cora"), ("CITESEER", "CiteSeer"), ("Amazon-Photo", "Amazon-Photo"),
    ("amazon_photo", "Amazon-Photo"), ("AmazonPhoto", "Amazon-Photo"),
    ("coauthor-cs", "Coauthor-CS"), ("Coauthor Physics", "Coauthor-Physics"),
    ("mutag", "MUTAG"), ("imdb-binary", "IMDB-BINARY"), ("IMDB_MULTI", "IMDB-MULTI"),
    ("ogbg-molbace", "ogbg-molbace"), ("OGBN-ARXIV", "ogbn-arxiv"), ("wikics", "WikiCS"),
    ("usa", "Airports-USA"), ("reddit-binary", "REDDIT-BINARY"), ("csbm", "CSBM"),
    ("tu:MUTAG", "MUTAG"),
])
def test_names_as_users_write_them(written, canonical):
    assert dataset_spec(written).name == canonical


def test_unknown_name_lists_close_matches():
    with pytest.raises(UnknownDatasetError, match="Did you mean: .*Cora"):
        dataset_spec("Corra")
    with pytest.raises(UnknownDatasetError, match="IMDB-BINARY"):
        dataset_spec("IMDB-BINRY")


def test_listing_covers_every_family():
    groups = available_datasets()
    assert {"Cora", "Amazon-Photo", "Coauthor-CS", "WikiCS", "Airports-USA", "CSBM"} <= set(
        groups["node"])
    assert {"MUTAG", "PROTEINS", "NCI1", "COLLAB", "DD"} <= set(groups["graph"])
    assert "ogbg-*" in groups["ogb"]


@pytest.mark.parametrize("name, nodes, edges, features, classes", [
    ("Cora", 2708, 10556, 1433, 7), ("CiteSeer", 3327, 9104, 3703, 6),
    ("Amazon-Photo", 7650, 238162, 745, 8), ("Airports-USA", 1190, 13599, 1190, 4),
])
def test_node_datasets_from_mirror(name, nodes, edges, features, classes, data_root, mirror,
                                   offline):
    ds = load_dataset(name, root=data_root, mirror=mirror)
    data = ds[0]
    assert (data.num_nodes, data.edge_index.size(1), data.num_features) == (nodes, edges, features)
    assert int(data.y.max()) + 1 == classes
    check_graph(data)


def test_planetoid_public_split(cora):
    split = get_split(cora, "public")
    assert (len(split.train), len(split.val), len(split.test)) == (140, 500, 1000)


def test_random_splits_are_seeded_and_disjoint():
    a, b, c = random_split(1000, 0), random_split(1000, 0), random_split(1000, 1)
    assert torch.equal(a.train, b.train) and not torch.equal(a.train, c.train)
    assert (len(a.train), len(a.val), len(a.test)) == (100, 100, 800)
    everything = torch.cat([a.train, a.val, a.test])
    assert torch.equal(everything.sort().values, torch.arange(1000))


@pytest.mark.parametrize("name, graphs, classes", [
    ("MUTAG", 188, 2), ("imdb-binary", 1000, 2), ("PROTEINS", 1113, 2)])
def test_tu_datasets_from_mirror(name, graphs, classes, data_root, mirror, offline):
    ds = load_dataset(name, root=data_root, mirror=mirror)
    assert len(ds) == graphs and ds.num_classes == classes


def test_ogb_from_mirror_with_official_split(data_root, mirror, offline):
    ds = load_dataset("ogbg-molbace", root=data_root, mirror=mirror)
    assert len(ds) == 1513
    split = ds.get_idx_split()
    assert [len(split[k]) for k in ("train", "valid", "test")] == [1210, 151, 152]


def test_mirror_is_never_written(tmp_path, mirror, offline):
    load_dataset("MUTAG", root=tmp_path, mirror=mirror)
    assert not (mirror / "TUDataset" / "MUTAG" / "processed").exists()
    assert (tmp_path / "TUDataset" / "MUTAG" / "processed").is_dir()


def test_mirror_without_the_dataset(tmp_path, offline):
    (tmp_path / "mirror").mkdir()
    with pytest.raises(MirrorMissingFileError, match="not in the mirror"):
        load_dataset("Cora", root=tmp_path / "root", mirror=tmp_path / "mirror")


def test_mirror_missing_a_file_names_it(tmp_path, mirror, offline):
    partial = tmp_path / "mirror" / "Planetoid" / "Cora" / "raw"
    shutil.copytree(mirror / "Planetoid" / "Cora" / "raw", partial)
    (partial / "ind.cora.tx").unlink()
    with pytest.raises(MirrorMissingFileError, match="mirror/Planetoid/Cora/raw/ind.cora.tx"):
        load_dataset("Cora", root=tmp_path / "root", mirror=tmp_path / "mirror")


def test_missing_mirror_folder(tmp_path):
    with pytest.raises(MirrorMissingFileError, match="does not exist"):
        load_dataset("Cora", root=tmp_path, mirror=tmp_path / "nope")


def test_offline_without_mirror_says_how_to_set_one(tmp_path, offline):
    with pytest.raises(DatasetUnavailableError, match="GRAPHSSL_MIRROR"):
        load_dataset("Cora", root=tmp_path)


def test_mirror_from_environment(tmp_path, mirror, offline, monkeypatch):
    monkeypatch.setenv("GRAPHSSL_MIRROR", str(mirror))
    assert load_dataset("MUTAG", root=tmp_path)[0].num_nodes > 0


def test_csbm_is_deterministic_and_homophilous():
    a, b = CSBM(seed=3)[0], CSBM(seed=3)[0]
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.x, b.x)
    same_class = (a.y[a.edge_index[0]] == a.y[a.edge_index[1]]).float().mean()
    assert 0.75 < same_class < 0.85
    assert a.is_undirected()


def test_check_graph_errors_name_the_fix():
    x = torch.randn(4, 3)
    ei = torch.tensor([[0, 1], [1, 2]])
    check_graph(Data(x=x, edge_index=ei))
    check_graph(Data(x=x, edge_index=torch.empty(2, 0, dtype=torch.long)))  # no edges: fine
    bad = x.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(InvalidGraphError, match="NaN or inf .* node 2.*nan_to_num"):
        check_graph(Data(x=bad, edge_index=ei))
    with pytest.raises(InvalidGraphError, match="refers to node 7.*4 nodes"):
        check_graph(Data(x=x, edge_index=torch.tensor([[0, 7], [1, 2]])))
    with pytest.raises(InvalidGraphError, match=r"shape \[2, num_edges\]"):
        check_graph(Data(x=x, edge_index=torch.tensor([0, 1])))


def test_default_features_for_featureless_graphs():
    g = Data(edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]), num_nodes=4)
    out = ensure_features(g, max_degree=3)
    assert out.x.shape == (4, 4) and out.x[1, 2] == 1 and out.x[3, 0] == 1
    assert g.x is None
    constant = ensure_features(g, max_degree=0)  # InfoGraph's / GraphCL's constant feature
    assert constant.x.tolist() == [[1.0]] * 4


def test_degree_one_hot_appended_to_existing_features():
    g = Data(x=torch.tensor([[1.0], [2.0], [3.0], [4.0]]),
             edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))
    assert ensure_features(g, max_degree=3) is g  # features kept unless asked
    out = ensure_features(g, max_degree=1, append_degree=True)
    assert out.x.tolist() == [[1, 0, 1], [2, 0, 1], [3, 0, 1], [4, 1, 0]]  # degree 2 capped at 1
    assert g.x.shape == (4, 1)
    with pytest.raises(ValueError, match="append_degree must be True or False, got 'yes'"):
        ensure_features(g, append_degree="yes")
    with pytest.raises(ValueError, match="max_degree must be a non-negative integer, got 'auto'"):
        ensure_features(g, max_degree="auto")


def test_largest_graph_from_the_slices_of_a_dataset_its_views_and_concatenations(
        data_root, mirror):
    from torch.utils.data import ConcatDataset

    from graphssl.data import largest_graph, load_dataset

    mutag = load_dataset("MUTAG", root=data_root, mirror=mirror)
    by_reading = lambda graphs: max(int(g.num_nodes) for g in graphs)  # noqa: E731
    small = mutag[torch.tensor([i for i, g in enumerate(mutag) if g.num_nodes < 20])]
    assert largest_graph(mutag) == by_reading(mutag) == 28
    assert largest_graph(small) == by_reading(small) == 19  # a view: only its own graphs
    assert largest_graph(ConcatDataset([small, mutag[:3]])) == 19 == by_reading(small)
    star = Data(edge_index=torch.tensor([[0, 0], [1, 2]]), num_nodes=3)
    assert largest_graph([star]) == 3 and largest_graph([]) == 0  # any sequence: read


def test_largest_degree_over_a_batched_dataset():
    from graphssl.data import largest_degree

    star = Data(edge_index=torch.tensor([[0, 0, 0, 1, 2, 3], [1, 2, 3, 0, 0, 0]]), num_nodes=4)
    path = Data(edge_index=torch.tensor([[0, 1], [1, 0]]), num_nodes=2)
    assert largest_degree([path, star, path], batch_size=2) == 3
    assert largest_degree([Data(edge_index=torch.empty(2, 0, dtype=torch.long), num_nodes=3)]) == 0


def test_density_counts_non_zeros_and_nan():
    from graphssl.sparse import density
    x = torch.tensor([[0.0, 1.0, -2.0, 0.0], [float("nan"), 0.0, 0.0, 0.0]])
    assert density(x) == 3 / 8
    assert density(torch.zeros(0, 4)) == 0.0
    assert density(torch.zeros(3, 3)) == 0.0
