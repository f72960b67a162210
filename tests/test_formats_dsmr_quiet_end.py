"""A telegram whose end is its ``!`` alone (or its CRC's digits, or a readout's ``!`` line),
read when the line has been quiet after it, stamped when its last byte came.

A DSMR 2.2 or 3 telegram whose CR LF after its ``!`` was lost, one whose CRC came but not its
line end, and an IEC 62056-21 readout that sends no ETX and block check after its ``!`` line
hold nothing more that tells their end: the next bytes are the next telegram's, 10 s later
from a DSMR 2.2 meter (1 s from a DSMR 5 meter, a poll's period from a readout). The framer
takes such a telegram as ended once the line has been quiet for its ``quiet_s`` after the last
byte (``QUIET_SLACK_S`` and 16 character times at the port's speed), and its readings are
stamped with the time that byte came. A CRC that comes after its ``!`` in a piece of its own,
30 to 60 ms later (a USB adapter's pieces), is still checked: a telegram whose CRC has not come
is never read unchecked for a quiet line.

The telegrams:

* :data:`KAMSTRUP_162`: a Kamstrup 162's DSMR 2.2 telegram (origin in
  ``test_formats_dsmr_bare_end``: nielsbasjes/dsmr-tools' tests).
* ``V4_2``, ``V5``: ndokter/dsmr_parser's DSMR 4.2 and 5 telegrams (CRCs ``6796``, ``6EEE``;
  origin in :mod:`harness.dsmr_parser_telegrams`).
* :data:`ACE3000`: an Itron ACE3000's readout, ``!`` and CR LF and no ETX (origin in
  ``test_formats_dsmr_short_codes``: Apollon77/smartmeter-obis' tests).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import pytest
from harness.dsmr_parser_telegrams import V4_2, V5
from harness.modbus import run_reader_until
from harness.pty import PtyPair
from test_blocks import take, telegram_lines
from test_first_line import send
from test_formats_dsmr_bare_end import KAMSTRUP_162, end_lost
from test_formats_dsmr_short_codes import ACE3000

from sensord.config import parse_config
from sensord.formats.blocks import (
    QUIET_SLACK_S,
    READOUT_PAUSE_S,
    BlockFramer,
    quiet_after_end_s,
)
from sensord.reader import Reader
from sensord.sensor import SensorRuntime
from sensord.types import Reading


class Clocks:
    """A monotonic clock and a wall clock 10^9 s ahead of it, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now + 1e9


KAMSTRUP = """
format = "dsmr"
stale_after_s = 30
channels = [
  { name = "imported_t1_kwh", field = "1-0:1.8.1" }, { name = "power_kw", field = "1-0:1.7.0" },
]
"""

ACE = """
format = "dsmr"
serial = { baudrate = 300, bytesize = 7, parity = "E" }
stale_after_s = 60
channels = [{ name = "imported_kwh", field = "1.8.0" }, { name = "exported_kwh", field = "2.8.0" }]
"""


@contextlib.contextmanager
def opened(pair: PtyPair, clocks: Clocks, body: str) -> Iterator[SensorRuntime]:
    """A sensor of ``body`` on ``pair``'s port, opened at ``clocks``' time."""
    config = parse_config(
        f'[[sensors]]\nname = "s"\nport = "{pair.path}"\nsimulate = "never"\n{body}'
    ).sensors[0]
    runtime = SensorRuntime(config, clock=clocks.monotonic, wall_clock=clocks.wall)
    assert runtime.try_open()
    try:
        yield runtime
    finally:
        runtime.stop()


def readings(runtime: SensorRuntime) -> dict[str, Reading]:
    """The latest reading of every channel that got one."""
    return {ch.name: ch.stats.reading for ch in runtime.snapshot().channels if ch.stats is not None}


def test_the_quiet_after_a_bang_is_the_slack_and_sixteen_characters_at_the_line_s_speed() -> None:
    assert quiet_after_end_s(115200) == pytest.approx(QUIET_SLACK_S + 16 * 11 / 115200)
    assert quiet_after_end_s(300) == pytest.approx(QUIET_SLACK_S + 0.5867, abs=1e-4)
    assert QUIET_SLACK_S < 1.0  # a DSMR 5 meter's next telegram comes 1 s after the last
    framer = BlockFramer("dsmr")
    assert framer.quiet_s == quiet_after_end_s(9600)
    framer.line_speed(300)
    assert framer.quiet_s == quiet_after_end_s(300)


def test_a_telegram_that_lost_its_line_end_is_read_when_the_line_is_quiet_stamped_at_its_end(
    pty_pair: PtyPair,
) -> None:
    """The Kamstrup's telegram without the CR LF after its ``!``, its last byte read at 1000 s:
    nothing before the line has been quiet for ``quiet_s``; then its readings, stamped at
    1000 s (monotonic and wall), not when the quiet was seen nor when the next telegram came
    (main read them only with the next telegram's ``/``, 10 s later, stamped then)."""
    clocks = Clocks()
    with opened(pty_pair, clocks, KAMSTRUP) as runtime:
        send(runtime, pty_pair, end_lost(KAMSTRUP_162))
        quiet_s = quiet_after_end_s(9600)
        assert runtime.next_deadline() == pytest.approx(1000.0 + quiet_s)
        clocks.now += quiet_s - 0.01
        assert not runtime.awaiting_reply
        runtime.tick(clocks.now)
        assert readings(runtime) == {}
        clocks.now = 1000.0 + quiet_s
        assert runtime.awaiting_reply  # the reader reads what came before the tick
        runtime.tick(clocks.now)
        got = readings(runtime)
        assert {name: r.value for name, r in got.items()} == {
            "imported_t1_kwh": 7041.882,
            "power_kw": 0.54,
        }
        assert {(r.monotonic_s, r.wall_s) for r in got.values()} == {(1000.0, 1000.0 + 1e9)}
        assert runtime.next_deadline() is None
        # the next telegram, whole, 10 s later: read as it comes, nothing lost or skipped
        clocks.now = 1010.0
        send(runtime, pty_pair, KAMSTRUP_162.replace(b"(0000.54*kW)", b"(0000.61*kW)"))
        assert readings(runtime)["power_kw"].value == 0.61
        assert runtime.framer.frames == 2 * len(telegram_lines(KAMSTRUP_162))
        assert runtime.framer.skipped_bytes == 0
        assert sum(runtime.snapshot().parse_errors.values()) == 0


def test_a_readout_without_etx_is_read_when_the_line_is_quiet_stamped_at_its_end(
    pty_pair: PtyPair,
) -> None:
    """The ACE3000's readout at 300 baud ends in ``!`` and CR LF, and no ETX follows: read
    once the line has been quiet for IEC 62056-21's pause between characters and ``quiet_s``
    at 300 baud, stamped when its last byte came (main held it until the next readout's
    first byte)."""
    clocks = Clocks()
    with opened(pty_pair, clocks, ACE) as runtime:
        send(runtime, pty_pair, ACE3000[:40])
        clocks.now += 1.0
        send(runtime, pty_pair, ACE3000[40:])
        quiet_s = READOUT_PAUSE_S + quiet_after_end_s(300)
        assert runtime.next_deadline() == pytest.approx(1001.0 + quiet_s)
        clocks.now += quiet_s
        runtime.tick(clocks.now)
        got = readings(runtime)
        assert {name: r.value for name, r in got.items()} == {
            "imported_kwh": 285.4,
            "exported_kwh": 120.1,
        }
        assert {r.wall_s for r in got.values()} == {1001.0 + 1e9}
        assert sum(runtime.snapshot().parse_errors.values()) == 0


@pytest.mark.parametrize("telegram", [V4_2, V5], ids=["v4_2", "v5"])
@pytest.mark.parametrize("later_s", [0.03, 0.06])
def test_a_crc_that_comes_in_a_piece_after_its_bang_is_still_checked(
    pty_pair: PtyPair, telegram: bytes, later_s: float
) -> None:
    """A DSMR 4.2 or 5 telegram up to its ``!``, its CRC 30 or 60 ms later and its CR LF
    20 ms after that, the sensor ticked in between: the telegram is read once its CRC came
    and holds; the same with a digit of its power changed is ``checksum``, none of its lines
    read, though its CRC came after the line was quiet for ``quiet_s`` (before any CRC came,
    a telegram whose version line shows it has one waits for it). The broken variant that
    reads a telegram unchecked at the quiet whatever its CRC (``_read_at_end`` always True)
    fails this."""
    clocks = Clocks()
    bang = telegram.index(b"\r\n!") + 3
    damaged = telegram.replace(b"1-0:1.7.0(0", b"1-0:1.7.0(1", 1)
    with opened(pty_pair, clocks, KAMSTRUP) as runtime:
        for k, sent in enumerate((telegram, damaged, telegram)):
            send(runtime, pty_pair, sent[:bang])
            wait_s = later_s if k < 2 else quiet_after_end_s(9600) + 0.05
            clocks.now += wait_s
            runtime.tick(clocks.now)
            send(runtime, pty_pair, sent[bang:-2])
            clocks.now += 0.02
            runtime.tick(clocks.now)
            send(runtime, pty_pair, sent[-2:])
            clocks.now += 1.0
            runtime.tick(clocks.now)
        errors = {r: n for r, n in runtime.snapshot().parse_errors.items() if n}
        assert errors == {"checksum": len(telegram_lines(telegram))}
        assert runtime.framer.frames == 2 * len(telegram_lines(telegram))
        assert runtime.framer.skipped_bytes == 0


def test_a_crc_meter_s_telegram_whose_crc_is_late_is_not_read_unchecked_for_the_quiet() -> None:
    """After a DSMR 5 telegram whose CRC came, the next one's ``!`` and a quiet line: nothing
    is read (its CRC is awaited, as the meter sends one); its CRC then read with it."""
    framer = BlockFramer("dsmr", 2100)
    assert framer.feed(V5) == telegram_lines(V5)
    bang = V5.index(b"\r\n!") + 3
    assert framer.feed(V5[:bang]) == []
    assert framer.quiet_end_at(5.0) == 5.0 + framer.quiet_s
    assert framer.end_quiet() == []
    assert framer.quiet_end_at(5.0) is None
    assert framer.feed(V5[bang:]) == telegram_lines(V5)
    assert framer.rejected == {"checksum": 0, "syntax": 0, "truncated": 0}


def test_the_quiet_end_of_each_kind_of_open_end() -> None:
    """Which bytes held a quiet line ends, and what they give: a bare ``!`` or its CR of a
    DSMR 2.2 telegram, a whole CRC (its line end lost), a readout's ``!`` line; not a CRC cut
    short nor one that fails (the next bytes tell), nor a telegram of DSMR 4 or later without
    its CRC, nor bytes that are no telegram's end."""
    body = end_lost(KAMSTRUP_162)
    crc_end = V4_2[: V4_2.index(b"!6796") + 5]
    cases = {
        body: telegram_lines(KAMSTRUP_162),
        body + b"\r": telegram_lines(KAMSTRUP_162),
        crc_end: telegram_lines(V4_2),
        crc_end + b"\r": telegram_lines(V4_2),
        ACE3000: telegram_lines(ACE3000),
        crc_end[:-2]: [],
        crc_end[:-1] + b"7": [],
        V4_2[: V4_2.index(b"!6796") + 1]: [],
    }
    for data, lines in cases.items():
        framer = BlockFramer("dsmr", 2100)
        assert framer.feed(data) == []
        assert framer.quiet_end_at(0.0) is not None, data[-12:]
        assert framer.end_quiet() == lines, data[-12:]
        if lines:
            assert framer.rejected == {"checksum": 0, "syntax": 0, "truncated": 0}
            assert framer.skipped_bytes == 0
    for data in (KAMSTRUP_162[:200], b"0-0:96.1.1(1)\r\n!", KAMSTRUP_162):
        framer = BlockFramer("dsmr", 2100)
        framer.feed(data)
        assert framer.quiet_end_at(0.0) is None


def test_the_reader_loop_publishes_a_bare_telegram_within_its_quiet_stamped_at_its_end(
    pty_pair: PtyPair,
) -> None:
    """The real reader loop and clocks on a pty: the Kamstrup's telegram without its CR LF,
    written at once by the device; its readings are published about ``quiet_s`` after it
    came, stamped within a few tens of ms of when it was written (a reader that publishes them
    only with the next telegram fails by its timeout: the loop here sends none)."""
    config = parse_config(
        f'[[sensors]]\nname = "s"\nport = "{pty_pair.path}"\nsimulate = "never"\n{KAMSTRUP}'
    ).sensors[0]
    runtime = SensorRuntime(config)
    written: list[float] = []

    def device() -> None:
        time.sleep(0.3)  # the port is open by then
        written.append(time.time())  # the loop may read the bytes before write returns
        pty_pair.write(end_lost(KAMSTRUP_162))

    with Reader([runtime]) as reader:
        run_reader_until(reader, lambda: runtime.source is not None, 5.0)
        writer = threading.Thread(target=device)
        writer.start()
        try:
            run_reader_until(reader, lambda: bool(readings(runtime)), 5.0)
        finally:
            writer.join()
        published = time.time()
    got = readings(runtime)
    assert got["power_kw"].value == 0.54
    stamp = got["power_kw"].wall_s
    assert 0 <= stamp - written[0] < 0.05
    assert published - stamp >= quiet_after_end_s(9600) - 0.01
    assert published - stamp < quiet_after_end_s(9600) + 0.5


def test_the_reader_loop_whose_clock_leads_the_sensor_s_ticks_a_quiet_end_once(
    pty_pair: PtyPair,
) -> None:
    """The real reader loop on a pty, its clock 2 s ahead of the sensor's (an injected
    clock): the Kamstrup's bare telegram's quiet end is due by the loop's clock at once, and
    the tick the loop gives it then reads it; the sensor is ticked a few times, not spun.
    Main's tick compared the sensor's own clock with the deadline, so the loop, whose
    deadline had passed, ticked it without end until the sensor's clock got there (some 10^4
    ticks in its quiet)."""
    config = parse_config(
        f'[[sensors]]\nname = "s"\nport = "{pty_pair.path}"\nsimulate = "never"\n{KAMSTRUP}'
    ).sensors[0]
    runtime = SensorRuntime(config)
    ticks = 0
    tick = runtime.tick

    def counted(now: float) -> None:
        nonlocal ticks
        ticks += 1
        tick(now)

    runtime.tick = counted  # type: ignore[method-assign]
    with Reader([runtime], clock=lambda: time.monotonic() + 2.0) as reader:
        run_reader_until(reader, lambda: runtime.source is not None, 5.0)
        ticks = 0
        pty_pair.write(end_lost(KAMSTRUP_162))
        run_reader_until(reader, lambda: bool(readings(runtime)), 5.0)
    assert readings(runtime)["power_kw"].value == 0.54
    assert ticks < 20


def test_a_nul_after_a_telegram_s_crc_or_bang_leaves_it_ended_by_a_quiet_line() -> None:
    """A meter that sends a NUL after its CRC, before its CR LF (ndokter/dsmr_parser's
    telegram buffer, ``\\![A-F0-9]{0,4}\\0?\\r\\n``, takes one), whose CR LF after it was lost:
    the telegram ends in ``!6EEE`` and a NUL (or its CR too), and a quiet line ends it as it
    ends one without the NUL: read when its CRC holds, not when it fails; a DSMR 2.2
    telegram's bare ``!`` and a NUL too. A framer for which the NUL makes the bytes no open
    end (``quiet_end_at`` None) leaves the telegram to the next one's ``/``, which rejects
    it as ``syntax`` (no line end within 8 bytes of its ``!``); read with the next one, a
    failed CRC is ``truncated`` as without the NUL."""
    crc_end = V5[: V5.index(b"!6EEE") + 5]
    failed = crc_end.replace(b"1-0:1.7.0(0", b"1-0:1.7.0(1", 1)
    bare = end_lost(KAMSTRUP_162)
    cases = {
        crc_end + b"\0": telegram_lines(V5),
        crc_end + b"\0\r": telegram_lines(V5),
        failed + b"\0": [],
        bare + b"\0": telegram_lines(KAMSTRUP_162),
    }
    for data, lines in cases.items():
        framer = BlockFramer("dsmr", 2100)
        assert framer.feed(data) == []
        assert framer.quiet_end_at(0.0) == framer.quiet_s, data[-8:]
        assert framer.end_quiet() == lines, data[-8:]
        assert framer.rejected == {"checksum": 0, "syntax": 0, "truncated": 0}
        assert framer.skipped_bytes == 0
        framer.reset()
        assert framer.skipped_bytes == (0 if lines else len(data))
    # the next telegram's '/' right after the NUL (the two in one read): read with the next
    # one, as without the NUL; main rejected it as syntax (no line end within 8 bytes)
    for data, lines in cases.items():
        after = V5 if data.startswith(b"/ISk5\\2MT382-1000") else KAMSTRUP_162
        for size in (1, 7, 4096):
            got, counted = take("dsmr", data + after, [size])
            assert got == lines + telegram_lines(after), (data[-8:], size)
            # a CRC that fails, the next '/' after it: cut short in its CRC line, as one
            # without the NUL is
            rejected = {"truncated": len(telegram_lines(V5))} if not lines else {}
            assert counted["rejected"] == rejected, (data[-8:], size)
