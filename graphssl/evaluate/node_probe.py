"""Choosing a node-classification probe from a configuration (``protocol.probe``)."""
from __future__ import annotations

import difflib
import functools
import inspect

from .adam_probe import adam_linear_probe
from .linear import linear_probe

def _describe_adam(options: dict) -> str:
    repeats = options.get("repeats", 1)
    fits = "logistic regression" if repeats == 1 else f"mean of {repeats} logistic regressions"
    kept = ("the last epoch" if options.get("select", "validation") == "last"
            else "epoch chosen on the validation split")
    return f"{fits} trained with Adam, {kept}"


#: ``protocol.probe.kind`` -> (probe, what the record says it is, given the probe's options)
NODE_PROBES = {
    "logistic": (linear_probe,
                 lambda options: "logistic regression, L2 strength chosen on the validation "
                                 "split"),
    "adam": (adam_linear_probe, _describe_adam),
}


def node_probe(config: dict | None = None):
    """``(probe, description)`` for a ``protocol.probe`` mapping: ``kind`` (``'logistic'``, the
    default: :func:`~graphssl.evaluate.linear_probe`; ``'adam'``:
    :func:`~graphssl.evaluate.adam_linear_probe`) and that probe's options. ``probe(z, y,
    split)`` returns its scores. Unknown kinds and options fail here, before any training.

    Example:
        >>> probe, what = node_probe({"kind": "adam", "weight_decay": 1e-4})
        >>> probe(z, data.y, split)["test_acc"]
    """
    options = dict(config or {})
    kind = options.pop("kind", "logistic")
    if kind not in NODE_PROBES:
        close = difflib.get_close_matches(str(kind), NODE_PROBES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"protocol.probe.kind must be one of {sorted(NODE_PROBES)}, got "
                         f"{kind!r}{hint}")
    fn, describe = NODE_PROBES[kind]
    accepted = [p for p in inspect.signature(fn).parameters if p not in ("z", "y", "split")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"protocol.probe: the {kind!r} probe takes {accepted}, not "
                         f"{unknown}")
    return functools.partial(fn, **options), describe(options)
