import math

import numpy as np
import pytest

from graphssl.checks import (check_int, check_non_negative, check_non_negative_int, check_number,
                             check_positive, check_positive_int, check_probability,
                             is_finite_number)


def test_check_int_accepts_python_and_numpy_integers():
    for value in (3, np.int64(3), np.int32(3), np.uint8(3)):
        out = check_int("k", value, 1)
        assert out == 3 and type(out) is int
    assert check_int("k", -5) == -5  # no minimum


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 2.0, 2.5, "2", None])
def test_check_int_rejects_non_integers(value):
    with pytest.raises(ValueError, match=f"k must be an integer >= 1, got {value!r}"):
        check_int("k", value, 1)
    with pytest.raises(ValueError, match=r"k must be an integer, got"):
        check_int("k", value)


def test_check_int_minimum():
    assert check_int("k", 2, 2) == 2
    with pytest.raises(ValueError, match="k must be >= 2, got 1"):
        check_int("k", 1, 2)


@pytest.mark.parametrize("check, low, what", [(check_positive_int, 1, "a positive integer"),
                                              (check_non_negative_int, 0,
                                               "a non-negative integer")])
def test_positive_and_non_negative_int(check, low, what):
    assert check("n", low) == low and type(check("n", np.int64(low))) is int
    for bad in (low - 1, True, 1.0, "1", None):
        with pytest.raises(ValueError, match=f"n must be {what}, got {bad!r}"):
            check("n", bad)


def test_check_number_returns_float_and_accepts_numpy():
    for value in (2, 2.0, np.float32(2.0), np.int64(2)):
        out = check_number("x", value)
        assert out == 2.0 and type(out) is float


@pytest.mark.parametrize("value", [True, False, "1", None, [1.0], float("nan"), float("inf"),
                                   -math.inf, np.float64("nan")])
def test_check_number_rejects_bools_non_numbers_and_non_finite(value):
    with pytest.raises(ValueError, match=r"x must be a finite number, got"):
        check_number("x", value)


@pytest.mark.parametrize("kwargs, ok, bad, message", [
    (dict(low=0, high=1), (0, 0.5, 1), (-0.1, 1.1), r"x must be in \[0, 1\], got"),
    (dict(low=0, high=1, high_open=True), (0, 0.999), (1, 1.0), r"x must be in \[0, 1\), got"),
    (dict(low=0, high=1, low_open=True), (1e-9, 1), (0, 0.0), r"x must be in \(0, 1\], got"),
    (dict(low=0, high=1, low_open=True, high_open=True), (0.5,), (0, 1),
     r"x must be in \(0, 1\), got"),
    (dict(low=0), (0, 5), (-1e-9,), "x must be >= 0, got"),
    (dict(low=0, low_open=True), (1e-9,), (0, -1), "x must be > 0, got"),
    (dict(high=2.5), (2.5, -3), (2.6,), "x must be <= 2.5, got"),
    (dict(high=2.5, high_open=True), (2.4,), (2.5,), "x must be < 2.5, got"),
])
def test_check_number_bounds(kwargs, ok, bad, message):
    for value in ok:
        assert check_number("x", value, **kwargs) == float(value)
    for value in bad:
        with pytest.raises(ValueError, match=f"{message} {value!r}"):
            check_number("x", value, **kwargs)


def test_one_sided_bound_message_says_finite_for_infinity():
    with pytest.raises(ValueError, match="x must be a finite number > 0, got inf"):
        check_positive("x", float("inf"))
    with pytest.raises(ValueError, match="x must be > 0, got nan"):
        check_positive("x", float("nan"))
    with pytest.raises(ValueError, match=r"x must be in \[0, 1\], got inf"):
        check_number("x", float("inf"), low=0, high=1)


def test_conveniences():
    assert check_positive("t", 0.5) == 0.5
    assert check_non_negative("w", 0) == 0.0 and type(check_non_negative("w", 0)) is float
    assert check_probability("p", 1) == 1.0 and check_probability("p", 0) == 0.0
    for check, bad, message in [(check_positive, 0, "t must be > 0, got 0"),
                                (check_positive, True, "t must be > 0, got True"),
                                (check_non_negative, -1, "t must be >= 0, got -1"),
                                (check_non_negative, "0", "t must be >= 0, got '0'"),
                                (check_probability, 1.5, r"t must be a probability in \[0, 1\], "
                                                         r"got 1.5"),
                                (check_probability, float("nan"), "probability.*got nan"),
                                (check_probability, False, "probability.*got False")]:
        with pytest.raises(ValueError, match=message):
            check("t", bad)


def test_is_finite_number():
    assert is_finite_number(1) and is_finite_number(np.float32(0.5))
    assert not any(map(is_finite_number, (True, float("nan"), float("inf"), "1", None)))
