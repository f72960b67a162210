"""The edges of a receiver's NMEA stream through the framer: a port opened at any byte of its
output (the tail of the sentence the open cut, and what a USB adapter plugged in or opened
reads before it: NUL bytes of a BREAK, 0xFF of a byte whose start bit was missed, stale
bytes its buffer held, which may cut the next sentence too), and a u-blox ``$PUBX,03`` past
max_frame_bytes padded with NULs or spaces after its checksum. The streams are the fixtures
of ``tests/fixtures/nmea`` (each names its origin), read as the sensor reads them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from harness.pty import PtyPair
from test_first_line import Clock, send, sensor
from test_formats_nmea import (
    NAV_PVT,
    RTCM_1005,
    RTCM_1077,
    UBLOX_GGA,
    UBLOX_RMC,
    UBX_ACK,
    feed_in_pieces,
    feed_timed,
    nmea,
    pubx_svstatus,
    sentences_with_line_ends,
)
from test_formats_nmea_receivers import FIXTURES, stream

from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec
from sensord.formats.nmea_framer import NmeaFramer, checksum

#: Receivers of several makers: u-blox (two glued GSA, a repeated ``$``), SiRF (a stray
#: character before a ``$``, a GSV group cut short), MediaTek (a last sentence cut short),
#: Airmar (proprietary lines without checksum).
RECEIVERS = ["ublox_m8.nmea", "sirf_nmea.nmea", "mediatek_mt3339.nmea", "airmar_110wx.nmea"]

#: What a USB serial adapter may read before a receiver's bytes when it is plugged in or its
#: port opened while the receiver sends: a NUL (a BREAK: the line held low as the adapter
#: powers up), 0xFF and other bytes of a start bit missed, a run of them.
ADAPTER_NOISE = [b"\x00", b"\xff", b"\xff\xfe", b"\x00" * 8, b"\xff\xff\xff\x00", b"\xf8\xe0"]


def run(data: bytes, sizes: list[int]) -> tuple[NmeaFramer, list[bytes]]:
    """A framer that has read ``data`` in pieces of ``sizes`` (:func:`feed_in_pieces`) and
    was flushed, and the frames it gave."""
    cut = NmeaFramer()
    frames = feed_in_pieces(cut, data, sizes)
    return cut, frames + cut.flush()


def located(data: bytes) -> list[tuple[int, bytes]]:
    """The frames of the whole stream ``data``, each with where it starts in it."""
    found: list[tuple[int, bytes]] = []
    at = 0
    for frame in run(data, [])[1]:
        at = data.index(frame, at)
        found.append((at, frame))
        at += len(frame)
    return found


def line_end_bytes(data: bytes) -> int:
    return data.count(b"\r") + data.count(b"\n")


def next_start(data: bytes, at: int) -> int:
    """The first start character at or after ``at``; the end of ``data`` when none."""
    starts = [i for i in (data.find(b"$", at), data.find(b"!", at)) if i >= 0]
    return min(starts, default=len(data))


@pytest.mark.parametrize("name", RECEIVERS)
def test_a_receiver_opened_at_any_byte_loses_only_the_sentence_the_open_cut(name: str) -> None:
    """A port opened at any byte of a receiver's output reads every sentence that begins
    after that byte, as the whole stream gives it: the tail of the sentence the open cut (up
    to the next ``$``: on its own line, or glued to the next sentence) is skipped bytes, no
    frame, no ``overlong``; its line end is no byte skipped."""
    data = stream(name)
    whole = located(data)
    after: dict[int, tuple[int, int]] = {}
    for at in range(len(data)):
        cut, frames_read = run(data[at:], [[], [7], [64]][at % 3])
        assert frames_read == [frame for start, frame in whole if start >= at], at
        start = next_start(data, at)
        if start not in after:
            reference = run(data[start:], [])[0]
            after[start] = (reference.frames, reference.skipped_bytes)
        frames, skipped = after[start]
        tail = data[at:start]
        assert (cut.frames, cut.overlong, cut.ignored) == (frames, 0, 0), at
        assert cut.skipped_bytes == skipped + len(tail) - line_end_bytes(tail), at


@pytest.mark.parametrize("name", RECEIVERS)
@pytest.mark.parametrize("noise", ADAPTER_NOISE, ids=lambda b: b.hex())
def test_adapter_noise_before_a_cut_sentence_costs_no_sentence(name: str, noise: bytes) -> None:
    """The bytes an adapter reads as it is plugged in, before the receiver's bytes from any
    byte of its first two lines: the same frames as without them, which are skipped bytes
    with the rest of the cut sentence (or before a whole one's ``$``), bytewise too."""
    data = stream(name)
    second_line_end = data.index(b"\n", data.index(b"\n") + 1) + 1
    for at in range(second_line_end + 1):
        quiet, frames = run(data[at:], [])
        noisy, frames_read = run(noise + data[at:], [1] if at % 5 == 0 else [3, 64])
        assert frames_read == frames, at
        assert (noisy.frames, noisy.overlong) == (quiet.frames, 0)
        assert noisy.skipped_bytes == quiet.skipped_bytes + len(noise), at


def ending(frame: bytes) -> int:
    """How many bytes from its start a frame needs to come whole: a checksummed sentence up
    to its checksum, one without checksum up to its line end (the next ``$`` may have cut
    it)."""
    checked = frame[-3:-2] == b"*"
    return len(frame) if checked else len(frame) + 1


def stale_splices(data: bytes) -> Iterator[tuple[int, int, int]]:
    """Where an open cuts ``data`` (``opened``, in its first line), where the stale bytes an
    adapter held end (``held``: any byte of its second and third lines), and where the
    receiver's bytes read after them begin (``live``: at the fifth line's start, within its
    address, in its middle, after its ``*``, at its line end)."""
    ends = [i + 1 for i, byte in enumerate(data) if byte == 0x0A]
    opened = ends[0] // 2
    fifth, sixth = ends[3], ends[4]
    star = data.find(b"*", fifth, sixth)
    assert star > 0
    lives = [fifth, fifth + 3, (fifth + sixth) // 2, star + 1, sixth - 2]
    for held, live in itertools.product(range(ends[0], ends[2] + 1), lives):
        yield opened, held, live


@pytest.mark.parametrize("name", RECEIVERS)
@pytest.mark.parametrize("between", [b"", b"\x00\xff"], ids=["joined", "noise between"])
def test_a_second_sentence_cut_by_stale_bytes_is_the_one_more_lost(
    name: str, between: bytes
) -> None:
    """Two lost frames in a row at the stream's start: the open cut a sentence, and the stale
    bytes the adapter held end within a later one (or between two), the receiver's bytes
    after them from within another: the sentences whole in the stale bytes and after them
    are read, and what the two cut sentences make is at most one frame, where it came (a
    sentence whose checksum fails, or without its checksum: the decoder's to judge), never
    ``overlong``, never a whole sentence lost with it."""
    data = stream(name)
    whole = located(data)
    for opened, held, live in stale_splices(data):
        cut, frames = run(data[opened:held] + between + data[live:], [7])
        before = [f for start, f in whole if start >= opened and start + ending(f) <= held]
        after = [f for start, f in whole if start >= live]
        assert frames[: len(before)] == before, (opened, held, live)
        assert frames[len(frames) - len(after) :] == after, (opened, held, live)
        assert len(frames) - len(before) - len(after) in (0, 1), (opened, held, live)
        assert (cut.frames, cut.overlong) == (len(frames), 0), (opened, held, live)


def test_a_ublox_stream_with_binary_frames_opened_at_any_byte() -> None:
    """A u-blox receiver that sends UBX and RTCM 3 frames on the port of its sentences (a
    NAV-PVT, whose payload holds a CR, and an ACK-ACK after every third line; a message 1005
    after every fifth), opened at any byte, within a binary frame too: the tail of a frame
    the open cut (no sync bytes before it) goes to the line framer as bytes without
    sentence, skipped; the sentences that begin after the open are the whole stream's,
    never ``overlong``. Every byte read is a frame's, a line end's or skipped: the frames
    taken out whole (their CR too), the cut frame's tail but its CR, the noise."""
    lines = [line + b"\r\n" for line in stream("ublox_m8.nmea").split(b"\r\n") if line]
    data = b""
    binary: list[tuple[int, bytes]] = []  # each binary frame and where it starts
    for number, line in enumerate(lines * 2, 1):
        data += line
        for frame in [NAV_PVT, UBX_ACK] * (number % 3 == 0) + [RTCM_1005] * (number % 5 == 0):
            binary.append((len(data), frame))
            data += frame
    assert line_end_bytes(NAV_PVT) == 1
    whole = located(data)
    assert len(whole) == 2 * 13
    for at in range(len(data)):
        cut, frames = run(data[at:], [[], [7], [64]][at % 3])
        assert frames == [frame for start, frame in whole if start >= at], at
        assert (cut.frames, cut.overlong) == (len(frames), 0), at
        taken_line_ends = sum(line_end_bytes(frame) for start, frame in binary if start >= at)
        line_ends = line_end_bytes(data[at:]) - taken_line_ends
        assert cut.skipped_bytes == len(data) - at - len(b"".join(frames)) - line_ends, at


#: What an adapter may pad a line with after its last sentence's checksum.
PADDING = [b"\x00", b"\x00" * 4, b"   ", b" \x00 \x00"]


@pytest.mark.parametrize(
    ("terminator", "line_end"),
    [(b"\n", b"\r\n"), (b"\n", b"\n"), (b"\n", b"\r"), (b"\r\n", b"\r\n"), (b"\n", b"")],
    ids=["CR LF", "LF", "CR", "terminator CR LF", "glued to the next sentence"],
)
@pytest.mark.parametrize("padding", PADDING, ids=lambda b: b.hex())
def test_a_pubx_svstatus_past_max_frame_bytes_padded_after_its_checksum_is_ignored(
    terminator: bytes, line_end: bytes, padding: bytes
) -> None:
    """A ``$PUBX,03`` of 32 satellites, past max_frame_bytes, whose checksum holds and which
    the adapter pads with NULs or spaces before its line end (or before the next sentence,
    its line end lost) is whole: an ignored frame, its padding skipped bytes as after a
    shorter sentence, not ``overlong``; the sentences around it are read, whatever the
    chunking. One that a damaged byte spoils is ``overlong`` at its line end, or skipped up
    to the next ``$``, its padding with it; so is one cut before its checksum."""
    pubx = pubx_svstatus(32)
    assert len(pubx) > 512

    def cut_all(middle: bytes) -> set[tuple[tuple[bytes, ...], int, int, int, int]]:
        data = UBLOX_GGA + line_end + middle + padding + line_end + UBLOX_RMC + b"\r\n"
        results = set()
        for sizes in ([], [1], [7], [64], [300], [len(UBLOX_GGA) + len(pubx), 1]):
            cut = NmeaFramer(terminator)
            frames = feed_in_pieces(cut, data, sizes)
            results.add((tuple(frames), cut.frames, cut.overlong, cut.ignored, cut.skipped_bytes))
        return results

    around = (UBLOX_GGA, UBLOX_RMC)
    assert cut_all(pubx) == {(around, 2, 0, 1, len(padding))}
    damaged = pubx.replace(b",U,", b",u,", 1)
    cut_short = pubx[:-3]
    for spoiled in (damaged, cut_short):
        if line_end:
            assert cut_all(spoiled) == {(around, 2, 1, 0, 0)}
        else:
            assert cut_all(spoiled) == {(around, 2, 0, 0, len(spoiled) + len(padding))}


def test_the_sentence_after_a_padded_pubx_svstatus_is_read_and_counts_once() -> None:
    """The padding after a ``$PUBX,03`` past max_frame_bytes and the sentence glued after it:
    the PUBX ignored, each padding byte skipped once, the sentence after it a frame, a
    sentence glued to that one too; a padded PUBX before the next one, twice in a row."""
    pubx = pubx_svstatus(40)
    pad = b"\x00\x00 "
    data = pubx + pad + UBLOX_GGA + pubx + pad + pubx + pad + b"\r\n" + UBLOX_RMC + b"\r\n"
    for sizes in ([], [1], [5], [511], [len(pubx) + 1, 2]):
        cut = NmeaFramer()
        assert feed_in_pieces(cut, data, sizes) == [UBLOX_GGA, UBLOX_RMC]
        assert (cut.frames, cut.overlong, cut.ignored) == (2, 0, 3)
        assert cut.skipped_bytes == 3 * len(pad)


def test_a_ublox_stream_with_a_padded_pubx_svstatus_opened_at_any_byte() -> None:
    """A u-blox M8's epoch, its ``$PUBX,03`` of 32 satellites padded with NULs, and the next
    epoch, opened at any byte: the sentences that begin after the open are read, the PUBX is
    ignored when the open came before it, and skipped with the rest of the cut bytes when
    the open cut it; never ``overlong``."""
    epoch = stream("ublox_m8.nmea")
    pubx = pubx_svstatus(32)
    pad = b"\x00" * 6
    data = epoch + pubx + pad + b"\r\n" + epoch
    pubx_at = len(epoch)
    whole = located(data)
    for at in range(len(data)):
        cut, frames = run(data[at:], [[], [7], [64]][at % 3])
        assert frames == [frame for start, frame in whole if start >= at], at
        assert cut.overlong == 0, at
        assert cut.ignored == (1 if at <= pubx_at else 0), at


def test_a_receiver_plugged_in_while_sending_through_a_sensor_on_a_pty() -> None:
    """Through a sensor on a real pty: what the port reads after a USB adapter is plugged in
    while a u-blox receiver sends, its bytes from the middle of a GGA, a NUL and 0xFF before
    them, its ``$PUBX,03`` padded with NULs each epoch: no parse error, every GGA and RMC
    after the cut read, the PUBX an ignored frame each epoch, the cut bytes, the noise and
    the padding skipped."""
    body = (
        'format = "nmea"\n'
        'channels = [{ name = "alt", field = "GGA.altitude" }, '
        '{ name = "lat", field = "RMC.latitude" }]\n'
    )
    pubx = pubx_svstatus(32)
    pad = b"\x00" * 5

    def epoch(second: int) -> bytes:
        gga = f"GPGGA,0927{second:02d}.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,"
        rmc = f"GPRMC,0927{second:02d}.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,A"
        return nmea(gga) + b"\r\n" + pubx + pad + b"\r\n" + nmea(rmc) + b"\r\n"

    first = epoch(10)
    tail = first[first.index(b",N,") :]  # from the middle of the GGA
    noise = b"\x00\xff"
    clock = Clock()
    with PtyPair() as pair, sensor(pair, clock, body) as runtime:
        clock.now += 0.001
        send(runtime, pair, noise + tail)
        for second in range(11, 14):
            clock.now += 1.0
            send(runtime, pair, epoch(second))
        snapshot = runtime.snapshot()
    assert {reason: n for reason, n in snapshot.parse_errors.items() if n} == {}
    cut_gga = tail.index(b"\r\n")
    assert snapshot.skipped_bytes == len(noise) + cut_gga + 4 * len(pad)
    assert snapshot.ignored_frames == 4
    counts = {c.name: c.stats.count if c.stats else 0 for c in snapshot.channels}
    assert counts == {"alt": 3, "lat": 4}


def zed_f9p_messages() -> list[bytes]:
    """The messages of ``ublox_zed_f9p_ubx.hex``, in order: UBX frames, and sentences each
    with its CR LF."""
    text = (FIXTURES / "ublox_zed_f9p_ubx.hex").read_text()
    return [bytes.fromhex(line) for line in text.splitlines() if not line.startswith("#")]


def came_in_chunks(
    terminator: bytes, data: bytes, chunk: int
) -> tuple[NmeaFramer, list[tuple[int, bytes]]]:
    """A framer of ``terminator`` fed ``data`` in chunks of ``chunk`` bytes, then flushed, and
    its frames, each with the length of the stream fed when it came (the flush's at the
    end)."""
    cut = NmeaFramer(terminator)
    timed = feed_timed(cut, data, chunk)
    return cut, timed + [(len(data), frame) for frame in cut.flush()]


@pytest.mark.parametrize(
    ("terminator", "lost_to"),
    [(b"\n", b""), (b"\r\n", b""), (b"\r\n", b"\r"), (b"\r\n", b"\n")],
    ids=[
        "CR LF lost",
        "terminator CR LF, CR LF lost",
        "terminator CR LF, LF lost",
        "terminator CR LF, CR lost",
    ],
)
def test_a_sentence_glued_to_the_next_inside_a_cut_frame_comes_in_its_place(
    terminator: bytes, lost_to: bytes
) -> None:
    """A ZED-F9P's UBX and NMEA output, its MON-SPAN cut after its 6-byte header (an overrun
    lost the rest: it claims 556 bytes, the next 550 bytes of the stream), and inside that
    length a GNGSA whose line end was lost before the NAV-COV frame after it and a GNGST whose
    line end was lost before the GNZDA (or, with the terminator CR LF, is a CR or an LF
    alone, no line end there): each is whole, its checksum holds and the next frame or
    sentence follows it, so it comes as soon as that frame's ``B5`` or that sentence's ``$``
    is in, in its place, not when the cut frame fails after the sentences behind it. The
    frames are those of the same bytes without the cut frame, as a line gives them, the same
    for every chunking, and so are the counters but for the cut frame's bytes."""
    messages = zed_f9p_messages()
    span, hw3, gsa = messages[1:4]
    gst = messages[10]
    assert span[:6] == bytes.fromhex("b5620a312402")  # MON-SPAN, 548 bytes of payload
    assert gsa.startswith(b"$GNGSA")
    cut_frame = span[:6]
    parts = [messages[0], cut_frame, hw3]
    for message in messages[3:]:
        glued = message in (gsa, gst)
        parts.append(message[:-2] + lost_to if glued else message)
    parts += messages  # the next epoch
    data = b"".join(parts)
    glued_at = [data.index(gsa[:-2]) + len(gsa) - 2, data.index(gst[:-2]) + len(gst) - 2]
    claimed_end = data.index(cut_frame) + len(span)
    assert all(at + len(lost_to) < claimed_end for at in glued_at)
    plain, plain_frames = came_in_chunks(terminator, data.replace(cut_frame, b"", 1), len(data))
    sentences = [frame for _, frame in plain_frames]
    assert len(sentences) == 2 * 6
    assert sentences[1:3] == [gsa[:-2], gst[:-2]]
    # where each sentence can come: with the byte that ends it (its CR, with the terminator CR
    # LF its LF; the next message's first byte for the two glued ones)
    line_end = len(terminator)
    ready = []
    at = 0
    for sentence in sentences:
        at = data.index(sentence, at) + len(sentence)
        ready.append(at + len(lost_to) + 1 if at in glued_at else at + line_end)
    results = set()
    for chunk in (1, 2, 7, 64, len(data)):
        cut, timed = came_in_chunks(terminator, data, chunk)
        assert [frame for _, frame in timed] == sentences, chunk
        for (came_at, _), ends_at in zip(timed, ready, strict=True):
            assert came_at - chunk < ends_at <= came_at, chunk
        results.add((cut.frames, cut.overlong, cut.skipped_bytes))
    junk = NmeaFramer(terminator)
    junk.feed(cut_frame)
    junk.flush()
    expected = (plain.frames, 0, plain.skipped_bytes + junk.skipped_bytes)
    assert results == {expected}


@pytest.mark.parametrize(
    "cut_frame",
    [RTCM_1077[:2], bytes.fromhex("b562013500")],
    ids=["RTCM 3 MSM7 after 2 bytes", "UBX NAV-SAT after 5 bytes"],
)
def test_a_sentence_starting_in_the_header_of_a_cut_frame_comes_in_its_place(
    cut_frame: bytes,
) -> None:
    """A frame cut short within its header, the ZED-F9P's sentences right after it: an MSM7
    (``D3 01 2C``) cut after ``D3 01``, whose length's second byte is then the GPGSV's ``$``
    (it claims 292 bytes), or a NAV-SAT of 42 satellites (512 bytes of payload, ``00 02``)
    cut after the first length byte, whose second is then that ``$`` (it claims 9216 bytes,
    the cap). The GPGSV, which starts inside the candidate's header, comes in the chunk that
    brings its CR, before the sentences after it, not when the candidate fails (or at the
    stream's end); the same frames and counters for every chunking."""
    sentences = [m for m in zed_f9p_messages() if m.startswith(b"$")]
    parts = [cut_frame, *sentences, *sentences]
    data = b"".join(parts)
    expected = sentences_with_line_ends(parts)
    results = set()
    for chunk in (1, 7, 64, len(data)):
        cut, timed = came_in_chunks(b"\n", data, chunk)
        assert [frame for _, frame in timed] == [frame for _, frame in expected], chunk
        for (came_at, _), (line_end, _) in zip(timed, expected, strict=True):
            assert came_at - chunk < line_end <= came_at, chunk
        results.add((cut.frames, cut.overlong, cut.skipped_bytes))
    assert results == {(12, 0, len(cut_frame))}


@pytest.mark.parametrize(
    ("terminator", "lost_to"),
    [(b"\n", b""), (b"\r\n", b""), (b"\r\n", b"\r"), (b"\r\n", b"\n")],
    ids=[
        "CR LF lost",
        "terminator CR LF, CR LF lost",
        "terminator CR LF, LF lost",
        "terminator CR LF, CR lost",
    ],
)
@pytest.mark.parametrize("cut_after", [6, 40])
@pytest.mark.parametrize("damaged", [False, True], ids=["", "checksum failing"])
def test_a_sentence_glued_to_a_cut_frame_comes_before_the_sentences_inside_it(
    terminator: bytes, lost_to: bytes, cut_after: int, damaged: bool
) -> None:
    """The ZED-F9P's GPGSV whose line end was lost before its MON-SPAN (or, with the
    terminator CR LF, is a CR or an LF alone), the MON-SPAN cut after its header or after 40
    bytes, the sentences of three epochs after it, those of the first inside the 556 bytes it
    claims: the GPGSV is whole and the frame's ``B5`` ends it, so it comes in the chunk that
    brings that byte, before the sentences after it, not when the cut frame fails; so does one
    whose checksum fails (a satellite's elevation damaged), for the decoder to reject, as on a
    line. The frames are those of the same bytes without the cut frame, the counters the same
    for every chunking."""
    messages = zed_f9p_messages()
    gsv, span = messages[:2]
    sentences = [m for m in messages if m.startswith(b"$")]
    if damaged:
        gsv = gsv.replace(b",52,", b",53,")
    cut_frame = span[:cut_after]
    data = gsv[:-2] + lost_to + cut_frame + b"".join(sentences[1:] + sentences * 2)
    assert len(data) > len(gsv) + len(span)  # the cut frame fails before the stream ends
    plain, plain_frames = came_in_chunks(terminator, data.replace(cut_frame, b"", 1), len(data))
    expected = [frame for _, frame in plain_frames]
    assert expected == [m[:-2] for m in [gsv, *sentences[1:], *sentences * 2]]
    ready = [len(gsv) - 2 + len(lost_to) + 1]
    at = ready[0]
    for sentence in expected[1:]:
        at = data.index(sentence, at) + len(sentence)
        ready.append(at + len(terminator))
    results = set()
    for chunk in (1, 2, 7, 64, len(data)):
        cut, timed = came_in_chunks(terminator, data, chunk)
        assert [frame for _, frame in timed] == expected, chunk
        for (came_at, _), ends_at in zip(timed, ready, strict=True):
            assert came_at - chunk < ends_at <= came_at, chunk
        results.add((cut.frames, cut.overlong, cut.skipped_bytes))
    junk = NmeaFramer(terminator)
    junk.feed(cut_frame)
    junk.flush()
    assert results == {(plain.frames, 0, plain.skipped_bytes + junk.skipped_bytes)}


#: Frames cut short whose claimed length takes in the sentences after them: the ZED-F9P's
#: MON-SPAN (``ublox_zed_f9p_ubx.hex``) cut after its 6-byte header (556 bytes), an MSM7 cut
#: after ``D3 01``, the ``$`` after it its length's second byte (292), a NAV-SAT cut after its
#: first length byte, the ``$`` its second (9216, the cap).
CUT_FRAMES = {
    "UBX MON-SPAN after its header": zed_f9p_messages()[1][:6],
    "RTCM 3 MSM7 after 2 bytes": RTCM_1077[:2],
    "UBX NAV-SAT after 5 bytes": bytes.fromhex("b562013500"),
}


@pytest.mark.parametrize("cut_frame", list(CUT_FRAMES.values()), ids=list(CUT_FRAMES))
def test_a_damaged_sentence_inside_a_cut_frame_comes_in_its_place(cut_frame: bytes) -> None:
    """The ZED-F9P's sentences (``ublox_zed_f9p_ubx.hex``) right after a frame cut short, the
    first, its GPGSV, damaged on the line (a satellite's elevation 52 read as 53: its checksum
    fails). Inside the candidate's claimed length a sentence whose checksum fails may be a
    payload's bytes, and is not passed on alone; but the GNGSA after it, whose checksum holds,
    shows the bytes to be text: the GPGSV comes with it, before it, for the decoder to reject,
    not after every sentence of the claimed length when the candidate fails (9216 bytes later
    behind a NAV-SAT's, 195 sentences). The frames are those of the same bytes without the cut
    frame, in order, each sentence after the GPGSV in the chunk that brings its line end; the
    counters the same for every chunking."""
    sentences = [m for m in zed_f9p_messages() if m.startswith(b"$")]
    damaged = sentences[0].replace(b",52,", b",53,")
    assert damaged != sentences[0]
    parts = [cut_frame, damaged, *sentences[1:], *sentences * 40]
    data = b"".join(parts)
    assert len(data) > 9216 + 8  # every candidate fails before the stream ends
    expected = sentences_with_line_ends(parts)
    assert expected[0][1] == damaged[:-2]
    ready = [expected[1][0]] + [line_end for line_end, _ in expected[1:]]
    plain, _ = came_in_chunks(b"\n", data.replace(cut_frame, b"", 1), len(data))
    results = set()
    for chunk in (1, 7, 64, len(data)):
        cut, timed = came_in_chunks(b"\n", data, chunk)
        assert [frame for _, frame in timed] == [frame for _, frame in expected], chunk
        for (came_at, _), ends_at in zip(timed, ready, strict=True):
            assert came_at - chunk < ends_at <= came_at, chunk
        results.add((cut.frames, cut.overlong, cut.skipped_bytes))
    junk = NmeaFramer()
    junk.feed(cut_frame)
    junk.flush()
    assert results == {(plain.frames, 0, plain.skipped_bytes + junk.skipped_bytes)}


@pytest.mark.parametrize("damaged", [False, True], ids=["intact", "first damaged"])
@pytest.mark.parametrize("cut_frame", list(CUT_FRAMES.values()), ids=list(CUT_FRAMES))
def test_text_of_a_whole_frame_s_payload_behind_a_cut_frame_is_no_sentence(
    cut_frame: bytes, damaged: bool
) -> None:
    """The ZED-F9P's sentences (``ublox_zed_f9p_ubx.hex``) behind a frame cut short
    (:data:`CUT_FRAMES`), with a whole RTCM 3 frame after the first of them whose payload
    holds the text of a sentence whose checksum fails, ``$GPGGA,1*5A`` (its bytes give 4B),
    and a line end (:data:`RTCM_1077`). The sentences after the frame, whose checksums hold,
    show the bytes after the frame to be text, not those inside it, which are the frame's:
    the frame is taken out whole and its payload's text is no frame; the frames are those of
    the same bytes without the cut frame, however the bytes are chunked. So with the first
    sentence damaged on the line (its checksum fails): it comes in its place, the first."""
    sentences = [m for m in zed_f9p_messages() if m.startswith(b"$")]
    lookalike = b"$GPGGA,1*5A"
    assert lookalike + b"\r\n" in RTCM_1077
    assert checksum(b"GPGGA,1") == 0x4B
    first = sentences[0].replace(b",52,", b",53,") if damaged else sentences[0]
    data = b"".join([cut_frame, first, RTCM_1077, *sentences[1:], *sentences * 40])
    assert len(data) > 9216 + 8  # every candidate fails before the stream ends
    plain, frames = came_in_chunks(b"\n", data.replace(cut_frame, b"", 1), len(data))
    expected = [frame for _, frame in frames]
    assert lookalike not in expected
    assert expected[0] == first[:-2]
    for chunk in (1, 7, 64, len(data)):
        cut, timed = came_in_chunks(b"\n", data, chunk)
        assert [frame for _, frame in timed] == expected, chunk
        assert cut.frames == plain.frames, chunk


@pytest.mark.parametrize("cut_frame", list(CUT_FRAMES.values()), ids=list(CUT_FRAMES))
def test_a_damaged_gsv_sentence_inside_a_cut_frame_is_one_error(cut_frame: bytes) -> None:
    """The ZED-F9P's NMEA output (``ublox_zed_f9p.nmea``, gpsd's capture
    ublox-zed-f9p-nmea.log) behind a frame cut short (:data:`CUT_FRAMES`), its first
    epoch's GLONASS L1 ``3,2`` damaged on the line (satellite 81's SNR 35 read as 36) right
    after the cut frame. Read through the framer (64-byte reads) and the decoder as a sensor
    reads them: one ``checksum`` error, as in the same stream without the cut frame, and the
    same readings. Coming after the rest of its group, as it did when the candidate failed,
    it made the ``3,3`` after it a second loss, ``truncated``."""
    lines = [line + b"\r\n" for line in stream("ublox_zed_f9p.nmea").split(b"\r\n") if line]
    at = lines.index(b"$GLGSV,3,2,10,73,06,174,,74,05,132,,81,64,223,35,82,13,214,33,1*7F\r\n")
    damaged = lines[at].replace(b",35,", b",36,")
    body = [*lines[:at], damaged, *lines[at + 1 :], *lines * 4]
    fields = ("GSV.in_view_glonass", "GSV.snr_max_glonass", "GSA.used_gps", "GGA.latitude")
    spec = FormatSpec("nmea", tuple((field, field) for field in fields))

    plain = decoded_in_pieces(b"".join(body), spec)
    assert plain[0] == ["checksum"]
    assert decoded_in_pieces(b"".join([*body[:at], cut_frame, *body[at:]]), spec) == plain


def test_a_ubx_header_past_the_cap_is_bytes_as_soon_as_its_length_is_in() -> None:
    """The ZED-F9P's GNGSA that lost its checksum, two bytes of noise ``B5 62`` before its CR
    LF, then its GNGST: ``B5 62``, CR, LF, ``$``, ``G`` read as a UBX header claim 18212
    bytes, past the cap, so they are no frame candidate. Fed in two chunks split at each
    byte, the GNGSA's line (a last piece without checksum, passed on as it is for the decoder
    to judge) comes with the first chunk when that chunk holds the whole 6-byte header, the
    earliest its length can be read, and with the second otherwise; the frames and counters
    are the same for every split."""
    messages = zed_f9p_messages()
    gsa, gst = messages[3], messages[10]
    line = gsa[: -len(b"*0E\r\n")] + b"\xb5\x62"
    data = line + b"\r\n" + gst + gsa
    header_end = len(line) - 2 + 6
    assert int.from_bytes(data[header_end - 2 : header_end], "little") == 18212
    results = set()
    for split in range(1, len(data)):
        cut = NmeaFramer()
        first = cut.feed(data[:split])
        second = cut.feed(data[split:]) + cut.flush()
        assert first + second == [line, gst[:-2], gsa[:-2]], split
        assert (line in first) == (split >= header_end), split
        results.add((cut.frames, cut.overlong, cut.skipped_bytes))
    assert results == {(3, 0, 0)}


def decoded_in_pieces(data: bytes, spec: FormatSpec) -> tuple[list[str], list[tuple[str, float]]]:
    """The parse errors and the readings of ``data`` read in 64-byte pieces through the
    framer and the decoder, as a sensor reads them."""
    codec = codec_for("nmea")
    framer = codec.framer(spec, b"\n", 512)
    parse = codec.sensor_decoder(spec, lambda: 0.0)
    errors: list[str] = []
    readings: list[tuple[str, float]] = []
    frames = [f for k in range(0, len(data), 64) for f in framer.feed(data[k : k + 64])]
    for frame in frames + framer.flush():
        try:
            readings += parse(frame)
        except ParseError as exc:
            errors.append(exc.reason)
            readings += exc.kept
    return errors, readings


def hex_messages(name: str) -> list[bytes]:
    """The messages of a ``.hex`` fixture, in order: UBX frames, and sentences each with its
    CR LF."""
    text = (FIXTURES / name).read_text()
    return [bytes.fromhex(line) for line in text.splitlines() if not line.startswith("#")]


@pytest.mark.parametrize(
    ("name", "counts", "glued"),
    [
        # gpsd's capture ublox-zed-f9p_hpg1.11.log: each $GNRMC right after a NAV-CLOCK
        ("ublox_zed_f9p_hpg111_ubx.hex", (7, 12), [1, 8, 15]),
        # RTKLIB's ubx_20080526.ubx: the next epoch's $GPRMC right after an RXM-RAW
        ("ublox_rtklib_raw_ubx.hex", (3, 11), [13]),
    ],
    ids=["ZED-F9P", "raw data 2008"],
)
def test_a_capture_of_ubx_and_nmea_reads_every_sentence_at_any_chunking(
    name: str, counts: tuple[int, int], glued: list[int]
) -> None:
    """u-blox receivers' UBX and NMEA output as captured: UBX frames whose payloads (RXM-RAWX,
    RXM-MEASX; RXM-RAW, RXM-SFRB) hold ``$``, ``!``, ``*``, CR and LF, and a sentence right
    after a UBX frame's checksum, no line end between them. At every chunk size the frames
    are the sentences, as gpsd reads them from the same bytes, and nothing else: the UBX
    frames are taken out whole (their bytes skipped), no byte of them reaches the line
    framer, no frame is ``overlong``."""
    messages = hex_messages(name)
    binary = [m for m in messages if m.startswith(b"\xb5\x62")]
    sentences = [m.removesuffix(b"\r\n") for m in messages if m.startswith(b"$")]
    assert (len(binary), len(sentences)) == counts
    assert len(binary) + len(sentences) == len(messages)
    assert all(checksum(s[1:-3]) == int(s[-2:], 16) for s in sentences)
    payloads = b"".join(m[6:-2] for m in binary)
    assert all(byte in payloads for byte in b"$!*\r\n")
    after_frame = [
        at for at, m in enumerate(messages) if at and m[:1] == b"$" and messages[at - 1] in binary
    ]
    assert after_frame == glued
    data = b"".join(messages)
    for size in [*range(1, 97), 1000, len(data)]:
        cut, frames = run(data, [size])
        assert frames == sentences, size
        assert (cut.frames, cut.overlong, cut.ignored) == (len(sentences), 0, 0), size
        assert cut.skipped_bytes == len(b"".join(binary)), size


@pytest.mark.parametrize("line_end", [b"\r\n", b""], ids=["CR LF", "binary right after it"])
def test_sentences_between_other_protocols_binary_messages_are_all_read(line_end: bytes) -> None:
    """Sentences glued to binary messages of other protocols than UBX and RTCM 3
    (``binary_protocols.hex``: SiRF, Zodiac, TSIP, GREIS, GeoStar, iTalk, NavCom, Oncore,
    SkyTraq, Garmin, SuperStar II, Hemisphere ``$BIN``, NovAtel OEMV; each message holding a
    ``$`` or ``!`` and a CR or LF; the framer takes out the SiRF, SkyTraq, ``$BIN`` and NovAtel
    ones, the others are bytes to it): each sentence right after a message, no line end between
    them, and its CR LF or the next message right after its checksum. At every chunk size
    every sentence is read, in order, and no frame made of a message's bytes passes as a
    sentence: each other frame is rejected by the decoder, a parse error, never a reading."""
    sentences = [m.removesuffix(b"\r\n") for m in hex_messages("ublox_zed_f9p_hpg111_ubx.hex")]
    sentences = [s for s in sentences if s.startswith(b"$")]
    binary = hex_messages("binary_protocols.hex")
    assert len(binary) == 37
    data = b"".join(
        message + sentences[at % len(sentences)] + line_end for at, message in enumerate(binary)
    )
    expected = [sentences[at % len(sentences)] for at in range(len(binary))]
    spec = FormatSpec("nmea", (("GGA.latitude", "GGA.latitude"),))
    for size in (1, 2, 3, 7, 64, len(data)):
        cut, frames = run(data, [size])
        assert [f for f in frames if f in sentences] == expected, size
        assert cut.overlong == 0, size
        parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
        for frame in frames:
            if frame not in sentences:
                with pytest.raises(ParseError):
                    parse(frame)
