"""Bytes recorded from real MH-Z19 units in public threads, read through the mhz19 preset:
through its framer and decoder, and answered on a real pty to the preset's polls.

Captures and their origins:

* An MH-Z19 "A" version answering the read request (SmingHub/Sming pull request #2415, the
  comment of 2021-11-10 that dumps each request and reply): ``FF 86 0D E5 3D 40 42 CF FA``
  and the next replies. Byte 5 is the "A" version's status (0x40, a stable reading), bytes
  6..7 its "U" value; the checksum is the datasheet's over bytes 1..7 (that thread's library
  rejected them with a checksum of its own). The CO2 is 3557 ppm; the thread's PWM reader
  said 1420 ppm, which is 3550 scaled from a 2000 to a 5000 ppm range (the two agree if that
  reader assumed the smaller range). Byte 4 is 0x3D, 21 °C.
* An MH-Z19 "A" version booting (revspace.nl wiki, page MHZ19, the "RAW" lines of its
  revision of 2016-10-26, https://revspace.nl/wiki/index.php?diff=next&oldid=10848&title=MHZ19):
  bytes 2..7 of its answers ``00 80 47 01 3A 98``, ``07 D0 47 01 3A 98`` (2000, "the
  configured measurement range of the sensor"), ``00 05 47 01 3A 98``, ``01 2D 47 01 3A 98``
  while it boots (status 1 and U = 15000 both), then ``03 85 47 40 2B 19``, ``03 86 47 40 2A
  F9``, ``03 87 47 40 2A E1`` ("CO2 = 903 ppm, T = 31 deg C, Status = 0x40"). The page gives
  bytes 2..7 only; ``FF 86`` and the datasheet's checksum are added here.
* An MH-Z19B answering a read request with the reply to an earlier ABC command
  (WifWaf/MH-Z19 issue #3, "request overlapping"): the library wrote ``FF 01 79 ...`` twice,
  and the read request after them got ``FF 79 01 00 00 00 00 00 86``; the next read got
  ``FF 86 03 9F 44 00 00 00 94`` (927 ppm, 28 °C).
"""

from __future__ import annotations

from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_frames_commands import Clock, DeviceEnd
from test_frames_field_quirks import Mhz19, feed, last_value, open_sensor, published, run_polls

from sensord.config import parse_config
from sensord.formats import codec_for
from sensord.formats.presets import command_bytes

#: SmingHub/Sming pull request #2415: an MH-Z19 "A" version's replies, in the order sent.
SMING_REPLIES = [
    bytes.fromhex(reply)
    for reply in (
        "ff 86 0d e5 3d 40 42 cf fa",
        "ff 86 0d e4 3d 40 42 cf fb",
        "ff 86 0d e4 3d 40 42 cf fb",
        "ff 86 0d e4 3d 40 42 cf fb",
        "ff 86 0d e2 3d 40 42 cf fd",
    )
]


def answer(raw: str) -> bytes:
    """``FF 86``, bytes 2..7 as revspace.nl's MHZ19 page prints them, and the checksum of
    the MH-Z19B datasheet (0x100 - the sum of bytes 1..7), computed by a loop of its own."""
    body = bytes.fromhex("86 " + raw)
    total = 0
    for byte in body:
        total += byte
    return b"\xff" + body + bytes([(0x100 - total % 0x100) % 0x100])


#: revspace.nl MHZ19: the "A" version's answers while it boots, then measuring.
REVSPACE_BOOT = [
    answer(raw)
    for raw in ("00 80 47 01 3A 98", "07 D0 47 01 3A 98", "00 05 47 01 3A 98", "01 2D 47 01 3A 98")
]
REVSPACE_MEASURING = [answer(raw) for raw in ("03 85 47 40 2B 19", "03 86 47 40 2A F9")]
REVSPACE_903 = answer("03 87 47 40 2A E1")

#: WifWaf/MH-Z19 issue #3: the late reply to an ABC command, and the next read's answer.
LATE_ABC_REPLY = bytes.fromhex("FF 79 01 00 00 00 00 00 86")
ANSWER_927 = bytes.fromhex("FF 86 03 9F 44 00 00 00 94")


def read(stream: bytes) -> list[list[tuple[str, float]]]:
    """The frames the mhz19 preset cuts from ``stream``, each decoded."""
    config = parse_config('[[sensors]]\nname = "s"\nport = "sim://s"\npreset = "mhz19"\n').sensors[
        0
    ]
    spec = config.format_spec()
    codec = codec_for("frames")
    decode = codec.decoder(spec)
    return [decode(f) for f in codec.framer(spec, b"", config.max_frame_bytes).feed(stream)]


def test_an_mhz19_a_version_s_recorded_replies_are_read_with_their_status_byte() -> None:
    """The Sming thread's replies, status 0x40 and a "U" value in bytes 6..7, back to back:
    every one is a frame, its CO2 and temperature read."""
    assert read(b"".join(SMING_REPLIES)) == [
        [("co2_ppm", ppm), ("temperature_celsius", 21.0)]
        for ppm in (3557.0, 3556.0, 3556.0, 3556.0, 3554.0)
    ]


def test_the_revspace_answers_hold_the_datasheet_checksum_and_read_903_ppm() -> None:
    assert read(REVSPACE_903) == [[("co2_ppm", 903.0), ("temperature_celsius", 31.0)]]
    assert read(b"".join(REVSPACE_BOOT)) == [[], [], [], []]  # boot answers: no values


def test_an_mhz19_a_version_that_restarts_behind_its_open_port_is_seen_to_boot() -> None:
    """An "A" version polled with ``setup = ["abc_off"]`` answers as recorded on revspace.nl:
    measuring, then, its supply having sagged, the four answers of its boot (status 1 and
    15000 in bytes 6..7; one of them the 2000 ppm of its range), then measuring again. The
    boot answers are the restart they are: none is published nor counted as a rejected
    frame, the warm-up starts again from them, and ``abc_off``, which the restart undid, is
    written again once the boot is over."""
    clock = Clock()
    table = {"preset": "mhz19", "warmup_s": 10, "setup": ["abc_off"], "poll": {"interval_s": 1}}
    device = Mhz19(REVSPACE_MEASURING)
    with PtyPair() as pair, capture_logs() as logs:
        rt = open_sensor(pair, clock, table)
        start = clock.now
        before = run_polls(rt, pair, clock, device, start + 15.0)
        assert rt.setup_reruns == 0
        device.restart([*REVSPACE_BOOT, REVSPACE_903])
        restarted = clock.now
        after = run_polls(rt, pair, clock, device, start + 40.0)
        rt.stop()
    assert {value for _, value in before} == {902.0}  # the open's warm-up had the 901
    assert {value for _, value in after} == {903.0}
    assert after[0][0] >= restarted + 10.0  # warmed up again from the first boot answer
    assert rt.setup_reruns == 1
    assert device.abc_off_writes == 2
    assert not device.abc
    assert not any(rt.snapshot().parse_errors.values())
    assert not [e for e in logs if e["event"] == "frame rejected"]
    [restart] = [e for e in logs if e["event"].startswith("device restarted")]
    assert restart["log_level"] == "warning"


def test_an_mhz19b_that_answers_a_read_with_a_late_abc_reply_publishes_its_next_answer() -> None:
    """An MH-Z19B with ``setup = ["abc_off"]`` acknowledges the command, and then answers the
    first read request with another ``FF 79`` reply, as the unit of WifWaf/MH-Z19 issue #3
    did when it was written the command twice; the next read gets its measurement. The late
    reply is no reading (its bytes 2..3, 01 00, are no CO2 of 256 ppm), no rejected frame
    and no wrong acknowledgement; the measurement after it is published."""
    clock = Clock()
    table = {"preset": "mhz19", "warmup_s": 0, "setup": ["abc_off"], "poll": {"interval_s": 5}}
    replies = [LATE_ABC_REPLY, ANSWER_927]
    with PtyPair() as pair:
        rt = open_sensor(pair, clock, table)
        device_end = DeviceEnd(rt, pair)
        start = clock.now
        while clock.now < start + 12.0:
            written = device_end.tick(clock.now)
            out = b""
            for at in range(0, len(written) - 8, 9):
                command = written[at : at + 9]
                if command == command_bytes("mhz19", "abc_off"):
                    out += LATE_ABC_REPLY
                elif command == command_bytes("mhz19", "read"):
                    out += replies.pop(0) if len(replies) > 1 else replies[0]
            if out:
                feed(rt, pair, out)
            clock.now += 0.5
        snapshot = rt.snapshot()
        rt.stop()
    assert last_value(rt, "co2_ppm") == 927.0
    assert last_value(rt, "temperature_celsius") == 28.0
    assert published(rt, "co2_ppm") == 2  # two polls answered 927, none 256
    assert snapshot.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert not any(snapshot.parse_errors.values())
