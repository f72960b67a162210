"""Commands of the binary presets: the acknowledgements of set-up commands (checked, counted,
logged, taken out of the stream) and the simulated devices that answer commands.

Fixtures and their origins:

* SDS011 ``AA C5 02 01 01 00 A1 60 05 AB``: laid out as Nova Fitness' "Laser Dust Sensor
  Control Protocol V1.3" gives the reply to "set data reporting mode: query" of the sensor
  with id A160 (its checksum the 8-bit sum of bytes 2..7, 0x105 & 0xFF). The other SDS011
  replies follow the same layout, their sums computed here by hand.
* PMS5003 ``42 4D 00 04 E1 00 01 74`` (passive mode), ``... E1 01 01 75`` (active mode),
  ``... E4 00 01 77`` (sleep): the "Expected Response" table recorded from a PMS5003 in the
  notes of a public Pms5003 Arduino example; wakeup gets no reply.
* MH-Z19 ``FF 79 01 00 00 00 00 00 86`` and ``FF 99 01 ... 66``: FF, the command byte (what
  Zephyr's MH-Z19B driver checks in the reply to ABC and range commands), 01, and the
  checksum of the MH-Z19B datasheet (0x100 - the sum of bytes 1..7), computed by hand.
"""

from __future__ import annotations

import collections
import gc
import os
import random
import select
import signal
import socket
import subprocess
import sys
import time
import tty
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from harness.daemon import sensord_cli
from harness.pty import PtyPair, pty_numbers_held, symlinked_pty, wait_readable
from harness.spawn import popen
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from sensord.capture import RX, TX, CaptureJournal
from sensord.config import Config
from sensord.config_sensor import SensorConfig
from sensord.dialogue import ACK_TIMEOUT_S, SETUP_GAP_S, SETUP_TRIES
from sensord.formats import codec_for
from sensord.formats.acks import Ack, AckWatch
from sensord.formats.base import FormatSpec, Framer, FrameSpec
from sensord.formats.frames import FrameFramer
from sensord.formats.lines import LineFramer
from sensord.formats.modbus import ExchangeFramer
from sensord.formats.nmea_framer import NmeaFramer
from sensord.formats.presets import PresetDevice, command_ack, command_bytes, command_query
from sensord.sensor import SensorRuntime
from sensord.sensor_source import make_device

REPLIES = [
    ("pms5003", "passive_mode", "42 4D 00 04 E1 00 01 74"),
    ("pms5003", "active_mode", "42 4D 00 04 E1 01 01 75"),
    ("pms7003", "sleep", "42 4D 00 04 E4 00 01 77"),
    ("sds011", "query_mode", "AA C5 02 01 01 00 A1 60 05 AB"),
    ("sds011", "active_mode", "AA C5 02 01 00 00 A1 60 04 AB"),
    ("sds011", "working_period=5", "AA C5 08 01 05 00 A1 60 0F AB"),
    ("sds011", "sleep", "AA C5 06 01 00 00 A1 60 08 AB"),
    ("sds011", "work", "AA C5 06 01 01 00 A1 60 09 AB"),
    ("mhz19", "abc_off", "FF 79 01 00 00 00 00 00 86"),
    ("mhz19", "abc_on", "FF 79 01 00 00 00 00 00 86"),
    ("mhz19", "range=5000", "FF 99 01 00 00 00 00 00 66"),
]

SDS011_FRAME = bytes.fromhex("AA C0 D4 04 3A 0A A1 60 1D AB")  # the protocol's example reply


def sensor_config(table: dict[str, Any]) -> SensorConfig:
    """A sensor of name ``s`` given by ``table`` (a preset fills in the rest)."""
    errors: list[str] = []
    loaded = Config.load({"sensors": [{"name": "s", **table}]}, "", errors)
    assert loaded is not None, errors
    return loaded.sensors[0]


def frame_spec_of(preset: str) -> FormatSpec:
    return sensor_config({"port": "sim://s", "preset": preset}).format_spec()


def frame_spec(preset: str) -> FrameSpec:
    frame = frame_spec_of(preset).frame
    assert frame is not None
    return frame


def ack(preset: str, command: str) -> Ack:
    found = command_ack(preset, command)
    assert found is not None, f"{preset} {command} has no acknowledgement"
    return found


def pms_frame(i: int) -> bytes:
    body = b"\x42\x4d\x00\x1c" + b"".join(
        ((i * 37 + k) % 1000).to_bytes(2, "big") for k in range(13)
    )
    return body + (sum(body) % 65536).to_bytes(2, "big")


# -- acknowledgements ----------------------------------------------------------------------------


@pytest.mark.parametrize(("preset", "command", "reply"), REPLIES)
def test_the_simulated_device_acknowledges_as_the_device_does(
    preset: str, command: str, reply: str
) -> None:
    expected = bytes.fromhex(reply)
    assert PresetDevice(preset).receive(command_bytes(preset, command)) == [expected]
    watch = AckWatch([(command, ack(preset, command))])
    assert watch.feed(expected) == (b"", [(command, True)])
    assert watch.pending == []


@pytest.mark.parametrize(
    ("preset", "command"),
    [("pms5003", "read"), ("pms5003", "wakeup"), ("sds011", "query"), ("mhz19", "read")],
)
def test_commands_answered_by_data_or_nothing_have_no_acknowledgement(
    preset: str, command: str
) -> None:
    assert command_ack(preset, command) is None


@pytest.mark.parametrize(
    ("preset", "command", "other"),
    [
        ("sds011", "query_mode", "active_mode"),  # the device reports active reporting mode
        ("sds011", "working_period=5", "working_period=6"),
        ("pms5003", "passive_mode", "active_mode"),
    ],
)
def test_a_reply_with_another_setting_is_a_wrong_acknowledgement(
    preset: str, command: str, other: str
) -> None:
    (reply,) = PresetDevice(preset).receive(command_bytes(preset, other))
    assert reply is not None
    watch = AckWatch([(command, ack(preset, command))])
    assert watch.feed(reply) == (b"", [(command, False)])


def _finish(watch: AckWatch) -> tuple[bytes, list[str]]:
    """Ends ``watch`` as the dialogue does once no reply can come any more: the bytes it held
    back and the commands whose reply never came."""
    missing = watch.expire()
    return watch.forget_late(), missing


def test_a_reply_with_a_bad_checksum_is_no_reply_and_goes_on_to_the_framer() -> None:
    bad = bytes.fromhex("AA C5 02 01 01 00 A1 60 06 AB")
    watch = AckWatch([("query_mode", ack("sds011", "query_mode"))])
    out, found = watch.feed(bad + SDS011_FRAME)
    assert (out, found) == (bad + SDS011_FRAME, [])
    assert _finish(watch) == (b"", ["query_mode"])


def test_a_reply_cut_anywhere_is_held_back_and_found() -> None:
    reply = bytes.fromhex("42 4D 00 04 E1 00 01 74")
    stream = pms_frame(1) + reply + pms_frame(2)
    for cut in range(1, len(stream)):
        watch = AckWatch([("passive_mode", ack("pms5003", "passive_mode"))])
        first, found_first = watch.feed(stream[:cut])
        second, found_second = watch.feed(stream[cut:])
        assert first + second == pms_frame(1) + pms_frame(2), cut
        assert found_first + found_second == [("passive_mode", True)]
        # what the first chunk did not pass on is at most the reply (taken out or held back)
        assert cut - len(first) <= len(reply)


def test_finish_hands_back_what_was_held_and_names_the_missing_commands() -> None:
    watch = AckWatch(
        [
            ("query_mode", ack("sds011", "query_mode")),
            ("working_period=1", ack("sds011", "working_period=1")),
        ]
    )
    out, found = watch.feed(SDS011_FRAME + b"\xaa\xc5\x08")
    assert (out, found) == (SDS011_FRAME, [])
    assert _finish(watch) == (b"\xaa\xc5\x08", ["query_mode", "working_period=1"])


def test_two_replies_of_one_kind_are_matched_in_the_order_of_their_commands() -> None:
    device = PresetDevice("sds011")
    commands = ["query_mode", "active_mode"]
    replies = [device.receive(command_bytes("sds011", c))[0] for c in commands]
    assert None not in replies
    watch = AckWatch([(c, ack("sds011", c)) for c in commands])
    out, found = watch.feed(b"".join(r for r in replies if r is not None))
    assert (out, found) == (b"", [("query_mode", True), ("active_mode", True)])


@st.composite
def pms_streams(draw: st.DrawFn) -> tuple[list[bytes], list[bytes], bytes, list[int]]:
    """Data frames with garbage and the replies to passive mode and sleep between them, cut
    into chunks: (frames, replies, stream, cuts)."""
    count = draw(st.integers(1, 8))
    frames = [pms_frame(draw(st.integers(0, 10_000))) for _ in range(count)]
    replies = [bytes.fromhex("42 4D 00 04 E1 00 01 74"), bytes.fromhex("42 4D 00 04 E4 00 01 77")]
    pieces: list[bytes] = list(frames)
    for reply in replies:
        pieces.insert(draw(st.integers(0, len(pieces))), reply)
    stream = b""
    for piece in pieces:
        stream += draw(st.binary(max_size=12)) + piece
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    return frames, replies, stream, cuts


#: The PMS5003 preset's frame spec (frozen), made once: a sensor's configuration is built
#: and checked to make it, which costs more than an example of the property below.
PMS5003_FRAME = frame_spec("pms5003")


@settings(max_examples=300, deadline=None)
@given(pms_streams())
def test_replies_leave_the_frames_of_any_stream_as_they_were(
    case: tuple[list[bytes], list[bytes], bytes, list[int]],
) -> None:
    frames, replies, stream, cuts = case
    without_replies = stream
    for reply in replies:
        without_replies = without_replies.replace(reply, b"", 1)
    plain = FrameFramer(PMS5003_FRAME, 512)
    expected = plain.feed(without_replies)
    watch = AckWatch(
        [("passive_mode", ack("pms5003", "passive_mode")), ("sleep", ack("pms5003", "sleep"))]
    )
    framer = FrameFramer(PMS5003_FRAME, 512)
    got: list[bytes] = []
    found: list[tuple[str, bool]] = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        out, seen = watch.feed(stream[a:b])
        got += framer.feed(out)
        found += seen
    got += framer.feed(_finish(watch)[0])
    assert sorted(found) == [("passive_mode", True), ("sleep", True)]
    assert got == expected
    assert set(frames) <= set(got)


# -- a sensor on a real pty, its clock injected --------------------------------------------------


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def sds011_on(
    pair: PtyPair, clock: Clock, setup: list[str], warmup_s: float = 0.0
) -> SensorRuntime:
    table = {"port": pair.path, "preset": "sds011", "simulate": "never", "setup": setup}
    # query mode needs a poll; the tests feed the sensor before it is due
    poll = {"command": "query", "interval_s": 60.0}
    config = sensor_config({**table, "warmup_s": warmup_s, "poll": poll})
    rt = SensorRuntime(config, clock=clock, wall_clock=clock, rng=random.Random(1))
    assert rt.try_open()
    return rt


def sds011_query(command: str) -> bytes:
    """The bytes that ask an SDS011 for the setting its set-up ``command`` stores."""
    query = command_query("sds011", command)
    assert query is not None
    return query[0]


def read_all(rt: SensorRuntime, expected_bytes: int) -> None:
    """Feed the sensor what the device end wrote, ``expected_bytes`` in all."""
    got = 0
    deadline = time.monotonic() + 2.0
    while got < expected_bytes and time.monotonic() < deadline:
        assert rt.source is not None
        chunk = rt.source.read()
        if chunk:
            got += len(chunk)
            rt.feed(chunk)
    assert got == expected_bytes


def reading_count(rt: SensorRuntime) -> int:
    return sum(stage.records_in for ch in rt.channels.values() for stage in ch.chain.stages[:1])


def sds011_frame_gives_readings(
    rt: SensorRuntime, clock: Clock, pty: PtyPair, after_s: float
) -> bool:
    """Whether an SDS011 data frame written ``after_s`` (injected time) later gives ``rt``
    readings (not while it warms up)."""
    clock.now += after_s
    before = reading_count(rt)
    pty.write(SDS011_FRAME)
    read_all(rt, len(SDS011_FRAME))
    return reading_count(rt) > before


def test_set_up_replies_are_checked_and_the_readings_around_them_kept() -> None:
    clock = Clock()
    with PtyPair() as pair, capture_logs() as logs:
        rt = sds011_on(pair, clock, ["query_mode", "working_period=5"])
        rt.tick(clock.now)
        # each setting is asked for first: the device reports active mode, then continuous
        # working, and each command is written after the reply, checked by its own reply
        asked_mode = bytes.fromhex("AA C5 02 00 00 00 A1 60 03 AB")
        asked_period = bytes.fromhex("AA C5 08 00 00 00 A1 60 09 AB")
        assert pair.read(20, timeout_s=0.2) == sds011_query("query_mode")
        pair.write(asked_mode)
        read_all(rt, len(asked_mode))
        clock.now += SETUP_GAP_S
        rt.tick(clock.now)
        # one command at a time: the next only SETUP_GAP_S after the one before was answered
        first = command_bytes("sds011", "query_mode")
        assert pair.read(len(first) + 1, timeout_s=0.2) == first
        good = bytes.fromhex("AA C5 02 01 01 00 A1 60 05 AB")
        wrong = bytes.fromhex("AA C5 08 01 01 00 A1 60 0B AB")  # reports 1 minute, not 5
        stream = (
            asked_mode + SDS011_FRAME + good + SDS011_FRAME + asked_period + wrong + SDS011_FRAME
        )
        for piece in (SDS011_FRAME + good[:4], good[4:] + SDS011_FRAME):
            pair.write(piece)
            read_all(rt, len(piece))
        assert rt.next_deadline() == pytest.approx(clock.now + SETUP_GAP_S)
        clock.now += SETUP_GAP_S - 0.01
        rt.tick(clock.now)
        assert pair.read(1, timeout_s=0.1) == b""
        clock.now += 0.01
        rt.tick(clock.now)
        assert pair.read(20, timeout_s=0.2) == sds011_query("working_period=5")
        pair.write(asked_period)
        read_all(rt, len(asked_period))
        clock.now += SETUP_GAP_S
        rt.tick(clock.now)
        assert pair.read(19) == command_bytes("sds011", "working_period=5")
        pair.write(wrong + SDS011_FRAME)
        read_all(rt, len(wrong + SDS011_FRAME))
        assert rt.bytes_read == len(stream)
        assert rt.framer.frames == 3
        assert reading_count(rt) == 6  # PM2.5 and PM10 of each frame
        assert rt.setup_ack_errors == {"missing": 0, "wrong": 1}
        snapshot = rt.snapshot()
        assert snapshot.skipped_bytes == 0
        assert not any(snapshot.parse_errors.values())
        assert snapshot.as_json()["setup_ack_errors"] == {"missing": 0, "wrong": 1}
        rt.stop()
    lines = [e for e in logs if e["event"] == "set-up command not acknowledged"]
    assert [(e["command"], e["reason"]) for e in lines] == [("working_period=5", "wrong")]


def test_a_device_warms_up_when_it_may_be_cold_before_its_readings_count(
    tmp_path: Path,
) -> None:
    """The preset's warm-up (30 s for an SDS011): frames read meanwhile count as frames
    without readings. It runs at the first open, and again after the device was unplugged
    (its path gone), not after a reopen with the device present all along."""
    clock = Clock()
    with symlinked_pty(tmp_path) as linked, capture_logs() as logs:
        config = sensor_config({"port": str(linked.link), "preset": "sds011", "simulate": "never"})
        assert config.warmup_s == 30.0
        rt = SensorRuntime(config, clock=clock, wall_clock=clock, rng=random.Random(1))

        def frame_gives_readings(after_s: float) -> bool:
            return sds011_frame_gives_readings(rt, clock, linked.pty, after_s)

        assert rt.try_open()  # the first open: warming up
        assert rt.snapshot().as_json()["warmup_left_s"] == 30.0
        ignored = rt.ignored
        assert not frame_gives_readings(29.9)
        assert rt.ignored == ignored + 1
        assert rt.state == "up"
        assert rt.snapshot().warmup_left_s == pytest.approx(0.1)
        assert frame_gives_readings(0.1)
        assert rt.snapshot().as_json()["warmup_left_s"] is None
        rt.check_stale(clock.now)  # the end of the warm-up is logged once
        rt.check_stale(clock.now)
        rt.disconnect("read error")  # the device stays: no warm-up after the reopen
        clock.now += 60.0
        assert rt.try_open()
        assert frame_gives_readings(0.0)
        rt.disconnect("unplugged")
        linked.unplug(remove_link=True)  # gone, and back: it may have been powered off
        clock.now += 60.0
        assert not rt.try_open()
        linked.replug()
        clock.now += 60.0
        assert rt.try_open()
        assert not frame_gives_readings(0.0)
        assert frame_gives_readings(30.0)
        rt.check_stale(clock.now)
        rt.stop()
    warming = [e for e in logs if e["event"].startswith("warming up")]
    assert [e["warmup_s"] for e in warming] == [30.0, 30.0]
    warmed = [e for e in logs if e["event"].startswith("warmed up")]
    assert [e["warmup_s"] for e in warmed] == [30.0, 30.0]


@pytest.mark.parametrize(
    ("period", "written", "at_10_s"),
    [
        (2, ["working_period=2?"], True),  # in force: its frames follow its fan's run
        (0, ["working_period=2?", "working_period=2"], False),  # continuous until set
    ],
)
def test_an_sds011_found_on_its_working_period_publishes_its_first_frame_at_once(
    period: int, written: list[str], at_10_s: bool
) -> None:
    """An SDS011 whose set-up sets a working period of 2 minutes, opened for the first time
    (30 s of warm-up). A unit that reports the period in force sends each frame after its
    fan ran for 30 s: the warm-up ends, and its frame 10 s after the open (the next would
    come 2 minutes later) is published. A unit found working continuously is set to the
    period and warms up to the end: what it sent before may be a fan spinning up."""
    clock = Clock()
    device = PresetDevice("sds011")
    device.period = period
    names = {
        sds011_query("working_period=2"): "working_period=2?",
        command_bytes("sds011", "working_period=2"): "working_period=2",
    }
    with PtyPair() as pair, capture_logs() as logs:
        table = {"port": pair.path, "preset": "sds011", "simulate": "never"}
        rt = SensorRuntime(
            sensor_config({**table, "setup": ["working_period=2"]}),
            clock=clock,
            wall_clock=clock,
            rng=random.Random(1),
        )
        assert rt.try_open()
        start = clock.now
        writes = tick_through(rt, pair, clock, answering(device), start + 1.0)
        assert [names[w] for _, w in writes] == written
        assert sds011_frame_gives_readings(rt, clock, pair, start + 10.0 - clock.now) == at_10_s
        assert sds011_frame_gives_readings(rt, clock, pair, 20.0)
        rt.stop()
    ended = [e for e in logs if e["event"] == "warmed up: readings are published"]
    assert [str(e.get("why")) for e in ended] == [
        "the device is on its working period: each frame follows its fan's run"
    ] * at_10_s


def test_a_reopen_during_the_warm_up_lets_it_run_to_its_end(tmp_path: Path) -> None:
    """A read error 10 s into an SDS011's 30 s warm-up, the device present all along: the
    reopen neither starts the warm-up again nor ends it, so frames are published 30 s after
    the first open, not before."""
    clock = Clock()
    with symlinked_pty(tmp_path) as linked:
        config = sensor_config({"port": str(linked.link), "preset": "sds011", "simulate": "never"})
        rt = SensorRuntime(config, clock=clock, wall_clock=clock, rng=random.Random(1))

        def frame_gives_readings(after_s: float) -> bool:
            return sds011_frame_gives_readings(rt, clock, linked.pty, after_s)

        assert rt.try_open()
        assert not frame_gives_readings(10.0)
        rt.disconnect("read error")
        clock.now += 1.0
        assert rt.try_open()
        assert rt.snapshot().warmup_left_s == pytest.approx(19.0)
        assert not frame_gives_readings(0.0)
        assert not frame_gives_readings(18.9)
        assert frame_gives_readings(0.1)
        rt.stop()


def test_an_sds011_with_a_working_period_is_up_between_its_frames() -> None:
    """``working_period=2``: one frame every 2 minutes. The sensor stays up between them and
    goes stale 2 minutes and a margin after the last one, not after the default 5 s."""
    clock = Clock()
    with PtyPair() as pair, capture_logs() as logs:
        table = {
            "port": pair.path,
            "preset": "sds011",
            "simulate": "never",
            "warmup_s": 0,
            "setup": ["working_period=2"],
        }
        rt = SensorRuntime(sensor_config(table), clock=clock, wall_clock=clock)
        assert rt.try_open()
        rt.tick(clock.now)
        device = PresetDevice("sds011")  # working continuously, as it left the factory
        query = sds011_query("working_period=2")
        assert pair.read(len(query)) == query
        [continuous] = device.receive(query)
        assert continuous is not None
        pair.write(continuous)
        read_all(rt, len(continuous))
        clock.now += SETUP_GAP_S
        rt.tick(clock.now)
        command = command_bytes("sds011", "working_period=2")
        assert pair.read(len(command)) == command
        [reply] = device.receive(command)
        assert reply is not None
        pair.write(reply + SDS011_FRAME)
        read_all(rt, len(reply + SDS011_FRAME))
        states = []
        for _ in range(2):  # two working periods, ticked every second, then the next frame
            last_frame = clock.now
            while clock.now < last_frame + 120.0:
                clock.now += 1.0
                rt.tick(clock.now)
                states.append(rt.state)
            pair.write(SDS011_FRAME)
            read_all(rt, len(SDS011_FRAME))
        last_frame = clock.now
        assert set(states) == {"up"}
        assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
        clock.now = last_frame + 180.0
        rt.tick(clock.now)
        assert rt.state == "up"
        clock.now += 0.5
        rt.tick(clock.now)
        assert rt.state == "stale"
        rt.stop()
    assert [e["silent_for_s"] for e in logs if e.get("state") == "stale"] == [180.5]


def test_a_polled_device_is_not_stale_before_its_first_poll_after_a_long_set_up() -> None:
    """Two set-up commands whose replies never come, each written three times, take 14.2 s
    before the first poll; a device that answers polls only is stale only ``stale_after_s``
    after that poll."""
    clock = Clock()
    with PtyPair() as pair, capture_logs() as logs:
        table = {
            "port": pair.path,
            "preset": "mhz19",
            "simulate": "never",
            "warmup_s": 0,
            "setup": ["abc_off", "range=5000"],
            "poll": {"command": "read", "interval_s": 1.0},
            "stale_after_s": 3.0,
        }
        rt = SensorRuntime(sensor_config(table), clock=clock, wall_clock=clock)
        assert rt.try_open()
        start = clock.now
        read = command_bytes("mhz19", "read")
        first_poll = None
        device_end = DeviceEnd(rt, pair)
        while rt.state == "up" and clock.now < start + 30:
            if read in device_end.tick(clock.now) and first_poll is None:
                first_poll = clock.now - start
            clock.now = round(clock.now + 0.05, 3)
        rt.stop()
    assert first_poll is not None
    waits = ACK_TIMEOUT_S * (2**SETUP_TRIES - 1)  # 1 + 2 + 4 s
    assert first_poll == pytest.approx(2 * (waits + SETUP_GAP_S), abs=0.11)  # 50 ms ticks
    [stale] = [e for e in logs if e.get("state") == "stale"]
    assert clock.now - start == pytest.approx(first_poll + 3.0, abs=0.16)
    assert stale["hint"].startswith("no bytes came")


def test_a_missing_reply_is_counted_after_the_last_of_three_writes_on_every_connect() -> None:
    """A device that never answers: the query of the setting is written again 1 s after the
    first write, then 2 s after the second; ``missing`` is counted once, 4 s after the third.
    The setting in force is then not known, and the command that sets it is written a set-up
    gap later, three times as the query was, without ``missing`` counted again; the first
    poll follows it."""
    clock = Clock()
    query = sds011_query("query_mode")
    command = command_bytes("sds011", "query_mode")
    with PtyPair() as pair, capture_logs() as logs:
        rt = sds011_on(pair, clock, ["query_mode"])
        for connect in (1, 2):
            rt.tick(clock.now)
            assert pair.read(19) == query
            # a data frame, then what could begin the reply, then silence
            pair.write(SDS011_FRAME + b"\xaa\xc5")
            read_all(rt, 12)
            assert rt.framer.frames == 2 * connect - 1  # the frame before the held bytes
            for written, missing in ((query, connect - 1), (command, connect)):
                for wait_s, again in ((1.0, written), (2.0, written), (4.0, b"")):
                    clock.now += wait_s - 0.01
                    rt.tick(clock.now)
                    assert pair.read(1, timeout_s=0.05) == b""
                    assert rt.setup_ack_errors["missing"] == missing
                    assert rt.next_deadline() == pytest.approx(clock.now + 0.01)
                    clock.now += 0.01
                    rt.tick(clock.now)
                    assert pair.read(19, timeout_s=0.2 if again else 0.05) == again
                assert rt.setup_ack_errors == {"missing": connect, "wrong": 0}
                # the next write, a set-up gap later: the command, then the first poll
                assert rt.next_deadline() == pytest.approx(clock.now + SETUP_GAP_S)
                clock.now += SETUP_GAP_S
                rt.tick(clock.now)
                after = command if written == query else command_bytes("sds011", "query")
                assert pair.read(20, timeout_s=0.2) == after
            # the held bytes went on to the framer, which drops them as noise before the next frame
            pair.write(SDS011_FRAME)
            read_all(rt, 10)
            assert rt.framer.frames == 2 * connect
            assert rt.framer.skipped_bytes == 2 * connect
            rt.disconnect("unplugged")
            clock.now += 60.0
            assert rt.try_open()
        rt.stop()
    lines = [e for e in logs if e["event"] == "set-up command not acknowledged"]
    # one line a minute per command and reason: the second connect came 74 s later
    assert [
        (e["sensor"], e["command"], e["reason"], e["tries"], e["suppressed"]) for e in lines
    ] == [
        ("s", "query_mode", "missing", 3, 0),
        ("s", "query_mode", "missing", 3, 0),
    ]


class DeviceEnd:
    """The device end of ``pair`` for ``rt``: ``tick`` ticks the sensor and returns the bytes
    that its tick wrote, read from the pty's master. The sensor's source counts the bytes it
    takes (its ``try_write``, through which every command and request goes), so the device
    end waits for exactly those, and for nothing when the tick wrote nothing."""

    def __init__(self, rt: SensorRuntime, pair: PtyPair) -> None:
        assert pair.master_fd is not None
        self.rt = rt
        self.fd = pair.master_fd
        self.sent = 0
        self.taken = 0
        self._source: object = None

    def _count(self) -> None:
        source = self.rt.source
        if source is None or source is self._source:
            return
        self._source = source
        try_write = source.try_write

        def counted(data: bytes) -> bool:
            sent = try_write(data)
            assert sent, "the pty took the whole write"
            self.sent += len(data)
            return sent

        source.try_write = counted  # type: ignore[method-assign]

    def tick(self, now: float) -> bytes:
        self._count()
        self.rt.tick(now)
        written = b""
        deadline = time.monotonic() + 2.0
        while self.taken < self.sent and wait_readable(self.fd, deadline - time.monotonic()):
            chunk = os.read(self.fd, 4096)
            self.taken += len(chunk)
            written += chunk
        assert self.taken == self.sent, (self.taken, self.sent)
        return written


def tick_through(
    rt: SensorRuntime, pair: PtyPair, clock: Clock, answer: Callable[[bytes], bytes], until: float
) -> list[tuple[float, bytes]]:
    """Tick ``rt`` at each of its deadlines up to ``until`` (injected time). The device end of
    ``pair`` reads what each tick wrote and writes back ``answer(written)``, which the sensor
    reads. Returns every write with its time."""
    device_end = DeviceEnd(rt, pair)
    writes: list[tuple[float, bytes]] = []
    while (due := rt.next_deadline()) is not None and due <= until:
        clock.now = max(clock.now, due)
        written = device_end.tick(clock.now)
        if written:
            writes.append((clock.now, written))
            reply = answer(written)
            if reply:
                pair.write(reply)
                read_all(rt, len(reply))
    return writes


@pytest.mark.parametrize(
    ("preset", "command", "reply"),
    [REPLIES[0], REPLIES[5], REPLIES[8]],  # PMS passive mode, SDS011 working period, MH-Z19 ABC off
)
def test_a_set_up_command_the_device_ignored_is_written_again_and_acknowledged(
    preset: str, command: str, reply: str
) -> None:
    """A device that ignores the first write of a set-up command (busy, just powered) and
    acknowledges the second: the command is written twice, 1 s apart, and nothing is
    counted missing. An SDS011 is asked for the setting first, and reports another one."""
    clock = Clock()
    data = command_bytes(preset, command)
    query = command_query(preset, command)
    seen: collections.Counter[bytes] = collections.Counter()
    device = PresetDevice(preset)  # as it left the factory: another setting than the command's

    def answer(written: bytes) -> bytes:
        seen[written] += 1
        if query is not None and written == query[0]:
            return b"".join(r for r in device.receive(written) if r is not None)
        return bytes.fromhex(reply) if written == data and seen[written] >= 2 else b""

    with PtyPair() as pair, capture_logs() as logs:
        table: dict[str, Any] = {
            "port": pair.path,
            "preset": preset,
            "simulate": "never",
            "warmup_s": 0,
            "setup": [command],
        }
        if preset == "pms5003":  # a poll asks a PMS in passive mode; none is due in the run
            table["poll"] = {"command": "read", "interval_s": 60}
        rt = SensorRuntime(sensor_config(table), clock=clock)
        assert rt.try_open()
        start = clock.now
        writes = tick_through(rt, pair, clock, answer, start + 10.0)
        rt.stop()
    if query is not None:  # asked at the open, written a set-up gap after the reply
        assert [(at - start, w) for at, w in writes if w == query[0]] == [(0.0, query[0])]
        first = next(at for at, w in writes if w == data)
        assert first - start == pytest.approx(SETUP_GAP_S)
        start = first
    assert [(at - start, w) for at, w in writes if w == data] == [
        (0.0, data),
        (pytest.approx(ACK_TIMEOUT_S), data),
    ]
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert rt.framer.skipped_bytes == 0  # the reply was taken out of the stream
    assert not [e for e in logs if e["event"] == "set-up command not acknowledged"]


# -- settings the device stores: asked for, written only when another is in force -------------


@pytest.mark.parametrize(
    ("command", "query", "reply"),
    [
        # the examples of the Laser Dust Sensor Control Protocol V1.3: the reporting mode of
        # sensor A1 60 (active), and its working period (2 minutes)
        (
            "query_mode",
            "AA B4 02 00 00 00 00 00 00 00 00 00 00 00 00 FF FF 00 AB",
            "AA C5 02 00 00 00 A1 60 03 AB",
        ),
        (
            "working_period=2",
            "AA B4 08 00 00 00 00 00 00 00 00 00 00 00 00 FF FF 06 AB",
            "AA C5 08 00 02 00 A1 60 0B AB",
        ),
    ],
)
def test_the_simulated_sds011_answers_a_query_with_the_setting_in_force(
    command: str, query: str, reply: str
) -> None:
    device = PresetDevice("sds011")
    device.period = 2
    assert sds011_query(command) == bytes.fromhex(query)
    assert device.receive(bytes.fromhex(query)) == [bytes.fromhex(reply)]
    # the query changes nothing
    assert (device.active, device.period) == (True, 2)


SDS011_SETUP = ["query_mode", "working_period=5"]


def sds011_connects(
    device: Callable[[bytes], bytes], connects: int
) -> tuple[list[list[bytes]], SensorRuntime]:
    """An SDS011 of set-up :data:`SDS011_SETUP` on a pty, whose device end answers what is
    written with ``device``, connected ``connects`` times (unplugged and plugged in again a
    minute after each set-up): the bytes written on each connect, and the sensor."""
    clock = Clock()
    done: list[list[bytes]] = []
    with PtyPair() as pair:
        rt = sds011_on(pair, clock, SDS011_SETUP)
        for connect in range(connects):
            start = clock.now
            writes = tick_through(rt, pair, clock, device, start + 20.0)
            done.append([w for _, w in writes])
            if connect < connects - 1:
                rt.disconnect("unplugged")
                clock.now += 60.0
                assert rt.try_open()
        rt.stop()
    return done, rt


def answering(device: PresetDevice) -> Callable[[bytes], bytes]:
    return lambda written: b"".join(r for r in device.receive(written) if r is not None)


def test_an_sds011_that_keeps_the_set_up_s_settings_is_only_asked_on_every_connect() -> None:
    """An SDS011 in query mode with a working period of 5 minutes, as an earlier run left it
    in its flash: each connect asks for both settings, writes neither, and counts nothing."""
    device = PresetDevice("sds011")
    device.active, device.period = False, 5
    asked = [sds011_query(command) for command in SDS011_SETUP]
    poll = command_bytes("sds011", "query")
    writes, rt = sds011_connects(answering(device), 3)
    assert writes == [[*asked, poll]] * 3
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert rt.dialogue is not None
    assert rt.dialogue.acknowledged == set(SDS011_SETUP)
    assert rt.framer.skipped_bytes == 0  # the replies were taken out of the stream


def test_an_sds011_set_otherwise_is_written_once_then_only_asked_over_reconnects() -> None:
    """An SDS011 as it left the factory (active reporting, continuous working): the first
    connect asks for each setting and writes it, its reply checked; the device keeps both,
    so the next connects only ask: one write of each setting in three connects."""
    device = PresetDevice("sds011")
    query_mode, period = (command_bytes("sds011", command) for command in SDS011_SETUP)
    ask_mode, ask_period = (sds011_query(command) for command in SDS011_SETUP)
    poll = command_bytes("sds011", "query")
    writes, rt = sds011_connects(answering(device), 3)
    assert writes == [
        [ask_mode, query_mode, ask_period, period, poll],
        [ask_mode, ask_period, poll],
        [ask_mode, ask_period, poll],
    ]
    assert (device.active, device.period) == (False, 5)
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}


def test_an_sds011_that_does_not_take_a_setting_is_written_once_per_connect_and_counted() -> None:
    """An SDS011 that answers the write of query mode with active mode (its flash did not
    take it): on each connect the query reports active mode, the command is written once,
    and its reply counted ``wrong``."""
    device = PresetDevice("sds011")
    query_mode = command_bytes("sds011", "query_mode")
    active = bytes.fromhex("AA C5 02 01 00 00 A1 60 04 AB")

    def stays_active(written: bytes) -> bytes:
        return active if written == query_mode else answering(device)(written)

    writes, rt = sds011_connects(stays_active, 2)
    assert [w.count(query_mode) for w in writes] == [1, 1]
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 2}


def test_an_sds011_whose_first_answer_to_a_query_is_lost_is_asked_again_not_written() -> None:
    """The reply to the first query of the reporting mode is lost on the line: the query is
    written again a second later, and its reply (query mode in force) spares the write."""
    device = PresetDevice("sds011")
    device.active, device.period = False, 5
    ask_mode, ask_period = (sds011_query(command) for command in SDS011_SETUP)
    lost = [True]

    def loses_one(written: bytes) -> bytes:
        answer = answering(device)(written)
        if written == ask_mode and lost:
            lost.clear()
            return b""
        return answer

    clock = Clock()
    with PtyPair() as pair:
        rt = sds011_on(pair, clock, SDS011_SETUP)
        start = clock.now
        writes = tick_through(rt, pair, clock, loses_one, start + 20.0)
        rt.stop()
    assert [(round(at - start, 6), w) for at, w in writes] == [
        (0.0, ask_mode),
        (ACK_TIMEOUT_S, ask_mode),
        (ACK_TIMEOUT_S + SETUP_GAP_S, ask_period),
        (ACK_TIMEOUT_S + 2 * SETUP_GAP_S, command_bytes("sds011", "query")),
    ]
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}


def deaf_to_queries(answer: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    """A device end that answers what is written with ``answer``, but a query of a setting
    with a data frame alone (a unit in active mode whose replies to queries are lost)."""
    queries = {sds011_query(command) for command in SDS011_SETUP}
    return lambda written: SDS011_FRAME if written in queries else answer(written)


def test_an_sds011_deaf_to_queries_is_written_its_settings_on_every_connect() -> None:
    """An SDS011 as it left the factory that never answers a query of a setting, but takes
    and acknowledges the commands that set them: on each connect each query is written three
    times and counted ``missing``, then its command once, acknowledged; the unit is in query
    mode with a working period of 5 minutes afterwards."""
    device = PresetDevice("sds011")
    query_mode, period = (command_bytes("sds011", command) for command in SDS011_SETUP)
    ask_mode, ask_period = (sds011_query(command) for command in SDS011_SETUP)
    poll = command_bytes("sds011", "query")
    writes, rt = sds011_connects(deaf_to_queries(answering(device)), 2)
    assert writes == [[ask_mode] * 3 + [query_mode] + [ask_period] * 3 + [period, poll]] * 2
    assert (device.active, device.period) == (False, 5)
    assert rt.setup_ack_errors == {"missing": 2 * 2, "wrong": 0}
    assert rt.dialogue is not None
    assert rt.dialogue.acknowledged == set(SDS011_SETUP)
    assert rt.dialogue.unanswered == []
    assert rt.framer.skipped_bytes == 0  # the replies were taken out of the stream


def test_an_sds011_deaf_to_queries_that_does_not_take_a_setting_is_counted() -> None:
    """An SDS011 that never answers a query of its reporting mode, and answers the write of
    query mode with active mode: on each connect the command is written once after the
    query went unanswered, and counted ``wrong`` as well as ``missing``."""
    device = PresetDevice("sds011")
    query_mode = command_bytes("sds011", "query_mode")
    active = bytes.fromhex("AA C5 02 01 00 00 A1 60 04 AB")

    def stays_active(written: bytes) -> bytes:
        return active if written == query_mode else answering(device)(written)

    writes, rt = sds011_connects(deaf_to_queries(stays_active), 2)
    assert [w.count(query_mode) for w in writes] == [1, 1]
    assert rt.setup_ack_errors == {"missing": 2 * 2, "wrong": 2}


def test_an_sds011_that_stops_reading_while_asked_gets_no_command_after_the_query() -> None:
    """An SDS011 whose input fills up while the reply to a query is awaited (it stopped
    reading): the query's next write finds no room, the query is counted ``missing``, and the
    command is not written after it, since a device that does not read gets no set-up
    command more on that connect; the first poll follows."""
    clock = Clock()
    with PtyPair() as pair, capture_logs() as logs:
        rt = sds011_on(pair, clock, ["query_mode"])
        rt.tick(clock.now)
        assert pair.read(19) == sds011_query("query_mode")
        source = rt.source
        assert source is not None
        # the device end is read no more: its input is full once the pty, which moves what
        # was written on to the device end's buffer a moment later, takes nothing more
        while True:
            while source.try_write(bytes(4096)):
                pass
            time.sleep(0.05)
            if not source.try_write(bytes(1)):
                break
        start = clock.now
        while (due := rt.next_deadline()) is not None and due <= start + 10.0:
            clock.now = due
            rt.tick(clock.now)
        assert rt.setup_ack_errors == {"missing": 1, "wrong": 0}
        assert rt.dialogue is not None
        assert not rt.dialogue.setting_up
        rt.stop()
    assert [(e["event"], e.get("commands")) for e in logs if "not reading" in e["event"]] == [
        ("device is not reading; set-up commands not sent", ["query_mode"]),
        ("device is not reading; poll request not sent", None),
    ]


# -- a unit that answers nothing ---------------------------------------------------------------

#: When the first poll of an SDS011 of set-up :data:`SDS011_SETUP` that answers nothing goes
#: out, after the open: the query of the reporting mode and its command three times each
#: (replies awaited 1 + 2 + 4 s), then the query of the working period and its command once
#: each (awaited 1 s), a set-up gap after each: 16.4 s (28.4 s with three tries of each).
SILENT_FIRST_POLL_S = 2 * (ACK_TIMEOUT_S * (2**SETUP_TRIES - 1) + SETUP_GAP_S) + 2 * (
    ACK_TIMEOUT_S + SETUP_GAP_S
)


def answers_nothing_lines(logs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [e for e in logs if e["event"].startswith("the device answers nothing")]


def test_an_sds011_that_answers_nothing_is_polled_16_4_s_after_the_open_and_told() -> None:
    """An SDS011 that answers nothing (off, miswired, on another port): the query of its
    reporting mode and the command written for it go out three times each, as to a unit
    busy for a moment; after 14.1 s of both unanswered, and no byte, a warning names the
    sensor and its port and says the device answers nothing, and the working period's query
    and command go out once each. The first poll comes 16.4 s after the open, ``missing``
    counted once per setting (the query's); the next connect starts over with three tries."""
    ask_mode, ask_period = (sds011_query(command) for command in SDS011_SETUP)
    query_mode, period = (command_bytes("sds011", command) for command in SDS011_SETUP)
    poll = command_bytes("sds011", "query")
    clock = Clock()
    schedules = []
    with PtyPair() as pair, capture_logs() as logs:
        rt = sds011_on(pair, clock, SDS011_SETUP)
        for connect in (1, 2):
            start = clock.now
            writes = tick_through(rt, pair, clock, lambda _: b"", start + SILENT_FIRST_POLL_S + 1)
            schedules.append([(round(at - start, 6), w) for at, w in writes])
            assert rt.setup_ack_errors == {"missing": 2 * connect, "wrong": 0}
            assert rt.dialogue is not None
            assert rt.dialogue.unanswered == SDS011_SETUP
            assert len(answers_nothing_lines(logs)) == connect
            rt.disconnect("unplugged")
            clock.now += 60.0
            assert rt.try_open()
        rt.stop()
    assert round(SILENT_FIRST_POLL_S, 6) == 16.4
    assert (
        schedules
        == [
            [
                (0.0, ask_mode),
                (1.0, ask_mode),
                (3.0, ask_mode),
                (7.1, query_mode),
                (8.1, query_mode),
                (10.1, query_mode),
                (14.2, ask_period),
                (15.3, period),
                (round(SILENT_FIRST_POLL_S, 6), poll),
            ]
        ]
        * 2
    )
    # once a minute at most: the second connect came 77.4 s after the first
    assert [
        (e["log_level"], e["sensor"], e["port"], e["command"], e["silent_for_s"], e["rest"])
        for e in answers_nothing_lines(logs)
    ] == [("warning", "s", pair.path, "query_mode", 14.1, ["working_period=5"])] * 2
    assert [e["suppressed"] for e in answers_nothing_lines(logs)] == [0, 0]


def test_an_sds011_left_asleep_is_woken_by_its_set_up_s_last_command_without_retries() -> None:
    """An SDS011 left asleep answers its wake command alone: of the set-up
    ``query_mode, working_period=5, work`` its settings' queries and commands go
    unanswered, the device answers nothing, and ``work`` still goes out, once, 16.4 s after
    the open (28.4 s with three tries of each write before it); acknowledged, it wakes the
    unit, and the first poll follows a set-up gap later."""
    device = PresetDevice("sds011")
    device.asleep = True
    setup = [*SDS011_SETUP, "work"]
    work, poll = command_bytes("sds011", "work"), command_bytes("sds011", "query")
    clock = Clock()
    with PtyPair() as pair, capture_logs() as logs:
        rt = sds011_on(pair, clock, setup)
        start = clock.now
        writes = tick_through(rt, pair, clock, answering(device), start + 30.0)
        rt.stop()
    assert [(round(at - start, 6), w) for at, w in writes[-2:]] == [
        (round(SILENT_FIRST_POLL_S, 6), work),
        (round(SILENT_FIRST_POLL_S + SETUP_GAP_S, 6), poll),
    ]
    assert len(writes) == 10  # 3 + 3 for the reporting mode, 1 + 1 for the period
    assert not device.asleep
    assert rt.dialogue is not None
    assert rt.dialogue.acknowledged == {"work"}
    assert rt.setup_ack_errors == {"missing": 2, "wrong": 0}
    assert [e["rest"] for e in answers_nothing_lines(logs)] == [["working_period=5", "work"]]


def test_an_sds011_deaf_to_queries_that_takes_commands_at_their_second_write_is_configured() -> (
    None
):
    """An SDS011 as it left the factory that sends nothing unasked, never answers a query of
    a setting and ignores the first write of each command (busy), acknowledging the second:
    it answers, so every write keeps its three tries; each query goes out three times, each
    command twice, and the unit ends in query mode with a working period of 5 minutes."""
    device = PresetDevice("sds011")
    queries = {sds011_query(command) for command in SDS011_SETUP}
    query_mode, period = (command_bytes("sds011", command) for command in SDS011_SETUP)
    seen: collections.Counter[bytes] = collections.Counter()

    def deaf_and_busy(written: bytes) -> bytes:
        seen[written] += 1
        if written in queries or seen[written] == 1:
            return b""
        return answering(device)(written)

    writes, rt = sds011_connects(deaf_and_busy, 1)
    ask_mode, ask_period = (sds011_query(command) for command in SDS011_SETUP)
    poll = command_bytes("sds011", "query")
    assert writes == [
        [*[ask_mode] * 3, query_mode, query_mode, *[ask_period] * 3, period, period, poll]
    ]
    assert (device.active, device.period) == (False, 5)
    assert rt.setup_ack_errors == {"missing": 2, "wrong": 0}
    assert rt.dialogue is not None
    assert rt.dialogue.acknowledged == set(SDS011_SETUP)


class CountedFlash(dict[str, int]):
    """A simulated SDS011's flash that counts the writes it takes."""

    def __init__(self, **settings: int) -> None:
        super().__init__(settings)
        self.writes = 0

    def __setitem__(self, key: str, value: int) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def test_an_sds011_already_set_that_answers_once_found_silent_gets_no_write() -> None:
    """An SDS011 in query mode with a working period of 5 minutes, powered 14 s after its
    port opened: its reporting mode's query and command went unanswered (it answered
    nothing then), and the working period's query, written once, finds the period in force:
    the command is not written, nor is any write taken by its flash; the first poll follows."""
    flash = CountedFlash(reporting_mode=1, working_period=5)
    device = PresetDevice("sds011", flash)
    assert (device.active, device.period) == (False, 5)
    clock = Clock()
    start = clock.now

    def powered_at_14_s(written: bytes) -> bytes:
        return answering(device)(written) if clock.now - start >= 14.0 else b""

    with PtyPair() as pair:
        rt = sds011_on(pair, clock, SDS011_SETUP)
        writes = tick_through(rt, pair, clock, powered_at_14_s, start + 30.0)
        rt.stop()
    ask_period = sds011_query("working_period=5")
    assert [(round(at - start, 6), w) for at, w in writes if at - start >= 14.0] == [
        (14.2, ask_period),
        (14.3, command_bytes("sds011", "query")),
    ]
    assert flash.writes == 0
    assert (device.active, device.period) == (False, 5)
    assert rt.setup_ack_errors == {"missing": 1, "wrong": 0}


def test_an_sds011_that_answers_after_it_was_found_silent_gets_three_tries_again() -> None:
    """An SDS011 as it left the factory, powered 14 s after its port opened, that ignores
    the first write of a command (busy): the working period's query, written once, is
    answered (continuous), and from that byte on each write has its three tries again: the
    period's command, lost at its first write, is written again 1 s later and taken."""
    device = PresetDevice("sds011")
    period = command_bytes("sds011", "working_period=5")
    clock = Clock()
    start = clock.now
    seen: collections.Counter[bytes] = collections.Counter()

    def powered_at_14_s_and_busy(written: bytes) -> bytes:
        if clock.now - start < 14.0:
            return b""
        seen[written] += 1
        return b"" if written == period and seen[written] == 1 else answering(device)(written)

    with PtyPair() as pair:
        rt = sds011_on(pair, clock, SDS011_SETUP)
        writes = tick_through(rt, pair, clock, powered_at_14_s_and_busy, start + 30.0)
        rt.stop()
    assert [(round(at - start, 6), w) for at, w in writes if at - start >= 14.0] == [
        (14.2, sds011_query("working_period=5")),
        (14.3, period),
        (15.3, period),
        (15.4, command_bytes("sds011", "query")),
    ]
    assert device.period == 5
    assert rt.setup_ack_errors == {"missing": 1, "wrong": 0}


def test_a_command_never_acknowledged_is_written_three_times_then_counted_missing() -> None:
    """A PMS5003 that answers nothing: ``wakeup`` (no acknowledgement) is written once,
    ``passive_mode`` at 0.1, 1.1 and 3.1 s; ``missing`` is counted once, at 7.1 s, with a
    warning naming the sensor and the command, and the first read request follows."""
    clock = Clock()
    wakeup, passive, read = (
        command_bytes("pms5003", c) for c in ("wakeup", "passive_mode", "read")
    )
    with PtyPair() as pair, capture_logs() as logs:
        table = {
            "port": pair.path,
            "preset": "pms5003",
            "simulate": "never",
            "warmup_s": 0,
            "setup": ["wakeup", "passive_mode"],
            "poll": {"command": "read", "interval_s": 2.0},
        }
        rt = SensorRuntime(sensor_config(table), clock=clock)
        assert rt.try_open()
        start = clock.now
        writes = tick_through(rt, pair, clock, lambda _: b"", start + 7.0)
        assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
        writes += tick_through(rt, pair, clock, lambda _: b"", start + 8.0)
        rt.stop()
    assert [(round(at - start, 6), w) for at, w in writes] == [
        (0.0, wakeup),
        (0.1, passive),
        (1.1, passive),
        (3.1, passive),
        (7.2, read),
    ]
    assert rt.setup_ack_errors == {"missing": 1, "wrong": 0}
    lines = [e for e in logs if e["event"] == "set-up command not acknowledged"]
    assert [(e["sensor"], e["command"], e["reason"], e["tries"]) for e in lines] == [
        ("s", "passive_mode", "missing", 3)
    ]
    assert lines[0]["log_level"] == "warning"


# -- a polled device's request drops what came before it --------------------------------------


def mhz19_reply(ppm: int) -> bytes:
    """An MH-Z19's answer to the read request: FF 86, CO2, temperature + 40, the checksum."""
    body = bytes([0x86, ppm >> 8, ppm & 0xFF, 62, 0, 0, 0])
    return b"\xff" + body + bytes([-sum(body) % 256])


def polled(pair: PtyPair, clock: Clock, table: dict[str, Any]) -> SensorRuntime:
    config = sensor_config({"port": pair.path, "simulate": "never", "warmup_s": 0, **table})
    rt = SensorRuntime(config, clock=clock, wall_clock=clock, rng=random.Random(1))
    assert rt.try_open()
    return rt


def answer_polls(
    rt: SensorRuntime, pair: PtyPair, clock: Clock, replies: list[bytes], channel: str
) -> list[tuple[float, float] | None]:
    """Poll ``rt`` once per reply at its poll times; the device end reads each request and
    answers with the next reply. Returns, after each reply was read, the newest reading of
    ``channel`` that came with it, as (value, time), or None when none came."""
    (request,) = rt.config.poll_requests()
    got: list[tuple[float, float] | None] = []
    for reply in replies:
        due = rt.next_deadline()
        assert due is not None
        clock.now = due
        rt.tick(clock.now)
        assert pair.read(len(request)) == request
        before = rt.snapshot()
        pair.write(reply)
        read_all(rt, len(reply))
        (stats,) = [c.stats for c in rt.snapshot().channels if c.name == channel]
        (old,) = [c.stats for c in before.channels if c.name == channel]
        new = stats is not None and (old is None or stats.reading is not old.reading)
        got.append((stats.reading.value, stats.reading.monotonic_s) if new and stats else None)
    return got


def test_garbage_before_a_polled_mhz19s_reply_takes_no_reply() -> None:
    """``FF 86`` and 3 bytes of garbage (a just-powered MH-Z19C) before the first request,
    whose 8-bit checksum, over the garbage and the first 4 bytes of the reply, holds: without
    the drop at the request, that candidate is a frame of made-up values (400 ppm, 71 °C)
    and the reply's start is gone with it. The request drops the garbage: every reply is read,
    at its own time, and no poll times out."""
    replies = [mhz19_reply(500 + i) for i in range(5)]
    head = bytes([0x86, 0x01, 0x90])  # what FF 86 01 90 xx claims: 400 ppm
    # the checksum of FF 86 01 90 xx FF 86 01 is the reply's byte 3 (F4): xx makes it hold
    xx = -(sum(head) + 0xFF + 0x86 + replies[0][2] + replies[0][3]) % 256
    garbage = b"\xff" + head + bytes([xx])
    assert FrameFramer(frame_spec("mhz19"), 512).feed(garbage + replies[0])[0][:5] == garbage
    clock = Clock()
    with PtyPair() as pair:
        rt = polled(pair, clock, {"preset": "mhz19", "poll": {"command": "read", "interval_s": 1}})
        rt.use_journal(CaptureJournal())  # as the reader does: chunks reach the ring later
        pair.write(garbage)
        read_all(rt, len(garbage))
        start = clock.now
        got = answer_polls(rt, pair, clock, replies, "co2_ppm")
        captured = rt.captured()
        rt.stop()
    assert got == [(500.0 + i, start + i) for i in range(5)]
    assert rt.poll_timeouts == 0
    assert rt.framer.frames == 5
    assert rt.framer.skipped_bytes == len(garbage)
    assert not any(rt.snapshot().parse_errors.values())
    # the ring keeps every byte, the garbage too, in the order it went over the wire
    request = command_bytes("mhz19", "read")
    assert [(way, data) for _, way, data in captured] == [
        (RX, garbage),
        *[entry for reply in replies for entry in ((TX, request), (RX, reply))],
    ]


def test_a_polled_frame_sensor_is_not_held_back_by_a_garbage_length() -> None:
    """A polled sensor described by a frame spec with a length field (PMS frames, any
    length up to ``max_frame_bytes`` accepted): ``42 4D 01 00`` before the first request is
    garbage that claims a 260-byte frame. Without the drop at the request, the replies wait
    behind it: seven polls time out, the sensor goes stale, and the first eight replies come
    in one burst with one time."""
    table = {
        "format": "frames",
        "frame": {
            "start": b"\x42\x4d",
            "length_offset": 2,
            "length_size": 2,
            "checksum": "sum16be",
            "fields": [{"name": "pm2_5", "offset": 12, "type": "u16be"}],
        },
        "channels": [{"name": "pm2_5"}],
        "poll": {"request": command_bytes("pms5003", "read"), "interval_s": 1},
    }
    replies = [pms_frame(i) for i in range(10)]
    garbage = b"\x42\x4d\x01\x00"
    clock = Clock()
    with PtyPair() as pair:
        rt = polled(pair, clock, table)
        pair.write(garbage)
        read_all(rt, len(garbage))
        start = clock.now
        got = answer_polls(rt, pair, clock, replies, "pm2_5")
        rt.stop()
    assert got == [(float((i * 37 + 4) % 1000), start + i) for i in range(10)]
    assert rt.poll_timeouts == 0
    assert rt.framer.skipped_bytes == len(garbage)


def test_a_polled_line_sensor_drops_a_partial_line_at_its_request() -> None:
    """A polled line sensor: bytes without a terminator before the request (noise, a prompt)
    would make one line with the reply, a parse error instead of a reading. They are dropped
    as a binary sensor's are, counted in skipped bytes."""
    clock = Clock()
    with PtyPair() as pair:
        table = {
            "format": "value",
            "poll": {"request": "M\\n", "interval_s": 1},
            "channels": [{"name": "v"}],
        }
        rt = polled(pair, clock, table)
        pair.write(b"\x00> ")
        read_all(rt, 3)
        start = clock.now
        got = answer_polls(rt, pair, clock, [b"21.5\n", b"21.6\n"], "v")
        rt.stop()
    assert got == [(21.5, start), (21.6, start + 1)]
    assert rt.framer.skipped_bytes == 3
    assert not any(rt.snapshot().parse_errors.values())


@pytest.mark.parametrize(
    ("make", "pending", "after"),
    [
        (lambda: FrameFramer(frame_spec("mhz19"), 512), b"\xff\x86\x01", mhz19_reply(500)),
        (LineFramer, b"\x00> 21", b"21.5\n"),
        (NmeaFramer, b"$GPZDA,1", b"$GPZDA,2*00\n"),
        (NmeaFramer, b"\xb5\x62\x01\x07\x05\x00\x01", b"$GPZDA,2*00\n"),  # a UBX frame's start
        (lambda: ExchangeFramer("rtu"), b"\x01\x03\x00", b""),
    ],
)
def test_every_framer_drops_its_pending_bytes_as_skipped(
    make: Callable[[], Framer], pending: bytes, after: bytes
) -> None:
    framer = make()
    assert framer.feed(pending) == []
    skipped = framer.skipped_bytes
    framer.drop_pending()
    assert framer.skipped_bytes == skipped + len(pending)
    assert framer.feed(after) == ([after.rstrip(b"\n")] if after else [])
    assert framer.frames == (1 if after else 0)


# -- simulated devices that answer ----------------------------------------------------------------


def drive(table: dict[str, Any], seconds: float) -> SensorRuntime:
    """A simulated sensor run for ``seconds`` of injected time, read and ticked every 50 ms
    (the reader's pace for simulated ports)."""
    clock = Clock()
    config = sensor_config({"port": "sim://s", **table})
    rt = SensorRuntime(config, clock=clock, wall_clock=clock, rng=random.Random(1))
    assert rt.try_open()
    assert rt.source is not None
    end = clock.now + seconds
    while clock.now < end:
        rt.tick(clock.now)
        clock.now += 0.05
        rt.feed(rt.source.read())
    return rt


def test_a_simulated_mhz19_sends_only_answers_to_its_polls() -> None:
    rt = drive({"preset": "mhz19", "setup": ["abc_off", "range=5000"]}, 12.0)
    assert rt.framer.frames == 3  # polls at 0, 5 and 10 s
    assert rt.poll_timeouts == 0
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert rt.framer.skipped_bytes == 0
    assert not any(rt.snapshot().parse_errors.values())
    assert rt.source is not None
    assert rt.source.device.replies_written == 2  # type: ignore[attr-defined]
    silent = make_device(sensor_config({"port": "sim://s", "preset": "mhz19"}), 0.0)
    assert silent.bytes_due(30.0) == b""


def test_a_poll_interval_alone_keeps_the_presets_request() -> None:
    rt = drive({"preset": "mhz19", "poll": {"interval_s": 2.0}}, 11.0)
    assert rt.framer.frames == 6  # read at 0, 2, 4, 6, 8 and 10 s
    assert rt.poll_timeouts == 0


def test_a_simulated_pms5003_in_passive_mode_answers_its_read_requests() -> None:
    streaming = drive({"preset": "pms5003"}, 10.0)
    assert streaming.framer.frames >= 10
    passive = {"setup": ["passive_mode"], "poll": {"command": "read", "interval_s": 2.0}}
    polled = drive({"preset": "pms5003", **passive}, 10.0)
    # one frame sent at the open, before the set-up command; then one per read request
    assert polled.framer.frames == 1 + 5
    assert polled.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert polled.framer.skipped_bytes == 0
    assert polled.poll_timeouts == 0


def test_a_simulated_sds011_in_query_mode_answers_its_queries() -> None:
    table = {
        "preset": "sds011",
        "setup": ["query_mode", "working_period=0"],
        "poll": {"command": "query", "interval_s": 3.0},
    }
    rt = drive(table, 9.8)
    # the frame at the open, then polls at 0.6, 3.6, 6.6 and 9.6 s: the set-up asks for the
    # reporting mode (active), writes query mode and asks for the working period (continuous,
    # not written), each 0.05 s after the one before, a set-up gap after its reply
    assert rt.framer.frames == 1 + 4
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert rt.framer.skipped_bytes == 0


def simulated_sds011(clock: Clock, interval_s: float = 3.0) -> SensorRuntime:
    """A ``sim://`` SDS011 of set-up :data:`SDS011_SETUP`, polled every ``interval_s``."""
    table = {
        "port": "sim://s",
        "preset": "sds011",
        "setup": SDS011_SETUP,
        "poll": {"command": "query", "interval_s": interval_s},
    }
    return SensorRuntime(sensor_config(table), clock=clock, wall_clock=clock, rng=random.Random(1))


def connected_for(rt: SensorRuntime, clock: Clock, seconds: float) -> list[bytes]:
    """Open ``rt`` and read and tick it every 50 ms for ``seconds``: what it wrote."""
    assert rt.try_open()
    assert rt.source is not None
    opened_at = clock.now
    end = clock.now + seconds
    while clock.now < end:
        rt.tick(clock.now)
        clock.now += 0.05
        rt.feed(rt.source.read())
    return [data for at, way, data in rt.capture.entries() if way == TX and at >= opened_at]


def test_a_simulated_sds011_keeps_its_settings_over_reconnects() -> None:
    """A ``sim://`` SDS011 keeps its reporting mode and working period over the reconnects of
    its port, as the flash of a real one does: the first connect asks for each setting and
    writes it; the next ones only ask, and the device, in query mode from the open on,
    answers the polls."""
    clock = Clock()
    rt = simulated_sds011(clock)
    writes: list[list[bytes]] = []
    for connect in range(3):
        if connect:
            rt.disconnect("unplugged")
            clock.now += 60.0
        writes.append(connected_for(rt, clock, 10.0))
    rt.stop()
    query_mode, period = (command_bytes("sds011", command) for command in SDS011_SETUP)
    ask_mode, ask_period = (sds011_query(command) for command in SDS011_SETUP)
    poll = command_bytes("sds011", "query")
    assert [(w.count(query_mode), w.count(period)) for w in writes] == [(1, 1), (0, 0), (0, 0)]
    assert writes[0][:4] == [ask_mode, query_mode, ask_period, period]
    assert [w[:2] for w in writes[1:]] == [[ask_mode, ask_period]] * 2
    assert all(set(w[2:]) == {poll} for w in writes[1:])
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert rt.framer.skipped_bytes == 0
    assert rt.poll_timeouts == 0


def test_a_simulated_sds011_keeps_its_settings_over_a_reload_that_changes_its_sensor() -> None:
    """A reload that changes a simulated SDS011's sensor (its poll interval) reads the same
    unit, whose flash holds the settings the first set-up wrote: the new sensor only asks."""
    clock = Clock()
    before = simulated_sds011(clock)
    first = connected_for(before, clock, 10.0)
    before.stop()
    after = simulated_sds011(clock, interval_s=2.0)
    after.carry_device(before)
    again = connected_for(after, clock, 10.0)
    after.stop()
    query_mode, period = (command_bytes("sds011", command) for command in SDS011_SETUP)
    assert [(w.count(query_mode), w.count(period)) for w in (first, again)] == [(1, 1), (0, 0)]
    assert again[:2] == [sds011_query(command) for command in SDS011_SETUP]
    assert after.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert after.poll_timeouts == 0


def test_a_simulated_sds011_wakes_at_each_connect_with_the_settings_of_its_flash() -> None:
    """What a simulated SDS011 keeps over a reconnect is what its flash keeps: its reporting
    mode and working period, not its sleep (a real one works after power-on)."""
    flash: dict[str, int] = {}
    device = PresetDevice("sds011", flash)
    for command in ("query_mode", "working_period=5", "sleep"):
        device.receive(command_bytes("sds011", command))
    again = PresetDevice("sds011", flash)
    assert (again.active, again.period, again.asleep) == (False, 5, False)
    assert not again.streaming
    factory = PresetDevice("sds011", {})
    assert (factory.active, factory.period, factory.asleep) == (True, 0, False)


def test_a_polled_sensor_without_preset_is_simulated_as_answering_its_request() -> None:
    table = {
        "format": "value",
        "poll": {"request": "M\\n", "interval_s": 1.0},
        "channels": [{"name": "v"}],
    }
    rt = drive(table, 4.5)
    assert rt.framer.frames == 5  # at 0, 1, 2, 3, 4 s
    assert rt.poll_timeouts == 0


def test_answers_go_through_the_garbage_and_dropout_model() -> None:
    config = sensor_config(
        {"port": "sim://s", "preset": "mhz19", "simulation": {"seed": 5, "garbage_rate": 0.5}}
    )
    device = make_device(config, 0.0)
    read = command_bytes("mhz19", "read")
    for i in range(40):
        device.receive(read, float(i))
    assert device.frames_written + device.garbage_written == 40
    assert 5 < device.garbage_written < 35
    table = {"seed": 5, "dropout_rate": 0.2, "dropout_s": 2.0}
    flaky = make_device(
        sensor_config({"port": "sim://s", "preset": "mhz19", "simulation": table}), 0.0
    )
    for i in range(40):
        flaky.receive(read, i + 0.5)
    assert flaky.dropouts > 0
    assert flaky.frames_written + flaky.answers_dropped == 40
    assert 0 < flaky.answers_dropped < 40


def test_a_device_reads_commands_cut_anywhere_and_ignores_broken_ones() -> None:
    device = PresetDevice("mhz19")
    read = command_bytes("mhz19", "read")
    broken = read[:-1] + b"\x00"
    stream = broken + read + b"\x01\x02" + read
    answers: list[bytes | None] = []
    for i in range(0, len(stream), 4):
        answers += device.receive(stream[i : i + 4])
    assert answers == [None, None]
    assert not device.streaming


def test_the_simulated_sds011_sends_the_device_id_of_its_replies_in_its_frames() -> None:
    config = sensor_config({"port": "sim://s", "preset": "sds011"})
    device = make_device(config, 0.0)
    stream = device.bytes_due(4.0)
    device.receive(command_bytes("sds011", "active_mode"), 4.5)
    answered = device.bytes_due(5.0)
    reply = answered[:10]
    assert reply[:3] == bytes.fromhex("AA C5 02")
    frames = FrameFramer(frame_spec("sds011"), 64).feed(stream + answered[10:])
    assert len(frames) == 6  # due at 0, 1, 2, 3, 4 and 5 s
    assert {frame[6:8] for frame in frames} == {reply[6:8]} == {bytes.fromhex("A1 60")}
    # the sum covers the id: each frame reads as the preset's frame
    decode = codec_for("frames").decoder(config.format_spec())
    assert all(len(decode(frame)) == 2 for frame in frames)


def test_the_simulated_sds011_sleeps_and_wakes() -> None:
    device = make_device(sensor_config({"port": "sim://s", "preset": "sds011"}), 0.0)
    assert device.bytes_due(2.0).count(b"\xaa\xc0") == 3  # 0, 1 and 2 s
    device.receive(command_bytes("sds011", "sleep"), 2.5)
    assert device.bytes_due(6.0) == bytes.fromhex("AA C5 06 01 00 00 A1 60 08 AB")
    device.receive(command_bytes("sds011", "query"), 6.5)  # asleep: no answer
    device.receive(command_bytes("sds011", "work"), 7.5)
    woken = device.bytes_due(9.0)
    assert woken[:10] == bytes.fromhex("AA C5 06 01 01 00 A1 60 09 AB")
    assert [woken[i : i + 2] for i in range(10, len(woken), 10)] == [b"\xaa\xc0"] * 2  # 8, 9 s


def test_the_simulate_command_answers_what_is_written_to_its_pty(tmp_path: Path) -> None:
    config = tmp_path / "sensord.toml"
    config.write_text('[[sensors]]\nname = "co2"\nport = "sim://co2"\npreset = "mhz19"\n')
    # started as a shell's background job is: with SIGINT ignored, which it inherits
    command = [sys.executable, "-m", "sensord", "simulate", "-c", str(config), "--seconds", "20"]
    with pty_numbers_held():
        proc = popen(
            ["sh", "-c", 'trap "" INT; exec "$@"', "sh", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
    try:
        path = line.rsplit(" on ", 1)[1].strip()
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd)
            assert not select.select([fd], [], [], 1.5)[0]  # an MH-Z19 sends nothing unasked
            os.write(fd, command_bytes("mhz19", "abc_off") + command_bytes("mhz19", "read"))
            answer = b""
            deadline = time.monotonic() + 5.0
            while len(answer) < 18 and time.monotonic() < deadline:
                if select.select([fd], [], [], 0.5)[0]:
                    answer += os.read(fd, 64)
        finally:
            os.close(fd)
    finally:
        proc.send_signal(signal.SIGINT)  # kill -INT stops it all the same: summary on stderr
        _, err = proc.communicate(timeout=10)
    assert answer[:9] == bytes.fromhex("FF 79 01 00 00 00 00 00 86")
    assert answer[9:11] == b"\xff\x86"
    decoded = codec_for("frames").decoder(frame_spec_of("mhz19"))(answer[9:])
    assert [channel for channel, _ in decoded] == ["co2_ppm", "temperature_celsius"]
    assert "wrote 1 frames" in err
    assert "1 command replies" in err


def test_a_device_that_does_not_stream_skips_nothing_between_long_polls() -> None:
    device = make_device(sensor_config({"port": "sim://s", "preset": "mhz19"}), 0.0)
    read = command_bytes("mhz19", "read")
    for at in (0.0, 60.0, 3600.0):
        device.receive(read, at)
        assert device.bytes_due(at)[:2] == b"\xff\x86"
    assert (device.frames_written, device.frames_skipped) == (3, 0)


def test_a_polled_device_that_also_streams_keeps_the_line_it_is_sending() -> None:
    """A device that sends lines of its own besides its replies: the partial line pending
    when the request goes out is the start of its next line, not garbage, and is kept."""
    clock = Clock()
    with PtyPair() as pair:
        table = {
            "format": "value",
            "poll": {"request": "M\\n", "interval_s": 1},
            "channels": [{"name": "v"}],
        }
        rt = polled(pair, clock, table)
        for _ in range(3):
            pair.write(b"1.0\n2.0\n3")  # two lines, and the next one begun
            read_all(rt, 9)
            due = rt.next_deadline()
            assert due is not None
            clock.now = due
            rt.tick(clock.now)  # the request goes out while "3" is pending
            assert pair.read(2) == b"M\n"
            pair.write(b".0\n")
            read_all(rt, 3)
        rt.stop()
    assert rt.framer.frames == 9
    assert rt.framer.skipped_bytes == 0
    assert not any(rt.snapshot().parse_errors.values())


def test_a_set_up_and_polled_sensor_is_freed_when_dropped_without_the_cycle_collector() -> None:
    """A sensor removed at a reload goes when its last reference does, even while its
    dialogue awaits a set-up reply: the dialogue holds its sensor weakly."""
    clock = Clock()
    with PtyPair() as pair:
        rt = sds011_on(pair, clock, ["query_mode"])
        rt.tick(clock.now)  # the command is written, its reply awaited
        assert rt.take_replies is not None
        rt.stop()
        gone = weakref.ref(rt)
        collecting = gc.isenabled()
        gc.disable()
        try:
            del rt
            assert gone() is None
        finally:
            if collecting:
                gc.enable()


def sds011_stale_hint(setup: list[str], answer: bool) -> str:
    """The stale hint of an SDS011 with ``setup`` that answers its set-up commands as the
    device does (``answer``) and sends one frame after them, or sends nothing at all, and
    then stays silent past its stale timeout."""
    clock = Clock()
    with PtyPair() as pair:
        table = {"port": pair.path, "preset": "sds011", "simulate": "never", "warmup_s": 0}
        rt = SensorRuntime(sensor_config({**table, "setup": setup}), clock=clock, wall_clock=clock)
        assert rt.try_open()
        device = PresetDevice("sds011")
        device_end = DeviceEnd(rt, pair)
        try:
            start = clock.now
            while rt.state == "up" and clock.now < start + 60.0:
                written = device_end.tick(clock.now)
                if written:
                    replies = [r for r in device.receive(written) if r is not None]
                    if answer and replies:
                        pair.write(b"".join(replies) + SDS011_FRAME)
                        read_all(rt, len(b"".join(replies) + SDS011_FRAME))
                clock.now += 0.1
            assert rt.state == "stale"
            assert rt.stale_hint is not None
            return rt.stale_hint
        finally:
            rt.stop()


def test_a_silent_sds011_whose_set_up_has_every_command_is_not_told_to_add_them() -> None:
    """An SDS011 whose set-up already has the commands that bring a sleeping or quiet one
    back, and that acknowledged none of them: the hint says they went unacknowledged and are
    sent on every connect, instead of advising to add them."""
    hint = sds011_stale_hint(["work", "active_mode", "working_period=0"], answer=False)
    assert "setup = [" not in hint, hint
    assert "add " not in hint
    assert "got no reply either (work, active_mode, working_period=0)" in hint, hint
    assert hint.endswith(
        'its set-up sends "work", "active_mode", "working_period=0" on every connect'
    ), hint


def test_a_silent_sds011_is_told_only_the_set_up_commands_it_lacks() -> None:
    """An SDS011 whose set-up is ``active_mode``, acknowledged, and whose frames then stop:
    the hint says that command was sent and acknowledged, and to add only the others."""
    hint = sds011_stale_hint(["active_mode"], answer=True)
    assert "setup = [" not in hint, hint
    assert hint.endswith(
        'its set-up sends "active_mode" on every connect (on this one acknowledged: '
        '"active_mode"), but not "work", "working_period=0": add "work", "working_period=0" '
        "to setup"
    ), hint


def test_a_silent_sds011_without_a_set_up_is_told_the_whole_set_up() -> None:
    hint = sds011_stale_hint([], answer=False)
    assert hint.endswith(
        'setup = ["work", "active_mode", "working_period=0"] brings it back to a frame a second'
    ), hint


def test_a_silent_sds011_s_hint_names_its_unacknowledged_set_up_command_once() -> None:
    """An SDS011 that acknowledged none of its set-up and sent nothing: the stale hint says
    once that ``work`` got no acknowledgement, not in its first part and again in the part
    about what the set-up sends."""
    hint = sds011_stale_hint(["work"], answer=False)
    told = ("got no reply either (work)" in hint) + ('not acknowledged: "work"' in hint)
    assert told == 1, hint
    assert 'its set-up sends "work" on every connect' in hint, hint


def test_a_set_up_command_unanswered_across_silent_reconnects_is_told_of_once() -> None:
    """An SDS011 behind a serial server that takes the connection and passes nothing on:
    the connection is opened again for its silence, again and again, and its set-up is
    written on each. ``work`` never acknowledged is counted and logged once, as on the
    re-runs of the set-up, not at every reconnect (once a minute for as long as it lasts)."""
    listener = socket.create_server(("127.0.0.1", 0))  # never accepts: its kernel does
    url = f"socket://127.0.0.1:{listener.getsockname()[1]}"
    clock = Clock()
    table = {
        "port": url,
        "preset": "sds011",
        "simulate": "never",
        "warmup_s": 0,
        "setup": ["work"],
        "stale_after_s": 3.0,
        "reconnect": {"initial_delay_s": 1.0, "max_delay_s": 5.0},
    }
    rt = SensorRuntime(sensor_config(table), clock=clock, wall_clock=clock)
    with listener, capture_logs() as logs:
        assert rt.try_open()
        try:
            end = clock.now + 300.0
            while clock.now < end:
                if rt.source is None and clock.now >= rt.retry.next_at:
                    rt.try_open()
                rt.tick(clock.now)
                clock.now += 0.25
        finally:
            rt.stop()
    assert rt.silent_reconnects >= 5
    assert rt.dialogue is not None
    assert rt.dialogue.setup_ack_errors["missing"] == 1
    told = [e for e in logs if e["event"] == "set-up command not acknowledged"]
    assert [e["command"] for e in told] == ["work"]


# -- the MH-Z19's detection range ----------------------------------------------------------------


def mhz19_site(port: str, setup: str) -> str:
    """A site file of one MH-Z19 on ``port`` whose set-up is ``setup`` (a TOML list)."""
    return (
        f'[[sensors]]\nname = "co2"\nport = "{port}"\npreset = "mhz19"\nsetup = {setup}\n'
        'poll = { command = "read", interval_s = 2 }\n'
    )


@pytest.mark.parametrize("value", [1000, 3000, 1500, 20000])
def test_sensord_check_refuses_a_range_no_datasheet_gives_and_names_the_models(
    tmp_path: Path, value: int
) -> None:
    """``range=N`` with an N that no Winsen datasheet gives the range command (1000 and 3000
    are ESPEasy's disabled commands) is refused by ``sensord check``, which names the ranges
    each model's datasheet gives."""
    path = tmp_path / "site.toml"
    path.write_text(mhz19_site("sim://co2", f'["abc_off", "range={value}"]'))
    result = sensord_cli("check", "--no-devices", str(path))
    assert result.returncode == 1
    assert result.stderr == (
        f"sensord: invalid configuration: {path}: sensors[0].setup[1] (sensor 'co2'): "
        "range: N must be one of 2000, 5000, 10000 (the detection ranges Winsen's datasheets "
        "give the range command (99): 2000 or 5000 ppm on an MH-Z19C, 2000, 5000 or 10000 on "
        "an MH-Z19B or MH-Z14A; 1000 and 3000, disabled commands in ESPEasy's MH-Z19 plugin, are in none)\n"
    )


#: Each range a datasheet gives and the command's bytes: the MH-Z19B datasheet's example for
#: 2000 (``FF 01 99 00 00 00 07 D0 8F``); its example for 10000 repeats that checksum byte,
#: where the bytes' two's-complement sum is 2F.
RANGE_BYTES = [
    (2000, "FF 01 99 00 00 00 07 D0 8F"),
    (5000, "FF 01 99 00 00 00 13 88 CB"),
    (10000, "FF 01 99 00 00 00 27 10 2F"),
]


@pytest.mark.parametrize(("value", "written"), RANGE_BYTES)
def test_each_range_a_datasheet_gives_passes_check_and_is_written_on_the_port(
    tmp_path: Path, value: int, written: str
) -> None:
    """``range=N`` for each range a datasheet gives: ``sensord check`` takes it, and the
    sensor writes the range command on connect, its bytes as the datasheet has them (N in
    bytes 6 and 7), on a real pty."""
    path = tmp_path / "site.toml"
    path.write_text(mhz19_site("sim://co2", f'["range={value}"]'))
    checked = sensord_cli("check", "--no-devices", str(path))
    assert checked.returncode == 0, checked.stderr
    expected = bytes.fromhex(written)
    assert (sum(expected[1:]) & 0xFF) == 0
    clock = Clock()
    with PtyPair() as pair:
        table = {"port": pair.path, "preset": "mhz19", "simulate": "never", "warmup_s": 0}
        poll = {"command": "read", "interval_s": 60.0}
        config = sensor_config({**table, "setup": [f"range={value}"], "poll": poll})
        rt = SensorRuntime(config, clock=clock, wall_clock=clock, rng=random.Random(1))
        assert rt.try_open()
        rt.tick(clock.now)
        assert pair.read(len(expected) + 1, timeout_s=0.5) == expected
        rt.stop()


# -- a device the open restarts ---------------------------------------------------------------


@pytest.mark.parametrize("delayed", [False, True], ids=["as_is", "with_connect_delay"])
def test_a_device_the_open_restarts_is_set_up_and_polled_after_the_connect_delay(
    delayed: bool,
) -> None:
    """An MH-Z19 behind an Arduino board that each open restarts: what is written in the
    first 2.5 s after an open is lost. As it is, the ``abc_off`` of each open is written three
    times (at 0, 1 and 3 s), the last answered; with ``connect_delay_s = 3`` it is written
    once, 3 s after each open (at start and after a reconnect), and acknowledged; either way
    the first poll follows the acknowledgement and every poll is answered. A frame the board
    sends while the set-up waits is read meanwhile."""
    ready_s = 2.5
    abc_off = command_bytes("mhz19", "abc_off")
    read = command_bytes("mhz19", "read")
    ack = bytes.fromhex(dict(((p, c), r) for p, c, r in REPLIES)[("mhz19", "abc_off")])
    clock = Clock()
    table: dict[str, Any] = {
        "preset": "mhz19",
        "setup": ["abc_off"],
        "poll": {"command": "read", "interval_s": 1.0},
    }
    if delayed:
        table["connect_delay_s"] = 3.0
    written: list[tuple[float, bytes]] = []
    with PtyPair() as pair:
        rt = polled(pair, clock, table)
        device_end = DeviceEnd(rt, pair)
        ppm = 500
        for connect in (1, 2):
            opened_at = clock.now
            # the board's last frame before the open, passed on as it restarts
            pair.write(mhz19_reply(ppm))
            read_all(rt, 9)
            while clock.now < opened_at + 10.0:
                due = rt.next_deadline()
                assert due is not None
                clock.now = due
                got = device_end.tick(clock.now)
                if not got:
                    continue
                written.append((round(clock.now - opened_at, 2), got))
                if clock.now < opened_at + ready_s:
                    continue  # booting: lost
                if got == abc_off:
                    pair.write(ack)
                    read_all(rt, len(ack))
                elif got == read:
                    ppm += 1
                    pair.write(mhz19_reply(ppm))
                    read_all(rt, 9)
            if connect == 1:
                rt.disconnect("read error")
                clock.now += 60.0
                assert rt.try_open()
        co2 = rt.snapshot().channels[0].stats
        rt.stop()
    setups = [at for at, data in written if data == abc_off]
    first_polls = [at for (at, data) in written if data == read][:1]
    assert co2 is not None
    assert rt.poll_timeouts == 0
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert co2.count == ppm - 500 + 2  # every reply, and the frame at each open
    if not delayed:
        assert setups == [0.0, 1.0, 3.0] * 2
        assert first_polls == [round(3.0 + SETUP_GAP_S, 2)]
        return
    assert setups == [3.0, 3.0]
    assert first_polls == [round(3.0 + SETUP_GAP_S, 2)]
