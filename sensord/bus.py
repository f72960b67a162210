"""A port shared by several Modbus devices: one source, one scheduler for every exchange.

Sensors with ``format = "modbus"`` that name the same port are devices on one **bus**. The
reader drives the bus as it drives a sensor with a port of its own (it opens, watches, reads
and reopens the bus's source, and calls ``tick`` at ``next_deadline``), and the bus drives its
devices' ``SensorRuntime``\\ s: each answered read goes to its device as one exchange frame
(request and response, see :mod:`sensord.formats.modbus`) with the values the bus decoded
from it, through ``SensorRuntime.take_exchange``, so the device's channels run the same stages
as any sensor's and its capture ring holds the exchange.

The bus's records of a device and of the exchange in flight (``_Device``, ``_Exchange``) are
:mod:`sensord.bus_device`'s; the line's timing (``char_s``, ``silence_s``) is
:mod:`sensord.modbus_timing`'s; the exchanges of devices that left the bus whose answers may
still come (``Bus.left``: :class:`~sensord.bus_left.LeftExchanges`) are
:mod:`sensord.bus_left`'s; what a device's answers, refusals and silences make of its reads
and set-up writes (retries, splits, long answers, down and why: ``Bus.reads``,
:class:`~sensord.bus_reads.DeviceReads`) is :mod:`sensord.bus_reads`'s; an RTU adapter's
echo of the requests and the glitch bytes before it (``Bus.echo``:
:class:`~sensord.bus_echo.LineEcho`) are :mod:`sensord.bus_echo`'s; the frames that are not
the answer awaited and what each tells (late, unasked, repeated, foreign, another unit id or
function code, a second answer to a read at unit 0: ``Bus.stray``,
:class:`~sensord.bus_stray.StrayFrames`) are :mod:`sensord.bus_stray`'s; the texts of its log
lines' hints and of its devices' down reasons are :mod:`sensord.bus_hints`'s.

Scheduling, all on the reader loop's timers (nothing blocks):

* one exchange in flight at a time; after each one the line stays quiet for the protocol's
  silence: 3.5 character times at the port's settings, 1.75 ms above 19200 baud, none for
  Modbus TCP (:func:`~sensord.modbus_timing.silence_s`), plus the device's ``gap_s``; a
  device's first poll after the port opens waits its ``connect_delay_s``. Bytes that arrive
  with no exchange in flight keep the line busy: the next request waits for the silence
  after them, and for the rest of the frame they begin when its length is known, so it
  never goes out while a device is still sending;
* each device is polled every ``modbus.interval_s`` (a poll is its planned reads, one exchange
  each); the next poll is due one interval after the last was due, so a late poll does not
  shift the ones after it, and a device that fell behind is not polled in a burst;
* a request waits at most ``modbus.timeout_s`` after its own time on the wire; a reply that
  starts within it is waited for until the rest of it can have come at the port's character
  time (see ``_arriving``), and one cut off counts as a timeout with the reason
  ``truncated``. A timeout ends the device's poll (the rest of its reads wait for the next
  one) once the read has been asked its ``retries`` times again, so a silent device costs
  one timeout per poll (and its retries); after
  :data:`~sensord.bus_reads.DOWN_AFTER_TIMEOUTS` in a row it is **down** and polled again
  only after a backoff (``[sensors.reconnect]``: exponential, jittered, capped), each
  attempt costing one timeout (and its retries; the backoff grows once an attempt);
* devices that answered go first: a device whose last request timed out is sent one only
  in a gap that its timeout fits before the next poll of the others is due (or, when the
  others poll faster than that, once it is a whole interval overdue), so the others keep
  their intervals; a read asked again (``retries``) of a device that is not down goes as
  the first read of its poll did, once the device has been quiet for its timeout;
* a reply of the expected length whose CRC does not match ends its exchange as ``crc`` once
  the line has been silent for the silence after it: the device answered, so it is not a
  timeout and does not count towards down;
* a reply that arrives whole, as it does from a device, is checked against what the request
  expects and decoded by hand (:class:`~sensord.formats.modbus.Request`); anything else (a
  reply in pieces or behind noise, an exception, another frame) is cut from the byte stream by
  :class:`~sensord.formats.modbus.ModbusLink` with pymodbus;
* a frame that is not the answer (another unit id, another function code, a stale Modbus TCP
  transaction id) is counted and skipped; over Modbus TCP the transaction id names the
  exchange, so a reply that carries it is the answer whatever its unit id (some devices and
  gateways answer with 0 or 255); a response that arrives after its timeout is counted as
  ``late`` for the device that sent it (also when it comes during another device's exchange:
  on RTU a frame from a device of the bus that was not asked is one) and skipped: the next
  exchange's answer is the first frame that matches it, and a new request drops any partial
  frame left on the line. On RTU a frame of a device whose requests were all answered in
  time (none owed, ``bus_device._Device.owed``: its timeouts less its late frames, cleared
  by two answers in time running), or that fits none of the requests it owes (the request's
  function code and its answer's length, or an exception: ``StrayFrames.late``), is no late
  answer but ``unasked``: another master on the line, or a second device with its unit id
  answering each request; the first bytes of an answer owed are waited for whole before a
  frame is looked for inside them, as the answer in flight's are;
* over Modbus TCP the stream keeps its order and loses nothing, so the start of a reply
  whose transaction id is one sent on the connection is kept at its timeout, and before the
  next request while it began less than its device's timeout ago: the rest of it is read
  whole and counted as ``late`` for the device whose request it answers, never read as the
  header of the replies after it (one whose rest has not come by then was cut short for
  good, and is dropped). A reply is cut by its function code and byte count, not by its MBAP
  length field, which some gateways fill in wrongly. A gateway serves one request at a
  time: after a request times out the connection stays quiet for its timeout once more (the
  gateway may still be waiting for its device) unless its late reply comes first, a request
  whose deadline passes while the one that timed out before it is still unanswered (and no
  request sent after it has been answered; also one of a device that left the bus since)
  waits its timeout once more, and a late reply
  that arrives during an exchange starts that exchange's wait again, so a dead unit behind
  a gateway whose own timeout is longer than sensord's costs the others no timeouts;
* on RTU a device whose request timed out is **drained**: it is not asked again until it has
  been quiet for its timeout, each late frame of its starting that wait again, while the
  other devices go meanwhile (for a device whose answers came late, from when an answer as
  late as the latest of them can have come); an RTU reply names no request, so its late
  answer to one read would otherwise pass for the answer to its next read of the same length
  (see ``_drain``);
* a device that answers a read with exception 0x06 (busy) or 0x05 (acknowledge) is asked the same
  read again ``busy_wait_s`` later, up to ``busy_retries`` times (the others may go
  meanwhile), instead of losing the value until the next poll; a device busy in several
  polls running is logged then, summed up hourly while it stays so, and logged when that is
  over, the odd busy answer only counted (:mod:`sensord.refusals`);
* an exception response is counted by code, also one that comes after its request's timeout
  (counted ``late`` too: the device's word, or its gateway's, on a request of its), not one
  that answers no request of sensord's (``unasked``); a read refused with one code at every poll
  is logged when that starts, summed up hourly, and logged again when its code changes or it
  is answered (:mod:`sensord.refusals`); exception 0x02 (illegal data address) or 0x03 (illegal
  data value: a count the device's firmware does not take) on a merged read, or two sound answers
  running to it that hold the same fewer values than asked (firmware that caps a read without
  saying so; one such frame may be another master's answer taken for it), or two answers
  running to it cut off at the same length whose rest never came (a serial server or
  gateway that passes only so many bytes of an answer, ``_cut``), splits that
  read for as long as the bus runs (:func:`~sensord.formats.modbus_plan.split`): into the runs of
  adjacent values it joined across gaps, then a run refused again in halves, so a device that does
  not map one gap costs a request per run, not one per value; exceptions 0x0A and 0x0B come from a
  gateway whose device did not answer (:data:`GATEWAY_NO_ANSWER`), so they count towards the
  device going down as timeouts do, without their wait;
* a network connection (``modbus-tcp://``, ``socket://``, ``rfc2217://``) that carries no
  byte at all while :data:`SILENT_RECONNECT_REQUESTS` requests in a row go unanswered, over
  at least the longest ``stale_after`` of its devices (so that every one of them is stale or
  down) and that many of their longest timeouts, is closed and opened again with the bus's
  backoff (:meth:`Bus._check_silence`): a gateway or serial server whose session is stuck
  (cheap RS-485 to Ethernet converters, gateways that serve one client and keep a stale
  session) takes requests and answers none until its client connects again. A single dead
  device cannot cause it: the others' answers, a gateway's exception 0x0A or 0x0B, a late reply
  are all bytes on the connection. The devices go on across it as across an idle close
  (schedule, quarantine, state), except that each quarantined device is asked once on the
  new connection without waiting out its backoff (whose growth it keeps). Never on a
  local serial port, where reopening the tty does not help and loses what the line carries.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import structlog

from sensord.bus_device import ARRIVING, NOTHING, SPOILT, _Device, _Exchange
from sensord.bus_echo import LineEcho
from sensord.bus_hints import (
    CLOSED_ON_REQUEST_HINT,
    FOREIGN_TRANSACTION_HINT,
    FRESH_CONNECTION_HINT,
    GATEWAY_NO_ANSWER,
    IDLE_CLOSE_HINT,
    LATE_ANSWER_HINT,
    LATE_GATEWAY_HINT,
    MISSED_POLLS_HINT,
    MISSED_POLLS_NETWORK_HINT,
    OTHER_FUNCTION_HINT,
    OTHER_UNIT_AT_0_HINT,
    OTHER_UNIT_HINT,
    PIECES_APART_HINT,
    REPLY_CLOSE_HINT,
    TABLE_OF_FUNCTION,
    TEXT_LINES_HINT,
    UNANSWERED_CLOSE_HINT,
)
from sensord.bus_left import TRANSACTIONS_KEPT, LeftExchange, LeftExchanges
from sensord.bus_reads import (
    ACKNOWLEDGE_CODE,
    DOWN_AFTER_TIMEOUTS,
    ECHO_NO_ANSWER_HINT,
    NO_ANSWER_HINT,
    SPOILT_ANSWER_HINT,
    DeviceReads,
)
from sensord.bus_stray import StrayFrames
from sensord.config_sensor import SensorConfig
from sensord.errors import ParseError, PortCloseError, SourceError
from sensord.formats.base import looks_like_text
from sensord.formats.modbus import REQUEST_BYTES, ModbusLink, Request, Response
from sensord.formats.modbus_plan import split
from sensord.log import RateLimiter, StateChanges, log_silent_reconnect
from sensord.modbus_state import (
    BUSY_CODES,
)
from sensord.modbus_timing import (
    HEARD_FOR_S,
    LINE_BUSY_LIMIT_S,
    LINE_QUIET_GAP_S,
    MAX_PIECE_SLACK_S,
    PIECE_MARGIN_S,
    SLACK_WINDOW_ANSWERS,
    SLACK_WINDOW_DOUBLINGS,
    adapter_slack_s,
    char_s,
    silence_s,
)
from sensord.names import natural_key
from sensord.port_slack import PortSlack, port_slack
from sensord.ports import SYS_ROOT
from sensord.refusals import DeviceRefusals
from sensord.reopen import PROVEN_AFTER_S, OpenFailures, ReopenWatch, as_source_error
from sensord.reply_starts import NO_UNITS, NONE, ReplyStarts
from sensord.retry import Backoff, Retry
from sensord.sensor import SensorRuntime
from sensord.sensor_source import log_simulated_absent_device, wants_simulation
from sensord.shared_port import SharedPortWatch
from sensord.sources.base import Source
from sensord.sources.serial_port import SerialSource
from sensord.sources.simulated_modbus import SimulatedModbusDevice, SimulatedModbusLine

__all__ = [
    "SILENT_RECONNECT_REQUESTS",
    "Bus",
]

log = structlog.get_logger("sensord.bus")


#: The most bytes of the last lines kept to tell text from Modbus answers.
TEXT_TAIL_BYTES = 256

#: A connection closed by its peer after carrying nothing for at least this long was closed
#: for its idleness (gateways close after 10 s to a few minutes): opened again at the next
#: poll, it counts in ``idle_reopens``, not as a reconnect, so a bus polled less often than
#: its gateway's idle timeout is not taken for a flapping one. A connection closed sooner
#: after an exchange (a one-client gateway that another client took) counts as a reconnect.
IDLE_TIMEOUT_MIN_S = 2.0

#: Exception codes that split a merged read (runs, then halves): 0x02, an address in it
#: that the device does not map, and 0x03, a count above what its firmware takes (the
#: specification's answer to a count out of range; many devices take fewer than 125).
SPLIT_ON = frozenset({0x02, 0x03})

#: Exception codes that mean "ask again later": 0x06, the device is busy, and 0x05, it accepted
#: the request and is still working on it.
BUSY = BUSY_CODES

#: How often the devices' staleness is checked: as often as the reader's housekeeping ticks
#: every port, however often a bus is ticked for its exchanges.
STALE_CHECK_S = 1.0

#: A network connection that carries no byte while this many requests in a row go unanswered
#: (over a long enough time: see the module docstring) is opened again. pymodbus's own
#: clients end a TCP connection after a few aborted requests on it whoever they were for
#: (``retries + 3``), which costs the answering devices their exchanges when a single one is
#: dead; Telegraf's modbus input reconnects after any failed gather. Here the connection is
#: judged, not a device: it is reopened only when nothing at all comes back on it.
SILENT_RECONNECT_REQUESTS = 5

#: A device whose sound answers carried the standard CRC, low byte first, sends its answers
#: with the CRC high byte first from this many in a row on, none with the standard CRC
#: between: its firmware was changed, or another device took its unit id (a Marstek Venus E's
#: firmware sends the CRC swapped, evcc-io/evcc issue 18653, and is updated over the air, its
#: commands ``update_vns``, ``update_ems``: ViperRNMC/marstek_venus_modbus issue 208). From
#: then on they are its answers; three spoilt frames in a row that each hold the swapped CRC
#: by chance are one in 2**48 of such runs.
SWAPPED_CRC_RUN = 3


class Bus:
    """See the module docstring. ``name`` is ``bus:PORT``; the first device's port settings
    and reconnect backoff are the bus's (the configuration makes them equal on every device)."""

    def __init__(
        self,
        name: str,
        config: SensorConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        simulated: bool | None = None,
        reached: set[tuple[str, int]] | None = None,
        sys_root: str = SYS_ROOT,
    ) -> None:
        self.name = name
        self.port = config.port
        self._address = config.address
        self._settings = config.serial.settings()
        self._clock = clock
        self._rng = rng or random.Random()
        #: the devices of a simulated bus, by unit id: a ``sim://`` port, or a device path
        #: absent with ``simulate = "auto"`` when the bus starts (decided once, as for a
        #: sensor: a device unplugged later is reopened, never replaced by a simulation);
        #: ``simulated`` is the choice of the device that starts it, when it made one (one a
        #: reload changed goes on reading the device its predecessor read)
        if simulated is None:
            simulated = wants_simulation(config)
        self._simulated: dict[int, SimulatedModbusDevice] | None = {} if simulated else None
        #: the devices' ``simulate`` (one for the bus): what an absent port's error says
        #: happens to them meanwhile
        self._simulate_setting = config.simulate
        #: whether another process has the bus's port open too (searched by the reader), and
        #: ``_damaged()`` at the port's open: one more is trouble for it
        self.shared_port = SharedPortWatch(log.bind(bus=config.port), bus=True)
        self._damaged_at_open = 0
        spec = config.format_spec().modbus
        assert spec is not None
        self.transport = spec.transport
        self.link = ModbusLink(spec.transport)
        self.silence_s = 0.0 if spec.transport == "tcp" else silence_s(self._settings)
        #: the time one character takes on the line (none for Modbus TCP)
        self.char_s = 0.0 if spec.transport == "tcp" else char_s(self._settings)
        #: the time a request takes on the line: its response timeout starts after it
        self.request_wire_s = REQUEST_BYTES[spec.transport] * self.char_s
        self.devices: dict[str, _Device] = {}
        self.source: Source | None = None
        self.state = "opening"
        self.opening = False
        self.retry = Retry(
            Backoff(config.reconnect.initial_delay_s, config.reconnect.max_delay_s), self._rng
        )
        self.retry.next_at = clock()
        self._reopen = ReopenWatch(self._address)
        #: when the reader's timers next need the port (``Reader._service_timers``)
        self.timers_at = 0.0
        self.in_flight: _Exchange | None = None
        self.quiet_until = float("-inf")
        #: the hold ``_unasked`` set for the rest of a frame begun: ``quiet_until`` as it set
        #: it (the rest and an adapter's latency, ``piece_slack_s``), what it is without that
        #: latency (given back once the frame is whole or more of it came), when the frame's
        #: last piece came, the time its rest takes on the wire and the widest gap between its
        #: pieces so far, less the later piece's time on the wire; None while no frame begun
        #: holds the line
        self._piece_hold: tuple[float, float, float, float, float] | None = None
        #: RTU: how much later than its time on the wire the rest of a frame begun may be
        #: read (``port_slack``): the adapter's latency timer or a UART's receive timeout
        #: where sysfs tells it (read at each open from ``sys_root``), a network's, else
        #: ARRIVAL_SLACK_S; raised to the widest spacing seen between the pieces of one sound
        #: frame (``_pieces_apart``)
        self._sys_root = sys_root
        self.piece_slack_s = adapter_slack_s(None, network=self._address.kind == "network")
        #: the port's slack as its adapter has it (``port_slack``), which a learnt one comes
        #: back down to (``_relax_slack``)
        self._adapter_slack_s = self.piece_slack_s
        #: the widest a piece of one sound frame came after its bytes' time on the wire in the
        #: window of answers under way: since the answer ``_window_from``, over
        #: ``_window_answers`` answers (``SLACK_WINDOW_ANSWERS``, twice as many each time a
        #: wait lowered had to be raised again); ``_lowered``: the wait was lowered since it
        #: was last raised
        self._pieces_apart_s = 0.0
        self._window_from = 0
        self._window_answers = SLACK_WINDOW_ANSWERS
        self._lowered = False
        #: what sysfs told of the adapter at the last open (logged when it changes)
        self._slack_read: PortSlack | None = None
        #: RTU: the answers that devices which left the bus after their drain ended still owe,
        #: by unit id (``remove``): awaited no longer, but a frame of that unit id that no
        #: exchange awaits is one of them, nobody's (``left_owed_answer``), until a request to
        #: that unit id goes out (after it, such a frame may be that request's answer)
        self.left_owed: dict[int, int] = {}
        #: an answer may come that no request since asked for: a request timed out, or a
        #: device left with its answer on its way, and nothing was sent since. What the port
        #: holds is read before the next request goes (``awaiting_reply``): a loop held up
        #: past the drain would take that answer, waiting already, for the request's own
        self._answer_may_wait = False
        #: when the run of bytes that nobody asked for began, and when its last bytes came
        self._unasked_since = float("-inf")
        self._unasked_at = float("-inf")
        #: when the link last dropped bytes that form no reply (noise, another master's
        #: request, a partial frame) outside an exchange (``_heard_others``)
        self._others_at = float("-inf")
        #: the last bytes that came in more than one piece or unasked (an answer read whole
        #: never goes here), and when they last held lines of text: a device in a text output
        #: mode (an XY-MD02 set to its "ordinary protocol") sends lines, not Modbus
        self._loose = b""
        self._text_at = float("-inf")
        #: when the port last opened, and the exchanges answered by then
        self._opened_at = clock()
        #: exchanges answered on this bus since it was made (devices that left included)
        self.answered = 0
        self._answers_at_open = 0
        self._stale_check_at = float("-inf")
        #: the first bytes of the answers the devices owe (``owes``)
        self._owed_heads: tuple[bytes, ...] = ()
        #: when the link's heard addresses were aged last (``ModbusLink.age_heard``)
        self._heard_aged_at = self._clock()
        #: when the next exchange can start and with which device (see ``_plan_next``)
        self._upcoming: tuple[float, _Device | None] | None = None
        #: Modbus TCP: the requests sent on the bus; their transaction ids run round from 1 to
        #: 0xFFFF, the next one ``_sent % 0xFFFF + 1``
        self._sent = 0
        #: Modbus TCP: the device of each transaction id sent on this connection (the last
        #: :data:`TRANSACTIONS_KEPT`), so that a reply that comes late is counted for the
        #: device whose request it answers, whoever is in flight when it arrives
        self._asked: dict[int, _Device] = {}
        #: Modbus TCP: the device of each transaction id answered on this connection (the
        #: last :data:`TRANSACTIONS_KEPT`): a second reply with one is a repeat, not a reply
        #: to a request nobody sent
        self._answered_ids: dict[int, _Device] = {}
        #: Modbus TCP: the transaction id of the last request that timed out (0: none)
        self._timed_out_id = 0
        #: when the first bytes of the frame that the link holds in part arrived
        self._partial_at = float("-inf")
        #: the exchanges of devices that left the bus (``remove``), or of the bus this one
        #: replaces (``follow``), whose answers are nobody's (``_left_answer``)
        self.left = LeftExchanges(self.transport, clock, self.char_s, self.silence_s)
        #: the devices of a network port whose connection its peer closed while idle, to be
        #: opened again when the next exchange is due (see ``disconnect``): they go on as
        #: they were when it opens
        self._idle_closed: set[str] = set()
        #: the device asked last, and ``link.skipped_bytes`` as told to the devices (see
        #: ``_tell_skipped``)
        self._last_asked: _Device | None = None
        self._skipped_told = 0
        #: the last idle close came after the connection carried nothing for at least
        #: IDLE_TIMEOUT_MIN_S: a gateway's idle timeout, whose reopening is no reconnect
        self._timed_out_idle = False
        #: the hosts and ports of the network ports that opened in this run (the reader's,
        #: kept across a reload that builds a bus anew), and this bus's: a refusal of a peer
        #: that accepted a connection before is no absent gateway (see ``SerialSource``)
        self._reached = set() if reached is None else reached
        endpoint = self._address.endpoint
        self._endpoint = None if endpoint is None else endpoint[1:]
        #: a network connection is opened again when it carries no byte for too long (never
        #: a device path, nor a simulated bus)
        self._network = self._address.kind == "network" and self._simulated is None
        #: requests unanswered since the connection last carried a byte, and when the first
        #: of them went out (see ``_check_silence``)
        self._unheard = 0
        self._unheard_since = float("-inf")
        #: silent reconnects in a row with no answer between them (the first is a warning; a
        #: banner a serial server writes on connect is bytes, not an answer)
        self._silent_spell = 0
        #: the connection is being opened again for its silence (the devices go on)
        self._after_silence = False
        #: the last reconnect for silence was logged (its reopen is logged then too)
        self._silence_logged = False
        #: a Modbus TCP reply whose length field was wrong has been logged (once a run)
        self._wrong_length_noted = False
        #: RTU with ``serial.local_echo`` off: requests came back as sent since the port
        #: opened (a read's echo, or a write's second copy: ``LineEcho.read_echo``,
        #: ``LineEcho.copy_of_write``), so the adapter echoes, and the first copy of each
        #: write's request is its echo, dropped (``LineEcho.write_echo``); known afresh at each
        #: open (another adapter may be plugged in), and no more once a read is answered with
        #: nothing before its answer (``_answered``)
        self._line_echoes = False
        #: RTU: the last read at unit 0 (``modbus.broadcast_reads``) that was answered, the unit
        #: id its answer came with, and until when a second device's answer to it may come
        #: (``StrayFrames.second_answer``); None when no such read was answered since the port
        #: opened
        self._broadcast: tuple[_Exchange, int, float] | None = None
        #: RTU: the requests sent since the port opened (the line's echo, while it is not
        #: known, settles a write's one copy only once a request sent after it is done:
        #: ``LineEcho.copy_due``)
        self._requests = 0
        #: RTU devices whose answers carry their CRC high byte first (logged once)
        self._swapped_crcs: set[str] = set()
        self.log = log.bind(bus=self.port)
        self._errors = RateLimiter(60.0, clock)
        #: failed opens: logged when the error is new, else at doubling intervals
        self._open_errors = OpenFailures(clock)
        #: the port's losses and opens as the log shows them: each, or once a minute while the
        #: port flaps (a USB RS-485 adapter dropping off and coming back every few seconds);
        #: its devices' state lines say the same of each device
        self._changes = StateChanges(clock=clock)
        #: what the devices' answers, refusals and silences make of their reads and writes
        self.reads = DeviceReads(self.transport, self.devices, self.log, self._errors, clock)
        #: the adapter's echo of the requests and the transceivers' glitch bytes before it
        self.echo = LineEcho(
            self,
            link=self.link,
            devices=self.devices,
            reads=self.reads,
            log=self.log,
            clock=clock,
            echo_writes=self.transport == "rtu" and not self._settings.local_echo,
        )
        #: the frames that are not the answer awaited: late, unasked, repeated, foreign
        self.stray = StrayFrames(
            self,
            transport=self.transport,
            devices=self.devices,
            left=self.left,
            log=self.log,
            errors=self._errors,
            clock=clock,
        )

    # -- what the reader asks of a port ---------------------------------------------------------
    @property
    def read_timeout_s(self) -> float:
        return self._settings.timeout_s

    @property
    def opens_slowly(self) -> bool:
        return self._address.kind == "network"

    @property
    def awaiting_reply(self) -> bool:
        return self.in_flight is not None or self._answer_may_wait

    def new_source(self) -> Source:
        if self._simulated is not None:
            url = self.port if self._address.is_simulated else f"sim://{self.name}"
            return SimulatedModbusLine(
                self.name, url, self._simulated, char_s(self._settings), self._clock
            )
        return SerialSource(
            self.name,
            self._address.text,
            self._settings,
            connected_before=self._endpoint in self._reached,
            simulate=self._simulate_setting,
            bus_devices=sorted(self.devices, key=natural_key),
        )

    def try_open(self) -> bool:
        if self._reopen.held(self.retry, self._clock()):
            return False  # the backoff holds a device path that is still as it was
        source: Source | None = None
        try:
            source = self.new_source()
            source.open()
        except Exception as exc:
            self.open_failed(source, as_source_error(self.name, exc))
            return False
        self.opened(source)
        return True

    def open_failed(self, source: Source | None, exc: SourceError) -> None:
        if source is not None:
            source.close()
        delay = self._reopen.failed(self.retry, self._clock())
        self.state = "down"
        self._idle_closed.clear()  # the devices hear of it now: the next open starts afresh
        self._after_silence = False
        held, text = self._open_errors.failed(exc)
        self._log_settled()
        if held is not None and self._changes.flapping:
            self._changes.hold()  # the next "bus lost" or "bus open" let through tells of it
        elif held is not None:
            self.log.info(
                "bus open failed", error=text, retry_in_s=round(delay, 3), suppressed=held
            )
        for device in self.devices.values():
            device.sensor.bus_down(text, open_failed=True)

    def opened(self, source: Source) -> None:
        self.source = source
        self.state = "up"
        self.shared_port.opened(source)
        self._damaged_at_open = self._damaged()
        if self._endpoint is not None and self._simulated is None:
            self._reached.add(self._endpoint)
        self.link.reset()
        self._asked.clear()
        self._answered_ids.clear()
        self._timed_out_id = 0
        if self._address.is_device and self._simulated is None and self.transport == "rtu":
            self._adapter_latency()
        now = self._clock()
        self._opened_at = now
        self._answers_at_open = self.answered
        self._unheard = 0
        self.in_flight = None
        self.quiet_until = max([now, *(left.until for left in self.left.kept)])
        self._upcoming = None
        self._open_errors.reset()
        idle_closed, self._idle_closed = self._idle_closed, set()
        timed_out_idle, self._timed_out_idle = self._timed_out_idle, False
        after_silence, self._after_silence = self._after_silence, False
        if after_silence:
            if self._silence_logged:
                self.log.info("bus open again after a silent connection", port=source.url)
        elif idle_closed:
            self.log.debug("bus open again after an idle close", port=source.url)
        elif (held := self._changes.change()) is not None:
            flapping = {"suppressed": held} if self._changes.flapping or held else {}
            self.log.info(
                "bus open",
                port=source.url,
                devices=len(self.devices),
                simulated=source.simulated,
                **flapping,
            )
            if source.simulated and self._address.is_device:
                log_simulated_absent_device(
                    self.log, self.port, source.url, sorted(self.devices, key=natural_key)
                )
        for device in self.devices.values():
            if device.owed:  # the old connection's answers do not come on this one
                device.owed = 0
                self.owes(device, None)
            if device.sensor.name in idle_closed:  # it goes on: schedule, quarantine, state
                # a new connection all the same: a device or gateway that drops the requests
                # sent right after a connect (a Huawei SDongle) drops them on each one, so its
                # first request waits the connect delay there too, also in mid-poll
                device.drain_until = max(device.drain_until, now + device.connect_delay_s)
                if after_silence and device.counters.down:
                    # asked once on the new connection, after its connect delay (also when its
                    # backoff ran out meanwhile); its backoff grows on if it does not answer
                    # there either
                    device.retry.next_at = now + device.connect_delay_s
                device.sensor.bus_reopened(source, idle=timed_out_idle and not after_silence)
                continue
            # a fresh start for every device (one that joined while the port was closed too)
            device.next_due = now + device.connect_delay_s
            device.pending = []
            device.unwritten = list(device.writes)
            device.write_polls.clear()
            device.late_writes.clear()
            device.late_refusals.clear()
            self.reads.at_every_poll(device)
            device.drain_until = float("-inf")
            self._hold(device)
            if device.counters.down:
                # down when the port went away: it stays down until it answers, asked once
                # on the new connection (a replug after its wiring or power was seen to) and
                # then at its backoff, which grows on if it does not answer there either; that
                # attempt waits the connect delay, as every first request does, also when its
                # backoff ran out while the port was gone
                device.retry.next_at = device.next_due
                device.sensor.bus_opened(
                    source,
                    down=f"no response to {device.timeouts_in_row} requests in a row: "
                    f"{device.down_why}",
                )
                continue
            device.timeouts_in_row = 0
            device.retry.succeeded()
            device.sensor.bus_opened(source)

    def disconnect(self, reason: str, *, own_fault: bool = False) -> None:
        """The port broke (``reason``). A network port's connection that its peer closed (or
        reset) while no exchange was in flight, after it had carried answers, is a gateway
        or serial server that closes connections idle for longer than its own limit (many
        close after 60 s): nothing failed, so the devices stay as they are and the
        connection is opened again when the next exchange is due (logged once a minute at
        most). A lost connection that is then refused takes the devices down as usual.

        The idle close may cross the request that ends the idleness on the wire: a close
        that comes while a request sent after at least IDLE_TIMEOUT_MIN_S of quiet awaits
        its answer, before any byte of it, is taken as the idle close it is (the request is
        asked again on the new connection, no timeout counted), not as a lost bus that takes
        every device down. So is a close that crosses a request sent right after an answer
        (a server that closes the connection after each reply, or of a request that follows
        a reply too closely), counted as a reconnect and logged with REPLY_CLOSE_HINT, unless
        the connection had carried no byte for IDLE_TIMEOUT_MIN_S or longer while requests went
        unanswered on it (UNANSWERED_CLOSE_HINT, as for such a close between exchanges). A
        request closed on again when asked on the new connection is one the peer will not
        take (a unit id it does not serve): it is its device's timeout
        (CLOSED_ON_REQUEST_HINT), and the connection is opened again for the others, also
        when that new connection had answered nothing. ``own_fault``: sensord's own failure
        closed it (its code raised, the port could not be watched), never an idle close; nor
        is one whose close raises.

        A close that raises is the port closed all the same: the bus and its devices go down
        for ``reason``, at the backoff of a lost port, then ``PortCloseError`` is raised from
        what the close raised."""
        unclosed = self._disconnect(reason, own_fault)
        if unclosed is not None:
            raise PortCloseError(f"bus {self.port}: closing the port failed") from unclosed

    def _disconnect(self, reason: str, own_fault: bool) -> Exception | None:
        """``disconnect``; what the source's close raised."""
        now = self._clock()
        # with no port open (its own code raised as a failure to connect was taken) nothing
        # was proven: the backoff grows
        was_open = self.source is not None
        answered = was_open and self.answered > self._answers_at_open
        network = self._address.kind == "network"
        flight = self.in_flight
        # no byte of its answer came: the close may have crossed the request on the wire
        unanswered = flight is not None and flight.reply == NOTHING and flight.starts is None
        crossed = unanswered and flight is not None and flight.idle_before_s >= IDLE_TIMEOUT_MIN_S
        # sent right after an answer on a connection its peer closes after each reply
        after_reply = unanswered and not crossed
        # asked again on a new connection after such a close, and closed on again: the peer
        # ends the connection of this request (a unit id it does not serve), and the other
        # devices' go on
        refused = (
            network
            and unanswered
            and not own_fault
            and flight is not None
            and flight.expected is flight.device.closed_on
        )
        if refused and flight is not None:
            self._timed_out(flight, now, closed=True)
            flight = None
        idle = network and (answered or refused) and (flight is None or unanswered)
        idle = idle and not own_fault
        unclosed: Exception | None = None
        try:
            self._close_source()
        except Exception as exc:  # closed all the same: the disconnect goes on
            unclosed = exc
            idle = False  # sensord's own failure: a lost bus, at its backoff
        if idle:
            self._idle_closed = set(self.devices)
            if flight is not None:  # crossed: asked again first on the new connection
                flight.device.pending.insert(0, flight.expected)
                flight.device.hold_until = float("-inf")
                flight.device.closed_on = flight.expected
            self._timed_out_idle = crossed or (
                flight is None and now - self.quiet_until >= IDLE_TIMEOUT_MIN_S
            )
            # requests went unanswered since the connection last carried a byte: for how long
            # at least it brought no reply
            unheard_s = now - self._unheard_since if self._unheard else 0.0
            self.retry.succeeded()
            due = min((device.due_at() for device in self.devices.values()), default=now)
            self.retry.next_at = max(now, due)
            self.state = "down"
            if refused:
                pass  # told as the device's no answer (``CLOSED_ON_REQUEST_HINT``)
            elif unheard_s >= IDLE_TIMEOUT_MIN_S and not self._timed_out_idle:
                held = self._errors.check("unanswered close")
                if held is not None:
                    self.log.info(
                        "connection closed while its requests went unanswered",
                        error=reason,
                        no_reply_for_s=round(unheard_s, 3),
                        unanswered=self._unheard,
                        hint=UNANSWERED_CLOSE_HINT,
                        suppressed=held,
                    )
            elif after_reply:
                held = self._errors.check("reply close")
                if held is not None:
                    self.log.info(
                        "connection closed after a reply",
                        error=reason,
                        hint=REPLY_CLOSE_HINT,
                        suppressed=held,
                    )
            elif (held := self._errors.check("idle close")) is not None:
                self.log.info(
                    "connection closed while idle",
                    error=reason,
                    reopen_in_s=round(self.retry.next_at - now, 3),
                    hint=IDLE_CLOSE_HINT,
                    suppressed=held,
                )
            for device in self.devices.values():
                device.sensor.bus_idle_closed()
            return unclosed
        if answered or (was_open and now - self._opened_at >= PROVEN_AFTER_S):
            self.retry.succeeded()  # it worked for a while: a fresh start (see PROVEN_AFTER_S)
        delay = self._reopen.failed(self.retry, now)
        self.state = "down"
        held = self._changes.change()
        if held is not None:
            flapping = {"suppressed": held} if self._changes.flapping or held else {}
            self.log.warning("bus lost", error=reason, retry_in_s=round(delay, 3), **flapping)
        for device in self.devices.values():
            device.sensor.bus_down(reason, open_failed=False)
        return unclosed

    def stop(self) -> None:
        for device in self.devices.values():
            device.refusals.tell_untold(last=True)
        self._close_source()
        self.state = "stopped"

    def follow(self, left: list[LeftExchange]) -> None:
        """This bus replaces one on the same port that stopped when its last device left
        with the exchanges ``left`` (a reload that changed every device, their line settings,
        say): on a serial line, at this port or behind a serial server (``socket://``,
        ``rfc2217://``), a device may still be sending its answer, so no request goes out
        before it would have timed out (RS-485 is half duplex), and the answers are nobody's.
        A Modbus TCP gateway's new connection carries no answer of the old one's, nor does
        a simulated line or a replay."""
        line = self.transport == "rtu" and self._simulated is None and not self._address.is_replay
        now = self._clock()
        if line:
            self.left.kept = [each for each in left if each.late_until > now]
            self.quiet_until = max([self.quiet_until, *(each.until for each in self.left.kept)])
            self._answer_may_wait = True

    def held(self, held_s: float) -> None:
        """The reader's loop read no port for ``held_s`` (a reload ran on it): an answer of a
        device that left (``left``) that came meanwhile waits in the open port, read only now,
        after it may have come by the clock, so that time does not count against it. Each
        left exchange is awaited ``held_s`` longer, the line kept quiet and the devices of
        its unit id held as long. A port not open (a bus the reload built anew, whose port
        opens after it) held nothing. The exchange in flight needs nothing: what the port
        holds is read before its timeout is looked at (``Reader._read_before_tick``)."""
        if not self.left.kept or held_s <= 0 or self.source is None:
            return
        self.left.later(held_s)
        self.quiet_until = max([self.quiet_until, *(each.until for each in self.left.kept)])
        for device in self.devices.values():
            self._hold(device)
        self._upcoming = None

    def _hold(self, device: _Device) -> None:
        """Hold ``device`` until ``LeftExchanges.left_drain``: its drain, and the time its next
        poll is due (a poll the hold delays is no poll missed for want of the line's time)."""
        hold = self.left.left_drain(device)
        if hold > device.drain_until:
            device.drain_until = hold
        if hold > device.next_due:
            device.next_due = hold

    def left_owed_answer(self, response: Response) -> bool:
        """True when ``response`` (RTU, awaited by no exchange) is an answer a device of its
        unit id still owed when it left the bus after its drain (``left_owed``): nobody's,
        neither late nor unasked for a device that replaced it."""
        owed = self.left_owed.get(response.unit, 0)
        if not owed:
            return False
        if owed > 1:
            self.left_owed[response.unit] = owed - 1
        else:
            del self.left_owed[response.unit]
        return True

    def _left_answer(self, response: Response) -> bool:
        """True when ``response``, which answers no exchange in flight, answers the request
        of a device that left the bus (``left``; the first of them it answers), in time or
        late: nobody's, neither late nor unasked (a device that replaced it, of the same unit
        id, did not send it). An answer in time frees what waited for it, as an answer in
        flight does: the line after the silence and the ``gap_s`` of a device of its unit id
        (while no other left exchange is awaited longer), and that device, asked at once
        (after its ``connect_delay_s`` on a port just opened) unless another left exchange
        of its unit id holds it longer. A late answer (on RTU) frees that device as a device's
        own late answer does, once the drain it starts ends (``_drain``: the left device's
        timeout from it) unless another left exchange of its unit id holds it longer: sooner
        than the exchange's ``late_until`` when the answer came sooner than the left device's
        latest late answer before it, later when it came later; and the line after the
        silence after its bytes (``_unasked``), as after a device's own."""
        now = self._clock()
        left = self.left.take(response, self._sent)
        if left is None:
            return False
        kept = self.left.kept
        in_time = now <= left.until
        same = [device for device in self.devices.values() if device.unit == left.unit]
        if in_time and self.quiet_until <= left.until:
            gap_s = max((device.gap_s for device in same), default=0.0)
            awaited = [each.until for each in kept]
            self.quiet_until = max([now + self.silence_s + gap_s, *awaited])
        for device in same:
            if device.drain_until == left.late_until:  # held for it (``_hold``)
                drain = self.left.left_drain(device)
                if not in_time:
                    drain = max(drain, now + left.timeout_s)
                device.drain_until = drain
                due = max(now, self._opened_at + device.connect_delay_s, drain)
                # due then, as ``_hold`` has it: a poll the drain delays is none missed
                device.next_due = max(min(device.next_due, due), drain)
        self._upcoming = None
        return True

    def _close_source(self) -> None:
        if self.echo.write_copy:  # settled by what the line showed, or asked again
            if self.echo.copy_due():
                self.echo.copy_settled()
            else:
                self.echo.copies_unknown()
        self._line_echoes = False
        self._broadcast = None
        source, self.source = self.source, None
        flight, self.in_flight = self.in_flight, None
        self._upcoming = None
        self.link.reset()
        if flight is not None:
            self.echo.drop_held_echo(flight)
        self._tell_skipped(self._last_asked if flight is None else flight.device)
        self._asked.clear()
        self._answered_ids.clear()
        if self.transport == "tcp":  # a new connection carries no reply of this one's
            self.left.kept = []
        if source is not None:
            source.close()

    # -- membership -------------------------------------------------------------------------------
    def add(self, sensor: SensorRuntime) -> None:
        refusals = DeviceRefusals(sensor, self._errors, self.log)
        device = _Device(sensor, self._clock(), self._rng, refusals)
        self._hold(device)
        self.devices[sensor.name] = device
        self._units_changed()
        sensor.simulated = self._simulated is not None  # the bus's choice, made when it started
        self._upcoming = None
        if self._simulated is not None:
            config = sensor.config
            spec = config.format_spec().modbus
            assert spec is not None
            self._simulated[device.unit] = SimulatedModbusDevice(
                spec,
                config.signal_specs(),
                config.simulation_spec().seed,
                self._clock(),
                self._clock,
            )
        if self.source is not None:
            sensor.bus_opened(self.source)

    def _units_changed(self) -> None:
        """The devices' unit ids and their requests' function codes, as the link's framing
        knows them: an exception from a broadcast or reserved address none of them has is line
        noise, and a frame's first bytes that begin none of theirs hold no request (RTU)."""
        devices = self.devices.values()
        self.link.units = frozenset(device.unit for device in devices)
        self.link.functions = frozenset(
            request.exception_head[1] & 0x7F
            for device in devices
            for request in (*device.reads, *device.writes)
        )

    def retuned(self, sensor: SensorRuntime) -> None:
        """``sensor`` took a configuration in place (``SensorRuntime.retune``): its device's
        ``stale_after``, which times the bus's silences, is the new one's."""
        self.devices[sensor.name].stale_after_s = sensor.config.stale_after

    def remove(self, name: str) -> None:
        self.echo.leaves(self.devices[name])
        device = self.devices.pop(name)
        self._units_changed()
        if device.owed_requests:
            self.owes(device, None)
        device.refusals.tell_untold(last=True)
        self._upcoming = None
        # a device that joins under its name (a reload changed it) starts afresh at the open
        self._idle_closed.discard(name)
        unanswered = [t for t, d in self._asked.items() if d is device]
        self._asked = {t: d for t, d in self._asked.items() if d is not device}
        self._answered_ids = {t: d for t, d in self._answered_ids.items() if d is not device}
        if self._simulated is not None:
            self._simulated.pop(device.unit, None)
        if self._last_asked is device:
            self._last_asked = None
        flight = self.in_flight
        leaving: LeftExchange | None = None
        if flight is not None and flight.device is device:
            # its answer may still come: keep the line quiet until it would have timed out,
            # and take that answer for nobody's
            self.in_flight = None
            self.echo.drop_held_echo(flight)
            self._tell_skipped(device)  # (its own bytes, told before it goes)
            leaving = self.left.leaving(flight, self._sent, self.piece_slack_s)
            self.quiet_until = max(self.quiet_until, leaving.until)
        # its requests that timed out may still be answered late, before the answer in flight
        # (a device answers in order): those answers are nobody's too, beside those of others
        # that left
        after = float("-inf") if leaving is None else leaving.late_until
        left = self.left.owed(device, unanswered, self._sent, self.piece_slack_s, after)
        if self.transport == "rtu" and device.owed and not left:
            owed = self.left_owed.get(device.unit, 0) + device.owed
            self.left_owed[device.unit] = min(owed, DOWN_AFTER_TIMEOUTS)
        if leaving is not None:
            if leaving.transaction_id:  # (its Modbus TCP request is among those unanswered)
                left = [each for each in left if each.transaction_id != leaving.transaction_id]
            left.append(leaving)
        if not left:
            return
        self.left.keep(left, self._sent)
        self._answer_may_wait = True
        for other in self.devices.values():
            self._hold(other)

    # -- the exchanges ----------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        if self.source is None:
            return None
        if self.in_flight is not None:  # its timeout, or a simulated line's answer if sooner
            answer_at = self.source.next_due()
            deadline = self.in_flight.deadline
            return deadline if answer_at is None else min(deadline, answer_at)
        at, device = self._upcoming or self._plan_next()
        return None if device is None else at

    def _log_settled(self) -> None:
        """A port whose opens and losses flapped and that has kept its state for a while: the
        lines held back since the last one logged are told, and its changes are logged
        again."""
        held = self._changes.settled()
        if held is not None:
            (self.log.warning if self.state == "down" else self.log.info)(
                "bus steady again", state=self.state, for_s=self._changes.window_s, suppressed=held
            )

    def tick(self, now: float) -> None:
        if self.source is None:
            return
        self._log_settled()  # its devices log the state they kept
        flight = self.in_flight
        if flight is not None and now >= flight.deadline:
            self._timed_out(flight, now)
        if self.echo.write_copy and now > self.echo.write_copy_until and self.echo.copy_due():
            # no copy of the write answered with its request's bytes, nor an exception,
            # followed it in its device's timeout
            self.echo.copy_settled()
        if self._unheard >= SILENT_RECONNECT_REQUESTS and self._check_silence(now):
            return
        if now >= self._stale_check_at:
            self._stale_check_at = now + STALE_CHECK_S
            for device in self.devices.values():
                device.sensor.check_stale(now)
                device.refusals.tell_untold()
            if now - self._heard_aged_at >= HEARD_FOR_S:
                # the addresses of a master that left the line hold no noise byte for long
                self._heard_aged_at = now
                self.link.age_heard()
            if (
                self.piece_slack_s > self._adapter_slack_s
                and self.answered - self._window_from >= self._window_answers
            ):
                self._relax_slack()
            if self.shared_port.watching and (
                self._damaged() != self._damaged_at_open
                or any(d.sensor.state == "stale" for d in self.devices.values())
            ):
                self.shared_port.trouble()  # another process may take its replies
        self._start_next(now)

    def _damaged(self) -> int:
        """The answers of the bus's devices that came damaged (CRC) or cut off so far, and
        their requests that went unanswered: what a process that takes some of the line's
        bytes does to them (a port's trouble, for ``sensord.shared_port``). A sum over the
        devices: read at stale checks, while the port is not searched yet in its open."""
        return sum(
            d.counters.errors["crc"] + d.counters.errors["truncated"] + d.counters.timeouts
            for d in self.devices.values()
        )

    def _plan_next(self) -> tuple[float, _Device | None]:
        """``_next_exchange()``, kept until the bus's state changes: an exchange starts or
        ends, the port opens or closes, a device joins or leaves (each clears it)."""
        self._upcoming = self._next_exchange()
        return self._upcoming

    def _next_exchange(self) -> tuple[float, _Device | None]:
        """When the next exchange can start, and with which device.

        Devices that answered their last request go first, the most overdue first (ties in
        the order they were added). A device whose last request timed out (one that may be
        dead, or is quarantined) goes only when its whole timeout ends before the next of
        the others is due, so that it costs them nothing; or, when it never fits (the others
        poll faster than its timeout), once it is a whole interval overdue. A read asked
        again (``retries``) of a device that is not down goes as its poll's first read went,
        among those that answered: a device that lost the request that woke it may sleep
        again long before a whole interval, and one that goes on not answering is down
        after :data:`DOWN_AFTER_TIMEOUTS` timeouts in a row all the same.
        """
        answering: _Device | None = None
        silent: _Device | None = None
        for device in self.devices.values():
            at = device.due_at()
            if device.timeouts_in_row == 0 or (
                device.retried and device.pending and not device.counters.down
            ):
                if answering is None or at < answering.due_at():
                    answering = device
            elif silent is None or at < silent.due_at():
                silent = device
        free = self.quiet_until
        next_answering = float("inf") if answering is None else max(answering.due_at(), free)
        if silent is not None:
            due = silent.due_at()
            start = max(due, free)
            wait = self.request_wire_s + silent.timeout_s + self.silence_s + silent.gap_s
            wait += self._held_s(silent)
            fits = start + wait <= next_answering
            if start < next_answering and (fits or start >= due + silent.interval_s):
                return start, silent
            if not fits and answering is not None:
                # it waits for a gap; past a whole interval overdue it goes regardless
                late_at = max(due + silent.interval_s, free)
                if late_at < next_answering:
                    return late_at, silent
        return next_answering, answering

    def _start_next(self, now: float) -> None:
        if self.in_flight is not None or now < self.quiet_until or self.source is None:
            return
        at, device = self._upcoming or self._plan_next()
        if device is None or at > now:
            return
        self._upcoming = None
        if not device.pending:
            refusals = device.refusals
            if refusals.busy_polls:
                refusals.poll_over(now)
            missed = device.start_poll(now)
            if missed:
                self._missed(device, missed)
            if not device.pending:  # each read waits its turn after a refusal
                return
        expected = device.pending.pop(0)
        device.hold_until = float("-inf")
        if device.owed_requests and self._owed_hold(device, expected, now):
            return
        transaction_id = 0
        if self.transport == "tcp":
            transaction_id = self._sent % 0xFFFF + 1
            self._sent += 1
            asked = self._asked
            asked.pop(transaction_id, None)
            asked[transaction_id] = device
            if len(asked) > TRANSACTIONS_KEPT:
                del asked[next(iter(asked))]
        request = expected.with_transaction(transaction_id)
        self._drop_partial(now)
        self._last_asked = device
        idle_before_s = now - self.quiet_until
        try:
            sent = self.source.try_write(request)
        except SourceError as exc:
            # never sent: asked again first on the next connection if this close is an idle
            # one (a lost bus's reopen starts every device afresh)
            device.pending.insert(0, expected)
            self.disconnect(str(exc))
            return
        self._answer_may_wait = False
        if not sent:
            device.counters.errors["write"] += 1
            self._not_heard(now)
            device.pending.clear()
            self.quiet_until = now + device.timeout_s
            return
        # (one not sent shows nothing of the line's echo: ``LineEcho.copy_due``)
        self._requests += 1
        self.link.asked = request
        if self.left_owed:  # a frame of its unit id may answer this request from now on
            self.left_owed.pop(device.unit, None)
        self.in_flight = _Exchange(
            device,
            expected,
            request,
            now,
            now + self.request_wire_s + device.timeout_s,
            transaction_id,
            self.link.skipped_bytes,
            self.link.pending_bytes,
            idle_before_s=idle_before_s,
            echo_unknown=not self._line_echoes,
        )

    def _owed_hold(self, device: _Device, expected: Request, now: float) -> bool:
        """Whether ``expected`` waits, put back first among ``device``'s reads of the poll:
        the device's read asked again after its timeout took a frame that may be the late
        answer of its first request, and the answer of the second may still come until
        ``owed_settled_until`` (``StrayFrames._owed_first``); a request whose answer has the
        shape of another request still owed waits until then, as that answer would be taken
        for the owed one's and its own lost where the device lost the request owed (a frame
        that fits a request owed of its own bytes is its values either way).
        At its first request after then, the device owes nothing: it answers in order, and
        what it left unanswered before will not come."""
        until = device.owed_settled_until
        if until == float("-inf"):
            return False
        if now >= until:
            device.owed_settled_until = float("-inf")
            device.owed = 0
            self.owes(device, None)
            return False
        function, frame = expected.read.function_code, expected.frame
        if not any(
            r.size == expected.size and r.read.function_code == function and r.frame != frame
            for r in device.owed_requests
        ):
            return False
        device.pending.insert(0, expected)
        device.hold_until = until
        self._upcoming = None
        return True

    def feed(self, chunk: bytes) -> None:
        """Bytes from the port: the response to the exchange in flight, or bytes to drop."""
        self._unheard = 0  # the connection carries bytes
        flight = self.in_flight
        if 10 in chunk or 13 in chunk:  # a line end: lines of text may be coming
            self._note_text(chunk)
        if flight is None:
            self._unasked(chunk)
            if self.link.skipped_bytes != self._skipped_told:
                self._tell_skipped(self._last_asked)
            return
        if self._line_echoes and flight.expected.write and 0 <= flight.echoed < len(flight.request):
            chunk = self.echo.write_echo(flight, chunk)
            if self.link.skipped_bytes != self._skipped_told:  # the whole echo came
                self._tell_skipped(flight.device)
            if not chunk:  # the echo, or its first bytes: the answer is still to come
                return
        if (
            not self.link.pending_bytes
            and not self.echo.write_copy  # (a frame settles a write's copy: ``_feed_frames``)
            and not flight.device.owed_requests  # (a late answer may fit: ``StrayFrames.answers``)
            and flight.expected.answers(chunk, flight.transaction_id)
        ):
            if not self.echo.echo_after_proof(flight, chunk):
                self._answered(flight, chunk, None)
            elif self.link.skipped_bytes != self._skipped_told:  # (it was the echo)
                self._tell_skipped(flight.device)
        else:
            if 0 <= flight.echoed < len(flight.request):
                self.echo.read_echo(flight, chunk)
            paid = flight.paid_owed
            answer = self._feed_frames(chunk, flight)
            if self.in_flight is flight and flight.paid_owed != paid:
                # a late answer (``StrayFrames._owed_first``): what follows it can answer
                flight.starts = None
                flight.reply = NOTHING
            elif self.in_flight is flight and flight.expected.rtu:
                self._arriving(flight, chunk)
            elif flight.reply == ARRIVING and flight.starts is not None and answer not in chunk:
                # answered by this piece after the ones it began in (not by a frame whole in
                # it, after bytes that began like it and never came whole): held past its time
                # on the wire as long as the adapter holds a frame's pieces
                apart = self._clock() - flight.starts.heard_at - len(chunk) * self.char_s
                if apart > self._pieces_apart_s:
                    self._pieces_apart(apart)
            if self.link.skipped_bytes != self._skipped_told:
                self._tell_skipped(flight.device)
            if self.in_flight is None and self.link.after_frame and flight.expected.rtu:
                # a frame begun right after the answer, in the same piece (a second answer
                # to a read at unit 0, another master's frame): the line is held for its rest
                now = self._clock()
                rest = self.link.after_frame_rest(self._unit_0_answers(now))
                if rest:
                    self._hold_rest(now, rest, 0.0)
        if self.in_flight is None and self.source is not None:
            self._start_next(self._clock())

    def _note_text(self, chunk: bytes) -> None:
        """``chunk`` holds a CR or LF: with the bytes before it, lines of text (when a device
        streams text where Modbus answers should come, it is told so, not to check the
        baud rate)."""
        self._loose = (self._loose + chunk)[-TEXT_TAIL_BYTES:]
        lines = [line for line in self._loose.splitlines() if line.strip()]
        if len(lines) >= 2 and looks_like_text(self._loose):
            self._text_at = self._clock()

    def _text_hint(self, device: _Device, now: float) -> str | None:
        """What to say of a request gone unanswered while lines of text came lately (within
        the device's interval and timeout twice over), or None."""
        if now - self._text_at > 2 * (device.interval_s + device.timeout_s):
            return None
        lines = [line.strip() for line in self._loose.splitlines() if line.strip()]
        last = lines[-1][:40].decode("ascii", "replace") if lines else ""
        return TEXT_LINES_HINT.format(last=last)

    def _tell_skipped(self, device: _Device | None) -> None:
        """The bytes the link dropped since it was last asked (noise, a spoilt or cut-off
        reply, a frame no request awaited) go to ``device``'s ``skipped_bytes``: the device
        whose exchange was in flight, else the one asked last, whose late answer they most
        likely are (the line's bytes are no one device's); with no device (the one asked
        last was removed), no one's."""
        skipped = self.link.skipped_bytes
        dropped = skipped - self._skipped_told
        self._skipped_told = skipped  # bytes of no device (one removed) are no one's
        if dropped and self.in_flight is None:
            self._others_at = self._clock()
        if dropped and device is not None:
            device.sensor.bus_skipped_bytes += dropped

    def _arriving(self, flight: _Exchange, chunk: bytes) -> None:
        """Bytes of an RTU exchange that did not complete its answer: when they can begin the
        reply (:class:`~sensord.reply_starts.ReplyStarts`: after the line's silence, the
        first bytes after the request too, and starting like it, its unit id, function code
        and byte count or an exception, while the link has not framed past them), the
        exchange's deadline covers the rest of that frame's length at the port's character
        time, the silence and the port's slack (``piece_slack_s``): a long reply on
        a slow line (255 bytes take 266 ms at 9600 baud) that starts within the timeout is
        read whole, not cut off by it. Once no reply can have begun in them (the bytes after
        such a start turned out to be another frame's, or noise), the deadline is the
        timeout again: on a busy line another master's frames hold the unit id among their
        bytes, and they do not stretch a dead device's timeout.

        When that frame is whole and still not the answer, its CRC failed: the exchange ends
        as ``crc`` once the line has been silent for the silence between frames after it
        (:meth:`_spoilt`), instead of waiting out the timeout; more bytes meanwhile (the
        real answer behind a glitch, say) are still read, within the timeout."""
        starts = flight.starts
        if starts is None:  # the request is the line's last frame: what follows can answer it
            # (a read at unit 0 may be answered with the device's own unit id)
            units = (
                self.stray.broadcast_answerers(flight.device)
                if not flight.device.unit
                else NO_UNITS
            )
            starts = flight.starts = ReplyStarts(
                flight.expected,
                self.char_s,
                self.silence_s,
                NONE,
                units,
                slack_s=self.piece_slack_s,
            )
        now = self._clock()
        until = starts.heard(chunk, now, self.link.pending_bytes, self.link.after_frame)
        if until == starts.whole_at == NONE and flight.reply == NOTHING:
            return  # the common case of a busy line: nothing that can be the reply
        timeout_at = flight.sent_at + self.request_wire_s + flight.device.timeout_s
        if (
            flight.echoed > 0
            and self.link.pending_bytes + self.link.skipped_bytes - flight.skipped_before
            == flight.pending_before + flight.glitched + flight.echoed
        ):
            # the bytes since the request are its echo so far (``LineEcho.read_echo``): the
            # request as sent, not a reply begun or spoilt (a write of function 15 or 16 is
            # answered with its request's first 6 bytes, which its echo begins with)
            flight.reply = NOTHING
            flight.deadline = timeout_at
        elif until != NONE:
            flight.reply = ARRIVING
            if self.link.holds_codeless_exception(flight.expected.exception_head):
                # a refusal with no code byte, unless its fifth byte comes by then (a sound
                # exception): taken once the line has been silent after it (``_timed_out``)
                flight.deadline = until
            else:
                flight.deadline = max(timeout_at, until)
        elif starts.whole_at != NONE:
            flight.reply = SPOILT
            quiet = min(now + self.silence_s, timeout_at)
            flight.deadline = max(starts.whole_at + self.silence_s, quiet)
        else:
            flight.reply = NOTHING
            flight.deadline = timeout_at

    def _unasked(self, chunk: bytes) -> None:
        """Bytes while no exchange is in flight: a late answer (counted) or noise. Someone is
        sending, and RS-485 is half duplex: no request goes out before the line has been
        silent for the silence between frames after these bytes, and, when they begin a frame
        whose length is known, after the rest of that frame too and the time the port's adapter
        holds it (``piece_slack_s``: a reply read in an FTDI adapter's pieces pauses its latency
        timer between them, 16 ms by default, longer than the silence), given back once the
        frame is whole; the pieces of a sound frame further apart than that raise it
        (``_pieces_apart``). The next request starts from the bus's timer, never from here.
        Bytes that keep the line busy for longer than :data:`LINE_BUSY_LIMIT_S` hold it no
        longer (logged once a minute): the requests go out between them. Bytes that come
        while the answer of a device that left (``left``) may come keep it awaited for the rest
        of their frame, as an exchange in flight is, up to its ``late_limit`` (see
        :class:`LeftExchange`), and the device of its unit id held as long (``_hold``): not
        asked while that answer may come, and once it came late, held for the drain from its
        end (``_left_answer``)."""
        skipped = self.link.skipped_bytes
        self._feed_frames(chunk, None)
        now = self._clock()
        if self.left.kept:
            # the answer of a device that left, begun in time, is read whole as it would have
            # been in flight (``_arriving``): the rest of its frame is still that answer, and
            # so is the rest of one begun late (which of them it answers shows once it is whole)
            end = now + self.silence_s + self.link.awaited_bytes() * self.char_s
            end += self.piece_slack_s
            later = self.left.arriving(now, end)
            if later:
                # the device of its unit id waits as long as the answer may still come
                for device in self.devices.values():
                    if device.unit in later:
                        self._hold(device)
                self._upcoming = None
        if now - self._unasked_at > LINE_QUIET_GAP_S:  # a run of unasked bytes begins
            self._unasked_since = now
        self._unasked_at = now
        if now - self._unasked_since > LINE_BUSY_LIMIT_S:
            held = self._errors.check("line busy")
            if held is not None:
                self.log.warning(
                    "line busy with bytes nobody asked for; requests go out anyway",
                    for_s=round(now - self._unasked_since, 3),
                    hint="another master on the bus, or a device that sends on its own",
                    suppressed=held,
                )
            return
        unit_0 = self._unit_0_answers(now)
        rest = self.link.after_frame_rest(unit_0) or self.link.start_rest(unit_0)
        quiet = now + self.silence_s + rest * self.char_s
        hold = self._piece_hold
        widest = 0.0
        if hold is not None:
            self._piece_hold = None
            if self.quiet_until == hold[0]:
                # the hold for an adapter's pieces ends with the frame they belong to (whole
                # now, or more of it come): the line is quiet after its last byte as after any
                # other
                self.quiet_until = hold[1]
                self._upcoming = None
                if self.link.skipped_bytes == skipped:  # the same frame's next piece
                    # the gap less the time this piece's bytes of the frame took on the wire
                    # (a UART's FIFO hands a frame over as the line carries it) is how long
                    # they were held past it
                    wire = min(hold[3], len(chunk) * self.char_s)
                    widest = max(hold[4], now - hold[2] - wire)
                    # whole, its CRC sound (and when another frame begins right after it in
                    # this piece, that one's pieces are its own)
                    whole = not rest or self.link.after_frame
                    if whole and widest > self._pieces_apart_s:
                        self._pieces_apart(widest)
                    if rest and whole:
                        widest = 0.0
        if rest:
            self._hold_rest(now, rest, widest)
        elif quiet > self.quiet_until:
            self.quiet_until = quiet
            self._upcoming = None

    def owes(self, device: _Device, request: Request | None) -> None:
        """``device`` owes the answer of ``request``, which timed out, as its ``owed`` counts
        (at most that many, the latest kept), or, with None, one less, the owed it answered
        taken out (``StrayFrames.late``) or none when ``owed`` is 0. The first bytes of
        every answer owed on the bus (``_owed_heads``) are what the framing waits for whole
        before it looks for frames inside them (``ModbusLink.feed``): a late answer's
        registers may hold a whole frame, CRC and all."""
        owed = device.owed_requests
        if request is not None and request.rtu:
            owed.append(request)
            device.owed_settled_until = float("-inf")
        del owed[: max(0, len(owed) - device.owed)]
        if not owed and device.owed_settled_until != float("-inf"):
            # paid: a request held for it (``_owed_hold``) goes
            if device.hold_until == device.owed_settled_until:
                device.hold_until = float("-inf")
                self._upcoming = None
            device.owed_settled_until = float("-inf")
        self._owed_heads = tuple(
            request.head for other in self.devices.values() for request in other.owed_requests
        )

    def _unit_0_answers(self, now: float) -> bool:
        """A second answer to the read at unit 0 answered last may still begin at ``now``
        (``_broadcast``, ``StrayFrames.second_answer``): one of unit id 0 too, as a gateway
        sends it for unit 0, whose first byte 0x00 is no line's byte then."""
        broadcast = self._broadcast
        return broadcast is not None and now <= broadcast[2]

    def _hold_rest(self, now: float, rest: int, widest: float) -> None:
        """``rest`` bytes of a frame begun (a late answer in an adapter's pieces, a frame
        after an answer in the same piece) are still to come: handed over up to the adapter's
        latency timer after the line carried them, as the rest of an answer in flight is
        waited for (``_arriving``), so no request goes out before (``_piece_hold``; ``widest``:
        the widest gap between the frame's pieces so far)."""
        quiet = now + self.silence_s + rest * self.char_s
        unheld = max(self.quiet_until, quiet)
        self.quiet_until = max(unheld, quiet + self.piece_slack_s)
        self._piece_hold = (self.quiet_until, unheld, now, rest * self.char_s, widest)
        self._upcoming = None

    def _pieces_apart(self, apart_s: float) -> None:
        """A piece of one sound frame came ``apart_s`` after the piece before it and its own
        bytes' time on the wire, later than any before: the port's adapter (an FTDI chip
        whose latency timer sysfs does not tell, a converter that buffers, a serial server)
        or a device that pauses inside its frames may hand the
        rest of a frame over that late, so the rest of a frame begun is waited for that long
        and :data:`~sensord.modbus_timing.PIECE_MARGIN_S` at least, up to
        :data:`~sensord.modbus_timing.MAX_PIECE_SLACK_S`. Logged when that raises the wait."""
        self._pieces_apart_s = apart_s
        slack = min(MAX_PIECE_SLACK_S, apart_s + PIECE_MARGIN_S)
        if slack <= self.piece_slack_s:
            return
        self.piece_slack_s = slack
        # the window starts at the raise: what it sees after is what keeps the wait
        self._window_from = self.answered
        self._pieces_apart_s = 0.0
        if self._lowered:  # lowered too soon: the next window is twice as long
            self._lowered = False
            self._window_answers = min(
                self._window_answers * 2, SLACK_WINDOW_ANSWERS << SLACK_WINDOW_DOUBLINGS
            )
        held = self._errors.check("pieces apart")
        if held is not None:
            self.log.info(
                "frames come in pieces further apart than the wait for their rest",
                pieces_apart_ms=round(apart_s * 1000, 1),
                wait_ms=round(slack * 1000, 1),
                hint=PIECES_APART_HINT,
                suppressed=held,
            )

    def _relax_slack(self) -> None:
        """The wait for a frame's rest was raised above the adapter's (``_pieces_apart``) and
        a whole window of answers (``_window_answers``) has gone since it was raised or last
        looked at: it comes down to the widest spacing of a sound frame's pieces seen in that
        window and :data:`~sensord.modbus_timing.PIECE_MARGIN_S`, to the adapter's own wait
        when none came in pieces further apart than that (a meter that paused once inside its
        answer, a USB hiccup: the rest of a frame cut short holds the line no longer for
        them). Logged when it is lowered; a spacing as wide seen again raises it, as at the
        first, and doubles the window before the next lowering (``_pieces_apart``), so a
        device that pauses now and then keeps its wait rather than having it go up and down."""
        widest = self._pieces_apart_s
        slack = self._adapter_slack_s
        if widest:
            slack = max(slack, min(MAX_PIECE_SLACK_S, widest + PIECE_MARGIN_S))
        self._window_from = self.answered
        self._pieces_apart_s = 0.0
        if slack >= self.piece_slack_s:
            return
        before, self.piece_slack_s = self.piece_slack_s, slack
        self._lowered = True
        self.log.info(
            "frames come in pieces no further apart than a lower wait for their rest",
            answers=self._window_answers,
            pieces_apart_ms=round(widest * 1000, 1),
            wait_ms=round(slack * 1000, 1),
            was_ms=round(before * 1000, 1),
        )

    def _adapter_latency(self) -> None:
        """The slack of the port's adapter as sysfs tells it (:func:`~sensord.port_slack.
        port_slack`: an FTDI chip's ``latency_timer``, 1 to 255 ms, 16 by default, and
        :data:`~sensord.modbus_timing.PIECE_MARGIN_S`; a UART of the board's receive timeout
        and that margin; else ARRIVAL_SLACK_S, with a warning when an FTDI adapter's
        ``latency_timer`` cannot be read or tells no timer), logged with the file when what
        was read changes. Read at each open of a device path, which may be another adapter
        (a replug) or set anew (a udev rule): the pieces seen apart before were the adapter's
        that was there then, and are learnt afresh."""
        slack = port_slack(self.port, self.char_s, network=False, sys_root=self._sys_root)
        self.piece_slack_s = self._adapter_slack_s = slack.slack_s
        self._pieces_apart_s = 0.0
        self._window_from = self.answered
        self._window_answers = SLACK_WINDOW_ANSWERS
        self._lowered = False
        if slack.latency_timer_ms is None and not slack.driver and not slack.unread:
            self._slack_read = None
            return
        if self._slack_read == slack:
            return
        self._slack_read = slack
        wait_ms = round(self.piece_slack_s * 1000, 1)
        if slack.unread:
            self.log.warning(
                "adapter's latency timer not read",
                file=slack.file,
                reason=slack.unread,
                wait_ms=wait_ms,
            )
        elif slack.latency_timer_ms is not None:
            self.log.info(
                "adapter's latency timer read",
                file=slack.file,
                latency_timer_ms=slack.latency_timer_ms,
                wait_ms=wait_ms,
            )
        else:
            self.log.info("port is a UART", device=slack.file, driver=slack.driver, wait_ms=wait_ms)

    def _feed_frames(self, chunk: bytes, flight: _Exchange | None) -> bytes:
        """The frames in ``chunk`` (with what came before it), cut by pymodbus's framing; the
        frame that answered ``flight`` (b"": none)."""
        link = self.link
        tcp = self.transport == "tcp"
        if tcp:
            wrong_lengths, pending = link.wrong_lengths, link.pending_bytes
        try:
            awaited = flight.expected.head if flight is not None and flight.expected.rtu else b""
            responses = link.feed(chunk, awaited, self._owed_heads)
        except Exception as exc:  # a framing bug must not take the daemon down
            link.reset()
            if flight is not None:
                flight.device.counters.errors["crc"] += 1
            held = self._errors.check("framing")
            if held is not None:
                self.log.error("bytes could not be framed", error=repr(exc), suppressed=held)
            return b""
        if tcp:  # what only a Modbus TCP stream needs (see _drop_partial)
            if link.pending_bytes and (responses or not pending):
                self._partial_at = self._clock()  # the frame pending begins in this chunk
            if link.wrong_lengths != wrong_lengths and not self._wrong_length_noted:
                self._wrong_length_noted = True
                self.log.info(
                    "reply's MBAP length field does not match it",
                    units=sorted({response.unit for response in responses}),
                    hint=(
                        "the device or gateway fills in the length wrongly; its replies are "
                        "cut by their function code and byte count instead"
                    ),
                )
        answer = b""
        for response in responses:
            if self.echo.write_copy and self.echo.copy_of_write(response):
                continue
            if flight is not None and self.echo.echo_after_proof(flight, response.frame):
                continue
            if flight is None:  # an answer after its timeout, before the next request
                if self._broadcast is not None and self.stray.second_answer(response):
                    continue
                if not self.stray.late(response) and tcp:
                    self.stray.foreign_between(response)
                continue
            if self.stray.answers(flight, response):
                if response.frame is self.link.swapped_frame and not self._swaps_crc(flight):
                    # no answer: its bytes whole make a frame that ends the exchange as
                    # ``crc`` once the line has been silent after it (``_arriving``)
                    continue
                self._answered(flight, response.frame, response)
                answer = response.frame
                flight = None
        return answer

    def _heard_others(self, flight: _Exchange) -> bool:
        """Bytes that form no reply (another master's request, noise) came while ``flight``
        was in flight or within its device's timeout before its request went out: the frame
        that answered it may answer them. A late answer of a device of the bus, or of one
        that left it, forms a reply and is none of them."""
        return (
            self.link.skipped_bytes != flight.skipped_before
            or self._others_at >= flight.sent_at - flight.device.timeout_s
        )

    def _drop_partial(self, now: float | None) -> None:
        """Drop the start of a frame received, after a timeout (``now`` None) or before a
        request goes out at ``now``. On RTU whatever is on the line then is noise or a reply
        nobody waits for. A TCP stream loses nothing and keeps its order: the rest of a
        reply that has begun comes, and dropping its start would have its rest read as an
        MBAP header, out of step with every reply after it. Over Modbus TCP the start of a
        frame is kept when it can be a reply to a request sent on this connection (its
        transaction id; also one of a device that left the bus since, ``left``): at a
        timeout, and before a request while it began less than that request's device's
        timeout ago. One whose rest has not come by then never will (a gateway that cut it
        short), and kept it would take the first bytes of the next reply."""
        if self.transport == "tcp":
            transaction_id = self.link.pending_transaction_id()
            if transaction_id is None:
                return
            asked = self._asked.get(transaction_id) or self.left.left_of(transaction_id, self._sent)
            if asked is not None and (now is None or now - self._partial_at < asked.timeout_s):
                return
        self.link.reset()
        if self.link.skipped_bytes != self._skipped_told:  # a partial frame was dropped
            flight = self.in_flight
            self._tell_skipped(self._last_asked if flight is None else flight.device)

    def _drain(self, device: _Device, now: float) -> None:
        """On RTU, no request goes to ``device`` until it has been quiet for its timeout from
        ``now``: its answer to a request that timed out may still be on its way, and an RTU
        reply names only its unit and function and the bytes it holds, so a late answer to
        one read arriving during the next read of the same device would pass for that
        read's answer (wrong values). Started when a request to it times out and again at
        each frame of its that arrives unasked; the bus's other devices go meanwhile. Modbus
        TCP needs none: its transaction id names the exchange.

        At a timeout ``now`` is the later of the timeout and the time an answer as late as
        the latest of the device's late ones (the longest, ``_Device.late_s``) comes: a
        device that answers at two or three times its timeout would otherwise be asked again
        before its answer came. When that answer comes, the drain starts again from it and
        ends when it would have all the same; only when none comes is the device held longer
        (at most :data:`LATE_DRAIN_TIMEOUTS` timeouts). That lateness is kept while the bus
        runs: answers in time, however many, tell nothing of how late the device's next late
        answer comes, and a drain shorter than it would take that answer for the next read's.
        A device that never answered late, a healthy one, waits nothing more. Before the
        first of its answers that comes late, none is known: one later than twice its timeout
        comes during its next exchange, and is told from that exchange's answer by the
        requests it owes (``StrayFrames._owed_first``).

        A rule on timing alone (a reply read sooner after its request than both take on the
        wire is not its answer) was not chosen: it holds only where the configured baud
        rate is the line's and the line has a wire time (not behind a serial server whose
        settings differ, not on a pseudo-terminal), and where it does not hold it refuses
        every answer of a device, while the drain costs only the device's own wait."""
        if self.transport == "rtu":
            device.drain_until = now + device.timeout_s
            self._upcoming = None

    def _answered(self, flight: _Exchange, frame: bytes, response: Response | None) -> None:
        """The reply ``frame`` answers ``flight``: checked and complete (``response`` None),
        or cut by the link and still to be checked for an exception and its length."""
        now = self._clock()
        self.in_flight = None
        self._upcoming = None
        if flight.transaction_id:
            self._asked.pop(flight.transaction_id, None)
            self.stray.took(flight.transaction_id, flight.device)
        # a gateway serves its requests in order: answering this one, it is done with any
        # that timed out before it, and the next timeout waits behind none of them
        self._timed_out_id = 0
        device = flight.device
        device.closed_on = None
        tries, device.busy_tries = device.busy_tries, 0
        self.quiet_until = now + self.silence_s + device.gap_s
        if (
            self._line_echoes
            and not flight.expected.write
            and flight.echoed != len(flight.request)
            and self.link.skipped_bytes == flight.skipped_before
        ):
            # a read answered with nothing before its answer: the line echoes no more (an
            # adapter whose echo was switched off, a serial server's line moved to another
            # adapter, the port left open): a write's copy of its request is its answer again
            self._line_echoes = False
        if not device.unit and flight.expected.rtu:
            # a read at unit 0: another device's answer to it may follow, begun within its
            # timeout (``StrayFrames.second_answer``)
            until = flight.sent_at + self.request_wire_s + device.timeout_s + self.piece_slack_s
            self._broadcast = (flight, frame[0], until + flight.expected.size * self.char_s)
        # (a read's answer is no write's copy: no call on the reads' path)
        copied = flight.expected.write and self.echo.write_copied(flight, frame, now)
        counters = device.counters
        self.answered += 1
        self._silent_spell = 0  # the connection works: its next silence starts afresh
        expected = flight.expected
        if response is not None and response.exception_code in GATEWAY_NO_ANSWER:
            # the gateway answered for a device that did not: not a transaction of the
            # device, and its round trip is the gateway's timeout, not the device's
            code = response.exception_code
            if not expected.write:  # (a write's is told by ``DeviceReads.unanswered``)
                device.refusals.exception(expected, code, now, None)
            self.reads.unanswered(device, now, GATEWAY_NO_ANSWER[code], expected)
            return
        if not copied:  # (counted once it is known to be the answer: ``LineEcho.copy_settled``)
            counters.transactions += 1
            counters.observe_rtt(now - flight.sent_at)
        if device.probe_answered and expected is device.reads[0]:
            # answered (or refused, or spoilt): it takes a read that long
            device.probe_answered = False
            device.probe_misses = 0
        if device.timeouts_in_row == 0:  # its answer before came in time too
            device.owed = 0
            if device.owed_requests:
                self.owes(device, None)
        else:  # a read asked again (retried) was asked after a timeout
            device.timeouts_in_row = 0
            device.retried = 0
        device.other_unit = -1
        device.other_unit_at_0 = ""
        device.answered_other = device.answered_other_row = -1
        device.answered_other_run = 0
        device.other_function = -1
        device.late_in_row = 0
        device.foreign_in_row = 0
        if counters.down:
            counters.down = False
            device.retry.succeeded()
            device.next_due = now + device.interval_s
            # told by the device's state line, which a device that keeps going down and
            # answering again (a battery-powered one) has once a minute
            device.sensor.device_up(device.unit)
            if device.writes and not expected.write:
                # it may have restarted meanwhile: set up again before its next read
                device.unwritten = list(device.writes)
                device.write_polls.clear()
                device.late_writes.clear()
                device.late_refusals.clear()
                device.pending[0:0] = device.unwritten
            self.reads.at_every_poll(device)  # (it may have restarted with another map)
        long = False
        if response is not None:
            code = response.exception_code
            # (a write answered 0x05 was taken: ``DeviceReads.written``)
            if (
                code in BUSY
                and tries < device.busy_retries
                and not (expected.write and code == ACKNOWLEDGE_CODE)
            ):
                device.busy_tries = tries + 1
                device.busy_waited = True
                device.pending.insert(0, expected)
                device.hold_until = now + device.busy_wait_s
                device.refusals.busy(code, now)
                return
            if expected.write:
                self.reads.written(device, expected, code, frame, copy=copied)
                return
            if code:
                before = expected in device.answered_reads
                parts = (
                    self.reads.split(device, expected)
                    if code in SPLIT_ON and self.reads.split_refused(device, expected, before)
                    else None
                )
                device.refusals.exception(expected, code, now, parts, answered_before=before)
                if code in SPLIT_ON and parts is None and not split(expected.read):
                    self.reads.refused_alone(device, expected, now)
                return
            # (its transaction id is the request's, or 0 from a device that answers so; on
            # RTU a frame of another unit id answers a read at unit 0,
            # ``StrayFrames._answers_broadcast``; its CRC the link checked, the standard one
            # or, marked, high byte first)
            if not (
                expected.fits(frame, response.transaction_id)
                and (frame is not self.link.swapped_frame or self._note_swapped_crc(device))
            ) and not (expected.rtu and response.unit != expected.unit):  # its count or length
                # the values asked for are read from the front of a long answer
                # (``DeviceReads.long``), unless bytes nobody asked for came with it
                long = len(frame) > expected.size and self.reads.long(
                    device, expected, response, self._heard_others(flight)
                )
                if not long:
                    counters.errors["length"] += 1
                    if len(frame) < expected.size:
                        self.reads.short(device, expected, len(frame))
                    elif expected.rtu and len(frame) == expected.size:
                        self._miscounted(device, frame[2], expected.head[2])
                    return
        elif expected.write:
            self.reads.written(device, expected, 0, frame, copy=copied)
            return
        device.short.pop(expected, None)
        device.answered_reads.add(expected)
        device.sound_answers += 1
        if frame is not self.link.swapped_frame:  # its CRC the standard one
            device.swapped_in_row = 0
        if device.reads and expected is device.reads[0]:
            self.reads.woken(device, expected is device.second_chance)
        if device.refused_in_row:
            device.refused_in_row.pop(expected, None)
        if device.refused_alone:
            self.reads.answered(device, expected)
        if expected is device.probe:
            # the device answers a read of one value: its first read is asked whole again
            # at once, and split if that goes unanswered twice running (``DeviceReads.unanswered``)
            device.probe = None
            device.probe_answered = True
            device.pending = [*device.unwritten, *device.reads]
        if device.long and not long:
            device.long.pop(expected, None)
        if counters.refused:  # empty unless the device refuses a read
            device.refusals.answered(expected, now)
        if counters.silent:  # empty unless the device left a read unanswered
            counters.silent.pop(expected, None)
        try:
            pairs = expected.pairs(frame)
        except ParseError as exc:  # values the device marks as not available
            device.sensor.take_exchange(flight.request + frame, exc.kept, exc)
            return
        device.sensor.take_exchange(flight.request + frame, pairs)

    def _miscounted(self, device: _Device, sent: int, expected: int) -> None:
        """``device`` answered a read whole, with a right CRC, but the byte count ``sent``
        where the read's is ``expected`` (counted as ``length``): logged, once a minute per
        device at most."""
        held = self._errors.check(f"byte count:{device.sensor.name}")
        if held is not None:
            device.sensor.log.warning(
                "answer's byte count does not match its read",
                unit=device.unit,
                byte_count=sent,
                expected=expected,
                hint=(
                    "the answer is as long as the read asks and its CRC holds, but it says "
                    "it holds another number of bytes: the device's firmware writes the count "
                    "wrongly (some count registers, not bytes); its values are not read"
                ),
                suppressed=held,
            )

    def _swaps_crc(self, flight: _Exchange) -> bool:
        """The reply awaited by ``flight`` came whole but for its CRC, which holds high byte
        first (the link takes it so for the reply awaited only: ``crc_swapped``): the answer
        of a device whose firmware swaps its CRC's bytes, unless the device's sound answers
        came with the standard CRC, low byte first. From such a device it is a spoilt frame
        whose bytes hold the swapped CRC by chance (1 in 65536 of them, as many as those whose
        standard CRC holds by chance), no answer: a firmware swaps its CRC in every answer or
        in none (a Marstek Venus E, evcc-io/evcc issue 18653; a UUMotor SVD48V, libmodbus
        issue 812); but :data:`SWAPPED_CRC_RUN` of them in a row, no standard CRC between, are
        the answers of a firmware or device that swaps it now. Counted here, from the
        link's mark (``ModbusLink.swapped_frame``), with no CRC computed again."""
        device = flight.device
        device.swapped_in_row += 1
        return (
            device.swapped_answers == device.sound_answers
            or device.swapped_in_row >= SWAPPED_CRC_RUN
        )

    def _note_swapped_crc(self, device: _Device) -> bool:
        """The device's answer is whole but for its CRC, high byte first (the link takes it
        so for the reply awaited only, the bus from a device that swaps it, ``_swaps_crc``):
        read, and logged once a run for the device. True."""
        device.swapped_answers += 1
        if device.sensor.name not in self._swapped_crcs:
            self._swapped_crcs.add(device.sensor.name)
            device.sensor.log.info(
                "device sends its CRC high byte first",
                unit=device.unit,
                hint=(
                    "its firmware swaps the CRC's bytes (the standard sends the low byte "
                    "first); its answers are read all the same, checked against the CRC so"
                ),
            )
        return True

    def _cut(self, device: _Device, flight: _Exchange) -> None:
        """``flight``'s answer began and was cut off at its timeout, and the rest of the
        device's answer before it did not come late either: some gateways and serial servers
        pass no more than so many bytes of an answer (a USR-W610 cuts answers of more than 8
        registers) and drop the rest. Cut at the same length twice running, the read is split as
        a read answered short is (``DeviceReads.short``); a cut that moves is a device pausing
        inside its answers or noise, and is left to the timeout's hint, as is one whose rest
        comes late (``StrayFrames.late`` forgets the cuts of the device then)."""
        expected = flight.expected
        if self.transport == "tcp":
            received = self.link.pending_bytes
        else:
            received = 0 if flight.starts is None else flight.starts.begun_bytes()
        self.reads.short(device, expected, received, cut=True)

    def _missed(self, device: _Device, polls: int) -> None:
        """``device`` fell a whole interval behind and skips ``polls`` polls: counted, and
        logged (rate-limited per device) with what takes the line's time."""
        device.counters.polls_missed += polls
        held = self._errors.check(f"missed:{device.sensor.name}")
        if held is not None:
            device.sensor.log.warning(
                "polls missed: the bus had no time for them",
                missed=polls,
                interval_s=device.interval_s,
                suppressed=held,
                hint=MISSED_POLLS_NETWORK_HINT
                if self._address.kind == "network"
                else MISSED_POLLS_HINT,
            )

    def _timed_out(self, flight: _Exchange, now: float, *, closed: bool = False) -> None:
        """``flight`` got no answer by its deadline (``closed``: its connection was closed
        instead, each time it was asked, see ``disconnect``).

        Over Modbus TCP a gateway serves one request at a time, in order: while the request
        before this one, which timed out, has not been answered yet, nor any sent after it
        (the gateway still waits for its device, up to its own response timeout; an answer
        to a later request shows it has given up), this one waits in the gateway's queue,
        also when that request's device has left the bus since (``left``). Its wait then
        starts again, once; and each late reply that arrives meanwhile starts it again too
        (``StrayFrames.answers``), so a dead unit behind a gateway that answers 0x0B only after
        a timeout longer than sensord's does not time out the units asked after it."""
        if flight.reply == ARRIVING and flight.expected.rtu:
            codeless = self.link.codeless_exception(flight.expected.exception_head)
            if codeless is not None:
                # a refusal whose code byte the device leaves out: its answer, not cut off
                self._answered(flight, codeless.frame, codeless)
                return
        if flight.reply != NOTHING:  # an answer began: the device takes a read that long
            flight.device.probe_answered = False
            flight.device.probe_misses = 0
        if flight.reply == SPOILT:
            self._spoilt(flight, now)
            return
        if self.transport == "tcp":
            before = self._timed_out_id
            behind = before in self._asked or self.left.left_of(before, self._sent) is not None
            if not flight.waited_behind and behind and not closed:
                flight.waited_behind = True
                flight.deadline = now + flight.device.timeout_s
                return
            self._timed_out_id = flight.transaction_id
        device = flight.device
        counters = device.counters
        counters.timeouts += 1
        self._answer_may_wait = True
        device.timed_out_sent_at = flight.sent_at
        self._not_heard(flight.sent_at)
        self.echo.drop_held_echo(flight)
        # over Modbus TCP, the start of a reply whose rest has not come yet
        pending = self.link.pending_transaction_id()
        why = CLOSED_ON_REQUEST_HINT if closed else NO_ANSWER_HINT[self.transport]
        other = device.answered_other
        if other >= 0 and other == device.answered_other_row:
            device.answered_other_run += 1
        else:
            device.answered_other_row = other
            device.answered_other_run = 1 if other >= 0 else 0
        device.answered_other = -1
        other = device.other_unit
        at_0 = device.other_unit_at_0
        if device.timeouts_in_row and other != device.other_unit_row:
            other = -1
        elif device.timeouts_in_row:
            at_0 = at_0 or device.other_unit_at_0_row
        device.other_unit_row = other
        device.other_unit_at_0_row = at_0 if other >= 0 else ""
        function = device.other_function
        if device.timeouts_in_row and function != device.other_function_row:
            function = -1
        device.other_function_row = function
        if flight.reply == ARRIVING or pending == flight.transaction_id:
            counters.errors["truncated"] += 1  # the device began to answer and was cut off
            # the rest of its answers came after their timeout (a device that pauses inside
            # its answer): its line settings are right, and a longer timeout takes them
            why = LATE_ANSWER_HINT if device.late_in_row else SPOILT_ANSWER_HINT[self.transport]
            if not device.late_in_row:  # nor did the rest of its answer before come
                self._cut(device, flight)
        elif pending in self._asked or self.left.left_of(pending, self._sent) is not None:
            pass  # the rest of another request's late reply is still to come
        elif (
            self.link.pending_bytes + self.link.skipped_bytes - flight.skipped_before
            > flight.pending_before
        ):
            # bytes that make no frame came in the exchange (not only those held when it
            # began: a stray byte after the reply before it): on RTU nothing like the
            # device's answer began (that would be ``truncated``, or ``crc`` when whole, see
            # ``_arriving``), so they are line noise, the bus's skipped bytes, and the
            # exchange only its timeout; over Modbus TCP, where no line adds noise, they are a
            # spoilt answer
            if not flight.expected.rtu:
                counters.errors["crc"] += 1
            device.probe_answered = False
            device.probe_misses = 0
            why = SPOILT_ANSWER_HINT[self.transport]
            came = self.link.pending_bytes + self.link.skipped_bytes - flight.skipped_before
            echo = came - flight.pending_before - flight.glitched
            if flight.echoed == len(flight.request) == echo:
                # the request's echo (after a transceiver's glitch, if any), and nothing after it
                why = ECHO_NO_ANSWER_HINT
        elif device.other_function_row >= 0:
            # a sound frame of its unit id came each time, of another table's read
            asked = flight.read.function_code
            why = OTHER_FUNCTION_HINT.format(
                got=function,
                got_table=TABLE_OF_FUNCTION[function],
                asked=asked,
                asked_table=TABLE_OF_FUNCTION.get(asked, flight.read.table),
            )
        elif device.other_unit_row >= 0 and not counters.transactions:
            # only such frames came for it, each time, and it never answered as its unit id
            why = OTHER_UNIT_HINT.format(other=device.other_unit_row)
            if device.other_unit_at_0_row:
                why += OTHER_UNIT_AT_0_HINT.format(
                    other=device.other_unit_row, sensor=device.other_unit_at_0_row
                )
        elif device.late_in_row:
            why = LATE_ANSWER_HINT
        elif device.late_gateway_code:
            why = LATE_GATEWAY_HINT[device.late_gateway_code]
        elif device.foreign_in_row:
            why = FOREIGN_TRANSACTION_HINT
        if why in (NO_ANSWER_HINT[self.transport], SPOILT_ANSWER_HINT[self.transport]):
            why = self._text_hint(device, now) or why
        if (
            why == NO_ANSWER_HINT["tcp"]
            and self._network
            and self.answered == self._answers_at_open
            and not device.connect_delay_s
        ):
            why = FRESH_CONNECTION_HINT
        device.other_unit = -1
        device.other_unit_at_0 = ""
        device.other_function = -1
        device.late_in_row = 0
        device.late_gateway_code = 0
        device.foreign_in_row = 0
        if not flight.paid_owed:  # (else the frame taken late was this one's answer or none)
            device.owed = min(device.owed + 1, DOWN_AFTER_TIMEOUTS)
            self.owes(device, flight.expected)
        if flight.reply != ARRIVING:
            # the start of an answer is kept: when its rest comes after the pause the device
            # made inside it, it is a late answer (the next request drops it)
            self._drop_partial(None)
        self.in_flight = None
        self._upcoming = None
        self.quiet_until = now + self.silence_s + device.gap_s + self._held_s(device)
        self._drain(device, max(now, flight.sent_at + device.late_s))
        self.reads.unanswered(device, now, why, flight.expected)

    def _not_heard(self, sent_at: float) -> None:
        """A request sent at ``sent_at`` went unanswered (it timed out, or the connection did
        not take it): counted towards the connection's silence (network ports only)."""
        if self._network:
            if not self._unheard:
                self._unheard_since = sent_at
            self._unheard += 1

    def _check_silence(self, now: float) -> bool:
        """True when the connection was closed to be opened again because it has carried no
        byte while :data:`SILENT_RECONNECT_REQUESTS` requests or more went unanswered, the
        first of them sent at least the longest ``stale_after`` of the devices ago and at
        least that many of their longest timeouts (see the module docstring). Checked
        between exchanges. It is opened again with the bus's backoff: afresh when an answer
        came since the last such reconnect, growing while none come (a gateway whose devices
        are all gone is reconnected at most every ``max_delay_s`` plus the silence, not
        hammered; a serial server's banner on each connect is no answer). Logged as a warning
        when an answer came since the last one, else at info."""
        if self.in_flight is not None or not self.devices:
            return False
        devices = self.devices.values()
        longest_timeout_s = max(device.timeout_s for device in devices)
        limit_s = max(
            SILENT_RECONNECT_REQUESTS * longest_timeout_s,
            *(device.stale_after_s for device in devices),
        )
        silent_s = now - self._unheard_since
        if silent_s < limit_s:
            return False
        unanswered = self._unheard
        reason = (
            f"no answer on the connection for {silent_s:.1f} s ({unanswered} requests): "
            "reconnecting"
        )
        self._silent_spell += 1
        self._close_source()
        self._idle_closed = set(self.devices)
        self._after_silence = True
        if self._silent_spell == 1:
            self.retry.succeeded()  # answered since it was last reopened: a fresh start
        delay = self.retry.failed(now)
        self.state = "down"
        fields: dict[str, Any] = {
            "error": reason,
            "sensors": sorted(self.devices),
            "reconnect_in_s": round(delay, 3),
        }
        self._silence_logged = log_silent_reconnect(
            self.log,
            self._errors,
            self._silent_spell,
            "the gateway or serial server takes requests and answers none (a stuck session, "
            "or every device behind it gone); a new connection is how a stuck gateway recovers",
            fields,
        )
        for device in devices:
            device.sensor.bus_silent(reason)
        return True

    def _held_s(self, device: _Device) -> float:
        """How long the connection stays quiet after a request to ``device`` timed out, on
        top of the silence and its ``gap_s``: over Modbus TCP its timeout once more, since a
        gateway may still be waiting for the device (and would queue the next request
        behind it); a late reply to it ends that wait (``StrayFrames.late``), unless the
        request of a device that left (``left``) went out after it and waits there too.
        Nothing on RTU."""
        return device.timeout_s if self.transport == "tcp" else 0.0

    def _spoilt(self, flight: _Exchange, now: float) -> None:
        """The device answered ``flight`` with a frame of the reply's length whose CRC does
        not match, and the line has been silent since: the exchange ends, counted as ``crc``.
        The device did answer, so it is neither a timeout nor a step towards down (a device
        whose every answer is spoilt goes stale: no readings), and the rest of its poll goes
        on once its ``gap_s`` has passed. A device that is down stays down and is retried at
        its backoff, as after a timeout: a spoilt answer does not bring it back, nor does it
        get a request at every gap of the bus."""
        device = flight.device
        device.counters.errors["crc"] += 1
        device.busy_tries = 0
        if device.counters.down:
            device.pending.clear()
            device.retry.failed(now)
        self.link.reset()
        self.in_flight = None
        self._upcoming = None
        self.quiet_until = now + device.gap_s
