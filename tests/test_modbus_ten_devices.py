"""Ten devices with different intervals on one Modbus RTU bus: a real pymodbus serial server
answers units 1 to 10 on a pty (through a relay), sensord polls each at its own interval.

Every device gets its own values (no answer is taken for another unit's), and each is polled
at its interval: not less often (the bus serialises ten schedules without starving one), not
more often (a schedule does not run ahead).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from harness.modbus import ModbusServer, PtyRelay, run_reader_until

from sensord.config import Config
from sensord.reader import Reader
from sensord.sensor import SensorRuntime

INTERVALS_S = (0.1, 0.15, 0.2, 0.3, 0.5)
UNITS = range(1, 11)
RUN_S = 3.0


def interval_of(unit: int) -> float:
    return INTERVALS_S[unit % len(INTERVALS_S)]


def device(unit: int, port: str) -> dict[str, Any]:
    return {
        "name": f"unit{unit}",
        "port": port,
        "format": "modbus",
        "modbus": {"unit": unit, "interval_s": interval_of(unit), "timeout_s": 0.2},
        "registers": [
            {"name": "level", "table": "holding", "address": 10},
            {"name": "count", "table": "input", "address": 3, "type": "uint32"},
        ],
        "channels": [{"name": "level"}, {"name": "count"}],
        "serial": {"baudrate": 115200},
    }


@pytest.mark.slow
def test_ten_devices_on_one_rtu_bus_keep_their_own_values_and_intervals() -> None:
    with (
        PtyRelay() as relay,
        ModbusServer(UNITS, "serial", relay.far.path) as server,
    ):
        for unit in UNITS:
            server.set(unit, "holding", 10, [100 + unit])
            count = 70_000 * unit  # past 16 bits: both registers matter
            server.set(unit, "input", 3, [count >> 16, count & 0xFFFF])
        errors: list[str] = []
        config = Config.load(
            {"sensors": [device(unit, relay.near.path) for unit in UNITS]}, "", errors
        )
        assert config is not None, errors
        reader = Reader([SensorRuntime(s) for s in config.sensors])
        start = time.monotonic()
        try:
            run_reader_until(reader, lambda: time.monotonic() - start > RUN_S, RUN_S + 5)
            elapsed = time.monotonic() - start
            for unit in UNITS:
                runtime = reader.sensors[f"unit{unit}"]
                values = {
                    ch.name: None if ch.stats is None else ch.stats.reading.value
                    for ch in runtime.snapshot().channels
                }
                assert values == {"level": 100.0 + unit, "count": 70_000.0 * unit}, unit
                counters = runtime.modbus
                assert counters is not None
                assert counters.timeouts == 0, unit
                assert not any(counters.errors.values()), (unit, counters.errors)
                assert counters.reads == 2  # the two tables: a read each per poll
                polls = counters.transactions / counters.reads
                due = elapsed / interval_of(unit)
                # the first poll comes at once, then one per interval
                assert 0.85 * due <= polls <= due + 2, (unit, polls, due)
        finally:
            reader.close()
