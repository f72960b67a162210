"""How much later than its time on the wire the rest of a Modbus RTU frame begun may be read on
a port (:func:`port_slack`), from what sysfs tells of the port's adapter: the daemon's bus
(``Bus.piece_slack_s``) and ``sensord modbus read`` (:mod:`sensord.probe`) both wait so long
for the rest of an answer that came in pieces.

* An FTDI adapter's ``latency_timer`` file (1 to 255 ms): the chip holds what it received
  until its timer runs out (FTDI AN232B-04), so the rest comes that long and
  :data:`~sensord.modbus_timing.PIECE_MARGIN_S` after its wire time at most.
* A UART of the board or a PCI card (a tty whose sysfs device has no USB device above it,
  bound to one of :data:`UART_DRIVERS`): the chip's receive FIFO hands bytes that stay under
  its trigger level over once the line has been idle for its receive timeout, at most
  :data:`~sensord.modbus_timing.UART_TIMEOUT_CHARS` character times
  (:func:`~sensord.modbus_timing.uart_slack_s`); no latency timer holds them.
* A network port (``socket://``, ``rfc2217://``): a serial server's packets,
  :data:`~sensord.modbus_timing.NETWORK_SLACK_S`.
* An FTDI adapter whose ``latency_timer`` cannot be read or holds no timer of 1 to 255 ms
  (:data:`MAX_LATENCY_TIMER_MS`): :data:`~sensord.modbus_timing.ARRIVAL_SLACK_S`, above the
  default 16 ms, and why (``unread``), which the bus logs and the probe prints.
* Anything else (a CH340, CP210x or PL2303 adapter, whose chip packs
  bytes as its firmware does and whose driver has no file for it; a tty sysfs does not know):
  :data:`~sensord.modbus_timing.ARRIVAL_SLACK_S`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sensord.modbus_timing import ARRIVAL_SLACK_S, adapter_slack_s, uart_slack_s
from sensord.ports import SYS_ROOT, adapter_facts

__all__ = ["MAX_LATENCY_TIMER_MS", "UART_DRIVERS", "PortSlack", "port_slack"]

#: The longest latency timer an FTDI chip takes (AN232B-04: 1 to 255 ms; ftdi_sio stores it
#: in a byte).
MAX_LATENCY_TIMER_MS = 255

#: The Linux drivers of UARTs with a receive FIFO and a receive timeout, by the name sysfs
#: gives their driver link: the 8250 family (``serial8250`` for the legacy and platform ports,
#: ``serial`` for PNP and PCI ones, ``of_serial`` for those of a device tree, ``dw-apb-uart``
#: for DesignWare's 16550 of Allwinner (sunxi), Rockchip and Intel boards,
#: ``bcm2835-aux-uart`` for the Raspberry Pi's mini UART), ARM's PL011 (``uart-pl011``, the
#: Raspberry Pi's ttyAMA0, and ``sbsa-uart``), and NXP's i.MX UART (``IMX-uart``, ttymxc).
UART_DRIVERS = frozenset(
    {
        "serial8250",
        "serial",
        "of_serial",
        "dw-apb-uart",
        "bcm2835-aux-uart",
        "uart-pl011",
        "sbsa-uart",
        "IMX-uart",
    }
)


@dataclass(frozen=True, slots=True)
class PortSlack:
    """How much later than its time on the wire the rest of a frame begun may be read on a
    port (``slack_s``), and what sysfs told of its adapter: the FTDI ``latency_timer`` read
    (None: none) or the ``driver`` of a UART (""), the sysfs ``file`` it came from (a
    UART's: its tty's ``device``), and why an FTDI adapter's ``latency_timer`` file told no
    timer (``unread``: its error or its text; "" when it did or there is none)."""

    slack_s: float
    latency_timer_ms: int | None = None
    driver: str = ""
    file: str = ""
    unread: str = ""

    def told(self) -> str | None:
        """What the slack comes from, in one line (None: ARRIVAL_SLACK_S, no adapter known)."""
        wait = f"waiting {self.slack_s * 1000:.0f} ms for an answer's pieces"
        if self.latency_timer_ms is not None:
            return f"FTDI latency_timer {self.latency_timer_ms} ms ({self.file}): {wait}"
        if self.unread:
            return f"FTDI latency_timer not read ({self.file}: {self.unread}): {wait}"
        if self.driver:
            return f"UART of driver {self.driver} ({self.file}), no adapter's latency: {wait}"
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
    latency_file = os.path.join(device, "latency_timer")
    latency_ms = facts.latency_timer_ms
    if latency_ms is not None and 1 <= latency_ms <= MAX_LATENCY_TIMER_MS:
        return PortSlack(
            adapter_slack_s(latency_ms, network=False),
            latency_timer_ms=latency_ms,
            file=latency_file,
        )
    if os.path.lexists(latency_file):
        return PortSlack(ARRIVAL_SLACK_S, file=latency_file, unread=_unread(latency_file))
    if facts.driver in UART_DRIVERS and not facts.vid_pid:
        return PortSlack(uart_slack_s(char_s), driver=facts.driver, file=device)
    return PortSlack(ARRIVAL_SLACK_S)


def _unread(path: str) -> str:
    """Why the ``latency_timer`` file at ``path`` told no timer: the error reading it, or its
    text, which is no number of 1 to :data:`MAX_LATENCY_TIMER_MS` ms."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(64).strip()
    except OSError as exc:
        return exc.strerror or str(exc)
    return f"{text!r} is no timer of 1 to {MAX_LATENCY_TIMER_MS} ms"
