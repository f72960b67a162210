"""An IEC 62056-21 readout whose ETX and block check come within the standard's pause
between characters after its ``!`` line is checked, not read unchecked for a quiet line.

IEC 62056-21 (2002, 6.3.14 and Annex A's timing) lets a tariff device pause up to 1500 ms
between two characters of a message (``ta``); the data message's ETX and block check may so
come 1.5 s after its ``!`` line's LF. A readout whose ``!`` line has come is taken as ended for
a quiet line (a readout that sends no ETX, the ACE3000's) only once that pause and the quiet of
a telegram (``quiet_s``) are over: its block check, when it comes within the pause, is checked
(``checksum`` when it fails, as one that came at once is) and is no skipped byte. A DSMR
telegram's quiet is not lengthened: a P1 port sends its telegram as one burst.

The readouts (origins in ``test_formats_dsmr_short_codes``): :data:`E350`, a Landis+Gyr
E350's answer with its ETX and block check (saliWd/strommesser); :data:`ACE3000`, an Itron
ACE3000's, which sends no ETX (Apollon77/smartmeter-obis' tests). Each on a real pty, the
sensor's clocks moved by hand.
"""

from __future__ import annotations

import pytest
from harness.pty import PtyPair
from test_first_line import send
from test_formats_dsmr_quiet_end import ACE, Clocks, opened, readings
from test_formats_dsmr_short_codes import ACE3000, E350, E350_SENSOR

from sensord.formats.blocks import READOUT_PAUSE_S, BlockFramer, quiet_after_end_s

#: The E350's readout with its imported energy's digit changed on the line and the block
#: check its meter wrote: the check fails.
DAMAGED = E350.replace(b"1.8.1(042951.721*kWh)", b"1.8.1(042951.791*kWh)")
#: Where the E350's ``!`` line ends: its ETX and block check after it.
BANG_LINE_END = E350.index(b"!\r\n") + 3


def test_the_pause_is_iec_62056_21_s_longest_between_characters() -> None:
    assert READOUT_PAUSE_S == 1.5
    framer = BlockFramer("dsmr", 2100)
    framer.line_speed(300)
    framer.feed(ACE3000)
    assert framer.quiet_end_at(10.0) == pytest.approx(10.0 + 1.5 + quiet_after_end_s(300))
    framer = BlockFramer("dsmr", 2100)
    framer.line_speed(300)
    framer.feed(ACE3000.replace(b"\x02", b"")[:-2])
    # a telegram without STX whose '!' ends the bytes: a telegram's quiet alone
    assert framer.quiet_end_at(10.0) == pytest.approx(10.0 + quiet_after_end_s(300))


@pytest.mark.parametrize("late_s", [1.0, 1.45])
def test_a_readout_whose_etx_comes_within_the_pause_is_checked(
    pty_pair: PtyPair, late_s: float
) -> None:
    """The E350 at 300 baud, its ETX and block check ``late_s`` after its ``!`` line (past a
    telegram's quiet of 0.89 s, within IEC 62056-21's 1.5 s), the sensor ticked meanwhile:
    the damaged readout is ``checksum``, none of its values read; the whole one after it is
    read, and no byte is skipped. Main read the damaged readout unchecked at 0.89 s, its
    wrong energy 42951.791 published, and skipped each ETX and block check."""
    clocks = Clocks()
    with opened(pty_pair, clocks, E350_SENSOR) as runtime:
        for readout in (DAMAGED, E350):
            send(runtime, pty_pair, readout[:BANG_LINE_END])
            for _ in range(int(late_s / 0.05)):
                clocks.now += 0.05
                runtime.tick(clocks.now)
            send(runtime, pty_pair, readout[BANG_LINE_END:])
            clocks.now += 0.05
            runtime.tick(clocks.now)
            if readout is DAMAGED:
                assert readings(runtime) == {}
        got = readings(runtime)
        assert got["imported_t1_kwh"].value == 42951.721
        errors = {r: n for r, n in runtime.snapshot().parse_errors.items() if n}
        # each data line of the readout, from F.F to C.5.0 (not its header nor '!' line)
        assert errors == {"checksum": E350.count(b"\r\n") - 2}
        assert runtime.framer.skipped_bytes == 0


def test_a_readout_without_etx_is_read_once_the_pause_and_quiet_are_over(
    pty_pair: PtyPair,
) -> None:
    """The ACE3000's readout, no ETX after its ``!`` line: nothing is read within the pause
    and quiet, its readings then, stamped when its last byte came."""
    clocks = Clocks()
    with opened(pty_pair, clocks, ACE) as runtime:
        send(runtime, pty_pair, ACE3000)
        ends = 1000.0 + READOUT_PAUSE_S + quiet_after_end_s(300)
        assert runtime.next_deadline() == pytest.approx(ends)
        clocks.now = ends - 0.01
        runtime.tick(clocks.now)
        assert readings(runtime) == {}
        clocks.now = ends
        runtime.tick(clocks.now)
        got = readings(runtime)
        assert {name: r.value for name, r in got.items()} == {
            "imported_kwh": 285.4,
            "exported_kwh": 120.1,
        }
        assert {r.wall_s for r in got.values()} == {1000.0 + 1e9}
