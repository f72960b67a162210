"""Set-up commands for a text instrument: a GSS CozIR CO2 sensor is put in streaming mode
with ``K 1`` and answers `` K 00001`` (GSS, "CozIR user's manual": mode commands are
answered with the mode, five digits), then streams `` Z 00400 z 00390`` lines. The
acknowledgement is taken out of the stream before the lines are cut, so it is no line of
the device's readings, and a missing one is counted as for any set-up command."""

from __future__ import annotations

import os
import random

import pytest
from harness.pty import PtyPair, wait_readable
from test_frames_commands import Clock, read_all, sensor_config

from sensord.config import parse_config
from sensord.errors import ConfigError
from sensord.sensor import SensorRuntime

COZIR = {
    "format": "value",
    "terminator": "\r\n",
    "simulate": "never",
    "setup": [{"send_text": "K 1\r\n", "expect_text": " K 00001\r\n"}],
    "parse": {
        "pattern": r"^ ?Z (?P<co2>\d{5}) z (?P<co2_raw>\d{5})$",
        "example": " Z 00400 z 00390",
    },
    "channels": [
        {"name": "co2_ppm", "field": "co2", "normalize": {"scale": 10}},
        {"name": "co2_raw_ppm", "field": "co2_raw", "normalize": {"scale": 10}},
    ],
}


def written(pair: PtyPair) -> bytes:
    assert pair.master_fd is not None
    data = b""
    while wait_readable(pair.master_fd, 0.05):
        data += os.read(pair.master_fd, 256)
    return data


def set_up(pair: PtyPair, clock: Clock, after_s: float) -> SensorRuntime:
    """The CozIR's sensor open on ``pair``, its set-up command written ``after_s`` later."""
    rt = SensorRuntime(
        sensor_config({"port": pair.path, **COZIR}),
        clock=clock,
        wall_clock=clock,
        rng=random.Random(1),
    )
    assert rt.try_open()
    clock.now += after_s
    rt.tick(clock.now)
    assert written(pair) == b"K 1\r\n"
    return rt


def test_a_cozir_is_put_in_streaming_mode_and_its_acknowledgement_is_no_reading() -> None:
    clock = Clock()
    with PtyPair() as pair:
        rt = set_up(pair, clock, 0.01)
        stream = b" K 00001\r\n" + b" Z 00412 z 00398\r\n" * 3
        clock.now += 0.1  # (a line begun within 50 ms of the open may be one cut short)
        pair.write(stream)
        read_all(rt, len(stream))
        clock.now += 0.1
        rt.tick(clock.now)
        assert written(pair) == b""  # acknowledged: not written again
        [co2, raw] = [c.stats for c in rt.snapshot().channels]
        rt.stop()
    assert co2 is not None
    assert raw is not None
    assert (co2.reading.value, co2.count) == (4120.0, 3)
    assert raw.reading.value == 3980.0
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert sum(rt.parse_errors.values()) == 0
    assert rt.framer.skipped_bytes == 0


def test_the_first_reading_after_the_acknowledgement_is_read() -> None:
    """The acknowledgement comes within 50 ms of the open, and the first line some 300 ms
    later, in a chunk of its own: that line is whole (it follows a reply), and is read,
    not dropped as the tail of a line the open cut."""
    clock = Clock()
    with PtyPair() as pair:
        rt = set_up(pair, clock, 0.001)
        ack = b" K 00001\r\n"
        pair.write(ack)
        read_all(rt, len(ack))
        clock.now += 0.3
        line = b" Z 00412 z 00398\r\n"
        pair.write(line)
        read_all(rt, len(line))
        [co2, _] = [c.stats for c in rt.snapshot().channels]
        rt.stop()
    assert co2 is not None
    assert co2.count == 1
    assert rt.framer.skipped_bytes == 0


# -- the command written as text -----------------------------------------------------------------

COZIR_TOML = """
[[sensors]]
name = "cozir"
port = "/dev/ttyUSB0"
format = "value"
terminator = "\\r\\n"
setup = [{setup}]
parse = {{ pattern = '^ ?Z (?P<co2>\\d{{5}}) z \\d{{5}}$', example = " Z 00400 z 00390" }}
channels = [{{ name = "co2_ppm", field = "co2" }}]
"""


def test_text_in_single_quotes_is_the_same_command_as_its_hex() -> None:
    """TOML leaves a literal string's backslashes alone: sensord decodes them, so the README's
    ``send_text = 'K 1\\r\\n'`` is the five bytes of ``send = "4B 20 31 0D 0A"``, and the
    command is named in the logs as it is written."""
    as_text = parse_config(
        COZIR_TOML.format(setup="{ send_text = 'K 1\\r\\n', expect_text = ' K 00001\\r\\n' }")
    ).sensors[0]
    as_hex = parse_config(
        COZIR_TOML.format(
            setup='{ send = "4B 20 31 0D 0A", expect = "20 4B 20 30 30 30 30 31 0D 0A" }'
        )
    ).sensors[0]
    assert as_text.setup_steps()[0][1:] == as_hex.setup_steps()[0][1:]
    assert as_text.setup_steps()[0][1] == b"K 1\r\n"
    assert as_text.setup_names() == ("'K 1\\r\\n'",)
    assert as_hex.setup_names() == ("4B 20 31 0D 0A",)


@pytest.mark.parametrize(
    ("setup", "problem"),
    [
        (
            "{ expect_text = ' K 00001\\r\\n' }",
            "sensors[0].setup[0].send: give either send (the command's bytes in hex) or "
            "send_text (its text, with escapes such as \\r\\n)",
        ),
        (
            "{ send = '4B 20 31 0D 0A', send_text = 'K 1\\r\\n' }",
            "sensors[0].setup[0].send: give either send",
        ),
        (
            "{ send_text = 'K 1\\r\\n', expect_text = [' K 00001\\r\\n', ' K 1\\r\\n'] }",
            "sensors[0].setup[0].expect_text: the replies must all be of one length, got 6, 10 "
            "bytes",
        ),
        (
            "{ send_text = 'K 1\\r\\n', refuse_text = ' ?' }",
            "sensors[0].setup[0].refuse_text: needs expect_text, whose length is that of every "
            "reply",
        ),
        (
            "{ send_text = 'K 1\\r\\n', expect_text = ' K 00001\\r\\n', refuse_text = ' K 00001\\r\\n' }",
            "sensors[0].setup[0].refuse_text: ' K 00001\\r\\n' is also in expect_text",
        ),
        (
            "{ send_text = 'K 1\\r\\n', expect_text = ' K 1\\r\\n', refuse_text = ' K 00001\\r\\n' }",
            "sensors[0].setup[0].refuse_text: ' K 00001\\r\\n' is longer than the 6-byte "
            "replies of expect_text",
        ),
        ("{ send_text = '' }", "sensors[0].setup[0].send_text: must not be empty"),
        (
            "{ send_text = '4B 20 31 0D 0A' }",
            "sensors[0].setup[0].send_text: '4B 20 31 0D 0A' is read as the 14 bytes of that "
            "text, not as hex: give the bytes in hex as send = '4B 20 31 0D 0A', or as text with "
            "escapes here, '\\x4b\\x20\\x31\\x0d\\x0a'",
        ),
        (
            "{ send_text = 'K 1\\r\\n', expect_text = '20 4B 20 30 30' }",
            "sensors[0].setup[0].expect_text: '20 4B 20 30 30' is read as the 14 bytes",
        ),
        ("{ send_text = 'K 1', expect_text = 5 }", "sensors[0].setup[0].expect_text: must be a"),
    ],
)
def test_a_text_command_s_mistakes_name_the_key_written(setup: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(COZIR_TOML.format(setup=setup))
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems


def test_an_nmea_receivers_first_sentence_after_its_acknowledgement_is_read() -> None:
    """A MediaTek receiver set up with a PMTK command (``$PMTK220,1000``, its fix interval)
    that answers ``$PMTK001,220,3`` (GlobalTop PMTK command packet manual), two NULs an
    adapter read as the port opened first: the NULs came within 50 ms of the open, but the
    sentence after the acknowledgement follows a reply and is whole, read without its
    checksum, not dropped as a sentence stale bytes may have cut."""
    clock = Clock()
    with PtyPair() as pair:
        rt = SensorRuntime(
            sensor_config(
                {
                    "port": pair.path,
                    "format": "nmea",
                    "simulate": "never",
                    "setup": [
                        {
                            "send_text": "$PMTK220,1000*1F\r\n",
                            "expect_text": "$PMTK001,220,3*30\r\n",
                        }
                    ],
                    "channels": [{"name": "vdop", "field": "GSA.vdop"}],
                }
            ),
            clock=clock,
            wall_clock=clock,
            rng=random.Random(1),
        )
        assert rt.try_open()
        clock.now += 0.001
        noise = b"\x00\x00"
        pair.write(noise)
        read_all(rt, len(noise))
        rt.tick(clock.now)
        assert written(pair) == b"$PMTK220,1000*1F\r\n"
        clock.now += 0.2
        stream = b"$PMTK001,220,3*30\r\n$GPGSA,A,3,29,21,26,15,18,09,06,10,,,,,2.32,0.95,2.11\r\n"
        pair.write(stream)
        read_all(rt, len(stream))
        [vdop] = [c.stats for c in rt.snapshot().channels]
        rt.stop()
    assert vdop is not None
    assert (vdop.reading.value, vdop.count) == (2.11, 1)
    assert rt.decoder_counts.unchecked == 1
