"""Loading the configuration file.

``load_config(path)`` reads the file, parses it and validates it whole (``Config``,
``sensord.config_checks``, over the tables of ``sensord.config_tables``), and raises
``ConfigError`` listing every problem with its key path, told where the file has it
(``sensord.config_messages``), before anything is opened. ``parse_config`` does the same for
text, ``load_config_stdin`` for standard input (``sensord check -``), and
``load_http_config`` reads the ``[http]`` table alone, for the commands that ask a running
daemon when the rest of the file is not valid.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from sensord.config_checks import Config
from sensord.config_messages import (
    _TABLE_HEADER,
    _has_header,
    _inline_channels,
    _misnamed_tables,
    _quoted_line,
    _sensor_index,
    _sensor_labels,
    _sensors_table,
)
from sensord.config_tables import HttpConfig, _user_name
from sensord.errors import ConfigError, Problem

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "STDIN_SOURCE",
    "Config",
    "load_config",
    "load_config_stdin",
    "load_http_config",
    "parse_config",
]

DEFAULT_CONFIG_PATH = Path("/etc/sensord/sensord.toml")


def parse_config(text: str, source: str = "<config>") -> Config:
    """Parse and validate TOML text. Raises ConfigError with every problem found."""
    return _parse_config(text, source, 0)


def _parse_config(text: str, source: str, mode: int) -> Config:
    """``parse_config`` of the text of a file of ``mode`` (0: no file): a file holding the
    basic-auth password that every user may read is one of its problems."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # a misnamed table ([[sensor]] with its [[sensors.channels]]) is often what made the
        # text invalid further down, where the parser stopped: it is named first
        misnamed = list(_misnamed_tables(text).values())
        raise ConfigError(
            [*misnamed, f"not valid TOML: {exc}{_quoted_line(text, str(exc))}"], source
        ) from None
    errors: list[str] = []
    http = data.get("http")
    if mode & stat.S_IROTH and isinstance(http, Mapping) and "basic_auth_password" in http:
        errors.append(
            Problem(
                "http.basic_auth_password",
                "the file holds a password but every user may read "
                f"it (mode {stat.S_IMODE(mode):04o}); run: chmod o-r {source}",
            )
        )
    config = Config.load(data, "", errors)
    if isinstance(data.get("sensors"), list) and not _has_header(text, "sensors"):
        errors = [_inline_channels(e) for e in errors]
    if isinstance(data.get("sensors"), Mapping):
        errors = [_sensors_table(e, text) for e in errors]
    tables = {name: problem for name, problem in _misnamed_tables(text).items() if name in data}
    if tables:
        errors = [
            tables.get(e.key, e)
            if isinstance(e, Problem) and e.message.startswith("unknown key")
            else e
            for e in errors
        ]
    errors.sort(key=_sensor_index)
    if errors or config is None:
        raise ConfigError(errors or ["invalid configuration"], source, _sensor_labels(data))
    return config


def load_http_config(path: str | os.PathLike[str]) -> HttpConfig | None:
    """The ``[http]`` table of the file at ``path`` alone, for the commands that ask a running
    daemon (``sensord status``, ``sensord capture``) when the whole file is not valid: a
    mistake in a sensor's table (a reload that failed) leaves the daemon's address readable,
    also a TOML syntax error there (:func:`_http_table_text`). None when the file cannot be
    read, its ``[http]`` cannot be told apart from a syntax error, or it has an error."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        table = _http_table_text(text, str(exc))
        if table is None:
            return None
        try:
            data = tomllib.loads(table)
        except tomllib.TOMLDecodeError:
            return None
    errors: list[str] = []
    http = HttpConfig.load(data.get("http", {}), "http", errors)
    return None if errors else http


#: The ``[http]`` header.
_HTTP_HEADER = re.compile(r"\s*\[\s*http\s*\]\s*(?:#.*)?")
#: A top-level key that sets ``http`` without its header (``http = {...}``, ``http.port``).
_HTTP_KEY = re.compile(r"\s*[\"']?http[\"']?\s*[.=]")
#: Where a TOML syntax error is: ``(at line 13, column 15)``.
_ERROR_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def _http_table_text(text: str, error: str) -> str | None:
    """The ``[http]`` table of ``text``, a file that is not valid TOML for the syntax
    ``error`` (a sensor's table edited wrong), as a document of its own: its header and the
    lines up to the next header, or "" for a file without one (the daemon's defaults). None
    when the error may lie in that table, or the file may set ``http`` otherwise (a
    top-level ``http = {...}`` or ``http.port``)."""
    lines = text.splitlines()
    first_header = next(
        (i for i, line in enumerate(lines) if _TABLE_HEADER.match(line)), len(lines)
    )
    if any(_HTTP_KEY.match(line) for line in lines[:first_header]):
        return None
    at = _ERROR_LINE.search(error)
    error_line = int(at[1]) - 1 if at else None
    headers = [i for i, line in enumerate(lines) if _HTTP_HEADER.fullmatch(line)]
    if not headers:
        return "" if error_line is not None and error_line >= first_header else None
    if len(headers) > 1:
        return None
    start = headers[0]
    end = next(
        (i for i in range(start + 1, len(lines)) if _TABLE_HEADER.match(lines[i])), len(lines)
    )
    if error_line is None or start <= error_line < end:
        return None
    return "\n".join(lines[start:end])


#: How a configuration read from standard input (``sensord check -``) is named in messages.
STDIN_SOURCE = "<stdin>"


def load_config_stdin(stream: BinaryIO) -> Config:
    """Read, parse and validate the configuration in ``stream`` (standard input's bytes,
    for ``sensord check -``), named :data:`STDIN_SOURCE` in its errors. Raises
    ConfigError."""
    try:
        raw = stream.read()
    except OSError as exc:
        raise ConfigError([f"cannot read standard input: {exc.strerror}"], STDIN_SOURCE) from None
    if not raw.strip():
        raise ConfigError(
            [
                "standard input is empty: pipe the configuration in "
                "(cat sensord.toml | sensord check -), or name its file"
            ],
            STDIN_SOURCE,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"is not UTF-8 text (byte {exc.start})"], STDIN_SOURCE) from None
    return parse_config(text, STDIN_SOURCE)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read, parse and validate the file at ``path``. Raises ConfigError."""
    return load_config_text(path)[0]


def load_config_text(path: str | os.PathLike[str]) -> tuple[Config, str]:
    """:func:`load_config`, with the text the configuration was read from (what a
    ``--workers`` primary hands its workers: exactly what it validated)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(["file does not exist"], str(path)) from None
    except PermissionError:
        raise ConfigError(
            [
                f"permission denied reading the file as {_user_name()}: make it readable by "
                "the user sensord runs as (the service's user sensord: group sensord, mode 640)"
            ],
            str(path),
        ) from None
    except IsADirectoryError:
        raise ConfigError(["is a directory, not a file"], str(path)) from None
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror}"], str(path)) from None
    if not stat.S_ISREG(mode):
        raise ConfigError(["is not a regular file"], str(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"is not UTF-8 text (byte {exc.start})"], str(path)) from None
    return _parse_config(text, str(path), mode), text
