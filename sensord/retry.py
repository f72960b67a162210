"""Retry with exponential backoff and full jitter, without ever blocking the loop.

``Backoff`` is the policy: the delay before retry number ``n``. ``Retry`` is the state of one
thing being retried on a loop (a sensor's port, a worker process): it counts consecutive
failures, schedules the next attempt with its backoff, and says when an attempt is due, so the
loop sets a timer instead of sleeping. The reconnect of every sensor (``sensord.sensor``) and
the restart of every ``--workers`` worker (``sensord.workers``) are retried through it.

Full jitter (a uniform delay in ``[0, min(cap, initial * multiplier**(attempt-1))]``) keeps
many sensors that failed together from retrying in lock-step.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["Backoff", "Retry"]


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

    def delay(
        self, attempt: int, rng: random.Random | None = None, within_s: float = math.inf
    ) -> float:
        """The delay before retry number ``attempt``, of ``within_s`` at most."""
        cap = min(self.ceiling(attempt), within_s)
        if not self.jitter:
            return cap
        return (rng or _rng).uniform(0.0, cap)


_rng = random.Random()


class Retry:
    """The retry state of one thing on a loop: see the module docstring."""

    __slots__ = ("backoff", "failures", "next_at", "rng")

    def __init__(self, backoff: Backoff, rng: random.Random | None = None) -> None:
        self.backoff = backoff
        self.rng = rng
        #: consecutive failures since the last success
        self.failures = 0
        #: when the next attempt is due (on the caller's clock); 0: at once
        self.next_at = 0.0

    def failed(self, now: float, within_s: float = math.inf) -> float:
        """Count a failure at ``now`` and schedule the next attempt, ``within_s`` at most
        (the jitter drawn below that); the delay until it."""
        self.failures += 1
        delay = self.backoff.delay(self.failures, self.rng, within_s)
        self.next_at = now + delay
        return delay

    def succeeded(self) -> None:
        """The attempt worked: the next failure starts from the initial delay again."""
        self.failures = 0

    def again(self, now: float) -> None:
        """The thing ended at ``now`` without failing (a connection its server closed after
        serving it): the next attempt at once, and the backoff from its start."""
        self.failures = 0
        self.next_at = now

    def due(self, now: float) -> bool:
        return now >= self.next_at
