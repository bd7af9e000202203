"""Appendix B test vectors and small token-crafting helpers shared by the jwt tests."""

from __future__ import annotations

import base64
import json
from typing import Any

OPERATOR_SEED = "SOAACAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIATA"
OPERATOR_KEY = "OCFIRY65OQE7DFP5KLNS2PF2LVZMUZYJX4OZIEQ36N2IQANUB5XVYOCS"
ACCOUNT1_SEED = "SAAAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAUN5U"
ACCOUNT1_KEY = "ACATS5YOVB6ROX2WUNKGNQ2MP3GMXDMKSG2O4N5CLX3A6W4PZGZZIL2R"
ACCOUNT2_SEED = "SAAAGAYDAMBQGAYDAMBQGAYDAMBQGAYDAMBQGAYDAMBQGAYDAMBQGAZS54"
ACCOUNT2_KEY = "ADWUSKGGFDI4FRXK5EBTRECZSVQSSWJHHJOGH6JWG3AUMFFMQ435D6HD"

T1 = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ."
    "eyJqdGkiOiJBU1hIWE81NjI2QU5WWkNRMzJNNDdKTTVRSkZDN0hWSE1RQjRLUEs1Vk42QUlUTVZHM1hBIiwiaWF0IjoxNzAwMDAw"
    "MDAwLCJpc3MiOiJPQ0ZJUlk2NU9RRTdERlA1S0xOUzJQRjJMVlpNVVpZSlg0T1pJRVEzNk4ySVFBTlVCNVhWWU9DUyIsIm5hbWUi"
    "OiJBIiwic3ViIjoiQUNBVFM1WU9WQjZST1gyV1VOS0dOUTJNUDNHTVhETUtTRzJPNE41Q0xYM0E2VzRQWkdaWklMMlIiLCJuYXRz"
    "Ijp7ImxpbWl0cyI6eyJzdWJzIjotMSwiZGF0YSI6LTEsInBheWxvYWQiOi0xLCJpbXBvcnRzIjotMSwiZXhwb3J0cyI6LTEsIndp"
    "bGRjYXJkcyI6dHJ1ZSwiY29ubiI6LTEsImxlYWYiOi0xfSwiZGVmYXVsdF9wZXJtaXNzaW9ucyI6eyJwdWIiOnt9LCJzdWIiOnt9"
    "fSwidHlwZSI6ImFjY291bnQiLCJ2ZXJzaW9uIjoyfX0."
    "G_FqQkaR9z58GaPRj2GSTXwt1al2NEzyoj4UE2NGyNVE--fLfnTN-jBkFbnALUSJF1DyBSzVqIhaC0sFJo1JCQ"
)
T1_JTI = "ASXHXO5626ANVZCQ32M47JM5QJFC7HVHMQB4KPK5VN6AITMVG3XA"
T1_SHA256 = "68757b52fd55e712a7e7a7ae68bc3cb4172e06120ce474ea1e0d6d856b20a64e"


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def seg(obj: Any) -> str:
    """A base64url segment of compact JSON."""
    return b64(json.dumps(obj, separators=(",", ":")))


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def parts(token: str) -> list[str]:
    return token.split(".")


def with_payload(token: str, claims: dict[str, Any]) -> str:
    """Same header and signature, different payload (a tampered token)."""
    head, _, sig = parts(token)
    return f"{head}.{seg(claims)}.{sig}"


def with_header(token: str, header: dict[str, Any]) -> str:
    _, payload, sig = parts(token)
    return f"{seg(header)}.{payload}.{sig}"
