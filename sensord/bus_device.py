"""The records of a Modbus bus (:mod:`sensord.bus`): ``_Device``, one device on it (its reads,
its schedule and its quarantine, and what its exchanges so far tell of it), and
``_Exchange``, the exchange in flight (its request, deadline and what has come of its reply).
The bus reads and writes their fields; the only logic here is a device's own: its request
for a read, when it is next due, and the start of its next poll."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sensord.formats.modbus import Request, WriteRequest
from sensord.formats.modbus_plan import Read, first_piece, plan
from sensord.modbus_state import ModbusCounters
from sensord.refusals import DeviceRefusals
from sensord.reply_starts import ReplyStarts
from sensord.retry import Backoff, Retry
from sensord.sensor import SensorRuntime

__all__ = ["ARRIVING", "NOTHING", "SPOILT", "_Device", "_Exchange"]

#: What is known of the reply to the exchange in flight (RTU), from the bytes received
#: since its request when they did not come as one whole answer: nothing of it yet, a frame
#: that can have begun it (after the line's silence, unit id, function code and byte count,
#: or an exception: ``ReplyStarts``) and has not all come, or such a frame, whole, that was
#: not taken (its CRC does not match).
NOTHING, ARRIVING, SPOILT = 0, 1, 2

#: How much later than the poll's due time a read that waits after a refusal
#: (``DeviceReads.refused_alone``) may be due and still go at that poll: what a sum of
#: intervals in floating point (0.1 ten times is 0.9999999999999999) is off by, and no more,
#: so that such a read goes at the first poll due after its wait, never at one before it.
DUE_SLACK_S = 1e-6


class _Device:
    """One device on the bus: its reads, its schedule and its quarantine."""

    def __init__(
        self, sensor: SensorRuntime, now: float, rng: random.Random, refusals: DeviceRefusals
    ) -> None:
        config = sensor.config
        spec = config.format_spec().modbus
        assert spec is not None
        assert sensor.modbus is not None
        self.sensor = sensor
        self.unit = spec.unit
        self.transport = spec.transport
        self.counters: ModbusCounters = sensor.modbus
        self._channels_of: dict[str, list[str]] = {}
        for channel, name in config.format_spec().fields:
            self._channels_of.setdefault(name, []).append(channel)
        #: the device's reads, each with its request frame and the reply it expects
        self.reads: list[Request] = [self.request(read) for read in plan(spec)]
        #: its set-up writes, and those not yet taken since its bus opened or it came back
        #: (asked first at its next poll)
        self.writes: list[Request] = [
            WriteRequest(self.unit, write, self.transport) for write in spec.setup
        ]
        self.unwritten: list[Request] = list(self.writes)
        #: the polls in a row at which each write did not get through (unanswered, or
        #: busy after its busy retries)
        self.write_polls: dict[Request, int] = {}
        #: its set-up writes whose answer came after their timeout (RTU) since each was last
        #: asked anew (at an open, a return, or once answered or given up): a device that
        #: stores the value before it answers, which a longer timeout takes
        self.late_writes: set[Request] = set()
        #: its set-up writes not got through yet whose last answer after their timeout (RTU)
        #: was a refusal, with its exception code: given up, such a write is told as refused
        #: (``DeviceReads``), not as unanswered
        self.late_refusals: dict[Request, int] = {}
        self.counters.reads = len(self.reads)
        device = config.modbus_device
        self.interval_s = device.interval_s
        self.timeout_s = device.timeout_s
        self.gap_s = device.gap_s
        self.connect_delay_s = device.connect_delay_s
        self.stale_after_s = config.stale_after
        self.busy_retries = device.busy_retries
        self.busy_wait_s = device.busy_wait_s
        self.retries = device.retries
        self.next_due = now
        #: reads still to send in the current poll
        self.pending: list[Request] = []
        #: the first pending read waits until then (a busy device asked again later)
        self.hold_until = float("-inf")
        #: times the read in hand was answered busy
        self.busy_tries = 0
        #: times the read in hand went unanswered and was asked again (``retries``)
        self.retried = 0
        #: the poll in hand waited for a busy answer's ``busy_wait_s``: a delay of the
        #: device's own, not the line's (see ``start_poll``)
        self.busy_waited = False
        #: what it refuses or answers busy, and the lines that tell of it
        self.refusals = refusals
        self.timeouts_in_row = 0
        #: its request that a network connection was closed on before any byte of its answer
        #: came, asked again on a new connection; None once the device answers (see
        #: ``Bus.disconnect``)
        self.closed_on: Request | None = None
        #: the answers the bus's other devices had given at the first of ``timeouts_in_row``
        self.others_answered_at_timeout = 0
        #: its answers that came after their timeout since its last request timed out, while
        #: none came in time (not a gateway's 0x0A or 0x0B: those say the device did not answer);
        #: read and cleared at each timeout, so a device whose answers stopped coming at all
        #: is not told to raise its timeout
        self.late_in_row = 0
        #: when its last request that timed out was sent: how late an answer to it came
        self.timed_out_sent_at = 0.0
        #: how long after its request the latest of its answers that came after the timeout
        #: took (RTU; the longest of them, at most ``modbus_timing.LATE_DRAIN_TIMEOUTS``
        #: timeouts): after each of its timeouts it is drained until an answer as late could
        #: have come (see ``Bus._drain``)
        self.late_s = 0.0
        #: the code of a gateway's 0x0A or 0x0B for it that came after the timeout since its last
        #: request timed out (0: none): the gateway waits longer for the device than this
        #: timeout (read and cleared at each timeout, as ``late_in_row``)
        self.late_gateway_code = 0
        #: replies whose transaction id no request was sent with that came while its
        #: exchanges were in flight, since its last request timed out or was answered (Modbus
        #: TCP): read and cleared at each timeout, for the down reason
        self.foreign_in_row = 0
        #: the unit id of the last frame of a unit id no device of the bus has that came in
        #: its exchange like its answer (the read's function code, the reply's length or an
        #: exception) (RTU), since its last request timed out or was answered; -1: none
        self.other_unit = -1
        #: the unit id such a frame had in each exchange of ``timeouts_in_row`` (-1: none, or
        #: one of them had none or another): a device whose address it is answers each request
        #: with it, another master's traffic now and then
        self.other_unit_row = -1
        #: the sensor of the device read at unit 0 whose read ``other_unit``'s frame could
        #: answer too, come within that read's timeout
        #: (``StrayFrames._own_with_other_unit``); "": none
        self.other_unit_at_0 = ""
        #: such a sensor, for one of the frames of ``other_unit_row``'s exchanges ("": none)
        self.other_unit_at_0_row = ""
        #: the function code of the last sound frame of its unit id that came in its exchange
        #: answering a read of another table than the read's (RTU), since its last request
        #: timed out or was answered; -1: none
        self.other_function = -1
        #: the function code such a frame had in each exchange of ``timeouts_in_row`` (-1:
        #: none, or one of them had none or another): a device that answers with it whatever
        #: it is asked, not another master reading its other table now and then
        self.other_function_row = -1
        #: a device read at unit 0 (``modbus.broadcast_reads``) whose answers carry its own
        #: unit id: that unit id, once an answer with values was taken (-1: none; while the
        #: device is down, it may take another: ``answered_other_row``,
        #: ``StrayFrames._answers_broadcast``)
        self.answers_as = -1
        #: a device read at unit 0 whose answers carried a unit id (``answers_as``): the unit id
        #: of another that an answer with values to its read came with in its exchange in flight
        #: (-1: none; ``StrayFrames._answers_broadcast``)
        self.answered_other = -1
        #: that unit id as it came in each of its last ``answered_other_run`` exchanges, which
        #: timed out (-1 and 0: none); while it is down, the device's answers carry it from then
        #: on once it came in :data:`~sensord.bus_reads.DOWN_AFTER_TIMEOUTS` of them
        self.answered_other_row = -1
        self.answered_other_run = 0
        #: what its down reason says to check (while it is down)
        self.down_why = ""
        #: no request to the device before then: on RTU its answer to a request that timed
        #: out may still come (see ``Bus._drain``); on a connection opened again after an idle
        #: close or a silence, its ``connect_delay_s`` since the open has not passed yet
        self.drain_until = float("-inf")
        #: its requests that timed out less the frames of its that came late (RTU; over
        #: Modbus TCP its late replies with transaction id 0,
        #: ``StrayFrames._zero_id_reply``), at most ``bus.DOWN_AFTER_TIMEOUTS``: a frame of its
        #: unit id that arrives unasked while none is owed is no late answer (see
        #: ``StrayFrames._unasked_frame``). An answer in time that fits a request owed (its
        #: read asked again) leaves it as it is: it may be that request's late answer, and the
        #: answer to the read then comes after it (``StrayFrames._owed_first``); an answer that
        #: fits none of them, or a second answer in time running, clears it (the device answers
        #: in order, and none of the requests that timed out is answered any more: the debt of
        #: a past outage would have another master's frames counted as late)
        self.owed = 0
        #: the requests whose answers it owes, oldest first, as many as ``owed`` (RTU): a
        #: frame of its unit id is the late answer of the one whose function code and length
        #: (or exception) it has (``StrayFrames.late``), and the start of such an answer is
        #: the framing's to wait for whole (``Bus._owed_heads``)
        self.owed_requests: list[Request] = []
        #: a read asked again after its timeout took a frame that fits it and the request
        #: owed for it (``StrayFrames._owed_first``): until then no request of that answer's
        #: shape goes to the device while one is owed, and the requests it still owes at its
        #: first request after then are owed no more (``Bus._owed_hold``)
        self.owed_settled_until = float("-inf")
        #: the reads whose last answer was a sound frame with fewer bytes than they ask for,
        #: and that frame's length: a read is split only when it is answered so short twice
        #: running (see ``DeviceReads.short``)
        self.short: dict[Request, int] = {}
        #: the reads whose last answer was a sound frame with more bytes than they ask for,
        #: and that frame's length: the values asked for are read from such answers once two
        #: running are as long (see ``DeviceReads.long``)
        self.long: dict[Request, int] = {}
        #: the reads whose long answers are read, each told of once
        self.long_read: set[Request] = set()
        #: the reads it answered (a refusal of one of them is a passing state of the
        #: device, not a register it does not map: see ``DeviceReads.split_refused``), and the
        #: polls in a row each of those it refuses has been refused at
        self.answered_reads: set[Request] = set()
        self.refused_in_row: dict[Request, tuple[int, int, float]] = {}
        #: its reads of values that cannot be read apart which it refuses as outside its map
        #: (``DeviceReads.refused_alone``): since when, the due time of the first poll that
        #: asks each again, and the wait after its last refusal; and the due time of the poll
        #: under way (``start_poll``)
        self.refused_alone: dict[Request, tuple[float, float, float]] = {}
        self.poll_due = float("-inf")
        #: its sound answers to reads: a device refusing one read while it answers others
        #: is present, and its map what changed
        self.sound_answers = 0
        #: those of them whose CRC came high byte first (``Bus._swaps_crc``)
        self.swapped_answers = 0
        #: the answers whole but for their CRC, high byte first, since its last sound answer
        #: with the standard CRC (``Bus._swaps_crc``)
        self.swapped_in_row = 0
        #: while it is down, never having answered its first read: the read of that read's first
        #: value, asked in its place at each attempt (``start_poll``); a device that answers it
        #: but not the whole read does not take a read that long (``DeviceReads._probed``)
        self.probe: Request | None = None
        #: its probe was answered, and its first read is asked whole again to tell; and the
        #: times that went unanswered since (split at the second: ``DeviceReads.unanswered``)
        self.probe_answered = False
        self.probe_misses = 0
        #: the poll's first read, asked again after the poll's others once it went
        #: unanswered (``DeviceReads.unanswered``): a device that loses the request that wakes it
        #: answers it then, one that ignores the read (awake, as its answers to the others
        #: show) does not; and the polls in a row whose first read was answered so
        self.second_chance: Request | None = None
        self.woken_polls = 0
        self.retry = Retry(
            Backoff(config.reconnect.initial_delay_s, config.reconnect.max_delay_s), rng
        )

    def request(self, read: Read) -> Request:
        return Request(self.unit, read, self.transport, self._channels_of)

    def due_at(self) -> float:
        if self.pending:
            at = self.hold_until
        elif self.counters.down:
            at = self.retry.next_at
        else:
            at = self.next_due
        return at if at >= self.drain_until else self.drain_until

    def start_poll(self, now: float) -> int:
        """Start the device's next poll. Returns the polls it missed: when it fell a whole
        interval or more behind while it answered (the line had no time for every device's
        polls at their intervals), the polls whose time passed meanwhile are not made up in
        a burst but counted. A device that timed out waits for a gap by design, one that is
        down is polled at its backoff, and one whose last poll waited for its own busy
        answers (``busy_wait_s``) was late by its own doing, the line free meanwhile: none
        counts. A read the device left unanswered at an earlier poll is asked last (but the
        first, which a device that wakes on it may lose), the one asked longest ago first:
        on RTU the poll stops at an unanswered read followed by one of its length, and the
        reads after it wait for the next poll."""
        silent = self.counters.silent
        if silent and len(self.reads) > 2:
            first, rest = self.reads[0], self.reads[1:]
            self.pending = [
                first,
                *(r for r in rest if r not in silent),
                *sorted((r for r in rest if r in silent), key=lambda r: silent[r].last),
            ]
        else:
            self.pending = list(self.reads)
        self.poll_due = due = self.next_due
        if self.refused_alone:  # those it refuses wait their turn (``DeviceReads.refused_alone``)
            at = due + DUE_SLACK_S  # (a poll due at its time by the sum of intervals asks it)
            refused = self.refused_alone
            self.pending = [r for r in self.pending if r not in refused or refused[r][1] <= at]
        self.second_chance = None
        self.busy_tries = 0
        self.retried = 0
        waited, self.busy_waited = self.busy_waited, False
        if self.unwritten and not self.counters.down:  # set up once it answers (``Bus._answered``)
            self.pending[0:0] = self.unwritten
        if self.counters.down:
            if self.reads[0] not in self.answered_reads:
                if self.probe is None:
                    piece = first_piece(self.reads[0].read)
                    self.probe = None if piece is None else self.request(piece)
                if self.probe is not None:
                    self.pending = [self.probe]
            return 0
        self.next_due += self.interval_s
        if self.next_due > now:
            return 0
        missed = int((now - self.next_due) / self.interval_s) + 1
        self.next_due = now + self.interval_s
        return missed if self.timeouts_in_row == 0 and not waited else 0


@dataclass(slots=True)
class _Exchange:
    device: _Device
    expected: Request
    #: the request frame as sent
    request: bytes
    sent_at: float
    deadline: float
    transaction_id: int
    #: link.skipped_bytes when the request went out: noise during the exchange shows as more
    skipped_before: int
    #: link.pending_bytes when the request went out (Modbus TCP: the start of a frame kept,
    #: or a stray byte after a reply, which the next bytes may show to begin no header): the
    #: exchange's own noise is what it skipped and holds beyond these
    pending_before: int = 0
    #: where in the bytes received since the request (RTU), when they did not come as one
    #: whole answer, the reply can have begun (None: no such bytes came)
    starts: ReplyStarts | None = None
    #: what they show of the reply (NOTHING, ARRIVING, SPOILT)
    reply: int = NOTHING
    #: Modbus TCP: its wait was started again at its deadline, because the request before it
    #: on the connection, which timed out, was still unanswered (see ``Bus._timed_out``)
    waited_behind: bool = False
    #: how long the connection had carried nothing when the request went out (its peer's
    #: idle close may cross it on the wire: see ``Bus.disconnect``)
    idle_before_s: float = 0.0
    #: how many of the first bytes received since the request are the request's own (the
    #: echo of an adapter that hears its own transmission: see ``LineEcho.read_echo``); -1 once one
    #: differs. A write's, on a line known to echo, are held back until the whole request
    #: came (``LineEcho.write_echo``)
    echoed: int = 0
    #: the glitch bytes (``sensord.bus_echo.GLITCH_BYTES``) read before the request's echo, in all
    #: the pieces its first bytes came in (``LineEcho.read_echo``, ``LineEcho.write_echo``)
    glitched: int = 0
    #: a write's first bytes on a line known to echo, held back while they may be the start
    #: of frames that came before its request went out, cut by the adapter's batch, with the
    #: echo still to come (``LineEcho.write_echo``)
    before_echo: bytes = b""
    #: the line was not known to echo when the request went out (``Bus._line_echoes``): a
    #: write's first copy of its request after the line shows that it echoes is its echo
    #: (``LineEcho.echo_after_proof``)
    echo_unknown: bool = False
    #: the frames that fit its request's answer taken for the late answers of requests of
    #: its device that timed out before it, of other reads of that answer's shape (RTU,
    #: ``StrayFrames._owed_first``): such a frame is the answer of one of them or of this
    #: one, so at its timeout it owes none (``Bus._timed_out``)
    paid_owed: int = 0

    @property
    def read(self) -> Read:
        return self.expected.read
