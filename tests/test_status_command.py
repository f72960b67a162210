"""``sensord status``: the running daemon's sensors as a table, asked over real HTTP of a
real daemon whose sensors read a pty and an absent device, and its exit code."""

from __future__ import annotations

import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
from harness.common import REPO, free_port, wait_for
from harness.config import load_sensors, sensor_toml
from harness.daemon import DaemonProcess, StartDaemon
from harness.pty import PtyPair

from sensord.overview import duration, format_status
from sensord.sensor import SensorRuntime


def sensord_status(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sensord", "status", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
        check=False,
    )


def test_status_lists_every_sensor_and_says_why_one_is_down(
    tmp_path: Path, start_daemon: StartDaemon, pty_pair: PtyPair
) -> None:
    absent = tmp_path / "ttyUSB9"
    config = sensor_toml("scale", pty_pair.path) + sensor_toml(
        "meter", str(absent), extra='simulate = "never"'
    )
    daemon = start_daemon(config=config)
    daemon.wait_http()
    daemon.wait_up_settled(["scale"])  # its first line is read whole
    pty_pair.write(b"1.5\n2.5\n")
    wait_for(lambda: daemon.status()["sensors"]["scale"]["frames"] == 2, 5, "two frames")
    wait_for(lambda: daemon.status()["sensors"]["meter"]["state"] == "down", 5, "meter down")

    shown = sensord_status("--url", f"127.0.0.1:{daemon.port}")

    assert shown.returncode == 1, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("sensord ")
    assert " degraded " in lines[0]
    assert lines[1].split() == [
        "SENSOR",
        "STATE",
        "FOR",
        "LAST",
        "FRAME",
        "FRAMES",
        "REJECTED",
        "PORT",
    ]
    rows = {line.split()[0]: line.split() for line in lines[2:4]}
    assert lines[4] == "2 sensors: 1 up, 1 down"
    assert rows["scale"][1] == "up"
    assert rows["scale"][-3:] == ["2", "0", pty_pair.path]
    assert rows["meter"][1] == "down"
    assert "never" in rows["meter"]
    why = shown.stdout.split("\nwhy:\n", 1)[1]
    # the down sensor's last error, naming its device (and the sensor once, not again as the
    # error's prefix); nothing for the sensor that is up
    assert why.lstrip().startswith("meter: ")
    assert str(absent) in why.replace("\n    ", " ")
    assert "sensor 'meter'" not in why
    assert "scale:" not in why
    daemon.stop()


def test_status_exits_0_when_every_sensor_is_up_and_reads_the_config(
    tmp_path: Path, start_daemon: StartDaemon, pty_pair: PtyPair
) -> None:
    daemon = start_daemon(config=sensor_toml("scale", pty_pair.path))
    port = daemon.port
    # the daemon's address from a config file's [http] section, as an operator would have it
    config = tmp_path / "asked.toml"
    config.write_text(f"[http]\nport = {port}\n" + sensor_toml("scale", pty_pair.path))
    daemon.wait_http()
    pty_pair.write(b"7\n")
    wait_for(lambda: daemon.status()["sensors"]["scale"]["up"], 5, "scale up")
    wait_for(lambda: daemon.status()["state"] == "running", 5, "running")

    shown = sensord_status("-c", str(config))

    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert " running " in shown.stdout.splitlines()[0]
    assert "why:" not in shown.stdout
    as_json = sensord_status("-c", str(config), "--json")
    assert as_json.returncode == 0
    assert '"scale": {' in as_json.stdout
    daemon.stop()


def test_status_exits_1_naming_the_absent_device_a_simulation_stands_in_for(
    tmp_path: Path, start_daemon: StartDaemon
) -> None:
    """A sensor simulated because its device path was absent at start (``simulate = "auto"``,
    the default) is up, but its readings are made up: the why-lines say so, naming the
    path, and the exit code tells a script that not all is well."""
    absent = tmp_path / "ttyUSB3"
    daemon = start_daemon(config=sensor_toml("probe", str(absent)))
    daemon.wait_http()
    wait_for(lambda: daemon.status()["sensors"]["probe"]["up"], 5, "probe up, simulated")

    shown = sensord_status("--url", f"127.0.0.1:{daemon.port}")

    assert shown.returncode == 1, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[2].split()[:3] == ["probe", "up", "(simulated)"]
    why = shown.stdout.split("\nwhy:\n", 1)[1].replace("\n    ", " ")
    assert why.lstrip().startswith(f"probe: its device {absent} was absent when it started")
    assert 'simulated (simulate = "auto") until that path is there' in why
    daemon.stop()


def test_capture_of_a_sensor_the_daemon_does_not_have_names_the_one_meant(
    start_daemon: StartDaemon,
) -> None:
    """``sensord capture boiller``: the daemon's 404 is told with its sensor of the closest
    name, or with where its sensors are listed when none is close."""
    port = free_port()
    daemon = start_daemon(
        config=f"[http]\nport = {port}\n"
        + sensor_toml("boiler", "sim://boiler")
        + sensor_toml("pump", "sim://pump"),
        port=port,
    )
    assert daemon.config_path is not None
    daemon.wait_http()

    def capture(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sensord", "capture", name, "-c", str(daemon.config_path)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=REPO,
            check=False,
        )

    typo = capture("boiller")
    assert typo.returncode == 1
    assert typo.stderr.endswith("HTTP 404 no such sensor; did you mean 'boiler'?\n"), typo.stderr
    other = capture("xyz")
    assert other.returncode == 1
    assert other.stderr.endswith(
        "HTTP 404 no such sensor ('xyz' is none of the daemon's 2 sensors: sensord status "
        "lists them)\n"
    ), other.stderr


def scale_up(start_daemon: StartDaemon, pty_pair: PtyPair) -> tuple[DaemonProcess, Path]:
    """A daemon of one line sensor, ``scale``, on ``pty_pair`` at an ``[http]`` port of its
    file, once the sensor is up; and that file."""
    port = free_port()
    daemon = start_daemon(
        config=f"[http]\nport = {port}\n" + sensor_toml("scale", pty_pair.path), port=port
    )
    assert daemon.config_path is not None
    daemon.wait_http()
    pty_pair.write(b"7\n")
    wait_for(lambda: daemon.status()["sensors"]["scale"]["up"], 5, "scale up")
    return daemon, daemon.config_path


def test_status_and_reload_ask_the_daemon_of_a_file_left_not_valid_toml(
    start_daemon: StartDaemon, pty_pair: PtyPair
) -> None:
    """An edit that leaves the file invalid TOML (a quote not closed in a sensor's table) does
    not hide the daemon's address that ``[http]`` gives: ``sensord status -c FILE`` still
    shows the running daemon, and ``sensord reload -c FILE`` has it refuse the file, so both
    tell that the previous configuration runs, as for any other mistake in a sensor's
    table."""
    daemon, config = scale_up(start_daemon, pty_pair)
    config.write_text(config.read_text().replace('name = "scale"', 'name = "scale'))

    reloaded = subprocess.run(
        [sys.executable, "-m", "sensord", "reload", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
        check=False,
    )
    shown = sensord_status("-c", str(config))

    assert reloaded.returncode == 1, reloaded.stderr
    assert f"reload failed (pid {daemon.pid}, {config}):" in reloaded.stderr
    assert "not valid TOML" in reloaded.stderr
    assert not daemon.status()["config_last_reload_successful"]
    assert shown.returncode == 1, shown.stderr
    assert "last reload FAILED" in shown.stdout.splitlines()[0], shown.stdout
    assert shown.stdout.splitlines()[2].split()[:2] == ["scale", "up"]
    assert f"{config} is not valid (1 configuration error: sensord check {config}" in shown.stderr


def test_status_asks_the_daemon_of_a_file_whose_reload_failed(
    tmp_path: Path, start_daemon: StartDaemon, pty_pair: PtyPair
) -> None:
    """The file edited wrong and reloaded (the daemon keeps its running configuration): the
    file's mistake in a sensor's table does not keep ``sensord status -c FILE`` from the
    daemon that ``[http]`` names, nor ``sensord capture``, and it says the file is not
    valid."""
    daemon, config = scale_up(start_daemon, pty_pair)
    config.write_text(
        config.read_text().replace("sampling_rate_hz = 10", 'sampling_rate_hz = "10"')
    )
    # the flag and its reasons are set one after the other: both are, once the reload counts
    assert not daemon.reload_by_signal()["config_last_reload_successful"]

    shown = sensord_status("-c", str(config))

    assert shown.returncode == 1, shown.stderr  # the sensor is up, the reload did not apply
    assert "last reload FAILED" in shown.stdout.splitlines()[0]
    why = shown.stdout.split("\nwhy:\n", 1)[1].replace("\n    ", " ")
    assert why.lstrip().startswith(
        "last reload: sensors[0].sampling_rate_hz (sensor 'scale'): must be a number"
    ), why
    assert shown.stdout.splitlines()[2].split()[:2] == ["scale", "up"]
    assert f"{config} is not valid (1 configuration error: sensord check {config}" in shown.stderr
    output = tmp_path / "scale.cap"
    captured = subprocess.run(
        [sys.executable, "-m", "sensord", "capture", "scale", "-c", str(config), "-o", str(output)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
        check=False,
    )
    assert captured.returncode == 0, captured.stderr
    assert output.read_bytes().startswith(b"sensord-capture 1")
    assert daemon.status()["config_last_reload_errors"] != []
    # the file mended and reloaded: the reasons go with the failure
    config.write_text(
        config.read_text().replace('sampling_rate_hz = "10"', "sampling_rate_hz = 10")
    )
    mended = daemon.reload_by_signal()
    assert mended["config_last_reload_successful"]
    assert mended["config_last_reload_errors"] == []
    daemon.stop()


def test_status_lists_the_sensors_with_their_numbers_in_order(start_daemon: StartDaemon) -> None:
    """Sensors named after a device and a number are listed as a person counts them: pm2
    before pm10, tank_2 before tank_10, meter2 before meter11 (as text, each would come
    after the other)."""
    names = ["tank_10", "pm10", "meter2", "tank_2", "meter11", "pm2"]
    daemon = start_daemon(config="".join(sensor_toml(name, f"sim://{name}") for name in names))
    daemon.wait_http()
    wait_for(
        lambda: all(s["up"] for s in daemon.status()["sensors"].values()), 5, "every sensor up"
    )

    shown = sensord_status("--url", f"127.0.0.1:{daemon.port}")

    rows = shown.stdout.splitlines()[2 : 2 + len(names)]
    assert [row.split()[0] for row in rows] == [
        "meter2",
        "meter11",
        "pm2",
        "pm10",
        "tank_2",
        "tank_10",
    ], shown.stdout
    daemon.stop()


def test_the_links_present_that_the_sensors_of_a_hub_that_is_out_name_are_shown_once(
    tmp_path: Path, start_daemon: StartDaemon
) -> None:
    """A USB hub out: each of its sensors' errors lists the /dev/serial/by-id links present
    now, the same list for all. ``sensord status`` shows that list once, under the why-lines,
    each line naming it; /status keeps each error whole. A list one sensor alone names stays
    in its line."""
    by_id = tmp_path / "serial" / "by-id"
    by_id.mkdir(parents=True)
    dev = tmp_path / "dev"
    dev.mkdir()
    hub = [f"usb-FTDI_FT232R_USB_UART_HUB{i}-if00-port0" for i in range(1, 4)]
    others = [f"usb-FTDI_FT232R_USB_UART_ELSE{i}-if00-port0" for i in range(1, 6)]
    config = "".join(
        sensor_toml(f"tank_{i}", str(by_id / link), extra='simulate = "never"')
        for i, link in enumerate(hub, 1)
    ) + sensor_toml("lone", str(dev / "ttyUSB7"), extra='simulate = "never"')
    with ExitStack() as stack:
        for link in others:
            (by_id / link).symlink_to(stack.enter_context(PtyPair()).path)
        (dev / "ttyUSB2").symlink_to(stack.enter_context(PtyPair()).path)
        daemon = start_daemon(config=config)
        daemon.wait_http()
        wait_for(
            lambda: all(s.get("last_error") for s in daemon.status()["sensors"].values()),
            5,
            "every sensor's error",
        )

        shown = sensord_status("--url", f"127.0.0.1:{daemon.port}")
        errors = {name: s["last_error"] for name, s in daemon.status()["sensors"].items()}
        daemon.stop()

    listed = f"{', '.join(others[:4])} and 1 more"
    for i, link in enumerate(hub, 1):
        assert errors[f"tank_{i}"] == (
            f"sensor 'tank_{i}': {by_id / link} does not exist: the adapter is unplugged, or "
            f"its link has another name ({listed} present now; sensord ports shows each with "
            "its serial number)"
        )
    why = shown.stdout.split("\nwhy:\n", 1)[1].replace("\n    ", " ").splitlines()
    assert why == [
        f"  lone: {dev}/ttyUSB7 does not exist: a USB adapter comes back under another ttyUSB "
        f"number after a replug or a reboot ({dev}/ttyUSB2 present now); name it by its "
        "/dev/serial/by-id link (sensord ports lists them)",
        *(
            f"  tank_{i}: {by_id / link} does not exist: the adapter is unplugged, or its link "
            "has another name ([1] present now; sensord ports shows each with its serial number)"
            for i, link in enumerate(hub, 1)
        ),
        f"  [1] present now: {listed}",
    ], shown.stdout
    assert shown.stdout.count(others[0]) == 1


def test_status_of_no_daemon_says_where_it_asked() -> None:
    port = free_port()  # nothing listens on it
    shown = sensord_status("--url", f"http://127.0.0.1:{port}")
    assert shown.returncode == 1
    assert f"cannot reach the daemon at http://127.0.0.1:{port}/status" in shown.stderr
    assert "is sensord running? (systemctl status sensord)" in shown.stderr


def test_a_worker_not_responding_is_named_with_its_pid_and_sensors() -> None:
    """A ``--workers`` primary lists the sensors of a worker it cannot ask with the worker's
    state alone; the why-lines name the worker once, with its pid and sensors."""
    text = format_status(
        {
            "version": "0.1.0",
            "state": "degraded",
            "uptime_s": 4000.0,
            "pid": 12,
            "config": "/etc/sensord/sensord.toml",
            "restart_needed": True,
            "installed_version": "0.2.0",
            "workers": [
                {"index": 0, "pid": 40, "ready": True, "responding": True, "restarts": 0},
                {"index": 1, "pid": 41, "ready": True, "responding": False, "restarts": 2},
            ],
            "sensors": {
                "a": {"state": "worker not responding", "up": False, "worker": 1},
                "b": {"state": "worker not responding", "up": False, "worker": 1},
                "c": {"state": "up", "up": True, "frames": 5, "port": "sim://c", "worker": 0},
            },
        }
    )
    head, _, row_a, row_b, _row_c, tally, _, why, *more = text.splitlines()
    assert "up 1h06m" in head
    assert "restart needed: 0.2.0 is installed" in head
    assert row_a.split() == ["a", "worker", "not", "responding", "-", "-", "-", "-", "-"]
    assert row_b.split()[0] == "b"
    assert tally == "3 sensors: 1 up, 2 worker not responding"
    # one line for the worker, with its pid to look for in the log, and its sensors
    assert why == "why:"
    assert more == [
        "  worker 1 (pid 41, restarted 2 times): not responding; its sensors read nothing "
        "meanwhile: a, b"
    ]


def test_the_sensors_of_a_worker_not_responding_are_named_in_the_table_s_order() -> None:
    names = ["pm10", "pm2", "pm1"]
    text = format_status(
        {
            "state": "degraded",
            "workers": [{"index": 0, "pid": 40, "restarts": 0}],
            "sensors": {
                name: {"state": "worker not responding", "up": False, "worker": 0} for name in names
            },
        }
    )
    lines = text.splitlines()
    assert [line.split()[0] for line in lines[2:5]] == ["pm1", "pm2", "pm10"]
    assert lines[-1].endswith("its sensors read nothing meanwhile: pm1, pm2, pm10"), text


def test_a_sensor_warming_up_says_so_and_for_how_long() -> None:
    """A PMS5003 in its warm-up is up (its frames come) and publishes nothing yet: its state
    says it warms up, and a why-line how long it still does; once over, nothing is said."""
    sensors = {
        "pms": {"state": "up", "up": True, "frames": 11, "warmup_left_s": 15.15},
        "co2": {"state": "up", "up": True, "frames": 40, "warmup_left_s": None},
    }
    text = format_status({"state": "running", "sensors": sensors})
    _, _, co2, pms, _tally, _, why, *lines = text.splitlines()
    assert co2.split()[:2] == ["co2", "up"]
    assert "warming" not in co2
    assert pms.split()[:4] == ["pms", "up", "(warming", "up)"]
    assert why == "why:"
    assert " ".join(line.strip() for line in lines) == (
        "pms: warming up for 15 s more (warmup_s): its frames are read, its readings published "
        "once the device has settled"
    )
    sensors["pms"]["warmup_left_s"] = None
    assert "warming" not in format_status({"state": "running", "sensors": sensors})


def test_a_sensor_whose_port_broke_in_its_warm_up_is_down_not_warming_up() -> None:
    """A sensor whose port broke (an adapter unplugged) in its warm-up is down: its state
    says so, not that it warms up (it warms up anew once it is back), and its why-line is
    its error."""
    with PtyPair() as pair:
        (config,) = load_sensors(
            {
                "name": "pms",
                "port": pair.path,
                "format": "value",
                "simulate": "never",
                "warmup_s": 30,
                "channels": [{"name": "value"}],
            }
        ).sensors
        runtime = SensorRuntime(config)
        assert runtime.try_open()
        runtime.disconnect("read failed: device reports readiness to read but returned no data")
        data = runtime.snapshot().as_json()
        runtime.stop()
    assert data["state"] == "down"
    text = format_status({"state": "running", "sensors": {"pms": data}})
    _, _, row, _tally, _, why, *lines = text.splitlines()
    assert row.split()[:2] == ["pms", "down"]
    assert "warming" not in text, text
    assert why == "why:"
    assert "read failed" in " ".join(lines)


def test_counts_are_aligned_to_the_right() -> None:
    text = format_status(
        {
            "state": "running",
            "sensors": {
                "busy": {"state": "up", "up": True, "frames": 1234567, "parse_errors": {"a": 12}},
                "slow": {"state": "up", "up": True, "frames": 7, "parse_errors": {"a": 0}},
            },
        }
    )
    _, header, busy, slow, _tally = text.splitlines()
    # each count ends where its column's heading ends
    for heading, big, small in (("FRAMES", "1234567", "7"), ("REJECTED", "12", "0")):
        end = header.index(heading) + len(heading)
        assert busy[end - len(big) : end] == big
        assert slow[end - len(small) : end + 1] == small + " "


@pytest.mark.parametrize(
    ("dropped", "shown"),
    [
        (1, "1 log line dropped (the log stream did not take it)"),
        (2, "2 log lines dropped (the log stream did not take them)"),
        (0, None),
        (True, None),
    ],
)
def test_the_daemon_s_line_names_the_log_lines_it_dropped(
    dropped: object, shown: str | None
) -> None:
    head = format_status({"state": "running", "log_lines_dropped": dropped, "sensors": {}})
    head = head.splitlines()[0]
    if shown is None:
        assert "dropped" not in head
    else:
        assert head.endswith(shown)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.04, "0.0 s"),
        (9.96, "10.0 s"),
        (10, "10 s"),
        (59.9, "59 s"),
        (60, "1m00s"),
        (3599, "59m59s"),
        (3600, "1h00m"),
        (86399, "23h59m"),
        (86400, "1d00h"),
        (-1, "-"),
        (None, "-"),
        (True, "-"),
    ],
)
def test_durations_read_as_a_person_reads_them(seconds: object, shown: str) -> None:
    assert duration(seconds) == shown


def test_a_why_line_never_cuts_a_device_path() -> None:
    path = "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10K3-if00-port0-with-a-long-serial-name"
    text = format_status(
        {
            "state": "degraded",
            "sensors": {
                "scale": {
                    "state": "down",
                    "up": False,
                    "frames": 0,
                    "last_error": f"sensor 'scale': {path} does not exist; the ttyUSB devices "
                    "present now: /dev/ttyUSB1",
                }
            },
        }
    )
    why = text.split("\nwhy:\n", 1)[1]
    assert path in why.split()


def test_values_the_device_marks_as_not_measured_are_no_rejections() -> None:
    """A Davis console dashed half the time, or a SunSpec inverter's 0x8000 at night, counts
    ``invalid``: no damage, not in REJECTED, where a checksum failure is."""
    text = format_status(
        {
            "state": "running",
            "sensors": {
                "davis": {
                    "state": "up",
                    "up": True,
                    "frames": 9,
                    "parse_errors": {"invalid": 4, "checksum": 1, "syntax": 0},
                },
            },
        }
    )
    _, header, davis, _tally = text.splitlines()
    end = header.index("REJECTED") + len("REJECTED")
    assert davis[end - 2 : end] == " 1"


def test_a_long_table_ends_with_a_tally_of_the_states() -> None:
    """300 sensors make a table taller than a terminal: the line under it counts the sensors
    in each state (up first, then the states an operator looks into) and the simulated ones,
    so what is wrong shows without scrolling back."""
    sensors: dict[str, dict[str, object]] = {
        f"s{i:03d}": {"state": "up", "up": True, "frames": 5, "simulated": i >= 60}
        for i in range(300)
    }
    sensors["s287"] = {"state": "down", "up": False, "frames": 0, "last_error": "gone"}
    sensors["s010"] = {"state": "stale", "up": False, "frames": 3}
    sensors["s011"] = {"state": "stale", "up": False, "frames": 3}
    text = format_status({"state": "degraded", "sensors": sensors})
    lines = text.splitlines()
    assert lines[302] == "300 sensors: 297 up, 2 stale, 1 down; 239 simulated"
    assert lines[303:] == ["", "why:", "  s287: gone"]
    assert format_status({"state": "running", "sensors": {"a": sensors["s001"]}}).endswith(
        "\n1 sensor: 1 up"
    )
