"""Set-up commands written as bytes (``setup = [{ send = ..., expect = ..., refuse = ... }]``)
for sensors without a preset: checked by ``sensord check``, written on every connect to a
device on a real pty, written again when the device ignores them, and their replies taken out
of the byte stream and counted as the presets' are.

Fixtures and their origins:

* Sensirion SPS30: "start measurement" ``7E 00 00 02 01 03 F9 7E`` and its reply ``7E 00 00 00
  00 FF 7E`` (state 00) are the examples of Sensirion's SPS30 datasheet; ``7E 00 00 43 00 BC
  7E`` (state 43, "command not allowed in current state": the sensor measures already) is the
  reply PyPMS's SPS30 module reads as such (``pms/sensors/sensirion/sps30.py``). The replies
  to "read measured values" are the real sensor's of tests/test_frames_generic.py.
* Honeywell HPMA115S0: "stop auto send" ``68 01 20 77``, its acknowledgement ``A5 A5`` and
  refusal ``96 96`` (no checksum) as PyPMS's HPMA115S0 module and Honeywell's datasheet give
  them; the read replies are the HPMA115C0's of tests/test_frames_generic.py.
"""

from __future__ import annotations

import collections
import itertools
import random
from pathlib import Path
from typing import Any

import pytest
from harness.pty import PtyPair
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs
from test_frames_commands import Clock, sensor_config, tick_through
from test_frames_generic import HPMA115, SPS30, SPS30_FRAMES, SPS30_VALUES, errors

from sensord.config import Config, parse_config
from sensord.config_sensor import SensorConfig
from sensord.dialogue import ACK_TIMEOUT_S, SETUP_GAP_S
from sensord.formats.acks import AckWatch
from sensord.formats.presets import command_bytes
from sensord.sensor import SensorRuntime

START = bytes.fromhex("7E 00 00 02 01 03 F9 7E")
STARTED = bytes.fromhex("7E 00 00 00 00 FF 7E")
MEASURING_ALREADY = bytes.fromhex("7E 00 00 43 00 BC 7E")
#: an idle SPS30's answer to a read request: state 43, command not allowed in this state
NOT_ALLOWED = bytes.fromhex("7E 00 03 43 00 B9 7E")
READ = bytes.fromhex("7E 00 03 00 FC 7E")

STOP_AUTO_SEND = bytes.fromhex("68 01 20 77")
HPMA_READ = bytes.fromhex("68 01 04 93")
HPMA_ACK = bytes.fromhex("A5 A5")
HPMA_NACK = bytes.fromhex("96 96")
HPMA_REPLY = bytes.fromhex("40 0D 04 00 04 00 07 00 09 00 17 00 00 00 00 84")

HPMA_SETUP = 'setup = [{ send = "68 01 20 77", expect = "A5 A5", refuse = "96 96" }]\n'


class Sps30:
    """What an SPS30 does with the bytes written to it: idle after power-up, it answers no
    read request until it gets "start measurement" (acknowledged with state 00, or 43 when it
    measures already); measuring, it answers each read request with the next captured reply.
    The first ``ignored`` start commands go unanswered (a sensor that is still booting).
    With ``idle_answers``, idle, it answers each read request with state 43 ("command not
    allowed in current state"), as the datasheet says it does."""

    def __init__(
        self, *, ignored: int = 0, start_reply: bytes | None = None, idle_answers: bool = False
    ) -> None:
        self.measuring = False
        self.ignored = ignored
        self.start_reply = start_reply
        self.idle_answers = idle_answers
        self.writes: collections.Counter[bytes] = collections.Counter()
        self.answered = 0

    def __call__(self, written: bytes) -> bytes:
        self.writes[written] += 1
        if written == START:
            if self.writes[START] <= self.ignored:
                return b""
            reply = MEASURING_ALREADY if self.measuring else STARTED
            self.measuring = True
            return self.start_reply or reply
        if written == READ and self.measuring:
            reply = SPS30_FRAMES[self.answered % len(SPS30_FRAMES)]
            self.answered += 1
            return reply
        if written == READ and self.idle_answers:
            return NOT_ALLOWED
        return b""


def sps30_on(pair: PtyPair, clock: Clock, text: str = SPS30) -> SensorRuntime:
    config = parse_config(text.replace('"/dev/ttyUSB0"', f'"{pair.path}"')).sensors[0]
    rt = SensorRuntime(config, clock=clock, wall_clock=clock, rng=random.Random(1))
    assert rt.try_open()
    return rt


def pm2_5(rt: SensorRuntime) -> float | None:
    (stats,) = [c.stats for c in rt.snapshot().channels if c.name == "pm2_5_ug_m3"]
    return None if stats is None else round(stats.reading.value, 1)


def without_setup(text: str) -> str:
    return "".join(line + "\n" for line in text.splitlines() if not line.startswith("setup ="))


# -- an SPS30 that measures only once started ----------------------------------------------------


def test_an_sps30_is_started_before_its_first_poll_and_then_answers() -> None:
    """Without its start command the sensor answers no poll; with it (as the README writes
    it) the command goes out at once, its reply is taken out of the stream (no skipped byte),
    and the read requests follow a set-up gap later and are answered."""
    clock = Clock()
    with PtyPair() as pair:
        rt = sps30_on(pair, clock, without_setup(SPS30))
        device = Sps30()
        tick_through(rt, pair, clock, device, clock.now + 3.5)
        rt.stop()
    assert device.writes == {READ: 4}
    assert rt.framer.frames == 0
    with PtyPair() as pair, capture_logs() as logs:
        rt = sps30_on(pair, clock)
        device = Sps30()
        start = clock.now
        writes = tick_through(rt, pair, clock, device, start + 3.5)
        rt.stop()
    assert [(round(at - start, 6), w) for at, w in writes] == [
        (0.0, START),
        (SETUP_GAP_S, READ),
        (1.0 + SETUP_GAP_S, READ),
        (2.0 + SETUP_GAP_S, READ),
        (3.0 + SETUP_GAP_S, READ),
    ]
    assert rt.framer.frames == 4
    assert pm2_5(rt) == SPS30_VALUES[0][0]  # the fourth reply is the first capture again
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert rt.framer.skipped_bytes == 0
    assert not any(rt.parse_errors.values())
    assert not [e for e in logs if e["event"] == "set-up command not acknowledged"]


def test_the_start_command_is_written_again_on_every_connect() -> None:
    """Unplugged and plugged in again (powered anew, idle): the start command goes out on
    the new connect before any poll. A sensor that kept measuring across the reconnect (only
    the USB link dropped) answers state 43, which the README's set-up accepts."""
    clock = Clock()
    with PtyPair() as pair:
        rt = sps30_on(pair, clock)
        device = Sps30()
        tick_through(rt, pair, clock, device, clock.now + 1.5)
        assert device.writes == {START: 1, READ: 2}
        rt.disconnect("unplugged")
        clock.now += 5.0
        assert rt.try_open()
        device = Sps30()  # powered anew: idle
        start = clock.now
        writes = tick_through(rt, pair, clock, device, start + 1.5)
        assert [(round(at - start, 6), w) for at, w in writes] == [
            (0.0, START),
            (SETUP_GAP_S, READ),
            (1.0 + SETUP_GAP_S, READ),
        ]
        rt.disconnect("the USB link dropped")
        clock.now += 5.0
        assert rt.try_open()
        writes = tick_through(rt, pair, clock, device, clock.now + 1.5)  # still measuring
        assert [w for _, w in writes] == [START, READ, READ]
        rt.stop()
    assert rt.framer.frames == 6
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert rt.framer.skipped_bytes == 0


def test_a_start_command_the_sensor_ignored_is_written_again() -> None:
    """A sensor still booting ignores the first start command: it is written again
    ACK_TIMEOUT_S later, acknowledged, and the polls follow; nothing is counted."""
    clock = Clock()
    with PtyPair() as pair:
        rt = sps30_on(pair, clock)
        device = Sps30(ignored=1)
        start = clock.now
        writes = tick_through(rt, pair, clock, device, start + 2.5)
        rt.stop()
    assert [(round(at - start, 6), w) for at, w in writes] == [
        (0.0, START),
        (ACK_TIMEOUT_S, START),
        (ACK_TIMEOUT_S + SETUP_GAP_S, READ),
        (ACK_TIMEOUT_S + 1.0 + SETUP_GAP_S, READ),
    ]
    assert rt.framer.frames == 2
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}


def test_a_start_command_never_acknowledged_is_counted_missing() -> None:
    """A sensor that never answers (wrong wiring of its RX): three writes, then ``missing``,
    logged with the command's bytes; the polls go out all the same."""
    clock = Clock()
    with PtyPair() as pair, capture_logs() as logs:
        rt = sps30_on(pair, clock)
        device = Sps30(ignored=3)
        start = clock.now
        writes = tick_through(rt, pair, clock, device, start + 7.5)
        rt.stop()
    assert [(round(at - start, 6), w) for at, w in writes] == [
        (0.0, START),
        (1.0, START),
        (3.0, START),
        (7.0 + SETUP_GAP_S, READ),
    ]
    assert rt.setup_ack_errors == {"missing": 1, "wrong": 0}
    lines = [e for e in logs if e["event"] == "set-up command not acknowledged"]
    assert [(e["command"], e["reason"], e["tries"]) for e in lines] == [
        ("7E 00 00 02 01 03 F9 7E", "missing", 3)
    ]


@pytest.mark.parametrize(
    ("expect", "wrong"),
    [
        ('["7E 00 00 00 00 FF 7E", "7E 00 00 43 00 BC 7E"]', 0),  # the README's
        ('"7E 00 00 00 00 FF 7E"', 1),  # state 43 not accepted: a refusal
    ],
)
def test_a_reply_that_is_no_expected_one_is_counted_wrong(expect: str, wrong: int) -> None:
    """A sensor that measures already answers state 43: counted ``wrong`` (once, logged)
    when ``expect`` leaves it out, and not otherwise; either way the reply is taken out of the
    stream, the command is not written again, and the polls are answered."""
    text = SPS30.replace(
        'expect = ["7E 00 00 00 00 FF 7E", "7E 00 00 43 00 BC 7E"]', f"expect = {expect}"
    )
    clock = Clock()
    with PtyPair() as pair, capture_logs() as logs:
        rt = sps30_on(pair, clock, text)
        device = Sps30(start_reply=MEASURING_ALREADY)
        writes = tick_through(rt, pair, clock, device, clock.now + 1.5)
        rt.stop()
    assert [w for _, w in writes] == [START, READ, READ]
    assert rt.setup_ack_errors == {"missing": 0, "wrong": wrong}
    assert rt.framer.frames == 2
    assert rt.framer.skipped_bytes == 0
    lines = [e for e in logs if e["event"] == "set-up command not acknowledged"]
    assert [(e["command"], e["reason"]) for e in lines] == [
        ("7E 00 00 02 01 03 F9 7E", "wrong")
    ] * wrong


# -- acknowledgements that are no frame of the spec: the HPMA115's A5 A5 / 96 96 -------------------


def hpma_on(pair: PtyPair, clock: Clock) -> SensorRuntime:
    text = HPMA115.replace('format = "frames"\n', 'format = "frames"\n' + HPMA_SETUP)
    return sps30_on(pair, clock, text)


@pytest.mark.parametrize(("reply", "wrong"), [(HPMA_ACK, 0), (HPMA_NACK, 1)])
def test_an_hpma115_acknowledgement_without_checksum_is_no_skipped_byte(
    reply: bytes, wrong: int
) -> None:
    """``A5 A5`` acknowledges "stop auto send" and ``96 96`` refuses it (counted ``wrong``):
    neither is a frame of the spec, and both are taken out of the stream, not skipped; the
    read replies around them are read."""
    clock = Clock()

    def device(written: bytes) -> bytes:
        if written == STOP_AUTO_SEND:
            return HPMA_REPLY + reply  # an auto-send frame still on the wire, then the reply
        return HPMA_REPLY if written == HPMA_READ else b""

    with PtyPair() as pair:
        rt = hpma_on(pair, clock)
        writes = tick_through(rt, pair, clock, device, clock.now + 1.5)
        rt.stop()
    assert [w for _, w in writes] == [STOP_AUTO_SEND, HPMA_READ, HPMA_READ]
    assert rt.setup_ack_errors == {"missing": 0, "wrong": wrong}
    assert rt.framer.frames == 3
    assert rt.framer.skipped_bytes == 0


def hpma_watch() -> AckWatch:
    config = parse_config(
        HPMA115.replace('format = "frames"\n', 'format = "frames"\n' + HPMA_SETUP)
    )
    ((command, _, acks),) = config.sensors[0].setup_steps()
    return AckWatch([(command, acks)])


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([HPMA_ACK, HPMA_NACK]),
    st.binary(max_size=6).filter(lambda b: b"\xa5" not in b and b"\x96" not in b),
    st.lists(st.integers(min_value=0, max_value=40), max_size=6),
)
def test_an_hpma115_reply_is_found_in_any_chunking(
    reply: bytes, noise: bytes, cuts: list[int]
) -> None:
    """The reply between noise and a read reply, cut anywhere: found once, as what it is,
    and every other byte handed on in order."""
    stream = noise + reply + HPMA_REPLY
    watch = hpma_watch()
    out = b""
    found = []
    bounds = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    for lo, hi in itertools.pairwise(bounds):
        rest, got = watch.feed(stream[lo:hi])
        out += rest
        found += got
    assert found == [("68 01 20 77", reply == HPMA_ACK)]
    assert out == noise + HPMA_REPLY
    assert watch.pending == []


# -- sensord check ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (
            '[{ send = "7E 0G" }]',
            'sensors[0].setup[0].send: must be bytes in hex such as "7E 00 FF"',
        ),
        ('[{ send = "" }]', "sensors[0].setup[0].send: must not be empty"),
        ("[{ send = 126 }]", "sensors[0].setup[0].send: must be a string of hex bytes"),
        (
            '[{ expect = "A5 A5" }]',
            "sensors[0].setup[0].send: give either send (the command's bytes in hex) or send_text",
        ),
        ('[{ send = "68 01", expct = "A5" }]', "sensors[0].setup[0].expct: unknown key"),
        (
            '[{ send = "68", expect = ["A5 A5", "A5 0"] }]',
            'sensors[0].setup[0].expect: item 1 must be bytes in hex such as "7E 00 FF"',
        ),
        (
            '[{ send = "68", expect = ["A5 A5", "A5"] }]',
            "sensors[0].setup[0].expect: the replies must all be of one length, got 1, 2 bytes",
        ),
        (
            '[{ send = "68", refuse = "96 96" }]',
            "sensors[0].setup[0].refuse: needs expect, whose length is that of every reply",
        ),
        (
            '[{ send = "68", expect = "A5 A5", refuse = "96 96 96" }]',
            "sensors[0].setup[0].refuse: 96 96 96 is longer than the 2-byte replies of expect",
        ),
        (
            '[{ send = "68", expect = "A5 A5", refuse = ["96 96", "A5 A5"] }]',
            "sensors[0].setup[0].refuse: A5 A5 is also in expect",
        ),
        (
            '[{ send = "68", expect = "40 0D", refuse = "40" }]',
            "sensors[0].setup[0].refuse: every frame begins with 40 (frame.start): the data "
            "frames would be read as refusals",
        ),
        (
            '[{ send = "68", expect = "40" }]',
            "sensors[0].setup[0].expect: every frame begins with 40 (frame.start): the data "
            "frames would be read as acknowledgements",
        ),
        (
            f'[{{ send = "68", expect = "{"00" * 513}" }}]',
            "sensors[0].setup[0].expect: the 513-byte reply is longer than max_frame_bytes (512)",
        ),
        ("[7]", "sensors[0].setup: item 0 must be a string or a table, got integer"),
    ],
)
def test_check_names_the_key_of_a_set_up_command(setup: str, expected: str) -> None:
    text = HPMA115.replace('format = "frames"\n', f'format = "frames"\nsetup = {setup}\n')
    problems = errors(text)
    assert any(p.startswith(expected) for p in problems), problems


def test_a_set_up_command_written_as_bytes_is_not_for_a_modbus_device() -> None:
    errors_: list[str] = []
    Config.load(
        {
            "sensors": [
                {
                    "name": "s",
                    "port": "sim://s",
                    "format": "modbus",
                    "setup": [{"send": "41 54 0D"}],
                    "registers": [{"name": "v", "ref": "40001"}],
                    "channels": [{"name": "v"}],
                }
            ]
        },
        "",
        errors_,
    )
    assert errors_ == [
        "sensors[0].setup[0]: a Modbus device's exchanges are the bus's: it is written with "
        "[[sensors.modbus.setup]]"
    ]


def preset_table(**table: Any) -> SensorConfig:
    return sensor_config({"port": "sim://s", **table})


@pytest.mark.parametrize(
    ("preset", "command", "expected"),
    [
        (
            "pms5003",
            "sleep",
            '42 4D E4 00 00 01 73 (the pms5003 command "sleep") leaves the PMS5003 asleep',
        ),
        (
            "sds011",
            "query_mode",
            "AA B4 02 01 01 00 00 00 00 00 00 00 00 00 00 FF FF 02 AB (the sds011 command "
            '"query_mode") makes the SDS011 send only when asked',
        ),
    ],
)
def test_bytes_that_are_a_preset_command_are_judged_as_that_command(
    preset: str, command: str, expected: str
) -> None:
    """A preset's sleep or query mode written as bytes is refused as the named command is:
    the bytes are no way around the check that keeps a device from falling silent."""
    hexed = command_bytes(preset, command).hex(" ").upper()
    problems: list[str] = []
    table = {"name": "s", "port": "sim://s", "preset": preset, "setup": [{"send": hexed}]}
    assert Config.load({"sensors": [table]}, "", problems) is None
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"sensors[0].setup[0]: {expected}"), problems
    # the same command by name: the same refusal
    named: list[str] = []
    assert Config.load({"sensors": [{**table, "setup": [command]}]}, "", named) is None
    assert named[0].split(": ", 1)[1].startswith(f'"{command}"')


def test_bytes_and_names_mix_in_one_set_up_in_order() -> None:
    """A preset sensor's set-up may hold commands by name and as bytes, written in order; a
    working period written as bytes sets the staleness as the named one does."""
    period = command_bytes("sds011", "working_period=5").hex(" ")
    config = preset_table(preset="sds011", setup=["active_mode", {"send": period}])
    steps = config.setup_steps()
    assert [(name, data) for name, data, _ in steps] == [
        ("active_mode", command_bytes("sds011", "active_mode")),
        (period.upper(), command_bytes("sds011", "working_period=5")),
    ]
    assert config.stale_after == 5 * 60.0 + 60.0


def test_the_readme_sps30_row_is_the_spec_tested_here() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert 'send = "7E 00 00 02 01 03 F9 7E"' in readme
    assert '"7E 00 00 43 00 BC 7E"' in readme


# -- the simulated device ---------------------------------------------------------------------


def test_a_simulated_sensor_acknowledges_its_set_up_commands_written_as_bytes() -> None:
    """A simulated SPS30 (``sim://``, or a device absent with ``simulate = "auto"``) answers
    its start command with the first reply the set-up expects and then its polls; a streaming
    simulated sensor answers its set-up commands and keeps streaming."""
    text = SPS30.replace('"/dev/ttyUSB0"', '"sim://sps30"')
    polled, replies = drive_config(text, 3.5)
    assert polled.framer.frames == 4  # polls at 0.1, 1.1, 2.1 and 3.1 s
    assert polled.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert polled.poll_timeouts == 0
    assert polled.framer.skipped_bytes == 0
    assert replies == 1
    streaming, replies = drive_config(
        "".join(line + "\n" for line in text.splitlines() if not line.startswith("poll =")), 3.5
    )
    assert streaming.framer.frames >= 3
    assert streaming.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert streaming.framer.skipped_bytes == 0
    assert replies == 1


def drive_config(text: str, seconds: float) -> tuple[SensorRuntime, int]:
    """The sensor of ``text`` run for ``seconds`` of injected time, read and ticked every
    50 ms, and the replies its simulated device wrote."""
    clock = Clock()
    rt = SensorRuntime(
        parse_config(text).sensors[0], clock=clock, wall_clock=clock, rng=random.Random(1)
    )
    assert rt.try_open()
    source = rt.source
    assert source is not None
    end = clock.now + seconds
    while clock.now < end:
        rt.tick(clock.now)
        clock.now += 0.05
        rt.feed(source.read())
    rt.stop()
    return rt, source.device.replies_written  # type: ignore[attr-defined]
