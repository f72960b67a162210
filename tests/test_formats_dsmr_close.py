"""A telegram whole at its ``!`` whose port closes before the line has been quiet for its end.

A DSMR 2.2 or 3 telegram whose CR LF after its ``!`` has not come (or a telegram whose CRC came
and holds, its line end not) is read once the line has been quiet for ``quiet_s``
(:mod:`test_formats_dsmr_quiet_end`). When the port closes within that quiet (a USB adapter
unplugged, a serial server that ends its connection: the pty's master closed here, the slave's
read failing as a device's does), the telegram is read as the port closes, stamped when its
last byte came; one that is not whole (its CRC not come, or failing; cut short inside a line)
is dropped with the port, its bytes counted in ``skipped_bytes`` at the reopen, as before.

The telegrams: :data:`KAMSTRUP_162` (origin in ``test_formats_dsmr_bare_end``:
nielsbasjes/dsmr-tools' tests) and ndokter/dsmr_parser's DSMR 5 telegram ``V5`` (origin in
:mod:`harness.dsmr_parser_telegrams`).
"""

from __future__ import annotations

import signal
import threading
import time

import pytest
from harness.common import wait_for
from harness.daemon import StartDaemon
from harness.dsmr_parser_telegrams import V5
from harness.modbus import run_reader_until
from harness.proc import held_stopped
from harness.pty import PtyPair
from test_first_line import send
from test_formats_blocks import counts
from test_formats_dsmr_bare_end import KAMSTRUP_162, end_lost
from test_formats_dsmr_data_sets import UH50
from test_formats_dsmr_quiet_end import ACE, KAMSTRUP, Clocks, opened, readings
from test_formats_dsmr_short_codes import ACE3000

from sensord.config import parse_config
from sensord.errors import SourceBrokenError
from sensord.formats.blocks import quiet_after_end_s
from sensord.reader import Reader
from sensord.sensor import SensorRuntime


def test_the_reader_reads_a_bare_telegram_whose_port_closes_within_its_quiet(
    pty_pair: PtyPair,
) -> None:
    """The real reader loop on a pty at 300 baud (a quiet of 0.89 s): the Kamstrup's
    telegram without its CR LF, and the device's end of the pty (its master) closed as soon
    as the sensor has read it, within the quiet that would end it. Its readings are
    published, stamped when it came, before the close. A close that drops it (no quiet end is ticked once the port is
    closed, and the reopen counts its bytes as skipped) runs the loop out of its time with
    nothing published."""
    body = KAMSTRUP.replace("stale_after_s", "serial = { baudrate = 300 }\nstale_after_s")
    config = parse_config(
        f'[[sensors]]\nname = "s"\nport = "{pty_pair.path}"\nsimulate = "never"\n{body}'
    ).sensors[0]
    runtime = SensorRuntime(config)
    data = end_lost(KAMSTRUP_162)
    written: list[float] = []
    closed: list[float] = []

    def device() -> None:
        time.sleep(0.3)  # the port is open by then
        written.append(time.time())
        pty_pair.write(data)
        deadline = time.monotonic() + 2.0
        while runtime.bytes_read < len(data) and time.monotonic() < deadline:
            time.sleep(0.002)
        pty_pair.close_master()
        closed.append(time.time())

    with Reader([runtime]) as reader:
        run_reader_until(reader, lambda: runtime.source is not None, 5.0)
        writer = threading.Thread(target=device)
        writer.start()
        try:
            run_reader_until(reader, lambda: bool(readings(runtime)), 3.0)
        finally:
            writer.join()
    assert closed[0] - written[0] < quiet_after_end_s(300)  # closed within the quiet
    got = readings(runtime)
    assert {name: r.value for name, r in got.items()} == {
        "imported_t1_kwh": 7041.882,
        "power_kw": 0.54,
    }
    assert written[0] <= got["power_kw"].wall_s <= closed[0]  # its last byte's time
    assert sum(runtime.snapshot().parse_errors.values()) == 0


def close_under(runtime: SensorRuntime, pair: PtyPair) -> None:
    """The device's end of ``pair`` closes; the sensor's next read of its port fails, and
    the port is closed for it, as the reader does."""
    pair.close_master()
    source = runtime.source
    assert source is not None
    with pytest.raises(SourceBrokenError) as broken:
        source.read()
    runtime.disconnect(str(broken.value))
    assert runtime.source is None


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        (end_lost(KAMSTRUP_162), {"imported_t1_kwh": 7041.882, "power_kw": 0.54}),
        (end_lost(KAMSTRUP_162) + b"\r", {"imported_t1_kwh": 7041.882, "power_kw": 0.54}),
        (V5[:-2], {"imported_t1_kwh": 4.426, "power_kw": 0.244}),
        (V5[:-1], {"imported_t1_kwh": 4.426, "power_kw": 0.244}),
        (V5[:-4], {}),  # its CRC cut short
        (V5[:-2].replace(b"1-0:1.7.0(0", b"1-0:1.7.0(1", 1), {}),  # its CRC fails
        (KAMSTRUP_162[:200], {}),  # cut inside a line
    ],
    ids=["bare", "bare_cr", "crc", "crc_cr", "crc_cut", "crc_fails", "cut"],
)
def test_a_telegram_whole_at_its_bang_is_read_as_its_port_closes_and_no_other(
    pty_pair: PtyPair, sent: bytes, read: dict[str, float]
) -> None:
    """A telegram's bytes, the sensor's port closed under it 0.1 s later (its quiet 0.32 s):
    a bare DSMR 2.2 telegram (its CR too) and a DSMR 5 one whose CRC came and holds (its CR
    too) are read, stamped at their last byte (1000 s), not at the close; a CRC cut short or
    failing, or a telegram cut inside a line, gives nothing, and its bytes are skipped at the
    reopen. A close that drops what the framer holds fails the whole cases."""
    clocks = Clocks()
    with opened(pty_pair, clocks, KAMSTRUP) as runtime:
        send(runtime, pty_pair, sent)
        clocks.now += 0.1
        close_under(runtime, pty_pair)
        got = readings(runtime)
        assert {name: r.value for name, r in got.items()} == read
        assert {(r.monotonic_s, r.wall_s) for r in got.values()} <= {(1000.0, 1000.0 + 1e9)}
        assert runtime.framer.skipped_bytes == 0
        assert sum(runtime.snapshot().parse_errors.values()) == 0
        runtime.framer.reset()  # what the reopen does
        assert runtime.framer.skipped_bytes == (0 if read else len(sent))


def test_the_daemon_reads_a_whole_telegram_still_held_when_sigterm_comes(
    pty_pair: PtyPair, start_daemon: StartDaemon
) -> None:
    """The real daemon as a subprocess on a pty at 300 baud (a quiet of 0.89 s): the
    Kamstrup's telegram without its CR LF and SIGTERM both come while the daemon is stopped
    (``SIGSTOP``), so that whichever it takes first on ``SIGCONT``, the telegram read by its
    loop or the signal, the stop comes within the quiet that would end the telegram however
    busy the host (a DSMR 2.2 or 3 meter sends one every 10 s: the last whole one is what the
    operator has at the stop). The telegram is read at the stop, before the sensor's summary
    line: ``readings`` 2, no parse error, and the daemon exits 0 within P8b's 1 s of going on.
    Fails when the stop drops what the framer holds: ``readings`` 0."""
    body = KAMSTRUP.replace("stale_after_s", "serial = { baudrate = 300 }\nstale_after_s")
    config = f'[[sensors]]\nname = "m"\nport = "{pty_pair.path}"\nsimulate = "never"\n{body}'
    daemon = start_daemon(config=config)
    daemon.wait_http()
    wait_for(lambda: daemon.status()["sensors"]["m"]["state"] != "opening", 5, "port open")
    with held_stopped(daemon.pid) as stop:
        pty_pair.write(end_lost(KAMSTRUP_162))
        daemon.signal(signal.SIGTERM)
    code = daemon.proc.wait(timeout=10)
    elapsed = time.monotonic() - stop.continued_s
    assert code == 0
    assert elapsed <= 1.0
    (summary,) = daemon.events("sensor summary")
    assert (summary["readings"], summary["parse_errors"]) == (2, 0)


UH50_BODY = """
format = "dsmr"
serial = { baudrate = 2400, bytesize = 7, parity = "E" }
stale_after_s = 60
channels = [{ name = "flow_max_c", field = "9.4" }, { name = "return_max_c", field = "9.4&2" }]
"""


@pytest.mark.parametrize(
    ("body", "sent", "quiet_ended", "read"),
    [
        (KAMSTRUP, V5, False, {"imported_t1_kwh": 4.426, "power_kw": 0.244}),
        (KAMSTRUP, end_lost(KAMSTRUP_162), True, {"imported_t1_kwh": 7041.882, "power_kw": 0.54}),
        (ACE, ACE3000, False, {"imported_kwh": 285.4, "exported_kwh": 120.1}),
        (UH50_BODY, UH50[:-1], False, {}),  # its ETX come, its block check not
    ],
    ids=["read_whole", "read_by_its_quiet", "readout_check_pending", "readout_etx_alone"],
)
def test_a_port_that_closes_after_a_telegram_read_or_within_a_readout_s_pause_reads_it_once(
    pty_pair: PtyPair, body: str, sent: bytes, quiet_ended: bool, read: dict[str, float]
) -> None:
    """A port that closes 0.1 s after a DSMR 5 telegram read whole as it came, or after a bare
    telegram its quiet has ended, reads nothing more: one reading a channel, no frame twice,
    nothing skipped. The ACE3000's readout (origin in ``test_formats_dsmr_short_codes``),
    whose ``!`` line came and whose ETX and block check may come within IEC 62056-21's pause,
    is read once, unchecked, as the port closes; the UH50's (vpathuis/ultraheat's capture,
    origin in ``test_formats_dsmr_data_sets``) whose ETX came and whose block check did not
    is not whole: nothing read, its bytes skipped once, at the reopen."""
    clocks = Clocks()
    with opened(pty_pair, clocks, body) as runtime:
        send(runtime, pty_pair, sent)
        if quiet_ended:
            clocks.now += quiet_after_end_s(9600)
            runtime.tick(clocks.now)
            assert len(readings(runtime)) == len(read)
        clocks.now += 0.1
        close_under(runtime, pty_pair)
        assert {name: r.value for name, r in readings(runtime).items()} == read
        got = counts(runtime)
        assert (got["readings"], got["errors"]) == (len(read), {})
        runtime.framer.reset()  # what the reopen does
        assert runtime.framer.skipped_bytes == (0 if read else len(sent))
