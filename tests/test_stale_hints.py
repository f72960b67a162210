"""A sensor that goes stale says what came meanwhile: no bytes at all, or bytes that hold no
frame, and the likely cause (a terminator, the serial settings, the frame spec), from its
capture ring. Each case on a real pty, as a device would send it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from harness.pty import PtyPair, TcpPtyRelay, wait_readable
from harness.wire import uart_received
from structlog.testing import capture_logs

from sensord.capture import RX, Record, encode_capture
from sensord.config import parse_config
from sensord.formats.frames_checksums import checksum
from sensord.formats.presets import command_bytes
from sensord.sensor import SensorRuntime


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


VALUE = 'format = "value"\n[[sensors.channels]]\nname = "v"\n'
PMS = 'preset = "pms5003"\n'
#: one PMS5003 frame: 13 data words, the 16-bit sum of the 30 bytes before it
_PMS_BODY = b"\x42\x4d\x00\x1c" + b"".join(v.to_bytes(2, "big") for v in [5] * 12 + [0x9700])
PMS_FRAME = _PMS_BODY + (sum(_PMS_BODY) % 65536).to_bytes(2, "big")


def stale_event(
    pair: PtyPair, table: str, sent: bytes, *, ring: bool = True, first: bytes = b""
) -> dict[str, Any]:
    """The ``sensor state`` event of a sensor reading ``pair`` that got ``first`` (a second
    after it opened), then ``sent`` a second later, and then stayed silent past its
    ``stale_after_s``."""
    text = f'[[sensors]]\nname = "s"\nport = "{pair.path}"\nstale_after_s = 2\n{table}'
    config = parse_config(text).sensors[0]
    clock = Clock()
    runtime = SensorRuntime(
        config, clock=clock, wall_clock=clock, capture_ring_bytes=4096 if ring else 0
    )
    assert runtime.try_open()
    try:
        for data in (first, sent):
            clock.now += 1.0
            deliver(runtime, pair, data)
    except BaseException:
        runtime.stop()
        raise
    return silent_past_stale(runtime, clock)


def deliver(runtime: SensorRuntime, pair: PtyPair, data: bytes) -> None:
    """``data`` written on the device's side of ``pair`` and fed as the reader loop reads it."""
    source = runtime.source
    assert source is not None
    pair.write(data)
    got = 0
    deadline = time.monotonic() + 2.0
    while got < len(data) and time.monotonic() < deadline:
        chunk = source.read()  # non-blocking, as the reader loop reads it
        got += len(chunk)
        if chunk:
            runtime.feed(chunk)
    assert got == len(data)


def test_a_device_ending_its_lines_in_cr_only_is_told_which_terminator_to_set() -> None:
    with PtyPair() as pair:
        event = stale_event(pair, VALUE, b"21.5\r21.6\r21.7\r")
    assert event["bytes_since_frame"] == 15
    assert event["recent_bytes"] == "21.5\\r21.6\\r21.7\\r"
    assert event["hint"] == 'the lines end in CR only: set terminator = "\\r" for this sensor'


def test_bytes_at_the_wrong_baudrate_point_at_the_serial_settings() -> None:
    garbage = bytes([0x80, 0xF8, 0x00, 0xFE, 0x78, 0x86, 0xE0, 0x1E]) * 4  # 9600 read at 38400
    with PtyPair() as pair:
        event = stale_event(pair, VALUE, garbage)
    assert event["bytes_since_frame"] == 32
    assert "serial settings (baudrate" in event["hint"]


def test_text_on_an_rs485_line_with_a_and_b_swapped_points_at_the_wiring_too() -> None:
    """The receiver sees every level inverted: the idle line is a break, the stop bits start
    bits, the characters garbage and NULs (framing errors)."""
    garbage = uart_received(b"21.5\r\n" * 6, 9600, 9600, inverted=True)
    with PtyPair() as pair:
        event = stale_event(pair, VALUE, garbage)
    assert event["hint"] == (
        "the bytes are not text: check the serial settings (baudrate, bytesize, parity, "
        "stopbits) against the device's, and on RS-485 that A and B are not swapped"
    )


def test_text_without_the_terminator_names_the_terminator() -> None:
    with PtyPair() as pair:
        event = stale_event(pair, VALUE.replace('"value"', '"value"\nterminator = ";"'), b"1 2 3 ")
    assert event["hint"] == 'no terminator ";" in the bytes: check the sensor\'s terminator'


@pytest.mark.parametrize(
    ("terminator", "data", "hint"),
    [
        ('"\\r\\n"', b"21.5\r21.6\r", 'the lines end in CR only: set terminator = "\\r"'),
        ('"\\r\\n"', b"21.5\n21.6\n", 'the lines end in LF: set terminator = "\\n"'),
        ('"\\r"', b"7.00\n7.01\n", 'the lines end in LF: set terminator = "\\n"'),
        ('";"', b"1\r\n2\r\n", 'the lines end in CR LF: set terminator = "\\r\\n"'),
        ("'\\x03'", b"1 2 3 ", 'no terminator "\\u0003" in the bytes'),
    ],
)
def test_the_line_end_a_device_sends_instead_of_the_terminator_is_named(
    terminator: str, data: bytes, hint: str
) -> None:
    """Whatever the configured terminator, the line end that came instead is named with the
    setting that reads it, written as the configuration writes it."""
    table = VALUE.replace('"value"', f'"value"\nterminator = {terminator}')
    with PtyPair() as pair:
        event = stale_event(pair, table, data)
    assert event["hint"].startswith(hint)


def test_a_binary_sensor_without_its_start_bytes_points_at_settings_and_spec() -> None:
    with PtyPair() as pair:
        event = stale_event(pair, PMS, bytes(range(0x50, 0x90)))
    assert event["hint"].startswith("no frame start (42 4d) in the bytes")


def plantower_frame(words: list[int]) -> bytes:
    body = b"\x42\x4d" + (2 * len(words) + 2).to_bytes(2, "big")
    body += b"".join(w.to_bytes(2, "big") for w in words)
    return body + (sum(body) % 65536).to_bytes(2, "big")


def test_a_pms5003st_read_with_preset_pms5003_is_pointed_at_its_preset() -> None:
    """40-byte frames (42 4D 00 24) that the 32-byte preset rejects: the hint names their
    length and the preset that reads it."""
    st = b"".join(plantower_frame([7 + i] * 15 + [0, 0x9100]) for i in range(3))
    with PtyPair() as pair:
        event = stale_event(pair, PMS, st)
    assert event["hint"] == (
        "candidates starting 42 4d announce 40-byte frames in their length field, and the "
        "frame spec reads 32-byte frames: check the frame spec's length, or the preset; "
        'preset "pms5003st" reads 40-byte frames'
    )


def test_32_byte_frames_read_with_preset_pms5003st_name_the_presets_of_that_length() -> None:
    with PtyPair() as pair:
        event = stale_event(pair, 'preset = "pms5003st"\n', PMS_FRAME * 3)
    assert event["hint"].startswith("candidates starting 42 4d announce 32-byte frames")
    assert event["hint"].endswith(
        '; presets "pms5003", "pms7003", "pmsa003", "pms5003t", "pms5003s" read 32-byte '
        'frames: the one of the model on the sensor\'s label ("pms5003" for a PMS1003, '
        "PMS6003 or PMS9003M, which send the PMS5003's frames)"
    )


def test_frames_of_the_right_length_that_fail_their_sum_get_no_preset_hint() -> None:
    broken = PMS_FRAME[:-1] + bytes([PMS_FRAME[-1] ^ 1])
    with PtyPair() as pair:
        event = stale_event(pair, PMS, broken * 3)
    # the preset's frame spec is the sensor's: its frames are damaged, not the spec wrong
    assert event["hint"] == (
        "candidates starting 42 4d gave no frame (rejected since the sensor started: 3 "
        "checksum): the sensor's frames are damaged on the way: check the cable (its length, "
        "the ground shared with the adapter) and the sensor's supply"
    )


def test_a_silent_device_is_told_apart_from_a_garbled_one() -> None:
    with PtyPair() as pair:
        event = stale_event(pair, VALUE, b"")
    assert event["bytes_since_frame"] == 0
    assert "no bytes came" in event["hint"]
    assert "recent_bytes" not in event


def test_a_device_that_stops_after_good_frames_is_silent_not_garbled() -> None:
    with PtyPair() as pair:
        event = stale_event(pair, VALUE, b"", first=b"21.5\n21.6\n")
    assert event["bytes_since_frame"] == 0
    assert "no bytes came" in event["hint"]
    with PtyPair() as pair:
        event = stale_event(pair, PMS, b"", first=PMS_FRAME)
    assert event["bytes_since_frame"] == 0


def test_only_the_bytes_after_the_last_frame_are_counted_and_read() -> None:
    with PtyPair() as pair:
        event = stale_event(pair, VALUE, b"21.7\r21.8\r", first=b"21.5\n21.6\n")
    assert event["bytes_since_frame"] == 10
    assert event["recent_bytes"] == "21.7\\r21.8\\r"
    assert "CR only" in event["hint"]


def test_text_with_a_latin1_degree_sign_is_still_text() -> None:
    with PtyPair() as pair:
        event = stale_event(pair, VALUE, b"T=21.5\xb0C\r" * 3)
    assert "CR only" in event["hint"]


def test_whole_lines_that_give_no_frame_are_told_apart_from_long_ones() -> None:
    with PtyPair() as pair:  # empty lines: the framer cuts no frame from them
        event = stale_event(pair, VALUE, b"\r\n" * 5)
    assert event["hint"] == "whole lines came but none was a frame (set-up replies, empty lines)"
    with PtyPair() as pair:
        event = stale_event(pair, VALUE, b"7" * 600 + b"\n")
    assert event["hint"].startswith("lines longer than max_frame_bytes (512)")


def test_without_a_capture_ring_the_stale_event_still_counts_the_bytes() -> None:
    with PtyPair() as pair:
        event = stale_event(pair, VALUE, b"21.5\r21.6\r", ring=False)
    assert event["bytes_since_frame"] == 10
    assert "hint" not in event
    assert event["silent_for_s"] == 4.5
    with PtyPair() as pair:
        event = stale_event(pair, VALUE, b"", ring=False)
    assert "no bytes came" in event["hint"]


def replay_runtime(
    tmp_path: Path, records: list[Record], speed: float
) -> tuple[SensorRuntime, Clock]:
    """An open sensor (``stale_after_s = 2``) replaying a capture of ``records`` at ``speed``,
    on a clock of its own."""
    path = tmp_path / "replay.cap"
    path.write_bytes(encode_capture({"port": "/dev/ttyUSB0", "format": "value"}, records))
    text = (
        f'[[sensors]]\nname = "s"\nport = "replay://{path}"\nstale_after_s = 2\n'
        f"replay = {{ speed = {speed} }}\n{VALUE}"
    )
    clock = Clock()
    runtime = SensorRuntime(parse_config(text).sensors[0], clock=clock, wall_clock=clock)
    assert runtime.try_open()
    return runtime, clock


def stale_hint_after(runtime: SensorRuntime, clock: Clock, seconds: float) -> str:
    """The hint of the ``stale`` event ``seconds`` later, the bytes due by then read."""
    source = runtime.source
    assert source is not None
    with capture_logs() as logs:
        clock.now += seconds
        runtime.feed(source.read())
        runtime.tick(clock.now)
    [event] = [e for e in logs if e.get("state") == "stale"]
    hint: str = event["hint"]
    return hint


def test_a_replay_at_the_end_of_its_capture_says_so(tmp_path: Path) -> None:
    records = [Record(RX, 0.1 * i, b"%d\n" % i) for i in range(3)]
    runtime, clock = replay_runtime(tmp_path, records, 0)
    try:
        source = runtime.source
        assert source is not None
        while not source.finished:
            runtime.feed(source.read())
        assert runtime.framer.frames == 3
        assert stale_hint_after(runtime, clock, 2.5) == "the replay reached the end of its capture"
    finally:
        runtime.stop()


@pytest.mark.parametrize(
    ("speed", "pace"),
    [
        (1.0, "played at replay.speed = 1"),
        (0.25, "a recorded second takes 4 s at replay.speed = 0.25"),
    ],
)
def test_a_replay_silent_in_its_capture_is_told_of_the_capture_not_of_a_simulation(
    tmp_path: Path, speed: float, pace: str
) -> None:
    """A capture in which the device was silent for longer than ``stale_after_s``: the replay
    goes stale in that spell, and its hint names the capture, not a simulated device's
    ``sampling_rate_hz``, which a replay does not read."""
    records = [Record(RX, 0.1, b"1\n"), Record(RX, 0.2, b"2\n"), Record(RX, 60.0, b"3\n")]
    runtime, clock = replay_runtime(tmp_path, records, speed)
    try:
        source = runtime.source
        assert source is not None
        clock.now += 1.0
        runtime.feed(source.read())
        assert runtime.framer.frames == 2
        hint = stale_hint_after(runtime, clock, 3.5)
        assert not source.finished
        assert hint == (
            f"no bytes came from the replay of {tmp_path / 'replay.cap'}: its capture holds "
            f"none for this spell (the device was silent when it was recorded; {pace})"
        )
    finally:
        runtime.stop()


def silent_stale_event(table: str) -> dict[str, Any]:
    """The ``sensor state`` event of the sensor ``table`` (``stale_after_s = 2``) opened and
    then silent for 2.5 s."""
    clock = Clock()
    runtime = SensorRuntime(parse_config(table).sensors[0], clock=clock, wall_clock=clock)
    assert runtime.try_open()
    return silent_past_stale(runtime, clock)


def silent_past_stale(runtime: SensorRuntime, clock: Clock) -> dict[str, Any]:
    """The ``sensor state`` event of ``runtime`` (open, ``stale_after_s = 2``) silent for 2.5 s
    more; the runtime is stopped after."""
    try:
        with capture_logs() as logs:
            clock.now += 2.5
            runtime.tick(clock.now)
        assert runtime.state == "stale"
        [event] = [e for e in logs if e.get("state") == "stale"]
        return dict(event)
    finally:
        runtime.stop()


def test_a_silent_network_port_points_at_the_serial_server() -> None:
    with PtyPair() as pair, TcpPtyRelay(pair) as relay:
        event = silent_stale_event(
            f'[[sensors]]\nname = "s"\nport = "{relay.url}"\nstale_after_s = 2\n{VALUE}'
        )
    assert event["hint"].startswith(f"no bytes came: check the serial server at {relay.url}")


def test_status_says_why_a_sensor_is_stale_and_follows_what_comes_while_it_is() -> None:
    """``/status`` carries the stale hint (an operator reads it there, not only in the log):
    a silent device first, then bytes at the wrong baud rate while still stale, and no hint
    once frames come again."""
    garbage = bytes([0x80, 0xF8, 0x00, 0xFE, 0x78, 0x86, 0xE0, 0x1E]) * 4  # 9600 read at 38400
    with PtyPair() as pair:
        text = f'[[sensors]]\nname = "s"\nport = "{pair.path}"\nstale_after_s = 2\n{VALUE}'
        clock = Clock()
        runtime = SensorRuntime(parse_config(text).sensors[0], clock=clock, wall_clock=clock)
        assert runtime.try_open()
        try:
            assert runtime.snapshot().as_json()["hint"] is None
            clock.now += 2.5
            runtime.tick(clock.now)
            status = runtime.snapshot().as_json()
            assert status["state"] == "stale"
            assert status["hint"].startswith("no bytes came: check the wiring")
            clock.now += 1.0
            deliver(runtime, pair, garbage)
            with capture_logs() as logs:
                clock.now += 2.5
                runtime.tick(clock.now)
            assert "serial settings (baudrate" in runtime.snapshot().as_json()["hint"]
            assert logs == []  # the state did not change: nothing more is logged
            deliver(runtime, pair, b"21.5\n")
            runtime.tick(clock.now)
            status = runtime.snapshot().as_json()
            assert status["state"] == "up"
            assert status["hint"] is None
        finally:
            runtime.stop()


#: The preset polled every second: a sensor stale after 2 s polls more often than that.
MHZ19 = 'preset = "mhz19"\npoll = { interval_s = 1.0 }\n'


def mhz19_frame(co2: int, kind: str) -> bytes:
    """An MH-Z19 read reply (``FF 86``, CO2, temperature + 40) with a checksum of ``kind``
    over the bytes after its first: ``twos8`` is the MH-Z19's own."""
    body = b"\x86" + co2.to_bytes(2, "big") + bytes([62, 0, 0, 0])
    return b"\xff" + body + checksum(kind, body)


def test_an_mhz19_clone_with_another_checksum_is_told_how_to_read_it_with_the_preset() -> None:
    """A user of preset = "mhz19" whose clone sums its frames another way cannot edit the
    preset's frame spec: the hint says that the frames hold another checksum variant, which
    one, and gives the frame table that, in the sensor's own table, reads them (it does)."""
    frames = b"".join(mhz19_frame(co2, "sum8") for co2 in (612, 615, 611))
    with PtyPair() as pair:
        event = stale_event(pair, MHZ19, frames)
    hint = event["hint"]
    assert hint.startswith(
        "3 frames of 9 bytes starting ff 86 came, and none holds the mhz19 preset's checksum "
        "(twos8 from byte 1): their checksum is another variant (sum8 from byte 1 holds over "
        "every one), as some clones' frames are"
    ), hint
    assert "frame spec's" not in hint
    table = hint[hint.index("frame = {") :]
    assert 'checksum = "sum8", checksum_start = 1' in table
    with PtyPair() as pair:  # the table given reads the clone's frames
        config = parse_config(
            f'[[sensors]]\nname = "s"\nport = "{pair.path}"\npreset = "mhz19"\n'
            f"warmup_s = 0\n{table}\n"
        ).sensors[0]
        runtime = SensorRuntime(config)
        assert runtime.try_open()
        try:
            deliver(runtime, pair, frames)
            [co2, temperature] = runtime.snapshot().channels
            assert co2.stats is not None
            assert (co2.stats.reading.value, co2.stats.count) == (611.0, 3)
            assert temperature.stats is not None
            assert temperature.stats.reading.value == 22.0
        finally:
            runtime.stop()


def test_an_mhz19_whose_frames_hold_no_known_checksum_is_told_of_noise_and_of_clones() -> None:
    frames = b"".join(mhz19_frame(co2, "twos8")[:-1] + bytes([n]) for n, co2 in enumerate((1, 7)))
    with PtyPair() as pair:
        event = stale_event(pair, MHZ19, frames)
    assert event["hint"].startswith(
        "2 frames of 9 bytes starting ff 86 came, and none holds the mhz19 preset's checksum "
        "(twos8 from byte 1): line noise or the serial settings spoil them, or they are a "
        "clone's"
    ), event["hint"]
    assert event["hint"].endswith(
        "frame = { start = '\\xff\\x86', length = 9, checksum = \"none\", boot_bytes = "
        "'\\x00\\x3a\\x98', boot_offset = 5, boot_mask = '\\xfe\\xff\\xff', fields = "
        '[{ name = "co2_ppm", offset = 2, type = "u16be" }, { name = "temperature_celsius", '
        'offset = 4, type = "u8", bias = -40.0, not_available = [0] }] }'
    )


def test_a_frame_table_of_the_sensors_own_keeps_the_frame_spec_hint() -> None:
    """A sensor whose own frame table replaces the preset's (checksum xor8 here) has a frame
    spec of its own to check: its hint says so, not the preset's."""
    own = (
        "frame = { start = '\\xff\\x86', length = 9, checksum = \"xor8\", checksum_start = 1, "
        'fields = [{ name = "co2_ppm", offset = 2, type = "u16be" }] }\n'
        'channels = [{ name = "co2_ppm" }]\n'
    )
    frames = b"".join(mhz19_frame(co2, "sum8") for co2 in (612, 615, 611))
    with PtyPair() as pair:
        event = stale_event(pair, MHZ19 + own, frames)
    assert event["hint"].endswith("check the frame spec's length and checksum"), event["hint"]


def test_a_simulated_sensor_gone_stale_is_told_of_its_simulation_not_of_wiring() -> None:
    """A ``sim://`` sensor whose ``stale_after_s`` is shorter than its simulated device's
    frame interval goes stale with no byte between frames: the hint names the device's pace,
    not a cable."""
    event = silent_stale_event(
        '[[sensors]]\nname = "s"\nport = "sim://s"\nsampling_rate_hz = 0.1\n'
        f"stale_after_s = 2\n{VALUE}"
    )
    assert event["hint"] == (
        "no bytes came from the simulated device: it sends a frame every 10 s "
        "(sampling_rate_hz), and nothing during a dropout ([sensors.simulation] dropout_rate, "
        "dropout_s)"
    )


#: the IKEA VINDRIKTNING's PM1006 as the README's frame spec reads it
PM1006 = """format = "frames"
frame = { start = '\\x16\\x11\\x0b', length = 20, checksum = "twos8", silence_s = 0.5, fields = [
  { name = "pm2_5", offset = 5, type = "u16be" },
] }
channels = [{ name = "pm2_5_ug_m3", field = "pm2_5" }]
"""


def pm1006_frame(pm2_5: int) -> bytes:
    body = b"\x16\x11\x0b\x00\x00" + pm2_5.to_bytes(2, "big") + bytes(12)
    return body + bytes([-sum(body) % 256])


def mhz19_answer(co2: int) -> bytes:
    body = b"\xff\x86" + co2.to_bytes(2, "big") + b"\x3f\x00\x00\x00"
    return body + bytes([-sum(body[1:]) % 256])


@pytest.mark.parametrize(
    ("table", "frame", "hint"),
    [
        (PMS, PMS_FRAME, "a frame began (42 4d) and stopped after 16 of its 32 bytes"),
        (PM1006, pm1006_frame(17), "a frame began (16 11 0b) and stopped after 10 of its 20 bytes"),
        (
            'preset = "mhz19"\nwarmup_s = 0\n',
            mhz19_answer(612),
            "a frame began (ff 86) and stopped after 4 of its 9",
        ),
    ],
)
def test_a_device_that_stops_in_the_middle_of_a_frame_is_told_so(
    table: str, frame: bytes, hint: str
) -> None:
    """Its power cut as it sent a frame: the start of one frame, and nothing after it, is no
    damage on the line and no wrong spec, whatever the frames rejected before."""
    broken = frame[:-1] + bytes([frame[-1] ^ 1])
    with PtyPair() as pair:
        event = stale_event(pair, table, frame[: len(frame) // 2], first=frame + broken + frame)
    assert event["bytes_since_frame"] == len(frame) // 2
    assert event["hint"].startswith(hint), event["hint"]
    assert "stopped sending in the middle of a frame" in event["hint"]
    assert "damaged" not in event["hint"]


@pytest.mark.parametrize(
    ("table", "frame", "hint"),
    [
        (
            PMS,
            PMS_FRAME,
            "a frame began (42 4d) and stopped after 16 of its 32 bytes, where a new frame "
            "began (the device restarted in the middle of a frame: its power cut or sagging); "
            "the last stopped after 8 of its 32 bytes, and nothing came after it",
        ),
        (
            PM1006,
            pm1006_frame(17),
            "a frame began (16 11 0b) and stopped after 10 of its 20 bytes, where a new frame "
            "began (the device restarted in the middle of a frame: its power cut or sagging); "
            "the last stopped after 5 of its 20 bytes, and nothing came after it",
        ),
    ],
)
def test_a_device_that_restarts_in_the_middle_of_a_frame_is_told_so(
    table: str, frame: bytes, hint: str
) -> None:
    """The start of a frame, then the start of a new one within the first frame's length (the
    device restarted as it sent, and began again), then nothing: the first frame stopped where
    the second began, and it is the second after which nothing came."""
    with PtyPair() as pair:
        cut = frame[: len(frame) // 2] + frame[: len(frame) // 4]
        event = stale_event(pair, table, cut, first=frame)
    assert event["bytes_since_frame"] == len(cut)
    assert event["hint"].startswith(hint), event["hint"]
    assert "damaged" not in event["hint"]


def test_a_frame_cut_short_after_frames_restarted_twice_counts_the_restarts() -> None:
    """Three starts of a frame, each cut short by the next: the hint counts the new frames and
    says what came of the last one."""
    with PtyPair() as pair:
        cut = PMS_FRAME[:6] + PMS_FRAME[:8] + PMS_FRAME[:5]
        event = stale_event(pair, PMS, cut, first=PMS_FRAME)
    assert event["hint"].startswith(
        "a frame began (42 4d) and stopped after 6 of its 32 bytes, where a new frame began "
        "(2 times; the device restarted in the middle of a frame: its power cut or sagging); "
        "the last stopped after 5 of its 32 bytes, and nothing came after it"
    ), event["hint"]


def test_a_whole_frame_after_a_frame_cut_short_is_told_to_wait_for_its_length() -> None:
    """A PMS5003's reply to a command (8 bytes, whole) after the start of a data frame that
    stopped: the reply is held back until the 32 bytes the first frame announced have come,
    and the hint says so rather than that it stopped."""
    reply = b"\x42\x4d\x00\x04\xe1\x00\x01\x74"  # its sum16be last
    with PtyPair() as pair:
        event = stale_event(pair, PMS, PMS_FRAME[:10] + reply, first=PMS_FRAME)
    assert event["hint"].startswith(
        "a frame began (42 4d) and stopped after 10 of its 32 bytes, where a new frame began "
        "(the device restarted in the middle of a frame: its power cut or sagging); the last "
        "is whole, and waits until the 32 bytes of the first have come"
    ), event["hint"]


def test_a_polled_device_at_other_line_settings_is_pointed_at_them() -> None:
    """An MH-Z19 at 9600 baud asked at 19200: its request reaches it as garbage, and it
    answers nothing. No byte comes, so the hint is of a silent device; it names the serial
    settings, and never says that a wrong baud rate would still bring bytes."""
    clock = Clock()
    with PtyPair() as pair:
        assert pair.master_fd is not None
        config = parse_config(
            f'[[sensors]]\nname = "s"\nport = "{pair.path}"\npreset = "mhz19"\n'
            "serial = { baudrate = 19200 }\nwarmup_s = 0\n"
        ).sensors[0]
        runtime = SensorRuntime(config, clock=clock, wall_clock=clock)
        assert runtime.try_open()
        heard = b""
        try:
            with capture_logs() as logs:
                for _ in range(30):
                    clock.now += 1.0
                    runtime.tick(clock.now)
                    while wait_readable(pair.master_fd, 0.01):
                        heard += uart_received(os.read(pair.master_fd, 256), 19200, 9600)
            assert runtime.state == "stale"
        finally:
            runtime.stop()
    assert heard
    assert command_bytes("mhz19", "read") not in heard
    [event] = [e for e in logs if e.get("state") == "stale"]
    assert event["hint"].startswith("no bytes came: check the wiring"), event["hint"]
    assert "the serial settings (baudrate, parity) against the device's" in event["hint"]
    assert "would still bring bytes" not in event["hint"]
