"""A drop-in NATS account server: hosts account JWTs for nats-server's URL resolver."""

__version__ = "1.1.0"
