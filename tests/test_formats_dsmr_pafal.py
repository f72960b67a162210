"""An IEC 62056-21 readout whose ``!`` ends its last data line, as a Pafal 20EC3gr writes it.

IEC 62056-21's data message ends its data block with ``!``, CR LF, ETX and the block check. A
Pafal 5EC3gr / 20EC3gr (identification ``/PAF5EC3gr00006``) writes the ``!`` right after its
last data set, ``0.2.2(:::::G11)!``, on that line: a public cron script that reads one through
its optical port keeps its readout in its docstring (find_string ``:::::G11``: ``0.2.0(1.27)``,
``1.8.0*00(019446.38)``, ``2.8.0*00(023813.75)``, ``C.2.1(000000000000)`` and 48 spaces,
``0.2.2(:::::G11)!`` and ``}``), Tasmota's Smart Meter Interface docs a dump of the same meter
(``0.2.2(:::::G11)!``) and smarthomeNG's dlms plugin docs a Pafal 12EC3g's. The ``}`` is its
block check: the XOR of the bytes after STX up to ETX, with the ``!`` on the last data line and
its CR LF before the ETX, gives 0x7D (see :func:`test_the_capture_s_block_check_holds`).

Such a readout is read, its block check checked: a ``)!`` that CR LF and ETX follow, in a
readout's data block (STX after its identification), ends it as a ``!`` line does. A DSMR
telegram's ``!`` inside a line stays text, or a line end lost (``truncated`` when the next ``/``
comes), as before.
"""

from __future__ import annotations

from harness.pty import PtyPair
from test_first_line import send
from test_formats_dsmr_quiet_end import Clocks, opened, readings
from test_formats_dsmr_short_codes import bcc

from sensord.formats.blocks import BlockFramer

#: The Pafal 20EC3gr's readout: its identification, STX, data lines, the ``!`` on the last,
#: CR LF, ETX and its block check ``}`` (as the capture has it).
PAFAL = (
    b"/PAF5EC3gr00006\r\n\x020.0.0(71579625)\r\n0.0.1(PAF)\r\nF.F(00)\r\n0.2.0(1.27)\r\n"
    b"1.8.0*00(019446.38)\r\n2.8.0*00(023813.75)\r\n"
    b"C.2.1(000000000000)(" + b" " * 48 + b")\r\n0.2.2(:::::G11)!\r\n\x03}"
)

#: The Pafal's energies, named as the meter writes their codes (F group 00, IEC 62056-61's
#: billing period: not the code without it).
PAFAL_SENSOR = """
format = "dsmr"
serial = { baudrate = 300, bytesize = 7, parity = "E" }
stale_after_s = 60
channels = [
  { name = "imported_kwh", field = "1.8.0*00" }, { name = "exported_kwh", field = "2.8.0*00" },
]
"""


def test_the_capture_s_block_check_holds() -> None:
    assert bcc(PAFAL) == ord("}")


def test_the_pafal_s_readouts_on_a_pty_are_read_checked(pty_pair: PtyPair) -> None:
    """Two readouts in pieces on a real pty, the second with more energy, then one with a
    digit changed on the line (its block check the meter's): each whole one read, the damaged
    one ``checksum``, no byte skipped. Main found no ``!`` at a line's start: nothing was read,
    and each readout was ``truncated`` when the next one's ``/`` came."""
    later = PAFAL.replace(b"(019446.38)", b"(019447.02)")[:-1]
    later += bytes([bcc(later + b"\x00")])
    damaged = later.replace(b"(023813.75)", b"(023818.75)")
    clocks = Clocks()
    with opened(pty_pair, clocks, PAFAL_SENSOR) as runtime:
        send(runtime, pty_pair, PAFAL[:70])
        send(runtime, pty_pair, PAFAL[70:])
        assert {k: r.value for k, r in readings(runtime).items()} == {
            "imported_kwh": 19446.38,
            "exported_kwh": 23813.75,
        }
        send(runtime, pty_pair, later[:-2])
        send(runtime, pty_pair, later[-2:])
        send(runtime, pty_pair, damaged)
        assert {k: r.value for k, r in readings(runtime).items()} == {
            "imported_kwh": 19447.02,
            "exported_kwh": 23813.75,
        }
        errors = {r: n for r, n in runtime.snapshot().parse_errors.items() if n}
        assert errors == {"checksum": PAFAL.count(b"\r\n") - 1}
        assert runtime.framer.skipped_bytes == 0


def test_the_pafal_s_readout_is_framed_alike_in_any_chunking() -> None:
    """Every cut of the readout in two gives the same lines as the readout whole."""
    whole = BlockFramer("dsmr", 512, data_sets=True).feed(PAFAL)
    assert whole[-1] == b"0.2.2(:::::G11)"
    for cut in range(1, len(PAFAL)):
        framer = BlockFramer("dsmr", 512, data_sets=True)
        assert framer.feed(PAFAL[:cut]) + framer.feed(PAFAL[cut:]) == whole, cut


def test_a_dsmr_telegram_s_bang_inside_a_line_ends_no_telegram() -> None:
    """A telegram without STX whose ``!`` follows a ``)`` (its line end lost before it): not
    ended there; the next telegram's ``/`` shows it cut, as before."""
    framer = BlockFramer("dsmr", 512, data_sets=True)
    telegram = b"/KFM5KAIFA-METER\r\n\r\n1-0:1.8.1(000001.000*kWh)!\r\n"
    assert framer.feed(telegram) == []
    assert framer.feed(b"/KFM5") == []
    assert framer.rejected["truncated"] == 1
