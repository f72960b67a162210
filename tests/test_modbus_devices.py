"""Modbus devices configured from their manuals: values a device marks as "not available"
(SunSpec's and SMA's 0x8000 / 0xFFFF / 0x80000000 / 0xFFFFFFFF) are dropped and counted, not
published as readings."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from harness.common import wait_for
from harness.daemon import StartDaemon
from harness.modbus import ModbusServer, daemon_in_process, run_reader_until
from harness.replay import counts, replay_counts
from structlog.testing import capture_logs
from test_modbus import (
    ORDERS,
    SAMPLES,
    device,
    latest,
    load_errors,
    modbus_format,
    reg,
    words_of,
)

from sensord.cli import main
from sensord.config import Config, parse_config
from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats.base import ModbusSpec, RegisterSpec
from sensord.formats.modbus import ModbusLink, Request, response_frame
from sensord.formats.modbus_keys import SUNSPEC_NOT_AVAILABLE
from sensord.formats.modbus_plan import Read, plan
from sensord.sensor import SensorRuntime

#: The registers of an SMA inverter (SMA Modbus profile, unit 3; its manual's register
#: numbers are the 0-based addresses, not references): AC power (S32, W), total
#: yield (U32, Wh), internal temperature (S32, 0.1 degC) and the condition (U32 ENUM, whose
#: not-available value is 0x00FFFFFD). At night the inverter sleeps and holds 0x80000000 in
#: its power register: Home Assistant issue 69656 and evcc issue 3030 show it published as
#: -2147483648 W by readers that do not know it.
SMA_TOML = """
[[sensors]]
name = "{name}"
port = "{port}"
format = "modbus"
modbus = {{ unit = {unit}, interval_s = 0.1, max_gap = 10{extra} }}
registers = [
  {{ name = "power_w", table = "input", address = 30775, type = "int32" }},
  {{ name = "energy_wh", table = "input", address = 30529, type = "uint32" }},
  {{ name = "temperature", table = "input", address = 30953, type = "int32" }},
  {{ name = "condition", table = "input", address = 30201, type = "uint32"{condition} }},
]
channels = [
  {{ name = "power_w" }}, {{ name = "energy_wh" }}, {{ name = "condition" }},
  {{ name = "temperature_celsius", field = "temperature", normalize = {{ scale = 0.1 }} }},
]
"""


def u32(value: int) -> list[int]:
    return [value >> 16 & 0xFFFF, value & 0xFFFF]


@pytest.mark.slow
def test_an_inverter_asleep_publishes_no_power_and_counts_it(
    tmp_path: Path, start_daemon: StartDaemon
) -> None:
    """Two SMA inverters asleep on one line (RTU over TCP): read without
    ``sunspec_not_available``, the power register's 0x80000000 is published as -2147483648 W
    (what the README warns of); with it, the power channel publishes nothing and the drop is
    counted as ``invalid``, while the registers with values are read. The condition's own
    not-available value 0x00FFFFFD is dropped through ``not_available``. Once the inverter
    wakes, its power is published."""
    with ModbusServer([3, 4], "rtu-tcp", first_address=30000) as server:
        for unit in (3, 4):
            server.set(unit, "input", 30775, u32(0x8000_0000))  # power: not available
            server.set(unit, "input", 30529, u32(1_234_567))  # total yield
            server.set(unit, "input", 30953, u32(412))  # 41.2 degC
            server.set(unit, "input", 30201, u32(0x00FF_FFFD))  # condition: not available
        config = SMA_TOML.format(
            name="plain", port=server.url, unit=3, extra="", condition=""
        ) + SMA_TOML.format(
            name="sma",
            port=server.url,
            unit=4,
            extra=", sunspec_not_available = true",
            condition=", not_available = [0x00FFFFFD]",
        )
        daemon = start_daemon(config=config)
        daemon.wait_http()

        def reading(sensor: str, channel: str) -> float | None:
            scrape = daemon.scrape()
            labels = {"sensor": sensor, "channel": channel}
            if not scrape.has("sensord_reading_value", **labels):
                return None
            return scrape.value("sensord_reading_value", **labels)

        def invalid() -> float:
            return daemon.scrape().get(
                "sensord_parse_errors_total", 0.0, sensor="sma", reason="invalid"
            )

        wait_for(lambda: invalid() >= 3, 10, "three polls of the sleeping inverter")
        wait_for(lambda: reading("plain", "power_w") is not None, 5, "the plain reading")
        assert reading("plain", "power_w") == -2_147_483_648.0
        assert reading("plain", "condition") == 0x00FF_FFFD
        assert reading("sma", "power_w") is None
        assert reading("sma", "condition") is None
        assert reading("sma", "energy_wh") == 1_234_567.0
        assert reading("sma", "temperature_celsius") == pytest.approx(41.2)
        scrape = daemon.scrape()
        assert scrape.get("sensord_parse_errors_total", 0.0, sensor="plain", reason="invalid") == 0
        assert scrape.value("sensord_modbus_transactions_total", sensor="sma") >= invalid()
        status = daemon.status()["sensors"]["sma"]
        assert status["parse_errors"]["invalid"] >= 3

        server.set(4, "input", 30775, u32(1500))  # morning
        wait_for(lambda: reading("sma", "power_w") == 1500.0, 5, "the power once awake")
        assert daemon.stop() == 0


@pytest.mark.parametrize("type_", sorted(SUNSPEC_NOT_AVAILABLE))
@pytest.mark.parametrize(("byte_order", "word_order"), ORDERS)
def test_not_available_is_found_in_every_integer_type_and_order(
    type_: str, byte_order: str, word_order: str
) -> None:
    """A register holding its not-available bits in any byte and word order gives no value
    and ParseError ``invalid`` that keeps the read's other value; the same register holding
    another value (the sample, and the sentinel's neighbour) is read. The bus and a replay of
    its capture decode alike."""
    bits = SUNSPEC_NOT_AVAILABLE[type_]
    fmt, sample = SAMPLES[type_]
    signed = not type_.startswith("u")
    size = struct.calcsize(fmt)
    sentinel = bits - 2 ** (8 * size) if signed and bits >> (8 * size - 1) else bits
    registers = (
        reg(
            "v",
            "holding",
            0,
            type_,
            byte_order=byte_order,
            word_order=word_order,
            not_available=(bits,),
        ),
        reg("w", "holding", 4, "uint16"),
    )
    spec = modbus_format(*registers, max_gap=3)
    device_spec = spec.modbus
    assert device_spec is not None
    [read] = plan(device_spec)
    request = Request(7, read, "rtu", {"v": ["v"], "w": ["w"]})
    decode = codec_for("modbus").decoder(spec)

    def reply(value: int) -> bytes:
        words = words_of(type_, value, byte_order, word_order)
        words += [0] * (4 - len(words)) + [99]
        return response_frame(device_spec, read, words, 0)

    exchange = ModbusLink("rtu").request(7, read) + reply(sentinel)
    # the bus decodes the reply, a replay of its capture the whole exchange
    decoders: list[tuple[Callable[[bytes], object], bytes]] = [
        (request.pairs, reply(sentinel)),
        (decode, exchange),
    ]
    for decoded, frame in decoders:
        with pytest.raises(ParseError) as caught:
            decoded(frame)
        assert caught.value.reason == "invalid"
        assert caught.value.kept == [("w", 99.0)]
    for value in (int(sample), sentinel + (-1 if sentinel > 0 else 1)):
        assert request.pairs(reply(value)) == [("v", float(value)), ("w", 99.0)]


def test_not_available_of_a_float_register_is_its_value() -> None:
    registers = (reg("v", "input", 0, "float32", not_available=(-1.0, 3.4e38)),)
    spec = modbus_format(*registers)
    assert spec.modbus is not None
    [read] = plan(spec.modbus)
    request = Request(7, read, "rtu", {"v": ["v"]})
    for value in (-1.0, 3.4e38):
        words = words_of("float32", value, "big", "big")
        with pytest.raises(ParseError, match="not available: v"):
            request.pairs(response_frame(spec.modbus, read, words, 0))
    words = words_of("float32", 1.0, "big", "big")
    assert request.pairs(response_frame(spec.modbus, read, words, 0)) == [("v", 1.0)]


def test_a_device_without_not_available_values_keeps_the_plain_decoder() -> None:
    """A read with no ``not_available`` anywhere publishes every value as it reads it."""
    spec = modbus_format(RegisterSpec("v", "holding", 0, "uint16"))
    assert spec.modbus is not None
    [read] = plan(spec.modbus)
    request = Request(7, read, "rtu", {"v": ["v"]})
    assert request.pairs(response_frame(spec.modbus, read, [0xFFFF], 0)) == [("v", 65535.0)]


def test_not_available_values_are_checked_against_the_register_type() -> None:
    def with_register(**register: object) -> list[str]:
        table = device("m", "/dev/ttyUSB0", 1, [{"name": "a", "ref": "30001", **register}])
        return load_errors(table)

    assert with_register(type="int16", not_available=[0x8000, -32768]) == []
    assert with_register(type="uint32", not_available=0xFFFFFFFF) == []
    assert with_register(type="uint64", not_available=[0xFFFF_FFFF_FFFF_FFFF]) == []
    assert with_register(type="float32", not_available=[-1.0]) == []
    key = "sensors[0].registers[0].not_available"
    assert with_register(type="int16", not_available=[65536]) == [
        f"{key}: a int16 cannot hold 65536 (its 16 bits, read signed or unsigned)"
    ]
    assert with_register(type="uint16", not_available=[-32769]) == [
        f"{key}: a uint16 cannot hold -32769 (its 16 bits, read signed or unsigned)"
    ]
    assert with_register(type="uint16", not_available=[1.5]) == [
        f"{key}: a uint16 holds integers, got 1.5"
    ]
    assert with_register(table="coil", ref=None, address=0, type="bool", not_available=[1]) == [
        f"{key}: a bool has no value that means 'not available'"
    ]
    assert with_register(type="uint16", not_available=["0xFFFF"]) == [
        f"{key}: must be a number or an array of numbers, got string '0xFFFF' at item 0"
    ]
    # beyond what the float type holds: an error naming the key, not an OverflowError
    assert with_register(type="float32", not_available=[3.4e38, 1e39]) == [
        f"{key}: a float32 cannot hold 1e+39"
    ]
    assert with_register(type="float32", not_available=[-(2**200)]) == [
        f"{key}: a float32 cannot hold -1.60694e+60"
    ]
    assert with_register(type="float64", not_available=[10**400]) == [
        f"{key}: a float64 cannot hold an integer of 401 digits"
    ]


def test_check_lists_each_registers_not_available_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "sensord.toml"
    config.write_text(
        SMA_TOML.format(
            name="sma",
            port="modbus-tcp://127.0.0.1:1",
            unit=3,
            extra=", sunspec_not_available = true",
            condition=", not_available = [0x00FFFFFD]",
        )
    )
    assert main(["check", "-c", str(config)]) == 0
    out = capsys.readouterr().out
    assert "power_w: input address 30775 int32 byte_order=big word_order=big " in out
    assert "not_available=[0x80000000]" in out
    assert "not_available=[0xfffffd, 0xffffffff]" in out


#: A meter's float32 voltages (a Schneider iEM3000's holding registers from 3027: phase 1,
#: then phase 3 with its words swapped as some gateways pass them) and a float64 energy,
#: beside a uint16 status: a value the meter does not measure reads as a quiet NaN
#: (0x7FC00000: SunSpec's SUNS_UNIMPL_FLOAT32, what Vaisala's transmitters send for a value
#: not available).
NAN_METER_TOML = """
[[sensors]]
name = "meter"
port = "{port}"
format = "modbus"
modbus = {{ unit = 1, interval_s = 0.1, max_gap = 10 }}
registers = [
  {{ name = "v_l1", table = "holding", address = 3027, type = "float32" }},
  {{ name = "v_l3", table = "holding", address = 3031, type = "float32", word_order = "little" }},
  {{ name = "energy", table = "holding", address = 3033, type = "float64" }},
  {{ name = "status", table = "holding", address = 3037 }},
]
channels = [{{ name = "v_l1" }}, {{ name = "v_l3" }}, {{ name = "energy" }}, {{ name = "status" }}]
"""


@pytest.mark.slow
def test_a_float_register_s_nan_leaves_its_channel_without_a_current_value(
    start_daemon: StartDaemon,
) -> None:
    """A float register that turns NaN (or an infinity) after a reading is not measured: its
    channel has no ``sensord_reading_value`` and reads ``"available": false`` until a value
    comes again (the last value is no current value), counted as ``nonfinite`` once per read,
    while the read's other values are published."""
    with ModbusServer([1], "tcp", first_address=3000) as server:
        server.set(1, "holding", 3027, words_of("float32", 230.5, "big", "big"))
        server.set(1, "holding", 3031, words_of("float32", 229.5, "big", "little"))
        server.set(1, "holding", 3033, words_of("float64", 1234.5, "big", "big"))
        server.set(1, "holding", 3037, [7])
        daemon = start_daemon(config=NAN_METER_TOML.format(port=server.url))
        daemon.wait_http()

        def reading(channel: str) -> float | None:
            scrape = daemon.scrape()
            labels = {"sensor": "meter", "channel": channel}
            if not scrape.has("sensord_reading_value", **labels):
                return None
            return scrape.value("sensord_reading_value", **labels)

        def nonfinite() -> float:
            return daemon.scrape().get(
                "sensord_parse_errors_total", 0.0, sensor="meter", reason="nonfinite"
            )

        wait_for(lambda: reading("energy") == 1234.5, 10, "the meter's first values")
        assert reading("v_l3") == 229.5
        server.set(1, "holding", 3031, [0x0000, 0x7FC0])  # NaN, low word first
        server.set(1, "holding", 3033, [0x7FF0, 0, 0, 0])  # float64 +infinity
        wait_for(lambda: nonfinite() >= 3, 10, "three reads with a NaN")
        assert reading("v_l3") is None
        assert reading("energy") is None
        assert reading("v_l1") == 230.5
        assert reading("status") == 7.0
        channels = daemon.status()["sensors"]["meter"]["channels"]
        assert channels["v_l3"]["available"] is False
        assert channels["v_l3"]["value"] is None
        assert channels["energy"]["available"] is False
        assert channels["v_l1"]["available"] is True
        scrape = daemon.scrape()
        # one count per read (the read holds both), not one per value
        assert nonfinite() <= scrape.value("sensord_modbus_transactions_total", sensor="meter")

        server.set(1, "holding", 3031, words_of("float32", 231.5, "big", "little"))
        server.set(1, "holding", 3033, words_of("float64", 1235.5, "big", "big"))
        wait_for(lambda: reading("v_l3") == 231.5, 5, "phase 3 measured again")
        wait_for(lambda: reading("energy") == 1235.5, 5, "the energy again")
        assert daemon.status()["sensors"]["meter"]["channels"]["v_l3"]["available"] is True
        assert daemon.stop() == 0


def test_a_float_register_that_reads_nan_from_the_first_read_is_not_measured() -> None:
    """A single-phase meter's phase-3 voltage reads NaN at every read, from the first: a
    quantity it does not measure. The first read counts one ``nonfinite`` and logs ``values
    not measured`` naming the channel; the reads after it count nothing more, and ``/status``
    shows the channel not available and not measured, naming its register. Once the register
    held a number, a NaN counts at every read again (a value the meter measures, missing now
    and then)."""
    with ModbusServer([1], "tcp", first_address=3000) as server, capture_logs() as logs:
        server.set(1, "holding", 3027, words_of("float32", 230.5, "big", "big"))
        server.set(1, "holding", 3031, [0x0000, 0x7FC0])  # NaN, low word first
        server.set(1, "holding", 3033, words_of("float64", 1234.5, "big", "big"))
        server.set(1, "holding", 3037, [7])
        daemon = daemon_in_process(parse_config(NAN_METER_TOML.format(port=server.url)))
        reader = daemon.reader
        try:
            meter = reader.sensors["meter"]
            modbus = meter.modbus
            assert modbus is not None
            run_reader_until(reader, lambda: modbus.transactions >= 5, 10.0)
            snapshot = meter.snapshot()
            assert snapshot.parse_errors["nonfinite"] == 1
            channels = snapshot.as_json()["channels"]
            assert channels["v_l3"]["available"] is False
            assert channels["v_l3"]["not_measured"] == "v_l3 is nan"
            assert (channels["v_l1"]["value"], channels["v_l1"]["not_measured"]) == (230.5, None)
            [told] = [e for e in logs if e["event"] == "values not measured"]
            assert told["channels"] == ["v_l3"]
            assert not [e for e in logs if e["event"] == "values not available"]

            server.set(1, "holding", 3031, words_of("float32", 229.5, "big", "little"))
            run_reader_until(
                reader, lambda: meter.snapshot().as_json()["channels"]["v_l3"]["available"], 5.0
            )
            assert meter.snapshot().as_json()["channels"]["v_l3"]["not_measured"] is None
            server.set(1, "holding", 3031, [0x0000, 0x7FC0])
            reads = modbus.transactions
            run_reader_until(reader, lambda: modbus.transactions >= reads + 4, 5.0)
            assert meter.snapshot().parse_errors["nonfinite"] >= 1 + 3
        finally:
            reader.close()


#: A single-phase meter read as a three-phase one: the voltages of phases 2 and 3 hold NaN.
NAN_PHASES_TOML = """
[[sensors]]
name = "meter"
port = "{port}"
format = "modbus"
modbus = {{ unit = 1, interval_s = 0.1, max_gap = 10 }}
registers = [
  {{ name = "v_l1", table = "holding", address = 3027, type = "float32" }},
  {{ name = "v_l2", table = "holding", address = 3029, type = "float32" }},
  {{ name = "v_l3", table = "holding", address = 3031, type = "float32" }},
]
channels = [{{ name = "v_l1"{filter} }}, {{ name = "v_l2" }}, {{ name = "v_l3" }}]
"""


def test_registers_that_read_nan_from_the_first_read_are_each_named_in_status() -> None:
    """A single-phase meter's phases 2 and 3 read NaN from the first read, in the same read:
    ``/status`` shows each channel not measured naming its own register, not the read's
    whole list."""
    with ModbusServer([1], "tcp", first_address=3000) as server:
        server.set(1, "holding", 3027, words_of("float32", 230.5, "big", "big"))
        server.set(1, "holding", 3029, [0x7FC0, 0x0000])
        server.set(1, "holding", 3031, [0x7F80, 0x0000])  # +inf
        config = parse_config(NAN_PHASES_TOML.format(port=server.url, filter=""))
        daemon = daemon_in_process(config)
        reader = daemon.reader
        try:
            meter = reader.sensors["meter"]
            modbus = meter.modbus
            assert modbus is not None
            run_reader_until(reader, lambda: modbus.transactions >= 3, 10.0)
            channels = meter.snapshot().as_json()["channels"]
        finally:
            reader.close()
    assert channels["v_l2"]["not_measured"] == "v_l2 is nan"
    assert channels["v_l3"]["not_measured"] == "v_l3 is inf"


def test_a_nan_after_a_reload_that_renews_a_measured_channel_counts_at_every_read() -> None:
    """A reload that changes a measured channel's filter gives it a new chain, with the port
    open: a NaN in its register after it is a value missing, not a quantity the meter does
    not measure (its register held numbers before the reload): counted at every read, and
    ``/status`` does not show the channel not measured."""
    with ModbusServer([1], "tcp", first_address=3000) as server, capture_logs() as logs:
        server.set(1, "holding", 3027, words_of("float32", 230.5, "big", "big"))
        server.set(1, "holding", 3029, words_of("float32", 231.5, "big", "big"))
        server.set(1, "holding", 3031, words_of("float32", 232.5, "big", "big"))
        toml = NAN_PHASES_TOML.format(port=server.url, filter="")
        daemon = daemon_in_process(parse_config(toml))
        reader = daemon.reader
        try:
            meter = reader.sensors["meter"]
            modbus = meter.modbus
            assert modbus is not None
            run_reader_until(reader, lambda: modbus.transactions >= 3, 10.0)
            filtered = ", filter = { min = 100.0, max = 300.0 }"
            daemon.apply(parse_config(NAN_PHASES_TOML.format(port=server.url, filter=filtered)))
            assert reader.sensors["meter"] is meter  # retuned, its port open
            server.set(1, "holding", 3027, [0x7FC0, 0x0000])
            reads = modbus.transactions
            run_reader_until(reader, lambda: modbus.transactions >= reads + 4, 5.0)
            snapshot = meter.snapshot()
        finally:
            reader.close()
    assert snapshot.parse_errors["nonfinite"] >= 3
    assert snapshot.as_json()["channels"]["v_l1"]["not_measured"] is None
    assert not [e for e in logs if e["event"] == "values not measured"]


def nonfinite(sensor: SensorRuntime) -> int:
    return sensor.snapshot().parse_errors.get("nonfinite", 0)


def test_a_capture_of_a_meter_with_a_register_not_measured_replays_to_the_same_counts(
    tmp_path: Path,
) -> None:
    """A meter whose phase-3 voltage reads NaN from the first read (not measured: counted
    once), then a number, then NaN again (a value missing: counted at every read). Its
    capture replayed as fast as it goes, many exchanges to a chunk, gives the counts of the
    live run (README: the counters show what the daemon saw), and shows the same channel
    not measured when the replay ends before a number came."""
    table = device(
        "meter",
        "",
        1,
        [
            {"name": "v_l1", "table": "holding", "address": 3027, "type": "float32"},
            {"name": "v_l3", "table": "holding", "address": 3031, "type": "float32"},
        ],
        interval_s=0.05,
    )
    del table["port"]
    nan = [0x7FC0, 0x0000]
    with ModbusServer([1], "tcp", first_address=3000) as server:
        server.set(1, "holding", 3027, words_of("float32", 230.5, "big", "big"))
        server.set(1, "holding", 3031, nan)
        errors: list[str] = []
        config = Config.load({"sensors": [{**table, "port": server.url}]}, "", errors)
        assert config is not None, errors
        daemon = daemon_in_process(config)
        reader = daemon.reader
        meter = reader.sensors["meter"]
        modbus = meter.modbus
        assert modbus is not None
        header = {"sensor": "meter", "format": "modbus", "port": server.url}
        try:
            run_reader_until(reader, lambda: modbus.transactions >= 4, 10.0)
            unmeasured = counts(meter.snapshot().as_json())
            path = tmp_path / "unmeasured.cap"
            path.write_bytes(meter.capture.capture(header))
            server.set(1, "holding", 3031, words_of("float32", 229.5, "big", "big"))
            run_reader_until(reader, lambda: latest(meter)["v_l3"] == 229.5, 10.0)
            server.set(1, "holding", 3031, nan)
            run_reader_until(reader, lambda: nonfinite(meter) >= 1 + 3, 10.0)
            live = counts(meter.snapshot().as_json())
            (tmp_path / "meter.cap").write_bytes(meter.capture.capture(header))
        finally:
            reader.close()
    assert unmeasured["parse_errors"] == {"nonfinite": 1}
    assert replay_counts(table, path) == unmeasured
    assert replay_counts(table, tmp_path / "meter.cap") == live


@pytest.mark.parametrize(("byte_order", "word_order"), ORDERS)
@pytest.mark.parametrize("type_", ["float32", "float64"])
def test_a_float_that_is_not_finite_is_left_out_and_names_its_register(
    type_: str, byte_order: str, word_order: str
) -> None:
    """In every order, with or without checks of other values: a NaN or an infinity leaves
    its channels out (``nonfinite``, naming the register), the others are kept, and a
    ``not_available`` value in the same reply makes it ``invalid``, naming both."""
    orders = {"byte_order": byte_order, "word_order": word_order}
    width = 2 if type_ == "float32" else 4
    for checked in (False, True):
        w_spec: dict[str, Any] = {"not_available": (0xFFFF,)} if checked else {}
        registers = (reg("v", "input", 0, type_, **orders), reg("w", "input", width, **w_spec))
        spec = modbus_format(*registers)
        assert spec.modbus is not None
        [read] = plan(spec.modbus)
        request = Request(7, read, "rtu", {"v": ["v", "v_copy"], "w": ["w"]})
        modbus = spec.modbus

        def reply(value: float, w: int, modbus: ModbusSpec = modbus, read: Read = read) -> bytes:
            words = [*words_of(type_, value, byte_order, word_order), w]
            return response_frame(modbus, read, words, 0)

        assert request.pairs(reply(1.5, 3)) == [("v", 1.5), ("v_copy", 1.5), ("w", 3.0)]
        for value in (math.nan, math.inf, -math.inf):
            with pytest.raises(ParseError) as caught:
                request.pairs(reply(value, 3))
            assert caught.value.reason == "nonfinite"
            assert caught.value.detail == f"v is {value}"
            assert caught.value.kept == [("w", 3.0)]
            assert caught.value.unavailable == ("v", "v_copy")
        if checked:
            with pytest.raises(ParseError) as caught:
                request.pairs(reply(math.nan, 0xFFFF))
            assert caught.value.reason == "invalid"
            assert caught.value.detail == "not available: w, v is nan"
            assert caught.value.kept == []
            assert caught.value.unavailable == ("v", "v_copy", "w")
