"""``parse.block = "gill"``: a Gill ultrasonic anemometer's ASCII messages, read only when the
XOR check after their ETX holds (``sensord.formats.blocks``).

Fixtures: the Gill WindSonic user manual (1405-PS-0019), "Gill format - Polar, Continuous",
gives ``<STX>Q,229,002.74,M,00,<ETX>16``; the Rubin Observatory's ts_ess_common driver
documents the same layout with a direction left out below 0.05 m/s (``Q,,000.04,M,00,``),
whose checks are computed here as the manual defines them (the XOR of the bytes between STX
and ETX).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from harness.config import Outcome, decoded_frames, load_sensors
from harness.daemon import StartDaemon
from harness.pty import PtyPair
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_blocks import take
from test_formats_blocks import README, readme_toml_blocks

from sensord.formats import codec_for
from sensord.formats.blocks import BlockFramer, envelope
from sensord.signals import SimulationSpec
from sensord.sources.simulated import SimulatedDevice

MANUAL = b"\x02Q,229,002.74,M,00,\x0316\r\n"
CALM = b"\x02Q,,000.04,M,00,\x032A\r\n"
GUSTY = b"\x02Q,036,002.57,M,00,\x031B\r\n"
AXIS_FAILED = envelope("gill", [b"Q,036,002.57,M,01,"])

#: The README's anemometer: status 00 or the message is invalid, wind speed in m/s.
WIND: dict[str, Any] = {**README["wind"], "port": "sim://wind"}


def decoded(data: bytes) -> list[Outcome]:
    """Each line of ``data`` the README's anemometer reads, through its framer and decoder:
    its readings, or the reason it failed and the readings kept."""
    return decoded_frames(load_sensors(WIND).sensors[0], data)


def test_the_manual_s_message_checks_and_reads() -> None:
    assert envelope("gill", [b"Q,229,002.74,M,00,"]) == MANUAL
    assert decoded(
        MANUAL + CALM + GUSTY + AXIS_FAILED + envelope("gill", [b"Q,036,5.1,N,00,"])
    ) == [
        [("wind_direction_deg", 229.0), ("wind_speed_mps", 2.74)],
        [("wind_speed_mps", 0.04)],  # calm: no direction
        [("wind_direction_deg", 36.0), ("wind_speed_mps", 2.57)],
        ("invalid", []),  # an axis failed: status 01
        ("syntax", []),  # knots: another unit
    ]


@pytest.mark.parametrize("offset", range(1, len(MANUAL) - 4))
def test_a_message_with_a_byte_changed_gives_nothing_and_the_next_is_read(offset: int) -> None:
    """Any one byte between STX and the check changed (a digit of the speed among them):
    the message is not read; the one after it is."""
    for xor in (0x01, 0x10, 0x04):
        damaged = bytearray(MANUAL)
        damaged[offset] ^= xor
        lines, counted = take("gill", bytes(damaged) + GUSTY)
        assert lines[-1:] == [b"Q,036,002.57,M,00,"], (offset, xor, lines)
        assert b"Q,229,002.74,M,00," not in lines
        assert len(lines) == 1, (offset, xor, lines, counted)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x02Q,229,002.74,M,00,\x0317\r\n", "checksum"),
        (b"\x02Q,229,002.74,M,00,\x03\r\n", "truncated"),  # the check cut off
        (b"\x02Q,229,002.74,M,00,\x031\r\n", "truncated"),
        (b"\x02Q,229,002.74,M,00,\x03XY\r\n", "syntax"),
        (b"\x02Q,229,002.7", "truncated"),  # cut short by the next message's STX
    ],
)
def test_a_rejected_message_is_counted_by_reason_and_the_next_is_read(
    data: bytes, why: str
) -> None:
    lines, counted = take("gill", data + GUSTY)
    assert lines == [b"Q,036,002.57,M,00,"]
    assert counted["rejected"] == {why: 1}
    assert counted["skipped"] == 0


# the ETX of the axis-failed message changed to 08 and the next message's STX to "e": the
# XOR of all the bytes between the STX and the next ETX, the two line ends among them, is 16
ETX_AND_STX_DAMAGED = b"\x02Q,036,002.57,M,01,\x081A\r\neQ,229,002.74,M,00,\x0316\r\n"


def test_a_message_whose_etx_was_lost_ends_at_its_line_end() -> None:
    """A Gill message is one line: one whose ETX was lost is cut short at its line end, not
    run into what follows up to the next ETX, though the XOR of all of it holds."""
    lines, counted = take("gill", ETX_AND_STX_DAMAGED + GUSTY)
    assert lines == [b"Q,036,002.57,M,00,"]
    assert counted["rejected"] == {"truncated": 1}
    assert counted["skipped"] == len(b"eQ,229,002.74,M,00,\x0316")
    for size in (1, 2, 5, 17):
        assert take("gill", ETX_AND_STX_DAMAGED + GUSTY, [size] * 50) == (lines, counted)
    lines, counted = take("gill", b"\x02Q,036,002.57,M,01,1A\r\n" + MANUAL)  # ETX lost
    assert lines == [b"Q,229,002.74,M,00,"]
    assert counted["rejected"] == {"truncated": 1}


def test_line_ends_between_messages_are_no_skipped_bytes_and_other_bytes_are() -> None:
    lines, counted = take("gill", b",M,00,\x0316\r\n" + MANUAL + b"\r\n\n" + GUSTY + b"xyz")
    assert lines == [b"Q,229,002.74,M,00,", b"Q,036,002.57,M,00,"]
    assert counted["skipped"] == len(b",M,00,\x0316") + len(b"xyz")
    assert counted["rejected"] == {}


@st.composite
def gill_streams(draw: st.DrawFn) -> bytes:
    """Whole, damaged and cut messages and noise, in any order."""
    pieces: list[bytes] = []
    for _ in range(draw(st.integers(0, 10))):
        message = draw(st.sampled_from([MANUAL, CALM, GUSTY, AXIS_FAILED]))
        what = draw(st.integers(0, 3))
        if what == 0:
            pieces.append(draw(st.binary(max_size=20)))
        elif what == 1:
            at = draw(st.integers(0, len(message) - 1))
            pieces.append(message[:at] + bytes([message[at] ^ draw(st.integers(1, 255))]))
            pieces.append(message[at + 1 :])
        elif what == 2:
            pieces.append(message[: draw(st.integers(1, len(message) - 1))])
        else:
            pieces.append(message)
    return b"".join(pieces)


@settings(max_examples=300, deadline=None)
@given(data=gill_streams(), sizes=st.lists(st.integers(1, 30), min_size=1, max_size=20))
def test_the_lines_and_counters_do_not_depend_on_the_chunking(
    data: bytes, sizes: list[int]
) -> None:
    assert take("gill", data, sizes, max_block_bytes=64) == take("gill", data, max_block_bytes=64)


@settings(max_examples=300, deadline=None)
@given(data=gill_streams())
@example(data=ETX_AND_STX_DAMAGED)
def test_every_line_given_is_one_of_the_messages_sent(data: bytes) -> None:
    """No damaged message is read: a line comes only from a message whose check holds, and
    those sent are the manual's (noise may make a message of its own only with STX, ETX and
    a right check in it, which these streams' noise of at most 20 bytes rarely holds)."""
    lines, _ = take("gill", data)
    sent = {m[1 : m.index(b"\x03")] for m in (MANUAL, CALM, GUSTY, AXIS_FAILED)}
    for line in lines:
        if line not in sent:  # noise that holds STX, a line, ETX and its XOR
            assert envelope("gill", [line])[:-2] in data


def test_a_message_that_never_ends_holds_no_more_than_the_bound() -> None:
    framer = BlockFramer("gill", 2100, max_block_bytes=100)
    framer.feed(b"\x02Q,")
    for _ in range(1000):
        assert framer.feed(b"229,002.74,M,00,") == []
        assert len(framer._block) <= 100 + 16
    assert framer.overlong == 1
    assert framer.feed(b"\x03XX\r\n" + MANUAL) == [b"Q,229,002.74,M,00,"]


def test_the_simulated_anemometer_sends_checked_messages_and_damaged_ones_are_rejected() -> None:
    spec = load_sensors(WIND).sensors[0].format_spec()
    device = SimulatedDevice(spec, {}, 1.0, b"\r\n", SimulationSpec(seed=3, garbage_rate=0.3), 0.0)
    data = b"".join(device.bytes_due(float(t)) for t in range(1, 301))
    codec = codec_for("value")
    framer = codec.framer(spec, b"\r\n", 512)
    decode = codec.sensor_decoder(spec, lambda: 0.0)
    lines = framer.feed(data)
    assert device.garbage_written > 50
    assert len(lines) == device.frames_written
    for line in lines:
        assert {channel for channel, _ in decode(line)} == {"wind_direction_deg", "wind_speed_mps"}


def test_no_message_start_is_pointed_at_the_output_mode() -> None:
    framer = BlockFramer("gill")
    nmea = b"$IIMWV,229,R,002.74,M,A*38\r\n"
    assert framer.feed(nmea) == []
    assert "no message start (STX, 02)" in framer.no_frame_hint(nmea)
    assert "not NMEA" in framer.no_frame_hint(nmea)
    assert "its end (ETX, 03" in framer.no_frame_hint(b"\x02Q,229,002.74,M,00,\r\n")


@pytest.mark.slow
def test_an_anemometer_on_a_pty_through_the_daemon(
    pty_pair: PtyPair, start_daemon: StartDaemon
) -> None:
    """The README's anemometer on a pty: the daemon publishes the checked messages' values,
    counts the damaged one as checksum and the failed axis as invalid, and keeps running."""
    block = next(b for b in readme_toml_blocks() if 'name = "wind"' in b)
    daemon = start_daemon(config=re.sub(r'port = "[^"]*"', f'port = "{pty_pair.path}"', block))
    daemon.wait_http()
    daemon.wait_up_settled(["wind"], timeout_s=10)
    damaged = MANUAL.replace(b"002.74", b"002.75")
    pty_pair.write(MANUAL + damaged + AXIS_FAILED + CALM + GUSTY)
    daemon.wait_frames({"wind": 4})
    samples = daemon.scrape()

    def value(name: str, **labels: str) -> float:
        return samples.value(name, sensor="wind", **labels)

    assert value("sensord_reading_value", channel="wind_direction_deg") == 36.0
    assert value("sensord_reading_value", channel="wind_speed_mps") == 2.57
    assert value("sensord_window_samples", channel="wind_speed_mps") == 3
    assert value("sensord_window_samples", channel="wind_direction_deg") == 2  # calm: none
    assert value("sensord_parse_errors_total", reason="checksum") == 1
    assert value("sensord_parse_errors_total", reason="invalid") == 1
    assert value("sensord_skipped_bytes_total") == 0
    assert daemon.alive()


@pytest.mark.parametrize(
    ("message", "reason", "detail"),
    [
        (
            MANUAL.replace(b"\x0316", b"\x0317"),
            "checksum",
            "its check 17 does not hold: its bytes give 16",
        ),
        (MANUAL.replace(b"\x0316", b"\x03G6"), "syntax", "its check 'G6' is no hex"),
        (MANUAL.replace(b"\x0316", b"\x031"), "truncated", "its check '1' is cut short"),
        (MANUAL[:10], "truncated", "cut short: the next message's STX came before its ETX"),
    ],
)
def test_a_rejected_message_says_why_for_the_log(message: bytes, reason: str, detail: str) -> None:
    """What a sensor's ``frame rejected`` warning says of a message rejected: its check and
    the one its bytes give, its check no hex or cut short, or the message cut short; with the
    message's bytes."""
    framer = BlockFramer("gill", 2100)
    assert framer.feed(message + GUSTY) == [GUSTY[1:-5]]
    assert framer.rejections == 1
    said, shown = framer.last_rejected(reason)
    assert said == detail
    assert message.startswith(shown)
