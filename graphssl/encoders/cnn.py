"""A small ResNet: the convolutional alternative to the ViT for images."""
from __future__ import annotations

import torch
from torch import nn

from ..checks import check_positive_int


class BasicBlock(nn.Module):
    """ResNet's basic block (He et al., CVPR 2016): two 3x3 convolutions with batch norm and an
    identity (or 1x1 projection) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels))
        self.shortcut = nn.Identity() if stride == 1 and in_channels == out_channels else \
            nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                          nn.BatchNorm2d(out_channels))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.body(x) + self.shortcut(x))


class ResNetEncoder(nn.Module):
    r"""A small ResNet for small images: a 3x3 stem, one stage of ``blocks`` basic blocks per
    entry of ``widths`` (stride 2 from the second stage on), global average pooling.

    Shapes: ``[B, C, H, W]`` -> ``[B, widths[-1]]``.

    Example:
        >>> ResNetEncoder(1, widths=(32, 64))(torch.rand(8, 1, 16, 16)).shape
        torch.Size([8, 64])
    """

    def __init__(self, in_channels: int, widths=(32, 64, 128), blocks: int = 1):
        super().__init__()
        check_positive_int("in_channels", in_channels)
        check_positive_int("blocks", blocks)
        widths = tuple(widths)
        if not widths or any(isinstance(w, bool) or not isinstance(w, int) or w < 1
                             for w in widths):
            raise ValueError(f"widths must be a non-empty sequence of positive ints, got "
                             f"{widths!r}")
        self.in_channels, self.out_channels = in_channels, widths[-1]
        layers = [nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False),
                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)]
        prev = widths[0]
        for i, width in enumerate(widths):
            for j in range(blocks):
                layers.append(BasicBlock(prev, width, stride=2 if i > 0 and j == 0 else 1))
                prev = width
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(x) or x.dim() != 4 or x.size(1) != self.in_channels:
            shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise ValueError(f"ResNetEncoder takes images [B, {self.in_channels}, H, W]; got "
                             f"{shape}")
        return self.body(x).mean((2, 3))
