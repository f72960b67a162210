"""What README.md, docs/*.md and the example configuration tell a user is true of the code.

Every TOML snippet of README.md and docs/*.md is a configuration that ``sensord check
--no-devices`` accepts (its ``load_config``): a whole one as it stands, a part of one completed
as the text around it says (a ``[http]`` table with a sensor, set-up keys in the sensor their
paragraph is about, a capture's sidecar as the ``[[sensors]]`` table it holds). The example
configuration, which the README calls a commented example of every key, shows every key of the
schema. Every metric the docs and the alert and recording rules name is on ``/metrics`` of a
running demo, with the labels the README's table gives.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from harness.config import schema_keys
from harness.daemon import StartDaemon
from harness.modbus import STORE_SIZE, ModbusServer
from harness.scrape import Scrape
from prometheus_client.parser import text_string_to_metric_families

from sensord import cli_parser
from sensord.config import Config, load_config
from sensord.demo import DEMO_CONFIG
from sensord.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
EXAMPLE = REPO / "systemd" / "sensord.toml"

#: A sensor for a snippet that configures no sensor of its own.
SENSOR = '[[sensors]]\nname = "probe"\nport = "sim://probe"\nformat = "value"\n'
SENSOR += 'channels = [{ name = "v" }]\n'

PMS5003 = """
[[sensors]]
name = "pms"
port = "sim://pms"
preset = "pms5003"
"""
SPS30 = r"""
[[sensors]]
name = "sps30"
port = "sim://sps30"
format = "frames"
poll = { request = '\x7e\x00\x03\x00\xfc\x7e', interval_s = 1 }
"""
SPS30_TABLES = r"""
  [sensors.frame]
  start = '\x7e\x00\x03\x00'
  length_offset = 4
  length_size = 1
  length_adjust = 2
  reply_length = 7
  end = 0x7e
  escape = 0x7d
  checksum = "ones8"
  checksum_start = 1
    [[sensors.frame.fields]]
    name = "pm2_5"
    offset = 9
    type = "f32be"
  [[sensors.channels]]
  name = "pm2_5_ug_m3"
  field = "pm2_5"
"""
#: The sensors whose keys a snippet of sensor keys alone completes, by a text the snippet holds:
#: its keys go into the table before the sensor's sub-tables. The PMS5003 for the presets'
#: set-up commands; the SPS30 of the README's frame spec table for set-up commands as bytes.
FRAGMENT_SENSORS = {'"passive_mode"': (PMS5003, ""), "send = ": (SPS30, SPS30_TABLES)}


@dataclass(frozen=True)
class Snippet:
    doc: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}"


def toml_snippets() -> list[Snippet]:
    """Every fenced ```toml block of README.md and docs/*.md, with its file and line."""
    found = []
    for path in DOCS:
        text = path.read_text()
        for match in re.finditer(r"^```toml\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Snippet(str(path.relative_to(REPO)), line, match.group(1)))
    return found


SNIPPETS = toml_snippets()


def completed(snippet: str, tls_dir: Path) -> str:
    """The whole configuration a snippet stands for (see the module's docstring); a snippet
    of sensor keys that no sensor of FRAGMENT_SENSORS takes fails the test."""
    data = tomllib.loads(snippet)
    if "sensors" in data:
        return snippet
    if "sensor" in data and "expect" in data:
        table = snippet.split("\n[expect]", 1)[0]
        table = re.sub(r"^(\s*)\[sensor\]", r"\1[[sensors]]", table, flags=re.MULTILINE)
        table = re.sub(r"\[(\[?)sensor\.", r"[\1sensors.", table)
        return table.replace("[[sensors]]\n", '[[sensors]]\nport = "sim://capture"\n', 1)
    if set(data) <= {"http", "log", "metrics", "reader", "capture"}:
        cert, key = tls_files(tls_dir)
        text = re.sub(r'tls_cert_file = "[^"]*"', f'tls_cert_file = "{cert}"', snippet)
        text = re.sub(r'tls_key_file = "[^"]*"', f'tls_key_file = "{key}"', text)
        return text + SENSOR
    for marker, (head, tail) in FRAGMENT_SENSORS.items():
        if marker in snippet:
            return head + snippet + tail
    raise AssertionError(f"no sensor in FRAGMENT_SENSORS completes this snippet:\n{snippet}")


def tls_files(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    if not cert.exists():
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-days", "2", "-subj", "/CN=localhost",
                "-keyout", str(key), "-out", str(cert),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        key.chmod(0o600)
    return cert, key


def check_snippet(snippet: str, tmp_path: Path) -> Config:
    """``sensord check --no-devices`` of the snippet completed, in a file only its owner
    and group may read (as the README says a file holding a password must be)."""
    path = tmp_path / "snippet.toml"
    path.write_text(completed(snippet, tmp_path))
    path.chmod(0o640)
    return load_config(path)


def test_the_docs_have_toml_snippets_in_each_place_they_are_expected() -> None:
    docs = {s.doc for s in SNIPPETS}
    assert {"README.md", "docs/capture.md"} <= docs
    assert len(SNIPPETS) >= 12


@pytest.mark.parametrize("snippet", SNIPPETS, ids=str)
def test_a_toml_snippet_of_the_docs_is_a_valid_configuration(
    snippet: Snippet, tmp_path: Path
) -> None:
    try:
        check_snippet(snippet.text, tmp_path)
    except ConfigError as exc:
        pytest.fail(f"{snippet}: {exc}")


def test_a_broken_snippet_of_each_kind_fails_the_check(tmp_path: Path) -> None:
    """The check is not vacuous: a key misspelt in a whole configuration, a poll command
    misspelt in a fragment, a key misspelt in a capture's sensor table and in ``[http]``,
    each fails it."""
    by_kind = {
        "whole": next(s.text for s in SNIPPETS if "[[sensors]]" in s.text),
        "fragment": next(s.text for s in SNIPPETS if s.text.startswith("setup = [")),
        "sidecar": next(s.text for s in SNIPPETS if "[expect]" in s.text),
        "http": next(s.text for s in SNIPPETS if s.text.startswith("[http]")),
    }
    broken = {
        "whole": by_kind["whole"].replace("name =", "nmae =", 1),
        "fragment": by_kind["fragment"].replace('command = "read"', 'command = "raed"', 1),
        "sidecar": by_kind["sidecar"].replace("format =", "fromat =", 1),
        "http": by_kind["http"].replace("listen =", "listne =", 1),
    }
    for kind, text in broken.items():
        assert text != by_kind[kind], kind
        check_snippet(by_kind[kind], tmp_path)
        with pytest.raises(ConfigError):
            check_snippet(text, tmp_path)


def test_a_capture_sidecar_in_the_docs_expects_only_counts_the_replay_test_compares() -> None:
    """The keys of a sidecar's ``[expect]`` are the ones tests/test_captures.py reads."""
    reader = (REPO / "tests" / "test_captures.py").read_text()
    sidecars = [tomllib.loads(s.text) for s in SNIPPETS if "[expect]" in s.text]
    assert sidecars
    for sidecar in sidecars:
        for key in sidecar["expect"]:
            assert f'expect["{key}"]' in reader or f'expect.get("{key}"' in reader, key


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text: lower case, spaces as
    hyphens, punctuation but hyphens and underscores dropped (headings in fenced blocks are
    none)."""
    anchors: set[str] = set()
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"#{1,6} (.+)", line)):
            slug = re.sub(r"[^\w\- ]", "", heading[1].strip().lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors


def command_parsers() -> dict[str, argparse.ArgumentParser]:
    """The parser of each command, by its words (``"modbus read"`` for a verb's)."""

    def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        return {}

    parsers: dict[str, argparse.ArgumentParser] = {}
    for name, parser in subcommands(cli_parser.build_parser()).items():
        parsers[name] = parser
        for verb, verb_parser in subcommands(parser).items():
            parsers[f"{name} {verb}"] = verb_parser
    return parsers


def test_each_option_of_a_command_in_the_readme_is_one_it_takes() -> None:
    """Each row of the README's commands table writes a command's usage; every option in it
    is an option of that command (``sensord COMMAND --help``), and every command has a row."""
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## Commands") : readme.index("## Configuration")]
    parsers = command_parsers()
    rows = re.findall(r"^\| `sensord ([a-z-]+(?: [a-z]+)?)([^`]*)` \|", table, re.MULTILINE)
    assert {command for command, _ in rows} == {c for c in parsers if c != "modbus"}
    for command, usage in rows:
        taken = {o for action in parsers[command]._actions for o in action.option_strings}
        written = set(re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", usage))
        assert written <= taken, f"sensord {command}: {sorted(written - taken)} taken by none"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_link_to_a_section_names_one(doc: Path) -> None:
    """A link to a section (``[text](#anchor)``, or ``(other.md#anchor)`` to a document of
    the repository) leads to a heading there, and a link to a file leads to one."""
    text = doc.read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert doc.name != "README.md" or sum(link.startswith("#") for link in links) >= 5
    for link in links:
        if "://" in link or link.startswith("mailto:"):
            continue
        target, _, anchor = link.partition("#")
        path = (doc.parent / target) if target else doc
        assert path.exists(), f"{doc.name}: link {link!r} leads to no file"
        if anchor:
            assert anchor in heading_anchors(path.read_text()), (
                f"{doc.name}: link {link!r} names no heading of {path.name}"
            )


def test_the_example_configuration_shows_every_key() -> None:
    """systemd/sensord.toml shows each key of the schema, set or in a comment (``key =``,
    or the header of its table), so the README's "a commented example of every
    key" holds."""
    text = EXAMPLE.read_text()
    missing = [
        path
        for path in schema_keys(Config)
        if not re.search(
            rf"(^|[\s{{,#])({re.escape(path.rsplit('.', 1)[-1])} =|"
            rf"\[{re.escape(path)}\]|\[\[{re.escape(path)}\]\])",
            text,
            re.MULTILINE,
        )
    ]
    assert not missing, f"keys the example does not show: {missing}"


#: Families a test host cannot show: line error counters come from a UART's driver, and a
#: pty or a simulated port has none (the README says the series is then absent).
NEEDS_HARDWARE = {"sensord_serial_line_errors"}
HISTOGRAM_SAMPLES = ("_bucket", "_count", "_sum")


def named_metrics() -> dict[str, set[str]]:
    """Each metric named in README.md, docs/*.md and the rule files of monitoring/, with
    where; a recorded series (``sensor:sensord_frames:rate5m``) is not one."""
    places = [*DOCS, REPO / "monitoring" / "alerts.yml", REPO / "monitoring" / "rules.yml"]
    named: dict[str, set[str]] = {}
    for path in places:
        for name in re.findall(r"(?<![:\w])(sensord_[a-z0-9_]*[a-z0-9])", path.read_text()):
            named.setdefault(name, set()).add(str(path.relative_to(REPO)))
    return named


def readme_metric_labels() -> dict[str, set[str]]:
    """The labels of each metric of the README's metrics table (``_min`` and its kind
    written after a full name are that name's siblings)."""
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("### Metrics") : readme.index("## In the field")]
    labels: dict[str, set[str]] = {}
    for names, label_text in re.findall(r"^\| (`sensord_[^|]*) \|([^|]*)\|", table, re.MULTILINE):
        stem = ""
        for written in re.findall(r"`([a-z0-9_]+)`", names):
            name = stem + written if written.startswith("_") else written
            stem = name.rsplit("_", 1)[0]
            labels[name] = {label.strip() for label in label_text.split(",") if label.strip()}
    return labels


@pytest.fixture
def modbus_server() -> Iterator[ModbusServer]:
    """A Modbus TCP server whose unit 1 maps STORE_SIZE holding registers from 0."""
    with ModbusServer([1]) as server:
        yield server


@pytest.mark.slow
def test_every_metric_the_docs_name_is_on_metrics_of_a_running_demo(
    start_daemon: StartDaemon, modbus_server: ModbusServer
) -> None:
    """The demo with two workers (for ``sensord_worker_*``), its polled MH-Z19 set to
    ``local_echo`` (for the echo counters) and a Modbus TCP device whose reads are merged
    across registers it does not map (refused with exception 02, for the exception counter),
    scraped once every sensor has sent frames and that device has split a read: each metric
    the docs name is one of its families, except NEEDS_HARDWARE; each of the README's table
    has exactly the labels the table gives (the ``worker`` label the README says process-wide
    families get with ``--workers`` aside)."""
    config = DEMO_CONFIG.replace(
        'setup = ["abc_off"]\n', 'setup = ["abc_off"]\nserial = { local_echo = true }\n'
    ) + (
        f'\n[[sensors]]\nname = "gateway_meter"\nport = "{modbus_server.url}"\nformat = "modbus"\n'
        "modbus = { unit = 1, interval_s = 0.5, max_gap = 10 }\n"
        f'registers = [{{ name = "a", table = "holding", address = {STORE_SIZE - 2} }}, '
        f'{{ name = "b", table = "holding", address = {STORE_SIZE + 2} }}]\n'
        'channels = [{ name = "a" }, { name = "b" }]\n'
    )
    assert config.count("local_echo") == 1
    daemon = start_daemon(["--workers", "2"], config=config)
    daemon.wait_http(20.0)
    daemon.wait_sensors(lambda s: s["frames"] > 0, None, 30.0, "frames from every sensor")
    daemon.wait_sensors(
        lambda s: s["modbus"]["split_reads"] > 0, ["gateway_meter"], 30.0, "a read split"
    )
    daemon.metrics_text()  # so that the next scrape counts an HTTP request
    scrape = Scrape(daemon.metrics_text())
    exposed: dict[str, set[str]] = {}
    for sample in scrape.samples:
        name = sample.name
        if name.endswith(HISTOGRAM_SAMPLES):
            name = name.rsplit("_", 1)[0]
        labels = set(sample.labels) - {"le"}
        for exposed_as in (sample.name, name, name.removesuffix("_total")):
            exposed.setdefault(exposed_as, set()).update(labels)
    missing = {
        name: where
        for name, where in named_metrics().items()
        if name not in exposed and name.removesuffix("_total") not in NEEDS_HARDWARE
    }
    assert not missing, f"named in the docs, not on /metrics: {missing}"
    for name, labels in readme_metric_labels().items():
        if name.removesuffix("_total") in NEEDS_HARDWARE:
            continue
        shown = exposed[name] - ({"worker"} if "worker" not in labels else set())
        assert shown == labels, f"{name}: the README gives {labels}, /metrics has {shown}"


#: Labels whose values are a fixed set of reasons a family's help text may list.
REASON_LABELS = ("reason", "kind")


@pytest.mark.slow
def test_a_help_text_that_lists_the_reasons_of_its_family_lists_every_one(
    start_daemon: StartDaemon,
) -> None:
    """The help text of a family on ``/metrics`` of the demo (a Modbus meter among its
    sensors) that names some values of its ``reason`` (or ``kind``) label names every value
    the family is served with: an operator reading it in Prometheus sees each series
    explained. ``sensord_modbus_errors_total`` left out ``unasked``."""
    daemon = start_daemon([], config=DEMO_CONFIG)
    daemon.wait_http(20.0)
    daemon.wait_sensors(lambda s: s["frames"] > 0, ["meter"], 30.0, "the meter's answers")
    listed: set[str] = set()
    unexplained: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(daemon.metrics_text()):
        words = set(re.findall(r"[a-z_]+", family.documentation))
        for label in REASON_LABELS:
            values = {s.labels[label] for s in family.samples if label in s.labels}
            if values & words:
                listed.add(family.name)
                if values - words:
                    unexplained[family.name] = values - words
    assert {"sensord_parse_errors", "sensord_modbus_errors"} <= listed
    assert not unexplained, f"help texts that leave out some of their reasons: {unexplained}"
