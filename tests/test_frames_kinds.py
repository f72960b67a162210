"""Several kinds of frame in one frame spec (``kind_offset``, a field's ``kind``) and several
poll requests written in turn: a JBD battery management system asked for its basic
information (``DD 03``) and its cell voltages (``DD 04``), as the README's JBD row reads it.

Fixtures: the JBD protocol document's example replies (in ``test_frames_generic``), and
replies laid out as that document gives them (``jbd_basic``, ``jbd_cells``); a Daly BMS's
replies to 90 and 91 from a user's UART log (esphome/esphome#12445) and three of a 16-cell
pack's cell frames (ai-republic/bms-to-inverter#34), the others laid out as they are.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from harness.pty import PtyPair
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs
from test_frames_commands import Clock, read_all, reading_count
from test_frames_generic import (
    JBD,
    SPS30,
    SPS30_FRAMES,
    errors,
    h,
    jbd_cells,
    read_chunked,
    spec_of,
)

from sensord.cli import main
from sensord.config import parse_config
from sensord.config_sensor import SensorConfig
from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats.frames import FrameFramer
from sensord.formats.presets import spec_mistake_hint
from sensord.sensor import SensorRuntime
from sensord.sensor_source import make_device

REQUEST_BASIC = h("DD A5 03 00 FF FD 77")
REQUEST_CELLS = h("DD A5 04 00 FF FC 77")
#: the protocol document's example replies (voltage 58.88 V, cells 3.942 V, 3.939 V, ...)
DOC_BASIC = h(
    "DD 03 00 1B 17 00 00 00 02 D0 03 E8 00 00 20 78 00 00 00 00 00 00 10 48 03 0F 02 0B 76"
    " 0B 82 FB FF 77"
)
DOC_CELLS = h(
    "DD 04 00 1E 0F 66 0F 63 0F 63 0F 64 0F 3E 0F 63 0F 37 0F 5B 0F 65 0F 3B 0F 63 0F 63 0F 3C"
    " 0F 66 0F 3D F9 F9 77"
)
BASIC_CHANNELS = ["voltage_volts", "remaining_ah", "soc_percent", "ntc1_celsius"]
CELL_CHANNELS = ["cell1_volts", "cell2_volts", "cell3_volts", "cell4_volts"]


def jbd_basic(voltage: int, remaining: int, soc: int, ntcs: tuple[int, ...]) -> bytes:
    """A JBD's basic information reply: DD 03, status 0, the data's length, the data (voltage
    and remaining capacity in 10 mV and 10 mAh, the state of charge at 19, the NTC count at
    22 and each NTC in 0.1 K from 23), the 16-bit two's complement sum, 77."""
    data = bytearray(23 + 2 * len(ntcs))
    data[0:2] = voltage.to_bytes(2, "big")
    data[4:6] = remaining.to_bytes(2, "big")
    data[19] = soc
    data[22] = len(ntcs)
    for i, ntc in enumerate(ntcs):
        data[23 + 2 * i : 25 + 2 * i] = ntc.to_bytes(2, "big")
    body = bytes([0, len(data)]) + data
    return b"\xdd\x03" + body + (-sum(body) & 0xFFFF).to_bytes(2, "big") + b"\x77"


def jbd_config(port: str, warmup_s: float = 0.0) -> SensorConfig:
    never = "" if port.startswith("sim://") else '\nsimulate = "never"'
    text = JBD.replace('"/dev/ttyUSB0"', f'"{port}"{never}\nwarmup_s = {warmup_s}')
    return parse_config(text).sensors[0]


def latest(rt: SensorRuntime) -> dict[str, float]:
    return {
        c.name: c.stats.reading.value
        for c in rt.snapshot().channels
        if c.stats is not None and c.available
    }


def test_a_frame_of_each_kind_gives_its_own_fields_and_a_short_one_is_refused() -> None:
    """The fields of kind 3 from the basic information, of kind 4 from the cell voltages
    (both read at offsets 4 to 11). A frame shorter than its kind's fields (a pack of two
    cells, where the spec names four; a BMS with one NTC, where it names two) is refused as
    ``syntax``, never read as if laid out like the spec: the frames of the other kind are
    read still."""
    spec, _ = spec_of(JBD)
    decode = codec_for("frames").decoder(spec)
    assert decode(DOC_BASIC) == list(zip(BASIC_CHANNELS, [58.88, 7.2, 72.0, 20.3], strict=True))
    assert decode(DOC_CELLS) == list(zip(CELL_CHANNELS, [3.942, 3.939, 3.939, 3.94], strict=True))
    with pytest.raises(ParseError) as caught:
        decode(jbd_cells(3301, 3299))
    assert caught.value.reason == "syntax"
    two = JBD.replace(
        '{ name = "cell1"',
        '{ name = "ntc2", offset = 29, type = "u16be", scale = 0.1, bias = -273.1, kind = 3 },\n'
        '    { name = "cell1"',
    ).replace('name = "ntc1_celsius"\n  field = "ntc1"', 'name = "t"\n  field = "ntc2"')
    assert errors(two) == []
    spec, max_frame_bytes = spec_of(two)
    framer = codec_for("frames").framer(spec, b"", max_frame_bytes)
    one_ntc, two_ntcs = framer.feed(
        jbd_basic(1320, 7090, 65, (2931,)) + jbd_basic(1320, 7090, 65, (2931, 2941))
    )
    decode = codec_for("frames").decoder(spec)
    with pytest.raises(ParseError) as caught:
        decode(one_ntc)
    assert caught.value.reason == "syntax"
    assert decode(two_ntcs)[-1] == ("t", 21.0)


def test_a_frame_of_a_kind_no_field_names_is_a_frame_without_values() -> None:
    """A JBD's hardware version reply (DD 05) holds none of the spec's fields."""
    body = bytes([0, 5]) + b"JBD-1"
    version = b"\xdd\x05" + body + (-sum(body) & 0xFFFF).to_bytes(2, "big") + b"\x77"
    got, framer = read_chunked(JBD, version + DOC_CELLS, 100)
    assert got == [[], [3.942, 3.939, 3.939, 3.94]]
    assert framer.frames == 2
    assert framer.skipped_bytes == 0


#: a basic information reply's raw values (voltage, remaining, state of charge, its 1 to 3
#: NTCs) and its values as read, or a pack's 4 to 16 cells and the four read
BASIC = st.builds(
    lambda v, r, soc, ntcs: (
        jbd_basic(v, r, soc, tuple(ntcs)),
        [v / 100, r / 100, float(soc), (ntcs[0] - 2731) / 10],
    ),
    st.integers(0, 65535),
    st.integers(0, 65535),
    st.integers(0, 100),
    st.lists(st.integers(2231, 3731), min_size=1, max_size=3),
)
CELLS = st.lists(st.integers(0, 65535), min_size=4, max_size=16).map(
    lambda cells: (jbd_cells(*cells), [mv / 1000 for mv in cells[:4]])
)


@given(
    st.lists(st.one_of(BASIC, CELLS), min_size=1, max_size=8),
    st.lists(st.binary(max_size=6), min_size=8, max_size=8),
    st.integers(1, 40),
)
def test_frames_of_both_kinds_come_out_of_garbage_in_any_chunking(
    replies: list[tuple[bytes, list[float]]], garbage: list[bytes], size: int
) -> None:
    """Any sequence of basic and cell replies (a pack of 4 to 16 cells, 1 to 3 NTCs), with
    garbage between them, read in chunks of any size: every reply, each with its own kind's
    values, as the decimal the raw value and scale give."""
    stream = b""
    for (reply, _), noise in zip(replies, garbage, strict=False):
        # garbage never starts a frame of its own here: a stray DD would hold the next reply
        stream += noise.replace(b"\xdd", b"\x00") + reply
    expected = [values for _, values in replies]
    got, framer = read_chunked(JBD, stream, size)
    assert got == expected
    assert framer.frames == len(replies)
    assert framer.rejected == {"checksum": 0, "syntax": 0}


def _replaced(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text
        return text.replace(old, new)

    return edit


def _without_kinds(text: str) -> str:
    """The spec with its fields of kind 4 and their channels gone, and no field's kind."""
    text = text.split('  [[sensors.channels]]\n  name = "cell1_volts"', maxsplit=1)[0]
    lines = [line for line in text.splitlines() if "kind = 4" not in line]
    return "\n".join(lines).replace(", kind = 3 }", " }")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        # a field's kind without the bytes that say a frame's kind
        (_replaced("  kind_offset = 1\n", ""), "frame.fields[0].kind: needs frame.kind_offset"),
        # kind bytes, and no field of a kind
        (_without_kinds, "frame.kind_offset: no field has a kind"),
        (
            _replaced(
                'offset = 10, type = "u16be", scale = 0.001, kind = 4',
                'offset = 10, type = "u16be", scale = 0.001, kind = 260',
            ),
            "frame.fields[7].kind: a 1-byte kind is 0..255 (kind_size = N for N bytes, or the bytes in hex), got 260",
        ),
        # two fields of one kind on the same bytes
        (
            _replaced('"cell2", offset = 6', '"cell2", offset = 5'),
            "frame.fields[5].offset: bytes [5, 7) overlap field 'cell1' [4, 6)",
        ),
        (_replaced("  kind_offset = 1\n", "  kind_offset = 1\n  kind_size = 5\n"), "kind_size"),
    ],
)
def test_check_names_the_kind_key(edit: Callable[[str], str], expected: str) -> None:
    problems = errors(edit(JBD))
    assert any(expected in p for p in problems), problems


def test_fields_of_two_kinds_may_share_bytes_and_the_spec_checks_clean() -> None:
    """cell1 (kind 4) is where the voltage (kind 3) is: the README's spec is valid."""
    assert errors(JBD) == []


def test_the_simulated_device_answers_each_request_with_a_frame_of_each_kind() -> None:
    """The simulated JBD answers each request with a frame of each kind, in the order the
    field table names the kinds, and sends nothing unasked."""
    config = jbd_config("sim://battery")
    device = make_device(config, 0.0)
    spec = config.format_spec()
    codec = codec_for("frames")
    decode = codec.decoder(spec)

    def answer(request: bytes, now: float) -> list[list[str]]:
        device.receive(request, now)
        framer = codec.framer(spec, b"", config.max_frame_bytes)
        return [[name for name, _ in decode(f)] for f in framer.feed(device.bytes_due(now))]

    assert answer(REQUEST_CELLS, 1.0) == [BASIC_CHANNELS, CELL_CHANNELS]
    assert answer(REQUEST_BASIC, 2.0) == [BASIC_CHANNELS, CELL_CHANNELS]
    assert device.bytes_due(10.0) == b""


def test_a_simulated_polled_jbd_publishes_both_kinds() -> None:
    """On ``sim://``, polled in turn every second: after 6 s, every channel has a value."""
    clock = Clock()
    rt = SensorRuntime(
        jbd_config("sim://battery"), clock=clock, wall_clock=clock, rng=random.Random(1)
    )
    assert rt.try_open()
    assert rt.source is not None
    end = clock.now + 6.0
    while clock.now < end:
        clock.now += 0.05
        rt.feed(rt.source.read())
        rt.tick(clock.now)
    rt.stop()
    assert set(latest(rt)) == set(BASIC_CHANNELS + CELL_CHANNELS)
    assert rt.poll_timeouts == 0


def test_requests_are_written_in_turn_and_from_the_first_after_a_reopen() -> None:
    """A real pty: the BMS end reads each request and answers it; basic information, cells,
    basic information; then the port is opened again and the first request is the first of
    the list. Every reply is read and no poll times out."""
    clock = Clock()
    with PtyPair() as pair:
        rt = SensorRuntime(
            jbd_config(pair.path), clock=clock, wall_clock=clock, rng=random.Random(1)
        )
        assert rt.try_open()
        written = []
        replies = {REQUEST_BASIC: DOC_BASIC, REQUEST_CELLS: DOC_CELLS}
        for poll in range(4):
            if poll == 3:
                rt.disconnect("test: reopened")
                assert rt.try_open()
            due = rt.next_deadline()
            assert due is not None
            clock.now = max(clock.now, due)
            rt.tick(clock.now)
            request = pair.read(7, timeout_s=1.0)
            written.append(request)
            pair.write(replies[request])
            read_all(rt, len(replies[request]))
        values = latest(rt)
        timeouts = rt.poll_timeouts
        rt.stop()
    assert written == [REQUEST_BASIC, REQUEST_CELLS, REQUEST_BASIC, REQUEST_BASIC]
    assert timeouts == 0
    assert values == {
        "voltage_volts": 58.88,
        "remaining_ah": 7.2,
        "soc_percent": 72.0,
        "ntc1_celsius": 20.3,
        "cell1_volts": 3.942,
        "cell2_volts": 3.939,
        "cell3_volts": 3.939,
        "cell4_volts": 3.94,
    }


def daly(data_id: int, data: bytes) -> bytes:
    """A Daly BMS's reply: A5, its address 01, the data id, 08, eight bytes, their sum."""
    body = bytes([0xA5, 0x01, data_id, 0x08]) + data
    return body + bytes([sum(body) & 0xFF])


def daly_request(data_id: int) -> str:
    """The request for ``data_id`` (to address 40) with escapes, as a config writes it."""
    body = bytes([0xA5, 0x40, data_id, 0x08]) + bytes(8)
    return "".join(f"\\x{b:02x}" for b in body + bytes([sum(body) & 0xFF]))


def daly_cells(count: int) -> list[str]:
    """The field rows of ``count`` cells, three to a numbered frame (kind 95 08 nn)."""
    return [
        f'{{ name = "cell{i + 1}", offset = {5 + 2 * (i % 3)}, type = "u16be", scale = 0.001, '
        f'kind = "95 08 {i // 3 + 1:02x}" }},'
        for i in range(count)
    ]


#: the README's Daly row, cells 1 to 16 of a 16-cell pack
DALY_ROWS = [
    '{ name = "voltage", offset = 4, type = "u16be", scale = 0.1, kind = 0x90 },',
    '{ name = "current", offset = 8, type = "u16be", scale = 0.1, bias = -3000, kind = 0x90 },',
    '{ name = "soc", offset = 10, type = "u16be", scale = 0.1, kind = 0x90 },',
    '{ name = "cell_max", offset = 4, type = "u16be", scale = 0.001, kind = 0x91 },',
    '{ name = "cell_max_no", offset = 6, type = "u8", kind = 0x91 },',
    '{ name = "cell_min", offset = 7, type = "u16be", scale = 0.001, kind = 0x91 },',
    '{ name = "cell_min_no", offset = 9, type = "u8", kind = 0x91 },',
    '{ name = "t_max", offset = 4, type = "u8", bias = -40, kind = 0x92 },',
    '{ name = "t_min", offset = 6, type = "u8", bias = -40, kind = 0x92 },',
    *daly_cells(16),
]
DALY_REQUESTS = ", ".join(f"'{daly_request(i)}'" for i in (0x90, 0x91, 0x92, 0x95))


def daly_config(rows: list[str]) -> str:
    """A Daly sensor reading the field ``rows``, each a channel."""
    return (
        "[[sensors]]\n"
        'name = "daly"\n'
        'port = "/dev/ttyUSB0"\n'
        'format = "frames"\n'
        f"poll = {{ request = [{DALY_REQUESTS}], interval_s = 1 }}\n"
        "  [sensors.frame]\n"
        "  start = '\\xa5\\x01'\n"
        "  length = 13\n"
        '  checksum = "sum8"\n'
        "  kind_offset = 2\n"
        "  fields = [\n"
        + "".join(f"    {row}\n" for row in rows)
        + "  ]\n"
        + "".join(f'  [[sensors.channels]]\n  name = "{row.split(chr(34))[1]}"\n' for row in rows)
    )


DALY = daly_config(DALY_ROWS)


def test_the_readme_s_daly_row_reads_every_reply_and_each_cell_from_its_numbered_frame() -> None:
    """A Daly's replies to 90 and 91 (esphome/esphome#12445, a user's UART log), 92 (laid out
    as python-daly-bms reads it), and a 16-cell pack's six cell frames (frames 1, 5 and 6
    from ai-republic/bms-to-inverter#34, 2 to 4 laid out as they are): every field from its
    own kind, each cell from its frame, cell 16 from the sixth frame, whose other places
    hold the fifth's leftover bytes."""
    assert errors(DALY) == []
    replies = [
        h("A5 01 90 08 00 82 00 00 75 30 01 F3 59"),
        h("A5 01 91 08 0C B5 02 0C B2 01 00 03 C4"),
        daly(0x92, bytes([65, 1, 63, 2, 0, 0, 0, 0])),
        h("A5 01 95 08 01 0C F2 0C F3 0C F3 4B 8B"),
        *(
            daly(0x95, bytes([k]) + b"".join(mv.to_bytes(2, "big") for mv in cells) + b"\0")
            for k, cells in ((2, (3277, 3283, 3287)), (3, (3284, 3289, 3287)), (4, (3286,) * 3))
        ),
        h("A5 01 95 08 05 0C D7 0C D9 0C D8 00 F4"),
        h("A5 01 95 08 06 0C 73 0C D9 0C D8 00 91"),
    ]
    spec, _ = spec_of(DALY)
    decode = codec_for("frames").decoder(spec)
    got, framer = read_chunked(DALY, b"\x00\xa5".join(replies), 7)
    assert framer.frames == len(replies)
    assert got == [[value for _, value in decode(frame)] for frame in replies]
    assert parse_config(DALY).sensors[0].poll_requests()[0] == h(
        "A5 40 90 08 00 00 00 00 00 00 00 00 7D"
    )
    values = {name: value for frame in replies for name, value in decode(frame)}
    assert values == {
        "voltage": 13.0,
        "current": 0.0,
        "soc": 49.9,
        "cell_max": 3.253,
        "cell_max_no": 2.0,
        "cell_min": 3.25,
        "cell_min_no": 1.0,
        "t_max": 25.0,
        "t_min": 23.0,
        "cell1": 3.314,
        "cell2": 3.315,
        "cell3": 3.315,
        "cell4": 3.277,
        "cell5": 3.283,
        "cell6": 3.287,
        "cell7": 3.284,
        "cell8": 3.289,
        "cell9": 3.287,
        "cell10": 3.286,
        "cell11": 3.286,
        "cell12": 3.286,
        "cell13": 3.287,
        "cell14": 3.289,
        "cell15": 3.288,
        "cell16": 3.187,
    }


def test_a_binary_frame_is_logged_in_hex() -> None:
    """A rejected frame of a binary protocol is logged as its datasheet writes it, in hex."""
    clock = Clock()
    rt = SensorRuntime(jbd_config("/dev/ttyUSB0"), clock=clock, wall_clock=clock)
    with capture_logs() as logs:
        rt.feed(h("DD 04 80 00 FF 80 77"))
    [event] = [e for e in logs if e["event"] == "frame rejected"]
    assert event["frame"] == "DD 04 80 00 FF 80 77"
    assert event["reason"] == "invalid"


def test_a_request_the_device_never_answers_is_told_with_the_request() -> None:
    """A real pty: the BMS answers the basic information request and never the cells
    request. Each unanswered one is a poll timeout logged with its bytes; from the third in
    a row ``/status`` names it (the sensor is up: the other replies come), and once the
    device answers it the hint is gone."""
    clock = Clock()
    with PtyPair() as pair:
        rt = SensorRuntime(
            jbd_config(pair.path), clock=clock, wall_clock=clock, rng=random.Random(1)
        )
        assert rt.try_open()
        hints = []
        with capture_logs() as logs:
            for poll in range(10):
                due = rt.next_deadline()
                assert due is not None
                clock.now = max(clock.now, due)
                rt.tick(clock.now)
                request = pair.read(7, timeout_s=1.0)
                if request == REQUEST_BASIC or poll == 9:
                    reply = DOC_BASIC if request == REQUEST_BASIC else DOC_CELLS
                    pair.write(reply)
                    read_all(rt, len(reply))
                hints.append(rt.snapshot().hint)
            # the poll after the last: the cells request of poll 9 was answered
            clock.now = max(clock.now, rt.next_deadline() or clock.now)
            rt.tick(clock.now)
            after = rt.snapshot().hint
        state = rt.state
        rt.stop()
    warned = [e for e in logs if e["event"] == "no response to poll request"]
    assert warned
    assert warned[0]["request"] == "DD A5 04 00 FF FC 77"
    assert state == "up"
    # polls 1, 3, 5 and 7 ask for the cells: told from poll 7 on (the third went unanswered
    # at the poll after it)
    assert hints[:6] == [None] * 6
    assert hints[6] is not None
    assert hints[6].startswith(
        "the device answers poll requests, but not DD A5 04 00 FF FC 77 (3 times in a row, for"
    ), hints[6]
    assert after is None


def with_examples(text: str, *examples: str) -> str:
    listed = ", ".join(f'"{example}"' for example in examples)
    return text.replace("  kind_offset = 1\n", f"  kind_offset = 1\n  examples = [{listed}]\n")


def test_check_shows_what_the_spec_reads_from_each_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``frame.examples``: frames from the protocol document, read by ``sensord check`` as
    the daemon reads them, each with its values, to compare with the document's."""
    path = tmp_path / "jbd.toml"
    path.write_text(with_examples(JBD, DOC_BASIC.hex(" "), DOC_CELLS.hex(" ")))
    assert main(["check", "--no-devices", str(path)]) == 0
    out = capsys.readouterr().out
    assert "end 77, status at 2 valid 00, kinds at 1: 03, 04\n" in out.replace("ends", "end"), out
    assert (
        "example 1: voltage_volts 58.88, remaining_ah 7.2, soc_percent 72, ntc1_celsius 20.3\n"
        in out
    ), out
    assert (
        "example 2: cell1_volts 3.942, cell2_volts 3.939, cell3_volts 3.939, cell4_volts 3.94"
        in out
    )


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        # the document's reply with its last checksum byte changed
        (
            DOC_CELLS[:-2] + b"\xf8\x77",
            "holds the checksum F9 F8 at byte 34, and twos16be over bytes 2 to 33 gives F9 F9",
        ),
        (b"\xaa" + DOC_BASIC[1:], "does not begin with the start bytes DD"),
        (DOC_CELLS[:-3] + DOC_CELLS[-2:], "is 36 bytes long, and its length field (1E at 3"),
        (DOC_BASIC[:-1] + b"\x78", "ends 78, not frame.end 77"),
        (h("DD 03 80 00 FF 80 77"), "is rejected as invalid: the device reports status 0x80"),
    ],
)
def test_an_example_the_spec_does_not_read_is_refused_with_why(
    example: bytes, expected: str
) -> None:
    problems = errors(with_examples(JBD, DOC_BASIC.hex(" "), example.hex(" ")))
    assert len(problems) == 1, problems
    assert problems[0].startswith("sensors[0].frame.examples[1]"), problems
    assert expected in problems[0], problems


def test_a_framer_s_own_mistake_costs_its_chunk_not_the_daemon(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A framer that raises (a mistake of its own on bytes no test foresaw) is an error
    logged and counted in ``pipeline_errors``; the framer starts afresh and the chunks
    after it are read."""
    real_feed = FrameFramer.feed
    chunks: list[bytes] = []

    def feed(self: FrameFramer, chunk: bytes) -> list[bytes]:
        chunks.append(chunk)
        if len(chunks) == 1:
            raise ValueError("bad char in struct format")
        return real_feed(self, chunk)

    monkeypatch.setattr(FrameFramer, "feed", feed)
    clock = Clock()
    rt = SensorRuntime(jbd_config("/dev/ttyUSB0"), clock=clock, wall_clock=clock)
    with capture_logs() as logs:
        rt.feed(DOC_BASIC)
        rt.feed(DOC_CELLS)
    assert rt.pipeline_errors == 1
    assert rt.framer.skipped_bytes == len(DOC_BASIC)  # the chunk it raised on
    assert [e["event"] for e in logs if e["log_level"] == "error"] == [
        "frame could not be processed"
    ]
    assert set(latest(rt)) == set(CELL_CHANNELS)


def test_the_simulated_daly_answers_a_request_with_every_numbered_frame() -> None:
    """The simulated Daly's answer holds its six cell frames: every channel gets a value."""
    config = parse_config(DALY.replace('"/dev/ttyUSB0"', '"sim://daly"')).sensors[0]
    device = make_device(config, 0.0)
    spec = config.format_spec()
    codec = codec_for("frames")
    decode = codec.decoder(spec)
    device.receive(config.poll_requests()[3], 1.0)
    framer = codec.framer(spec, b"", config.max_frame_bytes)
    names = [name for f in framer.feed(device.bytes_due(1.0)) for name, _ in decode(f)]
    assert names == [channel for channel, _ in spec.fields]


def test_kind_bytes_may_hold_the_length_byte_not_the_checksum() -> None:
    """A Daly's 95 08 01 holds its length byte: read as a length field too, the spec checks
    clean; kind bytes on the checksum are refused."""
    as_length = DALY.replace(
        "  length = 13\n",
        "  length = 13\n  length_offset = 3\n  length_size = 1\n  length_adjust = 1\n",
    )
    assert errors(as_length) == []
    one_byte = daly_config([row for row in DALY_ROWS if "95 08" not in row])
    assert errors(one_byte.replace("kind_offset = 2", "kind_offset = 12")) == [
        "sensors[0].frame.kind_offset: bytes [12, 13) overlap the checksum [12, 13)"
    ]


def poll_jbd(answers: list[bool]) -> list[str | None]:
    """A JBD on a real pty, polled basic and cells in turn; ``answers[i]``: whether it
    answers poll ``i``. The ``/status`` hint after each poll while up."""
    clock = Clock()
    hints: list[str | None] = []
    with PtyPair() as pair:
        rt = SensorRuntime(
            jbd_config(pair.path), clock=clock, wall_clock=clock, rng=random.Random(1)
        )
        assert rt.try_open()
        for answered in answers:
            due = rt.next_deadline()
            assert due is not None
            clock.now = max(clock.now, due)
            rt.tick(clock.now)
            request = pair.read(7, timeout_s=1.0)
            if answered:
                reply = DOC_BASIC if request == REQUEST_BASIC else DOC_CELLS
                pair.write(reply)
                read_all(rt, len(reply))
            hints.append(rt.snapshot().hint if rt.state == "up" else None)
        rt.stop()
    return hints


def test_no_request_hint_after_an_outage_of_every_request() -> None:
    """A device silent for six polls (a power cut, a cable pulled), three of each request,
    then answering both again: no request is told as one it leaves unanswered."""
    hints = poll_jbd([True] * 4 + [False] * 6 + [True] * 6)
    assert [hint for hint in hints if hint is not None] == []


def test_a_request_the_device_never_answers_is_no_silence_that_warms_it_up_again() -> None:
    """A JBD with a 30 s warm-up, polled basic and cells in turn every 5 s, whose firmware
    does not serve the cells request: one basic answer lost on the line after the warm-up
    leaves two polls in a row unanswered, the cells poll before it and the basic one, but the
    device answered every poll it serves but one. That is no silence of the device (no power
    cut): the next basic answer is published, and the device does not warm up again."""
    clock = Clock()
    published: list[int] = []
    with PtyPair() as pair, capture_logs() as logs:
        rt = SensorRuntime(
            jbd_config(pair.path, warmup_s=30.0),
            clock=clock,
            wall_clock=clock,
            rng=random.Random(1),
        )
        assert rt.try_open()
        for poll in range(24):
            due = rt.next_deadline()
            assert due is not None
            clock.now = max(clock.now, due)
            rt.tick(clock.now)
            request = pair.read(7, timeout_s=1.0)
            if request == REQUEST_BASIC and poll != 14:
                pair.write(DOC_BASIC)
                read_all(rt, len(DOC_BASIC))
            published.append(reading_count(rt))
        rt.stop()
    # the cells polls and the lost basic one, but the last's (counted at the next poll)
    assert rt.poll_timeouts == 11 + 1
    warming = [e.get("why") for e in logs if e["event"].startswith("warming up")]
    assert warming == [None]
    # the readings after each poll: the answers after the lost one (poll 14) are published
    assert published[6] > 0
    assert published[12] == published[14] < published[16] < published[18]


#: An SPS30's SHDLC requests (``7E ADR CMD LEN DATA CHK 7E``): read the measured values, and
#: read the device status register (without clearing it).
REQUEST_MEASURED = h("7E 00 03 00 FC 7E")
REQUEST_STATUS = h("7E 00 D2 01 00 2C 7E")
#: Its replies (``7E ADR CMD STATE LEN DATA CHK 7E``) to the status request: the register,
#: and state 02 (unknown command) from a firmware that does not have the command; to the
#: measurement request, state 43 (not allowed in the current state: not measuring).
STATUS_REGISTER = h("7E 00 D2 00 05 00 00 00 00 00 28 7E")
STATUS_UNKNOWN = h("7E 00 D2 02 00 2B 7E")
MEASURED_NOT_ALLOWED = h("7E 00 03 43 00 B9 7E")


def sps30_config(port: str, requests: list[bytes]) -> SensorConfig:
    """The SPS30 of ``test_frames_generic`` on ``port``, polled with ``requests`` in turn,
    without its set-up: the command byte is the frame's kind, and the measurement's fields
    are of kind 03 (the status register's reply has none read)."""
    listed = ", ".join("'" + "".join(f"\\x{b:02x}" for b in r) + "'" for r in requests)
    text = (
        SPS30.replace('"/dev/ttyUSB0"', f'"{port}"\nsimulate = "never"\nwarmup_s = 0')
        .replace("request = '\\x7e\\x00\\x03\\x00\\xfc\\x7e'", f"request = [{listed}]")
        .replace("start = '\\x7e\\x00\\x03'", "start = '\\x7e\\x00'\n  kind_offset = 2")
        .replace('type = "f32be"', 'type = "f32be"\n    kind = 3')
    )
    text = "\n".join(line for line in text.splitlines() if not line.startswith("setup ="))
    return parse_config(text).sensors[0]


def poll_sps30(
    requests: list[bytes], answer: Callable[[int, bytes], bytes], polls: int
) -> tuple[list[str | None], str | None, list[str | None]]:
    """An SPS30 on a real pty, polled ``polls`` times with ``requests`` in turn; its end
    answers poll ``i``'s request with ``answer(i, request)``. The ``/status`` hint after each
    poll, the hint once the poll after the last has counted its answer, and the dialogue's
    request hint then and after the port was opened again."""
    clock = Clock()
    hints: list[str | None] = []
    with PtyPair() as pair:
        rt = SensorRuntime(
            sps30_config(pair.path, requests), clock=clock, wall_clock=clock, rng=random.Random(1)
        )
        assert rt.try_open()
        for poll in range(polls + 1):
            due = rt.next_deadline()
            assert due is not None
            clock.now = max(clock.now, due)
            rt.tick(clock.now)
            if poll == polls:
                break
            request = pair.read(len(requests[poll % len(requests)]), timeout_s=1.0)
            reply = answer(poll, request)
            pair.write(reply)
            read_all(rt, len(reply))
            assert rt.state == "up"
            hints.append(rt.snapshot().hint)
        after = rt.snapshot().hint
        assert rt.dialogue is not None
        request_hints = [rt.dialogue.request_hint(clock.now)]
        rt.disconnect("test: reopened")
        assert rt.try_open()
        request_hints.append(rt.dialogue.request_hint(clock.now))
        rt.stop()
    return hints, after, request_hints


def refusing_status(answered_at: int | None) -> Callable[[int, bytes], bytes]:
    """An SPS30 whose firmware does not have the status register's command: it answers the
    measurement request with its values, and the status request with state 02 (but at poll
    ``answered_at``, with the register)."""

    def answer(poll: int, request: bytes) -> bytes:
        if request == REQUEST_MEASURED:
            return SPS30_FRAMES[poll // 2 % len(SPS30_FRAMES)]
        return STATUS_REGISTER if poll == answered_at else STATUS_UNKNOWN

    return answer


def test_a_request_the_device_always_refuses_is_told_with_its_status() -> None:
    """A real pty: the status register's request is refused at polls 1, 3, 5 and 7, and
    answered at poll 9, the measurement request answered each time. Each refusal is a frame
    rejected; from the third in a row ``/status`` names the request and the state it got back
    (the sensor is up: the measurements come), and once the device answers it the hint is
    gone."""
    with capture_logs() as logs:
        hints, after, _ = poll_sps30([REQUEST_MEASURED, REQUEST_STATUS], refusing_status(9), 10)
    rejected = [e for e in logs if e["event"] == "frame rejected"]
    assert rejected
    assert rejected[0]["frame"] == "7E 00 D2 02 00 2B 7E"
    # told from poll 6 on (the third refusal is counted at the poll after it)
    assert hints[:6] == [None] * 6
    told = hints[6]
    assert told is not None
    assert told.startswith(
        "the device answers poll requests, but refuses 7E 00 D2 01 00 2C 7E with status 0x02 "
        "(3 times in a row, for 4 s): "
    ), told
    assert "drop the request from poll.request" in told, told
    assert "command bytes against the device's datasheet" in told, told
    assert all(hint is not None and "with status 0x02 (" in hint for hint in hints[6:]), hints
    assert after is None


def test_a_reopen_forgets_the_refusals() -> None:
    """The port opened again after the status register's request was told as refused: the
    count starts afresh, as the unanswered requests' does."""
    _, after, hints = poll_sps30([REQUEST_MEASURED, REQUEST_STATUS], refusing_status(None), 10)
    assert after is not None
    assert hints[0] == after
    assert hints[1] is None


def test_a_request_refused_after_it_was_answered_is_not_blamed_on_the_firmware() -> None:
    """The README's SPS30 reading its status register too, power-cycled behind the open port
    after two measurements: idle again, it refuses the measurement request with state 43
    (not allowed in the current state) while it still answers the status request. The
    request was answered on this connection, so its firmware has the command: the hint does
    not tell to drop it from poll.request, but that the device refuses a request it answered
    before."""

    def answer(poll: int, request: bytes) -> bytes:
        if request == REQUEST_STATUS:
            return STATUS_REGISTER
        return SPS30_FRAMES[0] if poll < 4 else MEASURED_NOT_ALLOWED

    _, after, _ = poll_sps30([REQUEST_MEASURED, REQUEST_STATUS], answer, 12)
    assert after is not None
    assert after.startswith(
        "the device answers poll requests, but refuses 7E 00 03 00 FC 7E with status 0x43 "
    ), after
    assert "firmware may not support the command" not in after, after
    assert "drop the request" not in after, after
    assert "answered it before" in after, after


@pytest.mark.parametrize(
    "requests",
    [[REQUEST_MEASURED], [REQUEST_MEASURED, REQUEST_STATUS]],
    ids=["one request", "two requests"],
)
def test_requests_all_refused_are_told_by_the_rejected_frames_hint(
    requests: list[bytes],
) -> None:
    """An SPS30 that refuses every request (idle: the measurement not allowed, the status
    register unknown to its firmware): no request is told as one it refuses while it answers
    another; the hint of a sensor whose every frame is rejected tells of it, and names the
    status byte as the cause."""

    def answer(poll: int, request: bytes) -> bytes:
        return MEASURED_NOT_ALLOWED if request == REQUEST_MEASURED else STATUS_UNKNOWN

    hints, after, reopened = poll_sps30(requests, answer, 10)
    assert reopened == [None, None]
    assert after is not None
    assert after.startswith("frames come, but every one is rejected (invalid "), after
    assert "marks its frames invalid by their status byte" in after, after
    assert all(hint is None or hint.startswith("frames come") for hint in hints), hints


def test_a_byte_stuffed_example_is_read_as_the_framer_cuts_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An SPS30 frame as it is on the wire, its PM2.5 of 15.875 (41 7E 00 00) sent with the
    7E stuffed as 7D 5E: check reads it unstuffed, as the daemon does."""
    spec, _ = spec_of(SPS30)
    value = struct.unpack(">f", b"\x41\x7e\x00\x00")[0]
    [example] = codec_for("frames").encoder(spec)({"pm2_5": value, "pm10": 3.0, "n0_5": 1.0}, 0)
    assert b"\x7d\x5e" in example
    text = SPS30.replace(
        "  status_ok = [0]\n", f'  status_ok = [0]\n  examples = ["{example.hex(" ")}"]\n'
    )
    assert errors(text) == []
    path = tmp_path / "sps30.toml"
    path.write_text(text)
    assert main(["check", "--no-devices", str(path)]) == 0
    assert "example 1: pm2_5_ug_m3 15.875, pm10_ug_m3 3" in capsys.readouterr().out


def test_a_hex_kind_shorter_than_kind_size_is_refused() -> None:
    """With kind_size = 2, "80" would be the kind of every frame 80 xx that no longer kind
    names (an MR24HPC1's proximity reports read as presence): refused."""
    text = JBD.replace("  kind_offset = 1\n", "  kind_offset = 1\n  kind_size = 2\n")
    text = text.replace("kind = 3 }", 'kind = "03 00" }').replace("kind = 4 }", 'kind = "04" }')
    problems = errors(text)
    assert problems == [
        "sensors[0].frame.fields[4].kind: '04' is 1 byte, and kind_size is 2: give all 2 (a "
        "shorter kind is the kind of every frame that begins so and no longer kind names), or "
        "leave kind_size out if the kinds are of different lengths on purpose (kind_size is "
        "for kinds given as numbers)"
    ], problems


def mr24(control: int, command: int, data: bytes) -> bytes:
    """A Seeed MR24HPC1 frame: 53 59, control and command words, a big-endian length of
    the data, the data, the 8-bit sum of all bytes before it, 54 43."""
    body = bytes([0x53, 0x59, control, command]) + len(data).to_bytes(2, "big") + data
    return body + bytes([sum(body) & 0xFF]) + b"\x54\x43"


#: an MR24HPC1 read with the wrong checksum kind (twos8 for sum8), the sum before two end
#: bytes (checksum_offset = -3)
MR24_TWOS8 = """
[[sensors]]
name = "radar"
port = "/dev/ttyUSB0"
format = "frames"
  [sensors.frame]
  start = '\\x53\\x59'
  kind_offset = 2
  kind_size = 2
  length_offset = 4
  length_size = 2
  length_adjust = 3
  end = 0x43
  checksum = "twos8"
  checksum_offset = -3
  fields = [
    { name = "presence", offset = 6, type = "u8", kind = 0x8001 },
    { name = "movement", offset = 6, type = "u8", kind = 0x8003 },
  ]
  [[sensors.channels]]
  name = "presence"
  [[sensors.channels]]
  name = "movement"
"""


def test_a_checksum_of_another_kind_before_two_end_bytes_is_named() -> None:
    """Frames whose sum sits before two end bytes (checksum_offset = -3), of several
    lengths: the stale hint names the checksum that holds over every one."""
    # the first as a public capture of the radar reporting presence
    assert mr24(0x80, 0x01, b"\x01") == h("53 59 80 01 00 01 01 2F 54 43")
    data = b"".join(
        [
            mr24(0x80, 0x01, b"\x01"),
            mr24(0x80, 0x03, b"\x37"),
            mr24(0x08, 0x01, bytes.fromhex("F0 06 20 04 0C")),
            mr24(0x80, 0x03, b"\x14"),
        ]
    )
    spec, _ = spec_of(MR24_TWOS8)
    assert spec.frame is not None
    hint = spec_mistake_hint(spec.frame, data)
    assert hint is not None
    assert hint.startswith("4 candidates of 10 to 14 bytes starting 53 59 came"), hint
    assert 'sum8 from byte 0 holds over every one, so checksum = "sum8"' in hint, hint


def with_fields(text: str, *rows: str) -> str:
    """The JBD spec with field ``rows`` of kind 3 more, each read by a channel of its name."""
    fields = "".join(f"    {{ {row}, kind = 3 }},\n" for row in rows)
    channels = "".join(
        f'  [[sensors.channels]]\n  name = "{row.split(chr(34))[1]}"\n' for row in rows
    )
    return text.replace('    { name = "cell1"', fields + '    { name = "cell1"') + channels


#: bit fields of the JBD's basic information: its production date, 7, 4 and 5 bits of a
#: u16be at 14 (year - 2000, month, day), and its charge and discharge MOSFETs, bits 0 and 1
#: of the byte at 24
JBD_BITS = with_fields(
    JBD,
    'name = "year", offset = 14, type = "u16be", bit = 9, bits = 7, bias = 2000',
    'name = "month", offset = 14, type = "u16be", bit = 5, bits = 4',
    'name = "day", offset = 14, type = "u16be", bit = 0, bits = 5',
    'name = "charging", offset = 24, type = "u8", bit = 0',
    'name = "discharging", offset = 24, type = "u8", bit = 1',
)


def test_bit_fields_read_a_date_and_two_flags_from_the_document_s_reply() -> None:
    """The protocol document's reply holds 20 78 at 14 (2016-03-24) and 03 at 24 (both
    MOSFETs on); the bit fields of one number share its bytes."""
    assert errors(JBD_BITS) == []
    spec, _ = spec_of(JBD_BITS)
    values = dict(codec_for("frames").decoder(spec)(DOC_BASIC))
    assert [values[name] for name in ("year", "month", "day", "charging", "discharging")] == [
        2016.0,
        3.0,
        24.0,
        1.0,
        1.0,
    ]


@given(st.integers(0, 127), st.integers(1, 12), st.integers(1, 31), st.booleans(), st.booleans())
def test_bit_fields_written_by_the_simulator_read_back(
    year: int, month: int, day: int, charging: bool, discharging: bool
) -> None:
    """The encoder writes each bit field's bits and keeps the others of its number."""
    spec, _ = spec_of(JBD_BITS)
    given_values = {
        "year": 2000.0 + year,
        "month": float(month),
        "day": float(day),
        "charging": float(charging),
        "discharging": float(discharging),
    }
    frames = codec_for("frames").encoder(spec)(given_values, 0.0)
    values = dict(codec_for("frames").decoder(spec)(frames[0]))
    assert {name: values[name] for name in given_values} == given_values


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            'name = "x", offset = 24, type = "i8", bit = 0',
            "type: a bit field reads bits of an unsigned integer: u8 in place of i8",
        ),
        ('name = "x", offset = 14, type = "u16be", bit = 12, bits = 5', "bits 12 to 16 are past"),
        ('name = "x", offset = 14, type = "u16be", bits = 5', "bits: needs bit"),
        (
            'name = "x", offset = 14, type = "u16be", bit = 4, bits = 2',
            "bit: bits 4 to 5 of the u16be at 14 share a bit with field 'month' (bits 5 to 8)",
        ),
        (
            'name = "x", offset = 24, type = "u8", bit = 2, bits = 2, not_available = [4]',
            "not_available: a 2-bit field holds 0..3",
        ),
    ],
)
def test_check_names_a_bit_field_s_mistake(row: str, expected: str) -> None:
    problems = errors(with_fields(JBD_BITS, row))
    assert any(expected in p for p in problems), problems


def test_a_field_without_kind_past_a_kind_s_frames_is_named_in_their_rejection() -> None:
    """A flag written without its kind (the MOSFET byte at 24, in every frame): a cell
    voltages frame is 15 bytes, cut as a frame and rejected as syntax naming the field, not
    skipped as bytes (its request then looked unanswered)."""
    text = with_fields(JBD, 'name = "fet", offset = 24, type = "u8", bit = 0').replace(
        '{ name = "fet", offset = 24, type = "u8", bit = 0, kind = 3 }',
        '{ name = "fet", offset = 24, type = "u8", bit = 0 }',
    )
    assert errors(text) == []
    spec, max_frame_bytes = spec_of(text)
    framer = codec_for("frames").framer(spec, b"", max_frame_bytes)
    cells = jbd_cells(3301, 3299, 3305, 3290)
    assert framer.feed(cells) == [cells]
    with pytest.raises(ParseError, match=r"its layout takes \(its last field, 'fet'"):
        codec_for("frames").decoder(spec)(cells)


def test_a_refusal_marks_the_values_of_its_kind_not_current() -> None:
    """A JBD's refusal of its basic information request (status 80 in a frame of kind 03):
    those values are not current (an SPS30's "not measuring" reply is of the same length);
    the cells keep theirs."""
    clock = Clock()
    rt = SensorRuntime(jbd_config("/dev/ttyUSB0"), clock=clock, wall_clock=clock)
    rt.feed(DOC_BASIC + DOC_CELLS)
    rt.feed(h("DD 03 80 00 FF 80 77"))
    assert rt.parse_errors["invalid"] == 1
    assert set(latest(rt)) == set(CELL_CHANNELS)


def test_a_simulated_flag_comes_and_goes() -> None:
    """The simulator's signals wander around 20: a one-bit field takes them modulo 2, so a
    flag is set at 21 and clear at 20, not set for good."""
    spec, _ = spec_of(JBD_BITS)
    encode = codec_for("frames").encoder(spec)
    decode = codec_for("frames").decoder(spec)
    flags = [
        dict(decode(encode({"charging": value}, 0.0)[0]))["charging"] for value in (20.0, 21.0)
    ]
    assert flags == [0.0, 1.0]


def test_check_shows_the_numbers_bit_fields_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Beside an example's values, the numbers its bit fields take their bits from, in hex,
    as the frame holds them: a byte order mistaken shows."""
    path = tmp_path / "jbd.toml"
    path.write_text(with_examples(JBD_BITS, DOC_BASIC.hex(" ")))
    assert main(["check", "--no-devices", str(path)]) == 0
    assert "read bitwise: u16be at 14 = 20 78, u8 at 24 = 03\n" in capsys.readouterr().out


# -- one value from frames of several kinds -------------------------------------------------------

#: a Seeed MR24HPC1 as the README's row reads it, but for motion: its presence report (80 01, sent unasked when presence
#: changes) and its reply to the presence query (80 81) hold the same value at byte 6, read
#: into one channel; the body movement parameter likewise (80 03 and 80 83)
MR24 = """
[[sensors]]
name = "radar"
port = "/dev/ttyUSB0"
format = "frames"
serial = { baudrate = 115200 }
  [sensors.frame]
  start = '\\x53\\x59'
  kind_offset = 2
  kind_size = 2
  length_offset = 4
  length_size = 2
  length_adjust = 3
  end = "54 43"
  checksum = "sum8"
  fields = [
    { name = "presence", offset = 6, type = "u8", kind = ["80 01", "80 81"] },
    { name = "movement", offset = 6, type = "u8", kind = [0x8003, 0x8083] },
  ]
  [[sensors.channels]]
  name = "presence"
  [[sensors.channels]]
  name = "movement"
"""

#: the radar reporting presence (a public capture), answering the presence query with
#: "nobody", reporting its body movement parameter and answering its motion query (80 82:
#: a kind no field names)
MR24_FRAMES = [
    h("53 59 80 01 00 01 01 2F 54 43"),
    mr24(0x80, 0x81, b"\x00"),
    mr24(0x80, 0x03, b"\x37"),
    mr24(0x80, 0x82, b"\x02"),
]


def test_a_field_of_two_kinds_is_read_from_the_frames_of_each() -> None:
    """Presence from the report and from the query's reply, one channel; the body movement
    parameter from its own report; nothing from a frame of a kind no field names."""
    assert errors(MR24) == []
    values, framer = read_chunked(MR24, b"".join(MR24_FRAMES), 3)
    assert values == [[1.0], [0.0], [55.0], []]
    assert framer.frames == 4
    spec, _ = spec_of(MR24)
    decode = codec_for("frames").decoder(spec)
    assert [decode(frame) for frame in MR24_FRAMES[:2]] == [
        [("presence", 1.0)],
        [("presence", 0.0)],
    ]


def test_kinds_given_as_numbers_or_in_hex_read_alike() -> None:
    numbers = MR24.replace('["80 01", "80 81"]', "[0x8001, 0x8081]")
    assert errors(numbers) == []
    for text in (MR24, numbers):
        assert read_chunked(text, b"".join(MR24_FRAMES), 100)[0] == [[1.0], [0.0], [55.0], []]


def test_a_radar_s_presence_goes_to_one_channel_from_report_and_reply() -> None:
    """The sensor's one presence channel follows whichever frame came last."""
    clock = Clock()
    text = MR24.replace('"/dev/ttyUSB0"', '"/dev/ttyUSB0"\nsimulate = "never"\nwarmup_s = 0')
    rt = SensorRuntime(parse_config(text).sensors[0], clock=clock, wall_clock=clock)
    rt.feed(MR24_FRAMES[0])
    assert latest(rt) == {"presence": 1.0}
    rt.feed(MR24_FRAMES[1])
    assert latest(rt) == {"presence": 0.0}
    assert sum(rt.parse_errors.values()) == 0


def test_the_simulated_radar_sends_a_field_of_two_kinds_in_the_frames_of_each() -> None:
    """A frame of each kind, in the order the field table names them: presence in both of
    its kinds' frames, each cut by the framer and read back."""
    spec, max_frame_bytes = spec_of(MR24)
    codec = codec_for("frames")
    frames = codec.encoder(spec)({"presence": 1.0, "movement": 40.0}, 0.0)
    assert [frame[2:4].hex(" ") for frame in frames] == ["80 01", "80 81", "80 03", "80 83"]
    assert frames[0] == h("53 59 80 01 00 01 01 2F 54 43")
    framer = codec.framer(spec, b"", max_frame_bytes)
    assert framer.feed(b"".join(frames)) == frames
    decode = codec.decoder(spec)
    assert [decode(frame) for frame in frames] == [
        [("presence", 1.0)],
        [("presence", 1.0)],
        [("movement", 40.0)],
        [("movement", 40.0)],
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            '["80 01", "80 81"]',
            "[0x8001, 0x18081]",
            "sensors[0].frame.fields[0].kind[1]: a 2-byte kind is 0..65535 (kind_size = N for "
            "N bytes, or the bytes in hex), got 98433",
        ),
        (
            '["80 01", "80 81"]',
            '["80 01", "81"]',
            "sensors[0].frame.fields[0].kind[1]: '81' is 1 byte, and kind_size is 2: give all 2",
        ),
        (
            '["80 01", "80 81"]',
            '["80 01", "8"]',
            "sensors[0].frame.fields[0].kind: item 1 must be bytes in hex",
        ),
        (
            '["80 01", "80 81"]',
            "[]",
            "sensors[0].frame.fields[0].kind: must not be an empty array",
        ),
        (
            '["80 01", "80 81"]',
            "[0x8001, 1.5]",
            "sensors[0].frame.fields[0].kind: item 1 must be an integer or a string of hex bytes",
        ),
        (
            '["80 01", "80 81"]',
            '[0x8001, "80 01"]',
            "sensors[0].frame.fields[0].kind[1]: 80 01 is kind[0] already",
        ),
        # a kind of three bytes holds the length field's first byte alone
        (
            '["80 01", "80 81"]',
            '["80 01", "80 81 00"]',
            "sensors[0].frame.fields[0].kind[1]: 80 81 00 holds a part of the length field",
        ),
        # the body movement parameter at presence's bytes in a frame of a kind of both
        (
            "[0x8003, 0x8083]",
            "[0x8003, 0x8081]",
            "sensors[0].frame.fields[1].offset: bytes [6, 7) overlap field 'presence' [6, 7)",
        ),
        # a kind that holds the length field (00 FF: 264-byte frames)
        (
            '["80 01", "80 81"]',
            '["80 01", "80 81 00 FF"]',
            "sensors[0].max_frame_bytes: must hold the 264-byte frame, got 64",
        ),
    ],
)
def test_check_names_the_kind_of_several_at_fault(old: str, new: str, expected: str) -> None:
    text = MR24.replace('format = "frames"', 'format = "frames"\nmax_frame_bytes = 64')
    assert old in text
    problems = errors(text.replace(old, new))
    assert any(p.startswith(expected) for p in problems), problems


def test_a_kind_of_one_in_an_array_is_that_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``kind = [0x8003]`` is ``kind = 0x8003``; ``sensord check`` lists the kinds and reads
    the examples of both kinds into the presence channel."""
    one = MR24.replace("[0x8003, 0x8083]", "[0x8003]")
    assert spec_of(one) == spec_of(MR24.replace("[0x8003, 0x8083]", "0x8003"))
    examples = ", ".join(f'"{frame.hex(" ")}"' for frame in MR24_FRAMES[:3])
    path = tmp_path / "radar.toml"
    path.write_text(
        one.replace("  kind_size = 2\n", f"  kind_size = 2\n  examples = [{examples}]\n")
    )
    assert main(["check", "--no-devices", str(path)]) == 0
    out = capsys.readouterr().out
    assert "kinds at 2: 80 01, 80 81, 80 03\n" in out, out
    assert "example 1: presence 1\n" in out, out
    assert "example 2: presence 0\n" in out, out
    assert "example 3: movement 55\n" in out, out
