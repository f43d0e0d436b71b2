"""The clients of this gateway, from GATEWAY_CLIENTS_FILE (TOML) and GATEWAY_API_KEYS.

Read once at startup. A file that cannot be read or is wrong stops the gateway with one line
that names the client and the problem, never a hash or a secret.
"""

from __future__ import annotations

import base64
import binascii
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from gateway.pipeline.clients import Client, Clients, Webhook, key_hash
from gateway.wiring.settings import StartupError
from providers import ProviderSpec
from providers.http import usable_url

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")
Glob = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class _WebhookEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    url: str
    secret: str | list[str]

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if usable_url(value) is None:
            raise ValueError("webhook url must be an http or https URL")
        return value

    @field_validator("secret")
    @classmethod
    def _standard_webhooks_secret(cls, value: str | list[str]) -> str | list[str]:
        secrets = [value] if isinstance(value, str) else value
        if not secrets:
            raise ValueError("webhook secret must list at least one secret")
        for secret in secrets:
            try:
                raw = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
            except (binascii.Error, ValueError):
                raw = b""
            if not secret.startswith("whsec_") or not 24 <= len(raw) <= 64:
                raise ValueError("a webhook secret is whsec_ and the base64 of 24 to 64 bytes")
        return value


class _ClientEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    keys_sha256: list[str] = Field(min_length=1)
    sends_per_minute: int | None = Field(default=None, ge=1, le=1_000_000)
    providers: list[str] | None = None
    targets: dict[str, dict[str, list[Glob]]] = Field(default_factory=dict)
    webhook: _WebhookEntry | None = None

    @field_validator("keys_sha256")
    @classmethod
    def _hashes(cls, hashes: list[str]) -> list[str]:
        if not all(_HASH.match(h) for h in hashes):
            raise ValueError(
                "keys_sha256 must list lowercase hex SHA-256 hashes (python -m gateway hash-key)"
            )
        return hashes


def load_clients(
    path: Path | None, api_keys: Sequence[str], specs: Mapping[str, ProviderSpec]
) -> Clients:
    """Every client: those of the file, and one per key of GATEWAY_API_KEYS."""
    by_hash: dict[str, Client] = {}
    owner: dict[str, str] = {}
    for name, entry in _read(path).items():
        client = _client(name, entry, specs)
        for digest in entry.keys_sha256:
            if digest in owner:
                raise _refused(name, f"lists a key hash that client {owner[digest]!r} lists too")
            by_hash[digest], owner[digest] = client, name
    for key in api_keys:
        digest = key_hash(key)
        if digest in owner:
            raise _refused(owner[digest], "holds a key that GATEWAY_API_KEYS lists too")
        # Named by its hash's first digits: a key allowed everything, no quota, no webhook.
        by_hash[digest] = Client(f"key-{digest[:8]}")
        owner[digest] = by_hash[digest].name
    return Clients(by_hash)


def _read(path: Path | None) -> dict[str, _ClientEntry]:
    if path is None:
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StartupError(
            f"GATEWAY_CLIENTS_FILE cannot be read ({exc.strerror or type(exc).__name__})"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise StartupError(f"GATEWAY_CLIENTS_FILE is not valid TOML ({exc})") from None
    unknown = sorted(set(document) - {"clients"})
    if unknown:
        raise StartupError(
            f"GATEWAY_CLIENTS_FILE: unknown table {unknown[0]!r}; use [clients.<name>]"
        )
    clients = document.get("clients", {})
    if not isinstance(clients, dict):
        raise StartupError("GATEWAY_CLIENTS_FILE: clients must be tables, [clients.<name>]")
    entries: dict[str, _ClientEntry] = {}
    for name, raw in clients.items():
        if not _NAME.match(name):
            raise StartupError(
                "GATEWAY_CLIENTS_FILE: a client name must be 1 to 64 letters, digits, "
                "'.', '_' or '-', starting with a letter or digit"
            )
        if name == "anonymous" or name.startswith("key-"):
            raise _refused(name, "has a name the gateway gives its own clients")
        try:
            entries[name] = _ClientEntry.model_validate(raw)
        except ValidationError as exc:
            raise _refused(name, _reason(exc)) from None
    return entries


def _client(name: str, entry: _ClientEntry, specs: Mapping[str, ProviderSpec]) -> Client:
    known = sorted(specs)
    for provider in entry.providers or []:
        if provider not in specs:
            raise _refused(name, f"names unknown provider {provider!r} (known: {', '.join(known)})")
    allowed = set(entry.providers) if entry.providers is not None else set(specs)
    for provider, fields in entry.targets.items():
        if provider not in specs:
            raise _refused(name, f"has targets for unknown provider {provider!r}")
        if provider not in allowed:
            raise _refused(name, f"has targets for {provider!r}, which it may not use")
        target_fields = specs[provider].target.model_fields
        for field_name, globs in fields.items():
            if field_name not in target_fields:
                raise _refused(
                    name,
                    f"restricts {field_name!r}, not a target field of {provider} "
                    f"(its fields: {', '.join(sorted(target_fields))})",
                )
            if not globs:
                raise _refused(name, f"lists no value for {provider}.{field_name}")
    webhook = entry.webhook
    return Client(
        name=name,
        providers=frozenset(entry.providers) if entry.providers is not None else None,
        targets={
            p: {f: tuple(g) for f, g in fields.items()} for p, fields in entry.targets.items()
        },
        sends_per_minute=entry.sends_per_minute,
        webhook=Webhook(
            webhook.url,
            tuple([webhook.secret] if isinstance(webhook.secret, str) else webhook.secret),
        )
        if webhook is not None
        else None,
    )


def _reason(exc: ValidationError) -> str:
    first = exc.errors(include_input=False, include_url=False, include_context=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {str(first['msg']).removeprefix('Value error, ')}"


def _refused(name: str, problem: str) -> StartupError:
    return StartupError(f"GATEWAY_CLIENTS_FILE: client {name!r} {problem}")
