"""Weight initialisations that authors' code applies to a whole model."""
from __future__ import annotations

from torch import nn

#: ``'default'``: each layer's own (PyTorch's / PyG's); ``'xavier'``: :func:`xavier_linears_`
INITS = ("default", "xavier")


def check_init(init: str) -> str:
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    return init


def xavier_linears_(module: nn.Module) -> nn.Module:
    """Re-initialise every ``nn.Linear`` inside ``module``: Xavier-uniform weights (gain 1) and
    zero biases, as the ``init_emb`` of the InfoGraph and GraphCL authors' code does to their
    whole model (encoder and heads) after building it. Other layers are left as they are.
    PyTorch's default for ``nn.Linear`` draws from a variance ``1 / (3 fan_in)``; Xavier's is
    ``2 / (fan_in + fan_out)``, so for square layers three times larger.

    Example:
        >>> method = InfoGraph(GINEncoder(7, 32, num_layers=4, jk='cat'))
        >>> xavier_linears_(method)  # what InfoGraph(..., init='xavier') does
    """
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module
