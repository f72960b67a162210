"""How ``sensord modbus read`` waits on a real RTU line for a device that does not answer,
answers late, or answers in pieces (``sensord.probe_wire``: ``await_response`` and
``drain_after_timeout``).

The probe runs in the test's process on a real pty; the device is an
:class:`~harness.rtu_responder.RtuResponder`, a process of its own that reads each request
and writes its answer's bytes at the times a device and its adapter send them: a pymodbus
server answers at once and whole, never late or in pieces. The answers are the frames a
device sends (their CRC computed by pymodbus, ``harness.modbus.rtu_frame``). What the
devices do is what real ones were seen to do:

* no answer: a unit that is off or has another unit id, as libmodbus's users met it
  (stephane/libmodbus#83: "Slave 2 (off, disconnected or unresponsive)");
* a late answer: a Fronius Primo answers just past a 500 ms timeout (stephane/libmodbus#776:
  300 ms gave 707 errors in 1000 reads, 600 ms none), and a late answer taken for the next
  request's is the harm the wait after a timeout prevents (pymodbus-dev/pymodbus#2636:
  "Request 2: Response 1 # returned as wrong response"; zephyrproject-rtos/zephyr#63668);
* pieces: an FTDI adapter hands the bytes over every 16 ms (its latency timer), so a long
  answer comes in chunks further apart than the line's silence (pymodbus-dev/pymodbus#880:
  "Data is sent in batches every 16 ms"; sourceperl/modbus-serial-monitor#4, a 125-register
  answer cut in three by such gaps).

A play whose responder or test process the host held back past what its bounds allow is
played again (``harness.host_lag.steadily``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from harness.host_lag import HostLag, steadily
from harness.modbus import rtu_frame
from harness.pty import PtyPair
from harness.rtu_responder import RtuResponder
from test_adapter_facts import fake_adapter

from sensord import probe as probe_module
from sensord.cli import main
from sensord.modbus_timing import ARRIVAL_SLACK_S

#: The probe's timeout in these tests.
TIMEOUT_S = 0.2

#: How long past its time the probe's wait may end on a steady host: the opening of the port
#: and the time to write its request and read the answer, measured at 10 to 20 ms here.
SLACK_S = 0.08

#: How far the host may hold the test's process or the responder back in a play that is
#: asserted on without being played again.
HELD_S = 0.03

#: An answer to a read of one holding register of unit 1, 0x0102.
ONE_REGISTER = rtu_frame(bytes([1, 3, 2, 0x01, 0x02]))


@dataclasses.dataclass
class Probed:
    """What ``sensord modbus read`` did against a responder: its exit code and output, how
    long it took and how much CPU its thread used, when the responder read each request,
    and how late the host ran the test's process (``lag``) and the responder (``slip_s``)."""

    code: int
    out: str
    err: str
    elapsed_s: float
    cpu_s: float
    asked: list[float]
    lag: HostLag
    slip_s: float

    @property
    def held_s(self) -> float:
        """How long the host held the play back, in all: the test's process (past the
        timer's own lateness) and the responder at its worst."""
        return self.lag.total_s() + self.slip_s


def probe(
    capsys: pytest.CaptureFixture[str],
    answers: list[list[tuple[float, bytes]]],
    options: list[str],
    baudrate: int = 19200,
    sysfs: Callable[[str], None] | None = None,
) -> tuple[Probed, str]:
    """``sensord modbus read`` of unit 1 on a pty whose device answers ``answers`` (see
    :class:`RtuResponder`), with ``options``; played again while the host held it back.
    ``sysfs`` is given each play's port before the probe runs (to build its adapter's sysfs)."""

    def scenario() -> tuple[Probed, Probed]:
        with PtyPair() as port:
            assert port.master_fd is not None
            if sysfs is not None:
                sysfs(port.path)
            with RtuResponder(port.master_fd, answers) as responder, HostLag() as lag:
                argv = ["modbus", "read", port.path, "--unit", "1", "--baudrate", str(baudrate)]
                started, cpu = time.monotonic(), time.thread_time()
                code = main([*argv, *options])
                elapsed, cpu = time.monotonic() - started, time.thread_time() - cpu
        captured = capsys.readouterr()
        played = Probed(
            code,
            captured.out,
            captured.err,
            elapsed,
            cpu,
            responder.asked,
            lag,
            responder.slip_s,
        )
        return played, played

    def held(played: Probed) -> str:
        if played.lag.max_s > HELD_S:
            return f"the host held the test's process back {played.lag.max_s:.3f} s"
        if played.slip_s > HELD_S:
            return f"the host held the responder back {played.slip_s:.3f} s"
        return ""

    return steadily(scenario, held)


def lateness(err: str) -> float:
    """How late after its request the probe's stderr ``err`` says the answer came."""
    found = re.search(r"^unit 1 answered (\d+\.\d\d) s after the request, past the", err, re.M)
    assert found is not None, err
    return float(found[1])


def test_the_probe_waits_its_timeout_and_the_unit_s_quiet_for_a_device_that_does_not_answer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A device that never answers: the probe waits for the answer its timeout (0.2 s), then,
    as the daemon's bus drains a device after a timeout, until the unit has been quiet for
    the timeout again before it asks again (``--retries 1``): 0.4 s from request to request,
    and 0.8 s in all before it tells that nothing came. It sleeps while it waits: its thread
    takes a few milliseconds of CPU over the 0.8 s, not a core."""
    played, how = probe(
        capsys, [], ["--holding", "0", "--timeout", str(TIMEOUT_S), "--retries", "1"]
    )
    assert played.code == 1, (played.err, how)
    assert f"no response from unit 1 within {TIMEOUT_S:g} s" in played.err, how
    assert "nothing came" in played.err, how
    assert len(played.asked) == 2, (played.asked, how)
    # the timeout, then the unit quiet for the timeout (the request's bytes take 4 ms at
    # 19200 baud, written at once to a pty)
    gap = played.asked[1] - played.asked[0]
    assert 2 * TIMEOUT_S - 0.01 <= gap <= 2 * TIMEOUT_S + SLACK_S + played.held_s, (gap, how)
    assert 4 * TIMEOUT_S <= played.elapsed_s <= 4 * TIMEOUT_S + 2 * SLACK_S + played.held_s, (
        played.elapsed_s,
        how,
    )
    assert played.cpu_s < 0.1 * played.elapsed_s, (played.cpu_s, played.elapsed_s, how)


def test_the_probe_takes_an_answer_after_its_timeout_as_late_by_its_time_from_the_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A device that answers 0.3 s after the request, past the probe's 0.2 s timeout: the
    answer comes while the probe waits for the unit's quiet after the timeout (until 0.4 s),
    where it is taken as a late answer, its lateness counted from the request. The probe
    prints its registers, says how late it came and the timeout to set, and exits 1 (a read
    with these settings fails)."""
    played, how = probe(
        capsys, [[(0.3, ONE_REGISTER)]], ["--holding", "0", "--timeout", str(TIMEOUT_S)]
    )
    assert played.code == 1, (played.err, how)
    assert "      0: 0x0102    258\n" in played.out, how
    assert "no response" not in played.err, how
    late_s = lateness(played.err)
    assert 0.3 - 0.005 <= late_s <= 0.3 + SLACK_S + played.held_s, (late_s, how)  # told to 10 ms
    assert len(played.asked) == 1, how


def ftdi_chunks(
    frame: bytes, baudrate: int, begin_s: float, phase_s: float = 0.016
) -> list[tuple[float, bytes]]:
    """``frame`` as an FTDI adapter hands it over: at each tick of its 16 ms latency timer,
    what the line carried since the tick before; the frame's first byte on the line
    ``begin_s`` after the request, the timer's first tick ``phase_s`` after that (it runs on
    its own, not from the frame)."""
    char = 10 / baudrate
    chunks = []
    sent = 0
    at = begin_s + phase_s
    while sent < len(frame):
        upto = min(len(frame), int((at - begin_s) / char))
        if upto > sent:
            chunks.append((at, frame[sent:upto]))
            sent = upto
        at += 0.016
    return chunks


def test_the_probe_reads_an_answer_in_an_adapter_s_pieces_begun_in_its_time_whole(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """125 registers at 9600 baud take 266 ms on the line; the device begins them 0.1 s after
    the request, and an FTDI adapter hands them over in 17 chunks 16 ms apart, each gap four
    times the line's silence (3.6 ms), the last chunk 0.38 s after the request, past the
    0.2 s timeout. The answer begun in time is read whole, as the daemon reads it: the
    registers are printed and the probe exits 0, telling no late answer."""
    words = list(range(1000, 1125))
    frame = rtu_frame(bytes([1, 3, 250, *(b for w in words for b in w.to_bytes(2, "big"))]))
    chunks = ftdi_chunks(frame, 9600, 0.1)
    assert len(chunks) == 17
    assert chunks[-1][0] > TIMEOUT_S + 0.15
    played, how = probe(
        capsys,
        [chunks],
        ["--holding", "0", "--count", "125", "--timeout", str(TIMEOUT_S)],
        baudrate=9600,
    )
    assert played.code == 0, (played.err, how)
    assert "      0: 0x03e8   1000\n" in played.out, how
    assert "    124: 0x0464   1124\n" in played.out, how
    assert "answered" not in played.err, how
    assert "timeout" not in played.err, how
    assert len(played.asked) == 1, how


#: 125 registers (1000 to 1124) of unit 1 as one RTU answer: 255 bytes, 266 ms at 9600 baud.
LONG_ANSWER = rtu_frame(
    bytes([1, 3, 250, *(b for w in range(1000, 1125) for b in w.to_bytes(2, "big"))])
)


def test_the_probe_takes_a_late_answer_in_an_adapter_s_pieces_whole(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The long answer begun 0.3 s after the request, past the 0.2 s timeout, through an FTDI
    adapter: its last piece (2 bytes) comes 0.58 s after the request, 16 ms after the piece
    before, 10 ms after the line's silence that follows the rest of the frame on the wire.
    The probe's wait for the unit's quiet after the timeout lasts for the rest of the frame
    begun and the time an adapter holds it: the whole late answer is taken, its registers
    printed and its lateness told (exit 1), not 253 bytes that make no frame."""
    chunks = ftdi_chunks(LONG_ANSWER, 9600, 0.3, phase_s=0.008)
    last = chunks[-1][0]
    # the last piece: 2 bytes, which the line carried 2 ms after the piece before, and which
    # the adapter holds to its next tick, 16 ms after that piece
    assert len(chunks[-1][1]) == 2
    assert last - chunks[-2][0] == pytest.approx(0.016)
    played, how = probe(
        capsys,
        [chunks],
        ["--holding", "0", "--count", "125", "--timeout", str(TIMEOUT_S)],
        baudrate=9600,
    )
    assert played.code == 1, (played.err, how)
    assert "    124: 0x0464   1124\n" in played.out, (played.err, how)
    assert "no response" not in played.err, how
    late_s = lateness(played.err)
    assert last - 0.005 <= late_s <= last + SLACK_S + played.held_s, (late_s, how)  # told to 10 ms


def test_the_probe_waits_for_the_rest_of_a_cut_answer_as_long_as_it_can_come(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A device whose answer stops after 92 of its 255 bytes, 0.2 s after the request: the end
    of a long answer lost (brainelectronics/micropython-modbus#75: "When reading a long
    response, sometimes the end of the response is truncated", at 64 to 125 registers;
    esphome/esphome#15857: devices that drop an answer's CRC). The probe waits past its
    timeout for the rest as long as the line can carry it and an adapter hold it (0.42 s
    after the request), then for the unit's quiet (the timeout again), and does not wait
    on; it tells that no answer came, and that the bytes that did are the unit's answer cut
    short (its unit id, function code and byte count are the read's), not bytes garbled by
    the line's settings."""
    chunks = ftdi_chunks(LONG_ANSWER, 9600, 0.1)[:6]
    came = sum(len(chunk) for _, chunk in chunks)
    rest_s = chunks[-1][0] + (len(LONG_ANSWER) - came) * 10 / 9600 + 3.5 * 10 / 9600 + 0.05
    played, how = probe(
        capsys,
        [chunks],
        ["--holding", "0", "--count", "125", "--timeout", str(TIMEOUT_S)],
        baudrate=9600,
    )
    assert played.code == 1, (played.err, how)
    assert f"no response from unit 1 within {TIMEOUT_S:g} s" in played.err, how
    assert (
        f"{came} of the 255 bytes of unit 1's answer came (its unit id, function code and byte "
        "count as asked), then no more: the answer was cut short, not garbled by the line's "
        "settings (a device or adapter that drops the end of an answer, or another sender "
        "breaking it off); a read of fewer values (--count) may come whole\n"
    ) in played.err, how
    assert "check --baudrate" not in played.err, how
    expected = rest_s + TIMEOUT_S
    assert expected <= played.elapsed_s <= expected + SLACK_S + played.held_s, (
        played.elapsed_s,
        expected,
        how,
    )


def test_the_probe_tells_its_own_request_behind_a_glitch_byte_as_its_echo_not_a_cut_answer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An adapter that hears its own transmission, its transceiver putting a 00 on the line as
    it turns around (tests/test_local_echo_glitch: stephane/libmodbus#14, "some (1 or 2 for
    now) byte containing zero value"; home-assistant/core#69742, three 00 bytes), and no
    answer. The read of 2 holding registers at 0x0400 (a 32-bit value) is sent as 01 03 04 00
    00 02 CRC: its first bytes are those of the answer (unit 1, function 3, 4 bytes), so its
    echo looks like an answer begun. The probe tells the echo, not an answer cut short."""
    request = rtu_frame(bytes([1, 3, 0x04, 0x00, 0x00, 0x02]))
    assert request.startswith(bytes([1, 3, 4]))  # the answer's head
    played, how = probe(
        capsys,
        [[(0.0, b"\x00" + request)]],
        ["--holding", "0x0400", "--count", "2", "--timeout", str(TIMEOUT_S)],
    )
    assert played.code == 1, (played.err, how)
    assert f"no response from unit 1 within {TIMEOUT_S:g} s" in played.err, how
    assert "cut short" not in played.err, how
    assert "only what was sent came back (1 request, as sent" in played.err, how
    assert "--local-echo" in played.err, how


def test_the_probe_tells_its_own_request_behind_a_noise_byte_as_no_cut_answer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The echo of the read of 2 registers at 0x0400 behind a byte of noise a half-duplex
    line carried as it turned around (4-20ma/ModbusMaster#98: "Invalid Slave 0xE1", noise
    "non-zero time-by time"; rosenrot00/esphome_modbus_bridge#21: "partial and full echoes,
    and also random noise bytes", its echo 01:03:04:B2:00:01:25:1D), and no answer: the
    bytes the probe holds begin with the answer's head only because they are the request. It
    tells no answer cut short; what came makes no frame."""
    request = rtu_frame(bytes([1, 3, 0x04, 0x00, 0x00, 0x02]))
    played, how = probe(
        capsys,
        [[(0.0, b"\xe1" + request)]],
        ["--holding", "0x0400", "--count", "2", "--timeout", str(TIMEOUT_S)],
    )
    assert played.code == 1, (played.err, how)
    assert f"no response from unit 1 within {TIMEOUT_S:g} s" in played.err, how
    assert "cut short" not in played.err, how
    assert "9 bytes came that make no Modbus frame" in played.err, how


def test_the_probe_waits_for_an_answer_s_pieces_as_long_as_the_ftdi_s_latency_timer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The port is an FTDI adapter whose latency_timer sysfs gives as 128 ms (FTDI AN232B-04
    allows 1 to 255; converters and udev rules set such values): the answer begins 0.19 s
    after the request, within the 0.2 s timeout, 4 of its 7 bytes handed over then, the
    other 3 held 100 ms by the adapter. The probe reads the timer as the daemon's bus does
    (``port_slack``), says so, waits for the rest and takes the answer in time (exit 0).
    (Before: it waited ARRIVAL_SLACK_S, 50 ms, past the rest's time on the wire, cut the answer
    and took its rest for a late answer, 0.29 s after the request: exit 1.)"""
    roots = iter(range(100))

    def ftdi(path: str) -> None:
        root = tmp_path / f"sys{next(roots)}"
        fake_adapter(root, os.path.basename(path), latency_ms=128)
        monkeypatch.setattr(probe_module, "SYS_ROOT", str(root))

    played, how = probe(
        capsys,
        [[(0.19, ONE_REGISTER[:4]), (0.29, ONE_REGISTER[4:])]],
        ["--holding", "0", "--timeout", str(TIMEOUT_S)],
        sysfs=ftdi,
    )
    # the rest comes after the fixed wait would have ended, well within the adapter's
    assert 0.19 + 3 * 10 / 19200 + ARRIVAL_SLACK_S + 0.04 < 0.29 < 0.19 + 0.132 - 0.03
    assert played.code == 0, (played.err, how)
    assert "      0: 0x0102    258\n" in played.out, how
    assert re.search(
        r"^FTDI latency_timer 128 ms \(.*/device/latency_timer\): waiting 132 ms for an "
        r"answer's pieces$",
        played.err,
        re.M,
    ), (played.err, how)
    assert "answered" not in played.err, how
    assert len(played.asked) == 1, how


def test_the_probe_says_nothing_of_its_wait_for_pieces_on_a_port_sysfs_does_not_know(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A pty (no adapter in sysfs): the probe waits ARRIVAL_SLACK_S for an answer's pieces, as
    the daemon's bus does, and prints nothing of it."""
    played, how = probe(capsys, [[(0.01, ONE_REGISTER)]], ["--holding", "0"])
    assert played.code == 0, (played.err, how)
    assert "pieces" not in played.err, how


def test_the_probe_reads_an_answer_begun_right_after_another_unit_s_frame_in_one_piece_whole(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Unit 2's late answer to another master (or to the probe's read of it before) ends a
    silence before unit 1's long answer begins, 0.1 s after the request; an FTDI adapter hands
    unit 2's answer and the first bytes of unit 1's over in one piece, the rest every 16 ms
    until 0.38 s after the request, past the 0.2 s timeout (FTDI AN232B-04: what its latency
    timer gathered, two frames a silence apart as one run of bytes; pymodbus-dev/pymodbus#880).
    Unit 1's answer begins right after a sound frame, as after the line's silence: the probe
    reads it whole in its time, exits 0 and tells no late answer, as the daemon's bus does
    (tests/test_modbus_back_to_back)."""
    other = rtu_frame(bytes([2, 3, 2, 0x12, 0x34]))
    chunks = ftdi_chunks(LONG_ANSWER, 9600, 0.1)
    first_at, first = chunks[0]
    played, how = probe(
        capsys,
        [[(first_at, other + first), *chunks[1:]]],
        ["--holding", "0", "--count", "125", "--timeout", str(TIMEOUT_S)],
        baudrate=9600,
    )
    assert played.code == 0, (played.err, how)
    assert "      0: 0x03e8   1000\n" in played.out, how
    assert "    124: 0x0464   1124\n" in played.out, how
    assert "answered" not in played.err, (played.err, how)
    assert "timeout" not in played.err, (played.err, how)
    assert len(played.asked) == 1, how
