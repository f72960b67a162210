"""Retry with exponential backoff and full jitter.

``Backoff`` computes delays; ``@retry(...)`` wraps a callable in a retry loop for blocking call
sites (such as the reader thread of a port without a selectable file descriptor). The
selector-driven reconnect in ``sensord.daemon`` schedules its reopen attempts with the same
``Backoff`` instead of sleeping.

Full jitter (a uniform delay in ``[0, min(cap, initial * multiplier**(attempt-1))]``) keeps
many sensors that failed together from retrying in lock-step.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

__all__ = ["Backoff", "RetryState", "retry"]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Backoff:
    initial_s: float = 0.5
    max_s: float = 30.0
    multiplier: float = 2.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError(f"need 0 < initial_s <= max_s, got {self.initial_s}, {self.max_s}")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier}")

    def ceiling(self, attempt: int) -> float:
        """The largest delay before retry number ``attempt`` (1-based)."""
        try:
            grown = self.initial_s * self.multiplier ** max(attempt - 1, 0)
        except OverflowError:  # far beyond the cap
            return self.max_s
        return min(self.max_s, grown)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        cap = self.ceiling(attempt)
        if not self.jitter:
            return cap
        return (rng or _rng).uniform(0.0, cap)


_rng = random.Random()


@dataclass(frozen=True, slots=True)
class RetryState:
    """What an ``on_retry`` hook learns before each wait."""

    attempt: int  # the attempt that just failed, 1-based
    delay_s: float  # the wait before the next attempt
    error: BaseException
    elapsed_s: float


def retry(
    *,
    attempts: int | None = None,
    backoff: Backoff = Backoff(),
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    on_retry: Callable[[RetryState], None] | None = None,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Retry the decorated callable when it raises one of ``retry_on``.

    ``attempts`` is the total number of calls (None: retry forever). After the last attempt the
    error is raised unchanged. ``sleep`` may return True to stop retrying early (for example
    ``threading.Event().wait`` on a stop event); the last error is then raised. Other
    exceptions pass through at once.
    """
    if attempts is not None and attempts < 1:
        raise ValueError(f"attempts must be >= 1 or None, got {attempts}")

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            started = clock()
            attempt = 0
            while True:
                attempt += 1
                try:
                    return fn(*args, **kwargs)
                except retry_on as error:
                    if attempts is not None and attempt >= attempts:
                        raise
                    delay = backoff.delay(attempt, rng)
                    if on_retry is not None:
                        on_retry(RetryState(attempt, delay, error, clock() - started))
                    if sleep(delay) is True:
                        raise

        return wrapper

    return decorate
