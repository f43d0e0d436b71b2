"""What the app builds at startup and closes at shutdown: clients, providers, the service
(the composition root: every concrete class is chosen here)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import httpx
from pydantic import SecretStr
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from gateway import tracing
from gateway.delivery.intake import EventIntake
from gateway.delivery.messages import Messages
from gateway.delivery.subscriptions import Subscriptions
from gateway.delivery.webhooks import RETRY_SCHEDULE, WebhookSender
from gateway.delivery.worker import CONCURRENCY as WORKER_CONCURRENCY
from gateway.delivery.worker import Worker
from gateway.pipeline.clients import Clients
from gateway.pipeline.fetch import Fetcher, fetch_policy
from gateway.pipeline.idempotent import Idempotency
from gateway.pipeline.service import MediaService, Served
from gateway.pipeline.spool import FILES as SPOOL_FILES
from gateway.pipeline.spool import spool_writable
from gateway.state.guards import BreakerPolicy, MemoryGuards, RedisGuards
from gateway.state.idempotency import (
    IdempotencyStore,
    MemoryIdempotencyStore,
)
from gateway.state.idempotency_redis import RedisIdempotencyStore
from gateway.state.inbox import MemoryInbox, RedisInbox
from gateway.state.messages import MemoryMessageStore, MessageStore, RedisMessageStore
from gateway.state.outbox import MemoryOutbox, RedisOutbox
from gateway.state.tokens import RedisMemo, redis_shares
from gateway.telemetry import observe_call
from gateway.web.answers import SendAnswers
from gateway.web.middleware import BodyPolicy
from gateway.web.runtime import Events, Runtime
from gateway.wiring.clients import load_clients
from gateway.wiring.settings import Settings, StartupError, load
from gateway.wiring.transport import AiohttpTransport, CookielessClient
from providers import ProviderSettings, ProviderSpec
from providers.base import ReceivesEvents, SandboxEvents
from providers.http import CLIENT_HEADERS, Memo, MemoryMemo, ProviderContext, share_nothing

log = logging.getLogger("gateway")

VERSION = "0.1.0"
# Room for the multipart envelope and form fields around the media itself.
ENVELOPE_BYTES = 64 * 1024
# The claim is taken after the body was read, and the deadline bounds all that follows.
LEASE_MARGIN_S = 5.0


def load_provider_settings(specs: Mapping[str, ProviderSpec]) -> dict[str, ProviderSettings]:
    """Each provider's settings from the environment, with errors that name no secret."""
    loaded: dict[str, ProviderSettings] = {}
    for name, spec in specs.items():
        try:
            loaded[name] = load(spec.settings)
        except StartupError as exc:
            raise StartupError(f"invalid {name} settings: {exc}") from None
    return loaded


@dataclass(frozen=True)
class Checked:
    """What the startup checks read, for the runtime built from it: each provider's
    settings, and the clients."""

    provider_settings: dict[str, ProviderSettings]
    clients: Clients


def preflight(
    settings: Settings,
    specs: Mapping[str, ProviderSpec],
    provider_settings: Mapping[str, ProviderSettings] | None = None,
) -> Checked:
    """Every startup rule that needs no network: the providers' settings and the clients
    file load, and live credentials are never served to anonymous callers unless that is
    asked for."""
    if not spool_writable():
        raise StartupError(
            "the temporary directory (TMPDIR, else /tmp) is not writable, so uploads could not "
            "be spooled: mount a writable volume (a tmpfs) there or set TMPDIR."
        )
    loaded = dict(provider_settings or load_provider_settings(specs))
    live = sorted(name for name, configured in loaded.items() if configured.live)
    required = set(loaded) if "all" in settings.require_live else set(settings.require_live)
    for variable, names in (
        ("GATEWAY_REQUIRE_LIVE", required),
        ("GATEWAY_RATE_LIMITS", set(settings.rate_limits)),
    ):
        if unknown := sorted(names - set(loaded)):
            raise StartupError(
                f"{variable} names unknown providers: {', '.join(unknown)} "
                f"(known: {', '.join(sorted(loaded))})"
            )
    if missing := sorted(required - set(live)):
        raise StartupError(
            f"GATEWAY_REQUIRE_LIVE needs live credentials for {', '.join(missing)}, and none "
            "are set: the gateway would serve from the sandboxes. Set that provider's "
            "credential variables (see the README's configuration table)."
        )
    clients = clients_of(settings, specs)
    if live and clients.open and not settings.allow_anonymous:
        raise StartupError(
            f"live provider credentials are configured ({', '.join(live)}) but no client has "
            "a key (GATEWAY_API_KEYS and GATEWAY_CLIENTS_FILE give none): anyone could send "
            "through your accounts. Give clients keys, or set GATEWAY_ALLOW_ANONYMOUS=true to "
            "serve without them."
        )
    return Checked(loaded, clients)


def clients_of(settings: Settings, specs: Mapping[str, ProviderSpec]) -> Clients:
    """The clients of the file and of GATEWAY_API_KEYS (a StartupError when wrong)."""
    keys = [key.get_secret_value() for key in settings.api_keys]
    return load_clients(settings.clients_file, keys, specs)


def secrets_of(*models: Any) -> list[str]:
    """Every SecretStr value in the given settings, so logs can mask them; of a URL (the
    Redis URL), only its credentials: its host and port are no secret, and masking any run
    of the whole URL would mask them wherever they appear."""
    found: list[str] = []
    for model in models:
        for name in type(model).model_fields:
            value = getattr(model, name)
            values = value if isinstance(value, list) else [value]
            for secret in (v.get_secret_value() for v in values if isinstance(v, SecretStr)):
                found += _credentials_of(secret)
    return found


def _credentials_of(secret: str) -> list[str]:
    try:
        url = urlsplit(secret)
        password = url.password
    except ValueError:
        return [secret]
    if not (url.scheme and url.netloc):
        return [secret]
    query = [value for key, value in parse_qsl(url.query) if key.lower() in _SECRET_PARAMS]
    return [part for part in (password, *query) if part]


_SECRET_PARAMS = frozenset({"password", "pass", "token", "secret"})


async def build_runtime(
    settings: Settings,
    specs: Mapping[str, ProviderSpec],
    checked: Checked,
    stack: AsyncExitStack,
) -> Runtime:
    # Each send in flight holds one connection at a time; probes and the scrape a few more.
    redis = _redis(settings, stack, settings.max_concurrency + 64)
    shares = redis_shares(redis) if redis is not None else share_nothing
    memo: Memo = RedisMemo(redis) if redis is not None else MemoryMemo()
    served: dict[str, Served] = {}
    sandbox_events: dict[str, SandboxEvents] = {}
    for name, spec in specs.items():
        # The operator's GATEWAY_RATE_LIMITS, where given, in place of the vendor's limit.
        spec = dataclasses.replace(spec, rate_limit=settings.rate_limits.get(name, spec.rate_limit))
        connected = _connect(spec, checked.provider_settings[name], settings)
        if connected is None:
            log.warning(
                "provider has no credentials and no sandbox; not served", extra={"provider": name}
            )
            continue
        client, configured, mode, source = connected
        await stack.enter_async_context(client)
        if source is not None:
            sandbox_events[name] = source
            stack.push_async_callback(source.aclose)
        context = ProviderContext(
            client, settings.upstream_timeout_s, shares, memo, observe=observe_call
        )
        served[name] = Served(spec, spec.build(configured, context), mode)
    fetcher = Fetcher(
        allowed=fetch_policy(settings.fetch_allow_private),
        timeout=settings.fetch_timeout_s,
        max_redirects=settings.fetch_max_redirects,
    )
    stack.push_async_callback(fetcher.aclose)
    SPOOL_FILES.configure(keep_bytes=settings.spool_keep_bytes, keep_idle_s=settings.spool_keep_s)
    stack.callback(SPOOL_FILES.clear)  # the spool files kept for reuse
    store: IdempotencyStore = (
        RedisIdempotencyStore(redis) if redis is not None else MemoryIdempotencyStore()
    )
    events = await _events(settings, served, checked.clients, redis, stack)
    for name, source in sandbox_events.items():
        source.connect(partial(events.intake.store, name))
    service = MediaService(
        served,
        fetcher,
        max_upload_bytes=settings.max_upload_bytes,
        deadline_s=settings.request_deadline_s,
        guards=RedisGuards(redis) if redis is not None else MemoryGuards(),
        breaker=BreakerPolicy(
            failures=settings.breaker_failures,
            open_s=settings.breaker_open_s,
            # One trial at a time; a trial that never ends frees the next after this.
            trial_s=settings.request_deadline_s + LEASE_MARGIN_S,
        ),
        on_delivered=events.messages.delivered,
    )
    for name, adapter in events.receivers.items():
        partition, target = served[name].spec.partition, service.default_target(name)
        part = partition(target) if partition is not None else ""
        if adapter.subscribes and part:
            # The default app's subscription, from the start (the others' at their first send).
            events.subscriptions.ensure(name, part, target)
    return Runtime(
        events=events,
        service=service,
        clients=checked.clients,
        body_policy=BodyPolicy(
            limit=settings.max_upload_bytes + ENVELOPE_BYTES,
            envelope=ENVELOPE_BYTES,
            idle_s=settings.client_body_timeout_s,
            grace_s=settings.client_body_timeout_s,
            min_rate=settings.client_body_min_rate,
        ),
        redis=redis,
        idempotency=Idempotency(
            store,
            service,
            SendAnswers(),
            ttl_s=settings.idempotency_ttl_s,
            # Longer than any send can take, so a lease never ends under a running send.
            lease_s=settings.request_deadline_s + LEASE_MARGIN_S,
        ),
    )


async def _events(
    settings: Settings,
    served: Mapping[str, Served],
    clients: Clients,
    redis: Redis | None,
    stack: AsyncExitStack,
) -> Events:
    """Messages, their provider events and the clients' webhooks (gateway.delivery)."""
    ttl = settings.message_ttl_s
    receivers: dict[str, ReceivesEvents] = {}
    for name, one in served.items():
        if isinstance(one.adapter, ReceivesEvents):
            receivers[name] = one.adapter
    limit = settings.webhook_max_backlog
    # The worker's own Redis client: its blocking reads and its retries while Redis is
    # away never hold or break a connection of the sends' pool.
    background = _redis(settings, stack, WORKER_CONCURRENCY + 16)
    store: MessageStore
    worked: MessageStore
    if redis is not None and background is not None:
        outbox: RedisOutbox | MemoryOutbox = RedisOutbox(background, max_backlog=limit)
        store = RedisMessageStore(redis, RedisOutbox(redis, max_backlog=limit), ttl_s=ttl)
        assert isinstance(outbox, RedisOutbox)
        worked = RedisMessageStore(background, outbox, ttl_s=ttl)
        inbox: RedisInbox | MemoryInbox = RedisInbox(redis)
        worker_inbox: RedisInbox | MemoryInbox = RedisInbox(background)
    else:
        outbox = MemoryOutbox(max_backlog=limit)
        store = worked = MemoryMessageStore(outbox, ttl_s=ttl)
        inbox = worker_inbox = MemoryInbox()
    subscriptions = Subscriptions(
        receivers,
        sandboxed=frozenset(name for name, one in served.items() if one.mode == "sandbox"),
        public_url=settings.public_url,
        redis=redis,
    )
    stack.push_async_callback(subscriptions.aclose)
    # The operator's receivers: any address (no URL-fetch policy), but no redirect followed;
    # on aiohttp's pool, as the providers' calls (httpcore's cost 3x the CPU per webhook).
    hooks = CookielessClient(
        transport=AiohttpTransport(httpx.Limits(max_connections=100)),
        follow_redirects=False,
        headers={"User-Agent": f"media-gateway-webhooks/{VERSION}"},
    )
    await stack.enter_async_context(hooks)
    if tracing.STATE.on:
        tracing.instrument_client(hooks)
    sender = WebhookSender(
        clients,
        hooks,
        retry_s=settings.webhook_retry_s,
        schedule=settings.webhook_retry_schedule or RETRY_SCHEDULE,
    )
    partitions = {name: one.spec.partition for name, one in served.items()}
    return Events(
        intake=EventIntake(receivers, inbox),
        messages=Messages(store, subscriptions, partitions),
        subscriptions=subscriptions,
        worker=Worker(worker_inbox, worked, outbox, sender, receivers),
        receivers=receivers,
    )


def _redis(settings: Settings, stack: AsyncExitStack, connections: int) -> Redis | None:
    """A Redis client whose pool holds `connections` at most: more than can be in use at
    once (redis-py's default of 100 refused the 101st at once, a send's store call
    failing under load with Redis well)."""
    if settings.redis_url is None:
        return None
    redis = Redis.from_url(
        settings.redis_url.get_secret_value(),
        max_connections=connections,
        socket_timeout=2,
        socket_connect_timeout=2,
        # A pooled connection that a Redis restart closed is tried once more on a new one
        # (every script is safe to send twice: gateway.state). A stalled Redis is not
        # waited for twice: its timeout is the answer.
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        retry_on_error=[RedisConnectionError],
        health_check_interval=30,
    )
    stack.push_async_callback(redis.aclose)
    return redis


_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50)


def _connect(
    spec: ProviderSpec, configured: ProviderSettings, settings: Settings
) -> (
    tuple[httpx.AsyncClient, ProviderSettings, Literal["live", "sandbox"], SandboxEvents | None]
    | None
):
    """The client a provider's adapter calls with, the settings it is built from, its
    mode (live with its credentials, else its sandbox in the process), and the sandbox's
    events; None: neither live nor sandboxed."""
    timeout = httpx.Timeout(settings.upstream_timeout_s)
    client: httpx.AsyncClient
    if configured.live:
        client = CookielessClient(
            transport=AiohttpTransport(_LIMITS),
            timeout=timeout,
            follow_redirects=False,
            headers=CLIENT_HEADERS,
        )
        if tracing.STATE.on:
            tracing.instrument_client(client)
        return client, configured, "live", None
    simulator = spec.load_simulator()
    if simulator is None:
        return None
    sandbox = simulator(configured)
    transport = httpx.ASGITransport(app=sandbox.app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, timeout=timeout, headers=CLIENT_HEADERS)
    if tracing.STATE.on:
        tracing.instrument_client(client)
    return client, sandbox.settings, "sandbox", sandbox.events
