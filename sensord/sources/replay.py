"""Replay of a capture file (``port = "replay:///PATH"``) as a timed source.

The received bytes of a capture (:mod:`sensord.capture`) come out of ``read()`` as the device
sent them, so the sensor's real framing and decoding run on them, exactly as when they were
recorded. ``speed`` scales the recorded timing (2.0 plays twice as fast); 0 makes every record
due at once, read in chunks of at most :data:`READ_LIMIT_BYTES`.

A capture with sent records (``T``: poll requests, set-up commands) is replayed as a
conversation: what the device sent before the first request plays at its recorded time, and
each ``write()`` of the sensor (its next request) releases what the device answered to the
next recorded request, at its recorded delay after that request. Requests are answered in
order; their bytes are not compared. The sensor's polls follow the speed too: their interval
is divided by it, and with ``speed = 0`` the next request goes out as soon as the answer to
the last one has been read (every 50 ms at most with ``loop``) until the capture ends.

At the end of the capture the source loops (``loop``: a capture without requests starts over
one mean record interval after its last record; a conversation answers from its first request
again), or falls silent: the port stays open and quiet (the sensor goes stale), and
``finished`` becomes True; the sensor's next tick then has its framer give the frames of the
bytes it still holds (``Framer.flush``).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

import structlog

from sensord.capture import RX, TX, CaptureError, Record, read_capture
from sensord.errors import SourceBrokenError, SourceUnavailableError
from sensord.sources.base import Source

__all__ = ["READ_LIMIT_BYTES", "ReplaySource", "silent_conversation"]

log = structlog.get_logger(__name__)

#: The most bytes one ``read()`` returns when more are due (``speed = 0``).
READ_LIMIT_BYTES = 65536

#: A segment: the received records that answer one request, as (seconds after it, bytes).
_Segment = list[tuple[float, bytes]]


def _segments(records: list[Record]) -> tuple[list[_Segment], bool]:
    """The received records split at each sent record (segment 0: before the first one), and
    whether the capture holds any sent record."""
    segments: list[_Segment] = [[]]
    base = 0.0
    requests = False
    for record in records:
        if record.direction == TX:
            requests = True
            segments.append([])
            base = record.offset_s
        elif record.direction == RX:
            segments[-1].append((max(0.0, record.offset_s - base), record.data))
    return segments, requests


def silent_conversation(path: str, records: list[Record]) -> str | None:
    """Why a sensor that writes nothing (a replayed Modbus device: it is on no bus) cannot
    replay the capture at ``path``, or None: one with sent records is a conversation, whose
    answers each wait for the sensor's next request, so nothing would ever come."""
    if not any(record.direction == TX for record in records):
        return None
    return (
        f"{path} holds requests (made by 'sensord record --request'): its answers play only "
        "as each request is written, and a replayed Modbus device writes none (it replays the "
        "exchanges of a daemon's capture: 'sensord capture SENSOR', SIGUSR1); play it on a pty "
        f"instead, 'sensord simulate --replay {path} --link /tmp/ttyREPLAY', and set the "
        "sensor's port to /tmp/ttyREPLAY"
    )


class ReplaySource(Source):
    """See the module docstring. ``path`` is the capture file; ``writes``: whether the sensor
    writes to its port (False: a capture that is a conversation is refused at open, see
    :func:`silent_conversation`)."""

    simulated = True

    def __init__(
        self,
        sensor: str,
        url: str,
        path: str,
        *,
        speed: float = 1.0,
        loop: bool = False,
        clock: Callable[[], float] = time.monotonic,
        min_interval_s: float = 0.05,
        writes: bool = True,
    ) -> None:
        super().__init__(sensor, url)
        self.writes = writes
        if not (math.isfinite(speed) and speed >= 0.0):
            raise ValueError(f"speed must be a finite number >= 0, got {speed}")
        self.path = path
        self.speed = speed
        self.loop = loop
        self._clock = clock
        # as fast as possible: read again at once while bytes are due (never with loop, which
        # would then keep the loop busy for ever)
        self.min_interval_s = 0.0 if speed == 0.0 and not loop else min_interval_s
        self._segments: list[_Segment] = [[]]
        self._conversation = False
        self._next_segment = 1
        self._pending: deque[tuple[float, bytes]] = deque()
        self._last_read_s = -math.inf
        self._round_end_s = 0.0
        #: everything recorded has been played and the source does not loop
        self.finished = False

    def _open(self) -> None:
        try:
            capture = read_capture(self.path)
        except OSError as exc:
            raise SourceUnavailableError(
                self.sensor, f"cannot read capture {self.path}: {exc.strerror or exc}"
            ) from exc
        except CaptureError as exc:
            raise SourceUnavailableError(self.sensor, f"{self.path}: {exc}") from exc
        problem = None if self.writes else silent_conversation(self.path, capture.records)
        if problem is not None:
            raise SourceUnavailableError(self.sensor, problem)
        self._segments, self._conversation = _segments(capture.records)
        self._next_segment = 1
        self._pending.clear()
        self._last_read_s = -math.inf
        self.finished = False
        self._schedule(self._segments[0], self._clock())
        if capture.truncated:
            log.info("replaying a truncated capture up to its cut", sensor=self.sensor)
        if capture.damaged_at is not None:
            log.warning(
                "replaying a damaged capture up to the damage",
                sensor=self.sensor,
                damaged_at_byte=capture.damaged_at,
            )

    def _close(self, was_open: bool) -> None:
        del was_open
        self._pending.clear()

    def _schedule(self, segment: _Segment, base_s: float) -> None:
        speed = self.speed
        pending = self._pending
        for offset_s, data in segment:
            pending.append((base_s + offset_s / speed if speed else base_s, data))
        if segment:
            self._round_end_s = pending[-1][0]
            if not self._conversation and len(segment) > 1:
                mean_gap_s = segment[-1][0] / (len(segment) - 1)
                self._round_end_s += mean_gap_s / speed if speed else 0.0

    def next_due(self) -> float:
        if not self._pending:
            return math.inf
        return max(self._pending[0][0], self._last_read_s + self.min_interval_s)

    def read(self) -> bytes:
        if not self.is_open:
            raise SourceBrokenError(self.sensor, "replay port is closed")
        now = self._clock()
        self._last_read_s = now
        pending = self._pending
        out = bytearray()
        while pending and pending[0][0] <= now and len(out) < READ_LIMIT_BYTES:
            out += pending.popleft()[1]
        if not pending and self._next_segment >= len(self._segments):
            self._end_of_round(now)
        return bytes(out)

    def _end_of_round(self, now: float) -> None:
        """Everything recorded has been read: start over, or fall silent."""
        if self.loop:
            if not self._conversation and self._segments[0]:
                self._schedule(self._segments[0], max(now, self._round_end_s))
            # a conversation starts over at the next request (``write``)
        elif not self.finished:
            self.finished = True
            log.info("replay finished", sensor=self.sensor, path=self.path)

    def poll_interval_s(self, configured: float) -> float:
        if not self._conversation:
            return configured
        if self.speed == 0.0:
            return configured if self.finished else self.min_interval_s
        return configured / self.speed

    def write(self, data: bytes) -> None:
        """A request: release the recorded answer to the next recorded request."""
        del data
        if not self.is_open or not self._conversation:
            return
        if self._next_segment >= len(self._segments):
            if not self.loop:
                return  # the capture has no answer left
            self._next_segment = 1
        segment = self._segments[self._next_segment]
        self._next_segment += 1
        now = self._clock()
        self._schedule(segment, now)
        if not self._pending and self._next_segment >= len(self._segments):
            self._end_of_round(now)  # the last request got no answer in the capture
