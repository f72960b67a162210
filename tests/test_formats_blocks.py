"""Devices that send a block of lines at a time, read as lines: a smart electricity meter's P1
port (DSMR telegrams) and a Victron VE.Direct battery monitor or solar charger (text blocks).

Each block holds lines that are no reading but a normal part of the device's output (a
telegram's header and CRC line, a block's ``Checksum`` line whose byte can be any value,
VE.Direct HEX messages between blocks); ``parse.ignore`` names them, so that they are counted
as ignored frames, not as parse errors, while a damaged line is still rejected.

Fixtures, byte for byte as the devices sent them (each one's integrity check is verified by
``test_the_fixtures_are_byte_exact``):

* ``DSMR5``: a DSMR 5.0 telegram (Iskra AM550, header ``/ISk5\\2MT382-1000``), CRC ``6EEE``;
  public repository ndokter/dsmr_parser, file test/example_telegrams.py, ``TELEGRAM_V5``.
* ``DSMR42``: a DSMR 4.2 telegram (Kaifa, ``/KFM5KAIFA-METER``) with a power failure log of
  three events, CRC ``6796``; the same file, ``TELEGRAM_V4_2``.
* ``DSMR22``: a DSMR 2.2 telegram (Iskra ``/ISk5\\2MT382-1004``), without CRC, the gas reading on
  a line of its own; the same file, ``TELEGRAM_V2_2``.
* ``FLUVIUS``: a Belgian e-MUCS telegram (Fluvius, ``/FLU5\\253769484_A``) with a gas meter on
  ``0-1:24.2.3``, CRC ``09EF``; public repository matthijskooijman/arduino-dsmr, file
  "specs/Belgium Fluvius extention specification/voorbeelden.txt", its second telegram (the file
  has its lines without their CR LF, which a meter sends: they are put back here).
* ``EASYMETER``: an EasyMeter Q3D telegram (``/ESY5Q3DA1004 V3.04``), each code written with
  its F group ``*255`` (``1-0:1.8.0*255(00032549.5061662*kWh)``), ``!`` without a CRC, and the
  two lines a COM-1 Ethernet gateway adds after it; public repository ndokter/dsmr_parser, file
  test/example_telegrams.py, ``TELEGRAM_ESY5Q3DA1004_V304``.
* ``SMARTY``: an encrypted P1 telegram of a Luxembourg Smarty meter (a DLMS
  general-glo-ciphering frame of 647 bytes: system title ``534147677001BD54``, length form
  ``82 027A``, security control byte 0x30, frame counter ``0005A8E3``); public repository
  NEXXTLAB/go-smarty-reader, file smarty/Decryption_test.go, ``telegram`` (a frame of the
  meter at NEXXTLAB, which that test decrypts with the key it gives).
* ``BMV702``: two pairs of blocks of a Victron BMV-702 battery monitor (firmware 3.08: a block of
  readings, then one of history, each with its checksum); public repository karioja/vedirect,
  file test/bvm702.dump, its first two pairs of blocks.
* ``SMARTSOLAR``: two blocks of a SmartSolar MPPT charger (firmware 1.39); the same
  repository, file test/smartsolar_1.39.dump.
* ``BLUESOLAR``: two runs of blocks of a BlueSolar MPPT charger (firmware 1.23) with the
  asynchronous HEX messages (``:A...``) it sent after some of them; the same repository, file
  test/bluesolar_1.23.dump (the blocks with VPV 32790 to 33940, and 38300 to 35180). The
  checksum byte of two of them is 0xAD.

The index shows the dumps as text with their line ends made ``\\n``; the blocks are put back
as VE.Direct sends them (each line after a CR LF) and their checksum bytes as Latin-1, and that
the byte sum of every block is 0 mod 256, as VE.Direct's checksum makes it, and the sum of every
HEX message is 0x55 shows this gives the bytes the devices sent.

* ``BMV712``: a pair of blocks of a Victron BMV-712 Smart (firmware 4.03, a temperature sensor
  on its aux input: ``T``), charging (``TTG`` -1), its readings and its history (``H1`` to
  ``H18`` with ``H15`` and ``H16``); public repository ullman/velog, file
  src/vedirect_test.c, ``test__parse_block__bmv_001``, checksum bytes 0xB5 and 0x01.
* ``BLUESOLAR_75_15``: a block of a BlueSolar MPPT 75/15 (firmware 1.50) at night; the same
  file, ``test__parse_block__mppt_001``, checksum byte 0xC8.
* ``PHOENIX_120V``: a block of a Phoenix Inverter 12 V 1200 VA 120 V (``AC_OUT_V`` in 0.01 V,
  ``AC_OUT_I`` in 0.1 A, ``OR`` in hex); the same file, ``test__parse_block__inverter_001``,
  checksum byte 0x05.
* ``PHOENIX_230V``: a block of a Phoenix 12/1200 230 V (``AC_OUT_S`` too), and
  ``SMARTSOLAR_75_15``: a block of a SmartSolar MPPT 75/15 (firmware 1.63, ``MPPT`` and ``OR``)
  after the asynchronous HEX message it sent (``:A0102000543``: register 0x0201, the device
  state, 5) and bytes of a block the capture began in (``abcd``); public repository
  RexLinz/VEdirect, file examples/parseStringTest.cpp ("captured with logic analyzer"),
  checksum bytes 0xB1 and ``f``.
* ``SMARTSHUNT``: two reads of a SmartShunt 500A/50mV (firmware 4.05: ``VS``, no ``Relay``)
  one after the other, the CR LF between them split across the reads: a byte 0x00 and the
  ``L`` that ended an earlier block, a history block (0x1A), a block of readings (``K``), a
  history block with a ``MON`` line its checksum does not count (the byte sum fails by
  exactly that line's bytes) and a block of readings (``J``); public repository
  jblance/mpp-solar, file powermon/protocols/ved.py, the second and third of the
  ``vedtext`` command's ``test_responses``.

* ``SMARTSOLAR_150_70``: a SmartSolar MPPT 150/70 (``PID`` 0xA06C, ``FWE`` 316FF) that splits
  its fields in two blocks: one from ``PID`` to ``OR`` and one that begins at ``ERR`` (``ERR``,
  ``LOAD``, ``Relay``, ``H19`` to ``HSDS``), neither ``H1`` nor ``V``; public repository
  KinDR007/VictronMPPT-ESPHOME, issue #183 ("Smart Solar MPPT 150/70"), the ESPHome
  ``uart_debug`` log of its reporter: the two blocks of 11:46:38 and 11:46:39 (checksum bytes
  0x06 and 0x05) and the first HEX message after them; ``SMARTSOLAR_150_70_READ`` the part of
  the same log its maintainer quoted (11:46:34 and 11:46:35): a HEX message, the ``ERR``
  block with a HEX message right after its checksum byte, two more, then a block from
  ``PID`` (checksum byte 0xFA).

The ullman/velog blocks are C strings, each line after its CR LF and the checksum byte in
hex, and the byte sum of each is 0 mod 256: they are the bytes sent.

``BMV600S``: a pair of blocks of a BMV-600S battery monitor (firmware 2.12), which sends no
``PID``: as Victron's "BMV Text Protocol" (the BMV-600S, 602S and 600HS serial interface) lists
its fields, a block of readings from ``V`` to ``FW`` and one of history, ``H1`` to ``H12``, each
with its checksum; the lines are those Simp BMS sends a Victron GX device as a BMV-600S
(public repository Tom-evnut/BMWI3BMS, file BMWI3BMS.ino, ``myStrings``, sent as two blocks by
``BMVmessage``), and the checksum bytes (0x85, 0xE7) are the ones that make each block's sum
hold (the repository's are constants that do not): a block as the manual documents it, not a
capture.

``BMV_CR_LF``: two blocks built as a BMV-702 sends them (a full battery charging), with values
chosen so that their checksum bytes are CR and LF, which about one block in 128 has each; the
real captures above happen to have none.
"""

from __future__ import annotations

import re
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from harness.config import load_sensors
from harness.daemon import sensord_cli
from harness.dsmr_parser_telegrams import ESY5Q3DA1004, V2_2, V4_2, V5
from harness.pty import PtyPair
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs
from test_stale_hints import deliver

from sensord.config import Config
from sensord.config_sensor import SensorConfig
from sensord.errors import PARSE_ERROR_REASONS, ParseError
from sensord.formats import codec_for
from sensord.sensor import SensorRuntime

REPO = Path(__file__).resolve().parent.parent


def telegram(text: str) -> bytes:
    """A DSMR telegram from its lines: each ends in CR LF, as a meter sends them."""
    return "".join(line + "\r\n" for line in text.strip("\n").split("\n")).encode("ascii")


DSMR5 = V5

DSMR42 = V4_2

DSMR22 = V2_2

FLUVIUS = telegram(
    r"""
/FLU5\253769484_A

0-0:96.1.4(50213)
0-0:96.1.1(3153414733313030303130383431)
0-0:1.0.0(200225180427W)
1-0:1.8.1(000750.826*kWh)
1-0:1.8.2(000830.366*kWh)
1-0:2.8.1(000000.005*kWh)
1-0:2.8.2(000000.204*kWh)
0-0:96.14.0(0001)
1-0:1.7.0(00.921*kW)
1-0:2.7.0(00.000*kW)
1-0:32.7.0(227.3*V)
1-0:52.7.0(233.1*V)
1-0:72.7.0(229.5*V)
1-0:31.7.0(000*A)
1-0:51.7.0(003*A)
1-0:71.7.0(000*A)
0-0:96.3.10(1)
0-0:17.0.0(999.9*kW)
1-0:31.4.0(999*A)
0-0:96.13.0()
0-1:24.1.0(003)
0-1:96.1.1(37464C4F32313139303835363835)
0-1:24.4.0(1)
0-1:24.2.3(200225180258W)(00000.255*m3)
!09EF
"""
)

EASYMETER = ESY5Q3DA1004

SMARTY = bytes.fromhex(
    "db08534147677001bd5482027a300005a8e3806ee6e639274c7bc57095f872b0"
    "8dde621fb74ee81e5ebe342c93d8e73781fb2a1eb8710074a54fc57aa7d1d992"
    "36c42e2ec01a0324efc7f02e3ba2fa43196ca603838ab8322dffa83f7e83932e"
    "6007406b112b41745f38805646d53fea7a029fa79c36d9d777da8b5a03ed3ec6"
    "e485dec0c98d7d53c0bd175b228e01f466d9843777808503d630158c8236d868"
    "088eb13977bdfc474367e557136feb6d537f18304484a014b49099a63c18d430"
    "3a4c53853a0ca8c5b0e3e805bfd8425410fab522b35a8f258b57bb1e97e2489b"
    "6f37071753affbb4eebca502eea592b88085ae155bcea8f732d6b0115bb9ced7"
    "6be5b893b2a7efc8163c171e77c3d29a72b7478ed6dfe2c48bf3f9d8f895ca1c"
    "b42eaac4cb21d6eab51e77e4d6029d788427dd5bfc46bdd3e8a32dbb6f93b484"
    "2b073e9b6fe6e5dfc058b5f454aa3ef162bdf93cb1e0c452dbb2be4cb4c67d16"
    "9e2a30618fa2165441b6d3c22f1c3627e35fffcf9f1947d7a6ae942fc21e246f"
    "0efc456a7889c961c93ea089eef6d1a44056baaab352cbea7d7e206757af0d42"
    "7064b058d57235a78f8db91ce4d60a3c6babd99a61169b172f2414f565bde023"
    "9654eac77552fbcc2a2fa102d7cd003ddbeb9c1f811dbc695376336e2e9d6cfc"
    "73fcb4a29446bd7ce3170e5856766b25e82049ee5508ec1816685f1dcec23819"
    "1216dffba0647d32a1559d99640a15f24ab02172db3d564454e7a0346c099399"
    "b8770a9bdaa619c7c5230526d6b80499a0ee0cd4fc46a677af68ef4dee9e76b7"
    "8ac8a04f431db3986fcfd45ee1f10799af0b794a4103735d6dda3829173f80f1"
    "38a5301afdf1db8774f0c40e6e71264b334a943fc10552b0752f3a0d7fd80458"
    "595408f2850f17"
)


def ve_block(text: str, checksum: int) -> bytes:
    """A VE.Direct text block from its lines: each after a CR LF, then ``Checksum``, a tab and
    the checksum byte, as a device sends them."""
    lines = text.strip("\n").split("\n")
    return (
        b"".join(b"\r\n" + line.encode("ascii") for line in lines)
        + b"\r\nChecksum\t"
        + (bytes([checksum]))
    )


def bmv_pair(main: str, main_checksum: int, history: str, history_checksum: int) -> bytes:
    return ve_block(main, main_checksum) + ve_block(history, history_checksum)


BMV_MAIN = """
PID\t0x203
V\t12065
I\t{I}
P\t-92
CE\t{CE}
SOC\t839
TTG\t942
Alarm\tOFF
Relay\tOFF
AR\t0
BMV\t700
FW\t0308
"""
BMV_HISTORY = """
H1\t-149322
H2\t-82854
H3\t0
H4\t0
H5\t0
H6\t{H6}
H7\t11733
H8\t16161
H9\t{H9}
H10\t26
H11\t0
H12\t0
H17\t6843
H18\t8527
"""
BMV702 = bmv_pair(
    BMV_MAIN.format(I=-7625, CE=-65473), ord("q"), BMV_HISTORY.format(H6=-5526294, H9=368003), 0xBC
) + bmv_pair(
    BMV_MAIN.format(I=-7626, CE=-65476), ord("m"), BMV_HISTORY.format(H6=-5526296, H9=368004), 0xB9
)

SMARTSOLAR_BLOCK = """
PID\t0xA05F
FW\t139
SER#\tHQ18486U2B4
V\t{V}
I\t-10
VPV\t10
PPV\t0
CS\t0
MPPT\t0
ERR\t0
LOAD\tON
IL\t0
H19\t0
H20\t0
H21\t0
H22\t0
H23\t0
HSDS\t0
"""
SMARTSOLAR = ve_block(SMARTSOLAR_BLOCK.format(V=12810), 0xE4) + ve_block(
    SMARTSOLAR_BLOCK.format(V=12820), 0xE3
)

BLUESOLAR_BLOCK = """
PID\t0xA042
FW\t123
SER#\tHQ1411MYIKN
V\t{V}
I\t{I}
VPV\t{VPV}
PPV\t{PPV}
CS\t3
ERR\t0
LOAD\tON
IL\t0
H19\t8272
H20\t0
H21\t11
H22\t25
H23\t119
HSDS\t274
"""


def bluesolar(v: int, i: int, vpv: int, ppv: int, *, checksum: int, then: bytes = b"") -> bytes:
    """A BlueSolar block of these values and checksum byte, and the HEX message after it."""
    return ve_block(BLUESOLAR_BLOCK.format(V=v, I=i, VPV=vpv, PPV=ppv), checksum) + then


#: The HEX messages the BlueSolar sent after a block (an asynchronous message: ``A``, then
#: register 0x0105 ... ; their own check makes the sum of their bytes 0x55).
HEX_0172 = b":A501000000000000000000000ED04C6040000000000C200000000000B0000000900C80D120172\n"
HEX_0168 = b":A501000000000000000000000ED04C6040000000000C200000000000B0000000900D20D120168\n"
HEX_0135 = b":A501000000000000000000000ED04C6040000000000C200000000000B0000000900040E120135\n"
HEX_0121 = b":A501000000000000000000000ED04C6040000000000C200000000000B0000000900180E120121\n"
BLUESOLAR_RUNS = (
    bluesolar(12540, 650, 32790, 8, checksum=0xAA, then=HEX_0172)
    + bluesolar(12540, 620, 34890, 8, checksum=0xAA)
    + bluesolar(12540, 600, 32680, 8, checksum=0xB1)
    + bluesolar(12540, 640, 33940, 8, checksum=0xAD),
    bluesolar(12530, 340, 38300, 5, checksum=0xB9, then=HEX_0168)
    + bluesolar(12530, 390, 37930, 4, checksum=0xAD, then=HEX_0135)
    + bluesolar(12530, 490, 37040, 6, checksum=0xB2, then=HEX_0121)
    + bluesolar(12540, 590, 35180, 7, checksum=0xAC),
)
BLUESOLAR = b"".join(BLUESOLAR_RUNS)

BMV712 = bmv_pair(
    """
PID\t0xA381
V\t13043
T\t23
I\t3856
P\t50
CE\t0
SOC\t1000
TTG\t-1
Alarm\tOFF
Relay\tOFF
AR\t0
BMV\t712 Smart
FW\t0403
""",
    0xB5,
    """
H1\t-161154
H2\t0
H3\t0
H4\t0
H5\t0
H6\t-979550
H7\t29
H8\t14371
H9\t0
H10\t1
H11\t0
H12\t0
H15\t26
H16\t9047
H17\t1224
H18\t1145
""",
    0x01,
)
BLUESOLAR_75_15 = ve_block(
    """
PID\t0xA042
FW\t150
SER#\tHQ1909K249H
V\t12440
I\t0
VPV\t0
PPV\t0
CS\t0
MPPT\t0
ERR\t0
LOAD\tOFF
IL\t0
H19\t559
H20\t24
H21\t84
H22\t22
H23\t67
HSDS\t34
""",
    0xC8,
)
PHOENIX_120V = ve_block(
    """
PID\t0xA279
FW\t0121
SER#\tHQ2017JGK6S
MODE\t2
CS\t9
AC_OUT_V\t12003
AC_OUT_I\t2
V\t13308
AR\t0
WARN\t0
OR\t0x00000000
""",
    0x05,
)
PHOENIX_230V = ve_block(
    """
PID\t0xA2F1
FW\t0124
SER#\tHQ2152UFKWY
MODE\t2
CS\t9
AC_OUT_V\t23007
AC_OUT_I\t1
AC_OUT_S\t38
V\t13232
AR\t0
WARN\t0
OR\t0x00000000
""",
    0xB1,
)
#: The HEX message the SmartSolar sent before its block, and the block.
HEX_0201 = b":A0102000543\n"
SMARTSOLAR_75_15 = ve_block(
    """
PID\t0xA053
FW\t163
SER#\tHQ2144VVVT4
V\t13260
I\t1830
VPV\t33650
PPV\t26
CS\t3
MPPT\t2
OR\t0x00000000
ERR\t0
LOAD\tON
IL\t0
H19\t2552
H20\t3
H21\t34
H22\t3
H23\t21
HSDS\t50
""",
    ord("f"),
)
SMARTSHUNT_HISTORY = """
H1\t-32914
H2\t0
H3\t0
H4\t0
H5\t0
H6\t-35652
H7\t12041
H8\t14282
H9\t0
H10\t0
H11\t0
H12\t0
H15\t-22
H16\t0
H17\t46
H18\t48
"""
SMARTSHUNT_MAIN = """
PID\t0xA389
V\t12868
VS\t{VS}
I\t0
P\t0
CE\t0
SOC\t1000
TTG\t-1
Alarm\tOFF
AR\t0
BMV\tSmartShunt 500A/50mV
FW\t0405
"""
#: The SmartShunt's history block and block of readings of its second read.
SMARTSHUNT = ve_block(SMARTSHUNT_HISTORY, 0x1A) + ve_block(SMARTSHUNT_MAIN.format(VS=-12), ord("K"))
#: The history block of its third read, with the line its checksum does not count.
SMARTSHUNT_WITH_MON = ve_block(SMARTSHUNT_HISTORY.replace("H3\t0\n", "H3\t0\nMON\t0\n"), 0x1A)
#: Both reads as they came: the stream the SmartShunt sent, from a byte 0x00 and an ``L``.
SMARTSHUNT_READS = (
    b"\x00L" + SMARTSHUNT + SMARTSHUNT_WITH_MON + ve_block(SMARTSHUNT_MAIN.format(VS=-13), ord("J"))
)

SMARTSOLAR_150_70_MAIN = """
PID\t0xA06C
FWE\t316FF
SER#\tHQ2247EP3FN
V\t{V}
I\t7600
VPV\t{VPV}
PPV\t412
MPPT\t2
CS\t3
OR\t0x00000000
"""
#: The block the SmartSolar MPPT 150/70 sends after its block from ``PID``.
SMARTSOLAR_150_70_ERR = ve_block(
    """
ERR\t0
LOAD\tON
Relay\tOFF
H19\t1158
H20\t77
H21\t479
H22\t135
H23\t525
HSDS\t2
""",
    0x05,
)
SMARTSOLAR_150_70 = (
    ve_block(SMARTSOLAR_150_70_MAIN.format(V=52710, VPV=104010), 0x06)
    + SMARTSOLAR_150_70_ERR
    + b":A200100287003008F\n"
)
SMARTSOLAR_150_70_READ = (
    b":A0202000200000045\n"
    + SMARTSOLAR_150_70_ERR
    + b":AD5ED009614DF\n:A8DED00961427\n:A0002000148\n"
    + ve_block(SMARTSOLAR_150_70_MAIN.format(V=52700, VPV=103870), 0xFA)
)

BMV600S = bmv_pair(
    """
V\t14674
I\t0
CE\t-1
SOC\t800
TTG\t-1
Alarm\tOFF
Relay\tOFF
AR\t0
BMV\t600S
FW\t212
""",
    0x85,
    """
H1\t-3
H2\t-3
H3\t0
H4\t0
H5\t0
H6\t-7
H7\t13180
H8\t14774
H9\t137
H10\t0
H11\t0
H12\t0
""",
    0xE7,
)

BMV_FULL = """
PID\t0x203
V\t13000
I\t{I}
P\t{P}
CE\t0
SOC\t1000
TTG\t-1
Alarm\tOFF
Relay\tOFF
AR\t0
BMV\t700
FW\t0308
"""
BMV_CR_LF = ve_block(BMV_FULL.format(I=1092, P=14), 0x0D) + ve_block(
    BMV_FULL.format(I=1148, P=15), 0x0A
)


def crc16_arc(data: bytes, initial: int = 0) -> int:
    """CRC-16/ARC (reflected polynomial 0xA001, initial value 0), DSMR's telegram CRC, bit by
    bit; from ``initial`` 0xFFFF, CRC-16/MODBUS."""
    crc = initial
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


#: A VE.Direct text block (from the CR LF before its first line to its checksum byte) and the
#: HEX message after it, if any.
VE_BLOCK = re.compile(rb"(\r\n.*?\r\nChecksum\t.)(:[0-9A-F]+\n)?", re.DOTALL)


def ve_blocks(data: bytes) -> list[tuple[bytes, bytes | None]]:
    found = [(m[1], m[2]) for m in VE_BLOCK.finditer(data)]
    assert b"".join(block + (hex_message or b"") for block, hex_message in found) == data
    return found


def test_the_fixtures_are_byte_exact() -> None:
    """Each telegram's CRC, each block's checksum and each HEX message's check holds: the
    fixtures are the bytes the devices sent (see the module docstring)."""
    for data in (DSMR5, DSMR42, FLUVIUS):
        body, _, rest = data.partition(b"!")
        assert f"{crc16_arc(body + b'!'):04X}".encode() + b"\r\n" == rest
    for data in (BMV702, SMARTSOLAR, BLUESOLAR, BMV_CR_LF, SMARTSOLAR_150_70):
        for block, hex_message in ve_blocks(data):
            assert sum(block) % 256 == 0
            if hex_message is not None:
                digits = hex_message[2:-1]
                values = [int(hex_message[1:2], 16)]
                values += [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
                assert sum(values) % 256 == 0x55
    # no CRC after the EasyMeter's '!'; the gateway's lines follow it
    assert EASYMETER.count(b"\r\n!\r\n  25818685\r\n") == 1
    # the Smarty frame's header: tag, title, a length that counts the rest, control byte
    assert (SMARTY[:2], SMARTY[2:10], SMARTY[10]) == (b"\xdb\x08", b"SAGgp\x01\xbdT", 0x82)
    assert int.from_bytes(SMARTY[11:13], "big") == len(SMARTY) - 13 == 0x27A
    assert (SMARTY[13], SMARTY[14:18].hex()) == (0x30, "0005a8e3")
    for data in (BMV712, BLUESOLAR_75_15, PHOENIX_120V, PHOENIX_230V, SMARTSOLAR_75_15, BMV600S):
        assert all(sum(block) % 256 == 0 for block, _ in ve_blocks(data))
    assert (int(HEX_0201[1:2], 16) + sum(bytes.fromhex(HEX_0201[2:-1].decode()))) % 256 == 0x55
    assert [sum(block) % 256 for block, _ in ve_blocks(SMARTSHUNT_READS[2:])] == [0, 0, 58, 0]
    assert sum(b"\r\nMON\t0") % 256 == 58  # the one line its checksum does not count
    assert len(ve_blocks(BMV702)) == 4
    assert len(ve_blocks(BLUESOLAR)) == 8
    assert [block[-1] for block, _ in ve_blocks(BMV_CR_LF)] == [0x0D, 0x0A]


# -- what a sensor counts of them ----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def readme_toml_blocks() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(r"^```toml\n(.*?)^```", text, re.DOTALL | re.MULTILINE)


def readme_sensors() -> dict[str, dict[str, Any]]:
    """Every ``[[sensors]]`` table of README.md's TOML blocks, by name."""
    return {
        table["name"]: table
        for block in readme_toml_blocks()
        for table in tomllib.loads(block).get("sensors", [])
    }


README = readme_sensors()


def with_ignore(table: dict[str, Any], ignore: list[str]) -> dict[str, Any]:
    """The README's sensor ``table`` read line by line with ``parse.ignore`` instead of
    ``parse.block``, as a device without a block check is read (and as these were before
    ``parse.block``: ``tests/test_blocks.py`` has what ``block`` adds)."""
    parse = {k: v for k, v in table["parse"].items() if k != "block"} | {"ignore": ignore}
    return {**table, "parse": parse, "terminator": "\r\n"}


def sensor_of(table: dict[str, Any], **changes: Any) -> Config:
    """A configuration of the sensor ``table`` with ``changes`` to it (a ``parse`` change is
    merged into its parse table; None removes a key)."""
    table = {**table, "port": f"sim://{table['name']}"}
    for key, value in changes.items():
        if key == "parse":
            merged = {**table.get("parse", {}), **value}
            table[key] = {k: v for k, v in merged.items() if v is not None}
        else:
            table[key] = value
    return load_sensors(table)


def runtime(config: Config) -> SensorRuntime:
    clock = Clock()
    return SensorRuntime(config.sensors[0], clock=clock, wall_clock=clock)


def counts(rt: SensorRuntime) -> dict[str, Any]:
    """Frames, ignored frames, readings (into the first stage) and parse errors by reason."""
    snap = rt.snapshot()
    steps = list(snap.steps.values())
    return {
        "frames": snap.frames,
        "ignored": snap.ignored_frames,
        "readings": steps[0].records_in if steps else 0,
        "errors": {reason: n for reason, n in snap.parse_errors.items() if n},
    }


def latest(rt: SensorRuntime) -> dict[str, float]:
    """The latest reading of every channel that got one."""
    return {
        ch.name: ch.stats.reading.value for ch in rt.snapshot().channels if ch.stats is not None
    }


def per_block(config: Config, *blocks: bytes) -> list[dict[str, Any]]:
    """What each block (one chunk each) added to the counts of one sensor."""
    rt = runtime(config)
    seen = counts(rt)
    added: list[dict[str, Any]] = []
    for block in blocks:
        rt.feed(block)
        now = counts(rt)
        errors = {r: n - seen["errors"].get(r, 0) for r, n in now["errors"].items()}
        added.append(
            {k: now[k] - seen[k] for k in ("frames", "ignored", "readings")}
            | {"errors": {r: n for r, n in errors.items() if n}}
        )
        seen = now
    return added


def decode_lines(config: Config, data: bytes) -> list[tuple[bytes, Any]]:
    """Each line of ``data`` through the sensor's framer and decoder, and what it gave: its
    readings, ``[]`` (ignored) or the reason it was rejected."""
    sensor = config.sensors[0]
    spec = sensor.format_spec()
    codec = codec_for(spec.format)
    decode = codec.sensor_decoder(spec, time.time)
    framer = codec.framer(spec, sensor.terminator, sensor.max_frame_bytes)
    outcomes: list[tuple[bytes, Any]] = []
    for frame in framer.feed(data):
        try:
            outcomes.append((frame, decode(frame)))
        except ParseError as exc:
            outcomes.append((frame, exc.reason))
    return outcomes


# -- DSMR: a smart meter's P1 port ---------------------------------------------------------------

#: A meter read line by line as ``kv`` (each OBIS code a key), its header and CRC lines
#: ignored: how one was read before ``format = "dsmr"`` (tests/test_formats_dsmr.py).
KV_METER_TOML = """
[[sensors]]
name = "p1_meter"
port = "/dev/ttyUSB0"
format = "kv"
terminator = "\\r\\n"
serial = { baudrate = 115200 }
max_frame_bytes = 2100
channels = [
  { name = "imported_t1_kwh", field = "1-0:1.8.1" }, { name = "imported_t2_kwh", field = "1-0:1.8.2" },
  { name = "exported_t1_kwh", field = "1-0:2.8.1" }, { name = "exported_t2_kwh", field = "1-0:2.8.2" },
  { name = "power_imported_kw", field = "1-0:1.7.0" }, { name = "power_exported_kw", field = "1-0:2.7.0" },
  { name = "voltage_l1_v", field = "1-0:32.7.0" },
]
  [sensors.parse]
  kv_separator = "("
  pair_separator = ")"
  units = ["*kWh", "*kW", "*V", "*A"]
  ignore = ['^/', '^!([0-9A-F]{4})?$']
"""
P1: dict[str, Any] = tomllib.loads(KV_METER_TOML)["sensors"][0]
#: The meter as a user wrote it before there was parse.ignore.
P1_WITHOUT_IGNORE = {"parse": {"ignore": None}}


def test_a_dsmr5_telegram_gives_its_readings_and_no_parse_error() -> None:
    config = sensor_of(P1)
    rt = runtime(config)
    rt.feed(DSMR5)
    assert counts(rt) == {"frames": 39, "ignored": 32, "readings": 7, "errors": {}}
    assert latest(rt) == {
        "imported_t1_kwh": 4.426,
        "imported_t2_kwh": 2.399,
        "exported_t1_kwh": 2.444,
        "exported_t2_kwh": 0.0,
        "power_imported_kw": 0.244,
        "power_exported_kw": 0.0,
        "voltage_l1_v": 230.0,
    }
    header, empty_line_skipped = DSMR5.split(b"\r\n")[:2]
    assert empty_line_skipped == b""
    outcomes = dict(decode_lines(config, DSMR5))
    assert outcomes[header] == outcomes[b"!6EEE"] == []  # ignored


@pytest.mark.parametrize(
    ("name", "data", "lines", "readings"),
    [
        ("DSMR 5.0", DSMR5, 39, 7),
        ("DSMR 4.2, a power failure log", DSMR42, 35, 6),
        ("e-MUCS (Fluvius)", FLUVIUS, 26, 7),
        ("DSMR 2.2, no CRC, gas on a line of its own", DSMR22, 19, 6),
    ],
)
def test_every_telegram_is_read_without_a_parse_error_telegram_after_telegram(
    name: str, data: bytes, lines: int, readings: int
) -> None:
    """Header, CRC line and the codes no channel reads are ignored frames, every telegram."""
    added = per_block(sensor_of(P1), data, data, data)
    once = {"frames": lines, "ignored": lines - readings, "readings": readings, "errors": {}}
    assert added == [once] * 3, name


def test_without_ignore_every_telegram_counts_its_header_and_crc_line_as_syntax() -> None:
    """What the meter gave before ``parse.ignore``: two rejected lines in every
    telegram, some 5% of its frames, the ratio at which SensordFrameErrors fires."""
    config = sensor_of(P1, **P1_WITHOUT_IGNORE)
    added = per_block(config, DSMR5, FLUVIUS)
    assert added == [
        {"frames": 39, "ignored": 30, "readings": 7, "errors": {"syntax": 2}},
        {"frames": 26, "ignored": 17, "readings": 7, "errors": {"syntax": 2}},
    ]
    rejected = [line for line, outcome in decode_lines(config, DSMR5) if outcome == "syntax"]
    assert rejected == [b"/ISk5\\2MT382-1000", b"!6EEE"]


@pytest.mark.parametrize(
    ("damaged", "why"),
    [
        (b"1-0:1.7.0(00.2x4*kW)\r\n", "a digit spoilt"),
        (b"1-0:1.8.1(000004.4/ISk5\\2MT382-1000\r\n", "a telegram cut short, the next glued on"),
        (b"1-0:1.7.0(00.244*kW\x00\r\n", "a line cut by a BREAK"),
        (b"/ISk5\\2MT382-1000\r\n!6EE\r\n", "a CRC line cut short"),
        (b"1-0:32.7.0(0230.0*kV)\r\n", "another unit"),
    ],
)
def test_a_damaged_telegram_line_is_still_rejected(damaged: bytes, why: str) -> None:
    added = per_block(sensor_of(P1), DSMR5, damaged)
    assert added[0]["errors"] == {}
    assert sum(added[1]["errors"].values()) == 1, why
    assert added[1]["readings"] == 0, why


def test_the_meter_s_max_frame_bytes_holds_a_belgian_meter_s_13_months_of_peaks() -> None:
    """e-MUCS meters send the monthly peaks of the last 13 months on one line (0-0:98.1.0:
    a count, two OBIS codes, then per month its time, the peak's time and the peak), built
    here in that shape: 569 characters, over the default ``max_frame_bytes`` (512)."""
    months = "".join(
        f"({24 - (m < 6):02d}{(m + 6) % 12 + 1:02d}01000000S)(240618191500S)(0{m % 10}.841*kW)"
        for m in range(13)
    )
    line = f"0-0:98.1.0(13)(1-0:1.6.0)(1-0:1.6.0){months}".encode()
    assert len(line) == 569
    telegram = FLUVIUS.replace(b"0-0:96.14.0(0001)\r\n", b"0-0:96.14.0(0001)\r\n" + line + b"\r\n")
    assert per_block(sensor_of(P1), telegram)[0]["errors"] == {}
    assert per_block(sensor_of(P1, max_frame_bytes=512), telegram)[0]["errors"] == {"overlong": 1}


# -- VE.Direct: Victron battery monitors and solar chargers --------------------------------------

BATTERY = with_ignore(README["battery"], ["^Checksum\t", "^:[0-9A-F]+$"])
SOLAR = with_ignore(README["solar"], ["^Checksum\t", "^:[0-9A-F]+$"])
WITH_IGNORE = {"p1_meter": P1, "battery": BATTERY, "solar": SOLAR}


def test_a_bmv_reads_its_blocks_and_ignores_checksum_lines_whatever_their_byte() -> None:
    rt = runtime(sensor_of(BATTERY))
    rt.feed(BMV702 + b"\r\n")  # the CR LF that starts the next block ends the last line
    # 4 blocks: 12 + 14 lines of their own, each with its checksum line; 5 readings a pair
    assert counts(rt) == {"frames": 56, "ignored": 46, "readings": 10, "errors": {}}
    assert latest(rt) == pytest.approx(
        {
            "battery_voltage_v": 12.065,
            "battery_current_a": -7.626,
            "state_of_charge_percent": 83.9,
            "time_to_go_seconds": 942 * 60,
            "relay_closed": 0.0,
        }
    )


@pytest.mark.parametrize("terminator", ["\r\n", "\n"], ids=["crlf", "lf"])
@pytest.mark.parametrize(
    ("table", "data", "lines", "readings", "not_available"),
    [
        (BATTERY, BMV702, 56, 10, 0),
        (BATTERY, BMV_CR_LF, 26, 8, 2),
        (SOLAR, SMARTSOLAR, 38, 8, 0),
        (SOLAR, BLUESOLAR, 144, 32, 0),
    ],
    ids=["bmv702", "bmv-checksums-cr-lf", "smartsolar", "bluesolar-hex-messages"],
)
def test_every_ve_direct_block_is_read_without_a_parse_error(
    terminator: str,
    table: dict[str, Any],
    data: bytes,
    *,
    lines: int,
    readings: int,
    not_available: int,
) -> None:
    """Whatever the checksum byte (not UTF-8, CR, LF), a HEX message after it or not, and with
    the terminator CR LF or the default LF: no parse error, the block's readings (a full
    battery's ``TTG`` of -1, which the README's battery names ``not_available``, counted as
    ``invalid``: the device marks it as no value)."""
    rt = runtime(sensor_of(table, terminator=terminator))
    rt.feed(data + b"\r\n")
    assert counts(rt) == {
        "frames": lines,
        "ignored": lines - readings - not_available,
        "readings": readings,
        "errors": {"invalid": not_available} if not_available else {},
    }


def test_without_ignore_a_checksum_byte_that_is_not_utf8_is_an_encoding_reject() -> None:
    """What the charger gave before ``parse.ignore``: every block of these chargers
    has a checksum byte of 0x80 or more, so one `encoding` reject in each block of 18 lines
    and its checksum line, over 5% of its frames (SensordFrameErrors fires); a HEX message
    after a checksum byte is part of its line."""
    config = sensor_of(SOLAR, parse={"ignore": None})
    rt = runtime(config)
    rt.feed(SMARTSOLAR + BLUESOLAR + b"\r\n")
    assert counts(rt) == {"frames": 182, "ignored": 132, "readings": 40, "errors": {"encoding": 10}}
    outcomes = decode_lines(config, BLUESOLAR)
    rejected = [line for line, outcome in outcomes if isinstance(outcome, str)]
    assert rejected[0] == b"Checksum\t\xaa" + HEX_0172  # the LF ending the HEX message too


def test_without_ignore_a_hex_message_after_a_checksum_byte_lf_is_a_syntax_reject() -> None:
    hex_after_lf = ve_block(BMV_FULL.format(I=1148, P=15), 0x0A) + HEX_0121 + b"\r\n"
    outcomes = decode_lines(
        sensor_of(BATTERY, parse={"ignore": None}, terminator="\n"), hex_after_lf
    )
    assert (HEX_0121.rstrip(b"\n"), "syntax") in outcomes
    outcomes = decode_lines(sensor_of(BATTERY, terminator="\n"), hex_after_lf)
    assert (HEX_0121.rstrip(b"\n"), []) in outcomes


@pytest.mark.parametrize(
    ("damaged", "reason"),
    [
        (b"\r\nV\t12x00", "syntax"),
        (b"\r\nI\t-76\x0026", "encoding"),
        (b"\r\nSOC\t83\xb99", "encoding"),
    ],
)
def test_a_damaged_ve_direct_line_is_still_rejected(damaged: bytes, reason: str) -> None:
    added = per_block(sensor_of(BATTERY), BMV702, damaged + b"\r\n")
    assert added[0]["errors"] == {}
    assert added[1]["errors"] == {reason: 1}


@settings(max_examples=300, deadline=None)
@given(
    line=st.one_of(
        st.binary(max_size=80),
        st.sampled_from([b"Checksum\t", b"/", b"!", b":A", b"V\t", b"1-0:1.7.0("]).flatmap(
            lambda head: st.binary(max_size=40).map(lambda tail: head + tail)
        ),
    ),
    name=st.sampled_from(["p1_meter", "battery", "solar"]),
)
def test_a_sensor_with_ignore_reads_ignores_or_rejects_any_line(line: bytes, name: str) -> None:
    """Whatever the bytes, a sensor's decoder with ``parse.ignore`` gives readings of its
    channels, ``[]`` or a ParseError, never another exception."""
    spec = sensor_of(WITH_IGNORE[name]).sensors[0].format_spec()
    decode = codec_for(spec.format).sensor_decoder(spec, time.time)
    try:
        outcome: list[tuple[str, float]] | str = decode(line)
    except ParseError as exc:
        outcome = exc.reason
    if isinstance(outcome, str):
        assert outcome in PARSE_ERROR_REASONS
    else:
        channels = {channel for channel, _ in spec.fields}
        assert all(channel in channels for channel, _ in outcome)


# -- parse.ignore, the key ------------------------------------------------------------------------


def test_a_sensor_without_ignore_gets_the_protocol_s_decoder_itself() -> None:
    """No regex is tried for a sensor without ``parse.ignore``: its decoder is the protocol's
    own, not a wrapper."""
    from sensord.formats.base import ignoring  # noqa: PLC0415  (the unit under test alone)

    spec = sensor_of(BATTERY, parse={"ignore": None}).sensors[0].format_spec()
    decode = codec_for("kv").decoder(spec)
    assert ignoring(spec, decode) is decode
    with_ignore = sensor_of(BATTERY).sensors[0].format_spec()
    assert ignoring(with_ignore, decode) is not decode


def test_a_plain_value_sensor_with_ignore_ignores_a_line_that_is_a_number() -> None:
    """A value sensor without a pattern decodes a chunk's numbers in one pass; with
    ``parse.ignore`` each line goes through the decoder, so a line that reads as a number
    and that ``ignore`` names is ignored, not read."""
    table = {"name": "t", "port": "sim://t", "format": "value", "channels": [{"name": "v"}]}
    rt = runtime(load_sensors(table))
    rt.feed(b"1\n0\n2\n")
    assert counts(rt) == {"frames": 3, "ignored": 0, "readings": 3, "errors": {}}
    rt = runtime(load_sensors({**table, "parse": {"ignore": ["^0$"]}}))
    rt.feed(b"1\n0\n2\n")
    assert counts(rt) == {"frames": 3, "ignored": 1, "readings": 2, "errors": {}}


@pytest.mark.parametrize(
    ("parse", "key", "words"),
    [
        (
            {"ignore": ["^/", "^!([0-9A-F]{4}$"]},
            "parse.ignore[1]",
            "not a valid regular expression",
        ),
        ({"ignore": ["[[a]"]}, "parse.ignore[0]", "ambiguous regular expression"),
        ({"ignore": ["^/|"]}, "parse.ignore[0]", "matches an empty text"),
        ({"ignore": [".*"]}, "parse.ignore[0]", "matches an empty text"),
        ({"ignore": ["^/", "^/"]}, "parse.ignore", "twice"),
        ({"ignore": [""]}, "parse.ignore", "non-empty string"),
        ({"ignore": "^/"}, "parse.ignore", "array of strings"),
        (
            {"pattern": r"T=(\S+)", "example": "T=21.5", "ignore": ["^T="]},
            "parse.ignore[0]",
            "parse.example",
        ),
        (
            # a group number with a sign, which PCRE reads as relative: Python 3.11 reads "+1"
            # as group 1 (with a DeprecationWarning), later versions refuse it
            {"ignore": [r"^(\*)?(?(+1)OK)$"]},
            "parse.ignore[0]",
            "bad character in group name '+1'",
        ),
    ],
)
def test_an_ignore_that_cannot_work_is_refused_naming_it(
    parse: dict[str, Any], key: str, words: str
) -> None:
    table: dict[str, Any] = {"name": "s", "port": "sim://s", "format": "value"}
    table |= {"channels": [{"name": "v"}], "parse": parse}
    errors: list[str] = []
    assert Config.load({"sensors": [table]}, "", errors) is None
    assert any(p.startswith(f"sensors[0].{key}") and words in p for p in errors), errors


@pytest.mark.parametrize(
    ("parse", "problem"),
    [
        (
            {"ignore": ["^/|"]},
            "parse.ignore[0]: '^/|' matches an empty text, so it may be found in any line (a "
            "stray '|', a '.*' alone): make it match at least one character",
        ),
        (
            {"ignore": ["[[a]"]},
            "parse.ignore[0]: ambiguous regular expression (Possible nested set at position 1): "
            "later Python versions read it differently; escape a '[', '-', '&', '~' or '|' "
            "meant literally inside a set, as '\\['",
        ),
        (
            {"pattern": r"T=(\S+)", "example": "T=21.5", "ignore": ["^T="]},
            "parse.ignore[0]: '^T=' is found in parse.example 'T=21.5': the lines the pattern "
            "reads would be ignored",
        ),
    ],
)
def test_an_ignore_that_cannot_work_is_told_what_to_change(
    parse: dict[str, Any], problem: str
) -> None:
    table: dict[str, Any] = {"name": "s", "port": "sim://s", "format": "value"}
    table |= {"channels": [{"name": "v"}], "parse": parse}
    errors: list[str] = []
    assert Config.load({"sensors": [table]}, "", errors) is None
    assert errors == [f"sensors[0].{problem}"]


@pytest.mark.parametrize(
    "table",
    [
        {"format": "nmea", "channels": [{"name": "alt", "field": "GGA.altitude"}]},
        {"preset": "sds011"},
    ],
    ids=["nmea", "frames"],
)
def test_ignore_is_refused_by_formats_that_do_not_take_it(table: dict[str, Any]) -> None:
    sensor = {"name": "s", "port": "sim://s", **table, "parse": {"ignore": ["^x"]}}
    errors: list[str] = []
    assert Config.load({"sensors": [sensor]}, "", errors) is None
    assert any(
        p.startswith("sensors[0].parse.ignore") and "is not used by format" in p for p in errors
    ), errors


def test_sensord_check_names_the_ignore_regex_that_does_not_compile(tmp_path: Path) -> None:
    path = tmp_path / "meter.toml"
    block = KV_METER_TOML
    path.write_text(block)
    assert sensord_cli("check", "--no-devices", str(path)).returncode == 0
    path.write_text(block.replace("ignore = ['^/', ", "ignore = ['^/(', "))
    result = sensord_cli("check", "--no-devices", str(path))
    assert result.returncode == 1
    assert (
        f"{path}: sensors[0].parse.ignore[0] (sensor 'p1_meter'): not a valid regular "
        "expression: missing ), unterminated subpattern at position 2"
    ) in result.stderr, result.stderr


def hint_after_stale_after(table: dict[str, Any], data: bytes, **parse: Any) -> str | None:
    """The ``/status`` hint of the sensor ``table`` with ``parse`` changes to it (see
    :func:`sensor_of`) once ``data`` came, over and over, for longer than its
    ``stale_after``, on a pty opened as the daemon opens it."""
    return hint_after_repeats(
        lambda port: sensor_of(table, parse=parse, port=port).sensors[0], data
    )


def hint_after_repeats(sensor_on: Callable[[str], SensorConfig], data: bytes) -> str | None:
    """The ``/status`` hint of the sensor ``sensor_on(port)`` reading a pty that got ``data``
    over and over, for longer than the sensor's ``stale_after``."""
    with PtyPair() as pair:
        sensor = sensor_on(pair.path)
        clock = Clock()
        rt = SensorRuntime(sensor, clock=clock, wall_clock=clock)
        assert rt.try_open()
        try:
            for _ in range(8):
                deliver(rt, pair, data)
                rt.tick(clock.now)
                clock.now += sensor.stale_after / 4
            return rt.snapshot().hint
        finally:
            rt.close_source()


def test_every_line_rejected_but_the_ignored_ones_is_still_pointed_at() -> None:
    """A VE.Direct monitor configured without ``kv_separator = "\\t"``: every line of its
    blocks is rejected, but its checksum lines, which ``ignore`` names, are not. They are no
    reading either: the sensor is still told to read nothing because every frame is rejected,
    as it was before ``ignore`` (when the checksum lines were rejected too)."""
    hint = hint_after_stale_after(BATTERY, BMV702 + b"\r\n", kv_separator=None)
    assert hint is not None
    assert hint.startswith("frames come, but every one is rejected (syntax "), hint
    assert re.search(r" s\) but the \d+ that parse.ignore names, so no reading: ", hint), hint


def test_every_line_ignored_by_parse_ignore_is_pointed_at() -> None:
    """An ``ignore`` that names every line the device sends (here one that names the lines of
    every label that begins with a capital letter): frames come, the sensor is up, and no
    reading ever does; ``/status`` says why, as for frames that are all rejected."""
    with capture_logs() as logs:
        hint = hint_after_stale_after(BATTERY, BMV702 + b"\r\n", ignore=["^Checksum\t", "^[A-Z]"])
    [event] = [e for e in logs if e["event"] == "no reading: every frame ignored by parse.ignore"]
    assert hint is not None
    # the log told the run as it was then; the hint keeps its counts up to date since
    counts = re.compile(r"\((\d+) in ([\d.]+) s\)")
    told, now = counts.search(event["hint"]), counts.search(hint)
    assert told is not None
    assert now is not None
    assert counts.sub("", event["hint"]) == counts.sub("", hint)
    assert int(told[1]) < int(now[1])
    assert float(told[2]) < float(now[2])
    assert hint.startswith("frames come, but parse.ignore names every one ("), hint
    assert hint.endswith(
        "so no reading: check parse.ignore against the lines the device sends "
        "(sensord capture shows them)"
    ), hint
    # the sensor with its own ignore on the same blocks: readings, no hint
    assert hint_after_stale_after(BATTERY, BMV702 + b"\r\n") is None
