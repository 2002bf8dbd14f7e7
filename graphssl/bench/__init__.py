"""Protocol runners and result records behind the ``graphssl`` command."""
from .config import config_hash, method_config
from .pretrain import run_pretrain

__all__ = ["run_pretrain", "method_config", "config_hash"]
