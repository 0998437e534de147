"""Fixtures for the dashboard tests: a ring name removed afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.shm import ring_fixture


@pytest.fixture
def ring_name() -> Iterator[str]:
    yield from ring_fixture()
