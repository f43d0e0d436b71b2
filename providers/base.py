"""What a provider is: the Protocol adapters meet and the values that cross it."""

from __future__ import annotations

import importlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from providers.events import StatusEvent, Subscription
from providers.http import ProviderContext
from providers.media import Delivery, MediaRequest, MediaType


@dataclass(frozen=True)
class Capabilities:
    """What a provider accepts, the same for every provider: the gateway refuses a request
    that asks for more before anything goes upstream, and `/providers` shows it. Rules of a
    provider's own are its `ChecksRequests.check`."""

    formats: Mapping[MediaType, frozenset[str]]
    # The largest file it takes (None: the gateway's own limit).
    max_file_bytes: int | None = None
    # How many images an album takes (None: no albums).
    album_sizes: tuple[int, int] | None = None
    captions: bool = True
    # Whether it takes a URL itself (else the gateway downloads it and sends the bytes).
    url_passthrough: bool = False

    def accepts(self, media_type: MediaType, mime: str) -> bool:
        return mime in self.formats.get(media_type, frozenset())


class Provider(Protocol):
    """A messaging provider the gateway can send media through.

    What else a provider can do is a small Protocol of its own, which an adapter implements
    or not (the gateway asks once, at startup): `ResolvesTargets`, `ChecksRequests`,
    `DescribesItself`, `RemembersMedia`, `StreamsUploads`, `AnnouncesDelivery`,
    `ReceivesEvents`."""

    @property
    def capabilities(self) -> Capabilities: ...

    async def send(self, request: MediaRequest) -> Delivery: ...


@runtime_checkable
class ResolvesTargets(Protocol):
    """A provider whose target fields have defaults from its configuration (Gupshup's
    default app): the gateway limits, breaks and checks a send by its resolved target."""

    def resolve(self, target: BaseModel) -> BaseModel:
        """`target` with every default applied (never a call: no I/O)."""
        ...


@runtime_checkable
class ChecksRequests(Protocol):
    """A provider with rules beyond its `Capabilities` (what a WhatsApp delivery takes)."""

    def check(self, request: MediaRequest) -> None:
        """Raise `providers.errors.TargetError` for a request it would refuse; called
        before anything goes upstream, once the media's type and size are known."""
        ...


@runtime_checkable
class DescribesItself(Protocol):
    """A provider with more to say in `/providers` than its `Capabilities`."""

    def describe(self) -> Mapping[str, Any]:
        """Entries of its `/providers` map beyond the common ones (JSON values)."""
        ...


@runtime_checkable
class RemembersMedia(Protocol):
    """A provider that reads `MediaFile.sha256` (Gupshup remembers media ids by the bytes):
    the gateway hashes its files as they arrive, and only its."""

    remembers_media: bool


@runtime_checkable
class StreamsUploads(Protocol):
    """A provider that sends a file whose bytes are still arriving (`MediaFile.live`,
    through `providers.http.upload_form`): a large upload goes upstream as it comes in."""

    streams_uploads: bool


@runtime_checkable
class AnnouncesDelivery(Protocol):
    """A provider that awaits `MediaRequest.delivering` just before the call that delivers;
    for one that does not, the gateway counts the whole send as delivering."""

    announces_delivery: bool


@runtime_checkable
class ReceivesEvents(Protocol):
    """A provider that reports its messages' fate later, by posting events to the gateway
    (`POST /providers/{name}/events`), and that can subscribe the gateway to them."""

    def events_authentic(self, headers: Mapping[str, str]) -> bool | None:
        """Whether a callback's headers prove it comes from the provider; None when the
        provider takes no callbacks here (nothing configured: the route answers 404)."""
        ...

    def read_events(self, body: Any) -> list[StatusEvent]:
        """The events of one callback's JSON body (any JSON value; never raises): a kind
        the gateway does not use is an `EventKind.OTHER` event, counted and ignored."""
        ...

    @property
    def subscribes(self) -> bool:
        """Whether `subscribe` is configured (live, with a public URL and a token)."""
        ...

    async def subscribe(self, target: BaseModel, url: str) -> Subscription:
        """Make sure the part of the provider that `target` sends through (its resolved
        target) posts its events to `url`; never replaces a subscription pointing elsewhere."""
        ...


_UNSAFE_IN_ID = re.compile(r"[/\\%\x00-\x1f\x7f-\x9f]")
# The same rule for the OpenAPI document (`json_schema_extra`): JSON Schema's regex has no
# lookahead, so `.` and `..` are said in the description and refused by `opaque_id`.
OPAQUE_ID_PATTERN = r"^[^/\\%\u0000-\u001f\u007f-\u009f]+$"


def opaque_id(value: str) -> str:
    """A target id (a group, an app) that goes into a URL path as one segment: opaque, but
    never `.` or `..` (which a URL normalises away) and never with `/`, `\\`, `%` or a
    control character. For a target model's `field_validator`."""
    if value in (".", "..") or _UNSAFE_IN_ID.search(value):
        raise ValueError("must not be . or .., nor contain /, \\, % or a control character")
    return value


_PLACEHOLDERS = (
    "changeme",
    "change-me",
    "change_me",
    "placeholder",
    "your-",
    "your_",
    "xxx",
    "todo",
)


class ProviderSettings(BaseSettings):
    """Settings of one provider; `live` is true when real credentials are configured."""

    # Never echo a value in a validation error: it may be a credential.
    # An empty variable counts as not set, so an .env copied from .env.example runs the
    # sandboxes (the contract).
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", hide_input_in_errors=True, env_ignore_empty=True
    )

    @property
    def live(self) -> bool:
        raise NotImplementedError

    @staticmethod
    def refuse_placeholders(**secrets: SecretStr | str | None) -> None:
        """Refuse values that are obviously copied from an example instead of real credentials."""
        for name, value in secrets.items():
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if text is None:
                continue
            lowered = text.strip().lower()
            if not lowered or lowered.startswith("<") or any(p in lowered for p in _PLACEHOLDERS):
                raise ValueError(f"{name} looks like a placeholder, not a real credential")


# Where a sandbox posts its events in the process: the body of one callback, as the
# provider would post it to the events route.
EventSink = Callable[[bytes], Awaitable[None]]


class SandboxEvents(Protocol):
    """A simulator's events, posted in the process to the gateway (no URL, no token)."""

    def connect(self, sink: EventSink) -> None: ...

    async def aclose(self) -> None:
        """Stop posting: the events still scheduled are dropped."""
        ...


@dataclass(frozen=True)
class Sandbox:
    """A provider's simulator, and the provider settings that point the adapter at it;
    `events`, for a provider whose simulator posts message events."""

    app: Any  # an ASGI application; providers/ never imports a web framework
    settings: ProviderSettings
    events: SandboxEvents | None = None


@dataclass(frozen=True)
class ProviderSpec:
    """Everything the gateway learns about one provider, in one place.

    - `settings`: its configuration model (read from its own environment variables);
    - `target`: the model of where a send goes (`group_id`, `app_id`…); the gateway turns
      its fields into request fields, validates them with it and documents them;
    - `build(settings, context)`: the adapter, given a `providers.http.ProviderContext`;
    - `simulator`: `"module:function"`, a function of the settings returning a `Sandbox`,
      used when the provider has no credentials. A path, not a function, so `providers`
      never imports the web framework the simulators are written with;
    - `rate_limit`, `calls_per_send`, `partition`: the vendor's limits, which the gateway
      enforces (shared by replicas) along with a circuit breaker per partition.
    """

    name: str
    settings: type[ProviderSettings]
    target: type[BaseModel]
    build: Callable[[Any, ProviderContext], Provider]
    simulator: str | None = None
    # The vendor's documented outbound limit, (calls, per seconds), and what a send costs.
    rate_limit: tuple[int, float] | None = None
    calls_per_send: int = 1
    # What a limit and a circuit breaker apply to: the whole provider (None), or a part of
    # it chosen by the target (Gupshup limits each app on its own).
    partition: Callable[[Any], str] | None = None

    def load_simulator(self) -> Callable[[ProviderSettings], Sandbox] | None:
        """The simulator's factory, imported now; None when the provider ships none."""
        if self.simulator is None:
            return None
        module, _, function = self.simulator.partition(":")
        factory: Callable[[ProviderSettings], Sandbox] = getattr(
            importlib.import_module(module), function
        )
        return factory
