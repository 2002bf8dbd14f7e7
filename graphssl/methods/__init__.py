"""Self-supervised methods, one file each, registered by name."""
from .arga import ARGA, ARGVA
from .base import Method
from .bgrl import BGRL
from .byol import BYOL
from .cca_ssg import CCASSG
from .cpc import GraphCPC
from .dec import DECClustering
from .dgi import DGI
from .dinknet import DinkNet
from .dmon import DMoNClustering
from .gbt import GBT
from .gca import GCA
from .gae import GAE, VGAE
from .grace import GRACE
from .graphcl import GraphCL
from .graphmae import GraphMAE, GraphMAEGraph
from .infograph import InfoGraph
from .mae import MAE
from .mvgrl import MVGRL, MVGRLGraph
from .simclr import SimCLR
from .registry import METHODS, build_method, get_method, register_method
from .swav import GraphSwAV
from .two_view import TwoViewMethod
from .vicreg import GraphVICReg
from .views import build_view

__all__ = ["Method", "TwoViewMethod", "GRACE", "DGI", "BGRL", "CCASSG", "GBT", "GraphVICReg",
           "GraphSwAV", "GraphCL", "InfoGraph", "MVGRL", "MVGRLGraph", "GCA",
           "GAE", "VGAE", "ARGA", "ARGVA", "GraphMAE", "GraphMAEGraph", "DMoNClustering",
           "DECClustering", "GraphCPC", "DinkNet", "SimCLR", "BYOL", "MAE",
           "METHODS", "register_method", "get_method", "build_method", "build_view"]
