"""``sensord modbus read --sensor NAME``: the probe takes a Modbus sensor's port, unit id and
serial settings from the config, and the options given on the command line win. A real
pymodbus serial server answers on a pty."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.host_lag import HostLag
from harness.modbus import ModbusServer, PtyRelay
from harness.tcp_relay import TcpRelay

from sensord.cli import main


@pytest.fixture
def relay() -> Iterator[PtyRelay]:
    with PtyRelay() as relay:
        yield relay


def write_config(tmp_path: Path, port: str, unit: int, serial: str = "") -> Path:
    path = tmp_path / "sensord.toml"
    path.write_text(
        f"""
[[sensors]]
name = "meter"
port = "{port}"
format = "modbus"
modbus = {{ unit = {unit} }}
serial = {{ baudrate = 19200{serial} }}
registers = [{{ name = "volts", table = "holding", address = 0 }}]
channels = [{{ name = "volts" }}]

[[sensors]]
name = "air"
port = "/dev/ttyUSB7"
format = "value"
channels = [{{ name = "v" }}]
"""
    )
    return path


@pytest.mark.slow
def test_the_probe_reads_the_unit_and_port_of_a_configured_sensor(
    relay: PtyRelay, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, relay.near.path, 3)
    with ModbusServer([3, 4], "serial", relay.far.path) as server:
        server.set(3, "holding", 0, [2301, 7])
        server.set(4, "holding", 0, [4444, 8])
        probe = ["modbus", "read", "--sensor", "meter", "-c", str(config), "--holding", "0"]
        assert main([*probe, "--count", "2"]) == 0
        out = capsys.readouterr().out
        assert "      0: 0x08fd   2301" in out  # unit 3, the sensor's: unit 1 is not there
        assert "      1: 0x0007      7" in out
        assert main([*probe, "--unit", "4"]) == 0  # the option wins
        assert "      0: 0x115c   4444" in capsys.readouterr().out
    assert relay.requests[:1] == b"\x03"  # the first request went to unit 3


def test_the_probe_names_the_modbus_sensors_when_the_one_asked_for_is_not_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "/dev/ttyUSB9", 3)
    for name, what in (("nope", "is no"), ("air", "is a 'value' sensor, not a")):
        code = main(["modbus", "read", "--sensor", name, "-c", str(config), "--holding", "0"])
        assert code != 0
        err = capsys.readouterr().err
        assert f"{name!r} {what} Modbus sensor (Modbus sensors: meter)" in err


def test_a_read_the_protocol_does_not_allow_names_the_one_limit_it_breaks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each limit of a read (unit id, count per table, the last address) is named alone,
    with the value given, before the port is opened."""
    config = write_config(tmp_path, "/dev/ttyUSB9", 3)
    probe = ["modbus", "read", "--sensor", "meter", "-c", str(config)]
    cases = {
        ("--input", "0x30001", "--count", "2"): (
            "sensord: --input 196609 (0x30001) is past the last address, 65535 (0xffff)\n"
        ),
        ("--input", "300001"): (
            "sensord: --input 300001 (0x493e1) is past the last address, 65535 (0xffff); as "
            "a reference, 300001 is --input 0\n"
        ),
        ("--input", "65535", "--count", "2"): (
            "sensord: --count 2 from --input 65535 reaches address 65536; the last address "
            "is 65535 (--count 1 at most from there)\n"
        ),
        ("--unit", "300", "--input", "0"): (
            "sensord: --unit 300: a unit id on a serial line is 1..255\n"
        ),
        ("--holding", "0", "--count", "126"): (
            "sensord: --count 126: one read of holding registers takes 1..125\n"
        ),
        ("--coil", "0", "--count", "2000"): None,  # 2000 bits: allowed (no device here)
        (
            "--coil",
            "0",
            "--count",
            "2001",
        ): "sensord: --count 2001: one read of coils takes 1..2000\n",
        ("--discrete", "0", "--count", "0"): (
            "sensord: --count 0: one read of discrete inputs takes 1..2000\n"
        ),
    }
    for options, message in cases.items():
        code = main([*probe, *options, "--timeout", "0.1"])
        err = capsys.readouterr().err
        if message is None:
            assert code == 1, options  # past the checks: the absent device is what fails
            assert "/dev/ttyUSB9" in err, options
        else:
            assert (code, err) == (2, message), options
    tcp = ["modbus", "read", "modbus-tcp://127.0.0.1:9", "--unit", "256", "--input", "0"]
    assert main(tcp) == 2
    assert capsys.readouterr().err == "sensord: --unit 256: a unit id over Modbus TCP is 0..255\n"


def test_the_probe_needs_a_port_or_a_sensor(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["modbus", "read", "--holding", "0"]) != 0
    assert "give the PORT, or --sensor NAME of a config" in capsys.readouterr().err


def test_the_probe_takes_rs485_from_the_sensor_and_names_the_key_a_pty_refuses(
    relay: PtyRelay, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pseudo-terminal has no RS-485 driver: the probe fails naming ``serial.rs485``,
    whether the setting came from the sensor or from ``--rs485``."""
    config = write_config(tmp_path, relay.near.path, 3, serial=", rs485 = true")
    probe = ["modbus", "read", "--holding", "0", "--timeout", "0.2"]
    assert main([*probe, "--sensor", "meter", "-c", str(config)]) != 0
    assert "serial.rs485" in capsys.readouterr().err
    assert main([*probe, relay.near.path, "--rs485"]) != 0
    assert "serial.rs485" in capsys.readouterr().err


def test_the_probe_refuses_a_simulated_or_replayed_port_and_says_how_to_probe_a_simulation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo's meter is on a ``sim://`` bus, which only the daemon's reader plays: the
    probe names the port and the sensor and says how to play the bus on a pty to probe it."""
    config = write_config(tmp_path, "sim://meter-bus", 3)
    code = main(["modbus", "read", "--sensor", "meter", "-c", str(config), "--holding", "0"])
    assert code == 2
    err = capsys.readouterr().err
    assert "sim://meter-bus (sensor 'meter'): a simulated port, which has no device" in err
    assert f"sensord simulate -c {config} --sensor meter --link /tmp/ttySIM" in err
    assert "sensord modbus read /tmp/ttySIM --unit 3 --holding 0" in err
    assert main(["modbus", "read", "sim://x", "--input", "5"]) == 2
    err = capsys.readouterr().err
    assert "sim://x: a simulated port, which has no device" in err
    assert "sensord simulate -c FILE --sensor NAME --link /tmp/ttySIM" in err
    assert main(["modbus", "read", f"replay://{tmp_path}/m.cap", "--input", "5"]) == 2
    assert "a replayed capture, which answers no request" in capsys.readouterr().err


@pytest.mark.slow
def test_the_probe_waits_the_connect_delay_of_its_sensor_as_the_daemon_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Huawei dongle drops the requests that come within a second or so of a connection's
    open: the probe of a sensor with ``connect_delay_s`` waits it out before its request,
    as the daemon does (and with ``--connect-delay`` without a sensor); without the delay
    the request is dropped and no answer comes."""
    with ModbusServer([1], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "holding", 80, [0, 4567])
        relay.deaf_after_connect_s = 0.4
        path = tmp_path / "sensord.toml"
        path.write_text(
            f"""
[[sensors]]
name = "sun2000"
port = "{relay.url()}"
format = "modbus"
modbus = {{ unit = 1, connect_delay_s = 0.6, timeout_s = 0.5 }}
registers = [{{ name = "power", table = "holding", address = 80, type = "int32" }}]
channels = [{{ name = "power" }}]
"""
        )
        read = ["modbus", "read", "--holding", "80", "--count", "2"]
        assert main([*read, "--sensor", "sun2000", "-c", str(path)]) == 0
        assert "     81: 0x11d7   4567" in capsys.readouterr().out
        assert relay.dropped_early == 0
        started, cpu = time.monotonic(), time.thread_time()
        with HostLag() as lag:
            assert main([*read, relay.url(), "--unit", "1", "--timeout", "0.3"]) == 1
        elapsed, cpu = time.monotonic() - started, time.thread_time() - cpu
        err = capsys.readouterr().err
        assert "no response from unit 1 within 0.3 s" in err
        # the request's timeout, then as long again for a late answer to it (a gateway
        # answers each request once, however late), asleep meanwhile
        assert 0.6 <= elapsed <= 0.6 + 0.2 + lag.total_s(), (elapsed, str(lag))
        assert cpu < 0.1 * elapsed, (cpu, elapsed)
        assert "is read with --connect-delay 1 (modbus.connect_delay_s)" in err
        assert relay.dropped_early == 1
        assert main([*read, relay.url(), "--connect-delay", "0.6"]) == 0
        assert relay.dropped_early == 1


@pytest.mark.parametrize(
    ("option", "problem"),
    [
        (["--timeout", "0"], "--timeout must be in [0.001, 60] seconds, got 0"),
        (["--connect-delay", "-1"], "--connect-delay must be in [0, 60] seconds, got -1"),
        (["--connect-delay", "inf"], "--connect-delay must be in [0, 60] seconds, got inf"),
        (["--timeout", "nan"], "--timeout must be in [0.001, 60] seconds, got nan"),
    ],
)
def test_the_probe_refuses_times_out_of_range(
    option: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["modbus", "read", "/dev/ttyUSB9", "--holding", "0", *option]) == 2
    assert f"sensord: {problem}" in capsys.readouterr().err
