"""Scalar argument checks shared across graphssl: each returns the value (as float or int) or
raises ValueError naming the parameter and the bad value."""
from __future__ import annotations

import math
import numbers

__all__ = ["check_int", "check_positive_int", "check_non_negative_int", "check_number",
           "check_positive", "check_non_negative", "check_probability", "is_finite_number"]


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_finite_number(value) -> bool:
    """Whether ``value`` is a finite real number (Python or NumPy), not a ``bool``."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) \
        and math.isfinite(value)


def check_int(name: str, value, minimum: int | None = None) -> int:
    """An integer (``int`` or NumPy integer, not ``bool``), at least ``minimum`` if given."""
    if not _is_int(value):
        bound = "" if minimum is None else f" >= {minimum}"
        raise ValueError(f"{name} must be an integer{bound}, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def _check_int_from(name: str, value, minimum: int, what: str) -> int:
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_positive_int(name: str, value) -> int:
    """An integer ``>= 1`` (``int`` or NumPy integer, not ``bool``)."""
    return _check_int_from(name, value, 1, "a positive integer")


def check_non_negative_int(name: str, value) -> int:
    """An integer ``>= 0`` (``int`` or NumPy integer, not ``bool``), e.g. a seed."""
    return _check_int_from(name, value, 0, "a non-negative integer")


def _bounds(value, low, high, low_open: bool, high_open: bool) -> str:
    """The rule as the error message states it: ``in [0, 1)``, ``> 0``, ``<= 5``, ..."""
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        rule = f"{'>' if low_open else '>='} {low:g}"
    elif high is not None:
        rule = f"{'<' if high_open else '<='} {high:g}"
    else:
        return "a finite number"
    # "> 0, got inf" would read as a contradiction
    infinite = isinstance(value, numbers.Real) and math.isinf(value)
    return f"a finite number {rule}" if infinite else rule


def check_number(name: str, value, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number (not ``bool``) with ``low <= value <= high`` (``<`` on a side that
    is open; no bound where it is ``None``), as a float.

    The error states the rule: ``"p must be in [0, 1), got 1.0"``,
    ``"eps must be > 0, got 0"``.
    """
    ok = is_finite_number(value) \
        and (low is None or (value > low if low_open else value >= low)) \
        and (high is None or (value < high if high_open else value <= high))
    if not ok:
        rule = _bounds(value, low, high, low_open, high_open)
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return float(value)


def check_positive(name: str, value) -> float:
    """A finite number ``> 0``, as a float."""
    return check_number(name, value, low=0, low_open=True)


def check_non_negative(name: str, value) -> float:
    """A finite number ``>= 0``, as a float."""
    return check_number(name, value, low=0)


def check_probability(name: str, value) -> float:
    """A number in ``[0, 1]``, as a float."""
    if not is_finite_number(value) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)
