"""The dashboard and the alert rules in deploy/ use only metrics that /metrics exposes, and
the gauges the alerts rest on (gateway_ready, gateway_redis_up) say what /readyz says."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import NO_REDIS, redis_url
from tests.gateway.conftest import AppClient

pytestmark = pytest.mark.anyio

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana-dashboard.json"
RULES = DEPLOY / "prometheus-rules.yaml"
UNREACHABLE = "redis://127.0.0.1:9/0"  # nothing listens there


def exposed(text: str) -> set[str]:
    """Every series name /metrics can carry, from its TYPE lines (a counter with no
    sample yet is still declared)."""
    names: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (\w+) (\w+)$", text, re.M):
        if kind == "counter":  # declared with or without _total, by the client's version
            base = name.removesuffix("_total")
            names |= {f"{base}_total", f"{base}_created"}
        elif kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum", f"{name}_created"}
        else:
            names.add(name)
    return names


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return exprs


def used() -> set[str]:
    text = "\n".join(dashboard_exprs()) + RULES.read_text()
    return set(re.findall(r"\bgateway_[a-z_]+\b", text))


async def test_every_metric_the_dashboard_and_the_alerts_use_is_exposed(
    app_client: AppClient,
) -> None:
    # With a Redis configured (here one that cannot be reached), gateway_redis_up exists.
    async with app_client(redis_url=UNREACHABLE) as client:
        text = (await client.get("/metrics")).text
    names = used()
    assert {"gateway_ready", "gateway_redis_up", "gateway_sends_total"} <= names
    assert names - exposed(text) == set()


async def test_the_gauges_say_what_readyz_says(app_client: AppClient) -> None:
    async with app_client(redis_url=UNREACHABLE) as client:
        assert (await client.get("/readyz")).status_code == 503
        text = (await client.get("/metrics")).text
    assert re.search(r"^gateway_ready 0\.0$", text, re.M)
    assert re.search(r"^gateway_redis_up 0\.0$", text, re.M)


@pytest.mark.redis
async def test_with_redis_up_both_gauges_are_one(app_client: AppClient) -> None:
    url = redis_url()
    if url is None:
        pytest.skip(NO_REDIS)
    async with app_client(redis_url=url) as client:
        text = (await client.get("/metrics")).text
    assert re.search(r"^gateway_ready 1\.0$", text, re.M)
    assert re.search(r"^gateway_redis_up 1\.0$", text, re.M)


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each panel's query (as a recording rule; Grafana's variables given
    values), so a typo shows here, not as an empty panel."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("no promtool (Debian's prometheus package; .ci/run installs it)")
    rules = ["groups:", "  - name: dashboard", "    rules:"]
    for n, expr in enumerate(dashboard_exprs()):
        if expr.startswith("label_values("):
            continue  # Grafana's own function, not PromQL
        concrete = expr.replace("$__rate_interval", "5m").replace("$job", ".*")
        rules += [f"      - record: dashboard:panel{n}", f"        expr: {json.dumps(concrete)}"]
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text("\n".join(rules) + "\n")
    checked = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
