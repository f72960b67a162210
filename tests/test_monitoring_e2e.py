"""The operator's kit against real components: a real Prometheus server loads the shipped
fleet configuration, recording rules and alerts (with their ``for:`` durations shortened),
scrapes a real sensord whose device is a pty, and sees the down alert go pending, fire and
resolve across an unplug and a replug. Every query of the Grafana dashboard runs against it and
must return series."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from harness.common import accepted_clients, free_port, wait_for
from harness.daemon import DaemonProcess
from harness.pty import SymlinkedPty, symlinked_pty
from harness.scrape import metrics_read_by_rules
from harness.spawn import popen
from test_shared_port import reading_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
MONITORING = REPO / "monitoring"
SENSOR = "tank"
CHANNEL = "level"
#: The shortened ``for:`` of every alert in the test copy of alerts.yml.
TEST_FOR = "3s"
#: The scrape and evaluation interval of the test's Prometheus: each wait on what Prometheus
#: sees (a series, an alert's state) lasts up to a scrape and an evaluation past the event.
#: Its scrape timeout is as long (Prometheus caps the timeout at the interval): far longer
#: than sensord's answer to ``/metrics``.
TEST_INTERVAL = "500ms"


class Prometheus:
    """A Prometheus server on a free loopback port with its data in a temporary directory."""

    def __init__(self, config: Path, tmp_path: Path) -> None:
        exe = shutil.which("prometheus")
        assert exe is not None, "prometheus is missing: scripts/test installs Debian's package"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "prometheus.log"
        self._log = self.log_path.open("wb")
        self.proc = popen(
            [
                exe,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(self.url + path + query, timeout=5) as response:
            body: dict[str, Any] = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.get("/api/v1/query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    def alerts(self, name: str, **labels: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get("/api/v1/alerts")["alerts"]
        return [
            a
            for a in found
            if a["labels"]["alertname"] == name
            and all(a["labels"].get(k) == v for k, v in labels.items())
        ]

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_for(ready, timeout_s, "prometheus /-/ready", interval_s=0.05)

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def substituted(text: str, old: str, new: str) -> str:
    assert old in text, f"{old!r} not found: the shipped file changed"
    return text.replace(old, new)


def prometheus_config(tmp_path: Path, sensord_port: int, test_for: str = TEST_FOR) -> Path:
    """The shipped prometheus.yml with ``TEST_INTERVAL`` intervals, a target file for the test's sensord and
    test copies of the rules (every ``for:`` shortened to ``test_for``)."""
    rules = tmp_path / "rules.yml"
    rules.write_text((MONITORING / "rules.yml").read_text())
    alerts_text = (MONITORING / "alerts.yml").read_text()
    fors = re.findall(r"\n        for: \w+\n", alerts_text)
    assert len(fors) >= 8
    alerts = tmp_path / "alerts.yml"
    alerts.write_text(re.sub(r"\n        for: \w+\n", f"\n        for: {test_for}\n", alerts_text))
    targets = tmp_path / "targets"
    targets.mkdir()
    (targets / "lab.yml").write_text(f'- targets: ["127.0.0.1:{sensord_port}"]\n')
    text = (MONITORING / "prometheus.yml").read_text()
    text = substituted(text, "scrape_interval: 15s", f"scrape_interval: {TEST_INTERVAL}")
    text = substituted(text, "evaluation_interval: 15s", f"evaluation_interval: {TEST_INTERVAL}")
    text = substituted(text, "  - rules.yml\n  - alerts.yml\n", f"  - {rules}\n  - {alerts}\n")
    text = substituted(text, "- targets/*.yml", f"- {targets}/*.yml")
    config = tmp_path / "prometheus.yml"
    config.write_text(text)
    return config


def sensord_config(tmp_path: Path, device: Path) -> Path:
    config = tmp_path / "sensord.toml"
    config.write_text(
        "[metrics]\nstep_timing_sample_every = 1\n\n"
        f'[[sensors]]\nname = "{SENSOR}"\nport = "{device}"\nformat = "value"\n'
        'sampling_rate_hz = 20\nsimulate = "never"\n'
        "reconnect = { initial_delay_s = 0.1, max_delay_s = 0.5 }\n"
        f'  [[sensors.channels]]\n  name = "{CHANNEL}"\n  filter = {{ min = 0.0, max = 100.0 }}\n'
        "  window = { size = 20 }\n"
    )
    return config


@contextmanager
def feeding(device: SymlinkedPty) -> Iterator[None]:
    """A device that sends a reading every 50 ms to whichever pty is plugged in."""
    stop = threading.Event()

    def run() -> None:
        i = 0
        while not stop.wait(0.05):
            i += 1
            with contextlib.suppress(OSError):  # unplugged
                device.pty.write(f"{40 + i % 20}.5\n".encode())

    thread = threading.Thread(target=run, name="device", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def dashboard_queries(instance: str) -> list[tuple[str, str]]:
    """``(title, query)`` of every panel target and variable of the dashboard, with the
    variables set to the test's host, sensor and channel."""
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    values = {
        "$instance": instance,
        "$sensor": SENSOR,
        "$channel": CHANNEL,
        "$__rate_interval": "5s",
    }

    def fill(expr: str) -> str:
        for name, value in values.items():
            expr = expr.replace(name, value)
        assert "$" not in expr, expr
        return expr

    queries = []
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((.*), (\w+)\)", variable["query"])
            assert match is not None, variable["query"]
            queries.append((f"variable {variable['name']}", fill(match.group(1))))
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            queries.append((panel["title"], fill(target["expr"])))
    return queries


#: Metrics the rules read that this test's one pty sensor does not export: line error
#: counters (only a driver that keeps them, such as a USB serial adapter's; no pty does) and a
#: Modbus device's (tests/test_daemon.py finds them in the demo's scrape). Their alerts are
#: covered by the promtool unit tests.
NOT_EXPORTED_HERE = {
    "sensord_serial_line_errors_total",
    "sensord_modbus_device_down",
    "sensord_modbus_errors_total",
    "sensord_modbus_exceptions_total",
    "sensord_modbus_polls_missed_total",
    "sensord_modbus_timeouts_total",
    "sensord_modbus_transactions_total",
}


def test_down_alert_fires_and_resolves_and_dashboard_queries_return_data(
    tmp_path: Path,
) -> None:
    with (
        symlinked_pty(tmp_path, "ttyTANK") as device,
        feeding(device),
        DaemonProcess(
            ["--config", str(sensord_config(tmp_path, device.link)), "--workers", "2"],
            tmp_path=tmp_path,
        ) as daemon,
    ):
        prometheus = Prometheus(prometheus_config(tmp_path, daemon.port), tmp_path)
        with watched_by(prometheus, daemon):
            daemon.wait_http(20)
            prometheus.wait_ready()
            instance = "127.0.0.1"  # the fleet relabelling drops the port

            def sensor_up() -> bool:
                result = prometheus.query(
                    f'sensord_sensor_up{{sensor="{SENSOR}", instance="{instance}", site="lab"}}'
                )
                return bool(result) and result[0]["value"][1] == "1"

            wait_for(sensor_up, 20, "Prometheus to scrape the sensor up", interval_s=0.1)

            # Rates need a few scrapes; then every dashboard query returns series.
            def dashboard_has_data() -> bool:
                return all(prometheus.query(q) for _, q in dashboard_queries(instance))

            try:
                wait_for(dashboard_has_data, 20, "every dashboard query to return series", 0.2)
            except AssertionError:
                empty = [t for t, q in dashboard_queries(instance) if not prometheus.query(q)]
                raise AssertionError(f"dashboard queries without series: {empty}") from None
            # The state timeline shows the sensor up; latency quantiles are measured values.
            by_title = dict(dashboard_queries(instance))
            (state,) = prometheus.query(by_title["Sensor state"])
            assert state["value"][1] == "1"
            for sample in prometheus.query(by_title["Step latency"]):
                assert 0 < float(sample["value"][1]) < 0.1, sample
            names = {r["metric"]["__name__"] for r in prometheus.query('{__name__=~"sensord_.+"}')}
            assert metrics_read_by_rules() - NOT_EXPORTED_HERE <= names, (
                metrics_read_by_rules() - names
            )

            # Healthy: nothing pending or firing.
            assert prometheus.get("/api/v1/alerts")["alerts"] == []

            # Unplug: the port is lost and the device path is gone.
            unplugged = time.monotonic()
            device.unplug()
            device.link.unlink()

            def down_alert(state: str) -> bool:
                alerts = prometheus.alerts("SensordSensorDown", sensor=SENSOR)
                return any(a["state"] == state for a in alerts)

            wait_for(lambda: down_alert("pending"), 10, "SensordSensorDown pending", 0.1)
            pending_after = time.monotonic() - unplugged
            wait_for(lambda: down_alert("firing"), 15, "SensordSensorDown firing", 0.1)
            firing_after = time.monotonic() - unplugged
            (alert,) = prometheus.alerts("SensordSensorDown", sensor=SENSOR)
            assert alert["labels"]["severity"] == "critical"
            assert alert["labels"]["site"] == "lab"
            assert alert["annotations"]["summary"] == f"Sensor {SENSOR} on {instance} is down"
            assert "Check first:" in alert["annotations"]["description"]
            # The port is gone, not silent: the stale alert stays quiet.
            assert prometheus.alerts("SensordSensorStale") == []

            # Replug: a new pty behind the same path; the alert resolves (leaves the list).
            replugged = time.monotonic()
            device.replug()
            wait_for(
                lambda: not prometheus.alerts("SensordSensorDown", sensor=SENSOR),
                15,
                "SensordSensorDown to resolve",
                0.1,
            )
            resolved_after = time.monotonic() - replugged
            assert sensor_up()
            print(
                f"\nSensordSensorDown (for: {TEST_FOR}, {TEST_INTERVAL} scrape/evaluation): pending "
                f"{pending_after:.1f}s and firing {firing_after:.1f}s after the unplug, "
                f"resolved {resolved_after:.1f}s after the replug"
            )


@contextmanager
def watched_by(prometheus: Prometheus, daemon: DaemonProcess) -> Iterator[None]:
    """A test of ``daemon`` scraped by ``prometheus``: an assertion that fails inside carries
    both logs; both stop at the end, the daemon with exit status 0."""
    try:
        yield
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\n--- prometheus log:\n{prometheus.log_text()}\n"
            f"--- sensord log:\n{daemon.log_text()[-4000:]}"
        ) from None
    finally:
        prometheus.stop()
        assert daemon.stop() == 0


@contextmanager
def served_and_watched(
    config: Path,
    tmp_path: Path,
    prometheus: Prometheus,
    port: int,
    python_prelude: str | None = None,
) -> Iterator[DaemonProcess]:
    """The daemon of ``config`` on ``port``, which ``prometheus`` scrapes, once both answer,
    :func:`watched_by` it."""
    with (
        DaemonProcess(
            ["--config", str(config)],
            tmp_path=tmp_path,
            port=port,
            python_prelude=python_prelude,
        ) as daemon,
        watched_by(prometheus, daemon),
    ):
        daemon.wait_http(20)
        prometheus.wait_ready()
        yield daemon


def served_sensor_config(tmp_path: Path, url: str) -> Path:
    """A file of the sensor behind the serial server at ``url`` (stale after 1.5 s, its
    reopens backed off from 0.1 s up to 0.5 s) and a simulated sensor beside it, which keeps
    the reader's housekeeping at its one-second pace."""
    config = tmp_path / "sensord.toml"
    config.write_text(
        f'[[sensors]]\nname = "{SENSOR}"\nport = "{url}"\nformat = "value"\n'
        "stale_after_s = 1.5\nreconnect = { initial_delay_s = 0.1, max_delay_s = 0.5 }\n"
        '  [[sensors.channels]]\n  name = "level"\n'
        '[[sensors]]\nname = "sim"\nport = "sim://sim"\nformat = "value"\n'
        '  [[sensors.channels]]\n  name = "v"\n'
    )
    return config


#: The ``for:`` of the alerts in the Prometheus of each test below that takes one from
#: ``warm_prometheus``.
WARM_FOR = {"idle": "6s", "refusing": "6s", "hanging-up": "3s", "told": "3s"}


@pytest.fixture(scope="module", autouse=True)
def warm_prometheus(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, tuple[Prometheus, int]]]:
    """For each test of ``WARM_FOR``, a Prometheus of its own and the port it scrapes (the
    test's daemon listens there), all started with the module's first test. Prometheus scrapes
    a target first at its first update of the targets, about 5 s after it starts (its target
    discovery hands on changes at most every 5 s): each test would wait that long for the
    first scrape of its daemon. Until the test's daemon starts, the target is down (``up``
    0, and the instance's ``SensordDown`` goes pending and fires), which these tests do not
    read: only their sensor's series and alerts."""
    warm = {}
    for name, test_for in WARM_FOR.items():
        tmp = tmp_path_factory.mktemp(f"prometheus-{name}")
        port = free_port()
        warm[name] = (Prometheus(prometheus_config(tmp, port, test_for), tmp), port)
    try:
        yield warm
    finally:
        for prometheus, _ in warm.values():
            prometheus.stop()


class IdleClosingServer:
    """A serial server on 127.0.0.1 with an inactivity timeout (a Moxa NPort's inactivity
    time) whose device is dead: it accepts a connection, passes nothing on, and closes it
    ``idle_s`` after it was accepted; then, with ``refuse_s``, it refuses connections (does
    not listen) for that long, as a server that resets its serial port after a close."""

    def __init__(self, idle_s: float, refuse_s: float = 0.0) -> None:
        self.idle_s = idle_s
        self.refuse_s = refuse_s
        self.accepted = 0
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        self.url = f"socket://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="idle-server", daemon=True)

    @staticmethod
    def _listen(port: int) -> socket.socket:
        listener = socket.create_server(("127.0.0.1", port))
        listener.settimeout(0.05)
        return listener

    def __enter__(self) -> IdleClosingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            for client in accepted_clients(self._listener, self._stop):
                self.accepted += 1
                if not self.refuse_s:
                    threading.Timer(self.idle_s, client.close).start()
                    continue
                self._stop.wait(self.idle_s)
                client.close()
                self._listener.close()
                if self._stop.wait(self.refuse_s):
                    return
                self._listener = self._listen(self.port)
                break


def test_stale_alert_fires_for_a_dead_device_behind_a_server_that_ends_idle_connections(
    tmp_path: Path, warm_prometheus: dict[str, tuple[Prometheus, int]]
) -> None:
    """A serial server that ends each connection after 2.5 s without traffic (past
    stale_after_s, 1.5 s, and past the 2 s after which a connection's end is an inactivity
    timeout's), in front of a dead device: sensord reconnects every few seconds, and the
    sensor must stay stale across the reconnects for the stale alert (``for:`` 6 s here,
    over two reconnects) to go pending and fire, and the down alert never. A sensor up at each reopen, or down between the
    connections, would reset the alert's pending state at every one. A simulated sensor
    beside it keeps the reader's housekeeping at its one-second pace."""
    prometheus, port = warm_prometheus["idle"]
    with IdleClosingServer(idle_s=2.5) as server:
        config = served_sensor_config(tmp_path, server.url)
        with served_and_watched(config, tmp_path, prometheus, port) as daemon:

            def reconnects() -> float:
                return daemon.scrape().get("sensord_serial_reconnects_total", 0.0, sensor=SENSOR)

            def stale_alert(state: str) -> bool:
                alerts = prometheus.alerts("SensordSensorStale", sensor=SENSOR)
                return any(a["state"] == state for a in alerts)

            wait_for(lambda: stale_alert("pending"), 20, "SensordSensorStale pending", 0.1)
            pending_at = reconnects()
            wait_for(lambda: stale_alert("firing"), 25, "SensordSensorStale firing", 0.1)
            assert reconnects() - pending_at >= 2  # pending across two reconnects at least
            assert prometheus.alerts("SensordSensorDown", sensor=SENSOR) == []
            status = daemon.status()["sensors"][SENSOR]
            assert status["state"] == "stale"
            assert status["frames"] == 0
            assert status["silent_reconnects"] == 0  # the server ended them, not sensord
            assert "inactivity timeout" in status["hint"], status["hint"]
            assert server.accepted >= 3


def test_stale_alert_fires_behind_a_server_quicker_than_stale_after_that_refuses_a_while(
    tmp_path: Path, warm_prometheus: dict[str, tuple[Prometheus, int]]
) -> None:
    """A serial server whose inactivity timeout (1 s) is shorter than the sensor's
    stale_after_s (1.5 s), and which refuses new connections for 0.6 s after each close (the
    first reopen after each, due within the 0.5 s backoff cap, is refused), in front of a
    dead device: the sensor's staleness goes on across the connections that bring nothing,
    so it is stale 1.5 s after the first open and stays stale across every close, refused
    reopen and reopen, and the stale alert (``for:`` 6 s here) goes pending and fires. A
    sensor up at each reopen, or down at each refusal, would reset its pending state. A
    simulated sensor beside it keeps the reader's housekeeping at its one-second pace."""
    prometheus, port = warm_prometheus["refusing"]
    with IdleClosingServer(idle_s=1.0, refuse_s=0.6) as server:
        config = served_sensor_config(tmp_path, server.url)
        with served_and_watched(config, tmp_path, prometheus, port) as daemon:

            def stale_alert(state: str) -> bool:
                alerts = prometheus.alerts("SensordSensorStale", sensor=SENSOR)
                return any(a["state"] == state for a in alerts)

            wait_for(lambda: stale_alert("pending"), 20, "SensordSensorStale pending", 0.1)
            accepted_at = server.accepted
            wait_for(lambda: stale_alert("firing"), 20, "SensordSensorStale firing", 0.1)
            assert server.accepted - accepted_at >= 2  # pending across two reconnects
            down = prometheus.alerts("SensordSensorDown", sensor=SENSOR)
            assert not [a for a in down if a["state"] == "firing"], down
            up = prometheus.query(f'sensord_sensor_up{{sensor="{SENSOR}"}}')
            assert [r["value"][1] for r in up] == ["0"], up
            status = daemon.status()["sensors"][SENSOR]
            assert status["state"] == "stale"
            assert status["frames"] == 0
            assert status["open_failures"] >= 2  # the refused reopens
            assert "inactivity timeout" in status["hint"], status["hint"]


def test_no_stale_alert_for_a_server_that_hangs_up_at_once(
    tmp_path: Path, warm_prometheus: dict[str, tuple[Prometheus, int]]
) -> None:
    """A server that accepts each connection and ends it 0.2 s later, before any byte (an ssh
    or stunnel forward whose far end is down: the close comes a round trip after the accept,
    after the open's wait for a refusal, here 0.05 s): each connection is as good as a
    refused one, so the sensor is down across them (not up for the moment each lasts: no
    connection lasts the 0.5 s that shows the server serves), never stale: its staleness does not go on across connections the server did not serve, and
    the stale alert, whose triage is the device's, neither goes pending nor fires, while
    sensord reconnects with the backoff (every half second here) for longer than the alert's
    ``for:`` (3 s). ``/status`` says down, with the hang-up as its error and no stale hint,
    and the state lines say down once, after the first open.
    A simulated sensor beside it keeps the reader's housekeeping at its one-second pace."""
    prometheus, port = warm_prometheus["hanging-up"]
    with IdleClosingServer(idle_s=0.2) as server:
        config = served_sensor_config(tmp_path, server.url)
        with served_and_watched(config, tmp_path, prometheus, port) as daemon:
            down = f'sensord_sensor_state{{sensor="{SENSOR}",state="down"}}'
            wait_for(lambda: bool(prometheus.query(down)), 20, "the sensor's state scraped", 0.1)
            time.sleep(5.0)  # the alert's for: and more, from 1.5 s after the first open
            stale = f'max_over_time(sensord_sensor_state{{sensor="{SENSOR}",state="stale"}}[1h])'
            assert [r["value"][1] for r in prometheus.query(stale)] == ["0"]
            assert prometheus.alerts("SensordSensorStale", sensor=SENSOR) == []
            assert server.accepted >= 6
            status = daemon.status()["sensors"][SENSOR]
            assert status["state"] == "down", status["state"]
            assert "hung up" in status["last_error"], status["last_error"]
            assert status.get("hint") is None, status["hint"]
            states = [e["state"] for e in daemon.events("sensor state") if e["sensor"] == SENSOR]
            assert states == ["up", "down"], states  # the first open, its end


def told_config(tmp_path: Path, console: Path, soil: Path) -> Path:
    """Sensor "console" on a port another process reads too, and "soil", whose every line
    ``parse.ignore`` names (the README's TEROS 12 ignores ``00000`` and ``0``)."""
    config = tmp_path / "sensord.toml"
    config.write_text(
        f'[[sensors]]\nname = "console"\nport = "{console}"\nformat = "value"\n'
        'simulate = "never"\n  [[sensors.channels]]\n  name = "v"\n'
        f'[[sensors]]\nname = "soil"\nport = "{soil}"\nformat = "value"\nsimulate = "never"\n'
        "parse = { ignore = ['^0$', '^0[0-9]{4}$'] }\n"
        '  [[sensors.channels]]\n  name = "vwc"\n'
    )
    return config


def test_a_shared_port_and_frames_all_ignored_fire_their_alerts(
    tmp_path: Path, warm_prometheus: dict[str, tuple[Prometheus, int]]
) -> None:
    """Two conditions of a sensor that stays up, which the journal's warnings and the
    ``/status`` hints tell of, through a real Prometheus with the shipped rules (``for:``
    3 s here): a port that another process reads too (a getty's stand-in, started before
    the daemon) fires SensordPortShared for its sensor; a sensor whose every line
    ``parse.ignore`` names fires SensordSensorFramesIgnored: an SDI-12 sensor that answers
    ``0M!`` with ``00000`` and ``0D0!`` with ``0`` (as a Campbell RainVUE10 did,
    EnviroDIY/ModularSensors issue 416). Neither fires for the other sensor. The dashboard's
    timeline of shared ports shows the one port shared."""
    prometheus, port = warm_prometheus["told"]
    with (
        symlinked_pty(tmp_path, "ttyCONSOLE") as console,
        symlinked_pty(tmp_path, "ttySOIL") as soil,
        reading_port(str(console.link)),
    ):
        stop = threading.Event()

        def feed() -> None:
            while not stop.wait(0.1):
                with contextlib.suppress(OSError):
                    console.pty.write(b"21.5\n")
                    soil.pty.write(b"00000\n0\n")

        feeder = threading.Thread(target=feed, name="devices", daemon=True)
        feeder.start()
        try:
            config = told_config(tmp_path, console.link, soil.link)
            # the search after a port's first open waits a minute by default
            prelude = "import sensord.shared_port\nsensord.shared_port.FIRST_SEARCH_S = 0.0"
            with served_and_watched(config, tmp_path, prometheus, port, prelude) as daemon:

                def firing(name: str) -> list[dict[str, Any]]:
                    return [a for a in prometheus.alerts(name) if a["state"] == "firing"]

                wait_for(lambda: bool(firing("SensordPortShared")), 30, "SensordPortShared", 0.1)
                wait_for(
                    lambda: bool(firing("SensordSensorFramesIgnored")),
                    30,
                    "SensordSensorFramesIgnored",
                    0.1,
                )
                assert [a["labels"]["sensor"] for a in firing("SensordPortShared")] == ["console"]
                # the dashboard's timeline of shared ports shows it for that sensor alone
                shared = dict(dashboard_queries("127.0.0.1"))["Shared ports"]
                shown = {s["metric"]["sensor"]: s["value"][1] for s in prometheus.query(shared)}
                assert shown == {"console": "1", "soil": "0"}, shown
                ignored = firing("SensordSensorFramesIgnored")
                assert [a["labels"]["sensor"] for a in ignored] == ["soil"]
                assert "Check first:" in ignored[0]["annotations"]["description"]

                # the hint comes once every frame was ignored for stale_after_s
                def hint(sensor: str) -> str:
                    return str(daemon.status()["sensors"][sensor]["hint"])

                wait_for(lambda: "parse.ignore names every one" in hint("soil"), 20, "soil's hint")
                assert daemon.status()["sensors"]["soil"]["state"] == "up"
                assert "is open in another process too" in hint("console")
        finally:
            stop.set()
            feeder.join(5)
