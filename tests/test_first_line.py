"""A streaming device's first line after the port opens: the open drops what the port had
received, so when the device was sending a line then, the first bytes read are its tail, which
may still read as a line (``23.5`` from its second byte is ``3.5``; a VE.Direct ``VPV\\t32790``
from its third is ``V\\t32790``, a battery voltage of 32.79 V). Each test opens a real pty with
pyserial, as the reader does, and feeds what the port reads to the sensor at chosen times after
the open."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from harness.pty import PtyPair, wait_readable

from sensord.config import parse_config
from sensord.sensor import SensorRuntime
from sensord.sensor_first_bytes import CUT_LINE_S


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pair() -> Iterator[PtyPair]:
    with PtyPair() as pair:
        yield pair


@contextlib.contextmanager
def sensor(pair: PtyPair, clock: Clock, body: str) -> Iterator[SensorRuntime]:
    """A sensor of ``body`` on ``pair``'s port, opened at ``clock``'s time; stopped after."""
    config = parse_config(
        f'[[sensors]]\nname = "s"\nport = "{pair.path}"\nsimulate = "never"\n{body}'
    ).sensors[0]
    runtime = SensorRuntime(config, clock=clock)
    assert runtime.try_open()
    try:
        yield runtime
    finally:
        runtime.stop()


def send(runtime: SensorRuntime, pair: PtyPair, data: bytes) -> None:
    """The device sends ``data``; the sensor reads all of it from the port and takes it."""
    pair.write(data)
    got = b""
    while len(got) < len(data):
        source = runtime.source
        assert source is not None
        fd = source.fileno()
        assert fd is not None
        assert wait_readable(fd, 2.0)
        got += source.read()
    runtime.feed(got)


def values(runtime: SensorRuntime) -> dict[str, tuple[int, float, float]]:
    """Each channel's window: how many values, the smallest and the largest."""
    read = {}
    for name, channel in runtime.channels.items():
        window = channel.chain.window
        stats = window.last if window is not None else None
        if stats is not None:
            read[name] = (stats.count, stats.min, stats.max)
    return read


VALUE = 'format = "value"\nchannels = [{ name = "t" }]\n'


def test_a_line_begun_before_the_open_is_dropped_and_counted_as_skipped(pair: PtyPair) -> None:
    clock = Clock()
    with sensor(pair, clock, VALUE) as runtime:
        clock.now += 0.001  # the rest of "23.5\n", right after the open
        send(runtime, pair, b"3.5\n23.5\n23.6\n")
        assert values(runtime) == {"t": (2, 23.5, 23.6)}
        assert runtime.framer.skipped_bytes == 4
        assert runtime.framer.frames == 2
        assert runtime.parse_errors["syntax"] == 0


def test_a_device_quiet_when_the_port_opened_loses_no_line(pair: PtyPair) -> None:
    clock = Clock()
    with sensor(pair, clock, VALUE) as runtime:
        clock.now += CUT_LINE_S + 0.01
        send(runtime, pair, b"23.5\n")
        clock.now += 0.001
        send(runtime, pair, b"23.6\n")
        assert values(runtime) == {"t": (2, 23.5, 23.6)}
        assert runtime.framer.skipped_bytes == 0


@pytest.mark.parametrize(
    ("terminator", "pieces", "skipped"),
    [
        # the cut line's tail comes in pieces, its terminator split between two of them
        ('"\\r\\n"', [b"2.", b"5\r", b"\n23.5\r\n23.6\r\n"], len(b"2.5\r\n")),
        ('"\\r\\n"', [b"5\r", b"\n", b"23.5\r\n23.6\r\n"], len(b"5\r\n")),
        ('"\\n"', [b"12", b"3.4", b"\n23.5\n23.6\n"], len(b"123.4\n")),
    ],
)
def test_the_cut_line_may_come_in_pieces(
    pair: PtyPair, terminator: str, pieces: list[bytes], skipped: int
) -> None:
    clock = Clock()
    with sensor(pair, clock, f"terminator = {terminator}\n{VALUE}") as runtime:
        clock.now += 0.002
        for piece in pieces:
            send(runtime, pair, piece)
            clock.now += 0.2  # later pieces of the cut line are dropped whenever they come
        assert values(runtime) == {"t": (2, 23.5, 23.6)}
        assert runtime.framer.skipped_bytes == skipped


def test_a_ve_direct_block_joined_in_its_middle_reads_no_false_voltage(pair: PtyPair) -> None:
    """A MPPT charger's block read from the third byte of its ``VPV`` line: without the drop
    its tail is ``V\\t32790``, read as the battery voltage."""
    clock = Clock()
    with sensor(
        pair,
        clock,
        'format = "kv"\nterminator = "\\r\\n"\nparse = { kv_separator = "\\t" }\n'
        'channels = [{ name = "battery_v", field = "V" }, { name = "panel_v", field = "VPV" }]\n',
    ) as runtime:
        clock.now += 0.004
        send(runtime, pair, b"V\t32790\r\nPPV\t0\r\nCS\t0\r\n\r\nV\t12800\r\nVPV\t32790\r\n")
        assert values(runtime) == {
            "battery_v": (1, 12800.0, 12800.0),
            "panel_v": (1, 32790.0, 32790.0),
        }


def test_every_open_checks_its_first_line_again(pair: PtyPair) -> None:
    clock = Clock()
    with sensor(pair, clock, VALUE) as runtime:
        clock.now += 1.0
        send(runtime, pair, b"23.5\n")
        runtime.disconnect("unplugged")
        clock.now += 5.0
        assert runtime.try_open()
        clock.now += 0.003
        send(runtime, pair, b".5\n23.7\n")
        assert values(runtime) == {"t": (2, 23.5, 23.7)}
        assert runtime.framer.skipped_bytes == 3


def test_a_polled_device_keeps_its_first_reply(pair: PtyPair) -> None:
    """A polled device's reply follows its request: it cannot have begun before the open."""
    clock = Clock()
    with sensor(
        pair, clock, f'poll = {{ request = "R\\r\\n", interval_s = 5 }}\n{VALUE}'
    ) as runtime:
        clock.now += 0.001
        send(runtime, pair, b"23.5\n")
        assert values(runtime) == {"t": (1, 23.5, 23.5)}
        assert runtime.framer.skipped_bytes == 0


def test_nmea_and_frames_find_their_own_start(pair: PtyPair) -> None:
    """NMEA sentences begin with ``$`` and carry a checksum: a tail is skipped by the NMEA
    framer itself, and a whole sentence right after the open is read."""
    clock = Clock()
    with sensor(
        pair, clock, 'format = "nmea"\nchannels = [{ name = "sats", field = "GGA.satellites" }]\n'
    ) as runtime:
        clock.now += 0.001
        send(
            runtime,
            pair,
            b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n",
        )
        assert values(runtime) == {"sats": (1, 8.0, 8.0)}


@pytest.mark.parametrize("after_s", [0.001, CUT_LINE_S + 0.01])
def test_a_first_line_longer_than_a_frame_may_be_is_overlong_as_ever(
    pair: PtyPair, after_s: float
) -> None:
    """A line longer than ``max_frame_bytes`` is no tail of one: right after the open or
    later, it is the framer's, counted ``overlong``, and nothing is skipped."""
    clock = Clock()
    with sensor(pair, clock, f"max_frame_bytes = 16\n{VALUE}") as runtime:
        clock.now += after_s
        send(runtime, pair, b"1234567890")
        send(runtime, pair, b"1234567890.5\n23.5\n")
        assert values(runtime) == {"t": (1, 23.5, 23.5)}
        assert runtime.framer.overlong == 1
        assert runtime.framer.skipped_bytes == 0


def test_lines_in_another_terminator_are_overlong_not_skipped_for_ever(pair: PtyPair) -> None:
    """A device whose lines end in CR alone on a sensor that expects LF, sending as the port
    opens: no LF ever comes, so its bytes are no cut line but one overlong line, as when it
    began later (before, every byte was skipped for as long as the port stayed open, and
    ``overlong`` never told of the wrong terminator)."""
    clock = Clock()
    with sensor(pair, clock, VALUE) as runtime:
        clock.now += 0.001
        for _ in range(200):
            send(runtime, pair, b"23.5\r")
            clock.now += 0.1
        snapshot = runtime.snapshot()
        assert snapshot.parse_errors["overlong"] == 1
        assert snapshot.skipped_bytes == 0
        assert snapshot.frames == 0


def test_a_cut_line_whose_terminator_never_came_is_counted_at_the_next_open(
    pair: PtyPair,
) -> None:
    """The port breaks while the first line is dropped: its bytes are counted in
    ``skipped_bytes`` when the port opens again, as the framer's pending line is, and the
    next open's first line is checked anew."""
    clock = Clock()
    with sensor(pair, clock, VALUE) as runtime:
        clock.now += 0.001
        send(runtime, pair, b"3.")
        runtime.disconnect("unplugged")
        clock.now += 5.0
        assert runtime.try_open()
        assert runtime.framer.skipped_bytes == 2
        clock.now += CUT_LINE_S + 0.01  # quiet at this open: its first line is whole
        send(runtime, pair, b"23.5\n")
        assert values(runtime) == {"t": (1, 23.5, 23.5)}
        assert runtime.framer.skipped_bytes == 2
        assert runtime.parse_errors["syntax"] == 0


#: A MediaTek MT3339's epoch (tests/fixtures/nmea/mediatek_mt3339.nmea: the GlobalTop PA6H
#: datasheet's example output): its GGA, its GSA (VDOP 2.11), its RMC.
MT3339_GGA = b"$GPGGA,064951.000,2307.1256,N,12016.4438,E,1,8,0.95,39.9,M,17.8,M,,*63\r\n"
MT3339_GSA = b"$GPGSA,A,3,29,21,26,15,18,09,06,10,,,,,2.32,0.95,2.11*00\r\n"
MT3339_RMC = b"$GPRMC,064951.000,A,2307.1256,N,12016.4438,E,0.03,165.48,260406,3.05,W,A*2C\r\n"
NMEA_DOPS = (
    'format = "nmea"\nchannels = [{ name = "vdop", field = "GSA.vdop" }, '
    '{ name = "pdop", field = "GSA.pdop" }]\n'
)


def test_an_nmea_sentence_cut_by_stale_bytes_right_after_the_open_is_dropped(
    pair: PtyPair,
) -> None:
    """The port opens while an adapter holds stale bytes: the tail of the MT3339's GGA, then
    its GSA up to the first digit of its VDOP (``2`` of ``2.11``); the receiver's bytes read
    after them begin at a line end. The first sentence is the GSA without its ``*hh``, every
    field there: nothing has shown yet that the receiver sends checksums, and read it would
    give a VDOP of 2. It is dropped, its bytes counted as skipped with the GGA's tail, and
    the next epoch's GSA is read. The next open's first sentence is judged anew."""
    gga_tail = MT3339_GGA[-7:]
    cut = MT3339_GSA[: MT3339_GSA.index(b".11*")]
    clock = Clock()
    with sensor(pair, clock, NMEA_DOPS) as runtime:
        clock.now += 0.001
        send(runtime, pair, gga_tail + cut)
        send(runtime, pair, b"\r\n" + MT3339_RMC + MT3339_GGA + MT3339_GSA)
        assert values(runtime) == {"vdop": (1, 2.11, 2.11), "pdop": (1, 2.32, 2.32)}
        assert runtime.framer.skipped_bytes == len(gga_tail) - 2 + len(cut)
        assert runtime.decoder_counts.unchecked == 0
        assert runtime.snapshot().frames == 3
        runtime.disconnect("unplugged")
        clock.now += 5.0
        assert runtime.try_open()
        clock.now += 0.002
        send(runtime, pair, gga_tail + cut + b"\r\n" + MT3339_GSA)
        assert runtime.framer.skipped_bytes == 2 * (len(gga_tail) - 2 + len(cut))
        assert values(runtime)["vdop"] == (2, 2.11, 2.11)


def test_an_nmea_first_sentence_with_its_checksum_or_when_quiet_at_the_open_is_read(
    pair: PtyPair,
) -> None:
    """Only a first sentence without checksum whose bytes came right after the open is
    dropped: one with its checksum is the decoder's to check, and a receiver without
    checksums that was quiet when the port opened (its first byte later than ``CUT_LINE_S``)
    has its first sentence read, unchecked."""
    clock = Clock()
    with sensor(pair, clock, NMEA_DOPS) as runtime:
        clock.now += 0.001
        send(runtime, pair, MT3339_GSA)
        assert values(runtime) == {"vdop": (1, 2.11, 2.11), "pdop": (1, 2.32, 2.32)}
        runtime.disconnect("unplugged")
        clock.now += 5.0
        assert runtime.try_open()
        clock.now += CUT_LINE_S + 0.01
        without = MT3339_GSA.replace(b"*00", b"")
        send(runtime, pair, without)
        assert values(runtime)["vdop"] == (2, 2.11, 2.11)
        assert runtime.decoder_counts.unchecked == 1
        assert runtime.framer.skipped_bytes == 0


#: A GSS CozIR CO2 sensor streams `` Z 00412 z 00398`` lines as it leaves the factory
#: (RobTillaart/Cozir, README.md: "CZR_STREAMING is the default"), and answers the mode
#: command ``K 1`` with `` K 00001`` (tests/test_text_setup.py).
COZIR = (
    'format = "value"\nterminator = "\\r\\n"\n'
    "setup = [{ send_text = 'K 1\\r\\n', expect_text = ' K 00001\\r\\n' }]\n"
    'parse = { pattern = "^ ?Z (?P<co2>\\\\d{5}) z \\\\d{5}$", '
    'example = " Z 00400 z 00390" }\n'
    'channels = [{ name = "co2_ppm", field = "co2", normalize = { scale = 10 } }]\n'
)


def test_a_cut_line_held_when_the_set_up_reply_comes_is_counted_as_skipped(
    pair: PtyPair,
) -> None:
    """A streaming CozIR whose port opened in the middle of a line: its tail comes within
    CUT_LINE_S of the open without its terminator (held as a cut line's), and the
    terminator comes with the reply to the set-up command written at the open, in one
    chunk (an FTDI adapter hands over what it received every 16 ms by default). The
    terminator before the reply ends the cut line: its bytes and the terminator are
    counted as skipped, as without a reply, the reply ends the first line's check, and the
    next line is read."""
    clock = Clock()
    with sensor(pair, clock, COZIR) as runtime:
        runtime.tick(clock.now)  # K 1 written at the open (connect_delay_s 0)
        clock.now += 0.002
        tail = b" 00398"  # of " Z 00412 z 00398\r\n"
        send(runtime, pair, tail)
        clock.now += 0.016
        reply = b" K 00001\r\n"
        send(runtime, pair, b"\r\n" + reply)
        clock.now += 0.5
        send(runtime, pair, b" Z 00415 z 00401\r\n")
        assert values(runtime) == {"co2_ppm": (1, 4150.0, 4150.0)}
        assert runtime.setup_ack_errors == {"missing": 0, "wrong": 0}
        assert sum(runtime.parse_errors.values()) == 0
        assert runtime.framer.skipped_bytes == len(tail) + 2


@pytest.mark.parametrize("reply_at", [0, 3], ids=["reply whole", "reply begun"])
@pytest.mark.parametrize("tail", [b" 00398", b"412 z 00398", b"Z 00412 z 00398"])
def test_a_cut_line_ended_in_the_chunk_of_the_set_up_reply_is_skipped_not_read(
    pair: PtyPair, tail: bytes, reply_at: int
) -> None:
    """A streaming CozIR whose port opened in the middle of `` Z 00412 z 00398``: the
    line's tail, its terminator and the reply to the set-up command written at the open
    come within CUT_LINE_S of the open in one chunk (an FTDI adapter hands over what it
    received every 16 ms by default). The tail is a cut line's, as when it comes in a
    chunk of its own: skipped with its terminator, neither a line that fails the pattern
    (a ``syntax`` error of a healthy device) nor one read (``Z 00412 z 00398`` cut before
    its first byte still matches), and the next line is read. So too when the chunk holds
    only the reply's first bytes (`` K``, held back until the next chunk tells whether they
    begin it)."""
    clock = Clock()
    with sensor(pair, clock, COZIR) as runtime:
        runtime.tick(clock.now)  # K 1 written at the open (connect_delay_s 0)
        clock.now += 0.002
        reply = b" K 00001\r\n"
        send(runtime, pair, tail + b"\r\n" + reply[: reply_at or len(reply)])
        if reply_at:
            clock.now += 0.016
            send(runtime, pair, reply[reply_at:])
        clock.now += 0.5
        send(runtime, pair, b" Z 00415 z 00401\r\n")
        assert values(runtime) == {"co2_ppm": (1, 4150.0, 4150.0)}
        assert runtime.setup_ack_errors == {"missing": 0, "wrong": 0}
        assert sum(runtime.parse_errors.values()) == 0
        assert runtime.framer.skipped_bytes == len(tail) + 2
