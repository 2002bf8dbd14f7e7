"""Self-supervised methods, one file each, registered by name."""
from .base import Method
from .dgi import DGI
from .grace import GRACE
from .registry import METHODS, build_method, get_method, register_method
from .views import build_view

__all__ = ["Method", "GRACE", "DGI", "METHODS", "register_method", "get_method",
           "build_method", "build_view"]
