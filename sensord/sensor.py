"""One sensor at run time: its source, framing, parser, channel chains, state and counters.

A ``SensorRuntime`` is driven by the reader loop (``sensord.reader``), always from one thread:
the loop hands it bytes (``feed``), asks it to open its source (``try_open``) and tells it
the time (``tick``) for polling and staleness. HTTP threads only read its counters and its
``snapshot()``.

States::

    opening --open ok--> up --no frame for stale_after_s--> stale --frame--> up
       ^                  |                                   |
       |              read error / stage error            read error
       |                  v                                   v
       +---- backoff ---- down <------------------------------+

``simulated`` is a flag, not a state: a simulated sensor goes through the same states.
A network port's connection (not a bus's) that ends while the sensor is stale, or that is
dropped for its silence, is opened again with the sensor still stale: down only when that
open fails (``disconnect``, ``_check_silence``).

The dialogue with the device (set-up commands written on every connect, their
acknowledgements, set-up re-runs while the port stays open, polls) is the sensor's
``Dialogue`` (``sensord.dialogue``), which the sensor calls at a few points: ``opened``,
``tick``, ``feed`` while a set-up command's reply is awaited, when frames come,
``check_stale``, ``next_deadline``, and ``snapshot`` for its counters.

The frames its parser rejects are counted and told of (the ``frame rejected`` warnings, their
hourly summary, ``no reading: every frame rejected`` and its ``/status`` hint) by the sensor's
``FrameRejects`` (``sensord.rejects``), which the sensor calls when a frame is rejected, at
its tick (``check_stale``) and when its state changes.

Six more jobs are objects the sensor asks, none of them on the path of a chunk but for the
first frame after a stale spell: when a port that failed is tried again and which failed opens
are logged (``ReopenWatch``, ``OpenFailures``: ``sensord.reopen``, shared with a bus's port),
at ``try_open``, ``open_failed`` and ``disconnect``; how its network connection ended and what
that makes of the opens after it (``ConnectionEnds``: ``sensord.connection``), at ``open_failed``,
``opened``, ``disconnect`` and ``tick``, and how long it has carried no byte, with the
reopens in a row while stale (``SilentConnection``, beside it), at ``opened``, ``tick`` and
``disconnect``; why its state flaps (``StateFlapping``: ``sensord.flapping``), at each
state change; of an NMEA receiver, whether it has a fix (``FixWatch``: ``sensord.fix``), at
its housekeeping (``remind``), its opens and ``snapshot``; which of its channels publish
nothing while it is up, every reading dropped by the filter or none read (``FilterWatch``,
``UnreadWatch``: ``sensord.watches``), at its ticks and housekeeping; and whether its
device's frames come on a steady period longer than ``stale_after_s``, the hint it keeps for
the next stale spell (``SteadyPauses``: ``sensord.pauses``), as a frame ends a stale spell, as
it goes stale and at its opens.

When the readings of a device just powered, restarted or woken are published, and the quiet hold
of the first answers of a run of a device polled on a working period, are the sensor's
``WarmUp`` (``sensord.warm_up``), which it asks at its opens (``opened``, ``bus_opened``), when a
reload replaces it on the same device (``carry_warm_up``), after a silence (``_silence_ended``,
which asks ``SilenceEnd``, ``sensord.sensor_silence``, whether the device lost its supply or
slept in it), at its tick (``check_stale``) and when the dialogue calls (``woken``,
``streams_anew``, ``run_began``, ``on_working_period``); on the path of a chunk the sensor only
compares the chunk's time with the warm-up's end (``WarmUp.until``) and counts the frames it
holds back.
A device whose frames tell its boot (a frame spec's ``boot_bytes``) has its restarts behind the
open port told by ``DeviceBoots`` (``sensord.boots``, loaded by a sensor of binary frames),
which starts the warm-up again and has the dialogue write the set-up again once the device is
up; the sensor asks it of a frame that publishes nothing (while warming up, or one without
values), at its opens, its tick and when the dialogue finds a spoilt answer of a boot
(``spoilt_boot``).

What it reads, its port, the simulation of its device or a capture's replay, is built at each
open by ``make_source`` (``sensord.sensor_source``, with the choice of a simulation at its
start, ``wants_simulation``). Its channels (``ChannelRuntime``), their chains, and which
changes of its configuration it takes with the port open (``retunes_to``, then ``retune``) are
``sensord.sensor_channels``'s. Why a stale sensor reads no frame, the hint it keeps for
``/status`` and logs, is read by ``silence_since`` (``sensord.stale_hints``). Its figures at
one moment, the read model ``/metrics`` and ``/status`` render, are gathered by
``sensor_snapshot`` (``sensord.sensor_snapshot``), which ``snapshot`` calls between two chunks.
The first bytes after an open, which may be the tail of a line or frame the open cut, are
``FirstBytes``'s (``sensord.sensor_first_bytes``), which ``feed`` asks only while the sensor's
own flags say its first line or frames are to come. The values a Modbus device's reads leave
out, withheld by its status or never measured, are ``WithheldValues``'s
(``sensord.sensor_withheld``), which ``take_exchange`` asks of a read that left values out or
while a fault withholds some.
"""

from __future__ import annotations

import contextlib
import functools
import math
import random
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import structlog

from sensord.capture import DEFAULT_RING_BYTES, CaptureJournal, CaptureRing
from sensord.config_sensor import SensorConfig
from sensord.connection import (
    ENDED_IDLE_HINT,
    ENDED_UP_HINT,
    HUNG_UP_AT_ONCE_S,
    SILENT_REOPEN_STALE_FACTOR,
    ConnectionEnds,
    SilentConnection,
)
from sensord.errors import (
    ACK_ERROR_REASONS,
    PARSE_ERROR_REASONS,
    ParseError,
    PortCloseError,
    SourceError,
)
from sensord.fix import FixWatch
from sensord.flapping import StateFlapping
from sensord.formats import codec_for
from sensord.formats.base import Decoder, DecoderCounts, FormatSpec, Framer
from sensord.log import (
    RateLimiter,
    shown,
)
from sensord.pauses import SteadyPauses
from sensord.rejects import FrameRejects
from sensord.reopen import (
    PROVEN_AFTER_S,
    OpenFailures,
    ReopenWatch,
    as_source_error,
    device_absent,
)
from sensord.retry import Backoff, Retry
from sensord.sensor_channels import ChannelRuntime, new_channel, retunes_to
from sensord.sensor_first_bytes import FirstBytes
from sensord.sensor_silence import SilenceEnd
from sensord.sensor_snapshot import add_step, sensor_snapshot
from sensord.sensor_source import log_simulated_absent_device, make_source, wants_simulation
from sensord.sensor_withheld import WithheldValues
from sensord.shared_port import SharedPortWatch
from sensord.snapshot import SensorSnapshot, StepSnapshot
from sensord.sources.base import Source
from sensord.sources.echo import EchoCounts
from sensord.sources.serial_port import SerialSource
from sensord.stage import StepTimer
from sensord.stale_hints import silence_since
from sensord.uart import LineErrors
from sensord.warm_up import WarmUp
from sensord.watches import FilterWatch, UnreadWatch

if TYPE_CHECKING:  # loaded by the sensors that use them
    from sensord.boots import DeviceBoots
    from sensord.dialogue import Dialogue
    from sensord.formats.blocks import BlockFramer
    from sensord.formats.frames import FrameFramer
    from sensord.modbus_state import ModbusCounters, ModbusMark

__all__ = [
    "HEARD_BYTES",
    "STATES",
    "SensorRuntime",
]

STATES = ("opening", "up", "stale", "down", "stopped")

#: The most bytes read after a poll request that the sensor holds for its dialogue (``heard``):
#: one more than the longest spoilt answer it checks (a PMS5003ST's 40-byte frame, a start
#: byte damaged, the longest frame of the presets; an MH-Z19's is 9), so that the whole of
#: such an answer is checked and more bytes than an answer are told from one (an answer
#: spoilt as the device's supply falls, the ``00`` bytes of its TX line held low after it: no
#: answer).
HEARD_BYTES = 41


def _frame_framer(framer: Framer) -> FrameFramer | None:
    """``framer`` when it is a binary framer (``sensord.formats.frames``, loaded by then)."""
    from sensord.formats.frames import FrameFramer  # noqa: PLC0415  (loaded by a sensor of binary frames)

    return framer if isinstance(framer, FrameFramer) else None


def _weakly(method: Callable[[], Sequence[bytes]]) -> Callable[[], Sequence[bytes]]:
    """``method``, a sensor's, called through a weak reference to its sensor: what the
    sensor's own parts hold (its rejects) keeps no cycle back to it, so a sensor removed at
    a reload is freed with its last reference; () once the sensor is gone."""
    held = weakref.WeakMethod(method)

    def call() -> Sequence[bytes]:
        bound = held()
        return () if bound is None else bound()

    return call


def _block_framer(framer: Framer) -> BlockFramer | None:
    """``framer`` when it is a framer of checked blocks (``sensord.formats.blocks``, loaded by
    then)."""
    from sensord.formats.blocks import BlockFramer  # noqa: PLC0415  (loaded by a sensor of blocks)

    return framer if isinstance(framer, BlockFramer) else None


#: A sensor that stays down or stale is logged again each time it has been so for this much
#: longer (``SensorRuntime.remind``): a journal read hours into a fault that lasts days still
#: shows it, not only the one line of its start.
STILL_BAD_EVERY_S = 3600.0

#: How long ``SensorRuntime.snapshot`` waits at most for the reader thread to finish the chunk
#: it takes (a chunk takes well under a millisecond; the reader may wait for the interpreter or
#: the CPU) before it reads the figures as they stand.
SNAPSHOT_WAIT_S = 1.0


log = structlog.get_logger("sensord.sensor")


class SensorRuntime:
    """See the module docstring."""

    def __init__(
        self,
        config: SensorConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        source_factory: Callable[[SensorConfig], Source] | None = None,
        rng: random.Random | None = None,
        capture_ring_bytes: int = DEFAULT_RING_BYTES,
    ) -> None:
        self.config = config
        #: the port's most recent raw bytes, received and sent (``[capture] ring_bytes``)
        self.capture = CaptureRing(capture_ring_bytes)
        #: where ``feed`` puts its chunks for the ring, if anywhere but the ring itself (the
        #: reader's journal, see ``use_journal``), and that journal's ``add`` while the ring
        #: keeps anything
        self._journal: CaptureJournal | None = None
        self._to_journal: Callable[[tuple[CaptureRing, bytes, float]], None] | None = None
        #: the kernel's line error counters of a device port, read in the housekeeping tick
        self.line = LineErrors()
        #: whether another process has the port open too (searched by the reader)
        self.shared_port = SharedPortWatch(log.bind(sensor=config.name))
        #: another port of the reader reached the network peer its port (or bus) reached, in
        #: this run (set by the reader, ``reader_peers.SharedPeers``)
        self.peer_shared = False
        #: ``rejects.damaged`` at the port's open: one more is trouble for ``shared_port``
        self._damaged_at_open = 0
        #: the bus's port while it is open (a device on a bus has no source of its own: the
        #: devices of a bus share their port's line error and echo counts)
        self._bus_source: Source | None = None
        #: what ``serial.local_echo`` dropped, across the opens of the port (None: off)
        self.local_echo = EchoCounts() if config.serial.local_echo else None
        self.name = config.name
        self._stale_after_s = config.stale_after  # computed from several keys: once
        self._clock = clock
        self._wall = wall_clock
        # The choice between device and simulation is made once, when the sensor starts: a
        # device that is unplugged later is reopened, never replaced by a simulation.
        self.simulated = wants_simulation(config)
        #: a test's own source; else ``make_source`` at each open, with ``simulated`` as it
        #: is then (a reload's ``carry_device`` may set it before the first)
        self._source_factory = source_factory
        #: the memory of the simulated device that outlives its reconnects (an SDS011's
        #: settings, which its flash keeps), shared by the device made at each open
        self.simulated_flash: dict[str, int] = {}
        self.log = log.bind(sensor=self.name)
        self._errors = RateLimiter(60.0, clock)
        #: the state lines: each change, or once a minute while the state flaps, and why it
        #: flaps (``sensord.flapping``)
        self._flapping = StateFlapping(clock)
        self._changes = self._flapping.changes
        #: failed opens: logged when the error is new, else at doubling intervals
        self._open_errors = OpenFailures(clock)
        #: reopen attempts after a failed open or a lost port: exponential backoff, jittered
        #: (without ``rng``, by the generator every retry shares: a Mersenne Twister's state
        #: is 2.5 KiB, a sensor's own would cost that much for a few draws a day)
        self.retry = Retry(
            Backoff(config.reconnect.initial_delay_s, config.reconnect.max_delay_s), rng
        )
        self._reopen = ReopenWatch(config.address)
        #: when the reader's timers next need the port (``Reader._service_timers``)
        self.timers_at = 0.0

        codec = codec_for(config.format)
        spec = config.format_spec()
        #: what the parser counts of the frames it reads (NMEA sentences without checksum)
        self.decoder_counts = counts = DecoderCounts()
        #: a fresh parser: built again at each open, so that nothing of a connection's frames
        #: (an NMEA GSV group or run of GSA sentences under way) is joined to the next one's;
        #: it holds no reference to the sensor (a removed sensor goes without the collector)
        self._new_parser: Callable[[], Decoder] = lambda: codec.sensor_decoder(
            spec, wall_clock, counts
        )
        self.parser = self._new_parser()
        self.framer = codec.framer(spec, config.terminator, config.max_frame_bytes)
        #: a binary framer, whose rejected candidates are told of in the log (``rejects``);
        #: None for the other formats' framers
        self._frame_framer = _frame_framer(self.framer) if spec.format == "frames" else None
        if self._frame_framer is not None and config.preset is not None:
            from sensord.formats.frames import PRESET_REJECTED_ADVICE  # noqa: PLC0415  (loaded by a sensor of binary frames)
            from sensord.formats.presets import reads_preset_frame  # noqa: PLC0415  (loaded by a sensor with a preset)

            if reads_preset_frame(config.preset, spec.frame):
                self._frame_framer.rejected_advice = PRESET_REJECTED_ADVICE
        #: each stage's latency sampler (``instrument``), for the chains ``retune`` builds
        self._timer_for: Callable[[str], StepTimer] | None = None
        self.channels = {ch.name: new_channel(ch, self._timer_for) for ch in config.channels}
        #: the counters of the chains ``retune`` replaced, by step, and the readings their
        #: first stages took: the sensor's counters go on from them
        self._retired_steps: dict[str, StepSnapshot] = {}
        self._readings_retired = 0
        #: the channels every reading of which their filter drops (``sensord.watches``)
        self._filter_watch = FilterWatch(self.log, clock)
        self._read_channels(spec)

        self.source: Source | None = None
        self.state = "opening"
        self.state_since = clock()
        #: when a sensor still down or stale is logged again (``remind``)
        self._remind_at = self.state_since + STILL_BAD_EVERY_S
        #: a receiver's fix as housekeeping judges it, lost and regained (``sensord.fix``)
        self._fix_watch = FixWatch(counts, self.log, clock, self.state_since)
        #: the channels that have had no value while it published (``sensord.watches``)
        self._unread = UnreadWatch(self.log, self.name)
        self.retry.next_at = clock()
        self._last_error = ""
        self._last_error_at: float | None = None
        #: while stale: why no frame comes, as the framer reads the bytes since the last one
        #: (``/status``); its input: ``bytes_read`` when it was last read, and when next
        self.stale_hint: str | None = None
        self._hinted_bytes = 0
        self._hint_again_at = 0.0
        #: frames and fields the parser rejected, by reason (``snapshot`` adds the framer's
        #: rejections and the readings the stages drop)
        self.parse_errors: dict[str, int] = dict.fromkeys(PARSE_ERROR_REASONS, 0)
        #: the frames the parser rejects: counted in ``parse_errors``, and told of in the log
        #: and, while every frame is rejected, in ``/status`` ``hint`` (``sensord.rejects``)
        self.rejects = FrameRejects(
            log=self.log,
            errors=self._errors,
            clock=clock,
            framer=self.framer,
            counts=counts,
            parse_errors=self.parse_errors,
            port=config.port,
            stale_after_s=self._stale_after_s,
            status_byte=spec.frame is not None and spec.frame.status_offset is not None,
            binary=codec.binary,
            sentences=config.format == "nmea",
            requests=_weakly(self._poll_requests),
        )
        #: a binary protocol's frames are logged in hex
        self._binary = codec.binary
        self.last_frame_at: float | None = None
        #: the last frame of an earlier connection (``last_frame_at`` is this one's): the
        #: snapshot's last frame age goes on from it across a reopen, not "never"
        self._frame_before_open: float | None = None
        self._opened_at = clock()
        #: when the port last opened, and the readings taken by then (see PROVEN_AFTER_S)
        self._port_opened_at = self._opened_at
        self._readings_at_open = 0
        self.opening = False  # an open is under way on a helper thread
        #: odd while the reader thread takes a chunk (``feed``, ``take_exchange``, a replay's
        #: last frames): ``snapshot`` describes the sensor between two chunks
        self._taking = 0
        #: set by ``dialogue`` while a set-up command's reply is awaited or a late one watched:
        #: takes the replies out of each chunk before the framer (one attribute test per chunk
        #: otherwise)
        self.take_replies: Callable[[bytes], bytes] | None = None
        #: set by ``dialogue``, empty, as it writes a poll request to a device whose answers
        #: spoilt on the line can be told: the first :data:`HEARD_BYTES` read after it (one
        #: attribute test per chunk otherwise)
        self.heard: bytearray | None = None
        #: after an open, until its first line is known whole or dropped, and until its
        #: first frames are read (``sensord.sensor_first_bytes``): one attribute test per chunk
        self._after_open = False
        self._frames_after_open = False
        #: the first bytes after an open, which may be the tail of a line or frame it cut
        self._first = FirstBytes(config, spec, self.framer, self._frame_framer)
        #: how many rejected candidates of the binary framer (or blocks of the block framer)
        #: were told of, in all and by reason
        self._rejections_told = 0
        self._rejected_told: dict[str, int] = {}
        #: a framer of checked blocks (DSMR telegrams, VE.Direct blocks, Gill messages), whose
        #: rejected blocks are told of in the log as the binary framer's candidates are (the
        #: counts told of are those above); None for the other formats' framers
        self._block_framer = _block_framer(self.framer) if spec.block or codec.block else None
        if self._block_framer is not None:
            self._block_framer.line_speed(config.serial.baudrate)
        #: set-up commands, their acknowledgements, re-runs and polls (``sensord.dialogue``);
        #: None for a device that is neither set up nor polled, the most common kind, whose
        #: frames, ticks and deadlines then touch nothing more than the sensor itself
        self.dialogue: Dialogue | None = None
        if config.poll is not None or config.setup_steps():
            from sensord.dialogue import Dialogue  # noqa: PLC0415  (loaded by a sensor it talks to)

            self.dialogue = Dialogue(
                config, self, clock=clock, errors=self._errors, stale_after_s=self._stale_after_s
            )
        #: the framer has given what it held at the end of the source's stream (``flush``)
        self._flushed = False
        #: the device's warm-up after its port opened, or after it restarted or was woken
        #: behind the open port, and the hold of a run's first answers (``sensord.warm_up``)
        self._warm = WarmUp(self, self.log, self._changes)
        #: the next frame ends a silence: the sensor is stale, or its polled device left
        #: ``SILENT_POLLS`` requests in a row unanswered (``went_silent``)
        self._silence_to_end = False
        #: the device's restarts, told by the frames it sends while it boots
        #: (``sensord.boots``; None: the format has no such frames)
        self._boots: DeviceBoots | None = None
        #: of a polled device, what tells the status byte of a frame the device refuses
        #: (None: its format has no status byte), for the dialogue's count of the requests
        #: it refuses
        self._refusal_status: Callable[[bytes], int | None] | None = None
        if spec.format == "frames" and spec.frame is not None:
            from sensord.boots import DeviceBoots  # noqa: PLC0415  (loaded by a sensor of binary frames)
            from sensord.formats.frames_decode import boot_check, status_check  # noqa: PLC0415  (loaded by a sensor of binary frames)

            booting = boot_check(spec.frame)
            if booting is not None:
                self._boots = DeviceBoots(
                    self, booting, log=self.log, errors=self._errors, warm_again=self._warm.again
                )
            if config.poll is not None:
                self._refusal_status = status_check(spec.frame)
        #: the readings taken when the set-up ran again because every frame was marked
        #: invalid (``check_stale``), or None: once one more is published (the device
        #: measures again) its next such run is as soon as it is due
        self._readings_at_invalid_rerun: int | None = None
        #: the device's least silence between frames (``frame.silence_s``; None: not known),
        #: and when the last chunk was read
        self._silence_s = (
            spec.frame.silence_s if spec.format == "frames" and spec.frame is not None else None
        )
        self._chunk_at = -math.inf

        # counters (plain ints, exported by the collector)
        self.ignored = 0
        self.bytes_read = 0
        #: ``bytes_read`` when the last frame came (or the port opened): for the stale hint
        self._read_at_frame = 0
        #: the frame framer's ``rejections`` then (``sensord.sensor_silence``)
        self._rejections_at_frame = 0
        #: when the last chunk was read, and the longest stretch without a byte since the last
        #: frame's chunk (``sensord.sensor_silence``)
        self._byte_at = -math.inf
        self._quiet_s = 0.0
        #: the pauses between frames that frames end while the sensor is stale, and the hint
        #: of a device that sends on a period longer than the stale timeout
        #: (``sensord.pauses``)
        self._pauses = SteadyPauses(self)
        #: whether the frames that end a silence come from a device that warms up again
        #: (``sensord.sensor_silence``)
        self._silence = SilenceEnd(self, config)
        self.reconnects = 0
        #: of them, reopens of a network connection that carried no byte for too long
        #: (``_check_silence``; on a bus, its connection's)
        self.silent_reconnects = 0
        #: a network bus's connection opened again after its gateway closed it for idleness
        self.idle_reopens = 0
        #: a Modbus device's share of the bytes its bus dropped (``Bus._tell_skipped``)
        self.bus_skipped_bytes = 0
        #: a network port's connection is opened again after this long without a byte while
        #: the sensor is stale (None: not a network port)
        self._silent_limit_s = (
            SILENT_REOPEN_STALE_FACTOR * self._stale_after_s
            if config.address.kind == "network" and not config.on_bus
            else None
        )
        #: what the ticks heard on a network port's connection, and its reopens in a row
        #: while stale (``sensord.connection``)
        self._silent_connection = SilentConnection(self.log, self._errors, clock())
        #: how its connections ended, and what that makes of the opens after them
        #: (``sensord.connection``)
        self._ends = ConnectionEnds()
        self.open_failures = 0
        self.pipeline_errors = 0
        self._ever_up = False
        #: a Modbus device's exchange counters (its bus fills them in); None for other formats
        self.modbus: ModbusCounters | None = None
        if config.is_modbus:
            from sensord.modbus_state import ModbusCounters  # noqa: PLC0415  (loaded with the first Modbus device)

            modbus_spec = config.format_spec().modbus
            assert modbus_spec is not None
            self.modbus = ModbusCounters(transport=modbus_spec.transport, unit=modbus_spec.unit)
        #: the Modbus counters when the last values came (or the bus opened): the stale hint
        self._modbus_mark: ModbusMark | None = None if self.modbus is None else self.modbus.mark()
        #: the values a Modbus device's status withholds, and the registers it does not
        #: measure (``sensord.sensor_withheld``)
        self._withheld = WithheldValues(self.log, self._errors, self.rejects)

    @property
    def last_error(self) -> str:
        """The last error the sensor's port or device had ("" for none yet); kept after it
        recovers, with its time (``/status`` shows its age), so that a sensor that is up again
        still tells what went wrong last."""
        return self._last_error

    @last_error.setter
    def last_error(self, text: str) -> None:
        self._last_error = text
        self._last_error_at = self._clock() if text else None

    # -- instrumentation -----------------------------------------------------------------------
    def instrument(self, timer_for: Callable[[str], StepTimer] | None) -> None:
        self._timer_for = timer_for
        for ch in self._channel_list:
            ch.chain.instrument(timer_for)

    # -- channels, and a configuration taken in place --------------------------------------------
    def _read_channels(self, spec: FormatSpec) -> None:
        """What the chunks' values go to: the channels of ``self.channels``, as ``spec`` reads
        them."""
        self._channel_list = tuple(self.channels.values())
        # channel name -> the append of its values list (one lookup per reading in feed)
        self._batch_appenders = {ch.name: ch.values.append for ch in self._channel_list}
        # a protocol of one channel that decodes a chunk's frames in one pass: that pass and
        # the channel it feeds (None: every frame through the parser)
        codec = codec_for(spec.format)
        values_of = codec.batch_decoder(spec) if codec.batch_decoder is not None else None
        only = self.channels.get(spec.fields[0][0]) if spec.fields else None
        self._values_of = values_of if only is not None else None
        self._values_channel = only

    def retunes_to(self, config: SensorConfig) -> bool:
        """Whether ``retune`` takes ``config`` with the port open
        (:func:`sensord.sensor_channels.retunes_to`); else the sensor is restarted."""
        return retunes_to(self.config, config, simulated=self.simulated)

    def retune(self, config: SensorConfig) -> list[str]:
        """Take ``config``, which ``retunes_to`` accepts, with the port, its framing, the
        state and every counter as they are; the channels it changed or added, whose chains
        (and windows) start afresh. A channel whose keys are the same keeps its chain; the
        counters of a replaced chain stay in the sensor's (``_retired_steps``). Channels
        added or removed build the parser again, as an open does."""
        self._taking += 1  # a snapshot waits: channels and retired counters change together
        try:
            old = self.config
            before = {ch.name: ch for ch in old.channels}
            channels: dict[str, ChannelRuntime] = {}
            fresh: list[str] = []
            for ch in config.channels:
                kept = self.channels.get(ch.name)
                if kept is not None and before.get(ch.name) == ch:
                    channels[ch.name] = kept
                else:
                    channels[ch.name] = new_channel(ch, self._timer_for)
                    fresh.append(ch.name)
            retired = {
                name: StepSnapshot(step.records_in, step.records_out, dict(step.dropped))
                for name, step in self._retired_steps.items()
            }
            for name, running in self.channels.items():
                if channels.get(name) is running:
                    continue
                stages = running.chain.stages
                self._readings_retired += stages[0].records_in
                removed = name not in channels
                self._withheld.retired(name, measured=bool(stages[0].records_in), removed=removed)
                for stage in stages:
                    add_step(
                        retired, stage.step, stage.records_in, stage.records_out, stage.dropped
                    )
                self._filter_watch.forget(name)
                if removed:
                    self._unread.forget(name)
            if not channels.keys() <= self.channels.keys():
                self._unread.restart()  # a channel added is watched for a value as at a start
            self.config = config
            self.channels = channels
            self._retired_steps = retired
            spec = config.format_spec()
            if spec != old.format_spec():
                codec = codec_for(spec.format)
                counts, wall_clock = self.decoder_counts, self._wall
                self._new_parser = lambda: codec.sensor_decoder(spec, wall_clock, counts)
                self.parser = self._new_parser()
            self._read_channels(spec)
            stale = config.stale_after
            self._stale_after_s = stale
            self.rejects.retime(stale)
            if self.dialogue is not None:
                self.dialogue.retime(stale)
            if self._silent_limit_s is not None:
                self._silent_limit_s = SILENT_REOPEN_STALE_FACTOR * stale
            return fresh
        finally:
            self._taking += 1

    def _poll_requests(self) -> Sequence[bytes]:
        """The requests the sensor's poll writes, as its config has them now (none without a
        poll)."""
        poll = self.config.poll
        return () if poll is None else poll.request

    # -- state ---------------------------------------------------------------------------------
    def _set_state(self, state: str, **fields: Any) -> None:
        if state == self.state:
            return
        previous, self.state = self.state, state
        self.state_since = self._clock()
        self.rejects.restart(self.state_since)
        self._remind_at = self.state_since + STILL_BAD_EVERY_S
        if state != "stale":
            self.stale_hint = None
        else:
            self._silence_to_end = True
        if state in ("down", "stale"):
            self._withheld.faults.clear()
        level = "warning" if state in ("down", "stale") else "info"
        changes = self._changes
        if state != "stopped":
            held, began = self._flapping.change(state, self.state_since, self.framer.frames)
            if began:
                self.log.warning(
                    "sensor state keeps changing; logged once a minute while it does",
                    changes=changes.burst + 1,
                    within_s=changes.window_s,
                    hint=self._flapping.hint(
                        stale_after_s=self._stale_after_s,
                        network=self.config.address.kind == "network",
                        streams_alone=self._silent_limit_s is not None and self.config.poll is None,
                        frames=self.framer.frames,
                    ),
                )
            if held is None:
                return
            if changes.flapping or held:
                fields["suppressed"] = held
        getattr(self.log, level)(
            "sensor state", state=state, previous=previous, simulated=self.simulated, **fields
        )

    def remind(self, now: float) -> None:
        """Housekeeping: a sensor down or stale for another :data:`STILL_BAD_EVERY_S` is
        logged again, with what is wrong; a receiver's fix lost or regained is logged
        (``FixWatch``), and so is a channel that has had no value (``UnreadWatch``)."""
        fix = self._fix_watch
        if fix.watch(now):  # the last fix's values are no current ones (a position, a speed)
            self._not_measured(self.decoder_counts.fix_channels)
        unread = self._unread
        if not unread.checked or self.state != "up":
            unread.check(
                now,
                self.state == "up" and now >= self._warm.until,
                self.framer.frames,
                self._channel_list,
                self.config.channels,
            )
        fix.settled()
        if now < self._remind_at or self.state not in ("down", "stale"):
            return
        self._remind_at = now + STILL_BAD_EVERY_S
        extra: dict[str, Any] = {}
        if self.state == "down":
            extra["error"] = self.last_error
            extra["open_failures"] = self.open_failures
        else:
            hint = self._with_shared(self.stale_hint)
            if hint is not None:
                extra["hint"] = hint
        self.log.warning(
            "sensor state unchanged",
            state=self.state,
            for_s=round(now - self.state_since),
            simulated=self.simulated,
            **extra,
        )

    def _log_settled(self) -> None:
        """A sensor whose state flapped and has kept one for a while: its state is logged
        (the change to it may have been held back), and its changes are logged again."""
        held = self._changes.settled()
        if held is None:
            return
        self._open_errors.flapping_over()
        extra = {"error": self.last_error} if self.state == "down" else {}
        getattr(self.log, "warning" if self.state in ("down", "stale") else "info")(
            "sensor state steady again",
            state=self.state,
            for_s=self._changes.window_s,
            suppressed=held,
            **extra,
        )

    @property
    def pause_hint(self) -> str | None:
        """The hint of a device whose frames come on a steady period longer than the stale
        timeout (``sensord.pauses``); None while they do not."""
        return self._pauses.hint

    @property
    def up(self) -> bool:
        return self.state == "up"

    @property
    def bus_key(self) -> str | None:
        """The bus this sensor is a device on (the sensors naming one Modbus port share one),
        or None for a sensor that reads a port of its own."""
        return f"bus:{self.config.port}" if self.config.on_bus else None

    @property
    def awaiting_reply(self) -> bool:
        """True while a poll request awaits its answer and the next request is due, or a
        set-up command's reply is awaited and its time is up: the reader then reads what the
        port holds before ``tick`` writes the next request or the command again
        (``Reader._read_before_tick``), so an answer that came while the loop paused is that
        poll's, not dropped as the start of a late one, and a reply that came so acknowledges
        its command (``Dialogue.answer_awaited``)."""
        dialogue = self.dialogue
        if dialogue is not None and dialogue.answer_awaited(self._clock()):
            return True
        # a telegram's end that a quiet line makes: a byte read first shows the line not quiet
        blocks = self._block_framer
        ends = None if blocks is None else blocks.quiet_end_at(self._byte_at)
        return ends is not None and self._clock() >= ends

    @property
    def read_timeout_s(self) -> float:
        """How long a blocking read of the port may take."""
        return self.config.serial.timeout_s

    @property
    def opens_slowly(self) -> bool:
        """True for network ports (``socket://``, ``rfc2217://``): connecting can block for
        seconds, so the reader opens them on a helper thread."""
        address = self.config.address
        return not self.simulated and not address.is_device and not address.is_replay

    def new_source(self) -> Source:
        if self._source_factory is not None:
            return self._source_factory(self.config)
        return make_source(
            self.config, self._clock, simulated=self.simulated, flash=self.simulated_flash
        )

    def try_open(self) -> bool:
        """Open a new source now (blocking); True when the sensor is up. False with no try
        while its backoff holds a device path that is still as it was (``ReopenWatch``)."""
        if self._reopen.held(self.retry, self._clock()):
            return False
        if self._reopen.replaced():
            self._warm.may_be_cold = True  # replugged: powered anew, as after a path seen gone
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
        now = self._clock()
        refused_stale = self._ends.open_failed(now, exc)
        self.open_failures += 1
        delay = self._reopen_failed(now)
        held, text = self._open_errors.failed(exc)
        self.last_error = text
        self._log_settled()
        if (
            held is not None
            and self._changes.flapping
            and not self._open_errors.news_while_flapping(exc)
        ):
            self._changes.hold()  # its state line, once a minute, tells the error
        elif held is not None:
            self.log.info(
                "open failed",
                attempt=self.retry.failures,
                retry_in_s=round(delay, 3),
                error=text,
                suppressed=held,
            )
        if self.state != "down" and not refused_stale:
            self._set_state("down", error=text, retry_in_s=round(delay, 3))

    def carry_warm_up(self, before: SensorRuntime) -> None:
        """A reload changed this sensor, which replaces ``before`` before either opens: on a
        port that names the same device (``reads_device_of``), read from a device and not a
        simulation, its device is the one ``before`` read, powered all along unless its path
        went away; a warm-up under way goes on, and so does the hold of a run's first answers
        (``run_began``), quietly, to the end the new ``warmup_s`` gives it when it changed
        (``WarmUp.opened``)."""
        if before.simulated or not self.reads_device_of(before):
            return
        self._warm.carry(before._warm, before.config.warmup_s)

    def carry_device(self, before: SensorRuntime) -> None:
        """A reload changed this sensor, which replaces ``before`` before either opens: on the
        same device (``reads_device_of``), with ``simulate = "auto"``, it reads the device
        ``before`` read (not a simulation standing in for it) whether the path is there now or
        not. A device unplugged while a reload changes its sensor is a device unplugged later,
        reopened, never replaced by a simulation. A simulated device of the same preset on the
        same port is the same unit: it keeps what its flash holds (``simulated_flash``)."""
        if not self.reads_device_of(before):
            return
        if not before.simulated:
            self.wait_for_device()
        elif before.config.preset == self.config.preset:
            self.simulated_flash = before.simulated_flash

    def reads_device_of(self, other: SensorRuntime) -> bool:
        """Whether this sensor's port names the device of ``other``'s: the same path, or
        paths that resolve to one device (``PortAddress.device``: ``/dev/ttyUSB0`` and its
        by-id link)."""
        mine, theirs = self.config.address, other.config.address
        return mine.text == theirs.text or mine.device() == theirs.device()

    def wait_for_device(self) -> None:
        """This sensor's device was read before (by the sensor it replaces, or by the run's
        worker process that read it before this one): with ``simulate = "auto"`` it reads
        that device whether its path is there now or not; absent, it is unplugged, and the
        sensor waits for it, never reading a simulation in its place."""
        if self.config.simulate == "auto" and self.config.address.is_device:
            self.simulated = False

    @property
    def opened_device(self) -> bool:
        """Whether this sensor has had its port open on its device, not a simulation."""
        return self._ever_up and not self.simulated

    def _note_absence(self) -> None:
        """The bus's port could not be opened or broke: a device path that is gone means a
        device unplugged, cold when it comes back."""
        if device_absent(self.config.address):
            self._warm.may_be_cold = True

    def _reopen_failed(self, now: float) -> float:
        """The port could not be opened or broke at ``now``: the next try is scheduled
        (``ReopenWatch``), and a device path that is gone means a device unplugged, cold
        when it comes back. The delay of the backoff."""
        delay = self._reopen.failed(self.retry, now)
        if self._reopen.absent:
            self._warm.may_be_cold = True
        return delay

    def opened(self, source: Source) -> None:
        """The port is open (``source``): the sensor is up, or stays stale when it was stale
        as its connection ended (``_ended_stale``, ``_check_silence``). A network port's
        connection opened again after one that brought no frame (not a bus's) goes on with
        that one's staleness: it counts from the open of the first connection since the last
        frame, and a sensor for which that is longer ago than ``stale_after_s`` is stale at
        the open, up at its first frame (``_stale_at_open``). A serial server whose
        inactivity timeout is shorter than ``stale_after_s`` ends each connection a dead
        device leaves idle before that connection is stale_after_s old: the device reads as
        stale from stale_after_s after the first, not up at each open. A sensor kept up
        across the end of a connection that brought a frame (``_ended_up``) counts on from
        that connection's last frame; any other connection that brought one starts the count
        afresh, and so does the first open after opens that failed
        :data:`~sensord.connection.STALE_REOPEN_REFUSED_S` or longer after the last connection
        ended, or after a connection the server hung up at once (:data:`HUNG_UP_AT_ONCE_S`):
        the server was away, or served none, and a device back after an outage is up at the
        open."""
        now = self._clock()
        ends = self._ends
        quiet_from = self._opened_at
        goes_on = (
            self._ever_up
            and self.last_frame_at is None
            and self._silent_limit_s is not None
            and not source.simulated
            and not ends.server_away
        )
        kept_up, ends.kept_up = ends.kept_up, False
        if kept_up and self.state == "up" and self.last_frame_at is not None:
            # kept up across the end of a connection that brought frames (``_ended_up``):
            # its frames are as old as they were, and staleness counts on from the last
            quiet_from, goes_on = self.last_frame_at, True
        ends.server_away = False
        stale_at_open = (
            goes_on and not ends.reopening_stale and now - quiet_from > self._stale_after_s
        )
        # first: a failure as the connection is set up below is judged by this connection,
        # never proven by the time the one before it carried readings (see ``disconnect``)
        self._opened_at = quiet_from if goes_on else now
        self._port_opened_at = now
        self._readings_at_open = self._readings_in()
        self._warm.frames_at_open = self._warm.frames
        if self._ever_up:
            self.reconnects += 1
        elif source.simulated and self.config.address.is_device:
            log_simulated_absent_device(self.log, self.config.port, source.url)
        self._ever_up = True
        self.source = source
        self.simulated = source.simulated
        self.framer.reset()
        self._first.count_cut_tail()  # a first line cut at the last open, never ended
        self.parser = self._new_parser()
        self._fix_watch.opened(self._clock())
        self._flushed = False
        self._after_open, self._frames_after_open = self._first.opened(source.simulated)
        if self.last_frame_at is not None:
            self._frame_before_open = self.last_frame_at
        self.last_frame_at = None
        self._pauses.forget()  # a period is the same connection's
        if not goes_on:  # the bytes since the last frame, or the first quiet open, for the hint
            self._at_frame()
        self._silent_connection.opened(self.bytes_read, now)
        self._warm.opened(source, now)
        if self._boots is not None:  # the set-up of this connect follows
            self._boots.opened()
        if self.state != "stale":  # a silence of the connection before is not this one's
            self._silence_to_end = False
        # a connection opened again for its silence goes on with the re-runs' wait: the
        # device behind it is the same one, still stale
        if self.dialogue is not None:
            self.dialogue.opened(now, same_device=ends.reopening_stale or stale_at_open)
        self.line.opened(source.line_counters)
        self.shared_port.opened(source)
        self._damaged_at_open = self.rejects.damaged
        if self.local_echo is not None:
            self.local_echo.opened(source.echo)
        extra: dict[str, Any] = {"port": source.url}
        resolved = getattr(source, "resolved_path", None)
        if resolved and resolved != source.url:
            extra["device"] = resolved
        hung_up, ends.hung_up = ends.hung_up, False
        if hung_up and self.state == "down":
            # no proof yet that the server serves: down until this connection is (``tick``,
            # ``_silence_ended``), as through a refused open
            ends.proving = (stale_at_open, extra)
            self._silence_to_end = True
            return
        self._open_errors.reset()
        if ends.reopening_stale:  # stale still: up when a frame comes
            ends.reopening_stale = False
            if self._silent_connection.logged:
                self.log.info("connection open again", port=source.url, state=self.state)
            return
        if stale_at_open:
            self._stale_at_open(now, extra)
            return
        self._set_state("up", **extra)

    def _proven(self, now: float) -> None:
        """The connection opened after one the server hung up at once (``proving``) has
        lasted :data:`HUNG_UP_AT_ONCE_S`, or brought a frame, at ``now``: the server serves,
        and the sensor takes the state its open would have given it."""
        ends = self._ends
        proving, ends.proving = ends.proving, None
        if proving is None:
            return
        stale, fields = proving
        self._open_errors.reset()
        # staleness that counts on from connections before (see ``opened``) may have passed
        # since the open
        goes_on = self._opened_at < self._port_opened_at
        if stale or (goes_on and now - self._opened_at > self._stale_after_s):
            self._stale_at_open(now, fields)
        else:
            self._set_state("up", **fields)

    def _stale_at_open(self, now: float, fields: dict[str, Any]) -> None:
        """The port opened at ``now`` after connections that brought no frame since the last
        one, the first of them opened more than ``stale_after_s`` ago: stale, with what came
        since (``silence_since``: with no byte, the hint :data:`ENDED_IDLE_HINT`)."""
        silence = silence_since(self, self._opened_at)
        self._stale_with_hint(silence, now, silent_for_s=round(now - self._opened_at, 3), **fields)

    def disconnect(self, reason: str, *, own_fault: bool = False) -> None:
        """The source failed while open: close it and schedule a reopen with backoff. With
        no source open (its own code raised as a failure to connect was taken) nothing was
        proven: the backoff grows. A network port's connection (not a bus's) that ends
        :data:`HUNG_UP_AT_ONCE_S` or longer after its open was served, and its end is no
        failure of the port: it is opened again at once, its backoff at the start, when it
        lasted :data:`~sensord.connection.SERVED_LONG_S` or a frame came lately
        (``_framed_lately``); else it waits the backoff, which grows (a server that hangs up
        just after HUNG_UP_AT_ONCE_S with nothing behind it). A serial
        server with an inactivity timeout ends each connection that a device sending rarely
        leaves idle, and drops what the device sends while no connection is open: a backoff
        grown over such ends would keep the port closed for up to ``max_delay_s`` at a time,
        and the device's frames that came then would be lost.

        A network port (not a bus's) whose connection ends while the sensor is stale keeps
        the sensor stale (see ``_ended_stale``), and one whose served connection ends while
        it is up keeps it up (see ``_ended_up``); any other goes down. One that ends within
        :data:`HUNG_UP_AT_ONCE_S` of its open with no frame was refused, as an open that
        fails (``open_failed``): within :data:`~sensord.connection.STALE_REOPEN_REFUSED_S` of
        the end of the last connection that was served a stale sensor stays stale, and the
        open after it counts the staleness on; later the server was away, and that open
        counts it afresh. A sensor such a refusal takes down stays down across the open after
        it until that connection has lasted HUNG_UP_AT_ONCE_S or brought a frame
        (``_proven``): a server that accepts and hangs up at once reads as down throughout,
        as one that refuses, not up for a moment at each open. ``ConnectionEnds`` judges
        the end (``sensord.connection``).

        ``own_fault``: sensord's own failure closed the port (its code raised, the port could
        not be watched, a stage raised): a failure of the port, never an end the server made,
        reopened at its backoff.

        A close that raises is the port closed all the same: the sensor goes down (or stays
        stale) for ``reason``, at the backoff of a lost port, then ``PortCloseError`` is
        raised from what the close raised.

        A DSMR telegram or IEC 62056-21 readout whose end its ``!`` came as (a DSMR 2.2 or 3
        telegram's, its line end not yet come; a CRC that holds; a readout's ``!`` line) and
        that a quiet line would have ended is read before the port closes, stamped when its
        last byte came (``_quiet_end``, whatever the time): a USB adapter unplugged, or a
        serial server that ended its connection, right after it. One not whole (its CRC not
        come, or failed; cut short) is dropped with the port, counted at the reopen in
        ``skipped_bytes``."""
        if not own_fault:
            self.end_whole()
            if self.source is None:  # a stage raised on its readings: closed for that
                return
        was_open = self.source is not None
        now = self._clock()
        ends = self._ends
        if (
            was_open
            and ends.proving is not None
            and now - self._port_opened_at >= HUNG_UP_AT_ONCE_S
        ):
            self._proven(now)  # served, though no timer pass saw it before its end
        # sensord's own failure (``own_fault``) is no end the server made: a failure
        network = (
            was_open and self._silent_limit_s is not None and not self.simulated and not own_fault
        )
        refused, ended_stale, at_once = ends.ended(
            now,
            now - self._port_opened_at,
            network=network,
            framed=self.last_frame_at is not None,
            stale=self.state == "stale",
            framed_lately=network and self._framed_lately(now),
        )
        unclosed: Exception | None = None
        try:
            self.close_source()
        except Exception as exc:  # closed all the same: the disconnect goes on
            unclosed = exc
            at_once = False  # sensord's own failure: the backoff of a lost port
        proving = ends.closed(now, refused=refused, ended_stale=ended_stale, was_open=was_open)
        if at_once:
            # the server ended a connection it served (its inactivity timeout, a restart): no
            # failure of the port, which is opened again at once, its backoff at the start
            self.retry.again(now)
            delay = 0.0
        else:
            if was_open and (
                now - self._port_opened_at >= PROVEN_AFTER_S or self._delivered_since_open()
            ):
                self.retry.succeeded()  # it worked for a while: a fresh start
            delay = self._reopen_failed(now)
        self.last_error = reason
        if ended_stale:
            self._ended_stale(reason, delay)
        elif at_once and self.state == "up":
            self._ended_up(reason)
        elif proving is not None:  # down since the hang-up before: logged as a failed open
            held = self._open_errors.hung_up(reason)
            if held is not None:
                self.log.info(
                    "open failed",
                    attempt=self.retry.failures,
                    retry_in_s=round(delay, 3),
                    error=reason,
                    suppressed=held,
                )
        else:
            self._set_state(
                "down", error=reason, attempt=self.retry.failures, retry_in_s=round(delay, 3)
            )
        if unclosed is not None:
            raise PortCloseError(f"sensor {self.name!r}: closing the port failed") from unclosed

    def _ended_stale(self, reason: str, delay: float) -> None:
        """The serial server ended the network connection of a sensor that is stale: it stays
        stale across the reopen (down only when that fails), as across a reopen for silence,
        and is up at its next frame. A server with an inactivity timeout in front of a device
        that sends nothing ends each connection after that timeout: the dead device reads as
        stale for as long as that lasts, with no up at each reopen nor down at each end to
        reset a stale alert's pending time. A connection that brought no byte since it opened
        gives the stale hint :data:`ENDED_IDLE_HINT` (one that brought a frame, from a device
        that pauses longer than ``stale_after_s`` and the server's timeout, keeps its hint:
        its device sends). Logged as a
        warning, then, while no reading comes, at info for the 2nd, 4th, 8th ... in a row
        (``log_silent_reconnect``)."""
        self._ends.reopening_stale = True
        if self.last_frame_at is None and self.bytes_read == self._read_at_frame:
            self.stale_hint = ENDED_IDLE_HINT
        self._silent_connection.reopened(
            self.stale_hint,
            {"port": self.config.port, "error": reason, "retry_in_s": round(delay, 3)},
            why="ended",
        )

    def _framed_lately(self, now: float) -> bool:
        """Whether the network port's connections have been without a frame for less than
        ``SILENT_REOPEN_STALE_FACTOR`` times ``stale_after_s`` at ``now``: since this
        connection's last frame, or the open of the first connection that brought none since
        the last frame (or since the server was away; see ``opened``)."""
        assert self._silent_limit_s is not None
        quiet_from = self._opened_at if self.last_frame_at is None else self.last_frame_at
        return now - quiet_from < self._silent_limit_s

    def _ended_up(self, reason: str) -> None:
        """The serial server ended the network connection of a sensor that is up, one it
        served (:data:`HUNG_UP_AT_ONCE_S` or longer): it is opened again at once and the
        sensor stays up across the reopen, down only when that fails. A server with an
        inactivity timeout ends each connection that a device sending more rarely than that,
        or pausing, leaves idle: the device works, and an operator's view of it (``/status``,
        ``sensord_sensor_up``, the state lines, the down alert) does not blink at each of its
        server's closes. Logged at info once a minute at most, with the hint
        :data:`ENDED_UP_HINT`; counted in ``reconnects`` at the reopen."""
        self._ends.kept_up = True
        held = self._errors.check("ended up")
        if held is not None:
            self.log.info(
                "connection ended; reconnecting",
                port=self.config.port,
                error=reason,
                hint=ENDED_UP_HINT,
                suppressed=held,
            )

    def _delivered_since_open(self) -> bool:
        """Whether the port gave a reading since it last opened, or a frame while its device
        warmed up (a device powered anew behind a hub sends whole frames that publish nothing
        for ``warmup_s``: it works, and a port that breaks then starts its backoff over)."""
        return (
            self._readings_in() > self._readings_at_open
            or self._warm.frames > self._warm.frames_at_open
        )

    def _readings_in(self) -> int:
        """Readings taken into the channels' first stages so far (those of chains ``retune``
        replaced included)."""
        return self._readings_retired + sum(
            ch.chain.stages[0].records_in for ch in self._channel_list if ch.chain.stages
        )

    def close_source(self) -> None:
        source, self.source = self.source, None
        if source is not None:
            source.close()

    def stop(self) -> None:
        self.close_source()
        self._set_state("stopped")

    # -- a device on a bus (its bus owns the port) -----------------------------------------------
    def line_counters(self) -> Callable[[], dict[str, int] | None] | None:
        """What reads the line error counters of this sensor's port while it is open: its
        source's, or its bus's; None while the port is closed."""
        source = self.source if self.source is not None else self._bus_source
        return None if source is None else source.line_counters

    def bus_opened(self, source: Source, *, down: str | None = None) -> None:
        """The bus's port is open (``source``): the device is polled from now on. ``down``:
        the device was down when the port was lost, and stays down for that reason until it
        answers (``device_up``)."""
        self.simulated = source.simulated
        if self._ever_up:
            self.reconnects += 1
        self._ever_up = True
        if self.last_frame_at is not None:
            self._frame_before_open = self.last_frame_at
        self.last_frame_at = None
        self._opened_at = self._clock()
        self._at_frame()
        if self.modbus is not None:
            self._modbus_mark = self.modbus.mark()
        self._warm.opened(source, self._opened_at)
        self._bus_source = source
        self.line.opened(source.line_counters)
        if self.local_echo is not None:
            self.local_echo.opened(source.echo)
        if down is not None:
            self.last_error = down
            return
        self._set_state("up", port=source.url)

    def bus_idle_closed(self) -> None:
        """The bus's network connection was closed by its peer while idle; it is opened
        again at the device's next poll, and the device stays in its state meanwhile."""
        self._bus_source = None

    def bus_silent(self, reason: str) -> None:
        """The bus's network connection carried no byte for too long (``reason``) and is
        opened again (see ``sensord.bus``); the device stays in its state meanwhile."""
        self._bus_source = None
        self.silent_reconnects += 1
        self.last_error = reason

    def bus_reopened(self, source: Source, *, idle: bool = False) -> None:
        """The bus's connection is open again after an idle close (``bus_idle_closed``) or a
        silent one (``bus_silent``): counted as a reconnect, or with ``idle`` (a gateway's
        idle timeout, see ``sensord.bus.IDLE_TIMEOUT_MIN_S``) in ``idle_reopens``; the
        device's state and readings go on as they were."""
        if idle:
            self.idle_reopens += 1
        else:
            self.reconnects += 1
        self._bus_source = source
        self.line.opened(source.line_counters)

    def bus_down(self, reason: str, *, open_failed: bool) -> None:
        """The bus's port failed to open or was lost."""
        self._bus_source = None
        self._note_absence()
        if open_failed:
            self.open_failures += 1
        self.last_error = reason
        self._log_settled()
        self._set_state("down", error=reason)

    def device_down(self, reason: str, retry_in_s: float) -> None:
        """The device stopped answering: quarantined, retried with backoff."""
        self.last_error = reason
        self._set_state("down", error=reason, retry_in_s=round(retry_in_s, 3))

    def device_down_again(self, reason: str, held: int | None) -> None:
        """The device, down, is still down for another ``reason`` (``/status``
        ``last_error`` says it from now on); logged unless ``held`` is None (rate-limited:
        the lines held back since the last one)."""
        self.last_error = reason
        if held is not None:
            self.log.warning("device still down, for another reason", error=reason, suppressed=held)

    def device_up(self, unit: int) -> None:
        """The device (``unit``) answers again."""
        self._opened_at = self._clock()
        self._set_state("up", unit=unit)

    # -- data ----------------------------------------------------------------------------------
    def use_journal(self, journal: CaptureJournal | None) -> None:
        """Hand the chunks ``feed`` reads to ``journal`` (None: straight to the ring), which
        gives them to the ring when it is flushed (``sensord.capture.CaptureJournal``)."""
        self.flush_capture()
        self._journal = journal
        self._to_journal = journal.add if journal is not None and self.capture.max_bytes else None

    def flush_capture(self) -> None:
        """Give the ring every chunk still in the journal (on the reader's thread)."""
        if self._journal is not None:
            self._journal.flush()

    def resize_capture(self, max_bytes: int) -> None:
        """The capture ring holds at most ``max_bytes`` from now on (0: nothing)."""
        self.flush_capture()
        self.capture.resize(max_bytes)
        self.use_journal(self._journal)

    def captured(self) -> tuple[tuple[float, str, bytes], ...]:
        """The ring's chunks, those still in the journal included (on the reader's thread)."""
        self.flush_capture()
        return self.capture.entries()

    def feed(self, chunk: bytes) -> None:
        """Frame, parse and push one chunk of bytes through every channel's chain."""
        self._taking += 1
        try:
            now = self._clock()
            to_journal = self._to_journal
            if to_journal is not None:
                to_journal((self.capture, chunk, now))
            else:
                self.capture.rx(now, chunk)
            self.bytes_read += len(chunk)
            heard = self.heard
            if heard is not None and len(heard) < HEARD_BYTES:
                heard += chunk[: HEARD_BYTES - len(heard)]
            quiet = now - self._byte_at
            if quiet > self._quiet_s:
                self._quiet_s = quiet
            self._byte_at = now
            replies = self.take_replies
            if replies is not None:  # a set-up reply is awaited, or a late one
                rest = replies(chunk)
                dialogue = self.dialogue
                at = None if dialogue is None else dialogue.reply_at
                if at is not None:
                    # a reply to the command written at the open: what follows it is no
                    # tail of a line or frame the open cut (a CozIR's first reading came
                    # after its acknowledgement, and was dropped as one); what came before
                    # it in the chunk may be the end of a cut line
                    if self._after_open and at:
                        rest = self._first.before_reply(rest, at, now, self._port_opened_at)
                    self._after_open = self._frames_after_open = False
                    self._first.replied()
                chunk = rest
            # as frame_held, written out: one call less on the path of every chunk
            if self._after_open:
                if chunk:
                    chunk, self._after_open = self._first.line(chunk, now, self._port_opened_at)
            elif self._frames_after_open:
                self._frames_after_open = False
                self._first.frame(now, self._port_opened_at)
            self.process(chunk, now)
            if replies is not None and self.dialogue is not None:
                self.dialogue.frame_end(now)
        finally:
            self._taking += 1

    def ends_frame(self, data: bytes) -> int:
        """See :meth:`sensord.dialogue.DialoguePort.ends_frame` (binary frames only)."""
        binary = self._frame_framer
        return 0 if binary is None else binary.ends_frame(data)

    def frame_held(self, data: bytes, at: float) -> None:
        """See :meth:`sensord.dialogue.DialoguePort.frame_held`: ``data`` framed as ``feed``
        frames a chunk's bytes without the set-up replies (its first bytes after the open
        checked first, while they are to come), read at monotonic time ``at``: its frames are
        taken with that time on both clocks. Called on a tick (the watch's end, a poll) as
        well as within ``feed``: a snapshot waits meanwhile, as it does for a chunk."""
        within = self._taking & 1  # inside feed: its chunk is under way already
        if not within:
            self._taking += 1
        try:
            if self._after_open:
                if data:
                    data, self._after_open = self._first.line(data, at, self._port_opened_at)
            elif self._frames_after_open:
                self._frames_after_open = False
                self._first.frame(at, self._port_opened_at)
            self.process(data, at, self._wall() - (self._clock() - at))
        finally:
            if not within:
                self._taking += 1

    def process(self, chunk: bytes, now: float, wall: float | None = None) -> None:
        """Frame ``chunk`` (read at monotonic time ``now``, wall clock time ``wall``; None: the
        wall clock's now) and push its frames through."""
        silence_s = self._silence_s
        if silence_s is not None:
            if now - self._chunk_at >= silence_s:  # what is held is of a frame cut short
                self.framer.drop_pending()
            self._chunk_at = now
        try:
            frames = self.framer.feed(chunk)
        except Exception as exc:  # a framer's own mistake: never the daemon's end
            self._framer_failed(exc, chunk)
            return
        binary = self._frame_framer
        if binary is not None and binary.rejections != self._rejections_told:
            self._framer_rejected(binary)
        blocks = self._block_framer
        if blocks is not None and blocks.rejections != self._rejections_told:
            self._blocks_rejected(blocks)
        if frames:
            self._take(frames, now, wall)

    def _framer_rejected(self, framer: FrameFramer) -> None:
        """The binary framer rejected candidates since the last chunk (their checksum, end
        byte or length field): each told of as the parser's rejections are, with the last
        one of its reason."""
        self._rejections_told = framer.rejections
        self._tell_rejected(
            (*framer.rejected.items(), ("overlong", framer.overlong)), framer.last_rejected
        )

    def _blocks_rejected(self, framer: BlockFramer) -> None:
        """The block framer rejected blocks since the last chunk (their check failed or lost,
        cut short): each reason told of as the parser's rejections are, with the last block
        of it."""
        self._rejections_told = framer.rejections
        self._tell_rejected(framer.rejected.items(), framer.last_rejected)

    def _tell_rejected(
        self,
        counts: Iterable[tuple[str, int]],
        last_rejected: Callable[[str], tuple[str, bytes]],
    ) -> None:
        """Tell of the rejections of each reason in ``counts`` (a framer's, in all) that came
        since they were last told of, with the last one of the reason (``last_rejected``)."""
        told = self._rejected_told
        for reason, n in counts:
            new = n - told.get(reason, 0)
            if new > 0:
                told[reason] = n
                self.rejects.framer_rejected(reason, functools.partial(last_rejected, reason), new)

    def _framer_failed(self, exc: Exception, chunk: bytes) -> None:
        """The framer raised on ``chunk``: logged and counted as an unexpected error, the
        chunk's bytes skipped, and the framer starts afresh."""
        self._unexpected(exc, chunk)
        self.framer.skipped_bytes += len(chunk)
        self.framer.reset()

    def _take(self, frames: list[bytes], now: float, wall: float | None = None) -> None:
        """Push ``frames``, cut at monotonic time ``now`` (wall clock time ``wall``, by
        default the wall clock's now), through every channel's chain."""
        if wall is None:
            wall = self._wall()
        previous = self.last_frame_at
        self.last_frame_at = now
        dialogue = self.dialogue
        if dialogue is not None:
            dialogue.frames_came(len(frames), now)
        if self._silence_to_end:
            self._silence_ended(frames, now, previous)
        self._at_frame()
        if now < self._warm.until:  # warming up: frames that publish nothing
            self.ignored += len(frames)
            self._warm.frames += len(frames)
            boots = self._boots
            if boots is not None and any(map(boots.is_boot, frames)):
                boots.booted(now)
            return
        values_of = self._values_of
        values = values_of(frames) if values_of is not None else None
        if values is not None:
            channel = self._values_channel
            assert channel is not None
            channel.values.extend(values)
        else:
            self._parse_frames(frames, now)
        self._drain(now, wall)

    def _silence_ended(self, frames: list[bytes], now: float, previous: float | None) -> None:
        """``frames`` came at ``now`` after a silence (the last frame before them came at
        ``previous``): the sensor was stale, or its polled device left ``SILENT_POLLS``
        requests in a row unanswered. The first frame after hang-ups proves the server
        (``_proven``); a stale sensor is up again, and its dialogue told so. Whether the
        device warms up again is ``SilenceEnd``'s (``sensord.sensor_silence``)."""
        self._silence_to_end = False
        if self._ends.proving is not None:  # the first frame after hang-ups: the server serves
            self._proven(now)
            return
        silence = self._silence
        if self.state == "stale":
            self._set_state("up", **self._pauses.ended(now, previous))
            dialogue = self.dialogue
            if dialogue is not None:
                dialogue.back_from_stale()
                if not dialogue.reruns_while_stale and silence.supply_may_have_failed(frames):
                    dialogue.answers_again(
                        powered_anew=silence.powered_anew(frames, now, previous, dialogue)
                    )
        elif self.config.poll is None:
            return
        silence.warm_again(frames, now, previous)

    def _at_frame(self) -> None:
        """Mark where the stream stands as a frame comes (or the port opens): the bytes read
        and the candidates the frame framer rejected until now."""
        self._read_at_frame = self.bytes_read
        self._quiet_s = 0.0
        binary = self._frame_framer
        if binary is not None:
            self._rejections_at_frame = binary.rejections

    def spoilt_boot(self, frame: bytes, now: float) -> bool:
        """See :meth:`sensord.dialogue.DialoguePort.spoilt_boot`."""
        boots = self._boots
        return boots is not None and boots.spoilt(frame, now)

    def streams_anew(self, now: float) -> None:
        """See :meth:`sensord.dialogue.DialoguePort.streams_anew`: a PMS powered anew sends
        the readings of a fan not yet settled (its data manuals ask for 30 s)."""
        self._warm.again(now, "it streams unasked, as it does once powered anew")

    def went_silent(self) -> None:
        """See :meth:`sensord.dialogue.DialoguePort.went_silent`: the next frame ends the
        silence (``_silence_ended``)."""
        self._silence_to_end = True

    def run_began(self, now: float) -> None:
        """See :meth:`sensord.dialogue.DialoguePort.run_began` (``WarmUp.run_began``)."""
        self._warm.run_began(now)

    def on_working_period(self, now: float) -> None:
        """See :meth:`sensord.dialogue.DialoguePort.on_working_period`
        (``WarmUp.on_working_period``)."""
        self._warm.on_working_period(now)

    def _parse_frames(self, frames: list[bytes], now: float) -> None:
        """Each frame, cut at ``now``, through the parser into its channels' values; errors
        counted."""
        parse = self.parser
        append_to = self._batch_appenders
        for frame in frames:
            try:
                pairs = parse(frame)
            except ParseError as exc:
                # a Modbus device's replayed capture counts as its exchanges did live
                if (
                    exc.reason != "nonfinite"
                    or self.modbus is None
                    or not self._withheld.unmeasured_nan(exc, frame, self.channels, self.config)
                ):
                    self.rejects.rejected(exc, frame)
                if exc.unavailable:
                    self._not_measured(exc.unavailable)
                refused = self._refusal_status
                if refused is not None and exc.reason == "invalid":
                    status = refused(frame)
                    if status is not None and self.dialogue is not None:
                        self.dialogue.refused(status)
                pairs = exc.kept  # the frame's sound fields
                if not pairs:
                    continue
            except Exception as exc:  # a parser bug must not take the daemon down
                self._unexpected(exc, frame)
                continue
            if not pairs:
                self.ignored += 1
                if self._boots is not None and self._boots.is_boot(frame):
                    self._boots.booted(now)
                continue
            for channel, value in pairs:
                append_to[channel](value)

    def woken(self, now: float) -> None:
        """A re-run of the set-up (the sensor was stale: the device asleep, maybe) wrote the
        command that wakes the device at ``now``: a device just woken sends readings of a
        fan not yet settled (the PMS datasheets ask for 30 s after wake-up), so it warms up
        again."""
        self._warm.again(now, "its set-up woke the device")

    def take_exchange(
        self, frame: bytes, pairs: list[tuple[str, float]], rejected: ParseError | None = None
    ) -> None:
        """One exchange of a device on a bus, which the bus has checked and decoded:
        ``frame`` is the request and the response as they went over the wire, ``pairs`` the
        values of the response, and ``rejected`` the parse error of values it left out (a
        device's "not available"), counted as the parser's would be. The exchange is kept in
        the capture ring and counted as the one frame the framer would cut from it, so
        replaying the ring (``feed``) gives the same frames, readings and errors."""
        self._taking += 1  # one exchange is one chunk: see snapshot
        try:
            now = self._clock()
            self.capture.rx(now, frame)
            self.bytes_read += len(frame)
            self.framer.frames += 1
            self.last_frame_at = now
            self._read_at_frame = self.bytes_read
            if self.modbus is not None:
                self._modbus_mark = self.modbus.mark()
            if self.state == "stale":
                self._set_state("up")
                self._silence_to_end = False
            if now < self._warm.until:  # warming up: frames that publish nothing
                self.ignored += 1
                self._warm.frames += 1
                return
            withheld = self._withheld
            if rejected is not None:
                if rejected.reason != "nonfinite" or not withheld.unmeasured_nan(
                    rejected, frame, self.channels, self.config
                ):
                    self.rejects.rejected(rejected, frame)
                if rejected.unavailable:
                    self._not_measured(rejected.unavailable)
                    withheld.withheld(rejected, now)
                if not pairs:
                    return
            elif not pairs:  # no values
                self.ignored += 1
                return
            if withheld.faults:  # values the status withheld come again
                withheld.faults_over(pairs, now)
            append_to = self._batch_appenders
            for channel, value in pairs:
                append_to[channel](value)
            self._drain(now, self._wall())
        finally:
            self._taking += 1

    def _not_measured(self, channels: tuple[str, ...]) -> None:
        """The device marked these channels' values as not measured (see ``ParseError``)."""
        for name in channels:
            channel = self.channels.get(name)
            if channel is not None:
                channel.mark_unavailable()

    def _drain(self, now: float, wall: float) -> None:
        """Push every channel's values of this chunk through its chain."""
        sensor = self.name
        for ch in self._channel_list:
            values = ch.values
            if values:
                try:
                    if ch.marked_after >= 0:  # (rare) a mark of not measured among them
                        self._drain_marked(ch, now, wall)
                    if len(values) == 1:  # a chunk of one frame
                        ch.chain.drain_value(values[0], sensor, ch.name, now, wall)
                    elif values:
                        ch.chain.drain_values(values, sensor, ch.name, now, wall)
                except Exception as exc:
                    values.clear()
                    self._pipeline_error(ch, exc)
                    return
                values.clear()

    def _drain_marked(self, ch: ChannelRuntime, now: float, wall: float) -> None:
        """The values of ``ch`` that came before its mark through its chain, then the mark
        taken: those after it are drained as usual."""
        before = ch.values[: ch.marked_after]
        del ch.values[: ch.marked_after]
        try:
            if before:
                ch.chain.drain_values(before, self.name, ch.name, now, wall)
        finally:
            ch.take_mark()

    def _unexpected(self, exc: Exception, frame: bytes) -> None:
        self.pipeline_errors += 1
        held = self._errors.check("unexpected")
        if held is not None:
            self.log.error(
                "frame could not be processed",
                error=repr(exc),
                frame=shown(frame[:80], binary=self._binary),
                suppressed=held,
                exc_info=exc,
            )

    def _pipeline_error(self, ch: ChannelRuntime, exc: Exception) -> None:
        self.pipeline_errors += 1
        self.log.error(
            "pipeline failed; resetting the sensor",
            channel=ch.name,
            error=repr(exc),
            exc_info=exc,
        )
        for other in self._channel_list:
            window = other.chain.window
            if window is not None:
                window.reset()
            other.values.clear()
            other.marked_after = -1
        reason = f"pipeline error in channel {ch.name}: {exc!r}"
        if self.bus_key is not None:
            # its bus owns the port, which its other devices share: nothing to reopen, and
            # nothing would bring a device marked down here up again (the bus tells a device
            # it answers again only after a timeout of its own); its next answer publishes
            self.last_error = reason
            return
        self.disconnect(reason, own_fault=True)

    def tick(self, now: float) -> None:
        """Set-up commands, polling and staleness; called by the loop at least every second.
        A source that has nothing more to give (a replay at the end of its capture) has the
        framer give the frames of the bytes it still holds, once."""
        if self.source is None:
            return
        if self.source.finished and not self._flushed:
            self._flushed = True
            self._taking += 1
            try:
                try:
                    frames = self.framer.flush()
                except Exception as exc:  # as in process
                    self._framer_failed(exc, b"")
                    frames = []
                binary = self._frame_framer
                if binary is not None and binary.rejections != self._rejections_told:
                    self._framer_rejected(binary)  # as in process
                if frames:
                    self._take(frames, now)
            finally:
                self._taking += 1
        if self._block_framer is not None:
            self._quiet_end(self._block_framer, now)
        if self._ends.proving is not None and now - self._port_opened_at >= HUNG_UP_AT_ONCE_S:
            self._proven(now)
        if self._silent_limit_s is not None:
            self._check_silence(now, self._silent_limit_s)
            if self.source is None:
                return
        if self.dialogue is not None:
            self.dialogue.tick(now)
            if self.source is None:  # a write broke the port
                return
        self.check_stale(now)
        if self.shared_port.watching and (
            self.state == "stale" or self.rejects.damaged != self._damaged_at_open
        ):
            self.shared_port.trouble()  # another process may take its bytes: searched once

    def check_stale(self, now: float) -> None:
        """Up, but no frame for ``stale_after``: stale, with what came meanwhile. Also ends a
        warm-up whose time is over (logged once; frames check the time themselves), and the
        state of a sensor that flapped and has kept one since, sums up rejected frames once
        they are, and, up, checks whether every frame is rejected (``sensord.rejects``)."""
        self._log_settled()
        rejects = self.rejects
        if rejects.period is not None:
            rejects.sum_up(now)
        self._warm.check(now)
        if self._boots is not None:
            self._boots.settled(now)
        dialogue = self.dialogue
        if dialogue is not None and dialogue.setting_up:
            return  # set-up commands under way (a polled device is asked only after them)
        self._filter_watch.check(now, self.state == "up", self._channel_list, self._stale_after_s)
        last = self.last_frame_at if self.last_frame_at is not None else self._opened_at
        if self.state == "up" and now - last > self._stale_after_s:
            self._pauses.went_stale()
            self._stale_with_hint(silence_since(self, last), now, silent_for_s=round(now - last, 3))
        elif (
            self.state == "stale"
            and self.bytes_read != self._hinted_bytes
            and now >= self._hint_again_at
        ):
            # bytes came, still no frame: the hint follows them (the state, and so the log,
            # stays as it is)
            self._note_hint(silence_since(self, last), now)
        elif self.state == "up" and self.modbus is None:
            rejects.check(now)
            # a device power-cycled behind the open port, idle until started, answers every
            # poll with "not measuring" (or the polls that need it measuring, while it answers
            # the others): as stale as one that answers nothing
            if (
                dialogue is not None
                and (rejects.marked_invalid or dialogue.refuses_what_it_took)
                and dialogue.sets_up
                and now >= dialogue.rerun_at
                and dialogue.rerun(
                    now,
                    "the device marks every frame invalid"
                    if rejects.marked_invalid
                    else "the device refuses a poll request it answered before",
                )
            ):
                self._readings_at_invalid_rerun = self._readings_in()
                self._warm.again(now, "its set-up ran again")
            elif (
                self._readings_at_invalid_rerun is not None
                and dialogue is not None
                and self._readings_in() > self._readings_at_invalid_rerun
                # the readings of a request it answers all along are not those it refused
                and not dialogue.refuses_what_it_took
            ):
                self._readings_at_invalid_rerun = None  # it measures again
                dialogue.back_from_stale()
        if (
            dialogue is not None
            and self.state == "stale"
            and dialogue.reruns_while_stale
            and now >= dialogue.rerun_at
        ):
            dialogue.rerun(now, f"stale for {round(now - last, 1)} s")

    def _check_silence(self, now: float, limit_s: float) -> None:
        """A network port's connection that has carried no byte for ``limit_s``
        (:data:`SILENT_REOPEN_STALE_FACTOR` times ``stale_after``) while the sensor is stale
        is closed and opened again with the reconnect backoff: a serial server that hangs
        with the connection open (its kernel still acknowledging, so TCP keepalive sees
        nothing) recovers only when its client connects again. The sensor stays stale across
        it (up again at its next frame); the reopen counts in ``reconnects`` and
        ``silent_reconnects`` and is logged as a warning (once a minute at most), or at info
        when the connection opened before gave no reading either, only bytes such as the
        banner a serial server writes on every connection (the backoff grows then, as for a
        port that breaks again before it delivered: a server whose device is gone is not
        reconnected in a tight loop). Bytes are noticed here, not per chunk: ``bytes_read``
        is compared at each tick (every second, or every 5 s while no port of the reader
        delivers), which keeps the reading path as it is."""
        silent_s = self._silent_connection.silent_for(
            now, self.bytes_read, self._delivered_since_open
        )
        if silent_s is None:
            return
        source = self.source
        if self.state != "stale" or source is None or source.simulated or silent_s < limit_s:
            return
        reason = f"no bytes on the connection for {silent_s:.1f} s: reconnecting"
        self.silent_reconnects += 1
        fields: dict[str, Any] = {
            "port": source.url,
            "error": reason,
            "stale_after_s": self._stale_after_s,
        }
        spell = self._silent_connection.reopened(
            "the serial server keeps the connection open and passes nothing on (it hangs, or "
            "the device behind it is silent); a new connection is how a hung server recovers",
            fields,
        )
        if spell == 1:
            self.retry.succeeded()  # it carried bytes since it last opened: a fresh start
        self.close_source()
        self.retry.failed(now)
        self.last_error = reason
        self._ends.reopening_stale = True
        self._ends.closed_at = now

    def _port_shared(self) -> str | None:
        """What ``sensord.shared_port`` found on the port open now: another process that
        reads it (None: nothing found)."""
        port = self.source if self._bus_source is None else self._bus_source
        return port.shared_hint if isinstance(port, SerialSource) else None

    def _with_shared(self, hint: str | None) -> str | None:
        """``hint`` after what was found on the port (:meth:`_port_shared`): the likely cause
        of what else is wrong, so told first, in ``/status`` and in the log lines of a stale
        sensor alike."""
        shared = self._port_shared()
        if shared is None:
            return hint
        return shared if hint is None else f"{shared}; {hint}"

    def _shared_told(self, silence: dict[str, Any]) -> dict[str, Any]:
        """The fields of a stale sensor's log line, ``silence``, with its hint after what was
        found on its port (:meth:`_with_shared`)."""
        hint = self._with_shared(silence.get("hint"))
        return silence if hint is None else {**silence, "hint": hint}

    def _stale_with_hint(self, silence: dict[str, Any], now: float, **fields: Any) -> None:
        """Stale, with the hint of ``silence`` (logged with the state line, after ``fields``).
        The state and its hint change together: a snapshot (``/status``, on another thread)
        waits while ``_taking`` is odd, and never shows the stale sensor without its hint."""
        self._taking += 1
        try:
            self._set_state("stale", **fields, **self._shared_told(silence))
            self._note_hint(silence, now)
        finally:
            self._taking += 1

    def _note_hint(self, silence: dict[str, Any], now: float) -> None:
        """Keep the stale hint of ``silence`` for ``/status``; read again at the earliest
        ``stale_after_s`` later, and only if bytes came meanwhile."""
        self.stale_hint = silence.get("hint")
        self._hinted_bytes = self.bytes_read
        self._hint_again_at = now + self._stale_after_s

    def count_stale_from(self, at: float) -> None:
        """Staleness counts from ``at`` until a frame comes: a polled device is silent until
        asked, so from its first poll (set by ``dialogue``); on a connection that goes on with
        the staleness of those before it (see :meth:`opened`), from where it counted."""
        if self._opened_at < self._port_opened_at:
            return
        self._opened_at = at

    def next_deadline(self) -> float | None:
        """The earliest time ``tick`` has work to do (set-up, poll, a telegram's end that a
        quiet line makes), for the loop's timeout."""
        if self.source is None:
            return None
        due = None if self.dialogue is None else self.dialogue.next_deadline()
        if self._block_framer is not None:
            ends = self._block_framer.quiet_end_at(self._byte_at)
            if ends is not None and (due is None or ends < due):
                return ends
        return due

    @property
    def reads_telegrams(self) -> bool:
        """Whether this sensor frames DSMR telegrams (format dsmr, or ``parse.block = "dsmr"``),
        of which one may be held whole at its ``!`` (see ``end_whole``); not VE.Direct's or
        Gill's blocks."""
        config = self.config
        return self._block_framer is not None and (config.parse.block or config.format) == "dsmr"

    def end_whole(self) -> None:
        """The DSMR telegram or IEC 62056-21 readout held whole at its ``!`` (see
        ``disconnect``), which a quiet line would end, read at once, stamped when its last
        byte came: its port closes, the daemon stops (SIGTERM), or a reload stops the sensor
        (by ``handing_over``'s sensor when there is one), after what the kernel still buffers
        is read. Nothing when none is held, or the port is closed."""
        if self._block_framer is not None and self.source is not None:
            self._quiet_end(self._block_framer, math.inf)

    def hands_over_to(self, successor: SensorRuntime) -> bool:
        """Whether ``successor``, the sensor that reads this sensor's port after a reload that
        restarts or removes this one (not yet open), reads the telegrams this sensor's framer
        cuts meanwhile (``handing_over``): both read DSMR telegrams (format dsmr, or
        ``parse.block``) of the same device (``reads_device_of``: one path, or a by-id link
        and its ttyUSBn) in the same format and ``parse.block``, the device both or a
        simulation both (a meter's telegram is never a simulated sensor's reading, nor a
        simulated one the meter's)."""
        config = successor.config
        return (
            self._block_framer is not None
            and successor._block_framer is not None
            and successor.reads_device_of(self)
            and config.format == self.config.format
            and config.parse.block == self.config.parse.block
            and successor.simulated == self.simulated
        )

    @contextlib.contextmanager
    def handing_over(self, successor: SensorRuntime) -> Iterator[None]:
        """Meanwhile (a reload's read of what the kernel still buffers of this sensor's port,
        then ``end_whole``), the frames this sensor's framer cuts are read by ``successor``'s
        channels (see ``hands_over_to``), as they come, and counted as ``successor``'s
        framer's, not this sensor's, and so are the telegrams its framer rejects meanwhile (cut
        short, their CRC failed: counted and logged as ``successor``'s parse errors, never in
        the counters of a sensor that stops); the bytes stay this sensor's, which read them.
        The meter sends its next telegram 1 s (DSMR 5) or 10 s later: a telegram that a
        reload's read completes, or finds held whole at its ``!`` (its quiet end not yet come),
        would otherwise leave the sensor after the reload a gap of a telegram. The sensor's own
        ``_take`` and ``_blocks_rejected`` are shadowed on this sensor alone, for this while:
        no other chunk pays."""

        def take(frames: list[bytes], now: float, wall: float | None = None) -> None:
            self.framer.frames -= len(frames)
            successor.framer.frames += len(frames)
            successor._take(frames, now, wall)

        theirs = successor._block_framer
        assert theirs is not None  # ``hands_over_to``

        def rejected(blocks: BlockFramer) -> None:
            # a telegram rejected meanwhile (cut short, its CRC failed) is one the successor
            # would have read: counted as its framer's and told of in its name, as a telegram
            # read meanwhile is published as its own
            self._rejections_told = blocks.rejections
            told, their_told = self._rejected_told, successor._rejected_told
            for reason, n in blocks.rejected.items():
                new = n - told.get(reason, 0)
                if new > 0:
                    blocks.rejected[reason] -= new
                    theirs.rejected[reason] += new
                    their_told[reason] = their_told.get(reason, 0) + new
                    last = functools.partial(blocks.last_rejected, reason)
                    successor.rejects.framer_rejected(reason, last, new)

        vars(self)["_take"] = take
        vars(self)["_blocks_rejected"] = rejected
        try:
            yield
        finally:
            del vars(self)["_take"]
            del vars(self)["_blocks_rejected"]

    def _quiet_end(self, blocks: BlockFramer, now: float) -> None:
        """The telegram whose ``!`` came last, the line quiet since for the framer's
        ``quiet_s`` (``BlockFramer.quiet_end_at``) at the tick's time ``now`` (the loop's
        clock, which ``next_deadline`` was compared with: a tick it gives for the deadline
        ends the telegram, whatever the sensor's own clock reads): its readings are taken,
        stamped with the time its last byte came (``feed``'s last chunk), not the time the
        quiet was seen."""
        ends = blocks.quiet_end_at(self._byte_at)
        if ends is None or now < ends:
            return
        self._taking += 1
        try:
            try:
                frames = blocks.end_quiet()
            except Exception as exc:  # as in process
                self._framer_failed(exc, b"")
                return
            if blocks.rejections != self._rejections_told:
                self._blocks_rejected(blocks)
            if frames:
                at = self._byte_at
                self._take(frames, at, self._wall() - (self._clock() - at))
        finally:
            self._taking += 1

    # the dialogue's counters (``sensord.dialogue``)
    @property
    def poll_timeouts(self) -> int:
        return 0 if self.dialogue is None else self.dialogue.poll_timeouts

    @property
    def setup_ack_errors(self) -> dict[str, int]:
        if self.dialogue is None:
            return dict.fromkeys(ACK_ERROR_REASONS, 0)
        return self.dialogue.setup_ack_errors

    @property
    def setup_reruns(self) -> int:
        return 0 if self.dialogue is None else self.dialogue.setup_reruns

    # -- the read model ------------------------------------------------------------------------
    def snapshot(self) -> SensorSnapshot:
        """Every figure of this sensor at one moment; ``/metrics`` and ``/status`` both render
        this, so they cannot disagree on what a counter means. The moment is between two
        chunks the reader thread takes (see ``_taking``), never inside one: a chunk's frames
        are not counted before their readings are published."""
        deadline = 0.0
        while True:
            taking = self._taking
            if not taking & 1:
                snapshot = sensor_snapshot(self)
                if self._taking == taking:
                    return snapshot
            # a chunk is being taken on the reader thread: let it finish
            now = time.monotonic()
            if not deadline:
                deadline = now + SNAPSHOT_WAIT_S
            elif now > deadline:
                # chunk after chunk, without a pause: one moment in one
                return sensor_snapshot(self)
            time.sleep(0.0002)
