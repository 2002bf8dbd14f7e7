"""Methods by name: ``build_method('grace', in_channels, **config)``."""
from __future__ import annotations

import difflib

METHODS: dict[str, type] = {}


def _key(name: str) -> str:
    return str(name).strip().lower().replace("_", "-")


def register_method(name: str):
    """Class decorator registering a :class:`~graphssl.methods.Method` under ``name``
    (case-insensitive; ``_`` and ``-`` are the same). Re-registering a class of the same module
    and name (a re-run notebook cell) replaces it; another class under a taken name is an
    error."""

    def wrap(cls):
        key = _key(name)
        old = METHODS.get(key)
        if old is not None and old is not cls and (old.__module__, old.__qualname__) != (
                cls.__module__, cls.__qualname__):
            raise ValueError(f"method name {name!r} is already registered by "
                             f"{old.__module__}.{old.__qualname__}")
        cls.name = key
        METHODS[key] = cls
        return cls

    return wrap


def get_method(name: str) -> type:
    key = _key(name)
    if key not in METHODS:
        close = difflib.get_close_matches(key, sorted(METHODS), n=3, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown method {name!r}.{hint} Known methods: {', '.join(sorted(METHODS))}")
    return METHODS[key]


def build_method(name: str, in_channels: int, **config):
    return get_method(name).from_config(in_channels, **config)
