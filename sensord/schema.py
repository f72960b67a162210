"""The ``Schema`` base class the configuration is written with, and its loading.

A subclass declares its keys with the validating descriptors of ``sensord.schema_fields``::

    class WindowConfig(Schema):
        size = Int(min=1, max=10_000, default=60)

``Schema.load(mapping, path, errors)`` builds an object from parsed TOML and, instead of
stopping at the first problem, appends every error with its key path
(``sensors[1].channels[0].window.size: must be in [1, 10000], got 0``) to ``errors``. It also
rejects unknown keys with a did-you-mean hint and runs each class's cross-field ``check()``.

This module knows nothing about sensord's keys; ``sensord.config_tables`` declares them. A value
in a message is shown as ``sensord.schema_values`` writes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Self

from sensord.errors import Problem
from sensord.names import closest
from sensord.schema_fields import (
    Field,
    Section,
    SectionList,
    SectionOrStrList,
    UnloadedFieldError,
)
from sensord.schema_values import got, key_text, toml_value

__all__ = ["Schema"]


class Schema:
    """Base class of configuration objects whose attributes are validating descriptors."""

    _fields: ClassVar[dict[str, Field[Any]]] = {}
    #: names other tools give this table's keys (lower case), and the key each stands for
    #: (``device``: ``port``), offered before a key of a close spelling
    _synonyms: ClassVar[dict[str, str]] = {}
    #: keys other tools have (lower case) that stand for no key of this table, and what
    #: sensord does instead: said in place of a key of a close spelling
    _foreign: ClassVar[dict[str, str]] = {}
    #: the arrays of tables of this table (``SectionList`` fields) whose entries' keys are
    #: told where they belong when written in this table (``window`` in a sensor's table:
    #: in each of its ``channels``)
    _per_entry: ClassVar[tuple[str, ...]] = ()
    #: the arrays of tables of this table whose entries' keys, written in this table, are
    #: told to go below the header of an entry (``format = "value"`` above the first
    #: ``[[sensors]]``: below it)
    _below_header: ClassVar[tuple[str, ...]] = ()

    #: False for a table that ``load_partial`` built with errors: a field that failed to load
    #: holds no value (see ``check_partial``)
    complete: bool = True

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        fields: dict[str, Field[Any]] = {}
        for base in reversed(cls.__mro__[1:]):
            fields.update(getattr(base, "_fields", {}))
        fields.update({k: v for k, v in vars(cls).items() if isinstance(v, Field)})
        cls._fields = fields

    def __init__(self, **values: Any) -> None:
        unknown = set(values) - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown field(s) {sorted(unknown)}")
        for name, field in self._fields.items():
            if name in values:
                setattr(self, name, values[name])
            elif field.required:
                raise TypeError(f"{type(self).__name__}: {name} is required")
            else:
                setattr(self, name, field.default_value())
        problems = self.check()
        if problems:
            key, message = problems[0]
            raise ValueError(f"{key}: {message}")

    def check(self) -> list[tuple[str, str]]:
        """Cross-field invariants: ``(key, message)`` pairs. Subclasses extend it."""
        return []

    def run_checks(
        self, checks: Iterable[Callable[[], list[tuple[str, str]]]]
    ) -> list[tuple[str, str]]:
        """The problems of ``checks`` in order, leaving out each that reads a field that holds
        no value (one that failed to load: see ``check_partial``) of this object or of a table
        kept partial in it (``Section`` or ``SectionList`` with ``keep_partial``, ``complete``
        False). Such a read raises ``UnloadedFieldError`` however it is made, through a
        property, ``hasattr`` or ``getattr`` with a default alike, so no check runs without a
        field it reads."""
        problems: list[tuple[str, str]] = []
        for check in checks:
            try:
                problems.extend(check())
            except UnloadedFieldError as exc:
                if exc.obj is not self and getattr(exc.obj, "complete", True):
                    raise
        return problems

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied, each validated by its descriptor and the copy by
        ``check()`` (ValueError or TypeError naming the key otherwise); ``self`` is unchanged."""
        values = {name: getattr(self, name) for name in self._fields}
        values.update(changes)
        return type(self)(**values)

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def load(cls, data: object, path: str, errors: list[str]) -> Self | None:
        """Build from a parsed TOML table, appending ``path.key: message`` lines to ``errors``
        (each a ``Problem``: key path and message apart).

        Returns None when this table (or anything inside it) had an error.
        """
        loaded = cls.load_partial(data, path, errors)
        return loaded if loaded is not None and loaded.complete else None

    @classmethod
    def load_partial(cls, data: object, path: str, errors: list[str]) -> Self | None:
        """``load``, but a table with errors is returned as far as it was built, with
        ``complete`` False and its fields that failed to load holding no value; None only for
        ``data`` that is no table."""
        if not isinstance(data, Mapping):
            message = f"must be a table, got {got(data)}"
            if isinstance(data, str) and path.endswith("]") and "name" in cls._fields:
                # an entry of an array of named tables written as its name alone
                shown = json.dumps(data, ensure_ascii=False)
                message += f" (an entry is a table with its name: {{ name = {shown} }})"
            errors.append(Problem(path or "top level", message))
            return None
        prefix = f"{path}." if path else ""
        before = len(errors)
        #: the fields an unknown key was likely meant for: their values are not relied on
        suspect: set[str] = set()
        #: an unknown key meant for who knows what: may be meant for any key not given
        blind = False
        for key in data:
            if key not in cls._fields:
                meant = cls._meant_for(str(key), cls._entry_order(data))
                instead = cls._foreign.get(str(key).lower())
                below = cls._below_header_hint(str(key), data[key], path)
                if below:
                    did_you_mean = below
                elif instead is not None:
                    did_you_mean = f"; {instead}"
                elif meant is None:
                    blind = True
                    did_you_mean = ""
                    # a misspelt key of another tool's (``scael``): what sensord does instead
                    close = closest(str(key).lower(), cls._foreign)
                    if close:
                        did_you_mean = f"; {close!r}? {cls._foreign[close]}"
                elif "[]." in meant:  # a key of each entry of an array of tables
                    did_you_mean = cls._entry_hint(str(key), meant, data)
                else:
                    suspect.add(meant.partition(".")[0])
                    did_you_mean = f"; did you mean {meant!r}?"
                known = ", ".join(cls._fields)
                errors.append(
                    Problem(
                        f"{prefix}{key_text(str(key))}",
                        f"unknown key{did_you_mean} (known: {known})",
                    )
                )
        misplaced = cls._misplaced_keys(data, prefix)
        suspect.update(key for key, _, given in misplaced.values() if not given)
        if blind:
            suspect.update(name for name in cls._fields if name not in data)
        obj = cls.__new__(cls)
        for name, field in cls._fields.items():
            key_path = f"{prefix}{name}"
            if name not in data:
                if field.required:
                    if name not in suspect:  # else the unknown key's message says it
                        hint = f": {field.when_missing}" if field.when_missing else ""
                        errors.append(Problem(key_path, f"required key is missing{hint}"))
                    continue
                if isinstance(field, Section) and field.default is field.schema:
                    # an absent table is an empty one: its own required keys are reported
                    value = field.schema.load({}, key_path, errors)
                    if value is None:
                        continue
                else:
                    value = field.default_value()
            else:
                value = data[name]
                if isinstance(field, Section):
                    start = len(errors)
                    load = field.schema.load_partial if field.keep_partial else field.schema.load
                    value = load(value, key_path, errors)
                    _tell_misplaced(errors, start, misplaced, path)
                    if value is None:
                        continue
                elif isinstance(field, SectionList | SectionOrStrList):
                    start = len(errors)
                    value = _load_list(field, value, key_path, errors)
                    _tell_misplaced(errors, start, misplaced, path)
                    if value is None:
                        continue
            try:
                setattr(obj, name, value)
            except (TypeError, ValueError) as exc:
                errors.append(Problem(key_path, str(exc)))
        if len(errors) > before:
            obj.complete = False
            for name in suspect:
                obj.__dict__.pop(cls._fields[name]._attr, None)
            for key, message in obj.check_partial():
                errors.append(Problem(f"{prefix}{key}", message))
            return obj
        for key, message in obj.check():
            errors.append(Problem(f"{prefix}{key}", message))
        obj.complete = len(errors) == before
        return obj

    @classmethod
    def _misplaced_keys(
        cls, data: Mapping[str, Any], prefix: str
    ) -> dict[str, tuple[str, str, bool]]:
        """The keys of this table (``data``, at ``prefix``) written after the header of one of
        its tables, which makes them that table's: the path of each such key, to the key, the
        header as written (``[sensors.serial]``, ``[[sensors.channels]]``) and whether this
        table has the key too (given above the header as well: a second value meant to
        replace it)."""
        misplaced: dict[str, tuple[str, str, bool]] = {}
        header = re.sub(r"\[\d+\]", "", prefix)
        for name, field in cls._fields.items():
            inner = data.get(name)
            if isinstance(field, Section) and isinstance(inner, Mapping):
                tables = [(f"{prefix}{name}", f"[{header}{name}]", inner)]
            elif isinstance(field, SectionList | SectionOrStrList) and isinstance(inner, list):
                tables = [
                    (f"{prefix}{name}[{i}]", f"[[{header}{name}]]", item)
                    for i, item in enumerate(inner)
                    if isinstance(item, Mapping)
                ]
            else:
                continue
            for table_path, written, table in tables:
                for key in table:
                    if key in cls._fields and key not in field.schema._fields:
                        misplaced[f"{table_path}.{key}"] = (key, written, key in data)
        return misplaced

    @classmethod
    def _meant_for(cls, key: str, entries: tuple[str, ...] | None = None) -> str | None:
        """The key an unknown ``key`` was likely meant as: a field of a close spelling
        (``sampling_rat``: ``sampling_rate_hz``), else the key of that name in a nested
        table that is not optional (``baudrate``: ``serial.baudrate``); None when there is
        none. A synonym (``_synonyms``) comes first. ``entries``: the arrays of tables to
        look in, in order (``_per_entry`` when None)."""
        synonym = cls._synonyms.get(key.lower())
        if synonym is not None:
            return synonym
        entry = cls._entry_key(key, cls._per_entry if entries is None else entries)
        if entry is not None:
            return entry
        close = closest(key, cls._fields)
        if close:
            return close
        for name, field in cls._fields.items():
            # a table every entry has, not one of a format's or a mode's own
            if isinstance(field, Section) and not field.optional and key in field.schema._fields:
                return f"{name}.{key}"
        return None

    @classmethod
    def _entry_order(cls, data: Mapping[str, Any]) -> tuple[str, ...]:
        """The arrays of tables (``_per_entry``) in which a key of their entries written in
        this table (``data``) is looked for, in order: the first that has it is told."""
        return cls._per_entry

    @classmethod
    def _entry_key(cls, key: str, entries: tuple[str, ...]) -> str | None:
        """Where ``key``, written in this table, belongs when it is a key of each entry of
        the first of ``entries`` (arrays of tables of ``_per_entry``) whose entries take it,
        or of a table every such entry has:
        ``channels[].window``, ``channels[].normalize.scale``. None for a key that a table
        of this one's own takes (``units``: ``parse.units``)."""
        if any(
            isinstance(field, Section) and not field.optional and key in field.schema._fields
            for field in cls._fields.values()
        ):
            return None
        for name in entries:
            entry = cls._fields[name]
            assert isinstance(entry, SectionList)
            if key in entry.schema._fields:
                return f"{name}[].{key}"
            for inner, field in entry.schema._fields.items():
                if (
                    isinstance(field, Section)
                    and not field.optional
                    and key in field.schema._fields
                ):
                    return f"{name}[].{inner}.{key}"
        return None

    @classmethod
    def _entry_hint(cls, key: str, meant: str, data: Mapping[str, Any]) -> str:
        """The words after "unknown key" for ``key`` of this table that belongs in each entry
        of an array of tables (``meant``, from ``_entry_key``): where, with an entry that
        holds it as written, named as the first entry given is (``channels = [{ name =
        "level", window = { size = 10 } }]``)."""
        name, _, inner = meant.partition("[].")
        entry = cls._fields[name]
        assert isinstance(entry, SectionList)
        given = data.get(name)
        first = given[0] if isinstance(given, list) and given else None
        keys = [
            f"{required} = {toml_value(first[required])}"
            if isinstance(first, Mapping) and required in first
            else f"{required} = ..."
            for required, field in entry.schema._fields.items()
            if field.required and required != key
        ]
        value = toml_value(data[key])
        # an optional table of this one's own that takes the key for every entry (a Modbus
        # device's word_order in modbus = { ... })
        shared = [
            f"{table} = {{ {key} = {value} }}"
            for table, field in cls._fields.items()
            if isinstance(field, Section) and field.optional and key in field.schema._fields
        ]
        written = key
        for table in reversed(inner.split(".")[:-1]):  # normalize.scale: { scale = 2 }
            value = f"{{ {written} = {value} }}"
            written = table
        keys.append(f"{written} = {value}")
        also = f", or for every entry in {shared[0]}" if shared else ""
        return (
            f"; {inner.rpartition('.')[2]!r} belongs in each entry of {name} ({meant}), as in "
            f"{name} = [{{ {', '.join(keys)} }}]{also}"
        )

    @classmethod
    def _below_header_hint(cls, key: str, value: object, path: str) -> str:
        """The words after "unknown key" for ``key`` (given ``value``) of this table at
        ``path`` when it is a key of each entry of one of its ``_below_header`` arrays of
        tables, or of their entries' own tables or arrays (``format``, ``baudrate``:
        ``serial.baudrate``, ``window``: ``channels[].window``), which is given in this table
        when it is written above the entries' headers: the header to write it below, with the
        key as written there (``serial = { baudrate = 9600 }``). A key that a table of this
        one's own takes with that value as well (``format = "json"``: ``log.format``, and
        each sensor's ``format``) is told both places. "" for any other key, for one only a
        table of this one's own takes with that value (``level = "debug"``: ``log.level``),
        and for one whose value is of the type that table's key takes but not the entries'
        key (``port = 70000``: ``http.port`` out of its range, no sensor's port, which is a
        text)."""
        typed = False  # a table of this one's own has the key and takes a value of this type
        taken = ""  # the key of a table of this one's own that takes the value as it is
        for name, field in cls._fields.items():
            own = field.schema._fields.get(key) if isinstance(field, Section) else None
            if own is not None:
                try:
                    own.validate(value)
                except TypeError:
                    continue
                except ValueError:
                    typed = True
                    continue
                taken = f"{name}.{key}"
                break
        header = re.sub(r"\[\d+\]", "", f"{path}." if path else "")
        for name in cls._below_header:
            entry = cls._fields[name]
            assert isinstance(entry, SectionList)
            synonym = key.lower() in entry.schema._synonyms
            meant = key if key in entry.schema._fields else entry.schema._meant_for(key)
            if meant is None or (meant.rpartition(".")[2] != key and not synonym):
                continue  # no such key, or one of a close spelling: not a key written here
            if (typed or taken) and _refuses_type(entry.schema, meant, value):
                return ""
            inner, _, written = meant.rpartition("[].")  # channels[].window: in each channel
            array = f"{header}{name}.{inner}" if inner else f"{header}{name}"
            last = array.rpartition(".")[2]
            noun = last[:-1] if last.endswith("s") else "entry"
            parts = written.split(".")
            shown_key, example = parts[-1], toml_value(value)
            for table in reversed(parts[:-1]):  # serial.baudrate: serial = { baudrate = 9600 }
                shown_key, example = table, f"{{ {shown_key} = {example} }}"
            what = f"stands for {written!r}, a key" if synonym else "is a key"
            if taken:
                return (
                    f"; did you mean {taken!r}, or the key of each {noun} "
                    f"({name}[].{meant})? That one goes below the [[{array}]] header of each "
                    f"{noun} it is meant for, as {shown_key} = {example}"
                )
            return (
                f"; {key!r} {what} of each {noun} ({name}[].{meant}), not of "
                f"{path or 'the top level'}: write it below the [[{array}]] header of each "
                f"{noun} it is meant for, as {shown_key} = {example}"
            )
        return ""

    def check_partial(self) -> list[tuple[str, str]]:
        """The ``check()`` problems that do not depend on the fields that failed to load
        (their attributes are unset), for a table that has errors of its own: none by default.
        A subclass returns those of its checks that read only fields which loaded, so that
        a second, independent mistake is reported in the same run, and never one that only
        follows from the first."""
        return []

    # -- comparison and display ----------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self._fields:
            value = getattr(self, name)
            if isinstance(value, Schema):
                value = value.as_dict()
            elif isinstance(value, tuple) and any(isinstance(v, Schema) for v in value):
                value = [v.as_dict() if isinstance(v, Schema) else v for v in value]
            out[name] = value
        return out

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Schema)
        return self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._fields)
        return f"{type(self).__name__}({inner})"


def _refuses_type(schema: type[Schema], meant: str, value: object) -> bool:
    """True when the key of ``schema`` at ``meant`` (``serial.baudrate``,
    ``channels[].window``) takes no value of the type of ``value``; False for a table or an
    array of tables, whose values are checked key by key."""
    *tables, last = meant.replace("[]", "").split(".")
    for name in tables:
        table = schema._fields.get(name)
        if not isinstance(table, Section | SectionList):
            return False
        schema = table.schema
    field = schema._fields.get(last)
    if field is None or isinstance(field, Section | SectionList | SectionOrStrList):
        return False
    try:
        field.validate(value)
    except TypeError:
        return True
    except ValueError:
        return False
    return False


def _tell_misplaced(
    errors: list[str], start: int, misplaced: Mapping[str, tuple[str, str, bool]], path: str
) -> None:
    """Tell, in the lines of ``errors`` from ``start`` on, where each key of ``misplaced``
    (``Schema._misplaced_keys``) belongs."""
    if misplaced:
        errors[start:] = [_misplaced(line, misplaced, path) for line in errors[start:]]


def _misplaced(line: str, misplaced: Mapping[str, tuple[str, str, bool]], path: str) -> str:
    """``line`` told, when it is the unknown-key error of a key of the table at ``path``
    written after the header of one of its tables (``misplaced``: its path, to the key and
    the header), where the key belongs."""
    if (
        not isinstance(line, Problem)
        or line.key not in misplaced
        or not line.message.startswith("unknown key")
    ):
        return line
    key, header, given = misplaced[line.key]
    where = (
        f"{path or 'the top level'} has it above already: keep one, above the first table "
        f"header of {path or 'the file'}"
        if given
        else f"write it above the first table header of {path or 'the file'}"
    )
    return Problem(
        line.key,
        f"unknown key; {key!r} is a key of {path or 'the top level'}, but the keys after a "
        f"{header} header belong to that table: {where}",
    )


def _load_list(
    field: SectionList[Any] | SectionOrStrList[Any], value: object, path: str, errors: list[str]
) -> tuple[Any, ...] | None:
    strings = isinstance(field, SectionOrStrList)
    keep_partial = isinstance(field, SectionList) and field.keep_partial
    if not isinstance(value, list):
        header = re.sub(r"\[\d+\]", "", path)  # sensors[0].channels: [[sensors.channels]]
        what = "an array" if strings else f"an array of tables ([[{header}]])"
        errors.append(Problem(path, f"must be {what}, got {got(value)}"))
        return None
    items = []
    ok = True
    for i, item in enumerate(value):
        if strings and not isinstance(item, Mapping):
            items.append(item)  # a name: the descriptor checks it
            continue
        loaded = field.schema.load_partial(item, f"{path}[{i}]", errors)
        ok = ok and loaded is not None and loaded.complete
        if loaded is None and keep_partial:  # no table: an item none of whose fields loaded
            loaded = object.__new__(field.schema)
            loaded.complete = False
        items.append(loaded)
    return tuple(items) if ok or keep_partial else None
