"""Self-signed certificates for the tests of sensord's TLS endpoint, made by ``openssl``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def write_self_signed(cert: Path, key: Path, name: str = "localhost") -> None:
    """A new key and a self-signed certificate for it (CN ``name``, valid for 127.0.0.1),
    written over ``cert`` and ``key`` as a renewal writes them: each file replaced whole (a
    rename), the key readable by its owner only. The key is an EC P-256 one, made in about a
    millisecond (an RSA 2048 one takes openssl 0.25 s and more of CPU)."""
    new_cert, new_key = cert.with_suffix(".new"), key.with_suffix(".new")
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "2",
        "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1",
        "-keyout", str(new_key), "-out", str(new_cert),
    )  # fmt: skip
    new_key.chmod(0o600)
    os.replace(new_key, key)
    os.replace(new_cert, cert)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """``cert.pem`` and ``key.pem`` in ``directory``: see :func:`write_self_signed`."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    write_self_signed(cert, key)
    return cert, key
