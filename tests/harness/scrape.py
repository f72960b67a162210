"""One ``/metrics`` scrape, parsed by ``prometheus_client.parser``, with sample lookups."""

from __future__ import annotations

import re
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from harness.common import REPO


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


class Scrape:
    """The samples of a text exposition, looked up by sample name and labels.

    Names are sample names as exposed (``sensord_frames_total``, ``..._bucket``).
    :meth:`value` wants exactly one series with exactly the given labels; :meth:`total` sums
    every series whose labels include the given ones.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [
            Sample(s.name, dict(s.labels), s.value)
            for family in text_string_to_metric_families(text)
            for s in family.samples
        ]

    def series(self, name: str, **labels: str) -> list[Sample]:
        """The samples of ``name`` whose labels include ``labels``."""
        return [
            s
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]

    def value(self, name: str, **labels: str) -> float:
        """The value of the one sample ``name`` with exactly ``labels``; KeyError if none."""
        for s in self.samples:
            if s.name == name and s.labels == labels:
                return s.value
        raise KeyError(f"{name}{labels}")

    def get(self, name: str, default: float, **labels: str) -> float:
        """:meth:`value`, or ``default`` when there is no such sample."""
        try:
            return self.value(name, **labels)
        except KeyError:
            return default

    def has(self, name: str, **labels: str) -> bool:
        """Whether some sample of ``name`` has labels including ``labels``."""
        return bool(self.series(name, **labels))

    def total(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` whose labels include ``labels`` (0 if none)."""
        return sum(s.value for s in self.series(name, **labels))

    def label_values(self, label: str, name: str | None = None) -> set[str]:
        """Every value of ``label`` in the scrape (in the samples of ``name``, if given)."""
        return {
            s.labels[label]
            for s in self.samples
            if label in s.labels and (name is None or s.name == name)
        }

    def sensors(self) -> set[str]:
        """The sensors that have any series."""
        return self.label_values("sensor")


def quick_value(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` with exactly ``labels`` in a text exposition, found by
    string search, or None when there is none.

    A probe that asks ``/metrics`` again and again to see a value appear cannot parse each
    answer whole (``Scrape`` takes about 0.1 s for 64 sensors on a slow host): the time it
    spent parsing would count as latency. Label values must not hold ``"``, ``\\``, a comma or
    a newline (no escapes are read); the value is parsed with ``float`` (``+Inf``, ``NaN``).
    """
    head = f"\n{name}{{" if labels else f"\n{name} "
    wanted = sorted(f'{key}="{value}"' for key, value in labels.items())
    at = 0
    body = "\n" + text
    while True:
        at = body.find(head, at)
        if at < 0:
            return None
        end = body.find("\n", at + 1)
        line = body[at + 1 : end if end >= 0 else len(body)]
        at = end if end >= 0 else len(body)
        if labels:
            close = line.find("} ")
            if close < 0:
                continue
            found = sorted(line[len(name) + 1 : close].split(","))
            rest = line[close + 2 :]
        else:
            found = []
            rest = line[len(name) + 1 :]
        if found == wanted:
            return float(rest.split(" ", 1)[0])


def metrics_read_by_rules() -> set[str]:
    """The exported metric names monitoring/'s rule files read (recording rules' own names
    excluded)."""
    text = (REPO / "monitoring" / "rules.yml").read_text()
    text += (REPO / "monitoring" / "alerts.yml").read_text()
    return set(re.findall(r"(?<![:\w])(sensord_[a-z_]+)", text))
