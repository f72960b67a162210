"""An SDI-12 sensor read through a USB SDI-12 adapter: the README's TEROS 12 example on a real
pty, against a model of the adapter and the sensor.

Where the bytes come from:

* the adapter (Dr. Liu's SDI-12 USB adapter, liudresllc.com): 9600 baud 8N1, a command is
  typed without Enter and not echoed ("no local echo", its troubleshooting page), each line
  a sensor sends is passed on with CR LF, and the service request comes as a line of its own
  (``zM!`` is answered ``z0014\\r\\nz\\r\\n``, its page on the analog adapter); its own Python
  logger writes ``0M!``, reads the ``atttn`` line, then the service request line, then
  ``0D0!``, and takes a readline that times out for a sensor that did not answer;
* the SDI-12 replies: ``atttn`` and the service request ``a`` after ``ttt`` s (Sommer's
  SDI-12 manual: ``0M!`` answered ``00084`` and ``0`` 8 s later, ``0D0!`` answered
  ``0+2591+706+25.53+0``);
* the TEROS 12's ``aD0!`` reply ``0+1846.16+22.3+1`` (raw VWC counts, temperature, bulk EC;
  jlab-sensing/ENTS-node-firmware, ``stm32/lib/sdi12/include/teros12.h``, "example real world
  values"; its measurement took 130 ms there); the error values -9999, -9992 and -9991 and
  the mineral soil calibration 3.879e-4 * counts - 0.6956 are METER's (TEROS 11/12 manual,
  as quoted by the same firmware and by Arduino sketches for the sensor).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from harness.pty import PtyPair, wait_readable
from structlog.testing import capture_logs
from test_frames_commands import Clock, read_all, sensor_config

from sensord.cli import main
from sensord.config import Config
from sensord.formats import codec_for
from sensord.formats.line_checksums import sdi12_crc
from sensord.rejects import sdi12_no_values
from sensord.sensor import SensorRuntime

REPO = Path(__file__).resolve().parent.parent


def readme_sensor(name: str) -> dict[str, Any]:
    """The README's ``[[sensors]]`` table named ``name``."""
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"^```toml\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    [table] = [t for b in blocks for t in tomllib.loads(b).get("sensors", []) if t["name"] == name]
    return dict(table)


@dataclass
class Adapter:
    """The adapter with a TEROS 12 at address 0: what it sends back for a command, each line
    with its delay after the command. ``replies`` replaces the data reply of the ``aD0!`` of
    that number (from 0); ``silent`` is a sensor that answers nothing (its cable cut)."""

    replies: dict[int, bytes] = field(default_factory=dict)
    silent: bool = False
    data_requests: int = 0
    #: a sensor that reports no values for ``0M!``: ``00000`` (0 s, 0 values, so no service
    #: request), and its ``0D0!`` answered with the address alone
    no_values: bool = False

    def answer(self, command: bytes) -> list[tuple[float, bytes]]:
        if self.silent or not command.startswith(b"0"):
            return []  # no sensor at that address: the adapter passes on nothing
        if self.no_values:
            return {b"0M!": [(0.05, b"00000\r\n")], b"0D0!": [(0.05, b"0\r\n")]}.get(command, [])
        if command == b"0M!":
            # ttt = 001, 3 values; the service request once measured (some 130 ms)
            return [(0.05, b"00013\r\n"), (0.2, b"0\r\n")]
        if command == b"0D0!":
            n = self.data_requests
            self.data_requests += 1
            default = f"0+{1846.16 + n:.2f}+22.3+{1 + n}".encode()
            return [(0.15, self.replies.get(n, default) + b"\r\n")]
        return []


def written(pair: PtyPair) -> bytes:
    assert pair.master_fd is not None
    data = b""
    while wait_readable(pair.master_fd, 0.05):
        data += os.read(pair.master_fd, 256)
    return data


def poll(rt: SensorRuntime, pair: PtyPair, clock: Clock, adapter: Adapter, times: int) -> None:
    """``times`` polls, each answered by ``adapter`` as its lines come, in injected time."""
    for _ in range(times):
        due = rt.next_deadline()
        assert due is not None
        clock.now = max(clock.now, due)
        rt.tick(clock.now)
        sent_at = clock.now
        for delay, line in adapter.answer(written(pair)):
            clock.now = sent_at + delay
            pair.write(line)
            read_all(rt, len(line))


def teros12_on(pair: PtyPair, clock: Clock) -> SensorRuntime:
    table = readme_sensor("soil_east") | {"port": pair.path, "simulate": "never"}
    rt = SensorRuntime(sensor_config(table), clock=clock, wall_clock=clock, rng=random.Random(1))
    assert rt.try_open()
    return rt


def test_the_readme_teros12_is_measured_and_fetched_in_turn() -> None:
    """Three cycles of ``0M!`` then ``0D0!``: the requests go out in turn, an interval apart,
    the acknowledgement and the service request of each ``0M!`` are ignored frames, not
    errors, and each data line gives the three values."""
    clock = Clock()
    adapter = Adapter()
    sent: list[tuple[float, bytes]] = []
    with PtyPair() as pair:
        rt = teros12_on(pair, clock)
        for _ in range(6):
            due = rt.next_deadline()
            assert due is not None
            clock.now = max(clock.now, due)
            rt.tick(clock.now)
            request = written(pair)
            sent.append((clock.now, request))
            start = clock.now
            for delay, line in adapter.answer(request):
                clock.now = start + delay
                pair.write(line)
                read_all(rt, len(line))
        [vwc, temperature, ec] = [c.stats for c in rt.snapshot().channels]
        state = rt.state
        rt.stop()
    assert [request for _, request in sent] == [b"0M!", b"0D0!"] * 3
    assert [round(b[0] - a[0], 3) for a, b in itertools.pairwise(sent)] == [5.0] * 5
    assert state == "up"
    assert vwc is not None
    assert temperature is not None
    assert ec is not None
    assert vwc.count == temperature.count == ec.count == 3
    assert vwc.reading.value == pytest.approx(3.879e-4 * 1848.16 - 0.6956)
    assert (temperature.reading.value, ec.reading.value) == (22.3, 3.0)
    assert rt.ignored == 6  # 00013 and 0, three times
    assert sum(rt.parse_errors.values()) == 0
    assert rt.poll_timeouts == 0
    assert rt.framer.skipped_bytes == 0


def test_a_failed_value_a_short_reply_and_a_damaged_one() -> None:
    """-9999 in place of the temperature drops that value alone (``invalid``); a reply cut
    short and one with damaged signs are ``syntax``; the replies after them are read."""
    clock = Clock()
    adapter = Adapter(replies={0: b"0+1846.16-9999+0", 1: b"0+1849.16", 2: b"0#1850.16#21.9+124"})
    with PtyPair() as pair:
        rt = teros12_on(pair, clock)
        poll(rt, pair, clock, adapter, 8)
        [vwc, temperature, ec] = [c.stats for c in rt.snapshot().channels]
        rt.stop()
    assert vwc is not None
    assert temperature is not None
    assert ec is not None
    assert (vwc.count, temperature.count, ec.count) == (2, 1, 2)
    assert temperature.reading.value == 22.3
    assert rt.parse_errors["invalid"] == 1
    assert rt.parse_errors["syntax"] == 2
    assert rt.ignored == 8


def test_a_sensor_that_does_not_answer_times_its_polls_out() -> None:
    """The adapter passes on nothing for a sensor that does not answer: every request is a
    poll timeout, counted when the next one is written, and the sensor reads nothing."""
    clock = Clock()
    with PtyPair() as pair:
        rt = teros12_on(pair, clock)
        poll(rt, pair, clock, Adapter(silent=True), 5)
        channels = [c.stats for c in rt.snapshot().channels]
        rt.stop()
    assert rt.poll_timeouts == 4
    assert channels == [None, None, None]
    assert rt.ignored == 0


def test_a_sensor_that_reports_no_values_for_its_measurement_is_named_with_its_reply() -> None:
    """A sensor that answers ``0M!`` with ``00000`` (no values for that measurement: a
    Campbell RainVUE10 under the EnviroDIY d_simple_logger printed such a measurement as
    "0, 0, 0", address, seconds and values; EnviroDIY/ModularSensors issue 416) and so its
    ``0D0!`` with its address alone: every line is one ``parse.ignore`` names, and the hint
    and its warning name the sensor, the command, its reply and what ``00000`` means, and
    the commands to ask instead."""
    clock = Clock()
    with PtyPair() as pair, capture_logs() as logs:
        rt = teros12_on(pair, clock)
        poll(rt, pair, clock, Adapter(no_values=True), 10)
        hint = rt.snapshot().hint
        rt.stop()
    assert rt.ignored == 10  # 00000 and 0, five times
    assert sum(rt.parse_errors.values()) == 0
    assert hint is not None
    assert hint.startswith(
        "frames come, but parse.ignore names every one (9 in 45.0 s), so no reading: the SDI-12 sensor at address 0 answers 0M! with '00000': the sensor reports no values "
        "for that measurement (0 values, ready in 0 s), so the 0D0! after it gets the address "
        "alone"
    ), hint
    assert "0M1! to 0M9!" in hint, hint
    assert "0C!" in hint, hint
    assert "0R0!" in hint, hint
    [told] = [e for e in logs if e["event"] == "no reading: every frame ignored by parse.ignore"]
    assert "the SDI-12 sensor at address 0 answers 0M! with '00000'" in told["hint"], told


def test_lines_all_ignored_that_are_no_sdi12_reply_of_no_values_get_the_plain_hint() -> None:
    """The hint names SDI-12 only for a reply of no values to a measurement command the
    sensor writes, at the address that answers."""
    asked = [b"0M!", b"0D0!"]
    assert sdi12_no_values(b"00000", asked) is not None
    assert sdi12_no_values(b"000000", [b"0C!", b"0D0!"]) is not None  # aC!: atttnn
    assert sdi12_no_values(b"00013", asked) is None  # 3 values: they come
    assert sdi12_no_values(b"10000", asked) is None  # another address than asked
    assert sdi12_no_values(b"00000", [b"0R0!"]) is None  # no measurement command asked
    assert sdi12_no_values(b"0", asked) is None


def test_two_sdi12_sensors_cannot_share_one_adapter_as_two_sensors() -> None:
    """A second sensor at address 1 on the same adapter named as a sensor of its own names
    the same port: refused (the README reads both as one sensor instead)."""
    table = readme_sensor("soil_east")
    second = (
        table
        | {"name": "river_level", "poll": {"request": ["1M!", "1D0!"], "interval_s": 5}}
        | {
            "parse": {
                "pattern": r"^1(?P<stage>[+-][0-9.]+)(?P<temperature>[+-][0-9.]+)$",
                "example": "1+1.234+12.5",
                "ignore": ["^1$", "^1[0-9]{4}$"],
            },
            "channels": [
                {"name": "stage_m", "field": "stage"},
                {"name": "t", "field": "temperature"},
            ],
        }
    )
    errors: list[str] = []
    assert Config.load({"sensors": [table, second]}, "", errors) is None
    assert any("two sensors cannot share one port" in e for e in errors), errors


@dataclass
class TwoSensors(Adapter):
    """The adapter with the TEROS 12 at address 0 and a level sensor at address 1 (stage in
    metres, water temperature; measured in 2 s); ``level_silent``: its cable cut."""

    level_silent: bool = False
    level_requests: int = 0

    def answer(self, command: bytes) -> list[tuple[float, bytes]]:
        if not command.startswith(b"1"):
            return super().answer(command)
        if self.level_silent:
            return []
        if command == b"1M!":
            return [(0.05, b"10022\r\n"), (2.0, b"1\r\n")]
        if command == b"1D0!":
            n = self.level_requests
            self.level_requests += 1
            return [(0.15, f"1+{1.234 + n / 100:.3f}+12.5\r\n".encode())]
        return []


def station_on(pair: PtyPair, clock: Clock) -> SensorRuntime:
    table = readme_sensor("station_sdi12") | {"port": pair.path, "simulate": "never"}
    rt = SensorRuntime(sensor_config(table), clock=clock, wall_clock=clock, rng=random.Random(1))
    assert rt.try_open()
    return rt


def values_of(rt: SensorRuntime) -> dict[str, float | None]:
    return {
        c.name: None if c.stats is None else round(c.stats.reading.value, 4)
        for c in rt.snapshot().channels
    }


def test_the_readme_s_two_sensors_on_one_adapter_are_read_in_turn() -> None:
    """Both addresses asked in turn: each data line gives its sensor's channels, the
    acknowledgements and service requests of both are ignored, nothing is an error."""
    clock = Clock()
    with PtyPair() as pair:
        rt = station_on(pair, clock)
        poll(rt, pair, clock, TwoSensors(), 8)
        values = values_of(rt)
        rt.stop()
    assert values == {
        "soil_vwc": round(3.879e-4 * 1847.16 - 0.6956, 4),
        "soil_temperature_celsius": 22.3,
        "soil_ec_us_per_cm": 2.0,
        "stage_metres": 1.244,
        "water_temperature_celsius": 12.5,
    }
    assert rt.ignored == 8  # each sensor's acknowledgement and service request, twice
    assert sum(rt.parse_errors.values()) == 0
    assert rt.poll_timeouts == 0


def test_a_silent_sensor_on_a_shared_adapter_is_named_while_the_other_is_read() -> None:
    clock = Clock()
    with PtyPair() as pair:
        rt = station_on(pair, clock)
        poll(rt, pair, clock, TwoSensors(level_silent=True), 16)
        values = values_of(rt)
        hint = rt.snapshot().hint
        rt.stop()
    assert values["soil_temperature_celsius"] == 22.3
    assert values["stage_metres"] is None
    assert rt.poll_timeouts >= 7
    assert hint is not None
    assert "but not 1M!" in hint, hint
    assert "1D0!" in hint, hint


def test_the_simulated_station_sends_a_line_of_each_kind() -> None:
    """The simulator writes both examples' lines with the channels' values, and the sensor
    reads each channel from its own line."""
    spec = sensor_config(readme_sensor("station_sdi12")).format_spec()
    codec = codec_for("value")
    lines = codec.encoder(spec)(
        {
            "vwc": 1900.5,
            "soil_temperature": 18.0,
            "ec": 7.0,
            "stage": 0.5,
            "water_temperature": 9.5,
        },
        0.0,
    )
    assert lines == [b"0+1900.50+18.0+7", b"1+0.500+9.5"]
    decode = codec.decoder(spec)
    assert [decode(line) for line in lines] == [
        [("soil_vwc", 1900.5), ("soil_temperature_celsius", 18.0), ("soil_ec_us_per_cm", 7.0)],
        [("stage_metres", 0.5), ("water_temperature_celsius", 9.5)],
    ]


def test_check_shows_the_requests_in_turn_and_when_the_station_is_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sensord check`` lists what the polls write, in turn, and the stale timeout the four
    requests make (three rounds of 4 x 5 s)."""
    table = readme_sensor("station_sdi12") | {"port": str(tmp_path / "adapter")}
    lines = ["[[sensors]]"]
    lines += [f"{key} = {_toml(value)}" for key, value in table.items()]
    path = tmp_path / "sensord.toml"
    path.write_text("\n".join(lines) + "\n")
    main(["check", str(path)])
    out = capsys.readouterr().out
    assert "poll writes: '0M!' then '0D0!' then '1M!' then '1D0!'; stale after 60 s" in out, out


def _toml(value: Any) -> str:
    """``value`` as a TOML value (a string as a JSON string, which TOML reads alike)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return repr(value)


@dataclass
class CrcAdapter(Adapter):
    """The adapter with the TEROS 12 asked with ``0MC!``: the same ``atttn`` reply and service
    request, no CRC on either (SDI-12 1.4 section 4.4.12), and its ``0D0!`` reply with the
    CRC of the line before it (section 4.4.12.2); ``damaged`` are the numbers of the replies
    whose value a bit on the bus changed after the sensor computed its CRC."""

    damaged: tuple[int, ...] = ()

    def answer(self, command: bytes) -> list[tuple[float, bytes]]:
        if command == b"0MC!":
            return super().answer(b"0M!")
        if command != b"0D0!":
            return super().answer(command)
        n = self.data_requests
        [(delay, line)] = super().answer(command)
        body = line.removesuffix(b"\r\n")
        sent = body + sdi12_crc(body)
        if n in self.damaged:
            sent = sent.replace(b"+22.3", b"+22.7")
        return [(delay, sent + b"\r\n")]


def test_the_readme_teros12_asked_with_amc_checks_each_reply_s_crc() -> None:
    """``0MC!`` then ``0D0!``: each data line is read without its CRC, the one whose
    temperature changed on the bus is rejected as ``checksum`` and its neighbours are read;
    the replies without CRC to ``0MC!`` are ignored, as with ``0M!``."""
    clock = Clock()
    adapter = CrcAdapter(damaged=(1,))
    with PtyPair() as pair:
        table = readme_sensor("soil_west") | {"port": pair.path, "simulate": "never"}
        rt = SensorRuntime(
            sensor_config(table), clock=clock, wall_clock=clock, rng=random.Random(1)
        )
        assert rt.try_open()
        poll(rt, pair, clock, adapter, 6)
        [vwc, temperature, ec] = [c.stats for c in rt.snapshot().channels]
        rt.stop()
    assert vwc is not None
    assert temperature is not None
    assert ec is not None
    assert (vwc.count, temperature.count, ec.count) == (2, 2, 2)
    assert temperature.max == temperature.min == 22.3  # never the damaged 22.7
    assert vwc.reading.value == pytest.approx(3.879e-4 * 1848.16 - 0.6956)
    assert ec.reading.value == 3.0
    assert rt.parse_errors["checksum"] == 1
    assert sum(rt.parse_errors.values()) == 1
    assert rt.ignored == 6


def test_a_sensor_asked_without_crc_while_one_is_checked_is_pointed_at_parse_checksum() -> None:
    """The README's TEROS 12 polled with ``0M!`` but configured with ``parse.checksum =
    "sdi12"``: every data line comes without a CRC, so no reading, and once that has lasted
    ``stale_after`` the hint says which key to change."""
    clock = Clock()
    with PtyPair() as pair:
        table = readme_sensor("soil_east") | {"port": pair.path, "simulate": "never"}
        table["parse"] = {**table["parse"], "checksum": "sdi12"}
        rt = SensorRuntime(
            sensor_config(table), clock=clock, wall_clock=clock, rng=random.Random(1)
        )
        assert rt.try_open()
        poll(rt, pair, clock, Adapter(), 12)
        rt.tick(clock.now)
        snapshot = rt.snapshot()
        rt.stop()
    assert all(c.stats is None for c in snapshot.channels)
    assert rt.parse_errors["no_checksum"] == 6
    assert snapshot.hint is not None
    assert snapshot.hint.startswith("frames come, but every one is rejected (no_checksum "), (
        snapshot.hint
    )
    assert "check the device's output against parse.checksum" in snapshot.hint
    assert "aMC!" in snapshot.hint


@dataclass
class ConcurrentCrcAdapter(CrcAdapter):
    """The TEROS 12 asked with ``0CC!``: a concurrent measurement, answered ``atttnn`` (two
    digits for the count) and followed by no service request; ``0D0!`` after ``ttt`` gets
    the values with their CRC (Campbell Scientific's HygroVUE5 manual, "Start concurrent
    measurement commands (aC!)", help.campbellsci.com/hygrovue5/shared/sdi-12-sensor-support/
    start-concurrent-measurement-commands.htm: ``XC!`` answered ``X03005``, "The sensor will
    not issue a service request"; the same of ``aCC!`` with the CRC on the data)."""

    def answer(self, command: bytes) -> list[tuple[float, bytes]]:
        if command == b"0CC!":
            return [(0.05, b"000103\r\n")]
        return super().answer(command)


def test_the_readme_teros12_asked_with_acc_ignores_its_atttnn_reply() -> None:
    """The README's ``soil_west`` polled with ``0CC!``, as it says it may be: the ``atttnn``
    reply is ignored like the ``atttn`` of ``0MC!``, not rejected as a line without CRC, and
    every data line is read."""
    clock = Clock()
    with PtyPair() as pair:
        table = readme_sensor("soil_west") | {"port": pair.path, "simulate": "never"}
        table["poll"] = {**table["poll"], "request": ["0CC!", "0D0!"]}
        rt = SensorRuntime(
            sensor_config(table), clock=clock, wall_clock=clock, rng=random.Random(1)
        )
        assert rt.try_open()
        poll(rt, pair, clock, ConcurrentCrcAdapter(), 6)
        [vwc, temperature, ec] = [c.stats for c in rt.snapshot().channels]
        rt.stop()
    assert vwc is not None
    assert temperature is not None
    assert ec is not None
    assert (vwc.count, temperature.count, ec.count) == (3, 3, 3)
    assert ec.reading.value == 3.0
    assert rt.ignored == 3
    assert sum(rt.parse_errors.values()) == 0
    assert rt.poll_timeouts == 0


@dataclass
class LastCharacterLost(CrcAdapter):
    """The adapter with the TEROS 12 asked with ``0MC!`` that now and then misses the last
    character of a reply, the third of its CRC (Arduino-SDI-12 issue 160,
    github.com/EnviroDIY/Arduino-SDI-12/issues/160: "sometimes the last character in the
    response is missing, i.e. the last character in the CRC. The first 2 characters in the
    CRC are correct", with a TEROS 21 among the sensors); ``cut`` are the numbers of those
    replies."""

    cut: tuple[int, ...] = ()

    def answer(self, command: bytes) -> list[tuple[float, bytes]]:
        n = self.data_requests
        replies = super().answer(command)
        if command != b"0D0!" or n not in self.cut:
            return replies
        [(delay, line)] = replies
        return [(delay, line.removesuffix(b"\r\n")[:-1] + b"\r\n")]


def test_a_reply_whose_crc_lost_its_last_character_is_truncated_not_without_crc() -> None:
    """The README's ``soil_west``: a data line that lost its CRC's last character is rejected
    as ``truncated`` (bytes lost on the way), not as ``no_checksum``, the reason that says the
    sensor sends no CRC at all; its neighbours are read."""
    clock = Clock()
    with PtyPair() as pair:
        table = readme_sensor("soil_west") | {"port": pair.path, "simulate": "never"}
        rt = SensorRuntime(
            sensor_config(table), clock=clock, wall_clock=clock, rng=random.Random(1)
        )
        assert rt.try_open()
        poll(rt, pair, clock, LastCharacterLost(cut=(1,)), 6)
        [vwc, temperature, ec] = [c.stats for c in rt.snapshot().channels]
        rt.stop()
    assert vwc is not None
    assert temperature is not None
    assert ec is not None
    assert (vwc.count, temperature.count, ec.count) == (2, 2, 2)
    assert ec.reading.value == 3.0
    assert rt.parse_errors["truncated"] == 1
    assert rt.parse_errors["no_checksum"] == 0
    assert sum(rt.parse_errors.values()) == 1
    assert rt.ignored == 6


def rejections_logged(table: dict[str, Any], adapter: Adapter, polls: int) -> list[str]:
    """The details of the ``frame rejected`` warnings of the README sensor ``table`` polled
    ``polls`` times on a real pty, ``adapter`` answering."""
    clock = Clock()
    with PtyPair() as pair:
        table = table | {"port": pair.path, "simulate": "never"}
        rt = SensorRuntime(
            sensor_config(table), clock=clock, wall_clock=clock, rng=random.Random(1)
        )
        assert rt.try_open()
        with capture_logs() as logs:
            poll(rt, pair, clock, adapter, polls)
        rt.stop()
    return [e["detail"] for e in logs if e["event"] == "frame rejected"]


def test_a_crc_the_sensor_sends_unasked_for_by_parse_checksum_is_named() -> None:
    """The README's ``soil_east`` polled with ``0MC!`` without ``parse.checksum``: every data
    line ends in its CRC, which the pattern does not take, so each is rejected as ``syntax``,
    and the warning says that the line ends in a CRC that ``parse.checksum = "sdi12"``
    checks; a damaged line without CRC is told as before."""
    table = readme_sensor("soil_east")
    table["poll"] = {**table["poll"], "request": ["0MC!", "0D0!"]}
    [detail] = rejections_logged(table, CrcAdapter(), 2)
    assert detail == (
        "pattern does not match; the line ends in a checksum that holds as parse.checksum = "
        "'sdi12' has it, which takes it off before the pattern sees the line"
    )
    damaged = Adapter(replies={0: b"0#1850.16#21.9+124"})
    assert rejections_logged(readme_sensor("soil_east"), damaged, 2) == ["pattern does not match"]


@dataclass
class RestartingAdapter(Adapter):
    """The adapter restarted by the open of its port: what is written in its first
    ``ready_s`` (its Arduino bootloader and its own start-up delay) is lost, as Dr. John
    Liu's "Simple SDI-12 Sensor Reader" 1.0 (2018-12-03, for "Dr. Liu's family of SDI-12 USB
    adapters", liudr.wordpress.com/gadget/sdi-12-usb-adapter/) has it: it opens the port,
    then ``time.sleep(2.5) # delay for arduino bootloader and the 1 second delay of the
    adapter.`` before it writes ``?!``. The sensor answers ``0!`` with its address; a ``0D0!``
    before any ``0M!`` since the open gets the values of its last measurement before it,
    which the sensor kept ("The data will be retained in the sensor until another "M", "C"
    or "V" command is executed", Xylem H-335 manual, "Concurrent Measure Command")."""

    clock: Clock = field(default_factory=Clock)
    ready_s: float = 2.5
    opened_at: float = 0.0
    measured: bool = False
    written: list[tuple[float, bytes]] = field(default_factory=list)

    def answer(self, command: bytes) -> list[tuple[float, bytes]]:
        self.written.append((round(self.clock.now - self.opened_at, 2), command))
        if self.clock.now < self.opened_at + self.ready_s:
            return []
        if command == b"0!":
            return [(0.03, b"0\r\n")]
        self.measured = self.measured or command == b"0M!"
        if command == b"0D0!" and not self.measured:
            return [(0.15, b"0+1700.00+18.0+5\r\n")]
        return super().answer(command)


def readme_acknowledge_setup() -> list[dict[str, str]]:
    """The set-up the README's SDI-12 section gives, read from its text."""
    text = (REPO / "README.md").read_text()
    [setup] = re.findall(r"`(setup = \[\{ send_text = '0!'.*?\])`", text)
    return list(tomllib.loads(setup)["setup"])


@pytest.mark.parametrize("acknowledged", [False, True], ids=["as_is", "with_its_setup"])
def test_an_adapter_restarted_by_the_open_gets_its_first_poll_once_it_answers(
    acknowledged: bool,
) -> None:
    """The README's ``soil_east`` on an adapter that the open restarts: as it is, its first
    ``0M!`` is lost (a poll timeout) and the first ``0D0!`` publishes the values of the
    measurement before the open (18.0 °C); with the set-up the README gives, the first
    ``0M!`` waits for the adapter's answer to ``0!``, and only fresh values are read."""
    clock = Clock()
    adapter = RestartingAdapter(clock=clock, opened_at=clock.now)
    with PtyPair() as pair:
        table = readme_sensor("soil_east") | {"port": pair.path, "simulate": "never"}
        if acknowledged:
            table["setup"] = readme_acknowledge_setup()
        rt = SensorRuntime(
            sensor_config(table), clock=clock, wall_clock=clock, rng=random.Random(1)
        )
        assert rt.try_open()
        poll(rt, pair, clock, adapter, 8)
        temperature = rt.snapshot().channels[1].stats
        rt.stop()
    assert temperature is not None
    if not acknowledged:
        assert adapter.written[0] == (0.0, b"0M!")
        assert (rt.poll_timeouts, temperature.min) == (1, 18.0)
        return
    assert adapter.written[:4] == [(0.0, b"0!"), (1.0, b"0!"), (3.0, b"0!"), (3.13, b"0M!")]
    assert rt.poll_timeouts == 0
    assert rt.setup_ack_errors == {"missing": 0, "wrong": 0}
    assert temperature.min == temperature.max == 22.3
    assert temperature.count == 2
    assert sum(rt.parse_errors.values()) == 0


def test_two_replies_of_the_same_number_of_values_cannot_be_told_apart() -> None:
    """A sensor that returns 8 values over ``aD0!`` and ``aD1!`` in two groups of 4 (Sommer's
    SDI-12 manual, USH-9 "Request results": "if a measurement returns 8 values in two groups
    of 4, the commands aD0! and aD1! need to be issued"; its ``0D0!`` reply
    ``0+2591+706+25.53+0``): a pattern with an alternative per reply reads both with the
    first, so the README's refusal holds, naming the second's first group; a second reply
    of another number of values is read by its own alternative."""

    def group(name: str) -> str:
        return f"(?P<{name}>[+-][0-9.]+)"

    def load(second: str, example: str) -> list[str]:
        first = "".join(group(n) for n in ("a", "b", "c", "d"))
        table = {
            "name": "snow",
            "port": "/dev/ttyUSB0",
            "format": "value",
            "terminator": "\r\n",
            "poll": {"request": ["0M!", "0D0!", "0D1!"], "interval_s": 10},
            "parse": {
                "pattern": f"^0(?:{first}|{second})$",
                "example": ["0+2591+706+25.53+0", example],
                "ignore": ["^0$", "^0[0-9]{4}$"],
            },
            "channels": [{"name": n, "field": n} for n in re.findall(r"<(\w)>", first + second)],
        }
        errors: list[str] = []
        Config.load({"sensors": [table]}, "", errors)
        return errors

    four = "".join(group(n) for n in ("e", "f", "g", "h"))
    assert load(four, "0+2600+705+25.50+1") == [
        "sensors[0].parse.example: group 'e' finds no number in any of its lines: give a "
        "line of each kind the device sends"
    ]
    assert load(group("e") + group("f"), "0+2600+705") == []


@dataclass
class RebootingAdapter(RestartingAdapter):
    """The restarting adapter over several opens of its port: each open (``reopen``)
    restarts it, and a ``0D0!`` before any ``0M!`` since then gets the last values the sensor
    sent again (those of the last measurement, which it kept), not a measurement of its own."""

    kept: bytes = b"0+1700.00+18.0+5\r\n"
    stale_replies: int = 0

    def reopen(self) -> None:
        self.opened_at = self.clock.now
        self.measured = False

    def answer(self, command: bytes) -> list[tuple[float, bytes]]:
        if self.clock.now >= self.opened_at + self.ready_s and command == b"0D0!":
            if not self.measured:
                self.written.append((round(self.clock.now - self.opened_at, 2), command))
                self.stale_replies += 1
                return [(0.15, self.kept)]
            replies = super().answer(command)
            self.kept = replies[-1][1]
            return replies
        return super().answer(command)


def readme_connect_delay() -> float:
    """The ``connect_delay_s`` the README's SDI-12 section gives, read from its text."""
    text = (REPO / "README.md").read_text()
    [delay] = re.findall(r"`connect_delay_s = ([0-9.]+)`", text)
    return float(delay)


@pytest.mark.parametrize("delayed", [False, True], ids=["as_is", "with_connect_delay"])
def test_an_adapter_restarted_by_each_open_is_first_polled_after_the_connect_delay(
    delayed: bool,
) -> None:
    """The README's ``soil_east`` on an adapter that every open restarts, opened, polled,
    then opened again (a reconnect): as it is, the first ``0M!`` of each open is lost (a poll
    timeout) and the ``0D0!`` after it publishes the sensor's kept values again; with the
    README's ``connect_delay_s``, the first ``0M!`` of each open goes out that long after
    it, is answered, and every value read is of a measurement of its own. What the adapter
    sends while the first poll waits (its start-up banner) is read meanwhile."""
    clock = Clock()
    adapter = RebootingAdapter(clock=clock, opened_at=clock.now)
    with PtyPair() as pair:
        table = readme_sensor("soil_east") | {"port": pair.path, "simulate": "never"}
        if delayed:
            table["connect_delay_s"] = readme_connect_delay()
        rt = SensorRuntime(
            sensor_config(table), clock=clock, wall_clock=clock, rng=random.Random(1)
        )
        assert rt.try_open()
        first_poll = rt.next_deadline()
        # the banner an Arduino sketch prints as it starts, before the first poll
        clock.now += 1.0
        pair.write(b"SDI-12 USB adapter\r\n")
        read_all(rt, 20)
        poll(rt, pair, clock, adapter, 6)
        rt.disconnect("read error")
        clock.now += 60.0
        assert rt.try_open()
        adapter.reopen()
        poll(rt, pair, clock, adapter, 6)
        ec = rt.snapshot().channels[2].stats
        syntax = rt.parse_errors["syntax"]
        rt.stop()
    assert ec is not None
    at_open = [(at, c) for at, c in adapter.written if c == b"0M!"][:1]
    if not delayed:
        assert first_poll == 1000.0
        assert adapter.stale_replies == 2  # one per open
        assert rt.poll_timeouts == 2
        assert ec.count == adapter.data_requests + 2
        return
    assert adapter.stale_replies == 0
    assert rt.poll_timeouts == 0
    assert ec.count == adapter.data_requests == 6
    assert first_poll == 1000.0 + readme_connect_delay()
    assert at_open == [(readme_connect_delay(), b"0M!")]
    assert adapter.written[-6][0] == readme_connect_delay()  # the reconnect's first 0M!
    assert syntax == 1  # the banner, read while the first poll waited


def test_check_refuses_a_connect_delay_that_holds_nothing_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sensord check`` shows a polled sensor's ``connect_delay_s``, and refuses one on a
    sensor that neither polls nor sets up (it writes nothing after the open), on a Modbus
    device (whose own is ``modbus.connect_delay_s``) and on a sensor whose stale time it
    reaches (stale at every open)."""
    polled = readme_sensor("soil_east") | {"port": str(tmp_path / "adapter")}
    polled["connect_delay_s"] = 2.5
    streaming = {k: v for k, v in polled.items() if k != "poll"} | {
        "name": "streaming",
        "port": str(tmp_path / "logger"),
    }
    modbus = {
        "name": "meter",
        "port": str(tmp_path / "rs485"),
        "format": "modbus",
        "connect_delay_s": 1.0,
        "registers": [{"name": "volts", "table": "input", "address": 0}],
        "channels": [{"name": "volts"}],
    }

    def check(*tables: dict[str, Any]) -> tuple[int, str]:
        lines = []
        for table in tables:
            lines.append("[[sensors]]")
            lines += [f"{key} = {_toml(value)}" for key, value in table.items()]
        path = tmp_path / "sensord.toml"
        path.write_text("\n".join(lines) + "\n")
        code = main(["check", "--no-devices", str(path)])
        out = capsys.readouterr()
        return code, out.out + out.err

    code, out = check(polled)
    assert code == 0, out
    assert "format=value polled every 5 s connect_delay=2.5 s " in out, out
    hasty = polled | {"name": "hasty", "port": str(tmp_path / "other"), "stale_after_s": 2.5}
    code, out = check(polled, streaming, modbus, hasty)
    assert code != 0
    assert "3 configuration errors" in out, out
    assert (
        "sensors[1].connect_delay_s (sensor 'streaming'): holds back the set-up commands and "
        "the first poll after each open, and this sensor has neither" in out
    ), out
    assert (
        "sensors[2].connect_delay_s (sensor 'meter'): is not used by format 'modbus' (see "
        "modbus.connect_delay_s)" in out
    ), out
    assert (
        "sensors[3].connect_delay_s (sensor 'hasty'): must be shorter than the sensor's stale "
        "time (2.5 s, stale_after_s): the sensor would go stale at every open before its first "
        "poll is answered" in out
    ), out
    with_setup = streaming | {"setup": [{"send_text": "0XS!"}]}
    code, out = check(with_setup)
    assert code == 0, out
