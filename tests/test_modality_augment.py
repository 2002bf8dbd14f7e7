"""Image, video and text augmentations: the augmentation contract on batch tensors."""
import math

import pytest
import torch

from graphssl.augment import (ColorJitter, Compose, GaussianBlur, GaussianNoise, HorizontalFlip,
                              Identity, RandomAffine, RandomErasing, RandomGrayscale,
                              RandomResizedCrop, SpanDeletion, TemporalCrop, TokenCrop, TokenDrop,
                              TokenMask)
from graphssl.methods.views import build_view

# versions that change every image, so that clips of one content must all come out different
ALWAYS = [RandomResizedCrop(), RandomAffine(), ColorJitter(p=1.0), GaussianBlur(1.0),
          GaussianNoise(), RandomErasing(1.0)]
IMAGE = ALWAYS[:2] + [HorizontalFlip(), ColorJitter(), RandomGrayscale(0.5), GaussianBlur(),
                      GaussianNoise(0.05, p=0.5), RandomErasing()]
TEXT = [TokenMask(0.3), TokenDrop(0.3), SpanDeletion(0.3), TokenCrop(0.5)]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def images(b=6, c=3, size=12, seed=0):
    return torch.rand(b, c, size, size, generator=gen(seed))


def clips(b=4, t=3, c=3, size=12, seed=0):
    return torch.rand(b, t, c, size, size, generator=gen(seed))


def tokens(b=64, length=20, seed=0, pad=0, empty_row=True):
    """Right-padded ids >= 3 (never pad 0 / unk 1 / mask 2), lengths 1..length, all distinct
    within a row; the last row is all padding."""
    g = gen(seed)
    lengths = torch.randint(1, length + 1, (b,), generator=g)
    if empty_row:
        lengths[-1] = 0
    ids = 3 + torch.stack([torch.randperm(200, generator=g)[:length] for _ in range(b)])
    real = torch.arange(length) < lengths[:, None]
    return ids.masked_fill(~real, pad)


def real_tokens(row, pad=0):
    return [t for t in row.tolist() if t != pad]


# ---- the contract, on images, 1-channel images and clips --------------------------------------

@pytest.mark.parametrize("aug", IMAGE, ids=repr)
@pytest.mark.parametrize("shape", [(6, 3, 12, 12), (6, 1, 12, 12), (4, 3, 3, 12, 12)],
                         ids=["rgb", "gray", "clip"])
def test_image_contract(aug, shape):
    x = torch.rand(shape, generator=gen(0))
    x[0, ..., :2, :2] = 0.0  # extremes: the output must stay in [0, 1]
    x[-1, ..., -2:, -2:] = 1.0
    before = x.clone()
    out1, out2, other = aug(x, gen(1)), aug(x, gen(1)), aug(x, gen(2))
    assert torch.equal(x, before), "input was modified"
    assert out1.shape == x.shape and out1.dtype == x.dtype
    assert torch.equal(out1, out2), "same seed must give the same view"
    assert out1.min() >= 0.0 and out1.max() <= 1.0
    if not (isinstance(aug, RandomGrayscale) and shape[-3] == 1):  # a no-op on grey images
        assert not torch.equal(out1, other), "different seeds must differ"
    if any(aug is a for a in ALWAYS):
        assert not torch.equal(out1, x)


@pytest.mark.parametrize("aug", IMAGE, ids=repr)
def test_clip_frames_share_one_draw(aug):
    """A clip is its frames transformed with the clip's draw: frame t of the clip batch equals
    the image batch of frames t under the same generator state."""
    v = clips()
    out = aug(v, gen(5))
    for t in range(v.size(1)):
        assert torch.allclose(out[:, t], aug(v[:, t].contiguous(), gen(5)), atol=1e-6)


@pytest.mark.parametrize("aug", ALWAYS + [HorizontalFlip(), RandomGrayscale(0.5)], ids=repr)
def test_identical_frames_stay_identical_while_clips_differ(aug):
    frame = images(1, seed=3)[0]
    v = frame.expand(8, 4, *frame.shape).clone()  # 8 clips of 4 identical frames, one content
    out = aug(v, gen(7))
    for t in range(1, 4):
        assert torch.allclose(out[:, t], out[:, 0], atol=1e-6), "frames of a clip differ"
    assert any(not torch.allclose(out[0], out[i]) for i in range(1, 8)), "every clip alike"
    if any(aug is a for a in ALWAYS):
        for i in range(1, 8):
            assert not torch.allclose(out[0], out[i]), "two clips got the same draw"


def test_global_rng_is_used_without_generator():
    x = images()
    torch.manual_seed(11)
    a = RandomResizedCrop()(x)
    torch.manual_seed(11)
    assert torch.equal(a, RandomResizedCrop()(x))


# ---- what each image view does --------------------------------------------------------------

def test_full_crop_and_neutral_affine_are_the_identity():
    x = images(size=16)
    assert torch.allclose(RandomResizedCrop(scale=(1, 1), ratio=(1, 1))(x, gen()), x, atol=1e-5)
    assert torch.allclose(RandomAffine(0, 0, (1, 1))(x, gen()), x, atol=1e-5)
    assert torch.allclose(ColorJitter(0.0, p=1.0)(x, gen()), x)


def test_resized_crop_zooms_in():
    # a horizontal ramp 0..1: a 8x8 crop of a 16x16 image spans 7 of its 15 steps
    ramp = (torch.arange(16.) / 15).expand(4, 1, 16, 16)
    out = RandomResizedCrop(scale=(0.25, 0.25), ratio=(1, 1))(ramp, gen())
    span = out[..., -1] - out[..., 0]
    assert torch.allclose(span, torch.full_like(span, 7 / 15), atol=1e-4)
    # a crop whose box never fits falls back to the whole image (aspect clamped into `ratio`)
    wide = torch.rand(2, 1, 8, 32, generator=gen())
    assert torch.allclose(RandomResizedCrop((1, 1), ratio=(4, 4))(wide, gen()), wide, atol=1e-5)


def test_flip():
    x = images()
    assert torch.equal(HorizontalFlip(1.0)(x, gen()), torch.flip(x, [-1]))
    assert torch.equal(HorizontalFlip(0.0)(x, gen()), x)
    out = HorizontalFlip(0.5)(images(64), gen())
    flipped = [torch.equal(o, torch.flip(i, [-1])) for o, i in zip(out, images(64))]
    assert 16 < sum(flipped) < 48


def test_color_jitter_and_grayscale():
    x = images()
    gray = RandomGrayscale(1.0)(x, gen())
    assert torch.allclose(gray[:, 0], gray[:, 1]) and torch.allclose(gray[:, 1], gray[:, 2])
    assert torch.equal(RandomGrayscale(1.0)(x[:, :1], gen()), x[:, :1])
    assert not torch.equal(ColorJitter(p=1.0)(x[:, :1], gen()), x[:, :1])  # brightness/contrast
    four = torch.rand(2, 4, 8, 8)
    with pytest.raises(ValueError, match="4 channels"):
        ColorJitter()(four, gen())
    assert ColorJitter(saturation=0, hue=0)(four, gen()).shape == four.shape
    with pytest.raises(ValueError, match="4 channels"):
        RandomGrayscale(1.0)(four, gen())
    kept = ColorJitter(p=0.5)(images(64), gen())
    unchanged = sum(torch.equal(o, i) for o, i in zip(kept, images(64)))
    assert 16 < unchanged < 48
    jitter = ColorJitter(0.8, hue=0.0)
    assert (jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue) == (0.8, 0.8, 0.8, 0)


def test_blur_noise_erasing():
    x = images(size=16)
    blurred = GaussianBlur(1.0, sigma=(1.5, 2.0))(x, gen())
    assert blurred.diff(dim=-1).abs().mean() < 0.5 * x.diff(dim=-1).abs().mean()
    assert torch.equal(GaussianBlur(0.0)(x, gen()), x)
    grey = torch.full((8, 1, 32, 32), 0.5)
    noisy = GaussianNoise(0.1)(grey, gen())
    assert abs((noisy - grey).std().item() - 0.1) < 0.01
    assert torch.equal(GaussianNoise(0.0)(grey, gen()), grey)
    bright = 0.1 + 0.9 * images(32, size=16)  # no zeros: the erased pixels are the zeros
    erased = RandomErasing(1.0, scale=(0.05, 0.2))(bright, gen())
    for out, inp in zip(erased, bright):
        zero = (out == 0).all(0)
        rows, cols = zero.any(1).nonzero().squeeze(1), zero.any(0).nonzero().squeeze(1)
        box = zero[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert box.all() and box.numel() == zero.sum(), "the erased region is one rectangle"
        assert 0.02 <= zero.float().mean() <= 0.25
        assert torch.equal(out[:, ~zero], inp[:, ~zero])


# ---- video ------------------------------------------------------------------------------------

def test_temporal_crop():
    b, t = 8, 10
    v = (torch.arange(b * t, dtype=torch.float) / (b * t)).view(b, t, 1, 1, 1).expand(b, t, 1, 4, 4)
    before = v.clone()
    out = TemporalCrop(4)(v, gen(1))
    assert out.shape == (b, 4, 1, 4, 4) and torch.equal(v, before)
    assert torch.equal(out, TemporalCrop(4)(v, gen(1)))
    assert not torch.equal(out, TemporalCrop(4)(v, gen(2)))
    index = (out[:, :, 0, 0, 0] * b * t).round().long() - torch.arange(b)[:, None] * t
    starts = index[:, 0]
    assert torch.equal(index, starts[:, None] + torch.arange(4)), "not a contiguous window"
    assert starts.min() >= 0 and starts.max() <= t - 4 and len(set(starts.tolist())) > 1
    assert torch.equal(TemporalCrop(t)(v, gen()), v)
    with pytest.raises(ValueError, match=r"at least 12 frames.*10 frames"):
        TemporalCrop(12)(v, gen())
    with pytest.raises(ValueError, match=r"\[B, T, C, H, W\]"):
        TemporalCrop(2)(images(), gen())


# ---- text -------------------------------------------------------------------------------------

@pytest.mark.parametrize("aug", TEXT, ids=repr)
def test_text_contract(aug):
    x = tokens()
    before = x.clone()
    out1, out2, other = aug(x, gen(1)), aug(x, gen(1)), aug(x, gen(2))
    assert torch.equal(x, before), "input was modified"
    assert out1.shape == x.shape and out1.dtype == x.dtype
    assert torch.equal(out1, out2) and not torch.equal(out1, other)
    real = out1 != 0
    assert not (real[:, 1:] & ~real[:, :-1]).any(), "padding must stay on the right"
    assert not (real & (x == 0)).any(), "a pad became a token"
    assert torch.equal(real.any(1), (x != 0).any(1)), "a sentence became empty"


def test_token_mask():
    x = 3 + torch.randint(0, 500, (512, 64), generator=gen())
    out = TokenMask(0.15)(x, gen(1))
    masked = out == 2
    assert abs(masked.float().mean().item() - 0.15) < 0.01
    assert torch.equal(out[~masked], x[~masked])
    short = tokens()
    full = TokenMask(1.0)(short, gen())
    kept = (full != 0) & (full != 2)
    assert torch.equal(kept.sum(1), (short != 0).any(1).long()), "one token must stay visible"
    padded_by_one = short.masked_fill(short == 0, 1)
    out = TokenMask(0.5, mask_id=7, pad_id=1)(padded_by_one, gen())
    assert torch.equal(out == 1, padded_by_one == 1) and (out == 7).any()


def test_span_deletion_removes_one_contiguous_span():
    x = tokens()
    out = SpanDeletion(0.3)(x, gen(3))
    for row_in, row_out in zip(x, out):
        src, dst = real_tokens(row_in), real_tokens(row_out)
        n = len(src)
        if n == 0:
            assert dst == []
            continue
        k = min(max(1, math.floor(0.3 * n + 0.5)), n - 1)
        assert len(dst) == n - k
        assert any(src[:s] + src[s + k:] == dst for s in range(n - k + 1))


def test_token_crop_keeps_a_contiguous_piece():
    x = tokens()
    out = TokenCrop(0.6)(x, gen(4))
    lengths = []
    for row_in, row_out in zip(x, out):
        src, dst = real_tokens(row_in), real_tokens(row_out)
        if not src:
            assert dst == []
            continue
        m = len(dst)
        assert math.ceil(0.6 * len(src) - 1e-6) <= m <= len(src)
        assert any(src[s:s + m] == dst for s in range(len(src) - m + 1))
        lengths.append(m / len(src))
    assert min(lengths) < 0.9  # it does crop
    assert torch.equal(TokenCrop(1.0)(x, gen()), x)


def test_token_drop_keeps_a_subsequence():
    x = tokens()
    out = TokenDrop(0.5)(x, gen(5))
    for row_in, row_out in zip(x, out):
        src, dst = real_tokens(row_in), real_tokens(row_out)
        assert len(dst) >= min(1, len(src))
        rest = iter(src)
        assert all(t in rest for t in dst), "order or tokens changed"


def test_text_input_checks():
    with pytest.raises(ValueError, match="right-padded"):
        TokenMask()(torch.tensor([[5, 0, 6]]), gen())
    with pytest.raises(ValueError, match=r"\[B, L\]"):
        SpanDeletion()(torch.tensor([5, 6, 7]), gen())
    with pytest.raises(TypeError, match="integer"):
        TokenCrop()(torch.rand(2, 5), gen())


# ---- arguments, ranks, configs ----------------------------------------------------------------

@pytest.mark.parametrize("make, name, bad", [
    (lambda: RandomResizedCrop(scale=(0.5, 0.2)), "scale", "(0.5, 0.2)"),
    (lambda: RandomResizedCrop(scale=(0, 1)), "scale", "(0, 1)"),
    (lambda: RandomResizedCrop(ratio=(-1, 2)), "ratio", "(-1, 2)"),
    (lambda: HorizontalFlip(1.5), "p", "1.5"),
    (lambda: RandomAffine(degrees=-1), "degrees", "-1"),
    (lambda: RandomAffine(translate=2), "translate", "2"),
    (lambda: RandomAffine(scale=0.9), "scale", "0.9"),
    (lambda: ColorJitter(hue=0.7), "hue", "0.7"),
    (lambda: ColorJitter(brightness=-0.1), "brightness", "-0.1"),
    (lambda: ColorJitter(p=True), "p", "True"),
    (lambda: RandomGrayscale(-0.2), "p", "-0.2"),
    (lambda: GaussianBlur(sigma=(0, 1)), "sigma", "(0, 1)"),
    (lambda: GaussianNoise(std=float("nan")), "std", "nan"),
    (lambda: RandomErasing(scale=(0.3, 0.2)), "scale", "(0.3, 0.2)"),
    (lambda: TemporalCrop(0), "frames", "0"),
    (lambda: TemporalCrop(2.5), "frames", "2.5"),
    (lambda: TokenMask(2), "p", "2"),
    (lambda: TokenMask(mask_id=-1), "mask_id", "-1"),
    (lambda: TokenMask(mask_id=0), "mask_id and pad_id", "0"),
    (lambda: TokenDrop(pad_id=True), "pad_id", "True"),
    (lambda: SpanDeletion(1.5), "fraction", "1.5"),
    (lambda: TokenCrop(0), "min_fraction", "0"),
])
def test_bad_arguments_name_the_parameter_and_value(make, name, bad):
    with pytest.raises(ValueError) as info:
        make()
    assert name in str(info.value) and bad in str(info.value)


@pytest.mark.parametrize("aug", IMAGE, ids=repr)
def test_bad_inputs(aug):
    for shape in [(3, 12, 12), (2, 2, 2, 3, 12, 12)]:
        with pytest.raises(ValueError, match=r"\[B, C, H, W\].*\[B, T, C, H, W\]"):
            aug(torch.rand(shape), gen())
    with pytest.raises(TypeError, match="float"):
        aug(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), gen())
    with pytest.raises(TypeError):
        aug([[0.5]], gen())


CONFIGS = [
    ("random_resized_crop", {"scale": [0.3, 1.0]}, "RandomResizedCrop(scale=(0.3, 1.0), ratio="),
    ("random_resized_crop", 0.5, "RandomResizedCrop(scale=(0.5, 1.0)"),
    ("horizontal_flip", 0.3, "HorizontalFlip(p=0.3)"),
    ("random_affine", 15, "RandomAffine(degrees=15.0, translate=0.1, scale=(0.9, 1.1))"),
    ("color_jitter", 0.4, "ColorJitter(strength=0.4, brightness=0.4, contrast=0.4, "
                          "saturation=0.4, hue=0.1, p=0.8)"),
    ("random_grayscale", True, "RandomGrayscale(p=0.2)"),
    ("gaussian_blur", {"p": 1.0, "sigma": [0.5, 1.0]}, "GaussianBlur(p=1.0, sigma=(0.5, 1.0))"),
    ("gaussian_noise", 0.1, "GaussianNoise(std=0.1, p=1.0)"),
    ("random_erasing", 0.25, "RandomErasing(p=0.25, scale=(0.02, 0.2)"),
    ("temporal_crop", 2, "TemporalCrop(frames=2)"),
    ("token_mask", {"p": 0.2, "mask_id": 4}, "TokenMask(p=0.2, mask_id=4, pad_id=0)"),
    ("token_drop", 0.1, "TokenDrop(p=0.1, pad_id=0)"),
    ("span_deletion", 0.2, "SpanDeletion(fraction=0.2, pad_id=0)"),
    ("token_crop", 0.7, "TokenCrop(min_fraction=0.7, pad_id=0)"),
]


@pytest.mark.parametrize("name, value, text", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_build_view_by_name(name, value, text):
    view = build_view({name: value})
    assert repr(view).startswith("Compose([" + text)
    data = tokens() if name.startswith(("token", "span")) else clips()
    out = view(data, gen())
    assert torch.equal(out, view(data, gen())) and out.dtype == data.dtype


def test_composed_pipelines_on_images_and_clips():
    view = build_view({"random_resized_crop": {"scale": [0.3, 1.0]}, "horizontal_flip": 0.5,
                       "color_jitter": 0.4, "random_grayscale": 0.2, "gaussian_blur": 0.5})
    assert isinstance(view, Compose) and len(view.augmentations) == 5
    for data in (images(), clips()):
        out = view(data, gen(1))
        assert out.shape == data.shape and torch.equal(out, view(data, gen(1)))
        assert out.min() >= 0 and out.max() <= 1
    video = build_view({"temporal_crop": 2, "random_resized_crop": 0.5})
    assert video(clips(t=5), gen()).shape == (4, 2, 3, 12, 12)
    assert isinstance(build_view({}), Identity)  # SimCSE's dropout view: no augmentation
