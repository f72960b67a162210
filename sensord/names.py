"""Names and words as a person reads them: the one of some words most like a misspelt one
(``closest``, for a did-you-mean) and the order of names with numbers in them
(``natural_key``: ``pm2`` before ``pm10``).

The configuration's messages, the commands, the formats and the bus share them; this module
imports nothing of sensord's, so none of them reaches the configuration's schema through it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["closest", "natural_key"]


def closest(word: str, words: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The one of ``words`` most like ``word`` (a misspelt key, field or command), if any is
    like it enough (difflib's close matches; ``cutoff`` between 0 and 1). difflib is imported
    by the first call: a mistake is rare, and a daemon whose configuration has none does not
    hold it."""
    import difflib  # noqa: PLC0415

    close = difflib.get_close_matches(word, list(words), n=1, cutoff=cutoff)
    return close[0] if close else None


#: A run of digits in a name (``[0-9]``: a name's digits are ASCII).
_DIGITS = re.compile(r"([0-9]+)")


def natural_key(name: str) -> tuple[tuple[str | int, ...], str]:
    """The key that orders ``name`` as a person orders names: its runs of digits compared as
    numbers (``pm2`` before ``pm10``, ``tank_2`` before ``tank_10``), names that differ only
    in leading zeros (``a1``, ``a01``) by their text."""
    parts = _DIGITS.split(name)  # text at the even places, digits at the odd ones
    return tuple(int(part) if i % 2 else part for i, part in enumerate(parts)), name
