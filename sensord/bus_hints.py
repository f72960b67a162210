"""The texts a Modbus bus (:mod:`sensord.bus`) tells its log lines and its devices' down
reasons with: what a device's silence, late or stray answers, a gateway's word, an adapter's
echo and a network connection's closes say to check or change, each a constant (or, for an
answer after its timeout, :func:`late_hint`) that the bus's modules and the tests share.
The bus decides when each applies; these are only what it says."""

from __future__ import annotations

from sensord.bus_reads import NO_ANSWER_HINT
from sensord.formats.modbus import exception_named
from sensord.formats.modbus_pymodbus import FUNCTION_CODES
from sensord.modbus_state import BUSY_CODES

__all__ = [
    "CLOSED_ON_REQUEST_HINT",
    "ECHO_HINT",
    "FOREIGN_TRANSACTION_HINT",
    "FRESH_CONNECTION_HINT",
    "GATEWAY_NO_ANSWER",
    "GLITCH_HINT",
    "IDLE_CLOSE_HINT",
    "LATE_ANSWER_HINT",
    "LATE_EXCEPTION_HINT",
    "LATE_GATEWAY_HINT",
    "MISSED_POLLS_HINT",
    "MISSED_POLLS_NETWORK_HINT",
    "OTHER_FUNCTION_HINT",
    "OTHER_UNIT_AT_0_HINT",
    "OTHER_UNIT_HINT",
    "PIECES_APART_HINT",
    "REPEATED_REPLY_HINT",
    "REPLY_CLOSE_HINT",
    "SECOND_ANSWER_HINT",
    "TABLE_OF_FUNCTION",
    "TEXT_LINES_HINT",
    "UNANSWERED_CLOSE_HINT",
    "UNASKED_FRAME_HINT",
    "late_hint",
]

#: Exception codes a gateway answers with for the device behind it: 0x0A, no path to it (the
#: gateway's port or route is down), and 0x0B, it did not answer the gateway in time. The
#: device is as silent as one that times out on a line of its own.
GATEWAY_NO_ANSWER = {
    0x0A: f"the gateway has no path to it and answers {exception_named(0x0A)}",
    0x0B: f"it did not answer the gateway, which answers {exception_named(0x0B)}",
}


#: What to change when an RTU device that never answered has its requests time out while a
#: frame like its answer (the read's function code, the reply's length) of a unit id that no
#: device of the bus has came in each of those exchanges: a device whose address is not its
#: ``modbus.unit`` answers all the same (the text follows "no response to N requests in a
#: row: ").
OTHER_UNIT_HINT = (
    "a frame of unit id {other} came in each of these exchanges, and no device of this bus "
    "has that unit id: if it is this device's address, set modbus.unit = {other} (some "
    "devices answer with their own address whatever was asked)"
)


#: What :data:`OTHER_UNIT_HINT` goes on to say when such a frame came within the timeout of
#: the read at unit 0 of another device of the bus (``modbus.broadcast_reads``), whose read it
#: can answer too: every device that answers reads at the broadcast address answers that one.
OTHER_UNIT_AT_0_HINT = (
    "; but they came while a second device's answer to {sensor}'s read at unit 0 could still "
    "come (every device that answers reads at unit 0 answers that read): if this device's "
    "address is not {other}, they are such answers, this device answered nothing, and "
    "{sensor}'s values are whichever answer comes first (give each device a unit id of its "
    "own)"
)


#: What to change when an RTU device's read times out while a sound frame of its unit id that
#: answers a read of another table (another read function code, or its exception) came in
#: each of those exchanges: the device is there and the line's settings are right, and it
#: reads the registers with that function (the text follows "no response to N requests in a
#: row: ").
OTHER_FUNCTION_HINT = (
    'a frame of its unit id with function code {got} (table "{got_table}") came in each of '
    'these exchanges, not {asked} (table "{asked_table}") as asked: the device is there and '
    "the line's settings are right; check the registers' table against its manual (a device "
    'that answers function {got} to every read reads them with table = "{got_table}")'
)


#: The table each read function code reads.
TABLE_OF_FUNCTION = {code: table for table, code in FUNCTION_CODES.items()}


#: What an RTU adapter that sends each read request back as it goes out (it hears its own
#: transmission on a 2-wire line) is told: its echoes are skipped bytes, and the answers
#: after them are read.
ECHO_HINT = (
    "the adapter hears its own transmission on the 2-wire line: set serial = { local_echo = "
    "true } to drop its echoes (until then they are counted as skipped bytes, and the answers "
    "after them are read)"
)


#: What the log line of glitch bytes before a request's echo says (once a run).
GLITCH_HINT = (
    "a byte 00 or FF came before the echo of a request: the adapter's or a device's RS-485 "
    "transceiver glitches as it turns around (check the line's termination and bias "
    "resistors and its ground); such bytes are counted as skipped bytes and the echo and "
    "answer after them are read"
)


#: What a request gone unanswered while lines of text come says (``Bus._text_hint``).
TEXT_LINES_HINT = (
    "lines of text came, not Modbus answers (the last: {last!r}): the device sends in a "
    "text output mode (some sensors stream ASCII lines unless set to Modbus), or another "
    "device on the line does; check its protocol setting"
)


#: What the log line of a frame whose pieces came further apart than the wait for a frame's
#: rest says (``Bus._pieces_apart``): the bus waits as long from then on, which each frame cut
#: short (a unit cut off mid-answer) costs the next request.
PIECES_APART_HINT = (
    "the adapter holds what the line carried that long: an FTDI adapter's latency_timer "
    "(/sys/bus/usb-serial/devices/ttyUSBn/latency_timer; 1 ms with the udev rule "
    'ATTR{latency_timer}="1") or a serial server\'s packing or force-transmit time; the '
    "next request waits as long after a frame begun"
)


#: What to do when a device's answers come after their timeout (the log line of a late
#: answer; the down reason when its requests time out while its answers to the ones before
#: came late): its unit id, line settings and wiring are right, since those answers arrived
#: and checked out.
LATE_ANSWER_HINT = "its answers come after modbus.timeout_s: raise it"


#: What the log line of an exception response after its request's timeout says, other than a
#: gateway's 0x0A or 0x0B (``exception``: its code named; ``in_time``: what becomes of such an
#: answer in time): a late answer names no read, so the read it refuses is not known.
LATE_EXCEPTION_HINT = (
    "the device answered a request with {exception} after modbus.timeout_s (this one came at "
    "least {after_s:.2f} s after its request), so which read it refuses is not known: raise "
    "modbus.timeout_s; in time, {in_time}"
)


#: What becomes of an exception response in time, by kind (``LATE_EXCEPTION_HINT``).
_IN_TIME = {
    "busy": "a busy answer is asked again (modbus.busy_wait_s later)",
    "refused": 'a refusal is logged with the registers of its read ("exception response")',
}


#: What to do when a gateway's exception 0x0A or 0x0B (it had no answer from the device) comes
#: after the request's timeout: the gateway's own response timeout is the longer one (the
#: log line of such a reply; the down reason when requests time out while they come), by
#: exception code.
LATE_GATEWAY_HINT = {
    code: "the gateway waits longer for the device than modbus.timeout_s before it answers "
    f"{exception_named(code)}: raise modbus.timeout_s above the gateway's response timeout"
    for code in GATEWAY_NO_ANSWER
}


#: What to check when replies come over Modbus TCP with a transaction id that no request on
#: the connection was sent with (the log line of such a reply, and the down reason when a
#: device's requests time out while they came): they cannot be matched to a request.
FOREIGN_TRANSACTION_HINT = (
    "replies came with a transaction id no request was sent with, so none can be taken as "
    "an answer: the gateway or device does not return the request's transaction id (a "
    "firmware that counts its own, or answers with 0 and another unit id), or a gateway "
    "shared by several clients mixes up their replies"
)


#: What a Modbus TCP reply that repeats one taken already says (``StrayFrames._repeated``).
REPEATED_REPLY_HINT = (
    "the gateway or device sends some replies twice (a gateway that repeats a reply, a "
    "network path that duplicates packets): the first copy is taken, the others are counted "
    "as unasked"
)


#: What a frame of a device's unit id that arrives while none of its requests awaits an
#: answer (every one was answered in time) says (RTU): something else asked for it, or a
#: second device with the same unit id answered the same request.
UNASKED_FRAME_HINT = (
    "its requests were all answered in time, so this is no late answer: another master "
    "polls the line (a second PLC, a gateway, sensord modbus read), or two devices have "
    "unit id {unit} and both answer each request (their answers collide or come twice)"
)


#: What a second device's answer to a read at unit 0 (``modbus.broadcast_reads``), after the
#: answer taken, says: the read goes to every device of the line, and two of them answer
#: reads at the broadcast address (``StrayFrames.second_answer``).
SECOND_ANSWER_HINT = (
    "a read at unit 0 goes to every device of the line, and devices of unit ids {first} and "
    "{second} both answered it: their answers collide on the line or come one after the "
    "other, and the values read are whichever came first; give each device a unit id of "
    "its own and read it there"
)


#: Why a network bus's connection that had answered was closed or reset between exchanges
#: (logged once a minute at most): a gateway's idle timeout, or a gateway that serves one
#: client at a time and took a second one (the connection of a bus polled often never idles
#: long enough for the first).
IDLE_CLOSE_HINT = (
    "the gateway closes connections that carry no request for a while: it is opened again "
    "at the next poll; if the bus is polled more often than the gateway's idle timeout, the "
    "gateway serves one client at a time and another one connected (a second sensord, a "
    "SCADA system, a configuration tool, or another port of this configuration that names "
    "the gateway otherwise: its host name and its address): each takes the connection from "
    "the other"
)


#: Why a network bus's connection that had answered was closed while the request sent right
#: after an answer awaited its own (logged once a minute at most): a server that serves one
#: request per connection and closes it after its reply, one that ends the connection of a
#: request that follows a reply too closely, or a one-client gateway that another client
#: took. The request is asked again on a new connection, each counted as a reconnect.
REPLY_CLOSE_HINT = (
    "the gateway or device closed the connection right after a reply, before the next "
    "request's answer: it serves one request per connection, or ends one whose next "
    "request comes too soon after its reply (modbus.gap_s = 0.1 or more keeps that much "
    "quiet after each exchange), or another client took a gateway that serves one at a "
    "time; the request is asked again on a new connection, so each request costs a connect "
    "and counts as a reconnect"
)


#: Why a network bus's connection was closed, while requests went out on it or right after
#: one, when it had carried no byte for ``sensord.bus.IDLE_TIMEOUT_MIN_S`` or longer while they went
#: unanswered (logged once a minute at most): no reply came to what was sent, so it is
#: neither closed after a reply (REPLY_CLOSE_HINT) nor for carrying no request
#: (IDLE_CLOSE_HINT).
UNANSWERED_CLOSE_HINT = (
    "the gateway closed the connection after it had carried no reply for a while, though "
    "requests went out on it: a gateway whose inactivity time counts only what comes from "
    "its serial side (the devices' answers, not the requests) closes it whenever the devices "
    "that answer are polled less often than that time while another does not answer; the "
    "devices that do not answer are told by their own state; it is opened again at once and "
    "counted as a reconnect: set the gateway's inactivity time above the longest "
    "modbus.interval_s of the devices that answer, or off"
)


#: Why a device is not read whose request the gateway or device closes the connection on,
#: also when it is asked again on a new connection (``Bus.disconnect``): counted as its
#: timeout, while the other devices of the bus are read on the connection opened again.
CLOSED_ON_REQUEST_HINT = (
    "the gateway or device closed the connection at its request instead of answering, "
    "also when it was asked again on a new connection: check modbus.unit (some servers end "
    "the connection of a request for a unit id they do not serve) and the registers it reads"
)


#: What to check when a Modbus TCP device's requests go unanswered on a connection that has
#: answered nothing since it opened, and the device has no ``connect_delay_s``: a gateway or
#: dongle that drops the requests of the first second or two of each connection answers
#: none there (a Huawei SDongle: https://github.com/openhab/openhab-core/issues/2926).
FRESH_CONNECTION_HINT = (
    f"{NO_ANSWER_HINT['tcp']}; nothing has been answered on this connection since it "
    "opened: a gateway or dongle that drops the requests that come in the first seconds "
    "after a connect (a Huawei SDongle) is read with modbus.connect_delay_s = 1 (or 2)"
)


#: What to do when a device misses polls: its exchanges and the other devices' do not fit
#: in its interval on the line.
MISSED_POLLS_HINT = (
    "the exchanges of the devices on this bus take more of the line's time than their "
    "intervals leave: lengthen modbus.interval_s, read fewer registers, raise the baud rate, "
    "or shorten modbus.timeout_s of devices that time out"
)


#: MISSED_POLLS_HINT of a bus behind a network port (``modbus-tcp://``, ``socket://``): a
#: gateway or serial server that serves one request at a time, over a network.
MISSED_POLLS_NETWORK_HINT = (
    "the exchanges of the devices on this bus take more time than their intervals leave: the "
    "gateway or serial server serves one request at a time, and each waits for the network "
    "and the device behind it; lengthen modbus.interval_s, read fewer registers, shorten "
    "modbus.timeout_s of devices that time out, or check the gateway's load (other clients) "
    "and the network's delay"
)


def late_hint(code: int, after_s: float) -> str:
    """The hint of the log line of an answer after its timeout, ``after_s`` after its request at
    least: an answer with values, an exception (``code``), or a gateway's 0x0A or 0x0B."""
    if code in GATEWAY_NO_ANSWER:
        return LATE_GATEWAY_HINT[code]
    if code:
        in_time = _IN_TIME["busy" if code in BUSY_CODES else "refused"]
        return LATE_EXCEPTION_HINT.format(
            exception=exception_named(code), after_s=after_s, in_time=in_time
        )
    return f"{LATE_ANSWER_HINT} (this one came at least {after_s:.2f} s after its request)"
