from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from processors.detectors.base import z_score

ANY = st.floats(allow_nan=True, allow_infinity=True)


@given(ANY, ANY, ANY, ANY)
def test_z_score_is_the_formula_it_replaced(
    value: float, mean: float, variance: float, floor: float
) -> None:
    try:
        expected = (value - mean) / max(math.sqrt(max(variance, 0.0)), floor)
    except ZeroDivisionError:
        expected = None
    try:
        got = z_score(value, mean, variance, floor)
    except ZeroDivisionError:
        got = None
    if expected is None or got is None:
        assert expected is got
    else:
        assert got == expected or (math.isnan(got) and math.isnan(expected))
