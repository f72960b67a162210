"""sensord.retry: backoff ceilings, full jitter, and the retry state a loop schedules with.
Nothing sleeps: the clock is a number the tests pass in."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.retry import Backoff, Retry

NO_JITTER = Backoff(initial_s=0.5, max_s=4.0, multiplier=2.0, jitter=False)


def test_failures_double_the_delay_up_to_the_cap() -> None:
    retry = Retry(NO_JITTER)
    now = 1000.0
    delays = []
    for _ in range(6):
        delay = retry.failed(now)
        assert retry.next_at == now + delay
        assert not retry.due(now)
        assert not retry.due(retry.next_at - 1e-6)
        assert retry.due(retry.next_at)
        delays.append(delay)
        now = retry.next_at
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert retry.failures == 6


def test_success_starts_the_next_failure_from_the_initial_delay() -> None:
    retry = Retry(NO_JITTER)
    for _ in range(4):
        retry.failed(0.0)
    retry.succeeded()
    assert retry.failures == 0
    assert retry.failed(10.0) == 0.5


def test_an_end_that_is_no_failure_is_retried_at_once_and_starts_the_backoff_over() -> None:
    retry = Retry(NO_JITTER)
    for _ in range(4):
        retry.failed(0.0)
    retry.again(10.0)
    assert (retry.failures, retry.next_at) == (0, 10.0)
    assert retry.due(10.0)
    assert retry.failed(10.0) == 0.5


def test_a_new_retry_is_due_at_once() -> None:
    assert Retry(NO_JITTER).due(0.0)


def test_retry_uses_the_injected_rng_for_jitter() -> None:
    backoff = Backoff(initial_s=1.0, max_s=60.0)
    runs = []
    for _ in range(2):
        retry = Retry(backoff, random.Random(7))
        runs.append([retry.failed(0.0) for _ in range(5)])
    assert runs[0] == runs[1]
    assert all(0.0 <= d <= backoff.ceiling(i) for i, d in enumerate(runs[0], start=1))
    assert len(set(runs[0])) == 5


def test_ceilings_start_at_initial_double_and_stop_at_the_cap() -> None:
    backoff = Backoff(initial_s=0.5, max_s=30.0, multiplier=2.0)
    assert [backoff.ceiling(a) for a in range(1, 10)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        30.0,
        30.0,
        30.0,
    ]
    assert backoff.ceiling(0) == 0.5  # attempts before the first count as the first
    assert backoff.ceiling(10**9) == 30.0


def test_a_slow_multiplier_still_reaches_the_cap() -> None:
    backoff = Backoff(initial_s=0.5, max_s=30.0, multiplier=1.05)
    ceilings = [backoff.ceiling(a) for a in range(1, 200)]
    assert ceilings == sorted(ceilings)
    assert ceilings[-1] == 30.0
    assert backoff.ceiling(84) < 30.0 <= backoff.ceiling(85)  # 0.5 * 1.05**84 >= 30


def test_a_huge_multiplier_caps_instead_of_overflowing() -> None:
    backoff = Backoff(initial_s=1.0, max_s=10.0, multiplier=1e10)
    assert backoff.ceiling(2) == 10.0
    assert backoff.ceiling(1000) == 10.0


def test_multiplier_one_is_a_constant_delay() -> None:
    backoff = Backoff(initial_s=2.0, max_s=5.0, multiplier=1.0, jitter=False)
    assert {backoff.delay(a) for a in range(1, 50)} == {2.0}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial_s": 0.0}, "need 0 < initial_s <= max_s"),
        ({"initial_s": -1.0}, "need 0 < initial_s <= max_s"),
        ({"initial_s": 5.0, "max_s": 1.0}, "need 0 < initial_s <= max_s"),
        ({"multiplier": 0.5}, "multiplier must be >= 1"),
    ],
)
def test_invalid_backoff_is_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    attempt=st.integers(min_value=1, max_value=80),
    initial_s=st.floats(min_value=0.01, max_value=5.0),
    extra_s=st.floats(min_value=0.0, max_value=100.0),
    multiplier=st.floats(min_value=1.0, max_value=4.0),
)
def test_full_jitter_stays_within_zero_and_the_ceiling(
    seed: int, attempt: int, initial_s: float, extra_s: float, multiplier: float
) -> None:
    backoff = Backoff(initial_s=initial_s, max_s=initial_s + extra_s, multiplier=multiplier)
    ceiling = backoff.ceiling(attempt)
    assert initial_s <= ceiling <= initial_s + extra_s
    delay = backoff.delay(attempt, random.Random(seed))
    assert 0.0 <= delay <= ceiling


def test_jitter_is_reproducible_with_a_seeded_rng_and_spreads_over_the_range() -> None:
    backoff = Backoff(initial_s=1.0, max_s=8.0)
    first = [backoff.delay(a, random.Random(42)) for a in range(1, 6)]
    again = [backoff.delay(a, random.Random(42)) for a in range(1, 6)]
    assert first == again
    rng = random.Random(1)
    delays = [backoff.delay(4, rng) for _ in range(2000)]
    assert 0.0 <= min(delays) < 0.5
    assert 7.5 < max(delays) <= 8.0
    assert sum(delays) / len(delays) == pytest.approx(4.0, rel=0.1)  # uniform: mean = ceiling/2
