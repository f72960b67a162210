"""The timing of a Modbus serial line: the time one character takes at a port's settings
(:func:`char_s`), and the silence between frames (:func:`silence_s`: 3.5 character times,
:data:`FAST_SILENCE_S` above 19200 baud). The bus (:mod:`sensord.bus`) times its exchanges
with them, ``sensord modbus read`` (:mod:`sensord.probe`) its requests; a reply on its way
is read until the port's slack after the rest of it can have come (both read it with
:func:`sensord.port_slack.port_slack`: an FTDI latency timer that sysfs tells,
:func:`adapter_slack_s`; a UART's receive timeout, :func:`uart_slack_s`; a network's; else
:data:`ARRIVAL_SLACK_S`; on the bus raised to the spacing seen between a frame's pieces).
Both wait as long after a request that timed out (its device's drain, at most
:data:`LATE_DRAIN_TIMEOUTS` of its timeouts for a late answer to come; the probe no longer
than its limit while frames of the device keep coming,
:func:`sensord.probe_wire.drain_limit_s`) and after bytes nobody asked for (the line's
silence after them, while they have not kept it busy for :data:`LINE_BUSY_LIMIT_S`)."""

from __future__ import annotations

from sensord.serial_settings import SerialSettings

__all__ = [
    "ARRIVAL_SLACK_S",
    "FAST_SILENCE_S",
    "HEARD_FOR_S",
    "LATE_DRAIN_TIMEOUTS",
    "LINE_BUSY_LIMIT_S",
    "LINE_QUIET_GAP_S",
    "MAX_PIECE_SLACK_S",
    "NETWORK_SLACK_S",
    "PIECE_MARGIN_S",
    "SLACK_WINDOW_ANSWERS",
    "SLACK_WINDOW_DOUBLINGS",
    "UART_TIMEOUT_CHARS",
    "adapter_slack_s",
    "char_s",
    "silence_s",
    "uart_slack_s",
]

#: The silence between frames above 19200 baud (the Modbus serial line specification fixes it
#: there instead of scaling it further down).
FAST_SILENCE_S = 0.00175

#: How much later than its time on the wire the rest of a reply that is arriving may be read:
#: a USB adapter holds what it received up to its latency timer (16 ms by default on FTDI
#: chips) and a serial server sends it in packets; 50 ms covers both on a loaded host.
ARRIVAL_SLACK_S = 0.05

#: How much later than an FTDI adapter's latency timer the rest of a frame it began to hand
#: over may be read: its timer runs from the last piece it sent and it sends what it holds
#: when the timer runs out (FTDI AN232B-04, "Small Amounts of Data and End of Buffer
#: Conditions"); the host polls it once a USB frame (1 ms) and the kernel passes the piece on
#: to the tty in a work item, a few ms late on a loaded host.
PIECE_MARGIN_S = 0.004

#: How much later than its time on the wire the rest of a frame begun may be read over a
#: network port (``socket://``, ``rfc2217://``): a serial server packs what its serial side
#: received for its force-transmit time (Moxa NPort: 0 to 65535 ms) and sends it in TCP
#: segments, and a second small segment may wait for the acknowledgement of the first, which
#: the host delays by 40 ms at least (Linux ``TCP_DELACK_MIN``, HZ/25; Nagle's algorithm on
#: the server's side).
NETWORK_SLACK_S = 0.1

#: How many character times after the last byte a UART with a receive FIFO hands over bytes
#: that stay under its trigger level, at most: a 16550's character timeout comes after 4
#: (4.4 at 8N1, the timeout being 4 characters and 12 bits), a PL011's receive timeout after
#: 32 bit times (PrimeCell UART TRM, UARTRTINTR), an i.MX UART's ageing timer after 8
#: (i.MX reference manuals, USR1 AGTIM: "idle for a time of 8 characters"). The kernel
#: passes what it read on to the tty in a work item (PIECE_MARGIN_S covers it).
UART_TIMEOUT_CHARS = 8

#: The most that the pieces of sound frames seen further apart than a port's slack raise it
#: to: an FTDI latency timer goes up to 255 ms (AN232B-04); longer pauses are no adapter's.
MAX_PIECE_SLACK_S = 0.3

#: How many answers on a bus make the window over which the wait for a frame's rest, once
#: pieces of a sound frame raised it (up to :data:`MAX_PIECE_SLACK_S`), is looked at again:
#: when none of that window's frames came in pieces as far apart, it comes down to the widest
#: spacing the window saw, or to the adapter's own wait. One pause is no adapter's holding: an
#: Eastron or ABB meter that pauses inside an answer now and then, a USB host controller's
#: hiccup on a loaded host. 200 answers are a few minutes of a bus of a few devices polled
#: every second, and enough of them to see again a device that pauses in one answer in 50.
SLACK_WINDOW_ANSWERS = 200
#: How many times the window doubles at most (200 answers to 12800), once for each time a
#: wait that came down had to go up again: a device that pauses rarely but again and again is
#: waited for as long after a few such turns, rather than having its wait go up and down.
SLACK_WINDOW_DOUBLINGS = 6

#: How late after its request an RTU answer that came after its timeout is taken to come
#: again at most, in the device's timeouts: the drain after a timeout (``Bus._drain``) lasts
#: until an answer as late as the device's latest (the longest of its late answers) could
#: have come, and no longer than this, so that a device that once answered very late is not
#: held for long after each of its timeouts.
LATE_DRAIN_TIMEOUTS = 4

#: How long a unit id or function code heard on the line (another master's requests and the
#: answers to them) goes on beginning frames that hold the next request
#: (``ModbusLink.age_heard``): it is heard for this long at least and twice as long at most
#: after the last frame that carried it. A second master polls every 1 to 60 s (Home
#: Assistant's modbus ``scan_interval`` defaults to 15 s, Telegraf's ``interval`` to 10 s, a
#: data logger's to a minute), so a master that still polls is heard again three times within
#: it at the least; one that left the line (its polls stopped, its addresses changed) holds no
#: noise byte of its addresses after that.
HEARD_FOR_S = 180.0

#: How long bytes that nobody asked for may keep the line busy before requests go out anyway:
#: no answer takes that long, so bytes that keep coming are another master or a device that
#: sends on its own, and waiting for silence would stop the bus for as long as they last.
LINE_BUSY_LIMIT_S = 1.0
#: Unasked bytes that come within this of the ones before are one run: the reader hands a
#: port's bytes over in chunks up to its batch interval (20 ms) apart.
LINE_QUIET_GAP_S = 0.1


def char_s(settings: SerialSettings) -> float:
    """The time one character takes on the line at ``settings`` (start bit, data bits,
    parity bit, stop bits)."""
    bits = 1 + settings.bytesize + (0 if settings.parity == "N" else 1) + settings.stopbits
    return bits / settings.baudrate


def silence_s(settings: SerialSettings) -> float:
    """3.5 character times at ``settings``, :data:`FAST_SILENCE_S` above 19200 baud."""
    if settings.baudrate > 19_200:
        return FAST_SILENCE_S
    return 3.5 * char_s(settings)


def adapter_slack_s(latency_timer_ms: int | None, *, network: bool) -> float:
    """How much later than its time on the wire the rest of a frame begun may be read on a
    port: an FTDI adapter's latency timer (``latency_timer_ms``, from sysfs) and
    :data:`PIECE_MARGIN_S`; :data:`NETWORK_SLACK_S` over a network; else (an adapter whose
    timer is not known, a CH340's or CP210x's packets, a serial server behind a local tty)
    :data:`ARRIVAL_SLACK_S`."""
    if network:
        return NETWORK_SLACK_S
    if latency_timer_ms is None:
        return ARRIVAL_SLACK_S
    return latency_timer_ms / 1000 + PIECE_MARGIN_S


def uart_slack_s(char_s: float) -> float:
    """How much later than its time on the wire the rest of a frame begun may be read from a
    UART of the board (no USB adapter's latency): its receive timeout,
    :data:`UART_TIMEOUT_CHARS` characters of ``char_s``, and :data:`PIECE_MARGIN_S`."""
    return UART_TIMEOUT_CHARS * char_s + PIECE_MARGIN_S
