"""Modbus: the codec (references, planning, orders, framing) and buses of devices read from
real pymodbus servers (RTU on a pty pair, RTU over TCP, Modbus TCP)."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from harness.common import REPO, wait_for
from harness.config import load_sensors as load
from harness.config import write_atomically
from harness.daemon import StartDaemon
from harness.host_lag import HostLag, held_past, steadily
from harness.line_player import LinePlayer
from harness.modbus import (
    ModbusServer,
    PtyRelay,
    TcpGateway,
    read_all,
    rtu_frame,
    run_reader_until,
)
from harness.modbus_devices import ModbusDevices
from harness.pty import Rfc2217Server, SymlinkedPty, pty_numbers_held, wait_readable
from harness.replay import counts, replay_counts
from harness.spawn import popen
from hypothesis import assume, given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from sensord import probe_wire
from sensord.bus import Bus
from sensord.capture import RX, parse_capture
from sensord.cli import main
from sensord.cli_check import tcp_reachable
from sensord.config import Config
from sensord.config_sensor import SensorConfig
from sensord.demo import demo_config
from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec, ModbusSpec, RegisterSpec, float32_decimal
from sensord.formats.modbus import (
    EXCEPTION_NAMES,
    ModbusLink,
    Request,
    response_frame,
)
from sensord.formats.modbus_device import DeviceModel
from sensord.formats.modbus_keys import parse_reference, reference_of
from sensord.formats.modbus_plan import Read, plan, split
from sensord.modbus_state import ModbusCounters, Refusal
from sensord.modbus_timing import FAST_SILENCE_S, silence_s
from sensord.probe_wire import drain_limit_s
from sensord.reader import Reader
from sensord.sensor import SensorRuntime
from sensord.serial_settings import SerialSettings
from sensord.shard import shard_sensors
from sensord.sources.serial_port import SerialSource
from sensord.sources.simulated_modbus import RtuResponder, SimulatedModbusDevice

# -- building configurations ---------------------------------------------------------------------


def device(
    name: str, port: str, unit: int, registers: list[dict[str, Any]], **modbus: Any
) -> dict[str, Any]:
    """A ``format = "modbus"`` sensor table with a channel per register."""
    return {
        "name": name,
        "port": port,
        "format": "modbus",
        "modbus": {"unit": unit, **modbus},
        "registers": registers,
        "channels": [{"name": r["name"]} for r in registers],
        "reconnect": {"initial_delay_s": 0.5, "max_delay_s": 2.0},
    }


def load_errors(*sensors: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    Config.load({"sensors": list(sensors)}, "", errors)
    return errors


def latest(runtime: SensorRuntime) -> dict[str, float | None]:
    return {
        ch.name: None if ch.stats is None else ch.stats.reading.value
        for ch in runtime.snapshot().channels
    }


def reg(name: str, table: str, address: int, type_: str = "uint16", **kw: Any) -> RegisterSpec:
    return RegisterSpec(name, table, address, type_, **kw)


# -- references and planning ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "want"),
    [
        ("40001", ("holding", 0)),
        ("40101", ("holding", 100)),
        ("30001", ("input", 0)),
        ("10010", ("discrete", 9)),
        ("00001", ("coil", 0)),
        ("400001", ("holding", 0)),
        ("365536", ("input", 65535)),
    ],
)
def test_reference_is_table_and_zero_based_address(ref: str, want: tuple[str, int]) -> None:
    assert parse_reference(ref) == want


@pytest.mark.parametrize("ref", ["40000", "50001", "4001", "4000001", "4x001", "465537"])
def test_reference_that_is_not_one_is_refused(ref: str) -> None:
    with pytest.raises(ValueError, match=r"must|run from"):
        parse_reference(ref)


def test_adjacent_values_share_a_read_and_gaps_split_them() -> None:
    registers = (
        reg("a", "holding", 0, "float32"),
        reg("b", "holding", 2, "uint16"),
        reg("c", "holding", 5, "int32"),
        reg("d", "input", 3, "int16"),
        reg("e", "coil", 7, "bool"),
        reg("f", "coil", 9, "bool"),
    )
    tight = plan(ModbusSpec(1, "rtu", registers, max_gap=0))
    assert [(r.table, r.address, r.count) for r in tight] == [
        ("holding", 0, 3),
        ("holding", 5, 2),
        ("input", 3, 1),
        ("coil", 7, 1),
        ("coil", 9, 1),
    ]
    loose = plan(ModbusSpec(1, "rtu", registers, max_gap=2))
    assert [(r.table, r.address, r.count) for r in loose] == [
        ("holding", 0, 7),
        ("input", 3, 1),
        ("coil", 7, 3),
    ]
    # refused, a merged read splits where the merge spanned a gap: a and b, then c
    assert [(r.address, r.count) for r in split(loose[0])] == [(0, 3), (5, 2)]


def test_a_read_never_exceeds_the_protocol_limits() -> None:
    registers = tuple(reg(f"r{i}", "holding", i * 2, "float32") for i in range(100))
    reads = plan(ModbusSpec(1, "rtu", registers, max_gap=0))
    assert [(r.address, r.count) for r in reads] == [(0, 124), (124, 76)]
    coils = tuple(reg(f"c{i}", "coil", i, "bool") for i in range(2500))
    assert [(r.address, r.count) for r in plan(ModbusSpec(1, "rtu", coils))] == [
        (0, 2000),
        (2000, 500),
    ]


# -- values in every type and order --------------------------------------------------------------

#: type -> (struct format of the value, a value that shows every byte's position)
SAMPLES = {
    "int16": (">h", -12345),
    "uint16": (">H", 0xBEEF),
    "int32": (">i", -123456789),
    "uint32": (">I", 0xDEADBEEF),
    "int64": (">q", -1234567890123456789),
    "uint64": (">Q", 0xFEDCBA9876543210),
    "float32": (">f", 1234.5),
    "float64": (">d", -98765.4321),
}


def words_of(type_: str, value: float, byte_order: str, word_order: str) -> list[int]:
    """The registers a device sends ``value`` in, computed with struct (independent of the
    code under test): big-endian bytes, the words reversed for word order little, each
    word's bytes swapped for byte order little."""
    fmt, _ = SAMPLES[type_]
    raw = struct.pack(fmt, value)
    words = [raw[i : i + 2] for i in range(0, len(raw), 2)]
    if word_order == "little":
        words.reverse()
    if byte_order == "little":
        words = [w[::-1] for w in words]
    return [int.from_bytes(w, "big") for w in words]


ORDERS = [(b, w) for b in ("big", "little") for w in ("big", "little")]


@pytest.mark.parametrize("type_", sorted(SAMPLES))
@pytest.mark.parametrize(("byte_order", "word_order"), ORDERS)
def test_every_type_in_every_order_decodes(type_: str, byte_order: str, word_order: str) -> None:
    _, value = SAMPLES[type_]
    spec = reg("v", "holding", 10, type_, byte_order=byte_order, word_order=word_order)
    [read] = plan(ModbusSpec(1, "rtu", (spec,)))
    [(name, got)] = read.values(words_of(type_, value, byte_order, word_order))
    assert name == "v"
    assert got == pytest.approx(value, rel=1e-7)
    assert read.words({"v": value}) == words_of(type_, value, byte_order, word_order)


def modbus_format(*registers: RegisterSpec, transport: str = "rtu", max_gap: int = 0) -> FormatSpec:
    return FormatSpec(
        "modbus",
        tuple((r.name, r.name) for r in registers),
        modbus=ModbusSpec(7, transport, registers, max_gap),
    )


value_types = st.sampled_from(sorted(SAMPLES))


@given(
    types=st.lists(value_types, min_size=1, max_size=6),
    orders=st.sampled_from(ORDERS),
    transport=st.sampled_from(["rtu", "tcp"]),
    gap=st.integers(0, 3),
    data=st.data(),
)
def test_encoder_and_decoder_round_trip(
    types: list[str], orders: tuple[str, str], transport: str, gap: int, data: st.DataObject
) -> None:
    registers = []
    address = 0
    values: dict[str, float] = {}
    for i, type_ in enumerate(types):
        name = f"v{i}"
        registers.append(
            reg(name, "holding", address, type_, byte_order=orders[0], word_order=orders[1])
        )
        address += {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}.get(type_, 4)
        address += data.draw(st.integers(0, 2))
        fmt, _ = SAMPLES[type_]
        if type_.startswith("float"):
            values[name] = float(data.draw(st.integers(-(10**6), 10**6)))
        else:
            bits = min(struct.calcsize(fmt) * 8, 53)  # a reading is a float: 53-bit integers
            lo, hi = (
                (0, 2**bits - 1)
                if type_.startswith("u")
                else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
            )
            values[name] = float(data.draw(st.integers(lo, hi)))
    spec = modbus_format(*registers, transport=transport, max_gap=gap)
    codec = codec_for("modbus")
    assert codec.check(spec) == []
    decode = codec.decoder(spec)
    got: dict[str, float] = {}
    for frame in codec.encoder(spec)(values, 0.0):
        got.update(decode(frame))
    assert got == values


def test_coils_and_discrete_inputs_read_as_bools() -> None:
    spec = modbus_format(
        reg("a", "coil", 3, "bool"), reg("b", "coil", 4, "bool"), reg("c", "discrete", 0, "bool")
    )
    codec = codec_for("modbus")
    decode = codec.decoder(spec)
    got: dict[str, float] = {}
    for frame in codec.encoder(spec)({"a": 1.0, "b": 0.0, "c": 1.0}, 0.0):
        got.update(decode(frame))
    assert got == {"a": 1.0, "b": 0.0, "c": 1.0}


@pytest.mark.parametrize("orders", ORDERS)
def test_a_simulated_float32_beyond_its_range_is_held_as_the_largest_float32(
    orders: tuple[str, str],
) -> None:
    # a channel's signal may run past what a float32 holds (center = 1e39): the simulated
    # device holds the largest float32 of that sign, as the frame simulator does, instead of
    # the pack's OverflowError failing the simulated bus at every poll
    spec = modbus_format(
        reg("a", "holding", 0, "float32", byte_order=orders[0], word_order=orders[1]),
        reg("b", "holding", 2, "float32", byte_order=orders[0], word_order=orders[1]),
        reg("c", "holding", 4, "float64", byte_order=orders[0], word_order=orders[1]),
    )
    codec = codec_for("modbus")
    decode = codec.decoder(spec)
    got: dict[str, float] = {}
    for frame in codec.encoder(spec)({"a": 1e39, "b": -1e300, "c": 1e300}, 0.0):
        got.update(decode(frame))
    largest = struct.unpack(">f", bytes.fromhex("7f7fffff"))[0]  # a float32's 3.4028235e38
    assert got == {
        "a": pytest.approx(largest, rel=1e-7),
        "b": pytest.approx(-largest, rel=1e-7),
        "c": 1e300,
    }


def exchange_frames(transport: str) -> list[bytes]:
    """Every exchange frame of a device reading three tables, as the bus hands them over."""
    spec = modbus_format(
        reg("a", "holding", 0, "float32"),
        reg("b", "input", 10, "int16"),
        reg("c", "coil", 3, "bool"),
        transport=transport,
    )
    return codec_for("modbus").encoder(spec)({"a": 1.5, "b": -7.0, "c": 1.0}, 0.0)


@given(
    transport=st.sampled_from(["rtu", "tcp"]),
    rounds=st.integers(1, 4),
    cuts=st.lists(st.integers(1, 40), max_size=30),
)
def test_exchange_frames_back_to_back_come_out_whole_under_any_chunking(
    transport: str, rounds: int, cuts: list[int]
) -> None:
    # a replay:// capture plays a bus's exchange frames back to back, chunked as it was read
    frames = exchange_frames(transport) * rounds
    stream = b"".join(frames)
    framer = codec_for("modbus").framer(
        modbus_format(reg("a", "holding", 0), transport=transport), b"", 4096
    )
    got: list[bytes] = []
    at = 0
    for cut in [*cuts, len(stream)]:
        got += framer.feed(stream[at : at + cut])
        at += cut
        if at >= len(stream):
            break
    assert got == frames
    assert (framer.frames, framer.skipped_bytes) == (len(frames), 0)


def test_bytes_that_start_no_exchange_are_skipped_and_counted() -> None:
    frames = exchange_frames("rtu")
    framer = codec_for("modbus").framer(modbus_format(reg("a", "holding", 0)), b"", 4096)
    noise = b"\x07\x55\x66\x77"  # no read function code where one would have to be
    assert framer.feed(noise + frames[0] + noise + frames[1]) == frames[:2]
    assert framer.skipped_bytes == 2 * len(noise)
    # the bus's case: each chunk one whole exchange
    assert [framer.feed(f) for f in frames] == [[f] for f in frames]


def test_at_the_end_of_a_capture_a_partial_exchange_is_skipped_bytes() -> None:
    """``flush``: an exchange cut short by the end of a capture is no frame; its bytes are
    skipped and counted, and nothing is held afterwards."""
    frames = exchange_frames("rtu")
    framer = codec_for("modbus").framer(modbus_format(reg("a", "holding", 0)), b"", 4096)
    assert framer.feed(frames[0] + frames[1][:-2]) == frames[:1]
    assert framer.flush() == []
    assert (framer.frames, framer.skipped_bytes) == (1, len(frames[1]) - 2)
    assert framer.feed(frames[1]) == frames[1:2]


@given(st.binary(max_size=80))
def test_decoder_raises_only_parse_errors(frame: bytes) -> None:
    decode = codec_for("modbus").decoder(modbus_format(reg("a", "holding", 0, "float32")))
    with contextlib.suppress(ParseError):
        decode(frame)


def test_register_map_problems_name_the_key() -> None:
    problems = codec_for("modbus").check(
        modbus_format(
            reg("a", "holding", 0, "float32"),
            reg("b", "holding", 1, "uint16"),
            reg("c", "coil", 0, "int16"),
            reg("d", "input", 65534, "float64"),
        )
    )
    assert problems == [
        (
            "registers[1].address",
            "holding address 1 is already read by registers[0] ('a', a float32 at holding "
            "addresses 0-1)",
        ),
        ("registers[2].type", "a coil holds one bit: the type must be bool, got 'int16'"),
        ("registers[3].address", "a float64 at 65534 runs past the last address 65535"),
    ]


# -- framing -------------------------------------------------------------------------------------


def test_rtu_responses_are_cut_from_any_chunking_and_bad_crcs_skipped() -> None:
    spec = ModbusSpec(7, "rtu", (reg("a", "holding", 0, "uint32"),))
    [read] = plan(spec)
    good = response_frame(spec, read, [0x1234, 0x5678], 0)
    bad = good[:-1] + bytes([good[-1] ^ 0xFF])
    stream = b"\x00\x07" + bad + good
    for size in (1, 2, 3, 5, len(stream)):
        link = ModbusLink("rtu")
        responses = []
        for i in range(0, len(stream), size):
            responses += link.feed(stream[i : i + size])
        assert [(r.unit, r.function_code, r.words) for r in responses] == [(7, 3, [0x1234, 0x5678])]
        assert responses[0].frame == good
        assert link.skipped_bytes == len(stream) - len(good)


def test_tcp_responses_carry_their_transaction_id() -> None:
    spec = ModbusSpec(3, "tcp", (reg("a", "input", 5),))
    [read] = plan(spec)
    link = ModbusLink("tcp")
    [response] = link.feed(response_frame(spec, read, [42], 0x1234))
    assert (response.transaction_id, response.unit, response.function_code, response.words) == (
        0x1234,
        3,
        4,
        [42],
    )
    request = link.request(3, read, 0x0102)
    assert request == bytes.fromhex("0102 0000 0006 03 04 0005 0001".replace(" ", ""))


def test_rtu_request_is_unit_pdu_and_crc() -> None:
    [read] = plan(ModbusSpec(1, "rtu", (reg("a", "holding", 0, "uint32"),)))
    # the request of every Modbus reference document: 01 03 0000 0002, CRC C40B
    assert ModbusLink("rtu").request(1, read) == bytes.fromhex("010300000002c40b")


@pytest.mark.parametrize(
    ("settings", "want_s"),
    [
        (SerialSettings(baudrate=9600), 3.5 * 10 / 9600),
        (SerialSettings(baudrate=9600, parity="E"), 3.5 * 11 / 9600),
        (SerialSettings(baudrate=19200, stopbits=2), 3.5 * 11 / 19200),
        (SerialSettings(baudrate=38400), FAST_SILENCE_S),
        (SerialSettings(baudrate=115200), FAST_SILENCE_S),
    ],
)
def test_silence_is_three_and_a_half_characters(settings: SerialSettings, want_s: float) -> None:
    assert silence_s(settings) == pytest.approx(want_s)


# -- configuration -------------------------------------------------------------------------------


def test_config_errors_name_the_key_path() -> None:
    bad = device(
        "m", "/dev/ttyUSB9", 1, [{"name": "a", "table": "coil", "address": 0, "type": "float32"}]
    )
    ref_and_address = device("n", "/dev/ttyUSB9", 2, [{"name": "b", "ref": "40001", "address": 3}])
    wrong_table = device(
        "o", "/dev/ttyUSB9", 3, [{"name": "c", "ref": "30001", "table": "holding"}]
    )
    same_unit = device("p", "/dev/ttyUSB9", 1, [{"name": "d", "table": "input", "address": 0}])
    errors = load_errors(bad, ref_and_address, wrong_table)
    assert errors == [
        "sensors[0].registers[0].type: a coil holds one bit: the type must be bool, got 'float32'",
        "sensors[1].registers[0].ref: give either ref or address, not both",
        "sensors[2].registers[0].table: is 'holding' but ref '30001' is in table 'input'",
    ]
    six_digits = device(
        "q", "/dev/ttyUSB9", 4, [{"name": "e", "table": "input", "address": 300013}]
    )
    beyond = device("r", "/dev/ttyUSB9", 5, [{"name": "f", "table": "input", "address": 70000}])
    assert load_errors(six_digits, beyond) == [
        "sensors[0].registers[0].address: must be in [0, 65535], got 300013 (a reference such "
        "as 300013 goes in ref, as a string)",
        "sensors[1].registers[0].address: must be in [0, 65535], got 70000",
    ]
    first = device("m", "/dev/ttyUSB9", 1, [{"name": "a", "table": "input", "address": 0}])
    assert load_errors(first, same_unit) == [
        "sensors[1].modbus.unit: 1 is already used by sensors[0] on /dev/ttyUSB9"
        ": each device on a port answers at its own unit id; set modbus.unit to the address this "
        "device is set to (by its DIP switches, its menu or its address register), or, when "
        "both sensors read one device, put their registers in one sensor"
    ]
    # an error elsewhere in either device's table hides no clash of their unit ids
    for broken in (first, same_unit):
        broken["modbus"] = {**broken["modbus"], "timeout_s": -1}
    assert load_errors(first, same_unit) == [
        "sensors[0].modbus.timeout_s: must be in [0.001, 60], got -1",
        "sensors[1].modbus.timeout_s: must be in [0.001, 60], got -1",
        "sensors[1].modbus.unit: 1 is already used by sensors[0] on /dev/ttyUSB9"
        ": each device on a port answers at its own unit id; set modbus.unit to the address this "
        "device is set to (by its DIP switches, its menu or its address register), or, when "
        "both sensors read one device, put their registers in one sensor",
    ]


def test_a_reference_is_normalised_to_table_and_address() -> None:
    config = load(
        device("m", "/dev/ttyUSB9", 1, [{"name": "a", "ref": "30013", "type": "float32"}])
    )
    modbus = config.sensors[0].format_spec().modbus
    assert modbus is not None
    assert modbus.registers[0].table == "input"
    assert modbus.registers[0].address == 12


def test_only_modbus_devices_share_a_port() -> None:
    value = {"name": "v", "port": "/dev/ttyUSB9", "format": "value", "channels": [{"name": "x"}]}
    errors = load_errors(
        device("m", "/dev/ttyUSB9", 1, [{"name": "a", "table": "input", "address": 0}]), value
    )
    assert errors == [
        "sensors[1].port: '/dev/ttyUSB9' is already used by sensors[0] (only Modbus devices "
        "share a port, as a bus)"
    ]
    slow = device("n", "/dev/ttyUSB9", 2, [{"name": "b", "table": "input", "address": 0}])
    slow["serial"] = {"baudrate": 19200, "parity": "E"}
    errors = load_errors(
        device("m", "/dev/ttyUSB9", 1, [{"name": "a", "table": "input", "address": 0}]), slow
    )
    # each setting that differs, named with both values
    assert errors == [
        "sensors[1].serial.baudrate: 19200 differs from 9600, the serial.baudrate of sensors[0], "
        "which opens the same bus /dev/ttyUSB9: the devices of a bus share its settings",
        "sensors[1].serial.parity: 'E' differs from 'N', the serial.parity of sensors[0], which "
        "opens the same bus /dev/ttyUSB9: the devices of a bus share its settings",
    ]


# -- buses against real pymodbus servers -----------------------------------------------------------


def values_of(reader: Reader, name: str) -> dict[str, float | None]:
    return latest(reader.sensors[name])


TYPED_REGISTERS: list[dict[str, Any]] = [
    {
        "name": f"{type_}_{b}_{w}",
        "table": "holding",
        "address": 0,
        "type": type_,
        "byte_order": b,
        "word_order": w,
    }
    for type_ in sorted(SAMPLES)
    for b, w in ORDERS
]


def typed_device(name: str, port: str, unit: int, server: ModbusServer) -> dict[str, Any]:
    """A device reading every type in every order, laid out one after another; the server
    holds each value in the registers struct computes for its order."""
    registers = []
    address = 0
    for entry in TYPED_REGISTERS:
        type_, b, w = entry["type"], entry["byte_order"], entry["word_order"]
        words = words_of(type_, SAMPLES[type_][1], b, w)
        server.set(unit, "holding", address, words)
        registers.append({**entry, "address": address})
        address += len(words)
    return device(name, port, unit, registers, interval_s=0.2, max_gap=0)


def assert_typed_values(values: dict[str, float | None]) -> None:
    for entry in TYPED_REGISTERS:
        want = SAMPLES[entry["type"]][1]
        assert values[entry["name"]] == pytest.approx(want, rel=1e-7), entry["name"]


@pytest.fixture
def tcp_server() -> Iterator[ModbusServer]:
    with ModbusServer([1, 2, 3], "tcp") as server:
        yield server


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["tcp", "rtu-tcp"])
def test_every_type_and_order_from_a_tcp_server(kind: str) -> None:
    with ModbusServer([1], kind) as server:
        config = load(typed_device("m", server.url, 1, server))
        reader = read_all(config, lambda r: all(v is not None for v in values_of(r, "m").values()))
        with reader:
            assert_typed_values(values_of(reader, "m"))
            counters = reader.sensors["m"].modbus
            assert counters is not None
            assert counters.reads == 1  # 80 registers in one merged read
            assert counters.timeouts == 0


@pytest.mark.slow
def test_bytes_on_the_bus_that_make_no_answer_are_counted_as_skipped() -> None:
    """Noise on the line before every other answer (a flood of it on a bad bus): each byte
    the bus drops counts in the device's ``skipped_bytes`` (``/metrics``
    sensord_skipped_bytes_total), as every other sensor's do; before, the only sign was a
    ``crc`` error now and then, and megabytes of garbage read as 0 bytes skipped."""
    replies = [0]
    noise = b"\x55\xaa\x00\xff\x13"

    def noisy(reply: bytes) -> bytes:
        replies[0] += 1
        return noise + reply if replies[0] % 2 else reply

    with one_device_behind(PtyRelay(mangle=noisy), "meter", timeout_s=0.2) as config:
        reader = read_all(config, lambda r: counters_of(r).transactions >= 10)
        reader.close()
    runtime = reader.sensors["meter"]
    assert latest(runtime) == {"a": 7.0}
    skipped = runtime.snapshot().skipped_bytes
    noisy_replies = (replies[0] + 1) // 2
    # every byte of noise (the answer behind it is read all the same); the last noise may
    # have been on its way when the reader stopped
    assert skipped in (noisy_replies * len(noise), (noisy_replies - 1) * len(noise))
    assert skipped >= 4 * len(noise)


@contextlib.contextmanager
def one_device_behind(
    relay: PtyRelay, name: str, timeout_s: float, **reconnect: float
) -> Iterator[Config]:
    """A device ``name`` (unit 1, input register 0: 7, polled every 0.1 s at 115200 baud)
    played by a pymodbus serial server behind ``relay``: the config that reads it
    (``reconnect``: its ``[sensors.reconnect]`` keys other than ``device``'s)."""
    with relay, ModbusServer([1], "serial", relay.far.path) as server:
        server.set(1, "input", 0, [7])
        table = device(
            name,
            relay.near.path,
            1,
            [{"name": "a", "table": "input", "address": 0}],
            interval_s=0.1,
            timeout_s=timeout_s,
        )
        table["serial"] = {"baudrate": 115200}
        table["reconnect"].update(reconnect)
        yield load(table)


def answers(reader: Reader, name: str) -> int:
    """The transactions of the Modbus sensor ``name``: the requests its device answered."""
    modbus = reader.sensors[name].modbus
    return 0 if modbus is None else modbus.transactions


def counters_of(reader: Reader) -> Any:
    modbus = reader.sensors["meter"].modbus
    assert modbus is not None
    return modbus


class AnswerSpan:
    """When each Modbus sensor of ``names`` answered first and last, and its counts then,
    looked at (``look``) at each pass of the reader's loop: a poll rate is measured over that
    span, not from before the reader started (a loaded host's slower start would count as
    polls lost) nor up to the run's end (a poll's missed polls are counted as it starts)."""

    def __init__(self, *names: str) -> None:
        self.names = names
        self.started_at = self.looked_at = time.monotonic()
        #: (time, transactions, polls missed) at the first and at the last answer
        self.first: dict[str, tuple[float, int, int]] = {}
        self.last: dict[str, tuple[float, int, int]] = {}

    def look(self, reader: Reader) -> None:
        now = self.looked_at = time.monotonic()
        for name in self.names:
            modbus = reader.sensors[name].modbus
            if modbus is None or modbus.transactions == self.last.get(name, (0, 0, 0))[1]:
                continue
            self.last[name] = (now, modbus.transactions, modbus.polls_missed)
            self.first.setdefault(name, self.last[name])

    def span(self, name: str, ends_s: float = 1.5) -> tuple[float, int, int]:
        """From ``name``'s first answer to its last: the seconds, the answers after the
        first, the polls missed meanwhile; the span covers the run but for ``ends_s`` at
        its start and end together (a device that stopped answering is no short span)."""
        (first_at, first_answers, first_missed) = self.first[name]
        (last_at, last_answers, last_missed) = self.last[name]
        outside_s = first_at - self.started_at + self.looked_at - last_at
        assert outside_s <= ends_s, (name, first_at - self.started_at, self.looked_at - last_at)
        return last_at - first_at, last_answers - first_answers, last_missed - first_missed


@pytest.mark.slow
def test_a_device_that_keeps_going_down_and_answering_again_is_logged_once_a_minute() -> None:
    """A battery-powered device that answers one request in four goes down and comes back
    every second or two, for months. Its state lines are held to one a minute once it flaps,
    and nothing else is logged per cycle (a bus line, "device answers again", was logged at
    each return: 24,000 lines a day); the up line names its unit."""
    asked = [0]

    def one_in_four(request: bytes) -> bytes | None:
        asked[0] += 1
        return None if asked[0] % 4 == 0 else b""  # b"": the request is lost

    # seven answers: seven returns, 14 state changes after the first up, more than the 13
    # lines allowed below; each return at the device's backoff (0.1 to 0.2 s), all of them
    # within the minute
    flapping = PtyRelay(answer=one_in_four)
    with (
        one_device_behind(
            flapping, "bms", timeout_s=0.1, initial_delay_s=0.1, max_delay_s=0.2
        ) as config,
        capture_logs() as logs,
    ):
        reader = read_all(config, lambda r: answers(r, "bms") >= 7, 20.0)
        reader.close()
    runtime = reader.sensors["bms"]
    assert runtime.modbus is not None
    answered = runtime.modbus.transactions
    assert answered >= 6  # down and back at least six times
    lines = [e for e in logs if e.get("sensor") == "bms" or e["event"].startswith("device")]
    # the first 10 state changes, the flapping notice, a held line a minute, the stop
    assert len(lines) <= 10 + 1 + 1 + 1, [e["event"] for e in lines]
    ups = [e for e in lines if e["event"] == "sensor state" and e["state"] == "up"]
    assert ups[1:]
    assert all(e["unit"] == 1 for e in ups[1:])


#: How long the dead unit's neighbours' server may take to answer past what it takes on a
#: steady host, as ``test_modbus_ten_devices.TURNAROUND_S`` measured it: what an answer takes
#: beyond it is the time the host held the devices' process back.
DEVICE_TURNAROUND_S = 0.01


@pytest.mark.slow
def test_devices_on_an_rtu_bus_keep_their_intervals_past_a_dead_unit() -> None:
    """Devices polled every 0.1 s and 0.3 s keep their intervals beside a dead unit. The
    server and the relay run in a process of their own (``harness.modbus_devices``, which
    keeps the dead unit's requests from the server), the reader loop in the test's thread:
    what the run measures is sensord's loop, not the devices taking the interpreter from it.
    A play in which the host kept that loop waiting for a CPU, the devices' answers past their
    time and the devices' process stalled (``ModbusDevices.stalls_s``) more than 0.3 s in all
    is played again, and the last play's polls are counted against the intervals but for
    those that time took; the neighbours' timeouts are at most the exchanges the devices'
    process answered past their timeout or stalled so long before it read their request,
    none on a steady host."""

    def scenario() -> tuple[tuple[dict[str, Any], float, int], float]:
        values = [
            (1, "input", 0, [111]),
            (2, "holding", 4, words_of("float32", 21.5, "big", "big")),
        ]
        with ModbusDevices([1, 2], values, silent=[9]) as devices:
            fast = device(
                "fast",
                devices.path,
                1,
                [{"name": "a", "table": "input", "address": 0}],
                interval_s=0.1,
                timeout_s=0.15,
            )
            slow = device(
                "slow",
                devices.path,
                2,
                [{"name": "t", "ref": "40005", "type": "float32"}],
                interval_s=0.3,
                timeout_s=0.15,
            )
            dead = device(
                "dead",
                devices.path,
                9,
                [{"name": "x", "table": "input", "address": 0}],
                interval_s=0.1,
                timeout_s=0.15,
            )
            for table in (fast, slow, dead):
                table["serial"] = {"baudrate": 115200}
            config = load(fast, slow, dead)
            start = time.monotonic()
            spans = AnswerSpan("fast", "slow")

            def enough(reader: Reader) -> bool:
                spans.look(reader)
                return time.monotonic() - start > 3.0

            with HostLag() as lag, read_all(config, enough) as reader:
                got = {
                    "runtimes": {n: reader.sensors[n] for n in ("fast", "slow", "dead")},
                    "latest": {n: latest(reader.sensors[n]) for n in ("fast", "slow", "dead")},
                    "states": {n: reader.sensors[n].state for n in ("fast", "slow", "dead")},
                    "spans": spans,
                }
        late_s = sum(
            t - DEVICE_TURNAROUND_S for t in devices.turnarounds_s if t > DEVICE_TURNAROUND_S
        )
        held_s = lag.waited_s + late_s + sum(devices.stalls_s)
        # the neighbours' exchanges the devices' process may have answered past their 0.15 s:
        # those it answered late, and those a stall held up before the relay read them (one
        # stall spoils one exchange per 0.15 s it lasts)
        spoilt = sum(t > 0.15 for t in devices.turnarounds_s) + sum(
            math.ceil(stall / 0.15) for stall in devices.stalls_s if stall >= 0.1
        )
        return (got, held_s, spoilt), held_s

    def held(held_s: float) -> str:
        if held_s <= 0.3:
            return ""
        return (
            f"the host kept the reader loop waiting for a CPU, the devices' answers past their "
            f"time and the devices' process stalled {held_s:.2f} s (over 0.3 s)"
        )

    (got, held_s, spoilt), how = steadily(scenario, held)
    fast_rt, dead_rt = (got["runtimes"][n] for n in ("fast", "dead"))
    assert got["latest"] == {"fast": {"a": 111.0}, "slow": {"t": 21.5}, "dead": {"x": None}}
    # every 0.1 s and every 0.3 s, whatever the dead unit costs (from each one's first
    # answer: about 2.9 s and 29 answers, 2.7 s and 9), but for the polls of the time the
    # host held the loop or the devices back (none on a steady host, where a play is
    # asserted on only when that was 0.3 s at most); the spans cover the run but for 1.5 s
    # and that time
    fast_s, fast_n, _ = got["spans"].span("fast", 1.5 + held_s)
    slow_s, slow_n, _ = got["spans"].span("slow", 1.5 + held_s)
    assert fast_n >= 0.85 * fast_s / 0.1 - held_s / 0.1, (fast_n, fast_s, how)
    assert slow_n >= 0.85 * slow_s / 0.3 - held_s / 0.3, (slow_n, slow_s, how)
    assert dead_rt.modbus is not None
    assert dead_rt.modbus.down
    assert got["states"]["dead"] == "down"
    # quarantined after 3 timeouts, then retried with a jittered backoff (up to 0.5 s,
    # 1 s, 2 s): far fewer attempts than its 0.1 s interval would make
    assert 3 <= dead_rt.modbus.timeouts <= 12, (dead_rt.modbus.timeouts, how)
    assert got["states"]["fast"] == "up", how
    assert fast_rt.modbus is not None
    assert fast_rt.modbus.timeouts <= spoilt, (fast_rt.modbus.timeouts, spoilt, how)


@pytest.mark.slow
def test_a_bus_too_busy_for_its_devices_intervals_counts_the_polls_they_miss() -> None:
    # at 9600 baud's pace a read of 100 registers takes about 0.22 s on the line: two devices
    # asking for one every 0.3 s need 0.44 s of line time in each 0.3 s
    with (
        PtyRelay(char_s=10 / 9600) as relay,
        ModbusServer([1, 2], "serial", relay.far.path) as server,
    ):
        tables = []
        for unit in (1, 2):
            server.set(unit, "input", 0, list(range(100)))
            table = device(
                f"d{unit}",
                relay.near.path,
                unit,
                [
                    {"name": "a", "table": "input", "address": 0},
                    {"name": "b", "table": "input", "address": 99},
                ],
                interval_s=0.3,
                timeout_s=0.5,
                max_gap=98,  # one read of 100 registers
            )
            table["serial"] = {"baudrate": 9600}
            tables.append(table)
        config = load(*tables)
        start = time.monotonic()
        spans = AnswerSpan("d1", "d2")

        def three_seconds(reader: Reader) -> bool:
            spans.look(reader)
            return time.monotonic() - start > 3.0

        with capture_logs() as logs, read_all(config, three_seconds) as reader:
            runtimes = [reader.sensors[f"d{unit}"] for unit in (1, 2)]
        missed = 0
        for runtime in runtimes:
            counters = runtime.modbus
            assert counters is not None
            assert counters.timeouts == 0
            assert latest(runtime) == {"a": 0.0, "b": 99.0}
            # each interval was either polled or counted as missed (over the span of the
            # device's answers: up to a 0.22 s read and a wait behind the other device's are
            # not counted yet at the run's end)
            span_s, answered, missed_then = spans.span(runtime.name)
            polls = answered + missed_then
            assert polls >= 0.8 * span_s / 0.3, (answered, missed_then, span_s)
            missed += counters.polls_missed
        assert missed > 0, [r.modbus for r in runtimes]
        warned = [e for e in logs if e["event"] == "polls missed: the bus had no time for them"]
        assert warned
        assert "modbus.interval_s" in warned[0]["hint"]


@pytest.mark.slow
def test_exceptions_are_counted_by_code_and_a_refused_merged_read_is_split(
    tcp_server: ModbusServer,
) -> None:
    # unit 1's datastore has 1000 registers: a read reaching past them is refused (02); the
    # read of 998-1000 is halved (998 | 999-1000), then its refused half again (999 | 1000)
    tcp_server.set(1, "holding", 998, [7, 8])
    registers = [
        {"name": "a", "table": "holding", "address": 998},
        {"name": "b", "table": "holding", "address": 999},
        {"name": "c", "table": "holding", "address": 1000},
    ]
    config = load(device("m", tcp_server.url, 1, registers, interval_s=0.05, max_gap=0))

    def split_and_read(reader: Reader) -> bool:
        counters = reader.sensors["m"].modbus
        return counters is not None and counters.exceptions.get(2, 0) >= 3 and counters.splits == 2

    with read_all(config, split_and_read) as reader:
        counters = reader.sensors["m"].modbus
        assert counters is not None
        assert counters.reads == 3
        assert latest(reader.sensors["m"]) == {"a": 7.0, "b": 8.0, "c": None}
        assert counters.timeouts == 0


@pytest.mark.slow
def test_a_merged_read_refused_as_too_long_is_split_and_max_registers_avoids_it() -> None:
    """Firmware that takes at most 50 registers a read answers a longer one with exception 03
    (illegal data value), as the specification has it: the bus splits the read as it does
    on exception 02 and reads both values; with ``max_registers = 50`` it never asks."""

    def firmware(request: bytes) -> bytes | None:
        if request[1] == 3 and int.from_bytes(request[4:6], "big") > 50:
            return rtu_frame(bytes([request[0], 0x83, 3]))
        return None

    registers = [
        {"name": "a", "table": "holding", "address": 0},
        {"name": "b", "table": "holding", "address": 100},
    ]
    for max_registers in (125, 50):
        with (
            PtyRelay(answer=firmware) as relay,
            ModbusServer([1], "serial", relay.far.path) as server,
        ):
            server.set(1, "holding", 0, [7])
            server.set(1, "holding", 100, [8])
            table = device("m", relay.near.path, 1, registers, interval_s=0.05, max_gap=120)
            table["serial"] = {"baudrate": 115200}
            table["modbus"]["max_registers"] = max_registers
            config = load(table)

            def read_both(reader: Reader) -> bool:
                return None not in values_of(reader, "m").values()

            with read_all(config, read_both) as reader:
                counters = reader.sensors["m"].modbus
                assert counters is not None
                assert values_of(reader, "m") == {"a": 7.0, "b": 8.0}
                assert counters.reads == 2
                assert counters.timeouts == 0
                if max_registers == 125:
                    assert counters.exceptions == {3: 1}
                    assert counters.splits == 1
                else:
                    assert counters.exceptions == {}
                    assert counters.splits == 0


@pytest.mark.slow
def test_a_busy_device_is_asked_the_same_read_again_within_the_poll() -> None:
    """A device that answers exception 06 (busy) twice, then the registers: with a 60 s
    interval the value is only read within the test because the bus asks again, each time
    ``busy_wait_s`` later; the other read of the poll is not lost either."""
    busy: list[float] = []

    def firmware(request: bytes) -> bytes | None:
        if request[1] == 4 and len(busy) < 2:
            busy.append(time.monotonic())
            return rtu_frame(bytes([request[0], 0x84, 6]))
        return None

    registers = [
        {"name": "a", "table": "input", "address": 0},
        {"name": "b", "table": "holding", "address": 0},
    ]
    with (
        PtyRelay(answer=firmware) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "input", 0, [11])
        server.set(1, "holding", 0, [22])
        table = device("m", relay.near.path, 1, registers, interval_s=60.0, busy_wait_s=0.2)
        table["serial"] = {"baudrate": 115200}
        config = load(table)

        def read_both(reader: Reader) -> bool:
            return None not in values_of(reader, "m").values()

        with read_all(config, read_both, timeout_s=5.0) as reader:
            counters = reader.sensors["m"].modbus
            assert counters is not None
            assert values_of(reader, "m") == {"a": 11.0, "b": 22.0}
            assert counters.exceptions == {6: 2}
            assert counters.timeouts == 0
        assert len(busy) == 2
        assert busy[1] - busy[0] >= 0.2


@pytest.mark.slow
def test_a_gateway_reporting_its_device_silent_takes_it_down_like_a_timeout() -> None:
    """A Modbus TCP gateway answers for a device behind it that stayed silent with exception
    0B: that device goes down and is retried with backoff, as one that times out on a line of
    its own, while the gateway's other unit keeps its interval, but for the polls of the time
    the host held the reader loop or the device back (measured, and played again when that
    was more than 0.3 s): the loop's wait for a CPU, the device's answers past its usual
    turnaround, and the live unit's polls the gateway answered 0B for because its device's
    answer came past the gateway's 0.05 s (under a load of 17 on two cores a steady play
    kept 22 polls of 24.6)."""

    def scenario() -> tuple[tuple[dict[str, Any], float, int], float]:
        with (
            PtyRelay(silent_units=[9]) as relay,
            ModbusServer([1], "serial", relay.far.path) as server,
            TcpGateway(relay.near.path, timeout_s=0.05) as gateway,
        ):
            server.set(1, "input", 0, [42])
            live = device("live", gateway.url, 1, [{"name": "a", "table": "input", "address": 0}])
            gone = device("gone", gateway.url, 9, [{"name": "b", "table": "input", "address": 0}])
            for table in (live, gone):
                table["modbus"]["interval_s"] = 0.1
            config = load(live, gone)
            start = time.monotonic()
            spans = AnswerSpan("live")

            def enough(reader: Reader) -> bool:
                spans.look(reader)
                return time.monotonic() - start > 3.0

            with HostLag() as lag, read_all(config, enough) as reader:
                live_rt, gone_rt = reader.sensors["live"], reader.sensors["gone"]
                assert live_rt.modbus is not None
                assert gone_rt.modbus is not None
                got = {
                    "gone_modbus": gone_rt.modbus,
                    "gone_state": gone_rt.state,
                    "gone_error": gone_rt.last_error,
                    "gone_latest": latest(gone_rt),
                    "live_state": live_rt.state,
                    "live_latest": latest(live_rt),
                    "spans": spans,
                }
                spoilt = live_rt.modbus.exceptions.get(11, 0)
        late_s = sum(
            t - DEVICE_TURNAROUND_S for t in relay.turnarounds_s if t > DEVICE_TURNAROUND_S
        )
        held_s = lag.waited_s + late_s
        return (got, held_s, spoilt), held_s

    def held(held_s: float) -> str:
        if held_s <= 0.3:
            return ""
        return (
            f"the host kept the reader loop waiting for a CPU and the device's answers past "
            f"their time {held_s:.2f} s (over 0.3 s)"
        )

    (got, held_s, spoilt), how = steadily(scenario, held)
    gone = got["gone_modbus"]
    assert got["gone_state"] == "down", how
    assert gone.down
    assert got["gone_error"] is not None
    assert (
        "did not answer the gateway, which answers exception 0x0B (gateway target "
        "device failed to respond)" in got["gone_error"]
    )
    # three answers of 0B, then backoff (full jitter below 0.5 s, 1 s, 2 s, 2 s ...), not
    # one every 0.1 s (about 30 in the test's 3 s); full jitter draws each delay from
    # zero up, so five or six retries in the 2.5 s after it went down happen (each
    # attempt 0.15 s on top of its delay: 6 in about 1 run of 400), eight would not
    # (1 in 50,000 even over 2.7 s)
    attempts = gone.exceptions.get(11, 0)
    assert 3 <= attempts <= 3 + 7, (gone.exceptions, how)
    assert gone.timeouts == 0  # the gateway answered: nothing was waited out
    # but the device did not: no transaction of its, no round trip of its measured
    assert gone.transactions == 0
    assert sum(gone.rtt_counts) == 0
    assert got["gone_latest"] == {"b": None}
    assert got["live_state"] == "up", how
    assert got["live_latest"] == {"a": 42.0}
    # every 0.1 s from its first answer (about 2.9 s and 29 answers), but for the polls of the
    # time the host held the loop or the device back, and those the gateway answered 0B for
    live_s, live_n, _ = got["spans"].span("live", 1.5 + held_s)
    assert live_n >= 0.85 * live_s / 0.1 - held_s / 0.1 - spoilt, (live_n, live_s, spoilt, how)


def test_units_0_to_255_are_taken_over_modbus_tcp_and_1_to_255_on_a_serial_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    one = [{"name": "a", "table": "input", "address": 0}]
    for unit in (0, 255):
        assert load(device("m", "modbus-tcp://127.0.0.1:502", unit, one)).sensors[0]
    for port in ("/dev/ttyUSB0", "socket://127.0.0.1:4001"):
        for unit in (1, 247, 248, 254, 255):
            assert load(device("m", port, unit, one)).sensors[0]
        errors: list[str] = []
        assert Config.load({"sensors": [device("m", port, 0, one)]}, "", errors) is None
        assert errors == [
            "sensors[0].modbus.unit: must be in [1, 255] on a serial line, got 0 (0 is the "
            "broadcast address, which no device answers; 0..255 are taken over modbus-tcp://; "
            "a device that answers reads at 0 all the same, as a Seplos V3 BMS does, takes "
            "modbus.broadcast_reads = true)"
        ]
    probe = ["modbus", "read", "/dev/ttyUSB0", "--unit", "0", "--holding", "0"]
    assert main(probe) == 2
    unit_zero = "--unit 0: a unit id on a serial line is 1..255 (0 is the broadcast address"
    assert unit_zero in capsys.readouterr().err


def test_a_timeout_as_long_as_the_interval_is_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PZEM that needs a 3 s timeout, polled every second: its polls would be missed."""
    register = '  { name = "v", table = "input", address = 0 },\n'
    out = check_meter(tmp_path / "m.toml", capsys, "{ unit = 1, timeout_s = 3 }", register)
    assert "note: modbus.timeout_s (3 s) is not shorter than modbus.interval_s (1 s)" in out
    out = check_meter(
        tmp_path / "m.toml", capsys, "{ unit = 1, interval_s = 5, timeout_s = 3 }", register
    )
    assert "note: modbus.timeout_s" not in out


def test_a_device_at_248_to_255_on_a_shared_serial_line_is_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every device of its kind answers at 248..255 (a PZEM meter at 248, its "general
    address"; a SenseAir S8 at 254), so a device read there may share its line with devices of
    other kinds only (a PZEM at 248 beside an XY-MD02 at 1 works): ``check`` takes it with a
    note; two devices at one address are refused as ever. Over Modbus TCP the unit id is the
    gateway's business: no note."""
    one = [{"name": "a", "table": "input", "address": 0}]
    port = "/dev/ttyUSB0"
    assert load_errors(device("pzem", port, 248, one), device("th", port, 1, one)) == []
    assert load_errors(device("a", port, 248, one), device("b", port, 248, one)) == [
        f"sensors[1].modbus.unit: 248 is already used by sensors[0] on {port}"
        ": each device on a port answers at its own unit id; set modbus.unit to the address this "
        "device is set to (by its DIP switches, its menu or its address register), or, when "
        "both sensors read one device, put their registers in one sensor"
    ]
    path = tmp_path / "bus.toml"

    def bus(on: str, *units: tuple[str, int]) -> str:
        return "".join(
            f'[[sensors]]\nname = "{name}"\nport = "{on}"\nformat = "modbus"\n'
            f"modbus = {{ unit = {unit} }}\n"
            'registers = [{ name = "a", table = "input", address = 0 }]\n'
            'channels = [{ name = "a" }]\n'
            for name, unit in units
        )

    path.write_text(bus(port, ("pzem", 248), ("th", 1)))
    assert main(["check", "--no-devices", str(path)]) == 0
    out = capsys.readouterr().out
    assert "note: unit 248 is an address a device may answer whatever its own" in out
    assert "so th must be of other kinds, or their answers collide" in out
    path.write_text(bus("modbus-tcp://127.0.0.1:502", ("co2", 254), ("meter", 1)))
    assert main(["check", "--no-devices", str(path)]) == 0
    assert "note: unit" not in capsys.readouterr().out


#: The SenseAir S8 keeps its CO2 reading in input register IR4 (ref 30004, 0-based 3) and
#: answers at 254 (0xFE, "any sensor") as at its own address, which ships as 104: the
#: ESPHome and Arduino S8 readers all ask 0xFE.
S8_UNITS = (254, 104)


@pytest.mark.slow
@pytest.mark.parametrize("unit", S8_UNITS)
def test_a_senseair_s8_is_read_at_its_any_sensor_address(unit: int) -> None:
    registers = [{"name": "co2_ppm", "ref": "30004"}]
    with PtyRelay() as relay, ModbusServer([unit], "serial", relay.far.path) as server:
        server.set(unit, "input", 0, [0, 0, 0, 612])
        table = device("co2", relay.near.path, unit, registers, interval_s=0.1)
        table["serial"] = {"baudrate": 115200}
        config = load(table)
        with read_all(config, lambda r: values_of(r, "co2")["co2_ppm"] is not None) as reader:
            assert values_of(reader, "co2") == {"co2_ppm": 612.0}
            counters = reader.sensors["co2"].modbus
            assert counters is not None
            assert counters.errors["unit"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("unit", S8_UNITS)
def test_a_senseair_s8_is_probed_at_its_any_sensor_address(
    unit: int, capsys: pytest.CaptureFixture[str]
) -> None:
    with PtyRelay() as relay, ModbusServer([unit], "serial", relay.far.path) as server:
        server.set(unit, "input", 0, [0, 0, 0, 612])
        probe = ["modbus", "read", relay.near.path, "--unit", str(unit), "--input", "3"]
        assert main([*probe, "--baudrate", "115200"]) == 0
        assert "612" in capsys.readouterr().out


def test_modbus_read_takes_parity_in_either_case(capsys: pytest.CaptureFixture[str]) -> None:
    """``sensord modbus read --parity e`` was refused (invalid choice: 'e'): the letter is
    taken in either case, a word for it (``odd``) refused with the letter, as the config
    file's ``serial.parity`` does, and ``--help`` says so."""
    with PtyRelay() as relay, ModbusServer([1], "serial", relay.far.path) as server:
        server.set(1, "holding", 0, [612])
        probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
        assert main([*probe, "--parity", "e"]) == 0
        assert "612" in capsys.readouterr().out
        with pytest.raises(SystemExit) as exited:
            main([*probe, "--parity", "odd"])
        assert exited.value.code == 2
        err = " ".join(capsys.readouterr().err.split())
        assert err.endswith(
            "error: argument --parity: must be one of N, E, O, M, S (in either case), got "
            "'odd'; did you mean O?"
        ), err
    with pytest.raises(SystemExit):
        main(["modbus", "read", "--help"])
    assert "serial parity: N, E, O, M or S, in either case" in " ".join(
        capsys.readouterr().out.split()
    )


@pytest.mark.slow
def test_a_device_at_unit_255_behind_modbus_tcp_is_read() -> None:
    with ModbusServer([255], "tcp") as server:
        server.set(255, "holding", 3, [4321])
        registers = [{"name": "a", "table": "holding", "address": 3}]
        config = load(device("m", server.url, 255, registers, interval_s=0.05))
        with read_all(config, lambda r: values_of(r, "m")["a"] is not None) as reader:
            assert values_of(reader, "m") == {"a": 4321.0}
        assert main(["modbus", "read", server.url, "--unit", "255", "--holding", "3"]) == 0


@pytest.mark.slow
def test_a_tcp_answer_from_another_unit_id_is_taken_by_its_transaction_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A device (or gateway) that answers every Modbus TCP request with unit 0: the
    transaction id names the exchange, so its replies are read, not counted as another
    unit's, and the probe says which unit answered."""
    with (
        PtyRelay() as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
        TcpGateway(relay.near.path, answer_as=0) as gateway,
    ):
        server.set(1, "input", 0, [42, 43])
        registers = [
            {"name": "a", "table": "input", "address": 0},
            {"name": "b", "table": "input", "address": 1},
        ]
        config = load(device("m", gateway.url, 1, registers, interval_s=0.05))

        def five(reader: Reader) -> bool:
            counters = reader.sensors["m"].modbus
            return counters is not None and counters.transactions >= 5

        with read_all(config, five) as reader:
            counters = reader.sensors["m"].modbus
            assert counters is not None
            assert values_of(reader, "m") == {"a": 42.0, "b": 43.0}
            assert counters.timeouts == 0
            assert sum(counters.errors.values()) == 0
        code = main(["modbus", "read", gateway.url, "--unit", "1", "--input", "0", "--count", "2"])
    captured = capsys.readouterr()
    assert code == 0
    assert "the answer comes from unit 0, not 1 (matched by its transaction id)" in captured.err
    assert "      1: 0x002b     43" in captured.out


@pytest.mark.slow
def test_corrupted_and_late_responses_do_not_desynchronise_the_bus() -> None:
    state = {"n": 0}

    def mangle(chunk: bytes) -> bytes:
        state["n"] += 1
        if state["n"] % 5 == 0:  # every fifth chunk from the devices: a flipped CRC byte
            return chunk[:-1] + bytes([chunk[-1] ^ 0x55])
        return chunk

    with PtyRelay(mangle) as relay, ModbusServer([1], "serial", relay.far.path) as server:
        server.set(1, "holding", 0, [1234])
        table = device(
            "m",
            relay.near.path,
            1,
            [{"name": "a", "table": "holding", "address": 0}],
            interval_s=0.05,
            timeout_s=0.1,
        )
        table["serial"] = {"baudrate": 115200}
        config = load(table)

        def enough(reader: Reader) -> bool:
            counters = reader.sensors["m"].modbus
            return counters is not None and counters.transactions >= 20

        with read_all(config, enough) as reader:
            rt = reader.sensors["m"]
            assert rt.modbus is not None
            assert rt.modbus.errors["crc"] >= 3
            # a spoilt answer ends its exchange after the line's silence: no timeout waited out
            assert rt.modbus.timeouts == 0
            assert latest(rt) == {"a": 1234.0}
            assert rt.parse_errors == dict.fromkeys(rt.parse_errors, 0)


@pytest.mark.slow
def test_a_capture_across_timeouts_and_late_replies_replays_in_step(tmp_path: Path) -> None:
    """A device's capture holds the exchanges the bus answered, whole: requests that timed
    out left nothing in it, and a late reply is in it as the exchange it was taken for. Its
    replay gives the frames and readings of the live run, without the timeouts (they are not
    in the capture)."""
    replies = [0]
    held = [b""]

    def mangle(chunk: bytes) -> bytes:
        replies[0] += 1
        if replies[0] % 4 == 0:  # dropped: that request times out
            return b""
        if replies[0] % 7 == 0:  # held back: arrives just before the next reply
            held[0] = chunk
            return b""
        late, held[0] = held[0], b""
        return late + chunk

    table = device(
        "m", "", 1, [{"name": "a", "table": "holding", "address": 0}], interval_s=0.05
    ) | {"serial": {"baudrate": 115200}}
    table["modbus"]["timeout_s"] = 0.1
    with PtyRelay(mangle) as relay, ModbusServer([1], "serial", relay.far.path) as server:
        runtime = SensorRuntime(load(table | {"port": relay.near.path}).sensors[0])
        counters = runtime.modbus
        assert counters is not None
        reader = Reader([runtime])
        with reader:

            def enough() -> bool:
                server.set(1, "holding", 0, [counters.transactions + 100])  # a new value each time
                return counters.transactions >= 20 and counters.errors["late"] >= 1

            run_reader_until(reader, enough, 20.0)
    assert counters.timeouts >= 2
    path = tmp_path / "m.cap"
    path.write_bytes(runtime.capture.capture({"sensor": "m", "format": "modbus"}))
    capture = parse_capture(path.read_bytes())
    assert {r.direction for r in capture.records} == {RX}
    assert len(capture.records) == counters.transactions
    live = counts(runtime.snapshot().as_json())
    assert live["frames"] == live["readings"] == counters.transactions
    assert replay_counts({k: v for k, v in table.items() if k != "port"}, path) == live


def test_a_late_response_is_discarded_and_the_next_exchange_gets_its_own(pty_pair: Any) -> None:
    """The bus on a pty whose master plays two devices by hand: unit 1 answers after its
    timeout, just after the request to unit 2 went out; unit 2's answer is still taken, and
    unit 1's is counted as late for unit 1."""
    clock = [100.0]
    config = load(
        device(
            "one",
            pty_pair.path,
            1,
            [{"name": "a", "table": "holding", "address": 0}],
            timeout_s=0.2,
        ),
        device(
            "two",
            pty_pair.path,
            2,
            [{"name": "b", "table": "holding", "address": 0}],
            timeout_s=0.2,
        ),
    )
    one, two = (SensorRuntime(s, clock=lambda: clock[0]) for s in config.sensors)
    bus = Bus("bus:" + pty_pair.path, config.sensors[0], clock=lambda: clock[0])
    bus.add(one)
    bus.add(two)
    assert bus.try_open()
    try:
        bus.tick(clock[0])
        first = pty_pair.read(8)
        assert first[0] == 1
        clock[0] += 0.25
        bus.tick(clock[0])  # unit 1 timed out
        clock[0] += 0.01
        bus.tick(clock[0])  # after the silence: the request to unit 2
        second = pty_pair.read(8)
        assert second[0] == 2
        spec1 = config.sensors[0].format_spec().modbus
        spec2 = config.sensors[1].format_spec().modbus
        assert spec1 is not None
        assert spec2 is not None
        late = response_frame(spec1, plan(spec1)[0], [11], 0)
        answer = response_frame(spec2, plan(spec2)[0], [22], 0)
        source = bus.source
        assert source is not None
        with capture_logs() as logs:
            pty_pair.write(late + answer[:3])
            assert _wait_read(bus)
        [warning] = [e for e in logs if e["event"] == "answer after the timeout"]
        assert (warning["sensor"], warning["unit"], warning["timeout_s"]) == ("one", 1, 0.2)
        assert "modbus.timeout_s" in warning["hint"]
        # how late, so that the timeout can be raised above it
        assert warning["answered_after_s"] == 0.26
        assert "this one came at least 0.26 s after its request" in warning["hint"]
        pty_pair.write(answer[3:])
        assert _wait_read(bus)
        assert latest(one) == {"a": None}
        assert latest(two) == {"b": 22.0}
        assert one.modbus is not None
        assert two.modbus is not None
        assert (one.modbus.timeouts, one.modbus.transactions) == (1, 0)
        assert (one.modbus.errors["late"], two.modbus.errors["unit"]) == (1, 0)
        assert two.modbus.transactions == 1
    finally:
        bus.stop()


def _wait_read(bus: Bus) -> bool:
    source = bus.source
    assert source is not None
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        chunk = source.read()
        if chunk:
            bus.feed(chunk)
            return True
        time.sleep(0.005)
    return False


def test_rtt_is_measured_per_exchange() -> None:
    counters = SensorRuntime(
        load(
            device("m", "/dev/ttyUSB9", 1, [{"name": "a", "table": "input", "address": 0}])
        ).sensors[0]
    ).modbus
    assert counters is not None
    for seconds in (0.001, 0.004, 0.03, 9.0):
        counters.observe_rtt(seconds)
    assert counters.rtt_counts[0] == 1  # <= 2 ms
    assert counters.rtt_counts[1] == 1  # <= 5 ms
    assert counters.rtt_counts[4] == 1  # <= 50 ms
    assert counters.rtt_counts[-1] == 1  # above every bound
    assert math.isclose(counters.rtt_sum_s, 9.035)


def sensor_config(config: Config, name: str) -> SensorConfig:
    return config.sensor(name)


def test_read_of_device_values_unit() -> None:
    read = Read.of("holding", (reg("a", "holding", 3, "int16"),))
    with pytest.raises(ParseError, match="truncated"):
        read.values([])


def test_the_devices_of_a_bus_share_a_worker() -> None:
    devices = [
        device(f"m{i}", "/dev/ttyUSB9", i + 1, [{"name": "a", "table": "input", "address": 0}])
        for i in range(12)
    ]
    config = load(*devices)
    shards = [shard_sensors(config, i, 4) for i in range(4)]
    assert sorted(len(shard) for shard in shards) == [0, 0, 0, 12]


def check_meter(path: Path, capsys: pytest.CaptureFixture[str], modbus: str, registers: str) -> str:
    """What ``sensord check --no-devices`` prints of a meter on /dev/ttyUSB9 whose ``modbus``
    table and ``registers`` (TOML inline tables, one a line) are these, with a channel per
    register; the check must pass."""
    names = re.findall(r'name = "(\w+)"', registers)
    channels = ", ".join(f'{{ name = "{name}" }}' for name in names)
    path.write_text(
        '[[sensors]]\nname = "meter"\nport = "/dev/ttyUSB9"\nformat = "modbus"\n'
        f"modbus = {modbus}\nregisters = [\n{registers}]\nchannels = [{channels}]\n"
    )
    assert main(["check", "--no-devices", str(path)]) == 0  # notes are no errors
    return capsys.readouterr().out


def test_check_shows_references_normalised_and_the_requests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = check_meter(
        tmp_path / "meter.toml",
        capsys,
        "{ unit = 3, max_gap = 10 }",
        """\
  { name = "voltage_v", ref = "30001", type = "float32" },
  { name = "power_w", ref = "30013", type = "float32" },
  { name = "energy_kwh", table = "input", address = 342, type = "float32" },
""",
    )
    assert "voltage_v: input address 0 (ref 30001) float32" in out
    assert "power_w: input address 12 (ref 30013) float32" in out
    assert "energy_kwh: input address 342 float32" in out
    assert "requests per poll: input 0+14, input 342+2" in out
    assert "note:" not in out  # references, and an address no reference reads like


def test_check_points_out_an_address_that_reads_like_a_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registers = """\
  { name = "setpoint", table = "holding", address = 40001, type = "uint16" },
  { name = "power_w", table = "input", address = 30013, type = "float32" },
  { name = "alarm", table = "discrete", address = 10002, type = "bool" },
  { name = "relay", table = "coil", address = 1, type = "bool" },
  { name = "energy_kwh", table = "input", address = 40001, type = "float32" },
"""
    out = check_meter(tmp_path / "meter.toml", capsys, "{ unit = 3 }", registers)
    notes = [line.strip() for line in out.splitlines() if "note:" in line]
    assert notes == [
        "note: address 40001 is read as it is; if the manual gives 40001 as a reference, "
        'write ref = "40001" (address 0) instead',
        "note: address 30013 is read as it is; if the manual gives 30013 as a reference, "
        'write ref = "30013" (address 12) instead',
        "note: address 10002 is read as it is; if the manual gives 10002 as a reference, "
        'write ref = "10002" (address 1) instead',
    ]
    # the ref the note names reads the address it says
    registers = registers.replace('table = "holding", address = 40001', 'ref = "40001"')
    out = check_meter(tmp_path / "meter.toml", capsys, "{ unit = 3 }", registers)
    assert "setpoint: holding address 0 (ref 40001)" in out
    assert "note: address 40001" not in out


def test_check_tries_a_network_ports_connection_and_never_fails_on_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as listener, socket.socket() as closed:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        up, down = listener.getsockname()[1], closed.getsockname()[1]
        path = tmp_path / "gateways.toml"
        path.write_text(
            "".join(
                f'[[sensors]]\nname = "{name}"\nport = "modbus-tcp://127.0.0.1:{port}"\n'
                'format = "modbus"\nsimulate = "never"\nmodbus = { unit = 1 }\n'
                'registers = [{ name = "a", table = "input", address = 0 }]\n'
                'channels = [{ name = "a" }]\n'
                for name, port in (("up", up), ("down", down))
            )
        )
        assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"device up: modbus-tcp://127.0.0.1:{up} accepts connections" in out
    assert (
        f"device down: modbus-tcp://127.0.0.1:{down} does not accept a connection now "
        "(Connection refused); sensord retries it while it runs"
    ) in out


def test_check_bounds_a_name_lookup_the_dns_does_not_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sensord check`` of gateways named by host: a DNS server that does not answer held
    the check 10 s and more per name (getaddrinfo takes no timeout); the lookup now gives up
    with the connect's 2 s, and a name that does not exist is said to be one. The resolver is
    the boundary replaced here: a DNS server that hangs cannot be made on this host."""
    real = socket.getaddrinfo

    def resolver(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "slow.lan":
            time.sleep(4.0)
        if host == "gone.lan":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    path = tmp_path / "gateways.toml"
    path.write_text(
        "".join(
            f'[[sensors]]\nname = "{name}"\nport = "modbus-tcp://{name}.lan:502"\n'
            'format = "modbus"\nsimulate = "never"\nmodbus = { unit = 1 }\n'
            'registers = [{ name = "a", table = "input", address = 0 }]\n'
            'channels = [{ name = "a" }]\n'
            for name in ("slow", "gone")
        )
    )
    started = time.monotonic()
    assert main(["check", str(path)]) == 0
    assert time.monotonic() - started < 3.5
    out = capsys.readouterr().out
    assert (
        "device slow: modbus-tcp://slow.lan:502 the host name slow.lan does not resolve "
        "within 2 s (the DNS does not answer); sensord retries it while it runs"
    ) in out
    assert (
        "device gone: modbus-tcp://gone.lan:502 the host name gone.lan does not resolve (Name "
        "or service not known): check its spelling and the DNS"
    ) in out


def test_check_exits_soon_after_a_name_lookup_that_hangs() -> None:
    """The lookup that ``check`` gave up on does not hold the command at its exit (it ran
    on a thread the interpreter waited for)."""
    script = (
        "import socket, time\n"
        "def hangs(*args, **kwargs):\n    time.sleep(8)\n    raise socket.gaierror(-3, 'x')\n"
        "socket.getaddrinfo = hangs\n"
        "from sensord.cli_check import tcp_reachable\n"
        "print(time.monotonic(), flush=True)\n"
        "print(tcp_reachable('modbus-tcp://hanging.example:502'))\n"
    )
    done = subprocess.run(  # in the tree under test, not the package installed
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        cwd=REPO,
    )
    ended = time.monotonic()
    # from the check's start (after the imports, which a loaded host may make slow: the
    # clock is the system's, one for both processes) to the exit: 2 s of lookup, not the 8 s
    # the lookup's thread goes on for
    started, told = done.stdout.splitlines()
    assert ended - float(started) < 5.0
    assert "does not resolve within 2 s" in told


def test_check_tries_every_address_of_a_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name whose first address refuses (``::1`` first, the gateway on 127.0.0.1): the
    check tries the next, as the daemon's connection does."""
    real = socket.getaddrinfo
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def both(host: Any, at: Any, *args: Any, **kwargs: Any) -> Any:
            if host == "gw.example":
                return [
                    (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", at, 0, 0)),
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", at)),
                ]
            return real(host, at, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", both)
        assert tcp_reachable(f"modbus-tcp://gw.example:{port}") == "accepts connections"


def test_check_gives_up_on_a_connect_that_goes_unanswered(monkeypatch: pytest.MonkeyPatch) -> None:
    """A gateway that answers no connect (a host that is off, or a firewall that drops it) is
    told as one that gives no answer, after the connect's timeout (0.3 s here, 2 s installed)
    and not the kernel's two minutes of retries. The listener's accept queue is full: Linux
    drops the connect's SYN as such a host does."""
    monkeypatch.setattr("sensord.cli_check.CHECK_CONNECT_TIMEOUT_S", 0.3)
    with socket.socket() as full, socket.socket() as queued:
        full.bind(("127.0.0.1", 0))
        full.listen(0)  # room for one connection not yet accepted
        queued.connect(full.getsockname())
        started = time.monotonic()
        said = tcp_reachable(f"modbus-tcp://127.0.0.1:{full.getsockname()[1]}")
        waited_s = time.monotonic() - started
    assert said == "does not accept a connection now (no answer); sensord retries it while it runs"
    assert 0.3 <= waited_s < 1.5, waited_s


# -- the probe -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_probe_prints_raw_registers_and_every_order(
    tcp_server: ModbusServer, capsys: pytest.CaptureFixture[str]
) -> None:
    tcp_server.set(2, "holding", 100, [*words_of("float32", 1234.5, "big", "little"), 7, 8])
    code = main(
        ["modbus", "read", tcp_server.url, "--unit", "2", "--holding", "100", "--count", "4"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "holding registers from 100 (ref 40101):" in out
    assert "    100: 0x5000  20480" in out  # 1234.5 is 0x449A5000, low word first
    float_row = next(line for line in out.splitlines() if line.strip().startswith("float32"))
    # columns: big/big, big/little, little/big, little/little
    cells = float_row.split()[1:]
    assert float(cells[1]) == 1234.5
    assert float(cells[0]) != 1234.5
    uint16_row = next(line for line in out.splitlines() if line.strip().startswith("uint16"))
    assert uint16_row.split()[1:] == ["20480", "20480", "80", "80"]


@pytest.mark.slow
def test_probe_notes_the_values_devices_hold_for_not_measured(
    tcp_server: ModbusServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """SunSpec's "not implemented" integers (0x8000 int16, 0x80000000 int32, 0xFFFF uint16)
    and a float32 NaN (0x7FC00000) in the first registers are named under the table, with
    what the daemon does with them; a reading is not."""
    tcp_server.set(3, "holding", 10, [0x8000, 0x0000, 0xFFFF, 0x7FC0, 0x0000, 0x4366, 0x3333])
    probe = ["modbus", "read", tcp_server.url, "--unit", "3", "--holding"]
    assert main([*probe, "10", "--count", "2"]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note")]
    assert notes == [
        'note: big/big holds SunSpec\'s "not implemented" value of int16 (0x8000), int32 '
        "(0x80000000): a device's value for one it does not measure, which the daemon "
        "publishes as a reading unless the register's not_available (or "
        "modbus.sunspec_not_available) names it"
    ]
    assert main([*probe, "12"]) == 0
    assert "uint16 (0xffff)" in capsys.readouterr().out
    assert main([*probe, "13", "--count", "2"]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note")]
    assert notes == [
        "note: big/big holds a NaN as float32: a device's value for one it does not measure "
        "(SunSpec's 0x7fc00000), which the daemon never publishes (nonfinite)"
    ]
    assert main([*probe, "15", "--count", "2"]) == 0
    out = capsys.readouterr().out
    assert "230.2" in out
    assert "note" not in out


@pytest.mark.slow
def test_probe_reports_silence_and_exceptions(
    tcp_server: ModbusServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["modbus", "read", tcp_server.url, "--unit", "1", "--input", "999", "--count", "5"])
        == 1
    )
    out = capsys.readouterr().out
    assert "answered with exception 0x02 (illegal data address)" in out
    assert "reference" not in out  # 999 is no input register's reference
    # a manual's reference asked as an address: the address it stands for is named
    tcp_server.set(1, "holding", 3, [42])
    assert main(["modbus", "read", tcp_server.url, "--unit", "1", "--holding", "40004"]) == 1
    out = capsys.readouterr().out
    assert "answered with exception 0x02 (illegal data address)" in out
    assert (
        "40004 is asked as the address it says; if the manual gives 40004 as a reference, "
        "that is --holding 3"
    ) in out
    assert main(["modbus", "read", tcp_server.url, "--unit", "1", "--holding", "3"]) == 0
    assert "      3: 0x002a     42" in capsys.readouterr().out


#: An EPEVER Tracer's tables (EPEVER, "Tracer-BN Series Protocol"): its measurements are
#: input registers from 0x3100 (PV voltage, current, then power low word first), its
#: settings holding registers from 0x9000; a read of the other table there is refused (02).
EPEVER_TABLES = {"coil": 0, "discrete": 0x2000, "holding": 0x9000, "input": 0x3100}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["tcp", "serial"])
def test_a_read_of_the_wrong_register_table_is_shown_the_other_table_s_answer(
    kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A manual's "register 3100" read as a holding register where the device keeps it in
    its input registers: refused with 02, and the probe shows what the input registers
    answer at those addresses, and the option and table that read them."""
    with contextlib.ExitStack() as stack:
        if kind == "serial":
            relay = stack.enter_context(PtyRelay())
            server = stack.enter_context(
                ModbusServer([1], "serial", relay.far.path, first_address=EPEVER_TABLES)
            )
            port, options = relay.near.path, ["--baudrate", "115200"]
        else:
            server = stack.enter_context(ModbusServer([1], "tcp", first_address=EPEVER_TABLES))
            port, options = server.url, []
        server.set(1, "input", 0x3100, [1834, 255, 4677, 0])  # 18.34 V, 2.55 A, 46.77 W
        probe = ["modbus", "read", port, "--unit", "1", "--count", "4", *options]
        assert main([*probe, "--holding", "0x3100"]) == 1
        out = capsys.readouterr().out
        assert "answered with exception 0x02 (illegal data address)" in out
        assert (
            "the same addresses of the input registers answer (function 04; --input 12544, "
            'table = "input"):'
        ) in out
        assert "  12544: 0x072a   1834" in out
        assert "  12546: 0x1245   4677" in out
        # the right table answers at once, and a refusal of both says only its own
        assert main([*probe, "--input", "0x3100"]) == 0
        assert "the same addresses" not in capsys.readouterr().out
        assert main([*probe, "--holding", "0x5000"]) == 1
        out = capsys.readouterr().out
        assert "answered with exception 0x02 (illegal data address)" in out
        assert "the same addresses" not in out


@pytest.mark.slow
def test_probe_skips_frames_that_are_not_its_answer(capsys: pytest.CaptureFixture[str]) -> None:
    """Another device's reply on the line ahead of the answer (a second master's) is skipped
    and counted by unit id, a stale one of the unit named and skipped; the registers printed
    are the asked unit's."""
    foreign = rtu_frame(bytes([2, 4, 4, 0x11, 0x11, 0x22, 0x22]))  # unit 2's input registers
    stale = rtu_frame(bytes([1, 3, 2, 0x99, 0x99]))  # unit 1's answer to a read of one
    with (
        PtyRelay(lambda chunk: foreign + stale + chunk) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [0x0102, 0x0304])
        probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
        code = main([*probe, "--count", "2", "--baudrate", "115200"])
    captured = capsys.readouterr()
    assert code == 0
    assert (
        "skipped 1 frame of other unit ids while waiting for the answer (another master's "
        "exchanges, or devices that send on their own): 1 of unit 2\n"
    ) in captured.err
    assert "unit 2, function 4" not in captured.err
    assert "skipped a frame that is not the answer: 1 values, not 2" in captured.err
    assert "      0: 0x0102    258" in captured.out
    assert "      1: 0x0304    772" in captured.out
    assert "0x1111" not in captured.out
    assert "0x9999" not in captured.out


def losing_line(
    lost: list[int], asked: list[float] | None = None
) -> Callable[[bytes], bytes | None]:
    """A relay's ``answer`` for a line that loses requests: the next ``lost[0]`` requests
    never reach the device; each request's time of arrival goes to ``asked``, when given."""

    def line(request: bytes) -> bytes | None:
        if asked is not None:
            asked.append(time.monotonic())
        if lost[0]:
            lost[0] -= 1
            return b""  # the request never reaches the device
        return None

    return line


def probed_sensor(directory: Path, name: str, port: str, baudrate: int, modbus: str) -> Path:
    """A config file of one Modbus sensor ``name`` on ``port`` at ``baudrate``, with the keys
    ``modbus`` of its ``modbus`` table and one holding register at 0, for ``--sensor``."""
    config = directory / "sensord.toml"
    config.write_text(
        f"""
[[sensors]]
name = "{name}"
port = "{port}"
format = "modbus"
serial = {{ baudrate = {baudrate} }}
modbus = {{ {modbus} }}
registers = [{{ name = "v", table = "holding", address = 0 }}]
channels = [{{ name = "v" }}]
"""
    )
    return config


@pytest.mark.slow
def test_the_probe_asks_a_busy_device_again_as_the_daemon_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A device that answers a read busy (06) twice, then the registers: the probe asks it
    again 0.1 s later each time and prints the registers (exit 0), saying so; one busy at
    every try is reported as busy (exit 1) after the daemon's 3 busy retries, or its
    sensor's ``busy_retries`` at its ``busy_wait_s`` with ``--sensor``; never sooner than
    the device's gap after the line's silence (``--gap``, or the sensor's ``gap_s``)."""
    busy: list[float] = []
    limit = [2]

    def firmware(request: bytes) -> bytes | None:
        if request[1] == 3 and len(busy) < limit[0]:
            busy.append(time.monotonic())
            return rtu_frame(bytes([request[0], 0x83, 6]))
        return None

    with (
        PtyRelay(answer=firmware) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [0x0102])
        probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
        probe += ["--baudrate", "115200"]
        assert main(probe) == 0
        captured = capsys.readouterr()
        assert "      0: 0x0102    258" in captured.out
        assert (
            "unit 1 answered busy 2 times and was asked again each time 0.1 s later, as the "
            "daemon asks it (modbus.busy_wait_s, busy_retries); it answered then"
        ) in captured.err
        assert busy[1] - busy[0] >= 0.1
        # a device that needs 0.15 s between requests (--gap) is asked again no sooner
        busy.clear()
        assert main([*probe, "--gap", "0.15"]) == 0
        assert (
            "unit 1 answered busy 2 times and was asked again each time 0.152 s later (the "
            "line's silence and the device's gap, modbus.gap_s)"
        ) in capsys.readouterr().err
        assert busy[1] - busy[0] >= 0.15
        busy.clear()
        limit[0] = 10
        assert main(probe) == 1
        captured = capsys.readouterr()
        assert "unit 1 answered with exception 0x06 (server device busy)" in captured.out
        assert (
            "unit 1 answered busy 4 times, asked again 3 times, each time 0.1 s later, as the "
            "daemon asks it (modbus.busy_wait_s, busy_retries); still busy at the last try"
        ) in captured.err
        assert len(busy) == 4  # the read and its 3 busy retries
        # a sensor's busy_retries and busy_wait_s are the probe's with --sensor
        config = probed_sensor(
            tmp_path,
            "scd30",
            relay.near.path,
            115200,
            "unit = 1, busy_retries = 1, busy_wait_s = 0.3, gap_s = 0.4",
        )
        busy.clear()
        assert (
            main(["modbus", "read", "--sensor", "scd30", "-c", str(config), "--holding", "0"]) == 1
        )
        assert (
            "unit 1 answered busy 2 times, asked again once, each time 0.402 s later (the "
            "line's silence and the device's gap, modbus.gap_s)"
        ) in capsys.readouterr().err
        assert len(busy) == 2
        assert busy[1] - busy[0] >= 0.4


@pytest.mark.slow
def test_the_probe_asks_an_unanswered_read_again_as_the_daemon_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A line that loses the first requests: with ``--retries`` the probe asks the read
    again after each timeout, once the line is quiet, and prints the registers when an
    answer comes, saying how often it asked; ``--sensor`` takes the sensor's
    ``modbus.retries``; without retries one lost request is no response."""
    lost = [0]
    asked: list[float] = []
    with (
        PtyRelay(answer=losing_line(lost, asked)) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [0x0102])
        probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
        probe += ["--baudrate", "115200", "--timeout", "0.2"]
        lost[0] = 2
        assert main([*probe, "--retries", "2"]) == 0
        captured = capsys.readouterr()
        assert "      0: 0x0102    258" in captured.out
        assert (
            "unit 1 did not answer within 0.2 s and was asked again 2 times, as the daemon "
            "asks it (modbus.retries); it answered then"
        ) in captured.err
        assert len(asked) == 3
        # asked again after the timeout, not at once (the relay reads each request a
        # little after it is written: the first one may be read later than the second)
        assert asked[1] - asked[0] >= 0.15
        # one lost request, no retries: no response, and nothing said of retries
        lost[0], asked[:] = 1, []
        assert main(probe) == 1
        captured = capsys.readouterr()
        assert "no response from unit 1 within 0.2 s" in captured.err
        assert "asked again" not in captured.err
        assert len(asked) == 1
        # a sensor's modbus.retries is the probe's with --sensor: 1 retry, 2 requests lost
        config = probed_sensor(
            tmp_path, "s8", relay.near.path, 115200, "unit = 1, retries = 1, timeout_s = 0.2"
        )
        lost[0], asked[:] = 2, []
        sensor = ["modbus", "read", "--sensor", "s8", "-c", str(config), "--holding", "0"]
        assert main([*sensor, "--timeout", "0.2"]) == 1
        captured = capsys.readouterr()
        assert (
            "unit 1 did not answer within 0.2 s and was asked again once, as the daemon asks it "
            "(modbus.retries); no answer came to any of the 2 requests"
        ) in captured.err
        assert len(asked) == 2
        assert main([*probe, "--retries", "6"]) == 2
        assert "--retries must be in [0, 5], got 6" in capsys.readouterr().err


def slow_answers(delay_s: float, late: list[int]) -> Callable[[bytes], float]:
    """A relay's ``delay_s`` for a device slower than the probe's timeout: its next
    ``late[0]`` answers reach the probe ``delay_s`` after the device sent them, the others at
    once."""

    def delay(answer: bytes) -> float:
        if late[0]:
            late[0] -= 1
            return delay_s
        return 0.0

    return delay


def printed_once(out: str, registers: str = "      0: 0x0102    258\n") -> None:
    """The probe printed one table of the holding registers from 0, holding ``registers``."""
    assert out.count("holding registers from 0 (ref 40001):") == 1, out
    assert registers in out, out


def asked_again_once(err: str, timeout_s: float, *, answered: bool) -> None:
    """The probe's stderr ``err`` says its read, unanswered within ``timeout_s``, was asked
    again once, and whether an answer then came in time."""
    then = "it answered then" if answered else "no answer came in time to any of the 2 requests"
    assert (
        f"unit 1 did not answer within {timeout_s:g} s and was asked again once, as the daemon "
        f"asks it (modbus.retries); {then}\n"
    ) in err, err


#: What the probe's measure of an answer's lateness may add to the relay's: the request's way
#: to the relay and the answer's to the probe, through a gateway's thread in some tests (0.12 s
#: seen with the host's two cores kept busy)
HOPS_S = 0.2


def told_late(err: str, note: str, relay: PtyRelay) -> None:
    """The probe's stderr ``err`` has the line ``note`` (a pattern: how late the answer came,
    group 1, and the timeout to set, group 2) for an answer 0.45 s late (0.75 s at most, or
    as long as ``relay`` saw it take and ``HOPS_S``, on a host too loaded for the server to
    answer at once): the timeout half as long again, rounded up."""
    told = re.search(note, err, re.MULTILINE)
    assert told is not None, err
    answered, needed = float(told[1]), float(told[2])
    assert 0.45 <= answered < max(0.75, relay.held_answer_s + HOPS_S), relay.held_answer_s
    assert 1.5 * answered <= needed <= 2 * answered


def lateness(err: str) -> float:
    """How late after its request the probe's stderr ``err`` says an answer came."""
    found = re.search(
        r"^unit 1 answered (\d+\.\d\d) s after the request, past the --timeout", err, re.MULTILINE
    )
    assert found is not None, err
    return float(found[1])


#: The probe's note of a late answer: how late it came, and the timeout it needs.
LATE_NOTE = re.compile(
    r"unit 1 answered (\d+\.\d\d) s after the request, past the --timeout of 0\.3 s: the "
    r"daemon discards answers that come after modbus\.timeout_s, so (the sensor|sensor 's8') "
    r"needs modbus\.timeout_s \(and --timeout\) of at least about (\d+(?:\.\d+)?) s$",
    re.MULTILINE,
)


def late_note(err: str, relay: PtyRelay, sensor: str = "the sensor") -> float:
    """The lateness the probe's stderr ``err`` tells of, which the device's answer took (0.45 s
    and the relay's jitter: under 0.6 s, or as long as ``relay`` saw it take and ``HOPS_S``,
    on a host too loaded for the server to answer at once), with the timeout it says the
    sensor needs: half as long again, rounded up."""
    found = LATE_NOTE.search(err)
    assert found is not None, err
    late_s, named, need_s = float(found[1]), found[2], float(found[3])
    assert named == sensor
    assert 0.45 <= late_s < max(0.6, relay.held_answer_s + HOPS_S), relay.held_answer_s
    assert 1.5 * late_s <= need_s <= 2 * late_s
    return late_s


@pytest.mark.slow
def test_the_probe_tells_an_answer_after_its_timeout_as_a_timeout_too_short(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A device that answers 0.45 s after the request, past the probe's 0.3 s timeout: with
    ``--retries 1`` the probe waits, as the daemon waits before it asks a device again after
    a timeout, until the device has been quiet for the timeout, so the late answer comes
    then and the read asked again gets its own answer, alone on the line; the registers are
    printed once (exit 0), and the probe says the answer came late and the timeout to set,
    not that the line loses requests. Without retries the late answer is all that came: its
    registers are printed, and the probe exits 1 (a read with these settings fails)."""
    late = [1]
    asked: list[float] = []
    with (
        PtyRelay(answer=losing_line([0], asked), delay_s=slow_answers(0.45, late)) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [0x0102, 0x0304])
        probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
        probe += ["--count", "2", "--baudrate", "115200", "--timeout", "0.3"]
        assert main([*probe, "--retries", "1"]) == 0
        captured = capsys.readouterr()
        printed_once(captured.out, "      0: 0x0102    258\n      1: 0x0304    772\n")
        asked_again_once(captured.err, 0.3, answered=True)
        late_s = late_note(captured.err, relay)
        assert "loses requests" not in captured.err
        assert "skipped" not in captured.err  # the late answer and the next one did not collide
        assert len(asked) == 2
        # asked again once quiet for the timeout after the late answer (the relay reads each
        # request a little after it is written)
        assert asked[1] - asked[0] >= late_s + 0.3 - 0.1
        # no retries: the late answer is the only one
        late[0], asked[:] = 1, []
        assert main(probe) == 1
        captured = capsys.readouterr()
        printed_once(captured.out, "      0: 0x0102    258\n      1: 0x0304    772\n")
        late_note(captured.err, relay)
        assert "no response" not in captured.err
        assert "nothing came" not in captured.err
        assert "asked again" not in captured.err
        assert len(asked) == 1


@pytest.mark.slow
def test_the_probe_tells_a_device_whose_every_answer_comes_late_as_a_timeout_too_short(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sensor whose device answers every read 0.45 s after it, past the 0.3 s timeout,
    with ``modbus.retries = 1``: the read asked again once the first answer came late and
    the device was quiet for the timeout gets a late answer too, waited for as long as the
    first took (the daemon's drain after a device's late answers), never taken for an
    answer in time. The registers are printed once, the probe exits 1 and names the
    sensor's timeout to raise; the line is not said to lose requests."""
    late = [2]
    asked: list[float] = []
    with (
        PtyRelay(answer=losing_line([0], asked), delay_s=slow_answers(0.45, late)) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [0x0102])
        config = probed_sensor(
            tmp_path, "s8", relay.near.path, 115200, "unit = 1, retries = 1, timeout_s = 0.3"
        )
        sensor = ["modbus", "read", "--sensor", "s8", "-c", str(config), "--holding", "0"]
        assert main([*sensor, "--timeout", "0.3"]) == 1
        captured = capsys.readouterr()
        assert late[0] == 0
        assert len(asked) == 2
    printed_once(captured.out)
    asked_again_once(captured.err, 0.3, answered=False)
    late_note(captured.err, relay, "sensor 's8'")
    assert "loses requests" not in captured.err
    assert "skipped" not in captured.err


@pytest.mark.slow
def test_the_probe_waits_after_a_timeout_as_long_as_the_device_s_late_answer_took(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A device that answers 0.75 s after the first request and 1.05 s after the second,
    with the probe's 0.5 s timeout: the first late answer comes in the wait after the
    first timeout. The wait after the second one lasts, as the daemon's drain does, until
    an answer as late as the first could have come and the device has been quiet for the
    timeout after it (1.25 s after the request), not for twice the timeout as after a device
    never late (1 s): the second late answer comes in it, and the probe tells how late it came."""
    delays = [0.75, 1.05]
    asked: list[float] = []
    with (
        PtyRelay(
            answer=losing_line([0], asked), delay_s=lambda _: delays.pop(0) if delays else 0.0
        ) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [0x0102])
        probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
        probe += ["--baudrate", "115200", "--timeout", "0.5", "--retries", "1"]
        assert main(probe) == 1
        captured = capsys.readouterr()
    assert len(asked) == 2
    printed_once(captured.out)
    asked_again_once(captured.err, 0.5, answered=False)
    assert 1.05 <= lateness(captured.err) < 1.25


@pytest.mark.slow
def test_the_probe_tells_a_late_answer_the_sensor_s_own_timeout_takes_as_the_timeout_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--sensor`` with a ``--timeout`` shorter than the sensor's own 1.5 s: a device that
    answers 0.45 s after the request answers past the timeout given, within the sensor's. The
    probe exits 1, as the read with its settings failed, and says that the sensor's
    ``modbus.timeout_s`` takes that answer and the ``--timeout`` it needs, not that the sensor
    needs a longer ``modbus.timeout_s``.

    The probe's wait for a late answer ends 0.6 s after the request (the timeout, then the
    unit quiet for as long again), 0.15 s after the answer; an answer the host held back
    past it (the server and the relay are threads of the test's process) is not read, and
    the probe tells that nothing came. A play whose answer reached the probe more than 0.1 s
    past its 0.45 s, or whose process the host held back as long, is played again."""

    def scenario() -> tuple[tuple[int, str, str, PtyRelay], tuple[float, float]]:
        with (
            PtyRelay(delay_s=slow_answers(0.45, [1])) as relay,
            ModbusServer([1], "serial", relay.far.path) as server,
            HostLag() as lag,
        ):
            server.set(1, "holding", 0, [0x0102])
            config = probed_sensor(
                tmp_path, "s8", relay.near.path, 115200, "unit = 1, timeout_s = 1.5"
            )
            sensor = ["modbus", "read", "--sensor", "s8", "-c", str(config), "--holding", "0"]
            code = main([*sensor, "--timeout", "0.3"])
            captured = capsys.readouterr()
            # the relay lets the answer go however late, so that its time is known
            deadline = time.monotonic() + 1.0
            while not relay.held_answer_s and time.monotonic() < deadline:
                time.sleep(0.01)
        return (code, captured.out, captured.err, relay), (relay.held_answer_s, lag.max_s)

    def held(record: tuple[float, float]) -> str:
        answer_s, lag_s = record
        if answer_s > 0.45 + 0.1:
            return f"the answer reached the probe {answer_s:.3f} s after the request"
        if lag_s > 0.1:
            return f"the host held the test's process back {lag_s:.3f} s"
        return ""

    (code, out, err, relay), how = steadily(scenario, held)
    assert code == 1, (err, how)
    assert "      0: 0x0102    258\n" in out, how
    told_late(
        err,
        r"^unit 1 answered (\d+\.\d\d) s after the request, past the --timeout of 0\.3 s; the "
        r"modbus\.timeout_s of sensor 's8' \(1\.5 s\) takes it: probe it with a --timeout of at "
        r"least about (\d+(?:\.\d+)?) s, or none$",
        relay,
    )
    assert "needs modbus.timeout_s" not in err, how


@pytest.mark.slow
def test_the_probe_tells_an_answer_in_its_time_but_after_the_sensor_s_timeout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With ``--sensor`` the probe waits the longer of its own timeout (1 s) and the
    sensor's: a device that answers 0.45 s after the request, where the sensor's
    ``modbus.timeout_s`` is 0.3 s, has its registers printed, and the probe exits 1 and
    says the timeout the sensor needs, since the daemon would time out on every read."""
    asked: list[float] = []
    with (
        PtyRelay(answer=losing_line([0], asked), delay_s=slow_answers(0.45, [1])) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [0x0102])
        config = probed_sensor(tmp_path, "s8", relay.near.path, 115200, "unit = 1, timeout_s = 0.3")
        sensor = ["modbus", "read", "--sensor", "s8", "-c", str(config), "--holding", "0"]
        assert main(sensor) == 1
        captured = capsys.readouterr()
    assert len(asked) == 1
    printed_once(captured.out)
    told_late(
        captured.err,
        r"^unit 1 answered (\d+\.\d\d) s after the request, past the modbus\.timeout_s of "
        r"sensor 's8' \(0\.3 s\): the daemon discards answers that come after it, so it needs "
        r"modbus\.timeout_s of at least about (\d+(?:\.\d+)?) s$",
        relay,
    )


@pytest.mark.slow
def test_the_probe_reads_a_long_answer_begun_within_the_timeout_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """125 registers at 9600 baud: the answer takes 266 ms on the line. One that begins 0.1 s
    after the request, within the 0.3 s timeout, ends past it; the daemon reads an answer
    begun in time whole (``Bus._arriving``), and so does the probe: it prints the registers
    and exits 0, telling no late answer and no timeout to raise. With ``--sensor`` of a
    0.3 s ``modbus.timeout_s`` the probe waits its own 1 s, and the time the request and the
    answer take on the line is no lateness either."""
    with (
        PtyRelay(char_s=10 / 9600, delay_s=lambda _: 0.1) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, list(range(1000, 1125)))
        read = ["--holding", "0", "--count", "125"]
        probe = ["modbus", "read", relay.near.path, "--unit", "1", *read, "--baudrate", "9600"]
        config = probed_sensor(tmp_path, "s8", relay.near.path, 9600, "unit = 1, timeout_s = 0.3")
        sensor = ["modbus", "read", "--sensor", "s8", "-c", str(config), *read]
        for args in ([*probe, "--timeout", "0.3"], sensor):
            assert main(args) == 0, capsys.readouterr().err
            captured = capsys.readouterr()
            assert "      0: 0x03e8   1000\n" in captured.out
            assert "    124: 0x0464   1124\n" in captured.out
            assert "answered" not in captured.err
            assert "timeout" not in captured.err
            assert len(relay.requests) == 8  # one request, no retries
            relay.requests.clear()


@pytest.mark.slow
def test_the_probe_asks_a_busy_device_again_no_sooner_than_the_line_s_silence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sensor with ``busy_wait_s = 0`` on a 1200-baud line: the read its device answered
    busy is asked again after the line's inter-frame silence (3.5 characters, 29 ms), as
    the daemon's bus asks its next request, not on the heels of the busy answer, where the
    device would take it for the rest of a frame."""
    asked: list[float] = []

    def firmware(request: bytes) -> bytes:
        asked.append(time.monotonic())
        if len(asked) == 1:
            return rtu_frame(bytes([request[0], 0x83, 6]))
        return rtu_frame(bytes([request[0], 3, 2, 0x01, 0x02]))

    with PtyRelay(answer=firmware) as relay:
        config = probed_sensor(
            tmp_path, "meter", relay.near.path, 1200, "unit = 1, busy_retries = 1, busy_wait_s = 0"
        )
        probe = ["modbus", "read", "--sensor", "meter", "-c", str(config), "--holding", "0"]
        assert main(probe) == 0
    assert "      0: 0x0102    258" in capsys.readouterr().out
    assert len(asked) == 2
    assert asked[1] - asked[0] >= 3.5 * 10 / 1200


@pytest.mark.slow
def test_the_probe_tells_a_busy_device_that_then_does_not_answer_as_busy_not_unreached(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A device that answers a read busy (06) and then takes no request while it is busy
    (a long write to its memory): the read asked again gets no answer. The probe says the
    device answered busy and took no request since, not that nothing came and the unit id,
    baud rate and wiring are to be checked: its busy answer shows they hold."""
    asked: list[bytes] = []

    def firmware(request: bytes) -> bytes | None:
        asked.append(request)
        return rtu_frame(bytes([request[0], 0x83, 6])) if len(asked) == 1 else b""

    with PtyRelay(answer=firmware) as relay, ModbusServer([1], "serial", relay.far.path):
        probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
        assert main([*probe, "--baudrate", "115200", "--timeout", "0.3"]) == 1
    err = capsys.readouterr().err
    assert len(asked) == 2
    assert "no response from unit 1 within 0.3 s" in err
    assert (
        "unit 1 answered busy once, asked again once, each time 0.1 s later, as the daemon "
        "asks it (modbus.busy_wait_s, busy_retries); no answer came to the last: the device "
        "hears the probe (unit id, line settings and wiring hold)"
    ) in err
    assert "nothing came" not in err
    assert "wiring (A and B" not in err


@pytest.mark.slow
def test_the_probe_tells_a_gateway_s_0b_as_a_device_that_did_not_answer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Behind a Modbus TCP gateway a unit that is not there is answered with exception 0B by
    the gateway: the probe says the device behind it did not answer and what to check, not
    that the unit answered with an exception."""
    with (
        PtyRelay(silent_units=[9]) as relay,
        ModbusServer([1], "serial", relay.far.path),
        # the gateway's own timeout: within the probe's 1 s, and long enough for unit 1's answer
        TcpGateway(relay.near.path, timeout_s=0.3) as gateway,
    ):
        assert main(["modbus", "read", gateway.url, "--unit", "9", "--input", "0"]) == 1
        out = capsys.readouterr().out
        assert "unit 9 answered" not in out
        assert (
            "the gateway answered for unit 9 with exception 0x0B (gateway target device failed "
            "to respond): the device behind the gateway did not answer it: check --unit, the "
            "gateway's serial settings (baud rate, parity) against the device's, and the wiring"
        ) in out
        assert main(["modbus", "read", gateway.url, "--unit", "1", "--input", "0"]) == 0


@pytest.mark.slow
def test_the_probe_asks_again_a_read_a_gateway_answers_for_a_silent_device(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Behind a Modbus TCP gateway a request the line loses is answered by the gateway with
    exception 0x0B: with ``--retries`` the probe asks it again, as the daemon asks a read
    the gateway answers so (``modbus.retries``). A gateway slower than the probe answers
    0x0B to the first request while the one asked again waits behind it: that late answer
    of the first request is not taken for the answer of the one asked again."""
    lost = [0]
    with (
        PtyRelay(answer=losing_line(lost)) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
        TcpGateway(relay.near.path, timeout_s=0.15) as gateway,
    ):
        server.set(1, "input", 0, [0x0304])
        probe = ["modbus", "read", gateway.url, "--unit", "1", "--input", "0"]
        lost[0] = 1
        assert main([*probe, "--retries", "1"]) == 0
        captured = capsys.readouterr()
        assert "      0: 0x0304    772" in captured.out
        assert "the gateway answered" not in captured.out
        assert (
            "unit 1 did not answer (the gateway answered exception 0x0B (gateway target device "
            "failed to respond)) and was asked again once, as the daemon asks it "
            "(modbus.retries); it answered then"
        ) in captured.err
        # no retries: the gateway's 0x0B is the answer, as before
        lost[0] = 1
        assert main(probe) == 1
        captured = capsys.readouterr()
        assert "the gateway answered for unit 1 with exception 0x0B" in captured.out
        assert "asked again" not in captured.err
        # the probe gives up on the first request at 0.1 s, the gateway at 0.15 s: its 0x0B
        # of the first request comes while the one asked again waits
        lost[0] = 1
        assert main([*probe, "--retries", "1", "--timeout", "0.1"]) == 0
        captured = capsys.readouterr()
        assert "      0: 0x0304    772" in captured.out
        assert "unit 1 did not answer within 0.1 s and was asked again once" in captured.err
        assert "a late answer to an earlier request (transaction 1)" in captured.err


@pytest.mark.slow
def test_the_probe_tells_a_gateway_s_late_answer_to_an_earlier_request_as_a_timeout_too_short(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Behind a Modbus TCP gateway, a device that answers 0.45 s after the request, past the
    probe's 0.3 s timeout: the gateway answers the first request late, with its transaction
    id, while the one asked again waits behind it. That answer is told as a late one (the
    timeout to set, not a line that loses requests) and the one asked again gets its own
    timeout afresh: its answer, in time, is printed (exit 0). When it comes late too, the
    late answer's registers are printed and the probe exits 1."""
    late = [1]
    with (
        PtyRelay(delay_s=slow_answers(0.45, late)) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
        TcpGateway(relay.near.path, timeout_s=1.0) as gateway,
    ):
        server.set(1, "holding", 0, [0x0102])
        probe = ["modbus", "read", gateway.url, "--unit", "1", "--holding", "0"]
        probe += ["--timeout", "0.3", "--retries", "1"]
        assert main(probe) == 0
        captured = capsys.readouterr()
        printed_once(captured.out)
        asked_again_once(captured.err, 0.3, answered=True)
        late_note(captured.err, relay)
        assert "loses requests" not in captured.err
        # the answer to the read asked again comes 0.45 s after the first one's, past the
        # timeout that started again then
        late[0] = 2
        assert main(probe) == 1
        captured = capsys.readouterr()
        printed_once(captured.out)
        asked_again_once(captured.err, 0.3, answered=False)
        late_note(captured.err, relay)
        assert "loses requests" not in captured.err
        assert "nothing came" not in captured.err


@pytest.mark.slow
def test_the_probe_tells_a_gateway_s_late_no_answer_of_the_last_request_as_its_word(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Behind a Modbus TCP gateway whose own timeout (0.5 s) is longer than the probe's
    (0.3 s), a device that takes no request: the gateway's 0x0B for the last request comes
    after the probe's timeout, within its wait for a late answer. That is the answer the
    probe tells (the gateway reached no device: what to check), not "nothing came", which
    would say the gateway itself was silent, nor a late answer "to an earlier request"."""
    with (
        PtyRelay(answer=losing_line([100])) as relay,
        TcpGateway(relay.near.path, timeout_s=0.5) as gateway,
    ):
        probe = ["modbus", "read", gateway.url, "--unit", "1", "--holding", "0"]
        assert main([*probe, "--timeout", "0.3"]) == 1
        captured = capsys.readouterr()
    assert captured.out == (
        "the gateway answered for unit 1 with exception 0x0B (gateway target device failed to "
        "respond): the device behind the gateway did not answer it: check --unit, the "
        "gateway's serial settings (baud rate, parity) against the device's, and the wiring "
        "(A and B swapped, termination)\n"
    )
    assert "nothing came" not in captured.err
    assert "earlier request" not in captured.err
    assert "no response" not in captured.err


@pytest.mark.slow
def test_the_probe_s_request_asked_again_gets_its_timeout_from_the_gateway_s_late_answer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Behind a Modbus TCP gateway, a device that answers the first request 0.8 s after it,
    past the probe's 0.5 s timeout, and the one asked again 0.35 s after it reached it. The
    gateway serves one request at a time: it asks the device the second request only once
    the first one's answer came, 0.3 s after the second was sent, and that answer comes 1.15 s
    after the first request, past the second one's own timeout. Its timeout starts again at
    the late answer, as the daemon's does, so its answer is the read's (exit 0), and the late
    one is told with how late it came."""
    delays = [0.8, 0.35]
    with (
        PtyRelay(delay_s=lambda _: delays.pop(0) if delays else 0.0) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
        TcpGateway(relay.near.path, timeout_s=1.5) as gateway,
    ):
        server.set(1, "holding", 0, [0x0102])
        probe = ["modbus", "read", gateway.url, "--unit", "1", "--holding", "0"]
        assert main([*probe, "--timeout", "0.5", "--retries", "1"]) == 0
        captured = capsys.readouterr()
    printed_once(captured.out)
    asked_again_once(captured.err, 0.5, answered=True)
    assert 0.8 <= lateness(captured.err) < 1.0


@pytest.mark.slow
def test_the_probe_waits_for_a_gateway_s_late_answer_to_its_last_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Behind a Modbus TCP gateway, a device that answers 0.45 s after the request, past the
    probe's 0.3 s timeout, read without retries: the gateway answers each request once,
    however late, and the probe waits for that answer as on RTU (as long as the timeout
    again, and as long again after each late answer). Its registers are printed and the probe
    exits 1, saying the answer came late and the timeout that takes it, not that nothing
    came (the unit id, whether the gateway reaches the device)."""
    with (
        PtyRelay(delay_s=slow_answers(0.45, [1])) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
        TcpGateway(relay.near.path, timeout_s=1.0) as gateway,
    ):
        server.set(1, "holding", 0, [0x0102])
        probe = ["modbus", "read", gateway.url, "--unit", "1", "--holding", "0"]
        assert main([*probe, "--timeout", "0.3"]) == 1
        captured = capsys.readouterr()
    printed_once(captured.out)
    late_note(captured.err, relay)
    assert "no response" not in captured.err
    assert "nothing came" not in captured.err
    assert "asked again" not in captured.err


@pytest.mark.slow
def test_the_probe_tells_a_gateway_s_late_refusal_of_an_earlier_request_as_a_late_answer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Behind a Modbus TCP gateway, a device that refuses the read (exception 0x02) 0.45 s
    after the request, past the probe's 0.3 s timeout: its refusal of the first request comes
    while the one asked again waits behind it. It is the device's answer, told as on RTU as a
    late one (the timeout to set), not skipped as the gateway's 0x0B on that request is; the
    read asked again is refused in time, and the probe tells the refusal (exit 1), not a line
    that loses requests. Without retries the late refusal is all that came: it is told, with
    the timeout to set."""
    late = [1]
    with (
        PtyRelay(delay_s=slow_answers(0.45, late)) as relay,
        ModbusServer([1], "serial", relay.far.path),
        TcpGateway(relay.near.path, timeout_s=1.0) as gateway,
    ):
        probe = ["modbus", "read", gateway.url, "--unit", "1", "--input", "999", "--count", "5"]
        probe += ["--timeout", "0.3"]
        assert main([*probe, "--retries", "1"]) == 1
        captured = capsys.readouterr()
        assert "unit 1 answered with exception 0x02 (illegal data address)\n" in captured.out
        asked_again_once(captured.err, 0.3, answered=True)
        late_note(captured.err, relay)
        assert "loses requests" not in captured.err
        assert "skipped" not in captured.err
        late[0] = 1
        assert main(probe) == 1
        captured = capsys.readouterr()
    assert captured.out == "unit 1 answered with exception 0x02 (illegal data address)\n"
    late_note(captured.err, relay)
    assert "no response" not in captured.err
    assert "skipped" not in captured.err


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["serial", "tcp"])
def test_the_probe_tells_a_late_refusal_of_the_address_as_one_in_time(
    kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A device whose every answer comes 0.45 s after the request, past the probe's 0.3 s
    timeout (on its line, or behind a Modbus TCP gateway), refuses the read (0x02): its late
    refusal is told as one in time, with the timeout to set besides. A read of the wrong
    register table is shown the other table's answer at those addresses, asked with a
    timeout that takes the device's lateness; an address that reads as a manual's reference
    gets the address it stands for."""
    with contextlib.ExitStack() as stack:
        relay = stack.enter_context(PtyRelay(delay_s=lambda _: 0.45))
        server = stack.enter_context(
            ModbusServer([1], "serial", relay.far.path, first_address=EPEVER_TABLES)
        )
        port, options = relay.near.path, ["--baudrate", "115200"]
        if kind == "tcp":
            port, options = stack.enter_context(TcpGateway(relay.near.path, timeout_s=1.0)).url, []
        server.set(1, "input", 0x3100, [1834, 255, 4677, 0])
        probe = ["modbus", "read", port, "--unit", "1", "--timeout", "0.3", *options]
        assert main([*probe, "--holding", "0x3100", "--count", "4"]) == 1
        captured = capsys.readouterr()
        assert "unit 1 answered with exception 0x02 (illegal data address)\n" in captured.out
        assert (
            "the same addresses of the input registers answer (function 04; --input 12544, "
            'table = "input"):'
        ) in captured.out
        assert "  12544: 0x072a   1834" in captured.out
        late_note(captured.err, relay)
        assert main([*probe, "--holding", "40004"]) == 1
        captured = capsys.readouterr()
    assert captured.out == (
        "unit 1 answered with exception 0x02 (illegal data address)\n"
        "40004 is asked as the address it says; if the manual gives 40004 as a reference, "
        "that is --holding 3\n"
    )
    late_note(captured.err, relay)


_T = TypeVar("_T")


@dataclasses.dataclass
class Played:
    """What :func:`sent_on_the_line` did: when it wrote each frame (``written``, monotonic)
    and how much later than asked its process ran at most, at a frame's time or at a tick
    between (``slip_s``): how long the host held it back while the probe ran."""

    written: list[float] = dataclasses.field(default_factory=list)
    slip_s: float = 0.0
    #: when the relay passed on the first request, from which the frames' times count
    asked_at: float = math.nan


@contextlib.contextmanager
def sent_on_the_line(
    relay: PtyRelay, asked: list[float], frames: list[tuple[float, bytes]]
) -> Iterator[Played]:
    """Each of ``frames`` sent to the probe on ``relay``'s line (as another master or a device
    on it does), as long after the relay passed on the first request (``asked``) as it says,
    by a process of its own (``harness.line_player``: a thread of the test's process would
    be held back whenever another one has the interpreter); it stops when the block ends,
    and what it did is recorded (:class:`Played`) then."""
    assert relay.near.master_fd is not None
    stop = threading.Event()
    played = Played()
    with LinePlayer(relay.near.master_fd, frames) as player:

        def begin() -> None:
            while not asked:
                if stop.wait(0.001):
                    return
            played.asked_at = asked[0]
            player.begin(asked[0])

        thread = threading.Thread(target=begin, name="sent-on-the-line", daemon=True)
        thread.start()
        try:
            yield played
        finally:
            stop.set()
            thread.join(5.0)
    played.written, played.slip_s = player.written, player.slip_s


def played_steadily(
    scenario: Callable[[], tuple[_T, Played]], held: Callable[[Played], str], attempts: int = 3
) -> tuple[_T, str]:
    """``scenario``'s result, played again (up to ``attempts`` times in all) while ``held``
    says how the host held the player of its :func:`sent_on_the_line` back more than the
    scenario allows ("" when it did not), and what was played again, for the assertions'
    messages (:func:`harness.host_lag.steadily`). A probe that fails on a line played on
    time fails at the first attempt."""
    return steadily(scenario, held, attempts)


def slipped_past(limit_s: float) -> Callable[[Played], str]:
    """A ``held`` for :func:`played_steadily`: the player ran more than ``limit_s`` late."""

    def held(played: Played) -> str:
        if played.slip_s <= limit_s:
            return ""
        return f"the player ran {played.slip_s:.3f} s late (over {limit_s:g} s)"

    return held


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["serial", "tcp"])
def test_the_probe_asks_a_device_that_answers_busy_after_its_timeout_again(
    kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A device that answers the read busy (06) 0.45 s after it, past the probe's 0.3 s
    timeout (on its line, or behind a Modbus TCP gateway), and the read asked again with its
    registers: the late busy answer is a busy one, asked again ``busy_wait_s`` later as one
    in time is, not the late answer told as the read's. The registers are printed (exit 0);
    the probe says the device answered busy, late, and the timeout that takes its answers."""
    busy = rtu_frame(bytes([1, 0x83, 6]))

    def scenario() -> tuple[tuple[int, list[float], str, str, PtyRelay], Played]:
        asked: list[float] = []
        with contextlib.ExitStack() as stack:
            relay = stack.enter_context(PtyRelay(answer=losing_line([1], asked)))
            server = stack.enter_context(ModbusServer([1], "serial", relay.far.path))
            played = stack.enter_context(sent_on_the_line(relay, asked, [(0.45, busy)]))
            port, options = relay.near.path, ["--baudrate", "115200"]
            if kind == "tcp":
                gateway = TcpGateway(relay.near.path, timeout_s=1.0)
                port, options = stack.enter_context(gateway).url, []
            server.set(1, "holding", 0, [0x0102])
            probe = ["modbus", "read", port, "--unit", "1", "--holding", "0", *options]
            code = main([*probe, "--timeout", "0.3"])
            captured = capsys.readouterr()
        return (code, asked, captured.out, captured.err, relay), played

    # the busy answer comes in the wait for a late one (0.3 s to 0.6 s after the request)
    # when the player that sends it is held back less than 0.1 s
    (code, asked, out, err, relay), how = played_steadily(scenario, slipped_past(0.1))
    assert code == 0, f"{how}\n{err}"
    printed_once(out)
    assert len(asked) == 2, how
    assert asked[1] - asked[0] >= 0.45 + 0.1 - 0.05, how
    late_note(err, relay)
    assert (
        "unit 1 answered busy once (late) and was asked again each time 0.1 s later, as the "
        "daemon asks it (modbus.busy_wait_s, busy_retries); it answered then\n"
    ) in err, how
    assert "exception" not in out
    assert "did not answer" not in err


#: The probe's line when its wait for a late answer is cut short at its limit.
CUT_SHORT = re.compile(
    r"^stopped waiting for a late answer (\d+\.\d\d) s after the timeout, the probe's limit, "
    r"before unit 1 had been quiet for the timeout: (\d+) frames of its came in the wait, each "
    r"starting it again \(another master asking it, or a device that sends on its own\); a "
    r"request sent now may meet a late one$",
    re.MULTILINE,
)


@pytest.mark.slow
def test_the_probe_s_wait_for_a_late_answer_ends_at_its_limit_while_frames_of_the_unit_come(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Frames of the probed unit that keep coming after a timeout (another master reading its
    input registers every 0.4 s) start the wait for its quiet again each time, as the daemon's
    drain does. The probe's wait ends at its limit, 3 s after the timeout of 1 s (the longer
    of 3 s and two timeouts, not the bus's longest drain of 4), and says so; the read asked
    again then goes out, and its answer is printed."""
    asked: list[float] = []
    theirs = rtu_frame(bytes([1, 4, 2, 0x00, 0x07]))
    with (
        PtyRelay(answer=losing_line([1], asked)) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
        sent_on_the_line(relay, asked, [(0.2 + 0.4 * i, theirs) for i in range(16)]),
    ):
        server.set(1, "holding", 0, [0x0102])
        probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
        probe += ["--baudrate", "115200", "--timeout", "1", "--retries", "1"]
        assert main(probe) == 0
        captured = capsys.readouterr()
    printed_once(captured.out)
    assert len(asked) == 2
    assert 1 + 3 - 0.1 <= asked[1] - asked[0] < 1 + 3 + 0.5
    cut = CUT_SHORT.findall(captured.err)
    assert len(cut) == 1, captured.err
    assert cut[0][0] == "3.00"
    assert 6 <= int(cut[0][1]) <= 9


@pytest.mark.parametrize(
    ("timeout_s", "limit_s"),
    [(0.3, 1.2), (0.75, 3.0), (1.0, 3.0), (1.5, 3.0), (2.0, 4.0), (60, 120)],
)
def test_the_probe_s_wait_for_a_late_answer_is_limited_to_3_s_or_two_timeouts(
    timeout_s: float, limit_s: float
) -> None:
    """The longest wait for a late answer after a timeout while frames of the unit keep
    coming: the longer of 3 s and two timeouts, never longer than the bus's longest drain
    (4 timeouts after the timeout)."""
    assert drain_limit_s(timeout_s) == pytest.approx(limit_s)


@pytest.mark.slow
def test_the_probe_names_other_units_frames_in_its_wait_for_a_late_answer_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Another master's exchanges with units 2 and 3 on the line while the probe waits for a
    late answer of unit 1 after its timeout: they are counted by unit id and named in one
    line when the wait ends, not one line each."""
    asked: list[float] = []
    two, three = rtu_frame(bytes([2, 3, 2, 0, 1])), rtu_frame(bytes([3, 4, 2, 0, 2]))
    frames = [two, three, two, two, three, two]
    with (
        PtyRelay(answer=losing_line([1], asked)) as relay,
        ModbusServer([1], "serial", relay.far.path),
        sent_on_the_line(relay, asked, [(1.0 + 0.05 * i, f) for i, f in enumerate(frames)]),
    ):
        probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
        assert main([*probe, "--baudrate", "115200", "--timeout", "0.8"]) == 1
        err = capsys.readouterr().err
    assert len(asked) == 1
    assert "no response from unit 1 within 0.8 s" in err
    assert (
        "skipped 6 frames of other unit ids while waiting for a late answer (another master's "
        "exchanges, or devices that send on their own): 4 of unit 2, 2 of unit 3\n"
    ) in err
    # that line alone names them; the verdict that the line is alive but unit 1 did not
    # answer points to it
    named = [line for line in err.splitlines() if "unit 2" in line]
    assert len(named) == 1, err
    assert "\nthe line is alive: the frames of other unit ids skipped above came" in err
    assert "skipped a frame" not in err
    assert "stopped waiting" not in err


#: Another master's exchanges with units 2 and 3 on a busy bus: its requests (which the
#: probe skips as bytes that make no answer) and their answers.
ANOTHER_MASTER = [
    rtu_frame(bytes([2, 3, 0, 0, 0, 1])),
    rtu_frame(bytes([2, 3, 2, 0, 1])),
    rtu_frame(bytes([3, 4, 0, 0, 0, 1])),
    rtu_frame(bytes([3, 4, 2, 0, 2])),
]


def busy_bus(first_s: float, exchanges: int) -> list[tuple[float, bytes]]:
    """``exchanges`` of :data:`ANOTHER_MASTER`'s in turn, the first ``first_s`` after the
    probe's request, one frame every 0.05 s: ``exchanges`` answers, those of unit 2 first."""
    frames = [ANOTHER_MASTER[i % 4] for i in range(2 * exchanges)]
    return [(first_s + 0.05 * i, frame) for i, frame in enumerate(frames)]


#: Another master's exchanges on the line: reads of two registers each from units 2 and 3,
#: request and answer, no byte of them unit 1's id (the start of its answer).
OTHER_MASTER = b"".join(
    [
        rtu_frame(bytes([2, 3, 0, 0x10, 0, 2])),
        rtu_frame(bytes([2, 3, 4, 0, 5, 0, 6])),
        rtu_frame(bytes([3, 4, 0, 0x20, 0, 2])),
        rtu_frame(bytes([3, 4, 4, 0, 7, 0, 8])),
    ]
)


@pytest.mark.slow
def test_the_probe_says_when_other_units_frames_keep_its_wait_for_a_late_answer_to_its_limit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Another master's exchanges with units 2 and 3 back to back on a 1200-baud line from
    0.1 s after the probe's request, each byte a character time (8.3 ms) after the one
    before, never the line's silence (29 ms) between them:
    the line stays busy through the probe's wait for a late answer after its 0.2 s timeout,
    which ends at its limit (0.8 s after the timeout: four timeouts). The probe says so,
    naming the unit ids the line carried, where it said nothing."""
    asked: list[float] = []
    char = 10 / 1200
    stream = OTHER_MASTER * 5  # 170 bytes: 1.4 s on the line
    with (
        PtyRelay(answer=losing_line([1], asked)) as relay,
        ModbusServer([1], "serial", relay.far.path),
        sent_on_the_line(
            relay, asked, [(0.1 + char * i, bytes([b])) for i, b in enumerate(stream)]
        ),
    ):
        probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
        assert main([*probe, "--baudrate", "1200", "--timeout", "0.2"]) == 1
        err = capsys.readouterr().err
    assert len(asked) == 1
    assert "no response from unit 1 within 0.2 s" in err
    assert (
        "stopped waiting for a late answer 0.80 s after the timeout, the probe's limit, while "
        "the line still carried frames of units 2, 3 (another master's exchanges, or devices "
        "that send on their own): a request sent now may collide with them; probe when the "
        "line is quiet\n"
    ) in err


#: The probe's line when its wait for a late answer ends at the line-busy limit while other
#: units' frames still come: how long after the timeout.
LINE_BUSY_END = re.compile(
    r"^stopped waiting for a late answer (\d+\.\d\d) s after the timeout, the line-busy limit "
    r"\(1 s of bytes without the line's silence, past which the daemon's requests go out "
    r"anyway\), while the line still carried frames of units 2, 3 \(another master's "
    r"exchanges, or devices that send on their own\): a request sent now may collide with "
    r"them; probe when the line is quiet$",
    re.MULTILINE,
)


@pytest.mark.slow
def test_the_probe_says_when_other_units_frames_keep_the_line_busy_to_its_limit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Another master's exchanges with units 2 and 3 back to back on a 9600-baud line, each
    byte a character time after the one before, through the probe's wait for a late answer
    after its 1 s timeout: that wait ends when they have kept the line from its silence for
    1 s, the line-busy limit (the daemon's requests go out then too), and the rest of the
    frame they begin (at most 0.27 s), well before the probe's own limit (3 s, the longer of
    3 s and two timeouts). The probe says so as it says it at its own limit, naming the unit
    ids the line carried, where it said nothing."""
    char = 10 / 9600
    stream = OTHER_MASTER * 80  # 2720 bytes: 2.8 s on the line

    def scenario() -> tuple[tuple[int, list[float], float, str], Played]:
        asked: list[float] = []
        with (
            PtyRelay(answer=losing_line([1], asked)) as relay,
            ModbusServer([1], "serial", relay.far.path),
            sent_on_the_line(
                relay, asked, [(0.1 + char * i, bytes([b])) for i, b in enumerate(stream)]
            ) as played,
        ):
            probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
            code = main([*probe, "--baudrate", "9600", "--timeout", "1"])
            done = time.monotonic()
            err = capsys.readouterr().err
        return (code, asked, done, err), played

    # the line is quiet whenever the player that plays it is held back past the line's
    # silence (3.5 characters): a play held so is played again
    (code, asked, done, err), how = played_steadily(scenario, slipped_past(3.5 * char))
    assert code == 1, f"{how}\n{err}"
    assert len(asked) == 1, how
    assert "no response from unit 1 within 1 s" in err
    told = LINE_BUSY_END.findall(err)
    assert len(told) == 1, f"{how}\n{err}"
    assert 1.0 <= float(told[0]) < 1.35, how
    assert "the probe's limit" not in err
    assert done - asked[0] < 1 + 1.35 + 0.15, how


#: Another master's exchanges with units 2 and 3, reading register 1 of each: many of their
#: bytes are 0x01, unit 1's id (the first byte of its answer), none followed by 0x03 (the
#: function of a read of holding registers, its answer's second byte)
ANOTHER_MASTER_AT_1 = [
    rtu_frame(bytes([2, 3, 0, 1, 0, 1])),
    rtu_frame(bytes([2, 3, 2, 0, 1])),
    rtu_frame(bytes([3, 4, 0, 1, 0, 1])),
    rtu_frame(bytes([3, 4, 2, 1, 1])),
]


@pytest.mark.slow
def test_the_probe_s_timeout_holds_while_other_units_bytes_carry_its_unit_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Another master's exchanges with units 2 and 3 back to back on a 9600-baud line from
    0.02 s after the probe's request, each byte a character time after the one before, many
    of them 0x01, unit 1's id: none follows the line's silence, so none can begin unit 1's
    answer, and the wait for that answer (125 registers: 266 ms on the line) is not drawn out
    by them past the 0.2 s timeout. The wait for a late answer after it ends at the probe's
    limit, 0.8 s later, as the line stays busy: the probe is done 1 s after its request. A
    play whose player ran late by more than the line's silence (a gap in the stream that
    could end a frame), or whose probe (in the test's process) the host held back more than
    0.1 s at a time, is played again."""
    char = 10 / 9600
    stream = b"".join(ANOTHER_MASTER_AT_1 * 70)  # 2170 bytes: 2.3 s on the line

    def scenario() -> tuple[tuple[int, list[float], float, str], tuple[Played, HostLag]]:
        asked: list[float] = []
        with (
            HostLag() as lag,
            PtyRelay(answer=losing_line([1], asked)) as relay,
            ModbusServer([1], "serial", relay.far.path),
            sent_on_the_line(
                relay, asked, [(0.02 + char * i, bytes([b])) for i, b in enumerate(stream)]
            ) as played,
        ):
            probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
            probe += ["--count", "125", "--baudrate", "9600", "--timeout", "0.2"]
            code = main(probe)
            done = time.monotonic()
            err = capsys.readouterr().err
        return (code, asked, done, err), (played, lag)

    def held(record: tuple[Played, HostLag]) -> str:
        played, lag = record
        return slipped_past(3.5 * char)(played) or held_past(0.1)(lag)

    (code, asked, done, err), how = steadily(scenario, held)
    assert code == 1, f"{how}\n{err}"
    assert len(asked) == 1, how
    assert "no response from unit 1 within 0.2 s" in err
    assert (
        "stopped waiting for a late answer 0.80 s after the timeout, the probe's limit, while "
        "the line still carried frames of units 2, 3 "
    ) in err, how
    assert done - asked[0] < 0.2 + 0.8 + 0.15, f"{how}\n{err}"


@pytest.mark.slow
def test_the_probe_s_timeout_holds_past_bytes_that_cannot_begin_its_answer(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes just before the probe's 0.2 s timeout (9600 baud, 125 registers: 266 ms of
    answer) that begin like unit 1's answer but cannot be its start do not draw the wait out:
    a frame of unit 2 that comes in two pieces 10 ms apart, the second one 01 03 FA (unit 1,
    function 3, 250 bytes) after a pause that looks like the line's silence, but inside that
    frame, whose CRC closes; and the first six bytes of an answer of unit 2 that breaks off
    (a collision), a byte per character time, the last 0x01 with no silence before it. The
    line is quiet after them: the wait for a late answer after the timeout ends one timeout
    later, 0.4 s after the request."""
    char = 10 / 9600
    inside = rtu_frame(bytes([2, 3, 6, 0, 0, 1, 3, 0xFA, 0]))
    broken_off = bytes([2, 3, 0xFA, 0, 0, 1])
    frames = [(0.10, inside[:5]), (0.11, inside[5:])]
    frames += [(0.16 + char * i, bytes([b])) for i, b in enumerate(broken_off)]
    # when the probe read each chunk, and where its first byte was in what the line carried
    reads: list[tuple[float, int]] = []
    carried = [0]
    read_by = probe_wire._read_by

    def recorded(source: SerialSource, fd: int | None, end: float) -> bytes:
        chunk = read_by(source, fd, end)
        if chunk:
            reads.append((time.monotonic(), carried[0]))
            carried[0] += len(chunk)
        return chunk

    monkeypatch.setattr(probe_wire, "_read_by", recorded)

    def scenario() -> tuple[tuple[int, list[float], float, str], Played]:
        reads.clear()
        carried[0] = 0
        asked: list[float] = []
        with (
            PtyRelay(answer=losing_line([1], asked)) as relay,
            ModbusServer([1], "serial", relay.far.path),
            sent_on_the_line(relay, asked, frames) as played,
        ):
            probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
            probe += ["--count", "125", "--baudrate", "9600", "--timeout", "0.2"]
            code = main(probe)
            done = time.monotonic()
            err = capsys.readouterr().err
        return (code, asked, done, err), played

    def held(played: Played) -> str:
        """The broken-off answer's bytes further apart than the line's silence (its last 0x01
        could then begin unit 1's answer), written so or read so by the probe (held back
        between two reads), or not all before the timeout, or the probe held back for most
        of the slack its time is asserted with."""
        run = played.written[2:]
        gap = max((b - a for a, b in itertools.pairwise(run)), default=0.0)
        if gap > 3.5 * char:
            return f"the broken-off answer's bytes came {gap:.4f} s apart"
        first = len(inside)  # where the broken-off answer begins
        for (was, _), (at, offset) in itertools.pairwise(reads):
            if first < offset < first + len(broken_off) and at - was > 3.5 * char:
                return f"the probe read the broken-off answer's bytes {at - was:.4f} s apart"
        if run and run[-1] >= played.asked_at + 0.2:
            return f"the last byte came {run[-1] - played.asked_at:.3f} s after the request"
        return slipped_past(0.1)(played)

    (code, asked, done, err), how = played_steadily(scenario, held)
    assert code == 1, f"{how}\n{err}"
    assert len(asked) == 1, how
    assert "no response from unit 1 within 0.2 s" in err
    assert (
        "skipped 1 frame of other unit ids while waiting for the answer (another master's "
        "exchanges, or devices that send on their own): 1 of unit 2\n"
    ) in err
    assert done - asked[0] < 0.2 + 0.2 + 0.15, f"{how}\n{err}"


@pytest.mark.slow
def test_the_probe_names_other_units_frames_before_its_answer_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Another master's exchanges with units 2 and 3 while the probe waits for unit 1's
    answer, which comes 0.8 s after the request, within the timeout: they are counted by unit
    id and named in one line, not one line each (a long timeout on a busy bus would flood
    the terminal). A frame of unit 1 that is not the answer still has a line of its own: it
    tells of the device."""
    asked: list[float] = []
    own = rtu_frame(bytes([1, 4, 2, 0, 7]))  # unit 1's input register, asked by the other
    frames = [*busy_bus(0.05, 6), (0.45, own)]
    with (
        PtyRelay(answer=losing_line([0], asked), delay_s=slow_answers(0.8, [1])) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
        sent_on_the_line(relay, asked, frames),
    ):
        server.set(1, "holding", 0, [0x0102])
        probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
        assert main([*probe, "--baudrate", "115200", "--timeout", "1.5"]) == 0
        captured = capsys.readouterr()
    printed_once(captured.out)
    assert len(asked) == 1
    assert (
        "skipped 6 frames of other unit ids while waiting for the answer (another master's "
        "exchanges, or devices that send on their own): 3 of unit 2, 3 of unit 3\n"
    ) in captured.err
    assert captured.err.count("unit 2") == 1, captured.err
    assert captured.err.count("skipped") == 2, captured.err
    assert "skipped a frame that is not the answer: unit 1, function 4\n" in captured.err
    assert "the line is alive" not in captured.err


@pytest.mark.slow
def test_the_probe_names_other_units_frames_before_and_after_its_timeout_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Another master's exchanges while the probe waits for unit 1's answer and, after its
    timeout, for a late one: one line for the request, counting both waits' frames by unit
    id; the read asked again, answered at once, has none."""
    asked: list[float] = []
    with (
        PtyRelay(answer=losing_line([1], asked)) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
        sent_on_the_line(relay, asked, [*busy_bus(0.1, 2), *busy_bus(0.6, 3)]),
    ):
        server.set(1, "holding", 0, [0x0102])
        probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
        probe += ["--baudrate", "115200", "--timeout", "0.5", "--retries", "1"]
        assert main(probe) == 0
        captured = capsys.readouterr()
    printed_once(captured.out)
    assert len(asked) == 2
    assert asked[1] - asked[0] > 0.6 + 0.05 * 5
    assert (
        "skipped 5 frames of other unit ids while waiting for the answer and then for a late "
        "answer (another master's exchanges, or devices that send on their own): 3 of unit "
        "2, 2 of unit 3\n"
    ) in captured.err
    assert captured.err.count("unit 2") == 1, captured.err
    assert "skipped a frame" not in captured.err


@pytest.mark.slow
def test_the_probe_tells_a_unit_that_does_not_answer_on_a_live_line_as_its_unit_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Unit 1 never answers while another master's exchanges with units 2 and 3 go on: the
    probe says the line is alive (their frames came with valid CRCs), and what to check of
    unit 1, not that nothing came, nor the baud rate, parity or wiring of the line that
    carries them (the other master's requests are bytes that make no answer, not a wrong
    baud rate's); it exits 1, as when nothing at all came. The unit ids heard are named
    once, in the request's line of skipped frames, not again in that verdict."""
    asked: list[float] = []
    with (
        PtyRelay(lambda answer: b"", answer=losing_line([0], asked)) as relay,
        ModbusServer([1], "serial", relay.far.path),
        sent_on_the_line(relay, asked, [*busy_bus(0.1, 2), *busy_bus(0.6, 3)]),
    ):
        probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
        assert main([*probe, "--baudrate", "115200", "--timeout", "0.5"]) == 1
        err = capsys.readouterr().err
    assert len(asked) == 1
    assert "no response from unit 1 within 0.5 s\n" in err
    assert (
        "the line is alive: the frames of other unit ids skipped above came with valid CRCs, "
        "but unit 1 did not answer: check --unit against the unit id set in the device, and "
        "that the device is powered, on this bus and set to the baud rate and parity of the "
        "devices that answer\n"
    ) in err
    # named once, in the request's line of skipped frames, which comes first
    assert err.count("unit 2") == 1, err
    assert err.index("3 of unit 2, 2 of unit 3") < err.index("the line is alive")
    assert "nothing came" not in err
    assert "make no Modbus frame" not in err
    assert "--baudrate" not in err


@pytest.mark.slow
@pytest.mark.parametrize("at_s", [0.9, 1.9])
def test_the_probe_s_waits_end_on_time_on_a_port_without_a_descriptor(
    at_s: float, capsys: pytest.CaptureFixture[str]
) -> None:
    """Over ``rfc2217://`` (a port without a file descriptor, read with pyserial's timeout) a
    frame of another unit that comes 0.1 s before the end of the wait for the answer (the
    timeout of 1 s, ``at_s`` 0.9) or of the wait for a late answer after it (1.9) does not
    hold that wait for another timeout: the next read waits only the time left, and the read
    asked again goes out 2 s after the first, when the wait for a late answer ends."""

    def scenario() -> tuple[tuple[int, list[float], str], Played]:
        asked: list[float] = []
        with (
            PtyRelay(answer=losing_line([1], asked)) as relay,
            ModbusServer([1], "serial", relay.far.path) as server,
            Rfc2217Server(relay.near) as rfc2217,
            sent_on_the_line(relay, asked, [(at_s, rtu_frame(bytes([2, 3, 2, 0, 1])))]) as played,
        ):
            server.set(1, "holding", 0, [0x0102])
            probe = ["modbus", "read", rfc2217.url, "--unit", "1", "--holding", "0"]
            code = main([*probe, "--timeout", "1", "--retries", "1"])
            captured = capsys.readouterr()
        return (code, asked, captured.out), played

    # the frame comes 0.1 s before the wait's end when the player that sends it is held back
    # less than that, and the probe then within the 0.4 s the read asked again is allowed
    (code, asked, out), how = played_steadily(scenario, slipped_past(0.1))
    assert code == 0, how
    printed_once(out)
    assert len(asked) == 2, how
    assert 1.9 <= asked[1] - asked[0] < 2.4, how


def unanswered_probe(
    mangle: Callable[[bytes], bytes], capsys: pytest.CaptureFixture[str], *options: str
) -> str:
    """``modbus read`` of two holding registers of unit 1 through a relay whose answers
    ``mangle`` turns into no answer: what it printed on stderr (it exits 1, saying so). Its
    timeout is 0.3 s: the probe then waits as long again for a late answer."""
    with (
        PtyRelay(mangle) as relay,
        ModbusServer([1], "serial", relay.far.path),
    ):
        probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0", *options]
        code = main([*probe, "--count", "2", "--baudrate", "115200", "--timeout", "0.3"])
        requests = bytes(relay.requests)
    if "--retries" in options:
        # an answer of another count is an answer: told, not asked again
        assert requests == rtu_frame(bytes([1, 3, 0, 0, 0, 2])), requests.hex()
    err = capsys.readouterr().err
    assert code == 1
    assert "no response from unit 1 within 0.3 s" in err
    return err


@pytest.mark.slow
def test_probe_says_when_the_only_answer_has_another_count(
    capsys: pytest.CaptureFixture[str],
) -> None:
    one = rtu_frame(bytes([1, 3, 2, 0x99, 0x99]))  # one register where two were asked for
    err = unanswered_probe(lambda chunk: one, capsys, "--retries", "2")
    assert "unit 1 answered with 1 values where 2 were asked for" in err
    assert "asked again" not in err


# -- the simulated device ------------------------------------------------------------------------


def test_an_rtu_responder_cuts_requests_from_any_stream() -> None:
    """Requests in pieces, glued together, behind noise or with a bad CRC: each whole one for
    a device is answered in order, the others heard and not answered."""
    spec = ModbusSpec(5, "rtu", (reg("a", "input", 0), reg("b", "holding", 10)), max_gap=0)
    device = SimulatedModbusDevice(spec, {}, 1, 0.0)
    responder = RtuResponder({5: device})
    link = ModbusLink("rtu")
    a, b = sorted(plan(spec), key=lambda read: read.table != "input")  # input, holding
    spoilt = bytearray(link.request(5, a))
    spoilt[-1] ^= 0xFF
    stream = (
        b"\x00\xff"
        + link.request(5, a)
        + bytes(spoilt)
        + link.request(7, a)  # another unit's
        + link.request(5, b)
        + link.request(5, Read("holding", 200, 1, ()))  # unmapped: exception 02
        + rtu_frame(bytes([5, 17]))  # report server ID: not served, exception 01
        + rtu_frame(bytes([5, 8, 0, 0, 0x12, 0x34]))  # diagnostics: exception 01
    )
    replies = [r for i in range(0, len(stream), 3) for r in responder.feed(stream[i : i + 3])]
    answers = [response for reply in replies for response in link.feed(reply)]
    assert [(r.function_code, r.exception_code) for r in answers] == [
        (4, 0),
        (3, 0),
        (3, 2),
        (17, 1),
        (8, 1),
    ]
    assert responder.requests == 6
    assert responder.answered == 5
    assert responder.skipped_bytes == 2 + len(spoilt)


def test_an_rtu_responder_drops_an_incomplete_request_after_a_silence() -> None:
    """A stray byte before a request to unit 16 makes it look like the start of a
    write-multiple request (function 0x10) whose length is still to come. The master's
    silence ends it, as 3.5 character times end an RTU frame, and the request after the
    silence is answered at once instead of after more bytes complete the bogus candidate."""
    spec = ModbusSpec(16, "rtu", (reg("a", "input", 0),), max_gap=0)
    responder = RtuResponder({16: SimulatedModbusDevice(spec, {}, 1, 0.0)}, silence_s=0.05)
    link = ModbusLink("rtu")
    (read,) = plan(spec)
    request = link.request(16, read)
    assert responder.feed(b"\x00" + request, 10.0) == []  # 0x10 read as a function code
    (reply,) = responder.feed(request, 10.2)  # the master's retry, after a silence
    (answer,) = link.feed(reply)
    assert (answer.unit, answer.function_code, answer.exception_code) == (16, 4, 0)
    assert responder.skipped_bytes == 1 + len(request)
    assert responder.requests == 1
    # Within the silence the bytes are one stream: the retry completes the bogus candidate,
    # which is skipped byte by byte, and the first request is answered late, then the retry.
    responder.feed(b"\x00" + request, 20.0)
    assert len(responder.feed(request, 20.01)) == 2


@pytest.mark.slow
def test_simulate_answers_the_demo_meters_requests_on_a_pty(tmp_path: Path) -> None:
    link = tmp_path / "ttyMETER"
    with pty_numbers_held():
        proc = popen(
            [sys.executable, "-m", "sensord", "simulate", "--sensor", "meter", "--link", str(link)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()
    try:
        assert first.startswith(f"{link} -> /dev/pts/")
        assert "unit 1 (meter)" in proc.stdout.readline().decode()
        ask_meter(link)
        probe = [sys.executable, "-m", "sensord", "modbus", "read", str(link)]
        silent = subprocess.run(
            [*probe, "--unit", "9", "--input", "0", "--timeout", "0.3"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert silent.returncode == 1
        assert "no response from unit 9" in silent.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert b"answered 1 of 2 requests" in err
    assert not link.exists()


def ask_meter(link: Path, unit: int = 1, address: int = 0) -> float:
    """The float32 (big/big) that ``sensord modbus read`` gets from the input registers at
    ``address`` of ``unit`` on ``link``."""
    probe = [sys.executable, "-m", "sensord", "modbus", "read", str(link)]
    result = subprocess.run(
        [*probe, "--unit", str(unit), "--input", str(address), "--count", "2"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    float_row = next(line for line in result.stdout.splitlines() if "float32" in line)
    value = float(float_row.split()[1])
    if unit == 1 and address == 0:
        assert 220 < value < 240  # the demo meter's voltage_l1
    return value


@pytest.mark.slow
def test_simulate_answers_over_rtu_for_a_modbus_tcp_device(tmp_path: Path) -> None:
    """The example config's heat pump meter sits behind a Modbus TCP gateway; simulated on a
    pty, it answers RTU requests, as the pty carries."""
    link = tmp_path / "ttyGATEWAY"
    example = Path(__file__).parent.parent / "systemd" / "sensord.toml"
    command = ["simulate", "-c", str(example), "--sensor", "meter_heat_pump", "--link", str(link)]
    with pty_numbers_held():
        proc = popen(
            [sys.executable, "-m", "sensord", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()
    try:
        assert first.startswith(f"{link} -> /dev/pts/")
        assert "unit 2 (meter_heat_pump)" in proc.stdout.readline().decode()
        ask_meter(link, unit=2, address=52)  # total_power, ref 30053
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert b"answered 1 of 1 requests" in err


def test_simulated_device_answers_reads_and_refuses_unmapped_addresses() -> None:
    spec = ModbusSpec(
        5, "rtu", (reg("v", "input", 0, "float32"), reg("c", "coil", 3, "bool")), max_gap=0
    )
    model = DeviceModel(spec)
    link = ModbusLink("rtu")
    [volts, coil] = plan(spec)
    values = {"v": 229.5, "c": 1.0}
    [answer] = link.feed(model.answer(link.request(5, coil), lambda: values) or b"")
    assert answer.words[:1] == [1]
    [answer] = link.feed(model.answer(link.request(5, volts), lambda: values) or b"")
    assert volts.values(answer.words) == [("v", 229.5)]
    wider = Read("input", 0, 3, ())
    [refused] = link.feed(model.answer(link.request(5, wider), lambda: values) or b"")
    assert (refused.function_code, refused.exception_code) == (4, 2)
    assert model.answer(link.request(6, volts), lambda: values) is None  # another unit
    request = link.request(5, volts)
    assert model.answer(request[:-1] + bytes([request[-1] ^ 1]), lambda: values) is None


def test_simulated_device_answers_the_gaps_its_max_gap_merges_across() -> None:
    """``max_gap`` says the device maps the registers between its values (as an energy
    meter's register table does): its simulation answers the merged read the planner makes
    across them, rather than refuse it with 02 and have it split (and warned of) at once."""
    registers = (reg("volts", "input", 0, "float32"), reg("amps", "input", 6, "float32"))
    spec = ModbusSpec(1, "rtu", registers, max_gap=10)
    model = DeviceModel(spec)
    link = ModbusLink("rtu")
    [merged] = plan(spec)
    assert (merged.address, merged.count) == (0, 8)
    values = {"volts": 230.2, "amps": 4.25}
    [answer] = link.feed(model.answer(link.request(1, merged), lambda: values) or b"")
    assert answer.exception_code == 0
    assert merged.values(answer.words) == [("volts", 230.2), ("amps", 4.25)]
    beyond = Read("input", 0, 9, ())  # one past the last value: outside the map
    [refused] = link.feed(model.answer(link.request(1, beyond), lambda: values) or b"")
    assert refused.exception_code == 2


@pytest.mark.slow
def test_the_demo_meter_is_read_from_its_simulated_bus() -> None:
    [meter] = [s for s in demo_config().sensors if s.is_modbus]
    reader = Reader([SensorRuntime(meter)])

    def read(r: Reader) -> bool:
        return all(v is not None for v in latest(r.sensors["meter"]).values())

    run_reader_until(reader, lambda: read(reader), 5.0)
    with reader:
        runtime = reader.sensors["meter"]
        values = latest(runtime)
        assert runtime.simulated
        assert runtime.snapshot().simulated
        assert 220 < (values["voltage_l1_v"] or 0) < 240
        assert 49.9 < (values["frequency_hz"] or 0) < 50.1
        assert (values["energy_kwh"] or 0) > 12000
        assert runtime.modbus is not None
        assert runtime.modbus.reads == 3
        assert runtime.modbus.timeouts == 0
        assert sum(runtime.modbus.errors.values()) == 0


def test_an_absent_bus_device_is_simulated_with_simulate_auto_like_a_line_sensor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    absent = str(tmp_path / "ttyUSB0")  # a device path that does not exist
    line: dict[str, Any] = {"name": "line", "port": str(tmp_path / "ttyUSB1"), "format": "value"}
    line["channels"] = [{"name": "v"}]
    registers = [{"name": "a", "table": "input", "address": 0, "type": "float32"}]
    config = load(
        line,
        device("one", absent, 1, registers, interval_s=0.05),
        device("two", absent, 2, registers, interval_s=0.05),
    )
    with capture_logs() as logs:
        reader = Reader([SensorRuntime(s) for s in config.sensors])

        def read(r: Reader) -> bool:
            return all(latest(r.sensors[n])["a"] is not None for n in ("one", "two"))

        run_reader_until(reader, lambda: read(reader), 5.0)
        reader.close()
    ups = {
        e["sensor"]: e
        for e in logs
        if e["event"] == "sensor state" and e["state"] == "up" and e["previous"] == "opening"
    }
    # the same signal as the line sensor's: up, simulated, on a sim:// port
    assert ups["line"]["simulated"] is True
    assert str(ups["line"]["port"]).startswith("sim://")
    for name in ("one", "two"):
        runtime = reader.sensors[name]
        assert ups[name]["simulated"] is True
        assert ups[name]["port"] == f"sim://bus:{absent}"
        assert runtime.simulated
        assert runtime.snapshot().as_json()["simulated"] is True
        assert runtime.modbus is not None
        assert runtime.modbus.timeouts == 0
    [bus_open] = [e for e in logs if e["event"] == "bus open"]
    assert (bus_open["port"], bus_open["simulated"]) == (f"sim://bus:{absent}", True)
    # sensord check says so, as for the line sensor, and passes
    path = tmp_path / "absent.toml"
    path.write_text(
        f'[[sensors]]\nname = "one"\nport = "{absent}"\nformat = "modbus"\n'
        "modbus = { unit = 1 }\n"
        'registers = [{ name = "a", table = "input", address = 0 }]\n'
        'channels = [{ name = "a" }]\n'
    )
    assert main(["check", str(path)]) == 0
    assert (
        "device one: absent, so a daemon that starts now simulates it (simulate=auto)"
        in capsys.readouterr().out
    )


def test_with_simulate_never_an_absent_bus_device_stays_down(tmp_path: Path) -> None:
    absent = str(tmp_path / "ttyUSB0")
    registers = [{"name": "a", "table": "input", "address": 0}]
    config = load(device("one", absent, 1, registers, interval_s=0.05) | {"simulate": "never"})
    reader = Reader([SensorRuntime(s) for s in config.sensors])
    with reader:
        runtime = reader.sensors["one"]
        run_reader_until(reader, lambda: runtime.open_failures >= 1, 5.0)
        assert runtime.state == "down"
        assert not runtime.simulated
        assert "does not exist" in runtime.last_error


def test_the_devices_of_one_bus_agree_on_simulate() -> None:
    registers = [{"name": "a", "table": "input", "address": 0}]
    errors = load_errors(
        device("one", "/dev/ttyUSB9", 1, registers),
        device("two", "/dev/ttyUSB9", 2, registers) | {"simulate": "never"},
    )
    assert errors == [
        "sensors[1].simulate: 'never' differs from 'auto', the simulate of sensors[0], which "
        "opens the same bus /dev/ttyUSB9: the devices of a bus share its settings"
    ]


@pytest.mark.slow
def test_devices_join_and_leave_a_live_bus_without_disturbing_the_others(
    tcp_server: ModbusServer,
) -> None:
    for unit in (1, 2, 3):
        tcp_server.set(unit, "input", 0, [unit * 100])
    table = {"name": "v", "table": "input", "address": 0}
    a, b, c = (
        load(device(name, tcp_server.url, unit, [table], interval_s=0.1)).sensors[0]
        for name, unit in (("a", 1), ("b", 2), ("c", 3))
    )
    reader = Reader([SensorRuntime(a), SensorRuntime(b)])
    with reader:
        run_reader_until(reader, lambda: latest(reader.sensors["b"]) == {"v": 200.0}, 5.0)
        bus = reader._buses["bus:" + tcp_server.url]
        source = bus.source
        assert source is not None
        removed = reader.remove("b")
        reader.add(SensorRuntime(c))
        before = reader.sensors["a"].modbus
        assert before is not None
        at_change = before.transactions
        start = time.monotonic()
        run_reader_until(reader, lambda: time.monotonic() - start > 1.0, 3.0)
        assert bus.source is source  # the bus stayed open
        assert latest(reader.sensors["c"]) == {"v": 300.0}
        assert before.transactions - at_change >= 8  # a kept its 0.1 s interval
        assert before.timeouts == 0
        assert removed.state == "stopped"
        assert reader.sensors["a"].reconnects == 0
        reader.remove("a")
        reader.remove("c")
        assert "bus:" + tcp_server.url not in reader._buses  # the last device closed it
        assert not source.is_open


class HandDevices:
    """Modbus RTU devices answering on whatever pty ``linked`` points at now (the codec's
    DeviceModel over each device's register map), on a thread; follows a replug."""

    def __init__(self, linked: SymlinkedPty, specs: list[ModbusSpec], value: float) -> None:
        self.linked = linked
        self.models = {spec.unit: DeviceModel(spec) for spec in specs}
        self.values = {reg.name: value for spec in specs for reg in spec.registers}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            fd = self.linked.pty.master_fd
            try:  # an unplug closes the descriptor under us: wait for the replug's
                if fd is None or not wait_readable(fd, 0.05):
                    time.sleep(0.01)
                    continue
                request = os.read(fd, 256)
            except OSError:
                time.sleep(0.01)
                continue
            model = self.models.get(request[0]) if request else None
            answer = model.answer(request, lambda: self.values) if model else None
            if answer:
                with contextlib.suppress(OSError):
                    os.write(fd, answer)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(2.0)


@pytest.mark.slow
def test_a_bus_unplugged_and_replugged_comes_back_for_every_device(
    linked_pty: SymlinkedPty,
) -> None:
    link = str(linked_pty.link)
    tables = [
        device(
            f"d{unit}",
            link,
            unit,
            [{"name": "v", "table": "holding", "address": 0}],
            interval_s=0.1,
        )
        for unit in (1, 2)
    ]
    config = load(*tables)
    specs = [s.format_spec().modbus for s in config.sensors]
    devices = HandDevices(linked_pty, [s for s in specs if s is not None], 42.0)
    reader = Reader([SensorRuntime(s) for s in config.sensors])
    try:
        with reader:
            d1, d2 = reader.sensors["d1"], reader.sensors["d2"]
            run_reader_until(reader, lambda: latest(d1) == latest(d2) == {"v": 42.0}, 5.0)
            linked_pty.unplug(remove_link=True)
            run_reader_until(reader, lambda: d1.state == d2.state == "down", 5.0)
            assert "bus:" + link in reader._buses
            linked_pty.replug()
            assert d1.modbus is not None
            assert d2.modbus is not None
            before = (d1.modbus.transactions, d2.modbus.transactions)
            run_reader_until(
                reader,
                lambda: (
                    d1.modbus is not None
                    and d2.modbus is not None
                    and d1.modbus.transactions > before[0] + 3
                    and d2.modbus.transactions > before[1] + 3
                ),
                20.0,  # the reopen waits out a jittered backoff; the suite runs two at a time
            )
            assert d1.state == d2.state == "up"
            assert d1.reconnects == d2.reconnects == 1
    finally:
        devices.stop()


def test_rs485_direction_control_needs_a_serial_device() -> None:
    table = device("m", "socket://127.0.0.1:4001", 1, [{"name": "a", "ref": "30001"}])
    table["serial"] = {"rs485": True}
    assert load_errors(table) == [
        "sensors[0].serial.rs485: needs a serial device; socket://127.0.0.1:4001 has no "
        "RS-485 driver here"
    ]


def sim_device_toml(name: str, unit: int) -> str:
    return f"""
[[sensors]]
name = "{name}"
port = "sim://line"
format = "modbus"
serial = {{ baudrate = 115200 }}
modbus = {{ unit = {unit}, interval_s = 0.1 }}
registers = [{{ name = "v", ref = "30001", type = "float32" }}]
  [[sensors.channels]]
  name = "v"
  signal = {{ center = {unit * 10}.0, amplitude = 0.0, noise = 0.0 }}
"""


@pytest.mark.slow
def test_sighup_adds_and_removes_devices_on_a_live_bus(
    tmp_path: Path, start_daemon: StartDaemon
) -> None:
    config = tmp_path / "sensord.toml"
    write_atomically(config, sim_device_toml("keep", 1) + sim_device_toml("gone", 2))
    daemon = start_daemon(["--config", str(config)])
    try:
        daemon.wait_http()

        def transactions(name: str) -> int:
            modbus = daemon.status()["sensors"][name]["modbus"]
            return int(modbus["transactions"])

        wait_for(lambda: transactions("gone") >= 3, 5, "both devices polled")
        before = transactions("keep")
        write_atomically(config, sim_device_toml("keep", 1) + sim_device_toml("new", 3))
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "new" in daemon.status()["sensors"], 5, "the new device")
        wait_for(lambda: transactions("new") >= 3, 5, "the new device polled")
        status = daemon.status()["sensors"]
        assert set(status) == {"keep", "new"}
        assert status["keep"]["channels"]["v"]["value"] == 10.0
        assert status["new"]["channels"]["v"]["value"] == 30.0
        keep = status["keep"]
        # the device that stayed was neither restarted nor disturbed: its counters went on
        assert keep["reconnects"] == 0
        assert keep["modbus"]["transactions"] > before
        assert keep["modbus"]["timeouts"] == 0
        assert keep["state"] == "up"
        wait_for(lambda: bool(daemon.events("configuration reloaded")), 5, "the reload's line")
        reloaded = daemon.events("configuration reloaded")
        assert reloaded[-1]["added"] == ["new"]
        assert reloaded[-1]["removed"] == ["gone"]
        assert reloaded[-1]["unchanged"] == 1
    finally:
        assert daemon.stop() == 0


@given(
    chunks=st.lists(st.binary(max_size=40), max_size=8),
    transport=st.sampled_from(["rtu", "tcp"]),
)
def test_framing_takes_any_bytes(chunks: list[bytes], transport: str) -> None:
    link = ModbusLink(transport)
    received = 0
    for chunk in chunks:
        for response in link.feed(chunk):
            received += len(response.frame)
    assert received + link.skipped_bytes + link.pending_bytes == sum(map(len, chunks))


@pytest.mark.slow
def test_a_device_answering_only_exceptions_is_stale_with_a_hint_at_its_register_map(
    tcp_server: ModbusServer,
) -> None:
    """Unit 1's datastore ends at 1000: a register at 5000 is answered with exception 02 at
    every poll. Bytes come, values never do: the stale hint says which exception came, not
    that nothing came."""
    registers = [{"name": "a", "table": "holding", "address": 5000}]
    sensor = device("m", tcp_server.url, 1, registers, interval_s=0.05) | {"stale_after_s": 0.5}
    with read_all(load(sensor), lambda r: r.sensors["m"].state == "stale") as reader:
        hint = reader.sensors["m"].stale_hint
        assert hint is not None
        assert "with exception 0x02 (illegal data address)" in hint, hint
        assert "register map" in hint, hint
        assert "no bytes came" not in hint, hint


def test_a_modbus_stale_hint_names_what_went_wrong_since_the_last_values() -> None:
    counters = ModbusCounters()
    counters.exceptions[4] = 2
    mark = counters.mark()
    assert counters.hint_since(mark, "meter") is None  # nothing since
    counters.exceptions[4] = 5
    counters.exceptions[6] = 1
    counters.timeouts = 3
    counters.errors["crc"] = 2
    hint = counters.hint_since(mark, "meter")
    assert hint is not None
    assert (
        "answered 3 requests with exception 0x04 (server device failure), 1 request with "
        "exception 0x06 (server device busy)" in hint
    ), hint
    assert "3 requests went unanswered: check the unit id" in hint, hint
    assert "answers were spoilt (crc 2)" in hint, hint
    assert "another master" not in hint, hint
    # a sound frame of another unit id while a request waited: another master's exchange
    counters.errors["unit"] = 1
    hint = counters.hint_since(mark, "meter")
    assert hint is not None
    assert "answers were spoilt (crc 2, unit 1)" in hint, hint
    assert hint.endswith("a sound frame of another unit id: another master may poll the line")


def test_a_modbus_stale_hint_gives_the_advice_of_each_exception_code() -> None:
    """A device that answers every read with 04 (server device failure) has a fault of its
    own: its stale hint says to check the device, not the register map that 02 points at."""
    counters = ModbusCounters()
    mark = counters.mark()
    counters.exceptions[4] = 6
    hint = counters.hint_since(mark, "meter")
    assert hint is not None
    assert "answered 6 requests with exception 0x04 (server device failure)" in hint, hint
    assert "a failure of its own" in hint, hint
    assert "register map" not in hint, hint
    counters.exceptions[2] = 1
    hint = counters.hint_since(mark, "meter")
    assert hint is not None
    assert "a failure of its own" in hint, hint
    assert "check the register map's tables and addresses" in hint, hint
    assert "--sensor meter" in hint, hint


@pytest.mark.parametrize(
    ("code", "advice"),
    [
        (0x06, "the device is busy"),
        (0x0B, "the device did not answer the gateway"),
        (0x0A, "the gateway has no path to the device"),
        (0x07, "look the code up in the device's manual"),
    ],
)
def test_a_modbus_stale_hint_sends_no_busy_gateway_or_other_code_to_the_register_map(
    code: int, advice: str
) -> None:
    """A device busy at every poll, one behind a gateway that does not answer it, or one
    answering a code sensord has no advice for: nothing points at its register map."""
    counters = ModbusCounters()
    mark = counters.mark()
    counters.exceptions[code] = 5
    hint = counters.hint_since(mark, "meter")
    assert hint is not None
    assert advice in hint, hint
    assert "register map" not in hint, hint
    # the code in hex as the probe and the manuals write it, its name once
    assert f"answered 5 requests with exception 0x{code:02X} (" in hint, hint
    assert hint.count(EXCEPTION_NAMES.get(code, "not a standard exception")) == 1, hint


def test_only_a_read_refused_twice_running_and_not_busy_makes_a_hint() -> None:
    """An exception now and then (a busy device, a device failure once) is no mistake of
    the register map: ``/status`` tells of a read refused at two polls in a row or more,
    with a code other than busy (06) or acknowledge (05)."""
    read = Read.of("input", (RegisterSpec("typo", "input", 2000, "uint16", "big", "big"),))
    request = Request(1, read, "rtu", {"typo": ["typo"]})

    def hint(code: int, count: int) -> str | None:
        refusal = Refusal(code, since=10.0, logged=True, count=count)
        counters = ModbusCounters(refused={request: refusal})
        return counters.snapshot("/dev/ttyUSB0", 47.0, bus_open=True).refused_hint("meter")

    assert hint(2, 1) is None
    assert hint(6, 5) is None
    assert hint(5, 5) is None
    assert hint(0x0B, 5) is None  # a gateway's: its device did not answer (a timeout)
    assert hint(0x0A, 5) is None
    four = hint(4, 3)
    assert four is not None
    assert four.endswith(
        "their values never come; the device reports a failure of its own in serving it (a "
        "probe or module of it missing or broken): check the device"
    )
    assert hint(2, 2) == (
        "the device refuses typo (input 2000, ref 32001) with exception 0x02 (illegal data "
        "address) 2 times in a row, for 37 s: their values never come; check the register map's tables and "
        "addresses against its manual (sensord modbus read --sensor meter probes them)"
    )


def test_a_modbus_stale_hint_that_says_to_check_the_unit_id_names_the_configured_one() -> None:
    """Where a stale hint tells to check the unit id (requests unanswered over Modbus TCP, a
    gateway's exception 0x0B), it names the device's ``modbus.unit``."""
    counters = ModbusCounters(transport="tcp", unit=7)
    mark = counters.mark()
    counters.timeouts = 3
    counters.exceptions[0x0B] = 1
    assert counters.hint_since(mark, "meter") == (
        "the device answered 1 request with exception 0x0B (gateway target device failed to "
        "respond): the device did not answer the gateway: check its unit id (modbus.unit = "
        "7), its power and its wiring to the gateway; 3 requests went unanswered: check the "
        "unit id (modbus.unit = 7), and that the gateway reaches the device"
    )


def test_a_device_that_answered_before_is_not_sent_to_its_unit_id_when_it_goes_silent() -> None:
    """A meter that has answered and then stops (its power, its connection) goes stale before
    it is down: the stale hint says what the down reason says, not to check the unit id and
    the wiring of a device that was just working."""
    counters = ModbusCounters()
    counters.transactions = 27
    mark = counters.mark()
    counters.timeouts = 2
    assert counters.hint_since(mark, "meter") == (
        "2 requests went unanswered: check its power supply and its connection (it has "
        "answered 27 of its requests, so its unit id and the line's settings were right when "
        "it last answered)"
    )
    counters.transport = "tcp"  # behind a gateway: the gateway's path to it first
    assert counters.hint_since(mark, "meter") == (
        "2 requests went unanswered: check that the gateway still reaches the device, and its "
        "power (it has answered 27 of its requests, so its unit id was right when it last "
        "answered)"
    )
    counters.transport = "rtu"
    counters.transactions = 0  # one that never answered: its unit id and the line first
    assert "check the unit id, the baud rate and parity" in str(counters.hint_since(mark, "meter"))


def test_a_modbus_stale_hint_tells_answers_after_the_timeout_from_spoilt_ones() -> None:
    """Answers that came after their timeout show the device, its unit id and the line
    work: the hint says to raise the timeout, not to check the unit id or the baud rate."""
    counters = ModbusCounters()
    mark = counters.mark()
    counters.errors["late"] = 1
    assert counters.hint_since(mark, "meter") == "1 answer came after modbus.timeout_s: raise it"
    counters.timeouts = 3
    counters.errors["late"] = 2
    counters.errors["crc"] = 1
    assert counters.hint_since(mark, "meter") == (
        "3 requests went unanswered in time and 2 answers came after modbus.timeout_s: raise "
        "it; answers were spoilt (crc 1): check the baud rate and parity, the bus's "
        "termination and biasing, and that no two devices have its unit id (their answers "
        "collide)"
    )


@pytest.mark.parametrize(
    ("mangle", "told"),
    [
        (lambda chunk: b"", "nothing came: check --unit, --baudrate and --parity"),
        # a device at another baud rate: its answer arrives as fewer bytes, none a frame
        (
            lambda chunk: bytes((b * 7 + 3) & 0xFF for b in chunk[: len(chunk) // 2]),
            "bytes came that make no Modbus frame: check --baudrate, --parity",
        ),
        # an XY-MD02 in its "ordinary protocol": lines of text, no Modbus answer
        (
            lambda chunk: b"+025.3,056.7\r\n+025.4,056.6\r\n",
            "bytes came that are lines of text, not Modbus frames (the last: '+025.4,056.6')",
        ),
    ],
    ids=["silent", "garbled", "text"],
)
def test_probe_says_what_to_check_when_no_answer_comes(
    capsys: pytest.CaptureFixture[str], mangle: Any, told: str
) -> None:
    """No answer at all (a wrong unit id, A and B swapped) and bytes that make no frame (a
    wrong baud rate) are told apart, each with what to check."""
    err = unanswered_probe(mangle, capsys)
    assert told in err, err


def test_a_register_without_a_type_is_bool_in_a_bit_table() -> None:
    """The README writes coils and discrete inputs as bool: one given without ``type`` (by
    table and address, or by ref) loads as bool rather than failing as a coil of uint16."""
    registers: list[dict[str, Any]] = [
        {"name": "relay", "table": "coil", "address": 0},
        {"name": "door", "ref": "10002"},
        {"name": "count", "table": "holding", "address": 0},
        {"name": "co2", "ref": "30004"},
    ]
    [sensor] = load(device("m", "/dev/ttyUSB9", 1, registers)).sensors
    spec = sensor.modbus_spec()
    assert spec is not None
    assert [(r.name, r.table, r.type) for r in spec.registers] == [
        ("relay", "coil", "bool"),
        ("door", "discrete", "bool"),
        ("count", "holding", "uint16"),
        ("co2", "input", "uint16"),
    ]


def test_probe_refuses_a_port_another_master_holds(capsys: pytest.CaptureFixture[str]) -> None:
    """The daemon polling the bus holds its port: the probe says who holds it and sends
    nothing, rather than putting a second master's requests on the line, where they and the
    daemon's collide (each side then takes the other's answers as late or foreign)."""
    with (
        PtyRelay() as relay,
        ModbusServer([1], "serial", relay.far.path),
    ):
        holder = popen(
            [
                sys.executable,
                "-c",
                "import fcntl, os, sys, time\n"
                "fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)\n"
                "fcntl.flock(fd, fcntl.LOCK_EX)\n"
                "print('locked', flush=True)\n"
                "time.sleep(30)\n",
                relay.near.path,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == "locked\n"
            probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
            code = main([*probe, "--baudrate", "115200", "--timeout", "0.5"])
        finally:
            holder.kill()
            holder.wait(10)
        time.sleep(0.2)  # anything the probe wrote has crossed the relay
        assert bytes(relay.requests) == b""
    err = capsys.readouterr().err
    assert code == 1
    assert f"is locked by another process: pid {holder.pid}" in err or (
        f"is held by another process: pid {holder.pid}" in err
    ), err
    # the message starts at the port the user named, not at an internal source's name
    assert err.startswith(f"sensord: {relay.near.path} "), err


def test_probe_takes_addresses_in_hex_as_manuals_give_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Eastron's manuals give the SDM120's total energy at 0x0156: the probe reads it as
    address 342 (unit ids in hex too), and says what it takes when a number is neither."""
    with ModbusServer([1], "tcp") as server:
        server.set(1, "input", 0x0156, [0x4640, 0xE666])
        code = main(["modbus", "read", server.url, "--unit", "0x01", "--input", "0x0156"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("input registers from 342 (ref 30343):"), out
    assert "    342: 0x4640  17984" in out
    with pytest.raises(SystemExit) as exited:
        main(["modbus", "read", "/dev/ttyUSB0", "--input", "0x15G"])
    assert exited.value.code == 2
    assert "'0x15G' is not a decimal number or a hexadecimal one" in capsys.readouterr().err


@given(st.integers(0, 2**32 - 1))
def test_a_float32_is_published_as_its_shortest_decimal(bits: int) -> None:
    """Any finite float32 a device holds is published as the shortest decimal that is the
    same float32 (230.2, not 230.1999969482422), so nothing of the register is lost."""
    raw = bits.to_bytes(4, "big")
    (value,) = struct.unpack(">f", raw)
    assume(math.isfinite(value))
    shown = float32_decimal(value)
    assert struct.pack(">f", shown) == raw
    digits = len(f"{shown:e}".split("e")[0].replace("-", "").replace(".", "").rstrip("0"))
    for fewer in range(1, digits):  # no decimal of fewer significant digits is the same
        shorter = float(f"{value:.{fewer}g}")
        assert not (abs(shorter) <= 3.4028234663852886e38 and struct.pack(">f", shorter) == raw)


def test_a_meter_s_float32_registers_read_as_the_meter_shows_them() -> None:
    """An energy meter's 230.2 V and 50.01 Hz, held as float32, read 230.2 and 50.01 through
    both of a reply's paths (decoded from pymodbus's registers and from the frame's bytes)."""
    registers = (
        RegisterSpec("voltage_v", "input", 0, "float32", "big", "big"),
        RegisterSpec("frequency_hz", "input", 2, "float32", "little", "big"),
    )
    read = Read.of("input", registers)
    words = read.words({"voltage_v": 230.2, "frequency_hz": 50.01})
    assert read.values(words) == [("voltage_v", 230.2), ("frequency_hz", 50.01)]
    spec = ModbusSpec(1, "rtu", registers)
    request = Request(1, read, "rtu", {"voltage_v": ["voltage_v"], "frequency_hz": ["hz"]})
    frame = response_frame(spec, read, words, 0)
    assert request.answers(frame)
    assert request.pairs(frame) == [("voltage_v", 230.2), ("hz", 50.01)]


@pytest.mark.parametrize(
    ("sensor", "command"),
    [("meter", "--sensor meter probes"), ("grid meter", "--sensor 'grid meter' probes")],
)
def test_a_hint_names_the_probe_command_of_its_own_sensor(sensor: str, command: str) -> None:
    """The probe command in a hint is one to paste: the sensor's name, quoted for the shell
    when it needs it, not a placeholder."""
    counters = ModbusCounters()
    mark = counters.mark()
    counters.exceptions[2] = 1
    hint = counters.hint_since(mark, sensor)
    assert hint is not None
    assert command in hint
    assert "NAME" not in hint


@pytest.mark.parametrize(
    ("table", "address", "ref"),
    [
        ("input", 1000, "31001"),
        ("holding", 0, "40001"),
        ("coil", 12, "00013"),
        ("discrete", 9998, "19999"),
        ("holding", 9999, "410000"),
        ("input", 65535, "365536"),
    ],
)
def test_a_register_s_reference_is_the_one_manuals_give_and_check_reads_back(
    table: str, address: int, ref: str
) -> None:
    assert reference_of(table, address) == ref
    assert parse_reference(ref) == (table, address)


@pytest.mark.parametrize(
    ("written", "meant"),
    [("float", "float32"), ("FLOAT32-IEEE", "float32"), ("double", "float64"), ("dword", "uint32")],
)
def test_a_type_written_as_a_manual_or_another_tool_names_it_gets_its_sensord_name(
    written: str, meant: str
) -> None:
    """A meter manual's "float" is two registers: the hint is float32, never the float64 of
    the closest spelling, which would read four registers and publish wrong values."""
    errors = load_errors(
        device("m", "/dev/ttyUSB9", 1, [{"name": "p", "ref": "30013", "type": written}])
    )
    assert errors == [
        "sensors[0].registers[0].type: must be one of 'int16', 'uint16', 'int32', 'uint32', "
        f"'int64', 'uint64', 'float32', 'float64', 'bool', got {written!r}; did you mean "
        f"{meant!r}?"
    ]


@pytest.mark.parametrize("written", ["bit", "coil", "boolean"])
def test_a_set_up_write_s_type_gets_no_hint_to_a_type_it_cannot_take(written: str) -> None:
    """A set-up write takes no ``bool`` (a coil is written by its table, 0 or 1): the word a
    manual uses for a bit is not pointed to it, which would only be refused in turn."""
    sensor = device("m", "/dev/ttyUSB9", 1, [{"name": "p", "ref": "30013"}])
    sensor["modbus"]["setup"] = [{"ref": "40001", "type": written, "value": 1}]
    (error,) = load_errors(sensor)
    assert error.startswith("sensors[0].modbus.setup[0].type: must be one of 'int16', "), error
    assert "did you mean 'bool'" not in error, error


def test_a_stage_failure_of_a_device_on_a_bus_resets_its_windows_and_it_publishes_on_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A device on a bus has no port of its own to reopen: a stage that raises on its values
    resets its windows and records the error, and the device stays up, its next answers
    published; a device marked down here would stay down for good, since only the bus tells
    a device it answers again after one of its own timeouts."""
    config = load(
        device("meter", "sim://meter-bus", 1, [{"name": "v", "table": "input", "address": 0,
                                                 "type": "float32"}], interval_s=0.05)
    )  # fmt: skip
    runtime = SensorRuntime(config.sensors[0])
    with Reader([runtime]) as reader:
        run_reader_until(reader, lambda: runtime.framer.frames >= 3, 5)
        chain = runtime.channels["v"].chain
        drain_value = chain.drain_value
        failed: list[bool] = []

        def fail_once(*args: Any) -> None:
            if not failed:
                failed.append(True)
                raise RuntimeError("injected stage failure")
            drain_value(*args)

        monkeypatch.setattr(chain, "drain_value", fail_once)
        with capture_logs() as logs:
            run_reader_until(reader, lambda: bool(failed), 5)
            frames = runtime.framer.frames
            run_reader_until(reader, lambda: runtime.framer.frames >= frames + 3, 5)
        assert runtime.pipeline_errors == 1
        assert "injected stage failure" in runtime.last_error
        assert any(e["event"] == "pipeline failed; resetting the sensor" for e in logs)
        assert runtime.state == "up"
        window = chain.window
        assert window is not None
        assert window.records_in >= 1
        assert runtime.snapshot().state == "up"
