"""A polled device's answer that waits in the kernel when its next poll is due.

The reader loop checks its timers before it reads the ports after a pause between passes
(``Reader.run``): an answer whose last bytes came during the pause that ends as the next poll
is due is read before that poll's request is written (``Reader._read_before_tick``, asked for
by ``Dialogue.answer_awaited``), so it is the poll's answer, not the start of a late one
dropped at the next request (``Dialogue._poll``). Real ptys, a device thread answering each
request on a schedule of its own, the real reader loop on real time. The reader pauses 0.1 s
between passes here (20 ms by default) so that the answers' timing relative to the pause has
tens of milliseconds of room on a loaded machine.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from harness.host_lag import keep_time, steadily
from harness.modbus import run_reader_until
from harness.pty import PtyPair, wait_readable
from test_frames_commands import SDS011_FRAME

from sensord.capture import TX
from sensord.config import Config
from sensord.dialogue import ACK_TIMEOUT_S
from sensord.formats.presets import PresetDevice, command_bytes
from sensord.reader import Reader
from sensord.sensor import SensorRuntime
from sensord.sources.serial_port import SerialSource

#: The reader's pause between passes in these tests (see the module docstring).
PAUSE_S = 0.1

INTERVAL_S = 0.5

#: A schedule of writes answering one request: (seconds after the request was read, bytes).
Schedule = list[tuple[float, bytes]]


class Device:
    """The device end of a pty: reads each request ending in ``request_end`` and writes what
    ``answer(n)`` schedules for the ``n``-th request (from 0), on a thread of its own. It
    writes on one line, as a device's UART does: what it scheduled goes out in the order it
    was scheduled, each part at its time or, when a part scheduled before it is still due
    later (the host held the request before back), after that part."""

    def __init__(
        self, pair: PtyPair, request_end: bytes, answer: Callable[[int], Schedule]
    ) -> None:
        self.pair = pair
        self.request_end = request_end
        self.answer = answer
        self.requests = 0
        #: how much later than scheduled the thread wrote a part of an answer, at most (a
        #: loaded host holds it back)
        self.slip_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="poll-device", daemon=True)

    def _run(self) -> None:
        keep_time()
        fd = self.pair.master_fd
        assert fd is not None
        pending: list[tuple[float, bytes]] = []
        while not self._stop.is_set():
            wait = pending[0][0] if pending else time.monotonic() + 0.05
            if wait_readable(fd, max(0.0, wait - time.monotonic())):
                data = os.read(fd, 256)
                at = time.monotonic()
                for _ in range(data.count(self.request_end)):
                    pending += [(at + after, part) for after, part in self.answer(self.requests)]
                    self.requests += 1
            while pending and pending[0][0] <= time.monotonic():
                at, part = pending.pop(0)
                self.pair.write(part)
                self.slip_s = max(self.slip_s, time.monotonic() - at)

    def __enter__(self) -> Device:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2.0)


def load(table: dict[str, Any], *others: dict[str, Any]) -> Config:
    """A sensor ``s`` given by ``table``, and the sensors ``others`` beside it."""
    sensors = [{"name": "s", "simulate": "never", **table}, *others]
    errors: list[str] = []
    loaded = Config.load({"sensors": sensors}, "", errors)
    assert loaded is not None, errors
    return loaded


def instrument(path: str) -> Config:
    """A text instrument at 1200 baud answering its poll ``M`` with a value line."""
    return load(
        {
            "port": path,
            "format": "value",
            "channels": [{"name": "v"}],
            "poll": {"request": "M\\n", "interval_s": INTERVAL_S},
            "serial": {"baudrate": 1200},
        }
    )


@contextmanager
def polled(
    config: Config, device: AbstractContextManager[object]
) -> Iterator[tuple[Reader, SensorRuntime]]:
    reader = Reader([SensorRuntime(s) for s in config.sensors])
    reader.batch_interval_s = PAUSE_S
    try:
        with device:
            yield reader, reader.sensors["s"]
    finally:
        reader.close()


class Readings:
    """The readings of one channel, each new latest one noted when ``__call__`` looks (the
    reader's ``until``, once a pass): the values published, in their order."""

    def __init__(self, rt: SensorRuntime, channel: str) -> None:
        self.rt = rt
        self.channel = channel
        self.values: list[float] = []
        self._last: object = None

    def __call__(self) -> list[float]:
        (stats,) = [c.stats for c in self.rt.snapshot().channels if c.name == self.channel]
        if stats is not None and stats.reading is not self._last:
            self._last = stats.reading
            self.values.append(stats.reading.value)
        return self.values


def paced(text: bytes, ends_at: float, byte_s: float) -> Schedule:
    """``text`` written a byte at a time, ``byte_s`` apart, the last at ``ends_at``."""
    first = ends_at - byte_s * (len(text) - 1)
    return [(first + i * byte_s, text[i : i + 1]) for i in range(len(text))]


def test_a_slow_answer_that_ends_in_the_pause_before_the_next_poll_is_that_polls() -> None:
    """A text instrument at 1200 baud (8.3 ms a byte) whose answer ends 40 ms before its next
    poll is due: its first byte ends the loop's wait, the pause after that read runs into the
    poll's time, and the rest of the answer waits in the kernel. It is read before the request
    goes, and every answer is taken, none counted as a poll timeout (one allowed for a stall
    of the loaded machine; without the read before the poll every answer's first bytes are
    dropped at the next request and nearly every poll is counted unanswered). The device is
    a thread of the test's process: a play in which the host held it back 20 ms or more,
    its answer's end that close to the next request or past it, is played again."""

    def scenario() -> tuple[tuple[int, int, int, list[float]], Device]:
        with PtyPair() as pair:

            def answer(n: int) -> Schedule:
                return paced(b"%d\n" % (100 + n), INTERVAL_S - 0.04, 10 / 1200)

            device = Device(pair, b"\n", answer)
            with polled(instrument(pair.path), device) as (reader, rt):
                seen = Readings(rt, "v")
                run_reader_until(reader, lambda: bool(seen()) and device.requests >= 8, 15.0)
                timeouts = rt.poll_timeouts
                frames = rt.snapshot().frames
        return (timeouts, frames, device.requests, seen.values), device

    def held(device: Device) -> str:
        if device.slip_s < 0.02:
            return ""
        return f"the host held the device thread back {device.slip_s:.3f} s (0.02 s or more)"

    (timeouts, frames, requests, got), how = steadily(scenario, held)
    assert timeouts <= 1, (timeouts, got, how)
    assert frames >= requests - 2, (got, how)
    assert got == sorted(got), how  # each answer whole and in its order
    assert all(100 <= v < 100 + requests for v in got), (got, how)


def mhz19_reply(ppm: int) -> bytes:
    """An MH-Z19's answer to its read request: FF 86, CO2, temperature + 40, the checksum."""
    body = bytes([0x86, ppm >> 8, ppm & 0xFF, 62, 0, 0, 0])
    return b"\xff" + body + bytes([-sum(body) % 256])


def read_between_requests(rt: SensorRuntime, after: int) -> bytes:
    """What the sensor read between its request ``after`` (from 0) and the next one, from its
    capture ring (the bytes in the order they went over the wire)."""
    read = bytearray()
    requests = 0
    for _, direction, data in rt.captured():
        if direction == TX:
            requests += 1
        elif requests == after + 1:
            read += data
    return bytes(read)


def test_an_answer_whose_rest_comes_after_the_next_request_is_still_dropped() -> None:
    """A polled MH-Z19 whose third answer comes in three pieces: 2 bytes 100 ms after its
    request as every answer (read at once), 3 bytes 40 ms before the next poll is due (in the
    kernel during the pause when the poll comes due, and read before the request) and the
    last 4 bytes 20 ms after the device read the next request, whose own answer comes 100 ms
    after it as every other one does. The answer's start is dropped at that request, never
    joined with its rest into a frame taken as the next poll's answer: that poll is counted
    unanswered, the answers around it are all taken, and the split answer's value is never
    published. The rest is the device's answer to reading the next request, so it comes
    after that request however late a loaded host has the loop write it; a play in which the
    host held the device back so long that none of the answer's start was read before that
    request (the sensor's capture says) is played again: the whole answer then came after
    the request, as an answer to it does."""
    read = command_bytes("mhz19", "read")
    split = mhz19_reply(502)

    def scenario() -> tuple[tuple[list[float], int, int, int], bytes]:
        with PtyPair() as pair:

            def answer(n: int) -> Schedule:
                reply = mhz19_reply(500 + n)
                if n == 2:
                    return [(0.1, split[:2]), (INTERVAL_S - 0.04, split[2:5])]
                if n == 3:
                    return [(0.02, split[5:]), (0.1, reply)]
                return [(0.1, reply)]

            device = Device(pair, read[-1:], answer)
            config = load(
                {
                    "port": pair.path,
                    "preset": "mhz19",
                    "warmup_s": 0,
                    "poll": {"command": "read", "interval_s": INTERVAL_S},
                }
            )
            with polled(config, device) as (reader, rt):
                seen = Readings(rt, "co2_ppm")
                run_reader_until(reader, lambda: 505.0 in seen(), 15.0)
                timeouts = rt.poll_timeouts
                snapshot = rt.snapshot()
                before_next = read_between_requests(rt, 2)
        return (seen.values, snapshot.frames, snapshot.skipped_bytes, timeouts), before_next

    def held(before_next: bytes) -> str:
        if before_next.startswith(split[:2]) and len(before_next) < len(split):
            return ""
        return f"the host held the device back: read before the next request {before_next.hex(' ')}"

    (got, frames, skipped, timeouts), how = steadily(scenario, held)
    assert got == [500.0, 501.0, 503.0, 504.0, 505.0], (got, how)
    assert frames == 5, how  # no frame of the split answer's start and rest
    # its start, dropped at the next request, and its rest, which begins no frame
    assert skipped == 9, how
    assert timeouts == 1, how


def test_a_read_before_a_poll_is_one_read_per_due_poll_and_none_at_housekeeping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A polled device that never answers: each poll but the first is due while its request
    awaits an answer, and the port is read once before it (an ``EAGAIN``); not at the
    reader's housekeeping between polls, and a port that is not polled is never read
    without data. Reads counted at ``SerialSource.read``."""
    reads = 0
    original = SerialSource.read

    def counted(self: SerialSource) -> bytes:
        nonlocal reads
        reads += 1
        return original(self)

    monkeypatch.setattr(SerialSource, "read", counted)
    with PtyPair() as pair, PtyPair() as quiet:
        device = Device(pair, b"\n", lambda n: [])
        config = load(
            {
                "port": pair.path,
                "format": "value",
                "channels": [{"name": "v"}],
                "poll": {"request": "M\\n", "interval_s": 0.3},
            },
            {"name": "q", "port": quiet.path, "format": "value", "channels": [{"name": "v"}]},
        )
        reader = Reader([SensorRuntime(s) for s in config.sensors])
        try:
            with device:
                run_reader_until(reader, lambda: device.requests >= 8, 8 * 0.3 + 10)
                requests = device.requests
                seen = reads
        finally:
            reader.close()
    assert requests >= 8
    # the last poll may be written in the pass the count was taken after, or in one before
    assert requests - 2 <= seen <= requests - 1, (seen, requests)


#: How close to ACK_TIMEOUT_S after its write a reply that the host held back may come
#: before the play is taken as one whose reply came past the deadline.
REPLY_SLACK_S = 0.01


class SlowSds011:
    """An SDS011 on the device end of a pty, the preset's simulated device on a thread of its
    own: it streams a frame a second while in active reporting mode, and answers each command
    ``REPLY_AFTER_S`` after it, the frame it streams 50 ms before that (its streaming keeps
    time with the commands it takes), in two pieces 15 ms apart as a USB-serial adapter's
    latency timer (16 ms by default on an FTDI) hands them on; a query, with a data frame
    0.1 s after it. The thread runs ahead of the host's other work where the host allows it
    (``keep_time``), and notes when it wrote each command's reply (``replied``)."""

    #: "it typically takes about a second for the device to write a response back"
    #: (timorme/sds011lib, docs/understanding.md): here 40 ms before ACK_TIMEOUT_S
    REPLY_AFTER_S = 0.96

    def __init__(self, pair: PtyPair) -> None:
        self.pair = pair
        self.device = PresetDevice("sds011")
        self.written: list[bytes] = []
        #: when the reply to each command it answered with one was written (monotonic)
        self.replied: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sds011-device", daemon=True)

    def _run(self) -> None:
        keep_time()
        fd = self.pair.master_fd
        assert fd is not None
        #: (when, bytes, whether they are a command's reply)
        pending: list[tuple[float, bytes, bool]] = []
        next_frame = time.monotonic() + 1.0
        while not self._stop.is_set():
            stream = next_frame if self.device.streaming else math.inf
            wait = min([at for at, _, _ in pending] + [stream, time.monotonic() + 0.05])
            if wait_readable(fd, max(0.0, wait - time.monotonic())):
                data = os.read(fd, 256)
                at = time.monotonic()
                self.written.append(data)
                for answer in self.device.receive(data):
                    if answer is None:
                        pending.append((at + 0.1, self.device.stamp(SDS011_FRAME), False))
                    else:
                        next_frame = at + self.REPLY_AFTER_S - 0.05
                        pending.append((at + self.REPLY_AFTER_S, answer, True))
            now = time.monotonic()
            if self.device.streaming and now >= next_frame:
                frame = self.device.stamp(SDS011_FRAME)
                self.pair.write(frame[:4])
                pending.append((now + 0.015, frame[4:], False))
                next_frame += 1.0
            for item in sorted(item for item in pending if item[0] <= now):
                pending.remove(item)
                self.pair.write(item[1])
                if item[2]:
                    self.replied.append(time.monotonic())

    def __enter__(self) -> SlowSds011:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2.0)


def test_a_set_up_reply_that_ends_in_the_pause_before_its_deadline_acknowledges_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An SDS011 streaming in active reporting mode, set to query mode: the query of its
    reporting mode and then ``query_mode`` are each answered 0.96 s after they were written,
    a streamed frame 50 ms before. That frame ends the loop's wait, and the pause after it
    runs into the reply's deadline (ACK_TIMEOUT_S) with the reply in the kernel: it is read
    before the deadline is looked at, so each is written once, acknowledged, and no reply
    comes unawaited into the data stream. (The same read keeps a reply that ends in the
    pause before the last write's deadline from being counted missing.) The device is a
    thread of the test's process: a play in which the host held it back so long that a
    reply came ACK_TIMEOUT_S after its command was written (but for ``REPLY_SLACK_S``), or
    later, is played again."""
    query = command_bytes("sds011", "query")
    original = SerialSource.try_write
    writes: list[tuple[float, bytes]] = []

    def noted(self: SerialSource, data: bytes) -> bool:
        writes.append((time.monotonic(), bytes(data)))
        return original(self, data)

    monkeypatch.setattr(SerialSource, "try_write", noted)

    def scenario() -> tuple[tuple[list[bytes], bool, dict[str, int], int], list[float]]:
        writes.clear()
        with PtyPair() as pair:
            device = SlowSds011(pair)
            config = load(
                {
                    "port": pair.path,
                    "preset": "sds011",
                    "warmup_s": 0,
                    "setup": ["query_mode"],
                    "poll": {"command": "query", "interval_s": 1.0},
                }
            )
            with polled(config, device) as (reader, rt):
                # no housekeeping pass (it ticks and reads every port) in the pause by chance
                reader.housekeeping_interval_s = 60.0
                run_reader_until(reader, lambda: query in device.written[-1:], 10.0)
                run_reader_until(reader, lambda: rt.snapshot().frames >= 4, 10.0)
                snapshot = rt.snapshot()
                errors = dict(rt.setup_ack_errors)
        setup = [w for w in device.written if w != query]
        # how long after each set-up write its reply came
        sent = [at for at, data in writes if data != query]
        took = [replied - at for at, replied in zip(sent, device.replied, strict=False)]
        return (setup, device.device.active, errors, snapshot.skipped_bytes), took

    def held(took: list[float]) -> str:
        # the deadline runs from the loop's clock at the tick that wrote, a moment before the
        # write: a reply within REPLY_SLACK_S of ACK_TIMEOUT_S after it may have missed it
        late = [f"{t:.3f}" for t in took if t >= ACK_TIMEOUT_S - REPLY_SLACK_S]
        if not late:
            return ""
        return f"the host held the device back: replies came {', '.join(late)} s after their write"

    (setup, active, errors, skipped), how = steadily(scenario, held)
    assert setup == [
        bytes.fromhex("AA B4 02 00 00 00 00 00 00 00 00 00 00 00 00 FF FF 00 AB"),
        command_bytes("sds011", "query_mode"),
    ], how
    assert not active, how
    assert errors == {"missing": 0, "wrong": 0}, how
    assert skipped == 0, how
