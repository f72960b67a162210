"""Per-step record accounting, checked against the counts a scenario implies.

Every pipeline step counts the records that went in, came out and were dropped, by reason
(``error``: the record was inside the step when it raised). ``in == out + sum(dropped)`` alone
cannot catch a step that loses a record without counting it, if the shortfall is booked as
``error``; so :func:`step_problems` also holds every reason to the count the caller expects:
the counts in ``dropped`` and zero for every reason not named there (``error`` included),
except reasons in ``unknown`` whose counts the scenario cannot know (a simulated device's
random spikes).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypedDict, Unpack

from harness.common import HarnessError
from harness.scrape import Scrape


@dataclass
class StepCounts:
    """The counters of one step (summed over channels)."""

    records_in: int = 0
    records_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)


class Stage(Protocol):
    """What a pipeline stage (``sensord``'s ``StepCounters``) exposes for accounting."""

    @property
    def step(self) -> str: ...
    @property
    def records_in(self) -> int: ...
    @property
    def records_out(self) -> int: ...
    @property
    def dropped(self) -> Mapping[str, int]: ...


def stage_steps(stages: Iterable[Stage]) -> dict[str, StepCounts]:
    """The counts of in-process stages by step (stages of the same step, one per channel,
    summed)."""
    steps: dict[str, StepCounts] = {}
    for stage in stages:
        counts = steps.setdefault(stage.step, StepCounts())
        counts.records_in += stage.records_in
        counts.records_out += stage.records_out
        for reason, n in stage.dropped.items():
            counts.dropped[reason] = counts.dropped.get(reason, 0) + n
    return steps


def scraped_steps(scrape: Scrape, sensor: str) -> dict[str, StepCounts]:
    """The counts of ``sensor``'s steps in a ``/metrics`` scrape; HarnessError when it has no
    step series."""
    steps: dict[str, StepCounts] = {}
    for s in scrape.samples:
        step = s.labels.get("step")
        if s.labels.get("sensor") != sensor or step is None:
            continue
        counts = steps.setdefault(step, StepCounts())
        if s.name == "sensord_step_records_in_total":
            counts.records_in += int(s.value)
        elif s.name == "sensord_step_records_out_total":
            counts.records_out += int(s.value)
        elif s.name == "sensord_step_dropped_total":
            reason = s.labels["reason"]
            counts.dropped[reason] = counts.dropped.get(reason, 0) + int(s.value)
    if not steps:
        raise HarnessError(f"no step series for sensor {sensor!r}")
    return steps


class Expected(TypedDict, total=False):
    """What a scenario implies about its steps (every key optional).

    ``dropped``: per step, the drops by reason (a reason not named: 0); ``records_in``: per
    step, the records that went in; ``unknown``: reasons whose counts are not held to a number.
    """

    dropped: Mapping[str, Mapping[str, int]]
    records_in: Mapping[str, int]
    unknown: Collection[str]


def step_problems(steps: Mapping[str, StepCounts], **expected: Unpack[Expected]) -> list[str]:
    """What is wrong with ``steps``, one line a problem (empty: all is as expected).

    Per step: ``in == out + sum(dropped)``; each drop reason equals ``dropped[step][reason]``
    (0 when not named; reasons in ``unknown`` are not held to a count); ``records_in[step]``
    when given. A step or reason named in the expectations that the counters do not have is a
    problem too.
    """
    expected_drops = expected.get("dropped", {})
    records_in = expected.get("records_in")
    unknown = expected.get("unknown", ())
    problems: list[str] = []
    for step in sorted({*expected_drops, *(records_in or {})} - set(steps)):
        problems.append(f"{step}: no such step (steps: {sorted(steps)})")
    for step, counts in steps.items():
        accounted = counts.records_out + sum(counts.dropped.values())
        if counts.records_in != accounted:
            problems.append(
                f"{step}: in {counts.records_in} != out {counts.records_out} + dropped "
                f"{counts.dropped}"
            )
        want = expected_drops.get(step, {})
        for reason in sorted(set(want) - set(counts.dropped)):
            problems.append(f"{step}: no drop reason {reason!r} (has {sorted(counts.dropped)})")
        for reason, n in sorted(counts.dropped.items()):
            if reason in unknown and reason not in want:
                continue
            if n != want.get(reason, 0):
                problems.append(
                    f"{step}: dropped[{reason!r}] == {n}, expected {want.get(reason, 0)}"
                )
        if records_in is not None and step in records_in and counts.records_in != records_in[step]:
            problems.append(f"{step}: in {counts.records_in}, expected {records_in[step]}")
    return problems


def assert_steps(
    steps: Mapping[str, StepCounts], what: str = "steps", **expected: Unpack[Expected]
) -> None:
    """HarnessError listing every :func:`step_problems` of ``steps``."""
    problems = step_problems(steps, **expected)
    if problems:
        raise HarnessError(f"{what}: " + "; ".join(problems))


def assert_sensor_steps(scrape: Scrape, sensor: str, **expected: Unpack[Expected]) -> None:
    """:func:`assert_steps` on ``sensor``'s steps in ``scrape``."""
    assert_steps(scraped_steps(scrape, sensor), f"sensor {sensor!r}", **expected)
