"""A DSMR 2.2 or 3 telegram that lost the line end after its ``!``.

A telegram of DSMR 2.2 or 3 has no CRC: it ends in ``!`` and CR LF (the P1 Companion
Standard's telegram, as IEC 62056-21 mode D's data message ends), and the meter sends the next
one about 10 s later. When the CR LF after the ``!`` is lost on the line, the next bytes are
the next telegram's ``/``: the telegram came whole, its ``!`` at a line's start ends it, and it
is read, the next one from its ``/`` (a telegram with a CRC whose digits were lost that way
stays ``truncated``: see ``test_formats_dsmr_parser``). Its lines are read when the next
telegram's ``/`` comes, or, for a stream that ends (a replay at the end of its capture), when
the framer is flushed, or when the line has been quiet after the ``!`` (see
``test_formats_dsmr_quiet_end``; the sensors here are not ticked, so the next ``/`` ends it).

The telegrams:

* ``V2_2``, ``V3``: ndokter/dsmr_parser's test telegrams (:mod:`harness.dsmr_parser_telegrams`,
  origin there), an Iskra MT382's.
* :data:`KAMSTRUP_162`, :data:`KAMSTRUP_382`: Kamstrup meters' DSMR 2.2 telegrams
  (``/KMP5 KA6U...`` and ``/KMP5 ZABF...``), public repository nielsbasjes/dsmr-tools, file
  dsmr-parser/src/test/java/nl/basjes/dsmr/parse/TestDsmrParserOnRealDSMR2.java,
  ``testDSMR22Telegram3`` (from gejanssen/slimmemeter-rpi's README) and ``testDSMR22Telegram2``
  (from a domoticz.com forum thread, topic 10020), each line ended in CR LF as there.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.dsmr_parser_telegrams import TELEGRAMS, V2_2, V3, V4_2
from harness.pty import PtyPair
from hypothesis import given, settings
from hypothesis import strategies as st
from test_blocks import take, telegram_lines
from test_first_line import Clock as PortClock
from test_first_line import send
from test_first_line import sensor as sensor_on
from test_formats_blocks import latest

from sensord.formats.blocks import BlockFramer


def crlf(lines: list[str]) -> bytes:
    """``lines``, each ended in CR LF."""
    return "".join(line + "\r\n" for line in lines).encode("ascii")


KAMSTRUP_162 = crlf(
    [
        "/KMP5 KA6U001660297912",
        "",
        "0-0:96.1.1(204B413655303031363630323937393132)",
        "1-0:1.8.1(07041.882*kWh)",
        "1-0:1.8.2(02351.565*kWh)",
        "1-0:2.8.1(03125.397*kWh)",
        "1-0:2.8.2(07729.108*kWh)",
        "0-0:96.14.0(0001)",
        "1-0:1.7.0(0000.54*kW)",
        "1-0:2.7.0(0000.00*kW)",
        "0-0:96.13.1()",
        "0-0:96.13.0()",
        "0-1:24.1.0(3)",
        "0-1:96.1.0(3238313031353431303034303232323131)",
        "0-1:24.3.0(160315210000)(00)(60)(1)(0-1:24.2.1)(m3)",
        "(04083.631)",
        "!",
    ]
)

KAMSTRUP_382 = crlf(
    [
        "/KMP5 ZABF001551772711",
        "",
        "0-0:96.1.1(205A4142463030313531373732373131)",
        "1-0:1.8.1(05080.475*kWh)",
        "1-0:1.8.2(05008.385*kWh)",
        "1-0:2.8.1(00000.000*kWh)",
        "1-0:2.8.2(00000.000*kWh)",
        "0-0:96.14.0(0001)",
        "1-0:1.7.0(0000.68*kW)",
        "1-0:2.7.0(0000.00*kW)",
        "0-0:96.13.1()",
        "0-0:96.13.0()",
        "0-2:24.1.0(3)",
        "0-2:96.1.0(3238313031353431303037313632343132)",
        "0-2:24.3.0(160117120000)(00)(60)(1)(0-2:24.2.1)(m3)",
        "(02025.003)",
        "!",
    ]
)

#: The DSMR 2.2 and 3 telegrams, each of which ends in ``!`` and CR LF.
BARE = {"v2_2": V2_2, "v3": V3, "kamstrup_162": KAMSTRUP_162, "kamstrup_382": KAMSTRUP_382}


def end_lost(telegram: bytes) -> bytes:
    """``telegram`` without the CR LF after its ``!``."""
    assert telegram.endswith(b"\r\n!\r\n")
    return telegram[:-2]


def test_the_bare_telegrams_end_in_a_bang_and_have_lines_of_readings() -> None:
    for telegram in BARE.values():
        assert telegram.endswith(b"\r\n!\r\n")
        assert len(telegram_lines(telegram)) >= 14


def test_a_telegram_whose_bang_lost_its_line_end_is_read_with_the_next() -> None:
    """Each telegram, its CR LF lost, then the same telegram whole: both read, nothing
    rejected or skipped, however chunked (a chunk may end right after the ``!``)."""
    for name, telegram in BARE.items():
        whole, _ = take("dsmr", telegram + telegram)
        for sizes in (None, [1], [3], [7], [len(telegram) - 2, 1]):
            lines, counted = take("dsmr", end_lost(telegram) + telegram, sizes)
            assert lines == whole, (name, sizes)
            assert counted["rejected"] == {}, (name, sizes)
            assert counted["skipped"] == 0, (name, sizes)


def test_a_telegram_with_a_crc_whose_crc_line_was_lost_stays_truncated() -> None:
    """A DSMR 4.2 telegram (its version line shows it has a CRC) whose CRC and CR LF were
    lost before the next ``/``, and a Kamstrup telegram without a version line after one with
    a CRC came: ``truncated``; the telegram after each is read."""
    lines, counted = take("dsmr", V4_2[: V4_2.index(b"\r\n!") + 3] + V4_2)
    assert lines == telegram_lines(V4_2)
    assert counted["rejected"] == {"truncated": len(telegram_lines(V4_2))}
    framer = BlockFramer("dsmr", 2100)
    got = framer.feed(V4_2 + end_lost(KAMSTRUP_162) + V4_2)
    assert got == telegram_lines(V4_2) * 2
    assert framer.rejected["truncated"] == len(telegram_lines(KAMSTRUP_162))
    assert framer.last_rejected("truncated")[0] == (
        "cut short in its CRC line: the next telegram's '/' came after '!'"
    )


def test_a_bare_telegram_run_into_the_next_is_still_told() -> None:
    """The rules of a telegram read unchecked hold for one whose line end was lost: a header
    line a line of readings ran into (its line end lost) is ``truncated``, that line with it."""
    torn = KAMSTRUP_162.replace(b"KA6U001660297912\r\n\r\n", b"KA6U0016602", 1)
    lines, counted = take("dsmr", KAMSTRUP_382 + end_lost(torn) + KAMSTRUP_382)
    assert lines == telegram_lines(KAMSTRUP_382) * 2
    assert counted["rejected"] == {"truncated": len(telegram_lines(KAMSTRUP_162))}


def test_a_stream_that_ends_after_a_bang_gives_its_telegram_when_flushed() -> None:
    """A replay whose capture ends right after a bare telegram's ``!`` (or its CR): its lines
    are given by ``flush``; a telegram with a CRC ended so is ``truncated``, its CRC lost."""
    for tail in (b"", b"\r"):
        framer = BlockFramer("dsmr", 2100)
        assert framer.feed(KAMSTRUP_382 + end_lost(KAMSTRUP_162) + tail) == telegram_lines(
            KAMSTRUP_382
        )
        assert framer.flush() == telegram_lines(KAMSTRUP_162)
        assert (framer.skipped_bytes, framer.rejected["truncated"]) == (0, 0)
    framer = BlockFramer("dsmr", 2100)
    assert framer.feed(V4_2[: V4_2.index(b"\r\n!") + 3]) == []
    assert framer.flush() == []
    assert framer.rejected["truncated"] == len(telegram_lines(V4_2))
    assert framer.flush() == []


#: A telegram's end as it came: whole, without its CR LF, without its LF, without its CR.
ENDS: dict[str, Callable[[bytes], bytes]] = {
    "": lambda telegram: telegram,
    "crlf": end_lost,
    "lf": lambda telegram: telegram[:-1],
    "cr": lambda telegram: telegram[:-2] + b"\n",
}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(BARE)), st.sampled_from(sorted(ENDS))),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=8),
)
def test_any_run_of_bare_telegrams_with_lost_line_ends_reads_exactly_its_telegrams(
    run: list[tuple[str, str]], sizes: list[int]
) -> None:
    """Any run of whole DSMR 2.2 and 3 telegrams, each maybe without the CR LF after its ``!``
    (or its CR or LF alone), fed in chunks of any sizes and then flushed: the lines of every
    telegram, once each and in order, nothing rejected or skipped; the same as in one
    chunk."""
    data = b"".join(ENDS[end](BARE[name]) for name, end in run)
    expected = [line for name, _ in run for line in telegram_lines(BARE[name])]
    framer = BlockFramer("dsmr", 2100)
    lines: list[bytes] = []
    pos = k = 0
    while pos < len(data):
        size = sizes[min(k, len(sizes) - 1)]
        lines += framer.feed(data[pos : pos + size])
        pos += size
        k += 1
    lines += framer.flush()
    assert lines == expected
    assert framer.rejected == {"checksum": 0, "syntax": 0, "truncated": 0}
    assert framer.skipped_bytes == 0
    whole = BlockFramer("dsmr", 2100)
    assert whole.feed(data) + whole.flush() == expected


KAMSTRUP_SENSOR = """
format = "dsmr"
stale_after_s = 30
channels = [
  { name = "imported_t1_kwh", field = "1-0:1.8.1" }, { name = "power_kw", field = "1-0:1.7.0" },
  { name = "gas_m3", field = "0-1:24.3.0" },
]
"""


def test_a_kamstrup_whose_line_ends_are_lost_on_a_pty_publishes_every_telegram(
    pty_pair: PtyPair,
) -> None:
    """The Kamstrup's telegrams on a real pty, 10 s apart, the first two without the CR LF
    after their ``!``: each telegram's readings are published once the next one's ``/`` has
    come (the second's with the third, which came whole), and no parse error is counted."""
    clock = PortClock()
    second = KAMSTRUP_162.replace(b"(0000.54*kW)", b"(0000.61*kW)")
    third = KAMSTRUP_162.replace(b"(0000.54*kW)", b"(0000.47*kW)")
    with sensor_on(pty_pair, clock, KAMSTRUP_SENSOR) as opened:
        clock.now += 0.001
        send(opened, pty_pair, end_lost(KAMSTRUP_162))
        assert latest(opened) == {}
        for telegram, power in ((end_lost(second), 0.54), (third, 0.47)):
            clock.now += 10.0
            send(opened, pty_pair, telegram)
            assert latest(opened) == {
                "imported_t1_kwh": 7041.882,
                "power_kw": power,
                "gas_m3": 4083.631,
            }
        snap = opened.snapshot()
        assert sum(snap.parse_errors.values()) == 0
        [power_kw] = [ch for ch in snap.channels if ch.name == "power_kw"]
        assert power_kw.stats is not None
        assert (power_kw.stats.count, power_kw.stats.min, power_kw.stats.max) == (3, 0.47, 0.61)


def test_every_bare_telegram_of_dsmr_parser_is_among_those_tested() -> None:
    """dsmr_parser's telegrams without a CRC but the EasyMeter's, whose gateway writes its own
    lines after the ``!`` (a line end lost there runs the ``!`` into them)."""
    bare = {name for name, t in TELEGRAMS.items() if t.endswith(b"\r\n!\r\n")}
    assert bare == {"v2_2", "v3"}
