"""A value a meter writes empty, ``()``: a value of that code the meter does not have.

A Landis+Gyr UH50 heat meter's readout (:data:`~test_formats_dsmr_data_sets.UH50`, origin
there: vpathuis/ultraheat's tests/LUGCUH50_dummy_utf8.txt, its block check ``h`` the file's)
writes its tariff registers it does not keep empty (``6.8.1()6.8.2()...``, ``6.26.1()``),
its ``9.18()`` and ``9.19()`` too, and a value of three places all empty, ``9.2(&&)``: no
damage (the readout's block check holds), no number to read. A channel of such a code is
left without a current value, ``invalid`` (as a power failure log of no entry is, an Iskra
AM550's ``1-0:99.97.0()``), never ``syntax``; the readout's other data sets read. A value
of blanks is one too: a Pafal 20EC3gr writes ``C.2.1(000000000000)`` and a group of 48 spaces
(:data:`~test_formats_dsmr_pafal.PAFAL`, origin there: a public cron script's docstring).
"""

from __future__ import annotations

import pytest
from test_formats_blocks import counts, latest, runtime
from test_formats_dsmr import meter
from test_formats_dsmr_data_sets import UH50, UH50_CHANNELS, UH50_VALUES
from test_formats_dsmr_pafal import PAFAL

from sensord.errors import NotMeasuredError, ParseError
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec

#: channels of the UH50's codes it writes empty: a tariff register, one of a billing
#: period's, ``9.18``, and two places of ``9.2(&&)``
EMPTY_CHANNELS = (
    ("tariff1_gj", "6.8.1"),
    ("tariff1_last_year_gj", "6.8.1*1"),
    ("reg_9_18", "9.18"),
    ("reg_9_2", "9.2"),
    ("reg_9_2_third", "9.2&3"),
)


def test_the_uh50_s_empty_values_leave_their_channels_invalid_and_the_others_read() -> None:
    """Two readouts: the channels of the empty values get no reading, each readout's four
    empty data sets (``9.2``'s two channels one) counted ``invalid`` once, no ``syntax``; every
    other channel reads its value. Fails before: ``{'syntax': 8}``."""
    rt = runtime(meter(*UH50_CHANNELS, *EMPTY_CHANNELS))
    rt.feed(UH50 + UH50)
    assert latest(rt) == UH50_VALUES
    assert counts(rt)["errors"] == {"invalid": 8}
    assert counts(rt)["readings"] == 2 * len(UH50_CHANNELS)
    assert rt.framer.skipped_bytes == 0


@pytest.mark.parametrize(
    ("line", "unavailable"),
    [
        (b"1-0:32.32.0()", ("sags",)),
        (b"1-0:96.5.5*255()", ("status",)),  # a status word, read as hex digits
        (b"0-1:24.2.1(101209110000W)()", ("gas",)),  # a reading after its time
        (b"9.2(&&)", ("first", "third")),
        (b"9.2(  &\t& )", ("first", "third")),  # places of blanks
        (b"1-0:32.32.0(   )", ("sags",)),
    ],
    ids=["count", "status_word", "after_its_time", "places", "blank_places", "blank"],
)
def test_an_empty_value_of_any_code_is_invalid_for_its_channels(
    line: bytes, unavailable: tuple[str, ...]
) -> None:
    """The rule the UH50's lines show, for a code of each kind the decoder reads a value of
    (a count, a status word in hex, a value after its time stamp, places that ``&``
    separates; these lines written for it, the last the UH50's): ``invalid``, the code's
    channels unavailable, the detail naming the code. Fails before: ``syntax``."""
    spec = FormatSpec(
        "dsmr",
        (
            ("sags", "1-0:32.32.0"),
            ("status", "1-0:96.5.5"),
            ("gas", "0-1:24.2.1"),
            ("first", "9.2"),
            ("third", "9.2&3"),
        ),
    )
    decode = codec_for("dsmr").decoder(spec)
    with pytest.raises(NotMeasuredError) as raised:
        decode(line)
    assert raised.value.reason == "invalid"
    assert raised.value.unavailable == unavailable
    assert raised.value.detail.startswith(line[: line.index(b"(")].decode().removesuffix("*255"))
    assert "empty" in raised.value.detail


def test_an_empty_place_beside_a_value_keeps_the_value_and_a_damaged_one_stays_syntax() -> None:
    """``9.4(098.5*C&)``: the first value read, the second's channel ``invalid``; a place
    that is no number beside an empty one is ``syntax``, the empty one's channel unavailable
    with it."""
    spec = FormatSpec("dsmr", (("flow", "9.4"), ("back", "9.4&2")))
    decode = codec_for("dsmr").decoder(spec)
    with pytest.raises(NotMeasuredError) as raised:
        decode(b"9.4(098.5*C&)")
    assert (raised.value.reason, raised.value.kept) == ("invalid", [("flow", 98.5)])
    assert raised.value.unavailable == ("back",)
    with pytest.raises(ParseError) as damaged:
        decode(b"9.4(09x.5*C&)")
    assert (damaged.value.reason, damaged.value.kept) == ("syntax", [])
    assert damaged.value.unavailable == ("back",)


def test_the_pafal_s_blank_value_leaves_its_channel_invalid_and_the_energies_read() -> None:
    """The Pafal's readout, a channel on ``C.2.1`` (its last group, 48 spaces) beside its
    energies: ``invalid``, the energies read. Fails before: ``{'syntax': 1}``."""
    rt = runtime(meter(("imported_kwh", "1.8.0*0"), ("exported_kwh", "2.8.0*0"), ("c21", "C.2.1")))
    rt.feed(PAFAL)
    assert latest(rt) == {"imported_kwh": 19446.38, "exported_kwh": 23813.75}
    assert counts(rt)["errors"] == {"invalid": 1}
