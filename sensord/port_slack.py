"""How much later than its time on the wire the rest of a Modbus RTU frame begun may be read on
a port (:func:`port_slack`), from what sysfs tells of the port's adapter: the daemon's bus
(``Bus.piece_slack_s``) and ``sensord modbus read`` (:mod:`sensord.probe`) both wait so long
for the rest of an answer that came in pieces.

* An FTDI adapter's ``latency_timer`` file (1 to 255 ms): the chip holds what it received
  until its timer runs out (FTDI AN232B-04), so the rest comes that long and
  :data:`~sensord.modbus_timing.PIECE_MARGIN_S` after its wire time at most.
* A network port (``socket://``, ``rfc2217://``): a serial server's packets,
  :data:`~sensord.modbus_timing.NETWORK_SLACK_S`.
* Anything else (a UART of the board; a CH340, CP210x or PL2303 adapter, whose chip packs
  bytes as its firmware does and whose driver has no file for it; a tty sysfs does not know):
  :data:`~sensord.modbus_timing.ARRIVAL_SLACK_S`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sensord.modbus_timing import ARRIVAL_SLACK_S, adapter_slack_s
from sensord.ports import SYS_ROOT, adapter_facts

__all__ = ["PortSlack", "port_slack"]


@dataclass(frozen=True, slots=True)
class PortSlack:
    """How much later than its time on the wire the rest of a frame begun may be read on a
    port (``slack_s``), and what sysfs told of its adapter: the FTDI ``latency_timer`` read
    (None: none), and the sysfs ``file`` it came from."""

    slack_s: float
    latency_timer_ms: int | None = None
    file: str = ""

    def told(self) -> str | None:
        """What the slack comes from, in one line (None: ARRIVAL_SLACK_S, no adapter known)."""
        wait = f"waiting {self.slack_s * 1000:.0f} ms for an answer's pieces"
        if self.latency_timer_ms is not None:
            return f"FTDI latency_timer {self.latency_timer_ms} ms ({self.file}): {wait}"
        if self.slack_s != ARRIVAL_SLACK_S:
            return f"network port: {wait}"
        return None


def port_slack(port: str, char_s: float, *, network: bool, sys_root: str = SYS_ROOT) -> PortSlack:
    """The slack of ``port`` (a device path, links resolved; ``network``: a ``socket://`` or
    ``rfc2217://`` URL, which sysfs is not asked of) for a line whose characters take
    ``char_s``, read from the sysfs mounted at ``sys_root``: see the module's text."""
    if network:
        return PortSlack(adapter_slack_s(None, network=True))
    facts = adapter_facts(port, sys_root=sys_root)
    device = os.path.join(
        sys_root, "class", "tty", os.path.basename(os.path.realpath(port)), "device"
    )
    if facts.latency_timer_ms is not None:
        return PortSlack(
            adapter_slack_s(facts.latency_timer_ms, network=False),
            latency_timer_ms=facts.latency_timer_ms,
            file=os.path.join(device, "latency_timer"),
        )
    return PortSlack(ARRIVAL_SLACK_S)
