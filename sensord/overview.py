"""``sensord status``: the running daemon's ``/status`` as a table a person reads at a glance.

One line for the daemon (version, state, uptime, configuration, a restart the installed
package needs, the log lines it dropped), one line per sensor in the order of their names,
a number in a name taken as a number (``pm2`` before ``pm10``) (state and for how long, the
age of its last frame, its frames and rejected frames and readings, not counting the values
the device marks as not measured, its port), a line under the table that counts the sensors
in each state and the simulated ones, and under it, for each sensor that is not up or has a
hint, why (its hint, else its last error, else how long it warms up still); for each
``--workers`` worker whose sensors are listed with its state alone (down, starting, not
responding), its pid and sensors; after a reload that did not apply, why. The exit code
tells a script whether all is well: every sensor up, none with a hint (every frame
rejected, a simulation standing in for an absent device), and the last reload applied.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections import Counter
from typing import Any

from sensord.client import at_path, credentials_hint, fetch, local_url
from sensord.config_tables import HttpConfig
from sensord.errors import EXIT_INVALID, EXIT_OK
from sensord.names import natural_key
from sensord.ports import PRESENT_NOW

__all__ = ["EXIT_NOT_ALL_UP", "duration", "format_status", "last_frame", "status"]

#: Not every sensor is up or reading, the last reload failed, the daemon is starting or
#: stopping, or it cannot be reached.
EXIT_NOT_ALL_UP = EXIT_INVALID

#: Where the why-lines under the table wrap.
WIDTH = 100
#: The table's columns of counts (frames, rejected), aligned to the right as numbers are.
_NUMBER_COLUMNS = (4, 5)


def status(http: HttpConfig, url: str | None = None, *, as_json: bool = False) -> int:
    """Print the daemon's status (from ``url``, the daemon's address or ``/status`` URL, else
    the daemon ``http`` describes, over loopback); the exit code."""
    target = local_url(http, "/status") if url is None else at_path(url, "/status")
    body, problem = fetch(http, target)
    if problem:
        print(f"sensord: {problem}{credentials_hint(http, problem)}", file=sys.stderr)
        return EXIT_NOT_ALL_UP
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("sensors"), dict):
        print(f"sensord: {target}: not sensord's /status", file=sys.stderr)
        return EXIT_NOT_ALL_UP
    print(json.dumps(data, indent=2, sort_keys=True) if as_json else format_status(data))
    sensors = data["sensors"].values()
    every_up = all(isinstance(s, dict) and s.get("up") is True for s in sensors)
    reading = not any(isinstance(s, dict) and s.get("hint") for s in sensors)
    applied = data.get("config_last_reload_successful") is not False
    healthy = data.get("state") == "running" and every_up and reading and applied
    return EXIT_OK if healthy else EXIT_NOT_ALL_UP


def rejections(parse_errors: dict[str, Any]) -> int:
    """A sensor's frames and readings rejected: its parse errors but ``invalid``, the values
    the device marks as not measured (a Davis console's dashes, SunSpec's 0x8000 at night),
    which are no damage."""
    return sum(n for reason, n in parse_errors.items() if reason != "invalid" and _count(n))


def _count(n: Any) -> bool:
    return isinstance(n, int) and not isinstance(n, bool)


def format_status(data: dict[str, Any]) -> str:
    """The table of a ``/status`` body (see the module's docstring)."""
    head = [
        f"sensord {data.get('version', '?')}",
        str(data.get("state", "?")),
        f"up {duration(data.get('uptime_s'))}",
        f"pid {data.get('pid', '?')}",
        f"config {data.get('config', '?')}",
    ]
    if data.get("config_last_reload_successful") is False:
        head.append("last reload FAILED (the previous configuration runs)")
    if data.get("restart_needed"):
        head.append(f"restart needed: {data.get('installed_version', '?')} is installed")
    if _count(dropped := data.get("log_lines_dropped")) and dropped:
        told = "line dropped (the log stream did not take it)"
        if dropped != 1:
            told = "lines dropped (the log stream did not take them)"
        head.append(f"{dropped} log {told}")
    rows = [("SENSOR", "STATE", "FOR", "LAST FRAME", "FRAMES", "REJECTED", "PORT")]
    why: list[str] = []
    reasons: list[str] = []  # the sensors' why-lines, unwrapped
    states: dict[str, int] = {}
    simulated = 0
    for name, sensor in _by_name(data["sensors"]):
        if not isinstance(sensor, dict):
            continue
        state = str(sensor.get("state", "?"))
        states[state] = states.get(state, 0) + 1
        if sensor.get("simulated"):
            simulated += 1
            state += " (simulated)"
        warming = sensor.get("warmup_left_s")
        if (
            not sensor.get("up")  # down or stale: it warms up (anew) once its frames come
            or not isinstance(warming, int | float)
            or isinstance(warming, bool)
            or warming <= 0
        ):
            warming = None
        else:
            state += " (warming up)"
        rejected = sensor.get("parse_errors")
        rows.append(
            (
                str(name),
                state,
                duration(sensor.get("state_for_s")),
                last_frame(sensor),
                str(sensor.get("frames", "-")),
                str(rejections(rejected)) if isinstance(rejected, dict) else "-",
                str(sensor.get("port", "-")),
            )
        )
        text = sensor.get("hint") or (None if sensor.get("up") else sensor.get("last_error"))
        if not text and warming is not None:
            text = (
                f"warming up for {duration(warming)} more (warmup_s): its frames are read, "
                "its readings published once the device has settled"
            )
        if text:
            # the line names the sensor already: not again as the error's own prefix
            reasons.append(f"{name}: {str(text).removeprefix(f'sensor {name!r}: ')}")
    for line in _present_once(reasons):
        why.extend(_wrapped(line))
    for line in _workers_not_running(data):
        why.extend(_wrapped(line))
    if data.get("config_last_reload_successful") is False:
        errors = data.get("config_last_reload_errors")
        for error in errors if isinstance(errors, list) else []:
            why.extend(_wrapped(f"last reload: {error}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(head)]
    lines += [
        "  ".join(
            [
                *(
                    c.rjust(w) if i in _NUMBER_COLUMNS else c.ljust(w)
                    for i, (c, w) in enumerate(zip(row[:-1], widths, strict=True))
                ),
                row[-1],
            ]
        )
        for row in rows
    ]
    lines.append(_tally(states, simulated))
    if why:
        lines += ["", "why:", *why]
    return "\n".join(line.rstrip() for line in lines)


#: The order of the states in the tally under the table; any other comes after them.
_TALLY_ORDER = ("up", "opening", "stale", "down", "stopped")


def _tally(states: dict[str, int], simulated: int) -> str:
    """The line under the table: the sensors, how many are in each state and how many are
    simulated (``300 sensors: 296 up, 3 stale, 1 down; 240 simulated``), so a long table
    reads at a glance."""
    total = sum(states.values())
    order = sorted(states, key=lambda s: (_TALLY_ORDER.index(s) if s in _TALLY_ORDER else 99, s))
    text = f"{total} sensor{'s' if total != 1 else ''}"
    if states:
        text += ": " + ", ".join(f"{states[state]} {state}" for state in order)
    if simulated:
        text += f"; {simulated} simulated"
    return text


def _present_once(reasons: list[str]) -> list[str]:
    """The sensors' why-lines ``reasons``, a list of the links or devices present now
    (:data:`~sensord.ports.PRESENT_NOW`) that more than one of them holds (the sensors of a
    USB hub that is out) shown once, under them as ``[1] present now: LIST``, each line naming
    it ``[1]``."""
    found = [PRESENT_NOW.search(reason) for reason in reasons]
    held = Counter(match["present"] for match in found if match is not None)
    shared = {present: i for i, present in enumerate((p for p, n in held.items() if n > 1), 1)}
    if not shared:
        return reasons
    lines = []
    for reason, match in zip(reasons, found, strict=True):
        if match is None or match["present"] not in shared:
            lines.append(reason)
            continue
        start, end = match.span("present")
        lines.append(f"{reason[:start]}[{shared[match['present']]}]{reason[end:]}")
    return lines + [f"[{i}] present now: {present}" for present, i in shared.items()]


def _workers_not_running(data: dict[str, Any]) -> list[str]:
    """For a ``--workers`` primary's status: a line for each worker whose sensors are listed
    with its state alone (down, starting, not responding), naming its pid and sensors."""
    held: dict[int, list[str]] = {}
    states: dict[int, str] = {}
    for name, sensor in _by_name(data["sensors"]):
        if isinstance(sensor, dict) and "frames" not in sensor and "worker" in sensor:
            held.setdefault(sensor["worker"], []).append(str(name))
            states[sensor["worker"]] = str(sensor.get("state", "?")).removeprefix("worker ")
    workers = {w.get("index"): w for w in data.get("workers") or () if isinstance(w, dict)}
    lines = []
    for index, names in sorted(held.items()):
        worker = workers.get(index, {})
        facts = [f"pid {worker.get('pid') or '-'}"]
        restarts = worker.get("restarts")
        if restarts:
            facts.append(f"restarted {restarts} time{'s' if restarts != 1 else ''}")
        lines.append(
            f"worker {index} ({', '.join(facts)}): {states[index]}; its sensors read nothing "
            f"meanwhile: {', '.join(names)}"
        )
    return lines


def _by_name(sensors: dict[str, Any]) -> list[tuple[str, Any]]:
    """The entries of ``/status`` ``sensors`` in the order a person looks a name up in
    (``pm2`` before ``pm10``: :func:`~sensord.names.natural_key`)."""
    return sorted(sensors.items(), key=lambda item: natural_key(str(item[0])))


def _wrapped(text: str) -> list[str]:
    """A why-line wrapped at :data:`WIDTH`, its continuation indented."""
    # a device path or URL is never cut: at hyphens it would read as two
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent="  ",
        subsequent_indent="    ",
        break_on_hyphens=False,
        break_long_words=False,
    )


def last_frame(sensor: dict[str, Any]) -> str:
    """How long ago the sensor's last frame came: ``never`` before its first, ``-`` for a
    sensor listed without counts (a worker that is down)."""
    if "frames" not in sensor:
        return "-"
    age = sensor.get("last_frame_age_s")
    return "never" if age is None else f"{duration(age)} ago"


def duration(seconds: object) -> str:
    """``seconds`` as a person reads it: ``0.3 s``, ``42 s``, ``5m03s``, ``3h12m``, ``2d04h``;
    ``-`` for no number."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
