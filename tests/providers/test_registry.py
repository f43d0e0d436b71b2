"""Built-ins are registered explicitly; an installed package adds a provider by entry point."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from providers import discover
from tests import samples
from tests.gateway.conftest import serve

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "echo_provider"


def test_builtins_without_plugins() -> None:
    assert list(discover()) == ["kaizala", "gupshup"]


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin installed by pip, as an operator would, into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(target), str(PLUGIN)],
        check=True,
    )  # fmt: skip
    assert any(p.name.startswith("media_gateway_echo_provider") for p in target.iterdir())
    return target


@pytest.mark.anyio
async def test_installed_plugin_is_discovered_and_serves(
    installed_plugin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(installed_plugin))
    monkeypatch.setenv("ECHO_TOKEN", "echo-token-123")
    assert list(discover()) == ["kaizala", "gupshup", "echo"]

    app = create_app(Settings(_env_file=None, api_keys="k" * 20))
    async with serve(app) as client:
        ready = (await client.get("/readyz")).json()
        assert ready["providers"] == {"kaizala": "sandbox", "gupshup": "sandbox", "echo": "live"}
        image = samples.png()
        response = await client.post(
            "/send-media",
            headers={"X-API-Key": "k" * 20},
            data={"provider": "echo"},
            files={"file": ("a.png", image, "image/png")},
        )
        assert response.status_code == 200, response.text
        assert response.json()["media_id"] == "echo-" + hashlib.sha256(image).hexdigest()[:16]
        # The gateway's own checks apply to plugins too: echo takes only PNG images.
        refused = await client.post(
            "/send-media",
            headers={"X-API-Key": "k" * 20},
            data={"provider": "echo"},
            files={"file": ("a.pdf", samples.pdf(), "application/pdf")},
        )
        assert refused.status_code == 415
        spec = (await client.get("/openapi.json")).json()
        enum = spec["components"]["schemas"]["SendMediaForm"]["properties"]["provider"]["enum"]
        assert enum == ["echo", "gupshup", "kaizala"]


def test_entry_point_that_is_not_a_spec_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "bogus-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bogus\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[media_gateway.providers]\nbogus = json:loads\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TypeError, match=r"not a providers\.registry\.ProviderSpec"):
        discover()


def test_client_is_built_by_the_app_not_at_import() -> None:
    import providers.gupshup
    import providers.kaizala

    for module in (providers.kaizala, providers.gupshup):
        assert not any(isinstance(v, httpx.AsyncClient) for v in vars(module).values())
