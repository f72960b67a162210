"""Counting the calls of chosen functions while a block runs (``sys.setprofile``): what a
test of "computed once" or "never formatted" asserts on."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["calls_of"]


@contextmanager
def calls_of(*functions: Callable[..., Any]) -> Iterator[list[int]]:
    """Counts the calls of ``functions`` (Python functions: their code objects are matched)
    made on this thread meanwhile, in ``[count]``."""
    codes = {function.__code__ for function in functions}
    count = [0]

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        del arg
        if event == "call" and frame.f_code in codes:
            count[0] += 1

    sys.setprofile(profile)
    try:
        yield count
    finally:
        sys.setprofile(None)
