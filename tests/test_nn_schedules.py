import math

import pytest

from spinlock_spec.nn.schedules import SCHEDULES, temperature_at


@pytest.mark.parametrize("kind,middle", [
    ("linear", 0.55),                       # 1 + (0.1 - 1) * 0.5
    ("exponential", math.sqrt(0.1)),        # geometric mean of 1 and 0.1
    ("cosine", 0.55),                       # cos(pi/2) = 0 -> halfway
])
def test_start_middle_end(kind, middle):
    n = 11                                  # epoch 5 is exactly the middle
    assert temperature_at(0, n, 1.0, 0.1, kind) == pytest.approx(1.0)
    assert temperature_at(5, n, 1.0, 0.1, kind) == pytest.approx(middle)
    assert temperature_at(10, n, 1.0, 0.1, kind) == pytest.approx(0.1)
    # clamped past the end, monotone in between
    assert temperature_at(50, n, 1.0, 0.1, kind) == pytest.approx(0.1)
    values = [temperature_at(e, n, 1.0, 0.1, kind) for e in range(n)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_cosine_is_slow_at_both_ends():
    assert temperature_at(1, 11, 1.0, 0.1, "cosine") > temperature_at(1, 11, 1.0, 0.1, "linear")
    assert temperature_at(9, 11, 1.0, 0.1, "cosine") < temperature_at(9, 11, 1.0, 0.1, "linear")


def test_single_epoch_and_errors():
    for kind in SCHEDULES:
        assert temperature_at(0, 1, 1.0, 0.3, kind) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="linear, exponential, cosine"):
        temperature_at(0, 10, 1.0, 0.1, "step")
    with pytest.raises(ValueError):
        temperature_at(0, 10, 1.0, 0.0, "exponential")
