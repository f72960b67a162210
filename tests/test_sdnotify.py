"""sensord.sdnotify against real AF_UNIX datagram sockets (path and abstract addresses)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.notify import NotifyListener, drain, fill_queue
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from sensord.sdnotify import Notifier, watchdog_interval_s


def _receiver(tmp_path: Path, *, abstract: bool = False) -> NotifyListener:
    """A listener at ``tmp_path/notify`` (or an abstract address) whose socket's ``recv``
    waits up to 5 s."""
    listener = NotifyListener(tmp_path, abstract=abstract, name="notify")
    listener.sock.settimeout(5.0)
    return listener


@pytest.fixture
def notify_path(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    listener = _receiver(tmp_path)
    yield listener.address, listener.sock
    listener.close()


@pytest.fixture
def abstract_name(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    listener = _receiver(tmp_path, abstract=True)
    yield listener.address, listener.sock
    listener.close()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# -- datagrams -----------------------------------------------------------------------------------
def test_each_message_is_one_exact_datagram_on_a_path_socket(
    notify_path: tuple[str, socket.socket],
) -> None:
    path, receiver = notify_path
    with Notifier(path) as notifier:
        assert notifier.enabled
        assert notifier.ready() is True
        assert receiver.recv(4096) == b"READY=1"
        assert notifier.ready("2 sensors up") is True
        assert receiver.recv(4096) == b"READY=1\nSTATUS=2 sensors up"
        assert notifier.status("boiler: down") is True
        assert receiver.recv(4096) == b"STATUS=boiler: down"
        assert notifier.watchdog() is True
        assert receiver.recv(4096) == b"WATCHDOG=1"
        assert notifier.stopping() is True
        assert receiver.recv(4096) == b"STOPPING=1"
        assert notifier.stopping("draining") is True
        assert receiver.recv(4096) == b"STOPPING=1\nSTATUS=draining"
        assert notifier.notify("A=1", "B=two words") is True
        assert receiver.recv(4096) == b"A=1\nB=two words"


def test_abstract_address_is_reached(abstract_name: tuple[str, socket.socket]) -> None:
    address, receiver = abstract_name
    with Notifier(address) as notifier:
        assert notifier.enabled
        assert notifier.ready("ok") is True
        assert receiver.recv(4096) == b"READY=1\nSTATUS=ok"
        assert notifier.watchdog() is True
        assert receiver.recv(4096) == b"WATCHDOG=1"


def test_address_defaults_to_notify_socket_of_the_environment(
    notify_path: tuple[str, socket.socket],
) -> None:
    path, receiver = notify_path
    with Notifier(environ={"NOTIFY_SOCKET": path}) as notifier:
        assert notifier.address == path
        assert notifier.watchdog() is True
    assert receiver.recv(4096) == b"WATCHDOG=1"


def test_default_environ_is_os_environ(
    notify_path: tuple[str, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, receiver = notify_path
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    with Notifier() as notifier:
        assert notifier.ready() is True
    assert receiver.recv(4096) == b"READY=1"


def test_reloading_carries_the_monotonic_clock_in_the_same_datagram(
    notify_path: tuple[str, socket.socket],
) -> None:
    path, receiver = notify_path
    with Notifier(path) as notifier:
        before_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert notifier.reloading() is True
        after_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        first, second = receiver.recv(4096).decode().split("\n")
        assert first == "RELOADING=1"
        key, value = second.split("=")
        assert key == "MONOTONIC_USEC"
        assert value.isdigit()
        assert before_us <= int(value) <= after_us
        assert notifier.reloading("reloading config") is True
        assert receiver.recv(4096).decode().split("\n")[2] == "STATUS=reloading config"


def test_status_is_flattened_to_one_line(notify_path: tuple[str, socket.socket]) -> None:
    path, receiver = notify_path
    with Notifier(path) as notifier:
        assert notifier.status("line one\nline two\r\nline three") is True
    assert receiver.recv(4096) == b"STATUS=line one line two line three"


def test_text_that_is_not_encodable_is_replaced_not_raised(
    notify_path: tuple[str, socket.socket],
) -> None:
    path, receiver = notify_path
    with Notifier(path) as notifier:
        assert notifier.status("temp \u00b0C \ud800 end") is True
    assert receiver.recv(4096) == "STATUS=temp \u00b0C ? end".encode()


def test_notify_without_fields_sends_nothing(notify_path: tuple[str, socket.socket]) -> None:
    path, receiver = notify_path
    with Notifier(path) as notifier:
        assert notifier.notify() is False
        assert notifier.watchdog() is True
    assert receiver.recv(4096) == b"WATCHDOG=1"


def test_concurrent_senders_each_deliver_whole_datagrams(
    notify_path: tuple[str, socket.socket],
) -> None:
    path, receiver = notify_path
    per_thread = 50
    received: list[bytes] = []

    def drain() -> None:
        for _ in range(4 * per_thread):
            received.append(receiver.recv(4096))

    drainer = threading.Thread(target=drain)
    drainer.start()
    with Notifier(path) as notifier:

        def send(index: int) -> None:
            for n in range(per_thread):
                while not notifier.notify(f"X_T={index}", f"X_N={n}"):
                    time.sleep(0.001)  # the receiver's queue is full: it drains in parallel

        senders = [threading.Thread(target=send, args=(i,)) for i in range(4)]
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
    drainer.join(timeout=10)
    assert sorted(received) == sorted(
        f"X_T={i}\nX_N={n}".encode() for i in range(4) for n in range(per_thread)
    )


# -- no socket -----------------------------------------------------------------------------------
@pytest.mark.parametrize("environ", [{}, {"NOTIFY_SOCKET": ""}])
def test_without_notify_socket_everything_is_a_no_op(environ: dict[str, str]) -> None:
    fds_before = _open_fds()
    with capture_logs() as logs, Notifier(environ=environ) as notifier:
        assert not notifier.enabled
        assert notifier.ready("x") is False
        assert notifier.status("x") is False
        assert notifier.watchdog() is False
        assert notifier.reloading() is False
        assert notifier.stopping() is False
        assert notifier.notify("A=1") is False
        assert _open_fds() == fds_before  # no socket was created
    assert logs == []


@pytest.mark.parametrize("address", ["vsock:2:1234", "relative/notify", "@"])
def test_unsupported_address_disables_and_warns(address: str) -> None:
    with capture_logs() as logs:
        notifier = Notifier(address)
        assert not notifier.enabled
        assert notifier.ready() is False
    assert [entry["event"] for entry in logs] == ["sd_notify_unsupported_address"]
    assert logs[0]["log_level"] == "warning"


# -- failures never raise ------------------------------------------------------------------------
def test_socket_removed_after_start_logs_once_and_recovers(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    receiver = _receiver(tmp_path).sock
    with capture_logs() as logs, Notifier(path) as notifier:
        assert notifier.ready() is True
        assert receiver.recv(4096) == b"READY=1"
        receiver.close()
        os.unlink(path)

        for _ in range(5):
            assert notifier.watchdog() is False
        assert notifier.stopping() is False
        failures = [entry for entry in logs if entry["event"] == "sd_notify_failed"]
        assert len(failures) == 1
        assert failures[0]["log_level"] == "warning"
        assert failures[0]["address"] == path

        # The manager re-creates its socket at the same path: the next send reaches it,
        # after the STOPPING=1 it could not take.
        receiver = _receiver(tmp_path).sock
        try:
            assert notifier.watchdog() is True
            assert receiver.recv(4096) == b"STOPPING=1"
            assert receiver.recv(4096) == b"WATCHDOG=1"
        finally:
            receiver.close()
    assert [entry["event"] for entry in logs] == ["sd_notify_failed", "sd_notify_recovered"]


def test_address_that_never_existed_does_not_raise(tmp_path: Path) -> None:
    with capture_logs() as logs, Notifier(str(tmp_path / "missing")) as notifier:
        assert notifier.enabled
        assert notifier.ready() is False
        assert notifier.ready() is False
    assert [entry["event"] for entry in logs] == ["sd_notify_failed"]


def test_overlong_path_does_not_raise(tmp_path: Path) -> None:
    with capture_logs() as logs, Notifier("/" + "x" * 200) as notifier:
        assert notifier.watchdog() is False
    assert [entry["event"] for entry in logs] == ["sd_notify_failed"]


def test_full_receiver_queue_does_not_block(notify_path: tuple[str, socket.socket]) -> None:
    path, receiver = notify_path
    results: list[bool] = []
    started = time.monotonic()
    with capture_logs() as logs, Notifier(path) as notifier:
        while len(results) < 100_000:  # nobody reads: the receive queue fills up
            results.append(notifier.watchdog())
            if not results[-1]:
                break
        assert notifier.watchdog() is False
    assert time.monotonic() - started < 5.0
    assert results[0] is True
    assert results[-1] is False
    assert [entry["event"] for entry in logs] == ["sd_notify_failed"]
    assert receiver.recv(4096) == b"WATCHDOG=1"


@contextlib.contextmanager
def _full(listener: NotifyListener) -> Iterator[None]:
    """The listener's queue full (the service manager stalled) for the block; drained after."""
    senders = fill_queue(listener.address)
    try:
        yield
    finally:
        for sender in senders:
            sender.close()
        drain(listener)


def test_a_state_a_full_queue_refused_goes_at_a_flush_once_it_drains(tmp_path: Path) -> None:
    """A full queue refuses READY=1 without waiting; it is kept, and the first flush after
    the queue drains sends it, once."""
    listener = _receiver(tmp_path)
    with Notifier(listener.address) as notifier:
        with _full(listener):
            assert notifier.ready("2 sensors up") is False
            assert notifier.pending
            assert notifier.flush() is False  # still full: kept
            assert notifier.pending
        assert listener.messages == []  # nothing of the notifier's got in
        assert notifier.flush() is True
        assert not notifier.pending
        assert notifier.flush() is True  # nothing left to send
        assert listener.collect(0.2) == ["READY=1\nSTATUS=2 sensors up"]
    listener.close()


def test_the_latest_refused_state_and_status_go_in_one_datagram(tmp_path: Path) -> None:
    """A reload refused from its RELOADING=1 to its READY=1, and status lines after: the
    READY=1 replaces the RELOADING=1 (and its MONOTONIC_USEC), the latest STATUS= line the
    older ones, and they go together in one datagram."""
    listener = _receiver(tmp_path)
    with Notifier(listener.address) as notifier:
        with _full(listener):
            assert notifier.status("a") is False
            assert notifier.reloading("reloading") is False
            assert notifier.ready("b") is False
            assert notifier.status("c") is False
        assert notifier.flush() is True
        assert listener.collect(0.2) == ["READY=1\nSTATUS=c"]
        with _full(listener):
            assert notifier.ready() is False
            assert notifier.stopping() is False  # a stop replaces the READY=1 not sent
        assert notifier.flush() is True
        assert listener.collect(0.2)[-1] == "STOPPING=1"
        assert len(listener.messages) == 2
    listener.close()


def test_a_ping_is_not_kept_and_never_goes_before_a_refused_state(tmp_path: Path) -> None:
    """WATCHDOG=1 (its caller sends it again) is not kept; while a refused READY=1 waits, no
    message goes before it: the next send sends it first."""
    listener = _receiver(tmp_path)
    with Notifier(listener.address) as notifier:
        with _full(listener):
            assert notifier.watchdog() is False
            assert not notifier.pending
            assert notifier.ready() is False
        assert notifier.watchdog() is True
        assert not notifier.pending
        assert listener.collect(0.2) == ["READY=1", "WATCHDOG=1"]
    listener.close()


# -- socket lifetime -----------------------------------------------------------------------------
def test_one_socket_is_created_lazily_and_closed(notify_path: tuple[str, socket.socket]) -> None:
    path, receiver = notify_path
    fds_before = _open_fds()
    notifier = Notifier(path)
    assert _open_fds() == fds_before
    for _ in range(3):
        assert notifier.watchdog() is True
    assert _open_fds() == fds_before + 1
    notifier.close()
    notifier.close()  # idempotent
    assert _open_fds() == fds_before
    assert notifier.ready() is True  # a send after close() opens a new socket
    assert _open_fds() == fds_before + 1
    with notifier:
        pass
    assert _open_fds() == fds_before
    assert [receiver.recv(4096) for _ in range(4)] == [b"WATCHDOG=1"] * 3 + [b"READY=1"]


def test_socket_is_close_on_exec_and_non_blocking(notify_path: tuple[str, socket.socket]) -> None:
    path, _ = notify_path
    with Notifier(path) as notifier:
        assert notifier.watchdog() is True
        sock = notifier._sock
        assert sock is not None
        assert sock.type == socket.SOCK_DGRAM
        assert sock.family == socket.AF_UNIX
        assert not sock.get_inheritable()
        assert sock.getblocking() is False


# -- watchdog ------------------------------------------------------------------------------------
def test_watchdog_interval_is_half_the_timeout() -> None:
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "1"}) == 0.0000005
    own_pid = str(os.getpid())
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": own_pid}) == 15.0


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"WATCHDOG_PID": "1"},
        {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"},  # meant for another process
        {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "abc"},
        {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": ""},
        {"WATCHDOG_USEC": "0"},
        {"WATCHDOG_USEC": ""},
        {"WATCHDOG_USEC": "-5"},
        {"WATCHDOG_USEC": "abc"},
        {"WATCHDOG_USEC": "1.5"},
        {"WATCHDOG_USEC": " 30000000"},
        {"WATCHDOG_USEC": "30_000_000"},
        {"WATCHDOG_USEC": "\u0663\u0660"},  # non-ASCII digits
    ],
)
def test_watchdog_disabled_or_malformed_is_none(environ: dict[str, str]) -> None:
    assert watchdog_interval_s(environ) is None


def test_watchdog_pid_with_other_pid_is_none_even_when_close() -> None:
    other = str(os.getpid() + 1)
    assert watchdog_interval_s({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": other}) is None


def test_watchdog_default_environ_is_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval_s() == 2.0
    monkeypatch.delenv("WATCHDOG_USEC")
    assert watchdog_interval_s() is None


@settings(max_examples=200, deadline=None)
@given(usec=st.text(max_size=30), pid=st.one_of(st.none(), st.text(max_size=12)))
def test_watchdog_parsing_never_raises(usec: str, pid: str | None) -> None:
    environ = {"WATCHDOG_USEC": usec}
    if pid is not None:
        environ["WATCHDOG_PID"] = pid
    result = watchdog_interval_s(environ)
    if result is not None:
        assert result > 0
        assert result == int(usec) / 2_000_000
