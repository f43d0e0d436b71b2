"""Who is sending: every internal app is a client, known by the SHA-256 of its keys, with
the providers and target values it may send to, an optional quota and an optional webhook.

A key is looked up by its hash (one dict lookup, whatever the number of clients), so the
gateway never holds a key, only hashes; the client's name is what logs and metrics show.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel

from gateway.errors import ForbiddenError, UnauthorizedError

ANONYMOUS = "anonymous"


def key_hash(key: str) -> str:
    """The hex SHA-256 of a key, as the clients file lists it (`python -m gateway hash-key`)."""
    return hashlib.sha256(key.encode()).hexdigest()


def _glob(glob: str) -> str:
    """A listed value as a regex: `*` is any run of characters, everything else itself (a
    `?` or `[…]` in an id means no more than its characters, unlike fnmatch)."""
    return "(?:" + ".*".join(re.escape(part) for part in glob.split("*")) + ")"


@dataclass(frozen=True)
class Webhook:
    """Where events about a client's messages go, and the secrets that sign them (several
    during a rotation: each one signs)."""

    url: str
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class Client:
    """One internal app.

    `providers`: the providers it may use (None: every one); `targets`: per provider, per
    target field, the values it may send to, as globs (`*` any run of characters); a field
    not listed is not restricted. `sends_per_minute`: its quota (None: none)."""

    name: str
    providers: frozenset[str] | None = None
    targets: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    sends_per_minute: int | None = None
    webhook: Webhook | None = None
    _patterns: Mapping[str, Mapping[str, re.Pattern[str]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        compiled = {
            provider: {
                name: re.compile("|".join(_glob(glob) for glob in globs))
                for name, globs in fields.items()
            }
            for provider, fields in self.targets.items()
        }
        object.__setattr__(self, "_patterns", compiled)

    def may_use(self, provider: str) -> bool:
        return self.providers is None or provider in self.providers

    def check(self, provider: str, target: BaseModel) -> None:
        """Refuse (403, naming the field) a send outside this client's scope; `target` is
        the validated target with its defaults applied."""
        if not self.may_use(provider):
            raise ForbiddenError(
                f"This client may not send through {provider}.", field_name="provider"
            )
        for name, pattern in self._patterns.get(provider, {}).items():
            # A field left empty sends to nobody there (a Gupshup upload without `to`).
            value = getattr(target, name, None)
            if value is not None and not pattern.fullmatch(str(value)):
                raise ForbiddenError(
                    f"{name}: this client may not send to this value of {name}.",
                    field_name=name,
                )


# The client of a gateway without keys (and of a send that names none): no scope, no quota.
EVERYONE = Client(ANONYMOUS)


@dataclass(frozen=True)
class Caller:
    """The client of one request, and the scope its idempotency records belong to: its
    key's hash, so a key moved from GATEWAY_API_KEYS into the clients file keeps them."""

    client: Client
    scope: str


class Clients:
    """Every client, by the SHA-256 of each of its keys; with none, every caller is the one
    client `anonymous`, allowed everything."""

    def __init__(self, by_hash: Mapping[str, Client]) -> None:
        self._by_hash = dict(by_hash)
        self._by_name = {c.name: c for c in self._by_hash.values()}
        self.names = frozenset(self._by_name)
        self._anonymous = Caller(EVERYONE, ANONYMOUS)

    @property
    def open(self) -> bool:
        """Whether no key is asked for (no clients are configured)."""
        return not self._by_hash

    def webhook_secrets(self) -> list[str]:
        """Every webhook secret (for the logs to mask)."""
        hooks = [c.webhook for c in self._by_name.values() if c.webhook is not None]
        return [secret for hook in hooks for secret in hook.secrets]

    def named(self, name: str) -> Client | None:
        """The client of this name (its webhook is looked up when an event is posted)."""
        return self._by_name.get(name)

    def identify(self, offered: str | None) -> Caller:
        """The caller of a request with this X-API-Key, or a 401."""
        if self.open:
            return self._anonymous
        if offered is None:
            raise UnauthorizedError("The X-API-Key header is required.")
        digest = key_hash(offered)
        client = self._by_hash.get(digest)
        if client is None:
            raise UnauthorizedError("The X-API-Key is not one the gateway knows.")
        # The scope of its idempotency records, as earlier versions derived it from the key.
        return Caller(client, digest[:32])
