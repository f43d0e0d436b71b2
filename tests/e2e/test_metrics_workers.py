"""With several workers, /metrics counts what every worker did, whichever worker answers it."""

from __future__ import annotations

import concurrent.futures
import re
from pathlib import Path

import httpx
import pytest

from tests import samples
from tests.e2e.conftest import start, stop

pytestmark = pytest.mark.e2e

SENDS = 24


def sends_counted(text: str) -> float:
    found = re.search(
        r'^gateway_sends_total\{media_type="image",outcome="ok",provider="kaizala"\} (\S+)$',
        text,
        re.M,
    )
    return float(found.group(1)) if found else 0.0


def test_metrics_are_summed_over_workers(tmp_path: Path) -> None:
    gateway = start("gateway-workers", ["gateway", "--workers", "2"], {}, tmp_path)
    try:

        def send(_: int) -> int:
            # A new connection each time, so the kernel spreads them over both workers.
            answer = httpx.post(
                f"{gateway.url}/send-media",
                data={"provider": "kaizala", "group_id": "g@1"},
                files={"file": ("a.png", samples.png(), "image/png")},
                headers={"Connection": "close"},
            )
            return answer.status_code

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            assert set(pool.map(send, range(SENDS))) == {200}
        # Each worker keeps its own token: two token fetches show both served sends.
        scrapes = [httpx.get(f"{gateway.url}/metrics", headers={"Connection": "close"}).text
                   for _ in range(6)]  # fmt: skip
        assert {sends_counted(text) for text in scrapes} == {SENDS}
        refreshes = re.search(
            r'^gateway_token_refreshes_total\{provider="kaizala",result="2xx"\} (\S+)$',
            scrapes[-1],
            re.M,
        )
        assert refreshes is not None
        assert float(refreshes.group(1)) == 2
    finally:
        stop(gateway)
