"""sensord.schema_fields and sensord.schema: validating descriptors, Schema.load with key paths,
equality."""

from __future__ import annotations

import math
import re
import tomllib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.schema import Schema
from sensord.schema_fields import (
    Bool,
    Bytes,
    Choice,
    Float,
    Int,
    Section,
    SectionList,
    Str,
    StrList,
    UnloadedFieldError,
)
from sensord.schema_fields import decode_escapes as decode

# -- a small schema shaped like the configuration file -------------------------------------------


class WindowConf(Schema):
    size = Int(min=1, max=10_000, default=60)
    time_s = Float(above=0, optional=True)


class FilterConf(Schema):
    min = Float(optional=True)
    max = Float(optional=True)

    def check(self) -> list[tuple[str, str]]:
        if self.min is not None and self.max is not None and not self.min < self.max:
            return [("min", f"must be less than max ({self.max:g}), got {self.min:g}")]
        return []


class ChannelConf(Schema):
    name = Str(pattern=r"[a-z][a-z0-9_]*", pattern_doc="a lower-case identifier")
    filter = Section(FilterConf)
    window = Section(WindowConf)


class PollConf(Schema):
    request = Bytes()
    interval_s = Float(min=0.01, max=86_400)


class SensorConf(Schema):
    name = Str()
    port = Str()
    format = Choice(("value", "kv", "csv", "json", "nmea"))
    bytesize = Choice((5, 6, 7, 8), default=8)
    stopbits = Choice((1.0, 1.5, 2.0), default=1.0)
    exclusive = Bool(default=True)
    terminator = Bytes(default=b"\n")
    columns = StrList()
    poll = Section(PollConf, optional=True)
    channels = SectionList(ChannelConf, min_items=1, max_items=8)


class Conf(Schema):
    sensors = SectionList(SensorConf, min_items=1)


def load(cls: type[Schema], data: object) -> tuple[Any, list[str]]:
    errors: list[str] = []
    obj = cls.load(data, "", errors)
    return obj, errors


def sensor(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "boiler",
        "port": "/dev/ttyUSB0",
        "format": "kv",
        "channels": [{"name": "temperature"}],
    }
    data.update(overrides)
    return data


# -- descriptors: type errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "error", "message"),
    [
        (Int(), "5", TypeError, "must be an integer, got string '5'"),
        (Int(), 5.0, TypeError, "must be an integer, got float 5.0 (write it without a"),
        (Int(), 5.5, TypeError, "must be an integer, got float 5.5"),
        (Int(), True, TypeError, "must be an integer, got boolean true"),
        (Int(), False, TypeError, "must be an integer, got boolean false"),
        (Float(), "1.5", TypeError, "must be a number, got string '1.5'"),
        (Float(), True, TypeError, "must be a number, got boolean true"),
        (Float(), [1.0], TypeError, "must be a number, got array [1.0]"),
        (Float(), math.nan, ValueError, "must be a finite number, got nan"),
        (Float(), math.inf, ValueError, "must be a finite number, got inf"),
        (Float(), 10**400, ValueError, "must be a finite number, got 1000000"),
        (Bool(), 1, TypeError, "must be true or false, got integer 1"),
        (Bool(), "true", TypeError, "must be true or false, got string 'true'"),
        (Str(), 5, TypeError, "must be a string, got integer 5"),
        (Str(), {"a": 1}, TypeError, "must be a string, got table {'a': 1}"),
        (Bytes(), 3, TypeError, "must be a string, got integer 3"),
        (StrList(), "a,b", TypeError, "must be an array of strings, got string"),
        (Section(WindowConf), {"size": 3}, TypeError, "must be a WindowConf, got dict"),
        (SectionList(WindowConf), {}, TypeError, "must be an array of tables, got table"),
    ],
)
def test_type_errors(field: Any, value: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match="^" + re.escape(message)):
        field.validate(value)


def test_bool_is_not_an_int_but_an_int_is_a_float() -> None:
    assert Int().validate(7) == 7
    assert Float().validate(7) == 7.0
    assert isinstance(Float().validate(7), float)
    assert Bool().validate(False) is False
    with pytest.raises(TypeError):
        Int().validate(True)
    with pytest.raises(TypeError):
        Float().validate(False)


# -- descriptors: ranges, enums, strings ---------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (Int(min=1, max=10_000), 0, "must be in [1, 10000], got 0"),
        (Int(min=1, max=10_000), 10_001, "must be in [1, 10000], got 10001"),
        (Int(min=16), 15, "must be >= 16, got 15"),
        (Int(max=65535), 65536, "must be <= 65535, got 65536"),
        (Float(min=0, max=1), 1.5, "must be in [0, 1], got 1.5"),
        (Float(min=0, max=1), -0.25, "must be in [0, 1], got -0.25"),
        (Float(min=0.01), 0.001, "must be >= 0.01, got 0.001"),
        (Float(max=300), 301, "must be <= 300, got 301"),
        (Float(above=0), 0, "must be greater than 0, got 0"),
        (Float(above=0), -2.5, "must be greater than 0, got -2.5"),
        (Float(above=0, max=60), 61.0, "must be <= 60, got 61"),
        (
            Choice(("auto", "always", "never")),
            "sometimes",
            "must be one of 'auto', 'always', 'never', got 'sometimes'",
        ),
        (Choice(("auto", "always", "never")), "alway", "got 'alway'; did you mean 'always'?"),
        (Choice((5, 6, 7, 8)), 9, "must be one of 5, 6, 7, 8, got 9"),
        (Choice((5, 6, 7, 8)), True, "must be one of 5, 6, 7, 8, got boolean true"),
        (Choice((5, 6, 7, 8)), 8.0, "must be one of 5, 6, 7, 8, got float 8.0 (write it"),
        (Choice((1.0, 1.5, 2.0)), 3, "must be one of 1, 1.5, 2, got 3"),
        (Choice((1.0, 1.5, 2.0)), "2", "must be one of 1, 1.5, 2, got string '2'"),
        (Str(), "", "must not be empty"),
        (Str(), "   ", "must not be empty"),
        (
            Str(pattern=r"[a-z]+", pattern_doc="lower-case letters"),
            "Boiler",
            "must be lower-case letters, got 'Boiler'",
        ),
        (Str(pattern=r"[a-z]+"), "ab1", "must be [a-z]+, got 'ab1'"),
        (Str(check=lambda s: None if s.isascii() else "must be ASCII"), "é", "must be ASCII"),
        (Bytes(), "", "must not be empty"),
        (StrList(), ["a", ""], "item 1 must be a non-empty string, got ''"),
        (StrList(), ["a", 3], "item 1 must be a non-empty string, got 3"),
        (StrList(), ["a", "b", "a"], "has 'a' twice"),
        (SectionList(WindowConf, min_items=1), [], "needs at least one entry"),
        (
            SectionList(WindowConf, max_items=1),
            [WindowConf(), WindowConf()],
            "must have 0..1 entries, got 2",
        ),
    ],
)
def test_value_errors(field: Any, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        field.validate(value)


def test_accepted_values_are_stored_in_their_canonical_form() -> None:
    assert Choice((1.0, 1.5, 2.0)).validate(2) == 2.0
    assert isinstance(Choice((1.0, 1.5, 2.0)).validate(2), float)
    assert Choice((5, 6, 7, 8)).validate(8) == 8
    assert Str(non_empty=False).validate("") == ""
    assert Str(pattern=r"[a-z]+").validate("abc") == "abc"
    assert StrList().validate(["x", "y"]) == ("x", "y")
    assert StrList(unique=False).validate(["x", "x"]) == ("x", "x")
    assert Float(min=0, max=1).validate(1) == 1.0
    assert Int(min=1, max=10_000).validate(10_000) == 10_000


# -- Bytes escapes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"READ?\r\n", b"READ?\r\n"),  # a TOML literal string: the backslashes reach us
        ("READ?\r\n", b"READ?\r\n"),  # a TOML basic string: TOML already decoded them
        (r"\x03", b"\x03"),
        (r"\x02DATA\x03", b"\x02DATA\x03"),
        (r"\t\0", b"\t\x00"),
        (r"\\", b"\\"),
        (r"a\\d", b"a\\d"),
        (r"\101", b"A"),
        (r"\377", b"\xff"),
        (r"\u00e9", b"\xe9"),
        ("\xe9", b"\xe9"),
        ("plain", b"plain"),
    ],
)
def test_bytes_escapes_are_decoded(text: str, expected: bytes) -> None:
    assert Bytes().validate(text) == expected
    assert decode(text) == expected


def test_bytes_are_accepted_as_they_are() -> None:
    assert Bytes().validate(b"\r\n") == b"\r\n"


@pytest.mark.parametrize(
    "text",
    [r"C:\dev", r"\q", "trailing\\", r"\x3", r"\xZZ", r"\777", r"\u0100", r"\N{SNOWMAN}"],
)
def test_invalid_escapes_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match=r"^has an invalid escape sequence: "):
        Bytes().validate(text)


def test_characters_beyond_latin1_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"must contain only characters U\+0000..U\+00FF"):
        Bytes().validate("°C ✓")


def test_escapes_through_real_toml_strings() -> None:
    data = tomllib.loads("literal = 'READ?\\r\\n'\nbasic = \"READ?\\r\\n\"\netx = '\\x03'\n")
    assert Bytes().validate(data["literal"]) == b"READ?\r\n"
    assert Bytes().validate(data["basic"]) == b"READ?\r\n"
    assert Bytes().validate(data["etx"]) == b"\x03"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_any_bytes_survive_an_escaped_round_trip(data: bytes) -> None:
    escaped = "".join(f"\\x{b:02x}" if b < 32 or b > 126 or b == 92 else chr(b) for b in data)
    assert decode(escaped) == data


# -- assignment validates ------------------------------------------------------------------------


def test_assignment_after_construction_validates() -> None:
    cfg = WindowConf()
    assert cfg.size == 60
    assert cfg.time_s is None
    with pytest.raises(ValueError, match=re.escape("must be in [1, 10000], got 0")):
        cfg.size = 0
    assert cfg.size == 60  # the invalid value never reached storage
    with pytest.raises(TypeError, match="must be an integer, got boolean true"):
        cfg.size = True
    with pytest.raises(ValueError, match="must be greater than 0, got 0"):
        cfg.time_s = 0
    cfg.size = 10_000
    cfg.time_s = 2
    assert (cfg.size, cfg.time_s) == (10_000, 2.0)
    cfg.time_s = None  # optional
    assert cfg.time_s is None


def test_a_required_field_rejects_none() -> None:
    cfg = SensorConf(name="a", port="p", format="kv", channels=[ChannelConf(name="t")])
    with pytest.raises(TypeError, match="must be a string, got NoneType None"):
        cfg.port = None


def test_constructor_requires_fields_and_knows_them() -> None:
    with pytest.raises(TypeError, match="PollConf: request is required"):
        PollConf(interval_s=1.0)
    with pytest.raises(TypeError, match=re.escape("WindowConf: unknown field(s) ['sise']")):
        WindowConf(sise=3)
    with pytest.raises(ValueError, match=re.escape("min: must be less than max (1), got 2")):
        FilterConf(min=2, max=1)


def test_descriptors_on_the_class_and_defaults() -> None:
    assert isinstance(WindowConf.size, Int)
    assert WindowConf.size.name == "size"
    assert WindowConf.size.required is False
    assert PollConf.request.required is True
    assert WindowConf.time_s.optional is True
    assert list(SensorConf._fields)[:3] == ["name", "port", "format"]


def test_section_defaults_are_fresh_instances() -> None:
    a, b = ChannelConf(name="a"), ChannelConf(name="b")
    assert a.window is not b.window
    a.window.size = 5
    assert b.window.size == 60


# -- Schema.load ---------------------------------------------------------------------------------


def test_load_builds_the_objects_with_defaults() -> None:
    conf, errors = load(
        Conf, {"sensors": [sensor(poll={"request": r"READ?\r\n", "interval_s": 5})]}
    )
    assert errors == []
    (s,) = conf.sensors
    assert (s.name, s.bytesize, s.stopbits, s.exclusive, s.terminator) == (
        "boiler",
        8,
        1.0,
        True,
        b"\n",
    )
    assert s.poll.request == b"READ?\r\n"
    assert s.poll.interval_s == 5.0
    (ch,) = s.channels
    assert (ch.name, ch.window.size, ch.filter.min) == ("temperature", 60, None)


def test_load_collects_every_error_with_its_key_path() -> None:
    data = {
        "sensors": [
            sensor(),
            sensor(
                name="",
                format="jsn",
                bytesize=9,
                exclusive="yes",
                channels=[
                    {"name": "ok", "window": {"size": 0}},
                    {"name": "Bad", "filter": {"min": 5, "max": 1}},
                    {"name": "t", "window": {"size": 3.5, "time_s": -1}},
                ],
            ),
        ]
    }
    conf, errors = load(Conf, data)
    assert conf is None
    assert errors == [
        "sensors[1].name: must not be empty",
        "sensors[1].format: must be one of 'value', 'kv', 'csv', 'json', 'nmea', got 'jsn';"
        " did you mean 'json'?",
        "sensors[1].bytesize: must be one of 5, 6, 7, 8, got 9",
        "sensors[1].exclusive: must be true or false, got string 'yes'",
        "sensors[1].channels[0].window.size: must be in [1, 10000], got 0",
        "sensors[1].channels[1].name: must be a lower-case identifier, got 'Bad'",
        "sensors[1].channels[1].filter.min: must be less than max (1), got 5",
        "sensors[1].channels[2].window.size: must be an integer, got float 3.5",
        "sensors[1].channels[2].window.time_s: must be greater than 0, got -1",
    ]


def test_unknown_keys_get_a_did_you_mean_hint() -> None:
    _, errors = load(
        Conf,
        {"sensors": [sensor(prot="/dev/ttyUSB1", channels=[{"name": "t", "widnow": {}}])]},
    )
    assert errors[0].startswith(
        "sensors[0].prot: unknown key; did you mean 'port'? (known: name, port,"
    )
    assert errors[1].startswith(
        "sensors[0].channels[0].widnow: unknown key; did you mean 'window'?"
    )
    _, errors = load(WindowConf, {"zzz": 1})
    assert errors == ["zzz: unknown key (known: size, time_s)"]


def test_an_unknown_key_that_is_no_bare_key_is_shown_in_quotes() -> None:
    # an empty key was shown as no key at all ("sensors[0].: unknown key"), and one with a
    # dot as a path of two keys
    _, errors = load(WindowConf, {"": 1, "a.b": 2, "tür": 3, "size": 5})
    assert errors == [
        '"": unknown key (known: size, time_s)',
        '"a.b": unknown key (known: size, time_s)',
        '"tür": unknown key (known: size, time_s)',
    ]
    _, errors = load(Conf, {"sensors": [sensor(**{"": 1})]})
    assert errors[0].startswith('sensors[0]."": unknown key (known: name, port,')


def test_missing_required_keys_and_non_tables() -> None:
    _, errors = load(Conf, {"sensors": [{"name": "x", "channels": [{}]}, 5]})
    assert errors == [
        "sensors[0].port: required key is missing",
        "sensors[0].format: required key is missing",
        "sensors[0].channels[0].name: required key is missing",
        "sensors[1]: must be a table, got integer 5",
    ]
    assert load(Conf, [])[1] == ["top level: must be a table, got array []"]
    assert load(Conf, {"sensors": {"name": "x"}})[1] == [
        "sensors: must be an array of tables ([[sensors]]), got table"
    ]
    assert load(Conf, {"sensors": []})[1] == ["sensors: needs at least one entry"]
    assert load(Conf, {})[1] == ["sensors: required key is missing"]  # min_items=1: required
    assert load(Conf, {"sensors": [sensor(poll=3)]})[1] == [
        "sensors[0].poll: must be a table, got integer 3"
    ]


def test_an_absent_section_reports_its_own_required_keys() -> None:
    class WithPoll(Schema):
        poll = Section(PollConf)

    obj, errors = load(WithPoll, {})
    assert obj is None
    assert errors == [
        "poll.request: required key is missing",
        "poll.interval_s: required key is missing",
    ]


def test_an_absent_section_with_defaults_is_built_from_them() -> None:
    class WithWindow(Schema):
        window = Section(WindowConf)

    obj, errors = load(WithWindow, {})
    assert errors == []
    assert obj.window == WindowConf()


def test_errors_are_appended_to_the_callers_list_with_a_path_prefix() -> None:
    errors = ["earlier problem"]
    assert WindowConf.load({"size": -1}, "sensors[3].channels[1].window", errors) is None
    assert errors == [
        "earlier problem",
        "sensors[3].channels[1].window.size: must be in [1, 10000], got -1",
    ]


def test_cross_field_checks_run_only_when_the_fields_are_valid() -> None:
    _, errors = load(FilterConf, {"min": "a", "max": 1})
    assert errors == ["min: must be a number, got string 'a'"]
    _, errors = load(FilterConf, {"min": 3, "max": 3})
    assert errors == ["min: must be less than max (3), got 3"]


class LinkConf(Schema):
    """Checks that read a field in every way a check may: each is left out when ``rate``
    failed to load, and the one that does not read it still runs."""

    rate = Int(min=1)
    mode = Choice(("fast", "slow"))
    name = Str()

    def check(self) -> list[tuple[str, str]]:
        return self.run_checks(
            [
                lambda: [] if hasattr(self, "rate") else [("rate", "hasattr saw no rate")],
                lambda: [("rate", "got None")] if getattr(self, "rate", None) is None else [],
                lambda: [("rate", "read")] if self.rate > 0 and self.mode == "fast" else [],
                lambda: [("name", "must not be 'x'")] if self.name == "x" else [],
            ]
        )

    check_partial = check


def test_a_check_that_reads_a_field_which_failed_to_load_is_left_out() -> None:
    _, errors = load(LinkConf, {"rate": 0, "mode": "slow", "name": "x"})
    assert errors == ["rate: must be >= 1, got 0", "name: must not be 'x'"]
    _, errors = load(LinkConf, {"rate": 2, "mode": "fast", "name": "y"})
    assert errors == ["rate: read"]


def test_a_field_without_a_value_is_no_attribute_error() -> None:
    """hasattr and getattr with a default let it through: a partial object is never taken
    for one whose field is absent."""
    conf = LinkConf.__new__(LinkConf)
    with pytest.raises(UnloadedFieldError, match=r"LinkConf.rate holds no value"):
        hasattr(conf, "rate")
    assert not issubclass(UnloadedFieldError, AttributeError)


def test_a_huge_toml_integer_is_reported_not_raised() -> None:
    data = tomllib.loads("time_s = " + "9" * 400)
    _, errors = load(WindowConf, data)
    assert len(errors) == 1
    assert errors[0].startswith("time_s: must be a finite number, got 999")


# -- equality and display ------------------------------------------------------------------------


def test_equality_is_by_value_via_as_dict() -> None:
    data = {"sensors": [sensor(columns=["a", "b"], poll={"request": "x", "interval_s": 1})]}
    first, _ = load(Conf, data)
    second, _ = load(Conf, data)
    assert first is not second
    assert first == second
    assert first.as_dict() == {
        "sensors": [
            {
                "name": "boiler",
                "port": "/dev/ttyUSB0",
                "format": "kv",
                "bytesize": 8,
                "stopbits": 1.0,
                "exclusive": True,
                "terminator": b"\n",
                "columns": ("a", "b"),
                "poll": {"request": b"x", "interval_s": 1.0},
                "channels": [
                    {
                        "name": "temperature",
                        "filter": {"min": None, "max": None},
                        "window": {"size": 60, "time_s": None},
                    }
                ],
            }
        ]
    }
    second.sensors[0].channels[0].window.size = 61
    assert first != second
    assert WindowConf() != FilterConf()
    assert WindowConf().__eq__(FilterConf()) is NotImplemented


def test_schemas_are_unhashable_and_have_a_readable_repr() -> None:
    with pytest.raises(TypeError):
        hash(WindowConf())
    assert repr(WindowConf(size=3)) == "WindowConf(size=3, time_s=None)"


def test_fields_are_inherited() -> None:
    class Timed(WindowConf):
        label = Str(default="w")

    assert list(Timed._fields) == ["size", "time_s", "label"]
    t = Timed(size=2)
    assert (t.size, t.label) == (2, "w")
    with pytest.raises(ValueError, match=re.escape("must be in [1, 10000], got 0")):
        t.size = 0
