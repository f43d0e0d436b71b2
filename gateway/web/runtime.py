"""What a request uses, built once per process by the composition root (gateway.wiring)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from redis.asyncio import Redis

from gateway.delivery.intake import EventIntake
from gateway.delivery.messages import Messages
from gateway.delivery.subscriptions import Subscriptions
from gateway.delivery.worker import Worker
from gateway.pipeline.clients import Clients
from gateway.pipeline.idempotent import Idempotency
from gateway.pipeline.service import MediaService
from gateway.web.lifecycle import Drain
from gateway.web.middleware import BodyPolicy
from providers import Provider
from providers.base import ReceivesEvents


@dataclass(frozen=True)
class Events:
    """Messages, the providers' events about them, and the clients' webhooks."""

    intake: EventIntake
    messages: Messages
    subscriptions: Subscriptions
    worker: Worker
    receivers: dict[str, ReceivesEvents]


@dataclass
class Runtime:
    """The services behind the routes: `request.app.state.runtime`."""

    events: Events
    service: MediaService
    clients: Clients
    body_policy: BodyPolicy
    redis: Redis | None
    idempotency: Idempotency
    drain: Drain = field(default_factory=Drain)

    @property
    def modes(self) -> dict[str, Literal["live", "sandbox"]]:
        """Each served provider's mode."""
        return {name: served.mode for name, served in self.service.served.items()}

    @property
    def providers(self) -> dict[str, Provider]:
        """Each served provider's adapter."""
        return {name: served.adapter for name, served in self.service.served.items()}
