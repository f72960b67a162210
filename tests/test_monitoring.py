"""The operator's kit in monitoring/: rules pass promtool's checks and unit tests, the fleet
configuration is valid, and the dashboard is exactly what scripts/dashboard.py generates."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
MONITORING = REPO / "monitoring"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    assert exe is not None, "promtool is missing: scripts/test installs Debian's prometheus"
    return subprocess.run(
        [exe, *args], cwd=MONITORING, capture_output=True, text=True, timeout=60, check=False
    )


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dashboard", REPO / "scripts" / "dashboard.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", "rules.yml", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_pass_their_promtool_unit_tests() -> None:
    result = promtool("test", "rules", "tests.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_fleet_config_is_valid() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_names_what_to_check_and_has_a_severity() -> None:
    text = (MONITORING / "alerts.yml").read_text()
    alerts = re.split(r"\n      - alert: ", text)[1:]
    assert len(alerts) >= 12
    for alert in alerts:
        name = alert.split("\n", 1)[0]
        assert re.search(r"severity: (critical|warning)\n", alert), name
        assert "summary:" in alert, name
        assert "Check first:" in alert, name
        if "sensord_sensor" in alert or "sensor:" in alert or "sensord_pipeline" in alert:
            assert "{{ $labels.sensor }}" in alert, name


def test_checked_in_dashboard_is_the_generated_one() -> None:
    generator = load_generator()
    assert (MONITORING / "grafana-dashboard.json").read_text() == generator.render(), (
        "monitoring/grafana-dashboard.json is out of date: run scripts/dashboard"
    )


def test_dashboard_has_the_variables_and_queries_of_the_kit() -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    names = [v["name"] for v in dashboard["templating"]["list"]]
    assert names == ["datasource", "instance", "sensor", "channel"]
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for needle in (
        "sensord_sensor_state",
        "sensord_window_min",
        "sensord_window_max",
        "sensor:sensord_frames:rate5m",
        "sensor_reason:sensord_parse_errors:rate5m",
        "sensord_serial_reconnects",
        "sensor:sensord_setup_reruns:increase1h",
        "sensor:sensord_frames_unchecked:ratio_rate5m",
        "step:sensord_step_duration_seconds:quantile_rate5m",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "sensord_worker_up",
    ):
        assert any(needle in e for e in exprs), needle
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
