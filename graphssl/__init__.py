"""graphssl: self-supervised representation learning on graphs with PyTorch Geometric."""
__version__ = "0.1.0"

from . import augment, data, encoders, evaluate, methods, objectives, train  # noqa: E402
from .data import load_dataset  # noqa: E402
from .methods import DGI, GRACE, build_method  # noqa: E402
from .objectives import JSD, InfoNCE  # noqa: E402
from .train import Trainer  # noqa: E402

__all__ = ["__version__", "augment", "data", "encoders", "evaluate", "methods", "objectives",
           "train", "load_dataset", "build_method", "GRACE", "DGI", "InfoNCE", "JSD", "Trainer"]
