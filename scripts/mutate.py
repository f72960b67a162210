"""Mutation testing of sensord's core modules with mutmut, one module at a time.

``scripts/mutate`` runs this file in the project's virtual environment::

    scripts/mutate                 every module in MODULES
    scripts/mutate filter window   only these
    scripts/mutate --list          the module table

For each module it copies ``sensord/``, ``tests/`` and ``pyproject.toml`` into
``build/mutate/<name>/``, adds a ``[tool.mutmut]`` table that mutates only that module's file
and runs only its fast tests, and runs ``mutmut run --max-children 1`` there (one worker: the
machine is shared). It then reads ``mutmut results`` and prints killed / survived /
equivalent and the score ``killed / (all - equivalent)``. The work folder is kept, so
``cd build/mutate/<name> && ../../../.venv-mutate/bin/mutmut show MUTANT`` shows a survivor's diff.

Two rewrites are made to the copy only, so that mutmut reaches the code that matters:

* mutmut does not mutate decorated functions, and every stage's ``process`` is decorated with
  ``@timed_step``. The copy defines ``process`` undecorated and applies the decorator after
  the class (``Cls.process = timed_step(Cls.process)``), which builds the same object.
* a module entry may name a ``region``: a line (a regex) from which the rest of the file is
  not mutated (for a file part of which its fast tests do not exercise).

Equivalent mutants are listed in ``docs/testing.md`` as lines ``- `MUTANT`: reason``; they
are counted apart and left out of the score.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutate"
MUTMUT = ROOT / ".venv-mutate" / "bin" / "mutmut"
EQUIVALENTS_DOC = ROOT / "docs" / "testing.md"


@dataclass(frozen=True)
class Module:
    """One mutated file and the fast tests that guard it (paths relative to the repo)."""

    source: str
    tests: tuple[str, ...]
    region_end: str | None = None  # regex of the first line that is not mutated
    #: tests that inspect code objects, which mutmut's trampolines replace
    deselect: tuple[str, ...] = ()


#: The fast tests of the binary frames' codec, which guard each of its modules (``frames_*``).
FRAME_TESTS = (
    "tests/test_formats_frames.py",
    "tests/test_formats_roundtrip.py",
    "tests/test_formats_pms_variants.py",
    "tests/test_frames_commands.py",
    "tests/test_frames_fast.py",
    "tests/test_frames_field_captures.py",
    "tests/test_frames_field_quirks.py",
    "tests/test_frames_generic.py",
    "tests/test_frames_headless.py",
    "tests/test_frames_kinds.py",
    "tests/test_frames_not_available.py",
    "tests/test_frames_setup_bytes.py",
    "tests/test_frames_spec_edges.py",
    "tests/test_frames_umb_han.py",
)

#: name -> module. Paths are the ones of this tree; update them when files move.
MODULES: dict[str, Module] = {
    "framing": Module(
        "sensord/formats/lines.py", ("tests/test_formats_lines.py", "tests/test_fast_paths.py")
    ),
    "nmea": Module(
        "sensord/formats/nmea.py",
        (
            "tests/test_formats_nmea.py",
            "tests/test_formats_nmea_damage.py",
            "tests/test_formats.py",
            "tests/test_formats_roundtrip.py",
        ),
    ),
    "nmea-fields": Module(
        "sensord/formats/nmea_fields.py",
        (
            "tests/test_formats_nmea.py",
            "tests/test_formats.py",
            "tests/test_formats_roundtrip.py",
            "tests/test_formats_nmea_units.py",
            "tests/test_formats_nmea_receivers.py",
        ),
    ),
    "nmea-layouts": Module(
        "sensord/formats/nmea_layouts.py",
        (
            "tests/test_formats_nmea.py",
            "tests/test_formats_nmea_units.py",
            "tests/test_formats_nmea_receivers.py",
            "tests/test_formats_nmea_damage.py",
        ),
    ),
    "nmea-validity": Module(
        "sensord/formats/nmea_validity.py",
        (
            "tests/test_formats_nmea.py",
            "tests/test_formats_nmea_receivers.py",
            "tests/test_formats_nmea_damage.py",
        ),
    ),
    "nmea-encode": Module(
        "sensord/formats/nmea_encode.py",
        ("tests/test_formats_nmea.py", "tests/test_formats.py", "tests/test_formats_roundtrip.py"),
    ),
    "nmea-satellites": Module(
        "sensord/formats/nmea_satellites.py",
        (
            "tests/test_formats_nmea.py",
            "tests/test_formats_nmea_damage.py",
            "tests/test_formats_nmea_receivers.py",
            "tests/test_formats_nmea_units.py",
            "tests/test_formats_roundtrip.py",
        ),
    ),
    "nmea-framing": Module(
        "sensord/formats/nmea_framer.py",
        (
            "tests/test_formats_nmea.py",
            "tests/test_formats.py",
            "tests/test_formats_roundtrip.py",
            "tests/test_formats_nmea_stream_edges.py",
        ),
    ),
    "frames": Module("sensord/formats/frames.py", FRAME_TESTS),
    "frames-check": Module("sensord/formats/frames_check.py", FRAME_TESTS),
    "frames-decode": Module("sensord/formats/frames_decode.py", FRAME_TESTS),
    "frames-encode": Module("sensord/formats/frames_encode.py", FRAME_TESTS),
    "frames-layout": Module("sensord/formats/frames_layout.py", FRAME_TESTS),
    "frames-checksums": Module("sensord/formats/frames_checksums.py", FRAME_TESTS),
    "frames-stuffing": Module("sensord/formats/frames_stuffing.py", FRAME_TESTS),
    "text-formats": Module(
        "sensord/formats/text.py",
        (
            "tests/test_formats.py",
            "tests/test_fast_paths.py",
            "tests/test_formats_instruments.py",
            "tests/test_formats_blocks.py",
            "tests/test_config_errors.py",
        ),
    ),
    "blocks": Module(
        "sensord/formats/blocks.py",
        ("tests/test_blocks.py", "tests/test_blocks_gill.py", "tests/test_formats_dsmr_meters.py"),
        deselect=("tests/test_blocks.py::test_a_meter_and_a_charger_on_ptys_through_the_daemon",),
    ),
    "dsmr": Module(
        "sensord/formats/dsmr.py",
        (
            "tests/test_formats_dsmr.py",
            "tests/test_formats_dsmr_meters.py",
            "tests/test_formats_roundtrip.py",
        ),
    ),
    "filter": Module(
        "sensord/filter.py",
        ("tests/test_filter.py", "tests/test_pipeline.py", "tests/test_config_effects.py"),
    ),
    "normalize": Module(
        "sensord/normalize.py",
        ("tests/test_normalize.py", "tests/test_pipeline.py", "tests/test_config_effects.py"),
    ),
    "window": Module(
        "sensord/window.py",
        ("tests/test_window.py", "tests/test_pipeline.py", "tests/test_config_effects.py"),
    ),
    "stage-accounting": Module(
        "sensord/stage.py",
        ("tests/test_metrics_steps.py", "tests/test_pipeline.py", "tests/test_fast_paths.py"),
        deselect=(
            "tests/test_metrics_steps.py::test_an_uninstrumented_stage_returns_the_plain_generator",
        ),
    ),
    "retry": Module("sensord/retry.py", ("tests/test_retry.py", "tests/test_config_effects.py")),
    "warm-up": Module(
        "sensord/warm_up.py",
        (
            "tests/test_setup_reruns.py",
            "tests/test_frames_field_quirks.py",
            "tests/test_frames_commands.py",
            "tests/test_faults.py",
            "tests/test_state_flapping.py",
        ),
    ),
    "boots": Module(
        "sensord/boots.py",
        (
            "tests/test_frames_field_captures.py",
            "tests/test_frames_field_quirks.py",
            "tests/test_setup_reruns.py",
        ),
    ),
    "pauses": Module(
        "sensord/pauses.py",
        (
            "tests/test_frames_oncall.py",
            "tests/test_frames_field_quirks.py",
            "tests/test_stale_hints.py",
        ),
    ),
    **{
        name: Module(
            f"sensord/{name.replace('-', '_')}.py",
            ("tests/test_config.py", "tests/test_schema.py", "tests/test_config_effects.py"),
        )
        for name in (
            "config",
            "config-tables",
            "config-sensor-table",
            "config-sensor",
            "config-checks",
            "config-messages",
        )
    },
}

#: Besides sensord/ and tests/, what the tests read from the tree.
ALSO_COPY = ("systemd", "scripts", "docs", "README.md")

#: mutmut statuses that mean a test noticed the mutant.
KILLED = {"killed", "timeout", "segfault", "caught by type check"}


def undecorate_steps(text: str) -> str:
    """Move ``@timed_step`` off methods into an assignment after the module (see above)."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    drop: set[int] = set()
    after: list[str] = []
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for fn in cls.body:
            if not isinstance(fn, ast.FunctionDef):
                continue
            for dec in fn.decorator_list:
                if isinstance(dec, ast.Name) and dec.id == "timed_step":
                    drop.add(dec.lineno - 1)
                    after.append(f"{cls.name}.{fn.name} = timed_step({cls.name}.{fn.name})\n")
    kept = [line for i, line in enumerate(lines) if i not in drop]
    return "".join(kept) + ("\n\n" + "".join(after) if after else "")


def fence_region(text: str, region_end: str) -> str:
    """Wrap everything from the first line matching ``region_end`` in a no-mutate block."""
    lines = text.splitlines(keepends=True)
    pattern = re.compile(region_end)
    for i, line in enumerate(lines):
        if pattern.search(line):
            return "".join(
                [*lines[:i], "# pragma: no mutate start\n", *lines[i:], "# pragma: no mutate end\n"]
            )
    raise SystemExit(f"mutate: no line matches {region_end!r}")


def mutmut_table(module: Module) -> str:
    tests = ", ".join(json.dumps(t) for t in module.tests)
    args = ["-p", "no:cacheprovider", "-q", "-m", "not slow"]
    for test in module.deselect:
        args += ["--deselect", test]
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["sensord"]\n'
        f"also_copy = {json.dumps(list(ALSO_COPY))}\n"
        f"only_mutate = [{json.dumps(module.source)}]\n"
        f"pytest_add_cli_args_test_selection = [{tests}]\n"
        f"pytest_add_cli_args = {json.dumps(args)}\n"
    )


def prepare(name: str, module: Module) -> Path:
    work = WORK / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis")
    shutil.copytree(ROOT / "sensord", work / "sensord", ignore=ignore)
    shutil.copytree(ROOT / "tests", work / "tests", ignore=ignore)
    for extra in ALSO_COPY:  # files the tests read (the example config, the unit file)
        source = ROOT / extra
        if source.is_dir():
            shutil.copytree(source, work / extra, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, work / extra)
    pyproject = (ROOT / "pyproject.toml").read_text()
    (work / "pyproject.toml").write_text(pyproject + mutmut_table(module))
    target = work / module.source
    text = undecorate_steps(target.read_text())
    if module.region_end is not None:
        text = fence_region(text, module.region_end)
    target.write_text(text)
    return work


def equivalents() -> set[str]:
    """The mutants docs/testing.md lists as equivalent: every one an entry names before its
    reason (``- `A`, `B`: reason``, the names over one line or several)."""
    if not EQUIVALENTS_DOC.exists():
        return set()
    found: set[str] = set()
    for names in re.findall(r"^- ((?:`sensord\.[^`]+`,?\s*)+):", EQUIVALENTS_DOC.read_text(), re.M):
        found.update(re.findall(r"`(sensord\.[^`]+__mutmut_\d+)`", names))
    return found


def results(work: Path) -> dict[str, str]:
    out = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    statuses: dict[str, str] = {}
    for line in out.splitlines():
        key, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in key:
            statuses[key] = status
    return statuses


def run(name: str, module: Module, known_equivalent: set[str]) -> dict[str, object]:
    work = prepare(name, module)
    with (work / "mutmut.log").open("w") as log:
        subprocess.run(
            [str(MUTMUT), "run", "--max-children", "1"],
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )
    statuses = results(work)
    killed = sorted(m for m, s in statuses.items() if s in KILLED)
    equivalent = sorted(m for m, s in statuses.items() if s not in KILLED and m in known_equivalent)
    survived = sorted(m for m, s in statuses.items() if s not in KILLED and m not in equivalent)
    scored = len(killed) + len(survived)
    summary: dict[str, object] = {
        "module": name,
        "source": module.source,
        "mutants": len(statuses),
        "killed": len(killed),
        "survived": len(survived),
        "equivalent": len(equivalent),
        "score": round(100.0 * len(killed) / scored, 1) if scored else 100.0,
        "survivors": {m: statuses[m] for m in survived},
    }
    (work / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help="names from --list (default: all)")
    parser.add_argument("--list", action="store_true", help="print the module table")
    args = parser.parse_args(argv)
    if args.list:
        for name, module in MODULES.items():
            print(f"{name:18} {module.source:30} {' '.join(module.tests)}")
        return 0
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; see --list")
    known_equivalent = equivalents()
    rows = [run(name, MODULES[name], known_equivalent) for name in args.modules or MODULES]
    print(f"{'module':18} {'mutants':>7} {'killed':>6} {'survived':>8} {'equiv':>5} {'score':>6}")
    for row in rows:
        print(
            f"{row['module']!s:18} {row['mutants']!s:>7} {row['killed']!s:>6} "
            f"{row['survived']!s:>8} {row['equivalent']!s:>5} {row['score']!s:>5}%"
        )
        survivors = row["survivors"]
        assert isinstance(survivors, dict)
        for mutant, status in survivors.items():
            print(f"    {status:10} {mutant}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
