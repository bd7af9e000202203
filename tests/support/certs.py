"""Self-signed test certificates (HTTPS and NATS TLS tests); skips when openssl is missing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def self_signed(tmp_path: Path, name: str, cn: str) -> tuple[Path, Path]:
    cert, key = tmp_path / f"{name}-cert.pem", tmp_path / f"{name}-key.pem"
    made = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            f"/CN={cn}",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip("openssl is not available to make test certificates")
    return cert, key
