"""A polled dust or CO2 sensor warms up again after a silence only when the silence is one a
supply cut leaves (``sensord.dialogue.SILENT_S``), not for the runs of answers a lossy line
loses. Real ptys, the preset's simulated device (``PresetDevice``) driven by
tests/test_setup_reruns.py's ``Pms5003`` runner, time injected.

What a cut looks like on the bytes, by device:

* PMS5003: "Default mode is active after power up" (Plantower PMS5003 data manual V2.3), so a
  unit set to passive mode streams again once powered; its fan needs 30 s to settle ("Stable
  data should be got at least 30 seconds after the sensor wakeup", the same manual).
* SDS011: query mode and the working period survive the cut (Laser Dust Sensor Control
  Protocol V1.3: "The setting is still effective after power off"), sleep does not ("stay work
  state after power on"); its first answers read PM2.5 = PM10 = 0 while its fan spins up
  (ESPHome's ``esphome/components/sds011/sds011.cpp``: "not yet any valid data").
* MH-Z19: its preheat values for 3 minutes (the MH-Z19B datasheet's preheat time; WifWaf/MH-Z19
  issue #21: "0x184 for some seconds and for the rest of the 3 minutes 0x22B" after each
  power-off), here 410 ppm.

The lossy lines lose whole answers (not a byte) at random, seeded, at the rates measured in
the commit that brought ``SILENT_S``: one answer in five, one in twenty.
"""

from __future__ import annotations

import math
import random
from collections.abc import MutableMapping
from typing import Any

import pytest
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_frames_commands import Clock, read_all, sensor_config
from test_frames_field_quirks import Mhz19, mhz19_answer, open_sensor, run_polls, sds011_frame
from test_setup_reruns import LossyPms5003, Pms5003, pms_passive_on

from sensord.dialogue import SILENT_S
from sensord.dialogue_unasked import LATE_ANSWER_WITHIN_S
from sensord.formats.presets import PresetDevice, command_bytes
from sensord.sensor import SensorRuntime

#: Each preset's set-up, poll command and the channel whose readings are counted.
SETUPS = {
    "pms5003": (["passive_mode"], "read", "pm2_5_ug_m3"),
    "sds011": (["query_mode"], "query", "pm2_5_ug_m3"),
    "mhz19": ([], "read", "co2_ppm"),
}

#: The "why" of a warm-up after a silence of a polled device.
ANSWERED_AGAIN = "its polls are answered again"


class Device(PresetDevice):
    """A polled preset device whose answers to its poll a line loses at random (``loss``,
    drawn from ``rng``), and whose supply can be cut (``powered``): unpowered, it hears and
    sends nothing; powered again (``power_on``) it comes back as its manual has it (a PMS in
    active mode, an SDS011 in the mode its flash holds, its first ``zeros`` answers 0, an
    MH-Z19 with its preheat values for ``preheat`` answers)."""

    def __init__(self, preset: str, *, zeros: int = 0, preheat: int = 0) -> None:
        self.flash: dict[str, int] = {}
        super().__init__(preset, self.flash)
        self.preset = preset
        self.poll = command_bytes(preset, SETUPS[preset][1])
        self.rng = random.Random(0)
        self.loss = 0.0
        self.powered = True
        self.zeros = zeros
        self.preheat = preheat
        self.zeros_left = self.preheat_left = 0

    def power_on(self) -> None:
        """Powered anew: as its manual has it after a power-up."""
        PresetDevice.__init__(self, self.preset, self.flash)
        self.powered = True
        self.zeros_left, self.preheat_left = self.zeros, self.preheat

    @property
    def streaming(self) -> bool:
        return self.powered and super().streaming

    def receive(self, data: bytes) -> list[bytes | None]:
        if not self.powered:
            return []
        answers = super().receive(data)
        if self.preset == "mhz19" and data == self.poll:
            answers = [None]
        if data == self.poll and answers and self.rng.random() < self.loss:
            return []
        return answers

    def frame(self) -> bytes:
        if self.preset == "mhz19":
            if self.preheat_left:
                self.preheat_left -= 1
                return mhz19_answer(410)
            return mhz19_answer(650)
        if self.preset == "sds011":
            if self.zeros_left:
                self.zeros_left -= 1
                return sds011_frame(0, 0, b"\xa1\x60")
            return sds011_frame(35, 52, b"\xa1\x60")
        return b""


class Runner(Pms5003):
    """``Pms5003``'s runner over :class:`Device`: its data frames are the device's own."""

    def __init__(self, pair: PtyPair, clock: Clock, device: Device) -> None:
        super().__init__(pair, clock)
        self.device = device
        self.own = device

    def frame(self) -> bytes:
        own = self.own.frame()
        return own or super().frame()


def polled(pair: PtyPair, clock: Clock, preset: str, interval_s: float) -> SensorRuntime:
    setup, command, _ = SETUPS[preset]
    table = {
        "port": pair.path,
        "preset": preset,
        "simulate": "never",
        "setup": setup,
        "poll": {"command": command, "interval_s": interval_s},
    }
    rt = SensorRuntime(sensor_config(table), clock=clock, wall_clock=clock, rng=random.Random(1))
    assert rt.try_open()
    return rt


def published(rt: SensorRuntime, preset: str) -> int:
    return rt.channels[SETUPS[preset][2]].chain.stages[0].records_in


def warmed_again(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    """The lines of the warm-ups after the open's."""
    return [e for e in logs if str(e["event"]).startswith("warming up")][1:]


@pytest.mark.parametrize(
    ("preset", "interval_s", "loss", "seconds"),
    [
        ("pms5003", 0.2, 1 / 5, 120.0),
        ("pms5003", 0.5, 1 / 5, 120.0),
        ("pms5003", 1.0, 1 / 20, 1200.0),
        ("sds011", 0.5, 1 / 5, 120.0),
        ("mhz19", 1.0, 1 / 5, 300.0),
    ],
)
def test_a_polled_sensor_on_a_line_that_loses_answers_does_not_warm_up_again(
    preset: str, interval_s: float, loss: float, seconds: float
) -> None:
    """A sound device whose line loses whole answers at random (seeded; a long RS-485 run, a
    USB adapter that drops bytes): two or more polls running unanswered come every few
    seconds to minutes, but none leaves the device without a frame for ``SILENT_S``, as a
    supply cut does. It never warms up again, and every answer that came is published
    (measured on the code before ``SILENT_S``: 104 warm-ups an hour for a PMS at 0.2 s polls
    and one answer in five lost, 9 an hour at 1 s polls and one in twenty)."""
    clock = Clock()
    device = Device(preset)
    with PtyPair() as pair, capture_logs() as logs:
        rt = polled(pair, clock, preset, interval_s)
        runner = Runner(pair, clock, device)
        runner.run(rt, clock.now + rt.config.warmup_s + 5.0)
        before, ignored = published(rt, preset), rt.ignored
        assert before > 0
        device.rng = random.Random(f"{preset} {interval_s} {loss}")
        device.loss = loss
        polls = rt.poll_timeouts
        runner.run(rt, clock.now + seconds)
        assert rt.state == "up"
        rt.stop()
    assert rt.poll_timeouts - polls >= loss * seconds / interval_s / 2  # the line lost them
    assert warmed_again(logs) == []
    assert rt.setup_reruns == 0
    assert rt.ignored == ignored  # every answer that came whole published
    assert published(rt, preset) - before >= (1 - 2 * loss) * seconds / interval_s


def cut_run(
    preset: str, interval_s: float, cut_s: float
) -> tuple[list[MutableMapping[str, Any]], int]:
    """A ``preset`` device polled every ``interval_s`` on a sound line, its supply cut for
    ``cut_s`` once its warm-up is over and back (:class:`Device`): the warm-ups after the
    open's, and the readings published in the 25 s after the power-up."""
    clock = Clock()
    device = Device(preset, zeros=10, preheat=40)
    with PtyPair() as pair, capture_logs() as logs:
        rt = polled(pair, clock, preset, interval_s)
        runner = Runner(pair, clock, device)
        runner.run(rt, clock.now + rt.config.warmup_s + 30.0)
        before = published(rt, preset)
        assert before > 0
        device.powered = False
        runner.run(rt, clock.now + cut_s)
        on = clock.now
        device.power_on()
        if preset == "pms5003":
            runner.next_frame_at = on + 1.0  # its first frame a second after power-up
        runner.run(rt, on + 25.0)  # within the 30 s of a PMS's or an SDS011's warm-up
        spun_up = published(rt, preset) - before
        runner.run(rt, on + rt.config.warmup_s + 60.0)
        assert published(rt, preset) - before > spun_up  # published again after the warm-up
        rt.stop()
    return warmed_again(logs), spun_up


@pytest.mark.parametrize(
    ("preset", "interval_s", "cut_s"),
    [
        ("pms5003", 0.2, 20.0),
        ("pms5003", 1.0, 20.0),
        ("pms5003", 0.2, 2.0),
        ("pms5003", 1.0, 2.0),
        ("sds011", 0.5, 20.0),
        ("sds011", 0.5, 3.0),
        ("mhz19", 1.0, 20.0),
        ("mhz19", 5.0, 10.0),
    ],
)
def test_a_polled_sensor_whose_supply_is_cut_warms_up_again(
    preset: str, interval_s: float, cut_s: float
) -> None:
    """The same devices on a sound line, their supply cut for ``cut_s`` and back, as their
    manuals have them after a power-up (the module docstring): a PMS streams in active mode
    a frame a second (its first a second after the power-up), answering its reads too; an
    SDS011 answers in query mode with zeros first; an MH-Z19 answers with its preheat values
    (its boot's answers, which tell a shorter cut, are left out: they fell between two polls;
    tests/test_frames_field_quirks.py plays them). Each warms up again once, and after a
    silence of ``SILENT_S`` or more at its first frame, so that none of the values of its
    spin-up or preheat is published (a PMS's first frame may be the answer of the poll before
    the one that tells the silence over). An SDS011's zeros warm it up after a shorter silence
    too. A PMS's shorter cut is told by its stream: it warms up a few seconds after its
    power-up (test_a_pms_whose_supply_is_cut_for_seconds_publishes_none_of_its_spin_up), so
    only the answers of the polls before (``SPUN_UP_S`` of them) are published."""
    again, spun_up = cut_run(preset, interval_s, cut_s)
    assert len(again) == 1, [e.get("why") for e in again]
    if preset == "pms5003" and cut_s < SILENT_S:
        assert spun_up <= SPUN_UP_S / interval_s
    else:
        assert spun_up <= (1 if preset == "pms5003" else 0)


#: How long after its power-up a PMS cut for a few seconds is warmed up at the latest: its
#: first streamed frame a second after it, each poll answered in time for
#: ``LATE_ANSWER_WITHIN_S`` (the cut's polls owed no more but the last), and two streamed
#: frames a second apart, the first of them that last one's late reply for all that is known.
SPUN_UP_S = 1.0 + LATE_ANSWER_WITHIN_S + 3.0


@pytest.mark.parametrize(
    ("interval_s", "cut_s"),
    [(0.2, 2.0), (0.3, 2.0), (0.2, 4.0), (0.2, 7.0), (0.5, 7.0), (1.0, 7.0)],
)
def test_a_pms_whose_supply_is_cut_for_seconds_publishes_none_of_its_spin_up(
    interval_s: float, cut_s: float
) -> None:
    """A PMS5003 in passive mode polled every 0.2 to 1 s whose supply is cut for 2 to 7 s,
    shorter than ``SILENT_S``: powered again it is in active mode ("Default mode is active
    after power up", its data manual), answers its reads at once and streams, its first
    frame a second after the power-up, while its fan spins up ("Stable data should be got at
    least 30 seconds after the sensor wakeup"). Its streamed frames first pass for the late
    replies of the polls the cut left unanswered; once each poll was answered in time for
    ``LATE_ANSWER_WITHIN_S``, those are owed no more but the last, and its next streamed
    frames tell the power-up: it warms up then, once, and of the 25 s after the power-up
    only the answers of the polls of its first ``SPUN_UP_S`` are published. A cut that makes
    it stale (5 s at these paces) writes no set-up while it is off, which, written as its
    supply came back, would set it passive before its stream showed. Measured on the code
    before: 58 spin-up readings published at 0.2 s polls after a 2 or 4 s cut (its streamed
    frames taken for the late replies of the cut's last 2 s of polls for as long as every poll
    was answered), 29 at 0.3 s; after a 7 s cut no warm-up at all and 116 at 0.2 s, 47 at
    0.5 s, 24 at 1 s."""
    again, spun_up = cut_run("pms5003", interval_s, cut_s)
    assert [e.get("why") for e in again] == ["it streams unasked, as it does once powered anew"]
    assert spun_up <= SPUN_UP_S / interval_s


@pytest.mark.parametrize(
    ("preset", "interval_s", "cut_s", "polls"),
    [("mhz19", 1.0, 20.0, 20), ("mhz19", 5.0, 10.0, 2), ("sds011", 0.5, 3.0, 6)],
)
def test_the_line_of_a_warm_up_after_a_silence_says_how_long_it_lasted(
    preset: str, interval_s: float, cut_s: float, polls: int
) -> None:
    """The line of a warm-up after a silence tells the polls left unanswered in a row and how
    long no frame came (from the last before the silence to the first after it): a cut's
    length and a poll interval or two; an SDS011's zeros warm it up after a silence shorter
    than ``SILENT_S``."""
    again, _ = cut_run(preset, interval_s, cut_s)
    [line] = again
    assert line["why"] == ANSWERED_AGAIN
    assert line["unanswered_polls"] == pytest.approx(polls, abs=2)
    silent_s = line["silent_s"]
    assert isinstance(silent_s, float)
    assert cut_s <= silent_s <= cut_s + 2.0 + 2 * interval_s


class RunsLostMhz19(Mhz19):
    """An MH-Z19 answering 650 ppm (``abc_off`` acknowledged and counted, ``Mhz19``) whose
    line loses the answers of ``run`` polls in a row every ``every`` polls, not a byte of
    them coming, its supply on all along: a long RS-485 run or a USB adapter that drops
    what it reads now and then."""

    def __init__(self, every: int, run: int) -> None:
        super().__init__([mhz19_answer(650)])
        self.every = every
        self.run = run
        self.polls = 0

    def __call__(self, written: bytes) -> bytes:
        out = super().__call__(written)
        if command_bytes("mhz19", "read") in written:
            self.polls += 1
            if self.polls % self.every < self.run:
                return b""
        return out


@pytest.mark.parametrize("run", [6, 8])
def test_a_fast_polled_mhz19_a_lossy_line_makes_stale_does_not_store_its_setting_again(
    run: int,
) -> None:
    """An MH-Z19 with ``setup = ["abc_off"]`` polled every second (stale after 5 s, three
    polls' worth and at least 5 s) whose line loses ``run`` answers in a row every 40 polls:
    it goes stale each time and answers again 7 or 9 s after its last answer, shorter than
    ``SILENT_S``. ``abc_off`` writes its EEPROM (command 0x79), and the device kept it: it
    is not written again for such a spell, nor is the sensor warmed up. A supply cut of
    12 s after that (``SILENT_S`` and more without a frame; its boot's answers between two
    polls, its preheat values first) has it written again, once, and acknowledged."""
    clock = Clock()
    device = RunsLostMhz19(every=40, run=run)
    table = {"preset": "mhz19", "warmup_s": 20, "setup": ["abc_off"], "poll": {"interval_s": 1}}
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        # the spells, seen a second apart (their state lines are held back once they flap)
        stale: list[float] = []
        until = clock.now + 400.0
        while clock.now < until:
            run_polls(rt, pair, clock, device, clock.now + 1.0)
            if rt.state == "stale" and (not stale or clock.now - stale[-1] > 10.0):
                stale.append(clock.now)
        assert len(stale) >= 9
        assert rt.poll_timeouts >= 9 * run
        assert (device.abc_off_writes, rt.setup_reruns) == (1, 0)
        assert warmed_again(logs) == []
        device.every = 10**9  # a sound line from here
        run_polls(rt, pair, clock, device, clock.now + 30.0)
        device.powered = False
        run_polls(rt, pair, clock, device, clock.now + 12.0)
        device.restart([mhz19_answer(410)] * 5 + [mhz19_answer(700)])
        run_polls(rt, pair, clock, device, clock.now + 40.0)
        assert rt.state == "up"
        rt.stop()
    assert (device.abc_off_writes, rt.setup_reruns) == (2, 1)
    assert not device.abc
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
    [line] = warmed_again(logs)
    assert line["why"] == ANSWERED_AGAIN


@pytest.mark.parametrize(
    ("answer", "zero"),
    [
        pytest.param(mhz19_answer(0, temperature=0), True, id="0 ppm, no temperature"),
        pytest.param(mhz19_answer(0, temperature=62), True, id="0 ppm at 22 °C"),
        pytest.param(mhz19_answer(0, temperature=40), True, id="0 ppm at 0 °C"),
        pytest.param(mhz19_answer(650, temperature=40), False, id="650 ppm at 0 °C"),
    ],
)
def test_an_mhz19_that_answers_0_ppm_after_a_short_silence_warms_up_and_is_set_up_again(
    answer: bytes, zero: bool
) -> None:
    """An MH-Z19 with ``setup = ["abc_off"]`` polled every second whose line goes quiet for
    7 s (stale after 5 s, shorter than ``SILENT_S``) and whose first three answers after it
    are ``answer``. 0 ppm is below the zero point of every MH-Z19 (400 ppm, the MH-Z19B
    datasheet), so no air reads it: a unit that answers it does not measure (warming up,
    or after a fault), whatever its temperature byte says (byte 4 is its thermistor's plus
    40: 0 °C is byte 40; byte 0 is an MH-Z19C's "no temperature", strange-v/MHZ19 issue
    #14). Such a silence ends as a supply cut's: it warms up again, none of those answers
    published, and ``abc_off`` is written again. A sound answer at 0 °C ends it as a line's
    silence: no warm-up, no write, the reading published."""
    clock = Clock()
    device = Mhz19([mhz19_answer(650)])
    table = {"preset": "mhz19", "warmup_s": 20, "setup": ["abc_off"], "poll": {"interval_s": 1}}
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        run_polls(rt, pair, clock, device, clock.now + 40.0)
        device.powered = False
        run_polls(rt, pair, clock, device, clock.now + 6.5)
        assert rt.state == "stale"
        device.restart([answer] * 3 + [mhz19_answer(700)])
        got = run_polls(rt, pair, clock, device, clock.now + 40.0)
        assert rt.state == "up"
        rt.stop()
    assert (device.abc_off_writes, rt.setup_reruns) == ((2, 1) if zero else (1, 0))
    assert [e["why"] for e in warmed_again(logs)] == ([ANSWERED_AGAIN] if zero else [])
    values = {value for _, value in got}
    assert values == ({700.0} if zero else {650.0, 700.0})


@pytest.mark.parametrize(
    ("interval_s", "loss", "most"), [(0.5, 1 / 20, 0), (1.0, 1 / 5, 3)], ids=["0.5 s", "1 s"]
)
def test_a_pms_whose_answers_are_lost_and_late_is_seldom_warmed_up_again(
    interval_s: float, loss: float, most: int
) -> None:
    """A sound PMS5003 in passive mode polled every 0.5 or 1 s on a line that loses answers
    at random (one in twenty, one in five), each answer 0 to 200 ms after its request but one
    in eight 1.0 to 1.9 s late (fu-hsi/PMS issue #5: a PMS7003's answers missed a 1 s timeout
    once in eight, never a 2 s one), the answers queued behind a late one coming after it,
    eight runs of five minutes (seeded). A late answer after lost ones comes alone, as early
    after the next poll as an answer in time, and the answers queued behind it come after
    it: they are the late replies of the polls before, not a stream. Warmed up again for
    them: 0 and 2 times in all on the code before the polls of a silence were forgiven, 24
    and 5 times when they were forgiven at the first frame alone in time after it, now 0 and
    3 (a late answer between lost ones at these paces still passes for a streamed frame now
    and then: ``FAST_POLLS_HINT``'s case)."""
    warmed = 0
    for seed in range(8):
        rng = random.Random(f"{interval_s} {loss} {seed}")
        clock = Clock()
        device = LossyPms5003()
        with PtyPair() as pair, capture_logs() as logs:
            rt = pms_passive_on(pair, clock, warmup_s=30.0, interval_s=interval_s)
            pms = Pms5003(pair, clock)
            pms.device = device
            pms.run(rt, clock.now + 35.0)
            polls = math.ceil(300.0 / interval_s)
            first = device.reads + 1
            device.lost.update(n for n in range(first, first + polls + 10) if rng.random() < loss)
            pms.answer_delays = [
                rng.uniform(1.0, 1.9) if rng.randrange(8) == 0 else rng.uniform(0.0, 0.2)
                for _ in range(polls + 10)
            ]
            pms.run(rt, clock.now + 300.0)
            assert rt.state == "up"
            rt.stop()
        assert rt.poll_timeouts >= loss * polls / 2
        warmed += len(warmed_again(logs))
    assert warmed <= most


def plantower_frame(words: list[int]) -> bytes:
    """A Plantower frame of ``words`` (its length field counts them and the sum's two bytes),
    its 16-bit sum computed."""
    body = b"\x42\x4d" + (2 * len(words) + 2).to_bytes(2, "big")
    body += b"".join(w.to_bytes(2, "big") for w in words)
    return body + (sum(body) % 65536).to_bytes(2, "big")


#: Of each Plantower preset, its words after the particle fields (the T: 22.5 °C, 45.0 % and
#: the reserved word; the S: HCHO 30 µg/m³; the ST: HCHO, 22.5 °C, 45.0 %, the reserved word,
#: version 0x91 and error code 0; the PMS5003: the reserved word) and how many particle
#: fields lead them (six mass concentrations, then the particle counts: four of the T's).
PARTICLES_THEN = {
    "pms5003": (12, [0]),
    "pms5003t": (10, [225, 450, 0]),
    "pms5003s": (12, [30]),
    "pms5003st": (12, [30, 225, 450, 0, 0x9100]),
}


@pytest.mark.parametrize("preset", list(PARTICLES_THEN))
@pytest.mark.parametrize("zeros", [True, False], ids=["particles 0", "particles counted"])
def test_a_streaming_pms_whose_particle_fields_read_0_after_a_silence_warms_up(
    preset: str, zeros: bool
) -> None:
    """A PMS in active mode (streaming, not polled) whose supply is cut (or its SET pin puts
    it to sleep) for a minute behind the open port: it goes stale, and its first frames when
    it streams again read 0 in every particle field, as the PMS's do after a sleep/wake cycle
    (avaldebe/PyPMS issue #3, "Discard invalid observations after wake up": PM values with
    every particle count 0). The T, S and ST variants carry besides what no fan or laser
    measures: a temperature and humidity from their own sensor and the S and ST's
    formaldehyde from an electrochemical cell (PMS5003T and PMS5003ST data manuals: data 11
    and 12, and 13 to 15), which read as they did before the cut. The particle fields decide:
    such a frame starts a warm-up of every variant, none of its zeros published. A frame
    whose particles are counted ends the silence as before: no warm-up. The sensor's
    ``warmup_after_silence`` is off (a unit whose SET pin another program drives), so the
    frames' values alone tell the wake."""
    clock = Clock()
    particles, then = PARTICLES_THEN[preset]
    sound = plantower_frame([5, 7, 8, 5, 7, 8, 918, 262, 44, 4, 2, 1][:particles] + then)
    spinning = plantower_frame([0] * particles + then)
    channel = "pm2_5_ug_m3"
    with PtyPair() as pair, capture_logs() as logs:
        table = {"preset": preset, "warmup_s": 30.0, "warmup_after_silence": False}
        rt = open_sensor(pair, clock, table)
        start = clock.now
        got: list[float] = []
        while clock.now < start + 200.0:
            clock.now += 1.0
            rt.tick(clock.now)
            if start + 60.0 <= clock.now < start + 120.0:
                continue  # unpowered
            frame = spinning if zeros and start + 120.0 <= clock.now < start + 130.0 else sound
            before = rt.channels[channel].chain.stages[0].records_in
            pair.write(frame)
            read_all(rt, len(frame))
            if rt.channels[channel].chain.stages[0].records_in > before:
                got.append(clock.now)
        assert rt.state == "up"
        rt.stop()
    back = start + 120.0
    warmed = [e["why"] for e in warmed_again(logs)]
    if zeros:
        assert warmed == ["its frames come again after a silence, every value 0"]
        assert not [at for at in got if back <= at < back + 30.0]
    else:
        assert warmed == []
        assert [at for at in got if back <= at < back + 30.0]
