"""CRC-16/MODBUS, CRC-16/MCRF4XX and CRC-16/X-25 two bytes a step, once a DSMR sensor built
the table of their polynomial, and a byte a step before: the same CRC either way, against the
catalogue's bit-by-bit definitions (check values for "123456789": 0x4B37, 0x6F91, 0x906E).
The framer of a DSMR sensor whose ``parse.crc`` is ``crc16_x25`` builds its table when it is
made, never the reader thread at a frame."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_formats_blocks import crc16_arc
from test_formats_dsmr_holley import HOLLEY_X25
from test_formats_dsmr_holley import crc16_x25 as reference_x25

from sensord.formats import crc as crc_module
from sensord.formats.blocks import BlockFramer


def reference_modbus(data: bytes) -> int:
    """CRC-16/MODBUS, bit by bit (reflected 0xA001 from 0xFFFF)."""
    return crc16_arc(data, 0xFFFF)


def reference_mcrf4xx(data: bytes) -> int:
    """CRC-16/MCRF4XX, bit by bit (reflected 0x8408 from 0xFFFF, no final XOR)."""
    return reference_x25(data) ^ 0xFFFF


@contextmanager
def tables(built: bool) -> Iterator[None]:
    """The tables of pairs built (as a DSMR sensor builds them), or not yet; as they were
    after."""
    saved = (crc_module._PAIRS, crc_module._PAIRS_CCITT_REFLECTED)
    if built:
        crc_module.prepare_crc16_arc()
        crc_module.prepare_crc16_x25()
    else:
        crc_module._PAIRS = crc_module._PAIRS_CCITT_REFLECTED = None
    try:
        yield
    finally:
        crc_module._PAIRS, crc_module._PAIRS_CCITT_REFLECTED = saved


CRCS: list[tuple[Callable[[bytes], int], Callable[[bytes], int], int]] = [
    (crc_module.crc16_modbus, reference_modbus, 0x4B37),
    (crc_module.crc16_mcrf4xx, reference_mcrf4xx, 0x6F91),
    (crc_module.crc16_x25, reference_x25, 0x906E),
]


@settings(max_examples=300)
@given(st.binary(max_size=1200))
@example(b"")
@example(b"\x7e")
@example(b"123456789")
@example(HOLLEY_X25[:-6])
def test_two_bytes_a_step_and_one_give_the_reference_crc(data: bytes) -> None:
    """Over bytes of odd and even length, up to a Holley telegram's, whether the tables are
    built or not."""
    for built in (False, True):
        with tables(built):
            for crc, reference, _ in CRCS:
                assert crc(data) == reference(data), (crc.__name__, built)


@pytest.mark.parametrize("built", [False, True])
def test_the_catalogue_s_check_values_and_a_holley_telegram_s_crc(built: bool) -> None:
    with tables(built):
        for crc, _, check in CRCS:
            assert crc(b"123456789") == check, crc.__name__
        body, _, rest = HOLLEY_X25.rpartition(b"!")
        assert b"%04X\r\n" % crc_module.crc16_x25(body + b"!") == rest


def test_a_dsmr_framer_of_crc16_x25_builds_its_table_when_it_is_made() -> None:
    """Made, it has built the tables of both CRCs (CRC-16/ARC's for the hint of a telegram
    that failed); a framer of DSMR's CRC builds CRC-16/ARC's alone."""
    with tables(built=False):
        BlockFramer("dsmr", 2100)
        assert crc_module._PAIRS is not None
        assert crc_module._PAIRS_CCITT_REFLECTED is None
        BlockFramer("dsmr", 2100, crc="crc16_x25")
        assert crc_module._PAIRS_CCITT_REFLECTED is not None
