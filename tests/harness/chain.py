"""Driving stage chains in tests: the lazily composed stream of a chain, a batch into a sink,
and the smallest run a ``PipelineContext`` owns (a source through stages into a sink)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sensord.normalize import Normalize
from sensord.pipeline import Chain, PipelineContext
from sensord.stage import StepCounters
from sensord.types import Reading, WindowStats
from sensord.window import Window


def normalized(stage: Normalize, value: float) -> float:
    """``value`` through a copy of the normalize stage (the stage's own counters are left
    alone); NaN when the stage drops it."""
    out = list(copy.deepcopy(stage).process([Reading("s", "c", value, 0.0, 0.0)]))
    return float(out[0].value) if out else math.nan


def add(window: Window, value: float, at_s: float) -> WindowStats:
    """One reading of ``value`` at monotonic time ``at_s`` through the window stage; its
    statistics."""
    (stats,) = window.process([Reading("s", "c", value, at_s, 0.0)])
    assert isinstance(stats, WindowStats)
    return stats


def compose(stages: Sequence[StepCounters], stream: Iterable[Any]) -> list[Iterator[Any]]:
    """Each stage's generator over the previous one's output, upstream first."""
    generators: list[Iterator[Any]] = []
    for stage in stages:
        stream = stage.process(stream)
        generators.append(iter(stream))
    return generators


def close_all(generators: Sequence[Iterator[Any]]) -> None:
    """Close every generator, downstream first, so each stage settles its counters now."""
    for generator in reversed(generators):
        close = getattr(generator, "close", None)
        if close is not None:
            close()


def process(chain: Chain, stream: Iterable[Any]) -> Iterator[Any]:
    """The chain's output over ``stream``, lazily: nothing moves until it is iterated."""
    return compose(chain.stages, stream)[-1]


def run(chain: Chain, batch: Iterable[Any], sink: Callable[[Any], None]) -> None:
    """Push one batch through every stage into ``sink``; on an error every stage settles."""
    generators = compose(chain.stages, batch)
    try:
        for record in generators[-1]:
            sink(record)
    except BaseException:
        close_all(generators)
        raise


class MiniRun:
    """A source through stages into a sink, owned by a ``PipelineContext`` as the daemon's
    resources are: the source is entered into the context, the summary counts the records
    delivered and the stages' drops."""

    def __init__(self, name: str = "pipeline") -> None:
        self.stages: list[StepCounters] = []
        self.delivered = 0
        self.ctx = PipelineContext(name, counts=self.counts)

    def counts(self) -> tuple[int, int]:
        return self.delivered, sum(stage.dropped_total for stage in self.stages)

    def run(
        self, source: Iterable[Any], stages: Sequence[StepCounters], sink: Callable[[Any], None]
    ) -> int:
        if isinstance(source, AbstractContextManager):
            source = self.ctx.enter(source)
        self.stages.extend(stages)
        generators = compose(stages, source) if stages else [iter(source)]
        delivered = 0
        try:
            for record in generators[-1]:
                sink(record)
                delivered += 1
        finally:
            self.delivered += delivered
            close_all(generators)
        return delivered
