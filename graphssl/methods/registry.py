"""Methods by name: ``build_method('grace', in_channels, **config)``."""
from __future__ import annotations

import difflib

METHODS: dict[str, type] = {}


def register_method(name: str):
    """Class decorator registering a :class:`~graphssl.methods.Method` under ``name``."""

    def wrap(cls):
        key = name.lower()
        if key in METHODS and METHODS[key] is not cls:
            raise ValueError(f"method name {name!r} is already registered by "
                             f"{METHODS[key].__name__}")
        cls.name = key
        METHODS[key] = cls
        return cls

    return wrap


def get_method(name: str) -> type:
    key = str(name).lower().replace("_", "-")
    if key not in METHODS:
        close = difflib.get_close_matches(key, sorted(METHODS), n=3, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown method {name!r}.{hint} Known methods: {', '.join(sorted(METHODS))}")
    return METHODS[key]


def build_method(name: str, in_channels: int, **config):
    return get_method(name).from_config(in_channels, **config)
