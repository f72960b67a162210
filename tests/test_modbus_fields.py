"""Register bit fields (``bit``, ``bits``) and SunSpec scale factors (``scale_register``).

A SunSpec inverter (Fronius, SolarEdge, SMA's SunSpec profile) holds each measurement as an
integer and, beside it, a scale factor: the power of ten the integer is multiplied by (model
103: ``W`` at 40084 and ``W_SF`` at 40085, ``PhVphA`` at 40080 and ``V_SF`` at 40083). A
Fronius changes ``W_SF`` as the power rises, so a value and its factor read in two requests
can pair a new value with an old factor (a factor of ten off): sensord reads them in one.
Status registers pack flags and small numbers into the bits of one register (SunSpec's
``Evt1`` bitfield32, a meter's alarm word).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from harness.common import wait_for
from harness.daemon import StartDaemon
from harness.modbus import ModbusServer, rtu_frame
from harness.pty import PtyPair
from hypothesis import given
from hypothesis import strategies as st
from test_modbus import ORDERS, device, load_errors, modbus_format, reg, words_of
from test_modbus_line import HandBus, read_reply, read_request

from sensord.cli import main
from sensord.config import Config
from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats.base import ModbusSpec, RegisterSpec
from sensord.formats.modbus import ModbusLink, Request, response_frame
from sensord.formats.modbus_device import DeviceModel
from sensord.formats.modbus_plan import Read, plan, splits
from sensord.formats.modbus_values import hold, scale

# -- bit fields ----------------------------------------------------------------------------------


def pairs_of(*registers: RegisterSpec, words: list[int]) -> list[tuple[str, float]]:
    """The values the bus decodes from a reply holding ``words``, checked against the
    pymodbus path (:meth:`Read.values`) and a replay of the exchange."""
    spec = modbus_format(*registers, max_gap=125)
    assert spec.modbus is not None
    [read] = plan(spec.modbus)
    request = Request(7, read, "rtu", {r.name: [r.name] for r in registers})
    frame = response_frame(spec.modbus, read, words, 0)
    by_bus = request.pairs(frame)
    replayed = codec_for("modbus").decoder(spec)(ModbusLink("rtu").request(7, read) + frame)
    assert replayed == by_bus
    assert sorted(by_bus) == sorted(
        (name, v) for name, v in read.values(words) if name in dict(by_bus)
    )
    return by_bus


def test_bit_fields_of_a_status_register_beside_its_whole_value() -> None:
    status = 0b1010_0110_0000_1001  # flags 0 and 3 set, high byte 0xA6
    got = pairs_of(
        reg("status", "holding", 0),
        reg("ready", "holding", 0, bit=0),
        reg("fault", "holding", 0, bit=1),
        reg("alarm", "holding", 0, bit=3),
        reg("mode", "holding", 0, bit=8, bits=8),
        reg("nibble", "holding", 0, bit=4, bits=4),
        words=[status],
    )
    assert dict(got) == {
        "status": float(status),
        "ready": 1.0,
        "fault": 0.0,
        "alarm": 1.0,
        "mode": 0xA6,
        "nibble": 0,
    }


@pytest.mark.parametrize(("byte_order", "word_order"), ORDERS)
def test_a_32_bit_event_field_is_read_in_the_value_order(byte_order: str, word_order: str) -> None:
    """SunSpec's Evt1 is a bitfield32: bit 0 ground fault, bit 4 grid disconnect, bit 7 over
    temperature; a bit in its other word (16, 31) is read as well. The bits are those of the
    uint32 the orders give."""
    value = 1 << 0 | 1 << 4 | 1 << 16 | 1 << 31
    kw = {"type_": "uint32", "byte_order": byte_order, "word_order": word_order}
    got = pairs_of(
        reg("ground_fault", "input", 4, bit=0, **kw),
        reg("grid_disconnect", "input", 4, bit=4, **kw),
        reg("over_temperature", "input", 4, bit=7, **kw),
        reg("bit_16", "input", 4, bit=16, **kw),
        reg("top", "input", 4, bit=31, **kw),
        words=words_of("uint32", value, byte_order, word_order),
    )
    assert dict(got) == {
        "ground_fault": 1.0,
        "grid_disconnect": 1.0,
        "over_temperature": 0.0,
        "bit_16": 1.0,
        "top": 1.0,
    }


def test_a_signed_register_has_its_bits_read_unsigned() -> None:
    got = pairs_of(reg("sign", "holding", 0, "int16", bit=15), words=[0x8001])
    assert got == [("sign", 1.0)]


bit_field = st.integers(0, 15).flatmap(
    lambda bit: st.tuples(st.just(bit), st.integers(1, 16 - bit))
)


@given(word=st.integers(0, 0xFFFF), fields=st.lists(bit_field, min_size=1, max_size=6))
def test_bit_fields_equal_shifting_the_register(word: int, fields: list[tuple[int, int]]) -> None:
    registers = [reg(f"f{i}", "holding", 3, bit=b, bits=n) for i, (b, n) in enumerate(fields)]
    got = dict(pairs_of(*registers, words=[word]))
    assert got == {f"f{i}": float(word >> b & (1 << n) - 1) for i, (b, n) in enumerate(fields)}


@given(
    values=st.lists(st.integers(0, 1), min_size=16, max_size=16),
    mode=st.integers(0, 255),
)
def test_a_simulated_device_holds_each_field_in_its_bits(values: list[int], mode: int) -> None:
    """What :func:`hold` writes for fields of one register reads back the same, whatever
    the order the fields come in."""
    registers = [reg(f"b{i}", "holding", 0, bit=i) for i in range(8)]
    registers.append(reg("mode", "holding", 0, bit=8, bits=8))
    held = hold(registers[::-1], {**{f"b{i}": values[i] for i in range(8)}, "mode": mode})
    word = sum(values[i] << i for i in range(8)) | mode << 8
    assert held == {0: word}


# -- signed fields -------------------------------------------------------------------------------


def test_a_renogy_s_temperatures_are_sign_and_magnitude_bytes() -> None:
    """A Renogy Rover's register 0x0103 holds the controller's temperature in its high byte
    and the battery's in its low byte, each with bit 7 the sign (renogy-bt, and Renogy's
    "ROVER Modbus protocol": "b7: sign bit, b0-b6: temperature value"): 0x8319 is -3 °C and
    25 °C."""
    controller = reg("controller", "holding", 0x103, bit=8, bits=8, sign="magnitude")
    battery = reg("battery", "holding", 0x103, bit=0, bits=8, sign="magnitude")
    assert dict(pairs_of(controller, battery, words=[0x8319])) == {
        "controller": -3.0,
        "battery": 25.0,
    }
    assert dict(pairs_of(controller, battery, words=[0x1985])) == {
        "controller": 25.0,
        "battery": -5.0,
    }
    assert dict(pairs_of(controller, battery, words=[0x8000])) == {  # "-0"
        "controller": 0.0,
        "battery": 0.0,
    }


def test_a_twos_complement_byte_and_a_sign_and_magnitude_register() -> None:
    got = pairs_of(
        reg("byte", "holding", 0, bit=8, bits=8, sign="twos"),
        reg("whole", "holding", 1, "int16", sign="magnitude"),
        reg("wide", "holding", 2, "uint32", sign="magnitude", word_order="little"),
        words=[0xFD00, 0x8005, 0x0007, 0x8000],
    )
    assert dict(got) == {"byte": -3.0, "whole": -5.0, "wide": -7.0}


@given(
    bit=st.integers(0, 14),
    data=st.data(),
    sign=st.sampled_from(["twos", "magnitude"]),
    byte_order=st.sampled_from(["big", "little"]),
)
def test_a_signed_field_reads_back_what_the_simulated_device_holds(
    bit: int, data: st.DataObject, sign: str, byte_order: str
) -> None:
    bits = data.draw(st.integers(2, 16 - bit))
    top = 1 << (bits - 1)
    low = -top if sign == "twos" else -(top - 1)
    value = data.draw(st.integers(low, top - 1))
    field = reg("f", "holding", 0, bit=bit, bits=bits, sign=sign, byte_order=byte_order)
    held = hold([field], {"f": value})
    assert pairs_of(field, words=[held[0]]) == [("f", float(value))]


@given(number=st.integers(-(2**31) + 1, 2**31 - 1), word_order=st.sampled_from(["big", "little"]))
def test_a_whole_sign_and_magnitude_value_reads_back_what_the_device_holds(
    number: int, word_order: str
) -> None:
    value = reg("v", "input", 10, "int32", sign="magnitude", word_order=word_order)
    held = hold([value], {"v": number})
    assert pairs_of(value, words=[held[10], held[11]]) == [("v", float(number))]


# -- scale factors -------------------------------------------------------------------------------


def sunspec(*extra: RegisterSpec, max_gap: int = 0) -> ModbusSpec:
    """Model 103's power and voltage with their factors (0-based addresses)."""
    return ModbusSpec(
        1,
        "rtu",
        (
            reg("voltage", "holding", 79, scale_register="v_sf", not_available=(0xFFFF,)),
            reg("v_sf", "holding", 82, "int16", not_available=(0x8000,)),
            reg("power", "holding", 83, "int16", scale_register="w_sf", not_available=(0x8000,)),
            reg("w_sf", "holding", 84, "int16", not_available=(0x8000,)),
            *extra,
        ),
        max_gap,
    )


def test_a_value_is_read_in_one_request_with_its_factor_whatever_the_gap() -> None:
    """With max_gap 0, the voltage (79) and its factor (82) are still one read, which the
    power and its factor (83, 84) join; no split of a refused read parts a value from its
    factor."""
    spec = sunspec()
    [read] = plan(spec)
    assert (read.address, read.count) == (79, 6)
    assert [[r.name for r in part.registers] for part in splits(read)][1:] == [
        ["voltage", "v_sf"],
        ["power", "w_sf"],
    ]
    far = sunspec(reg("energy", "holding", 200, "uint32", scale_register="w_sf"))
    [read] = plan(far)  # power, its factor and the energy that shares it: one piece
    assert (read.address, read.count) == (79, 123)
    for part in splits(read):
        names = {r.name for r in part.registers}
        for r in part.registers:
            assert r.scale_register is None or r.scale_register in names, part


@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.integers(0, 60), st.booleans()), min_size=1, max_size=8
    ),
    st.integers(0, 5),
)
def test_no_read_or_split_parts_a_value_from_its_factor(
    entries: list[tuple[int, int, bool]], max_gap: int
) -> None:
    registers: list[RegisterSpec] = []
    used: set[int] = set()
    for i, (at, factor_at, scaled) in enumerate(entries):
        if at in used or (scaled and (factor_at in used or factor_at == at)):
            continue
        used.add(at)
        if scaled:
            used.add(factor_at)
            registers.append(reg(f"f{i}", "holding", factor_at, "int16"))
        registers.append(reg(f"v{i}", "holding", at, scale_register=f"f{i}" if scaled else None))
    spec = ModbusSpec(1, "rtu", tuple(registers), max_gap)
    reads = plan(spec)
    assert sorted(r.name for read in reads for r in read.registers) == sorted(
        r.name for r in registers
    )
    for read in reads:
        for part in splits(read):
            names = {r.name for r in part.registers}
            assert all(r.scale_register in (None, *names) for r in part.registers)
            assert part.count <= 125


def reply(spec: ModbusSpec, read: Read, at: dict[int, int]) -> bytes:
    words = [at.get(a, 0) for a in range(read.address, read.address + read.count)]
    return response_frame(spec, read, words, 0)


def test_a_scaled_value_is_its_integer_times_ten_to_its_factor() -> None:
    spec = sunspec()
    [read] = plan(spec)
    request = Request(1, read, "rtu", {"voltage": ["voltage"], "power": ["power"]})

    def values(at: dict[int, int]) -> dict[str, float]:
        return dict(request.pairs(reply(spec, read, at)))

    assert values({79: 2304, 82: 0xFFFF, 83: 1234, 84: 1}) == {"voltage": 230.4, "power": 12340.0}
    assert values({79: 5, 82: 2, 83: 0xFFFE, 84: 0xFFFD}) == {"voltage": 500.0, "power": -0.002}
    assert values({79: 0, 82: 0, 83: 7, 84: 0}) == {"voltage": 0.0, "power": 7.0}


@pytest.mark.parametrize(
    ("factor", "why"),
    [
        (0x8000, "power (its scale factor w_sf is not available)"),
        (11, "power (its scale factor w_sf is 11, outside -10..10)"),
        (0x10000 - 300, "power (its scale factor w_sf is -300, outside -10..10)"),
    ],
)
def test_a_value_whose_factor_is_unusable_is_not_published(factor: int, why: str) -> None:
    """The power is left out and counted ``invalid`` naming why; the factor's own
    ``not_available`` (SunSpec's 0x8000) is one reason, a factor no SunSpec device holds
    another. A value in another read is not touched, and a value that is itself not
    available says so."""
    spec = sunspec(reg("hz", "holding", 85, "uint16", scale_register="w_sf"))
    read = next(part for part in splits(plan(spec)[0]) if part.address == 83)
    request = Request(1, read, "rtu", {"power": ["power"], "hz": ["hz"], "w_sf": ["w_sf"]})
    with pytest.raises(ParseError) as caught:
        request.pairs(reply(spec, read, {83: 1500, 84: factor, 85: 5001}))
    assert caught.value.reason == "invalid"
    assert why in str(caught.value)
    assert [c for c, _ in caught.value.kept] == (["w_sf"] if factor != 0x8000 else [])
    with pytest.raises(ParseError) as caught:
        request.pairs(reply(spec, read, {83: 0x8000, 84: 0x8000, 85: 5001}))
    assert str(caught.value).endswith(
        "not available: power, w_sf, hz (its scale factor w_sf is not available)"
    )
    assert request.pairs(reply(spec, read, {83: 1500, 84: 0xFFFE, 85: 5001})) == [
        ("power", 15.0),
        ("w_sf", -2.0),
        ("hz", 50.01),
    ]


@given(
    volts=st.floats(0, 650, allow_nan=False),
    watts=st.floats(-30_000_000, 30_000_000, allow_nan=False),
)
def test_a_simulated_device_holds_a_scaled_value_at_a_factor_that_fits(
    volts: float, watts: float
) -> None:
    """The simulated device (:class:`DeviceModel`, through :func:`hold`) answers a value
    with a scale factor as a SunSpec device does: the finest factor its integer fits, so
    the value read back is the value to that factor's precision."""
    spec = sunspec()
    model = DeviceModel(spec)
    values = {"voltage": volts, "power": watts}
    held = hold(spec.registers, values)
    for read in splits(plan(spec)[0]):
        request = Request(1, read, "rtu", {"voltage": ["voltage"], "power": ["power"]})
        frame = model.answer(ModbusLink("rtu").request(1, read), lambda: values)
        assert frame is not None
        for name, got in request.pairs(frame):
            at = 82 if name == "voltage" else 84
            factor = struct.unpack(">h", held[at].to_bytes(2, "big"))[0]
            assert -2 <= factor <= 10
            assert got == pytest.approx(values[name], abs=scale(0.5, factor) + 1e-9)


def test_scale_divides_for_a_negative_factor() -> None:
    assert scale(2304, -1) == 230.4
    assert scale(5001, -2) == 50.01
    assert scale(3, -1) == 0.3
    assert scale(12, 3) == 12000.0


# -- configuration -------------------------------------------------------------------------------


def inverter(*registers: dict[str, Any], channels: list[str] | None = None) -> dict[str, Any]:
    table = device("inv", "/dev/ttyUSB0", 1, list(registers))
    if channels is not None:
        table["channels"] = [{"name": name} for name in channels]
    return table


SF = {"name": "w_sf", "ref": "40085", "type": "int16"}


@pytest.mark.parametrize(
    ("registers", "error"),
    [
        (
            [{"name": "w", "ref": "40084", "scale_register": "wsf"}, SF],
            "registers[0].scale_register: no other register is named 'wsf'",
        ),
        (
            [{"name": "w", "ref": "30084", "scale_register": "w_sf"}, SF],
            "'w_sf' is a holding value; a scale factor is read with its value, from the same "
            "table (input)",
        ),
        (
            [
                {"name": "w", "ref": "40084", "scale_register": "w_sf"},
                {**SF, "type": "float32"},
            ],
            "'w_sf' is a float32; a scale factor is a signed integer",
        ),
        (
            [
                {"name": "w", "ref": "40084", "scale_register": "w_sf"},
                {**SF, "type": "uint16"},
            ],
            "(SunSpec's sunssf is an int16, whose -2 a uint16 reads as 65534): give it "
            'type = "int16"',
        ),
        (
            [
                {"name": "w", "ref": "40084", "scale_register": "w_sf"},
                {"name": "w_sf", "ref": "40085"},
            ],
            "'w_sf' is a uint16; a scale factor is a signed integer",
        ),
        (
            [{"name": "w", "ref": "40084", "scale_register": "w"}],
            "no other register is named 'w'",
        ),
        (
            [
                {"name": "w", "ref": "40001", "scale_register": "w_sf"},
                {**SF, "ref": "40200"},
            ],
            "'w', 'w_sf' are read in one request, and take 200 registers (holding 0-199): "
            "more than one read takes (125)",
        ),
        (
            [{"name": "flag", "ref": "40001", "type": "float32", "bit": 3}],
            "registers[0].bit: a bit field is read from an integer type, not float32",
        ),
        (
            [{"name": "flag", "ref": "40001", "bit": 16}],
            "registers[0].bit: a uint16 has bits 0..15, got bit 16",
        ),
        (
            [{"name": "flag", "ref": "40001", "bit": 12, "bits": 8}],
            "registers[0].bits: a uint16 has bits 0..15, got bits 12..19",
        ),
        (
            [
                {"name": "a", "ref": "40001", "bit": 0, "bits": 4},
                {"name": "b", "ref": "40001", "bit": 3},
            ],
            "registers[1].bit: its bit 3 overlaps the bits 0..3 of registers[0] ('a', a uint16 "
            "at holding address 0): bit 3 in both",
        ),
        (
            [
                {"name": "a", "ref": "40001", "type": "uint32"},
                {"name": "b", "ref": "40002", "bit": 3},
            ],
            "registers[1].ref: holding address 1 is already read by registers[0]",
        ),
        (
            [{"name": "a", "ref": "40001"}, {"name": "b", "ref": "40001"}],
            "registers[1].ref: holding address 0 is already read by registers[0]",
        ),
        (
            [
                {"name": "s", "ref": "40001"},
                {"name": "b", "ref": "40001", "bit": 3},
                {"name": "c", "ref": "40001", "bit": 3},
            ],
            "registers[2].bit: its bit 3 overlaps the bit 3 of registers[1]",
        ),
        (
            [{"name": "c", "ref": "00001", "bit": 0}],
            "registers[0].bit: a bit field is read from an integer type, not bool",
        ),
        (
            [{"name": "t", "ref": "40001", "type": "float32", "sign": "magnitude"}],
            "registers[0].sign: a float32 has no sign of that kind: sign reads an integer",
        ),
        (
            [{"name": "t", "ref": "40001", "sign": "twos"}],
            "registers[0].sign: a whole value is read as its type says: an int type is two's "
            'complement (type = "int16"); sign = "twos" reads a bit field so',
        ),
        (
            [{"name": "t", "ref": "40001", "bit": 7, "sign": "magnitude"}],
            "registers[0].sign: a field of one bit has no room for a sign and a value: give bits",
        ),
        (
            [{"name": "t", "ref": "40001", "sign": "sign_magnitude"}],
            "registers[0].sign: must be one of",
        ),
    ],
)
def test_check_refuses_what_cannot_be_read(registers: list[dict[str, Any]], error: str) -> None:
    errors = load_errors(inverter(*registers, channels=[r["name"] for r in registers[:1]]))
    assert any(error in e for e in errors), errors


def test_a_factor_needs_no_channel_and_bits_alone_start_at_bit_zero() -> None:
    table = inverter(
        {"name": "w", "ref": "40084", "scale_register": "w_sf"},
        SF,
        {"name": "low", "ref": "40090", "bits": 8},
        channels=["w", "low"],
    )
    errors: list[str] = []
    loaded = Config.load({"sensors": [table]}, "", errors)
    assert loaded is not None, errors
    spec = loaded.sensors[0].modbus_spec()
    assert spec is not None
    w, w_sf, low = spec.registers
    assert w.scale_register == "w_sf"
    assert (low.bit, low.bits) == (0, 8)
    assert (w_sf.bit, w.bit) == (None, None)
    # what other tools call it
    misnamed = inverter({"name": "w", "ref": "40084", "scale_factor": "w_sf"}, SF, channels=["w"])
    assert any("did you mean 'scale_register'?" in e for e in load_errors(misnamed))
    # a factor that no value names still needs a channel
    assert any(
        "no channel reads 'w_sf'" in e
        for e in load_errors(inverter({"name": "w", "ref": "40084"}, SF, channels=["w"]))
    )


# -- a SunSpec inverter on a real Modbus TCP server ----------------------------------------------

FRONIUS_TOML = """
[[sensors]]
name = "inverter"
port = "{port}"
format = "modbus"
modbus = {{ unit = 1, interval_s = 0.1, sunspec_not_available = true }}
registers = [
  {{ name = "ac_voltage", table = "holding", address = 40079, scale_register = "v_sf" }},
  {{ name = "v_sf", table = "holding", address = 40082, type = "int16" }},
  {{ name = "ac_power", table = "holding", address = 40083, type = "int16", scale_register = "w_sf" }},
  {{ name = "w_sf", table = "holding", address = 40084, type = "int16" }},
  {{ name = "ac_frequency", table = "holding", address = 40085, scale_register = "hz_sf" }},
  {{ name = "hz_sf", table = "holding", address = 40086, type = "int16" }},
  {{ name = "state", table = "holding", address = 40107 }},
  {{ name = "ground_fault", table = "holding", address = 40109, type = "uint32", bit = 0 }},
  {{ name = "grid_disconnect", table = "holding", address = 40109, type = "uint32", bit = 4 }},
]
channels = [
  {{ name = "ac_voltage_volts", field = "ac_voltage" }},
  {{ name = "ac_power_watts", field = "ac_power" }},
  {{ name = "ac_frequency_hertz", field = "ac_frequency" }},
  {{ name = "state" }},
  {{ name = "ground_fault" }},
  {{ name = "grid_disconnect" }},
]
"""


@pytest.mark.slow
def test_a_sunspec_inverter_is_read_with_its_scale_factors(
    tmp_path: Path, start_daemon: StartDaemon
) -> None:
    """A Fronius-like inverter (SunSpec model 103: the manual's register 40084 is address
    40083, a register number and not a Modicon reference) on a real
    pymodbus TCP server: the values scaled by their factors, a factor that changes with the
    power, the event bits, and a factor that goes not available (0x8000) leaving its value
    unpublished and counted while the others are read."""
    with ModbusServer([1], "tcp", first_address=40000) as server:
        server.set(1, "holding", 40079, [2304, 0, 0, 0xFFFF, 1234, 0, 5001, 0xFFFE])
        server.set(1, "holding", 40107, [4, 0, 0x0000, 0x0001])  # MPPT, ground fault
        daemon = start_daemon(config=FRONIUS_TOML.format(port=server.url))
        daemon.wait_http()

        def reading(channel: str) -> float | None:
            scrape = daemon.scrape()
            labels = {"sensor": "inverter", "channel": channel}
            if not scrape.has("sensord_reading_value", **labels):
                return None
            return scrape.value("sensord_reading_value", **labels)

        wait_for(lambda: reading("ac_power_watts") == 1234.0, 10, "the first power")
        assert reading("ac_voltage_volts") == 230.4
        assert reading("ac_frequency_hertz") == 50.01
        assert reading("state") == 4.0
        assert reading("ground_fault") == 1.0
        assert reading("grid_disconnect") == 0.0
        # the power rises past an int16: the device writes 1723 at factor 1 in one go
        server.set(1, "holding", 40083, [1723, 1])
        wait_for(lambda: reading("ac_power_watts") == 17230.0, 5, "the power at factor 1")
        server.set(1, "holding", 40109, [0x0000, 0x0010])  # grid disconnect, no ground fault
        wait_for(lambda: reading("grid_disconnect") == 1.0, 5, "the disconnect bit")
        assert reading("ground_fault") == 0.0

        def invalid() -> float:
            return daemon.scrape().get(
                "sensord_parse_errors_total", 0.0, sensor="inverter", reason="invalid"
            )

        before = invalid()
        server.set(1, "holding", 40084, [0x8000])  # W_SF not implemented
        wait_for(lambda: invalid() >= before + 3, 5, "the power counted invalid")
        # the power has no current value: it is not published, nor its window's statistics
        # of the readings before; its last time stays
        assert reading("ac_power_watts") is None
        assert not daemon.scrape().has(
            "sensord_window_mean", sensor="inverter", channel="ac_power_watts"
        )
        assert daemon.scrape().has(
            "sensord_reading_timestamp_seconds", sensor="inverter", channel="ac_power_watts"
        )
        power = daemon.status()["sensors"]["inverter"]["channels"]["ac_power_watts"]
        assert (power["available"], power["value"], power["window"]) == (False, None, None)
        server.set(1, "holding", 40079, [2311])
        wait_for(lambda: reading("ac_voltage_volts") == 231.1, 5, "the voltage still read")
        server.set(1, "holding", 40084, [0])  # the factor is back: so is the power
        wait_for(lambda: reading("ac_power_watts") == 1723.0, 5, "the power again")
        assert daemon.stop() == 0


def test_check_shows_fields_and_factors_and_notes_sunspec_register_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A SunSpec manual's register 40084 written as ``ref = "40084"`` is holding address 83:
    ``sensord check`` says which address the manual's number would be."""
    path = tmp_path / "sensord.toml"
    path.write_text(
        FRONIUS_TOML.format(port="modbus-tcp://127.0.0.1:1502")
        .replace('table = "holding", address = 40083', 'ref = "40084"')
        .replace('table = "holding", address = 40084', 'ref = "40085"')
    )
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ac_power: holding address 83 (ref 40084) int16" in out
    assert "times 10**w_sf" in out
    assert "note: ref 40084 is holding address 83; a SunSpec register number" in out
    assert "is address 40083" in out
    assert "grid_disconnect: holding address 40109 uint32" in out
    assert "if the manual gives 40109 as a reference" not in out  # a SunSpec map
    assert out.count("note: ref") == 2
    assert "bit 4" in out


def test_a_refused_read_of_a_value_and_its_factor_is_kept_and_asked_again(
    pty_pair: PtyPair,
) -> None:
    """A device that answers exception 02 to the read of a value and its factor (the one
    read they can be read in) has that read asked again at the next poll and its values
    read once it answers: the read is not split away and lost."""
    table = device(
        "inv",
        "",
        1,
        [
            {"name": "w", "table": "holding", "address": 10, "scale_register": "w_sf"},
            {"name": "w_sf", "table": "holding", "address": 13, "type": "int16"},
        ],
        interval_s=1.0,
    )
    table["channels"] = [{"name": "w"}]
    hand = HandBus(pty_pair, table)
    try:
        assert hand.tick(100.0) == read_request(1, 10, 4)
        assert hand.receive(100.01, rtu_frame(bytes([1, 0x83, 2])), look=False) == b""
        assert hand.counters("inv").reads == 1
        assert hand.tick(101.0) == read_request(1, 10, 4)
        hand.receive(101.01, read_reply(1, [2304, 0, 0, 0xFFFF]), look=False)
        assert hand.values("inv") == {"w": (230.4, 230.4, 1)}
    finally:
        hand.bus.stop()


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("scale", 0.1, "scale it in its channel, normalize = { scale = 0.1 }"),
        ("offset", 2, "offset it in its channel"),
        ("precision", 1, "rounding is the dashboard's"),
        ("swap", "word", 'word_order = "little"'),
        ("count", 2, "the count follows from type"),
        ("slave", 3, "[sensors.modbus] unit"),
        ("data_type", "int16", "did you mean 'type'?"),
        ("input_type", "input", "did you mean 'table'?"),
        ("Scale", 0.1, "normalize = { scale = 0.1 }"),
    ],
)
def test_the_register_keys_of_other_modbus_tools_are_told_what_sensord_does(
    key: str, value: object, said: str
) -> None:
    """Home Assistant's and Telegraf's register keys get what sensord does instead, not a
    key of a close spelling (``scale`` is not ``table``), and no other error of the entry."""
    errors = load_errors(inverter({"name": "v", "ref": "30001", key: value}))
    assert len(errors) == 1, errors
    assert f"registers[0].{key}: unknown key; " in errors[0]
    assert said in errors[0]


def test_values_sharing_one_factor_are_held_at_one_that_fits_them_all() -> None:
    """SunSpec's A, AphA, AphB and AphC share A_SF: the simulated device picks the factor
    the largest of them fits (1000 A in a uint16 at -1, not 100000 at -2)."""
    registers = (
        reg("a", "holding", 0, scale_register="a_sf"),
        reg("aph_a", "holding", 1, scale_register="a_sf"),
        reg("a_sf", "holding", 2, "int16"),
    )
    spec = ModbusSpec(1, "rtu", registers)
    [read] = plan(spec)
    values = {"a": 1.5, "aph_a": 1000.0}
    request = Request(1, read, "rtu", {"a": ["a"], "aph_a": ["aph_a"]})
    frame = DeviceModel(spec).answer(ModbusLink("rtu").request(1, read), lambda: values)
    assert frame is not None
    assert dict(request.pairs(frame)) == {"a": 1.5, "aph_a": 1000.0}


@given(
    word_order=st.sampled_from(["big", "little"]),
    byte_order=st.sampled_from(["big", "little"]),
    number=st.integers(0, 2**64 - 1),
    bit=st.integers(0, 63),
)
def test_a_bit_field_of_a_64_bit_value_reads_alike_on_every_path(
    word_order: str, byte_order: str, number: int, bit: int
) -> None:
    """Above 2**53 a float loses bits: the fast path, pymodbus's path and the simulated
    device agree on every bit of a uint64 all the same."""
    bits = min(8, 64 - bit)
    kw = {"type_": "uint64", "byte_order": byte_order, "word_order": word_order}
    field = reg("f", "holding", 0, bit=bit, bits=bits, **kw)
    words = words_of_uint64(number, byte_order, word_order)
    want = float(number >> bit & (1 << bits) - 1)
    assert pairs_of(field, words=words) == [("f", want)]
    held = hold([field], {"f": want})
    assert [held[a] for a in range(4)] == words_of_uint64(int(want) << bit, byte_order, word_order)


def words_of_uint64(number: int, byte_order: str, word_order: str) -> list[int]:
    raw = number.to_bytes(8, "big")
    words = [raw[i : i + 2] for i in range(0, 8, 2)]
    if word_order == "little":
        words.reverse()
    if byte_order == "little":
        words = [w[::-1] for w in words]
    return [int.from_bytes(w, "big") for w in words]


def test_interleaved_values_and_factors_are_one_read_that_is_not_split() -> None:
    """W and W_SF around Hz and Hz_SF: no part of a split would be shorter than the read,
    so they are read together and never split (a part of the same span would be the
    refused read again)."""
    registers = (
        reg("w", "holding", 0, "int16", scale_register="w_sf"),
        reg("hz", "holding", 1, scale_register="hz_sf"),
        reg("hz_sf", "holding", 2, "int16"),
        reg("w_sf", "holding", 3, "int16"),
        reg("va", "holding", 10),
    )
    [read] = plan(ModbusSpec(1, "rtu", registers, max_gap=10))
    parts = [(p.address, p.count) for p in splits(read)]
    assert parts == [(0, 11), (0, 4), (10, 1)]


def test_a_bit_field_with_sunspec_not_available_takes_its_bitfield_value() -> None:
    """SunSpec's bitfield16 holds 0xFFFF for "not implemented": with
    sunspec_not_available an int16 register read as bit fields takes that, not 0x8000,
    which is only its top bit set."""
    table = inverter(
        {"name": "flags", "ref": "40001", "type": "int16", "bit": 15},
        {"name": "value", "ref": "40002", "type": "int16"},
        channels=["flags", "value"],
    )
    table["modbus"]["sunspec_not_available"] = True
    errors: list[str] = []
    loaded = Config.load({"sensors": [table]}, "", errors)
    assert loaded is not None, errors
    spec = loaded.sensors[0].modbus_spec()
    assert spec is not None
    flags, value = spec.registers
    assert flags.not_available == (0xFFFF,)
    assert value.not_available == (0x8000,)


def test_check_shows_a_signed_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sensord.toml"
    path.write_text(
        """
[[sensors]]
name = "rover"
port = "/dev/ttyUSB9"
format = "modbus"
registers = [
  { name = "controller", table = "holding", address = 0x0103, bit = 8, bits = 8, sign = "magnitude" },
  { name = "offset", table = "holding", address = 0x0104, bit = 0, bits = 8, sign = "twos" },
]
channels = [{ name = "controller" }, { name = "offset" }]
"""
    )
    assert main(["check", "--no-devices", str(path)]) == 0
    out = capsys.readouterr().out
    assert (
        "controller: holding address 259 uint16 byte_order=big word_order=big bits 8..15, its top bit the sign"
        in out
    )
    assert (
        "offset: holding address 260 uint16 byte_order=big word_order=big bits 0..7 in two's complement"
        in out
    )
