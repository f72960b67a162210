"""The framer of ``format = "nmea"``: NMEA 0183 sentences cut out of a byte stream, and the
sentence checksum.

Sentences start with ``$`` or ``!``. :class:`NmeaFramer` takes out the u-blox UBX, RTCM 3,
Hemisphere ``$BIN``, Septentrio SBF, NovAtel OEM, Unicore, SiRF, SkyTraq and CASIC binary frames
and the Trimble TSIP packets a receiver may send on the same port, the Garmin binary records
of a Garmin receiver left in its binary mode and an Ashtech receiver's binary ``$PASHR``
replies (MCA, MPC, PBN, SNV, ATT), each by its length and check (a TSIP packet,
which has neither, by its DLE ETX and a data length its ID has), and cuts each
line into the sentences it holds: binary frames, noise before a start character, bytes after a
sentence's checksum and lines without a start character are skipped and counted
(``skipped_bytes``), never parse errors, two sentences glued without a line break are two
frames, and a line may end in CR alone. The class's docstring has the rules.


:func:`checksum` is the XOR checksum of a sentence: the framer checks it on the sentences it
passes on from inside a binary frame candidate, the encoder (:mod:`sensord.formats.nmea_encode`)
writes it, and the decoder of :mod:`sensord.formats.nmea` verifies it (inlined). It lives here,
below the codec's modules: they import this module, never the other way round.
"""

from __future__ import annotations

import re
import struct
from binascii import crc_hqx
from dataclasses import dataclass
from functools import reduce
from itertools import pairwise
from operator import mul, xor
from zlib import crc32

from sensord.formats.base import FormatSpec
from sensord.formats.crc import crc24q
from sensord.formats.lines import LineFramer

__all__ = ["NmeaFramer", "checksum", "nmea_framer"]


def checksum(body: bytes) -> int:
    """The checksum of a sentence: the XOR of every byte between ``$`` (or ``!``) and ``*``."""
    return reduce(xor, body, 0)


#: A start character; ``$`` and ``!`` never occur inside a sentence.
_START = re.compile(rb"[$!]")
#: A whole sentence at the start of a piece: start character, body, ``*`` and checksum.
_CHECKED_SENTENCE = re.compile(rb"[$!][^*]*\*[0-9A-Fa-f]{2}")
#: A proprietary sentence (``$P``, the rest of its address, a comma) from its start character
#: to its checksum: what a piece longer than ``max_frame_bytes`` must begin with to be an
#: ignored frame rather than ``overlong`` (see :class:`NmeaFramer`). Group 1 is the checksum.
_PROPRIETARY = re.compile(rb"\$P[A-Z][A-Z0-9]*,[^$!*]*\*([0-9A-Fa-f]{2})")
#: The start of such a sentence.
_PROPRIETARY_HEAD = re.compile(rb"\$P[A-Z][A-Z0-9]*,")
#: A checksum field: ``*`` and two hex digits.
_CHECKSUM_FIELD = re.compile(rb"\*[0-9A-Fa-f]{2}")
#: A CR that no LF follows: with the terminator ``\n``, a line end of its own.
_LONE_CR = re.compile(rb"\r(?!\n)")
#: Every hex digit as ``h``: in lines joined by ``\n`` and so translated, each checksum that
#: ends its line reads ``*hh\n`` (or ``*hh`` at the end); any other ``*`` (bytes after a
#: checksum, a checksum field that is not two hex digits) is left to
#: :meth:`NmeaFramer._sentences`.
_HEX_AS_H = bytes.maketrans(b"0123456789ABCDEFabcdef", b"h" * 22)
#: The first of the two sync bytes that start a u-blox UBX frame: ``B5 62``, class, ID,
#: payload length (two bytes, little-endian), payload, and the two bytes of its checksum.
_UBX_FIRST = 0xB5
#: The bytes of a UBX frame before its payload: sync bytes, class, ID and length.
_UBX_HEADER = 6
#: The longest UBX payload taken for a frame (unless ``max_frame_bytes`` is longer). The
#: longest periodic messages grow with each satellite or signal tracked: NAV-SAT by 12 bytes,
#: NAV-SIG by 16, RXM-RAWX by 32 (16 + 32 * numMeas bytes, up to 8176 with 255 measurements,
#: u-blox 8 / M8 receiver description); gpsd's packet buffer is 9216 bytes for it
#: (``MAX_PACKET_LENGTH``, include/gpsd.h: "4 + 16 + (256 * 32) + 2 + fudge"). A damaged
#: candidate may claim that many bytes: the sentences inside them are passed on as they come
#: (see :class:`NmeaFramer`), so the bound costs no staleness.
_UBX_MAX_PAYLOAD = 9216
#: The UBX message classes a receiver sends: NAV 01, RXM 02, TRK 03, INF 04, ACK 05, CFG 06,
#: TUN 08, UPD 09, MON 0A, AID 0B, DBG 0C, TIM 0D, ESF 10, MGA 13, LOG 21, SEC 27, HNR 28 and
#: NAV2 29 (gpsd 3.22's include/driver_ubx.h, pyubx2's ubxtypes_core.py, which adds the
#: undocumented TRK, TUN and DBG and the newer NAV2). Classes F0 to F7 only name NMEA and RTCM
#: output in a CFG-MSG; no frame has them. A false ``B5 62`` in line noise whose class is none
#: of these is no candidate, so a sentence without checksum after it is not held behind it.
_UBX_CLASSES = frozenset(
    b"\x01\x02\x03\x04\x05\x06\x08\x09\x0a\x0b\x0c\x0d\x10\x13\x21\x27\x28\x29"
)
#: An RTCM 3 frame (RTCM 10403, its transport layer): the preamble ``D3``, 6 reserved zero
#: bits and a 10-bit message length (at most 1023), the message, and its CRC-24Q in 3 bytes.
_RTCM_FIRST = 0xD3
#: The bytes of an RTCM 3 frame before its message: preamble and length.
_RTCM_HEADER = 3
#: The message numbers (the message's first 12 bits) RTCM 10403.3 assigns: 1001 on (RTKLIB
#: 2.4.3's rtcm3.c decodes 1001 to 1263, pyrtcm's rtcmtypes_core.py lists up to 1230 and the
#: SSR messages 1240 to 1263; up to 1399 leaves room for those assigned after them) and the
#: proprietary 4001 to 4095 (4073 Unicore, 4094 Trimble, ...). A false ``D3`` in line noise
#: whose message number, once its bytes have come, is none of these is no candidate (the
#: ``$`` of a sentence right after its header makes it 576 to 591).
_RTCM_FIRST_NUMBER, _RTCM_LAST_NUMBER, _RTCM_FIRST_PROPRIETARY = 1001, 1399, 4001
#: A Hemisphere (Crescent, Eclipse) binary message: ``$BIN``, its block ID and the length of
#: its data (two bytes each, little-endian), the data, the 16-bit sum of the data bytes
#: (little-endian), and CR LF. Every block ID is below 256 (RTKLIB's decoder knows 1, 65, 66,
#: 76, 80, 94, 95 and 96), so its second byte is a NUL, which NMEA text never holds.
_BIN_SECOND = ord("B")
#: A Septentrio SBF block: ``$@``, its CRC-16-CCITT (XMODEM: from 0, two bytes,
#: little-endian) over the rest of the block, the block ID and revision and the length of the
#: whole block (two bytes each, little-endian; a multiple of 4), then the block's body.
_SBF_SECOND = ord("@")
#: The block numbers (the block ID's low 13 bits; its top 3 are the block's revision, which
#: reaches 4 for ReceiverSetup) a Septentrio receiver sends: 4000 to 6015 (``sbfnr_MIN`` and
#: ``sbfnr_MAX``, "the maximum allowed SBF ID which can be output by a Septentrio receiver",
#: in Septentrio's RxTools header sbfdef.h). A false ``$@`` in line noise whose block number
#: is outside them is no candidate.
_SBF_FIRST_NUMBER, _SBF_LAST_NUMBER = 4000, 6015
#: The bytes of a ``$BIN`` message or an SBF block before its data or body.
_DOLLAR_HEADER = 8
#: The first byte of a NovAtel OEM4 (and later) binary log, ``AA 44 12``: the header's length
#: (byte 3, 28), the message's length (bytes 8 and 9, little-endian), the header, the message
#: and its CRC-32 (4 bytes, little-endian); and of a Unicore binary message, ``AA 44 B5``: a
#: 24-byte header with the message's length in bytes 6 and 7, the message, and the same CRC.
_OEM_FIRST = 0xAA
#: The bytes of a NovAtel log's header up to its message length, and of a Unicore header.
_OEM_HEADER, _UNICORE_HEADER = 10, 24
#: The length of a NovAtel OEM4 (and later) binary header, which its byte 3 holds: a
#: candidate that claims another is no log (every log of RTKLIB's OEMV capture has 28).
_OEM_HEADER_LENGTH = 28
#: A Unicore header (Unicore's user manual, "Binary Message Header Structure": 3 sync
#: bytes, then at offset 3 the CPU idle time "between 0 and 100", 4 the message ID, 6 the
#: message length, 8 the time reference, GPS or BDS time, 0 or 1; then time status, week, at
#: offset 12 the time of week in milliseconds, a reserved word, version, leap seconds and
#: output delay) with a CPU idle time past 100, a time reference past 1 or a time of week
#: past the week's last millisecond is no message. The message ID is left free: the IDs of
#: several N4 logs are not public (pyunigps numbers its UNI_MSGIDS in sequence, as
#: placeholders for the actual IDs), and a message of an ID missing from a list
#: would be line noise whose ``$``, ``!`` and line ends give frames for the decoder to
#: reject, several for every message.
_UNICORE_MAX_IDLE, _UNICORE_TIME_REFS, _UNICORE_WEEK_MS = 100, (0, 1), 604_800_000
#: The first byte of a SiRF binary message: ``A0 A2``, the payload's length (two bytes,
#: big-endian, 15 bits), the payload, its checksum (the 15-bit sum of the payload's bytes,
#: big-endian), and ``B0 B3``.
_SIRF_FIRST = 0xA0
#: The bytes of a SiRF message before its payload.
_SIRF_HEADER = 4
#: The longest SiRF payload: "up to 2^10 - 1 (< 1023)" bytes (SiRF Binary Protocol Reference
#: Manual, the transport message), though the length field has 15 bits; gpsd's SiRF captures
#: (test/daemon/*.log) hold none longer than 278. A false ``A0 A2`` in line noise that claims
#: more is no candidate, so a sentence without checksum after it is not held behind it.
_SIRF_MAX_PAYLOAD = 1023
#: The second byte of a SkyTraq binary message (SkyTraq's application notes AN0003 and
#: AN0028, "Binary Messages of SkyTraq Venus 6 / Venus 8"): ``A0 A1``, the payload's length
#: (two bytes, big-endian), the payload (the message ID, then its body), the XOR of the
#: payload's bytes, and CR LF.
_SKYTRAQ_SECOND = 0xA1
#: The bytes of a SkyTraq message up to its message ID, the payload's first byte.
_SKYTRAQ_HEADER = 5
#: The payload lengths of the SkyTraq output messages whose decoders are public, by message
#: ID. gpsd's driver_skytraq.c takes 0x80 (software version) only with 14 bytes, 0xDC
#: (measurement time) with 10, 0xDF (navigation status) with 81, 0xE0 (GPS subframe) with 33,
#: 0xE2 and 0xE3 (BeiDou D1 and D2 subframes) with 31, and reads 0xDD (raw measurements) as
#: 3 bytes and 23 a satellite, 0xDE (satellite and channel status) as 3 and 10 a satellite;
#: RTKLIB 2.4.3's skytraq.c reads 0xE5 (extended raw measurements) as 14 bytes and 31 a
#: signal, 0xE1 (GLONASS string) as 3 and the string's 9, 0x5C (GLONASS ephemeris) as 3 and
#: four strings of 10, 0x83 and 0x84 (ACK and NACK) as the ID they answer (and its sub-ID, for
#: the messages that have one). Every count is one byte, so at most 255. A false ``A0 A1`` in
#: line noise with another message ID or length, longer than :data:`_SKYTRAQ_SHORT`, is no
#: candidate, so a sentence without checksum after it is not held behind it for long.
_SKYTRAQ_LENGTHS = {
    message_id: frozenset(base + each * count for count in range(most + 1))
    for message_id, base, each, most in (
        (0x80, 14, 0, 0),
        (0xDC, 10, 0, 0),
        (0xDF, 81, 0, 0),
        (0xE0, 33, 0, 0),
        (0xE2, 31, 0, 0),
        (0xE3, 31, 0, 0),
        (0xDD, 3, 23, 255),
        (0xDE, 3, 10, 255),
        (0xE5, 14, 31, 255),
        (0xE1, 12, 0, 0),
        (0x5C, 43, 0, 0),
        (0x83, 2, 1, 1),
        (0x84, 2, 1, 1),
    )
}
#: The longest payload of a SkyTraq message of any message ID: AN0003's answers to queries
#: that no public decoder takes run up to the GPS ephemeris (0xB1: the ID, the SV ID in two
#: bytes and three subframes of 28, 87 bytes), among them the navigation data message (0xA8,
#: 59), the software CRC (0x81, 4) and the position update rate (0x86, 2). As bytes, each
#: ``$`` or ``!`` in such a message up to its own CR LF would be a frame for the decoder to
#: reject; a false ``A0 A1`` that claims at most this many holds a sentence without checksum
#: for at most 94 bytes (0.1 s at 9600 baud).
_SKYTRAQ_SHORT = 87
#: The first byte of a Trimble TSIP packet (Trimble's TSIP reference manuals; gpsd's
#: packet.c and drivers/driver_tsip.c): DLE, the packet ID, its data with every DLE byte in
#: it sent twice (``10 10``), and DLE ETX (``10 03``). It has no length field and no check:
#: the first DLE ETX after the ID that no DLE of the data's pairs takes ends it, and its ID
#: and the length of its data (its DLE pairs counted once) are its check.
_DLE = 0x10
#: The bytes of a TSIP candidate that tell whether its ID may start one: DLE, the ID and the
#: first data byte (a superpacket's subcode, a signal level report's count).
_TSIP_HEADER = 3
#: The lengths of the data a TSIP report of each ID has, the ID not counted: the report
#: packets gpsd's packet.c takes for TSIP (the others it drops as not TSIP) and the lengths it
#: takes them with: 0x41 GPS time (10 bytes), 0x42 and 0x43 position and velocity XYZ (16,
#: 20), 0x45 software version (10), 0x46 health (2), 0x48 GPS system message (22), 0x49
#: almanac health (32), 0x4A position LLA (20), 0x4B machine code status (3), 0x4C operating
#: parameters (17), 0x54 bias (12), 0x55 I/O options (4), 0x56 velocity ENU (20), 0x57 last
#: fix (8), 0x5A raw measurement (25), 0x5B ephemeris status (16), 0x5C and 0x5D satellite
#: tracking status (24, 26), 0x5E additional fix status (2), 0x5F severe failure (66), 0x6D
#: all-in-view satellites (17 and one a satellite, at most 32), 0x82 differential fix mode (1),
#: 0x83 and 0x84 double precision XYZ and LLA (36), 0xBB navigation configuration (40, or 43
#: from an Acutime Gold), and of any length up to 255 bytes (``TSIP_MAX_PACKET``) 0x13 parsing
#: error and 0x1C version information (7 at least). Three more are told by their first bytes
#: (:func:`_tsip_length_holds`): 0x47 signal levels (a count, then 5 bytes a satellite), 0x6C
#: satellite selection (18 bytes and one a satellite, the count its 18th byte) and the 0x8F
#: superpackets, by their subcode.
_TSIP_LENGTHS = {
    **{
        ident: frozenset((length,))
        for ident, length in (
            (0x41, 10),
            (0x42, 16),
            (0x43, 20),
            (0x45, 10),
            (0x46, 2),
            (0x48, 22),
            (0x49, 32),
            (0x4A, 20),
            (0x4B, 3),
            (0x4C, 17),
            (0x54, 12),
            (0x55, 4),
            (0x56, 20),
            (0x57, 8),
            (0x5A, 25),
            (0x5B, 16),
            (0x5C, 24),
            (0x5D, 26),
            (0x5E, 2),
            (0x5F, 66),
            (0x82, 1),
            (0x83, 36),
            (0x84, 36),
        )
    },
    0xBB: frozenset((40, 43)),
    0x6D: frozenset(range(17, 17 + 33)),
    0x13: frozenset(range(1, 256)),
    0x1C: frozenset(range(7, 256)),
    0x47: frozenset(range(1, 256, 5)),
    0x6C: frozenset(range(18, 256)),
    0x8F: frozenset(range(1, 256)),
}
#: The data lengths of the 0x8F superpackets that a timing receiver sends every second, by
#: subcode: the Thunderbolt's (and Resolution SMT's, ICM SMT 360's) primary timing packet
#: 8F-AB, 17 bytes, and supplemental timing packet 8F-AC, 68 bytes (gpsd's driver_tsip.c;
#: ntpd's refclock_palisade.c drops an 8F-AC of another length). A superpacket of another
#: subcode may have any length up to 255.
_TSIP_SUPERPACKETS = {0xAB: 17, 0xAC: 68}
#: The most data bytes a TSIP report of each ID has.
_TSIP_MOST = {ident: max(lengths) for ident, lengths in _TSIP_LENGTHS.items()}
#: The records a Garmin receiver sends in its Garmin binary output mode, in place of sentences
#: (``$PGRMC1`` field 2, kept in non-volatile memory; gpsd switches a Garmin to it), by record
#: ID, each with the size of its data: DLE, the ID, the size, the data, a checksum (the two's
#: complement of the sum of the bytes from the ID on, so that their sum with it is 0 modulo
#: 256), DLE ETX, each DLE of size, data and checksum sent twice (Garmin's technical
#: specifications, "Garmin binary output format": GPS 15H/15L, 16x, 17, 18, 18x and 19x send the
#: position record 0x33 of 64 bytes, the receiver measurement record 0x34 of 226 and the
#: satellite data record 0x72 of 84; GPS 25LP and 35LP the position record 0x28 of 54 and the
#: receiver measurement record 0x29 of 226; gpsd's driver_garmin.c reads them so, and its
#: packet.c checks size and checksum). None of these IDs is a TSIP report's, so a DLE and the
#: ID tell which of the two a candidate is; a record whose size byte is not its record's is no
#: candidate, and one whose checksum fails is bytes, searched again from its second byte.
_GARMIN_SIZES = {0x28: 54, 0x29: 226, 0x33: 64, 0x34: 226, 0x72: 84}
#: The command that switches a Garmin receiver in Garmin binary mode back to NMEA: a Garmin
#: packet of ID 0x0A (command data), size 2, data ``26 00`` and its checksum, as gpsd's
#: ``garmin_switcher`` (drivers/driver_garmin.c) writes it for ``gpsctl -n``.
_GARMIN_TO_NMEA = "10 0A 02 26 00 CE 10 03"
#: The first byte of a CASIC binary message of a ZHONGKEWEI (AT6558) receiver, such as an
#: ATGM336H (the CASIC protocol specification V4.2.0.3, "CSIP Packet Structure"): ``BA CE``,
#: the payload's length (two bytes, little-endian; a multiple of 4, under 2 KiB), class, ID,
#: the payload, and a checksum (4 bytes, little-endian): ``(id << 24) + (class << 16) + len``
#: plus each 4-byte little-endian word of the payload, modulo 2**32 (the order of class and ID
#: in it as receivers compute it: jclark/casictool's spec errata, seen on an SR1612Z1).
_CASIC_FIRST = 0xBA
#: The bytes of a CASIC message before its payload.
_CASIC_HEADER = 6
#: The CASIC message classes: NAV 01, TIM 02, RXM 03, ACK 05, CFG 06, MSG 08, MON 0A, AID
#: 0B. A false ``BA CE`` in line noise of another class is no candidate.
_CASIC_CLASSES = frozenset(b"\x01\x02\x03\x05\x06\x08\x0a\x0b")
#: The longest CASIC payload: under 2 KiB, a multiple of 4.
_CASIC_MAX_PAYLOAD = 2044
#: The start of an Ashtech (Magellan, Thales) receiver's binary reply: ``$PASHR,``, the
#: message ID and a comma, then a structure of the ID's length whose last byte (MCA, MPC) or
#: two (the others) are its check, and CR LF (the receiver's real-time binary messages, in
#: answer to ``$PASHQ`` or enabled by ``$PASHS,RAW``; gpsd's packet.c reads ``$PASHR``
#: without checksum up to the next CR LF ``$`` for them, and its capture
#: test/daemon/ac12_binary.log, an AC12, holds MCA and PBN). Its bytes may be any, ``$``,
#: CR and LF among them: a reply read as a line gives frames of binary bytes.
_ASHTECH_LEAD = b"$PASHR,"
#: The ``H`` of ``$PASHR,``: a chunk that ends an Ashtech header holds it, or the pending line
#: before it does; few talkers' text has one (a memchr where a search for ``$PASHR,`` costs
#: more than the rest of a short chunk's framing).
_ASHTECH_H = ord("H")
#: The bytes of an Ashtech reply before its structure: ``$PASHR,``, the ID and the comma.
_ASHTECH_HEADER = 11
#: The length of each Ashtech binary reply's structure, its check included, by message ID:
#: MCA (C/A code measurements of one satellite, 37 bytes, a bytewise XOR of the bytes before
#: it) and MPC (the same with the P1 and P2 blocks, 95) (Z-Family Technical Reference Manual,
#: MPC Measurement Structure; DG16 Reference Manual, "Checksum"; the ADU5 manual's MBEN
#: structure as ANITA's flight software declares it, 50 bytes from ``$`` to LF), PBN (position,
#: 56) and ATT (attitude, 48) (the ADU5 manual's PBEN and ATT structures), SNV (ephemeris,
#: 132: G12 Reference Manual, ``$PASHQ,SNV`` response structure); the others' check is the
#: 16-bit sum of the structure's big-endian words before it (DG16: "All bytes are in MC6800
#: order"). Every MCA and PBN of gpsd's AC12 capture holds so.
_ASHTECH_LENGTHS = {b"MCA": 37, b"MPC": 95, b"PBN": 56, b"SNV": 132, b"ATT": 48}
#: The Ashtech replies whose check is a bytewise XOR. The Z-Family manual says of the binary
#: MPC that its XOR "includes the last comma" (the header's), the DG16 and ADU5 manuals of
#: MCA that it starts at the sequence tag, "just after header", as the AC12's MCAs hold: an
#: MPC is taken with either.
_ASHTECH_XOR = frozenset((b"MCA", b"MPC"))
#: The second byte of an Ashtech reply.
_ASHTECH_SECOND = ord("P")
#: The start of a binary frame candidate: UBX's sync bytes, RTCM 3's preamble and the first
#: length byte, whose 6 reserved bits are zero, ``$BIN``, SBF's ``$@``, a NovAtel or Unicore
#: log's sync bytes, SiRF's, SkyTraq's or CASIC's, DLE and the ID of a TSIP report or a
#: Garmin record (never ``$`` or ``!``: a DLE before a sentence's start character begins no
#: packet), or the header of an Ashtech binary reply.
_ASHTECH_CANDIDATE = rb"\$PASHR,(?:%s)," % b"|".join(sorted(_ASHTECH_LENGTHS))
_CANDIDATE = re.compile(
    rb"\xb5\x62|\xd3[\x00-\x03]|\$BIN|\$@|\xaa\x44[\x12\xb5]|\xa0[\xa1\xa2]|\xba\xce|%s|\x10[%s]"
    % (
        _ASHTECH_CANDIDATE,
        b"".join(re.escape(bytes((ident,))) for ident in sorted({*_TSIP_LENGTHS, *_GARMIN_SIZES})),
    )
)
#: The last bytes of data that may be the start of a candidate's sync bytes.
_SYNC_TAIL = re.compile(rb"(?:\xaa\x44?|[\xb5\xd3\xa0\xba\x10])\Z")
#: The start of a ``$BIN``, SBF or Ashtech candidate, searched for only in a chunk that holds
#: a NUL, an ``@`` or ``$PASHR,``, or that may end an Ashtech header begun in the pending line
#: (see :meth:`NmeaFramer.feed`).
_DOLLAR_CANDIDATE = re.compile(rb"\$BIN|\$@|%s" % _ASHTECH_CANDIDATE)
#: The kinds of binary frame: UBX, RTCM 3, Hemisphere ``$BIN``, Septentrio SBF, NovAtel,
#: Unicore, SiRF, SkyTraq, TSIP, CASIC, Garmin, Ashtech.
(
    _UBX,
    _RTCM,
    _BIN,
    _SBF,
    _OEM,
    _UNICORE,
    _SIRF,
    _SKYTRAQ,
    _TSIP,
    _CASIC,
    _GARMIN,
    _ASHTECH,
) = range(12)


def _kind(data: bytes, start: int) -> int:
    """The kind of the binary frame candidate at ``start`` of ``data``."""
    first = data[start]
    if first == _UBX_FIRST:
        return _UBX
    if first == _RTCM_FIRST:
        return _RTCM
    if first == _OEM_FIRST:
        return _OEM if data[start + 2] == 0x12 else _UNICORE
    if first == _SIRF_FIRST:
        return _SKYTRAQ if data[start + 1] == _SKYTRAQ_SECOND else _SIRF
    if first == _DLE:
        return _GARMIN if data[start + 1] in _GARMIN_SIZES else _TSIP
    if first == _CASIC_FIRST:
        return _CASIC
    if data[start + 1] == _ASHTECH_SECOND:
        return _ASHTECH
    return _BIN if data[start + 1] == _BIN_SECOND else _SBF


#: The bytes of each kind of candidate that tell its length.
_HEADER = (
    _UBX_HEADER,
    _RTCM_HEADER,
    _DOLLAR_HEADER,
    _DOLLAR_HEADER,
    _OEM_HEADER,
    _UNICORE_HEADER,
    _SIRF_HEADER,
    _SKYTRAQ_HEADER,
    _TSIP_HEADER,
    _CASIC_HEADER,
    _TSIP_HEADER,  # DLE, the record ID and its size
    _ASHTECH_HEADER,
)


#: The names of the kinds of frame that the hint names together.
_NAMES = (
    (_BIN, "Hemisphere $BIN"),
    (_SBF, "Septentrio SBF"),
    (_OEM, "NovAtel"),
    (_UNICORE, "Unicore"),
    (_SIRF, "SiRF"),
    (_SKYTRAQ, "SkyTraq"),
    (_TSIP, "Trimble TSIP"),
    (_CASIC, "CASIC"),
    (_GARMIN, "Garmin"),
    (_ASHTECH, "Ashtech"),
)


def _tsip_most(data: bytes, start: int) -> int:
    """The most data bytes the TSIP candidate at ``start`` of ``data``, whose header has come,
    may have by its ID and first data byte; 0 when a 0x47's count is past 50 (a sentence's
    ``$`` lost before ``GP``, ``GL``, ``GN``: every talker's second letter counts 65 or
    more)."""
    ident, first = data[start + 1], data[start + 2]
    if ident == 0x8F:
        return _TSIP_SUPERPACKETS.get(first, _TSIP_MOST[0x8F])
    if ident == 0x47:
        most = 1 + 5 * first
        return most if most <= _TSIP_MOST[0x47] else 0
    return _TSIP_MOST[ident]


def _tsip_end(data: bytes, start: int) -> int:
    """Where the TSIP candidate at ``start`` of ``data`` ends (see :func:`_dle_end`), by the
    most data bytes its ID and first byte allow; 0 when its header shows it to be no packet
    (see :func:`_tsip_most`)."""
    most = _tsip_most(data, start)
    return _dle_end(data, start, most) if most else 0


def _garmin_end(data: bytes, start: int) -> int:
    """Where the Garmin record candidate at ``start`` of ``data`` ends (see :func:`_dle_end`):
    its size byte, data and checksum are its record's size and 2 bytes; 0 when its size byte
    is not its record's (see :data:`_GARMIN_SIZES`)."""
    size = _GARMIN_SIZES[data[start + 1]]
    return _dle_end(data, start, size + 2) if data[start + 2] == size else 0


def _dle_end(data: bytes, start: int, most: int) -> int:
    """Where the candidate at ``start`` of ``data`` of a protocol that ends its packets in
    DLE ETX and sends each DLE after the ID twice (TSIP, Garmin), of at most ``most`` bytes
    after its ID (a DLE pair counted once), ends: after its DLE ETX; where its bytes show it to
    be no packet, after a DLE that neither a DLE nor ETX follows or after the byte past the
    most, its check then failing (see :func:`_tsip_length_holds`, :func:`_garmin_holds`), as a
    candidate's whose length field has come fails, so that its range is searched for sentences
    the same whether its bytes came at once or a candidate waited; past the end of ``data``
    when none of these has come: where it ends at the latest, with the most bytes, each a
    DLE."""
    latest = start + 2 + 2 * most + 2
    size = len(data)
    at = start + 2
    count = 0  # the data bytes before ``at``
    while True:
        past = at + most - count + 1  # after the data byte past the most
        dle = data.find(b"\x10", at, min(size, past))
        if dle < 0:
            return past if past <= size else latest
        count += dle - at
        if dle + 1 == size:
            return latest
        if data[dle + 1] != _DLE:  # its ETX, or a DLE alone
            return dle + 2
        count += 1
        if count > most:
            return dle + 2
        at = dle + 2


def _unstuffed(data: bytes, start: int, end: int) -> bytes | None:
    """The bytes after the ID of the candidate ``data[start:end]`` of a DLE ETX protocol, each
    DLE pair once, when it ends in DLE ETX and sends each DLE before it twice; else None."""
    if data[end - 2 : end] != b"\x10\x03":
        return None
    body = data[start + 2 : end - 2]
    if _DLE in body:
        unstuffed = body.replace(b"\x10\x10", b"\x10")
        if len(body) - len(unstuffed) != unstuffed.count(_DLE):  # a DLE alone
            return None
        return unstuffed
    return body


def _garmin_whole(data: bytes, start: int, end: int) -> bool:
    """Whether the Garmin record candidate ``data[start:end]`` (see :func:`_garmin_end`) ends
    in DLE ETX, each DLE after its ID sent twice, and has its record's size byte, data of that
    size and a checksum: a whole record, its checksum holding or not. One whose checksum
    fails was damaged within on the line (a byte changed, and no DLE, which would break its
    stuffing): it is taken out all the same, its bytes skipped, never searched for
    sentences, as gpsd's packet sniffer drops a DLE-framed packet whose checksum fails
    whole, where a ``$`` or ``!`` of its data followed by an LF or CR of its data (a GPS
    18x's satellite record ends ``0a 01`` before its checksum) would be a frame; but it is
    no record that a port is named as sending (see :meth:`NmeaFramer.no_frame_hint`). Its
    DLE ETX, where its size byte and stuffing put it, tells it from bytes that a DLE and a
    record ID begin by chance (those of a record cut short, whose DLE ETX is lost, break on
    the next record's DLE); the whole sentences whose checksum holds found in its bytes are
    passed on, as in any candidate's."""
    return _garmin_body(data, start, end) is not None


def _garmin_body(data: bytes, start: int, end: int) -> bytes | None:
    """The unstuffed size byte, data and checksum of the Garmin record candidate
    ``data[start:end]`` when it is whole (see :func:`_garmin_whole`), else None."""
    body = _unstuffed(data, start, end)
    return body if body is not None and len(body) == _GARMIN_SIZES[data[start + 1]] + 2 else None


def _garmin_holds(data: bytes, start: int, end: int) -> bool:
    """Whether the Garmin record candidate ``data[start:end]`` is whole (see
    :func:`_garmin_whole`) and the sum of its bytes from the ID to the checksum is 0 modulo
    256."""
    body = _garmin_body(data, start, end)
    return body is not None and (data[start + 1] + sum(body)) & 0xFF == 0


def _tsip_length_holds(data: bytes, start: int, end: int) -> bool:
    """Whether the TSIP candidate ``data[start:end]`` (see :func:`_tsip_end`) ends in DLE ETX,
    each DLE in its data sent twice, and its data has a length its ID has (see
    :data:`_TSIP_LENGTHS`): a 0x47 one of 5 bytes for each satellite its first byte counts, a
    0x6C one of 18 and one for each satellite its 18th byte counts, an 8F-AB 17 bytes and an
    8F-AC 68."""
    body = _unstuffed(data, start, end)
    if body is None:
        return False
    ident, length = data[start + 1], len(body)
    if not length:  # a DLE ETX right after the ID
        return False
    if ident == 0x47:
        return length == 1 + 5 * body[0]
    if ident == 0x6C:
        return length >= 18 and length == 18 + body[17]
    if ident == 0x8F:
        return length == _TSIP_SUPERPACKETS.get(body[0], length)
    return length in _TSIP_LENGTHS[ident]


def _claimed_end(data: bytes, start: int, kind: int, limit: int) -> int:
    """Where the candidate of ``kind`` at ``start`` of ``data``, whose header has come, ends by its
    length field; 0 when its header rules it out (or, for RTCM 3, its message number once it
    has come): a UBX class no message has, an RTCM 3 message number not assigned, a UBX
    payload, a NovAtel or Unicore message or a ``$BIN`` data length past ``limit``, a SiRF
    payload length past 1023, a SkyTraq payload past 87 bytes whose message ID and length no
    public decoder takes, a NovAtel header length other than 28, a ``$BIN`` block ID of 256
    or more, an SBF block number outside 4000-6015, an SBF length that is not a multiple of
    4, shorter than its header or past ``limit``, a Unicore CPU idle time past 100, time
    reference past 1 or time of week past 604,799,999 ms, a CASIC class no message has or a
    CASIC payload length that is no multiple of 4 or past 2044, a Garmin size byte that is not
    its record's; for a TSIP candidate, which has no length field, and a Garmin one, whose
    length its DLE stuffing makes, where its DLE ETX ends it (see :func:`_dle_end`)."""
    if kind == _TSIP:
        return _tsip_end(data, start)
    if kind == _GARMIN:
        return _garmin_end(data, start)
    if kind == _ASHTECH:
        length = _ASHTECH_LENGTHS[data[start + 7 : start + _ASHTECH_HEADER - 1]]
        return start + _ASHTECH_HEADER + length + 2
    if kind == _CASIC:
        length = data[start + 2] | data[start + 3] << 8
        if data[start + 4] not in _CASIC_CLASSES or length % 4 or length > _CASIC_MAX_PAYLOAD:
            return 0
        return start + _CASIC_HEADER + length + 4
    if kind == _RTCM:
        length = (data[start + 1] & 0x03) << 8 | data[start + 2]
        if length >= 2 and start + _RTCM_HEADER + 2 <= len(data):
            number = data[start + 3] << 4 | data[start + 4] >> 4
            if number < _RTCM_FIRST_PROPRIETARY and not (
                _RTCM_FIRST_NUMBER <= number <= _RTCM_LAST_NUMBER
            ):
                return 0
        return start + _RTCM_HEADER + 3 + length
    if kind == _UBX:
        length = data[start + 4] | data[start + 5] << 8
        if data[start + 2] not in _UBX_CLASSES or length > limit:
            return 0
        return start + _UBX_HEADER + 2 + length
    if kind == _SKYTRAQ:
        length = data[start + 2] << 8 | data[start + 3]
        if not length or (
            length > _SKYTRAQ_SHORT and length not in _SKYTRAQ_LENGTHS.get(data[start + 4], ())
        ):
            return 0
        return start + _SKYTRAQ_HEADER - 1 + length + 3
    if kind == _SIRF:
        # a 15-bit length: a first byte with its top bit set is no SiRF message
        length = data[start + 2] << 8 | data[start + 3]
        return start + _SIRF_HEADER + 4 + length if length <= _SIRF_MAX_PAYLOAD else 0
    if kind == _OEM:
        length = data[start + 8] | data[start + 9] << 8
        if data[start + 3] != _OEM_HEADER_LENGTH or length > limit:
            return 0
        return start + _OEM_HEADER_LENGTH + length + 4
    length = data[start + 6] | data[start + 7] << 8
    if kind == _UNICORE:
        if (
            length > limit
            or data[start + 3] > _UNICORE_MAX_IDLE
            or data[start + 8] not in _UNICORE_TIME_REFS
            or int.from_bytes(data[start + 12 : start + 16], "little") >= _UNICORE_WEEK_MS
        ):
            return 0
        return start + _UNICORE_HEADER + length + 4
    if kind == _BIN:
        # a block ID of 256 or more is no $BIN message (see _BIN_SECOND)
        return start + _DOLLAR_HEADER + 4 + length if length <= limit and not data[start + 5] else 0
    if length % 4 or not _DOLLAR_HEADER <= length <= limit:
        return 0
    number = (data[start + 4] | data[start + 5] << 8) & 0x1FFF
    return start + length if _SBF_FIRST_NUMBER <= number <= _SBF_LAST_NUMBER else 0


def _holds(data: bytes, start: int, end: int, kind: int) -> bool:
    """Whether the check of the whole candidate ``data[start:end]`` of ``kind`` holds: UBX's
    Fletcher sum, RTCM 3's CRC-24Q, NovAtel's and Unicore's CRC-32, SiRF's sum and ``B0 B3``,
    SkyTraq's XOR and CR LF, ``$BIN``'s sum and CR LF, SBF's CRC, CASIC's sum of words, a TSIP
    packet's data length, a Garmin record's size and checksum."""
    if kind == _TSIP:
        return _tsip_length_holds(data, start, end)
    if kind == _GARMIN:
        return _garmin_holds(data, start, end)
    if kind == _ASHTECH:
        return _ashtech_holds(data, start, end)
    if kind == _CASIC:
        return _casic_checksum(data, start, end) == int.from_bytes(data[end - 4 : end], "little")
    if kind == _RTCM:
        return crc24q(data[start : end - 3]) == int.from_bytes(data[end - 3 : end], "big")
    if kind == _UBX:
        return _ubx_checksum(data[start + 2 : end - 2]) == data[end - 2 : end]
    if kind in (_OEM, _UNICORE):
        crc = crc32(data[start : end - 4], 0xFFFFFFFF) ^ 0xFFFFFFFF  # from 0, no final XOR
        return crc == int.from_bytes(data[end - 4 : end], "little")
    if kind == _SKYTRAQ:
        payload = data[start + _SKYTRAQ_HEADER - 1 : end - 3]
        return data[end - 2 : end] == b"\r\n" and checksum(payload) == data[end - 3]
    if kind == _SIRF:
        total = sum(data[start + _SIRF_HEADER : end - 4]) & 0x7FFF
        return data[end - 2 : end] == b"\xb0\xb3" and total == data[end - 4] << 8 | data[end - 3]
    if kind == _BIN:
        total = sum(data[start + _DOLLAR_HEADER : end - 4]) & 0xFFFF
        return data[end - 2 : end] == b"\r\n" and total == data[end - 4] | data[end - 3] << 8
    return crc_hqx(data[start + 4 : end], 0) == data[start + 2] | data[start + 3] << 8


def _ashtech_holds(data: bytes, start: int, end: int) -> bool:
    """Whether the Ashtech reply ``data[start:end]`` ends in CR LF and the check of its
    structure holds (see :data:`_ASHTECH_LENGTHS`)."""
    if data[end - 2 : end] != b"\r\n":
        return False
    ident = data[start + 7 : start + _ASHTECH_HEADER - 1]
    body = data[start + _ASHTECH_HEADER : end - 2]
    if ident in _ASHTECH_XOR:
        total = checksum(body[:-1])
        return body[-1] == total or (ident == b"MPC" and body[-1] == total ^ ord(","))
    words: tuple[int, ...] = struct.unpack(f">{len(body) // 2 - 1}H", body[:-2])
    return sum(words) & 0xFFFF == int.from_bytes(body[-2:], "big")


def _casic_checksum(data: bytes, start: int, end: int) -> int:
    """The checksum of the CASIC message ``data[start:end]``: its ID, class and length as one
    word, ``(id << 24) + (class << 16) + len``, plus each little-endian word of its payload."""
    words = data[start + _CASIC_HEADER : end - 4]
    total = data[start + 5] << 24 | data[start + 4] << 16 | data[start + 2] | data[start + 3] << 8
    for (word,) in struct.iter_unpack("<I", words):
        total += word
    return total & 0xFFFFFFFF


def _ubx_checksum(body: bytes) -> bytes:
    """The 8-bit Fletcher checksum (CK_A, CK_B) of a UBX frame's class, ID, length and
    payload: CK_A sums the bytes, CK_B sums CK_A after each byte, so the byte ``n - i`` places
    from the end counts ``n - i`` times."""
    ck_a = sum(body)
    ck_b = sum(map(mul, range(len(body), 0, -1), body))
    return bytes((ck_a & 0xFF, ck_b & 0xFF))


def _whole_proprietary(data: bytes, start: int, end: int) -> int:
    """The length of the proprietary sentence whose checksum holds (:data:`_PROPRIETARY`), of
    any length, that the piece ``data[start:end]`` begins with; 0 when it begins with none.
    The bytes after its checksum (NUL or space padding, noise before the line end) are the
    caller's to count."""
    match = _PROPRIETARY.match(data, start, end)
    if match is None or checksum(data[start + 1 : match.start(1) - 1]) != int(match.group(1), 16):
        return 0
    return match.end() - start


#: The state of a piece being dropped that may be a proprietary sentence (see
#: :meth:`NmeaFramer._dropped`): the XOR of its bytes after the start character and before
#: its first ``*`` so far, the bytes of its checksum field so far (``b""`` until its ``*``
#: has come, then the ``*`` and up to two bytes after it), and the number of its bytes after
#: that field.
_Proprietary = tuple[int, bytes, int]


def _proprietary_so_far(state: _Proprietary, data: bytes) -> _Proprietary:
    """``state`` after the bytes ``data`` of the piece."""
    total, field, after = state
    if not field:
        star = data.find(b"*")
        if star < 0:
            return checksum(data) ^ total, field, after
        total ^= checksum(data[:star])
        data = data[star:]
    if len(field) < 3:
        taken = 3 - len(field)
        field += data[:taken]
        data = data[taken:]
    return total, field, after + len(data)


def _proprietary_ends(state: _Proprietary) -> bool:
    """Whether the piece of ``state`` holds a whole proprietary sentence: a ``*``, then two hex
    digits that are the XOR of the bytes before the ``*`` (the bytes after them are the
    piece's third element, counted as skipped)."""
    total, field, _ = state
    return _CHECKSUM_FIELD.fullmatch(field) is not None and total == int(field[1:], 16)


#: A span of bytes, ``(start, end)``.
_Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class _Sentences:
    """How whole sentences are found inside the bytes of a binary frame candidate."""

    #: A whole sentence up to its end: start character, an address letter, the rest of the
    #: body (printable, without ``$``, ``!``, ``*`` or a terminator byte), ``*``, two hex
    #: digits, the bytes after the checksum that a line's sentence may have before its end
    #: (NUL padding, garbage: any but a start character, the line end, or ``B5``, ``D3``,
    #: ``AA``, ``A0``, ``BA`` and DLE, which may start a binary frame), and the line end or, not
    #: taken into the match, one of those eight bytes (its line end lost, the next sentence or frame
    #: glued to it, which on a line ends it as well). The line end is the terminator; with
    #: the terminator ``\n`` it is CR LF, LF, or a CR alone, as :class:`NmeaFramer` cuts
    #: lines, and with another terminator a CR or LF that is not part of it is a byte after
    #: the checksum, as on a line. Group 1 is the body, group 2 the checksum, group 3 the
    #: bytes after it.
    pattern: re.Pattern[bytes]
    #: The sentence of :attr:`pattern`, up to its checksum.
    head: re.Pattern[bytes]
    #: A byte that no sentence holds before its checksum (binary, not printable).
    foreign: re.Pattern[bytes]
    #: :attr:`pattern`, or else a whole line that is no checked sentence: a start character,
    #: an address letter, printable text without a start character (a talker's sentence
    #: without checksum, one whose checksum field was cut or damaged) and the line end, which
    #: a line gives as it is. Groups 1 to 3 are :attr:`pattern`'s, group 4 such a line up to
    #: its line end.
    either: re.Pattern[bytes]

    @classmethod
    def of(cls, terminator: bytes, max_frame_bytes: int) -> _Sentences:
        """The patterns for lines that end in ``terminator`` (``\\r\\n``, ``\\n`` or ``\\r``
        for ``\\n``) and are at most ``max_frame_bytes`` long."""
        if terminator == b"\n":
            line_end = rb"\r\n?|\n"
            after = rb"[^$!\r\n\xb5\xd3\xaa\xa0\xba\x10]*"
        else:
            line_end = re.escape(terminator)
            after = rb"(?:(?!%s)[^$!\xb5\xd3\xaa\xa0\xba\x10])*" % line_end
        excluded = set(b"$!*\r\n") | set(terminator)
        body = b"".join(re.escape(bytes((c,))) for c in range(0x20, 0x7F) if c not in excluded)
        allowed = b"".join(re.escape(bytes((c,))) for c in sorted(set(terminator) | {13, 10}))
        foreign = re.compile(rb"[^\x20-\x7e%s]" % allowed)
        longest = max_frame_bytes - 5  # "$", the address letter, "*hh"
        if longest < 0:  # no sentence is as short as max_frame_bytes
            never = re.compile(rb"(?!)")
            return cls(never, never, foreign, never)
        head = rb"[$!]([A-Z][%s]{0,%d})\*([0-9A-Fa-f]{2})" % (body, longest)
        pattern = rb"%s(%s)(?:%s|(?=[$!\xb5\xd3\xaa\xa0\xba\x10]))" % (head, after, line_end)
        bare = rb"([$!][A-Z][%s*]{0,%d})(?:%s)" % (body, longest + 3, line_end)
        either = rb"%s|%s" % (pattern, bare)
        return cls(re.compile(pattern), re.compile(head), foreign, re.compile(either))


def _strip_spans(data: bytes, start: int, end: int, spans: list[_Span]) -> list[bytes]:
    """``data[start:end]`` without the bytes of ``spans`` (sorted, disjoint), in parts: a new
    part after each span whose first byte lies in ``start:end`` (a sentence passed on, whose
    start character ends the piece before it, as on a line)."""
    if not spans:
        return [data[start:end]]
    parts: list[bytes] = []
    part: list[bytes] = []
    for first, last in spans:
        if last <= start or first >= end:
            continue
        if first > start:
            part.append(data[start:first])
        if first >= start:
            parts.append(b"".join(part))
            part = []
        start = last
    if start < end:
        part.append(data[start:end])
    parts.append(b"".join(part))
    return parts


def _extend(text: list[bytes], parts: list[bytes]) -> None:
    """``text``, parts of bytes for the line framer, followed by ``parts``: the first of them
    goes on the last part of ``text``."""
    text[-1] += parts[0]
    text += parts[1:]


def _span_bytes(start: int, end: int, spans: list[_Span]) -> int:
    """How many bytes of ``spans`` lie in ``start:end``."""
    return sum(max(0, min(last, end) - max(first, start)) for first, last in spans)


@dataclass(slots=True)
class _Cut:
    """What :func:`_cut_binary` made of a stretch of bytes."""

    #: The bytes for the line framer, in order, each with the sentences found inside frame
    #: candidates right after them (passed on after the line framer's frames of those bytes).
    #: The bytes are in parts: each part after the first follows a sentence passed on before,
    #: left out of them, whose start character ends the line's piece before it.
    pieces: list[tuple[list[bytes], list[bytes]]]
    #: The bytes of the binary frames taken out, less those of the spans of sentences passed
    #: on from them.
    taken: int
    #: ``taken`` by kind of frame (:data:`_UBX`, :data:`_RTCM`, :data:`_BIN`, :data:`_SBF`).
    taken_by_kind: list[int]
    #: The bytes after the checksums of the sentences passed on, before what ends them (a
    #: line end, or the next sentence or frame): skipped, as the line framer skips them; and
    #: those of the Garmin records whose checksum alone fails (see :func:`_garmin_whole`).
    skipped: int
    #: Where the bytes start that wait for more: a candidate not all come yet, or the first
    #: bytes of a candidate's sync (:data:`_SYNC_TAIL`) that end the data; the length of the
    #: data when none waits.
    held_at: int
    #: The sentences passed on from the held bytes, as spans from ``held_at``.
    released: list[_Span]
    #: Where the search for sentences in the held candidate resumes, from ``held_at``.
    scan_from: int


def _in_whole_frame(data: bytes, lower: int, at: int, limit: int) -> bool:
    """Whether byte ``at`` of ``data`` lies inside a whole binary frame whose check holds
    that starts in ``data[lower:at]``."""
    size = len(data)
    for candidate in _CANDIDATE.finditer(data, lower, at):
        start = candidate.start()
        kind = _kind(data, start)
        if start + _HEADER[kind] > size:
            continue
        end = _claimed_end(data, start, kind, limit)
        if at < end <= size and _holds(data, start, end, kind):
            return True
    return False


def _found_sentences(
    data: bytes,
    start: int,
    end: int,
    sentences: _Sentences,
    done: dict[int, int],
    *,
    frames_from: int,
    limit: int,
) -> tuple[list[tuple[_Span, bytes, int]], int]:
    """The whole sentences in ``data[start:end]`` not passed on yet (``done``: the ends of
    their spans by their starts) whose checksum holds, each after those whose checksum fails
    right before it (after the last sentence whose checksum holds or that was passed on):
    their spans (line end included; up to the next sentence or frame for a sentence glued to
    it), each sentence up to its checksum, and the number of bytes between its checksum and
    its end; and where the first sentence whose checksum fails that none of those follows
    starts (``end`` when there is none). A sentence whose checksum holds shows the
    candidate's bytes before it to be text, not a frame's payload, as much as anything can
    before the candidate's end: a sentence before it whose checksum fails was damaged on the
    line, and comes in its place, for the decoder to reject, rather than after the sentences
    behind it when the candidate fails, up to its claimed length later (9216 bytes); so does
    a whole line before it that is no checked sentence (a talker's sentence without checksum,
    one whose checksum field was cut), as the line gives it, up to its line end. One
    that nothing shows so waits, as a payload's bytes that only look like a sentence may;
    one inside a whole frame whose check holds that starts at ``frames_from`` or after (the
    candidate's second byte) is that frame's payload (an RTCM 3 frame's bytes that read
    ``$GPGGA,1*5A``, whose checksum is 4B), no sentence: it is taken out with its frame. A
    sentence passed on when a CR was the last byte searched takes the LF that follows that CR
    now into its span (in ``done``), as a span found with both has it, so that the spans do
    not depend on the chunking."""
    found: list[tuple[_Span, bytes, int]] = []
    failing: list[tuple[_Span, bytes, int]] = []
    for match in sentences.either.finditer(data, start, end):
        first, last = match.span()
        if first in done:
            done[first] = max(done[first], last)
            found += failing  # a sentence after them: text, passed on in their place
        elif match.start(4) >= 0:  # a line without a checked sentence, as one that fails
            if not _in_whole_frame(data, frames_from, first, limit):
                failing.append(((first, last), match.group(4), 0))
            continue
        else:
            span = (first, last)
            sentence = (span, data[first : match.end(2)], match.end(3) - match.start(3))
            if checksum(match.group(1)) != int(match.group(2), 16):
                if not _in_whole_frame(data, frames_from, first, limit):
                    failing.append(sentence)
                continue  # else a whole frame's payload, which is taken out with it
            found += failing
            found.append(sentence)
        failing = []
    return found, failing[0][0][0] if failing else end


def _resume_at(data: bytes, start: int, end: int, sentences: _Sentences) -> int:
    """Where a search for sentences in ``data[start:end]``, which more bytes will follow,
    resumes with them: at the last start character, unless a byte no sentence holds follows
    it before a whole checksum (after one, any bytes may come before the line end). A start
    character before the last one is settled: its sentence, if any, ends before the next
    one."""
    last = max(data.rfind(b"$", start, end), data.rfind(b"!", start, end))
    if last < 0:
        return end
    foreign = sentences.foreign.search(data, last + 1, end)
    if foreign is None or sentences.head.match(data, last, foreign.start()) is not None:
        return last
    return end


def _cut_binary(
    data: bytes,
    limit: int,
    sentences: _Sentences,
    released: list[_Span],
    scan_from: int,
    *,
    final: bool = False,
) -> _Cut:
    """``data`` cut into the bytes for the line framer and the binary frames taken out.

    A UBX candidate (``B5 62``) with a payload of at most ``limit`` bytes, an RTCM 3
    candidate (``D3``, 6 zero bits), a ``$BIN`` candidate with at most ``limit`` bytes of
    data, or an SBF candidate (``$@``) whose length is a multiple of 4 from 8 to ``limit``,
    is searched, from its second byte to its claimed end or
    the end of ``data``, for whole sentences whose checksum holds: those not passed on
    yet (``released``: spans in ``data``) are passed on after the bytes before the candidate,
    each with the sentences whose checksum fails right before it (see
    :func:`_found_sentences`; the search resumes no later than at the first of those that no
    such sentence follows yet).
    A candidate whose bytes have all come and whose check (UBX's Fletcher sum, RTCM's
    CRC-24Q, ``$BIN``'s sum and CR LF, SBF's CRC) holds is taken out; one that fails is
    searched again from its second byte, and
    the sentences passed on from it are left out of the bytes for the line framer, each with
    its line end and the bytes between its checksum and its line end (``skipped``). The first
    candidate whose bytes have not all come, or the first bytes of a sync that end the
    data (``B5``, ``D3``, ``A0``, ``AA``, ``AA 44``, ``BA``, a DLE), waits from
    ``held_at``; its search resumes at ``scan_from`` (from the candidate's start) when it is
    at the start of ``data``. With ``final`` (the end of the stream) nothing waits: a
    candidate that has not all come fails.
    """
    spans = sorted(released)
    done = dict(spans)
    pieces: list[tuple[list[bytes], list[bytes]]] = []
    text = [b""]
    size = len(data)
    taken = [0] * len(_HEADER)
    skipped = 0
    at = 0  # the first byte neither in text nor taken out
    search = 0
    held_at = size
    resume = 0
    while True:
        candidate = _CANDIDATE.search(data, search)
        if candidate is None:
            tail = _SYNC_TAIL.search(data, max(at, size - 2))
            if tail is not None and not final:
                held_at = tail.start()
            break
        start = candidate.start()
        kind = _kind(data, start)
        if size - start < _HEADER[kind]:
            if final:
                search = start + 1
                continue
            held_at = start
            break
        end = _claimed_end(data, start, kind, limit)
        if not end:
            search = start + 1
            continue
        first = start + 1
        if start == 0:
            first = max(first, scan_from)
        stop = min(end, size)
        found = None
        waits = stop  # where a sentence whose checksum fails waits for one after it
        # a line without checksum matters only where a checked sentence follows it, or while
        # the candidate waits: the search for sentences resumes no later than at it
        if sentences.pattern.search(data, first, stop) is not None or (
            end > size and not final and sentences.either.search(data, first, stop) is not None
        ):
            found, waits = _found_sentences(
                data, first, stop, sentences, done, frames_from=start + 1, limit=limit
            )
        if found is not None:
            if found:
                _extend(text, _strip_spans(data, at, start, spans))
                pieces.append((text, [sentence for _, sentence, _ in found]))
                text = [b""]
                at = start
                done.update(span for span, _, _ in found)
                skipped += sum(after for _, _, after in found)
            spans = sorted(done.items())
        if end > size:
            if final:
                search = start + 1
                continue
            held_at = start
            resume = min(_resume_at(data, first, stop, sentences), waits) - start
            break
        holds = _holds(data, start, end, kind)
        if holds or (kind == _GARMIN and _garmin_whole(data, start, end)):
            _extend(text, _strip_spans(data, at, start, spans))
            frame = end - start - (_span_bytes(start, end, spans) if spans else 0)
            if holds:
                taken[kind] += frame
            else:  # a Garmin record damaged within: its bytes are no text
                skipped += frame
            at = search = end
        else:
            search = start + 1
    _extend(text, _strip_spans(data, at, held_at, spans))
    pieces.append((text, []))
    kept = [(first - held_at, last - held_at) for first, last in spans if first >= held_at]
    return _Cut(pieces, sum(taken), taken, skipped, held_at, kept, resume)


class NmeaFramer(LineFramer):
    """UBX, RTCM 3, ``$BIN``, SBF, NovAtel, Unicore, SiRF, SkyTraq and CASIC frames, TSIP
    packets, Garmin records and Ashtech binary replies taken out of the stream, then lines as
    :class:`~sensord.formats.lines.LineFramer` cuts them, each then cut into the sentences it
    holds.

    A u-blox receiver may send binary UBX frames on the same port, between sentences and
    without line breaks, and a receiver of an RTK set-up RTCM 3 correction frames; their
    payloads may hold any byte (``\\n``, ``$``). A UBX frame whose checksum holds, or an RTCM 3
    frame (``D3``, 6 zero bits, a 10-bit length, the message, CRC-24Q) whose CRC holds, is
    taken out whole before lines are cut, and so is a Hemisphere ``$BIN`` message (``$BIN``,
    block ID, data length, data, the 16-bit sum of the data, CR LF) whose sum and CR LF
    hold, or a Septentrio SBF block (``$@``, CRC-16-CCITT, block ID, a length that is a
    multiple of 4) whose CRC holds, a NovAtel OEM log (``AA 44 12``) or a Unicore message
    (``AA 44 B5``) whose CRC-32 holds, a SiRF message (``A0 A2`` ... ``B0 B3``) whose sum
    holds, a SkyTraq message (``A0 A1`` ... CR LF) whose XOR holds, a CASIC message (``BA CE``,
    length, class, ID, payload, a 32-bit sum of words) whose checksum holds, or a Trimble TSIP
    packet (a timing receiver's or GPSDO's: DLE, the ID of a report a receiver sends, the data
    with each of its DLE bytes sent twice, DLE ETX) whose data has a length its ID has (a TSIP
    candidate claims the bytes up to its DLE ETX, or up to a DLE in its data that neither a DLE
    nor ETX follows or the data byte past the most its ID allows, where its check fails), or a
    Garmin binary record (a Garmin receiver left in its binary mode: DLE, a record ID of Garmin's
    binary output, none a TSIP report's, the size of its data, the data, a checksum, DLE ETX, each
    DLE after the ID sent twice) whose size byte is its record's and whose checksum holds (and
    one whose checksum alone fails, damaged within: see :func:`_garmin_whole`), or an
    Ashtech binary reply (``$PASHR,``, an ID of :data:`_ASHTECH_LENGTHS`, a comma, a structure
    of that ID's length ending in its XOR or sum of words, CR LF) whose check holds; their
    bytes are counted in ``skipped_bytes``; a candidate whose check fails, or whose length is past
    ``max(max_frame_bytes, 9216)`` (an RXM-RAWX of 255 measurements has 8176), is just bytes,
    searched again from its second byte; so is one whose header no real message has (a UBX class no
    receiver sends, an RTCM 3 message number not assigned, once its first bytes came, a SiRF payload
    past 1023 bytes, a SkyTraq payload past 87 bytes whose message ID and length no public decoder
    takes, a NovAtel header length other than 28, a ``$BIN`` block ID past 255, an SBF block number
    outside 4000-6015, a Unicore CPU idle time past 100, time reference past 1 or time of week past
    the week, a CASIC class no message has or a CASIC payload length that is no multiple of 4 or
    past 2044, a TSIP ID no receiver sends, ``$`` and ``!`` among them, so that a DLE before a
    sentence begins no packet, a TSIP signal level report counting more than 50 satellites, as where
    a DLE took the place of a ``$`` before ``GP``, a Garmin record whose size byte is not its
    record's), as line noise may begin, which would otherwise hold a talker's sentences without
    checksum behind it for its claimed length. A candidate whose bytes have
    not all come yet is held back with what follows it, which may be up to its claimed length of
    sentences when its length field is damaged (or when its ``B5 62`` or ``D3`` is part of other
    binary data). So the bytes of every candidate after its first are searched for whole sentences
    as they come (its header's too, whose length field may be the ``$`` of a sentence when the frame
    was cut short within it): a start character, an address letter, printable text, ``*`` and two
    hex digits (at most ``max_frame_bytes`` in all, as on a line), maybe bytes after the checksum
    (cut off and skipped, as on a line; none that may start a binary frame), and the line end (a CR
    alone included, see below) or, its line end lost, the start character or first byte of the next
    sentence or frame glued to it, whose checksum holds: what a line of the same bytes gives. Each
    is passed on at once, after the frames of the bytes
    before the candidate, whether the candidate is complete or not (so the frames do not depend
    on how the bytes were chunked), and is left out of the bytes the candidate turns into when
    it fails, where its start character still ends the piece before it on its line (noise
    with a ``$`` right before the candidate is skipped, as before a sentence on a line, not a
    frame of its own). A whole sentence whose checksum fails (damaged on the line) is passed on with
    the first one after it in the candidate whose checksum holds, right before it: that one shows
    the bytes to be text, and the damaged one comes in its place for the decoder to reject, not up
    to the claimed length later (9216 bytes behind a cut frame's bogus length field), after the
    sentences behind it, which would show the decoder its loss out of place (a GSV group's next
    sentence counted as a second loss); so is a whole line that is no checked sentence (a talker's
    sentence without checksum, as a line gives it), which a false TSIP candidate of an ID whose
    data may have up to 255 bytes (DLE and 0x8F before it, the ``$`` read as a subcode) would
    otherwise hold until its bytes show it to be no packet, while the checked sentences behind
    it are passed on. One that no such sentence follows in the candidate comes
    when the candidate fails: a payload's bytes look like a sentence whose checksum fails 256 times
    as often as like one whose checksum holds. One inside a whole frame whose check holds, after the
    candidate's start, is that frame's payload, taken out with it, never passed on. A line pending
    right before such a candidate (one that holds sentences or has not all come), whose last piece
    is a whole checksummed sentence, its line end lost, is ended by the candidate's first byte and
    cut into its sentences at once, so that they come before the candidate's; a line whose line end
    was lost before a frame taken out whole goes on after it, as if the frame were not there. A
    frame whose check holds is still taken out whole: its payload would need the text of such a
    sentence, with a matching checksum and one of the bytes that end it after it, to give a false
    sentence. Only a chunk that holds a byte ``B5``, ``D3``, ``AA``, ``A0``, ``BA`` or DLE (never
    in NMEA text) is searched, and so is every chunk while bytes are held (a DLE that ends a
    chunk is held as the first byte of a sync is, and ends the pending line as a candidate's
    first byte does, only where its last piece is a whole checksummed sentence, which that
    line gives whatever follows); for ``$BIN`` and SBF, which begin with
    ``$``, a chunk that holds a NUL or an ``@`` (a ``$BIN``'s block ID is below 256, an SBF block's
    second byte is ``@``) is searched for ``$BIN`` and ``$@`` from the pending line on, whose bytes
    from such a start are then cut with the chunk; and so is a chunk that holds ``$PASHR,``, or
    that follows a pending line ending in a part of an Ashtech header, for an Ashtech header (a
    reply's structure may hold only text bytes, and LF: its header alone tells it).

    A line is cut before each start character. The bytes before the first one are noise (a
    repeated ``$``, binary bytes, a stray character) and are dropped; so is a line without
    any (binary filler, NUL bytes). A piece that starts with a whole checksummed sentence of
    at most ``max_frame_bytes`` is that sentence (two sentences glued without a line break),
    and the bytes after its checksum are dropped (NUL padding, garbage before the line end).
    A piece without one is dropped when another follows it (``$`` of ``$$GNGGA``, a sentence
    cut short by the next one); the line's last piece is then passed on as it is (a sentence
    without checksum, one cut within its checksum): the decoder judges it, unless it is longer
    than ``max_frame_bytes`` (``overlong``). A line longer than ``max_frame_bytes`` is cut the
    same way, and so are pending bytes that grow past it before a terminator comes: their
    sentences are passed on and the last start character stays pending. When the piece from
    that start character grows past ``max_frame_bytes`` too (a ``$`` or ``!`` inside binary
    data that is not taken out: an RTCM 3 frame that fails its CRC, a UBX frame past the cap
    or one whose sync byte was lost), its sentence, if it starts with one, is passed on and
    the rest is dropped up to the next start character or line end, whichever comes first:
    the framer resyncs at the next start character, as gpsd does, not at the next line end,
    which may be the next sentence's own. Meanwhile only a count is kept: a piece without
    sentence that a start character ends is skipped bytes, and one that the line end ends is
    overlong, as in a whole line; one that a reset or the end of a replay (``flush``) ends is
    skipped bytes, as a pending line is. LineFramer's discard mode is never reached. Dropped
    bytes are counted in ``skipped_bytes``; ``frames`` counts sentences.

    A piece longer than ``max_frame_bytes`` that begins with a whole proprietary sentence,
    ``$P``, its address and a comma, up to its first ``*`` and two hex digits that are its
    checksum, is counted in ``ignored`` instead, whichever of a line end or a start character
    ends it and however it is chunked (the sentence's bytes are not skipped bytes; those after
    its checksum are, as after a sentence of any length: the NUL or space padding some
    adapters add): the decoder ignores every proprietary sentence, and u-blox's ``$PUBX,03``
    lists every satellite it tracks, several hundred bytes a second, which would otherwise be
    a parse error each time. While such a piece is dropped as it comes, only the XOR of its
    bytes before the ``*``, the checksum field and the count of bytes after it are kept.

    With the terminator ``\\n``, a CR that no LF follows ends a line as well (receivers and
    converters that end lines with CR alone; NMEA text never holds a CR): each such sentence
    comes out as soon as its CR is in. A CR that is a chunk's last byte ends its line there,
    and an LF that the next chunk begins with then ends an empty line, which is no frame, so
    CR LF, CR CR LF and CR alone give the same frames whatever the chunking. Only a chunk in
    which one search finds such a CR is rewritten, after the binary frames are taken out (a
    payload may hold a CR). A sentence inside a pending binary candidate is passed on as soon
    as its CR is in too; the LF that may follow that CR is then taken into what is left out
    of the candidate's bytes, as it is when both come together.

    The common chunk, lines that each hold one start character as their first byte and no
    byte that starts a binary frame, is recognised by a few byte counts in C over the chunk's lines
    (two, and one search, for ``$`` sentences without ``!``) and one search for bytes after
    a checksum, and returned as it is.
    """

    __slots__ = (
        "_dropping",
        "_held",
        "_lines_hold_newlines",
        "_proprietary",
        "_released",
        "_scan_from",
        "_sentences_in_binary",
        "_ubx_limit",
        "_undecided",
        "cut_first",
    )

    def __init__(self, terminator: bytes = b"\n", max_frame_bytes: int = 512) -> None:
        super().__init__(terminator, max_frame_bytes)
        # with the terminator "\n" no line holds one, so "\n" joins lines unambiguously
        self._lines_hold_newlines = terminator != b"\n"
        #: The bytes from a binary frame candidate on that wait for the rest of it.
        self._held = b""
        #: The sentences passed on from the held bytes, as spans in them.
        self._released: list[_Span] = []
        #: Where the search for sentences in the held candidate resumes.
        self._scan_from = 0
        self._sentences_in_binary = _Sentences.of(terminator, max_frame_bytes)
        self._ubx_limit = max(max_frame_bytes, _UBX_MAX_PAYLOAD)
        #: Whether the bytes of a piece longer than a sentence are being dropped (the pending
        #: bytes are then only a possible start of the terminator).
        self._dropping = False
        #: The bytes dropped so far of such a piece without sentence, counted as skipped
        #: bytes if a start character ends it, as overlong if the line end does; 0 when the
        #: piece's sentence was passed on and its bytes after it are counted as they go.
        self._undecided = 0
        #: While such a piece without sentence begins as a proprietary sentence: its state
        #: so far (see :meth:`_dropped`); else None.
        self._proprietary: _Proprietary | None = None
        #: Set by the sensor when the first bytes after an open came within ``CUT_LINE_S`` of
        #: it (``sensord.sensor``): the next sentence passed on may have been cut at its end
        #: (see :meth:`_cut_first`). Cleared by that sentence, and by :meth:`reset`.
        self.cut_first = False

    def reset(self) -> None:
        """Forget the held and the pending bytes (after a reconnect), and count them in
        ``skipped_bytes``, all but the sentences already passed on from them; so are the bytes
        of a piece too long for a sentence that were not counted yet (see :meth:`_dropped`):
        neither a start character nor a line end came to end it. (LineFramer's discard mode,
        whose tail belongs to a line counted as overlong, is never reached here.)"""
        held = len(self._held) - _span_bytes(0, len(self._held), self._released)
        self.skipped_bytes += held + self._undecided + len(self._buffer)
        self._forget()
        self._held = b""
        self._released = []
        self._scan_from = 0
        self._dropping = False
        self._undecided = 0
        self._proprietary = None
        self.cut_first = False

    def drop_pending(self) -> None:
        """See :meth:`sensord.formats.base.Framer.drop_pending`: the held and the pending bytes
        are dropped and counted as on a reconnect (``reset``)."""
        self.reset()

    def flush(self) -> list[bytes]:
        """See :meth:`sensord.formats.base.Framer.flush`. The held bytes go the way of a
        candidate that fails: the UBX frames in them are taken out and the rest goes to the
        line framer, sentences passed on from them left out. Of the pending line, whose line
        end never came, the whole checksummed sentences are passed on (the last one too); the
        rest is counted in ``skipped_bytes``, and so are the bytes of a piece too long for a
        sentence that were not counted yet (see :meth:`_dropped`): neither a start character
        nor a line end came to end it."""
        frames = self._feed_binary(b"", final=True) if self._held else []
        if self._dropping:
            self.skipped_bytes += self._undecided + len(self._buffer)
            rest = b""
        else:
            rest = self._buffer
        starts = [match.start() for match in _START.finditer(rest)]
        if starts:
            found = self._checked(rest, [*starts, len(rest)])
            frames += found
            self.frames += len(found)
        else:
            self.skipped_bytes += len(rest)
        self._forget()
        self._dropping = False
        self._undecided = 0
        self._proprietary = None
        return frames

    def feed(self, chunk: bytes) -> list[bytes]:
        # a NUL or "@" is one memchr each, and a byte past 0x7F (B5, D3, AA, A0) one
        # isascii, words at a time; a search for B5 62 costs 20 times more. Binary frames are
        # taken out first: their payloads may hold a CR
        dollar = False
        if not self._held and (
            0 in chunk
            or _SBF_SECOND in chunk
            or ((_ASHTECH_H in chunk or _ASHTECH_H in self._buffer) and self._ashtech_head(chunk))
        ):
            dollar, chunk = self._dollar_block(chunk)
        if (
            dollar
            or self._held
            or _DLE in chunk
            or (
                not chunk.isascii()
                and (
                    _UBX_FIRST in chunk
                    or _RTCM_FIRST in chunk
                    or _OEM_FIRST in chunk
                    or _SIRF_FIRST in chunk
                    or _CASIC_FIRST in chunk
                )
            )
        ):
            frames = self._feed_binary(chunk)
            return self._cut_first(frames) if self.cut_first and frames else frames
        return self._text(chunk)

    def _ashtech_head(self, chunk: bytes) -> bool:
        """Whether ``chunk`` holds ``$PASHR,`` or the pending line ends in its first bytes, or
        in it and less than an ID and its comma after it: the chunk may end an Ashtech reply's
        header (see :meth:`feed`, which asks only when the chunk or the pending line holds
        the header's ``H``: one of them does)."""
        if _ASHTECH_LEAD in chunk:
            return True
        pending = self._buffer
        if not pending or self._dropping:
            return False
        last = pending.rfind(b"$", -(_ASHTECH_HEADER - 1))
        return last >= 0 and _ASHTECH_LEAD.startswith(pending[last : last + len(_ASHTECH_LEAD)])

    def _dollar_block(self, chunk: bytes) -> tuple[bool, bytes]:
        """Whether a ``$BIN``, SBF or Ashtech candidate starts in ``chunk`` or in the pending
        line right before it (the chunk holds a NUL or an ``@``, one of which each ``$BIN``
        or SBF candidate holds within its first 6 bytes, or ``$PASHR,``, or the pending line
        ends in a part of an Ashtech header), and the bytes to cut for frames: ``chunk``, after the
        pending line's bytes from the candidate's start on when it starts there (they are
        taken back from the pending line, which goes on after the binary frames are taken
        out, as in a chunk that holds them all)."""
        pending = b"" if self._dropping else self._buffer
        found = _DOLLAR_CANDIDATE.search(pending + chunk if pending else chunk)
        if found is None:
            return False, chunk
        at = found.start()
        if at < len(pending):
            self._buffer = pending[:at]
            chunk = pending[at:] + chunk
        return True, chunk

    def _text(self, chunk: bytes) -> list[bytes]:
        """The frames of ``chunk``, which holds no binary frame candidate."""
        # two counts in C: a CR that no LF follows in the chunk (its last byte included)
        # becomes CR LF, and an LF that the next chunk begins with ends an empty line, which
        # is no frame
        if self._strip_cr and chunk.count(b"\r") != chunk.count(b"\r\n"):
            chunk = _LONE_CR.sub(b"\r\n", chunk)
        if self._dropping:
            chunk = self._dropped(chunk)
        lines = super().feed(chunk)
        if not lines:
            return lines
        n = len(lines)
        joined = b"\n".join(lines)
        # one start character per line, the line's first byte: n of them, n - 1 after a "\n";
        # and every "*" a checksum of two hex digits that ends its line (a line holds no "\n"
        # when this is asked)
        if (
            (
                joined[0] == 36  # "$"
                and b"!" not in joined
                and joined.count(b"$") == n
                and joined.count(b"\n$") == n - 1
                and not (self._lines_hold_newlines and joined.count(b"\n") != n - 1)
            )
            or (
                joined[0] in b"$!"
                and joined.count(b"$") + joined.count(b"!") == n
                and joined.count(b"\n$") + joined.count(b"\n!") == n - 1
                and joined.count(b"\n") == n - 1
            )
        ) and (
            not (stars := joined.count(b"*"))
            or (marked := joined.translate(_HEX_AS_H)).count(b"*hh\n") + marked.endswith(b"*hh")
            == stars
        ):
            return self._cut_first(lines) if self.cut_first else lines
        sentences: list[bytes] = []
        for line in lines:
            sentences += self._sentences(line)
        self.frames += len(sentences) - n
        return self._cut_first(sentences) if self.cut_first and sentences else sentences

    def _cut_first(self, frames: list[bytes]) -> list[bytes]:
        """``frames``, the first sentences since an open whose first bytes came right after
        it (:attr:`cut_first`), without the first of them when it carries no checksum: it
        may be a sentence that stale bytes a USB adapter held cut at its end, the receiver's
        bytes read after them beginning at a line end, with every field of its type and its
        last value shortened (a MediaTek GSA's VDOP ``2`` of ``2.11``), which nothing shows
        as long as no checksum has come. Its bytes are counted in ``skipped_bytes``, as the
        first line of a text device's that the open may have cut is; a first sentence with
        its ``*`` is passed on, for the decoder to check."""
        self.cut_first = False
        first = frames[0]
        if b"*" in first:
            return frames
        self.frames -= 1
        self.skipped_bytes += len(first)
        return frames[1:]

    def _feed_binary(self, chunk: bytes, final: bool = False) -> list[bytes]:
        """The frames of the held bytes and ``chunk``, binary frames taken out (counted in
        ``skipped_bytes``) and the sentences inside candidates passed on in their place; the
        bytes from a candidate that has not all come yet, or the first bytes of a sync, are
        held back for the next chunk, unless the stream ends here (``final``)."""
        data = self._held + chunk if self._held else chunk
        cut = _cut_binary(
            data,
            self._ubx_limit,
            self._sentences_in_binary,
            self._released,
            self._scan_from,
            final=final,
        )
        self.skipped_bytes += cut.taken + cut.skipped
        # nothing is held while the bytes between the frames go the way of other chunks
        self._held = b""
        frames: list[bytes] = []
        for parts, sentences in cut.pieces:
            for number, text in enumerate(parts):
                if number:
                    frames += self._ended_by_sentence()
                if not text:
                    continue
                binary = (
                    _UBX_FIRST in text
                    or _RTCM_FIRST in text
                    or _OEM_FIRST in text
                    or _SIRF_FIRST in text
                    or _CASIC_FIRST in text
                    or _DLE in text
                    or _DOLLAR_CANDIDATE.search(text) is not None
                )
                frames += self._lines(text) if binary else self._text(text)
            if sentences:
                frames += self._glued_to_frame()
                frames += sentences
                self.frames += len(sentences)
        if cut.held_at < len(data):
            frames += self._glued_to_frame()
        self._held = data[cut.held_at :]
        self._released = cut.released
        self._scan_from = cut.scan_from
        return frames

    def _ended_by_sentence(self) -> list[bytes]:
        """The sentences of the pending line where a sentence passed on before from a binary
        frame candidate that failed stood, left out of the bytes for the line framer: its
        start character ends the line's last piece, as a sentence glued to it would on a
        line. The pieces that begin with a whole checksummed sentence are passed on (one
        glued to it), the rest is skipped (noise, a sentence cut short); a piece being dropped
        (see :meth:`_dropped`) ends there, as at any start character."""
        if self._dropping:
            self._dropped(b"$")  # ends the piece; the "$" is the sentence's, passed on before
            return []
        rest = self._buffer
        if not rest:
            return []
        self._buffer = b""
        starts = [match.start() for match in _START.finditer(rest)]
        if not starts:
            self.skipped_bytes += len(rest)
            return []
        found = self._checked(rest, [*starts, len(rest)])
        self.frames += len(found)
        return found

    def _glued_to_frame(self) -> list[bytes]:
        """The sentences of the pending line when a binary frame candidate follows it that
        holds sentences or has not all come (or the first bytes of a sync), if its last piece
        begins with a whole checksummed sentence, its line end lost: the candidate's first
        byte ends the line, as the start character of a sentence glued to it would end that
        sentence, and its sentences are passed on at once, before the candidate's, as the
        line gives them (:meth:`_sentences`); else the line stays pending from its last start
        character on, and the whole checksummed sentences before it, which that start
        character has ended, are passed on (a sentence glued to noise that a ``$`` begins and
        a false lead-in in that noise follows), so that they come before the candidate's, in
        the order of the line. The line's last bytes that may begin a terminator of more than
        one byte (the CR of CR LF) stay pending: the candidate may be a frame taken out whole,
        after which the line goes on, and the rest of its terminator then ends it, as read at
        once."""
        rest = self._buffer
        if self._dropping or not rest:
            return []
        last = max(rest.rfind(b"$"), rest.rfind(b"!"))
        if last < 0:
            return []
        if _CHECKED_SENTENCE.match(rest, last, last + self.max_frame_bytes) is None:
            starts = [match.start() for match in _START.finditer(rest, 0, last)]
            if not starts:
                return []
            self._buffer = rest[last:]
            found = self._checked(rest, [*starts, last])
        else:
            keep = self._keep_tail
            while keep and not rest.endswith(self.terminator[:keep]):
                keep -= 1
            self._buffer = rest[len(rest) - keep :]
            found = self._sentences(rest[: len(rest) - keep])
        self.frames += len(found)
        return found

    def _lines(self, text: bytes) -> list[bytes]:
        """The sentences of ``text``, bytes without binary frames but with a byte ``B5`` or
        ``D3`` (from a candidate that failed): what :meth:`feed` makes of a chunk without
        one, without its shortcut for the common chunk."""
        if self._strip_cr and _LONE_CR.search(text) is not None:
            text = _LONE_CR.sub(b"\r\n", text)
        if self._dropping:
            text = self._dropped(text)
        lines = LineFramer.feed(self, text)
        sentences: list[bytes] = []
        for line in lines:
            sentences += self._sentences(line)
        self.frames += len(sentences) - len(lines)
        return sentences

    def _dropped(self, chunk: bytes) -> bytes:
        """What follows in ``chunk`` the rest of a piece longer than a sentence (see
        :meth:`_overlong_pending`): the bytes from the next start character on, or after the
        next terminator; ``b""`` while neither has come. The piece's bytes are counted."""
        data = self._buffer + chunk if self._buffer else chunk
        end = data.find(self.terminator)
        start = _START.search(data, 0, len(data) if end < 0 else end)
        if start is not None:
            at = start.start()
            # a whole proprietary sentence glued to the next one is ignored, else skipped
            if not self._proprietary_ended(data[:at]):
                self.skipped_bytes += self._undecided + at
            rest = data[at:]
        elif end >= 0:
            cr = 1 if self._strip_cr and data[end - 1 : end] == b"\r" else 0
            if self._proprietary_ended(data[: end - cr]):
                pass  # a whole proprietary sentence: ignored
            elif self._undecided:  # a piece without sentence
                self.overlong += 1
            else:  # the bytes after a sentence, up to the CR of a CR LF line end
                self.skipped_bytes += end - cr
            rest = data[end + len(self.terminator) :]
        else:
            kept = len(data) - self._keep_tail
            if self._undecided:
                self._undecided += kept
                if self._proprietary is not None:
                    self._proprietary = _proprietary_so_far(self._proprietary, data[:kept])
            else:
                self.skipped_bytes += kept
            self._buffer = data[kept:]
            return b""
        self._buffer = b""
        self._dropping = False
        self._undecided = 0
        self._proprietary = None
        return rest

    def _proprietary_ended(self, data: bytes) -> bool:
        """Whether the piece being dropped, ending with ``data``, is a whole proprietary
        sentence (see :meth:`_dropped`): then it is counted in ``ignored``, and the bytes after
        its checksum in ``skipped_bytes``."""
        if self._proprietary is None:
            return False
        state = _proprietary_so_far(self._proprietary, data)
        if not _proprietary_ends(state):
            return False
        self.ignored += 1
        self.skipped_bytes += state[2]
        return True

    def _sentences(self, line: bytes) -> list[bytes]:
        starts = [match.start() for match in _START.finditer(line)]
        if not starts:
            self.skipped_bytes += len(line)  # no sentence in it
            return []
        sentences = self._checked(line, starts)
        last = starts[-1]
        match = _CHECKED_SENTENCE.match(line, last, last + self.max_frame_bytes)
        if match is None:
            sentences.append(line[last:])  # a damaged sentence, or one without checksum
        else:
            sentences.append(match.group())
            self.skipped_bytes += len(line) - match.end()
        return sentences

    def _checked(self, data: bytes, starts: list[int]) -> list[bytes]:
        """The whole checksummed sentences of at most ``max_frame_bytes`` that begin at
        ``starts`` (each piece but the last, which the caller handles); the bytes before the
        first start and after each sentence's checksum are counted as skipped."""
        skipped = starts[0]
        limit = self.max_frame_bytes
        sentences: list[bytes] = []
        for start, end in pairwise(starts):
            match = _CHECKED_SENTENCE.match(data, start, min(end, start + limit))
            if match is None:
                whole = _whole_proprietary(data, start, end) if end - start > limit else 0
                if whole:
                    self.ignored += 1  # glued to the next sentence
                    skipped += end - start - whole
                else:
                    skipped += end - start
            else:
                sentences.append(match.group())
                skipped += end - match.end()
        self.skipped_bytes += skipped
        return sentences

    def _overlong(self, part: bytes) -> list[bytes]:
        """A line past ``max_frame_bytes`` (sentences glued without line breaks): its
        sentences, the last piece too unless what is passed on of it is overlong itself; a
        line without a start character is skipped, as a short one is. The CR before a
        ``\\n`` terminator, which a short line has lost already, is no byte of the line."""
        if self._strip_cr and part[-1:] == b"\r":
            part = part[:-1]
        if _START.search(part) is None:
            self.skipped_bytes += len(part)
            return []
        sentences = self._sentences(part)
        if len(sentences[-1]) > self.max_frame_bytes:
            piece = sentences.pop()
            whole = _whole_proprietary(piece, 0, len(piece))
            if whole:
                self.ignored += 1
                self.skipped_bytes += len(piece) - whole
            else:
                self.overlong += 1
        return sentences

    def _overlong_pending(self, rest: bytes) -> tuple[list[bytes], bytes]:
        """Pending bytes past ``max_frame_bytes`` (sentences glued without line breaks, a
        terminator that never comes): the sentences before the last start character, which
        stays pending with what follows it. Without a start character the bytes are skipped
        but for a possible start of a terminator of more than one byte (with the terminator
        ``\\n``, a CR is never pending: :meth:`feed` ends a line at each). When the piece
        from the last start character is longer than a sentence may be, its sentence (when it
        starts with one) is passed on too, and the rest of it is dropped up to the next start
        character or terminator (:meth:`_dropped`)."""
        starts = [match.start() for match in _START.finditer(rest)]
        tail = self._keep_tail
        if not starts:
            self.skipped_bytes += len(rest) - tail
            return [], rest[len(rest) - tail :]
        sentences = self._checked(rest, starts)
        last = starts[-1]
        limit = self.max_frame_bytes
        if len(rest) - last <= limit + tail:
            return sentences, rest[last:]
        kept = len(rest) - tail
        match = _CHECKED_SENTENCE.match(rest, last, last + limit)
        if match is None:
            self._undecided = kept - last
            if _PROPRIETARY_HEAD.match(rest, last) is not None:
                self._proprietary = _proprietary_so_far((0, b"", 0), rest[last + 1 : kept])
        else:
            sentences.append(match.group())
            self.skipped_bytes += kept - match.end()
        self._dropping = True
        return sentences, rest[kept:]

    def no_frame_hint(self, data: bytes) -> str:
        """See :meth:`sensord.formats.base.Framer.no_frame_hint`; names UBX, RTCM 3,
        Hemisphere ``$BIN``, SBF, NovAtel, Unicore, SiRF, SkyTraq, TSIP, CASIC, Garmin or
        Ashtech output without NMEA sentences, and for Garmin records what switches the
        receiver back to NMEA. The bytes before the first whole frame are left out: they may
        be the tail of a frame that the capture ring or the port's open cut, whose ``$`` or
        ``!`` begins no sentence. A Garmin record that lost its first DLE on the line is named
        as the record it is (see :func:`_with_garmin_heads`), not as the TSIP packet or the
        text its bytes may read as."""
        data = _with_garmin_heads(data)
        data = data[_first_whole_frame(data, self._ubx_limit) :]
        cut = _cut_binary(data, self._ubx_limit, self._sentences_in_binary, [], 0)
        text = b"".join(b"".join(parts) for parts, _ in cut.pieces)
        if cut.taken and _START.search(text) is None:
            by_kind = cut.taken_by_kind
            if by_kind[_RTCM] == cut.taken:
                return (
                    "the device sends RTCM 3 correction frames and no NMEA sentence: enable "
                    "NMEA output on this port, or read the NMEA port of the receiver"
                )
            if by_kind[_UBX] + by_kind[_RTCM] == cut.taken:
                return (
                    "the device sends u-blox UBX binary frames and no NMEA sentence: enable "
                    "NMEA output on this port (UBX-CFG-PRT outProtoMask, or "
                    "CFG-UART1OUTPROT-NMEA)"
                )
            if by_kind[_GARMIN] == cut.taken:
                return (
                    "the device sends Garmin binary records and no NMEA sentence: the receiver "
                    "is in Garmin binary mode, which it keeps over a power cycle (gpsd switches "
                    "a Garmin to it): switch it back to NMEA with gpsctl -n on this port, or "
                    f"have sensord write it the bytes that do ({_GARMIN_TO_NMEA}) on each "
                    f'connect: setup = [{{ send = "{_GARMIN_TO_NMEA}" }}]'
                )
            names = [name for kind, name in _NAMES if by_kind[kind]]
            return (
                f"the device sends {' and '.join(names)} binary messages and no NMEA "
                "sentence: enable NMEA output on this port"
            )
        return super().no_frame_hint(data)


#: A Garmin record's ID (see :data:`_GARMIN_SIZES`).
_GARMIN_ID = re.compile(b"[%s]" % b"".join(re.escape(bytes((i,))) for i in sorted(_GARMIN_SIZES)))


def _with_garmin_heads(data: bytes) -> bytes:
    """``data`` with a DLE put back before each Garmin record that lost its first one (a byte
    lost on the line, or the capture ring's cut): the record ID, its size byte, data and
    checksum whose sum holds, and DLE ETX, with no DLE before them. Its bytes would read as
    a TSIP packet (the stuffed DLE of a GPS 18x satellite record's ``10 10 1C``, and its
    bytes up to the record's DLE ETX, read as a 0x1C report) or as text (a ``$`` or ``!`` in
    its data) rather than as the record it is: the framer skips them either way, and the
    hint names what the port sends. The records whose DLE came are passed over whole."""
    parts: list[bytes] = []
    copied = 0  # the bytes of data in parts
    past = 0  # past the last record found
    for match in _GARMIN_ID.finditer(data):
        start = match.start()
        if start < past:
            continue
        if start and data[start - 1] == _DLE and start - 1 >= past:
            end = _garmin_end(data, start - 1) if start + 1 < len(data) else 0
            if 0 < end <= len(data) and _garmin_holds(data, start - 1, end):
                past = end
            continue
        size = _GARMIN_SIZES[data[start]]
        record = b"\x10" + data[start : start + 2 + 2 * (size + 2) + 2]
        end = _garmin_end(record, 0) if len(record) > 2 else 0
        if 0 < end <= len(record) and _garmin_holds(record, 0, end):
            parts += (data[copied:start], b"\x10")
            copied = start
            past = start + end - 1
    return b"".join((*parts, data[copied:])) if parts else data


def _first_whole_frame(data: bytes, limit: int) -> int:
    """Where the first binary frame of ``data`` whose bytes have all come and whose check
    holds starts; 0 when there is none."""
    size = len(data)
    for candidate in _CANDIDATE.finditer(data):
        start = candidate.start()
        kind = _kind(data, start)
        if start + _HEADER[kind] > size:
            continue
        end = _claimed_end(data, start, kind, limit)
        if 0 < end <= size and _holds(data, start, end, kind):
            return start
    return 0


def nmea_framer(spec: FormatSpec, terminator: bytes, max_frame_bytes: int) -> NmeaFramer:
    """The NMEA ``framer``: lines at the configured terminator, cut into sentences."""
    del spec
    return NmeaFramer(terminator, max_frame_bytes)
