"""Batched image views in the SimCLR / BYOL family (Chen et al. 2020; Grill et al. 2020).

Inputs are float tensors in ``[0, 1]``: images ``[B, C, H, W]`` or video clips
``[B, T, C, H, W]``. Every augmentation here

* draws its random parameters itself, from the ``generator`` argument (kornia's functional ops
  only apply them, so kornia never touches the global RNG and a seeded generator gives the same
  view every time);
* draws one set of parameters per image, or, for a clip, ONE set per clip that all its frames
  share (the clip is flattened to ``[B*T, C, H, W]`` and each parameter repeated ``T`` times), so
  a clip stays temporally consistent: the same crop, flip, colour change or noise on every frame;
* returns a new tensor clamped to ``[0, 1]`` and never writes into its input.

This shared logic lives in :class:`ImageAugmentation`: a subclass implements
``sample(shape, generator, device) -> params`` and ``apply(images, params)``.

``build_view`` passes a scalar config value as the first argument, which is:

* ``random_resized_crop`` -> :class:`RandomResizedCrop` ``scale`` (a number ``s`` means ``(s, 1)``)
* ``horizontal_flip`` -> :class:`HorizontalFlip` ``p``
* ``random_affine`` -> :class:`RandomAffine` ``degrees``
* ``color_jitter`` -> :class:`ColorJitter` ``strength`` (brightness = contrast = saturation =
  ``strength``, hue = ``strength / 4``)
* ``random_grayscale`` -> :class:`RandomGrayscale` ``p``
* ``gaussian_blur`` -> :class:`GaussianBlur` ``p``
* ``gaussian_noise`` -> :class:`GaussianNoise` ``std``
* ``random_erasing`` -> :class:`RandomErasing` ``p``

kornia is imported when an augmentation is first applied, so ``graphssl`` imports without it.
"""
from __future__ import annotations

import math

import torch

from ..checks import check_non_negative, check_number, check_probability, is_finite_number
from .base import Augmentation, rand, randperm


def _kornia():
    try:
        import kornia
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the image augmentations need kornia: pip install kornia") from exc
    return kornia


# ---- argument checks ------------------------------------------------------------------------

def check_interval(name: str, value, minimum: float = 0.0, maximum: float | None = None,
                   open_minimum: bool = False) -> tuple[float, float]:
    """A pair ``(low, high)`` of finite numbers with ``minimum <= low <= high <= maximum``
    (``minimum < low`` when ``open_minimum``); lists from YAML become tuples."""
    ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(map(is_finite_number, value))
    if ok:
        low, high = float(value[0]), float(value[1])
        ok = (low > minimum if open_minimum else low >= minimum) and low <= high \
            and (maximum is None or high <= maximum)
    if not ok:
        low_bound = f"{minimum} < low" if open_minimum else f"{minimum} <= low"
        high_bound = f" <= {maximum}" if maximum is not None else ""
        raise ValueError(f"{name} must be a pair (low, high) with {low_bound} <= high"
                         f"{high_bound}, got {value!r}")
    return low, high


def check_images(data, name: str) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise TypeError(f"{name} expects a tensor of images [B, C, H, W] or clips "
                        f"[B, T, C, H, W], got {type(data).__name__}")
    if data.dim() not in (4, 5):
        raise ValueError(f"{name} expects images [B, C, H, W] or clips [B, T, C, H, W], got "
                         f"shape {tuple(data.shape)}")
    if not data.is_floating_point():
        raise TypeError(f"{name} expects float images in [0, 1], got dtype {data.dtype}")
    return data


def uniform(low: float, high: float, shape, generator, device) -> torch.Tensor:
    """Uniform numbers in ``[low, high)`` drawn from ``generator`` (float32, on ``device``)."""
    return low + (high - low) * rand(shape, generator, device)


def randn(shape, generator, device) -> torch.Tensor:
    """Standard normal numbers from ``generator``, which may live on another device."""
    if generator is not None and generator.device != torch.device(device):
        return torch.randn(shape, generator=generator, device=generator.device).to(device)
    return torch.randn(shape, generator=generator, device=device)


def _bcast(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``[B]`` -> ``[B, 1, 1, 1]`` in ``like``'s dtype."""
    return values.to(like.dtype).view(-1, 1, 1, 1)


# ---- the shared base ------------------------------------------------------------------------

class ImageAugmentation(Augmentation):
    """Base class of the batched image views; accepts images and video clips alike.

    Subclasses implement

    * ``sample(shape, generator, device) -> dict``: the random parameters for ``shape = (B, C, H,
      W)``, where ``B`` is the number of images, or of clips for a video batch. Every tensor in
      the dict has ``B`` as its first dimension (one entry per image / clip); other values (ints,
      tuples) are shared by the whole batch.
    * ``apply(images, params) -> images``: the transform of a ``[N, C, H, W]`` batch, where the
      tensors of ``params`` have ``N`` rows.

    For a clip batch ``forward`` flattens the frames to ``[B*T, C, H, W]`` and repeats each
    tensor parameter ``T`` times, so one draw per clip is applied to all its frames. Calling
    ``apply(x, sample(...))`` directly reuses one draw on several batches.
    """

    def forward(self, data, generator):
        x = check_images(data, type(self).__name__)
        video = x.dim() == 5
        b = x.size(0)
        frames = x.size(1) if video else 1
        flat = x.reshape(b * frames, *x.shape[-3:]) if video else x
        params = self.sample((b, *flat.shape[1:]), generator, x.device)
        if flat.size(0) == 0:
            return x.clone()
        if video:
            params = {k: v.repeat_interleave(frames, 0) if isinstance(v, torch.Tensor) else v
                      for k, v in params.items()}
        out = self.apply(flat, params).clamp(0.0, 1.0)
        return out.reshape(x.shape) if video else out

    def sample(self, shape, generator, device) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def apply(self, images: torch.Tensor, params: dict) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


# ---- geometric views ------------------------------------------------------------------------

def _sample_boxes(b, h, w, scale, log_ratio, generator, device, trials=10):
    """torchvision's rejection sampling of a ``(width, height)`` box, vectorised over ``trials``
    candidates per image: area fraction ``~ U(scale)``, log aspect ratio ``~ U(log_ratio)``.
    Returns the float sizes ``sqrt(area * ratio)`` and ``sqrt(area / ratio)``, each
    ``[b, trials]``."""
    u = rand((2, b, trials), generator, device)
    area = (scale[0] + (scale[1] - scale[0]) * u[0]) * (h * w)
    ratio = torch.exp(log_ratio[0] + (log_ratio[1] - log_ratio[0]) * u[1])
    bw, bh = torch.sqrt(area * ratio), torch.sqrt(area / ratio)
    return bw, bh


def _first(values: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """Per row, the value at the first True of ``ok`` (row 0's value where none is)."""
    return values.gather(1, ok.to(torch.uint8).argmax(1, keepdim=True)).squeeze(1)


class RandomResizedCrop(ImageAugmentation):
    """A random crop, resized back to the input size (the main SimCLR/BYOL view).

    As torchvision's ``RandomResizedCrop``: the crop covers a fraction ``~ U(scale)`` of the
    image area with aspect ratio (width / height) ``~ log-U(ratio)``; up to 10 candidates are
    drawn per image and the first that fits is used, otherwise the whole image (with its aspect
    ratio clamped into ``ratio``). Crop sizes and offsets are continuous (sub-pixel) and the crop
    is resampled bilinearly with kornia's ``crop_and_resize``. ``scale`` may be a number ``s``,
    meaning ``(s, 1.0)``.
    """

    def __init__(self, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3)):
        if is_finite_number(scale):
            scale = (scale, 1.0)
        self.scale = check_interval("scale", scale, 0.0, 1.0, open_minimum=True)
        self.ratio = check_interval("ratio", ratio, 0.0, open_minimum=True)

    def sample(self, shape, generator, device):
        b, _, h, w = shape
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        bw, bh = _sample_boxes(b, h, w, self.scale, log_ratio, generator, device)
        eps = 1e-4  # sqrt round-off must not reject a box of exactly the image size
        ok = (bw <= w + eps) & (bh <= h + eps)
        bw, bh, found = _first(bw, ok), _first(bh, ok), ok.any(1)
        aspect = w / h  # the fallback: the whole image, its aspect ratio clamped into `ratio`
        if aspect < self.ratio[0]:
            fw, fh = float(w), w / self.ratio[0]
        elif aspect > self.ratio[1]:
            fw, fh = h * self.ratio[1], float(h)
        else:
            fw, fh = float(w), float(h)
        bw = torch.where(found, bw, torch.full_like(bw, fw)).clamp(1.0, float(w))
        bh = torch.where(found, bh, torch.full_like(bh, fh)).clamp(1.0, float(h))
        pos = rand((2, b), generator, device)
        x0, y0 = pos[0] * (w - bw), pos[1] * (h - bh)
        return {"box": torch.stack([x0, y0, bw, bh], 1)}

    def apply(self, images, params):
        x0, y0, bw, bh = params["box"].to(images.dtype).unbind(1)
        x1, y1 = x0 + bw - 1, y0 + bh - 1  # kornia's boxes hold inclusive pixel positions
        corners = torch.stack([torch.stack([x0, y0], 1), torch.stack([x1, y0], 1),
                               torch.stack([x1, y1], 1), torch.stack([x0, y1], 1)], 1)
        return _kornia().geometry.transform.crop_and_resize(
            images, corners, tuple(images.shape[-2:]), mode="bilinear", padding_mode="border",
            align_corners=True)


class HorizontalFlip(ImageAugmentation):
    """Mirror each image left-right with probability ``p`` (not for digits or text images)."""

    def __init__(self, p: float = 0.5):
        self.p = check_probability("p", p)

    def sample(self, shape, generator, device):
        return {"flip": rand(shape[0], generator, device) < self.p}

    def apply(self, images, params):
        return torch.where(params["flip"].view(-1, 1, 1, 1), images.flip(-1), images)


class RandomAffine(ImageAugmentation):
    """A random rotation, translation and isotropic scaling about the image centre.

    Angle ``~ U(-degrees, degrees)``, shift ``~ U(-translate, translate)`` times the width /
    height, zoom ``~ U(scale)``; pixels moved in from outside are 0 (black). This is the
    geometric view for digits, which must not be flipped (and for which a small crop can cut
    off the stroke that tells a 1 from a 7).
    """

    def __init__(self, degrees: float = 10, translate: float = 0.1, scale=(0.9, 1.1)):
        self.degrees = check_number("degrees", degrees, low=0, high=180)
        self.translate = check_number("translate", translate, low=0, high=1)
        self.scale = check_interval("scale", scale, 0.0, open_minimum=True)

    def sample(self, shape, generator, device):
        b, _, h, w = shape
        u = rand((4, b), generator, device)
        angle = self.degrees * (2 * u[0] - 1)
        shift = torch.stack([w * self.translate * (2 * u[1] - 1),
                             h * self.translate * (2 * u[2] - 1)], 1)
        zoom = self.scale[0] + (self.scale[1] - self.scale[0]) * u[3]
        return {"angle": angle, "translate": shift, "scale": zoom}

    def apply(self, images, params):
        transform = _kornia().geometry.transform
        n, _, h, w = images.shape
        dtype = images.dtype
        center = images.new_tensor([(w - 1) / 2, (h - 1) / 2]).expand(n, 2)
        zoom = params["scale"].to(dtype).unsqueeze(1).expand(n, 2)
        matrix = transform.get_affine_matrix2d(params["translate"].to(dtype), center, zoom,
                                               params["angle"].to(dtype))
        return transform.warp_affine(images, matrix[:, :2], (h, w), mode="bilinear",
                                     padding_mode="zeros", align_corners=True)


# ---- photometric views ----------------------------------------------------------------------

class ColorJitter(ImageAugmentation):
    """Random brightness, contrast, saturation and hue changes, applied with probability ``p``
    (torchvision's ``ColorJitter`` inside ``RandomApply``, as in SimCLR/BYOL).

    ``strength`` sets the defaults: brightness = contrast = saturation = ``strength`` and
    hue = ``strength / 4`` (at most 0.5), so ``ColorJitter(0.4)`` (the default, and the value of
    ``{'color_jitter': 0.4}``) is ``brightness=contrast=saturation=0.4, hue=0.1``; SimCLR's colour
    distortion of strength ``s`` is ``ColorJitter(0.8 * s)``. The keyword arguments override it.

    Factors are drawn per image as in torchvision: brightness / contrast / saturation
    ``~ U(max(0, 1 - v), 1 + v)`` (brightness multiplies, contrast and saturation blend with the
    mean grey level / the grey image), hue shift ``~ U(-hue, hue)`` turns. The order of the four
    operations is drawn once per call and shared by the batch (as kornia does). Saturation and
    hue need RGB: on 1-channel images they are skipped (brightness and contrast still apply);
    other channel counts raise unless ``saturation`` and ``hue`` are 0.
    """

    def __init__(self, strength: float = 0.4, *, brightness=None, contrast=None, saturation=None,
                 hue=None, p: float = 0.8):
        self.strength = check_non_negative("strength", strength)
        self.brightness = check_non_negative(
            "brightness", self.strength if brightness is None else brightness)
        self.contrast = check_non_negative(
            "contrast", self.strength if contrast is None else contrast)
        self.saturation = check_non_negative(
            "saturation", self.strength if saturation is None else saturation)
        self.hue = check_number("hue", min(self.strength / 4, 0.5) if hue is None else hue,
                                low=0, high=0.5)
        self.p = check_probability("p", p)

    def sample(self, shape, generator, device):
        b = shape[0]
        u = rand((5, b), generator, device)
        factors = [max(0.0, 1 - v) + (1 + v - max(0.0, 1 - v)) * u[i] for i, v in
                   enumerate((self.brightness, self.contrast, self.saturation))]
        return {"apply": u[4] < self.p, "brightness": factors[0], "contrast": factors[1],
                "saturation": factors[2], "hue": self.hue * (2 * u[3] - 1),
                "order": tuple(randperm(4, generator, device).tolist())}

    def apply(self, images, params):
        enhance = _kornia().enhance
        channels = images.size(1)
        rgb = channels == 3
        if channels not in (1, 3) and (self.saturation > 0 or self.hue > 0):
            raise ValueError(f"ColorJitter's saturation and hue need RGB (3-channel) or are "
                             f"skipped on 1-channel images, got {channels} channels; set "
                             f"saturation=0 and hue=0")
        out = images
        for op in params["order"]:
            if op == 0 and self.brightness > 0:
                out = enhance.adjust_brightness_accumulative(out, params["brightness"].to(out))
            elif op == 1 and self.contrast > 0:
                out = enhance.adjust_contrast_with_mean_subtraction(out, params["contrast"].to(out))
            elif op == 2 and self.saturation > 0 and rgb:
                out = enhance.adjust_saturation_with_gray_subtraction(
                    out, params["saturation"].to(out))
            elif op == 3 and self.hue > 0 and rgb:
                out = enhance.adjust_hue(out, params["hue"].to(out) * (2 * math.pi))
        return torch.where(params["apply"].view(-1, 1, 1, 1), out, images)


class RandomGrayscale(ImageAugmentation):
    """Convert an RGB image to grey (kept as 3 equal channels) with probability ``p``; a no-op
    on 1-channel images (which are grey already)."""

    def __init__(self, p: float = 0.2):
        self.p = check_probability("p", p)

    def sample(self, shape, generator, device):
        return {"gray": rand(shape[0], generator, device) < self.p}

    def apply(self, images, params):
        channels = images.size(1)
        if channels == 1:
            return images
        if channels != 3:
            raise ValueError(f"RandomGrayscale needs RGB (3-channel) or 1-channel images, got "
                             f"{channels} channels")
        gray = _kornia().color.rgb_to_grayscale(images).expand_as(images)
        return torch.where(params["gray"].view(-1, 1, 1, 1), gray, images)


class GaussianBlur(ImageAugmentation):
    """Blur with probability ``p`` by a Gaussian of standard deviation ``~ U(sigma)`` pixels,
    drawn per image (BYOL: ``p`` 1.0 / 0.1 for its two views, SimCLR 0.5).

    The kernel spans +-3 sigma of the largest sigma (odd size), shrunk to fit the image; only
    the selected images are blurred (kornia's ``gaussian_blur2d``, reflected borders).
    """

    def __init__(self, p: float = 0.5, sigma=(0.1, 2.0)):
        self.p = check_probability("p", p)
        self.sigma = check_interval("sigma", sigma, 0.0, open_minimum=True)

    def sample(self, shape, generator, device):
        u = rand((2, shape[0]), generator, device)
        return {"blur": u[0] < self.p,
                "sigma": self.sigma[0] + (self.sigma[1] - self.sigma[0]) * u[1]}

    def apply(self, images, params):
        index = params["blur"].nonzero().squeeze(1)
        if index.numel() == 0:
            return images
        h, w = images.shape[-2:]
        size = 2 * math.ceil(3 * self.sigma[1]) + 1
        size = min(size, 2 * min(h, w) - 1)  # reflect padding needs half the kernel < the side
        sigma = params["sigma"][index].to(images.dtype).unsqueeze(1).expand(-1, 2)
        blurred = _kornia().filters.gaussian_blur2d(images[index], (size, size), sigma,
                                                    border_type="reflect")
        out = images.clone()
        out[index] = blurred
        return out


class GaussianNoise(ImageAugmentation):
    """Add pixel noise ``N(0, std^2)`` (then clamp to [0, 1]) to each image with probability
    ``p``. A clip gets one noise pattern shared by all its frames, like every other parameter."""

    def __init__(self, std: float = 0.05, p: float = 1.0):
        self.std = check_non_negative("std", std)
        self.p = check_probability("p", p)

    def sample(self, shape, generator, device):
        return {"noise": randn(tuple(shape), generator, device) * self.std,
                "apply": rand(shape[0], generator, device) < self.p}

    def apply(self, images, params):
        noise = params["noise"].to(images.dtype) * _bcast(params["apply"], images)
        return images + noise


class RandomErasing(ImageAugmentation):
    """Cutout / random erasing (Zhong et al. 2020): with probability ``p`` fill a rectangle
    covering a fraction ``~ U(scale)`` of the image, aspect ratio ``~ log-U(ratio)``, with
    ``value``. As torchvision: integer sizes, up to 10 candidates per image, no erasing when
    none fits."""

    def __init__(self, p: float = 0.5, scale=(0.02, 0.2), ratio=(0.3, 3.3), value: float = 0.0):
        self.p = check_probability("p", p)
        self.scale = check_interval("scale", scale, 0.0, 1.0)
        self.ratio = check_interval("ratio", ratio, 0.0, open_minimum=True)
        self.value = check_number("value", value, low=0, high=1)

    def sample(self, shape, generator, device):
        b, _, h, w = shape
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        # torchvision: height = sqrt(area * ratio), width = sqrt(area / ratio)
        bh, bw = _sample_boxes(b, h, w, self.scale, log_ratio, generator, device)
        bh, bw = bh.round(), bw.round()
        ok = (bh >= 1) & (bw >= 1) & (bh < h) & (bw < w)
        bh, bw, found = _first(bh, ok), _first(bw, ok), ok.any(1)
        u = rand((3, b), generator, device)
        top = torch.minimum((u[0] * (h - bh + 1)).floor(), h - bh)
        left = torch.minimum((u[1] * (w - bw + 1)).floor(), w - bw)
        return {"erase": (u[2] < self.p) & found, "box": torch.stack([top, left, bh, bw], 1)}

    def apply(self, images, params):
        h, w = images.shape[-2:]
        top, left, bh, bw = params["box"].unbind(1)
        rows = torch.arange(h, device=images.device, dtype=top.dtype)
        cols = torch.arange(w, device=images.device, dtype=top.dtype)
        in_rows = (rows >= top[:, None]) & (rows < (top + bh)[:, None])
        in_cols = (cols >= left[:, None]) & (cols < (left + bw)[:, None])
        region = in_rows[:, :, None] & in_cols[:, None, :] & params["erase"].view(-1, 1, 1)
        return images.masked_fill(region.unsqueeze(1), self.value)
