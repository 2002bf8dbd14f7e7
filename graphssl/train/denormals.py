"""Flushing subnormal ("denormal") floats to zero while training.

Weights and Adam moments of parameters whose gradient stays (near) zero decay geometrically
(weight decay, ``beta1``) into the subnormal range below ``torch.finfo(torch.float32).tiny``.
Many x86 CPUs (Intel's among them) compute with subnormal operands far slower than with normal
ones: on GCA's Amazon-Photo run, after about 1,450 epochs, 77% of the first layer's Adam
``exp_avg`` was subnormal and an epoch took 14-19 s instead of 3.7 s (benchmarks/README.md).
Flushing them to zero (FTZ/DAZ, :func:`torch.set_flush_denormal`) removes that cost; it changes
results only through values smaller than 1.2e-38.
"""
from __future__ import annotations

import contextlib

import torch


def flushing_denormals_now() -> bool:
    """Whether subnormal results are flushed to zero now: torch has a setter
    (:func:`torch.set_flush_denormal`) but no getter, so half the smallest normal float32 is
    computed and compared with zero."""
    tiny = torch.finfo(torch.float32).tiny
    return bool((torch.tensor([tiny]) * 0.5).item() == 0.0)


@contextlib.contextmanager
def flushing_denormals(enabled: bool = True):
    """Within the block, CPU float operations treat subnormal inputs and results as zero
    (``enabled=False``: a no-op); on exit the setting is what it was before. Where the CPU
    does not support it, the block runs unchanged. The block gets whether subnormals are
    flushed in it (``with flushing_denormals() as flushed:``): ``False`` on such a CPU, and
    ``True`` with ``enabled=False`` where the caller had turned flushing on. CUDA kernels are
    not affected either way."""
    if not enabled:
        yield flushing_denormals_now()
        return
    before = flushing_denormals_now()
    torch.set_flush_denormal(True)
    try:
        yield flushing_denormals_now()
    finally:
        torch.set_flush_denormal(before)
