"""sensord.retry: attempts, forever mode, backoff ceilings, full jitter, hooks. Nothing sleeps."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.errors import SourceBrokenError, SourceUnavailableError
from sensord.retry import Backoff, RetryState, retry


class FakeTime:
    """An injected clock and sleep: sleeping advances the clock and records the delay."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.stop_after = stop_after

    def clock(self) -> float:
        return self.now

    def sleep(self, delay_s: float) -> bool:
        self.sleeps.append(delay_s)
        self.now += delay_s
        return self.stop_after is not None and len(self.sleeps) >= self.stop_after


class Flaky:
    """Fails ``failures`` times with the given errors, then returns ``"ok"``."""

    def __init__(self, failures: int, error: type[Exception] = OSError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self, tag: str = "") -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"failure {self.calls}{tag}")
        return "ok" + tag


NO_JITTER = Backoff(initial_s=0.5, max_s=4.0, multiplier=2.0, jitter=False)


def test_succeeds_after_failures_with_doubling_delays() -> None:
    t = FakeTime()
    flaky = Flaky(4)
    call = retry(attempts=10, backoff=NO_JITTER, sleep=t.sleep, clock=t.clock)(flaky)
    assert call("!") == "ok!"
    assert flaky.calls == 5
    assert t.sleeps == [0.5, 1.0, 2.0, 4.0]


def test_the_last_error_is_raised_unchanged_after_all_attempts() -> None:
    t = FakeTime()
    flaky = Flaky(100)
    call = retry(attempts=3, backoff=NO_JITTER, sleep=t.sleep, clock=t.clock)(flaky)
    with pytest.raises(OSError, match=r"^failure 3$"):
        call()
    assert flaky.calls == 3
    assert t.sleeps == [0.5, 1.0]  # no wait after the last attempt


def test_one_attempt_means_no_retry() -> None:
    t = FakeTime()
    flaky = Flaky(1)
    with pytest.raises(OSError, match="failure 1"):
        retry(attempts=1, sleep=t.sleep, clock=t.clock)(flaky)()
    assert (flaky.calls, t.sleeps) == (1, [])


@pytest.mark.parametrize("attempts", [0, -3])
def test_attempts_must_be_positive(attempts: int) -> None:
    with pytest.raises(ValueError, match="attempts must be >= 1 or None"):
        retry(attempts=attempts)


def test_forever_retries_until_success() -> None:
    t = FakeTime()
    flaky = Flaky(50)
    call = retry(attempts=None, backoff=NO_JITTER, sleep=t.sleep, clock=t.clock)(flaky)
    assert call() == "ok"
    assert flaky.calls == 51
    assert t.sleeps[:4] == [0.5, 1.0, 2.0, 4.0]
    assert set(t.sleeps[3:]) == {4.0}  # held at the cap


def test_forever_stops_when_sleep_returns_true_and_raises_the_last_error() -> None:
    t = FakeTime(stop_after=3)
    flaky = Flaky(1000)
    call = retry(backoff=NO_JITTER, sleep=t.sleep, clock=t.clock)(flaky)
    with pytest.raises(OSError, match=r"^failure 3$"):
        call()
    assert flaky.calls == 3
    assert len(t.sleeps) == 3


def test_a_truthy_but_not_true_sleep_result_does_not_stop() -> None:
    """``time.sleep`` returns None, ``Event.wait`` returns a bool; only ``True`` stops."""
    flaky = Flaky(3)
    call = retry(backoff=NO_JITTER, sleep=lambda _: 1, clock=lambda: 0.0)(flaky)
    assert call() == "ok"
    assert flaky.calls == 4


def test_retry_on_filters_exception_types() -> None:
    t = FakeTime()
    only_unavailable = retry(
        attempts=5,
        backoff=NO_JITTER,
        retry_on=(SourceUnavailableError,),
        sleep=t.sleep,
        clock=t.clock,
    )

    def unavailable_twice() -> str:
        unavailable_twice.calls += 1  # type: ignore[attr-defined]
        if unavailable_twice.calls <= 2:  # type: ignore[attr-defined]
            raise SourceUnavailableError("boiler", "no such device")
        return "open"

    unavailable_twice.calls = 0  # type: ignore[attr-defined]
    assert only_unavailable(unavailable_twice)() == "open"
    assert t.sleeps == [0.5, 1.0]

    broken = Flaky(1, error=ValueError)
    with pytest.raises(ValueError, match="failure 1"):
        only_unavailable(broken)()
    assert broken.calls == 1  # not retried
    assert t.sleeps == [0.5, 1.0]


def test_subclasses_of_retry_on_are_retried_and_base_exceptions_pass() -> None:
    t = FakeTime()
    call_count = 0

    @retry(attempts=4, backoff=NO_JITTER, retry_on=(OSError,), sleep=t.sleep, clock=t.clock)
    def fn() -> int:
        nonlocal call_count
        call_count += 1
        if call_count == 1:
            raise ConnectionResetError("reset")  # an OSError subclass
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fn()
    assert call_count == 2
    assert t.sleeps == [0.5]


def test_on_retry_receives_attempt_delay_error_and_elapsed() -> None:
    t = FakeTime()
    seen: list[RetryState] = []
    flaky = Flaky(3)
    errors: list[BaseException] = []

    def on_retry(state: RetryState) -> None:
        seen.append(state)
        errors.append(state.error)

    def failing() -> str:
        try:
            return flaky()
        except Exception as exc:
            raise SourceBrokenError("boiler", str(exc)) from exc

    call = retry(attempts=5, backoff=NO_JITTER, on_retry=on_retry, sleep=t.sleep, clock=t.clock)(
        failing
    )
    assert call() == "ok"
    assert [s.attempt for s in seen] == [1, 2, 3]
    assert [s.delay_s for s in seen] == t.sleeps == [0.5, 1.0, 2.0]
    assert [s.elapsed_s for s in seen] == [0.0, 0.5, 1.5]  # the clock advanced by each sleep
    assert all(isinstance(e, SourceBrokenError) for e in errors)
    assert [str(e) for e in errors] == [
        "sensor 'boiler': failure 1",
        "sensor 'boiler': failure 2",
        "sensor 'boiler': failure 3",
    ]


def test_the_hook_is_called_before_the_wait() -> None:
    events: list[str] = []
    call = retry(
        attempts=2,
        backoff=NO_JITTER,
        on_retry=lambda s: events.append(f"hook {s.attempt}"),
        sleep=lambda d: events.append(f"sleep {d}"),
        clock=lambda: 0.0,
    )(Flaky(1))
    assert call() == "ok"
    assert events == ["hook 1", "sleep 0.5"]


def test_the_wrapper_keeps_the_name_and_arguments() -> None:
    @retry(attempts=2, sleep=lambda _: None)
    def add(a: int, b: int = 0) -> int:
        """Adds."""
        return a + b

    assert add(2, b=3) == 5
    assert add.__name__ == "add"
    assert add.__doc__ == "Adds."


# -- Backoff -------------------------------------------------------------------------------------


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


def test_retry_uses_the_injected_rng_for_jitter() -> None:
    backoff = Backoff(initial_s=1.0, max_s=60.0)
    runs = []
    for _ in range(2):
        t = FakeTime()
        call = retry(
            attempts=6, backoff=backoff, sleep=t.sleep, clock=t.clock, rng=random.Random(7)
        )(Flaky(5))
        assert call() == "ok"
        runs.append(t.sleeps)
    assert runs[0] == runs[1]
    assert all(0.0 <= d <= backoff.ceiling(i) for i, d in enumerate(runs[0], start=1))
    assert len(set(runs[0])) == 5
