"""pyserial's port classes as ``SerialSource`` opens, reads and closes them.

* :class:`SocketPort` (``socket://``, ``modbus-tcp://``): an open that keeps what the server
  sent before ``open()`` returned, where pyserial's drops it;
* :class:`Rfc2217Port` (``rfc2217://``): an open that can be abandoned from another thread
  (a shutdown), a close that does not sleep, a receive queue with a bound
  (:data:`RFC2217_BUFFER_BYTES`, past which bytes are dropped and counted), and the server's
  end of the connection told from the client's; :func:`rfc2217_text` is the line of text such
  a server sent before it closed the connection;
* :func:`close_port` closes any of pyserial's ports with every descriptor it holds, without
  the waits pyserial's own closes make on the reader thread (a socket's 0.3 s sleep, a
  device's output still to drain); :func:`drop_abort_pipes` closes the pipes pyserial's POSIX
  open makes for calls the source never makes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import socket
import sys
import termios
import threading

import serial
import structlog
from serial import rfc2217
from serial.rfc2217 import Serial as Rfc2217Serial
from serial.serialposix import Serial as PosixSerial
from serial.urlhandler.protocol_socket import Serial as SocketSerial

from sensord.sources.serial_refusals import SERVER_TEXT_CHARS, text_line

__all__ = [
    "CLOSED_READ_S",
    "RFC2217_BUFFER_BYTES",
    "Rfc2217Port",
    "SocketPort",
    "close_port",
    "drop_abort_pipes",
    "rfc2217_text",
]

log = structlog.get_logger(__name__)


#: The most received bytes an ``rfc2217://`` port holds for its reader. pyserial's client
#: queues every byte its thread receives, with no bound, so a server that sends faster than
#: the reader takes them (a device or server gone wrong, flooding) would grow the daemon for
#: as long as it lasts. 1 MiB is about 11 s of a 921600 baud line; past it the newest bytes
#: are dropped and counted as the port's ``buffer_overrun`` line errors, as the kernel counts
#: the bytes a full tty buffer loses.
RFC2217_BUFFER_BYTES = 1 << 20


#: How long an ``rfc2217://`` open whose connection the server closed waits for pyserial's
#: reader thread to read the rest (it ends at the end of the stream, at once).
CLOSED_READ_S = 0.5


def rfc2217_text(port: Rfc2217Serial) -> str:
    """The line of text an RFC 2217 server sent before it closed the connection (see
    ``text_line``), from what pyserial's reader thread queued; its thread has ended."""
    queued = getattr(port, "_read_buffer", None)
    if queued is None:
        return ""
    data = bytearray()
    with contextlib.suppress(queue.Empty):
        while len(data) <= 4 * SERVER_TEXT_CHARS:
            item = queued.get_nowait()
            if item is None:
                break
            data += item
    return text_line(bytes(data))


def _close_rfc2217(port: Rfc2217Serial) -> None:
    """pyserial's RFC 2217 close without the 0.3 s it sleeps after joining its reader thread,
    which on the reader loop would stall every other port: the socket is closed here, which
    ends the thread."""
    port.is_open = False
    sock = getattr(port, "_socket", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
    thread = getattr(port, "_thread", None)
    if thread is not None and thread is not threading.current_thread():
        thread.join(1.0)
    setattr(port, "_thread", None)  # noqa: B010 - private attributes of pyserial
    setattr(port, "_socket", None)  # noqa: B010


#: The pipes pyserial's POSIX open makes for ``cancel_read``/``cancel_write`` and its own
#: blocking ``read``/``write``, which the source never calls: it reads and writes the port's
#: descriptor itself.
_ABORT_PIPES = (
    "pipe_abort_read_r",
    "pipe_abort_read_w",
    "pipe_abort_write_r",
    "pipe_abort_write_w",
)


def drop_abort_pipes(port: PosixSerial) -> None:
    """Close pyserial's abort pipes of an open ``port``: with them a port would hold five
    descriptors instead of one, and a host's ports would run into the process's open-files
    limit five times sooner."""
    for name in _ABORT_PIPES:
        pipe_fd = getattr(port, name, None)
        if pipe_fd is not None:
            with contextlib.suppress(OSError):
                os.close(pipe_fd)
            setattr(port, name, None)


def close_port(port: serial.Serial) -> None:
    """Close ``port`` and every descriptor it holds; never raises for an already-dead device."""
    if isinstance(port, Rfc2217Serial):
        _close_rfc2217(port)
        return
    if isinstance(port, SocketSerial):
        # pyserial's socket close() sleeps 0.3 s after closing (pyserial issue #555); on the
        # reader thread that would stall every other port, so the socket is closed here.
        sock = getattr(port, "_socket", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            setattr(port, "_socket", None)  # noqa: B010 - private attribute of pyserial
        port.is_open = False
        return
    if isinstance(port, PosixSerial) and port.fd is not None:
        with contextlib.suppress(OSError, termios.error):
            termios.tcflush(port.fd, termios.TCOFLUSH)
        with contextlib.suppress(OSError):
            # exclusive mode belongs to the tty, not to this descriptor: it outlives the close
            # while anything else has the tty open
            fcntl.ioctl(port.fd, termios.TIOCNXCL)
        # pyserial's close() closes the abort pipes too, which the open has closed already
        drop_abort_pipes(port)
        fd, port.fd = port.fd, None
        port.is_open = False
        try:
            os.close(fd)  # the kernel releases the descriptor even when this fails
        except OSError as exc:
            log.warning("serial_close_failed", port=port.portstr, error=str(exc))
        return
    try:
        port.close()
    except (OSError, serial.SerialException) as exc:
        log.warning("serial_close_failed", port=port.portstr, error=str(exc))
        port.is_open = False


class SocketPort(SocketSerial):
    """pyserial's ``socket://`` port, except that opening keeps what the server sent before
    ``open()`` returned: pyserial's ends with ``reset_input_buffer()``, which reads and drops
    whatever the connection holds at that moment (a frame or a banner that a serial server
    sends on connect, or a polled device's first answer), so that whether they were read
    depended on how soon the opening thread ran again after the connection was made."""

    _opening = False

    def open(self) -> None:
        self._opening = True
        try:
            super().open()
        finally:
            self._opening = False

    def reset_input_buffer(self) -> None:
        if not self._opening:
            super().reset_input_buffer()


class _ReceivedBytes(queue.Queue[bytes | None]):
    """pyserial's RFC 2217 receive queue (a byte an item; None: the connection ended), bound to
    :data:`RFC2217_BUFFER_BYTES`: a byte that comes while it is full is dropped and counted in
    ``dropped``. The end of the connection is always queued."""

    def __init__(self) -> None:
        super().__init__()
        #: bytes dropped since the port opened (written by pyserial's reader thread only)
        self.dropped = 0

    def put(self, item: bytes | None, block: bool = True, timeout: float | None = None) -> None:
        # len(self.queue) without the lock: this thread is the only one that adds, so the
        # size read can only be larger than the size now
        if item is not None and len(self.queue) >= RFC2217_BUFFER_BYTES:
            self.dropped += 1
            return
        super().put(item, block, timeout)


class Rfc2217Port(Rfc2217Serial):
    """pyserial's ``rfc2217://`` port, with an open that can be abandoned from another thread
    (:meth:`abort_open`), a close that does not sleep, and a receive queue with a bound
    (:class:`_ReceivedBytes`).

    pyserial's open waits for each step of the negotiation (the Telnet options, the line
    settings, the control lines, the purge) in a loop that polls the step's state every 50 ms
    for up to its network timeout (3 s), and nothing else ends that loop: a server that
    accepted the connection and then did not answer held a shutdown for the rest of it.
    """

    _aborted = False
    _in_open = False
    _received: _ReceivedBytes | None = None
    #: the connection ended while the port was open, by the server (or the network), not by
    #: a close or an abandoned open
    ended_by_server = False

    @property
    def _read_buffer(self) -> _ReceivedBytes | None:
        return self._received

    @_read_buffer.setter
    def _read_buffer(self, value: object) -> None:
        # pyserial makes an unbounded queue at each open (and sets None before): the port
        # takes a bounded one instead, before pyserial's reader thread starts
        self._received = None if value is None else _ReceivedBytes()

    @property
    def dropped_bytes(self) -> int | None:
        """Bytes dropped since the port opened because its receive queue was full; None
        before an open."""
        received = self._received
        return None if received is None else received.dropped

    def abort_open(self) -> None:
        """Make an open in progress raise within one 50 ms poll: the connection is shut down,
        any later write fails, and every step still awaited reads as settled (the Telnet
        options) or refused by the server (the subnegotiations, whose check then raises)."""
        self._aborted = True
        sock = getattr(self, "_socket", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for option in getattr(self, "_telnet_options", None) or ():
            option.state = rfc2217.INACTIVE
            option.active = False
        for step in (getattr(self, "_rfc2217_options", None) or {}).values():
            step.state = rfc2217.REALLY_INACTIVE

    def _internal_raw_write(self, data: bytes) -> None:
        """pyserial's write of Telnet commands; on its reader thread (answers to the server's
        Telnet options), a connection that the server closed is no error: the thread reads
        on to the end of what the server sent (a serial server's reason for closing it, such
        as ser2net's "Port already in use") where it would die with a traceback on stderr."""
        if self._aborted:
            raise serial.SerialException("the open was abandoned (the daemon is stopping)")
        try:
            super()._internal_raw_write(data)  # type: ignore[misc] # private: not in the stubs
        except OSError:
            if threading.current_thread() is not getattr(self, "_thread", None):
                raise

    def _telnet_read_loop(self) -> None:
        """pyserial's reader thread; it ends at the end of the connection, or once the port
        is closed (which clears ``is_open`` before it shuts the connection down)."""
        super()._telnet_read_loop()  # type: ignore[misc] # private: not in the stubs
        if self.is_open and not self._aborted:
            self.ended_by_server = True

    def open(self) -> None:
        self._in_open = True
        self.ended_by_server = False
        try:
            super().open()
        finally:
            self._in_open = False

    def close(self) -> None:
        """Close at once; on a connection the server closed during the open (a failed write
        is closing it), after pyserial's reader thread took the rest of what the server
        sent (up to :data:`CLOSED_READ_S`), whose end is the server's reason. pyserial's own
        errors (a step of the negotiation left unanswered: the server is there but silent)
        are no closed connection, and close at once."""
        failure = sys.exc_info()[1]
        closed = isinstance(failure, OSError) and not isinstance(failure, serial.SerialException)
        if self._in_open and closed:
            thread = getattr(self, "_thread", None)
            if thread is not None and thread is not threading.current_thread():
                thread.join(CLOSED_READ_S)
        _close_rfc2217(self)
