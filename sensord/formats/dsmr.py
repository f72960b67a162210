"""``format = "dsmr"``: a smart electricity meter's P1 port (DSMR 2.2 to 5, Belgium's e-MUCS,
Luxembourg's and the Nordic meters that follow it unencrypted).

The meter sends a telegram every second (every 10 s before DSMR 5): ``/`` and a header line,
a line per OBIS code, ``!`` and the telegram's CRC. The framer is
:class:`~sensord.formats.blocks.BlockFramer` of kind ``dsmr``: a telegram's lines are read only
when its CRC holds (see :mod:`sensord.formats.blocks`). A meter that encrypts its telegrams (a
Luxembourg Smarty: each a DLMS general-glo-ciphering frame) is not read: the framer skips its
frames whole (but a telegram whose check holds that begins inside one, whose header was line
noise), and its hint names the meter's system title and says to decrypt them before sensord.

A channel's ``field`` is an OBIS code (``1-0:1.8.1``, imported energy at tariff 1); its value
is the number in the last parenthesised group of that code's line, in DSMR's unit of its
quantity (``1-0:1.8.1(000004.426*kWh)`` is 4.426; ``0-0:96.14.0(0002)`` is 2): a meter that
writes energy and power in Wh and W (varh, var, VAh, VA), as Austria's Sagemcom T210-D-R does
(``1-0:1.8.0(006545766*Wh)``), has them read in kWh and kW (kvarh, kvar, kVAh, kVA), 6545.766,
as the DSMR meters beside it are. A gas or water meter's line, whose reading comes after the
time it was taken (``0-1:24.2.1(170102161005W)(00000.107*m3)``), gives its reading; one whose
time is no time (``632525252525S``, as a Sagemcom XS210 writes it with no M-Bus device
answering) holds no reading, and is ``invalid``; so does one dated 1 January 2000 whose value
is 0, as a Landis+Gyr E350 whose clock was never set writes it
(``0-1:24.2.1(000101010000W)(0000000000)``: nothing was read, and a 0 would read as a counter
reset). A DSMR 2.2 or 3 meter sends
its gas reading on the line after its code's, which ends in the unit
(``0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)``, then ``(00001.001)``): that line is
read as the code's value, and no other is. When a line of a code comes in its place (the next
code's, ``0-1:24.4.0(1)``, or the next telegram's first) its value's line was lost: that line
is read as any other, and the code's reading is lost, ``truncated`` when a channel reads it
(the other line's readings kept); a line that is neither, such as a value line damaged
(``(00001.001``), is ``syntax``. A line of one group of letters is no gas line but a value
of letters, and the line after it is read as it is: a Hungarian meter's breaker state,
``0-0:96.50.68(ON)``, reads as DSMR's own breaker state ``0-0:96.3.10`` does, ON (closed) 1 and
OFF (open) 0 (see :data:`_ON_OFF_CODES`; any other value of it is ``syntax``), and a value of
letters of any other code is ``syntax`` when a channel reads it. Lines of codes no channel reads
are ignored frames, whatever their
value holds: a Hungarian meter's unwritten text message, 1024 bytes 0xFF, which is no text in
the sensor's ``encoding``, and an Iskra AM550's ``1-0:0.2.0((ER11))``, whose parentheses
nest, are; a line a channel
reads whose value is no number is rejected as ``syntax``, and so is a line that is no OBIS
line. ``check`` refuses a field of the telegram's time stamp (``0-0:1.0.0(170102192002W)``,
the meter's clock: a date in its local time, no number; the time of a reading is sensord's,
as its telegram came). A code whose value is text is read by no channel, and ``check``
refuses a field that names one: an id (``0-0:96.1.1(4530303334...)``, a meter's equipment
identifier in the hex digits of its text, which would read as a number of 34 digits; an
M-Bus device's, a Swiss meter's ``0-0:0.0.0``), the COSEM logical device name, a text
message, a firmware's version or signature (a Lithuanian ESO meter's ``1-0:0.2.0(02.21)``,
which would read as 2.21, and ``1-0:0.2.8(1EA43311)``; DSMR's own version,
``1-3:0.2.8(50)``, is a number). A
status word (C.D 96.5, an EasyMeter's ``1-0:96.5.5*255(80)``, one byte; an eBZ DD3's
``1-0:96.5.0*255(001C0104)``, four) is written in hex digits, as the meter's manual has it:
it is read as the number they write, 128 and 1835268, and one that is no hex digits is
``syntax``. So is an eBZ DD3's time of operation (C.D 96.8, ``0-0:96.8.0*255(0011A589)``,
1156489 s), 8 hex digits and no unit, whether a letter is among them or not
(``00104443``): the value is hex by its code and its form, not by its letters, which come
and go as the count runs (reading a count without one as decimal would make it jump). A
meter that writes that code in decimal writes its unit (a Kamstrup 382C's
``96.8.0(0119899*h)``), and a value with a unit is the decimal number it writes, in that
unit. No key decides it, nor the header line that names the maker (``/EBZ5DD3...``, not
passed to the decoder): the value's form tells it. A power failure
log of no entry, ``(0)(0-0:96.7.19)`` (a meter that has had no long power failure), holds no
reading: ``invalid``, no error; so does
a list or log (a code whose C group is 98, a list of billing values, or 99, a profile or
log) whose value is empty, as an Iskra AM550 writes its power failure log of no entry,
``1-0:99.97.0()``.
A line of entries, each a time stamp and the number after it, gives the number of its latest
entry, in whichever order the meter lists them: a power failure log
(``1-0:99.97.0(2)(0-0:96.7.19)(101208152415W)(0000000240*s)(101208151004W)(0000000301*s)``,
newest first as DSMR has it, oldest first on a Sagemcom XT211) the duration of the most recent
failure, 240 s (of entries of one time, as a meter whose clock was not set writes them, the
first, newest in DSMR's order); a Belgian meter's peaks of 13 months (``0-0:98.1.0``: per
month its start, its peak's time and its peak) the latest month's peak, none (``invalid``)
when the latest month had none, its peak's time none, as a meter whose consumer used nothing
that month writes it (``(231001000000S)(632525252525W)(00.000*kW)``). An entry whose time
is none does not count otherwise, nor does one whose duration is 2^31 - 1 s, the "not set" of a
Kaifa's log (``(000101000001W)(2147483647*s)``, a failure of 68 years), and a line whose
entries all are such holds no reading (``invalid``); a failure that a meter whose clock was
never set timed (``(000101010000W)(0000000253*s)``) counts, its duration measured. A line of one
time stamp and several values, a Sanxing SX631's or a Hungarian meter's previous month
(``0-0:98.1.0(210301000000W)(000249.070*kWh)(000100.816*kWh)...``, 19 values), gives the one
after the time stamp, the energy imported by the month's end. A line of several values and
no time stamp gives its last.

Some meters write each code with its F group, ``*255`` (an EasyMeter Q3D:
``1-0:1.8.0*255(00032549.5061662*kWh)``, a Logarex, an eBZ DD3): by IEC 62056-61 an F of 255
is "not used", the code's current value, and the line is read as the code without it (a
channel of ``1-0:1.8.0`` gets 32549.5061662). Another F (0 to 99: the value at the end of
that billing period, as IEC 62056-21 meters write their stored readings, ``1.8.0*03``) is
another quantity than the current one: its line is read only by a channel whose field names
that F (``1-0:1.8.0*3``; leading zeros do not count, ``*03`` is ``*3``). A field may name the
F group too: ``*255`` is the code without it (``sensord check`` takes both; they are one
code), an F of more than 255 is refused. Only the ``*`` between the code and its first ``(``
is an F group; the one inside the parentheses separates a value from its unit.

A meter of IEC 62056-21 writes its codes short in its data readout, as IEC 62056-61's
reduced codes have them: without A-B (and E), C groups 96 to 99 as the letters C, F, L and P
(a Landis+Gyr E350's ``1.8.1(042951.721*kWh)``, ``32.7(241*V)``, ``C.7.0(0008)``,
``F.F(00)``; its data block's first line begins with STX, which is no byte of the code, and
its ETX and block check after the ``!`` line are checked by the framer). A
field may name a code so, as the meter writes it. A short code C.D.E of an electricity
quantity (C 1 to 92) is the electricity meter's own, ``1-0:C.D.E``: a field ``1-0:1.8.1``
reads the line ``1.8.1``, and a field ``1.8.1`` a DSMR meter's ``1-0:1.8.1`` (with its F
group as any code's). Any other short code (C 0, 93 to 99: general purpose, consortium and
country specific, service entries, errors, lists and profiles, codes an abstract object and
an electricity one share; and C.D without its E, ``32.7``) names no whole code: it is read
only as written. The text and status codes are those of the whole codes (``0.0`` and
``C.1.0``, ids, ``0.2.0``, a firmware's version, are refused by ``check``; ``C.5.0`` is a
status word in hex), and ``check`` refuses the meter's local time and date (``0.9.1``,
``0.9.2``) as it refuses the telegram's time stamp, and a heat meter's dates (a Landis+Gyr
UH50's set days and the dates it logs, ``6.36``, and its clock, ``9.36``: :data:`_DATE_CODES`).
``sensord check`` tells the code each channel reads, and the short one when a meter may write
it so (``1-0:1.8.1 or 1.8.1``). The
Kamstrup 162 and 382's DSMR 2.2 telegrams write the whole codes (``/KMP5 KA6U...``,
``1-0:1.8.1(07041.882*kWh)``). A short code in a telegram read unchecked whose other lines
have their A-B groups is a line that lost its start on the line (``1-0:21.7.0*255(...)``
that lost ``1-0:2`` names ``1.7.0``): the framer rejects it as ``syntax`` and passes the
telegram's other lines (see :mod:`sensord.formats.blocks`).

A data line may hold several data sets (IEC 62056-21, 6.5: a data line is one or more data
sets; a Landis+Gyr UH50 heat meter writes ``6.8(0328.871*GJ)6.26(03329.67*m3)9.21(66153690)``):
the framer gives each as a frame of its own (``data_sets``), so that each is read under its own
code and a damaged one (a value that is no number, ``syntax``; two run into one when the ``)``
between them was lost, one frame that is no OBIS line) is counted and dropped while the others
of its line are read. A data set whose address is letters alone (the UH50's error register
``F(0)``) is no code, which no channel names: it is ignored. A data set's value may hold
several values, ``&`` between them, each with its own unit (the UH50's maximum flow and return
temperatures, ``9.4(098.5*C&096.1*C)``; its ``9.6(000&66153690&0&000&66153690&0)``): a field
of the code reads the first, and a field of the code, ``&`` and a value's place from 1 reads
that one (``9.4&2``, 96.1; ``9.4&1`` is ``9.4``). A value that is no number, or a place the
value does not hold, is ``syntax`` for its channels, the other values of the data set read.

A value written empty, ``()``, of any code a channel reads (the UH50's tariff registers it does
not keep, ``6.8.1()6.8.2()``, its ``9.18()``), or an empty place among those ``&`` separates
(its ``9.2(&&)``), is a value the meter does not have, no damage: its channels are left without
a current value, ``invalid``, as a log of no entry is, and the data set's other values read. So
is a value of blanks (a Pafal 20EC3gr's ``C.2.1(000000000000)`` and 48 spaces): a field it pads
with nothing in it.

The encoder (the simulator) writes a line per code as its first field writes it, ``code(value)``
(the values of the fields that name places of one code's value in one data set, ``&`` between
them, 0 for a place no field names)
(``1-0:1.8.0*255(value)`` for a field with its F group, as an EasyMeter does; a status word's
value as its hex digits, two at least; a Hungarian breaker state as ON or OFF; a time of
operation's as 8 hex digits, as an eBZ DD3 writes it), in a telegram the simulator wraps with
its header and CRC.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping

from sensord.errors import NotMeasuredError, ParseError
from sensord.formats.base import DSMR_CRCS, Codec, Decoder, Encoder, FormatSpec
from sensord.formats.blocks import BlockFramer
from sensord.formats.text import (
    check_common,
    crc_problem,
    decode_text,
    unique_fields,
)

__all__ = ["CODEC", "OBIS_CODE", "codes_read"]

#: An OBIS code as a meter writes it: medium-channel:quantity.kind.tariff.
OBIS_CODE = re.compile(r"\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3}")
#: A short code, as IEC 62056-21 meters write it in their data readouts and some older meters
#: in their telegrams (IEC 62056-61's reduced codes): groups C.D.E or C.D without A-B, C and D
#: a number or one of the letters C, F, L and P (96, 97, 98 and 99: service entries, error
#: messages, lists and profiles): ``1.8.1``, ``32.7``, ``C.7.0``, ``F.F``.
_SHORT_CODE = r"(?:\d{1,3}|[CFLP])\.(?:\d{1,3}|[CFLP])(?:\.\d{1,3})?"
#: The F group some meters write after the code (``*255``).
_F_GROUP = r"(?:\*(\d{1,3}))?"
#: The place of one of the values a data set's value holds, ``&`` between them (a Landis+Gyr
#: UH50's flow and return temperatures, ``9.4(098.5*C&096.1*C)``), after a field's code: ``&``
#: and the value's place from 1 (``9.4&2``, the return temperature).
_PART = r"(?:&(\d{1,3}))?"
#: A channel's field: an OBIS code or a short code, maybe with its F group and the place of a
#: value among those ``&`` separates.
_FIELD = re.compile(rf"({OBIS_CODE.pattern}|{_SHORT_CODE}){_F_GROUP}{_PART}")
#: The most values a data set's value holds that a field may name (a UH50's ``9.1``, its
#: settings and firmware, holds 14 to 16).
_MOST_PARTS = 32
_LINE = re.compile(rf"({OBIS_CODE.pattern}|{_SHORT_CODE}){_F_GROUP}((?:\([^()]*\))+)")
#: The code (and F group) that begin a line, with its first ``(``, in the line's bytes.
_LINE_HEAD = re.compile(
    rb"(?:\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3}|" + _SHORT_CODE.encode() + rb")(?:\*\d{1,3})?\("
)
#: A data set whose address is letters alone, no OBIS code nor a short one (a Landis+Gyr UH50's
#: error register ``F(0)``, beside its ``9.20(66153690)`` on a line): no channel names it
#: (``check`` takes codes only), and it is ignored as a code no channel reads is.
_LETTERS_ADDRESS = re.compile(rb"\x02?[A-Za-z]{1,16}\(")
#: The start of IEC 62056-21's data block, STX, before a data readout's first line
#: (``\x02F.F(00)``).
_STX = b"\x02"
#: The highest C group of a short code that is an electricity quantity by IEC 62056-61's
#: value group C for electricity (1 to 92: powers, energies, currents, voltages, angles,
#: factors, losses); 0 (general purpose), 93 and 94 (consortium and country specific) and
#: 96 to 99 name no medium of their own (their abstract and electricity codes share them).
_ELECTRICITY_C = 92
#: The A-B groups a short code of an electricity quantity is read with: an electricity
#: meter's own (A 1, electricity; B 0, its only channel).
_ELECTRICITY = "1-0:"
#: The numbers of the letters a short code's C or D group may be (IEC 62056-61).
_LETTER_GROUPS = {"C": "96", "F": "97", "L": "98", "P": "99"}
#: The F group of a code's current value (IEC 62056-61: "not used"), which is left out.
_CURRENT = 255
_CONTINUED = re.compile(r"(?:\([^()]*\))+")
#: A value as DSMR writes it: fixed-point, maybe signed.
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
#: A group that is a unit alone (``(m3)``): the last of a DSMR 2.2 or 3 gas line's groups,
#: whose value comes next. A line of that group alone holds a value of letters (a Hungarian
#: meter's breaker state, ``0-0:96.50.68(ON)``), no number.
_UNIT_ALONE = re.compile(r"[A-Za-z][A-Za-z0-9]*")
#: Units some meters write in place of DSMR's, a thousandth of them.
_THOUSANDS = frozenset({"Wh", "W", "varh", "var", "VAh", "VA"})
#: Why a value written empty, ``()`` (or a place of a value that ``&`` separates, a UH50's
#: ``9.2(&&)``), holds no reading: the meter has no value of that code to write (a UH50's
#: tariff registers it does not keep, ``6.8.1()``, and its ``9.18()``, beside the sound
#: data sets of their lines in a readout whose block check holds): no number was damaged, and
#: the channel is left without a current value (``invalid``), the telegram's others read.
_EMPTY = "its value is empty: the meter has none to write"
#: A code of a list or a log (its C group 98, billing values, or 99, a profile or log; L or P
#: in a short code): an empty value is a list of no entry.
_LIST_CODE = re.compile(r"(?:\d{1,3}-\d{1,3}:9[89]|[LP])\.")
#: The codes whose value is text, never a number, by their value groups C and D (IEC 62056-61;
#: the DLMS Blue Book's list of objects names them): 0.0, an electricity id (an EasyMeter's
#: ``1-0:0.0.0``, a Swiss meter's ``0-0:0.0.0``); 96.1, a device id (DSMR's equipment
#: identifier ``0-0:96.1.1``, an M-Bus device's ``0-1:96.1.0``, a Belgian e-MUCS meter's gas
#: meter's ``0-1:96.1.1``, a Swiss meter's public key ``0-0:96.1.2``); 42.0, the COSEM
#: logical device name (a Hungarian meter's ``0-0:42.0.0``);
#: 96.13, DSMR's text message and its codes; 0.2, a firmware's version, parameter or tariff
#: program id, or signature (a Lithuanian ESO meter's ``1-0:0.2.0(02.21)``, which reads as
#: the number 2.21 but is the text "02.21", and ``1-0:0.2.8(1EA43311)``; an EasyMeter's
#: ``1-0:0.2.0*255(ver.03,432F,20170504)``). Their digits, hex digits of ASCII as often as
#: not (``4530303334...``, "E0034..."), would read as a number.
_TEXT_CODES = {
    "0.0": "an electricity id (a meter's number)",
    "96.1": "a device id (an equipment identifier, a serial number in hex digits)",
    "42.0": "the COSEM logical device name",
    "96.13": "a text message",
    "0.2": "a firmware's version, id or signature",
}
#: The codes among those that are numbers: an e-MUCS meter's version, ``0-0:96.1.4(50217)``
#: (5.02.17), read as DSMR's own version ``1-3:0.2.8(50)`` is (by its groups C.D.E, or the
#: whole code).
_NUMBER_CODES = frozenset({"96.1.4", "1-3:0.2.8"})
#: The codes whose value is a status word in hex digits (C.D 96.5, a meter's internal
#: operating status): an EasyMeter Q3D's ``1-0:96.5.5*255(80)`` is the byte 0x80, 128 (the
#: Voltcraft VSM-102's manual, of the same telegram: "defined as one byte and transmitted in
#: hexadecimal presentation"; ndokter/dsmr_parser's obis_references.py: "Device state
#: (hexadecimal)"; an EMH or Hager eHZ writes ``(82)``); an eBZ DD3's ``1-0:96.5.0*255(001C0104)``
#: is four bytes (Tasmota's smart meter docs: "Statuswort, 4 Byte ... HEX string";
#: jedie/pysmartmeter's test data of a ``/EBZ5DD3BZ06ETA_107``).
_STATUS_WORD = re.compile(r"(?:\d{1,3}-\d{1,3}:96|C)\.5\.")
#: The codes whose value is a meter's time of operation (C.D 96.8): an eBZ DD3 writes it in
#: seconds as 8 hex digits without a unit, ``0-0:96.8.0*255(0011A589)`` (its users' captures
#: and readers: "Time of operation (hex)", "sensor lifetime in secs, 0x"), ``(00104443)``
#: too, which holds no letter; a meter that writes it in decimal writes its unit, a Kamstrup
#: 382C's ``96.8.0(0119899*h)``. A value without a unit is read as hex digits, one with a
#: unit as the decimal number it writes (see :func:`decoder`).
_OPERATING_TIME = re.compile(r"(?:\d{1,3}-\d{1,3}:96|C)\.8\.")
#: A status word's or a time of operation's value: hex digits.
_HEX = re.compile(r"[0-9A-Fa-f]{1,16}")
#: The codes whose value is a state written ON or OFF, by their groups C.D.E: a Hungarian
#: meter's breaker state, ``0-0:96.50.68(ON)`` (the AUX's telegram in sensord's tests; a
#: Hungarian user's Tasmota console log, pastebin 4B0Ni1xA, writes it so too; P1 readers in
#: Rust and C# type it as on/off, a state of two values, and take no other spelling, ``on``
#: an error). It reads as DSMR's own breaker state ``0-0:96.3.10`` does, which a DSMR or e-MUCS
#: meter writes as a number (``(1)``, ndokter/dsmr_parser's ACTUAL_SWITCH_POSITION '1'):
#: ON, the breaker closed, 1; OFF, open, 0.
_ON_OFF_CODES = frozenset({"96.50.68"})
#: What each state of :data:`_ON_OFF_CODES` reads as.
_ON_OFF = {"ON": 1.0, "OFF": 0.0}
#: The codes whose value is a date, by their value groups C.D, and what each is: a
#: Landis+Gyr UH50 heat meter's set day and the dates it logs (``6.36(01-01&00:00)``, its
#: yearly set day, and ``6.36*02(01&00:00)``, its monthly one, as vpathuis/ultraheat, the
#: library of Home Assistant's landisgyr_heat_meter integration, reads them, as text;
#: ``6.36.1(2018-03-03)``), and its clock (``9.36(2022-05-19&19:41:17)``, the meter's date and
#: time, which that library reads as a datetime). A date is no number a channel reads.
_DATE_CODES = {
    "6.36": "a heat meter's set day or a date it logs (a Landis+Gyr UH50's 6.36(01-01&00:00), "
    "6.36.1(2018-03-03)): a date, no number a channel reads",
    "9.36": "a heat meter's date and time (a Landis+Gyr UH50's 9.36(2022-05-19&19:41:17)): its "
    "clock, no number a channel reads; the time of a reading is sensord's as its readout "
    "came: sensord_reading_timestamp_seconds, and the channel's timestamp in /status",
}
#: A DSMR time stamp (YYMMDDhhmmss and S or W for summer or winter time), and its parts.
_TIME_STAMP = re.compile(r"(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)[SW]")
#: The code of the telegram's own time stamp, the meter's clock (A 0, C.D 1.0: DSMR's
#: ``0-0:1.0.0(170102192002W)``, "Date-time stamp of the P1 message"): a date, no number.
_CLOCK_CODE = re.compile(r"0-\d{1,3}:1\.0\.\d{1,3}")


def _text_code(code: str) -> str | None:
    """What the value of ``code`` (its groups A-B:C.D.E, or a short code's C.D.E or C.D) is
    when it is text (an id, a name, a message, a firmware's version), or None when it is a
    number."""
    groups = code.rpartition(":")[2]
    if groups in _NUMBER_CODES or code in _NUMBER_CODES:
        return None
    quantity = ".".join(_LETTER_GROUPS.get(group, group) for group in groups.split(".")[:2])
    return _TEXT_CODES.get(quantity)


def _date_code(code: str) -> str | None:
    """What the value of ``code`` is when it is a date (see :data:`_DATE_CODES`), or None."""
    groups = code.rpartition(":")[2].split(".")
    return _DATE_CODES.get(".".join(groups[:2]))


def _on_off(code: str) -> bool:
    """Whether the value of ``code`` is a state written ON or OFF (:data:`_ON_OFF_CODES`)."""
    return code.rpartition(":")[2] in _ON_OFF_CODES


def _local_time(code: str) -> bool:
    """Whether ``code`` is a meter's local time or date (C.D 0.9: ``0.9.1(155420)``, hhmmss,
    and ``0.9.2(170214)``, YYMMDD, in an IEC 62056-21 meter's data readout), which would read
    as a number."""
    return code.rpartition(":")[2].startswith("0.9.")


def short_code_key(code: str) -> str:
    """The code by which a line of the short code ``code`` (C.D.E or C.D, no A-B) is read: a
    code C.D.E of an electricity quantity (C 1 to 92) with the electricity meter's A-B,
    ``1-0:``, as an OBIS code of the meter's own (``1.8.1`` is ``1-0:1.8.1``, which a DSMR
    meter writes); any other as it is written (``F.F``, ``C.7.0``, ``0.9.1``: codes of no
    medium of their own; ``32.7``: no E group, no whole OBIS code)."""
    c_group, _, rest = code.partition(".")
    if rest.count(".") == 1 and c_group.isdigit() and 1 <= int(c_group) <= _ELECTRICITY_C:
        return _ELECTRICITY + code
    return code


def obis_key(code: str, f_group: str | None) -> str:
    """The code by which a line with ``code`` and ``f_group`` (its F digits, or None) is read
    and a field names it: ``code`` for its current value (no F group, or 255), else ``code*F``
    with F without leading zeros (a billing period's value)."""
    if ":" not in code:
        code = short_code_key(code)
    if f_group is None or int(f_group) == _CURRENT:
        return code
    return f"{code}*{int(f_group)}"


def _field_key(field: str) -> str:
    """The code a channel's ``field`` names (see :func:`obis_key`); ``check`` has found it is
    one."""
    match = _FIELD.fullmatch(field)
    assert match is not None
    return obis_key(match[1], match[2])


def _field_part(field: str) -> int:
    """The place, from 1, of the value that a channel's ``field`` names among those ``&``
    separates in its data set's value (``9.4&2``: 2); 1 for a field that names none, the
    value's first (or only) one."""
    match = _FIELD.fullmatch(field)
    assert match is not None
    return 1 if match[3] is None else int(match[3])


def _no_time(text: str) -> bool:
    """Whether ``text``, a time stamp by its form, names no time: a month, day, hour,
    minute or second out of range (``632525252525S``, an M-Bus channel without a reading),
    or a time of 1 January 1970, the zero of a clock that was never set, which an Iskra
    AM550 writes for a channel with no device (``0-1:24.2.1(700101010000W)(00000000)``)."""
    stamp = _TIME_STAMP.fullmatch(text)
    if stamp is None:
        return False
    year, month, day, hour, minute, second = (int(part) for part in stamp.groups())
    if (year, month, day) == _CLOCK_ZERO:
        return True
    return not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 60)


#: The date of a time stamp that names no time: 1 January (19)70, a clock's zero (no DSMR
#: meter logged anything then).
_CLOCK_ZERO = (70, 1, 1)
#: The date a meter whose clock was never set counts from, 1 January 2000 (``000101``): an
#: entry of it with a value (a power failure's duration) is one, an entry of it whose value
#: is 0 was never taken (see :func:`_no_value`).
_UNSET_CLOCK_DATE = "000101"
#: A duration of 2^31 - 1 s (0x7FFFFFFF, 68 years) as its digits: what a Kaifa writes for the
#: duration of a power failure log entry it never set (``(000101000001W)(2147483647*s)``).
_DURATION_NOT_SET = str(0x7FFFFFFF)


def _no_value(stamp: str, number: str, unit: str) -> str:
    """Why the entry of the time stamp ``stamp`` and the value ``number`` (in ``unit``) holds
    no value, for the log, or ``""`` when it holds one. An entry holds none when its time is
    none (:func:`_no_time`); when its duration is 2^31 - 1 s, the "not set" of a Kaifa's power
    failure log (a failure of 68 years); and when it is dated 1 January 2000 and its value is
    0, as a Landis+Gyr E350 whose clock was never set writes its gas meter's reading
    (``0-1:24.2.1(000101010000W)(0000000000)``): no reading was taken, and a 0 would read as a
    counter reset. A power failure logged by such a meter (``(000101010000W)(0000000253*s)``)
    holds its duration."""
    if _no_time(stamp):
        return f"its time {stamp[:20]!r} is none"
    if unit == "s" and number.lstrip("0") == _DURATION_NOT_SET:
        return f'its duration {number} s is 2^31 - 1 (0x7FFFFFFF), the meter\'s "not set"'
    if stamp.startswith(_UNSET_CLOCK_DATE) and float(number) == 0:
        return (
            f"its time {stamp!r} is 1 January 2000 and its value 0: the meter's clock was "
            "never set, and nothing was read"
        )
    return ""


def _latest_entry(groups: str) -> tuple[str | None, str]:
    """The value of the latest entry of ``groups``, a line's parenthesised groups: the group
    after the latest time stamp that a number follows (a time stamp followed by another is a
    month's stamp, which its peak's time follows, and the month's stamp places the entry; of
    entries of one time, the first, as DSMR lists its logs newest first), or, without such a
    time stamp, the last group, with ``""``. An entry that holds no value (see
    :func:`_no_value`) does not count, but for a month's (a month without a peak, its peak's
    time none, ``(231001000000S)(632525252525W)(00.000*kW)``): when it is the latest, None
    and why it holds none. When every entry holds no value, None and why the last does not;
    for a log of no entry (``(0)(0-0:96.7.19)``: a power failure log of a meter that has had
    none), None and ``""``."""
    parts = groups[1:-1].split(")(")
    latest: str | None = None
    latest_time = latest_why = none = ""
    for k in range(len(parts) - 1):
        stamp = parts[k]
        if _TIME_STAMP.fullmatch(stamp) is None:
            continue
        value = parts[k + 1]
        number, _, unit = value.partition("*")
        if _NUMBER.fullmatch(number) is None:
            continue
        month = parts[k - 1] if k else ""
        if _TIME_STAMP.fullmatch(month) is None or _no_time(month):
            month = ""
        why = _no_value(stamp, number, unit)
        time = (month or stamp)[:12]  # YYMMDDhhmmss: a later time reads greater
        if why and not month:
            none = why  # no time to place it among the others: it does not count
        elif time > latest_time:
            latest, latest_time, latest_why = (None, time, why) if why else (value, time, "")
    if latest_time:
        return latest, latest_why
    if none:
        return None, none
    if len(parts) == 2 and parts[0].lstrip("0") == "" and OBIS_CODE.fullmatch(parts[1]):
        return None, ""  # a log of no entry: its count, 0, and the code of its entries
    return parts[-1], ""


def check(spec: FormatSpec) -> list[tuple[str, str]]:
    problems = check_common(dataclasses.replace(spec, block=None, crc=None), reads_values=False)
    if spec.block not in (None, "dsmr"):
        problems.append(("parse.block", "format 'dsmr' reads its telegrams as block 'dsmr'"))
    if spec.crc is not None and spec.crc not in DSMR_CRCS:
        problems.append(("parse.crc", crc_problem(spec)))
    for i, (_, field) in enumerate(spec.fields):
        match = _FIELD.fullmatch(field)
        code, amp, place = field.partition("&")
        if match is None and amp and _FIELD.fullmatch(code) is not None:
            problems.append((f"channels[{i}].field", _place_problem(field, repr(place))))
        elif match is None:
            problems.append(
                (
                    f"channels[{i}].field",
                    f"{field!r} is no OBIS code, such as '1-0:1.8.1', nor a short code as an "
                    "IEC 62056-21 meter writes it, such as '1.8.1', '32.7' or 'C.7.0'",
                )
            )
        elif _local_time(match[1]):
            problems.append(
                (
                    f"channels[{i}].field",
                    f"{field!r} is the meter's local time or date (0.9.1 hhmmss, 0.9.2 YYMMDD), "
                    "no number a channel reads; the time of a reading is sensord's as its "
                    "telegram came: sensord_reading_timestamp_seconds, and the channel's "
                    "timestamp in /status",
                )
            )
        elif _CLOCK_CODE.fullmatch(match[1]) is not None:
            problems.append(
                (
                    f"channels[{i}].field",
                    f"{field!r} is the telegram's date and time (YYMMDDhhmmss and S or W for "
                    "summer or winter time: the meter's clock, in its local time), no number a "
                    "channel reads; the time of a reading is sensord's as its telegram came: "
                    "sensord_reading_timestamp_seconds, and the channel's timestamp in /status",
                )
            )
        elif (date := _date_code(match[1])) is not None:
            problems.append(
                (
                    f"channels[{i}].field",
                    f"{field!r} is {date}",
                )
            )
        elif (text := _text_code(match[1])) is not None:
            problems.append(
                (
                    f"channels[{i}].field",
                    f"{field!r} is {text}: text, which no channel reads (a channel's value is "
                    "a number)",
                )
            )
        elif match[2] is not None and int(match[2]) > _CURRENT:
            problems.append(
                (
                    f"channels[{i}].field",
                    f"{field!r}: an OBIS code's F group is 0 to 255; write the current value's "
                    f"code without it ('{match[1]}', which '*255' also names)",
                )
            )
        elif match[3] is not None and not 1 <= int(match[3]) <= _MOST_PARTS:
            problems.append((f"channels[{i}].field", _place_problem(field, match[3])))
    return problems


def _place_problem(field: str, got: str) -> str:
    """What ``check`` tells of ``field``, whose place after ``&`` (``got``, as told) is no
    number of 1 to :data:`_MOST_PARTS`."""
    return (
        f"{field!r}: '&' and the place of a value among those '&' separates in the data "
        f"set's value, 1 to {_MOST_PARTS} ('9.4&2' reads 96.1 of '9.4(098.5*C&096.1*C)'); "
        f"got {got}"
    )


def codes_read(spec: FormatSpec) -> str:
    """The codes the channels of ``spec`` read, as ``sensord check`` tells them: each
    channel's code, and the short code that names it too when a meter may write it so
    (``1-0:1.8.1 or 1.8.1``); a field that is no code is the check's error."""
    told = []
    for channel, field in spec.fields:
        match = _FIELD.fullmatch(field)
        if match is None:
            continue
        key = obis_key(match[1], match[2])
        part = "" if match[3] is None or int(match[3]) == 1 else f"&{int(match[3])}"
        code, star, f_group = key.partition("*")
        short = code.removeprefix(_ELECTRICITY)
        key += part
        if short != code and short_code_key(short) == code:
            key += f" or {short}{star}{f_group}{part}"
        told.append(f"{channel} {key}")
    return ", ".join(told)


def _number(code: str, value: str) -> float:
    """The number ``value`` (a number and maybe ``*`` and its unit) of ``code`` writes, in
    DSMR's unit of its quantity (see :data:`_THOUSANDS`)."""
    number, _, unit = value.partition("*")
    if _NUMBER.fullmatch(number) is None:
        raise ParseError("syntax", f"{code}: {value[:40]!r} is no number")
    # Wh in kWh as the decimal reads (12643.36 Wh is 12.64336, not 12.643360000000001)
    return float(number + "e-3") if unit in _THOUSANDS else float(number)


def _state(code: str, value: str) -> float:
    """The number the state ``value`` of ``code`` (one of :data:`_ON_OFF_CODES`) reads as:
    ON 1, OFF 0; any other value is ``syntax``."""
    state = _ON_OFF.get(value)
    if state is None:
        raise ParseError("syntax", f"{code}: {value[:40]!r} is no state ON or OFF")
    return state


def _hex_number(code: str, value: str, operating_time: bool) -> float:
    """The number the hex digits of ``value`` write, a status word's (its unit ignored) or,
    when ``operating_time``, a time of operation's without a unit; a time of operation with
    a unit is the decimal number it writes."""
    digits, _, unit = value.partition("*")
    if operating_time:
        if unit:
            return _number(code, value)
        if _HEX.fullmatch(digits) is None:
            raise ParseError(
                "syntax", f"{code}: {value[:40]!r} is no time of operation in hex digits"
            )
    elif _HEX.fullmatch(digits) is None:
        raise ParseError("syntax", f"{code}: {value[:40]!r} is no status word in hex")
    return float(int(digits, 16))


def _parts_read(
    code: str,
    value: str,
    parts: tuple[tuple[int, tuple[str, ...]], ...],
    convert: Callable[[str, str], float],
) -> list[tuple[str, float]]:
    """The readings of ``code`` from ``value``, which holds values that ``&`` separates
    (``098.5*C&096.1*C``, each with its own unit): those of the channels of each place in
    ``parts`` (1 for the first value), each value read by ``convert``. A place the value does
    not hold, or a value that is no number, is ``syntax`` for its channels, the others'
    readings kept; an empty place (``9.2(&&)``) is ``invalid`` for its channels (unavailable
    with a ``syntax`` too)."""
    values = value.split("&")
    readings: list[tuple[str, float]] = []
    problem = empty = ""
    unavailable: list[str] = []
    for place, channels in parts:
        if place > len(values):
            problem = problem or (
                f"{code}: {value[:40]!r} holds {len(values)} value"
                f"{'s' if len(values) > 1 else ''} ('&' between them), no value {place}"
            )
            continue
        try:
            number = convert(code, values[place - 1])
        except ParseError as exc:
            if values[place - 1].strip():
                problem = problem or f"{exc.detail} (value {place} of {value[:40]!r})"
            else:  # a value the meter does not have (a UH50's 9.2(&&))
                empty = empty or f"{code}: no reading of value {place} of {value[:40]!r} ({_EMPTY})"
                unavailable += channels
            continue
        readings += [(channel, number) for channel in channels]
    if problem:
        raise ParseError("syntax", problem, readings, unavailable)
    if empty:
        raise NotMeasuredError("invalid", empty, readings, unavailable)
    return readings


def _written_none(code: str, channels: tuple[str, ...]) -> NotMeasuredError:
    """What a value of ``code`` written empty or blank raises (``()``, a Pafal's ``(`` and 48
    spaces ``)``: a value the meter does not have): ``invalid`` for ``channels``."""
    return NotMeasuredError("invalid", f"{code}: no reading ({_EMPTY})", (), channels)


def decoder(spec: FormatSpec) -> Decoder:
    #: the channels of each code read, of its value's first (or only) value, and of the
    #: values after it that ``&`` separates (``9.4&2``), by their places
    wanted: dict[str, tuple[str, ...]] = {}
    later: dict[str, dict[int, tuple[str, ...]]] = {}
    for channel, field in spec.fields:
        code, place = _field_key(field), _field_part(field)
        if place == 1:
            wanted[code] = (*wanted.get(code, ()), channel)
        else:
            wanted.setdefault(code, ())
            places = later.setdefault(code, {})
            places[place] = (*places.get(place, ()), channel)
    #: each code's places read, in order, the first's with those after it
    parts = {
        code: tuple(sorted({1: wanted[code], **places}.items())) for code, places in later.items()
    }
    #: the codes read whose value is a time of operation: hex digits, or a number and its unit
    operating_times = frozenset(code for code in wanted if _OPERATING_TIME.match(code))
    #: the codes read whose value is written in hex digits (a status word, a time of
    #: operation without a unit)
    hex_codes = operating_times.union(code for code in wanted if _STATUS_WORD.match(code))
    #: the codes read whose value is a state written ON or OFF (a Hungarian breaker state)
    on_off = frozenset(code for code in wanted if _on_off(code))
    encoding = spec.encoding
    #: the code of a line whose value comes on the next line (DSMR 2.2 and 3 gas)
    pending: list[str] = []

    def unread(frame: bytes) -> bool:
        """Whether ``frame`` begins with an OBIS code and ``(``, the code one no channel
        reads: the line is ignored whatever its value holds (an unwritten text message of
        bytes 0xFF, an Iskra AM550's ``1-0:0.2.0((ER11))``); or with an address of letters
        alone (a UH50's ``F(0)``), which no channel names."""
        head = _LINE_HEAD.match(frame)
        if head is None:
            return _LETTERS_ADDRESS.match(frame) is not None
        return _field_key(head[0][:-1].decode("ascii")) not in wanted

    def lost_value(waiting: str) -> str:
        """What the line that came in place of the value line of ``waiting`` (a DSMR 2.2 gas
        line's code) tells, for the log: that line is its frame."""
        return (
            f"{waiting}: its reading is lost: the (value) line it is followed by did not come, "
            "this line came in its place"
        )

    def missed(waiting: str, readings: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """``readings``, of a line that came where the value of ``waiting`` (a DSMR 2.2 gas
        line's code) should have: that value's line was lost, which is ``truncated`` when a
        channel reads ``waiting`` (the readings kept)."""
        if waiting not in wanted:
            return readings
        raise ParseError("truncated", f"{lost_value(waiting)} (read as its own)", readings)

    def read_numbers(code: str, groups: str, whole: bool) -> list[tuple[str, float]]:
        """The readings of ``code`` from its parenthesised ``groups``, those of a line of its
        own (``whole``) or of the line after it."""
        last = groups[groups.rindex("(") + 1 : -1]
        if (
            _UNIT_ALONE.fullmatch(last) is not None
            and whole
            and groups.index(")") < len(groups) - 1
        ):
            pending.append(code)  # the value is on the next line
            return []
        channels = wanted.get(code)
        if channels is None:
            return []
        if groups == "()" and _LIST_CODE.match(code):  # an Iskra AM550's log of no entry
            raise NotMeasuredError(
                "invalid",
                f"{code}: no reading (its log holds no entry)",
                (),
                _channels_of(code, channels),
            )
        if groups.index(")") != len(groups) - 1:  # several values: its latest entry's
            latest, none = _latest_entry(groups)
            if latest is None:
                why = none or "its log holds no entry"
                raise NotMeasuredError(
                    "invalid", f"{code}: no reading ({why})", (), _channels_of(code, channels)
                )
            last = latest
        if "&" in last or (parts and code in parts):  # values that '&' separates
            return _parts_read(code, last, parts.get(code) or ((1, channels),), _number)
        try:
            value = _number(code, last)
        except ParseError:
            if not last.strip():
                raise _written_none(code, _channels_of(code, channels)) from None
            if not on_off or code not in on_off:
                raise
            value = _state(code, last)
        return [(channel, value) for channel in channels]

    def _channels_of(code: str, channels: tuple[str, ...]) -> tuple[str, ...]:
        """The channels of every value of ``code``: ``channels``, its first value's, and
        those of the values after it (``9.4&2``)."""
        if not parts or code not in parts:
            return channels
        return tuple(channel for _, named in parts[code] for channel in named)

    def read_hex(code: str, groups: str, whole: bool) -> list[tuple[str, float]]:
        """:func:`read_numbers`, but of a code in ``hex_codes``: the number its hex digits
        write (a status word's, its unit ignored; a time of operation's without a unit, whose
        value with one is the decimal number it writes)."""
        if code not in hex_codes:
            return read_numbers(code, groups, whole)
        last = groups[groups.rindex("(") + 1 : -1]
        operating = code in operating_times
        if "&" in last or (parts and code in parts):  # values that '&' separates
            return _parts_read(
                code,
                last,
                parts.get(code) or ((1, wanted[code]),),
                lambda code, value: _hex_number(code, value, operating),
            )
        try:
            value = _hex_number(code, last, operating)
        except ParseError:
            if last.strip():
                raise
            raise _written_none(code, _channels_of(code, wanted[code])) from None
        return [(channel, value) for channel in wanted[code]]

    # a sensor that reads no code in hex reads its lines without asking whether each is one
    read = read_hex if hex_codes else read_numbers

    def parse_dsmr(frame: bytes) -> list[tuple[str, float]]:
        if frame[:1] == _STX:  # a data readout's first line (IEC 62056-21's data block)
            frame = frame[1:]
        waiting = pending.pop() if pending else None
        try:
            text = decode_text(frame, encoding)
        except ParseError:
            if not unread(frame):
                raise
            return [] if waiting is None else missed(waiting, [])
        line = _LINE.fullmatch(text)
        if line is not None:
            code, groups = obis_key(line[1], line[2]), line[3]
        elif waiting is not None and _CONTINUED.fullmatch(text) is not None:
            code, groups, waiting = waiting, text, None
        else:
            if unread(frame):
                return [] if waiting is None else missed(waiting, [])
            detail = "not an OBIS line (code(value)...)"
            if waiting in wanted:  # most likely the value's line, damaged
                detail += f", nor the (value) line that {waiting} is followed by"
            raise ParseError("syntax", detail)
        if waiting is None:
            return read(code, groups, line is not None)
        try:
            readings = read(code, groups, whole=True)
        except ParseError as exc:
            if waiting not in wanted:
                raise
            raise ParseError(
                "truncated",
                f"{lost_value(waiting)} ({exc.detail})",
                exc.kept,
                exc.unavailable,
            ) from exc
        return missed(waiting, readings)

    return parse_dsmr


def _encoded(field: str, value: float) -> str:
    """``value`` as a meter writes it for ``field`` (a code, maybe with its F group)."""
    if _on_off(field.partition("*")[0]):
        return "ON" if value else "OFF"
    if _STATUS_WORD.match(field):
        return f"{max(int(value), 0):02X}"
    if _OPERATING_TIME.match(field):
        return f"{max(int(value), 0):08X}"
    return f"{value:.3f}"


def encoder(spec: FormatSpec) -> Encoder:
    #: each line's code as the first field that names it writes it, with its fields by the
    #: place of their value among those '&' separates (a field of its first, or only, one: 1)
    lines: dict[str, tuple[str, dict[int, str]]] = {}
    for field in unique_fields(spec):
        match = _FIELD.fullmatch(field)
        assert match is not None
        code = field[: match.end(2) if match[2] is not None else match.end(1)]
        key = obis_key(match[1], match[2])
        lines.setdefault(key, (code, {}))[1].setdefault(_field_part(field), field)
    encoding = spec.encoding

    def encode_dsmr(values: Mapping[str, float], t_s: float) -> list[bytes]:
        del t_s
        encoded = []
        for code, places in lines.values():
            if not any(f in values for f in places.values()):
                continue
            written = [
                _encoded(code, values[f]) if (f := places.get(place, "")) in values else "0"
                for place in range(1, max(places) + 1)
            ]
            encoded.append(f"{code}({'&'.join(written)})".encode(encoding))
        return encoded

    return encode_dsmr


def framer(spec: FormatSpec, terminator: bytes, max_frame_bytes: int) -> BlockFramer:
    """A telegram's data sets, each a frame, when its CRC (``parse.crc``) holds; the
    terminator is not used (CR LF)."""
    del terminator  # parse.nul_padding is refused: no NUL is stripped
    return BlockFramer("dsmr", max_frame_bytes, crc=spec.crc, data_sets=True)


CODEC = Codec("dsmr", check, decoder, encoder, framer, block="dsmr")
