"""Blocks of lines with an integrity check over the whole block (``parse.block``).

Some devices send their readings as a block of text lines that ends in a check of every byte
of the block, and no check per line; a byte lost or changed in a number then still reads as a
number, only a wrong one (``1-0:1.8.1(00012.456*kWh)`` for ``(000123.456*kWh)``: a meter
reading that went backwards). With ``parse.block`` the sensor's framer is a
:class:`BlockFramer`: it finds each block in the byte stream, checks it, and cuts the lines of
a block whose check holds, as :class:`~sensord.formats.lines.LineFramer` cuts lines (at LF, a
CR before it stripped; ``max_frame_bytes`` and ``nul_padding`` apply to each line), for the
sensor's format to read. A block whose check fails is rejected whole: none of its readings
is published, and each of its lines is counted in ``rejected["checksum"]`` (as a line of it
read would have been counted in ``frames``, so that the share of rejects is the share of
lines lost). The sensor's ``terminator`` is
not used: the kind of block says where lines end.

Kinds:

* ``dsmr``: a smart electricity meter's P1 telegram (DSMR 2.2 to 5, Belgium's e-MUCS). It
  begins with ``/`` and a header line (``/ISk5\\2MT382-1000``), holds a line per OBIS code and
  ends with ``!``, the CRC-16/ARC of the bytes from ``/`` to ``!`` as 4 hex digits (upper
  case, as the standard has them; lower or mixed case is read too, as arduino-dsmr and
  ESPHome's ``dsmr`` read it, and the CRC is checked the same), and CR LF
  (a NUL before the CR is tolerated, as ndokter/dsmr_parser's telegram buffer takes one; a
  check line whose CR LF after that NUL was lost ends as one without it does, for a quiet
  line or the next ``/``). A Holley DTSD545 writes the CRC-16/X-25 of those bytes
  instead (ndokter/dsmr_parser issue #91): with ``crc = "crc16_x25"`` (``parse.crc``) it is
  the CRC checked. A telegram whose CRC fails but holds by the other of the two is rejected
  all the same, and the rejection says so and which ``parse.crc`` to set (the hint too, once
  two came): the CRC is the meter model's, and a telegram read by either of two passes
  damaged twice as often (2 in 65536). A telegram of DSMR 2.2 or 3 ends with ``!`` alone and has
  no check: it is read unchecked, until the meter has sent one with a CRC; from then on a
  telegram without one is ``truncated`` (its CRC lost). So is one without a CRC that shows
  itself of DSMR 4 or later, whose meters always send one, before any CRC came too (the first
  telegram after the open, whose CRC bytes the adapter lost): one with a version line
  (``1-3:0.2.8(50)``, which DSMR 4.0 brought) or an e-MUCS meter's (``0-0:96.1.4(50217)``, a
  Belgian or Swiss meter's). Its header tells nothing of it: the ``5`` of ``/ISk5`` is IEC
  62056-21's baud rate letter, which a DSMR 2.2 meter writes as well, and an EasyMeter
  (``/ESY5Q3DA1004``), which sends no CRC. A ``/`` in the header line (printable text up to
  its CR LF, within 40 bytes) is the header's (a Holley DTSD545's ``/HLY5/D545-METER``,
  though IEC 62056-21's identification holds none). One after it and before the ``!``
  begins a new telegram when it begins a line, or, inside a line, when an identification
  follows it: the maker's three letters, the baud rate character and text without
  parentheses up to a line end within those 40 bytes (a line that lost the end of the
  telegram had the next one's ``/`` in its middle, ``0-0:96.13.0(FFFF/HLY5/D545-METER`` in a
  Holley's capture); the one before it was cut short (``truncated``; when its ``!`` and
  check line came inside a line, the line end before them lost or damaged, the rejection
  says so). Any other ``/`` inside a line is a byte of the telegram: a DSMR 2.2 or 3 text
  message's (``0-0:96.13.0(Zie www.example.nl/storing)``), or a ``.`` whose low bit was
  flipped on the line (``1-0:1.8.1(000004/426*kWh)``), which its CRC refuses, once. A
  telegram whose CRC fails that holds a ``/`` from which the CRC holds was cut short by
  the next one: cut in its header line (the two header lines made one), or inside a line
  by a meter whose header is no identification; the telegram from that ``/`` is read, and
  the bytes before it are ``truncated`` (a meter's telegram holds no ``/`` after its header
  line: only those of the line of the last ``/`` are tried, a few CRCs however many ``/``
  bytes a damaged telegram holds). When the port opens (no byte came before), a
  ``/`` begins a telegram only before an identification: the ``/`` of ``/D545-METER``,
  the port opened inside a Holley's ``/HLY5``, begins none, and the bytes up to the next
  telegram are skipped. Its end is a ``!`` at the start of a line
  (a ``!`` inside a line, in a DSMR 2.2 text message, is text). Bytes outside telegrams
  (the rest of one the port's open caught in its middle) are skipped. A check line that is
  neither (``!6E`` and CR LF: ``truncated``; anything else, or no LF within 8 bytes of the
  ``!``: ``syntax``) rejects the telegram; so does one that the next telegram's ``/`` (an
  identification) cuts after at most 4 hex digits (``!67`` and ``/ISk5...``: the rest of the
  telegram, its line end too, lost, and the next one sent after it): ``truncated``, however
  many digits came, unless they hold as its CRC over its bytes (``!6796`` and ``/``, or the
  heat meter link's ``!B9F`` and ``/``): then the telegram came whole but for its line end,
  and it is read, the next one from its ``/`` (the first digits of a CRC cut short hold only
  when the CRC is 0, when the telegram is whole too). A telegram of no CRC, read unchecked
  (DSMR 2.2 or 3, no CRC come before), whose ``!`` the next telegram's ``/`` follows (``!`` and
  ``/KMP5 KA6U...``: the CR LF after its ``!`` lost) came whole as well: it is read as one
  whose line end came, its lines told as such a telegram's are, the next one from its ``/``;
  a stream that ends after such a ``!`` (the end of a replay's capture) gives it when the
  framer is flushed. Such a telegram whose next byte has not come (its line end lost, or
  never sent), one whose CRC came and holds but not its line end, and an IEC 62056-21
  readout whose ``!`` line no ETX follows are taken as ended once the line has been quiet
  for ``quiet_s`` after their last byte (a readout for :data:`READOUT_PAUSE_S` more, IEC
  62056-21's longest pause between characters, within which its ETX and block check are
  still checked; :meth:`BlockFramer.quiet_end_at`, which the sensor
  asks after each chunk, and :meth:`BlockFramer.end_quiet`, which it calls then), not a
  telegram interval later when the next one's ``/`` comes; one whose CRC has not come, or
  does not hold, is left to the bytes that come next. A check line whose CR came and whose
  LF alone was lost before the next ``/`` (``!6796``, CR and ``/``) came whole but for its
  LF: it is checked as one whose LF came (read, ``checksum`` or ``truncated`` as that), the
  next telegram read from its ``/``. A CRC of fewer than 4 digits whose
  value holds is
  the CRC written without its leading zeros, as a heat meter's P1 link does (``!B9F`` for
  0x0B9F: ndokter/dsmr_parser's ``/NWA-WARMTELINK`` telegram, and issue #99's
  ``/AUR2NWA-MYRSKY``, ``!571``): the telegram is read. One whose value holds by the other
  of the two CRCs is that CRC written so: ``checksum``, told as a CRC of 4 digits that holds
  by the other is (the rejection, and the hint once two came, name the ``parse.crc`` to
  set); one that holds by neither is ``truncated``. The header line is no reading and is
  not passed on.
  After a telegram's check line, lines that begin with no code (the empty lines, the stray
  byte or a gateway's lines some meters send between telegrams, an EasyMeter's COM-1 gateway's
  line of bytes 0xFF, a header line whose ``/`` was read as 0x0F: lines of up to 128 bytes,
  whatever their bytes) are skipped as they come;
  lines from one of readings (a code and its ``(``) to a ``!`` that begins a line, and its
  check line, before a ``/`` came, are a telegram whose header line was lost (its ``/`` lost
  or damaged, or its first half): ``truncated`` (its start is not known, and a CRC, which
  covers the ``/``, cannot be checked). A telegram without a CRC, read unchecked, is
  ``truncated`` too when its lines show it was cut: its header line ran into the lines after
  it (no line end within 40 bytes of its ``/``, a line of readings in it, or the short rest
  of one, ``/ISk5\\2MT382-1003627*kWh)``: it ends in a ``)``, as every line of readings does
  and no meter's identification), or it holds a
  code twice and the lines after the second run on as those after the first did, two
  telegrams run into one (the ``!`` of the first and the header of the next lost, which a CRC
  would have refused). One that holds a code twice with other lines after each is
  ``syntax``: a line damaged (a digit of its code changed, ``1-0:1.8.2`` read as
  ``1-0:1.8.1``) or sent twice, nothing cut; which of the two is the code's is not known, and
  none of its lines is read. A header line that took a damaged byte (a byte that is no text,
  a ``)`` inside it, its CR or LF too) but ends within those 40 bytes was not cut: the header
  is no reading, and the telegram is read. A meter writes its codes one way: all short in an
  IEC 62056-21 readout (``1.8.1(``, ``C.7.0(``), all with their A-B groups in a DSMR or
  EasyMeter telegram. In a telegram read unchecked whose lines have A-B groups, a line that
  begins with a short code lost its start on the line (``1-0:21.7.0*255(000557.29*W)`` that
  lost ``1-0:2``, the total power's ``1.7.0``): it is rejected as ``syntax``, and the
  telegram's other lines are read. A telegram whose CRC holds came as the meter wrote it.
  A data line may hold several data sets (IEC 62056-21, 6.5; a Landis+Gyr UH50's
  ``6.8(0328.871*GJ)6.26(03329.67*m3)``): a framer that cuts data sets (``data_sets``,
  ``format = "dsmr"``'s) gives each as a line of its own (see :func:`data_sets`), and counts
  each in a rejected telegram's lines; the rules above hold for each data set (a short code
  behind a whole one on a line is ``syntax``, and so is a telegram whose data sets hold a
  code twice). A ``kv`` format's line of pairs is one frame.
  An IEC 62056-21 readout (a Landis+Gyr E350's: its first line after the identification
  begins with STX, ``\x02F.F(00)``) has no CRC, but ETX and a block check after its ``!``
  line, the XOR of its bytes after STX up to and with ETX (``!``, CR LF, ``\x03\x01``): its
  lines are given once both came and the check holds, and it is ``checksum`` when it fails
  (a line that lost its start, ``82.8.1(0000)`` come as ``2.8.1(0000)``, would read as
  another code). A ``!`` at the end of a readout's last data line that CR LF and ETX
  follow (a Pafal 20EC3gr's ``0.2.2(:::::G11)!``) ends its data block as a ``!`` line
  does. One whose next byte after its ``!`` line is no ETX is read unchecked, as a
  readout that sends none; the stream's end gives it when the framer is flushed.

  A meter that encrypts its telegrams (Luxembourg's Smarty, a Sagemcom T210-D in Luxembourg,
  Austrian meters on their customer interface) sends each as a DLMS general-glo-ciphering
  frame: 0xDB, 0x08 and the meter's 8-byte system title, the length of the rest (one byte
  below 0x80, or 0x81 and one byte, or 0x82 and two), a security control byte (0x30 on a
  Smarty: encrypted and authenticated; any with one of those two bits, a security suite of 0
  to 2 and no compression), a 4-byte frame counter, the AES-128-GCM ciphertext and, when
  authenticated, a 12-byte tag. sensord does not decrypt them: such a frame, found by that
  header and taken whole by its length (at most ``max_block_bytes``), is skipped bytes, as
  the bytes between telegrams are. A ``/`` inside it that begins a telegram whose check holds
  (text up to its ``!`` and a whole check line, within ``max_block_bytes`` of the frame's
  start) shows the header to be line noise: the bytes before that ``/`` are skipped, and the
  telegram is read as soon as its check line has come, whatever length the header claims.
  :meth:`BlockFramer.no_frame_hint` names the meter's system title once two whole frames
  with it came (random bytes hold one such header now and then, never two of one title).
  The ``/`` bytes of its ciphertext begin no telegram: a
  telegram not ended before a 0xDB 0x08 (a ``/`` in the rest of a frame the port's open
  caught in its middle) is cut short there, and its bytes are skipped too (a telegram's text
  holds no 0xDB); so are
  the bytes of one cut short by the next ``/`` that are not text (see
  :func:`~sensord.formats.base.looks_like_text`) and hold no line of readings (a code and
  its ``(`` at a line's start), which no meter sent as a telegram. A Hungarian meter's
  telegram cut short so (its ``!`` line lost, or cut in its text message of 1024 bytes
  0xFF), no text by its share of bytes, holds its lines of readings: it is ``truncated``.

  A telegram whose lines end in LF alone fails its check (a meter sends CR LF, which its CRC
  counts); when the CRC holds over it with its LFs made CR LF, the hint says that something
  between the meter and sensord takes the CRs out.
  A DLMS meter's HAN port (a Nordic Kamstrup, Aidon or Kaifa) sends its lists as binary HDLC
  frames of IEC 62056-46 (``7E A0 E2 ... 7E``), no telegrams: once two whole frames whose
  check holds came, the hint says so and to read them with ``format = "frames"``.
* ``vedirect``: a Victron VE.Direct text block (BMV battery monitors, SmartShunt, MPPT
  chargers, Phoenix inverters). Each line comes after a CR LF; the last is ``Checksum``, a tab
  and one byte (any byte, CR and LF included) that makes the byte sum of the block, from its
  first CR LF, 0 mod 256. The ``Checksum`` line is no reading and is not passed on. Between
  blocks a device sends HEX protocol messages (``:A0102000543`` and LF), unasked or in answer
  to the host: each is counted in ``ignored``. A charger sends its asynchronous HEX messages
  (``:A``) when a value changes, in the middle of a block too: a ``:`` inside a block (but
  its checksum byte) that begins a HEX message whose own check holds, up to its LF, is taken
  out of the block and counted in ``ignored``, and the block's sum is that of its own bytes,
  as Victron's reference frame handler reads it. A block is found by its ``Checksum`` line, so
  its start is known only when the block before it, or a HEX message, ended where it begins:
  after the port opens, after a block that is longer than the bound, and after bytes that
  are neither a block nor a HEX message, the blocks are searched from the next CR LF (or
  ``:``), and
  until one whose check holds a block whose check fails is skipped, not rejected (it may have
  been caught in its middle). A block has no empty line: a CR LF that another follows (the
  line end of a line of something else, a stray CR LF) begins none, and is skipped. A block
  whose end was lost on the line (a byte of its ``Checksum`` line, or bytes up to the middle
  of a later block) runs into the next one, and the two fail their check as one (two whose
  damages add up to a sum that holds, 1 in 256, name a label twice, which a block never
  does, and fail as well); when the
  next one begins at a ``PID`` line (the first of a device's block, or of a battery
  monitor's first), an ``H1`` line (the first of its block of history), a ``V`` line (a
  BMV-600S or 602S sends no ``PID``: its block of readings begins at ``V``; not in a text
  that holds ``PID``, whose device sends ``V`` in the block ``PID`` begins), an ``ERR`` line
  (a SmartSolar MPPT 150/70 sends its fields in two blocks, the second from ``ERR`` to
  ``HSDS``; other chargers send ``ERR`` in their block from ``PID``) or a line that
  began one of the device's blocks whose check held, and the bytes from there hold its
  check (each such line in the text is tried, from the last: the block run into may hold
  one after its own first), that block is read, and only the lines before it are rejected
  (or skipped). The
  bytes of a block cut short sum to 0 mod 256 once in 256 cuts: the two then hold their
  check as one, and name each label once when they are of two kinds (a BMV's history cut,
  then its readings). A block whose check holds and that holds such a line after its first
  is so refused as two run into one, and read from there when the bytes from there hold
  the check by themselves; its lines before it are counted as a cut block's. A device names
  each field in one kind of block: a line learned (or ``V`` or ``ERR``, known before any
  block came)
  that a block whose check holds has after its first (one read after the port opened,
  caught in its middle, whose sum held by chance, or one of another device on the port; a
  device that sends ``V`` later in its block) is forgotten, by a block so refused too (a
  device whose steady block holds such a line loses one block's first lines, not more).
  The line a block cut short begins with begins
  the next block of its kind too. A block whose checksum byte is a CR that an LF follows,
  and whose check fails, lost its own byte and took the CR that begins the next block: the
  next block is searched from that CR.
* ``gill``: a Gill ultrasonic anemometer's message (WindSonic, WindObserver, MaxiMet in their
  ASCII output): STX (02), one line (``Q,229,002.74,M,00,``), ETX (03), the XOR of the bytes
  between STX and ETX as two hex digits, and the line end (``<STX>Q,229,002.74,M,00,<ETX>16``
  and CR LF). A message whose check holds gives its line, without STX and ETX, to the
  format; one whose check fails is ``checksum``; one cut short, by a line end or the next
  STX before its ETX (its ETX lost: a message is one line) or by either inside its check,
  ``truncated``; one whose check is no hex ``syntax``. The line ends between messages are no
  skipped bytes; anything else outside a message is (the rest of one the port's open caught
  in its middle).

A block of which more than ``max_block_bytes`` (:data:`MAX_BLOCK_BYTES`) come before its end
(or before what shows it cut short) is dropped, counted in ``overlong``, with the bytes after
it up to the next telegram's ``/``, or up to the end of the VE.Direct block. ``reset``,
``drop_pending`` and ``flush`` count a block that has not all come in ``skipped_bytes``. The
frames and counters do not depend on how the stream is chunked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from sensord.formats.base import BLOCK_KINDS, DSMR_CRCS, looks_like_text
from sensord.formats.crc import crc16_arc, crc16_x25, prepare_crc16_arc, prepare_crc16_x25
from sensord.formats.lines import LineFramer

__all__ = [
    "BLOCK_KINDS",
    "MAX_BLOCK_BYTES",
    "QUIET_SLACK_S",
    "READOUT_PAUSE_S",
    "BlockFramer",
    "envelope",
    "quiet_after_end_s",
]

#: The most bytes a block may take before its end comes: a DSMR telegram with a full text
#: message (2048 hex digits), a Belgian meter's 13 months of peaks and four M-Bus devices
#: is some 5 KiB; a VE.Direct block a few hundred bytes.
MAX_BLOCK_BYTES = 16384

#: The most bytes from a DSMR telegram's ``!`` to the LF of its check line (``!6EEE\0\r\n``).
_CHECK_LINE_BYTES = 8

#: The most bytes of a VE.Direct HEX message (``:``, a command digit, up to some 120 bytes of
#: a register's value in hex, the check and LF).
_HEX_MESSAGE_BYTES = 512

_VE_END = b"\r\nChecksum\t"
#: The first line of every block of a device that sends ``PID`` (a charger, an inverter) and
#: of a battery monitor's first.
_VE_PID = b"\r\nPID\t"
#: The lines that begin a VE.Direct block: ``PID`` and ``H1``, the first of a battery
#: monitor's block of history. A framer learns others from the device's blocks
#: (:meth:`BlockFramer._learn_first_line`).
_VE_FIRST_LINES = (_VE_PID, b"\r\nH1\t")
#: The first line of a BMV-600S's or 602S's block of readings (they send no ``PID``), known
#: before any block came, as if learned: a block that holds it after its first line unteaches
#: it, as the first of a device that sends ``V`` later in its block does. In a block that
#: holds ``PID`` it begins no block (a device that sends ``PID`` sends ``V`` in the block
#: ``PID`` begins).
_VE_READINGS = b"\r\nV\t"
#: The first line of the second block of a SmartSolar MPPT 150/70 (``ERR`` to ``HSDS``, after
#: its block from ``PID`` to ``OR``), known before any block came, as if learned: the
#: chargers that send ``ERR`` in the block ``PID`` begins unteach it with their first block.
_VE_CHARGER_REST = b"\r\nERR\t"
#: The start of a VE.Direct block's first line up to its tab: its label, as VE.Direct writes
#: them (``V``, ``SER#``, ``AC_OUT_V``).
_VE_FIRST_LABEL = re.compile(rb"\r\n[0-9A-Za-z_#]{1,16}\t")
#: The most first lines a framer knows: ``PID``, ``H1``, ``V``, ``ERR`` and those it learned
#: (a device sends one to three kinds of block).
_VE_MOST_FIRST_LINES = 6
#: A Gill message's start and end of text, and an IEC 62056-21 data block's (STX before a
#: readout's first line, ETX after its ``!`` line and before its block check).
_STX, _ETX = b"\x02", b"\x03"
#: The two hex digits of a Gill message's check.
_HEX_PAIR = re.compile(rb"[0-9A-Fa-f]{2}")
#: The hex digits of a DSMR telegram's CRC, in upper case as the standard writes them or in
#: lower or mixed case (read as arduino-dsmr and ESPHome's ``dsmr`` read it; its value is
#: checked the same).
_HEX_DIGITS = re.compile(rb"[0-9A-Fa-f]*")
_HEX_MESSAGE = re.compile(rb":[0-9A-F]+\r?")
#: A HEX message inside a text block: a command digit and whole bytes up to its LF.
_HEX_IN_BLOCK = re.compile(rb":[0-9A-F](?:[0-9A-F]{2})+")

#: A line that only a telegram of DSMR 4 or later holds, each of which ends in a CRC: its
#: version (``1-3:0.2.8(40)``, 42, 50; DSMR 2.2 and 3 have no such line) or an e-MUCS
#: meter's (``0-0:96.1.4(50217)``: a Belgian or Swiss meter's, DSMR 5 based).
_CRC_REQUIRED = re.compile(rb"\n(?:1-3:0\.2\.8|0-0:96\.1\.4)\(")

#: The most bytes of a rejected block :meth:`BlockFramer.last_rejected` gives (its header line
#: and its first lines, as the log shows a frame).
_SHOWN_BYTES = 80

#: The CRCs a DSMR telegram may end in (``parse.crc``): each one's function and name. A meter
#: that follows DSMR writes CRC-16/ARC; a Holley DTSD545 writes CRC-16/X-25 (ndokter/dsmr_parser
#: issue #91).
_DSMR_CRC: dict[str, tuple[Callable[[bytes], int], str]] = {
    "crc16_arc": (crc16_arc, "CRC-16/ARC"),
    "crc16_x25": (crc16_x25, "CRC-16/X-25"),
}
#: How many telegrams whose CRC holds only by the other of :data:`_DSMR_CRC` make the hint
#: name it (a damaged telegram's holds by chance once in 65536).
_OTHER_CRC_TOLD = 2

#: The header line of a simulated meter's telegrams.
SIMULATED_DSMR_HEADER = b"/SDR5\\2SENSORD-SIM"

#: The start of a DLMS general-glo-ciphering frame (its tag, 0xDB) with an 8-byte system
#: title: how a meter that encrypts its P1 telegrams sends each.
_CIPHERED = b"\xdb\x08"
#: The bytes of a general-glo-ciphering frame before its length: tag, title length, title.
_CIPHERED_TITLE_END = 10
#: What its length counts at least: the security control byte and the frame counter.
_CIPHERED_LEAST = 5
#: The GCM tag that ends an authenticated frame (security control bit 0x10).
_CIPHERED_TAG = 12
#: A frame's header has not all come: where the frame ends is not known yet.
_UNDECIDED = -1
#: A byte that is in no telegram between its ``/`` and its ``!``: no text, or another ``/``.
_NOT_TELEGRAM_TEXT = re.compile(rb"[^\t\r\n -.0-~]")
#: The most bytes of a DSMR telegram's header line after its ``/`` (IEC 62056-21's
#: identification: 3 letters, the baud rate letter, ``\2`` and up to 16 characters; a Holley
#: DTSD545's ``HLY5/D545-METER``), with its CR LF.
_HEADER_BYTES = 40
#: The text of a header line: printable ASCII (a Holley DTSD545's holds a ``/``).
_HEADER_TEXT = re.compile(rb"[ -~]*")
#: The least bytes of an IEC 62056-21 identification: ``/``, the maker's three letters and
#: the baud rate character (``/ISk5``).
_IDENTIFICATION_BYTES = 5
#: Those bytes, ``/``, three letters and a printable character, or the first of them.
_IDENTIFICATION_START = re.compile(rb"/(?:[A-Za-z](?:[A-Za-z](?:[A-Za-z][!-~]?)?)?)?")
#: The bytes that are no printable ASCII: a line's damaged CR is one.
_NOT_PRINTABLE = bytes(range(0x20)) + bytes(range(0x7F, 0x100))
#: An OBIS reference as a telegram's line begins with it (``1-0:1.8.1``, an EasyMeter's
#: ``1-0:1.8.0*255``), with the ``(`` of its value: the code of a line of readings.
_LINE_CODE = re.compile(rb"(\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3}(?:\*\d{1,3})?)\(")
#: The same at a line's start: each line's code in a telegram's text.
_LINE_CODES = re.compile(rb"^" + _LINE_CODE.pattern, re.MULTILINE)
#: The code of each data set of a telegram's text: after a line's LF, or after the ``)`` of
#: the data set before it on its line (an IEC 62056-21 data line of several data sets).
#: Searched from the header line's LF.
_DATA_SET_CODES = re.compile(rb"[\n)]" + _LINE_CODE.pattern)
#: The end of a data set that another follows on its line (IEC 62056-21, 6.5: a data line is
#: one or more data sets; a Landis+Gyr UH50's ``6.8(0328.871*GJ)6.26(03329.67*m3)``): its
#: ``)``, and after it the next data set's address (up to 16 characters, IEC 62056-21's
#: bound: a letter or digit and no parenthesis, space, ``/`` or ``!``) and ``(``. A ``)``
#: inside a value (an Iskra AM550's ``1-0:0.2.0((ER11))``) or one that a value's text
#: follows (``(Zie (www) nu)``) ends none.
_DATA_SET_END = re.compile(rb"\)(?=[0-9A-Za-z][^()\s/!]{0,15}\()")


def data_sets(body: bytes) -> bytes:
    """``body``, the lines of a telegram, with a line end after each data set that another
    follows on its line, so that each data set is a frame of its own: its value read under
    its own code, a damaged one counted and dropped (by the format) while those beside it
    are read. One search of the body when no line holds more than one (a DSMR telegram)."""
    if _DATA_SET_END.search(body) is None:
        return body
    return _DATA_SET_END.sub(b")\r\n", body)


#: A line that begins with a short code (IEC 62056-61's reduced code, C.D.E or C.D, C 96 to 99
#: as a letter, as an IEC 62056-21 meter writes its data readout: ``1.8.1(``, ``C.7.0(``,
#: ``F.F(``) and the ``(`` of its value, the whole line with its LF.
_SHORT_CODE_LINE = re.compile(
    rb"^\x02?(?:\d{1,3}|[CFLP])\.(?:\d{1,3}|[CFLP])(?:\.\d{1,3})?(?:\*\d{1,3})?\(.*\n?",
    re.MULTILINE,
)
#: A DSMR telegram's end mark and check line after a byte that is no LF: its ``!`` inside a
#: line, the line end before it lost or damaged on the line (a ``!`` in the text of a DSMR 2.2
#: message is followed by more text).
_END_INSIDE = re.compile(rb"[^\n]![0-9A-Fa-f]{0,4}\r?\n")
#: A DSMR telegram's check line cut by the next telegram's ``/``: at most the 4 hex digits of
#: its CRC (their rest, and the line end, lost), or its digits, the NUL some meters send
#: after them (see :data:`_CHECK_LINE_OPEN`) and the CR of its line end (its LF lost), and
#: that ``/``.
_CHECK_CUT = re.compile(rb"[0-9A-Fa-f]{0,4}\0?\r?/")
#: A DSMR telegram's check line begun and not ended where the bytes end: its ``!`` at a line's
#: start, at most the 4 hex digits of its CRC, the NUL some meters send after it
#: (ndokter/dsmr_parser's telegram buffer takes ``![A-F0-9]{0,4}\0?\r\n``), and its CR.
_CHECK_LINE_OPEN = re.compile(rb"\n![0-9A-Fa-f]{0,4}\0?\r?\Z")
#: An IEC 62056-21 readout's ``!`` at the end of its last data line, after the ``)`` of its
#: last data set, and the CR LF and ETX after it: a Pafal 5EC3gr / 20EC3gr ends its data
#: block so (``0.2.2(:::::G11)!``), its block check over those bytes. Searched in a readout's
#: data block (STX after its identification) only: a DSMR telegram's ``!`` inside a line is
#: its text, or a line end lost.
_READOUT_BANG_INSIDE = re.compile(rb"\)!\r\n\x03")
#: An IEC 62056-21 readout's data block begun at its STX and ended at its ``!`` line, whose
#: ETX and block check have not come where the bytes end.
_READOUT_OPEN = re.compile(rb"\n!\r\n\Z")
#: How long the line must stay quiet after the ``!`` a DSMR telegram's bytes end in (or its
#: CRC's digits, or an IEC 62056-21 readout's ``!`` line) before the telegram is taken as
#: ended, its line end, CRC or ETX lost or never sent: a meter sends its telegram as one burst
#: (DSMR P1: the whole telegram at once; IEC 62056-21: the data message's characters one after
#: the other), so what is left of it comes within :data:`_QUIET_CHARS` character times,
#: held at most by the adapter that carries it: an FTDI chip up to its latency timer (16 ms by
#: default, 255 ms at most, FTDI AN232B-04), a serial server its packets and a delayed
#: acknowledgement (some 100 ms), a CRC that came in a USB piece of its own 30 to 60 ms after
#: its ``!``. The slack of those, in seconds.
QUIET_SLACK_S = 0.3
#: The longest pause between two characters of an IEC 62056-21 message (IEC 62056-21:2002,
#: 6.3.14: ``ta`` < 1500 ms): a readout's ETX and block check may come that long after its
#: ``!`` line's LF, and a readout whose ``!`` line came is taken as ended only once the line
#: has been quiet for this pause and ``quiet_s`` (its block check, when it comes, is checked).
#: A DSMR P1 telegram's quiet is ``quiet_s`` alone: its meter sends it as one burst.
READOUT_PAUSE_S = 1.5
#: The characters after a telegram's ``!`` that the quiet waits for at the line's speed: a
#: check line's 4 hex digits, CR and LF, or a readout's CR, LF, ETX and block check, and the
#: NUL some meters send before the CR, twice over.
_QUIET_CHARS = 16
#: The bits a character takes on the line at most (start, 8 data bits, parity and stop; 7E1,
#: IEC 62056-21's and DSMR 2.2's, takes 10).
_CHAR_BITS = 11
#: The line speed a framer assumes until it is told the port's (DSMR 2.2 and 3, IEC
#: 62056-21's readout after its switch-over).
_DEFAULT_BAUDRATE = 9600
#: The end of the bytes held that a quiet line may end the telegram of: its ``!`` at a
#: line's start, maybe its CRC's digits, a NUL (some meters send one before the CR LF, see
#: :data:`_CHECK_LINE_OPEN`) and CR, or a readout's ``!`` line; searched in the last
#: :data:`_OPEN_END_BYTES` bytes held only.
_OPEN_END = re.compile(rb"\n!(?:[0-9A-Fa-f]{0,4}\0?\r?|\r\n)\Z")
_OPEN_END_BYTES = 8


def quiet_after_end_s(baudrate: int) -> float:
    """How long a line of ``baudrate`` must stay quiet after a telegram's ``!`` for the
    telegram to be taken as ended (see :data:`QUIET_SLACK_S`)."""
    return QUIET_SLACK_S + _QUIET_CHARS * _CHAR_BITS / baudrate


#: The most bytes, with its LF, of a line between two DSMR telegrams that is skipped as it comes
#: (an empty line, a stray byte, a gateway's own line, whatever its bytes).
_STRAY_LINE_BYTES = 128


def header_end(data: bytes, start: int) -> int | None:
    """Where the header line of the DSMR telegram whose ``/`` is at ``start`` in ``data`` ends
    (the index of its LF): printable text (``/`` too: a Holley DTSD545's ``/HLY5/D545-METER``)
    and CR LF or LF, within :data:`_HEADER_BYTES` of the ``/``. :data:`_UNDECIDED` when the
    bytes after the ``/`` are all such text but its line end has not come; None when they are
    no header line (a byte that is no text before the line end, or no line end in bounds):
    noise, or the rest of an encrypted frame, whose ``/`` bytes begin no header."""
    limit = start + 1 + _HEADER_BYTES
    text = _HEADER_TEXT.match(data, start + 1, limit)
    assert text is not None  # the pattern matches the empty text
    at = text.end()
    if at == len(data):
        return _UNDECIDED if at < limit else None
    if data[at] == 0x0D:
        at += 1
        if at == len(data):
            return _UNDECIDED if at < limit else None
    return at if at < limit and data[at] == 0x0A else None


def identification(data: bytes, start: int) -> bool | None:
    """Whether the ``/`` at ``start`` in ``data`` begins an IEC 62056-21 identification, as
    every meter's header line does: ``/``, the maker's three letters (its FLAG id, ``ISk``,
    ``KFM``, ``HLY``), the baud rate character and text without parentheses, up to an LF
    within :data:`_HEADER_BYTES`. The bytes after the baud rate character may be damaged
    ones, as a header line that took a damaged byte is read (see :func:`_unchecked_fault`):
    a byte changed into one that is no text, its LF lost (``/ISk5\\2MT382-1003`` and CR CR
    LF, the empty line's). None while its line has not all come and its bytes so far may
    still be one. A ``/`` inside a line (a ``.`` whose low bit was flipped:
    ``1-0:1.8.1(000004/426*kWh)``; a DSMR 2.2 text message's, ``www.x.nl/storing``; the one
    inside a Holley DTSD545's ``/HLY5/D545-METER``) begins none."""
    limit = start + 1 + _HEADER_BYTES
    lf = data.find(b"\n", start + 1, limit)
    line = data[start : limit if lf < 0 else lf]
    first = line[:_IDENTIFICATION_BYTES]
    if b"(" in line or b")" in line or _IDENTIFICATION_START.fullmatch(first) is None:
        return False
    if lf < 0:
        return None if len(data) < limit else False
    return len(first) == _IDENTIFICATION_BYTES


def next_telegram(data: bytes, start: int, bound: int, prior: int | None) -> tuple[int, bool]:
    """Where in ``data[start:bound]`` the first ``/`` that begins a telegram is: one at a
    line's start (after an LF; ``prior`` is the byte before ``data``, None when none came
    since the port opened), or one inside a line, or after the port's open, that begins an
    identification (see :func:`identification`: the next telegram's, after the end of a
    telegram cut short mid-line, ``0-0:96.13.0(FFFF/HLY5/D545-METER`` in a Holley's capture;
    not the ``/`` of ``/D545-METER`` that a port opened inside that header line caught);
    -1 for none. With it, whether that ``/`` is one whose header line has not all come, that
    may yet begin one."""
    slash = data.find(b"/", start, bound)
    while slash >= 0:
        before = data[slash - 1] if slash else prior
        begins = before == 0x0A or identification(data, slash)
        if begins is None:
            return slash, True
        if begins:
            return slash, False
        slash = data.find(b"/", slash + 1, bound)
    return -1, False


def ciphered_frame_end(data: bytes, start: int, limit: int) -> int | None:
    """Where the DLMS general-glo-ciphering frame that begins at ``start`` in ``data`` (with
    ``0xDB 0x08``) ends, by its header (see the module docstring): past ``len(data)`` when it
    has not all come, :data:`_UNDECIDED` when its header has not; None when these bytes begin
    no such frame (a length form or security control byte that is none of one, a length too
    short for the frame counter and tag, or a frame of more than ``limit`` bytes)."""
    size = len(data)
    at = start + _CIPHERED_TITLE_END
    if at >= size:
        return _UNDECIDED
    form = data[at]
    width = 0 if form < 0x80 else form - 0x80
    if not 0 <= width <= 2 or form == 0x80:
        return None
    body = at + 1 + width  # the security control byte
    if body >= size:
        return _UNDECIDED
    length = form if not width else int.from_bytes(data[at + 1 : body], "big")
    control = data[body]
    if not control & 0x30 or control & 0x80 or control & 0x0F > 2:
        return None
    end = body + length
    if length < _CIPHERED_LEAST + (_CIPHERED_TAG if control & 0x10 else 0) or end - start > limit:
        return None
    return end


def ciphered_title(data: bytes, limit: int) -> bytes | None:
    """The system title of the whole DLMS general-glo-ciphering frames of at most ``limit``
    bytes in ``data`` (encrypted P1 telegrams), when two of them have it; None otherwise (a
    header that random bytes make, 1 % of 16 KiB of a meter read at the wrong line speed, is
    never two with one title)."""
    seen: set[bytes] = set()
    start = data.find(_CIPHERED)
    while start >= 0:
        end = ciphered_frame_end(data, start, limit)
        if end is not None and start < end <= len(data):
            title = data[start + 2 : start + _CIPHERED_TITLE_END]
            if title in seen:
                return title
            seen.add(title)
            start = data.find(_CIPHERED, end)
        else:
            start = data.find(_CIPHERED, start + 1)
    return None


#: An IEC 62056-46 HDLC frame's flag, which begins and ends it.
_HDLC_FLAG = 0x7E
#: The frame format field of an HDLC frame of type 3 (its first byte 0xA0 to 0xAF: the type,
#: the segmentation bit and the top 3 bits of the frame's 11-bit length).
_HDLC_TYPE_3 = re.compile(rb"\x7e[\xa0-\xaf]", re.DOTALL)
#: The fewest bytes an HDLC frame's length counts: format, addresses, control, HCS and FCS.
_HDLC_LEAST = 9


def hdlc_frames(data: bytes) -> int:
    """How many whole HDLC frames of IEC 62056-46 whose check holds are in ``data``: a DLMS
    smart meter's HAN port sends its lists so (``7E A0 E2 ... 7E``, a Kamstrup's 228 bytes).
    Each is 0x7E, a frame format of type 3 whose 11 bits of length count the bytes from it to
    the frame check sequence, that FCS (CRC-16/X-25 of the bytes it counts before it, low
    byte first) and 0x7E; random bytes make one such frame once in 65536 headers."""
    found = 0
    for head in _HDLC_TYPE_3.finditer(data):
        start = head.start()
        if start + 2 >= len(data):
            break
        length = (data[start + 1] & 0x07) << 8 | data[start + 2]
        end = start + 1 + length  # the closing flag
        if length < _HDLC_LEAST or end >= len(data) or data[end] != _HDLC_FLAG:
            continue
        if crc16_x25(data[start + 1 : end - 2]) == int.from_bytes(data[end - 2 : end], "little"):
            found += 1
    return found


def crs_stripped(data: bytes, crc: Callable[[bytes], int] = crc16_arc) -> bool:
    """Whether a DSMR telegram in ``data`` has lines that end in LF alone and a CRC (by
    ``crc``) that holds over its bytes with each LF made CR LF, as the meter sent them:
    something between the meter and sensord took its CRs out."""
    end = data.find(b"\n!")
    while end >= 0:
        check = data[end + 2 : end + 6]
        last = data.rfind(b"/", 0, end)
        # the telegram's '/' is the first of the line of the last one (a header may hold one)
        start = data.find(b"/", data.rfind(b"\n", 0, last) + 1) if last >= 0 else -1
        if start >= 0 and len(check) == 4 and _HEX_DIGITS.fullmatch(check):
            body = data[start : end + 2]
            if b"\r" not in body and crc(body.replace(b"\n", b"\r\n")) == int(check, 16):
                return True
        end = data.find(b"\n!", end + 2)
    return False


def encrypted_hint(title: bytes) -> str:
    """What a meter that sends encrypted telegrams, with the system title ``title``, is told:
    the title in hex, and its first three bytes when they are a maker's letters (``SAG``)."""
    maker = title[:3]
    made = f", maker {maker.decode()}" if maker.isalpha() and maker.isupper() else ""
    return (
        "the meter sends its telegrams encrypted (DLMS general-glo-ciphering, system title "
        f"{title.hex().upper()}{made}: a Luxembourg Smarty, or another meter that encrypts its "
        "P1 port), which sensord does not decrypt: read it through a P1 adapter that decrypts "
        "them, or ask the grid operator for the meter's key and decrypt them before sensord "
        "(a proxy that writes the plain telegrams to a port sensord reads)"
    )


def _first_line_end(data: bytes, start: int, stop: int) -> int:
    """Where the first CR or LF in ``data[start:stop]`` is; -1 for none."""
    cr = data.find(b"\r", start, stop)
    lf = data.find(b"\n", start, stop if cr < 0 else cr)
    return cr if lf < 0 else lf


class BlockFramer(LineFramer):
    """Finds the blocks of ``kind`` in a byte stream, checks each and cuts the lines of those
    whose check holds; see the module docstring.

    The counters are :class:`~sensord.formats.lines.LineFramer`'s (``frames`` are the lines
    passed on), with ``rejected`` holding the lines of the blocks rejected, by reason, and
    ``ignored`` the HEX messages of a VE.Direct device; ``rejections`` counts the blocks
    rejected, and :meth:`last_rejected` says why the last of a reason was, for the log.
    """

    __slots__ = (
        "_after_end",
        "_block",
        "_crc",
        "_crc_name",
        "_crc_seen",
        "_dropping",
        "_ended",
        "_first_lines",
        "_kind",
        "_last",
        "_open_end",
        "_other_crc",
        "_other_crc_holds",
        "_prior",
        "_sets",
        "_synced",
        "max_block_bytes",
        "quiet_s",
        "rejections",
    )

    def __init__(
        self,
        kind: str,
        max_frame_bytes: int = 512,
        *,
        strip_nul: bool = False,
        max_block_bytes: int = MAX_BLOCK_BYTES,
        crc: str | None = None,
        data_sets: bool = False,
    ) -> None:
        if kind not in BLOCK_KINDS:
            raise ValueError(f"block must be one of {', '.join(BLOCK_KINDS)}; got {kind!r}")
        if crc is not None and (kind != "dsmr" or crc not in DSMR_CRCS):
            raise ValueError(f"crc: a DSMR telegram's, one of {', '.join(DSMR_CRCS)}; got {crc!r}")
        if max_block_bytes < 64:
            raise ValueError(f"max_block_bytes must be at least 64, got {max_block_bytes}")
        super().__init__(b"\n", max_frame_bytes, strip_nul=strip_nul)
        if kind == "dsmr":  # the tables of its CRC at the start (CRC-16/ARC's is the hint's
            # too, for a meter of CRC-16/X-25, whose telegram failed)
            prepare_crc16_arc()
            if crc == "crc16_x25":
                prepare_crc16_x25()
        self._kind = kind
        self.max_block_bytes = max_block_bytes
        self.rejected = {"checksum": 0, "syntax": 0, "truncated": 0}
        #: the blocks rejected, whatever their reason (the sensor tells of each new one)
        self.rejections = 0
        #: the last block rejected for each reason: why, and its first bytes
        self._last: dict[str, tuple[str, bytes]] = {}
        #: the bytes of a block that has not all come (from its start)
        self._block = b""
        #: a DSMR meter has sent a telegram with a CRC
        self._crc_seen = False
        #: the CRC of a DSMR telegram (parse.crc) and its name, and the other one and its name
        self._crc, self._crc_name = _DSMR_CRC[crc or DSMR_CRCS[0]]
        self._other_crc = next(name for name in DSMR_CRCS if name != (crc or DSMR_CRCS[0]))
        #: the telegrams whose CRC failed but held by the other CRC (see no_frame_hint)
        self._other_crc_holds = 0
        #: a VE.Direct block starts where the bytes held begin
        self._synced = False
        #: the bytes held begin right after a DSMR telegram's check line (a telegram that lost
        #: its header may follow)
        self._after_end = False
        #: an overlong block is being dropped, up to the next start of a block
        self._dropping = False
        #: the byte before the bytes held (None: none came since the port opened)
        self._prior: int | None = None
        #: the lines that begin the device's VE.Direct blocks (see _learn_first_line)
        self._first_lines: tuple[bytes, ...] = (*_VE_FIRST_LINES, _VE_READINGS, _VE_CHARGER_REST)
        #: the bytes held are a DSMR telegram whose '!' (and CRC's digits, or readout's line
        #: end) came last, which a quiet line ends (see quiet_end_at)
        self._open_end = False
        #: no byte comes after those framed: a readout's ETX is not waited for
        self._ended = False
        #: each data set of a telegram's line is a line of its own (format dsmr's: a kv
        #: format's line of pairs is one frame)
        self._sets = data_sets
        #: how long the line stays quiet after a telegram's '!' before it is taken as ended
        self.quiet_s = quiet_after_end_s(_DEFAULT_BAUDRATE)

    def line_speed(self, baudrate: int) -> None:
        """The port's line runs at ``baudrate``: the quiet after a telegram's ``!`` that ends
        it is :func:`quiet_after_end_s` of it."""
        self.quiet_s = quiet_after_end_s(baudrate)

    def reset(self) -> None:
        """Forget a block that has not all come (counted in ``skipped_bytes``) and where the
        next one starts. Counters are kept, and so are the lines learned to begin VE.Direct
        blocks (another device's blocks unteach those they hold after their first line)."""
        self.skipped_bytes += len(self._block)
        self._block = b""
        self._synced = self._dropping = self._after_end = self._open_end = False
        self._prior = None
        LineFramer.reset(self)

    def drop_pending(self) -> None:
        """See :meth:`sensord.formats.base.Framer.drop_pending`."""
        BlockFramer.reset(self)

    def flush(self) -> list[bytes]:
        """See :meth:`sensord.formats.base.Framer.flush`: a block that has not all come gives
        no line, but a DSMR telegram whose ``!`` came and whose check line's end did not (the
        stream ended after its ``!``, its CRC's digits or their CR) is checked as if its line
        end had come: a DSMR 2.2 or 3 telegram is read, one whose CRC is lost or cut short is
        ``truncated``; so is an IEC 62056-21 readout whose ETX and block check did not come
        (read unchecked, as one that sends none)."""
        lines: list[bytes] = []
        data = self._block
        if (
            self._kind == "dsmr"
            and not self._dropping
            and (_CHECK_LINE_OPEN.search(data) or _READOUT_OPEN.search(data))
        ):
            lines = self._end_held()
        BlockFramer.reset(self)
        return lines

    def quiet_end_at(self, byte_at: float) -> float | None:
        """When the DSMR telegram whose ``!`` ended the bytes held is taken as ended, the
        line quiet since its last byte came at ``byte_at`` (the time of ``feed``'s last
        chunk): ``quiet_s`` later; None when no such telegram is held. A telegram of DSMR 2.2
        or 3 whose CR LF after its ``!`` was lost, one whose CRC came and holds but not its
        line end, or an IEC 62056-21 readout whose ETX and block check do not follow its
        ``!`` line is read then (:meth:`end_quiet`), as the next telegram's ``/`` would read
        it, a telegram interval later; one whose CRC has not come (a meter that sends one) or
        does not hold is left to the bytes that come next, as before. A readout's ``!`` line
        waits :data:`READOUT_PAUSE_S` more, for an ETX and block check its meter may send
        that long after it."""
        if not self._open_end:
            return None
        if self._block.endswith(b"\n"):  # a readout's '!' line (see _ends_open)
            return byte_at + READOUT_PAUSE_S + self.quiet_s
        return byte_at + self.quiet_s

    def end_quiet(self) -> list[bytes]:
        """The lines of the telegram :meth:`quiet_end_at` tells of, taken as ended: the line
        was quiet for ``quiet_s`` after its last byte. Nothing when none is held."""
        if not self._open_end:
            return []
        self._open_end = False
        return self._end_held() if self._read_at_end(self._block) else []

    def _end_held(self) -> list[bytes]:
        """The lines of the DSMR telegram whose ``!`` line (its ``!``, CRC digits and CR, or a
        readout's ``!`` line) ends the bytes held, checked as if its line end had come and
        nothing more will: no ETX is waited for. The bytes held are those after it."""
        data = self._block
        tail = b"" if data.endswith(b"\n") else b"\n" if data.endswith(b"\r") else b"\r\n"
        bodies: list[bytes] = []
        self._ended = True
        try:
            held = self._telegrams(data + tail, bodies)
        finally:
            self._ended = False
        if held:
            self._prior = (data + tail)[held - 1]
        self._block = data[held:]
        return self._lines_of(bodies)

    def _ends_open(self, block: bytes) -> bool:
        """Whether ``block``, the bytes held after a chunk, may be a DSMR telegram whose end a
        quiet line makes: from its ``/`` to a ``!`` at a line's start, maybe its CRC's digits
        and CR, or a readout's ``!`` line (its last :data:`_OPEN_END_BYTES` bytes alone are
        searched: a few steps a chunk)."""
        size = len(block)
        bang = block.rfind(b"\n!", size - _OPEN_END_BYTES if size > _OPEN_END_BYTES else 0)
        return (
            bang >= 0
            and block[:1] == b"/"
            and not self._dropping
            and _OPEN_END.match(block, bang) is not None
        )

    def _read_at_end(self, block: bytes) -> bool:
        """Whether the telegram that ``block`` holds (see :meth:`_ends_open`) is read when
        taken as ended: its CRC's digits hold (4 digits, or fewer, written without its
        leading zeros), or it has none where none is expected (no CRC came before, nor a line
        of DSMR 4 or later), or it is a readout whose ``!`` line came (its ETX and block check
        may follow; a readout that sends none is read unchecked). One whose CRC has not all
        come, or does not hold, is not: the bytes that come next tell, as they always did."""
        tail = _OPEN_END.search(block, max(0, len(block) - _OPEN_END_BYTES))
        if tail is None:
            return False
        end = tail.start() + 1
        digits = block[end + 1 :].rstrip(b"\r\n").rstrip(b"\0")
        if block.endswith(b"\r\n"):  # a readout's '!' line: its ETX may come
            return block[block.find(b"\n") + 1 : block.find(b"\n") + 2] == _STX
        if digits:
            return self._crc(block[: end + 1]) == int(digits, 16)
        return not self._crc_seen and _CRC_REQUIRED.search(block, 0, end) is None

    def no_frame_hint(self, data: bytes) -> str:
        """See :meth:`sensord.formats.base.Framer.no_frame_hint`; names the system title of
        a meter that sends its telegrams encrypted."""
        if self._kind == "dsmr":
            title = ciphered_title(data, self.max_block_bytes)
            if title is not None:
                return encrypted_hint(title)
            if hdlc_frames(data) >= 2:
                return (
                    "the meter sends binary DLMS/COSEM HDLC frames (7E A0 ... 7E, IEC 62056-46), "
                    "as the HAN port of a Nordic meter (Kamstrup, Aidon, Kaifa) does, not DSMR "
                    "text telegrams: read them with format = 'frames' (the README has the frame "
                    "spec of a Kamstrup Omnipower's), or read the meter's P1 port if it has one"
                )
        if not looks_like_text(data) and not (
            # a Hungarian meter's telegrams, no text by their share of bytes (a text message of
            # 1024 bytes 0xFF), hold lines of readings: telegrams, told of as text's are
            self._kind == "dsmr" and _LINE_CODES.search(data) is not None
        ):  # a '/' in bytes that are not text begins no telegram
            hint = LineFramer.no_frame_hint(self, data)
            if self._kind == "dsmr":
                hint += (
                    "; a Luxembourg Smarty meter sends its telegrams encrypted, which sensord "
                    "does not read"
                )
            return hint
        rejected = ", ".join(f"{n} {why}" for why, n in sorted(self.rejected.items()) if n)
        if rejected:
            if self._kind == "dsmr" and self._other_crc_holds >= _OTHER_CRC_TOLD:
                _, other_name = _DSMR_CRC[self._other_crc]
                return (
                    f"telegrams came whose CRC fails by {self._crc_name} and holds by "
                    f"{other_name}: the meter writes {other_name}; {self._crc_hint()}"
                )
            if self._kind == "dsmr" and crs_stripped(data, self._crc):
                return (
                    "telegrams came whose lines end in LF alone, and whose CRC holds over them "
                    "with the CR LF line ends a meter sends: something between the meter and "
                    "sensord (a network bridge, a logger) takes the CRs out; have it pass the "
                    "bytes unchanged"
                )
            return (
                f"blocks came but failed their check (their lines: {rejected}): bytes lost or "
                "changed on the line; check the cable, its length and the serial settings"
            )
        if self._kind == "gill":
            if _STX not in data:
                return (
                    "no message start (STX, 02) in the bytes: is this a Gill anemometer "
                    "(parse.block = 'gill') in an ASCII output mode, not NMEA?"
                )
            return (
                "a message began (STX, 02) but its end (ETX, 03, and its check) did not "
                "come: check that the anemometer sends its ASCII messages with a checksum"
            )
        if self._kind == "dsmr":
            if b"/" not in data:
                return (
                    "no telegram start '/' in the bytes: is this a DSMR P1 port (parse.block = "
                    "'dsmr')?"
                )
            return (
                "a telegram began ('/') but its end ('!' and its CRC) did not come: check "
                "that the meter sends DSMR telegrams"
            )
        if _VE_END not in data:
            return (
                "no VE.Direct block end (a 'Checksum' line after a CR LF) in the bytes: is "
                "this a VE.Direct text port (parse.block = 'vedirect'), in text mode?"
            )
        return "blocks came but none held a line"

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add ``chunk`` to the stream and return the lines of the blocks it completed whose
        check holds."""
        if not chunk:
            return []
        data = self._block + chunk if self._block else chunk
        bodies: list[bytes] = []
        if self._kind == "dsmr":
            held = self._telegrams(data, bodies)
        elif self._kind == "gill":
            held = self._gill_messages(data, bodies)
        else:
            held = self._ve_blocks(data, bodies)
        lines = self._lines_of(bodies)
        if not self._dropping and len(data) - held > self.max_block_bytes:
            # the block held has grown past the bound: dropped with what follows it, up to
            # the next start of a block
            self.overlong += 1
            self._dropping = True
            self._synced = False
            self._block = b""
            past = self._past_start(data, held)
            self._prior = data[past - 1]
            return lines + self.feed(data[past:])
        if held:
            self._prior = data[held - 1]
        self._block = block = data[held:]
        if self._kind == "dsmr":  # a '!' line among the last bytes held: a quiet line may end it
            # (a negative start counts from the end: a block that short begins no telegram)
            self._open_end = block.rfind(
                b"\n!", len(block) - _OPEN_END_BYTES
            ) >= 0 and self._ends_open(block)
        return lines

    def _lines_of(self, bodies: list[bytes]) -> list[bytes]:
        lines: list[bytes] = []
        for body in bodies:
            lines += LineFramer.feed(self, body if body.endswith(b"\n") else body + b"\n")
        return lines

    def _past_start(self, data: bytes, start: int) -> int:
        """Where the bytes after the start of the block at ``start`` in ``data``, which is
        dropped as overlong, are searched for the next block's start: after a DSMR
        telegram's header line (a ``/`` in it begins no telegram), else the next byte."""
        if self._kind == "dsmr" and data[start] == ord("/"):
            head = header_end(data, start)
            if head is not None and head != _UNDECIDED:
                return head + 1
        return start + 1

    def _too_long(self, start: int, decided_at: int) -> bool:
        """Whether the block from ``start``, whose fate the byte before ``decided_at`` decides,
        is overlong: more than ``max_block_bytes`` of it would have been held before that
        byte came, however the stream was chunked. If so it is counted, and dropped with what
        follows it."""
        if decided_at - 1 - start <= self.max_block_bytes:
            return False
        self.overlong += 1
        self._dropping = True
        self._synced = self._after_end = False
        return True

    def _telegrams(self, data: bytes, bodies: list[bytes]) -> int:
        """Take the whole telegrams out of ``data``; their bodies whose check holds go to
        ``bodies``. Returns where the bytes to hold begin (a telegram not all come)."""
        pos = 0
        size = len(data)
        while pos < size:
            start, undecided = next_telegram(data, pos, size, self._prior)
            ciphered = data.find(_CIPHERED, pos, size if start < 0 else start)
            if self._after_end and not self._dropping:
                # the lines after a telegram's end and before the next '/': a telegram whose
                # header line was lost, from a line of readings to a '!'
                # (up to the data's end when a '/' inside a line may yet begin one)
                stop = ciphered if ciphered >= 0 else size if start < 0 or undecided else start
                after, hold = self._after_telegram(data, pos, stop)
                if hold:
                    return after
                if after != pos:
                    pos = after
                    continue
            if ciphered >= 0:  # an encrypted telegram, maybe
                self._after_end = False
                frame_end = ciphered_frame_end(data, ciphered, self.max_block_bytes)
                if not self._dropping:
                    self.skipped_bytes += ciphered - pos + (frame_end is None)
                if frame_end is None:
                    pos = ciphered + 1
                    continue
                if frame_end == _UNDECIDED:
                    return ciphered
                inside = self._telegram_inside(data, ciphered, frame_end)
                if inside is not None:  # the frame's header was line noise, or may have been
                    if inside == _UNDECIDED:
                        return ciphered
                    self._dropping = False
                    self.skipped_bytes += inside - ciphered
                    pos = inside
                    continue
                if frame_end > size:
                    return ciphered
                self._dropping = False
                self.skipped_bytes += frame_end - ciphered
                pos = frame_end
                continue
            if start < 0:
                held = size - 1 if data[-1] == _CIPHERED[0] else size  # 0xDB: a frame's start?
                if not self._dropping:
                    self.skipped_bytes += held - pos
                return held
            if not self._dropping:
                self.skipped_bytes += start - pos
            if undecided:  # a '/' inside a line, or the first byte, whose header has not come
                return start
            self._dropping = False
            end = data.find(b"\n!", start)  # the end mark begins a line
            end += 1 if end >= 0 else 0
            bound = end if end >= 0 else size
            head = header_end(data, start)
            if head == _UNDECIDED:  # a '/' in it may be the header's, or the next telegram's
                return start
            if head is not None and data[head + 1 : head + 2] == _STX:
                # a readout's '!' may end its last data line (a Pafal 20EC3gr's
                # '0.2.2(:::::G11)!'), its CR LF and ETX after it
                bang_inside = _READOUT_BANG_INSIDE.search(data, head + 1, bound)
                if bang_inside is not None:
                    end = bound = bang_inside.start() + 1
            # a '/' in the header line is the header's; one after it at a line's start, or
            # inside a line before an identification, begins a new telegram
            again, undecided = next_telegram(
                data, start + 1 if head is None else head + 1, bound, None
            )
            if undecided:  # the header line after a '/' inside a line has not all come
                return start
            cut = data.find(_CIPHERED, start + 1, bound if again < 0 else again)
            if cut >= 0:  # an encrypted frame begins: no telegram began at this '/'
                if not self._too_long(start, cut + 2):
                    self.skipped_bytes += cut - start
                pos = cut
                continue
            if again >= 0:  # a new telegram before this one's end
                # known at its '/' after an LF, at its header line's end inside a line
                known = again if data[again - 1] == 0x0A else header_end(data, again) or again
                if not self._too_long(start, known + 1):
                    if _telegram_text(data, start, again):
                        end_inside = _END_INSIDE.search(data, start, again)
                        self._reject(
                            "truncated",
                            data[start:again],
                            "cut short: the next telegram's '/' came before its '!'"
                            if end_inside is None
                            else "its '!' came inside a line (the line end before it lost or "
                            "damaged), and the next telegram's '/' after it",
                        )
                    else:  # a '/' in bytes that are no telegram's (an encrypted frame's) began none
                        self.skipped_bytes += again - start
                pos = again
                continue
            if end < 0:
                return start
            cut_by = _CHECK_CUT.match(data, end + 1, end + 1 + _CHECK_LINE_BYTES)
            if cut_by is not None:  # the next telegram's '/' came in its check line
                slash = cut_by.end() - 1
                begins = identification(data, slash)
                if begins is None:
                    return start
                if begins:
                    lf = data.find(b"\n", slash + 1, slash + 1 + _HEADER_BYTES)
                    if not self._too_long(start, lf + 1):
                        digits = data[end + 1 : slash]
                        line_came = digits.endswith(b"\r")  # its check line but for its LF
                        digits = digits.rstrip(b"\r").rstrip(b"\0")  # a NUL after its CRC
                        if line_came:
                            self._check(data, (start, head, end), digits, bodies)
                        elif not digits and self._telegram_fault(data, start, end, b"") is None:
                            # a telegram without a CRC (DSMR 2.2 or 3) ends in its '!': it
                            # came whole, and only its line end was lost
                            self._check(data, (start, head, end), b"", bodies)
                        elif digits and self._crc(data[start : end + 1]) == int(digits, 16):
                            # its CRC came whole and holds: only its line end was lost
                            self._crc_seen = True
                            bodies.append(self._data_sets(data[data.index(b"\n", start) + 1 : end]))
                        else:
                            self._reject(
                                "truncated",
                                data[start:end],
                                f"cut short in its CRC line: the next telegram's '/' came "
                                f"after '!{digits.decode('ascii')}'",
                            )
                    pos = slash
                    self._after_end = False
                    continue
            line_end = data.find(b"\n", end + 1, end + 1 + _CHECK_LINE_BYTES)
            if line_end < 0:
                if size - end <= _CHECK_LINE_BYTES:
                    return start
                if not self._too_long(start, end + 1 + _CHECK_LINE_BYTES):
                    self._reject(
                        "syntax",
                        data[start:end],
                        f"no line end within {_CHECK_LINE_BYTES} bytes of its '!'",
                    )
                pos = end + 1
                self._after_end = False  # in its check line
                continue
            if self._too_long(start, line_end + 1):
                pos = self._past_start(data, start)
                continue
            pos = line_end + 1
            check = data[end + 1 : line_end].rstrip(b"\r").rstrip(b"\0")
            if not check and data[data.index(b"\n", start) + 1] == _STX[0]:
                # an IEC 62056-21 readout's data block: its ETX and block check follow
                if size - pos < 2 and data[pos:] in (b"", _ETX) and not self._ended:
                    return start
                if data[pos : pos + 1] == _ETX and pos + 1 < size:
                    fault = _block_check_fault(data, data.index(b"\n", start) + 1, pos + 1)
                    pos += 2
                    if fault is not None:
                        self._reject("checksum", data[start:end], fault)
                        self._after_end = True
                        continue
            self._after_end = True
            self._check(data, (start, head, end), check, bodies)
        return size

    def _check(
        self, data: bytes, marks: tuple[int, int | None, int], check: bytes, bodies: list[bytes]
    ) -> None:
        """The telegram of ``data`` whose ``/``, header line's end (None: not known) and ``!``
        are at ``marks``, its check line ``check`` (the CRC's digits, or nothing) come whole:
        its body appended to ``bodies``, or the telegram rejected."""
        start, head, end = marks
        fault = self._telegram_fault(data, start, end, check)
        if fault is not None and fault[0] == "checksum":
            inner = self._cut_inside(data, start, end, check)
            if inner is not None:  # cut short by the next telegram, whose '/' began none
                self._reject(
                    "truncated",
                    data[start:inner],
                    "cut short in its header line: the next telegram's '/' came"
                    if head is not None and inner < head
                    else "cut short: the next telegram's '/' came before its '!'",
                )
                bodies.append(self._data_sets(data[data.index(b"\n", inner) + 1 : end]))
                return
        if fault is not None:
            why, detail = fault
            self._reject(why, data[start:end], detail)
            return
        torn = None if check else _unchecked_fault(data, start, head, end)
        if torn is not None:  # read unchecked: its lines alone tell it was cut or damaged
            reason, damage, in_header = torn
            self._reject(reason, data[start:end], damage, first_line=in_header)
            return
        # after the header line (the LF before the '!' ends it, if no other does)
        body = self._data_sets(data[data.index(b"\n", start) + 1 : end])
        bodies.append(body if check else self._short_lines_out(body))

    def _data_sets(self, body: bytes) -> bytes:
        """``body``, a telegram's lines, each data set on a line of its own when the framer
        cuts data sets (``data_sets``; see :func:`data_sets`)."""
        return data_sets(body) if self._sets else body

    def _short_lines_out(self, body: bytes) -> bytes:
        """``body``, the lines of a telegram read unchecked (no CRC), without those that begin
        with a short code (``1.7.0*255(``) when another of its lines begins with a whole one
        (``1-0:1.8.0*255(``), each rejected as ``syntax``. A meter writes its codes one way:
        an IEC 62056-21 meter's readout all short (a Landis+Gyr E350's ``1.8.1(``,
        ``C.7.0(``), a DSMR or EasyMeter telegram all with their A-B groups. A short code
        among whole ones is a line that lost its start on the line, which no CRC refused
        (an EasyMeter's L1 power ``1-0:21.7.0*255(000557.29*W)`` that lost ``1-0:2`` names
        the total power's code, ``1.7.0``): read, it would publish its value under a code it
        was not written with."""
        short = _SHORT_CODE_LINE.search(body)
        if short is None or _LINE_CODES.search(body) is None:
            return body
        kept: list[bytes] = []
        pos = 0
        while short is not None:
            kept.append(body[pos : short.start()])
            line = short[0].rstrip(b"\r\n")
            self.rejected["syntax"] += 1
            self._rejected_block(
                "syntax",
                line,
                f"a line damaged: {line[:24].decode('latin-1')!r} begins with a short code "
                "(no A-B:) in a telegram whose other lines' codes have their A-B: groups; read "
                "unchecked (no CRC), it is a line that lost its start on the line, not read as "
                "another code",
            )
            pos = short.end()
            short = _SHORT_CODE_LINE.search(body, pos)
        kept.append(body[pos:])
        return b"".join(kept)

    def _after_telegram(self, data: bytes, pos: int, stop: int) -> tuple[int, bool]:
        """Frame the lines of ``data`` from ``pos``, after a telegram's check line, up to
        ``stop`` (the next ``/``, an encrypted frame's start, or the data's end): those that
        begin with no code (empty lines, the stray byte or the lines of a gateway some meters
        send between telegrams, whatever their bytes, a header line whose ``/`` was damaged)
        are skipped as they come; from a line of readings (``1-0:1.8.1(``) to a ``!`` that
        begins a line, and its check line, the bytes are a telegram whose header line was
        lost, rejected (``truncated``): without its ``/`` its start is not known, and a CRC,
        which covers the ``/``, cannot be checked. Returns where the bytes still to frame
        begin, and whether they are held (a line, or such a telegram, not all come); the
        search ends (``_after_end``) at bytes that can be neither (no line end within
        :data:`_STRAY_LINE_BYTES`)."""
        size = len(data)
        while pos < stop:
            if _LINE_CODE.match(data, pos, stop):
                return self._headless(data, pos, stop)
            lf = data.find(b"\n", pos, min(stop, pos + _STRAY_LINE_BYTES))
            if lf < 0:
                if stop == size and size - pos < _STRAY_LINE_BYTES:
                    return pos, True  # a line not all come
                break
            self.skipped_bytes += lf + 1 - pos
            pos = lf + 1
        else:
            return pos, False
        self._after_end = False
        return pos, False

    def _headless(self, data: bytes, pos: int, stop: int) -> tuple[int, bool]:
        """The telegram whose header line was lost whose first line of readings begins at
        ``pos`` (see :meth:`_after_telegram`): rejected once its ``!`` and its check line came
        before ``stop`` and within ``max_block_bytes`` of that line, and where the bytes
        after it begin; held while they may yet come (no ``/`` came, and its text is within
        ``max_block_bytes``); left to the search for telegrams otherwise (``_after_end``
        ends: text that no ``!`` ends is skipped, as bytes between telegrams are). Its
        values may hold bytes that are no text, as a Hungarian meter's text message of 1024
        bytes 0xFF does: a line of readings began it, and its ``!`` and check line end it."""
        size = len(data)
        open_end = stop == size and size - pos < self.max_block_bytes
        within = min(stop, pos + self.max_block_bytes)  # as much as is held for it
        bang = data.find(b"\n!", pos, within)
        end = bang + 1
        if bang < 0:
            if open_end:
                return pos, True
        else:
            line_end = data.find(b"\n", end + 1, min(within, end + 1 + _CHECK_LINE_BYTES))
            if line_end >= 0:
                self._reject(
                    "truncated",
                    b"\n" + data[pos:end],
                    "its header line was lost: no '/' began it, and its lines came after the "
                    "end of the telegram before it",
                )
                return line_end + 1, False
            if open_end and size - end <= _CHECK_LINE_BYTES:
                return pos, True
        self._after_end = False
        return pos, False

    def _cut_inside(self, data: bytes, start: int, end: int, check: bytes) -> int | None:
        """Where the telegram whose check holds begins inside the telegram from ``start`` to
        its ``!`` at ``end``, whose check failed: a ``/`` after ``start`` from which ``check``
        holds (the telegram was cut short in its header line, or inside a line by a
        telegram whose header is no identification, and the next one came); None when there
        is none. A meter's telegram holds no ``/`` after its header line, so only the ``/``
        bytes of the line of the last one before ``end``, within :data:`_HEADER_BYTES` of
        its LF, are tried: a few CRCs, however many ``/`` bytes the text holds."""
        last = data.rfind(b"/", start + 1, end)
        lf = data.find(b"\n", last, end) if last >= 0 else -1
        if lf < 0:
            return None
        line = data.rfind(b"\n", start, last) + 1
        inner = data.find(b"/", max(start + 1, line, lf - _HEADER_BYTES), lf)
        while inner >= 0:
            if self._telegram_fault(data, inner, end, check) is None:
                return inner
            inner = data.find(b"/", inner + 1, lf)
        return None

    def _telegram_inside(self, data: bytes, start: int, frame_end: int) -> int | None:
        """Where the first telegram whose check holds begins inside the encrypted frame from
        ``start`` to ``frame_end`` (maybe past the data): a ``/`` in it followed by text up to
        a whole check line, all within ``max_block_bytes`` of ``start``; :data:`_UNDECIDED`
        when one may yet (its end has not come); None when none does, as in a real frame's
        ciphertext, where a ``/`` is soon followed by a byte that is no text."""
        size = len(data)
        open_end = size - start < self.max_block_bytes  # an end yet to come may be in bounds
        slash = data.find(b"/", start + 2, min(frame_end, size))
        while slash >= 0:
            head = header_end(data, slash)
            after = size if head == _UNDECIDED else slash + 1 if head is None else head + 1
            no_text = _NOT_TELEGRAM_TEXT.search(data, after)  # a header line may hold a '/'
            text_end = size if no_text is None else no_text.start()
            end = data.find(b"\n!", slash, text_end) + 1  # its '!', or 0
            if not end:
                if text_end == size and open_end:
                    return _UNDECIDED
            else:
                line_end = data.find(b"\n", end + 1, end + 1 + _CHECK_LINE_BYTES)
                if line_end < 0:
                    if size - end <= _CHECK_LINE_BYTES and open_end:
                        return _UNDECIDED
                elif line_end + 1 - start <= self.max_block_bytes:
                    check = data[end + 1 : line_end].rstrip(b"\r").rstrip(b"\0")
                    if self._telegram_fault(data, slash, end, check) is None:
                        return slash
            slash = data.find(b"/", slash + 1, min(frame_end, size))
        return None

    def _reject(self, why: str, block: bytes, detail: str, *, first_line: bool = False) -> None:
        """Count the lines of ``block`` (from its start to its end mark, its first line a
        header or empty) in ``rejected[why]``: each is a frame lost (each data set, when the
        framer cuts data sets), and the block's first line none, unless ``first_line`` (a
        header line that a line of the block ran into).
        A block without lines counts as one. ``detail`` says what is wrong with it."""
        lines = self._data_sets(block).split(b"\n")[0 if first_line else 1 :]
        self.rejected[why] += max(1, len(lines) - lines.count(b"") - lines.count(b"\r"))
        self._rejected_block(why, block, detail)

    def _rejected_block(self, why: str, block: bytes, detail: str) -> None:
        """``block`` was rejected for ``why`` (counted by the caller): told of by
        :meth:`last_rejected`."""
        self.rejections += 1
        self._last[why] = (detail, block[:_SHOWN_BYTES])

    def last_rejected(self, reason: str) -> tuple[str, bytes]:
        """The last block rejected for ``reason`` (one of ``rejected``): why, as a line for
        the log, and its first bytes."""
        return self._last.get(reason, ("", b""))

    def _telegram_fault(
        self, data: bytes, start: int, end: int, check: bytes
    ) -> tuple[str, str] | None:
        """Why the telegram from ``start`` to its ``!`` at ``end``, with ``check`` after it,
        is rejected (its reason, and what is wrong), or None."""
        if not check:
            if self._crc_seen:
                return "truncated", "no CRC after its '!' (the meter has sent one before)"
            version = _CRC_REQUIRED.search(data, start, end)
            if version is None:
                return None  # DSMR 2.2 or 3: read unchecked
            at = version.start() + 1
            line = data[at : min(at + 20, end)].split(b"\r")[0].split(b"\n")[0]
            return "truncated", (
                f"no CRC after its '!', which a telegram of DSMR 4 or later "
                f"({line.decode('latin-1')}) always has"
            )
        if len(check) != 4 or _HEX_DIGITS.fullmatch(check) is None:
            shown = check.decode("latin-1")
            if len(check) < 4 and _HEX_DIGITS.fullmatch(check):
                body = data[start : end + 1]
                crc = self._crc(body)
                if crc == int(check, 16):
                    self._crc_seen = True  # written without its leading zeros
                    return None
                other = self._other_crc_holds_by(body, check)
                if other:  # the other CRC's, written without its leading zeros
                    zeros = "zero" if len(check) == 3 else "zeros"
                    return "checksum", (
                        f"its CRC {shown} ({int(check, 16):04X} without its leading {zeros}) "
                        f"does not hold: its bytes give {crc:04X}{other}"
                    )
                return "truncated", f"its CRC {shown!r} is cut short"
            return "syntax", f"its CRC line {shown[:8]!r} is no 4 hex digits"
        body = data[start : end + 1]
        crc = self._crc(body)
        if crc != int(check, 16):
            detail = f"its CRC {check.decode()} does not hold: its bytes give {crc:04X}"
            return "checksum", detail + self._other_crc_holds_by(body, check)
        self._crc_seen = True
        return None

    def _other_crc_holds_by(self, body: bytes, check: bytes) -> str:
        """When ``check``, the hex digits of the CRC of the telegram ``body`` (from its ``/``
        to its ``!``) that failed ``parse.crc``, holds by the other of :data:`_DSMR_CRC`: the
        end of the rejection's detail that says so and which ``parse.crc`` to set (and the
        telegram counts towards the hint's); ``""`` otherwise."""
        other, other_name = _DSMR_CRC[self._other_crc]
        value = int(check, 16)
        if other(body) != value:
            return ""
        self._other_crc_holds += 1
        return (
            f" by {self._crc_name}, and {value:04X} by {other_name}: the meter writes "
            f"{other_name}; {self._crc_hint()}"
        )

    def _crc_hint(self) -> str:
        """What to set to check a meter's telegrams by the CRC that is not ``parse.crc``."""
        if self._other_crc == "crc16_x25":
            return "set parse.crc = 'crc16_x25' (a Holley DTSD545 writes it, not DSMR's CRC-16/ARC)"
        return "leave parse.crc out (DSMR's CRC-16/ARC, which this meter writes)"

    def _gill_messages(self, data: bytes, bodies: list[bytes]) -> int:
        """Take the whole Gill messages out of ``data``; the lines of those whose check holds
        go to ``bodies``. Returns where the bytes to hold begin (a message not all come)."""
        pos = 0
        size = len(data)
        while pos < size:
            start = data.find(_STX, pos)
            skipped_to = size if start < 0 else start
            if not self._dropping:  # the line ends between messages are no skipped bytes
                self.skipped_bytes += (
                    skipped_to - pos - data.count(b"\r", pos, skipped_to)
                    - data.count(b"\n", pos, skipped_to)
                )  # fmt: skip
            if start < 0:
                return size
            self._dropping = False
            end = data.find(_ETX, start + 1)
            stop = end if end >= 0 else size
            line_end = _first_line_end(data, start + 1, stop)
            again = data.find(_STX, start + 1, stop if line_end < 0 else line_end)
            # cut short before its ETX: by the next message's STX, or by a line end (its ETX
            # lost: a message is one line)
            cut, by = (again, "the next message's STX") if again >= 0 else (line_end, "a line end")
            if cut >= 0:
                if not self._too_long(start, cut + 1):
                    self.rejected["truncated"] += 1
                    self._rejected_block(
                        "truncated", data[start:cut], f"cut short: {by} came before its ETX"
                    )
                pos = cut
                continue
            if end < 0:
                return start
            check = data[end + 1 : end + 3]
            if _HEX_PAIR.fullmatch(check) is None:
                if len(check) < 2 and not any(byte in b"\r\n\x02" for byte in check):
                    return start  # its check has not all come
                # the check's bytes up to a line end or the next STX are the message's
                taken = len(check)
                for k, byte in enumerate(check):
                    if byte in b"\r\n\x02":
                        taken = k
                        break
                if not self._too_long(start, end + 2):
                    why = "truncated" if taken < 2 else "syntax"
                    self.rejected[why] += 1
                    shown = data[end + 1 : end + 1 + taken].decode("latin-1")
                    self._rejected_block(
                        why,
                        data[start : end + 1 + taken],
                        f"its check {shown!r} is cut short"
                        if taken < 2
                        else f"its check {shown!r} is no hex",
                    )
                pos = end + 1 + taken
                continue
            pos = end + 3
            if self._too_long(start, pos):
                continue
            line = data[start + 1 : end]
            xor = 0
            for byte in line:
                xor ^= byte
            if xor != int(check, 16):
                self.rejected["checksum"] += 1
                self._rejected_block(
                    "checksum",
                    data[start:pos],
                    f"its check {check.decode('ascii')} does not hold: its bytes give {xor:02X}",
                )
                continue
            bodies.append(line)
        return size

    def _ve_blocks(self, data: bytes, bodies: list[bytes]) -> int:
        """Take the whole VE.Direct blocks and HEX messages out of ``data``; the bodies of the
        blocks whose check holds go to ``bodies``. Returns where the bytes to hold begin."""
        pos = 0
        size = len(data)
        marker = len(_VE_END)
        while pos < size:
            if self._dropping:  # up to the end of an overlong block
                end = data.find(_VE_END, pos)
                if end < 0:
                    return max(pos, size - marker + 1)
                if end + marker >= size:
                    return end
                self._dropping = False
                pos = end + marker + 1
                continue
            if data.startswith(b":", pos):
                # no more held for a HEX message than for a block
                longest = min(_HEX_MESSAGE_BYTES, self.max_block_bytes)
                line_end = data.find(b"\n", pos, pos + longest)
                if line_end < 0:
                    if size - pos < longest:
                        return pos
                elif _HEX_MESSAGE.fullmatch(data, pos, line_end) is not None:
                    self.ignored += 1
                    self._synced = True
                    pos = line_end + 1
                    continue
            elif data.startswith(b"\r\n", pos):
                if data.startswith(b"\r\n\r\n", pos):  # an empty line begins no block
                    self.skipped_bytes += 2
                    pos += 2
                    continue
                found = _ve_block(data, pos)
                if found is None:
                    return pos
                text, block_end, messages = found
                if self._too_long(pos, block_end):
                    pos += 1
                    continue
                if sum(text) & 0xFF == 0 and _labels_once(text):
                    self.ignored += messages
                    begins = _block_inside(text, self._first_lines)
                    if begins:  # a block cut short whose bytes sum to 0, and the next
                        self._count_cut(text[:begins])
                        self._learn_first_line(text, learn=False)
                    else:
                        self._learn_first_line(text)
                    bodies.append(text[begins : len(text) - marker + 1])
                    self._synced = True
                    pos = block_end
                    continue
                # a CR for checksum byte may be the next block's first, the block's own lost
                maybe_lost = text[-1] == 0x0D and block_end - pos <= self.max_block_bytes
                if maybe_lost and block_end == size:
                    return pos  # the byte after it tells
                self.ignored += messages
                lost = maybe_lost and data[block_end] == 0x0A
                pos = block_end - self._ve_failed(text, bodies, lost=lost)
                continue
            elif size - pos == 1 and data[pos] == 0x0D:
                return pos  # the CR of a block's first CR LF
            # neither a block nor a HEX message: skipped up to the next CR LF or ':'
            self._synced = False
            following = data.find(b"\r\n", pos + 1)
            if following < 0:
                following = size - 1 if data.endswith(b"\r") else size
            colon = data.find(b":", pos + 1, following)
            if colon >= 0:
                following = colon
            self.skipped_bytes += following - pos
            pos = following
        return size

    def _learn_first_line(self, text: bytes, *, learn: bool = True) -> None:
        """Know the first line of the VE.Direct block ``text`` (up to its checksum byte), one
        whose check held, as a line that begins a block (unless not ``learn``): a BMV-600S
        begins its block of readings at ``V``. A device names each field in one kind of
        block, so a line learned that this block holds after its first (a block read after
        the port opened may have been caught in its middle, its sum holding by chance: 1 in
        256; a block of the ``Checksum`` line alone teaches that line; ``V``, known before
        any block came, on a device that sends it later in its block) is forgotten again. At
        most :data:`_VE_MOST_FIRST_LINES` are known."""
        known = self._first_lines
        learned = known[len(_VE_FIRST_LINES) :]
        if learned and any(text.find(line, 1) >= 0 for line in learned):
            known = _VE_FIRST_LINES + tuple(line for line in learned if text.find(line, 1) < 0)
        first = _VE_FIRST_LABEL.match(text) if learn else None
        if first is not None and first[0] not in known and len(known) < _VE_MOST_FIRST_LINES:
            known += (first[0],)
        self._first_lines = known

    def _count_cut(self, cut: bytes) -> None:
        """Count the bytes of a VE.Direct block cut short, ``cut``, that ran into the next:
        its lines rejected, or its bytes skipped while no block's start is known (it may have
        been caught in its middle)."""
        if self._synced:
            self._reject("checksum", cut, "cut short: the next block began in it")
        else:
            self.skipped_bytes += len(cut)

    def _ve_failed(self, text: bytes, bodies: list[bytes], *, lost: bool) -> int:
        """Count the VE.Direct block ``text`` (up to its checksum byte) whose check failed:
        rejected, or skipped before a block whose check held. A block cut short on the line
        runs into the next one: when the text from a line that begins a block in it
        (:data:`_VE_FIRST_LINES`, ``V``, ``ERR``, one learned from the device's blocks, or the
        line the text begins with: the next block of the cut one's kind) holds its check (see
        :func:`_block_inside`), that block's body goes to ``bodies`` and only the lines before
        it are counted. Otherwise, when the block's checksum byte is a CR that an LF follows
        (``lost``), the block lost its own and took the CR that begins the next: returns 1,
        the bytes to search again for that block, else 0."""
        marker = len(_VE_END)
        own = _VE_FIRST_LABEL.match(text)
        firsts = self._first_lines if own is None else (*self._first_lines, own[0])
        begins = _block_inside(text, firsts)
        if begins:
            self._count_cut(text[:begins])
            bodies.append(text[begins : len(text) - marker + 1])
            self._synced = True
            return 0
        if self._synced:
            self._reject(
                "checksum",
                text[: len(text) - marker - 1],
                f"its bytes sum to {sum(text) & 0xFF} mod 256, not 0",
            )
        else:
            self.skipped_bytes += len(text) - lost
        return int(lost)


def _block_check_fault(data: bytes, stx: int, bcc: int) -> str | None:
    """Why the data block of an IEC 62056-21 readout from its STX at ``stx`` to its block
    check at ``bcc`` (after its ``!`` line and ETX) is rejected, or None when its block check
    holds: the XOR of its bytes after STX up to and with ETX (a Landis+Gyr E350's
    ``!\\r\\n\\x03\\x01``)."""
    check = 0
    for byte in data[stx + 1 : bcc]:
        check ^= byte
    if check == data[bcc]:
        return None
    return f"its block check {data[bcc]:02X} (after ETX) does not hold: its bytes give {check:02X}"


def _telegram_text(data: bytes, start: int, end: int) -> bool:
    """Whether the bytes from the ``/`` at ``start`` in ``data`` to ``end`` (the next ``/``,
    which cut them short) are a telegram's: text, or bytes that hold a line of readings (a
    code and its ``(`` at a line's start). A Hungarian meter's telegram is no text by its
    share of bytes once its unwritten text message, 1024 bytes 0xFF, has come, but its lines
    of readings show it one. The ``/`` bytes of an encrypted frame's ciphertext begin
    neither: a line of readings after one of its LF bytes comes once in some 10^16 of them."""
    return looks_like_text(data[start:end]) or _LINE_CODES.search(data, start + 1, end) is not None


def _unchecked_fault(
    data: bytes, start: int, head: int | None, end: int
) -> tuple[str, str, bool] | None:
    """Why the DSMR telegram from ``start`` to its ``!`` at ``end``, which has no CRC (DSMR 2.2
    or 3: read unchecked) and whose header line ends at ``head`` (None: no header line of
    text within :data:`_HEADER_BYTES` of its ``/``), was cut or damaged on the line, or None
    when its lines tell neither: its header line ran into the lines after it, its line end
    lost (no line end in bounds, a line of readings in it, or the rest of one that lost its
    code: the line's last text is a ``)``, as every line of readings' is and no meter's
    identification's, its CR damaged or not; a ``)`` inside it is a byte of the header
    damaged, ``-`` read as ``)``),
    or it holds a code twice. A meter sends each code once: when the lines after the
    second run on as those after the first did (the same code next after each),
    two telegrams ran into one (the ``!`` of the first and the header line of the next lost:
    ``truncated``); when they do not, one line was damaged, a digit of its code changed
    (``1-0:1.8.2`` read as ``1-0:1.8.1``), or sent twice (``syntax``: nothing was cut, and
    which of the two lines is the code's is not known). A header line that holds a byte that
    is no text (a byte of it damaged on the line, its CR or LF too: its line then ends at the
    empty line's LF) but ends within bounds was not cut: the header is no reading. The
    reason, the why, and whether the header line holds (the rest of) a line of the
    telegram, one lost too."""
    if head is None:
        head = data.find(b"\n", start + 1, start + 1 + _HEADER_BYTES)
        if head < 0:
            why = (
                f"its header line was cut: no line end within {_HEADER_BYTES} bytes of its '/' "
                "(its line end lost, the lines after it run into it)"
            )
            return "truncated", why, True
    reading = _LINE_CODE.search(data, start, head)
    if reading is not None:
        why = (
            f"its header line was cut: a line of readings ({reading.group(1).decode()}) ran "
            "into it, its line end lost"
        )
        return "truncated", why, True
    shown = data[start:head].rstrip(b"\r")
    if shown.rstrip(_NOT_PRINTABLE).endswith(b")"):  # as every line of readings does (its CR
        # damaged or not), and no header
        why = (
            f"its header line was cut: the rest of a line ran into it ({shown.decode('latin-1')!r} "
            "holds a value's ')'), its line end lost"
        )
        return "truncated", why, True
    codes = [line.group(1) for line in _DATA_SET_CODES.finditer(data, head, end)]
    first: dict[bytes, int] = {}
    for k, code in enumerate(codes):
        i = first.setdefault(code, k)
        if i == k:
            continue
        if codes[k + 1 : k + 2] == codes[i + 1 : i + 2]:  # the lines after it run on as before
            why = (
                f"two telegrams run into one: {code.decode()} comes twice (the '!' of the "
                "first and the header line of the next lost)"
            )
            return "truncated", why, False
        why = (
            f"a line damaged or sent twice: {code.decode()} comes twice, and the lines after "
            "the second do not repeat those after the first (a digit of a code changed on the "
            "line, or a line repeated; no telegram was cut)"
        )
        return "syntax", why, False
    return None


def _block_inside(text: bytes, firsts: tuple[bytes, ...]) -> int:
    """Where, in the VE.Direct text ``text`` (up to its checksum byte), a block that a block
    cut short ran into begins: of the lines of ``firsts`` (lines that begin a block) after its
    first line and before its ``Checksum`` line (``V`` not in a text that holds ``PID``), the
    last from which the bytes hold the check by themselves; 0 when there is none. Each is
    tried, from the last: the block run into may hold a line of ``firsts`` after its own
    first (``ERR``, known before any block came, in the block a charger begins at ``PID``).
    The bytes before it then sum to 0 mod 256 as well when the whole text's do: those of a
    block cut short (1 in 256 do), or of a block that holds such a line after its first (a
    line learned by chance, which :meth:`BlockFramer._learn_first_line` forgets)."""
    end = len(text) - len(_VE_END)
    if _VE_PID in text:
        firsts = tuple(line for line in firsts if line != _VE_READINGS)
    starts = set()
    for line in firsts:
        at = text.find(line, 1, end)
        while at > 0:
            starts.add(at)
            at = text.find(line, at + 1, end)
    if not starts:
        return 0
    view = memoryview(text)
    total = 0
    tail = len(text)
    for begins in sorted(starts, reverse=True):  # the sum from each, built from the last
        total += sum(view[begins:tail])
        tail = begins
        if total & 0xFF == 0:
            return begins
    return 0


def _labels_once(text: bytes) -> bool:
    """Whether no label comes twice in the VE.Direct block ``text`` (up to its checksum
    byte): a device's block names each field once, so one that names a field twice is two
    blocks run into one, the first's ``Checksum`` line damaged, whose byte sum holds by chance
    (the damage of the two adding up to 0 mod 256: 1 in 256)."""
    labels = [line.partition(b"\t")[0] for line in text.split(b"\r\n")]
    return len(set(labels)) == len(labels)


def _ve_block(data: bytes, start: int) -> tuple[bytes, int, int] | None:
    """The VE.Direct block that begins at ``start`` (its first CR LF) in ``data``, if it has
    all come: its bytes up to its checksum byte without the HEX messages sent inside it, where
    it ends in ``data``, and how many HEX messages it held. A ``:`` begins a HEX message
    anywhere in a block but in its checksum byte (as in Victron's reference frame handler);
    one that begins none (see :func:`_hex_message_in_block`) is a byte of the block."""
    size = len(data)
    marker = len(_VE_END)
    text = b""
    cursor = start
    messages = 0
    while True:
        colon = data.find(b":", cursor)
        piece_end = size if colon < 0 else colon
        scan_from = max(0, len(text) - marker + 1)  # the end may straddle a HEX message
        text += data[cursor:piece_end]
        end = text.find(_VE_END, scan_from)
        if end >= 0 and end + marker < len(text):
            length = end + marker + 1
            return text[:length], piece_end - (len(text) - length), messages
        if colon < 0:
            return None
        if end >= 0:  # the checksum byte is this ':'
            return text + b":", colon + 1, messages
        line_end = data.find(b"\n", colon, colon + _HEX_MESSAGE_BYTES)
        if line_end < 0 and size - colon < _HEX_MESSAGE_BYTES:
            return None  # a HEX message, maybe, not all come
        if line_end >= 0 and _hex_message_in_block(data, colon, line_end):
            messages += 1
            cursor = line_end + 1
            continue
        text += b":"
        cursor = colon + 1


def _hex_message_in_block(data: bytes, start: int, end: int) -> bool:
    """Whether ``data[start:end]``, from a ``:`` inside a VE.Direct text block to the byte
    before an LF, is a HEX message: a command digit and whole bytes in hex (no CR: a line of
    the block ends in CR LF) whose check holds (the command and bytes sum to 0x55), so that
    no byte changed in a line of the block (``FW<TAB>:308``) makes one of it."""
    if _HEX_IN_BLOCK.fullmatch(data, start, end) is None:
        return False
    total = int(data[start + 1 : start + 2], 16) + sum(
        bytes.fromhex(data[start + 2 : end].decode())
    )
    return total & 0xFF == 0x55


def envelope(kind: str, lines: Sequence[bytes], crc: str | None = None) -> bytes:
    """``lines`` as one block of ``kind`` whose check holds, as a device sends it: what the
    simulator sends. ``crc``: a DSMR telegram's (``parse.crc``; None: CRC-16/ARC)."""
    if kind == "dsmr":
        telegram = SIMULATED_DSMR_HEADER + b"\r\n\r\n" + b"".join(x + b"\r\n" for x in lines) + b"!"
        return telegram + b"%04X\r\n" % _DSMR_CRC[crc or DSMR_CRCS[0]][0](telegram)
    if kind == "vedirect":
        block = b"".join(b"\r\n" + x for x in lines) + _VE_END
        return block + bytes([-sum(block) & 0xFF])
    if kind == "gill":
        messages = []
        for line in lines:
            xor = 0
            for byte in line:
                xor ^= byte
            messages.append(_STX + line + _ETX + b"%02X\r\n" % xor)
        return b"".join(messages)
    raise ValueError(f"block must be one of {', '.join(BLOCK_KINDS)}; got {kind!r}")
