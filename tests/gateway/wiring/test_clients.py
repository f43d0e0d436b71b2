"""The clients file: what it may say, and the one line that refuses it."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from gateway.pipeline.clients import Clients, key_hash
from gateway.wiring.clients import load_clients
from gateway.wiring.settings import StartupError
from providers import discover

SPECS = discover()
H1, H2 = "1" * 64, "2" * 64
OLD, NEW = "billing-old-key-0123", "billing-new-key-4567"
SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()


def load(tmp_path: Path, text: str, keys: list[str] | None = None) -> Clients:
    path = tmp_path / "clients.toml"
    path.write_text(text)
    return load_clients(path, keys or [], SPECS)


def test_a_full_client_and_the_api_keys_are_clients(tmp_path: Path) -> None:
    clients = load(
        tmp_path,
        f"""
[clients.billing]
keys_sha256 = ["{key_hash(OLD)}", "{key_hash(NEW)}"]
sends_per_minute = 120
providers = ["gupshup"]
[clients.billing.targets.gupshup]
app_id = ["billing-app"]
[clients.billing.webhook]
url = "https://billing.internal/hooks/media"
secret = ["{SECRET}", "{SECRET}"]
""",
        keys=["legacy-key-0123456789"],
    )
    assert clients.names == {"billing", f"key-{key_hash('legacy-key-0123456789')[:8]}"}
    billing = clients.identify(OLD).client
    assert clients.identify(NEW).client is billing
    assert (billing.sends_per_minute, billing.webhook.secrets) == (120, (SECRET, SECRET))
    assert billing.targets == {"gupshup": {"app_id": ("billing-app",)}}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            f'[clients.a]\nkeys_sha256 = ["{H1}"]\n[clients.b]\nkeys_sha256 = ["{H1}"]\n',
            "client 'b' lists a key hash that client 'a' lists too",
        ),
        (
            f'[clients.a]\nkeys_sha256 = ["{H1}"]\ncolour = "red"\n',
            "client 'a' colour: Extra inputs",
        ),
        (
            f'[clients.a]\nkeys_sha256 = ["{H1}"]\nproviders = ["kaizala"]\n[clients.a.targets.gupshup]\napp_id = ["x"]\n',
            "which it may not use",
        ),
        (
            f'[clients.a]\nkeys_sha256 = ["{H1}"]\n[clients.a.webhook]\nurl = "https://h.example"\nsecret = "hunter2-not-a-secret"\n',
            "whsec_ and the base64 of 24 to 64 bytes",
        ),
        (
            f'[clients.a]\nkeys_sha256 = ["{H1}"]\n[clients.a.webhook]\nurl = "ftp://h.example"\nsecret = "{SECRET}"\n',
            "http or https",
        ),
        (f'[clients."bad name"]\nkeys_sha256 = ["{H1}"]\n', "a client name must be"),
        (f'[clients.anonymous]\nkeys_sha256 = ["{H1}"]\n', "a name the gateway gives"),
        (f'[client.a]\nkeys_sha256 = ["{H1}"]\n', "unknown table 'client'"),
    ],
)
def test_a_wrong_file_is_one_line_naming_the_client_never_a_secret(
    tmp_path: Path, text: str, problem: str
) -> None:
    with pytest.raises(StartupError) as refused:
        load(tmp_path, text)
    line = str(refused.value)
    assert problem in line
    assert "\n" not in line
    for secret in (H1, SECRET, "hunter2"):
        assert secret not in line


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="cannot be read"):
        load_clients(tmp_path / "absent.toml", [], SPECS)
