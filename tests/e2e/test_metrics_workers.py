"""With several workers, /metrics counts what every worker did, whichever worker answers it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests import samples
from tests.e2e.conftest import Server, start, stop

pytestmark = pytest.mark.e2e

MAX_TRIES = 400  # new connections until each worker has served one; the kernel picks


def sends_counted(text: str) -> float:
    found = re.search(
        r'^gateway_sends_total\{client="anonymous",media_type="image",outcome="ok",'
        r'provider="kaizala"\} (\S+)$',
        text,
        re.M,
    )
    return float(found.group(1)) if found else 0.0


def workers_that_served(gateway: Server, path: str) -> set[int]:
    """The workers (by pid) whose access lines show `path`."""
    pids = set()
    for line in gateway.log_text().splitlines():
        entry = json.loads(line)
        if entry.get("message") == "request" and entry.get("path") == path:
            pids.add(entry["pid"])
    return pids


def test_metrics_are_summed_over_workers(tmp_path: Path) -> None:
    gateway = start("gateway-workers", ["gateway", "--workers", "2"], {}, tmp_path)
    try:
        sends = 0
        # A new connection each time, until both workers have served sends.
        while len(workers_that_served(gateway, "/send-media")) < 2:
            assert sends < MAX_TRIES, "one worker never got a connection"
            answer = httpx.post(
                f"{gateway.url}/send-media",
                data={"provider": "kaizala", "group_id": "g@1"},
                files={"file": ("a.png", samples.png(), "image/png")},
                headers={"Connection": "close"},
            )
            assert answer.status_code == 200
            sends += 1
        # Every scrape shows every send, whichever worker answers it: scraped until both
        # workers have answered one.
        scrapes = 0
        while len(workers_that_served(gateway, "/metrics")) < 2:
            assert scrapes < MAX_TRIES, "one worker never answered a scrape"
            text = httpx.get(f"{gateway.url}/metrics", headers={"Connection": "close"}).text
            assert sends_counted(text) == sends
            scrapes += 1
        # Each worker keeps its own token: one fetch per worker, summed.
        refreshes = re.search(
            r'^gateway_token_refreshes_total\{provider="kaizala",result="2xx"\} (\S+)$',
            text,
            re.M,
        )
        assert refreshes is not None
        assert float(refreshes.group(1)) == 2
    finally:
        stop(gateway)
