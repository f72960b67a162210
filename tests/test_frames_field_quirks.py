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
* An SDS011 asleep that answers the first ``work`` command with five bytes of no frame
  (``AD 50 10 5E DD``) and the second with ``AA C5 06 01 01 00 EC E1 D5 AB``, the bytes
  recorded in lewapek/sds-dust-sensors-arduino-library issue #6 ("Issue when waking up").
"""

from __future__ import annotations

import collections
import os
import random
from typing import Any

from harness.pty import PtyPair, wait_readable
from structlog.testing import capture_logs
from test_frames_commands import Clock, pms_frame, read_all, sensor_config

from sensord.formats.presets import command_bytes
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
        assert pair.master_fd is not None
        start = clock.now
        while (due := rt.next_deadline()) is not None and due <= start + 10.0:
            clock.now = max(clock.now, due)
            rt.tick(clock.now)
            written = b""
            while wait_readable(pair.master_fd, 0.02):
                written += os.read(pair.master_fd, 256)
            if written:
                writes[written] += 1
                feed(rt, pair, garbled if writes[work] == 1 else reply)
        feed(rt, pair, b"".join(frames))
        rt.stop()
    assert writes == {work: 2}
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert rt.dialogue is not None
    assert rt.dialogue.acknowledged == {"work"}
    assert published(rt, "pm10_ug_m3") == 3
    assert rt.framer.skipped_bytes == len(garbled)
    assert not [e for e in logs if e["event"] == "set-up command not acknowledged"]
