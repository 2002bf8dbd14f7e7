"""Objectives: modality-agnostic losses, tensors in, scalar out."""
from .barlow_twins import BarlowTwins
from .bootstrap import BootstrapLoss
from .cca_ssg import CCA_SSG
from .infonce import InfoNCE
from .jsd import JSD
from .swav import SwAV
from .vicreg import VICReg

__all__ = ["InfoNCE", "JSD", "BarlowTwins", "VICReg", "CCA_SSG", "BootstrapLoss", "SwAV"]
