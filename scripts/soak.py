"""Soak test: run the real daemon for a while under faults and prove nothing leaks or is lost.

The daemon runs 16 simulated sensors (all five wire formats, with garbage lines, spikes and
dropouts), a simulated PMS5003 (its frames damaged now and then as a serial line damages them)
and a simulated Modbus meter on a simulated RTU bus; 8 line sensors and 2 PMS5003 sensors on
pseudo-terminals behind /dev/serial/by-id style links; and a Modbus RTU bus on a pseudo-terminal
behind such a link, where a pymodbus serial server answers for two devices and a third device
(another unit id) never answers. This script plays the pty devices: the line devices write good
lines, garbage (syntax, NUL, non-UTF-8, overlong, non-finite and out-of-range lines) and bursts;
the PMS5003s write 32-byte frames built by the frames codec's encoder, bursts, noise between
frames, false starts (``42 4D`` and a length no PMS frame has, short or beyond
``max_frame_bytes``) and frames whose checksum is spoilt. It unplugs and replugs every pty and
the bus (the link moves to a new pty), sets the bus devices' registers, sends SIGHUP with valid
and invalid configuration files and scrapes /metrics. A replugged pty that the daemon has not
reopened after :data:`CONTESTED_AFTER_S` and that another process holds (on a machine running
other tests: a daemon that reopens a pty path of its own whose number the new pty got, which
keeps the soak's daemon out, ``down`` with the holder as its ``last_error``, for as long as it
holds it) is replugged at a new pty, and named in the output.

The daemon runs under the ``Environment=`` settings of ``systemd/sensord.service`` (glibc's
fixed mmap threshold among them), as it does under systemd, and the run fails if its process
lacks them; ``--without-unit-environment`` runs it in the caller's environment alone.

Every ``--interval`` seconds it pauses the faults at a quiet point (every pty plugged in and
confirmed open, everything written read; the bus plugged in, its live devices up and read since
their registers were last set, its dead device down) and samples the daemon: RSS, open
descriptors, threads, CPU, and the counters. Lines and frames are accounted for by construction:
a device writes only while its port is confirmed open (after a replug: once the daemon counted
the reconnect and ``SETTLE_S`` more have passed, since the daemon drops a first line that comes
within ``CUT_LINE_S`` of an open), and is unplugged only after the daemon has counted every
line or frame written to it. So at every sample:

* frames counted for a line sensor on a pty == lines written to it (good and garbage lines that
  are frames), parse errors by reason == the garbage written, and readings == the good lines'
  values plus the sound values beside a nonfinite one;
* for a PMS5003 on a pty: frames == good frames written, readings == good frames x its 12
  channels, parse errors by reason == the faults written (``checksum`` a spoilt frame,
  ``syntax`` a false start with a short length, ``overlong`` one with a length beyond the
  bound, every other reason 0), skipped bytes == every byte of noise, false starts and spoilt
  frames (a rejected candidate costs its first byte and the rest is skipped up to the next
  start; no ``42 4D`` occurs anywhere else) and bytes read == bytes written;
* on the Modbus bus, each live device has answered since the last sample and is ``up``, the
  dead one is ``down`` with at least 3 timeouts and no transaction, and the live devices'
  readings are the register values last set (so the dead one never holds them back); for
  every bus device and the simulated meter, each answered read (a transaction that is no
  exception) is one frame, and readings == frames x registers;
* every step of every sensor balances: records in == records out + dropped, with no drop but
  the filter's range drops of the out-of-range lines written (a simulated sensor's range and
  non-finite drops are random) and no ``error`` drop anywhere;
* every frame of a single-channel simulated sensor is a reading, an ignored frame or a parse
  error; every frame of the simulated PMS5003 that is not ignored gives 12 readings.

It prints one table row per sample and fails (exit 1) if RSS grows by more than
``--rss-growth-pct`` after warm-up, if descriptors or threads grow, if any line or frame is
unaccounted for, if a check above fails, if a scrape fails, if the daemon dies or does not stop
cleanly on SIGTERM, or if a traceback appears in its log. ``--seed`` fixes every random choice
of the fault schedule (the line devices', the PMS5003s' and the bus's each from a generator of
its own); the bus is unplugged at any moment, not at quiet points: its exchanges are not
accounted byte by byte, and one cut short is a timeout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the harness

from harness.balance import scraped_steps, step_problems
from harness.common import HarnessError, wait_for
from harness.config import channel_toml, sensor_toml, write_atomically
from harness.daemon import DaemonProcess
from harness.modbus import ModbusServer, PtyRelay
from harness.pty import SymlinkedPty
from harness.scrape import Scrape
from harness.wire import nmea

from sensord import unit_file
from sensord.bus_reads import DOWN_AFTER_TIMEOUTS
from sensord.config import parse_config
from sensord.config_sensor import SensorConfig
from sensord.formats import codec_for
from sensord.port_holders import find_holders
from sensord.sensor_first_bytes import CUT_LINE_S

#: The unit whose Environment= settings the daemon runs under.
UNIT = Path(__file__).resolve().parent.parent / "systemd" / "sensord.service"

TICK_S = 0.05

#: How long a replugged device stays quiet after the daemon counted its reconnect: longer
#: than CUT_LINE_S, within which the daemon drops the first line of a port it just opened.
SETTLE_S = CUT_LINE_S + 0.05

MAX_FRAME_BYTES = 512
REASONS = ("syntax", "checksum", "encoding", "overlong", "nonfinite", "range")
QUIET_TIMEOUT_S = 15.0
#: How long a replugged pty waits for the daemon's reconnect before the soak looks for another
#: process holding it, and again as long between looks: four times the pty sensors'
#: ``max_delay_s`` (:data:`PTY_BODY`), so the daemon has had its reopens.
CONTESTED_AFTER_S = 2.0
#: Scrapes taken again when a Modbus device's transactions and frames disagree (see
#: ``Soak._check_exchanges``).
EXCHANGE_RESCRAPES = 3


# -- what a device sends -------------------------------------------------------------------------


@dataclass(frozen=True)
class Wire:
    """A wire format: the sensor's config lines, a good line, and bad lines by reason."""

    fmt: str
    channels: tuple[tuple[str, str], ...]  # (name, field)
    good: Callable[[float], bytes]
    nonfinite: bytes
    out_of_range: bytes
    extra: str = ""
    #: readings the nonfinite line still gives: its other channels' sound values
    nonfinite_keeps: int = 0

    def config(self, name: str, port: str, body: str) -> str:
        channels = [
            channel_toml(channel, field=source, bounds=(-1000, 1000))
            for channel, source in self.channels
        ]
        extra = "\n".join(line for line in (body, self.extra) if line)
        return sensor_toml(name, port, self.fmt, extra, channels, rate_hz=None)


WIRES = (
    Wire("value", (("v", "v"),), lambda x: f"{x:.3f}".encode(), b"nan", b"5000"),
    Wire(
        "kv",
        (("t", "t"), ("rh", "rh")),
        lambda x: f"t={x:.2f},rh={abs(x) % 100:.1f}".encode(),
        b"t=inf,rh=1",
        b"t=5000,rh=-5000",
        nonfinite_keeps=1,
    ),
    Wire(
        "csv",
        (("t", "t"), ("rh", "rh")),
        lambda x: f"{x:.2f},{abs(x) % 100:.1f}".encode(),
        b"-inf,1",
        b"5000,5000",
        extra='parse = { columns = ["t", "rh"] }',
        nonfinite_keeps=1,
    ),
    Wire(
        "json",
        (("t", "a.t"), ("rh", "a.rh")),
        lambda x: json.dumps({"a": {"t": round(x, 2), "rh": round(abs(x) % 100, 1)}}).encode(),
        b'{"a": {"t": NaN, "rh": 1}}',
        b'{"a": {"t": 5000, "rh": 5000}}',
        nonfinite_keeps=1,
    ),
    Wire(
        "nmea",
        (("t", "MTW.temperature"),),
        lambda x: nmea(f"IIMTW,{x:.2f},C"),
        nmea("IIMTW,1e999,C"),
        nmea("IIMTW,5000.0,C"),
    ),
)


def garbage_lines(wire: Wire) -> list[tuple[bytes, str]]:
    """Bad lines a device may send, with the reason each one is counted under ("skipped":
    an NMEA line without a sentence start is skipped bytes, not a frame)."""
    nmea = wire.fmt == "nmea"
    return [
        (b"#!garbage line", "syntax"),
        (b"\x00\x00", "skipped" if nmea else "encoding"),
        (b"\xff\xfe\xfd", "skipped" if nmea else "encoding"),
        (b"A" * (MAX_FRAME_BYTES + 100), "skipped" if nmea else "overlong"),
        (wire.nonfinite, "nonfinite"),
        (wire.out_of_range, "range"),
    ]


#: The keys of every pty sensor's table besides its name, port and format.
PTY_BODY = (
    'simulate = "never"\nstale_after_s = 3\n'
    "reconnect = { initial_delay_s = 0.05, max_delay_s = 0.5 }"
)


# -- pseudo-terminals ----------------------------------------------------------------------------


class PtyDevice:
    """One pty sensor: a pty whose slave sits behind a by-id style link, and the bookkeeping of
    what was written to it."""

    def __init__(self, name: str, link: Path) -> None:
        self.name = name
        self.link = link
        self.port = SymlinkedPty(link)
        self._unblock()
        self.pending = bytearray()
        self.state = "live"  # live, draining, unplugged, plugging, settling
        self.state_until = 0.0
        self.reconnects_before = 0
        self.good = 0
        self.frames = 0
        self.readings = 0
        self.reasons = dict.fromkeys(REASONS, 0)
        #: bytes the daemon skips (NMEA: what comes before a line's sentence start)
        self.skipped = 0
        self.unplugs = 0
        #: the replugged ptys another process held before the daemon opened them
        self.contested: list[str] = []

    @property
    def master(self) -> int:
        """The device end of the pty; -1 while unplugged."""
        fd = self.port.pty.master_fd
        return -1 if fd is None else fd

    def _unblock(self) -> None:
        os.set_blocking(self.master, False)

    def unplug(self) -> None:
        """Close the pty and remove its link, as udev removes a by-id link with the device:
        a link left behind could point at a pty number another device gets meanwhile."""
        self.port.unplug(remove_link=True)
        self.pending.clear()
        self.unplugs += 1

    def replug(self) -> None:
        self.port.replug()
        self._unblock()

    def replug_if_taken(self, daemon_pid: int | None) -> None:
        """Replug again, at a new pty, when a process other than this one and the daemon
        holds the pty just plugged in. Such a process (another test's daemon that
        reopens a pty path of its own whose number this pty got, a program that probes new
        ttys) keeps the daemon out for as long as it holds the pty, which is no fault of the
        daemon's: the ``down`` it shows meanwhile names the holder as its ``last_error``."""
        path = self.port.pty.path
        holders = [h for h in find_holders(path) if h.pid != daemon_pid]
        if not holders:
            return
        held = f"{self.name}: {path} held by {', '.join(str(h) for h in holders)}"
        self.contested.append(held)
        print(f"  note: {held}; replugged at a new pty", flush=True)
        self.replug()

    def config(self) -> str:
        """The sensor's table in the daemon's configuration."""
        raise NotImplementedError

    def flush(self) -> bool:
        """Write what is pending without blocking; True when nothing is left."""
        while self.pending:
            try:
                n = os.write(self.master, self.pending)
            except BlockingIOError:
                return False
            del self.pending[:n]
        return True

    def all_read(self, info: dict[str, Any]) -> bool:
        """Whether the daemon's status ``info`` of this sensor counts everything written to
        it: its frames, its skipped bytes and its errors (an overlong line is no frame, so its
        error is the only sign that the daemon read it)."""
        return (
            info["frames"] >= self.frames
            and info["skipped_bytes"] >= self.skipped
            and all(info["parse_errors"].get(r, 0) >= n for r, n in self.reasons.items())
        )

    def close(self) -> None:
        if self.master >= 0:
            self.unplug()


class Device(PtyDevice):
    """A pty sensor of a text wire format: lines."""

    def __init__(self, name: str, wire: Wire, link: Path) -> None:
        super().__init__(name, link)
        self.wire = wire

    def config(self) -> str:
        return self.wire.config(self.name, str(self.link), PTY_BODY)

    def send_good(self, values: list[float]) -> None:
        for value in values:
            self.pending += self.wire.good(value) + b"\n"
        self.good += len(values)
        self.frames += len(values)
        self.readings += len(values) * len(self.wire.channels)

    def send_garbage(self, line: bytes, reason: str) -> None:
        self.pending += line + b"\n"
        n_channels = len(self.wire.channels)
        if self.wire.fmt == "nmea":
            starts = [at for at in (line.find(b"$"), line.find(b"!")) if at >= 0]
            self.skipped += min(starts, default=len(line))
        if reason == "skipped":
            return
        if reason == "overlong":
            self.reasons["overlong"] += 1
            return
        self.frames += 1
        if reason == "range":
            self.reasons["range"] += n_channels
            self.readings += n_channels
        else:
            self.reasons[reason] += 1
            if reason == "nonfinite":
                self.readings += self.wire.nonfinite_keeps


#: What a PMS5003 device writes besides its frames, with the parse error each costs ("" none).
FRAME_FAULTS = (
    ("noise", ""),
    ("false start", "syntax"),  # 42 4D and a length no PMS frame has
    ("false start", "overlong"),  # 42 4D and a length beyond max_frame_bytes
    ("bad checksum", "checksum"),
)

#: Bytes a PMS frame's start and noise never hold: the start sequence is 42 4D, so noise
#: without them cannot begin a candidate, and values below 1000 (high bytes 0..3) and the
#: sum of a frame's bytes (below 0x1000) hold no 42 followed by 4D.
START_BYTES = b"\x42\x4d"
NOISE_BYTES = bytes(b for b in range(256) if b not in START_BYTES)


def preset_sensor(name: str, preset: str) -> SensorConfig:
    """The configuration of a sensor ``name`` with nothing but ``preset``."""
    text = f'[[sensors]]\nname = "{name}"\nport = "sim://{name}"\npreset = "{preset}"\n'
    return parse_config(text).sensors[0]


class FrameDevice(PtyDevice):
    """A PMS5003 on a pty: 32-byte frames that the frames codec's encoder builds from the
    preset's frame spec, noise between them, false starts (42 4D and a length that no PMS frame
    has: too short, or beyond ``max_frame_bytes``) and frames whose checksum is spoilt.

    Accounted exactly by construction: a rejected candidate costs one byte and the search
    goes on after its start, and no byte sequence 42 4D occurs anywhere but at a frame's
    start and a false start (see :data:`NOISE_BYTES`), so every byte of noise, of a false
    start and of a damaged frame is a skipped byte, and each false start or damaged frame one
    parse error. Faults are written only before a good frame, so the stream the daemon has
    read at a quiet point ends with a whole frame and holds no pending byte."""

    PRESET = "pms5003"

    def __init__(self, name: str, link: Path) -> None:
        super().__init__(name, link)
        sensor = preset_sensor(name, self.PRESET)
        self._encode = codec_for("frames").encoder(sensor.format_spec())
        self.fields = [channel.field or channel.name for channel in sensor.channels]
        self.channels = len(self.fields)
        self.bytes_written = 0

    def config(self) -> str:
        return (
            f'[[sensors]]\nname = "{self.name}"\nport = "{self.link}"\npreset = "{self.PRESET}"\n'
            f"warmup_s = 0\n{PTY_BODY}\n"
        )

    def frame(self, values: list[int]) -> bytes:
        """One frame of ``values`` (0..999, one per channel), from the codec's encoder."""
        frames = self._encode(dict(zip(self.fields, values, strict=True)), 0.0)
        if len(frames) != 1 or frames[0].rfind(START_BYTES) != 0:
            raise HarnessError(f"the encoder gave {frames!r} for {values}")
        return frames[0]

    def _write(self, data: bytes) -> None:
        self.pending += data
        self.bytes_written += len(data)

    def send_good(self, frames: list[list[int]]) -> None:
        for values in frames:
            self._write(self.frame(values))
        self.good += len(frames)
        self.frames += len(frames)
        self.readings += len(frames) * self.channels

    def send_fault(self, kind: str, reason: str, noise: bytes, values: list[int]) -> None:
        """One fault (a row of :data:`FRAME_FAULTS`); ``noise`` is bytes of
        :data:`NOISE_BYTES`, ``values`` those of the damaged frame."""
        if kind == "noise":
            data = noise
        elif kind == "false start":
            length = b"\x00\x10" if reason == "syntax" else b"\xff\xf0"
            data = START_BYTES + length + noise
        else:
            frame = self.frame(values)
            data = frame[:-1] + bytes([frame[-1] ^ 0x01])
        self._write(data)
        self.skipped += len(data)
        if reason:
            self.reasons[reason] += 1


# -- the Modbus bus ------------------------------------------------------------------------------

#: The unit id that nothing answers: the relay drops the requests for it.
DEAD_UNIT = 9


@dataclass(frozen=True)
class BusDevice:
    """A device on the soak's Modbus RTU bus: its unit id and its uint16 registers, adjacent
    from ``address`` on in ``table`` (so one read a poll: every answered read is one frame
    with a reading per register)."""

    name: str
    unit: int
    table: str
    address: int
    registers: tuple[str, ...]
    interval_s: float = 0.2
    timeout_s: float = 0.3

    def config(self, port: str) -> str:
        registers = ", ".join(
            f'{{ name = "{name}", table = "{self.table}", address = {self.address + i} }}'
            for i, name in enumerate(self.registers)
        )
        channels = ", ".join(f'{{ name = "{name}" }}' for name in self.registers)
        return (
            f'[[sensors]]\nname = "{self.name}"\nport = "{port}"\nformat = "modbus"\n'
            'simulate = "never"\nserial = { baudrate = 115200 }\n'
            "reconnect = { initial_delay_s = 0.05, max_delay_s = 0.5 }\n"
            f"modbus = {{ unit = {self.unit}, interval_s = {self.interval_s}, "
            f"timeout_s = {self.timeout_s} }}\n"
            f"registers = [{registers}]\nchannels = [{channels}]\n"
        )


BUS_DEVICES = (
    BusDevice("bus_meter", 1, "input", 0, ("voltage", "current")),
    BusDevice("bus_probe", 2, "holding", 4, ("temperature", "humidity")),
    BusDevice("bus_dead", DEAD_UNIT, "input", 0, ("x",), timeout_s=0.1),
)


class ModbusBus:
    """A Modbus RTU line on a pty: a pymodbus serial server answers for the live units behind
    a :class:`~harness.modbus.PtyRelay` whose near end sits behind a by-id style link, and the
    relay drops every request for :data:`DEAD_UNIT`. The soak sets the live units' registers
    (``set_values``) and checks that the readings carry them. ``unplug`` removes the link and
    closes the relay's near end, as a USB RS-485 adapter pulled out; ``replug`` gives it a new
    pty and points the link at it. ``state`` (live, unplugged, plugging) and ``state_until``
    are the soak's, as for a :class:`PtyDevice`."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.devices = BUS_DEVICES
        self.live = [d for d in BUS_DEVICES if d.unit != DEAD_UNIT]
        self.relay = PtyRelay(silent_units=[DEAD_UNIT]).start()
        self.server = ModbusServer([d.unit for d in self.live], "serial", self.relay.far.path)
        self.server.start()
        link.symlink_to(self.relay.near.path)
        #: the values last written to each live device's registers
        self.values = {d.name: [0] * len(d.registers) for d in self.live}
        self.sets = 0
        self.state = "live"
        self.state_until = 0.0
        self.reconnects_before = 0
        self.unplugs = 0

    def config(self) -> str:
        return "".join(d.config(str(self.link)) for d in self.devices)

    def set_values(self, rng: random.Random) -> None:
        for device in self.live:
            values = [rng.randrange(65536) for _ in device.registers]
            self.server.set(device.unit, device.table, device.address, values)
            self.values[device.name] = values
        self.sets += 1

    def unplug(self) -> None:
        self.link.unlink(missing_ok=True)
        self.relay.unplug()
        self.unplugs += 1

    def replug(self) -> None:
        path = self.relay.replug()
        staging = self.link.with_name(self.link.name + ".new")
        staging.unlink(missing_ok=True)
        staging.symlink_to(path)
        staging.replace(self.link)

    def reconnects(self, sensors: dict[str, Any]) -> int:
        """The reconnects the daemon counted of the bus's port (in ``/status``)."""
        return min(int(sensors[d.name]["reconnects"]) for d in self.devices)

    def settled(self, sensors: dict[str, Any]) -> bool:
        """Whether the bus is plugged in, every live device up and read since its registers
        were last set, and the dead one down (in ``/status``)."""
        return (
            self.state == "live"
            and all(sensors[d.name]["state"] == "up" for d in self.live)
            and all(sensors[d.name]["state"] == "down" for d in self.devices if d.unit == DEAD_UNIT)
            and self.read_back(sensors)
        )

    def read_back(self, sensors: dict[str, Any]) -> bool:
        """Whether every live device's readings in ``sensors`` (``/status``) are the values
        last written."""
        for device in self.live:
            channels = sensors[device.name]["channels"]
            got = [channels[name]["value"] for name in device.registers]
            if got != self.values[device.name]:
                return False
        return True

    def close(self) -> None:
        self.server.stop()
        self.relay.stop()
        self.link.unlink(missing_ok=True)


# -- the daemon ----------------------------------------------------------------------------------

#: The parse error reasons that reject a frame (or its one value) of a single-channel sensor;
#: ``overlong`` is no frame and ``range`` a drop of the filter's, after the reading was taken.
FRAME_REJECTIONS = ("syntax", "checksum", "encoding", "truncated", "nonfinite", "invalid")

#: Drops of a simulated sensor whose counts the soak cannot know: its random spikes and garbage.
SIM_DROPS = ("range", "nonfinite")


class Scraper:
    """Scrapes ``/metrics`` of the daemon and counts the scrapes that succeeded and failed."""

    def __init__(self, daemon: DaemonProcess) -> None:
        self.daemon = daemon
        self.ok = 0
        self.failed = 0

    def metrics(self) -> Scrape:
        try:
            scrape = self.daemon.scrape()
        except (OSError, HarnessError):
            self.failed += 1
            raise
        self.ok += 1
        return scrape

    def scrape(self) -> None:
        with contextlib.suppress(OSError, HarnessError):
            self.metrics()


# -- the configuration ---------------------------------------------------------------------------

SIM_RATES_HZ = (1, 2, 5, 10, 20, 50)


def sim_sensor(index: int, seed: int, rate_hz: float | None = None) -> str:
    wire = WIRES[index % len(WIRES)]
    rate = rate_hz if rate_hz is not None else SIM_RATES_HZ[index % len(SIM_RATES_HZ)]
    # one channel each, so that every frame is exactly one reading, one ignored frame or one
    # parse error
    single = Wire(wire.fmt, wire.channels[:1], wire.good, b"", b"", wire.extra)
    if wire.fmt == "csv":
        single = Wire("csv", (("t", "t"),), wire.good, b"", b"", 'parse = { columns = ["t"] }')
    dropout = 0.01 if index % 4 == 3 else 0.0
    body = (
        f"sampling_rate_hz = {rate}\n"
        f"simulation = {{ seed = {seed * 100 + index}, garbage_rate = 0.02, spike_rate = 0.01, "
        f"dropout_rate = {dropout}, dropout_s = 2 }}"
    )
    return single.config(f"sim{index:02d}", f"sim://sim{index:02d}", body)


def single_channel_sim(name: str) -> bool:
    """Whether ``name`` is one of the :func:`sim_sensor` sensors."""
    return name.startswith("sim") and name[3:].isdigit()


#: The simulated PMS5003 (streaming frames, garbage among them: every kind of damage a line
#: does to binary frames) and a simulated Modbus meter polled on a simulated RTU bus, its
#: registers adjacent: one read a poll, each answered read a frame with a reading a register.
SIM_PMS = "sim_pms"
SIM_METER = "sim_meter"
SIM_METER_CHANNELS = (
    ("voltage", "30001", "center = 230.0, amplitude = 3.0, period_s = 90.0, noise = 0.3"),
    ("current", "30003", "center = 6.0, amplitude = 4.0, period_s = 300.0, noise = 0.1"),
    ("power", "30005", "center = 3450.0, amplitude = 1500.0, period_s = 300.0, noise = 20.0"),
)


def sim_binary_sensors(seed: int) -> str:
    pms = (
        f'[[sensors]]\nname = "{SIM_PMS}"\nport = "sim://{SIM_PMS}"\npreset = "pms5003"\n'
        "sampling_rate_hz = 5\n"
        f"simulation = {{ seed = {seed * 100 + 99}, garbage_rate = 0.05 }}\n"
    )
    registers = ", ".join(
        f'{{ name = "{name}", ref = "{ref}", type = "float32" }}'
        for name, ref, _ in SIM_METER_CHANNELS
    )
    channels = "".join(
        f'  [[sensors.channels]]\n  name = "{name}"\n  signal = {{ {signal} }}\n'
        for name, _, signal in SIM_METER_CHANNELS
    )
    meter = (
        f'[[sensors]]\nname = "{SIM_METER}"\nport = "sim://soak-meter-bus"\nformat = "modbus"\n'
        "serial = { baudrate = 9600 }\n"
        "modbus = { unit = 1, interval_s = 0.5, timeout_s = 0.5 }\n"
        f"registers = [{registers}]\n{channels}"
    )
    return pms + meter


@dataclass
class Configs:
    """The configuration files the soak switches between with SIGHUP."""

    base: str
    variants: list[tuple[str, str, bool]] = field(default_factory=list)  # (name, text, valid)


def make_configs(devices: list[PtyDevice], bus: ModbusBus, n_sim: int, seed: int) -> Configs:
    head = "[http]\nmax_connections = 16\nrequest_timeout_s = 5\n\n"
    pty_part = "".join(d.config() for d in devices) + bus.config() + sim_binary_sensors(seed)
    sims = [sim_sensor(i, seed) for i in range(n_sim)]
    base = head + pty_part + "".join(sims)
    retuned = head + pty_part + "".join([sim_sensor(0, seed, 7), *sims[1:]])
    added = base + sim_sensor(n_sim, seed)
    configs = Configs(base)
    configs.variants = [
        ("same", base, True),
        ("retuned", retuned, True),
        ("added", added, True),
        ("not-toml", base + "[[sensors]\nname = ", False),
        ("invalid", base + '[[sensors]]\nname = "x"\nformat = "xml"\n', False),
    ]
    return configs


# -- the run -------------------------------------------------------------------------------------


@dataclass
class Row:
    t_s: float
    rss_kib: int
    fds: int
    threads: int
    cpu_pct: float
    frames: int
    pty_lines: int
    pms_frames: int
    unaccounted: int
    parse_errors: int
    bus_transactions: int
    reconnects: int
    reloads: str
    scrapes: int


HEADER = (
    f"{'t_s':>6} {'rss_mib':>8} {'fds':>4} {'thr':>4} {'cpu%':>5} {'frames':>9} "
    f"{'pty_lines':>9} {'pms_frm':>7} {'unacct':>6} {'parse_err':>9} {'bus_tx':>6} {'reconn':>6} "
    f"{'reloads':>9} {'scrapes':>7}"
)


def format_row(row: Row) -> str:
    return (
        f"{row.t_s:6.0f} {row.rss_kib / 1024:8.2f} {row.fds:4d} {row.threads:4d} "
        f"{row.cpu_pct:5.1f} {row.frames:9d} {row.pty_lines:9d} {row.pms_frames:7d} "
        f"{row.unaccounted:6d} {row.parse_errors:9d} {row.bus_transactions:6d} "
        f"{row.reconnects:6d} {row.reloads:>9} {row.scrapes:7d}"
    )


class Soak:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.rng = random.Random(args.seed)
        by_id = workdir / "by-id"
        by_id.mkdir()
        self.devices = [
            Device(
                f"pty{i}",
                WIRES[i % len(WIRES)],
                by_id / f"usb-soak_Serial_{args.seed:04d}{i:02d}-if00-port0",
            )
            for i in range(args.pty_sensors)
        ]
        self.frame_devices = [
            FrameDevice(f"pms{i}", by_id / f"usb-soak_PMS5003_{args.seed:04d}{i:02d}-if00-port0")
            for i in range(args.pms_sensors)
        ]
        #: every pty device, line and frame devices alike
        self.ptys: list[PtyDevice] = [*self.devices, *self.frame_devices]
        # the frame devices and the bus draw from generators of their own, so that the line
        # devices' schedule of a seed is the same with them as without
        self.frame_rng = random.Random(f"{args.seed}/frames")
        self.bus_rng = random.Random(f"{args.seed}/bus")
        self.bus = ModbusBus(by_id / f"usb-soak_RS485_{args.seed:04d}-if00-port0")
        self.configs = make_configs(self.ptys, self.bus, args.sim_sensors, args.seed)
        self.config_path = workdir / "sensord.toml"
        write_atomically(self.config_path, self.configs.base)
        #: what systemd/sensord.service sets (the allocator's settings among them), which the
        #: daemon runs under here as it does under systemd
        self.environment = (
            {} if args.without_unit_environment else unit_environment(UNIT.read_text())
        )
        self.daemon = DaemonProcess(
            ["--config", str(self.config_path)],
            tmp_path=workdir,
            name="sensord",
            env=self.environment,
            python=args.python,
        )
        self.scraper = Scraper(self.daemon)
        self.rows: list[Row] = []
        self.failures: list[str] = []
        self._failures_printed = 0
        self.reloads_sent = {"valid": 0, "invalid": 0}
        #: whether the file of the last SIGHUP sent was valid; None before the first
        self.last_reload_valid: bool | None = None
        self.started = 0.0
        self._last_cpu = (0.0, 0.0)
        self._garbage = {d.name: garbage_lines(d.wire) for d in self.devices}
        #: per live bus device and the simulated meter, transactions at the last sample
        self._transactions: dict[str, int] = {}
        self.pty_by_name = {d.name: d for d in self.ptys}
        self.bus_names = {d.name for d in self.bus.devices}
        #: the bus's devices' transactions and timeouts at the last sample, for the summary
        self._bus_figures: dict[str, str] = {}

    # -- faults ------------------------------------------------------------------------------
    def write_traffic(self) -> None:
        rng = self.rng
        for device in self.devices:
            # draw for every device on every tick, so the schedule does not depend on timing
            lines = rng.randint(1, 12) if rng.random() < 0.6 else 0
            burst = rng.random() < 0.0015
            junk = rng.random() < 0.04
            junk_index = rng.randrange(6)
            base = rng.uniform(-50.0, 50.0)
            if device.state != "live":
                continue
            if burst:
                lines += 5000
            if lines:
                device.send_good([base + k * 0.01 for k in range(lines)])
            if junk:
                device.send_garbage(*self._garbage[device.name][junk_index])
            device.flush()
        self.write_frames()

    def write_frames(self) -> None:
        """A tick of the frame devices: a few frames, now and then a burst, and a fault before
        them (never without a frame after it: see :class:`FrameDevice`)."""
        rng = self.frame_rng
        for device in self.frame_devices:
            frames = rng.randint(1, 6) if rng.random() < 0.6 else 0
            burst = rng.random() < 0.0015
            fault = rng.random() < 0.08
            kind, reason = rng.choice(FRAME_FAULTS)
            noise = bytes(rng.choices(NOISE_BYTES, k=rng.randint(1, 40)))
            base = rng.randrange(1000)
            if device.state != "live":
                continue
            if burst:
                frames += 500
            values = [
                [(base + 7 * k + j) % 1000 for j in range(device.channels)] for k in range(frames)
            ]
            if fault and frames:
                device.send_fault(kind, reason, noise, values[0][::-1])
            if frames:
                device.send_good(values)
            device.flush()

    def chaos(self, now: float, status: dict[str, Any] | None) -> None:
        rng = self.rng
        unplug_roll = rng.random()
        victim = rng.randrange(len(self.devices))
        down_s = rng.uniform(0.1, 1.5)
        busy = sum(1 for d in self.devices if d.state != "live")
        if unplug_roll < 0.01 and busy < 2 and self.devices[victim].state == "live":
            self.devices[victim].state = "draining"
        self._frame_chaos()
        self._bus_chaos(now)
        if status is None:
            return
        sensors = status["sensors"]
        for pty in self.ptys:
            self._advance(pty, sensors[pty.name], now, down_s, self.daemon.pid)
        self._advance_bus(sensors, now)

    def _bus_chaos(self, now: float) -> None:
        """An unplug of the Modbus bus now and then, at any moment: its exchanges are not
        accounted byte by byte, and one cut short is a timeout."""
        rng = self.bus_rng
        unplug_roll = rng.random()
        down_s = rng.uniform(0.1, 1.5)
        bus = self.bus
        if unplug_roll < 0.01 and bus.state == "live":
            bus.unplug()
            bus.state = "unplugged"
            bus.state_until = now + down_s

    def _advance_bus(self, sensors: dict[str, Any], now: float) -> None:
        """One step of the bus's unplug cycle: unplugged for its time -> plugging (until the
        daemon reconnected) -> live."""
        bus = self.bus
        if bus.state == "unplugged" and now >= bus.state_until:
            bus.reconnects_before = bus.reconnects(sensors)
            bus.replug()
            bus.state = "plugging"
        elif bus.state == "plugging" and bus.reconnects(sensors) > bus.reconnects_before:
            bus.state = "live"

    def _frame_chaos(self) -> None:
        """Unplugs of the frame devices, by the line devices' rule."""
        rng = self.frame_rng
        unplug_roll = rng.random()
        if not self.frame_devices:
            return
        victim = self.frame_devices[rng.randrange(len(self.frame_devices))]
        busy = sum(1 for d in self.frame_devices if d.state != "live")
        if unplug_roll < 0.005 and busy < 1 and victim.state == "live":
            victim.state = "draining"

    @staticmethod
    def _advance(
        device: PtyDevice,
        info: dict[str, Any],
        now: float,
        down_s: float,
        daemon_pid: int | None = None,
    ) -> None:
        """One step of a device's unplug cycle: draining (until the daemon read everything
        written, :meth:`PtyDevice.all_read`) -> unplugged for ``down_s`` -> plugging (until
        the daemon reconnected; replugged again when another process than the daemon
        ``daemon_pid`` holds the pty, looked for every :data:`CONTESTED_AFTER_S`) ->
        settling (:data:`SETTLE_S`) -> live."""
        if device.state == "draining" and device.flush() and device.all_read(info):
            device.reconnects_before = info["reconnects"]
            device.unplug()
            device.state = "unplugged"
            device.state_until = now + down_s
        if device.state == "unplugged" and now >= device.state_until:
            device.replug()
            device.state = "plugging"
            device.state_until = now + CONTESTED_AFTER_S
        elif device.state == "plugging":
            if info["reconnects"] > device.reconnects_before and info["state"] in ("up", "stale"):
                # the first bytes that come within CUT_LINE_S of an open are taken for the
                # tail of a line sent before it, and dropped: a device that writes that soon
                # after its port opened loses its first line by design, which this accounting
                # does not model
                device.state = "settling"
                device.state_until = now + SETTLE_S
            elif now >= device.state_until:
                device.replug_if_taken(daemon_pid)
                device.state_until = now + CONTESTED_AFTER_S
        if device.state == "settling" and now >= device.state_until:
            device.state = "live"

    def maybe_reload(self) -> None:
        rng = self.rng
        roll = rng.random()
        _, text, valid = rng.choice(self.configs.variants)
        if roll >= TICK_S / 8.0:  # about one reload every 8 s
            return
        write_atomically(self.config_path, text)
        self.daemon.proc.send_signal(signal.SIGHUP)
        self.reloads_sent["valid" if valid else "invalid"] += 1
        self.last_reload_valid = valid

    def needs_status(self) -> bool:
        return self.bus.state != "live" or any(d.state != "live" for d in self.ptys)

    # -- samples -----------------------------------------------------------------------------
    def quiet(self) -> dict[str, Any]:
        """Let every unplug finish and the daemon read everything written, the bus's live
        devices be up and read since their registers were last set and its dead one down;
        the status then."""
        deadline = time.monotonic() + QUIET_TIMEOUT_S
        while True:
            status = self.daemon.status()
            sensors = status["sensors"]
            now = time.monotonic()
            for device in self.ptys:
                if device.state == "unplugged":
                    device.state_until = now  # no down time while sampling
                self._advance(device, sensors[device.name], now, 0.0, self.daemon.pid)
                if device.state == "live":
                    device.flush()
            if self.bus.state == "unplugged":
                self.bus.state_until = now
            self._advance_bus(sensors, now)
            settled = all(
                d.state == "live"
                and not d.pending
                and d.all_read(sensors[d.name])
                and sensors[d.name]["state"] in ("up", "stale")
                for d in self.ptys
            )
            bus_settled = self.bus.settled(sensors)
            reloaded = status["config_reloads"] == sum(self.reloads_sent.values())
            if settled and bus_settled and reloaded:
                self._check_reloads(status)
                return status
            if time.monotonic() > deadline:
                stuck = [
                    f"{d.name}: {d.state}, {len(d.pending)} bytes pending, "
                    f"{sensors[d.name]['frames']}/{d.frames} frames, "
                    f"daemon {sensors[d.name]['state']} for {sensors[d.name]['state_for_s']} s "
                    f"({sensors[d.name]['reconnects']} reconnects, "
                    f"{d.reconnects_before} at the unplug; "
                    f"last error {sensors[d.name]['last_error']!r})"
                    for d in self.ptys
                    if d.state != "live" or sensors[d.name]["frames"] < d.frames or d.pending
                ]
                if not bus_settled:
                    states = {d.name: sensors[d.name]["state"] for d in self.bus.devices}
                    stuck.append(
                        f"bus: {self.bus.state}, daemon {states}, values set {self.bus.values}"
                        f"{'' if self.bus.read_back(sensors) else ', not read back'}"
                    )
                if not reloaded:
                    stuck.append(
                        f"reloads: {status['config_reloads']} taken, "
                        f"{sum(self.reloads_sent.values())} SIGHUPs sent"
                    )
                self.failures.append("no quiet point within 15 s: " + "; ".join(stuck))
                return status
            time.sleep(0.02)

    def _print_new_failures(self) -> None:
        """Print the failures found since the last call, as they come (the summary at the end
        lists them all again), so a long run shows what went wrong and when."""
        for failure in self.failures[self._failures_printed :]:
            print(f"  FAIL {failure}", flush=True)
        self._failures_printed = len(self.failures)

    def _check_reloads(self, status: dict[str, Any]) -> None:
        """Every SIGHUP sent has been taken (``config_reloads``), and the last one succeeded
        exactly when its file was valid."""
        if self.last_reload_valid is None:
            return
        if status["config_last_reload_successful"] != self.last_reload_valid:
            kind = "a valid" if self.last_reload_valid else "an invalid"
            self.failures.append(
                f"the last reload (of {kind} file) reads "
                f"config_last_reload_successful={status['config_last_reload_successful']}"
            )

    def sample(self) -> Row:
        self.quiet()
        metrics = self.scraper.metrics()
        now = time.monotonic()
        t_s = now - self.started
        unaccounted = 0
        for device in self.devices:
            name = device.name
            frames = int(metrics.total("sensord_frames_total", sensor=name))
            unaccounted += abs(frames - device.frames)
            readings = int(
                metrics.total("sensord_step_records_in_total", sensor=name, step="filter")
            )
            if readings != device.readings:
                self.failures.append(
                    f"t={t_s:.0f}s {name}: {readings} readings, {device.readings} written"
                )
            if device.wire.fmt == "nmea":
                skipped = int(metrics.total("sensord_skipped_bytes_total", sensor=name))
                if skipped != device.skipped:
                    self.failures.append(
                        f"t={t_s:.0f}s {name}: {skipped} bytes skipped, {device.skipped} written"
                    )
            for reason in REASONS:
                got = int(metrics.total("sensord_parse_errors_total", sensor=name, reason=reason))
                if got != device.reasons[reason]:
                    self.failures.append(
                        f"t={t_s:.0f}s {name}: {got} {reason} errors, "
                        f"{device.reasons[reason]} written"
                    )
        for frame_device in self.frame_devices:
            unaccounted += self._check_frame_device(metrics, frame_device, t_s)
        if unaccounted:
            self.failures.append(f"t={t_s:.0f}s: {unaccounted} pty lines unaccounted for")
        bus_transactions = self._check_bus(metrics, t_s)
        for sensor in sorted(metrics.sensors()):
            self.failures.extend(
                f"t={t_s:.0f}s {sensor}/{problem}"
                for problem in self._step_problems(metrics, sensor)
            )
            if single_channel_sim(sensor):
                self._check_simulated(metrics, sensor, t_s)
        self._check_sim_binary(metrics, t_s)
        fds = min(self._retry(self.daemon.fd_count))
        threads = min(self._retry(self.daemon.thread_count))
        rss = self.daemon.rss_kib()
        cpu = self.daemon.cpu_s()
        last_t, last_cpu = self._last_cpu
        self._last_cpu = (now, cpu)
        cpu_pct = 100.0 * (cpu - last_cpu) / max(now - last_t, 1e-3)
        total = {"frames": 0, "errors": 0, "reconnects": 0}
        for sensor in metrics.sensors():
            total["frames"] += int(metrics.total("sensord_frames_total", sensor=sensor))
            total["errors"] += int(metrics.total("sensord_parse_errors_total", sensor=sensor))
            total["reconnects"] += int(
                metrics.total("sensord_serial_reconnects_total", sensor=sensor)
            )
        row = Row(
            t_s=t_s,
            rss_kib=rss,
            fds=fds,
            threads=threads,
            cpu_pct=cpu_pct,
            frames=total["frames"],
            pty_lines=sum(d.frames + d.reasons["overlong"] for d in self.devices),
            pms_frames=sum(d.frames for d in self.frame_devices),
            unaccounted=unaccounted,
            parse_errors=total["errors"],
            bus_transactions=bus_transactions,
            reconnects=total["reconnects"],
            reloads=f"{self.reloads_sent['valid']}/{self.reloads_sent['invalid']}",
            scrapes=self.scraper.ok,
        )
        self.rows.append(row)
        return row

    def _check_frame_device(self, metrics: Scrape, device: FrameDevice, t_s: float) -> int:
        """A PMS5003 on a pty against what was written to it (see :class:`FrameDevice`): the
        frames it cut, the readings they gave, the parse errors by reason (every reason the
        daemon counts: 0 unless written), the bytes skipped and read. Returns the frames
        unaccounted for."""
        name = device.name
        frames = int(metrics.total("sensord_frames_total", sensor=name))
        readings = int(metrics.total("sensord_step_records_in_total", sensor=name, step="filter"))
        skipped = int(metrics.total("sensord_skipped_bytes_total", sensor=name))
        read = int(metrics.total("sensord_read_bytes_total", sensor=name))
        counted = [
            ("readings", readings, device.readings),
            ("bytes skipped", skipped, device.skipped),
            ("bytes read", read, device.bytes_written),
        ]
        for sample in metrics.series("sensord_parse_errors_total", sensor=name):
            reason = sample.labels["reason"]
            counted.append((f"{reason} errors", int(sample.value), device.reasons.get(reason, 0)))
        for what, got, written in counted:
            if got != written:
                self.failures.append(f"t={t_s:.0f}s {name}: {got} {what}, {written} written")
        return abs(frames - device.frames)

    def _check_bus(self, metrics: Scrape, t_s: float) -> int:
        """The Modbus bus's devices: a live one answered since the last sample and is up,
        the dead one is down with its timeouts counted; every answered read gave one frame and
        a reading per register. Returns the live devices' transactions."""
        total = 0
        for device in self.bus.devices:
            name = device.name
            transactions = int(metrics.total("sensord_modbus_transactions_total", sensor=name))
            timeouts = int(metrics.total("sensord_modbus_timeouts_total", sensor=name))
            down = metrics.total("sensord_modbus_device_down", sensor=name)
            state = self._state(metrics, name)
            self._check_exchanges(metrics, name, len(device.registers), t_s)
            dead = device.unit == DEAD_UNIT
            if dead and (
                down != 1 or state != "down" or timeouts < DOWN_AFTER_TIMEOUTS or transactions
            ):
                self.failures.append(
                    f"t={t_s:.0f}s {name}: {state}, device_down {down:.0f}, "
                    f"{timeouts} timeouts, {transactions} transactions: not a dead device"
                )
            self._bus_figures[name] = f"{transactions} transactions, {timeouts} timeouts"
            if dead:
                continue
            total += transactions
            before = self._transactions.get(name, 0)
            self._transactions[name] = transactions
            if transactions <= before or state != "up" or down != 0:
                self.failures.append(
                    f"t={t_s:.0f}s {name}: {state}, device_down {down:.0f}, {transactions} "
                    f"transactions ({before} at the last sample)"
                )
        return total

    def _check_sim_binary(self, metrics: Scrape, t_s: float) -> None:
        """The simulated PMS5003: every frame not ignored gives a reading per channel; the
        simulated meter: every answered read a frame, with a reading per register."""
        if not metrics.has("sensord_frames_total", sensor=SIM_PMS):
            self.failures.append(f"t={t_s:.0f}s: no {SIM_PMS} on /metrics")
        else:
            frames = metrics.total("sensord_frames_total", sensor=SIM_PMS)
            ignored = metrics.total("sensord_frames_ignored_total", sensor=SIM_PMS)
            readings = metrics.total("sensord_step_records_in_total", sensor=SIM_PMS, step="filter")
            channels = len(preset_sensor(SIM_PMS, "pms5003").channels)
            if readings != (frames - ignored) * channels:
                self.failures.append(
                    f"t={t_s:.0f}s {SIM_PMS}: {readings:.0f} readings != ({frames:.0f} frames "
                    f"- {ignored:.0f} ignored) x {channels} channels"
                )
        transactions = self._check_exchanges(metrics, SIM_METER, len(SIM_METER_CHANNELS), t_s)
        before = self._transactions.get(SIM_METER, 0)
        self._transactions[SIM_METER] = transactions
        if transactions <= before:
            self.failures.append(
                f"t={t_s:.0f}s {SIM_METER}: {transactions} transactions ({before} at the last "
                "sample)"
            )

    def _check_exchanges(self, metrics: Scrape, name: str, channels: int, t_s: float) -> int:
        """A Modbus device whose every read is one frame: each answered read (a transaction
        that is no exception) is one frame with ``channels`` readings, exactly. The bus counts
        a transaction just before it hands the device its frame, and a scrape's snapshot may
        fall between the two: a scrape that does not hold the relation is taken again, a few
        times, and a lost frame, which stays lost, fails every one. Returns the
        transactions."""
        for retry in range(EXCHANGE_RESCRAPES + 1):
            if retry:
                metrics = self.scraper.metrics()
            transactions = int(metrics.total("sensord_modbus_transactions_total", sensor=name))
            refused = int(metrics.total("sensord_modbus_exceptions_total", sensor=name))
            refused += int(
                metrics.total("sensord_modbus_errors_total", sensor=name, reason="length")
            )
            frames = int(metrics.total("sensord_frames_total", sensor=name))
            readings = int(
                metrics.total("sensord_step_records_in_total", sensor=name, step="filter")
            )
            if readings == frames * channels and transactions - refused == frames:
                return transactions
        self.failures.append(
            f"t={t_s:.0f}s {name}: {transactions} transactions ({refused} refused), "
            f"{frames} frames, {readings} readings of {channels} channels"
        )
        return transactions

    @staticmethod
    def _state(metrics: Scrape, sensor: str) -> str:
        states = [
            s.labels["state"]
            for s in metrics.series("sensord_sensor_state", sensor=sensor)
            if s.value == 1
        ]
        return ",".join(states) or "none"

    def _step_problems(self, metrics: Scrape, sensor: str) -> list[str]:
        """The step accounting of ``sensor`` against what was written to it: a line sensor
        on a pty drops only the out-of-range readings written, in its filter; a PMS5003 on a
        pty and a device of the Modbus bus drop nothing; a simulated one drops an unknown
        number of random spikes. No ``error`` drop anywhere."""
        if not metrics.has("sensord_step_records_in_total", sensor=sensor):
            return []
        steps = scraped_steps(metrics, sensor)
        device = self.pty_by_name.get(sensor)
        if device is not None:
            return step_problems(steps, dropped={"filter": {"range": device.reasons["range"]}})
        if sensor in self.bus_names:
            return step_problems(steps)
        return step_problems(steps, unknown=SIM_DROPS)

    def _check_simulated(self, metrics: Scrape, sensor: str, t_s: float) -> None:
        """A single-channel sensor: every frame is a reading, an ignored frame or an error."""
        frames = metrics.total("sensord_frames_total", sensor=sensor)
        readings = metrics.total("sensord_step_records_in_total", sensor=sensor, step="filter")
        ignored = metrics.total("sensord_frames_ignored_total", sensor=sensor)
        errors = sum(
            metrics.total("sensord_parse_errors_total", sensor=sensor, reason=r)
            for r in FRAME_REJECTIONS
        )
        # nonfinite also counts readings the filter dropped: those are readings, not frames
        errors -= metrics.total(
            "sensord_step_dropped_total", sensor=sensor, step="filter", reason="nonfinite"
        )
        if frames != readings + ignored + errors:
            self.failures.append(
                f"t={t_s:.0f}s {sensor}: {frames:.0f} frames != {readings:.0f} readings + "
                f"{ignored:.0f} ignored + {errors:.0f} rejected"
            )

    @staticmethod
    def _retry(read: Callable[[], int]) -> list[int]:
        """A few reads 20 ms apart: an HTTP request thread of the last scrape may linger."""
        values = []
        for _ in range(5):
            values.append(read())
            time.sleep(0.02)
        return values

    # -- main --------------------------------------------------------------------------------
    def run(self) -> int:
        args = self.args
        daemon = self.daemon
        daemon.wait_http(15)
        # /status answers while the daemon is still starting, before its sensors are added
        names = {d.name for d in self.ptys} | self.bus_names | {SIM_PMS, SIM_METER}
        wait_for(
            lambda: names <= set(daemon.status()["sensors"]), 15, "every pty sensor in /status"
        )
        dead = next(d.name for d in self.bus.devices if d.unit == DEAD_UNIT)
        wait_for(
            lambda: daemon.status()["sensors"][dead]["state"] == "down",
            15,
            "the dead Modbus device down",
        )
        self.started = time.monotonic()
        end = self.started + args.duration
        next_sample = self.started + min(args.interval, 2.0)
        next_scrape = self.started
        print(
            f"soak: {args.duration:g} s, seed {args.seed}, {args.sim_sensors} simulated and "
            f"{args.pty_sensors} line and {args.pms_sensors} PMS5003 pty sensors, a Modbus bus "
            f"of {len(self.bus.devices)} devices, pid {daemon.proc.pid}, workdir {self.workdir}",
            flush=True,
        )
        print(f"environment: {self.environment_note()}", flush=True)
        self.quiet()
        self._last_cpu = (time.monotonic(), daemon.cpu_s())
        print(HEADER, flush=True)
        tick = 0
        while time.monotonic() < end:
            if not daemon.alive():
                self.failures.append(f"sensord died (exit {daemon.proc.returncode})")
                break
            tick += 1
            now = time.monotonic()
            self.write_traffic()
            status = daemon.status() if self.needs_status() or tick % 20 == 0 else None
            self.chaos(now, status)
            self.maybe_reload()
            if now >= next_scrape:
                self.scraper.scrape()
                self.bus.set_values(self.bus_rng)
                next_scrape = now + 1.0
            if now >= next_sample:
                print(format_row(self.sample()), flush=True)
                self._print_new_failures()
                next_sample = time.monotonic() + args.interval
            delay = self.started + tick * TICK_S - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        if daemon.alive() and (not self.rows or self.rows[-1].t_s < args.duration - 1.0):
            print(format_row(self.sample()), flush=True)
        return self.finish()

    def finish(self) -> int:
        daemon = self.daemon
        configured = 0
        if daemon.alive():
            configured = len(daemon.status()["sensors"])
        code: int | None = None
        with contextlib.suppress(HarnessError):  # killed: it did not exit within 10 s
            code = daemon.stop()
        if code != 0:
            self.failures.append(f"sensord did not exit 0 on SIGTERM (exit {code})")
        summaries = daemon.events("sensor summary")
        if configured and len(summaries) != configured:
            self.failures.append(f"{len(summaries)} summary lines for {configured} sensors")
        log = daemon.log_text()
        if "Traceback" in log:
            self.failures.append("a traceback in the daemon log")
        if self.scraper.failed:
            self.failures.append(f"{self.scraper.failed} failed scrapes")
        self.check_resources()
        unplugs = sum(d.unplugs for d in self.devices)
        print(
            f"\npty lines written: {sum(d.frames + d.reasons['overlong'] for d in self.devices)}"
            f" (good {sum(d.good for d in self.devices)}); unplugs {unplugs}; "
            f"reloads {self.reloads_sent['valid']} valid, {self.reloads_sent['invalid']} invalid;"
            f" scrapes {self.scraper.ok}"
        )
        frame_faults = sum(
            d.reasons["syntax"] + d.reasons["overlong"] + d.reasons["checksum"]
            for d in self.frame_devices
        )
        print(
            f"PMS5003 frames written: {sum(d.good for d in self.frame_devices)}, "
            f"bytes skipped {sum(d.skipped for d in self.frame_devices)} "
            f"({frame_faults} false starts and damaged frames); "
            f"unplugs {sum(d.unplugs for d in self.frame_devices)}"
        )
        print(
            "Modbus bus: "
            + ", ".join(f"{name} {figures}" for name, figures in self._bus_figures.items())
            + f"; register values set {self.bus.sets} times; unplugs {self.bus.unplugs}"
        )
        contested = [held for d in self.ptys for held in d.contested]
        if contested:
            print(f"ptys another process held at their replug (replugged again): {contested}")
        print(f"unaccounted lines: {sum(r.unaccounted for r in self.rows)}")
        if self.failures:
            print("\nFAIL")
            for failure in dict.fromkeys(self.failures):
                print(f"  {failure}")
            print(f"  (daemon log: {daemon.log_path})")
            return 1
        print("\nPASS")
        return 0

    def environment_note(self) -> str:
        """The unit's variables as the daemon's process has them, or what differs."""
        if not self.environment:
            return "the caller's, without systemd/sensord.service's"
        raw = Path(f"/proc/{self.daemon.proc.pid}/environ").read_bytes().split(b"\0")
        present = dict(v.decode(errors="replace").partition("=")[::2] for v in raw if b"=" in v)
        wrong = [
            f"{k}={present.get(k)!r}" for k, v in self.environment.items() if present.get(k) != v
        ]
        if wrong:
            self.failures.append(f"the daemon runs without the unit's environment: {wrong}")
        settings = " ".join(f"{k}={v}" for k, v in self.environment.items())
        return f"systemd/sensord.service's {settings}"

    def check_resources(self) -> None:
        warm = [r for r in self.rows if r.t_s >= self.args.warmup]
        if len(warm) < 2:
            self.failures.append(
                f"too few samples after the {self.args.warmup:g} s warm-up to judge growth"
            )
            return
        base = warm[0]
        peak_rss = max(r.rss_kib for r in warm)
        last_rss = warm[-1].rss_kib
        growth = 100.0 * (peak_rss - base.rss_kib) / base.rss_kib
        print(
            f"\nRSS after warm-up: {base.rss_kib / 1024:.2f} MiB at {base.t_s:.0f} s, "
            f"peak {peak_rss / 1024:.2f} MiB (+{growth:.2f}%), last {last_rss / 1024:.2f} MiB; "
            f"fds {base.fds}..{max(r.fds for r in warm)}; "
            f"threads {base.threads}..{max(r.threads for r in warm)}"
        )
        if growth > self.args.rss_growth_pct:
            self.failures.append(
                f"RSS grew {growth:.2f}% after warm-up (limit {self.args.rss_growth_pct:g}%)"
            )
        for what, counts in (
            ("open descriptors", [(r.t_s, r.fds) for r in warm]),
            ("threads", [(r.t_s, r.threads) for r in warm]),
        ):
            if max(n for _, n in counts) > counts[0][1]:
                self.failures.append(f"{what} grew: {growth_steps(counts)}")

    def close(self) -> None:
        if self.daemon.alive():
            with contextlib.suppress(HarnessError):  # killed after 10 s
                self.daemon.stop()
        for device in self.ptys:
            device.close()
        self.bus.close()


def unit_environment(text: str) -> dict[str, str]:
    """The variables one unit file's ``text`` sets with ``Environment=`` in its ``[Service]``
    section, a later assignment of a name over an earlier one as systemd takes them; an
    empty ``Environment=`` clears the ones before it."""
    settings: dict[str, list[str]] = {}
    unit_file._read_service_section(text, settings)
    environment: dict[str, str] = {}
    for value in settings.get("Environment", []):
        if not value:
            environment.clear()
        for word in unit_file._words(value):
            name, equals, setting = word.partition("=")
            if equals and name:
                environment[name] = setting
    return environment


def growth_steps(counts: list[tuple[float, int]]) -> str:
    """A count's samples ``(t_s, n)`` told by its changes: "24 at 60 s, 25 at 312 s, ..."."""
    steps = [
        f"{n} at {t:.0f} s" for i, (t, n) in enumerate(counts) if i == 0 or n != counts[i - 1][1]
    ]
    return ", ".join(steps) + f" ({len(counts)} samples)"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/soak",
        description="Run sensord under faults for a while; fail on leaks, lost lines, crashes.",
    )
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault schedule")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument(
        "--warmup",
        type=float,
        help="seconds before growth is judged (default: a fifth of the run, 15 to 60 s)",
    )
    parser.add_argument("--rss-growth-pct", type=float, default=5.0)
    parser.add_argument("--sim-sensors", type=int, default=16)
    parser.add_argument("--pty-sensors", type=int, default=8)
    parser.add_argument("--pms-sensors", type=int, default=2, help="PMS5003 devices on ptys")
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (a failed run keeps it anyway)"
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter to run sensord")
    parser.add_argument(
        "--without-unit-environment",
        action="store_true",
        help="run the daemon in this shell's environment only, without the Environment= "
        "settings of systemd/sensord.service (the allocator's among them)",
    )
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = min(60.0, max(15.0, args.duration / 5))
    if args.pty_sensors < 1 or args.sim_sensors < 1:
        parser.error("at least one simulated and one pty sensor are needed")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="sensord-soak-"))
    code = 1
    try:
        soak = Soak(args, workdir)
        try:
            code = soak.run()
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            code = 130
        finally:
            soak.close()
        return code
    finally:
        # a failed run keeps its work directory: the daemon log it names is what tells why
        if code == 0 and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work directory kept: {workdir}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
