"""A sensor's figures at one moment (``sensor_snapshot``): the ``SensorSnapshot`` that
``/metrics`` and ``/status`` both render, so they cannot disagree on what a counter means. Its
state and counters, its parse errors with the framer's rejections and the readings its stages
drop for a reason of :data:`STAGE_REJECT_REASONS`, its steps' counters summed over its channels
and the chains a reload replaced (``add_step``), each channel's window, and the one ``/status``
hint that says first what is wrong: why it is stale, a rejected frame, a Modbus refusal, a
device's fault status, an unanswered request, a filter that drops every reading, a receiver
without a fix, a simulation standing in for an absent device, after another process found on
its port. ``SensorRuntime.snapshot`` takes it between two chunks of the reader thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from sensord.config_sensor import SensorConfig
from sensord.fix import FixWatch
from sensord.formats.base import DecoderCounts, Framer
from sensord.rejects import FrameRejects
from sensord.sensor_channels import ChannelRuntime
from sensord.snapshot import ChannelSnapshot, SensorSnapshot, StepSnapshot
from sensord.sources.echo import EchoCounts
from sensord.uart import LineErrors
from sensord.watches import FILTERED_HINT, FilterWatch

if TYPE_CHECKING:  # loaded by the sensors that use them
    from sensord.dialogue import Dialogue
    from sensord.modbus_state import ModbusCounters

__all__ = ["STAGE_REJECT_REASONS", "SnapshotSensor", "add_step", "sensor_snapshot"]


class WarmingUp(Protocol):
    """What ``sensor_snapshot`` reads of a sensor's warm-up (``sensord.warm_up.WarmUp``)."""

    @property
    def until(self) -> float:
        """Until when the device warms up (-inf: it does not)."""
        ...


class Withholding(Protocol):
    """What ``sensor_snapshot`` reads of the values a sensor's device withholds
    (``sensord.sensor_withheld.WithheldValues``)."""

    @property
    def faults(self) -> dict[str, float]:
        """The channels its status withholds, each since when."""
        ...

    @property
    def fault_detail(self) -> str:
        """The last withholding its status told."""
        ...

    @property
    def unmeasured(self) -> dict[str, str]:
        """The channels whose register reads no number from the first read on, with why."""
        ...


class SnapshotSensor(Protocol):
    """What ``sensor_snapshot`` reads of a sensor (``SensorRuntime``): each member read
    only."""

    # what it is, and its state
    @property
    def name(self) -> str: ...
    @property
    def config(self) -> SensorConfig: ...
    @property
    def simulated(self) -> bool: ...
    @property
    def state(self) -> str: ...
    @property
    def state_since(self) -> float: ...
    @property
    def _clock(self) -> Callable[[], float]: ...
    @property
    def _stale_after_s(self) -> float: ...
    @property
    def _warm(self) -> WarmingUp: ...
    # its frames and bytes
    @property
    def framer(self) -> Framer: ...
    @property
    def decoder_counts(self) -> DecoderCounts: ...
    @property
    def last_frame_at(self) -> float | None: ...
    @property
    def _frame_before_open(self) -> float | None: ...
    @property
    def bytes_read(self) -> int: ...
    @property
    def bus_skipped_bytes(self) -> int: ...
    @property
    def ignored(self) -> int: ...
    @property
    def parse_errors(self) -> dict[str, int]: ...
    # its channels, and the counters of the chains a reload replaced
    @property
    def _channel_list(self) -> tuple[ChannelRuntime, ...]: ...
    @property
    def _retired_steps(self) -> dict[str, StepSnapshot]: ...
    # its port's counters
    @property
    def reconnects(self) -> int: ...
    @property
    def silent_reconnects(self) -> int: ...
    @property
    def idle_reopens(self) -> int: ...
    @property
    def open_failures(self) -> int: ...
    @property
    def pipeline_errors(self) -> int: ...
    @property
    def _last_error_at(self) -> float | None: ...
    @property
    def line(self) -> LineErrors: ...
    @property
    def local_echo(self) -> EchoCounts | None: ...
    @property
    def peer_shared(self) -> bool: ...
    # what tells its hint
    @property
    def stale_hint(self) -> str | None: ...
    @property
    def rejects(self) -> FrameRejects: ...
    @property
    def modbus(self) -> ModbusCounters | None: ...
    @property
    def dialogue(self) -> Dialogue | None: ...
    @property
    def _withheld(self) -> Withholding: ...
    @property
    def _filter_watch(self) -> FilterWatch: ...
    @property
    def _fix_watch(self) -> FixWatch: ...

    @property
    def last_error(self) -> str:
        """The last error of its port or device ("" for none yet)."""
        ...

    @property
    def poll_timeouts(self) -> int:
        """Poll requests its device left unanswered."""
        ...

    @property
    def setup_ack_errors(self) -> dict[str, int]:
        """Set-up commands whose acknowledgement failed, by reason."""
        ...

    @property
    def setup_reruns(self) -> int:
        """Runs of its set-up while the port stayed open."""
        ...

    def _port_shared(self) -> str | None:
        """What was found of another process on its port (None: nothing)."""
        ...

    def _with_shared(self, hint: str | None) -> str | None:
        """``hint`` after what was found on its port."""
        ...


def sensor_snapshot(sensor: SnapshotSensor) -> SensorSnapshot:
    """Every figure of ``sensor`` as it stands (``SensorRuntime.snapshot`` takes it between
    two chunks)."""
    parse_errors = dict(sensor.parse_errors)
    parse_errors["overlong"] += sensor.framer.overlong
    for reason, rejected in sensor.framer.rejected.items():
        parse_errors[reason] += rejected
    steps: dict[str, StepSnapshot] = {}
    for name, retired in sensor._retired_steps.items():
        add_step(steps, name, retired.records_in, retired.records_out, retired.dropped)
        for reason in STAGE_REJECT_REASONS:
            parse_errors[reason] += retired.dropped.get(reason, 0)
    channels: list[ChannelSnapshot] = []
    withheld = sensor._withheld
    for ch in sensor._channel_list:
        for stage in ch.chain.stages:
            dropped = stage.dropped
            for reason in STAGE_REJECT_REASONS:
                n = dropped.get(reason)
                if n:
                    parse_errors[reason] += n
            add_step(steps, stage.step, stage.records_in, stage.records_out, dropped)
        window = ch.chain.window
        unmeasured = withheld.unmeasured.get(ch.name) if withheld.unmeasured else None
        if unmeasured is not None and ch.chain.stages and ch.chain.stages[0].records_in:
            unmeasured = None  # a value came since
        channels.append(
            ChannelSnapshot(
                ch.name, window.last if window is not None else None, ch.available, unmeasured
            )
        )
    now = sensor._clock()
    hint = sensor.stale_hint if sensor.rejects.hint is None else sensor.rejects.hint
    modbus = (
        None
        if sensor.modbus is None
        else sensor.modbus.snapshot(
            sensor.config.port, now, bus_open=sensor.state in ("up", "stale")
        )
    )
    if hint is None and modbus is not None and sensor.state == "up":
        hint = modbus.refused_hint(sensor.name)
    # the reader thread changes these between chunks: each copied at once (in C, under
    # the GIL), never iterated in Python, so that no change meanwhile breaks the read
    faults = tuple(withheld.faults.values())
    filtered = tuple(sensor._filter_watch.filtered.items())
    if hint is None and faults and sensor.state == "up":
        since = min(faults)
        if now - since >= sensor._stale_after_s:
            hint = (
                f"the device reports a fault: {withheld.fault_detail}, its values withheld for "
                f"{now - since:.0f} s; its status register says they are not valid (see "
                "the device's manual for what the status means)"
            )
    if hint is None and sensor.dialogue is not None and sensor.state == "up":
        hint = sensor.dialogue.request_hint(now)
    if hint is None and filtered and sensor.state == "up":
        told = ", ".join(
            f"{name} ({dropped} in {for_s:.0f} s)" for name, (dropped, for_s) in filtered
        )
        hint = f"readings come, but the filter drops every one of {told}: {FILTERED_HINT}"
    if hint is None and sensor.state == "up":
        hint = sensor._fix_watch.hint(now)
    if (
        hint is None
        and sensor.simulated
        and sensor.config.address.is_device
        and sensor.config.simulate == "auto"
    ):
        hint = (
            f"its device {sensor.config.port} was absent when it started: the readings are "
            'simulated (simulate = "auto") until that path is there'
        )
    shared = sensor._port_shared()
    hint = sensor._with_shared(hint)
    last_frame_at = sensor.last_frame_at
    if last_frame_at is None:
        last_frame_at = sensor._frame_before_open
    return SensorSnapshot(
        name=sensor.name,
        state=sensor.state,
        state_age_s=max(0.0, now - sensor.state_since),
        simulated=sensor.simulated,
        port=sensor.config.port,
        format=sensor.config.format,
        last_frame_age_s=None if last_frame_at is None else max(0.0, now - last_frame_at),
        frames=sensor.framer.frames,
        ignored_frames=sensor.ignored
        + sensor.framer.ignored
        + (0 if sensor.dialogue is None else sensor.dialogue.unasked_replies),
        unchecked_frames=sensor.decoder_counts.unchecked,
        bytes_read=sensor.bytes_read,
        skipped_bytes=sensor.framer.skipped_bytes + sensor.bus_skipped_bytes,
        reconnects=sensor.reconnects,
        silent_reconnects=sensor.silent_reconnects,
        idle_reopens=sensor.idle_reopens,
        open_failures=sensor.open_failures,
        poll_timeouts=sensor.poll_timeouts,
        pipeline_errors=sensor.pipeline_errors,
        setup_ack_errors=dict(sensor.setup_ack_errors),
        setup_reruns=sensor.setup_reruns,
        parse_errors=parse_errors,
        last_error=sensor.last_error or None,
        last_error_age_s=None
        if sensor._last_error_at is None
        else max(0.0, now - sensor._last_error_at),
        hint=hint,
        warmup_left_s=sensor._warm.until - now if now < sensor._warm.until else None,
        steps=steps,
        channels=tuple(channels),
        line_errors=sensor.line.exported(),
        line_errors_unsupported=sensor.line.unsupported,
        port_shared=shared is not None,
        peer_shared=sensor.peer_shared,
        local_echo=None if sensor.local_echo is None else sensor.local_echo.totals(),
        modbus=modbus,
    )


#: Readings a stage drops for these reasons count as rejected readings (parse errors) too.
STAGE_REJECT_REASONS = ("range", "nonfinite")


def add_step(
    steps: dict[str, StepSnapshot],
    step: str,
    records_in: int,
    records_out: int,
    dropped: dict[str, int],
) -> None:
    """Add one stage's counters to ``steps``, its step's sums over the sensor's channels."""
    sums = steps.get(step)
    if sums is None:
        steps[step] = StepSnapshot(records_in, records_out, dict(dropped))
        return
    sums.records_in += records_in
    sums.records_out += records_out
    for reason, n in dropped.items():
        sums.dropped[reason] = sums.dropped.get(reason, 0) + n
