"""Whatever bytes a Modbus RTU line carries, the bus never raises: noise, pieces of frames and
frames of any function code, idle or with an exchange in flight, at any time. The bus runs on
a real pseudo-terminal (its requests are written there); the bytes are fed to it directly, in
the chunks hypothesis draws, between timer ticks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from harness.pty import PtyPair
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensord.bus import Bus
from sensord.config import Config
from sensord.errors import SourceBrokenError
from sensord.formats.modbus import crc16
from sensord.sensor import SensorRuntime


def device(name: str, port: str, unit: int) -> dict[str, Any]:
    return {
        "name": name,
        "port": port,
        "format": "modbus",
        "modbus": {"unit": unit, "interval_s": 0.05, "timeout_s": 0.1},
        "registers": [{"name": "a", "table": "holding", "address": 0}],
        "channels": [{"name": "a"}],
        "serial": {"baudrate": 9600},
    }


def rtu(body: bytes) -> bytes:
    return body + crc16(body).to_bytes(2, "little")


#: Pieces a line may carry: noise, and frames of the bus's units (1, 2) and others, any
#: function code (0x18, FIFO queue, makes pymodbus read a byte count past short bytes), whole,
#: cut, or with a spoilt CRC.
pieces = st.one_of(
    st.binary(min_size=1, max_size=12),
    st.builds(
        lambda unit, function, payload, cut, spoil: (
            rtu(bytes([unit, function]) + payload)[: None if cut == 0 else cut]
            if not spoil
            else bytes([unit, function]) + payload + b"\x00\x00"
        ),
        st.sampled_from([0, 1, 2, 3, 247]),
        st.sampled_from([1, 2, 3, 4, 0x18, 0x2B, 0x83, 0x84, 0x90]),
        st.binary(max_size=8),
        st.integers(0, 6),
        st.booleans(),
    ),
)


@contextlib.contextmanager
def open_bus(clock: list[float], attempts: int = 5) -> Iterator[Bus]:
    """A bus of two devices on a new pty, open. A daemon of a parallel test that reopens a
    pty it lost by its path (an unplug test) may hold a new pty of that number: the bus is
    then opened on another new pty (the kernel hands out the lowest free number, and the
    held one is not free)."""
    with contextlib.ExitStack() as ptys:
        for _ in range(attempts):
            pair = ptys.enter_context(PtyPair())
            errors: list[str] = []
            config = Config.load(
                {"sensors": [device("one", pair.path, 1), device("two", pair.path, 2)]}, "", errors
            )
            assert config is not None, errors
            runtimes = [SensorRuntime(s, clock=lambda: clock[0]) for s in config.sensors]
            bus = Bus("bus:" + pair.path, config.sensors[0], clock=lambda: clock[0])
            for runtime in runtimes:
                bus.add(runtime)
            if bus.try_open():
                yield bus
                return
            bus.stop()
        raise AssertionError(f"no new pty could be opened in {attempts} attempts")


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(st.tuples(pieces, st.floats(0.0, 0.3)), min_size=1, max_size=25))
def test_no_bytes_make_the_bus_raise(steps: list[tuple[bytes, float]]) -> None:
    clock = [1000.0]
    with open_bus(clock) as bus:
        try:
            bus.tick(clock[0])
            for chunk, advance in steps:
                bus.feed(chunk)
                clock[0] += advance
                bus.tick(clock[0])
                due = bus.next_deadline()
                assert due is None or due > clock[0] - 1e-9  # no deadline left in the past
        finally:
            bus.stop()


def _until_in_flight(bus: Bus, clock: list[float]) -> Any:
    for _ in range(400):
        clock[0] += 0.01
        bus.tick(clock[0])
        if bus.in_flight is not None:
            return bus.in_flight
    raise AssertionError("no request went out")


def test_a_cut_off_answer_counts_to_its_device_not_the_next() -> None:
    """The start of one device's answer, dropped at its timeout or before the next request,
    is that device's skipped bytes, told at once, not the next device's later."""
    clock = [1000.0]
    with open_bus(clock) as bus:
        first = _until_in_flight(bus, clock).device
        bus.feed(bytes([first.unit, 3, 2]))  # cut off
        while bus.in_flight is not None and bus.in_flight.device is first:
            clock[0] += 0.01
            bus.tick(clock[0])
        after = _until_in_flight(bus, clock)
        assert after.device is not first
        assert first.sensor.bus_skipped_bytes == 3  # told when it was dropped
        bus.feed(rtu(bytes([after.device.unit, 3, 2, 0, 7])))
        bus.stop()
        assert first.sensor.bus_skipped_bytes == 3
        assert after.device.sensor.bus_skipped_bytes == 0


def test_bytes_after_their_device_was_removed_are_no_other_device_s() -> None:
    clock = [1000.0]
    with open_bus(clock) as bus:
        first = _until_in_flight(bus, clock).device
        bus.remove(first.sensor.name)
        bus.feed(b"\x55\xaa\x00\xff\x13\x01\x02")
        after = _until_in_flight(bus, clock)
        bus.feed(rtu(bytes([after.device.unit, 3, 2, 0, 7])))
        bus.stop()
        assert after.device.sensor.bus_skipped_bytes == 0


def test_a_request_whose_write_fails_is_kept_for_the_next_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A write that fails (a network connection its gateway closed while idle, found at the
    write) took the request with it; it is put back first in its device's queue, which an
    idle close keeps for the next connection (a lost bus's reopen starts afresh anyway).
    The failing write is the boundary replaced here: it cannot be had on demand."""
    clock = [1000.0]
    with open_bus(clock) as bus:
        first = _until_in_flight(bus, clock)
        bus.feed(rtu(bytes([first.device.unit, 4, 2, 0, 7])))
        source = bus.source
        assert source is not None

        def fails(data: bytes) -> bool:
            raise SourceBrokenError("meter", "Broken pipe")

        monkeypatch.setattr(source, "try_write", fails)
        asked: list[Any] = []
        for _ in range(400):
            clock[0] += 0.01
            pending = {name: list(d.pending) for name, d in bus.devices.items()}
            bus.tick(clock[0])
            if bus.source is None:  # the write failed: the bus is closed
                asked = [d for d in bus.devices.values() if d.pending]
                break
        assert bus.source is None
        assert asked, pending
        bus.stop()


@pytest.mark.parametrize("inner_unit", [1, 5])
def test_registers_that_hold_a_whole_frame_are_read_when_the_reply_comes_in_pieces(
    inner_unit: int,
) -> None:
    """A reply of ten registers whose values hold the bytes of an exception frame, CRC and
    all (01 83 02 C0 F1: unit 1 refusing function 3 with code 2), comes in two pieces, the
    first ending past that frame: the frame inside the reply coming is no frame, and the
    registers are read. (The frame was taken out of the reply: the device refused the read,
    which was split in two, or, of unit 5, an unasked frame; the reply was lost as ``crc``.)"""
    clock = [1000.0]
    registers = [{"name": f"r{i}", "table": "holding", "address": i} for i in range(10)]
    with PtyPair() as pair:
        table = device("one", pair.path, 1) | {"registers": registers}
        table["channels"] = [{"name": f"r{i}"} for i in range(10)]
        errors: list[str] = []
        config = Config.load({"sensors": [table]}, "", errors)
        assert config is not None, errors
        runtime = SensorRuntime(config.sensors[0], clock=lambda: clock[0])
        bus = Bus("bus:" + pair.path, config.sensors[0], clock=lambda: clock[0])
        bus.add(runtime)
        assert bus.try_open()
        try:
            flight = _until_in_flight(bus, clock)
            assert flight.expected.read.count == 10
            inner = rtu(bytes([inner_unit, 0x83, 2]))
            data = bytes([0, 1, 0, 2]) + inner + bytes(11)
            reply = rtu(bytes([1, 3, 20]) + data)
            cut = 3 + 4 + len(inner) + 1
            bus.feed(reply[:cut])
            clock[0] += 0.005
            bus.tick(clock[0])
            bus.feed(reply[cut:])
            assert bus.in_flight is not flight
            read = {}
            for name, channel in runtime.channels.items():
                window = channel.chain.window
                assert window is not None
                assert window.last is not None, name
                read[name] = window.last.reading.value
            assert read == {f"r{i}": int.from_bytes(data[2 * i : 2 * i + 2]) for i in range(10)}
            assert not any(flight.device.counters.errors.values())
            assert runtime.bus_skipped_bytes == 0
        finally:
            bus.stop()
