"""Every command-line flag the server documents: what `-h` must list."""

from __future__ import annotations

FLAGS = (
    "-c",
    "-nsc",
    "-dir",
    "-ro",
    "-operator",
    "-nats",
    "-creds",
    "-primary",
    "-hp",
    "-D",
    "-V",
    "-DV",
    "-dump",
    "-h",
)
