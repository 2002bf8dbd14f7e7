"""Objectives: modality-agnostic losses, tensors in, scalar out."""
from .barlow_twins import BarlowTwins
from .bootstrap import BootstrapLoss
from .cca_ssg import CCA_SSG
from .debiased_infonce import DebiasedInfoNCE
from .infonce import InfoNCE
from .jsd import JSD
from .nce import NCE
from .swav import SwAV
from .vicreg import VICReg

__all__ = ["InfoNCE", "DebiasedInfoNCE", "NCE", "JSD", "BarlowTwins", "VICReg", "CCA_SSG",
           "BootstrapLoss", "SwAV"]
