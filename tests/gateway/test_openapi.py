"""The committed openapi/openapi.json is what the app serves, and documents the contract."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.anyio

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


async def test_committed_spec_matches_the_app(client: httpx.AsyncClient) -> None:
    served = (await client.get("/openapi.json")).json()
    committed = json.loads(COMMITTED.read_text())
    assert served == committed, "openapi/openapi.json is stale: run `make openapi`"


async def test_spec_documents_both_bodies_and_problem_errors(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/send-media"]["post"]
    assert operation["operationId"] == "sendMedia"
    content = operation["requestBody"]["content"]
    assert set(content) == {"multipart/form-data", "application/json"}
    assert set(content["application/json"]["examples"]) == {"gupshup", "kaizala"}
    assert set(content["multipart/form-data"]["examples"]) == {"gupshup", "kaizala"}
    form = spec["components"]["schemas"]["SendMediaForm"]["properties"]
    assert form["file"]["items"]["format"] == "binary"
    assert form["provider"]["enum"] == ["gupshup", "kaizala"]
    for status in ("400", "401", "413", "415", "422", "429", "502", "503", "504"):
        assert "application/problem+json" in operation["responses"][status]["content"], status
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
