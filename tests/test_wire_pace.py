"""The real daemon against devices whose bytes come at the line's pace, as serial hardware
delivers them, not a whole frame per read: a PMS5003 streaming its 32-byte frames at 9600
baud, one byte per read (an adapter that passes bytes on as they come) and in an FTDI
adapter's 16 ms packets, and two Modbus RTU devices (pymodbus's serial server) whose
answers reach the bus one character time apart."""

from __future__ import annotations

import struct
import time

import pytest
from harness.common import wait_for
from harness.daemon import StartDaemon
from harness.modbus import ModbusServer, PtyRelay
from harness.pty import PtyPair, SymlinkedPty
from harness.wire import FTDI_LATENCY_S, char_s, paced

from sensord.formats.presets import PRESETS

pytestmark = pytest.mark.slow

BAUD = 9600

#: The PMS5003 preset's channels, one per data word from the first.
PMS_CHANNELS = tuple(channel["name"] for channel in PRESETS["pms5003"]["channels"])


def pms_frame(words: list[int]) -> bytes:
    """A PMS5003 data frame (Plantower's datasheet): ``42 4D``, the length 28, 13 data
    words and the 16-bit sum of every byte before it, all big-endian."""
    body = b"\x42\x4d" + struct.pack(">H13H", 28, *words)
    return body + struct.pack(">H", sum(body) & 0xFFFF)


def pms_words(i: int) -> list[int]:
    return [5 + i, 12 + i, 20 + i, 4 + i, 10 + i, 18 + i, 2000 + i, 600, 150, 30, 4, 1, 0]


def modbus_table(name: str, port: str, unit: int, registers: int) -> str:
    regs = ", ".join(
        f'{{ name = "r{i}", table = "holding", address = {i} }}' for i in range(registers)
    )
    chans = ", ".join(f'{{ name = "r{i}" }}' for i in range(registers))
    return (
        f'[[sensors]]\nname = "{name}"\nport = "{port}"\nformat = "modbus"\n'
        f'simulate = "never"\nserial = {{ baudrate = {BAUD} }}\n'
        f"modbus = {{ unit = {unit}, interval_s = 0.5, timeout_s = 0.5 }}\n"
        f"registers = [{regs}]\nchannels = [{chans}]\n"
    )


def pms_table(name: str, port: str) -> str:
    return (
        f'[[sensors]]\nname = "{name}"\nport = "{port}"\npreset = "pms5003"\n'
        f'simulate = "never"\nwarmup_s = 0\nserial = {{ baudrate = {BAUD} }}\n'
    )


def test_frames_and_replies_at_the_wire_rate_are_read_whole(start_daemon: StartDaemon) -> None:
    """Every trickled PMS frame is read, with its values and no error of any reason; every
    Modbus request is answered in time though its 25-byte answer takes 26 ms to come (no
    timeout, no truncated or CRC error), and the round trips are what the line takes: at
    least the answer's time on the wire, far under the timeout. No sensor
    leaves ``up``."""
    frames = 5
    registers = 10
    with (
        PtyPair() as by_byte,
        PtyPair() as by_packet,
        PtyRelay(char_s=char_s(BAUD)) as relay,
        ModbusServer([1, 2], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [100 + i for i in range(registers)])
        server.set(2, "holding", 0, [200 + i for i in range(registers)])
        config = "\n".join(
            [
                pms_table("pms_byte", by_byte.path),
                pms_table("pms_ftdi", by_packet.path),
                modbus_table("meter1", relay.near.path, 1, registers),
                modbus_table("meter2", relay.near.path, 2, registers),
            ]
        )
        daemon = start_daemon(config=config)
        daemon.wait_http()
        daemon.wait_state("up", timeout_s=10)
        started = time.monotonic()
        sent_at = 0.0
        for i in range(frames):
            frame = pms_frame(pms_words(i))
            paced(by_byte.write, frame, BAUD)
            paced(by_packet.write, frame, BAUD, FTDI_LATENCY_S)
            sent_at = time.time()
            time.sleep(0.2)
        daemon.wait_frames({"pms_byte": frames, "pms_ftdi": frames}, timeout_s=5)

        def polled() -> bool:
            sensors = daemon.status()["sensors"]
            return all(sensors[m]["modbus"]["transactions"] >= 6 for m in ("meter1", "meter2"))

        wait_for(polled, 10, "6 answers from each meter")
        elapsed = time.monotonic() - started
        status = daemon.status()["sensors"]
        scrape = daemon.scrape()

        want = dict(zip(PMS_CHANNELS, map(float, pms_words(frames - 1)), strict=False))
        for name in ("pms_byte", "pms_ftdi"):
            pms = status[name]
            assert pms["frames"] == frames
            assert pms["bytes_read"] == 32 * frames
            assert set(pms["parse_errors"].values()) == {0}, pms["parse_errors"]
            assert (pms["skipped_bytes"], pms["ignored_frames"]) == (0, 0)
            values = {ch: c["value"] for ch, c in pms["channels"].items()}
            assert values == want
            stamp = pms["channels"]["pm2_5_ug_m3"]["timestamp"]
            assert sent_at - 0.25 <= stamp <= sent_at + 0.1, (stamp, sent_at)

        # the answer's 25 bytes on the wire: the relay passes the requests on at once, and
        # each byte of an answer one character time after the one before
        wire_s = (5 + 2 * registers - 1) * char_s(BAUD)
        for unit, name in ((1, "meter1"), (2, "meter2")):
            meter = status[name]
            modbus = meter["modbus"]
            assert modbus["timeouts"] == 0
            assert set(modbus["errors"].values()) == {0}, modbus["errors"]
            # every 0.5 s since the bus opened, one exchange at a time
            assert modbus["transactions"] >= 0.8 * elapsed / 0.5, (modbus, elapsed)
            values = {ch: c["value"] for ch, c in meter["channels"].items()}
            assert values == {f"r{i}": float(100 * unit + i) for i in range(registers)}
            count = scrape.value("sensord_modbus_round_trip_seconds_count", sensor=name)
            mean = scrape.value("sensord_modbus_round_trip_seconds_sum", sensor=name) / count
            assert count == modbus["transactions"]
            assert wire_s <= mean <= 0.2, (mean, wire_s)

        changes = [r for r in daemon.events("sensor state") if r.get("previous") != "opening"]
        assert changes == [], changes


@pytest.mark.parametrize(
    ("table", "whole", "cut", "after", "channel", "value"),
    [
        (
            'format = "value"\nterminator = "\\r\\n"\n',
            b"21.5\r\n",
            b"22.",  # of 22.75: unplugged before the rest came
            b"23.25\r\n",
            "v",
            23.25,
        ),
        (
            'preset = "pms5003"\nwarmup_s = 0\n',
            pms_frame(pms_words(0)),
            pms_frame(pms_words(1))[:16],
            pms_frame(pms_words(2)),
            "pm2_5_ug_m3",
            12.0,
        ),
    ],
    ids=["value", "pms5003"],
)
def test_a_frame_cut_by_an_unplug_is_counted_as_skipped(
    start_daemon: StartDaemon,
    linked_pty: SymlinkedPty,
    *,
    table: str,
    whole: bytes,
    cut: bytes,
    after: bytes,
    channel: str,
    value: float,
) -> None:
    """A device unplugged while it sends a frame: the bytes of the frame that came are
    counted in ``skipped_bytes`` when the port is opened again (they were dropped without a
    count but for NMEA), and the frame after the replug is read alone."""
    config = (
        f'[[sensors]]\nname = "dev"\nport = "{linked_pty.link}"\nsimulate = "never"\n'
        f"{table}reconnect = {{ initial_delay_s = 0.05, max_delay_s = 0.2 }}\n"
    )
    if "preset" not in table:
        config += '[[sensors.channels]]\nname = "v"\n'
    daemon = start_daemon(config=config)
    daemon.wait_http()
    # the device begins each time once the port is open past CUT_LINE_S: a text line that
    # came sooner would be dropped as the tail of one begun before the open, which would
    # also hide whether the bytes of the cut frame, still held at the unplug, were dropped
    # (the frame after the replug would be dropped with them)
    daemon.wait_up_settled(timeout_s=10)
    paced(linked_pty.pty.write, whole + cut, BAUD)
    daemon.wait_sensors(
        lambda s: s["bytes_read"] == len(whole + cut), ["dev"], 5, "the cut frame read"
    )
    linked_pty.unplug()
    daemon.wait_state("down", timeout_s=5)
    linked_pty.replug()
    daemon.wait_up_settled(timeout_s=5)
    paced(linked_pty.pty.write, after, BAUD)
    daemon.wait_frames({"dev": 2}, timeout_s=5)
    dev = daemon.status()["sensors"]["dev"]
    assert dev["skipped_bytes"] == len(cut)
    assert set(dev["parse_errors"].values()) == {0}, dev["parse_errors"]
    assert dev["frames"] == 2
    assert dev["channels"][channel]["value"] == value
