"""Built-ins are registered explicitly; an installed package adds a provider by entry point."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from gateway.wiring.app import create_app
from gateway.wiring.settings import Settings
from providers import discover
from tests import samples
from tests.gateway.conftest import serve


def test_builtins_without_plugins() -> None:
    assert list(discover()) == ["kaizala", "gupshup"]


@pytest.mark.anyio
async def test_installed_plugin_is_discovered_and_serves_through_its_simulator(
    installed_plugin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(installed_plugin))
    assert list(discover()) == ["kaizala", "gupshup", "echo"]

    key = {"X-API-Key": "k" * 20}
    app = create_app(Settings(_env_file=None, api_keys="k" * 20))
    async with serve(app) as client:
        ready = (await client.get("/readyz")).json()
        # No ECHO_TOKEN: the plugin's own simulator serves, as the built-ins' do.
        assert ready["providers"] == {"kaizala": "sandbox", "gupshup": "sandbox", "echo": "sandbox"}
        image = samples.png()
        response = await client.post(
            "/send-media",
            headers=key,
            data={"provider": "echo", "channel": "general"},
            files={"file": ("a.png", image, "image/png")},
        )
        assert response.status_code == 200, response.text
        assert response.json()["media_id"] == "echo-" + hashlib.sha256(image).hexdigest()[:16]
        assert response.json()["sandbox"] is True
        # Its target model is validated and documented like the built-ins' ...
        missing = await client.post(
            "/send-media",
            headers=key,
            data={"provider": "echo"},
            files={"file": ("a.png", image, "image/png")},
        )
        assert missing.status_code == 422
        assert missing.json()["errors"][0] == {
            "field": "channel",
            "message": "channel is required by echo",
            "type": "missing",
        }
        # ... another provider's field is refused for it, and its field for the others.
        for data in (
            {"provider": "echo", "channel": "c", "group_id": "g"},
            {"provider": "kaizala", "group_id": "g", "channel": "c"},
        ):
            wrong = await client.post(
                "/send-media", headers=key, data=data, files={"file": ("a.png", image, "image/png")}
            )
            assert wrong.status_code == 422, wrong.text
        # The gateway's own checks apply to plugins too: echo takes only PNG images.
        refused = await client.post(
            "/send-media",
            headers=key,
            data={"provider": "echo", "channel": "c"},
            files={"file": ("a.pdf", samples.pdf(), "application/pdf")},
        )
        assert refused.status_code == 415
        spec = (await client.get("/openapi.json")).json()
        form = spec["paths"]["/send-media"]["post"]["requestBody"]["content"]["multipart/form-data"]
        assert form["schema"]["properties"]["provider"]["enum"] == ["echo", "gupshup", "kaizala"]
        assert form["schema"]["properties"]["channel"]["description"] == "Echo: the channel."
        assert form["examples"]["echo"]["value"] == {"provider": "echo", "channel": "general"}


def test_entry_point_that_is_not_a_spec_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "bogus-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bogus\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[media_gateway.providers]\nbogus = json:loads\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TypeError, match=r"not a providers\.ProviderSpec"):
        discover()


def test_client_is_built_by_the_app_not_at_import() -> None:
    import providers.gupshup
    import providers.kaizala

    for module in (providers.kaizala, providers.gupshup):
        assert not any(isinstance(v, httpx.AsyncClient) for v in vars(module).values())
