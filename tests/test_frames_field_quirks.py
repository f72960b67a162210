"""Binary-framed sensors as they behave in the field, played on real ptys against the presets.

Each test plays what a device is known to send, with its origin:

* PMSA003 and PMS5003 acknowledging a mode command with ``42 4D 00 04 E1 00 01 74`` (the
  8-byte reply of the "Expected Response" table of a public Pms5003 Arduino example, the one
  tests/test_frames_commands.py uses) between their data frames, awaited or late.
* PMS7003 frames whose last data word carries the sensor's version and error code bytes:
  public PMSx003 readers name byte 28 the version (``0x80`` PMS5003, ``0x91`` PMS7003,
  ``0x97`` PMSA003, in a pmsx003 reader's ``PMSVer`` table) and byte 29 the error code
  (``VERSION 26``, ``ERROR_CODE 27`` counted from the first data byte in a PMS7003.h).
* A PMS after power-up or wake-up whose first frames carry PM values and zero particle
  counts (avaldebe/PyPMS issue #3, "Discard invalid observations after wake up").
* A PMS whose supply sags: a frame cut off mid-way, bytes of no frame, then whole frames.
* SDS011 ``AA C5`` replies to another program's commands between its ``AA C0`` data frames
  (the Laser Dust Sensor Control Protocol V1.3's reply layout), with its own device id.
* An SDS011 powered anew whose first frames read PM2.5 = PM10 = 0 while its fan spins up:
  ESPHome's ``esphome/components/sds011/sds011.cpp`` (``parse_data_``: "not yet any valid
  data" when both are 0) and PyPMS's ``sds01x.py`` (``SensorWarmingUp``, "message empty")
  drop such frames.
* An SDS011 asleep that answers the first ``work`` command with five bytes of no frame
  (``AD 50 10 5E DD``) and the second with ``AA C5 06 01 01 00 EC E1 D5 AB``, the bytes
  recorded in lewapek/sds-dust-sensors-arduino-library issue #6 ("Issue when waking up").
* An MH-Z19 that restarts (a supply that sags) while its port stays open: during its boot
  it answers the read request with bytes 6..7 = 15000 (``3A 98``), which is no measurement,
  and after it its automatic baseline calibration is on again: Tasmota's
  ``xsns_15_mhz19.ino`` and ESPEasy's ``_P049_MHZ19.ino`` ("During (and only ever at)
  sensor boot, 'u' is reported as 15000"; "After bootup of the sensor the ABC will be
  enabled. Thus only actively disable after bootup"). Its preheat values follow (410 or
  500 ppm, the MH-Z19B datasheet's 3-minute preheat). Its supply cut until it is stale
  loses ``abc_off`` the same way, a clone's that takes it without a reply as well.
* An MH-Z19 that restarts once it took ``range=N`` (ESPEasy's ``P049_data_struct.cpp``:
  "case 0x99: // Detection range setting" expects a reset), acknowledged as Zephyr's
  MH-Z19B driver reads the reply, or not at all, as the MH-Z19B datasheet has it ("0x99-
  Detection range setting / Send command-No return value", Winsen MH-Z19B manual V1.0).
* An MH-Z19 whose answers reach the port a byte out of place (ESPEasy issue #2394 logs a
  unit's ``ff ff 79 1 0 0 0 0 0``), here without their first byte or with it damaged, and one
  whose supply is cut, answering its polls with nothing or bursts of ``00`` bytes (ESPEasy
  issue #2254: "Unknown response: 0 0 0 0 0 0 0 0 0" from units that came back after a
  power-down) or ``FF`` bytes, or, just powered, with a bad checksum first
  (bencorrado/pmsensor PR #8), then its preheat values.
"""

from __future__ import annotations

import collections
import random
from collections.abc import Callable
from typing import Any

import pytest
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_frames_commands import (
    Clock,
    DeviceEnd,
    pms_frame,
    read_all,
    sensor_config,
    tick_through,
)

from sensord.config import Config
from sensord.dialogue import SETUP_GAP_S, SETUP_TRIES
from sensord.formats.presets import command_bytes, command_query, spoilt_answer_check
from sensord.sensor import SensorRuntime

PASSIVE_ACK = bytes.fromhex("42 4D 00 04 E1 00 01 74")


def plantower(words: list[int]) -> bytes:
    """A 32-byte Plantower frame of 13 data words, its 16-bit sum computed here."""
    body = b"\x42\x4d\x00\x1c" + b"".join(w.to_bytes(2, "big") for w in words)
    return body + (sum(body) % 65536).to_bytes(2, "big")


def sds011_frame(pm25_tenths: int, pm10_tenths: int, device_id: bytes) -> bytes:
    body = pm25_tenths.to_bytes(2, "little") + pm10_tenths.to_bytes(2, "little") + device_id
    return b"\xaa\xc0" + body + bytes([sum(body) % 256]) + b"\xab"


def sds011_reply(command: int, write: int, value: int, device_id: bytes) -> bytes:
    body = bytes([command, write, value, 0]) + device_id
    return b"\xaa\xc5" + body + bytes([sum(body) % 256]) + b"\xab"


def open_sensor(pair: PtyPair, clock: Clock, table: dict[str, Any]) -> SensorRuntime:
    config = sensor_config({"port": pair.path, "simulate": "never", **table})
    rt = SensorRuntime(config, clock=clock, wall_clock=clock, rng=random.Random(1))
    assert rt.try_open()
    return rt


def published(rt: SensorRuntime, channel: str) -> int:
    return rt.channels[channel].chain.stages[0].records_in


def last_value(rt: SensorRuntime, channel: str) -> float:
    (stats,) = [c.stats for c in rt.snapshot().channels if c.name == channel]
    assert stats is not None
    return stats.reading.value


def feed(rt: SensorRuntime, pair: PtyPair, data: bytes) -> None:
    pair.write(data)
    read_all(rt, len(data))


# -- PMS -----------------------------------------------------------------------------------------


def test_a_pmsa003s_mode_ack_between_its_frames_is_taken_and_every_frame_read() -> None:
    """PMSA003 with ``setup = ["passive_mode"]``: the device still streams while it takes the
    command, and its 8-byte acknowledgement comes between two data frames, cut across two
    reads. The acknowledgement is taken, the frames around it are all read."""
    clock = Clock()
    table = {
        "preset": "pmsa003",
        "warmup_s": 0,
        "setup": ["passive_mode"],
        "poll": {"command": "read", "interval_s": 60},
    }
    frames = [pms_frame(i) for i in range(4)]
    with PtyPair() as pair:
        rt = open_sensor(pair, clock, table)
        rt.tick(clock.now)
        assert pair.read(7) == command_bytes("pmsa003", "passive_mode")
        feed(rt, pair, frames[0] + frames[1] + PASSIVE_ACK[:3])
        feed(rt, pair, PASSIVE_ACK[3:] + frames[2] + frames[3])
        rt.stop()
    assert rt.framer.frames == 4
    assert published(rt, "pm2_5_ug_m3") == 4
    assert rt.dialogue is not None
    assert rt.dialogue.acknowledged == {"passive_mode"}
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert rt.framer.skipped_bytes == 0
    assert not any(rt.snapshot().parse_errors.values())


def test_a_late_mode_ack_is_a_frame_without_values_not_a_broken_frame() -> None:
    """An acknowledgement that comes when none is awaited (another program's command, or a
    reply past its wait) between data frames: read as a frame without values."""
    clock = Clock()
    frames = [pms_frame(i) for i in range(3)]
    with PtyPair() as pair:
        rt = open_sensor(pair, clock, {"preset": "pms5003", "warmup_s": 0})
        feed(rt, pair, frames[0] + PASSIVE_ACK + frames[1] + PASSIVE_ACK[:5])
        feed(rt, pair, PASSIVE_ACK[5:] + frames[2])
        rt.stop()
    assert rt.framer.frames == 5
    assert rt.ignored == 2
    assert published(rt, "pm2_5_ug_m3") == 3
    assert rt.framer.skipped_bytes == 0
    assert not any(rt.snapshot().parse_errors.values())


def test_a_pms7003s_version_and_error_code_bytes_do_not_spoil_its_frames() -> None:
    """Bytes 28 and 29 (the thirteenth data word) hold the version (``91``: PMS7003) and an
    error code: the word is not read, the frame's sum covers it, and the frame is read."""
    words = [5, 7, 8, 5, 7, 8, 918, 262, 44, 4, 2, 1, 0x9103]
    frame = plantower(words)
    assert frame[28:30] == b"\x91\x03"
    clock = Clock()
    with PtyPair() as pair:
        rt = open_sensor(pair, clock, {"preset": "pms7003", "warmup_s": 0})
        feed(rt, pair, frame * 3)
        rt.stop()
    assert published(rt, "pm2_5_ug_m3") == 3
    assert last_value(rt, "pm2_5_ug_m3") == 7.0
    assert last_value(rt, "particles_0_3um_per_dl") == 918.0
    assert not any(rt.snapshot().parse_errors.values())


def test_a_pms7003_in_smoke_publishes_its_mass_concentrations_above_1000() -> None:
    """Plantower's datasheets give the PM2.5 "maximum range" as >= 1000 µg/m³ ("the highest
    output value of the PM2.5 standard data is not less than 1000", PMS5003ST data manual
    V2.6, note 1): a lower bound of what the sensor sends, not an upper one. PMS7003 users
    report more in smoke: 1500 µg/m³ when a neighbour's chimney smoke blows in
    (hackerspace-silesia/Smogomierz issue #88), and PM1/PM2.5/PM10 of 386/1142/1267 µg/m³
    (avaldebe/AQmon issue #9, the same reading in MarkJB/python-pms7003 issue #2's thread).
    Frames of those values, sums good, are published whole: none of their mass
    concentrations is dropped by the preset's filter."""
    counts = [65000, 19000, 4100, 380, 95, 21]
    smoke = [386, 1142, 1267, 386, 1142, 1267, *counts, 0x9100]
    chimney = [900, 1500, 1700, 900, 1500, 1700, *counts, 0x9100]
    clock = Clock()
    with PtyPair() as pair:
        rt = open_sensor(pair, clock, {"preset": "pms7003", "warmup_s": 0})
        feed(rt, pair, plantower(smoke) + plantower(chimney))
        snapshot = rt.snapshot()
        rt.stop()
    assert snapshot.steps["filter"].dropped["range"] == 0
    assert published(rt, "pm2_5_ug_m3") == 2
    assert last_value(rt, "pm2_5_ug_m3") == 1500.0
    assert last_value(rt, "pm10_standard_ug_m3") == 1700.0
    assert last_value(rt, "particles_0_3um_per_dl") == 65000.0


def test_a_pms_s_first_frames_after_power_up_are_not_published() -> None:
    """PMS frames after power-up with PM values and every particle count 0 (PyPMS issue #3):
    the preset's 30 s warm-up reads them and publishes nothing; the frames after it are."""
    early = plantower([3, 4, 4, 3, 4, 4, 0, 0, 0, 0, 0, 0, 0x9700])
    settled = plantower([5, 7, 8, 5, 7, 8, 918, 262, 44, 4, 2, 1, 0x9700])
    clock = Clock()
    with PtyPair() as pair:
        rt = open_sensor(pair, clock, {"preset": "pmsa003"})
        for _ in range(29):
            clock.now += 1.0
            feed(rt, pair, early)
        assert published(rt, "particles_0_3um_per_dl") == 0
        clock.now += 1.0
        feed(rt, pair, settled)
        rt.stop()
    assert rt.ignored == 29
    assert published(rt, "particles_0_3um_per_dl") == 1
    assert last_value(rt, "particles_0_3um_per_dl") == 918.0


def test_a_frame_cut_by_a_supply_sag_costs_no_whole_frame_around_it() -> None:
    """A PMS5003 whose supply sags: a frame cut off after 17 bytes, 11 bytes of no frame
    (``42`` among them, as a PMS checksum byte may be), then whole frames again. Every whole
    frame is read; the cut frame and the noise are skipped bytes and one rejected candidate."""
    frames = [pms_frame(i) for i in range(5)]
    noise = bytes.fromhex("00 FF 42 80 00 F8 00 4D 00 00 FE")
    stream = frames[0] + frames[1] + frames[2][:17] + noise + frames[3] + frames[4]
    clock = Clock()
    with PtyPair() as pair:
        rt = open_sensor(pair, clock, {"preset": "pms5003", "warmup_s": 0})
        for at in range(0, len(stream), 23):
            feed(rt, pair, stream[at : at + 23])
        rt.stop()
    assert rt.framer.frames == 4
    assert published(rt, "pm2_5_ug_m3") == 4
    assert rt.framer.skipped_bytes == 17 + len(noise)
    assert rt.snapshot().parse_errors["checksum"] == 1


# -- SDS011 --------------------------------------------------------------------------------------


def test_an_sds011_s_replies_to_another_program_between_its_frames_cost_no_frame() -> None:
    """``AA C5`` replies (to report-mode queries another program sent) between ``AA C0``
    frames, one cut across two reads: every data frame is read; the replies, which no set-up
    command of this sensor awaits, are skipped bytes, not rejected frames."""
    device_id = bytes.fromhex("EC E1")
    frames = [sds011_frame(120 + i, 170 + i, device_id) for i in range(4)]
    reply = sds011_reply(0x02, 0, 0, device_id)
    clock = Clock()
    with PtyPair() as pair:
        rt = open_sensor(pair, clock, {"preset": "sds011", "warmup_s": 0})
        feed(rt, pair, frames[0] + reply + frames[1] + reply[:6])
        feed(rt, pair, reply[6:] + frames[2] + frames[3])
        rt.stop()
    assert rt.framer.frames == 4
    assert published(rt, "pm2_5_ug_m3") == 4
    assert last_value(rt, "pm2_5_ug_m3") == 12.3
    assert rt.framer.skipped_bytes == 2 * len(reply)
    assert not any(rt.snapshot().parse_errors.values())


def test_an_sds011_asleep_that_garbles_its_first_wake_reply_is_woken_by_the_second() -> None:
    """``setup = ["work"]`` to an SDS011 left asleep: the first write gets five bytes of no
    frame, the second (1 s later) the reply recorded in lewapek's issue #6; then its data
    frames, with its device id ``EC E1``. Acknowledged, nothing counted missing, every frame
    read, the five bytes skipped."""
    work = command_bytes("sds011", "work")
    garbled = bytes.fromhex("AD 50 10 5E DD")
    reply = bytes.fromhex("AA C5 06 01 01 00 EC E1 D5 AB")
    frames = [sds011_frame(80 + i, 110 + i, bytes.fromhex("EC E1")) for i in range(3)]
    writes: collections.Counter[bytes] = collections.Counter()
    clock = Clock()
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {"preset": "sds011", "warmup_s": 0, "setup": ["work"]})

        def answer(written: bytes) -> bytes:
            writes[written] += 1
            return garbled if writes[work] == 1 else reply

        tick_through(rt, pair, clock, answer, clock.now + 10.0)
        feed(rt, pair, b"".join(frames))
        rt.stop()
    assert writes == {work: 2}
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert rt.dialogue is not None
    assert rt.dialogue.acknowledged == {"work"}
    assert published(rt, "pm10_ug_m3") == 3
    assert rt.framer.skipped_bytes == len(garbled)
    assert not [e for e in logs if e["event"] == "set-up command not acknowledged"]


class PoweredSds011:
    """An SDS011 that streams a frame a second while powered. Powered anew, its first
    ``zeros`` frames read PM2.5 = PM10 = 0 (its fan spinning up: the frames ESPHome's
    sds011 component and PyPMS's sds01x drop as "not yet any valid data", "warming up
    sensor"), then its settled 3.5 and 5.2 µg/m³."""

    def __init__(self, zeros: int) -> None:
        self.powered = True
        self.zeros = zeros
        self.left = 0

    def frame(self) -> bytes:
        if self.left:
            self.left -= 1
            return sds011_frame(0, 0, b"\xec\xe1")
        return sds011_frame(35, 52, b"\xec\xe1")

    def power_on(self) -> None:
        self.powered = True
        self.left = self.zeros


def run_sds011(
    rt: SensorRuntime, pair: PtyPair, clock: Clock, device: PoweredSds011, until: float
) -> list[tuple[float, float]]:
    """A frame of ``device`` a second while it is powered, until ``until``: the times and
    values of ``pm2_5_ug_m3`` published."""
    got: list[tuple[float, float]] = []
    while clock.now < until:
        clock.now += 1.0
        rt.tick(clock.now)
        if device.powered:
            before = published(rt, "pm2_5_ug_m3")
            feed(rt, pair, device.frame())
            if published(rt, "pm2_5_ug_m3") > before:
                got.append((clock.now, last_value(rt, "pm2_5_ug_m3")))
    return got


@pytest.mark.parametrize(("zeros", "values"), [(8, {3.5}), (40, {0.0, 3.5})])
def test_an_sds011_whose_supply_was_cut_warms_up_before_its_zero_frames_count(
    zeros: int, values: set[float]
) -> None:
    """An SDS011 that streams, its supply cut for a minute behind the open port: it goes
    stale, and its first frames when it is powered again read 0 in both channels. A first
    frame after a silence that reads 0 in every field is a power-up's: it starts a warm-up
    (the preset's 30 s), so none of those zeros is published. Zeros that last past the
    warm-up (very clean air) are published: 0 is a reading too."""
    clock = Clock()
    device = PoweredSds011(zeros)
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {"preset": "sds011"})
        start = clock.now
        before = run_sds011(rt, pair, clock, device, start + 60.0)
        device.powered = False
        run_sds011(rt, pair, clock, device, start + 120.0)
        assert rt.state == "stale"
        device.power_on()
        woke = clock.now
        after = run_sds011(rt, pair, clock, device, start + 200.0)
        rt.stop()
    assert {value for _, value in before} == {3.5}
    assert {value for _, value in after} == values
    assert after[0][0] >= woke + 30.0
    why = "its frames come again after a silence, every value 0"
    assert len([e for e in logs if e.get("why") == why]) == 1


def test_an_sds011_on_a_working_period_in_clean_air_publishes_its_zero_frames() -> None:
    """An SDS011 given a working period of 2 minutes by another program (the sensor's
    set-up does not say so): it goes stale between its frames, each of which is a
    measurement, 0 in both channels in very clean air. The first, 2 minutes after the open,
    ends a silence as a device powered after the open would and starts a warm-up; the next
    follows a warm-up that published nothing and is published, and the ones after it come
    on a steady period (the ``frames come once every N s`` hint) and are published too."""
    clock = Clock()
    zero = sds011_frame(0, 0, b"\xec\xe1")
    got = 0
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {"preset": "sds011"})
        start = clock.now
        for n in range(1, 6):
            while clock.now < start + 120.0 * n:
                clock.now += 1.0
                rt.tick(clock.now)
            feed(rt, pair, zero)
            got = published(rt, "pm2_5_ug_m3")
            assert got == n - 1, n
        rt.stop()
    assert rt.pause_hint is not None
    assert last_value(rt, "pm2_5_ug_m3") == 0.0
    assert len([e for e in logs if str(e.get("why", "")).endswith("every value 0")]) == 1


def test_an_sds011_on_a_working_period_is_hinted_with_the_stale_after_s_a_reload_set() -> None:
    """An SDS011 given a working period of 2 minutes by another program, whose
    ``stale_after_s`` a reload sets to 45 s with its port open (``retune``) after its first
    frame: the hint of its steady period, two pauses of 120 s running, names the 45 s in
    force, which the pauses read from their sensor at each frame (``sensord.pauses``), not
    the value the sensor started with."""
    clock = Clock()
    zero = sds011_frame(0, 0, b"\xec\xe1")
    with PtyPair() as pair:
        rt = open_sensor(pair, clock, {"preset": "sds011"})
        start = clock.now
        for n in range(1, 5):
            while clock.now < start + 120.0 * n:
                clock.now += 1.0
                rt.tick(clock.now)
            feed(rt, pair, zero)
            if n == 1:
                assert rt.retunes_to(rt.config.replace(stale_after_s=45.0))
                rt.retune(rt.config.replace(stale_after_s=45.0))
        rt.stop()
    assert rt.pause_hint is not None
    assert "frames come once every 120 s, two pauses running, and stale_after_s is 45 s" in (
        rt.pause_hint
    )


def test_an_sds011_set_to_a_working_period_publishes_a_zero_frame_after_a_missed_one() -> None:
    """An SDS011 whose set-up sets a working period of 2 minutes: it sends one frame every
    2 minutes, after its fan ran for 30 s, so every frame is a measurement. One of its frames
    is lost on the line, so it goes stale (its stale timeout is the period and a margin);
    the next, 0 in both channels in very clean air, is a reading like the others, not the
    zeros of a device powered anew (those come while the fan spins up, and a device on a
    working period sends nothing then)."""
    clock = Clock()
    zero = sds011_frame(0, 0, b"\xec\xe1")
    with PtyPair() as pair:
        rt = open_sensor(pair, clock, {"preset": "sds011", "setup": ["working_period=2"]})
        start = clock.now
        rt.tick(clock.now)
        # the set-up asks for the working period first: continuous, so it writes 2 minutes
        query = command_query("sds011", "working_period=2")
        assert query is not None
        assert pair.read(len(query[0])) == query[0]
        feed(rt, pair, sds011_reply(0x08, 0, 0, b"\xec\xe1"))
        clock.now += SETUP_GAP_S
        rt.tick(clock.now)
        command = command_bytes("sds011", "working_period=2")
        assert pair.read(len(command)) == command
        feed(rt, pair, sds011_reply(0x08, 1, 2, b"\xec\xe1"))
        for minute in (2, 4, 8):  # the frame of minute 6 is lost
            while clock.now < start + 60.0 * minute:
                clock.now += 1.0
                rt.tick(clock.now)
            if minute == 8:
                assert rt.state == "stale"
            feed(rt, pair, sds011_frame(12, 17, b"\xec\xe1") if minute < 8 else zero)
        rt.stop()
    assert published(rt, "pm2_5_ug_m3") == 3
    assert last_value(rt, "pm2_5_ug_m3") == 0.0
    assert last_value(rt, "pm10_ug_m3") == 0.0


# -- MH-Z19 --------------------------------------------------------------------------------------

#: What an MH-Z19 answers the read request with while it boots: bytes 6..7 are 15000.
BOOTING = 15000


def mhz19_answer(ppm: int, u: int = 0, status: int = 0, temperature: int = 62) -> bytes:
    """``FF 86``, CO2, ``temperature`` + 40 (62: 22 °C), ``status``, bytes 6..7 ``u`` and
    the checksum of the MH-Z19B datasheet, computed here."""
    body = bytes([0x86, ppm >> 8, ppm & 0xFF, temperature, status, u >> 8, u & 0xFF])
    return b"\xff" + body + bytes([-sum(body) % 256])


class Mhz19:
    """An MH-Z19 on a pty master: ``abc_off`` acknowledged (``FF 79 01 ... 86``; taken
    without a reply by a clone, ``acks = False``), each read request answered with the next
    of ``answers`` (the last one for ever). ``restart`` powers it anew: automatic baseline
    calibration on again, and the answers given; while ``powered`` is False it hears and
    sends nothing."""

    def __init__(self, answers: list[bytes], *, acks: bool = True) -> None:
        self.abc = True
        self.answers = collections.deque(answers)
        self.abc_off_writes = 0
        self.acks = acks
        self.powered = True

    def restart(self, answers: list[bytes]) -> None:
        self.abc = True
        self.powered = True
        self.answers = collections.deque(answers)

    def __call__(self, written: bytes) -> bytes:
        out = b""
        if not self.powered:
            return out
        for at in range(0, len(written) - 8, 9):
            command = written[at : at + 9]
            if command == command_bytes("mhz19", "abc_off"):
                self.abc = False
                self.abc_off_writes += 1
                if self.acks:
                    out += bytes.fromhex("FF 79 01 00 00 00 00 00 86")
            elif command == command_bytes("mhz19", "read"):
                out += self.answers[0] if len(self.answers) == 1 else self.answers.popleft()
        return out


def run_polls(
    rt: SensorRuntime,
    pair: PtyPair,
    clock: Clock,
    device: Callable[[bytes], bytes],
    until: float,
    *,
    channel: str = "co2_ppm",
) -> list[tuple[float, float]]:
    """Tick ``rt`` at its deadlines and every second up to ``until``; the device answers
    what each tick wrote. Returns the readings of ``channel`` published, with their times."""
    device_end = DeviceEnd(rt, pair)
    got: list[tuple[float, float]] = []
    while True:
        due = rt.next_deadline()
        due = clock.now + 1.0 if due is None else min(due, clock.now + 1.0)
        if due > until:
            return got
        clock.now = max(clock.now, due)
        written = device_end.tick(clock.now)
        reply = device(written) if written else b""
        if reply:
            before = published(rt, channel)
            feed(rt, pair, reply)
            if published(rt, channel) > before:
                got.append((clock.now, last_value(rt, channel)))


def test_an_mhz19_that_restarts_behind_its_open_port_is_set_up_and_warmed_up_again() -> None:
    """An MH-Z19 with ``setup = ["abc_off"]``, powered with the host: its first two answers
    are its boot's, so ``abc_off``, written at the open, is written again once they are over
    (logged at info level). Later it restarts while its port stays open, without a poll
    missed: three boot answers (bytes 6..7 = 15000), five with its preheat value (410 ppm),
    then measurements. None of the boot answers nor the preheat values is published: the boot
    answers are frames without values, and they start the warm-up again; ``abc_off``, which
    the restart undid, is written again once the boot is over, and acknowledged. The restart
    is logged once as a warning naming the sensor."""
    clock = Clock()
    table = {
        "preset": "mhz19",
        "warmup_s": 20,
        "setup": ["abc_off"],
        "poll": {"interval_s": 1},
    }
    device = Mhz19([mhz19_answer(500, BOOTING)] * 2 + [mhz19_answer(650)])
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        start = clock.now
        before = run_polls(rt, pair, clock, device, start + 90.0)
        assert not device.abc
        assert device.abc_off_writes == 2
        assert rt.setup_reruns == 1
        device.restart(
            [mhz19_answer(500, BOOTING)] * 3 + [mhz19_answer(410)] * 5 + [mhz19_answer(700)]
        )
        restarted = clock.now
        after = run_polls(rt, pair, clock, device, start + 140.0)
        assert rt.state == "up"
        rt.stop()
    assert {value for _, value in before} == {650.0}
    assert before[0][0] >= start + 20.0  # the first open's warm-up
    assert {value for _, value in after} == {700.0}
    assert after[0][0] >= restarted + 20.0  # warmed up again from the first boot answer
    assert not device.abc
    assert device.abc_off_writes == 3
    assert rt.setup_reruns == 2
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert rt.poll_timeouts == 0
    assert not any(rt.snapshot().parse_errors.values())
    lines = [e for e in logs if e["event"].startswith("device restarted")]
    assert [(e["sensor"], e["log_level"]) for e in lines] == [("s", "info"), ("s", "warning")]
    reruns = [e for e in logs if e["event"] == "sending the set-up commands again"]
    assert [e["why"] for e in reruns] == ["the device restarted"] * 2
    assert [e["log_level"] for e in reruns] == ["info", "warning"]  # powered with the host


@pytest.mark.parametrize("acks", [True, False])
def test_an_mhz19_whose_supply_was_cut_until_it_went_stale_is_set_up_again(acks: bool) -> None:
    """An MH-Z19 with ``setup = ["abc_off"]`` whose supply is cut for a minute: it goes
    stale, and the set-up runs while it is off, unanswered. Powered again it boots with its
    automatic baseline calibration on (Tasmota's and ESPEasy's "After bootup of the sensor
    the ABC will be enabled"); its boot's answers fall between two polls, so its first
    answers are its preheat values. Once it answers, ``abc_off`` is written again: for a
    genuine unit that acknowledges it, and for a clone that takes it without a reply alike."""
    clock = Clock()
    table = {"preset": "mhz19", "warmup_s": 0, "setup": ["abc_off"], "poll": {"interval_s": 1}}
    device = Mhz19([mhz19_answer(650)], acks=acks)
    with PtyPair() as pair:
        rt = open_sensor(pair, clock, table)
        start = clock.now
        run_polls(rt, pair, clock, device, start + 15.0)
        assert not device.abc
        device.powered = False
        run_polls(rt, pair, clock, device, start + 75.0)
        assert rt.state == "stale"
        writes = device.abc_off_writes
        device.restart([mhz19_answer(410)] * 3 + [mhz19_answer(700)])
        after = run_polls(rt, pair, clock, device, start + 100.0)
        assert rt.state == "up"
        rt.stop()
    assert after[-1][1] == 700.0
    assert not device.abc
    # once: a clone's three writes (SETUP_TRIES) of the run await the reply it never sends
    assert device.abc_off_writes == writes + (1 if acks else SETUP_TRIES)


def test_an_mhz19_a_version_s_status_byte_1_is_no_measurement() -> None:
    """The MH-Z19 "A" version sends a status byte in byte 5 of its answer, after the
    temperature + 40 in byte 4: 64 for a stable reading, less while the CO2 changes fast, and
    1 while it boots, whose values are no measurement (Tasmota's ``xsns_15_mhz19.ino`` and
    ESPEasy's ``P049_data_struct.cpp``: "S==1 => "A" version sensor bootup, do not use
    values"); the "B" version (MH-Z19B, MH-Z19C) sends 0 there. Bytes 6..7 hold 15000 only
    early in the boot. A frame of status 1 is rejected (``invalid``, the status named); the
    others are read alike, CO2 and temperature, whatever their status."""
    clock = Clock()
    answers = [
        mhz19_answer(650, 10500, status=0),  # "B" version
        mhz19_answer(660, 10500, status=0x40),  # "A" version, stable
        mhz19_answer(670, 10500, status=0x10),  # "A" version, CO2 changing fast
        mhz19_answer(500, 10500, status=0x01),  # "A" version booting
        mhz19_answer(680, 10500, status=0x40),
    ]
    device = Mhz19(answers)
    table = {"preset": "mhz19", "warmup_s": 0, "poll": {"interval_s": 1}}
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        got = run_polls(rt, pair, clock, device, clock.now + 4.5)  # five polls
        temperature = last_value(rt, "temperature_celsius")
        rt.stop()
    assert [value for _, value in got] == [650.0, 660.0, 670.0, 680.0]
    assert temperature == 22.0
    assert published(rt, "temperature_celsius") == 4
    assert rt.snapshot().parse_errors["invalid"] == 1
    [rejected] = [e for e in logs if e["event"] == "frame rejected"]
    assert rejected["detail"] == (
        "the device reports status 0x01 at byte 5; its values are valid with any but 0x01"
    )


@pytest.mark.parametrize("status", [0x40, 0x10], ids=["stable", "CO2 changing fast"])
def test_an_mhz19_a_version_measurement_with_15000_in_bytes_6_7_is_no_boot(status: int) -> None:
    """Bytes 6..7 of an MH-Z19 "A" version's measurements are no constant (RevSpace's MHZ19
    page: 15000 while it boots, status 1, then about 10500 with status 40, ``03 87 47 40 2A
    E1``; SmingHub/Sming PR #2415: ``ff 86 0d e5 3d 40 42 cf fa``, status 40 with 17103), so
    a measurement may hold 15000 there. With ``abc_off`` set up and the preset's 20 s
    warm-up, such an answer among others is published as any: no restart, no warm-up, no
    re-run of ``abc_off`` (each would cost the readings of a warm-up and an EEPROM write).
    Its boot answers (status 1 with 15000) are still its restart."""
    clock = Clock()
    table = {"preset": "mhz19", "warmup_s": 20, "setup": ["abc_off"], "poll": {"interval_s": 1}}
    answers = [mhz19_answer(640, 10500, status)] * 25 + [
        mhz19_answer(650, BOOTING, status),
        mhz19_answer(660, 10500, status),
    ]
    device = Mhz19(answers)
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        start = clock.now
        got = run_polls(rt, pair, clock, device, start + 40.0)
        assert {value for _, value in got} == {640.0, 650.0, 660.0}
        assert device.abc_off_writes == 1
        assert rt.setup_reruns == 0
        restarted = [e for e in logs if e["event"].startswith("device restarted")]
        assert not restarted
        device.restart([mhz19_answer(500, BOOTING, 0x01)] * 2 + [mhz19_answer(670, 10500, status)])
        booted = clock.now
        after = run_polls(rt, pair, clock, device, start + 100.0)
        rt.stop()
    assert {value for _, value in after} == {670.0}
    assert after[0][0] >= booted + 20.0
    assert device.abc_off_writes == 2
    assert rt.setup_reruns == 1
    assert len([e for e in logs if e["event"].startswith("device restarted")]) == 1


#: ArminJo/MH-Z19 (src/MHZ19.cpp, ``readCO2MaskedTemperatureIntAndABCCounter``) records an
#: MH-Z19's answer to the read request as ``Received cmd=0x86|getCO2Msk 0x2,0x6F =623
#: 0x3F,0x0 =16128 0x7E,0x0 =32256``: bytes 2..7 ``02 6F 3F 00 7E 00``, 623 ppm, 23 °C,
#: status 0, and byte 6 the library's ``ABCCounter`` ("Is incremented by MHZ19 every 10
#: minutes"), byte 7 0.
ARMINJO_ANSWER = mhz19_answer(0x026F, 0x7E00, status=0, temperature=0x3F)


def test_an_mhz19c_whose_byte_6_counts_abc_cycles_is_read_and_not_taken_for_booting() -> None:
    """A B or C version's byte 6 may count its automatic baseline calibration's 10-minute
    cycles, byte 7 left 0 (ARMINJO_ANSWER), 144 of them in its 24-hour period; the count
    passes 58 (``3A``, 15000's high byte) on the way. The preset's boot bytes (status 0 or 1,
    then ``3A 98``) need byte 7 at ``98`` too, so none of those answers is taken for its
    boot: every one is published, with no restart, warm-up or re-run of ``abc_off``. A boot
    answer (``00 3A 98`` in bytes 5..7, Tasmota's 15000 "During (and only ever at) sensor
    boot") is still its restart. (A mask that left out byte 7 would take the count 58 for a
    boot.)"""
    clock = Clock()
    table = {"preset": "mhz19", "warmup_s": 20, "setup": ["abc_off"], "poll": {"interval_s": 1}}
    counts = [0x7E, *range(0x38, 0x3D), 0x90]  # the library's capture, then 56 to 60, 144
    answers = [ARMINJO_ANSWER] * 21 + [
        mhz19_answer(600 + count, count << 8, status=0, temperature=0x3F) for count in counts
    ]
    device = Mhz19(answers)
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        start = clock.now
        got = run_polls(rt, pair, clock, device, start + 30.0)
        temperature = last_value(rt, "temperature_celsius")
        assert rt.setup_reruns == 0
        assert not [e for e in logs if e["event"].startswith("device restarted")]
        device.restart([mhz19_answer(500, BOOTING, 0)] * 2 + [mhz19_answer(690, 0x0100)])
        booted = clock.now
        after = run_polls(rt, pair, clock, device, start + 60.0)
        rt.stop()
    values = [value for _, value in got if value != 623.0]
    assert values[: len(counts)] == [600.0 + c for c in counts]
    assert set(values[len(counts) :]) == {744.0}  # its last answer, given again
    assert 623.0 in {value for _, value in got}
    assert temperature == 23.0
    assert device.abc_off_writes == 2
    assert rt.setup_reruns == 1
    assert len([e for e in logs if e["event"].startswith("device restarted")]) == 1
    assert {value for _, value in after} == {690.0}
    assert after[0][0] >= booted + 20.0


def test_an_mhz19c_answer_whose_temperature_byte_is_0_publishes_its_co2_alone() -> None:
    """Some MH-Z19C firmware leaves byte 4 of the read answer at 0, read as -40 °C on every
    answer by the libraries that subtract 40 (strange-v/MHZ19 issue #14 and WifWaf/MH-Z19
    issue #43, "Temperature: -40" with the CO2 right), far below the sensor's working range
    (0 to 50 °C for the MH-Z19B). The preset reads it as no temperature: the CO2 of such an
    answer is published, its temperature is not (counted ``invalid``), and a temperature
    that comes again is."""
    clock = Clock()
    answers = [
        mhz19_answer(650, 10500, temperature=0),
        mhz19_answer(660, 10500, temperature=0),
        mhz19_answer(670, 10500),
    ]
    device = Mhz19(answers)
    table = {"preset": "mhz19", "warmup_s": 0, "poll": {"interval_s": 1}}
    with PtyPair() as pair:
        rt = open_sensor(pair, clock, table)
        got = run_polls(rt, pair, clock, device, clock.now + 2.5)  # three polls
        temperature = last_value(rt, "temperature_celsius")
        rt.stop()
    assert [value for _, value in got] == [650.0, 660.0, 670.0]
    assert published(rt, "temperature_celsius") == 1
    assert temperature == 22.0
    assert rt.snapshot().parse_errors["invalid"] == 2


def test_boot_bytes_of_a_frame_spec_mark_frames_without_values_and_a_restart() -> None:
    """A frame spec of its own (the MH-Z19's layout): with ``boot_bytes`` the frames that hold
    them at ``boot_offset`` publish nothing and log the restart; without, they are read."""
    frame: dict[str, Any] = {
        "start": b"\xff\x86",
        "length": 9,
        "checksum": "twos8",
        "checksum_start": 1,
        "fields": [{"name": "co2", "offset": 2, "type": "u16be"}],
    }
    stream = mhz19_answer(500, BOOTING) * 2 + mhz19_answer(640)
    counts = {}
    boots: tuple[dict[str, Any], ...] = ({}, {"boot_bytes": b"\x3a\x98", "boot_offset": 6})
    for boot in boots:
        table = {"format": "frames", "frame": {**frame, **boot}, "channels": [{"name": "co2"}]}
        clock = Clock()
        with PtyPair() as pair, capture_logs() as logs:
            rt = open_sensor(pair, clock, table)
            feed(rt, pair, stream)
            rt.stop()
        restarted = [e for e in logs if e["event"].startswith("device restarted")]
        counts[bool(boot)] = (published(rt, "co2"), rt.ignored, len(restarted))
    assert counts == {False: (3, 0, 0), True: (1, 2, 1)}


def test_boot_bytes_are_checked_against_the_frame() -> None:
    base: dict[str, Any] = {
        "name": "s",
        "port": "sim://s",
        "format": "frames",
        "channels": [{"name": "co2"}],
    }
    frame: dict[str, Any] = {
        "start": b"\xff\x86",
        "length": 9,
        "fields": [{"name": "co2", "offset": 2, "type": "u16be"}],
    }
    cases: tuple[tuple[dict[str, Any], str], ...] = (
        (
            {"boot_bytes": b"\x3a\x98", "boot_offset": 8},
            "sensors[0].frame.boot_offset: the boot bytes end at byte 10, past the 9-byte frame",
        ),
        (
            {"boot_offset": 6},
            "sensors[0].frame.boot_offset: needs boot_bytes, what the frames sent while "
            "booting hold",
        ),
        (
            {"boot_bytes": b"\xff\x86"},
            "sensors[0].frame.boot_bytes: '\\xff\\x86' at byte 0 is in every frame (the start "
            "bytes): each would be taken for a restart",
        ),
        (
            {"boot_bytes": b"\xff\x3a", "boot_offset": 1},
            "sensors[0].frame.boot_bytes: '\\xff\\x3a' at byte 1 is in no frame: the start "
            "bytes are '\\xff\\x86'",
        ),
        (
            {"boot_bytes": b"\x3a\x98", "boot_offset": 6, "boot_mask": b"\xff"},
            "sensors[0].frame.boot_mask: needs one byte to each of the 2 boot_bytes, got 1",
        ),
        (
            {"boot_mask": b"\xff"},
            "sensors[0].frame.boot_mask: needs boot_bytes, the bytes whose bits it picks",
        ),
        (
            # every 9-byte frame would be one of the boot
            {"boot_bytes": b"\x3a\x98", "boot_offset": 6, "boot_mask": b"\x00\x00"},
            "sensors[0].frame.boot_mask: '\\x00\\x00' compares no bit: every frame would be "
            "taken for one of the boot, a restart",
        ),
        (
            # past the start bytes FF 86, the mask compares nothing
            {"boot_bytes": b"\xff\x86\x3a", "boot_offset": 0, "boot_mask": b"\xff\xff\x00"},
            "sensors[0].frame.boot_mask: '\\xff\\xff\\x00' compares no bit past the start "
            "bytes: every frame would be taken for one of the boot, a restart",
        ),
        (
            # in the bits of its mask, FE 3A at byte 0 is the start bytes FF 86
            {"boot_bytes": b"\xfe\x3a", "boot_offset": 0, "boot_mask": b"\xfe\x00"},
            "sensors[0].frame.boot_bytes: '\\xfe\\x3a' at byte 0 is in every frame (the start "
            "bytes): each would be taken for a restart",
        ),
    )
    for boot, problem in cases:
        errors: list[str] = []
        loaded = Config.load({"sensors": [{**base, "frame": {**frame, **boot}}]}, "", errors)
        assert loaded is None
        assert errors == [problem]
    # boot bytes that begin in the start bytes and go on past them are the spec's own
    errors = []
    loaded = Config.load(
        {"sensors": [{**base, "frame": {**frame, "boot_bytes": b"\x86\x3a", "boot_offset": 1}}]},
        "",
        errors,
    )
    assert loaded is not None
    assert errors == []


#: 24-byte PMS3003 frames: one recorded by avaldebe/PyPMS (tests/captured_data/data.csv, rows
#: PMS3003), and one quoted in a public PMS3003 reader's source comment (tests/
#: test_formats_pms_variants.py's PMS3003_FRAMES).
PMS3003_FRAMES = [
    bytes.fromhex("424d001400000000000000000000000000000000005100f4"),
    bytes.fromhex("424d0014001f00280030001a0024002f00000000005401db"),
]


def test_a_pms3003_polled_with_bytes_of_its_own_is_read() -> None:
    """A PMS3003 takes no command (its SET pin puts it to sleep), so its preset has no wake
    command and no read request; a sensor of it with a ``poll`` of request bytes (a keep-alive
    some adapter wants, a PMS5003's read request left from another table) is valid, and it
    must open and read the frames the device streams, the requests written, not fail at its
    creation (the daemon ended by an uncaught ValueError: "pms3003 has no command
    'wakeup'")."""
    clock = Clock()
    read = command_bytes("pms5003", "read")
    table = {"preset": "pms3003", "warmup_s": 0, "poll": {"request": read, "interval_s": 1.0}}
    with PtyPair() as pair:
        rt = open_sensor(pair, clock, table)
        device_end = DeviceEnd(rt, pair)
        written = b""
        for frame in PMS3003_FRAMES * 2:
            clock.now += 1.0
            written += device_end.tick(clock.now)
            feed(rt, pair, frame)
        rt.stop()
    assert read in written
    assert published(rt, "pm2_5_ug_m3") == 4
    assert last_value(rt, "pm2_5_ug_m3") == 36.0


# -- a PMS woken by its set-up ----------------------------------------------------------------


class SleepyPms:
    """A PMS5003 on a pty master that another program puts to sleep: silent until
    ``wakeup``, then a frame a second, the first ``unsettled`` of them with PM values and
    every particle count 0 (PyPMS issue #3), the others settled."""

    def __init__(self, unsettled: int) -> None:
        self.asleep = False
        self.unsettled = 0
        self.after_wake = unsettled
        self.wakeups = 0

    def frame(self) -> bytes:
        if self.unsettled:
            self.unsettled -= 1
            return plantower([3, 4, 4, 3, 4, 4, 0, 0, 0, 0, 0, 0, 0x9700])
        return plantower([5, 7, 8, 5, 7, 8, 918, 262, 44, 4, 2, 1, 0x9700])

    def receive(self, written: bytes) -> None:
        if command_bytes("pms5003", "wakeup") in written:
            self.wakeups += 1
            self.asleep = False
            self.unsettled = self.after_wake


def test_a_pms_woken_by_a_set_up_re_run_warms_up_before_its_readings_count() -> None:
    """A PMS5003 with ``setup = ["wakeup"]`` that another program put to sleep: silent, the
    sensor goes stale and its set-up wakes it; the frames of its first seconds (zero
    particle counts) come within the 30 s warm-up that the wake command starts, and are not
    published; the settled frames after it are."""
    clock = Clock()
    device = SleepyPms(unsettled=8)
    got: list[tuple[float, float]] = []
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {"preset": "pms5003", "warmup_s": 30, "setup": ["wakeup"]})
        device_end = DeviceEnd(rt, pair)
        start = clock.now
        asleep_at = start + 40.0
        while clock.now < start + 120.0:
            due = rt.next_deadline()
            clock.now = (
                clock.now + 1.0 if due is None else max(clock.now, min(due, clock.now + 1.0))
            )
            written = device_end.tick(clock.now)
            if written:
                device.receive(written)
            if clock.now >= asleep_at and device.wakeups == 1:
                device.asleep = True  # another program's sleep command
            if not device.asleep and due is None:
                before = published(rt, "particles_0_3um_per_dl")
                feed(rt, pair, device.frame())
                if published(rt, "particles_0_3um_per_dl") > before:
                    got.append((clock.now, last_value(rt, "particles_0_3um_per_dl")))
        rt.stop()
    assert device.wakeups == 2
    assert rt.setup_reruns == 1
    assert {value for _, value in got} == {918.0}
    woken = [e for e in logs if e["event"].startswith("warming up")]
    assert len(woken) == 2  # the first open's, and the wake-up's


def run_streaming_pms(
    rt: SensorRuntime, pair: PtyPair, clock: Clock, device: SleepyPms, until: float
) -> list[tuple[float, float]]:
    """A frame of ``device`` a second while it is awake, until ``until``: the times and
    values of ``particles_0_3um_per_dl`` published."""
    got: list[tuple[float, float]] = []
    while clock.now < until:
        clock.now += 1.0
        rt.tick(clock.now)
        if not device.asleep:
            before = published(rt, "particles_0_3um_per_dl")
            feed(rt, pair, device.frame())
            if published(rt, "particles_0_3um_per_dl") > before:
                got.append((clock.now, last_value(rt, "particles_0_3um_per_dl")))
    return got


def asleep_then_awake(
    rt: SensorRuntime, pair: PtyPair, clock: Clock, device: SleepyPms, start: float
) -> tuple[float, list[tuple[float, float]]]:
    """``device`` asleep until ``start`` + 120 s (the sensor stale by then), then awake, its
    first frames unsettled, until ``start`` + 200 s: when it woke, and what was published
    after (``run_streaming_pms``)."""
    run_streaming_pms(rt, pair, clock, device, start + 120.0)
    assert rt.state == "stale"
    device.asleep = False
    device.unsettled = device.after_wake
    woke = clock.now
    return woke, run_streaming_pms(rt, pair, clock, device, start + 200.0)


@pytest.mark.parametrize("rewarm", [True, False])
def test_a_streaming_pms_that_slept_warms_up_again_before_its_readings_count(
    rewarm: bool,
) -> None:
    """A PMS5003 that streams (no set-up) put to sleep by its SET pin for a minute: it goes
    stale, and its first frames when it runs again (zero particle counts, the fan not
    settled) come within a warm-up that its frames coming again start, so they are not
    published; the settled ones after it are. With ``warmup_after_silence = false`` (for a
    device silent between measurements by design) they are published at once."""
    clock = Clock()
    device = SleepyPms(unsettled=8)
    table: dict[str, Any] = {"preset": "pms5003", "warmup_s": 30}
    if not rewarm:
        table["warmup_after_silence"] = False
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        start = clock.now
        before = run_streaming_pms(rt, pair, clock, device, start + 60.0)
        device.asleep = True
        woke, after = asleep_then_awake(rt, pair, clock, device, start)
        rt.stop()
    assert {value for _, value in before} == {918.0}
    again = [e for e in logs if e.get("why") == "its frames come again after a silence"]
    if rewarm:
        assert len(again) == 1
        assert {value for _, value in after} == {918.0}
        assert after[0][0] >= woke + 30.0
    else:
        assert again == []
        assert {value for _, value in after} == {0.0, 918.0}
        assert after[0][0] == woke + 1.0


@pytest.mark.parametrize("how", ["asleep at the open", "asleep across a reload"])
def test_a_streaming_pms_asleep_since_its_port_opened_warms_up_when_it_runs(how: str) -> None:
    """A PMS5003 that streams, asleep (its SET pin) when its port opened, or when a reload
    that changed its table opened its port again: its warm-up from the open ends while it
    sleeps, and it published nothing since. When it runs again its first frames (zero
    particle counts) come within a warm-up that its frames start, as they do after any
    silence: none of them is published."""
    clock = Clock()
    device = SleepyPms(unsettled=8)
    table: dict[str, Any] = {"preset": "pms5003", "warmup_s": 30}
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        start = clock.now
        if how == "asleep at the open":
            device.asleep = True
        else:
            run_streaming_pms(rt, pair, clock, device, start + 60.0)
            device.asleep = True
            run_streaming_pms(rt, pair, clock, device, start + 70.0)
            before = rt
            rt.stop()
            config = sensor_config({"port": pair.path, "simulate": "never", **table})
            rt = SensorRuntime(config, clock=clock, wall_clock=clock, rng=random.Random(1))
            rt.carry_warm_up(before)
            assert rt.try_open()
        woke, after = asleep_then_awake(rt, pair, clock, device, start)
        rt.stop()
    assert {value for _, value in after} == {918.0}
    assert after[0][0] >= woke + 30.0
    again = [e for e in logs if e.get("why") == "its frames come again after a silence"]
    assert len(again) == 1


def test_a_pms_whose_frames_were_all_spoilt_for_a_while_does_not_warm_up_again() -> None:
    """A PMS5003 on a line that spoils every frame's checksum for 20 s: it goes stale, but it
    went on sending, so it neither slept nor lost power, and its good frames after the spell
    are published at once (no warm-up of 30 s)."""
    clock = Clock()
    device = SleepyPms(unsettled=0)
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {"preset": "pms5003", "warmup_s": 30})
        start = clock.now
        before = run_streaming_pms(rt, pair, clock, device, start + 60.0)
        while clock.now < start + 80.0:
            clock.now += 1.0
            rt.tick(clock.now)
            spoilt = bytearray(device.frame())
            spoilt[-1] ^= 0xFF
            feed(rt, pair, bytes(spoilt))
        assert rt.state == "stale"
        back = clock.now
        after = run_streaming_pms(rt, pair, clock, device, start + 100.0)
        rt.stop()
    assert {value for _, value in before} == {918.0}
    assert rt.snapshot().parse_errors["checksum"] == 20
    assert [e for e in logs if e.get("why") == "its frames come again after a silence"] == []
    assert after[0][0] == back + 1.0


def without_start(frame: bytes) -> bytes:
    """The frame without its two start bytes (``42 4D``), lost on the line."""
    return frame[2:]


def start_damaged(frame: bytes) -> bytes:
    """The frame with its first start byte damaged (``42`` read as ``40``)."""
    return b"\x40" + frame[1:]


def second_start_lost(frame: bytes) -> bytes:
    """The frame without its second start byte (``4D``): ``42 00 1C ...``."""
    return frame[:1] + frame[2:]


@pytest.mark.parametrize(
    ("spoil", "interval"),
    [
        (without_start, 1.0),
        (start_damaged, 1.0),
        (second_start_lost, 1.0),
        (without_start, 2.3),
    ],
    ids=[
        "start bytes lost",
        "first start byte damaged",
        "second start byte lost",
        "start bytes lost, a frame every 2.3 s",
    ],
)
def test_a_pms_whose_start_bytes_were_spoilt_for_a_while_does_not_warm_up_again(
    spoil: Callable[[bytes], bytes], interval: float
) -> None:
    """A PMS5003 on a line that spoils the start bytes of every frame for 20 s (a USB-UART
    adapter that drops or garbles bytes; drivers lose frame sync on a lost start byte:
    pimoroni/pms5003-python PR #5, "Read SOF byte-by-byte to allow resync"): the frame
    framer finds no candidate in them, so none is rejected, and the sensor goes stale. Its
    bytes kept coming a frame a second (every 2.3 s in the datasheet's "stable mode") all
    through the spell: it neither slept nor lost power, its fan never stopped, and its good
    frames after the spell are published at once (no warm-up of 30 s), every spoilt frame's
    bytes counted as skipped."""
    clock = Clock()
    device = SleepyPms(unsettled=0)
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {"preset": "pms5003", "warmup_s": 30})
        start = clock.now
        before = run_streaming_pms(rt, pair, clock, device, start + 60.0)
        skipped = rt.framer.skipped_bytes
        spoilt = 0
        while clock.now < start + 80.0:
            clock.now += interval
            rt.tick(clock.now)
            bad = spoil(device.frame())
            spoilt += len(bad)
            feed(rt, pair, bad)
        assert rt.state == "stale"
        back = clock.now
        after = run_streaming_pms(rt, pair, clock, device, start + 100.0)
        rt.stop()
    assert {value for _, value in before} == {918.0}
    assert [e for e in logs if e.get("why") == "its frames come again after a silence"] == []
    assert after[0][0] == back + 1.0
    assert len(after) == 20
    assert rt.framer.skipped_bytes - skipped == spoilt


def stream_every(
    rt: SensorRuntime,
    pair: PtyPair,
    clock: Clock,
    frame: Callable[[], bytes],
    *,
    interval: float,
    until: float,
) -> list[float]:
    """A frame (``frame()``) every ``interval`` seconds until ``until``: the times at which
    ``particles_0_3um_per_dl`` was published."""
    got: list[float] = []
    while clock.now + interval <= until:
        clock.now += interval
        rt.tick(clock.now)
        before = published(rt, "particles_0_3um_per_dl")
        feed(rt, pair, frame())
        if published(rt, "particles_0_3um_per_dl") > before:
            got.append(clock.now)
    return got


def test_a_pms_stale_sooner_than_its_stable_mode_interval_holds_back_its_readings() -> None:
    """What ``sensord check`` tells of ``stale_after_s`` 2 s on a PMS5003 in active mode
    (``stream_interval_note``): in steady air it sends a frame every 2.3 s (its datasheet's
    stable mode), so the sensor is stale before each frame, and each frame after a stale
    spell warms it up again once a reading was published: of 80 frames in 184 s, a handful
    are published (one per warm-up), against every one at the default 5 s."""
    clock = Clock()
    device = SleepyPms(unsettled=0)
    published_at = {}
    for stale in (2.0, None):
        table: dict[str, Any] = {"preset": "pms5003", "warmup_s": 30}
        if stale is not None:
            table["stale_after_s"] = stale
        with PtyPair() as pair:
            rt = open_sensor(pair, clock, table)
            start = clock.now
            published_at[stale] = stream_every(
                rt, pair, clock, device.frame, interval=2.3, until=start + 184.0
            )
            rt.stop()
    assert len(published_at[None]) == 80 - 13  # the open's 30 s warm-up: 13 frames
    assert 0 < len(published_at[2.0]) <= 6


@pytest.mark.parametrize(("stale", "warms_up"), [(4.0, True), (4.8, False)])
def test_a_pms_stale_sooner_than_twice_its_stable_mode_interval_warms_up_for_spoilt_frames(
    stale: float, warms_up: bool
) -> None:
    """What ``sensord check`` tells of ``stale_after_s`` 4 s on a PMS5003 in active mode
    (``stream_interval_note``): a spell of 20 s in which the line loses the start bytes of
    every frame, which still come every 2.3 s (its datasheet's stable mode), leaves no byte
    for more than half of 4 s, so the spell is taken for a silence and the device, which
    never stopped, warms up again (30 s of readings held back). At 4.8 s (twice 2.3 s and
    more) it does not."""
    clock = Clock()
    device = SleepyPms(unsettled=0)
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {"preset": "pms5003", "warmup_s": 30, "stale_after_s": stale})
        start = clock.now
        assert stream_every(rt, pair, clock, device.frame, interval=2.3, until=start + 60.0)

        def spoilt() -> bytes:
            return without_start(device.frame())

        stream_every(rt, pair, clock, spoilt, interval=2.3, until=start + 80.0)
        assert rt.state == "stale"
        back = clock.now
        after = stream_every(rt, pair, clock, device.frame, interval=2.3, until=start + 140.0)
        rt.stop()
    again = [e for e in logs if e.get("why") == "its frames come again after a silence"]
    assert len(again) == warms_up
    assert after[0] >= back + 30.0 if warms_up else after[0] == pytest.approx(back + 2.3)


def test_a_pms_silent_for_a_while_warms_up_again_though_its_first_frame_is_cut() -> None:
    """A PMS5003 from which no byte comes for 40 s, then a frame without its start bytes and
    good frames. Whether the device slept or the line lost its bytes, the host cannot tell:
    no byte came, and a device woken or powered while the line was out resumes mid-frame as
    well. It warms up again, as after any silence: its first frames may be unsettled."""
    clock = Clock()
    device = SleepyPms(unsettled=0)
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {"preset": "pms5003", "warmup_s": 30})
        start = clock.now
        run_streaming_pms(rt, pair, clock, device, start + 60.0)
        while clock.now < start + 100.0:
            clock.now += 1.0
            rt.tick(clock.now)
        assert rt.state == "stale"
        feed(rt, pair, without_start(device.frame()))
        back = clock.now
        after = run_streaming_pms(rt, pair, clock, device, start + 160.0)
        rt.stop()
    again = [e for e in logs if e.get("why") == "its frames come again after a silence"]
    assert len(again) == 1
    assert after[0][0] >= back + 30.0


#: Bytes of no frame from a PMS5003T's line (avaldebe/PyPMS issue #19, ``xxd`` of
#: /dev/ttyAMA0 at 9600 baud, offsets 0x64 to 0x11F): runs of ``00`` with ``80``, ``78``,
#: ``1E``, ``F8`` and ``FE`` between them, no ``42`` in them.
PMS5003T_LINE_NOISE = bytes.fromhex(
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 80 80 00 78 fe 00 78 fe 00 80 80 00"
    "78 fe 00 78 fe 78 80 80 00 80 00 00 80 00 1e 80 78 00 00 80 80 00 00 00 1e 80 78 00"
    "00 80 80 00 00 1e 80 78 00 00 80 80 00 00 1e 80 78 00 00 80 80 00 f8 f8 1e 80 78 00"
    "00 80 80 00 f8 f8 1e 80 78 00 00 80 80 00 f8 f8 1e 80 78 00 00 80 80 00 80 f8 1e 80"
    "78 00 00 80 80 00 80 f8 1e 80 78 00 00 80 80 00 80 f8 1e 80 78 00 00 80 80 00 80 f8"
    "1e 80 78 00 00 80 80 00 80 f8 1e 80 78 00 00 80 80 00 80 f8"
)


@pytest.mark.parametrize(
    "noise",
    [bytes(200), PMS5003T_LINE_NOISE, bytes(30)],
    ids=["200 zero bytes", "PyPMS issue 19 line noise", "30 zero bytes"],
)
def test_a_pms_powered_anew_after_a_burst_of_noise_warms_up_again(noise: bytes) -> None:
    """A streaming PMS5003 whose supply is cut until it is stale: as its supply comes back
    the port reads a burst of bytes of no frame before its first frame (a TX line held low
    reads as ``00`` bytes, a sagging supply as garbage), more bytes than a frame cut short
    and a little noise. No candidate frame was rejected in them, so the device sent no frame
    while it was stale (three spoilt frames long before do not count): it was off, and it
    warms up again. Its first frames (zero particle counts) are not published, the noise is
    counted in the skipped bytes, and no frame is lost: every frame after the noise is read."""
    clock = Clock()
    device = SleepyPms(unsettled=8)
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {"preset": "pms5003", "warmup_s": 30})
        start = clock.now
        before = run_streaming_pms(rt, pair, clock, device, start + 50.0)
        for _ in range(3):
            spoilt = bytearray(device.frame())
            spoilt[-1] ^= 0xFF
            feed(rt, pair, bytes(spoilt))
        before += run_streaming_pms(rt, pair, clock, device, start + 60.0)
        device.asleep = True
        run_streaming_pms(rt, pair, clock, device, start + 120.0)
        assert rt.state == "stale"
        skipped = rt.framer.skipped_bytes
        frames = rt.framer.frames
        feed(rt, pair, noise)
        device.asleep = False
        device.unsettled = device.after_wake
        woke = clock.now
        after = run_streaming_pms(rt, pair, clock, device, start + 200.0)
        rt.stop()
    assert {value for _, value in before} == {918.0}
    again = [e for e in logs if e.get("why") == "its frames come again after a silence"]
    assert len(again) == 1
    assert {value for _, value in after} == {918.0}
    assert after[0][0] >= woke + 30.0
    assert rt.framer.skipped_bytes - skipped == len(noise)
    assert rt.framer.frames - frames == 80
    errors = rt.snapshot().parse_errors
    assert errors["checksum"] == sum(errors.values()) == 3


@pytest.mark.parametrize(
    "noise", [bytes(200), PMS5003T_LINE_NOISE], ids=["200 zero bytes", "PyPMS issue 19 line noise"]
)
def test_a_pms_powered_with_its_port_open_after_a_burst_of_noise_warms_up_once(
    noise: bytes,
) -> None:
    """A PMS5003 powered as its port opens: a burst of bytes of no frame, then its frames,
    the first with zero particle counts. The open's warm-up reads them and publishes none;
    the noise is skipped bytes and no parse error, no frame is lost, and the warm-up does not
    start again when the frames come (no silence came before them)."""
    clock = Clock()
    device = SleepyPms(unsettled=0)
    device.unsettled = 8  # its first frames, unsettled
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {"preset": "pms5003", "warmup_s": 30})
        start = clock.now
        clock.now += 0.5
        feed(rt, pair, noise)
        after = run_streaming_pms(rt, pair, clock, device, start + 60.0)
        rt.stop()
    assert {value for _, value in after} == {918.0}
    assert after[0][0] >= start + 30.0
    assert rt.framer.skipped_bytes == len(noise)
    assert rt.framer.frames == 60
    assert sum(rt.snapshot().parse_errors.values()) == 0
    warming = [e.get("why") for e in logs if e["event"].startswith("warming up")]
    assert warming == [None]  # the open's, not again


@pytest.mark.parametrize(
    ("preset", "rewarm"),
    [("pms5003", True), ("pmsa003", True), ("sds011", False), ("mhz19", False)],
)
def test_only_the_pms_presets_warm_up_again_after_a_silence(preset: str, rewarm: bool) -> None:
    """An SDS011 on a working period is silent for minutes between its measurements by
    design, and the MH-Z19 is polled (a polled device warms up again after it was stale
    whatever the key says)."""
    assert sensor_config({"port": "sim://s", "preset": preset}).warmup_after_silence is rewarm


def test_an_mhz19_back_after_a_power_cut_warms_up_before_its_preheat_values_count() -> None:
    """A polled MH-Z19 whose power is cut for 20 s behind its open port (its boot answers
    fall between two polls): its polls go unanswered, it goes stale, and its answers after it
    are its preheat's (410 ppm) before its measurements. A polled device that answers again
    after it was stale may have been powered anew: it warms up again, so no preheat value is
    published, and the measurements after the warm-up are."""
    clock = Clock()
    table = {"preset": "mhz19", "warmup_s": 20, "poll": {"interval_s": 1}}
    device = Mhz19([mhz19_answer(650)])
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        start = clock.now
        before = run_polls(rt, pair, clock, device, start + 40.0)
        device.restart([b""] * 20 + [mhz19_answer(410)] * 10 + [mhz19_answer(700)])
        cut = clock.now
        after = run_polls(rt, pair, clock, device, start + 120.0)
        assert rt.state == "up"
        rt.stop()
    assert {value for _, value in before} == {650.0}
    assert {value for _, value in after} == {700.0}
    assert after[0][0] >= cut + 20.0 + 20.0
    warming = [e for e in logs if e["event"].startswith("warming up")]
    assert [e.get("why") for e in warming] == [None, "its polls are answered again"]


@pytest.mark.parametrize(
    ("when", "polls"),
    [("in the warm-up of the open", 2), ("after it", 2), ("in the warm-up of the open", 5)],
)
def test_an_mhz19_whose_supply_is_cut_warms_up_again(when: str, polls: int) -> None:
    """The preset's MH-Z19 (polled every 5 s, 180 s warm-up, stale after 15 s) whose supply
    is cut for two polls, not long enough to go stale, or for five, in the warm-up of its
    port's open or after it; its boot answers fall between two polls, and it answers with its
    preheat value (410 ppm) for the 3 minutes of its preheat. Two polls in a row unanswered
    are a device silent for a whole poll interval: it warms up again from its first answer
    (a warm-up under way goes on longer, one over starts again), so no preheat value is
    published."""
    clock = Clock()
    device = Mhz19([mhz19_answer(650)])
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {"preset": "mhz19"})
        start = clock.now
        cut_at = start + (100.0 if when == "in the warm-up of the open" else 300.0)
        before = run_polls(rt, pair, clock, device, cut_at)
        device.restart([b""] * polls + [mhz19_answer(410)] * 36 + [mhz19_answer(700)])
        after = run_polls(rt, pair, clock, device, cut_at + 400.0)
        rt.stop()
    assert {value for _, value in before} == ({650.0} if when == "after it" else set())
    assert {value for _, value in after} == {700.0}
    assert after[0][0] >= cut_at + 5.0 * polls + 180.0
    assert rt.poll_timeouts == polls
    stale = [e for e in logs if e.get("state") == "stale"]
    assert len(stale) == (polls > 2)
    warming = [e.get("why") for e in logs if e["event"].startswith("warming up")]
    assert warming == [None] + (["its polls are answered again"] if when == "after it" else [])


def test_an_mhz19_that_misses_one_answer_goes_on_publishing() -> None:
    """One poll unanswered (an exchange spoilt on the line) is no restart: the answers after
    it are published at once; two running (above) warm up again."""
    clock = Clock()
    device = Mhz19([mhz19_answer(650)])
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {"preset": "mhz19"})
        start = clock.now
        run_polls(rt, pair, clock, device, start + 300.0)
        device.restart([b"", mhz19_answer(660)])
        lost = clock.now
        after = run_polls(rt, pair, clock, device, start + 330.0)
        rt.stop()
    assert rt.poll_timeouts == 1
    assert {value for _, value in after} == {660.0}
    assert after[0][0] <= lost + 10.0
    assert [e.get("why") for e in logs if e["event"].startswith("warming up")] == [None]


#: An MH-Z19 answer whose first byte the line spoilt: lost (a USB-UART adapter that drops a
#: byte; ESPEasy issue #2394 logs a unit's answers read a byte out of place, ``ff ff 79 1 0 0
#: 0 0 0``), or damaged (a bit flipped by a glitch on the line).
SPOILS: dict[str, Callable[[bytes], bytes]] = {
    "first byte lost": lambda answer: answer[1:],
    "first byte damaged": lambda answer: b"\x7f" + answer[1:],
}


#: The hint of the ``no response to poll request`` line of a poll answered with an answer
#: whose start byte the line lost or damaged: what came, what it costs, what to check.
SPOILT_ANSWER_TOLD = (
    "the device answered, but the line lost or damaged a start byte of its answer (the rest "
    "came whole, its checksum holding): this poll's reading is lost, and the device is powered (it "
    "does not warm up again); if it recurs, check the cable (its length, the ground shared "
    "with the adapter) and the adapter"
)


@pytest.mark.parametrize("polls", [2, 4])
@pytest.mark.parametrize("spoil", sorted(SPOILS))
def test_an_mhz19_whose_first_bytes_the_line_spoils_for_a_while_does_not_warm_up(
    spoil: str, polls: int
) -> None:
    """The preset's MH-Z19 (polled every 5 s, 180 s warm-up, stale after 15 s) whose
    answers to two polls running, or four (it goes stale), lose their first byte (``FF``) or
    have it damaged: no frame answers them, but the rest of each answer comes, its command
    byte 86 and its checksum (which covers bytes 1..7, not the ``FF``) holding. The device
    answered, so it was powered: no silence, no warm-up, and the answer after the glitch is
    published at once. The spoilt answers are counted as polls no frame answered and told as
    such, with their bytes; their values are not read (999 ppm is never published)."""
    clock = Clock()
    device = Mhz19([mhz19_answer(650)])
    spoilt = SPOILS[spoil](mhz19_answer(999))
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {"preset": "mhz19"})
        start = clock.now
        run_polls(rt, pair, clock, device, start + 300.0)
        device.answers = collections.deque([spoilt] * polls + [mhz19_answer(660)])
        glitch = clock.now
        after = run_polls(rt, pair, clock, device, start + 340.0)
        assert rt.state == "up"
        rt.stop()
    assert rt.poll_timeouts == polls
    assert {value for _, value in after} == {660.0}
    assert after[0][0] <= glitch + 5.0 * polls + 5.0  # the first answer after the spoilt ones
    assert [e.get("why") for e in logs if e["event"].startswith("warming up")] == [None]
    stale = [e for e in logs if e.get("state") == "stale"]
    # stale: not the serial settings, which read the rest of each answer, but the line
    assert [e["hint"] for e in stale] == [
        "its polls are answered, but the line loses or damages a start byte of each answer "
        "(the rest comes whole, its checksum holding: the poll warnings' spoilt_answer), so "
        "no frame is read; the device is powered: check the cable (its length, the ground "
        "shared with the adapter) and the adapter"
    ] * (polls > 2)
    told = [e for e in logs if e["event"] == "no response to poll request"]
    assert [(e["spoilt_answer"], e["hint"]) for e in told] == [
        (spoilt.hex(" ").upper(), SPOILT_ANSWER_TOLD)
    ]


#: What an MH-Z19 whose supply is cut sends to a poll: nothing, a burst of ``00`` bytes (its TX
#: line held low as its supply falls; ESPEasy issue #2254, "MHZ19: Unknown response: 0 0 0 0
#: 0 0 0 0 0" from units that answered again after a power-down), or of ``FF`` (a line
#: floating high), 8 or 9 bytes long; or 9 bytes of noise whose second byte is 86 but whose
#: checksum fails, as a unit just powered answers first (bencorrado/pmsensor PR #8: "A bad
#: checksum", then 1215 ppm twice, then 410 ppm for about a minute).
BURSTS: dict[str, bytes] = {
    "nothing": b"",
    "nine 00": bytes(9),
    "eight 00": bytes(8),
    "nine FF": b"\xff" * 9,
    "eight FF": b"\xff" * 8,
    "nine of noise": bytes.fromhex("00 86 04 BF 3E 00 00 00 00"),
}


@pytest.mark.parametrize("polls", [2, 4])
@pytest.mark.parametrize("burst", list(BURSTS))
def test_an_mhz19_whose_supply_is_cut_for_a_while_warms_up_whatever_came(
    burst: str, polls: int
) -> None:
    """The preset's MH-Z19 whose supply is cut for two polls, or four (it goes stale), each
    answered only by what a line without the device's supply carries (``BURSTS``), 8 or 9
    bytes like an answer that lost its first byte or has it damaged: none is an answer (no
    command byte 86 with its checksum), so the polls are a silence, the device warms up
    again from its first answer, and its preheat values (410 ppm for the 3 minutes of the
    MH-Z19B's preheat) are not published."""
    clock = Clock()
    device = Mhz19([mhz19_answer(650)])
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {"preset": "mhz19"})
        start = clock.now
        run_polls(rt, pair, clock, device, start + 300.0)
        noise = BURSTS[burst]
        device.restart([noise] * polls + [mhz19_answer(410)] * 36 + [mhz19_answer(700)])
        cut = clock.now
        after = run_polls(rt, pair, clock, device, start + 700.0)
        rt.stop()
    assert rt.poll_timeouts == polls
    assert {value for _, value in after} == {700.0}
    assert after[0][0] >= cut + 5.0 * polls + 180.0
    warming = [e.get("why") for e in logs if e["event"].startswith("warming up")]
    assert warming == [None, "its polls are answered again"]
    told = [e for e in logs if e["event"] == "no response to poll request"]
    assert told
    assert not [e for e in told if "spoilt_answer" in e or "hint" in e]


@pytest.mark.parametrize("spoil", sorted(SPOILS))
def test_an_mhz19_whose_supply_is_cut_after_an_answer_the_line_spoilt_warms_up(
    spoil: str,
) -> None:
    """The preset's MH-Z19 whose supply sags: the answer to the first poll of the spell
    comes spoilt (its first byte lost or damaged, the rest checked), then the supply is cut
    for three polls, unanswered, and it goes stale. The spoilt answer tells it was powered
    then, not after: the polls it left unanswered since are a silence, and it warms up again
    from its first answer, its preheat values not published."""
    clock = Clock()
    device = Mhz19([mhz19_answer(650)])
    spoilt = SPOILS[spoil](mhz19_answer(999))
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {"preset": "mhz19"})
        start = clock.now
        run_polls(rt, pair, clock, device, start + 300.0)
        device.restart([spoilt] + [b""] * 3 + [mhz19_answer(410)] * 36 + [mhz19_answer(700)])
        cut = clock.now
        after = run_polls(rt, pair, clock, device, start + 700.0)
        rt.stop()
    assert rt.poll_timeouts == 4
    assert {value for _, value in after} == {700.0}
    assert after[0][0] >= cut + 20.0 + 180.0
    warming = [e.get("why") for e in logs if e["event"].startswith("warming up")]
    assert warming == [None, "its polls are answered again"]


@pytest.mark.parametrize("spoil", sorted(SPOILS))
def test_an_mhz19_whose_supply_falls_as_it_answers_warms_up(spoil: str) -> None:
    """The preset's MH-Z19 whose supply falls as it answers: its answer comes spoilt (its
    first byte lost or damaged, the rest checked), then, in the same poll, the burst of
    ``00`` bytes of its TX line held low as the supply goes (ESPEasy issue #2254: "MHZ19:
    Unknown response: 0 0 0 0 0 0 0 0 0"), and the next poll is unanswered; it is powered
    again by the poll after. More bytes came than an answer's: the first poll is no answer,
    so the two polls are a silence, and the device warms up again from its first answer,
    its preheat values not published. (``sensord.sensor.HEARD_BYTES`` holds one byte more
    than the longest spoilt answer so: with 9, the damaged answer and its first 00 byte
    passed for a spoilt answer alone, one poll of silence was left, and the 410 ppm of the
    preheat were published.)"""
    clock = Clock()
    device = Mhz19([mhz19_answer(650)])
    falling = SPOILS[spoil](mhz19_answer(999)) + bytes(9)
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {"preset": "mhz19"})
        start = clock.now
        run_polls(rt, pair, clock, device, start + 300.0)
        device.restart([falling, b""] + [mhz19_answer(410)] * 36 + [mhz19_answer(700)])
        cut = clock.now
        after = run_polls(rt, pair, clock, device, start + 700.0)
        rt.stop()
    assert rt.poll_timeouts == 2
    assert {value for _, value in after} == {700.0}
    assert after[0][0] >= cut + 10.0 + 180.0
    warming = [e.get("why") for e in logs if e["event"].startswith("warming up")]
    assert warming == [None, "its polls are answered again"]
    told = [e for e in logs if e["event"] == "no response to poll request"]
    assert not [e for e in told if "spoilt_answer" in e]


@pytest.mark.parametrize("spoil", sorted(SPOILS))
def test_an_mhz19_whose_one_boot_answer_the_line_spoils_is_warmed_up_and_set_up_again(
    spoil: str,
) -> None:
    """An MH-Z19 with ``setup = ["abc_off"]`` that restarts between two polls (its supply
    sagged), so that a single poll finds it booting, and that one boot answer (bytes 6..7 =
    15000) loses its first byte on the line or has it damaged, as a line does when the
    supply comes back (esphome/issues #488: "Invalid preamble from MHZ19" after a hard
    power cycle): no frame comes, but the rest of the answer does, its command byte and
    checksum holding, and it is its boot's. The device restarted: it warms up again (its
    preheat values, 410 ppm, are not published) and ``abc_off``, which the restart undid
    (its ABC is on again after a boot), is written again once it is up. The restart is told
    (``device restarted``) and the poll's warning says the answer was a boot's."""
    clock = Clock()
    table = {"preset": "mhz19", "warmup_s": 20, "setup": ["abc_off"], "poll": {"interval_s": 1}}
    device = Mhz19([mhz19_answer(650)])
    spoilt = SPOILS[spoil](mhz19_answer(500, BOOTING))
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        start = clock.now
        before = run_polls(rt, pair, clock, device, start + 60.0)
        assert device.abc_off_writes == 1
        device.restart([spoilt] + [mhz19_answer(410)] * 5 + [mhz19_answer(700)])
        restarted = clock.now
        after = run_polls(rt, pair, clock, device, start + 120.0)
        assert rt.state == "up"
        rt.stop()
    assert {value for _, value in before} == {650.0}
    assert {value for _, value in after} == {700.0}
    assert after[0][0] >= restarted + 20.0
    assert not device.abc
    assert device.abc_off_writes == 2
    assert rt.setup_reruns == 1
    assert rt.poll_timeouts == 1
    restarts = [e for e in logs if e["event"].startswith("device restarted")]
    assert [e["log_level"] for e in restarts] == ["warning"]
    reruns = [e for e in logs if e["event"] == "sending the set-up commands again"]
    assert [e["why"] for e in reruns] == ["the device restarted"]
    told = [e for e in logs if e["event"] == "no response to poll request"]
    assert [(e["spoilt_answer"], e["hint"]) for e in told] == [
        (spoilt.hex(" ").upper(), SPOILT_BOOT_ANSWER_TOLD)
    ]


#: The hint of the ``no response to poll request`` line of a poll answered with an answer of
#: the device's boot whose start byte the line lost or damaged.
SPOILT_BOOT_ANSWER_TOLD = (
    "the device answered with an answer of its boot (it restarted), but the line lost or "
    "damaged a start byte of it (the rest came whole, its checksum holding): it warms up "
    "again, and its set-up is written again once it is up"
)


class PolledPms(SleepyPms):
    """A PMS5003 in passive mode on a pty master: ``passive_mode`` acknowledged, each read
    request answered with the next of ``answers`` (None: its settled frame), then its
    settled frame for ever."""

    def __init__(self) -> None:
        super().__init__(unsettled=0)
        self.answers: collections.deque[bytes | None] = collections.deque()

    def __call__(self, written: bytes) -> bytes:
        out = b""
        if command_bytes("pms5003", "passive_mode") in written:
            out += PASSIVE_ACK
        if command_bytes("pms5003", "read") in written:
            answer = self.answers.popleft() if self.answers else None
            out += self.frame() if answer is None else answer
        return out


#: A passive PMS's read request every 5 s, its set-up passive mode; 30 s of warm-up.
POLLED_PMS = {
    "preset": "pms5003",
    "setup": ["passive_mode"],
    "poll": {"command": "read", "interval_s": 5.0},
}

#: A PMS5003 frame of other values than the settled one's (0.3 um: 999 per dl).
OTHER_PMS_FRAME = plantower([5, 7, 8, 5, 7, 8, 999, 262, 44, 4, 2, 1, 0x9700])


#: A Plantower frame whose start bytes the line spoilt: its first (``42``) lost or damaged as
#: an MH-Z19's answer's (``SPOILS``), or its second (``4D``) lost or damaged (``42 00 1C ...``:
#: pimoroni/pms5003-python issue #4 and PR #5, a driver that read the start bytes two at a
#: time lost one and "never gets back into sync"; adafruit/Adafruit_PM25AQI issue #22, a
#: PMS7003's checksum ending in ``42`` before the next frame's ``42 4D``).
PMS_SPOILS: dict[str, Callable[[bytes], bytes]] = {
    **SPOILS,
    "second start byte lost": lambda frame: frame[:1] + frame[2:],
    "second start byte damaged": lambda frame: frame[:1] + b"\x4c" + frame[2:],
}


@pytest.mark.parametrize("polls", [2, 4])
@pytest.mark.parametrize("spoil", sorted(PMS_SPOILS))
def test_a_passive_pms_whose_first_bytes_the_line_spoils_for_a_while_does_not_warm_up(
    spoil: str, polls: int
) -> None:
    """A PMS5003 in passive mode (read every 5 s, 30 s warm-up) whose frames answering two
    polls running, or four (it goes stale), lose one of their start bytes (``42 4D``) or
    have it damaged, as USB-UART adapters do (pimoroni/pms5003-python PR #5: drivers lose
    frame sync on them): no frame answers them, but the rest comes, the other start byte,
    the length field and the checksum (which covers both start bytes) holding. The device
    answered, so it was powered: no warm-up, the frame after the glitch published at once;
    the spoilt frames' values are not read (999 per dl never published)."""
    clock = Clock()
    device = PolledPms()
    channel = "particles_0_3um_per_dl"
    spoilt = PMS_SPOILS[spoil](OTHER_PMS_FRAME)
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, POLLED_PMS)
        start = clock.now
        assert run_polls(rt, pair, clock, device, start + 60.0, channel=channel)
        device.answers = collections.deque([spoilt] * polls)
        glitch = clock.now
        after = run_polls(rt, pair, clock, device, start + 100.0, channel=channel)
        assert rt.state == "up"
        rt.stop()
    assert rt.poll_timeouts == polls
    assert {value for _, value in after} == {918.0}
    assert after[0][0] <= glitch + 5.0 * polls + 5.0  # the first frame after the spoilt ones
    assert [e.get("why") for e in logs if e["event"].startswith("warming up")] == [None]
    told = [e for e in logs if e["event"] == "no response to poll request"]
    assert [(e["spoilt_answer"], e["hint"]) for e in told] == [
        (spoilt.hex(" ").upper(), SPOILT_ANSWER_TOLD)
    ]


#: What a passive PMS whose supply is cut sends to a poll: nothing, or a burst of ``00``
#: bytes (its TX line held low) or ``FF`` (floating high), 31 or 32 bytes long, like a frame
#: that lost a start byte or has it damaged; or a ``42`` and noise after it, 31 bytes like a
#: frame that lost its ``4D``: a frame's first byte and its TX line held low as the supply
#: falls, with or without the length field after it (no checksum holds), or the bytes of no
#: frame from a PMS5003T's line (``PMS5003T_LINE_NOISE``, avaldebe/PyPMS issue #19).
PMS_BURSTS: dict[str, bytes] = {
    "nothing": b"",
    "thirty-two 00": bytes(32),
    "thirty-one 00": bytes(31),
    "thirty-two FF": b"\xff" * 32,
    "thirty-one FF": b"\xff" * 31,
    "42 and thirty 00": b"\x42" + bytes(30),
    "42 00 1C and twenty-eight 00": b"\x42\x00\x1c" + bytes(28),
    "42 and line noise": b"\x42" + PMS5003T_LINE_NOISE[44:74],
}


@pytest.mark.parametrize("polls", [2, 4])
@pytest.mark.parametrize("burst", list(PMS_BURSTS))
def test_a_passive_pms_whose_supply_is_cut_for_a_while_warms_up_whatever_came(
    burst: str, polls: int
) -> None:
    """A PMS5003 in passive mode whose supply is cut for two polls, or four (it goes stale),
    each answered only by what a line without the device's supply carries (``PMS_BURSTS``):
    none is a frame that lost a start byte (no start byte, length field and checksum that
    hold together), so the polls are a silence and the device warms up again from its first frame: the frames of
    its 30 s warm-up are not published."""
    clock = Clock()
    device = PolledPms()
    channel = "particles_0_3um_per_dl"
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, POLLED_PMS)
        start = clock.now
        assert run_polls(rt, pair, clock, device, start + 60.0, channel=channel)
        device.answers = collections.deque([PMS_BURSTS[burst]] * polls)
        cut = clock.now
        after = run_polls(rt, pair, clock, device, start + 160.0, channel=channel)
        rt.stop()
    assert {value for _, value in after} == {918.0}
    assert after[0][0] >= cut + 5.0 * (polls - 1) + 30.0
    warming = [e.get("why") for e in logs if e["event"].startswith("warming up")]
    assert warming == [None, "its polls are answered again"]
    told = [e for e in logs if e["event"] == "no response to poll request"]
    assert told
    assert not [e for e in told if "spoilt_answer" in e]


def test_a_pms_frame_is_told_spoilt_by_one_start_byte_and_never_by_random_bytes() -> None:
    """A passive PMS's read answered with its frame but for one start byte lost or damaged is
    told, the other start byte, the length field and the checksum (which covers ``42 4D``)
    holding; two start bytes spoilt, a checksum that fails, or another length field are not.
    Random bytes of a frame's length (a line's noise, here 200,000 strings starting with a
    ``42``, a ``4D`` or neither) are never such an answer: they would have to hold a start
    byte, the length field and a 16-bit sum at once."""
    check = spoilt_answer_check("pms5003", (command_bytes("pms5003", "read"),))
    assert check is not None
    frame = plantower([5, 7, 8, 5, 7, 8, 918, 262, 44, 4, 2, 1, 0x9700])
    for spoil in PMS_SPOILS.values():
        assert check(spoil(frame)) == frame  # made whole
    assert check(b"\x42\x42" + frame[2:])  # the 4D read as a 42
    assert not check(b"\x40\x4c" + frame[2:])  # both start bytes damaged
    assert not check(b"\x40" + frame[2:])  # one lost, the other damaged
    assert not check(frame[:1] + frame[3:])  # the 4D and a length byte lost
    lost = frame[:1] + frame[2:]
    assert not check(lost[:-1] + bytes([lost[-1] ^ 1]))  # its checksum fails
    other = b"\x42\x00\x1d" + frame[4:-2]  # another length field, its sum holding
    assert not check(other + ((0x4D + sum(other)) % 65536).to_bytes(2, "big"))
    rng = random.Random(37)
    for i in range(200_000):
        noise = bytearray(rng.randbytes(31 + i % 2))
        if i % 3 < 2:
            noise[0] = (0x42, 0x4D)[i % 3]
        assert not check(bytes(noise))


def test_a_pms_spoilt_frame_check_holds_each_of_its_fields_alone() -> None:
    """Each of the three things that tell a passive PMS's frame that lost or had damaged one
    start byte (the start byte that came, the length field, the 16-bit sum over both start
    bytes) is checked on its own: bytes that hold the other two and miss it by any value are
    never taken. Every head value (a lost or damaged ``42`` or ``4D`` and the other byte
    right, or both bytes damaged), every other length field (its sum made to hold) and every
    other checksum is tried, so a check that left one out, or compared only its low byte,
    fails here at once, where random bytes pass such a check once in 65536 or 2**32 (what
    ``test_a_pms_frame_is_told_spoilt_by_one_start_byte_and_never_by_random_bytes`` tries).
    """
    check = spoilt_answer_check("pms5003", (command_bytes("pms5003", "read"),))
    assert check is not None
    frame = plantower([5, 7, 8, 5, 7, 8, 918, 262, 44, 4, 2, 1, 0x9700])
    tail = frame[2:]  # the length field, the data and the checksum
    # every head: one start byte that came, or two bytes of which one alone is right
    for first in range(256):
        assert (check(bytes([first]) + tail) is not None) == (first in (0x42, 0x4D)), first
        for second in range(256):
            head = bytes([first, second])
            good = (first == 0x42) != (second == 0x4D)
            assert (check(head + tail) == frame) == good, head.hex()
    for lost in (frame[1:], frame[:1] + frame[2:]):
        # every other length field, the sum made to hold over it
        for field in range(65536):
            if field == 0x1C:
                continue
            body = field.to_bytes(2, "big") + lost[-28:-2]
            total = (0x42 + 0x4D + sum(body)) % 65536
            body = lost[:-30] + body
            assert check(body + total.to_bytes(2, "big")) is None, field
        # every other checksum
        right = int.from_bytes(lost[-2:], "big")
        for total in range(65536):
            if total != right:
                assert check(lost[:-2] + total.to_bytes(2, "big")) is None, total


def test_an_mhz19_spoilt_answer_check_holds_each_of_its_fields_alone() -> None:
    """The same of an MH-Z19's answer that lost or had damaged its first byte (``FF``): the
    byte in its place may be anything but ``FF`` (that is a whole answer, the framer's), and
    the command byte ``86`` and the checksum over bytes 1..7 must hold. Every command byte
    (the checksum made to hold) and every other checksum is tried, so a check that left
    either out fails here at once (random bytes pass it once in 256)."""
    check = spoilt_answer_check("mhz19", (command_bytes("mhz19", "read"),))
    assert check is not None
    answer = mhz19_answer(650, 10500, status=0x40)
    for head in range(256):
        assert (check(bytes([head]) + answer[1:]) is not None) == (head != 0xFF), head
    assert check(answer[1:]) == answer
    for lost in (answer[1:], b"\x00" + answer[1:]):
        at = len(lost) - 8  # where the command byte is
        for command in range(256):
            body = lost[:at] + bytes([command]) + lost[at + 1 : -1]
            whole = check(body + bytes([-sum(body[at:]) % 256]))
            assert (whole is not None) == (command == 0x86), command
        for total in range(256):
            if total != lost[-1]:
                assert check(lost[:-1] + bytes([total])) is None, total


def pms5003st_frame(words: list[int]) -> bytes:
    """A 40-byte PMS5003ST frame (length field 00 24) of 17 data words, its sum computed."""
    body = b"\x42\x4d\x00\x24" + b"".join(w.to_bytes(2, "big") for w in words)
    return body + (sum(body) % 65536).to_bytes(2, "big")


class PolledPms5003st(PolledPms):
    """A PMS5003ST in passive mode (``PolledPms``): its settled frames are 40 bytes long, the
    longest of the Plantower presets (0.3 um: 918 per dl; HCHO, 22.5 °C, 45.0 %, version 0x91
    and error code 0)."""

    def frame(self) -> bytes:
        return pms5003st_frame([5, 7, 8, 5, 7, 8, 918, 262, 44, 4, 2, 1, 30, 225, 450, 0, 0x9100])


#: A PMS5003ST frame of other values than the settled one's (0.3 um: 999 per dl).
OTHER_PMS5003ST_FRAME = pms5003st_frame(
    [5, 7, 8, 5, 7, 8, 999, 262, 44, 4, 2, 1, 30, 225, 450, 0, 0x9100]
)


@pytest.mark.parametrize("spoil", ["first byte damaged", "second start byte damaged"])
@pytest.mark.parametrize("falling", [False, True], ids=["whole", "supply falling after it"])
def test_a_passive_pms5003st_s_spoilt_40_byte_frames_are_told_from_a_falling_supply(
    spoil: str, falling: bool
) -> None:
    """A PMS5003ST in passive mode, whose 40-byte frames are the longest a spoilt answer is
    checked of: four polls running answered with a frame whose start byte the line damaged,
    all 40 bytes there, are told and cost no warm-up, which ``sensord.sensor.HEARD_BYTES``
    needs to hold all 40 (at 33, the bound of a 32-byte frame, the check sees a cut frame
    and the polls are a silence); each followed by the ``00`` bytes of a TX line held low as
    the supply falls (ESPEasy issue #2254's zeros, as the MH-Z19's test), they are no answer
    and the device warms up again, which needs it to hold one byte more than the frame (at
    40, the 40 bytes held would pass as the answer)."""
    clock = Clock()
    device = PolledPms5003st()
    channel = "particles_0_3um_per_dl"
    spoilt = PMS_SPOILS[spoil](OTHER_PMS5003ST_FRAME)
    assert len(spoilt) == 40
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {**POLLED_PMS, "preset": "pms5003st"})
        start = clock.now
        assert run_polls(rt, pair, clock, device, start + 60.0, channel=channel)
        device.answers = collections.deque([spoilt + bytes(8) if falling else spoilt] * 4)
        glitch = clock.now
        after = run_polls(rt, pair, clock, device, start + 160.0, channel=channel)
        rt.stop()
    assert {value for _, value in after} == {918.0}
    warming = [e.get("why") for e in logs if e["event"].startswith("warming up")]
    told = [e for e in logs if e["event"] == "no response to poll request"]
    if falling:
        assert warming == [None, "its polls are answered again"]
        assert after[0][0] >= glitch + 15.0 + 30.0
        assert not [e for e in told if "spoilt_answer" in e]
    else:
        assert warming == [None]
        assert after[0][0] <= glitch + 5.0 * 4 + 5.0
        assert [e["spoilt_answer"] for e in told] == [spoilt.hex(" ").upper()]


@pytest.mark.parametrize(
    ("preset", "poll"),
    [
        ("mhz19", None),
        ("mhz19", "read"),
        ("mhz19", "abc_off"),
        ("pms5003", "read"),
        ("pms5003", "sleep"),
        ("pms5003", None),
    ],
)
def test_only_a_device_polled_with_its_read_request_has_its_spoilt_answers_told(
    preset: str, poll: str | None
) -> None:
    """The MH-Z19's checksum leaves out its answer's first byte, and a PMS's covers it, a
    known ``42``, so an answer without it can be checked: only a sensor of the preset polled
    with its read request has such a check (its own requests may get other answers)."""
    requests = () if poll is None else (command_bytes(preset, poll),)
    check = spoilt_answer_check(preset, requests)
    assert (check is not None) == (poll == "read")
    if check is not None and preset == "pms5003":
        frame = plantower([5, 7, 8, 5, 7, 8, 918, 262, 44, 4, 2, 1, 0x9700])
        assert check(frame[1:])
        assert check(b"\x00" + frame[1:])
        assert not check(frame)  # whole: the framer's
        assert not check(frame[1:-1] + bytes([frame[-1] ^ 1]))  # its checksum fails
        assert not check(frame[2:])  # a byte more lost
        assert not check(b"\x00" + frame)  # a byte more
        other = b"\x4d\x00\x1d" + frame[4:-2]  # another length, its sum holding
        assert not check(other + ((0x42 + sum(other)) % 65536).to_bytes(2, "big"))
    elif check is not None:
        answer = mhz19_answer(650)
        assert check(answer[1:]) == answer  # made whole
        assert check(b"\x00" + answer[1:]) == answer
        assert not check(answer)  # whole: the framer's
        assert not check(answer[1:-1] + bytes([answer[-1] ^ 1]))  # its checksum fails
        assert not check(answer[2:])  # a byte more lost
        assert not check(b"\x00" + answer)  # a byte more


def test_an_mhz19_on_a_line_that_loses_answers_now_and_then_still_publishes() -> None:
    """A polled MH-Z19 (the preset's 5 s polls and 180 s warm-up) whose line loses four
    answers in a row every minute: it goes stale and answers again twelve times in twenty
    minutes, more often than a warm-up lasts. A warm-up after such a silence starts only
    once a reading was published after the last one, so the device is never held back for
    good: its answers between the warm-ups are published."""
    clock = Clock()
    device = LossyMhz19(every=12, how="lost")
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, {"preset": "mhz19"})
        start = clock.now
        got = run_polls(rt, pair, clock, device, start + 1200.0)
        rt.stop()
    assert {value for _, value in got} == {650.0}
    assert got[0][0] >= start + 180.0  # the first open's warm-up
    assert len(got) >= 30  # those between a warm-up and the next lost answers
    assert rt.framer.frames == len(got) + rt.ignored
    again = [e for e in logs if e.get("why") == "its polls are answered again"]
    assert 1 <= len(again) <= 5


class LossyMhz19(Mhz19):
    """An MH-Z19 answering 650 ppm whose answers to four polls in a row every ``every`` polls
    do not come whole: the line loses them (``lost``: no byte, as when its
    supply is cut, its boot's answers falling between two polls) or drops a byte of each
    (``spoilt``: its power stays on, and the rest of each answer comes)."""

    def __init__(self, every: int, how: str) -> None:
        super().__init__([mhz19_answer(650)])
        self.every = every
        self.how = how
        self.polls = 0

    def __call__(self, written: bytes) -> bytes:
        out = super().__call__(written)
        if command_bytes("mhz19", "read") in written:
            self.polls += 1
            if self.polls % self.every < 4:
                return b"" if self.how == "lost" else out[:3] + out[4:]
        return out


@pytest.mark.parametrize("how", ["spoilt", "lost"])
def test_an_mhz19_on_a_lossy_line_is_set_up_again_only_after_a_silence_without_a_byte(
    how: str,
) -> None:
    """A polled MH-Z19 with ``setup = ["abc_off"]`` whose line spoils four answers in a row
    every two minutes: it goes stale each time, and answers again. Its ABC command writes
    its EEPROM: nothing is written to it while it is stale (a device without supply would
    not hear it; one whose answers the line drops would store it again), and it is set up
    again when it answers only after a spell in which no byte came (its supply may have been
    cut), once, not after one in which the spoilt answers' bytes came (it was powered)."""
    clock = Clock()
    device = LossyMhz19(every=24, how=how)
    table = {"preset": "mhz19", "warmup_s": 0, "setup": ["abc_off"]}
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        got = run_polls(rt, pair, clock, device, clock.now + 600.0)
        assert rt.state == "up"
        rt.stop()
    back = [e for e in logs if e.get("state") == "up" and e.get("previous") == "stale"]
    assert len(back) >= 4
    assert {value for _, value in got} == {650.0}
    runs = 0 if how == "spoilt" else len(back)
    assert rt.setup_reruns == runs
    assert device.abc_off_writes == 1 + runs
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}


def test_an_mhz19_powered_after_its_port_opened_and_went_stale_is_set_up_once_it_answers() -> None:
    """An MH-Z19 with ``setup = ["abc_off"]`` without supply when its port opens: the
    connect's ``abc_off`` goes unanswered (``missing``), and nothing is written while it is
    stale. Powered a minute later, it answers: it was off, not ignoring the command, so
    ``abc_off`` is written again, once, and acknowledged, and no ``set-up commands ignored``
    is told."""
    clock = Clock()
    device = Mhz19([mhz19_answer(650)])
    device.powered = False
    table = {"preset": "mhz19", "warmup_s": 0, "setup": ["abc_off"]}
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        start = clock.now
        run_polls(rt, pair, clock, device, start + 60.0)
        assert rt.state == "stale"
        assert rt.setup_reruns == 0
        device.restart([mhz19_answer(650)])
        got = run_polls(rt, pair, clock, device, start + 90.0)
        rt.stop()
    assert got
    assert not device.abc
    assert device.abc_off_writes == 1
    assert rt.setup_reruns == 1
    assert rt.setup_ack_errors == {"missing": 1, "wrong": 0}
    assert [e for e in logs if e["event"].startswith("set-up commands ignored")] == []


@pytest.mark.parametrize("acks", [True, False], ids=["genuine", "clone"])
def test_an_mhz19_powered_after_its_port_opened_before_it_went_stale_is_set_up_then(
    acks: bool,
) -> None:
    """An MH-Z19 with ``setup = ["abc_off"]`` powered 8 s after its port opened, before it
    goes stale: the connect's ``abc_off`` and the first polls go unanswered, no byte coming.
    Its first answer comes after polls it left unanswered: it was off when ``abc_off`` went
    out, not ignoring it, so ``abc_off`` is written again at once (logged at info level)
    and no "set-up commands ignored" is told for the connect's run; a genuine unit
    acknowledges it; a clone takes it without a reply, and is told as ignoring it once that
    second run misses it, and only then. Either way its calibration is off."""
    clock = Clock()
    device = Mhz19([mhz19_answer(650)], acks=acks)
    device.powered = False
    table = {"preset": "mhz19", "warmup_s": 0, "setup": ["abc_off"]}
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        start = clock.now
        run_polls(rt, pair, clock, device, start + 8.0)
        assert rt.framer.frames == 0
        assert rt.state == "up"  # not stale yet
        device.restart([mhz19_answer(650)])
        got = run_polls(rt, pair, clock, device, start + 30.0)
        rt.stop()
    assert got
    assert [e for e in logs if e.get("state") == "stale"] == []
    # powered, it heard the re-run's: once acknowledged, three times unacknowledged
    assert device.abc_off_writes == (1 if acks else 3)
    assert not device.abc, "the calibration its power-up turned on is off"
    assert rt.setup_reruns == 1
    events = [e["event"] for e in logs]
    [again] = [e for e in logs if e["event"] == "sending the set-up commands again"]
    assert (again["why"][:25], again["log_level"]) == ("the device answers again:", "info")
    ignored = [i for i, event in enumerate(events) if event.startswith("set-up commands ignored")]
    assert len(ignored) == (0 if acks else 1)
    assert all(i > events.index("sending the set-up commands again") for i in ignored)


def test_an_mhz19_clone_answering_its_first_poll_is_not_set_up_again_at_a_later_connect() -> None:
    """An MH-Z19 clone that takes ``abc_off`` without a reply and answers its polls, whose
    first connection ended after polls it left unanswered (its supply cut, the port closed):
    at the next connect, powered again, it answers the first poll after the unanswered
    ``abc_off``: it heard it, and ignores it. That connect does not write the set-up again,
    as it does for a device that left polls unanswered after it (the polls unanswered
    before that connect's set-up are not its)."""
    clock = Clock()
    device = Mhz19([mhz19_answer(650)], acks=False)
    table = {"preset": "mhz19", "warmup_s": 0, "setup": ["abc_off"]}
    with PtyPair() as pair, capture_logs():
        rt = open_sensor(pair, clock, table)
        start = clock.now
        run_polls(rt, pair, clock, device, start + 10.0)
        device.powered = False
        run_polls(rt, pair, clock, device, start + 25.0)
        timeouts = rt.snapshot().poll_timeouts
        assert timeouts >= 1
        rt.close_source()
        device.restart([mhz19_answer(650)])
        clock.now += 1.0
        assert rt.try_open()
        got = run_polls(rt, pair, clock, device, start + 50.0)
        rt.stop()
    assert [at for at, _ in got if at > start + 26.0]
    assert rt.snapshot().poll_timeouts == timeouts
    assert rt.setup_reruns == 0
    assert device.abc_off_writes == 6  # three tries at each connect, none again


class RestartingMhz19(Mhz19):
    """An MH-Z19 on a supply that sags under its load: it restarts every four polls, and
    answers two of them with its boot's 15000 in bytes 6..7."""

    def __init__(self) -> None:
        super().__init__([mhz19_answer(650)])
        self.polls = 0

    def __call__(self, written: bytes) -> bytes:
        out = super().__call__(written)
        if command_bytes("mhz19", "read") in written:
            self.polls += 1
            if self.polls % 4 < 2:
                self.abc = True
                return mhz19_answer(500, BOOTING)
        return out


def test_an_mhz19_that_restarts_again_and_again_is_set_up_each_time_and_logged_once_a_minute() -> (
    None
):
    """An MH-Z19 with ``setup = ["abc_off"]`` that restarts every 20 s for ten minutes:
    ``abc_off`` is written again after each boot (counted in ``setup_reruns``), and both the
    restart and the re-run are logged at most once a minute, with what was held back."""
    clock = Clock()
    device = RestartingMhz19()
    table = {"preset": "mhz19", "warmup_s": 0, "setup": ["abc_off"]}
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        run_polls(rt, pair, clock, device, clock.now + 600.0)
        rt.stop()
    assert rt.setup_reruns >= 25
    assert device.abc_off_writes == rt.setup_reruns + 1
    for event in ("sending the set-up commands again", "device restarted"):
        lines = [e for e in logs if e["event"].startswith(event)]
        assert 5 <= len(lines) <= 11, (event, len(lines))
        assert all(e["sensor"] == "s" for e in lines)
    reruns = [e for e in logs if e["event"] == "sending the set-up commands again"]
    assert sum(e["suppressed"] for e in reruns) + len(reruns) == rt.setup_reruns


class RangeRestartingMhz19(Mhz19):
    """An MH-Z19 that acknowledges ``range=N`` (``FF 99 01 00 00 00 00 00 66``) and then
    restarts, as ESPEasy's MH-Z19 plugin expects of it (``P049_data_struct.cpp``,
    ``receivedCommandAcknowledgement``: "case 0x99: // Detection range setting"
    sets ``expectReset``, logged "Expecting sensor reset..."): its boot's answers (bytes 6..7
    = 15000), its preheat values, then measurements, and its automatic baseline calibration
    on again after the boot."""

    def __init__(self) -> None:
        super().__init__([mhz19_answer(650)])
        self.range_writes = 0

    def __call__(self, written: bytes) -> bytes:
        out = b""
        if not self.powered:
            return out
        for at in range(0, len(written) - 8, 9):
            command = written[at : at + 9]
            if command == command_bytes("mhz19", "range=5000"):
                self.range_writes += 1
                out += bytes.fromhex("FF 99 01 00 00 00 00 00 66")
                self.restart(
                    [mhz19_answer(500, BOOTING)] * 3 + [mhz19_answer(410)] * 3 + [mhz19_answer(650)]
                )
            else:
                out += super().__call__(command)
        return out


def test_an_mhz19_that_restarts_on_its_range_command_is_not_set_up_in_a_loop() -> None:
    """An MH-Z19 with ``setup = ["range=5000", "abc_off"]`` restarts once it took the range
    command (its boot answers follow). The restart is the set-up's own doing: the device
    warms up again and ``abc_off``, which the boot undid, is written again, but not the
    range command, whose setting the device has taken and which would restart it again,
    for ever (each restart starting the warm-up over: nothing would ever be published).
    A restart of its own later (a supply that sags) is set up again whole, range included,
    and the restart that follows costs one more re-run without it."""
    clock = Clock()
    table = {
        "preset": "mhz19",
        "warmup_s": 20,
        "setup": ["range=5000", "abc_off"],
        "poll": {"interval_s": 1},
    }
    device = RangeRestartingMhz19()
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        start = clock.now
        got = run_polls(rt, pair, clock, device, start + 120.0)
        assert rt.state == "up"
        assert device.range_writes == 1
        assert not device.abc
        assert rt.setup_reruns == 1
        assert not [e for e in logs if e["log_level"] == "warning"]
        device.restart([mhz19_answer(500, BOOTING)] * 3 + [mhz19_answer(700)])
        sagged = clock.now
        after = run_polls(rt, pair, clock, device, start + 240.0)
        rt.stop()
    assert got
    assert {value for _, value in got} == {650.0}
    assert after
    assert {value for _, value in after} == {650.0}  # 700 came only in the warm-up
    assert after[0][0] >= sagged + 20.0
    assert device.range_writes == 2
    assert not device.abc
    assert rt.setup_reruns == 3
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
    reruns = [e for e in logs if e["event"] == "sending the set-up commands again"]
    assert [e["commands"] for e in reruns] == [
        ["abc_off"],
        ["range=5000", "abc_off"],
        ["abc_off"],
    ]


class SlowRestartingMhz19(RangeRestartingMhz19):
    """A :class:`RangeRestartingMhz19` whose restart takes ``restart_s`` on ``clock``: what
    is written to it meanwhile goes unanswered (a real MH-Z19 does not answer the read
    request that follows the range command's acknowledgement by 0.1 s)."""

    def __init__(self, clock: Clock, restart_s: float) -> None:
        super().__init__()
        self.clock = clock
        self.restart_s = restart_s
        self.up_at = -1.0

    def __call__(self, written: bytes) -> bytes:
        if self.clock.now < self.up_at:
            return b""
        range_writes = self.range_writes
        out = super().__call__(written)
        if self.range_writes > range_writes:
            self.up_at = self.clock.now + self.restart_s
        return out


def test_an_mhz19_polled_seldom_that_restarts_on_its_range_command_is_not_set_up_in_a_loop() -> (
    None
):
    """An MH-Z19 with ``setup = ["abc_off", "range=5000"]`` polled every 40 s restarts once
    it took the range command, and misses the poll that follows it by 0.1 s while it
    restarts: its boot's answer comes at the next poll, 40 s after the acknowledgement. That
    boot is still the range command's doing: ``abc_off`` is written again, range is not, and
    its readings are published once it has warmed up."""
    clock = Clock()
    table = {
        "preset": "mhz19",
        "warmup_s": 180,
        "setup": ["abc_off", "range=5000"],
        "poll": {"interval_s": 40},
    }
    device = SlowRestartingMhz19(clock, 2.0)
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        got = run_polls(rt, pair, clock, device, clock.now + 600.0)
        rt.stop()
    assert device.range_writes == 1
    assert not device.abc
    assert rt.setup_reruns == 1
    assert got
    assert {value for _, value in got} == {650.0}
    reruns = [e for e in logs if e["event"] == "sending the set-up commands again"]
    assert [e["commands"] for e in reruns] == [["abc_off"]]
    # the poll it missed while it restarted is the only warning: no restart of its own
    warned = [e["event"] for e in logs if e["log_level"] == "warning"]
    assert warned == ["no response to poll request"], warned


class SilentRangeMhz19(RangeRestartingMhz19):
    """A :class:`RangeRestartingMhz19` that sends no reply to ``range=N``, as the MH-Z19B
    datasheet has it ("0x99- Detection range setting / Send command-No return value"), and
    restarts once it took it; ``abc_off`` it acknowledges."""

    def __call__(self, written: bytes) -> bytes:
        out = super().__call__(written)
        return out.replace(bytes.fromhex("FF 99 01 00 00 00 00 00 66"), b"")


def test_an_mhz19_that_restarts_on_a_range_command_it_does_not_answer_is_not_set_up_in_a_loop() -> (
    None
):
    """An MH-Z19 with ``setup = ["range=5000", "abc_off"]`` that takes the range command
    without a reply and restarts: the command is written three times (its reply never
    comes), each write restarts the device. At the open nothing had come from it yet, so its
    boot may be its power-up (below): the whole set-up is written again once it is up. The
    boot that follows that run is the set-up's doing: ``abc_off`` is written again after it,
    range is not, and the readings are published once the device has warmed up."""
    clock = Clock()
    table = {
        "preset": "mhz19",
        "warmup_s": 20,
        "setup": ["range=5000", "abc_off"],
        "poll": {"interval_s": 1},
    }
    device = SilentRangeMhz19()
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        got = run_polls(rt, pair, clock, device, clock.now + 300.0)
        rt.stop()
    assert device.range_writes == 6
    assert not device.abc
    assert got
    assert {value for _, value in got} == {650.0}
    assert rt.setup_reruns == 2
    reruns = [e for e in logs if e["event"] == "sending the set-up commands again"]
    assert [e["commands"] for e in reruns] == [["range=5000", "abc_off"], ["abc_off"]]


class LatePoweredRangeMhz19(RangeRestartingMhz19):
    """A :class:`RangeRestartingMhz19` powered at ``on_at`` on ``clock``, after its port
    opened: nothing written to it before is taken or answered, and it boots as it powers up."""

    def __init__(self, clock: Clock, on_at: float) -> None:
        super().__init__()
        self.clock = clock
        self.on_at = on_at
        self.powered = False

    def __call__(self, written: bytes) -> bytes:
        if self.clock.now < self.on_at:
            return b""
        if not self.powered:
            self.powered = True
            self.restart([mhz19_answer(500, BOOTING)] * 3 + [mhz19_answer(650)])
        return super().__call__(written)


def test_an_mhz19_powered_after_its_port_opened_gets_its_range_command_once_it_is_up() -> None:
    """An MH-Z19 with ``setup = ["range=5000", "abc_off"]`` that is powered 12 s after its
    port opened: the set-up's commands go unanswered, and its boot follows the end of the
    wait for the range command's reply within :data:`COMMAND_RESTART_S`. It never took the
    command: the re-run once it is up writes range too (acknowledged, the device restarts),
    and the one after that restart leaves it out."""
    clock = Clock()
    table = {
        "preset": "mhz19",
        "warmup_s": 20,
        "setup": ["range=5000", "abc_off"],
        "poll": {"interval_s": 1},
    }
    device = LatePoweredRangeMhz19(clock, clock.now + 12.0)
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        got = run_polls(rt, pair, clock, device, clock.now + 200.0)
        rt.stop()
    assert device.range_writes == 1
    assert not device.abc
    assert {value for _, value in got} == {650.0}
    reruns = [e for e in logs if e["event"] == "sending the set-up commands again"]
    assert [e["commands"] for e in reruns] == [["range=5000", "abc_off"], ["abc_off"]]


@pytest.mark.parametrize("acks", [True, False])
def test_an_mhz19_back_from_a_supply_cut_with_its_boot_is_set_up_once_it_is_up(
    acks: bool,
) -> None:
    """An MH-Z19 with ``setup = ["range=5000", "abc_off"]`` that takes the range command
    without a reply and restarts (``abc_off`` acknowledged, or taken without a reply by a
    clone) has its supply cut until it is stale: the set-up runs while it is off, unanswered.
    Powered again, its first answers are its boot's: the set-up is written once the boot is
    over, whole (range three times, unanswered), and after the restart that range causes
    without it; not also as the boot begins, which would restart the booting device with
    range three times more and set it up again whole after that restart."""
    clock = Clock()
    table = {
        "preset": "mhz19",
        "warmup_s": 20,
        "setup": ["range=5000", "abc_off"],
        "poll": {"interval_s": 1},
    }
    device = SilentRangeMhz19()
    device.acks = acks
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        start = clock.now
        run_polls(rt, pair, clock, device, start + 120.0)
        device.powered = False
        run_polls(rt, pair, clock, device, start + 180.0)
        assert rt.state == "stale"
        range_writes, cut = device.range_writes, len(logs)
        device.restart([mhz19_answer(500, BOOTING)] * 3 + [mhz19_answer(650)])
        got = run_polls(rt, pair, clock, device, start + 300.0)
        rt.stop()
    assert not device.abc
    assert got
    assert device.range_writes == range_writes + SETUP_TRIES
    reruns = [e for e in logs[cut:] if e["event"] == "sending the set-up commands again"]
    assert [(e["why"], e["commands"]) for e in reruns] == [
        ("the device restarted", ["range=5000", "abc_off"]),
        ("the device restarted", ["abc_off"]),
    ]
