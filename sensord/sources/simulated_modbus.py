"""A simulated Modbus line: devices that answer the requests written to a ``sim://`` bus.

Each :class:`SimulatedModbusDevice` is a register map (the codec's
:class:`~sensord.formats.modbus_device.DeviceModel`) whose values follow the signals of its channels
(:mod:`sensord.signals`: a sine, drift and Gaussian noise), so a simulated energy meter's
voltage wanders around 230 V and its energy counter climbs. :class:`SimulatedModbusLine` is the
timed source the bus reads: a request written to it is answered by the device with that unit
id, after the time the request and the response take on the wire at the line's baud rate; a
request for a unit id no device has gets no answer, like on a real bus.
:class:`RtuResponder` answers the same devices on a byte stream (``sensord simulate`` on a
pseudo-terminal), cutting the requests out of what the master writes.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping

from sensord.errors import SourceBrokenError
from sensord.formats.base import ModbusSpec
from sensord.formats.modbus import crc16
from sensord.formats.modbus_device import DeviceModel
from sensord.signals import SignalSpec
from sensord.sources.base import Source

__all__ = ["RtuResponder", "SimulatedModbusDevice", "SimulatedModbusLine"]

#: How long a simulated device takes to start its answer once the request is in.
TURNAROUND_S = 0.002

#: A pause in what the master writes after which ``RtuResponder`` drops a request still
#: incomplete, as a device's receiver does after the 3.5 character times of silence that end
#: an RTU frame. Longer than that silence at any baud rate (a pseudo-terminal has none, and
#: the threads on either side of it are scheduled in milliseconds), shorter than a poll.
FRAME_SILENCE_S = 0.02


class SimulatedModbusDevice:
    """A device's register map with values that follow ``signals`` (by register name) from
    ``start_s`` on ``clock``; registers without a signal read 0."""

    def __init__(
        self,
        spec: ModbusSpec,
        signals: Mapping[str, SignalSpec],
        seed: int,
        start_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.unit = spec.unit
        self.model = DeviceModel(spec)
        self._signals = dict(signals)
        self._rng = random.Random(seed)
        self._start_s = start_s
        self._clock = clock

    def values(self) -> dict[str, float]:
        t = self._clock() - self._start_s
        gauss = self._rng.gauss
        return {
            name: signal.baseline(t) + (gauss(0.0, signal.noise) if signal.noise else 0.0)
            for name, signal in self._signals.items()
        }

    def answer(self, request: bytes) -> bytes | None:
        return self.model.answer(request, self.values)


class SimulatedModbusLine(Source):
    """The timed source of a simulated bus: see the module docstring. ``byte_time_s`` is the
    time one byte takes on the wire."""

    simulated = True

    def __init__(
        self,
        sensor: str,
        url: str,
        devices: Mapping[int, SimulatedModbusDevice],
        byte_time_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(sensor, url)
        self.devices = devices
        self.byte_time_s = byte_time_s
        self._clock = clock
        self._reply = b""
        self._reply_at = math.inf

    def _open(self) -> None:
        self._reply, self._reply_at = b"", math.inf

    def _close(self, was_open: bool) -> None:
        del was_open
        self._reply, self._reply_at = b"", math.inf

    def next_due(self) -> float:
        """When the answer to the last request is complete (infinity while none is coming)."""
        return self._reply_at

    def write(self, data: bytes) -> None:
        if not self.is_open:
            raise SourceBrokenError(self.sensor, "simulated port is closed")
        device = self.devices.get(data[0]) if data else None
        reply = device.answer(data) if device is not None else None
        if reply is None:
            return
        self._reply = reply
        self._reply_at = self._clock() + (len(data) + len(reply)) * self.byte_time_s + TURNAROUND_S

    def read(self) -> bytes:
        if not self.is_open:
            raise SourceBrokenError(self.sensor, "simulated port is closed")
        if self._clock() < self._reply_at:
            return b""
        reply, self._reply, self._reply_at = self._reply, b"", math.inf
        return reply


#: Function codes whose RTU request is 8 bytes (unit, function, two 16-bit fields, CRC): the
#: reads, the single writes and diagnostics.
_FIXED_REQUESTS = frozenset({1, 2, 3, 4, 5, 6, 8})

#: Function codes whose RTU request is 4 bytes (unit, function, CRC): exception status, the
#: communication event counter and log, report server ID.
_BARE_REQUESTS = frozenset({7, 11, 12, 17})

#: Function codes whose RTU request carries a byte count at offset 6 (the multiple writes).
_COUNTED_REQUESTS = frozenset({15, 16})


class RtuResponder:
    """The devices of one simulated RTU line answering a master's byte stream: ``feed`` takes
    what the master wrote and returns the replies, in order. A request is cut by its
    function code's length and kept when its CRC holds; bytes that begin no such request are
    skipped one at a time (``skipped_bytes``), as a device's receiver resynchronises, and a
    request still incomplete when the master falls silent for ``silence_s`` is dropped
    (a stray byte can make the next bytes look like the start of a long request).
    Requests for a unit id no device has are heard and not answered; a device answers the
    functions it does not serve with exception 0x01."""

    def __init__(
        self, devices: Mapping[int, SimulatedModbusDevice], *, silence_s: float = FRAME_SILENCE_S
    ) -> None:
        self.devices = devices
        self.silence_s = silence_s
        self.requests = 0
        self.answered = 0
        self.skipped_bytes = 0
        self._buffer = b""
        self._heard_at = float("-inf")

    def feed(self, data: bytes, now: float | None = None) -> list[bytes]:
        """The replies to what ``data`` completes; ``now`` (monotonic seconds) is when it
        arrived, None for a stream without timing."""
        if now is not None:
            if self._buffer and now - self._heard_at > self.silence_s:
                self.skipped_bytes += len(self._buffer)
                self._buffer = b""
            self._heard_at = now
        buffer = self._buffer + data
        replies: list[bytes] = []
        while len(buffer) >= 4:
            function = buffer[1]
            if function in _FIXED_REQUESTS:
                size = 8
            elif function in _BARE_REQUESTS:
                size = 4
            elif function in _COUNTED_REQUESTS and len(buffer) >= 7:
                size = 9 + buffer[6]
            elif function in _COUNTED_REQUESTS:
                break  # the byte count is still to come
            else:
                size = 0
            if size and len(buffer) < size:
                break
            if not size or crc16(buffer[:size]) != 0:
                buffer = buffer[1:]
                self.skipped_bytes += 1
                continue
            request, buffer = buffer[:size], buffer[size:]
            self.requests += 1
            device = self.devices.get(request[0])
            reply = device.answer(request) if device is not None else None
            if reply is not None:
                self.answered += 1
                replies.append(reply)
        self._buffer = buffer
        return replies
