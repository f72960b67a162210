"""``harness.scrape.quick_value`` (the bench's latency probe) finds what ``Scrape`` parses."""

from __future__ import annotations

from harness.collector import RuntimesView
from harness.scrape import Scrape, quick_value

from sensord.config import parse_config
from sensord.export import MetricsRegistry
from sensord.sensor import SensorRuntime


def exposition() -> str:
    """The text exposition of a collector with two value sensors that read a few lines."""
    config = parse_config(
        "".join(
            f'[[sensors]]\nname = "{name}"\nport = "sim://{name}"\nformat = "value"\n'
            '[[sensors.channels]]\nname = "temperature"\n'
            for name in ("s0", "s00")
        )
    )
    runtimes = [SensorRuntime(sensor) for sensor in config.sensors]
    for i, runtime in enumerate(runtimes):
        runtime.state = "up"
        runtime.feed(f"{20 + i}.5\n21.25\nnot a number\n".encode())
    metrics = MetricsRegistry(RuntimesView(runtimes), "0", 0)
    body, _ = metrics.render(None)
    return body.decode()


def test_quick_value_finds_every_sample_scrape_parses() -> None:
    text = exposition()
    samples = Scrape(text).samples
    assert len(samples) > 50
    for sample in samples:
        assert quick_value(text, sample.name, **sample.labels) == sample.value, sample


def test_quick_value_wants_exactly_the_labels() -> None:
    text = exposition()
    labels = {"sensor": "s0", "channel": "temperature"}
    assert quick_value(text, "sensord_reading_value", **labels) == 21.25
    assert quick_value(text, "sensord_reading_value", sensor="s0") is None
    assert quick_value(text, "sensord_reading_value", sensor="s", channel="temperature") is None
    assert quick_value(text, "sensord_reading_valu", **labels) is None
    assert quick_value(text, "sensord_no_such_family") is None
