"""Objectives: modality-agnostic losses, tensors in, scalar out."""
from .infonce import InfoNCE
from .jsd import JSD

__all__ = ["InfoNCE", "JSD"]
