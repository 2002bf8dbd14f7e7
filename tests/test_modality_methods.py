"""SimCLR, BYOL, SwAV and MAE on images, clips and text, sharing the graph methods' objectives."""
import json

import pytest
import torch

from graphssl.bench.modalities import TensorBatches
from graphssl.cli import main
from graphssl.encoders import (GCNEncoder, TextTransformerEncoder, VideoTransformerEncoder,
                               ViTEncoder)
from graphssl.methods import BGRL, BYOL, GRACE, MAE, GraphSwAV, SimCLR
from graphssl.objectives import BootstrapLoss, InfoNCE, SwAV
from graphssl.train import Trainer


def vit(dim=16):
    return ViTEncoder(1, image_size=8, patch_size=2, dim=dim, depth=1, heads=2)


def test_one_objective_class_across_modalities():
    """The promise of the library: GRACE and SimCLR share InfoNCE, BGRL and BYOL the bootstrap
    loss, and SwAV is one class on graphs and images."""
    grace = GRACE(GCNEncoder(8, 16), view1={}, view2={})
    simclr = SimCLR(vit(), view1={"gaussian_noise": 0.05})
    assert type(grace.objective) is type(simclr.objective) is InfoNCE
    bgrl = BGRL(GCNEncoder(8, 16), view1={}, view2={})
    byol = BYOL(vit(), view1={})
    assert type(bgrl.objective) is type(byol.objective) is BootstrapLoss
    graph_swav = GraphSwAV(GCNEncoder(8, 16), view={})
    image_swav = GraphSwAV(vit(), view={"random_affine": 10})
    assert type(graph_swav.objective) is type(image_swav.objective) is SwAV


@pytest.mark.parametrize("make", [
    lambda: SimCLR(vit(), view1={"random_affine": 10, "gaussian_noise": 0.05}),
    lambda: BYOL(vit(), view1={"random_affine": 10}),
    lambda: GraphSwAV(vit(), view={"random_affine": 10}, num_prototypes=5),
    lambda: MAE(vit(), mask_ratio=0.5),
])
def test_methods_learn_on_images(make):
    """A few epochs on random images lower the loss, and the same seed repeats it exactly."""
    def run():
        torch.manual_seed(0)
        method = make()
        batches = TensorBatches(torch.rand(64, 1, 8, 8), batch_size=32, seed=0)
        trainer = Trainer(epochs=8, lr=3e-3, seed=0, progress=False)
        trainer.fit(method, batches)
        return [h["loss"] for h in trainer.history], method.embed(torch.rand(3, 1, 8, 8))

    losses, z = run()
    assert losses[-1] < losses[0]
    assert z.shape == (3, 16) and torch.isfinite(z).all()
    again, _ = run()
    assert losses == again


def test_byol_target_is_an_ema_of_the_online_network():
    torch.manual_seed(0)
    method = BYOL(vit(), view1={}, ema_base=0.5)
    online = [p.detach().clone() for p in method.encoder.parameters()]
    with torch.no_grad():
        for p in method.encoder.parameters():
            p.add_(1.0)
    before = [p.detach().clone() for p in method.target_encoder.parameters()]
    method.after_step(0, 10)  # rate = ema_base at step 0
    for b, o, t in zip(before, online, method.target_encoder.parameters()):
        torch.testing.assert_close(t, 0.5 * b + 0.5 * (o + 1.0))
    with pytest.raises(ValueError, match="ema_base"):
        BYOL(vit(), view1={}, ema_base=1.5)


def test_mae_hides_real_tokens_only():
    method = MAE(TextTransformerEncoder(20, max_length=6, dim=16, depth=1, heads=2),
                 mask_ratio=0.5)
    ids = torch.tensor([[5, 6, 7, 8, 0, 0], [9, 3, 0, 0, 0, 0], [4, 4, 4, 4, 4, 4]])
    order, keep = method.split_tokens(ids == 0, ids.shape, torch.Generator().manual_seed(0),
                                      "cpu")
    assert keep.tolist() == [2, 1, 3]  # half of 4, 2 and 6 real tokens
    for row, k in zip(range(3), keep.tolist()):
        visible = order[row, :k]
        assert (ids[row, visible] != 0).all()  # padding is never a visible token
    loss = method.loss(ids, torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss)
    assert method.encoder.tokenizer.embed.weight.grad.abs().sum() > 0


def test_mae_on_clips_and_bad_settings():
    enc = VideoTransformerEncoder(1, frames=4, image_size=8, patch_size=4, dim=16, depth=1,
                                  heads=2)
    method = MAE(enc, mask_ratio=0.9, loss="sce")
    assert torch.isfinite(method.loss(torch.rand(3, 4, 1, 8, 8), torch.Generator()))
    with pytest.raises(ValueError, match="mask_ratio"):
        MAE(vit(), mask_ratio=1.0)
    with pytest.raises(ValueError, match="loss must be"):
        MAE(vit(), loss="l1")
    with pytest.raises(TypeError, match="Transformer encoder"):
        MAE(GCNEncoder(8, 16))


def test_tensor_batches():
    x = torch.arange(10).float()[:, None]
    batches = TensorBatches(x, batch_size=4, seed=0)
    first, second = [b.view(-1).tolist() for b in batches], [b.view(-1).tolist() for b in batches]
    assert len(batches) == 2 and len(first) == 2 and all(len(b) == 4 for b in first)
    assert first != second  # reshuffled every epoch
    assert first == [b.view(-1).tolist() for b in TensorBatches(x, batch_size=4, seed=0)]
    with pytest.raises(ValueError, match="batch_size"):
        TensorBatches(x, batch_size=1)


#: one C for the logistic-regression probes: the shipped search over C (tested in
#: test_evaluate.py) is most of an image run's time here
ONE_C = ("--set", "protocol.probe.Cs=[1.0]")


def run_cli(tmp_path, *args):
    out = tmp_path / "record.json"
    main(["pretrain", *args, "--quiet", "--root", str(tmp_path / "data"), "--out", str(out)])
    return json.loads(out.read_text())


def _adapter_methods():
    from graphssl.methods import METHODS
    return sorted(n for n, cls in METHODS.items() if "image" in cls.modalities)


def test_adapter_methods_are_the_issue_s_four():
    assert _adapter_methods() == ["byol", "mae", "simclr", "swav"]


@pytest.mark.parametrize("method", _adapter_methods())
def test_every_adapter_method_trains_on_digits_through_the_cli(tmp_path, method):
    record = run_cli(tmp_path, "--method", method, "--dataset", "digits", "--runs", "1",
                     "--epochs", "2", "--set", "data.batch_size=512", *ONE_C)
    assert record["modality"] == "image" and record["runs"] == 1
    assert 0.1 < record["test_acc_mean"] <= 1.0
    assert record["baseline"]["test_acc"] > 0.9  # logistic regression on raw pixels
    assert record["per_run"][0]["epochs"] == 2 and "test_knn_acc" in record["per_run"][0]


def test_clips_through_the_cli(tmp_path):
    record = run_cli(tmp_path, "--method", "simclr", "--dataset", "moving-digits", "--runs", "1",
                     "--epochs", "1",
                     "--set", "data.options={num_clips: 40, frames: 6, image_size: 16, "
                              "digit_size: 8}",
                     "--set", "protocol.context=4", "--set", "data.batch_size=16")
    run = record["per_run"][0]
    assert record["modality"] == "video" and 0.0 <= run["test_f1"] <= 1.0
    assert run["test_mse"] > 0 and run["test_copy_last_mse"] > 0
    assert record["config"]["model"]["encoder"]["frames"] == 4


def test_wrong_modality_is_a_clear_error(tmp_path, capsys):
    for method, dataset, hint in (("simclr", "csbm", "grace"),
                                  ("grace", "digits", "simclr, byol, swav, mae")):
        assert main(["pretrain", "--method", method, "--dataset", dataset, "--quiet",
                     "--root", str(tmp_path)]) == 2
        assert hint in capsys.readouterr().err
    assert main(["pretrain", "--method", "mae", "--dataset", "digits", "--split", "random",
                 "--quiet", "--root", str(tmp_path)]) == 2
    assert "fixed split" in capsys.readouterr().err


def test_a_rerun_with_checkpoints_keeps_the_finished_image_run(tmp_path, capsys):
    args = ("--method", "simclr", "--dataset", "digits", "--runs", "1", "--epochs", "1",
            "--set", "data.batch_size=512", *ONE_C, "--checkpoint-dir", str(tmp_path / "ckpt"))
    first = run_cli(tmp_path, *args)
    capsys.readouterr()
    again = run_cli(tmp_path, *args)
    assert "trained and probed by an earlier call; kept" in capsys.readouterr().out
    assert again["per_run"] == first["per_run"]
