"""The exchanges of devices that left a Modbus bus (:mod:`sensord.bus`) whose answers may
still come, and are nobody's: :class:`LeftExchange`, one of them, and
:class:`LeftExchanges`, those a bus keeps (``Bus.left``), each until its answer came or can
come no more (on RTU its ``late_until``, over Modbus TCP until its transaction id is sent
again on the connection), at most :data:`LEFT_KEPT`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from sensord.bus_device import _Device, _Exchange
from sensord.formats.modbus import MAX_FRAME_BYTES, Response

__all__ = ["LEFT_KEPT", "TRANSACTIONS_KEPT", "LeftExchange", "LeftExchanges"]

#: Modbus TCP: how many of the last transaction ids sent are remembered with their device.
TRANSACTIONS_KEPT = 64

#: How many exchanges of devices that left a bus it keeps (``Bus.left``) at most: each
#: expires by itself (see :class:`LeftExchange`); a reload that removes more devices at once
#: than this, each owing an answer, has the oldest ones' answers counted as unasked.
LEFT_KEPT = TRANSACTIONS_KEPT


@dataclass(frozen=True, slots=True)
class LeftExchange:
    """The exchange in flight of a device that left its bus (a reload removed or changed it,
    or stopped the bus to build it anew), whose answer may still come ``until`` then (later
    while the bytes of a frame that began by then arrive): the request's unit id and, over
    Modbus TCP, its transaction id; or the exchange of such a device that timed out before
    it left while its answer could still come late (``until`` when it left:
    ``LeftExchanges.owed``).
    After its timeout the answer may still come late: on RTU by ``late_until``, as the
    device's own would have (its drain: ``Bus._drain``), and a device of its unit id (the one
    a reload put in its place) is not asked before then, or once the late answer came, before
    the drain it starts ends (``Bus._left_answer``), so that the late answer is not taken for
    its own; over Modbus TCP, whose transaction id names it, for as long as a device's own
    late reply would be taken, while the connection lasts and its transaction id has not
    been sent on it again (``late_until`` infinite): until ``Bus._sent`` reaches
    ``resent_at``, hours on a busy connection, whatever the others' requests sent and
    answered meanwhile (a gateway with several serial lines serves theirs while it waits for
    this one's device). Until then an answer to it is nobody's too. ``timeout_s`` is the
    device's timeout: over Modbus TCP the start of its reply is kept that long for its rest,
    as a device's own is (``Bus._drop_partial``). ``late_limit`` is the latest that bytes
    which keep coming move ``late_until`` to (``Bus._unasked``): one drain (the device's
    timeout) after the ``late_until`` it was left with, or the time of a longest frame when
    that is longer, by when a frame that began by then is whole; another master's frames,
    which may never stop, keep it awaited no longer than that (infinite over Modbus TCP)."""

    unit: int
    transaction_id: int
    until: float
    late_until: float
    late_limit: float
    timeout_s: float
    resent_at: int = 0

    def later(self, by_s: float) -> LeftExchange:
        """The exchange awaited ``by_s`` longer: its ``until``, ``late_until`` and
        ``late_limit`` that much later."""
        return replace(
            self,
            until=self.until + by_s,
            late_until=self.late_until + by_s,
            late_limit=self.late_limit + by_s,
        )

    def answered_by(self, response: Response) -> bool:
        """Whether ``response`` is the answer to this exchange's request."""
        if self.transaction_id:
            return response.transaction_id == self.transaction_id
        return response.unit == self.unit


class LeftExchanges:
    """The exchanges of devices that left a bus (``Bus.remove``), or of the bus it replaces
    (``Bus.follow``), whose answers are nobody's (``Bus._left_answer``): ``kept``, oldest
    first (at most :data:`LEFT_KEPT`; expired ones go when it is next looked at). The
    ``sent`` its methods take is the bus's count of Modbus TCP requests sent (``Bus._sent``)."""

    def __init__(
        self, transport: str, clock: Callable[[], float], char_s: float, silence_s: float
    ) -> None:
        self.transport = transport
        self._clock = clock
        self.char_s = char_s
        self.silence_s = silence_s
        self.kept: list[LeftExchange] = []

    def leaving(self, flight: _Exchange, sent: int, slack_s: float) -> LeftExchange:
        """``flight`` as the exchange of a device that leaves: awaited until it would have
        timed out, and the silence after; its late answer until the device's drain after
        that timeout would have ended (over Modbus TCP, for as long as a device's own late
        reply would be taken: see :class:`LeftExchange`). ``slack_s`` is the port's
        (``Bus.piece_slack_s``, see :meth:`late_limit`)."""
        device = flight.device
        until = flight.deadline + self.silence_s
        if self.transport == "tcp":
            return LeftExchange(
                device.unit,
                flight.transaction_id,
                until,
                float("inf"),
                float("inf"),
                device.timeout_s,
                self.resent_at(flight.transaction_id, sent),
            )
        late_until = max(until, flight.sent_at + device.late_s + self.silence_s)
        late_until += device.timeout_s
        limit = self.late_limit(late_until, device.timeout_s, slack_s)
        return LeftExchange(
            device.unit, flight.transaction_id, until, late_until, limit, device.timeout_s
        )

    def late_limit(self, late_until: float, timeout_s: float, slack_s: float) -> float:
        """The ``late_limit`` of an RTU left exchange awaited until ``late_until``, of a
        device whose timeout is ``timeout_s`` (see :class:`LeftExchange`), on a port whose
        adapter may hold the rest of a frame ``slack_s`` past its time on the wire
        (``Bus.piece_slack_s``): a longest frame begun by ``late_until`` has been read whole
        by then."""
        frame_s = MAX_FRAME_BYTES * self.char_s + self.silence_s + slack_s
        return late_until + max(timeout_s, frame_s)

    @staticmethod
    def resent_at(transaction_id: int, sent: int) -> int:
        """What ``sent`` is once a request with ``transaction_id``, the id of one of the
        last 0xFFFF requests sent, has been sent again (Modbus TCP)."""
        return sent + 0xFFFF - (sent - transaction_id) % 0xFFFF

    def keep(self, left: list[LeftExchange], sent: int) -> None:
        """Keep the exchanges ``left`` too, dropping those expired, and the oldest beyond
        :data:`LEFT_KEPT`."""
        self.kept = (self.live(sent) + left)[-LEFT_KEPT:]

    def live(self, sent: int) -> list[LeftExchange]:
        """The exchanges of ``kept`` whose answer may still come: on RTU by their
        ``late_until``, over Modbus TCP until their transaction id is sent again on the
        connection (see :class:`LeftExchange`)."""
        if self.transport == "tcp":
            return [left for left in self.kept if sent < left.resent_at]
        now = self._clock()
        return [left for left in self.kept if left.late_until >= now]

    def later(self, by_s: float) -> None:
        """Await each exchange kept ``by_s`` longer (``LeftExchange.later``)."""
        self.kept = [left.later(by_s) for left in self.kept]

    def left_drain(self, device: _Device) -> float:
        """When ``device`` may first be asked for the answers of devices that left with its
        unit id not to be taken for its own (RTU): see :class:`LeftExchange`."""
        if self.transport != "rtu":
            return float("-inf")
        unit = device.unit
        held = [left.late_until for left in self.kept if left.unit == unit]
        return max(held, default=float("-inf"))

    def left_of(self, transaction_id: int | None, sent: int) -> LeftExchange | None:
        """The exchange of a device that left the bus whose Modbus TCP request went out on
        this connection with ``transaction_id``, unanswered so far (see
        :class:`LeftExchange`); None when there is none."""
        if not transaction_id:
            return None
        live = self.live(sent)
        return next((left for left in live if left.transaction_id == transaction_id), None)

    def take(self, response: Response, sent: int) -> LeftExchange | None:
        """The exchange whose request ``response`` answers (the first of them it answers),
        no longer kept, the expired ones dropped; None when it answers none."""
        kept = self.live(sent)
        left = next((each for each in kept if each.answered_by(response)), None)
        if left is not None:
            kept.remove(left)
        self.kept = kept
        return left

    def owed(
        self,
        device: _Device,
        unanswered: list[int],
        sent: int,
        slack_s: float,
        after: float = float("-inf"),
    ) -> list[LeftExchange]:
        """The exchanges of ``device``, which leaves, whose requests timed out and whose
        answers may still come late, as left exchanges (``until`` now): on RTU one for each
        answer it owes (``_Device.owed``: its requests that timed out, and its set-up writes
        whose one copy was the adapter's echo, ``LineEcho._echo_alone``, less its late
        frames), while its drain runs or, when its exchange in flight leaves with it, until
        that exchange's ``late_until`` (``after``), whichever is later: a device answers its
        requests in order, so what it owes comes before the answer in flight (a refusal of
        such a write comes 100 ms or more after it from a meter that stores the register
        first, while its read after it is in flight). Awaited no longer, the debt is the bus's
        (``Bus.left_owed``), awaited by nothing. Over Modbus TCP its requests unanswered on
        the connection, by their transaction ids ``unanswered``, as long as its own late
        replies would be taken (see :class:`LeftExchange`). ``slack_s`` is the port's (see
        :meth:`late_limit`)."""
        now = self._clock()
        if self.transport == "rtu":
            late_until = max(device.drain_until, after)
            if not device.owed or late_until <= now:
                return []
            timeout_s = device.timeout_s
            limit = self.late_limit(late_until, timeout_s, slack_s)
            return [
                LeftExchange(device.unit, 0, now, late_until, limit, timeout_s)
                for _ in range(device.owed)
            ]
        inf = float("inf")
        timeout_s = device.timeout_s
        return [
            LeftExchange(device.unit, t, now, inf, inf, timeout_s, self.resent_at(t, sent))
            for t in unanswered
        ]

    def arriving(self, now: float, end: float) -> set[int]:
        """Bytes came at ``now`` while no exchange is in flight, whose frame can be whole by
        ``end``: each exchange whose answer may still come is awaited for the rest of that
        frame (up to its ``late_limit``), as an exchange in flight is. The unit ids of those
        awaited later than before."""
        moved = []
        later: set[int] = set()  # the unit ids of those awaited later than before
        for left in self.kept:
            until, late_until = left.until, left.late_until
            if now <= late_until:
                ends = min(end, left.late_limit)
                until = max(until, ends) if now <= until else until
                late_until = max(late_until, ends)
                if late_until != left.late_until:
                    later.add(left.unit)
            moved.append(
                left
                if (until, late_until) == (left.until, left.late_until)
                else replace(left, until=until, late_until=late_until)
            )
        self.kept = moved
        return later
