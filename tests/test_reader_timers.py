"""The reader's timer pass skips the ports whose own deadline has not come (a site of hundreds
of ports, whose polls and simulated devices make many passes a second, visits each port at
its own deadlines only): every port is still served at its deadlines, whatever the others
make the loop do, and a port whose deadline moves earlier outside a pass (a bus's reply, a
port added, a port lost) is served at the new one."""

from __future__ import annotations

import time

from harness.modbus import run_reader_until

from sensord.config import parse_config
from sensord.daemon import Daemon

RATES_HZ = (1, 2, 5, 10, 25)


def sim_toml(name: str, rate_hz: int) -> str:
    return (
        f'[[sensors]]\nname = "{name}"\nport = "sim://{name}"\nformat = "value"\n'
        f"sampling_rate_hz = {rate_hz}\n"
        "simulation = { spike_rate = 0.0, garbage_rate = 0.0, dropout_rate = 0.0 }\n"
        'channels = [{ name = "v" }]\n'
    )


def bus_toml(name: str, unit: int, interval_s: float) -> str:
    return f"""
[[sensors]]
name = "{name}"
port = "sim://bus"
format = "modbus"
serial = {{ baudrate = 115200 }}
modbus = {{ unit = {unit}, interval_s = {interval_s}, timeout_s = 0.5 }}
registers = [{{ name = "v", ref = "40001", type = "uint16" }}]
channels = [{{ name = "v" }}]
"""


def test_every_port_is_served_at_its_own_deadlines_while_others_make_many_passes() -> None:
    sims = {f"s{i}_{rate}": rate for i in range(8) for rate in RATES_HZ}
    text = "".join(sim_toml(name, rate) for name, rate in sims.items())
    text += bus_toml("fast", 1, 0.05) + bus_toml("slow", 2, 0.5)
    daemon = Daemon(parse_config(text), environ={})
    reader = daemon.reader
    for runtime in daemon._built:
        reader.add(runtime)
    daemon._refresh_runtimes()
    try:
        # every port open and delivering: the count starts from there
        run_reader_until(reader, lambda: all(s.framer.frames for s in reader.sensors.values()), 5)
        frames0 = {name: reader.sensors[name].framer.frames for name in sims}
        fast, slow = (reader.sensors[name].modbus for name in ("fast", "slow"))
        assert fast is not None
        assert slow is not None
        polls0 = fast.transactions, slow.transactions
        started = time.monotonic()
        run_reader_until(reader, lambda: time.monotonic() - started >= 3.0, 5)
        took_s = time.monotonic() - started
        for name, rate in sims.items():
            got = reader.sensors[name].framer.frames - frames0[name]
            assert rate * took_s * 0.8 - 1 <= got <= rate * took_s * 1.2 + 1, (name, rate, got)
        fast_polls = fast.transactions - polls0[0]
        slow_polls = slow.transactions - polls0[1]
        assert took_s / 0.05 * 0.7 <= fast_polls <= took_s / 0.05 + 1, fast_polls
        assert took_s / 0.5 - 1 <= slow_polls <= took_s / 0.5 + 1, slow_polls
    finally:
        reader.close()
