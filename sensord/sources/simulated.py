"""Simulated sensors: the bytes a device would send, at its sampling rate.

A :class:`SimulatedDevice` is a device model over the encoder of the sensor's codec
(:mod:`sensord.formats`): it produces the frames a device in the configured format sends, each
followed by the configured terminator, so framing and decoding run exactly as they do for a
real device; a binary codec's frames carry no terminator and are sent back to back.
:class:`SimulatedSource` exposes a device as a timed
:class:`~sensord.sources.base.Source` for the reader.

Each field's value follows a :class:`~sensord.signals.SignalSpec`. A
:class:`~sensord.signals.SimulationSpec` adds faults, all drawn from random generators seeded
with ``seed``, so the byte stream is a function of the seed and the frame times alone (not of
when or how often ``bytes_due`` is called, within the catch-up limit below):

* ``spike_rate``: the fraction of frames in which one field carries a spike, a value at least
  20 times the larger of ``amplitude``, ``noise`` and 1 away from the signal's baseline.
* ``garbage_rate``: the fraction of frames replaced by a line of random bytes (never containing a
  terminator byte; always containing the byte 0xFF, which is never valid UTF-8). A sensor
  with ``parse.block`` (or of a format whose lines come in blocks: ``dsmr``) sends each
  sample's lines as one block (:func:`sensord.formats.blocks.envelope`), and its garbage is
  the block with one byte changed, which fails its check. A sensor with ``parse.checksum``
  sends each line (and its header line) with its checksum
  (:func:`sensord.formats.line_checksums.seal`; for ``nmea``, a ``kv`` line after an address
  ``$SIM`` and its pair separator, a ``csv`` or ``json`` line after a ``$``, a ``value``
  line as its example begins), and its garbage is the line with one byte before its checksum
  changed into another printable ASCII byte (never a terminator byte), which fails its check.
  A binary
  codec's garbage is, in turn at random, what a serial line does to binary frames: random
  bytes (1..255); random bytes behind the frame's start bytes (a false start); the frame with
  one byte changed (a bit error: its checksum, start bytes, length or end byte fails); or the
  frame cut short (bytes lost to an overrun). The framer must find the next frame after each.
* ``dropout_rate``: the probability, checked at each whole second, that the device falls silent
  for ``dropout_s`` seconds. A device whose codec has a header (a csv device with a header line)
  sends it again after a dropout, as a device does after a restart; it also sends it before its
  first frame.

Commands: a device with a :class:`~sensord.formats.base.DeviceModel` reads what is written to
it (:meth:`SimulatedDevice.receive`, which :meth:`SimulatedSource.write` calls, so a polled
sensor is polled through the same write path as a device): a preset's device
(:class:`~sensord.formats.presets.PresetDevice`) answers its commands and acknowledges its
set-up commands as the real one does, and a sensor without a preset (:class:`RequestModel`)
answers each poll request with one frame and each set-up command written as bytes with the
first reply it expects. Answers go out with the next read, after the frames that were due
before the command; a data frame sent as an answer is drawn like every other frame (garbage
and spikes included), and during a dropout the device answers nothing. A device sends frames
of its own at its sampling rate only while its model is ``streaming`` (a PMS5003 until it is
put in passive mode; an MH-Z19 never; a device without a preset unless it is polled); without
a model it always does.

Catch-up: frame ``k`` is due at ``start_s + k / sampling_rate_hz``. When ``bytes_due`` is called
after a long pause (the process was stopped, the port closed), frames due more than
:data:`CATCH_UP_S` seconds before ``now_s`` are skipped and counted in ``frames_skipped``; at most
that much backlog is ever produced in one call. One call produces frames of at most
:data:`MAX_READ_BYTES` (one frame at least): the frames of a device faster than the daemon reads
it (``sampling_rate_hz`` at its 100 kHz bound) stay due for the next call, as a real port's bytes
wait in its buffer for the next read, so that a read of a simulated port takes no longer than a
read of that many bytes of a real one, and neither a stop nor the other ports wait for seconds
of frames. Opening a :class:`SimulatedSource` skips every
frame due before the open, as bytes sent to a closed port are lost.
"""

from __future__ import annotations

import functools
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from sensord.errors import SourceBrokenError
from sensord.formats import codec_for
from sensord.formats.base import DeviceModel, FormatSpec
from sensord.formats.line_checksums import seal
from sensord.signals import SignalSpec, SimulationSpec
from sensord.sources.base import Source

__all__ = [
    "CATCH_UP_S",
    "DEFAULT_SIGNAL",
    "MAX_READ_BYTES",
    "RequestModel",
    "SimulatedDevice",
    "SimulatedSource",
    "line_sealer",
]

#: The most backlog, in seconds of frames, that one ``bytes_due`` call produces.
CATCH_UP_S = 10.0

#: The most bytes of frames one ``bytes_due`` call produces (past them, it ends with the frame
#: that crossed them): sixteen times a real port's read chunk.
MAX_READ_BYTES = 65536

#: The signal of a field that has no SignalSpec of its own.
DEFAULT_SIGNAL = SignalSpec(center=20.0, amplitude=5.0, period_s=60.0, noise=0.1, drift_per_s=0.0)


# -- the device ----------------------------------------------------------------------------------


class RequestModel:
    """A device without a preset: it answers every request of ``requests`` written to it
    (whole, however the writes cut it) with the data frames of one sample (of a frame spec
    with kinds, a frame of each kind: which kind answers which request is the device's own
    knowledge), and every set-up command of ``replies`` with its reply (empty: none). With a
    request it sends nothing on its own (it is polled); without one it streams."""

    __slots__ = ("_commands", "_longest", "_tail", "streaming")

    def __init__(
        self, requests: Sequence[bytes], replies: Mapping[bytes, bytes] = MappingProxyType({})
    ) -> None:
        if any(not request for request in requests):
            raise ValueError("a request must not be empty")
        if any(not command for command in replies):
            raise ValueError("a set-up command must not be empty")
        #: command -> its answer (None: the data frames of one sample)
        self._commands: dict[bytes, bytes | None] = dict(replies)
        for request in requests:
            self._commands[request] = None
        self._longest = max(map(len, self._commands), default=1)
        self.streaming = not requests
        self._tail = b""

    def receive(self, data: bytes) -> list[bytes | None]:
        buffer = self._tail + data
        answers: list[bytes | None] = []
        pos = 0
        while True:
            found = [(at, c) for c in self._commands if (at := buffer.find(c, pos)) >= 0]
            if not found:
                break
            at, command = min(found, key=lambda hit: (hit[0], -len(hit[1])))
            answer = self._commands[command]
            if answer is None or answer:
                answers.append(answer)
            pos = at + len(command)
        rest = buffer[pos:]
        # what may be the first bytes of the next command
        self._tail = rest[max(0, len(rest) - self._longest + 1) :]
        return answers

    @staticmethod
    def stamp(frame: bytes) -> bytes:
        """The frame as encoded: the device adds nothing of its own."""
        return frame


class SimulatedDevice:
    """A device that sends frames in ``spec``'s format at ``sampling_rate_hz``.

    ``signals`` maps a channel name (or a field) to its signal; fields without one use
    :data:`DEFAULT_SIGNAL`. ``start_s`` is on the same clock as the ``now_s`` given
    to :meth:`bytes_due` (the reader uses ``time.monotonic``).

    ``model`` is the command side of the device (see the module docstring); None for a device
    that only sends.

    Counters: ``frames_written`` (data frames, answers included; header lines not included),
    ``garbage_written``, ``spikes_written``, ``headers_written``, ``replies_written`` (answers
    other than data frames: acknowledgements), ``frames_skipped`` (catch-up limit and
    :meth:`skip_until`), ``dropouts``, ``frames_dropped`` (silent during a dropout) and
    ``answers_dropped`` (commands left unanswered during a dropout).
    """

    def __init__(  # noqa: PLR0917 (the positional order is the documented API)
        self,
        spec: FormatSpec,
        signals: Mapping[str, SignalSpec],
        sampling_rate_hz: float,
        terminator: bytes,
        simulation: SimulationSpec,
        start_s: float,
        *,
        model: DeviceModel | None = None,
    ) -> None:
        if not (math.isfinite(sampling_rate_hz) and sampling_rate_hz > 0.0):
            raise ValueError(f"sampling_rate_hz must be positive, got {sampling_rate_hz}")
        if not terminator:
            raise ValueError("terminator must not be empty")
        known = {name for pair in spec.fields for name in pair}
        unknown = sorted(set(signals) - known)
        if unknown:
            raise ValueError(f"signals for unknown channels: {', '.join(unknown)}")
        codec = codec_for(spec.format)
        if codec.binary:
            terminator = b""
        self.spec = spec
        self.model = model
        #: answers (and the frames due before them) waiting for the next read
        self._out = bytearray()
        self.sampling_rate_hz = sampling_rate_hz
        self.terminator = terminator
        self.simulation = simulation
        self.start_s = start_s
        problems = codec.check(spec)
        if problems:
            raise ValueError("; ".join(f"{key}: {message}" for key, message in problems))
        self._encode = codec.encoder(spec)
        self._header = codec.header(spec)
        sealer = line_sealer(spec)
        #: lines sent with a checksum (``parse.checksum``): their garbage is a changed byte
        self._sealed = sealer is not None
        if sealer is not None:
            encode = self._encode
            self._encode = lambda values, t_s: [sealer(line) for line in encode(values, t_s)]
            if self._header is not None:
                self._header = sealer(self._header)
        self._header_due = self._header is not None
        signal_of: dict[str, SignalSpec] = {}
        for channel, field in spec.fields:
            if field not in signal_of:
                signal_of[field] = signals.get(channel, signals.get(field, DEFAULT_SIGNAL))
        self._signals = tuple(signal_of.items())
        self._rng = random.Random(simulation.seed)
        self._dropout_rng = random.Random(f"dropout:{simulation.seed}")
        alphabet = bytes(b for b in range(1, 256) if b not in terminator)
        self._garbage_alphabet = alphabet
        #: the bytes a checked line's changed byte may become
        self._printable = bytes(b for b in range(0x20, 0x7F) if b not in terminator)
        self._checked_from = 1 if spec.checksum == "nmea" else 0
        self._binary = codec.binary
        #: the kind of checked block each sample's frames are sent in, if any
        self._block = spec.block or codec.block
        #: wraps one sample's frames in that block (None: no block)
        self._envelope: Callable[[Sequence[bytes]], bytes] | None = None
        if self._block is not None:
            from sensord.formats.blocks import envelope  # noqa: PLC0415  (loaded by a sensor of blocks)

            self._envelope = functools.partial(envelope, self._block, crc=spec.crc)
        self._start = spec.frame.start if spec.frame is not None else b""
        self._garbage_marker = next((b for b in (0xFF, 0xFE, 0xC0) if b not in terminator), None)
        self._next_index = 0
        self._next_dropout_check_s = 0
        self._dropout_until_s = -math.inf
        self.frames_written = 0
        self.garbage_written = 0
        self.spikes_written = 0
        self.headers_written = 0
        self.frames_skipped = 0
        self.frames_dropped = 0
        self.dropouts = 0
        self.replies_written = 0
        self.answers_dropped = 0

    @property
    def streaming(self) -> bool:
        """True while the device sends frames of its own at its sampling rate."""
        return self.model is None or self.model.streaming

    def _due_s(self, index: int) -> float:
        return self.start_s + index / self.sampling_rate_hz

    def _first_index_at(self, when_s: float) -> int:
        """The first frame index due at or after ``when_s``."""
        index = max(0, math.ceil((when_s - self.start_s) * self.sampling_rate_hz))
        while index > 0 and self._due_s(index - 1) >= when_s:
            index -= 1
        while self._due_s(index) < when_s:
            index += 1
        return index

    def next_due_s(self) -> float:
        """When the next frame is due (after the current dropout, if one is under way): at
        once while answers wait, never while the device does not stream."""
        if self._out:
            return -math.inf
        if not self.streaming:
            return math.inf
        index = self._next_index
        if index / self.sampling_rate_hz < self._dropout_until_s:
            index = self._first_index_at(self.start_s + self._dropout_until_s)
        return self._due_s(index)

    def skip_until(self, now_s: float) -> None:
        """Drop every frame due before ``now_s`` and every answer unsent (the port was closed
        meanwhile)."""
        self._out.clear()
        self._skip_before(now_s)

    def _skip_before(self, now_s: float) -> None:
        first = self._first_index_at(now_s)
        if first > self._next_index:
            self.frames_skipped += first - self._next_index
            self._next_index = first
            t_s = first / self.sampling_rate_hz
            self._next_dropout_check_s = max(self._next_dropout_check_s, math.ceil(t_s))

    def bytes_due(self, now_s: float) -> bytes:
        """The bytes of every frame due since the last call, each followed by the terminator,
        after the answers to the commands received since then."""
        out, self._out = self._out, bytearray()
        self._frames_until(now_s, out)
        return bytes(out)

    def receive(self, data: bytes, now_s: float) -> None:
        """Bytes written to the device at ``now_s``: its answers go out with the next read."""
        if self.model is None:
            return
        self._frames_until(now_s, self._out)  # what was due before the command, as it was
        answers = self.model.receive(data)
        if not answers:
            return
        t_s = now_s - self.start_s
        if self.simulation.dropout_rate > 0.0:
            self._roll_dropouts(t_s)
        if t_s < self._dropout_until_s:
            self.answers_dropped += len(answers)
            return
        for answer in answers:
            if answer is None:
                self._emit(t_s, self._out)
            else:
                self._out += answer + self.terminator
                self.replies_written += 1

    def _frames_until(self, now_s: float, out: bytearray) -> None:
        """Add the frames due up to ``now_s`` to ``out`` (none while not streaming)."""
        if self._due_s(self._next_index) > now_s:
            return
        last = self._first_index_at(now_s)
        if self._due_s(last) > now_s:
            last -= 1
        rate = self.sampling_rate_hz
        check_dropouts = self.simulation.dropout_rate > 0.0
        if not self.streaming:  # the schedule moves on; nothing is sent, nothing skipped
            if check_dropouts:
                self._roll_dropouts(last / rate)
            self._next_index = last + 1
            return
        self._skip_before(now_s - CATCH_UP_S)
        full = len(out) + MAX_READ_BYTES
        index = self._next_index
        while index <= last and len(out) < full:
            t_s = index / rate
            index += 1
            if check_dropouts:
                self._roll_dropouts(t_s)
            if t_s < self._dropout_until_s:
                self.frames_dropped += 1
                continue
            self._emit(t_s, out)
        self._next_index = index

    def _roll_dropouts(self, t_s: float) -> None:
        simulation = self.simulation
        while self._next_dropout_check_s <= t_s:
            second = self._next_dropout_check_s
            self._next_dropout_check_s += 1
            if second < self._dropout_until_s:
                continue
            if self._dropout_rng.random() < simulation.dropout_rate:
                self._dropout_until_s = second + simulation.dropout_s
                self.dropouts += 1
                self._header_due = self._header is not None

    def _emit(self, t_s: float, out: bytearray) -> None:
        """The frames of one sample at ``t_s`` into ``out``, faults drawn."""
        terminator = self.terminator
        if self._header_due and self._header is not None:
            out += self._header + terminator
            self._header_due = False
            self.headers_written += 1
        rng = self._rng
        simulation = self.simulation
        damage = bool(simulation.garbage_rate) and rng.random() < simulation.garbage_rate
        if damage and not self._binary and self._block is None and not self._sealed:
            out += self._garbage() + terminator
            self.garbage_written += 1
            return
        values: dict[str, float] = {}
        for field, signal in self._signals:
            value = signal.baseline(t_s)
            if signal.noise:
                value += rng.gauss(0.0, signal.noise)
            values[field] = value
        if simulation.spike_rate and rng.random() < simulation.spike_rate:
            field, signal = self._signals[rng.randrange(len(self._signals))]
            scale = 10.0 * max(abs(signal.amplitude), signal.noise, 1.0)
            offset = scale * rng.uniform(2.0, 4.0)
            values[field] = signal.baseline(t_s) + (offset if rng.random() < 0.5 else -offset)
            self.spikes_written += 1
        frames = self._encode(values, t_s)
        if self.model is not None:
            frames = [self.model.stamp(frame) for frame in frames]
        if self._envelope is not None:  # one block of the frames, damaged or not
            block = self._envelope(frames)
            # a telegram's CR LF after its CRC is left whole: a CR made a NUL there is taken
            # (a meter may send one), and the block would be read after all
            out += self._bit_error(block, len(block) - 2) if damage else block
            if damage:
                self.garbage_written += 1
            else:
                self.frames_written += len(frames)
            return
        if damage:
            if self._sealed:
                out += self._changed_line(frames[0]) + terminator
            else:
                out += self._damaged(frames[0])
            self.garbage_written += 1
            return
        for frame in frames:
            out += frame
            out += terminator
        self.frames_written += len(frames)

    def _damaged(self, frame: bytes) -> bytes:
        """What a serial line may make of a binary ``frame``; never the frame itself."""
        rng = self._rng
        kind = rng.randrange(4)
        if kind == 1 and self._start:  # a false start: start bytes, then noise
            return self._start + self._garbage()
        if kind == 2:
            return self._bit_error(frame)
        if kind == 3:  # bytes lost: the frame cut short
            return frame[: rng.randrange(1, len(frame))]
        return self._garbage()

    def _changed_line(self, line: bytes) -> bytes:
        """``line``, sent with its checksum (three bytes at its end), with one byte before the
        checksum (after an ``nmea`` line's ``$``) changed into another printable byte; a line
        without such a byte is garbage instead."""
        rng = self._rng
        first, end = self._checked_from, len(line) - 3
        if end <= first:
            return self._garbage()
        at = rng.randrange(first, end)
        changed = bytearray(line)
        changed[at] = rng.choice([b for b in self._printable if b != line[at]])
        return bytes(changed)

    def _bit_error(self, frame: bytes, within: int = 0) -> bytes:
        """``frame`` with one byte changed (one of its first ``within`` bytes, if given)."""
        rng = self._rng
        changed = bytearray(frame)
        changed[rng.randrange(within or len(changed))] ^= rng.randrange(1, 256)
        return bytes(changed)

    def _garbage(self) -> bytes:
        rng = self._rng
        garbage = bytearray(rng.choices(self._garbage_alphabet, k=rng.randint(4, 40)))
        if self._garbage_marker is not None:
            garbage[rng.randrange(len(garbage))] = self._garbage_marker
        return bytes(garbage)


def line_sealer(spec: FormatSpec) -> Callable[[bytes], bytes] | None:
    """How the device sends an encoded line with the checksum ``parse.checksum`` names (None:
    without one): for ``nmea``, a line that does not begin with ``$`` or ``!`` gets the start
    of an NMEA-like line its format reads past (``$SIM`` and the pair separator before ``kv``
    pairs, a ``$`` glued to a ``csv`` line's cell 0, which no channel reads, or before a
    ``json`` object)."""
    kind = spec.checksum
    if kind is None:
        return None
    prefix = b""
    if kind == "nmea" and spec.format == "kv":
        prefix = b"$SIM" + spec.pair_separator.encode(spec.encoding)
    elif kind == "nmea":
        prefix = b"$"

    def sealed(line: bytes) -> bytes:
        if prefix and not line.startswith((b"$", b"!")):
            line = prefix + line
        return seal(kind, line)

    return sealed


# -- the source ----------------------------------------------------------------------------------


class SimulatedSource(Source):
    """A timed source reading a :class:`SimulatedDevice`.

    ``next_due()`` is the time of the device's next frame, but never sooner than
    ``min_interval_s`` after the previous read, so fast sensors are read in batches.
    """

    simulated = True

    def __init__(
        self,
        sensor: str,
        url: str,
        device: SimulatedDevice,
        clock: Callable[[], float] = time.monotonic,
        min_interval_s: float = 0.05,
    ) -> None:
        super().__init__(sensor, url)
        if not min_interval_s >= 0.0:
            raise ValueError(f"min_interval_s must not be negative, got {min_interval_s}")
        self.device = device
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._last_read_s = -math.inf

    def _open(self) -> None:
        self.device.skip_until(self._clock())
        self._last_read_s = -math.inf

    def _close(self, was_open: bool) -> None:
        del was_open

    def next_due(self) -> float:
        return max(self.device.next_due_s(), self._last_read_s + self.min_interval_s)

    def read(self) -> bytes:
        if not self.is_open:
            raise SourceBrokenError(self.sensor, "simulated port is closed")
        now_s = self._clock()
        self._last_read_s = now_s
        return self.device.bytes_due(now_s)

    def write(self, data: bytes) -> None:
        """The device reads ``data`` (a poll request, set-up commands) and answers."""
        if not self.is_open:
            raise SourceBrokenError(self.sensor, "simulated port is closed")
        self.device.receive(data, self._clock())
