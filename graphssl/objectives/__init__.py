"""Objectives: modality-agnostic losses, tensors in, scalar out."""
from .barlow_twins import BarlowTwins
from .bootstrap import BootstrapLoss
from .cca_ssg import CCA_SSG
from .cpc import CPC
from .debiased_infonce import DebiasedInfoNCE
from .dec import DEC
from .dinknet import DinkNetLoss
from .dmon import DMoN
from .infonce import InfoNCE
from .jsd import JSD
from .nce import NCE
from .sce import SCE
from .swav import SwAV
from .vicreg import VICReg

__all__ = ["InfoNCE", "DebiasedInfoNCE", "NCE", "JSD", "BarlowTwins", "VICReg", "CCA_SSG",
           "BootstrapLoss", "SwAV", "CPC", "DEC", "DMoN", "DinkNetLoss",
           "SCE"]
