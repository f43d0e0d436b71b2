"""Hermetic tests: no gateway or provider variable leaks in from the environment."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from uv import find_uv_bin

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


PLUGIN = Path(__file__).resolve().parent / "plugins" / "echo_provider"


@pytest.fixture(scope="session")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The echo provider plugin installed as an operator would, into a folder.

    With uv's pip interface: a venv made by `uv sync` holds no pip. Built offline with the
    setuptools of the dev group (no build isolation, nothing fetched).
    """
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [find_uv_bin(), "pip", "install", "--quiet", "--offline", "--no-deps",
         "--no-build-isolation", "--python", sys.executable, "--target", str(target), str(PLUGIN)],
        check=True,
    )  # fmt: skip
    assert any(p.name.startswith("media_gateway_echo_provider") for p in target.iterdir())
    return target


def redis_url() -> str | None:
    """The test Redis (database 15 by default), or None when none listens."""
    url = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return url
    except OSError:
        return None


NO_REDIS = "no Redis on 127.0.0.1:6379 (.ci/run starts one; start redis-server to run this)"


@contextlib.asynccontextmanager
async def redis_for_tests() -> AsyncIterator[Redis]:
    """A client of the test Redis, closed afterwards; or a skip that says why there is none."""
    url = redis_url()
    if url is None:
        pytest.skip(NO_REDIS)
    client = Redis.from_url(url)
    try:
        yield client
    finally:
        await client.aclose()
