"""A line of an unchecked DSMR telegram that lost its start is no short code of another quantity.

A telegram of DSMR 2.2 or 3, or an EasyMeter's, has no CRC: a line that loses bytes at its
start on the line is read unchecked. A short code (``1.7.0``, IEC 62056-61's reduced code,
as an IEC 62056-21 meter writes its readout, see ``test_formats_dsmr_short_codes``) is read
as the meter's ``1-0:`` code, so such a line could read as another quantity: an EasyMeter
Q3D's L1 power ``1-0:21.7.0*255(000557.29*W)`` that lost ``1-0:2`` is
``1.7.0*255(000557.29*W)``, the total power's code. A readout writes every code short; a
telegram whose other lines carry ``A-B:`` codes writes none so, and a short code in it is a
line damaged: ``syntax``, counted and named, the telegram's other lines read.

The telegrams: ``V2_2``, ``V3`` (an Iskra MT382's, ndokter/dsmr_parser's test telegrams),
``ESY5Q3DA1004``, ``ESY5Q3DB1024`` (EasyMeter Q3D telegrams, dsmr_parser's too; origin in
:mod:`harness.dsmr_parser_telegrams`), and the Kamstrup 162 and 382 DSMR 2.2 telegrams of
nielsbasjes/dsmr-tools (origin in ``test_formats_dsmr_bare_end``).
"""

from __future__ import annotations

import re

from harness.dsmr_parser_telegrams import ESY5Q3DA1004, ESY5Q3DB1024, V2_2, V3, V5
from harness.pty import PtyPair
from hypothesis import given, settings
from hypothesis import strategies as st
from test_first_line import Clock as PortClock
from test_first_line import send
from test_first_line import sensor as sensor_on
from test_formats_blocks import decode_lines, latest
from test_formats_dsmr import meter
from test_formats_dsmr_bare_end import KAMSTRUP_162, KAMSTRUP_382
from test_formats_dsmr_short_codes import ACE3000, E350, bcc

from sensord.formats import codec_for
from sensord.formats.base import FormatSpec
from sensord.formats.blocks import BlockFramer
from sensord.formats.crc import crc16_arc

#: The telegrams read unchecked (no CRC), each written with whole codes.
UNCHECKED = {
    "v2_2": V2_2,
    "v3": V3,
    "esy5q3da1004": ESY5Q3DA1004,
    "esy5q3db1024": ESY5Q3DB1024,
    "kamstrup_162": KAMSTRUP_162,
    "kamstrup_382": KAMSTRUP_382,
}

#: The code a line begins with (whole or short, its F group too) and its ``(``.
_HEAD = re.compile(rb"\x02?([0-9A-Z.:*-]+)\(")

L1_CUT = b"1.7.0*255(000557.29*W)"


def data_lines(telegram: bytes) -> list[int]:
    """The indexes of ``telegram``'s lines (split at CR LF) that a channel could read: after
    its header, up to its ``!``."""
    lines = telegram.split(b"\r\n")
    bang = lines.index(b"!")
    return [k for k in range(1, bang) if lines[k]]


def cut(telegram: bytes, line: int, lost: int) -> bytes:
    """``telegram`` whose line ``line`` lost its first ``lost`` bytes."""
    lines = telegram.split(b"\r\n")
    lines[line] = lines[line][lost:]
    return b"\r\n".join(lines)


def fields_of(*telegrams: bytes) -> list[str]:
    """Every code a line of ``telegrams`` begins with that a channel may read (``check``
    takes it as a field), once each."""
    codec = codec_for("dsmr")
    fields: list[str] = []
    for telegram in telegrams:
        for line in telegram.split(b"\r\n"):
            head = _HEAD.match(line)
            if head is None:
                continue
            field = head[1].decode("ascii")
            if field in fields or codec.check(FormatSpec("dsmr", (("c", field),))):
                continue
            fields.append(field)
    return fields


def readings_of(fields: list[str], data: bytes) -> list[tuple[str, float]]:
    """Every reading a sensor whose channels read ``fields`` (channel ``c<i>`` reads the
    i-th) takes from ``data``, through its framer and decoder."""
    config = meter(*((f"c{i}", field) for i, field in enumerate(fields)))
    return [
        reading
        for _, outcome in decode_lines(config, data)
        if isinstance(outcome, list)
        for reading in outcome
    ]


def test_an_easymeter_l1_line_that_lost_its_start_is_syntax_not_the_total_power() -> None:
    """The EasyMeter's ``1-0:21.7.0*255`` line that lost ``1-0:2``: no reading of the total
    power from it; ``syntax``, and the rejection names the line; the telegram's other lines
    read, the total power from its own line."""
    damaged = ESY5Q3DA1004.replace(b"1-0:2" + L1_CUT, L1_CUT)
    assert damaged != ESY5Q3DA1004
    framer = BlockFramer("dsmr", 2100)
    lines = framer.feed(damaged)
    assert L1_CUT not in lines
    assert b"1-0:1.7.0*255(001688.21*W)" in lines
    assert framer.rejected == {"checksum": 0, "syntax": 1, "truncated": 0}
    detail, shown = framer.last_rejected("syntax")
    assert shown == L1_CUT
    assert detail == (
        "a line damaged: '1.7.0*255(000557.29*W)' begins with a short code (no A-B:) in a "
        "telegram whose other lines' codes have their A-B: groups; read unchecked (no CRC), it "
        "is a line that lost its start on the line, not read as another code"
    )


def test_a_readout_of_short_codes_is_read_whole() -> None:
    """The Landis+Gyr E350's readout writes every code short: each of its lines is given."""
    framer = BlockFramer("dsmr", 2100)
    lines = framer.feed(E350)
    assert len(lines) == E350.count(b"\r\n") - 2  # but its header and '!' lines
    assert framer.rejected == {"checksum": 0, "syntax": 0, "truncated": 0}


def test_a_short_line_in_a_telegram_whose_crc_holds_is_the_meter_s() -> None:
    """A telegram checked by its CRC came as the meter wrote it: a short code in it is read
    (a line cut on the way would have failed the CRC)."""
    body = V5[: V5.index(b"\r\n!") + 3].replace(b"1-0:1.7.0", b"1.7.0", 1)
    assert b"\r\n1.7.0(" in body
    telegram = body + f"{crc16_arc(body):04X}\r\n".encode()
    framer = BlockFramer("dsmr", 2100)
    got = framer.feed(telegram)
    assert any(line.startswith(b"1.7.0(") for line in got)
    assert framer.rejected == {"checksum": 0, "syntax": 0, "truncated": 0}


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(UNCHECKED)), st.data())
def test_any_line_of_an_unchecked_telegram_cut_at_its_start_reads_no_other_code(
    name: str, data: st.DataObject
) -> None:
    """Any DSMR 2.2 or 3 (or EasyMeter) telegram, any of its lines that lost any of its first
    bytes: a channel of every code the telegram and that cut line name gets no reading the
    whole telegram does not give it (no value published under a code its line was not
    written with)."""
    telegram = UNCHECKED[name]
    line = data.draw(st.sampled_from(data_lines(telegram)), label="line")
    size = len(telegram.split(b"\r\n")[line])
    lost = data.draw(st.integers(min_value=1, max_value=size - 1), label="lost")
    damaged = cut(telegram, line, lost)
    fields = fields_of(telegram, damaged)
    whole = set(readings_of(fields, telegram))
    got = readings_of(fields, damaged)
    wrong = [
        (fields[int(channel[1:])], value) for channel, value in got if (channel, value) not in whole
    ]
    assert wrong == []


EASYMETER_SENSOR = """
format = "dsmr"
stale_after_s = 30
channels = [
  { name = "power_kw", field = "1-0:1.7.0" }, { name = "power_l2_kw", field = "1-0:41.7.0" },
  { name = "imported_kwh", field = "1-0:1.8.0" },
]
"""


def test_an_easymeter_on_a_pty_publishes_no_l1_power_as_its_total(pty_pair: PtyPair) -> None:
    """The EasyMeter's telegrams on a real pty, the second's L1 line cut to ``1.7.0*255``:
    the total power's window holds the two telegrams' own totals only; one ``syntax``."""
    clock = PortClock()
    damaged = ESY5Q3DA1004.replace(b"1-0:2" + L1_CUT, L1_CUT)
    with sensor_on(pty_pair, clock, EASYMETER_SENSOR) as opened:
        for telegram in (ESY5Q3DA1004, damaged):
            clock.now += 2.0
            send(opened, pty_pair, telegram)
        assert latest(opened) == {
            "power_kw": 1.68821,
            "power_l2_kw": 0.52162,
            "imported_kwh": 32549.5061662,
        }
        snap = opened.snapshot()
        assert {reason: n for reason, n in snap.parse_errors.items() if n} == {"syntax": 1}
        [power] = [ch for ch in snap.channels if ch.name == "power_kw"]
        assert power.stats is not None
        assert (power.stats.count, power.stats.min, power.stats.max) == (2, 1.68821, 1.68821)


#: The E350 readout's line ``82.8.1(0000)`` that lost its ``8``: ``2.8.1(0000)``, exported
#: energy at tariff 1 (``1-0:2.8.1``), which the meter read as 000000.302 kWh.
E350_CUT = E350.replace(b"\r\n82.8.1(0000)", b"\r\n2.8.1(0000)", 1)


def test_the_e350_readout_s_block_check_holds_on_the_capture() -> None:
    """The capture's last byte is the XOR of its data block's bytes after STX to ETX."""
    assert E350.endswith(b"!\r\n\x03\x01")
    assert bcc(E350) == E350[-1]


def test_a_readout_whose_block_check_fails_is_checksum_not_a_reading() -> None:
    """A readout line that lost its start reads as another short code (``2.8.1(0000)``, 0
    kWh exported): its block check refuses the readout, ``checksum``, none of its lines read;
    the readouts around it are read, their ETX and block check no skipped bytes."""
    config = meter(("exported_t1_kwh", "2.8.1"), ("imported_t1_kwh", "1.8.1"))
    outcomes = decode_lines(config, E350 + E350_CUT + E350 + b"/")
    read = [outcome for line, outcome in outcomes if line.startswith(b"2.8.1(")]
    assert read == [[("exported_t1_kwh", 0.302)]] * 2
    framer = BlockFramer("dsmr", 2100)
    lines = framer.feed(E350 + E350_CUT + E350)
    assert len(lines) == 2 * (E350.count(b"\r\n") - 2)
    assert framer.rejected == {"checksum": 0, "syntax": 0, "truncated": 0} | {
        "checksum": E350.count(b"\r\n") - 2
    }
    assert framer.skipped_bytes == 0
    assert framer.last_rejected("checksum")[0] == (
        "its block check 01 (after ETX) does not hold: its bytes give 39"
    )


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=8))
def test_a_readout_s_block_check_is_waited_for_however_chunked(sizes: list[int]) -> None:
    """The E350's readouts, the second cut, in chunks of any sizes: the same lines and
    counts as in one chunk (a chunk may end between the ``!`` line and the ETX, or the ETX
    and the block check)."""
    data = E350 + E350_CUT + E350
    whole = BlockFramer("dsmr", 2100)
    expected = whole.feed(data)
    framer = BlockFramer("dsmr", 2100)
    lines: list[bytes] = []
    pos = k = 0
    while pos < len(data):
        size = sizes[min(k, len(sizes) - 1)]
        lines += framer.feed(data[pos : pos + size])
        pos += size
        k += 1
    assert lines == expected
    assert framer.rejected == whole.rejected
    assert framer.skipped_bytes == whole.skipped_bytes == 0


E350_SENSOR = """
format = "dsmr"
serial = { baudrate = 300, bytesize = 7, parity = "E" }
stale_after_s = 30
channels = [
  { name = "exported_t1_kwh", field = "1-0:2.8.1" }, { name = "voltage_l1_v", field = "32.7" },
]
"""


def test_an_e350_readout_cut_on_a_pty_publishes_none_of_its_lines(pty_pair: PtyPair) -> None:
    """Three readouts on a real pty, the second's ``82.8.1(0000)`` cut to ``2.8.1(0000)``:
    the exported energy's window holds the two sound readouts' 0.302 kWh, never 0; the cut
    readout's lines are ``checksum``."""
    clock = PortClock()
    with sensor_on(pty_pair, clock, E350_SENSOR) as opened:
        for readout in (E350, E350_CUT, E350):
            clock.now += 5.0
            send(opened, pty_pair, readout)
        snap = opened.snapshot()
        errors = {reason: n for reason, n in snap.parse_errors.items() if n}
        assert errors == {"checksum": E350.count(b"\r\n") - 2}
        [energy] = [ch for ch in snap.channels if ch.name == "exported_t1_kwh"]
        assert energy.stats is not None
        assert (energy.stats.count, energy.stats.min, energy.stats.max) == (2, 0.302, 0.302)


def test_a_readout_without_etx_is_read_when_the_next_comes_or_at_the_stream_s_end() -> None:
    """The ACE3000's readout as smartmeter-obis' test has it, no ETX nor block check after its
    ``!`` line: held until a byte after it tells none comes, then read unchecked; a stream
    that ends after it gives it when flushed. A readout whose ETX came and whose block check
    did not is held, and dropped at the stream's end."""
    lines = ACE3000.split(b"\r\n")[1:-2]
    framer = BlockFramer("dsmr", 2100)
    assert framer.feed(ACE3000) == []
    assert framer.flush() == lines
    assert framer.feed(ACE3000) == []
    assert framer.feed(ACE3000) == lines
    framer = BlockFramer("dsmr", 2100)
    assert framer.feed(E350[:-1]) == []
    assert framer.flush() == []
    assert framer.rejected == {"checksum": 0, "syntax": 0, "truncated": 0}
