"""Molecules from SMILES files (``SmilesDataset``, ``MOSES``): OGB's featurisation, unparseable
and bond-less molecules, seeded subsets, loading by name offline, and pretraining on them."""
import gzip

import pytest
import torch

pytest.importorskip("rdkit")

from graphssl.bench.transfer import pretraining_molecules  # noqa: E402
from graphssl.data import MirrorMissingFileError, load_dataset  # noqa: E402
from graphssl.data.smiles import SmilesDataset, read_smiles, smiles_to_data  # noqa: E402

# ethanol, benzene, sodium (one atom, no bond), not a molecule, acetic acid, aspirin
SMILES = ["CCO", "c1ccccc1", "[Na+]", "not-a-smiles(", "CC(=O)O", "CC(=O)Oc1ccccc1C(=O)O"]


def write_csv(path, smiles, header="SMILES", gz=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join([f"{header},other"] + [f"{s},1" for s in smiles]) + "\n"
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def test_smiles_to_data_matches_ogb_featurisation():
    from ogb.utils import smiles2graph
    data = smiles_to_data("CC(=O)O")
    graph = smiles2graph("CC(=O)O")
    assert data.num_nodes == 4 and data.x.dtype == torch.long and data.x.shape == (4, 9)
    assert torch.equal(data.x, torch.from_numpy(graph["node_feat"]))
    assert torch.equal(data.edge_index, torch.from_numpy(graph["edge_index"]))
    assert data.edge_attr.shape == (6, 3)  # 3 bonds, both directions
    assert data.x[:, 0].tolist() == [5, 5, 7, 7]  # atomic numbers - 1: C, C, O, O
    aspirin = smiles_to_data("CC(=O)Oc1ccccc1C(=O)O")  # rings, aromatic and double bonds
    graph = smiles2graph("CC(=O)Oc1ccccc1C(=O)O")
    for key, ogb_key in (("x", "node_feat"), ("edge_index", "edge_index"),
                         ("edge_attr", "edge_feat")):
        assert torch.equal(aspirin[key], torch.from_numpy(graph[ogb_key]))
    single = smiles_to_data("[Na+]")
    assert single.num_nodes == 1 and single.edge_index.shape == (2, 0)
    assert smiles_to_data("not-a-smiles(") is None


def test_read_smiles_csv_and_gz(tmp_path):
    assert read_smiles(write_csv(tmp_path / "a.csv", SMILES)) == SMILES
    assert read_smiles(write_csv(tmp_path / "b.csv.gz", SMILES, gz=True)) == SMILES
    with pytest.raises(ValueError, match="no column 'SMILES'"):
        read_smiles(write_csv(tmp_path / "c.csv", SMILES, header="smiles"))


def test_smiles_dataset_skips_unparseable_and_subsets(tmp_path):
    write_csv(tmp_path / "mols" / "raw" / "molecules.csv", SMILES)
    with pytest.warns(UserWarning, match="1 of 6 SMILES .* could not be parsed"):
        ds = SmilesDataset(str(tmp_path / "mols"), log=False)
    assert len(ds) == 5 and ds.num_skipped == 1
    assert [d.num_nodes for d in ds] == [3, 6, 1, 4, 13]
    again = SmilesDataset(str(tmp_path / "mols"), log=False)  # read back from processed/
    assert len(again) == 5 and again.num_skipped == 1
    a = SmilesDataset(str(tmp_path / "mols"), max_molecules=3, seed=1, log=False)
    b = SmilesDataset(str(tmp_path / "mols"), max_molecules=3, seed=1, log=False)
    c = SmilesDataset(str(tmp_path / "mols"), max_molecules=3, seed=2, log=False)
    sizes = [[d.num_nodes for d in ds] for ds in (a, b, c)]
    assert len(a) <= 3 and sizes[0] == sizes[1]  # the same seed draws the same subset
    assert sizes[0] != sizes[2] or len(a) != len(c)
    with pytest.raises(ValueError, match="max_molecules must be a positive integer"):
        SmilesDataset(str(tmp_path / "mols"), max_molecules=0)


def test_smiles_dataset_without_raw_file_or_url(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no download url"):
        SmilesDataset(str(tmp_path / "empty"), log=False)


def test_moses_by_name_offline_from_raw_file_in_root(tmp_path, offline):
    """The mirror lacks MOSES; a raw file placed in the root is used, options reach the loader,
    and a graph set refuses options it does not take."""
    mirror = tmp_path / "mirror"
    (mirror / "Planetoid").mkdir(parents=True)
    root = tmp_path / "root"
    with pytest.raises(MirrorMissingFileError, match="not in the mirror"):
        load_dataset("MOSES", root=root, mirror=mirror)
    write_csv(root / "MOSES" / "raw" / "train.csv", ["CCO", "CCN", "CCC", "c1ccccc1"])
    ds = load_dataset("moses", root=root, mirror=mirror, max_molecules=2)
    assert ds.spec.name == "MOSES" and ds.spec.split == "none" and len(ds) == 2
    with pytest.raises(TypeError, match="takes only max_molecules, seed"):
        load_dataset("MOSES", root=root, mirror=mirror, folds=3)
    with pytest.raises(TypeError, match="takes no options"):
        load_dataset("MUTAG", root=root, mirror=mirror, max_molecules=2)


def test_pretraining_molecules_mix_ogb_training_split_and_moses(tmp_path, data_root, mirror):
    write_csv(data_root / "MOSES" / "raw" / "train.csv", ["CCO", "CCN", "CCC", "c1ccccc1"])
    molecules, counts = pretraining_molecules(
        ["ogbg-molfreesolv", {"name": "MOSES", "max_molecules": 3, "seed": 0}],
        root=data_root, mirror=mirror)
    assert counts == {"ogbg-molfreesolv": 513, "MOSES(max_molecules=3, seed=0)": 3}
    assert len(molecules) == 516
    first, last = molecules[0], molecules[515]
    assert first.y is None and last.y is None  # labels never reach pretraining
    assert first.x.shape[1] == last.x.shape[1] == 174 and last.x.dtype == torch.float
    with pytest.raises(IndexError):
        molecules[516]
    with pytest.raises(ValueError, match="entries must be dataset names or mappings"):
        pretraining_molecules([{"max_molecules": 3}], root=data_root, mirror=mirror)
    with pytest.raises(ValueError, match="OGB molecule sets .* or unlabelled"):
        pretraining_molecules(["MUTAG"], root=data_root, mirror=mirror)
