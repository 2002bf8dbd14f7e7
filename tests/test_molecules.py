"""Molecules: one-hot atom features, the GINE encoder with bond embeddings, GraphMAE's
atom-type target, fine-tuning and the transfer protocol on the OGB molecule sets."""
import json

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from graphssl.data.molecules import OGB_ATOM_FEATURE_DIMS, OneHotCategorical
from graphssl.encoders import EdgeEmbedding, GINEEncoder, build_encoder
from graphssl.evaluate.transfer import finetune
from graphssl.methods import GraphMAEGraph


def molecule(num_atoms, num_bonds, seed=0):
    """A random molecule-like graph with OGB's categorical atom and bond columns."""
    g = torch.Generator().manual_seed(seed)
    x = torch.stack([torch.randint(d, (num_atoms,), generator=g)
                     for d in OGB_ATOM_FEATURE_DIMS], dim=1)
    src = torch.randint(num_atoms, (num_bonds,), generator=g)
    dst = (src + 1 + torch.randint(max(num_atoms - 1, 1), (num_bonds,), generator=g)) % num_atoms
    edge_index = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], dim=1)
    bonds = torch.stack([torch.randint(d, (num_bonds,), generator=g) for d in (5, 6, 2)], 1)
    return Data(x=x, edge_index=edge_index.view(2, -1), edge_attr=bonds.repeat(2, 1),
                y=torch.tensor([[seed % 2]], dtype=torch.float))


def test_one_hot_categorical_blocks():
    x = torch.tensor([[0, 1], [2, 0]])
    out = OneHotCategorical([3, 2])(Data(x=x, edge_index=torch.empty(2, 0, dtype=torch.long)))
    assert out.x.tolist() == [[1, 0, 0, 0, 1], [0, 0, 1, 1, 0]]
    assert x.tolist() == [[0, 1], [2, 0]]  # the input graph is untouched
    data = molecule(6, 5)
    hot = OneHotCategorical()(data).x
    assert hot.shape == (6, 174) and torch.equal(hot.sum(1), torch.full((6,), 9.0))
    assert torch.equal(hot[:, :119].argmax(1), data.x[:, 0])  # atomic number block first
    assert repr(OneHotCategorical([3, 2])) == "OneHotCategorical(dims=[3, 2])"


def test_one_hot_categorical_bad_input():
    with pytest.raises(ValueError, match="already one-hot"):
        OneHotCategorical([3, 2])(Data(x=torch.rand(2, 5)))
    with pytest.raises(ValueError, match="column 1 has values outside"):
        OneHotCategorical([3, 2])(Data(x=torch.tensor([[0, 2]])))
    with pytest.raises(ValueError, match="dims"):
        OneHotCategorical([3, 0])


def test_edge_embedding_sums_one_table_per_column():
    emb = EdgeEmbedding(4, edge_dims=[5, 6, 2])
    attr = torch.tensor([[1, 0, 1], [4, 5, 0]])
    w = emb.table.weight
    assert torch.allclose(emb(attr), torch.stack([w[1] + w[5] + w[12], w[4] + w[10] + w[11]]))
    with pytest.raises(ValueError, match="out of range"):
        emb(torch.tensor([[5, 0, 0]]))
    with pytest.raises(ValueError, match="exactly one"):
        EdgeEmbedding(4)
    assert EdgeEmbedding(4, edge_channels=3)(torch.rand(2, 3)).shape == (2, 4)


def test_gine_encoder_uses_bonds_and_handles_molecules_without_bonds():
    torch.manual_seed(0)
    enc = GINEEncoder(174, 16, num_layers=3, batch_norm=True, act_last=False,
                      activation="relu").eval()
    mols = [OneHotCategorical()(molecule(n, b, seed=n)) for n, b in ((7, 6), (1, 0), (3, 0))]
    batch = Batch.from_data_list(mols)
    z = enc(batch.x, batch.edge_index, edge_attr=batch.edge_attr)
    assert z.shape == (11, 16) and torch.isfinite(z).all()
    # bond types change the embedding of atoms with bonds only
    other = batch.edge_attr.clone()
    other[:, 0] = (other[:, 0] + 1) % 5
    z2 = enc(batch.x, batch.edge_index, edge_attr=other)
    assert not torch.allclose(z[:7], z2[:7]) and torch.allclose(z[7:], z2[7:])
    with pytest.raises(ValueError, match="pass edge_attr"):
        enc(batch.x, batch.edge_index)
    assert isinstance(build_encoder("gine", 174, hidden_channels=8), GINEEncoder)


def test_graphmae_reconstructs_only_the_atom_type_block():
    torch.manual_seed(0)
    method = GraphMAEGraph.from_config(
        174, encoder={"type": "gine", "hidden_channels": 16, "num_layers": 2},
        mask_rate=0.25, target_features=119)
    assert method.decoder.out_channels == 119
    batch = Batch.from_data_list([OneHotCategorical()(molecule(8, 7, seed=s))
                                  for s in range(4)])
    gen = torch.Generator().manual_seed(0)
    recon, masked = method.reconstruct(batch, torch.Generator().manual_seed(0))
    loss = method.loss(batch, gen)
    assert torch.allclose(loss, method.objective(recon[masked], batch.x[masked, :119]))
    loss.backward()
    assert method.enc_mask_token.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="target_features"):
        GraphMAEGraph.from_config(174, encoder={"type": "gine"}, target_features=175)


class _AUC:
    eval_metric = "rocauc"

    def eval(self, d):
        from sklearn.metrics import roc_auc_score
        return {"rocauc": roc_auc_score(d["y_true"][:, 0], d["y_pred"][:, 0])}


def _toy_property_set():
    """Label = whether at least half the atoms are in a ring (the last one-hot column pair):
    a threshold on the mean of the atom features, so learnable with a mean readout."""
    mols = []
    for s in range(160):
        m = molecule(6, 5, seed=s)
        m.y = torch.tensor([[float(int((m.x[:, 8] == 1).sum()) >= 3)]])
        mols.append(OneHotCategorical()(m))
    split = {"train": torch.arange(100), "valid": torch.arange(100, 120),
             "test": torch.arange(120, 160)}
    assert 10 < sum(float(mols[i].y) for i in split["test"]) < 30
    return mols, split


def test_finetune_is_deterministic_learns_and_keeps_the_encoder():
    torch.manual_seed(0)
    enc = GINEEncoder(174, 16, num_layers=2, batch_norm=True, act_last=False)
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    mols, split = _toy_property_set()
    runs = [finetune(enc, mols, split, _AUC(), num_tasks=1, epochs=15, lr=0.01,
                     batch_size=16, seed=0, dropout=0.0, eval_every=5) for _ in range(2)]
    assert runs[0]["test"] == runs[1]["test"] and runs[0]["train_loss"] == runs[1]["train_loss"]
    assert runs[0]["train_loss"][-1] < runs[0]["train_loss"][0]
    assert runs[0]["test"] > 0.75 and [e for e, _ in runs[0]["valid_curve"]] == [5, 10, 15]
    assert all(torch.equal(before[k], v) for k, v in enc.state_dict().items())
    with pytest.raises(ValueError, match="dropout"):
        finetune(enc, mols, split, _AUC(), num_tasks=1, dropout=1.0)
    with pytest.raises(ValueError, match="'valid'"):
        finetune(enc, mols, {"train": split["train"]}, _AUC(), num_tasks=1)


def test_finetune_resumes_from_its_checkpoint_as_if_never_interrupted(tmp_path, monkeypatch):
    import graphssl.evaluate.transfer as transfer
    from graphssl.train.checkpoint import CheckpointError

    torch.manual_seed(0)
    enc = GINEEncoder(174, 16, num_layers=2, batch_norm=True, act_last=False)
    mols, split = _toy_property_set()
    args = dict(num_tasks=1, epochs=6, lr=0.01, batch_size=16, seed=3, dropout=0.3,
                eval_every=2)
    whole = finetune(enc, mols, split, _AUC(), **args)
    saves, real_save = [], transfer.save_checkpoint

    def save_then_die(state, path):  # a kill right after the third epoch's checkpoint
        real_save(state, path)
        saves.append(state["epoch"])
        if len(saves) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(transfer, "save_checkpoint", save_then_die)
    ckpt = tmp_path / "ft.pt"
    with pytest.raises(KeyboardInterrupt):
        finetune(enc, mols, split, _AUC(), checkpoint=ckpt, checkpoint_seconds=0, **args)
    resumed = finetune(enc, mols, split, _AUC(), checkpoint=ckpt, checkpoint_seconds=0, **args)
    assert saves == [1, 2, 3, 4, 5]  # the rerun went on after epoch 3 (no save after the last)
    assert resumed["train_loss"] == whole["train_loss"] and resumed["test"] == whole["test"]
    assert resumed["valid_curve"] == whole["valid_curve"]
    monkeypatch.setattr(transfer, "save_checkpoint", real_save)
    # the default: a save at most once a minute, so a short run writes none
    quick = tmp_path / "quick.pt"
    finetune(enc, mols, split, _AUC(), checkpoint=quick, **{**args, "epochs": 2})
    assert not quick.exists()
    with pytest.raises(CheckpointError, match="other fine-tuning settings"):
        finetune(enc, mols, split, _AUC(), checkpoint=ckpt, **{**args, "lr": 0.02})
    with pytest.raises(ValueError, match="checkpoint_seconds"):
        finetune(enc, mols, split, _AUC(), checkpoint=ckpt, checkpoint_seconds=-1, **args)


def test_finetune_skips_missing_labels():
    torch.manual_seed(0)
    mols, split = _toy_property_set()
    for m in mols[:30]:
        m.y = torch.tensor([[float("nan")]])
    out = finetune(GINEEncoder(174, 8, num_layers=1), mols, split, _AUC(), num_tasks=1,
                   epochs=2, seed=0)
    assert np.isfinite(out["train_loss"]).all()


def test_transfer_protocol_on_the_ogb_molecule_sets(tmp_path, data_root, mirror, offline,
                                                      monkeypatch):
    from graphssl.bench.pretrain import run_pretrain
    small = {"model": {"encoder": {"hidden_channels": 16, "num_layers": 2}},
             "protocol": {"finetune": {"epochs": 1, "batch_size": 128}}}
    record = run_pretrain("graphmae-graph", "ogbg-molbace", runs=2, epochs=1, root=data_root,
                          mirror=mirror, overrides=small, progress=False, echo=lambda *a: None)
    assert record["split"] == "OGB scaffold" and record["runs"] == 2
    # pretraining saw the three sets' training molecules only
    assert record["pretrain_molecules"] == {"ogbg-molbace": 1210, "ogbg-molesol": 902,
                                            "ogbg-molfreesolv": 513}
    for key in ("test_rocauc_mean", "test_scratch_rocauc_mean"):
        assert 0.0 <= record[key] <= 1.0
    run = record["per_run"][1]
    assert run["test_gain"] == pytest.approx(run["test_rocauc"] - run["test_scratch_rocauc"])
    json.dumps(record)  # the record is plain JSON
    # with a checkpoint folder, a rerun reuses every finished seed, also when it asks for
    # another set of seeds (--run-ids), and loads the finished pretraining instead of redoing it
    lines = []
    first = run_pretrain("graphmae-graph", "ogbg-molbace", runs=2, epochs=1, root=data_root,
                         mirror=mirror, overrides=small, progress=False, echo=lines.append,
                         checkpoint_dir=tmp_path / "ckpt")
    assert first["per_run"] == record["per_run"]  # the checkpoint folder changes no result
    again = run_pretrain("graphmae-graph", "ogbg-molbace", runs=[1], epochs=1, root=data_root,
                         mirror=mirror, overrides=small, progress=False, echo=lines.append,
                         checkpoint_dir=tmp_path / "ckpt")
    assert "  seed 1: finished in an earlier run, reused" in lines
    assert again["per_run"] == first["per_run"][1:] and again["epochs_trained_here"] == 0
    # each arm of a seed is kept too: a seed killed in its second arm redoes only that arm
    finetuned = tmp_path / "ckpt" / "finetune"
    assert sorted(p.name for p in (finetuned / "run0").iterdir()) == [
        "pretrained.json", "scratch.json", "train.lock"]  # no fine-tuning checkpoint left
    (finetuned / "seed0.json").unlink()
    (finetuned / "run0" / "scratch.json").unlink()
    import graphssl.bench.transfer as transfer_protocol
    calls, real_finetune = [], transfer_protocol.finetune
    monkeypatch.setattr(transfer_protocol, "finetune",
                        lambda *a, **k: calls.append(k["checkpoint"]) or real_finetune(*a, **k))
    redone = run_pretrain("graphmae-graph", "ogbg-molbace", runs=[0], epochs=1, root=data_root,
                          mirror=mirror, overrides=small, progress=False, echo=lines.append,
                          checkpoint_dir=tmp_path / "ckpt")
    assert [c.name.split("-")[0] for c in calls] == ["scratch"]
    assert redone["per_run"] == first["per_run"][:1]
    with pytest.raises(ValueError, match="OGB molecule set"):
        run_pretrain("graphmae-graph", "MUTAG", task="transfer", runs=1, epochs=1,
                     root=data_root, mirror=mirror, progress=False, echo=lambda *a: None)


def test_transfer_refuses_pretraining_molecules_beyond_the_methods_bound(
        monkeypatch, data_root, mirror, offline):
    """MVGRL's dense diffusion bound (lowered here below the largest pretraining molecule, 66
    atoms) stops the transfer protocol before pretraining, naming the pretraining sets."""
    from graphssl.augment import PPRDiffusion
    from graphssl.bench.pretrain import run_pretrain
    from graphssl.train import Trainer

    def no_training(*args, **kwargs):
        raise AssertionError("trained before the size check")

    monkeypatch.setattr(Trainer, "fit", no_training)
    small = {"model": {"encoder": {"hidden_channels": 8, "num_layers": 1}}}
    args = dict(task="transfer", runs=1, epochs=1, root=data_root, mirror=mirror,
                overrides=small, progress=False, echo=lambda *a: None)
    monkeypatch.setattr(PPRDiffusion, "MAX_DENSE_ENTRIES", 65 ** 2)
    with pytest.raises(ValueError, match=r"mvgrl-graph cannot run on the pretraining molecules "
                                         r"\(ogbg-molbace: 1210, .*\), whose largest graph has "
                                         r"66 nodes: PPRDiffusion is exact"):
        run_pretrain("mvgrl-graph", "ogbg-molbace", **args)
    monkeypatch.setattr(PPRDiffusion, "MAX_DENSE_ENTRIES", 66 ** 2)  # it fits: training
    with pytest.raises(AssertionError, match="trained before"):
        run_pretrain("mvgrl-graph", "ogbg-molbace", **args)
