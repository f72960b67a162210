"""Throughput of the filter -> normalize -> window chain, in process.

Prints readings/s for bare and instrumented stages (interleaved A B A B, median of the
rounds), and the per-reading cost of window sizes 10 and 10,000. Run by hand:

    scripts/bench-stages [--readings N] [--rounds R]
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from sensord.export import make_step_histogram, step_timer
from sensord.pipeline import Chain
from sensord.types import Reading


def make_readings(n: int, seed: int = 1) -> list[Reading]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        value = 20.0 + 5.0 * math.sin(i / 50.0) + rng.gauss(0.0, 0.5)
        if i % 97 == 0:
            value = 500.0  # out of range: exercises the drop path
        out.append(Reading("bench", "t", value, i * 0.01, 1.7e9 + i * 0.01))
    return out


def build(window_size: int, instrumented: bool, sample_every: int) -> Chain:
    chain = Chain.build(
        filter_min=-40.0,
        filter_max=125.0,
        from_unit="celsius",
        to_unit="fahrenheit",
        window_size=window_size,
    )
    if instrumented:
        histogram = make_step_histogram(CollectorRegistry())
        chain.instrument(lambda step: step_timer(histogram, step, sample_every))
    return chain


def run_once(chain: Chain, readings: list[Reading], batch: int) -> float:
    """Seconds to push ``readings`` through ``chain`` in batches of ``batch``."""
    gc.collect()
    start = time.perf_counter()
    drain = chain.drain
    for i in range(0, len(readings), batch):
        drain(readings[i : i + batch])
    return time.perf_counter() - start


def measure(
    variants: dict[str, Callable[[], Chain]], readings: list[Reading], rounds: int, batch: int
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, factory in variants.items():  # interleaved, so drift hits every variant
            times[name].append(run_once(factory(), readings, batch))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=64, help="readings per batch (one chunk)")
    parser.add_argument("--sample-every", type=int, default=64)
    args = parser.parse_args()
    readings = make_readings(args.readings)
    n = len(readings)

    print(
        f"chain filter -> normalize -> window, {n} readings, batches of {args.batch}, "
        f"median of {args.rounds} interleaved rounds"
    )
    times = measure(
        {
            "bare": lambda: build(60, False, args.sample_every),
            "instrumented": lambda: build(60, True, args.sample_every),
        },
        readings,
        args.rounds,
        args.batch,
    )
    bare = statistics.median(times["bare"])
    inst = statistics.median(times["instrumented"])
    print(f"  {'variant':<34} {'readings/s':>12} {'us/reading':>11} {'range (readings/s)':>24}")
    for name, values in times.items():
        med = statistics.median(values)
        lo, hi = n / max(values), n / min(values)
        print(f"  {name:<34} {n / med:>12,.0f} {med / n * 1e6:>11.3f} {lo:>11,.0f} - {hi:<11,.0f}")
    print(
        f"  instrumented keeps {bare / inst:.1%} of bare throughput "
        f"(1 record in {args.sample_every} timed)"
    )

    print("\nwindow size: per-reading cost of the whole chain")
    sizes = measure(
        {
            "window size 10": lambda: build(10, False, 1),
            "window size 10000": lambda: build(10_000, False, 1),
        },
        readings,
        args.rounds,
        args.batch,
    )
    for name, values in sizes.items():
        med = statistics.median(values)
        print(f"  {name:<34} {med / n * 1e6:>8.3f} us/reading  ({n / med:,.0f} readings/s)")
    ratio = statistics.median(sizes["window size 10000"]) / statistics.median(
        sizes["window size 10"]
    )
    print(f"  size 10000 / size 10 = {ratio:.2f}x (O(1) per reading: close to 1)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
