"""Minting for the benchmark: an operator, account JWTs of about 650 bytes, and directory stores.

Small sets go through the project's own `nats_account_server.jwt.encode`. The 100k / 1M stores use
`fast_account_jwt`, which builds the very same bytes (checked against `encode` at start) without
the per-call deep copies and key derivations, and writes the files from a process pool.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nkeys

from nats_account_server.jwt.encode import account_claims, encode, new_keypair, operator_claims, user_claims

V2_HEADER_B64 = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ"  # {"typ":"JWT","alg":"ed25519-nkey"}
ACCOUNT_PREFIX = 0  # NKey prefix byte of account public keys ("A...")
COMPLETE = ".complete"  # marker file beside a store directory that was written completely


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def random_account_key() -> str:
    """A valid account public key (prefix, 32 random bytes, CRC-16/XMODEM), with no seed behind it.

    Stored accounts signed by the operator never need their own private key, so we skip keygen.
    """
    body = bytes([ACCOUNT_PREFIX]) + os.urandom(32)
    crc = binascii.crc_hqx(body, 0).to_bytes(2, "little")
    return base64.b32encode(body + crc).decode("ascii")


@dataclass(frozen=True, slots=True)
class Operator:
    seed: str
    pub: str
    sys_seed: str
    sys_pub: str

    @classmethod
    def new(cls) -> Operator:
        seed, pub = new_keypair("O")
        sys_seed, sys_pub = new_keypair("A")
        return cls(seed, pub, sys_seed, sys_pub)

    def operator_jwt(self) -> str:
        return encode(operator_claims(self.pub, name="bench", system_account=self.sys_pub), self.seed)

    def account_jwt(self, pub: str, *, payload: int = -1, iat: int | None = None, name: str = "") -> str:
        """An operator-signed account JWT through the project's own encoder (about 650-700 bytes)."""
        limits = {"payload": payload} if payload != -1 else None
        return encode(account_claims(pub, name=name, limits=limits, iat=iat), self.seed)

    def system_account_jwt(self) -> str:
        return encode(account_claims(self.sys_pub, name="SYS"), self.seed)

    def user_creds(self, account_seed: str, name: str) -> str:
        """An nsc-style .creds text for a new user of the account whose seed is given."""
        user_seed, user_pub = new_keypair("U")
        jwt = encode(user_claims(user_pub, name=name), account_seed)
        return (
            f"-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n"
            f"-----BEGIN USER NKEY SEED-----\n{user_seed}\n------END USER NKEY SEED------\n"
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"seed": self.seed, "sys_seed": self.sys_seed}))

    @classmethod
    def load(cls, path: Path) -> Operator:
        data = json.loads(path.read_text())
        kp = nkeys.from_seed(data["seed"].encode())
        sys_kp = nkeys.from_seed(data["sys_seed"].encode())
        return cls(data["seed"], kp.public_key.decode(), data["sys_seed"], sys_kp.public_key.decode())


class FastMinter:
    """Byte-identical to `Operator.account_jwt(pub, iat=iat)`, about 10x cheaper per JWT."""

    def __init__(self, operator_seed: str, iat: int) -> None:
        self.kp = nkeys.from_seed(operator_seed.encode())
        self.iss = self.kp.public_key.decode()
        self.iat = iat
        reference = json.loads(
            base64.urlsafe_b64decode(
                self._pad(encode(account_claims(random_account_key(), iat=iat), operator_seed).split(".")[1])
            )
        )
        self.nats_json = json.dumps(reference["nats"], separators=(",", ":"))

    @staticmethod
    def _pad(seg: str) -> str:
        return seg + "=" * (-len(seg) % 4)

    def account_jwt(self, sub: str) -> str:
        std = f'{{"iat":{self.iat},"iss":"{self.iss}","sub":"{sub}"}}'
        jti = base64.b32encode(hashlib.new("sha512_256", std.encode()).digest()).decode().rstrip("=")
        payload = (
            f'{{"jti":"{jti}","iat":{self.iat},"iss":"{self.iss}","sub":"{sub}","nats":{self.nats_json}}}'
        )
        signed = f"{V2_HEADER_B64}.{b64(payload.encode())}"
        return f"{signed}.{b64(self.kp.sign(signed.encode()))}"

    def self_check(self, operator: Operator) -> None:
        sub = random_account_key()
        fast, slow = self.account_jwt(sub), operator.account_jwt(sub, iat=self.iat)
        if fast != slow:
            raise RuntimeError(f"fast minter differs from encode():\n{fast}\n{slow}")


def _write_chunk(args: tuple[str, int, str, int]) -> list[str]:
    """Worker: mint `count` accounts into `directory`; returns their keys."""
    seed, iat, directory, count = args
    minter = FastMinter(seed, iat)
    keys: list[str] = []
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for _ in range(count):
        key = random_account_key()
        fd = os.open(os.path.join(directory, key + ".jwt"), flags, 0o644)
        try:
            os.write(fd, minter.account_jwt(key).encode())
        finally:
            os.close(fd)
        keys.append(key)
    return keys


def build_big_store(
    operator: Operator, directory: Path, count: int, keys_file: Path, workers: int = 2
) -> float:
    """Write `count` JWT files (flat layout) and the list of their keys; returns seconds taken.

    A store with the completion marker and a keys file of the right length is reused as it is.
    """
    marker = directory.parent / f"{directory.name}{COMPLETE}"
    if marker.exists() and keys_file.exists() and marker.read_text().strip() == str(count):
        return 0.0
    started = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.iterdir():
        old.unlink()
    iat = int(time.time())
    FastMinter(operator.seed, iat).self_check(operator)
    chunk = 20_000
    jobs = [(operator.seed, iat, str(directory), min(chunk, count - i)) for i in range(0, count, chunk)]
    keys: list[str] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(_write_chunk, jobs):
            keys.extend(part)
    keys_file.write_text("\n".join(keys) + "\n")
    marker.write_text(str(count))
    return time.perf_counter() - started


def write_store(directory: Path, jwts: dict[str, str]) -> None:
    """A small directory store written afresh (the 1-account and the POST store)."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.iterdir():
        old.unlink()
    for key, jwt in jwts.items():
        (directory / f"{key}.jwt").write_text(jwt)


def strip_marks(directory: Path) -> int:
    """Remove the server's verified marks (stores/marks.py) from every file: the store is then as an
    operator copies it in (never verified by us), and at rest on disk. Returns how many files carried one."""
    from nats_account_server.stores.marks import XATTR

    stripped = 0
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.endswith(".jwt"):
                try:
                    os.removexattr(entry.path, XATTR)
                    stripped += 1
                except OSError:
                    pass
    if stripped:
        os.sync()  # written back now: else the kernel writes the inodes back while the server starts
    return stripped
