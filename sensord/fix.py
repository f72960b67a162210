"""A receiver's fix, as a sensor's housekeeping judges it from its sentences.

An NMEA/GNSS receiver that loses its fix keeps sending sentences, so its sensor stays up
and only the values of a fix stop. ``FixWatch`` compares, at each housekeeping pass of the
sensor (``SensorRuntime.remind``, never per chunk), the decoder's counts of sentences that
say the receiver has a fix and that it has none (``DecoderCounts.fixes``, ``no_fixes``):
it logs the fix lost and regained (each change, or once a minute while it flaps), and
gives the ``/status`` hint of a sensor without one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from structlog.typing import FilteringBoundLogger

from sensord.formats.base import DecoderCounts
from sensord.log import StateChanges

__all__ = ["FIX_LOST_AFTER_S", "NO_FIX_HINT", "FixWatch"]

#: What a receiver without a fix (NMEA GGA fix quality 0, RMC status V) means, and what to
#: check: the values of a fix are not read meanwhile, and the last ones age.
NO_FIX_HINT = (
    "its position and the other values of a fix are not read meanwhile (they have no "
    "sensord_reading_value, the time of the last ones ageing: "
    "sensord_reading_timestamp_seconds); check its antenna (its cable and a clear view of the "
    "sky), or wait for a start to find its satellites"
)

#: How long a receiver's sentences say it has no fix, none saying it has one, before its fix
#: counts as lost (``FixWatch.watch``): a few epochs, so that a fix lost for a moment or
#: sentences that disagree within an epoch do not flap.
FIX_LOST_AFTER_S = 3.0


class FixWatch:
    """A receiver's fix: None until its sentences tell, since when it has been so, when
    housekeeping last saw a sentence say it has a fix (or the port opened), and the
    decoder's counts then; its changes (each logged, or once a minute while it
    flaps: a marginal antenna, an urban canyon, for days)."""

    __slots__ = ("_changes", "_counts", "_fix", "_last_fix_at", "_log", "_seen", "_since")

    def __init__(
        self,
        counts: DecoderCounts,
        log: FilteringBoundLogger,
        clock: Callable[[], float],
        at: float,
    ) -> None:
        self._counts = counts
        self._log = log
        self._changes = StateChanges(clock=clock)
        self._fix: bool | None = None
        self._since = self._last_fix_at = at
        self._seen = (0, 0)

    def opened(self, at: float) -> None:
        """The port opened at ``at``: the fix is the new connection's to tell (the receiver
        may have been replaced)."""
        counts = self._counts
        self._fix, self._seen = None, (counts.fixes, counts.no_fixes)
        self._since = self._last_fix_at = at

    def watch(self, now: float) -> bool:
        """The receiver's sentences that tell its fix changed since housekeeping last looked.
        One that says it has a fix keeps (or brings back) the fix; the fix is lost when
        sentences say it has none and none has said it has one for :data:`FIX_LOST_AFTER_S`
        (so two receivers on a multiplexer, one with a fix, or a receiver whose GGA and RMC
        disagree within an epoch, do not flap). A fix lost is a warning (one never had since
        the port opened, as after a cold start, is told at info); one regained is told with
        how long it was lost. True when the fix is lost at ``now``: the values of a fix
        (``DecoderCounts.fix_channels``) are no current ones."""
        counts = self._counts
        fixes, no_fixes = self._seen
        if (counts.fixes, counts.no_fixes) == (fixes, no_fixes):
            return False
        self._seen = (counts.fixes, counts.no_fixes)
        if counts.fixes > fixes:
            self._last_fix_at = now
            if self._fix is False:
                held = self._changes.change()
                if held is not None:
                    self._log.info(
                        "fix regained",
                        lost_for_s=round(now - self._since, 1),
                        **self._suppressed(held),
                    )
            if self._fix is not True:
                self._fix, self._since = True, now
            return False
        if (
            counts.no_fixes > no_fixes
            and self._fix is not False
            and now - self._last_fix_at >= FIX_LOST_AFTER_S
        ):
            had = self._fix
            self._fix, self._since = False, self._last_fix_at
            held = self._changes.change()
            if held is not None:
                (self._log.warning if had else self._log.info)(
                    "fix lost" if had else "receiver reports no fix",
                    hint=NO_FIX_HINT,
                    **self._suppressed(held),
                )
            return True
        return False

    def _suppressed(self, held: int) -> dict[str, Any]:
        """The ``suppressed`` field of a fix line while the fix flaps."""
        return {"suppressed": held} if self._changes.flapping or held else {}

    def settled(self) -> None:
        """A fix that flapped and has kept its state for a minute: that state is logged (its
        change may have been held back), and the changes are logged again."""
        if not self._changes.flapping:
            return
        held = self._changes.settled()
        if held is None:
            return
        fix = self._fix is not False
        (self._log.info if fix else self._log.warning)(
            "fix steady again",
            fix=fix,
            for_s=self._changes.window_s,
            suppressed=held,
            **({} if fix else {"hint": NO_FIX_HINT}),
        )

    def hint(self, now: float) -> str | None:
        """The ``/status`` hint of a receiver without a fix (None: it has one, or has not
        told yet)."""
        if self._fix is not False:
            return None
        return (
            f"the receiver reports no fix (for {max(0.0, now - self._since):.0f} s): {NO_FIX_HINT}"
        )
