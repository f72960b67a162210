"""Whether the frames that end a sensor's silence come from a device that lost its supply, was
asleep or was powered anew, and so warms up again (``SilenceEnd``).

A sensor's silence is a stale spell, or, of a polled device, ``SILENT_POLLS`` requests in a
row left unanswered (``SensorRuntime.went_silent``). The sensor ends it at the first frame
after it (``SensorRuntime._silence_ended``: a stale sensor is up again) and asks
``SilenceEnd`` what the silence was: whether a polled device whose set-up runs again only once
it answers may have lost its supply in it (``supply_may_have_failed``), whether its answer
after it is a device's powered anew (``powered_anew``), and whether the device warms up again
(``warm_again``). A streaming device that went on sending frames a noisy line spoilt, or whose
zeros are readings (a device on a working period), does not.

It reads its sensor (its configuration, its parser and frame framer, its bytes and quiet
stretches since the last frame, its warm-up, its dialogue) only through ``SilentSensor``, held
weakly: a sensor removed at a reload is freed with its last reference.
"""

from __future__ import annotations

import math
import weakref
from typing import TYPE_CHECKING, Protocol

from sensord.config_sensor import SensorConfig
from sensord.errors import NotMeasuredError
from sensord.formats.base import Decoder
from sensord.pauses import SteadyPauses

if TYPE_CHECKING:  # loaded by the sensors that use them
    from sensord.dialogue import Dialogue
    from sensord.formats.frames import FrameFramer

__all__ = [
    "QUIET_SHARE_OF_STALE",
    "SILENCE_NOISE_BYTES",
    "SILENCE_REJECTED_CANDIDATES",
    "SUPPLY_GLITCH_BYTES",
    "SilenceEnd",
    "SilentSensor",
    "Warming",
]

#: The most bytes besides its frames a device that streams may have sent between its last
#: frame and the first after it was stale for the pause to count as a silence
#: (``warmup_after_silence``): a frame cut short when it fell asleep and a little noise as it
#: wakes. More means it went on sending frames that were all rejected: it did not sleep;
#: unless a frame framer found no more than ``SILENCE_REJECTED_CANDIDATES`` candidates in them.
SILENCE_NOISE_BYTES = 48

#: The most candidate frames a frame framer may have rejected between a streaming device's
#: last frame and the first after it was stale for the pause to count as a silence whatever
#: the number of bytes: the frame cut short when it fell asleep or lost its supply. The bytes
#: besides are no frames: a burst as its supply comes back (a TX line held low reads as
#: ``00`` bytes, a sagging one as garbage) holds no start bytes, while a device that went on
#: streaming on a line that spoils its frames gives a rejected candidate per frame.
SILENCE_REJECTED_CANDIDATES = 1

#: The share of its stale timeout that a streaming device must have sent no byte at a
#: stretch, between its last frame and the first after it was stale, for the pause to count
#: as a silence (``warmup_after_silence``). A device that sleeps or loses its supply sends
#: nothing from the frame it cut short until it runs again, at least the stale timeout; one
#: that goes on streaming on a line that spoils its frames (their start bytes lost, which
#: leaves a frame framer no candidate to reject) sends a frame every interval, and the stale
#: timeout is three intervals at least (``SensorConfig.stale_after``, unless configured): 5 s
#: for the PMS presets, whose frames come every 2.3 s at the longest (the PMS5003 datasheet's
#: "stable mode"; 200 to 800 ms in its "fast mode").
QUIET_SHARE_OF_STALE = 0.5

#: The most bytes besides its frames a polled device whose set-up runs again only once it
#: answers (``Dialogue.reruns_while_stale``: an MH-Z19) may have sent in a stale spell for the
#: spell to count as one in which it may have lost its supply: a byte or two that the UART reads
#: as the supply falls or comes back. A line that drops bytes passes the rest of each answer
#: it spoils, more than that over the polls of a spell.
SUPPLY_GLITCH_BYTES = 2


class Warming(Protocol):
    """What ``SilenceEnd`` reads and sets of its sensor's warm-up (``sensord.warm_up.WarmUp``)."""

    #: the readings taken when the last warm-up began, and when it began
    readings_at: int
    began: float
    #: the last warm-up began when a polled device answered again after a silence
    by_silence: bool

    def again(self, now: float, why: str | None, **told: float | None) -> None:
        """The device may have just been powered or woken at ``now``: it warms up again."""
        ...


class SilentSensor(Protocol):
    """What ``SilenceEnd`` reads of its sensor (``SensorRuntime``)."""

    @property
    def config(self) -> SensorConfig:
        """The sensor's configuration (its poll and ``warmup_after_silence``)."""
        ...

    @property
    def parser(self) -> Decoder:
        """The parser of this connection's frames."""
        ...

    @property
    def dialogue(self) -> Dialogue | None:
        """The sensor's set-up commands and polls (None: it has neither)."""
        ...

    @property
    def bytes_read(self) -> int:
        """Bytes read so far."""
        ...

    @property
    def _read_at_frame(self) -> int:
        """``bytes_read`` when the last frame came (or the port opened)."""
        ...

    @property
    def _rejections_at_frame(self) -> int:
        """The frame framer's rejected candidates when the last frame came."""
        ...

    @property
    def _quiet_s(self) -> float:
        """The longest stretch without a byte since the last frame's chunk."""
        ...

    @property
    def _stale_after_s(self) -> float:
        """How long the sensor goes without a frame before it is stale."""
        ...

    @property
    def _frame_framer(self) -> FrameFramer | None:
        """Its binary framer (None: its format has none)."""
        ...

    @property
    def _pauses(self) -> SteadyPauses:
        """Whether its device's frames come on a steady period longer than the stale timeout."""
        ...

    @property
    def _warm(self) -> Warming:
        """Its device's warm-up."""
        ...

    def _readings_in(self) -> int:
        """Readings taken into the channels' first stages so far."""
        ...


class SilenceEnd:
    """See the module docstring."""

    def __init__(self, sensor: SilentSensor, config: SensorConfig) -> None:
        # held weakly: the sensor owns it
        self._sensor: SilentSensor = weakref.proxy(sensor)
        #: the set-up gives the device a working period (an SDS011's ``working_period=N``,
        #: N > 0): it sends one frame a period, after its fan ran, each a measurement
        self._periodic = False
        #: the channels whose readings all 0 tell a device that does not measure
        #: (``_reads_zero``; None: every field's)
        self._zero_channels: frozenset[str] | None = None
        if config.preset is not None:
            from sensord.formats.presets import (  # noqa: PLC0415  (loaded by a sensor with a preset)
                unmeasured_zero,
                working_period_s,
            )

            self._periodic = working_period_s(config.preset, config.setup_names()) > 0.0
            self._zero_channels = unmeasured_zero(config.preset)

    def supply_may_have_failed(self, frames: list[bytes]) -> bool:
        """Whether a polled device whose set-up runs again only once it answers sent no more
        than :data:`SUPPLY_GLITCH_BYTES` besides ``frames`` in its stale spell: it sent
        nothing, and may have lost its supply (a polled MH-Z19 is set up again only after such
        a spell: a line that drops bytes passes the rest of the answers it spoils)."""
        sensor = self._sensor
        return (
            sensor.bytes_read - sensor._read_at_frame - sum(map(len, frames)) <= SUPPLY_GLITCH_BYTES
        )

    def warm_again(self, frames: list[bytes], now: float, previous: float | None) -> None:
        """``frames`` came at ``now`` after a silence (the last frame before them came at
        ``previous``), of a stale sensor or a polled device: a device that may have lost its
        supply warms up again: a polled one that answers again (the MH-Z19's answers after a
        power-up are its preheat's), unless its polls were answered all through, their frames
        spoilt on the line (``Dialogue.powered_through``), a streaming one with
        ``warmup_after_silence`` whose frames come again after it was stale, and, without it,
        one whose first frame after it was stale reads 0 in every field (``_reads_zero``). A
        polled device's silence counts when no frame came for ``Dialogue.silent_s`` (a line
        that loses answers leaves shorter ones) or its first answer after it reads 0 in every
        field; its line tells the polls left unanswered in a row and how long no frame
        came."""
        sensor = self._sensor
        polled = sensor.config.poll is not None
        dialogue = sensor.dialogue
        if dialogue is not None and dialogue.powered_through:
            # stale while its polls were answered, their frames spoilt on the line (an
            # MH-Z19's answers that lost their first byte, a passive PMS's frames that lost a
            # start byte): no silence, no power-up
            return
        warm = sensor._warm
        # not again before a reading was published after the last warm-up: a line that
        # loses a few answers (or frames) in a row now and then would hold every one back;
        # but again when no frame came since that warm-up began (asleep or off since the
        # port opened, or since a reload opened it again): it covered none; and, for a
        # polled device, when that warm-up was not begun by such a silence (the open's, a
        # boot's): the supply cut in it restarted the device's own warm-up
        if not (
            sensor._readings_in() > warm.readings_at
            or previous is None
            or previous < warm.began
            or (polled and not warm.by_silence)
        ):
            return
        if polled:
            assert dialogue is not None  # a polled sensor has one
            silent_s = math.inf if previous is None else now - previous
            if not self.powered_anew(frames, now, previous, dialogue):
                return
            warm.again(
                now,
                "its polls are answered again",
                unanswered_polls=dialogue.silent_polls,
                silent_s=round(silent_s, 3) if previous is not None else None,
            )
            warm.by_silence = True
        elif sensor.config.warmup_after_silence and self._silent_since_frame(frames):
            warm.again(now, "its frames come again after a silence")
        elif self._reads_zero(frames):
            warm.again(now, "its frames come again after a silence, every value 0")

    def powered_anew(
        self, frames: list[bytes], now: float, previous: float | None, dialogue: Dialogue
    ) -> bool:
        """Whether the silence of a polled device that ``frames``, come at ``now``, end (the
        last frame before them at ``previous``) is one a supply cut leaves: no frame for
        ``Dialogue.silent_s`` (shorter, it is what a line that loses answers leaves), or the
        answer that ends it reads 0 (``_reads_zero``: an SDS011's fan spinning up)."""
        return previous is None or now - previous >= dialogue.silent_s or self._reads_zero(frames)

    def _silent_since_frame(self, frames: list[bytes]) -> bool:
        """Whether a streaming device whose ``frames`` come after it was stale sent no frame
        since the last frame's chunk, not frames that were all rejected (a noisy line): it
        fell quiet, no byte for half the stale timeout at a stretch or longer
        (:data:`QUIET_SHARE_OF_STALE`), and the bytes besides ``frames`` are few
        (``SILENCE_NOISE_BYTES``), or a frame framer found no more than
        ``SILENCE_REJECTED_CANDIDATES`` candidates in them. A device whose bytes kept coming
        all through the spell went on sending frames that the line spoilt, their start
        bytes too (a frame framer finds no candidate in frames without them): its fan never
        stopped."""
        sensor = self._sensor
        if sensor._quiet_s < QUIET_SHARE_OF_STALE * sensor._stale_after_s:
            return False
        if sensor.bytes_read - sensor._read_at_frame - sum(map(len, frames)) <= SILENCE_NOISE_BYTES:
            return True
        binary = sensor._frame_framer
        return (
            binary is not None
            and binary.rejections - sensor._rejections_at_frame <= SILENCE_REJECTED_CANDIDATES
        )

    def _reads_zero(self, frames: list[bytes]) -> bool:
        """Whether the first of ``frames`` (binary frames, the first after a silence) that
        holds values reads exactly 0 in every field: what a device powered anew sends before
        it measures (an SDS011 while its fan spins up, PM2.5 and PM10 both 0). A field the
        device marks not available (its ``not_available`` value: an MH-Z19C's temperature
        byte 0) is no value, and the frame's others decide; of a preset whose zero in some
        fields is a reading, only the others count (``presets.unmeasured_zero``: a PMS's
        particle fields, not a PMS5003T's or ST's temperature and humidity nor an S's or
        ST's formaldehyde; an MH-Z19's CO2 alone, its temperature byte its thermistor's,
        where 0 °C is a reading).
        Not for a device on a working period, whose every frame is a measurement, 0 in very
        clean air (an SDS011 sends its frame after its fan ran for 30 s, also the first after
        a power cut: the sensor keeps its working period through one): one its set-up sets
        (``working_period=N``), or whose frames come on a steady period longer than the
        stale timeout (``pause_hint``: a period another program set)."""
        sensor = self._sensor
        if sensor._frame_framer is None or sensor._pauses.hint is not None or self._periodic:
            return False
        zero = self._zero_channels
        parse = sensor.parser
        for frame in frames:
            try:
                pairs = parse(frame)
            except NotMeasuredError as exc:  # the fields it marks not available hold none
                pairs = exc.kept
            except Exception:  # counted when the frame is parsed in turn
                return False
            if zero is not None:
                pairs = [(channel, value) for channel, value in pairs if channel in zero]
            if pairs:
                return not any(value for _, value in pairs)
        return False
