"""``sensord modbus read`` of a device whose answer has a wrong byte count and a right CRC.

The byte count is inside the CRC, so firmware that writes it wrongly sends a frame whose CRC
holds: esphome/issues issue 2893 logs a device at unit 247 whose answer to a read of 5
registers began ``F7 03 4A`` (0x4A where 0x0A belongs), its CRC holding; yaacov/node-modbus-serial
pull request 236 discusses a slave that fills the field with the register count, not the
bytes. The probe tells such a frame as what it is: the device's answer, the count it sent and
the one expected, and what that count points to; not a frame that is not the answer, nor no
response. The device is played by :class:`~harness.rtu_responder.RtuResponder`, a process of
its own, on a real pty.
"""

from __future__ import annotations

import pytest
from harness.modbus import rtu_frame
from harness.pty import PtyPair
from harness.rtu_responder import RtuResponder

from sensord.cli import main


def probe_err(
    capsys: pytest.CaptureFixture[str], answer: bytes, count: int, at_s: float = 0.01
) -> tuple[int, str]:
    """``sensord modbus read`` of ``count`` holding registers of unit 1 (timeout 0.3 s) on a
    pty whose device answers ``answer`` ``at_s`` after the request: its exit code and stderr."""
    with PtyPair() as port:
        assert port.master_fd is not None
        with RtuResponder(port.master_fd, [[(at_s, answer)]]):
            argv = ["modbus", "read", port.path, "--unit", "1", "--baudrate", "19200"]
            code = main([*argv, "--holding", "0", "--count", str(count), "--timeout", "0.3"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("count", "told"),
    [
        (2, "its byte count 2 where 4 was expected"),
        (0x44, "its byte count 68 where 4 was expected"),
    ],
    ids=["registers-not-bytes", "bit-set"],
)
def test_the_probe_tells_an_answer_whose_byte_count_is_wrong_as_the_device_s_answer(
    capsys: pytest.CaptureFixture[str], count: int, told: str
) -> None:
    """Unit 1 answers the read of two registers with 9 bytes (the read's length), a right
    CRC and byte count ``count`` where 4 belongs. The probe exits 1 at once (the device
    answered: no wait for its timeout, no drain), saying the device answered with that count,
    the one expected, and the likely cause: a count of registers, not bytes, or one bit set
    (before: "skipped a frame that is not the answer: 0 values, not 2" and "no response")."""
    code, err = probe_err(capsys, rtu_frame(bytes([1, 3, count, 0, 9, 0, 10])), 2)
    assert code == 1, err
    assert f"unit 1 answered with no values to read: the device's answer, {told}" in err
    cause = "it counts registers, not bytes" if count == 2 else "0x44 is 0x04 with one bit set"
    assert cause in err
    assert "skipped a frame that is not the answer" not in err
    assert "no response" not in err


def test_the_probe_still_tells_a_sound_answer_of_another_count_as_such(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A sound answer whose own count cuts it (one register where two were asked) is not
    taken for a wrong byte count: told as before, 1 value where 2 were asked for."""
    code, err = probe_err(capsys, rtu_frame(bytes([1, 3, 2, 0, 9])), 2)
    assert code == 1, err
    assert "skipped a frame that is not the answer: 1 values, not 2" in err
    assert "byte count" not in err


def test_a_late_answer_whose_byte_count_is_wrong_is_told_as_the_device_s_answer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The same answer 0.4 s after the request, past the 0.3 s timeout, taken in the drain
    after it: the device answered, told as above, not "nothing came" (which sends one to the
    wiring and the baud rate)."""
    code, err = probe_err(capsys, rtu_frame(bytes([1, 3, 2, 0, 9, 0, 10])), 2, at_s=0.4)
    assert code == 1, err
    assert "unit 1 answered with no values to read: the device's answer, its byte count 2" in err
    assert "nothing came" not in err
