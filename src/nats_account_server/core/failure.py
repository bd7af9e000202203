"""Failure: how the core ends a request with an error status and a one-line reason.

Its own module so that the core's parts (notifications, packs) raise it without importing the
service, which imports them.
"""

from __future__ import annotations

__all__ = ["Failure"]


class Failure(Exception):
    """A request that ends with an error status and a one-line reason for the caller."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
