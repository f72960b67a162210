"""``format = "dsmr"`` on telegrams of more real meters than ``test_formats_dsmr``'s, and on
the damage a line does to a real stream of them.

Fixtures, each with its origin (the index shows them with their line ends made ``\\n``;
each line is put back with the CR LF a meter sends, and the CRC of each telegram that has one
holding shows this gives the bytes the meter sent):

* ``FLUVIUS_RUN``: three telegrams a Belgian Fluvius meter (``/FLU5\\253769484_A``) sent a
  second apart, CRCs ``BCCF``, ``E9F6`` and ``0FD9``, with the empty lines between them and a
  stray ``p`` before the second one's ``/`` as captured; public repository
  matthijskooijman/arduino-dsmr, file "specs/Belgium Fluvius extention specification/
  voorbeelden.txt", its third to fifth telegrams.
* ``E350_DSMR40``: a DSMR 4.0 telegram of a Landis+Gyr E350 (``/XMX5LGBBFFB231216240``) whose
  power failure log is empty, CRC ``4F82``; public repository athombv/node-dsmr-parser, file
  tests/telegrams/dsmr/dsmr-4.0-isk-2.txt.
* ``FLUVIUS_PEAKS``: a Fluvius telegram (``/FLU5\\253769484_A``, e-MUCS 5B) with the average
  demand, the month's peak, the peaks of three months before it (oldest first) and a gas
  meter, CRC ``2579``; public repository home-assistant/core, issue #107813 (the header line,
  which the log line before the telegram shows, put back).
* ``ISKRA_DSMR22_RUN``: two consecutive DSMR 2.2 telegrams of an Iskra MT382
  (``/ISk5\\2MT382-1003``, no CRC) whose gas meter is on M-Bus channel 2, its reading on the
  line after ``0-2:24.3.0``; public repository nielsbasjes/dsmr-tools, issue #54.
* ``AUX_HU``: a telegram of a Hungarian meter (``/AUX59903218166``) whose text message
  ``0-0:96.13.0`` is 1024 bytes 0xFF (an unwritten message), CRC ``5C2E``; public repository
  kazhu/P1Monitor, file P1Monitor.Tests/DsmrReaderTest.cs, ``SampleDatagram`` (written there
  as 1024 ``ÿ`` read as Latin-1, as its test says).
* ``T210D_DAMAGED``: a Sagemcom T210-D (``/Ene5\\T210-D ESMR5.0``) telegram a user posted
  because its CRC ``6D8C`` failed: ``1,0:2.7.0`` for ``1-0:2.7.0`` and a digit lost in
  ``1-0:1.8.2(000027.00*kWh)``; public repository dsmrreader/dsmr-reader, issue #483.
* ``AIDON_6534``: a telegram of a Swedish Aidon 6534 (``/ADN9 6534``: its header's fifth
  character, 9, is no baud rate letter of IEC 62056-21) with the "Swedish P1" codes (energy
  and reactive energy both ways in total, active and reactive power per phase in ``kVAr``, no
  tariffs, no gas), CRC ``759E``; public repository evcc-io/evcc, file meter/dsmr_test.go,
  ``dsmrTelegramADN``.
* ``KAIFA_MA304``: a telegram of a Swedish Kaifa MA304H4E (``/KFM5KAIFA-METER``), CRC ``7D16``;
  public repository dsmrreader/dsmr-reader, issue #1394 (posted with the header line after
  the ``!``, where the next telegram began; put back before its first line).
* ``ELL5``: a telegram with the Swedish codes (``/ELL5\\253833635_A``) that writes its reactive
  units in lower case (``kvarh``, ``kvar``), CRC ``80FF``; public repository toreamun/amshan, file
  tests/test_dlde.py, ``EXAMPLE_DATA_C``.
* ``AM550_DSMR50``: a DSMR 5.0 telegram of an Iskra AM550 (``/ISK5\\2M550T-1011``) whose power
  failure log is empty, written ``1-0:99.97.0()``, CRC ``3F8B``; public repository
  evcc-io/evcc, file meter/dsmr_test.go, ``dsmrTelegram50`` (from nlrb/node-dsmr-parser's
  example-v5.txt, as its comment says).
* ``E360``: a telegram of a Swedish Landis+Gyr E360 (``/LGF5E360``), CRC ``8012``; the same
  file, ``EXAMPLE_DATA_D_LANDISGYR_360``.
* ``DSMR30``: the DSMR 3.0 telegram of the P1 Companion Standard's example (``/ISk5\\2MT382-1000``,
  no version line, no CRC); public repository ndokter/dsmr_parser, file
  test/example_telegrams.py, ``TELEGRAM_V3``. An example of the standard, not a capture.
* ``EASYMETER_COM1``: a telegram of an EasyMeter Q3D (``/ESY5Q3DB1024 V3.04``, no CRC) read
  through a COM-1 Ethernet gateway, which adds two lines after its ``!``: ``  25803103`` and
  33 bytes 0xFF; the same file, ``TELEGRAM_ESY5Q3DB1024_V304``.

The telegrams taken from ``test_formats_blocks`` (``DSMR5``, ``DSMR22``, ``DSMR42``,
``EASYMETER``, ``FLUVIUS``) have their origin in its docstring.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from harness.config import load_sensors
from harness.dsmr_parser_telegrams import ESY5Q3DB1024, V3
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs
from test_blocks import take, telegram_lines
from test_formats_blocks import (
    DSMR5,
    DSMR22,
    DSMR42,
    EASYMETER,
    FLUVIUS,
    counts,
    crc16_arc,
    latest,
    runtime,
)
from test_formats_dsmr import AUSTRIA_T210, XS210_NO_GAS, meter, read
from test_formats_dsmr_holley import HOLLEY

from sensord.errors import NotMeasuredError, ParseError
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec
from sensord.formats.blocks import BlockFramer


def crlf(text: str) -> bytes:
    """``text``'s lines, each ended in CR LF as a meter sends it."""
    return "".join(line + "\r\n" for line in text.strip("\n").split("\n")).encode("ascii")


FLUVIUS_RUN = crlf(
    r"""
/FLU5\253769484_A

0-0:96.1.4(50213)
0-0:96.1.1(3153414733313030303130383431)
0-0:1.0.0(200207211650W)
1-0:1.8.1(000604.154*kWh)
1-0:1.8.2(000640.405*kWh)
1-0:2.8.1(000000.005*kWh)
1-0:2.8.2(000000.204*kWh)
0-0:96.14.0(0001)
1-0:1.7.0(00.643*kW)
1-0:2.7.0(00.000*kW)
1-0:32.7.0(223.0*V)
1-0:52.7.0(233.0*V)
1-0:72.7.0(229.5*V)
1-0:31.7.0(000*A)
1-0:51.7.0(001*A)
1-0:71.7.0(000*A)
0-0:96.3.10(1)
0-0:17.0.0(999.9*kW)
1-0:31.4.0(999*A)
0-0:96.13.0()
!BCCF

p/FLU5\253769484_A

0-0:96.1.4(50213)
0-0:96.1.1(3153414733313030303130383431)
0-0:1.0.0(200209122751W)
1-0:1.8.1(000604.603*kWh)
1-0:1.8.2(000675.909*kWh)
1-0:2.8.1(000000.005*kWh)
1-0:2.8.2(000000.204*kWh)
0-0:96.14.0(0002)
1-0:1.7.0(00.701*kW)
1-0:2.7.0(00.000*kW)
1-0:32.7.0(228.7*V)
1-0:52.7.0(235.2*V)
1-0:72.7.0(232.9*V)
1-0:31.7.0(000*A)
1-0:51.7.0(002*A)
1-0:71.7.0(000*A)
0-0:96.3.10(1)
0-0:17.0.0(999.9*kW)
1-0:31.4.0(999*A)
0-0:96.13.0()
!E9F6

/FLU5\253769484_A

0-0:96.1.4(50213)
0-0:96.1.1(3153414733313030303130383431)
0-0:1.0.0(200209122752W)
1-0:1.8.1(000604.603*kWh)
1-0:1.8.2(000675.909*kWh)
1-0:2.8.1(000000.005*kWh)
1-0:2.8.2(000000.204*kWh)
0-0:96.14.0(0002)
1-0:1.7.0(00.693*kW)
1-0:2.7.0(00.000*kW)
1-0:32.7.0(228.7*V)
1-0:52.7.0(235.2*V)
1-0:72.7.0(232.9*V)
1-0:31.7.0(000*A)
1-0:51.7.0(002*A)
1-0:71.7.0(000*A)
0-0:96.3.10(1)
0-0:17.0.0(999.9*kW)
1-0:31.4.0(999*A)
0-0:96.13.0()
!0FD9
"""
)

E350_DSMR40 = crlf(
    r"""
/XMX5LGBBFFB231216240

1-3:0.2.8(40)
0-0:1.0.0(000101010000W)
0-0:96.1.1(4530303034303031353931303932323134)
1-0:1.8.1(001990.002*kWh)
1-0:1.8.2(000000.000*kWh)
1-0:2.8.1(000000.000*kWh)
1-0:2.8.2(000000.000*kWh)
0-0:96.14.0(0001)
1-0:1.7.0(00.000*kW)
1-0:2.7.0(00.000*kW)
0-0:17.0.0(999.9*kW)
0-0:96.3.10(1)
0-0:96.7.21(00023)
0-0:96.7.9(00000)
1-0:99.97.0(0)(0-0:96.7.19)
1-0:32.32.0(00000)
1-0:32.36.0(00000)
0-0:96.13.1()
0-0:96.13.0()
!4F82
"""
)

T210D_DAMAGED = crlf(
    r"""
/Ene5\T210-D ESMR5.0

1-3:0.2.8(50)
0-0:1.0.0(180624230352S)
0-0:96.1.1(4530303438303030303132333330373138)
1-0:1.8.1(000050.134*kWh)
1-0:1.8.2(000027.00*kWh)
1-0:2.8.1(000000.148*kWh)
1-0:2.8.2(000000.000*kWh)
0-0:96.14.0(0001)
1-0:1.7.0(00.215*kW)
1,0:2.7.0(00.000*kW)
0-0:96.7.21(00017)
0-0:96.7.9(00006)
1-0:99.97.0(1)(0-0:96.7.19)(180617150629S)(0000004386*s)
1-0:32.32.0(00003)
1-0:52.32.0(00003)
1-0:72.32.0(00002)
1-0:32.36.0(00000)
1-0:52.36.0(00000)
1-0:72.36.0(00000)
0-0:96.13.0()
1-0:32.7.0(234.0*V)
1-0:52.7.0(234.0*V)
1-0:72.7.0(236.0*V)
1-0:31.7.0(001*A)
1-0:51.7.0(000*A)
1-0:71.7.0(000*A)
1-0:21.7.0(00.215*kW)
1-0:41.7.0(00.000*kW)
1-0:61.7.0(00.00*kW)
1-0:22.7.0(00.000*kW)
1-0:42.7.0(00.000*kW)
1-0:62.7.0(00.000*kW)
0-1:24.1.0(003)
0-1:96.1.0(4730303538353330303138393631303138)
0-1:24.2.1(180624230000S)(00009.493*m3)
!6D8C
"""
)


FLUVIUS_PEAKS = crlf(
    r"""
/FLU5\253769484_A

0-0:96.1.4(50217)
0-0:96.1.1(3153414733313035303536363235)
0-0:1.0.0(240112231755W)
1-0:1.8.1(000116.372*kWh)
1-0:1.8.2(000062.192*kWh)
1-0:2.8.1(000112.716*kWh)
1-0:2.8.2(000042.757*kWh)
0-0:96.14.0(0002)
1-0:1.4.0(00.025*kW)
1-0:1.6.0(240107190000W)(02.485*kW)
0-0:98.1.0(3)(1-0:1.6.0)(1-0:1.6.0)(231101000000W)(231031120000W)(01.747*kW)(231201000000W)(231109164500W)(03.260*kW)(240101000000W)(231224134500W)(01.981*kW)
1-0:1.7.0(00.134*kW)
1-0:2.7.0(00.000*kW)
1-0:21.7.0(00.027*kW)
1-0:41.7.0(00.062*kW)
1-0:61.7.0(00.044*kW)
1-0:22.7.0(00.000*kW)
1-0:42.7.0(00.000*kW)
1-0:62.7.0(00.000*kW)
1-0:32.7.0(230.6*V)
1-0:52.7.0(230.5*V)
1-0:72.7.0(229.2*V)
1-0:31.7.0(000.17*A)
1-0:51.7.0(000.49*A)
1-0:71.7.0(000.25*A)
0-0:96.3.10(1)
0-0:17.0.0(999.9*kW)
1-0:31.4.0(999*A)
0-0:96.13.0()
0-1:24.1.0(003)
0-1:96.1.1(37464C4F32313233303036333835)
0-1:24.4.0(1)
0-1:24.2.3(240112231646W)(00338.711*m3)
!2579
"""
)

AUX_HU = crlf(
    r"""
/AUX59903218166

0-0:1.0.0(230817171430S)
0-0:42.0.0(AUX1030303218166)
0-0:96.1.0(9903218166)
0-0:96.14.0(0001)
0-0:96.50.68(ON)
0-0:17.0.0(90.000*kW)
1-0:1.8.0(000812.421*kWh)
1-0:1.8.1(000470.111*kWh)
1-0:1.8.2(000342.310*kWh)
1-0:1.8.3(000000.000*kWh)
1-0:1.8.4(000000.000*kWh)
1-0:2.8.0(001714.369*kWh)
1-0:2.8.1(001233.413*kWh)
1-0:2.8.2(000480.956*kWh)
1-0:2.8.3(000000.000*kWh)
1-0:2.8.4(000000.000*kWh)
1-0:3.8.0(000018.858*kvarh)
1-0:4.8.0(000439.269*kvarh)
1-0:5.8.0(000011.481*kvarh)
1-0:6.8.0(000007.377*kvarh)
1-0:7.8.0(000186.705*kvarh)
1-0:8.8.0(000252.564*kvarh)
1-0:15.8.0(002526.790*kWh)
1-0:32.7.0(234.0*V)
1-0:52.7.0(232.7*V)
1-0:72.7.0(233.5*V)
1-0:31.7.0(001*A)
1-0:51.7.0(000*A)
1-0:71.7.0(000*A)
1-0:13.7.0(0.336)
1-0:33.7.0(0.842)
1-0:53.7.0(0.989)
1-0:73.7.0(0.845)
1-0:14.7.0(49.99*Hz)
1-0:1.7.0(00.250*kW)
1-0:2.7.0(00.168*kW)
1-0:5.7.0(00.000*kvar)
1-0:6.7.0(00.000*kvar)
1-0:7.7.0(00.066*kvar)
1-0:8.7.0(00.159*kvar)
1-0:31.4.0(200*A)
1-0:51.4.0(200*A)
1-0:71.4.0(200*A)
0-0:98.1.0(230801000000S)(000663.924*kWh)(000383.623*kWh)(000280.301*kWh)(001304.175*kWh)(000906.937*kWh)(000397.238*kWh)(000015.142*kvarh)(000333.817*kvarh)(000009.479*kvarh)(000005.663*kvarh)(000142.881*kvarh)(000190.936*kvarh)(001968.098*kWh)(12.212*kW)(12.212*kW)(11.320*kW)(05.220*kW)(05.220*kW)(05.144*kW)
0-0:96.13.0(MSG)
!5C2E
"""
).replace(b"(MSG)", b"(" + b"\xff" * 1024 + b")")

ISKRA_DSMR22_RUN = crlf(
    r"""
/ISk5\2MT382-1003

0-0:96.1.1(5A424556303035313036383434393132)
1-0:1.8.1(16722.627*kWh)
1-0:1.8.2(19412.712*kWh)
1-0:2.8.1(00859.681*kWh)
1-0:2.8.2(01817.110*kWh)
0-0:96.14.0(0002)
1-0:1.7.0(0000.59*kW)
1-0:2.7.0(0000.00*kW)
0-0:17.0.0(0999.00*kW)
0-0:96.3.10(1)
0-0:96.13.1()
0-0:96.13.0()
0-2:24.1.0(3)
0-2:96.1.0(3238303131303038333036343239303133)
0-2:24.3.0(211123200000)(00)(60)(1)(0-2:24.2.1)(m3)
(13376.292)
0-2:24.4.0(1)
!
/ISk5\2MT382-1003

0-0:96.1.1(5A424556303035313036383434393132)
1-0:1.8.1(16722.627*kWh)
1-0:1.8.2(19412.713*kWh)
1-0:2.8.1(00859.681*kWh)
1-0:2.8.2(01817.110*kWh)
0-0:96.14.0(0002)
1-0:1.7.0(0000.59*kW)
1-0:2.7.0(0000.00*kW)
0-0:17.0.0(0999.00*kW)
0-0:96.3.10(1)
0-0:96.13.1()
0-0:96.13.0()
0-2:24.1.0(3)
0-2:96.1.0(3238303131303038333036343239303133)
0-2:24.3.0(211123200000)(00)(60)(1)(0-2:24.2.1)(m3)
(13376.292)
0-2:24.4.0(1)
!
"""
)


AM550_DSMR50 = crlf(
    r"""
/ISK5\2M550T-1011

1-3:0.2.8(50)
0-0:1.0.0(170531201444S)
0-0:96.1.1(4530303334303036383234393130313137)
1-0:1.8.1(000000.626*kWh)
1-0:1.8.2(000002.564*kWh)
1-0:2.8.1(000000.000*kWh)
1-0:2.8.2(000000.000*kWh)
0-0:96.14.0(0002)
1-0:1.7.0(00.532*kW)
1-0:2.7.0(00.000*kW)
0-0:96.7.21(00004)
0-0:96.7.9(00002)
1-0:99.97.0()
1-0:32.32.0(00000)
1-0:52.32.0(00000)
1-0:72.32.0(00000)
1-0:32.36.0(00001)
1-0:52.36.0(00001)
1-0:72.36.0(00001)
0-0:96.13.0()
1-0:32.7.0(236.8*V)
1-0:52.7.0(236.1*V)
1-0:72.7.0(238.4*V)
1-0:31.7.0(000*A)
1-0:51.7.0(001*A)
1-0:71.7.0(001*A)
1-0:21.7.0(00.056*kW)
1-0:41.7.0(00.270*kW)
1-0:61.7.0(00.206*kW)
1-0:22.7.0(00.000*kW)
1-0:42.7.0(00.000*kW)
1-0:62.7.0(00.000*kW)
0-1:24.1.0(003)
0-1:96.1.0(4730303332353635353039393034313137)
0-1:24.2.1(170531201008S)(00000.038*m3)
!3F8B
"""
)


AIDON_6534 = crlf(
    r"""
/ADN9 6534

0-0:1.0.0(240108164940W)
1-0:1.8.0(00010117.368*kWh)
1-0:2.8.0(00000000.000*kWh)
1-0:3.8.0(00001759.974*kVArh)
1-0:4.8.0(00001260.519*kVArh)
1-0:1.7.0(0004.251*kW)
1-0:2.7.0(0000.000*kW)
1-0:3.7.0(0001.279*kVAr)
1-0:4.7.0(0000.000*kVAr)
1-0:21.7.0(0001.462*kW)
1-0:22.7.0(0000.000*kW)
1-0:41.7.0(0001.263*kW)
1-0:42.7.0(0000.000*kW)
1-0:61.7.0(0001.523*kW)
1-0:62.7.0(0000.000*kW)
1-0:23.7.0(0000.529*kVAr)
1-0:24.7.0(0000.000*kVAr)
1-0:43.7.0(0000.500*kVAr)
1-0:44.7.0(0000.000*kVAr)
1-0:63.7.0(0000.269*kVAr)
1-0:64.7.0(0000.000*kVAr)
1-0:32.7.0(221.2*V)
1-0:52.7.0(224.3*V)
1-0:72.7.0(223.3*V)
1-0:31.7.0(007.0*A)
1-0:51.7.0(006.0*A)
1-0:71.7.0(006.9*A)
!759E
"""
)

KAIFA_MA304 = crlf(
    r"""
/KFM5KAIFA-METER

0-0:1.0.0(210524094210W)
1-0:1.8.0(00000424.413*kWh)
1-0:2.8.0(00000000.000*kWh)
1-0:3.8.0(00000002.116*kVArh)
1-0:4.8.0(00000170.745*kVArh)
1-0:1.7.0(0000.182*kW)
1-0:2.7.0(0000.000*kW)
1-0:3.7.0(0000.000*kVAr)
1-0:4.7.0(0000.069*kVAr)
1-0:21.7.0(0000.053*kW)
1-0:22.7.0(0000.000*kW)
1-0:41.7.0(0000.107*kW)
1-0:42.7.0(0000.000*kW)
1-0:61.7.0(0000.020*kW)
1-0:62.7.0(0000.000*kW)
1-0:23.7.0(0000.000*kVAr)
1-0:24.7.0(0000.016*kVAr)
1-0:43.7.0(0000.000*kVAr)
1-0:44.7.0(0000.023*kVAr)
1-0:63.7.0(0000.000*kVAr)
1-0:64.7.0(0000.029*kVAr)
1-0:32.7.0(230.7*V)
1-0:52.7.0(227.8*V)
1-0:72.7.0(232.3*V)
1-0:31.7.0(000.4*A)
1-0:51.7.0(000.5*A)
1-0:71.7.0(000.1*A)
!7D16
"""
)

ELL5 = crlf(
    r"""
/ELL5\253833635_A

0-0:1.0.0(201020085222W)
1-0:1.8.0(00001605.055*kWh)
1-0:2.8.0(00000000.131*kWh)
1-0:3.8.0(00000003.642*kvarh)
1-0:4.8.0(00000185.707*kvarh)
1-0:1.7.0(0006.000*kW)
1-0:2.7.0(0000.000*kW)
1-0:3.7.0(0000.200*kvar)
1-0:4.7.0(0000.470*kvar)
1-0:21.7.0(0003.172*kW)
1-0:41.7.0(0000.441*kW)
1-0:61.7.0(0002.386*kW)
1-0:22.7.0(0000.000*kW)
1-0:42.7.0(0000.000*kW)
1-0:62.7.0(0000.000*kW)
1-0:23.7.0(0000.000*kvar)
1-0:43.7.0(0000.200*kvar)
1-0:63.7.0(0000.000*kvar)
1-0:24.7.0(0000.222*kvar)
1-0:44.7.0(0000.000*kvar)
1-0:64.7.0(0000.247*kvar)
1-0:32.7.0(234.4*V)
1-0:52.7.0(233.3*V)
1-0:72.7.0(235.1*V)
1-0:31.7.0(013.6*A)
1-0:51.7.0(002.0*A)
1-0:71.7.0(010.2*A)
!80FF
"""
)

E360 = crlf(
    r"""
/LGF5E360

0-0:1.0.0(220204110650W)
1-0:1.8.0(00010501.076*kWh)
1-0:2.8.0(00000000.000*kWh)
1-0:3.8.0(00001761.087*kVArh)
1-0:4.8.0(00000008.391*kVArh)
1-0:1.7.0(0002.301*kW)
1-0:2.7.0(0000.000*kW)
1-0:3.7.0(0000.135*kVAr)
1-0:4.7.0(0000.000*kVAr)
1-0:21.7.0(0000.622*kW)
1-0:22.7.0(0000.000*kW)
1-0:41.7.0(0000.667*kW)
1-0:42.7.0(0000.000*kW)
1-0:61.7.0(0001.011*kW)
1-0:62.7.0(0000.000*kW)
1-0:23.7.0(0000.000*kVAr)
1-0:24.7.0(0000.208*kVAr)
1-0:43.7.0(0000.000*kVAr)
1-0:44.7.0(0000.142*kVAr)
1-0:63.7.0(0000.486*kVAr)
1-0:64.7.0(0000.000*kVAr)
1-0:32.7.0(232.1*V)
1-0:52.7.0(233.1*V)
1-0:72.7.0(231.9*V)
1-0:31.7.0(002.8*A)
1-0:51.7.0(002.9*A)
1-0:71.7.0(004.8*A)
!8012
"""
)


def telegrams_of(run: bytes) -> list[bytes]:
    """The telegrams of ``run``, each from its ``/`` to the CR LF after its CRC."""
    found = []
    start = run.find(b"/")
    while start >= 0:
        end = run.index(b"\r\n", run.index(b"\r\n!", start) + 2) + 2
        found.append(run[start:end])
        start = run.find(b"/", end)
    return found


FLUVIUS_TELEGRAMS = telegrams_of(FLUVIUS_RUN)
#: The telegrams of the meters with the Swedish codes, in the order of their fixtures.
SWEDISH = (AIDON_6534, KAIFA_MA304, ELL5, E360)

#: A Belgian household's channels: energy per tariff both ways, the tariff, power both ways,
#: voltage and current per phase, the power limit and the fuse.
FLUVIUS_CHANNELS = (
    ("imported_t1_kwh", "1-0:1.8.1"),
    ("imported_t2_kwh", "1-0:1.8.2"),
    ("exported_t1_kwh", "1-0:2.8.1"),
    ("exported_t2_kwh", "1-0:2.8.2"),
    ("tariff", "0-0:96.14.0"),
    ("power_kw", "1-0:1.7.0"),
    ("returned_kw", "1-0:2.7.0"),
    ("voltage_l1_v", "1-0:32.7.0"),
    ("voltage_l2_v", "1-0:52.7.0"),
    ("voltage_l3_v", "1-0:72.7.0"),
    ("current_l1_a", "1-0:31.7.0"),
    ("current_l2_a", "1-0:51.7.0"),
    ("current_l3_a", "1-0:71.7.0"),
    ("limit_kw", "0-0:17.0.0"),
    ("fuse_a", "1-0:31.4.0"),
)
#: What the lines of the run's last telegram show.
FLUVIUS_LAST = {
    "imported_t1_kwh": 604.603,
    "imported_t2_kwh": 675.909,
    "exported_t1_kwh": 0.005,
    "exported_t2_kwh": 0.204,
    "tariff": 2.0,
    "power_kw": 0.693,
    "returned_kw": 0.0,
    "voltage_l1_v": 228.7,
    "voltage_l2_v": 235.2,
    "voltage_l3_v": 232.9,
    "current_l1_a": 0.0,
    "current_l2_a": 2.0,
    "current_l3_a": 0.0,
    "limit_kw": 999.9,
    "fuse_a": 999.0,
}


def test_the_fixtures_are_the_bytes_the_meters_sent() -> None:
    """Each CRC holds over the bytes from ``/`` to ``!`` with CR LF line ends, but the damaged
    telegram's, which the user posted for that."""
    assert len(FLUVIUS_TELEGRAMS) == 3
    for telegram in (
        *FLUVIUS_TELEGRAMS,
        E350_DSMR40,
        FLUVIUS_PEAKS,
        AUX_HU,
        AM550_DSMR50,
        *SWEDISH,
    ):
        body, _, rest = telegram.partition(b"\r\n!")
        assert b"%04X\r\n" % crc16_arc(body + b"\r\n!") == rest
    body, _, rest = T210D_DAMAGED.partition(b"\r\n!")
    assert rest == b"6D8C\r\n"
    assert b"%04X\r\n" % crc16_arc(body + b"\r\n!") != rest
    assert FLUVIUS_RUN.count(b"\r\np/FLU5") == 1


def test_a_real_run_of_telegrams_with_a_stray_byte_gives_every_reading() -> None:
    """Every channel a household configures reads the value its line shows, in each of the
    three telegrams: the stray byte and the empty lines between them are skipped, no
    telegram is lost, no parse error."""
    rt = runtime(meter(*FLUVIUS_CHANNELS))
    rt.feed(FLUVIUS_RUN)
    assert latest(rt) == FLUVIUS_LAST
    lines = sum(len(telegram_lines(t)) for t in FLUVIUS_TELEGRAMS)
    assert counts(rt) == {
        "frames": lines,
        "ignored": lines - 3 * len(FLUVIUS_CHANNELS),
        "readings": 3 * len(FLUVIUS_CHANNELS),
        "errors": {},
    }
    whole = take("dsmr", FLUVIUS_RUN)
    assert whole[0] == [line for t in FLUVIUS_TELEGRAMS for line in telegram_lines(t)]
    assert whole[1]["skipped"] == len(b"\r\np\r\n")
    for size in (1, 3, 64, 700):
        assert take("dsmr", FLUVIUS_RUN, [size]) == whole


SECOND = FLUVIUS_TELEGRAMS[1]
SECOND_AT = FLUVIUS_RUN.index(SECOND)


def second_made(telegram: bytes) -> bytes:
    """The run with ``telegram`` in place of its second one."""
    return FLUVIUS_RUN[:SECOND_AT] + telegram + FLUVIUS_RUN[SECOND_AT + len(SECOND) :]


@pytest.mark.parametrize(
    ("damaged", "read", "why"),
    [
        # a byte lost in a reading of the second telegram: its CRC fails
        (second_made(SECOND.replace(b"(000675.909", b"(00675.909")), [0, 2], "checksum"),
        # the second telegram cut short in a line: the third one's '/' follows
        (
            FLUVIUS_RUN[: SECOND_AT + SECOND.index(b"232.9")] + FLUVIUS_TELEGRAMS[2],
            [0, 2],
            "truncated",
        ),
        # the first telegram's CRC line lost: the second one's '/' cuts it short
        (FLUVIUS_RUN.replace(b"!BCCF\r\n", b""), [1, 2], "truncated"),
        # its CRC line cut after two digits
        (FLUVIUS_RUN.replace(b"!E9F6\r\n", b"!E9\r\n"), [0, 2], "truncated"),
        # a wrong CRC in lower-case hex (the right one, e9f6, is read): its CRC fails
        (FLUVIUS_RUN.replace(b"!E9F6\r\n", b"!e9f7\r\n"), [0, 2], "checksum"),
        # a CRC line that is no hex, one digit off it
        (FLUVIUS_RUN.replace(b"!E9F6\r\n", b"!e9g6\r\n"), [0, 2], "syntax"),
        # the CRs of the second telegram lost (a forwarder that makes line ends LF)
        (second_made(SECOND.replace(b"\r\n", b"\n")), [0, 2], "checksum"),
        # the second telegram's '/' lost: its lines come after the first one's end
        (second_made(SECOND[1:]), [0, 2], "truncated"),
        # its '/' read as 0x0F (a bit lost), a byte that is no text, after the stray 'p'
        (second_made(b"\x0f" + SECOND[1:]), [0, 2], "truncated"),
    ],
    ids=[
        "byte-lost",
        "cut-short",
        "crc-line-lost",
        "crc-cut",
        "crc-lower-case-wrong",
        "crc-not-hex",
        "lf-only",
        "slash-lost",
        "slash-no-text",
    ],
)
def test_damage_to_a_real_telegram_costs_it_alone(
    damaged: bytes, read: list[int], why: str
) -> None:
    """The damaged telegram's lines are counted in ``rejected[why]`` and none is read; the
    telegrams around it give all their readings."""
    lines, counted = take("dsmr", damaged)
    assert lines == [line for k in read for line in telegram_lines(FLUVIUS_TELEGRAMS[k])]
    assert set(counted["rejected"]) == {why}
    assert counted["rejected"][why] >= 5
    rt = runtime(meter(*FLUVIUS_CHANNELS))
    rt.feed(damaged)
    assert latest(rt) == FLUVIUS_LAST
    assert counts(rt)["readings"] == len(read) * len(FLUVIUS_CHANNELS)


#: What a meter read through something that takes the CRs out of its telegrams is told.
CRS_STRIPPED_HINT = (
    "telegrams came whose lines end in LF alone, and whose CRC holds over them with the CR LF "
    "line ends a meter sends: something between the meter and sensord (a network bridge, a "
    "logger) takes the CRs out; have it pass the bytes unchanged"
)


def test_telegrams_whose_crs_were_taken_out_are_rejected_and_told_so() -> None:
    """Every CR of the Fluvius run taken out, as a forwarder that makes line ends LF does
    (the port opened at its start, or in its first telegram): each telegram fails its check,
    which counts the CRs, and none is read; the hint says their CRCs hold with the CRs put
    back, not that the cable loses bytes. With a digit changed in each telegram as well, no
    CRC holds either way: the cable's hint, as before."""
    stripped = FLUVIUS_RUN.replace(b"\r\n", b"\n")
    for data in (stripped, stripped[200:]):
        framer = BlockFramer("dsmr", 2100)
        assert framer.feed(data) == []
        assert framer.rejected["checksum"] >= 2 * len(FLUVIUS_CHANNELS)
        assert framer.no_frame_hint(data) == CRS_STRIPPED_HINT
    assert stripped.count(b"\n1-0:1.8.2(0006") == 3
    changed = stripped.replace(b"\n1-0:1.8.2(0006", b"\n1-0:1.8.2(0007")
    framer = BlockFramer("dsmr", 2100)
    assert framer.feed(changed) == []
    hint = framer.no_frame_hint(changed)
    assert hint.startswith("blocks came but failed their check")
    assert "cable" in hint


#: The run's three CRCs (``BCCF``, ``E9F6``, ``0FD9``) in lower case, and in mixed case.
LOWER_CASE_CRCS = (b"!bccf\r\n", b"!e9f6\r\n", b"!0fd9\r\n")
MIXED_CASE_CRCS = (b"!BcCf\r\n", b"!e9F6\r\n", b"!0fD9\r\n")


def crcs_written(crcs: tuple[bytes, bytes, bytes]) -> bytes:
    """:data:`FLUVIUS_RUN` with its three CRC lines written as ``crcs`` (each the same value)."""
    run = FLUVIUS_RUN
    for upper, written in zip((b"!BCCF\r\n", b"!E9F6\r\n", b"!0FD9\r\n"), crcs, strict=True):
        assert written.upper() == upper
        assert run.count(upper) == 1
        run = run.replace(upper, written)
    return run


@pytest.mark.parametrize("crcs", [LOWER_CASE_CRCS, MIXED_CASE_CRCS], ids=["lower", "mixed"])
def test_a_crc_in_lower_or_mixed_case_hex_is_read_however_chunked(
    crcs: tuple[bytes, bytes, bytes],
) -> None:
    """arduino-dsmr's and ESPHome's parsers read a CRC in any case of hex: every telegram of
    the run is read, in one chunk and cut anywhere, as with its CRCs in upper case."""
    run = crcs_written(crcs)
    upper = take("dsmr", FLUVIUS_RUN)
    for sizes in (None, [1], [3], [7, 64], [700], [len(run) - 5, 1]):
        assert take("dsmr", run, sizes) == upper
    rt = runtime(meter(*FLUVIUS_CHANNELS))
    rt.feed(run)
    assert latest(rt) == FLUVIUS_LAST
    assert counts(rt)["readings"] == 3 * len(FLUVIUS_CHANNELS)


def test_a_wrong_crc_in_lower_case_is_a_crc_failure_however_chunked() -> None:
    """The second telegram's CRC one off, in lower case: its lines are counted ``checksum``,
    in any chunking, and the telegrams around it are read."""
    run = crcs_written(LOWER_CASE_CRCS).replace(b"!e9f6\r\n", b"!e9f7\r\n")
    lines = [line for k in (0, 2) for line in telegram_lines(FLUVIUS_TELEGRAMS[k])]
    for sizes in (None, [1], [3], [7, 64], [700]):
        got, counted = take("dsmr", run, sizes)
        assert got == lines
        assert counted["rejected"] == {"checksum": len(telegram_lines(FLUVIUS_TELEGRAMS[1]))}


def test_a_crc_line_padded_with_a_nul_is_read() -> None:
    """A NUL after the CRC (before its CR LF) leaves the telegram read."""
    padded = FLUVIUS_RUN.replace(b"!E9F6\r\n", b"!E9F6\0\r\n")
    assert take("dsmr", padded)[0] == take("dsmr", FLUVIUS_RUN)[0]


def test_a_telegram_a_user_posted_for_its_failed_crc_gives_no_reading() -> None:
    """Its ``1-0:1.8.2(000027.00*kWh)``, a digit lost, would read 27.0 kWh for 270.0x; it is
    rejected whole, and the whole telegram after it is read."""
    rt = runtime(meter(("imported_t2_kwh", "1-0:1.8.2"), ("power_kw", "1-0:1.7.0")))
    rt.feed(T210D_DAMAGED + FLUVIUS_TELEGRAMS[2])
    assert latest(rt) == {"imported_t2_kwh": 675.909, "power_kw": 0.693}
    assert counts(rt)["errors"] == {"checksum": len(telegram_lines(T210D_DAMAGED))}


def test_a_landis_gyr_e350_dsmr_4_0_telegram_gives_the_value_of_each_code() -> None:
    """Its energy, tariff, power limit, switch position and failure counts; its power failure
    log is empty (``(0)(0-0:96.7.19)``: no entry), which holds no reading: ``invalid``, no
    error (a meter that never had a long power failure sends it in every telegram)."""
    config = meter(
        ("imported_t1_kwh", "1-0:1.8.1"),
        ("exported_t2_kwh", "1-0:2.8.2"),
        ("tariff", "0-0:96.14.0"),
        ("limit_kw", "0-0:17.0.0"),
        ("breaker", "0-0:96.3.10"),
        ("failures", "0-0:96.7.21"),
        ("long_failures", "0-0:96.7.9"),
        ("sags_l1", "1-0:32.32.0"),
        ("last_failure_s", "1-0:99.97.0"),
    )
    rt = runtime(config)
    rt.feed(E350_DSMR40)
    assert latest(rt) == {
        "imported_t1_kwh": 1990.002,
        "exported_t2_kwh": 0.0,
        "tariff": 1.0,
        "limit_kw": 999.9,
        "breaker": 1.0,
        "failures": 23.0,
        "long_failures": 0.0,
        "sags_l1": 0.0,
    }
    assert counts(rt)["errors"] == {"invalid": 1}


#: Power failure logs as meters list them: the count, ``0-0:96.7.19``, then per failure the
#: time it ended and how long it lasted.
#: athombv/node-dsmr-parser, tests/telegrams/dsmr/dsmr-5.0-ene-1.txt (a Sagemcom T210-D,
#: ``/Ene5\T210-D ESMR5.0``): newest first, as DSMR's example has it.
ENE5_LOG = (
    b"1-0:99.97.0(9)(0-0:96.7.19)(190221201823W)(0000012287*s)(190221165316W)(0000066621*s)"
    b"(190220173949W)(0000240199*s)(190217224923W)(0000009884*s)(190217200128W)(0000000813*s)"
    b"(190217194527W)(0000005140*s)(190217181705W)(0000000266*s)(190217180549W)(0000331071*s)"
    b"(190213220245W)(0000000230*s)"
)
#: athombv/node-dsmr-parser, tests/telegrams/dsmr/sagemcom-xt211.txt (``/GRE5...``): oldest
#: first.
XT211_LOG = b"1-0:99.97.0(2)(0-0:96.7.19)(240523144934S)(0005564711*s)(241109083138W)(0000000124*s)"
#: dsmrreader/dsmr-reader, issue #1090 (an Iskra AM550, ``/ISK5\2M550T-1013``): oldest first.
AM550_LOG = (
    b"1-0:99.97.0(6)(0-0:96.7.19)(200617142221S)(0000002699*s)(200629140534S)(0000000279*s)"
    b"(200709143737S)(0000008325*s)(200718221801S)(0000000472*s)(200720180504S)(0000025401*s)"
    b"(200806094440S)(0000000486*s)"
)
#: The 13 months' peaks of a Belgian meter: the count, two codes, then per month its start,
#: the time of its peak and the peak. athombv/node-dsmr-parser,
#: tests/telegrams/dsmr/emucs-p1-v2.1.1-spec-example-2.txt (e-MUCS P1 2.1.1's example):
#: newest month first.
EMUCS_PEAKS = (
    b"0-0:98.1.0(3)(1-0:1.6.0)(1-0:1.6.0)(200501000000S)(200423192538S)(03.695*kW)"
    b"(200401000000S)(200305122139S)(05.980*kW)(200301000000S)(200210035421W)(04.318*kW)"
)

#: The previous month's values of a Sanxing SX631 (and of the Hungarian meters like it): one
#: time stamp, the month's end, then 19 values (energy imported, per tariff, exported,
#: reactive, and the month's peaks). Public repository tasmota/docs, file
#: docs/Smart-Meter-Interface.md, "Sanxing SX6x1" sample data.
SANXING_MONTH = (
    b"0-0:98.1.0(210301000000W)(000249.070*kWh)(000100.816*kWh)(000148.254*kWh)"
    b"(000047.903*kWh)(000032.349*kWh)(000015.554*kWh)(000003.513*kvarh)(000150.665*kvarh)"
    b"(000003.498*kvarh)(000000.015*kvarh)(000027.119*kvarh)(000123.546*kvarh)"
    b"(000296.974*kWh)(04.872*kW)(04.872*kW)(04.072*kW)(01.844*kW)(01.672*kW)(01.844*kW)"
)


def decode(field: str, line: bytes) -> list[tuple[str, float]]:
    spec = FormatSpec("dsmr", (("x", field),))
    return codec_for("dsmr").decoder(spec)(line)


@pytest.mark.parametrize(
    ("line", "value"),
    [
        (ENE5_LOG, 12287.0),
        (XT211_LOG, 124.0),
        (AM550_LOG, 486.0),
        (EMUCS_PEAKS, 3.695),
        # the month's peak, after its time
        (b"1-0:1.6.0(200509134558S)(02.589*kW)", 2.589),
        # a peak whose time is none among real ones: the latest real one
        (
            b"0-0:98.1.0(2)(1-0:1.6.0)(1-0:1.6.0)(231101000000W)(632525252525W)(00.000*kW)"
            b"(251001000000S)(250913201500S)(02.508*kW)",
            2.508,
        ),
        # several values and no time: the last
        (b"1-1:31.4.0(100*A)(-063*A)", -63.0),
        # one time stamp and 19 values: the one after it, the energy imported by then
        (SANXING_MONTH, 249.07),
    ],
    ids=[
        "newest-first",
        "oldest-first",
        "oldest-first-am550",
        "peaks",
        "peak",
        "peak-no-time",
        "no-time",
        "month",
    ],
)
def test_a_line_of_several_entries_gives_its_latest_whatever_their_order(
    line: bytes, value: float
) -> None:
    """The number after the latest time in the line: the most recent power failure's
    duration, the latest month's peak; the meters list them newest first or oldest first."""
    field = line[: line.index(b"(")].decode()
    assert decode(field, line) == [("x", value)]


def test_the_most_recent_power_failure_is_read_from_real_telegrams() -> None:
    """The XS210's log of ten failures, newest first: the one that ended 2019-05-08 09:43
    lasted 55374 s (the oldest, of 2019-04-30, 165493 s); the Kaifa's three, whose times are
    those of a clock not set: the latest, 2000-01-04, 237126 s."""
    config = meter(("last_failure_s", "1-0:99.97.0"))
    assert read(config, XS210_NO_GAS)[0] == {"last_failure_s": 55374.0}
    assert read(config, DSMR42)[0] == {"last_failure_s": 237126.0}


def test_a_line_whose_only_entry_has_no_time_holds_no_reading() -> None:
    """A month without a peak (``(632525252525W)(00.000*kW)``), as a gas line without a time:
    ``invalid``, no 0 kW."""
    line = b"0-0:98.1.0(1)(1-0:1.6.0)(1-0:1.6.0)(231101000000W)(632525252525W)(00.000*kW)"
    with pytest.raises(NotMeasuredError) as raised:
        decode("0-0:98.1.0", line)
    assert raised.value.reason == "invalid"


#: The 13 months' peaks of a Belgian meter installed before its consumer was connected:
#: nine months, oldest first, each its stamp, its peak's time and its peak, and the months
#: without consumption (January to March, then July to September 2023) a peak of no time,
#: ``(632525252525W)(00.000*kW)``. Public repository ndokter/dsmr_parser, pull request #140
#: ("If occurred time is not initialised in BELGIUM_MAXIMUM_DEMAND_13_MONTHS ..."), the line
#: as its description quotes it (its line break inside ``(00.018*kW)`` taken out).
EMUCS_PEAKS_IDLE_MONTHS = (
    b"0-0:98.1.0(9)(1-0:1.6.0)(1-0:1.6.0)(230101000000W)(632525252525W)(00.000*kW)"
    b"(230201000000W)(632525252525W)(00.000*kW)(230301000000W)(632525252525W)(00.000*kW)"
    b"(230401000000S)(230316134500W)(00.047*kW)(230601000000S)(230524154500S)(00.018*kW)"
    b"(230701000000S)(230626120000S)(00.008*kW)(230801000000S)(632525252525W)(00.000*kW)"
    b"(230901000000S)(632525252525W)(00.000*kW)(231001000000S)(632525252525W)(00.000*kW)"
)


def test_peaks_whose_latest_month_has_no_peak_hold_no_reading() -> None:
    """The latest month (stamped 1 October 2023) had no peak: the line holds no reading,
    ``invalid``, its detail naming the time that is none; not the peak of June (0.008 kW,
    the latest month with one), which a channel would show as the latest month's. With that
    month's peak there, it is the one read."""
    with pytest.raises(NotMeasuredError) as raised:
        decode("0-0:98.1.0", EMUCS_PEAKS_IDLE_MONTHS)
    assert (raised.value.reason, raised.value.detail) == (
        "invalid",
        "0-0:98.1.0: no reading (its time '632525252525W' is none)",
    )
    assert raised.value.unavailable == ("x",)
    peaked = EMUCS_PEAKS_IDLE_MONTHS.replace(
        b"(231001000000S)(632525252525W)(00.000*kW)", b"(231001000000S)(230912194500S)(00.512*kW)"
    )
    assert decode("0-0:98.1.0", peaked) == [("x", 0.512)]


def test_an_empty_power_failure_log_written_as_nothing_holds_no_reading() -> None:
    """An Iskra AM550 that has had no long power failure writes its log ``1-0:99.97.0()``, in
    every telegram: a channel of it has no reading, ``invalid`` (which the frame-error alert
    leaves out), as a log of count 0 is, not a ``syntax`` error per telegram; the telegram's
    other codes are read."""
    config = meter(
        ("imported_t1_kwh", "1-0:1.8.1"),
        ("last_failure_s", "1-0:99.97.0"),
        ("power_l2_kw", "1-0:41.7.0"),
        ("gas_m3", "0-1:24.2.1"),
    )
    values, counted = read(config, AM550_DSMR50)
    assert values == {"imported_t1_kwh": 0.626, "power_l2_kw": 0.27, "gas_m3": 0.038}
    assert counted["errors"] == {"invalid": 1}
    assert counted["readings"] == 3


@pytest.mark.parametrize(
    "line",
    [b"1-0:99.97.0()", b"0-0:98.1.0()", b"1-0:99.1.0()"],
    ids=["power-failure-log", "monthly-peaks", "load-profile"],
)
def test_a_list_or_log_whose_value_is_empty_holds_no_reading(line: bytes) -> None:
    """A code of C group 98 (billing values) or 99 (a profile or log) with an empty value is
    a list of no entry (another code's empty value is a value the meter does not have,
    ``invalid`` too: :mod:`test_formats_dsmr_empty`)."""
    field = line[: line.index(b"(")].decode()
    with pytest.raises(NotMeasuredError) as raised:
        decode(field, line)
    assert raised.value.reason == "invalid"
    assert "no entry" in str(raised.value)


def test_a_real_belgian_telegram_gives_its_demand_its_peaks_and_its_gas() -> None:
    """The average demand, the month's peak (after its time), the latest of the three months'
    peaks (December's, 1.981 kW on 2023-12-24), the gas reading after its time."""
    config = meter(
        ("demand_kw", "1-0:1.4.0"),
        ("month_peak_kw", "1-0:1.6.0"),
        ("last_month_peak_kw", "0-0:98.1.0"),
        ("power_l3_kw", "1-0:61.7.0"),
        ("current_l2_a", "1-0:51.7.0"),
        ("gas_m3", "0-1:24.2.3"),
    )
    values, counted = read(config, FLUVIUS_PEAKS)
    assert values == {
        "demand_kw": 0.025,
        "month_peak_kw": 2.485,
        "last_month_peak_kw": 1.981,
        "power_l3_kw": 0.044,
        "current_l2_a": 0.49,
        "gas_m3": 338.711,
    }
    assert counted["errors"] == {}


def test_a_real_dsmr_2_2_run_gives_its_gas_from_the_line_after_its_code() -> None:
    """Two telegrams without CRC, read unchecked: each gives its energy and the gas reading of
    M-Bus channel 2 on the line after ``0-2:24.3.0``."""
    config = meter(
        ("imported_t2_kwh", "1-0:1.8.2"),
        ("power_kw", "1-0:1.7.0"),
        ("limit_kw", "0-0:17.0.0"),
        ("gas_m3", "0-2:24.3.0"),
    )
    rt = runtime(config)
    rt.feed(ISKRA_DSMR22_RUN)
    assert latest(rt) == {
        "imported_t2_kwh": 19412.713,
        "power_kw": 0.59,
        "limit_kw": 999.0,
        "gas_m3": 13376.292,
    }
    counted = counts(rt)
    assert (counted["readings"], counted["errors"]) == (8, {})


def test_a_text_message_of_bytes_0xff_that_no_channel_reads_is_ignored() -> None:
    """The Hungarian meter's unwritten text message is no UTF-8; no channel reads it, so it is
    an ignored line like the other codes no channel reads, not an ``encoding`` error in every
    telegram. Its energy, power factor, frequency and previous month are read."""
    config = load_sensors(
        {
            "name": "m",
            "port": "sim://m",
            "format": "dsmr",
            "max_frame_bytes": 2100,
            "channels": [
                {"name": "imported_kwh", "field": "1-0:1.8.0"},
                {"name": "power_factor", "field": "1-0:13.7.0"},
                {"name": "frequency_hz", "field": "1-0:14.7.0"},
                {"name": "last_month_kwh", "field": "0-0:98.1.0"},
            ],
        }
    )
    rt = runtime(config)
    rt.feed(AUX_HU + AUX_HU)
    assert latest(rt) == {
        "imported_kwh": 812.421,
        "power_factor": 0.336,
        "frequency_hz": 49.99,
        "last_month_kwh": 663.924,
    }
    lines = len(telegram_lines(AUX_HU))
    assert counts(rt) == {
        "frames": 2 * lines,
        "ignored": 2 * (lines - 4),
        "readings": 8,
        "errors": {},
    }


def test_a_value_of_letters_alone_is_no_gas_line_waiting_for_its_value() -> None:
    """The Hungarian meter's breaker state, ``0-0:96.50.68(ON)``, one group of letters as a
    DSMR 2.2 gas line's last group is a unit: it is no gas line whose value comes next (not
    ``truncated``), and the threshold on the line after it, ``0-0:17.0.0(90.000*kW)``, is
    read."""
    assert b"\r\n0-0:96.50.68(ON)\r\n0-0:17.0.0(90.000*kW)\r\n" in AUX_HU
    rt = runtime(meter(("breaker", "0-0:96.50.68"), ("threshold_kw", "0-0:17.0.0")))
    rt.feed(AUX_HU + AUX_HU)
    assert latest(rt) == {"breaker": 1.0, "threshold_kw": 90.0}
    assert counts(rt)["errors"] == {"overlong": 2}  # the 0xFF message overlong


def with_crc(telegram: bytes) -> bytes:
    """``telegram`` (its lines to ``!``, and CR LF) with the CRC of its bytes to ``!``."""
    body = telegram[: telegram.rindex(b"!") + 1]
    return body + b"%04X\r\n" % crc16_arc(body)


@pytest.mark.parametrize(
    ("state", "read"),
    [(b"ON", 1.0), (b"OFF", 0.0)],
)
def test_the_hungarian_breaker_state_reads_on_as_1_and_off_as_0(state: bytes, read: float) -> None:
    """The Hungarian meter's breaker state (``0-0:96.50.68``, ON or OFF, as the AUX writes it)
    reads as DSMR's own breaker state ``0-0:96.3.10`` does, 1 closed (ON), 0 open (OFF), with
    no error, the telegram's CRC holding; the simulator writes it as the meter does. Fails
    when it is read as a number (``syntax`` each telegram: 'ON' is no number)."""
    telegram = with_crc(AUX_HU.replace(b"96.50.68(ON)", b"96.50.68(" + state + b")"))
    rt = runtime(meter(("breaker", "0-0:96.50.68"), ("threshold_kw", "0-0:17.0.0")))
    rt.feed(telegram + telegram)
    assert latest(rt) == {"breaker": read, "threshold_kw": 90.0}
    assert counts(rt)["errors"] == {"overlong": 2}
    encode = codec_for("dsmr").encoder(FormatSpec("dsmr", (("breaker", "0-0:96.50.68"),)))
    assert encode({"0-0:96.50.68": read}, 0.0) == [b"0-0:96.50.68(" + state + b")"]


def test_a_breaker_state_of_another_spelling_is_syntax_and_the_telegram_s_others_read() -> None:
    """A breaker state neither ON nor OFF (``on``, which the meter does not write; a byte
    damaged on the line, the CRC recomputed as a meter that writes it would): ``syntax``, its
    detail naming the code and what it holds, the telegram's other values read."""
    telegram = with_crc(AUX_HU.replace(b"96.50.68(ON)", b"96.50.68(on)"))
    rt = runtime(meter(("breaker", "0-0:96.50.68"), ("threshold_kw", "0-0:17.0.0")))
    with capture_logs() as logs:
        rt.feed(telegram + telegram)
    assert latest(rt) == {"threshold_kw": 90.0}
    assert counts(rt)["errors"] == {"overlong": 2, "syntax": 2}
    [rejected] = [e for e in logs if e["event"] == "frame rejected"]
    assert rejected["detail"] == "0-0:96.50.68: 'on' is no state ON or OFF"


@pytest.mark.parametrize(
    "line",
    [
        b"0-0:96.13.0(\xff\xff\xff\xff)",  # a line of the code the channel reads
        b"\xff\xfe(1)",  # no OBIS line
        b"0-0:96.1\xff.0(1)",  # a code damaged
    ],
)
def test_a_line_that_is_not_text_is_still_an_encoding_error_but_an_unread_code_s(
    line: bytes,
) -> None:
    """Only a whole OBIS code that no channel reads makes a line that is no text ignored."""
    decoder = codec_for("dsmr").decoder(FormatSpec("dsmr", (("m", "0-0:96.13.0"),)))
    with pytest.raises(ParseError) as raised:
        decoder(line)
    assert raised.value.reason == "encoding"
    unread = codec_for("dsmr").decoder(FormatSpec("dsmr", (("e", "1-0:1.8.0"),)))
    if line.startswith(b"0-0:96.13.0("):
        assert unread(line) == []
    else:
        with pytest.raises(ParseError):
            unread(line)


#: The first lines of an Iskra AM550 telegram (``/ISk5\2M550T-2006``, a meter outside the
#: Netherlands with its own codes), as its P1 reader logged them; public repository
#: esphome/esphome, issue #13751. Its firmware line nests its parentheses.
AM550_LINES = (
    b"1-0:0.9.1(074212)",
    b"1-0:0.9.2(260204)",
    b"0-0:96.1.0(77516706)",
    b"0-2:25.6.0(ER23)",
    b"0-0:25.1.0(ER23)",
    b"1-0:1.8.0(069319.763*kWh)",
    b"1-0:2.8.0(000000.000*kWh)",
    b"1-0:3.8.0(000101.544*kvarh)",
    b"1-0:4.8.0(010630.581*kvarh)",
    b"1-0:1.7.0(04.392*kW)",
    b"1-0:21.7.0(03.758*kW)",
    b"1-0:31.7.0(017*A)",
    b"1-0:32.7.0(218.0*V)",
    b"1-0:0.2.0((ER11))",
)


def test_a_line_whose_parentheses_nest_is_ignored_when_no_channel_reads_its_code() -> None:
    """The AM550's energy, power, current and voltage are read, and its firmware line
    ``1-0:0.2.0((ER11))`` is an ignored line, as the other codes no channel reads are, not a
    ``syntax`` error in every telegram; a channel of that code still has it rejected."""
    channels = {
        "1-0:1.8.0": "imported_kwh",
        "1-0:1.7.0": "power_kw",
        "1-0:31.7.0": "current_l1_a",
        "1-0:32.7.0": "voltage_l1_v",
    }
    spec = FormatSpec("dsmr", tuple((name, code) for code, name in channels.items()))
    decoder = codec_for("dsmr").decoder(spec)
    read_lines = {line: decoder(line) for line in AM550_LINES}
    assert read_lines == {
        line: [(channels[code], float(line[line.index(b"(") + 1 :].split(b"*")[0]))]
        if (code := line[: line.index(b"(")].decode()) in channels
        else []
        for line in AM550_LINES
    }
    firmware = codec_for("dsmr").decoder(FormatSpec("dsmr", (("fw", "1-0:0.2.0"),)))
    with pytest.raises(ParseError) as raised:
        firmware(b"1-0:0.2.0((ER11))")
    assert raised.value.reason == "syntax"


#: A Swedish household's channels: energy imported and exported, reactive energy imported,
#: power both ways, power per phase both ways, reactive power per phase exported, voltage and
#: current per phase.
SWEDISH_CHANNELS = (
    ("imported_kwh", "1-0:1.8.0"),
    ("exported_kwh", "1-0:2.8.0"),
    ("reactive_imported_kvarh", "1-0:3.8.0"),
    ("power_kw", "1-0:1.7.0"),
    ("returned_kw", "1-0:2.7.0"),
    ("power_l1_kw", "1-0:21.7.0"),
    ("returned_l2_kw", "1-0:42.7.0"),
    ("reactive_l1_kvar", "1-0:23.7.0"),
    ("reactive_exported_l3_kvar", "1-0:64.7.0"),
    ("voltage_l1_v", "1-0:32.7.0"),
    ("current_l3_a", "1-0:71.7.0"),
)
#: What the lines of each telegram of :data:`SWEDISH` show, in the order of the channels.
SWEDISH_VALUES = (
    (10117.368, 0.0, 1759.974, 4.251, 0.0, 1.462, 0.0, 0.529, 0.0, 221.2, 6.9),
    (424.413, 0.0, 2.116, 0.182, 0.0, 0.053, 0.0, 0.0, 0.029, 230.7, 0.1),
    (1605.055, 0.131, 3.642, 6.0, 0.0, 3.172, 0.0, 0.0, 0.247, 234.4, 10.2),
    (10501.076, 0.0, 1761.087, 2.301, 0.0, 0.622, 0.0, 0.0, 0.0, 232.1, 4.8),
)


@pytest.mark.parametrize(
    ("telegram", "values"),
    list(zip(SWEDISH, SWEDISH_VALUES, strict=True)),
    ids=["aidon-6534", "kaifa-ma304", "ell5", "landis-gyr-e360"],
)
def test_a_swedish_p1_telegram_gives_the_value_of_each_code(
    telegram: bytes, values: tuple[float, ...]
) -> None:
    """Totals without tariffs, power and reactive power per phase (``kVAr`` or ``kvar``: no
    thousandth, as ``var`` would be), voltage and current; no gas line, no error. The Aidon's
    header, ``/ADN9``, whose fifth character is no baud rate letter, is a header all the same."""
    config = meter(*SWEDISH_CHANNELS)
    got, counted = read(config, telegram)
    assert got == dict(zip((name for name, _ in SWEDISH_CHANNELS), values, strict=True))
    lines = len(telegram_lines(telegram))
    assert counted == {
        "frames": lines,
        "ignored": lines - len(SWEDISH_CHANNELS),
        "readings": len(SWEDISH_CHANNELS),
        "errors": {},
    }


def test_a_run_of_swedish_telegrams_gives_every_reading_however_chunked() -> None:
    """The four meters' telegrams one after the other: each is read whole, in one chunk and
    cut anywhere, and the last one's values are the latest."""
    run = b"".join(SWEDISH)
    lines = [line for telegram in SWEDISH for line in telegram_lines(telegram)]
    for sizes in (None, [1], [5], [9, 64], [len(SWEDISH[0]) - 3, 2]):
        got, counted = take("dsmr", run, sizes)
        assert got == lines
        assert (counted["rejected"], counted["skipped"]) == ({}, 0)
    rt = runtime(meter(*SWEDISH_CHANNELS))
    rt.feed(run)
    assert latest(rt) == dict(
        zip((name for name, _ in SWEDISH_CHANNELS), SWEDISH_VALUES[-1], strict=True)
    )
    assert counts(rt)["readings"] == len(SWEDISH) * len(SWEDISH_CHANNELS)


#: A DSMR 2.2 gas line as the P1 Companion Standard writes it, its reading at the end of the
#: line: a Kamstrup's (``/KMP5 ZABF001587315111``), public repository plaatsoft/plaatenergy,
#: file src/sensors/p1/kamstrup.py, the telegram in its opening comment.
KAMSTRUP_GAS_ONE_LINE = b"0-1:24.3.0(120517020000)(08)(60)(1)(0-1:24.2.1)(m3)(00124.477)"


def test_a_dsmr_2_2_gas_line_with_its_reading_at_its_end_gives_that_reading() -> None:
    """Not the line's period (60), interval count (08) or the code after them: 124.477 m3,
    every digit of it (a time without S or W is no DSMR time stamp, so the last group)."""
    assert decode("0-1:24.3.0", KAMSTRUP_GAS_ONE_LINE) == [("x", 124.477)]


#: The power failure log of a Landis+Gyr E350 (``/XMX5LG...``, DSMR 5.0) whose clock was
#: not set: three failures, each at ``000101000000W``. Public repository
#: dsmrreader/dsmr-reader, issue #1922.
E350_UNSET_CLOCK_LOG = (
    b"1-0:99.97.0(3)(0-0:96.7.19)(000101000000W)(0000002216*s)(000101000000W)(0000005784*s)"
    b"(000101000000W)(0000000545*s)"
)


def test_entries_of_one_time_are_taken_in_dsmr_s_order_newest_first() -> None:
    """The E350's three failures carry one time; DSMR lists its log newest first, so the
    most recent is the first listed, 2216 s, not the oldest, 545 s."""
    assert decode("1-0:99.97.0", E350_UNSET_CLOCK_LOG) == [("x", 2216.0)]


def test_a_line_of_no_reading_says_why_and_leaves_its_channel_without_a_value() -> None:
    """The detail names the code and the cause (a log of no entry, written with its count
    or empty; the time that is none), and the channel is the one left unavailable."""
    cases = [
        (b"1-0:99.97.0(0)(0-0:96.7.19)", "1-0:99.97.0: no reading (its log holds no entry)"),
        (b"1-0:99.97.0()", "1-0:99.97.0: no reading (its log holds no entry)"),
        (
            b"0-0:98.1.0(1)(1-0:1.6.0)(1-0:1.6.0)(231101000000W)(632525252525W)(00.000*kW)",
            "0-0:98.1.0: no reading (its time '632525252525W' is none)",
        ),
    ]
    for line, detail in cases:
        with pytest.raises(NotMeasuredError) as raised:
            decode(line[: line.index(b"(")].decode(), line)
        assert (raised.value.reason, raised.value.detail) == ("invalid", detail), line
        assert raised.value.unavailable == ("x",), line


def test_a_power_failure_log_whose_count_is_damaged_is_no_log_of_no_entry() -> None:
    """``(0)`` hit by line noise in a telegram read unchecked (``X``, ``O``): no count, so
    no log of no entry, and no number: ``syntax``."""
    for count in (b"X", b"O", b"0X"):
        with pytest.raises(ParseError) as raised:
            decode("1-0:99.97.0", b"1-0:99.97.0(" + count + b")(0-0:96.7.19)")
        assert type(raised.value) is ParseError, count
        assert raised.value.reason == "syntax", count


#: The month's peak of the Fluvius meter of :data:`FLUVIUS_PEAKS`, its time replaced.
PEAK_AT = b"1-0:1.6.0(%s)(02.485*kW)"


@pytest.mark.parametrize(
    "time",
    [
        b"240007190000W",  # month 0
        b"241307190000W",  # month 13
        b"240100190000W",  # day 0
        b"240132190000W",  # day 32
        b"240107240000W",  # hour 24
        b"240107196000W",  # minute 60
        b"240107190060W",  # second 60
    ],
)
def test_a_peak_whose_time_has_one_part_out_of_range_holds_no_reading(time: bytes) -> None:
    """One field of the time past its range, the others in it, is no time, as
    ``632525252525W`` is: no 2.485 kW."""
    with pytest.raises(NotMeasuredError) as raised:
        decode("1-0:1.6.0", PEAK_AT % time)
    assert raised.value.reason == "invalid"


@pytest.mark.parametrize("time", [b"240101000000W", b"241231235959W", b"240229120000S"])
def test_a_peak_whose_time_is_at_the_ends_of_its_ranges_is_read(time: bytes) -> None:
    assert decode("1-0:1.6.0", PEAK_AT % time) == [("x", 2.485)]


#: A DSMR 3.0 telegram, which has no version line and no CRC: the P1 Companion Standard 3.0's
#: example as public repository ndokter/dsmr_parser, file test/example_telegrams.py, has it
#: (``TELEGRAM_V3``; an example of the standard, not a capture).
DSMR30 = V3


def crc_lost(telegram: bytes) -> bytes:
    """``telegram`` with the 4 hex digits of its CRC lost, its ``!`` and line end left."""
    body, bang, _ = telegram.partition(b"\r\n!")
    return body + bang + b"\r\n"


#: Telegrams of DSMR 4 and later, each of which shows it by a line of its own: a Kaifa's
#: (DSMR 4.2), an Iskra's (5.0) and an AM550's (5.0) version line, a Landis+Gyr E350's
#: (``1-3:0.2.8(40)``), and a Fluvius meter's e-MUCS version, ``0-0:96.1.4(50213)``.
CRC_REQUIRED = {
    "kaifa-dsmr42": DSMR42,
    "iskra-dsmr50": DSMR5,
    "am550-dsmr50": AM550_DSMR50,
    "e350-dsmr40": E350_DSMR40,
    "fluvius-emucs": FLUVIUS,
}


@pytest.mark.parametrize("name", CRC_REQUIRED)
def test_a_dsmr_4_or_5_telegram_whose_crc_was_lost_is_dropped_before_any_crc_came(
    name: str,
) -> None:
    """The first telegram after the open, whose 4 CRC digits the adapter lost (``!`` and its
    line end came): a meter of DSMR 4 or later always sends a CRC, and its telegram says
    which it is, so it is not read unchecked as a DSMR 2.2 one is, but dropped,
    ``truncated``, each of its lines counted; the telegram after it is read. A digit changed
    in the dropped one shows that none of its values was published."""
    telegram = CRC_REQUIRED[name]
    assert b"\n1-3:0.2.8(" in telegram or b"\n0-0:96.1.4(" in telegram
    lost = crc_lost(telegram)
    lines, counted = take("dsmr", lost + telegram)
    assert lines == telegram_lines(telegram)
    assert counted["rejected"] == {"truncated": len(telegram_lines(telegram))}
    for size in (1, 7, 500):
        assert take("dsmr", lost + telegram, [size]) == (lines, counted)
    changed = lost.replace(b"\n1-0:1.8.1(00", b"\n1-0:1.8.1(99")
    assert changed != lost
    rt = runtime(meter(("imported_t1_kwh", "1-0:1.8.1")))
    rt.feed(changed)
    assert latest(rt) == {}
    rt.feed(telegram)
    [reading] = latest(rt).values()
    assert reading < 9900000
    assert counts(rt)["errors"] == {"truncated": len(telegram_lines(telegram))}


#: Telegrams of meters that send no CRC: DSMR 2.2 (an Iskra MT382's, as dsmr_parser has it,
#: and the two of another MT382 of ``ISKRA_DSMR22_RUN``), DSMR 3.0 (the standard's example)
#: and an EasyMeter Q3D's (``/ESY5Q3DA1004 V3.04``, which writes ``*255``; the lines its
#: gateway adds after the ``!`` are skipped bytes). Each header has the ``5`` of a DSMR 5
#: meter's: the baud rate letter of IEC 62056-21, no DSMR version.
NO_CRC = {
    "iskra-dsmr22": DSMR22,
    "iskra-dsmr22-run": ISKRA_DSMR22_RUN,
    "dsmr30": DSMR30,
    "easymeter-q3d": EASYMETER,
}


@pytest.mark.parametrize("name", NO_CRC)
def test_a_meter_that_sends_no_crc_is_read_unchecked(name: str) -> None:
    """No version line, no CRC: every telegram is read, however the stream is chunked."""
    data = NO_CRC[name]
    assert data.count(b"\r\n!\r\n") >= 1
    assert b"\n1-3:0.2.8(" not in data
    assert b"\n0-0:96.1.4(" not in data
    assert re.match(rb"/[A-Za-z]{3}5", data)
    expected = []
    for part in (data + data).split(b"/")[1:]:  # each telegram, up to its "!"
        expected += [line for line in part[: part.index(b"\r\n!")].split(b"\r\n")[1:] if line]
    lines, counted = take("dsmr", data + data)
    assert lines == expected
    assert counted["rejected"] == {}
    for size in (1, 7, 500):
        assert take("dsmr", data + data, [size]) == (lines, counted)


#: A household's channels of a DSMR 2.2 or 3 meter: energy, power, and the gas reading of
#: M-Bus channel 1 on the line after ``0-1:24.3.0``, the valve's position on the line after
#: that.
DSMR22_CHANNELS = (
    ("imported_t1_kwh", "1-0:1.8.1"),
    ("power_kw", "1-0:1.7.0"),
    ("gas_m3", "0-1:24.3.0"),
    ("valve", "0-1:24.4.0"),
)
DSMR22_VALUE_LINE = b"\r\n(00001.001)\r\n"


@pytest.mark.parametrize("telegram", [DSMR22, DSMR30], ids=["dsmr22", "dsmr30"])
def test_a_gas_reading_whose_value_line_was_lost_is_counted_and_the_rest_is_read(
    telegram: bytes,
) -> None:
    """The line after ``0-1:24.3.0(...)(m3)``, ``(00001.001)``, lost in a telegram read
    unchecked: the valve's line that comes in its place is not taken for the gas reading
    (1 m3), it gives the valve's position; the gas reading is lost, counted ``truncated``, and
    the telegram's other readings are published. The next whole telegram gives the gas."""
    assert telegram.count(DSMR22_VALUE_LINE) == 1
    lost = telegram.replace(DSMR22_VALUE_LINE, b"\r\n")
    assert b"\r\n0-1:24.3.0(" in lost
    assert b"\r\n0-1:24.4.0(1)\r\n" in lost
    rt = runtime(meter(*DSMR22_CHANNELS))
    with capture_logs() as logs:
        rt.feed(lost)
    assert latest(rt) == {
        "imported_t1_kwh": 1.001 if telegram is DSMR22 else 12345.678,
        "power_kw": 1.01 if telegram is DSMR22 else 1.19,
        "valve": 1.0,
    }
    assert counts(rt)["errors"] == {"truncated": 1}
    [told] = [e for e in logs if e["event"] == "field rejected"]
    assert (told["reason"], told["frame"], told["detail"]) == (
        "truncated",
        "0-1:24.4.0(1)",
        "0-1:24.3.0: its reading is lost: the (value) line it is followed by did not come, "
        "this line came in its place (read as its own)",
    )
    rt.feed(telegram)
    assert latest(rt)["gas_m3"] == 1.001
    assert counts(rt)["errors"] == {"truncated": 1}
    # no channel reads the gas: nothing was lost that a channel reads
    rt = runtime(meter(DSMR22_CHANNELS[0], DSMR22_CHANNELS[3]))
    rt.feed(lost)
    assert counts(rt)["errors"] == {}


def test_a_gas_value_line_lost_at_a_telegram_s_end_is_counted_at_the_next_one() -> None:
    """The Iskra MT382's run, its gas code's line the last but one of each telegram: the
    first telegram's value line and the line after it lost, so that its gas code is its last
    line. The next telegram's first line is not taken for the value; the loss is counted
    once, and the second telegram gives every reading."""
    first, second = ISKRA_DSMR22_RUN.split(b"!\r\n")[:2]
    lost = first.replace(b"\r\n(13376.292)\r\n0-2:24.4.0(1)\r\n", b"\r\n") + b"!\r\n"
    assert lost.endswith(b"(0-2:24.2.1)(m3)\r\n!\r\n")
    rt = runtime(meter(("imported_t2_kwh", "1-0:1.8.2"), ("gas_m3", "0-2:24.3.0")))
    rt.feed(lost)
    assert latest(rt) == {"imported_t2_kwh": 19412.712}
    with capture_logs() as logs:
        rt.feed(second + b"!\r\n")
    # the line told of is the next telegram's first, which came in the value's place
    [told] = [e for e in logs if e["event"] == "frame rejected"]
    assert (told["reason"], told["frame"][:11], told["detail"]) == (
        "truncated",
        "0-0:96.1.1(",
        "0-2:24.3.0: its reading is lost: the (value) line it is followed by did not come, "
        "this line came in its place (read as its own)",
    )
    assert latest(rt) == {"imported_t2_kwh": 19412.713, "gas_m3": 13376.292}
    assert counts(rt)["errors"] == {"truncated": 1}


@pytest.mark.parametrize(
    "damaged",
    [
        b"(00001.0O1)",  # a digit hit by noise
        b"(00001.001",  # its ')' lost
        b"00001.001)",  # its '(' lost
        b"(0000",  # cut short
        b"(00001.001)(",  # a byte of noise after it
    ],
)
def test_a_damaged_gas_value_line_is_rejected_and_the_rest_is_read(damaged: bytes) -> None:
    """The value line damaged: no gas reading, one ``syntax`` error that names the gas code
    (the line is no number of it, or no line that can follow it), and the telegram's other
    readings published."""
    telegram = DSMR22.replace(DSMR22_VALUE_LINE, b"\r\n" + damaged + b"\r\n")
    rt = runtime(meter(*DSMR22_CHANNELS))
    with capture_logs() as logs:
        rt.feed(telegram)
    assert latest(rt) == {"imported_t1_kwh": 1.001, "power_kw": 1.01, "valve": 1.0}
    assert counts(rt)["errors"] == {"syntax": 1}
    [rejected] = [e for e in logs if e["event"] == "frame rejected"]
    assert "0-1:24.3.0" in rejected["detail"]


#: The Iskra MT382's two DSMR 2.2 telegrams (``ISKRA_DSMR22_RUN``), and its second with
#: another power (0.77 kW), so that a reading of it would show.
ISKRA_FIRST, ISKRA_SECOND = telegrams_of(ISKRA_DSMR22_RUN)
ISKRA_OTHER = ISKRA_SECOND.replace(b"1-0:1.7.0(0000.59*kW)", b"1-0:1.7.0(0000.77*kW)")

#: ``ISKRA_OTHER`` with its header line (``/ISk5\2MT382-1003``) cut as a line cuts it: its
#: ``/`` lost or damaged (``2F`` read as ``2E``, as 0x0F or as 0xAF: a byte that is no text),
#: its first half lost, or its line end lost with what followed, the header run into the rest
#: of a line, or into a reading (with a byte of it damaged too: ``k`` read as 0xEB).
HEADER_CUTS = {
    "slash lost": ISKRA_OTHER[1:],
    "slash damaged": b"." + ISKRA_OTHER[1:],
    "slash a control byte": b"\x0f" + ISKRA_OTHER[1:],
    "slash high bit": b"\xaf" + ISKRA_OTHER[1:],
    "first half lost": ISKRA_OTHER[ISKRA_OTHER.index(b"2MT382") :],
    "run into a line": ISKRA_OTHER[:8] + ISKRA_OTHER[ISKRA_OTHER.index(b"1.1(5A42") :],
    "run into a reading": ISKRA_OTHER[:8] + ISKRA_OTHER[ISKRA_OTHER.index(b"1-0:1.8.1") :],
    "damaged, run into a reading": (
        ISKRA_OTHER[:3]
        + b"\xeb"
        + ISKRA_OTHER[4:8]
        + ISKRA_OTHER[ISKRA_OTHER.index(b"1-0:1.8.1") :]
    ),
}

#: A household's channels of the Iskra MT382.
ISKRA_CHANNELS = (
    ("imported_t1_kwh", "1-0:1.8.1"),
    ("imported_t2_kwh", "1-0:1.8.2"),
    ("power_kw", "1-0:1.7.0"),
    ("gas_m3", "0-2:24.3.0"),
)


def published_power(
    chunks: list[bytes], channels: tuple[tuple[str, str], ...] = ISKRA_CHANNELS
) -> tuple[list[float | None], dict[str, Any]]:
    """The latest power reading (``power_kw``) of a sensor of ``channels`` after each of
    ``chunks`` (fed one by one), and its counts."""
    rt = runtime(meter(*channels))
    powers = []
    for chunk in chunks:
        rt.feed(chunk)
        powers.append(latest(rt).get("power_kw"))
    return powers, counts(rt)


def taken_between(first: bytes, damaged: bytes, second: bytes) -> dict[str, Any]:
    """The counts of :func:`~test_blocks.take` for ``damaged`` between the whole telegrams
    ``first`` and ``second``, whose lines, and only theirs, are taken; the same however the
    bytes are chunked."""
    data = first + damaged + second
    lines, counted = take("dsmr", data)
    assert lines == telegram_lines(first) + telegram_lines(second)
    for size in (1, 7, 64, 500):
        assert take("dsmr", data, [size]) == (lines, counted), size
    return counted


@pytest.mark.parametrize("cut", list(HEADER_CUTS))
def test_a_dsmr_2_2_telegram_whose_header_line_is_cut_is_truncated_the_others_read(
    cut: str,
) -> None:
    """A DSMR 2.2 telegram (no CRC: read unchecked) of the Iskra MT382's run whose header line
    a line cut (nielsbasjes/dsmr-tools issue #54's telegrams), between two whole ones. Without
    its ``/`` the telegram has no start: its lines came after the telegram before it ended,
    and its ``!`` ends it; with its header run into its lines, the lines lost in it are not
    known. Either way it is ``truncated``, all its lines counted, none read (0.77 kW never
    published), however the bytes are chunked; the telegrams around it give all their
    readings."""
    damaged = HEADER_CUTS[cut]
    data = ISKRA_FIRST + damaged + ISKRA_SECOND
    counted = taken_between(ISKRA_FIRST, damaged, ISKRA_SECOND)
    assert set(counted["rejected"]) == {"truncated"}
    # each of its lines, a line in its header line too (a reading run into it is one lost),
    # but the one whose bytes were all lost (0-0:96.1.1, when the header ran into a reading)
    lost = 1 if cut.endswith("run into a reading") else 0
    assert counted["rejected"] == {"truncated": len(telegram_lines(ISKRA_OTHER)) - lost}
    powers, got = published_power([ISKRA_FIRST, damaged, ISKRA_SECOND])
    assert powers == [0.59] * 3
    assert got["readings"] == 2 * len(ISKRA_CHANNELS)
    assert got["errors"] == counted["rejected"]
    framer = BlockFramer("dsmr")
    framer.feed(data)
    assert "its header line was" in framer.last_rejected("truncated")[0]


#: ``ISKRA_OTHER``'s header line run into the short rest of a line whose code was lost with
#: the header's line end (and the lines between): within 40 bytes of its ``/``, no code in it.
#: The rest of its first line, of a reading (its CR read as a form feed too), its ``)`` alone,
#: and its gas value's line.
HEADER_RESTS = {
    name: ISKRA_OTHER[: ISKRA_OTHER.index(b"\r\n")] + ISKRA_OTHER[ISKRA_OTHER.index(rest) :]
    for name, rest in (
        ("its first line's", b"393132)\r\n"),
        ("a reading's", b"2.627*kWh)"),
        ("a value's ')' alone", b")\r\n1-0:1.8.2"),
        ("its gas value's line", b"(13376.292)"),
    )
}
HEADER_RESTS["a reading's, its CR damaged"] = HEADER_RESTS["a reading's"].replace(
    b"kWh)\r\n", b"kWh)\x0c\n", 1
)


@pytest.mark.parametrize("rest", list(HEADER_RESTS))
def test_a_dsmr_2_2_header_run_into_the_short_rest_of_a_line_is_truncated(rest: str) -> None:
    """A DSMR 2.2 telegram of the Iskra MT382's run (nielsbasjes/dsmr-tools issue #54) whose
    header line ran into the short rest of a line, between two whole ones: its line end came
    within 40 bytes and holds no code, but a ``)``, which every line of readings ends in and
    no meter's identification holds. The lines lost in it are not known: it is
    ``truncated``, the lines after its header line counted and the header line as one (a
    line lost in it), none read (0.77 kW never published), however the bytes are chunked;
    the telegrams around it give all their readings."""
    damaged = HEADER_RESTS[rest]
    head = damaged.split(b"\n")[0].rstrip(b"\r")
    assert len(head) < 40
    assert re.search(rb"\d-\d{1,3}:", head) is None
    data = ISKRA_FIRST + damaged + ISKRA_SECOND
    counted = taken_between(ISKRA_FIRST, damaged, ISKRA_SECOND)
    # each line after the header line (split at its LFs: a CR may be damaged), and that one
    after = damaged[damaged.index(b"\n") + 1 : damaged.index(b"\n!")].split(b"\n")
    assert counted["rejected"] == {"truncated": len([line for line in after if line]) + 1}
    powers, got = published_power([ISKRA_FIRST, damaged, ISKRA_SECOND])
    assert powers == [0.59] * 3
    assert got["errors"] == counted["rejected"]
    framer = BlockFramer("dsmr")
    framer.feed(data)
    assert framer.last_rejected("truncated")[0] == (
        f"its header line was cut: the rest of a line ran into it ({head.decode()!r} holds a "
        "value's ')'), its line end lost"
    )


def test_a_dsmr_2_2_telegram_that_lost_its_end_and_the_next_one_s_header_is_truncated() -> None:
    """The Iskra MT382's first telegram and its second, the bytes from the first one's ``!``
    to the second one's first reading lost: one telegram from the first ``/`` to the second
    ``!``, unchecked, whose codes come twice (``1-0:1.8.1`` ...). It is not read as one
    telegram (the second one's readings are no continuation of the first's): it is
    ``truncated``, and the telegram after it gives its readings."""
    run = ISKRA_FIRST[: ISKRA_FIRST.index(b"!\r\n")]
    data = run + ISKRA_OTHER[ISKRA_OTHER.index(b"0-0:96.1.1") :] + ISKRA_SECOND
    lines, counted = take("dsmr", data)
    assert lines == telegram_lines(ISKRA_SECOND)
    assert set(counted["rejected"]) == {"truncated"}
    # the lines of both, not the first one's header line, which is whole
    assert counted["rejected"] == {"truncated": 2 * len(telegram_lines(ISKRA_OTHER))}
    for size in (1, 7, 64, 500):
        assert take("dsmr", data, [size]) == (lines, counted), size
    powers, got = published_power([data[: -len(ISKRA_SECOND)], ISKRA_SECOND])
    assert powers == [None, 0.59]
    assert got["readings"] == len(ISKRA_CHANNELS)
    framer = BlockFramer("dsmr")
    framer.feed(data)
    assert framer.last_rejected("truncated")[0] == (
        "two telegrams run into one: 0-0:96.1.1 comes twice (the '!' of the first and the "
        "header line of the next lost)"
    )


#: ``ISKRA_OTHER`` with one digit of a code damaged so that the code comes twice: the next
#: line's (``1-0:1.8.2`` read as ``1-0:1.8.1``), a line's further on (``1-0:2.8.1`` as
#: ``1-0:1.8.1``), the last line's (``0-2:24.4.0`` as ``0-2:24.1.0``); and, for contrast, its
#: lines from ``1-0:2.8.1`` on after ``ISKRA_FIRST``'s up to ``1-0:2.7.0`` (the ``!`` of one
#: and the header line of the other lost): two telegrams run into one. Each code, the
#: reason and why.
CODE_REPEATS = {
    "next line": (ISKRA_OTHER.replace(b"1-0:1.8.2(", b"1-0:1.8.1("), "1-0:1.8.1", "syntax"),
    "line further on": (ISKRA_OTHER.replace(b"1-0:2.8.1(", b"1-0:1.8.1("), "1-0:1.8.1", "syntax"),
    "last line": (ISKRA_OTHER.replace(b"0-2:24.4.0(", b"0-2:24.1.0("), "0-2:24.1.0", "syntax"),
    "run into one": (
        ISKRA_FIRST[: ISKRA_FIRST.index(b"1-0:2.7.0")]
        + ISKRA_OTHER[ISKRA_OTHER.index(b"1-0:2.8.1") :],
        "1-0:2.8.1",
        "truncated",
    ),
}
REPEAT_WHY = {
    "syntax": (
        "a line damaged or sent twice: {} comes twice, and the lines after the second do not "
        "repeat those after the first (a digit of a code changed on the line, or a line "
        "repeated; no telegram was cut)"
    ),
    "truncated": (
        "two telegrams run into one: {} comes twice (the '!' of the first and the header "
        "line of the next lost)"
    ),
}


@pytest.mark.parametrize("case", list(CODE_REPEATS))
def test_a_dsmr_2_2_telegram_with_a_code_twice_says_whether_a_line_was_damaged(
    case: str,
) -> None:
    """A DSMR 2.2 telegram of the Iskra MT382's run (nielsbasjes/dsmr-tools issue #54; no
    CRC) that holds a code twice, between two whole ones. When the lines after the second
    are not those after the first, one line was damaged (or sent twice), nothing cut:
    ``syntax``, and the log says so; when they run on as before, two telegrams ran into one:
    ``truncated``. Either way none of its lines is read (0.77 kW never published), each
    counted, however the bytes are chunked; the telegrams around it give all their
    readings."""
    damaged, code, reason = CODE_REPEATS[case]
    assert len(re.findall(rb"\n" + re.escape(code.encode()) + rb"\(", damaged)) == 2
    data = ISKRA_FIRST + damaged + ISKRA_SECOND
    counted = taken_between(ISKRA_FIRST, damaged, ISKRA_SECOND)
    assert counted["rejected"] == {reason: len(telegram_lines(damaged))}
    powers, got = published_power([ISKRA_FIRST, damaged, ISKRA_SECOND])
    assert powers == [0.59] * 3
    assert got["errors"] == counted["rejected"]
    framer = BlockFramer("dsmr")
    framer.feed(data)
    assert framer.last_rejected(reason) == (REPEAT_WHY[reason].format(code), damaged[:80])


def test_an_easymeter_telegram_with_a_code_damaged_into_another_is_syntax() -> None:
    """Three telegrams of an EasyMeter Q3D through its COM-1 gateway (``EASYMETER_COM1``, no
    CRC), the middle one's ``1-0:41.7.0*255`` read as ``1-0:21.7.0*255`` (a digit changed)
    and its power changed: ``syntax``, a line damaged, not two telegrams run into one; its
    power never published, the other two read."""
    damaged = EASYMETER_COM1.replace(b"1-0:41.7.0*255", b"1-0:21.7.0*255").replace(
        b"1-0:1.7.0*255(002124.86", b"1-0:1.7.0*255(009124.86"
    )
    telegram = damaged[: damaged.index(b"!\r\n") + 1]
    data = EASYMETER_COM1 + damaged + EASYMETER_COM1
    lines, counted = take("dsmr", data)
    assert lines == 2 * telegram_lines(EASYMETER_COM1[: EASYMETER_COM1.index(b"!\r\n")])
    assert counted["rejected"] == {"syntax": len(telegram_lines(telegram))}
    for size in (1, 7, 64, 500):
        assert take("dsmr", data, [size]) == (lines, counted), size
    powers = published_power([EASYMETER_COM1, damaged, EASYMETER_COM1], EASYMETER_POWER)[0]
    assert powers == [2.12486] * 3
    framer = BlockFramer("dsmr")
    framer.feed(data)
    assert framer.last_rejected("syntax")[0] == REPEAT_WHY["syntax"].format("1-0:21.7.0*255")


def test_text_between_dsmr_2_2_telegrams_that_ends_no_telegram_is_skipped() -> None:
    """Empty lines and a stray byte between the Iskra MT382's telegrams (as the Fluvius run
    has them), and a line of noise without a ``!`` after it: no telegram lost its header
    there, so nothing is rejected and the bytes are skipped; a ``!`` that begins no line is
    no end of one."""
    for stray in (b"\r\np\r\n", b"0-0:96.1.1(5A42455630)\r\n", b"x!\r\n"):
        data = ISKRA_FIRST + stray + ISKRA_SECOND
        lines, counted = take("dsmr", data)
        assert lines == telegram_lines(ISKRA_FIRST) + telegram_lines(ISKRA_SECOND)
        assert (counted["rejected"], counted["skipped"]) == ({}, len(stray))
        for size in (1, 7, 64):
            assert take("dsmr", data, [size]) == (lines, counted), size


#: ``ISKRA_OTHER`` with a byte of its header line (``/ISk5\\2MT382-1003`` and CR LF) damaged
#: on the line, its line end still within 40 bytes of its ``/`` and none of its readings
#: touched: a letter with its high bit set (``k`` read as 0xEB), a digit made a control byte
#: (``5`` as 0x15), its ``-`` read as ``)`` (0x2D as 0x29: one bit, a ``)`` inside the line, not
#: at its end as a line's rest run into it ends it), its CR read as a form feed, its LF lost (the
#: line ends at the LF of the empty line after it) or read as ``!``.
HEADER_DAMAGES = {
    "letter high bit": ISKRA_OTHER.replace(b"/ISk5", b"/IS\xeb5", 1),
    "dash read as a parenthesis": ISKRA_OTHER.replace(b"MT382-1003", b"MT382)1003", 1),
    "digit a control byte": ISKRA_OTHER.replace(b"/ISk5", b"/ISk\x15", 1),
    "cr damaged": ISKRA_OTHER.replace(b"-1003\r\n", b"-1003\x0c\n", 1),
    "lf lost": ISKRA_OTHER.replace(b"-1003\r\n", b"-1003\r", 1),
    "lf damaged": ISKRA_OTHER.replace(b"-1003\r\n", b"-1003\r!", 1),
}


@pytest.mark.parametrize("damage", list(HEADER_DAMAGES))
def test_a_dsmr_2_2_telegram_whose_header_line_took_a_damaged_byte_is_read(damage: str) -> None:
    """A DSMR 2.2 telegram of the Iskra MT382's run (nielsbasjes/dsmr-tools issue #54) whose
    header line took a damaged byte, between two whole ones: its line end came within 40 bytes
    of its ``/`` and no line of readings ran into it, so it was not cut, and the header is no
    reading. It is read as an undamaged one is (no CRC: read unchecked), every reading (0.77
    kW published) and nothing rejected, however the bytes are chunked."""
    damaged = HEADER_DAMAGES[damage]
    assert damaged != ISKRA_OTHER
    first = ISKRA_OTHER.index(b"0-0:96.1.1")
    assert damaged.endswith(ISKRA_OTHER[first:])
    assert len(damaged) - len(ISKRA_OTHER[first:]) < 40
    data = ISKRA_FIRST + damaged + ISKRA_SECOND
    lines, counted = take("dsmr", data)
    assert lines == [
        *telegram_lines(ISKRA_FIRST),
        *telegram_lines(ISKRA_OTHER),
        *telegram_lines(ISKRA_SECOND),
    ]
    assert counted["rejected"] == {}
    for size in (1, 7, 64, 500):
        assert take("dsmr", data, [size]) == (lines, counted), size
    powers, got = published_power([ISKRA_FIRST, damaged, ISKRA_SECOND])
    assert powers == [0.59, 0.77, 0.59]
    assert got["readings"] == 3 * len(ISKRA_CHANNELS)
    assert got["errors"] == {}


#: The Hungarian meter's telegram (``AUX_HU``) with its energy changed: read, it would be
#: published.
AUX_HU_CHANGED = AUX_HU.replace(b"1-0:1.8.0(000812.421", b"1-0:1.8.0(000999.421")


def energy_read_around(damaged: bytes, rejected: dict[str, int]) -> None:
    """``damaged`` between two whole ``AUX_HU`` telegrams, fed a part at a time to a sensor
    reading the energy: after each part the whole telegrams' energy is the one published,
    never ``damaged``'s, and the sensor's errors are ``rejected``."""
    assert AUX_HU_CHANGED != AUX_HU
    config = load_sensors(
        {
            "name": "m",
            "port": "sim://m",
            "format": "dsmr",
            "max_frame_bytes": 2100,
            "channels": [{"name": "imported_kwh", "field": "1-0:1.8.0"}],
        }
    )
    rt = runtime(config)
    imported = []
    for part in (AUX_HU, damaged, AUX_HU):
        rt.feed(part)
        imported.append(latest(rt)["imported_kwh"])
    assert imported == [812.421] * 3
    assert counts(rt)["errors"] == rejected


@pytest.mark.parametrize("cut", [b"", b"."], ids=["slash lost", "slash damaged"])
def test_a_telegram_with_a_message_of_bytes_0xff_that_lost_its_slash_is_truncated(
    cut: bytes,
) -> None:
    """The Hungarian meter's telegram (``AUX_HU``: its unwritten text message is 1024 bytes
    0xFF, no text) with its ``/`` lost or damaged, between two whole ones: its lines of
    readings came after the end of the one before it and run to its ``!``, as any telegram's
    that lost its header line; the bytes 0xFF of its message make it no less one. It is
    ``truncated``, each of its lines counted, none read (its energy changed, never
    published), however the bytes are chunked; the telegrams around it are read."""
    damaged = cut + AUX_HU_CHANGED[1:]
    counted = taken_between(AUX_HU, damaged, AUX_HU)
    assert counted["rejected"] == {"truncated": len(telegram_lines(AUX_HU))}
    energy_read_around(damaged, counted["rejected"])


#: ``AUX_HU`` cut short, the next telegram's ``/`` right after what came of it: cut in a line
#: of readings before its text message, cut inside the message's 1024 bytes 0xFF, or whole
#: but its ``!`` line lost. What came is no text by its share of bytes but the first cut's.
AUX_CUTS = {
    "cut in a reading": AUX_HU[: AUX_HU.index(b"1-0:32.7.0(234") + 14],
    "cut in its message": AUX_HU[: AUX_HU.index(b"\xff") + 500],
    "its '!' line lost": AUX_HU[: AUX_HU.index(b"!5C2E")],
}


@pytest.mark.parametrize("cut", list(AUX_CUTS))
def test_a_cut_telegram_with_a_message_of_bytes_0xff_is_truncated_the_others_read(
    cut: str,
) -> None:
    """The Hungarian meter's telegram (``AUX_HU``, kazhu/P1Monitor's capture: its unwritten
    text message is 1024 bytes 0xFF) cut short by the next telegram's ``/``, between two
    whole ones: its lines of readings show it a telegram, bytes that are no text or not, so
    it is ``truncated``, each of the lines that came counted, none skipped, none read (its
    energy changed, never published), however the bytes are chunked; the telegrams around it
    are read."""
    damaged = AUX_HU_CHANGED[: len(AUX_CUTS[cut])]
    counted = taken_between(AUX_HU, damaged, AUX_HU)
    assert counted["rejected"] == {"truncated": len(telegram_lines(damaged))}
    assert counted["skipped"] == 0
    energy_read_around(damaged, counted["rejected"])
    framer = BlockFramer("dsmr", 2100)
    framer.feed(AUX_HU + damaged + AUX_HU)
    assert framer.last_rejected("truncated") == (
        "cut short: the next telegram's '/' came before its '!'",
        damaged[:80],
    )


#: The Hungarian meter's telegram (``AUX_HU``) with a byte of a reading changed, as a poor
#: cable changes one: its CRC fails.
AUX_DAMAGED = AUX_HU.replace(b"1-0:1.8.0(000812.421", b"1-0:1.8.0(000813.421")


@pytest.mark.parametrize(
    ("crc", "damaged", "told"),
    [
        ("crc16_x25", False, "leave parse.crc out (DSMR's CRC-16/ARC, which this meter writes)"),
        (None, True, "blocks came but failed their check (their lines: "),
    ],
    ids=["parse.crc x25", "damaged on the line"],
)
def test_a_meter_whose_telegrams_with_a_message_of_bytes_0xff_all_fail_is_told_why(
    crc: str | None, damaged: bool, told: str
) -> None:
    """The Hungarian meter's telegrams (``AUX_HU``, kazhu/P1Monitor's capture: its unwritten
    text message is 1024 bytes 0xFF, a third of its bytes), none read: checked by the CRC
    the meter does not write (``parse.crc = 'crc16_x25'``, a Holley DTSD545's, where the
    meter writes DSMR's CRC-16/ARC), or each damaged on the line. They are no text by their
    share of bytes, but their lines of readings show them telegrams: the hint for no frame
    tells why they failed, not that the bytes are not text (serial settings, an encrypted
    Luxembourg meter)."""
    telegram = AUX_DAMAGED if damaged else AUX_HU
    data = telegram * 3
    framer = BlockFramer("dsmr", 2100, crc=crc)
    assert framer.feed(data) == []
    assert framer.rejected["checksum"] == 3 * len(telegram_lines(AUX_HU))
    hint = framer.no_frame_hint(data)
    assert told in hint
    assert "not text" not in hint
    assert "Luxembourg" not in hint


#: The one channel the EasyMeter tests read: its power.
EASYMETER_POWER = (("power_kw", "1-0:1.7.0"),)

EASYMETER_COM1 = ESY5Q3DB1024


@pytest.mark.parametrize("cut", [b"", b"."], ids=["slash lost", "slash damaged"])
def test_a_telegram_after_a_gateway_s_line_of_bytes_0xff_that_lost_its_slash_is_truncated(
    cut: bytes,
) -> None:
    """Three telegrams of an EasyMeter Q3D through a COM-1 Ethernet gateway, which adds a
    line of its own and one of 33 bytes 0xFF after each telegram's ``!`` (``EASYMETER_COM1``),
    the middle one's ``/`` lost or damaged and its power changed. The gateway's lines are
    skipped bytes, as between whole telegrams; the middle telegram's lines of readings came
    after them and run to its ``!``: it is ``truncated``, each of its lines counted, its power
    never published, however the bytes are chunked; the other two are read."""
    telegram = EASYMETER_COM1[: EASYMETER_COM1.index(b"!\r\n") + 3]
    gateway = EASYMETER_COM1[len(telegram) :]
    whole = take("dsmr", EASYMETER_COM1 * 3)
    assert whole[0] == 3 * telegram_lines(telegram)
    assert whole[1]["rejected"] == {}
    assert whole[1]["skipped"] == 3 * len(gateway)
    changed = EASYMETER_COM1.replace(b"1-0:1.7.0*255(002124.86", b"1-0:1.7.0*255(009124.86")
    assert changed != EASYMETER_COM1
    damaged = cut + changed[1:]
    data = EASYMETER_COM1 + damaged + EASYMETER_COM1
    lines, counted = take("dsmr", data)
    assert lines == 2 * telegram_lines(telegram)
    assert counted["rejected"] == {"truncated": len(telegram_lines(telegram))}
    assert counted["skipped"] == 3 * len(gateway) + len(cut + telegram[1:].split(b"\n")[0]) + 3
    for size in (1, 7, 64, 500):
        assert take("dsmr", data, [size]) == (lines, counted), size
    powers, got = published_power([EASYMETER_COM1, damaged, EASYMETER_COM1], EASYMETER_POWER)
    assert powers == [2.12486] * 3  # its 2124.86 W, in kW
    assert got["errors"] == counted["rejected"]


@pytest.mark.parametrize(
    "data", [DSMR22, DSMR30, ISKRA_DSMR22_RUN], ids=["dsmr22", "dsmr30", "iskra-run"]
)
def test_a_dsmr_2_2_telegram_split_over_reads_anywhere_gives_every_reading(data: bytes) -> None:
    """Two reads, split at every byte (in its header line, between the gas code's line and
    its value's, in the value): the readings of the telegram read whole, gas included, and
    no error."""
    gas = "0-2:24.3.0" if data is ISKRA_DSMR22_RUN else "0-1:24.3.0"
    config = meter(("imported_t1_kwh", "1-0:1.8.1"), ("gas_m3", gas))
    whole = runtime(config)
    whole.feed(data)
    expected = latest(whole)
    assert set(expected) == {"imported_t1_kwh", "gas_m3"}
    for at in range(1, len(data)):
        rt = runtime(config)
        rt.feed(data[:at])
        rt.feed(data[at:])
        assert (latest(rt), counts(rt)) == (expected, counts(whole)), at


@pytest.mark.parametrize("name", CRC_REQUIRED)
def test_a_telegram_dropped_for_its_lost_crc_is_logged_saying_why(name: str) -> None:
    """The dropped telegram is a ``frame rejected`` warning, as a line the parser rejects
    is: ``truncated``, the detail naming the line that shows it of DSMR 4 or later, and the
    frame its first bytes, from its header."""
    telegram = CRC_REQUIRED[name]
    version = re.search(rb"\n((?:1-3:0\.2\.8|0-0:96\.1\.4)\(\d+\))\r", telegram)
    assert version is not None
    rt = runtime(meter(("imported_t1_kwh", "1-0:1.8.1")))
    with capture_logs() as logs:
        rt.feed(crc_lost(telegram) + telegram)
    [event] = [e for e in logs if e["event"] == "frame rejected"]
    assert (event["log_level"], event["reason"]) == ("warning", "truncated")
    assert event["detail"] == (
        f"no CRC after its '!', which a telegram of DSMR 4 or later "
        f"({version[1].decode()}) always has"
    )
    assert event["frame"].startswith(telegram[:5].decode())


def test_each_telegram_rejected_says_why_in_the_log() -> None:
    """What the ``frame rejected`` warning of a telegram rejected for each cause says: the
    CRC it holds and the one its bytes give, its CRC line cut or no hex, no line end after
    its ``!``, cut short by the next ``/``, its CRC lost after the meter sent one."""
    changed = DSMR5.replace(b"000004.426", b"000004.436")
    body = changed[: changed.index(b"!") + 1]
    cases = [
        (changed, "checksum", f"its CRC 6EEE does not hold: its bytes give {crc16_arc(body):04X}"),
        (DSMR5.replace(b"!6EEE", b"!6E"), "truncated", "its CRC '6E' is cut short"),
        (DSMR5.replace(b"!6EEE", b"!6EeG"), "syntax", "its CRC line '6EeG' is no 4 hex digits"),
        (
            DSMR5.replace(b"!6EEE\r\n", b"!6EEExxxxxx"),
            "syntax",
            "no line end within 8 bytes of its '!'",
        ),
        (
            DSMR5[: DSMR5.index(b"1-0:2.8.1")],
            "truncated",
            "cut short: the next telegram's '/' came before its '!'",
        ),
    ]
    for data, reason, detail in cases:
        framer = BlockFramer("dsmr", 2100)
        framer.feed(data + DSMR5)
        assert framer.rejections == 1, detail
        assert framer.last_rejected(reason) == (detail, data[:80]), detail
    framer = BlockFramer("dsmr", 2100)
    framer.feed(DSMR5 + crc_lost(DSMR22))
    assert framer.last_rejected("truncated") == (
        "no CRC after its '!' (the meter has sent one before)",
        DSMR22[:80],
    )


@pytest.mark.parametrize(
    ("name", "end"),
    [
        ("lf lost", b"\r!"),
        ("lf damaged", b"\r\x0b!"),
        ("cr and lf lost", b"!"),
    ],
)
def test_a_telegram_whose_end_mark_came_inside_a_line_says_so(name: str, end: bytes) -> None:
    """The second of the Fluvius meter's run (matthijskooijman/arduino-dsmr's capture) with the
    line end before its ``!`` lost or damaged: its ``!`` begins no line, so the telegram runs
    on to the third one's ``/``: ``truncated``, each line counted, and the rejection says that
    its ``!`` came inside a line, not that the ``/`` came before it; the others are read. A
    telegram cut short in a line still says the ``/`` came first."""
    damaged = SECOND.replace(b"\r\n!", end)
    assert damaged != SECOND
    data = second_made(damaged)
    lines, counted = take("dsmr", data)
    assert lines == telegram_lines(FLUVIUS_TELEGRAMS[0]) + telegram_lines(FLUVIUS_TELEGRAMS[2])
    assert counted["rejected"] == {"truncated": len(telegram_lines(SECOND))}
    for size in (1, 7, 64):
        assert take("dsmr", data, [size]) == (lines, counted), size
    framer = BlockFramer("dsmr", 2100)
    framer.feed(data)
    assert framer.last_rejected("truncated")[0] == (
        "its '!' came inside a line (the line end before it lost or damaged), and the next "
        "telegram's '/' after it"
    )
    framer = BlockFramer("dsmr", 2100)
    framer.feed(second_made(SECOND[: SECOND.index(b"\r\n!")]))
    assert framer.last_rejected("truncated")[0] == (
        "cut short: the next telegram's '/' came before its '!'"
    )


# -- the header line of every real meter, among noise and cut telegrams ---------------------------

#: A telegram of each real meter with a CRC here: headers of 9 to 21 characters, with spaces
#: (``/ADN9 6534``), a backslash (``/FLU5\\253769484_A``) or a ``/`` (the Holley DTSD545's,
#: built with a CRC-16/ARC so that one framer reads them all; see test_formats_dsmr_holley).
REAL_TELEGRAMS = (
    DSMR5,
    DSMR42,
    FLUVIUS,
    *FLUVIUS_TELEGRAMS,
    E350_DSMR40,
    FLUVIUS_PEAKS,
    AUX_HU,
    AM550_DSMR50,
    *SWEDISH,
    HOLLEY,
)
#: Bytes of line noise: a telegram's marks (``/``, ``!``, line ends), header and value
#: characters, bytes that are no text. No 0xDB: noise that looks like an encrypted frame's
#: header has tests of its own (test_blocks).
NOISE_BYTES = b"/!\r\n\\ ()*:.-09aZ\x00\x08\xff"
noise = st.lists(st.sampled_from(NOISE_BYTES), max_size=12).map(bytes)


@settings(max_examples=300, deadline=None)
@given(
    run=st.lists(st.tuples(noise, st.integers(0, len(REAL_TELEGRAMS) - 1)), min_size=1, max_size=5),
    sizes=st.lists(st.integers(1, 80), min_size=1, max_size=10),
)
def test_noise_between_real_meters_telegrams_costs_none_of_them_however_chunked(
    run: list[tuple[bytes, int]], sizes: list[int]
) -> None:
    """Telegrams of any of the real meters, with line noise before each (a ``/`` right before
    a header too: one header line of the two): every telegram is read, and the lines and
    counters do not depend on the chunking."""
    data = b"".join(before + REAL_TELEGRAMS[i] for before, i in run)
    whole = take("dsmr", data)
    assert whole[0] == [line for _, i in run for line in telegram_lines(REAL_TELEGRAMS[i])]
    assert take("dsmr", data, sizes) == whole


@settings(max_examples=300, deadline=None)
@given(
    run=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.integers(0, len(REAL_TELEGRAMS) - 1),
            st.integers(0, 9999),
            st.sampled_from(NOISE_BYTES),
        ),
        max_size=5,
    ),
    last=st.integers(0, len(REAL_TELEGRAMS) - 1),
    sizes=st.lists(st.integers(1, 80), min_size=1, max_size=10),
)
def test_a_real_meter_s_telegram_after_cut_or_damaged_ones_is_read_however_chunked(
    run: list[tuple[int, int, int, int]], last: int, sizes: list[int]
) -> None:
    """Telegrams of the real meters cut short anywhere (in their header line too), with a
    byte changed or put in (a ``/`` too): the whole telegram after them is read, and the
    lines and counters do not depend on the chunking."""
    data = b""
    for what, i, offset, byte in run:
        telegram = REAL_TELEGRAMS[i]
        at = offset % len(telegram)
        if what == 0:
            data += telegram[:at]
        elif what == 1:
            data += telegram[:at] + bytes([byte]) + telegram[at + 1 :]
        else:
            data += telegram[:at] + bytes([byte]) + telegram[at:]
    data += REAL_TELEGRAMS[last]
    whole = take("dsmr", data)
    lines = telegram_lines(REAL_TELEGRAMS[last])
    assert whole[0][len(whole[0]) - len(lines) :] == lines
    assert take("dsmr", data, sizes) == whole


# -- one byte changed or lost at each position of every stored telegram ----------------------------

#: Every stored telegram, with a CRC (``REAL_TELEGRAMS``, a Sagemcom XS210 and an Austrian T210-D-R
#: from test_formats_dsmr) or without one (DSMR 2.2 and 3, the Iskra MT382's run, an EasyMeter
#: Q3D alone and through its COM-1 gateway, whose lines after the ``!`` are part of it here).
STORED_TELEGRAMS = {
    **{f"crc-{k}": t for k, t in enumerate((*REAL_TELEGRAMS, XS210_NO_GAS, AUSTRIA_T210))},
    "dsmr22": DSMR22,
    "dsmr30": DSMR30,
    "iskra-run": ISKRA_OTHER,
    "easymeter": EASYMETER,
    "easymeter-com1": EASYMETER_COM1,
}


@pytest.mark.parametrize("name", list(STORED_TELEGRAMS))
def test_one_byte_changed_or_lost_anywhere_costs_only_its_telegram(name: str) -> None:
    """Each stored telegram between two whole ones, one of its bytes changed (its low bit
    flipped: a digit read as its neighbour, ``.`` as ``/``, CR as 0x0C) or lost, at each
    position in turn. The two around it are always read. A telegram with a CRC is never read
    damaged: it is read only when the bytes its CRC covers came whole (the CR after the CRC
    lost), else its lines are counted (but one, when two lines ran into one), and a byte of
    a reading changed (a ``.`` made ``/`` too) or lost, no ``!`` made or unmade, is
    ``checksum``, each of its lines. One
    without a CRC is read whole as it came (no part of it from a ``/`` a byte made in it, as
    the rest of a line run into a header), or rejected with its lines counted. Every 31st
    position, the lines and counters are the same fed in chunks of 7 and 64 bytes (a byte
    inside a run of one byte is tried at the run's ends only)."""
    telegram = STORED_TELEGRAMS[name]
    end = telegram.index(b"\r\n!") + 2
    good = telegram_lines(telegram[: end + 1])
    n = len(good)
    checked = telegram[end + 1 : end + 2] != b"\r"
    head = telegram.index(b"\n")
    for at in range(len(telegram)):
        if telegram[at - 2 : at + 3] == telegram[at : at + 1] * 5:
            continue  # inside a run of one byte (the Hungarian meter's 0xFF): as at its ends
        changed = telegram[:at] + bytes([telegram[at] ^ 0x01]) + telegram[at + 1 :]
        for kind, damaged in (("changed", changed), ("lost", telegram[:at] + telegram[at + 1 :])):
            data = telegram + damaged + telegram
            lines, counted = take("dsmr", data)
            where = (kind, at, telegram[max(0, at - 8) : at + 8])
            assert len(lines) >= 2 * n, where
            assert lines[:n] == good, where
            assert lines[-n:] == good, where
            middle = lines[n:-n]
            lost = sum(counted["rejected"].values())
            if not middle:
                assert lost >= n - 1, where
            elif checked:
                assert middle == good, where
                assert lost == 0, where
            else:  # read whole, not from a '/' that a byte made in it
                assert len(middle) >= n - 1, where
            in_reading = head < at < end - 2 and telegram[at] not in b"\r\n"
            if checked and in_reading and damaged[at : at + 1] != b"!":
                assert counted["rejected"] == {"checksum": n}, where
            if at % 31 == 0:
                for size in (7, 64):
                    assert take("dsmr", data, [size]) == (lines, counted), (size, *where)
