"""A reload that changes ``[http]``'s basic-auth credentials (a new password, authentication
turned on or off): the real daemon (and a ``--workers`` primary) as a subprocess, real HTTP and
a real SIGHUP, and ``sensord reload`` as another subprocess, which finds the daemon whose
credentials are not the file's any more."""

from __future__ import annotations

import base64
import json
import signal
from pathlib import Path

from harness.common import free_port, wait_for
from harness.config import sensor_toml, write_atomically
from harness.daemon import DaemonProcess, StartDaemon

SENSORS = sensor_toml("a", "sim://a") + sensor_toml("b", "sim://b")


def _auth(user: str, password: str) -> str:
    return f'basic_auth_username = "{user}"\nbasic_auth_password = "{password}"\n'


def _write(config: Path, port: int, http: str, sensors: str = SENSORS) -> None:
    """The file, readable by its owner only (it holds a password), replaced at once."""
    write_atomically(config, f"[http]\nport = {port}\n{http}" + sensors)
    config.chmod(0o600)


def _started(
    start_daemon: StartDaemon, tmp_path: Path, http: str, *args: str
) -> tuple[DaemonProcess, Path]:
    """A daemon of two simulated sensors at the address its file's ``[http]`` gives, with
    ``http``'s credentials, running."""
    port = free_port()
    config = tmp_path / "auth.toml"
    _write(config, port, http)
    daemon = start_daemon(["--config", str(config), *args], port=port, port_option=False)
    daemon.wait_http(20)
    wait_for(lambda: _status(daemon, "u", "old") is not None, 20, "the daemon answering")
    return daemon, config


def _get(daemon: DaemonProcess, user: str | None, password: str = "") -> tuple[int, str]:
    headers = {}
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    code, _, body = daemon.get("/status", headers)
    return code, body


def _status(
    daemon: DaemonProcess, user: str | None, password: str = ""
) -> dict[str, object] | None:
    """``/status`` with these credentials; None when they are refused."""
    code, body = _get(daemon, user, password)
    if code == 401:
        return None
    assert code == 200, (code, body)
    data: dict[str, object] = json.loads(body)
    return data


def _listener(daemon: DaemonProcess) -> str:
    """The inode of the socket the daemon listens on at its port (``/proc/PID/net/tcp``)."""
    for line in Path(f"/proc/{daemon.pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].rpartition(":")[2], 16) == daemon.port:
            return fields[9]
    raise AssertionError(f"pid {daemon.pid} does not listen at {daemon.port}")


def test_a_new_password_is_asked_from_the_reload_on_on_the_same_listener(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """The check is per request: the reload sets the new credentials on the server that runs,
    so the listener stays (no connection is refused while a new one binds) and the old
    password is refused at once."""
    daemon, config = _started(start_daemon, tmp_path, _auth("u", "old"))
    listener = _listener(daemon)
    _write(config, daemon.port, _auth("u", "new"))

    daemon.signal(signal.SIGHUP)

    def reloaded() -> bool:
        status = _status(daemon, "u", "new")
        return status is not None and status["config_reloads"] == 1

    wait_for(reloaded, 20, "the reload counted, with the new password")
    status = _status(daemon, "u", "new")
    assert status is not None
    assert status["config_last_reload_successful"] is True
    assert _get(daemon, "u", "old")[0] == 401
    assert _get(daemon, None)[0] == 401
    assert _listener(daemon) == listener
    changed = daemon.events("http credentials changed")
    assert [(event["basic_auth"], event["username"]) for event in changed] == [(True, "u")]
    assert daemon.events("http listening") == []  # no new server

    # turned off: every request is answered without credentials
    _write(config, daemon.port, "")
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: _get(daemon, None)[0] == 200, 20, "authentication turned off")
    assert _listener(daemon) == listener


def test_a_workers_primary_applies_a_new_password_at_the_reload(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """A ``--workers`` primary keeps its address and TLS until a restart, but credentials are
    checked per request: the reload applies them, in full."""
    daemon, config = _started(start_daemon, tmp_path, _auth("u", "old"), "--workers", "2")
    _write(config, daemon.port, _auth("u", "new"))

    daemon.signal(signal.SIGHUP)

    def reloaded() -> bool:
        status = _status(daemon, "u", "new") or _status(daemon, "u", "old")
        return status is not None and status["config_reloads"] == 1

    wait_for(reloaded, 30, "the reload's outcome")
    status = _status(daemon, "u", "new")
    assert status is not None, "the old password is still asked for"
    assert status["config_last_reload_successful"] is True, status
    assert _get(daemon, "u", "old")[0] == 401
