"""Fixtures for store tests."""

from __future__ import annotations

import pytest
from store_helpers import Minter


@pytest.fixture
def minter() -> Minter:
    return Minter()
