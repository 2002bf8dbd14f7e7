"""Video clips as :class:`~graphssl.data.modality.ModalityData`: synthetic Moving Digits and real
Atari frames.

Both return float32 ``x [N, T, 1, H, W]`` in ``[0, 1]`` with fixed 70/10/20 train/val/test masks
and ``info`` holding ``channels``, ``image_size``, ``frames`` and ``source``.

* :func:`moving_digits` -- the Moving MNIST recipe (Srivastava, Mansimov and Salakhutdinov,
  "Unsupervised Learning of Video Representations using LSTMs", ICML 2015) built from
  scikit-learn's bundled 8x8 digits, so nothing is downloaded. Multi-label targets: which digit
  classes appear in a clip.
* :func:`atari_frames` -- grayscale screens of real games from the Arcade Learning Environment
  (Bellemare, Naddaf, Veness and Bowling, "The Arcade Learning Environment: An Evaluation
  Platform for General Agents", JAIR 2013), played with random actions, using the ROMs shipped
  in the ``ale-py`` wheel. Target: which game a clip comes from.
"""
from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..checks import check_int
from .modality import ModalityData

#: fractions of the train/val/test masks (the test part is the remainder after rounding)
SPLIT_FRACTIONS = (0.7, 0.1, 0.2)
#: seed of the split permutations; fixed and independent of the generation seed, so the masks
#: depend only on the number of clips (and, for Atari, the number per game)
SPLIT_SEED = 0
#: range of the digits' speed in pixels per frame (Moving MNIST moves ~3.6 px/frame in 64x64)
DIGIT_SPEED = (2.0, 4.0)
#: at most this many no-op steps after every reset of an Atari game (Mnih et al., 2015)
MAX_NOOPS = 30
_ATARI_CACHE_VERSION = 1


def _split_sizes(n: int) -> tuple[int, int, int]:
    n_val = int(round(SPLIT_FRACTIONS[1] * n))
    n_test = int(round(SPLIT_FRACTIONS[2] * n))
    return n - n_val - n_test, n_val, n_test


def _split_masks(labels: torch.Tensor | None, n: int) -> dict:
    """70/10/20 train/val/test masks from a fixed permutation (seed :data:`SPLIT_SEED`), drawn
    within every class of ``labels`` (stratified) or over all ``n`` items when ``labels`` is
    None."""
    g = torch.Generator().manual_seed(SPLIT_SEED)
    masks = {part: torch.zeros(n, dtype=torch.bool) for part in ("train", "val", "test")}
    groups = [torch.arange(n)] if labels is None else \
        [torch.nonzero(labels == c).view(-1) for c in labels.unique()]
    for idx in groups:
        idx = idx[torch.randperm(idx.numel(), generator=g)]
        n_train, n_val, _ = _split_sizes(idx.numel())
        masks["train"][idx[:n_train]] = True
        masks["val"][idx[n_train:n_train + n_val]] = True
        masks["test"][idx[n_train + n_val:]] = True
    return masks


# ------------------------------------------------------------------------------- Moving digits

def digit_images(digit_size: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's bundled handwritten digits (UCI optdigits test part, 1797 images of 8x8
    with values 0..16), scaled to ``[0, 1]`` and upsampled bilinearly to ``digit_size`` pixels:
    ``(images [1797, digit_size, digit_size] float32, labels [1797] int64)``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.as_tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = F.interpolate(images, size=(digit_size, digit_size), mode="bilinear",
                           align_corners=False).squeeze(1).clamp_(0.0, 1.0)
    return images, torch.as_tensor(digits.target, dtype=torch.int64)


def _bounce_trajectories(num: int, frames: int, limit: int, g: torch.Generator):
    """Top-left corners ``[num, frames, 2]`` (float, in ``[0, limit]``) of points moving with a
    random constant velocity (uniform direction, speed in :data:`DIGIT_SPEED`) that reflect off
    the edges ``0`` and ``limit``; also the initial velocities ``[num, 2]``."""
    pos = torch.rand(num, 2, generator=g) * limit
    angle = torch.rand(num, generator=g) * (2 * torch.pi)
    speed = DIGIT_SPEED[0] + torch.rand(num, generator=g) * (DIGIT_SPEED[1] - DIGIT_SPEED[0])
    vel = torch.stack([torch.sin(angle), torch.cos(angle)], 1) * speed[:, None]
    if limit == 0:  # the digit fills the frame: nowhere to move
        vel = torch.zeros_like(vel)
    velocity = vel.clone()
    out = [pos]
    for _ in range(frames - 1):
        pos = pos + vel
        while True:  # reflect (more than once only when a step is longer than the free space)
            low, high = pos < 0, pos > limit
            if not (low | high).any():
                break
            pos = torch.where(low, -pos, torch.where(high, 2 * limit - pos, pos))
            vel = torch.where(low | high, -vel, vel)
        out.append(pos)
    return torch.stack(out, 1), velocity


def moving_digits(num_clips: int = 2000, frames: int = 20, image_size: int = 64,
                  digit_size: int = 28, digits_per_clip: int = 2, seed: int = 0,
                  root=None) -> ModalityData:
    """Moving Digits: the Moving MNIST recipe of Srivastava et al. (ICML 2015, "Unsupervised
    Learning of Video Representations using LSTMs") on scikit-learn's bundled digits.

    Every clip holds ``digits_per_clip`` digits drawn uniformly at random (with replacement) from
    the 1797 images of :func:`sklearn.datasets.load_digits`, upsampled bilinearly from 8x8 to
    ``digit_size`` (see :func:`digit_images`). Each digit starts at a uniform position inside the
    ``image_size`` x ``image_size`` frame and moves with a constant velocity (uniform direction,
    speed uniform in :data:`DIGIT_SPEED` pixels per frame), reflecting its velocity when it hits
    an edge; positions are rounded to whole pixels and the digits are combined by a pixelwise
    max. All randomness comes from one ``torch.Generator`` seeded with ``seed``: the same seed
    gives the same tensors.

    Returns a :class:`ModalityData` (name ``'moving-digits'``, modality ``'video'``) with
    ``x [num_clips, frames, 1, image_size, image_size]`` float32 in ``[0, 1]``, ``y
    [num_clips, 10]`` float multi-hot of the digit classes present, and train/val/test masks of
    70/10/20% from a fixed permutation (seed :data:`SPLIT_SEED`, independent of ``seed``).
    ``info`` also holds ``positions`` (``[N, T, digits, 2]`` int64 top-left (row, col) of every
    digit in every frame, each in ``[0, image_size - digit_size]``), ``velocities`` (``[N,
    digits, 2]`` initial (row, col) velocities in pixels per frame), ``digit_index`` (``[N,
    digits]`` rows of :func:`digit_images`) and ``digit_labels`` (``[N, digits]`` their classes).

    Args:
        num_clips: number of clips ``N``.
        frames: frames per clip ``T`` (at least 2).
        image_size: side of the square frame in pixels (at least ``digit_size``).
        digit_size: side of a digit in pixels.
        digits_per_clip: digits moving in every clip.
        seed: generation seed.
        root: unused (generation takes about a second; nothing is downloaded or cached); accepted
            so that every loader has the same signature.
    """
    num_clips = check_int("num_clips", num_clips, 1)
    frames = check_int("frames", frames, 2)
    digit_size = check_int("digit_size", digit_size, 1)
    image_size = check_int("image_size", image_size, 1)
    digits_per_clip = check_int("digits_per_clip", digits_per_clip, 1)
    if image_size < digit_size:
        raise ValueError(f"image_size must be >= digit_size ({digit_size}), got {image_size}")

    g = torch.Generator().manual_seed(int(seed))
    images, targets = digit_images(digit_size)
    index = torch.randint(images.size(0), (num_clips, digits_per_clip), generator=g)
    limit = image_size - digit_size
    traj, velocity = _bounce_trajectories(num_clips * digits_per_clip, frames, limit, g)
    positions = traj.round().long().clamp_(0, limit)
    positions = positions.view(num_clips, digits_per_clip, frames, 2).transpose(1, 2).contiguous()
    velocity = velocity.view(num_clips, digits_per_clip, 2)

    # paste every digit slot of every frame into all clips at once (advanced indexing; the
    # indices of one slot never collide because each clip owns its own canvas)
    x = torch.zeros(num_clips, frames, image_size, image_size)
    clip = torch.arange(num_clips).view(-1, 1, 1)
    offsets = torch.arange(digit_size)
    for t in range(frames):
        canvas = x[:, t]
        for k in range(digits_per_clip):
            rows = (positions[:, t, k, 0:1] + offsets).unsqueeze(2)  # [N, d, 1]
            cols = (positions[:, t, k, 1:2] + offsets).unsqueeze(1)  # [N, 1, d]
            canvas[clip, rows, cols] = torch.maximum(canvas[clip, rows, cols],
                                                     images[index[:, k]])
    x = x.unsqueeze(2)

    labels = targets[index]
    y = torch.zeros(num_clips, 10)
    y.scatter_(1, labels, 1.0)
    info = {
        "channels": 1, "image_size": image_size, "frames": frames,
        "source": (f"Moving MNIST recipe (Srivastava et al., ICML 2015) on scikit-learn's "
                   f"load_digits (8x8, /16) upsampled bilinearly to {digit_size}px: "
                   f"{digits_per_clip} random digits per clip bouncing in a {image_size}px "
                   f"frame at {DIGIT_SPEED[0]:g}-{DIGIT_SPEED[1]:g} px/frame, combined by max; "
                   f"generated with seed {seed}; 70/10/20 train/val/test from a fixed "
                   f"permutation (seed {SPLIT_SEED})"),
        "positions": positions, "velocities": velocity, "digit_index": index,
        "digit_labels": labels, "digit_size": digit_size, "seed": int(seed),
    }
    return ModalityData("moving-digits", "video", x, y, _split_masks(None, num_clips),
                        tuple(str(d) for d in range(10)), info)


# ---------------------------------------------------------------------------------------- Atari

def _import_ale():
    try:
        import ale_py
        import ale_py.roms
    except ImportError as err:
        raise ImportError("atari_frames needs the Arcade Learning Environment and its ROMs: "
                          "pip install ale-py") from err
    return ale_py


def _rom_id(game: str, rom_ids) -> str:
    """ALE ROM id of a game name: ``'SpaceInvaders'``, ``'space_invaders'`` and
    ``'spaceinvaders'`` all give ``'space_invaders'``."""
    by_key = {rid.replace("_", "").lower(): rid for rid in rom_ids}
    key = re.sub(r"[^a-z0-9]", "", str(game).lower())
    if key in by_key:
        return by_key[key]
    close = difflib.get_close_matches(key, list(by_key), n=5, cutoff=0.6)
    hint = (f"; close matches: {', '.join(by_key[c] for c in close)}" if close else
            f"; {len(by_key)} ROMs are available (ale_py.roms.get_all_rom_ids())")
    raise ValueError(f"unknown Atari game {game!r}{hint}")


def _play(ale_py, rom_path: str, clips: int, frames: int, frame_skip: int,
          rng: np.random.Generator) -> np.ndarray:
    """``clips`` clips of ``frames`` consecutive kept grayscale screens ``[clips, frames, 210,
    160]`` uint8 of one game played with uniformly random actions."""
    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
    ale = ale_py.ALEInterface()
    ale.setInt("random_seed", int(rng.integers(2 ** 31 - 1)))
    ale.setFloat("repeat_action_probability", 0.0)  # the seeded actions alone decide the play
    ale.loadROM(rom_path)
    actions = ale.getMinimalActionSet()
    noop = ale_py.Action.NOOP

    def reset():
        ale.reset_game()
        for _ in range(int(rng.integers(1, MAX_NOOPS + 1))):
            ale.act(noop)
            if ale.game_over():
                ale.reset_game()

    def step(keep=True):  # one random action held for frame_skip frames; None at game over
        action = actions[int(rng.integers(len(actions)))]
        for _ in range(frame_skip):
            ale.act(action)
            if ale.game_over():
                reset()
                return None
        return ale.getScreenGrayscale() if keep else True

    reset()
    out, restarts = [], 0
    while len(out) < clips:
        for _ in range(frames):  # a gap as long as a clip spaces the clips over the episode
            step(keep=False)
        clip = []
        while len(clip) < frames:
            screen = step()
            if screen is None:  # the episode ended inside the clip: start over in the next one
                clip, restarts = [], restarts + 1
                if restarts > 10 * clips + 100:
                    raise RuntimeError(f"{rom_path}: episodes end before a clip of {frames} "
                                       f"frames (frame_skip {frame_skip}) can be recorded")
                continue
            clip.append(screen)
        out.append(np.stack(clip))
    return np.stack(out)


def atari_frames(games=("Pong", "Breakout", "SpaceInvaders", "Freeway"), clips_per_game: int = 100,
                 frames: int = 8, image_size: int = 32, frame_skip: int = 4, seed: int = 0,
                 root=None) -> ModalityData:
    """Atari clips: real game screens from the Arcade Learning Environment (Bellemare et al.,
    "The Arcade Learning Environment: An Evaluation Platform for General Agents", JAIR 2013),
    using the ROMs bundled with the ``ale-py`` wheel.

    For every game (index ``i``), an emulator seeded from ``(seed, i)`` is reset, then runs
    1..:data:`MAX_NOOPS` no-op steps (randomising the start, as in Mnih et al., Nature 2015),
    then plays uniformly random actions from the game's minimal action set, each held for
    ``frame_skip`` emulator frames, keeping the grayscale screen (210x160) after each. A clip is
    ``frames`` consecutive kept screens; clips are spaced along the episode by gaps of
    ``frames`` kept screens, and a clip cut by game over is dropped (the game is reset and play
    goes on). Screens are resized to ``image_size`` x ``image_size`` by area averaging
    (``adaptive_avg_pool2d``) and scaled to ``[0, 1]``. Sticky actions are off
    (``repeat_action_probability = 0``): the seeded action sequence alone decides the play, so
    the same arguments give the same tensors.

    The default size (4 games x 100 clips x 8 frames, ~26k emulator frames) takes about
    4-5 s on one CPU core.

    Returns a :class:`ModalityData` (name ``'atari'``, modality ``'video'``) with ``x [N,
    frames, 1, image_size, image_size]`` float32, ``y [N]`` int64 game index (``classes`` are
    ``games`` as given), and 70/10/20 train/val/test masks drawn within every game from a fixed
    permutation (seed :data:`SPLIT_SEED`).

    Args:
        games: game names (``'SpaceInvaders'`` or ALE ROM ids such as ``'space_invaders'``).
        clips_per_game: clips recorded from each game.
        frames: kept screens per clip.
        image_size: side of the resized square screens.
        frame_skip: emulator frames per kept screen (and per random action).
        seed: generation seed.
        root: if given, the tensors are cached in ``root/Atari/<key>.pt`` (``key`` encodes all
            arguments) and loaded from there on later calls.
    """
    ale_py = _import_ale()
    if isinstance(games, str):
        games = (games,)
    games = tuple(games)
    if not games:
        raise ValueError("games must name at least one Atari game, got an empty list")
    rom_ids = ale_py.roms.get_all_rom_ids()
    ids = [_rom_id(game, rom_ids) for game in games]
    if len(set(ids)) != len(ids):
        raise ValueError(f"games must not repeat a game, got {list(games)}")
    clips_per_game = check_int("clips_per_game", clips_per_game, 1)
    frames = check_int("frames", frames, 1)
    image_size = check_int("image_size", image_size, 1)
    frame_skip = check_int("frame_skip", frame_skip, 1)
    seed = check_int("seed", seed, 0)

    key = (f"{'-'.join(ids)}_c{clips_per_game}_t{frames}_s{image_size}_k{frame_skip}"
           f"_seed{seed}_v{_ATARI_CACHE_VERSION}")
    path = None if root is None else Path(root) / "Atari" / f"{key}.pt"
    if path is not None and path.is_file():
        stored = torch.load(path, weights_only=True)
        x, y = stored["x"], stored["y"]
    else:
        x, y = [], []
        for i, rom in enumerate(ids):
            rng = np.random.default_rng([seed, i])
            screens = _play(ale_py, ale_py.roms.get_rom_path(rom), clips_per_game, frames,
                            frame_skip, rng)
            screens = torch.from_numpy(screens).view(-1, 1, *screens.shape[2:]).float()
            small = F.adaptive_avg_pool2d(screens, image_size) / 255.0
            x.append(small.view(clips_per_game, frames, 1, image_size, image_size))
            y.append(torch.full((clips_per_game,), i, dtype=torch.int64))
        x, y = torch.cat(x).clamp_(0.0, 1.0), torch.cat(y)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            torch.save({"x": x, "y": y}, tmp)
            os.replace(tmp, path)

    info = {
        "channels": 1, "image_size": image_size, "frames": frames,
        "source": (f"Arcade Learning Environment (Bellemare et al., JAIR 2013), ale-py "
                   f"{getattr(ale_py, '__version__', '?')} bundled ROMs {ids}: uniformly random "
                   f"minimal-set actions, grayscale screen every {frame_skip} frames after "
                   f"1-{MAX_NOOPS} no-ops at reset, {clips_per_game} clips of {frames} screens "
                   f"per game spaced {frames} screens apart, area-resized 210x160 -> "
                   f"{image_size}x{image_size}; seed {seed}; 70/10/20 train/val/test stratified "
                   f"by game from a fixed permutation (seed {SPLIT_SEED})"),
        "rom_ids": tuple(ids), "frame_skip": frame_skip, "seed": seed,
        "cache": None if path is None else str(path),
    }
    return ModalityData("atari", "video", x, y, _split_masks(y, y.size(0)), games, info)
