"""Video datasets: synthetic Moving Digits and Atari screens from the ALE ROMs in ale-py."""
import importlib.util
import sys

import pytest
import torch

from graphssl.data.modality import ModalityData
from graphssl.data.video import DIGIT_SPEED, atari_frames, digit_images, moving_digits

SMALL = dict(num_clips=8, frames=6, image_size=32, digit_size=16, digits_per_clip=2)


@pytest.fixture(scope="module")
def digits():
    return moving_digits(**SMALL, seed=0)


def _check_masks(split, n):
    total = split["train"].long() + split["val"].long() + split["test"].long()
    assert torch.equal(total, torch.ones(n, dtype=torch.long))  # disjoint and covering


# ------------------------------------------------------------------------------- Moving digits

def test_moving_digits_shapes_and_range(digits):
    assert isinstance(digits, ModalityData)
    assert digits.name == "moving-digits" and digits.modality == "video"
    assert digits.x.shape == (8, 6, 1, 32, 32) and digits.x.dtype == torch.float32
    assert digits.x.min() >= 0 and digits.x.max() <= 1 and digits.x.max() > 0.5
    assert digits.y.shape == (8, 10) and digits.y.dtype == torch.float32 and digits.multilabel
    info = digits.info
    assert (info["channels"], info["image_size"], info["frames"]) == (1, 32, 6)
    assert "Srivastava" in info["source"] and "load_digits" in info["source"]
    assert info["positions"].shape == (8, 6, 2, 2) and info["positions"].dtype == torch.int64
    _check_masks(digits.split, 8)
    assert [int(digits.split[p].sum()) for p in ("train", "val", "test")] == [5, 1, 2]


def test_moving_digits_default_split_sizes():
    data = moving_digits(num_clips=50, frames=2, image_size=28, digit_size=28)
    assert [int(data.split[p].sum()) for p in ("train", "val", "test")] == [35, 5, 10]
    _check_masks(data.split, 50)
    # the split depends only on the number of clips, not on the generation seed
    other = moving_digits(num_clips=50, frames=2, image_size=28, digit_size=28, seed=3)
    assert all(torch.equal(data.split[p], other.split[p]) for p in data.split)


def test_moving_digits_deterministic(digits):
    again = moving_digits(**SMALL, seed=0)
    assert torch.equal(digits.x, again.x) and torch.equal(digits.y, again.y)
    assert torch.equal(digits.info["positions"], again.info["positions"])
    other = moving_digits(**SMALL, seed=1)
    assert not torch.equal(digits.x, other.x)


def test_moving_digits_labels_are_the_drawn_digits(digits):
    images, targets = digit_images(16)
    index, labels = digits.info["digit_index"], digits.info["digit_labels"]
    assert torch.equal(labels, targets[index])
    expected = torch.zeros(8, 10)
    for n in range(8):
        for k in range(2):
            expected[n, labels[n, k]] = 1.0
    assert torch.equal(digits.y, expected)
    assert set(digits.y.sum(1).tolist()) <= {1.0, 2.0}


def test_moving_digits_frames_are_the_digits_at_their_positions(digits):
    images, _ = digit_images(16)
    pos, index = digits.info["positions"], digits.info["digit_index"]
    for n in range(8):
        for t in range(6):
            frame = torch.zeros(32, 32)
            for k in range(2):
                r, c = pos[n, t, k].tolist()
                frame[r:r + 16, c:c + 16] = torch.maximum(frame[r:r + 16, c:c + 16],
                                                          images[index[n, k]])
            assert torch.equal(digits.x[n, t, 0], frame)


def test_moving_digits_stay_inside_and_bounce():
    data = moving_digits(num_clips=16, frames=40, image_size=32, digit_size=16, seed=2)
    pos = data.info["positions"]  # [N, T, K, 2]
    limit = 32 - 16
    assert pos.min() >= 0 and pos.max() <= limit
    step = pos[:, 1:] - pos[:, :-1]  # [N, T-1, K, 2]
    assert step.abs().max() <= DIGIT_SPEED[1] + 1
    # a component's displacement only changes sign at a reflection, i.e. near an edge
    flip = (step[:, 1:] * step[:, :-1]) < 0  # sign change between t-1 -> t and t -> t+1
    assert flip.any(), "40 frames in a 16-pixel free space must bounce"
    at = pos[:, 1:-1][flip]
    tolerance = DIGIT_SPEED[1] + 1
    assert ((at <= tolerance) | (at >= limit - tolerance)).all()
    # away from the edges the velocity is constant (up to rounding to whole pixels)
    vel = data.info["velocities"]  # [N, K, 2] initial velocity
    first = step[:, 0]
    inside = (pos[:, 0] > tolerance) & (pos[:, 0] < limit - tolerance)
    assert ((first - vel).abs()[inside] <= 1.0).all()
    speed = vel.norm(dim=-1)
    assert (speed >= DIGIT_SPEED[0]).all() and (speed <= DIGIT_SPEED[1]).all()


def test_moving_digits_fill_frame_when_sizes_equal():
    data = moving_digits(num_clips=3, frames=3, image_size=16, digit_size=16, digits_per_clip=1)
    assert (data.info["positions"] == 0).all()
    assert torch.equal(data.x[:, 0], data.x[:, 2])


@pytest.mark.parametrize("kwargs, name", [
    (dict(image_size=16, digit_size=28), "image_size"),
    (dict(frames=1), "frames"),
    (dict(digits_per_clip=0), "digits_per_clip"),
    (dict(num_clips=0), "num_clips"),
    (dict(frames=2.5), "frames"),
])
def test_moving_digits_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name) as err:
        moving_digits(**kwargs)
    assert str(list(kwargs.values())[0]) in str(err.value)


# ---------------------------------------------------------------------------------------- Atari

needs_ale = pytest.mark.skipif(importlib.util.find_spec("ale_py") is None,
                               reason="ale-py (Atari ROMs) not installed")
ATARI = dict(games=("Pong", "Freeway"), clips_per_game=3, frames=4, image_size=16)


@pytest.fixture(scope="module")
def atari(tmp_path_factory):
    root = tmp_path_factory.mktemp("video")
    return atari_frames(**ATARI, root=root), root


@needs_ale
def test_atari_shapes_labels_and_split(atari):
    data, _ = atari
    assert data.name == "atari" and data.modality == "video"
    assert data.x.shape == (6, 4, 1, 16, 16) and data.x.dtype == torch.float32
    assert data.x.min() >= 0 and data.x.max() <= 1
    assert data.y.dtype == torch.int64 and data.y.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.classes == ("Pong", "Freeway") and data.num_classes == 2
    assert (data.info["channels"], data.info["image_size"], data.info["frames"]) == (1, 16, 4)
    assert "Bellemare" in data.info["source"]
    assert data.info["rom_ids"] == ("pong", "freeway")
    _check_masks(data.split, 6)
    for game in range(2):  # stratified: 2 train, 0 val, 1 test of every game's 3 clips
        of_game = data.y == game
        assert [int((data.split[p] & of_game).sum()) for p in ("train", "val", "test")] == \
            [2, 0, 1]
    # the two games look different
    assert not torch.allclose(data.x[data.y == 0].mean(0), data.x[data.y == 1].mean(0), atol=1e-2)


@needs_ale
def test_atari_frames_move(atari):
    data, _ = atari
    diff = (data.x[:, 1:] - data.x[:, :-1]).abs().flatten(1).amax(1)  # per clip
    for game in range(2):
        assert (diff[data.y == game] > 0).any(), f"game {data.classes[game]} does not move"


@needs_ale
def test_atari_cache_round_trip(atari, monkeypatch):
    data, root = atari
    files = list((root / "Atari").glob("*.pt"))
    assert len(files) == 1 and data.info["cache"] == str(files[0])
    assert not list((root / "Atari").glob("*.tmp"))
    import graphssl.data.video as video

    def no_play(*args, **kwargs):
        raise AssertionError("the cached file should have been loaded")

    monkeypatch.setattr(video, "_play", no_play)
    again = atari_frames(**ATARI, root=root)
    assert torch.equal(again.x, data.x) and torch.equal(again.y, data.y)
    assert all(torch.equal(again.split[p], data.split[p]) for p in data.split)


@needs_ale
def test_atari_deterministic(atari):
    data, _ = atari
    fresh = atari_frames(**ATARI)  # no cache: generated again
    assert torch.equal(fresh.x, data.x)
    other = atari_frames(**ATARI, seed=1)
    assert not torch.equal(other.x, data.x)


@needs_ale
def test_atari_game_names():
    data = atari_frames(games=["space_invaders"], clips_per_game=1, frames=2, image_size=8)
    assert data.info["rom_ids"] == ("space_invaders",) and data.classes == ("space_invaders",)
    with pytest.raises(ValueError, match="Pongg.*pong"):
        atari_frames(games=("Pongg",))
    with pytest.raises(ValueError, match="repeat"):
        atari_frames(games=("Pong", "pong"))
    with pytest.raises(ValueError, match="at least one"):
        atari_frames(games=())


@needs_ale
@pytest.mark.parametrize("kwargs, name", [
    (dict(clips_per_game=0), "clips_per_game"),
    (dict(frames=0), "frames"),
    (dict(frame_skip=0), "frame_skip"),
    (dict(image_size=-1), "image_size"),
])
def test_atari_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"{name}.*{list(kwargs.values())[0]}"):
        atari_frames(**kwargs)


def test_atari_without_ale_py(monkeypatch):
    monkeypatch.setitem(sys.modules, "ale_py", None)  # makes `import ale_py` fail
    with pytest.raises(ImportError, match="pip install ale-py"):
        atari_frames(games=("Pong",), clips_per_game=1, frames=2)
