"""sensord benchmarks P1..P15: every scenario in one run, compared commands interleaved.

``scripts/bench`` runs this file in the project's virtual environment. One invocation runs
every scenario, alternating the two commands of a comparison (A B A B ...) so that drift of
the machine (other load, frequency, caches) affects both alike, and prints one table:
scenario, measured median [min-max], the baseline or peer measured in the same run, the
ratio (median of the per-pair ratios), the target and pass/fail. ``--json FILE`` writes the
same rows, ``--markdown FILE`` the table for docs/performance.md. ``--quick`` is a smoke run
(under 2 minutes); the full run takes about 9 minutes. docs/performance.md explains each row.

Data comes from writer processes on pseudo-terminals: the bench opens the ptys, keeps both
ends open, and starts a writer (this file with ``--role writer``) that gets the master ends
and writes the stream in one of these arrival patterns:

``flat``    as fast as the pty takes it, 4 KiB per write;
``line``    one line per write at a fixed rate;
``burst``   ``burst`` lines in one write every ``period_s``;
``flood``   every port as fast as its reader takes the bytes (non-blocking writes of up to
            4 KiB whenever a pty has room), until ``units`` or the deadline;
``packet``  the byte stream of a 115200-baud line cut into 64-byte writes, as USB serial
            adapters deliver it (a full-speed bulk packet every 5.6 ms); the ports' packets are
            spread over time and written on 1 ms ticks (USB frames).

Every scenario checks that each line written was framed (none lost) before it reports a
figure: in-process counters for the in-process scenarios, the daemon's ``/status`` frame
counters for the daemon, and the kernel's count of unread bytes for gpsd.

CPU time comes from ``/proc/PID/task/*/schedstat`` (nanoseconds, per thread) where the
threads of the measured process do not change during the window, and from the utime and
stime of ``/proc/PID/stat`` (10 ms ticks, but counting threads that have exited, such as the
HTTP server's per-request threads) where they do. Wake-ups are the sum of voluntary and
involuntary context switches of every thread (``/proc/PID/task/*/status``): a thread that
sleeps and is woken again switches out once.
"""

from __future__ import annotations

import argparse
import bisect
import compileall
import contextlib
import itertools
import json
import math
import os
import platform
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tty
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the harness

import serial
from harness.balance import stage_steps, step_problems
from harness.common import HarnessError, free_port
from harness.config import channel_toml, sensor_toml
from harness.daemon import DaemonProcess, http_get
from harness.modbus_devices import ModbusDevices
from harness.notify import NotifyListener
from harness.proc import TaskSample, cpu_s, kill_group, rss_mib
from harness.pty import PtyPair, ptys
from harness.scrape import Scrape, quick_value
from harness.spawn import popen
from harness.wire import nmea
from prometheus_client import CollectorRegistry

import sensord
from sensord.capture import DEFAULT_RING_BYTES, CaptureJournal
from sensord.config import parse_config
from sensord.export import make_step_histogram, step_timer
from sensord.formats.crc import crc16_modbus
from sensord.log import configure as configure_logging
from sensord.pipeline import Chain
from sensord.reader import Reader
from sensord.sensor import SensorRuntime
from sensord.stage import DEFAULT_SAMPLE_EVERY

REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve()
PYTHON = sys.executable

#: 115200 baud with 8N1 framing carries 11520 bytes/s: 1646 seven-byte lines per second.
LINE_RATE_HZ = 1646
LINE_BYTES = 7
LINE_BYTES_PER_S = LINE_RATE_HZ * LINE_BYTES
BAUD_BYTES_PER_S = 11520
PACKET_BYTES = 64
TICK_S = 0.001
BURST_LINES = 26
BURST_PERIOD_S = 0.016
PORTS = 64
FLAT_CHUNK_BYTES = 4096


class BenchError(HarnessError):
    """A scenario could not produce a figure (a process failed, lines were lost, ...); the
    harness raises its HarnessError for the same kind of failure."""


# -- streams -------------------------------------------------------------------------------------


class Stream:
    """A byte stream that repeats a block of units (lines or sentences) forever."""

    def __init__(self, units: Sequence[bytes]) -> None:
        self.block = b"".join(units)
        self.count = len(units)
        self.size = len(self.block)
        self.mean_unit_bytes = self.size / self.count
        #: ends[i]: offset in the block just after unit i
        self.ends = list(itertools.accumulate(len(u) for u in units))
        self._twice = memoryview(self.block * 2)

    def end_of(self, units: int) -> int:
        """The stream offset just after the first ``units`` units."""
        full, rest = divmod(units, self.count)
        return full * self.size + (self.ends[rest - 1] if rest else 0)

    def units_in(self, size: int) -> int:
        """How many whole units the first ``size`` bytes hold."""
        full, rest = divmod(size, self.size)
        return full * self.count + bisect.bisect_right(self.ends, rest)

    def chunk(self, offset: int, size: int) -> memoryview:
        start = offset % self.size
        return self._twice[start : start + min(size, self.size)]


def value_lines(count: int = 1000) -> list[bytes]:
    """Seven-byte lines ``10.000\\n`` .. ``99.999\\n`` in a scrambled order."""
    return [f"{10 + (i * 7919) % 90000 / 1000:06.3f}\n".encode() for i in range(count)]


def nmea_sentences(count: int = 20000) -> list[bytes]:
    """Alternating GGA and RMC sentences with checksums, one epoch (second) per pair."""
    sentences: list[bytes] = []
    for i in range(count):
        epoch = i // 2
        stamp = f"{epoch // 3600 % 24:02d}{epoch // 60 % 60:02d}{epoch % 60:02d}.00"
        if i % 2 == 0:
            altitude = 500 + (i % 200) / 10
            body = f"GPGGA,{stamp},4807.038,N,01131.000,E,1,08,0.9,{altitude:.1f},M,46.9,M,,"
        else:
            speed = (i % 300) / 10
            body = f"GPRMC,{stamp},A,4807.038,N,01131.000,E,{speed:05.1f},084.4,230394,003.1,W"
        sentences.append(nmea(body) + b"\r\n")
    return sentences


#: A PMS5003 frame's length, and what one port carries at the sensor's rate (a frame a second).
PMS_FRAME_BYTES = 32


def pms_frames(count: int = 1000, garbage_every: int = 10) -> list[bytes]:
    """PMS5003 frames, one in ``garbage_every`` (0: none) after 12 bytes of garbage that hold a
    false start (``42 4D`` and a length the preset refuses); each unit is one frame with the
    garbage before it."""
    units: list[bytes] = []
    for i in range(count):
        body = b"\x42\x4d\x00\x1c" + b"".join(
            ((i * 7 + k * 131) % 1000).to_bytes(2, "big") for k in range(13)
        )
        frame = body + (sum(body) % 65536).to_bytes(2, "big")
        dirty = garbage_every and i % garbage_every == 0
        garbage = bytes([0x55, 0x42, 0x4D, 0x00, 0x99, 0xA5] * 2) if dirty else b""
        units.append(garbage + frame)
    return units


STREAMS: dict[str, Callable[[], Stream]] = {
    "value": lambda: Stream(value_lines()),
    "nmea": lambda: Stream(nmea_sentences()),
    "pms": lambda: Stream(pms_frames()),
    "pms_clean": lambda: Stream(pms_frames(garbage_every=0)),
}


# -- child roles ---------------------------------------------------------------------------------


def _sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


def role_writer(spec: dict[str, Any]) -> int:
    """Write ``units`` units of the stream to every fd in the pattern; report what was written.

    Prints ``start <monotonic time>`` when the first write is due and, at the end, one JSON
    line: units written per fd, elapsed time, and the largest lateness behind the schedule.
    """
    stream = STREAMS[spec["stream"]]()
    fds: list[int] = spec["fds"]
    units: int = spec["units"]
    pattern: str = spec["pattern"]
    end = stream.end_of(units)
    pos = [0] * len(fds)
    late_s = 0.0
    start = time.monotonic()
    hard_stop = start + float(spec["deadline_s"])
    print(f"start {start!r}", flush=True)
    if pattern == "flat":
        fd = fds[0]
        os.set_blocking(fd, True)
        while pos[0] < end:
            piece = stream.chunk(pos[0], min(FLAT_CHUNK_BYTES, end - pos[0]))
            _write_all(fd, piece)
            pos[0] += len(piece)
    elif pattern in ("line", "burst"):
        fd = fds[0]
        os.set_blocking(fd, True)
        per_write = 1 if pattern == "line" else int(spec["burst"])
        period = 1.0 / float(spec["rate_hz"]) if pattern == "line" else float(spec["period_s"])
        written = 0
        for k in itertools.count():
            if written >= units or time.monotonic() > hard_stop:
                break
            due = start + k * period
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                late_s = max(late_s, -delay)
            upto = min(units, written + per_write)
            piece = stream.chunk(pos[0], stream.end_of(upto) - pos[0])
            _write_all(fd, piece)
            pos[0] += len(piece)
            written = upto
    elif pattern == "packet":
        packet = int(spec["packet"])
        interval = packet / float(spec["bytes_per_s"])
        count = len(fds)
        due_at = [start + interval * i / count for i in range(count)]
        target = [0] * count
        for fd in fds:
            os.set_blocking(fd, False)
        active = list(range(count))
        while active and time.monotonic() < hard_stop:
            now = time.monotonic()
            still: list[int] = []
            for i in active:
                if now >= due_at[i] and pos[i] == target[i]:
                    late_s = max(late_s, now - due_at[i])
                    target[i] = min(end, target[i] + packet)
                    due_at[i] += interval
                if pos[i] < target[i]:
                    try:
                        pos[i] += os.write(fds[i], stream.chunk(pos[i], target[i] - pos[i]))
                    except BlockingIOError:
                        pass
                    except OSError:
                        continue  # the port is gone: stop writing to it
                if pos[i] < end:
                    still.append(i)
            active = still
            _sleep_until(start + TICK_S * math.ceil((time.monotonic() - start) / TICK_S + 1e-9))
    elif pattern == "flood":
        # every port as fast as its reader takes the bytes: a write whenever the pty has room
        poller = select.poll()
        index = {fd: i for i, fd in enumerate(fds)}
        for fd in fds:
            os.set_blocking(fd, False)
            poller.register(fd, select.POLLOUT)
        left = len(fds)
        while left and time.monotonic() < hard_stop:
            for fd, events in poller.poll(100):
                i = index[fd]
                gone = not events & select.POLLOUT
                if not gone:
                    try:
                        size = min(FLAT_CHUNK_BYTES, end - pos[i])
                        pos[i] += os.write(fd, stream.chunk(pos[i], size))
                    except BlockingIOError:
                        pass
                    except OSError:
                        gone = True
                if gone or pos[i] >= end:  # a port that is gone, or done: stop writing to it
                    poller.unregister(fd)
                    left -= 1
    else:
        raise SystemExit(f"unknown pattern {pattern!r}")
    elapsed = time.monotonic() - start
    result = {"units": [stream.units_in(p) for p in pos], "elapsed_s": elapsed, "late_s": late_s}
    print(json.dumps(result), flush=True)
    return 0


def role_consume(spec: dict[str, Any]) -> int:
    """Read ``paths`` until ``lines`` lines are framed; report this process's CPU time.

    ``impl`` ``sensord``: the Reader loop with SerialSource and the Framer, parsing and stages
    cut off. ``raw``: epoll, a non-blocking ``os.read`` and ``bytes.split``. Prints ``ready``
    once the ports are open, then one JSON line.
    """
    paths: list[str] = spec["paths"]
    total: int = spec["lines"]
    timeout_s = float(spec["timeout_s"])
    if spec["impl"] == "raw":
        result = _consume_raw(paths, total, timeout_s)
    else:
        sensor = pms_sensor if spec.get("sensor") == "pms" else value_sensor
        result = _consume_sensord(paths, total, timeout_s, sensor)
    print(json.dumps(result), flush=True)
    return 0


def _consume_raw(paths: list[str], total: int, timeout_s: float) -> dict[str, Any]:
    fds: list[int] = []
    epoll = select.epoll()
    for path in paths:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(fd)
        epoll.register(fd, select.EPOLLIN)
        fds.append(fd)
    pending = dict.fromkeys(fds, b"")
    print("ready", flush=True)
    lines = reads = 0
    started = time.monotonic()
    cpu0 = time.process_time()
    while lines < total:
        events = epoll.poll(1.0)
        if not events and time.monotonic() - started > timeout_s:
            break
        for fd, _ in events:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            reads += 1
            parts = (pending[fd] + data).split(b"\n")
            pending[fd] = parts.pop()
            lines += len(parts)
    cpu = time.process_time() - cpu0
    return {"cpu_s": cpu, "lines": lines, "reads": reads, "wall_s": time.monotonic() - started}


def _consume_sensord(
    paths: list[str], total: int, timeout_s: float, sensor: Callable[[str, str], str]
) -> dict[str, Any]:
    class FramingOnly(SensorRuntime):
        """A sensor whose chunks stop at the framer (the P1 scope: reader and framing)."""

        reads = 0

        def feed(self, chunk: bytes) -> None:
            self.reads += 1
            self.bytes_read += len(chunk)
            self.framer.feed(chunk)

    configure_logging("error", "json", sys.stderr)  # structlog's default prints to stdout
    config = parse_config(
        sensord_config([sensor(f"p{i:02d}", path) for i, path in enumerate(paths)])
    )
    sensors = [FramingOnly(sensor) for sensor in config.sensors]
    reader = Reader(sensors)
    reader.wake()  # the first pass opens the ports; the wake-up ends its select at once
    reader.run(until=lambda: all(s.source is not None for s in sensors))
    print("ready", flush=True)
    started = time.monotonic()
    only = sensors[0] if len(sensors) == 1 else None

    def done() -> bool:
        frames = only.framer.frames if only else sum(s.framer.frames for s in sensors)
        return frames >= total or time.monotonic() - started > timeout_s

    cpu0 = time.process_time()
    reader.run(until=done)
    cpu = time.process_time() - cpu0
    lines = sum(s.framer.frames for s in sensors)
    reads = sum(s.reads for s in sensors)
    reader.close()
    return {"cpu_s": cpu, "lines": lines, "reads": reads, "wall_s": time.monotonic() - started}


def role_chain(spec: dict[str, Any]) -> int:
    """P3: push the same batches through an instrumented and a bare chain, alternating."""

    def build() -> Chain:
        return Chain.build(
            filter_min=-40.0, filter_max=125.0, from_unit="celsius", to_unit="kelvin"
        )

    registry = CollectorRegistry()
    histogram = make_step_histogram(registry)
    instrumented, bare = build(), build()
    instrumented.instrument(lambda step: step_timer(histogram, step, DEFAULT_SAMPLE_EVERY))
    count, size = int(spec["readings"]), int(spec["batch"])
    values = [10 + (i * 7919) % 90000 / 1000 for i in range(count)]
    # as SensorRuntime drains a chunk: its values, and the chunk's monotonic and wall times
    batches = [
        (values[i : i + size], "bench", "temperature", i * 1e-3, 1.7e9 + i)
        for i in range(0, count, size)
    ]
    for chain in (instrumented, bare):  # warm up: fill the windows, bind the histogram children
        for batch in batches[:200]:
            chain.drain_values(*batch)
    rates: dict[str, list[float]] = {"instrumented": [], "bare": []}
    for _ in range(int(spec["reps"])):
        for name, chain in (("instrumented", instrumented), ("bare", bare)):
            drain = chain.drain_values
            cpu0 = time.process_time()
            for batch in batches:
                drain(*batch)
            rates[name].append(count / (time.process_time() - cpu0))
    pushed = count * int(spec["reps"]) + sum(len(b[0]) for b in batches[:200])
    # every reading is inside the filter's bounds and converts to a finite kelvin: no drops
    balanced = not any(step_problems(stage_steps(c.stages)) for c in (instrumented, bare))
    complete = all(chain.stages[0].records_in == pushed for chain in (instrumented, bare))
    timed = bool(
        registry.get_sample_value("sensord_step_duration_seconds_count", {"step": "window"})
    )
    print(json.dumps({**rates, "balanced": balanced, "complete": complete, "timed": timed}))
    return 0


# -- configuration -------------------------------------------------------------------------------


SERIAL_115200 = 'simulate = "never"\nserial = { baudrate = 115200 }'


def value_sensor(name: str, path: str) -> str:
    temperature = channel_toml(
        "temperature",
        bounds=(-40.0, 125.0),
        normalize='from_unit = "celsius", to_unit = "kelvin"',
    )
    return sensor_toml(name, path, "value", SERIAL_115200, temperature, rate_hz=None)


def pms_sensor(name: str, path: str) -> str:
    return f"""
[[sensors]]
name = "{name}"
port = "{path}"
preset = "pms5003"
simulate = "never"
serial = {{ baudrate = 115200 }}
"""


def nmea_sensor(name: str, path: str) -> str:
    channels = [
        channel_toml("altitude", field="GGA.altitude", bounds=(-500.0, 20000.0)),
        channel_toml(
            "speed",
            field="RMC.speed",
            bounds=(0.0, 1000.0),
            normalize='from_unit = "knot", to_unit = "m/s"',
        ),
    ]
    return sensor_toml(name, path, "nmea", SERIAL_115200, channels, rate_hz=None)


def sensord_config(sensors: Sequence[str]) -> str:
    return '[http]\nlisten = "127.0.0.1"\n' + "".join(sensors)


# -- processes and /proc -------------------------------------------------------------------------

_children: list[subprocess.Popen[Any]] = []


def spawn(cmd: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """``cmd`` started as the test harness starts its processes (``harness.spawn.popen``:
    killed when the bench's process ends, however it ends), and kept for
    :func:`reap_children`."""
    proc = popen(cmd, **kwargs)
    _children.append(proc)
    return proc


def reap_children() -> None:
    """Kill every child this bench started that still runs (with its process group)."""
    for proc in _children:
        kill_group(proc)
    _children.clear()


class Writer:
    """A writer process (``role_writer``) on the master ends of ``ports``."""

    def __init__(self, ports: Sequence[PtyPair], **spec: Any) -> None:
        fds = [master_fd(p) for p in ports]
        spec = {"deadline_s": 600.0, **spec, "fds": fds}
        self.units: int = spec["units"]
        self.proc = spawn(
            [PYTHON, str(BENCH), "--role", "writer", "--spec", json.dumps(spec)],
            pass_fds=fds,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self._out: IO[str] = self.proc.stdout
        line = self._out.readline()
        if not line.startswith("start "):
            raise BenchError(f"the writer did not start: {line!r}")
        self.started = float(line.split()[1])

    def finish(self, timeout_s: float, *, complete: bool = True) -> dict[str, Any]:
        """Wait for the writer to end; its report, after checking that it wrote everything
        (unless ``complete`` is false: a writer stopped by its deadline)."""
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise BenchError("the writer did not finish in time") from None
        result: dict[str, Any] = json.loads(self._out.read())
        if complete and any(n != self.units for n in result["units"]):
            raise BenchError(f"the writer could not write every line: {result['units'][:4]}...")
        return result

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def master_fd(port: PtyPair) -> int:
    """The device end of ``port`` (open: the bench unplugs nothing)."""
    if port.master_fd is None:
        raise BenchError(f"{port.path}: the pty's master is closed")
    return port.master_fd


def start_sensord(
    tmp: Path,
    name: str,
    config: str,
    notify: NotifyListener | None,
    extra_args: Sequence[str] = (),
) -> DaemonProcess:
    """``sensord run`` with ``config`` in a session of its own (its workers die with it).

    cwd is not the repository, so that "-m sensord" imports the package the bench's own
    interpreter imports (the installed one, or one on PYTHONPATH).
    """
    env = {} if notify is None else {"NOTIFY_SOCKET": notify.address}
    daemon = DaemonProcess(
        extra_args,
        tmp_path=tmp,
        config=config,
        name=name,
        env=env,
        python=PYTHON,
        cwd=tmp,
        new_session=True,
    )
    _children.append(daemon.proc)
    return daemon


def wait_all_frames(daemon: DaemonProcess, units: int, timeout_s: float = 15.0) -> float:
    """Wait until every sensor framed exactly ``units`` frames; seconds waited."""
    expected = dict.fromkeys(daemon.frames(), units)
    return daemon.wait_frames(expected, timeout_s, exact=True, interval_s=0.05)


def wait_all_states(daemon: DaemonProcess, state: str, timeout_s: float) -> None:
    daemon.wait_state(state, None, timeout_s, interval_s=0.25)


def frames_total(daemon: DaemonProcess) -> float:
    return Scrape(daemon.metrics_text()).total("sensord_frames_total")


def ensure_gpsd() -> str | None:
    """The gpsd binary, installed from the distribution when missing; None if impossible."""
    found = shutil.which("gpsd") or shutil.which("gpsd", path="/usr/sbin:/sbin")
    if found:
        return found
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "gpsd"]
    log("P7: installing gpsd (apt-get install -y gpsd)")
    for attempt in ([], [[*prefix, "apt-get", "update", "-qq"]]):
        for cmd in [*attempt, install]:
            subprocess.run(cmd, env=env, check=False, capture_output=True)
        found = shutil.which("gpsd") or shutil.which("gpsd", path="/usr/sbin:/sbin")
        if found:
            return found
    return None


# -- results -------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Row:
    """One line of the table (and of the JSON)."""

    id: str
    scenario: str
    unit: str
    target: str
    measured: list[float] = field(default_factory=list)
    baseline_label: str = ""
    baseline: list[float] = field(default_factory=list)
    #: "le" / "ge": how ``limit`` applies to the median of ``ratios`` (when it has a
    #: baseline) or of ``measured``.
    comparison: str = "le"
    limit: float = 0.0
    ratio_target: bool = False
    #: every judged value (each pair's ratio, or each run's figure) must meet this too
    each_limit: float | None = None
    #: for a compared row: the median of ``measured`` must also meet this (an absolute bound)
    measured_limit: float | None = None
    ratios: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def judged(self) -> list[float]:
        return self.ratios if self.ratio_target else self.measured

    @property
    def passed(self) -> bool:
        if self.error or not self.judged:
            return False

        def meets(value: float, limit: float) -> bool:
            return value <= limit if self.comparison == "le" else value >= limit

        if not meets(statistics.median(self.judged), self.limit):
            return False
        if self.each_limit is not None and not all(meets(v, self.each_limit) for v in self.judged):
            return False
        return self.measured_limit is None or meets(
            statistics.median(self.measured), self.measured_limit
        )

    def add_pair(self, measured: float, baseline: float) -> None:
        if not baseline > 0:
            raise BenchError(f"{self.id}: the baseline measured {baseline}")
        self.measured.append(measured)
        self.baseline.append(baseline)
        self.ratios.append(measured / baseline)

    def as_json(self) -> dict[str, Any]:
        def summary(values: list[float]) -> dict[str, Any] | None:
            if not values:
                return None
            return {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
                "samples": values,
            }

        return {
            "id": self.id,
            "scenario": self.scenario,
            "unit": self.unit,
            "measured": summary(self.measured),
            "baseline_label": self.baseline_label or None,
            "baseline": summary(self.baseline),
            "ratio": summary(self.ratios),
            "target": self.target,
            "passed": self.passed,
            "notes": self.notes,
            "error": self.error or None,
        }


def num(value: float) -> str:
    if value == 0 or math.isinf(value):
        return f"{value:g}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.2g}" if magnitude < 0.01 else f"{value:.3f}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def spread(values: list[float], unit: str = "") -> str:
    if not values:
        return "-"
    text = num(statistics.median(values))
    if len(values) > 1:
        text += f" [{num(min(values))}-{num(max(values))}]"
    return f"{text} {unit}".rstrip()


def table_cells(rows: Sequence[Row]) -> list[tuple[str, ...]]:
    """The header and one tuple of cells per row."""
    header = ("", "scenario", "measured median [min-max]", "baseline / peer", "ratio", "target", "")
    lines: list[tuple[str, ...]] = [header]
    for row in rows:
        baseline = "-"
        if row.baseline:
            baseline = f"{row.baseline_label} {spread(row.baseline, row.unit)}"
        lines.append(
            (
                row.id,
                row.scenario,
                spread(row.measured, row.unit) if not row.error else "error",
                baseline,
                spread(row.ratios, "x") if row.ratios else "-",
                row.target,
                "pass" if row.passed else "FAIL",
            )
        )
    return lines


def notes(rows: Sequence[Row]) -> list[str]:
    found = [f"{row.id}: {note}" for row in rows for note in row.notes]
    return found + [f"{row.id}: error: {row.error}" for row in rows if row.error]


def table(rows: Sequence[Row]) -> str:
    lines = table_cells(rows)
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
           for line in lines]  # fmt: skip
    out.insert(1, "  ".join("-" * w for w in widths))
    found = notes(rows)
    return "\n".join(out + (["", *found] if found else []))


def markdown(rows: Sequence[Row], heading: str) -> str:
    """The table as Markdown (for docs/performance.md)."""
    lines = table_cells(rows)
    out = [heading, ""]
    out.append("| " + " | ".join(lines[0]) + " |")
    out.append("|" + "---|" * len(lines[0]))
    out += [
        "| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines[1:]
    ]
    found = notes(rows)
    return "\n".join(out + (["", *(f"* {note}" for note in found)] if found else [])) + "\n"


# -- plans ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    name: str
    p1_flat_reps: int
    p1_flat_lines: int
    p1_paced_reps: int
    p1_paced_s: float
    p3_reps: int
    p3_readings: int
    daemon_reps: int
    idle_s: float
    warm_s: float
    window_s: float
    p5_s: float
    p7_reps: int
    p7_s: float
    p9_reps: int
    p9_warm_s: float
    p9_window_s: float
    p12_s: float
    p14_reps: int
    p14_s: float
    modbus_reps: int = 3
    modbus_transactions: int = 500
    p11_s: float = 20.0
    p15_pairs: int = 7
    p15_feed_reps: int = 15
    p15_control_pairs: int = 3


FULL = Plan(
    "full",
    5,
    500_000,
    3,
    8.0,
    7,
    200_000,
    3,
    15.0,
    2.0,
    15.0,
    8.0,
    5,
    15.0,
    3,
    2.0,
    8.0,
    8.0,
    3,
    20.0,
)
QUICK = Plan(
    "quick",
    2,
    200_000,
    1,
    3.0,
    3,
    100_000,
    1,
    5.0,
    1.5,
    10.0,
    4.0,
    1,
    6.0,
    1,
    1.5,
    4.0,
    3.0,
    1,
    5.0,
    1,
    200,
    8.0,
    2,
    5,
    1,
)

#: P9's target: throughput with two workers over one process, on this two-core host where
#: the writer process and the kernel's pty work share the cores with sensord.
P9_LIMIT = 1.5

#: Readings per batch in P3: one 64-byte USB packet of seven-byte lines.
P3_BATCH = PACKET_BYTES // LINE_BYTES


# -- P1 ------------------------------------------------------------------------------------------


def consume_once(
    impl: str, pattern: dict[str, Any], lines: int, stream: str = "value"
) -> tuple[float, float]:
    """One P1 (P13: ``stream`` "pms") run: a consumer and a writer on a fresh pty; CPU ms per
    100k lines or frames, and lines per read."""
    with ptys(1) as (port,):
        consumer = spawn(
            [
                PYTHON,
                str(BENCH),
                "--role",
                "consume",
                "--spec",
                json.dumps(
                    {
                        "impl": impl,
                        "sensor": stream,
                        "paths": [port.path],
                        "lines": lines,
                        "timeout_s": 60,
                    }
                ),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        assert consumer.stdout is not None
        if consumer.stdout.readline().strip() != "ready":
            raise BenchError(f"the {impl} consumer did not start")
        writer = Writer([port], stream=stream, units=lines, **pattern)
        writer.finish(timeout_s=120)
        consumer.wait(90)
        result = json.loads(consumer.stdout.read())
    if result["lines"] != lines:
        raise BenchError(f"{impl}: {lines - result['lines']} of {lines} lines not framed (lost)")
    cpu_ms: float = result["cpu_s"] / lines * 1e5 * 1e3
    return cpu_ms, lines / max(1, result["reads"])


def scenario_p1(plan: Plan) -> list[Row]:
    patterns: list[tuple[str, str, dict[str, Any], int, float | None]] = [
        ("P1a", "reader+framing, flat out", {"pattern": "flat"}, plan.p1_flat_reps, None),
        (
            "P1b",
            f"reader+framing, 1 line/write at {LINE_RATE_HZ}/s",
            {"pattern": "line", "rate_hz": LINE_RATE_HZ},
            plan.p1_paced_reps,
            LINE_RATE_HZ,
        ),
        (
            "P1c",
            f"reader+framing, {BURST_LINES}-line bursts every 16 ms",
            {"pattern": "burst", "burst": BURST_LINES, "period_s": BURST_PERIOD_S},
            plan.p1_paced_reps,
            BURST_LINES / BURST_PERIOD_S,
        ),
    ]
    rows: list[Row] = []
    for row_id, title, pattern, reps, rate in patterns:
        lines = plan.p1_flat_lines if rate is None else int(rate * plan.p1_paced_s)
        row = Row(
            row_id,
            title,
            "ms/100k lines",
            "<= 2.0x raw, every pair",
            baseline_label="raw",
            limit=2.0,
            each_limit=2.0,
            ratio_target=True,
        )
        per_read: dict[str, list[float]] = {"sensord": [], "raw": []}
        try:
            for rep in range(reps):
                (a, a_per_read), (b, b_per_read) = (
                    consume_once("sensord", pattern, lines),
                    consume_once("raw", pattern, lines),
                )
                row.add_pair(a, b)
                per_read["sensord"].append(a_per_read)
                per_read["raw"].append(b_per_read)
                log(f"{row_id} run {rep + 1}/{reps}: sensord {num(a)} ms, raw {num(b)} ms")
            row.notes.append(
                f"{plural(reps, 'pair')} of {lines:,} lines, every line framed; lines per read: "
                f"sensord {spread(per_read['sensord'])}, raw {spread(per_read['raw'])}"
            )
        except HarnessError as exc:
            row.error = str(exc)
        rows.append(row)
    return rows


# -- P13 -----------------------------------------------------------------------------------------


def scenario_p13(plan: Plan) -> list[Row]:
    """Binary frames flat out: PMS5003 frames with garbage before one in ten, against value
    lines, both through the reader and the framer (the P1 scope), pairs interleaved."""
    frames = plan.p1_flat_lines // 4  # a 32-byte frame is four and a half value lines
    row = Row(
        "P13",
        "reader+framing, PMS5003 frames (10% after garbage) vs value lines, flat out",
        "ms/100k frames",
        "<= 2.0x value",
        baseline_label="value",
        limit=2.0,
        ratio_target=True,
    )
    try:
        for rep in range(plan.p1_flat_reps):
            a, _ = consume_once("sensord", {"pattern": "flat"}, frames, stream="pms")
            b, _ = consume_once("sensord", {"pattern": "flat"}, plan.p1_flat_lines)
            row.add_pair(a, b)
            log(f"P13 run {rep + 1}/{plan.p1_flat_reps}: frames {num(a)} ms, lines {num(b)} ms")
        row.notes.append(
            f"{plural(plan.p1_flat_reps, 'pair')}: {frames:,} frames and "
            f"{plan.p1_flat_lines:,} lines, every one framed"
        )
    except BenchError as exc:
        row.error = str(exc)
    return [row]


# -- P14 -----------------------------------------------------------------------------------------


def pms_rate_once(plan: Plan, tmp: Path, rep: int) -> tuple[float, str]:
    """One P14 run: the daemon with PORTS PMS5003 sensors on ptys, each sent one 32-byte frame
    a second; the daemon's CPU (% of a core) over ``plan.p14_s`` after ``plan.warm_s``."""
    units = math.ceil(plan.warm_s + plan.p14_s) + 1  # frames per port
    with ptys(PORTS) as ports:
        config = sensord_config([pms_sensor(f"s{i:02d}", p.path) for i, p in enumerate(ports)])
        daemon = start_sensord(tmp, f"p14-{rep}", config, None)
        try:
            daemon.wait_http(20)
            wait_all_states(daemon, "up", 10)
            writer = Writer(
                ports,
                stream="pms_clean",
                pattern="packet",
                units=units,
                bytes_per_s=PMS_FRAME_BYTES,
                packet=PMS_FRAME_BYTES,
            )
            _sleep_until(writer.started + plan.warm_s)  # the threads that served /status end
            before = TaskSample.take(daemon.pid)
            time.sleep(plan.p14_s)
            after = TaskSample.take(daemon.pid)
            cpu_pct = after.cpu_since(before) / (after.at - before.at) * 100
            written = writer.finish(units + 30)
            wait_all_frames(daemon, units)
        finally:
            daemon.kill()
    note = (
        f"run {rep + 1}: {PORTS}x{units} frames at 1/s, none lost; writer "
        f"{written['late_s'] * 1e3:.1f} ms behind its schedule at most"
    )
    return cpu_pct, note


def scenario_p14(plan: Plan, tmp: Path) -> list[Row]:
    """PMS5003 sensors at their real rate: what a port costs the daemon when it carries one
    32-byte frame a second (the full pipeline: framing, 12 channels, their stages)."""
    row = Row(
        "P14",
        f"{PORTS} PMS5003 ports x 1 frame/s, full pipeline: CPU",
        "% core",
        "<= 0.5% core, 0 lost",
        limit=0.5,
    )
    try:
        for rep in range(plan.p14_reps):
            cpu_pct, note = pms_rate_once(plan, tmp, rep)
            row.measured.append(cpu_pct)
            row.notes.append(note)
            log(f"P14 run {rep + 1}/{plan.p14_reps}: {cpu_pct:.3f}% core")
    except HarnessError as exc:
        row.error = str(exc)
    return [row]


# -- P10, P11: Modbus -----------------------------------------------------------------------------

#: The input registers every simulated unit holds (unit * 100 + address), and what is read.
MODBUS_REGISTERS = 2

#: P10's poll interval: sensord's shortest, and the pace of pymodbus's loop beside it.
P10_INTERVAL_S = 0.01


def _modbus_devices(path: str, units: Sequence[int], interval_s: float, timeout_s: float) -> str:
    tables = []
    for unit in units:
        tables.append(
            f"""
[[sensors]]
name = "unit{unit}"
port = "{path}"
format = "modbus"
serial = {{ baudrate = 115200 }}
modbus = {{ unit = {unit}, interval_s = {interval_s}, timeout_s = {timeout_s} }}
registers = [{{ name = "v", table = "input", address = 0, type = "uint32" }}]
channels = [{{ name = "v" }}]
"""
        )
    return "".join(tables)


def role_modbus_client(spec: dict[str, Any]) -> int:
    """``transactions`` reads of two input registers from unit 1 at ``path``, one every
    ``interval_s``: by sensord's reader loop (``impl`` sensord, the device polled at that
    interval) or pymodbus's synchronous ModbusSerialClient in a loop that sleeps until the
    next read is due, one interval after the last was due (``impl`` pymodbus; with
    ``interval_s`` 0 it reads back to back). Prints the CPU seconds of the reads after the
    first (this process, every thread)."""
    path: str = spec["path"]
    total: int = spec["transactions"]
    interval_s: float = spec["interval_s"]
    if spec["impl"] == "floor":
        return _modbus_floor(path, total, interval_s)
    if spec["impl"] == "pymodbus":
        from pymodbus.client import ModbusSerialClient  # noqa: PLC0415 - this role only

        client = ModbusSerialClient(port=path, baudrate=115200, timeout=1.0, retries=0)
        if not client.connect():
            raise SystemExit(f"pymodbus could not open {path}")
        client.read_input_registers(0, count=MODBUS_REGISTERS, device_id=1)
        start = time.process_time()
        good = 0
        due = time.monotonic()
        for _ in range(total):
            due += interval_s
            wait_s = due - time.monotonic()
            if wait_s > 0:
                time.sleep(wait_s)
            response = client.read_input_registers(0, count=MODBUS_REGISTERS, device_id=1)
            good += 0 if response.isError() else 1
        cpu = time.process_time() - start
        client.close()  # type: ignore[no-untyped-call]
    else:
        configure_logging("warning", "json", sys.stderr)
        config = parse_config(_modbus_devices(path, [1], interval_s, 1.0))
        runtime = SensorRuntime(config.sensors[0])
        counters = runtime.modbus
        assert counters is not None
        marks: dict[str, float] = {}

        def done() -> bool:
            if "start" not in marks and counters.transactions >= 1:
                marks["start"] = time.process_time()
            return counters.transactions >= total + 1

        with Reader([runtime]) as reader:
            deadline = time.monotonic() + 120
            reader.run(until=lambda: done() or time.monotonic() > deadline)
        cpu = time.process_time() - marks.get("start", time.process_time())
        good = counters.transactions - 1
    print(json.dumps({"cpu_s": cpu, "transactions": good}), flush=True)
    return 0


def _modbus_floor(path: str, total: int, interval_s: float) -> int:
    """The system calls of a transaction and nothing else: sleep until due, write the request
    (fixed bytes), wait in epoll until the 9-byte reply is in, read it. No checking, no
    decoding, no stages: what any client on this host pays per transaction at the least."""
    body = bytes([1, 4, 0, 0, 0, MODBUS_REGISTERS])
    request = body + crc16_modbus(body).to_bytes(2, "little")
    reply_bytes = 5 + 2 * MODBUS_REGISTERS
    port = serial.Serial(path, 115200, timeout=0)
    fd = port.fileno()
    poller = select.epoll()
    poller.register(fd, select.EPOLLIN)
    start = time.process_time()
    good = 0
    due = time.monotonic()
    for _ in range(total):
        due += interval_s
        wait_s = due - time.monotonic()
        if wait_s > 0:
            time.sleep(wait_s)
        os.write(fd, request)
        got = 0
        deadline = time.monotonic() + 1.0
        while got < reply_bytes and time.monotonic() < deadline:
            poller.poll(1.0)
            got += len(os.read(fd, 256))
        good += got == reply_bytes
    cpu = time.process_time() - start
    poller.close()
    port.close()
    print(json.dumps({"cpu_s": cpu, "transactions": good}), flush=True)
    return 0


def role_modbus_intervals(spec: dict[str, Any]) -> int:
    """Poll ``units`` on one bus at ``path`` for ``seconds``; print, for the units that
    answered, the times between their consecutive answered polls."""
    configure_logging("warning", "json", sys.stderr)
    units: list[int] = spec["units"]
    config = parse_config(
        _modbus_devices(path=spec["path"], units=units, interval_s=1.0, timeout_s=0.5)
    )
    runtimes = [SensorRuntime(s) for s in config.sensors]
    seen = [0] * len(runtimes)
    stamps: list[list[float]] = [[] for _ in runtimes]
    end = time.monotonic() + float(spec["seconds"])

    def until() -> bool:
        now = time.monotonic()
        for i, runtime in enumerate(runtimes):
            counters = runtime.modbus
            assert counters is not None
            if counters.transactions != seen[i]:
                seen[i] = counters.transactions
                stamps[i].append(now)
        return now > end

    with Reader(runtimes) as reader:
        reader.run(until=until)
    intervals = {
        runtime.name: [b - a for a, b in itertools.pairwise(times)]
        for runtime, times in zip(runtimes, stamps, strict=True)
        if len(times) > 1
    }
    timeouts = {r.name: r.modbus.timeouts if r.modbus else 0 for r in runtimes}
    print(json.dumps({"intervals": intervals, "timeouts": timeouts}), flush=True)
    return 0


def modbus_devices(units: Sequence[int], silent: Sequence[int] = ()) -> ModbusDevices:
    """Modbus RTU devices ``units`` on a pty, served by a process of their own
    (``harness.modbus_devices``): their CPU is not measured. Each holds ``unit * 100 +
    address`` in its first MODBUS_REGISTERS input registers; requests to ``silent`` unit ids
    get no answer (dead devices)."""
    values = [
        (unit, "input", 0, [unit * 100 + a for a in range(MODBUS_REGISTERS)]) for unit in units
    ]
    devices = ModbusDevices(units, values, silent=silent)
    try:
        devices.start()
    except HarnessError as exc:
        raise BenchError(str(exc)) from None
    if devices.proc is not None:
        _children.append(devices.proc)
    return devices


def _modbus_role(role: str, spec: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    proc = spawn(
        [PYTHON, str(BENCH), "--role", role, "--spec", json.dumps(spec)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise BenchError(f"{role} did not finish in {timeout_s:g} s") from None
    if proc.returncode != 0:
        raise BenchError(f"{role} failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def scenario_p10(plan: Plan) -> list[Row]:
    """CPU per Modbus RTU transaction: sensord's bus on its reader loop against pymodbus's own
    synchronous client, both reading once every P10_INTERVAL_S from the same pymodbus server
    on a pty, pairs interleaved. pymodbus's loop is also run back to back (the notes): a
    process that sleeps between reads pays for waking up at every read, one that does not
    pays less, so only the paced loop compares with a poller."""
    row = Row(
        "P10",
        "Modbus RTU transaction (2 input registers) every 10 ms vs pymodbus's ModbusSerialClient",
        "us CPU/transaction",
        "<= 0.5x pymodbus",
        baseline_label="pymodbus",
        limit=0.5,
        ratio_target=True,
    )
    devices: ModbusDevices | None = None
    try:
        devices = modbus_devices([1])
        back_to_back: list[float] = []
        floor: list[float] = []
        for rep in range(plan.modbus_reps):
            results = {}
            for name, impl, interval_s in (
                ("sensord", "sensord", P10_INTERVAL_S),
                ("pymodbus", "pymodbus", P10_INTERVAL_S),
                ("back to back", "pymodbus", 0.0),
                ("floor", "floor", P10_INTERVAL_S),
            ):
                spec = {
                    "impl": impl,
                    "path": devices.path,
                    "transactions": plan.modbus_transactions,
                    "interval_s": interval_s,
                }
                result = _modbus_role("modbus-client", spec, 180)
                if result["transactions"] != plan.modbus_transactions:
                    raise BenchError(
                        f"{name}: {result['transactions']} of {plan.modbus_transactions} reads "
                        "answered"
                    )
                results[name] = result["cpu_s"] / result["transactions"] * 1e6
            row.add_pair(results["sensord"], results["pymodbus"])
            back_to_back.append(results["back to back"])
            floor.append(results["floor"])
            log(
                f"P10 run {rep + 1}/{plan.modbus_reps}: sensord {num(results['sensord'])} us, "
                f"pymodbus {num(results['pymodbus'])} us, pymodbus back to back "
                f"{num(results['back to back'])} us, system calls alone {num(results['floor'])} us"
            )
        row.notes.append(
            f"{plural(plan.modbus_reps, 'pair')} of {plan.modbus_transactions:,} reads each, "
            f"one every {P10_INTERVAL_S * 1e3:g} ms, every one answered; pymodbus's loop back "
            f"to back: {spread(back_to_back)} us CPU/transaction, sensord "
            f"{spread([m / b for m, b in zip(row.measured, back_to_back, strict=True)])}x that"
        )
        row.notes.append(
            "the system calls of a transaction alone (sleep, write, epoll, read; a loop that "
            f"neither checks nor decodes): {spread(floor)} us CPU/transaction, "
            f"{spread([f / p for f, p in zip(floor, row.baseline, strict=True)])}x pymodbus"
        )
    except BenchError as exc:
        row.error = str(exc)
    finally:
        if devices is not None:
            devices.stop()
    return [row]


def scenario_p11(plan: Plan) -> list[Row]:
    """10 devices polled every 1 s on one RTU bus, timeout 0.5 s, one of them dead: the
    intervals the nine healthy devices achieve."""
    median_row = Row(
        "P11a",
        "10 Modbus devices every 1 s, one dead (timeout 0.5 s): healthy interval, median",
        "s",
        "<= 1.1 s",
        limit=1.1,
    )
    p95_row = Row(
        "P11b",
        "10 Modbus devices every 1 s, one dead (timeout 0.5 s): healthy interval, p95",
        "s",
        "<= 1.1 s",
        limit=1.1,
    )
    devices: ModbusDevices | None = None
    try:
        devices = modbus_devices(range(1, 10), silent=[10])
        for rep in range(plan.modbus_reps):
            spec = {"path": devices.path, "units": list(range(1, 11)), "seconds": plan.p11_s}
            result = _modbus_role("modbus-intervals", spec, plan.p11_s + 60)
            healthy = [v for name, v in result["intervals"].items() if name != "unit10"]
            if len(healthy) != 9:
                raise BenchError(f"only {len(healthy)} of 9 healthy devices answered twice")
            if result["timeouts"]["unit10"] == 0:
                raise BenchError("the dead device never timed out")
            values = sorted(x for device in healthy for x in device)
            median_row.measured.append(statistics.median(values))
            p95_row.measured.append(values[min(len(values) - 1, int(0.95 * len(values)))])
            log(
                f"P11 run {rep + 1}/{plan.modbus_reps}: median {num(median_row.measured[-1])} s, "
                f"p95 {num(p95_row.measured[-1])} s, dead device "
                f"{result['timeouts']['unit10']} timeouts"
            )
        for row in (median_row, p95_row):
            row.notes.append(
                f"{plural(plan.modbus_reps, 'run')} of {plan.p11_s:g} s; a scheduler that waits "
                "out every timeout would give 1.5 s"
            )
    except BenchError as exc:
        median_row.error = p95_row.error = str(exc)
    finally:
        if devices is not None:
            devices.stop()
    return [median_row, p95_row]


# -- P3 ------------------------------------------------------------------------------------------


def scenario_p3(plan: Plan) -> list[Row]:
    row = Row(
        "P3",
        f"chain throughput, default timing vs none (batches of {P3_BATCH})",
        "k readings/s",
        ">= 0.80x bare",
        baseline_label="bare",
        comparison="ge",
        limit=0.80,
        ratio_target=True,
    )
    spec = {"readings": plan.p3_readings, "batch": P3_BATCH, "reps": plan.p3_reps}
    done = subprocess.run(
        [PYTHON, str(BENCH), "--role", "chain", "--spec", json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if done.returncode != 0:
        row.error = f"the chain benchmark failed: {done.stderr.strip()[-300:]}"
        return [row]
    result = json.loads(done.stdout)
    try:
        for a, b in zip(result["instrumented"], result["bare"], strict=True):
            row.add_pair(a / 1e3, b / 1e3)
    except HarnessError as exc:
        row.error = str(exc)
        return [row]
    if not (result["balanced"] and result["complete"] and result["timed"]):
        row.error = f"counter check failed: {result}"
    else:
        row.notes.append(
            f"{plural(plan.p3_reps, 'pair')} of {plan.p3_readings:,} readings; in == out + "
            "dropped in every stage; every reading counted"
        )
    log(f"P3: ratios {[num(r) for r in row.ratios]}")
    return [row]


# -- P2, P4, P5, P6, P8 (the daemon with 64 ports) ------------------------------------------


@dataclass
class DaemonRun:
    ready_s: float = 0.0
    idle_cpu_pct: float = 0.0
    idle_wakeups: float = 0.0
    load_cpu_pct: float = 0.0
    rss_mib: float = 0.0
    rss_growth_mib: float = 0.0
    readings: int = 0
    scrape_ms: list[float] = field(default_factory=list)
    exit_s: float = 0.0
    quiet: Latency = field(default_factory=lambda: Latency([], []))
    loaded: Latency = field(default_factory=lambda: Latency([], []))
    load_note: str = ""
    scrape_note: str = ""


#: P12: one probe line every this many seconds (longer than a /metrics scrape under load)
PROBE_PERIOD_S = 0.25
#: the default ``[reader] batch_interval_s``, which P12's target allows on top of 5 ms
BATCH_INTERVAL_S = 0.02


@dataclass
class Latency:
    """P12: per probe line, ms from its write to the reading's timestamp and to the end of
    the first /metrics response that shows it."""

    to_timestamp_ms: list[float]
    to_metrics_ms: list[float]


def probe_latency(daemon: DaemonProcess, port: PtyPair, sensor: str, seconds: float) -> Latency:
    """Write one line at a time to ``port``, each a value not sent before, one every
    ``PROBE_PERIOD_S``. Even lines are left alone until just before the next write and then
    read from one ``/metrics`` (their value and its timestamp); odd lines are looked for at
    once, ``/metrics`` asked 5 ms after each answer without them, each on a new connection, to
    time when they become visible. A scrape costs the daemon CPU, so the timestamps are taken
    from the lines nothing was looking for while they went through.

    The reading's timestamp (``sensord_reading_timestamp_seconds``) is the wall time at which
    sensord read the chunk, on the same host clock as the write's."""
    fd = master_fd(port)
    latency = Latency([], [])
    labels = {"sensor": sensor, "channel": "temperature"}
    count = 2 * max(1, round(seconds / PROBE_PERIOD_S / 2))
    start = time.monotonic()
    for i in range(count):
        _sleep_until(start + i * PROBE_PERIOD_S)
        celsius = -30.0 + 0.5 * i  # distinct, inside the channel's filter bounds
        kelvin = celsius + 273.15
        line = f"{celsius:.1f}\n".encode()
        written = time.time()  # the write returns after the reader may have taken the line
        os.write(fd, line)
        watched = i % 2 == 1
        if not watched:
            _sleep_until(start + (i + 1) * PROBE_PERIOD_S - 0.03)
        while True:
            _, body = http_get(daemon.port, "/metrics")
            seen = time.time()
            text = body.decode()  # searched, not parsed whole: parsing would add its time
            value = quick_value(text, "sensord_reading_value", **labels)
            if value is not None and abs(value - kelvin) < 1e-6:
                stamp = quick_value(text, "sensord_reading_timestamp_seconds", **labels)
                if stamp is None:
                    raise BenchError(f"P12: {sensor} has a value but no timestamp on /metrics")
                if watched:
                    latency.to_metrics_ms.append((seen - written) * 1e3)
                else:
                    latency.to_timestamp_ms.append((stamp - written) * 1e3)
                break
            if seen - written > 5.0:
                raise BenchError(f"P12: {line!r} on {sensor} not on /metrics after 5 s")
            time.sleep(0.005)
    return latency


def percentile(values: Sequence[float], pct: int) -> float:
    """The ``pct``-th percentile (linear interpolation; the value itself for one sample)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def packet_writer(ports: Sequence[PtyPair], seconds: float, **extra: Any) -> Writer:
    units = round(LINE_RATE_HZ * seconds)
    return Writer(
        ports,
        stream="value",
        pattern="packet",
        units=units,
        bytes_per_s=LINE_BYTES_PER_S,
        packet=PACKET_BYTES,
        **extra,
    )


def daemon_run(plan: Plan, tmp: Path, rep: int) -> DaemonRun:
    run = DaemonRun()
    notify = NotifyListener(tmp, name=f"notify-{rep}.sock")
    with ptys(PORTS) as ports, contextlib.closing(notify):
        config = sensord_config([value_sensor(f"s{i:02d}", p.path) for i, p in enumerate(ports)])
        daemon = start_sensord(tmp, f"p2-{rep}", config, notify)
        try:
            # P8: start to READY=1
            run.ready_s = notify.wait_for("READY=1", 30) - daemon.started
            daemon.wait_http(20)
            wait_all_states(daemon, "up", 10)
            # P4: idle, once every sensor has gone stale (no frames for 5 s): the steady state
            wait_all_states(daemon, "stale", 15)
            time.sleep(1.0)  # let the threads that served /status end
            before = TaskSample.take(daemon.pid)
            time.sleep(plan.idle_s)
            after = TaskSample.take(daemon.pid)
            seconds = after.at - before.at
            run.idle_cpu_pct = after.cpu_since(before) / seconds * 100
            run.idle_wakeups = after.switches_since(before) / seconds
            # P2 and P6: full load, /metrics every second
            writer = packet_writer(ports, plan.warm_s + plan.window_s + 0.5)
            _sleep_until(writer.started + plan.warm_s)
            cpu0, rss0, t0 = cpu_s(daemon.pid), rss_mib(daemon.pid), time.monotonic()
            frames0 = frames_total(daemon)
            for k in itertools.count(1):
                if t0 + k >= t0 + plan.window_s - 0.5:
                    break
                _sleep_until(t0 + k)
                daemon.metrics_text()
            _sleep_until(t0 + plan.window_s)
            cpu1, rss1, t1 = cpu_s(daemon.pid), rss_mib(daemon.pid), time.monotonic()
            frames1 = frames_total(daemon)
            run.load_cpu_pct = (cpu1 - cpu0) / (t1 - t0) * 100
            run.rss_mib, run.rss_growth_mib = rss1, rss1 - rss0
            run.readings = int(frames1 - frames0)
            written = writer.finish(30)
            backlog = wait_all_frames(daemon, writer.units)
            total = writer.units
            run.load_note = (
                f"run {rep + 1}: {PORTS}x{writer.units:,} lines, none lost; all framed "
                f"{backlog:.2f} s after the writer ended; writer {written['late_s'] * 1e3:.1f} "
                "ms behind its schedule at most"
            )
            # P5: /metrics at 10/s under the same load
            writer = packet_writer(ports, plan.p5_s + 1.0)
            _sleep_until(writer.started + 0.5)
            t5 = time.monotonic()
            for k in itertools.count():
                when = t5 + k * 0.1
                if when > t5 + plan.p5_s:
                    break
                _sleep_until(when)
                latency, _ = http_get(daemon.port, "/metrics")
                run.scrape_ms.append(latency * 1e3)
            writer.finish(30)
            total += writer.units
            wait_all_frames(daemon, total)
            run.scrape_note = (
                f"run {rep + 1}: {PORTS}x{writer.units:,} lines, none lost; "
                f"{len(run.scrape_ms)} scrapes, median {statistics.median(run.scrape_ms):.1f} "
                f"ms, slowest {max(run.scrape_ms):.1f} ms"
            )
            # P12: latency of one line, on a quiet port, then on one port of 64 under load
            run.quiet = probe_latency(daemon, ports[0], "s00", plan.p12_s)
            writer = packet_writer(ports[1:], plan.warm_s + plan.p12_s + 1.0)
            _sleep_until(writer.started + plan.warm_s)
            run.loaded = probe_latency(daemon, ports[0], "s00", plan.p12_s)
            writer.finish(30)
            probes = sum(
                len(latency.to_timestamp_ms) + len(latency.to_metrics_ms)
                for latency in (run.quiet, run.loaded)
            )
            expected = dict.fromkeys(daemon.frames(), total + writer.units)
            expected["s00"] = total + probes
            daemon.wait_frames(expected, 15.0, exact=True, interval_s=0.05)
            # P8: SIGTERM under load
            writer = packet_writer(ports, 6.0, deadline_s=8.0)
            _sleep_until(writer.started + 2.0)
            run.exit_s, code = daemon.stop_timed()
            writer.kill()
            if code != 0:
                raise BenchError(f"sensord exited with {code} after SIGTERM")
        finally:
            daemon.kill()
    return run


def raw_load_run(plan: Plan) -> float:
    """P2 baseline: the raw read + split loop on the same 64 ports and load; % of one core."""
    with ptys(PORTS) as ports:
        seconds = plan.warm_s + plan.window_s + 0.5
        total = round(LINE_RATE_HZ * seconds) * PORTS
        spec = {"impl": "raw", "paths": [p.path for p in ports], "lines": total, "timeout_s": 60}
        consumer = spawn(
            [PYTHON, str(BENCH), "--role", "consume", "--spec", json.dumps(spec)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert consumer.stdout is not None
        if consumer.stdout.readline().strip() != "ready":
            raise BenchError("the raw consumer did not start")
        writer = packet_writer(ports, seconds)
        _sleep_until(writer.started + plan.warm_s)
        cpu0, t0 = cpu_s(consumer.pid), time.monotonic()
        _sleep_until(t0 + plan.window_s)
        cpu1, t1 = cpu_s(consumer.pid), time.monotonic()
        writer.finish(30)
        consumer.wait(30)
        result = json.loads(consumer.stdout.read())
        if result["lines"] != total:
            raise BenchError(f"raw loop: {total - result['lines']} lines lost")
    return (cpu1 - cpu0) / (t1 - t0) * 100


def scenario_daemon(plan: Plan, tmp: Path) -> list[Row]:
    p2 = Row(
        "P2",
        f"{PORTS} ports x {LINE_RATE_HZ} lines/s, full pipeline, /metrics 1/s",
        "% core",
        "<= 25% core and <= 4.5x raw, 0 lost",
        baseline_label="raw",
        limit=4.5,
        ratio_target=True,
        measured_limit=25.0,
    )
    p4a = Row("P4a", f"{PORTS} open ports, no data: CPU", "% core", "<= 0.05% core", limit=0.05)
    p4b = Row("P4b", f"{PORTS} open ports, no data: wake-ups", "/s", "<= 5/s", limit=5.0)
    p5 = Row(
        "P5",
        f"/metrics scrape, {PORTS} sensors, 10/s under P2 load: 95th percentile",
        "ms",
        "<= 30 ms, 0 lost",
        limit=30.0,
    )
    p6a = Row("P6a", f"RSS with {PORTS} ports under load", "MiB", "<= 40 MiB", limit=40.0)
    p6b = Row("P6b", "RSS growth over >= 1M readings", "MiB", "<= 2 MiB", limit=2.0)
    p8a = Row("P8a", f"start to READY=1, {PORTS} sensors", "s", "<= 1 s", limit=1.0)
    p8b = Row("P8b", "SIGTERM to exit under P2 load", "s", "<= 1 s", limit=1.0)
    ts_limit_ms = BATCH_INTERVAL_S * 1e3 + 5.0
    p12a = Row(
        "P12a",
        f"latency, write to reading timestamp, 1 port of {PORTS} under P2 load: p99",
        "ms",
        f"<= {ts_limit_ms:g} ms (batch interval + 5 ms)",
        limit=ts_limit_ms,
    )
    p12b = Row(
        "P12b",
        f"latency, write to value on /metrics, 1 port of {PORTS} under P2 load: p99",
        "ms",
        "reported (includes the scrape)",
        limit=math.inf,
    )
    p12c = Row(
        "P12c",
        "latency, write to reading timestamp, quiet port (first data): p99",
        "ms",
        "<= 5 ms",
        limit=5.0,
    )
    p12d = Row(
        "P12d",
        "latency, write to value on /metrics, quiet port (first data): p99",
        "ms",
        "reported (includes the scrape)",
        limit=math.inf,
    )
    rows = [p2, p4a, p4b, p5, p6a, p6b, p8a, p8b, p12a, p12b, p12c, p12d]
    try:
        for rep in range(plan.daemon_reps):
            run = daemon_run(plan, tmp, rep)
            raw = raw_load_run(plan)
            p2.add_pair(run.load_cpu_pct, raw)
            p4a.measured.append(run.idle_cpu_pct)
            p4b.measured.append(run.idle_wakeups)
            p5.measured.append(statistics.quantiles(run.scrape_ms, n=20)[-1])
            p6a.measured.append(run.rss_mib)
            p6b.measured.append(run.rss_growth_mib)
            p8a.measured.append(run.ready_s)
            p8b.measured.append(run.exit_s)
            p2.notes.append(run.load_note)
            p5.notes.append(run.scrape_note)
            p6b.notes.append(f"run {rep + 1}: {run.readings:,} readings between the samples")
            for row, values, where in (
                (p12a, run.loaded.to_timestamp_ms, "under load"),
                (p12b, run.loaded.to_metrics_ms, "under load"),
                (p12c, run.quiet.to_timestamp_ms, "quiet"),
                (p12d, run.quiet.to_metrics_ms, "quiet"),
            ):
                row.measured.append(percentile(values, 99))
                row.notes.append(
                    f"run {rep + 1}: {len(values)} probe lines {where}, p50 "
                    f"{statistics.median(values):.1f} ms, p99 {row.measured[-1]:.1f} ms, "
                    f"max {max(values):.1f} ms"
                )
            if run.readings < 1_000_000:
                p6b.error = "fewer than 1,000,000 readings in the window"
            log(
                f"daemon run {rep + 1}/{plan.daemon_reps}: READY {run.ready_s:.3f} s, idle "
                f"{run.idle_cpu_pct:.3f}% {run.idle_wakeups:.1f}/s, load {run.load_cpu_pct:.1f}%"
                f" (raw {raw:.1f}%), RSS {run.rss_mib:.1f} MiB +{run.rss_growth_mib:.2f}, "
                f"scrape p95 {p5.measured[-1]:.1f} ms, exit {run.exit_s:.3f} s"
            )
    except HarnessError as exc:
        for row in rows:
            row.error = row.error or str(exc)
    return rows


# -- P15 -----------------------------------------------------------------------------------------


#: P15a: how long after the writers start, and after each reload, a half of a pair starts (the
#: rings have filled and are trimming by then: 16 KiB at P2's 13 kB/s a port)
P15_SETTLE_S = 2.5


def _reload_all(daemons: Sequence[DaemonProcess], configs: Sequence[str]) -> None:
    """Give each daemon its new configuration (SIGHUP) and wait until each logged the reload."""
    event = "configuration reloaded"
    before = [len(daemon.events(event)) for daemon in daemons]
    for daemon, config in zip(daemons, configs, strict=True):
        assert daemon.config_path is not None
        daemon.config_path.write_text(config)
        daemon.signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while any(len(d.events(event)) <= n for d, n in zip(daemons, before, strict=True)):
        if time.monotonic() > deadline:
            raise BenchError("a daemon did not reload its configuration within 15 s")
        time.sleep(0.05)


def _cpu_window(daemons: Sequence[DaemonProcess], seconds: float) -> list[float]:
    """Each daemon's % of one core over ``seconds``, /metrics of each scraped once a second."""
    cpu0 = [cpu_s(daemon.pid) for daemon in daemons]
    t0 = time.monotonic()
    for k in itertools.count(1):
        if k >= seconds - 0.5:
            break
        _sleep_until(t0 + k)
        for daemon in daemons:
            daemon.metrics_text()
    _sleep_until(t0 + seconds)
    cpu1 = [cpu_s(daemon.pid) for daemon in daemons]
    elapsed = time.monotonic() - t0
    return [(b - a) / elapsed * 100 for a, b in zip(cpu0, cpu1, strict=True)]


def ring_pair_once(
    plan: Plan, tmp: Path, pair: int, *, control: bool = False
) -> tuple[float, float]:
    """One P15a pair, crossed over: two daemons at once, each with P2's load on 64 ports and
    a packet writer of its own. In the first half one keeps the default capture ring and the
    other has ``ring_bytes = 0``; a reload (SIGHUP) swaps them, and the second half measures
    again. Returns the geometric means of the % of a core the sides used with the ring and
    without it: their ratio is the geometric mean of the two halves' ratios, so what differs
    between the two daemons (the cores they ran on, their ports) cancels, and whatever else
    the host does in a half weighs on both alike. Which daemon has the ring first alternates
    with ``pair``. ``control``: neither daemon has a ring in either half, so the ratio is what
    the method reads when nothing differs."""
    half_s = plan.window_s / 2
    none = "[capture]\nring_bytes = 0\n"
    ring = none if control else f"[capture]\nring_bytes = {DEFAULT_RING_BYTES}\n"
    ring_first = pair % 2 == 0  # side 0 has the ring in the first half
    firsts = (ring, none) if ring_first else (none, ring)
    with contextlib.ExitStack() as stack:
        daemons: list[DaemonProcess] = []
        port_sets: list[Sequence[PtyPair]] = []
        bases: list[str] = []
        for side, first in enumerate(firsts):
            ports = stack.enter_context(ptys(PORTS))
            base = sensord_config([value_sensor(f"s{i:02d}", p.path) for i, p in enumerate(ports)])
            daemon = start_sensord(
                tmp, f"p15-{pair}-{side}{'-c' if control else ''}", first + base, None
            )
            stack.callback(daemon.kill)
            daemons.append(daemon)
            port_sets.append(ports)
            bases.append(base)
        for daemon in daemons:
            daemon.wait_http(20)
            wait_all_states(daemon, "up", 10)
        seconds = 2 * (P15_SETTLE_S + half_s) + 3.0  # the reload's few hundred ms, and margin
        writers = [packet_writer(ports, seconds) for ports in port_sets]
        for writer in writers:
            stack.callback(writer.kill)
        _sleep_until(max(w.started for w in writers) + max(plan.warm_s, P15_SETTLE_S))
        a1, b1 = _cpu_window(daemons, half_s)
        _reload_all(daemons, [firsts[1] + bases[0], firsts[0] + bases[1]])
        time.sleep(P15_SETTLE_S)
        a2, b2 = _cpu_window(daemons, half_s)
        if time.monotonic() > max(w.started for w in writers) + seconds - 0.5:
            raise BenchError("the writers ended before the second half did")
        for daemon, writer in zip(daemons, writers, strict=True):
            writer.finish(30)
            wait_all_frames(daemon, writer.units)
    # side 0 had firsts[0] in the first half and firsts[1] in the second
    with_ring, without = math.sqrt(a1 * b2), math.sqrt(b1 * a2)
    return (with_ring, without) if ring_first else (without, with_ring)


def scenario_p15(plan: Plan, tmp: Path) -> list[Row]:
    """What the always-on capture ring costs: P2's load with the default ring against the same
    load with ``ring_bytes = 0``, two daemons side by side and crossed over (see
    ``ring_pair_once``): the speed of this host drifts by more than the 3 % resolved between
    windows a few seconds apart, and two daemons differ by about that when nothing differs
    between them. P15c runs the same pairs with no ring on either side: the method's own
    spread."""
    half_s = plan.window_s / 2
    rows = []
    for name, what, target, limit, pairs, control in (
        (
            "P15a",
            "the default capture ring vs none",
            "<= 1.03x no ring",
            1.03,
            plan.p15_pairs,
            False,
        ),
        (
            "P15c",
            "no ring vs no ring (the method's control)",
            "reported (1.0 when exact)",
            math.inf,
            plan.p15_control_pairs,
            True,
        ),
    ):
        row = Row(
            name,
            f"P2 load ({PORTS} ports, /metrics 1/s), {what}",
            "% core",
            target,
            baseline_label="no ring",
            limit=limit,
            ratio_target=True,
        )
        try:
            for pair in range(pairs):
                with_ring, without = ring_pair_once(plan, tmp, pair, control=control)
                row.add_pair(with_ring, without)
                log(
                    f"{name} pair {pair + 1}/{pairs}: {with_ring:.1f}% vs {without:.1f}% "
                    f"({with_ring / without:.3f}x)"
                )
            row.notes.append(
                f"{pairs} pairs, each two daemons at once on ports and writers of their own, "
                f"measured for {half_s:g} s, swapped by a reload, measured for {half_s:g} s "
                f"more; the figures are each side's geometric mean over the two halves; every "
                f"line framed; ring {DEFAULT_RING_BYTES} bytes per port"
            )
        except (HarnessError, BenchError) as exc:
            row.error = str(exc)
        rows.append(row)
    return [rows[0], ring_feed_row(plan), rows[1]]


#: P15b: chunks per sensor in one turn of a kind (64 sensors: a few ms)
P15_BLOCK_CHUNKS = 8


def ring_feed_row(plan: Plan) -> Row:
    """P15b: ``SensorRuntime.feed`` of P2's 64 value sensors, each read one packet of the P2
    writer at a time (the smallest read P2 makes), with the default ring against none, taking
    turns every few milliseconds in one process, so this resolves the ring's cost per chunk;
    the ratio is an upper bound for P15a, whose daemon also spends CPU on system calls,
    polling and /metrics, and whose reads are larger. The sensors with a ring hand their
    chunks to a capture journal as a reader's do, flushed (in the time of their turns)
    whenever it is due and at the end of each repeat."""
    row = Row(
        "P15b",
        f"feed() of {PORTS} value sensors, {PACKET_BYTES}-byte chunks, default ring vs none",
        "us/chunk",
        "reported (upper bound of P15a)",
        baseline_label="no ring",
        limit=math.inf,
        ratio_target=True,
    )
    configure_logging("warning", "json", sys.stderr)
    config = parse_config(
        sensord_config([value_sensor(f"s{i:02d}", f"/dev/bench{i}") for i in range(PORTS)])
    )
    runtimes = {
        "ring": [SensorRuntime(s) for s in config.sensors],
        "none": [SensorRuntime(s, capture_ring_bytes=0) for s in config.sensors],
    }
    journal = CaptureJournal()
    for group in runtimes.values():
        for runtime in group:
            runtime.use_journal(journal)  # a ring of 0 bytes does not use it
    data = b"".join(value_lines()) * 2
    chunks = [data[i : i + PACKET_BYTES] for i in range(0, len(data), PACKET_BYTES)]
    feeds = len(chunks) * PORTS

    def feed(kind: str, block: Sequence[bytes], last: bool) -> float:
        started = time.perf_counter()
        for chunk in block:
            for runtime in runtimes[kind]:
                runtime.feed(chunk)
        if journal.due or last:
            journal.flush()
        return time.perf_counter() - started

    # the two kinds take turns every few ms (a block of chunks each), so a change in the
    # host's speed weighs on both alike; each repeat sums its blocks per kind
    blocks = [chunks[i : i + P15_BLOCK_CHUNKS] for i in range(0, len(chunks), P15_BLOCK_CHUNKS)]
    for rep in range(plan.p15_feed_reps):
        spent = {"ring": 0.0, "none": 0.0}
        for b, block in enumerate(blocks):
            order = ("ring", "none") if (rep + b) % 2 == 0 else ("none", "ring")
            for kind in order:
                spent[kind] += feed(kind, block, b == len(blocks) - 1)
        row.add_pair(spent["ring"] / feeds * 1e6, spent["none"] / feeds * 1e6)
    lost = sum(sum(r.parse_errors.values()) for group in runtimes.values() for r in group)
    if lost:
        row.error = f"{lost} lines rejected: the chunks do not hold whole lines"
    row.notes.append(
        f"{plan.p15_feed_reps} repeats of {feeds:,} chunks, the two kinds taking turns every "
        f"{P15_BLOCK_CHUNKS} chunks per sensor; ring {DEFAULT_RING_BYTES} bytes per port"
    )
    return row


# -- P9 ------------------------------------------------------------------------------------------


@dataclass
class FloodRun:
    lines_per_s: float
    cpu_pct: float
    process_pct: list[float]
    writer_pct: float
    lines: int


def flood_once(plan: Plan, tmp: Path, workers: int, rep: int) -> FloodRun:
    """One P9 run: ``sensord run --workers N`` on PORTS ports written flat out; the lines per
    second framed while the writer kept every port full, and the CPU of sensord's processes."""
    name = f"p9-w{workers}-{rep}"
    notify = NotifyListener(tmp, name=f"{name}.sock")
    with ptys(PORTS) as ports, contextlib.closing(notify):
        config = sensord_config([value_sensor(f"s{i:02d}", p.path) for i, p in enumerate(ports)])
        daemon = start_sensord(tmp, name, config, notify, ["--workers", str(workers)])
        try:
            notify.wait_for("READY=1", 30)
            daemon.wait_http(20)
            wait_all_states(daemon, "up", 10)
            pids = [daemon.pid]
            if workers > 1:
                pids += [w["pid"] for w in daemon.status()["workers"]]
                if len(pids) != workers + 1 or None in pids:
                    raise BenchError(f"--workers {workers}: worker pids {pids[1:]}")
            seconds = plan.p9_warm_s + plan.p9_window_s
            writer = Writer(
                ports,
                stream="value",
                pattern="flood",
                units=10**12,
                deadline_s=seconds + 1.0,
            )
            _sleep_until(writer.started + plan.p9_warm_s)

            def sample() -> tuple[float, float, list[float], float]:
                asked = time.monotonic()
                text = daemon.metrics_text()
                at = (asked + time.monotonic()) / 2
                cpu = [cpu_s(p) for p in pids]
                writer_cpu = cpu_s(writer.proc.pid)
                scrape = Scrape(text)
                series = len(scrape.series("sensord_frames_total"))
                if series != PORTS:  # a worker's series missing from the merged scrape
                    raise BenchError(f"/metrics had {series} frame counters, not {PORTS}")
                return at, scrape.total("sensord_frames_total"), cpu, writer_cpu

            t0, frames0, cpu0, wcpu0 = sample()
            _sleep_until(t0 + plan.p9_window_s)
            t1, frames1, cpu1, wcpu1 = sample()
            written = writer.finish(30, complete=False)
            if writer.started + written["elapsed_s"] < t1:
                raise BenchError("the writer stopped before the end of the window")
            if frames1 <= frames0:
                raise BenchError("no lines framed in the window")
            expected = {f"s{i:02d}": n for i, n in enumerate(written["units"])}
            daemon.wait_frames(expected, 30, exact=True, interval_s=0.05)
            code = daemon.stop()
            if code != 0:
                raise BenchError(f"sensord --workers {workers} exited with {code} after SIGTERM")
        finally:
            daemon.kill()
    elapsed = t1 - t0
    process_pct = [(b - a) / elapsed * 100 for a, b in zip(cpu0, cpu1, strict=True)]
    return FloodRun(
        lines_per_s=(frames1 - frames0) / elapsed,
        cpu_pct=sum(process_pct),
        process_pct=process_pct,
        writer_pct=(wcpu1 - wcpu0) / elapsed * 100,
        lines=sum(expected.values()),
    )


def scenario_p9(plan: Plan, tmp: Path) -> list[Row]:
    row = Row(
        "P9",
        f"{PORTS} ports flat out, full pipeline: throughput, --workers 2 vs 1",
        "k lines/s",
        f">= {P9_LIMIT}x 1 process",
        baseline_label="1 process",
        comparison="ge",
        limit=P9_LIMIT,
        ratio_target=True,
    )
    try:
        for rep in range(plan.p9_reps):
            one = flood_once(plan, tmp, 1, rep)
            two = flood_once(plan, tmp, 2, rep)
            row.add_pair(two.lines_per_s / 1e3, one.lines_per_s / 1e3)
            for label, run in (("1 process", one), ("2 workers", two)):
                processes = " + ".join(f"{pct:.0f}" for pct in run.process_pct)
                row.notes.append(
                    f"run {rep + 1}, {label}: {run.lines:,} lines, none lost; sensord "
                    f"{processes}% core ({run.cpu_pct * 1e4 / run.lines_per_s:.2f} us of CPU per "
                    f"line), writer {run.writer_pct:.0f}%"
                )
            log(
                f"P9 run {rep + 1}/{plan.p9_reps}: 2 workers {two.lines_per_s / 1e3:.0f}k "
                f"lines/s ({two.cpu_pct:.0f}% core), 1 process {one.lines_per_s / 1e3:.0f}k "
                f"lines/s ({one.cpu_pct:.0f}% core)"
            )
    except HarnessError as exc:
        row.error = str(exc)
    return [row]


# -- P7 ------------------------------------------------------------------------------------------


def nmea_writer(port: PtyPair, seconds: float) -> Writer:
    units = round(BAUD_BYTES_PER_S * seconds / STREAMS["nmea"]().mean_unit_bytes)
    return Writer(
        [port],
        stream="nmea",
        pattern="packet",
        units=units,
        bytes_per_s=BAUD_BYTES_PER_S,
        packet=PACKET_BYTES,
    )


def nmea_sensord_once(plan: Plan, tmp: Path, rep: int) -> float:
    """sensord's CPU per sentence (us) on one NMEA port."""
    with ptys(1) as (port,):
        config = sensord_config([nmea_sensor("gps", port.path)])
        daemon = start_sensord(tmp, f"p7-{rep}", config, None)
        try:
            daemon.wait_http(20)
            wait_all_states(daemon, "up", 10)
            time.sleep(0.5)
            before = TaskSample.take(daemon.pid)
            writer = nmea_writer(port, plan.p7_s)
            writer.finish(plan.p7_s + 30)
            time.sleep(0.3)
            after = TaskSample.take(daemon.pid)
            if port.queued_bytes():
                raise BenchError("sensord had not read every sentence")
            wait_all_frames(daemon, writer.units, timeout_s=5)
            metrics = Scrape(daemon.metrics_text())
            readings = metrics.total("sensord_step_records_in_total", step="filter")
            if readings != writer.units:
                raise BenchError(f"sensord: {readings:.0f} readings for {writer.units} sentences")
            daemon.stop()
        finally:
            daemon.kill()
        return after.cpu_since(before) / writer.units * 1e6


def nmea_gpsd_once(plan: Plan, tmp: Path, gpsd: str, rep: int) -> float:
    """gpsd's CPU per sentence (us) on its own pty, fed the same stream."""
    with ptys(1) as (port,):
        os.chmod(port.path, 0o666)  # gpsd may drop privileges after opening
        control = tmp / f"gpsd-{rep}.sock"
        tcp_port = free_port()
        with (tmp / f"gpsd-{rep}.log").open("wb") as out:
            proc = spawn(
                [gpsd, "-N", "-n", "-b", "-S", str(tcp_port), "-F", str(control), port.path],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", tcp_port), timeout=1).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise BenchError("gpsd did not start") from None
                    time.sleep(0.05)
            time.sleep(0.5)
            before = TaskSample.take(proc.pid)
            writer = nmea_writer(port, plan.p7_s)
            writer.finish(plan.p7_s + 30)
            time.sleep(0.3)
            after = TaskSample.take(proc.pid)
            if port.queued_bytes():
                raise BenchError("gpsd had not read every sentence")
            with socket.create_connection(("127.0.0.1", tcp_port), timeout=5) as conn:
                conn.sendall(b"?DEVICES;\n")
                reply = b""
                deadline = time.monotonic() + 5
                while b'"DEVICES"' not in reply and time.monotonic() < deadline:
                    reply += conn.recv(65536)
            if b"NMEA0183" not in reply:
                raise BenchError(f"gpsd did not recognise the NMEA stream: {reply[-200:]!r}")
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return after.cpu_since(before) / writer.units * 1e6


def scenario_p7(plan: Plan, tmp: Path) -> list[Row]:
    row = Row(
        "P7",
        "NMEA GGA+RMC at 115200 baud: CPU per sentence",
        "us",
        "<= 0.8x gpsd, every pair <= 1.0x",
        baseline_label="gpsd",
        limit=0.8,
        each_limit=1.0,
        ratio_target=True,
    )
    gpsd = ensure_gpsd()
    if gpsd is None:
        row.error = "gpsd is not installed and could not be installed (apt-get install gpsd)"
        return [row]
    try:
        for rep in range(plan.p7_reps):
            a = nmea_sensord_once(plan, tmp, rep)
            b = nmea_gpsd_once(plan, tmp, gpsd, rep)
            row.add_pair(a, b)
            log(f"P7 run {rep + 1}/{plan.p7_reps}: sensord {a:.1f} us, gpsd {b:.1f} us")
        units = round(BAUD_BYTES_PER_S * plan.p7_s / STREAMS["nmea"]().mean_unit_bytes)
        row.notes.append(
            f"{plural(plan.p7_reps, 'pair')} of {units:,} sentences in 64-byte packets; "
            "sensord framed every sentence and pushed one reading per sentence; gpsd read "
            "every byte and recognised NMEA0183"
        )
    except HarnessError as exc:
        row.error = str(exc)
    return [row]


# -- main ----------------------------------------------------------------------------------------

SCENARIOS = (
    "P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9", "P10", "P11", "P12", "P13", "P14",
    "P15",
)  # fmt: skip
_DAEMON_GROUP = {"P2", "P4", "P5", "P6", "P8", "P12"}


def sensord_revision() -> str:
    """Where the sensord under test comes from: its directory and, in a git checkout, the
    commit (``-dirty`` with uncommitted changes), and the venv the daemons run in."""
    package = Path(sensord.__file__).resolve().parent
    done = subprocess.run(
        ["git", "-C", str(package), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    revision = done.stdout.strip() if done.returncode == 0 else "not a git checkout"
    return f"{package} ({revision}), run by {sys.prefix}"


def compile_package() -> None:
    """Compile the sensord under test to bytecode, as an installed package is (pip compiles
    it): from a tree without bytecode (a checkout made with ``PYTHONDONTWRITEBYTECODE`` set)
    each daemon compiles its modules as it starts, which delays READY=1 (P8a) and leaves its
    heap other free memory (P6b read 0.8-0.9 MiB so, 1.5 MiB from the same commit with its
    bytecode), so that two trees compared would differ by that alone."""
    package = Path(sensord.__file__).resolve().parent
    if not compileall.compile_dir(str(package), quiet=2):
        print(
            f"warning: {package} could not be compiled to bytecode: its daemons compile it at "
            "each start, and P6 and P8 differ from an installed daemon's",
            file=sys.stderr,
        )


def cpu_model() -> str:
    """The processor's model name from /proc/cpuinfo (figures move with it)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run_bench(
    plan: Plan, only: set[str], json_path: Path | None, markdown_path: Path | None
) -> int:
    started = time.monotonic()
    load_before = loadavg()
    if float(load_before.split()[0]) > 0.7:
        log(f"warning: load average {load_before}: figures will be noisy")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sensord-bench-") as name:
        tmp = Path(name)
        try:
            if "P1" in only:
                rows += scenario_p1(plan)
            if _DAEMON_GROUP & only:
                rows += [row for row in scenario_daemon(plan, tmp) if row.id.rstrip("abcd") in only]
            if "P3" in only:
                rows += scenario_p3(plan)
            if "P7" in only:
                rows += scenario_p7(plan, tmp)
            if "P9" in only:
                rows += scenario_p9(plan, tmp)
            if "P10" in only:
                rows += scenario_p10(plan)
            if "P11" in only:
                rows += scenario_p11(plan)
            if "P13" in only:
                rows += scenario_p13(plan)
            if "P14" in only:
                rows += scenario_p14(plan, tmp)
            if "P15" in only:
                rows += scenario_p15(plan, tmp)
        finally:
            reap_children()
    rows.sort(key=lambda r: r.id)
    elapsed = time.monotonic() - started
    meta = {
        "plan": plan.name,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "sensord": sensord_revision(),
        "load_before": load_before,
        "load_after": loadavg(),
        "elapsed_s": round(elapsed, 1),
    }
    print(
        f"sensord bench ({plan.name}), {meta['date']}, {meta['cpus']} x {meta['cpu_model']}, "
        f"Python {meta['python']}, kernel {meta['kernel']}, load {load_before} before / "
        f"{meta['load_after']} after, {elapsed:.0f} s\nsensord: {meta['sensord']}"
    )
    print(table(rows))
    if markdown_path is not None:
        heading = (
            f"{plan.name} run, {meta['date']}, {meta['cpus']} x {meta['cpu_model']}, "
            f"Python {meta['python']}, "
            f"kernel {meta['kernel']}, load {load_before} before / {meta['load_after']} after, "
            f"{elapsed:.0f} s; sensord {meta['sensord']}"
        )
        markdown_path.write_text(markdown(rows, heading))
    if json_path is not None:
        json_path.write_text(
            json.dumps({"meta": meta, "rows": [r.as_json() for r in rows]}, indent=2) + "\n"
        )
    return 0 if all(row.passed for row in rows) else 1


ROLES: dict[str, Callable[[dict[str, Any]], int]] = {
    "writer": role_writer,
    "consume": role_consume,
    "chain": role_chain,
    "modbus-client": role_modbus_client,
    "modbus-intervals": role_modbus_intervals,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Run sensord's performance scenarios P1..P15 and print one table.",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run, under 2 minutes")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the rows as JSON")
    parser.add_argument(
        "--markdown", type=Path, metavar="FILE", help="also write the table as Markdown"
    )
    parser.add_argument(
        "--only", metavar="P1,P2,...", help="run only these scenarios (default: all)"
    )
    parser.add_argument("--role", choices=tuple(ROLES), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        return ROLES[args.role](json.loads(args.spec))
    only = set(SCENARIOS)
    if args.only:
        only = {s.strip().upper() for s in args.only.split(",")}
        unknown = only - set(SCENARIOS)
        if unknown:
            parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    compile_package()
    try:
        return run_bench(QUICK if args.quick else FULL, only, args.json, args.markdown)
    except KeyboardInterrupt:
        reap_children()
        return 130


if __name__ == "__main__":
    sys.exit(main())
