"""The echo of a Modbus RTU line's adapter, and its transceivers' glitch bytes, told apart
from the answers on a bus (:mod:`sensord.bus`): :class:`LineEcho`. An adapter that hears its
own transmission on a 2-wire line sends each request back as it goes out; with
``serial.local_echo`` off the bus learns it from a read's echo (``LineEcho.read_echo``), then
drops each write's echo before its answer (``LineEcho.write_echo``), and a write answered with
its request's own bytes before that is known (the answer of functions 05 and 06 is that copy)
is settled by what the line shows next (``LineEcho.write_copied``, ``copy_of_write``,
``copy_settled``). Bytes 00 or FF that a transceiver puts on the line as it turns around may
come before an echo (:data:`GLITCH_BYTES`, ``_glitch``), and frames that came on the line
before a write's request went out may come in one batch with its echo, found by the CRC
registers of the batch's starts (``_crc_states``, ``_frame_split``, ``_frames_at``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from structlog.typing import FilteringBoundLogger

from sensord.bus_device import _Device, _Exchange
from sensord.bus_hints import ECHO_HINT, GLITCH_HINT
from sensord.bus_reads import DOWN_AFTER_TIMEOUTS, ECHO_NO_ANSWER_HINT, DeviceReads
from sensord.formats.modbus import MAX_FRAME_BYTES, ModbusLink, Request, Response, crc16

__all__ = ["GLITCH_BYTES", "GLITCH_MAX", "MIN_FRAME_BYTES", "EchoBus", "LineEcho"]

#: The bytes of the shortest RTU answer (an exception: unit id, function code, code, CRC).
MIN_FRAME_BYTES = 5


#: The byte values an RS-485 transceiver puts on the line as it turns around, before the echo
#: of a request or before an answer: the line held low for a character time reads as 00 (a
#: zero byte before the echo or answer, stephane/libmodbus issue 14, pyhys/minimalmodbus
#: issue 61, alejoseb/Modbus-STM32-HAL-FreeRTOS issue 21, home-assistant/core issue 69742), a
#: start bit alone on an idle line as FF.
GLITCH_BYTES = frozenset({0x00, 0xFF})


#: The write functions whose answer is never their request's own bytes (15 and 16: the
#: request's unit id, function code, address and count, and a CRC of their own; the Modbus
#: application protocol), so that their request coming back whole is the adapter's echo.
_ANSWER_NOT_REQUEST = frozenset({0x0F, 0x10})


#: The most glitch bytes (:data:`GLITCH_BYTES`) taken for a turnaround before an echo
#: (libmodbus issue 14: "1 or 2 for now"; Home Assistant issue 69742: 3).
GLITCH_MAX = 3


#: The CRC-16/MODBUS table by the register's low byte xor the byte fed (the register from 0
#: over one byte), drawn from :func:`~sensord.formats.modbus.crc16` over one byte from its
#: start of FFFF: the register after the bytes of a chunk, one by one (``_crc_states``).
_CRC_TABLE = tuple(crc16(bytes([low ^ 0xFF])) ^ 0x00FF for low in range(256))


#: The k of ``crc16`` of k zero bytes, by that CRC, for every k up to two frames'
#: :data:`~sensord.formats.modbus.MAX_FRAME_BYTES` (what one or two frames can hold): built
#: once; each k has a CRC of its own (the zero bytes' CRCs repeat only after 32767 of them).
_ZERO_RUN_LENGTHS: dict[int, int] = {}


def _zero_runs(length: int) -> None:
    """Fill ``_ZERO_RUN_LENGTHS`` with every run of zero bytes up to ``length``."""
    crc = 0xFFFF
    for k in range(length + 1):
        _ZERO_RUN_LENGTHS[crc] = k
        crc = (crc >> 8) ^ _CRC_TABLE[crc & 0xFF]


_zero_runs(2 * MAX_FRAME_BYTES)


def _crc_states(data: bytes) -> list[int]:
    """The CRC-16/MODBUS register after each start of ``data``: ``states[i]`` is
    ``crc16(data[:i])``, all of them in one pass."""
    crc = 0xFFFF
    states = [crc]
    table = _CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
        states.append(crc)
    return states


def _frame_split(states: list[int], end: int) -> int:
    """Whether the bytes whose CRC registers are ``states`` (``_crc_states``), up to ``end``,
    are one sound RTU frame (its CRC right: 0), or two, one after the other (where the
    second begins; the first such place), or neither (-1). Linear work at most: the CRC is
    linear, so where the first frame is sound (its register 0), the register at ``end`` is
    the second's CRC from a register of 0, and that from FFFF differs from it by the CRC of as
    many zero bytes, whose length the register at ``end`` names (every length below the
    CRC's period has a CRC of zero bytes of its own). A second frame longer than two frames'
    :data:`~sensord.formats.modbus.MAX_FRAME_BYTES` is none (its callers look at no more
    bytes than that), so the table of those lengths is built once and never grows."""
    crc = states[end]
    if not crc:
        return 0
    length = _ZERO_RUN_LENGTHS.get(crc, 0)
    split = end - length
    if split >= MIN_FRAME_BYTES and length >= MIN_FRAME_BYTES and not states[split]:
        return split
    return -1


def _frames_at(states: list[int], chunk: bytes, end: int) -> tuple[int, int]:
    """Where the first of one or two sound RTU frames that ``chunk`` holds up to ``end`` ends,
    and where the second begins (``states`` are ``chunk``'s CRC registers): ``(end, end)``
    for one frame, the same place twice for two one after the other (``_frame_split``), two
    places for two with at most :data:`GLITCH_MAX` glitch bytes between them that hold a
    byte FF (``_glitch_between``: zero bytes alone after a sound frame leave its CRC register
    at 0, so ``_frame_split`` takes them for that frame's); ``(-1, -1)`` for neither."""
    split = _frame_split(states, end)
    if split >= 0:
        return (split, split) if split else (end, end)
    return _glitch_between(states, chunk, end)


def _glitch_between(states: list[int], chunk: bytes, end: int) -> tuple[int, int]:
    """Two sound RTU frames in ``chunk`` up to ``end`` with glitch bytes between them (a
    transceiver turning around between a request and its answer: a start bit alone on the
    idle line reads as FF), as ``_frames_at`` tells them; ``(-1, -1)`` where there are none.
    The first frame ends where the CRC register is 0 (``states``) and a byte FF follows: a
    frame's end or a chance 1 in 65536 at each byte, so few places are tried, each with one
    CRC of the rest."""
    first = MIN_FRAME_BYTES - 1
    while True:
        try:  # (the next place whose register is 0, a glitch byte and a frame before end)
            first = states.index(0, first + 1, end - MIN_FRAME_BYTES)
        except ValueError:
            return -1, -1
        if chunk[first] != 0xFF:
            continue
        for glitch in range(1, GLITCH_MAX + 1):
            if chunk[first + glitch - 1] not in GLITCH_BYTES:
                break
            second = first + glitch
            if end - second >= MIN_FRAME_BYTES and not crc16(chunk[second:end]):
                return first, second


def _frames_end(states: list[int], chunk: bytes, end: int) -> int:
    """Where one or two sound RTU frames at the start of ``chunk`` (``_frames_at``; ``states``
    are its CRC registers) end, when at most :data:`GLITCH_MAX` glitch bytes
    (:data:`GLITCH_BYTES`: a transceiver turning around after them) follow them up to
    ``end``: the place that leaves the most such bytes (zero bytes after a sound frame leave
    its CRC register at 0, so the frame is sound with them too: they are no part of it); -1
    where there is none."""
    found = -1
    for glitch in range(min(GLITCH_MAX, end - MIN_FRAME_BYTES) + 1):
        if glitch and chunk[end - glitch] not in GLITCH_BYTES:
            break
        if _frames_at(states, chunk, end - glitch)[0] >= 0:
            found = end - glitch
    return found


def _glitch(request: bytes, chunk: bytes, before: int = 0) -> int:
    """How many bytes at the start of ``chunk``, the first bytes of an RTU exchange on a line
    that echoes, are a transceiver's glitch before the echo of ``request``, ``before`` such
    bytes having come in the exchange's earlier pieces: the fewest bytes of
    :data:`GLITCH_BYTES`, :data:`GLITCH_MAX` at most with those ``before``, that are all of
    ``chunk`` or are followed by the echo's first bytes (the whole echo, or up to the end of
    ``chunk``); 0 where none are. A request's unit id may be 00 or FF itself: the fewest
    bytes leave it to the echo (``00 FF 06`` before unit FF's write is one glitch byte)."""
    size = len(request)
    for count in range(1, min(GLITCH_MAX - before, len(chunk)) + 1):
        if chunk[count - 1] not in GLITCH_BYTES:
            break
        if request.startswith(chunk[count : count + size]):
            return count
    return 0


def _lead_glitch(chunk: bytes) -> int:
    """How many of the first bytes of ``chunk`` are :data:`GLITCH_BYTES`, up to
    :data:`GLITCH_MAX` (a transceiver turning around before the frame that follows them)."""
    count = 0
    while count < min(GLITCH_MAX, len(chunk) - 1) and chunk[count] in GLITCH_BYTES:
        count += 1
    return count


def _frames_cut(request: bytes, chunk: bytes) -> bool:
    """Whether ``chunk``, the first bytes of a write's exchange on a line known to echo, none
    of which begins the echo of ``request`` nor one or two whole frames before it
    (``LineEcho._echo_begins``, ``LineEcho._came_before``), may be the start of frames that
    came on the line before the request went out (another master's request and its answer,
    another device's late answer), cut by the adapter's batch with their rest and the echo
    in the next one: its first byte is not the write's unit id (so no answer of the device's
    begins there: the device's copy, address and count, or exception), and no such answer,
    nor the echo, lies whole after it. An adapter cuts its batches anywhere; held, the bytes
    are read with the next batch as one (``LineEcho.write_echo``). Bytes that turn out to be
    none of these are passed on as they came, at the first batch where an answer or the echo
    lies whole after them, or once they hold two frames' length."""
    if chunk[0] == request[0] or len(chunk) >= 2 * MAX_FRAME_BYTES:
        return False
    refusal = bytes((request[0], request[1] | 0x80))
    for head, size in ((request[:2], 8), (refusal, MIN_FRAME_BYTES)):
        begins = chunk.find(head, 1)
        while begins > 0:
            if len(chunk) - begins >= size:
                return False
            begins = chunk.find(head, begins + 1)
    return True


def _held_glitch(request: bytes, at: int, before: int) -> bool:
    """Whether the first ``at`` bytes of ``request``'s echo, taken for its echo from
    the exchange's earlier pieces (``before`` glitch bytes before them), can be glitch bytes
    instead: a request to unit id 00 or FF, whose echo begins with a glitch byte, its first
    byte read alone (``FF`` then ``FF 06...`` is ``FF FF 06...``, a glitch and the echo)."""
    return before + at <= GLITCH_MAX and all(byte in GLITCH_BYTES for byte in request[:at])


class EchoBus(Protocol):
    """What the line's echo reads and sets of its bus (:class:`~sensord.bus.Bus`): the exchange
    in flight, whether the line is known to echo (``_line_echoes``, which the bus's scheduling
    reads too), the requests sent since the port opened (``_requests``), and the framing of
    bytes that came before a write's echo as bytes that came while no exchange was in flight
    (``_feed_frames``), and the answers a device owes (``owes``)."""

    in_flight: _Exchange | None
    _line_echoes: bool
    _requests: int

    def _feed_frames(self, chunk: bytes, flight: _Exchange | None) -> bytes: ...

    def owes(self, device: _Device, request: Request | None) -> None: ...


class LineEcho:
    """The echo of the requests on ``bus``'s line (see the module docstring): ``link`` is the
    bus's framing, whose skipped bytes count the echoes and glitch bytes dropped; ``devices``,
    ``reads`` and ``log`` are the bus's; ``echo_writes``: an RTU line with
    ``serial.local_echo`` off, where a write's first copy of its request may be the adapter's
    echo."""

    def __init__(
        self,
        bus: EchoBus,
        *,
        link: ModbusLink,
        devices: dict[str, _Device],
        reads: DeviceReads,
        log: FilteringBoundLogger,
        clock: Callable[[], float],
        echo_writes: bool,
    ) -> None:
        self._bus = bus
        self.link = link
        self.devices = devices
        self.reads = reads
        self.log = log
        self._clock = clock
        #: requests that came back as sent (an adapter that hears its own transmission while
        #: ``serial.local_echo`` is off) have been logged (once a run)
        self._echo_noted = False
        #: glitch bytes before a request's echo (``_glitch``) have been logged (once a run)
        self._glitch_noted = False
        #: RTU with ``serial.local_echo`` off: a write's answer with its request's own bytes
        #: may be the adapter's echo of it (``write_copied``)
        self._echo_writes = echo_writes
        #: the last write answered with its request's own bytes (functions 05 and 06 answer
        #: so, and so does an adapter's echo of it), and until when a second copy of them, the
        #: device's answer after such an echo, may come (see ``write_copied``), that write's
        #: exchange, the polls in a row at which it had not got through before
        #: (``_Device.write_polls``, which taking it clears), its round trip, counted once the
        #: copy is known to be the device's answer, and whether the bus did not know yet then
        #: that the line echoes (``copy_settled``)
        self.write_copy = b""
        self.write_copy_until = float("-inf")
        self._write_copy_of: _Exchange | None = None
        self._write_copy_polls = 0
        self._write_copy_rtt_s = 0.0
        self._write_copy_unknown = False
        #: RTU: while the bus did not know then whether the line echoes, a request sent after
        #: that write came back as sent (a read's echo, ``read_echo``; an earlier write's
        #: answer after that copy, ``_copy_before``): the copy was the adapter's echo, whatever
        #: the line shows later (``copy_settled``)
        self._write_copy_echoed = False
        #: the requests sent since the port opened (``Bus._requests``) when that write was
        #: answered: while the line's echo is not known, the copy is settled only once a
        #: request sent after it is done (``copy_due``)
        self._write_copy_requests = 0
        #: RTU with ``serial.local_echo`` off: the writes answered so before that one, while
        #: the bus did not know whether the line echoes, with their polls, round trips and
        #: windows: what settles it settles them (``copy_settled``), unless a second copy of
        #: one comes in its window (``_copy_before``)
        self._copies_before: list[tuple[_Exchange, int, float, float]] = []

    def write_copied(self, flight: _Exchange, frame: bytes, now: float) -> bool:
        """Whether ``frame``, which answers ``flight``, is its write request's own bytes with no
        echo dropped before them (``write_echo``), on an RTU line with ``serial.local_echo`` off:
        the device's answer of a function 05 or 06, or the adapter's echo of the request, which
        the line shows next (``copy_of_write``, ``copy_settled``). That copy is noted, and the
        write answered so before it settled or kept with it (``_copies_before``)."""
        device = flight.device
        copied = (
            flight.expected.write
            and self._echo_writes
            and frame == flight.request
            and flight.echoed != len(frame)
        )
        if copied:
            # the request's own bytes, with no echo dropped before them (``write_echo``): an
            # adapter that hears its own transmission sends them back before the device
            # answers with the same, within its timeout (``copy_of_write``); the write
            # answered so before this one, whose copy has not come, is settled now, or with
            # this one while the bus does not know yet whether the line echoes (this first
            # copy tells nothing of that one's)
            earlier = self._write_copy_of
            if earlier is not None and self._write_copy_unknown and not self._bus._line_echoes:
                self._copies_before.append(
                    (
                        earlier,
                        self._write_copy_polls,
                        self._write_copy_rtt_s,
                        self.write_copy_until,
                    )
                )
                self.write_copy, self._write_copy_of = b"", None
            elif self.write_copy:
                self.copy_settled()
            self.write_copy = frame
            self.write_copy_until = now + device.timeout_s
            self._write_copy_of = flight
            self._write_copy_polls = device.write_polls.get(flight.expected, 0)
            self._write_copy_rtt_s = now - flight.sent_at
            self._write_copy_unknown = not self._bus._line_echoes
            self._write_copy_echoed = False
            self._write_copy_requests = self._bus._requests
        return copied

    def read_echo(self, flight: _Exchange, chunk: bytes) -> None:
        """``chunk`` is among the first bytes of ``flight``'s exchange: while they are its
        read's request as sent, they are its echo (an adapter that hears its own
        transmission, with ``serial.local_echo`` off), which is logged once, makes the
        down reason of a device that answers nothing after it say so, and tells the bus that
        the line echoes (``Bus._line_echoes``). A write of function 15 or 16 is read so too: its
        answer is 8 bytes, the request's unit id, function code, address and count with a CRC
        of their own, never its request whole, so the request whole shows the echo as a
        read's does (and settles a write before it answered with its own bytes as an echo:
        ``copy_settled``). A write of function 05 or 06 is left out: its answer is the
        request's bytes (once the line is known to echo, ``write_echo`` drops a write's
        echo)."""
        if (flight.expected.write and flight.request[1] not in _ANSWER_NOT_REQUEST) or (
            not flight.expected.rtu
        ):
            flight.echoed = -1
            return
        request = flight.request
        at = flight.echoed
        part = chunk[: len(request) - at]
        if request[at : at + len(part)] != part:
            if at and _held_glitch(request, at, flight.glitched):
                flight.echoed = 0  # (what was taken for the echo's first bytes was a glitch)
                self.read_echo(flight, request[:at] + chunk)
                return
            glitch = 0 if at else _glitch(request, chunk, flight.glitched)
            if not glitch:
                flight.echoed = -1
                return
            flight.glitched += glitch  # (the link skips the glitch bytes as noise)
            part = chunk[glitch : glitch + len(request)]
        flight.echoed = at + len(part)
        if flight.echoed == len(request):
            if flight.glitched:
                self._glitched(flight)
            self._bus._line_echoes = True
            self._write_copy_echoed = bool(self.write_copy)  # (the write went before it)
            if not self._echo_noted:
                self._echo_noted = True
                self.log.warning(
                    "requests come back as sent",
                    sensor=flight.device.sensor.name,
                    hint=ECHO_HINT,
                )

    def write_echo(self, flight: _Exchange, chunk: bytes) -> bytes:
        """``chunk`` is among the first bytes of ``flight``'s exchange, a set-up write on a
        line known to echo (``Bus._line_echoes``): while they are the write's request as sent,
        they are the adapter's echo, which comes before anything the device sends (as
        pymodbus's ``handle_local_echo`` drops it from the front of what comes, whole or in
        pieces). Held back while they may still be the echo, dropped and counted as skipped
        bytes once the whole request came back, as a read's echo is; the rest of ``chunk`` is
        returned. The device's answer is what follows within the write's timeout: its copy
        of the request (05, 06), the address and count (15, 16) or an exception; an echo
        alone is no answer, and the write times out as unanswered
        (``DeviceReads.unanswered``: asked again at the next poll, logged as ``set-up write
        unanswered`` after :data:`~sensord.bus_reads.WRITE_POLLS` polls). Bytes that differ
        from the request are no echo: those held back before them (the request's first
        bytes, as a 15's or 16's answer begins) are returned with ``chunk``, and the rest of
        the exchange is read as on a line that does not echo (an adapter whose echo stopped
        with the port left open), whatever pieces the answer came in; unless, in the
        exchange's first chunk, they are one or two sound frames and the echo (whole, or
        its first bytes) follows them, or one or two sound frames that cannot answer the
        write are all it holds: those came before the request went out (``_after_echo``,
        ``_came_before``).

        Before the bus knows that the line echoes (the first write after the port opens,
        asked before any read), a write's first copy of its request is taken for its answer
        for the time being, as a device's answer of functions 05 and 06 is that copy
        (``Bus._answered``, ``copy_of_write``), and what the line shows next settles it
        (``copy_settled``): a silent device's write is unanswered once a request after it
        came back as sent."""
        request = flight.request
        if flight.before_echo:
            chunk, flight.before_echo = flight.before_echo + chunk, b""
        at = flight.echoed
        part = chunk[: len(request) - at]
        if request[at : at + len(part)] != part:
            if at and _held_glitch(request, at, flight.glitched):
                flight.echoed = 0  # (what was held as the echo's first bytes was a glitch)
                return self.write_echo(flight, request[:at] + chunk)
            glitch = 0 if at else _glitch(request, chunk, flight.glitched)
            if glitch:
                self.link.dropped(glitch)
                flight.glitched += glitch
                return self.write_echo(flight, chunk[glitch:]) if len(chunk) > glitch else b""
            lead = 0 if at else _lead_glitch(chunk)
            if lead and (
                self._echo_begins(request, chunk[lead:]) > 0
                or self._came_before(flight, chunk[lead:]) >= 0
            ):
                # a transceiver's glitch before frames that came before the request went out:
                # their turnaround, not the echo's (the frames restart the count before it)
                self.link.dropped(lead)
                return self.write_echo(flight, chunk[lead:])
            begins = -1 if at else self._echo_begins(request, chunk)
            if begins > 0:
                return self._after_echo(flight, chunk, begins)
            end = -1 if at else self._came_before(flight, chunk)
            if end >= 0:
                self._bus._feed_frames(chunk[:end], None)
                self._glitch_after_frames(flight, len(chunk) - end)
                return b""
            if not at and _frames_cut(request, chunk):
                flight.before_echo = chunk
                return b""
            flight.echoed = -1
            return request[:at] + chunk
        flight.echoed = at + len(part)
        if flight.echoed == len(request):
            self.link.dropped(len(request))
            if flight.glitched:
                self._glitched(flight)
        return chunk[len(part) :]

    def _glitched(self, flight: _Exchange) -> None:
        """Glitch bytes came before the echo of ``flight``'s request (``_glitch``), and the
        whole echo after them: logged once a run; the bytes themselves are counted as skipped
        bytes."""
        if not self._glitch_noted:
            self._glitch_noted = True
            self.log.info(
                "bytes before a request's echo", sensor=flight.device.sensor.name, hint=GLITCH_HINT
            )

    @staticmethod
    def _echo_begins(request: bytes, chunk: bytes) -> int:
        """Where in ``chunk``, the first bytes of a write's exchange on a line known to echo,
        the echo of ``request`` begins after one sound frame (its CRC right) or two (another
        master's request and its answer, on a line that master shares; the first such
        place), and glitch bytes a transceiver put on the line between them and the echo
        (``_frames_end``): the echo whole, or its first bytes up to the end of ``chunk`` (an
        adapter cuts its batches anywhere, within the echo too); -1 where none does."""
        begins = chunk.find(request[:1], MIN_FRAME_BYTES)
        states: list[int] = []  # the CRC registers of chunk's starts, once a place needs them
        while 0 < begins <= 2 * MAX_FRAME_BYTES:
            if request.startswith(chunk[begins : begins + len(request)]):
                if not states:
                    states = _crc_states(chunk[: 2 * MAX_FRAME_BYTES])
                if _frames_end(states, chunk, begins) >= 0:
                    return begins
            begins = chunk.find(request[:1], begins + 1)
        return -1

    @staticmethod
    def _came_before(flight: _Exchange, chunk: bytes) -> int:
        """Where the frames end when ``chunk``, the first bytes of ``flight``'s write on a line
        known to echo, read before any of the echo, is one sound frame (its CRC right) or two,
        and glitch bytes after them (``_frames_end``), none of which can be the write's
        answer (its copy of the request, nor address and count, nor an exception of its unit
        id and function code): they came on the line before the request went out (another
        device's late answer, another master's request and its answer, read just after the
        request was written), and the echo is still to come; -1 where it is not so."""
        if not MIN_FRAME_BYTES <= len(chunk) <= 2 * MAX_FRAME_BYTES:
            return -1
        states = _crc_states(chunk)
        end = _frames_end(states, chunk, len(chunk))
        if end < 0:
            return -1
        first, second = _frames_at(states, chunk, end)
        expected = flight.expected
        frames = (chunk[:first], chunk[second:end]) if first < end else (chunk[:end],)
        if any(
            expected.answers(frame, flight.transaction_id) or frame[:2] == expected.exception_head
            for frame in frames
        ):
            return -1
        return end

    def _after_echo(self, flight: _Exchange, chunk: bytes, begins: int) -> bytes:
        """``chunk``, the first bytes of ``flight``'s write on a line known to echo, holds the
        echo of its request from ``begins`` on (whole, or its first bytes), after one or two
        sound frames (their CRC right): they came before the request went out (an adapter
        passes on what it received in batches: an FTDI chip's latency timer holds up to 16 ms
        of bytes), as a device's late answer to the write before this one does, or another
        master's exchange, and are read as frames that come while no exchange is in flight
        (``Bus._feed_frames``); glitch bytes between them and the echo are dropped
        (``_glitch_after_frames``). (Bytes whose CRC is wrong are the echo damaged on the line,
        and the request's bytes after them the device's answer: ``write_echo``.) The echo is
        held back and dropped as ``write_echo`` does it; what follows it in ``chunk`` is
        returned."""
        end = _frames_end(_crc_states(chunk[:begins]), chunk, begins)
        self._bus._feed_frames(chunk[:end], None)
        self._glitch_after_frames(flight, begins - end)
        return self.write_echo(flight, chunk[begins:])

    def _glitch_after_frames(self, flight: _Exchange, count: int) -> None:
        """``count`` glitch bytes came after the frames that came before ``flight``'s write
        went out, before its echo: counted as skipped bytes, and told with the echo
        (``_glitched``) as glitch bytes right before it are. They are the glitch bytes before
        the echo (``glitched``, which :func:`_glitch` holds to :data:`GLITCH_MAX`) alone: any
        before the frames came as the line turned around before those."""
        self.link.dropped(count)
        flight.glitched = count

    def echo_after_proof(self, flight: _Exchange, frame: bytes) -> bool:
        """``frame`` is the first copy of ``flight``'s write request, sent while the line
        was not known to echo, and a frame that came since showed that it echoes
        (``copy_of_write``: the device's answer after the echo of the write before
        ``flight``'s, passed on with this one's echo in one batch or in the read before it;
        an adapter cuts its batches anywhere, within a frame too): it is the write's echo,
        which comes before anything the device sends, not its answer. Dropped as
        ``write_echo`` drops an echo (skipped bytes), and True."""
        if not (
            flight.echo_unknown
            and self._bus._line_echoes
            and flight.expected.write
            and flight.expected.rtu
            and flight.echoed != len(flight.request)
            and frame == flight.request
        ):
            return False
        flight.echoed = len(flight.request)
        self.link.dropped(len(flight.request))
        return True

    def copy_of_write(self, response: Response) -> bool:
        """``response`` is a second copy of the write answered last (``Bus._answered``), within
        the device's timeout: the first was the adapter's echo of the request, this one the
        device's answer. Logged as an echo (once a run) and dropped, not counted as a frame
        nobody asked for (another master, two devices of one unit id) nor as the answer of
        another function to the exchange in flight. The write's ``set-up write taken`` line
        waits for this (``DeviceReads.written``'s ``copy``): told at the copy, or at another
        frame or once the window has passed, when it can be settled (``Bus.tick``;
        ``Bus._close_source``). An exception of
        the write's unit id and function code in its place is the device's answer after the
        echo too: it refused the write, which is that write's exception
        (``DeviceReads.refused_after_echo``, which drops that line), not a frame nobody asked
        for; unless a write of that unit id and function code is in flight now (the next
        set-up write, sent after the device's own answer to this one): the exception is that
        write's answer, as an adapter that echoes would have sent the echo of that write
        before it. Either tells the bus that the line echoes (``Bus._line_echoes``): the writes
        after it have their echo dropped (``write_echo``). A second copy of a write answered
        so before this one, or an exception in its place, is that write's answer
        (``_copy_before``). Any other frame settles the write as its window's end does
        (``copy_settled``), once it can be (``copy_due``), as ``Bus.tick`` does: while the line's
        echo is not known, only once a request sent after the copy is done, since a frame of
        another master's exchange, on a line shared with one, or another device's late
        answer, may come with the echo, before that request has shown whether it comes back
        as sent."""
        copy = self.write_copy
        flight = self._write_copy_of
        if self._clock() > self.write_copy_until:
            if self.copy_due():
                self.copy_settled()
            return False
        current = self._bus.in_flight
        if (
            current is not None
            and current.expected.write
            and response.frame == current.request
            and self._write_copy_unknown
            and not self._bus._line_echoes
        ):
            return False  # the next write's first copy, as telling: settled with it
        if self._copies_before and self._copy_before(response):
            return True
        if response.frame != copy:
            # the answer of a write of the copy's unit id and function code in flight: it
            # came with no echo before it, so the line does not echo
            answers_current = current is not None and current.request[:2] == copy[:2]
            if (
                not response.exception_code
                or response.frame[:2] != bytes((copy[0], copy[1] | 0x80))
                or flight is None
                or self.devices.get(flight.device.sensor.name) is not flight.device
                or answers_current
            ):
                if answers_current or self.copy_due():
                    self.copy_settled()
                return False
            self._copy_answered(after_echo=True)
            polls = self._write_copy_polls
            self.reads.refused_after_echo(flight.device, flight.expected, response, polls)
        else:  # the device's own answer after the echo: the write was taken
            self._copy_answered(after_echo=True)
            self.reads.tell_taken()
        self._bus._line_echoes = True
        if not self._echo_noted:
            self._echo_noted = True
            device = {} if flight is None else {"sensor": flight.device.sensor.name}
            self.log.warning(
                "requests come back as sent", **device, unit=response.unit, hint=ECHO_HINT
            )
        return True

    def _copy_before(self, response: Response) -> bool:
        """True when ``response`` is the device's answer, after its echo, to a write answered
        so before the last one while the line's echo was not known (``_copies_before``),
        within that write's timeout: a second copy of it, or an exception of its unit id and
        function code (unless a write of those is in flight: its answer, see
        ``copy_of_write``), the earliest such write's. A device that takes longer to answer
        a write than the next request takes to go out and come back as sent (energy meters
        answer in 20 to 80 ms; at 9600 baud the silence and a request take 12 ms) answers
        after that request's echo, and answers its requests in order. The write's one copy
        before was its echo: the write is taken (its line told) or refused
        (``DeviceReads.refused_after_echo``), its exchange counted (its round trip to this
        answer), and the line echoes (``Bus._line_echoes``), which settles the copies after it
        as echoes unless their own answers come (``copy_settled``). Logged as an echo (once
        a run), not counted as a frame nobody asked for, nor as a late answer."""
        now = self._clock()
        frame = response.frame
        current = self._bus.in_flight
        for each in self._copies_before:
            flight, polls, _, until = each
            request = flight.request
            if now > until or self.devices.get(flight.device.sensor.name) is not flight.device:
                continue
            refused = (
                bool(response.exception_code)
                and frame[:2] == bytes((request[0], request[1] | 0x80))
                and (current is None or current.request[:2] != request[:2])
            )
            if refused or frame == request:
                break
        else:
            return False
        self._copies_before.remove(each)
        device = flight.device
        device.counters.transactions += 1
        device.counters.observe_rtt(now - flight.sent_at)
        if refused:
            self.reads.refused_after_echo(device, flight.expected, response, polls)
        else:
            self.reads.tell_taken(flight.expected)
        self._bus._line_echoes = True
        self._write_copy_echoed = bool(self.write_copy)  # (its copy came before this answer)
        if not self._echo_noted:
            self._echo_noted = True
            self.log.warning(
                "requests come back as sent",
                sensor=device.sensor.name,
                unit=response.unit,
                hint=ECHO_HINT,
            )
        return True

    def _copy_answered(self, *, after_echo: bool = False) -> None:
        """The write answered last with its request's own bytes (``write_copy``) is known to
        have been answered by its device: its exchange is counted, with its round trip to
        that first copy, or (``after_echo``: that copy was the adapter's echo, and the device's
        answer came now) to now; the writes answered so before it while the line's echo was
        not known (``_copies_before``) had their echo alone (``_echoes_alone``)."""
        flight, self._write_copy_of = self._write_copy_of, None
        self.write_copy = b""
        if flight is not None:
            counters = flight.device.counters
            counters.transactions += 1
            rtt_s = self._clock() - flight.sent_at if after_echo else self._write_copy_rtt_s
            counters.observe_rtt(rtt_s)
        self._echoes_alone()

    def _echoes_alone(self) -> None:
        """The writes of ``_copies_before`` had their one copy from the adapter, which echoes:
        each is unanswered (a timeout; ``DeviceReads.unanswered_after_echo``)."""
        before, self._copies_before = self._copies_before, []
        for flight, polls, _, _ in before:
            self._echo_alone(flight, polls)

    def _echo_alone(self, flight: _Exchange, polls: int) -> None:
        """The write of ``flight``, taken at its one copy, had the adapter's echo alone: it is
        unanswered (a timeout; ``DeviceReads.unanswered_after_echo``, ``polls``: its polls in
        a row before). Its answer may still come, as that of a request that timed out may (a
        meter that takes 100 ms or more to refuse a write held in its EEPROM, while the next
        exchange has begun or the write's window has passed): the device owes one late
        answer (``_Device.owed``), so its refusal after this is counted ``late`` and by its
        code, and held for the write (``StrayFrames._note_late_refusal``), not counted as a
        frame nobody asked for; an answer of the device's in time after this clears that
        debt (a device answers its requests in order). Of a device that left the bus (a
        reload), its waiting ``set-up write taken`` line is dropped, and nothing more told."""
        device = flight.device
        if self.devices.get(device.sensor.name) is not device:
            self.reads.forget_taken(flight.expected)
            return
        device.counters.timeouts += 1
        device.owed = min(device.owed + 1, DOWN_AFTER_TIMEOUTS)
        self._bus.owes(device, flight.expected)
        device.timed_out_sent_at = flight.sent_at
        self.reads.unanswered_after_echo(device, flight.expected, polls, ECHO_NO_ANSWER_HINT)

    def copy_settled(self) -> None:
        """The write answered last with its request's own bytes (``write_copy``) had no second
        copy of them, nor an exception, after that first copy (its window passed, another
        frame came, or the port closed): what the line showed since tells what that copy
        was. When a request sent after the write came back as sent (a read's echo: ``read_echo``;
        the first write after the port opens goes before any read has told;
        ``_write_copy_echoed``, which a read answered later with no echo before it, an echo
        that drops out now and then, does not undo), the one copy was the adapter's echo and
        the device did not answer (unless the line was known to echo when the copy came: an
        echo that came otherwise than sent, then the device's answer, as on a line that does
        not echo, ``write_echo``): the write is unanswered (a
        timeout, asked again at the next poll, logged after
        :data:`~sensord.bus_reads.WRITE_POLLS` polls with :data:`ECHO_NO_ANSWER_HINT`:
        ``DeviceReads.unanswered_after_echo``), as one whose echo alone came on a line known
        to echo is (of a device that left the bus, only its line is dropped). Else it was
        the device's answer: taken, its line told. The writes answered so before it while the
        line's echo was not known
        (``_copies_before``: one first copy tells nothing of another's) share its lot.
        Nothing is waited for meanwhile: a line that does not echo, whose device's answer is
        the one copy, costs no wait; the settling itself waits, while the line's echo is not
        known, until a request sent after the copy is done (``copy_due``): the device's
        read, sent right after its set-up writes, comes back as sent on a line that echoes."""
        flight = self._write_copy_of
        if flight is None or not (self._write_copy_unknown and self._write_copy_echoed):
            before, self._copies_before = self._copies_before, []
            for taken, _, rtt_s, _ in before:
                taken.device.counters.transactions += 1
                taken.device.counters.observe_rtt(rtt_s)
            self._copy_answered()
            self.reads.tell_taken()
            return
        self.write_copy, self._write_copy_of = b"", None
        self._echo_alone(flight, self._write_copy_polls)
        self._echoes_alone()

    def leaves(self, device: _Device) -> None:
        """``device`` leaves the bus (a reload changed or removed it): the write of its
        answered with its request's own bytes (``write_copy``) is settled now when it can be
        (``copy_due``), so that a copy the line showed to be the adapter's echo leaves the
        write's answer owed (``_echo_alone``), which the device's left exchanges carry
        (``LeftExchanges.owed``); one that cannot be yet is dropped at its settling, as the
        write of a device that left is."""
        flight = self._write_copy_of
        if flight is not None and flight.device is device and self.copy_due():
            self.copy_settled()

    def copies_unknown(self) -> None:
        """The port closes before the write answered last with its request's own bytes
        (``write_copy``) can be settled (``copy_due``: the line's echo was not known then,
        and no request sent after it came back as sent or is done): nothing tells whether
        that copy was the device's answer or the adapter's echo. The write is neither taken
        nor unanswered: its waiting line is dropped, nothing counted, and it is asked again
        after the reopen (``DeviceReads.unknown_at_close``; an idle close of a network port
        keeps the devices' unwritten writes, a lost port's reopen asks every write again),
        and so are the writes answered so before it (``_copies_before``), which share its
        lot."""
        flight, self._write_copy_of = self._write_copy_of, None
        self.write_copy = b""
        before, self._copies_before = self._copies_before, []
        unknown = [(each, polls) for each, polls, _, _ in before]
        if flight is not None:
            unknown.append((flight, self._write_copy_polls))
        for each, polls in unknown:
            device = each.device
            gone = self.devices.get(device.sensor.name) is not device
            self.reads.unknown_at_close(device, each.expected, polls, gone=gone)

    def copy_due(self) -> bool:
        """Whether the write answered last with its request's own bytes (``write_copy``),
        whose window has passed, can be settled now (``copy_settled``): unless the line was
        known to echo then, only once a request sent after the copy came back as sent, or one
        is done (its echo, had the line one, would have come: a device whose
        ``modbus.gap_s`` outlasts its timeout sends its read after the window). Until then
        nothing waits but the write's line and its count."""
        if not self._write_copy_unknown or self._write_copy_echoed:
            return True
        in_flight = 1 if self._bus.in_flight is not None else 0
        return self._bus._requests - in_flight > self._write_copy_requests

    def drop_held_echo(self, flight: _Exchange) -> None:
        """The first bytes of ``flight``'s write echo, or the bytes before it that may be the
        start of frames (``before_echo``), held back (``write_echo``), and no more of them came
        before the exchange ended (its timeout, the port's close, its device's removal): bytes
        that made no answer, counted as skipped."""
        if flight.expected.write and 0 < flight.echoed < len(flight.request):
            self.link.dropped(flight.echoed)
            flight.echoed = -1
        if flight.before_echo:
            self.link.dropped(len(flight.before_echo))
            flight.before_echo = b""
