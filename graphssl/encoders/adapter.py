"""Call any PyG-style model on a graph: the model receives the fields its ``forward`` accepts."""
from __future__ import annotations

import inspect
from functools import lru_cache

from torch import nn

OPTIONAL_FIELDS = ("edge_weight", "edge_attr", "batch")


@lru_cache(maxsize=None)
def _accepted(forward) -> tuple[frozenset, bool]:
    params = inspect.signature(forward).parameters
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return frozenset(params), var_kw


def encode(model: nn.Module, data):
    """``model(data.x, data.edge_index, [edge_weight=..., edge_attr=..., batch=...])`` for a
    graph; ``model(data)`` for anything else (a batch of images, clips or token ids).

    Optional fields are passed by keyword only when the graph has them and the model's
    ``forward`` names them, so a user's ``GCN``, ``GAT`` or custom module works as it is.
    """
    if getattr(data, "edge_index", None) is None:
        return model(data)
    names, var_kw = _accepted(type(model).forward)
    kwargs = {}
    for field in OPTIONAL_FIELDS:
        value = getattr(data, field, None)
        if value is not None and (field in names or var_kw):
            kwargs[field] = value
    return model(data.x, data.edge_index, **kwargs)
