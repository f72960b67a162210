"""Every code of every real telegram and readout in sensord's tests, a channel each.

The telegrams and readouts are those the other DSMR tests hold, each with its origin there:
ndokter/dsmr_parser's test telegrams (:mod:`harness.dsmr_parser_telegrams`: DSMR 2.2 to 5,
Kaifa, Iskra, ESO, Fluvius e-MUCS, EasyMeter Q3D, Sagemcom T210-D-R, Luxembourg Smarty, E.ON
Hungary), the meters' captures of :mod:`test_formats_dsmr_meters` (``REAL_TELEGRAMS``: a
Landis+Gyr E350, Aidon, Kaifa, Ellevio and E360 telegrams of Sweden, an Iskra AM550, a
Hungarian AUX, the Holley DTSD545), the Kamstrup 162 and 382 (nielsbasjes/dsmr-tools), the
eBZ DD3, and the IEC 62056-21 readouts of a Landis+Gyr E350, an Actaris ACE3000, a Pafal
20EC3gr and a Landis+Gyr UH50 heat meter.

For each, a sensor with a channel on every code whose value ``check`` lets a channel read
(a code of text, the meter's clock and local time, and the UH50's dates are refused there,
naming the key) reads it through the framer and the decoder: the framer rejects nothing, and no
data set is counted but ``invalid`` (a value the meter writes as none: a log of no entry, an
M-Bus channel without a device, an empty value), but for the UH50's ``9.22(R)``, a state of
one letter whose meaning no public source gives (``syntax``, :data:`SYNTAX`). The Hungarian
meter's breaker state, ``0-0:96.50.68(ON)``, reads as 1 (:mod:`test_formats_dsmr_meters`).
Every channel is read, or left unavailable by its ``invalid``. Fails with the empty values
read as ``syntax`` (the UH50's ``6.8.1()``, ``9.2(&&)``; the Pafal's blank ``C.2.1`` value),
with the breaker state read as ``syntax`` (one a telegram of the AUX: 2 in {0}), with the
UH50's dates let through ``check`` (``syntax`` 11 a readout: 22 in {1, 2}), and with a decoder
that raises other than ``ParseError`` on a line of the AUX.
"""

from __future__ import annotations

import re

import pytest
from harness.config import load_sensors
from harness.dsmr_parser_telegrams import TELEGRAMS
from test_formats_blocks import counts, latest, runtime
from test_formats_dsmr_bare_end import KAMSTRUP_162, KAMSTRUP_382
from test_formats_dsmr_data_sets import UH50
from test_formats_dsmr_ebz import RUN
from test_formats_dsmr_meters import REAL_TELEGRAMS
from test_formats_dsmr_pafal import PAFAL
from test_formats_dsmr_short_codes import ACE3000, E350

from sensord.formats import codec_for
from sensord.formats.base import FormatSpec

SOURCES: dict[str, bytes] = {
    **{f"dsmr_parser_{name}": telegram for name, telegram in TELEGRAMS.items()},
    **{f"meters_{k}": telegram for k, telegram in enumerate(REAL_TELEGRAMS)},
    "kamstrup_162": KAMSTRUP_162,
    "kamstrup_382": KAMSTRUP_382,
    "ebz_dd3": RUN[0],
    "e350_readout": E350,
    "ace3000_readout": ACE3000,
    "pafal_readout": PAFAL,
    "uh50_readout": UH50,
}
#: a data set's code (and F group), at a line's start (after a readout's STX) or after the
#: ``)`` of the data set before it on its line
CODE = re.compile(
    rb"(?:^|\))\x02?((?:\d{1,3}-\d{1,3}:)?(?:\d{1,3}|[CFLP])\.(?:\d{1,3}|[CFLP])"
    rb"(?:\.\d{1,3})?(?:\*\d{1,3})?)\(",
    re.MULTILINE,
)
#: the data sets of each source whose value is no number, ``syntax`` for a channel: the UH50's
#: ``9.22(R)``, a state of one letter (its dates, ``6.36.1(2018-03-03)``, the other 6.36 codes'
#: and ``9.36(2022-05-19&19:41:17)``, are refused by ``check``)
SYNTAX = {"uh50_readout": 1}


def channels_of(data: bytes) -> list[tuple[str, str]]:
    """A channel on each code of ``data`` that ``check`` takes (its first spelling)."""
    dsmr = codec_for("dsmr")
    fields = dict.fromkeys(code.decode() for code in CODE.findall(data))
    taken = [f for f in fields if not dsmr.check(FormatSpec("dsmr", (("c", f),)))]
    return [(f"c{k}", field) for k, field in enumerate(taken)]


def test_the_sources_are_the_meters_named() -> None:
    assert b"0-0:96.50.68(ON)" in REAL_TELEGRAMS[8]
    assert len(SOURCES) == len(TELEGRAMS) + len(REAL_TELEGRAMS) + 7


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_code_a_channel_may_read_is_read_or_told_as_none(name: str) -> None:
    data = SOURCES[name]
    channels = channels_of(data)
    assert len(channels) >= 3, channels
    rt = runtime(
        load_sensors(
            {
                "name": "m",
                "port": "sim://m",
                "format": "dsmr",
                "max_frame_bytes": 4096,  # the AUX's telegram: 2405 bytes
                "channels": [{"name": name, "field": field} for name, field in channels],
            }
        )
    )
    rt.feed(data + data)  # the first read whole, whatever ends it (a bare one: the next '/')
    got = counts(rt)
    assert dict(rt.framer.rejected) == dict.fromkeys(rt.framer.rejected, 0)
    errors = dict(got["errors"])
    assert errors.pop("syntax", 0) in {SYNTAX.get(name, 0), 2 * SYNTAX.get(name, 0)}
    assert set(errors) <= {"invalid"}
    read = set(latest(rt))
    unread = {ch for ch, _ in channels} - read
    assert len(unread) <= errors.get("invalid", 0) + SYNTAX.get(name, 0)
    assert got["readings"] >= len(read)
