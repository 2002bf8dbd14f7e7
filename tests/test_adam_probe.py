"""The Adam-trained, validation-early-stopped linear probe and the protocol's probe choice."""
import pytest
import torch

from graphssl.data import Split, random_split
from graphssl.evaluate import adam_linear_probe, linear_probe, node_probe

from conftest import blobs


def test_adam_probe_separable_and_deterministic():
    z, y = blobs()
    split = random_split(len(y), 0)
    out = adam_linear_probe(z, y, split, epochs=100)
    assert out["test_acc"] > 0.99 and 1 <= out["best_epoch"] <= 100
    assert adam_linear_probe(z, y, split, epochs=100) == out


def test_adam_probe_chooses_its_epoch_on_validation_only():
    z, y = blobs(spread=3.0)
    split = random_split(len(y), 1)
    out = adam_linear_probe(z, y, split, epochs=200)
    y2 = y.clone()
    y2[split.test] = y2[split.test][torch.randperm(len(split.test),
                                                   generator=torch.Generator().manual_seed(0))]
    scrambled = adam_linear_probe(z, y2, split, epochs=200)
    assert scrambled["best_epoch"] == out["best_epoch"]
    assert scrambled["val_acc"] == out["val_acc"] and scrambled["test_acc"] != out["test_acc"]


def test_adam_probe_keeps_the_latest_best_validation_epoch():
    # one epoch: the only candidate; many epochs on separable data: val accuracy reaches 1.0
    # early and stays, and ties go to the latest epoch (the authors' `>=`)
    z, y = blobs()
    split = random_split(len(y), 0)
    assert adam_linear_probe(z, y, split, epochs=1)["best_epoch"] == 1
    assert adam_linear_probe(z, y, split, epochs=60)["best_epoch"] == 60


def test_adam_probe_bad_input():
    z, y = blobs()
    split = random_split(len(y), 0)
    for name, value in (("lr", 0.0), ("weight_decay", -1.0), ("epochs", 0), ("epochs", 2.5)):
        with pytest.raises(ValueError, match=name):
            adam_linear_probe(z, y, split, **{name: value})
    with pytest.raises(ValueError, match="no validation nodes"):
        adam_linear_probe(z, y, Split(split.train, split.val[:0], split.test))


def test_node_probe_dispatch_and_errors():
    z, y = blobs()
    split = random_split(len(y), 0)
    probe, what = node_probe(None)
    assert "L2 strength" in what and probe(z, y, split) == linear_probe(z, y, split)
    probe, what = node_probe({"kind": "adam", "epochs": 50})
    assert "Adam" in what and probe(z, y, split) == adam_linear_probe(z, y, split, epochs=50)
    with pytest.raises(ValueError, match="did you mean 'adam'"):
        node_probe({"kind": "adma"})
    with pytest.raises(ValueError, match=r"the 'adam' probe takes .* not \['Cs'\]"):
        node_probe({"kind": "adam", "Cs": [1.0]})


def test_adam_probe_last_epoch_and_repeats():
    z, y = blobs(spread=3.0)
    split = random_split(len(y), 1)
    one = adam_linear_probe(z, y, split, epochs=40, select="last")
    assert one["best_epoch"] == 40
    # the last step needs no validation nodes
    no_val = Split(split.train, split.val[:0], split.test)
    assert adam_linear_probe(z, y, no_val, epochs=40, select="last")["test_acc"] == \
        one["test_acc"]
    many = adam_linear_probe(z, y, split, epochs=40, select="last", repeats=3)
    assert many["best_epoch"] == 40
    assert len(adam_linear_probe(z, y, split, epochs=40, repeats=3)["best_epoch"]) == 3
    # fit r starts from seed + r: the mean of three single fits
    singles = [adam_linear_probe(z, y, split, epochs=40, select="last", seed=r)["test_acc"]
               for r in range(3)]
    assert many["test_acc"] == pytest.approx(sum(singles) / 3)
    # the fits run batched in one weight: each still keeps its own best validation step
    batched = adam_linear_probe(z, y, split, epochs=40, repeats=3, seed=5)
    alone = [adam_linear_probe(z, y, split, epochs=40, seed=5 + r) for r in range(3)]
    assert batched["best_epoch"] == [a["best_epoch"] for a in alone]
    assert len(set(batched["best_epoch"])) > 1  # the fits differ, so the check can fail
    for part in ("val_acc", "test_acc"):
        assert batched[part] == pytest.approx(sum(a[part] for a in alone) / 3)
    with pytest.raises(ValueError, match="select must be one of"):
        adam_linear_probe(z, y, split, select="best")
    with pytest.raises(ValueError, match="repeats"):
        adam_linear_probe(z, y, split, repeats=0)


def test_node_probe_describes_what_it_keeps():
    assert node_probe({"kind": "adam"})[1] == ("logistic regression trained with Adam, epoch "
                                               "chosen on the validation split")
    assert node_probe({"kind": "adam", "select": "last", "repeats": 50})[1] == (
        "mean of 50 logistic regressions trained with Adam, the last epoch")
