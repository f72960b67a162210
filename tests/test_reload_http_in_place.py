"""A reload that changes ``[http]``'s basic-auth credentials (a new password, authentication
turned on or off) or its TLS (turned on or off, other files, a certificate renewed at its path):
they are set on the server that runs, whose listener stays. The real daemon (and a ``--workers``
primary) as a subprocess, real HTTP and HTTPS with a certificate made here, a real SIGHUP, and
``sensord reload`` as another subprocess, which finds a daemon whose credentials are not the
file's any more."""

from __future__ import annotations

import base64
import http.client
import json
import signal
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from harness.common import free_port, wait_for
from harness.config import sensor_toml, write_atomically
from harness.daemon import DaemonProcess, StartDaemon, sensord_cli
from harness.proc import listener
from harness.tls import self_signed, write_self_signed

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
    return listener(daemon.pid, daemon.port)


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
    changed = daemon.wait_events("http credentials changed")
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


def _status_at(
    url: str, user: str, password: str, cert: Path | None = None
) -> tuple[int, dict[str, object]]:
    """(code, ``/status``) at ``url`` with these credentials, trusting ``cert`` alone."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    context = None if cert is None else ssl.create_default_context(cafile=str(cert))
    if context is not None:
        context.check_hostname = False
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_sensord_reload_pid_reloads_a_daemon_that_refuses_the_file_s_new_password(
    start_daemon: StartDaemon, tmp_path: Path, tls: bool
) -> None:
    """The unit's ``sensord reload --pid $MAINPID`` after a new password: the daemon refuses
    the file's, so the reloads its ``/healthz`` counts (no credentials) are what the command
    waits on; the outcome is read with the file's password once the reload applied it.
    Without ``--pid`` nothing is signalled (whoever answers 401 there is not known)."""
    cert = None
    http = _auth("u", "old")
    if tls:
        cert, key = self_signed(tmp_path)
        http += f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
    port = free_port()
    config = tmp_path / "auth.toml"
    _write(config, port, http)
    daemon = start_daemon(["--config", str(config)], port=port, port_option=False)
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/status"
    wait_for(lambda: _alive_at(daemon, url, cert), 20, "the daemon answering")
    _write(config, port, http.replace('"old"', '"new"'), SENSORS + sensor_toml("c", "sim://c"))

    unasked = sensord_cli("reload", "-c", str(config))

    assert unasked.returncode == 3, unasked.stderr
    assert unasked.stderr.startswith(f"sensord: no daemon to reload: {url}: HTTP 401\n")
    assert _status_at(url, "u", "old", cert)[1]["config_reloads_begun"] == 0

    done = sensord_cli("reload", "-c", str(config), "--pid", str(daemon.pid))

    assert done.returncode == 0, done.stderr
    assert (
        done.stdout == f"sensord: configuration reloaded (pid {daemon.pid}, {config}): 3 sensors\n"
    )
    assert done.stderr == (
        f"sensord: note: pid {daemon.pid} refuses the file's [http] credentials at "
        f"{url.removesuffix('/status')} (HTTP 401): it asks for those it runs with until the "
        "reload applies the file's; the reload is followed on its /healthz, which asks for "
        "none\n"
    )
    code, status = _status_at(url, "u", "new", cert)  # no wait: the reload has applied
    assert code == 200
    assert (status["config_reloads"], status["config_last_reload_successful"]) == (1, True)
    assert _status_at(url, "u", "old", cert)[0] == 401


def _alive_at(daemon: DaemonProcess, url: str, cert: Path | None) -> bool:
    if not daemon.alive():
        raise AssertionError(daemon.log_text()[-4000:])
    try:
        return _status_at(url, "u", "old", cert)[0] == 200
    except OSError:
        return False


def test_a_new_password_and_an_error_elsewhere_fail_the_reload_unread(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """The invalid file is not applied, so the daemon asks for the old password still: the
    count on ``/healthz`` tells the outcome is set, and its ``/status`` cannot be read with
    the file's password. The command fails, saying where the reason is."""
    daemon, config = _started(start_daemon, tmp_path, _auth("u", "old"))
    broken = SENSORS.replace('name = "b"', 'name = "b"\nwarmup_s = -1', 1)
    _write(config, daemon.port, _auth("u", "new"), broken)

    done = sensord_cli("reload", "-c", str(config), "--pid", str(daemon.pid))

    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"sensord: reload failed (pid {daemon.pid}): it did not apply the file's [http], and "
        f"asks for other credentials than the file's (http://127.0.0.1:{daemon.port}/status: "
        "HTTP 401), so its /status, which names why, cannot be read with them: its log names "
        "it (journalctl -u sensord), and 'sensord check' the errors of the file"
    )
    status = _status(daemon, "u", "old")
    assert status is not None
    assert (status["config_reloads"], status["config_last_reload_successful"]) == (1, False)


def test_a_workers_primary_is_reloaded_with_its_new_password(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    daemon, config = _started(start_daemon, tmp_path, _auth("u", "old"), "--workers", "2")
    _write(config, daemon.port, _auth("u", "new"))

    done = sensord_cli("reload", "-c", str(config), "--pid", str(daemon.pid))

    assert done.returncode == 0, done.stderr
    assert (
        done.stdout == f"sensord: configuration reloaded (pid {daemon.pid}, {config}): 2 sensors\n"
    )
    assert _get(daemon, "u", "new")[0] == 200


@pytest.mark.parametrize("workers", [(), ("--workers", "2")], ids=["single", "workers"])
def test_tls_turned_on_and_off_is_served_on_the_listener_that_runs(
    start_daemon: StartDaemon, tmp_path: Path, workers: tuple[str, ...]
) -> None:
    """The listener is plain TCP; each connection accepted is wrapped in the TLS of that
    moment. So TLS turned on (and off again) applies at the reload on the same listener, with
    ``--workers`` too, whose primary keeps only its address until a restart."""
    cert, key = self_signed(tmp_path)
    daemon, config = _started(start_daemon, tmp_path, _auth("u", "old"), *workers)
    listening = _listener(daemon)
    tls = f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
    _write(config, daemon.port, _auth("u", "old") + tls)

    done = sensord_cli("reload", "-c", str(config), "--pid", str(daemon.pid))

    assert done.returncode == 0, done.stderr
    https = f"https://127.0.0.1:{daemon.port}/status"
    code, status = _status_at(https, "u", "old", cert)  # verified against the file's
    assert code == 200
    assert status["config_last_reload_successful"] is True
    assert _listener(daemon) == listening
    changed = daemon.wait_events("http tls changed")
    assert [event["tls_cert_file"] for event in changed] == [str(cert)]

    _write(config, daemon.port, _auth("u", "old"))
    done = sensord_cli("reload", "-c", str(config), "--pid", str(daemon.pid))

    assert done.returncode == 0, done.stderr
    plain = _status(daemon, "u", "old")
    assert plain is not None
    assert (plain["config_reloads"], plain["config_last_reload_successful"]) == (2, True)
    assert _listener(daemon) == listening


def _kept_alive(connection: http.client.HTTPConnection) -> http.client.HTTPResponse:
    """``/status`` with the old password on ``connection``, read in full: it stays open."""
    token = base64.b64encode(b"u:old").decode()
    connection.request("GET", "/status", headers={"Authorization": f"Basic {token}"})
    response = connection.getresponse()
    response.read()
    return response


def test_a_connection_kept_alive_across_a_tls_change_is_not_served_its_old_tls(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """A scraper that keeps its connection alive, asking more often than the idle timeout,
    holds it for ever: once TLS is turned on its plain requests (the password, the readings)
    get no answer, so it does not go on in the clear; after a renewal its TLS connection gets
    one answer more, which closes it, and the next connection gets the new certificate."""
    cert, key = self_signed(tmp_path)
    daemon, config = _started(start_daemon, tmp_path, _auth("u", "old"))
    plain = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    assert _kept_alive(plain).status == 200
    tls = f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
    _write(config, daemon.port, _auth("u", "old") + tls)
    https = f"https://127.0.0.1:{daemon.port}/status"

    daemon.signal(signal.SIGHUP)

    wait_for(lambda: _alive_at(daemon, https, cert), 20, "TLS turned on")
    with pytest.raises(ConnectionError):  # RemoteDisconnected or a reset: no answer
        _kept_alive(plain)
    plain.close()

    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    secure = http.client.HTTPSConnection("127.0.0.1", daemon.port, timeout=10, context=context)
    first = _kept_alive(secure)
    assert (first.status, first.getheader("Connection")) == (200, None)  # kept alive
    old_cert = cert.read_text()
    write_self_signed(cert, key)  # renewed at its path

    daemon.signal(signal.SIGHUP)

    wait_for(lambda: _alive_at(daemon, https, cert), 20, "the renewal served")
    last = _kept_alive(secure)
    assert (last.status, last.getheader("Connection")) == (200, "close")
    assert secure.sock is None  # http.client closed it, as the answer said
    secure.close()
    served = ssl.get_server_certificate(("127.0.0.1", daemon.port), timeout=5)
    assert served != old_cert
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(cert.read_text())


@pytest.mark.parametrize("workers", [(), ("--workers", "2")], ids=["single", "workers"])
def test_tls_files_replaced_by_others_and_removed_are_left_at_the_reload(
    start_daemon: StartDaemon, tmp_path: Path, workers: tuple[str, ...]
) -> None:
    """The files the running server loaded may be gone by the reload that names others (a
    certificate moved to a new path, the old one removed; TLS turned off and the files
    removed): the reload compares the rest of ``[http]`` with what runs without reading them,
    and serves the new files."""
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir()
    new_dir.mkdir()
    old_cert, old_key = self_signed(old_dir)
    cert, key = self_signed(new_dir)
    tls = f'tls_cert_file = "{old_cert}"\ntls_key_file = "{old_key}"\n'
    port = free_port()
    config = tmp_path / "auth.toml"
    _write(config, port, _auth("u", "old") + tls)
    daemon = start_daemon(["--config", str(config), *workers], port=port, port_option=False)
    https = f"https://127.0.0.1:{port}/status"
    wait_for(lambda: _alive_at(daemon, https, old_cert), 30, "the daemon answering")
    _write(config, port, _auth("u", "old") + tls.replace(str(old_dir), str(new_dir)))
    old_cert.unlink()
    old_key.unlink()

    done = sensord_cli("reload", "-c", str(config), "--pid", str(daemon.pid))

    assert done.returncode == 0, done.stderr
    code, status = _status_at(https, "u", "old", cert)  # the new certificate verifies
    assert (code, status["config_last_reload_successful"]) == (200, True)

    _write(config, port, _auth("u", "old"))  # TLS off, and its files removed
    cert.unlink()
    key.unlink()

    done = sensord_cli("reload", "-c", str(config), "--pid", str(daemon.pid))

    assert done.returncode == 0, done.stderr
    plain = _status(daemon, "u", "old")
    assert plain is not None
    assert (plain["config_reloads"], plain["config_last_reload_successful"]) == (2, True)


def test_a_workers_primary_takes_a_new_password_edited_with_its_address_or_limits(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """A ``--workers`` primary keeps its address and limits until a restart (the reload is
    applied in part), but the credentials, checked per request, are taken at the reload also
    when the edit changed those too: a password rotated with a limit is not left in force."""
    daemon, config = _started(start_daemon, tmp_path, _auth("u", "old"), "--workers", "2")
    _write(config, daemon.port, "max_connections = 32\n" + _auth("u", "new"))

    daemon.signal(signal.SIGHUP)

    def reloaded() -> bool:
        status = _status(daemon, "u", "new") or _status(daemon, "u", "old")
        return status is not None and status["config_reloads"] == 1

    wait_for(reloaded, 30, "the reload's outcome")
    status = _status(daemon, "u", "new")
    assert status is not None, "the old password is still asked for"
    assert _get(daemon, "u", "old")[0] == 401
    assert status["config_last_reload_successful"] is False  # the limit waits for a restart
    assert status["config_last_reload_errors"] == [
        "[http] keeps its running settings (see the log)"
    ]
    changed = daemon.wait_events("http credentials changed")
    assert [event["username"] for event in changed] == ["u"]
