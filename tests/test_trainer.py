import json
import pickle

import pytest
import torch

from conftest import Interrupt
from graphssl.data import csbm_graph
from graphssl.methods import GCA, GRACE, DGI
from graphssl.train import CheckpointError, NonFiniteLossError, Trainer, load_checkpoint


def tiny_graph():
    return csbm_graph(num_nodes=120, num_classes=3, num_features=16, avg_degree=4, seed=0)


def make_grace(seed=0):
    torch.manual_seed(seed)
    return GRACE.from_config(16, encoder={"hidden_channels": 16, "out_channels": 8},
                             projection_dim=8)


def make_gca(seed=0):
    torch.manual_seed(seed)
    return GCA.from_config(16, encoder={"hidden_channels": 16, "out_channels": 8},
                           projection_dim=8)


@pytest.mark.parametrize("make", [make_grace, make_gca], ids=["grace", "gca"])
def test_resume_after_interrupt_equals_uninterrupted(tmp_path, make):
    """GCA too: its views weigh edges and features by centrality, drawn from the checkpointed
    generator."""
    data = tiny_graph()
    full = make()
    Trainer(epochs=8, lr=0.01, seed=5, progress=False).fit(full, data)

    run = tmp_path / "run"
    first = make()
    Interrupt(first, at=6)
    trainer = Trainer(epochs=8, lr=0.01, seed=5, progress=False, checkpoint_dir=run,
                      checkpoint_every=2, log_path=run / "log.jsonl")
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(first, data)
    ckpt = load_checkpoint(run / "checkpoint.pt")  # intact after Ctrl-C
    assert ckpt["epoch"] == 4

    resumed = make(seed=123)  # fresh weights: everything must come from the checkpoint
    trainer = Trainer(epochs=8, lr=0.01, seed=5, progress=False, checkpoint_dir=run,
                      checkpoint_every=2, log_path=run / "log.jsonl")
    trainer.fit(resumed, data, resume=True)
    for (name, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name
    epochs = [json.loads(line)["epoch"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert epochs == list(range(1, 9))  # no epoch logged twice, none missing


def test_checkpoint_seconds_saves_at_most_that_often_and_is_not_part_of_the_config(
        tmp_path, monkeypatch):
    from graphssl.train import trainer as trainer_module
    saved = []
    real = trainer_module.save_checkpoint
    monkeypatch.setattr(trainer_module, "save_checkpoint",
                        lambda state, path: (saved.append(state["epoch"]), real(state, path)))
    data, run = tiny_graph(), tmp_path / "run"
    Trainer(epochs=5, lr=0.01, progress=False, checkpoint_dir=run,
            checkpoint_seconds=3600).fit(make_grace(), data)
    assert saved == [5]  # an hour never passed: only the save at the end
    saved.clear()
    clock = iter(range(10_000))  # each reading of the clock is a second later
    monkeypatch.setattr(trainer_module, "_now", lambda: next(clock))
    Trainer(epochs=6, lr=0.01, progress=False, checkpoint_dir=tmp_path / "timed",
            checkpoint_seconds=3).fit(make_grace(), data)
    # some epochs, not every one, then the end (once: not again after a save of epoch 6)
    assert 2 <= len(saved) < 6 and saved == sorted(set(saved)) and saved[-1] == 6
    resumed = Trainer(epochs=7, lr=0.01, progress=False, checkpoint_dir=run)
    with pytest.raises(CheckpointError, match="another configuration"):  # epochs do count
        resumed.fit(make_grace(), data, resume=True)
    again = Trainer(epochs=5, lr=0.01, progress=False, checkpoint_dir=run, checkpoint_seconds=1)
    again.fit(make_grace(), data, resume=True)  # the interval does not
    assert again.resumed_from_epoch == 5
    with pytest.raises(ValueError, match="checkpoint_seconds"):
        Trainer(checkpoint_seconds=0)


def test_early_stopping_restores_best(tmp_path):
    data = tiny_graph()
    torch.manual_seed(0)
    method = DGI.from_config(16, encoder={"hidden_channels": 8})
    trainer = Trainer(epochs=300, lr=0.05, patience=3, progress=False)
    trainer.fit(method, data)
    losses = [r["loss"] for r in trainer.history]
    assert len(losses) < 300
    best = min(losses)
    assert losses.index(best) == len(losses) - 4  # stopped 3 epochs after the best


def test_corrupt_checkpoint_is_refused(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)
    trainer = Trainer(epochs=1, progress=False, checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError):
        trainer.fit(make_grace(), tiny_graph(), resume=True)


class Evil:
    def __reduce__(self):
        import os
        return (os.system, ("touch /tmp/graphssl-pwned",))


def test_foreign_pickle_is_never_executed(tmp_path):
    import os
    path = tmp_path / "checkpoint.pt"
    torch.save({"format": "graphssl-checkpoint", "payload": Evil()}, path)
    if os.path.exists("/tmp/graphssl-pwned"):
        os.remove("/tmp/graphssl-pwned")
    with pytest.raises(CheckpointError, match="refusing"):
        load_checkpoint(path)
    assert not os.path.exists("/tmp/graphssl-pwned")


def test_plain_state_dict_is_not_a_graphssl_checkpoint(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(make_grace().state_dict(), path)
    with pytest.raises(CheckpointError, match="not a graphssl checkpoint"):
        load_checkpoint(path)


def test_checkpoint_from_other_configuration(tmp_path):
    data = tiny_graph()
    Trainer(epochs=2, lr=0.01, progress=False, checkpoint_dir=tmp_path).fit(make_grace(), data)
    with pytest.raises(CheckpointError, match="another configuration"):
        Trainer(epochs=2, lr=0.02, progress=False, checkpoint_dir=tmp_path).fit(
            make_grace(), data, resume=True)


def test_nan_loss_names_epoch_and_cause():
    trainer = Trainer(epochs=5, lr=1e30, optimizer="sgd", progress=False)  # diverges at once
    with pytest.raises(NonFiniteLossError, match=r"epoch 2\. .*learning rate too high \(now 1e\+30\)"):
        trainer.fit(make_grace(), tiny_graph())


def test_bad_trainer_arguments():
    with pytest.raises(ValueError, match="epochs"):
        Trainer(epochs=0)
    with pytest.raises(ValueError, match="optimizer"):
        Trainer(optimizer="lbfgs")
    with pytest.raises(ValueError, match="lr"):
        Trainer(lr=-1)


@pytest.mark.parametrize("kwargs, message", [
    # each of these used to pass the hand-written checks (bool is an int; inf > 0; nan < 0 is
    # False)
    (dict(epochs=True), "epochs must be a positive integer, got True"),
    (dict(patience=True), "patience must be a positive integer, got True"),
    (dict(lr=float("inf")), "lr must be a finite number > 0, got inf"),
    (dict(weight_decay=float("nan")), "weight_decay must be >= 0, got nan"),
    (dict(epochs=5, warmup_epochs=True), r"warmup_epochs must be an integer in \[0, epochs=5\)"),
    (dict(epochs=5, warmup_epochs=5), r"warmup_epochs must be an integer in \[0, epochs=5\), got 5"),
])
def test_trainer_rejects_bools_and_non_finite_numbers(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Trainer(**kwargs)


def test_trainer_takes_numpy_integers_as_ints():
    import numpy as np
    trainer = Trainer(epochs=np.int64(3), patience=np.int32(2), progress=False)
    assert type(trainer.epochs) is int and type(trainer.patience) is int


def test_invalid_graph_fails_before_training():
    from graphssl.data import InvalidGraphError
    data = tiny_graph()
    data.x[0, 0] = float("inf")
    with pytest.raises(InvalidGraphError):
        Trainer(epochs=1, progress=False).fit(make_grace(), data)


SUBNORMAL = torch.tensor([torch.finfo(torch.float32).tiny])


def halved_subnormal() -> float:
    return (SUBNORMAL * 0.5).item()


def test_flushing_denormals_zeroes_subnormals_inside_the_block_only():
    from graphssl.train.denormals import flushing_denormals, flushing_denormals_now
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush subnormals")
    assert halved_subnormal() > 0  # a subnormal result, kept
    with flushing_denormals() as flushed:
        assert halved_subnormal() == 0.0 and flushed is True
    assert halved_subnormal() > 0  # back to what it was (off)
    with flushing_denormals(False) as flushed:
        assert halved_subnormal() > 0 and flushed is False
    torch.set_flush_denormal(True)  # a caller's own setting survives the block
    try:
        with flushing_denormals(False) as flushed:
            assert flushed is True  # says what is in effect, not what was asked
        with flushing_denormals():
            assert halved_subnormal() == 0.0
        assert halved_subnormal() == 0.0 and flushing_denormals_now()
    finally:
        torch.set_flush_denormal(False)
    assert not flushing_denormals_now()


@pytest.mark.parametrize("flush", [True, False])
def test_trainer_trains_with_subnormals_flushed_unless_told_not_to(monkeypatch, flush):
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush subnormals")
    seen = []
    model = make_grace()
    real = type(model).loss

    def loss(self, *args):
        seen.append(halved_subnormal())
        return real(self, *args)
    monkeypatch.setattr(type(model), "loss", loss)
    trainer = Trainer(epochs=2, progress=False, flush_denormal=flush)
    trainer.fit(model, tiny_graph())
    assert len(seen) == 2 and all((v == 0.0) is flush for v in seen)
    assert [h["flush_denormal"] for h in trainer.history] == [flush, flush]  # each epoch says
    assert halved_subnormal() > 0  # fit restores the setting it found (off)
    with pytest.raises(ValueError, match="flush_denormal must be True or False, got 'yes'"):
        Trainer(flush_denormal="yes")
