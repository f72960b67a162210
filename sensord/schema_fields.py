"""Validating descriptors: the fields the configuration's tables are declared with.

A descriptor validates on every assignment, so an invalid value never reaches storage::

    class WindowConfig(Schema):
        size = Int(min=1, max=10_000, default=60)

    w = WindowConfig()
    w.size = 0        # ValueError: must be in [1, 10000], got 0

Each field checks one value (its type, range, pattern or choices) and says what is wrong
without a key path: ``TypeError`` or ``ValueError`` whose text ``Schema.load`` puts after the
key's path. ``Section``, ``SectionList`` and ``SectionOrStrList`` hold tables of a
``sensord.schema.Schema`` class; this module knows such a class by its fields alone
(``_Table``) and does not import the loader. A value in a message is shown as
``sensord.schema_values`` writes it.
"""

from __future__ import annotations

import contextlib
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar, overload

from sensord.names import closest
from sensord.schema_values import (
    as_written,
    fmt,
    got,
    key_text,
    read_bare,
    toml_value,
    type_name,
    unquoted,
    whole_float,
)

__all__ = [
    "Bool",
    "Bytes",
    "BytesList",
    "Choice",
    "Field",
    "Float",
    "Hex",
    "HexList",
    "Int",
    "IntOrHex",
    "IntOrHexList",
    "NumberList",
    "NumberTable",
    "Section",
    "SectionList",
    "SectionOrStrList",
    "Str",
    "StrList",
    "UnloadedFieldError",
]


class _Table(Protocol):
    """A table's class as the fields that hold its tables know it (``sensord.schema.Schema``
    and its subclasses): its fields by name."""

    _fields: ClassVar[dict[str, Field[Any]]]


T = TypeVar("T")
S = TypeVar("S", bound=_Table)

_MISSING: Any = object()


class UnloadedFieldError(Exception):
    """A field of ``obj`` was read that holds no value: one that failed to load (``Schema.load``
    builds a table with errors without it, for ``check_partial``).

    It is no AttributeError on purpose: ``hasattr(obj, name)`` and ``getattr(obj, name,
    default)`` let it through instead of taking the field for absent, so a check that reads
    such a field, however it reads it, is left out by ``Schema.run_checks`` and never runs on
    a stand-in value."""

    def __init__(self, obj: object, name: str) -> None:
        super().__init__(f"{type(obj).__name__}.{name} holds no value (it failed to load)")
        self.obj = obj
        self.name = name


class Field(ABC, Generic[T]):
    """A validating data descriptor.

    ``default`` may be a value or, with ``factory=True``, a zero-argument callable. A field
    without a default is required. ``optional=True`` allows ``None`` (and makes it the default
    unless another default is given).
    """

    def __init__(
        self,
        *,
        default: Any = _MISSING,
        optional: bool = False,
        doc: str = "",
        when_missing: str = "",
    ) -> None:
        self.optional = optional
        #: what the error of a required key that is missing goes on to say (what to add)
        self.when_missing = when_missing
        if default is _MISSING and optional:
            default = None
        self.default = default
        self.doc = doc
        self.name = ""
        self._attr = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self._attr = "_f_" + name

    @overload
    def __get__(self, obj: None, _objtype: type | None = None) -> Self: ...
    @overload
    def __get__(self, obj: object, _objtype: type | None = None) -> T: ...
    def __get__(self, obj: object | None, _objtype: type | None = None) -> Self | T:
        if obj is None:
            return self
        try:
            value: T = getattr(obj, self._attr)
        except AttributeError:
            raise UnloadedFieldError(obj, self.name) from None
        return value

    def __set__(self, obj: object, value: Any) -> None:
        if value is None and self.optional:
            object.__setattr__(obj, self._attr, None)
            return
        object.__setattr__(obj, self._attr, self.validate(value))

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def default_value(self) -> Any:
        return self.default() if callable(self.default) else self.default

    @abstractmethod
    def validate(self, value: Any) -> T:
        """Return the stored form of ``value`` or raise TypeError/ValueError (no key path)."""


class Int(Field[int]):
    def __init__(self, *, min: int | None = None, max: int | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.min, self.max = min, max

    def validate(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            hint = unquoted(value, int, self.name) or whole_float(value, self.name)
            raise TypeError(f"must be an integer, got {type_name(value)} {as_written(value)}{hint}")
        _check_range(value, self.min, self.max)
        return value


class Float(Field[float]):
    """A finite number (integers are accepted). ``above`` is an exclusive lower bound;
    ``check`` returns what is wrong with a number within the bounds (a bound that reads
    better in words than as a number), or None."""

    def __init__(
        self,
        *,
        min: float | None = None,
        max: float | None = None,
        above: float | None = None,
        check: Callable[[float], str | None] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.min, self.max, self.above = min, max, above
        self.check = check

    def validate(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            hint = unquoted(value, float, self.name)
            raise TypeError(f"must be a number, got {type_name(value)} {as_written(value)}{hint}")
        try:
            number = float(value)
        except OverflowError:  # an integer beyond the float range
            number = math.inf
        if not math.isfinite(number):
            raise ValueError(f"must be a finite number, got {fmt(value)}")
        if self.above is not None and not number > self.above:
            raise ValueError(f"must be greater than {fmt(self.above)}, got {fmt(value)}")
        _check_range(number, self.min, self.max)
        if self.check is not None and (problem := self.check(number)):
            raise ValueError(problem)
        return number


def _check_range(value: float, lo: float | None, hi: float | None) -> None:
    if lo is not None and hi is not None:
        if not lo <= value <= hi:
            raise ValueError(f"must be in [{fmt(lo)}, {fmt(hi)}], got {fmt(value)}")
    elif lo is not None and value < lo:
        raise ValueError(f"must be >= {fmt(lo)}, got {fmt(value)}")
    elif hi is not None and value > hi:
        raise ValueError(f"must be <= {fmt(hi)}, got {fmt(value)}")


class Bool(Field[bool]):
    def validate(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise TypeError(
                f"must be true or false, got {type_name(value)} {as_written(value)}"
                f"{unquoted(value, bool, self.name)}"
            )
        return value


class Str(Field[str]):
    """A string; ``non_empty`` rejects blank strings, ``pattern`` must match the whole string.
    The messages of a ``secret`` one (a password) never show its value."""

    def __init__(
        self,
        *,
        non_empty: bool = True,
        pattern: str | None = None,
        pattern_doc: str = "",
        check: Callable[[str], str | None] | None = None,
        secret: bool = False,
        example: str = "",
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.secret = secret
        #: a value as it is written, for a number given where text is asked for and whose
        #: digits in quotes are no value of the key either (``port = 3``)
        self.example = example
        self.non_empty = non_empty
        self.pattern = re.compile(pattern) if pattern else None
        self.pattern_doc = pattern_doc or (pattern or "")
        self.check = check

    def validate(self, value: Any) -> str:
        if not isinstance(value, str):
            if self.secret:
                raise TypeError(f"must be a string, got {type_name(value)}")
            hint = ""
            if isinstance(value, int | float) and not isinstance(value, bool):
                # in quotes only when the quoted text is a value this key takes (not port = 4001)
                with contextlib.suppress(ValueError):
                    hint = f' (write it in quotes: "{self.validate(str(value))}")'
                if not hint and self.example:
                    key = f"{self.name} = " if self.name else ""
                    hint = f" (written as {key}{self.example})"
            raise TypeError(f"must be a string, got {type_name(value)} {as_written(value)}{hint}")
        if self.non_empty and not value.strip():
            if not value:
                raise ValueError("must not be empty")
            shown = "" if self.secret else f", got {value!r}"
            raise ValueError(f"must not be empty or white space{shown}")
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise ValueError(f"must be {self.pattern_doc}, got {value!r}")
        if self.check is not None and (problem := self.check(value)):
            raise ValueError(problem)
        return value


class Choice(Field[T]):
    """One of a fixed set of values (strings or numbers). ``meant`` maps other words for a
    choice (``"even"`` for ``"E"``, compared without case) to it, for the did-you-mean of a
    refused value; a word for a value that is none of the choices (a map shared by fields of
    fewer choices) gives no hint. With ``any_case``, a string is taken in either case and
    stored as the choice is written (``"e"`` is ``"E"``)."""

    def __init__(
        self,
        choices: Sequence[T],
        *,
        meant: Mapping[str, T] | None = None,
        any_case: bool = False,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.choices = tuple(choices)
        self.any_case = any_case
        self.meant = {
            word.lower(): choice for word, choice in (meant or {}).items() if choice in self.choices
        }

    def validate(self, value: Any) -> T:
        for choice in self.choices:
            if type(choice) is type(value) and choice == value:
                return choice
            if (
                isinstance(choice, float)
                and isinstance(value, int)
                and not isinstance(value, bool)
                and choice == value
            ):
                return choice
            if (
                self.any_case
                and isinstance(choice, str)
                and isinstance(value, str)
                and choice.casefold() == value.casefold()
            ):
                return choice
        options = ", ".join(fmt(c) for c in self.choices)
        if self.any_case:
            options += " (in either case)"
        got = fmt(value)
        kinds = {type(c) for c in self.choices}
        if type(value) not in kinds and not (type(value) is int and float in kinds):
            got = f"{type_name(value)} {as_written(value)}"  # "got float 8.0"
        if isinstance(value, str):
            hint = self._hint(value)
        elif int in kinds and float not in kinds:  # bytesize = 8.0
            hint = whole_float(value, self.name)
        else:
            hint = ""
        raise ValueError(f"must be one of {options}, got {got}{hint}")

    def _hint(self, value: str) -> str:
        """What a refused string was likely meant as: another word for a choice, a choice
        in other case, a number choice in quotes, or a choice of a close spelling."""
        text = value.strip()
        words = [c for c in self.choices if isinstance(c, str)]
        if text.lower() in self.meant:
            return f"; did you mean {fmt(self.meant[text.lower()])}?"
        for word in words:
            if word.lower() == text.lower():
                return f"; did you mean {word!r}?"
        if unquoted(text, float) and any(
            not isinstance(c, str | bool) and c == read_bare(text) for c in self.choices
        ):
            key = f"{self.name} = " if self.name else ""
            return f" (write it without quotes: {key}{text})"
        close = closest(text, words)
        return f"; did you mean {close!r}?" if close else ""


class Bytes(Field[bytes]):
    r"""A byte string written as text; backslash escapes (``\r``, ``\n``, ``\x03``) are decoded,
    also in TOML literal strings where TOML itself does not decode them."""

    def __init__(self, *, non_empty: bool = True, **kw: Any) -> None:
        super().__init__(**kw)
        self.non_empty = non_empty

    def validate(self, value: Any) -> bytes:
        if isinstance(value, bytes):
            data = value
        elif isinstance(value, str):
            data = decode_escapes(value)
        else:
            raise TypeError(f"must be a string, got {type_name(value)} {as_written(value)}")
        if self.non_empty and not data:
            raise ValueError("must not be empty")
        return data


def parse_hex(value: Any) -> bytes:
    """Bytes written in hex, pairs of digits with or without blanks between them
    (``"7E 00 FF"``, ``"7e00ff"``); TypeError or ValueError saying what is wrong."""
    if not isinstance(value, str):
        raise TypeError(
            f"must be a string of hex bytes, got {type_name(value)} {as_written(value)}"
        )
    try:
        data = bytes.fromhex(value)
    except ValueError:
        raise ValueError(f'must be bytes in hex such as "7E 00 FF", got {value!r}') from None
    if not data:
        raise ValueError("must not be empty")
    return data


class Hex(Field[bytes]):
    """A non-empty byte string written in hex (``"7E 00 02 01 03 F9 7E"``); ``text_key``
    names the key that takes the same as text, told when the value is none."""

    def __init__(self, *, text_key: str = "", **kw: Any) -> None:
        super().__init__(**kw)
        self.text_key = text_key

    def validate(self, value: Any) -> bytes:
        if isinstance(value, bytes) and value:
            return value
        try:
            return parse_hex(value)
        except ValueError as exc:
            if not self.text_key or not isinstance(value, str) or not value:
                raise
            raise ValueError(f"{exc} (text with escapes goes in {self.text_key})") from None


class HexList(Field[tuple[bytes, ...]]):
    """Byte strings written in hex: one string, or an array of them (default: none)."""

    #: what one item is, for the message of a value that is neither a string nor an array
    items_are = "a string of hex bytes"

    def __init__(self, *, text_key: str = "", **kw: Any) -> None:
        kw.setdefault("default", ())
        super().__init__(**kw)
        self.text_key = text_key

    def parse(self, item: Any) -> bytes:
        """One item's bytes; TypeError or ValueError saying what is wrong."""
        try:
            return parse_hex(item)
        except ValueError as exc:
            if not self.text_key or not isinstance(item, str) or not item:
                raise
            raise ValueError(f"{exc} (text with escapes goes in {self.text_key})") from None

    def validate(self, value: Any) -> tuple[bytes, ...]:
        if isinstance(value, tuple) and all(isinstance(v, bytes) and v for v in value):
            return value
        items = [value] if isinstance(value, str | bytes) else value
        if not isinstance(items, list):
            raise TypeError(f"must be {self.items_are} or an array of them, got {got(value)}")
        out = []
        for i, item in enumerate(items):
            try:
                out.append(self.parse(item))
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"item {i} {exc}" if len(items) > 1 else str(exc)) from None
        return tuple(out)


class IntOrHex(Field[int | bytes]):
    """An integer in ``min..max`` (``3``, ``0x95``), or a non-empty byte string written in
    hex (``"95 08 01"``)."""

    def __init__(self, *, min: int | None = None, max: int | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.min, self.max = min, max

    def validate(self, value: Any) -> int | bytes:
        if isinstance(value, str):
            return parse_hex(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(
                f"must be an integer or a string of hex bytes, got {type_name(value)} "
                f"{as_written(value)}"
            )
        _check_range(value, self.min, self.max)
        return value


class IntOrHexList(Field[int | bytes | tuple[int | bytes, ...]]):
    """What :class:`IntOrHex` takes, or a non-empty array of such values
    (``[0x8001, "80 81"]``): one value, or an array of one, is kept as that value, an array
    of more as a tuple."""

    def __init__(self, *, min: int | None = None, max: int | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.item = IntOrHex(min=min, max=max)

    def _one(self, value: Any) -> int | bytes:
        if isinstance(value, bytes) and value:  # a value as it is stored
            return value
        return self.item.validate(value)

    def validate(self, value: Any) -> int | bytes | tuple[int | bytes, ...]:
        if not isinstance(value, list | tuple):
            try:
                return self._one(value)
            except TypeError:
                raise TypeError(
                    "must be an integer, a string of hex bytes or an array of them, got "
                    f"{type_name(value)} {as_written(value)}"
                ) from None
        if not value:
            raise ValueError("must not be an empty array")
        items = []
        for i, item in enumerate(value):
            try:
                items.append(self._one(item))
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"item {i} {exc}") from None
        return items[0] if len(items) == 1 else tuple(items)


class BytesList(HexList):
    r"""Byte strings written as text with escapes (``' K 00001\r\n'``), as :class:`Bytes`:
    one string, or an array of them (default: none)."""

    items_are = "a string"

    def parse(self, item: Any) -> bytes:
        return _ONE_STRING.validate(item)


_ONE_STRING = Bytes()

#: The escapes ``unicode_escape`` decodes without a warning (octal up to \377).
_VALID_ESCAPE = re.compile(
    r"\\(?:[\n\\'\"abfnrtv]|[0-3][0-7]{2}|[0-7]{1,2}(?![0-7])"
    r"|x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|N\{[^}]+\})"
)


def decode_escapes(text: str) -> bytes:
    r"""``'READ?\r\n'`` -> ``b'READ?\r\n'``. Python's string escapes are understood; raises
    ValueError for characters above U+00FF and for unknown escapes such as ``\d``."""
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ValueError(f"must contain only characters U+0000..U+00FF, got {text!r}") from exc
    if b"\\" not in raw:
        return raw
    if "\\" in _VALID_ESCAPE.sub("", text):  # the codec would keep it and only warn
        raise ValueError(f"has an invalid escape sequence: {text!r}")
    try:
        return raw.decode("unicode_escape").encode("latin-1")
    except (UnicodeDecodeError, UnicodeEncodeError) as exc:
        raise ValueError(f"has an invalid escape sequence: {text!r}") from exc


class StrList(Field[tuple[str, ...]]):
    """An array of non-empty strings; with ``lone``, a string alone is an array of one. An
    empty array is refused with ``empty_problem`` when one is given (an array that would read
    as if the key were left out); the stored default, an empty tuple, is none given."""

    def __init__(
        self, *, unique: bool = True, lone: bool = False, empty_problem: str = "", **kw: Any
    ) -> None:
        kw.setdefault("default", ())
        super().__init__(**kw)
        self.unique = unique
        self.lone = lone
        self.empty_problem = empty_problem

    def validate(self, value: Any) -> tuple[str, ...]:
        if self.lone and isinstance(value, str):
            if not value.strip():
                raise ValueError("must not be empty")
            value = (value,)
        if not isinstance(value, list | tuple):
            what = "a string or an array of strings" if self.lone else "an array of strings"
            hint = ""
            if isinstance(value, str) and value.strip():
                # "a,b" written for two strings: each of them, in the array
                parts = [part.strip() for part in value.split(",")]
                items = parts if len(parts) > 1 and all(parts) else [value]
                key = f"{self.name} = " if self.name else ""
                hint = f" (as an array: {key}{toml_value(items)})"
            raise TypeError(f"must be {what}, got {got(value)}{hint}")
        if isinstance(value, list) and not value and self.empty_problem:
            raise ValueError(self.empty_problem)
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise ValueError(f"item {i} must be a non-empty string, got {fmt(item)}")
        if self.unique:
            seen: set[str] = set()
            for item in value:
                if item in seen:
                    raise ValueError(f"has {item!r} twice")
                seen.add(item)
        return tuple(value)


class NumberList(Field[tuple[int | float, ...]]):
    """An array of finite numbers (a lone number is taken as an array of one); integers stay
    integers, so values beyond a float's 53-bit mantissa (a uint64 such as 0xFFFFFFFFFFFFFFFF)
    keep every bit."""

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("default", ())
        super().__init__(**kw)

    def validate(self, value: Any) -> tuple[int | float, ...]:
        items = value if isinstance(value, list | tuple) else [value]
        for i, item in enumerate(items):
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise TypeError(
                    f"must be a number or an array of numbers, got {type_name(item)} "
                    f"{fmt(item)}" + ("" if items is not value else f" at item {i}")
                )
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"must be finite numbers, got {fmt(item)}")
        return tuple(items)


class NumberTable(Field[tuple[tuple[str, int | float], ...]]):
    """A table of texts, each with a finite number (``{ ON = 1, OFF = 0 }``), kept in the
    order written; a text is non-empty and without spaces at its ends (a key that a device's
    value, stripped, could never be). An empty table is refused with ``empty_problem`` when
    one is given (a table that would read as if the key were left out)."""

    def __init__(self, *, empty_problem: str = "", **kw: Any) -> None:
        kw.setdefault("default", ())
        super().__init__(**kw)
        self.empty_problem = empty_problem

    def validate(self, value: Any) -> tuple[tuple[str, int | float], ...]:
        if isinstance(value, tuple) and all(isinstance(p, tuple) for p in value):
            if not value:  # the default: none given
                return ()
            value = dict(value)  # the stored form, given back by Schema.replace
        if not isinstance(value, Mapping):
            raise TypeError(
                f"must be a table of texts and their numbers ({{ ON = 1, OFF = 0 }}), got "
                f"{type_name(value)} {as_written(value)}"
            )
        if not value and self.empty_problem:
            raise ValueError(self.empty_problem)
        for key, item in value.items():
            if not isinstance(key, str) or not key.strip():
                raise ValueError(f"a key must be a non-empty text, got {fmt(key)}")
            if key != key.strip():
                raise ValueError(
                    f"key {key!r} has spaces at its ends, which a value loses before it is "
                    f"looked up: write {key.strip()!r}"
                )
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise TypeError(
                    f"{key_text(key)} must be a number, got {type_name(item)} {fmt(item)}"
                )
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"{key_text(key)} must be a finite number, got {fmt(item)}")
        return tuple(value.items())


class Section(Field[S]):
    """A nested table described by another Schema class.

    With ``keep_partial``, a table with errors holds its fields as far as they loaded
    (``Schema.complete`` False) when the outer table's ``check_partial`` runs, so that the
    checks across tables can read them (a Modbus device's unit id, compared with the others of
    its bus, while its timeout is out of range)."""

    def __init__(self, schema: type[S], *, keep_partial: bool = False, **kw: Any) -> None:
        if "default" not in kw and not kw.get("optional"):
            kw["default"] = schema
        super().__init__(**kw)
        self.schema = schema
        self.keep_partial = keep_partial

    def validate(self, value: Any) -> S:
        if not isinstance(value, self.schema):
            raise TypeError(f"must be a {self.schema.__name__}, got {type(value).__name__}")
        return value


class SectionList(Field[tuple[S, ...]]):
    """An array of tables, each described by the same Schema class (required when
    ``min_items`` > 0).

    With ``keep_partial``, a table whose items do not all load holds them as far as they
    loaded (``Schema.complete`` False for those with errors, and an item that is no table
    with no field at all) when its ``check_partial`` runs, so that it can check what they
    have in common."""

    def __init__(
        self,
        schema: type[S],
        *,
        min_items: int = 0,
        max_items: int = 10_000,
        keep_partial: bool = False,
        **kw: Any,
    ) -> None:
        if min_items == 0:
            kw.setdefault("default", ())
        super().__init__(**kw)
        self.schema = schema
        self.min_items, self.max_items = min_items, max_items
        self.keep_partial = keep_partial

    def validate(self, value: Any) -> tuple[S, ...]:
        if not isinstance(value, list | tuple):
            raise TypeError(f"must be an array of tables, got {got(value)}")
        if not self.min_items <= len(value) <= self.max_items:
            if self.min_items and not value:
                raise ValueError("needs at least one entry")
            raise ValueError(
                f"must have {self.min_items}..{self.max_items} entries, got {len(value)}"
            )
        for item in value:
            if not isinstance(item, self.schema):
                raise TypeError(f"items must be {self.schema.__name__}")
        return tuple(value)


class SectionOrStrList(Field[tuple[S | str, ...]]):
    """An array whose items are strings (names, kept as they are) or tables described by one
    Schema class, in any order (default: empty)."""

    def __init__(self, schema: type[S], *, max_items: int = 10_000, **kw: Any) -> None:
        kw.setdefault("default", ())
        super().__init__(**kw)
        self.schema = schema
        self.max_items = max_items

    def validate(self, value: Any) -> tuple[S | str, ...]:
        if not isinstance(value, list | tuple):
            raise TypeError(f"must be an array, got {got(value)}")
        if len(value) > self.max_items:
            raise ValueError(f"must have at most {self.max_items} entries, got {len(value)}")
        for i, item in enumerate(value):
            if isinstance(item, str):
                if not item.strip():
                    raise ValueError(f"item {i} must be a non-empty string")
            elif not isinstance(item, self.schema):
                raise TypeError(f"item {i} must be a string or a table, got {type_name(item)}")
        return tuple(value)
