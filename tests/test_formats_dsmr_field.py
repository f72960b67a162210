"""``format = "dsmr"`` on more telegrams of meters in the field: each gives exactly the values
its lines show.

Origin of each (public repository athombv/node-dsmr-parser, folder tests/telegrams; its files
have the lines ended in LF: each is put back with the CR LF a meter sends, and the CRC of
each telegram that has one holding over them shows these are the bytes the meter sent):

* ``KAIFA_42``: a Kaifa meter's DSMR 4.2 telegram (``/KFM5KAIFA-METER``, three phases, a gas
  meter on M-Bus channel 1, a power failure log of one entry), CRC ``A737``; file
  dsmr/dsmr-4.2-kfm-1.txt.
* ``AM550_50``: an Iskra AM550's DSMR 5.0 telegram (``/ISK5\\2M550T-1011``, returning 0.498 kW
  to the grid, a power failure log of one entry, a gas meter), CRC ``1F28``; file
  dsmr-5.0-isk-1.txt.
* ``MT382_TEXT``: an Iskra MT382's DSMR 2.2 telegram (``/ISk5\\2MT382-1003``, no CRC, its ids
  made ``0011223344...``) whose text message is ``test-/-test``; file
  dsmr/iskra-mt-382-no-crc-with-text-message.txt, which ends before the ``!`` line: the ``!``
  is put back.
* ``XMX_22``: a Landis+Gyr meter's telegram of DSMR 2.2 or 3 (``/XMX5XMXABCE000012345``, no
  version line, no CRC, its equipment id made ``0123456789ABCDEF``); file
  dsmr/unknown-xmx-1.txt.
* ``AM550_1012``, ``XS210_GAS``, ``E350_GAS``, ``CX2000``, ``XMX_DSMR3_GAS`` and
  ``E350_UNSET_CLOCK``: public repository nielsbasjes/dsmr-tools, file
  dsmr-parser/src/test/java/nl/basjes/dsmr/parse/TestDsmrParserOnReal.java (telegrams of its
  author's and its users' meters, with CR LF): an Iskra AM550 (``/ISK5\\2M550T-1012``, CRC
  ``9DF0``), a Sagemcom XS210 with a gas meter (``8F46``), a Landis+Gyr E350 of DSMR 4.2 with
  a gas meter (``BB2A``), a Sagemcom CX2000 whose header holds a space
  (``/Ene5\\SAGEMCOM CX2000-``) and whose power failure log holds ten entries (``0B43``), a
  DSMR 3 meter whose gas line names ``0-1:24.2.0`` (no CRC), and an E350 whose clock was
  never set (``0-0:1.0.0(000101010000W)``, ``6D3C``).
* ``KAMSTRUP_OMNIA_LINES`` and ``XT211_LINES``: the lines of a Kamstrup OMNIA three-phase
  meter's telegram (``/KAM5``: reactive energy and power in ``kVArh`` and ``kVAr``) and of a
  Sagemcom XT211's (``/GRE5...``: energy and power on channel B 1, ``1-1:1.8.1``); files
  dsmr/kamstrup-OMNIA-e-meter-three-phase.txt and dsmr/sagemcom-xt211.txt. Their time stamps
  and ids were made up for publishing, so their CRCs do not hold: their lines are read
  one by one, as the framer passes on those of a telegram whose CRC holds.
* ``LUXEMBOURG_FRAME``: the encrypted P1 frame of the Luxembourg P1 specification's example
  (a DLMS general-glo-ciphering frame, system title ``systitle``); file
  dsmr/encrypted/dsmr-luxembourgh-spec-example-without-aad.txt, written there in hex.
"""

from __future__ import annotations

import pytest
from harness.pty import PtyPair
from test_blocks import telegram_lines
from test_first_line import Clock as PortClock
from test_first_line import send
from test_first_line import sensor as sensor_on
from test_formats_blocks import counts, crc16_arc, latest, runtime
from test_formats_dsmr import meter
from test_formats_dsmr_meters import crlf

from sensord.formats import codec_for
from sensord.formats.base import FormatSpec
from sensord.formats.blocks import BlockFramer

KAIFA_42 = crlf(
    r"""
/KFM5KAIFA-METER

1-3:0.2.8(42)
0-0:1.0.0(180306123056W)
0-0:96.1.1(4530303033303030303032313234383133)
1-0:1.8.1(004726.494*kWh)
1-0:1.8.2(004844.281*kWh)
1-0:2.8.1(003284.320*kWh)
1-0:2.8.2(007764.691*kWh)
0-0:96.14.0(0002)
1-0:1.7.0(00.000*kW)
1-0:2.7.0(01.869*kW)
0-0:96.7.21(00013)
0-0:96.7.9(00007)
1-0:99.97.0(1)(0-0:96.7.19)(000101000024W)(2147483647*s)
1-0:32.32.0(00000)
1-0:52.32.0(00000)
1-0:72.32.0(00000)
1-0:32.36.0(00000)
1-0:52.36.0(00000)
1-0:72.36.0(00000)
0-0:96.13.1()
0-0:96.13.0()
1-0:31.7.0(003*A)
1-0:51.7.0(003*A)
1-0:71.7.0(002*A)
1-0:21.7.0(00.000*kW)
1-0:22.7.0(00.688*kW)
1-0:41.7.0(00.000*kW)
1-0:42.7.0(00.778*kW)
1-0:61.7.0(00.000*kW)
1-0:62.7.0(00.403*kW)
0-1:24.1.0(003)
0-1:96.1.0(4730303136353631323033353830313133)
0-1:24.2.1(180306120000W)(05359.919*m3)
!A737
"""
)

AM550_50 = crlf(
    r"""
/ISK5\2M550T-1011

1-3:0.2.8(50)
0-0:1.0.0(181106140429W)
0-0:96.1.1(4530303334303036383130353136343136)
1-0:1.8.1(003808.351*kWh)
1-0:1.8.2(002948.827*kWh)
1-0:2.8.1(001285.951*kWh)
1-0:2.8.2(002876.514*kWh)
0-0:96.14.0(0002)
1-0:1.7.0(00.000*kW)
1-0:2.7.0(00.498*kW)
0-0:96.7.21(00006)
0-0:96.7.9(00003)
1-0:99.97.0(1)(0-0:96.7.19)(180529135630S)(0000002451*s)
1-0:32.32.0(00003)
1-0:52.32.0(00002)
1-0:72.32.0(00002)
1-0:32.36.0(00001)
1-0:52.36.0(00001)
1-0:72.36.0(00001)
0-0:96.13.0()
1-0:32.7.0(236.0*V)
1-0:52.7.0(232.6*V)
1-0:72.7.0(235.1*V)
1-0:31.7.0(002*A)
1-0:51.7.0(000*A)
1-0:71.7.0(000*A)
1-0:21.7.0(00.000*kW)
1-0:41.7.0(00.033*kW)
1-0:61.7.0(00.132*kW)
1-0:22.7.0(00.676*kW)
1-0:42.7.0(00.000*kW)
1-0:62.7.0(00.000*kW)
0-1:24.1.0(003)
0-1:96.1.0(4730303339303031373030343630313137)
0-1:24.2.1(181106140010W)(01569.646*m3)
!1F28
"""
)

MT382_TEXT = crlf(
    r"""
/ISk5\2MT382-1003

0-0:96.1.1(00112233445566778899aabbccddeeff)
1-0:1.8.1(39837.604*kWh)
1-0:1.8.2(30477.225*kWh)
1-0:2.8.1(05174.479*kWh)
1-0:2.8.2(11772.946*kWh)
0-0:96.14.0(0002)
1-0:1.7.0(0000.00*kW)
1-0:2.7.0(0000.14*kW)
0-0:17.0.0(0999.00*kW)
0-0:96.3.10(1)
0-0:96.13.1()
0-0:96.13.0(test-/-test)
0-1:24.1.0(3)
0-1:96.1.0(0011223344556677889900112233445566)
0-1:24.3.0(250423090000)(00)(60)(1)(0-1:24.2.1)(m3)
(13032.850)
0-1:24.4.0(1)
!
"""
)

XMX_22 = crlf(
    r"""
/XMX5XMXABCE000012345

0-0:96.1.1(0123456789ABCDEF)
1-0:1.8.1(11667.440*kWh)
1-0:1.8.2(11781.558*kWh)
1-0:2.8.1(00000.000*kWh)
1-0:2.8.2(00000.000*kWh)
0-0:96.14.0(0001)
1-0:1.7.0(0000.55*kW)
1-0:2.7.0(0000.00*kW)
0-0:96.13.1()
0-0:96.13.0()
!
"""
)

AM550_1012 = crlf(
    r"""
/ISK5\2M550T-1012

1-3:0.2.8(50)
0-0:1.0.0(190324150541W)
0-0:96.1.1(4530303434303037313331363530363138)
1-0:1.8.1(003432.829*kWh)
1-0:1.8.2(003224.632*kWh)
1-0:2.8.1(000000.000*kWh)
1-0:2.8.2(000000.000*kWh)
0-0:96.14.0(0001)
1-0:1.7.0(00.433*kW)
1-0:2.7.0(00.000*kW)
0-0:96.7.21(00005)
0-0:96.7.9(00003)
1-0:99.97.0(1)(0-0:96.7.19)(180417201458S)(0000000236*s)
1-0:32.32.0(00001)
1-0:52.32.0(00001)
1-0:72.32.0(00001)
1-0:32.36.0(00001)
1-0:52.36.0(00001)
1-0:72.36.0(00001)
0-0:96.13.0()
1-0:32.7.0(236.7*V)
1-0:52.7.0(234.5*V)
1-0:72.7.0(236.0*V)
1-0:31.7.0(000*A)
1-0:51.7.0(000*A)
1-0:71.7.0(002*A)
1-0:21.7.0(00.045*kW)
1-0:41.7.0(00.010*kW)
1-0:61.7.0(00.379*kW)
1-0:22.7.0(00.000*kW)
1-0:42.7.0(00.000*kW)
1-0:62.7.0(00.000*kW)
!9DF0
"""
)

XS210_GAS = crlf(
    r"""
/Ene5\XS210 ESMR 5.0

1-3:0.2.8(50)
0-0:1.0.0(171105201324W)
0-0:96.1.1(4530303437303030303037363330383137)
1-0:1.8.1(000051.775*kWh)
1-0:1.8.2(000000.000*kWh)
1-0:2.8.1(000024.413*kWh)
1-0:2.8.2(000000.000*kWh)
0-0:96.14.0(0001)
1-0:1.7.0(00.335*kW)
1-0:2.7.0(00.000*kW)
0-0:96.7.21(00003)
0-0:96.7.9(00001)
1-0:99.97.0(0)(0-0:96.7.19)
1-0:32.32.0(00002)
1-0:32.36.0(00000)
0-0:96.13.0()
1-0:32.7.0(229.0*V)
1-0:31.7.0(001*A)
1-0:21.7.0(00.335*kW)
1-0:22.7.0(00.000*kW)
0-1:24.1.0(003)
0-1:96.1.0(4730303538353330303031313633323137)
0-1:24.2.1(171105201000W)(00016.713*m3)
!8F46
"""
)

E350_GAS = crlf(
    r"""
/XMX5LGBBFG1009325446

1-3:0.2.8(42)
0-0:1.0.0(190905214003S)
0-0:96.1.1(4530303331303033323339343536373136)
1-0:1.8.1(003235.689*kWh)
1-0:1.8.2(006777.240*kWh)
1-0:2.8.1(000000.313*kWh)
1-0:2.8.2(000000.000*kWh)
0-0:96.14.0(0002)
1-0:1.7.0(00.374*kW)
1-0:2.7.0(00.000*kW)
0-0:96.7.21(00003)
0-0:96.7.9(00001)
1-0:99.97.0(1)(0-0:96.7.19)(170117065912W)(0000009606*s)
1-0:32.32.0(00000)
1-0:32.36.0(00000)
0-0:96.13.1()
0-0:96.13.0()
1-0:31.7.0(002*A)
1-0:21.7.0(00.374*kW)
1-0:22.7.0(00.000*kW)
0-1:24.1.0(003)
0-1:96.1.0(4730303139333430333135333730363136)
0-1:24.2.1(190905210000S)(01091.352*m3)
!BB2A
"""
)

CX2000 = crlf(
    r"""
/Ene5\SAGEMCOM CX2000-

1-3:0.2.8(50)
0-0:1.0.0(181202060910W)
0-0:96.1.1(5354545454313233343530303237333137)
1-0:1.8.1(000098.508*kWh)
1-0:1.8.2(000000.000*kWh)
1-0:2.8.1(000000.917*kWh)
1-0:2.8.2(000000.000*kWh)
0-0:96.14.0(0001)
1-0:1.7.0(00.004*kW)
1-0:2.7.0(00.000*kW)
0-0:96.7.21(00933)
0-0:96.7.9(00108)
1-0:99.97.0(10)(0-0:96.7.19)(181201030814W)(0000758635*s)(180904173923S)(0000001820*s)(180707220440S)(0000024288*s)(180611204409S)(0002246666*s)(180425175248S)(0000002897*s)(180420221654S)(0000001068*s)(180226203438W)(0000952147*s)(180215192356W)(0000268881*s)(180209184337W)(0000003307*s)(180208200717W)(0000000266*s)
1-0:32.32.0(00060)
1-0:52.32.0(00044)
1-0:72.32.0(00045)
1-0:32.36.0(00000)
1-0:52.36.0(00000)
1-0:72.36.0(00000)
0-0:96.13.0()
1-0:32.7.0(227.0*V)
1-0:52.7.0(226.0*V)
1-0:72.7.0(228.0*V)
1-0:31.7.0(000*A)
1-0:51.7.0(000*A)
1-0:71.7.0(000*A)
1-0:21.7.0(00.004*kW)
1-0:41.7.0(00.000*kW)
1-0:61.7.0(00.000*kW)
1-0:22.7.0(00.000*kW)
1-0:42.7.0(00.000*kW)
1-0:62.7.0(00.000*kW)
!0B43
"""
)

XMX_DSMR3_GAS = crlf(
    r"""
/XMX5XMXABCE100103855

0-0:96.1.1(30313233343536373839)
1-0:1.8.1(03687.771*kWh)
1-0:1.8.2(04456.167*kWh)
1-0:2.8.1(01450.360*kWh)
1-0:2.8.2(03098.554*kWh)
0-0:96.14.0(0002)
1-0:1.7.0(0000.00*kW)
1-0:2.7.0(0000.62*kW)
0-0:96.13.1()
0-0:96.13.0()
0-1:96.1.0(30313233343536373839)
0-1:24.1.0(03)
0-1:24.3.0(190218120000)(00)(60)(1)(0-1:24.2.0)(m3)
(05271.144)
!
"""
)

E350_UNSET_CLOCK = crlf(
    r"""
/XMX5LGBBFG1009089532

1-3:0.2.8(42)
0-0:1.0.0(000101010000W)
0-0:96.1.1(4530303330303033313131393539373135)
1-0:1.8.1(000024.487*kWh)
1-0:1.8.2(000030.536*kWh)
1-0:2.8.1(000000.528*kWh)
1-0:2.8.2(000000.000*kWh)
0-0:96.14.0(0002)
1-0:1.7.0(00.000*kW)
1-0:2.7.0(00.000*kW)
0-0:96.7.21(00116)
0-0:96.7.9(00000)
1-0:99.97.0(0)(0-0:96.7.19)
1-0:32.32.0(00011)
1-0:52.32.0(00028)
1-0:72.32.0(00028)
1-0:32.36.0(00000)
1-0:52.36.0(00000)
1-0:72.36.0(00000)
0-0:96.13.1()
0-0:96.13.0()
1-0:31.7.0(000*A)
1-0:51.7.0(000*A)
1-0:71.7.0(000*A)
1-0:21.7.0(00.004*kW)
1-0:41.7.0(00.000*kW)
1-0:61.7.0(00.000*kW)
1-0:22.7.0(00.000*kW)
1-0:42.7.0(00.000*kW)
1-0:62.7.0(00.000*kW)
0-1:24.1.0(003)
0-1:96.1.0(4730303032333430313537323637333134)
0-1:24.2.1(000101010000W)(0000000000)
!6D3C
"""
)

#: Each meter's telegram, the channels a household reads from it and the values its lines
#: show.
METERS: dict[str, tuple[bytes, dict[str, tuple[str, float]]]] = {
    "kaifa-dsmr42": (
        KAIFA_42,
        {
            "imported_t1_kwh": ("1-0:1.8.1", 4726.494),
            "imported_t2_kwh": ("1-0:1.8.2", 4844.281),
            "exported_t1_kwh": ("1-0:2.8.1", 3284.32),
            "exported_t2_kwh": ("1-0:2.8.2", 7764.691),
            "tariff": ("0-0:96.14.0", 2.0),
            "power_kw": ("1-0:1.7.0", 0.0),
            "returned_kw": ("1-0:2.7.0", 1.869),
            "long_failures": ("0-0:96.7.9", 7.0),
            "current_l2_a": ("1-0:51.7.0", 3.0),
            "returned_l3_kw": ("1-0:62.7.0", 0.403),
            "gas_m3": ("0-1:24.2.1", 5359.919),
        },
    ),
    "am550-dsmr50": (
        AM550_50,
        {
            "imported_t1_kwh": ("1-0:1.8.1", 3808.351),
            "exported_t2_kwh": ("1-0:2.8.2", 2876.514),
            "returned_kw": ("1-0:2.7.0", 0.498),
            "last_failure_s": ("1-0:99.97.0", 2451.0),
            "sags_l1": ("1-0:32.32.0", 3.0),
            "voltage_l2_v": ("1-0:52.7.0", 232.6),
            "power_l3_kw": ("1-0:61.7.0", 0.132),
            "returned_l1_kw": ("1-0:22.7.0", 0.676),
            "gas_m3": ("0-1:24.2.1", 1569.646),
        },
    ),
    "mt382-text-message": (
        MT382_TEXT,
        {
            "imported_t1_kwh": ("1-0:1.8.1", 39837.604),
            "exported_t2_kwh": ("1-0:2.8.2", 11772.946),
            "returned_kw": ("1-0:2.7.0", 0.14),
            "limit_kw": ("0-0:17.0.0", 999.0),
            "gas_m3": ("0-1:24.3.0", 13032.85),
        },
    ),
    "am550-1012": (
        AM550_1012,
        {
            "imported_t1_kwh": ("1-0:1.8.1", 3432.829),
            "imported_t2_kwh": ("1-0:1.8.2", 3224.632),
            "power_kw": ("1-0:1.7.0", 0.433),
            "last_failure_s": ("1-0:99.97.0", 236.0),
            "voltage_l1_v": ("1-0:32.7.0", 236.7),
            "current_l3_a": ("1-0:71.7.0", 2.0),
            "power_l2_kw": ("1-0:41.7.0", 0.01),
        },
    ),
    "xs210-gas": (
        XS210_GAS,
        {
            "imported_t1_kwh": ("1-0:1.8.1", 51.775),
            "exported_t1_kwh": ("1-0:2.8.1", 24.413),
            "sags_l1": ("1-0:32.32.0", 2.0),
            "voltage_l1_v": ("1-0:32.7.0", 229.0),
            "gas_m3": ("0-1:24.2.1", 16.713),
        },
    ),
    "e350-dsmr42-gas": (
        E350_GAS,
        {
            "imported_t2_kwh": ("1-0:1.8.2", 6777.24),
            "exported_t1_kwh": ("1-0:2.8.1", 0.313),
            "last_failure_s": ("1-0:99.97.0", 9606.0),
            "current_l1_a": ("1-0:31.7.0", 2.0),
            "gas_m3": ("0-1:24.2.1", 1091.352),
        },
    ),
    "cx2000-ten-failures": (
        CX2000,
        {
            "imported_t1_kwh": ("1-0:1.8.1", 98.508),
            "exported_t1_kwh": ("1-0:2.8.1", 0.917),
            "failures": ("0-0:96.7.21", 933.0),
            "long_failures": ("0-0:96.7.9", 108.0),
            "last_failure_s": ("1-0:99.97.0", 758635.0),  # the newest of ten, 2018-12-01
            "sags_l2": ("1-0:52.32.0", 44.0),
            "voltage_l3_v": ("1-0:72.7.0", 228.0),
        },
    ),
    "dsmr3-gas-named-24-2-0": (
        XMX_DSMR3_GAS,
        {
            "imported_t2_kwh": ("1-0:1.8.2", 4456.167),
            "exported_t2_kwh": ("1-0:2.8.2", 3098.554),
            "returned_kw": ("1-0:2.7.0", 0.62),
            "gas_m3": ("0-1:24.3.0", 5271.144),
        },
    ),
    "e350-unset-clock": (
        E350_UNSET_CLOCK,
        {
            "imported_t1_kwh": ("1-0:1.8.1", 24.487),
            "exported_t1_kwh": ("1-0:2.8.1", 0.528),
            "failures": ("0-0:96.7.21", 116.0),
            "sags_l3": ("1-0:72.32.0", 28.0),
            "power_l1_kw": ("1-0:21.7.0", 0.004),
        },
    ),
    "xmx-dsmr22": (
        XMX_22,
        {
            "imported_t1_kwh": ("1-0:1.8.1", 11667.44),
            "imported_t2_kwh": ("1-0:1.8.2", 11781.558),
            "tariff": ("0-0:96.14.0", 1.0),
            "power_kw": ("1-0:1.7.0", 0.55),
        },
    ),
}


def test_the_fixtures_with_a_crc_are_the_bytes_the_meters_sent() -> None:
    """The CRC of each telegram that has one holds over its bytes with CR LF line ends."""
    for telegram in (KAIFA_42, AM550_50, AM550_1012, XS210_GAS, E350_GAS, CX2000, E350_UNSET_CLOCK):
        body, _, rest = telegram.partition(b"\r\n!")
        assert b"%04X\r\n" % crc16_arc(body + b"\r\n!") == rest
    for telegram in (MT382_TEXT, XMX_22, XMX_DSMR3_GAS):
        assert telegram.endswith(b"\r\n!\r\n")


@pytest.mark.parametrize("name", list(METERS))
def test_a_field_meter_s_telegrams_give_the_values_their_lines_show(name: str) -> None:
    """Three of the meter's telegrams in a row: each channel reads its line's value three
    times, no parse error, the other lines ignored frames; fed a byte at a time or in reads
    of 64 bytes, the framer gives the same lines."""
    telegram, channels = METERS[name]
    rt = runtime(meter(*((channel, field) for channel, (field, _) in channels.items())))
    data = telegram * 3
    rt.feed(data)
    assert latest(rt) == {channel: value for channel, (_, value) in channels.items()}
    lines = len(telegram_lines(telegram))
    assert counts(rt) == {
        "frames": 3 * lines,
        # a DSMR 2.2 gas code's line and the line of its value: one reading
        "ignored": 3 * (lines - len(channels)),
        "readings": 3 * len(channels),
        "errors": {},
    }
    whole = BlockFramer("dsmr", 2100).feed(data)
    for size in (1, 64):
        framer = BlockFramer("dsmr", 2100)
        chunked = [
            line for at in range(0, len(data), size) for line in framer.feed(data[at : at + size])
        ]
        assert chunked == whole, size
        assert sum(framer.rejected.values()) == 0


KAMSTRUP_OMNIA_LINES = (
    b"1-0:1.8.0(00000123.321*kWh)",
    b"1-0:3.8.0(00001234.432*kVArh)",
    b"1-0:4.8.0(00005678.765*kVArh)",
    b"1-0:3.7.0(0001.229*kVAr)",
    b"1-0:43.7.0(0000.490*kVAr)",
    b"1-0:72.7.0(225.9*V)",
    b"1-0:71.7.0(004.6*A)",
)
XT211_LINES = (
    b"1-1:1.8.1(001595.070*kWh)",
    b"1-1:2.8.1(004478.038*kWh)",
    b"1-1:1.7.0(01.622*kW)",
    b"1-0:99.97.0(2)(0-0:96.7.19)(240523144934S)(0005564711*s)(241109083138W)(0000000124*s)",
    b"1-0:51.7.0(017.19*A)",
    b"1-1:1.6.0(250315014500W)(15.206*kW)",
    b"1-0:1.4.0(00.288*kW)",
)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            KAMSTRUP_OMNIA_LINES,
            {
                "1-0:1.8.0": 123.321,
                "1-0:3.8.0": 1234.432,
                "1-0:4.8.0": 5678.765,
                "1-0:3.7.0": 1.229,
                "1-0:43.7.0": 0.49,
                "1-0:72.7.0": 225.9,
                "1-0:71.7.0": 4.6,
            },
        ),
        (
            XT211_LINES,
            {
                "1-1:1.8.1": 1595.07,
                "1-1:2.8.1": 4478.038,
                "1-1:1.7.0": 1.622,
                "1-0:99.97.0": 124.0,  # the latest of its two failures
                "1-0:51.7.0": 17.19,
                "1-1:1.6.0": 15.206,  # the month's peak, after its time
                "1-0:1.4.0": 0.288,
            },
        ),
    ],
    ids=["kamstrup-omnia", "sagemcom-xt211"],
)
def test_a_field_meter_s_lines_give_the_values_they_show(
    lines: tuple[bytes, ...], expected: dict[str, float]
) -> None:
    """A channel per code: ``kVArh`` and ``kVAr`` are DSMR's units (no thousandth), the
    codes of channel B 1 are codes as any other."""
    spec = FormatSpec("dsmr", tuple((code, code) for code in expected))
    decode = codec_for("dsmr").decoder(spec)
    assert dict(reading for line in lines for reading in decode(line)) == expected


LUXEMBOURG_FRAME = bytes.fromhex(
    """
db 08 73 79 73 74 69 74 6c 65 82 05 de 30 11 22 33 44 b5 e5 ee 7a 9e a0 4f 21 d9 e3 20 cf
37 3c a5 d2 01 1d 28 40 a4 81 d2 07 18 ab f7 4c 74 a0 cf 5f b0 95 f9 71 de 36 33 62 17 00
21 fb 4b 8d 5d 10 a5 29 59 4e 6d b1 de 8a fe a6 6e ac 38 fc 8c 9a ad 74 cf 4b 4d 61 66 47
77 03 0a a1 76 24 b5 63 b6 ff b9 3b bd 80 4d 97 58 2e ca c5 04 52 f8 81 c1 8f 78 e2 1b 0f
03 d1 c7 76 af ee 72 31 a6 8b 21 b1 a7 5e c2 ba 2c e0 dc e4 cb bc 92 eb 8b 4e ab 66 63 ec
57 d0 8d 14 8f 90 68 f5 df c5 b7 6d 14 ec 69 d7 96 53 6d bd 42 72 ff 1a 6a a9 b7 d0 8a 34
0a 6d 46 59 f7 fb 8b 52 71 38 c1 95 fa 78 43 c8 59 64 35 47 37 69 04 ef b5 e8 05 74 f6 45
89 e0 88 bf d1 4e 61 d5 0e 07 94 94 dd 25 e2 a2 29 7f d8 b2 61 25 d4 16 60 4b 06 e2 c1 24
f5 73 23 87 4d bc 4f f6 1d 58 ab f3 a7 9f 42 e4 48 98 e5 70 71 ca b8 88 af 7b fa c3 e9 9d
36 a5 e9 39 2b ac 71 72 45 fc 60 ba 37 7c 83 9c c1 f1 80 05 fb 05 83 8e c9 69 3a f0 91 60
c2 b9 b6 18 7e 24 48 29 1c f9 43 aa ad 26 68 bf 0d 24 8d 82 9a 08 29 58 3c d7 60 88 e8 42
04 77 04 31 31 cc 0e d9 15 81 f0 00 66 15 ad 9a a7 19 63 bb 3d 84 c8 16 17 c1 c2 3c b1 fe
27 de 18 69 7b 18 f9 40 80 eb 78 6b 92 c5 30 bc 00 11 67 99 8e 1d 73 24 19 7f a3 67 51 da
07 f2 b6 e8 8f 2a f6 72 8b a2 6d 23 3e 2b 7a ce 0c fd 38 3c 1d a5 cd 2d 02 57 ee 45 26 1b
2e 63 64 7f a7 cb 9c 27 3e 9b 74 4c 14 00 c8 07 4b 05 95 f1 b9 76 94 ce f0 2a ae f3 ed b9
2f 48 49 85 cb 67 17 d7 da 64 72 b9 ed d7 fe b6 84 fb 89 90 2c 98 f0 50 b3 c3 59 78 0f ba
8c 17 ea 21 6c f7 60 3d cc 6f 5a 30 46 3f e7 14 40 0b fe 1c 5f 3a 2b 7c 70 04 a3 1e dd db
5b e0 06 fe 7a 0b ca c0 22 80 8a 2f 7c 7c ce 40 44 d8 de dd 66 42 2b 93 90 ed d6 95 48 92
4c 3f 94 12 ff 98 b3 07 88 6a 47 d3 ee f0 f9 73 fd be 03 39 1d d5 0f bc 3c 7d 24 68 99 00
e7 59 d1 5e d2 b9 e0 0f de 75 64 97 74 72 4b d4 e5 3d fc 78 6b f8 9e df 3e 92 7f e0 8c 0d
4c 30 e9 83 b6 5a 4f cd 4a c6 f9 a9 43 ab 1e fd c9 b5 b9 ce 77 c3 a7 bb ce 80 a0 7a fc d6
78 cc 2a d8 6b 81 11 e4 5a 82 27 7e f7 d9 8c 04 db 95 35 b3 5d 4a 6a 1b f0 84 48 03 b9 e1
6a 79 fd 25 89 a2 3a 74 90 46 9a 25 dc 5d 68 f4 f3 0b c5 24 e9 c9 c5 b2 7a c7 5d c9 83 53
34 43 88 eb de 88 71 72 f9 f8 d8 ee 22 30 43 17 f3 33 de 12 d2 00 41 6f 47 95 f2 60 56 91
bd 94 f9 49 a3 ae 15 2c 77 7c dc c5 4f 63 e8 68 31 72 4c 95 97 95 19 8f cb 6a 91 d3 6a 0b
4f 8a b1 23 49 7b 78 6e 54 3b 96 38 8c e5 27 72 a1 9e b2 5d 6f 33 a0 97 34 43 8e 57 04 1c
2d e2 8f 89 dd 13 30 c6 cf 39 9a 4b 8b 25 3a 42 a5 1c 1c 25 86 89 ab 5d 62 0e 81 a1 bb 78
0a ce 95 6a 95 2a 03 b1 35 98 56 b9 8d 0c 74 e3 2e 5b d3 f9 ae aa e8 8a 3b 4b 04 39 05 78
a8 22 aa 6a 93 52 f4 54 b1 91 ef 27 95 dc df b7 cd a4 85 65 63 e3 d0 63 70 e4 73 80 32 9d
08 10 f8 be 56 72 f0 08 57 34 fa c0 c1 5c d2 3d b1 24 81 3d f6 53 a0 2e 4d e5 5a 41 c2 0c
d5 19 64 7a cb af 5e f6 1d ca 91 ec a3 56 0c 17 1c b5 70 8e 0e 5c 04 be c5 1b b3 45 4e 3c
2c 66 7b 47 3f 51 00 5d fb 73 07 0d 71 d8 2f 8f cf 0f b7 71 2c 84 23 57 db 2f 3e 4e 9b 24
9f fe 5a e3 b1 c4 18 11 02 89 63 40 2c 1b d5 be 31 f9 04 88 a7 ba be bb 96 f1 9f 1c a0 79
d5 b0 10 26 56 03 c9 3d 17 d4 0d 8f 14 c5 2d f0 e3 22 20 35 96 f8 97 f2 5f 0a 3b e9 34 23
bc c7 d9 7f 93 c1 e3 f0 cc c0 97 68 78 bd 22 df 42 f1 a4 9c 64 96 2b 54 2a eb 93 bb 1d 45
2f 37 ec 72 2f 34 65 fd 65 40 4b d9 03 c4 b9 f6 3f 68 a0 23 e4 57 0f f2 6f b0 4b fb 17 57
a5 05 0d 5c 21 f4 9c 44 04 e5 71 6e 1d c2 7b 9e 33 73 01 f7 45 d9 6a e3 39 bd 5d 3b 78 5e
64 00 e8 cb 82 0d ad a8 49 99 fb 95 b0 58 0f a4 fa c6 d1 1f 8f 45 ef cb f3 27 03 e8 d8 4e
ae 6f aa f9 39 e4 75 05 ca d2 04 ef be c5 00 8d a0 15 49 b6 2c 46 33 6e 3a cf 4d 12 ef d9
c3 ee 56 e1 51 1b 12 20 23 c8 46 c2 fa 83 d5 8d f1 67 a6 19 1a 12 1b b5 5c 08 e4 4b f0 e9
a1 48 d1 f4 e3 29 18 30 59 c0 d7 6b 3d 04 86 26 18 de 9a e6 66 c3 d2 46 8c 0c a5 7a 99 85
7f 56 e0 36 4e 5a cf da e1 02 55 d9 bb 90 66 9d 50 df ba 74 12 3b 44 99 6f fe 31 5e 2f 3f
0d 09 e0 91 ab 24 cf 04 ac 8e f8 5f a3 bf 32 78 e5 a8 9e c0 57 db d7 3c 31 1e 7c 2e 4b 26
2e 03 d8 06 7b 14 34 3a 48 eb d0 cd b2 4c b4 c1 68 be 0d cd 5e 2f 47 17 7a bf 3b ee 54 bf
44 ae a9 a1 28 51 c3 c9 39 2c b5 ad c2 ca 46 ef 59 77 cc 5a df bb 08 7e e0 ae b0 33 28 b6
f5 ba 41 2d dd 6d 26 96 c7 5d 5e e4 af 72 ce 7d 91 4c 30 dc 59 c9 a9 58 4f 62 c3 b0 27 74
e4 1f a7 91 48 4c 19 ac 02 b8 9d c7 37 79 fd 5d 97 9e 73 4a 3f 8f c4 6c 2e 32 8a 7f d9 62
d5 f0 14 ff 25 66 78 2f 36 ad 62 88 7d 54 9f c7 36 f9 40 57 d3 8b ca b4 b4 7e 71 e2 5e 56
fd 94 3a 9f a5 2b 14 62 05 7b e0 e0 3f 5c 60 ac 95 46 6b 74 40 e2 ac 69 10 3f c7 c1 54 d7
c9 d3 ce 8a 61 77 e9 95 7a ba 90 2b 7a 40 62 3d c2 4e 78 a7 d8 60 87 c0 8c c0 92 48 e0 ca
4c 13 65 b5 b4 4e 22 f5 6b 44 16 8a 93 77 0b
"""
)


def test_the_luxembourg_example_frame_is_whole_by_its_header() -> None:
    """Its length field (0x82, 0x05DE) counts the bytes after it: the frame is as long as its
    header says."""
    assert LUXEMBOURG_FRAME[:10] == b"\xdb\x08systitle"
    assert len(LUXEMBOURG_FRAME) == 13 + 0x05DE


@pytest.mark.parametrize("opened_at", [0, 1, 700])
def test_encrypted_luxembourg_frames_are_skipped_and_told_not_rejected(opened_at: int) -> None:
    """Frames of the Luxembourg specification's example, the port opened at their start or
    inside the first: no line, no rejection (the ``/`` bytes of their ciphertext begin no
    telegram), their bytes skipped; the hint names the system title and says to decrypt them
    before sensord. A telegram sent after them is read."""
    data = (LUXEMBOURG_FRAME * 4)[opened_at:]
    framer = BlockFramer("dsmr", 2100)
    assert framer.feed(data) == []
    assert (framer.rejections, framer.skipped_bytes) == (0, len(data))
    hint = framer.no_frame_hint(data)
    assert "encrypted" in hint
    assert "system title 7379737469746C65" in hint
    assert "decrypt" in hint
    assert framer.feed(KAIFA_42) == telegram_lines(KAIFA_42)


def test_a_kaifa_meter_on_a_pty_publishes_its_readings(pty_pair: PtyPair) -> None:
    """The Kaifa's telegrams through a real pty, the port opened in the middle of the
    first: the next two give their readings, no parse error."""
    clock = PortClock()
    body = (
        'format = "dsmr"\n'
        "channels = [\n"
        '  { name = "imported_t1_kwh", field = "1-0:1.8.1" },\n'
        '  { name = "returned_kw", field = "1-0:2.7.0" },\n'
        '  { name = "gas_m3", field = "0-1:24.2.1" },\n'
        "]\n"
    )
    with sensor_on(pty_pair, clock, body) as opened:
        clock.now += 0.001
        send(opened, pty_pair, KAIFA_42[300:] + KAIFA_42 * 2)
        assert latest(opened) == {
            "imported_t1_kwh": 4726.494,
            "returned_kw": 1.869,
            "gas_m3": 5359.919,
        }
        assert sum(opened.snapshot().parse_errors.values()) == 0
