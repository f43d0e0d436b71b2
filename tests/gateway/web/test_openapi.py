"""The committed openapi/openapi.json is what the app serves, and documents the contract."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.anyio

COMMITTED = Path(__file__).resolve().parents[3] / "openapi" / "openapi.json"


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
    form = content["multipart/form-data"]["schema"]["properties"]
    assert form["file"]["items"]["format"] == "binary"
    assert form["provider"]["enum"] == ["gupshup", "kaizala"]
    for status in ("400", "401", "413", "415", "422", "429", "502", "503", "504"):
        assert "application/problem+json" in operation["responses"][status]["content"], status
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"


async def test_each_error_status_has_its_own_example_with_the_right_code(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    responses = spec["paths"]["/send-media"]["post"]["responses"]
    expected = {
        "400": {"provider_rejected"},
        "401": {"unauthorized"},
        "403": {"forbidden"},
        "408": {"request_timeout"},
        "409": {"idempotency_conflict"},
        "413": {"payload_too_large"},
        "415": {"unsupported_media_type"},
        "422": {"validation_error", "url_not_allowed", "url_fetch_failed", "idempotency_conflict"},
        "429": {"rate_limited", "quota_exceeded"},
        "500": {"internal_error"},
        "502": {"provider_error", "provider_auth_failed", "interrupted"},
        "503": {"provider_unavailable", "overloaded", "store_unavailable"},
        "504": {"provider_timeout"},
    }
    for status, codes in expected.items():
        examples = responses[status]["content"]["application/problem+json"]["examples"]
        values = [e["value"] for e in examples.values()]
        assert {v["code"] for v in values} == codes, status
        assert all(v["status"] == int(status) for v in values), status
    ready = spec["paths"]["/readyz"]["get"]["responses"]["503"]["content"]
    assert (
        ready["application/problem+json"]["examples"]["not_ready"]["value"]["code"] == "not_ready"
    )
    success = spec["components"]["schemas"]["SendMediaResponse"]
    assert success["examples"][0]["media_id"].startswith("kz-media-")
    assert "sandbox" in success["required"]


async def test_fields_are_described_and_file_type_shows_no_regex(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    body = spec["paths"]["/send-media"]["post"]["requestBody"]["content"]
    form = body["multipart/form-data"]["schema"]["properties"]
    for name in ("provider", "caption", "file", "url", "group_id", "app_id", "file_type"):
        assert form[name].get("description"), name
    assert "Gupshup: only with `to`" in form["caption"]["description"]
    assert form["to"]["description"].startswith("Gupshup: also deliver")
    assert "pattern" not in json.dumps(form["file_type"])
    # The id and phone rules the gateway checks are in the schema too.
    assert all("pattern" in form[name] for name in ("group_id", "app_id", "to"))
    # Target fields come from the providers' target models, with their constraints.
    assert form["group_id"]["maxLength"] == 256
    assert body["application/json"]["examples"]["kaizala"]["value"]["group_id"].endswith("@1")


async def test_the_json_body_schema_refuses_what_the_gateway_refuses(
    client: httpx.AsyncClient,
) -> None:
    import jsonschema

    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/send-media"]["post"]
    body = operation["requestBody"]["content"]["application/json"]
    validator = jsonschema.Draft202012Validator(body["schema"])
    url = "https://example.com/brochure.pdf"
    cases = [
        ({"provider": "kaizala", "group_id": "g@1", "url": url}, True),
        ({"provider": "gupshup", "url": url}, True),
        ({"provider": "gupshup", "app_id": "a", "to": "919876543210", "url": url}, True),
        # Another provider's fields, a missing required one, no url: refused by both.
        ({"provider": "kaizala", "group_id": "g@1", "app_id": "a", "url": url}, False),
        ({"provider": "kaizala", "group_id": "g@1", "to": "919876543210", "url": url}, False),
        ({"provider": "kaizala", "url": url}, False),
        ({"provider": "gupshup", "group_id": "g@1", "url": url}, False),
        ({"provider": "gupshup"}, False),
        # An id that would change the upstream path, a number that is no phone number.
        ({"provider": "kaizala", "group_id": "a/b", "url": url}, False),
        ({"provider": "gupshup", "app_id": "x%2e", "url": url}, False),
        ({"provider": "gupshup", "to": "12", "url": url}, False),
    ]
    for payload, valid in cases:
        assert validator.is_valid(payload) is valid, payload
        answer = await client.post("/send-media", json=payload)
        refused = answer.json().get("code") == "validation_error"  # a download may fail too
        assert refused is not valid, (payload, answer.text)
    for example in body["examples"].values():
        assert validator.is_valid(example["value"]), example
    # Any X-Request-ID is taken (an invalid one is replaced), so the schema refuses none.
    header = next(p for p in operation["parameters"] if p["name"] == "X-Request-ID")
    assert header["schema"] == {"type": "string"}
    answer = await client.get("/healthz", headers={"X-Request-ID": "x" * 300})
    assert answer.status_code == 200
    assert len(answer.headers["x-request-id"]) <= 128
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert "kaizala takes `group_id` (required)" in form["description"]
    assert "gupshup takes `app_id`, `to`" in form["description"]
