"""A Holley DTSD545's P1 telegrams: a ``/`` inside its header line (``/HLY5/D545-METER``) and
a CRC-16/X-25 in place of DSMR's CRC-16/ARC.

IEC 62056-21's identification holds no ``/``, and the framer took every ``/`` before a
telegram's ``!`` for the next telegram's start: each of the meter's telegrams was cut in two,
``truncated`` and then ``checksum``. A ``/`` inside the header line is the header's; one after
it still begins the next telegram, wherever in its line it comes. Its CRC is CRC-16/X-25
(reflected polynomial 0x1021, initial value and final XOR 0xFFFF), as the reporter found:
``parse.crc = "crc16_x25"`` checks it, and without it a telegram that fails CRC-16/ARC but
holds by CRC-16/X-25 is rejected with a hint that says to set it.

Origin: public repository ndokter/dsmr_parser, issue #91 ("Invalid telegram. The CRC checksum
'17805' does not match the expected '12832'"), the comment of 2022-02-22 that names the meter
(a Holley DTSD545) and posts its telegram: the header, the lines of ``HOLLEY_LINES`` below as
posted, the first of the two telegrams cut short inside its text message
(``0-0:96.13.0(FFF...`` and, on the same line, the next telegram's ``/HLY5/D545-METER``).
The public copy of the post ends after ``1-0:33.7.0(1.000)``: the rest of the telegram and
its CRC line are not in it. The telegram here is built from the posted lines, ended there,
with a ``!`` and a CRC computed over it (``HOLLEY_X25``: its CRC-16/X-25, as the meter
writes it; ``HOLLEY``: a CRC-16/ARC, to show the framer's part alone); the count of F digits of the cut text message is as
the copy shows it (any count reads the same).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from harness.config import load_sensors
from harness.daemon import StartDaemon
from harness.pty import PtyPair
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_blocks import NOISE_HEADERS, take, telegram_lines
from test_first_line import Clock as PortClock
from test_first_line import send
from test_first_line import sensor as sensor_on
from test_formats_blocks import DSMR5, crc16_arc, latest, telegram

from sensord.config import Config
from sensord.formats import codec_for
from sensord.formats import crc as crc_module
from sensord.formats.blocks import MAX_BLOCK_BYTES, BlockFramer, ciphered_frame_end
from sensord.signals import SimulationSpec
from sensord.sources.simulated import SimulatedDevice

HEADER = "/HLY5/D545-METER"

#: The lines of the meter's telegram after its header, as posted (``1-0:15.8.0`` with a space
#: before its ``)``, as the meter writes it).
HOLLEY_LINES = r"""
1-3:0.2.8(50)
0-0:1.0.0(220203113815W)
1-0:1.8.0(00003668.743*kWh)
1-0:1.8.1(00001737.629*kWh)
1-0:1.8.2(00001931.114*kWh)
1-0:1.8.3(00000000.000*kWh)
1-0:1.8.4(00000000.000*kWh)
1-0:2.8.0(00003468.951*kWh)
1-0:2.8.1(00002533.342*kWh)
1-0:2.8.2(00000934.609*kWh)
1-0:2.8.3(00000000.000*kWh)
1-0:2.8.4(00000000.000*kWh)
1-0:3.8.0(00000019.368*kvarh)
1-0:4.8.1(00000680.772*kvarh)
1-0:5.8.0(00000012.272*kvarh)
1-0:6.8.0(00000007.096*kvarh)
1-0:7.8.0(00000425.904*kvarh)
1-0:8.8.0(00001025.518*kvarh)
1-0:15.8.0(00007137.694*kWh )
1-0:32.7.0(000238.20*V)
1-0:52.7.0(000229.60*V)
1-0:72.7.0(000233.00*V)
1-0:31.7.0(000004.71*A)
1-0:51.7.0(000004.56*A)
1-0:71.7.0(000004.96*A)
1-0:13.7.0(0.999)
1-0:33.7.0(1.000)
"""

#: The telegram before it as posted: cut short inside its text message, 0xFF bytes written in
#: hex, by the next telegram's ``/``, which came in the middle of that line.
CUT = (HEADER + "\r\n\r\n1-3:0.2.8(50)\r\n0-0:96.13.0(" + "F" * 213).encode()


def crc16_x25(data: bytes) -> int:
    """CRC-16/X-25, bit by bit (0x906E for "123456789", the catalogue's check value)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def holley(crc: str = "arc") -> bytes:
    """The meter's telegram (see the module docstring), ended with ``!`` and its CRC: ``x25``
    the meter's CRC-16/X-25, ``arc`` DSMR's CRC-16/ARC, as a meter that follows DSMR writes
    it."""
    body = telegram(HEADER + "\n\n" + HOLLEY_LINES.strip("\n") + "\n!")[:-2]
    value = crc16_x25(body) if crc == "x25" else crc16_arc(body)
    return body + f"{value:04X}\r\n".encode()


HOLLEY = holley()
HOLLEY_X25 = holley("x25")


def test_a_header_line_that_holds_a_slash_begins_one_telegram_however_chunked() -> None:
    """Each of the telegrams is read whole: the ``/`` of ``HLY5/D545`` begins none (the
    framer cut each in two, ``truncated`` and ``checksum``)."""
    data = HOLLEY * 3
    lines = telegram_lines(HOLLEY)
    assert len(lines) == 27
    whole = take("dsmr", data)
    assert whole == (
        lines * 3,
        {"frames": 81, "skipped": 0, "rejected": {}, "ignored": 0, "overlong": 0},
    )
    for size in (1, 2, 5, 6, 7, 17, 18, 64, 1000):
        assert take("dsmr", data, [size]) == whole, size


def test_the_telegram_cut_short_mid_line_by_the_next_one_as_posted_is_truncated() -> None:
    """The capture of issue #91: the next telegram's ``/`` in the middle of the cut one's
    text message ends it (``truncated``, its two lines), and the next telegram is read."""
    data = CUT + HOLLEY
    assert b"FFF/HLY5/D545-METER\r\n" in data
    whole = take("dsmr", data)
    assert whole[0] == telegram_lines(HOLLEY)
    assert whole[1]["rejected"] == {"truncated": 2}
    for size in (1, 3, 7, 64):
        assert take("dsmr", data, [size]) == whole, size


@pytest.mark.parametrize(
    ("cut", "after"),
    [
        (b"/HLY5/D5", HOLLEY),  # cut in its header line, after the header's own '/'
        (b"/HLY5", HOLLEY),  # right before it
        (b"/H", HOLLEY),
        (b"/ISk5\\2MT3", DSMR5),  # a header without a '/': as before
    ],
)
def test_a_telegram_cut_short_in_its_header_line_is_truncated_and_the_next_is_read(
    cut: bytes, after: bytes
) -> None:
    """The next telegram's ``/`` in the header line of one cut short (after a whole one, so
    that its ``/`` begins a line): the two header lines are one line, and the telegram from
    the first ``/`` fails its check; the one from the ``/`` from which the check holds is the
    next telegram, read, and the bytes before it are the cut one, ``truncated``."""
    data = after + cut + after + after
    lines = telegram_lines(after)
    whole = take("dsmr", data)
    assert whole == (
        lines * 3,
        {
            "frames": 3 * len(lines),
            "skipped": 0,
            "rejected": {"truncated": 1},
            "ignored": 0,
            "overlong": 0,
        },
    )
    for size in (1, 2, 7, 64):
        assert take("dsmr", data, [size]) == whole, size


def test_a_damaged_telegram_with_a_slash_in_its_header_is_one_checksum_reject() -> None:
    """A byte changed in its lines: the telegram fails its check from either ``/`` of its
    header, and is rejected once, every line of it ``checksum``; the next is read."""
    bad = HOLLEY.replace(b"3668.743", b"3668.742")
    lines, counted = take("dsmr", bad + HOLLEY)
    assert lines == telegram_lines(HOLLEY)
    assert counted["rejected"] == {"checksum": 27}


def test_an_overlong_telegram_s_header_slash_begins_no_telegram() -> None:
    """A telegram past the bound is dropped up to the next telegram's ``/``, not up to the
    ``/`` of its own header, whatever the chunking."""
    small = HOLLEY[: HOLLEY.index(b"1-0:1.8.1")] + HOLLEY[HOLLEY.index(b"1-0:33.7.0") :]
    small = small[: small.index(b"!") + 1]
    small += f"{crc16_arc(small):04X}\r\n".encode()
    data = HOLLEY + small
    whole = take("dsmr", data, max_block_bytes=200)
    assert whole[0] == telegram_lines(small)
    assert (whole[1]["overlong"], whole[1]["rejected"]) == (1, {})
    for size in (1, 2, 7, 64, 199, 200, 201):
        assert take("dsmr", data, [size], max_block_bytes=200) == whole, size


@pytest.mark.parametrize("noise", list(NOISE_HEADERS))
def test_a_holley_telegram_after_noise_like_an_encrypted_frame_is_read(noise: str) -> None:
    header = NOISE_HEADERS[noise]
    assert ciphered_frame_end(header + HOLLEY * 2, 0, MAX_BLOCK_BYTES) is not None
    data = header + b"\x9c" + HOLLEY + HOLLEY
    whole = take("dsmr", data)
    assert whole[0] == telegram_lines(HOLLEY) * 2
    assert (whole[1]["skipped"], whole[1]["rejected"]) == (len(header) + 1, {})
    for size in (1, 2, 11, 13, 64):
        assert take("dsmr", data, [size]) == whole, size


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, len(HOLLEY) - 1), st.integers(1, 255)),
        max_size=5,
    ),
    sizes=st.lists(st.integers(1, 50), min_size=1, max_size=10),
)
@example(pieces=[(1, 5, 1), (1, 8, 1), (0, 0, 1)], sizes=[1])
def test_holley_telegrams_cut_and_damaged_read_the_same_however_chunked(
    pieces: list[tuple[int, int, int]], sizes: list[int]
) -> None:
    """Whole telegrams, telegrams cut short anywhere (in the header line too) and telegrams
    with a byte changed (to a ``/`` too): the same lines and counters whatever the chunks,
    and every whole telegram after a cut or damaged one is read."""
    data = b""
    for what, at, xor in pieces:
        if what == 0:
            data += HOLLEY
        elif what == 1:
            data += HOLLEY[:at]
        elif what == 2:
            changed = bytearray(HOLLEY)
            changed[at] ^= xor
            data += bytes(changed)
        else:
            data += HOLLEY[:at] + b"/" + HOLLEY[at + 1 :]
    data += HOLLEY
    whole = take("dsmr", data, max_block_bytes=MAX_BLOCK_BYTES)
    assert take("dsmr", data, sizes) == whole
    assert whole[0][-27:] == telegram_lines(HOLLEY)


def test_a_holley_meter_whose_crs_are_taken_out_is_told_so() -> None:
    """Its lines ending in LF alone fail the check; the hint finds the telegram from the first
    ``/`` of its header line, over which the CRC holds with CR LF put back."""
    stripped = HOLLEY.replace(b"\r\n", b"\n") * 2
    framer = BlockFramer("dsmr", 2100)
    assert framer.feed(stripped) == []
    assert "takes the CRs out" in framer.no_frame_hint(stripped)


# -- its CRC: parse.crc ----------------------------------------------------------------------------


def test_the_reference_crc16_x25_is_the_catalogue_s() -> None:
    assert crc16_x25(b"123456789") == 0x906E
    assert crc_module.crc16_x25(HOLLEY_X25) == crc16_x25(HOLLEY_X25)
    assert HOLLEY_X25 != HOLLEY


def test_the_meter_s_telegrams_are_read_with_parse_crc_x25_however_chunked() -> None:
    """With ``crc16_x25`` every telegram of the capture is read (the cut one ``truncated``);
    without it, every one is ``checksum``."""
    data = CUT + HOLLEY_X25 * 3
    lines = telegram_lines(HOLLEY_X25)
    whole = take("dsmr", data, crc="crc16_x25")
    assert whole == (
        lines * 3,
        {"frames": 81, "skipped": 0, "rejected": {"truncated": 2}, "ignored": 0, "overlong": 0},
    )
    for size in (1, 2, 7, 17, 64, 1000):
        assert take("dsmr", data, [size], crc="crc16_x25") == whole, size
    assert take("dsmr", data) == (
        [],
        whole[1] | {"frames": 0, "rejected": {"truncated": 2, "checksum": 81}},
    )


def test_with_parse_crc_x25_a_changed_byte_still_fails_the_check() -> None:
    bad = HOLLEY_X25.replace(b"0.999", b"0.998")
    lines, counted = take("dsmr", bad + HOLLEY_X25, crc="crc16_x25")
    assert lines == telegram_lines(HOLLEY_X25)
    assert counted["rejected"] == {"checksum": 27}


def test_an_x25_telegram_read_as_dsmr_s_crc_is_rejected_with_the_key_to_set() -> None:
    """Each telegram is ``checksum``; the rejection says its CRC holds by CRC-16/X-25 and to
    set ``parse.crc``, and so does the hint once two such telegrams came (a damaged telegram's
    CRC holds by the other CRC by chance once in 65536)."""
    framer = BlockFramer("dsmr", 2100)
    assert framer.feed(HOLLEY_X25) == []
    detail, shown = framer.last_rejected("checksum")
    assert shown.startswith(b"/HLY5/D545-METER\r\n")
    crc = HOLLEY_X25[-6:-2].decode()
    assert detail == (
        f"its CRC {crc} does not hold: its bytes give {crc16_arc(HOLLEY_X25[:-6]):04X} by "
        f"CRC-16/ARC, and {crc} by CRC-16/X-25: the meter writes CRC-16/X-25; set parse.crc = "
        "'crc16_x25' (a Holley DTSD545 writes it, not DSMR's CRC-16/ARC)"
    )
    assert "parse.crc" not in framer.no_frame_hint(HOLLEY_X25)
    assert framer.feed(HOLLEY_X25) == []
    hint = framer.no_frame_hint(HOLLEY_X25 * 2)
    assert hint == (
        "telegrams came whose CRC fails by CRC-16/ARC and holds by CRC-16/X-25: the meter "
        "writes CRC-16/X-25; set parse.crc = 'crc16_x25' (a Holley DTSD545 writes it, not "
        "DSMR's CRC-16/ARC)"
    )


def test_a_dsmr_meter_read_with_parse_crc_x25_is_told_to_leave_it_out() -> None:
    framer = BlockFramer("dsmr", 2100, crc="crc16_x25")
    assert framer.feed(DSMR5 * 2) == []
    assert framer.rejected["checksum"] == 2 * len(telegram_lines(DSMR5))
    assert framer.last_rejected("checksum")[0].endswith(
        "by CRC-16/X-25, and 6EEE by CRC-16/ARC: the meter writes CRC-16/ARC; leave parse.crc "
        "out (DSMR's CRC-16/ARC, which this meter writes)"
    )
    assert "leave parse.crc out" in framer.no_frame_hint(DSMR5 * 2)


def test_a_damaged_dsmr_telegram_gives_no_hint_of_another_crc() -> None:
    bad = DSMR5.replace(b"4.426", b"4.427")
    framer = BlockFramer("dsmr", 2100)
    framer.feed(bad * 2)
    assert "by CRC-16/X-25" not in framer.last_rejected("checksum")[0]
    assert "parse.crc" not in framer.no_frame_hint(bad * 2)


def test_the_crc_of_a_holley_meter_whose_crs_are_taken_out_is_its_own() -> None:
    stripped = HOLLEY_X25.replace(b"\r\n", b"\n") * 2
    framer = BlockFramer("dsmr", 2100, crc="crc16_x25")
    assert framer.feed(stripped) == []
    assert "takes the CRs out" in framer.no_frame_hint(stripped)


HOLLEY_SENSOR = """
format = "dsmr"
channels = [
  { name = "imported_kwh", field = "1-0:1.8.0" }, { name = "voltage_l1_v", field = "1-0:32.7.0" },
  { name = "power_factor", field = "1-0:13.7.0" },
]
"""


@pytest.mark.parametrize("crc", [None, "crc16_arc", "crc16_x25"])
def test_a_holley_meter_on_a_pty_publishes_its_readings_with_parse_crc(
    pty_pair: PtyPair, crc: str | None
) -> None:
    clock = PortClock()
    body = HOLLEY_SENSOR + (f'parse = {{ crc = "{crc}" }}\n' if crc else "")
    with sensor_on(pty_pair, clock, body) as opened:
        clock.now += 0.001
        send(opened, pty_pair, CUT + HOLLEY_X25 + HOLLEY_X25)
        snap = opened.snapshot()
        if crc == "crc16_x25":
            assert latest(opened) == {
                "imported_kwh": 3668.743,
                "voltage_l1_v": 238.2,
                "power_factor": 0.999,
            }
            assert snap.parse_errors["checksum"] == 0
        else:
            assert latest(opened) == {}
            assert snap.parse_errors["checksum"] == 54


def test_a_simulated_meter_with_parse_crc_x25_sends_telegrams_its_sensor_reads() -> None:
    config = load_sensors(
        {"name": "m", "port": "sim://m", "format": "dsmr", "parse": {"crc": "crc16_x25"}}
        | {"channels": [{"name": "e", "field": "1-0:1.8.0"}]}
    )
    spec = config.sensors[0].format_spec()
    device = SimulatedDevice(spec, {}, 1.0, b"\r\n", SimulationSpec(seed=1), 0.0)
    data = b"".join(device.bytes_due(float(t)) for t in range(1, 11))
    body, _, check = data.partition(b"!")
    assert int(check[:4], 16) == crc16_x25(body + b"!")
    framer = codec_for("dsmr").framer(spec, b"\r\n", 2100)
    assert device.frames_written >= 10
    assert len(framer.feed(data)) == device.frames_written
    assert sum(framer.rejected.values()) == 0


def errors_of(sensor: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    assert (
        Config.load({"sensors": [{"name": "m", "port": "sim://m", **sensor}]}, "", errors) is None
    )
    return errors


@pytest.mark.parametrize(
    ("sensor", "message"),
    [
        (
            {"format": "dsmr", "parse": {"crc": "x25"}},
            "sensors[0].parse.crc: must be one of 'crc16_arc', 'crc16_x25', got 'x25'",
        ),
        (
            {"format": "kv", "parse": {"crc": "crc16_x25"}},
            "sensors[0].parse.crc: chooses the CRC of a DSMR telegram: it needs "
            "format = 'dsmr' or parse.block = 'dsmr', not format 'kv' alone",
        ),
        (
            {"format": "kv", "parse": {"crc": "crc16_x25", "block": "vedirect"}},
            "sensors[0].parse.crc: chooses a DSMR telegram's CRC; parse.block = "
            "'vedirect' has a check of its own: leave parse.crc out",
        ),
        (
            {"format": "nmea", "parse": {"crc": "crc16_x25"}},
            "sensors[0].parse.crc: chooses the CRC of a DSMR telegram: it needs "
            "format = 'dsmr' or parse.block = 'dsmr', not format 'nmea' alone",
        ),
    ],
    ids=["word", "kv", "vedirect", "nmea"],
)
def test_parse_crc_is_checked_naming_the_key(sensor: dict[str, Any], message: str) -> None:
    fields = {"nmea": "GGA.altitude", "kv": "v"}.get(sensor["format"], "1-0:1.8.0")
    errors = errors_of({**sensor, "channels": [{"name": "c", "field": fields}]})
    assert any(e.startswith(message) for e in errors), errors
    if sensor["parse"]["crc"] == "x25":
        assert any("did you mean 'crc16_x25'?" in e for e in errors), errors


#: The frame table of a Kamstrup Omnipower's HAN port (README's table of frame specs): HDLC
#: frames whose check is a CRC-16/X-25 too.
HAN_FRAME = {
    "start": "\x7e",
    "length_offset": 1,
    "length_size": 2,
    "length_counts": "frame",
    "length_adjust": -40958,
    "end": 0x7E,
    "checksum": "crc16_x25",
    "checksum_start": 1,
    "fields": [{"name": "power_import", "offset": 110, "type": "u32be"}],
}


def test_parse_crc_with_binary_frames_names_the_frame_s_checksum_key() -> None:
    """A HAN port's HDLC frames (which the DSMR hint says to read with format 'frames') end in
    a CRC-16/X-25 as well: ``parse.crc`` there is told that the frame's check is
    ``frame.checksum``, not sent to format 'dsmr'."""
    sensor = {
        "format": "frames",
        "frame": HAN_FRAME,
        "channels": [{"name": "c", "field": "power_import"}],
    }
    assert errors_of(sensor | {"parse": {"crc": "crc16_x25"}}) == [
        "sensors[0].parse.crc: chooses the CRC of a DSMR telegram, not of a binary frame: a "
        "binary frame's checksum is frame.checksum (or its preset's; a HAN port's HDLC "
        "frames: frame.checksum = 'crc16_x25'): leave parse.crc out"
    ]
    load_sensors({"name": "m", "port": "sim://m", **sensor})  # without it: valid


@pytest.mark.parametrize(
    "sensor",
    [
        {"format": "dsmr", "parse": {"crc": "crc16_x25"}},
        {"format": "kv", "parse": {"crc": "crc16_arc", "block": "dsmr"}},
    ],
)
def test_parse_crc_is_taken_with_dsmr_telegrams(sensor: dict[str, Any]) -> None:
    field = "1-0:1.8.0" if sensor["format"] == "dsmr" else "v"
    table = {"name": "m", "port": "sim://m", **sensor, "channels": [{"name": "c", "field": field}]}
    assert load_sensors(table).sensors[0].format_spec().crc == sensor["parse"]["crc"]


def test_sensord_check_refuses_a_crc_that_is_none_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "meter.toml"
    config.write_text(
        '[[sensors]]\nname = "holley"\nport = "sim://holley"\nformat = "dsmr"\n'
        'channels = [{ name = "e", field = "1-0:1.8.0" }]\nparse = { crc = "X-25" }\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "sensord", "check", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert result.returncode == 1
    assert "sensors[0].parse.crc (sensor 'holley'): must be one of 'crc16_arc', 'crc16_x25'" in (
        result.stderr
    )
    assert "did you mean 'crc16_x25'?" in result.stderr
    config.write_text(config.read_text().replace('"X-25"', '"crc16_x25"'))
    valid = subprocess.run(
        [sys.executable, "-m", "sensord", "check", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert valid.returncode == 0, valid.stderr


X25_HINT = (
    "telegrams came whose CRC fails by CRC-16/ARC and holds by CRC-16/X-25: the meter writes "
    "CRC-16/X-25; set parse.crc = 'crc16_x25' (a Holley DTSD545 writes it, not DSMR's "
    "CRC-16/ARC)"
)


@pytest.mark.slow
def test_a_holley_meter_is_told_its_crc_then_read_once_the_key_is_set(
    start_daemon: StartDaemon,
) -> None:
    """The daemon on a pty fed the meter's telegrams every 0.2 s, without ``parse.crc``: it
    goes stale, and ``/status`` and the ``frame rejected`` warning say to set it; set, and the
    configuration reloaded (SIGHUP), the telegrams are read."""
    with PtyPair() as meter_pty:
        table = (
            f'[[sensors]]\nname = "holley"\nport = "{meter_pty.path}"\nsimulate = "never"\n'
            f"stale_after_s = 2\n{HOLLEY_SENSOR}"
        )
        daemon = start_daemon(config=table)
        daemon.wait_http()
        daemon.wait_up_settled(["holley"])
        deadline = time.monotonic() + 30.0
        while daemon.status()["sensors"]["holley"]["state"] != "stale":
            assert time.monotonic() < deadline, daemon.status()["sensors"]["holley"]
            meter_pty.write(HOLLEY_X25)
            time.sleep(0.2)
        assert daemon.status()["sensors"]["holley"]["hint"] == X25_HINT
        [rejected, *_] = daemon.events("frame rejected")
        assert "set parse.crc = 'crc16_x25'" in rejected["detail"], rejected
        assert daemon.config_path is not None
        daemon.config_path.write_text(
            daemon.config_path.read_text().replace(
                "stale_after_s = 2\n", 'stale_after_s = 2\nparse = { crc = "crc16_x25" }\n'
            )
        )
        daemon.signal(signal.SIGHUP)
        deadline = time.monotonic() + 30.0
        while True:
            meter_pty.write(HOLLEY_X25)
            value = daemon.scrape().get(
                "sensord_reading_value", -1.0, sensor="holley", channel="imported_kwh"
            )
            if value != -1.0:
                break
            assert time.monotonic() < deadline, daemon.status()["sensors"]["holley"]
            time.sleep(0.2)
        assert value == 3668.743
        daemon.wait_events("configuration reloaded")
        assert daemon.stop() == 0


# -- the header with a backslash: /HLY5\D545-METER ---------------------------------------------

#: A Holley meter's telegram as posted in public repository esphome/issues, issue #7019
#: ("Slimmelezer p1 reader cannot get data from Holley dtsd525 meter", opened in 2025 by
#: Zolszabo): an esphome ``uart_debug`` log, each quoted piece one line the meter sent, in the
#: log's escaping (``\\`` one backslash, ``\r\n`` CR LF). Its header holds a backslash where
#: the telegrams of ndokter/dsmr_parser#91 and esphome/issues#3042 (2022) hold a ``/``, as
#: IEC 62056-21's identification has it (``/ISk5\2MT382``). The public copy of the log ends
#: after ``1-0:8.8.0``: the rest of the telegram and its CRC line are not in it, nor in any
#: other public copy of a Holley DTSD545/DTSD525 telegram found (esphome/issues#3042 shows its
#: lines up to ``0-0:42.0.0``, ndokter/dsmr_parser#91 and home-assistant/core#58896 up to
#: ``1-0:33.7.0``), so which CRC the meter writes is not checked against one of its own: the
#: telegrams below end there, with a ``!`` and a CRC computed over them.
BACKSLASH_LOG = r"""
[21:41:27][V][dsmr:142]: Header of telegram found
[21:41:27][D][uart_debug:158]: <<< "/HLY5\\D545-METER\r\n"
[21:41:27][D][uart_debug:158]: <<< "\r\n"
[21:41:27][D][uart_debug:158]: <<< "1-3:0.2.8(50)\r\n"
[21:41:27][D][uart_debug:158]: <<< "0-0:1.0.0(250513214120S)\r\n"
[21:41:27][D][uart_debug:158]: <<< "1-0:1.8.0(031108.121*kWh)\r\n"
[21:41:27][D][uart_debug:158]: <<< "1-0:1.8.1(025849.897*kWh)\r\n"
[21:41:27][D][uart_debug:158]: <<< "1-0:1.8.2(005258.224*kWh)\r\n"
[21:41:27][D][uart_debug:158]: <<< "1-0:1.8.3(000000.000*kWh)\r\n"
[21:41:27][D][uart_debug:158]: <<< "1-0:1.8.4(000000.000*kWh)\r\n"
[21:41:27][D][uart_debug:158]: <<< "1-0:2.8.0(046953.449*kWh)\r\n"
[21:41:27][D][uart_debug:158]: <<< "1-0:2.8.1(016837.615*kWh)\r\n"
[21:41:27][D][uart_debug:158]: <<< "1-0:2.8.2(030115.834*kWh)\r\n"
[21:41:27][D][uart_debug:158]: <<< "1-0:2.8.3(000000.000*kWh)\r\n"
[21:41:27][D][uart_debug:158]: <<< "1-0:2.8.4(000000.000*kWh)\r\n"
[21:41:27][D][uart_debug:158]: <<< "1-0:3.8.0(000244.462*kvarh)\r\n"
[21:41:27][D][uart_debug:158]: <<< "1-0:4.8.1(012900.749*kvarh)\r\n"
[21:41:27][D][uart_debug:158]: <<< "1-0:5.8.0(000139.325*kvarh)\r\n"
[21:41:27][D][uart_debug:158]: <<< "1-0:6.8.0(000105.137*kvarh)\r\n"
[21:41:27][D][uart_debug:158]: <<< "1-0:7.8.0(003818.194*kvarh)\r\n"
[21:41:27][D][uart_debug:158]: <<< "1-0:8.8.0(013006.244*kvarh)\r\n"
"""


def unescaped(log: str) -> bytes:
    """The bytes a ``uart_debug`` log's quoted pieces stand for, one after the other."""
    pieces = re.findall(r'<<< "((?:[^"\\]|\\.)*)"', log)
    return b"".join(p.encode("ascii").decode("unicode_escape").encode("latin-1") for p in pieces)


BACKSLASH_BODY = unescaped(BACKSLASH_LOG)


def backslash(crc: str = "arc") -> bytes:
    """The telegram of the log, ended with ``!`` and its CRC by ``crc`` (as :func:`holley`)."""
    body = BACKSLASH_BODY + b"!"
    value = crc16_x25(body) if crc == "x25" else crc16_arc(body)
    return body + f"{value:04X}\r\n".encode()


BACKSLASH = backslash()
BACKSLASH_X25 = backslash("x25")


def test_the_log_s_pieces_are_the_meter_s_lines_with_one_backslash_in_the_header() -> None:
    lines = BACKSLASH_BODY.split(b"\r\n")
    assert lines[:3] == [b"/HLY5\x5cD545-METER", b"", b"1-3:0.2.8(50)"]
    assert (len(lines), lines[-2], lines[-1]) == (21, b"1-0:8.8.0(013006.244*kvarh)", b"")
    assert (BACKSLASH_BODY.count(b"\\"), BACKSLASH_BODY.count(b"/")) == (1, 1)


@pytest.mark.parametrize("crc", [None, "crc16_x25"])
def test_a_header_with_a_backslash_begins_one_telegram_however_chunked(crc: str | None) -> None:
    """Each of the meter's telegrams is read whole, by either CRC, however the chunks cut its
    header line (right after the ``\\`` too)."""
    one = BACKSLASH if crc is None else BACKSLASH_X25
    options: dict[str, Any] = {} if crc is None else {"crc": crc}
    lines = telegram_lines(one)
    assert lines[0] == b"1-3:0.2.8(50)"
    assert len(lines) == 18
    whole = take("dsmr", one * 3, **options)
    assert whole == (
        lines * 3,
        {"frames": 54, "skipped": 0, "rejected": {}, "ignored": 0, "overlong": 0},
    )
    for size in (1, 2, 5, 6, 7, 17, 64, 1000):
        assert take("dsmr", one * 3, [size], **options) == whole, size


def test_both_header_forms_and_a_cut_telegram_read_one_after_the_other() -> None:
    """The header with a ``/`` and the one with a ``\\`` (a meter's firmware may write either)
    in one stream, and a telegram cut short in its text message by the next one's ``/``: each
    whole telegram is read, the cut one ``truncated``."""
    data = HOLLEY_X25 + BACKSLASH_X25 + CUT + BACKSLASH_X25 + HOLLEY_X25
    whole = take("dsmr", data, crc="crc16_x25")
    slash, back = telegram_lines(HOLLEY_X25), telegram_lines(BACKSLASH_X25)
    assert whole[0] == slash + back + back + slash
    assert whole[1]["rejected"] == {"truncated": 2}
    for size in (1, 2, 7, 64):
        assert take("dsmr", data, [size], crc="crc16_x25") == whole, size


def test_a_backslash_header_telegram_in_x25_is_rejected_with_the_key_to_set() -> None:
    framer = BlockFramer("dsmr", 2100)
    assert framer.feed(BACKSLASH_X25 * 2) == []
    detail, shown = framer.last_rejected("checksum")
    assert shown.startswith(b"/HLY5\\D545-METER\r\n\r\n1-3:0.2.8(50)\r\n")
    assert detail.endswith(
        "set parse.crc = 'crc16_x25' (a Holley DTSD545 writes it, not DSMR's CRC-16/ARC)"
    )
    assert framer.no_frame_hint(BACKSLASH_X25 * 2) == X25_HINT


def test_a_backslash_header_meter_on_a_pty_publishes_its_readings(pty_pair: PtyPair) -> None:
    clock = PortClock()
    body = (
        'format = "dsmr"\nparse = { crc = "crc16_x25" }\nchannels = [\n'
        '  { name = "imported_kwh", field = "1-0:1.8.0" },\n'
        '  { name = "exported_kwh", field = "1-0:2.8.0" },\n]\n'
    )
    with sensor_on(pty_pair, clock, body) as opened:
        clock.now += 0.001
        send(opened, pty_pair, CUT + BACKSLASH_X25 + BACKSLASH_X25)
        assert latest(opened) == {"imported_kwh": 31108.121, "exported_kwh": 46953.449}
        snap = opened.snapshot()
        assert (snap.parse_errors["checksum"], snap.parse_errors["truncated"]) == (0, 2)


@pytest.mark.parametrize("noise", list(NOISE_HEADERS))
def test_a_backslash_header_telegram_after_noise_like_an_encrypted_frame_is_read(
    noise: str,
) -> None:
    """Line noise that looks like the start of an encrypted frame, and the meter's telegrams
    inside it: the noise is skipped and each telegram read (the ``\\`` of its header is
    telegram text)."""
    header = NOISE_HEADERS[noise]
    data = header + b"\x9c" + BACKSLASH + BACKSLASH
    whole = take("dsmr", data)
    assert whole[0] == telegram_lines(BACKSLASH) * 2
    assert (whole[1]["skipped"], whole[1]["rejected"]) == (len(header) + 1, {})
    for size in (1, 2, 11, 13, 64):
        assert take("dsmr", data, [size]) == whole, size


@pytest.mark.parametrize("cut", [b"/HLY5\\D545-MET", b"/HLY5\\", b"/HLY5"])
def test_a_backslash_header_telegram_cut_in_its_header_line_is_truncated(cut: bytes) -> None:
    """The next telegram's ``/`` in the header line of one cut short (after its ``\\`` too):
    the cut one is ``truncated`` and the next two are read."""
    data = cut + BACKSLASH + BACKSLASH
    whole = take("dsmr", data)
    assert whole == (
        telegram_lines(BACKSLASH) * 2,
        {"frames": 36, "skipped": 0, "rejected": {"truncated": 1}, "ignored": 0, "overlong": 0},
    )
    for size in (1, 2, 7, 64):
        assert take("dsmr", data, [size]) == whole, size
