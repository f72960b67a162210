"""Generate monitoring/grafana-dashboard.json, sensord's Grafana dashboard, from code.

The dashboard is built with Grafana's foundation SDK (the ``test`` extra pins its version, so
the output is reproducible). Edit this file, not the JSON, then run:

    scripts/dashboard            write monitoring/grafana-dashboard.json
    scripts/dashboard --check    exit 1 when the checked-in file differs from the generated one

Variables: ``datasource`` (any Prometheus), ``instance`` (one sensor host), ``sensor`` (one
sensor of that host, for the detail rows) and ``channel`` (the readings panels repeat per
channel). The overview panels show every sensor of the host. Several panels read the series of
monitoring/rules.yml, so load those rules into the Prometheus the dashboard reads.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import prometheus, stat, statetimeline, timeseries
from grafana_foundation_sdk.builders.common import (
    ReduceDataOptions,
    StackingConfig,
    VizLegendOptions,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BigValueGraphMode,
    BigValueTextMode,
    GraphDrawStyle,
    LegendDisplayMode,
    LegendPlacement,
    StackingMode,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    DynamicConfigValue,
    ValueMap,
    ValueMappingResult,
    VariableRefresh,
    VariableSort,
)

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "monitoring" / "grafana-dashboard.json"

UID = "sensord"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")

# Label selectors shared by the queries.
HOST = 'instance="$instance"'
SENSOR = f'{HOST}, sensor="$sensor"'
CHANNEL = f'{SENSOR}, channel=~"$channel"'

#: sensord_sensor_state as one number per sensor, for the state timeline (opening is 0).
STATE_CODE = (
    "sum without (state) ("
    f'sensord_sensor_state{{{HOST}, state="up"}}'
    f' or 2 * sensord_sensor_state{{{HOST}, state="stale"}}'
    f' or 3 * sensord_sensor_state{{{HOST}, state="down"}}'
    f' or 4 * sensord_sensor_state{{{HOST}, state="stopped"}}'
    ")"
)
STATES = (
    ("0", "opening", "blue"),
    ("1", "up", "green"),
    ("2", "stale", "orange"),
    ("3", "down", "red"),
    ("4", "stopped", "#808080"),
)

#: Whether each sensor's port is shared, as one number per sensor: 1 another process has its
#: device port open too, 2 its network port reaches a peer another port reaches, 3 both.
SHARED_CODE = f"sensord_port_shared{{{HOST}}} + 2 * sensord_port_peer_shared{{{HOST}}}"
SHARED = (
    ("0", "alone", "green"),
    ("1", "another process", "orange"),
    ("2", "peer reached twice", "yellow"),
    ("3", "both", "red"),
)


def query(expr: str, legend: str, ref: str = "A") -> prometheus.Dataquery:
    return (
        prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(DATASOURCE)
    )


def value_map(entries: tuple[tuple[str, str, str], ...]) -> ValueMap:
    return ValueMap(
        options={
            value: ValueMappingResult(text=text, color=color, index=i)
            for i, (value, text, color) in enumerate(entries)
        }
    )


def legend() -> VizLegendOptions:
    return (
        VizLegendOptions()
        .display_mode(LegendDisplayMode.LIST)
        .placement(LegendPlacement.BOTTOM)
        .show_legend(True)
    )


def series_panel(title: str, description: str, unit: str) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .legend(legend())
        .height(8)
        .span(12)
    )


def stat_panel(title: str, description: str, target: prometheus.Dataquery) -> stat.Panel:
    """A stat panel showing the latest value of each series (8 columns wide)."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(target)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
        .graph_mode(BigValueGraphMode.NONE)
        .height(8)
        .span(8)
    )


def variables() -> list[gd.QueryVariable | gd.DatasourceVariable]:
    def label_values(name: str, label: str, metric: str) -> gd.QueryVariable:
        return (
            gd.QueryVariable(name)
            .label(label)
            .datasource(DATASOURCE)
            .query(f"label_values({metric}, {name})")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC)
        )

    return [
        gd.DatasourceVariable("datasource").label("Data source").type("prometheus"),
        label_values("instance", "Host", "sensord_build_info"),
        label_values("sensor", "Sensor", f"sensord_sensor_up{{{HOST}}}"),
        # (a channel without a current value has a timestamp still)
        label_values("channel", "Channel", f"sensord_reading_timestamp_seconds{{{SENSOR}}}")
        .multi(True)
        .include_all(True),
    ]


def overview_panels() -> list[Any]:
    state = (
        statetimeline.Panel()
        .title("Sensor state")
        .description(
            "State of every sensor of the host: up (port open, frames fresh), stale (open, "
            "no frame for stale_after_s), down (port lost, retrying), opening, stopped."
        )
        .datasource(DATASOURCE)
        .with_target(query(STATE_CODE, "{{sensor}}"))
        .mappings([value_map(STATES)])
        .height(8)
        .span(16)
    )
    simulated = stat_panel(
        "Simulated sensors",
        "A simulated sensor exports generated readings. In production this usually means "
        'its device was missing at start and the sensor has simulate = "auto".',
        query(f"sensord_sensor_simulated{{{HOST}}}", "{{sensor}}"),
    ).mappings([value_map((("0", "device", "green"), ("1", "simulated", "red")))])
    shared = (
        statetimeline.Panel()
        .title("Shared ports")
        .description(
            "Another process has the sensor's device port open too (a serial console's "
            "login prompt, a terminal program: it takes some of the bytes; "
            "sensord_port_shared, SensordPortShared), searched again every minute and "
            "cleared once that process is gone; or its network port reaches a gateway "
            "another port of the configuration reaches too, written two ways "
            "(sensord_port_peer_shared, SensordPortPeerShared), cleared by a reload that "
            "writes them alike. The log's warning names the process or both ports."
        )
        .datasource(DATASOURCE)
        .with_target(query(SHARED_CODE, "{{sensor}}"))
        .mappings([value_map(SHARED)])
        .height(6)
        .span(24)
    )
    frames = series_panel(
        "Frames per second", "Frames cut from each sensor's byte stream.", "fps"
    ).with_target(query(f"sensor:sensord_frames:rate5m{{{HOST}}}", "{{sensor}}"))
    rejected = (
        series_panel(
            "Rejected frames and readings by reason",
            "Per second: frames (syntax, checksum, encoding, overlong, truncated, no_checksum) "
            "and readings (nonfinite, range, invalid) that sensord rejected, stacked per sensor. "
            "invalid counts frames with a value the device marks as not measured; their other "
            "values are read.",
            "short",
        )
        .with_target(
            query(
                f"sensor_reason:sensord_parse_errors:rate5m{{{HOST}}}",
                "{{sensor}} {{reason}}",
            )
        )
        .stacking(StackingConfig().mode(StackingMode.NORMAL))
    )
    reconnects = (
        series_panel(
            "Reconnects and failed opens",
            "Port reopened after being lost, or a network connection reopened after it "
            "stayed silent (over 15 minutes; more than 5 alerts as flapping), and failed open "
            "attempts per minute.",
            "short",
        )
        .with_target(
            query(
                f"sensor:sensord_serial_reconnects:increase15m{{{HOST}}}", "{{sensor}} reconnects"
            )
        )
        .with_target(
            query(
                f"rate(sensord_serial_open_failures_total{{{HOST}}}[$__rate_interval]) * 60",
                "{{sensor}} failed opens/min",
                "B",
            )
        )
    )
    reruns = series_panel(
        "Set-up re-runs",
        "Runs of the set-up commands while the port stayed open, over the last hour: the "
        "device went silent and came back, or sent frames unasked (power-cycled or reset). "
        "More than 2 in an hour on a sensor that is up alerts.",
        "short",
    ).with_target(query(f"sensor:sensord_setup_reruns:increase1h{{{HOST}}}", "{{sensor}}"))
    unchecked = series_panel(
        "Frames without checksum",
        "Fraction of the frames read without the integrity check their protocol has (NMEA "
        "sentences without *hh): their readings are unverified. 0 on a receiver that sends "
        "checksums.",
        "percentunit",
    ).with_target(query(f"sensor:sensord_frames_unchecked:ratio_rate5m{{{HOST}}}", "{{sensor}}"))
    latency = series_panel(
        "Step latency",
        "Time a pipeline step spends on one record: quantiles of the sampled histogram "
        "(1 record in metrics.step_timing_sample_every is timed).",
        "s",
    ).with_target(
        query(
            f"step:sensord_step_duration_seconds:quantile_rate5m{{{HOST}}}",
            "{{step}} p{{quantile}}",
        )
    )
    return [state, simulated, shared, frames, rejected, reconnects, reruns, unchecked, latency]


def process_panels() -> list[Any]:
    cpu = series_panel(
        "CPU",
        "CPU time of the sensord process (with --workers: of the primary and of each worker).",
        "percentunit",
    ).with_target(
        query(
            f"rate(process_cpu_seconds_total{{{HOST}}}[$__rate_interval])",
            "{{instance}} {{worker}}",
        )
    )
    rss = series_panel(
        "Resident memory",
        "Resident set size of the process (with --workers: of the primary and of each worker).",
        "bytes",
    ).with_target(query(f"process_resident_memory_bytes{{{HOST}}}", "{{instance}} {{worker}}"))
    workers = (
        statetimeline.Panel()
        .title("Workers")
        .description(
            "With sensord run --workers N: 1 while a worker's series are in the scrape. "
            "Empty for a single process."
        )
        .datasource(DATASOURCE)
        .with_target(query(f"sensord_worker_up{{{HOST}}}", "worker {{worker}}"))
        .mappings([value_map((("0", "down", "red"), ("1", "up", "green")))])
        .height(8)
        .span(12)
    )
    restarts = series_panel(
        "Worker restarts",
        "Worker processes restarted by the primary (over 15 minutes).",
        "short",
    ).with_target(
        query(
            f"increase(sensord_worker_restarts_total{{{HOST}}}[15m])",
            "worker {{worker}}",
        )
    )
    reload = (
        stat_panel(
            "Last configuration reload",
            "Failed when the last reload was rejected: the previous configuration runs on.",
            query(f"sensord_config_last_reload_successful{{{HOST}}}", "reload"),
        )
        .mappings([value_map((("0", "failed", "red"), ("1", "ok", "green")))])
        .span(12)
    )
    version = (
        stat_panel(
            "Version",
            "The sensord version the host runs.",
            query(f"sensord_build_info{{{HOST}}}", "{{version}}"),
        )
        .text_mode(BigValueTextMode.NAME)
        .span(12)
    )
    return [cpu, rss, workers, restarts, reload, version]


def sensor_panels() -> list[Any]:
    band = [
        DynamicConfigValue(id_val="custom.fillBelowTo", value="window min"),
        DynamicConfigValue(id_val="custom.fillOpacity", value=20),
        DynamicConfigValue(id_val="custom.lineWidth", value=0),
    ]
    readings = (
        series_panel(
            "$sensor $channel",
            "The latest reading, the sliding window's mean, and its min..max as a band.",
            "short",
        )
        .with_target(query(f"sensord_reading_value{{{CHANNEL}}}", "reading", "A"))
        .with_target(query(f"sensord_window_mean{{{CHANNEL}}}", "window mean", "B"))
        .with_target(query(f"sensord_window_min{{{CHANNEL}}}", "window min", "C"))
        .with_target(query(f"sensord_window_max{{{CHANNEL}}}", "window max", "D"))
        .override_by_name("window max", band)
        .override_by_name("window min", [DynamicConfigValue(id_val="custom.lineWidth", value=0)])
        .span(24)
        .repeat("channel")
        .repeat_direction("h")
        .max_per_row(2)
    )
    drops = series_panel(
        "Dropped records by step and reason",
        "Fraction of the records entering each step that the step dropped, by reason.",
        "percentunit",
    ).with_target(
        query(
            f"sensor_step_reason:sensord_step_dropped:ratio_rate5m{{{SENSOR}}}",
            "{{step}} {{reason}}",
        )
    )
    age = (
        series_panel(
            "Seconds since the last frame",
            "The sensor goes stale when this passes its stale_after_s.",
            "s",
        )
        .with_target(query(f"sensord_sensor_last_frame_age_seconds{{{SENSOR}}}", "last frame"))
        .draw_style(GraphDrawStyle.LINE)
    )
    return [readings, drops, age]


def build() -> dict[str, Any]:
    """The dashboard as a JSON-ready dict."""
    builder = (
        gd.Dashboard("sensord")
        .uid(UID)
        .description(
            "Sensor health, readings and the daemon's own health for one sensord host. "
            "Generated by scripts/dashboard.py; needs the recording rules of "
            "monitoring/rules.yml."
        )
        .tags(["sensord"])
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .refresh("30s")
        .time("now-3h", "now")
        .timezone("browser")
        .variables(variables())  # type: ignore[arg-type]
    )
    builder.with_row(gd.Row("Sensors of $instance"))
    for panel in overview_panels():
        builder.with_panel(panel)
    builder.with_row(gd.Row("Sensor $sensor"))
    for panel in sensor_panels():
        builder.with_panel(panel)
    builder.with_row(gd.Row("sensord process"))
    for panel in process_panels():
        builder.with_panel(panel)
    encoded = JSONEncoder(sort_keys=True).encode(builder.build())
    result: dict[str, Any] = json.loads(encoded)
    return result


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare with the checked-in file, write nothing"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not args.output.exists() or args.output.read_text() != text:
            print(f"{args.output} is out of date: run scripts/dashboard", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
