"""A TLS certificate renewed in place (certbot, an ACME client or a PKI agent writes the new files
at the same paths, then ``systemctl reload sensord``): the real daemon (and a ``--workers``
primary) as a subprocess serving HTTPS, ``sensord reload`` as another, real SIGHUP. The
certificate a client gets is compared with the files' by its DER bytes."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from harness.common import REPO, free_port, wait_for
from harness.config import sensor_toml
from harness.daemon import DaemonProcess, StartDaemon
from harness.proc import listener
from harness.tls import openssl, write_self_signed


def _write_issued(cert: Path, key: Path, ca: Path, ca_key: Path, serial: int) -> None:
    """A new key and a certificate for it that ``ca`` issued (the leaf alone in ``cert``, as
    certbot's ``cert.pem`` holds it), each written over the old file whole."""
    new_cert, new_key, request = (cert.with_suffix(s) for s in (".new", ".key.new", ".csr"))
    openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-subj", "/CN=localhost",
        "-keyout", str(new_key), "-out", str(request),
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key),
        "-set_serial", str(serial), "-days", "2", "-out", str(new_cert),
    )  # fmt: skip
    new_key.chmod(0o600)
    os.replace(new_key, key)
    os.replace(new_cert, cert)


def _served(port: int) -> bytes:
    """The DER bytes of the certificate served at ``port`` on loopback."""
    pem = ssl.get_server_certificate(("127.0.0.1", port), timeout=5)
    return ssl.PEM_cert_to_DER_cert(pem)


def _der(cert: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.read_text())


def _status(port: int, cert: Path) -> dict[str, object]:
    """``/status`` over TLS, trusting ``cert`` alone."""
    context = ssl.create_default_context(cafile=str(cert))
    url = f"https://127.0.0.1:{port}/status"
    with urllib.request.urlopen(url, timeout=10, context=context) as reply:
        data: dict[str, object] = json.loads(reply.read())
    return data


def _unverified_status(port: int) -> dict[str, object]:
    """``/status`` over TLS, whatever the certificate served."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    url = f"https://127.0.0.1:{port}/status"
    with urllib.request.urlopen(url, timeout=10, context=context) as reply:
        data: dict[str, object] = json.loads(reply.read())
    return data


def _sighup(daemon: DaemonProcess) -> dict[str, object]:
    """Signal a reload as ``kill -HUP`` does; ``/status`` once its outcome is set."""
    reloads = _unverified_status(daemon.port)["config_reloads"]
    assert isinstance(reloads, int)
    daemon.signal(signal.SIGHUP)
    seen: list[dict[str, object]] = []

    def reloaded() -> bool:
        try:
            seen.append(_unverified_status(daemon.port))
        except OSError:  # between two listeners
            return False
        return seen[-1]["config_reloads"] == reloads + 1

    wait_for(reloaded, 20, "the reload's outcome")
    return seen[-1]


def _reload(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sensord", "reload", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )


def _started(
    start_daemon: StartDaemon, tmp_path: Path, *args: str
) -> tuple[DaemonProcess, Path, Path, Path]:
    """A daemon of two simulated sensors serving HTTPS with a self-signed certificate, running;
    its file, certificate and key."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    write_self_signed(cert, key, "first")
    port = free_port()
    config = tmp_path / "tls.toml"
    config.write_text(
        f'[http]\nport = {port}\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
        + sensor_toml("a", "sim://a")
        + sensor_toml("b", "sim://b")
    )
    daemon = start_daemon(["--config", str(config), *args], port=port, port_option=False)

    def running() -> bool:
        if not daemon.alive():
            raise AssertionError(daemon.log_text()[-4000:])
        try:
            return _status(port, cert)["state"] == "running"
        except OSError:
            return False

    wait_for(running, 30, "the daemon running over TLS")
    return daemon, config, cert, key


@pytest.mark.parametrize("workers", [(), ("--workers", "2")], ids=["single", "workers"])
def test_a_certificate_renewed_at_its_path_is_served_after_a_reload(
    start_daemon: StartDaemon, tmp_path: Path, workers: tuple[str, ...]
) -> None:
    """The renewed files have the paths ``[http]`` names, so its settings are unchanged: the
    reload finds their contents changed and serves them on the listener that runs (no
    connection is refused meanwhile); one that finds the contents it runs with loads nothing
    again."""
    daemon, _, cert, key = _started(start_daemon, tmp_path, *workers)
    listening = listener(daemon.pid, daemon.port)
    first = _served(daemon.port)
    assert first == _der(cert)
    write_self_signed(cert, key, "second")
    assert _served(daemon.port) == first  # the running server keeps what it loaded

    status = _sighup(daemon)

    assert status["config_last_reload_successful"] is True, status
    assert _served(daemon.port) == _der(cert) != first
    assert listener(daemon.pid, daemon.port) == listening
    changed = daemon.wait_events("tls certificate or key changed; serving the new files")
    assert [event["changed"] for event in changed] == [
        [f"http.tls_cert_file {cert}", f"http.tls_key_file {key}"]
    ]
    assert _sighup(daemon)["config_last_reload_successful"] is True
    assert len(daemon.events("tls certificate or key changed; serving the new files")) == 1
    assert daemon.alive()


@pytest.mark.parametrize("workers", [(), ("--workers", "2")], ids=["single", "workers"])
def test_sensord_reload_pid_reaches_a_daemon_that_serves_the_certificate_renewed_since(
    start_daemon: StartDaemon, tmp_path: Path, workers: tuple[str, ...]
) -> None:
    """Before the reload the daemon serves a certificate the renewed file's does not verify:
    without ``--pid`` nothing is signalled; with it the daemon, which listens on that loopback
    address, is read with the one it serves, and the command tells it serves the file's after
    the reload."""
    daemon, config, cert, key = _started(start_daemon, tmp_path, *workers)
    first = _served(daemon.port)
    assert first == _der(cert)
    write_self_signed(cert, key, "second")
    assert _served(daemon.port) == first  # the running server keeps what it loaded

    unasked = _reload("-c", str(config))

    assert unasked.returncode == 3, unasked.stderr
    assert "CERTIFICATE_VERIFY_FAILED" in unasked.stderr
    assert f"its certificate does not verify against [http] tls_cert_file {cert}" in unasked.stderr
    assert _served(daemon.port) == first

    done = _reload("-c", str(config), "--pid", str(daemon.pid))

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"sensord: configuration reloaded (pid {daemon.pid}, ")
    assert _served(daemon.port) == _der(cert) != first
    notes = done.stderr.splitlines()
    assert notes[0].startswith(
        f"sensord: note: the certificate pid {daemon.pid} serves at https://127.0.0.1:"
        f"{daemon.port} does not verify against [http] tls_cert_file {cert} "
    )
    assert notes[-1] == (
        f"sensord: note: the daemon serves the certificate of [http] tls_cert_file {cert} now"
    )
    status = _status(daemon.port, cert)  # verified against the renewed file
    assert (status["config_last_reload_successful"], status["config_reloads"]) == (True, 1)

    # a reload with the same files loads nothing again
    again = _reload("-c", str(config), "--pid", str(daemon.pid))
    assert again.returncode == 0, again.stderr
    assert again.stderr == ""
    assert len(daemon.events("tls certificate or key changed; serving the new files")) == 1


def test_an_invalid_renewal_fails_the_reload_naming_the_file_and_the_old_certificate_stays(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """A new certificate whose key was not written (the renewal broke off half-way): the
    reload fails naming the key file, and the running server keeps the certificate it loaded,
    also when the daemon is signalled without the command (``kill -HUP``)."""
    daemon, config, cert, key = _started(start_daemon, tmp_path)
    first = _served(daemon.port)
    kept_key = key.read_bytes()
    write_self_signed(cert, key, "second")
    key.write_bytes(kept_key)

    done = _reload("-c", str(config), "--pid", str(daemon.pid))

    assert done.returncode == 1, done.stderr
    assert f"{key} is not the private key of the certificate in {cert}" in done.stderr
    assert _served(daemon.port) == first

    status = _sighup(daemon)
    assert status["config_last_reload_successful"] is False
    errors = status["config_last_reload_errors"]
    assert isinstance(errors, list)
    assert any(str(key) in str(line) for line in errors), errors
    assert _served(daemon.port) == first
    assert daemon.alive()


def test_sensord_reload_pid_reaches_a_daemon_that_serves_the_previous_certificate_of_its_ca(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """The same CA issued the renewed certificate: the file holds the new leaf alone, which
    the old one does not verify against, so the daemon is read with the one it serves, and
    serves the new one (another serial) after the reload."""
    ca, ca_key = tmp_path / "ca.pem", tmp_path / "ca.key"
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-days", "2", "-subj", "/CN=test CA",
        "-keyout", str(ca_key), "-out", str(ca),
    )  # fmt: skip
    daemon, config, cert, key = _started(start_daemon, tmp_path)
    _write_issued(cert, key, ca, ca_key, serial=1)
    assert _sighup(daemon)["config_last_reload_successful"] is True
    first = _served(daemon.port)
    assert first == _der(cert)
    _write_issued(cert, key, ca, ca_key, serial=2)

    done = _reload("-c", str(config), "--pid", str(daemon.pid))

    assert done.returncode == 0, done.stderr
    assert _served(daemon.port) == _der(cert) != first
    assert done.stderr.splitlines()[-1] == (
        f"sensord: note: the daemon serves the certificate of [http] tls_cert_file {cert} now"
    )
    context = ssl.create_default_context(cafile=str(ca))  # as a scraper trusts the CA
    context.check_hostname = False
    url = f"https://127.0.0.1:{daemon.port}/status"
    with urllib.request.urlopen(url, timeout=10, context=context) as reply:
        assert json.loads(reply.read())["config_last_reload_successful"] is True
