"""The values a Modbus device leaves out of its reads (``WithheldValues``): those its status
register withholds (a fault), each since when, and the float registers that read NaN (or an
infinity) from the first read on, quantities the device does not measure.

A device on a bus hands its sensor each read decoded (``SensorRuntime.take_exchange``, and a
replayed capture's frames through its parser). A read that left values out tells which and
why (``ParseError.unavailable``; a ``StatusFaultError`` names those its status withholds):
``withheld`` keeps the channels a fault withholds, ``unmeasured_nan`` tells a register that
never held a number from a NaN now and then, and ``faults_over`` logs the values a status
withheld as they come again. ``/status`` tells a fault that lasts (``sensor_snapshot``), and
each channel the device does not measure; a reload that replaces a channel's chain keeps
what it had measured (``retired``).
"""

from __future__ import annotations

from collections.abc import Mapping

from structlog.typing import FilteringBoundLogger

from sensord.config_sensor import SensorConfig
from sensord.errors import ParseError, StatusFaultError
from sensord.log import RateLimiter
from sensord.rejects import FrameRejects
from sensord.sensor_channels import ChannelRuntime

__all__ = ["WithheldValues"]


class WithheldValues:
    """See the module docstring."""

    def __init__(
        self, log: FilteringBoundLogger, errors: RateLimiter, rejects: FrameRejects
    ) -> None:
        self._log = log
        self._errors = errors
        self._rejects = rejects
        #: the channels whose values a Modbus device's status register withholds, each since
        #: when (none of its values published since), and the last such withholding told;
        #: forgotten when no frame comes (down or stale), whose time is no fault's
        self.faults: dict[str, float] = {}
        self.fault_detail = ""
        #: channels whose float register has read NaN (or an infinity) at every read, from
        #: the first: a quantity the device does not measure, told once (``unmeasured_nan``);
        #: what each one's register held, as the read's error names it (``v_l3 is nan``)
        self.unmeasured: dict[str, str] = {}
        #: channels that had a value in a chain a reload replaced (``retired``): a NaN in
        #: their register is a value missing, not a quantity the device does not measure
        self._measured: set[str] = set()

    def withheld(self, rejected: ParseError, now: float) -> None:
        """A read at ``now`` left ``rejected.unavailable`` out: those its status withholds
        (``StatusFaultError.faulty``) are faults from now on unless they were already; the
        others, withheld by a value of their own, are not."""
        faulty: tuple[str, ...] = ()
        if isinstance(rejected, StatusFaultError):
            faulty, self.fault_detail = rejected.faulty, rejected.fault
        faults = self.faults
        if faulty or faults:
            for channel in rejected.unavailable:
                if channel in faulty:
                    faults.setdefault(channel, now)
                else:  # withheld by a value of its own, not by the status
                    faults.pop(channel, None)

    def faults_over(self, pairs: list[tuple[str, float]], now: float) -> None:
        """Channels whose values a status withheld (``faults``) have one again: logged at
        info level, at most once a minute (a status that flaps is told by its rejections)."""
        back = {}
        for channel, _ in pairs:
            since = self.faults.pop(channel, None)
            if since is not None:
                back[channel] = round(now - since, 1)
        if back:
            held = self._errors.check("fault_over")
            if held is not None:
                self._log.info(
                    "values available again: the device's status says they are valid",
                    withheld_for_s=back,
                    suppressed=held,
                )

    def unmeasured_nan(
        self,
        rejected: ParseError,
        frame: bytes,
        channels: Mapping[str, ChannelRuntime],
        config: SensorConfig,
    ) -> bool:
        """A read whose float registers left ``rejected.unavailable`` out, not finite
        (``nonfinite``): True when none of those ``channels`` ever had a value, registers that
        read NaN from the first read on (a single-phase meter's phases 2 and 3, SunSpec's
        "not implemented"): the device does not measure them. Counted and logged the first
        time each channel comes so, then no more. False (counted as any rejection) when one
        of them had a value before: a NaN now and then. Live, a read is a chunk of its own;
        replayed, a chunk holds many, whose values wait in ``values`` (had too). ``config``:
        the sensor's, whose fields name each channel's register as the error does."""
        for name in rejected.unavailable:
            channel = channels.get(name)
            if (
                channel is None
                or not channel.chain.stages
                or channel.chain.stages[0].records_in
                or channel.values
                or name in self._measured
            ):
                return False
        unmeasured = self.unmeasured
        new = [name for name in rejected.unavailable if name not in unmeasured]
        if new:
            # the error names each register once (``v_l2 is nan, v_l3 is inf``): each
            # channel keeps its own register's part
            whys = rejected.detail.split(", ")
            fields = dict(config.format_spec().fields)  # channel -> its register
            for name in new:
                held = f"{fields.get(name, name)} is "
                unmeasured[name] = next(
                    (why for why in whys if why.startswith(held)), rejected.detail
                )
            self._rejects.not_measured(rejected, frame, new)
        return True

    def retired(self, name: str, *, measured: bool, removed: bool) -> None:
        """A reload replaced the chain of channel ``name``, ``measured`` when it took a
        reading, or ``removed`` the channel: a channel that had a value is no quantity the
        device does not measure; a removed one is forgotten."""
        if measured:
            self._measured.add(name)
            self.unmeasured.pop(name, None)
        if removed:
            self.faults.pop(name, None)
            self._measured.discard(name)
            self.unmeasured.pop(name, None)
