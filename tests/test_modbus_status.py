"""A register that says whether another value is valid (``status_register``).

A Senseair S8 keeps its meter status in input register IR1 (address 0: bit 0 fatal error,
1 offset regulation, 2 algorithm, 3 output, 4 self-diagnostics, 5 out of range, 6 memory
error; 0x7F any of them) beside its CO2 reading in IR4 (address 3). A Vaisala GMP252 holds a
status per measurement (0 OK, 2 not reliable, 256 not ready during start-up). A reading the
device itself marks as bad is not published: it is counted ``invalid`` and logged with the
status, and the value and its status are read in one request so the status speaks of that
very reading.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from harness.common import wait_for
from harness.daemon import StartDaemon
from harness.modbus import ModbusServer, PtyRelay
from structlog.testing import capture_logs
from test_frames_commands import Clock, sensor_config
from test_modbus import load_errors, reg

from sensord.cli import main
from sensord.errors import ParseError, StatusFaultError
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec, ModbusSpec, RegisterSpec
from sensord.formats.modbus import ModbusLink, Request, response_frame
from sensord.formats.modbus_device import DeviceModel
from sensord.formats.modbus_plan import plan
from sensord.sensor import SensorRuntime


def s8(status: RegisterSpec | None = None, **co2: Any) -> ModbusSpec:
    """An S8's map: the meter status at input 0, CO2 at input 3 gated by it."""
    co2.setdefault("status_register", "meter_status")
    return ModbusSpec(
        254,
        "rtu",
        (
            status or reg("meter_status", "input", 0),
            reg("co2_ppm", "input", 3, **co2),
        ),
    )


def pairs(spec: ModbusSpec, words: list[int]) -> list[tuple[str, float]]:
    [read] = plan(spec)
    request = Request(spec.unit, read, "rtu", {"co2_ppm": ["co2_ppm"]})
    return request.pairs(response_frame(spec, read, words, 0))


def test_a_value_and_its_status_are_read_in_one_request_whatever_the_gap() -> None:
    """``max_gap`` 0 would read addresses 0 and 3 apart; a status joins its value's read, as
    a scale factor does, so the two always come from one reply."""
    [read] = plan(s8())
    assert (read.table, read.address, read.count) == ("input", 0, 4)
    apart = ModbusSpec(254, "rtu", (reg("meter_status", "input", 0), reg("co2_ppm", "input", 3)))
    assert len(plan(apart)) == 2


def test_a_value_is_published_only_while_its_status_is_ok() -> None:
    spec = s8()
    assert pairs(spec, [0, 0, 0, 612]) == [("co2_ppm", 612.0)]
    with pytest.raises(ParseError) as caught:
        pairs(spec, [0x0001, 0, 0, 612])
    assert caught.value.reason == "invalid"
    assert str(caught.value).endswith("not available: co2_ppm (its status meter_status is 0x0001)")
    assert caught.value.kept == []
    # a capture of the exchange replayed reads it alike
    [read] = plan(spec)
    replay = codec_for("modbus").decoder(
        FormatSpec("modbus", (("co2_ppm", "co2_ppm"),), modbus=spec)
    )
    exchange = ModbusLink("rtu").request(254, read) + response_frame(spec, read, [1, 0, 0, 612], 0)
    with pytest.raises(ParseError, match=r"its status meter_status is 0x0001\)"):
        replay(exchange)


def test_a_mask_leaves_out_the_bits_that_do_not_matter() -> None:
    """Out of range (bit 5) still gives a reading, clipped: with ``status_mask = 0x5F`` only
    the error bits stop it, and a reserved high bit never does."""
    spec = s8(status_mask=0x5F)
    assert pairs(spec, [0x0020, 0, 0, 10000]) == [("co2_ppm", 10000.0)]
    assert pairs(spec, [0x8000, 0, 0, 650]) == [("co2_ppm", 650.0)]
    # the status told is its bits under the mask: one fault whatever the others hold, so a
    # fault is logged once (``device reports a fault``) when a reserved bit flips
    for status in (0x0024, 0x80A4):
        with pytest.raises(StatusFaultError) as caught:
            pairs(spec, [status, 0, 0, 650])
        assert caught.value.fault == "co2_ppm (its status meter_status is 0x0004 under mask 0x005f)"


def test_status_ok_lists_the_values_that_mean_valid() -> None:
    """A device whose status 1 means "data ready" and 0 "not yet"."""
    spec = s8(status_ok=(1,))
    assert pairs(spec, [1, 0, 0, 700]) == [("co2_ppm", 700.0)]
    with pytest.raises(ParseError, match=r"its status meter_status is 0x0000\)"):
        pairs(spec, [0, 0, 0, 700])


def test_a_status_not_available_leaves_its_value_unpublished() -> None:
    spec = s8(reg("meter_status", "input", 0, not_available=(0xFFFF,)))
    with pytest.raises(ParseError, match=r"its status meter_status is not available\)"):
        pairs(spec, [0xFFFF, 0, 0, 700])


def test_a_bit_field_can_be_the_status() -> None:
    """A fault flag in one bit of a status word: the value is valid while it is 0."""
    spec = s8(reg("fault", "input", 0, bit=4), status_register="fault")
    assert pairs(spec, [0x00EF, 0, 0, 500]) == [("co2_ppm", 500.0)]
    with pytest.raises(ParseError, match=r"its status fault is 0x0001\)"):
        pairs(spec, [0x0010, 0, 0, 500])


def test_the_status_gates_only_the_values_that_name_it() -> None:
    spec = ModbusSpec(
        1,
        "rtu",
        (
            reg("status", "holding", 0),
            reg("co2", "holding", 1, status_register="status"),
            reg("temperature", "holding", 2),
        ),
    )
    [read] = plan(spec)
    request = Request(1, read, "rtu", {"co2": ["co2"], "temperature": ["temperature"]})
    with pytest.raises(ParseError) as caught:
        request.pairs(response_frame(spec, read, [2, 800, 215], 0))
    assert caught.value.kept == [("temperature", 215.0)]


@pytest.mark.parametrize("ok", [(0,), (1,), (0x100, 2)])
def test_a_simulated_device_holds_a_status_its_values_are_valid_under(ok: tuple[int, ...]) -> None:
    spec = s8(status_ok=ok)
    [read] = plan(spec)
    frame = DeviceModel(spec).answer(
        ModbusLink("rtu").request(254, read), lambda: {"co2_ppm": 640.0, "meter_status": 7.0}
    )
    assert frame is not None
    request = Request(254, read, "rtu", {"co2_ppm": ["co2_ppm"], "meter_status": ["status"]})
    assert dict(request.pairs(frame)) == {"co2_ppm": 640.0, "status": float(ok[0])}


def test_a_simulated_device_holds_a_status_as_its_unsigned_bits() -> None:
    """An int16 status whose values are valid at 0xFFFF (compared as unsigned bits): the
    simulated device holds those bits, not the int16 clamped to 32767."""
    spec = s8(reg("meter_status", "input", 0, "int16"), status_ok=(0xFFFF,))
    [read] = plan(spec)
    frame = DeviceModel(spec).answer(
        ModbusLink("rtu").request(254, read), lambda: {"co2_ppm": 640.0}
    )
    assert frame is not None
    request = Request(254, read, "rtu", {"co2_ppm": ["co2_ppm"]})
    assert request.pairs(frame) == [("co2_ppm", 640.0)]


# -- configuration -------------------------------------------------------------------------------


def s8_table(*registers: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "co2",
        "port": "/dev/ttyUSB1",
        "format": "modbus",
        "modbus": {"unit": 254},
        "registers": list(registers),
        "channels": [{"name": "co2_ppm"}],
    }


STATUS = {"name": "meter_status", "ref": "30001"}


@pytest.mark.parametrize(
    ("co2", "status", "said"),
    [
        (
            {"status_mask": 0x7F},
            STATUS,
            "registers[1].status_mask: needs status_register, the entry whose value it tests",
        ),
        (
            {"status_register": "meter_status", "status_ok": [0x80], "status_mask": 0x7F},
            STATUS,
            "registers[1].status_ok: 0x80 has bits outside status_mask 0x7f",
        ),
        (
            {"status_register": "meter_status", "status_ok": [-1]},
            STATUS,
            "registers[1].status_ok: must be the status's values as integers >= 0, got -1",
        ),
        (
            {"status_register": "meter"},
            STATUS,
            "registers[1].status_register: no other register is named 'meter'",
        ),
        (
            {"status_register": "meter_status"},
            {"name": "meter_status", "ref": "40001"},
            "registers[1].status_register: 'meter_status' is a holding value; a status is read "
            "with the value it speaks of, from the same table (input)",
        ),
        (
            {"status_register": "meter_status"},
            {**STATUS, "type": "float32"},
            "registers[1].status_register: 'meter_status' is a float32; a status is an integer",
        ),
        (
            {"status_register": "meter_status"},
            {**STATUS, "status_register": "co2_ppm"},
            "registers[1].status_register: 'meter_status' has a status register of its own",
        ),
        (  # a Vaisala GMP252's CO2 status, 0x0801 registers from its CO2
            {"status_register": "meter_status"},
            {"name": "meter_status", "ref": "32050"},
            "more than one read takes (125); a status this far from its value cannot gate it: "
            "leave status_register out and read the status as a channel of its own",
        ),
        # a value the status can never hold: one bit is 0 or 1, a uint16 at most 0xffff
        (
            {"status_register": "meter_status", "status_ok": [2]},
            {**STATUS, "bit": 3},
            "registers[1].status_ok: 0x2 is more than 'meter_status', a 1-bit field, holds "
            "(at most 0x1)",
        ),
        # a signed field would be compared as a negative number, which status_ok cannot be
        (
            {"status_register": "meter_status", "status_ok": [3]},
            {**STATUS, "bit": 0, "bits": 2, "sign": "twos"},
            "registers[1].status_register: 'meter_status' has a sign; a status is compared as "
            "its unsigned bits: leave its sign out",
        ),
        (
            {"status_register": "meter_status", "status_ok": [0, 0x10000]},
            STATUS,
            "registers[1].status_ok: 0x10000 is more than 'meter_status', a uint16, holds "
            "(at most 0xffff)",
        ),
    ],
)
def test_a_status_that_cannot_be_is_refused_naming_its_key(
    co2: dict[str, Any], status: dict[str, Any], said: str
) -> None:
    errors = load_errors(s8_table(status, {"name": "co2_ppm", "ref": "30004", **co2}))
    assert any(said in e for e in errors), errors


def test_a_status_needs_no_channel_and_is_shown_by_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sensord.toml"
    path.write_text(S8_TOML.format(port="/dev/ttyUSB1", interval=4.0))
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "co2_ppm: input address 3 (ref 30004) uint16" in out
    assert "valid when meter_status & 0x7f is 0x0" in out
    assert "requests per poll: input 0+4" in out


S8_TOML = """
[[sensors]]
name = "co2"
port = "{port}"
format = "modbus"
serial = {{ baudrate = 9600 }}
modbus = {{ unit = 254, interval_s = {interval} }}
registers = [
  {{ name = "meter_status", ref = "30001" }},
  {{ name = "co2_ppm", ref = "30004", status_register = "meter_status", status_mask = 0x7F }},
]
channels = [{{ name = "co2_ppm" }}]
"""


@pytest.mark.slow
def test_an_s8_reporting_an_error_has_its_co2_withheld_until_it_clears(
    start_daemon: StartDaemon,
) -> None:
    """A pymodbus server on a pty laid out as an S8 (unit 254, RTU at 9600 baud): the CO2
    is published while the meter status is 0, withheld and counted while it says an error
    (logged at info with the status, shown not available on ``/status``), and published
    again when the error clears."""
    with PtyRelay() as relay, ModbusServer([254], "serial", relay.far.path) as server:
        server.set(254, "input", 0, [0, 0, 0, 612])
        config = S8_TOML.format(port=relay.near.path, interval=0.2)
        daemon = start_daemon(
            config=config.replace('format = "modbus"', 'format = "modbus"\nstale_after_s = 1')
        )
        daemon.wait_http()

        def co2() -> float | None:
            scrape = daemon.scrape()
            if not scrape.has("sensord_reading_value", sensor="co2", channel="co2_ppm"):
                return None
            return scrape.value("sensord_reading_value", sensor="co2", channel="co2_ppm")

        def invalid() -> float:
            return daemon.scrape().get(
                "sensord_parse_errors_total", 0.0, sensor="co2", reason="invalid"
            )

        wait_for(lambda: co2() == 612.0, 10, "the first CO2 reading")
        assert invalid() == 0.0
        server.set(254, "input", 0, [0x0004, 0, 0, 655])  # algorithm error
        wait_for(lambda: invalid() >= 2, 5, "the readings counted invalid")
        assert co2() is None
        channel = daemon.status()["sensors"]["co2"]["channels"]["co2_ppm"]
        assert (channel["available"], channel["value"]) == (False, None)
        wait_for(lambda: bool(daemon.events("device reports a fault")), 5, "the fault's line")
        [line] = daemon.events("device reports a fault")
        assert line["fault"] == "co2_ppm (its status meter_status is 0x0004 under mask 0x007f)"
        assert line["level"] == "warning"

        def hint() -> str | None:
            value = daemon.status()["sensors"]["co2"]["hint"]
            return value if isinstance(value, str) else None

        # a fault that lasts stale_after is told on /status (sensord status exits 1)
        wait_for(lambda: hint() is not None, 5, "the fault's hint")
        assert (hint() or "").startswith(
            "the device reports a fault: co2_ppm (its status meter_status is 0x0004 under mask "
            "0x007f), its values withheld for "
        ), hint()
        server.set(254, "input", 0, [0x0000, 0, 0, 640])
        wait_for(lambda: co2() == 640.0, 5, "the CO2 again once the error clears")
        assert hint() is None
        wait_for(
            lambda: bool(
                daemon.events("values available again: the device's status says they are valid")
            ),
            5,
            "the line of the values back",
        )
        [back] = daemon.events("values available again: the device's status says they are valid")
        assert back["withheld_for_s"]["co2_ppm"] >= 1.0
        assert daemon.stop() == 0


def test_a_status_ok_a_coil_cannot_hold_is_refused() -> None:
    """A coil is 0 or 1: a value valid while its status coil is 2 is never published."""
    errors = load_errors(
        s8_table(
            {"name": "meter_status", "ref": "00001", "type": "bool"},
            {
                "name": "co2_ppm",
                "ref": "00004",
                "type": "bool",
                "status_register": "meter_status",
                "status_ok": [2],
            },
        )
    )
    assert any(
        "registers[1].status_ok: 0x2 is more than 'meter_status', a coil, holds (at most 0x1)" in e
        for e in errors
    ), errors


def test_a_coil_and_its_status_coil_further_apart_than_one_read_takes_are_refused() -> None:
    """A read takes at most 2000 coils: a coil whose status coil is 3000 coils away would
    need one read of 3001, which no device answers and which cannot be split."""
    errors = load_errors(
        s8_table(
            {"name": "meter_status", "table": "coil", "address": 0, "type": "bool"},
            {
                "name": "co2_ppm",
                "table": "coil",
                "address": 3000,
                "type": "bool",
                "status_register": "meter_status",
            },
        )
    )
    assert any(
        e.startswith(
            "sensors[0].registers[1].status_register: 'meter_status', 'co2_ppm' are "
            "read in one request, and take 3001 coils (coil 0-3000): more than one "
            "read takes (2000)"
        )
        for e in errors
    ), errors
    near = s8_table(
        {"name": "meter_status", "table": "coil", "address": 0, "type": "bool"},
        {
            "name": "co2_ppm",
            "table": "coil",
            "address": 1999,
            "type": "bool",
            "status_register": "meter_status",
        },
    )
    assert load_errors(near) == []


@pytest.mark.parametrize(
    ("first", "second"), [((2,), (0, 2)), ((0, 2), (2,)), ((1, 0x10), (0x30, 0x10))]
)
def test_a_simulated_status_shared_by_two_values_is_one_both_are_valid_under(
    first: tuple[int, ...], second: tuple[int, ...]
) -> None:
    """A status that two values name with different ``status_ok``: the simulated device
    holds one that both take, so it publishes both."""
    spec = ModbusSpec(
        1,
        "rtu",
        (
            reg("status", "holding", 0),
            reg("a", "holding", 1, status_register="status", status_ok=first),
            reg("b", "holding", 2, status_register="status", status_ok=second),
        ),
    )
    [read] = plan(spec)
    frame = DeviceModel(spec).answer(
        ModbusLink("rtu").request(1, read), lambda: {"a": 10.0, "b": 20.0}
    )
    assert frame is not None
    request = Request(1, read, "rtu", {"a": ["a"], "b": ["b"]})
    assert dict(request.pairs(frame)) == {"a": 10.0, "b": 20.0}


# -- the sensor's fault hint ---------------------------------------------------------------------


def meter_on(clock: Clock) -> tuple[SensorRuntime, Any]:
    """A sensor of a device with a meter status gating its CO2, each of its CO2 and its
    temperature 0xFFFF when not available (its probe not fitted), and the exchange of a
    reply of its status, CO2 and temperature words."""
    table = {
        "name": "co2",
        "port": "/dev/ttyUSB1",
        "simulate": "never",
        "format": "modbus",
        "stale_after_s": 2,
        "modbus": {"unit": 254},
        "registers": [
            {"name": "meter_status", "ref": "30001"},
            {
                "name": "co2_ppm",
                "ref": "30004",
                "status_register": "meter_status",
                "not_available": [0xFFFF],
            },
            {"name": "temperature", "ref": "30005", "not_available": [0xFFFF]},
        ],
        "channels": [{"name": "co2_ppm"}, {"name": "temperature"}],
    }
    config = sensor_config(table)
    spec = config.format_spec().modbus
    assert spec is not None
    [read] = plan(spec)
    request = Request(254, read, "rtu", {"co2_ppm": ["co2_ppm"], "temperature": ["temperature"]})
    rt = SensorRuntime(config, clock=clock, wall_clock=clock, rng=random.Random(1))
    rt.state = "up"

    def exchange(status: int, co2: int, temperature: int) -> None:
        frame = response_frame(spec, read, [status, 0, 0, co2, temperature], 0)
        try:
            rt.take_exchange(frame, request.pairs(frame))
        except ParseError as exc:
            rt.take_exchange(frame, exc.kept, exc)

    return rt, exchange


def test_a_fault_that_also_writes_not_available_in_its_value_is_told_as_a_fault() -> None:
    """A device that on an error both sets its status bit and writes its "not available"
    value into the CO2 register: its status says why, and the hint tells of the fault."""
    clock = Clock()
    rt, exchange = meter_on(clock)
    for _ in range(6):
        exchange(0x0004, 0xFFFF, 215)
        clock.now += 0.5
    hint = rt.snapshot().hint
    assert hint is not None
    assert hint.startswith("the device reports a fault: co2_ppm (its status meter_status"), hint


def test_a_value_not_available_beside_a_fault_is_no_fault_once_the_status_clears() -> None:
    """The status withholds the CO2 in one reply whose temperature is not available (a
    probe not fitted, so always): once the status is fine again and the CO2 comes, the
    temperature's own "not available" is no fault of the device, and no hint tells one."""
    clock = Clock()
    rt, exchange = meter_on(clock)
    exchange(0x0004, 655, 0xFFFF)
    for _ in range(10):
        clock.now += 0.5
        exchange(0, 640, 0xFFFF)
    assert rt.snapshot().hint is None


def test_a_fault_followed_by_a_value_only_not_available_is_no_lasting_fault() -> None:
    """The status clears while the CO2 register still holds its "not available" value (a
    sensor warming up after the fault): the status no longer withholds it, so no hint says
    the device reports a fault."""
    clock = Clock()
    rt, exchange = meter_on(clock)
    exchange(0x0004, 0xFFFF, 215)
    for _ in range(10):
        clock.now += 0.5
        exchange(0, 0xFFFF, 215)
    assert rt.snapshot().hint is None


def test_each_fault_the_device_reports_is_logged_the_first_time_it_comes() -> None:
    """A meter that goes through seven faults within a minute: each is a warning as it first
    comes, although the rate limit holds back the rejections of one reason to a line a
    minute; a fault that comes again is not told again within the minute."""
    clock = Clock()
    rt, exchange = meter_on(clock)
    with capture_logs() as logs:
        for bit in range(7):
            exchange(1 << bit, 655, 215)
            clock.now += 1.0
            exchange(1 << bit, 655, 215)
            clock.now += 1.0
    faults = [entry["fault"] for entry in logs if entry["event"] == "device reports a fault"]
    assert faults == [f"co2_ppm (its status meter_status is 0x{1 << bit:04x})" for bit in range(7)]
    assert rt.parse_errors["invalid"] == 14


def test_a_fault_is_withheld_for_the_time_frames_came_with_it_only() -> None:
    """A device whose fault outlasts its port's loss: the hint's "withheld for" counts from
    the first faulty reply after the port is back, not the time no reply came."""
    clock = Clock()
    rt, exchange = meter_on(clock)
    exchange(0x0004, 655, 215)
    clock.now += 1.0
    rt.bus_down("the port is gone", open_failed=False)
    clock.now += 600.0
    rt.simulated = True  # a source for the port back: the simulated one needs no device
    rt.bus_opened(rt.new_source())
    for _ in range(6):
        exchange(0x0004, 655, 215)
        clock.now += 0.5
    hint = rt.snapshot().hint
    assert hint is not None
    assert hint.startswith("the device reports a fault: co2_ppm"), hint
    assert ", its values withheld for 3 s;" in hint, hint
