"""Hermetic tests: no gateway or provider variable leaks in from the environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.wiring.settings import get_settings

PREFIXES = ("GATEWAY_", "KAIZALA_", "GUPSHUP_", "SANDBOX_")
KEEP = {"GATEWAY_TEST_REDIS_URL"}


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(PREFIXES) and name not in KEEP:
            monkeypatch.delenv(name)
    # pydantic-settings reads ./.env; run each test where there is none.
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
