"""Real units' bytes recorded by avaldebe/PyPMS, read through the presets: through each
preset's framer and decoder in several chunkings, and answered on a real pty to the preset's
set-up and polls, every value checked against what the recording's author decoded.

Captures and their origins (avaldebe/PyPMS, ``tests/captured_data/data.csv``: one row per
message, its time and hex; the decoded values in the sensor's own ``.csv`` beside it). PyPMS
reads these sensors asked (its ``pms/sensors`` command tables: a PMSx003 set to passive mode
and read with ``42 4D E2 00 00 01 71``, an SDS01x set to query mode and read with ``AA B4 04
... AB``, an MH-Z19B read with ``FF 01 86 ... 79``), so the pty tests poll as it did:

* ``PMSx003`` (2020-09-27, ten frames 10 s apart): ``42 4D 00 1C``, PM1.0/2.5/10 with CF=1
  (``raw01``, ``raw25``, ``raw10``) and atmospheric (``pm01``, ``pm25``, ``pm10``), the six
  particle counts, which ``PMSx003.csv`` gives per cm³ (``n0_3`` 2.10 for the word 210 per
  0.1 L: PyPMS divides by 100), and the last data word ``97 00`` (version 0x97, error 0).
* ``SDS01x`` (2020-09-27, ten frames): ``AA C0``, PM2.5 and PM10 in tenths of µg/m³
  (``SDS01x.csv``: 0.6, then 0.9 and 0.8 µg/m³), device id ``58 D9``.
* ``MHZ19B`` (2021-07-04, ten answers): ``FF 86``, CO2 636 to 633 ppm (``MHZ19B.csv``),
  byte 4 ``42`` (26 °C: byte 4 minus 40, as the mhz19 preset reads it), status 0 and bytes
  6..7 0, as a "B" version sends them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import pytest
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_frames_commands import Clock, DeviceEnd
from test_frames_field_quirks import feed, open_sensor

from sensord.config import parse_config
from sensord.formats import codec_for
from sensord.formats.presets import command_bytes, command_query
from sensord.sensor import SensorRuntime

#: PyPMS data.csv, sensor PMSx003 (1601219770 to 1601219860).
PMSX003 = [
    bytes.fromhex(row)
    for row in (
        "424d001c00000008000800000008000800d20046002d001e00000000970002c5",
        "424d001c00000007000700000007000700d20046002d001e00000000970002c1",
        "424d001c00000007000700000007000700bd003f002a001b000000009700029f",
        "424d001c00000007000700000007000700b4003c00270018000000009700028d",
        "424d001c00000007000700000007000700b4003c00270018000000009700028d",
        "424d001c00000006000600000006000600b4003c001d0015000000009700027c",
        "424d001c00000006000600000006000600b4003c001d0015000000009700027c",
        "424d001c000000060006000000060006009f0035001a0012000000009700025a",
        "424d001c000000060006000000060006009f0035001a0012000000009700025a",
        "424d001c000000050005000000050005008a002e0017000f0000000097000234",
    )
]
#: PyPMS PMSx003.csv: raw01, raw25, raw10, pm01, pm25, pm10, then the counts per cm³ (n0_3,
#: n0_5, n1_0, n2_5, n5_0, n10_0), row by row.
PMSX003_DECODED = [
    (0, 8, 8, 0.0, 8.0, 8.0, 2.10, 0.70, 0.45, 0.30, 0.00, 0.00),
    (0, 7, 7, 0.0, 7.0, 7.0, 2.10, 0.70, 0.45, 0.30, 0.00, 0.00),
    (0, 7, 7, 0.0, 7.0, 7.0, 1.89, 0.63, 0.42, 0.27, 0.00, 0.00),
    (0, 7, 7, 0.0, 7.0, 7.0, 1.80, 0.60, 0.39, 0.24, 0.00, 0.00),
    (0, 7, 7, 0.0, 7.0, 7.0, 1.80, 0.60, 0.39, 0.24, 0.00, 0.00),
    (0, 6, 6, 0.0, 6.0, 6.0, 1.80, 0.60, 0.29, 0.21, 0.00, 0.00),
    (0, 6, 6, 0.0, 6.0, 6.0, 1.80, 0.60, 0.29, 0.21, 0.00, 0.00),
    (0, 6, 6, 0.0, 6.0, 6.0, 1.59, 0.53, 0.26, 0.18, 0.00, 0.00),
    (0, 6, 6, 0.0, 6.0, 6.0, 1.59, 0.53, 0.26, 0.18, 0.00, 0.00),
    (0, 5, 5, 0.0, 5.0, 5.0, 1.38, 0.46, 0.23, 0.15, 0.00, 0.00),
]
#: The PMS presets' channels in the order of PMSx003.csv's columns.
PMS_CHANNELS = (
    "pm1_0_standard_ug_m3",
    "pm2_5_standard_ug_m3",
    "pm10_standard_ug_m3",
    "pm1_0_ug_m3",
    "pm2_5_ug_m3",
    "pm10_ug_m3",
    "particles_0_3um_per_dl",
    "particles_0_5um_per_dl",
    "particles_1_0um_per_dl",
    "particles_2_5um_per_dl",
    "particles_5_0um_per_dl",
    "particles_10um_per_dl",
)

#: PyPMS data.csv, sensor SDS01x (1601230280 to 1601230370), and SDS01x.csv's pm25, pm10.
SDS01X = [
    bytes.fromhex(row)
    for row in (
        "aac00600060058d93dab",
        "aac00900090058d943ab",
        "aac00900090058d943ab",
        "aac00900090058d943ab",
        "aac00900090058d943ab",
        "aac00900090058d943ab",
        "aac00900090058d943ab",
        "aac00800080058d941ab",
        "aac00800080058d941ab",
        "aac00800080058d941ab",
    )
]
SDS01X_DECODED = [(0.6, 0.6)] + [(0.9, 0.9)] * 6 + [(0.8, 0.8)] * 3

#: PyPMS data.csv, sensor MHZ19B (1625419056 to 1625419146); MHZ19B.csv gives the CO2 of all
#: but the first (636, as the second).
MHZ19B = [
    bytes.fromhex(row)
    for row in (
        "ff86027c42000000ba",
        "ff86027c42000000ba",
        "ff86027c42000000ba",
        "ff86027c42000000ba",
        "ff86027c42000000ba",
        "ff86027c42000000ba",
        "ff86027c42000000ba",
        "ff86027c42000000ba",
        "ff86027b42000000bb",
        "ff86027942000000bd",
    )
]
MHZ19B_CO2 = [636.0] * 8 + [635.0, 633.0]


def pms_expected(decoded: Sequence[tuple[float, ...]]) -> list[dict[str, float]]:
    """PyPMS's decoding as the PMS presets' channels read it: counts per 0.1 L, 100 times
    PyPMS's per cm³."""
    out = []
    for row in decoded:
        masses = [float(v) for v in row[:6]]
        counts = [round(v * 100) for v in row[6:]]
        out.append(dict(zip(PMS_CHANNELS, [*masses, *counts], strict=True)))
    return out


def chunkings(stream: bytes) -> list[list[bytes]]:
    """``stream`` whole, byte by byte, in pieces of 7 and of 13 bytes, and cut at random
    places (three seeds)."""
    cuts = [[stream], [stream[i : i + 1] for i in range(len(stream))]]
    for size in (7, 13):
        cuts.append([stream[i : i + size] for i in range(0, len(stream), size)])
    for seed in range(3):
        rng = random.Random(seed)
        at = sorted(rng.sample(range(1, len(stream)), 12))
        cuts.append([stream[a:b] for a, b in zip([0, *at], [*at, len(stream)], strict=True)])
    return cuts


def read_in(preset: str, pieces: list[bytes]) -> tuple[list[dict[str, float]], int]:
    """The frames the preset's framer cuts from ``pieces``, each decoded, and the bytes it
    skipped."""
    config = parse_config(
        f'[[sensors]]\nname = "s"\nport = "sim://s"\npreset = "{preset}"\n'
    ).sensors[0]
    spec = config.format_spec()
    codec = codec_for("frames")
    framer = codec.framer(spec, b"", config.max_frame_bytes)
    decode = codec.decoder(spec)
    frames = [frame for piece in pieces for frame in framer.feed(piece)]
    return [dict(decode(frame)) for frame in frames], framer.skipped_bytes


@pytest.mark.parametrize("preset", ["pms5003", "pms7003", "pmsa003"])
def test_pypms_pmsx003_frames_read_as_pypms_decoded_them_in_any_chunking(preset: str) -> None:
    stream = b"".join(PMSX003)
    for pieces in chunkings(stream):
        assert read_in(preset, pieces) == (pms_expected(PMSX003_DECODED), 0)


def test_pypms_sds01x_frames_read_as_pypms_decoded_them_in_any_chunking() -> None:
    stream = b"".join(SDS01X)
    expected = [{"pm2_5_ug_m3": pm25, "pm10_ug_m3": pm10} for pm25, pm10 in SDS01X_DECODED]
    for pieces in chunkings(stream):
        frames, skipped = read_in("sds011", pieces)
        assert skipped == 0
        assert frames == [pytest.approx(row) for row in expected]


def test_pypms_mhz19b_answers_read_as_pypms_decoded_them_in_any_chunking() -> None:
    stream = b"".join(MHZ19B)
    expected = [{"co2_ppm": co2, "temperature_celsius": 26.0} for co2 in MHZ19B_CO2]
    for pieces in chunkings(stream):
        assert read_in("mhz19", pieces) == (expected, 0)


def last_values(rt: SensorRuntime, channels: Sequence[str]) -> tuple[float, ...]:
    """The last value each of ``channels`` published."""
    out = []
    for name in channels:
        window = rt.channels[name].chain.window
        assert window is not None
        assert window.last is not None
        out.append(window.last.reading.value)
    return tuple(out)


def play_polled(
    rt: SensorRuntime,
    pair: PtyPair,
    clock: Clock,
    answer: Callable[[bytes], bytes],
    *,
    channels: Sequence[str],
    polls: int,
) -> list[tuple[float, ...]]:
    """Tick ``rt`` at its deadlines until ``polls`` poll requests were answered; the device
    end answers what each tick wrote with ``answer``, in two pieces 16 ms apart (an FTDI
    adapter's latency timer). Returns the values of ``channels`` of each reading published."""
    device_end = DeviceEnd(rt, pair)
    got: list[tuple[float, ...]] = []
    answered = 0
    while answered < polls:
        due = rt.next_deadline()
        assert due is not None
        clock.now = max(clock.now, due)
        written = device_end.tick(clock.now)
        reply = answer(written) if written else b""
        if not reply:
            continue
        before = rt.channels[channels[0]].chain.stages[0].records_in
        half = len(reply) // 2
        feed(rt, pair, reply[:half])
        clock.now += 0.016
        feed(rt, pair, reply[half:])
        if rt.channels[channels[0]].chain.stages[0].records_in > before:
            got.append(last_values(rt, channels))
        if written == rt.config.poll_requests()[0]:
            answered += 1
    return got


def test_pypms_pmsx003_frames_answer_a_passive_pms5003_s_polls_on_a_pty() -> None:
    """A PMS5003 set to passive mode (acknowledged ``42 4D 00 04 E1 00 01 74``) whose read
    requests are answered with PyPMS's frames in turn: every frame is published with the
    values PyPMS decoded, nothing skipped, rejected or counted as a poll timeout."""
    frames = list(PMSX003)
    passive, read = (command_bytes("pms5003", c) for c in ("passive_mode", "read"))

    def pms(written: bytes) -> bytes:
        if written == passive:
            return bytes.fromhex("42 4D 00 04 E1 00 01 74")
        return frames.pop(0) if written == read else b""

    clock = Clock()
    table = {
        "preset": "pms5003",
        "warmup_s": 0,
        "setup": ["passive_mode"],
        "poll": {"command": "read", "interval_s": 2.0},
    }
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        got = play_polled(rt, pair, clock, pms, channels=PMS_CHANNELS, polls=len(PMSX003))
        snapshot = rt.snapshot()
        rt.stop()
    assert got == [tuple(row.values()) for row in pms_expected(PMSX003_DECODED)]
    assert snapshot.skipped_bytes == 0
    assert not any(snapshot.parse_errors.values())
    assert snapshot.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert rt.poll_timeouts == 0
    assert not [e for e in logs if e["log_level"] == "warning"]


def test_pypms_sds01x_frames_answer_an_sds011_s_queries_on_a_pty() -> None:
    """An SDS011 in active reporting as it left the factory, with ``setup = ["query_mode"]``:
    the query of its reporting mode is answered "active" and ``query_mode`` is acknowledged
    (``AA C5 02 ...``, with the unit's id ``58 D9``), and its queries with PyPMS's frames in
    turn: every frame published with PyPMS's values, nothing skipped or rejected."""
    frames = list(SDS01X)
    query = command_bytes("sds011", "query")
    asked = command_query("sds011", "query_mode")
    assert asked is not None
    query_mode = command_bytes("sds011", "query_mode")

    def reply(write: int, value: int) -> bytes:
        body = bytes([0x02, write, value, 0x00, 0x58, 0xD9])
        return b"\xaa\xc5" + body + bytes([sum(body) & 0xFF]) + b"\xab"

    def sds(written: bytes) -> bytes:
        if written == asked[0]:
            return reply(0, 0)  # active reporting in force
        if written == query_mode:
            return reply(1, 1)
        return frames.pop(0) if written == query else b""

    clock = Clock()
    table = {
        "preset": "sds011",
        "warmup_s": 0,
        "setup": ["query_mode"],
        "poll": {"command": "query", "interval_s": 3.0},
    }
    channels = ("pm2_5_ug_m3", "pm10_ug_m3")
    with PtyPair() as pair:
        rt = open_sensor(pair, clock, table)
        got = play_polled(rt, pair, clock, sds, channels=channels, polls=len(SDS01X))
        snapshot = rt.snapshot()
        rt.stop()
    assert got == [pytest.approx(row) for row in SDS01X_DECODED]
    assert snapshot.skipped_bytes == 0
    assert not any(snapshot.parse_errors.values())
    assert snapshot.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert rt.dialogue is not None
    assert rt.dialogue.acknowledged == {"query_mode"}


def test_pypms_mhz19b_answers_are_published_as_pypms_read_them_on_a_pty() -> None:
    """An MH-Z19B polled by the mhz19 preset, each read request answered with PyPMS's next
    answer: every CO2 as PyPMS decoded it, 26 °C, nothing skipped, rejected or missed."""
    answers = list(MHZ19B)
    read = command_bytes("mhz19", "read")
    clock = Clock()
    table = {"preset": "mhz19", "warmup_s": 0, "poll": {"interval_s": 5.0}}
    with PtyPair() as pair:
        rt = open_sensor(pair, clock, table)
        got = play_polled(
            rt,
            pair,
            clock,
            lambda written: answers.pop(0) if written == read else b"",
            channels=("co2_ppm", "temperature_celsius"),
            polls=len(MHZ19B),
        )
        snapshot = rt.snapshot()
        rt.stop()
    assert got == [(co2, 26.0) for co2 in MHZ19B_CO2]
    assert snapshot.skipped_bytes == 0
    assert not any(snapshot.parse_errors.values())
    assert rt.poll_timeouts == 0
