"""Startup rules, client keys, logs, and readiness with a real Redis."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from gateway.wiring.app import create_app
from gateway.wiring.build import StartupError
from gateway.wiring.logs import JsonFormatter
from gateway.wiring.settings import Settings
from tests import samples
from tests.conftest import NO_REDIS, PREFIXES, redis_url
from tests.gateway.conftest import AppClient, serve

pytestmark = pytest.mark.anyio

KEY = "client-key-0123456789"
ROOT = Path(__file__).resolve().parents[3]


async def test_live_credentials_without_client_keys_refuse_to_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GUPSHUP_APP_ID", "app-1")
    monkeypatch.setenv("GUPSHUP_APP_TOKEN", "sk_live_secret_value")
    with pytest.raises(StartupError, match="no client has a key") as caught:
        async with serve(create_app(Settings(_env_file=None))):
            pass
    assert "sk_live_secret_value" not in str(caught.value)
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    reason = next(line for line in logged if line["level"] == "critical")
    assert reason["message"].startswith("gateway cannot start: live provider credentials")
    assert "sk_live_secret_value" not in json.dumps(logged)


async def test_an_unwritable_temporary_directory_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    with pytest.raises(StartupError, match=r"temporary directory .* is not writable"):
        async with serve(create_app(Settings(_env_file=None))):
            pass


async def test_allow_anonymous_serves_live_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUPSHUP_APP_ID", "app-1")
    monkeypatch.setenv("GUPSHUP_APP_TOKEN", "sk_live_secret_value")
    async with serve(create_app(Settings(_env_file=None, allow_anonymous=True))) as client:
        ready = (await client.get("/readyz")).json()
    assert ready["providers"] == {"kaizala": "sandbox", "gupshup": "live"}


async def test_invalid_provider_settings_name_the_problem_not_the_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAIZALA_APPLICATION_ID", "app")
    monkeypatch.setenv("KAIZALA_APPLICATION_SECRET", "super-secret-value-1")
    with pytest.raises(
        StartupError, match=r"invalid kaizala settings: .*KAIZALA_REFRESH_TOKEN"
    ) as caught:
        async with serve(create_app(Settings(_env_file=None))):
            pass
    assert "super-secret-value-1" not in str(caught.value)


def test_short_client_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 characters"):
        Settings(_env_file=None, api_keys="short,also-short")


def test_keys_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_API_KEYS", f" {KEY} , other-key-0123456789 ")
    keys = [k.get_secret_value() for k in Settings(_env_file=None).api_keys]
    assert keys == [KEY, "other-key-0123456789"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"X-API-Key": "wrong-key-0123456789"}, 401), ({"X-API-Key": KEY}, 200)],
)
async def test_client_keys(app_client: AppClient, headers: dict[str, str], status: int) -> None:
    async with app_client(api_keys=f"other-key-0123456789,{KEY}") as client:
        response = await client.post(
            "/send-media",
            headers=headers,
            data={"provider": "kaizala", "group_id": "g@1"},
            files={"file": ("a.png", samples.png(), "image/png")},
        )
    assert response.status_code == status, response.text
    if status == 401:
        assert response.json()["code"] == "unauthorized"
    # Health and docs stay open for probes and people.


async def test_probes_and_docs_need_no_key(app_client: AppClient) -> None:
    async with app_client(api_keys=KEY) as client:
        for path in ("/healthz", "/readyz", "/docs", "/openapi.json"):
            assert (await client.get(path)).status_code == 200, path


async def test_logs_are_json_with_request_id_and_no_secrets(
    app_client: AppClient, capsys: pytest.CaptureFixture[str]
) -> None:
    async with app_client(api_keys=KEY) as client:
        await client.post(
            "/send-media",
            headers={"X-API-Key": KEY, "X-Request-ID": "trace-42"},
            data={"provider": "gupshup", "app_id": "sandbox-500"},
            files={"file": ("a.png", samples.png(), "image/png")},
        )
        await client.post("/send-media", headers={"X-API-Key": "guess-" + KEY})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    traced = [line for line in lines if line.get("request_id") == "trace-42"]
    assert {line["message"] for line in traced} >= {"provider failed", "request"}
    access = next(line for line in traced if line["message"] == "request")
    assert (access["status"], access["path"]) == (502, "/send-media")
    text = json.dumps(lines)
    assert KEY not in text
    assert "sandbox-partner-secret" not in text


def test_formatter_masks_registered_secrets_anywhere() -> None:
    formatter = JsonFormatter(["s3cret-value"])
    record = logging.makeLogRecord(
        {"msg": "token s3cret-value", "args": (), "extra_field": "x s3cret-value"}
    )
    record.extra_field = "x s3cret-value"
    line = formatter.format(record)
    assert "s3cret-value" not in line
    assert json.loads(line)["extra_field"] == "x [redacted]"


@pytest.mark.redis
async def test_readiness_with_a_real_redis(app_client: AppClient) -> None:
    url = redis_url()
    if url is None:
        pytest.skip(
            "no Redis on 127.0.0.1:6379 (.ci/run starts one; start redis-server to run this)"
        )
    async with app_client(redis_url=url) as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["redis"] == "ok"


async def test_readiness_fails_when_redis_is_unreachable(app_client: AppClient) -> None:
    async with app_client(redis_url="redis://127.0.0.1:9/0") as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    assert ready.json()["code"] == "not_ready"
    assert ready.json()["redis"] == "unreachable"


def test_formatter_redacts_before_serialising() -> None:
    """A secret with a quote, a backslash or a control character is escaped by json.dumps;
    masking after serialising would miss it."""
    secrets = ['pa"ss\\word-1234', "tab\there-secret", "plain-secret-value-9"]
    formatter = JsonFormatter(secrets)
    record = logging.makeLogRecord({"msg": "values %s %s", "args": (secrets[0], secrets[1])})
    record.detail = {"nested": [secrets[2].upper()]}
    line = formatter.format(record)
    parsed = json.loads(line)
    assert parsed["message"] == "values [redacted] [redacted]"
    assert parsed["detail"] == {"nested": ["[redacted]"]}
    for secret in secrets:
        assert json.dumps(secret)[1:-1] not in line


async def test_a_partial_live_configuration_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Once a misspelled token variable meant a sandbox answering 200 with fake ids.
    monkeypatch.setenv("GUPSHUP_APP_ID", "prod-app")
    monkeypatch.setenv("GUPSHUP_APP_TOKN", "sk_live_secret_value")
    with pytest.raises(StartupError, match="needs GUPSHUP_APP_TOKEN"):
        async with serve(create_app(Settings(_env_file=None, api_keys=[KEY]))):
            pass


BAD_SETTINGS = [
    (
        {"GATEWAY_API_KEYS": "prod-key-0123456789abcdef,short"},
        "GATEWAY_API_KEYS",
        "prod-key-0123456789abcdef",
    ),
    ({"GATEWAY_UPSTREAM_TIMEOUT_S": "abc"}, "GATEWAY_UPSTREAM_TIMEOUT_S", None),
    ({"GATEWAY_LOG_LEVEL": "verbose"}, "GATEWAY_LOG_LEVEL", None),
    ({"KAIZALA_ENDPOINT_URL": "https://kaizala.example"}, "KAIZALA_ACCESS_TOKEN", None),
    (
        {
            "GUPSHUP_APP_ID": "app-1",
            "GUPSHUP_APP_TOKEN": "sk_live_value_123",
            "GATEWAY_REDIS_URL": "redis://:hunter2-secret@h:99999",
        },
        "GATEWAY_API_KEYS",
        "sk_live_value_123",
    ),
]


@pytest.mark.parametrize(("env", "named", "secret"), BAD_SETTINGS)
def test_a_bad_setting_is_one_critical_line_naming_the_variable(
    tmp_path: Path, env: dict[str, str], named: str, secret: str | None
) -> None:
    """`python -m gateway`, as the container runs it: one JSON line, exit 2, no traceback."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES)}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "--port", "1"],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) == 1, lines
    entry = json.loads(lines[0])
    assert entry["level"] == "critical"
    assert named in entry["message"]
    if secret:
        assert secret not in lines[0]
    for value in env.values():
        if len(value) > 8:
            assert value not in lines[0]


def test_uvicorn_serving_the_app_directly_shows_no_traceback(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES)}
    secret = "prod-key-0123456789abcdef"
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "gateway.main:app", "--port", "1"],
        env={**clean, "PYTHONPATH": str(ROOT), "GATEWAY_API_KEYS": f"{secret},short"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output
    assert secret not in output
    critical = [json.loads(line) for line in result.stdout.splitlines() if '"critical"' in line]
    assert len(critical) == 1
    assert "GATEWAY_API_KEYS" in critical[0]["message"]


async def test_required_live_providers_without_credentials_refuse_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_API_KEYS", KEY)
    monkeypatch.setenv("GUPSHUP_APP_ID", "app-1")
    monkeypatch.setenv("GUPSHUP_APP_TOKEN", "sk_live_secret_value")
    monkeypatch.setenv("GATEWAY_REQUIRE_LIVE", "all")
    with pytest.raises(StartupError, match="live credentials for kaizala,") as caught:
        async with serve(create_app(Settings(_env_file=None))):
            pass
    assert "gupshup" not in str(caught.value).split("for ", 1)[1].split(",")[0]
    monkeypatch.setenv("GATEWAY_REQUIRE_LIVE", "gupshup")
    async with serve(create_app(Settings(_env_file=None))) as client:
        assert (await client.get("/readyz")).json()["providers"]["gupshup"] == "live"


def test_one_worker_runs_asyncios_loop_several_run_uvloop() -> None:
    """Measured in bench/README.md: asyncio's loop keeps p99 low for one worker; uvloop
    spreads a burst of connections over several."""
    from gateway.__main__ import event_loop

    assert event_loop(1) == "asyncio"
    assert event_loop(2) == "uvloop"


async def test_an_env_copied_from_the_compose_example_runs_the_sandboxes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The conftest runs each test in its own folder: this .env is the only one read.
    (tmp_path / ".env").write_text((ROOT / "deploy" / ".env.example").read_text())
    monkeypatch.setenv("KAIZALA_ACCESS_TOKEN", "")  # an empty variable is unset too
    async with serve(create_app()) as client:
        ready = (await client.get("/readyz")).json()
    assert ready["providers"] == {"kaizala": "sandbox", "gupshup": "sandbox"}


async def test_a_misspelt_provider_in_the_rate_limits_refuses_to_start() -> None:
    with pytest.raises(StartupError, match="GATEWAY_RATE_LIMITS names unknown providers: kaizla"):
        async with serve(create_app(Settings(_env_file=None, rate_limits="kaizla=10/1"))):
            pass


def test_only_the_credentials_of_the_redis_url_are_masked() -> None:
    from gateway.wiring.build import secrets_of

    settings = Settings(_env_file=None, redis_url="redis://gw:s3cret-pass@127.0.0.1:19201/0")
    formatter = JsonFormatter(secrets_of(settings))
    shown = "Uvicorn running on http://127.0.0.1:19201; redis at 127.0.0.1:19201/0"
    leaked = "connect redis://gw:s3cret-pass@127.0.0.1:19201/0"
    for text, expected in (
        (shown, shown),
        (leaked, "connect redis://gw:[redacted]@127.0.0.1:19201/0"),
    ):
        record = logging.makeLogRecord({"msg": text, "args": ()})
        assert json.loads(formatter.format(record))["message"] == expected


def test_accept_failures_are_logged_once_per_interval_without_tracebacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from gateway.wiring.logs import configure_logging

    configure_logging("INFO")
    log = logging.getLogger("asyncio")
    for _ in range(1000):
        try:
            raise OSError(24, "Too many open files")
        except OSError as exc:
            log.error("socket.accept() out of system resource", exc_info=exc)
    log.error("another asyncio error")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    accepts = [line for line in lines if line["message"].startswith("socket.accept()")]
    assert len(accepts) == 1
    assert "exception" not in accepts[0]
    assert accepts[0]["error"] == "OSError"
    assert any(line["message"] == "another asyncio error" for line in lines)


@pytest.mark.redis
async def test_the_shared_redis_client_serves_as_many_calls_at_once_as_sends_in_flight() -> None:
    url = redis_url()
    if url is None:
        pytest.skip(NO_REDIS)
    app = create_app(Settings(_env_file=None, redis_url=url, max_concurrency=150))
    async with serve(app):
        redis = app.state.runtime.redis
        # Each call holds its connection 0.3 s: 150 at once (redis-py's default pool of 100
        # refused the 101st with MaxConnectionsError).
        waits = [redis.blpop([f"test:nothing:{n}"], timeout=0.3) for n in range(150)]
        assert await asyncio.gather(*waits) == [None] * 150
