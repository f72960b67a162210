"""``parse.block``: a smart meter's DSMR telegrams and a Victron device's VE.Direct blocks are
read only when the check over the whole block holds (``sensord.formats.blocks``).

Read line by line (``parse.ignore``, ``tests/test_formats_blocks.py``), a telegram or block
that lost or changed a byte inside a number still gives that number; with ``block`` it gives
nothing, and is counted. The fixtures are the real telegrams and blocks of
``test_formats_blocks`` (their origin is in its docstring).
"""

from __future__ import annotations

import itertools
import math
import random
import re
import time
from typing import Any

import pytest
from harness.config import load_sensors
from harness.daemon import StartDaemon
from harness.pty import PtyPair
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_first_line import Clock as PortClock
from test_first_line import send
from test_first_line import sensor as sensor_on
from test_formats_blocks import (
    BLUESOLAR,
    BLUESOLAR_75_15,
    BMV600S,
    BMV702,
    BMV712,
    BMV_CR_LF,
    DSMR5,
    DSMR22,
    DSMR42,
    FLUVIUS,
    HEX_0121,
    HEX_0201,
    P1,
    PHOENIX_120V,
    PHOENIX_230V,
    README,
    SMARTSHUNT,
    SMARTSHUNT_READS,
    SMARTSHUNT_WITH_MON,
    SMARTSOLAR,
    SMARTSOLAR_75_15,
    SMARTSOLAR_150_70,
    SMARTSOLAR_150_70_ERR,
    SMARTSOLAR_150_70_READ,
    SMARTY,
    counts,
    crc16_arc,
    latest,
    per_block,
    readme_toml_blocks,
    runtime,
    sensor_of,
    ve_blocks,
    with_ignore,
)
from test_frames_umb_han import KAMSTRUP_NO, KAMSTRUP_SE

from sensord.config import Config
from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats import crc as crc_module
from sensord.formats.blocks import MAX_BLOCK_BYTES, BlockFramer, ciphered_frame_end, envelope
from sensord.formats.text import hex_or_number, number, value_readers
from sensord.signals import SimulationSpec
from sensord.sources.simulated import SimulatedDevice

#: The kv meter of test_formats_blocks read in checked telegrams instead of with ignore.
METER = {
    **{k: v for k, v in P1.items() if k != "terminator"},
    "parse": {k: v for k, v in P1["parse"].items() if k != "ignore"} | {"block": "dsmr"},
}
BATTERY = README["battery"]
SOLAR = README["solar"]

TELEGRAMS = {"dsmr5": DSMR5, "dsmr42": DSMR42, "fluvius": FLUVIUS}
VE_DUMPS = {
    "bmv702": BMV702,
    "smartsolar": SMARTSOLAR,
    "bluesolar": BLUESOLAR,
    "cr-lf": BMV_CR_LF,
    "bmv712": BMV712,
    "bluesolar-75-15": BLUESOLAR_75_15,
    "phoenix-120v": PHOENIX_120V,
    "phoenix-230v": PHOENIX_230V,
    "smartsolar-75-15": SMARTSOLAR_75_15,
    "smartshunt": SMARTSHUNT,
    "smartsolar150": SMARTSOLAR_150_70,
}


def telegram_lines(telegram: bytes) -> list[bytes]:
    """The lines a telegram gives to read: neither its header nor its CRC line, nor empty."""
    lines = telegram.split(b"\r\n")[1:]
    return [line for line in lines if line and not line.startswith(b"!")]


def block_lines(block: bytes) -> list[bytes]:
    """The lines a VE.Direct block gives to read: all but its ``Checksum`` line."""
    return block.split(b"\r\n")[1:-1]


def take(
    kind: str, data: bytes, sizes: list[int] | None = None, **options: Any
) -> tuple[list[bytes], dict[str, Any]]:
    """The lines a fresh framer of ``kind`` gives for ``data`` fed in chunks of ``sizes`` (the
    last one repeated; one chunk without), and its counters."""
    framer = BlockFramer(kind, 2100, **options)
    lines: list[bytes] = []
    if not sizes:
        lines = framer.feed(data)
    else:
        pos = 0
        k = 0
        while pos < len(data):
            size = sizes[min(k, len(sizes) - 1)]
            lines += framer.feed(data[pos : pos + size])
            pos += size
            k += 1
    return lines, {
        "frames": framer.frames,
        "skipped": framer.skipped_bytes,
        "rejected": {why: n for why, n in framer.rejected.items() if n},
        "ignored": framer.ignored,
        "overlong": framer.overlong,
    }


# -- the check ------------------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.binary(max_size=3000))
@example(b"123456789")
@example(b"1234567890")
@example(b"")
@example(b"\xff")
def test_crc16_arc_is_the_reference_crc(data: bytes) -> None:
    """The CRC by two bytes a step, and the one a byte a step, equal the bit-by-bit
    CRC-16/ARC (0xBB3D for "123456789", the catalogue's check value) over bytes of odd and
    even length, up to a long telegram's."""
    assert crc_module.crc16_arc(data) == crc16_arc(data)
    assert crc_module.crc16_arc_short(data) == crc16_arc(data)
    assert crc_module.crc16_arc(b"123456789") == 0xBB3D


@pytest.mark.parametrize("name", list(TELEGRAMS))
def test_every_real_telegram_gives_its_lines_however_chunked(name: str) -> None:
    data = TELEGRAMS[name]
    whole = take("dsmr", data * 2)
    assert whole == (
        telegram_lines(data) * 2,
        {"frames": 2 * len(telegram_lines(data)), "skipped": 0, "rejected": {}, "ignored": 0}
        | {"overlong": 0},
    )
    for size in (1, 2, 7, 64, 1000):
        assert take("dsmr", data * 2, [size]) == whole


@pytest.mark.parametrize("name", list(VE_DUMPS))
def test_every_real_ve_direct_block_gives_its_lines_however_chunked(name: str) -> None:
    """Every checksum byte (0xAD, 0xAA, CR, LF...), with the HEX messages after some blocks:
    each block's lines without its ``Checksum`` line, and each HEX message ignored."""
    data = VE_DUMPS[name]
    found = ve_blocks(data)
    whole = take("vedirect", data)
    expected = [line for block, _ in found for line in block_lines(block)]
    messages = sum(hex_message is not None for _, hex_message in found)
    assert whole == (
        expected,
        {"frames": len(expected), "skipped": 0, "rejected": {}, "ignored": messages}
        | {"overlong": 0},
    )
    for size in (1, 2, 7, 64, 1000):
        assert take("vedirect", data, [size]) == whole


def damaged(data: bytes, offset: int, xor: int) -> bytes:
    changed = bytearray(data)
    changed[offset % len(data)] ^= xor
    return bytes(changed)


@settings(max_examples=400, deadline=None)
@given(
    name=st.sampled_from(list(TELEGRAMS)),
    offset=st.integers(0, 10_000),
    xor=st.one_of(st.integers(1, 255), st.sampled_from([0x01, 0x20, ord("/") ^ ord("1")])),
)
@example(name="dsmr5", offset=0, xor=1)  # the start '/'
@example(name="dsmr5", offset=DSMR5.index(b"!"), xor=1)  # the end '!'
@example(name="dsmr5", offset=len(DSMR5) - 1, xor=1)  # the LF after the CRC
@example(name="dsmr5", offset=len(DSMR5) - 2, xor=0x0D)  # the CR after the CRC made a NUL
@example(name="dsmr5", offset=DSMR5.index(b"4.426"), xor=ord("4") ^ ord("/"))
@example(name="dsmr5", offset=DSMR5.index(b"!") + 2, xor=0x20)  # a CRC letter's case: read
@example(name="dsmr5", offset=DSMR5.index(b"!") + 2, xor=0x21)  # another letter: no line
def test_a_telegram_with_one_byte_changed_gives_no_line_and_the_next_one_is_read(
    name: str, offset: int, xor: int
) -> None:
    """One byte changed anywhere in a telegram between two whole ones: none of its lines is
    read, unless the byte is after its ``!`` and the CRC still reads the same (a CR that
    became a NUL, or a hex letter of the CRC whose case changed: the CRC is read in either
    case); it is counted (rejected, or its bytes skipped when its ``/`` was lost); the
    telegrams around it are read."""
    data = TELEGRAMS[name]
    bad = damaged(data, offset, xor)
    lines, counted = take("dsmr", data + bad + data)
    good = telegram_lines(data)
    if lines == good * 3:
        at = offset % len(data)
        crc = data.index(b"!") + 1
        if crc <= at < crc + 4:
            assert bad[crc : crc + 4] != data[crc : crc + 4]
            assert bad[crc : crc + 4].upper() == data[crc : crc + 4].upper()
        else:
            assert at > crc + 3
        return
    assert lines == good * 2
    assert counted["rejected"] or counted["skipped"]


@settings(max_examples=400, deadline=None)
@given(
    pick=st.integers(0, 2),
    offset=st.integers(0, 10_000),
    xor=st.integers(1, 255),
)
def test_a_ve_direct_block_with_one_byte_changed_gives_no_line(
    pick: int, offset: int, xor: int
) -> None:
    """One byte changed anywhere in a block (its checksum byte included) between whole ones:
    none of its lines is read, and it is counted; the block before it is read, and the one
    after it unless the changed byte was in its ``Checksum`` label (the two fail as one)."""
    blocks = [block for block, _ in ve_blocks(BMV702)]
    before, middle, after = blocks[pick], blocks[pick + 1], blocks[(pick + 2) % 4]
    bad = damaged(middle, offset, xor)
    lines, counted = take("vedirect", before + bad + after)
    assert lines in (
        block_lines(before) + block_lines(after),
        block_lines(before),
    ), (lines, bad)
    if lines == block_lines(before):
        assert offset % len(middle) >= middle.rindex(b"\r\nChecksum\t")
    assert counted["rejected"] or counted["skipped"]


@pytest.mark.parametrize("size", [None, 1, 7])
@pytest.mark.parametrize(
    ("label", "value"),
    [
        ((b"Checksum", b"Checksun"), (b"V\t12065", b"V\t12064")),  # +1 and -1
        ((b"Checksum", b"Chfcksum"), (b"SOC\t839", b"SOC\t838")),  # +1 and -1
        ((b"Checksum", b"Checksua"), (b"V\t12065", b"V\t18665")),  # -12 and +12
    ],
)
def test_two_damaged_ve_direct_blocks_whose_sum_holds_as_one_are_rejected(
    label: tuple[bytes, bytes], value: tuple[bytes, bytes], size: int | None
) -> None:
    """A battery monitor's main block whose ``Checksum`` label is damaged runs into the next
    main block (its history block lost); when a byte changed in that one makes up for the
    label's change, the byte sum of the two holds (1 in 256 such pairs): they name every
    label twice, which no block does, and are rejected, so that the changed value is not
    published; the blocks around them are read."""
    blocks = [block for block, _ in ve_blocks(BMV702)]
    history, first, second, after = blocks[1], blocks[2], blocks[2], blocks[3]
    first = first.replace(*label)
    second = second.replace(*value)
    assert first != blocks[2]
    assert second != blocks[2]
    assert (sum(first) + sum(second)) & 0xFF == 0  # the two hold as one
    lines, counted = take("vedirect", history + first + second + after, [size] if size else None)
    assert lines == block_lines(history) + block_lines(after)
    # the first's lines, its damaged Checksum line among them, and the second's
    rejected = len(block_lines(first)) + 1 + len(block_lines(second))
    assert counted["rejected"] == {"checksum": rejected}


@pytest.mark.parametrize("between", [b"\r\n", b"AT\r\n", b"\x00\xff\r\n"])
@pytest.mark.parametrize("size", [None, 1, 7])
def test_a_line_end_before_a_ve_direct_block_costs_it_nothing(
    between: bytes, size: int | None
) -> None:
    """A stray CR LF, or a line of something else, between two blocks: its line end and the
    block's first CR LF make an empty line, which no block has; the block after it is read,
    the bytes between skipped (the block was read from the first CR LF, failed its sum, and
    was skipped or rejected whole)."""
    blocks = [block for block, _ in ve_blocks(BMV702)]
    lines, counted = take("vedirect", blocks[0] + between + blocks[1], [size] if size else None)
    assert lines == block_lines(blocks[0]) + block_lines(blocks[1])
    assert counted["skipped"] == len(between)
    assert not counted["rejected"]


def garbled(block: bytes, cut: int) -> bytes:
    return block[: cut % len(block)]


SMALL_LINES = [line for line in telegram_lines(DSMR5) if len(line) < 30]
BMV_LINES = block_lines(ve_blocks(BMV702)[0][0])


@st.composite
def block_streams(draw: st.DrawFn, kind: str) -> bytes:
    """Blocks of ``kind`` (some damaged or cut short), HEX messages, noise and long runs of
    text without an end, in any order."""
    lines = SMALL_LINES if kind == "dsmr" else BMV_LINES
    pieces: list[bytes] = []
    for _ in range(draw(st.integers(0, 8))):
        what = draw(st.integers(0, 5))
        block = envelope(kind, draw(st.lists(st.sampled_from(lines), max_size=6)))
        if what == 0:
            pieces.append(draw(st.binary(max_size=30)))
        elif what == 1:
            pieces.append(damaged(block, draw(st.integers(0, 999)), draw(st.integers(1, 255))))
        elif what == 2:
            pieces.append(garbled(block, draw(st.integers(1, 999))))
        elif what == 3:
            pieces.append(HEX_0121 if kind == "vedirect" else b"/X\r\n" + b"1-0:1.8.1(1)\r\n" * 20)
        elif what == 4:
            pieces.append(b"\r\nV\t1" * 60)
        else:
            pieces.append(block)
    return b"".join(pieces)


@settings(max_examples=300, deadline=None)
@given(
    kind_and_data=st.sampled_from(["dsmr", "vedirect"]).flatmap(
        lambda kind: st.tuples(st.just(kind), block_streams(kind))
    ),
    sizes=st.lists(st.integers(1, 80), min_size=1, max_size=20),
)
def test_the_lines_and_counters_do_not_depend_on_the_chunking(
    kind_and_data: tuple[str, bytes], sizes: list[int]
) -> None:
    """Any stream of whole, damaged and cut blocks, noise, HEX messages and blocks past a
    bound of 200 bytes: the same lines and counters whatever the chunks."""
    kind, data = kind_and_data
    assert take(kind, data, sizes, max_block_bytes=200) == take(kind, data, max_block_bytes=200)


def test_a_block_past_the_bound_is_overlong_and_the_next_one_is_read() -> None:
    small = envelope("dsmr", SMALL_LINES[:2])
    lines, counted = take("dsmr", DSMR5 + small, max_block_bytes=200)
    assert (lines, counted["overlong"], counted["skipped"]) == (SMALL_LINES[:2], 1, 0)
    block = ve_blocks(BMV702)[0][0]
    endless = b"\r\nV\t12800" * 40  # no Checksum line
    lines, counted = take("vedirect", block + endless + block + block, max_block_bytes=200)
    # the overlong run is dropped up to the next block's end: the first block after it too,
    # counted as overlong, not as skipped bytes
    assert lines == block_lines(block) * 2
    assert (counted["overlong"], counted["skipped"]) == (1, 0)


@pytest.mark.parametrize(
    ("kind", "start", "line"),
    [("dsmr", b"/ISk5\\2MT382-1000\r\n\r\n", b"1-0:1.8.1(000004.426*kWh)\r\n"),
     ("vedirect", b"\r\n", b"V\t12800\r\n")],
)  # fmt: skip
def test_a_block_that_never_ends_holds_no_more_than_the_bound(
    kind: str, start: bytes, line: bytes
) -> None:
    """A device that starts a block and then sends lines for ever (a telegram without its
    ``!``, a block without its ``Checksum``): the framer holds at most ``max_block_bytes`` of
    it, however long it goes on, and counts it once as overlong."""
    framer = BlockFramer(kind, 2100, max_block_bytes=500)
    framer.feed(start)
    held = []
    for _ in range(2000):  # about 50 KiB, 100 times the bound
        assert framer.feed(line) == []
        held.append(len(framer._block))
    assert max(held) <= 500 + len(line)
    assert framer.overlong == 1


@pytest.mark.parametrize("kind", ["dsmr", "vedirect"])
def test_nul_padding_strips_the_nuls_of_a_checked_block_s_lines(kind: str) -> None:
    """A device that pads its lines with NULs inside its checked block: the check covers
    them, and with ``parse.nul_padding`` each line of a block whose check holds is read
    without them (counted as skipped bytes); without it, the padded line stays as sent, for
    its decoder to reject as ``encoding``."""
    padded = [b"V\t12800\0\0", b"I\t-150"]
    block = envelope(kind, padded)
    padded_lines = BlockFramer(kind, 2100).feed(block)
    assert padded_lines == padded
    framer = BlockFramer(kind, 2100, strip_nul=True)
    assert framer.feed(block) == [b"V\t12800", b"I\t-150"]
    assert framer.skipped_bytes == 2


def test_a_crc_line_without_its_lf_is_syntax_and_what_follows_it_is_skipped() -> None:
    """A telegram whose CRC line has no LF within the bytes a CRC line has (a meter whose
    line end was lost, noise after it) is rejected as ``syntax``, each of its lines counted;
    the bytes after its ``!`` up to the next ``/`` are skipped bytes, and the next telegram is
    read."""
    small = envelope("dsmr", SMALL_LINES[:3])
    cut = small[: small.index(b"!") + 1] + b"ABCDxxxxxxxxx"  # 13 bytes, no LF
    lines, counted = take("dsmr", cut + small)
    assert lines == SMALL_LINES[:3]
    assert counted["rejected"] == {"syntax": 3}
    assert counted["skipped"] == 13


def test_a_bound_too_small_for_any_block_is_refused_saying_so() -> None:
    with pytest.raises(ValueError, match="max_block_bytes must be at least 64, got 63"):
        BlockFramer("dsmr", max_block_bytes=63)


def test_a_telegram_begun_before_the_open_is_skipped_and_the_next_is_read() -> None:
    tail = DSMR5[DSMR5.index(b"1-0:1.8.2") :]
    lines, counted = take("dsmr", tail + DSMR5)
    assert (lines, counted["skipped"], counted["rejected"]) == (
        telegram_lines(DSMR5),
        len(tail),
        {},
    )


def test_a_ve_direct_block_begun_before_the_open_is_skipped_not_rejected() -> None:
    block, _ = ve_blocks(BMV702)[0]
    cut = block[block.index(b"\r\nI\t") :]  # from a line's start: a block of its own to the eye
    lines, counted = take("vedirect", b"12065" + cut + block + block)
    assert lines == block_lines(block) * 2
    assert (counted["rejected"], counted["skipped"]) == ({}, 5 + len(cut))


def test_dsmr_2_2_telegrams_are_read_until_the_meter_has_sent_a_crc() -> None:
    lines, counted = take("dsmr", DSMR22 + DSMR22)
    assert lines == telegram_lines(DSMR22) * 2
    # a telegram whose CRC was lost, once the meter has sent one
    lost = DSMR5.replace(b"!6EEE", b"!")
    lines, counted = take("dsmr", DSMR5 + lost + DSMR5)
    assert lines == telegram_lines(DSMR5) * 2
    assert counted["rejected"] == {"truncated": len(telegram_lines(DSMR5))}


@pytest.mark.parametrize(
    ("telegram", "version"),
    [(DSMR5, b"1-3:0.2.8(50)"), (DSMR42, b"1-3:0.2.8(42)"), (FLUVIUS, b"0-0:96.1.4(50213)")],
    ids=["dsmr50", "dsmr42", "emucs"],
)
def test_a_dsmr_4_or_5_telegram_without_its_crc_is_truncated_before_any_crc_came(
    telegram: bytes, version: bytes
) -> None:
    """Its version line (or an e-MUCS meter's) shows a meter that always sends a CRC: the
    telegram whose CRC digits were lost is ``truncated`` from the first, and so is it with
    the version line anywhere in it; without that line it is read unchecked, as a DSMR 2.2
    one."""
    assert b"\r\n" + version + b"\r\n" in telegram
    lost = telegram[: telegram.index(b"\r\n!") + 3] + b"\r\n"
    lines, counted = take("dsmr", lost + telegram)
    assert lines == telegram_lines(telegram)
    assert counted["rejected"] == {"truncated": len(telegram_lines(telegram))}
    moved = lost.replace(b"\r\n" + version, b"").replace(b"\r\n!", b"\r\n" + version + b"\r\n!")
    lines, counted = take("dsmr", moved)
    assert (lines, counted["rejected"]) == ([], {"truncated": len(telegram_lines(telegram))})
    unmarked = lost.replace(b"\r\n" + version, b"")
    lines, counted = take("dsmr", unmarked)
    assert (lines, counted["rejected"]) == (telegram_lines(unmarked), {})


@pytest.mark.parametrize(
    ("check", "why"),
    [
        (b"!6EE", "truncated"),
        (b"!6eef", "checksum"),
        (b"!6EeG", "syntax"),
        (b"!6EEF", "checksum"),
        (b"!6EEEE", "syntax"),
    ],
)
def test_a_telegram_whose_crc_line_is_damaged_is_rejected_by_reason(check: bytes, why: str) -> None:
    """Each of its lines is counted, as the lines read are counted in ``frames``."""
    lines, counted = take("dsmr", DSMR5.replace(b"!6EEE", check) + DSMR5)
    assert lines == telegram_lines(DSMR5)
    assert counted["rejected"] == {why: len(telegram_lines(DSMR5))}


def test_a_telegram_cut_short_by_the_next_one_is_truncated() -> None:
    cut = DSMR5[: DSMR5.index(b"1-0:2.8.1")]
    lines, counted = take("dsmr", cut + DSMR5)
    assert lines == telegram_lines(DSMR5)
    assert counted["rejected"] == {"truncated": 5}  # the lines that came


def test_a_bang_inside_a_line_is_text_not_the_end() -> None:
    """A DSMR 2.2 meter's text message in plain text may hold a ``!``: the telegram ends at
    the ``!`` that begins a line."""
    text = DSMR22.replace(b"0-0:96.13.0()", b"0-0:96.13.0(Storing! Bel 0800)")
    assert text != DSMR22
    lines, counted = take("dsmr", text)
    assert (lines, counted["rejected"]) == (telegram_lines(text), {})
    assert b"0-0:96.13.0(Storing! Bel 0800)" in lines


def test_the_check_line_may_end_in_a_nul() -> None:
    """A meter that sends a NUL after its CRC (dsmr_parser accepts one)."""
    lines, counted = take("dsmr", DSMR5.replace(b"!6EEE\r\n", b"!6EEE\0\r\n"))
    assert (lines, counted["rejected"]) == (telegram_lines(DSMR5), {})


# -- through a sensor ------------------------------------------------------------------------------


def test_a_meter_reading_with_a_changed_digit_is_not_published() -> None:
    """``1-0:1.8.1(000004.426*kWh)`` that became ``(000004.436*kWh)`` on the line: read line by
    line it is published; with ``block = "dsmr"`` the telegram is rejected (checksum) and the
    meter's last reading stays 4.426."""
    bad = DSMR5.replace(b"000004.426", b"000004.436")
    added = per_block(sensor_of(METER), DSMR5, bad)
    assert added[0]["errors"] == {}
    assert added[0]["readings"] == 7
    assert added[1] == {"frames": 0, "ignored": 0, "readings": 0, "errors": {"checksum": 37}}
    line_by_line = sensor_of(P1)
    rt = runtime(line_by_line)
    rt.feed(DSMR5 + bad)
    assert counts(rt)["errors"] == {}
    assert latest(rt)["imported_t1_kwh"] == 4.436  # the damage, published


def test_a_battery_voltage_with_a_changed_digit_is_not_published() -> None:
    block, _ = ve_blocks(BMV702)[0]
    bad = block.replace(b"V\t12065", b"V\t12165")
    added = per_block(sensor_of(BATTERY), block, bad, block)
    lost = len(block_lines(block))
    assert added[1] == {"frames": 0, "ignored": 0, "readings": 0, "errors": {"checksum": lost}}
    assert added[0]["readings"] == added[2]["readings"] == 5


def test_hex_messages_are_ignored_frames_and_the_readings_come() -> None:
    rt = runtime(sensor_of(SOLAR))
    rt.feed(BLUESOLAR)
    assert counts(rt) == {"frames": 136, "ignored": 4 + 104, "readings": 32, "errors": {}}
    assert latest(rt)["panel_power_w"] == 7.0


def test_a_telegram_right_after_the_open_is_read(pty_pair: PtyPair) -> None:
    """A block sensor's first bytes after the open are not dropped up to the first line end
    (as a streaming text sensor's are): the telegram's ``/`` shows where it begins."""
    clock = PortClock()
    body = (
        'format = "kv"\nchannels = [{ name = "t1", field = "1-0:1.8.1" }]\n'
        'parse = { block = "dsmr", kv_separator = "(", pair_separator = ")", units = ["*kWh"] }\n'
    )
    with sensor_on(pty_pair, clock, body) as opened:
        clock.now += 0.001
        send(opened, pty_pair, DSMR5)
        assert opened.snapshot().skipped_bytes == 0
        assert latest(opened) == {"t1": 4.426}


# -- configuration and simulation --------------------------------------------------------------------


def test_an_unknown_block_kind_is_refused_naming_the_key() -> None:
    errors: list[str] = []
    table = {**METER, "port": "sim://m", "parse": {**METER["parse"], "block": "dsmr5"}}
    assert Config.load({"sensors": [table]}, "", errors) is None
    assert any(
        e.startswith("sensors[0].parse.block") and "'dsmr'" in e and "'vedirect'" in e
        for e in errors
    ), errors


@pytest.mark.parametrize(
    "table",
    [
        {"format": "nmea", "channels": [{"name": "alt", "field": "GGA.altitude"}]},
        {"format": "frames", "preset": "pms5003"},
    ],
    ids=["nmea", "frames"],
)
def test_block_is_refused_by_formats_that_do_not_take_it(table: dict[str, Any]) -> None:
    sensor = {"name": "s", "port": "sim://s", **table, "parse": {"block": "dsmr"}}
    errors: list[str] = []
    assert Config.load({"sensors": [sensor]}, "", errors) is None
    assert any(
        e.startswith("sensors[0].parse.block") and "is not used by format" in e for e in errors
    ), errors


@pytest.mark.parametrize("seed", [7, 34, 38])
@pytest.mark.parametrize("name", ["p1_meter", "battery"])
def test_the_simulated_device_sends_checked_blocks_and_damaged_ones_are_rejected(
    name: str, seed: int
) -> None:
    """A simulated meter or monitor sends each sample as one block whose check holds; its
    garbage is a block with one byte changed: no damaged block is read, and every whole one
    is (a VE.Direct block after one whose ``Checksum`` label was hit too: it begins at ``V``,
    as the blocks before it did)."""
    table = METER if name == "p1_meter" else README[name]
    spec = load_sensors({**table, "port": "sim://x"}).sensors[0].format_spec()
    # a VE.Direct block's check is an 8-bit sum: a block whose Checksum label was hit runs into
    # the next, and when that one is damaged too and the two changes cancel (1 in 256), the
    # sum of the two holds, and their labels, each named twice, tell them: seeds 34 and 38
    # give this stream such a pair, 7 none
    garbage = SimulationSpec(seed=seed, garbage_rate=0.3)
    device = SimulatedDevice(spec, {}, 1.0, b"\r\n", garbage, 0.0)
    data = b"".join(device.bytes_due(float(t)) for t in range(1, 301))
    framer = codec_for("kv").framer(spec, b"\r\n", 2100)
    decode = codec_for("kv").sensor_decoder(spec, lambda: 0.0)
    lines = framer.feed(data)
    assert device.frames_written > 150
    assert len(lines) == device.frames_written
    assert device.garbage_written > 50
    assert sum(framer.rejected.values()) + (framer.skipped_bytes > 0) >= device.garbage_written // 2
    channels = {c for c, _ in spec.fields}
    seen: set[str] = set()
    for line in lines:
        try:
            readings = decode(line)
        except ParseError as exc:  # pragma: no cover - the assertion's message
            raise AssertionError(f"{line!r}: {exc}") from exc
        read = {channel for channel, _ in readings}
        # a line of the meter holds every pair, one of a VE.Direct block one field
        assert len(read) == 1 if name == "battery" else read == channels
        seen |= read
    assert seen == channels


@pytest.mark.slow
def test_a_meter_and_a_charger_on_ptys_through_the_daemon(
    tmp_path: Any, start_daemon: StartDaemon
) -> None:
    """The README's meter and charger, each on a pty, fed real telegrams (one with a changed
    digit) and blocks with HEX messages: /metrics shows the readings of the whole ones, the
    damaged telegram's lines as checksum errors, the HEX messages as ignored frames."""
    with PtyPair() as meter_pty, PtyPair() as solar_pty:
        tables = []
        for name, pty in (("p1_meter", meter_pty), ("solar", solar_pty)):
            block = next(b for b in readme_toml_blocks() if f'name = "{name}"' in b)
            table = block[block.index(f'[[sensors]]\nname = "{name}"') :]
            table = table.split("\n\n[[sensors]]")[0]
            tables.append(re.sub(r'port = "[^"]*"', f'port = "{pty.path}"', table))
        daemon = start_daemon(config="\n\n".join(tables))
        daemon.wait_http()
        daemon.wait_up_settled(["p1_meter", "solar"])
        bad = DSMR5.replace(b"000004.426", b"000004.436")
        later = DSMR5.replace(b"000004.426", b"000004.500")
        later = later[: later.index(b"!") + 1] + b"%04X\r\n" % crc16_arc(
            later[: later.index(b"!") + 1]
        )
        meter_pty.write(DSMR5 + bad + later)
        solar_pty.write(BLUESOLAR)
        daemon.wait_frames({"p1_meter": 2 * len(telegram_lines(DSMR5)), "solar": 136})
        samples = daemon.scrape()
        assert samples.value("sensord_frames_ignored_total", sensor="solar") == 4 + 104
        errors = {
            (s.labels["sensor"], s.labels["reason"]): s.value
            for s in samples.samples
            if s.name == "sensord_parse_errors_total" and s.value
        }
        assert errors == {("p1_meter", "checksum"): len(telegram_lines(DSMR5))}, errors
        value = samples.value
        assert value("sensord_reading_value", sensor="solar", channel="panel_power_w") == 7.0
        assert value("sensord_reading_value", sensor="p1_meter", channel="imported_t1_kwh") == 4.5
        assert daemon.stop() == 0


# -- what real devices send (review of parse.block) ---------------------------------------------

#: Two asynchronous HEX messages a SmartSolar MPPT sent in the middle of a text block, between
#: its ``OR`` and ``ERR`` lines (openenergymonitor/emonhub issue 160: the block's lines from
#: ``ERR`` on came after them). Each one's check holds (its bytes sum to 0x55).
ASYNC_HEX = b":ADBED001A0D5C\n:A0202000200000045\n"


def with_async_hex(block: bytes, before: bytes) -> bytes:
    """``block`` with :data:`ASYNC_HEX` sent in it, right before ``before``."""
    at = block.index(before)
    return block[:at] + ASYNC_HEX + block[at:]


@pytest.mark.parametrize("before", [b"\r\nERR\t", b"RR\t0", b"\r\nChecksum\t", b"Checksum\t"])
def test_a_hex_message_inside_a_ve_direct_block_is_ignored_and_the_block_is_read(
    before: bytes,
) -> None:
    """A device sends its asynchronous HEX messages when a value changes, also in the middle of
    a text block; Victron's reference frame handler (VeDirectFrameHandler, "hex frame can
    interrupt TEXT") leaves their bytes out of the block's sum and goes on with the block. The
    block is read, without the messages, which are ignored frames, however it is chunked."""
    blocks = [block for block, _ in ve_blocks(SMARTSOLAR)]
    data = blocks[0] + with_async_hex(blocks[1], before) + blocks[0]
    whole = take("vedirect", data)
    expected = block_lines(blocks[0]) + block_lines(blocks[1]) + block_lines(blocks[0])
    assert whole == (
        expected,
        {"frames": len(expected), "skipped": 0, "rejected": {}, "ignored": 2, "overlong": 0},
    )
    for size in (1, 2, 7, 64):
        assert take("vedirect", data, [size]) == whole


def test_a_damaged_ve_direct_block_with_a_hex_message_inside_is_still_rejected() -> None:
    blocks = [block for block, _ in ve_blocks(SMARTSOLAR)]
    bad = with_async_hex(blocks[1].replace(b"V\t12820", b"V\t12830"), b"\r\nERR\t")
    lines, counted = take("vedirect", blocks[0] + bad + blocks[0])
    assert lines == block_lines(blocks[0]) * 2
    assert (counted["rejected"], counted["ignored"]) == ({"checksum": 18}, 2)


def test_a_charger_whose_blocks_carry_hex_messages_publishes_its_readings() -> None:
    """Through the README's charger: the readings of a block with a HEX message inside come."""
    blocks = [block for block, _ in ve_blocks(SMARTSOLAR)]
    added = per_block(sensor_of(SOLAR), with_async_hex(blocks[1], b"\r\nERR\t"))
    assert added[0]["errors"] == {}
    assert added[0]["ignored"] >= 2
    assert added[0]["readings"] > 0


@settings(max_examples=150, deadline=None)
@given(
    at=st.lists(st.integers(0, 10_000), min_size=3, max_size=3),
    change=st.integers(0, 10_000),
    xor=st.integers(0, 255),
    sizes=st.lists(st.integers(1, 80), min_size=1, max_size=10),
)
def test_hex_messages_anywhere_in_ve_direct_blocks_do_not_depend_on_the_chunking(
    at: list[int], change: int, xor: int, sizes: list[int]
) -> None:
    """HEX messages sent at any byte of three blocks (not after ``Checksum<TAB>``), one byte of
    the stream maybe changed: the same lines and counters whatever the chunks; unchanged, every
    block is read and every message ignored, unless one came between the CR and the LF that
    begin a block (which is then skipped: its start is not seen)."""
    blocks = [block for block, _ in ve_blocks(SMARTSOLAR)] + [ve_blocks(BMV702)[0][0]]
    data = b""
    cuts = [offset % (len(block) - 1) for block, offset in zip(blocks, at, strict=True)]
    for block, cut in zip(blocks, cuts, strict=True):  # never after ``Checksum<TAB>``
        data += block[:cut] + ASYNC_HEX + block[cut:]
    if xor:
        data = damaged(data, change, xor)
    whole = take("vedirect", data)
    assert take("vedirect", data, sizes) == whole
    if not xor and 1 not in cuts:
        expected = [line for block in blocks for line in block_lines(block)]
        assert whole == (
            expected,
            {"frames": len(expected), "skipped": 0, "rejected": {}, "ignored": 6, "overlong": 0},
        )


def test_bytes_that_are_not_text_nor_encrypted_telegrams_are_told_so() -> None:
    """Binary bytes that hold ``0xDB 0x08`` but no general-glo-ciphering frame (what follows
    is no length form): no telegram and no rejection (a ``/`` among them begins none), and
    the hint is about the bytes not being text (the serial settings, or an encrypted meter),
    not about a damaged line."""
    frames = b"".join(
        bytes([0xDB, 0x08]) + bytes((k * 97 + n * 31) % 256 for n in range(600)) for k in range(5)
    )
    assert frames.count(b"/") > 5
    framer = BlockFramer("dsmr", 2100)
    assert framer.feed(frames) == []
    assert framer.rejected == {"checksum": 0, "syntax": 0, "truncated": 0}
    hint = framer.no_frame_hint(frames)
    assert "not text" in hint
    assert "Smarty" in hint
    assert "cable" not in hint
    assert framer.flush() == []  # a telegram begun at the last '/', held, is none either
    assert (framer.skipped_bytes, sum(framer.rejected.values())) == (len(frames), 0)


#: What a Luxembourg Smarty meter's P1 port is told (its system title is ``SAGgp`` and 3 bytes).
SMARTY_HINT = (
    "the meter sends its telegrams encrypted (DLMS general-glo-ciphering, system title "
    "534147677001BD54, maker SAG: a Luxembourg Smarty, or another meter that encrypts its P1 "
    "port), which sensord does not decrypt: read it through a P1 adapter that decrypts them, "
    "or ask the grid operator for the meter's key and decrypt them before sensord (a proxy "
    "that writes the plain telegrams to a port sensord reads)"
)


@pytest.mark.parametrize("cut", [0, 1, 11, 13, 100, 251, 423, 600, 646])
def test_encrypted_telegrams_are_skipped_whole_and_the_telegrams_between_them_read(
    cut: int,
) -> None:
    """A Smarty meter's encrypted frames (its ``/`` bytes among them), the port opened at any
    byte of the first, and two plain telegrams between them: the telegrams' lines are read,
    nothing is rejected (before, each ``/`` began a telegram the next one cut short:
    ``truncated``), and every byte of the frames is skipped, whatever the chunking."""
    assert SMARTY.count(b"/") == 5
    data = SMARTY[cut:] + SMARTY * 3 + DSMR5 + SMARTY + DSMR5 + SMARTY
    whole = take("dsmr", data)
    lines = telegram_lines(DSMR5)
    assert whole == (
        lines * 2,
        {
            "frames": 2 * len(lines),
            "skipped": len(data) - 2 * len(DSMR5),
            "rejected": {},
            "ignored": 0,
            "overlong": 0,
        },
    )
    for size in (1, 2, 12, 13, 64, 647):
        assert take("dsmr", data, [size]) == whole, size


def test_the_hint_for_an_encrypted_meter_names_its_system_title() -> None:
    """Not the serial settings: the bytes are whole encrypted telegrams, and what can be done
    is to decrypt them before sensord. The port's open may have caught one in its middle.
    Two whole frames of one title are needed: one header is what random bytes make now and
    then."""
    for data in (SMARTY * 2, SMARTY[200:] + SMARTY * 2, SMARTY[300:] + SMARTY * 2 + SMARTY[:40]):
        framer = BlockFramer("dsmr", 2100)
        assert framer.feed(data) == []
        assert framer.no_frame_hint(data) == SMARTY_HINT
    # the rest of one frame only, or its header only: not known to be one; nor one alone
    assert "not text" in BlockFramer("dsmr", 2100).no_frame_hint(SMARTY[1:] + SMARTY[:-1])
    assert "not text" in BlockFramer("dsmr", 2100).no_frame_hint(SMARTY[200:] + SMARTY)
    # a VE.Direct port is no meter
    assert "encrypted" not in BlockFramer("vedirect", 2100).no_frame_hint(SMARTY * 2)


#: What a DLMS meter's HAN port is told when read as a P1 port.
HAN_HINT = (
    "the meter sends binary DLMS/COSEM HDLC frames (7E A0 ... 7E, IEC 62056-46), as the HAN "
    "port of a Nordic meter (Kamstrup, Aidon, Kaifa) does, not DSMR text telegrams: read them "
    "with format = 'frames' (the README has the frame spec of a Kamstrup Omnipower's), or read "
    "the meter's P1 port if it has one"
)


def test_the_hint_for_a_han_port_says_it_sends_hdlc_frames() -> None:
    """A Kamstrup's HAN port (its lists of a Norwegian and a Swedish meter, whose origins are
    in ``test_frames_umb_han``) read with ``format = "dsmr"``: no telegram, and the hint says
    what the bytes are and how to read them, not the serial settings (which are right) nor
    the Smarty's encryption. The port's open may catch a frame in its middle, and frames may
    share a flag; two whole frames whose check holds are needed."""
    for data in (
        (KAMSTRUP_NO + KAMSTRUP_SE) * 3,
        KAMSTRUP_SE[100:] + KAMSTRUP_NO + KAMSTRUP_SE,
        KAMSTRUP_NO + KAMSTRUP_SE[1:] + KAMSTRUP_NO[1:],  # the closing flag opens the next
    ):
        framer = BlockFramer("dsmr", 2100)
        assert framer.feed(data) == []
        assert framer.rejected == {"checksum": 0, "syntax": 0, "truncated": 0}
        assert framer.no_frame_hint(data) == HAN_HINT
    # one whole frame, or frames each with a byte changed: bytes that are not text, as before
    one = KAMSTRUP_NO[50:] + KAMSTRUP_SE
    changed = [
        frame[:120] + bytes([frame[120] ^ 0x01]) + frame[121:]
        for frame in (KAMSTRUP_NO, KAMSTRUP_SE)
    ]
    for data in (one, b"".join(changed) * 2):
        hint = BlockFramer("dsmr", 2100).no_frame_hint(data)
        assert "not text" in hint
        assert "HDLC" not in hint
    # a VE.Direct port is no meter
    assert "HDLC" not in BlockFramer("vedirect", 2100).no_frame_hint(KAMSTRUP_NO * 2)


def ciphered(title: bytes, length: bytes, control: int, rest: int) -> bytes:
    """A general-glo-ciphering frame of ``title``, the length field ``length``, the security
    control byte ``control`` and ``rest`` bytes after it (frame counter, ciphertext, tag)."""
    return b"\xdb\x08" + title + length + bytes([control]) + bytes(range(rest))


@pytest.mark.parametrize(
    ("frame", "end"),
    [
        (SMARTY, len(SMARTY)),
        (ciphered(b"ABCDEFGH", b"\x7f", 0x30, 126), 11 + 0x7F),  # one-byte length
        (ciphered(b"ABCDEFGH", b"\x81\xf8", 0x20, 247), 12 + 0xF8),  # encrypted only
        (ciphered(b"ABCDEFGH", b"\x11", 0x30, 16), 11 + 0x11),  # counter and tag only
        (ciphered(b"ABCDEFGH", b"\x05", 0x20, 4), 11 + 5),  # no tag without authentication
        (ciphered(b"ABCDEFGH", b"\x10", 0x30, 15), None),  # too short for counter and tag
        (ciphered(b"ABCDEFGH", b"\x83\x00\x02\x7a", 0x30, 0), None),  # no such length form
        (ciphered(b"ABCDEFGH", b"\x80", 0x30, 0), None),
        (ciphered(b"ABCDEFGH", b"\x7f", 0x00, 126), None),  # neither encrypted nor signed
        (ciphered(b"ABCDEFGH", b"\x7f", 0xB0, 126), None),  # compressed
        (ciphered(b"ABCDEFGH", b"\x7f", 0x33, 126), None),  # no such security suite
        (ciphered(b"ABCDEFGH", b"\x82\x40\x00", 0x30, 0), None),  # longer than the bound
        (SMARTY[:10], -1),  # its header not all come
        (SMARTY[:13], -1),
        (SMARTY[:14], len(SMARTY)),  # known, not all come
    ],
)
def test_an_encrypted_frame_is_known_by_its_header(frame: bytes, end: int | None) -> None:
    assert ciphered_frame_end(frame, 0, MAX_BLOCK_BYTES) == end


def test_an_encrypted_frame_longer_than_the_bound_is_no_frame() -> None:
    """A 0xDB 0x08 whose length claims more than ``max_block_bytes`` is skipped as a byte;
    the telegram after it is read."""
    data = ciphered(b"ABCDEFGH", b"\x82\x08\x00", 0x30, 20) + DSMR5
    lines, counted = take("dsmr", data, max_block_bytes=2000)
    assert lines == telegram_lines(DSMR5)
    assert (counted["skipped"], counted["rejected"]) == (len(data) - len(DSMR5), {})
    assert ciphered_frame_end(SMARTY, 0, len(SMARTY) - 1) is None
    assert ciphered_frame_end(SMARTY, 0, len(SMARTY)) == len(SMARTY)


def test_a_telegram_cut_short_among_encrypted_frames_is_still_truncated() -> None:
    """A plain telegram cut short by the next one's ``/`` is text: ``truncated``, as before."""
    data = SMARTY + DSMR5[:300] + DSMR5 + SMARTY
    lines, counted = take("dsmr", data)
    assert lines == telegram_lines(DSMR5)
    assert counted["rejected"] == {"truncated": 12}  # its lines, the last one cut short
    assert counted["skipped"] == 2 * len(SMARTY)


#: Line noise that makes the header of a general-glo-ciphering frame (tag, title, a length
#: form of one, two and three bytes, a security control byte): about one such in a million
#: random bytes.
NOISE_HEADERS = {
    "short": b"\xdb\x08\x91\x17nR\x03\xc4\xee\x9a\x7f\x30",
    "two-byte": b"\xdb\x08\x04\xf2\x88Zq\x19\x02\xbd\x81\xf0\x21",
    "three-byte": b"\xdb\x08\xa3\x10\x7fk\x00\x9e\xd4\x05\x82\x3e\x80\x10",
}


@pytest.mark.parametrize("noise", list(NOISE_HEADERS))
@pytest.mark.parametrize("telegram", [DSMR5, DSMR22], ids=["dsmr5", "dsmr22"])
def test_a_telegram_after_line_noise_that_looks_like_an_encrypted_frame_is_read(
    noise: str, telegram: bytes
) -> None:
    """Line noise that makes a general-glo-ciphering header whose length takes in the plain
    telegram after it: the telegram begins inside a frame no meter sent, and is read; the
    noise's bytes are skipped, as any frame's are, whatever the chunking."""
    header = NOISE_HEADERS[noise]
    assert ciphered_frame_end(header + telegram * 2, 0, MAX_BLOCK_BYTES) is not None
    data = header + b"\x9c" + telegram + telegram
    lines = telegram_lines(telegram)
    whole = take("dsmr", data)
    assert whole == (
        lines * 2,
        {
            "frames": 2 * len(lines),
            "skipped": len(header) + 1,
            "rejected": {},
            "ignored": 0,
            "overlong": 0,
        },
    )
    for size in (1, 2, 11, 13, 64, 500):
        assert take("dsmr", data, [size]) == whole, size


def test_a_telegram_inside_a_frame_of_noise_is_read_when_it_ends_not_when_the_frame_does() -> None:
    """A header whose length runs on for some 16 KiB past the telegram: the telegram's lines
    come with its CRC line, not 16 seconds of telegrams later."""
    header = NOISE_HEADERS["three-byte"]
    framer = BlockFramer("dsmr", 2100)
    assert framer.feed(header) == []
    assert framer.feed(DSMR5) == telegram_lines(DSMR5)
    assert framer.skipped_bytes == len(header)


def test_a_meter_on_a_pty_reads_its_telegram_after_noise_like_an_encrypted_frame(
    pty_pair: PtyPair,
) -> None:
    """Through a sensor on a real pty: the reading of the telegram after the noise is
    published, and the noise is the only skipped bytes."""
    clock = PortClock()
    body = (
        'format = "kv"\nchannels = [{ name = "t1", field = "1-0:1.8.1" }]\n'
        'parse = { block = "dsmr", kv_separator = "(", pair_separator = ")", units = ["*kWh"] }\n'
    )
    header = NOISE_HEADERS["two-byte"]
    with sensor_on(pty_pair, clock, body) as opened:
        clock.now += 0.001
        send(opened, pty_pair, header + DSMR5)
        assert latest(opened) == {"t1": 4.426}
        snapshot = opened.snapshot()
        assert (snapshot.skipped_bytes, snapshot.frames) == (len(header), 37)


def test_a_real_encrypted_frame_s_slashes_begin_no_telegram_and_are_skipped_whole() -> None:
    """The ``/`` bytes in a Smarty frame's ciphertext (text after some of them) begin no
    telegram whose check holds: each frame is still skipped whole, nothing rejected."""
    data = SMARTY * 4 + DSMR5
    framer = BlockFramer("dsmr", 2100)
    assert framer.feed(data) == telegram_lines(DSMR5)
    assert framer.skipped_bytes == 4 * len(SMARTY)
    assert sum(framer.rejected.values()) == 0


@settings(max_examples=300, deadline=None)
@given(
    title=st.binary(min_size=8, max_size=8),
    length=st.integers(17, 2000),
    form=st.sampled_from(["short", "81", "82"]),
    control=st.sampled_from([0x10, 0x20, 0x30, 0x31, 0x22]),
    junk=st.binary(max_size=40),
    smarty=st.booleans(),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=8),
)
@example(
    title=b"ABCDEFGH", length=2000, form="82", control=0x30, junk=b"/\r\n", smarty=True, sizes=[1]
)
@example(
    title=bytes(8),
    length=17,
    form="short",
    control=0x10,
    junk=bytes(16) + b"/",
    smarty=False,
    sizes=[1],
)
def test_noise_that_looks_like_an_encrypted_frame_costs_no_telegram_however_chunked(
    *,
    title: bytes,
    length: int,
    form: str,
    control: int,
    junk: bytes,
    smarty: bool,
    sizes: list[int],
) -> None:
    """Any general-glo-ciphering header that line noise makes, any bytes after it, then
    telegrams (maybe a real encrypted frame between them): every telegram is read, and the
    lines and counters do not depend on the chunking."""
    if form == "short":
        claimed = min(length, 0x7F)
        field = bytes([claimed])
    elif form == "81":
        claimed = min(length, 0xFF)
        field = b"\x81" + bytes([claimed])
    else:
        claimed = length
        field = b"\x82" + length.to_bytes(2, "big")
    header = b"\xdb\x08" + title + field + bytes([control])
    junk = junk.replace(b"\xdb", b"")  # a frame of its own, maybe, as a real meter's is
    # past the length the header claims (its control byte the first of it), a / begins a
    # telegram that the next / cuts short, counted truncated, as a / of noise between
    # telegrams is: the noise here is the frame's
    junk = junk[: claimed - 1] + junk[claimed - 1 :].replace(b"/", b"")
    data = header + junk + DSMR5 + (SMARTY if smarty else b"") + DSMR5
    whole = take("dsmr", data)
    assert whole[0] == telegram_lines(DSMR5) * 2
    assert whole[1]["rejected"] == {}
    assert take("dsmr", data, sizes) == whole


@pytest.mark.slow
def test_an_encrypted_meter_is_told_once_through_the_daemon(start_daemon: StartDaemon) -> None:
    """The README's meter on a pty, fed a Smarty meter's encrypted telegrams every 0.2 s: it
    goes stale once, and that warning and ``/status`` carry the hint that names the meter's
    system title; no telegram is counted as a parse error, none is logged on its own."""
    with PtyPair() as meter_pty:
        block = next(b for b in readme_toml_blocks() if 'name = "p1_meter"' in b)
        table = block[block.index('[[sensors]]\nname = "p1_meter"') :].split("\n\n[[sensors]]")[0]
        # stale after 2 s of telegrams that bring no reading, not the default 5 s
        table = re.sub(r'port = "[^"]*"', f'port = "{meter_pty.path}"\nstale_after_s = 2', table)
        daemon = start_daemon(config=table)
        daemon.wait_http()
        daemon.wait_up_settled(["p1_meter"])
        deadline = time.monotonic() + 30.0
        while daemon.status()["sensors"]["p1_meter"]["state"] != "stale":
            assert time.monotonic() < deadline, daemon.status()["sensors"]["p1_meter"]
            meter_pty.write(SMARTY)
            time.sleep(0.2)
        for _ in range(10):  # more of them while stale
            meter_pty.write(SMARTY)
            time.sleep(0.2)
        status = daemon.status()["sensors"]["p1_meter"]
        assert status["hint"] == SMARTY_HINT
        stale = [e for e in daemon.events("sensor state") if e.get("state") == "stale"]
        assert len(stale) == 1, stale
        assert stale[0]["hint"] == SMARTY_HINT
        samples = daemon.scrape()
        assert samples.value("sensord_frames_total", sensor="p1_meter") == 0
        errors = [s for s in samples.samples if s.name == "sensord_parse_errors_total" and s.value]
        assert errors == []
        rejected = [e for e in daemon.log_records() if "rejected" in str(e.get("msg"))]
        assert rejected == []
        assert daemon.stop() == 0


# -- edges --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dsmr", "vedirect"])
def test_at_the_bound_the_framer_decides_the_same_whatever_the_chunking(kind: str) -> None:
    """Each way a block ends (whole, cut short by the next one, a check line without its LF,
    the bytes held while its end has not come) at bounds around its length: the same lines
    and counters from one chunk as from chunks of one byte, and a block of more than the
    bound before its end is overlong."""
    if kind == "dsmr":
        small = envelope("dsmr", SMALL_LINES[:6])
        streams = [
            small + small,  # whole
            small[:-20] + small,  # cut short by the next '/'
            small[: small.index(b"!") + 5] + b"\0\0\0\0" + small,  # no LF after its CRC
        ]
    else:
        small = envelope("vedirect", BMV_LINES[:6])
        streams = [small + small, b"x" + small[1:] + small, small + HEX_0121 + small]
    for data in streams:
        for bound in range(64, len(small) + 12):
            whole = take(kind, data, max_block_bytes=bound)
            assert take(kind, data, [1], max_block_bytes=bound) == whole, (data, bound)
            assert take(kind, data, [7], max_block_bytes=bound) == whole, (data, bound)
            if bound >= len(small) + 2:  # a check line without its LF is known at 8 bytes
                assert whole[1]["overlong"] == 0, (data, bound)
            if bound < len(small) - 12:
                assert whole[1]["overlong"] >= 1, (data, bound)


@pytest.mark.parametrize(
    ("kind", "lines"), [("dsmr", SMALL_LINES[:6]), ("vedirect", BMV_LINES[:6])]
)
def test_a_block_of_one_byte_more_than_the_bound_is_read_and_of_two_is_not(
    kind: str, lines: list[bytes]
) -> None:
    """The bound counts the bytes held before the one that decides the block (its last):
    a block of ``max_block_bytes + 1`` bytes is read, one of ``max_block_bytes + 2`` is
    overlong."""
    block = envelope(kind, lines)
    read, counted = take(kind, block + block, max_block_bytes=len(block) - 1)
    assert (read, counted["overlong"]) == (lines * 2, 0)
    read, counted = take(kind, block + block, max_block_bytes=len(block) - 2)
    assert (read, counted["overlong"]) == ([], 2)


def test_a_telegram_without_an_empty_line_after_its_header_gives_every_line() -> None:
    body = b"/KMP5 ZABF0000\r\n1-0:1.8.1(000123.456*kWh)\r\n1-0:1.7.0(01.234*kW)\r\n!"
    telegram = body + b"%04X\r\n" % crc16_arc(body)
    assert take("dsmr", telegram)[0] == [b"1-0:1.8.1(000123.456*kWh)", b"1-0:1.7.0(01.234*kW)"]


def test_a_telegram_s_end_is_a_bang_at_a_line_start() -> None:
    """``/`` and ``!`` on one line, its CRC right: no end, and the next ``/`` cuts it short; a
    header line and then the end: a telegram of no line."""
    body = b"/KMP5!"
    lines, counted = take("dsmr", body + b"%04X\r\n" % crc16_arc(body) + DSMR5)
    assert (lines, counted["rejected"]) == (telegram_lines(DSMR5), {"truncated": 1})
    body = b"/KMP5\r\n!"
    lines, counted = take("dsmr", body + b"%04X\r\n" % crc16_arc(body) + DSMR5)
    assert (lines, counted["rejected"]) == (telegram_lines(DSMR5), {})


def test_a_colon_in_a_block_s_value_that_begins_no_hex_message_is_text() -> None:
    block = envelope("vedirect", [b"PID\t0x203", b"X\t1:2", b"V\t12800"])
    lines, counted = take("vedirect", block + block)
    assert lines == [b"PID\t0x203", b"X\t1:2", b"V\t12800"] * 2
    assert (counted["rejected"], counted["ignored"]) == ({}, 0)


@pytest.mark.parametrize("kind", ["dsmr", "vedirect"])
def test_an_envelope_reads_back_as_its_lines(kind: str) -> None:
    lines = [b"1-0:1.8.1(1.500)", b"1-0:1.7.0(0.250)"] if kind == "dsmr" else BMV_LINES[:4]
    assert take(kind, envelope(kind, lines) * 2)[0] == lines * 2
    with pytest.raises(ValueError, match=r"block must be one of dsmr, vedirect, gill; got 'x'"):
        envelope("x", lines)
    with pytest.raises(ValueError, match=r"block must be one of dsmr, vedirect, gill; got 'x'"):
        BlockFramer("x")


_CHECKSUM_LABEL = b"\r\nChecksum\t"


def lines_begun(cut: bytes) -> int:
    """The lines of a VE.Direct block's first bytes ``cut`` that began (a CR LF before them)
    and are not its ``Checksum`` line: what the block costs when it is rejected."""
    if _CHECKSUM_LABEL in cut:
        cut = cut[: cut.index(_CHECKSUM_LABEL)]
    return len([line for line in cut.split(b"\n")[1:] if line not in (b"", b"\r")])


@pytest.mark.parametrize(
    "dump",
    [
        "bmv702-main",
        "bmv702-history",
        "smartsolar",
        "bluesolar",
        "bmv712-main",
        "smartshunt",
        "smartsolar150-main",
        "smartsolar150-second",
    ],
)
@pytest.mark.parametrize("keep", [5, 20, 0.5, -12, -1])
def test_a_ve_direct_block_cut_short_mid_stream_costs_its_own_lines_only(
    dump: str, keep: float
) -> None:
    """A block whose end was lost on the line (bytes dropped, no reconnect) runs into the
    next one, and the two fail their check as one: the next block begins at a ``PID`` line
    (or a BMV's history block at ``H1``, the SmartSolar MPPT 150/70's second block at the
    ``ERR`` line learned from its blocks), and its lines are read; only the lines of the cut
    block are rejected, whatever the chunking. With its checksum byte alone lost, the cut
    block's ``Checksum`` line takes the CR that begins the next block: that block is read
    too."""
    name, _, which = dump.partition("-")
    found = ve_blocks(VE_DUMPS[name])
    pieces = [block + (hex_message or b"") for block, hex_message in found]
    # a device's first block runs into its second (a BMV's history block)
    at = 1 if which in ("history", "second") else 0
    block = found[at][0]
    kept = int(keep * len(block)) if isinstance(keep, float) else keep % len(block)
    after = (found[at + 1 :], pieces[at + 1 :]) if at + 1 < len(found) else (found, pieces)
    data = b"".join(pieces) + b"".join(pieces[:at]) + block[:kept] + b"".join(after[1])
    whole = found + found[:at] + after[0]
    expected = [line for b, _ in whole for line in block_lines(b)]
    read = take("vedirect", data)
    assert read == (
        expected,
        {
            "frames": len(expected),
            "skipped": 0,
            "rejected": {"checksum": lines_begun(block[:kept])},
            "ignored": sum(1 for _, hex_message in whole if hex_message),
            "overlong": 0,
        },
    )
    for size in (1, 2, 7, 64):
        assert take("vedirect", data, [size]) == read, size


def test_a_block_whose_check_fails_is_not_read_from_a_later_first_line_whose_sum_fails() -> None:
    """A block damaged after its cut: the text from the next block's ``PID`` line fails its
    check too, and the two are rejected as one."""
    first, second = (block for block, _ in ve_blocks(SMARTSOLAR))
    bad = damaged(second, 60, 0x04)
    lines, counted = take("vedirect", first + first[:50] + bad + first)
    assert lines == block_lines(first) * 2
    assert counted["rejected"] == {"checksum": lines_begun(first[:50]) + len(block_lines(bad))}


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(list(VE_DUMPS)),
    lost_at=st.integers(0, 10_000),
    lost=st.integers(1, 400),
    sizes=st.lists(st.integers(1, 120), min_size=1, max_size=8),
)
@example(name="cr-lf", lost_at=115, lost=1, sizes=[1])  # a checksum byte 0x0D before a CR
# the block from PID cut as the stream begins, run into the block from ERR
@example(name="smartsolar150", lost_at=2, lost=107, sizes=[1])
# a charger's first block cut as the stream begins, run into its next (ERR inside it)
@example(name="smartsolar", lost_at=2, lost=147, sizes=[1])
def test_bytes_lost_in_a_ve_direct_stream_cost_no_block_after_them_however_chunked(
    name: str, lost_at: int, lost: int, sizes: list[int]
) -> None:
    """Any run of bytes lost from three copies of a device's blocks: the lines and counters
    do not depend on the chunking, and every block that begins after the loss is read (the
    one right after it too, which a block cut short runs into). A run lost before a byte
    equal to its first leaves the same bytes as the run one byte later (a checksum byte
    0x0D lost before the next block's CR reads as that CR lost after it: the block before is
    whole, its checksum holds, and the next one lacks its CR), so the loss is placed as
    late as the bytes allow."""
    blocks = [block for block, _ in ve_blocks(VE_DUMPS[name])] * 3
    stream = b"".join(blocks)
    at = lost_at % len(stream)
    data = stream[:at] + stream[at + lost :]
    while at + lost < len(stream) and stream[at] == stream[at + lost]:
        at += 1  # the same data, lost one byte later
    read = take("vedirect", data)
    assert take("vedirect", data, sizes) == read
    ends = list(itertools.accumulate(len(block) for block in blocks))
    after = [
        block for block, end in zip(blocks, ends, strict=True) if end - len(block) >= at + lost
    ]
    expected = [line for block in after for line in block_lines(block)]
    assert read[0][len(read[0]) - len(expected) :] == expected


@pytest.mark.parametrize("kept", [30, 100])
def test_a_charger_on_a_pty_loses_no_block_to_one_cut_short_before_it(
    pty_pair: PtyPair, kept: int
) -> None:
    """Through a sensor on a real pty: the charger's block cut short mid-stream, then a
    whole block, whose lines are read; and a reconnect in a cut block (the port closed and
    opened again) loses no block either."""
    clock = PortClock()
    body = (
        'format = "kv"\nparse = { kv_separator = "\\t", block = "vedirect" }\n'
        'channels = [{ name = "panel_v", field = "VPV" }]\n'
    )
    first, second = (block for block, _ in ve_blocks(SMARTSOLAR))
    with sensor_on(pty_pair, clock, body) as opened:
        clock.now += 1.0
        send(opened, pty_pair, first + second[:kept])
        send(opened, pty_pair, first)
        assert opened.snapshot().frames == 2 * len(block_lines(first))
        send(opened, pty_pair, second[:kept])
        opened.disconnect("unplugged")
        clock.now += 5.0
        assert opened.try_open()
        clock.now += 1.0
        send(opened, pty_pair, second)
        snapshot = opened.snapshot()
        assert snapshot.frames == 3 * len(block_lines(first))
        assert snapshot.parse_errors["checksum"] == lines_begun(second[:kept])
        assert snapshot.skipped_bytes == kept


def test_a_reconnect_counts_the_block_held_and_searches_the_next_from_its_start() -> None:
    """``reset`` (the port opened again) adds the bytes of the block not all come to the
    skipped bytes, and forgets where blocks start: a VE.Direct block whose check fails after
    it is skipped, not rejected, until one holds."""
    block, _ = ve_blocks(BMV702)[0]
    framer = BlockFramer("vedirect", 2100)
    framer.feed(b"noise\r\n")  # 5 skipped, then a CR LF held: a block may begin there
    framer.feed(block[:40])  # it begins with a CR LF: the one held ended an empty line
    assert framer.skipped_bytes == 7
    framer.reset()
    held = 5 + 2 + 40
    assert framer.skipped_bytes == held
    bad = damaged(block, 20, 1)
    assert framer.feed(bad) == []
    assert (framer.rejected["checksum"], framer.skipped_bytes) == (0, held + len(bad))
    assert framer.feed(block) == block_lines(block)
    assert framer.feed(bad) == []
    assert framer.rejected["checksum"] == len(block_lines(block))
    framer.feed(block[:30])
    framer.drop_pending()
    assert framer.skipped_bytes == held + len(bad) + 30
    framer.feed(block[:30])
    assert framer.flush() == []
    assert framer.skipped_bytes == held + len(bad) + 60


NOT_TEXT = (
    "the bytes are not text: check the serial settings (baudrate, bytesize, parity, stopbits) "
    "against the device's, and on RS-485 that A and B are not swapped"
)


@pytest.mark.parametrize(
    ("kind", "data", "hint"),
    [
        (
            "dsmr",
            b"1-0:1.8.1(000004.426*kWh)\r\n" * 3,
            "no telegram start '/' in the bytes: is this a DSMR P1 port (parse.block = 'dsmr')?",
        ),
        (
            "dsmr",
            DSMR5[:200],
            "a telegram began ('/') but its end ('!' and its CRC) did not come: check that the "
            "meter sends DSMR telegrams",
        ),
        (
            "dsmr",
            bytes(range(128, 256)) * 2,
            NOT_TEXT + "; a Luxembourg Smarty meter sends its telegrams encrypted, which sensord "
            "does not read",
        ),
        (
            "vedirect",
            b"V\t12800\r\n" * 3,
            "no VE.Direct block end (a 'Checksum' line after a CR LF) in the bytes: is this a "
            "VE.Direct text port (parse.block = 'vedirect'), in text mode?",
        ),
        ("vedirect", envelope("vedirect", []) * 3, "blocks came but none held a line"),
        ("vedirect", bytes(range(128, 256)) * 2, NOT_TEXT),
    ],
    ids=["no-start", "no-end", "dsmr-not-text", "no-block", "empty", "not-text"],
)
def test_the_hint_for_bytes_that_gave_no_line_says_why(kind: str, data: bytes, hint: str) -> None:
    framer = BlockFramer(kind, 2100)
    assert framer.feed(data) == []
    assert framer.no_frame_hint(data) == hint


def test_the_hint_for_blocks_that_failed_their_check_counts_their_lines() -> None:
    bad = DSMR5.replace(b"4.426", b"4.436")
    framer = BlockFramer("dsmr", 2100)
    data = bad + DSMR5[:300] + bad
    assert framer.feed(data) == []
    assert framer.no_frame_hint(data) == (
        "blocks came but failed their check (their lines: 74 checksum, 12 truncated): bytes "
        "lost or changed on the line; check the cable, its length and the serial settings"
    )


def test_a_hex_message_at_any_byte_of_a_block_but_its_last_leaves_the_block_read() -> None:
    """Inside the ``Checksum`` label too: the label is found in the block's own bytes."""
    block = ve_blocks(SMARTSOLAR)[0][0]
    for at in range(2, len(block) - 1):
        data = block[:at] + ASYNC_HEX + block[at:] + block
        lines, counted = take("vedirect", data)
        assert lines == block_lines(block) * 2, at
        assert (counted["ignored"], counted["rejected"], counted["skipped"]) == (2, {}, 0), at


def block_whose_checksum_is(byte: int) -> bytes:
    """A block whose checksum byte is ``byte``, found by three characters of its serial
    number (printable ASCII, whose sums of three take every value mod 256)."""
    for first, second, third in itertools.product(range(0x30, 0x7B), repeat=3):
        serial = b"SER#\tHQ%c%c%cYIKN" % (first, second, third)
        block = envelope("vedirect", [b"PID\t0x203", b"V\t12800", serial])
        if block[-1] == byte:
            return block
    raise AssertionError(byte)


@pytest.mark.parametrize("after", [b"block", b"hex"])
def test_a_checksum_byte_that_is_a_colon_ends_its_block(after: bytes) -> None:
    colon = block_whose_checksum_is(ord(":"))
    other = envelope("vedirect", [b"PID\t0x203", b"V\t12900"])
    following = other if after == b"block" else HEX_0121 + other
    data = colon + following + colon + other
    whole = take("vedirect", data)
    assert whole[0] == (block_lines(colon) + block_lines(other)) * 2
    assert (whole[1]["rejected"], whole[1]["skipped"]) == ({}, 0)
    assert whole[1]["ignored"] == (after == b"hex")
    for size in (1, 2, 5):
        assert take("vedirect", data, [size]) == whole


def test_a_hex_message_shows_where_the_next_block_starts() -> None:
    """After a HEX message a block's start is known: one that fails its check is rejected,
    as after a block, not skipped as after noise."""
    block = ve_blocks(BMV702)[0][0]
    bad = block.replace(b"V\t12065", b"V\t12165")
    for before in (b"noise" + block, b"noise" + HEX_0121):
        _, counted = take("vedirect", before + bad)
        assert counted["rejected"] == {"checksum": len(block_lines(block))}, before
        assert counted["skipped"] == 5, before


def test_dsmr_garbage_with_a_header_by_chance_is_not_told_as_an_encrypted_meter() -> None:
    """Random bytes (a meter read at the wrong line speed) hold a general-glo-ciphering
    header by chance in about 1 % of 16 KiB windows: this seed's at byte 1959. The hint is
    that of bytes that are not text, the serial settings first."""
    garbage = random.Random(186).randbytes(16384)
    framer = BlockFramer("dsmr", 4096)
    framer.feed(garbage)
    hint = framer.no_frame_hint(garbage)
    assert "serial settings" in hint.split(";")[0], hint


# -- real captures of more Victron devices: every field a user reads ----------------------------


def ve_sensor(fields: str) -> Config:
    """The README's VE.Direct sensor reading a channel of each of ``fields`` (``V*0.001``: the
    field ``V`` times 0.001, ``PPV``: as sent), named after its field."""
    channels = []
    for field in fields.split():
        label, _, scale = field.partition("*")
        name = label.lower().replace("#", "")
        channels.append({"name": name, "field": label, "normalize": {"scale": float(scale or 1)}})
    return sensor_of({**BATTERY, "channels": channels})


@pytest.mark.parametrize(
    ("data", "fields", "values"),
    [
        (  # charging: TTG -1 (infinite), SOC in per mille, CE in mAh, T in degrees C
            BMV712,
            "V*0.001 I*0.001 P CE*0.001 SOC*0.1 TTG T AR H1*0.001 H6*0.001 H7*0.001 H8*0.001 "
            "H10 H15*0.001 H16*0.001 H17*0.01 H18*0.01",
            {"v": 13.043, "i": 3.856, "p": 50, "ce": 0, "soc": 100.0, "ttg": -1, "t": 23}
            | {"ar": 0, "h1": -161.154, "h6": -979.55, "h7": 0.029, "h8": 14.371, "h10": 1}
            | {"h15": 0.026, "h16": 9.047, "h17": 12.24, "h18": 11.45},
        ),
        (  # at night: CS 0 (off), MPPT 0 (off), its yields in 0.01 kWh
            BLUESOLAR_75_15,
            "V*0.001 I*0.001 VPV*0.001 PPV CS MPPT ERR IL*0.001 H19*0.01 H20*0.01 H21 "
            "H22*0.01 H23 HSDS",
            {"v": 12.44, "i": 0, "vpv": 0, "ppv": 0, "cs": 0, "mppt": 0, "err": 0, "il": 0}
            | {"h19": 5.59, "h20": 0.24, "h21": 84, "h22": 0.22, "h23": 67, "hsds": 34},
        ),
        (  # inverting (CS 9, MODE 2): AC_OUT_V in 0.01 V, AC_OUT_I in 0.1 A
            PHOENIX_120V,
            "AC_OUT_V*0.01 AC_OUT_I*0.1 V*0.001 CS MODE AR WARN",
            {"ac_out_v": 120.03, "ac_out_i": 0.2, "v": 13.308, "cs": 9, "mode": 2, "ar": 0}
            | {"warn": 0},
        ),
        (  # AC_OUT_S in VA
            PHOENIX_230V,
            "AC_OUT_V*0.01 AC_OUT_I*0.1 AC_OUT_S V*0.001",
            {"ac_out_v": 230.07, "ac_out_i": 0.1, "ac_out_s": 38, "v": 13.232},
        ),
        (  # bulk (CS 3), MPPT 2 (tracking), after a HEX message
            b"abcd" + HEX_0201 + SMARTSOLAR_75_15,
            "V*0.001 I*0.001 VPV*0.001 PPV CS MPPT H19*0.01 H20*0.01 H21",
            {"v": 13.26, "i": 1.83, "vpv": 33.65, "ppv": 26, "cs": 3, "mppt": 2, "h19": 25.52}
            | {"h20": 0.03, "h21": 34},
        ),
        (  # VS: the starter battery's input, here unconnected
            SMARTSHUNT,
            "V*0.001 VS*0.001 I*0.001 SOC*0.1 TTG H1*0.001 H7*0.001 H8*0.001 H15*0.001",
            {"v": 12.868, "vs": -0.012, "i": 0, "soc": 100.0, "ttg": -1, "h1": -32.914}
            | {"h7": 12.041, "h8": 14.282, "h15": -0.022},
        ),
    ],
    ids=["bmv712", "bluesolar-75-15", "phoenix-120v", "phoenix-230v", "smartsolar-75-15", "shunt"],
)
def test_every_field_of_a_real_block_reads_its_value_in_its_unit(
    data: bytes, fields: str, values: dict[str, float]
) -> None:
    """Each capture's numeric fields, scaled from the unit VE.Direct sends them in (Victron's
    VE.Direct protocol document, "Fields"), read as the device meant them, without a parse
    error; the next block's CR LF ends the last line."""
    rt = runtime(ve_sensor(fields))
    rt.feed(data + b"\r\n")
    assert counts(rt)["errors"] == {}
    assert latest(rt) == pytest.approx(values)


def test_a_smartshunt_s_reads_give_every_block_whose_check_holds() -> None:
    """Two reads of a SmartShunt as they came: the bytes before the first block are skipped,
    the history block with a line its checksum does not count is rejected (its 17 lines), and
    the blocks around it are read, however the stream is chunked."""
    history, main_k = (block for block, _ in ve_blocks(SMARTSHUNT))
    main_j = SMARTSHUNT_READS[-len(main_k) :]
    whole = take("vedirect", SMARTSHUNT_READS)
    expected = block_lines(history) + block_lines(main_k) + block_lines(main_j)
    assert whole == (
        expected,
        {"frames": len(expected), "skipped": 2, "rejected": {"checksum": 17}, "ignored": 0}
        | {"overlong": 0},
    )
    assert len(block_lines(SMARTSHUNT_WITH_MON)) == 17
    for size in (1, 2, 7, 64):
        assert take("vedirect", SMARTSHUNT_READS, [size]) == whole
    rt = runtime(sensor_of(BATTERY))
    rt.feed(SMARTSHUNT_READS + b"\r\n")
    assert latest(rt) == pytest.approx(
        {"battery_voltage_v": 12.868, "battery_current_a": 0.0, "state_of_charge_percent": 100.0}
    )
    # and each block of readings' TTG of -1 (the SmartShunt at rest): not_available
    assert counts(rt)["errors"] == {"checksum": 17, "invalid": 2}


def test_a_smartsolar_s_block_after_a_hex_message_and_the_end_of_another_is_read() -> None:
    data = b"abcd" + HEX_0201 + SMARTSOLAR_75_15
    whole = take("vedirect", data)
    expected = block_lines(SMARTSOLAR_75_15)
    assert whole == (
        expected,
        {"frames": len(expected), "skipped": 4, "rejected": {}, "ignored": 1, "overlong": 0},
    )
    for size in (1, 2, 7):
        assert take("vedirect", data, [size]) == whole


@pytest.mark.parametrize("byte", [0x09, 0x00, 0x20, 0xFF])
def test_a_checksum_byte_that_is_a_tab_a_nul_or_a_space_ends_its_block(byte: int) -> None:
    """A value's separator (TAB), a NUL or a space for the checksum byte: the block is read,
    and so is the BMV-712's pair after it, with or without a HEX message between."""
    block = block_whose_checksum_is(byte)
    for between in (b"", HEX_0201):
        data = block + between + BMV712 + block
        whole = take("vedirect", data)
        expected = block_lines(block) + [
            line for b, _ in ve_blocks(BMV712) for line in block_lines(b)
        ]
        assert whole[0] == expected + block_lines(block), (byte, between)
        assert (whole[1]["rejected"], whole[1]["skipped"]) == ({}, 0)
        for size in (1, 3):
            assert take("vedirect", data, [size]) == whole


def test_a_bmv_not_synchronised_has_no_state_of_charge_and_no_frame_error() -> None:
    """Until its first full charge (after it lost power, or a new battery) a BMV sends
    ``---`` for CE, SOC and TTG (Victron's VE.Direct protocol document: "When the BMV is not
    synchronised, these statistics have no meaning, so '---' will be sent instead of a
    value"), here in the BMV-702's blocks. The README's battery reads it as the device marking
    no value: ``invalid``, which the frame error alert leaves out, and the state of charge has
    no current value (not the last one read, shown as current); the other readings come."""
    main, history = (block for block, _ in ve_blocks(BMV702)[:2])
    lines = [re.sub(rb"^(CE|SOC|TTG)\t.*", rb"\1\t---", line) for line in block_lines(main)]
    unsynchronised = envelope("vedirect", lines)
    assert b"\r\nSOC\t---\r\n" in unsynchronised
    rt = runtime(sensor_of(BATTERY))
    rt.feed(main + history + unsynchronised + history + b"\r\n")
    # readings: V, I, SOC, TTG and Relay of the first block, V, I and Relay of the second;
    # invalid: its SOC and TTG lines
    assert counts(rt) == {"frames": 52, "ignored": 42, "readings": 8, "errors": {"invalid": 2}}
    assert {c.name: c.available for c in rt.snapshot().channels} == {
        "battery_voltage_v": True,
        "battery_current_a": True,
        "state_of_charge_percent": False,
        "time_to_go_seconds": False,
        "relay_closed": True,
    }


@pytest.mark.parametrize(
    "name", ["bmv712", "bluesolar-75-15", "phoenix-120v", "phoenix-230v", "smartshunt"]
)
def test_the_smartsolar_s_hex_message_at_any_byte_of_a_real_block_leaves_it_read(
    name: str,
) -> None:
    """The SmartSolar MPPT 75/15's asynchronous message (``:A0102000543``) sent at any byte of
    each block of another capture but its first CR LF and its checksum byte: the blocks are
    read as sent, the message ignored."""
    blocks = [block for block, _ in ve_blocks(VE_DUMPS[name])]
    for k, block in enumerate(blocks):
        for at in range(2, len(block) - 1):
            sent = [*blocks[:k], block[:at] + HEX_0201 + block[at:], *blocks[k + 1 :]]
            lines, counted = take("vedirect", b"".join(blocks + sent + blocks))
            assert lines == [line for b in blocks * 3 for line in block_lines(b)], (k, at)
            assert (counted["ignored"], counted["rejected"], counted["skipped"]) == (1, {}, 0)


# -- hex fields: PID, OR ------------------------------------------------------------------------


def off_reason_block(off_reason: bytes) -> bytes:
    """The SmartSolar MPPT 75/15's real block with ``off_reason`` in its ``OR`` line, its
    checksum byte made to hold again: the block the charger sends when it is off so."""
    lines = [
        b"OR\t" + off_reason if line.startswith(b"OR\t") else line
        for line in block_lines(SMARTSOLAR_75_15)
    ]
    return envelope("vedirect", lines)


@pytest.mark.parametrize("table", ["battery", "solar"])
@pytest.mark.parametrize(
    ("data", "values"),
    [
        (BMV702, {"pid": 0x203}),
        (BMV712, {"pid": 0xA381}),
        (SMARTSHUNT, {"pid": 0xA389}),
        (BLUESOLAR_75_15, {"pid": 0xA042}),
        (PHOENIX_120V, {"pid": 0xA279, "or": 0}),
        (PHOENIX_230V, {"pid": 0xA2F1, "or": 0}),
        (SMARTSOLAR_75_15, {"pid": 0xA053, "or": 0}),
    ],
    ids=["bmv702", "bmv712", "shunt", "bluesolar-75-15", "phoenix-120v", "phoenix-230v", "mppt"],
)
def test_the_hex_fields_of_real_blocks_read_as_the_numbers_they_write(
    table: str, data: bytes, values: dict[str, float]
) -> None:
    """``PID`` and ``OR``, which VE.Direct writes in hex (``0xA053``, ``0x00000000``), read as
    those numbers, through the README's battery (its ``parse.invalid``) and charger (the plain
    reader), without a parse error; the decimal fields around them read as before."""
    channels: list[dict[str, Any]] = [
        {"name": "pid", "field": "PID"},
        {"name": "or", "field": "OR"},
    ]
    channels.append({"name": "v", "field": "V", "normalize": {"scale": 0.001}})
    rt = runtime(sensor_of({**README[table], "channels": channels}))
    rt.feed(data + b"\r\n")
    assert counts(rt)["errors"] == {}
    read = latest(rt)
    assert {k: v for k, v in read.items() if k != "v"} == values
    assert 11.0 < read["v"] < 14.0


#: Victron's VE.Direct protocol document, "OR": the off reasons, one bit each.
OFF_REASONS = {
    b"0x00000001": 1,  # no input power
    b"0x00000002": 2,  # switched off (power switch)
    b"0x00000004": 4,  # switched off (device mode register)
    b"0x00000008": 8,  # remote input
    b"0x00000010": 16,  # protection active
    b"0x00000020": 32,  # PAYGo
    b"0x00000040": 64,  # BMS
    b"0x00000080": 128,  # engine shutdown detection
    b"0x00000100": 256,  # analysing input voltage
    b"0x00000101": 257,  # no input power while it analyses the input voltage
    b"0xFFFFFFFF": 0xFFFFFFFF,  # every bit: 32 of them, exact
    b"0x0000abcd": 0xABCD,  # lower case digits
}


@pytest.mark.parametrize("written", list(OFF_REASONS))
def test_an_off_reason_reads_as_its_bits_and_a_damaged_one_is_syntax(written: bytes) -> None:
    """The charger's off reason as the document lists it reads as the number of its bits, to
    alert on; a damaged one (a digit that is no hex digit, a ninth digit, the ``0x`` alone or
    lost) is ``syntax``, the line rejected, as a damaged decimal value is."""
    channels = [{"name": "off_reason", "field": "OR"}, {"name": "cs", "field": "CS"}]
    rt = runtime(sensor_of({**SOLAR, "channels": channels}))
    rt.feed(off_reason_block(written) + b"\r\n")
    assert counts(rt)["errors"] == {}
    assert latest(rt) == {"off_reason": OFF_REASONS[written], "cs": 3}
    for damaged_value in (b"0x0000000G", b"0x000000001", b"0x", b"00000001x", b"0x-1"):
        rt.feed(off_reason_block(damaged_value) + b"\r\n")
    assert counts(rt)["errors"] == {"syntax": 5}


def test_a_hex_value_is_no_number_without_a_vedirect_block() -> None:
    """Read line by line (``parse.ignore``, no ``block``), a kv sensor's ``0x`` value stays
    ``syntax``, as any text that is no number; in VE.Direct blocks the same lines read."""
    channels = [{"name": "off_reason", "field": "OR"}, {"name": "pid", "field": "PID"}]
    table = {**SOLAR, "channels": channels}
    lines = with_ignore(table, ["^Checksum\t", "^:[0-9A-F]+$"])
    read_by_line = runtime(load_sensors({**lines, "port": "sim://solar"}))
    read_by_line.feed(SMARTSOLAR_75_15 + b"\r\n")
    assert counts(read_by_line)["errors"] == {"syntax": 2}
    in_blocks = runtime(sensor_of(table))
    in_blocks.feed(SMARTSOLAR_75_15 + b"\r\n")
    assert (counts(in_blocks)["errors"], latest(in_blocks)) == (
        {},
        {"off_reason": 0, "pid": 0xA053},
    )


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(max_size=12),
        st.floats().map(str),
        st.integers().map(str),
        st.from_regex(r"\A\s?[+-]?0[xX][0-9A-Fa-f_]{0,10}\s?\Z"),
        st.sampled_from(["ovf", "- 12.5", "1_000", "9.9E37", "٣", " nan", "12 C"]),
    )
)
def test_a_vedirect_value_that_is_no_hex_reads_as_number_reads_it(text: str) -> None:
    """``hex_or_number`` gives what ``number`` gives, value or ParseError (reason and detail),
    for every text but ``0x`` and 1 to 8 hex digits, which it reads as that whole number."""
    written = re.fullmatch(r"[ \t\n\r\x0b\x0c]*0[xX]([0-9A-Fa-f]{1,8})[ \t\n\r\x0b\x0c]*", text)
    if written is not None:
        assert hex_or_number(text) == int(written[1], 16)
        return
    try:
        expected: float | tuple[str, str] = number(text)
    except ParseError as exc:
        expected = (exc.reason, exc.detail)
    try:
        got: float | tuple[str, str] = hex_or_number(text)
    except ParseError as exc:
        got = (exc.reason, exc.detail)
    assert got == expected


def test_a_vedirect_sensor_reads_its_decimal_values_as_plain_numbers_do() -> None:
    """The reader of a VE.Direct field without units or ``parse.invalid`` is
    ``hex_or_number``, one function as ``number`` is elsewhere: no wrapper per value."""
    spec = sensor_of({**SOLAR, "channels": [{"name": "v", "field": "V"}]}).sensors[0]
    assert value_readers(spec.format_spec()) == {"V": hex_or_number}
    plain = sensor_of({**SOLAR, "parse": {"kv_separator": "\t"}})
    assert set(value_readers(plain.sensors[0].format_spec()).values()) == {number}


def test_a_simulated_charger_writes_pid_and_or_in_hex_as_the_device_does() -> None:
    """A simulated charger (``sim://``) whose channels read ``PID`` and ``OR`` writes them as
    the device does: ``0x`` and upper case hex digits, ``OR`` with 8 of them, the whole number
    nearest each sample; its sensor reads them back without a parse error."""
    channels = [
        {"name": "pid", "field": "PID", "signal": {"center": 0xA053, "amplitude": 0, "noise": 0}},
        {
            "name": "off_reason",
            "field": "OR",
            "signal": {"center": 4, "amplitude": 6, "period_s": 40, "noise": 0},
        },
        {"name": "panel_power_w", "field": "PPV"},
    ]
    config = sensor_of({**SOLAR, "channels": channels})
    sensor = config.sensors[0]
    spec = sensor.format_spec()
    device = SimulatedDevice(spec, sensor.signal_specs(), 1.0, b"\r\n", SimulationSpec(), 0.0)
    data = b"".join(device.bytes_due(float(t)) for t in range(40))  # samples at 0 to 39 s
    assert device.frames_written == 40 * 3
    pids = re.findall(rb"\r\nPID\t([^\r]*)", data)
    reasons = re.findall(rb"\r\nOR\t([^\r]*)", data)
    assert set(pids) == {b"0xA053"}
    assert all(re.fullmatch(rb"0x[0-9A-F]{8}", r) for r in reasons), reasons
    nearest = [max(0, round(4 + 6 * math.sin(2 * math.pi * t / 40))) for t in range(40)]
    assert [int(r, 16) for r in reasons] == nearest  # below 0 written as 0
    rt = runtime(config)
    rt.feed(data + b"\r\n")
    assert counts(rt)["errors"] == {}
    assert counts(rt)["readings"] == 40 * 3
    assert latest(rt)["pid"] == 0xA053


# -- a device that sends no PID: the BMV-600S ---------------------------------------------------


#: The BMV-600S's block of readings and its history block.
BMV600S_MAIN, BMV600S_HISTORY = (block for block, _ in ve_blocks(BMV600S))


def bmv600s_stream(kept: int) -> tuple[bytes, list[bytes], int]:
    """The BMV-600S's pairs of blocks with its history block cut after ``kept`` bytes (its
    end lost on the line: it runs into the next block of readings, which begins at ``V``), and
    later a block of readings whose ``Checksum`` label was hit run into one with a changed
    value, the two changes cancelling (``Checksum`` to ``Checksun`` +1, ``CE -1`` to ``CE -0``
    -1); before them a block of the ``Checksum`` line alone, whose sum holds (its line,
    taken for a first line, is forgotten at the next block, which has one after its first);
    the lines to read, and how many are rejected."""
    main, history = BMV600S_MAIN, BMV600S_HISTORY
    first = main.replace(b"Checksum", b"Checksun")
    second = main.replace(b"CE\t-1", b"CE\t-0")
    assert (sum(first) + sum(second)) & 0xFF == 0  # the two hold as one
    data = envelope("vedirect", []) + main + history + main + history[:kept] + main + history
    data += first + second + main + history
    read = [main, history, main, main, history, main, history]
    # the cut block's lines, the damaged pair's (the first's Checksum line among them)
    rejected = lines_begun(history[:kept]) + len(block_lines(first)) + 1 + len(block_lines(second))
    return data, [line for block in read for line in block_lines(block)], rejected


def test_a_bmv600s_block_of_readings_after_a_cut_one_is_read_however_chunked() -> None:
    """A BMV-600S sends no ``PID``: its block of readings begins at ``V``, its history block at
    ``H1``. The history block cut short at any byte runs into the block of readings after
    it, which is read (``V`` began the blocks of readings before it); only the cut block's
    lines are rejected, whatever the chunking. Cut after 15 bytes (``H1`` and ``H2`` with its
    CR) its bytes sum to 0 mod 256, and the two make a block whose sum holds and that names
    each label once: it holds ``V`` after its first line, so it is refused as two run into
    one, and the block of readings read from there. Two blocks of readings run into one whose
    damages cancel are still rejected, though the second begins at ``V``: its own sum fails."""
    history = BMV600S_HISTORY
    assert sum(history[:15]) & 0xFF == 0
    for kept in range(3, len(history)):  # (2: its CR LF alone, an empty line, skipped)
        data, expected, rejected = bmv600s_stream(kept)
        read = take("vedirect", data)
        assert read == (
            expected,
            {"frames": len(expected), "skipped": 0, "rejected": {"checksum": rejected}}
            | {"ignored": 0, "overlong": 0},
        ), kept
        for size in (1, 2, 7, 64):
            assert take("vedirect", data, [size]) == read, (kept, size)


def seconds_later(block: bytes, seconds: int) -> bytes:
    """A block of the BMV-600S ``seconds`` later: its ``V`` and ``H9`` (the seconds since the
    last full charge) that much more, its checksum byte made to hold."""
    lines = []
    for line in block_lines(block):
        label, _, value = line.partition(b"\t")
        changed = label in {b"V", b"H9"}
        lines.append(b"%s\t%d" % (label, int(value) + seconds) if changed else line)
    return envelope("vedirect", lines)


#: Its pairs of blocks of three seconds, told apart by their values.
BMV600S_SECONDS = [
    seconds_later(block, k) for k in range(3) for block in (BMV600S_MAIN, BMV600S_HISTORY)
]


@settings(max_examples=300, deadline=None)
@given(
    lost_at=st.integers(0, 10_000),
    lost=st.integers(1, 400),
    sizes=st.lists(st.integers(1, 120), min_size=1, max_size=8),
)
@example(lost_at=len(BMV600S_HISTORY) - 12, lost=11, sizes=[3])  # the Checksum label
@example(lost_at=250, lost=100, sizes=[1])  # from a history block into a block of readings
def test_bytes_lost_in_a_bmv600s_stream_cost_no_block_after_them_however_chunked(
    lost_at: int, lost: int, sizes: list[int]
) -> None:
    """Any run of bytes lost from three of the BMV-600S's pairs of blocks (a second apart:
    ``V`` and ``H9`` differ) after its first block of readings (which taught the framer that
    ``V`` begins one): the lines and counters do not depend on the chunking, and every block
    that begins after the loss is read, the one right after it too (a block cut short runs
    into it), also a block of readings; the loss is placed as late as the bytes allow (see
    ``test_bytes_lost_in_a_ve_direct_stream_cost_no_block_after_them_however_chunked``)."""
    blocks = BMV600S_SECONDS
    stream = b"".join(blocks)
    at = len(BMV600S_MAIN) + lost_at % (len(stream) - len(BMV600S_MAIN))
    data = stream[:at] + stream[at + lost :]
    while at + lost < len(stream) and stream[at] == stream[at + lost]:
        at += 1  # the same data, lost one byte later
    read = take("vedirect", data)
    assert take("vedirect", data, sizes) == read
    ends = list(itertools.accumulate(len(block) for block in blocks))
    after = [
        block for block, end in zip(blocks, ends, strict=True) if end - len(block) >= at + lost
    ]
    expected = [line for block in after for line in block_lines(block)]
    assert read[0][len(read[0]) - len(expected) :] == expected


def test_a_first_block_cut_short_runs_into_the_next_of_its_kind_and_that_one_is_read() -> None:
    """Right after the open no block has shown that ``V`` begins one: the BMV-600S's first
    block of readings, cut short at any byte after its ``V`` label and its history block lost
    whole, runs into the next block of readings, which begins with the line the cut one
    began with, and is read; the cut one's bytes are skipped (no block's start is known
    yet), whatever the chunking."""
    main, history = BMV600S_MAIN, BMV600S_HISTORY
    for kept in range(len(b"\r\nV\t"), len(main)):
        data = main[:kept] + main + history
        expected = block_lines(main) + block_lines(history)
        read = take("vedirect", data)
        assert read == (
            expected,
            {"frames": len(expected), "skipped": kept, "rejected": {}, "ignored": 0}
            | {"overlong": 0},
        ), kept
        for size in (1, 2, 7):
            assert take("vedirect", data, [size]) == read, (kept, size)


def block_whose_lines_from(line: bytes, lines: list[bytes]) -> bytes:
    """A block of ``lines`` (the BMV-600S's readings, ``V`` and ``CE`` varied) whose bytes
    from the CR LF before ``line`` hold the check by themselves (those before it sum to 0 mod
    256): the block read from there, by a framer that caught it in its middle, holds its
    check by chance, as 1 in 256 such blocks do."""
    for consumed, volts in itertools.product(range(-1, -100, -1), range(10000, 20000)):
        varied = [b"V\t%d" % volts, lines[1], b"CE\t%d" % consumed, *lines[3:]]
        block = envelope("vedirect", varied)
        if sum(block[block.index(b"\r\n" + line) :]) & 0xFF == 0:
            return block
    raise AssertionError(line)


def test_a_block_caught_in_its_middle_whose_sum_held_teaches_no_first_line_for_long() -> None:
    """The port opened in the middle of a block of readings whose bytes from its ``TTG`` line
    hold the check: that part is read as a block, and ``TTG`` taken for a first line. The
    next block of readings holds ``TTG`` after its first line, so ``TTG`` is forgotten and
    ``V`` learned: a cut history block that runs into a block of readings costs only its
    own lines (with ``TTG`` still taken for a first line, the text from there fails its
    check, and the block of readings would be lost with the cut one)."""
    main, history = BMV600S_MAIN, BMV600S_HISTORY
    caught = block_whose_lines_from(b"TTG\t-1", block_lines(main))
    middle = caught[caught.index(b"\r\nTTG\t") :]
    data = middle + history + main + history + history[:60] + main + history
    expected = block_lines(middle) + block_lines(history) + block_lines(main)
    expected += block_lines(history) + block_lines(main) + block_lines(history)
    for size in (None, 1, 5):
        lines, counted = take("vedirect", data, [size] if size else None)
        assert lines == expected, size
        assert counted["rejected"] == {"checksum": lines_begun(history[:60])}, size


def test_the_readme_battery_reads_a_bmv600s_s_readings_after_a_cut_history_block() -> None:
    """Through the README's battery: a BMV-600S's block of readings after its history block
    cut short on the line publishes its readings (its ``TTG`` of -1 counted ``invalid``, as
    in each block of readings); the cut block costs its own lines as ``checksum``."""
    main, history = BMV600S_MAIN, BMV600S_HISTORY
    later = seconds_later(main, 2)
    rt = runtime(sensor_of(BATTERY))
    rt.feed(main + history + main + history[:60] + later + history + b"\r\n")
    expected = {
        "frames": 3 * 10 + 2 * 12,
        "ignored": 3 * 5 + 2 * 12,  # CE, Alarm, AR, BMV and FW; the history lines
        "readings": 3 * 4,  # V, I, SOC and Relay
        "errors": {"checksum": lines_begun(history[:60]), "invalid": 3},
    }
    assert counts(rt) == expected
    assert latest(rt) == pytest.approx(
        {"battery_voltage_v": 14.676, "battery_current_a": 0.0, "state_of_charge_percent": 80.0}
        | {"relay_closed": 0.0}
    )


# -- a cut block whose bytes sum to 0 mod 256 ---------------------------------------------------


#: The devices that send two kinds of block (readings, history), each after the other.
TWO_KINDS = {"bmv702": BMV702, "bmv712": BMV712, "smartshunt": SMARTSHUNT, "bmv600s": BMV600S}


@pytest.mark.parametrize("name", list(TWO_KINDS))
@pytest.mark.parametrize("at", [0, 1])
def test_either_block_of_a_battery_monitor_cut_at_any_byte_costs_its_own_lines_only(
    name: str, at: int
) -> None:
    """A battery monitor's block of readings or of history cut short at every byte (after
    its first CR LF) runs into the block of the other kind after it; only the cut block's
    lines are rejected, and the next block is read, whatever the chunking. Where the cut
    bytes sum to 0 mod 256 (the BMV-702's history block after 52 bytes, ``H6`` cut to
    ``-55262`` from ``-5526294``; the BMV-712's readings after 22 and 107, the SmartShunt's
    after 16, the BMV-600S's history after 15), the two hold their sum as one and name each
    label once: the next block's first line (``PID``, ``H1``, the BMV-600S's ``V``) after the
    first shows two blocks run into one, and the cut value is not read."""
    first, second = (block for block, _ in ve_blocks(TWO_KINDS[name])[:2])
    cut_block = (first, second)[at]
    zero_sum = [kept for kept in range(3, len(cut_block)) if sum(cut_block[:kept]) & 0xFF == 0]
    assert zero_sum == {
        ("bmv702", 1): [52],
        ("bmv712", 0): [22, 107],
        ("smartshunt", 1): [16],
        ("bmv600s", 1): [15],
    }.get((name, at), [])
    for kept in range(3, len(cut_block)):
        cut = cut_block[:kept]
        if at == 0:
            data = first + second + cut + second + first + second
            read = [first, second, second, first, second]
        else:
            data = first + second + first + cut + first + second
            read = [first, second, first, first, second]
        expected = [line for block in read for line in block_lines(block)]
        result = take("vedirect", data)
        assert result == (
            expected,
            {"frames": len(expected), "skipped": 0, "rejected": {"checksum": lines_begun(cut)}}
            | {"ignored": 0, "overlong": 0},
        ), kept
        for size in (1, 2, 7, 64):
            assert take("vedirect", data, [size]) == result, (kept, size)


def test_the_bmv702_s_history_cut_to_a_zero_sum_publishes_no_cut_value() -> None:
    """The exact bytes: the BMV-702's history block cut after ``H6\t-55262`` (52 bytes that
    sum to 0 mod 256), then its block of readings, whose sum makes the two hold theirs. The
    readings are read, the cut block's six lines rejected, and no ``H6`` of ``-55262``."""
    main, history = (block for block, _ in ve_blocks(BMV702)[:2])
    cut = history[:52]
    assert cut == b"\r\nH1\t-149322\r\nH2\t-82854\r\nH3\t0\r\nH4\t0\r\nH5\t0\r\nH6\t-55262"
    assert sum(cut + main) & 0xFF == 0
    for size in (None, 1, 3):
        lines, counted = take("vedirect", main + history + cut + main, [size] if size else None)
        assert lines == block_lines(main) + block_lines(history) + block_lines(main), size
        assert b"H6\t-55262" not in lines
        assert counted["rejected"] == {"checksum": 6}, size


def test_right_after_the_open_a_bmv600s_s_readings_after_a_cut_history_block_are_read() -> None:
    """Right after the port opened in the middle of a block of readings, before any block
    has been read: the BMV-600S's history block cut short at any byte runs into its block of
    readings, which is read (a block of readings of a device without ``PID`` begins at
    ``V``, known before any block showed it); the bytes before it are skipped (no block's
    start is known yet), whatever the chunking. Cut after 15 bytes, the two hold their sum
    as one and are read from ``V`` all the same."""
    main, history = BMV600S_MAIN, BMV600S_HISTORY
    caught = main[58:]  # the port opened in the middle of a block of readings
    assert caught.startswith(b"FF\r\nAR\t0")
    assert sum(caught[2:]) & 0xFF != 0  # the text from its first CR LF fails its check
    for kept in range(3, len(history)):
        data = caught + history[:kept] + main + history + main
        expected = block_lines(main) + block_lines(history) + block_lines(main)
        read = take("vedirect", data)
        assert read == (
            expected,
            {"frames": len(expected), "skipped": len(caught) + kept, "rejected": {}}
            | {"ignored": 0, "overlong": 0},
        ), kept
        for size in (1, 2, 7, 64):
            assert take("vedirect", data, [size]) == read, (kept, size)


def phoenix_block_whose_bytes_from_v_hold() -> bytes:
    """The 230 V Phoenix inverter's block (``PID`` first, ``V`` after ``AC_OUT_V``,
    ``AC_OUT_I`` and ``AC_OUT_S``, which are varied: a small load) whose bytes from its ``V``
    line hold the check by themselves, as 1 in 256 such blocks do: the lines before it sum to
    0 mod 256."""
    lines = block_lines(PHOENIX_230V)
    for volts, amps, va in itertools.product(range(23000, 23100), range(10), range(10)):
        ac = [b"AC_OUT_V\t%d" % volts, b"AC_OUT_I\t%d" % amps, b"AC_OUT_S\t%d" % va]
        block = envelope("vedirect", [*lines[:5], *ac, *lines[8:]])
        if sum(block[block.index(b"\r\nV\t") :]) & 0xFF == 0:
            return block
    raise AssertionError("no such block")


def test_a_device_that_sends_pid_loses_no_line_to_v_known_up_front() -> None:
    """``V`` is known to begin a block before any block came, for a device without ``PID``;
    on a Phoenix inverter, which sends ``V`` after ``PID`` and its AC readings, it costs
    nothing: a block whose bytes from ``V`` hold the check by themselves is read whole, the
    first after the open and those after it, and after a block cut short at any byte that
    runs into it (read from its ``PID``, not from its ``V``), whatever the chunking."""
    block = phoenix_block_whose_bytes_from_v_hold()
    expected = block_lines(block) * 3
    for size in (None, 1, 7):
        read = take("vedirect", block * 3, [size] if size else None)
        assert read == (
            expected,
            {"frames": len(expected), "skipped": 0, "rejected": {}, "ignored": 0} | {"overlong": 0},
        ), size
    for kept in range(3, len(block)):
        data = block[:kept] + block * 2
        expected = block_lines(block) * 2
        read = take("vedirect", data)
        assert read == (
            expected,
            {"frames": len(expected), "skipped": kept, "rejected": {}, "ignored": 0}
            | {"overlong": 0},
        ), kept
        for size in (1, 7):
            assert take("vedirect", data, [size]) == read, (kept, size)


def test_a_line_wrongly_learned_refuses_one_block_that_holds_it_and_is_forgotten() -> None:
    """The port opened in the middle of a BMV-600S's block of readings whose bytes from its
    ``TTG`` line hold the check, and the device sends that block unchanged (its values
    steady): ``TTG`` is taken for a first line, and the next such block, which holds it after
    its first line with the bytes from there holding the check, is refused as two run into
    one (its lines before ``TTG`` rejected, the rest read). ``TTG`` is forgotten with it, so
    the blocks after it are read whole: the device is not locked out."""
    history = BMV600S_HISTORY
    caught = block_whose_lines_from(b"TTG\t-1", block_lines(BMV600S_MAIN))
    middle = caught[caught.index(b"\r\nTTG\t") :]
    data = middle + history + (caught + history) * 3
    read = [middle, history, middle, history, caught, history, caught, history]
    expected = [line for block in read for line in block_lines(block)]
    for size in (None, 1, 5):
        lines, counted = take("vedirect", data, [size] if size else None)
        assert lines == expected, size
        assert counted["rejected"] == {"checksum": 4}, size  # V, I, CE and SOC, once


def test_the_smartsolar_150_70_s_blocks_are_read_as_they_came_however_chunked() -> None:
    """The SmartSolar MPPT 150/70's log as its maintainer quoted it: a HEX message, the block
    from ``ERR``, three HEX messages (the first right after its checksum byte), the block from
    ``PID``. Both blocks are read, the four HEX messages ignored, whatever the chunking."""
    main = SMARTSOLAR_150_70_READ[SMARTSOLAR_150_70_READ.rindex(b"\r\nPID\t") :]
    expected = block_lines(SMARTSOLAR_150_70_ERR) + block_lines(main)
    read = take("vedirect", SMARTSOLAR_150_70_READ)
    assert read == (
        expected,
        {"frames": 19, "skipped": 0, "rejected": {}, "ignored": 4, "overlong": 0},
    )
    for size in (1, 2, 7, 64):
        assert take("vedirect", SMARTSOLAR_150_70_READ, [size]) == read, size


def test_a_ve_direct_framer_learns_first_lines_up_to_its_bound() -> None:
    """A device without ``PID`` (made-up blocks, for the bound) whose first kind of block holds
    ``V`` after its first line (``SER#``), and three more kinds: a block of each read whole
    teaches its first line and unteaches ``V``, up to six lines known (``PID``, ``H1``,
    ``ERR``, ``SER#``, ``H19``, ``MON``); the fourth kind's (``FWE``) is not learned. A block
    cut short mid-stream then costs only its own lines when it runs into a block of a kind
    whose first line is known, and the block of the fourth kind with it."""
    kinds = [
        envelope("vedirect", [b"SER#\tHQ2247EP3FN", b"V\t12800", b"I\t100"]),
        envelope("vedirect", [b"H19\t1158", b"H20\t77"]),
        envelope("vedirect", [b"MON\t0", b"T\t23"]),
        envelope("vedirect", [b"FWE\t316FF", b"AR\t0"]),
    ]
    first, second, third, fourth = kinds
    cut = [first[:20], second[:14], third[:12]]
    assert all(sum(part) & 0xFF for part in cut)  # no cut block's bytes hold by themselves
    data = b"".join(kinds) + cut[0] + second + cut[1] + third + cut[2] + fourth + first
    read = take("vedirect", data)
    blocks = [first, second, third, fourth, second, third, first]
    expected = [line for block in blocks for line in block_lines(block)]
    rejected = sum(lines_begun(part) for part in cut) + len(block_lines(fourth))
    assert read == (
        expected,
        {"frames": len(expected), "skipped": 0, "rejected": {"checksum": rejected}}
        | {"ignored": 0, "overlong": 0},
    )
    for size in (1, 2, 7, 64):
        assert take("vedirect", data, [size]) == read, size


def test_a_rejected_ve_direct_block_says_why_for_the_log() -> None:
    """A BMV-702 block with a digit changed after a block whose check held: its byte sum, and
    its first bytes, for the sensor's ``frame rejected`` warning; one cut short by the next
    block (its ``Checksum`` line lost) says so."""
    first, _ = ve_blocks(BMV702)[0]
    changed = first.replace(b"\r\nV\t", b"\r\nV\t1", 1)
    assert changed != first
    framer = BlockFramer("vedirect", 2100)
    framer.feed(first + changed + first)
    assert framer.rejections == 1
    said, shown = framer.last_rejected("checksum")
    assert said == f"its bytes sum to {sum(changed) & 0xFF} mod 256, not 0"
    assert changed.startswith(shown)
    cut = first[: first.index(b"\r\nChecksum")]
    framer = BlockFramer("vedirect", 2100)
    framer.feed(first + cut + first)
    assert framer.rejections == 1
    assert framer.last_rejected("checksum") == ("cut short: the next block began in it", cut[:80])
