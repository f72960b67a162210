"""sensord's errors cross process boundaries whole: pickled (as ``multiprocessing`` and
``concurrent.futures`` do with an error raised in a worker) they keep their type, message
and attributes."""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

from sensord.errors import (
    ConfigError,
    OtherUnitError,
    ParseError,
    Problem,
    SensordError,
    SourceBrokenError,
    SourceError,
    SourceUnavailableError,
)


def config_errors() -> list[ConfigError]:
    return [
        ConfigError(["sensors[0].window.size: must be in [1, 10000], got 0"]),
        ConfigError(
            ["sensors[1].unit: unknown key", "sensors[1].name: already used by sensors[0]"],
            "/etc/sensord.toml",
            {"sensors[0]": "sensor 'boiler'", "sensors[1]": "sensor 'meter'"},
        ),
        ConfigError(
            [Problem('sensors[0]."a: b"', "unknown key")],
            "/etc/sensord.toml",
            {"sensors[0]": "sensor 'boiler'"},
        ),
    ]


def test_a_config_error_keeps_its_problems_and_message() -> None:
    for error in config_errors():
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is ConfigError
        assert str(copy) == str(error)
        assert copy.problems == error.problems
        assert copy.lines == error.lines
        assert (copy.source, copy.labels) == (error.source, error.labels)
        # a Problem keeps its key path and message apart across processes too
        assert [(type(p), getattr(p, "__dict__", None)) for p in copy.problems] == [
            (type(p), getattr(p, "__dict__", None)) for p in error.problems
        ]


def test_a_source_error_keeps_its_message_found_out_when_pickled() -> None:
    looked: list[bool] = []

    def describe() -> str:  # a closure: cannot be pickled itself
        looked.append(True)
        return "/dev/ttyUSB0 is held by another process: pid 7 (minicom)"

    lazy = SourceUnavailableError(
        "boiler", "held; the holders are named in the log", describe=describe
    )
    for error in (lazy, SourceBrokenError("bus:/dev/ttyUSB1", "hung up"), SourceError("m", "x")):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert (copy.sensor, copy.summary, copy.args) == (error.sensor, error.summary, error.args)
        assert copy.described
        assert str(copy) == str(error)
    assert looked == [True]
    assert str(lazy) == "sensor 'boiler': /dev/ttyUSB0 is held by another process: pid 7 (minicom)"


@pytest.mark.parametrize(
    "error",
    [
        ParseError("checksum", "0x3A != 0x3B", [("pm25", 12.0)]),
        OtherUnitError("invalid", "'74.6F': its unit 'F' is none of parse.units (C)", [("p", 1.0)]),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_parse_error_keeps_its_reason_detail_and_kept_fields(error: ParseError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert (copy.reason, copy.detail, copy.kept, str(copy)) == (
        error.reason,
        error.detail,
        error.kept,
        str(error),
    )


def _raise(error: SensordError) -> None:
    raise error


@pytest.mark.parametrize(
    "error",
    [
        *config_errors(),
        SourceUnavailableError("boiler", "cannot open /dev/ttyUSB0: no such device"),
        ParseError("range", "1e9 outside [0, 1000]"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_an_error_raised_in_a_worker_process_reaches_the_parent_whole(error: SensordError) -> None:
    context = multiprocessing.get_context("fork")
    with (
        ProcessPoolExecutor(1, mp_context=context) as pool,
        pytest.raises(type(error)) as raised,
    ):
        pool.submit(_raise, error).result(timeout=30)
    assert str(raised.value) == str(error)
    assert vars(raised.value) == vars(error)
