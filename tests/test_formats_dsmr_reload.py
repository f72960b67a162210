"""A reload that restarts or removes a DSMR sensor while a telegram is held whole at its ``!``.

A DSMR 2.2 or 3 telegram whose CR LF after its ``!`` has not come is read once the line has
been quiet for ``quiet_s`` (:mod:`test_formats_dsmr_quiet_end`). A reload (SIGHUP) within
that quiet that restarts the sensor (a channel's field edited) or removes it stops the sensor
and closes its port: the telegram is read before it stops, by the sensor that reads the same
device in the same format after it (its channels, as edited; its port the same path, or a link
to the device where it named the device, or the reverse), else by the sensor's own, as at its
port's close (:mod:`test_formats_dsmr_close`). So are the telegrams that the reload's read of
what the kernel still buffers of the port completes.

The real daemon as a subprocess, SIGHUP within the telegram's quiet, shows it end to end. The
daemon here is otherwise the real one built in this process (``daemon_in_process``), its reader's
loop run on the test's thread, the sensor's port a real pty at 300 baud (a quiet of 0.89 s);
``Daemon.apply`` is the reload's path after the file is read. The telegram is
:data:`~test_formats_dsmr_bare_end.KAMSTRUP_162` (origin there: nielsbasjes/dsmr-tools'
tests, a Kamstrup 162's DSMR 2.2 telegram), without its CR LF.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from harness.common import wait_for
from harness.config import write_atomically
from harness.daemon import StartDaemon
from harness.modbus import daemon_in_process, run_reader_until
from harness.proc import held_stopped
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_formats_dsmr_bare_end import KAMSTRUP_162, end_lost
from test_formats_dsmr_quiet_end import KAMSTRUP, readings

from sensord.config import parse_config
from sensord.daemon import Daemon
from sensord.sensor import SensorRuntime

BODY = KAMSTRUP.replace("stale_after_s", "serial = { baudrate = 300 }\nstale_after_s")
#: the power channel reads the exported energy at tariff 1 after the edit (a restart)
EDITED = BODY.replace('"power_kw", field = "1-0:1.7.0"', '"power_kw", field = "1-0:2.8.1"')


#: The Kamstrup's telegram as the sensor's channels read it, as in the file (``BODY``) and as
#: edited (``EDITED``)
READ = {"imported_t1_kwh": 7041.882, "power_kw": 0.54}
READ_EDITED = {"imported_t1_kwh": 7041.882, "power_kw": 3125.397}


def values(runtime: SensorRuntime) -> dict[str, float]:
    """The value of each channel's last reading."""
    return {channel: r.value for channel, r in readings(runtime).items()}


def sensor_toml(name: str, port: str, body: str) -> str:
    return f'[[sensors]]\nname = "{name}"\nport = "{port}"\nsimulate = "never"\n{body}'


def reloaded_over_buffered_bytes(
    daemon: Daemon, pair: PtyPair, data: bytes
) -> tuple[SensorRuntime, SensorRuntime]:
    """``data`` written to the port of sensor ``m`` of ``daemon`` once it is open, and still
    in the pty's buffer (the loop not run since) when a reload edits a channel's field
    (:data:`EDITED`): the reload reads all of it. (The stopped sensor, its successor.)"""
    old = daemon.reader.sensors["m"]
    run_reader_until(daemon.reader, lambda: old.source is not None, 5.0)
    pair.write(data)
    wait_for(lambda: pair.queued_bytes() == len(data), 5, "the bytes in the buffer")
    assert old.bytes_read == 0
    daemon.apply(parse_config(sensor_toml("m", pair.path, EDITED)))
    assert old.bytes_read == len(data)
    return old, daemon.reader.sensors["m"]


def held_whole(daemon: Daemon, pair: PtyPair) -> float:
    """The sensor ``m`` of ``daemon`` open on ``pair``'s port, the Kamstrup's telegram
    written without its CR LF and read by the loop, within its quiet; when it was written
    (wall clock)."""
    runtime = daemon.reader.sensors["m"]
    run_reader_until(daemon.reader, lambda: runtime.source is not None, 5.0)
    data = end_lost(KAMSTRUP_162)
    written = time.time()
    pair.write(data)
    run_reader_until(daemon.reader, lambda: runtime.bytes_read == len(data), 3.0)
    assert not readings(runtime)  # held for its quiet end
    return written


@pytest.mark.parametrize(
    ("after", "name", "read"),
    [
        (EDITED, "m", READ_EDITED),
        (BODY, "renamed", READ),
    ],
    ids=["field_edited", "renamed"],
)
def test_a_reload_that_restarts_a_dsmr_sensor_hands_its_whole_telegram_to_the_new_one(
    pty_pair: PtyPair, after: str, name: str, read: dict[str, float]
) -> None:
    """A reload within the telegram's quiet that restarts the sensor (a channel's field
    edited) or renames it, on the same port in format dsmr: the new sensor's channels read
    the telegram (the edited field's value, 3125.397 of ``1-0:2.8.1``), stamped when its
    last byte came, its frames counted as the new sensor's, no parse error; the new sensor
    opens its port afresh. Fails when the old sensor's port closes with the telegram held
    (the new sensor has no reading)."""
    daemon = daemon_in_process(parse_config(sensor_toml("m", pty_pair.path, BODY)))
    try:
        written = held_whole(daemon, pty_pair)
        old = daemon.reader.sensors["m"]
        daemon.apply(parse_config(sensor_toml(name, pty_pair.path, after)))
        reloaded = time.time()
        new = daemon.reader.sensors[name]
        assert new is not old
        assert old.state == "stopped"
        got = readings(new)
        assert {channel: r.value for channel, r in got.items()} == read
        assert {written <= r.wall_s <= reloaded for r in got.values()} == {True}
        assert not readings(old)
        assert new.framer.frames == len(KAMSTRUP_162.splitlines()) - 3  # its header, "", '!'
        assert sum(new.snapshot().parse_errors.values()) == 0
        run_reader_until(daemon.reader, lambda: new.source is not None, 5.0)
        assert readings(new) == got  # the reopen reads nothing more of it
    finally:
        daemon.reader.close()


def test_a_reload_that_removes_a_dsmr_sensor_reads_its_whole_telegram_with_its_channels(
    pty_pair: PtyPair,
) -> None:
    """A reload within the telegram's quiet that removes the sensor (another sensor, on
    another port, is the file's): the sensor's own channels read the telegram before its
    port closes, as at a close, stamped when it came. Fails when the removal drops it."""
    daemon = daemon_in_process(parse_config(sensor_toml("m", pty_pair.path, BODY)))
    try:
        written = held_whole(daemon, pty_pair)
        old = daemon.reader.sensors["m"]
        daemon.apply(parse_config(f'[[sensors]]\nname = "other"\nport = "sim://other"\n{BODY}'))
        assert "m" not in daemon.reader.sensors
        got = readings(old)
        assert {channel: r.value for channel, r in got.items()} == READ
        assert {written <= r.wall_s <= time.time() for r in got.values()} == {True}
        assert sum(old.snapshot().parse_errors.values()) == 0
    finally:
        daemon.reader.close()


def test_a_telegram_the_loop_has_not_read_when_the_reload_comes_is_read_and_handed_over(
    pty_pair: PtyPair,
) -> None:
    """The telegram written while the loop is not reading (a reload runs on the loop's
    thread, between two of its passes): the reload reads what the kernel still buffers of
    the port before the sensor stops, and hands the telegram to the sensor that replaces it,
    which reads nothing more of it once its port is open. Fails when the port is closed with
    the bytes unread (the new sensor has no reading)."""
    daemon = daemon_in_process(parse_config(sensor_toml("m", pty_pair.path, BODY)))
    try:
        _, new = reloaded_over_buffered_bytes(daemon, pty_pair, end_lost(KAMSTRUP_162))
        assert values(new) == READ_EDITED
        run_reader_until(daemon.reader, lambda: new.source is not None, 5.0)
        quiet_until = time.monotonic() + 0.5
        run_reader_until(daemon.reader, lambda: time.monotonic() > quiet_until, 2.0)
        assert new.bytes_read == 0
        assert readings(new)["power_kw"].value == 3125.397
    finally:
        daemon.reader.close()


def test_the_real_daemon_s_sighup_within_the_quiet_hands_the_telegram_to_the_edited_sensor(
    pty_pair: PtyPair, start_daemon: StartDaemon
) -> None:
    """The real daemon on a pty at 300 baud, a channel's field edited in its file: the
    Kamstrup's telegram without its CR LF and SIGHUP both come while the daemon is stopped
    (``SIGSTOP``), so that whichever it takes first on ``SIGCONT``, the telegram read by its
    loop or the signal, the reload comes within the telegram's quiet however busy the host
    (no time limit to keep). ``/metrics`` shows the restarted sensor's channels with the
    telegram's values (the edited field's 3125.397), no parse error. Fails when the reload
    drops the telegram (no reading of the sensor within 10 s)."""
    daemon = start_daemon(config=sensor_toml("m", pty_pair.path, BODY))
    daemon.wait_http()
    wait_for(lambda: daemon.status()["sensors"]["m"]["state"] != "opening", 5, "port open")
    assert daemon.config_path is not None
    write_atomically(daemon.config_path, sensor_toml("m", pty_pair.path, EDITED))
    reloads = daemon.status()["config_reloads"]
    with held_stopped(daemon.pid):
        pty_pair.write(end_lost(KAMSTRUP_162))
        daemon.signal(signal.SIGHUP)
    wait_for(lambda: daemon.status()["config_reloads"] > reloads, 10, "the reload counted")
    assert daemon.status()["config_last_reload_sensors"]["restarted"] == ["m"]

    def value(channel: str) -> float:
        return daemon.scrape().get("sensord_reading_value", -1.0, sensor="m", channel=channel)

    wait_for(lambda: value("power_kw") != -1.0, 10, "the telegram's readings")
    assert (value("imported_t1_kwh"), value("power_kw")) == (7041.882, 3125.397)
    assert sum(daemon.status()["sensors"]["m"]["parse_errors"].values()) == 0


#: The Kamstrup's telegram read as ``key(value)`` lines in checked DSMR telegrams
#: (``parse.block = "dsmr"``, as :mod:`test_blocks` reads DSMR 5 with format kv)
KV_BODY = """
format = "kv"
serial = { baudrate = 300 }
stale_after_s = 30
parse = { block = "dsmr", kv_separator = "(", pair_separator = ")", units = ["*kWh", "*kW"] }
channels = [
  { name = "imported_t1_kwh", field = "1-0:1.8.1" }, { name = "power_kw", field = "1-0:1.7.0" },
]
"""


def test_a_reload_that_restarts_a_kv_sensor_of_dsmr_telegrams_hands_its_whole_telegram_over(
    pty_pair: PtyPair,
) -> None:
    """A sensor of format kv that reads its lines in DSMR telegrams (``parse.block``) holds
    the telegram whole at its ``!`` as one of format dsmr does: a reload within the quiet
    that edits a channel's field hands it to the new sensor. Fails when the reload hands
    over only the telegrams of sensors of format dsmr (the new sensor has no reading)."""
    daemon = daemon_in_process(parse_config(sensor_toml("m", pty_pair.path, KV_BODY)))
    try:
        held_whole(daemon, pty_pair)
        edited = KV_BODY.replace('field = "1-0:1.7.0"', 'field = "1-0:2.8.1"')
        daemon.apply(parse_config(sensor_toml("m", pty_pair.path, edited)))
        new = daemon.reader.sensors["m"]
        assert values(new) == READ_EDITED
    finally:
        daemon.reader.close()


def test_a_reload_of_a_kv_sensor_onto_another_kind_of_block_reads_the_telegram_itself(
    pty_pair: PtyPair,
) -> None:
    """The same port and format, but blocks of another kind after the reload (VE.Direct's):
    the telegram, framed as a DSMR one, is read by the stopped sensor's channels, not handed
    to a sensor whose framer would not have cut it. Fails when only port and format are
    compared (the new sensor reads the DSMR telegram)."""
    daemon = daemon_in_process(parse_config(sensor_toml("m", pty_pair.path, KV_BODY)))
    try:
        held_whole(daemon, pty_pair)
        old = daemon.reader.sensors["m"]
        vedirect = KV_BODY.replace('block = "dsmr"', 'block = "vedirect"')
        daemon.apply(parse_config(sensor_toml("m", pty_pair.path, vedirect)))
        assert readings(daemon.reader.sensors["m"]) == {}
        assert values(old) == READ
    finally:
        daemon.reader.close()


def test_a_reload_onto_a_simulation_of_the_port_reads_the_held_telegram_with_the_old_channels(
    pty_pair: PtyPair,
) -> None:
    """A reload within the quiet that keeps the port and format but makes the sensor read a
    simulation (``simulate = "always"``): the meter's telegram is read by the stopped
    sensor's channels, as at its port's close, never published as the simulated sensor's.
    Fails when the telegram is handed to the simulated sensor (its readings the meter's)."""
    daemon = daemon_in_process(parse_config(sensor_toml("m", pty_pair.path, BODY)))
    try:
        held_whole(daemon, pty_pair)
        old = daemon.reader.sensors["m"]
        simulated = sensor_toml("m", pty_pair.path, BODY).replace('"never"', '"always"')
        daemon.apply(parse_config(simulated))
        new = daemon.reader.sensors["m"]
        assert new.simulated
        assert readings(new) == {}
        assert new.framer.frames == 0
        assert values(old) == READ
    finally:
        daemon.reader.close()


@pytest.mark.parametrize("end", ["whole", "end_lost"])
def test_telegrams_the_reload_reads_from_the_port_s_buffer_are_the_new_sensor_s(
    pty_pair: PtyPair, end: str
) -> None:
    """Two telegrams of the meter in the port's buffer when the reload comes (the loop not
    run meanwhile): the first whole with its CR LF, which its framer takes at once, the
    second whole, or its CR LF lost. Every telegram the reload reads of the port is read by
    the sensor that replaces the stopped one: its channels have the second's values, its
    window both, its frames counter both telegrams' data sets; the stopped sensor has none.
    Fails when the telegrams the reload's read takes whole go to the stopped sensor's
    channels (the new sensor's window then holds one telegram, or none)."""
    second = KAMSTRUP_162.replace(b"07041.882", b"07042.001")
    data = KAMSTRUP_162 + (second if end == "whole" else end_lost(second))
    daemon = daemon_in_process(parse_config(sensor_toml("m", pty_pair.path, BODY)))
    try:
        old, new = reloaded_over_buffered_bytes(daemon, pty_pair, data)
        assert readings(old) == {}
        assert old.framer.frames == 0
        got = readings(new)
        assert {ch: r.value for ch, r in got.items()} == {
            "imported_t1_kwh": 7042.001,
            "power_kw": 3125.397,
        }
        samples = {ch.name: ch.stats.count for ch in new.snapshot().channels if ch.stats}
        assert samples == {"imported_t1_kwh": 2, "power_kw": 2}
        assert new.framer.frames == 2 * (len(KAMSTRUP_162.splitlines()) - 3)
        assert sum(new.snapshot().parse_errors.values()) == 0
    finally:
        daemon.reader.close()


def test_a_reload_whose_read_of_the_port_fails_still_hands_the_held_telegram_over(
    pty_pair: PtyPair,
) -> None:
    """The meter's adapter unplugged after the telegram came whole at its ``!`` and before
    the reload (the pty's master closed: the reload's read of the port fails with ``EIO``):
    the reload applies whole, and the telegram the sensor held is the new sensor's. Fails
    when the failed read ends the reload (``Daemon.apply`` raises) or drops the telegram."""
    daemon = daemon_in_process(parse_config(sensor_toml("m", pty_pair.path, BODY)))
    try:
        held_whole(daemon, pty_pair)
        pty_pair.close_master()
        assert daemon.apply(parse_config(sensor_toml("m", pty_pair.path, EDITED))) == []
        new = daemon.reader.sensors["m"]
        assert values(new) == READ_EDITED
    finally:
        daemon.reader.close()


#: the link a reload names the meter's port by in place of its device, or the reverse
RENAMED = ["to_its_link", "from_its_link"]


def renamed_paths(pair: PtyPair, directory: Path, renamed: str) -> tuple[str, str]:
    """The port before the reload and after it: ``pair``'s device and a link to it in
    ``directory`` (as a ``/dev/serial/by-id/...`` link names ``/dev/ttyUSB0``), in the order
    ``renamed`` says."""
    link = directory / "usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"
    link.symlink_to(pair.path)
    if renamed == "from_its_link":
        return str(link), pair.path
    return pair.path, str(link)


@pytest.mark.parametrize("renamed", RENAMED)
def test_a_reload_that_names_the_device_by_another_path_hands_the_telegram_over(
    pty_pair: PtyPair, tmp_path: Path, renamed: str
) -> None:
    """The reload names the meter's port by a link to it where it named the device, or the
    reverse, a channel's field edited: the paths resolve to one device, so the telegram held
    whole at its ``!`` is the new sensor's. Fails when the sensors are matched by their
    port's text (the new sensor has no reading, the stopped one has the telegram's)."""
    before, after = renamed_paths(pty_pair, tmp_path, renamed)
    daemon = daemon_in_process(parse_config(sensor_toml("m", before, BODY)))
    try:
        held_whole(daemon, pty_pair)
        old = daemon.reader.sensors["m"]
        daemon.apply(parse_config(sensor_toml("m", after, EDITED)))
        new = daemon.reader.sensors["m"]
        assert new is not old
        assert {ch: r.value for ch, r in readings(new).items()} == {
            "imported_t1_kwh": 7041.882,
            "power_kw": 3125.397,
        }
        assert readings(old) == {}
        assert new.framer.frames == len(KAMSTRUP_162.splitlines()) - 3
    finally:
        daemon.reader.close()


@pytest.mark.parametrize("renamed", RENAMED)
def test_a_reload_that_names_the_device_by_another_path_goes_on_with_its_warm_up(
    pty_pair: PtyPair, tmp_path: Path, renamed: str
) -> None:
    """The meter's sensor warms up for 30 s after its port opened (``warmup_s``): a reload
    that names the port by a link to the device, or the reverse, and edits a channel, goes
    on with the warm-up under way to its end, the device powered all along; it does not
    start it over at the new sensor's open. Fails when the sensors are matched by their
    port's text (the new sensor's warm-up ends 30 s after its own open)."""
    before, after = renamed_paths(pty_pair, tmp_path, renamed)
    warm = BODY.replace("stale_after_s", "warmup_s = 30\nstale_after_s")
    daemon = daemon_in_process(parse_config(sensor_toml("m", before, warm)))
    try:
        old = daemon.reader.sensors["m"]
        run_reader_until(daemon.reader, lambda: old.source is not None, 5.0)
        warming_until = old._warm.until
        assert warming_until > time.monotonic()
        edited = warm.replace('"power_kw", field = "1-0:1.7.0"', '"power_kw", field = "1-0:2.8.1"')
        daemon.apply(parse_config(sensor_toml("m", after, edited)))
        new = daemon.reader.sensors["m"]
        run_reader_until(daemon.reader, lambda: new.source is not None, 5.0)
        assert new._warm.until == warming_until
    finally:
        daemon.reader.close()


def test_a_telegram_the_reload_s_read_rejects_is_counted_and_told_as_the_new_sensor_s(
    pty_pair: PtyPair,
) -> None:
    """In the port's buffer when the reload comes: a telegram cut short after its fourth line
    (the meter's bytes lost on the line, the next telegram's ``/`` right after them), then a
    whole one. The reload reads both before the sensor stops and renames it: the whole one is
    the new sensor's, and so is the rejection of the one cut short, ``truncated`` for its lines
    in the new sensor's parse errors and its ``frame rejected`` line in the new sensor's name;
    the stopped sensor, whose counters go with it, counts none. Fails when the rejection stays
    the stopped sensor's (the new sensor's parse errors {} and the line in the old name)."""
    cut = KAMSTRUP_162[: KAMSTRUP_162.index(b"1-0:2.8.1")]
    data = cut + KAMSTRUP_162
    daemon = daemon_in_process(parse_config(sensor_toml("m", pty_pair.path, BODY)))
    try:
        old = daemon.reader.sensors["m"]
        run_reader_until(daemon.reader, lambda: old.source is not None, 5.0)
        pty_pair.write(data)
        wait_for(lambda: pty_pair.queued_bytes() == len(data), 5, "the bytes in the buffer")
        with capture_logs() as logs:
            daemon.apply(parse_config(sensor_toml("renamed", pty_pair.path, BODY)))
        new = daemon.reader.sensors["renamed"]
        assert old.bytes_read == len(data)
        assert {ch: r.value for ch, r in readings(new).items()} == {
            "imported_t1_kwh": 7041.882,
            "power_kw": 0.54,
        }
        lost = cut.count(b"(")  # its data lines: 0-0:96.1.1, 1-0:1.8.1 and 1-0:1.8.2
        errors = {k: n for k, n in new.snapshot().parse_errors.items() if n}
        assert errors == {"truncated": lost}
        assert sum(old.snapshot().parse_errors.values()) == 0
        [told] = [e for e in logs if e["event"] == "frame rejected"]
        assert (told["sensor"], told["reason"]) == ("renamed", "truncated")
    finally:
        daemon.reader.close()
