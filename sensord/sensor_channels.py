"""A sensor's channels: each one's chain and the values of the chunk under way
(``ChannelRuntime``), the chain built from a channel's keys (``new_channel``), and which
changes of a sensor's configuration its channels take with the port open (``CHAIN_KEYS``,
``retunes_to``; ``SensorRuntime.retune`` takes them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sensord.config_sensor import SensorConfig
from sensord.config_tables import ChannelConfig
from sensord.pipeline import Chain
from sensord.stage import StepTimer

__all__ = ["CHAIN_KEYS", "ChannelRuntime", "new_channel", "retunes_to"]

#: A channel's keys that shape only what its chain makes of its readings: a reload that
#: changes only these (and ``stale_after_s``) takes them with the port open
#: (``SensorRuntime.retune``).
CHAIN_KEYS = frozenset({"filter", "normalize", "window"})


@dataclass
class ChannelRuntime:
    name: str
    chain: Chain
    #: the channel's values of the chunk being processed (they share its timestamps)
    values: list[float] = field(default_factory=list)
    #: the readings its window had taken when the device last marked its value as not
    #: measured; -1: never
    unavailable_at: int = -1
    #: a mark made while values of the chunk wait (``values``): how many came before it,
    #: drained before the mark is taken (``SensorRuntime._drain``); -1: none
    marked_after: int = -1

    def mark_unavailable(self) -> None:
        """The device marked the channel's value as not measured: it has no current value
        until a reading comes (one the filter drops is none)."""
        if self.values:
            self.marked_after = len(self.values)  # taken once those before it are drained
        else:
            self.take_mark()

    def take_mark(self) -> None:
        window = self.chain.window
        self.unavailable_at = window.records_in if window is not None else -1
        self.marked_after = -1

    @property
    def available(self) -> bool:
        """False while no reading came since the device last marked its value as not
        measured."""
        if self.unavailable_at < 0:
            return True
        window = self.chain.window
        return window is None or window.records_in > self.unavailable_at


def new_channel(ch: ChannelConfig, timer_for: Callable[[str], StepTimer] | None) -> ChannelRuntime:
    chain = Chain.build(
        filter_min=ch.filter.min,
        filter_max=ch.filter.max,
        scale=ch.normalize.scale,
        offset=ch.normalize.offset,
        from_unit=ch.normalize.from_unit,
        to_unit=ch.normalize.to_unit,
        range_min=ch.normalize.range_min,
        range_max=ch.normalize.range_max,
        clamp=ch.normalize.clamp,
        window_size=ch.window.size,
        window_time_s=ch.window.time_s,
    )
    if timer_for is not None:
        chain.instrument(timer_for)
    return ChannelRuntime(ch.name, chain)


def retunes_to(current: SensorConfig, config: SensorConfig, *, simulated: bool) -> bool:
    """Whether ``config`` differs from the sensor's only in what is done with its data,
    which ``retune`` applies with the port open (:data:`CHAIN_KEYS` of its channels,
    ``stale_after_s``; and, of a sensor that reads no simulation and is no Modbus device,
    channels added, removed or put in another order). Any other key restarts it: the
    port, its serial settings, the format with its parse and frame keys, polls, set-up
    commands, the warm-up, reconnects, the simulation and the channels' ``signal`` (of a
    simulated sensor, also a filter its signal follows), a Modbus device with its
    registers, and a channel's ``field`` or ``units``."""
    old, new = current.as_dict(), config.as_dict()
    del old["stale_after_s"], new["stale_after_s"]
    old_read, new_read = _read_keys(old.pop("channels")), _read_keys(new.pop("channels"))
    if old != new:
        return False
    # a channel's signal without its center or amplitude follows its filter's bounds: the
    # simulation that sends it is made anew, as at a start with the file
    if simulated and config.signal_specs() != current.signal_specs():
        return False
    if old_read == new_read:
        return True
    # the parser reads the channels' fields; a simulation sends them, a bus reads them
    if simulated or config.is_modbus:
        return False
    kept = dict(old_read)
    return all(kept[name] == keys for name, keys in new_read if name in kept)


def _read_keys(channels: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Each channel's name and its keys but :data:`CHAIN_KEYS`: what reads its value."""
    return [
        (channel["name"], {k: v for k, v in channel.items() if k not in CHAIN_KEYS})
        for channel in channels
    ]
