"""The operator's kit in monitoring/: rules pass promtool's checks and unit tests, read only
metrics, labels and label values the daemon exports, the fleet configuration is valid, and the
dashboard is exactly what scripts/dashboard.py generates."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

from test_docs import readme_metric_labels

from sensord.errors import PARSE_ERROR_REASONS
from sensord.filter import ThresholdFilter
from sensord.modbus_state import MODBUS_ERROR_REASONS
from sensord.sensor import STATES
from sensord.sensor_snapshot import STAGE_REJECT_REASONS
from sensord.uart import LINE_ERROR_KINDS

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
        "sensord_port_shared",
        "sensord_port_peer_shared",
    ):
        assert any(needle in e for e in exprs), needle
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


#: Labels every series of the job has from its target (prometheus.yml's relabelling), and the
#: ``worker`` label of a worker's series under ``--workers``.
TARGET_LABELS = {"job", "instance", "site", "worker"}
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
#: The values the daemon gives each label with a fixed set, by metric.
LABEL_VALUES: dict[tuple[str, str], set[str]] = {
    ("sensord_sensor_state", "state"): set(STATES),
    ("sensord_parse_errors_total", "reason"): set(PARSE_ERROR_REASONS),
    ("sensord_modbus_errors_total", "reason"): set(MODBUS_ERROR_REASONS),
    ("sensord_serial_line_errors_total", "kind"): set(LINE_ERROR_KINDS),
    ("sensord_step_dropped_total", "step"): {ThresholdFilter.step},
    ("sensord_step_dropped_total", "reason"): set(STAGE_REJECT_REASONS),
    ("sensord_step_records_in_total", "step"): {ThresholdFilter.step},
}
SELECTOR = re.compile(r"(?<![\w:])([a-z_][a-z0-9_:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
CLAUSE = re.compile(r"\b(?:by|without|ignoring|on|group_left|group_right)\s*\(([^)]*)\)")
NAME = re.compile(r"(?<![\w:])([a-z_][a-z0-9_]*:[a-z0-9_:]+|sensord_[a-z0-9_]*[a-z0-9])")


@dataclass(frozen=True)
class Rule:
    """A recording rule (``record``) or an alert (``alert``) of monitoring/."""

    name: str
    record: bool
    expr: str
    labels: frozenset[str]
    annotations: str


def rule_list(name: str) -> list[Rule]:
    """The rules of ``monitoring/<name>``, read with a parser of the few shapes of line the
    files use (promtool checks their syntax)."""
    text = (MONITORING / name).read_text()
    rules = []
    for block in re.split(r"\n      - (?=record:|alert:)", text)[1:]:
        head, _, rest = block.partition("\n")
        kind, _, rule_name = head.partition(": ")
        expr = re.search(r"expr: (\|\n(?:          .*\n)+|.*\n)", block + "\n")
        assert expr is not None, rule_name
        before, _, annotations = rest.partition("annotations:")
        labels = before.partition("labels:")[2]
        rules.append(
            Rule(
                rule_name.strip(),
                kind == "record",
                expr.group(1).removeprefix("|"),
                frozenset(re.findall(r"\n +(\w+): ", labels)),
                annotations,
            )
        )
    return rules


def labels_of(name: str, exported: dict[str, set[str]], recorded: dict[str, set[str]]) -> set[str]:
    """The labels a series ``name`` of the rules may have: an exported metric's (a histogram's
    samples with ``le``), or those of what a recording rule of that name reads."""
    if name in recorded:
        return recorded[name]
    for suffix in HISTOGRAM_SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and base in exported:
            return exported[base] | ({"le"} if suffix == "_bucket" else set())
    assert name in exported, f"{name} is neither in the README's metrics table nor recorded"
    return exported[name]


def sources_of(expr: str, sources: dict[str, set[str]]) -> set[str]:
    """The exported metrics ``expr`` reads, through the recording rules it reads."""
    found: set[str] = set()
    for name in NAME.findall(expr):
        found |= sources.get(name, {name})
    return found


def check_rule(
    rule: Rule,
    exported: dict[str, set[str]],
    recorded: dict[str, set[str]],
    sources: dict[str, set[str]],
) -> list[str]:
    """What in ``rule`` names a label or a label value that the series it reads do not have."""
    name, expr = rule.name, rule.expr
    problems = []
    read = set(NAME.findall(expr))
    available = set(TARGET_LABELS)
    for series in read:
        available |= labels_of(series, exported, recorded)
    for series, matchers in SELECTOR.findall(expr):
        if series not in read:
            continue  # up{job="sensord"}: Prometheus's own
        labels = labels_of(series, exported, recorded) | TARGET_LABELS
        for label, op, value in MATCHER.findall(matchers):
            if label not in labels:
                problems.append(f"{name}: {series} has no label {label}")
                continue
            if op not in ("=", "=~"):
                continue
            for source in sources.get(series, {series}):
                known = LABEL_VALUES.get((source, label))
                wanted = set(value.split("|")) if op == "=~" else {value}
                if known is not None and not wanted <= known:
                    problems.append(f"{name}: {source} has no {label} {wanted - known}")
    for clause in CLAUSE.findall(expr):
        for label in (part.strip() for part in clause.split(",")):
            if label and label not in available:
                problems.append(f"{name}: no series it reads has the label {label}")
    for label in re.findall(r"\$labels\.(\w+)", rule.annotations):
        if label not in available:
            problems.append(f"{name}: its annotations name the label {label}, which it has not")
    return problems


def kit_problems(rules: list[Rule], exported: dict[str, set[str]]) -> list[str]:
    """Every label or label value the rules name that the series they read do not have."""
    recorded: dict[str, set[str]] = {}
    sources: dict[str, set[str]] = {}
    problems: list[str] = []
    for rule in rules:  # recording rules come first (rules.yml), in the order they use
        problems += check_rule(rule, exported, recorded, sources)
        if rule.record:
            labels = TARGET_LABELS | rule.labels
            for series in NAME.findall(rule.expr):
                labels |= labels_of(series, exported, recorded)
            recorded[rule.name] = recorded.get(rule.name, set()) | labels
            sources[rule.name] = sources.get(rule.name, set()) | sources_of(rule.expr, sources)
    return problems


def test_every_label_and_label_value_the_rules_name_is_on_the_metrics_they_read() -> None:
    """A metric or label renamed in the daemon (and so in the README's table, which the docs
    test holds to ``/metrics``), or a label value it no longer gives (a parse error reason, a
    state), leaves an alert that selects nothing and never fires, which promtool's checks and
    unit tests (written against the names of their day) do not see: every series the rules
    read is exported or recorded, every label they match, group by or name in an annotation is
    one of the series they read, and every value they match of a label with a fixed set is
    one the daemon gives."""
    rules = rule_list("rules.yml") + rule_list("alerts.yml")
    assert len([r for r in rules if not r.record]) >= 20
    assert len([r for r in rules if r.record]) >= 10
    # the labels of the README's table, which test_docs holds to what /metrics serves
    exported = readme_metric_labels()
    assert kit_problems(rules, exported) == []
    # the check sees a renamed label in a matcher, a clause and an annotation
    renamed = {'{code=~"': '{exception=~"', "without (state)": "without (status)"}
    broken = [
        replace(r, expr=_renamed(r.expr, renamed), annotations=r.annotations.replace(".kind", ".k"))
        for r in rules
    ]
    assert {p.split(":")[0] for p in kit_problems(broken, exported)} == {
        "SensordSensorDown",
        "SensordSerialLineErrors",
        "SensordModbusReadsRefused",
    }


def _renamed(text: str, names: dict[str, str]) -> str:
    for old, new in names.items():
        text = text.replace(old, new)
    return text
